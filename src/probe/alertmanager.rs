//! `alertmanager`: Alertmanager is ready, its configuration is loaded
//! (`/api/v2/status`, cluster status shown), the expected receivers exist
//! (`/api/v2/receivers`), and optionally a Prometheus target lists it as an
//! active Alertmanager (`/api/v1/alertmanagers`) without rising
//! notification errors.
//!
//! Also the Alertmanager API helpers `alert_delivery` shares: every failure
//! of the API is an [`Outcome`] keyed on the Alertmanager target, so all
//! checks against an unusable Alertmanager share one root cause.

use serde_json::{Value, json};

use super::prometheus_api::{QueryResult, get_data, query};
use super::registry::Kind;
use super::{Outcome, ProbeContext, Status};
use crate::gate::fields::{FieldDef, FieldType as T, SpecCx};
use crate::http::{Auth, FetchError, JSON_CAP, Response, join_url};

#[derive(Debug, Clone)]
pub struct AlertmanagerSpec {
    pub expect_receivers: Vec<String>,
    /// A Prometheus target that must send to this Alertmanager.
    pub prometheus: Option<String>,
    /// The window over which Prometheus' notification errors must not grow.
    pub errors_window: String,
}

impl Kind for AlertmanagerSpec {
    const NAME: &'static str = "alertmanager";
    const FIELDS: &'static [FieldDef] = &[
        FieldDef::new("expect_receivers", T::StrList, "Receivers that must be configured (`/api/v2/receivers`).", "[default, oncall]"),
        FieldDef::new("prometheus", T::TargetRef, "A Prometheus target that must list this Alertmanager as active and send to it without rising errors.", "prometheus"),
        FieldDef::new("errors_window", T::PromDuration, "Window in which Prometheus' notification errors must not grow (default 5m; needs Prometheus to scrape itself).", "5m"),
    ];

    fn load(f: &mut SpecCx<'_, '_>) -> Self {
        let expect_receivers = match f.list("expect_receivers") {
            Some(r) if r.get().is_empty() => {
                f.err(
                    r.loc(),
                    "`expect_receivers` is empty",
                    Some("list receiver names, e.g. `expect_receivers: [default]`, or leave the field out".to_string()),
                );
                Vec::new()
            }
            Some(r) => r.into_inner().into_iter().map(|(s, _)| s).collect(),
            None => Vec::new(),
        };
        let prometheus = f.target("prometheus");
        let (errors_window, _) = f.prom_duration("errors_window", "5m");
        AlertmanagerSpec {
            expect_receivers,
            prometheus,
            errors_window,
        }
    }

    async fn probe(&self, cx: &ProbeContext<'_>) -> Outcome {
        self.run(cx).await
    }

    fn reproduce(&self, cx: &ProbeContext<'_>) -> String {
        cx.curl(&join_url(cx.base_url(), "/api/v2/status"), None)
    }
}

