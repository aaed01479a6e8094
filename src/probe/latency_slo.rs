//! `latency_slo`: a latency quantile from a Prometheus histogram, under a
//! limit, with enough requests in the window to trust it.
//!
//! Three queries run at once: the quantile
//! (`histogram_quantile(q, sum by (le) (rate(m_bucket{sel}[w])))`), the request
//! count (`sum(increase(m_count{sel}[w]))`) and the bucket bounds. Too little
//! traffic is "insufficient traffic" (an `error`), never a pass; a limit that
//! falls between two bucket bounds is flagged, because the quantile there is
//! a linear interpolation, not a measurement.

use std::time::Duration;

use serde_json::json;

use super::prometheus_api::{QueryResult, promql_curl, query};
use super::promql::fmt_num;
use super::registry::Kind;
use super::{Outcome, ProbeContext, Status};
use crate::gate::fields::{FieldDef, FieldType as T, SpecCx};

impl LatencySpec {
    fn selector_braces(&self) -> String {
        if self.selector.is_empty() {
            String::new()
        } else {
            format!("{{{}}}", self.selector)
        }
    }

    pub fn quantile_query(&self) -> String {
        format!(
            "histogram_quantile({}, sum by (le) (rate({}_bucket{}[{}])))",
            self.quantile,
            self.metric,
            self.selector_braces(),
            self.window
        )
    }

    fn count_query(&self) -> String {
        format!(
            "sum(increase({}_count{}[{}]))",
            self.metric,
            self.selector_braces(),
            self.window
        )
    }

    fn buckets_query(&self) -> String {
        format!("count by (le) ({}_bucket{})", self.metric, self.selector_braces())
    }

    fn label(&self) -> String {
        format!("p{}", fmt_num(self.quantile * 100.0))
    }
}

#[derive(Debug, Clone)]
pub struct LatencySpec {
    /// Histogram base name, e.g. `http_request_duration_seconds`.
    pub metric: String,
    /// Label matchers without braces, e.g. `job="medianest-backend"`.
    pub selector: String,
    pub quantile: f64,
    pub max: Duration,
    /// PromQL range, e.g. `5m`.
    pub window: String,
    /// Fewer requests than this in the window make the quantile untrustworthy.
    pub min_requests: f64,
}

impl Kind for LatencySpec {
    const NAME: &'static str = "latency_slo";
    const FIELDS: &'static [FieldDef] = &[
        FieldDef::new("metric", T::Str, "Histogram base name (required).", "http_request_duration_seconds"),
        FieldDef::new("selector", T::Str, "Label matchers, with or without braces.", "'job=\"medianest-backend\"'"),
        FieldDef::new("quantile", T::Number, "Quantile to compute, in (0, 1) (default 0.95).", "0.95"),
        FieldDef::new("max", T::Duration, "Limit for the quantile (required).", "600ms"),
        FieldDef::new("window", T::PromDuration, "PromQL range window (default `5m`).", "5m"),
        FieldDef::new("min_requests", T::Number, "Requests needed in the window to trust the quantile (default 100).", "100"),
    ];

    fn load(f: &mut SpecCx<'_, '_>) -> Self {
        let metric = f.required_string("metric");
        let metric = metric.strip_suffix("_bucket").map(str::to_string).unwrap_or(metric);
        let selector = f.string("selector").map(|(s, _)| s).unwrap_or_default();
        let selector = selector.trim().trim_start_matches('{').trim_end_matches('}').to_string();
        let quantile = match f.number("quantile") {
            Some(q) if *q.get() > 0.0 && *q.get() < 1.0 => *q.get(),
            Some(q) => {
                f.err(q.loc(), format!("quantile {} is outside (0, 1)", q.get()), Some("write e.g. `quantile: 0.95`".to_string()));
                0.95
            }
            None => 0.95,
        };
        let max = match f.duration("max") {
            Some(m) => m,
            None => {
                if f.is_absent("max") {
                    let id = f.id().to_string();
                    f.err(f.id_loc(), format!("latency_slo check `{id}` needs `max`"), Some("add e.g. `max: 600ms`".to_string()));
                }
                Duration::ZERO
            }
        };
        let (window, _) = f.prom_duration("window", "5m");
        let min_requests = match f.number("min_requests") {
            Some(n) if *n.get() >= 0.0 => *n.get(),
            Some(n) => {
                f.err(n.loc(), "min_requests must be zero or positive", None);
                100.0
            }
            None => 100.0,
        };
        LatencySpec {
            metric,
            selector,
            quantile,
            max,
            window,
            min_requests,
        }
    }

    async fn probe(&self, cx: &ProbeContext<'_>) -> Outcome {
        self.run(cx).await
    }

    fn reproduce(&self, cx: &ProbeContext<'_>) -> String {
        promql_curl(cx, &self.quantile_query())
    }
}

