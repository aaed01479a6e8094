//! Score history: `check --history FILE` appends one compact JSON line per
//! run; `history FILE` reads them back (streaks, regressions, the trend).
//!
//! The file is append-only JSON Lines so that it survives anything a CI
//! cache or a shared volume does to it: a line cut short by a crash, or
//! garbage, costs that line (with a warning naming it), never the history.
//! Two runs appending at once each write their line under an exclusive
//! lock, in one `write`, so lines never interleave.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::OpenOptions;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::report::{Report, TrendPoint};

/// The layout of one line; bumped if a field changes meaning.
pub const LINE_VERSION: u32 = 1;
/// A line longer than this is not ours (a gate of a few hundred
/// requirements is a few KiB): skipped, so a corrupt file cannot make the
/// reader buffer without bound.
const MAX_LINE: usize = 1024 * 1024;
/// How much of a history file is read: years of runs every few minutes.
pub const MAX_FILE: u64 = 256 * 1024 * 1024;

/// One run, as recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    pub v: u32,
    /// RFC 3339, UTC: when the run started.
    pub time: String,
    /// The gate's id, so runs of different gates in one file are told apart.
    pub gate: String,
    pub score: f64,
    pub threshold: f64,
    pub verdict: String,
    pub passed: bool,
    /// Requirement id → status (`pass`, `fail`, `waived`, `skipped`).
    pub requirements: BTreeMap<String, String>,
    /// The keys of the run's root causes (`unreachable:backend`, …).
    pub root_causes: Vec<String>,
}

impl Run {
    pub fn from_report(report: &Report) -> Run {
        Run {
            v: LINE_VERSION,
            time: report.started_at.clone(),
            gate: report.gate.id.clone(),
            score: report.score,
            threshold: report.gate.threshold,
            verdict: report.verdict.clone(),
            passed: report.passed,
            requirements: report
                .requirements
                .iter()
                .map(|r| {
                    (
                        r.id.clone(),
                        crate::report::words::req_status(r.status).to_ascii_lowercase(),
                    )
                })
                .collect(),
            root_causes: report.root_causes.iter().map(|c| c.key.clone()).collect(),
        }
    }

