//! The simulated MediaNest backend: a bearer-protected `/metrics` in text
//! exposition 0.0.4 (prom-client's request counter and duration histogram)
//! and the three health endpoints.

use serde_json::json;

use super::serve::{Reply, Req};
use super::{Scenario, Sim, bearer, rfc3339_ago};

/// prom-client's default buckets with cumulative counts: a p95 of about
/// 260 ms, or (slow-p95) about 950 ms. The simulated Prometheus computes
/// its answers from these same counts.
pub const LE: [&str; 12] = [
    "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf",
];
const FAST: [u64; 12] = [
    4200, 11800, 23900, 35100, 46800, 57900, 60500, 60990, 61040, 61055, 61058, 61058,
];
const SLOW: [u64; 12] = [
    310, 1020, 2950, 6400, 14800, 31700, 47300, 59100, 60900, 61040, 61058, 61058,
];

/// The cumulative bucket counts the backend exposes in `scenario`.
pub fn buckets(scenario: Scenario) -> [u64; 12] {
    if scenario == Scenario::SlowP95 { SLOW } else { FAST }
}

fn exposition(scenario: Scenario) -> String {
    let counts = buckets(scenario);
    let sum = if scenario == Scenario::SlowP95 { 27461.9 } else { 5312.4 };
    let mut s = String::from(
        "# HELP process_cpu_user_seconds_total Total user CPU time spent in seconds.\n\
         # TYPE process_cpu_user_seconds_total counter\n\
         process_cpu_user_seconds_total 12.5\n\
         # HELP http_requests_total Total number of HTTP requests\n\
         # TYPE http_requests_total counter\n\
         http_requests_total{method=\"GET\",route=\"/api/v1/media\",status_code=\"200\"} 61027\n\
         http_requests_total{method=\"GET\",route=\"/api/v1/media\",status_code=\"500\"} 31\n\
         # HELP http_request_duration_seconds Duration of HTTP requests in seconds\n\
         # TYPE http_request_duration_seconds histogram\n",
    );
    for (le, n) in LE.iter().zip(counts) {
        s.push_str(&format!(
            "http_request_duration_seconds_bucket{{le=\"{le}\",method=\"GET\",route=\"/api/v1/media\"}} {n}\n"
        ));
    }
    s.push_str(&format!(
        "http_request_duration_seconds_sum{{method=\"GET\",route=\"/api/v1/media\"}} {sum}\n\
         http_request_duration_seconds_count{{method=\"GET\",route=\"/api/v1/media\"}} {}\n\
         # HELP user_sessions_active Active user sessions\n\
         # TYPE user_sessions_active gauge\n\
         user_sessions_active 42\n\
         # HELP auth_attempts_total Login attempts by outcome\n\
         # TYPE auth_attempts_total counter\n\
         auth_attempts_total{{status=\"success\"}} 1804\n\
         auth_attempts_total{{status=\"failure\"}} 57\n\
         # HELP media_requests_total Media requests by type\n\
         # TYPE media_requests_total counter\n\
         media_requests_total{{type=\"movie\"}} 20931\n\
         media_requests_total{{type=\"tv\"}} 17220\n",
        counts[11]
    ));
    s
}

pub fn answer(sim: &Sim, req: &Req) -> Reply {
    match req.path.as_str() {
        "/metrics" if sim.scenario == Scenario::MetricsOpen || bearer(req, super::METRICS_TOKEN) => Reply::new(
            200,
            "text/plain; version=0.0.4; charset=utf-8",
            exposition(sim.scenario),
        ),
        "/metrics" => Reply::new(401, "application/json; charset=utf-8", r#"{"error":"unauthorized"}"#),
        "/health" | "/api/v1/health" | "/api/health" => Reply::json(
            200,
            "application/json; charset=utf-8",
            &json!({"status": "ok", "uptime": 86_400.5, "timestamp": rfc3339_ago(0)}),
        ),
        _ => Reply::text(404, "Not Found"),
    }
}
