//! The gate's `warm_up:` traffic, through the real CLI: sent only with
//! `--synthetic`, counted as the server received it, rate-bounded, stopped
//! early against a refused target, and followed by one scrape interval read
//! from the real Prometheus.

use serde_json::Value;

use crate::support::hostile::{self, Misbehaviour, Route};
use crate::support::prometheus::{PromConfig, Prometheus};
use crate::support::{bin, check, check_json, closed_port, gate_file, output};

const EXPOSITION: &str = "# TYPE up_fixture gauge\nup_fixture 1\n";

/// A backend that answers 200 on the two health paths and serves a tiny
/// exposition, recording every request it gets.
fn backend() -> (String, hostile::Recorder) {
    hostile::start_on(
        "127.0.0.1",
        Misbehaviour::Routes(vec![
            Route::new("/health", "200 OK", "application/json", r#"{"status":"ok"}"#),
            Route::new("/api/health", "200 OK", "application/json", r#"{"status":"ok"}"#),
            Route::new("/metrics", "200 OK", "text/plain; version=0.0.4", EXPOSITION),
        ]),
    )
}

fn gate(backend: &str, prometheus: &str, warm_up: &str) -> String {
    format!(
        "schema_version: 1\nid: W\nname: warm-up\ntargets: {{backend: \"{backend}\", prometheus: \"{prometheus}\"}}\n\
         warm_up:\n{warm_up}\
         requirements:\n  - id: health\n    name: health\n    weight: 1\n    checks:\n\
         \x20     - {{id: health, kind: http, target: backend, path: /health}}\n"
    )
}

fn run(yaml: &str, extra: &[&str]) -> (i32, Value, String) {
    check_json(yaml, extra, &[])
}

/// The request lines (`GET /health HTTP/1.1`) the server received.
fn request_lines(rec: &hostile::Recorder) -> Vec<String> {
    rec.requests()
        .iter()
        .filter_map(|r| r.lines().next().map(str::to_string))
        .collect()
}

#[test]
fn warm_up_traffic_is_sent_only_with_synthetic_then_waits_one_scrape_interval() {
    let (url, rec) = backend();
    let addr = url.trim_start_matches("http://").to_string();
    let mut cfg = PromConfig::new("medianest-backend", &addr);
    cfg.scrape_interval = "2s".to_string();
    let prom = Prometheus::start(cfg);
    prom.wait_for_scrapes("medianest-backend", 1, std::time::Duration::from_secs(20));
    let yaml = gate(
        &url,
        &format!("http://{}", prom.addr()),
        "  target: backend\n  paths: [/health, /api/health]\n  requests: 20\n  concurrency: 3\n  rate: 100\n  prometheus: prometheus\n  job: medianest-backend\n",
    );
    let health_requests = |rec: &hostile::Recorder| {
        request_lines(rec)
            .iter()
            .filter(|l| l.starts_with("GET /health ") || l.starts_with("GET /api/health "))
            .count()
    };

    let (code, report, _) = run(&yaml, &[]);
    assert_eq!(code, 0, "{report:#}");
    assert!(
        report.get("warm_up").is_none(),
        "no warm-up without --synthetic: {report:#}"
    );
    assert_eq!(
        health_requests(&rec),
        1,
        "only the check's own request: {:#?}",
        request_lines(&rec)
    );

    let (code, report, stderr) = run(&yaml, &["--synthetic"]);
    assert_eq!(code, 0, "{report:#}\n{stderr}");
    let w = &report["warm_up"];
    assert_eq!(w["target"], "backend");
    assert_eq!(w["requests_planned"], 20);
    assert_eq!(w["requests_sent"], 20, "{w:#}");
    assert_eq!(w["answers"], serde_json::json!({"200": 20}), "{w:#}");
    assert_eq!(
        w["scrape_interval_ms"], 2000,
        "read from Prometheus' targets API: {w:#}"
    );
    assert!(w["waited_ms"].as_u64().unwrap_or_default() >= 2000, "{w:#}");
    // 20 requests at 100/s cannot take less than the 19 gaps between them.
    assert!(
        w["traffic_ms"].as_u64().unwrap_or_default() >= 190,
        "rate cap not held: {w:#}"
    );
    let summary = w["summary"].as_str().unwrap_or_default();
    assert!(
        summary.starts_with("sent 20 of 20 requests to `backend` (20 × 200)")
            && summary.contains("waited 2.2s (one scrape interval of job `medianest-backend`)"),
        "{summary}"
    );
    assert!(stderr.contains("warm-up: sending 20 requests to `backend`"), "{stderr}");
    // The server saw exactly the warm-up (split over both paths) plus the two checks' requests.
    let lines = request_lines(&rec);
    assert_eq!(health_requests(&rec), 1 + 20 + 1, "{lines:#?}");
    let api = lines.iter().filter(|l| l.starts_with("GET /api/health ")).count();
    assert_eq!(api, 10, "paths are requested in turn: {lines:#?}");

    // Every human format says what was sent.
    let (_dir, path) = gate_file(&yaml);
    for format in ["table", "markdown", "junit"] {
        let (_, out, _) = output(
            bin()
                .args(["check", "--no-progress", "--synthetic", "--format", format, "--gate"])
                .arg(&path),
        );
        assert!(out.contains("sent 20 of 20 requests to `backend`"), "{format}:\n{out}");
    }
}

#[test]
fn a_refused_warm_up_target_is_given_up_early_and_the_checks_still_run() {
    let port = closed_port();
    let yaml = gate(
        &format!("http://127.0.0.1:{port}"),
        &format!("http://127.0.0.1:{}", closed_port()),
        "  target: backend\n  paths: [/health]\n  requests: 150\n  rate: 1000\n  prometheus: prometheus\n  job: medianest-backend\n",
    );
    let (code, report, _) = run(&yaml, &["--synthetic"]);
    assert_eq!(code, 1, "{report:#}");
    let w = &report["warm_up"];
    // Ten unanswered in a row stop it; requests already in flight (at most
    // concurrency − 1 = 3 more) still finish.
    let sent = w["requests_sent"].as_u64().unwrap_or_default();
    assert!((10..=13).contains(&sent), "stops after 10 unanswered in a row: {w:#}");
    assert_eq!(w["answers"], serde_json::json!({"refused": sent}));
    assert!(
        w["summary"]
            .as_str()
            .unwrap_or_default()
            .contains("stopped after 10 requests in a row got no answer"),
        "{w:#}"
    );
    let warnings = report["warnings"].to_string();
    assert!(warnings.contains("warm-up: GET http://127.0.0.1:"), "{warnings}");
    assert!(
        warnings.contains("could not read the scrape interval of job `medianest-backend`"),
        "{warnings}"
    );
    assert_eq!(
        check(&report, "health")["status"],
        "error",
        "the check ran and judged: {report:#}"
    );
}

#[test]
fn gate_g_lists_its_warm_up_and_needs_synthetic_for_it() {
    let (code, stdout, stderr) = output(bin().args(["list"]));
    assert_eq!(code, 0, "{stderr}");
    // Wrapped to the width: compare the words.
    let words = stdout.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        words.contains(
            "Warm-up, sent only with --synthetic: 150 requests to `backend` (/health, /api/v1/health, /api/health), 4 at once, at most 50/s; then one scrape interval of job `medianest-backend` (from `prometheus`)"
        ),
        "{stdout}"
    );
}