impl LatencySpec {
    async fn run(&self, cx: &ProbeContext<'_>) -> Outcome {
        let (qq, cq, bq) = (self.quantile_query(), self.count_query(), self.buckets_query());
        let (quantile, count, buckets) = tokio::join!(query(cx, &qq), query(cx, &cq), query(cx, &bq));
        let repro = promql_curl(cx, &qq);
        let label = self.label();
        let limit_s = self.max.as_secs_f64();
        let key = format!("check:{}", cx.check.id);
        let base = |o: Outcome| {
            o.evidence("query", qq.clone())
                .evidence("window", self.window.clone())
                .expected(&format!("{label}_ms"), format!("< {}", fmt_num(limit_s * 1000.0)))
                .expected("min_requests", self.min_requests)
                .reproduce(repro.clone())
        };
        let (quantile, count, buckets) = match (quantile, count, buckets) {
            (Ok(a), Ok(b), Ok(c)) => (a, b, c),
            (Err(o), _, _) | (_, Err(o), _) | (_, _, Err(o)) => return base(o),
        };

        let bounds = bucket_bounds(&buckets);
        let requests = match &count {
            QueryResult::Vector(v) if v.is_empty() => None,
            QueryResult::Vector(v) => Some(v.iter().map(|(_, x)| *x).sum::<f64>()),
            QueryResult::Scalar(x) => Some(*x),
            _ => None,
        };
        let Some(requests) = requests else {
            return base(Outcome::error(format!("no data: no `{}_count{}` series in Prometheus", self.metric, self.selector_braces())))
                .cause(key, format!("Prometheus has no `{}` histogram for {}", self.metric, self.selector_braces()))
                .remediation("the backend does not expose the histogram, or Prometheus does not scrape it: check the `prometheus-scrape` requirement and the selector");
        };
        // NaN < min_requests is false: a NaN count would slip past the
        // traffic guard and pass. A count must be a finite, non-negative number.
        if !requests.is_finite() || requests < 0.0 {
            return base(Outcome::error(format!(
                "the request count over {} is {}, not a count: the quantile cannot be trusted",
                self.window,
                fmt_num(requests)
            )))
            .evidence("requests_in_window", fmt_num(requests))
            .cause(key, format!("`{}_count` gives a non-finite or negative request count", self.metric))
            .remediation("check the histogram's `_count` series: a counter reset, a bad recording rule or a broken exporter yields such values");
        }
        let base = |o: Outcome| {
            base(o)
                .evidence("requests_in_window", fmt_num(requests.round()))
                .evidence(
                    "bucket_bounds",
                    json!(bounds.iter().map(|b| fmt_num(*b)).collect::<Vec<_>>()),
                )
        };
        if !bounds.is_empty() && !bounds.iter().any(|b| b.is_infinite()) {
            return base(Outcome::error(format!(
                "`{}` has no le=\"+Inf\" bucket: the quantile is undefined",
                self.metric
            )))
            .cause(key, format!("the `{}` histogram lacks its +Inf bucket", self.metric))
            .remediation(
                "expose the histogram with the client library's histogram type, which always adds le=\"+Inf\"",
            );
        }
        if requests < self.min_requests {
            return base(Outcome::new(
                Status::Error,
                format!(
                    "insufficient traffic: {} requests in {} (need ≥ {}) to trust the {label}",
                    fmt_num(requests.round()),
                    self.window,
                    fmt_num(self.min_requests)
                ),
            ))
            .cause(
                key,
                format!("too little traffic in the last {} to judge the {label}", self.window),
            )
            .remediation("run the smoke/load test against staging first, or widen `window`");
        }
        let value = match &quantile {
            QueryResult::Vector(v) if v.len() == 1 => v[0].1,
            QueryResult::Scalar(x) => *x,
            QueryResult::Vector(v) if v.is_empty() => {
                return base(Outcome::error(format!("no data: `{qq}` returned an empty result")))
                    .cause(key, "the quantile query returns nothing".to_string())
                    .remediation("check that the bucket series exist for the selector");
            }
            _ => {
                return base(Outcome::error(format!("`{qq}` did not return one value")))
                    .cause(key, "the quantile query returns several series".to_string())
                    .remediation("aggregate with `sum by (le)` (the gate's query does) and check the selector");
            }
        };
        if value.is_nan() {
            return base(Outcome::error(format!(
                "the {label} is NaN: no requests were observed in the window"
            )))
            .cause(key, format!("the {label} cannot be computed (NaN)"))
            .remediation("make sure requests reach the backend during the window");
        }
        if value == f64::NEG_INFINITY || value < 0.0 {
            return base(Outcome::error(format!(
                "the {label} is {}: a latency cannot be negative",
                fmt_num(value)
            )))
            .cause(key, format!("the {label} query returns an impossible value ({})", fmt_num(value)))
            .remediation("check the histogram's buckets: negative `le` bounds or a broken recording rule yield such values");
        }
        // Only a quantile in the limit's own bucket is decided by the
        // interpolation; one in another bucket is over or under for certain.
        let interpolated = limit_between_buckets(limit_s, &bounds).filter(|(lo, hi)| value > *lo && value <= *hi);
        let mut o = if value > limit_s {
            let shown = if value.is_infinite() {
                format!(
                    "beyond the largest finite bucket ({})",
                    bounds
                        .iter()
                        .rev()
                        .find(|b| b.is_finite())
                        .map(|b| format!("{}s", fmt_num(*b)))
                        .unwrap_or_default()
                )
            } else {
                format!("{} ms", fmt_num((value * 1000.0).round()))
            };
            let msg = format!("{label} is {shown}, over the {} ms limit", fmt_num(limit_s * 1000.0));
            base(Outcome::fail(msg.clone()))
                .cause(key, format!("{label} latency of `{}` is {shown} (limit {} ms)", self.metric, fmt_num(limit_s * 1000.0)))
                .remediation("profile the slowest routes (`topk(5, histogram_quantile(0.95, sum by (le, route) (rate(…))))`) and fix the slow dependency before release")
        } else {
            base(Outcome::pass(format!(
                "{label} is {} ms (limit {} ms) over {} requests",
                fmt_num((value * 1000.0).round()),
                fmt_num(limit_s * 1000.0),
                fmt_num(requests.round())
            )))
        };
        o = o.evidence(
            &format!("{label}_ms"),
            if value.is_finite() {
                json!((value * 100_000.0).round() / 100.0)
            } else {
                json!("+Inf")
            },
        );
        if let Some((lo, hi)) = interpolated {
            o.warnings.push(format!(
                "the {} ms limit falls between the buckets le=\"{}\" and le=\"{}\": the {label} near it is interpolated linearly, not measured; add a bucket at {} for an exact verdict",
                fmt_num(limit_s * 1000.0),
                fmt_num(lo),
                fmt_num(hi),
                fmt_num(limit_s)
            ));
            o = o.evidence("interpolated_between", json!([fmt_num(lo), fmt_num(hi)]));
        }
        o
    }
}

