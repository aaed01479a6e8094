//! `http`: GET an endpoint N times; pass when every answer has an accepted
//! status, the latency statistic is under its limit, and the JSON fields match.

use std::time::Duration;

use serde_json::{Value, json};

use std::collections::BTreeMap;

use super::registry::Kind;
use super::{Outcome, ProbeContext, Status};
use crate::gate::fields::{FieldDef, FieldType as T, SpecCx};
use crate::http::{JSON_CAP, fmt_duration, join_url};

#[derive(Debug, Clone)]
pub struct HttpSpec {
    pub path: String,
    pub token: Option<String>,
    /// Empty means any 2xx.
    pub expect_status: Vec<u16>,
    pub samples: u32,
    pub max_latency: Option<Duration>,
    pub latency_stat: LatencyStat,
    pub expect_json: BTreeMap<String, Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LatencyStat {
    Max,
    P95,
}

impl Kind for HttpSpec {
    const NAME: &'static str = "http";
    const FIELDS: &'static [FieldDef] = &[
        FieldDef::new("path", T::Str, "Path appended to the target URL (default `/`).", "/health"),
        FieldDef::new("token", T::SecretRef, "The name of a secret sent as `Authorization: Bearer <secret>`.", "metrics_token"),
        FieldDef::new("expect_status", T::StatusList, "Accepted status codes (default: any 2xx).", "[200, 204]"),
        FieldDef::new("samples", T::Int, "How many requests to make (1–1000, default 1); latency is judged over them.", "5"),
        FieldDef::new("max_latency", T::Duration, "Latency limit.", "5s"),
        FieldDef::new("latency_stat", T::Str, "Which latency to compare with `max_latency`: `max` (default) or `p95`.", "p95"),
        FieldDef::new("expect_json", T::JsonMap, "JSON fields the body must hold, by dotted path.", "{status: ok}"),
    ];

    fn load(f: &mut SpecCx<'_, '_>) -> Self {
        let path = f.path("/");
        let token = f.secret("token");
        let expect_status = f.statuses("expect_status").unwrap_or_default();
        let samples = match f.int("samples") {
            Some(s) if *s.get() == 0 || *s.get() > 1000 => {
                f.err(s.loc(), format!("samples must be between 1 and 1000, not {}", s.get()), None);
                1
            }
            Some(s) => *s.get(),
            None => 1,
        };
        let max_latency = f.duration("max_latency");
        let latency_stat = match f.literal("latency_stat") {
            None => LatencyStat::Max,
            Some((s, _)) if s == "max" => LatencyStat::Max,
            Some((s, _)) if s == "p95" => LatencyStat::P95,
            Some((other, loc)) => {
                f.err(loc, format!("unknown latency_stat `{other}`"), Some("write `max` or `p95`".to_string()));
                LatencyStat::Max
            }
        };
        HttpSpec {
            path,
            token,
            expect_status,
            samples,
            max_latency,
            latency_stat,
            expect_json: f.json_map("expect_json").unwrap_or_default(),
        }
    }

    async fn probe(&self, cx: &ProbeContext<'_>) -> Outcome {
        self.run(cx).await
    }

    fn reproduce(&self, cx: &ProbeContext<'_>) -> String {
        cx.curl(&join_url(cx.base_url(), &self.path), self.token.as_deref())
    }

    fn secrets(&self) -> Vec<&str> {
        self.token.as_deref().into_iter().collect()
    }
}

