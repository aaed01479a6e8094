//! The capstone: the built-in Gate G, every requirement at once, against a
//! complete healthy stack. Real Prometheus (scraping the fixture backend with
//! its bearer token, Gate G's rules loaded, sending to the real
//! Alertmanager), real Alertmanager, the fixture backend with live traffic
//! and log shipping into the fixture Loki, the fixture Grafana running its
//! panels on both, the fixture Jaeger and real Docker containers. With
//! `--synthetic` every check passes and the synthetic parts leave their
//! evidence; without it they are skipped and nothing is written.

use std::time::Duration;

use serde_json::Value;

use crate::support::alertmanager::{Alertmanager, Sink};
use crate::support::backend::{Backend, Behaviour, LogShipping, Traffic};
use crate::support::docker::Containers;
use crate::support::grafana::{GRAFANA_TOKEN, Grafana};
use crate::support::jaeger::Jaeger;
use crate::support::loki::Loki;
use crate::support::prometheus::{PromConfig, Prometheus, default_rules};
use crate::support::{TOKEN, bin, check, json, output};

const JOB: &str = "medianest-backend";
const RECEIVER: &str = "medianest-oncall";
const HEALTH_PATHS: [&str; 3] = ["/health", "/api/v1/health", "/api/health"];

/// Every check of Gate G, in the gate's order.
const ALL_CHECKS: [&str; 22] = [
    "metrics-auth",
    "prometheus-targets",
    "grafana-api",
    "grafana-live-data",
    "grafana-container",
    "loki-logs",
    "health",
    "health-api-v1",
    "health-api",
    "p95-latency",
    "alert-rules",
    "alertmanager",
    "alert-delivery",
    "telemetry-roundtrip",
    "tracing-service",
    "every-job-up",
    "user-sessions-metric",
    "auth-attempts-metric",
    "media-requests-metric",
    "failed-auth-counted",
    "error-ratio",
    "prometheus-backend-network",
];

/// The checks that run only with `--synthetic`.
const SYNTHETIC: [&str; 2] = ["alert-delivery", "telemetry-roundtrip"];

/// Every part of the stack; dropping it stops them all.
struct FullStack {
    backend: Backend,
    prom: Prometheus,
    loki: Loki,
    grafana: Grafana,
    jaeger: String,
    _jaeger: tokio::sync::oneshot::Sender<()>,
    am: Alertmanager,
    _sink: Sink,
    containers: Containers,
}

impl FullStack {
    /// Starts the stack and waits until Prometheus has what the checks
    /// query: four backend samples (rate() and Grafana's range), three
    /// self-scrapes (`increase()` of the notifier's error counter), and the
    /// Alertmanager discovered as active.
    fn start() -> FullStack {
        let sink = Sink::start();
        let am = Alertmanager::routing_to(&sink, RECEIVER);
        let loki = Loki::start("retention-30d-enforced");
        let backend = Backend::start(Behaviour {
            traffic: Some(Traffic::healthy_business()),
            ship_logs: Some(LogShipping::to(&loki.url, Some(Duration::from_millis(300)))),
            ..Behaviour::default()
        });
        let prom = Prometheus::start(
            PromConfig::new(JOB, &backend.addr())
                .bearer(TOKEN)
                .rules(&default_rules())
                .alertmanager(&am.addr.to_string())
                .scrape_self(),
        );
        let grafana = Grafana::with_prometheus_and_loki("healthy", &prom, &loki);
        let (jaeger, jaeger_stop) = Jaeger {
            services: vec![JOB.to_string(), "jaeger-all-in-one".to_string()],
            has_traces: true,
            ..Jaeger::default()
        }
        .start();
        let containers = Containers::start();

        prom.eventually("four samples of http_requests_total", Duration::from_secs(60), || {
            prom.query_value(&format!(
                "min(count_over_time(http_requests_total{{job=\"{JOB}\"}}[5m]))"
            ))
            .filter(|n| *n >= 4.0)
        });
        prom.wait_for_scrapes("prometheus", 3, Duration::from_secs(30));
        prom.eventually(
            "Prometheus lists the Alertmanager as active",
            Duration::from_secs(30),
            || {
                let (status, body) = crate::support::daemon::get(prom.addr(), "/api/v1/alertmanagers").ok()?;
                let v: Value = serde_json::from_str(&body).ok()?;
                (status == 200
                    && v["data"]["activeAlertmanagers"]
                        .as_array()
                        .is_some_and(|a| !a.is_empty()))
                .then_some(())
            },
        );
        FullStack {
            backend,
            prom,
            loki,
            grafana,
            jaeger,
            _jaeger: jaeger_stop,
            am,
            _sink: sink,
            containers,
        }
    }

