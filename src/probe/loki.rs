//! `loki`: Loki is ready, its *effective* retention is long enough, and
//! application logs are arriving.
//!
//! Effective retention is what Loki actually deletes, read from the running
//! `/config`: `limits_config.retention_period` counts only when
//! `compactor.retention_enabled` is true; the legacy table manager only with
//! `retention_deletes_enabled`; `0s` keeps logs forever. A period that is set
//! but not enforced passes (nothing is deleted) with a warning, because the
//! configuration says something it does not do.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;
#[cfg(test)]
use serde_json::json;

use super::blocking::off_runtime;
use super::registry::Kind;
use super::{Outcome, ProbeContext, Status};
use crate::gate::fields::{FieldDef, FieldType as T, SpecCx};
use crate::duration;
use crate::http::{Auth, JSON_CAP, Response, join_url};

/// What Loki's configuration actually enforces.
#[derive(Debug, Clone, PartialEq)]
pub struct Retention {
    /// `None`: logs are kept forever.
    pub effective: Option<Duration>,
    /// Which setting decides it.
    pub source: String,
    pub warnings: Vec<String>,
}

fn get<'a>(cfg: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(cfg, |v, k| v.get(*k))
}

fn as_bool(v: Option<&Value>) -> bool {
    match v {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

fn as_duration(v: Option<&Value>, what: &str) -> Result<Duration, String> {
    match v {
        None | Some(Value::Null) => Ok(Duration::ZERO),
        Some(Value::Number(n)) if n.as_f64() == Some(0.0) => Ok(Duration::ZERO),
        Some(Value::String(s)) => duration::parse(s).map_err(|e| format!("{what}: {e}")),
        Some(other) => Err(format!("{what} is {other}, not a duration")),
    }
}

/// Works out the retention Loki enforces from its `/config`.
pub fn effective_retention(cfg: &Value) -> Result<Retention, String> {
    let global = as_duration(
        get(cfg, &["limits_config", "retention_period"]),
        "limits_config.retention_period",
    )?;
    let compactor_on = as_bool(get(cfg, &["compactor", "retention_enabled"]));
    let tm_on = as_bool(get(cfg, &["table_manager", "retention_deletes_enabled"]));
    let tm_period = as_duration(
        get(cfg, &["table_manager", "retention_period"]),
        "table_manager.retention_period",
    )?;
    let mut warnings = Vec::new();

    if compactor_on {
        if let Some(streams) = get(cfg, &["limits_config", "retention_stream"]).and_then(Value::as_array) {
            for s in streams {
                let sel = s.get("selector").and_then(Value::as_str).unwrap_or("?");
                if let Ok(p) = as_duration(s.get("period"), "retention_stream.period")
                    && !p.is_zero()
                    && (global.is_zero() || p < global)
                {
                    warnings.push(format!(
                        "retention_stream keeps streams matching {sel} for only {}",
                        duration::format(p)
                    ));
                }
            }
        }
        let store = get(cfg, &["compactor", "delete_request_store"])
            .and_then(Value::as_str)
            .unwrap_or("");
        if store.is_empty() {
            warnings.push("compactor.retention_enabled is true but delete_request_store is empty (Loki 3 refuses to start that way)".into());
        }
        return Ok(Retention {
            effective: (!global.is_zero()).then_some(global),
            source: if global.is_zero() {
                "compactor retention enabled, limits_config.retention_period 0s (keep forever)".into()
            } else {
                format!(
                    "compactor retention, limits_config.retention_period {}",
                    duration::format(global)
                )
            },
            warnings,
        });
    }
    if tm_on && !tm_period.is_zero() {
        return Ok(Retention {
            effective: Some(tm_period),
            source: format!(
                "table_manager retention_deletes_enabled, retention_period {}",
                duration::format(tm_period)
            ),
            warnings,
        });
    }
    if !global.is_zero() {
        warnings.push(format!(
            "limits_config.retention_period is {} but compactor.retention_enabled is false: it is not enforced and logs are kept forever",
            duration::format(global)
        ));
    }
    if !tm_period.is_zero() && !tm_on {
        warnings.push(format!(
            "table_manager.retention_period is {} but retention_deletes_enabled is false: it is not enforced",
            duration::format(tm_period)
        ));
    }
    Ok(Retention {
        effective: None,
        source: "no retention enforced (logs are kept forever)".into(),
        warnings,
    })
}

/// Explains Loki's `/ready` 503 texts.
fn explain_not_ready(body: &str) -> &'static str {
    if body.contains("waiting for") {
        "the ingester is warming up after start (typically the first ~15 s)"
    } else if body.contains("Some services are not Running") {
        "some Loki modules have not started; read Loki's log for the failing module"
    } else if body.contains("Application is stopping") {
        "Loki is shutting down"
    } else {
        "Loki reports itself not ready"
    }
}

/// Now, in the nanoseconds Loki's timestamps use.
pub(super) fn now_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

fn text(resp: &Response) -> String {
    String::from_utf8_lossy(&resp.body[..resp.body.len().min(300)])
        .trim()
        .to_string()
}

#[derive(Debug, Clone)]
pub struct LokiSpec {
    pub min_retention: Duration,
    /// LogQL stream selector whose logs must be arriving; empty skips that part.
    pub selector: String,
    pub logs_window: Duration,
    /// Sent as `X-Scope-OrgID` when non-empty.
    pub tenant: String,
    /// The variable the tenant comes from (`LOKI_TENANT`), for hints.
    pub tenant_var: Option<String>,
}

impl Kind for LokiSpec {
    const NAME: &'static str = "loki";
    const FIELDS: &'static [FieldDef] = &[
        FieldDef::new("min_retention", T::PromDuration, "Minimum effective retention (default `7d`).", "7d"),
        FieldDef::new("selector", T::Str, "LogQL stream selector whose logs must be arriving (empty: not checked).", "'{job=\"medianest-app\"}'"),
        FieldDef::new("logs_window", T::PromDuration, "How recent the logs must be (default `1h`).", "1h"),
        FieldDef::new("tenant", T::Str, "Tenant sent as `X-Scope-OrgID` (empty: none).", "medianest"),
    ];

    fn load(f: &mut SpecCx<'_, '_>) -> Self {
        let (_, min_retention) = f.prom_duration("min_retention", "7d");
        let selector = match f.string("selector") {
            Some((s, loc)) => {
                if !s.is_empty() && !s.trim_start().starts_with('{') {
                    f.err(
                        loc,
                        format!("`{s}` is not a LogQL stream selector"),
                        Some("write e.g. `selector: '{job=\"medianest-app\"}'`".to_string()),
                    );
                }
                s
            }
            None => String::new(),
        };
        let (_, logs_window) = f.prom_duration("logs_window", "1h");
        let (tenant, tenant_var) = match f.string_with_vars("tenant") {
            Some((t, _, vars)) => (t, vars.into_iter().next()),
            None => (String::new(), None),
        };
        LokiSpec {
            min_retention,
            selector,
            logs_window,
            tenant,
            tenant_var,
        }
    }

    async fn probe(&self, cx: &ProbeContext<'_>) -> Outcome {
        self.run(cx).await
    }
}

