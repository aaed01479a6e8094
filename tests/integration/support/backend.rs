//! A fixture MediaNest backend on 127.0.0.1: a bearer-protected `/metrics`
//! and health endpoints whose status, body and delay each test sets, and a
//! log of the `Authorization` headers it received.
//!
//! With [`Traffic`], `/metrics` instead serves a prom-client style body whose
//! request counter and latency histogram grow at a steady rate, so a real
//! Prometheus scraping it computes rates and a p95 the test knows in advance;
//! every request the backend serves is counted in that `http_requests_total`
//! too (one series per path and status), so a check's own traffic shows.
//!
//! With [`LogShipping`], each request that carries the correlation header is
//! written as a JSON log line to a Loki through its real push API
//! (`POST /loki/api/v1/push`), after a delay or never, as Promtail would.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::http::{HeaderMap, Request, Response, header};

use super::{TOKEN, lock, read_fixture, respond, spawn};

/// How one endpoint answers.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub status: u16,
    pub delay: Duration,
    pub body: String,
    pub content_type: String,
}

impl Endpoint {
    pub fn json(status: u16, body: &str) -> Self {
        Endpoint {
            status,
            delay: Duration::ZERO,
            body: body.to_string(),
            content_type: "application/json; charset=utf-8".to_string(),
        }
    }
    pub fn delayed(mut self, d: Duration) -> Self {
        self.delay = d;
        self
    }
}

/// Everything the backend does; tests change it through [`Backend::set`].
#[derive(Debug, Clone)]
pub struct Behaviour {
    /// `None` serves `/metrics` to anyone (the security blocker).
    pub token: Option<String>,
    pub metrics_body: String,
    pub metrics_content_type: String,
    pub health: HashMap<String, Endpoint>,
    /// `Some` replaces `metrics_body` with counters computed at request time.
    pub traffic: Option<Traffic>,
    /// `Some` ships each correlated request's log line to a Loki.
    pub ship_logs: Option<LogShipping>,
}

/// How the backend's log shipper behaves.
#[derive(Debug, Clone)]
pub struct LogShipping {
    /// `http://127.0.0.1:PORT` of the Loki to push to.
    pub loki_url: String,
    /// How long after the request the line reaches Loki; `None`: never
    /// (the shipper is down, or the app does not log the header).
    pub delay: Option<Duration>,
    /// The stream's labels, e.g. `{job: medianest-app}`.
    pub labels: BTreeMap<String, String>,
    /// The request header whose value is logged (lower case).
    pub header: String,
    /// Sent as `X-Scope-OrgID`.
    pub tenant: Option<String>,
}

impl LogShipping {
    /// Ships `{job="medianest-app"}` lines of `x-correlation-id` to `loki_url` after `delay`.
    pub fn to(loki_url: &str, delay: Option<Duration>) -> Self {
        LogShipping {
            loki_url: loki_url.to_string(),
            delay,
            labels: BTreeMap::from([("job".to_string(), "medianest-app".to_string())]),
            header: "x-correlation-id".to_string(),
            tenant: None,
        }
    }
}

/// Requests served, by path and status.
type Served = BTreeMap<(String, u16), u64>;

impl Default for Behaviour {
    /// A healthy backend: protected metrics, all three health endpoints up.
    fn default() -> Self {
        let ok = Endpoint::json(200, r#"{"status":"ok","uptime":1234.5}"#);
        Behaviour {
            token: Some(TOKEN.to_string()),
            metrics_body: read_fixture("backend/metrics-ok.prom"),
            metrics_content_type: "text/plain; version=0.0.4; charset=utf-8".to_string(),
            health: ["/health", "/api/v1/health", "/api/health"]
                .into_iter()
                .map(|p| (p.to_string(), ok.clone()))
                .collect(),
            traffic: None,
            ship_logs: None,
        }
    }
}

pub struct Backend {
    pub url: String,
    behaviour: Arc<Mutex<Behaviour>>,
    auth_seen: Arc<Mutex<Vec<String>>>,
    served: Arc<Mutex<Served>>,
    /// Pushes to Loki that failed (status line or error), for assertions.
    push_errors: Arc<Mutex<Vec<String>>>,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

impl Backend {
    pub fn start(behaviour: Behaviour) -> Backend {
        let behaviour = Arc::new(Mutex::new(behaviour));
        let auth_seen = Arc::new(Mutex::new(Vec::new()));
        let served = Arc::new(Mutex::new(Served::new()));
        let push_errors = Arc::new(Mutex::new(Vec::new()));
        let state = State {
            behaviour: Arc::clone(&behaviour),
            auth_seen: Arc::clone(&auth_seen),
            served: Arc::clone(&served),
            push_errors: Arc::clone(&push_errors),
        };
        let (url, shutdown) = spawn(move |req| handle(req, state.clone()));
        Backend {
            url,
            behaviour,
            auth_seen,
            served,
            push_errors,
            _shutdown: shutdown,
        }
    }

