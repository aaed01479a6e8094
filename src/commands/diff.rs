//! `diff`: compare two JSON reports of the same gate. Exit 1 when the later
//! report has a regression (a check that passed and no longer does).

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use super::Ui;
use crate::cli::DiffArgs;
use crate::error::{Exit, Failure, print};
use crate::report::Report;
use crate::status::Status;

#[derive(Debug, Serialize)]
struct Change {
    check: String,
    requirement: String,
    before: Option<Status>,
    after: Option<Status>,
}

#[derive(Debug, Serialize)]
struct Diff {
    score_before: f64,
    score_after: f64,
    score_delta: f64,
    passed_before: bool,
    passed_after: bool,
    regressions: Vec<Change>,
    fixes: Vec<Change>,
    other_changes: Vec<Change>,
}

pub fn run(args: DiffArgs, _ui: Ui) -> anyhow::Result<Exit> {
    let before = read(&args.before)?;
    let after = read(&args.after)?;
    let d = diff(&before, &after);
    let mut out = String::new();
    if args.json {
        out = serde_json::to_string_pretty(&d)? + "\n";
    } else {
        out += &format!(
            "score {:.1}% → {:.1}% ({:+.1}) · verdict {} → {}\n",
            d.score_before,
            d.score_after,
            d.score_delta,
            verdict(d.passed_before),
            verdict(d.passed_after)
        );
        for (title, list) in [
            ("regressions", &d.regressions),
            ("fixes", &d.fixes),
            ("other changes", &d.other_changes),
        ] {
            if list.is_empty() {
                continue;
            }
            out += &format!("{title}:\n");
            for c in list {
                out += &format!(
                    "  {} / {}: {} → {}\n",
                    c.requirement,
                    c.check,
                    name(c.before),
                    name(c.after)
                );
            }
        }
    }
    print(&out)?;
    Ok(if d.regressions.is_empty() {
        Exit::Passed
    } else {
        Exit::Blocked
    })
}

fn verdict(p: bool) -> &'static str {
    if p { "pass" } else { "blocked" }
}

fn name(s: Option<Status>) -> &'static str {
    s.map(Status::as_str).unwrap_or("absent")
}

/// Reports larger than this are refused (a report of 10,000 checks is ~10 MiB).
const MAX_REPORT_BYTES: u64 = 64 * 1024 * 1024;

fn read(path: &Path) -> anyhow::Result<Report> {
    let bytes = crate::fsio::read_capped(path, MAX_REPORT_BYTES, "reports")
        .map_err(|e| Failure::Input(format!("{}: {e}", path.display())))?;
    serde_json::from_slice(&bytes).map_err(|e| {
        Failure::Input(format!(
            "{}:{}:{}: not a medianest-gate JSON report: {e}",
            path.display(),
            e.line(),
            e.column()
        ))
        .into()
    })
}

fn diff(a: &Report, b: &Report) -> Diff {
    let index = |r: &Report| -> BTreeMap<String, (String, Status)> {
        r.all_checks()
            .map(|(q, c)| (c.id.clone(), (q.id.clone(), c.status)))
            .collect()
    };
    let (ia, ib) = (index(a), index(b));
    let mut regressions = Vec::new();
    let mut fixes = Vec::new();
    let mut other = Vec::new();
    let mut ids: Vec<&String> = ia.keys().chain(ib.keys()).collect();
    ids.sort();
    ids.dedup();
    for id in ids {
        let before = ia.get(id);
        let after = ib.get(id);
        let (sb, sa) = (before.map(|x| x.1), after.map(|x| x.1));
        if sb == sa {
            continue;
        }
        let change = Change {
            check: id.clone(),
            requirement: after.or(before).map(|x| x.0.clone()).unwrap_or_default(),
            before: sb,
            after: sa,
        };
        match (sb, sa) {
            (Some(Status::Pass), Some(_)) => regressions.push(change),
            (Some(_), Some(Status::Pass)) => fixes.push(change),
            _ => other.push(change),
        }
    }
    Diff {
        score_before: a.score,
        score_after: b.score,
        score_delta: crate::score::round1(b.score - a.score),
        passed_before: a.passed,
        passed_after: b.passed,
        regressions,
        fixes,
        other_changes: other,
    }
}
