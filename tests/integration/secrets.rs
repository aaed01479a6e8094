//! Secrets never leave, in any form: cut by an excerpt, Basic auth's base64,
//! percent-encoded in a redirect, as URL credentials or secret query values,
//! in load errors, or in a `Referer` to another host. Every format, every
//! `--report` file (the HTML page too) and `-v` are searched for any run of 8 characters of the
//! secret. And redaction never renames the gate's own ids.

use std::path::Path;

use crate::support::hostile::{Misbehaviour, Route, start, start_on};
use crate::support::{bin, check, closed_port, gate_file, json, output};

const TOKEN: &str = "sekr3t-Tok3n-7a1f90c2e4b6d8a0-Z9y8x7w6";
const USER: &str = "gate-reader-account";
const PASSWORD: &str = "pa55word-with-some-length";

/// Fails when any 8-character run of `secret` appears in `text`.
#[track_caller]
fn assert_no_window(what: &str, text: &str, secret: &str) {
    for w in secret.as_bytes().windows(8) {
        let w = std::str::from_utf8(w).unwrap_or_default();
        assert!(!text.contains(w), "{what}: `{w}` of the secret leaked:\n{text}");
    }
}

/// Runs `check` in every format, with every `--report` file and `-v`, and
/// returns every byte it produced (and the JSON report).
fn every_output(gate: &Path, env: &[(&str, &str)]) -> (String, serde_json::Value) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut all = String::new();
    let mut report = serde_json::Value::Null;
    for format in ["table", "json", "markdown", "junit"] {
        let mut cmd = bin();
        cmd.args([
            "check",
            "--no-progress",
            "-v",
            "--timeout",
            "3s",
            "--format",
            format,
            "--gate",
        ])
        .arg(gate);
        for f in ["table", "json", "markdown", "junit", "github", "codequality", "html"] {
            cmd.arg("--report")
                .arg(format!("{f}={}", dir.path().join(format!("r.{f}")).display()));
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let (_, stdout, stderr) = output(&mut cmd);
        if format == "json" {
            report = json(&stdout);
        }
        all.push_str(&stdout);
        all.push_str(&stderr);
        for f in ["table", "json", "markdown", "junit", "github", "codequality", "html"] {
            all.push_str(&std::fs::read_to_string(dir.path().join(format!("r.{f}"))).unwrap_or_default());
        }
    }
    (all, report)
}

fn one_check_gate(targets: &str, secrets: &str, check: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    gate_file(&format!(
        "schema_version: 1\nid: S\nname: s\ntargets: {{{targets}}}\nsecrets: {{{secrets}}}\nrequirements:\n  - id: r\n    name: r\n    weight: 1\n    checks:\n      - {check}\n"
    ))
}

#[test]
fn a_token_echoed_and_cut_by_an_excerpt_is_redacted_in_every_output() {
    // The server echoes the token at character 180, so the 200-character
    // excerpt cuts it after 20 characters.
    let body = format!("{{\"error\": \"{}{TOKEN} was rejected\"}}", "x".repeat(168));
    let url = start(Misbehaviour::Routes(vec![Route::new(
        "/",
        "500 Internal Server Error",
        "application/json",
        body,
    )]));
    let (_d, gate) = one_check_gate(
        &format!("svc: \"{url}\""),
        "tok: \"${SECRET_TOKEN}\"",
        "{id: c, kind: http, target: svc, path: /health, token: tok}",
    );
    let (all, report) = every_output(&gate, &[("SECRET_TOKEN", TOKEN)]);
    assert_eq!(check(&report, "c")["status"], "fail", "{}", check(&report, "c"));
    assert_no_window("a cut excerpt", &all, TOKEN);
}

#[test]
fn basic_auth_base64_echoed_by_grafana_is_redacted() {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"));
    let unauthorized = format!("{{\"message\": \"invalid credentials in Authorization: Basic {b64}\"}}");
    let url = start(Misbehaviour::Routes(vec![
        Route::new(
            "/api/health",
            "200 OK",
            "application/json",
            "{\"commit\":\"abc\",\"database\":\"ok\",\"version\":\"11.2.0\"}",
        ),
        Route::new("/api/", "401 Unauthorized", "application/json", unauthorized),
    ]));
    let (_d, gate) = one_check_gate(
        &format!("graf: \"{url}\""),
        "u: \"${G_USER}\", p: \"${G_PASS}\"",
        "{id: g, kind: grafana, target: graf, user: u, password: p}",
    );
    let (all, report) = every_output(&gate, &[("G_USER", USER), ("G_PASS", PASSWORD)]);
    assert_eq!(check(&report, "g")["status"], "fail", "{}", check(&report, "g"));
    assert_no_window("Basic base64", &all, &b64);
    assert_no_window("the password", &all, PASSWORD);
}

