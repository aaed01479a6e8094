//! `lint-metrics`: exit 0 for a valid exposition, 1 with `line:column` and
//! the reason for an invalid one, OpenMetrics rules with `--openmetrics` or a
//! final `# EOF`, and the same parser the `metrics_endpoint` probe uses.

use assert_cmd::Command;

use crate::support::{bin, fixture, output};

fn lint(args: &[&str], stdin: Option<&str>) -> (i32, String, String) {
    let mut cmd: Command = bin();
    cmd.arg("lint-metrics").args(args);
    if let Some(input) = stdin {
        cmd.write_stdin(input.to_string());
    }
    output(&mut cmd)
}

#[test]
fn valid_exposition_exits_0_with_a_summary() {
    let path = fixture("backend/metrics-ok.prom");
    let (code, stdout, stderr) = lint(&[path.to_str().unwrap()], None);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.is_empty(), "nothing on stdout when valid: {stdout}");
    assert!(
        stderr.contains("valid text 0.0.4 exposition (4 families, 13 series)"),
        "{stderr}"
    );
}

#[test]
fn syntax_error_exits_1_with_line_and_column() {
    let path = fixture("backend/metrics-malformed.prom");
    let (code, stdout, _) = lint(&[path.to_str().unwrap()], None);
    assert_eq!(code, 1);
    let line = stdout.lines().next().unwrap_or_default();
    assert!(line.starts_with(&format!("{}:5:", path.display())), "{line}");
}

#[test]
fn malformed_histogram_is_reported_per_line() {
    let path = fixture("backend/metrics-broken-histogram.prom");
    let (code, stdout, _) = lint(&[path.to_str().unwrap()], None);
    assert_eq!(code, 1);
    assert!(stdout.contains("cumulative"), "{stdout}");
    assert!(stdout.contains("_count"), "{stdout}");
}

#[test]
fn stdin_and_openmetrics_rules_apply() {
    // Valid as text 0.0.4, invalid as OpenMetrics (no `# EOF`).
    let body = "# TYPE x counter\nx_total 1\n";
    let (code, _, _) = lint(&["-"], Some(body));
    assert_eq!(code, 0);
    let (code, stdout, _) = lint(&["--openmetrics", "-"], Some(body));
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.starts_with("<stdin>:"), "{stdout}");
    // A final `# EOF` selects OpenMetrics by itself: `untyped` is not an OpenMetrics type.
    let (code, stdout, _) = lint(&[], Some("# TYPE x untyped\nx 1\n# EOF\n"));
    assert_eq!(code, 1, "{stdout}");
    let (code, _, stderr) = lint(
        &[],
        Some(&std::fs::read_to_string(fixture("backend/metrics-openmetrics.txt")).unwrap()),
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("valid OpenMetrics exposition"), "{stderr}");
}

#[test]
fn missing_file_is_a_usage_error() {
    let (code, _, stderr) = lint(&["/nonexistent/metrics.prom"], None);
    assert_eq!(code, 2, "an unreadable input is a usage error, not a verdict: {stderr}");
    assert!(stderr.contains("cannot open /nonexistent/metrics.prom"), "{stderr}");
}
