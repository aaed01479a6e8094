//! `check` against the fixture backend: the `metrics-endpoint` and
//! `health-checks` requirements of Gate G in the situations people meet.

use std::time::{Duration, Instant};

use crate::support::backend::{Backend, Endpoint};
use crate::support::{TOKEN, check, check_backend, closed_port, json, output, read_fixture};

#[test]
fn healthy_backend_passes_with_full_score() {
    let backend = Backend::healthy();
    let (code, stdout, stderr) = output(check_backend(&backend.url).args(["--format", "json"]));
    assert_eq!(code, 0, "stderr: {stderr}\nstdout: {stdout}");
    let r = json(&stdout);
    assert_eq!(r["passed"], true);
    assert_eq!(r["score"], 100.0);
    assert_eq!(r["verdict"], "pass");
    assert_eq!(r["schema_version"], 1);
    assert!(r["blockers"].as_array().unwrap().is_empty());
    assert!(r["root_causes"].as_array().unwrap().is_empty());
    let m = check(&r, "metrics-auth");
    assert_eq!(m["status"], "pass");
    assert_eq!(m["evidence"]["anonymous_status"], 401);
    assert_eq!(
        m["evidence"]["families_found"]["http_request_duration_seconds"],
        "histogram"
    );
    // The token was actually sent, as a bearer token.
    assert!(backend.auth_headers().iter().any(|h| h == &format!("Bearer {TOKEN}")));
}

#[test]
fn metrics_served_without_auth_is_a_security_blocker() {
    let backend = Backend::healthy();
    backend.set(|b| b.token = None);
    let (code, stdout, _) = output(check_backend(&backend.url).args(["--format", "json"]));
    assert_eq!(code, 1);
    let r = json(&stdout);
    assert_eq!(r["passed"], false);
    let m = check(&r, "metrics-auth");
    assert_eq!(m["status"], "fail");
    assert_eq!(m["security"], true);
    assert!(m["message"].as_str().unwrap().contains("without authentication"));
    let first = &r["blockers"][0];
    assert_eq!(first["check"], "metrics-auth");
    assert_eq!(first["severity"], "critical");
    assert_eq!(first["security"], true);
    assert!(first["remediation"].as_str().unwrap().contains("Bearer $METRICS_TOKEN"));
    // Health checks still pass; the metrics requirement (25 of 35) is lost.
    assert_eq!(r["score"], 28.6);
    assert_eq!(r["root_causes"][0]["score_impact"], 71.4);
}

