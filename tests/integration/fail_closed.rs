//! Fail closed: values a probe cannot trust (NaN, ±Inf, negative counts,
//! timestamps from the future) are `error`, never a pass. A fake Prometheus
//! answers each query with a chosen value, following the API's shapes
//! (`../shared/reference/observability-apis.md`: instant vectors carry
//! `[<unix seconds>, "<value as a string>"]`, with `NaN`, `+Inf`, `-Inf`).

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, Response};

use crate::support::{bin, check, gate_file, json, output, respond, spawn};

/// The value the fake Prometheus gives each kind of query.
#[derive(Clone)]
struct Answers {
    quantile: &'static str,
    count: &'static str,
    plain: &'static str,
    /// `lastScrape` of the one active target, RFC 3339.
    last_scrape: String,
}

fn vector(value: &str, labels: serde_json::Value) -> serde_json::Value {
    serde_json::json!({"metric": labels, "value": [1_700_000_000.0, value]})
}

async fn answer(req: Request<Body>, a: Arc<Answers>) -> Response<Body> {
    let path = req.uri().path().to_string();
    let query = req
        .uri()
        .query()
        .and_then(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "query")
                .map(|(_, v)| v.into_owned())
        })
        .unwrap_or_default();
    let ok = |data: serde_json::Value| {
        respond(
            200,
            "application/json",
            &serde_json::json!({"status": "success", "data": data}).to_string(),
        )
    };
    match path.as_str() {
        "/-/ready" => respond(200, "text/plain", "Prometheus Server is Ready.\n"),
        "/api/v1/targets" => ok(serde_json::json!({
            "activeTargets": [{
                "discoveredLabels": {}, "labels": {"job": "api"}, "scrapePool": "api",
                "scrapeUrl": "http://127.0.0.1:9/metrics", "globalUrl": "http://127.0.0.1:9/metrics",
                "lastError": "", "lastScrape": a.last_scrape, "lastScrapeDuration": 0.003,
                "health": "up", "scrapeInterval": "15s", "scrapeTimeout": "10s"
            }],
            "droppedTargets": []
        })),
        "/api/v1/query" => {
            let result = if query.starts_with("histogram_quantile") {
                vec![vector(a.quantile, serde_json::json!({}))]
            } else if query.starts_with("sum(increase(") {
                vec![vector(a.count, serde_json::json!({}))]
            } else if query.starts_with("count by (le)") {
                ["0.1", "0.5", "1", "+Inf"]
                    .iter()
                    .map(|le| vector("1", serde_json::json!({"le": le})))
                    .collect()
            } else {
                vec![vector(a.plain, serde_json::json!({"job": "api"}))]
            };
            ok(serde_json::json!({"resultType": "vector", "result": result}))
        }
        _ => respond(404, "text/plain", "404 page not found\n"),
    }
}

fn prometheus(a: Answers) -> (String, tokio::sync::oneshot::Sender<()>) {
    let a = Arc::new(a);
    spawn(move |req| answer(req, Arc::clone(&a)))
}

fn normal() -> Answers {
    Answers {
        quantile: "0.1",
        count: "500",
        plain: "0.001",
        last_scrape: humantime::format_rfc3339(std::time::SystemTime::now()).to_string(),
    }
}

/// Runs a one-requirement gate of `checks` against `url`; returns the report.
fn run(url: &str, checks: &str) -> (i32, serde_json::Value) {
    let (_dir, gate) = gate_file(&format!(
        "schema_version: 1\nid: F\nname: f\ntargets: {{prom: \"{url}\"}}\nrequirements:\n  - id: r\n    name: r\n    weight: 1\n    required: true\n    checks:\n{checks}"
    ));
    let (code, stdout, stderr) = output(
        bin()
            .args(["check", "--no-progress", "--format", "json", "--gate"])
            .arg(&gate),
    );
    assert!(!stdout.is_empty(), "{stderr}");
    (code, json(&stdout))
}

const SLO: &str = "      - {id: slo, kind: latency_slo, target: prom, metric: http_request_duration_seconds, max: 600ms, min_requests: 100}\n";
const PROMQL: &str = "      - {id: q, kind: promql, target: prom, query: 'error_ratio', op: '<', threshold: 0.01}\n";
const TARGETS: &str = "      - {id: t, kind: prometheus_targets, target: prom, job: api}\n";

