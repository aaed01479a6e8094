//! The terminal rendering: a headline verdict, the compliance table, the
//! root causes by impact, the blockers grouped by root cause with their
//! fixes, and the fix path.
//!
//! Everything fits [`RenderOptions::width`] (see [`layout`]): ids, kinds,
//! statuses and times are never wrapped; details, causes and fixes are, and
//! free text goes on under a hanging indent. `try:` commands break only
//! between shell words, with ` \` continuations, so they still paste.
//!
//! Every text from the report goes through [`crate::text::escape`] here, so
//! a server's escape sequence or newline shows as `\x1b` or `\n` and can
//! neither drive the terminal nor forge a row; the colours are added after,
//! by the renderer. `try:` commands keep their tabs.

use std::io;
use std::time::Duration;

use comfy_table::{Attribute, Cell, CellAlignment, Color, ColumnConstraint, Table as CTable, Width};

use super::groups::{BlockerGroup, group_blockers};
use super::layout::{self, table_width, truncate, wrap};
use super::words::{impact, pct, req_status, status, weight};
use super::{RenderOptions, Renderer, Report};
use crate::http::fmt_duration;
use crate::status::{ReqStatus, Status};
use crate::text::{escape as esc, escape_keep_tabs};

pub struct Table;

/// The least room the requirement-name column is shown with; with less, the
/// ids (which say the same, shorter) stand alone.
const MIN_NAME: usize = 16;
/// The least room a check's detail gets before the `Kind` column is dropped
/// to make more.
const MIN_DETAIL: usize = 40;
/// `fmt_duration` never needs more than this (`999ms`, `123.4s`); a fixed
/// column keeps the layout from moving with the run's timings.
const TIME_WIDTH: usize = 6;
/// The labels of the lines under a blocker, and their hanging indent.
const CHECKS: &str = "    checks: ";
const FIX: &str = "    fix:    ";
const TRY: &str = "    try:    ";
const INDENT: &str = "            ";

impl Renderer for Table {
    fn render(&self, r: &Report, out: &mut dyn io::Write, opts: RenderOptions) -> io::Result<()> {
        let w = layout::target(opts.width);
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
            let mut t = layout::table(w);
            if opts.color {
                t.enforce_styling();
            }
            t
        };

        let verdict = match (r.passed, r.partial) {
            (true, false) => "PASSED",
            (true, true) => "PASSED (PARTIAL)",
            (false, _) if r.verdict == "partial" => "PARTIAL",
            (false, _) => "BLOCKED",
        };
        if let Some(sim) = &r.simulated {
            writeln!(out, "{}", wrap(&format!("SIMULATED STACK: {}", esc(sim)), w, "", "  "))?;
        }
        writeln!(
            out,
            "{}",
            wrap(
                &format!("Gate {} · {}", esc(&r.gate.id), esc(&r.gate.name)),
                w,
                "",
                "  "
            )
        )?;
        let headline = wrap(
            &format!(
                "{verdict}  score {} (threshold {}) · {} checks: {} · {}",
                pct(r.score),
                pct(r.gate.threshold),
                r.requirements.iter().map(|q| q.checks.len()).sum::<usize>(),
                counts_line(r),
                fmt_duration(Duration::from_millis(r.duration_ms)),
            ),
            w,
            "",
            "  ",
        );
        // Coloured after wrapping, so the escape codes take no room.
        let headline = if opts.color {
            let style = if r.passed {
                anstyle::Style::new()
                    .bold()
                    .fg_color(Some(anstyle::AnsiColor::Green.into()))
            } else {
                anstyle::Style::new()
                    .bold()
                    .fg_color(Some(anstyle::AnsiColor::Red.into()))
            };
            headline.replacen(verdict, &format!("{style}{verdict}{style:#}"), 1)
        } else {
            headline
        };
        writeln!(out, "{headline}")?;
        writeln!(out, "{}", wrap(&esc(&r.summary), w, "", "  "))?;
        writeln!(out)?;

        requirements_table(r, w, &new_table, &paint, out)?;
        checks_table(r, w, &new_table, &paint, out)?;