impl AlertmanagerSpec {
    async fn run(&self, cx: &ProbeContext<'_>) -> Outcome {
        if let Err(o) = ready(cx).await {
            return o;
        }
        let (status, _) = match get_json(cx, "/api/v2/status").await {
            Ok(v) => v,
            Err(o) => return o,
        };
        let cluster = status
            .pointer("/cluster/status")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let version = status
            .pointer("/versionInfo/version")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let config_loaded = status
            .pointer("/config/original")
            .and_then(Value::as_str)
            .is_some_and(|c| !c.trim().is_empty());
        let key = format!("check:{}", cx.check.id);
        let base = Outcome::pass(String::new())
            .evidence("cluster_status", cluster.clone())
            .evidence("version", version.clone())
            .evidence("config_loaded", config_loaded);
        if !config_loaded {
            let msg = "Alertmanager reports no loaded configuration (`config.original` is empty)".to_string();
            return with(base, Status::Error, msg.clone())
                .cause(format!("api:{}", cx.target_name()), msg)
                .remediation("check Alertmanager's log for a configuration error and fix `alertmanager.yml`");
        }
        // 0.25 answers /-/ready with 200 while a cluster is still settling (§1.2):
        // its state may still change, so judge it later.
        if cluster == "settling" {
            let msg = "Alertmanager's cluster is still settling".to_string();
            return with(base, Status::Error, msg.clone())
                .cause(key, msg)
                .remediation("wait a few seconds for the cluster to turn `ready`, or re-run with `--wait`");
        }
        if !matches!(cluster.as_str(), "ready" | "disabled") {
            let msg = format!("Alertmanager's cluster status is `{cluster}`, not `ready` or `disabled`");
            return with(base, Status::Error, msg.clone())
                .cause(key, msg)
                .remediation("check the Alertmanager peers (`--cluster.peer`) and its log");
        }

        let (receivers, _) = match get_json(cx, "/api/v2/receivers").await {
            Ok(v) => v,
            Err(o) => return o,
        };
        let Some(list) = receivers.as_array() else {
            return not_the_api(cx, "/api/v2/receivers", "answered JSON that is not a list of receivers");
        };
        let names: Vec<&str> = list
            .iter()
            .filter_map(|r| r.get("name").and_then(Value::as_str))
            .collect();
        let missing: Vec<&str> = self
            .expect_receivers
            .iter()
            .map(String::as_str)
            .filter(|n| !names.contains(n))
            .collect();
        let base = base
            .evidence("receivers", json!(names))
            .expected("receivers", json!(self.expect_receivers));
        if !missing.is_empty() {
            let msg = format!(
                "receiver(s) not configured in Alertmanager: {} (configured: {})",
                missing.join(", "),
                if names.is_empty() { "none".to_string() } else { names.join(", ") }
            );
            return with(base, Status::Fail, msg.clone()).cause(key, msg).remediation(
                "add the receivers under `receivers:` in alertmanager.yml (and route to them), then reload Alertmanager (`amtool check-config` validates the file)",
            );
        }

        let mut o = base;
        o.message = format!(
            "Alertmanager {version} ready (cluster {cluster}), {} receiver(s) configured",
            names.len()
        );
        if let Some(prom) = &self.prometheus {
            o = self.judge_prometheus(cx, prom, o).await;
        }
        o
    }

    /// Does Prometheus `prom` send to this Alertmanager, without rising errors?
    async fn judge_prometheus(&self, cx: &ProbeContext<'_>, prom: &str, o: Outcome) -> Outcome {
        let Some(target) = cx.gate.targets.get(prom) else {
            // The loader resolved the name; a missing target is a bug, reported as one check's error.
            return with(o, Status::Error, format!("target `{prom}` is not in the gate"));
        };
        let pcx = ProbeContext {
            http: cx.http,
            gate: cx.gate,
            check: cx.check,
            target: Some(target),
            timeout: cx.timeout,
            deadline: cx.deadline,
        };
        let data = match get_data(&pcx, "/api/v1/alertmanagers", &[]).await {
            Ok(d) => d,
            Err(e) => return e,
        };
        let urls = |k: &str| -> Vec<String> {
            data.get(k)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|a| a.get("url").and_then(Value::as_str))
                .map(str::to_string)
                .collect()
        };
        let active = urls("activeAlertmanagers");
        let dropped = urls("droppedAlertmanagers");
        let me = authority(cx.base_url());
        let ours = active.iter().find(|u| authority(u) == me).cloned();
        let key = format!("check:{}", cx.check.id);
        let o = o
            .evidence("prometheus_active_alertmanagers", json!(active))
            .evidence("prometheus_dropped_alertmanagers", json!(dropped));
        let Some(push_url) = ours else {
            let (msg, fix) = if active.is_empty() && dropped.is_empty() {
                (
                    format!("Prometheus (`{prom}`) is not configured to send alerts to any Alertmanager (no `alerting:` section)"),
                    format!(
                        "add `alerting: {{alertmanagers: [{{static_configs: [{{targets: ['{}']}}]}}]}}` to prometheus.yml and reload Prometheus",
                        me.as_deref().unwrap_or("alertmanager:9093")
                    ),
                )
            } else if dropped.iter().any(|u| authority(u) == me) {
                (
                    format!("Prometheus (`{prom}`) drops this Alertmanager through `relabel_configs`: it is not configured to send to it"),
                    "fix the `relabel_configs` of the `alerting:` section in prometheus.yml".to_string(),
                )
            } else {
                (
                    format!(
                        "Prometheus (`{prom}`) is not configured to send to this Alertmanager ({}): it sends to {}",
                        cx.base_url(),
                        if active.is_empty() { "none".to_string() } else { active.join(", ") }
                    ),
                    format!(
                        "point `alerting.alertmanagers` in prometheus.yml at this Alertmanager (set by {}) and reload Prometheus",
                        cx.target_setting()
                    ),
                )
            };
            return with(o, Status::Fail, msg.clone()).cause(key, msg).remediation(fix);
        };
        let o = o.evidence("prometheus_push_url", push_url.clone());
        // The counter is per push URL; `increase` needs Prometheus to scrape
        // its own /metrics, which is common but not certain.
        let promql = format!(
            "sum(increase(prometheus_notifications_errors_total{{alertmanager=\"{}\"}}[{}]))",
            push_url.replace('\\', "\\\\").replace('"', "\\\""),
            self.errors_window
        );
        match query(&pcx, &promql).await {
            Ok(QueryResult::Vector(v)) if v.is_empty() => {
                let mut o = o;
                o.warnings.push(format!(
                    "notification errors not checked: `{promql}` has no data (Prometheus does not scrape its own /metrics)"
                ));
                o.message.push_str(&format!("; Prometheus `{prom}` sends to it"));
                o
            }
            Ok(QueryResult::Vector(v)) => {
                let errors = v.first().map(|(_, x)| *x).unwrap_or(0.0);
                let o = o.evidence("prometheus_notification_errors", errors);
                if !errors.is_finite() || errors < 0.0 {
                    return with(o, Status::Error, format!("`{promql}` gave {errors}, not a count"));
                }
                if errors > 0.0 {
                    let msg = format!(
                        "Prometheus (`{prom}`) sends to this Alertmanager but fails: {errors} notification error(s) in the last {}",
                        self.errors_window
                    );
                    return with(o, Status::Fail, msg.clone()).cause(key, msg).remediation(
                        "read Prometheus' log (`component=notifier msg=\"Error sending alert\"`): the Alertmanager is unreachable from Prometheus or answers an error",
                    );
                }
                let mut o = o;
                o.message
                    .push_str(&format!("; Prometheus `{prom}` sends to it without errors in {}", self.errors_window));
                o
            }
            Ok(other) => with(o, Status::Error, format!("`{promql}` gave {other:?}, not a vector")),
            Err(e) => e,
        }
    }
}

