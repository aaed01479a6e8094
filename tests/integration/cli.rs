//! The command line itself: help, version, schemas, completions, list,
//! validate on the shipped gate, and diff.

use crate::support::{bin, output};

#[test]
fn help_documents_the_exit_codes() {
    for args in [vec!["--help"], vec!["check", "--help"]] {
        let (code, stdout, _) = output(bin().args(&args));
        assert_eq!(code, 0);
        for line in [
            "0  gate passed",
            "1  gate blocked",
            "2  usage error or invalid gate file",
            "3  internal error",
        ] {
            assert!(stdout.contains(line), "{args:?} help lacks `{line}`");
        }
    }
}

#[test]
fn bad_flag_is_exit_2() {
    let (code, _, stderr) = output(bin().args(["check", "--timeout", "soon"]));
    assert_eq!(code, 2);
    assert!(stderr.contains("not a duration"), "{stderr}");
    let (code, _, _) = output(bin().args(["check", "--format", "pdf"]));
    assert_eq!(code, 2);
}

#[test]
fn shipped_gate_file_matches_the_built_in_and_validates() {
    let path = crate::support::fixture("../gates/gate-g.yaml");
    let (code, _, stderr) = output(bin().arg("validate").arg(&path));
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("ok — gate G"), "{stderr}");
    let (code, _, stderr) = output(bin().arg("validate"));
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("(built-in): ok"), "{stderr}");
}

#[test]
fn list_shows_requirements_weights_and_checks() {
    let (code, stdout, _) = output(bin().arg("list"));
    assert_eq!(code, 0);
    for s in [
        "metrics-endpoint",
        "health-checks",
        "metrics-auth",
        "health-api-v1",
        "metrics_endpoint",
        "25",
    ] {
        assert!(stdout.contains(s), "list lacks {s}:\n{stdout}");
    }
}

#[test]
fn schemas_are_json_schemas_with_the_contract_fields() {
    let (code, stdout, _) = output(bin().args(["schema", "report"]));
    assert_eq!(code, 0);
    let s: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let props = &s["properties"];
    for f in [
        "score",
        "passed",
        "requirements",
        "blockers",
        "root_causes",
        "fix_path",
        "schema_version",
    ] {
        assert!(props.get(f).is_some(), "report schema lacks {f}");
    }
    let (code, stdout, _) = output(bin().args(["schema", "gate"]));
    assert_eq!(code, 0);
    let s: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert!(s["properties"]["requirements"].is_object());
    assert!(s["required"].as_array().unwrap().iter().any(|v| v == "schema_version"));
}

#[test]
fn completions_are_generated() {
    let (code, stdout, _) = output(bin().args(["completions", "bash"]));
    assert_eq!(code, 0);
    assert!(stdout.contains("medianest-gate") && stdout.contains("--only"));
}

#[test]
fn diff_reports_regressions_and_exits_1() {
    use crate::support::backend::{Backend, Endpoint};
    let backend = Backend::healthy();
    let dir = tempfile::tempdir().unwrap();
    let before = dir.path().join("before.json");
    let after = dir.path().join("after.json");
    let (_, stdout, _) = output(crate::support::check_backend(&backend.url).args(["--format", "json"]));
    std::fs::write(&before, stdout).unwrap();
    backend.set(|b| {
        b.health.insert("/health".into(), Endpoint::json(500, "{}"));
    });
    let (_, stdout, _) = output(crate::support::check_backend(&backend.url).args(["--format", "json"]));
    std::fs::write(&after, stdout).unwrap();
    let (code, stdout, _) = output(bin().arg("diff").arg(&before).arg(&after));
    assert_eq!(code, 1);
    assert!(stdout.contains("score 100.0% → 90.5% (-9.5)"), "{stdout}");
    assert!(stdout.contains("health-checks / health: pass → fail"), "{stdout}");
    let (code, _, _) = output(bin().arg("diff").arg(&after).arg(&before));
    assert_eq!(code, 0);
}

#[test]
fn reports_and_gate_files_validate_against_the_printed_schemas() {
    let schema = |kind: &str| -> serde_json::Value {
        let (code, stdout, _) = output(bin().args(["schema", kind]));
        assert_eq!(code, 0);
        serde_json::from_str(&stdout).expect("schema is JSON")
    };
    let report_schema = jsonschema::validator_for(&schema("report")).expect("a valid JSON Schema");
    // A blocked run of every Gate G check, and a passing one.
    let dead = format!("http://127.0.0.1:{}", crate::support::closed_port());
    let mut cmd = bin();
    cmd.args(["check", "--format", "json", "--timeout", "1s"])
        .env("METRICS_TOKEN", "abcdefgh");
    for t in ["backend", "prometheus", "grafana", "loki"] {
        cmd.arg("--target").arg(format!("{t}={dead}"));
    }
    let (_, stdout, _) = output(&mut cmd);
    let blocked: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let backend = crate::support::backend::Backend::healthy();
    let (_, stdout, _) = output(crate::support::check_backend(&backend.url).args(["--format", "json"]));
    let passed: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    for report in [&blocked, &passed] {
        let errors: Vec<String> = report_schema
            .iter_errors(report)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "report does not match its schema: {errors:#?}");
    }
    // A report missing a contract field does not validate: the schema has teeth.
    let mut broken = passed.clone();
    broken.as_object_mut().unwrap().remove("root_causes");
    assert!(!report_schema.is_valid(&broken));

    let gate_schema = jsonschema::validator_for(&schema("gate")).expect("a valid JSON Schema");
    let yaml = std::fs::read_to_string(crate::support::fixture("../gates/gate-g.yaml")).unwrap();
    let gate: serde_json::Value = serde_saphyr::from_str(&yaml).unwrap();
    let errors: Vec<String> = gate_schema
        .iter_errors(&gate)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "gates/gate-g.yaml does not match the gate schema: {errors:#?}"
    );
    let mut typo = gate.clone();
    typo["requirements"][0]["wieght"] = serde_json::json!(1);
    assert!(
        !gate_schema.is_valid(&typo),
        "unknown fields must be rejected by the schema too"
    );
}

#[test]
fn check_help_names_every_variable_the_built_in_gate_reads() {
    let gate = std::fs::read_to_string(crate::support::fixture("../gates/gate-g.yaml")).expect("gate-g.yaml");
    let (code, help, _) = output(bin().args(["check", "--help"]));
    assert_eq!(code, 0);
    let mut rest = gate.as_str();
    let mut seen = 0;
    while let Some(at) = rest.find("${") {
        let name: String = rest[at + 2..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        assert!(help.contains(&name), "`check --help` does not name `{name}`");
        // And its default, as `NAME [default]` (a default may hold braces).
        if let Some(default) = rest[at + 2 + name.len()..].strip_prefix(":-") {
            let mut depth = 0usize;
            let end = default
                .char_indices()
                .find_map(|(i, c)| match c {
                    '{' => {
                        depth += 1;
                        None
                    }
                    '}' if depth == 0 => Some(i),
                    '}' => {
                        depth -= 1;
                        None
                    }
                    _ => None,
                })
                .expect("a closed reference");
            let default = &default[..end];
            if !default.is_empty() {
                let shown = format!("{name} [{default}]");
                assert!(help.contains(&shown), "`check --help` does not show `{shown}`");
            }
        }
        seen += 1;
        rest = &rest[at + 2..];
    }
    assert!(seen > 10, "the gate reads its settings from variables");
}