/// The `le` bounds present, sorted.
fn bucket_bounds(r: &QueryResult) -> Vec<f64> {
    let mut v: Vec<f64> = match r {
        QueryResult::Vector(items) => items
            .iter()
            .filter_map(|(labels, _)| labels.get("le"))
            .filter_map(|le| match le.as_str() {
                "+Inf" | "Inf" => Some(f64::INFINITY),
                other => other.parse().ok(),
            })
            .collect(),
        _ => Vec::new(),
    };
    v.sort_by(f64::total_cmp);
    v.dedup();
    v
}

/// The bucket bounds around `limit` when it is not itself a bound.
fn limit_between_buckets(limit: f64, bounds: &[f64]) -> Option<(f64, f64)> {
    if bounds.iter().any(|b| (b - limit).abs() < 1e-9) {
        return None;
    }
    let hi = bounds.iter().copied().find(|b| *b > limit)?;
    let lo = bounds.iter().copied().rev().find(|b| *b < limit).unwrap_or(0.0);
    Some((lo, hi))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::time::Duration;

    fn spec() -> LatencySpec {
        LatencySpec {
            metric: "http_request_duration_seconds".into(),
            selector: r#"job="medianest-backend""#.into(),
            quantile: 0.95,
            max: Duration::from_millis(600),
            window: "5m".into(),
            min_requests: 100.0,
        }
    }

    #[test]
    fn queries_are_built_as_documented() {
        let s = spec();
        assert_eq!(
            s.quantile_query(),
            r#"histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{job="medianest-backend"}[5m])))"#
        );
        assert_eq!(
            s.count_query(),
            r#"sum(increase(http_request_duration_seconds_count{job="medianest-backend"}[5m]))"#
        );
        assert_eq!(s.label(), "p95");
        let mut s = s;
        s.selector.clear();
        assert_eq!(
            s.count_query(),
            "sum(increase(http_request_duration_seconds_count[5m]))"
        );
    }

    fn le(bounds: &[&str]) -> QueryResult {
        QueryResult::Vector(
            bounds
                .iter()
                .map(|b| (BTreeMap::from([("le".to_string(), b.to_string())]), 1.0))
                .collect(),
        )
    }

    #[test]
    fn bounds_are_sorted_with_inf_last() {
        assert_eq!(
            bucket_bounds(&le(&["+Inf", "0.5", "0.1", "1"])),
            vec![0.1, 0.5, 1.0, f64::INFINITY]
        );
    }

    #[test]
    fn limit_between_buckets_is_detected() {
        let b = [0.1, 0.5, 1.0, f64::INFINITY];
        assert_eq!(limit_between_buckets(0.6, &b), Some((0.5, 1.0)));
        assert_eq!(limit_between_buckets(0.5, &b), None);
        assert_eq!(limit_between_buckets(0.05, &b), Some((0.0, 0.1)));
    }
}

