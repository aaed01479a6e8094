//! `promql`: an instant query compared to a threshold. An empty result is
//! "no data" (an `error`, never a pass); NaN cannot satisfy any comparison.

use serde_json::json;

use super::prometheus_api::{QueryResult, labels_text, promql_curl, query};
use super::registry::Kind;
use super::{Outcome, ProbeContext};
use crate::gate::fields::{FieldDef, FieldType as T, SpecCx};

#[derive(Debug, Clone)]
pub struct PromqlSpec {
    pub query: String,
    pub op: Op,
    pub threshold: f64,
}

/// Comparison operators for thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
}

impl Op {
    pub fn parse(s: &str) -> Option<Op> {
        Some(match s {
            "<" => Op::Lt,
            "<=" => Op::Le,
            ">" => Op::Gt,
            ">=" => Op::Ge,
            "==" => Op::Eq,
            _ => return None,
        })
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Eq => "==",
        }
    }
    pub fn holds(self, value: f64, threshold: f64) -> bool {
        match self {
            Op::Lt => value < threshold,
            Op::Le => value <= threshold,
            Op::Gt => value > threshold,
            Op::Ge => value >= threshold,
            Op::Eq => value == threshold,
        }
    }
}

impl Kind for PromqlSpec {
    const NAME: &'static str = "promql";
    const FIELDS: &'static [FieldDef] = &[
        FieldDef::new("query", T::Str, "An instant PromQL query (required).", "'up{job=\"api\"}'"),
        FieldDef::new("op", T::Str, "`<`, `<=`, `>`, `>=` or `==` (required).", "'<'"),
        FieldDef::new("threshold", T::Number, "The value the result is compared with (required).", "0.05"),
    ];

    fn load(f: &mut SpecCx<'_, '_>) -> Self {
        let query = f.required_string("query");
        let op = match f.literal("op") {
            Some((o, loc)) => Op::parse(o.trim()).unwrap_or_else(|| {
                f.err(loc, format!("unknown operator `{o}`"), Some("use <, <=, >, >= or ==".to_string()));
                Op::Lt
            }),
            None => {
                if f.is_absent("op") {
                    let id = f.id().to_string();
                    f.err(f.id_loc(), format!("promql check `{id}` needs `op`"), Some("add e.g. `op: \"<\"`".to_string()));
                }
                Op::Lt
            }
        };
        let threshold = match f.number("threshold") {
            Some(t) => *t.get(),
            None => {
                if f.is_absent("threshold") {
                    let id = f.id().to_string();
                    f.err(
                        f.id_loc(),
                        format!("promql check `{id}` needs `threshold`"),
                        Some("add e.g. `threshold: 0.05`".to_string()),
                    );
                }
                0.0
            }
        };
        PromqlSpec { query, op, threshold }
    }

    async fn probe(&self, cx: &ProbeContext<'_>) -> Outcome {
        self.run(cx).await
    }

    fn reproduce(&self, cx: &ProbeContext<'_>) -> String {
        promql_curl(cx, &self.query)
    }
}

