//! `telemetry_roundtrip` (synthetic): proves that a request to the backend
//! shows up in both telemetry pipelines, and how long each takes. It sends
//! `requests` GETs carrying a fresh correlation id in `header`, then polls
//! until (a) Loki returns a line holding that id for `selector` and (b)
//! Prometheus' request counter of `job` grew by at least the number sent,
//! or `within` ends. Each leg's lag (log pipeline, metrics scrape) is
//! measured from the first request sent: no other tool reports it.
//!
//! Bounded: `requests` ≤ 100 GETs to the check's own target, one Loki query
//! and one Prometheus query per leg every 300 ms, all inside the check's
//! timeout; every request it wrote is listed in `synthetic_actions`.
//!
//! Baseline rule: a counter with no series before the requests counts as 0.
//! Client libraries (prom-client among them) create a label set on its
//! first request, so a series that appears with our requests still proves
//! the leg; a job Prometheus does not scrape never grows a series, and that
//! is the diagnosis given. NaN, infinities and negative values are errors.
//! Other traffic to the backend grows the counter too, so the metrics leg
//! proves that requests reach the counter through the scrape, not that
//! Prometheus counted these exact ones; the log leg is exact (the id).

use std::time::{Duration, SystemTime};

use serde_json::{Value, json};

use super::loki::{LogQueryError, now_ns, query_range_url, read_streams, stream_entries, tenant_headers};
use super::prometheus_api::{QueryResult, promql_curl, query};
use super::registry::Kind;
use super::{Outcome, ProbeContext};
use crate::gate::fields::{FieldDef, FieldType as T, SpecCx};
use crate::http::{Auth, JSON_CAP, fmt_duration, join_url};

/// Between two looks at each leg (the issue asks for 250–500 ms).
const POLL: Duration = Duration::from_millis(300);
/// Time the check needs besides `within`: the baseline, Loki's first look
/// and sending the requests.
const RESERVE: Duration = Duration::from_secs(2);
/// How far before the first request the log query looks, for clock skew
/// between this host and the log shipper.
const LOOK_BACK_NS: u128 = 60 * 1_000_000_000;
/// Most requests one check may send.
const MAX_REQUESTS: u32 = 100;
/// Headers the check must not overwrite: the HTTP client owns them.
const RESERVED_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "authorization",
    "cookie",
];

#[derive(Debug, Clone)]
pub struct RoundtripSpec {
    pub path: String,
    pub requests: u32,
    /// The header that carries the correlation id, lower case.
    pub header: String,
    /// The Loki target.
    pub loki: String,
    /// LogQL stream selector of the backend's logs.
    pub selector: String,
    /// Sent as `X-Scope-OrgID` when non-empty.
    pub tenant: String,
    /// The variable the tenant comes from (`LOKI_TENANT`), for hints.
    pub tenant_var: Option<String>,
    /// The Prometheus target.
    pub prometheus: String,
    pub counter: String,
    pub job: String,
    pub within: Duration,
}

