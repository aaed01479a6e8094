//! The Markdown blocker report, for a PR comment or `$GITHUB_STEP_SUMMARY`:
//! verdict and score first, then what to fix first (root causes by impact and
//! the fix path), the compliance table, and every blocker with its evidence,
//! remediation and a command to reproduce it.
//!
//! Report text is written through [`crate::text`]: escaped so that a
//! server's message cannot open a heading, a link, raw HTML or a comment,
//! nor start a line of its own; ids and evidence in code spans whose fence
//! outlasts any backticks; commands in fences they cannot close. The
//! markup in this file is the only markup in the output.

use std::io;

use super::groups::{BlockerGroup, group_blockers};
use super::model::Blocker;
use super::words::{impact, pct, req_status, status, weight};
use super::{RenderOptions, Renderer, Report};
use crate::text::{
    markdown as md, markdown_cell as cell, markdown_code as code, markdown_code_block, markdown_code_cell as code_cell,
};

pub struct Markdown;

impl Renderer for Markdown {
    fn render(&self, r: &Report, out: &mut dyn io::Write, _opts: RenderOptions) -> io::Result<()> {
        let verdict = match (r.passed, r.partial) {
            (true, false) => "✅ PASSED",
            (true, true) => "✅ PASSED (partial)",
            (false, _) if r.verdict == "partial" => "⚠️ PARTIAL",
            (false, _) => "❌ BLOCKED",
        };
        writeln!(out, "# Gate {} — {}: {verdict}", md(&r.gate.id), md(&r.gate.name))?;
        writeln!(out)?;
        writeln!(
            out,
            "**Score: {}** (threshold {}) · {} checks: {} · started {} · took {} ms",
            pct(r.score),
            pct(r.gate.threshold),
            r.requirements.iter().map(|q| q.checks.len()).sum::<usize>(),
            super::table::counts_line(r),
            md(&r.started_at),
            r.duration_ms
        )?;
        writeln!(out)?;
        if let Some(sim) = &r.simulated {
            writeln!(out, "**Simulated stack:** {}", md(sim))?;
            writeln!(out)?;
        }
        writeln!(out, "> {}", md(&r.summary))?;
        if r.insecure {
            writeln!(
                out,
                ">\n> ⚠️ Run with `--insecure`: TLS certificates were not verified."
            )?;
        }
        writeln!(out)?;

        if !r.root_causes.is_empty() {
            writeln!(out, "## Fix first: root causes by score impact")?;
            writeln!(out)?;
            writeln!(out, "| # | Root cause | Impact | Severity | Affected checks |")?;
            writeln!(out, "|---|---|---:|---|---|")?;
            for (i, rc) in r.root_causes.iter().enumerate() {
                let checks: Vec<String> = rc.checks.iter().map(|c| code_cell(c)).collect();
                writeln!(
                    out,
                    "| {} | {}{} | {} | {} | {} |",
                    i + 1,
                    if rc.security { "🔒 " } else { "" },
                    cell(&rc.summary),
                    impact(rc.score_impact),
                    rc.severity.as_str(),
                    checks.join(", ")
                )?;
            }
            writeln!(out)?;
        }
        if !r.fix_path.already_passing {
            if r.fix_path.reachable {
                writeln!(
                    out,
                    "**Fix path to {}** ({} fix{}):",
                    pct(r.gate.threshold),
                    r.fix_path.steps.len(),
                    if r.fix_path.steps.len() == 1 { "" } else { "es" }
                )?;
            } else {
                writeln!(
                    out,
                    "**No fix path reaches {}**: fixing every root cause gives {} (waived or advisory checks hold the rest).",
                    pct(r.gate.threshold),
                    pct(r.fix_path.score_after)
                )?;
            }
            writeln!(out)?;
            for (i, s) in r.fix_path.steps.iter().enumerate() {
                writeln!(out, "{}. {} → **{}**", i + 1, md(&s.summary), pct(s.score_after))?;
            }
            writeln!(out)?;
        }

        writeln!(out, "## Compliance")?;
        writeln!(out)?;
        writeln!(out, "| Requirement | Weight | Required | Score | Status |")?;
        writeln!(out, "|---|---:|:---:|---:|---|")?;
        for q in &r.requirements {
            writeln!(
                out,
                "| {} ({}) | {} | {} | {} | {} |",
                cell(&q.name),
                code_cell(&q.id),
                weight(q.weight),
                if q.required { "yes" } else { "no" },
                if q.status == crate::status::ReqStatus::Skipped {
                    "-".to_string()
                } else {
                    pct(q.score)
                },
                req_status(q.status)
            )?;
        }
        writeln!(
            out,
            "| **Total** | | | **{}** | **{}** |",
            pct(r.score),
            if r.passed { "PASS" } else { "BLOCKED" }
        )?;
        writeln!(out)?;

        if !r.blockers.is_empty() {
            writeln!(out, "## Blockers")?;
            writeln!(out)?;
            for (i, g) in group_blockers(r).iter().enumerate() {
                write_group(out, i + 1, g)?;
            }
        }

        writeln!(out, "<details><summary>All checks</summary>")?;
        writeln!(out)?;
        writeln!(out, "| Requirement | Check | Kind | Status | Time | Detail |")?;
        writeln!(out, "|---|---|---|---|---:|---|")?;
        for (q, c) in r.all_checks() {
            let detail = match super::words::retried(c) {
                Some(retried) => format!("{retried}: {}", cell(&c.message)),
                None => cell(&c.message),
            };
            writeln!(
                out,
                "| {} | {} | {} | {} | {} ms | {} |",
                code_cell(&q.id),
                code_cell(&c.id),
                cell(&c.kind),
                status(c.status),
                c.duration_ms,
                detail
            )?;
        }
        writeln!(out)?;
        writeln!(out, "</details>")?;
        if let Some(w) = &r.warm_up {
            writeln!(out)?;
            writeln!(
                out,
                "**Warm-up** (synthetic, at {}): {}",
                md(&w.started_at),
                md(&w.summary)
            )?;
        }
        if !r.warnings.is_empty() {
            writeln!(out)?;
            writeln!(out, "**Warnings**")?;
            writeln!(out)?;
            for w in &r.warnings {
                writeln!(out, "- {}", md(w))?;
            }
        }
        writeln!(out)?;
        let requests = super::table::requests_line(r, &|t| md(t))
            .into_iter()
            .chain(super::words::attempts_line(r))
            .map(|l| format!(" · {l}"))
            .collect::<String>();
        writeln!(
            out,
            "<sub>{} {} · gate source: {}{requests}</sub>",
            r.tool.name,
            r.tool.version,
            md(&r.gate.source)
        )?;
        Ok(())
    }
}

