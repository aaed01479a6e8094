//! The synthetic `telemetry_roundtrip` kind against the real Prometheus from
//! Debian scraping the fixture backend every second, and the fixture Loki
//! that the backend ships its request logs to through Loki's push API, as
//! Promtail would: round trip ok, logs that never arrive, a counter
//! Prometheus does not scrape, a refused Loki, and no `--synthetic`.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::backend::{Backend, Behaviour, LogShipping, Traffic};
use crate::support::loki::Loki;
use crate::support::prometheus::{PromConfig, Prometheus};
use crate::support::{TOKEN, bin, check, closed_port, gate_file, json, output};

const JOB: &str = "medianest-backend";

/// A gate with one required `telemetry_roundtrip` check `rt` and the given
/// `within` and `timeout`.
fn gate(backend: &str, loki: &str, prometheus: &str, within: &str, timeout: &str) -> String {
    format!(
        r#"schema_version: 1
id: R
name: round trip
targets: {{backend: "{backend}", loki: "{loki}", prometheus: "{prometheus}"}}
requirements:
  - id: pipeline
    name: pipeline
    weight: 1
    required: true
    checks:
      - id: rt
        kind: telemetry_roundtrip
        target: backend
        loki: loki
        prometheus: prometheus
        selector: '{{job="medianest-app"}}'
        job: {JOB}
        within: {within}
        timeout: {timeout}
"#
    )
}

/// Runs `check --format json` on the gate with `extra` flags; returns the
/// exit code, the check's JSON and how long the run took.
fn run(yaml: &str, extra: &[&str]) -> (i32, Value, Duration) {
    let (_dir, path) = gate_file(yaml);
    let started = Instant::now();
    let (code, stdout, stderr) = output(
        bin()
            .args(["check", "--no-progress", "--format", "json", "--gate"])
            .arg(&path)
            .args(extra),
    );
    let took = started.elapsed();
    assert!(!stdout.is_empty(), "no report; stderr:\n{stderr}");
    let report = json(&stdout);
    (code, check(&report, "rt").clone(), took)
}

/// A backend whose `/metrics` counts only the requests it serves (no
/// pretend traffic), shipping its logs to `loki` after `delay`.
fn backend(loki: &Loki, delay: Option<Duration>) -> Backend {
    Backend::start(Behaviour {
        traffic: Some(Traffic::none()),
        ship_logs: Some(LogShipping::to(&loki.url, delay)),
        ..Behaviour::default()
    })
}

/// A real Prometheus scraping `target` as the backend job every second,
/// once it has scraped it, so the counter has a baseline.
fn prometheus_scraping(target: &Backend) -> Prometheus {
    let prom = Prometheus::start(PromConfig::new(JOB, &target.addr()).bearer(TOKEN));
    prom.wait_for_scrapes(JOB, 1, Duration::from_secs(30));
    prom
}

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