#[test]
fn the_fake_prometheus_passes_every_check_with_sane_values() {
    // Guards the fixture: the failures below come from the bad value alone.
    let (_stop, url) = {
        let (url, stop) = prometheus(normal());
        (stop, url)
    };
    let (code, report) = run(&url, &format!("{SLO}{PROMQL}{TARGETS}"));
    for id in ["slo", "q", "t"] {
        assert_eq!(check(&report, id)["status"], "pass", "{}", check(&report, id));
    }
    assert_eq!(code, 0);
}

#[test]
fn a_nan_or_infinite_or_negative_request_count_never_passes_the_traffic_guard() {
    for count in ["NaN", "+Inf", "-Inf", "-5"] {
        let (url, _stop) = prometheus(Answers { count, ..normal() });
        let (code, report) = run(&url, SLO);
        let c = check(&report, "slo");
        assert_eq!(c["status"], "error", "count {count}: {c}");
        assert!(c["message"].as_str().unwrap_or_default().contains("not a count"), "{c}");
        assert_eq!(code, 1, "count {count}");
    }
}

#[test]
fn an_impossible_quantile_is_an_error_and_an_infinite_one_a_failure() {
    for quantile in ["-Inf", "-0.2", "NaN"] {
        let (url, _stop) = prometheus(Answers { quantile, ..normal() });
        let (code, report) = run(&url, SLO);
        assert_eq!(
            check(&report, "slo")["status"],
            "error",
            "quantile {quantile}: {}",
            check(&report, "slo")
        );
        assert_eq!(code, 1);
    }
    // +Inf: the quantile lies beyond the largest finite bucket, which is over any limit.
    let (url, _stop) = prometheus(Answers {
        quantile: "+Inf",
        ..normal()
    });
    let (_, report) = run(&url, SLO);
    assert_eq!(check(&report, "slo")["status"], "fail", "{}", check(&report, "slo"));
}

#[test]
fn promql_values_that_are_not_finite_are_errors_on_either_side_of_the_threshold() {
    for plain in ["NaN", "-Inf", "+Inf"] {
        let (url, _stop) = prometheus(Answers { plain, ..normal() });
        let (code, report) = run(&url, PROMQL);
        let c = check(&report, "q");
        assert_eq!(c["status"], "error", "value {plain}: {c}");
        assert!(c["message"].as_str().unwrap_or_default().contains(plain), "{c}");
        assert_eq!(code, 1);
    }
}

#[test]
fn a_last_scrape_in_the_future_is_not_fresh() {
    let future = std::time::SystemTime::now() + std::time::Duration::from_secs(3600);
    let (url, _stop) = prometheus(Answers {
        last_scrape: humantime::format_rfc3339(future).to_string(),
        ..normal()
    });
    let (code, report) = run(&url, TARGETS);
    let c = check(&report, "t");
    assert_eq!(c["status"], "error", "{c}");
    assert!(
        c["message"].as_str().unwrap_or_default().contains("in the future"),
        "{c}"
    );
    assert_eq!(code, 1);
}

/// Two required requirements and an advisory one, all against a healthy server.
fn three_requirements(url: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    gate_file(&format!(
        "schema_version: 1\nid: P\nname: p\ntargets: {{svc: \"{url}\", dead: \"http://127.0.0.1:{}\"}}\nrequirements:\n  - id: api\n    name: api\n    weight: 50\n    required: true\n    checks:\n      - {{id: api-health, kind: http, target: svc}}\n  - id: grafana\n    name: grafana\n    weight: 50\n    required: true\n    checks:\n      - {{id: grafana-health, kind: http, target: svc}}\n      - {{id: grafana-db, kind: http, target: svc}}\n  - id: extra\n    name: extra\n    weight: 0\n    checks:\n      - {{id: extra-dead, kind: http, target: dead}}\n",
        crate::support::closed_port()
    ))
}