#[test]
fn a_percent_encoded_token_in_a_redirect_location_is_redacted() {
    let encoded = percent_encoding::utf8_percent_encode(TOKEN, percent_encoding::NON_ALPHANUMERIC).to_string();
    let dead = closed_port();
    let url = start(Misbehaviour::RedirectTo {
        location: format!("http://127.0.0.1:{dead}/callback?t={encoded}"),
    });
    let (_d, gate) = one_check_gate(
        &format!("svc: \"{url}\""),
        "tok: \"${SECRET_TOKEN}\"",
        "{id: c, kind: http, target: svc, path: /health, token: tok}",
    );
    let (all, _) = every_output(&gate, &[("SECRET_TOKEN", TOKEN)]);
    assert_no_window("percent-encoded", &all, &encoded);
    assert_no_window("raw", &all, TOKEN);
}

#[test]
fn credentials_in_a_target_url_and_secret_query_values_are_masked() {
    let dead = closed_port();
    let (_d, gate) = one_check_gate(
        &format!("svc: \"http://admin:{PASSWORD}@127.0.0.1:{dead}\""),
        "tok: \"${SECRET_TOKEN}\"",
        &format!("{{id: c, kind: http, target: svc, path: \"/health?api_key={TOKEN}&page=2\"}}"),
    );
    let (all, report) = every_output(&gate, &[("SECRET_TOKEN", "unused-but-declared")]);
    assert_eq!(check(&report, "c")["status"], "error");
    assert_no_window("URL password", &all, PASSWORD);
    assert_no_window("query value", &all, TOKEN);
    assert!(all.contains("page=2"), "the rest of the URL stays readable");
}

#[test]
fn load_errors_never_print_a_secret() {
    let (_d, gate) = one_check_gate(
        &format!("svc: \"http://u:{PASSWORD}@[bad\""),
        "tok: \"${SECRET_TOKEN}\"",
        "{id: c, kind: http, target: svc, path: \"${SECRET_TOKEN}/x\", token: tok}",
    );
    for sub in ["check", "validate"] {
        let mut cmd = bin();
        cmd.arg(sub);
        if sub == "check" {
            cmd.arg("--gate");
        }
        let (code, stdout, stderr) = output(cmd.arg(&gate).env("SECRET_TOKEN", TOKEN));
        assert_eq!(code, 2, "{sub}: {stderr}");
        assert!(stderr.contains("must start with `/`"), "{sub}: {stderr}");
        assert_no_window(sub, &format!("{stdout}{stderr}"), PASSWORD);
        assert_no_window(sub, &format!("{stdout}{stderr}"), TOKEN);
    }
}

#[test]
fn no_referer_and_no_secret_header_reach_another_host() {
    let (other, recorder) = start_on(
        "127.0.0.2",
        Misbehaviour::Json {
            status: "200 OK",
            body: "{}",
        },
    );
    let url = start(Misbehaviour::RedirectTo {
        location: format!("{other}/landing"),
    });
    let (_d, gate) = one_check_gate(
        &format!("svc: \"{url}\""),
        "tok: \"${SECRET_TOKEN}\"",
        "{id: c, kind: http, target: svc, path: \"/health?access_token=${SECRET_TOKEN}\", token: tok}",
    );
    let (_, _, stderr) = output(
        bin()
            .args(["check", "--no-progress", "--gate"])
            .arg(&gate)
            .env("SECRET_TOKEN", TOKEN),
    );
    let requests = recorder.requests();
    assert!(!requests.is_empty(), "the redirect was followed: {stderr}");
    for r in requests {
        assert!(
            !r.to_ascii_lowercase().contains("referer:"),
            "no Referer to another host:\n{r}"
        );
        assert_no_window("request to another host", &r, TOKEN);
    }
}

#[test]
fn redaction_never_renames_the_gates_own_ids() {
    let dead = closed_port();
    let (_d, gate) = gate_file(&format!(
        "schema_version: 1\nid: S\nname: s\ntargets: {{svc: \"http://127.0.0.1:{dead}\"}}\nsecrets: {{tok: \"${{METRICS_TOKEN}}\"}}\nrequirements:\n  - id: health\n    name: health\n    weight: 1\n    checks:\n      - {{id: health, kind: http, target: svc, token: tok}}\n      - {{id: health-api-v1, kind: http, target: svc, path: /api/v1/health}}\n"
    ));
    let (_, stdout, stderr) = output(
        bin()
            .args(["check", "--no-progress", "--format", "json", "--gate"])
            .arg(&gate)
            .env("METRICS_TOKEN", "health"),
    );
    let report = json(&stdout);
    let ids: Vec<&str> = report["requirements"][0]["checks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["id"].as_str())
        .collect();
    assert_eq!(ids, ["health", "health-api-v1"], "{stderr}");
    assert_eq!(report["requirements"][0]["id"], "health");
    assert!(report["root_causes"][0]["checks"].to_string().contains("health-api-v1"));
}
