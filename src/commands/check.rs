//! `check`: load the gate, probe everything concurrently, score, render.

use std::collections::{BTreeMap, BTreeSet};
use std::io::IsTerminal;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;

use super::Ui;
use crate::cli::CheckArgs;
use crate::error::{Exit, Failure};
use crate::gate::{self, Env, Gate, PassRule, Source};
use crate::http::{HttpClient, TlsOptions};
use crate::redact::Redactor;
use crate::report::{self, RenderOptions, RunMeta};
use crate::runner::{self, CheckResult, Observer, RunOptions};
use crate::score::{self, Evaluation};
use crate::status::Status;

pub fn run(args: CheckArgs, ui: Ui) -> anyhow::Result<Exit> {
    run_as(args, ui, None)
}

/// [`run`], with `simulated` saying in every report what a `demo` run
/// simulated.
pub(super) fn run_as(args: CheckArgs, ui: Ui, simulated: Option<String>) -> anyhow::Result<Exit> {
    let env = Env::process(args.gate.vars.iter().cloned().collect());
    let source = args.gate.path().cloned().map(Source::File).unwrap_or(Source::Builtin);
    let mut gate = gate::load_source(&source, &env).map_err(Failure::Gate)?;
    apply_target_overrides(&mut gate, &args.targets)?;
    let skipped = select(&gate, &args.only, &args.skip, args.synthetic)?;
    gate::ensure_env(&gate, &|id| !skipped.contains_key(id)).map_err(Failure::Gate)?;
    if args.synthetic {
        gate::ensure_warm_up_env(&gate).map_err(Failure::Gate)?;
    }
    // Every artifact is created before probing: a path that cannot be
    // written is a usage error found in a millisecond, not after the run.
    let mut artifacts = open_reports(&args.reports)?;
    if let Some(path) = &args.history {
        crate::history::check_writable(path).map_err(|e| Failure::usage(format!("--history {e}")))?;
    }

    let rule = PassRule {
        min_score: args.min_score.unwrap_or(gate.pass.min_score),
        required_must_pass: gate.pass.required_must_pass,
    };
    // Stay under the open-file limit: past it, connections fail with EMFILE
    // and every target would look down.
    let mut warnings = Vec::new();
    let concurrency = match crate::http::descriptor_budget() {
        Some(budget) if budget < args.concurrency as usize => {
            warnings.push(format!(
                "--concurrency {} lowered to {budget}: the open-file limit (`ulimit -n`) leaves room for {budget} connections",
                args.concurrency
            ));
            budget
        }
        _ => args.concurrency as usize,
    };
    let http = HttpClient::new(TlsOptions {
        ca_cert: args.ca_cert.clone(),
        insecure: args.insecure,
    })
    .map_err(|e| Failure::usage(e.to_string()))?
    .with_request_limit(concurrency);
    let redactor = Redactor::for_gate(&gate);
    for name in Redactor::short_secrets(&gate) {
        warnings.push(format!(
            "secret `{name}` is shorter than {} characters and cannot be redacted reliably",
            crate::redact::MIN_REDACT_LEN
        ));
    }

    let opts = RunOptions {
        concurrency,
        timeout: args.timeout,
        skipped,
    };
    let total = gate.checks().count() as u64;
    let progress = Arc::new(Progress::new(&args, ui, total, redactor.clone()));
    let gate = Arc::new(gate);
    let http = Arc::new(http);
    let opts = Arc::new(opts);

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let started_at = SystemTime::now();
    let start = Instant::now();
    // Sent once, before the first attempt: `--wait` re-runs checks, not traffic.
    let warm_up = match (&gate.warm_up, args.synthetic) {
        (Some(w), true) => {
            progress.note(&format!("warm-up: sending {} requests to `{}`", w.requests, w.target));
            let report = runtime.block_on(crate::warm_up::send(&gate, w, &http, &mut warnings));
            progress.note(&format!("warm-up: {}", report.summary));
            Some(report)
        }
        _ => None,
    };
    let wait = Wait {
        rule,
        limit: args.wait,
        interval: args.interval,
        today: runner::today(),
        allow_partial: args.allow_partial,
    };
    let narrate = |line: &str| progress.note(line);
    let waited = runtime.block_on(run_with_wait(
        Arc::clone(&gate),
        Arc::clone(&http),
        opts,
        Arc::clone(&progress) as Arc<dyn Observer>,
        &wait,
        &Narrator {
            note: &narrate,
            redactor: &redactor,
        },
    ));
    progress.finish();
    let meta = RunMeta {
        gate_id: &gate.id,
        gate_name: &gate.name,
        gate_source: &gate.source,
        gate_from_file: matches!(source, Source::File(_)),
        started_at,
        duration: start.elapsed(),
        insecure: args.insecure,
        attempts: waited.attempts,
        failed_before: waited.failed_before,
        check_attempts: waited.check_attempts,
        requests: Some(request_counts(&gate, &http)),
        warnings,
        warm_up,
        simulated,
    };
    let report = report::build(&waited.evaluation, meta, &redactor);
    let verdict = if report.passed { Exit::Passed } else { Exit::Blocked };

    // The history before the artifacts: the HTML report's trend ends with
    // this run.
    let history_failed = match &args.history {
        Some(path) => match crate::history::append(path, &crate::history::Run::from_report(&report)) {
            Ok(()) => None,
            Err(e) => {
                anstream::eprintln!("error: cannot record the run in the history: {e}");
                Some(path.display().to_string())
            }
        },
        None => None,
    };
    let trend = trend(&args, &report);
    let file_opts = RenderOptions {
        trend: &trend,
        ..RenderOptions::default()
    };

    // Artifacts first: a reader that closes stdout early (`| head`) must
    // not cost the CI its report files.
    let mut unwritten = Vec::new();
    for artifact in &mut artifacts {
        if let Err(e) = artifact.write(&report, file_opts) {
            anstream::eprintln!("error: cannot write report {}: {e:#}", artifact.path.display());
            unwritten.push(artifact.path.display().to_string());
        }
    }
    if let Some(path) = step_summary(&args)
        && let Err(e) = append_step_summary(path, &report)
    {
        anstream::eprintln!("error: cannot append the step summary to {}: {e:#}", path.display());
        unwritten.push(format!("the step summary {}", path.display()));
    }
    unwritten.extend(history_failed);
    let stdout_opts = RenderOptions {
        color: ui.color_stdout && args.format == report::Format::Table,
        width: Some(ui.width),
        trend: &trend,
    };
    let text = report::render_to_string(args.format, &report, stdout_opts).context("cannot render the report")?;
    crate::error::print(&text)?;
    if !unwritten.is_empty() {
        anstream::eprintln!(
            "error: the gate {} (exit {} without this), but {} could not be written",
            if report.passed { "passed" } else { "is blocked" },
            verdict as u8,
            unwritten.join(", ")
        );
        return Err(Failure::Artifacts(unwritten).into());
    }
    Ok(verdict)
}

