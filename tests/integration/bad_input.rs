//! Targets that answer badly end in that check's `fail` or `error` with a
//! clear message: never a panic, a hang past the timeout, or memory growth.

use std::time::{Duration, Instant};

use crate::support::hostile::{Misbehaviour, start};
use crate::support::{bin, check, gate_file, json, output};

fn gate_for(kind_lines: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    gate_file(&format!(
        r#"schema_version: 1
id: T
name: hostile
targets: {{ svc: "http://127.0.0.1:1" }}
secrets: {{ token: "hostile-test-token" }}
requirements:
  - id: r
    name: r
    weight: 1
    checks:
{kind_lines}"#
    ))
}

fn run(url: &str, kind_lines: &str, timeout: &str) -> (i32, serde_json::Value, Duration) {
    let (_dir, path) = gate_for(kind_lines);
    let started = Instant::now();
    let (code, stdout, stderr) = output(
        bin()
            .args(["check", "--format", "json", "--timeout", timeout, "--gate"])
            .arg(&path)
            .arg("--target")
            .arg(format!("svc={url}")),
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    (code, json(&stdout), started.elapsed())
}

#[test]
fn gigabyte_metrics_body_is_capped() {
    let url = start(Misbehaviour::Endless { total: 1 << 30 });
    let (code, r, elapsed) = run(
        &url,
        "      - { id: m, kind: metrics_endpoint, target: svc, token: token, anonymous_status: [200] }\n",
        "20s",
    );
    assert_eq!(code, 1);
    let c = check(&r, "m");
    assert_eq!(c["status"], "fail", "{c}");
    assert!(c["message"].as_str().unwrap().contains("exceeds the 16 MiB cap"), "{c}");
    // Stopping at the cap, not reading the whole gigabyte.
    assert!(elapsed < Duration::from_secs(15), "took {elapsed:?}");
}

#[test]
fn truncated_json_is_an_error_not_a_hang() {
    let url = start(Misbehaviour::TruncatedJson);
    let (code, r, elapsed) = run(
        &url,
        "      - { id: j, kind: http, target: svc, path: /health, expect_json: { status: ok } }\n",
        "3s",
    );
    assert_eq!(code, 1);
    let c = check(&r, "j");
    assert!(matches!(c["status"].as_str(), Some("error") | Some("fail")), "{c}");
    assert!(!c["message"].as_str().unwrap().is_empty());
    assert!(elapsed < Duration::from_secs(5), "took {elapsed:?}");
}

#[test]
fn silent_host_costs_one_timeout() {
    let url = start(Misbehaviour::Silent);
    let checks = "      - { id: a, kind: http, target: svc, path: /a }\n      - { id: b, kind: http, target: svc, path: /b }\n      - { id: c, kind: metrics_endpoint, target: svc, token: token }\n";
    let (code, r, elapsed) = run(&url, checks, "1s");
    assert_eq!(code, 1);
    for id in ["a", "b", "c"] {
        let c = check(&r, id);
        assert_eq!(c["status"], "error", "{c}");
        assert!(c["message"].as_str().unwrap().contains("no answer within 1s"), "{c}");
    }
    let rcs = r["root_causes"].as_array().unwrap();
    assert_eq!(rcs.len(), 1, "{rcs:?}");
    assert_eq!(rcs[0]["key"], "timeout:svc");
    assert!(elapsed < Duration::from_millis(3000), "took {elapsed:?}");
}
