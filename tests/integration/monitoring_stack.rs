//! Gate G's advisory `monitoring-stack` requirement (`every-job-up`, the
//! all-jobs form of `prometheus_targets`) against a real monitoring stack:
//! the real Prometheus scraping the fixture backend and Debian's real
//! node_exporter and Pushgateway, all on free loopback ports. Only
//! `every-job-up` is run (`--only`), so the rest of Gate G's stack is absent.

use std::time::Duration;

use serde_json::Value;

use crate::support::backend::Backend;
use crate::support::daemon::Daemon;
use crate::support::exporters::{node_exporter, pushgateway};
use crate::support::prometheus::{PromConfig, Prometheus};
use crate::support::{TOKEN, check, check_json_args};

const JOB: &str = "medianest-backend";
const JOBS: [&str; 3] = [JOB, "node", "pushgateway"];

/// The backend and both exporters, scraped every second by one Prometheus.
struct MonitoringStack {
    prom: Prometheus,
    node: Option<Daemon>,
    _push: Daemon,
    _backend: Backend,
}

impl MonitoringStack {
    fn start() -> MonitoringStack {
        let backend = Backend::healthy();
        let node = node_exporter();
        let push = pushgateway();
        let prom = Prometheus::start(
            PromConfig::new(JOB, &backend.addr())
                .bearer(TOKEN)
                .extra_job("node", &node.addr.to_string())
                .extra_job("pushgateway", &push.addr.to_string()),
        );
        for job in JOBS {
            prom.wait_for_scrapes(job, 1, Duration::from_secs(30));
        }
        MonitoringStack {
            prom,
            node: Some(node),
            _push: push,
            _backend: backend,
        }
    }

    /// Gate G's `every-job-up` alone, against this Prometheus.
    fn every_job_up(&self) -> (i32, Value, String) {
        let prometheus = format!("prometheus={}", self.prom.url);
        let (code, report, stderr) = check_json_args(
            &["--only", "every-job-up", "--allow-partial", "--target", &prometheus],
            &[],
        );
        let c = check(&report, "every-job-up").clone();
        (code, c, stderr)
    }
}

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

#[test]
fn every_job_of_a_healthy_monitoring_stack_is_up() {
    let stack = MonitoringStack::start();
    let (code, c, stderr) = stack.every_job_up();
    assert_eq!(c["status"], "pass", "{c}\n{stderr}\n{}", stack.prom.log_tail());
    assert_eq!(
        code, 0,
        "the only requirement run passed, partial runs allowed: {stderr}"
    );
    let msg = text(&c["message"]);
    assert!(msg.starts_with("every job up: "), "{msg}");
    for job in JOBS {
        assert!(msg.contains(&format!("{job} 1/1")), "`{job} 1/1` in: {msg}");
        assert_eq!(
            c["evidence"]["jobs"][job],
            serde_json::json!({"up": 1, "total": 1}),
            "{c}"
        );
    }
    assert_eq!(c["evidence"]["jobs"].as_object().map(|j| j.len()), Some(3), "{c}");
}

#[test]
fn a_stopped_exporter_fails_every_job_up_naming_its_job_and_the_refused_scrape() {
    let mut stack = MonitoringStack::start();
    let node = stack.node.take().expect("node_exporter runs");
    let node_url = format!("http://{}/metrics", node.addr);
    drop(node);
    stack
        .prom
        .eventually("Prometheus sees node_exporter down", Duration::from_secs(30), || {
            let t = stack.prom.target("node");
            (t["health"] == "down" && text(&t["lastError"]).contains("connection refused")).then_some(())
        });

    let (code, c, stderr) = stack.every_job_up();
    assert_eq!(c["status"], "fail", "{c}\n{stderr}");
    // Weight 0 scores nothing; alone in the run it decides the verdict.
    assert_eq!(code, 1, "the only requirement run failed ({stderr})");
    let msg = text(&c["message"]);
    eprintln!(
        "every-job-up with node_exporter stopped: {msg}\ncause: {}",
        text(&c["cause"])
    );
    assert!(msg.starts_with("1 of 3 job(s) not healthy: "), "{msg}");
    assert!(
        msg.contains(&format!("{JOB} 1/1")) && msg.contains("pushgateway 1/1"),
        "{msg}"
    );
    assert!(
        msg.contains(&format!("node 0/1 (target {node_url} is down: ")) && msg.contains("connection refused"),
        "the job and lastError's reason: {msg}"
    );
    assert_eq!(
        c["evidence"]["jobs"]["node"],
        serde_json::json!({"up": 0, "total": 1}),
        "{c}"
    );
    assert!(text(&c["evidence"]["last_error"]).contains("connection refused"), "{c}");
    // The exporter is down, not the backend: the advice says which.
    let cause = text(&c["cause"]);
    assert!(
        cause.contains("job `node`") && cause.contains("connection refused"),
        "{cause}"
    );
    assert!(!cause.contains("backend"), "{cause}");
    assert!(text(&c["remediation"]).contains("start what job `node` scrapes"), "{c}");
}