#[test]
fn the_fixture_backend_ships_correlated_lines_through_lokis_push_api() {
    let loki = Loki::start("retention-30d-enforced");
    let b = backend(&loki, Some(Duration::ZERO));
    let (status, _) = crate::support::daemon::get_with(
        b.url.trim_start_matches("http://").parse().expect("addr"),
        "/health",
        &[("x-correlation-id", "selftest-42")],
    )
    .expect("GET /health");
    assert_eq!(status, 200);
    let pushed = || {
        loki.requests()
            .iter()
            .any(|r| r.method == "POST" && r.path == "/loki/api/v1/push")
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    while !pushed() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(pushed(), "no push reached Loki: {:?}", b.push_errors());
    assert!(b.push_errors().is_empty(), "{:?}", b.push_errors());
    assert_eq!(b.served("/health"), 1);
    let q = |query: &str| {
        let path = format!(
            "/loki/api/v1/query_range?query={}",
            url::form_urlencoded::byte_serialize(query.as_bytes()).collect::<String>()
        );
        let (status, body) =
            crate::support::daemon::get(loki.url.trim_start_matches("http://").parse().expect("addr"), &path)
                .expect("query Loki");
        assert_eq!(status, 200, "{body}");
        serde_json::from_str::<Value>(&body).expect("JSON")
    };
    let found = q(r#"{job="medianest-app"} |= "selftest-42""#);
    let lines: Vec<&str> = found["data"]["result"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|s| s["values"].as_array().into_iter().flatten())
        .map(|v| v[1].as_str().unwrap_or_default())
        .collect();
    assert_eq!(lines.len(), 1, "{found}");
    assert!(lines[0].contains(r#""correlationId":"selftest-42""#), "{}", lines[0]);
    // The filter is applied, and another selector does not see the pushed stream.
    let none = q(r#"{job="medianest-app"} |= "selftest-43""#);
    assert_eq!(none["data"]["result"], serde_json::json!([]), "{none}");
    let other = q(r#"{job="nginx"} |= "selftest-42""#);
    assert_eq!(other["data"]["result"], serde_json::json!([]), "{other}");
}

#[test]
fn a_round_trip_reports_both_lags_and_passes() {
    let delay = Duration::from_millis(1500);
    let loki = Loki::start("retention-30d-enforced");
    let b = backend(&loki, Some(delay));
    let prom = prometheus_scraping(&b);
    let (code, c, _) = run(&gate(&b.url, &loki.url, &prom.url, "10s", "14s"), &["--synthetic"]);
    assert_eq!(c["status"], "pass", "{c}\n{:?}\n{}", b.push_errors(), prom.log_tail());
    assert_eq!(code, 0, "{c}");
    let e = &c["evidence"];
    let log_lag = e["log_lag_ms"].as_u64().expect("log lag reported");
    let metrics_lag = e["metrics_lag_ms"].as_u64().expect("metrics lag reported");
    assert!(
        log_lag >= delay.as_millis() as u64,
        "log lag {log_lag} ms is below the shipper's delay"
    );
    assert!(log_lag < 10_000 && metrics_lag < 10_000, "{e}");
    assert_eq!(e["requests_sent"], 5);
    assert_eq!(e["backend_statuses"], serde_json::json!([200, 200, 200, 200, 200]));
    assert_eq!(b.served("/health"), 5);
    let growth = e["counter_after"].as_f64().unwrap_or(0.0) - e["counter_before"].as_f64().unwrap_or(-1.0);
    assert!(growth >= 5.0, "{e}");
    let id = text(&e["correlation_id"]);
    assert!(id.starts_with("mng-rt-"), "{id}");
    assert!(text(&e["synthetic_actions"][0]).contains(id), "{e}");
    assert!(text(&c["message"]).contains("round trip ok"), "{c}");
    assert!(
        text(&c["reproduce"]).contains(&format!("x-correlation-id: {id}")),
        "{c}"
    );
    // The id travelled in the header of every request the check sent.
    let pushed = loki.requests().iter().filter(|r| r.path == "/loki/api/v1/push").count();
    assert_eq!(pushed, 5);
}

#[test]
fn logs_that_never_arrive_fail_the_log_leg_within_the_timeout() {
    let loki = Loki::start("retention-30d-enforced");
    let b = backend(&loki, None);
    let prom = prometheus_scraping(&b);
    let (code, c, took) = run(&gate(&b.url, &loki.url, &prom.url, "3s", "6s"), &["--synthetic"]);
    assert_eq!(c["status"], "fail", "{c}");
    assert_eq!(code, 1);
    assert!(took < Duration::from_secs(8), "took {took:?}");
    let msg = text(&c["message"]);
    assert!(
        msg.contains(r#"logs never arrived in Loki within 3s for {job="medianest-app"}"#),
        "{msg}"
    );
    assert!(!msg.contains("request counter"), "the metrics leg arrived: {msg}");
    assert!(c["evidence"]["log_lag_ms"].is_null(), "{c}");
    assert!(c["evidence"]["metrics_lag_ms"].as_u64().is_some(), "{c}");
    assert!(text(&c["remediation"]).contains("Promtail"), "{c}");
    assert!(text(&c["cause"]).contains("logs do not reach Loki"), "{c}");
    let id = text(&c["evidence"]["correlation_id"]);
    let reproduce = text(&c["reproduce"]);
    assert!(
        reproduce.contains("/loki/api/v1/query_range") && reproduce.contains(id),
        "{reproduce}"
    );
}

#[test]
fn a_counter_prometheus_does_not_scrape_fails_the_metrics_leg() {
    let loki = Loki::start("retention-30d-enforced");
    let b = backend(&loki, Some(Duration::from_millis(100)));
    // Prometheus scrapes another replica as the job: the counter exists but
    // never sees the requests the check sends.
    let replica = Backend::with_traffic(Traffic::none());
    let prom = prometheus_scraping(&replica);
    let (code, c, took) = run(&gate(&b.url, &loki.url, &prom.url, "3s", "6s"), &["--synthetic"]);
    assert_eq!(c["status"], "fail", "{c}");
    assert_eq!(code, 1);
    assert!(took < Duration::from_secs(8), "took {took:?}");
    let msg = text(&c["message"]);
    assert!(msg.contains("request counter grew by 0 of 5 within 3s"), "{msg}");
    assert!(!msg.contains("logs never arrived"), "the log leg arrived: {msg}");
    assert!(c["evidence"]["log_lag_ms"].as_u64().is_some(), "{c}");
    assert!(c["evidence"]["metrics_lag_ms"].is_null(), "{c}");
    assert!(text(&c["remediation"]).contains("scrape interval"), "{c}");
    assert!(
        text(&c["reproduce"]).contains("sum(http_requests_total{job=\"medianest-backend\"})"),
        "{c}"
    );
    assert_eq!(b.served("/health"), 5);
    assert_eq!(replica.served("/health"), 0);
}

#[test]
fn a_refused_loki_is_an_error_before_any_request_is_sent() {
    let loki = Loki::start("retention-30d-enforced");
    let b = backend(&loki, Some(Duration::ZERO));
    let refused = format!("http://127.0.0.1:{}", closed_port());
    let (code, c, took) = run(&gate(&b.url, &refused, &refused, "3s", "6s"), &["--synthetic"]);
    assert_eq!(c["status"], "error", "{c}");
    assert_eq!(code, 1);
    assert!(took < Duration::from_secs(4), "took {took:?}");
    assert!(text(&c["cause"]).contains("target `loki`"), "{c}");
    assert!(text(&c["message"]).contains("/loki/api/v1/query_range"), "{c}");
    assert_eq!(b.served("/health"), 0, "traffic was sent although Loki was down");
}

#[test]
fn without_synthetic_the_round_trip_is_skipped() {
    let refused = format!("http://127.0.0.1:{}", closed_port());
    let (code, c, _) = run(&gate(&refused, &refused, &refused, "3s", "6s"), &[]);
    assert_eq!(c["status"], "skipped", "{c}");
    assert_eq!(c["message"], "needs --synthetic");
    assert_ne!(code, 0, "a skipped required check is a partial run");
}

/// A fake Prometheus whose `sum(...)` answers `value(n)` on its n-th query.
fn fake_prometheus(value: fn(u64) -> &'static str) -> (String, tokio::sync::oneshot::Sender<()>) {
    let n = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    crate::support::spawn(move |req| {
        let n = std::sync::Arc::clone(&n);
        async move {
            if req.uri().path() != "/api/v1/query" {
                return crate::support::respond(404, "text/plain", "404 page not found");
            }
            let i = n.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let body = format!(
                r#"{{"status":"success","data":{{"resultType":"vector","result":[{{"metric":{{}},"value":[1795283994.267,"{}"]}}]}}}}"#,
                value(i)
            );
            crate::support::respond(200, "application/json", &body)
        }
    })
}

#[test]
fn hostile_answers_end_in_an_error_or_a_failed_leg_never_a_pass() {
    let loki = Loki::start("retention-30d-enforced");
    let b = backend(&loki, Some(Duration::ZERO));
    let (html, _h) = crate::support::spawn(|_req| async {
        crate::support::respond(200, "text/html", "<!doctype html><html><body>Sign in</body></html>")
    });
    let (growing, _g) = fake_prometheus(|i| ["0", "100", "200", "300"].get(i as usize).copied().unwrap_or("400"));
    let (nan, _n) = fake_prometheus(|_| "NaN");

    // A login page where Loki should be: an error, and no traffic sent.
    let (_, c, took) = run(&gate(&b.url, &html, &growing, "3s", "6s"), &["--synthetic"]);
    assert_eq!(c["status"], "error", "{c}");
    assert!(text(&c["message"]).contains("invalid JSON"), "{c}");
    assert!(took < Duration::from_secs(4), "took {took:?}");

    // A NaN request counter is not a count.
    let (_, c, _) = run(&gate(&b.url, &loki.url, &nan, "3s", "6s"), &["--synthetic"]);
    assert_eq!(c["status"], "error", "{c}");
    assert!(text(&c["message"]).contains("NaN"), "{c}");
    assert_eq!(
        b.served("/health"),
        0,
        "traffic was sent although the baseline was unusable"
    );

    // A "Loki" that answers every query with a line lacking the id: the
    // server's filtering is not trusted, so the log leg fails.
    let (liar, _l) = crate::support::spawn(|_req| async {
        crate::support::respond(
            200,
            "application/json",
            r#"{"status":"success","data":{"resultType":"streams","result":[{"stream":{"job":"medianest-app"},"values":[["1731600000000000000","GET /health 200"]]}]}}"#,
        )
    });
    let (counting, _c) = fake_prometheus(|i| ["0", "100"].get(i as usize).copied().unwrap_or("200"));
    let (_, c, _) = run(&gate(&b.url, &liar, &counting, "2s", "5s"), &["--synthetic"]);
    assert_eq!(c["status"], "fail", "{c}");
    let msg = text(&c["message"]);
    assert!(msg.contains("logs never arrived in Loki within 2s"), "{msg}");
    assert!(!msg.contains("request counter"), "{msg}");
}