/// How `--wait` re-runs the gate.
struct Wait {
    rule: PassRule,
    limit: Option<Duration>,
    interval: Duration,
    today: String,
    allow_partial: bool,
}

/// The first pause of `--wait` before failing checks are retried, and the
/// pause after progress: short enough to see a stack the moment it is up.
const FIRST_RETRY: Duration = Duration::from_secs(1);
/// Retries stay at [`FIRST_RETRY`] this long after the wait began or last
/// made progress: a stack being started (`docker compose up`) usually comes
/// up within it, and is then seen within about a second.
const STARTUP_WINDOW: Duration = Duration::from_secs(30);
/// Past that, each pause without progress is this much longer, up to `--interval`.
const BACKOFF: f64 = 1.5;
/// No failing check is asked more often than this on average: a retry
/// waits at least (the most requests any retried check sent) / this.
const MAX_RETRY_RATE_PER_S: f64 = 2.0;
/// Why a check that passed is left out of a retry round.
const PASSED_EARLIER: &str = "passed in an earlier --wait attempt";

/// Where `--wait` says, after each attempt, what still fails: stderr (above
/// the spinner on a terminal), so a CI log shows why the gate is waiting.
struct Narrator<'a> {
    note: &'a dyn Fn(&str),
    redactor: &'a Redactor,
}

/// At most this many failing checks are named per line; the rest are counted.
const NARRATED_CHECKS: usize = 5;
/// A failing check's message is cut to this many characters in a narration line.
const NARRATED_MESSAGE: usize = 80;

