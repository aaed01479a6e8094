//! Setup failures are found before probing and map to their documented exit
//! codes (DESIGN §2); a verdict with a missing artifact is exit 4; a closed
//! stdout ends quietly. Driven the way a user meets each one.

use std::io::Read;
use std::process::{Command, Stdio};

use crate::support::hostile::{Misbehaviour, start, start_on};
use crate::support::{bin, check, closed_port, gate_file, grafana::Grafana, json, output};

/// One required `http` check against `url`.
fn one_http_gate(url: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    gate_file(&format!(
        "schema_version: 1\nid: X\nname: x\ntargets: {{svc: \"{url}\"}}\nrequirements:\n  - id: r\n    name: r\n    weight: 1\n    required: true\n    checks:\n      - {{id: c, kind: http, target: svc, path: /mtls-status}}\n"
    ))
}

#[test]
fn an_unwritable_report_path_is_exit_2_before_anything_is_probed() {
    let (url, recorder) = start_on("127.0.0.1", Misbehaviour::Silent);
    let (dir, gate) = one_http_gate(&url);
    let ok = dir.path().join("ok.json");
    let (code, stdout, stderr) = output(
        bin()
            .args(["check", "--no-progress", "--gate"])
            .arg(&gate)
            .arg("--report")
            .arg(format!("json={}", ok.display()))
            .args(["--report", "markdown=/nonexistent-dir/report.md"]),
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("/nonexistent-dir/report.md: cannot create the file"),
        "{stderr}"
    );
    assert!(stdout.is_empty());
    assert!(
        recorder.requests().is_empty(),
        "nothing may be probed: {:?}",
        recorder.requests()
    );
}

#[test]
fn an_artifact_that_fails_after_probing_is_exit_4_and_the_others_are_written() {
    let (dir, gate) = one_http_gate(&format!("http://127.0.0.1:{}", closed_port()));
    let md = dir.path().join("report.md");
    let (code, stdout, stderr) = output(
        bin()
            .args(["check", "--no-progress", "--format", "json", "--gate"])
            .arg(&gate)
            .args(["--report", "junit=/dev/full", "--report"])
            .arg(format!("markdown={}", md.display())),
    );
    assert_eq!(code, 4, "{stderr}");
    assert!(stderr.contains("cannot write report /dev/full"), "{stderr}");
    assert!(stderr.contains("the gate is blocked (exit 1 without this)"), "{stderr}");
    let written = std::fs::read_to_string(&md).expect("the markdown report is written");
    assert!(written.contains("BLOCKED"), "{written}");
    assert_eq!(json(&stdout)["verdict"], "blocked", "stdout still has the verdict");
}

#[test]
fn a_closed_stdout_ends_quietly_with_141() {
    for args in [vec!["list"], vec!["schema", "report"], vec!["schema", "gate"]] {
        let mut child = Command::new(assert_cmd::cargo::cargo_bin("medianest-gate"))
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        // The reader goes away at once, as `| head -0` would.
        drop(child.stdout.take());
        let mut stderr = String::new();
        child
            .stderr
            .take()
            .expect("stderr")
            .read_to_string(&mut stderr)
            .expect("read stderr");
        let status = child.wait().expect("wait");
        assert_eq!(status.code(), Some(141), "{args:?}: {stderr}");
        assert!(stderr.is_empty(), "{args:?} says nothing on a closed pipe: {stderr}");
    }
}

#[test]
fn unreadable_diff_inputs_are_exit_2() {
    let (code, _, stderr) = output(bin().args(["diff", "/nonexistent/a.json", "/nonexistent/b.json"]));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("/nonexistent/a.json: cannot read report"), "{stderr}");
    let (code, _, stderr) = output(bin().args(["diff", "/dev/zero", "/dev/zero"]));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("larger than the 64 MiB limit for reports"), "{stderr}");
}

#[test]
fn a_ca_cert_without_a_certificate_is_exit_2() {
    let (dir, gate) = one_http_gate(&format!("http://127.0.0.1:{}", closed_port()));
    let not_pem = dir.path().join("ca.pem");
    std::fs::write(&not_pem, "this is not a certificate\n").expect("write");
    for ca in [not_pem.display().to_string(), "/dev/zero".to_string()] {
        let (code, _, stderr) = output(
            bin()
                .args(["check", "--no-progress", "--gate"])
                .arg(&gate)
                .args(["--ca-cert", &ca]),
        );
        assert_eq!(code, 2, "{ca}: {stderr}");
        assert!(stderr.contains("--ca-cert"), "{stderr}");
    }
}

