//! The CI formats: GitHub workflow annotations (`--format github`, the
//! `$GITHUB_STEP_SUMMARY` append) and GitLab Code Quality JSON, on a stack
//! with a degraded backend, a dead upstream and an advisory finding.

use std::path::{Path, PathBuf};

use crate::support::backend::{Backend, Endpoint};
use crate::support::{bin, closed_port, output, snapshot_settings};

/// What the degraded backend's `/api/health` says: text a server controls,
/// with a forged workflow command and the runner's escape characters.
const HOSTILE_STATUS: &str = "down ::error::forged 100%0A, x:y";

/// A backend whose `/api/health` reports a degraded state with hostile text.
fn degraded_backend() -> Backend {
    let backend = Backend::healthy();
    backend.set(|b| {
        let body = serde_json::json!({ "status": HOSTILE_STATUS }).to_string();
        b.health.insert("/api/health".into(), Endpoint::json(200, &body));
    });
    backend
}

/// A gate whose required `health` requirement fails on the backend's
/// status, whose required `upstream` is down (its second check blocked by
/// the first), and whose weight-0 `advice` fails too.
fn gate_yaml(backend: &str, down_port: u16) -> String {
    format!(
        r#"schema_version: 1
id: CI
name: CI formats
targets:
  backend: "{backend}"
  upstream: "http://127.0.0.1:{down_port}"
requirements:
  - id: health
    name: Health checks
    weight: 10
    severity: high
    required: true
    checks:
      - id: health-live
        kind: http
        target: backend
        path: /health
      - id: api-health
        kind: http
        target: backend
        path: /api/health
        expect_json: {{status: ok}}
  - id: upstream
    name: Upstream
    weight: 5
    severity: critical
    required: true
    checks:
      - id: upstream-up
        kind: http
        target: upstream
        path: /
      - id: upstream-ready
        kind: http
        target: upstream
        path: /ready
        needs: [upstream-up]
  - id: advice
    name: Advice
    weight: 0
    severity: low
    checks:
      - id: advice-docs
        kind: http
        target: upstream
        path: /docs
"#
    )
}

/// A temp dir holding `gate.yaml`; commands run inside it, so the gate is
/// named by the relative path a workflow would use.
struct Stack {
    dir: tempfile::TempDir,
    _backend: Backend,
}

impl Stack {
    fn failing() -> Stack {
        let backend = degraded_backend();
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("gate.yaml"), gate_yaml(&backend.url, closed_port())).expect("write gate");
        Stack { dir, _backend: backend }
    }

    fn passing() -> Stack {
        let backend = Backend::healthy();
        let dir = tempfile::tempdir().expect("temp dir");
        let yaml = format!(
            "schema_version: 1\nid: OK\nname: ok\ntargets: {{backend: \"{}\"}}\nrequirements:\n  - id: health\n    name: health\n    weight: 1\n    required: true\n    checks:\n      - {{id: health-live, kind: http, target: backend, path: /health}}\n",
            backend.url
        );
        std::fs::write(dir.path().join("gate.yaml"), yaml).expect("write gate");
        Stack { dir, _backend: backend }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `check --gate gate.yaml` in the stack's dir with `args`: (code, stdout, stderr).
    fn check(&self, args: &[&str], env: &[(&str, &Path)]) -> (i32, String, String) {
        let mut cmd = bin();
        cmd.current_dir(self.dir.path())
            .args(["check", "--no-progress", "--gate", "gate.yaml"])
            .args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        output(&mut cmd)
    }

    /// The 1-based line of `- id: ID` in the gate file.
    fn line_of(&self, id: &str) -> usize {
        let yaml = std::fs::read_to_string(self.path("gate.yaml")).expect("read gate");
        yaml.lines()
            .position(|l| l.trim() == format!("- id: {id}"))
            .map(|i| i + 1)
            .unwrap_or_else(|| panic!("no check {id}"))
    }
}

/// The runner's unescaping of a message (`%0D`, `%0A`, `%25`).
fn unescape_data(s: &str) -> String {
    s.replace("%0D", "\r").replace("%0A", "\n").replace("%25", "%")
}

