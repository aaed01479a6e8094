//! `list`: a gate's requirements and checks with their weights, as a table,
//! and the variables it reads with their current values, so an operator sees
//! what a run would use before it probes anything. Secrets show only whether
//! they are set.

use comfy_table::{CellAlignment, ContentArrangement, Table, presets};

use super::Ui;
use crate::cli::GateArgs;
use crate::error::Exit;
use crate::gate::{self, Env, Gate, Origin, Source};

pub fn run(args: GateArgs, _ui: Ui) -> anyhow::Result<Exit> {
    let source = args.path().cloned().map(Source::File).unwrap_or(Source::Builtin);
    let env = Env::process(args.vars.into_iter().collect());
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
    out += &variables(&g, &env);
    crate::error::print(&out)?;
    Ok(Exit::Passed)
}

/// The variables table: each `${VAR}` with the value a run would use now.
fn variables(g: &Gate, env: &Env) -> String {
    if g.variables.is_empty() {
        return "Variables: none (the gate reads nothing from the environment)\n".to_string();
    }
    // A value may embed a secret (a token in a URL): redact as the report would.
    let redactor = crate::redact::Redactor::for_gate(g);
    let mut t = Table::new();
    t.load_style(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .force_no_tty();
    t.set_header(vec!["Variable", "Value", "From", "Used by"]);
    for v in &g.variables {
        // As `${VAR:-default}` expands: an empty value takes the default.
        let set = env
            .lookup(&v.name)
            .filter(|(value, _)| !value.is_empty() || v.default.is_none());
        let (value, from) = match (&set, &v.default) {
            (Some((value, origin)), _) => (
                if value.is_empty() {
                    "(empty)".to_string()
                } else if v.secret {
                    "***".to_string()
                } else {
                    crate::text::escape(&redactor.redact(value)).into_owned()
                },
                match origin {
                    Origin::Flag => "--var",
                    Origin::Environment => "environment",
                },
            ),
            (None, Some(d)) if d.is_empty() => ("(not set)".to_string(), "default: empty"),
            // A secret's default is still the secret's value.
            (None, Some(_)) if v.secret => ("***".to_string(), "default"),
            (None, Some(d)) => (crate::text::escape(d).into_owned(), "default"),
            (None, None) => ("(not set)".to_string(), "required"),
        };
        let name = if v.secret {
            format!("{} (secret)", v.name)
        } else {
            v.name.clone()
        };
        let used_by: Vec<String> = v.used_by.iter().map(ToString::to_string).collect();
        t.add_row(vec![name, value, from.to_string(), used_by.join(", ")]);
    }
    format!("Variables (secrets show *** when set, never the value):\n{t}\n")
}