#[test]
fn a_target_override_without_a_scheme_is_exit_2() {
    let (_dir, gate) = one_http_gate(&format!("http://127.0.0.1:{}", closed_port()));
    for bad in ["svc=localhost:1234", "svc=/var/run/x.sock", "svc=http://"] {
        let (code, stdout, stderr) = output(
            bin()
                .args(["check", "--no-progress", "--gate"])
                .arg(&gate)
                .args(["--target", bad]),
        );
        assert_eq!(code, 2, "{bad}: {stderr}");
        assert!(stderr.contains("--target svc=…"), "{stderr}");
        assert!(stdout.is_empty());
    }
}

#[test]
fn a_server_closing_the_connection_is_a_connection_error_whatever_the_path_says() {
    let url = start(Misbehaviour::CloseAfterRequest);
    let (_dir, gate) = one_http_gate(&url);
    let (_, stdout, stderr) = output(
        bin()
            .args(["check", "--no-progress", "--format", "json", "--gate"])
            .arg(&gate),
    );
    let report = json(&stdout);
    let c = check(&report, "c");
    assert_eq!(c["evidence"]["error"], "connection", "{stderr}\n{c}");
    let text = c.to_string();
    assert!(
        !text.contains("TLS") && !text.contains("--ca-cert"),
        "not a TLS problem: {text}"
    );
}

#[test]
fn a_waived_check_whose_need_failed_is_waived_not_blocked() {
    let port = closed_port();
    let (_dir, gate) = gate_file(&format!(
        "schema_version: 1\nid: W\nname: w\npass: {{min_score: 0}}\ntargets: {{svc: \"http://127.0.0.1:{port}\"}}\nrequirements:\n  - id: infra\n    name: infra\n    weight: 0\n    checks:\n      - {{id: a, kind: http, target: svc}}\n  - id: app\n    name: app\n    weight: 1\n    required: true\n    checks:\n      - {{id: b, kind: http, target: svc, needs: [a], waiver: {{reason: accepted until the migration, expires: 2099-12-31}}}}\n"
    ));
    let (code, stdout, stderr) = output(
        bin()
            .args(["check", "--no-progress", "--format", "json", "--gate"])
            .arg(&gate),
    );
    let report = json(&stdout);
    assert_eq!(check(&report, "b")["status"], "waived", "{stderr}");
    assert_eq!(report["requirements"][1]["status"], "waived");
    assert_eq!(
        code, 0,
        "the only required requirement is waived: {}",
        report["summary"]
    );
}

#[test]
fn hints_name_the_gates_own_variables_not_gate_gs() {
    let g = Grafana::start("healthy");
    let (_dir, gate) = gate_file(
        "schema_version: 1\nid: O\nname: other\ntargets: {dash: \"${DASH_ADDR}\"}\nsecrets: {key: \"${DASH_KEY}\"}\nrequirements:\n  - id: r\n    name: r\n    weight: 1\n    checks:\n      - {id: dash, kind: grafana, target: dash, token: key}\n",
    );
    let (_, stdout, stderr) = output(
        bin()
            .args(["check", "--no-progress", "--format", "json", "--gate"])
            .arg(&gate)
            .env("DASH_ADDR", &g.url)
            .env("DASH_KEY", "glsa_wrong_token_000000000000"),
    );
    let report = json(&stdout);
    let c = check(&report, "dash").to_string();
    assert!(
        c.contains("`DASH_KEY`"),
        "the remediation names the gate's own variable: {c}\n{stderr}"
    );
    assert!(
        !c.contains("GRAFANA_TOKEN") && !c.contains("GRAFANA_USER"),
        "no Gate G names: {c}"
    );
}

#[test]
fn a_duration_flag_too_large_to_add_to_a_clock_is_exit_2_not_a_panic() {
    for flag in [
        vec!["--timeout", "18446744073709551615s"],
        vec!["--wait", "1s", "--interval", "18446744073709551615s"],
        vec!["--wait", "99999999h"],
    ] {
        let (code, stdout, stderr) = output(bin().args(["check", "--no-progress"]).args(&flag));
        assert_eq!(code, 2, "{flag:?}: {stderr}");
        assert!(
            stderr.contains("longer than the maximum of 7 days"),
            "{flag:?}: {stderr}"
        );
        assert!(!stderr.contains("panic") && stdout.is_empty(), "{stderr}");
    }
}

#[test]
fn a_gate_file_that_never_ends_is_exit_2_with_bounded_memory() {
    for sub in [
        vec!["check", "--no-progress", "--gate", "/dev/zero"],
        vec!["validate", "/dev/zero"],
        vec!["list", "--gate", "/dev/zero"],
    ] {
        let (code, stdout, stderr) = output(bin().args(&sub));
        assert_eq!(code, 2, "{sub:?}: {stderr}");
        assert!(
            stderr.contains("/dev/zero: is larger than the 8 MiB limit for gate files"),
            "{sub:?}: {stderr}"
        );
        assert!(stdout.is_empty());
    }
}