impl Kind for RoundtripSpec {
    const NAME: &'static str = "telemetry_roundtrip";
    const SYNTHETIC: bool = true;
    const FIELDS: &'static [FieldDef] = &[
        FieldDef::new("path", T::Str, "Backend path the requests go to (default `/health`).", "/health"),
        FieldDef::new("requests", T::Int, "How many requests to send, 1–100 (default 5).", "5"),
        FieldDef::new("header", T::Str, "Request header that carries the correlation id (default `x-correlation-id`).", "x-correlation-id"),
        FieldDef::new("loki", T::TargetRef, "The Loki target whose logs must hold the correlation id (required).", "loki"),
        FieldDef::new("selector", T::Str, "LogQL stream selector of the backend's logs (required).", "'{job=\"medianest-app\"}'"),
        FieldDef::new("tenant", T::Str, "Tenant sent to Loki as `X-Scope-OrgID` (empty: none).", "medianest"),
        FieldDef::new("prometheus", T::TargetRef, "The Prometheus target whose request counter must grow (required).", "prometheus"),
        FieldDef::new("counter", T::Str, "The backend's request counter (default `http_requests_total`).", "http_requests_total"),
        FieldDef::new("job", T::Str, "The backend's scrape job, whose counter must grow (required).", "medianest-backend"),
        FieldDef::new("within", T::Duration, "How long both legs may take after the first request (default 60s; must fit in the check's timeout with 2s to spare).", "60s"),
    ];

    fn load(f: &mut SpecCx<'_, '_>) -> Self {
        let path = f.path("/health");
        let requests = match f.int("requests") {
            Some(n) if !(1..=MAX_REQUESTS).contains(n.get()) => {
                f.err(
                    n.loc(),
                    format!("`requests` is {}; send between 1 and {MAX_REQUESTS}", n.get()),
                    Some("write e.g. `requests: 5`".to_string()),
                );
                5
            }
            Some(n) => n.into_inner(),
            None => 5,
        };
        let header = match f.string("header") {
            Some((h, loc)) => {
                let h = h.trim().to_ascii_lowercase();
                if reqwest::header::HeaderName::from_bytes(h.as_bytes()).is_err() {
                    f.err(
                        loc,
                        format!("`{h}` is not a valid HTTP header name"),
                        Some("write e.g. `header: x-correlation-id`".to_string()),
                    );
                } else if RESERVED_HEADERS.contains(&h.as_str()) {
                    f.err(
                        loc,
                        format!("header `{h}` is set by the HTTP client and cannot carry the correlation id"),
                        Some("write e.g. `header: x-correlation-id`".to_string()),
                    );
                }
                h
            }
            None => "x-correlation-id".to_string(),
        };
        let loki = required_target(f, "loki");
        let selector = match f.string("selector") {
            Some((s, loc)) => {
                // An unset variable is reported once, as missing, not again as empty.
                let unset = !f.missing.is_empty();
                if s.trim().is_empty() && !unset {
                    f.err(
                        loc,
                        "`selector` is empty",
                        Some("write e.g. `selector: '{job=\"medianest-app\"}'`".to_string()),
                    );
                } else if !s.trim().is_empty() && !s.trim_start().starts_with('{') {
                    f.err(
                        loc,
                        format!("`{s}` is not a LogQL stream selector"),
                        Some("write e.g. `selector: '{job=\"medianest-app\"}'`".to_string()),
                    );
                }
                s
            }
            None => {
                if f.is_absent("selector") {
                    f.missing_field("selector");
                }
                String::new()
            }
        };
        let (tenant, tenant_var) = match f.string_with_vars("tenant") {
            Some((t, _, vars)) => (t.trim().to_string(), vars.into_iter().next()),
            None => (String::new(), None),
        };
        let prometheus = required_target(f, "prometheus");
        let counter = match f.string("counter") {
            Some((c, loc)) => {
                if !valid_metric_name(&c) {
                    f.err(
                        loc,
                        format!("`{c}` is not a metric name"),
                        Some("write e.g. `counter: http_requests_total`".to_string()),
                    );
                }
                c
            }
            None => "http_requests_total".to_string(),
        };
        let job = f.required_string("job");
        let within = f.duration("within").unwrap_or(Duration::from_secs(60));
        if let (Some(timeout), Some(loc)) = (f.own_timeout(), f.timeout_loc())
            && within + RESERVE > timeout
        {
            f.err(
                loc,
                format!(
                    "timeout {} leaves no room for `within` {} (the check needs {} more)",
                    fmt_duration(timeout),
                    fmt_duration(within),
                    fmt_duration(RESERVE)
                ),
                Some(format!(
                    "write `timeout: {}` or a shorter `within`",
                    fmt_duration(within + RESERVE)
                )),
            );
        }
        RoundtripSpec {
            path,
            requests,
            header,
            loki,
            selector,
            tenant,
            tenant_var,
            prometheus,
            counter,
            job,
            within,
        }
    }

    async fn probe(&self, cx: &ProbeContext<'_>) -> Outcome {
        self.run(cx).await
    }

    fn reproduce(&self, cx: &ProbeContext<'_>) -> String {
        self.backend_curl(cx, "medianest-gate-manual")
    }
}

