//! The `grafana` and `grafana_dashboards` kinds against a Grafana of
//! production size: 12,000 dashboards (more than one `/api/search` page of
//! Grafana's maximum 5,000) and 300 datasources, each health-checked, with
//! never more than 8 of one check's requests in flight at once.

use serde_json::Value;

use crate::support::grafana::{GRAFANA_TOKEN, Grafana, Scenario};
use crate::support::{check, check_json};

const DASHBOARDS: usize = 12_000;
const DATASOURCES: usize = 300;

/// The healthy scenario grown to `DASHBOARDS` dashboards and `DATASOURCES`
/// datasources, every health check answering after 20 ms so that
/// overlapping requests are seen overlapping.
fn large() -> Scenario {
    let mut s = Scenario::load("healthy");
    let ds = s.datasources[0].clone();
    s.datasources = (0..DATASOURCES)
        .map(|i| {
            let mut d = ds.clone();
            d.id = i as i64 + 1;
            d.uid = format!("ds-{i:03}");
            d.name = format!("Prometheus {i:03}");
            d
        })
        .collect();
    let db = s.dashboards[0].clone();
    s.dashboards = (0..DASHBOARDS)
        .map(|i| {
            let mut d = db.clone();
            d.id = i as i64 + 1;
            d.uid = format!("dash-{i:05}");
            d.title = format!("Service {i:05}");
            d.slug = format!("service-{i:05}");
            d.uri = format!("db/{}", d.slug);
            d.url = format!("/d/{}/{}", d.uid, d.slug);
            d
        })
        .collect();
    s.delays_ms.insert("/api/datasources/uid/:uid/health".to_string(), 20);
    s
}

fn run(grafana: &str, fields: &str) -> Value {
    let yaml = format!(
        "schema_version: 1\nid: S\nname: s\ntargets: {{grafana: \"{grafana}\"}}\nsecrets: {{gtok: \"${{GRAFANA_TOKEN}}\"}}\n\
         requirements:\n  - id: grafana\n    name: grafana\n    weight: 1\n    checks:\n\
         \x20     - {{id: grafana-api, kind: grafana, target: grafana, token: gtok, timeout: 30s, {fields}}}\n"
    );
    check_json(&yaml, &[], &[("GRAFANA_TOKEN", GRAFANA_TOKEN)]).1
}

#[test]
fn every_dashboard_past_the_first_search_page_counts_and_datasource_checks_stay_bounded() {
    let grafana = Grafana::start_with(large());
    let report = run(&grafana.url, "min_dashboards: 12000, dashboards: [Service 11999]");
    let c = check(&report, "grafana-api");
    assert_eq!(c["status"], "pass", "{c:#}");
    let searches: Vec<String> = grafana
        .requests()
        .iter()
        .filter(|r| r.path == "/api/search")
        .map(|r| r.query.clone())
        .collect();
    // 5,000 + 5,000 + 2,000: the third, short page ends the listing.
    assert_eq!(searches.len(), 3, "{searches:#?}");
    assert!(
        searches[2].contains("page=3") && searches[2].contains("limit=5000"),
        "{searches:#?}"
    );
    let health = grafana
        .requests()
        .iter()
        .filter(|r| r.path.starts_with("/api/datasources/uid/") && r.path.ends_with("/health"))
        .count();
    assert_eq!(health, DATASOURCES, "every datasource is health-checked once");
    let most = grafana.max_in_flight();
    assert!(
        (2..=8).contains(&most),
        "at most 8 requests in flight to one Grafana, saw {most}"
    );
}

#[test]
fn a_missing_dashboard_is_still_found_missing_among_twelve_thousand() {
    let grafana = Grafana::start_with(large());
    let report = run(&grafana.url, "min_dashboards: 1, dashboards: [Service 12000]");
    let c = check(&report, "grafana-api");
    assert_eq!(c["status"], "fail", "{c:#}");
    assert!(
        c["message"].as_str().unwrap_or_default().contains("Service 12000"),
        "{c:#}"
    );
}
