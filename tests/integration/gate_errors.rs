//! Every kind of bad gate file exits 2 before probing, naming the file, the
//! line and column, and what to write instead.

use crate::support::{bin, closed_port, gate_file, output};

/// A valid gate with one placeholder for the part each test breaks.
fn gate_with(requirements: &str) -> String {
    format!(
        r#"schema_version: 1
id: T
name: test gate
targets:
  backend: "http://127.0.0.1:{port}"
secrets:
  token: "${{TEST_GATE_TOKEN:-abcdefgh}}"
requirements:
{requirements}"#,
        port = closed_port()
    )
}

/// Runs `check` on the YAML and asserts exit 2 with `gate.yaml:LINE:COL` and
/// every fragment; returns stderr.
fn rejects(yaml: &str, line: u32, col: u32, fragments: &[&str]) -> String {
    let (_dir, path) = gate_file(yaml);
    let (code, stdout, stderr) = output(bin().args(["check", "--no-progress", "--gate"]).arg(&path));
    assert_eq!(code, 2, "stderr: {stderr}");
    assert!(stdout.is_empty(), "nothing is probed or printed on stdout: {stdout}");
    let loc = format!("gate.yaml:{line}:{col}:");
    assert!(stderr.contains(&loc), "expected {loc} in:\n{stderr}");
    for f in fragments {
        assert!(stderr.contains(f), "expected `{f}` in:\n{stderr}");
    }
    // validate agrees with check.
    let (vcode, _, vstderr) = output(bin().arg("validate").arg(&path));
    assert_eq!(vcode, 2, "validate: {vstderr}");
    assert!(vstderr.contains(&loc), "validate: {vstderr}");
    stderr
}

const CHECK: &str = "      - { id: c1, kind: http, target: backend, path: /health }\n";

#[test]
fn unknown_field_is_located_with_a_hint() {
    let yaml = gate_with(
        "  - id: r1\n    name: r\n    weight: 1\n    checks:\n      - id: c1\n        kind: http\n        target: backend\n        pathh: /x\n",
    );
    rejects(&yaml, 16, 9, &["unknown field `pathh`", "help:"]);
}

#[test]
fn duplicate_yaml_key_is_an_error() {
    let yaml = gate_with(&format!(
        "  - id: r1\n    name: r\n    weight: 1\n    weight: 2\n    checks:\n{CHECK}"
    ));
    rejects(&yaml, 12, 5, &["duplicate mapping key"]);
}

#[test]
fn duplicate_requirement_and_check_ids_are_errors() {
    let yaml = gate_with(&format!(
        "  - id: r1\n    name: r\n    weight: 1\n    checks:\n{CHECK}  - id: r1\n    name: again\n    weight: 1\n    checks:\n{CHECK}"
    ));
    let err = rejects(
        &yaml,
        14,
        9,
        &["duplicate requirement id `r1` (first defined at line 9)"],
    );
    assert!(err.contains("duplicate check id `c1`"), "{err}");
}

#[test]
fn unknown_target_lists_the_known_ones() {
    let yaml = gate_with(
        "  - id: r1\n    name: r\n    weight: 1\n    checks:\n      - { id: c1, kind: http, target: prometheus }\n",
    );
    rejects(&yaml, 13, 39, &["unknown target `prometheus`", "use one of: backend"]);
}

#[test]
fn unknown_secret_is_an_error() {
    let yaml = gate_with(
        "  - id: r1\n    name: r\n    weight: 1\n    checks:\n      - { id: c1, kind: metrics_endpoint, target: backend, token: nope }\n",
    );
    rejects(&yaml, 13, 67, &["unknown secret `nope`", "use one of: token"]);
}

#[test]
fn unknown_needs_is_an_error() {
    let yaml = gate_with(
        "  - id: r1\n    name: r\n    weight: 1\n    checks:\n      - { id: c1, kind: http, target: backend, needs: [ghost] }\n",
    );
    rejects(&yaml, 13, 15, &["needs unknown check `ghost`"]);
}

#[test]
fn needs_cycle_names_the_cycle() {
    let yaml = gate_with(
        "  - id: r1\n    name: r\n    weight: 1\n    checks:\n      - { id: a, kind: http, target: backend, needs: [c] }\n      - { id: b, kind: http, target: backend, needs: [a] }\n      - { id: c, kind: http, target: backend, needs: [b] }\n",
    );
    rejects(&yaml, 13, 15, &["`needs` cycle: a → c → b → a"]);
}

#[test]
fn negative_weight_is_an_error() {
    let yaml = gate_with(&format!(
        "  - id: r1\n    name: r\n    weight: -5\n    checks:\n{CHECK}"
    ));
    rejects(&yaml, 11, 13, &["weight -5", "zero or positive"]);
}