        if !r.root_causes.is_empty() {
            writeln!(out)?;
            writeln!(out, "Root causes, by score impact")?;
            root_causes_table(r, w, &new_table, out)?;
        }

        if !r.blockers.is_empty() {
            writeln!(out)?;
            writeln!(out, "Blockers, by root cause")?;
            for g in group_blockers(r) {
                write_blocker_group(&g, w, out)?;
            }
        }

        if !r.fix_path.already_passing {
            writeln!(out)?;
            let head = if r.fix_path.reachable {
                format!(
                    "Fix path to {}: {} fix{} → {}",
                    pct(r.gate.threshold),
                    r.fix_path.steps.len(),
                    if r.fix_path.steps.len() == 1 { "" } else { "es" },
                    pct(r.fix_path.score_after)
                )
            } else {
                format!(
                    "Fix path: even fixing every root cause reaches only {} (waived or advisory checks hold the rest)",
                    pct(r.fix_path.score_after)
                )
            };
            writeln!(out, "{}", wrap(&head, w, "", "  "))?;
            for (i, s) in r.fix_path.steps.iter().enumerate() {
                let first = format!("  {}. ", i + 1);
                let text = format!("{} → {}", esc(&s.summary), pct(s.score_after));
                writeln!(out, "{}", wrap(&text, w, &first, &" ".repeat(first.len())))?;
            }
        }
        if let Some(wu) = &r.warm_up {
            writeln!(out)?;
            let text = format!("Warm-up (synthetic, at {}): {}", esc(&wu.started_at), esc(&wu.summary));
            writeln!(out, "{}", wrap(&text, w, "", "  "))?;
        }
        if let Some(line) = requests_line(r, &|t| esc(t).into_owned()) {
            writeln!(out)?;
            writeln!(out, "{}", wrap(&line, w, "", "  "))?;
        }
        if let Some(line) = super::words::attempts_line(r) {
            writeln!(out, "{}", wrap(&line, w, "", "  "))?;
        }
        if !r.warnings.is_empty() {
            writeln!(out)?;
            for warning in &r.warnings {
                writeln!(out, "{}", wrap(&format!("warning: {}", esc(warning)), w, "", "  "))?;
            }
        }
        Ok(())
    }
}

type Paint<'a> = dyn Fn(String, Color, bool) -> Cell + 'a;

/// One line per requirement: ids, weight, verdict and checks never wrap; the
/// name, last, is cut to the room left (or left out when that is too little).
fn requirements_table(
    r: &Report,
    w: usize,
    new_table: &dyn Fn() -> CTable,
    paint: &Paint<'_>,
    out: &mut dyn io::Write,
) -> io::Result<()> {
    let header = ["Requirement", "Weight", "Req", "Score", "Status", "Passed"];
    let rows: Vec<(&super::model::RequirementReport, [String; 6])> = r
        .requirements
        .iter()
        .map(|q| {
            let passed = q.checks.iter().filter(|c| c.status == Status::Pass).count();
            let evaluated = q.checks.iter().filter(|c| c.status != Status::Skipped).count();
            let cells = [
                esc(&q.id).into_owned(),
                weight(q.weight),
                if q.required { "yes" } else { "no" }.to_string(),
                if q.status == ReqStatus::Skipped {
                    "-".to_string()
                } else {
                    pct(q.score)
                },
                req_status(q.status).to_string(),
                if evaluated == 0 {
                    "-".to_string()
                } else {
                    format!("{passed}/{evaluated}")
                },
            ];
            (q, cells)
        })
        .collect();
    let natural = column_widths(&header, rows.iter().map(|(_, c)| c.as_slice()));
    let widths = capped(&natural, w);
    let name_room = w.saturating_sub(table_width(&widths) + 3);
    let names: Vec<String> = r.requirements.iter().map(|q| esc(&q.name).into_owned()).collect();
    let name_width = names.iter().map(|n| layout::width(n)).max().unwrap_or(0).max(4);
    let show_name = name_room >= MIN_NAME.min(name_width);

    let mut t = new_table();
    let mut head: Vec<&str> = header.to_vec();
    if show_name {
        head.push("Name");
    }
    t.set_header(head);
    for ((q, cells), name) in rows.into_iter().zip(&names) {
        let color = match q.status {
            ReqStatus::Pass => Color::Green,
            ReqStatus::Fail => Color::Red,
            ReqStatus::Waived => Color::Yellow,
            ReqStatus::Skipped => Color::DarkGrey,
        };
        let [id, wt, req, score, st, passed] = cells;
        let mut row = vec![
            Cell::new(id),
            Cell::new(wt).set_alignment(CellAlignment::Right),
            Cell::new(req),
            Cell::new(score).set_alignment(CellAlignment::Right),
            paint(st, color, true),
            Cell::new(passed).set_alignment(CellAlignment::Right),
        ];
        if show_name {
            row.push(Cell::new(truncate(name, name_room)));
        }
        t.add_row(row);
    }
    for (i, &n) in natural.iter().enumerate() {
        constrain(&mut t, i, whole(n, w));
    }
    if show_name {
        constrain(&mut t, header.len(), fixed(name_room.min(name_width)));
    }
    writeln!(out, "{t}")
}

