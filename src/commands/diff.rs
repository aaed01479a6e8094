//! `diff`: compare two JSON reports of the same gate. Exit 1 when the later
//! report has a regression: a check that passed and no longer does, or a
//! check that is new and does not pass (a gate that grows a failing check
//! got worse, whatever its score says). Reports of different gates or
//! layouts are refused (exit 2): comparing them would invent changes.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use super::Ui;
use crate::cli::DiffArgs;
use crate::error::{Exit, Failure, print};
use crate::report::Report;
use crate::report::model::SCHEMA_VERSION;
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
    let (before, after) = read_pair(&args)?;
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

fn read_bytes(path: &Path) -> anyhow::Result<Vec<u8>> {
    Ok(crate::fsio::read_capped(path, MAX_REPORT_BYTES, "reports")
        .map_err(|e| Failure::Input(format!("{}: {e}", path.display())))?)
}

/// The `schema_version` a report says it has, read before the rest: a
/// report of another layout would otherwise fail on some field, with a
/// message that hides the real reason.
fn schema_version(bytes: &[u8]) -> Option<serde_json::Value> {
    #[derive(serde::Deserialize)]
    struct Version {
        schema_version: Option<serde_json::Value>,
    }
    serde_json::from_slice::<Version>(bytes).ok()?.schema_version
}

fn parse(path: &Path, bytes: &[u8]) -> anyhow::Result<Report> {
    serde_json::from_slice(bytes).map_err(|e| {
        Failure::Input(format!(
            "{}:{}:{}: not a medianest-gate JSON report: {e}",
            path.display(),
            e.line(),
            e.column()
        ))
        .into()
    })
}

/// Both reports, refused unless they have one layout and one gate.
fn read_pair(args: &DiffArgs) -> anyhow::Result<(Report, Report)> {
    let (a, b) = (read_bytes(&args.before)?, read_bytes(&args.after)?);
    let (pa, pb) = (args.before.display(), args.after.display());
    let shown = |v: &Option<serde_json::Value>| match v {
        Some(v) => crate::text::escape(&v.to_string()).into_owned(),
        None => "none".to_string(),
    };
    let (va, vb) = (schema_version(&a), schema_version(&b));
    if va.is_some() && vb.is_some() && va != vb {
        return Err(Failure::Input(format!(
            "{pa} has report schema_version {} but {pb} has {}: diff compares reports of one layout",
            shown(&va),
            shown(&vb)
        ))
        .into());
    }
    for (path, v) in [(&pa, &va), (&pb, &vb)] {
        if let Some(v) = v
            && v.as_u64() != Some(u64::from(SCHEMA_VERSION))
        {
            return Err(Failure::Input(format!(
                "{path}: report schema_version {} is not {SCHEMA_VERSION}, the only one this medianest-gate reads",
                shown(&Some(v.clone()))
            ))
            .into());
        }
    }
    let (ra, rb) = (parse(&args.before, &a)?, parse(&args.after, &b)?);
    if ra.gate.id != rb.gate.id {
        return Err(Failure::Input(format!(
            "{pa} is a report of gate `{}` but {pb} of gate `{}`: diff compares two runs of the same gate",
            crate::text::escape(&ra.gate.id),
            crate::text::escape(&rb.gate.id)
        ))
        .into());
    }
    Ok((ra, rb))
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
            // New and not passing. Skipped and waived checks block nothing.
            (None, Some(s)) if !matches!(s, Status::Pass | Status::Skipped | Status::Waived) => {
                regressions.push(change)
            }
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