/// A retention shorter than required: a finding that does not stop the
/// log check, merged into its outcome.
struct Short {
    message: String,
    cause: String,
    remediation: String,
    /// `/config`, where the retention can be read.
    reproduce: String,
}

impl Short {
    fn merge(self, mut o: Outcome, key: String) -> Outcome {
        let logs_failed = o.status != Status::Pass;
        o.message = if logs_failed {
            format!("{}; {}", self.message, o.message)
        } else {
            self.message
        };
        if o.status != Status::Error {
            o.status = Status::Fail;
        }
        o.remediation = Some(match o.remediation.take().filter(|_| logs_failed) {
            Some(other) => format!("{}; and {other}", self.remediation),
            None => self.remediation,
        });
        o = o.cause(key, self.cause);
        o.reproduce = Some(self.reproduce);
        o
    }
}

impl LokiSpec {
    /// The log query by hand; a tenant read from `${VAR}` stays a variable
    /// the person's shell expands.
    fn query_curl(&self, cx: &ProbeContext<'_>, tenant: &str) -> String {
        use crate::shell::{Word, join_words};
        let mut argv: Vec<Word> = vec!["curl".into(), "-sG".into(), join_url(cx.base_url(), "/loki/api/v1/query_range").into()];
        if !tenant.is_empty() {
            argv.push("-H".into());
            argv.push(match &self.tenant_var {
                Some(var) => Word::literal("X-Scope-OrgID: ").var(var),
                None => Word::literal(&format!("X-Scope-OrgID: {tenant}")),
            });
        }
        for arg in ["--data-urlencode", &format!("query={}", self.selector), "--data-urlencode", "limit=10"] {
            argv.push(arg.to_string().into());
        }
        join_words(&argv)
    }