/// The checks that ran, one row each, with their detail wrapped in the room
/// left; the checks that did not run, as one line per reason.
fn checks_table(
    r: &Report,
    w: usize,
    new_table: &dyn Fn() -> CTable,
    paint: &Paint<'_>,
    out: &mut dyn io::Write,
) -> io::Result<()> {
    let ran: Vec<_> = r.all_checks().filter(|(_, c)| c.status != Status::Skipped).collect();
    if !ran.is_empty() {
        let rows: Vec<[String; 5]> = ran
            .iter()
            .map(|(_, c)| {
                let detail = match super::words::retried(c) {
                    Some(retried) => format!("{retried}: {}", esc(&c.message)),
                    None => esc(&c.message).into_owned(),
                };
                [
                    esc(&c.id).into_owned(),
                    esc(&c.kind).into_owned(),
                    status(c.status).to_string(),
                    fmt_duration(Duration::from_millis(c.duration_ms)),
                    detail,
                ]
            })
            .collect();
        let header = ["Check", "Kind", "Status", "Time", "Detail"];
        let mut natural = column_widths(&header[..4], rows.iter().map(|c| &c[..4]));
        natural[3] = TIME_WIDTH;
        let widths = capped(&natural, w);
        let detail_width = rows.iter().map(|c| layout::width(&c[4])).max().unwrap_or(0).max(6);
        let with_kind = w.saturating_sub(table_width(&widths) + 3);
        let show_kind = with_kind >= MIN_DETAIL.min(detail_width);
        let detail_room = if show_kind {
            with_kind
        } else {
            w.saturating_sub(table_width(&widths) - widths[1])
        };

        let mut t = new_table();
        let head: Vec<&str> = header.iter().copied().filter(|h| show_kind || *h != "Kind").collect();
        t.set_header(head);
        for ((_, c), [id, kind, label, time, detail]) in ran.iter().zip(rows) {
            let color = match c.status {
                Status::Pass => Color::Green,
                Status::Fail | Status::Error => Color::Red,
                Status::Blocked | Status::Waived => Color::Yellow,
                Status::Skipped => Color::DarkGrey,
            };
            let mut row = vec![Cell::new(id)];
            if show_kind {
                row.push(Cell::new(kind));
            }
            row.push(paint(label, color, false));
            row.push(Cell::new(time).set_alignment(CellAlignment::Right));
            row.push(Cell::new(detail));
            t.add_row(row);
        }
        let n = if show_kind { 5 } else { 4 };
        let shown = natural[..3].iter().enumerate().filter(|(i, _)| show_kind || *i != 1);
        for (i, (_, &nat)) in shown.enumerate() {
            constrain(&mut t, i, whole(nat, w));
        }
        constrain(&mut t, n - 2, fixed(TIME_WIDTH));
        constrain(&mut t, n - 1, fixed(detail_room.min(detail_width).max(1)));
        writeln!(out, "{t}")?;
    }

    // Skipped checks are named, not tabled: a filtered run lists what it
    // left out (DESIGN §5) without a row per check.
    let mut reasons: Vec<(String, Vec<String>)> = Vec::new();
    for (_, c) in r.all_checks().filter(|(_, c)| c.status == Status::Skipped) {
        let why = esc(&c.message).into_owned();
        match reasons.iter_mut().find(|(r, _)| *r == why) {
            Some((_, ids)) => ids.push(esc(&c.id).into_owned()),
            None => reasons.push((why, vec![esc(&c.id).into_owned()])),
        }
    }
    for (why, ids) in reasons {
        let text = format!(
            "{} check{} not run ({why}): {}",
            ids.len(),
            if ids.len() == 1 { "" } else { "s" },
            ids.join(", ")
        );
        writeln!(out, "{}", wrap(&text, w, "", "  "))?;
    }
    Ok(())
}

