//! `--report prometheus=PATH` and `--format prometheus`: the gate's own
//! result as a node_exporter textfile, valid by `promtool check metrics`
//! and by our own `lint-metrics --strict`, read by the real node_exporter's
//! textfile collector, and written atomically over an earlier run's file.

use std::path::Path;
use std::process::Command;

use crate::support::backend::Backend;
use crate::support::{bin, closed_port, daemon, exporters, gate_file, output, snapshot_settings};

/// A required requirement with a pass and a failure, an advisory one that
/// errors, and a check `--skip` leaves out.
fn gate(backend: &str) -> String {
    format!(
        r#"schema_version: 1
id: T
name: "textfile \"gate\" \e[2J"
targets: {{ backend: "{backend}", dead: "http://127.0.0.1:{dead}" }}
requirements:
  - id: api
    name: api
    weight: 10
    required: true
    checks:
      - {{ id: health, kind: http, target: backend, path: /health }}
      - {{ id: missing, kind: http, target: backend, path: /no-such-page }}
      - {{ id: later, kind: http, target: backend, path: /api/health }}
  - id: extra
    name: extra
    weight: 0
    checks:
      - {{ id: extra-dead, kind: http, target: dead }}
"#,
        dead = closed_port()
    )
}

/// Runs the gate with `--report prometheus=PATH` and `--format prometheus`;
/// returns (exit code, stdout, the file).
fn run(yaml: &str, path: &Path) -> (i32, String, String) {
    let (_dir, gate) = gate_file(yaml);
    let (code, stdout, stderr) = output(
        bin()
            .args([
                "check",
                "--no-progress",
                "--format",
                "prometheus",
                "--skip",
                "later",
                "--gate",
            ])
            .arg(&gate)
            .arg("--report")
            .arg(format!("prometheus={}", path.display())),
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    let file = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("no textfile ({e}); stderr:\n{stderr}"));
    (code, stdout, file)
}

#[test]
fn the_textfile_passes_promtool_and_lint_metrics_strict_and_matches_its_snapshot() {
    let backend = Backend::healthy();
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("medianest_gate.prom");
    let (code, stdout, file) = run(&gate(&backend.url), &path);
    assert_eq!(code, 1, "the failing required check blocks the gate:\n{file}");
    assert_eq!(stdout, file, "--format prometheus prints what the file holds");

    let promtool = daemon::required("promtool", "prometheus");
    let checked = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(std::fs::File::open(&path).expect("open the textfile"))
        .output()
        .expect("run promtool");
    assert!(
        checked.status.success() && checked.stdout.is_empty() && checked.stderr.is_empty(),
        "promtool check metrics: {}{}\n{file}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
    let (lint_code, lint_out, lint_err) = output(bin().args(["lint-metrics", "--strict"]).arg(&path));
    assert_eq!(lint_code, 0, "lint-metrics --strict: {lint_out}{lint_err}\n{file}");

    for line in [
        "medianest_gate_score{gate=\"T\"} 50",
        "medianest_gate_passed{gate=\"T\"} 0",
        "medianest_gate_requirement_score{gate=\"T\",requirement=\"api\"} 50",
        "medianest_gate_check_status{gate=\"T\",requirement=\"api\",check=\"missing\",status=\"fail\"} 1",
        "medianest_gate_check_status{gate=\"T\",requirement=\"api\",check=\"later\",status=\"skipped\"} 1",
        "medianest_gate_check_status{gate=\"T\",requirement=\"extra\",check=\"extra-dead\",status=\"error\"} 1",
    ] {
        assert!(file.lines().any(|l| l == line), "no `{line}` in:\n{file}");
    }
    // The gate's name holds quotes and a terminal escape: both escaped,
    // so the line still parses and a `cat` of the file stays harmless.
    assert!(file.contains(r#"gate_name="textfile \"gate\" \\x1b[2J""#), "{file}");
    assert!(!file.contains('\u{1b}'), "{file}");

    let mut settings = snapshot_settings();
    settings.add_filter(r"(_seconds\{[^}]*\}) [0-9.e+-]+", "$1 [SECONDS]");
    settings.add_filter(r#"version="[^"]*""#, r#"version="[VERSION]""#);
    settings.bind(|| insta::assert_snapshot!("prometheus_textfile", file));
}

#[test]
fn node_exporters_textfile_collector_reads_the_report_without_errors() {
    let backend = Backend::healthy();
    let node = exporters::node_exporter_textfile();
    let path = node.dir.path().join("medianest_gate.prom");
    let (_, _, file) = run(&gate(&backend.url), &path);
    let (status, body) = daemon::get(node.addr, "/metrics").expect("scrape node_exporter");
    assert_eq!(status, 200, "{body}");
    assert!(
        body.lines().any(|l| l == "node_textfile_scrape_error 0"),
        "the collector refused the file:\n{}\n{file}",
        node.log_tail()
    );
    for line in [
        "medianest_gate_passed{gate=\"T\"} 0",
        "medianest_gate_check_status{check=\"missing\",gate=\"T\",requirement=\"api\",status=\"fail\"} 1",
    ] {
        assert!(
            body.lines().any(|l| l == line),
            "node_exporter does not serve `{line}`:\n{body}"
        );
    }
}

#[test]
fn a_new_run_replaces_the_textfile_whole_and_leaves_no_temporary_file() {
    let backend = Backend::healthy();
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("medianest_gate.prom");
    std::fs::write(&path, "# an earlier run\n").expect("write the old file");
    let (_, _, file) = run(&gate(&backend.url), &path);
    assert!(file.starts_with("# HELP medianest_gate_info "), "{file}");
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .expect("list the directory")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["medianest_gate.prom"], "a temporary file was left behind");
}