/// One blocker under its own heading; blockers that share a root cause
/// under one heading that states the cause and the fix once, then what
/// each check saw and how to reproduce it.
fn write_group(out: &mut dyn io::Write, n: usize, g: &BlockerGroup<'_>) -> io::Result<()> {
    let first = g.blockers[0];
    let tag = if g.blockers.iter().any(|b| b.security) {
        "🔒 SECURITY".to_string()
    } else {
        first.severity.as_str().to_ascii_uppercase()
    };
    if let [b] = g.blockers.as_slice() {
        writeln!(
            out,
            "### {n}. [{tag}] {} / {} — {}",
            md(&b.requirement),
            code(&b.check),
            status(b.status)
        )?;
        writeln!(out)?;
        writeln!(out, "{}", md(&b.message))?;
        writeln!(out)?;
        if let Some(c) = g.cause() {
            writeln!(out, "- **Cause:** {}", md(c))?;
        }
        for f in g.fixes() {
            writeln!(out, "- **Remediation:** {}", md(f))?;
        }
        write_evidence(out, b)?;
        return Ok(());
    }
    writeln!(out, "### {n}. [{tag}] {}", md(g.cause().unwrap_or(&first.message)))?;
    writeln!(out)?;
    let checks: Vec<String> = g
        .blockers
        .iter()
        .map(|b| format!("{} / {} ({})", md(&b.requirement), code(&b.check), status(b.status)))
        .collect();
    writeln!(out, "- **Affected checks:** {}", checks.join(", "))?;
    for f in g.fixes() {
        writeln!(out, "- **Remediation:** {}", md(f))?;
    }
    writeln!(out)?;
    for b in &g.blockers {
        writeln!(
            out,
            "**{} / {} — {}:** {}",
            md(&b.requirement),
            code(&b.check),
            status(b.status),
            md(&b.message)
        )?;
        writeln!(out)?;
        write_evidence(out, b)?;
    }
    Ok(())
}

/// A blocker's evidence and reproduction command, as list items.
fn write_evidence(out: &mut dyn io::Write, b: &Blocker) -> io::Result<()> {
    if !b.evidence.is_empty() {
        let ev: Vec<String> = b
            .evidence
            .iter()
            .map(|(k, v)| format!("{}: {}", code(k), code(&compact(v))))
            .collect();
        writeln!(out, "- **Evidence:** {}", ev.join(" · "))?;
    }
    if let Some(cmd) = &b.reproduce {
        writeln!(out, "- **Reproduce:**")?;
        writeln!(out)?;
        writeln!(out, "{}", markdown_code_block(cmd, "sh", "  "))?;
    }
    writeln!(out)
}

