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
