//! `prometheus_targets`: Prometheus is ready and scrapes the job: at least
//! `min_targets` active targets, all `up`, each scraped within two of its
//! intervals. A failing target's `lastError` is translated into its cause:
//! the backend is down, the scrape lacks credentials, the port is wrong.

use std::time::{Duration, SystemTime};

use serde_json::{Value, json};

use super::prometheus_api::{Server, get_data_from, ready};
use super::registry::Kind;
use super::{Outcome, ProbeContext, Status};
use crate::gate::fields::{FieldDef, FieldType as T, SpecCx};

/// How far ahead of our clock a scrape time may be before it is distrusted.
const CLOCK_SKEW: Duration = Duration::from_secs(2);

/// One active target as the API reports it.
#[derive(Debug, Clone)]
struct ActiveTarget {
    scrape_url: String,
    health: String,
    last_error: String,
    last_scrape: Option<SystemTime>,
    interval: Option<Duration>,
}

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
    fn judge_jobs(&self, cx: &ProbeContext<'_>, data: &Value, server: Server) -> Outcome {
        let srv = server.name();
        let pools = match parse_targets(data, "") {
            Ok((_, pools)) => pools,
            Err(what) => {
                return Outcome::error(format!("unexpected /api/v1/targets answer: {what}"))
                    .cause(format!("api:{}", cx.target_name()), format!("{srv}'s targets API answered an unexpected shape: {what}"));
            }
        };
        let selected: Vec<String> = if self.job == "*" {
            pools.clone()
        } else {
            std::iter::once(self.job.clone())
                .filter(|j| !j.is_empty())
                .chain(self.jobs.iter().cloned())
                .collect()
        };
        let now = SystemTime::now();
        let mut rows = Vec::new();
        let mut table = serde_json::Map::new();
        let mut first_problem: Option<Outcome> = None;
        let mut failing = 0;
        for job in &selected {
            let active = parse_targets(data, job).map(|(a, _)| a).unwrap_or_default();
            let problems: Vec<Outcome> = active
                .iter()
                // No backend here: a refused `node` target is the node exporter's fault.
                .filter_map(|t| judge(cx, t, t.last_scrape.and_then(|ls| now.duration_since(ls).ok()), None, job, server))
                .collect();
            let up = active.len() - problems.len();
            table.insert(job.clone(), json!({"up": up, "total": active.len()}));
            let short = active.is_empty() || (active.len() as u32) < self.min_targets;
            if problems.is_empty() && !short {
                rows.push(format!("{job} {up}/{}", active.len()));
                continue;
            }
            failing += 1;
            let why = match problems.first() {
                Some(p) => p.message.clone(),
                None if active.is_empty() => format!("no active targets (not in {srv}'s scrape config)"),
                None => format!("{} active target(s), fewer than {}", active.len(), self.min_targets),
            };
            rows.push(format!("{job} {up}/{} ({why})", active.len()));
            if first_problem.is_none() {
                first_problem = Some(problems.into_iter().next().unwrap_or_else(|| {
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

    async fn run(&self, cx: &ProbeContext<'_>) -> Outcome {
        // One job: ask for its pool only. A Prometheus with thousands of
        // targets answers megabytes for all of them; one pool is small.
        // (VictoriaMetrics ignores the filter; the parse filters anyway.)
        let many = self.job == "*" || !self.jobs.is_empty();
        let params: &[(&str, &str)] = if many {
            &[("state", "any")]
        } else {
            &[("state", "any"), ("scrapePool", self.job.as_str())]
        };
        let (ready_result, data) = tokio::join!(ready(cx), get_data_from(cx, "/api/v1/targets", params));
        if let Err(o) = ready_result {
            return o;
        }
        let (data, server) = match data {
            Ok(d) => d,
            Err(o) => return o,
        };
        let srv = server.name();
        if self.job == "*" || !self.jobs.is_empty() {
            return self.judge_jobs(cx, &data, server);
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
        let (active, pools) = match parse_targets(&data, &self.job) {
            Ok(v) => v,
            Err(what) => {
                return Outcome::error(format!("unexpected /api/v1/targets answer: {what}"))
                    .cause(
                        format!("api:{}", cx.target_name()),
                        format!("{srv}'s targets API answered an unexpected shape: {what}"),
                    )
                    .remediation("check that the target is Prometheus 2.x or VictoriaMetrics");
            }
        };
        let dropped = count_dropped(&data, &self.job);
        let base = |o: Outcome| {
            o.reproduce(reproduce.clone())
                .expected("min_targets", self.min_targets)
                .expected("job", self.job.clone())
        };

        if active.is_empty() {
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
            // The filtered answer names no other pool: ask which jobs exist
            // from the `up` series, a small answer whatever the target count.
            let pools = if pools.iter().any(|p| p != &self.job) {
                pools
            } else {
                known_jobs(cx).await
            };
            return base(Outcome::fail(message.clone()))
                .evidence("jobs", json!(pools))
                .evidence("dropped_targets", dropped)
                .cause(format!("check:{}", cx.check.id), message)
                .remediation(remediation);
        }

        let now = SystemTime::now();
        let backend_url = self
            .backend_target
            .as_ref()
            .and_then(|t| cx.gate.targets.get(t))
            .map(|t| t.url.clone());
        let mut problems: Vec<(String, Outcome)> = Vec::new();
        let mut evidence = Vec::new();
        for t in &active {
            let age = t.last_scrape.and_then(|ls| now.duration_since(ls).ok());
            evidence.push(json!({
                "scrape_url": t.scrape_url,
                "health": t.health,
                "last_error": t.last_error,
                "last_scrape_age_s": age.map(|a| (a.as_secs_f64() * 10.0).round() / 10.0),
                "interval": t.interval.map(crate::duration::format),
            }));
            let backend = cx.check_backend_target_name().map(|name| (name, backend_url.as_deref()));
            if let Some(o) = judge(cx, t, age, backend, &self.job, server) {
                problems.push((t.scrape_url.clone(), o));
            }
        }
        let up = active.len() - problems.len();
        let common = |o: Outcome| {
            base(o)
                .evidence("targets", Value::Array(evidence.clone()))
                .evidence("active", active.len())
                .evidence("up", up)
        };
        if let Some((_, first)) = problems.into_iter().next() {
            let mut o = common(first);
            if active.len() > 1 {
                o.message = format!("{} ({up} of {} targets healthy)", o.message, active.len());
            }
            return o;
        }
        if (active.len() as u32) < self.min_targets {
            let msg = format!(
                "job `{}` has {} active target(s), fewer than {}",
                self.job,
                active.len(),
                self.min_targets
            );
            return common(Outcome::fail(msg.clone()))
                .cause(format!("check:{}", cx.check.id), msg)
                .remediation("add the missing instances to the job's static_configs or service discovery");
        }
        // Claim freshness only for targets whose interval is known.
        let unknown = active.iter().filter(|t| t.interval.is_none()).count();
        let freshness = if unknown == 0 {
            "scraped within 2× their interval".to_string()
        } else {
            format!("{unknown} of them without a known scrape interval, so their freshness is not judged")
        };
        let mut o = common(Outcome::pass(format!(
            "job `{}`: {} target(s) up, {freshness}",
            self.job,
            active.len()
        )));
        if unknown > 0 {
            o.warnings.push(format!(
                "{srv} reports no scrape interval for {unknown} target(s) of `{}`: staleness was not checked for them",
                self.job
            ));
        }
        o
    }
}

/// Active targets of `job`, and the names of every scrape pool seen.
fn parse_targets(data: &Value, job: &str) -> Result<(Vec<ActiveTarget>, Vec<String>), String> {
    let items = data
        .get("activeTargets")
        .and_then(Value::as_array)
        .ok_or("no `activeTargets` array")?;
    let mut pools: Vec<String> = Vec::new();
    let mut out = Vec::new();
    for t in items {
        let pool = t.get("scrapePool").and_then(Value::as_str).unwrap_or_default();
        if !pools.iter().any(|p| p == pool) {
            pools.push(pool.to_string());
        }
        if pool != job {
            continue;
        }
        let s = |k: &str| t.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
        // Never scraped: Prometheus says 0001-01-01, VictoriaMetrics 1970-01-01.
        let last_scrape = t
            .get("lastScrape")
            .and_then(Value::as_str)
            .filter(|s| !s.starts_with("0001-01-01") && !s.starts_with("1970-01-01"))
            .and_then(|s| {
                humantime::parse_rfc3339_weak(s)
                    .ok()
                    .or_else(|| humantime::parse_rfc3339(s).ok())
            });
        // VictoriaMetrics has no `scrapeInterval`, only the discovered label,
        // in Go's format (`10m0s`).
        let interval = t
            .get("scrapeInterval")
            .and_then(Value::as_str)
            .and_then(|s| crate::duration::parse(s).ok())
            .or_else(|| {
                t.get("discoveredLabels")
                    .and_then(|l| l.get("__scrape_interval__"))
                    .and_then(Value::as_str)
                    .and_then(|s| crate::duration::parse(s).or_else(|_| crate::duration::parse_go(s)).ok())
            });
        out.push(ActiveTarget {
            scrape_url: s("scrapeUrl"),
            health: s("health"),
            last_error: s("lastError"),
            last_scrape,
            interval,
        });
    }
    Ok((out, pools))
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

fn count_dropped(data: &Value, job: &str) -> usize {
    data.get("droppedTargets")
        .and_then(Value::as_array)
        .map(|d| {
            d.iter()
                .filter(|t| t.pointer("/discoveredLabels/job").and_then(Value::as_str) == Some(job))
                .count()
        })
        .unwrap_or(0)
}

/// `host:port` of a URL, with the scheme's default port filled in.
fn host_port(url: &str) -> Option<(String, u16)> {
    let u = url::Url::parse(url).ok()?;
    Some((u.host_str()?.to_string(), u.port_or_known_default()?))
}

/// What is wrong with one target, if anything.
/// What is wrong with one target of `job`, if anything. `backend` is the
/// gate target (name, URL) the job is known to scrape; without one, a
/// refused scrape is blamed on whatever the job scrapes, not on the backend.
fn judge(
    cx: &ProbeContext<'_>,
    t: &ActiveTarget,
    age: Option<Duration>,
    backend: Option<(&str, Option<&str>)>,
    job: &str,
    server: Server,
) -> Option<Outcome> {
    let id = &cx.check.id;
    let srv = server.name();
    let backend_url = backend.and_then(|(_, url)| url);
    let backend = backend.map(|(name, _)| name);
    if t.health == "unknown" || t.last_scrape.is_none() {
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
    if t.health != "up" || !t.last_error.is_empty() {
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
    // A scrape time ahead of our clock is no evidence of freshness: the
    // answer or a clock is wrong, and "fresh" cannot be judged.
    if let Some(ahead) = t.last_scrape.and_then(|ls| ls.duration_since(SystemTime::now()).ok())
        && ahead > CLOCK_SKEW
    {
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
    if let (Some(age), Some(interval)) = (age, t.interval)
        && age > interval * 2
    {
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

    fn target(pool: &str, health: &str, err: &str) -> Value {
        json!({"discoveredLabels":{"job":pool},"labels":{"job":pool},"scrapePool":pool,
               "scrapeUrl":"http://127.0.0.1:3000/metrics","globalUrl":"http://vm:3000/metrics",
               "lastError":err,"lastScrape":"2026-11-21T17:59:48.802385342Z","lastScrapeDuration":0.0019,
               "health":health,"scrapeInterval":"1s","scrapeTimeout":"1s"})
    }

    #[test]
    fn targets_are_filtered_by_job_and_pools_listed() {
        let data =
            json!({"activeTargets":[target("prometheus","up",""), target("api","down","x")],"droppedTargets":[]});
        let (active, pools) = parse_targets(&data, "api").unwrap();
        assert_eq!(active.len(), 1);
        assert_eq!(active[0].health, "down");
        assert_eq!(active[0].interval, Some(Duration::from_secs(1)));
        assert!(active[0].last_scrape.is_some());
        assert_eq!(pools, vec!["prometheus", "api"]);
    }

    #[test]
    fn never_scraped_target_has_no_last_scrape() {
        let mut t = target("api", "unknown", "");
        t["lastScrape"] = json!("0001-01-01T00:00:00Z");
        let (active, _) = parse_targets(&json!({"activeTargets":[t]}), "api").unwrap();
        assert!(active[0].last_scrape.is_none());
    }

    #[test]
    fn dropped_targets_are_counted_per_job() {
        let data = json!({"activeTargets":[],"droppedTargets":[{"discoveredLabels":{"job":"api"}},{"discoveredLabels":{"job":"x"}}]});
        assert_eq!(count_dropped(&data, "api"), 1);
    }

    #[test]
    fn missing_active_targets_is_an_error() {
        assert!(parse_targets(&json!({"droppedTargets":[]}), "api").is_err());
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
