//! `prometheus_targets`: Prometheus is ready and scrapes the job: at least
//! `min_targets` active targets, all `up`, each scraped within two of its
//! intervals. A failing target's `lastError` is translated into its cause:
//! the backend is down, the scrape lacks credentials, the port is wrong.

use std::time::{Duration, SystemTime};

use serde_json::{Value, json};

use super::prometheus_api::{Server, ready, scan_data};
use super::registry::Kind;
use super::targets_scan::{ActiveTarget, Pools, PoolTally, Tally, TargetsScan};
use super::{Outcome, ProbeContext, Status};
use crate::gate::fields::{FieldDef, FieldType as T, SpecCx};
use crate::http::StreamCap;

/// How far ahead of our clock a scrape time may be before it is distrusted.
const CLOCK_SKEW: Duration = Duration::from_secs(2);

/// The targets answer is read as a stream, so its size costs time, not
/// memory; the cap only stops an endless or absurd answer. About 440 bytes
/// a target (measured on Prometheus 2.42), so this is ~300,000 targets.
const TARGETS_CAP: StreamCap = StreamCap {
    bytes: 128 * 1024 * 1024,
    reason: "set for the targets list of a Prometheus of about 300,000 targets",
};

/// Targets of one job listed in the evidence; a job of more is judged in
/// full but listed in part.
const EVIDENCE_TARGETS: usize = 1_000;

#[derive(Debug, Clone)]
pub struct TargetsSpec {
    /// The scrape job (`scrapePool`) that must be healthy; `*` for every job.
    pub job: String,
    /// Several jobs at once (instead of `job`), each judged like `job`.
    pub jobs: Vec<String>,
    pub min_targets: u32,
    /// The gate target the job is meant to scrape, to attribute "connection
    /// refused" to the backend and to spot port mismatches.
    pub backend_target: Option<String>,
}

impl Kind for TargetsSpec {
    const NAME: &'static str = "prometheus_targets";
    const FIELDS: &'static [FieldDef] = &[
        FieldDef::new("job", T::Str, "The scrape job whose targets must be up, or `*` for every job (this or `jobs` is required).", "medianest-backend"),
        FieldDef::new("jobs", T::StrList, "Several scrape jobs, each of whose targets must be up (instead of `job`).", "[node, pushgateway]"),
        FieldDef::new("min_targets", T::Int, "Minimum number of active targets for the job (default 1).", "1"),
        FieldDef::new("backend_target", T::TargetRef, "The gate target the job scrapes (ties refused scrapes to it, spots port mismatches).", "backend"),
    ];

    fn load(f: &mut SpecCx<'_, '_>) -> Self {
        let jobs = f.strings("jobs").unwrap_or_default();
        // `job` and `jobs` add up; one of them must name something.
        let job = if f.is_absent("job") && !f.is_absent("jobs") {
            if jobs.is_empty() {
                let id = f.id().to_string();
                f.err(
                    f.id_loc(),
                    format!("check `{id}` has an empty `jobs` list"),
                    Some("list the jobs, or write `job: \"*\"` for every job".to_string()),
                );
            }
            String::new()
        } else {
            f.required_string("job")
        };
        let backend_target = f.target("backend_target");
        let min_targets = match f.int("min_targets") {
            Some(n) if *n.get() == 0 => {
                f.err(n.loc(), "min_targets must be at least 1", None);
                1
            }
            Some(n) => *n.get(),
            None => 1,
        };
        TargetsSpec {
            job,
            jobs,
            min_targets,
            backend_target,
        }
    }

    async fn probe(&self, cx: &ProbeContext<'_>) -> Outcome {
        self.run(cx).await
    }
}