#[test]
fn a_run_that_skipped_required_checks_is_partial_in_every_format_and_exits_1() {
    let url = crate::support::hostile::start(crate::support::hostile::Misbehaviour::Json {
        status: "200 OK",
        body: "{}",
    });
    let (_d, gate) = three_requirements(&url);
    let run = |extra: &[&str], format: &str| {
        output(
            bin()
                .args(["check", "--no-progress", "--format", format, "--gate"])
                .arg(&gate)
                .args(extra),
        )
    };
    let (code, stdout, stderr) = run(&["--skip", "grafana-db"], "json");
    let report = json(&stdout);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(report["score"], 100.0);
    assert_eq!(report["passed"], false);
    assert_eq!(report["verdict"], "partial");
    assert_eq!(report["partial"], true);
    assert_eq!(
        report["not_checked"][0],
        "`grafana-db` of required requirement `grafana`"
    );
    // The summary explains the partial verdict; it never calls the run
    // BLOCKED while saying that what ran passes.
    assert_eq!(
        report["summary"],
        "PARTIAL: what ran passes (score 100.0% ≥ 85% and every required requirement that ran passed), but not checked: `grafana-db` of required requirement `grafana`; a partial run does not pass without --allow-partial"
    );
    for (format, says) in [("table", "PARTIAL"), ("markdown", "PARTIAL"), ("junit", "partial run")] {
        let (code, stdout, _) = run(&["--skip", "grafana"], format);
        assert_eq!(code, 1, "{format}");
        assert!(stdout.contains(says), "{format} says {says}:\n{stdout}");
        assert!(!stdout.contains("PASSED"), "{format}:\n{stdout}");
    }
    // --allow-partial: it may pass, and still says it was partial.
    let (code, stdout, _) = run(&["--skip", "grafana", "--allow-partial"], "json");
    let report = json(&stdout);
    assert_eq!(code, 0);
    assert_eq!(
        (report["verdict"].as_str(), report["partial"].as_bool()),
        (Some("pass"), Some(true))
    );
    assert!(
        report["summary"].as_str().unwrap_or_default().contains("PARTIAL"),
        "{}",
        report["summary"]
    );
    for format in ["table", "markdown", "junit"] {
        let (code, stdout, _) = run(&["--skip", "grafana", "--allow-partial"], format);
        assert_eq!(code, 0, "{format}");
        assert!(
            stdout.to_lowercase().contains("partial"),
            "{format} still says partial:\n{stdout}"
        );
    }
    // Skipping only an advisory requirement is not partial.
    let (code, stdout, _) = run(&["--skip", "extra"], "json");
    assert_eq!((code, json(&stdout)["partial"].as_bool()), (0, Some(false)));
}

#[test]
fn only_an_advisory_requirement_is_worth_no_points() {
    let url = crate::support::hostile::start(crate::support::hostile::Misbehaviour::Json {
        status: "200 OK",
        body: "{}",
    });
    let (_d, gate) = three_requirements(&url);
    let (code, stdout, stderr) = output(
        bin()
            .args(["check", "--no-progress", "--only", "extra", "--gate"])
            .arg(&gate),
    );
    assert_eq!(code, 1, "{stderr}");
    assert!(
        !stdout.contains("+100"),
        "an advisory requirement moves no score:\n{stdout}"
    );
    assert!(stdout.contains("PARTIAL") || stdout.contains("BLOCKED"), "{stdout}");
}

#[test]
fn the_between_buckets_warning_appears_only_when_interpolation_decides_the_verdict() {
    // Buckets 0.1, 0.5, 1, +Inf; the 600 ms limit lies between 0.5 and 1.
    let (url, _stop) = prometheus(normal());
    let (_, report) = run(&url, SLO);
    assert_eq!(check(&report, "slo")["status"], "pass");
    assert!(
        !report["warnings"].to_string().contains("interpolated"),
        "a p95 of 100 ms is under 600 ms for certain: {}",
        report["warnings"]
    );
    let (url, _stop) = prometheus(Answers {
        quantile: "0.7",
        ..normal()
    });
    let (_, report) = run(&url, SLO);
    assert_eq!(check(&report, "slo")["status"], "fail");
    assert!(
        report["warnings"]
            .to_string()
            .contains("falls between the buckets le=\\\"0.5\\\" and le=\\\"1\\\""),
        "700 ms shares the limit's bucket, so the verdict rests on interpolation: {}",
        report["warnings"]
    );
}
