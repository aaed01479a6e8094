//! The advisory parts of the simulated stack: Alertmanager 0.25 (ready,
//! status with its loaded config, receivers) and Jaeger's query API, which
//! lists the backend's service.

use serde_json::json;

use super::serve::{Reply, Req};
use super::{Sim, rfc3339_ago};

const AM_CONFIG: &str = "global:\n  resolve_timeout: 5m\nroute:\n  receiver: web.hook\n  group_by:\n  - alertname\n  \
group_wait: 30s\n  group_interval: 5m\n  repeat_interval: 4h\nreceivers:\n- name: web.hook\n  webhook_configs:\n  \
- send_resolved: true\n    url: http://medianest-oncall:5001/hook\n    max_alerts: 0\ntemplates: []\n";

pub fn alertmanager(_sim: &Sim, req: &Req) -> Reply {
    const JSON: &str = "application/json";
    match req.path.as_str() {
        "/-/ready" | "/-/healthy" => Reply::text(200, "OK"),
        "/api/v2/status" => Reply::json(
            200,
            JSON,
            &json!({
                "cluster": {"peers": [], "status": "disabled"},
                "config": {"original": AM_CONFIG},
                "uptime": rfc3339_ago(86_400),
                "versionInfo": {"branch": "HEAD", "buildDate": "20230406-10:39:38", "buildUser": "root@medianest",
                    "goVersion": "go1.19.8", "revision": "0.25.0", "version": "0.25.0"}
            }),
        ),
        "/api/v2/receivers" => Reply::new(200, JSON, r#"[{"name":"web.hook"}]"#),
        p => Reply::json(
            404,
            JSON,
            &json!({"code": 404, "message": format!("path {p} was not found")}),
        ),
    }
}

pub fn jaeger(_sim: &Sim, req: &Req) -> Reply {
    match req.path.as_str() {
        "/api/services" => Reply::json(
            200,
            "application/json",
            &json!({
                "data": ["jaeger-all-in-one", "medianest-backend"], "total": 2, "limit": 0, "offset": 0, "errors": null
            }),
        ),
        _ => Reply::text(404, "404 page not found\n"),
    }
}