    async fn run(&self, cx: &ProbeContext<'_>) -> Outcome {
        let target = cx.target_name().to_string();
        let key = format!("check:{}", cx.check.id);
        let tenant = self.tenant.trim();
        let headers = tenant_headers(tenant);
        let ready_url = join_url(cx.base_url(), "/ready");
        let config_url = join_url(cx.base_url(), "/config");
        let end = now_ns();
        let start = end.saturating_sub(self.logs_window.as_nanos());
        let query_url = query_range_url(cx.base_url(), &self.selector, start, end, 10);
        let want_logs = !self.selector.is_empty();
        let (ready, config, logs) = tokio::join!(
            cx.http.get(&ready_url, Auth::None, &headers, JSON_CAP, cx.deadline),
            cx.http.get(&config_url, Auth::None, &headers, JSON_CAP, cx.deadline),
            async {
                if want_logs {
                    Some(
                        cx.http
                            .get(&query_url, Auth::None, &headers, JSON_CAP, cx.deadline)
                            .await,
                    )
                } else {
                    None
                }
            }
        );
        let mut o = Outcome::pass(String::new())
            .expected("min_retention", duration::format(self.min_retention))
            .expected("logs_window", duration::format(self.logs_window))
            .reproduce(self.query_curl(cx, tenant));

        // 1. Ready?
        let ready = match ready {
            Ok(r) => r,
            Err(e) => return cx.transport_failure(&ready_url, &e),
        };
        o = o.evidence("ready_status", ready.status.as_u16());
        if !ready.status.is_success() {
            let body = text(&ready);
            let why = explain_not_ready(&body);
            o.status = Status::Fail;
            o.message = format!("Loki is not ready ({}): {body}", ready.status_line());
            return o
                .evidence("ready_body", body)
                .cause(format!("unready:{target}"), format!("Loki (`{target}`) is not ready: {why}"))
                .remediation("wait for /ready to answer 200 (`--wait` re-runs the gate), or read Loki's log for the module that fails");
        }

        // 2. Effective retention from the running config.
        let config = match config {
            Ok(r) => r,
            Err(e) => return cx.transport_failure(&config_url, &e),
        };
        let cfg: Value = if config.status.is_success() && !config.looks_like_html() {
            // Off the runtime thread: a config of megabytes takes long enough
            // to parse that other checks' timers would wait for it.
            let body = config.body.clone();
            let parsed = off_runtime(move || {
                std::str::from_utf8(&body)
                    .map_err(|e| e.to_string())
                    .and_then(|t| serde_saphyr::from_str::<Value>(t).map_err(|e| e.without_snippet().to_string()))
            })
            .await;
            let parsed = match parsed {
                Ok(parsed) => parsed,
                Err(e) => {
                    o.status = Status::Error;
                    o.message = e.to_string();
                    return o
                        .cause(format!("panic:{}", cx.check.id), "the `loki` probe crashed")
                        .remediation("report this bug with the check's definition and `-v` output");
                }
            };
            match parsed {
                Ok(v) if v.is_object() => v,
                Ok(_) => Value::Null,
                Err(e) => {
                    o.status = Status::Error;
                    o.message = format!("Loki's /config is not YAML: {}", e.lines().next().unwrap_or_default());
                    return o
                        .evidence("config_excerpt", config.excerpt(200))
                        .cause(
                            format!("api:{target}"),
                            format!("`{target}` does not serve Loki's /config"),
                        )
                        .remediation(
                            "point LOKI_URL at Loki itself (port 3100), not a proxy or gateway that hides /config",
                        );
                }
            }
        } else {
            Value::Null
        };
        if !cfg.is_object() {
            o.status = Status::Error;
            o.message = format!(
                "Loki's /config answered {} without a YAML configuration",
                config.status_line()
            );
            return o
                .evidence("config_excerpt", config.excerpt(200))
                .cause(
                    format!("api:{target}"),
                    format!("`{target}` does not serve Loki's /config"),
                )
                .remediation("point LOKI_URL at Loki itself (port 3100), not a proxy or gateway that hides /config");
        }
        let retention = match effective_retention(&cfg) {
            Ok(r) => r,
            Err(e) => {
                o.status = Status::Error;
                o.message = format!("cannot read Loki's retention settings: {e}");
                return o
                    .cause(key, format!("Loki's retention settings are unreadable: {e}"))
                    .remediation("check limits_config and compactor in Loki's config");
            }
        };
        o.warnings.extend(retention.warnings.iter().cloned());
        o = o
            .evidence(
                "retention_effective",
                retention
                    .effective
                    .map(duration::format)
                    .unwrap_or_else(|| "forever".into()),
            )
            .evidence("retention_source", retention.source.clone());
        // Short retention is one finding; the log query still runs, so the
        // report lists every problem at once.
        let short = retention.effective.filter(|eff| *eff < self.min_retention).map(|eff| Short {
            message: format!(
                "effective log retention is {}, shorter than the required {} ({})",
                duration::format(eff),
                duration::format(self.min_retention),
                retention.source
            ),
            cause: format!(
                "Loki deletes logs after {} (required ≥ {})",
                duration::format(eff),
                duration::format(self.min_retention)
            ),
            remediation: format!(
                "set `limits_config.retention_period: {}` (with `compactor.retention_enabled: true` and `delete_request_store` set) and restart Loki",
                duration::format(self.min_retention.max(Duration::from_secs(7 * 86_400)))
            ),
            reproduce: cx.curl(&config_url, None),
        });
        let o = self.judge_logs(cx, o, logs, &query_url, &retention, end);
        match short {
            Some(short) => short.merge(o, key),
            None => o,
        }
    }

