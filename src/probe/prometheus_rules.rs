//! `prometheus_rules`: the named alert rules are loaded and evaluate
//! without error (`health: ok`).

use serde_json::{Value, json};

use super::prometheus_api::{Server, get_data_from};
use crate::http::join_url;
use super::registry::Kind;
use super::{Outcome, ProbeContext, Status};
use crate::gate::fields::{FieldDef, FieldType as T, SpecCx};

#[derive(Debug, Clone)]
pub struct RulesSpec {
    pub rules: Vec<String>,
}

impl Kind for RulesSpec {
    const NAME: &'static str = "prometheus_rules";
    const FIELDS: &'static [FieldDef] = &[FieldDef::new(
        "rules",
        T::StrList,
        "Alert rule names that must be loaded and healthy (required).",
        "[ApplicationDown, HighErrorRate]",
    )];

    fn load(f: &mut SpecCx<'_, '_>) -> Self {
        let rules = match f.list("rules") {
            Some(r) if !r.get().is_empty() => r.into_inner().into_iter().map(|(s, _)| s).collect(),
            Some(r) => {
                f.err(r.loc(), "`rules` is empty", Some("list the alert names, e.g. `rules: [ApplicationDown]`".to_string()));
                Vec::new()
            }
            None => {
                if f.is_absent("rules") {
                    let id = f.id().to_string();
                    f.err(
                        f.id_loc(),
                        format!("prometheus_rules check `{id}` needs `rules`"),
                        Some("add `rules: [ApplicationDown, HighErrorRate]`".to_string()),
                    );
                }
                Vec::new()
            }
        };
        RulesSpec { rules }
    }

    async fn probe(&self, cx: &ProbeContext<'_>) -> Outcome {
        self.run(cx).await
    }
}

impl RulesSpec {
    async fn run(&self, cx: &ProbeContext<'_>) -> Outcome {
        let (data, server) = match get_data_from(cx, "/api/v1/rules", &[("type", "alert")]).await {
            Ok(d) => d,
            Err(o) => return o,
        };
        let Some(groups) = data.get("groups").and_then(Value::as_array) else {
            return Outcome::error("unexpected /api/v1/rules answer: no `groups` array")
                .cause(
                    format!("api:{}", cx.target_name()),
                    "Prometheus' rules API answered an unexpected shape".to_string(),
                )
                .remediation("check that the target is Prometheus 2.x");
        };
        let loaded: Vec<&Value> = groups
            .iter()
            .filter_map(|g| g.get("rules").and_then(Value::as_array))
            .flatten()
            .filter(|r| r.get("type").and_then(Value::as_str) != Some("recording"))
            .collect();
        let mut found = serde_json::Map::new();
        let mut missing = Vec::new();
        let mut broken = Vec::new();
        let mut pending = Vec::new();
        let mut firing = Vec::new();
        for name in &self.rules {
            match loaded
                .iter()
                .find(|r| r.get("name").and_then(Value::as_str) == Some(name.as_str()))
            {
                None => missing.push(name.clone()),
                Some(r) => {
                    let health = r.get("health").and_then(Value::as_str).unwrap_or("unknown");
                    let state = r.get("state").and_then(Value::as_str).unwrap_or("");
                    found.insert(name.clone(), json!({"health": health, "state": state}));
                    match health {
                        "ok" => {}
                        "err" => broken.push(format!(
                            "{name}: {}",
                            r.get("lastError").and_then(Value::as_str).unwrap_or("evaluation error")
                        )),
                        _ => pending.push(name.clone()),
                    }
                    if state == "firing" {
                        firing.push(name.clone());
                    }
                }
            }
        }
        let all_names: Vec<&str> = loaded
            .iter()
            .filter_map(|r| r.get("name").and_then(Value::as_str))
            .collect();
        let key = format!("check:{}", cx.check.id);
        let o = Outcome::pass(String::new())
            .evidence("rules", Value::Object(found))
            .evidence("loaded_alerts", all_names.len())
            .expected("rules", json!(self.rules))
            .reproduce(format!(
                "{} | jq '.data.groups[].rules[] | {{name, health, lastError}}'",
                crate::shell::join(["curl", "-s", &join_url(cx.base_url(), "/api/v1/rules?type=alert")])
            ));
        let mut o = if !missing.is_empty() {
            let msg = format!("alert rules not loaded: {}", missing.join(", "));
            let mut o = o.cause(key, msg.clone()).remediation(
                match server {
                    Server::Prometheus => "add the rules to a file listed under `rule_files:` in prometheus.yml and reload Prometheus (`promtool check rules` validates the file)",
                    // Single-node VictoriaMetrics evaluates no rules: vmalert does,
                    // and VictoriaMetrics lists them only through `-vmalert.proxyURL`.
                    Server::VictoriaMetrics => "VictoriaMetrics evaluates no rules itself: load them into vmalert (`vmalert -rule=rules.yml -datasource.url=…`) and start VictoriaMetrics with `-vmalert.proxyURL` so its /api/v1/rules lists them",
                },
            );
            o.status = Status::Fail;
            o.message = msg;
            o
        } else if !broken.is_empty() {
            let msg = format!("alert rules failing to evaluate: {}", broken.join("; "));
            let mut o = o
                .cause(key, msg.clone())
                .remediation("fix the rule's expression: run it in the Prometheus UI to see the error");
            o.status = Status::Fail;
            o.message = msg;
            o
        } else if !pending.is_empty() {
            let msg = format!("alert rules not evaluated yet: {}", pending.join(", "));
            let mut o = o
                .cause(key, msg.clone())
                .remediation("wait one evaluation interval and re-run");
            o.status = Status::Error;
            o.message = msg;
            o
        } else {
            let mut o = o;
            o.message = format!("{} alert rule(s) loaded and healthy", self.rules.len());
            o
        };
        if !firing.is_empty() {
            o.warnings.push(format!("firing now: {}", firing.join(", ")));
        }
        o
    }
}

#[cfg(test)]
mod load_tests {
    //! The kind's loader messages, each with its location.
    use crate::gate::testing::*;

    #[test]
    fn prometheus_rules_fields_are_validated_where_written() {
        requires("prometheus_rules", &[], "prometheus_rules check `c` needs `rules`");
        field_rejected("prometheus_rules", "rules: []", "`rules` is empty", Some("rules: [ApplicationDown]"));
        field_rejected("prometheus_rules", "rules: ApplicationDown", "`rules` must be a list of strings", None);
    }
}
