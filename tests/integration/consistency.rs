//! The commands agree with each other: every command takes a gate the same
//! ways, every format name works in `--format` and `--report`, `list` shows
//! the variables a run would use (secrets masked), a timeout is `error` in
//! every kind, and `diff` only compares reports it can compare.

use std::ffi::OsStr;
use std::net::TcpListener;

use crate::support::backend::Backend;
use crate::support::{TOKEN, bin, check, check_json_args, closed_port, gate_file, json, output};

/// A one-requirement gate `C` whose check `consist-probe` asks a closed port.
fn refused_gate() -> String {
    format!(
        "schema_version: 1\nid: C\nname: consistency\ntargets: {{svc: \"http://127.0.0.1:{}\"}}\n\
         requirements:\n  - id: r\n    name: r\n    weight: 1\n    checks:\n\
         \x20     - {{id: consist-probe, kind: http, target: svc, path: /health}}\n",
        closed_port()
    )
}

#[test]
fn check_list_and_validate_take_the_gate_positionally_or_with_gate() {
    let (_dir, path) = gate_file(&refused_gate());
    let (_dir2, other) = gate_file(&refused_gate().replace("id: C\n", "id: C2\n"));

    for how in [vec![path.as_os_str()], vec![OsStr::new("--gate"), path.as_os_str()]] {
        let (code, stdout, stderr) = output(bin().arg("list").args(&how));
        assert_eq!(code, 0, "list {how:?}: {stderr}");
        assert!(
            stdout.contains("Gate C · consistency") && stdout.contains("consist-probe"),
            "{stdout}"
        );

        let (code, _, stderr) = output(bin().arg("validate").args(&how));
        assert_eq!(code, 0, "validate {how:?}: {stderr}");
        assert!(stderr.contains("ok — gate C ("), "{stderr}");

        let args: Vec<&str> = how.iter().map(|a| a.to_str().expect("temp paths are UTF-8")).collect();
        let (code, report, _) = check_json_args(&args, &[]);
        assert_eq!(code, 1, "the probe is refused");
        assert_eq!(report["gate"]["id"], "C", "check {how:?}");
    }

    // Without a file, list and validate use the built-in Gate G.
    let (code, stdout, _) = output(bin().arg("list"));
    assert_eq!(code, 0);
    assert!(
        stdout.contains("Gate G ·") && stdout.contains("metrics-auth"),
        "{stdout}"
    );

    // validate lints every file it is given, whichever way.
    let (code, _, stderr) = output(bin().arg("validate").arg(&path).arg("--gate").arg(&other));
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("ok — gate C (") && stderr.contains("ok — gate C2 ("),
        "{stderr}"
    );

    // One gate for check and list: two are a usage error, not a silent pick.
    for sub in ["check", "list"] {
        let (code, _, stderr) = output(bin().arg(sub).arg(&path).arg("--gate").arg(&other));
        assert_eq!(code, 2, "{sub} with two gates: {stderr}");
    }
}

#[test]
fn md_is_a_format_name_for_format_as_for_report() {
    let (_dir, path) = gate_file(&refused_gate());
    let out = tempfile::tempdir().expect("temp dir");
    let artifact = out.path().join("blockers.md");
    let mut cmd = bin();
    cmd.args(["check", "--no-progress", "--format", "md", "--report"])
        .arg(format!("md={}", artifact.display()))
        .arg(&path);
    let (code, stdout, stderr) = output(&mut cmd);
    assert_eq!(code, 1, "{stderr}");
    let heading = "# Gate C — consistency: ❌ BLOCKED";
    assert!(stdout.starts_with(heading), "--format md is not Markdown:\n{stdout}");
    let file = std::fs::read_to_string(&artifact).expect("the md report is written");
    assert!(file.starts_with(heading), "{file}");

    let (code, _, stderr) = output(bin().args(["check", "--format", "pdf"]).arg(&path));
    assert_eq!(code, 2);
    assert!(stderr.contains("markdown"), "the refusal lists the formats: {stderr}");
}

