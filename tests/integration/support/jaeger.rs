//! A fixture Jaeger query service and OpenTelemetry Collector health
//! endpoint, following `reference/pipeline-apis.md` §4: every `/api/*` body
//! is `{"data":…,"total":N,"limit":0,"offset":0,"errors":null}`; errors use
//! the same envelope with `data: null`; the collector's health answers
//! `{"status":"Server available",…}` or 503 `Server not available`.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, Response};
use serde_json::json;

use super::{respond, spawn};

/// What the fixture serves.
#[derive(Clone, Default)]
pub struct Jaeger {
    pub services: Vec<String>,
    /// `/api/traces` finds one trace of any listed service.
    pub has_traces: bool,
    /// `/api/*` answers an HTML page (a proxy's login, say).
    pub html: bool,
    /// The collector health endpoint is unavailable (503).
    pub collector_down: bool,
}

fn envelope(data: serde_json::Value, total: usize) -> String {
    json!({"data": data, "total": total, "limit": 0, "offset": 0, "errors": null}).to_string()
}

async fn handle(req: Request<Body>, j: Arc<Jaeger>) -> Response<Body> {
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or_default().to_string();
    if j.html && path.starts_with("/api/") {
        return respond(
            200,
            "text/html; charset=utf-8",
            "<!doctype html><html><body>Sign in</body></html>",
        );
    }
    match path.as_str() {
        "/api/services" => respond(200, "application/json", &envelope(json!(j.services), j.services.len())),
        "/api/traces" => {
            let service = url::form_urlencoded::parse(query.as_bytes())
                .find(|(k, _)| k == "service")
                .map(|(_, v)| v.into_owned());
            let Some(service) = service else {
                let body = json!({"data": null, "total": 0, "limit": 0, "offset": 0,
                                  "errors": [{"code": 400, "msg": "parameter 'service' is required"}]});
                return respond(400, "application/json", &body.to_string());
            };
            let traces = if j.has_traces && j.services.contains(&service) {
                vec![
                    json!({"traceID": "4bf92f3577b34da6a3ce929d0e0e4736", "spans": [], "processes": {"p1": {"serviceName": service, "tags": []}}, "warnings": null}),
                ]
            } else {
                Vec::new()
            };
            let n = traces.len();
            respond(200, "application/json", &envelope(json!(traces), n))
        }
        "/" if j.collector_down => respond(
            503,
            "application/json",
            r#"{"status":"Server not available","upSince":"0001-01-01T00:00:00Z","uptime":""}"#,
        ),
        "/" => respond(
            200,
            "application/json",
            r#"{"status":"Server available","upSince":"2026-12-01T19:00:00Z","uptime":"1h2m3.4s"}"#,
        ),
        _ => respond(404, "text/plain", "404 page not found\n"),
    }
}

impl Jaeger {
    /// Serves the fixture; the sender stops it when dropped.
    pub fn start(self) -> (String, tokio::sync::oneshot::Sender<()>) {
        let j = Arc::new(self);
        spawn(move |req| handle(req, Arc::clone(&j)))
    }
}
