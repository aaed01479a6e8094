//! `medianest-gate demo`: the built-in Gate G against the simulated stack
//! the binary starts in-process, for each scenario, through the real CLI.
//! `DOCKER_HOST` and the endpoint variables point nowhere real here, so a
//! demo that read them instead of its own stack would fail.

use serde_json::Value;

use crate::support::{bin, check, json, output};

/// `demo ARGS --no-progress` with the machine's real endpoints set to
/// addresses that answer nothing: (exit code, stdout, stderr).
fn demo(args: &[&str]) -> (i32, String, String) {
    let mut cmd = bin();
    cmd.arg("demo")
        .args(args)
        .arg("--no-progress")
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .env("MEDIANEST_BACKEND_URL", "http://127.0.0.1:9")
        .env("METRICS_TOKEN", "not-the-demo-token");
    output(&mut cmd)
}

fn demo_json(args: &[&str]) -> (i32, Value, String) {
    let mut all = vec!["--format", "json"];
    all.extend_from_slice(args);
    let (code, stdout, stderr) = demo(&all);
    assert!(!stderr.contains("panicked"), "{stderr}");
    (code, json(&stdout), stderr)
}

fn requirement<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["requirements"]
        .as_array()
        .and_then(|r| r.iter().find(|q| q["id"] == id))
        .unwrap_or_else(|| panic!("no requirement `{id}`"))
}