/// A `TargetRef` field that must be written.
fn required_target(f: &mut SpecCx<'_, '_>, name: &str) -> String {
    if f.is_absent(name) {
        f.missing_field(name);
    }
    f.target(name).unwrap_or_default()
}

fn valid_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// A string as a double-quoted PromQL/LogQL literal's contents.
fn quoted(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// A fresh id, unique per run and check: check id, process id, nanoseconds.
/// Only letters, digits, `-` and `_`, so it is a valid header value and
/// needs no escaping in LogQL.
fn correlation_id(check_id: &str) -> String {
    let check: String = check_id
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' })
        .take(40)
        .collect();
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("mng-{check}-{}-{nanos}", std::process::id())
}

/// The state of the run, kept for every outcome it may end in.
struct Run {
    id: String,
    logql: String,
    promql: String,
    actions: Vec<String>,
    statuses: Vec<u16>,
    before: Option<f64>,
    after: Option<f64>,
    log_lag: Option<Duration>,
    metrics_lag: Option<Duration>,
    /// The counter went down between two looks (a restart or a changed series).
    reset: Option<(f64, f64)>,
}

impl Run {
    /// Adds what the run did and saw to an outcome, whatever it is.
    fn annotate(&self, o: Outcome) -> Outcome {
        let ms = |d: Option<Duration>| d.map(|d| d.as_millis() as u64);
        o.evidence("correlation_id", self.id.clone())
            .evidence("requests_sent", self.statuses.len())
            .evidence("backend_statuses", json!(self.statuses))
            .evidence("log_lag_ms", json!(ms(self.log_lag)))
            .evidence("metrics_lag_ms", json!(ms(self.metrics_lag)))
            .evidence("counter_before", json!(self.before))
            .evidence("counter_after", json!(self.after))
            .evidence("logql", self.logql.clone())
            .evidence("promql", self.promql.clone())
            .evidence("synthetic_actions", json!(self.actions))
    }

    fn growth(&self) -> f64 {
        self.after.unwrap_or(0.0) - self.before.unwrap_or(0.0)
    }
}

impl RoundtripSpec {
    fn backend_curl(&self, cx: &ProbeContext<'_>, id: &str) -> String {
        crate::shell::join([
            "curl",
            "-sS",
            "-i",
            "-H",
            &format!("{}: {id}", self.header),
            &join_url(cx.base_url(), &self.path),
        ])
    }

    /// The log query by hand; a tenant read from `${VAR}` stays a variable
    /// the person's shell expands.
    fn loki_curl(&self, lcx: &ProbeContext<'_>, logql: &str) -> String {
        use crate::shell::{Word, join_words};
        let mut argv: Vec<Word> = vec![
            "curl".into(),
            "-sG".into(),
            join_url(lcx.base_url(), "/loki/api/v1/query_range").into(),
        ];
        if !self.tenant.is_empty() {
            argv.push("-H".into());
            argv.push(match &self.tenant_var {
                Some(var) => Word::literal("X-Scope-OrgID: ").var(var),
                None => Word::literal(&format!("X-Scope-OrgID: {}", self.tenant)),
            });
        }
        for arg in ["--data-urlencode", &format!("query={logql}"), "--data-urlencode", "since=10m"] {
            argv.push(arg.to_string().into());
        }
        join_words(&argv)
    }

    /// Contexts for the Loki and Prometheus targets, sharing the check's
    /// HTTP client and ending at `deadline`.
    fn others<'a>(
        &self,
        cx: &ProbeContext<'a>,
        deadline: tokio::time::Instant,
    ) -> Result<(ProbeContext<'a>, ProbeContext<'a>), Box<Outcome>> {
        let at = |name: &str| {
            cx.gate.targets.get(name).map(|target| ProbeContext {
                http: cx.http,
                gate: cx.gate,
                check: cx.check,
                target: Some(target),
                timeout: cx.timeout,
                deadline,
            })
        };
        match (at(&self.loki), at(&self.prometheus)) {
            (Some(l), Some(p)) => Ok((l, p)),
            // The loader resolved both names; a missing target is a bug, reported as this check's error.
            _ => Err(Box::new(Outcome::error(format!(
                "target `{}` or `{}` is not in the gate",
                self.loki, self.prometheus
            )))),
        }
    }

    async fn run(&self, cx: &ProbeContext<'_>) -> Outcome {
        let key = format!("check:{}", cx.check.id);
        if self.within + RESERVE > cx.timeout {
            let msg = format!(
                "`within` {} does not fit in the check's {} timeout (it needs {} more)",
                fmt_duration(self.within),
                fmt_duration(cx.timeout),
                fmt_duration(RESERVE)
            );
            return Outcome::error(msg.clone()).cause(key, msg).remediation(format!(
                "give the check `timeout: {}` (or pass `--timeout`), or lower `within`",
                fmt_duration(self.within + RESERVE)
            ));
        }
        let (lcx, pcx) = match self.others(cx, cx.deadline) {
            Ok(both) => both,
            Err(o) => return *o,
        };
        let id = correlation_id(&cx.check.id);
        let mut run = Run {
            logql: format!("{} |= \"{}\"", self.selector.trim(), quoted(&id)),
            promql: format!("sum({}{{job=\"{}\"}})", self.counter, quoted(&self.job)),
            id,
            actions: Vec::new(),
            statuses: Vec::new(),
            before: None,
            after: None,
            log_lag: None,
            metrics_lag: None,
            reset: None,
        };
        let o = self.roundtrip(cx, &lcx, &pcx, &mut run).await;
        let mut o = run.annotate(o).expected("requests", self.requests).expected("within", fmt_duration(self.within));
        if o.reproduce.is_none() {
            o.reproduce = Some(self.backend_curl(cx, &run.id));
        }
        if !run.statuses.is_empty() {
            o.message.push_str(&format!(
                " (synthetic: {} request(s) sent to `{}`)",
                run.statuses.len(),
                cx.target_name()
            ));
        }
        o
    }

    /// Baseline, a first look at Loki, the requests, then both legs until seen.
    async fn roundtrip(
        &self,
        cx: &ProbeContext<'_>,
        lcx: &ProbeContext<'_>,
        pcx: &ProbeContext<'_>,
        run: &mut Run,
    ) -> Outcome {
        // Both sides are read before anything is written: a refused Loki or
        // Prometheus, a wrong tenant or a bad selector sends no traffic.
        if let Err(o) = self.find_line(lcx, run, now_ns()).await {
            return o;
        }
        run.before = match self.counter_value(pcx, &run.promql).await {
            Ok(v) => v,
            Err(o) => return o,
        };

        let url = join_url(cx.base_url(), &self.path);
        run.actions.push(format!(
            "GET {url} ×{} with `{}: {}`",
            self.requests, self.header, run.id
        ));
        let started = tokio::time::Instant::now();
        let started_ns = now_ns();
        for _ in 0..self.requests {
            match cx
                .http
                .get(&url, Auth::None, &[(self.header.as_str(), run.id.as_str())], JSON_CAP, cx.deadline)
                .await
            {
                Ok(r) => run.statuses.push(r.status.as_u16()),
                Err(e) => return cx.transport_failure(&url, &e),
            }
        }
        let failed: Vec<u16> = run.statuses.iter().copied().filter(|s| !(200..400).contains(s)).collect();

        // Each look may use only the time left in `within` (and the check's deadline).
        let until = (started + self.within).min(cx.deadline);
        let (lcx, pcx) = match self.others(cx, until) {
            Ok(both) => both,
            Err(o) => return *o,
        };
        let n = f64::from(self.requests);
        loop {
            if run.log_lag.is_none() {
                match self.find_line(&lcx, run, started_ns).await {
                    Ok(true) => run.log_lag = Some(started.elapsed()),
                    Ok(false) => {}
                    Err(_) if tokio::time::Instant::now() >= until => break,
                    Err(o) => return o,
                }
            }
            if run.metrics_lag.is_none() {
                match self.counter_value(&pcx, &run.promql).await {
                    Ok(v) => {
                        if let (Some(prev), Some(now)) = (run.after.or(run.before), v)
                            && now < prev
                        {
                            run.reset = Some((prev, now));
                        }
                        run.after = v;
                        if run.growth() >= n {
                            run.metrics_lag = Some(started.elapsed());
                        }
                    }
                    Err(_) if tokio::time::Instant::now() >= until => break,
                    Err(o) => return o,
                }
            }
            if run.log_lag.is_some() && run.metrics_lag.is_some() {
                break;
            }
            if tokio::time::Instant::now() + POLL >= until {
                break;
            }
            tokio::time::sleep(POLL).await;
        }
        let mut o = self.judge(cx, run);
        // The leg that broke is what a person re-runs by hand.
        if run.log_lag.is_none() {
            o.reproduce = Some(self.loki_curl(&lcx, &run.logql));
        } else if run.metrics_lag.is_none() {
            o.reproduce = Some(promql_curl(&pcx, &run.promql));
        }
        if !failed.is_empty() {
            o.warnings.push(format!(
                "{} of {} request(s) to {url} answered an error status: {}",
                failed.len(),
                run.statuses.len(),
                failed.iter().map(u16::to_string).collect::<Vec<_>>().join(", ")
            ));
        }
        o
    }

    /// The outcome once polling ended: which legs arrived, and why not.
    fn judge(&self, cx: &ProbeContext<'_>, run: &Run) -> Outcome {
        let key = format!("check:{}", cx.check.id);
        let within = fmt_duration(self.within);
        let growth = run.growth();
        if let (Some(log), Some(metrics)) = (run.log_lag, run.metrics_lag) {
            return Outcome::pass(format!(
                "round trip ok: the correlation id reached Loki after {} and `{}` grew by {growth} after {}",
                fmt_duration(log),
                self.counter,
                fmt_duration(metrics)
            ));
        }
        let mut messages = Vec::new();
        let mut causes = Vec::new();
        let mut fixes = Vec::new();
        if run.log_lag.is_none() {
            messages.push(format!(
                "logs never arrived in Loki within {within} for {}: no line holds the correlation id `{}`",
                self.selector.trim(),
                run.id
            ));
            causes.push("the backend's request logs do not reach Loki".to_string());
            fixes.push(format!(
                "check the log shipper (Promtail): it must ship the backend's logs to Loki with labels matching `{}` (`docker logs promtail`), and the backend must log the `{}` header of every request",
                self.selector.trim(),
                self.header
            ));
        }
        if run.metrics_lag.is_none() {
            let (message, fix) = if run.before.is_none() && run.after.is_none() {
                (
                    format!(
                        "request counter never appeared within {within}: `{}` has no data",
                        run.promql
                    ),
                    format!(
                        "Prometheus is not scraping job `{}`, or the backend exposes no `{}`: check Prometheus' `/api/v1/targets` and the job's scrape config",
                        self.job, self.counter
                    ),
                )
            } else {
                let mut m = format!(
                    "request counter grew by {growth} of {} within {within} (`{}`: {} → {})",
                    self.requests,
                    run.promql,
                    run.before.map_or("no data".to_string(), |v| v.to_string()),
                    run.after.map_or("no data".to_string(), |v| v.to_string()),
                );
                if let Some((from, to)) = run.reset {
                    m.push_str(&format!(
                        "; it went down from {from} to {to} (the backend restarted or its series changed)"
                    ));
                }
                (
                    m,
                    format!(
                        "Prometheus may not be scraping job `{}` (see `/api/v1/targets`), `{}` may not count requests to `{}`, or the job's scrape interval is longer than `within` ({within}): fix the scrape or the counter, or raise `within` above the scrape interval",
                        self.job, self.counter, self.path
                    ),
                )
            };
            messages.push(message);
            causes.push(format!("Prometheus does not see the backend's requests in `{}`", self.counter));
            fixes.push(fix);
        }
        let msg = messages.join("; ");
        Outcome::fail(msg)
            .cause(key, causes.join("; and "))
            .remediation(fixes.join("; and "))
    }

    /// Looks once for a line holding the id since `since_ns` less a minute.
    async fn find_line(&self, lcx: &ProbeContext<'_>, run: &Run, since_ns: u128) -> Result<bool, Outcome> {
        let end = now_ns();
        let url = query_range_url(
            lcx.base_url(),
            &run.logql,
            since_ns.saturating_sub(LOOK_BACK_NS),
            end,
            10,
        );
        let resp = lcx
            .http
            .get(&url, Auth::None, &tenant_headers(&self.tenant), JSON_CAP, lcx.deadline)
            .await;
        let doc = match read_streams(lcx, resp, &url, &run.logql, self.tenant_var.as_deref()) {
            Ok(doc) => doc,
            Err(LogQueryError::Transport(o) | LogQueryError::Answer(o)) => return Err(*o),
        };
        if doc.get("status").and_then(Value::as_str) != Some("success") {
            return Err(Outcome::error(format!(
                "Loki's query_range answered without `\"status\":\"success\"`: {}",
                crate::http::excerpt(doc.to_string().as_bytes(), 200)
            ))
            .cause(
                format!("api:{}", lcx.target_name()),
                "Loki's query API answered an unexpected document".to_string(),
            )
            .remediation(format!("point {} at Loki itself", lcx.target_setting())));
        }
        // Fail closed: only a line that really holds the id counts, whatever the server filtered.
        Ok(stream_entries(&doc).any(|(_, line)| line.contains(&run.id)))
    }

    /// The counter's sum now; `None` while it has no series.
    async fn counter_value(&self, pcx: &ProbeContext<'_>, promql: &str) -> Result<Option<f64>, Outcome> {
        let bad = |what: String| {
            Outcome::error(format!("`{promql}` gave {what}"))
                .cause(
                    format!("check:{}", pcx.check.id),
                    format!("the request counter of job `{}` is not a count: {what}", self.job),
                )
                .remediation(format!("make `{}` a counter of requests (a finite, non-negative value)", self.counter))
        };
        match query(pcx, promql).await? {
            QueryResult::Vector(v) if v.is_empty() => Ok(None),
            QueryResult::Vector(v) => match v.first().map(|(_, x)| *x) {
                Some(x) if x.is_finite() && x >= 0.0 => Ok(Some(x)),
                Some(x) => Err(bad(x.to_string())),
                None => Ok(None),
            },
            other => Err(bad(format!("{other:?} instead of one sample"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{correlation_id, valid_metric_name};

    #[test]
    fn correlation_ids_are_fresh_and_header_safe() {
        let a = correlation_id("telemetry roundtrip/\"x\"");
        let b = correlation_id("telemetry roundtrip/\"x\"");
        assert_ne!(a, b, "two runs share an id");
        assert!(a.starts_with("mng-telemetry_roundtrip__x_-"), "{a}");
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'), "{a}");
    }

    #[test]
    fn metric_names_follow_prometheus_rules() {
        assert!(valid_metric_name("http_requests_total"));
        assert!(valid_metric_name("job:requests:rate5m"));
        assert!(!valid_metric_name("9x"));
        assert!(!valid_metric_name("http-requests"));
        assert!(!valid_metric_name("x{job=\"a\"}"));
        assert!(!valid_metric_name(""));
    }
}

#[cfg(test)]
mod load_tests {
    //! The kind's loader messages, each with its location.
    use std::time::Duration;

    use crate::gate::testing::*;
    use crate::probe::CheckSpec;

    const OK: &[&str] = &[
        "loki: t",
        "prometheus: t",
        "selector: '{job=\"app\"}'",
        "job: backend",
    ];

    fn with(extra: &str) -> Vec<&str> {
        let mut f = OK.to_vec();
        f.insert(0, extra);
        f
    }

    #[test]
    fn defaults_apply_and_the_kind_is_synthetic() {
        let g = loads(&one_check("telemetry_roundtrip", OK));
        let spec = &g.requirements[0].checks[0].spec;
        assert!(spec.is_synthetic());
        let CheckSpec::TelemetryRoundtrip(s) = spec else {
            panic!("wrong kind: {spec:?}")
        };
        assert_eq!(s.path, "/health");
        assert_eq!(s.requests, 5);
        assert_eq!(s.header, "x-correlation-id");
        assert_eq!(s.counter, "http_requests_total");
        assert_eq!(s.within, Duration::from_secs(60));
        assert!(s.tenant.is_empty());
        assert!(spec.secrets().is_empty());
    }

    #[test]
    fn required_fields_are_named_at_the_check() {
        for missing in ["loki", "prometheus", "selector", "job"] {
            let fields: Vec<&str> = OK.iter().copied().filter(|f| !f.starts_with(missing)).collect();
            requires("telemetry_roundtrip", &fields, &format!("needs `{missing}`"));
        }
    }

    #[test]
    fn fields_are_validated_where_written() {
        let at = |field: &str, message: &str| {
            let key = field.split(':').next().unwrap_or_default();
            rejects_at(
                &one_check("telemetry_roundtrip", &with(field)),
                FIELD_LINE,
                value_column(key),
                message,
                None,
            );
        };
        at("requests: 0", "`requests` is 0; send between 1 and 100");
        at("requests: 101", "`requests` is 101");
        at("requests: -1", "`requests` must be zero or a positive whole number");
        at("header: 'x correlation'", "is not a valid HTTP header name");
        at("header: Authorization", "header `authorization` is set by the HTTP client");
        at("counter: 'http-requests'", "`http-requests` is not a metric name");
        at("within: 0s", "within must be greater than zero");
        at("within: 8d", "longer than the maximum of 7 days");
        at("path: health", "path `health` must start with `/`");
        let others: Vec<&str> = OK[1..].to_vec();
        let mut unknown = vec!["loki: lokki"];
        unknown.extend(others);
        rejects_at(
            &one_check("telemetry_roundtrip", &unknown),
            FIELD_LINE,
            value_column("loki"),
            "names unknown target `lokki`",
            Some("use one of: d, t"),
        );
        let text = one_check(
            "telemetry_roundtrip",
            &["loki: t", "prometheus: t", "selector: 'job=\"app\"'", "job: backend"],
        );
        rejects_at(&text, FIELD_LINE + 2, value_column("selector"), "is not a LogQL stream selector", None);
    }

    #[test]
    fn within_must_fit_in_the_checks_own_timeout() {
        // `timeout` is a common field: it sits after `target`, on the first field line.
        let text = one_check("telemetry_roundtrip", &with("timeout: 30s"));
        rejects_at(
            &text,
            FIELD_LINE,
            value_column("timeout"),
            "timeout 30s leaves no room for `within` 60s",
            Some("timeout: 62s"),
        );
        loads(&one_check("telemetry_roundtrip", &with("timeout: 62s")));
        let mut fields = with("timeout: 12s");
        fields.push("within: 10s");
        loads(&one_check("telemetry_roundtrip", &fields));
    }
}
