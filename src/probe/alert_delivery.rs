//! `alert_delivery` (synthetic): posts one test alert with a unique run
//! label and a short `endsAt` to the Alertmanager target, waits until
//! Alertmanager lists it active and routed to `expect_receiver`, optionally
//! checks that the receiver's integration did not fail more notifications
//! meanwhile, and then expires the alert. Reports the delivery time and every
//! request it wrote.
//!
//! Bounded: one alert, one expiring re-post, polls every 100 ms until the
//! check's deadline less a reserve kept for the expiry, so a check that
//! fails halfway still expires its alert. Should even the expiry fail, the
//! alert ends by itself at its `endsAt`, one minute past the check's timeout.

use std::time::{Duration, SystemTime};

use serde_json::{Value, json};

use super::alertmanager::{api_error, get_json, ready, transport};
use super::registry::Kind;
use super::{Outcome, ProbeContext, Status};
use crate::gate::fields::{FieldDef, FieldType as T, SpecCx};
use crate::http::{Auth, JSON_CAP, fmt_duration, join_url};

/// The label that makes each test alert unique to one run of one check.
const RUN_LABEL: &str = "medianest_gate_run";
/// The test alert's name.
const ALERTNAME: &str = "MedianestGateDeliveryTest";
/// Between two looks at `/api/v2/alerts`.
const POLL: Duration = Duration::from_millis(100);
/// How long after the check's timeout an unexpired test alert ends by itself.
const TTL_PAST_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, Clone)]
pub struct DeliverySpec {
    pub expect_receiver: String,
    /// Extra labels for the test alert, to steer it through the routing tree.
    pub labels: Vec<(String, String)>,
    /// The integration (`webhook`, `email`, …) whose failed notifications must not grow.
    pub integration: Option<String>,
}

impl Kind for DeliverySpec {
    const NAME: &'static str = "alert_delivery";
    const SYNTHETIC: bool = true;
    const FIELDS: &'static [FieldDef] = &[
        FieldDef::new("expect_receiver", T::Str, "The receiver the test alert must be routed to (required).", "oncall"),
        FieldDef::new("labels", T::StrMap, "Labels of the test alert besides its name and run label, to pick a route.", "{team: ops, severity: warning}"),
        FieldDef::new("integration", T::Str, "Integration of the receiver (`webhook`, `email`, …) whose `alertmanager_notifications_failed_total` must not grow during the check.", "webhook"),
    ];

    fn load(f: &mut SpecCx<'_, '_>) -> Self {
        let expect_receiver = f.required_string("expect_receiver");
        let mut labels = Vec::new();
        for (k, v, loc) in f.str_map("labels").unwrap_or_default() {
            if !valid_label_name(&k) {
                f.err(
                    loc,
                    format!("label name `{k}` is not valid (letters, digits and `_`, not starting with a digit)"),
                    None,
                );
            } else if k == RUN_LABEL || k == "alertname" {
                f.err(loc, format!("label `{k}` is set by the check itself"), None);
            } else if v.is_empty() {
                f.err(loc, format!("label `{k}` is empty (Alertmanager drops empty labels)"), None);
            } else {
                labels.push((k, v));
            }
        }
        let integration = f.string("integration").map(|(s, _)| s);
        DeliverySpec {
            expect_receiver,
            labels,
            integration,
        }
    }

    async fn probe(&self, cx: &ProbeContext<'_>) -> Outcome {
        self.run(cx).await
    }

    fn reproduce(&self, cx: &ProbeContext<'_>) -> String {
        crate::shell::join([
            "curl",
            "-sG",
            &join_url(cx.base_url(), "/api/v2/alerts"),
            "--data-urlencode",
            &format!("filter=alertname=\"{ALERTNAME}\""),
        ])
    }
}