fn compact(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::ops::Range;

    use pulldown_cmark::{CodeBlockKind, Event, Options, Parser, Tag, TagEnd};

    use super::super::table::hostile::{self, assert_inert, forged_lines};
    use crate::report::{Format, RenderOptions, Report, render_to_string};

    fn render(r: &Report) -> String {
        render_to_string(Format::Markdown, r, RenderOptions::default()).expect("render Markdown")
    }

    /// What GitHub would parse: CommonMark plus GFM tables, strikethrough,
    /// task lists, footnotes and math.
    fn parse(md: &str) -> Vec<(Event<'_>, Range<usize>)> {
        let opts = Options::ENABLE_TABLES
            | Options::ENABLE_STRIKETHROUGH
            | Options::ENABLE_TASKLISTS
            | Options::ENABLE_FOOTNOTES
            | Options::ENABLE_MATH
            | Options::ENABLE_GFM;
        Parser::new_ext(md, opts).into_offset_iter().collect()
    }

    fn headings(events: &[(Event<'_>, Range<usize>)]) -> Vec<String> {
        let mut out = Vec::new();
        let mut current: Option<String> = None;
        for (e, _) in events {
            match e {
                Event::Start(Tag::Heading { .. }) => current = Some(String::new()),
                Event::End(TagEnd::Heading(_)) => out.extend(current.take()),
                Event::Text(t) | Event::Code(t) => {
                    if let Some(h) = &mut current {
                        h.push_str(t);
                    }
                }
                _ => {}
            }
        }
        out
    }

    #[test]
    fn server_text_opens_no_markup_when_parsed() {
        let r = hostile::report();
        let md = render(&r);
        let events = parse(&md);
        for (e, range) in &events {
            let source = &md[range.clone()];
            match e {
                Event::Html(h) => assert!(
                    ["<details><summary>All checks</summary>", "</details>"].contains(&h.trim()),
                    "raw HTML from {source:?}"
                ),
                Event::InlineHtml(h) => assert!(["<sub>", "</sub>"].contains(&h.as_ref()), "inline HTML {h}"),
                Event::Start(
                    tag @ (Tag::Link { .. }
                    | Tag::Image { .. }
                    | Tag::Emphasis
                    | Tag::Strikethrough
                    | Tag::FootnoteDefinition(_)),
                ) => panic!("{tag:?} from {source:?}"),
                Event::InlineMath(_)
                | Event::DisplayMath(_)
                | Event::FootnoteReference(_)
                | Event::TaskListMarker(_) => {
                    panic!("{e:?} from {source:?}")
                }
                _ => {}
            }
        }
        let hs = headings(&events);
        assert_eq!(hs.len(), 1 + 1 + 1 + 1 + r.blockers.len(), "{hs:#?}");
        assert!(hs[0].starts_with("Gate gate id: "), "{}", hs[0]);
        assert_eq!(
            &hs[1..4],
            ["Fix first: root causes by score impact", "Compliance", "Blockers"]
        );
        for (i, h) in hs[4..].iter().enumerate() {
            assert!(h.starts_with(&format!("{}. [", i + 1)), "{h}");
        }
        // One quote (the summary and the --insecure note), no quote or list forged by a `>` or `- `.
        let quotes = events
            .iter()
            .filter(|(e, _)| matches!(e, Event::Start(Tag::BlockQuote(_))))
            .count();
        assert_eq!(quotes, 1);
    }

    #[test]
    fn server_text_renders_as_its_own_characters_on_its_own_line() {
        let md = render(&hostile::report());
        assert_inert("markdown", &md, true);
        assert!(forged_lines(&md).is_empty(), "{:?}", forged_lines(&md));
        for line in md.lines().filter(|l| l.starts_with('#')) {
            assert!(
                line.starts_with("# Gate ") || line.starts_with("## ") || line.starts_with("### "),
                "{line}"
            );
        }
        // Outside code, every `<!--`, `<script` and `](` is escaped.
        let events = parse(&md);
        let code: Vec<Range<usize>> = events
            .iter()
            .filter(|(e, _)| matches!(e, Event::Code(_) | Event::Start(Tag::CodeBlock(_))))
            .map(|(_, r)| r.clone())
            .collect();
        for needle in ["<!--", "<script", "](", "<http"] {
            for (i, _) in md.match_indices(needle) {
                let escaped = md[..i].ends_with('\\');
                assert!(
                    escaped || code.iter().any(|r| r.contains(&i)),
                    "unescaped {needle} at {i}"
                );
            }
        }
        let text: String = events
            .iter()
            .filter_map(|(e, _)| match e {
                Event::Text(t) | Event::Code(t) => Some(t.as_ref()),
                _ => None,
            })
            .collect();
        assert!(
            text.contains(
                r"red\n[   pass] forged\n# PASSED\n\n<!-- hide\n<script>alert(1)</script> [x](http://evil.test)"
            ),
            "{text}"
        );
        assert!(text.contains(r"\u{202e}desrever\u{2066}\u{2069}"));
    }

    #[test]
    fn table_cells_hold_their_pipes_and_rows_keep_their_columns() {
        let md = render(&hostile::report());
        let events = parse(&md);
        let mut row: Option<Vec<String>> = None;
        let mut rows = Vec::new();
        for (e, _) in &events {
            match e {
                Event::Start(Tag::TableRow | Tag::TableHead) => row = Some(Vec::new()),
                Event::Start(Tag::TableCell) => row.iter_mut().for_each(|r| r.push(String::new())),
                Event::Text(t) | Event::Code(t) => {
                    if let Some(cell) = row.as_mut().and_then(|r| r.last_mut()) {
                        cell.push_str(t);
                    }
                }
                Event::End(TagEnd::TableRow | TagEnd::TableHead) => rows.extend(row.take()),
                _ => {}
            }
        }
        let detail_rows: Vec<&Vec<String>> = rows.iter().filter(|r| r.len() == 6 && r[0] != "Requirement").collect();
        assert_eq!(detail_rows.len(), 6, "{rows:#?}");
        for r in detail_rows {
            assert!(r[1].contains("|cell|") && r[5].contains("|cell| "), "{r:?}");
        }
    }

    #[test]
    fn reproduce_blocks_hold_the_command_verbatim_on_one_line() {
        let r = hostile::report();
        let md = render(&r);
        let blocks: Vec<String> = {
            let mut out = Vec::new();
            let mut current: Option<String> = None;
            for (e, _) in parse(&md) {
                match e {
                    Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(info))) => {
                        assert_eq!(info.as_ref(), "sh");
                        current = Some(String::new());
                    }
                    Event::Text(t) => {
                        if let Some(c) = &mut current {
                            c.push_str(&t);
                        }
                    }
                    Event::End(TagEnd::CodeBlock) => out.extend(current.take()),
                    _ => {}
                }
            }
            out
        };
        assert_eq!(blocks.len(), r.blockers.len());
        let want = format!("{}\n", crate::text::escape_keep_tabs(&hostile::evil_command()));
        for b in blocks {
            assert_eq!(b, want);
            assert!(b.contains('\t'), "the tab survives");
        }
    }

    #[test]
    fn blockers_sharing_a_root_cause_get_one_heading_with_the_cause_and_fix_once() {
        let mut r = hostile::report();
        r.root_causes[0].checks = r.blockers.iter().map(|b| b.check.clone()).collect();
        let md = render(&r);
        let events = parse(&md);
        let hs = headings(&events);
        assert_eq!(hs.len(), 4 + 1, "{hs:#?}");
        assert!(hs[4].starts_with("1. [🔒 SECURITY] root cause summary: "), "{}", hs[4]);
        assert_eq!(md.matches("- **Affected checks:** ").count(), 1);
        assert_eq!(md.matches("- **Remediation:** ").count(), 1);
        assert!(md.contains("- **Remediation:** root cause remediation: "));
        assert_eq!(md.matches("- **Cause:** ").count(), 0, "the heading is the cause");
        // Each check's own evidence and command stay.
        assert_eq!(md.matches("- **Reproduce:**").count(), r.blockers.len());
        assert_eq!(md.matches("- **Evidence:** ").count(), r.blockers.len());
    }

    #[test]
    fn ordinary_text_keeps_its_code_spans_and_reads_plainly() {
        let mut r = hostile::report();
        r.summary = "BLOCKED: score 0.0% < 85%; required requirements failing: metrics-endpoint".into();
        r.blockers.truncate(1);
        r.blockers[0].remediation = Some("start the `backend` service; check `docker compose ps`".into());
        let md = render(&r);
        assert!(
            md.contains("> BLOCKED: score 0.0% < 85%; required requirements failing: metrics-endpoint\n"),
            "{md}"
        );
        assert!(md.contains("- **Remediation:** start the `backend` service; check `docker compose ps`\n"));
    }
}
