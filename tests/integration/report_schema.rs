//! The JSON reports of every kind of run, held against the schema that
//! `medianest-gate schema report` prints, by an independent validator:
//! `check-jsonschema` from PyPI (./scripts/test installs it). A consumer
//! validating our reports uses a tool like it, not our own code.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command as Process;
use std::time::Duration;

use serde_json::Value;

use crate::support::backend::{Backend, Endpoint};
use crate::support::{bin, check_backend, check_json, closed_port, json, output};

/// `python3 -m check_jsonschema`, or `None` when it is not installed; in CI
/// (`CI=true`) a missing validator fails the test instead of skipping it.
fn validator() -> Option<Process> {
    let mut probe = Process::new("python3");
    probe.args(["-m", "check_jsonschema", "--version"]);
    let found = probe.output().map(|o| o.status.success()).unwrap_or(false);
    if found {
        let mut cmd = Process::new("python3");
        cmd.args(["-m", "check_jsonschema"]);
        return Some(cmd);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "check-jsonschema is missing (python3 -m pip install --user check-jsonschema; ./scripts/test installs it)"
    );
    eprintln!("SKIPPED: check-jsonschema is not installed (python3 -m pip install --user check-jsonschema)");
    None
}

/// Writes the printed report schema into `dir`.
fn schema_file(dir: &Path) -> PathBuf {
    let (code, schema, stderr) = output(bin().args(["schema", "report"]));
    assert_eq!(code, 0, "{stderr}");
    let path = dir.join("report.schema.json");
    std::fs::write(&path, schema).expect("write the schema");
    path
}

/// Validates each named report with check-jsonschema; returns the files
/// that failed, with the validator's messages for each.
fn invalid(validator: Process, schema: &Path, reports: &[(String, PathBuf)]) -> Vec<(String, String)> {
    let mut cmd = validator;
    cmd.arg("--output-format").arg("json").arg("--schemafile").arg(schema);
    for (_, path) in reports {
        cmd.arg(path);
    }
    let out = cmd.output().expect("run check-jsonschema");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let result: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "check-jsonschema did not answer JSON ({e}):\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert!(
        result["parse_errors"].as_array().is_none_or(|a| a.is_empty()),
        "check-jsonschema could not read a file: {result:#}"
    );
    let errors = result["errors"].as_array().cloned().unwrap_or_default();
    assert_eq!(
        out.status.success(),
        errors.is_empty(),
        "exit status and errors disagree: {result:#}"
    );
    reports
        .iter()
        .filter_map(|(name, path)| {
            let file = path.to_string_lossy();
            let mine: Vec<String> = errors
                .iter()
                .filter(|e| e["filename"].as_str() == Some(&*file))
                .map(|e| format!("{} {}", e["path"], e["message"]))
                .collect();
            (!mine.is_empty()).then(|| (name.clone(), mine.join("\n")))
        })
        .collect()
}

/// A gate whose one run holds every check status: pass, fail (404), error
/// (refused), blocked (needs the failing one), waived, skipped (`--skip
/// extra`), with warm-up traffic for `--synthetic`.
fn every_status(backend: &str) -> String {
    let dead = format!("http://127.0.0.1:{}", closed_port());
    format!(
        "schema_version: 1\nid: S\nname: every status\ntargets: {{backend: \"{backend}\", dead: \"{dead}\"}}\n\
         warm_up: {{target: backend, paths: [/health], requests: 3}}\n\
         requirements:\n\
         \x20 - id: up\n    name: up\n    weight: 2\n    required: true\n    checks:\n\
         \x20     - {{id: health, kind: http, target: backend, path: /health}}\n\
         \x20     - {{id: api, kind: http, target: backend, path: /api/health}}\n\
         \x20 - id: down\n    name: down\n    weight: 1\n    required: true\n    checks:\n\
         \x20     - {{id: broken, kind: http, target: backend, path: /broken}}\n\
         \x20     - {{id: refused, kind: http, target: dead, path: /health}}\n\
         \x20     - {{id: after, kind: http, target: backend, path: /health, needs: [broken]}}\n\
         \x20 - id: accepted\n    name: accepted\n    weight: 1\n    checks:\n\
         \x20     - {{id: waived, kind: http, target: backend, path: /broken, waiver: {{reason: known, expires: 2099-12-31}}}}\n\
         \x20 - id: extra\n    name: extra\n    weight: 1\n    required: true\n    checks:\n\
         \x20     - {{id: extra-health, kind: http, target: backend, path: /api/v1/health}}\n"
    )
}

/// Gate G with every target dead: every probe kind's error and blocked
/// evidence.
fn gate_g_all_down() -> Value {
    let dead = format!("http://127.0.0.1:{}", closed_port());
    let mut cmd = bin();
    cmd.args([
        "check",
        "--no-progress",
        "--format",
        "json",
        "--timeout",
        "1s",
        "--synthetic",
    ])
    .env("METRICS_TOKEN", "abcdefgh-long-enough");
    for t in ["backend", "prometheus", "grafana", "loki"] {
        cmd.arg("--target").arg(format!("{t}={dead}"));
    }
    let (code, stdout, stderr) = output(&mut cmd);
    assert_eq!(code, 1, "{stderr}");
    json(&stdout)
}

