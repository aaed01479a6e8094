//! Runs a gate's checks concurrently, each under its own timeout, honouring
//! `needs`: a check waits for the checks it needs and is `blocked` (not run)
//! when one of them did not pass.
//!
//! Wall time is about the slowest chain of checks, not their sum. A panic
//! inside one probe becomes that check's `error`; the run always completes.

use std::collections::{BTreeMap, HashMap};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use tokio::sync::{Semaphore, watch};

use crate::gate::{Check, Gate};
use crate::http::{HttpClient, fmt_duration};
use crate::probe::{Outcome, ProbeContext, Status};

/// How to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub concurrency: usize,
    /// `--timeout`; beats the gate's `defaults.timeout`, loses to a check's own.
    pub timeout: Option<Duration>,
    /// Check ids that will not run, each with the reason the report gives
    /// ("skipped by --only/--skip", "needs --synthetic").
    pub skipped: BTreeMap<String, String>,
}

/// The fallback when neither the check, the command line nor the gate sets one.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// Extra time the runner grants a probe past its own deadline before
/// abandoning it, so a probe can usually report its own timeout precisely.
const GRACE: Duration = Duration::from_millis(250);

/// One check's result, as the probe found it (waivers are scoring's business).
#[derive(Debug, Clone)]
pub struct CheckResult {
    pub check_id: String,
    pub outcome: Outcome,
    pub duration: Duration,
    /// HTTP requests the check sent (Docker Engine calls are not counted).
    pub requests: u32,
}

/// Progress notifications for spinners and `-v` logs.
pub trait Observer: Send + Sync {
    fn started(&self, _check: &str) {}
    fn finished(&self, _result: &CheckResult) {}
}

pub fn effective_timeout(check: &Check, gate: &Gate, opts: &RunOptions) -> Duration {
    check
        .timeout
        .or(opts.timeout)
        .or(gate.default_timeout)
        .unwrap_or(DEFAULT_TIMEOUT)
}

/// Runs every check of `gate` and returns results in gate order.
pub async fn run(
    gate: Arc<Gate>,
    http: Arc<HttpClient>,
    opts: Arc<RunOptions>,
    observer: Arc<dyn Observer>,
) -> Vec<CheckResult> {
    let semaphore = Arc::new(Semaphore::new(opts.concurrency.max(1)));
    let mut senders = HashMap::new();
    let mut receivers = HashMap::new();
    for (_, check) in gate.checks() {
        let (tx, rx) = watch::channel(None::<Status>);
        senders.insert(check.id.clone(), tx);
        receivers.insert(check.id.clone(), rx);
    }

    let mut handles = Vec::new();
    // Checks travel to their tasks by position: looking them up by id in
    // each task would make a large gate quadratic.
    let positions: Vec<(usize, usize)> = gate
        .requirements
        .iter()
        .enumerate()
        .flat_map(|(ri, r)| (0..r.checks.len()).map(move |ci| (ri, ci)))
        .collect();
    for (ri, ci) in positions {
        let check = &gate.requirements[ri].checks[ci];
        let check_id = check.id.clone();
        if let Some(reason) = opts.skipped.get(&check_id) {
            if let Some(tx) = senders.get(&check_id) {
                let _ = tx.send(Some(Status::Skipped));
            }
            handles.push(Handle::Ready(Box::new(CheckResult {
                check_id,
                outcome: Outcome::new(Status::Skipped, reason.clone()),
                duration: Duration::ZERO,
                requests: 0,
            })));
            continue;
        }
        let deps: Vec<(String, watch::Receiver<Option<Status>>)> = check
            .needs
            .iter()
            .filter_map(|n| receivers.get(n).map(|rx| (n.clone(), rx.clone())))
            .collect();
        let Some(tx) = senders.remove(&check_id) else {
            continue;
        };
        let gate = Arc::clone(&gate);
        let http = Arc::clone(&http);
        let opts = Arc::clone(&opts);
        let semaphore = Arc::clone(&semaphore);
        let observer = Arc::clone(&observer);
        let task = tokio::spawn(async move {
            let check = &gate.requirements[ri].checks[ci];
            let result = run_one(&gate, &http, &opts, &semaphore, &*observer, check, deps).await;
            let _ = tx.send(Some(result.outcome.status));
            observer.finished(&result);
            result
        });
        handles.push(Handle::Task(check.id.clone(), task));
    }

    let mut results = Vec::with_capacity(handles.len());
    for h in handles {
        match h {
            Handle::Ready(r) => {
                observer.finished(&r);
                results.push(*r);
            }
            Handle::Task(check_id, task) => match task.await {
                Ok(r) => results.push(r),
                // run_one catches probe panics; reaching this means the
                // bookkeeping itself failed, which is still one check's error.
                Err(e) => results.push(CheckResult {
                    check_id,
                    outcome: Outcome::error(format!("internal error: the check's task failed: {e}")),
                    duration: Duration::ZERO,
                    requests: 0,
                }),
            },
        }
    }
    results
}

enum Handle {
    Ready(Box<CheckResult>),
    Task(String, tokio::task::JoinHandle<CheckResult>),
}

