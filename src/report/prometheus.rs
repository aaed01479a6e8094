//! The gate's own result as Prometheus metrics, in the text exposition
//! format 0.0.4 that node_exporter's textfile collector reads
//! (`--collector.textfile.directory`): the score and verdict, each
//! requirement's score, each check's status, the run's duration and when it
//! finished. Every family has HELP and TYPE, and no sample carries a
//! timestamp (the textfile collector refuses them).
//!
//! A check's status is one-hot: `medianest_gate_check_status` has one series
//! per status for every check, 1 for the status it has and 0 for the other
//! five, so `medianest_gate_check_status{status="fail"} == 1` selects the
//! failing checks and a status change never leaves a stale series behind.
//!
//! Label values are the gate's own ids and name, no server text. They are
//! still made inert like every renderer's text ([`crate::text::escape`]:
//! controls, bidi overrides and line breaks shown as `\x1b`, `\n`, …, so a
//! `cat` of the file cannot drive a terminal), then escaped as the text
//! format requires (`\\`, `\"`, and `\n` should a newline remain).

use std::fmt::Write as _;
use std::io;
use std::time::{Duration, UNIX_EPOCH};

use super::{RenderOptions, Renderer, Report};
use crate::status::{ReqStatus, Status};

pub struct Prometheus;

/// Every check status, in the order the one-hot series are written.
const STATUSES: [Status; 6] = [
    Status::Pass,
    Status::Fail,
    Status::Error,
    Status::Blocked,
    Status::Skipped,
    Status::Waived,
];

impl Renderer for Prometheus {
    fn render(&self, r: &Report, out: &mut dyn io::Write, _opts: RenderOptions) -> io::Result<()> {
        out.write_all(exposition(r).as_bytes())
    }
}

/// The whole exposition: built in memory, so a file is written in one go.
fn exposition(r: &Report) -> String {
    let mut t = Text::default();
    let gate = [("gate", r.gate.id.as_str())];

    t.family(
        "medianest_gate_info",
        "The gate that was run, its name and the medianest-gate version; always 1.",
    );
    t.sample(
        "medianest_gate_info",
        &[
            ("gate", &r.gate.id),
            ("gate_name", &r.gate.name),
            ("version", &r.tool.version),
        ],
        1.0,
    );
    t.family("medianest_gate_score", "Weighted compliance score of the gate, 0-100.");
    t.sample("medianest_gate_score", &gate, r.score);
    t.family("medianest_gate_min_score", "Score the gate needs to pass, 0-100.");
    t.sample("medianest_gate_min_score", &gate, r.gate.threshold);
    t.family(
        "medianest_gate_passed",
        "1 if the gate passed, 0 if it is blocked or partial.",
    );
    t.sample("medianest_gate_passed", &gate, bool_value(r.passed));
    t.family(
        "medianest_gate_partial",
        "1 if required requirements or checks were skipped (the run is partial), else 0.",
    );
    t.sample("medianest_gate_partial", &gate, bool_value(r.partial));

    t.family(
        "medianest_gate_requirement_score",
        "Score of each requirement, 0-100: passed check weight over evaluated check weight. Absent for a requirement whose checks were all skipped.",
    );
    for q in r.requirements.iter().filter(|q| q.status != ReqStatus::Skipped) {
        t.sample(
            "medianest_gate_requirement_score",
            &[("gate", &r.gate.id), ("requirement", &q.id)],
            q.score,
        );
    }

    t.family(
        "medianest_gate_check_status",
        "Status of each check, one-hot: 1 for the status it has (pass, fail, error, blocked, skipped, waived), 0 for the others.",
    );
    for (q, c) in r.all_checks() {
        for s in STATUSES {
            t.sample(
                "medianest_gate_check_status",
                &[
                    ("gate", &r.gate.id),
                    ("requirement", &q.id),
                    ("check", &c.id),
                    ("status", s.as_str()),
                ],
                bool_value(c.status == s),
            );
        }
    }
    t.family(
        "medianest_gate_check_duration_seconds",
        "How long each check that ran took, in seconds.",
    );
    for (q, c) in r.all_checks().filter(|(_, c)| c.status != Status::Skipped) {
        t.sample(
            "medianest_gate_check_duration_seconds",
            &[("gate", &r.gate.id), ("requirement", &q.id), ("check", &c.id)],
            seconds(c.duration_ms),
        );
    }

    t.family(
        "medianest_gate_run_duration_seconds",
        "How long the run took, in seconds (every --wait attempt included).",
    );
    t.sample("medianest_gate_run_duration_seconds", &gate, seconds(r.duration_ms));
    // A report whose start time cannot be read (none written by this tool)
    // gets no timestamp rather than a made-up one.
    if let Some(finished) = finished_at(r) {
        t.family(
            "medianest_gate_last_run_timestamp_seconds",
            "When the run finished, in seconds since the Unix epoch.",
        );
        t.sample("medianest_gate_last_run_timestamp_seconds", &gate, finished);
    }
    t.0
}

/// The exposition being written.
#[derive(Default)]
struct Text(String);

