//! `check`: load the gate, probe everything concurrently, score, render.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{IsTerminal, Write};
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
    let env = Env::process(args.gate.vars.iter().cloned().collect());
    let source = args.gate.gate.clone().map(Source::File).unwrap_or(Source::Builtin);
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
    let (evaluation, attempts, failed_before) = runtime.block_on(run_with_wait(
        Arc::clone(&gate),
        http,
        opts,
        Arc::clone(&progress) as Arc<dyn Observer>,
        &wait,
    ));
    progress.finish();
    let meta = RunMeta {
        gate_id: &gate.id,
        gate_name: &gate.name,
        gate_source: &gate.source,
        started_at,
        duration: start.elapsed(),
        insecure: args.insecure,
        attempts,
        failed_before,
        warnings,
        warm_up,
    };
    let report = report::build(&evaluation, meta, &redactor)
        .context("cannot redact the report; it is withheld so no secret can leak")?;
    let verdict = if report.passed { Exit::Passed } else { Exit::Blocked };

    // Artifacts first: a reader that closes stdout early (`| head`) must
    // not cost the CI its report files.
    let mut unwritten = Vec::new();
    for artifact in &mut artifacts {
        if let Err(e) = artifact.write(&report) {
            anstream::eprintln!("error: cannot write report {}: {e:#}", artifact.path.display());
            unwritten.push(artifact.path.display().to_string());
        }
    }
    let stdout_opts = RenderOptions {
        color: ui.color_stdout && args.format == report::Format::Table,
        width: None,
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

/// Runs the gate, and with `--wait` runs it again every `interval` until it
/// passes or the time is up. Remembers which checks failed before passing.
async fn run_with_wait(
    gate: Arc<Gate>,
    http: Arc<HttpClient>,
    opts: Arc<RunOptions>,
    observer: Arc<dyn Observer>,
    wait: &Wait,
) -> (Evaluation, u32, BTreeSet<String>) {
    let start = Instant::now();
    let mut failed_before = BTreeSet::new();
    let mut attempts = 0;
    loop {
        attempts += 1;
        let results = runner::run(
            Arc::clone(&gate),
            Arc::clone(&http),
            Arc::clone(&opts),
            Arc::clone(&observer),
        )
        .await;
        let judging = score::Judging {
            rule: wait.rule,
            today: &wait.today,
            allow_partial: wait.allow_partial,
        };
        let evaluation = score::evaluate(&gate, results, judging);
        let Some(limit) = wait.limit else {
            return (evaluation, attempts, failed_before);
        };
        if evaluation.passed || start.elapsed() + wait.interval > limit {
            return (evaluation, attempts, failed_before);
        }
        failed_before.extend(
            evaluation
                .checks()
                .filter(|(_, c)| !matches!(c.status, Status::Pass | Status::Skipped))
                .map(|(_, c)| c.id.clone()),
        );
        tokio::time::sleep(wait.interval).await;
    }
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

/// A `--report FORMAT=PATH` artifact, created before probing.
struct Artifact {
    format: report::Format,
    path: std::path::PathBuf,
    file: std::fs::File,
}

impl Artifact {
    fn write(&mut self, report: &report::Report) -> anyhow::Result<()> {
        let text = report::render_to_string(self.format, report, RenderOptions::default())?;
        self.file.write_all(text.as_bytes())?;
        self.file.flush()?;
        Ok(())
    }
}

fn open_reports(reports: &[(report::Format, std::path::PathBuf)]) -> Result<Vec<Artifact>, Failure> {
    reports
        .iter()
        .map(|(format, path)| {
            if path.is_dir() {
                return Err(Failure::usage(format!("--report …={}: is a directory", path.display())));
            }
            let file = std::fs::File::create(path)
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
