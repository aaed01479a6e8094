//! Sends the gate's `warm_up:` traffic (only with `check --synthetic`)
//! before the checks, then waits one scrape interval of the job that
//! collects it, so `latency_slo` and rate checks judge fresh data rather
//! than an idle window.
//!
//! Bounded three ways: the loader caps count, concurrency, rate and total
//! time; requests go only to a target the gate names; and a target that
//! refuses every connection stops the warm-up early instead of being
//! hammered until the count runs out.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime};

use serde_json::Value;

use crate::gate::{Gate, WarmUp};
use crate::http::{Auth, HttpClient, JSON_CAP, fmt_duration, join_url};
use crate::report::WarmUpReport;

/// Consecutive transport failures (nothing answered) that end the warm-up.
const GIVE_UP_AFTER: u32 = 10;
/// The longest scrape interval waited; past it the checks run anyway, with a warning.
const MAX_SETTLE: Duration = Duration::from_secs(120);
/// Time granted to the scrape itself, after one interval.
const SCRAPE_MARGIN: Duration = Duration::from_millis(250);
/// How long reading the scrape interval from Prometheus may take.
const SETTLE_LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);

/// What one warm-up did.
#[derive(Debug, Default)]
struct Tally {
    sent: u32,
    /// Answers by status code, transport failures by class.
    answers: BTreeMap<String, u32>,
    first_failure: Option<String>,
}