impl Narrator<'_> {
    /// "attempt 3 (12.4s): 2 checks still failing: req/check (error: …), …"
    fn attempt(&self, gate: &Gate, attempt: u32, elapsed: Duration, latest: &[CheckResult], state: Round) {
        let head = format!("attempt {attempt} ({:.1}s)", elapsed.as_secs_f64());
        let line = match state {
            Round::Passed => format!("{head}: the gate passes"),
            Round::Confirming(n) => format!(
                "{head}: every retried check passes; taking the {n} other{} again",
                if n == 1 { "" } else { "s" }
            ),
            Round::NothingToRetry => format!("{head}: no check fails that a retry could change"),
            Round::Failing => {
                let failing = failing(latest);
                let requirement: BTreeMap<&str, &str> =
                    gate.checks().map(|(r, c)| (c.id.as_str(), r.id.as_str())).collect();
                // Gate order, as every report lists them.
                let named: Vec<String> = latest
                    .iter()
                    .filter(|r| failing.contains(&r.check_id))
                    .take(NARRATED_CHECKS)
                    .map(|r| {
                        // Redacted before it is cut, so no part of a secret
                        // survives; escaped, so server text stays on its line.
                        let message = self.redactor.redact(r.outcome.message.trim());
                        format!(
                            "{}/{} ({}: {})",
                            requirement.get(r.check_id.as_str()).copied().unwrap_or("?"),
                            r.check_id,
                            r.outcome.status.as_str(),
                            cut(&crate::text::escape(&message), NARRATED_MESSAGE)
                        )
                    })
                    .collect();
                let more = failing.len().saturating_sub(named.len());
                let tail = if more > 0 {
                    format!(", and {more} more")
                } else {
                    String::new()
                };
                format!(
                    "{head}: {} check{} {}failing: {}{tail}",
                    failing.len(),
                    if failing.len() == 1 { "" } else { "s" },
                    if attempt > 1 { "still " } else { "" },
                    named.join(", ")
                )
            }
        };
        (self.note)(&line);
    }

    /// The last line when the time runs out before the gate passes.
    fn gave_up(&self, limit: Duration, attempts: u32) {
        (self.note)(&format!(
            "--wait {}: giving up after {attempts} attempt{}: the next one would end past the limit",
            crate::http::fmt_duration(limit),
            if attempts == 1 { "" } else { "s" }
        ));
    }
}

/// Where a `--wait` run stands after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Round {
    /// Every check passed in one consistent pass: done.
    Passed,
    /// The retried checks pass; this many others are taken again at once.
    Confirming(usize),
    /// The gate does not pass, but no check fails (a partial run): done.
    NothingToRetry,
    /// Checks fail: they are retried after a pause.
    Failing,
}

/// `s` cut to at most `max` characters, with an ellipsis when cut.
fn cut(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_string(),
    }
}

/// What a `--wait` run hands to the report.
struct Waited {
    evaluation: Evaluation,
    /// Rounds run (the first full run, each retry, each confirmation).
    attempts: u32,
    /// Checks that did not pass in some earlier round.
    failed_before: BTreeSet<String>,
    /// How many rounds each check was run in.
    check_attempts: BTreeMap<String, u32>,
}