impl TargetsSpec {
    /// The several-jobs form: every target of every selected job must be up;
    /// the message gives each job's `up/total`, the monitoring stack's health table.
    fn judge_jobs(&self, cx: &ProbeContext<'_>, tally: &Tally, server: Server) -> Outcome {
        let srv = server.name();
        let selected: Vec<&str> = if self.job == "*" {
            tally.pools.iter().map(|(name, _)| name.as_str()).collect()
        } else {
            self.listed_jobs().collect()
        };
        let none = PoolTally::default();
        let mut rows = Vec::new();
        let mut table = serde_json::Map::new();
        let mut first_problem: Option<Outcome> = None;
        let mut failing = 0;
        for &job in &selected {
            let pool = tally.pool(job).unwrap_or(&none);
            let (up, total) = (pool.healthy, pool.total);
            table.insert(job.to_string(), json!({"up": up, "total": total}));
            let short = total == 0 || (total as u32) < self.min_targets;
            if up == total && !short {
                rows.push(format!("{job} {up}/{total}"));
                continue;
            }
            failing += 1;
            let problem = pool
                .problems
                .first()
                // No backend here: a refused `node` target is the node exporter's fault.
                .and_then(|t| judge(cx, t, tally.now, None, job, server));
            let why = match &problem {
                Some(p) => p.message.clone(),
                None if total == 0 => format!("no active targets (not in {srv}'s scrape config)"),
                None => format!("{total} active target(s), fewer than {}", self.min_targets),
            };
            rows.push(format!("{job} {up}/{total} ({why})"));
            if first_problem.is_none() {
                first_problem = Some(problem.unwrap_or_else(|| {
                    Outcome::fail(why.clone()).cause(format!("check:{}", cx.check.id), format!("job `{job}`: {why}"))
                }));
            }
        }
        let reproduce = format!(
            "{} | jq '.data.activeTargets[] | {{scrapePool, health, lastError}}'",
            crate::shell::join(["curl", "-s", &crate::http::join_url(cx.base_url(), "/api/v1/targets?state=active")])
        );
        let evidence = |o: Outcome| o.evidence("jobs", Value::Object(table.clone())).reproduce(reproduce.clone());
        if selected.is_empty() {
            return evidence(Outcome::fail(format!("{srv} has no scrape jobs")))
                .cause(format!("check:{}", cx.check.id), format!("{srv} scrapes nothing"))
                .remediation(format!("add the stack's scrape jobs to {}", server.scrape_config()));
        }
        match first_problem {
            None => evidence(Outcome::pass(format!("every job up: {}", rows.join(", ")))),
            Some(mut o) => {
                o.message = format!("{failing} of {} job(s) not healthy: {}", selected.len(), rows.join("; "));
                evidence(o)
            }
        }
    }