impl HttpSpec {
    async fn run(&self, cx: &ProbeContext<'_>) -> Outcome {
        let url = join_url(cx.base_url(), &self.path);
        let token = self.token.as_deref().and_then(|t| cx.secret(t));
        let mut latencies = Vec::with_capacity(self.samples as usize);
        let mut statuses = Vec::with_capacity(self.samples as usize);
        let mut last = None;
        for _ in 0..self.samples {
            match cx.http.get(&url, token, &[], JSON_CAP, cx.deadline).await {
                Ok(resp) => {
                    latencies.push(resp.elapsed);
                    statuses.push(resp.status.as_u16());
                    last = Some(resp);
                }
                Err(err) => {
                    // A timeout is `error` like in every kind, even with a
                    // latency limit: no answer is no measurement (and error
                    // earns no credit either, so nothing passes by it).
                    let mut o = cx.transport_failure(&url, &err);
                    o.reproduce = Some(cx.curl(&url, self.token.as_deref()));
                    if !latencies.is_empty() {
                        o = o.evidence("samples_answered", latencies.len());
                    }
                    return o.expected("max_latency_ms", self.max_latency.map(|d| d.as_millis() as u64));
                }
            }
        }
        let Some(resp) = last else {
            return Outcome::error("no request was made (samples is 0)");
        };
        let latency_ms: Vec<f64> = latencies.iter().map(|d| round1(ms(*d))).collect();
        let stat = latency_stat(&latencies, self.latency_stat);
        let stat_name = match self.latency_stat {
            LatencyStat::Max => "max",
            LatencyStat::P95 => "p95",
        };
        let base = |o: Outcome| {
            o.evidence("url", url.clone())
                .evidence("status", resp.status.as_u16())
                .evidence(&format!("latency_{stat_name}_ms"), round1(ms(stat)))
                .evidence("latency_samples_ms", json!(latency_ms))
                .expected(
                    "status",
                    if self.expect_status.is_empty() {
                        json!("2xx")
                    } else {
                        json!(self.expect_status)
                    },
                )
        };

        let bad_status = statuses.iter().find(|s| !self.status_ok(**s));
        if let Some(&code) = bad_status {
            let status_line =
                crate::http::status_line(reqwest::StatusCode::from_u16(code).unwrap_or(reqwest::StatusCode::OK));
            let expected = if self.expect_status.is_empty() {
                "2xx".to_string()
            } else {
                self.expect_status
                    .iter()
                    .map(u16::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let mut o = base(Outcome::fail(format!(
                "GET {} answered {status_line} (expected {expected})",
                self.path
            )))
            .evidence("body_excerpt", resp.excerpt(200))
            .cause(
                format!("check:{}", cx.check.id),
                format!("{} on `{}` answers {status_line}", self.path, cx.target_name()),
            );
            o = o.remediation(match code {
                404 => format!(
                    "the `{}` service has no route {}: add the endpoint or fix the check's `path`",
                    cx.target_name(),
                    self.path
                ),
                401 | 403 => "the endpoint demands credentials: give the check a `token`, or make the endpoint public"
                    .to_string(),
                500..=599 => format!(
                    "{} reports itself unhealthy or crashes: read the service's logs for the failing dependency",
                    self.path
                ),
                _ => format!("make {} answer {expected}", self.path),
            });
            return o;
        }

        if let Some(limit) = self.max_latency
            && stat > limit
        {
            return base(Outcome::fail(format!(
                "{} latency {} exceeds the {} limit",
                stat_name,
                fmt_duration(stat),
                fmt_duration(limit)
            )))
            .expected("max_latency_ms", limit.as_millis() as u64)
            .cause(
                format!("check:{}", cx.check.id),
                format!(
                    "{} on `{}` is slow ({stat_name} {})",
                    self.path,
                    cx.target_name(),
                    fmt_duration(stat)
                ),
            )
            .remediation(format!(
                "profile {}: a health endpoint should answer from memory, not wait on slow dependencies",
                self.path
            ));
        }

        if !self.expect_json.is_empty() {
            if resp.looks_like_html() {
                return base(Outcome::fail(format!(
                    "{} answered an HTML page where JSON was expected",
                    self.path
                )))
                .evidence("content_type", resp.content_type().unwrap_or("").to_string())
                .evidence("body_excerpt", resp.excerpt(200))
                .cause(
                    format!("check:{}", cx.check.id),
                    format!("{} serves HTML, not JSON", self.path),
                )
                .remediation(
                    "a proxy or login page may be answering instead of the service: fix the route or the target URL",
                );
            }
            let doc: Value = match serde_json::from_slice(&resp.body) {
                Ok(v) => v,
                Err(e) => {
                    return base(Outcome::fail(format!("{} did not answer valid JSON: {e}", self.path)))
                        .evidence("body_excerpt", resp.excerpt(200))
                        .cause(
                            format!("check:{}", cx.check.id),
                            format!("{} answers invalid JSON", self.path),
                        )
                        .remediation(format!("make {} return a JSON document", self.path));
                }
            };
            let mut mismatches = Vec::new();
            let mut seen = serde_json::Map::new();
            for (path, want) in &self.expect_json {
                let got = lookup(&doc, path);
                seen.insert(path.clone(), got.cloned().unwrap_or(Value::Null));
                if !got.is_some_and(|g| json_matches(g, want)) {
                    mismatches.push(match got {
                        Some(g) => format!("`{path}` is {g}, expected {want}"),
                        None => format!("`{path}` is missing, expected {want}"),
                    });
                }
            }
            let o = base(Outcome::pass(String::new()))
                .evidence("json", Value::Object(seen))
                .expected("json", json!(self.expect_json));
            if !mismatches.is_empty() {
                let mut o = o;
                o.status = Status::Fail;
                o.message = format!("{}: {}", self.path, mismatches.join("; "));
                return o
                    .cause(
                        format!("check:{}", cx.check.id),
                        format!("{} reports {}", self.path, mismatches.join("; ")),
                    )
                    .remediation("the service reports a degraded state: fix the component the field names");
            }
        }
        let mut o = base(Outcome::pass(format!(
            "{} answered {} in {}",
            self.path,
            resp.status_line(),
            fmt_duration(stat)
        )));
        if let Some(limit) = self.max_latency {
            o = o.expected("max_latency_ms", limit.as_millis() as u64);
        }
        o
    }
}

impl HttpSpec {
    fn status_ok(&self, code: u16) -> bool {
        if self.expect_status.is_empty() {
            (200..300).contains(&code)
        } else {
            self.expect_status.contains(&code)
        }
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// Max, or the nearest-rank 95th percentile, of the sample latencies.
fn latency_stat(samples: &[Duration], stat: LatencyStat) -> Duration {
    let mut sorted = samples.to_vec();
    sorted.sort();
    match stat {
        LatencyStat::Max => sorted.last().copied().unwrap_or_default(),
        LatencyStat::P95 => {
            if sorted.is_empty() {
                return Duration::ZERO;
            }
            let rank = ((0.95 * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
            sorted[rank - 1]
        }
    }
}

/// Follows a dotted path (`checks.db.status`, `items.0.name`) into a JSON document.
fn lookup<'a>(doc: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(doc, |v, part| match v {
        Value::Object(m) => m.get(part),
        Value::Array(a) => part.parse::<usize>().ok().and_then(|i| a.get(i)),
        _ => None,
    })
}

/// Compares loosely where YAML and JSON disagree: numbers by value, and a
/// string expectation against a number or bool by its text.
fn json_matches(got: &Value, want: &Value) -> bool {
    match (got, want) {
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (Value::String(a), Value::String(b)) => a == b,
        (Value::Number(a), Value::String(b)) => a.to_string() == *b,
        (Value::Bool(a), Value::String(b)) => a.to_string() == *b,
        (a, b) => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(ms: u64) -> Duration {
        Duration::from_millis(ms)
    }

    #[test]
    fn p95_uses_nearest_rank() {
        let samples: Vec<_> = (1..=20).map(d).collect();
        assert_eq!(latency_stat(&samples, LatencyStat::P95), d(19));
        assert_eq!(latency_stat(&samples, LatencyStat::Max), d(20));
        assert_eq!(latency_stat(&[d(7)], LatencyStat::P95), d(7));
        assert_eq!(latency_stat(&[], LatencyStat::P95), Duration::ZERO);
    }

    #[test]
    fn lookup_follows_objects_and_arrays() {
        let doc = json!({"status": "ok", "checks": {"db": {"up": true}}, "items": [{"n": 1}]});
        assert_eq!(lookup(&doc, "status"), Some(&json!("ok")));
        assert_eq!(lookup(&doc, "checks.db.up"), Some(&json!(true)));
        assert_eq!(lookup(&doc, "items.0.n"), Some(&json!(1)));
        assert_eq!(lookup(&doc, "items.1.n"), None);
        assert_eq!(lookup(&doc, "status.x"), None);
    }

    #[test]
    fn json_match_is_type_tolerant_only_where_yaml_is_ambiguous() {
        assert!(json_matches(&json!(1), &json!(1.0)));
        assert!(json_matches(&json!(true), &json!("true")));
        assert!(json_matches(&json!(200), &json!("200")));
        assert!(!json_matches(&json!("ok"), &json!("degraded")));
        assert!(!json_matches(&json!("true"), &json!(true)));
    }
}

#[cfg(test)]
mod load_tests {
    //! The kind's loader messages, each with its location.
    use crate::gate::testing::*;

    #[test]
    fn http_fields_are_validated_where_written() {
        field_rejected("http", "path: health", "path `health` must start with `/`", Some("write `/health`"));
        field_rejected("http", "samples: 0", "samples must be between 1 and 1000, not 0", None);
        field_rejected("http", "samples: many", "`samples` must be a whole number (e.g. 5), found the string \"many\"", None);
        field_rejected("http", "samples: -2", "`samples` must be zero or a positive whole number", None);
        field_rejected("http", "latency_stat: p99", "unknown latency_stat `p99`", Some("`max` or `p95`"));
        field_rejected("http", "max_latency: fast", "invalid max_latency `fast`", None);
        field_rejected("http", "expect_status: 200", "`expect_status` must be a list of status codes", None);
        field_rejected("http", "expect_json: [a]", "`expect_json` must be a mapping", None);
        // A bad item is reported at the item, not at the list.
        rejects_at(&one_check("http", &["expect_status: [200, \"2xx\", 999]"]), FIELD_LINE, 30, "`expect_status` must be a list of status codes", None);
        rejects_at(&one_check("http", &["expect_status: [200, \"2xx\", 999]"]), FIELD_LINE, 37, "`999` is not an HTTP status code", None);
    }
}
