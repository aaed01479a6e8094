//! The JUnit report as CI systems read it: valid by the facts of Jenkins'
//! `junit-10.xsd`, and counted by junitparser (a real JUnit reader from
//! PyPI) the way the gate meant it: a passing gate has no failures and no
//! errors even when advisory checks fail, skipped checks are `skipped`, and
//! a reproduce command's tab comes back as a tab.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::support::backend::Backend;
use crate::support::junit_schema::{assert_valid, violations};
use crate::support::{bin, closed_port, docker, gate_file, output};

/// Runs `check` on `yaml` with a JUnit `--report`; returns (exit code, the XML).
fn junit(yaml: &str, extra: &[&str]) -> (i32, String) {
    let (dir, gate) = gate_file(yaml);
    let path = dir.path().join("junit.xml");
    let (code, _, stderr) = output(
        bin()
            .args(["check", "--no-progress", "--format", "json", "--gate"])
            .arg(&gate)
            .arg("--report")
            .arg(format!("junit={}", path.display()))
            .args(extra),
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    let xml = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("no JUnit report ({e}); stderr:\n{stderr}"));
    (code, xml)
}

/// What junitparser reads from `xml`.
fn junitparser(xml: &str) -> Value {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("junit.xml");
    std::fs::write(&file, xml).expect("write the XML");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/integration/support/junit_counts.py");
    let out = Command::new("python3")
        .arg(&script)
        .arg(&file)
        .output()
        .expect("python3 runs (./scripts/test installs it and junitparser)");
    assert!(
        out.status.success(),
        "junitparser could not read the report (./scripts/test installs it: pip install --user junitparser):\n{}\n{xml}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the script prints JSON")
}

/// junitparser's counts, declared and recomputed from the cases, which must agree.
fn counts(read: &Value) -> [u64; 4] {
    let get =
        |which: &str| ["tests", "failures", "errors", "skipped"].map(|k| read[which][k].as_u64().expect("a count"));
    assert_eq!(
        get("declared"),
        get("recomputed"),
        "declared counts disagree with the cases: {read}"
    );
    get("declared")
}

fn case<'a>(read: &'a Value, name: &str) -> &'a Value {
    read["cases"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no case `{name}`: {read}"))
}

/// A required requirement the fixture backend passes, and an advisory one
/// (weight 0) whose checks fail: one refused, one naming no container on
/// the real Docker engine, whose reproduce command holds a tab.
fn passing_gate_with_advisory_failures(backend: &str, container: &str) -> String {
    format!(
        r#"schema_version: 1
id: J
name: junit readers
targets:
  backend: "{backend}"
  dead: "http://127.0.0.1:{dead}"
  docker: "unix:///var/run/docker.sock"
requirements:
  - id: api
    name: api
    weight: 10
    required: true
    checks:
      - {{ id: health, kind: http, target: backend, path: /health }}
      - {{ id: health-v1, kind: http, target: backend, path: /api/v1/health }}
  - id: extra
    name: extra (advisory)
    weight: 0
    checks:
      - {{ id: extra-dead, kind: http, target: dead }}
      - {{ id: extra-container, kind: docker_container, target: docker, container: "{container}" }}
"#,
        dead = closed_port()
    )
}

/// One requirement with a failing, an erroring and a blocked check beside a passing one.
fn failing_gate(backend: &str) -> String {
    format!(
        r#"schema_version: 1
id: F
name: junit readers
targets: {{ backend: "{backend}", dead: "http://127.0.0.1:{dead}" }}
requirements:
  - id: api
    name: api
    weight: 10
    required: true
    checks:
      - {{ id: health, kind: http, target: backend, path: /health }}
      - {{ id: missing, kind: http, target: backend, path: /no-such-page }}
      - {{ id: dead, kind: http, target: dead }}
      - {{ id: after-dead, kind: http, target: backend, path: /health, needs: [dead] }}
"#,
        dead = closed_port()
    )
}