fn valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl DeliverySpec {
    async fn run(&self, cx: &ProbeContext<'_>) -> Outcome {
        if let Err(o) = ready(cx).await {
            return o;
        }
        let failed_before = match &self.integration {
            Some(i) => match failed_notifications(cx, i).await {
                Ok(n) => Some(n),
                Err(o) => return o,
            },
            None => None,
        };
        let run_id = format!(
            "{}-{}-{}",
            cx.check.id,
            std::process::id(),
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default()
        );
        let mut labels = serde_json::Map::new();
        labels.insert("alertname".into(), ALERTNAME.into());
        labels.insert(RUN_LABEL.into(), run_id.clone().into());
        for (k, v) in &self.labels {
            labels.insert(k.clone(), v.clone().into());
        }
        let starts = SystemTime::now();
        // Both times are sent: with only `endsAt`, Alertmanager sets startsAt = endsAt (§0.1).
        let ends = starts + cx.timeout + TTL_PAST_TIMEOUT;
        let mut actions = Vec::new();
        let post_url = join_url(cx.base_url(), "/api/v2/alerts");
        let alert = json!([{
            "labels": labels,
            "annotations": {"summary": "medianest-gate alert_delivery test alert; expires by itself"},
            "startsAt": rfc3339(starts),
            "endsAt": rfc3339(ends),
        }]);
        actions.push(format!(
            "POST {post_url}: test alert {{alertname=\"{ALERTNAME}\",{RUN_LABEL}=\"{run_id}\"}} ending {}",
            rfc3339(ends)
        ));
        // Keep time for the expiry: whatever happens until then, it is sent.
        let reserve = (cx.timeout / 4).clamp(Duration::from_millis(300), Duration::from_secs(2));
        let work_deadline = cx.deadline.checked_sub(reserve).unwrap_or(cx.deadline);
        let sent = tokio::time::Instant::now();
        let outcome = self
            .deliver(cx, &post_url, &alert, &run_id, work_deadline, sent, failed_before)
            .await;

        // Expire: the same labels with endsAt = now removes it at once (§1.6).
        let now = SystemTime::now();
        let expire = json!([{
            "labels": labels,
            "startsAt": rfc3339(starts.min(now)),
            "endsAt": rfc3339(now),
        }]);
        actions.push(format!("POST {post_url}: expire the test alert (endsAt now)"));
        let expired = match cx.http.post_json(&post_url, None, &expire, JSON_CAP, cx.deadline).await {
            Ok(r) if r.status.is_success() => Ok(()),
            Ok(r) => Err(format!("answered {}: {}", r.status_line(), r.excerpt(200))),
            Err(e) => Err(e.describe()),
        };
        let mut outcome = outcome
            .evidence("run_label", json!({RUN_LABEL: run_id}))
            .evidence("synthetic_actions", json!(actions))
            .evidence("expired", expired.is_ok());
        // Every format shows the message; the requests themselves are in the evidence.
        outcome.message.push_str(match &expired {
            Ok(()) => " (synthetic: 1 test alert posted, then expired)",
            Err(_) => " (synthetic: 1 test alert posted; expiring it failed)",
        });
        if let Err(why) = expired {
            outcome.warnings.push(format!(
                "the test alert could not be expired ({why}); it ends by itself at {}",
                rfc3339(ends)
            ));
        }
        outcome
    }

    /// Posts the alert and waits for it to be listed active and routed.
    #[expect(clippy::too_many_arguments, reason = "one call site; the pieces are the run's state")]
    async fn deliver(
        &self,
        cx: &ProbeContext<'_>,
        post_url: &str,
        alert: &Value,
        run_id: &str,
        deadline: tokio::time::Instant,
        sent: tokio::time::Instant,
        failed_before: Option<f64>,
    ) -> Outcome {
        let resp = match cx.http.post_json(post_url, None, alert, JSON_CAP, deadline).await {
            Ok(r) => r,
            Err(e) => {
                let mut o = transport(cx, post_url, &e);
                o.message = o.message.replacen("GET ", "POST ", 1);
                return o;
            }
        };
        if !resp.status.is_success() {
            return api_error(cx, "/api/v2/alerts", &resp);
        }
        let key = format!("check:{}", cx.check.id);
        let filter: String = url::form_urlencoded::byte_serialize(format!("{RUN_LABEL}=\"{run_id}\"").as_bytes()).collect();
        let path = format!("/api/v2/alerts?filter={filter}");
        let mut last_state = "not listed".to_string();
        loop {
            // Each look may use only the time left before the expiry reserve.
            let pcx = ProbeContext {
                http: cx.http,
                gate: cx.gate,
                check: cx.check,
                target: cx.target,
                timeout: cx.timeout,
                deadline,
            };
            let alerts = match get_json(&pcx, &path).await {
                Ok((v, _)) => v,
                Err(_) if tokio::time::Instant::now() >= deadline => break,
                Err(o) => return o,
            };
            let found = alerts.as_array().and_then(|a| {
                a.iter()
                    .find(|x| x.pointer(&format!("/labels/{RUN_LABEL}")).and_then(Value::as_str) == Some(run_id))
            });
            if let Some(a) = found {
                let state = a.pointer("/status/state").and_then(Value::as_str).unwrap_or("").to_string();
                let receivers: Vec<String> = a
                    .get("receivers")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|r| r.get("name").and_then(Value::as_str))
                    .map(str::to_string)
                    .collect();
                match state.as_str() {
                    "active" => {
                        let took = sent.elapsed();
                        let base = Outcome::pass(String::new())
                            .evidence("delivery_ms", took.as_millis() as u64)
                            .evidence("routed_to", json!(receivers))
                            .expected("receiver", self.expect_receiver.clone());
                        if !receivers.contains(&self.expect_receiver) {
                            let msg = format!(
                                "test alert not routed to `{}`: Alertmanager routes it to {}",
                                self.expect_receiver,
                                if receivers.is_empty() { "no receiver".to_string() } else { receivers.join(", ") }
                            );
                            let mut o = base.cause(key, msg.clone()).remediation(format!(
                                "fix the `route:` tree in alertmanager.yml (or the check's `labels`) so the alert reaches `{}`; `amtool config routes test` shows where labels go",
                                self.expect_receiver
                            ));
                            o.status = Status::Fail;
                            o.message = msg;
                            return o;
                        }
                        let mut o = base;
                        if let (Some(before), Some(i)) = (failed_before, &self.integration) {
                            match failed_notifications(&pcx, i).await {
                                Ok(after) if after > before => {
                                    let msg = format!(
                                        "test alert routed to `{}`, but `{i}` notifications are failing: alertmanager_notifications_failed_total grew by {} during the check",
                                        self.expect_receiver,
                                        after - before
                                    );
                                    o = o.evidence("notifications_failed_delta", after - before).cause(key, msg.clone()).remediation(format!(
                                        "read Alertmanager's log (`msg=\"Notify attempt failed\"`): the `{i}` receiver's endpoint is unreachable or rejects notifications"
                                    ));
                                    o.status = Status::Fail;
                                    o.message = msg;
                                    return o;
                                }
                                Ok(_) => o = o.evidence("notifications_failed_delta", 0),
                                Err(e) => return e,
                            }
                        }
                        o.message = format!(
                            "test alert active and routed to `{}` in {}",
                            self.expect_receiver,
                            fmt_duration(took)
                        );
                        return o;
                    }
                    "suppressed" => {
                        let msg = format!(
                            "test alert is suppressed (silenced or inhibited): it would not reach `{}`",
                            self.expect_receiver
                        );
                        let mut o = Outcome::fail(msg.clone())
                            .evidence("alert_status", a.get("status").cloned().unwrap_or(Value::Null))
                            .cause(key, msg)
                            .remediation("remove the silence or inhibit rule that matches the test alert's labels");
                        o.status = Status::Fail;
                        return o;
                    }
                    other => last_state = format!("state `{other}`"),
                }
            }
            if tokio::time::Instant::now() + POLL >= deadline {
                break;
            }
            tokio::time::sleep(POLL).await;
        }
        let msg = format!(
            "test alert not listed active within {} (last seen: {last_state})",
            fmt_duration(sent.elapsed())
        );
        Outcome::error(msg.clone())
            .cause(key, msg)
            .remediation("check Alertmanager's log; raise the check's `timeout` if Alertmanager is slow to process alerts")
    }
}

