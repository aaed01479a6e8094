//! `list`: a gate's requirements and checks with their weights, fitted to
//! the terminal (or [`LOG_WIDTH`](crate::report::layout::LOG_WIDTH) columns
//! when stdout is not one): one table when every column fits whole, else
//! each requirement on a line of its own with its checks beneath it. Then
//! the variables it reads with their current values, so an operator sees
//! what a run would use before it probes anything; secrets show only
//! whether they are set.

use comfy_table::{Cell, CellAlignment, ColumnConstraint, ContentArrangement, Table, presets};

use super::Ui;
use crate::cli::GateArgs;
use crate::error::Exit;
use crate::gate::{self, Env, Gate, Origin, Source};
use crate::report::layout::{self, table_width, wrap};
use crate::report::words::weight;

pub fn run(args: GateArgs, ui: Ui) -> anyhow::Result<Exit> {
    let source = args.path().cloned().map(Source::File).unwrap_or(Source::Builtin);
    let env = Env::process(args.vars.into_iter().collect());
    let g = gate::load_source(&source, &env).map_err(crate::error::Failure::Gate)?;
    let w = layout::target(Some(ui.width));
    let head = format!(
        "Gate {} · {} (pass at {}%{})",
        g.id,
        g.name,
        g.pass.min_score,
        if g.pass.required_must_pass {
            ", required must pass"
        } else {
            ""
        }
    );
    let mut out = wrap(&head, w, "", "  ") + "\n";
    let rows = rows(&g);
    let widths: Vec<usize> = (0..HEADER.len())
        .map(|i| {
            rows.iter()
                .map(|r| layout::width(&r[i]))
                .chain([layout::width(HEADER[i])])
                .max()
                .unwrap_or(0)
        })
        .collect();
    if table_width(&widths) <= w {
        out += &table(&rows, w);
    } else {
        out += &outline(&g, w);
    }
    if let Some(wu) = &g.warm_up {
        let text = format!(
            "Warm-up, sent only with --synthetic: {} requests to `{}` ({}), {} at once, at most {}/s{}",
            wu.requests,
            wu.target,
            wu.paths.join(", "),
            wu.concurrency,
            wu.rate,
            match &wu.settle {
                Some(s) => format!(
                    "; then one scrape interval of job `{}` (from `{}`)",
                    s.job, s.prometheus
                ),
                None => String::new(),
            }
        );
        out += &wrap(&text, w, "", "  ");
        out.push('\n');
    }
    out += &variables(&g, &env, w);
    crate::error::print(&out)?;
    Ok(Exit::Passed)
}

/// The variables table: each `${VAR}` with the value a run would use now.
fn variables(g: &Gate, env: &Env, width: usize) -> String {
    if g.variables.is_empty() {
        return "Variables: none (the gate reads nothing from the environment)\n".to_string();
    }
    // A value may embed a secret (a token in a URL): redact as the report would.
    let redactor = crate::redact::Redactor::for_gate(g);
    let mut t = Table::new();
    t.load_style(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(u16::try_from(width).unwrap_or(u16::MAX))
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

const HEADER: [&str; 9] = [
    "Requirement",
    "Weight",
    "Share",
    "Required",
    "Severity",
    "Check",
    "Kind",
    "Target",
    "Needs",
];

fn share(g: &Gate, w: f64) -> String {
    let total: f64 = g.requirements.iter().map(|r| r.weight).sum();
    if total > 0.0 {
        format!("{:.1}%", 100.0 * w / total)
    } else {
        "-".into()
    }
}

/// One row per check; the requirement's cells only on its first.
fn rows(g: &Gate) -> Vec<[String; 9]> {
    let mut rows = Vec::new();
    for r in &g.requirements {
        for (i, c) in r.checks.iter().enumerate() {
            let first = i == 0;
            let req = |s: String| if first { s } else { String::new() };
            rows.push([
                req(r.id.clone()),
                req(weight(r.weight)),
                req(share(g, r.weight)),
                req(if r.required { "yes" } else { "no" }.to_string()),
                req(r.severity.as_str().to_string()),
                c.id.clone(),
                c.spec.kind().to_string(),
                c.target.clone().unwrap_or_else(|| "-".into()),
                c.needs.join(", "),
            ]);
        }
    }
    rows
}

fn table(rows: &[[String; 9]], w: usize) -> String {
    let mut t = layout::table(w);
    t.set_header(HEADER.to_vec());
    for row in rows {
        t.add_row(row.iter().enumerate().map(|(i, s)| {
            let cell = Cell::new(s);
            if (1..=2).contains(&i) {
                cell.set_alignment(CellAlignment::Right)
            } else {
                cell
            }
        }));
    }
    // It was chosen because everything fits: nothing may wrap.
    for col in t.column_iter_mut() {
        col.set_constraint(ColumnConstraint::ContentWidth);
    }
    format!("{t}\n")
}

/// The narrow form: a requirement per line, its checks indented beneath in
/// aligned columns; `needs` goes on a line of its own when it does not fit.
fn outline(g: &Gate, w: usize) -> String {
    let checks = g.requirements.iter().flat_map(|r| &r.checks);
    let id_w = checks.clone().map(|c| layout::width(&c.id)).max().unwrap_or(0).max(5);
    let kind_w = checks.clone().map(|c| c.spec.kind().len()).max().unwrap_or(0).max(4);
    let target_w = checks
        .map(|c| c.target.as_deref().map_or(1, layout::width))
        .max()
        .unwrap_or(0)
        .max(6);
    let pad = |s: &str, n: usize| format!("{s}{}", " ".repeat(n.saturating_sub(layout::width(s))));
    let mut out = String::new();
    out += &wrap(
        "Requirement: weight (share of the score), required or advisory, severity",
        w,
        "",
        "  ",
    );
    out.push('\n');
    out += &format!(
        "  {}  {}  {}  Needs\n",
        pad("Check", id_w),
        pad("Kind", kind_w),
        pad("Target", target_w)
    );
    for r in &g.requirements {
        let line = format!(
            "{}: weight {} ({}), {}, {}",
            r.id,
            weight(r.weight),
            share(g, r.weight),
            if r.required { "required" } else { "advisory" },
            r.severity.as_str()
        );
        out += &wrap(&line, w, "", "    ");
        out.push('\n');
        for c in &r.checks {
            let target = c.target.as_deref().unwrap_or("-");
            let base = format!("  {}  {}  {}", pad(&c.id, id_w), pad(c.spec.kind(), kind_w), target);
            let needs = (!c.needs.is_empty()).then(|| c.needs.join(", "));
            let inline = needs.as_ref().map(|n| {
                format!(
                    "  {}  {}  {}  {n}",
                    pad(&c.id, id_w),
                    pad(c.spec.kind(), kind_w),
                    pad(target, target_w)
                )
            });
            match (inline, needs) {
                (Some(line), _) if layout::width(&line) <= w => out += &line,
                (_, needs) if layout::width(&base) <= w => {
                    out += &base;
                    if let Some(n) = needs {
                        out.push('\n');
                        out += &wrap(&format!("needs {n}"), w, "      ", "      ");
                    }
                }
                (_, needs) => {
                    let all = format!(
                        "{} {} {target}{}",
                        c.id,
                        c.spec.kind(),
                        needs.map(|n| format!(" needs {n}")).unwrap_or_default()
                    );
                    out += &wrap(&all, w, "  ", "      ");
                }
            }
            out.push('\n');
        }
    }
    out
}