    /// Requirements that failed in this run.
    pub fn failing(&self) -> impl Iterator<Item = &str> {
        self.requirements
            .iter()
            .filter(|(_, s)| s.as_str() == "fail")
            .map(|(id, _)| id.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("{path}: is a directory")]
    IsDir { path: String },
    #[error("{path}: cannot open for appending: {source}")]
    Open { path: String, source: std::io::Error },
    #[error("{path}: cannot append: {source}")]
    Write { path: String, source: std::io::Error },
    #[error("{path}: cannot read: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{path}: not a regular file")]
    NotAFile { path: String },
}

/// Checks before probing that the history file can be appended to (the
/// same promise `--report` makes: a bad path costs a millisecond, not a run).
pub fn check_writable(path: &Path) -> Result<(), HistoryError> {
    let shown = path.display().to_string();
    if path.is_dir() {
        return Err(HistoryError::IsDir { path: shown });
    }
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map(drop)
        .map_err(|source| HistoryError::Open { path: shown, source })
}

/// Appends the run's line. The whole line goes out in one `write` of an
/// `O_APPEND` file under an exclusive lock, so concurrent runs never
/// interleave, and a file whose last line was cut short gets a newline
/// first, so the damage stays in that line.
pub fn append(path: &Path, run: &Run) -> Result<(), HistoryError> {
    let shown = path.display().to_string();
    let mut line = serde_json::to_vec(run).map_err(|e| HistoryError::Write {
        path: shown.clone(),
        source: std::io::Error::other(e),
    })?;
    line.push(b'\n');
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .read(true)
        .open(path)
        .map_err(|source| HistoryError::Open {
            path: shown.clone(),
            source,
        })?;
    let write = |source| HistoryError::Write {
        path: shown.clone(),
        source,
    };
    file.lock().map_err(write)?;
    let len = file.metadata().map_err(write)?.len();
    if len > 0 && !ends_with_newline(&file, len) {
        line.insert(0, b'\n');
    }
    file.write_all(&line).map_err(write)?;
    file.flush().map_err(write)?;
    // Dropping the file releases the lock.
    Ok(())
}

fn ends_with_newline(file: &std::fs::File, len: u64) -> bool {
    use std::os::unix::fs::FileExt;
    let mut last = [0u8; 1];
    file.read_at(&mut last, len - 1)
        .is_ok_and(|n| n == 1 && last[0] == b'\n')
}

/// What reading a history file gave: the runs, and why lines were skipped.
#[derive(Debug, Default)]
pub struct Loaded {
    pub runs: Vec<Run>,
    /// `FILE:LINE: reason`, for stderr.
    pub warnings: Vec<String>,
}

/// Reads every good line of a history file (up to [`MAX_FILE`]); bad,
/// truncated or oversized lines are skipped with a warning naming them.
pub fn load(path: &Path) -> Result<Loaded, HistoryError> {
    let shown = path.display().to_string();
    let read = |source| HistoryError::Read {
        path: shown.clone(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read)?;
    if !file.metadata().map_err(read)?.is_file() {
        return Err(HistoryError::NotAFile { path: shown });
    }
    let mut reader = BufReader::new(file.take(MAX_FILE));
    let mut loaded = Loaded::default();
    let mut buf = Vec::new();
    let mut number = 0usize;
    loop {
        buf.clear();
        number += 1;
        let (n, complete) = read_line_capped(&mut reader, &mut buf).map_err(read)?;
        if n == 0 {
            break;
        }
        let warn = |why: &str| format!("{shown}:{number}: skipped: {why}");
        if buf.len() > MAX_LINE {
            loaded
                .warnings
                .push(warn(&format!("longer than {} KiB", MAX_LINE / 1024)));
            continue;
        }
        let text = match std::str::from_utf8(&buf) {
            Ok(t) => t.trim(),
            Err(_) => {
                loaded.warnings.push(warn("not UTF-8"));
                continue;
            }
        };
        if text.is_empty() {
            continue;
        }
        match serde_json::from_str::<Run>(text) {
            Ok(run) if run.v == LINE_VERSION && run.score.is_finite() => loaded.runs.push(run),
            Ok(run) if run.v != LINE_VERSION => loaded.warnings.push(warn(&format!(
                "line layout {} (this version reads {LINE_VERSION})",
                run.v
            ))),
            Ok(_) => loaded.warnings.push(warn("the score is not a finite number")),
            Err(e) if !complete || e.is_eof() => loaded.warnings.push(warn("truncated line")),
            Err(e) => loaded
                .warnings
                .push(warn(&format!("not a history line (column {}): {}", e.column(), e))),
        }
    }
    if number > 1 && reader.into_inner().limit() == 0 {
        loaded.warnings.push(format!(
            "{shown}: only the first {} MiB were read",
            MAX_FILE / (1024 * 1024)
        ));
    }
    Ok(loaded)
}

/// The last `limit` runs of `gate` in the history at `path`, oldest
/// first, ending with `this` run (added when its line is not there, e.g.
/// because appending it failed): the HTML report's trend.
pub fn trend(path: &Path, gate: &str, this: TrendPoint, limit: usize) -> Result<Vec<TrendPoint>, HistoryError> {
    let loaded = load(path)?;
    let mut runs: Vec<TrendPoint> = loaded
        .runs
        .into_iter()
        .filter(|r| r.gate == gate)
        .map(|r| TrendPoint {
            time: r.time,
            score: r.score,
            passed: r.passed,
        })
        .collect();
    if runs.last().is_none_or(|last| last.time != this.time) {
        runs.push(this);
    }
    let skip = runs.len().saturating_sub(limit.max(1));
    Ok(runs.split_off(skip))
}

/// Reads one line into `buf`, keeping at most `MAX_LINE + 1` bytes of it
/// (the rest is consumed and dropped). Returns the bytes consumed and
/// whether the line ended with a newline.
fn read_line_capped(reader: &mut impl BufRead, buf: &mut Vec<u8>) -> std::io::Result<(usize, bool)> {
    let mut consumed = 0;
    loop {
        let chunk = reader.fill_buf()?;
        if chunk.is_empty() {
            return Ok((consumed, false));
        }
        let (take, done) = match memchr::memchr(b'\n', chunk) {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        let room = (MAX_LINE + 1).saturating_sub(buf.len());
        let body = if done { &chunk[..take - 1] } else { &chunk[..take] };
        buf.extend_from_slice(&body[..body.len().min(room)]);
        reader.consume(take);
        consumed += take;
        if done {
            return Ok((consumed, true));
        }
    }
}

/// A requirement failing in the latest run, and since when.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Streak {
    pub id: String,
    /// 1-based run number where the current run of failures began.
    pub since_run: usize,
    pub since: String,
    /// How many runs in a row it has failed.
    pub runs: usize,
    /// From the first failing run of the streak to the latest run.
    pub lasted_secs: u64,
    /// It passed in some run before the streak: a regression, not a
    /// requirement that never passed.
    pub regression: bool,
}

/// A root cause of the latest run, and the first run of its current streak.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CauseSince {
    pub key: String,
    pub since_run: usize,
    pub since: String,
    /// It first appeared in the latest run.
    pub new: bool,
}

/// What `history` reports about a gate's runs.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub gate: String,
    pub runs: usize,
    pub failing: Vec<Streak>,
    pub root_causes: Vec<CauseSince>,
}