/// Runs the gate once; with `--wait`, retries only the failing checks, on a
/// backoff that stays at [`FIRST_RETRY`] for [`STARTUP_WINDOW`], then grows
/// by [`BACKOFF`] up to `--interval`, and starts over whenever a round makes
/// progress (a check newly passes or fails differently), so a stack coming
/// up component by component is seen within about a second of its last one.
///
/// The verdict always comes from one consistent pass: once every retried
/// check passes, the checks that passed in earlier rounds are run again at
/// once, so every result in the report was taken in the same moment, with no
/// pause between. If that confirmation finds a check broken again, the
/// retries go on.
async fn run_with_wait(
    gate: Arc<Gate>,
    http: Arc<HttpClient>,
    opts: Arc<RunOptions>,
    observer: Arc<dyn Observer>,
    wait: &Wait,
    narrator: &Narrator<'_>,
) -> Waited {
    let start = Instant::now();
    let judging = score::Judging {
        rule: wait.rule,
        today: &wait.today,
        allow_partial: wait.allow_partial,
    };
    let run = |opts: Arc<RunOptions>| runner::run(Arc::clone(&gate), Arc::clone(&http), opts, Arc::clone(&observer));
    let mut latest: Vec<CheckResult> = run(Arc::clone(&opts)).await;
    let check_attempts = ran(&latest).map(|id| (id.to_string(), 1)).collect();
    let Some(limit) = wait.limit else {
        return Waited {
            evaluation: score::evaluate(&gate, latest, judging),
            attempts: 1,
            failed_before: BTreeSet::new(),
            check_attempts,
        };
    };
    let mut waited = Waited {
        evaluation: score::evaluate(&gate, latest.clone(), judging),
        attempts: 1,
        failed_before: BTreeSet::new(),
        check_attempts,
    };
    let mut pause = FIRST_RETRY.min(wait.interval);
    let mut quiet_since = Instant::now();
    // Checks whose latest result was taken since the last pause: when they
    // are all of them, the results are one consistent pass.
    let mut gapless: BTreeSet<String> = ran(&latest).map(str::to_string).collect();
    loop {
        let stale: BTreeSet<String> = ran(&latest)
            .filter(|id| !gapless.contains(*id))
            .map(str::to_string)
            .collect();
        let failing = failing(&latest);
        let round = if waited.evaluation.passed {
            if stale.is_empty() {
                Round::Passed
            } else {
                Round::Confirming(stale.len())
            }
        } else if failing.is_empty() {
            Round::NothingToRetry
        } else {
            Round::Failing
        };
        narrator.attempt(&gate, waited.attempts, start.elapsed(), &latest, round);
        let (retry, delay) = if waited.evaluation.passed {
            if stale.is_empty() {
                break;
            }
            // Every retried check passes: take the others again, right now.
            (stale, Duration::ZERO)
        } else {
            if failing.is_empty() {
                // Nothing failed that a retry could change (a partial run).
                break;
            }
            let busiest = latest
                .iter()
                .filter(|r| failing.contains(&r.check_id))
                .map(|r| r.requests)
                .max()
                .unwrap_or(0);
            (failing.clone(), pause.max(min_spacing(busiest)))
        };
        if start.elapsed() + delay > limit {
            if !waited.evaluation.passed {
                narrator.gave_up(limit, waited.attempts);
            }
            break;
        }
        waited.failed_before.extend(failing);
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
            gapless.clear();
        }
        let mut round = (*opts).clone();
        for (_, c) in gate.checks() {
            if !retry.contains(&c.id) && !round.skipped.contains_key(&c.id) {
                round.skipped.insert(c.id.clone(), PASSED_EARLIER.to_string());
            }
        }
        let results = run(Arc::new(round)).await;
        waited.attempts += 1;
        let progress = merge(&mut latest, results, &retry, &mut waited.check_attempts);
        gapless.extend(retry);
        waited.evaluation = score::evaluate(&gate, latest.clone(), judging);
        if progress {
            quiet_since = Instant::now();
        }
        pause = if quiet_since.elapsed() < STARTUP_WINDOW {
            FIRST_RETRY.min(wait.interval)
        } else {
            pause.mul_f64(BACKOFF).min(wait.interval)
        };
    }
    waited
}

/// The requests the run sent, by target: a target's count is what went to
/// its origin (`scheme://host:port`); targets sharing an origin share one
/// count, and requests to an address no target names are counted apart.
fn request_counts(gate: &Gate, http: &HttpClient) -> report::RequestsReport {
    let mut by_origin = http.requests_by_origin();
    let total = by_origin.values().sum();
    let mut names: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for t in gate.targets.values() {
        names
            .entry(crate::http::origin(&t.url))
            .or_default()
            .push(t.name.clone());
    }
    let mut by_target: Vec<report::RequestCount> = names
        .into_iter()
        .filter_map(|(origin, targets)| {
            let requests = by_origin.remove(&origin)?;
            Some(report::RequestCount { targets, requests })
        })
        .collect();
    let other: u64 = by_origin.values().sum();
    if other > 0 {
        by_target.push(report::RequestCount {
            targets: Vec::new(),
            requests: other,
        });
    }
    report::RequestsReport { total, by_target }
}

/// Ids of the checks that ran (not skipped by the command line).
fn ran(results: &[CheckResult]) -> impl Iterator<Item = &str> {
    results
        .iter()
        .filter(|r| r.outcome.status != Status::Skipped)
        .map(|r| r.check_id.as_str())
}

