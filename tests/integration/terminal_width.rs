//! The terminal table sized to the terminal: the real binary on a
//! pseudo-terminal 80 and 120 columns wide (and one whose `COLUMNS` says
//! 90), against a stack whose failures have long causes: the backend
//! refuses connections, Prometheus accepts and never answers, a Grafana
//! datasource reports an error, and Loki's retention is set but not enforced.

use crate::support::grafana::{GRAFANA_TOKEN, Grafana};
use crate::support::hostile::{self, Misbehaviour};
use crate::support::loki::Loki;
use crate::support::pty::{self, TtyRun, columns, strip_ansi};
use crate::support::{TOKEN, closed_port, normalize_table, snapshot_settings};

/// The fixture servers live as long as this.
struct BrokenStack {
    _grafana: Grafana,
    _loki: Loki,
    args: Vec<String>,
}

impl BrokenStack {
    fn start() -> Self {
        let grafana = Grafana::start("datasource-error");
        let loki = Loki::start("retention-3d-not-enforced");
        let hung = hostile::start(Misbehaviour::Silent);
        let refused = format!("http://127.0.0.1:{}", closed_port());
        let mut args: Vec<String> = ["check", "--no-progress", "--timeout", "1s"].map(String::from).to_vec();
        for (name, url) in [
            ("backend", refused.as_str()),
            ("prometheus", hung.as_str()),
            ("grafana", grafana.url.as_str()),
            ("loki", loki.url.as_str()),
            ("alertmanager", refused.as_str()),
            ("tracing", refused.as_str()),
        ] {
            args.push("--target".into());
            args.push(format!("{name}={url}"));
        }
        // No Docker here: those checks are filtered out, and so named.
        args.extend(["--skip", "grafana-container", "--skip", "docker-network"].map(String::from));
        BrokenStack {
            _grafana: grafana,
            _loki: loki,
            args,
        }
    }

    fn on_tty(&self, cols: u16, extra: &[&str], env: &[(&str, &str)]) -> TtyRun {
        let mut args = self.args.clone();
        args.extend(extra.iter().map(|s| s.to_string()));
        let mut env = env.to_vec();
        env.extend([("METRICS_TOKEN", TOKEN), ("GRAFANA_TOKEN", GRAFANA_TOKEN)]);
        let run = pty::run(cols, &args, &env);
        assert_eq!(run.code, 1, "the broken stack is blocked:\n{}", run.screen);
        assert!(!run.screen.contains("panicked"), "{}", run.screen);
        run
    }
}

/// The widest line, in display columns, once colours are stripped.
fn widest(screen: &str) -> (usize, String) {
    screen
        .lines()
        .map(|l| {
            let plain = strip_ansi(l);
            (columns(&plain), plain)
        })
        .max_by_key(|(w, _)| *w)
        .unwrap_or_default()
}

#[test]
fn the_table_fits_an_80_and_a_120_column_terminal_line_by_line() {
    let stack = BrokenStack::start();
    for cols in [80, 120] {
        // In colour, as a person sees it: the escape codes take no columns.
        let run = stack.on_tty(cols, &["--color", "always"], &[]);
        assert!(run.screen.contains("\x1b["), "coloured on a terminal");
        let (w, line) = widest(&run.screen);
        assert!(
            w <= usize::from(cols),
            "{cols} columns, a line of {w}:\n{line}\n{}",
            run.screen
        );
        // The layout uses the room it has: the detail column fills it.
        assert!(
            w > usize::from(cols) - 8,
            "{cols} columns, widest line {w}:\n{}",
            run.screen
        );
    }
}

/// The requests paragraph lists targets by address, and the fixtures' ports
/// are random: its order (and so its wrapping) changes from run to run.
fn without_requests(screen: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for line in screen.lines() {
        if line.starts_with("Requests sent: ") {
            inside = true;
            out.push_str("Requests sent: [BY ADDRESS]\n");
            continue;
        }
        if inside && line.starts_with(' ') {
            continue;
        }
        inside = false;
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[test]
fn the_table_at_80_and_120_columns() {
    let stack = BrokenStack::start();
    snapshot_settings().bind(|| {
        for cols in [80, 120] {
            let run = stack.on_tty(cols, &["--color", "never"], &[]);
            insta::assert_snapshot!(
                format!("tty_table_{cols}"),
                without_requests(&normalize_table(&run.screen))
            );
        }
    });
}

#[test]
fn one_line_per_requirement_and_each_cause_once() {
    let stack = BrokenStack::start();
    let run = stack.on_tty(80, &["--color", "never"], &[]);
    let s = &run.screen;
    for id in ["metrics-endpoint", "health-checks", "docker-network", "error-rate"] {
        let rows: Vec<&str> = s.lines().filter(|l| l.starts_with(&format!("│ {id} "))).collect();
        assert_eq!(rows.len(), 1, "{id}: {rows:?}\n{s}");
    }
    // The refused backend fails four checks; its cause heads one blocker.
    let refused = s
        .lines()
        .filter(|l| l.starts_with("  [") && l.contains("refused the connection"))
        .count();
    assert_eq!(refused, 1, "{s}");
    // The filtered-out checks are named on one line, not a row each.
    assert!(
        !s.lines().any(|l| l.starts_with("│ grafana-container ")),
        "no row for a check that did not run:\n{s}"
    );
    assert!(
        s.contains("2 checks not run (skipped by --only/--skip): grafana-container,"),
        "{s}"
    );
}

#[test]
fn columns_in_the_environment_override_the_terminal() {
    let stack = BrokenStack::start();
    let run = stack.on_tty(80, &["--color", "never"], &[("COLUMNS", "90")]);
    let (w, line) = widest(&run.screen);
    assert!(w <= 90, "COLUMNS=90, a line of {w}:\n{line}");
    assert!(
        w > 80,
        "COLUMNS=90 is used, not the terminal's 80 (widest {w}):\n{}",
        run.screen
    );
}

#[test]
fn list_fits_an_80_column_terminal() {
    let run = pty::run(80, &["list".to_string()], &[]);
    assert_eq!(run.code, 0, "{}", run.screen);
    let (w, line) = widest(&run.screen);
    assert!(w <= 80, "a line of {w}:\n{line}\n{}", run.screen);
    for s in [
        "metrics-endpoint",
        "prometheus-backend-network",
        "telemetry_roundtrip",
        "needs prometheus-targets",
    ] {
        assert!(run.screen.contains(s), "list lacks {s}:\n{}", run.screen);
    }
}

#[test]
fn piped_output_keeps_its_fixed_width_whatever_columns_says() {
    // Not a terminal: 100 columns, so logs and files read the same everywhere.
    let (code, stdout, stderr) = crate::support::output(crate::support::bin().arg("list").env("COLUMNS", "60"));
    assert_eq!(code, 0, "{stderr}");
    let (w, line) = widest(&stdout);
    assert!(w <= 100, "a line of {w}:\n{line}");
    assert!(w > 60, "COLUMNS is for terminals only (widest {w}):\n{stdout}");
}
