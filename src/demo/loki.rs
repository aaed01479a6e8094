//! The simulated Loki 3: `/ready`, the running `/config` (its compactor
//! retention is what loki-retention breaks) and `query_range` streams of the
//! app's log lines, newest first.

use serde_json::{Value, json};

use super::serve::{Reply, Req};
use super::{Scenario, Sim, now, unix_secs};

/// The running configuration as `/config` renders it: durations normalised
/// (`720h` shows as `30d`), `auth_enabled` absent because it is false.
fn config(retention_enabled: bool) -> String {
    format!(
        "target: all\n\
         server:\n  http_listen_port: 3100\n  grpc_listen_port: 9096\n\
         common:\n  path_prefix: /loki\n\
         limits_config:\n  retention_period: 30d\n  max_query_lookback: 0s\n\
         compactor:\n  working_directory: /loki/compactor\n  compaction_interval: 10m0s\n  \
         apply_retention_interval: {}\n  retention_enabled: {retention_enabled}\n  \
         retention_delete_delay: 2h0m0s\n  retention_delete_worker_count: 150\n  delete_request_store: {}\n\
         table_manager:\n  retention_deletes_enabled: false\n  retention_period: 0s\n  poll_interval: 2m0s\n",
        if retention_enabled { "15m0s" } else { "0s" },
        if retention_enabled { "filesystem" } else { "\"\"" },
    )
}

pub fn answer(sim: &Sim, req: &Req) -> Reply {
    match req.path.as_str() {
        "/ready" => Reply::text(200, "ready\n"),
        "/config" => Reply::new(
            200,
            "text/plain; charset=utf-8",
            config(sim.scenario != Scenario::LokiRetention),
        ),
        "/loki/api/v1/query_range" => {
            let now_ns = (unix_secs(now()) * 1e9) as u128;
            let lines = [
                (38u128, "level=info msg=\"GET /api/v1/media 200\" duration_ms=41"),
                (95, "level=info msg=\"GET /api/v1/health 200\" duration_ms=2"),
                (160, "level=warn msg=\"slow upstream: plex\" duration_ms=812"),
            ];
            let values: Vec<Value> = lines
                .iter()
                .map(|(ago, line)| json!([(now_ns - ago * 1_000_000_000).to_string(), line]))
                .collect();
            let body = json!({"status": "success", "data": {
                "resultType": "streams",
                "result": [{"stream": {"job": "medianest-app", "service": "backend"}, "values": values}],
                "stats": {"summary": {"totalEntriesReturned": lines.len(), "bytesProcessedPerSecond": 0}}
            }});
            Reply::json(200, "application/json; charset=utf-8", &body)
        }
        _ => Reply::text(404, "404 page not found\n"),
    }
}
