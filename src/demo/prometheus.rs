//! The simulated Prometheus 2.42 HTTP API: readiness, the scrape targets
//! (the backend job's health and `lastError` come from the scenario), the
//! PromQL Gate G sends (answered from the backend's own exposition, or empty
//! when its scrapes fail), alert rules and the Alertmanagers it sends to.

use serde_json::{Value, json};

use super::serve::{Reply, Req};
use super::{Scenario, Sim, backend, now, rfc3339_ago, unix_secs};

const JSON: &str = "application/json";
const JOB: &str = "medianest-backend";
/// The backend's uptime (its /health says so): its counters grew over it.
pub(super) const UPTIME_S: f64 = 86_400.5;
/// Series per metric in the backend's exposition, for `count(...)`.
const SERIES: [(&str, f64); 4] = [
    ("count(user_sessions_active)", 1.0),
    ("count(auth_attempts_total)", 2.0),
    ("count(auth_attempts_total{status=\"failure\"})", 1.0),
    ("count(media_requests_total)", 2.0),
];

pub fn answer(sim: &Sim, req: &Req) -> Reply {
    match req.path.as_str() {
        "/-/ready" => Reply::text(200, "Prometheus Server is Ready.\n"),
        "/-/healthy" => Reply::text(200, "Prometheus Server is Healthy.\n"),
        "/api/v1/targets" => success(targets(sim, req)),
        "/api/v1/query" => query(sim, req.param("query").unwrap_or_default()),
        "/api/v1/rules" => success(rules(sim.scenario)),
        "/api/v1/alertmanagers" => success(json!({
            "activeAlertmanagers": [{"url": format!("http://{}/api/v2/alerts", sim.alertmanager)}],
            "droppedAlertmanagers": []
        })),
        _ => Reply::text(404, "404 page not found\n"),
    }
}

fn success(data: Value) -> Reply {
    Reply::json(200, JSON, &json!({"status": "success", "data": data}))
}

fn target(job: &str, addr: &str, health: &str, last_error: &str) -> Value {
    let port = addr.rsplit(':').next().unwrap_or_default();
    json!({
        "discoveredLabels": {"__address__": addr, "__metrics_path__": "/metrics", "__scheme__": "http",
            "__scrape_interval__": "15s", "__scrape_timeout__": "10s", "job": job},
        "labels": {"instance": addr, "job": job},
        "scrapePool": job,
        "scrapeUrl": format!("http://{addr}/metrics"),
        "globalUrl": format!("http://medianest-prometheus:{port}/metrics"),
        "lastError": last_error,
        "lastScrape": rfc3339_ago(4),
        "lastScrapeDuration": 0.003_912_7,
        "health": health,
        "scrapeInterval": "15s",
        "scrapeTimeout": "10s"
    })
}

/// `state` and `scrapePool` filter as Prometheus does (§1.3): an unknown
/// state or pool gives both arrays empty.
fn targets(sim: &Sim, req: &Req) -> Value {
    let refused = format!(
        "Get \"http://{0}/metrics\": dial tcp {0}: connect: connection refused",
        sim.backend
    );
    let backend = match sim.scenario {
        Scenario::SeedDay => target(JOB, &sim.backend, "down", &refused),
        Scenario::Scrape401 => target(
            JOB,
            &sim.backend,
            "down",
            "server returned HTTP status 401 Unauthorized",
        ),
        _ => target(JOB, &sim.backend, "up", ""),
    };
    // Sorted by pool name, as Prometheus lists them.
    let mut active = vec![backend, target("prometheus", &sim.prometheus, "up", "")];
    let state = req.param("state").unwrap_or_default().to_ascii_lowercase();
    // Nothing is dropped by relabelling here: `droppedTargets` is always empty.
    let want_active = matches!(state.as_str(), "" | "any" | "active");
    if let Some(pool) = req.param("scrapePool") {
        active.retain(|t| t["scrapePool"] == pool);
    }
    json!({
        "activeTargets": if want_active { active } else { Vec::new() },
        "droppedTargets": []
    })
}

fn vector(items: Vec<Value>) -> Reply {
    success(json!({"resultType": "vector", "result": items}))
}

fn value(v: f64) -> Reply {
    let ts = (unix_secs(now()) * 1000.0).round() / 1000.0;
    vector(vec![json!({"metric": {}, "value": [ts, v.to_string()]})])
}