    pub fn healthy() -> Backend {
        Self::start(Behaviour::default())
    }

    /// A healthy backend whose `/metrics` carries `traffic`.
    pub fn with_traffic(traffic: Traffic) -> Backend {
        Self::start(Behaviour {
            traffic: Some(traffic),
            ..Behaviour::default()
        })
    }

    /// `127.0.0.1:PORT`, the form a Prometheus `static_configs` target takes.
    pub fn addr(&self) -> String {
        self.url.trim_start_matches("http://").to_string()
    }

    pub fn set(&self, f: impl FnOnce(&mut Behaviour)) {
        f(&mut self.behaviour.lock().expect("behaviour lock"));
    }

    /// `Authorization` headers received so far.
    pub fn auth_headers(&self) -> Vec<String> {
        self.auth_seen.lock().expect("auth lock").clone()
    }

    /// Requests served on `path` so far, any status.
    pub fn served(&self, path: &str) -> u64 {
        lock(&self.served)
            .iter()
            .filter(|((p, _), _)| p == path)
            .map(|(_, n)| n)
            .sum()
    }

    /// Pushes to Loki that did not answer 204.
    pub fn push_errors(&self) -> Vec<String> {
        lock(&self.push_errors).clone()
    }
}

/// What the request handler shares with the test.
#[derive(Clone)]
struct State {
    behaviour: Arc<Mutex<Behaviour>>,
    auth_seen: Arc<Mutex<Vec<String>>>,
    served: Arc<Mutex<Served>>,
    push_errors: Arc<Mutex<Vec<String>>>,
}

async fn handle(req: Request<Body>, state: State) -> Response<Body> {
    let b = state.behaviour.lock().expect("behaviour lock").clone();
    let path = req.uri().path().to_string();
    let auth = header_str(req.headers(), header::AUTHORIZATION);
    if let Some(a) = &auth {
        state.auth_seen.lock().expect("auth lock").push(a.clone());
    }
    if path == "/metrics" {
        if let Some(token) = &b.token
            && auth.as_deref() != Some(&format!("Bearer {token}"))
        {
            return respond(401, "application/json", r#"{"error":"unauthorized"}"#);
        }
        // Computed per request: Prometheus derives rates from how much the
        // counters grew between two scrapes.
        let body = match &b.traffic {
            Some(t) => t.exposition_with(&lock(&state.served)),
            None => b.metrics_body,
        };
        return respond(200, &b.metrics_content_type, &body);
    }
    let received_ns = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let ep = b.health.get(&path).cloned();
    if let Some(ep) = &ep
        && !ep.delay.is_zero()
    {
        tokio::time::sleep(ep.delay).await;
    }
    let status = ep.as_ref().map_or(404, |ep| ep.status);
    *lock(&state.served).entry((path.clone(), status)).or_default() += 1;
    if let Some(ship) = b.ship_logs
        && let Some(id) = req.headers().get(ship.header.as_str()).and_then(|v| v.to_str().ok())
    {
        let line = serde_json::json!({
            "level": "info",
            "msg": "request completed",
            "method": req.method().as_str(),
            "path": path,
            "status": status,
            "correlationId": id,
        })
        .to_string();
        let errors = Arc::clone(&state.push_errors);
        if let Some(delay) = ship.delay {
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                if let Err(e) = push_line(&ship, received_ns, &line).await {
                    lock(&errors).push(e);
                }
            });
        }
    }
    match ep {
        Some(ep) => respond(ep.status, &ep.content_type, &ep.body),
        None => respond(404, "text/plain", "Not Found"),
    }
}

/// Pushes one line with Loki's JSON push body (observability-apis §4.8:
/// ns timestamps as strings, 204 on success) over a plain HTTP/1.1
/// connection, as Promtail's client does; `Err` says what Loki answered.
async fn push_line(ship: &LogShipping, ts_ns: u128, line: &str) -> Result<(), String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let body = serde_json::json!({"streams": [{
        "stream": ship.labels,
        "values": [[ts_ns.to_string(), line]],
    }]})
    .to_string();
    let authority = ship.loki_url.trim_start_matches("http://").trim_end_matches('/');
    assert!(
        authority.starts_with("127.0.0.1:"),
        "the fixture ships logs to 127.0.0.1 only, not {authority}"
    );
    let tenant = ship
        .tenant
        .as_deref()
        .map(|t| format!("X-Scope-OrgID: {t}\r\n"))
        .unwrap_or_default();
    let request = format!(
        "POST /loki/api/v1/push HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/json\r\n{tenant}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut conn = tokio::net::TcpStream::connect(authority)
        .await
        .map_err(|e| e.to_string())?;
    conn.write_all(request.as_bytes()).await.map_err(|e| e.to_string())?;
    let mut answer = Vec::new();
    conn.read_to_end(&mut answer).await.map_err(|e| e.to_string())?;
    let answer = String::from_utf8_lossy(&answer);
    let status = answer.lines().next().unwrap_or_default();
    if status.starts_with("HTTP/1.1 204") {
        Ok(())
    } else {
        Err(format!("push answered `{status}`: {answer}"))
    }
}

fn header_str(h: &HeaderMap, name: header::HeaderName) -> Option<String> {
    h.get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
}

/// prom-client's default histogram buckets.
pub const DEFAULT_BUCKETS: [f64; 11] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// Requests the backend pretends to have served: `requests_per_second` since
/// `started`, spread over the latency buckets as `buckets` says.
///
/// Counts are `rate × elapsed`, so between two scrapes every bucket grows by
/// its share of the requests and `rate()` sees exactly `requests_per_second`.
/// Changing the distribution of a running backend would make some buckets
/// shrink (a counter reset to Prometheus); start another backend instead.
#[derive(Debug, Clone)]
pub struct Traffic {
    pub requests_per_second: f64,
    /// Upper bounds (seconds) and the share of requests at or below each,
    /// cumulative, ending with `f64::INFINITY` → 1.0.
    pub buckets: Vec<(f64, f64)>,
    /// Share of requests counted with `status_code="500"`.
    pub error_share: f64,
    /// Counts are rate × elapsed since this.
    pub started: Instant,
}

impl Traffic {
    /// 200 requests/s spread over [`DEFAULT_BUCKETS`] so that
    /// `histogram_quantile(0.95, …)` computes exactly `p95` (seconds), which
    /// must lie in (0.005, 10]. 1 % of requests are 500s.
    ///
    /// 200/s keeps integer rounding of the counts below 2 % of the p95 once
    /// Prometheus has three scrapes 1 s apart.
    pub fn with_p95(p95: f64) -> Self {
        let b = &DEFAULT_BUCKETS;
        assert!(
            p95 > b[0] && p95 <= b[b.len() - 1],
            "p95 {p95} must lie in ({}, {}]",
            b[0],
            b[b.len() - 1]
        );
        // The bucket (lo, hi] that holds the 0.95 rank.
        let i = b.iter().position(|&ub| p95 <= ub).expect("checked above");
        let (lo, hi) = (b[i - 1], b[i]);
        let f = (p95 - lo) / (hi - lo);
        // Share of requests inside (lo, hi], chosen so that the 0.95 rank sits
        // at fraction `f` of it and at least 1 % of requests stay above hi
        // (a real tail, not everything at the boundary).
        let m = if f < 1.0 { (0.04 / (1.0 - f)).min(0.5) } else { 0.5 };
        let at_lo = 0.95 - m * f;
        let at_hi = 0.95 + m * (1.0 - f);
        let mut buckets = Vec::with_capacity(b.len() + 1);
        // Below lo: spread evenly, as a fast endpoint's body of requests.
        for (j, &ub) in b[..i].iter().enumerate() {
            buckets.push((ub, at_lo * (j + 1) as f64 / i as f64));
        }
        buckets.push((hi, at_hi));
        // The tail lands in the next bucket (or above the last bound).
        for &ub in &b[i + 1..] {
            buckets.push((ub, 1.0));
        }
        buckets.push((f64::INFINITY, 1.0));
        Traffic {
            requests_per_second: 200.0,
            buckets,
            error_share: 0.01,
            // A minute of history, as for a backend that has been up a while:
            // rate() is the same, and Prometheus' extrapolation never has to
            // clamp at a counter's zero point.
            started: Instant::now()
                .checked_sub(Duration::from_secs(60))
                .unwrap_or_else(Instant::now),
        }
    }

