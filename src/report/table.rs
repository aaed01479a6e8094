//! The terminal rendering: a headline verdict, the compliance table, the
//! root causes by impact, the blockers with their fixes, and the fix path.

use std::io;

use comfy_table::{Attribute, Cell, CellAlignment, Color, ContentArrangement, Table as CTable, presets};

use super::words::{impact, pct, req_status, status, weight};
use super::{RenderOptions, Renderer, Report};
use crate::status::ReqStatus;
use crate::status::Status;

pub struct Table;

impl Renderer for Table {
    fn render(&self, r: &Report, out: &mut dyn io::Write, opts: RenderOptions) -> io::Result<()> {
        let paint = |text: String, color: Color, bold: bool| -> Cell {
            let mut cell = Cell::new(text);
            if opts.color {
                cell = cell.fg(color);
                if bold {
                    cell = cell.add_attribute(Attribute::Bold);
                }
            }
            cell
        };
        let new_table = || {
            let mut t = CTable::new();
            t.load_style(presets::UTF8_FULL_CONDENSED)
                .set_content_arrangement(ContentArrangement::Dynamic)
                .force_no_tty();
            if opts.color {
                t.enforce_styling();
            }
            if let Some(w) = opts.width {
                t.set_width(w);
            }
            t
        };

        let verdict = if r.passed { "PASSED" } else { "BLOCKED" };
        let verdict_text = if opts.color {
            let style = if r.passed {
                anstyle::Style::new()
                    .bold()
                    .fg_color(Some(anstyle::AnsiColor::Green.into()))
            } else {
                anstyle::Style::new()
                    .bold()
                    .fg_color(Some(anstyle::AnsiColor::Red.into()))
            };
            format!("{style}{verdict}{style:#}")
        } else {
            verdict.to_string()
        };
        writeln!(out, "Gate {} · {}", r.gate.id, r.gate.name)?;
        writeln!(
            out,
            "{verdict_text}  score {} (threshold {}) · {} checks: {} · {}",
            pct(r.score),
            pct(r.gate.threshold),
            r.requirements.iter().map(|q| q.checks.len()).sum::<usize>(),
            counts_line(r),
            crate::http::fmt_duration(std::time::Duration::from_millis(r.duration_ms)),
        )?;
        writeln!(out, "{}", r.summary)?;
        writeln!(out)?;

        let mut t = new_table();
        t.set_header(vec!["Requirement", "Weight", "Required", "Score", "Status", "Checks"]);
        for q in &r.requirements {
            let color = match q.status {
                ReqStatus::Pass => Color::Green,
                ReqStatus::Fail => Color::Red,
                ReqStatus::Waived => Color::Yellow,
                ReqStatus::Skipped => Color::DarkGrey,
            };
            let passed = q.checks.iter().filter(|c| c.status == Status::Pass).count();
            let evaluated = q.checks.iter().filter(|c| c.status != Status::Skipped).count();
            t.add_row(vec![
                Cell::new(format!("{}\n{}", q.id, q.name)),
                Cell::new(weight(q.weight)).set_alignment(CellAlignment::Right),
                Cell::new(if q.required { "yes" } else { "no" }),
                Cell::new(if q.status == ReqStatus::Skipped {
                    "-".to_string()
                } else {
                    pct(q.score)
                })
                .set_alignment(CellAlignment::Right),
                paint(req_status(q.status).to_string(), color, true),
                Cell::new(if evaluated == 0 {
                    "skipped".to_string()
                } else {
                    format!("{passed}/{evaluated} pass")
                }),
            ]);
        }
        writeln!(out, "{t}")?;

        let mut t = new_table();
        t.set_header(vec!["Check", "Kind", "Status", "Time", "Detail"]);
        for (_, c) in r.all_checks() {
            let color = match c.status {
                Status::Pass => Color::Green,
                Status::Fail | Status::Error => Color::Red,
                Status::Blocked | Status::Waived => Color::Yellow,
                Status::Skipped => Color::DarkGrey,
            };
            let mut label = status(c.status).to_string();
            if c.passed_after_retry {
                label.push_str(" (retry)");
            }
            t.add_row(vec![
                Cell::new(&c.id),
                Cell::new(&c.kind),
                paint(label, color, false),
                Cell::new(format!("{}ms", c.duration_ms)).set_alignment(CellAlignment::Right),
                Cell::new(&c.message),
            ]);
        }
        writeln!(out, "{t}")?;

        if !r.root_causes.is_empty() {
            writeln!(out)?;
            writeln!(out, "Root causes, by score impact")?;
            let mut t = new_table();
            t.set_header(vec!["#", "Impact", "Severity", "Root cause", "Checks"]);
            for (i, rc) in r.root_causes.iter().enumerate() {
                t.add_row(vec![
                    Cell::new(i + 1),
                    Cell::new(impact(rc.score_impact)).set_alignment(CellAlignment::Right),
                    Cell::new(rc.severity.as_str()),
                    Cell::new(&rc.summary),
                    Cell::new(rc.checks.join(", ")),
                ]);
            }
            writeln!(out, "{t}")?;
        }

        if !r.blockers.is_empty() {
            writeln!(out)?;
            writeln!(out, "Blockers")?;
            for b in &r.blockers {
                let tag = if b.security {
                    "SECURITY".to_string()
                } else {
                    b.severity.as_str().to_ascii_uppercase()
                };
                writeln!(out, "  [{tag}] {} / {} — {}", b.requirement, b.check, status(b.status))?;
                writeln!(out, "      {}", b.message)?;
                if let Some(cause) = &b.cause {
                    writeln!(out, "      cause: {cause}")?;
                }
                if let Some(fix) = &b.remediation {
                    writeln!(out, "      fix:   {fix}")?;
                }
                if let Some(cmd) = &b.reproduce {
                    writeln!(out, "      try:   {cmd}")?;
                }
            }
        }

        if !r.fix_path.already_passing {
            writeln!(out)?;
            if r.fix_path.reachable {
                writeln!(
                    out,
                    "Fix path to {}: {} fix{} → {}",
                    pct(r.gate.threshold),
                    r.fix_path.steps.len(),
                    if r.fix_path.steps.len() == 1 { "" } else { "es" },
                    pct(r.fix_path.score_after)
                )?;
            } else {
                writeln!(
                    out,
                    "Fix path: even fixing every root cause reaches only {} (waived or advisory checks hold the rest)",
                    pct(r.fix_path.score_after)
                )?;
            }
            for (i, s) in r.fix_path.steps.iter().enumerate() {
                writeln!(out, "  {}. {} → {}", i + 1, s.summary, pct(s.score_after))?;
            }
        }
        if !r.warnings.is_empty() {
            writeln!(out)?;
            for w in &r.warnings {
                writeln!(out, "warning: {w}")?;
            }
        }
        Ok(())
    }
}

pub(super) fn counts_line(r: &Report) -> String {
    let c = &r.counts;
    let parts = [
        (c.pass, "pass"),
        (c.fail, "fail"),
        (c.error, "error"),
        (c.blocked, "blocked"),
        (c.waived, "waived"),
        (c.skipped, "skipped"),
    ];
    let v: Vec<String> = parts
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, w)| format!("{n} {w}"))
        .collect();
    if v.is_empty() { "none".to_string() } else { v.join(", ") }
}