#[test]
fn all_zero_gate_is_an_error() {
    let yaml = gate_with(&format!("  - id: r1\n    name: r\n    weight: 0\n    checks:\n{CHECK}"));
    rejects(&yaml, 9, 3, &["every requirement has weight 0"]);
}

#[test]
fn unknown_kind_lists_known_kinds() {
    let yaml = gate_with(
        "  - id: r1\n    name: r\n    weight: 1\n    checks:\n      - { id: c1, kind: ping, target: backend }\n",
    );
    rejects(
        &yaml,
        13,
        25,
        &["unknown check kind `ping`", "known kinds: http, metrics_endpoint"],
    );
}

#[test]
fn field_of_another_kind_is_rejected() {
    let yaml = gate_with(
        "  - id: r1\n    name: r\n    weight: 1\n    checks:\n      - { id: c1, kind: http, target: backend, expect_families: [x] }\n",
    );
    rejects(
        &yaml,
        13,
        65,
        // The issue's wording: the field's own kind, then this kind's real list.
        &[
            "`expect_families` is a `metrics_endpoint` field",
            "`http` checks take: `path`, `token`, `expect_status`, `samples`, `max_latency`, `latency_stat`, `expect_json`",
        ],
    );
}

#[test]
fn invalid_duration_says_how_to_write_one() {
    let yaml = gate_with(
        "  - id: r1\n    name: r\n    weight: 1\n    checks:\n      - { id: c1, kind: http, target: backend, timeout: soon }\n",
    );
    rejects(&yaml, 13, 57, &["invalid timeout `soon`", "5s"]);
}

#[test]
fn yaml_syntax_error_is_located() {
    let yaml = gate_with("  - id: r1\n    name: [unclosed\n");
    let (_dir, path) = gate_file(&yaml);
    let (code, _, stderr) = output(bin().args(["check", "--gate"]).arg(&path));
    assert_eq!(code, 2);
    assert!(stderr.contains("gate.yaml:"), "{stderr}");
}

#[test]
fn unset_variable_is_an_error_naming_it_unless_its_check_is_skipped() {
    let yaml = r#"schema_version: 1
id: T
name: t
targets:
  backend: "${TEST_GATE_BACKEND_URL}"
requirements:
  - id: r1
    name: r
    weight: 1
    checks:
      - { id: c1, kind: http, target: backend }
  - id: r2
    name: r
    weight: 1
    checks:
      - { id: c2, kind: http, target: other }
"#
    .replace("target: other", "target: backend");
    let (_dir, path) = gate_file(&yaml);
    let (code, _, stderr) = output(bin().args(["check", "--gate"]).arg(&path));
    assert_eq!(code, 2);
    assert!(stderr.contains("gate.yaml:5:12:"), "{stderr}");
    assert!(stderr.contains("`TEST_GATE_BACKEND_URL` is not set"), "{stderr}");
    // With the variable provided by --var, it runs (and is blocked: nothing listens).
    let (code, _, stderr) = output(
        bin()
            .args(["check", "--format", "json", "--gate"])
            .arg(&path)
            .arg("--var")
            .arg(format!("TEST_GATE_BACKEND_URL=http://127.0.0.1:{}", closed_port())),
    );
    assert_eq!(code, 1, "{stderr}");
}

#[test]
fn missing_gate_file_is_a_usage_error() {
    let (code, _, stderr) = output(bin().args(["check", "--gate", "/nonexistent/gate.yaml"]));
    assert_eq!(code, 2);
    assert!(
        stderr.contains("/nonexistent/gate.yaml: cannot read gate file"),
        "{stderr}"
    );
}

#[test]
fn unknown_only_id_and_target_override_are_usage_errors() {
    let (code, _, stderr) = output(bin().args(["check", "--only", "nope"]).env("METRICS_TOKEN", "abcdefgh"));
    assert_eq!(code, 2);
    assert!(
        stderr.contains("--only nope: no requirement or check has that id"),
        "{stderr}"
    );
    let (code, _, stderr) = output(
        bin()
            .args(["check", "--target", "nope=http://x"])
            .env("METRICS_TOKEN", "abcdefgh"),
    );
    assert_eq!(code, 2);
    assert!(stderr.contains("the gate has no target `nope`"), "{stderr}");
}

#[test]
fn several_errors_are_reported_in_one_run() {
    let yaml = gate_with(
        "  - id: r1\n    name: r\n    weight: -1\n    checks:\n      - { id: c1, kind: http, target: nope }\n      - { id: c2, kind: http, target: backend, timeout: x }\n",
    );
    let err = rejects(&yaml, 11, 13, &["weight -1"]);
    assert!(
        err.contains("unknown target `nope`") && err.contains("invalid timeout `x`"),
        "{err}"
    );
}