    /// p95 ≈ 0.2 s, well within a 0.6 s SLA.
    pub fn fast() -> Self {
        Self::with_p95(0.2)
    }

    /// p95 ≈ 1.5 s, well over a 0.6 s SLA.
    pub fn slow() -> Self {
        Self::with_p95(1.5)
    }

    /// No requests: the histogram and counter exist but never grow, so the
    /// p95 Prometheus computes is NaN.
    pub fn none() -> Self {
        Traffic {
            requests_per_second: 0.0,
            ..Self::fast()
        }
    }

    /// What Prometheus 2.42's `histogram_quantile(q, …)` computes for this
    /// distribution (`bucketQuantile` in promql/quantile.go): find the first
    /// bucket whose cumulative share reaches `q`, interpolate linearly inside
    /// it (the first bucket starts at 0), answer the last finite bound when the
    /// rank falls in the +Inf bucket, and NaN without observations.
    pub fn expected_quantile(&self, q: f64) -> f64 {
        if q.is_nan() {
            return f64::NAN;
        }
        if q < 0.0 {
            return f64::NEG_INFINITY;
        }
        if q > 1.0 {
            return f64::INFINITY;
        }
        let b = &self.buckets;
        if b.len() < 2 || b.last().is_none_or(|&(ub, _)| ub != f64::INFINITY) || self.requests_per_second <= 0.0 {
            return f64::NAN;
        }
        let observations = b[b.len() - 1].1;
        if observations <= 0.0 {
            return f64::NAN;
        }
        let mut rank = q * observations;
        let i = b[..b.len() - 1]
            .iter()
            .position(|&(_, c)| c >= rank)
            .unwrap_or(b.len() - 1);
        if i == b.len() - 1 {
            return b[b.len() - 2].0;
        }
        if i == 0 && b[0].0 <= 0.0 {
            return b[0].0;
        }
        let (mut start, end, mut count) = (0.0, b[i].0, b[i].1);
        if i > 0 {
            start = b[i - 1].0;
            count -= b[i - 1].1;
            rank -= b[i - 1].1;
        }
        start + (end - start) * (rank / count)
    }

