//! Reports: one model ([`model::Report`]), four renderings behind one trait,
//! one file per format. Adding a format is one file plus one arm in [`renderer`].

mod build;
mod json;
mod junit;
pub mod layout;
mod markdown;
pub mod model;
mod table;

use std::io;

pub use build::{RunMeta, build};
pub use model::{Report, RequestCount, RequestsReport, WarmUpReport};

/// Output formats for `--format` and `--report FORMAT=PATH`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A terminal table for people.
    Table,
    /// The versioned JSON report for machines.
    Json,
    /// A blocker report to paste into a PR or `$GITHUB_STEP_SUMMARY`.
    Markdown,
    /// JUnit XML: one test case per check, for CI test tabs.
    Junit,
}

impl Format {
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "table" => Some(Format::Table),
            "json" => Some(Format::Json),
            "markdown" | "md" => Some(Format::Markdown),
            "junit" | "xml" => Some(Format::Junit),
            _ => None,
        }
    }
}

/// Rendering options that are not part of the report.
#[derive(Debug, Clone, Copy, Default)]
pub struct RenderOptions {
    pub color: bool,
    /// Display columns the table must fit: the terminal's when stdout is
    /// one; `None` lays out for [`layout::LOG_WIDTH`].
    pub width: Option<u16>,
}

/// One output format.
pub trait Renderer {
    fn render(&self, report: &Report, out: &mut dyn io::Write, opts: RenderOptions) -> io::Result<()>;
}

pub fn renderer(format: Format) -> Box<dyn Renderer> {
    match format {
        Format::Table => Box::new(table::Table),
        Format::Json => Box::new(json::Json),
        Format::Markdown => Box::new(markdown::Markdown),
        Format::Junit => Box::new(junit::Junit),
    }
}

/// Renders to a string (for files and tests).
pub fn render_to_string(format: Format, report: &Report, opts: RenderOptions) -> io::Result<String> {
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

    pub fn impact(x: f64) -> String {
        format!("+{x:.1} pts")
    }
}