#[test]
fn github_annotations_lead_with_what_blocks_and_point_at_the_gate_lines() {
    let stack = Stack::failing();
    let (code, stdout, stderr) = stack.check(&["--format", "github"], &[]);
    assert_eq!(code, 1, "blocked; stderr: {stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    for line in &lines {
        assert!(
            ["::error ", "::warning ", "::notice "]
                .iter()
                .any(|p| line.starts_with(p)),
            "a line that is not our workflow command: {line:?}"
        );
    }
    let errors: Vec<&str> = lines.iter().copied().filter(|l| l.starts_with("::error ")).collect();
    // The dead upstream costs the most (it blocks a second check), so its
    // own failure leads, then what it blocks, then the backend's status.
    let order = ["upstream-up", "upstream-ready", "api-health"];
    assert_eq!(errors.len(), order.len(), "{stdout}");
    for (line, id) in errors.iter().zip(order) {
        let want = format!("::error file=gate.yaml,line={},title=", stack.line_of(id));
        assert!(line.starts_with(&want), "{line}\nwanted {want}");
        assert!(line.contains(&format!(" {id} (")), "{line}");
    }
    assert!(
        errors[1].contains("title=BLOCKED upstream-ready (upstream%2C critical)"),
        "{}",
        errors[1]
    );
    // The server's text is in the message, inert: its `::error::` is not at
    // the start of a line, and `%` decodes back to what the server sent.
    let (_, message) = errors[2]
        .split_once("::")
        .and_then(|(_, r)| r.split_once("::"))
        .expect("a message");
    assert!(unescape_data(message).contains(HOSTILE_STATUS), "{message}");
    let warning = lines
        .iter()
        .find(|l| l.starts_with("::warning "))
        .expect("the advisory finding");
    assert!(
        warning.contains(&format!("line={},", stack.line_of("advice-docs"))),
        "{warning}"
    );
    let notice = lines.last().expect("a summary");
    assert!(
        notice.starts_with("::notice title=medianest-gate verdict::Gate CI: BLOCKED"),
        "{notice}"
    );

    snapshot_settings().bind(|| insta::assert_snapshot!("ci_github_failing_stack", stdout));
}

#[test]
fn a_github_report_file_holds_the_same_annotations() {
    let stack = Stack::failing();
    let file = stack.path("annotations.txt");
    let (code, stdout, stderr) = stack.check(
        &["--format", "json", "--report", &format!("github={}", file.display())],
        &[],
    );
    assert_eq!(code, 1, "{stderr}");
    assert!(stdout.starts_with('{'));
    let text = std::fs::read_to_string(&file).expect("the github report");
    assert_eq!(text.lines().filter(|l| l.starts_with("::error ")).count(), 3, "{text}");
}

#[test]
fn the_step_summary_gets_the_markdown_report_appended_on_every_run() {
    let stack = Stack::failing();
    let summary = stack.path("summary.md");
    std::fs::write(&summary, "## an earlier step\n").expect("write");
    for _ in 0..2 {
        let (code, stdout, stderr) = stack.check(&["--format", "json"], &[("GITHUB_STEP_SUMMARY", &summary)]);
        assert_eq!(code, 1, "{stderr}");
        assert!(stdout.starts_with('{'), "stdout stays the chosen format");
    }
    let text = std::fs::read_to_string(&summary).expect("the summary");
    assert!(text.starts_with("## an earlier step\n# Gate CI"), "{text}");
    assert_eq!(text.matches("# Gate CI — CI formats: ❌ BLOCKED").count(), 2, "{text}");
}

#[test]
fn a_missing_step_summary_file_is_created_and_no_step_summary_turns_it_off() {
    let stack = Stack::passing();
    let summary = stack.path("summary.md");
    let (code, _, stderr) = stack.check(&["--no-step-summary"], &[("GITHUB_STEP_SUMMARY", &summary)]);
    assert_eq!(code, 0, "{stderr}");
    assert!(!summary.exists(), "--no-step-summary wrote the summary");
    let (code, _, stderr) = stack.check(&[], &[("GITHUB_STEP_SUMMARY", Path::new(""))]);
    assert_eq!(code, 0, "an empty variable means no summary: {stderr}");
    let (code, _, stderr) = stack.check(&[], &[("GITHUB_STEP_SUMMARY", &summary)]);
    assert_eq!(code, 0, "{stderr}");
    let text = std::fs::read_to_string(&summary).expect("the summary was created");
    assert!(text.starts_with("# Gate OK — ok: ✅ PASSED"), "{text}");
}