/// Gate G's queries, answered from the backend's exposition over its
/// uptime. Series of the backend exist only while its scrapes succeed; any
/// other query has an empty result, as one about an unknown series has.
fn query(sim: &Sim, q: &str) -> Reply {
    let q = q.trim();
    if q.is_empty() {
        return Reply::new(
            400,
            JSON,
            r#"{"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": 1:1: parse error: no expression found in input"}"#,
        );
    }
    if q.starts_with("sum(increase(prometheus_notifications_errors_total") {
        return value(0.0);
    }
    if q.starts_with("count by (job) (up)") {
        let ts = unix_secs(now());
        return vector(
            [JOB, "prometheus"]
                .iter()
                .map(|j| json!({"metric": {"job": j}, "value": [ts, "1"]}))
                .collect(),
        );
    }
    if !sim.scenario.scraped() || (!q.contains(JOB) && !q.starts_with("count(")) {
        return vector(Vec::new());
    }
    let buckets = backend::buckets(sim.scenario);
    let total = buckets[buckets.len() - 1] as f64;
    let window_s = window(q);
    if let Some(rest) = q.strip_prefix("histogram_quantile(") {
        let Some(quantile) = rest.split(',').next().and_then(|s| s.trim().parse::<f64>().ok()) else {
            return vector(Vec::new());
        };
        return value(histogram_quantile(quantile, &buckets));
    }
    if q.starts_with("sum(increase(http_request_duration_seconds_count") {
        return value((total * window_s / UPTIME_S * 100.0).round() / 100.0);
    }
    if q.starts_with("count by (le) (http_request_duration_seconds_bucket") {
        let ts = unix_secs(now());
        return vector(
            backend::LE
                .iter()
                .map(|le| json!({"metric": {"le": le}, "value": [ts, "1"]}))
                .collect(),
        );
    }
    if q.starts_with("(sum(rate(http_requests_total") {
        // 31 of the counter's 61,058 requests answered 500.
        return value(31.0 / 61_058.0);
    }
    match SERIES.iter().find(|(s, _)| *s == q) {
        Some((_, n)) => value(*n),
        None => vector(Vec::new()),
    }
}

/// The range of the query's first `[...]`, in seconds (5m when absent).
fn window(q: &str) -> f64 {
    q.split_once('[')
        .and_then(|(_, r)| r.split_once(']'))
        .and_then(|(w, _)| humantime::parse_duration(w).ok())
        .map(|d| d.as_secs_f64())
        .unwrap_or(300.0)
}

/// Prometheus' `histogram_quantile`: linear interpolation inside the bucket
/// that holds the rank; the `+Inf` bucket answers the highest finite bound.
pub(super) fn histogram_quantile(q: f64, cumulative: &[u64]) -> f64 {
    let total = cumulative[cumulative.len() - 1] as f64;
    let rank = q * total;
    let bounds: Vec<f64> = backend::LE
        .iter()
        .map(|le| le.parse().unwrap_or(f64::INFINITY))
        .collect();
    let i = cumulative
        .iter()
        .position(|c| *c as f64 >= rank)
        .unwrap_or(cumulative.len() - 1);
    if bounds[i].is_infinite() {
        return bounds[i - 1];
    }
    let (lower, below) = if i == 0 {
        (0.0, 0.0)
    } else {
        (bounds[i - 1], cumulative[i - 1] as f64)
    };
    let in_bucket = cumulative[i] as f64 - below;
    lower + (bounds[i] - lower) * (rank - below) / in_bucket
}

fn rule(name: &str, query: &str, firing: bool) -> Value {
    let alerts = if firing {
        json!([{"labels": {"alertname": name, "job": JOB, "severity": "critical"},
            "annotations": {"summary": "MediaNest backend is down"}, "state": "firing",
            "activeAt": rfc3339_ago(1800), "value": "1e+00"}])
    } else {
        json!([])
    };
    json!({"state": if firing { "firing" } else { "inactive" }, "name": name, "query": query,
        "duration": 60, "keepFiringFor": 0, "labels": {"severity": "critical"}, "annotations": {},
        "alerts": alerts, "health": "ok", "evaluationTime": 0.000_412, "lastEvaluation": rfc3339_ago(4),
        "type": "alerting"})
}

fn rules(scenario: Scenario) -> Value {
    json!({"groups": [{
        "name": "medianest", "file": "/etc/prometheus/rules/medianest.yml",
        "rules": [
            rule("ApplicationDown", "up{job=\"medianest-backend\"} == 0", scenario == Scenario::SeedDay),
            rule("HighErrorRate", "sum(rate(http_requests_total{status_code=~\"5..\"}[5m])) / sum(rate(http_requests_total[5m])) > 0.05", false),
        ],
        "interval": 15, "limit": 0, "evaluationTime": 0.000_83, "lastEvaluation": rfc3339_ago(4)
    }]})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate_inside_the_bucket_like_prometheus() {
        let fast = histogram_quantile(0.95, &backend::buckets(Scenario::Healthy));
        assert!((0.25..0.3).contains(&fast), "{fast}");
        let slow = histogram_quantile(0.95, &backend::buckets(Scenario::SlowP95));
        assert!(slow > 0.6, "{slow}");
        assert_eq!(histogram_quantile(1.0, &[0, 10, 10]), 0.01);
        assert_eq!(window("sum(increase(x_count{job=\"a\"}[10m]))"), 600.0);
    }
}