/// `outcome` with another status and message, evidence kept.
fn with(mut outcome: Outcome, status: Status, message: String) -> Outcome {
    outcome.status = status;
    outcome.message = message;
    outcome
}

/// `host:port` of a URL, with the scheme's default port, for comparing the
/// gate's Alertmanager with the push URLs Prometheus lists.
fn authority(url: &str) -> Option<String> {
    let u = url::Url::parse(url).ok()?;
    Some(format!("{}:{}", u.host_str()?, u.port_or_known_default()?))
}

/// A transport failure against Alertmanager: a refused connection says the
/// Alertmanager is down, keyed on the target like every transport failure.
pub(super) fn transport(cx: &ProbeContext<'_>, url: &str, err: &FetchError) -> Outcome {
    let mut o = cx.transport_failure(url, err);
    if let (FetchError::Refused { addr }, Some(c)) = (err, &mut o.cause) {
        c.summary = format!(
            "Alertmanager `{}` ({}) is down: nothing listens on {addr}",
            cx.target_name(),
            cx.base_url()
        );
    }
    o
}

/// Outcome for an answer that is not the Alertmanager API.
fn not_the_api(cx: &ProbeContext<'_>, path: &str, what: &str) -> Outcome {
    let target = cx.target_name();
    let url = join_url(cx.base_url(), path);
    Outcome::error(format!("{url}: {what}"))
        .evidence("url", url)
        .cause(
            format!("api:{target}"),
            format!("target `{target}` ({}) does not answer like the Alertmanager API v2: {what}", cx.base_url()),
        )
        .remediation(format!(
            "point the `{target}` target at Alertmanager itself (e.g. http://alertmanager:9093), not a proxy, login page or another service"
        ))
}

fn not_the_api_resp(cx: &ProbeContext<'_>, path: &str, resp: &Response, what: &str) -> Outcome {
    not_the_api(cx, path, what)
        .evidence("status", resp.status.as_u16())
        .evidence("content_type", resp.content_type().unwrap_or("").to_string())
        .evidence("body_excerpt", resp.excerpt(200))
}

