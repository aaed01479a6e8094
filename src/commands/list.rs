//! `list`: a gate's requirements and checks with their weights, as a table.

use comfy_table::{CellAlignment, ContentArrangement, Table, presets};

use super::Ui;
use crate::cli::GateArgs;
use crate::error::Exit;
use crate::gate::{self, Env, Source};

pub fn run(args: GateArgs, _ui: Ui) -> anyhow::Result<Exit> {
    let env = Env::process(args.vars.into_iter().collect());
    let source = args.gate.map(Source::File).unwrap_or(Source::Builtin);
    let g = gate::load_source(&source, &env).map_err(crate::error::Failure::Gate)?;
    let mut out = format!(
        "Gate {} · {} (pass at {}%{})\n",
        g.id,
        g.name,
        g.pass.min_score,
        if g.pass.required_must_pass {
            ", required must pass"
        } else {
            ""
        }
    );
    let total: f64 = g.requirements.iter().map(|r| r.weight).sum();
    let mut t = Table::new();
    t.load_style(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .force_no_tty();
    t.set_header(vec![
        "Requirement",
        "Weight",
        "Share",
        "Required",
        "Severity",
        "Check",
        "Kind",
        "Target",
        "Needs",
    ]);
    for r in &g.requirements {
        for (i, c) in r.checks.iter().enumerate() {
            let first = i == 0;
            let share = if total > 0.0 {
                format!("{:.1}%", 100.0 * r.weight / total)
            } else {
                "-".into()
            };
            t.add_row(vec![
                comfy_table::Cell::new(if first { r.id.as_str() } else { "" }),
                comfy_table::Cell::new(if first {
                    crate::report::words::weight(r.weight)
                } else {
                    String::new()
                })
                .set_alignment(CellAlignment::Right),
                comfy_table::Cell::new(if first { share } else { String::new() }).set_alignment(CellAlignment::Right),
                comfy_table::Cell::new(if first {
                    if r.required { "yes" } else { "no" }
                } else {
                    ""
                }),
                comfy_table::Cell::new(if first { r.severity.as_str() } else { "" }),
                comfy_table::Cell::new(&c.id),
                comfy_table::Cell::new(c.spec.kind()),
                comfy_table::Cell::new(c.target.as_deref().unwrap_or("-")),
                comfy_table::Cell::new(c.needs.join(", ")),
            ]);
        }
    }
    out += &format!("{t}\n");
    if let Some(w) = &g.warm_up {
        out += &format!(
            "Warm-up, sent only with --synthetic: {} requests to `{}` ({}), {} at once, at most {}/s{}\n",
            w.requests,
            w.target,
            w.paths.join(", "),
            w.concurrency,
            w.rate,
            match &w.settle {
                Some(s) => format!(
                    "; then one scrape interval of job `{}` (from `{}`)",
                    s.job, s.prometheus
                ),
                None => String::new(),
            }
        );
    }
    crate::error::print(&out)?;
    Ok(Exit::Passed)
}