    /// Step 3: are application logs arriving?
    fn judge_logs(
        &self,
        cx: &ProbeContext<'_>,
        mut o: Outcome,
        logs: Option<Result<Response, crate::http::FetchError>>,
        query_url: &str,
        retention: &Retention,
        end: u128,
    ) -> Outcome {
        let key = format!("check:{}", cx.check.id);
        // 3. Logs arriving?
        let Some(logs) = logs else {
            o.message = format!(
                "ready; effective retention {}",
                retention
                    .effective
                    .map(duration::format)
                    .unwrap_or_else(|| "forever".into())
            );
            return o;
        };
        let doc = match read_streams(cx, logs, query_url, &self.selector, self.tenant_var.as_deref()) {
            Ok(doc) => doc,
            Err(LogQueryError::Transport(e)) => return *e,
            Err(LogQueryError::Answer(e)) => {
                let e = *e;
                // Keep what the earlier steps found beside the query's failure.
                o.status = e.status;
                o.message = e.message;
                o.cause = e.cause;
                o.remediation = e.remediation;
                o.evidence.extend(e.evidence);
                return o;
            }
        };
        let (lines, newest) = count_lines(&doc);
        o = o.evidence("log_lines_found", lines);
        if lines == 0 {
            o.status = Status::Fail;
            o.message = format!(
                "no log lines for {} in the last {}",
                self.selector,
                duration::format(self.logs_window)
            );
            return o.cause(key, format!("no application logs reach Loki for {}", self.selector)).remediation(
                "check Promtail: its scrape config must match the app's containers and label them as the selector expects, and it must reach Loki (`docker logs promtail`)",
            );
        }
        if let Some(ns) = newest {
            let age = end.saturating_sub(ns) / 1_000_000_000;
            o = o.evidence("newest_line_age_s", age as u64);
        }
        o.message = format!(
            "ready; effective retention {}; {lines} recent log line(s) for {}",
            retention
                .effective
                .map(duration::format)
                .unwrap_or_else(|| "forever".into()),
            self.selector
        );
        o
    }
}

/// The `X-Scope-OrgID` header for a non-empty tenant.
pub(super) fn tenant_headers(tenant: &str) -> Vec<(&'static str, &str)> {
    if tenant.is_empty() {
        vec![]
    } else {
        vec![("X-Scope-OrgID", tenant)]
    }
}

/// A `query_range` URL for a log `query` over `[start, end]` (ns), newest first.
pub(super) fn query_range_url(base: &str, query: &str, start: u128, end: u128, limit: usize) -> String {
    let base = join_url(base, "/loki/api/v1/query_range");
    let mut u = url::Url::parse(&base).unwrap_or_else(|_| url::Url::parse("http://invalid/").expect("static URL parses"));
    u.query_pairs_mut()
        .append_pair("query", query)
        .append_pair("start", &start.to_string())
        .append_pair("end", &end.to_string())
        .append_pair("limit", &limit.to_string())
        .append_pair("direction", "backward");
    u.to_string()
}