#[test]
fn list_shows_the_variables_the_gate_reads_with_secrets_masked() {
    let yaml = "schema_version: 1\nid: V\nname: variables\n\
                targets: {svc: \"${CONSIST_URL:-http://127.0.0.1:1}\"}\n\
                secrets: {tok: \"${CONSIST_TOKEN}\", spare: \"${CONSIST_SPARE:-}\"}\n\
                requirements:\n  - id: r\n    name: r\n    weight: 1\n    checks:\n\
                \x20     - {id: probe, kind: http, target: svc, path: \"${CONSIST_PATH:-/health}\", token: tok}\n";
    let (_dir, path) = gate_file(yaml);
    let mut cmd = bin();
    cmd.arg("list")
        .arg(&path)
        .args(["--var", "CONSIST_URL=http://127.0.0.1:4321"])
        .env("CONSIST_TOKEN", TOKEN);
    let (code, stdout, stderr) = output(&mut cmd);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        !stdout.contains(TOKEN) && !stderr.contains(TOKEN),
        "the secret leaked:\n{stdout}{stderr}"
    );
    let row = |name: &str| -> String {
        stdout
            .lines()
            .find(|l| l.contains(&format!(" {name} ")))
            .unwrap_or_else(|| panic!("no row for {name}:\n{stdout}"))
            .to_string()
    };
    let token = row("CONSIST_TOKEN (secret)");
    assert!(
        token.contains("***") && token.contains("environment") && token.contains("secret tok"),
        "{token}"
    );
    let spare = row("CONSIST_SPARE (secret)");
    assert!(spare.contains("(not set)"), "{spare}");
    let url = row("CONSIST_URL");
    assert!(
        url.contains("http://127.0.0.1:4321") && url.contains("--var") && url.contains("target svc"),
        "{url}"
    );
    let p = row("CONSIST_PATH");
    assert!(
        p.contains("/health") && p.contains("default") && p.contains("check probe"),
        "{p}"
    );

    // The built-in Gate G: its token is masked too, its endpoints shown.
    let mut cmd = bin();
    cmd.arg("list").env("METRICS_TOKEN", TOKEN);
    let (code, stdout, _) = output(&mut cmd);
    assert_eq!(code, 0);
    assert!(!stdout.contains(TOKEN), "METRICS_TOKEN leaked:\n{stdout}");
    assert!(stdout.contains("METRICS_TOKEN (secret)"), "{stdout}");
    assert!(stdout.contains("http://localhost:9090"), "{stdout}");
}

#[test]
fn an_http_timeout_is_error_with_or_without_a_latency_limit() {
    // Accepts connections (the kernel's backlog does) and never answers.
    let silent = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let addr = silent.local_addr().expect("local addr");
    let yaml = format!(
        "schema_version: 1\nid: T\nname: timeouts\ntargets: {{silent: \"http://{addr}\"}}\n\
         requirements:\n  - id: r\n    name: r\n    weight: 1\n    checks:\n\
         \x20     - {{id: plain, kind: http, target: silent, path: /health}}\n\
         \x20     - {{id: limited, kind: http, target: silent, path: /health, max_latency: 5s}}\n"
    );
    let (_dir, path) = gate_file(&yaml);
    let args = [
        "--gate",
        path.to_str().expect("temp paths are UTF-8"),
        "--timeout",
        "300ms",
    ];
    let (code, report, _) = check_json_args(&args, &[]);
    assert_eq!(code, 1);
    for id in ["plain", "limited"] {
        let c = check(&report, id);
        assert_eq!(c["status"], "error", "{id}: {c:#}");
        assert!(
            c["message"]
                .as_str()
                .unwrap_or_default()
                .contains("no answer within 300ms"),
            "{c:#}"
        );
    }
    assert_eq!(report["score"], 0.0, "an error earns no credit");
}

/// A gate `D` over `backend`: `base` passes; `extra` adds checks.
fn backend_gate(url: &str, extra: &str) -> String {
    format!(
        "schema_version: 1\nid: D\nname: diffs\ntargets: {{backend: \"{url}\", dead: \"http://127.0.0.1:{}\"}}\n\
         requirements:\n  - id: r\n    name: r\n    weight: 1\n    checks:\n\
         \x20     - {{id: base, kind: http, target: backend, path: /health}}\n{extra}",
        closed_port()
    )
}

