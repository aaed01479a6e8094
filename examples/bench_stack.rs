//! A fixture MediaNest observability stack for `scripts/bench`: a backend,
//! Prometheus, Grafana and Loki on four 127.0.0.1 ports, answering every API
//! Gate G touches in the shapes of `shared/reference/observability-apis.md`
//! well enough that every HTTP check of Gate G passes.
//!
//! ```text
//! cargo run --release --example bench_stack -- --delay-ms 150
//! {"backend":"http://127.0.0.1:41231","prometheus":"http://127.0.0.1:…",…}
//! ```
//!
//! It prints one line of JSON (the four URLs and the two tokens to use) and
//! serves until it is killed. `--delay-ms` delays every answer, so a gate's
//! wall time shows how many round trips lie on its critical path;
//! `--hang HOST` makes that host accept connections and never answer, the
//! way a wedged process or a half-dead VM behaves.
//!
//! It lives in `examples/` rather than `tests/` so a release build can run it
//! next to the release binary without the test harness.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, Response, StatusCode, header};
use clap::{Parser, ValueEnum};
use serde_json::{Value, json};
use tokio::net::TcpListener;

/// Serves a fixture backend, Prometheus, Grafana and Loki on 127.0.0.1.
#[derive(Debug, Parser)]
struct Args {
    /// Delay before every answer, in milliseconds.
    #[arg(long, default_value_t = 0)]
    delay_ms: u64,
    /// This host accepts connections and never answers.
    #[arg(long, value_enum)]
    hang: Option<Host>,
    /// The bearer token the backend's /metrics requires (≥ 8 characters, so the gate can redact it).
    #[arg(long, default_value = "bench-metrics-token-7f3a9c2e51d4")]
    metrics_token: String,
    /// The service account token Grafana's API requires.
    #[arg(long, default_value = "glsa_benchStackToken_0123456789abcdef")]
    grafana_token: String,
    /// Grafana holds this many more dashboards (`Service 00000`, …), listed 5,000 per search page at most.
    #[arg(long, default_value_t = 0)]
    extra_dashboards: usize,
    /// Grafana holds this many more Prometheus datasources, each healthy.
    #[arg(long, default_value_t = 0)]
    extra_datasources: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Host {
    Backend,
    Prometheus,
    Grafana,
    Loki,
}

/// What every handler needs; cloned into each server.
#[derive(Debug, Clone)]
struct Stack {
    delay: Duration,
    metrics_token: String,
    grafana_token: String,
    /// `127.0.0.1:PORT` of the backend, which the fixture Prometheus scrapes.
    backend_addr: String,
    extra_dashboards: usize,
    extra_datasources: usize,
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args = Args::parse();
    let mut listeners = Vec::new();
    let mut urls = serde_json::Map::new();
    for host in Host::value_variants() {
        let listener = match TcpListener::bind("127.0.0.1:0").await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("bench_stack: cannot bind a port on 127.0.0.1: {e}");
                std::process::exit(1);
            }
        };
        let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
        urls.insert(name(*host).to_string(), json!(format!("http://127.0.0.1:{port}")));
        listeners.push((*host, listener, port));
    }
    let backend_port = listeners
        .iter()
        .find(|(h, _, _)| *h == Host::Backend)
        .map(|(_, _, p)| *p)
        .unwrap_or(0);
    let stack = Stack {
        delay: Duration::from_millis(args.delay_ms),
        metrics_token: args.metrics_token.clone(),
        grafana_token: args.grafana_token.clone(),
        backend_addr: format!("127.0.0.1:{backend_port}"),
        extra_dashboards: args.extra_dashboards,
        extra_datasources: args.extra_datasources,
    };
    urls.insert("metrics_token".into(), json!(args.metrics_token));
    urls.insert("grafana_token".into(), json!(args.grafana_token));
    urls.insert("delay_ms".into(), json!(args.delay_ms));
    urls.insert("hang".into(), json!(args.hang.map(name)));
    // One line, flushed, so the script can read it as soon as the ports listen.
    println!("{}", Value::Object(urls));

    for (host, listener, _) in listeners {
        if Some(host) == args.hang {
            tokio::spawn(never_answer(listener));
            continue;
        }
        let stack = stack.clone();
        let app = Router::new().fallback(move |req: Request<Body>| {
            let stack = stack.clone();
            async move {
                if !stack.delay.is_zero() {
                    tokio::time::sleep(stack.delay).await;
                }
                match host {
                    Host::Backend => backend(&stack, &req),
                    Host::Prometheus => prometheus(&stack, &req),
                    Host::Grafana => grafana(&stack, &req),
                    Host::Loki => loki(&req),
                }
            }
        });
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                eprintln!("bench_stack: {} server stopped: {e}", name(host));
            }
        });
    }
    // Serve until SIGINT; the script stops it with SIGTERM, whose default action ends the process.
    let _ = tokio::signal::ctrl_c().await;
}