#[test]
fn backend_refusing_connections_is_one_root_cause() {
    let url = format!("http://127.0.0.1:{}", closed_port());
    let started = Instant::now();
    let (code, stdout, _) = output(check_backend(&url).args(["--format", "json"]));
    assert_eq!(code, 1);
    let r = json(&stdout);
    for id in ["metrics-auth", "health", "health-api-v1", "health-api"] {
        let c = check(&r, id);
        assert_eq!(c["status"], "error", "{id}");
        assert_eq!(c["evidence"]["error"], "refused", "{id}");
    }
    let rcs = r["root_causes"].as_array().unwrap();
    assert_eq!(rcs.len(), 1, "one root cause for the whole backend: {rcs:?}");
    assert_eq!(rcs[0]["key"], "unreachable:backend");
    assert_eq!(rcs[0]["checks"].as_array().unwrap().len(), 4);
    assert_eq!(rcs[0]["score_impact"], 100.0);
    assert!(rcs[0]["summary"].as_str().unwrap().contains("refused the connection"));
    assert_eq!(r["fix_path"]["steps"].as_array().unwrap().len(), 1);
    assert_eq!(r["fix_path"]["score_after"], 100.0);
    // A refused connection is answered at once, not after a timeout.
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn slow_health_endpoints_are_errors_at_the_timeout_in_parallel() {
    let backend = Backend::healthy();
    backend.set(|b| {
        for ep in b.health.values_mut() {
            *ep = ep.clone().delayed(Duration::from_secs(30));
        }
    });
    let started = Instant::now();
    let (code, stdout, _) = output(check_backend(&backend.url).args(["--format", "json", "--timeout", "2s"]));
    let elapsed = started.elapsed();
    assert_eq!(code, 1);
    let r = json(&stdout);
    for id in ["health", "health-api-v1", "health-api"] {
        let c = check(&r, id);
        // No answer is no measurement: `error`, even with a latency limit.
        assert_eq!(c["status"], "error", "{id}: {c}");
        assert!(c["message"].as_str().unwrap().contains("no answer within 2s"), "{c}");
    }
    assert_eq!(check(&r, "metrics-auth")["status"], "pass");
    // Three 2 s timeouts in parallel cost about one: sequential would be 6 s.
    assert!(elapsed < Duration::from_millis(5000), "took {elapsed:?}");
    assert!(elapsed >= Duration::from_millis(1900), "took {elapsed:?}");
}

#[test]
fn rejected_token_is_diagnosed_as_credentials() {
    let backend = Backend::healthy();
    backend.set(|b| b.token = Some("another-token-entirely".into()));
    let (code, stdout, _) = output(check_backend(&backend.url).args(["--format", "json"]));
    assert_eq!(code, 1);
    let m = check(&json(&stdout), "metrics-auth").clone();
    assert_eq!(m["status"], "fail");
    assert!(m["message"].as_str().unwrap().contains("token was rejected"), "{m}");
    assert_eq!(m["evidence"]["token_status"], 401);
}

#[test]
fn missing_histogram_family_fails_with_its_name() {
    let backend = Backend::healthy();
    backend.set(|b| b.metrics_body = read_fixture("backend/metrics-no-histogram.prom"));
    let (_, stdout, _) = output(check_backend(&backend.url).args(["--format", "json"]));
    let m = check(&json(&stdout), "metrics-auth").clone();
    assert_eq!(m["status"], "fail");
    assert_eq!(m["evidence"]["families_missing"][0], "http_request_duration_seconds");
}

#[test]
fn broken_histogram_is_reported_with_its_line() {
    let backend = Backend::healthy();
    backend.set(|b| b.metrics_body = read_fixture("backend/metrics-broken-histogram.prom"));
    let (_, stdout, _) = output(check_backend(&backend.url).args(["--format", "json"]));
    let m = check(&json(&stdout), "metrics-auth").clone();
    assert_eq!(m["status"], "fail");
    let msg = m["message"].as_str().unwrap();
    assert!(msg.contains("cumulative") || msg.contains("_count"), "{msg}");
}

#[test]
fn malformed_exposition_names_line_and_column() {
    let backend = Backend::healthy();
    backend.set(|b| b.metrics_body = read_fixture("backend/metrics-malformed.prom"));
    let (_, stdout, _) = output(check_backend(&backend.url).args(["--format", "json"]));
    let m = check(&json(&stdout), "metrics-auth").clone();
    assert_eq!(m["status"], "fail");
    assert_eq!(m["evidence"]["line"], 5);
    assert!(
        m["message"]
            .as_str()
            .unwrap()
            .starts_with("malformed exposition (text 0.0.4) at line 5:"),
        "{m}"
    );
}

#[test]
fn openmetrics_exposition_is_parsed_by_content_type() {
    let backend = Backend::healthy();
    backend.set(|b| {
        b.metrics_body = read_fixture("backend/metrics-openmetrics.txt");
        b.metrics_content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8".into();
    });
    let (code, stdout, _) = output(check_backend(&backend.url).args(["--format", "json"]));
    let m = check(&json(&stdout), "metrics-auth").clone();
    assert_eq!(m["status"], "pass", "{m}");
    assert_eq!(m["evidence"]["format"], "openmetrics");
    assert_eq!(code, 0);
}

/// Runs a one-check gate: `GET /health` on `backend` with `expect_json`
/// (a YAML flow mapping); returns the exit code and that check's result.
fn json_check(backend: &Backend, expect_json: &str) -> (i32, serde_json::Value) {
    let gate = format!(
        "schema_version: 1\nid: T\nname: json field\ntargets: {{ backend: \"http://127.0.0.1:1\" }}\n\
         requirements:\n  - id: health\n    name: health\n    weight: 1\n    checks:\n\
         \x20     - {{ id: health-json, kind: http, target: backend, path: /health, expect_json: {expect_json} }}\n"
    );
    let (_dir, path) = crate::support::gate_file(&gate);
    let (code, stdout, _) = output(
        crate::support::bin()
            .args(["check", "--format", "json", "--gate"])
            .arg(&path)
            .arg("--target")
            .arg(format!("backend={}", backend.url)),
    );
    (code, check(&json(&stdout), "health-json").clone())
}

#[test]
fn html_where_json_was_expected_fails_clearly() {
    let backend = Backend::healthy();
    backend.set(|b| {
        let mut ep = Endpoint::json(200, "<!DOCTYPE html><html><body>Login</body></html>");
        ep.content_type = "text/html".into();
        b.health.insert("/health".into(), ep);
    });
    let (code, c) = json_check(&backend, "{ status: ok }");
    assert_eq!(code, 1);
    assert_eq!(c["status"], "fail");
    assert!(c["message"].as_str().unwrap().contains("HTML page"), "{c}");
}

#[test]
fn json_field_mismatch_names_the_field() {
    let backend = Backend::healthy();
    backend.set(|b| {
        b.health.insert(
            "/health".into(),
            Endpoint::json(200, r#"{"status":"degraded","db":{"up":false}}"#),
        );
    });
    let (_, c) = json_check(&backend, "{ status: ok, db.up: true }");
    assert_eq!(c["status"], "fail");
    let msg = c["message"].as_str().unwrap();
    assert!(msg.contains("`status` is \"degraded\", expected \"ok\""), "{msg}");
    assert!(msg.contains("`db.up` is false, expected true"), "{msg}");
}

#[test]
fn wrong_status_is_diagnosed_per_endpoint() {
    let backend = Backend::healthy();
    backend.set(|b| {
        b.health
            .insert("/api/health".into(), Endpoint::json(503, r#"{"status":"down"}"#));
        b.health.remove("/api/v1/health");
    });
    let (code, stdout, _) = output(check_backend(&backend.url).args(["--format", "json"]));
    assert_eq!(code, 1);
    let r = json(&stdout);
    let c = check(&r, "health-api");
    assert!(
        c["message"].as_str().unwrap().contains("503 Service Unavailable"),
        "{c}"
    );
    let c = check(&r, "health-api-v1");
    assert!(c["remediation"].as_str().unwrap().contains("no route"), "{c}");
    assert_eq!(check(&r, "health")["status"], "pass");
    // 25 + 10 × 1/3 of 35 → 81.0: under the threshold.
    assert_eq!(r["score"], 81.0);
}

#[test]
fn secret_never_appears_in_any_format_or_log() {
    let backend = Backend::healthy();
    backend.set(|b| b.token = None); // the security failure path prints the most
    for format in ["table", "json", "markdown", "junit"] {
        let (_, stdout, stderr) = output(check_backend(&backend.url).args(["--format", format, "-v"]));
        assert!(!stdout.contains(TOKEN), "{format} stdout leaks the token");
        assert!(!stderr.contains(TOKEN), "{format} stderr leaks the token");
        assert!(
            stdout.contains("$METRICS_TOKEN") || format == "junit",
            "{format} should show the placeholder"
        );
    }
    // Also when the backend is down and on a rejected token.
    let url = format!("http://127.0.0.1:{}", closed_port());
    let dir = tempfile::tempdir().unwrap();
    let (_, stdout, stderr) = output(
        check_backend(&url)
            .args(["--format", "markdown", "-vv", "--report"])
            .arg(format!("json={}", dir.path().join("r.json").display()))
            .arg("--report")
            .arg(format!("junit={}", dir.path().join("r.xml").display())),
    );
    assert!(!stdout.contains(TOKEN) && !stderr.contains(TOKEN));
    for f in ["r.json", "r.xml"] {
        let text = std::fs::read_to_string(dir.path().join(f)).unwrap();
        assert!(!text.contains(TOKEN), "{f} leaks the token");
    }
}

#[test]
fn several_report_artifacts_come_from_one_run() {
    let backend = Backend::healthy();
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout, _) = output(
        check_backend(&backend.url)
            .args(["--format", "json"])
            .arg("--report")
            .arg(format!("markdown={}", dir.path().join("r.md").display()))
            .arg("--report")
            .arg(format!("junit={}", dir.path().join("r.xml").display())),
    );
    assert_eq!(code, 0);
    let r = json(&stdout);
    let md = std::fs::read_to_string(dir.path().join("r.md")).unwrap();
    assert!(md.contains("✅ PASSED") && md.contains("**Score: 100.0%**"));
    let xml = std::fs::read_to_string(dir.path().join("r.xml")).unwrap();
    assert!(xml.contains(r#"<testcase name="metrics-auth""#));
    // Every check of Gate G is a test case; those outside --only are skipped.
    assert_eq!(xml.matches("<testcase ").count(), 22);
    assert_eq!(xml.matches("<skipped").count(), 18);
    assert_eq!(r["counts"]["pass"], 4);
}

#[test]
fn only_and_skip_leave_checks_out_of_the_score() {
    let backend = Backend::healthy();
    backend.set(|b| b.token = None);
    let (code, stdout, _) = output(check_backend(&backend.url).args(["--format", "json", "--skip", "metrics-auth"]));
    let r = json(&stdout);
    assert_eq!(check(&r, "metrics-auth")["status"], "skipped");
    assert_eq!(r["requirements"][0]["status"], "skipped");
    assert_eq!(r["score"], 100.0);
    assert_eq!(code, 0);
}

#[test]
fn min_score_flag_overrides_the_gate_threshold() {
    let backend = Backend::healthy();
    backend.set(|b| {
        b.health.insert("/api/health".into(), Endpoint::json(500, "{}"));
    });
    // 81.0: blocked at 85, and still blocked at 80 because health-checks is required.
    let (code, stdout, _) = output(check_backend(&backend.url).args(["--format", "json", "--min-score", "80"]));
    let r = json(&stdout);
    assert_eq!(r["gate"]["threshold"], 80.0);
    assert_eq!(code, 1);
    assert!(
        r["summary"]
            .as_str()
            .unwrap()
            .contains("required requirements failing: health-checks")
    );
}

#[test]
fn wait_retries_until_the_gate_passes() {
    let backend = Backend::healthy();
    backend.set(|b| {
        b.health.insert("/health".into(), Endpoint::json(503, "{}"));
    });
    let url = backend.url.clone();
    let flip = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(700));
        backend.set(|b| {
            b.health.insert("/health".into(), Endpoint::json(200, "{}"));
        });
        backend
    });
    let (code, stdout, _) =
        output(check_backend(&url).args(["--format", "json", "--wait", "20s", "--interval", "300ms"]));
    let _backend = flip.join().unwrap();
    assert_eq!(code, 0, "{stdout}");
    let r = json(&stdout);
    assert!(r["attempts"].as_u64().unwrap() >= 2);
    let h = check(&r, "health");
    assert_eq!(h["passed_after_retry"], true);
    assert_eq!(check(&r, "health-api")["passed_after_retry"], false);
}
