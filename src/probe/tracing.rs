//! `tracing`: distributed tracing is reachable and fed. Against Jaeger's
//! query API: `/api/services` lists `service`, and with `lookback` a trace of
//! it exists that recent (`/api/traces`). Against an OpenTelemetry
//! Collector: its `health_check` extension answers "Server available".
//! Shapes follow `reference/pipeline-apis.md` §4.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use super::registry::Kind;
use super::{Outcome, ProbeContext};
use crate::gate::fields::{FieldDef, FieldType as T, SpecCx};
use crate::http::{JSON_CAP, Response, join_url};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Jaeger,
    OtelCollector,
}

#[derive(Debug, Clone)]
pub struct TracingSpec {
    pub backend: Backend,
    /// The service that must be listed (Jaeger).
    pub service: String,
    /// A trace of `service` must be this recent (Jaeger); `None` skips that part.
    pub lookback: Option<Duration>,
    /// The health endpoint's path (OTel Collector).
    pub path: String,
}

impl Kind for TracingSpec {
    const NAME: &'static str = "tracing";
    const FIELDS: &'static [FieldDef] = &[
        FieldDef::new("backend", T::Str, "`jaeger` (the query API, default) or `otel_collector` (its health_check extension).", "jaeger"),
        FieldDef::new("service", T::Str, "The service Jaeger must list (required for `jaeger`).", "medianest-backend"),
        FieldDef::new("lookback", T::PromDuration, "Also require a trace of the service this recent (Jaeger).", "1h"),
        FieldDef::new("path", T::Str, "Path of the collector's health endpoint (default `/`).", "/"),
    ];

    fn load(f: &mut SpecCx<'_, '_>) -> Self {
        let backend = match f.literal("backend") {
            None => Backend::Jaeger,
            Some((b, _)) if b == "jaeger" => Backend::Jaeger,
            Some((b, _)) if b == "otel_collector" => Backend::OtelCollector,
            Some((other, loc)) => {
                f.err(loc, format!("unknown tracing backend `{other}`"), Some("write `jaeger` or `otel_collector`".to_string()));
                Backend::Jaeger
            }
        };
        let service = match backend {
            Backend::Jaeger => f.required_string("service"),
            Backend::OtelCollector => f.string("service").map(|(s, _)| s).unwrap_or_default(),
        };
        let lookback = (!f.is_absent("lookback")).then(|| f.prom_duration("lookback", "1h").1);
        TracingSpec {
            backend,
            service,
            lookback,
            path: f.path("/"),
        }
    }

    async fn probe(&self, cx: &ProbeContext<'_>) -> Outcome {
        match self.backend {
            Backend::Jaeger => self.jaeger(cx).await,
            Backend::OtelCollector => self.collector(cx).await,
        }
    }

    fn reproduce(&self, cx: &ProbeContext<'_>) -> String {
        match self.backend {
            Backend::Jaeger => cx.curl(&join_url(cx.base_url(), "/api/services"), None),
            Backend::OtelCollector => cx.curl(&join_url(cx.base_url(), &self.path), None),
        }
    }
}

/// Jaeger's envelope: `data` on success, `errors` (`[{code, msg}]`) on failure.
fn envelope(resp: &Response) -> Result<Value, String> {
    if resp.looks_like_html() {
        return Err(format!("answered an HTML page ({}), not Jaeger's JSON", resp.status_line()));
    }
    let doc: Value = serde_json::from_slice(&resp.body)
        .map_err(|e| format!("answered {} with a body that is not JSON ({e})", resp.status_line()))?;
    if let Some(errors) = doc.get("errors").and_then(Value::as_array).filter(|e| !e.is_empty()) {
        let msgs: Vec<String> = errors
            .iter()
            .map(|e| {
                format!(
                    "{} {}",
                    e.get("code").and_then(Value::as_i64).unwrap_or(0),
                    e.get("msg").and_then(Value::as_str).unwrap_or("?")
                )
            })
            .collect();
        return Err(format!("answered errors: {}", msgs.join("; ")));
    }
    if !resp.status.is_success() {
        return Err(format!("answered {}", resp.status_line()));
    }
    doc.get("data").cloned().ok_or_else(|| "answered JSON without Jaeger's `data`".to_string())
}

