//! Runs a gate's checks concurrently, each under its own timeout, honouring
//! `needs`: a check waits for the checks it needs and is `blocked` (not run)
//! when one of them did not pass.
//!
//! Wall time is about the slowest chain of checks, not their sum. A panic
//! inside one probe becomes that check's `error`; the run always completes.

use std::collections::{BTreeSet, HashMap};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use tokio::sync::{Semaphore, watch};

use crate::gate::{Check, Gate};
use crate::http::{HttpClient, fmt_duration};
use crate::probe::{self, Outcome, ProbeContext, Status};

/// How to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub concurrency: usize,
    /// `--timeout`; beats the gate's `defaults.timeout`, loses to a check's own.
    pub timeout: Option<Duration>,
    /// Check ids that will not run.
    pub skipped: BTreeSet<String>,
    /// `YYYY-MM-DD`, to judge waiver expiry.
    pub today: String,
}

/// The fallback when neither the check, the command line nor the gate sets one.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// Extra time the runner grants a probe past its own deadline before
/// abandoning it, so a probe can usually report its own timeout precisely.
const GRACE: Duration = Duration::from_millis(250);

/// One check's result.
#[derive(Debug, Clone)]
pub struct CheckResult {
    pub check_id: String,
    pub requirement_id: String,
    pub outcome: Outcome,
    pub duration: Duration,
    /// The waiver was set but had expired.
    pub waiver_expired: bool,
}

/// Progress notifications for spinners and `-v` logs.
pub trait Observer: Send + Sync {
    fn started(&self, _check: &str) {}
    fn finished(&self, _result: &CheckResult) {}
}

/// An observer that ignores everything.
pub struct Silent;
impl Observer for Silent {}

pub fn effective_timeout(check: &Check, gate: &Gate, opts: &RunOptions) -> Duration {
    check
        .timeout
        .or(opts.timeout)
        .or(gate.default_timeout)
        .unwrap_or(DEFAULT_TIMEOUT)
}

/// Runs every check of `gate` and returns results in gate order.
pub async fn run(gate: Arc<Gate>, http: Arc<HttpClient>, opts: Arc<RunOptions>, observer: Arc<dyn Observer>) -> Vec<CheckResult> {
    let semaphore = Arc::new(Semaphore::new(opts.concurrency.max(1)));
    let mut senders = HashMap::new();
    let mut receivers = HashMap::new();
    for (_, check) in gate.checks() {
        let (tx, rx) = watch::channel(None::<Status>);
        senders.insert(check.id.clone(), tx);
        receivers.insert(check.id.clone(), rx);
    }

    let mut handles = Vec::new();
    for (req, check) in gate.checks() {
        let check_id = check.id.clone();
        let requirement_id = req.id.clone();
        if opts.skipped.contains(&check_id) {
            if let Some(tx) = senders.get(&check_id) {
                let _ = tx.send(Some(Status::Skipped));
            }
            handles.push(Handle::Ready(CheckResult {
                check_id,
                requirement_id,
                outcome: Outcome::new(Status::Skipped, "skipped by --only/--skip"),
                duration: Duration::ZERO,
                waiver_expired: false,
            }));
            continue;
        }
        let deps: Vec<(String, watch::Receiver<Option<Status>>)> = check
            .needs
            .iter()
            .filter_map(|n| receivers.get(n).map(|rx| (n.clone(), rx.clone())))
            .collect();
        let Some(tx) = senders.remove(&check_id) else { continue };
        let gate = Arc::clone(&gate);
        let http = Arc::clone(&http);
        let opts = Arc::clone(&opts);
        let semaphore = Arc::clone(&semaphore);
        let observer = Arc::clone(&observer);
        let task = tokio::spawn(async move {
            let result = run_one(&gate, &http, &opts, &semaphore, &*observer, &check_id, requirement_id, deps).await;
            let _ = tx.send(Some(result.outcome.status));
            observer.finished(&result);
            result
        });
        handles.push(Handle::Task(check.id.clone(), req.id.clone(), task));
    }

    let mut results = Vec::with_capacity(handles.len());
    for h in handles {
        match h {
            Handle::Ready(r) => {
                observer.finished(&r);
                results.push(r);
            }
            Handle::Task(check_id, requirement_id, task) => match task.await {
                Ok(r) => results.push(r),
                // run_one catches probe panics; reaching this means the
                // bookkeeping itself failed, which is still one check's error.
                Err(e) => results.push(CheckResult {
                    check_id,
                    requirement_id,
                    outcome: Outcome::error(format!("internal error: the check's task failed: {e}")),
                    duration: Duration::ZERO,
                    waiver_expired: false,
                }),
            },
        }
    }
    results
}