/// Checks whose latest result is not a pass (blocked ones included: they
/// are retried with what they need).
fn failing(results: &[CheckResult]) -> BTreeSet<String> {
    results
        .iter()
        .filter(|r| !matches!(r.outcome.status, Status::Pass | Status::Skipped))
        .map(|r| r.check_id.clone())
        .collect()
}

/// The shortest pause after which a check that sends `requests` requests
/// per run stays under [`MAX_RETRY_RATE_PER_S`].
fn min_spacing(requests: u32) -> Duration {
    Duration::from_secs_f64(f64::from(requests) / MAX_RETRY_RATE_PER_S)
}

/// Replaces the latest results of the retried checks with the new ones and
/// counts their runs; true when the round made progress (a check newly
/// passed, or fails in a different way than before).
fn merge(
    latest: &mut [CheckResult],
    results: Vec<CheckResult>,
    retried: &BTreeSet<String>,
    attempts: &mut BTreeMap<String, u32>,
) -> bool {
    let mut fresh: BTreeMap<String, CheckResult> = results
        .into_iter()
        .filter(|r| retried.contains(&r.check_id))
        .map(|r| (r.check_id.clone(), r))
        .collect();
    let mut progress = false;
    for old in latest.iter_mut() {
        let Some(new) = fresh.remove(&old.check_id) else {
            continue;
        };
        *attempts.entry(new.check_id.clone()).or_default() += 1;
        let cause = |r: &CheckResult| r.outcome.cause.as_ref().map(|c| c.key.clone());
        progress |= new.outcome.status != old.outcome.status || cause(&new) != cause(old);
        *old = new;
    }
    progress
}

fn apply_target_overrides(gate: &mut Gate, overrides: &[(String, String)]) -> Result<(), Failure> {
    for (name, url) in overrides {
        let Some(t) = gate.targets.get_mut(name) else {
            let known: Vec<&str> = gate.targets.keys().map(String::as_str).collect();
            return Err(Failure::usage(format!(
                "--target {name}=…: the gate has no target `{name}` (targets: {})",
                known.join(", ")
            )));
        };
        crate::gate::check_target_url(url).map_err(|why| Failure::usage(format!("--target {name}=…: {why}")))?;
        t.url = url.clone();
        t.missing.clear();
    }
    Ok(())
}

/// Why a check left out by `--only`/`--skip` is not run.
const FILTERED: &str = "skipped by --only/--skip";
/// Why a synthetic check is not run without `--synthetic`.
const NEEDS_SYNTHETIC: &str = "needs --synthetic";

/// The check ids that will not run, each with its reason: those left out by
/// `--only` and `--skip` (ids of requirements or checks), and, without
/// `--synthetic`, every check that would write into the stack.
fn select(gate: &Gate, only: &[String], skip: &[String], synthetic: bool) -> Result<BTreeMap<String, String>, Failure> {
    let resolve = |id: &str, flag: &str| -> Result<Vec<String>, Failure> {
        if let Some(r) = gate.requirements.iter().find(|r| r.id == id) {
            return Ok(r.checks.iter().map(|c| c.id.clone()).collect());
        }
        if gate.find_check(id).is_some() {
            return Ok(vec![id.to_string()]);
        }
        let reqs: Vec<&str> = gate.requirements.iter().map(|r| r.id.as_str()).collect();
        Err(Failure::usage(format!(
            "{flag} {id}: no requirement or check has that id (requirements: {}; `medianest-gate list` shows the checks)",
            reqs.join(", ")
        )))
    };
    let all: BTreeSet<String> = gate.checks().map(|(_, c)| c.id.clone()).collect();
    let mut run: BTreeSet<String> = if only.is_empty() {
        all.clone()
    } else {
        let mut s = BTreeSet::new();
        for id in only {
            s.extend(resolve(id, "--only")?);
        }
        s
    };
    for id in skip {
        for c in resolve(id, "--skip")? {
            run.remove(&c);
        }
    }
    let mut skipped: BTreeMap<String, String> = all
        .difference(&run)
        .map(|id| (id.clone(), FILTERED.to_string()))
        .collect();
    if !synthetic {
        for (_, c) in gate.checks() {
            if c.spec.is_synthetic() && run.contains(&c.id) {
                skipped.insert(c.id.clone(), NEEDS_SYNTHETIC.to_string());
            }
        }
    }
    Ok(skipped)
}