/// Sums `alertmanager_notifications_failed_total` of one integration over
/// every label set (0.25 has only `integration`; newer ones add `reason`
/// and `receiver_name`, §1.9).
async fn failed_notifications(cx: &ProbeContext<'_>, integration: &str) -> Result<f64, Outcome> {
    let url = join_url(cx.base_url(), "/metrics");
    let resp = cx
        .http
        .get(&url, Auth::None, &[], crate::http::METRICS_CAP, cx.deadline)
        .await
        .map_err(|e| transport(cx, &url, &e))?;
    if !resp.status.is_success() {
        return Err(Outcome::error(format!("{url} answered {}", resp.status_line()))
            .cause(format!("check:{}", cx.check.id), format!("Alertmanager's /metrics answered {}", resp.status_line())));
    }
    let text = String::from_utf8_lossy(&resp.body);
    let wanted = format!("integration=\"{integration}\"");
    let mut total = 0.0;
    let mut seen = false;
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("alertmanager_notifications_failed_total{") else {
            continue;
        };
        let Some((labels, value)) = rest.split_once('}') else {
            continue;
        };
        if !labels.split(',').any(|l| l.trim() == wanted) {
            continue;
        }
        let v: f64 = value.split_whitespace().next().and_then(|v| v.parse().ok()).unwrap_or(f64::NAN);
        if !v.is_finite() || v < 0.0 {
            return Err(Outcome::error(format!(
                "alertmanager_notifications_failed_total{{{labels}}} is {v}, not a count"
            )));
        }
        total += v;
        seen = true;
    }
    if !seen {
        return Err(Outcome::error(format!(
            "Alertmanager's /metrics has no alertmanager_notifications_failed_total for integration `{integration}`"
        ))
        .cause(
            format!("check:{}", cx.check.id),
            format!("integration `{integration}` unknown to Alertmanager"),
        )
        .remediation("set `integration` to one of webhook, email, pagerduty, slack, opsgenie, …"));
    }
    Ok(total)
}

fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
}

#[cfg(test)]
mod tests {
    use super::valid_label_name;

    #[test]
    fn label_names_follow_prometheus_rules() {
        assert!(valid_label_name("team"));
        assert!(valid_label_name("_x9"));
        assert!(!valid_label_name("a-b"));
        assert!(!valid_label_name("9a"));
        assert!(!valid_label_name(""));
    }
}

#[cfg(test)]
mod load_tests {
    //! The kind's loader messages, each with its location.
    use crate::gate::testing::*;

    #[test]
    fn alert_delivery_fields_are_validated_where_written() {
        requires("alert_delivery", &[], "needs `expect_receiver`");
        let g = loads(&one_check("alert_delivery", &["expect_receiver: default"]));
        assert!(g.requirements[0].checks[0].spec.is_synthetic());
        let bad = |label: &str, message: &str| {
            let text = one_check("alert_delivery", &["expect_receiver: default", &format!("labels: {{{label}: x}}")]);
            let col = value_column("labels") + 1 + label.len() as u64 + 2;
            rejects_at(&text, FIELD_LINE + 1, col, message, None);
        };
        // Where the label's value starts: `labels: {` + key + `: `.
        let bad_value = |label: &str, message: &str| {
            let text = one_check("alert_delivery", &["expect_receiver: default", &format!("labels: {{{label}}}")]);
            let key = label.split(':').next().unwrap_or_default();
            let col = value_column("labels") + 1 + key.len() as u64 + 2;
            rejects_at(&text, FIELD_LINE + 1, col, message, None);
        };
        bad("a-b", "label name `a-b` is not valid");
        bad("alertname", "label `alertname` is set by the check itself");
        bad("medianest_gate_run", "is set by the check itself");
        bad_value("team: ''", "label `team` is empty");
        field_rejected("alert_delivery", "labels: [a]", "`labels` must be a mapping", None);
        field_rejected("alert_delivery", "expect_receiver: ''", "`expect_receiver` is empty", Some("expect_receiver: oncall"));
        field_rejected("alert_delivery", "integration: [webhook]", "`integration` must be a string", None);
    }
}