#[test]
fn an_unwritable_step_summary_is_exit_4_with_the_verdict_still_printed() {
    let stack = Stack::passing();
    let dir = stack.path("a-directory");
    std::fs::create_dir(&dir).expect("mkdir");
    let (code, stdout, stderr) = stack.check(&["--format", "json"], &[("GITHUB_STEP_SUMMARY", &dir)]);
    assert_eq!(code, 4, "{stderr}");
    assert!(stdout.contains("\"passed\": true"), "{stdout}");
    assert!(stderr.contains("cannot append the step summary"), "{stderr}");
    assert!(stderr.contains("the gate passed (exit 0 without this)"), "{stderr}");
}

/// The issues of a `--report codequality=…` run.
fn code_quality(stack: &Stack, name: &str) -> Vec<serde_json::Value> {
    let file = stack.path(name);
    let (_, _, stderr) = stack.check(&["--report", &format!("codequality={}", file.display())], &[]);
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("no report ({e}): {stderr}"));
    let value: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    value.as_array().expect("an array of issues").clone()
}

#[test]
fn code_quality_issues_have_gitlabs_fields_and_stable_distinct_fingerprints() {
    let stack = Stack::failing();
    let first = code_quality(&stack, "first.json");
    let second = code_quality(&stack, "second.json");
    let ids = ["upstream-up", "upstream-ready", "api-health", "advice-docs"];
    assert_eq!(first.len(), ids.len(), "{first:#?}");
    for (issue, id) in first.iter().zip(ids) {
        let object = issue.as_object().expect("an issue is an object");
        let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            ["check_name", "description", "fingerprint", "location", "severity"]
        );
        assert!(issue["check_name"].as_str().expect("text").ends_with(&format!("/{id}")));
        assert!(issue["description"].as_str().expect("text").starts_with(id));
        assert_eq!(issue["location"]["path"], "gate.yaml");
        assert_eq!(issue["location"]["lines"]["begin"], stack.line_of(id));
        let fingerprint = issue["fingerprint"].as_str().expect("text");
        assert!(
            fingerprint.len() == 32 && fingerprint.bytes().all(|b| b.is_ascii_hexdigit()),
            "{fingerprint}"
        );
    }
    let severities: Vec<&str> = first.iter().map(|i| i["severity"].as_str().unwrap_or("")).collect();
    assert_eq!(severities, ["blocker", "blocker", "critical", "info"]);
    let prints =
        |issues: &[serde_json::Value]| -> Vec<String> { issues.iter().map(|i| i["fingerprint"].to_string()).collect() };
    assert_eq!(prints(&first), prints(&second), "fingerprints change between runs");
    let mut distinct = prints(&first);
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), ids.len(), "two checks share a fingerprint");
}

#[test]
fn a_passing_gate_is_an_empty_code_quality_report() {
    let stack = Stack::passing();
    let (code, stdout, stderr) = stack.check(&["--format", "codequality"], &[]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&stdout).expect("JSON"),
        serde_json::json!([])
    );
}

#[test]
fn the_built_in_gate_is_located_at_gate_g_yaml() {
    let backend = format!("http://127.0.0.1:{}", closed_port());
    let (code, stdout, stderr) = output(crate::support::check_backend(&backend).args(["--format", "codequality"]));
    assert_eq!(code, 1, "{stderr}");
    let issues: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    let issues = issues.as_array().expect("an array");
    assert!(!issues.is_empty());
    assert!(
        issues.iter().all(|i| i["location"]["path"] == "gate-g.yaml"),
        "{issues:#?}"
    );
    assert!(
        issues
            .iter()
            .all(|i| i["location"]["lines"]["begin"].as_u64() > Some(1)),
        "{issues:#?}"
    );
}
