//! `validate`: lint gate files without probing anything. Unset environment
//! variables are reported as notes, not errors: CI lints gates where the
//! stack's secrets do not exist. Waivers that are void or about to expire
//! are warnings: the gate is valid, but its next runs will score differently.

use super::Ui;
use crate::cli::ValidateArgs;
use crate::error::Exit;
use crate::gate::{self, Env, Source};

pub fn run(args: ValidateArgs, ui: Ui) -> anyhow::Result<Exit> {
    let env = Env::process(args.vars.into_iter().collect());
    // Positional files and `--gate` files are the same thing, as in `check` and `list`.
    let files: Vec<_> = args.files.into_iter().chain(args.gates).collect();
    let sources: Vec<Source> = if files.is_empty() {
        vec![Source::Builtin]
    } else {
        files.into_iter().map(Source::File).collect()
    };
    let mut ok = true;
    for source in &sources {
        match gate::load_source(source, &env) {
            Ok(g) => {
                if !ui.quiet {
                    let checks = g.checks().count();
                    anstream::eprintln!(
                        "{}: ok — gate {} ({} requirements, {checks} checks, pass at {}%)",
                        source.display_name(),
                        g.id,
                        g.requirements.len(),
                        g.pass.min_score
                    );
                    for w in waiver_warnings(&g, &crate::runner::today()) {
                        anstream::eprintln!("  warning: {w}");
                    }
                    if let Err(missing) = gate::ensure_env(&g, &|_| true) {
                        for e in missing.0 {
                            anstream::eprintln!("  note: {}:{}:{}: {}", e.file, e.line, e.column, e.message);
                        }
                    }
                }
            }
            Err(errors) => {
                ok = false;
                anstream::eprintln!("{errors}");
            }
        }
    }
    Ok(if ok { Exit::Passed } else { Exit::Usage })
}

/// A waiver expiring within this many days is worth a warning.
const WAIVER_NOTICE_DAYS: i64 = 14;

/// Warnings for waivers that are void (expired before `today`) or expire
/// within [`WAIVER_NOTICE_DAYS`], each with the location of its date.
fn waiver_warnings(g: &gate::Gate, today: &str) -> Vec<String> {
    let Some(today_day) = day_number(today) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (_, c) in g.checks() {
        let Some(w) = &c.waiver else { continue };
        let Some(day) = day_number(&w.expires) else { continue };
        let at = format!("{}:{}:{}", g.source, w.loc.line, w.loc.column);
        let left = day - today_day;
        if left < 0 {
            out.push(format!(
                "{at}: the waiver of check `{}` expired on {} and is void: the check counts as it runs",
                c.id, w.expires
            ));
        } else if left <= WAIVER_NOTICE_DAYS {
            let when = match left {
                0 => format!("today, {} (its last day)", w.expires),
                1 => format!("tomorrow, {}", w.expires),
                n => format!("on {} (in {n} days)", w.expires),
            };
            out.push(format!("{at}: the waiver of check `{}` expires {when}", c.id));
        }
    }
    out
}

/// Days since 1970-01-01 of a `YYYY-MM-DD` date.
fn day_number(date: &str) -> Option<i64> {
    let t = humantime::parse_rfc3339(&format!("{date}T00:00:00Z")).ok()?;
    let secs = t.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs();
    i64::try_from(secs / 86_400).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate_with_waivers(dates: &[&str]) -> gate::Gate {
        let mut text = String::from(
            "schema_version: 1\nid: T\nname: t\ntargets: {t: \"http://127.0.0.1:1\"}\nrequirements:\n  - id: r\n    name: r\n    weight: 1\n    checks:\n",
        );
        for (i, d) in dates.iter().enumerate() {
            text.push_str(&format!(
                "      - {{id: c{i}, kind: http, target: t, waiver: {{reason: ok, expires: {d}}}}}\n"
            ));
        }
        gate::load("w.yaml", &text, &gate::Env::fixed(Default::default())).expect("gate loads")
    }

    #[test]
    fn void_and_soon_expiring_waivers_warn_and_later_ones_do_not() {
        let g = gate_with_waivers(&["2026-03-09", "2026-03-10", "2026-03-11", "2026-03-24", "2026-03-25"]);
        let w = waiver_warnings(&g, "2026-03-10");
        assert_eq!(
            w,
            [
                "w.yaml:10:71: the waiver of check `c0` expired on 2026-03-09 and is void: the check counts as it runs",
                "w.yaml:11:71: the waiver of check `c1` expires today, 2026-03-10 (its last day)",
                "w.yaml:12:71: the waiver of check `c2` expires tomorrow, 2026-03-11",
                "w.yaml:13:71: the waiver of check `c3` expires on 2026-03-24 (in 14 days)",
            ]
        );
    }
}
