//! The ways the tool ships: the man page, the static binary, the
//! `FROM scratch` image and the GitHub Action's steps.
//!
//! `./scripts/test` builds the static binary and the image first and names
//! them in `MEDIANEST_GATE_STATIC_BIN` and `MEDIANEST_GATE_IMAGE`. Run alone
//! (`cargo test`), the tests that need them say they skipped; under CI
//! (`CI` set) a missing artifact is a failure, so CI can never pass them
//! without running them.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command as StdCommand;

use serde_json::Value;

use crate::support::backend::Backend;
use crate::support::{self, TOKEN, bin, output};

/// The artifact `var` names, or `None` (skipped, said on stderr) outside CI.
fn artifact(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => Some(v),
        _ => {
            assert!(
                std::env::var_os("CI").is_none(),
                "{var} is not set: ./scripts/test builds it before the tests"
            );
            eprintln!("skipped: {var} is not set (./scripts/test builds it)");
            None
        }
    }
}

#[test]
fn man_prints_a_page_per_command_from_the_cli_definition() {
    let (code, page, _) = output(bin().arg("man"));
    assert_eq!(code, 0);
    assert!(page.contains(".TH medianest-gate 1"), "{page}");
    for sub in ["check", "validate", "list", "schema", "diff", "lint-metrics", "man"] {
        assert!(
            page.contains(&format!("medianest\\-gate\\-{}", sub.replace('-', "\\-"))) || page.contains(sub),
            "{sub}"
        );
    }
    let (code, check, _) = output(bin().args(["man", "check"]));
    assert_eq!(code, 0);
    assert!(check.contains(".TH medianest-gate-check 1"), "{check}");
    // The same flags and exit codes as `check --help`.
    assert!(check.contains("\\-\\-wait") && check.contains("Exit codes"), "{check}");

    let (code, _, err) = output(bin().args(["man", "chek"]));
    assert_eq!(code, 2);
    assert!(err.contains("did you mean `check`?"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("man1");
    let (code, _, _) = output(bin().args(["man", "--out-dir"]).arg(&out));
    assert_eq!(code, 0);
    assert!(out.join("medianest-gate.1").is_file() && out.join("medianest-gate-check.1").is_file());

    // groff renders it without a warning about the roff we emit (`-k`: through
    // preconv, as man(1) does, for the non-ASCII dashes in the help).
    if let Ok(rendered) = StdCommand::new("groff")
        .args(["-k", "-man", "-Tutf8", "-ww", "-z"])
        .arg(out.join("medianest-gate-check.1"))
        .output()
    {
        let warnings = String::from_utf8_lossy(&rendered.stderr);
        assert!(rendered.status.success() && warnings.trim().is_empty(), "{warnings}");
    }
}

/// Gate G's backend requirements against `url`, by the host binary.
fn host_verdict(url: &str) -> Value {
    let (_, report, _) = support::check_json_args(
        &[
            "--allow-partial",
            "--only",
            "metrics-endpoint",
            "--only",
            "health-checks",
            "--target",
            &format!("backend={url}"),
        ],
        &[("METRICS_TOKEN", TOKEN)],
    );
    report
}

/// What two runs must agree on: verdict, score and every check's status.
fn verdict_of(report: &Value) -> (Value, Value, BTreeMap<String, String>) {
    let mut statuses = BTreeMap::new();
    for r in report["requirements"].as_array().unwrap() {
        for c in r["checks"].as_array().unwrap() {
            statuses.insert(
                c["id"].as_str().unwrap().to_string(),
                c["status"].as_str().unwrap().to_string(),
            );
        }
    }
    (report["verdict"].clone(), report["score"].clone(), statuses)
}

#[test]
fn the_static_binary_has_no_interpreter_resolves_without_nss_and_gets_the_host_verdict() {
    let Some(path) = artifact("MEDIANEST_GATE_STATIC_BIN") else {
        return;
    };
    let headers = StdCommand::new("readelf").args(["-l", &path]).output().unwrap();
    assert!(headers.status.success());
    let headers = String::from_utf8_lossy(&headers.stdout);
    assert!(
        !headers.contains("INTERP"),
        "a program interpreter means it is dynamic:\n{headers}"
    );
    let size = std::fs::metadata(&path).unwrap().len();
    assert!(size < 10 * 1024 * 1024, "{size} bytes: the goal is under 10 MB");

    let backend = Backend::healthy();
    // By name, so the resolver is exercised, not an IP literal.
    let url = backend.url.replace("127.0.0.1", "localhost");
    let out = StdCommand::new(&path)
        .args(["check", "--no-progress", "--format", "json", "--allow-partial"])
        .args(["--only", "metrics-endpoint", "--only", "health-checks", "--target"])
        .arg(format!("backend={url}"))
        .env("METRICS_TOKEN", TOKEN)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(verdict_of(&report), verdict_of(&host_verdict(&url)));
}

#[test]
fn the_scratch_image_holds_only_the_binary_and_gets_the_same_verdict_as_the_host() {
    let Some(image) = artifact("MEDIANEST_GATE_IMAGE") else {
        return;
    };
    let inspect = StdCommand::new("docker")
        .args(["image", "inspect", "--format", "{{json .Config}}", &image])
        .output()
        .unwrap();
    assert!(inspect.status.success(), "{}", String::from_utf8_lossy(&inspect.stderr));
    let config: Value = serde_json::from_slice(&inspect.stdout).unwrap();
    assert_eq!(config["Entrypoint"], serde_json::json!(["medianest-gate"]));
    let user = config["User"].as_str().unwrap_or_default();
    assert!(
        !user.is_empty() && !user.starts_with("0") && user != "root",
        "user {user:?}"
    );

    // Nothing but the binary and the CA bundle (Docker adds the mount points).
    let cid = String::from_utf8(
        StdCommand::new("docker")
            .args(["create", &image])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let cid = cid.trim();
    let export = StdCommand::new("sh")
        .arg("-c")
        .arg(format!("docker export {cid} | tar -t"))
        .output()
        .unwrap();
    StdCommand::new("docker").args(["rm", cid]).output().unwrap();
    let files: Vec<String> = String::from_utf8_lossy(&export.stdout)
        .lines()
        .filter(|l| !l.ends_with('/'))
        .map(str::to_string)
        .collect();
    let docker_added = [".dockerenv", "etc/hostname", "etc/hosts", "etc/resolv.conf", "etc/mtab"];
    let ours: Vec<&String> = files
        .iter()
        .filter(|f| {
            !docker_added.contains(&f.as_str())
                && !f.starts_with("dev/")
                && !f.starts_with("proc/")
                && !f.starts_with("sys/")
        })
        .collect();
    assert_eq!(
        ours,
        ["etc/ssl/certs/ca-certificates.crt", "usr/local/bin/medianest-gate"],
        "{files:?}"
    );

    let backend = Backend::healthy();
    let url = backend.url.replace("127.0.0.1", "localhost");
    let run = |url: &str| {
        let out = StdCommand::new("docker")
            .args([
                "run",
                "--rm",
                "--network",
                "host",
                "-e",
                "METRICS_TOKEN",
                "-e",
                "NO_COLOR=1",
                &image,
            ])
            .args(["check", "--no-progress", "--format", "json", "--allow-partial"])
            .args(["--only", "metrics-endpoint", "--only", "health-checks", "--target"])
            .arg(format!("backend={url}"))
            .env("METRICS_TOKEN", TOKEN)
            .output()
            .unwrap();
        let report: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
        (out.status.code(), report)
    };
    let (code, report) = run(&url);
    assert_eq!(code, Some(0));
    assert_eq!(verdict_of(&report), verdict_of(&host_verdict(&url)));
    assert_eq!(report["verdict"], "pass");

    // And a blocked stack is blocked in the image too, for the same reasons.
    let down = format!("http://localhost:{}", support::closed_port());
    let (code, report) = run(&down);
    assert_eq!(code, Some(1));
    let host = host_verdict(&down);
    assert_eq!(verdict_of(&report), verdict_of(&host));
    assert_eq!(report["root_causes"][0]["summary"], host["root_causes"][0]["summary"]);
}

/// action.yml, parsed.
fn action() -> Value {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("action.yml")).unwrap();
    serde_saphyr::from_str(&text).unwrap()
}

/// The facts of GitHub's action metadata syntax that a composite action must
/// meet (docs.github.com, "Metadata syntax for GitHub Actions"): `name`,
/// `description` and `runs` are required; `runs.using` is `composite` with
/// `steps`; a step has `run` or `uses`, and a `run` step needs `shell`;
/// every input has a `description`; a composite action's outputs each have a
/// `value`; `${{ inputs.X }}` names only declared inputs and
/// `${{ steps.Y.outputs.Z }}` only steps with that `id`.
#[test]
fn action_yml_meets_the_composite_action_metadata_rules() {
    let a = action();
    for key in ["name", "description", "runs"] {
        assert!(a.get(key).is_some(), "missing {key}");
    }
    let allowed_top = ["name", "author", "description", "inputs", "outputs", "runs", "branding"];
    for key in a.as_object().unwrap().keys() {
        assert!(allowed_top.contains(&key.as_str()), "unknown top-level key {key}");
    }
    assert_eq!(a["runs"]["using"], "composite");
    let inputs = a["inputs"].as_object().unwrap();
    for (name, spec) in inputs {
        assert!(spec["description"].is_string(), "input {name} has no description");
        for key in spec.as_object().unwrap().keys() {
            assert!(
                ["description", "required", "default", "deprecationMessage"].contains(&key.as_str()),
                "{name}.{key}"
            );
        }
    }
    for (name, spec) in a["outputs"].as_object().unwrap() {
        assert!(
            spec["description"].is_string() && spec["value"].is_string(),
            "output {name}"
        );
    }
    let steps = a["runs"]["steps"].as_array().unwrap();
    let ids: Vec<&str> = steps.iter().filter_map(|s| s["id"].as_str()).collect();
    for step in steps {
        let (run, uses) = (step.get("run"), step.get("uses"));
        assert!(run.is_some() ^ uses.is_some(), "a step has run or uses: {step}");
        if run.is_some() {
            assert!(
                ["bash", "sh", "pwsh", "python"].contains(&step["shell"].as_str().unwrap_or("")),
                "{step}"
            );
        }
    }
    let text = serde_json::to_string(&a).unwrap();
    for expr in text.split("${{").skip(1).map(|s| s.split("}}").next().unwrap().trim()) {
        if let Some(name) = expr.strip_prefix("inputs.") {
            assert!(inputs.contains_key(name), "${{{{ {expr} }}}} names no input");
        } else if let Some(rest) = expr.strip_prefix("steps.") {
            let id = rest.split('.').next().unwrap();
            assert!(ids.contains(&id), "${{{{ {expr} }}}} names no step id");
        } else {
            assert!(expr.starts_with("github."), "unexpected expression {expr}");
        }
    }
}

/// The run step of action.yml, with `${{ inputs.X }}` replaced as the runner
/// would, run by bash with the files a runner provides.
fn run_action_step(
    inputs: &[(&str, &str)],
    env: &[(&str, &str)],
) -> (tempfile::TempDir, BTreeMap<String, String>, i32) {
    let a = action();
    let step = a["runs"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "gate")
        .unwrap()
        .clone();
    let work = tempfile::tempdir().unwrap();
    let output_file = work.path().join("github_output");
    let summary = work.path().join("step_summary");
    let defaults: BTreeMap<&str, String> = a["inputs"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.as_str(), v["default"].as_str().unwrap_or("").to_string()))
        .collect();
    let root = env!("CARGO_MANIFEST_DIR");
    let bin_dir = assert_cmd::cargo::cargo_bin("medianest-gate")
        .parent()
        .unwrap()
        .to_path_buf();
    let mut cmd = StdCommand::new("bash");
    cmd.arg("-c")
        .arg(step["run"].as_str().unwrap())
        .current_dir(work.path());
    for (k, v) in step["env"].as_object().unwrap() {
        let mut value = v.as_str().unwrap().to_string();
        if let Some(expr) = value.strip_prefix("${{").and_then(|s| s.strip_suffix("}}")) {
            let expr = expr.trim();
            value = if let Some(name) = expr.strip_prefix("inputs.") {
                inputs
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| v.to_string())
                    .unwrap_or_else(|| defaults[name].clone())
            } else if expr == "github.action_path" {
                root.to_string()
            } else {
                panic!("unexpected {expr}")
            };
        }
        cmd.env(k, value);
    }
    cmd.env("GITHUB_OUTPUT", &output_file)
        .env("GITHUB_STEP_SUMMARY", &summary)
        .env("RUNNER_TEMP", work.path())
        .env("GITHUB_ACTIONS", "true")
        .env(
            "PATH",
            format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default()),
        )
        .env("NO_COLOR", "1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "the step itself must not fail: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let outputs: BTreeMap<String, String> = std::fs::read_to_string(&output_file)
        .unwrap()
        .lines()
        .filter_map(|l| l.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())))
        .collect();
    let code = outputs["exit-code"].parse().unwrap();
    (work, outputs, code)
}