    /// The jobs named by `job` and `jobs`, in the gate's order.
    fn listed_jobs(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.job.as_str())
            .filter(|j| !j.is_empty())
            .chain(self.jobs.iter().map(String::as_str))
    }

    async fn run(&self, cx: &ProbeContext<'_>) -> Outcome {
        // Both forms ask for active targets only and read the answer as a
        // stream, keeping per job its counts and first unhealthy targets.
        // One job is asked for by `scrapePool` (Prometheus then answers
        // that pool only; VictoriaMetrics ignores it, and the scan filters).
        // All jobs: one streamed answer rather than `count by (job) (up)`
        // plus a details request per failing job, because the targets API
        // judges exactly what the one-job form judges (never-scraped, stale
        // and future scrapes, `lastError`), is one request whatever fails,
        // and VictoriaMetrics' queries lag its scrapes by 30 s.
        let many = self.job == "*" || !self.jobs.is_empty();
        let (params, scan): (&[(&str, &str)], TargetsScan) = if many {
            let pools = if self.job == "*" {
                Pools::All
            } else {
                Pools::Only(self.listed_jobs().map(str::to_string).collect())
            };
            (&[("state", "active")], TargetsScan::active(pools, 0, healthy))
        } else {
            (
                &[("state", "active"), ("scrapePool", self.job.as_str())],
                TargetsScan::active(Pools::Only(vec![self.job.clone()]), EVIDENCE_TARGETS, healthy),
            )
        };
        let (ready_result, scanned) = tokio::join!(ready(cx), scan_data(cx, "/api/v1/targets", params, TARGETS_CAP, scan));
        if let Err(o) = ready_result {
            return o;
        }
        let (tally, server) = match scanned {
            Ok(d) => d,
            Err(o) => return o,
        };
        let srv = server.name();
        if many {
            return self.judge_jobs(cx, &tally, server);
        }
        // The job goes to jq as a variable, never spliced into its program.
        let reproduce = format!(
            "{} | jq --arg job {} '.data.activeTargets[] | select(.scrapePool==$job)'",
            crate::shell::join([
                "curl",
                "-s",
                &crate::http::join_url(cx.base_url(), "/api/v1/targets?state=active")
            ]),
            crate::shell::quote(&self.job)
        );
        let none = PoolTally::default();
        let pool = tally.pool(&self.job).unwrap_or(&none);
        let base = |o: Outcome| {
            o.reproduce(reproduce.clone())
                .expected("min_targets", self.min_targets)
                .expected("job", self.job.clone())
        };

        if pool.total == 0 {
            return base(self.missing(cx, &tally, server).await);
        }

        let backend_url = self
            .backend_target
            .as_ref()
            .and_then(|t| cx.gate.targets.get(t))
            .map(|t| t.url.clone());
        let evidence: Vec<Value> = pool
            .targets
            .iter()
            .map(|t| {
                let age = t.last_scrape.and_then(|ls| tally.now.duration_since(ls).ok());
                json!({
                    "scrape_url": t.scrape_url,
                    "health": t.health,
                    "last_error": t.last_error,
                    "last_scrape_age_s": age.map(|a| (a.as_secs_f64() * 10.0).round() / 10.0),
                    "interval": t.interval.map(crate::duration::format),
                })
            })
            .collect();
        let (up, total) = (pool.healthy, pool.total);
        let common = |o: Outcome| {
            let o = base(o)
                .evidence("targets", Value::Array(evidence.clone()))
                .evidence("active", total)
                .evidence("up", up);
            if total > pool.targets.len() {
                o.evidence("targets_listed", pool.targets.len())
            } else {
                o
            }
        };
        if let Some(first) = pool
            .problems
            .first()
            .and_then(|t| {
                let backend = cx.check_backend_target_name().map(|name| (name, backend_url.as_deref()));
                judge(cx, t, tally.now, backend, &self.job, server)
            })
        {
            let mut o = common(first);
            if total > 1 {
                o.message = format!("{} ({up} of {total} targets healthy)", o.message);
            }
            return o;
        }
        if (total as u32) < self.min_targets {
            let msg = format!(
                "job `{}` has {total} active target(s), fewer than {}",
                self.job, self.min_targets
            );
            return common(Outcome::fail(msg.clone()))
                .cause(format!("check:{}", cx.check.id), msg)
                .remediation("add the missing instances to the job's static_configs or service discovery");
        }
        // Claim freshness only for targets whose interval is known.
        let unknown = pool.unknown_interval;
        let freshness = if unknown == 0 {
            "scraped within 2× their interval".to_string()
        } else {
            format!("{unknown} of them without a known scrape interval, so their freshness is not judged")
        };
        let mut o = common(Outcome::pass(format!(
            "job `{}`: {total} target(s) up, {freshness}",
            self.job
        )));
        if unknown > 0 {
            o.warnings.push(format!(
                "{srv} reports no scrape interval for {unknown} target(s) of `{}`: staleness was not checked for them",
                self.job
            ));
        }
        o
    }

    /// The job has no active target: dropped by relabelling, or not
    /// configured at all. Dropped targets are asked for only now, on their
    /// own (`state=dropped`): a Kubernetes Prometheus drops most of what it
    /// discovers, and the healthy case should not read all of that.
    async fn missing(&self, cx: &ProbeContext<'_>, tally: &Tally, server: Server) -> Outcome {
        let srv = server.name();
        let params = [("state", "dropped"), ("scrapePool", self.job.as_str())];
        let dropped_scan = scan_data(cx, "/api/v1/targets", &params, TARGETS_CAP, TargetsScan::dropped(&self.job));
        // A filtered answer names no other pool: ask which jobs exist from
        // the `up` series, a small answer whatever the target count.
        let others = tally.seen.iter().any(|p| p != &self.job);
        let (dropped, pools) = tokio::join!(dropped_scan, async {
            if others {
                tally.seen.clone()
            } else {
                known_jobs(cx).await
            }
        });
        let dropped = match dropped {
            Ok((t, _)) => t.dropped,
            Err(o) => return o,
        };
        let (message, remediation) = if dropped > 0 {
            (
                format!(
                    "job `{}` has {dropped} discovered target(s), all dropped by relabelling",
                    self.job
                ),
                "fix the job's `relabel_configs`: a `keep`/`drop` rule discards every target".to_string(),
            )
        } else {
            (
                format!("job `{}` is not in {srv}'s scrape config", self.job),
                format!(
                    "add a scrape job to {}:\n  - job_name: {}\n    authorization: {{type: Bearer, credentials_file: /etc/prometheus/metrics_token}}\n    static_configs: [{{targets: ['backend:3000']}}]",
                    server.scrape_config(),
                    self.job
                ),
            )
        };
        Outcome::fail(message.clone())
            .evidence("jobs", json!(pools))
            .evidence("dropped_targets", dropped)
            .cause(format!("check:{}", cx.check.id), message)
            .remediation(remediation)
    }
}