fn root_causes_table(r: &Report, w: usize, new_table: &dyn Fn() -> CTable, out: &mut dyn io::Write) -> io::Result<()> {
    let header = ["#", "Impact", "Severity", "Root cause", "Checks"];
    let rows: Vec<[String; 5]> = r
        .root_causes
        .iter()
        .enumerate()
        .map(|(i, rc)| {
            [
                (i + 1).to_string(),
                impact(rc.score_impact),
                rc.severity.as_str().to_string(),
                esc(&rc.summary).into_owned(),
                rc.checks.iter().map(|c| esc(c)).collect::<Vec<_>>().join(", "),
            ]
        })
        .collect();
    let natural = column_widths(&header[..3], rows.iter().map(|c| &c[..3]));
    let widths = capped(&natural, w);
    let room = w.saturating_sub(table_width(&widths) + 6);
    let cause_want = rows.iter().map(|c| layout::width(&c[3])).max().unwrap_or(0).max(10);
    let checks_want = rows.iter().map(|c| layout::width(&c[4])).max().unwrap_or(0).max(6);
    // No id is ever cut: the checks column is at least as wide as the
    // longest one, and wraps between ids.
    let longest_id = r
        .root_causes
        .iter()
        .flat_map(|rc| rc.checks.iter().map(|c| layout::width(&esc(c)) + 1))
        .max()
        .unwrap_or(6)
        .min(id_cap(w));
    let (cause, checks) = if cause_want + checks_want <= room {
        (cause_want, checks_want)
    } else {
        let checks = checks_want.min((room / 3).max(longest_id));
        (room.saturating_sub(checks).max(10), checks)
    };
    let mut t = new_table();
    t.set_header(header.to_vec());
    for [n, imp, sev, summary, ids] in rows {
        t.add_row(vec![
            Cell::new(n),
            Cell::new(imp).set_alignment(CellAlignment::Right),
            Cell::new(sev),
            Cell::new(summary),
            Cell::new(ids),
        ]);
    }
    for (i, &n) in natural.iter().enumerate() {
        constrain(&mut t, i, whole(n, w));
    }
    constrain(&mut t, 3, fixed(cause));
    constrain(&mut t, 4, fixed(checks));
    writeln!(out, "{t}")
}

fn write_blocker_group(g: &BlockerGroup<'_>, w: usize, out: &mut dyn io::Write) -> io::Result<()> {
    let first = g.blockers[0];
    let tag = if g.blockers.iter().any(|b| b.security) {
        "SECURITY".to_string()
    } else {
        first.severity.as_str().to_ascii_uppercase()
    };
    let cause = esc(g.cause().unwrap_or(&first.message)).into_owned();
    let head = format!("  [{tag}] ");
    writeln!(out, "{}", wrap(&cause, w, &head, INDENT))?;

    // Checks by status, each status once: `a, b (ERROR); c (BLOCKED)`.
    let mut by_status: Vec<(Status, Vec<String>)> = Vec::new();
    for b in &g.blockers {
        let id = esc(&b.check).into_owned();
        match by_status.iter_mut().find(|(s, _)| *s == b.status) {
            Some((_, ids)) => ids.push(id),
            None => by_status.push((b.status, vec![id])),
        }
    }
    let checks: Vec<String> = by_status
        .iter()
        .map(|(s, ids)| format!("{} ({})", ids.join(", "), status(*s)))
        .collect();
    writeln!(out, "{}", wrap(&checks.join("; "), w, CHECKS, INDENT))?;

    for fix in g.fixes() {
        writeln!(out, "{}", wrap(&esc(fix), w, FIX, INDENT))?;
    }
    // One command reproduces a shared cause; the JSON and Markdown reports
    // keep every check's.
    if let Some(cmd) = g.blockers.iter().find_map(|b| b.reproduce.as_deref()) {
        let cmd = escape_keep_tabs(cmd);
        let lines = crate::shell::wrap_command(&cmd, w.saturating_sub(INDENT.len()));
        for (i, line) in lines.iter().enumerate() {
            writeln!(out, "{}{line}", if i == 0 { TRY } else { INDENT })?;
        }
    }
    Ok(())
}

