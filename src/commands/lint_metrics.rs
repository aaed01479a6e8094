//! `lint-metrics`: validate an exposition like `promtool check metrics`.
//! Exit 0 when valid, 1 with `line:column: reason` when not.

use std::io::Read;

use anyhow::Context;

use super::Ui;
use crate::cli::LintMetricsArgs;
use crate::error::{Exit, Failure};
use crate::exposition::{self, Format};

/// Larger inputs are refused rather than read into memory.
const MAX_INPUT: u64 = 512 * 1024 * 1024;

pub fn run(args: LintMetricsArgs, ui: Ui) -> anyhow::Result<Exit> {
    let from_stdin = args.file.as_os_str() == "-";
    let name = if from_stdin {
        "<stdin>".to_string()
    } else {
        args.file.display().to_string()
    };
    let mut bytes = Vec::new();
    if from_stdin {
        std::io::stdin()
            .lock()
            .take(MAX_INPUT + 1)
            .read_to_end(&mut bytes)
            .context("cannot read stdin")?;
    } else {
        let f = std::fs::File::open(&args.file).map_err(|e| Failure::Input(format!("cannot open {name}: {e}")))?;
        f.take(MAX_INPUT + 1)
            .read_to_end(&mut bytes)
            .with_context(|| format!("cannot read {name}"))?;
    }
    if bytes.len() as u64 > MAX_INPUT {
        anstream::eprintln!("{name}: larger than {} MiB; refusing to lint", MAX_INPUT / 1024 / 1024);
        return Ok(Exit::Blocked);
    }
    let tail = bytes.trim_ascii_end();
    let format = if args.openmetrics || tail.ends_with(b"# EOF") {
        Format::OpenMetrics
    } else {
        Format::Text
    };
    let exp = match exposition::parse_bytes(&bytes, format) {
        Ok(e) => e,
        Err(e) => {
            println!("{name}:{}:{}: {}", e.line, e.column, e.message);
            return Ok(Exit::Blocked);
        }
    };
    let problems = exposition::histogram_problems(&exp);
    for p in &problems {
        println!("{name}:{}: {}", p.line, p.message);
    }
    if !problems.is_empty() {
        return Ok(Exit::Blocked);
    }
    if !ui.quiet {
        anstream::eprintln!(
            "{name}: valid {} exposition ({} families, {} series)",
            match format {
                Format::OpenMetrics => "OpenMetrics",
                Format::Text => "text 0.0.4",
            },
            exp.families.len(),
            exp.series_count()
        );
    }
    Ok(Exit::Passed)
}
