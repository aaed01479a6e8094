//! The Prometheus-API kinds against the real VictoriaMetrics (Debian's
//! `victoria-metrics`): its targets carry no `scrapeInterval` (the interval
//! is a discovered label), it evaluates no rules (vmalert does), and advice
//! names it, not Prometheus.

use crate::support::backend::Backend;
use crate::support::victoria::VictoriaMetrics;
use crate::support::{TOKEN, bin, check, closed_port, gate_file, json, output};

#[test]
fn victoria_metrics_gets_advice_for_victoria_metrics() {
    let backend = Backend::healthy();
    let backend_addr = backend.url.trim_start_matches("http://").to_string();
    let dead = format!("127.0.0.1:{}", closed_port());
    let vm = VictoriaMetrics::start(&[("api", &backend_addr, Some(TOKEN)), ("dead", &dead, None)]);
    vm.wait_for_scrapes();
    let (_d, gate) = gate_file(&format!(
        "schema_version: 1\nid: V\nname: v\ntargets: {{vm: \"{}\"}}\nrequirements:\n  - id: r\n    name: r\n    weight: 1\n    checks:\n      - {{id: up, kind: prometheus_targets, target: vm, job: api}}\n      - {{id: down, kind: prometheus_targets, target: vm, job: dead}}\n      - {{id: rules, kind: prometheus_rules, target: vm, rules: [ApplicationDown]}}\n",
        vm.url
    ));
    let (_, stdout, stderr) = output(
        bin()
            .args(["check", "--no-progress", "--format", "json", "--gate"])
            .arg(&gate),
    );
    let r = json(&stdout);

    let up = check(&r, "up");
    assert_eq!(up["status"], "pass", "{up}\n{stderr}");
    assert!(
        up["message"]
            .as_str()
            .unwrap_or_default()
            .contains("scraped within 2× their interval"),
        "the interval comes from __scrape_interval__: {up}"
    );
    assert_eq!(up["evidence"]["targets"][0]["interval"], "1s", "{up}");

    let down = check(&r, "down");
    assert_eq!(down["status"], "fail", "{down}");
    let cause = down["cause"].as_str().unwrap_or_default();
    assert!(
        cause.contains("VictoriaMetrics cannot reach") && !cause.contains("Prometheus"),
        "{cause}"
    );

    let rules = check(&r, "rules");
    assert_eq!(rules["status"], "fail", "{rules}");
    let fix = rules["remediation"].as_str().unwrap_or_default();
    assert!(
        fix.contains("vmalert") && !fix.contains("rule_files"),
        "rules live in vmalert: {fix}"
    );
}