#[cfg(test)]
mod load_tests {
    //! The kind's loader messages, each with its location.
    use crate::gate::testing::*;

    #[test]
    fn latency_slo_fields_are_validated_where_written() {
        requires("latency_slo", &["max: 1s"], "check `c` of kind `latency_slo` needs `metric`");
        requires("latency_slo", &["metric: m"], "latency_slo check `c` needs `max`");
        let base = ["metric: m", "max: 1s"];
        let with = |extra: &str| one_check("latency_slo", &[base[0], base[1], extra]);
        rejects_at(&with("quantile: 1.5"), FIELD_LINE + 2, 19, "quantile 1.5 is outside (0, 1)", None);
        rejects_at(&with("min_requests: -1"), FIELD_LINE + 2, 23, "min_requests must be zero or positive", None);
        rejects_at(&with("window: 5mins"), FIELD_LINE + 2, 17, "invalid window", Some("`5m`"));
        rejects_at(&with("window: 0"), FIELD_LINE + 2, 17, "window must be greater than zero", None);
        let g = loads(&with("selector: '{job=\"api\"}'"));
        let crate::probe::CheckSpec::LatencySlo(spec) = &g.requirements[0].checks[0].spec else {
            panic!("a latency_slo spec")
        };
        assert_eq!(spec.selector, "job=\"api\"");
        assert_eq!(spec.window, "5m");
    }
}