fn name(host: Host) -> &'static str {
    match host {
        Host::Backend => "backend",
        Host::Prometheus => "prometheus",
        Host::Grafana => "grafana",
        Host::Loki => "loki",
    }
}

/// Accepts connections and reads whatever arrives, but never writes a byte:
/// the client's connect succeeds and only its deadline can end the request.
async fn never_answer(listener: TcpListener) {
    loop {
        let Ok((sock, _)) = listener.accept().await else {
            continue;
        };
        tokio::spawn(async move {
            let mut buf = [0u8; 4096];
            // Draining keeps the socket open until the client gives up and closes it.
            loop {
                if sock.readable().await.is_err() {
                    return;
                }
                match sock.try_read(&mut buf) {
                    Ok(0) => return,
                    Ok(_) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(_) => return,
                }
            }
        });
    }
}

fn respond(status: u16, content_type: &str, body: impl Into<String>) -> Response<Body> {
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from(body.into()))
        .unwrap_or_default()
}

fn bearer(headers: &HeaderMap, token: &str) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        == Some(token)
}

fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Prometheus' timestamps: unix seconds with millisecond precision.
fn prom_ts() -> f64 {
    (now_secs() * 1000.0).round() / 1000.0
}

fn rfc3339_ago(secs: u64) -> String {
    let t = SystemTime::now()
        .checked_sub(Duration::from_secs(secs))
        .unwrap_or(UNIX_EPOCH);
    humantime::format_rfc3339_nanos(t).to_string()
}

// ---------------------------------------------------------------- backend

