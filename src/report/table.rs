//! The terminal rendering: a headline verdict, the compliance table, the
//! root causes by impact, the blockers with their fixes, and the fix path.
//!
//! Every text from the report goes through [`crate::text::escape`] here, so
//! a server's escape sequence or newline shows as `\x1b` or `\n` and can
//! neither drive the terminal nor forge a row; the colours are added after,
//! by the renderer. `try:` commands keep their tabs.

use std::io;

use comfy_table::{Attribute, Cell, CellAlignment, Color, ContentArrangement, Table as CTable, presets};

use super::words::{impact, pct, req_status, status, weight};
use super::{RenderOptions, Renderer, Report};
use crate::status::{ReqStatus, Status};
use crate::text::{escape as esc, escape_keep_tabs};

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

        let verdict = match (r.passed, r.partial) {
            (true, false) => "PASSED",
            (true, true) => "PASSED (PARTIAL)",
            (false, _) if r.verdict == "partial" => "PARTIAL",
            (false, _) => "BLOCKED",
        };
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
        if let Some(sim) = &r.simulated {
            writeln!(out, "SIMULATED STACK: {}", esc(sim))?;
        }
        writeln!(out, "Gate {} · {}", esc(&r.gate.id), esc(&r.gate.name))?;
        writeln!(
            out,
            "{verdict_text}  score {} (threshold {}) · {} checks: {} · {}",
            pct(r.score),
            pct(r.gate.threshold),
            r.requirements.iter().map(|q| q.checks.len()).sum::<usize>(),
            counts_line(r),
            crate::http::fmt_duration(std::time::Duration::from_millis(r.duration_ms)),
        )?;
        writeln!(out, "{}", esc(&r.summary))?;
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
                Cell::new(format!("{}\n{}", esc(&q.id), esc(&q.name))),
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
                Cell::new(esc(&c.id)),
                Cell::new(esc(&c.kind)),
                paint(label, color, false),
                Cell::new(format!("{}ms", c.duration_ms)).set_alignment(CellAlignment::Right),
                Cell::new(esc(&c.message)),
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
                    Cell::new(esc(&rc.summary)),
                    Cell::new(esc(&rc.checks.join(", "))),
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
                writeln!(
                    out,
                    "  [{tag}] {} / {} — {}",
                    esc(&b.requirement),
                    esc(&b.check),
                    status(b.status)
                )?;
                writeln!(out, "      {}", esc(&b.message))?;
                if let Some(cause) = &b.cause {
                    writeln!(out, "      cause: {}", esc(cause))?;
                }
                if let Some(fix) = &b.remediation {
                    writeln!(out, "      fix:   {}", esc(fix))?;
                }
                if let Some(cmd) = &b.reproduce {
                    writeln!(out, "      try:   {}", escape_keep_tabs(cmd))?;
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
                writeln!(out, "  {}. {} → {}", i + 1, esc(&s.summary), pct(s.score_after))?;
            }
        }
        if let Some(w) = &r.warm_up {
            writeln!(out)?;
            writeln!(
                out,
                "Warm-up (synthetic, at {}): {}",
                esc(&w.started_at),
                esc(&w.summary)
            )?;
        }
        if let Some(line) = requests_line(r, &|t| esc(t).into_owned()) {
            writeln!(out)?;
            writeln!(out, "{line}")?;
        }
        if !r.warnings.is_empty() {
            writeln!(out)?;
            for w in &r.warnings {
                writeln!(out, "warning: {}", esc(w))?;
            }
        }
        Ok(())
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
        };
        render_to_string(Format::Table, &hostile::report(), opts).expect("render the table")
    }

    #[test]
    fn the_footer_states_the_requests_sent_per_target_on_one_line() {
        let out = render(false);
        let line = out
            .lines()
            .find(|l| l.starts_with("Requests sent: 5 ("))
            .unwrap_or_else(|| panic!("no requests line in {out}"));
        assert!(line.ends_with("4, other addresses 1)"), "{line}");
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
    fn try_lines_keep_the_commands_tab_and_stay_one_line() {
        let out = render(false);
        let tries: Vec<&str> = out.lines().filter(|l| l.trim_start().starts_with("try:")).collect();
        assert_eq!(tries.len(), 3, "one per blocker");
        for t in tries {
            assert!(t.contains("'{{.Names}}\t{{.Status}}'"), "{t}");
            assert!(t.contains(&crate::text::escape(EVIL).into_owned()), "{t}");
        }
    }
}
