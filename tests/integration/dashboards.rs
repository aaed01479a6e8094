//! `grafana_dashboards` end to end: the real binary against the fixture
//! Grafana, whose `/api/ds/query` runs each panel's PromQL on a real
//! Prometheus 2.42 scraping the fixture backend, so "has data" means the
//! series is live. One gate run holds one check per dashboard (each picks
//! its dashboard by title or uid), so one Prometheus serves every scenario.
//! Loki panels run the same way on a fixture Loki's streams.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::backend::Backend;
use crate::support::grafana::{GRAFANA_TOKEN, Grafana};
use crate::support::loki::Loki;
use crate::support::prometheus::{PromConfig, Prometheus};
use crate::support::{TOKEN, bin, check, gate_file, json, output};

const JOB: &str = "medianest-backend";

/// Every check's timeout: each case must end well within it.
const TIMEOUT_S: u64 = 20;

/// A gate whose checks are `(id, extra fields)` lines of kind `grafana_dashboards`.
fn gate(grafana: &str, checks: &[(&str, &str)]) -> String {
    let mut text = format!(
        "schema_version: 1\nid: D\nname: d\ntargets: {{grafana: \"{grafana}\"}}\nsecrets: {{gtok: \"${{GRAFANA_TOKEN}}\"}}\nrequirements:\n  - id: dashboards\n    name: dashboards\n    weight: 1\n    checks:\n"
    );
    for (id, fields) in checks {
        let sep = if fields.is_empty() { "" } else { ", " };
        text.push_str(&format!(
            "      - {{id: {id}, kind: grafana_dashboards, target: grafana, token: gtok, timeout: {TIMEOUT_S}s{sep}{fields}}}\n"
        ));
    }
    text
}