    /// Runs `check` of the built-in Gate G (no `--gate`), every part named
    /// through the variables the gate reads.
    fn check(&self, extra: &[&str]) -> (i32, Value, String) {
        let c = &self.containers;
        let (code, stdout, stderr) = output(
            bin()
                .args(["check", "--no-progress", "--format", "json"])
                .args(extra)
                .env("MEDIANEST_BACKEND_URL", &self.backend.url)
                .env("PROMETHEUS_URL", &self.prom.url)
                .env("GRAFANA_URL", &self.grafana.url)
                .env("LOKI_URL", &self.loki.url)
                .env("TRACING_URL", &self.jaeger)
                .env("ALERTMANAGER_URL", &self.am.url)
                .env("METRICS_TOKEN", TOKEN)
                .env("GRAFANA_TOKEN", GRAFANA_TOKEN)
                .env("ALERT_RECEIVER", RECEIVER)
                .env("GRAFANA_CONTAINER", &c.grafana.name)
                .env("PROMETHEUS_CONTAINER", &c.prometheus.name)
                .env("BACKEND_CONTAINER", &c.backend.name),
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(!stdout.is_empty(), "no report; stderr:\n{stderr}");
        (code, json(&stdout), stderr)
    }

    /// Requests the backend served on each health path, in [`HEALTH_PATHS`] order.
    fn health_served(&self) -> Vec<u64> {
        HEALTH_PATHS.iter().map(|p| self.backend.served(p)).collect()
    }

    /// Test alerts Alertmanager still lists.
    fn test_alerts(&self) -> Vec<Value> {
        self.am
            .alerts()
            .into_iter()
            .filter(|a| a["labels"]["alertname"] == "MedianestGateDeliveryTest")
            .collect()
    }
}

/// The ids of every check in the report, in report order.
fn check_ids(r: &Value) -> Vec<String> {
    r["requirements"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|q| q["checks"].as_array().into_iter().flatten())
        .filter_map(|c| c["id"].as_str().map(str::to_string))
        .collect()
}

/// Every requirement's status, by id.
fn requirement_statuses(r: &Value) -> Vec<(String, String)> {
    r["requirements"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|q| {
            (
                q["id"].as_str().unwrap_or_default().to_string(),
                q["status"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[test]
fn full_gate_g_with_synthetic_passes_every_check_on_a_healthy_stack() {
    let stack = FullStack::start();
    let before = stack.health_served();
    assert_eq!(before, [0, 0, 0], "nothing was sent to the health paths yet");

    let (code, r, stderr) = stack.check(&["--synthetic"]);
    assert_eq!(code, 0, "{stderr}\n{r:#}");
    assert_eq!(r["score"], 100.0, "{r:#}");
    assert_eq!(r["passed"], true, "{r:#}");
    assert_eq!(check_ids(&r), ALL_CHECKS, "the report holds every check of Gate G");
    let failing: Vec<String> = ALL_CHECKS
        .iter()
        .filter(|id| check(&r, id)["status"] != "pass")
        .map(|id| format!("{id}: {}", check(&r, id)))
        .collect();
    assert!(
        failing.is_empty(),
        "every check passes, required and advisory:\n{}\n{stderr}\nAlertmanager:\n{}\nPrometheus:\n{}",
        failing.join("\n"),
        stack.am.log_tail(),
        stack.prom.log_tail()
    );
    for (id, status) in requirement_statuses(&r) {
        assert_eq!(status, "pass", "requirement {id}");
    }

    // The warm-up: 150 requests to `backend`, all answered 200, then one
    // scrape interval (1 s) of the backend job.
    let w = &r["warm_up"];
    assert_eq!(w["target"], "backend", "{w:#}");
    assert_eq!(w["requests_planned"], 150, "{w:#}");
    assert_eq!(w["requests_sent"], 150, "{w:#}");
    assert_eq!(w["answers"], serde_json::json!({"200": 150}), "{w:#}");
    assert_eq!(w["scrape_interval_ms"], 1000, "read from Prometheus: {w:#}");
    let waited = w["waited_ms"].as_u64().unwrap_or_default();
    assert!((1000..3000).contains(&waited), "one scrape interval: {w:#}");
    let summary = w["summary"].as_str().unwrap_or_default();
    assert!(
        summary.starts_with("sent 150 of 150 requests to `backend` (150 × 200)")
            && summary.contains("(one scrape interval of job `medianest-backend`)"),
        "{summary}"
    );

    // The backend received them on its three health paths, in turn: 50
    // each, plus one per health check, plus the round trip's 5 on /health.
    assert_eq!(stack.health_served(), [50 + 1 + 5, 50 + 1, 50 + 1]);

    let delivery = check(&r, "alert-delivery");
    let e = &delivery["evidence"];
    let ms = e["delivery_ms"].as_u64();
    assert!(
        ms.is_some_and(|ms| ms < 8000),
        "delivery time in the evidence: {delivery}"
    );
    assert_eq!(e["expired"], true, "{delivery}");
    assert_eq!(e["routed_to"], serde_json::json!([RECEIVER]), "{delivery}");
    assert!(stack.test_alerts().is_empty(), "{:#?}", stack.am.alerts());

    let rt = check(&r, "telemetry-roundtrip");
    let e = &rt["evidence"];
    let log_lag = e["log_lag_ms"].as_u64().expect("log lag reported");
    let metrics_lag = e["metrics_lag_ms"].as_u64().expect("metrics lag reported");
    assert!(log_lag >= 300, "the shipper waits 300 ms: {e}");
    assert!(log_lag < 60_000 && metrics_lag < 60_000, "{e}");
    // Only the round trip's requests carried a correlation id, all the same one.
    let id = e["correlation_id"].as_str().unwrap_or_default();
    assert!(
        id.starts_with("mng-telemetry-roundtrip-"),
        "the id names the check: {e}"
    );
    assert_eq!(stack.backend.correlated(), vec![id.to_string(); 5]);
    assert!(
        stack.backend.push_errors().is_empty(),
        "{:?}",
        stack.backend.push_errors()
    );

    // The advisory series came from the backend's exposition, through Prometheus.
    let ratio = check(&r, "error-ratio");
    let values = ratio["evidence"]["values"].as_array().cloned().unwrap_or_default();
    assert_eq!(values.len(), 1, "one ratio: {ratio}");
    let v = &values[0]["value"];
    let v = v.as_f64().or_else(|| v.as_str().and_then(|s| s.parse::<f64>().ok()));
    assert!(
        v.is_some_and(|v| v > 0.0 && v < 0.01),
        "a real 5xx share under 1 %: {ratio}"
    );
    eprintln!(
        "full gate G: alert delivery {ms:?} ms, log lag {log_lag} ms, metrics lag {metrics_lag} ms, \
         5xx share {v:?}, warm-up waited {waited} ms"
    );
}

#[test]
fn full_gate_g_without_synthetic_passes_and_writes_nothing() {
    let stack = FullStack::start();
    let (code, r, stderr) = stack.check(&[]);
    assert_eq!(code, 0, "{stderr}\n{r:#}");
    assert_eq!(r["score"], 100.0, "{r:#}");
    assert_eq!(r["passed"], true, "{r:#}");
    assert_eq!(check_ids(&r), ALL_CHECKS, "the report holds every check of Gate G");
    for id in ALL_CHECKS {
        let c = check(&r, id);
        if SYNTHETIC.contains(&id) {
            assert_eq!(
                (c["status"].as_str(), c["message"].as_str()),
                (Some("skipped"), Some("needs --synthetic")),
                "{id}: {c}"
            );
        } else {
            assert_eq!(c["status"], "pass", "{id}: {c}\n{stderr}");
        }
    }
    assert!(r.get("warm_up").is_none(), "no warm-up without --synthetic: {r:#}");
    // Nothing written: no warm-up or round-trip traffic (only the health
    // checks' own requests), no correlated request, no test alert.
    assert_eq!(stack.health_served(), [1, 1, 1]);
    assert!(
        stack.backend.correlated().is_empty(),
        "{:?}",
        stack.backend.correlated()
    );
    assert!(
        !stack.loki.requests().iter().any(|q| q.path == "/loki/api/v1/push"),
        "nothing was pushed to Loki"
    );
    assert!(stack.am.alerts().is_empty(), "{:#?}", stack.am.alerts());
}
