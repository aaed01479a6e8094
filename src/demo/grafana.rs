//! The simulated Grafana 11 HTTP API: public `/api/health`, and behind the
//! service account token the datasources and their health, dashboard
//! search, two provisioned dashboards and `/api/ds/query` for their panels.

use serde_json::{Value, json};

use super::serve::{Reply, Req};
use super::{Sim, backend, bearer, now, prometheus, unix_secs};

const JSON: &str = "application/json; charset=UTF-8";
const PROM_UID: &str = "prom-main";
const LOKI_UID: &str = "loki-main";

pub fn answer(sim: &Sim, req: &Req) -> Reply {
    let path = req.path.as_str();
    if path == "/api/health" {
        let body = json!({"commit": "2a88694fd3", "database": "ok", "version": "11.2.0"});
        return Reply::new(200, JSON, serde_json::to_string_pretty(&body).unwrap_or_default());
    }
    if !bearer(req, super::GRAFANA_TOKEN) {
        return Reply::new(
            401,
            JSON,
            r#"{"extra":null,"message":"Unauthorized","messageId":"auth.unauthorized","statusCode":401,"traceID":""}"#,
        );
    }
    if let Some(uid) = path
        .strip_prefix("/api/datasources/uid/")
        .and_then(|p| p.strip_suffix("/health"))
    {
        return match uid {
            PROM_UID => Reply::new(
                200,
                JSON,
                r#"{"message":"Successfully queried the Prometheus API.","status":"OK"}"#,
            ),
            LOKI_UID => Reply::new(
                200,
                JSON,
                r#"{"message":"Data source successfully connected.","status":"OK"}"#,
            ),
            _ => Reply::new(500, JSON, r#"{"message":"Unable to load datasource metadata"}"#),
        };
    }
    if let Some(uid) = path.strip_prefix("/api/dashboards/uid/") {
        return match dashboard(uid) {
            Some(d) => Reply::json(200, JSON, &d),
            None => Reply::new(404, JSON, r#"{"message":"Dashboard not found"}"#),
        };
    }
    match path {
        "/api/datasources" => Reply::json(200, JSON, &datasources()),
        // Two hits fit on the first page; later pages are empty.
        "/api/search" if req.param("page").is_none_or(|p| p == "1") => Reply::json(200, JSON, &search()),
        "/api/search" => Reply::new(200, JSON, "[]"),
        "/api/ds/query" if req.method == hyper::Method::POST => ds_query(sim, &req.body),
        _ => Reply::new(404, JSON, r#"{"message":"Not found"}"#),
    }
}

fn datasources() -> Value {
    json!([
        {"id": 2, "uid": LOKI_UID, "orgId": 1, "name": "Loki", "type": "loki", "typeName": "Loki",
         "typeLogoUrl": "public/app/plugins/datasource/loki/img/loki_icon.svg", "access": "proxy",
         "url": "http://loki:3100", "user": "", "database": "", "basicAuth": false, "isDefault": false,
         "jsonData": {"maxLines": 1000}, "readOnly": true},
        {"id": 1, "uid": PROM_UID, "orgId": 1, "name": "Prometheus", "type": "prometheus", "typeName": "Prometheus",
         "typeLogoUrl": "public/app/plugins/datasource/prometheus/img/prometheus_logo.svg", "access": "proxy",
         "url": "http://prometheus:9090", "user": "", "database": "", "basicAuth": false, "isDefault": true,
         "jsonData": {"httpMethod": "POST", "timeInterval": "15s"}, "readOnly": true}
    ])
}

/// The provisioned dashboards: (uid, title).
const DASHBOARDS: [(&str, &str); 2] = [
    ("medianest-overview", "MediaNest Overview"),
    ("medianest-logs", "MediaNest Logs"),
];
/// Their panels: (dashboard uid, title, datasource uid, expr).
type Panel = (&'static str, &'static str, &'static str, &'static str);
const PANELS: [Panel; 4] = [
    (
        "medianest-overview",
        "Request rate",
        PROM_UID,
        "sum(rate(http_requests_total{job=\"medianest-backend\"}[$__rate_interval]))",
    ),
    (
        "medianest-overview",
        "p95 latency",
        PROM_UID,
        "histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{job=\"medianest-backend\"}[$__rate_interval])))",
    ),
    (
        "medianest-overview",
        "Active sessions",
        PROM_UID,
        "sum(user_sessions_active{job=\"medianest-backend\"})",
    ),
    (
        "medianest-logs",
        "Log lines per minute",
        LOKI_UID,
        "sum(count_over_time({job=\"medianest-app\"}[1m]))",
    ),
];

fn search() -> Value {
    let hits: Vec<Value> = DASHBOARDS
        .iter()
        .enumerate()
        .map(|(i, (uid, title))| {
            json!({"id": 3 + i, "uid": uid, "orgId": 1, "title": title, "uri": format!("db/{uid}"),
                "url": format!("/d/{uid}/{uid}"), "slug": uid, "type": "dash-db", "tags": ["medianest"],
                "isStarred": false, "folderUid": "medianest", "folderTitle": "MediaNest",
                "folderUrl": "/dashboards/f/medianest/medianest", "sortMeta": 0})
        })
        .collect();
    Value::Array(hits)
}

fn dashboard(uid: &str) -> Option<Value> {
    let (i, (uid, title)) = DASHBOARDS.iter().enumerate().find(|(_, d)| d.0 == uid)?;
    let panels: Vec<Value> = PANELS
        .iter()
        .filter(|p| p.0 == *uid)
        .enumerate()
        .map(|(n, (_, ptitle, ds, expr))| {
            let ds = json!({"type": if *ds == PROM_UID { "prometheus" } else { "loki" }, "uid": ds});
            json!({"id": n + 1, "title": ptitle, "type": "timeseries",
                "gridPos": {"x": (n % 2) * 12, "y": (n / 2) * 8, "w": 12, "h": 8}, "datasource": ds,
                "targets": [{"refId": "A", "datasource": ds, "expr": expr, "range": true}]})
        })
        .collect();
    Some(json!({
        "dashboard": {"id": 3 + i, "uid": uid, "title": title, "tags": ["medianest"], "timezone": "browser",
            "schemaVersion": 39, "version": 4, "time": {"from": "now-6h", "to": "now"},
            "templating": {"list": []}, "annotations": {"list": []}, "panels": panels},
        "meta": {"type": "db", "canSave": false, "canEdit": false, "canAdmin": false, "canStar": true,
            "slug": uid, "url": format!("/d/{uid}/{uid}"), "expires": "0001-01-01T00:00:00Z",
            "created": "2025-06-02T09:14:03Z", "updated": "2025-09-01T16:40:27Z", "updatedBy": "admin",
            "createdBy": "admin", "version": 4, "isFolder": false, "folderId": 1, "folderUid": "medianest",
            "folderTitle": "MediaNest", "folderUrl": "/dashboards/f/medianest/medianest",
            "provisioned": true, "provisionedExternalId": format!("{uid}.json")}
    }))
}

/// `/api/ds/query`: one result per refId. Backend series have data only
/// while Prometheus scrapes it; Loki's app logs always arrive.
fn ds_query(sim: &Sim, body: &[u8]) -> Reply {
    let request_error = |message: &str, id: &str| {
        Reply::json(
            400,
            JSON,
            &json!({"message": message, "messageId": id, "statusCode": 400, "traceID": ""}),
        )
    };
    let Ok(req) = serde_json::from_slice::<Value>(body) else {
        return request_error("bad request data", "");
    };
    let queries = req
        .get("queries")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if queries.is_empty() {
        return request_error("No queries found", "query.noQueries");
    }
    let t = (unix_secs(now()) * 1000.0) as i64;
    let times = [t - 120_000, t - 60_000, t];
    let mut results = serde_json::Map::new();
    for q in &queries {
        let ref_id = q.get("refId").and_then(Value::as_str).unwrap_or("A").to_string();
        let expr = q.get("expr").and_then(Value::as_str).unwrap_or_default();
        let loki = q.pointer("/datasource/type").and_then(Value::as_str) == Some("loki");
        let value = if loki {
            Some(12.0)
        } else if sim.scenario.scraped() {
            Some(panel_value(sim, expr))
        } else {
            None
        };
        let frames = match value {
            Some(v) => json!([{
                "schema": {"refId": ref_id, "meta": {"type": "timeseries-multi", "typeVersion": [0, 1],
                    "custom": {"resultType": "matrix"}, "executedQueryString": format!("Expr: {expr}\nStep: 1m0s")},
                    "fields": [
                        {"name": "Time", "type": "time", "typeInfo": {"frame": "time.Time"}, "config": {"interval": 60000}},
                        {"name": "Value", "type": "number", "typeInfo": {"frame": "float64"}, "labels": {}, "config": {}}
                    ]},
                "data": {"values": [times, [v, v, v]]}
            }]),
            None => json!([]),
        };
        results.insert(ref_id, json!({"status": 200, "frames": frames}));
    }
    Reply::json(200, JSON, &json!({"results": results}))
}

/// What the panel's expression shows, from the backend's exposition.
fn panel_value(sim: &Sim, expr: &str) -> f64 {
    let buckets = backend::buckets(sim.scenario);
    if expr.starts_with("histogram_quantile(") {
        prometheus::histogram_quantile(0.95, &buckets)
    } else if expr.contains("user_sessions_active") {
        42.0
    } else {
        buckets[buckets.len() - 1] as f64 / prometheus::UPTIME_S
    }
}