/// Streaks and regressions of the latest run of `runs` (all of one gate,
/// oldest first). `None` when there are no runs.
pub fn summarize(runs: &[Run]) -> Option<Summary> {
    let latest = runs.last()?;
    let at = |i: usize| parse_time(&runs[i].time);
    let last_time = at(runs.len() - 1);
    let failing = latest
        .failing()
        .map(|id| {
            let start = streak_start(runs, |r| r.requirements.get(id).is_some_and(|s| s == "fail"));
            let regression = runs[..start]
                .iter()
                .any(|r| r.requirements.get(id).is_some_and(|s| s == "pass"));
            Streak {
                id: id.to_string(),
                since_run: start + 1,
                since: runs[start].time.clone(),
                runs: runs.len() - start,
                lasted_secs: elapsed(at(start), last_time),
                regression,
            }
        })
        .collect();
    let root_causes = latest
        .root_causes
        .iter()
        .map(|key| {
            let start = streak_start(runs, |r| r.root_causes.contains(key));
            CauseSince {
                key: key.clone(),
                since_run: start + 1,
                since: runs[start].time.clone(),
                new: start == runs.len() - 1,
            }
        })
        .collect();
    Some(Summary {
        gate: latest.gate.clone(),
        runs: runs.len(),
        failing,
        root_causes,
    })
}

/// The index of the first run of the trailing streak where `holds`.
fn streak_start(runs: &[Run], holds: impl Fn(&Run) -> bool) -> usize {
    let mut start = runs.len();
    while start > 0 && holds(&runs[start - 1]) {
        start -= 1;
    }
    start.min(runs.len() - 1)
}

fn parse_time(t: &str) -> Option<SystemTime> {
    humantime::parse_rfc3339_weak(t).ok()
}

fn elapsed(from: Option<SystemTime>, to: Option<SystemTime>) -> u64 {
    match (from, to) {
        (Some(a), Some(b)) => b.duration_since(a).unwrap_or(Duration::ZERO).as_secs(),
        _ => 0,
    }
}

/// `▁▂▃▄▅▆▇█` for scores 0–100 (a fixed scale, so two sparklines compare).
pub fn sparkline(scores: impl IntoIterator<Item = f64>) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    scores
        .into_iter()
        .map(|s| BARS[((s.clamp(0.0, 100.0) / 100.0 * 7.0).round() as usize).min(7)])
        .collect()
}

/// "3 days", "5 hours", "12 minutes", "40 seconds".
pub fn human_span(secs: u64) -> String {
    let (n, unit) = match secs {
        s if s >= 2 * 86_400 => (s / 86_400, "days"),
        s if s >= 86_400 => (1, "day"),
        s if s >= 2 * 3_600 => (s / 3_600, "hours"),
        s if s >= 3_600 => (1, "hour"),
        s if s >= 120 => (s / 60, "minutes"),
        s if s >= 60 => (1, "minute"),
        1 => (1, "second"),
        s => (s, "seconds"),
    };
    format!("{n} {unit}")
}

