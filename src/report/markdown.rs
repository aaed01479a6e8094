//! The Markdown blocker report, for a PR comment or `$GITHUB_STEP_SUMMARY`:
//! verdict and score first, then what to fix first (root causes by impact and
//! the fix path), the compliance table, and every blocker with its evidence,
//! remediation and a command to reproduce it.

use std::io;

use super::words::{impact, pct, req_status, status, weight};
use super::{RenderOptions, Renderer, Report};

pub struct Markdown;

/// Makes text safe inside a table cell.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// Inline code that survives backticks in the content.
fn code(s: &str) -> String {
    if s.contains('`') {
        format!("`` {s} ``")
    } else {
        format!("`{s}`")
    }
}

impl Renderer for Markdown {
    fn render(&self, r: &Report, out: &mut dyn io::Write, _opts: RenderOptions) -> io::Result<()> {
        let verdict = if r.passed { "✅ PASSED" } else { "❌ BLOCKED" };
        writeln!(out, "# Gate {} — {}: {verdict}", r.gate.id, r.gate.name)?;
        writeln!(out)?;
        writeln!(
            out,
            "**Score: {}** (threshold {}) · {} checks: {} · started {} · took {} ms",
            pct(r.score),
            pct(r.gate.threshold),
            r.requirements.iter().map(|q| q.checks.len()).sum::<usize>(),
            super::table::counts_line(r),
            r.started_at,
            r.duration_ms
        )?;
        writeln!(out)?;
        writeln!(out, "> {}", r.summary)?;
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
                let checks: Vec<String> = rc.checks.iter().map(|c| code(c)).collect();
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
                writeln!(out, "{}. {} → **{}**", i + 1, s.summary, pct(s.score_after))?;
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
                code(&q.id),
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
            for (i, b) in r.blockers.iter().enumerate() {
                let tag = if b.security {
                    "🔒 SECURITY".to_string()
                } else {
                    b.severity.as_str().to_ascii_uppercase()
                };
                writeln!(
                    out,
                    "### {}. [{tag}] {} / {} — {}",
                    i + 1,
                    b.requirement,
                    code(&b.check),
                    status(b.status)
                )?;
                writeln!(out)?;
                writeln!(out, "{}", b.message)?;
                writeln!(out)?;
                if let Some(c) = &b.cause {
                    writeln!(out, "- **Cause:** {c}")?;
                }
                if let Some(f) = &b.remediation {
                    writeln!(out, "- **Remediation:** {f}")?;
                }
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
                    writeln!(out, "  ```sh\n  {cmd}\n  ```")?;
                }
                writeln!(out)?;
            }
        }

        writeln!(out, "<details><summary>All checks</summary>")?;
        writeln!(out)?;
        writeln!(out, "| Requirement | Check | Kind | Status | Time | Detail |")?;
        writeln!(out, "|---|---|---|---|---:|---|")?;
        for (q, c) in r.all_checks() {
            let mut st = status(c.status).to_string();
            if c.passed_after_retry {
                st.push_str(" (after retry)");
            }
            writeln!(
                out,
                "| {} | {} | {} | {} | {} ms | {} |",
                code(&q.id),
                code(&c.id),
                c.kind,
                st,
                c.duration_ms,
                cell(&c.message)
            )?;
        }
        writeln!(out)?;
        writeln!(out, "</details>")?;
        if !r.warnings.is_empty() {
            writeln!(out)?;
            writeln!(out, "**Warnings**")?;
            writeln!(out)?;
            for w in &r.warnings {
                writeln!(out, "- {w}")?;
            }
        }
        writeln!(out)?;
        writeln!(
            out,
            "<sub>{} {} · gate source: {}</sub>",
            r.tool.name, r.tool.version, r.gate.source
        )?;
        Ok(())
    }
}

fn compact(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