/// Why a log query gave no streams to read (boxed: an outcome is large and
/// the happy path should not carry its size).
pub(super) enum LogQueryError {
    /// No usable answer at all (refused, timeout, …): the whole outcome.
    Transport(Box<Outcome>),
    /// Loki answered, but not with results: status, message, cause,
    /// remediation and evidence for the caller to keep.
    Answer(Box<Outcome>),
}

/// Reads a `query_range` answer: the parsed document, or why there is none.
/// `query` is named in messages; `tenant_var` is the variable the tenant
/// comes from, for the multi-tenancy hint.
pub(super) fn read_streams(
    cx: &ProbeContext<'_>,
    resp: Result<Response, crate::http::FetchError>,
    url: &str,
    query: &str,
    tenant_var: Option<&str>,
) -> Result<Value, LogQueryError> {
    let key = format!("check:{}", cx.check.id);
    let target = cx.target_name();
    let resp = resp.map_err(|e| LogQueryError::Transport(Box::new(cx.transport_failure(url, &e))))?;
    if resp.status.as_u16() == 401 {
        let body = text(&resp);
        return Err(LogQueryError::Answer(Box::new(
            Outcome::fail(format!("Loki refused the log query: 401 {body}"))
                .cause(
                    key,
                    "Loki runs multi-tenant and the query carried no (or a wrong) tenant".to_string(),
                )
                .remediation(format!(
                    "set {} to the tenant the log shipper (Promtail) pushes as; it is sent as X-Scope-OrgID",
                    match tenant_var {
                        Some(var) => format!("`{var}`"),
                        None => "the check's `tenant`".to_string(),
                    }
                )),
        )));
    }
    if !resp.status.is_success() {
        let body = text(&resp);
        let status = if resp.status.as_u16() == 400 {
            Status::Fail
        } else {
            Status::Error
        };
        return Err(LogQueryError::Answer(Box::new(
            Outcome::new(status, format!("Loki rejected the log query ({}): {body}", resp.status_line()))
                .evidence("query_error", body.clone())
                .cause(key, format!("Loki rejects `{query}`: {body}"))
                .remediation("fix the check's LogQL `selector`, e.g. `{job=\"medianest-app\"}`"),
        )));
    }
    serde_json::from_slice(&resp.body).map_err(|e| {
        LogQueryError::Answer(Box::new(
            Outcome::error(format!("Loki's query_range answered invalid JSON ({e})"))
                .cause(
                    format!("api:{target}"),
                    "Loki's query API answered invalid JSON".to_string(),
                )
                .remediation(format!("point {} at Loki itself", cx.target_setting())),
        ))
    })
}

/// Every entry of a streams result: its timestamp (ns, when readable) and line.
pub(super) fn stream_entries(doc: &Value) -> impl Iterator<Item = (Option<u128>, &str)> {
    doc.pointer("/data/result")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .flat_map(|stream| stream.get("values").and_then(Value::as_array).into_iter().flatten())
        .map(|entry| {
            let ts = entry
                .get(0)
                .and_then(Value::as_str)
                .and_then(|s| s.parse::<u128>().ok());
            (ts, entry.get(1).and_then(Value::as_str).unwrap_or_default())
        })
}