/// Sends the warm-up traffic and waits for the scrape; never fails the run:
/// what went wrong is in the returned report's summary and `warnings`.
pub async fn send(gate: &Gate, w: &WarmUp, http: &HttpClient, warnings: &mut Vec<String>) -> WarmUpReport {
    let base = gate.targets.get(&w.target).map(|t| t.url.clone()).unwrap_or_default();
    let started_at = SystemTime::now();
    let start = tokio::time::Instant::now();
    // The workers run in this task (join_all), so they share the state by
    // reference; the mutex is never held across an await.
    let tally = Mutex::new(Tally::default());
    let next = AtomicU32::new(0);
    let failures = AtomicU32::new(0);
    let spacing = Duration::from_secs_f64(1.0 / w.rate);

    let workers = (0..w.concurrency).map(|_| {
        let (tally, next, failures, base) = (&tally, &next, &failures, base.as_str());
        async move {
            loop {
                if failures.load(Ordering::Relaxed) >= GIVE_UP_AFTER {
                    break;
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= w.requests {
                    break;
                }
                // Request i starts no earlier than i / rate: the rate cap
                // holds whatever the concurrency.
                tokio::time::sleep_until(start + spacing * i).await;
                let url = join_url(base, &w.paths[i as usize % w.paths.len()]);
                let deadline = tokio::time::Instant::now() + w.timeout;
                let result = http.get(&url, Auth::None, &[], JSON_CAP, deadline).await;
                let Ok(mut t) = tally.lock() else { break };
                t.sent += 1;
                let key = match &result {
                    Ok(r) => {
                        failures.store(0, Ordering::Relaxed);
                        if !r.status.is_success() && t.first_failure.is_none() {
                            t.first_failure = Some(format!("GET {url} answered {}", r.status_line()));
                        }
                        r.status.as_u16().to_string()
                    }
                    Err(e) => {
                        failures.fetch_add(1, Ordering::Relaxed);
                        if t.first_failure.is_none() {
                            t.first_failure = Some(format!("GET {url}: {}", e.describe()));
                        }
                        e.class().to_string()
                    }
                };
                *t.answers.entry(key).or_default() += 1;
            }
        }
    });
    futures_util::future::join_all(workers).await;
    let traffic = start.elapsed();
    let tally = tally.into_inner().unwrap_or_default();

    let mut summary = format!(
        "sent {} of {} requests to `{}` ({}) in {}",
        tally.sent,
        w.requests,
        w.target,
        answers_text(&tally.answers),
        fmt_duration(traffic)
    );
    if tally.sent < w.requests {
        summary.push_str(&format!(
            "; stopped after {GIVE_UP_AFTER} requests in a row got no answer"
        ));
    }
    if let Some(f) = &tally.first_failure {
        warnings.push(format!("warm-up: {f}"));
    }

    let mut interval = None;
    let mut waited = Duration::ZERO;
    if let Some(s) = &w.settle {
        let prom = gate
            .targets
            .get(&s.prometheus)
            .map(|t| t.url.as_str())
            .unwrap_or_default();
        match scrape_interval(http, prom, &s.job).await {
            Ok(i) => {
                interval = Some(i);
                waited = i.min(MAX_SETTLE) + SCRAPE_MARGIN;
                if i > MAX_SETTLE {
                    warnings.push(format!(
                        "warm-up: job `{}` is scraped every {}; waited only {} before the checks",
                        s.job,
                        fmt_duration(i),
                        fmt_duration(MAX_SETTLE)
                    ));
                }
                tokio::time::sleep(waited).await;
                summary.push_str(&format!(
                    "; then waited {} (one scrape interval of job `{}`)",
                    fmt_duration(waited),
                    s.job
                ));
            }
            Err(why) => {
                warnings.push(format!(
                    "warm-up: could not read the scrape interval of job `{}` ({why}); the checks ran without waiting for a scrape",
                    s.job
                ));
                summary.push_str("; did not wait for a scrape (interval unknown)");
            }
        }
    }

    WarmUpReport {
        target: w.target.clone(),
        paths: w.paths.clone(),
        requests_planned: w.requests,
        requests_sent: tally.sent,
        answers: tally.answers,
        started_at: humantime::format_rfc3339_millis(started_at).to_string(),
        traffic_ms: traffic.as_millis() as u64,
        scrape_interval_ms: interval.map(|i| i.as_millis() as u64),
        waited_ms: waited.as_millis() as u64,
        summary,
    }
}

/// "150 × 200" or "140 × 200, 10 × refused".
fn answers_text(answers: &BTreeMap<String, u32>) -> String {
    if answers.is_empty() {
        return "none answered".to_string();
    }
    answers
        .iter()
        .map(|(k, n)| format!("{n} × {k}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The longest scrape interval of `job`'s active targets, from
/// `/api/v1/targets` (Prometheus' `scrapeInterval`, VictoriaMetrics'
/// `__scrape_interval__` label).
async fn scrape_interval(http: &HttpClient, prometheus: &str, job: &str) -> Result<Duration, String> {
    let url = format!(
        "{}?state=active&scrapePool={}",
        join_url(prometheus, "/api/v1/targets"),
        percent_encoding::utf8_percent_encode(job, percent_encoding::NON_ALPHANUMERIC)
    );
    let deadline = tokio::time::Instant::now() + SETTLE_LOOKUP_TIMEOUT;
    let resp = http
        .get(&url, Auth::None, &[], JSON_CAP, deadline)
        .await
        .map_err(|e| e.describe())?;
    if !resp.status.is_success() {
        return Err(format!("{url} answered {}", resp.status_line()));
    }
    let doc: Value = serde_json::from_slice(&resp.body).map_err(|e| format!("{url} answered invalid JSON ({e})"))?;
    let targets = doc
        .pointer("/data/activeTargets")
        .and_then(Value::as_array)
        .ok_or_else(|| format!("{url} answered without `data.activeTargets`"))?;
    targets
        .iter()
        .filter(|t| t.get("scrapePool").and_then(Value::as_str) == Some(job))
        .filter_map(|t| {
            crate::probe::scrape_interval(
                t.get("scrapeInterval").and_then(Value::as_str),
                t.pointer("/discoveredLabels/__scrape_interval__")
                    .and_then(Value::as_str),
            )
        })
        .max()
        .ok_or_else(|| format!("Prometheus has no active target for job `{job}`"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_counted_by_status_then_class() {
        let mut a = BTreeMap::new();
        assert_eq!(answers_text(&a), "none answered");
        a.insert("200".to_string(), 140);
        a.insert("refused".to_string(), 10);
        assert_eq!(answers_text(&a), "140 × 200, 10 × refused");
    }
}