/// The scrape jobs Prometheus knows, from `count by (job) (up)`.
async fn known_jobs(cx: &ProbeContext<'_>) -> Vec<String> {
    let Ok(data) = super::prometheus_api::get_data(cx, "/api/v1/query", &[("query", "count by (job) (up)")]).await else {
        return Vec::new();
    };
    let mut jobs: Vec<String> = data
        .get("result")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|r| r.get("metric")?.get("job")?.as_str().map(str::to_string))
        .collect();
    jobs.sort();
    jobs
}

/// `host:port` of a URL, with the scheme's default port filled in.
fn host_port(url: &str) -> Option<(String, u16)> {
    let u = url::Url::parse(url).ok()?;
    Some((u.host_str()?.to_string(), u.port_or_known_default()?))
}

/// What is wrong with a target, before it is put in words: the one
/// definition of "up" for both forms and the streamed tally.
enum Trouble {
    NotScraped,
    Failing,
    /// Its last scrape is this far ahead of our clock.
    Ahead(Duration),
    Stale {
        age: Duration,
        interval: Duration,
    },
}

fn trouble(t: &ActiveTarget, now: SystemTime) -> Option<Trouble> {
    let Some(last) = t.last_scrape.filter(|_| t.health != "unknown") else {
        return Some(Trouble::NotScraped);
    };
    if t.health != "up" || !t.last_error.is_empty() {
        return Some(Trouble::Failing);
    }
    // A scrape time ahead of our clock is no evidence of freshness: the
    // answer or a clock is wrong, and "fresh" cannot be judged.
    if let Ok(ahead) = last.duration_since(now)
        && ahead > CLOCK_SKEW
    {
        return Some(Trouble::Ahead(ahead));
    }
    match (now.duration_since(last), t.interval) {
        (Ok(age), Some(interval)) if age > interval * 2 => Some(Trouble::Stale { age, interval }),
        _ => None,
    }
}

/// Up, scraped, and fresh as of `now`.
fn healthy(t: &ActiveTarget, now: SystemTime) -> bool {
    trouble(t, now).is_none()
}