/// A `--report FORMAT=PATH` artifact, created before probing and written
/// atomically ([`crate::fsio::Artifact`]).
struct Artifact {
    format: report::Format,
    path: std::path::PathBuf,
    file: crate::fsio::Artifact,
}

impl Artifact {
    fn write(&mut self, report: &report::Report, opts: RenderOptions<'_>) -> anyhow::Result<()> {
        let text = report::render_to_string(self.format, report, opts)?;
        self.file.commit(text.as_bytes())?;
        Ok(())
    }
}

/// How many recent runs the HTML report's trend shows.
const TREND_RUNS: usize = 50;

/// The gate's recent runs from `--history` (this run last), for the HTML
/// report's trend: empty without `--history` or without an HTML report.
/// A history that cannot be read costs the trend, with a warning, not the run.
fn trend(args: &CheckArgs, report: &report::Report) -> Vec<report::TrendPoint> {
    let html = args.format == report::Format::Html || args.reports.iter().any(|(f, _)| *f == report::Format::Html);
    let Some(path) = args.history.as_deref().filter(|_| html) else {
        return Vec::new();
    };
    let this = report::TrendPoint {
        time: report.started_at.clone(),
        score: report.score,
        passed: report.passed,
    };
    match crate::history::trend(path, &report.gate.id, this, TREND_RUNS) {
        Ok(points) => points,
        Err(e) => {
            anstream::eprintln!("warning: the HTML report has no score trend: {e}");
            Vec::new()
        }
    }
}

/// Where the Markdown report is appended: `$GITHUB_STEP_SUMMARY` (or
/// `--step-summary`) unless `--no-step-summary`.
fn step_summary(args: &CheckArgs) -> Option<&std::path::Path> {
    if args.no_step_summary {
        return None;
    }
    args.step_summary.as_deref().filter(|p| !p.as_os_str().is_empty())
}

/// Appends, never truncates: earlier steps of the job wrote their own
/// summaries to the same file. Not created before probing like a
/// `--report` file, since the runner creates it and a failure here is the
/// same exit 4 either way.
fn append_step_summary(path: &std::path::Path, report: &report::Report) -> anyhow::Result<()> {
    use std::io::Write as _;
    let text = report::render_to_string(report::Format::Markdown, report, RenderOptions::default())?;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .context("cannot open it for appending")?;
    file.write_all(text.as_bytes())?;
    if !text.ends_with('\n') {
        file.write_all(b"\n")?;
    }
    file.flush()?;
    Ok(())
}

fn open_reports(reports: &[(report::Format, std::path::PathBuf)]) -> Result<Vec<Artifact>, Failure> {
    reports
        .iter()
        .map(|(format, path)| {
            if path.is_dir() {
                return Err(Failure::usage(format!("--report …={}: is a directory", path.display())));
            }
            let file = crate::fsio::Artifact::create(path)
                .map_err(|e| Failure::usage(format!("--report …={}: cannot create the file: {e}", path.display())))?;
            Ok(Artifact {
                format: *format,
                path: path.clone(),
                file,
            })
        })
        .collect()
}

/// The spinner on a terminal, and `-v` lines on stderr.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    /// Checks still running: the spinner names what the run waits for.
    running: std::sync::Mutex<BTreeSet<String>>,
    verbose: bool,
    quiet: bool,
    color: bool,
    redactor: Redactor,
}

impl Progress {
    fn new(args: &CheckArgs, ui: Ui, total: u64, redactor: Redactor) -> Self {
        let show = !args.no_progress && !ui.quiet && std::io::stderr().is_terminal();
        let bar = show.then(|| {
            let bar = indicatif::ProgressBar::with_draw_target(Some(total), indicatif::ProgressDrawTarget::stderr());
            if let Ok(style) =
                indicatif::ProgressStyle::with_template("{spinner} probing {pos}/{len} checks {wide_msg}")
            {
                bar.set_style(style);
            }
            bar.enable_steady_tick(Duration::from_millis(100));
            bar
        });
        Progress {
            bar,
            running: std::sync::Mutex::new(BTreeSet::new()),
            verbose: ui.verbose > 0 && !ui.quiet,
            quiet: ui.quiet,
            color: ui.color_stderr,
            redactor,
        }
    }

