//! Reports: one model ([`model::Report`]), its renderings behind one trait,
//! one file per format. Adding a format is one file plus one arm in [`renderer`].

mod build;
mod codequality;
mod findings;
mod github;
mod groups;
mod html;
mod json;
mod junit;
pub mod layout;
mod markdown;
pub mod model;
mod prometheus;
mod table;

use std::io;

pub use build::{RunMeta, build};
pub use model::{Report, RequestCount, RequestsReport, WarmUpReport};

/// Output formats for `--format` and `--report FORMAT=PATH`.
///
/// The clap names and `#[value(alias)]`es here are the only spelling of a
/// format: `--format` parses through clap and [`Format::parse`] through the
/// same `ValueEnum`, so a new variant is accepted by both at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A terminal table for people.
    Table,
    /// The versioned JSON report for machines.
    Json,
    /// A blocker report to paste into a PR or `$GITHUB_STEP_SUMMARY`.
    #[value(alias = "md")]
    Markdown,
    /// JUnit XML: one test case per check, for CI test tabs.
    #[value(alias = "xml")]
    Junit,
    /// The gate's result as Prometheus metrics for node_exporter's textfile collector.
    #[value(alias = "prom")]
    Prometheus,
    /// GitHub Actions annotations (`::error`/`::warning`), most important first.
    Github,
    /// GitLab Code Quality JSON: one issue per check that did not pass.
    Codequality,
    /// One self-contained HTML page for people: gauge, bars, fix path,
    /// blockers, checks by status, and the score trend with `--history`.
    Html,
}

impl Format {
    /// A format by name or alias, ignoring case, exactly as `--format` takes it.
    pub fn parse(s: &str) -> Option<Self> {
        <Self as clap::ValueEnum>::from_str(s, true).ok()
    }

    /// Every format's name, for messages: `table, json, markdown or junit`.
    pub fn names() -> String {
        let names: Vec<String> = <Self as clap::ValueEnum>::value_variants()
            .iter()
            .filter_map(|f| clap::ValueEnum::to_possible_value(f).map(|v| v.get_name().to_string()))
            .collect();
        match names.split_last() {
            Some((last, [])) => last.clone(),
            Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
            None => String::new(),
        }
    }
}

/// Rendering options that are not part of the report.
#[derive(Debug, Clone, Copy, Default)]
pub struct RenderOptions<'a> {
    pub color: bool,
    /// Display columns the table must fit: the terminal's when stdout is
    /// one; `None` lays out for [`layout::LOG_WIDTH`].
    pub width: Option<u16>,
    /// Recent runs of the gate, oldest first and this run last, when
    /// `check --history` was given (the HTML report draws them); empty
    /// otherwise. Not part of the report model: its JSON has a fixed schema.
    pub trend: &'a [TrendPoint],
}

/// One run's score in the history, for the HTML report's trend.
#[derive(Debug, Clone, PartialEq)]
pub struct TrendPoint {
    /// RFC 3339, UTC: when the run started.
    pub time: String,
    pub score: f64,
    pub passed: bool,
}

/// One output format.
pub trait Renderer {
    fn render(&self, report: &Report, out: &mut dyn io::Write, opts: RenderOptions<'_>) -> io::Result<()>;
}

pub fn renderer(format: Format) -> Box<dyn Renderer> {
    match format {
        Format::Table => Box::new(table::Table),
        Format::Json => Box::new(json::Json),
        Format::Markdown => Box::new(markdown::Markdown),
        Format::Junit => Box::new(junit::Junit),
        Format::Prometheus => Box::new(prometheus::Prometheus),
        Format::Github => Box::new(github::Github),
        Format::Codequality => Box::new(codequality::CodeQuality),
        Format::Html => Box::new(html::Html),
    }
}

/// Renders to a string (for files and tests).
pub fn render_to_string(format: Format, report: &Report, opts: RenderOptions<'_>) -> io::Result<String> {
    let mut buf = Vec::new();
    renderer(format).render(report, &mut buf, opts)?;
    String::from_utf8(buf).map_err(io::Error::other)
}

/// Shared wording so every format says the same thing the same way.
pub(crate) mod words {
    use crate::status::ReqStatus;
    use crate::status::Status;

    pub fn status(s: Status) -> &'static str {
        match s {
            Status::Pass => "PASS",
            Status::Fail => "FAIL",
            Status::Error => "ERROR",
            Status::Blocked => "BLOCKED",
            Status::Skipped => "SKIPPED",
            Status::Waived => "WAIVED",
        }
    }

    pub fn req_status(s: ReqStatus) -> &'static str {
        match s {
            ReqStatus::Pass => "PASS",
            ReqStatus::Fail => "FAIL",
            ReqStatus::Waived => "WAIVED",
            ReqStatus::Skipped => "SKIPPED",
        }
    }

    pub fn pct(x: f64) -> String {
        format!("{x:.1}%")
    }

    pub fn weight(w: f64) -> String {
        if w.fract() == 0.0 {
            format!("{w:.0}")
        } else {
            format!("{w}")
        }
    }

    /// "passed after 3 attempts" for a check that passed only on a `--wait`
    /// retry (every format says so); `None` for any other check.
    pub fn retried(c: &crate::report::model::CheckReport) -> Option<String> {
        c.passed_after_retry
            .then(|| format!("passed after {} attempts", c.attempts))
    }

    /// "Attempts: 4 (--wait retried the failing checks)" when the gate was
    /// run more than once.
    pub fn attempts_line(r: &crate::report::Report) -> Option<String> {
        (r.attempts > 1).then(|| format!("Attempts: {} (--wait retried the failing checks)", r.attempts))
    }

    pub fn impact(x: f64) -> String {
        format!("+{x:.1} pts")
    }
}