enum Handle {
    Ready(CheckResult),
    Task(String, String, tokio::task::JoinHandle<CheckResult>),
}

#[expect(clippy::too_many_arguments, reason = "one call site; bundling would only rename the list")]
async fn run_one(
    gate: &Gate,
    http: &HttpClient,
    opts: &RunOptions,
    semaphore: &Semaphore,
    observer: &dyn Observer,
    check_id: &str,
    requirement_id: String,
    deps: Vec<(String, watch::Receiver<Option<Status>>)>,
) -> CheckResult {
    let Some((_, check)) = gate.find_check(check_id) else {
        return CheckResult {
            check_id: check_id.to_string(),
            requirement_id,
            outcome: Outcome::error("internal error: check vanished from the gate"),
            duration: Duration::ZERO,
            waiver_expired: false,
        };
    };
    // Wait for every dependency; a skipped one does not block (it was not judged).
    let mut failed_deps = Vec::new();
    for (dep, mut rx) in deps {
        let status = match rx.wait_for(Option::is_some).await {
            Ok(s) => (*s).unwrap_or(Status::Error),
            Err(_) => Status::Error,
        };
        if !matches!(status, Status::Pass | Status::Skipped) {
            failed_deps.push((dep, status));
        }
    }
    if !failed_deps.is_empty() {
        let list: Vec<String> = failed_deps.iter().map(|(d, s)| format!("`{d}` ({})", s.as_str())).collect();
        let mut outcome = Outcome::new(Status::Blocked, format!("not run: it needs {} to pass", list.join(", ")));
        outcome.evidence.insert(
            "blocked_by".into(),
            serde_json::json!(failed_deps.iter().map(|(d, _)| d.clone()).collect::<Vec<_>>()),
        );
        return CheckResult {
            check_id: check_id.to_string(),
            requirement_id,
            outcome,
            duration: Duration::ZERO,
            waiver_expired: false,
        };
    }

    let permit = semaphore.acquire().await;
    observer.started(check_id);
    let timeout = effective_timeout(check, gate, opts);
    let start = Instant::now();
    let deadline = tokio::time::Instant::now() + timeout;
    let target = check.target.as_ref().and_then(|t| gate.targets.get(t));
    let cx = ProbeContext {
        http,
        gate,
        check,
        target,
        timeout,
        deadline,
    };
    let guarded = tokio::time::timeout_at(deadline + GRACE, AssertUnwindSafe(probe::run(&check.spec, &cx)).catch_unwind()).await;
    drop(permit);
    let mut outcome = match guarded {
        Ok(Ok(outcome)) => outcome,
        Ok(Err(panic)) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_string());
            Outcome::error(format!("internal error: the probe panicked ({what}); this is a bug in medianest-gate"))
                .cause(format!("panic:{check_id}"), format!("the `{}` probe crashed", check.spec.kind()))
                .remediation("report this bug with the check's definition and `-v` output")
        }
        Err(_) => Outcome::error(format!("no result within the {} timeout", fmt_duration(timeout)))
            .cause(
                format!("timeout:{}", check.target.as_deref().unwrap_or(check_id)),
                format!("the `{}` check did not finish within {}", check_id, fmt_duration(timeout)),
            )
            .remediation("find out why the target hangs, or raise the check's `timeout`"),
    };
    let mut waiver_expired = false;
    if let Some(w) = &check.waiver
        && outcome.status != Status::Pass
    {
        if w.expires.as_str() >= opts.today.as_str() {
            outcome.status = Status::Waived;
        } else {
            waiver_expired = true;
            outcome
                .warnings
                .push(format!("waiver expired on {} and no longer applies: {}", w.expires, w.reason));
        }
    }
    CheckResult {
        check_id: check_id.to_string(),
        requirement_id,
        outcome,
        duration: start.elapsed(),
        waiver_expired,
    }
}

/// Today's date in UTC as `YYYY-MM-DD`.
pub fn today() -> String {
    let now = humantime::format_rfc3339(std::time::SystemTime::now()).to_string();
    now.get(..10).unwrap_or("1970-01-01").to_string()
}