fn report_of(yaml: &str) -> serde_json::Value {
    let (_dir, path) = gate_file(yaml);
    check_json_args(&["--gate", path.to_str().expect("temp paths are UTF-8")], &[]).1
}

#[test]
fn diff_counts_a_new_failing_check_as_a_regression_and_refuses_other_gates() {
    let backend = Backend::healthy();
    let before = report_of(&backend_gate(&backend.url, ""));
    let after = report_of(&backend_gate(
        &backend.url,
        "      - {id: new-broken, kind: http, target: dead, path: /health}\n\
         \x20     - {id: new-fine, kind: http, target: backend, path: /api/health}\n",
    ));
    assert_eq!(check(&after, "new-broken")["status"], "error");
    assert_eq!(check(&after, "new-fine")["status"], "pass");
    let dir = tempfile::tempdir().expect("temp dir");
    let write = |name: &str, v: &serde_json::Value| {
        let p = dir.path().join(name);
        std::fs::write(&p, serde_json::to_string(v).expect("JSON")).expect("write report");
        p
    };
    let (b, a) = (write("before.json", &before), write("after.json", &after));

    let (code, stdout, stderr) = output(bin().arg("diff").arg(&b).arg(&a));
    assert_eq!(code, 1, "a new failing check is a regression: {stdout}{stderr}");
    let regressions = stdout.split("regressions:").nth(1).unwrap_or_default();
    let regressions = regressions.split("other changes:").next().unwrap_or_default();
    assert!(regressions.contains("r / new-broken: absent → error"), "{stdout}");
    assert!(
        !regressions.contains("new-fine"),
        "a new passing check is no regression: {stdout}"
    );
    let (code, stdout, _) = output(bin().args(["diff", "--json"]).arg(&b).arg(&a));
    assert_eq!(code, 1);
    let d = json(&stdout);
    assert_eq!(d["regressions"][0]["check"], "new-broken", "{d:#}");
    assert_eq!(d["regressions"].as_array().map(Vec::len), Some(1), "{d:#}");

    // Another gate's report: refused, nothing compared.
    let mut other = after.clone();
    other["gate"]["id"] = "E".into();
    let o = write("other.json", &other);
    let (code, stdout, stderr) = output(bin().arg("diff").arg(&b).arg(&o));
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(stderr.contains("gate `D`") && stderr.contains("gate `E`"), "{stderr}");

    // Another layout: refused by its version, not by whichever field differs.
    let mut newer = after.clone();
    newer["schema_version"] = 2.into();
    newer.as_object_mut().expect("an object").remove("requirements");
    let n = write("newer.json", &newer);
    let (code, stdout, stderr) = output(bin().arg("diff").arg(&b).arg(&n));
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(
        stderr.contains("schema_version 1") && stderr.contains("has 2"),
        "{stderr}"
    );
}

#[test]
fn a_grafana_datasource_health_timeout_is_error_not_fail() {
    use crate::support::grafana::{GRAFANA_TOKEN, Grafana, Scenario};
    let mut s = Scenario::load("healthy");
    s.delays_ms
        .insert("/api/datasources/uid/:uid/health".to_string(), 10_000);
    let grafana = Grafana::start_with(s);
    let yaml = format!(
        "schema_version: 1\nid: S\nname: s\ntargets: {{grafana: \"{}\"}}\nsecrets: {{gtok: \"${{GRAFANA_TOKEN}}\"}}\n\
         requirements:\n  - id: grafana\n    name: grafana\n    weight: 1\n    checks:\n\
         \x20     - {{id: grafana-api, kind: grafana, target: grafana, token: gtok, timeout: 1s}}\n",
        grafana.url
    );
    let (code, report, _) = crate::support::check_json(&yaml, &[], &[("GRAFANA_TOKEN", GRAFANA_TOKEN)]);
    assert_eq!(code, 1);
    let c = check(&report, "grafana-api");
    assert_eq!(c["status"], "error", "unanswered health checks are no verdict: {c:#}");
    assert!(
        c["message"]
            .as_str()
            .unwrap_or_default()
            .contains("no answer within 1s"),
        "{c:#}"
    );
}