    /// The `/metrics` body now, with the requests the backend really served.
    fn exposition_with(&self, served: &Served) -> String {
        self.render(self.started.elapsed(), served)
    }

    /// The `/metrics` body `elapsed` after `started`, the way prom-client
    /// renders it: HELP/TYPE lines, `le` first, cumulative buckets, `_sum`
    /// and `_count`, integer counts.
    pub fn exposition_at(&self, elapsed: Duration) -> String {
        self.render(elapsed, &Served::new())
    }

    /// The body `elapsed` after `started`, with one `http_requests_total`
    /// series per path and status of `served`, inside its family.
    fn render(&self, elapsed: Duration, served: &Served) -> String {
        assert!(
            self.buckets
                .last()
                .is_some_and(|&(ub, c)| ub == f64::INFINITY && c == 1.0),
            "Traffic buckets must end with (f64::INFINITY, 1.0): {:?}",
            self.buckets
        );
        let total = self.requests_per_second * elapsed.as_secs_f64();
        let labels = r#"method="GET",route="/api/v1/media""#;
        let mut out = String::new();
        out.push_str(
            "# HELP process_cpu_user_seconds_total Total user CPU time spent in seconds.\n\
             # TYPE process_cpu_user_seconds_total counter\n",
        );
        let _ = writeln!(
            out,
            "process_cpu_user_seconds_total {:.3}",
            elapsed.as_secs_f64() * 0.02
        );
        out.push_str(
            "# HELP nodejs_heap_size_used_bytes Process heap size used from Node.js in bytes.\n\
             # TYPE nodejs_heap_size_used_bytes gauge\n\
             nodejs_heap_size_used_bytes 48213456\n",
        );
        out.push_str(
            "# HELP http_requests_total Total number of HTTP requests\n\
             # TYPE http_requests_total counter\n",
        );
        // Each status rounded on its own, so neither ever goes down.
        for (status, share) in [("200", 1.0 - self.error_share), ("500", self.error_share)] {
            let _ = writeln!(
                out,
                "http_requests_total{{{labels},status_code=\"{status}\"}} {}",
                (total * share).round()
            );
        }
        for ((path, status), n) in served {
            let _ = writeln!(
                out,
                "http_requests_total{{method=\"GET\",route=\"{path}\",status_code=\"{status}\"}} {n}"
            );
        }
        out.push_str(
            "# HELP http_request_duration_seconds Duration of HTTP requests in seconds\n\
             # TYPE http_request_duration_seconds histogram\n",
        );
        let (mut sum, mut prev_ub, mut prev_share) = (0.0, 0.0, 0.0);
        for &(ub, share) in &self.buckets {
            let le = if ub == f64::INFINITY {
                "+Inf".to_string()
            } else {
                ub.to_string()
            };
            let _ = writeln!(
                out,
                "http_request_duration_seconds_bucket{{le=\"{le}\",{labels}}} {}",
                (total * share).round()
            );
            // Requests inside a bucket took its midpoint; those above the last
            // bound took that bound.
            let took = if ub == f64::INFINITY {
                prev_ub
            } else {
                (prev_ub + ub) / 2.0
            };
            sum += (share - prev_share) * total * took;
            (prev_ub, prev_share) = (if ub == f64::INFINITY { prev_ub } else { ub }, share);
        }
        let _ = writeln!(
            out,
            "http_request_duration_seconds_sum{{{labels}}} {}",
            (sum * 1000.0).round() / 1000.0
        );
        let _ = writeln!(out, "http_request_duration_seconds_count{{{labels}}} {}", total.round());
        out
    }
}