impl Text {
    /// HELP and TYPE of a gauge family.
    fn family(&mut self, name: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {}", escape_help(help));
        let _ = writeln!(self.0, "# TYPE {name} gauge");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.0.push_str(name);
        self.0.push('{');
        for (i, (k, v)) in labels.iter().enumerate() {
            if i > 0 {
                self.0.push(',');
            }
            let _ = write!(self.0, "{k}=\"{}\"", escape_label(&crate::text::escape(v)));
        }
        self.0.push('}');
        let _ = writeln!(self.0, " {}", number(value));
    }
}

/// A label value as the text format spells it: backslash, double quote and
/// line feed escaped; everything else is UTF-8 as it is.
fn escape_label(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str(r"\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str(r"\n"),
            c => out.push(c),
        }
    }
    out
}

/// HELP text: backslash and line feed escaped (quotes are literal there).
fn escape_help(s: &str) -> String {
    s.replace('\\', r"\\").replace('\n', r"\n")
}

/// A sample value; the report's numbers are finite, but a non-finite one is
/// spelled the way the format does rather than as Rust's `inf`.
fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_string()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.to_string()
    } else {
        format!("{v}")
    }
}

fn bool_value(b: bool) -> f64 {
    if b { 1.0 } else { 0.0 }
}

fn seconds(ms: u64) -> f64 {
    Duration::from_millis(ms).as_secs_f64()
}

/// Seconds since the epoch when the run finished: its start plus its duration.
fn finished_at(r: &Report) -> Option<f64> {
    let started = humantime::parse_rfc3339(&r.started_at).ok()?;
    let finished = started.checked_add(Duration::from_millis(r.duration_ms))?;
    Some(finished.duration_since(UNIX_EPOCH).ok()?.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::super::table::hostile::{self, EVIL};
    use super::*;
    use crate::exposition;

    fn render(r: &Report) -> String {
        crate::report::render_to_string(crate::report::Format::Prometheus, r, RenderOptions::default()).expect("render")
    }

    #[test]
    fn label_values_are_escaped_as_the_text_format_requires() {
        assert_eq!(escape_label("a\\b\"c\nd\te"), "a\\\\b\\\"c\\nd\te");
        assert_eq!(escape_help("x\\y\nz \"q\""), "x\\\\y\\nz \"q\"");
    }

    #[test]
    fn hostile_ids_still_make_a_valid_exposition_with_one_line_per_sample() {
        let text = render(&hostile::report());
        // Every line is a comment or a sample: no id broke out of its label.
        for line in text.lines() {
            assert!(
                line.starts_with("# ") || line.starts_with("medianest_gate_"),
                "{line:?}"
            );
        }
        let options = exposition::LintOptions {
            format: Some(exposition::Format::Text),
            ..Default::default()
        };
        let lint = exposition::lint(text.as_bytes(), &options).expect("read from memory");
        assert!(lint.error.is_none(), "{:?}\n{text}", lint.error);
        assert!(lint.findings.is_empty(), "{:?}\n{text}", lint.findings);
        assert!(text.contains(&escape_label(&crate::text::escape(&format!("gate id: {EVIL}")))));
        let raw: Vec<char> = text
            .chars()
            .filter(|c| *c != '\n' && crate::text::is_unsafe(*c))
            .collect();
        assert!(raw.is_empty(), "unescaped controls {raw:?}");
    }

    #[test]
    fn check_status_is_one_hot_over_the_six_statuses() {
        let text = render(&hostile::report());
        let status_lines: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("medianest_gate_check_status{"))
            .collect();
        assert_eq!(status_lines.len(), 6 * 6);
        let ones: Vec<&str> = status_lines.iter().filter(|l| l.ends_with("} 1")).copied().collect();
        assert_eq!(ones.len(), 6, "one status per check");
        for s in STATUSES {
            let own = format!("check=\"{}", s.as_str());
            let mine = format!("status=\"{}\"", s.as_str());
            assert!(
                ones.iter().any(|l| l.contains(&own) && l.contains(&mine)),
                "{s:?}: {ones:?}"
            );
        }
    }

    #[test]
    fn the_timestamp_is_when_the_run_finished_and_absent_when_unknown() {
        let mut r = hostile::report();
        r.started_at = "2026-11-30T10:00:00.000Z".into();
        r.duration_ms = 1500;
        let text = render(&r);
        assert!(
            text.contains("medianest_gate_last_run_timestamp_seconds{gate="),
            "{text}"
        );
        assert!(text.contains("} 1796032801.5\n"), "{text}");
        assert!(text.contains("medianest_gate_run_duration_seconds{") && text.contains("} 1.5\n"));
        r.started_at = "not a time".into();
        assert!(!render(&r).contains("last_run_timestamp"));
    }

    #[test]
    fn skipped_requirements_have_no_score_series() {
        let mut r = hostile::report();
        r.requirements[0].status = ReqStatus::Skipped;
        let text = render(&r);
        assert!(text.contains("# TYPE medianest_gate_requirement_score gauge"));
        assert!(!text.contains("medianest_gate_requirement_score{"), "{text}");
    }
}