/// What is wrong with one target of `job` as of `now`, if anything, in
/// words. `backend` is the gate target (name, URL) the job is known to
/// scrape; without one, a refused scrape is blamed on whatever the job
/// scrapes, not on the backend.
fn judge(
    cx: &ProbeContext<'_>,
    t: &ActiveTarget,
    now: SystemTime,
    backend: Option<(&str, Option<&str>)>,
    job: &str,
    server: Server,
) -> Option<Outcome> {
    let id = &cx.check.id;
    let srv = server.name();
    let backend_url = backend.and_then(|(_, url)| url);
    let backend = backend.map(|(name, _)| name);
    let trouble = trouble(t, now)?;
    if let Trouble::NotScraped = trouble {
        return Some(
            Outcome::new(Status::Error, format!("{} has not been scraped yet", t.scrape_url))
                .cause(
                    format!("check:{id}"),
                    format!(
                        "{srv} has not scraped {} yet (it may have just started)",
                        t.scrape_url
                    ),
                )
                .remediation("wait one scrape interval and re-run (or use `--wait`)"),
        );
    }
    let port_mismatch = match (backend_url.and_then(host_port), host_port(&t.scrape_url)) {
        (Some((_, want)), Some((_, got))) if want != got => Some((want, got)),
        _ => None,
    };
    if let Trouble::Failing = trouble {
        let err = t.last_error.as_str();
        let lower = err.to_ascii_lowercase();
        let o = Outcome::fail(format!(
            "target {} is {}: {}",
            t.scrape_url,
            t.health,
            if err.is_empty() { "no error given" } else { err }
        ))
        .evidence("last_error", err);
        if let Some((want, got)) = port_mismatch {
            let summary = format!(
                "{srv} scrapes {} (port {got}) but the backend target `{}` is {} (port {want}): port mismatch",
                t.scrape_url,
                backend.unwrap_or("backend"),
                backend_url.unwrap_or_default()
            );
            return Some(
                o.cause(format!("check:{id}"), summary)
                    .remediation(format!("change the scrape target's port from {got} to {want} in {} (static_configs.targets), then {}", server.scrape_config(), server.reload())),
            );
        }
        if lower.contains("connection refused") {
            return Some(match backend {
                Some(b) => o
                    .cause(
                        format!("unreachable:{b}"),
                        format!("{srv} cannot reach {}: connection refused, the backend is down", t.scrape_url),
                    )
                    .remediation(format!("start the backend (docker compose ps; docker logs) so {srv} can scrape it")),
                None => o
                    .cause(
                        format!("check:{id}"),
                        format!(
                            "{srv} cannot reach {} (job `{job}`): connection refused, nothing listens there",
                            t.scrape_url
                        ),
                    )
                    .remediation(format!(
                        "start what job `{job}` scrapes (its exporter or service: docker compose ps; docker logs), or fix its address in {}",
                        server.scrape_config()
                    )),
            });
        }
        if lower.contains("401") || lower.contains("403") {
            return Some(
                o.cause(
                    format!("check:{id}"),
                    format!("{srv} scrapes {} without valid credentials ({})", t.scrape_url, err.trim_start_matches("server returned HTTP status ")),
                )
                .remediation(
                    "give the scrape job the bearer token: `authorization: {type: Bearer, credentials_file: /etc/prometheus/metrics_token}` \
                     holding the bearer token the backend expects, then reload the scraper",
                ),
            );
        }
        if lower.contains("unable to read authorization credentials file") {
            return Some(
                o.cause(
                    format!("check:{id}"),
                    format!("{srv} cannot read the scrape job's credentials_file"),
                )
                .remediation(format!("mount the token file into the {srv} container at the path `credentials_file` names")),
            );
        }
        if lower.contains("context deadline exceeded") {
            return Some(
                o.cause(
                    format!("check:{id}"),
                    format!("scraping {} times out (slower than scrape_timeout)", t.scrape_url),
                )
                .remediation(
                    "make /metrics answer faster (cache expensive collectors) or raise the job's scrape_timeout",
                ),
            );
        }
        if lower.contains("no such host") {
            return Some(
                o.cause(format!("check:{id}"), format!("{srv} cannot resolve the host of {}", t.scrape_url))
                    .remediation("use the backend's service name on the shared Docker network, and put both containers on that network"),
            );
        }
        if lower.contains("does not end with # eof") {
            return Some(
                o.cause(
                    format!("check:{id}"),
                    "the backend sends OpenMetrics without the final `# EOF`".to_string(),
                )
                .remediation("end the exposition with `# EOF`, or serve text/plain; version=0.0.4"),
            );
        }
        if lower.contains("body size limit") {
            return Some(
                o.cause(
                    format!("check:{id}"),
                    "the exposition exceeds the job's body_size_limit".to_string(),
                )
                .remediation("reduce label cardinality or raise body_size_limit"),
            );
        }
        return Some(
            o.cause(
                format!("check:{id}"),
                format!("{srv} fails to scrape {}: {err}", t.scrape_url),
            )
            .remediation(format!("open {srv}'s targets page (`/targets`) for the full error")),
        );
    }
    if let Trouble::Ahead(ahead) = trouble {
        return Some(
            Outcome::error(format!(
                "target {} reports a last scrape {:.0}s in the future",
                t.scrape_url,
                ahead.as_secs_f64()
            ))
            .cause(format!("check:{id}"), format!("{srv}'s clock and the gate's disagree, so scrape freshness cannot be judged"))
            .remediation(format!("sync the clocks (NTP) of {srv} and the machine running the gate")),
        );
    }
    if let Trouble::Stale { age, interval } = trouble {
        return Some(
            Outcome::fail(format!(
                "target {} was last scraped {:.0}s ago, more than 2× its {} interval",
                t.scrape_url,
                age.as_secs_f64(),
                crate::duration::format(interval)
            ))
            .cause(format!("check:{id}"), format!("{srv} stopped scraping {}", t.scrape_url))
            .remediation(format!("{srv} may be overloaded or its clock skewed; check its logs")),
        );
    }
    None
}

