//! Every kind of bad gate file exits 2 before probing, naming the file, the
//! line and column, and what to write instead.

use std::path::Path;

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
    rejects(
        &yaml,
        12,
        5,
        &["duplicate key `weight`", "help: each key may appear once"],
    );
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

/// Runs `validate` on the file and returns its stderr, asserting exit 2 and
/// that the message starts with exactly one `gate.yaml:LINE:COL:` prefix.
fn validate_rejects(path: &Path, line: u32, col: u32) -> String {
    let (code, stdout, stderr) = output(bin().arg("validate").arg(path));
    assert_eq!(code, 2, "stderr: {stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    let first = stderr.lines().next().unwrap_or_default();
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    let prefix = format!("{}:{line}:{col}: ", path.display());
    assert!(first.starts_with(&prefix), "expected {prefix} in:\n{stderr}");
    assert_eq!(stderr.matches(name).count(), 1, "one location prefix:\n{stderr}");
    assert!(!stderr.contains("at line"), "no second location:\n{stderr}");
    for internal in [
        "Option<",
        "u16",
        "u32",
        "f64",
        "invalid type",
        "Raw",
        "Nodes {",
        "breached",
    ] {
        assert!(
            !stderr.contains(internal),
            "`{internal}` is a Rust/serde internal:\n{stderr}"
        );
    }
    stderr
}

fn validate_text_rejects(yaml: &str, line: u32, col: u32) -> String {
    let (_dir, path) = gate_file(yaml);
    validate_rejects(&path, line, col)
}

#[test]
fn a_weight_that_is_not_a_number_names_the_field_and_what_was_found() {
    let yaml = gate_with(&format!(
        "  - id: r1\n    name: r\n    weight: \"lots\"\n    checks:\n{CHECK}"
    ));
    let err = validate_text_rejects(&yaml, 11, 13);
    assert!(
        err.contains("`weight` must be a number (e.g. 25), found the string \"lots\""),
        "{err}"
    );
}

#[test]
fn a_status_that_is_not_a_code_names_the_field_and_what_was_found() {
    let yaml = gate_with(
        "  - id: r1\n    name: r\n    weight: 1\n    checks:\n      - { id: c1, kind: http, target: backend, expect_status: [200, \"2xx\"] }\n",
    );
    let err = validate_text_rejects(&yaml, 13, 69);
    assert!(
        err.contains("`expect_status` must be a list of status codes (e.g. [200, 204]), found the string \"2xx\""),
        "{err}"
    );
}

#[test]
fn type_errors_of_the_fixed_blocks_name_the_field() {
    for (edit, line, col, message) in [
        (
            "    weight: 1\n=>    weight: 1\n    required: yes\n",
            12,
            15,
            "`required` must be `true` or `false` (e.g. true), found the string \"yes\"",
        ),
        (
            "target: backend, path: /health }=>target: backend, needs: c2 }",
            13,
            55,
            "`needs` must be a list of check ids (e.g. [metrics-auth]), found the string \"c2\"",
        ),
        (
            "    weight: 1\n=>    weight: 1\n    severity: hgh\n",
            12,
            15,
            "`severity` must be one of `critical`, `high`, `medium`, `low` (e.g. high), found the string \"hgh\"",
        ),
    ] {
        let (from, to) = edit.split_once("=>").unwrap();
        let yaml =
            gate_with(&format!("  - id: r1\n    name: r\n    weight: 1\n    checks:\n{CHECK}").replace(from, to));
        let err = validate_text_rejects(&yaml, line, col);
        assert!(err.contains(message), "expected `{message}` in:\n{err}");
    }
    let yaml = gate_with(&format!("  - id: r1\n    name: r\n    weight: 1\n    checks:\n{CHECK}"))
        .replace("schema_version: 1", "schema_version: one");
    let err = validate_text_rejects(&yaml, 1, 17);
    assert!(
        err.contains("`schema_version` must be a whole number (e.g. 1), found the string \"one\""),
        "{err}"
    );
}

#[test]
fn a_misspelt_field_of_a_kind_suggests_the_nearest_of_that_kind_only() {
    let yaml = gate_with(
        "  - id: r1\n    name: r\n    weight: 1\n    checks:\n      - { id: c1, kind: prometheus_targets, target: backend, job: x, min_target: 1 }\n",
    );
    let err = validate_text_rejects(&yaml, 13, 70);
    assert!(
        err.contains(
            "unknown field `min_target`\n  help: did you mean `min_targets`? `prometheus_targets` checks take: `job`, `jobs`, `min_targets`, `backend_target`"
        ),
        "{err}"
    );
}

#[test]
fn misspelt_fields_of_the_gate_and_its_requirements_suggest_the_nearest() {
    let reqs = format!("  - id: r1\n    name: r\n    wieght: 1\n    checks:\n{CHECK}");
    let err = validate_text_rejects(&gate_with(&reqs), 11, 5);
    assert!(
        err.contains(
            "unknown field `wieght`\n  help: did you mean `weight`? requirements take: `id`, `name`, `description`, `weight`, `severity`, `required`, `checks`"
        ),
        "{err}"
    );
    let reqs = format!("  - id: r1\n    name: r\n    weight: 1\n    checks:\n{CHECK}");
    let err = validate_text_rejects(&gate_with(&reqs).replace("name: test gate", "nmae: test gate"), 3, 1);
    assert!(
        err.contains(
            "unknown field `nmae`\n  help: did you mean `name`? the top level of a gate file takes: `schema_version`"
        ),
        "{err}"
    );
}

#[test]
fn misspelt_kinds_targets_secrets_and_needs_suggest_the_nearest() {
    for (check, line_col, message, hint) in [
        (
            "{ id: c1, kind: htp, target: backend }",
            (13, 25),
            "unknown check kind `htp`",
            "did you mean `http`?",
        ),
        (
            "{ id: c1, kind: http, target: backedn }",
            (13, 39),
            "check `c1` names unknown target `backedn`",
            "did you mean `backend`?",
        ),
        (
            "{ id: c1, kind: metrics_endpoint, target: backend, token: tokn }",
            (13, 67),
            "check `c1` names unknown secret `tokn`",
            "did you mean `token`?",
        ),
        (
            "{ id: c1, kind: http, target: backend, needs: [c22] }\n      - { id: c2, kind: http, target: backend }",
            (13, 15),
            "check `c1` needs unknown check `c22`",
            "did you mean `c2`?",
        ),
        (
            "{ id: c1, kind: http, target: backend, needs: [r1] }",
            (13, 15),
            "check `c1` needs unknown check `r1`",
            "`r1` is a requirement; `needs` lists ids of checks",
        ),
    ] {
        let yaml = gate_with(&format!(
            "  - id: r1\n    name: r\n    weight: 1\n    checks:\n      - {check}\n"
        ));
        let err = validate_text_rejects(&yaml, line_col.0, line_col.1);
        assert!(err.contains(message), "expected `{message}` in:\n{err}");
        assert!(err.contains(&format!("help: {hint}")), "expected `{hint}` in:\n{err}");
    }
}

#[test]
fn an_empty_or_comment_only_file_says_so_and_what_to_write() {
    for (text, what) in [
        ("", "there is nothing to check"),
        ("# gate G, to do\n\n", "it holds only comments"),
    ] {
        let err = validate_text_rejects(text, 1, 1);
        assert!(err.contains(&format!("the gate file is empty: {what}")), "{err}");
        assert!(err.contains("help: write `schema_version: 1`"), "{err}");
        assert!(!err.contains("end of input"), "{err}");
    }
}

#[test]
fn a_gate_over_the_yaml_budget_is_too_large_in_our_words() {
    let mut yaml = String::from("schema_version: 1\nid: T\nname: t\ntargets:\n");
    for i in 0..130_000 {
        yaml.push_str(&format!("  t{i}: x\n"));
    }
    let err = validate_text_rejects(&yaml, 125_000, 12);
    assert!(
        err.contains("the gate file is too large: more than 250000 YAML nodes"),
        "{err}"
    );
}

#[test]
fn non_utf8_input_is_located_by_line_and_column_of_the_first_bad_byte() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gate.yaml");
    // `é` before the bad byte: the column counts characters, not bytes.
    std::fs::write(&path, b"schema_version: 1\nid: T\nname: caf\xc3\xa9 \xff\n").unwrap();
    let err = validate_rejects(&path, 3, 12);
    assert!(err.contains("byte 0xff is not valid UTF-8"), "{err}");
    assert!(!err.contains("offset"), "{err}");
}