/// Lines in a streams result, and the newest timestamp (ns).
fn count_lines(doc: &Value) -> (usize, Option<u128>) {
    let mut n = 0;
    let mut newest: Option<u128> = None;
    for (ts, _) in stream_entries(doc) {
        n += 1;
        if let Some(ts) = ts {
            newest = Some(newest.map_or(ts, |x| x.max(ts)));
        }
    }
    (n, newest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(yaml: &str) -> Value {
        serde_saphyr::from_str(yaml).expect("test YAML parses")
    }

    const DAY: u64 = 86_400;

    #[test]
    fn compactor_retention_is_enforced() {
        let r = effective_retention(&cfg(
            "limits_config:\n  retention_period: 30d\ncompactor:\n  retention_enabled: true\n  delete_request_store: filesystem\n",
        ))
        .unwrap();
        assert_eq!(r.effective, Some(Duration::from_secs(30 * DAY)));
        assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    }

    #[test]
    fn retention_period_without_compactor_is_not_enforced() {
        let r = effective_retention(&cfg(
            "limits_config:\n  retention_period: 3d\ncompactor:\n  retention_enabled: false\n",
        ))
        .unwrap();
        assert_eq!(r.effective, None);
        assert!(r.warnings[0].contains("not enforced"), "{:?}", r.warnings);
    }

    #[test]
    fn zero_means_forever_even_when_enabled() {
        let r = effective_retention(&cfg("limits_config:\n  retention_period: 0s\ncompactor:\n  retention_enabled: true\n  delete_request_store: s3\n")).unwrap();
        assert_eq!(r.effective, None);
    }

    #[test]
    fn durations_compare_as_durations() {
        let a = effective_retention(&cfg("limits_config:\n  retention_period: 720h\ncompactor:\n  retention_enabled: true\n  delete_request_store: x\n")).unwrap();
        let b = effective_retention(&cfg("limits_config:\n  retention_period: 4w2d\ncompactor:\n  retention_enabled: true\n  delete_request_store: x\n")).unwrap();
        assert_eq!(a.effective, b.effective);
        let w = effective_retention(&cfg("limits_config:\n  retention_period: 1w\ncompactor:\n  retention_enabled: true\n  delete_request_store: x\n")).unwrap();
        assert_eq!(w.effective, Some(Duration::from_secs(7 * DAY)));
    }

    #[test]
    fn table_manager_needs_deletes_enabled() {
        let on = effective_retention(&cfg(
            "table_manager:\n  retention_deletes_enabled: true\n  retention_period: 2w\n",
        ))
        .unwrap();
        assert_eq!(on.effective, Some(Duration::from_secs(14 * DAY)));
        let off = effective_retention(&cfg(
            "table_manager:\n  retention_deletes_enabled: false\n  retention_period: 2w\n",
        ))
        .unwrap();
        assert_eq!(off.effective, None);
        assert!(!off.warnings.is_empty());
    }

    #[test]
    fn shorter_stream_retention_warns() {
        let r = effective_retention(&cfg(
            "limits_config:\n  retention_period: 30d\n  retention_stream:\n    - selector: '{level=\"debug\"}'\n      priority: 1\n      period: 1d\ncompactor:\n  retention_enabled: true\n  delete_request_store: x\n",
        ))
        .unwrap();
        assert!(
            r.warnings
                .iter()
                .any(|w| w.contains("{level=\"debug\"}") && w.contains("1d")),
            "{:?}",
            r.warnings
        );
    }

    #[test]
    fn enabled_without_delete_store_warns() {
        let r = effective_retention(&cfg(
            "limits_config:\n  retention_period: 30d\ncompactor:\n  retention_enabled: true\n",
        ))
        .unwrap();
        assert!(r.warnings.iter().any(|w| w.contains("delete_request_store")));
    }

    #[test]
    fn garbage_durations_are_errors() {
        assert!(effective_retention(&cfg("limits_config:\n  retention_period: soon\n")).is_err());
        assert!(effective_retention(&cfg("limits_config:\n  retention_period: [1]\n")).is_err());
    }

    #[test]
    fn lines_and_newest_timestamp_are_counted() {
        let doc = json!({"status":"success","data":{"resultType":"streams","result":[
            {"stream":{"job":"app"},"values":[["1731600001000000000","b"],["1731600000000000000","a"]]},
            {"stream":{"job":"app","level":"error"},"values":[["1731600002000000000","c"]]}]}});
        assert_eq!(count_lines(&doc), (3, Some(1_731_600_002_000_000_000)));
        assert_eq!(
            count_lines(&json!({"status":"success","data":{"result":[]}})),
            (0, None)
        );
    }

    #[test]
    fn not_ready_texts_are_explained() {
        assert!(explain_not_ready("Ingester not ready: waiting for 15s after being ready").contains("warming up"));
        assert!(explain_not_ready("Some services are not Running:\nStarting: 1\n").contains("modules"));
    }
}

#[cfg(test)]
mod load_tests {
    //! The kind's loader messages, each with its location.
    use crate::gate::testing::*;

    #[test]
    fn loki_fields_are_validated_where_written() {
        field_rejected("loki", "selector: 'job=\"app\"'", "is not a LogQL stream selector", Some("selector: '{job"));
        field_rejected("loki", "min_retention: 7days", "invalid min_retention", None);
        field_rejected("loki", "min_retention: 200y", "min_retention `200y` is longer than 100 years", None);
        field_rejected("loki", "logs_window: 0", "logs_window must be greater than zero", None);
    }
}
