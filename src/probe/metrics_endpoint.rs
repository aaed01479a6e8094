//! `metrics_endpoint`: `/metrics` must refuse anonymous requests, answer the
//! bearer token with a valid exposition, and expose the expected families
//! with the right types and well-formed histograms.
//!
//! Serving metrics without authentication is reported as a security finding:
//! a critical blocker whatever the requirement's own severity.

use std::collections::BTreeMap;

use serde_json::json;

use super::blocking::off_runtime;
use super::registry::Kind;
use super::{Outcome, ProbeContext, Status};
use crate::exposition::{self, Format, MetricType};
use crate::gate::fields::{FieldDef, FieldType as T, SpecCx};
use crate::http::{METRICS_CAP, Response, join_url};

#[derive(Debug, Clone)]
pub struct MetricsSpec {
    pub path: String,
    pub token: Option<String>,
    pub expect_families: Vec<String>,
    pub family_types: BTreeMap<String, String>,
    pub anonymous_status: Vec<u16>,
}

/// The metric types an exposition may declare.
const TYPES: &[&str] = &[
    "counter",
    "gauge",
    "histogram",
    "summary",
    "untyped",
    "unknown",
    "stateset",
    "info",
    "gaugehistogram",
];

impl Kind for MetricsSpec {
    const NAME: &'static str = "metrics_endpoint";
    const FIELDS: &'static [FieldDef] = &[
        FieldDef::new("path", T::Str, "Path of the exposition (default `/metrics`).", "/metrics"),
        FieldDef::new("token", T::SecretRef, "The name of the secret sent as `Authorization: Bearer <secret>` (required).", "metrics_token"),
        FieldDef::new("expect_families", T::StrList, "Metric families that must be exposed.", "[http_requests_total]"),
        FieldDef::new("family_types", T::StrMap, "Required type per family; families named `*_total` default to `counter`.", "{http_request_duration_seconds: histogram}"),
        FieldDef::new("anonymous_status", T::StatusList, "Statuses that count as refused without a token (default `[401, 403]`; `[200]` declares public metrics).", "[401, 403]"),
    ];

    fn load(f: &mut SpecCx<'_, '_>) -> Self {
        let path = f.path("/metrics");
        let token = f.secret("token");
        let mut family_types = BTreeMap::new();
        for (name, ty, loc) in f.str_map("family_types").unwrap_or_default() {
            if TYPES.contains(&ty.as_str()) {
                family_types.insert(name, ty);
            } else {
                f.err(
                    loc,
                    format!("unknown metric type `{ty}` for `{name}`"),
                    Some(format!("types: {}", TYPES.join(", "))),
                );
            }
        }
        let expect_families = f.strings("expect_families").unwrap_or_default();
        for fam in &expect_families {
            if !family_types.contains_key(fam) && fam.ends_with("_total") {
                family_types.insert(fam.clone(), "counter".to_string());
            }
        }
        if f.is_absent("token") {
            let id = f.id().to_string();
            f.err(
                f.id_loc(),
                format!("metrics_endpoint check `{id}` needs a `token`"),
                Some("name the secret holding the bearer token, e.g. `token: metrics_token`".to_string()),
            );
        }
        let anonymous_status = f.statuses("anonymous_status").unwrap_or_else(|| vec![401, 403]);
        MetricsSpec {
            path,
            token,
            expect_families,
            family_types,
            anonymous_status,
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

impl MetricsSpec {
    async fn run(&self, cx: &ProbeContext<'_>) -> Outcome {
        let url = join_url(cx.base_url(), &self.path);
        let token_name = self.token.as_deref();
        let token = token_name.and_then(|t| cx.secret(t));
        // Both requests at once: the check costs one round trip, not two.
        let (anon, authed) = tokio::join!(
            cx.http
                .get(&url, crate::http::Auth::None, &[], METRICS_CAP, cx.deadline),
            cx.http.get(&url, token, &[], METRICS_CAP, cx.deadline),
        );
        let anon = match anon {
            Ok(r) => r,
            Err(e) => {
                let mut o = cx.transport_failure(&url, &e);
                o.reproduce = Some(cx.curl(&url, token_name));
                return o;
            }
        };
        let authed = match authed {
            Ok(r) => r,
            Err(e) => {
                let mut o = cx.transport_failure(&url, &e);
                o.reproduce = Some(cx.curl(&url, token_name));
                return o;
            }
        };
        let repro_auth = cx.curl(&url, token_name);
        let expected_anon: Vec<u16> = self.anonymous_status.clone();
        let anon_code = anon.status.as_u16();
        // Copied out so the body can move to the parse's thread.
        let token_status = authed.status.as_u16();
        let base = |o: Outcome| {
            o.evidence("url", url.clone())
                .evidence("anonymous_status", anon.status.as_u16())
                .evidence("token_status", token_status)
                .expected("anonymous_status", json!(expected_anon))
                .expected("token_status", 200)
                .expected("families", json!(self.expect_families))
        };

        // A gate may declare public metrics with `anonymous_status: [200]`.
        if anon.status.is_success() && !self.anonymous_status.contains(&anon_code) {
            let mut o = base(Outcome::fail(format!(
                "{} is served without authentication (anonymous GET answered {})",
                self.path,
                anon.status_line()
            )))
            .cause(
                format!("security:metrics-open:{}", cx.target_name()),
                format!("{} on `{}` is readable by anyone: metrics leak internals and enable enumeration", self.path, cx.target_name()),
            )
            .remediation(format!(
                "require `Authorization: Bearer {}` on {}: reject requests without it with 401 (e.g. an auth middleware \
                 mounted before the metrics handler), then re-run",
                token_name.map(|t| cx.placeholder(t)).unwrap_or_else(|| "<token>".into()),
                self.path
            ))
            .reproduce(cx.curl(&url, None));
            o.security = true;
            return o;
        }
        if !self.anonymous_status.contains(&anon_code) {
            return base(Outcome::fail(format!(
                "anonymous GET {} answered {}, expected {}",
                self.path,
                anon.status_line(),
                list(&self.anonymous_status)
            )))
            .evidence("anonymous_body_excerpt", anon.excerpt(200))
            .cause(
                format!("check:{}", cx.check.id),
                format!(
                    "{} on `{}` answers {} to anonymous requests",
                    self.path,
                    cx.target_name(),
                    anon.status_line()
                ),
            )
            .remediation(if anon_code == 404 {
                format!(
                    "no route {}: mount the metrics handler there or fix the check's `path`",
                    self.path
                )
            } else {
                format!(
                    "anonymous requests should get 401 (or 403); {} suggests the endpoint is broken",
                    anon.status_line()
                )
            })
            .reproduce(cx.curl(&url, None));
        }

        if authed.status.as_u16() == 401 || authed.status.as_u16() == 403 {
            return base(Outcome::fail(format!(
                "the bearer token was rejected: GET {} with the token answered {}",
                self.path,
                authed.status_line()
            )))
            .cause(
                format!("check:{}", cx.check.id),
                format!("`{}` rejects the metrics token the gate sends", cx.target_name()),
            )
            .remediation(format!(
                "the gate's {} differs from the token the backend expects: use the same value in both (and in Prometheus' \
                 `authorization.credentials_file`)",
                token_name.map(|t| cx.placeholder(t)).unwrap_or_default()
            ))
            .reproduce(repro_auth);
        }
        if !authed.status.is_success() {
            return base(Outcome::fail(format!(
                "GET {} with the token answered {}",
                self.path,
                authed.status_line()
            )))
            .evidence("body_excerpt", authed.excerpt(200))
            .cause(
                format!("check:{}", cx.check.id),
                format!(
                    "{} on `{}` answers {} with a valid token",
                    self.path,
                    cx.target_name(),
                    authed.status_line()
                ),
            )
            .remediation("the metrics handler fails: read the backend's logs around the request")
            .reproduce(repro_auth);
        }

        self.judge_exposition(cx, authed, base).await.reproduce(repro_auth)
    }
}

impl MetricsSpec {
    async fn judge_exposition(
        &self,
        cx: &ProbeContext<'_>,
        mut resp: Response,
        base: impl Fn(Outcome) -> Outcome,
    ) -> Outcome {
        let content_type = resp.content_type().map(str::to_string);
        let format = Format::from_content_type(content_type.as_deref());
        let format_name = match format {
            Format::OpenMetrics => "openmetrics",
            Format::Text => "text 0.0.4",
        };
        let cause_key = format!("check:{}", cx.check.id);
        if resp.looks_like_html() {
            return base(Outcome::fail(format!(
                "{} answered an HTML page, not an exposition",
                self.path
            )))
            .evidence("content_type", content_type.unwrap_or_default())
            .evidence("body_excerpt", resp.excerpt(200))
            .cause(cause_key, format!("{} serves HTML instead of metrics", self.path))
            .remediation("a proxy, SPA fallback or login page answers this path: route it to the metrics handler");
        }
        let body_bytes = resp.body.len();
        let body = std::mem::take(&mut resp.body);
        let wanted = self.expect_families.clone();
        let summary = match off_runtime(move || summarize(&body, format, &wanted)).await {
            Ok(summary) => summary,
            Err(e) => {
                return base(Outcome::error(e.to_string()))
                    .cause(format!("panic:{}", cx.check.id), "the `metrics_endpoint` probe crashed")
                    .remediation("report this bug with the check's definition and `-v` output");
            }
        };
        let exp = match summary {
            Ok(e) => e,
            Err(e) => {
                return base(Outcome::fail(format!("malformed exposition ({format_name}) at line {}:{}: {}", e.line, e.column, e.message)))
                    .evidence("content_type", content_type.unwrap_or_default())
                    .evidence("parse_error", e.to_string())
                    .evidence("line", e.line)
                    .cause(cause_key, format!("{} serves a malformed exposition (line {}: {})", self.path, e.line, e.message))
                    .remediation(format!(
                        "fix the metric at line {} of the exposition; `curl … | medianest-gate lint-metrics -` shows every problem",
                        e.line
                    ));
            }
        };
        let mut missing = Vec::new();
        let mut wrong_type = Vec::new();
        let mut found = serde_json::Map::new();
        for (name, found_type) in self.expect_families.iter().zip(&exp.types) {
            match found_type {
                None => missing.push(name.clone()),
                Some(ty) => {
                    let ty = ty.to_string();
                    found.insert(name.clone(), json!(ty));
                    if let Some(want) = self.family_types.get(name)
                        && !type_matches(&ty, want)
                    {
                        wrong_type.push(format!("`{name}` is a {ty}, expected {want}"));
                    }
                }
            }
        }
        let problems = &exp.problems;
        let o = base(Outcome::pass(String::new()))
            .evidence("format", format_name)
            .evidence("families_found", serde_json::Value::Object(found))
            .evidence("family_count", exp.family_count)
            .evidence("series_count", exp.series_count)
            .evidence("body_bytes", body_bytes);
        if !missing.is_empty() {
            let mut o = o.evidence("families_missing", json!(missing));
            o.status = Status::Fail;
            o.message = format!("missing metric families: {}", missing.join(", "));
            return o
                .cause(cause_key, format!("{} lacks {}", self.path, missing.join(", ")))
                .remediation(
                    "instrument the HTTP layer (e.g. prom-client's default HTTP metrics or an express middleware \
                     recording a counter and a duration histogram) and expose them on this registry",
                );
        }
        if !wrong_type.is_empty() {
            let mut o = o;
            o.status = Status::Fail;
            o.message = format!("wrong metric types: {}", wrong_type.join("; "));
            return o
                .cause(cause_key, format!("{}: {}", self.path, wrong_type.join("; ")))
                .remediation(
                    "declare the metric with the expected type; p95 needs a histogram, not a summary or gauge",
                );
        }
        if let Some(first) = problems.first() {
            let mut o = o.evidence(
                "histogram_problems",
                json!(
                    problems
                        .iter()
                        .take(SHOWN_PROBLEMS)
                        .map(|p| format!("line {}: {}", p.line, p.message))
                        .collect::<Vec<_>>()
                ),
            );
            o.status = Status::Fail;
            o.message = format!("malformed histogram at line {}: {}", first.line, first.message);
            return o
                .cause(cause_key, format!("{} exposes a malformed histogram `{}`", self.path, first.family))
                .remediation("histograms need cumulative buckets, a `+Inf` bucket and `_count` equal to it: use the client library's histogram type rather than hand-written lines");
        }
        let mut o = o;
        o.message = format!(
            "{} refuses anonymous requests ({}) and serves {} families ({format_name}) to the token",
            self.path,
            o.evidence.get("anonymous_status").cloned().unwrap_or_default(),
            exp.family_count
        );
        o
    }
}

/// What the probe needs of an exposition, owned, so the parse can run off
/// the runtime thread and leave the borrowed [`exposition::Exposition`] there.
struct Summary {
    /// Per expected family, in the spec's order: its type when exposed.
    types: Vec<Option<MetricType>>,
    family_count: usize,
    series_count: usize,
    /// The report shows this many; the rest would only cost memory.
    problems: Vec<exposition::Problem>,
}

/// How many histogram problems a report lists.
const SHOWN_PROBLEMS: usize = 10;

fn summarize(body: &[u8], format: Format, wanted: &[String]) -> Result<Summary, exposition::ParseError> {
    let exp = exposition::parse_bytes(body, format)?;
    let mut problems = exposition::histogram_problems(&exp);
    problems.truncate(SHOWN_PROBLEMS);
    Ok(Summary {
        types: wanted
            .iter()
            .map(|name| exp.find_family(name).map(|f| f.metric_type))
            .collect(),
        family_count: exp.families.len(),
        series_count: exp.series_count(),
        problems,
    })
}

/// `untyped` (text) and `unknown` (OpenMetrics) name the same thing.
fn type_matches(got: &str, want: &str) -> bool {
    got == want || matches!((got, want), ("untyped", "unknown") | ("unknown", "untyped"))
}

fn list(codes: &[u16]) -> String {
    codes.iter().map(u16::to_string).collect::<Vec<_>>().join(" or ")
}

#[cfg(test)]
mod load_tests {
    //! The kind's loader messages, each with its location.
    use crate::gate::testing::*;

    #[test]
    fn metrics_endpoint_fields_are_validated_where_written() {
        requires("metrics_endpoint", &[], "metrics_endpoint check `c` needs a `token`");
        // Located at the bad value inside the mapping.
        rejects_at(&one_check("metrics_endpoint", &["token: s", "family_types: {x: gauges}"]), FIELD_LINE + 1, 27, "unknown metric type `gauges` for `x`", Some("types: counter"));
        rejects_at(&one_check("metrics_endpoint", &["anonymous_status: [42]"]), FIELD_LINE, 28, "`42` is not an HTTP status code", None);
        field_rejected("metrics_endpoint", "expect_families: http_requests_total", "`expect_families` must be a list of strings", None);
        let g = loads(&one_check("metrics_endpoint", &["token: s", "expect_families: [http_requests_total]"]));
        let crate::probe::CheckSpec::MetricsEndpoint(spec) = &g.requirements[0].checks[0].spec else {
            panic!("a metrics_endpoint spec")
        };
        assert_eq!(spec.path, "/metrics");
        assert_eq!(spec.anonymous_status, vec![401, 403]);
        assert_eq!(spec.family_types.get("http_requests_total").map(String::as_str), Some("counter"));
    }
}
