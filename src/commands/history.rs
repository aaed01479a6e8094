//! `history FILE`: the runs `check --history` recorded, for one gate: a
//! table of the latest runs, the score trend as a sparkline, how long each
//! current failure has lasted and when each current root cause appeared.

use std::fmt::Write as _;

use serde_json::json;

use crate::cli::{HistoryArgs, HistoryFormat};
use crate::commands::Ui;
use crate::error::{Exit, Failure};
use crate::history::{self, Run, Summary};
use crate::text::escape;

pub fn run(args: HistoryArgs, ui: Ui) -> anyhow::Result<Exit> {
    let loaded = history::load(&args.file).map_err(|e| Failure::Input(e.to_string()))?;
    if !ui.quiet {
        for w in &loaded.warnings {
            anstream::eprintln!("warning: {}", escape(w));
        }
    }
    let gate = match &args.gate {
        Some(g) => g.clone(),
        None => match loaded.runs.last() {
            Some(r) => r.gate.clone(),
            None => {
                return Err(Failure::Input(format!(
                    "{}: no runs recorded yet (`check --history {}` appends one per run)",
                    args.file.display(),
                    args.file.display()
                ))
                .into());
            }
        },
    };
    let runs: Vec<Run> = loaded.runs.into_iter().filter(|r| r.gate == gate).collect();
    let Some(summary) = history::summarize(&runs) else {
        let known = history::gates(&runs);
        return Err(Failure::usage(format!(
            "{}: no runs of gate `{}`{}",
            args.file.display(),
            escape(&gate),
            if known.is_empty() {
                String::new()
            } else {
                format!(" (it holds {})", known.join(", "))
            }
        ))
        .into());
    };
    let text = match args.format {
        HistoryFormat::Json => json_view(&runs, &summary),
        HistoryFormat::Text => text_view(&runs, &summary, args.last, &args.file.display().to_string()),
    };
    crate::error::print(&text)?;
    Ok(Exit::Passed)
}

fn json_view(runs: &[Run], summary: &Summary) -> String {
    let value = json!({
        "gate": summary.gate,
        "runs": runs.iter().enumerate().map(|(i, r)| json!({
            "run": i + 1,
            "time": r.time,
            "score": r.score,
            "threshold": r.threshold,
            "verdict": r.verdict,
            "passed": r.passed,
            "failing": r.failing().collect::<Vec<_>>(),
            "root_causes": r.root_causes,
        })).collect::<Vec<_>>(),
        "failing": summary.failing,
        "root_causes": summary.root_causes,
    });
    let mut out = serde_json::to_string_pretty(&value).unwrap_or_default();
    out.push('\n');
    out
}

fn text_view(runs: &[Run], summary: &Summary, last: usize, file: &str) -> String {
    let mut out = String::new();
    let latest = &runs[runs.len() - 1];
    let _ = writeln!(
        out,
        "Gate {}: {} run{} in {} (threshold {:.1}%)",
        escape(&summary.gate),
        runs.len(),
        if runs.len() == 1 { "" } else { "s" },
        escape(file),
        latest.threshold
    );
    // The trend covers the runs a terminal line can hold.
    let trend: Vec<f64> = runs.iter().rev().take(60).rev().map(|r| r.score).collect();
    let _ = writeln!(
        out,
        "Score trend (last {}): {}  latest {:.1}%, {}",
        trend.len(),
        history::sparkline(trend.iter().copied()),
        latest.score,
        escape(&latest.verdict).to_uppercase()
    );
    out.push('\n');
    let _ = writeln!(
        out,
        "{:>5}  {:<24}  {:>6}  {:<8}  failing requirements",
        "run", "time", "score", "verdict"
    );
    let first = runs.len().saturating_sub(last.max(1));
    if first > 0 {
        let _ = writeln!(
            out,
            "{:>5}  ({first} earlier runs not listed; --last N shows more)",
            "…"
        );
    }
    for (i, r) in runs.iter().enumerate().skip(first) {
        let failing: Vec<String> = r.failing().map(|id| escape(id).into_owned()).collect();
        let _ = writeln!(
            out,
            "{:>5}  {:<24}  {:>5.1}%  {:<8}  {}",
            i + 1,
            escape(&r.time),
            r.score,
            escape(&r.verdict),
            if failing.is_empty() {
                "-".to_string()
            } else {
                failing.join(", ")
            }
        );
    }
    out.push('\n');
    if summary.failing.is_empty() {
        let _ = writeln!(out, "Nothing is failing in the latest run.");
    } else {
        let _ = writeln!(out, "Failing now:");
        let width = summary.failing.iter().map(|f| f.id.chars().count()).max().unwrap_or(0);
        for f in &summary.failing {
            let how_long = if f.runs == 1 {
                "first failed in the latest run".to_string()
            } else {
                format!(
                    "failing since run {} ({}), {} runs, {}",
                    f.since_run,
                    escape(&f.since),
                    f.runs,
                    history::human_span(f.lasted_secs)
                )
            };
            let kind = if f.regression {
                "a regression: it passed before"
            } else {
                "has not passed in the recorded runs"
            };
            let _ = writeln!(out, "  {:<width$}  {how_long}; {kind}", escape(&f.id));
        }
    }
    if !summary.root_causes.is_empty() {
        let _ = writeln!(out, "Root causes now:");
        let width = summary
            .root_causes
            .iter()
            .map(|c| c.key.chars().count())
            .max()
            .unwrap_or(0);
        for c in &summary.root_causes {
            let when = if c.new {
                format!("new in run {} (the latest)", c.since_run)
            } else {
                format!("since run {} ({})", c.since_run, escape(&c.since))
            };
            let _ = writeln!(out, "  {:<width$}  {when}", escape(&c.key));
        }
    }
    out
}
