//! The `tracing` kind against a fixture Jaeger and OpenTelemetry Collector
//! that follow the reference's envelopes (no Jaeger is packaged in Debian).

use crate::support::jaeger::Jaeger;
use crate::support::{bin, check, closed_port, gate_file, json, output};

/// Runs one `tracing` check with `fields` against `url`.
fn run(url: &str, fields: &str) -> serde_json::Value {
    let (_d, gate) = gate_file(&format!(
        "schema_version: 1\nid: T\nname: t\ntargets: {{tracing: \"{url}\"}}\nrequirements:\n  - id: tracing\n    name: tracing\n    weight: 1\n    checks:\n      - {{id: t, kind: tracing, target: tracing, {fields}}}\n"
    ));
    let (_, stdout, stderr) = output(
        bin()
            .args(["check", "--no-progress", "--format", "json", "--gate"])
            .arg(&gate),
    );
    assert!(!stdout.is_empty(), "{stderr}");
    check(&json(&stdout), "t").clone()
}

fn jaeger(services: &[&str], has_traces: bool) -> Jaeger {
    Jaeger {
        services: services.iter().map(|s| s.to_string()).collect(),
        has_traces,
        ..Jaeger::default()
    }
}

#[test]
fn a_listed_service_passes_and_a_recent_trace_is_required_with_lookback() {
    let (url, _stop) = jaeger(&["medianest-backend", "redis"], true).start();
    let c = run(&url, "service: medianest-backend");
    assert_eq!(c["status"], "pass", "{c}");
    let c = run(&url, "service: medianest-backend, lookback: 1h");
    assert_eq!(c["status"], "pass", "{c}");
    assert!(
        c["message"]
            .as_str()
            .unwrap_or_default()
            .contains("with a trace in the last 1h"),
        "{c}"
    );

    let (url, _stop) = jaeger(&["medianest-backend"], false).start();
    let c = run(&url, "service: medianest-backend, lookback: 15m");
    assert_eq!(c["status"], "fail", "{c}");
    assert!(
        c["message"]
            .as_str()
            .unwrap_or_default()
            .contains("no trace of `medianest-backend` in the last 15m"),
        "{c}"
    );
    assert!(
        c["reproduce"]
            .as_str()
            .unwrap_or_default()
            .contains("/api/traces?service=medianest-backend"),
        "{c}"
    );
}

#[test]
fn an_absent_service_or_an_empty_jaeger_fails_with_the_reason() {
    let (url, _stop) = jaeger(&["frontend", "redis"], true).start();
    let c = run(&url, "service: medianest-backend");
    assert_eq!(c["status"], "fail");
    assert!(
        c["message"]
            .as_str()
            .unwrap_or_default()
            .contains("is not among Jaeger's services (frontend, redis)"),
        "{c}"
    );
    let (url, _stop) = jaeger(&[], false).start();
    let c = run(&url, "service: medianest-backend");
    assert_eq!(c["status"], "fail");
    assert!(
        c["message"]
            .as_str()
            .unwrap_or_default()
            .contains("Jaeger lists no services"),
        "{c}"
    );
}

#[test]
fn html_where_jaeger_should_be_and_a_dead_port_are_errors() {
    let (url, _stop) = Jaeger {
        html: true,
        ..jaeger(&["x"], false)
    }
    .start();
    let c = run(&url, "service: x");
    assert_eq!(c["status"], "error", "{c}");
    assert!(c["message"].as_str().unwrap_or_default().contains("HTML page"), "{c}");
    let c = run(&format!("http://127.0.0.1:{}", closed_port()), "service: x");
    assert_eq!(c["status"], "error");
    assert_eq!(c["evidence"]["error"], "refused", "{c}");
}

#[test]
fn the_collector_health_endpoint_decides_for_otel() {
    let (url, _stop) = Jaeger::default().start();
    let c = run(&url, "backend: otel_collector");
    assert_eq!(c["status"], "pass", "{c}");
    assert!(
        c["message"].as_str().unwrap_or_default().contains("Server available"),
        "{c}"
    );
    let (url, _stop) = Jaeger {
        collector_down: true,
        ..Jaeger::default()
    }
    .start();
    let c = run(&url, "backend: otel_collector");
    assert_eq!(c["status"], "fail", "{c}");
    assert!(
        c["message"]
            .as_str()
            .unwrap_or_default()
            .contains("Server not available"),
        "{c}"
    );
}