async fn run_one(
    gate: &Gate,
    http: &HttpClient,
    opts: &RunOptions,
    semaphore: &Semaphore,
    observer: &dyn Observer,
    check: &Check,
    deps: Vec<(String, watch::Receiver<Option<Status>>)>,
) -> CheckResult {
    let check_id = check.id.as_str();
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
        let list: Vec<String> = failed_deps
            .iter()
            .map(|(d, s)| format!("`{d}` ({})", s.as_str()))
            .collect();
        let mut outcome = Outcome::new(
            Status::Blocked,
            format!("not run: it needs {} to pass", list.join(", ")),
        );
        outcome.evidence.insert(
            "blocked_by".into(),
            serde_json::json!(failed_deps.iter().map(|(d, _)| d.clone()).collect::<Vec<_>>()),
        );
        return CheckResult {
            check_id: check_id.to_string(),
            outcome,
            duration: Duration::ZERO,
            requests: 0,
        };
    }

    let permit = semaphore.acquire().await;
    observer.started(check_id);
    let timeout = effective_timeout(check, gate, opts);
    let start = Instant::now();
    let deadline = tokio::time::Instant::now() + timeout;
    let target = check.target.as_ref().and_then(|t| gate.targets.get(t));
    let http = http.for_check();
    let cx = ProbeContext {
        http: &http,
        gate,
        check,
        target,
        timeout,
        deadline,
    };
    // Boxed: the probe future of the largest kind is kilobytes, and unboxed
    // it would be moved into every task's cell on spawn and on each poll
    // path, a third of a large gate's instructions in memcpy alone.
    let outcome = guarded(
        Box::pin(check.spec.probe(&cx)),
        deadline,
        timeout,
        check_id,
        check.target.as_deref(),
        check.spec.kind(),
    )
    .await;
    drop(permit);
    CheckResult {
        check_id: check_id.to_string(),
        outcome,
        duration: start.elapsed(),
        requests: http.check_requests(),
    }
}

/// Awaits a probe, turning a panic or a hang past its deadline (plus
/// [`GRACE`]) into that check's `error`, so one broken probe never takes the
/// run down or holds it up.
async fn guarded(
    probe: impl std::future::Future<Output = Outcome>,
    deadline: tokio::time::Instant,
    timeout: Duration,
    check_id: &str,
    target: Option<&str>,
    kind: &str,
) -> Outcome {
    match tokio::time::timeout_at(deadline + GRACE, AssertUnwindSafe(probe).catch_unwind()).await {
        Ok(Ok(outcome)) => outcome,
        Ok(Err(panic)) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_string());
            Outcome::error(format!(
                "internal error: the probe panicked ({what}); this is a bug in medianest-gate"
            ))
            .cause(format!("panic:{check_id}"), format!("the `{kind}` probe crashed"))
            .remediation("report this bug with the check's definition and `-v` output")
        }
        Err(_) => Outcome::error(format!("no result within the {} timeout", fmt_duration(timeout)))
            .cause(
                format!("timeout:{}", target.unwrap_or(check_id)),
                format!("the `{check_id}` check did not finish within {}", fmt_duration(timeout)),
            )
            .remediation("find out why the target hangs, or raise the check's `timeout`"),
    }
}

/// Today's date in UTC as `YYYY-MM-DD`.
pub fn today() -> String {
    let now = humantime::format_rfc3339(std::time::SystemTime::now()).to_string();
    now.get(..10).unwrap_or("1970-01-01").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deadline(ms: u64) -> tokio::time::Instant {
        tokio::time::Instant::now() + Duration::from_millis(ms)
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_panicking_probe_becomes_an_error_outcome() {
        let probe = async {
            let v: Vec<u8> = Vec::new();
            if v.is_empty() {
                panic!("index out of range in a probe");
            }
            Outcome::pass("unreachable")
        };
        let o = guarded(
            probe,
            deadline(1000),
            Duration::from_secs(1),
            "c1",
            Some("backend"),
            "http",
        )
        .await;
        assert_eq!(o.status, Status::Error);
        assert!(
            o.message.contains("panicked (index out of range in a probe)"),
            "{}",
            o.message
        );
        assert_eq!(o.cause.unwrap().key, "panic:c1");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_hanging_probe_is_abandoned_after_its_deadline() {
        let probe = async {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Outcome::pass("never")
        };
        let start = std::time::Instant::now();
        let o = guarded(
            probe,
            deadline(50),
            Duration::from_millis(50),
            "c1",
            Some("backend"),
            "http",
        )
        .await;
        assert_eq!(o.status, Status::Error);
        assert_eq!(o.cause.unwrap().key, "timeout:backend");
        assert!(start.elapsed() < Duration::from_secs(5));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_finished_probe_passes_through_unchanged() {
        let o = guarded(
            async { Outcome::fail("x") },
            deadline(1000),
            Duration::from_secs(1),
            "c",
            None,
            "http",
        )
        .await;
        assert_eq!(o.status, Status::Fail);
        assert_eq!(o.message, "x");
    }

    #[test]
    fn timeout_precedence_is_check_then_flag_then_gate() {
        let gate = crate::gate::load(
            "t.yaml",
            "schema_version: 1\nid: T\nname: t\ntargets: {b: \"http://127.0.0.1:1\"}\ndefaults: {timeout: 7s}\nrequirements:\n  - id: r\n    name: r\n    weight: 1\n    checks:\n      - {id: a, kind: http, target: b, timeout: 2s}\n      - {id: c, kind: http, target: b}\n",
            &crate::gate::Env::fixed(Default::default()),
        )
        .expect("valid gate");
        let mut opts = RunOptions {
            concurrency: 1,
            timeout: None,
            skipped: Default::default(),
        };
        let a = &gate.requirements[0].checks[0];
        let c = &gate.requirements[0].checks[1];
        assert_eq!(effective_timeout(a, &gate, &opts), Duration::from_secs(2));
        assert_eq!(effective_timeout(c, &gate, &opts), Duration::from_secs(7));
        opts.timeout = Some(Duration::from_secs(3));
        assert_eq!(effective_timeout(a, &gate, &opts), Duration::from_secs(2));
        assert_eq!(effective_timeout(c, &gate, &opts), Duration::from_secs(3));
    }
}