impl ProbeContext<'_> {
    /// The gate target a `prometheus_targets` check scrapes, if it names one.
    fn check_backend_target_name(&self) -> Option<&str> {
        match &self.check.spec {
            crate::gate::CheckSpec::PrometheusTargets(s) => s.backend_target.as_deref(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(health: &str, err: &str, scraped: Option<SystemTime>, interval: Option<u64>) -> ActiveTarget {
        ActiveTarget {
            scrape_url: "http://127.0.0.1:3000/metrics".into(),
            health: health.into(),
            last_error: err.into(),
            last_scrape: scraped,
            interval: interval.map(Duration::from_secs),
        }
    }

    #[test]
    fn up_means_scraped_without_error_recently_and_not_in_the_future() {
        let now = SystemTime::now();
        let ago = |s: u64| Some(now - Duration::from_secs(s));
        assert!(healthy(&target("up", "", ago(1), Some(1)), now));
        assert!(healthy(&target("up", "", ago(100), None), now), "no interval: freshness not judged");
        assert!(healthy(&target("up", "", Some(now + Duration::from_secs(1)), Some(1)), now), "within the skew");
        for (t, why) in [
            (target("unknown", "", ago(1), Some(1)), "unknown"),
            (target("up", "", None, Some(1)), "never scraped"),
            (target("down", "connection refused", ago(1), Some(1)), "down"),
            (target("up", "x", ago(1), Some(1)), "an error though up"),
            (target("up", "", ago(3), Some(1)), "stale"),
            (target("up", "", Some(now + Duration::from_secs(60)), Some(1)), "future"),
        ] {
            assert!(!healthy(&t, now), "{why}");
        }
        assert!(matches!(trouble(&target("up", "", ago(3), Some(1)), now), Some(Trouble::Stale { .. })));
        assert!(matches!(trouble(&target("up", "", Some(now + Duration::from_secs(60)), None), now), Some(Trouble::Ahead(_))));
    }

    #[test]
    fn host_port_fills_default_ports() {
        assert_eq!(host_port("http://backend/metrics"), Some(("backend".into(), 80)));
        assert_eq!(host_port("https://b:8443/x"), Some(("b".into(), 8443)));
    }
}

#[cfg(test)]
mod load_tests {
    //! The kind's loader messages, each with its location.
    use crate::gate::testing::*;

    #[test]
    fn prometheus_targets_fields_are_validated_where_written() {
        requires("prometheus_targets", &[], "check `c` of kind `prometheus_targets` needs `job`");
        rejects_at(&one_check("prometheus_targets", &["job: \"\""]), FIELD_LINE, 14, "`job` is empty", Some("job: medianest-backend"));
        rejects_at(&one_check("prometheus_targets", &["job: a", "min_targets: 0"]), FIELD_LINE + 1, 22, "min_targets must be at least 1", None);
        rejects_at(&one_check("prometheus_targets", &["job: a", "backend_target: nope"]), FIELD_LINE + 1, 25, "names unknown target `nope`", None);
        requires("prometheus_targets", &["jobs: []"], "check `c` has an empty `jobs` list");
        let g = loads(&one_check("prometheus_targets", &["jobs: [node, pushgateway]"]));
        let crate::probe::CheckSpec::PrometheusTargets(spec) = &g.requirements[0].checks[0].spec else {
            panic!("a prometheus_targets spec")
        };
        assert_eq!((spec.job.as_str(), spec.jobs.len()), ("", 2));
    }
}
