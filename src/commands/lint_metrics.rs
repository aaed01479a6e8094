//! `lint-metrics`: judge an exposition like `promtool check metrics`. Exit 0
//! when it parses (findings printed as warnings), 1 with `line:column:
//! reason` when it does not (or on findings with `--strict`), 2 when the
//! input cannot be read or exceeds a cap.
//!
//! The input is streamed through [`exposition::lint`], never read whole, so
//! a 200 MB file costs the memory of its largest family, and `/dev/zero` or
//! an endless pipe ends at a cap instead of exhausting memory.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};

use super::Ui;
use crate::cli::LintMetricsArgs;
use crate::error::Exit;
use crate::exposition::{self, Format, LintOptions, ReadError};

/// How far from the end of a regular file to look for `# EOF`.
const TAIL: u64 = 4096;

pub fn run(args: LintMetricsArgs, ui: Ui) -> anyhow::Result<Exit> {
    let from_stdin = args.file.as_os_str() == "-";
    let name = if from_stdin {
        "<stdin>".to_string()
    } else {
        args.file.display().to_string()
    };
    let mut options = LintOptions {
        format: args.openmetrics.then_some(Format::OpenMetrics),
        max_bytes: args.max_bytes,
        ..LintOptions::default()
    };
    let result = if from_stdin {
        exposition::lint(std::io::stdin().lock(), &options)
    } else {
        let mut file = match File::open(&args.file) {
            Ok(f) => f,
            Err(e) => return Ok(unreadable(&format!("cannot open {name}: {e}"))),
        };
        if options.format.is_none() {
            options.format = ends_with_eof(&mut file).map(|eof| if eof { Format::OpenMetrics } else { Format::Text });
        }
        exposition::lint(file, &options)
    };
    let report = match result {
        Ok(report) => report,
        Err(ReadError::Io(e)) => return Ok(unreadable(&format!("cannot read {name}: {e}"))),
        Err(e @ (ReadError::TooLarge { .. } | ReadError::LineTooLong { .. } | ReadError::TooManyFamilies { .. })) => {
            return Ok(unreadable(&format!("{name}: {e}; refusing to lint")));
        }
    };

    let level = if args.strict { "error" } else { "warning" };
    for finding in &report.findings {
        crate::error::print(&format!(
            "{name}:{}: {level}: {}\n",
            finding.line,
            crate::text::escape(&finding.to_string())
        ))?;
    }
    if report.unshown > 0 {
        crate::error::print(&format!(
            "{name}: {level}: {} more findings not shown\n",
            report.unshown
        ))?;
    }
    let format_name = match report.format {
        Format::OpenMetrics => "OpenMetrics",
        Format::Text => "text 0.0.4",
    };
    if let Some(e) = &report.error {
        crate::error::print(&format!(
            "{name}:{}:{}: {}\n",
            e.line,
            e.column,
            crate::text::escape(&e.message)
        ))?;
        return Ok(Exit::Blocked);
    }
    let findings = report.findings.len() as u64 + report.unshown;
    if report.unremembered > 0 && !ui.quiet {
        // Not a finding: the input may be fine; the check was incomplete.
        anstream::eprintln!(
            "{name}: note: {} samples of families larger than the linter remembers ({} series, {} histograms a family) were checked against the series before them but not remembered, so duplicates among them may go unreported",
            report.unremembered,
            exposition::MAX_SERIES,
            exposition::MAX_HISTOGRAMS
        );
    }
    if !ui.quiet {
        let noted = match findings {
            0 => String::new(),
            1 => "; 1 finding".to_string(),
            n => format!("; {n} findings"),
        };
        anstream::eprintln!(
            "{name}: valid {format_name} exposition ({} families, {} series){noted}",
            report.families,
            report.series
        );
    }
    if args.strict && findings > 0 {
        return Ok(Exit::Blocked);
    }
    Ok(Exit::Passed)
}

/// DESIGN §2: an input that cannot be judged exits 2, with the reason.
fn unreadable(message: &str) -> Exit {
    anstream::eprintln!("error: {message}");
    Exit::Usage
}

/// Whether a regular file ends with `# EOF` (trailing whitespace aside);
/// `None` for anything else, or when the tail is all whitespace, so the
/// stream decides by itself.
fn ends_with_eof(file: &mut File) -> Option<bool> {
    let meta = file.metadata().ok()?;
    if !meta.is_file() || meta.len() == 0 {
        return None;
    }
    let start = meta.len().saturating_sub(TAIL);
    file.seek(SeekFrom::Start(start)).ok()?;
    let mut tail = Vec::with_capacity(TAIL as usize);
    let read = file.by_ref().take(TAIL).read_to_end(&mut tail);
    file.seek(SeekFrom::Start(0)).ok()?;
    read.ok()?;
    let content = tail.trim_ascii_end();
    (!content.is_empty()).then(|| content.ends_with(b"# EOF"))
}