/// The widest cell of each column, header included, in display columns.
fn column_widths<'a>(header: &[&str], rows: impl Iterator<Item = &'a [String]>) -> Vec<usize> {
    let mut widths: Vec<usize> = header.iter().map(|h| layout::width(h)).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.lines().map(layout::width).max().unwrap_or(0));
        }
    }
    widths
}

/// The most an id column takes of a `w`-wide table. Real ids are far
/// shorter; one longer than this wraps rather than push the table off the
/// screen.
fn id_cap(w: usize) -> usize {
    (w / 3).max(12)
}

fn capped(natural: &[usize], w: usize) -> Vec<usize> {
    natural.iter().map(|&n| n.min(id_cap(w))).collect()
}

/// A column kept whole (its content's width), unless it is wider than
/// [`id_cap`].
fn whole(natural: usize, w: usize) -> ColumnConstraint {
    if natural <= id_cap(w) {
        ColumnConstraint::ContentWidth
    } else {
        fixed(id_cap(w))
    }
}

/// A column `content` columns wide (comfy-table counts the padding in).
fn fixed(content: usize) -> ColumnConstraint {
    ColumnConstraint::Absolute(Width::Fixed(u16::try_from(content + 2).unwrap_or(u16::MAX)))
}

fn constrain(t: &mut CTable, column: usize, c: ColumnConstraint) {
    if let Some(col) = t.column_mut(column) {
        col.set_constraint(c);
    }
}