#[test]
fn a_missing_field_names_its_block_and_an_example() {
    let yaml = gate_with(&format!("  - id: r1\n    name: r\n    checks:\n{CHECK}"));
    let err = validate_text_rejects(&yaml, 11, 5);
    assert!(
        err.contains("requirement `r1` needs `weight`\n  help: add `weight: 25`"),
        "{err}"
    );
}

/// A date `days` from today (UTC), as `YYYY-MM-DD`.
fn date_in(days: i64) -> String {
    let now = std::time::SystemTime::now();
    let delta = std::time::Duration::from_secs(days.unsigned_abs() * 86_400);
    let t = if days < 0 { now - delta } else { now + delta };
    humantime::format_rfc3339(t).to_string()[..10].to_string()
}

#[test]
fn validate_warns_about_void_and_soon_expiring_waivers_and_still_passes() {
    let (void, soon, later) = (date_in(-3), date_in(5), date_in(60));
    let waived = |id: &str, date: &str| {
        format!("      - {{ id: {id}, kind: http, target: backend, waiver: {{ reason: ok, expires: {date} }} }}\n")
    };
    let yaml = gate_with(&format!(
        "  - id: r1\n    name: r\n    weight: 1\n    checks:\n{}{}{}",
        waived("a", &void),
        waived("b", &soon),
        waived("c", &later)
    ));
    let (_dir, path) = gate_file(&yaml);
    let (code, stdout, stderr) = output(bin().arg("validate").arg(&path));
    assert_eq!(code, 0, "warnings do not fail validation: {stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(
        stderr.contains(&format!(
            "warning: {}:13:78: the waiver of check `a` expired on {void} and is void",
            path.display()
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "warning: {}:14:78: the waiver of check `b` expires on {soon} (in 5 days)",
            path.display()
        )),
        "{stderr}"
    );
    assert!(
        !stderr.contains("check `c`"),
        "a waiver 60 days out is not worth a warning: {stderr}"
    );
}