/// Ids of the requirements that did not pass (skipped ones aside).
fn failing_requirements(report: &Value) -> Vec<String> {
    report["requirements"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|q| q["status"] == "fail")
        .filter_map(|q| q["id"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn the_seed_day_is_blocked_by_the_backend_down_and_grafana_in_a_restart_loop() {
    let (code, report, stderr) = demo_json(&[]);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(report["verdict"], "blocked");
    assert!(
        stderr.contains("SIMULATED STACK") && stderr.contains("seed-day"),
        "{stderr}"
    );
    assert!(report["simulated"].as_str().is_some_and(|s| s.contains("seed-day")));

    let causes = report["root_causes"].as_array().expect("root causes");
    let first = causes[0]["summary"].as_str().unwrap_or_default();
    assert!(first.contains("backend") && first.contains("refused"), "{first}");
    for id in [
        "metrics-auth",
        "prometheus-targets",
        "health",
        "health-api-v1",
        "health-api",
    ] {
        assert!(
            causes[0]["checks"]
                .as_array()
                .is_some_and(|c| c.iter().any(|x| x == id)),
            "{id} not under the backend's root cause: {}",
            causes[0]
        );
    }
    let second = causes[1]["summary"].as_str().unwrap_or_default();
    assert!(
        second.contains("medianest-grafana") && second.contains("restart loop") && second.contains("not writable"),
        "{second}"
    );
    // Fixing those two is the whole fix path, in that order.
    let steps = report["fix_path"]["steps"].as_array().expect("fix path");
    assert_eq!(steps.len(), 2, "{steps:?}");
    assert_eq!(steps[0]["summary"], causes[0]["summary"]);
    assert_eq!(steps[1]["summary"], causes[1]["summary"]);

    let grafana = check(&report, "grafana-container");
    assert_eq!(grafana["evidence"]["status"], "restarting");
    assert!(
        grafana["remediation"]
            .as_str()
            .is_some_and(|r| r.contains("chown -R 472:0"))
    );
    // The scrape error is Prometheus' own wording for a refused port.
    let scrape = check(&report, "prometheus-targets");
    assert!(
        scrape["evidence"]["last_error"]
            .as_str()
            .is_some_and(|e| e.ends_with("connect: connection refused")),
        "{scrape}"
    );
    // The simulated token is a secret like any other.
    assert!(
        check(&report, "metrics-auth")["reproduce"]
            .as_str()
            .is_some_and(|r| r.contains("Bearer $METRICS_TOKEN")),
        "{}",
        check(&report, "metrics-auth")
    );
}

#[test]
fn the_healthy_stack_passes_every_check_it_runs() {
    let (code, report, stderr) = demo_json(&["healthy"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(report["passed"], true);
    assert_eq!(report["score"], 100.0);
    for q in report["requirements"].as_array().expect("requirements") {
        for c in q["checks"].as_array().expect("checks") {
            assert!(c["status"] == "pass" || c["status"] == "skipped", "{c}");
        }
    }
    // Only the synthetic checks are skipped (no --synthetic).
    assert_eq!(check(&report, "alert-delivery")["status"], "skipped");
}

#[test]
fn each_broken_scenario_fails_its_own_requirement() {
    for (scenario, requirement_id, check_id, says) in [
        ("slow-p95", "performance-sla", "p95-latency", "over the 600 ms limit"),
        (
            "scrape-401",
            "prometheus-scrape",
            "prometheus-targets",
            "401 Unauthorized",
        ),
        (
            "metrics-open",
            "metrics-endpoint",
            "metrics-auth",
            "without authentication",
        ),
    ] {
        let (code, report, stderr) = demo_json(&[scenario]);
        assert_eq!(code, 1, "{scenario}: {stderr}");
        assert!(
            failing_requirements(&report).contains(&requirement_id.to_string()),
            "{scenario}: {:?}",
            failing_requirements(&report)
        );
        let c = check(&report, check_id);
        assert_eq!(c["status"], "fail", "{scenario}: {c}");
        assert!(
            c["message"].as_str().is_some_and(|m| m.contains(says)),
            "{scenario}: {c}"
        );
        assert_eq!(
            report["root_causes"][0]["checks"][0], check_id,
            "{scenario}: the leading root cause is the scenario's"
        );
    }
}

#[test]
fn unenforced_loki_retention_passes_with_its_warning() {
    // The loki kind passes a period that is set but not enforced (nothing is
    // deleted) and says so: the scenario shows that warning.
    let (code, report, stderr) = demo_json(&["loki-retention"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(requirement(&report, "log-aggregation")["status"], "pass");
    assert!(
        report["warnings"].as_array().is_some_and(|w| w
            .iter()
            .any(|w| w.as_str().is_some_and(|w| w.contains("retention_enabled is false")))),
        "{}",
        report["warnings"]
    );
}

#[test]
fn list_names_every_scenario_with_a_line_each() {
    let (code, stdout, stderr) = demo(&["--list"]);
    assert_eq!(code, 0, "{stderr}");
    let names: Vec<&str> = stdout.lines().filter_map(|l| l.split_whitespace().next()).collect();
    assert_eq!(
        names,
        [
            "seed-day",
            "healthy",
            "slow-p95",
            "scrape-401",
            "metrics-open",
            "loki-retention"
        ]
    );
    assert!(stdout.lines().all(|l| l.len() > 40), "{stdout}");
    assert!(
        stdout
            .lines()
            .next()
            .is_some_and(|l| l.contains("2025-09-12") && l.contains("default"))
    );
    assert!(!stderr.contains("SIMULATED"), "--list starts nothing: {stderr}");
}

#[test]
fn an_unknown_scenario_is_a_usage_error_with_a_suggestion() {
    let (code, stdout, stderr) = demo(&["slow-p59"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(stderr.contains("did you mean `slow-p95`"), "{stderr}");
    assert!(!stderr.contains("SIMULATED"), "nothing was started: {stderr}");
}

#[test]
fn check_flags_apply_and_every_format_says_the_stack_is_simulated() {
    let dir = tempfile::tempdir().expect("temp dir");
    let md = dir.path().join("report.md");
    let report_arg = format!("markdown={}", md.display());
    let (code, stdout, stderr) = demo(&[
        "healthy",
        "--only",
        "health-checks",
        "--allow-partial",
        "--report",
        &report_arg,
    ]);
    assert_eq!(code, 0, "{stderr}");
    let first = stdout.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("SIMULATED STACK:"),
        "a line before the table: {stdout}"
    );
    assert!(stdout.contains("PASSED (PARTIAL)"), "{stdout}");
    let markdown = std::fs::read_to_string(&md).expect("the --report file");
    assert!(markdown.contains("**Simulated stack:**"), "{markdown}");

    let (_, report, _) = demo_json(&["healthy", "--only", "health-checks", "--allow-partial"]);
    for q in report["requirements"].as_array().expect("requirements") {
        let want = if q["id"] == "health-checks" { "pass" } else { "skipped" };
        assert_eq!(q["status"], want, "{}", q["id"]);
    }
}