#[test]
fn a_passing_gate_with_failing_advisory_checks_has_no_failures_and_keeps_the_findings() {
    docker::require_daemon();
    let backend = Backend::healthy();
    let container = docker::unique("absent");
    let (code, xml) = junit(&passing_gate_with_advisory_failures(&backend.url, &container), &[]);
    assert_eq!(code, 0, "{xml}");
    assert_valid(&xml);
    let read = junitparser(&xml);
    assert_eq!(counts(&read), [4, 0, 0, 0], "{read}");
    for name in ["extra-dead", "extra-container"] {
        let c = case(&read, name);
        assert_eq!(c["passed"], true, "{c}");
        let out = c["system_out"].as_str().unwrap_or_default();
        assert!(
            out.starts_with("does not block the gate (advisory, weight 0): "),
            "{out}"
        );
    }
    let out = case(&read, "extra-container")["system_out"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(out.contains("FAIL: no container named"), "{out}");
    let reproduce = out
        .lines()
        .find_map(|l| l.strip_prefix("reproduce: "))
        .expect("a reproduce line");
    assert_eq!(
        reproduce, "docker ps -a --format '{{.Names}}\t{{.Status}}'",
        "the tab must come back"
    );
    let doc = roxmltree::Document::parse(&xml).expect("XML");
    let suite = doc
        .descendants()
        .find(|n| n.attribute("name") == Some("extra: extra (advisory)"))
        .expect("the advisory suite");
    let property = |name: &str| {
        suite
            .descendants()
            .find(|n| n.has_tag_name("property") && n.attribute("name") == Some(name))
            .and_then(|n| n.attribute("value"))
    };
    assert_eq!(property("advisory"), Some("true"));
    assert_eq!(property("advisory_findings"), Some("2"));
}

#[test]
fn a_failing_gate_counts_its_failure_and_its_errors() {
    let backend = Backend::healthy();
    let (code, xml) = junit(&failing_gate(&backend.url), &[]);
    assert_eq!(code, 1, "{xml}");
    assert_valid(&xml);
    let read = junitparser(&xml);
    // `missing` fails; `dead` (refused) and `after-dead` (blocked) are errors.
    assert_eq!(counts(&read), [4, 1, 2, 0], "{read}");
    assert_eq!(case(&read, "missing")["results"], serde_json::json!(["failure"]));
    assert_eq!(case(&read, "dead")["results"], serde_json::json!(["error"]));
    assert_eq!(case(&read, "after-dead")["results"], serde_json::json!(["error"]));
    assert_eq!(case(&read, "health")["passed"], true);
}

#[test]
fn skipped_checks_are_skipped_with_their_reason_and_counted_in_skipped() {
    let backend = Backend::healthy();
    let (code, xml) = junit(
        &failing_gate(&backend.url),
        &[
            "--skip",
            "missing",
            "--skip",
            "dead",
            "--skip",
            "after-dead",
            "--allow-partial",
        ],
    );
    assert_eq!(code, 0, "{xml}");
    assert_valid(&xml);
    assert!(!xml.contains("disabled="), "junit-10.xsd has no `disabled`: {xml}");
    let read = junitparser(&xml);
    assert_eq!(counts(&read), [4, 0, 0, 3], "{read}");
    let skipped = case(&read, "missing");
    assert_eq!(skipped["results"], serde_json::json!(["skipped"]));
    assert_eq!(skipped["messages"], serde_json::json!(["skipped by --only/--skip"]));
}

#[test]
fn the_junit_facts_reject_what_quick_junit_writes_by_itself() {
    // The checker can fail: quick-junit's own `disabled=`, an attribute
    // junit-10.xsd lacks on a test case, a missing required one, a bad time.
    let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="x" tests="1" failures="0" errors="0" time="1:00">
    <testsuite name="s" tests="1" disabled="0" errors="0">
        <testcase name="c" assertions="1"><properties/>text</testcase>
    </testsuite>
</testsuites>"#;
    let found = violations(xml).join("\n");
    for want in [
        "<testsuites time=\"1:00\"> is not a SUREFIRE_TIME",
        "<testsuite> may not carry `disabled`",
        "<testsuite> lacks the required `failures`",
        "<testcase> may not carry `assertions`",
        "<testcase> may not contain <properties>",
        "<testcase> may not contain text",
    ] {
        assert!(found.contains(want), "missing `{want}` in:\n{found}");
    }
}