/// The distinct gates a file holds, in order of first appearance.
pub fn gates(runs: &[Run]) -> Vec<String> {
    let mut seen = BTreeSet::new();
    runs.iter()
        .filter(|r| seen.insert(r.gate.clone()))
        .map(|r| r.gate.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_trend_is_the_gates_last_runs_ending_with_this_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.jsonl");
        for (i, score) in [10.0, 20.0, 30.0, 40.0].into_iter().enumerate() {
            append(&path, &run(&format!("2026-12-0{}T10:00:00Z", i + 1), score, &[], &[])).unwrap();
        }
        let mut other = run("2026-12-05T10:00:00Z", 99.0, &[], &[]);
        other.gate = "other".into();
        append(&path, &other).unwrap();
        let this = |time: &str| TrendPoint {
            time: time.into(),
            score: 40.0,
            passed: false,
        };
        let t = trend(&path, "G", this("2026-12-04T10:00:00Z"), 3).unwrap();
        let scores: Vec<f64> = t.iter().map(|p| p.score).collect();
        assert_eq!(scores, [20.0, 30.0, 40.0], "the last three of gate G, this run once");
        // This run's line is missing (appending it failed): it is added.
        let t = trend(&path, "G", this("2026-12-06T10:00:00Z"), 50).unwrap();
        assert_eq!(t.len(), 5);
        assert_eq!(t[4].time, "2026-12-06T10:00:00Z");
        assert!(trend(&dir.path().join("missing"), "G", this("x"), 5).is_err());
    }

    fn run(time: &str, score: f64, reqs: &[(&str, &str)], causes: &[&str]) -> Run {
        Run {
            v: LINE_VERSION,
            time: time.to_string(),
            gate: "G".into(),
            score,
            threshold: 85.0,
            verdict: if score >= 85.0 { "pass".into() } else { "blocked".into() },
            passed: score >= 85.0,
            requirements: reqs.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect(),
            root_causes: causes.iter().map(|c| c.to_string()).collect(),
        }
    }

    #[test]
    fn streaks_start_where_the_failure_began_and_regressions_are_told_from_never_passed() {
        let runs = vec![
            run(
                "2026-11-28T10:00:00Z",
                100.0,
                &[("grafana", "pass"), ("loki", "fail")],
                &[],
            ),
            run(
                "2026-11-29T10:00:00Z",
                80.0,
                &[("grafana", "fail"), ("loki", "fail")],
                &["container:grafana"],
            ),
            run(
                "2026-11-30T10:00:00Z",
                80.0,
                &[("grafana", "fail"), ("loki", "fail")],
                &["container:grafana"],
            ),
            run(
                "2026-12-01T10:00:00Z",
                60.0,
                &[("grafana", "fail"), ("loki", "fail")],
                &["container:grafana", "unreachable:backend"],
            ),
        ];
        let s = summarize(&runs).unwrap();
        let grafana = s.failing.iter().find(|f| f.id == "grafana").unwrap();
        assert_eq!((grafana.since_run, grafana.runs, grafana.regression), (2, 3, true));
        assert_eq!(human_span(grafana.lasted_secs), "2 days");
        let loki = s.failing.iter().find(|f| f.id == "loki").unwrap();
        assert_eq!((loki.since_run, loki.regression), (1, false));
        assert_eq!(s.root_causes[0].since_run, 2);
        assert!(!s.root_causes[0].new);
        assert!(s.root_causes[1].new && s.root_causes[1].since_run == 4);
    }

    #[test]
    fn sparkline_uses_a_fixed_scale() {
        assert_eq!(sparkline([0.0, 50.0, 100.0, f64::NAN.max(0.0), 150.0]), "▁▅█▁█");
    }

    #[test]
    fn bad_truncated_and_oversized_lines_are_skipped_with_their_line_number() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.jsonl");
        let good = serde_json::to_string(&run("2026-12-01T10:00:00Z", 90.0, &[], &[])).unwrap();
        let huge = "x".repeat(MAX_LINE + 10);
        let text = format!("{good}\nnot json\n\n{huge}\n{good}\n{}", &good[..good.len() / 2]);
        std::fs::write(&path, text).unwrap();
        let loaded = load(&path).unwrap();
        assert_eq!(loaded.runs.len(), 2);
        let w = loaded.warnings.join("\n");
        assert!(w.contains("h.jsonl:2: skipped: not a history line"), "{w}");
        assert!(w.contains("h.jsonl:4: skipped: longer than 1024 KiB"), "{w}");
        assert!(w.contains("h.jsonl:6: skipped: truncated line"), "{w}");
        assert_eq!(loaded.warnings.len(), 3, "{w}");
    }

    #[test]
    fn appending_after_a_cut_line_starts_a_new_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.jsonl");
        std::fs::write(&path, "{\"v\":1,\"ti").unwrap();
        let r = run("2026-12-01T10:00:00Z", 90.0, &[("a", "pass")], &[]);
        append(&path, &r).unwrap();
        append(&path, &r).unwrap();
        let loaded = load(&path).unwrap();
        assert_eq!(loaded.runs, vec![r.clone(), r]);
        assert_eq!(loaded.warnings.len(), 1);
    }
}