/// A backend whose `/health` answers 503 for about 1.5 s, checked with `--wait`.
fn wait_for_late_backend() -> Value {
    let backend = Backend::healthy();
    backend.set(|b| {
        b.health.insert("/health".into(), Endpoint::json(503, "{}"));
    });
    let url = backend.url.clone();
    let flip = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1500));
        backend.set(|b| {
            b.health
                .insert("/health".into(), Endpoint::json(200, r#"{"status":"ok"}"#));
        });
        backend
    });
    let (code, stdout, stderr) = output(check_backend(&url).args(["--format", "json", "--wait", "30s"]));
    let _backend = flip.join().expect("the flipping thread");
    assert_eq!(code, 0, "{stderr}");
    json(&stdout)
}

fn check_statuses(r: &Value) -> Vec<&Value> {
    r["requirements"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|q| q["checks"].as_array().into_iter().flatten())
        .map(|c| &c["status"])
        .collect()
}

fn requirement_statuses(r: &Value) -> Vec<&Value> {
    r["requirements"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|q| &q["status"])
        .collect()
}

fn verdict(r: &Value) -> Vec<&Value> {
    vec![&r["verdict"]]
}

/// The distinct strings `pick` finds in the reports.
fn strings<'a>(reports: impl Iterator<Item = &'a Value>, pick: fn(&Value) -> Vec<&Value>) -> BTreeSet<String> {
    reports
        .flat_map(pick)
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect()
}

#[test]
fn the_report_of_every_kind_of_run_validates_against_the_printed_schema_and_broken_ones_do_not() {
    let Some(validator) = validator() else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let schema = schema_file(dir.path());

    let backend = Backend::healthy();
    let yaml = every_status(&backend.url);
    let mut reports: Vec<(&str, Value)> = Vec::new();
    let (_, mixed, _) = check_json(&yaml, &["--synthetic", "--skip", "extra"], &[]);
    reports.push(("every status, warm-up, partial and blocked", mixed));
    let (_, partial, _) = check_json(&yaml, &["--only", "up"], &[]);
    reports.push(("partial", partial));
    let (_, allowed, _) = check_json(&yaml, &["--only", "up", "--allow-partial"], &[]);
    reports.push(("passed with --allow-partial", allowed));
    let (_, pass, stderr) = output(check_backend(&backend.url).args(["--format", "json"]));
    reports.push(("Gate G backend pass", json(&pass)));
    assert!(!stderr.contains("panicked"), "{stderr}");
    reports.push(("Gate G all down", gate_g_all_down()));
    reports.push(("--wait", wait_for_late_backend()));

    // The runs above are the scenarios the schema must describe: prove they
    // hold what they claim before trusting a pass.
    let all = || reports.iter().map(|(_, r)| r);
    assert_eq!(
        strings(all(), check_statuses),
        ["blocked", "error", "fail", "pass", "skipped", "waived"]
            .map(String::from)
            .into(),
        "every check status"
    );
    assert_eq!(
        strings(all(), requirement_statuses),
        ["fail", "pass", "skipped", "waived"].map(String::from).into(),
        "every requirement status"
    );
    assert_eq!(
        strings(all(), verdict),
        ["blocked", "partial", "pass"].map(String::from).into(),
        "every verdict"
    );
    assert!(all().any(|r| r.get("warm_up").is_some()), "a warm-up report");
    assert!(all().all(|r| r.get("requests").is_some()), "request counts");
    assert!(all().any(|r| r["attempts"].as_u64() > Some(1)), "a --wait retry");
    assert!(all().any(|r| r["root_causes"].as_array().is_some_and(|a| !a.is_empty())));

    let write = |name: &str, report: &Value| -> (String, PathBuf) {
        let file: String = name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        let path = dir.path().join(format!("{file}.json"));
        std::fs::write(&path, serde_json::to_string_pretty(report).expect("JSON")).expect("write report");
        (name.to_string(), path)
    };
    let files: Vec<(String, PathBuf)> = reports.iter().map(|(n, r)| write(n, r)).collect();
    let failed = invalid(validator, &schema, &files);
    assert!(failed.is_empty(), "reports that do not match their schema: {failed:#?}");

    // The schema has teeth: each of these breaks the contract and must fail.
    let base = &reports[0].1;
    let mutate = |f: &dyn Fn(&mut Value)| {
        let mut r = base.clone();
        f(&mut r);
        r
    };
    let mutants = [
        ("verdict maybe", mutate(&|r| r["verdict"] = "maybe".into())),
        (
            "check status unknown",
            mutate(&|r| r["requirements"][0]["checks"][0]["status"] = "ok".into()),
        ),
        ("extra top-level property", mutate(&|r| r["surprise"] = true.into())),
        (
            "extra property in a check",
            mutate(&|r| r["requirements"][0]["checks"][0]["retries"] = 1.into()),
        ),
        (
            "missing attempts in a check",
            mutate(&|r| {
                if let Some(c) = r["requirements"][0]["checks"][0].as_object_mut() {
                    c.remove("attempts");
                }
            }),
        ),
        (
            "missing cause (always written, null when none)",
            mutate(&|r| {
                if let Some(c) = r["requirements"][0]["checks"][0].as_object_mut() {
                    c.remove("cause");
                }
            }),
        ),
        ("warm_up null", mutate(&|r| r["warm_up"] = Value::Null)),
        ("score above 100", mutate(&|r| r["score"] = 100.5.into())),
    ];
    let files: Vec<(String, PathBuf)> = mutants.iter().map(|(n, r)| write(n, r)).collect();
    let Some(validator) = self::validator() else { return };
    let failed: BTreeSet<String> = invalid(validator, &schema, &files)
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    let expected: BTreeSet<String> = mutants.iter().map(|(n, _)| n.to_string()).collect();
    assert_eq!(failed, expected, "every broken report is rejected");
}