/// "Requests sent: 14 (backend 10, prometheus 4)": the run's load on the
/// stack, with target names passed through the format's `escape`.
pub(super) fn requests_line(r: &Report, escape: &dyn Fn(&str) -> String) -> Option<String> {
    let req = r.requests.as_ref()?;
    let parts: Vec<String> = req
        .by_target
        .iter()
        .map(|t| {
            let names: Vec<String> = t.targets.iter().map(|n| escape(n)).collect();
            let who = if names.is_empty() {
                "other addresses".to_string()
            } else {
                names.join("+")
            };
            format!("{who} {}", t.requests)
        })
        .collect();
    Some(if parts.is_empty() {
        format!("Requests sent: {}", req.total)
    } else {
        format!("Requests sent: {} ({})", req.total, parts.join(", "))
    })
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

/// A report whose every text field holds what a hostile server could send,
/// shared by the renderers' tests.
#[cfg(test)]
pub(super) mod hostile {
    use std::collections::BTreeMap;

    use serde_json::{Value, json};

    use crate::gate::Severity;
    use crate::probe::Status;
    use crate::report::model::*;
    use crate::status::ReqStatus;

    /// Terminal control (OSC title, clear screen, C1 CSI), forged `-v` and
    /// Markdown lines, an HTML comment that would hide what follows, markup,
    /// links, bidi overrides, NUL, DEL, and XML's noncharacters.
    pub const EVIL: &str = "\x1b]0;pwned\x07\x1b[2J\u{9b}31m red\n[   pass] forged\n# PASSED\n\n<!-- hide\n<script>alert(1)</script> [x](http://evil.test) ![i](http://evil.test/i.png) <http://evil.test> www.evil.test `tick` ``` *em* _em_ ~~s~~ $m$ &#x202e; |cell| \u{202e}desrever\u{2066}\u{2069} nul\x00 del\x7f\r\n- item\n1. item\n> quote\n    code\u{fffe}\u{ffff}\u{2028}end";

    /// `evil` with a prefix, so fields are told apart.
    pub fn evil(field: &str) -> String {
        format!("{field}: {EVIL}")
    }

    /// A reproduce command with a tab (which must survive) and hostile text.
    pub fn evil_command() -> String {
        format!("docker ps -a --format '{{{{.Names}}}}\t{{{{.Status}}}}' # {EVIL}")
    }

    fn evidence() -> BTreeMap<String, Value> {
        BTreeMap::from([
            (evil("key"), json!(evil("value"))),
            ("body_excerpt".to_string(), json!(evil("body"))),
            (
                "nested".to_string(),
                json!({ evil("inner key"): [evil("inner value"), 1] }),
            ),
        ])
    }

    fn check(id: &str, status: Status) -> CheckReport {
        let failing = !matches!(status, Status::Pass | Status::Skipped);
        CheckReport {
            id: format!("{id} {EVIL}"),
            name: Some(evil("check name")),
            kind: evil("kind"),
            target: Some(evil("target")),
            weight: 1.0,
            status,
            duration_ms: 12,
            message: evil(&format!("{id} message")),
            evidence: evidence(),
            expected: evidence(),
            cause: failing.then(|| evil(&format!("{id} cause"))),
            remediation: failing.then(|| evil(&format!("{id} remediation"))),
            reproduce: Some(evil_command()),
            security: status == Status::Fail,
            waiver: (status == Status::Waived).then(|| WaiverReport {
                reason: evil("waiver reason"),
                expires: evil("waiver expires"),
                expired: false,
            }),
            attempts: 1,
            passed_after_retry: status == Status::Pass,
            warnings: vec![evil("check warning")],
            line: Some(7),
        }
    }

    pub fn report() -> Report {
        let checks: Vec<CheckReport> = [
            ("fail", Status::Fail),
            ("error", Status::Error),
            ("blocked", Status::Blocked),
            ("waived", Status::Waived),
            ("pass", Status::Pass),
            ("skipped", Status::Skipped),
        ]
        .into_iter()
        .map(|(id, s)| check(id, s))
        .collect();
        let blockers = checks
            .iter()
            .filter(|c| matches!(c.status, Status::Fail | Status::Error | Status::Blocked))
            .map(|c| Blocker {
                requirement: evil("requirement id"),
                check: c.id.clone(),
                severity: if c.security { Severity::Critical } else { Severity::High },
                status: c.status,
                security: c.security,
                message: c.message.clone(),
                cause: c.cause.clone(),
                remediation: c.remediation.clone(),
                evidence: c.evidence.clone(),
                reproduce: c.reproduce.clone(),
            })
            .collect();
        Report {
            schema_version: SCHEMA_VERSION,
            tool: Tool {
                name: "medianest-gate".into(),
                version: "0.1.0".into(),
            },
            gate: GateInfo {
                id: evil("gate id"),
                name: evil("gate name"),
                source: evil("gate source"),
                threshold: 85.0,
                required_must_pass: true,
                from_file: true,
            },
            started_at: evil("started"),
            duration_ms: 34,
            score: 12.5,
            passed: false,
            verdict: "blocked".into(),
            partial: true,
            not_checked: vec![evil("not checked")],
            summary: evil("summary"),
            insecure: true,
            attempts: 1,
            counts: Counts {
                pass: 1,
                fail: 1,
                error: 1,
                blocked: 1,
                skipped: 1,
                waived: 1,
            },
            requirements: vec![RequirementReport {
                id: evil("requirement id"),
                name: evil("requirement name"),
                weight: 1.0,
                required: true,
                severity: Severity::High,
                score: 12.5,
                status: ReqStatus::Fail,
                checks,
            }],
            blockers,
            root_causes: vec![RootCauseReport {
                key: evil("root cause key"),
                summary: evil("root cause summary"),
                score_impact: 50.0,
                severity: Severity::High,
                security: true,
                checks: vec![evil("root cause check"), "plain".into()],
                unblocks: vec![evil("unblocks")],
                remediation: Some(evil("root cause remediation")),
            }],
            fix_path: FixPathReport {
                already_passing: false,
                reachable: true,
                score_after: 100.0,
                steps: vec![FixStepReport {
                    root_cause: evil("step root cause"),
                    summary: evil("step summary"),
                    score_after: 100.0,
                }],
            },
            warnings: vec![evil("warning")],
            warm_up: Some(WarmUpReport {
                target: evil("warm-up target"),
                paths: vec![evil("warm-up path")],
                requests_planned: 3,
                requests_sent: 3,
                answers: BTreeMap::from([(evil("answer"), 3)]),
                started_at: evil("warm-up started"),
                traffic_ms: 60,
                scrape_interval_ms: Some(1000),
                waited_ms: 1250,
                summary: evil("warm-up summary"),
            }),
            requests: Some(RequestsReport {
                total: 5,
                by_target: vec![
                    RequestCount {
                        targets: vec![evil("target name")],
                        requests: 4,
                    },
                    RequestCount {
                        targets: Vec::new(),
                        requests: 1,
                    },
                ],
            }),
            simulated: Some(evil("simulated")),
        }
    }

    /// Panics unless `out` holds no control character but the layout's own
    /// `\n` (and `\t` where `tabs`), no DEL, C1, bidi control or line
    /// separator, and (without `colour`) no ESC at all.
    pub fn assert_inert(format: &str, out: &str, tabs: bool) {
        for (i, c) in out.char_indices() {
            let allowed = c == '\n' || (tabs && c == '\t');
            if !allowed && crate::text::is_unsafe(c) {
                let before: String = out[..i]
                    .chars()
                    .rev()
                    .take(60)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect();
                panic!("{format}: unsafe {c:?} at byte {i}, after …{before}");
            }
        }
    }

    /// Every line of `out`, trimmed, that a forged line would look like.
    pub fn forged_lines(out: &str) -> Vec<&str> {
        out.lines()
            .map(str::trim_start)
            .filter(|l| l.starts_with("[   pass]") || l.starts_with("# PASSED") || l.starts_with("forged"))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::hostile::{self, EVIL, assert_inert, forged_lines};
    use crate::report::{Format, RenderOptions, render_to_string};

    fn render(color: bool) -> String {
        let opts = RenderOptions {
            color,
            width: Some(120),
            ..RenderOptions::default()
        };
        render_to_string(Format::Table, &hostile::report(), opts).expect("render the table")
    }

    /// The line starting with `start` and the indented lines it wrapped
    /// onto, joined back.
    fn paragraph(out: &str, start: &str) -> String {
        let mut lines = out.lines().skip_while(|l| !l.starts_with(start));
        let first = lines
            .next()
            .unwrap_or_else(|| panic!("no line starting {start:?} in {out}"));
        let mut text = first.to_string();
        for l in lines.take_while(|l| l.starts_with("  ")) {
            text.push(' ');
            text.push_str(l.trim_start());
        }
        text
    }

    #[test]
    fn the_footer_states_the_requests_sent_per_target_in_one_paragraph() {
        let out = render(false);
        let text = paragraph(&out, "Requests sent: 5 (");
        assert!(text.ends_with("4, other addresses 1)"), "{text}");
    }

    #[test]
    fn every_line_fits_the_width_asked_for() {
        for width in [80, 120] {
            let opts = RenderOptions {
                color: true,
                width: Some(width),
                ..RenderOptions::default()
            };
            let out = render_to_string(Format::Table, &hostile::report(), opts).expect("render");
            for line in out.lines() {
                let visible = strip_sgr(line);
                // Only the comment of a hostile `try:` command may not be cut.
                if visible.trim_start().starts_with('#') {
                    continue;
                }
                assert!(
                    crate::report::layout::width(&visible) <= usize::from(width),
                    "{width}: {visible}"
                );
            }
        }
    }

    fn strip_sgr(s: &str) -> String {
        let mut out = String::new();
        let mut rest = s;
        while let Some(i) = rest.find('\x1b') {
            out.push_str(&rest[..i]);
            let tail = &rest[i + 1..];
            let end = tail.find('m').map_or(tail.len(), |m| m + 1);
            rest = &tail[end..];
        }
        out.push_str(rest);
        out
    }

    #[test]
    fn server_text_cannot_drive_the_terminal_or_forge_rows() {
        let out = render(false);
        assert_inert("table", &out, true);
        assert!(forged_lines(&out).is_empty(), "{:?}", forged_lines(&out));
        // Still there to read, as escapes.
        assert!(
            out.contains(r"\x1b]0;pwned\x07\x1b[2J\u{9b}31m red\n[   pass] forged\n# PASSED"),
            "{out}"
        );
        assert!(out.contains(r"\u{202e}desrever\u{2066}\u{2069}"), "{out}");
    }

    #[test]
    fn the_renderers_own_colours_are_the_only_escape_sequences() {
        let out = render(true);
        assert!(out.contains("\x1b["), "colour was asked for");
        for (i, _) in out.match_indices('\x1b') {
            let rest = &out[i + 1..];
            let sgr = rest.strip_prefix('[').and_then(|r| {
                let params = r.find(|c: char| !(c.is_ascii_digit() || c == ';'))?;
                r[params..].starts_with('m').then_some(())
            });
            assert!(sgr.is_some(), "not a colour: {:?}", &rest[..rest.len().min(20)]);
        }
        let without_colour: String = out.replace('\x1b', "");
        assert_inert("table", &without_colour, true);
        assert!(forged_lines(&out).is_empty());
    }

    #[test]
    fn blockers_sharing_a_root_cause_are_listed_once_under_it() {
        let mut r = hostile::report();
        r.root_causes[0].checks = r.blockers.iter().map(|b| b.check.clone()).collect();
        let out = render_to_string(Format::Table, &r, RenderOptions::default()).expect("render");
        let blockers = &out[out.find("Blockers, by root cause").expect("a blockers section")..];
        let heads: Vec<&str> = blockers.lines().filter(|l| l.starts_with("  [")).collect();
        assert_eq!(heads.len(), 1, "one group: {blockers}");
        assert!(
            heads[0].starts_with("  [SECURITY] root cause summary: "),
            "{}",
            heads[0]
        );
        // Its checks by status, each status once; one fix, one command.
        let checks = paragraph(blockers, "    checks: ");
        for st in ["(FAIL)", "(ERROR)", "(BLOCKED)"] {
            assert_eq!(checks.matches(st).count(), 1, "{checks}");
        }
        assert_eq!(blockers.lines().filter(|l| l.starts_with("    fix:")).count(), 1);
        assert!(paragraph(blockers, "    fix:").starts_with("    fix:    root cause remediation: "));
        assert_eq!(blockers.lines().filter(|l| l.starts_with("    try:")).count(), 1);
    }

    #[test]
    fn checks_that_did_not_run_are_named_on_one_line_not_a_row_each() {
        let out = render(false);
        assert!(!out.contains("┆ SKIPPED"), "{out}");
        // The reason is the check's message; the id follows it.
        let line = paragraph(&out, "1 check not run (skipped message: ");
        assert!(line.contains("): skipped \\x1b]0;pwned"), "{line}");
    }

    #[test]
    fn try_commands_keep_their_tab_and_stay_one_command() {
        let out = render(false);
        let mut tries: Vec<String> = Vec::new();
        let mut continued = false;
        for l in out.lines() {
            if continued && let Some(t) = tries.last_mut() {
                t.push(' ');
                t.push_str(l.trim_start());
            } else if l.trim_start().starts_with("try:") {
                tries.push(l.to_string());
            } else {
                continue;
            }
            continued = l.ends_with(" \\");
        }
        let tries: Vec<String> = tries.into_iter().map(|t| t.replace(" \\ ", " ")).collect();
        assert_eq!(tries.len(), 3, "one per blocker: {out}");
        for t in tries {
            assert!(t.contains("'{{.Names}}\t{{.Status}}'"), "{t}");
            assert!(t.contains(&crate::text::escape(EVIL).into_owned()), "{t}");
        }
    }
}