/// A prom-client style body: the request counter and latency histogram
/// Gate G's `metrics-auth` check expects, plus process metrics.
const METRICS: &str = "\
# HELP process_cpu_user_seconds_total Total user CPU time spent in seconds.
# TYPE process_cpu_user_seconds_total counter
process_cpu_user_seconds_total 12.5
# HELP nodejs_heap_size_used_bytes Process heap size used from Node.js in bytes.
# TYPE nodejs_heap_size_used_bytes gauge
nodejs_heap_size_used_bytes 48213456
# HELP http_requests_total Total number of HTTP requests
# TYPE http_requests_total counter
http_requests_total{method=\"GET\",route=\"/api/v1/media\",status_code=\"200\"} 61027
http_requests_total{method=\"GET\",route=\"/api/v1/media\",status_code=\"500\"} 31
# HELP http_request_duration_seconds Duration of HTTP requests in seconds
# TYPE http_request_duration_seconds histogram
http_request_duration_seconds_bucket{le=\"0.005\",method=\"GET\",route=\"/api/v1/media\"} 4200
http_request_duration_seconds_bucket{le=\"0.01\",method=\"GET\",route=\"/api/v1/media\"} 11800
http_request_duration_seconds_bucket{le=\"0.025\",method=\"GET\",route=\"/api/v1/media\"} 23900
http_request_duration_seconds_bucket{le=\"0.05\",method=\"GET\",route=\"/api/v1/media\"} 35100
http_request_duration_seconds_bucket{le=\"0.1\",method=\"GET\",route=\"/api/v1/media\"} 46800
http_request_duration_seconds_bucket{le=\"0.25\",method=\"GET\",route=\"/api/v1/media\"} 57900
http_request_duration_seconds_bucket{le=\"0.5\",method=\"GET\",route=\"/api/v1/media\"} 60500
http_request_duration_seconds_bucket{le=\"1\",method=\"GET\",route=\"/api/v1/media\"} 60990
http_request_duration_seconds_bucket{le=\"2.5\",method=\"GET\",route=\"/api/v1/media\"} 61040
http_request_duration_seconds_bucket{le=\"5\",method=\"GET\",route=\"/api/v1/media\"} 61055
http_request_duration_seconds_bucket{le=\"10\",method=\"GET\",route=\"/api/v1/media\"} 61058
http_request_duration_seconds_bucket{le=\"+Inf\",method=\"GET\",route=\"/api/v1/media\"} 61058
http_request_duration_seconds_sum{method=\"GET\",route=\"/api/v1/media\"} 5312.4
http_request_duration_seconds_count{method=\"GET\",route=\"/api/v1/media\"} 61058
";

fn backend(stack: &Stack, req: &Request<Body>) -> Response<Body> {
    match req.uri().path() {
        "/metrics" if bearer(req.headers(), &stack.metrics_token) => {
            respond(200, "text/plain; version=0.0.4; charset=utf-8", METRICS)
        }
        "/metrics" => respond(401, "application/json; charset=utf-8", r#"{"error":"unauthorized"}"#),
        "/health" | "/api/v1/health" | "/api/health" => respond(
            200,
            "application/json; charset=utf-8",
            json!({"status": "ok", "uptime": 86_400.5, "timestamp": rfc3339_ago(0)}).to_string(),
        ),
        _ => respond(404, "text/plain; charset=utf-8", "Not Found"),
    }
}

// ---------------------------------------------------------------- Prometheus

const PROM_JSON: &str = "application/json";
const JOB: &str = "medianest-backend";
/// prom-client's default buckets, as the backend's histogram exposes them.
const LE: [&str; 12] = [
    "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf",
];

fn success(data: Value) -> Response<Body> {
    respond(200, PROM_JSON, json!({"status": "success", "data": data}).to_string())
}

fn vector(items: Vec<Value>) -> Response<Body> {
    success(json!({"resultType": "vector", "result": items}))
}

fn active_target(job: &str, addr: &str, interval: &str) -> Value {
    json!({
        "discoveredLabels": {
            "__address__": addr, "__metrics_path__": "/metrics", "__scheme__": "http",
            "__scrape_interval__": interval, "__scrape_timeout__": "10s", "job": job
        },
        "labels": {"instance": addr, "job": job},
        "scrapePool": job,
        "scrapeUrl": format!("http://{addr}/metrics"),
        "globalUrl": format!("http://bench:{}/metrics", addr.rsplit(':').next().unwrap_or_default()),
        "lastError": "",
        "lastScrape": rfc3339_ago(3),
        "lastScrapeDuration": 0.004_215_3,
        "health": "up",
        "scrapeInterval": interval,
        "scrapeTimeout": "10s"
    })
}

fn alert_rule(name: &str, query: &str, summary: &str) -> Value {
    json!({
        "state": "inactive", "name": name, "query": query, "duration": 60, "keepFiringFor": 0,
        "labels": {"severity": "critical"}, "annotations": {"summary": summary}, "alerts": [],
        "health": "ok", "evaluationTime": 0.000_412, "lastEvaluation": rfc3339_ago(4), "type": "alerting"
    })
}

fn prometheus(stack: &Stack, req: &Request<Body>) -> Response<Body> {
    match req.uri().path() {
        "/-/ready" => respond(200, "text/plain; charset=utf-8", "Prometheus Server is Ready.\n"),
        "/api/v1/targets" => success(json!({
            // Sorted by pool name, as Prometheus does.
            "activeTargets": [
                active_target(JOB, &stack.backend_addr, "15s"),
                active_target("prometheus", "localhost:9090", "15s"),
            ],
            "droppedTargets": []
        })),
        "/api/v1/rules" => success(json!({"groups": [{
            "name": "medianest", "file": "/etc/prometheus/rules/medianest.yml",
            "rules": [
                alert_rule("ApplicationDown", "up{job=\"medianest-backend\"} == 0", "MediaNest backend is down"),
                alert_rule(
                    "HighErrorRate",
                    "sum(rate(http_requests_total{status_code=~\"5..\"}[5m])) / sum(rate(http_requests_total[5m])) > 0.05",
                    "More than 5% of requests fail",
                ),
            ],
            "interval": 15, "limit": 0, "evaluationTime": 0.000_83, "lastEvaluation": rfc3339_ago(4)
        }]})),
        "/api/v1/query" => {
            let query = req
                .uri()
                .query()
                .and_then(|q| url::form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == "query"))
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default();
            if query.is_empty() {
                return respond(
                    400,
                    PROM_JSON,
                    r#"{"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": 1:1: parse error: no expression found in input"}"#,
                );
            }
            let ts = prom_ts();
            // The three queries of Gate G's latency_slo check, answered as a
            // backend with a p95 of about 218 ms over 61k requests would be.
            if query.starts_with("histogram_quantile(") {
                vector(vec![json!({"metric": {}, "value": [ts, "0.2175"]})])
            } else if query.starts_with("sum(increase(") {
                vector(vec![json!({"metric": {}, "value": [ts, "18342.61"]})])
            } else if query.starts_with("count(") {
                // Gate G's business and security series exist.
                vector(vec![json!({"metric": {}, "value": [ts, "3"]})])
            } else if query.starts_with("(sum(rate(http_requests_total") {
                // Gate G's error-ratio: 0.2 % of requests answer 5xx.
                vector(vec![json!({"metric": {}, "value": [ts, "0.002"]})])
            } else if query.starts_with("count by (le)") {
                vector(
                    LE.iter()
                        .map(|le| json!({"metric": {"le": le}, "value": [ts, "1"]}))
                        .collect(),
                )
            } else {
                vector(Vec::new())
            }
        }
        _ => respond(404, "text/plain; charset=utf-8", "404 page not found\n"),
    }
}

// ---------------------------------------------------------------- Grafana

const GRAFANA_JSON: &str = "application/json; charset=UTF-8";

fn grafana(stack: &Stack, req: &Request<Body>) -> Response<Body> {
    let path = req.uri().path();
    // Public, and pretty-printed like Grafana's.
    if path == "/api/health" {
        let body = json!({"commit": "2a88694fd3", "database": "ok", "version": "11.2.0"});
        return respond(
            200,
            GRAFANA_JSON,
            serde_json::to_string_pretty(&body).unwrap_or_default(),
        );
    }
    if !bearer(req.headers(), &stack.grafana_token) {
        return respond(
            401,
            GRAFANA_JSON,
            r#"{"extra":null,"message":"Unauthorized","messageId":"auth.unauthorized","statusCode":401,"traceID":""}"#,
        );
    }
    match path {
        "/api/datasources" => respond(
            200,
            GRAFANA_JSON,
            with_extra_datasources(stack, json!([
                {"id": 1, "uid": "prom-main", "orgId": 1, "name": "Prometheus", "type": "prometheus",
                 "typeName": "Prometheus", "typeLogoUrl": "public/app/plugins/datasource/prometheus/img/prometheus_logo.svg",
                 "access": "proxy", "url": "http://prometheus:9090", "user": "", "database": "", "basicAuth": false,
                 "isDefault": true, "jsonData": {"httpMethod": "POST", "timeInterval": "15s"}, "readOnly": true},
                {"id": 2, "uid": "loki-main", "orgId": 1, "name": "loki", "type": "loki", "typeName": "Loki",
                 "typeLogoUrl": "public/app/plugins/datasource/loki/img/loki_icon.svg", "access": "proxy",
                 "url": "http://loki:3100", "user": "", "database": "", "basicAuth": false, "isDefault": false,
                 "jsonData": {"maxLines": 1000}, "readOnly": true}
            ]))
            .to_string(),
        ),
        "/api/datasources/uid/prom-main/health" => respond(
            200,
            GRAFANA_JSON,
            r#"{"message":"Successfully queried the Prometheus API.","status":"OK"}"#,
        ),
        "/api/datasources/uid/loki-main/health" => respond(
            200,
            GRAFANA_JSON,
            r#"{"message":"Data source successfully connected.","status":"OK"}"#,
        ),
        p if p.starts_with("/api/datasources/uid/extra-") && p.ends_with("/health") => respond(
            200,
            GRAFANA_JSON,
            r#"{"message":"Successfully queried the Prometheus API.","status":"OK"}"#,
        ),
        p if p.starts_with("/api/datasources/uid/") => respond(
            500,
            GRAFANA_JSON,
            r#"{"message":"Unable to load datasource metadata"}"#,
        ),
        "/api/search" => respond(
            200,
            GRAFANA_JSON,
            search_page(stack, req, json!([
                {"id": 3, "uid": "medianest-overview", "orgId": 1, "title": "MediaNest Overview",
                 "uri": "db/medianest-overview", "url": "/d/medianest-overview/medianest-overview",
                 "slug": "medianest-overview", "type": "dash-db", "tags": ["medianest", "overview"],
                 "isStarred": false, "folderUid": "medianest", "folderTitle": "MediaNest",
                 "folderUrl": "/dashboards/f/medianest/medianest", "sortMeta": 0},
                {"id": 4, "uid": "medianest-logs", "orgId": 1, "title": "MediaNest Logs",
                 "uri": "db/medianest-logs", "url": "/d/medianest-logs/medianest-logs", "slug": "medianest-logs",
                 "type": "dash-db", "tags": ["medianest"], "isStarred": false, "sortMeta": 0}
            ]))
            .to_string(),
        ),
        _ => respond(404, GRAFANA_JSON, r#"{"message":"Not found"}"#),
    }
}

/// The datasource list with `--extra-datasources` healthy Prometheus ones.
fn with_extra_datasources(stack: &Stack, mut list: Value) -> Value {
    if let Some(items) = list.as_array_mut() {
        for i in 0..stack.extra_datasources {
            items.push(json!({"id": 100 + i, "uid": format!("extra-{i:04}"), "orgId": 1,
                "name": format!("Prometheus {i:04}"), "type": "prometheus", "typeName": "Prometheus",
                "typeLogoUrl": "public/app/plugins/datasource/prometheus/img/prometheus_logo.svg",
                "access": "proxy", "url": "http://prometheus:9090", "user": "", "database": "",
                "basicAuth": false, "isDefault": false, "jsonData": {}, "readOnly": true}));
        }
    }
    list
}

/// One `/api/search` page (`limit` default 1000, at most 5000; `page` from 1)
/// of the given hits followed by `--extra-dashboards` more.
fn search_page(stack: &Stack, req: &Request<Body>, first: Value) -> Value {
    let (mut limit, mut page) = (1000usize, 1usize);
    for (k, v) in url::form_urlencoded::parse(req.uri().query().unwrap_or_default().as_bytes()) {
        match k.as_ref() {
            "limit" => limit = v.parse().unwrap_or(1000usize).clamp(1, 5000),
            "page" => page = v.parse().unwrap_or(1usize).max(1),
            _ => {}
        }
    }
    let first = first.as_array().cloned().unwrap_or_default();
    let extra = (0..stack.extra_dashboards).map(|i| {
        json!({"id": 1000 + i, "uid": format!("service-{i:05}"), "orgId": 1, "title": format!("Service {i:05}"),
            "uri": format!("db/service-{i:05}"), "url": format!("/d/service-{i:05}/service-{i:05}"),
            "slug": format!("service-{i:05}"), "type": "dash-db", "tags": [], "isStarred": false, "sortMeta": 0})
    });
    Value::Array(
        first
            .into_iter()
            .chain(extra)
            .skip((page - 1) * limit)
            .take(limit)
            .collect(),
    )
}

// ---------------------------------------------------------------- Loki

/// The running configuration of a Loki 3 with compactor retention of 30 days.
const LOKI_CONFIG: &str = "\
target: all
server:
  http_listen_port: 3100
  grpc_listen_port: 9096
common:
  path_prefix: /loki
limits_config:
  retention_period: 30d
  max_query_lookback: 0s
compactor:
  working_directory: /loki/compactor
  compaction_interval: 10m0s
  apply_retention_interval: 15m0s
  retention_enabled: true
  retention_delete_delay: 2h0m0s
  retention_delete_worker_count: 150
  delete_request_store: filesystem
table_manager:
  retention_deletes_enabled: false
  retention_period: 0s
  poll_interval: 2m0s
";

fn loki(req: &Request<Body>) -> Response<Body> {
    const TEXT: &str = "text/plain; charset=utf-8";
    match req.uri().path() {
        "/ready" => respond(200, TEXT, "ready\n"),
        "/config" => respond(200, TEXT, LOKI_CONFIG),
        "/loki/api/v1/query_range" => {
            let now_ns = (now_secs() * 1e9) as u128;
            // Newest first, as `direction=backward` returns them.
            let values: Vec<Value> = [1u128, 4, 9]
                .iter()
                .map(|s| {
                    json!([
                        (now_ns - s * 1_000_000_000).to_string(),
                        format!("level=info msg=\"GET /api/v1/media 200\" duration_ms={}", 10 + s)
                    ])
                })
                .collect();
            let body = json!({
                "status": "success",
                "data": {
                    "resultType": "streams",
                    "result": [{"stream": {"job": "medianest-app", "level": "info"}, "values": values}],
                    "stats": {"summary": {"totalEntriesReturned": 3, "bytesProcessedPerSecond": 0}}
                }
            });
            respond(200, "application/json; charset=utf-8", body.to_string())
        }
        _ => respond(404, TEXT, "404 page not found\n"),
    }
}