impl PromqlSpec {
    async fn run(&self, cx: &ProbeContext<'_>) -> Outcome {
        let repro = promql_curl(cx, &self.query);
        let result = match query(cx, &self.query).await {
            Ok(r) => r,
            Err(o) => return o.reproduce(repro),
        };
        let expected = format!("{} {}", self.op.as_str(), fmt_num(self.threshold));
        let base = |o: Outcome| {
            o.evidence("query", self.query.clone())
                .expected("value", expected.clone())
                .reproduce(repro.clone())
        };
        let series: Vec<(String, f64)> = match result {
            QueryResult::Scalar(v) => vec![("scalar".to_string(), v)],
            QueryResult::Vector(items) if items.is_empty() => {
                return base(Outcome::error(format!("no data: `{}` returned an empty result", self.query)))
                    .cause(format!("check:{}", cx.check.id), format!("`{}` returns no series", self.query))
                    .remediation("the metric is missing or the selector matches nothing: check the job is scraped and the label values are right");
            }
            QueryResult::Vector(items) => items.iter().map(|(l, v)| (labels_text(l), *v)).collect(),
            QueryResult::Text(t) => {
                return base(Outcome::error(format!(
                    "`{}` returned a string (`{t}`), not a number",
                    self.query
                )))
                .cause(
                    format!("check:{}", cx.check.id),
                    "the query returns a string".to_string(),
                )
                .remediation("make the query return a number or an instant vector");
            }
            QueryResult::Matrix(n) => {
                return base(Outcome::error(format!(
                    "`{}` returned a range vector ({n} series)",
                    self.query
                )))
                .cause(
                    format!("check:{}", cx.check.id),
                    "the query returns a range vector".to_string(),
                )
                .remediation("wrap the range selector in a function such as rate(…) or max_over_time(…)");
            }
        };
        let values = json!(
            series
                .iter()
                .map(|(l, v)| json!({"series": l, "value": fmt_num(*v)}))
                .collect::<Vec<_>>()
        );
        // NaN compares false with everything and ±Inf passes one side of
        // every threshold: neither is a measurement to judge.
        if let Some((labels, v)) = series.iter().find(|(_, v)| !v.is_finite()) {
            return base(Outcome::error(format!("`{}` is {} for {labels}", self.query, fmt_num(*v))))
                .evidence("values", values)
                .cause(
                    format!("check:{}", cx.check.id),
                    format!(
                        "`{}` evaluates to {} (NaN: e.g. 0/0, nothing happened in the window; ±Inf: a division by zero)",
                        self.query,
                        fmt_num(*v)
                    ),
                )
                .remediation("make sure the window holds data, or guard the division in the query");
        }
        let failing: Vec<&(String, f64)> = series
            .iter()
            .filter(|(_, v)| !self.op.holds(*v, self.threshold))
            .collect();
        if let Some((labels, v)) = failing.first() {
            let msg = format!(
                "{} = {} for {labels}, expected {expected}{}",
                self.query,
                fmt_num(*v),
                if failing.len() > 1 {
                    format!(" ({} of {} series fail)", failing.len(), series.len())
                } else {
                    String::new()
                }
            );
            return base(Outcome::fail(msg.clone()))
                .evidence("values", values)
                .cause(format!("check:{}", cx.check.id), msg)
                .remediation("the measured value breaks the threshold: investigate the metric's source");
        }
        base(Outcome::pass(format!(
            "{} = {} ({expected})",
            self.query,
            series.iter().map(|(_, v)| fmt_num(*v)).collect::<Vec<_>>().join(", ")
        )))
        .evidence("values", values)
    }
}

/// Numbers as people read them; infinities as Prometheus spells them.
pub fn fmt_num(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        let s = format!("{v:.6}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use super::Op;

    #[test]
    fn numbers_format_compactly() {
        assert_eq!(fmt_num(1.0), "1");
        assert_eq!(fmt_num(0.05), "0.05");
        assert_eq!(fmt_num(0.123456789), "0.123457");
        assert_eq!(fmt_num(f64::INFINITY), "+Inf");
        assert_eq!(fmt_num(f64::NAN), "NaN");
    }

    #[test]
    fn operators_compare_infinities_and_never_nan() {
        assert!(Op::Lt.holds(0.5, 0.6));
        assert!(!Op::Lt.holds(0.6, 0.6));
        assert!(Op::Le.holds(0.6, 0.6));
        assert!(Op::Gt.holds(f64::INFINITY, 1e300));
        assert!(!Op::Lt.holds(f64::INFINITY, 1.0));
        assert!(Op::Eq.holds(1.0, 1.0));
        for op in [Op::Lt, Op::Le, Op::Gt, Op::Ge, Op::Eq] {
            assert!(!op.holds(f64::NAN, 1.0), "{op:?}");
        }
    }
}

#[cfg(test)]
mod load_tests {
    //! The kind's loader messages, each with its location.
    use crate::gate::testing::*;

    #[test]
    fn promql_fields_are_validated_where_written() {
        requires("promql", &["op: '<'", "threshold: 1"], "check `c` of kind `promql` needs `query`");
        requires("promql", &["query: up", "threshold: 1"], "promql check `c` needs `op`");
        requires("promql", &["query: up", "op: '<'"], "promql check `c` needs `threshold`");
        rejects_at(&one_check("promql", &["query: up", "op: '=<'", "threshold: 1"]), FIELD_LINE + 1, 13, "unknown operator `=<`", Some("<, <=, >, >= or =="));
        rejects_at(&one_check("promql", &["query: up", "op: '<'", "threshold: .nan"]), FIELD_LINE + 2, 20, "`threshold` must be a finite number, found `.nan`", None);
        rejects_at(&one_check("promql", &["query: up", "op: '<'", "threshold: lots"]), FIELD_LINE + 2, 20, "`threshold` must be a number (e.g. 0.05), found the string \"lots\"", None);
    }
}
