//! The `alertmanager` and `alert_delivery` kinds against the real
//! Alertmanager (and Prometheus) from Debian, started on free 127.0.0.1
//! ports, with a webhook sink served by the test.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::alertmanager::{Alertmanager, Sink};
use crate::support::prometheus::{PromConfig, Prometheus};
use crate::support::{check, check_json, check_json_args};

/// A gate with one required requirement holding `checks` (flow-style lines).
fn gate(targets: &str, checks: &str) -> String {
    format!(
        "schema_version: 1\nid: A\nname: alerting\ntargets: {{{targets}}}\nrequirements:\n  - id: alerting\n    name: alerting\n    weight: 1\n    required: true\n    checks:\n{checks}"
    )
}

/// Runs `check --format json` on the gate with `extra` flags.
fn run(yaml: &str, extra: &[&str]) -> (i32, Value, String) {
    check_json(yaml, extra, &[])
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

#[test]
fn a_healthy_alertmanager_with_the_expected_receivers_passes() {
    let sink = Sink::start();
    let am = Alertmanager::start(&sink);
    let yaml = gate(
        &format!("am: \"{}\"", am.url),
        "      - {id: am, kind: alertmanager, target: am, expect_receivers: [default, unused]}\n",
    );
    let (code, report, stderr) = run(&yaml, &[]);
    let c = check(&report, "am");
    assert_eq!(c["status"], "pass", "{c}\n{stderr}\n{}", am.log_tail());
    assert_eq!(code, 0);
    assert_eq!(c["evidence"]["cluster_status"], "disabled");
    assert_eq!(c["evidence"]["version"], "0.25.0");
    assert!(text(&c["message"]).contains("cluster disabled"), "{}", c["message"]);
}

#[test]
fn a_missing_receiver_fails_naming_it() {
    let sink = Sink::start();
    let am = Alertmanager::start(&sink);
    let yaml = gate(
        &format!("am: \"{}\"", am.url),
        "      - {id: am, kind: alertmanager, target: am, expect_receivers: [default, pagerduty-oncall]}\n",
    );
    let (code, report, _) = run(&yaml, &[]);
    let c = check(&report, "am");
    assert_eq!(c["status"], "fail", "{c}");
    assert_eq!(code, 1);
    let msg = text(&c["message"]);
    assert!(msg.contains("pagerduty-oncall"), "{msg}");
    assert!(!msg.contains("not configured in Alertmanager: default"), "{msg}");
}

#[test]
fn a_down_alertmanager_is_an_error_with_a_down_cause() {
    let port = crate::support::closed_port();
    let yaml = gate(
        &format!("am: \"http://127.0.0.1:{port}\""),
        "      - {id: am, kind: alertmanager, target: am}\n      - {id: deliver, kind: alert_delivery, target: am, expect_receiver: default}\n",
    );
    let started = Instant::now();
    let (code, report, _) = run(&yaml, &["--synthetic"]);
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(code, 1);
    for id in ["am", "deliver"] {
        let c = check(&report, id);
        assert_eq!(c["status"], "error", "{c}");
        assert!(text(&c["cause"]).contains("is down"), "{c}");
    }
}

#[test]
fn html_where_the_api_should_be_is_an_error() {
    let (url, _stop) = crate::support::spawn(|_req| async {
        crate::support::respond(200, "text/html", "<!doctype html><html><body>Sign in</body></html>")
    });
    let yaml = gate(
        &format!("am: \"{url}\""),
        "      - {id: am, kind: alertmanager, target: am}\n      - {id: deliver, kind: alert_delivery, target: am, expect_receiver: default}\n",
    );
    let (_, report, _) = run(&yaml, &["--synthetic"]);
    for id in ["am", "deliver"] {
        let c = check(&report, id);
        assert_eq!(c["status"], "error", "{c}");
        assert!(text(&c["message"]).contains("HTML"), "{c}");
    }
}

#[test]
fn prometheus_must_be_configured_to_send_to_the_alertmanager() {
    let sink = Sink::start();
    let am = Alertmanager::start(&sink);
    let (scrape, _stop) =
        crate::support::spawn(|_req| async { crate::support::respond(200, "text/plain; version=0.0.4", "up 1\n") });
    let scrape = scrape.trim_start_matches("http://").to_string();
    let without = Prometheus::start(PromConfig::new("x", &scrape));
    let with = Prometheus::start(PromConfig::new("x", &scrape).alertmanager(&am.addr.to_string()));
    let checks = "      - {id: am, kind: alertmanager, target: am, prometheus: prom}\n";

    let (code, report, _) = run(
        &gate(&format!("am: \"{}\", prom: \"{}\"", am.url, without.url), checks),
        &[],
    );
    let c = check(&report, "am");
    assert_eq!((code, c["status"].as_str()), (1, Some("fail")), "{c}");
    assert!(text(&c["message"]).contains("not configured to send"), "{c}");
    assert!(text(&c["message"]).contains("no `alerting:` section"), "{c}");

    // Prometheus 2.42 syncs its Alertmanager discovery about 5 s after start.
    let (code, report, stderr) = run(
        &gate(&format!("am: \"{}\", prom: \"{}\"", am.url, with.url), checks),
        &["--wait", "30s", "--interval", "1s"],
    );
    let c = check(&report, "am");
    assert_eq!(c["status"], "pass", "{c}\n{stderr}\n{}", with.log_tail());
    assert_eq!(code, 0);
    assert_eq!(
        c["evidence"]["prometheus_push_url"],
        format!("{}/api/v2/alerts", am.url),
        "{c}"
    );
}

#[test]
fn alert_delivery_without_synthetic_is_skipped_and_the_run_is_partial() {
    let sink = Sink::start();
    let am = Alertmanager::start(&sink);
    let yaml = gate(
        &format!("am: \"{}\"", am.url),
        "      - {id: am, kind: alertmanager, target: am}\n      - {id: deliver, kind: alert_delivery, target: am, expect_receiver: default}\n",
    );
    let (code, report, _) = run(&yaml, &[]);
    let c = check(&report, "deliver");
    assert_eq!(c["status"], "skipped", "{c}");
    assert_eq!(c["message"], "needs --synthetic");
    assert_eq!(report["partial"], true);
    assert_eq!(code, 1, "a required check was not run");
    assert!(am.alerts().is_empty(), "nothing was written into Alertmanager");
}

#[test]
fn a_synthetic_test_alert_is_routed_timed_and_expired() {
    let sink = Sink::start();
    let am = Alertmanager::start(&sink);
    let yaml = gate(
        &format!("am: \"{}\"", am.url),
        "      - {id: deliver, kind: alert_delivery, target: am, expect_receiver: ops, labels: {team: ops}, integration: webhook}\n",
    );
    let (code, report, stderr) = run(&yaml, &["--synthetic"]);
    let c = check(&report, "deliver");
    assert_eq!(c["status"], "pass", "{c}\n{stderr}\n{}", am.log_tail());
    assert_eq!(code, 0);
    let ms = c["evidence"]["delivery_ms"].as_u64().unwrap_or(u64::MAX);
    assert!(ms < 5000, "{c}");
    eprintln!("alert_delivery: delivery_ms = {ms}");
    assert!(text(&c["message"]).contains("routed to `ops` in"), "{c}");
    assert!(
        text(&c["message"]).ends_with("(synthetic: 1 test alert posted, then expired)"),
        "{c}"
    );
    assert_eq!(c["evidence"]["routed_to"][0], "ops");
    assert_eq!(c["evidence"]["expired"], true);
    let actions = c["evidence"]["synthetic_actions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(actions.len(), 2, "{c}");
    assert!(text(&actions[0]).starts_with(&format!("POST {}/api/v2/alerts", am.url)));
    // After the run Alertmanager no longer lists the test alert.
    let left: Vec<Value> = am
        .alerts()
        .into_iter()
        .filter(|a| a["labels"]["alertname"] == "MedianestGateDeliveryTest")
        .collect();
    assert!(left.is_empty(), "test alert still listed: {left:?}");
    // Expired before the route's group_wait (1 s), the test alert pages
    // nobody: Alertmanager sends no resolved notice for an alert it never
    // notified as firing. The check proves routing, not the webhook's answer.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(sink.notifications(), 0, "the receiver was notified:\n{}", am.log_tail());
    eprintln!("webhook notifications: {}", sink.notifications());
}

#[test]
fn an_unknown_receiver_fails_and_the_alert_is_still_expired() {
    let sink = Sink::start();
    let am = Alertmanager::start(&sink);
    let yaml = gate(
        &format!("am: \"{}\"", am.url),
        "      - {id: deliver, kind: alert_delivery, target: am, expect_receiver: nobody}\n",
    );
    let (code, report, _) = run(&yaml, &["--synthetic"]);
    let c = check(&report, "deliver");
    assert_eq!(c["status"], "fail", "{c}");
    assert_eq!(code, 1);
    let msg = text(&c["message"]);
    assert!(
        msg.contains("not routed to `nobody`") && msg.contains("default"),
        "{msg}"
    );
    assert_eq!(c["evidence"]["expired"], true);
    assert!(
        am.alerts()
            .iter()
            .all(|a| a["labels"]["alertname"] != "MedianestGateDeliveryTest"),
        "test alert still listed"
    );
}

#[test]
fn prometheus_sending_but_failing_or_sending_elsewhere_fails() {
    let sink = Sink::start();
    let am = Alertmanager::start(&sink);
    // A Prometheus API fixture: what a real one shows after failed POSTs to
    // a discovered Alertmanager (§2.1, §2.2), without waiting minutes for them.
    let fake_prom = |active: String, errors: &'static str| {
        crate::support::spawn(move |req: axum::http::Request<axum::body::Body>| {
            let active = active.clone();
            async move {
                let body = match req.uri().path() {
                    "/api/v1/alertmanagers" => format!(
                        r#"{{"status":"success","data":{{"activeAlertmanagers":[{{"url":"{active}"}}],"droppedAlertmanagers":[]}}}}"#
                    ),
                    "/api/v1/query" => format!(
                        r#"{{"status":"success","data":{{"resultType":"vector","result":[{{"metric":{{}},"value":[1795283994.2,"{errors}"]}}]}}}}"#
                    ),
                    _ => return crate::support::respond(404, "text/plain", "404 page not found"),
                };
                crate::support::respond(200, "application/json", &body)
            }
        })
    };
    let checks = "      - {id: am, kind: alertmanager, target: am, prometheus: prom}\n";

    let (failing, _s1) = fake_prom(format!("{}/api/v2/alerts", am.url), "3");
    let (_, report, _) = run(&gate(&format!("am: \"{}\", prom: \"{failing}\"", am.url), checks), &[]);
    let c = check(&report, "am");
    assert_eq!(c["status"], "fail", "{c}");
    assert!(
        text(&c["message"]).contains("sends to this Alertmanager but fails: 3 notification error(s)"),
        "{c}"
    );

    let (elsewhere, _s2) = fake_prom("http://127.0.0.1:9/api/v2/alerts".to_string(), "0");
    let (_, report, _) = run(
        &gate(&format!("am: \"{}\", prom: \"{elsewhere}\"", am.url), checks),
        &[],
    );
    let c = check(&report, "am");
    assert_eq!(c["status"], "fail", "{c}");
    assert!(
        text(&c["message"]).contains("it sends to http://127.0.0.1:9/api/v2/alerts"),
        "{c}"
    );

    let (fine, _s3) = fake_prom(format!("{}/api/v2/alerts", am.url), "0");
    let (_, report, _) = run(&gate(&format!("am: \"{}\", prom: \"{fine}\"", am.url), checks), &[]);
    let c = check(&report, "am");
    assert_eq!(c["status"], "pass", "{c}");
    assert_eq!(c["evidence"]["prometheus_notification_errors"], 0.0);
}

#[test]
fn a_delivery_that_fails_halfway_still_expires_its_test_alert() {
    use std::sync::{Arc, Mutex};
    // An Alertmanager that takes the alert, then breaks on the listing:
    // answering 500, or never answering.
    for hang in [false, true] {
        let posts: Arc<Mutex<Vec<Value>>> = Arc::default();
        let p = Arc::clone(&posts);
        let (url, _stop) = crate::support::spawn(move |req: axum::http::Request<axum::body::Body>| {
            let p = Arc::clone(&p);
            async move {
                let method = req.method().clone();
                match (method.as_str(), req.uri().path()) {
                    ("GET", "/-/ready") => crate::support::respond(200, "text/plain", "OK"),
                    ("POST", "/api/v2/alerts") => {
                        let body = axum::body::to_bytes(req.into_body(), 1 << 20).await.unwrap_or_default();
                        crate::support::lock(&p).push(serde_json::from_slice(&body).unwrap_or(Value::Null));
                        crate::support::respond(200, "application/json", "")
                    }
                    ("GET", "/api/v2/alerts") if hang => {
                        tokio::time::sleep(Duration::from_secs(60)).await;
                        crate::support::respond(200, "application/json", "[]")
                    }
                    _ => crate::support::respond(500, "application/json", r#"{"code":500,"message":"store broken"}"#),
                }
            }
        });
        let yaml = gate(
            &format!("am: \"{url}\""),
            "      - {id: deliver, kind: alert_delivery, target: am, expect_receiver: default, timeout: 2s}\n",
        );
        let started = Instant::now();
        let (_, report, _) = run(&yaml, &["--synthetic"]);
        assert!(started.elapsed() < Duration::from_secs(6), "bounded by the 2 s timeout");
        let c = check(&report, "deliver");
        assert_eq!(c["status"], "error", "hang={hang}: {c}");
        if !hang {
            assert!(text(&c["message"]).contains("store broken"), "{c}");
        }
        assert_eq!(c["evidence"]["expired"], true, "hang={hang}: {c}");
        let posts = crate::support::lock(&posts).clone();
        assert_eq!(posts.len(), 2, "the alert, then its expiry: {posts:?}");
        let run_label = |i: usize| posts[i][0]["labels"]["medianest_gate_run"].clone();
        assert_eq!(run_label(0), run_label(1), "the expiry re-posts the same labels");
        assert!(
            posts[1][0]["endsAt"].as_str() < posts[0][0]["endsAt"].as_str(),
            "{posts:?}"
        );
    }
}

/// Gate G's own `alerting` requirement through real parts: Prometheus with
/// Gate G's rules and an always-firing rule sends to a real Alertmanager,
/// whose root route goes to the receiver `ALERT_RECEIVER` names, a webhook
/// sink that counts what it gets.
#[test]
fn gate_g_alerting_passes_through_real_prometheus_and_alertmanager() {
    const RECEIVER: &str = "medianest-oncall";
    let sink = Sink::start();
    let am = Alertmanager::routing_to(&sink, RECEIVER);
    let (scrape, _stop) =
        crate::support::spawn(|_req| async { crate::support::respond(200, "text/plain; version=0.0.4", "up 1\n") });
    let rules = format!(
        "{}  - name: gate-test\n    rules:\n      - alert: AlwaysFiring\n        expr: vector(1)\n",
        crate::support::prometheus::default_rules()
    );
    let prom = Prometheus::start(
        PromConfig::new("medianest-backend", scrape.trim_start_matches("http://"))
            .rules(&rules)
            .alertmanager(&am.addr.to_string())
            // The first send beats the 5 s discovery and is lost; resend soon.
            .resend_delay("1s")
            .scrape_self(),
    );
    // The real chain works before the tool looks: Prometheus → Alertmanager →
    // the receiver's webhook.
    prom.eventually("AlwaysFiring reaches the webhook", Duration::from_secs(60), || {
        sink.payloads()
            .iter()
            .any(|p| p["receiver"] == RECEIVER && p["groupLabels"]["alertname"] == "AlwaysFiring")
            .then_some(())
    });
    // `increase()` over the notifier's error counter needs a few self-scrapes.
    prom.wait_for_scrapes("prometheus", 3, Duration::from_secs(30));

    let (prom_target, am_target) = (format!("prometheus={}", prom.url), format!("alertmanager={}", am.url));
    let gate_g = |extra: &[&str]| {
        let mut args = vec![
            "--only",
            "alerting",
            "--allow-partial",
            "--target",
            &prom_target,
            "--target",
            &am_target,
        ];
        args.extend_from_slice(extra);
        check_json_args(&args, &[("ALERT_RECEIVER", RECEIVER)])
    };
    let test_alerts = || {
        am.alerts()
            .into_iter()
            .filter(|a| a["labels"]["alertname"] == "MedianestGateDeliveryTest")
            .count()
    };

    let (code, report, stderr) = gate_g(&[]);
    assert_eq!(code, 0, "{stderr}\n{report:#}");
    for id in ["alert-rules", "alertmanager"] {
        assert_eq!(check(&report, id)["status"], "pass", "{}", check(&report, id));
    }
    let c = check(&report, "alert-delivery");
    assert_eq!(
        (c["status"].as_str(), c["message"].as_str()),
        (Some("skipped"), Some("needs --synthetic")),
        "{c}"
    );
    assert_eq!(test_alerts(), 0, "nothing was written without --synthetic");

    let (code, report, stderr) = gate_g(&["--synthetic"]);
    assert_eq!(code, 0, "{stderr}\n{report:#}");
    for id in ["alert-rules", "alertmanager", "alert-delivery"] {
        assert_eq!(
            check(&report, id)["status"],
            "pass",
            "{}\n{}",
            check(&report, id),
            am.log_tail()
        );
    }
    let alerting = report["requirements"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["id"] == "alerting"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        (alerting["status"].as_str(), alerting["score"].as_f64()),
        (Some("pass"), Some(100.0)),
        "{alerting}"
    );
    let am_check = check(&report, "alertmanager");
    assert_eq!(
        am_check["evidence"]["prometheus_notification_errors"], 0.0,
        "{am_check}"
    );
    let c = check(&report, "alert-delivery");
    let ms = c["evidence"]["delivery_ms"].as_u64();
    assert!(ms.is_some_and(|ms| ms < 8000), "delivery time in the evidence: {c}");
    eprintln!("gate G alert-delivery through the real Alertmanager: delivery_ms = {ms:?}");
    assert_eq!(c["evidence"]["routed_to"], serde_json::json!([RECEIVER]), "{c}");
    assert!(
        text(&c["message"]).contains(&format!("routed to `{RECEIVER}` in")),
        "{c}"
    );
    assert_eq!(c["evidence"]["expired"], true, "{c}");
    assert_eq!(test_alerts(), 0, "the test alert is still listed:\n{:#?}", am.alerts());
    // Alertmanager itself is untouched: the rule's alert is still active.
    assert!(
        am.alerts()
            .iter()
            .any(|a| a["labels"]["alertname"] == "AlwaysFiring" && a["status"]["state"] == "active"),
        "{:#?}",
        am.alerts()
    );
    // Expired within the route's 1 s group_wait, the test alert paged nobody.
    std::thread::sleep(Duration::from_secs(2));
    let paged: Vec<Value> = sink
        .payloads()
        .into_iter()
        .filter(|p| p["groupLabels"]["alertname"] == "MedianestGateDeliveryTest")
        .collect();
    assert!(
        paged.is_empty(),
        "the receiver was notified of the test alert: {paged:?}"
    );
    eprintln!("webhook notifications (AlwaysFiring only): {}", sink.notifications());
}