#[test]
fn the_action_run_step_writes_reports_and_summary_and_passes_the_exit_code_through() {
    let backend = Backend::healthy();
    let targets = format!("backend={}\n", backend.url);
    let args = "--allow-partial\n--only=metrics-endpoint\n--only=health-checks";
    let (work, outputs, code) = run_action_step(
        &[
            ("targets", &targets),
            ("args", args),
            ("formats", "json, junit,markdown"),
        ],
        &[("METRICS_TOKEN", TOKEN)],
    );
    assert_eq!(code, 0);
    let dir = work.path().join(&outputs["report-dir"]);
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("medianest-gate.json")).unwrap()).unwrap();
    assert_eq!(report["verdict"], "pass");
    assert!(
        std::fs::read_to_string(dir.join("medianest-gate.xml"))
            .unwrap()
            .contains("<testsuites")
    );
    assert!(dir.join("medianest-gate.md").is_file());
    let summary = std::fs::read_to_string(work.path().join("step_summary")).unwrap();
    assert!(summary.contains("PASSED") || summary.contains("passed"), "{summary}");
    assert!(!summary.contains(TOKEN));

    // A blocked stack: the step succeeds (so the upload runs) and hands on 1.
    let down = format!("backend=http://127.0.0.1:{}", support::closed_port());
    let (_, outputs, code) = run_action_step(&[("targets", &down), ("args", args)], &[("METRICS_TOKEN", TOKEN)]);
    assert_eq!(code, 1, "{outputs:?}");

    // The last step exits with exactly that code.
    let a = action();
    let last = a["runs"]["steps"].as_array().unwrap().last().unwrap().clone();
    let status = StdCommand::new("bash")
        .arg("-c")
        .arg(last["run"].as_str().unwrap())
        .env("MNG_EXIT", "1")
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(1));
}