/// Checks `/-/ready`.
pub(super) async fn ready(cx: &ProbeContext<'_>) -> Result<(), Outcome> {
    let url = join_url(cx.base_url(), "/-/ready");
    let resp = cx
        .http
        .get(&url, Auth::None, &[], JSON_CAP, cx.deadline)
        .await
        .map_err(|e| transport(cx, &url, &e))?;
    match resp.status.as_u16() {
        200 if !resp.looks_like_html() => Ok(()),
        _ if resp.looks_like_html() => Err(not_the_api_resp(cx, "/-/ready", &resp, "answered an HTML page on /-/ready")),
        503 => Err(Outcome::error(format!("Alertmanager is not ready: {url} answered 503"))
            .evidence("url", url)
            .cause(
                format!("unready:{}", cx.target_name()),
                format!("Alertmanager (`{}`) is starting up and answers 503", cx.target_name()),
            )
            .remediation("wait for Alertmanager to finish starting, or re-run with `--wait`")),
        _ => Err(not_the_api_resp(
            cx,
            "/-/ready",
            &resp,
            &format!("answered {} on /-/ready", resp.status_line()),
        )),
    }
}

/// GETs an API v2 path (with its query) and parses the JSON answer of a 200.
pub(super) async fn get_json(cx: &ProbeContext<'_>, path_and_query: &str) -> Result<(Value, Response), Outcome> {
    let url = join_url(cx.base_url(), path_and_query);
    let resp = cx
        .http
        .get(&url, Auth::None, &[], JSON_CAP, cx.deadline)
        .await
        .map_err(|e| transport(cx, &url, &e))?;
    // The JSON of a 200 answer; anything else is the Alertmanager API's error.
    let path = path_and_query;
    if resp.looks_like_html() {
        return Err(not_the_api_resp(cx, path, &resp, "answered an HTML page, not JSON"));
    }
    if resp.status.as_u16() != 200 {
        return Err(api_error(cx, path, &resp));
    }
    match serde_json::from_slice(&resp.body) {
        Ok(v) => Ok((v, resp)),
        Err(e) => Err(not_the_api_resp(
            cx,
            path,
            &resp,
            &format!("answered {} with invalid JSON ({e})", resp.status_line()),
        )),
    }
}

/// A non-200 answer: Alertmanager's message is a bare JSON string or
/// `{"code","message"}` (§1.4); a 404 without either is another service.
pub(super) fn api_error(cx: &ProbeContext<'_>, path: &str, resp: &Response) -> Outcome {
    let parsed: Option<Value> = serde_json::from_slice(&resp.body).ok();
    let message = match &parsed {
        Some(Value::String(s)) => Some(s.clone()),
        Some(v) => v.get("message").and_then(Value::as_str).map(str::to_string),
        None => None,
    };
    match message {
        Some(m) => Outcome::error(format!(
            "{}: Alertmanager answered {}: {}",
            join_url(cx.base_url(), path),
            resp.status_line(),
            crate::http::excerpt(m.as_bytes(), 300)
        ))
        .evidence("status", resp.status.as_u16())
        .cause(format!("check:{}", cx.check.id), format!("Alertmanager rejected {path}: {m}"))
        .remediation("see the message; check the Alertmanager version (API v2, 0.16 or later)"),
        None => not_the_api_resp(cx, path, resp, &format!("answered {}", resp.status_line())),
    }
}

#[cfg(test)]
mod tests {
    use super::authority;

    #[test]
    fn authorities_fill_in_default_ports() {
        assert_eq!(authority("http://am:9093").as_deref(), Some("am:9093"));
        assert_eq!(authority("http://am/api/v2/alerts").as_deref(), Some("am:80"));
        assert_eq!(authority("https://am/x").as_deref(), Some("am:443"));
        assert_eq!(authority("not a url"), None);
    }
}

#[cfg(test)]
mod load_tests {
    //! The kind's loader messages, each with its location.
    use crate::gate::testing::*;

    #[test]
    fn alertmanager_fields_are_validated_where_written() {
        let g = loads(&one_check("alertmanager", &[]));
        assert_eq!(g.requirements[0].checks[0].spec.kind(), "alertmanager");
        field_rejected("alertmanager", "expect_receivers: []", "`expect_receivers` is empty", Some("expect_receivers: [default]"));
        field_rejected("alertmanager", "expect_receivers: default", "`expect_receivers` must be a list of strings", None);
        field_rejected("alertmanager", "prometheus: nope", "nope", None);
        field_rejected("alertmanager", "errors_window: soon", "errors_window", None);
    }
}