impl TracingSpec {
    async fn jaeger(&self, cx: &ProbeContext<'_>) -> Outcome {
        let key = format!("check:{}", cx.check.id);
        let url = join_url(cx.base_url(), "/api/services");
        let resp = match cx.http.get(&url, None, &[], JSON_CAP, cx.deadline).await {
            Ok(r) => r,
            Err(e) => return cx.transport_failure(&url, &e),
        };
        let services: Vec<String> = match envelope(&resp) {
            Ok(Value::Array(items)) => items.iter().filter_map(|s| s.as_str().map(str::to_string)).collect(),
            Ok(Value::Null) => Vec::new(),
            Ok(_) => return Outcome::error("/api/services: `data` is not a list").cause(key, "Jaeger answered an unexpected shape".to_string()),
            Err(what) => {
                return Outcome::error(format!("/api/services {what}"))
                    .evidence("url", url)
                    .cause(format!("api:{}", cx.target_name()), format!("`{}` does not answer like Jaeger's query API: {what}", cx.target_name()))
                    .remediation(format!("point {} at the Jaeger query service (port 16686)", cx.target_setting()));
            }
        };
        let base = |o: Outcome| o.evidence("services", json!(services)).expected("service", self.service.clone());
        if !services.contains(&self.service) {
            let (msg, fix) = if services.is_empty() {
                (
                    "Jaeger lists no services: nothing has sent it a trace".to_string(),
                    "instrument the backend (OpenTelemetry SDK) and point its exporter at Jaeger or the collector",
                )
            } else {
                (
                    format!("service `{}` is not among Jaeger's services ({})", self.service, services.join(", ")),
                    "check the service name the backend's tracer reports (`OTEL_SERVICE_NAME`) and that its exporter reaches Jaeger",
                )
            };
            return base(Outcome::fail(msg.clone())).cause(key, msg).remediation(fix);
        }
        let Some(lookback) = self.lookback else {
            return base(Outcome::pass(format!("Jaeger lists `{}`", self.service)));
        };
        let now_us = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_micros();
        let start_us = now_us.saturating_sub(lookback.as_micros());
        let traces_url = format!(
            "{}?service={}&limit=1&start={start_us}&end={now_us}",
            join_url(cx.base_url(), "/api/traces"),
            url::form_urlencoded::byte_serialize(self.service.as_bytes()).collect::<String>()
        );
        let resp = match cx.http.get(&traces_url, None, &[], JSON_CAP, cx.deadline).await {
            Ok(r) => r,
            Err(e) => return base(cx.transport_failure(&traces_url, &e)),
        };
        let window = crate::duration::format(lookback);
        match envelope(&resp) {
            Ok(Value::Array(traces)) if !traces.is_empty() => base(Outcome::pass(format!(
                "Jaeger lists `{}`, with a trace in the last {window}",
                self.service
            ))),
            Ok(_) => {
                let msg = format!("no trace of `{}` in the last {window}", self.service);
                base(Outcome::fail(msg.clone()))
                    .cause(key, format!("`{}` sent no trace in the last {window}", self.service))
                    .remediation("traces stopped arriving: check the backend's exporter and the collector's pipeline")
                    .reproduce(cx.curl(&traces_url, None))
            }
            Err(what) => base(Outcome::error(format!("/api/traces {what}")))
                .cause(key, format!("Jaeger cannot search traces: {what}"))
                .reproduce(cx.curl(&traces_url, None)),
        }
    }

    async fn collector(&self, cx: &ProbeContext<'_>) -> Outcome {
        let url = join_url(cx.base_url(), &self.path);
        let resp = match cx.http.get(&url, None, &[], JSON_CAP, cx.deadline).await {
            Ok(r) => r,
            Err(e) => return cx.transport_failure(&url, &e),
        };
        let status = serde_json::from_slice::<Value>(&resp.body)
            .ok()
            .and_then(|v| v.get("status").and_then(Value::as_str).map(str::to_string));
        let shown = status.clone().unwrap_or_else(|| resp.excerpt(80));
        // 204 without a body is what older Jaeger health handlers answer (§4.2).
        match resp.status.as_u16() {
            200 | 204 => Outcome::pass(format!("the collector is healthy ({})", if shown.is_empty() { resp.status_line() } else { shown })),
            503 => Outcome::fail(format!("the collector is not available: {shown}"))
                .cause(format!("check:{}", cx.check.id), "the OpenTelemetry Collector reports itself unavailable".to_string())
                .remediation("read the collector's log: a pipeline failed to start (a receiver port in use, a bad exporter endpoint)"),
            _ => Outcome::error(format!("{} answered {}: {shown}", self.path, resp.status_line()))
                .cause(format!("api:{}", cx.target_name()), format!("`{}` does not answer like the collector's health_check extension", cx.target_name()))
                .remediation("enable `extensions: {health_check: {endpoint: 0.0.0.0:13133}}` and list it under `service.extensions`, and point the target at port 13133"),
        }
    }
}

#[cfg(test)]
mod load_tests {
    //! The kind's loader messages, each with its location.
    use crate::gate::testing::*;

    #[test]
    fn tracing_fields_are_validated_where_written() {
        requires("tracing", &[], "check `c` of kind `tracing` needs `service`");
        field_rejected("tracing", "backend: zipkin", "unknown tracing backend `zipkin`", Some("`jaeger` or `otel_collector`"));
        rejects_at(&one_check("tracing", &["service: s", "lookback: soon"]), FIELD_LINE + 1, 19, "invalid lookback", None);
        // A collector needs no service.
        loads(&one_check("tracing", &["backend: otel_collector"]));
    }
}