    /// A line on stderr between phases, unless `-q`; on a terminal above the spinner.
    fn note(&self, line: &str) {
        if self.quiet {
            return;
        }
        let redacted = self.redactor.redact(line);
        let line = crate::text::escape(&redacted);
        match &self.bar {
            Some(bar) => bar.println(line),
            None => anstream::eprintln!("{line}"),
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Progress {
    fn show_running(&self, running: &BTreeSet<String>) {
        if let Some(bar) = &self.bar {
            let names: Vec<&str> = running.iter().map(String::as_str).take(3).collect();
            let more = running.len().saturating_sub(names.len());
            let tail = if more > 0 { format!(" +{more}") } else { String::new() };
            bar.set_message(if names.is_empty() {
                String::new()
            } else {
                format!("waiting for {}{tail}", names.join(", "))
            });
        }
    }
}

impl Observer for Progress {
    fn started(&self, check: &str) {
        if let Ok(mut running) = self.running.lock() {
            running.insert(check.to_string());
            self.show_running(&running);
        }
    }

    fn finished(&self, r: &CheckResult) {
        if let Ok(mut running) = self.running.lock() {
            running.remove(&r.check_id);
            self.show_running(&running);
        }
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
        if self.verbose {
            let status = r.outcome.status.as_str();
            // Redact first (secrets are matched as sent), then escape: a
            // newline in a server's message must not start a forged
            // `[   pass]` line, nor an escape sequence reach the terminal.
            let message = self.redactor.redact(&r.outcome.message);
            let line = format!(
                "[{status:>7}] {} ({} ms): {}",
                crate::text::escape(&r.check_id),
                r.duration.as_millis(),
                crate::text::escape(&message)
            );
            let line = if self.color {
                let color = match r.outcome.status {
                    Status::Pass => anstyle::AnsiColor::Green,
                    Status::Fail | Status::Error => anstyle::AnsiColor::Red,
                    _ => anstyle::AnsiColor::Yellow,
                };
                let style = anstyle::Style::new().fg_color(Some(color.into()));
                format!("{style}{line}{style:#}")
            } else {
                line
            };
            match &self.bar {
                Some(bar) => bar.println(line),
                None => anstream::eprintln!("{line}"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::Outcome;

    fn result(id: &str, outcome: Outcome, requests: u32) -> CheckResult {
        CheckResult {
            check_id: id.into(),
            outcome,
            duration: Duration::ZERO,
            requests,
        }
    }

    fn refused(id: &str) -> CheckResult {
        result(id, Outcome::error("refused").cause("unreachable:backend", "down"), 1)
    }

    /// A gate of seven checks in two requirements whose secret is `token`.
    fn seven_checks(token: &str) -> Gate {
        let checks = |ids: &[&str]| -> String {
            ids.iter()
                .map(|id| format!("      - {{id: {id}, kind: http, target: b}}\n"))
                .collect()
        };
        let yaml = format!(
            "schema_version: 1\nid: T\nname: t\ntargets: {{b: \"http://127.0.0.1:1\"}}\nsecrets: {{s: \"{token}\"}}\nrequirements:\n  - id: web\n    name: web\n    weight: 1\n    checks:\n{}  - id: api\n    name: api\n    weight: 1\n    checks:\n{}",
            checks(&["a", "b", "c"]),
            checks(&["d", "e", "f", "g"])
        );
        crate::gate::load("t.yaml", &yaml, &crate::gate::Env::fixed(Default::default())).expect("valid gate")
    }

    /// The lines a narrator printed for one attempt.
    fn narrate(gate: &Gate, attempt: u32, latest: &[CheckResult], round: Round) -> String {
        let lines = std::cell::RefCell::new(Vec::new());
        let note = |l: &str| lines.borrow_mut().push(l.to_string());
        let redactor = Redactor::for_gate(gate);
        let narrator = Narrator {
            note: &note,
            redactor: &redactor,
        };
        narrator.attempt(gate, attempt, Duration::from_millis(12_440), latest, round);
        lines.into_inner().join("\n")
    }

    #[test]
    fn a_wait_attempt_names_five_failing_checks_by_requirement_and_counts_the_rest() {
        let gate = seven_checks("s3cr3t-t0ken-value");
        let latest: Vec<CheckResult> = ["a", "b", "c", "d", "e", "f", "g"]
            .iter()
            .map(|id| match *id {
                "b" => result(id, Outcome::pass("ok"), 1),
                "c" => result(id, Outcome::fail("503 from /health"), 1),
                _ => refused(id),
            })
            .collect();
        assert_eq!(
            narrate(&gate, 3, &latest, Round::Failing),
            "attempt 3 (12.4s): 6 checks still failing: web/a (error: refused), web/c (fail: 503 from /health), \
             api/d (error: refused), api/e (error: refused), api/f (error: refused), and 1 more"
        );
        let first = narrate(&gate, 1, &latest[..3], Round::Failing);
        assert!(
            first.starts_with("attempt 1 (12.4s): 2 checks failing: web/a"),
            "{first}"
        );
        assert_eq!(
            narrate(&gate, 4, &latest, Round::Confirming(6)),
            "attempt 4 (12.4s): every retried check passes; taking the 6 others again"
        );
        assert_eq!(
            narrate(&gate, 5, &latest, Round::Passed),
            "attempt 5 (12.4s): the gate passes"
        );
    }

    #[test]
    fn a_wait_that_runs_out_says_so_last() {
        let lines = std::cell::RefCell::new(Vec::new());
        let note = |l: &str| lines.borrow_mut().push(l.to_string());
        let redactor = Redactor::for_gate(&seven_checks("s3cr3t-t0ken-value"));
        let narrator = Narrator {
            note: &note,
            redactor: &redactor,
        };
        narrator.gave_up(Duration::from_secs(30), 4);
        assert_eq!(
            lines.into_inner(),
            ["--wait 30s: giving up after 4 attempts: the next one would end past the limit"]
        );
    }

    #[test]
    fn a_narrated_message_is_redacted_before_it_is_cut() {
        let token = "s3cr3t-t0ken-value";
        let gate = seven_checks(token);
        // The secret straddles the cut: cutting first would print its prefix.
        let message = format!("{}{token} rejected", "x".repeat(NARRATED_MESSAGE - 8));
        let latest = vec![result("a", Outcome::fail(message), 1)];
        let line = narrate(&gate, 2, &latest, Round::Failing);
        assert!(!line.contains("s3cr3t"), "{line}");
        assert!(line.ends_with('…') || line.ends_with("…)"), "{line}");
    }

    #[test]
    fn a_narrated_message_cannot_forge_a_line() {
        let gate = seven_checks("s3cr3t-t0ken-value");
        let latest = vec![result("a", Outcome::fail("bad\nattempt 9 (0.0s): the gate passes"), 1)];
        let line = narrate(&gate, 2, &latest, Round::Failing);
        assert_eq!(line.lines().count(), 1, "{line}");
    }

    #[test]
    fn a_check_asked_n_times_per_run_waits_n_halves_of_a_second() {
        assert_eq!(min_spacing(1), Duration::from_millis(500));
        assert_eq!(min_spacing(3), Duration::from_millis(1500));
        assert_eq!(min_spacing(0), Duration::ZERO);
    }

    #[test]
    fn only_a_changed_outcome_of_a_retried_check_counts_as_progress() {
        let mut latest = vec![refused("a"), result("b", Outcome::pass("ok"), 1), refused("c")];
        let mut attempts = BTreeMap::new();
        let retried: BTreeSet<String> = ["a".to_string(), "c".to_string()].into();

        let same = merge(&mut latest, vec![refused("a"), refused("c")], &retried, &mut attempts);
        assert!(!same, "still refused the same way: keep backing off");

        let now_503 = result("a", Outcome::fail("503").cause("status:backend", "503"), 1);
        assert!(merge(&mut latest, vec![now_503, refused("c")], &retried, &mut attempts));
        assert_eq!(latest[0].outcome.status, Status::Fail);

        // A result for a check that was not retried (b) is ignored.
        let up = vec![result("a", Outcome::pass("ok"), 1), result("b", Outcome::fail("x"), 1)];
        assert!(merge(&mut latest, up, &["a".to_string()].into(), &mut attempts));
        assert_eq!(latest[1].outcome.status, Status::Pass);
        assert_eq!(failing(&latest), ["c".to_string()].into());
        assert_eq!(attempts.get("a"), Some(&3));
        assert_eq!(attempts.get("c"), Some(&2));
        assert_eq!(attempts.get("b"), None);
    }
}