/// Runs the gate and returns the JSON report.
fn run(gate_text: &str) -> Value {
    let (_dir, path) = gate_file(gate_text);
    let (_, stdout, stderr) = output(
        bin()
            .args(["check", "--no-progress", "--format", "json", "--gate"])
            .arg(&path)
            .env("GRAFANA_TOKEN", GRAFANA_TOKEN),
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    json(&stdout)
}

fn message(c: &Value) -> &str {
    c["message"].as_str().unwrap_or_default()
}

#[track_caller]
fn assert_check(r: &Value, id: &str, status: &str, contains: &[&str]) {
    let c = check(r, id);
    assert_eq!(c["status"], status, "{id}: {c:#}");
    for want in contains {
        assert!(message(c).contains(want), "{id}: message lacks `{want}`:\n{c:#}");
    }
    let ms = c["duration_ms"].as_u64().unwrap_or(u64::MAX);
    assert!(ms < TIMEOUT_S * 1000, "{id} took {ms}ms");
}

/// A backend scraped by real Prometheus until its series are queryable.
fn live_prometheus() -> (Backend, Prometheus) {
    let backend = Backend::healthy();
    let prom = Prometheus::start(PromConfig::new(JOB, &backend.addr()).bearer(TOKEN));
    prom.wait_for_scrapes(JOB, 3, Duration::from_secs(60));
    // rate() needs two stored samples; wait until the panels' own query has a value.
    prom.eventually("rate(http_requests_total) is stored", Duration::from_secs(30), || {
        prom.query_value(&format!("sum(rate(http_requests_total{{job=\"{JOB}\"}}[1m]))"))
    });
    (backend, prom)
}

#[test]
fn dashboards_show_live_data_or_name_each_broken_panel() {
    let (_backend, prom) = live_prometheus();
    let grafana = Grafana::with_prometheus("dashboards-live", &prom);
    let r = run(&gate(
        &grafana.url,
        &[
            ("live", "dashboards: [Backend Live]"),
            ("by-uid", "dashboards: [backend-live], range: 15m"),
            ("no-metric", "dashboards: [Missing Metric]"),
            ("no-metric-allowed", "dashboards: [Missing Metric], max_empty_panels: 1"),
            ("missing-ds", "dashboards: [Old Datasource]"),
            ("query-error", "dashboards: [broken-query]"),
            ("collapsed", "dashboards: [Collapsed Rows]"),
            ("unknown-panels", "dashboards: [Unknown Panels]"),
            ("unset-variables", "dashboards: [Unset Variables]"),
            ("library", "dashboards: [Library Panels]"),
            ("absent", "dashboards: [Nope]"),
            ("all", ""),
        ],
    ));

    // Every query panel has data: the text panel is ignored, the expanded
    // row's sibling and the collapsed row's child are both queried.
    assert_check(&r, "live", "pass", &["4 panel(s) on 1 dashboard(s) show data over 1h"]);
    let ev = &check(&r, "live")["evidence"];
    assert_eq!(
        [
            &ev["panels_total"],
            &ev["panels_with_data"],
            &ev["panels_empty"],
            &ev["panels_failing"]
        ],
        [4, 4, 0, 0],
        "{ev}"
    );
    assert_check(&r, "by-uid", "pass", &["show data over 15m"]);

    assert_check(&r, "no-metric", "fail", &["Missing Metric / Cache hit ratio: no data"]);
    assert!(
        !message(check(&r, "no-metric")).contains("Targets up"),
        "only the empty panel is listed"
    );
    // The reproduce command repeats the empty panel's own query, token as a placeholder.
    let repro = check(&r, "no-metric")["reproduce"].as_str().unwrap_or_default();
    assert!(
        repro.contains("/api/ds/query")
            && repro.contains(" -X POST ")
            && repro.contains("medianest_cache_hits_total{job=\\\"medianest-backend\\\"}"),
        "{repro}"
    );
    assert!(
        repro.contains("$GRAFANA_TOKEN") && !repro.contains(GRAFANA_TOKEN),
        "{repro}"
    );
    assert_check(&r, "no-metric-allowed", "pass", &["1 empty (allowed 1)"]);
    assert_check(
        &r,
        "missing-ds",
        "fail",
        &["Old Datasource / Legacy requests: datasource `prom-old` missing"],
    );
    // Prometheus's own parse error, as Grafana passes it on per refId.
    assert_check(
        &r,
        "query-error",
        "fail",
        &["Broken Query / Error rate: query error: A: ", "parse error"],
    );
    assert_check(&r, "collapsed", "fail", &["Collapsed Rows / Queue depth: no data"]);
    let ev = &check(&r, "collapsed")["evidence"];
    // Two panels titled "Queue depth" are two panels: the one with data does not hide the empty one.
    assert_eq!(
        [&ev["panels_total"], &ev["panels_with_data"], &ev["panels_empty"]],
        [4, 3, 1],
        "{ev}"
    );

    // Bad input: an unknown plugin type is still queried (it has data);
    // a non-string type and non-list targets are named, not skipped.
    assert_check(
        &r,
        "unknown-panels",
        "fail",
        &[
            "Unknown Panels / Numeric type: malformed panel: `type` is a number, not a string",
            "Unknown Panels / String targets: malformed panel: `targets` is a string, not a list",
        ],
    );
    assert!(
        !message(check(&r, "unknown-panels")).contains("Sparkline"),
        "{}",
        check(&r, "unknown-panels")
    );
    assert_check(
        &r,
        "unset-variables",
        "fail",
        &["Unset Variables / Per instance: variable `instance` has no current value"],
    );
    // Library panels are stored without targets: their models are fetched
    // and queried; a text model is ignored; a deleted element is named.
    assert_check(
        &r,
        "library",
        "fail",
        &["Library Panels / Deleted shared panel: library panel `lib-gone` could not be loaded: 404"],
    );
    let ev = &check(&r, "library")["evidence"];
    assert_eq!(
        [&ev["panels_total"], &ev["panels_with_data"], &ev["panels_failing"]],
        [2, 1, 1],
        "{ev}"
    );
    assert_check(&r, "absent", "fail", &["Nope / (dashboard): dashboard not found"]);

    // Default: every dashboard, every problem listed.
    assert_check(
        &r,
        "all",
        "fail",
        &[
            "Missing Metric / Cache hit ratio: no data",
            "Old Datasource / Legacy requests",
            "Collapsed Rows / Queue depth",
        ],
    );
    assert_eq!(check(&r, "all")["evidence"]["dashboards"], 8);

    // Each query went to Grafana as a POST with the token and the variables substituted.
    let posts: Vec<_> = grafana
        .requests()
        .into_iter()
        .filter(|q| q.path == "/api/ds/query")
        .collect();
    assert!(posts.iter().all(|q| q.method == "POST"), "{posts:?}");
    assert!(
        posts
            .iter()
            .all(|q| q.header("authorization") == Some(&format!("Bearer {GRAFANA_TOKEN}"))),
        "{posts:?}"
    );
}

#[test]
fn a_207_with_one_failing_refid_fails_the_panel_with_its_error() {
    let (_backend, prom) = live_prometheus();
    let grafana = Grafana::with_prometheus("dashboards-multistatus", &prom);
    let r = run(&gate(&grafana.url, &[("partial", "")]));
    assert_check(
        &r,
        "partial",
        "fail",
        &["Partial Frames / Two queries: query error: B: ", "parse error"],
    );
    assert!(
        !message(check(&r, "partial")).contains("A: "),
        "refId A has data: {}",
        check(&r, "partial")
    );
    assert_eq!(check(&r, "partial")["evidence"]["panels_failing"], 1);
}

#[test]
fn a_hanging_query_ends_in_error_within_the_timeout() {
    // No Prometheus needed: the query never gets past the fixture's delay.
    let mut s = crate::support::grafana::Scenario::load("dashboards-live");
    s.delays_ms.insert("/api/ds/query".to_string(), 30_000);
    let grafana = Grafana::start_with(s);
    let text = gate(&grafana.url, &[("slow", "dashboards: [Backend Live]")]).replace("timeout: 20s", "timeout: 2s");
    let started = std::time::Instant::now();
    let r = run(&text);
    let c = check(&r, "slow");
    assert_eq!(c["status"], "error", "{c:#}");
    assert!(
        message(c).starts_with("POST ") && message(c).contains("/api/ds/query: no answer within 2s"),
        "{c:#}"
    );
    assert!(started.elapsed() < Duration::from_secs(15), "{:?}", started.elapsed());
}

#[test]
fn rejected_credentials_are_the_checks_root_cause() {
    let grafana = Grafana::start("dashboards-live");
    let (_dir, path) = gate_file(&gate(&grafana.url, &[("creds", "")]));
    let (_, stdout, _) = output(
        bin()
            .args(["check", "--no-progress", "--format", "json", "--gate"])
            .arg(&path)
            .env("GRAFANA_TOKEN", "glsa_wrong"),
    );
    let r = json(&stdout);
    let c = check(&r, "creds");
    assert_eq!(c["status"], "fail", "{c:#}");
    assert!(message(c).contains("Grafana rejected the credentials"), "{c:#}");
}

/// A Grafana whose only dashboard, `App Logs`, holds Loki panels, querying `loki`.
fn logs_grafana(loki: &Loki) -> Grafana {
    let mut s = crate::support::grafana::Scenario::load("healthy");
    let mut logs = s.dashboards[0].clone();
    logs.uid = "app-logs".into();
    logs.title = "App Logs".into();
    let loki_ds = json!({"type": "loki", "uid": "loki-main"});
    let panel = |id: u32, title: &str, expr: &str| json!({"id": id, "type": "logs", "title": title, "datasource": loki_ds, "targets": [{"refId": "A", "expr": expr}]});
    logs.panels = vec![
        panel(1, "Application logs", r#"{job="medianest-app"}"#),
        panel(2, "Selected app", r#"{job="$app"}"#),
        panel(3, "Worker logs", r#"{job="medianest-worker"}"#),
        panel(4, "Log rate", r#"sum(count_over_time({job="medianest-app"}[$__auto]))"#),
    ];
    logs.templating = Some(json!({"list": [
        {"name": "app", "type": "custom", "current": {"text": "medianest-app", "value": "medianest-app"}}
    ]}));
    s.dashboards = vec![logs];
    Grafana::start_with_loki(s, loki)
}

#[test]
fn logs_panels_show_the_lokis_own_lines_or_are_named() {
    let loki = Loki::start("retention-30d-enforced");
    let grafana = logs_grafana(&loki);
    let r = run(&gate(&grafana.url, &[("logs", "dashboards: App Logs")]));
    // The lines come from the fixture Loki's streams: a selector with streams
    // has data, with the dashboard variable substituted too; one without is
    // empty; a metric query the Loki refuses is Loki's own error text.
    assert_check(
        &r,
        "logs",
        "fail",
        &[
            "App Logs / Log rate: query error: A: parse error at line 1, col 1",
            "App Logs / Worker logs: no data",
        ],
    );
    let c = check(&r, "logs");
    assert!(
        !message(c).contains("Application logs") && !message(c).contains("Selected app"),
        "{c:#}"
    );
    assert_eq!(
        [
            &c["evidence"]["panels_total"],
            &c["evidence"]["panels_with_data"],
            &c["evidence"]["panels_empty"],
            &c["evidence"]["panels_failing"]
        ],
        [4, 2, 1, 1],
        "{c:#}"
    );
    let sent: Vec<String> = loki
        .requests()
        .into_iter()
        .filter(|q| q.path == "/loki/api/v1/query_range")
        .map(|q| q.query)
        .collect();
    assert!(
        sent.iter()
            .any(|q| q.contains("medianest-app") && !q.contains("%24app")),
        "{sent:?}"
    );

    // Logs older than the range are not live: 3 h old lines are no data over 1h, data over 6h.
    let stale = Loki::start("stale-logs");
    let grafana = logs_grafana(&stale);
    let r = run(&gate(
        &grafana.url,
        &[
            ("hour", "dashboards: App Logs, max_empty_panels: 3"),
            ("six-hours", "dashboards: App Logs, max_empty_panels: 3, range: 6h"),
        ],
    ));
    assert_eq!(
        check(&r, "hour")["evidence"]["panels_with_data"],
        0,
        "{}",
        check(&r, "hour")
    );
    assert_eq!(
        check(&r, "six-hours")["evidence"]["panels_with_data"],
        2,
        "{}",
        check(&r, "six-hours")
    );
}
