//! Semantic checks for histograms that the 0.0.4 grammar cannot express, so
//! a body can parse and still be wrong: missing `+Inf` buckets, buckets that
//! are not cumulative, unparsable `le` values and `_count` mismatches. Used
//! by the probe and the linter; OpenMetrics bodies already had these checked
//! while parsing, so for them this finds nothing new.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt::{self, Write as _};

use super::lexer;
use super::{Exposition, Family, MetricType, Sample};

/// One semantic problem, tied to a line of the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// 1-based line of the offending sample (or the series' first sample).
    pub line: usize,
    pub family: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// Which histogram rule a problem breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HistogramRule {
    BadLe,
    DuplicateLe,
    NotCumulative,
    NoInf,
    NoCount,
    CountMismatch,
}

struct Bucket<'e> {
    le_text: Cow<'e, str>,
    le: Option<f64>,
    value: f64,
    line: usize,
}

/// The buckets and count of one histogram label set (all labels but `le`),
/// gathered in any order and checked once complete. Shared with the
/// streaming linter, which owns its `le` texts.
pub(crate) struct SeriesCheck<'e> {
    line: usize,
    shown: String,
    buckets: Vec<Bucket<'e>>,
    count: Option<(f64, usize)>,
}

impl<'e> SeriesCheck<'e> {
    /// A series first seen at `first`, a sample of `family`.
    pub(crate) fn new(family: &str, first: &Sample<'_>) -> Self {
        SeriesCheck {
            line: first.line,
            shown: describe(family, first),
            buckets: Vec::new(),
            count: None,
        }
    }

    pub(crate) fn bucket(&mut self, le_text: Cow<'e, str>, value: f64, line: usize) {
        let le = lexer::go_float(&le_text).filter(|le| !le.is_nan());
        self.buckets.push(Bucket {
            le_text,
            le,
            value,
            line,
        });
    }

    /// The first count wins, as later ones are duplicates.
    pub(crate) fn count(&mut self, value: f64, line: usize) {
        if self.count.is_none() {
            self.count = Some((value, line));
        }
    }

    /// A `+Inf` bucket exists, `le` values are numbers and unique, bucket
    /// counts do not decrease as `le` grows, and `count_suffix` exists and
    /// equals the `+Inf` bucket.
    pub(crate) fn check(&self, count_suffix: &str, mut report: impl FnMut(HistogramRule, usize, String)) {
        let shown = &self.shown;
        let mut valid: Vec<&Bucket<'_>> = Vec::with_capacity(self.buckets.len());
        for bucket in &self.buckets {
            if bucket.le.is_none() {
                report(
                    HistogramRule::BadLe,
                    bucket.line,
                    format!("histogram {shown}: bucket le=\"{}\" is not a number", bucket.le_text),
                );
            } else {
                valid.push(bucket);
            }
        }
        valid.sort_by(|a, b| {
            let (a, b) = (a.le.unwrap_or(f64::NAN), b.le.unwrap_or(f64::NAN));
            a.total_cmp(&b)
        });
        for pair in valid.windows(2) {
            let [lower, higher] = pair else { continue };
            if lower.le == higher.le {
                report(
                    HistogramRule::DuplicateLe,
                    higher.line,
                    format!(
                        "histogram {shown}: duplicate bucket le=\"{}\" (also le=\"{}\")",
                        higher.le_text, lower.le_text
                    ),
                );
            } else if higher.value < lower.value {
                report(
                    HistogramRule::NotCumulative,
                    higher.line,
                    format!(
                        "histogram {shown}: bucket le=\"{}\" ({}) is lower than le=\"{}\" ({}): buckets must be cumulative",
                        higher.le_text, higher.value, lower.le_text, lower.value
                    ),
                );
            }
        }

        let inf = valid
            .iter()
            .rev()
            .find(|b| b.le == Some(f64::INFINITY))
            .map(|b| b.value);
        match inf {
            None => report(
                HistogramRule::NoInf,
                self.line,
                format!("histogram {shown} has no le=\"+Inf\" bucket"),
            ),
            Some(inf) => match self.count {
                None => report(
                    HistogramRule::NoCount,
                    self.line,
                    format!("histogram {shown} has no {count_suffix}"),
                ),
                Some((count, line)) if count != inf && !(count.is_nan() && inf.is_nan()) => report(
                    HistogramRule::CountMismatch,
                    line,
                    format!("histogram {shown}: {count_suffix} ({count}) differs from the +Inf bucket ({inf})"),
                ),
                Some(_) => {}
            },
        }
    }
}

/// Checks every histogram and gauge histogram family, per label set (all
/// labels but `le`): see [`SeriesCheck::check`].
pub fn histogram_problems(exp: &Exposition<'_>) -> Vec<Problem> {
    let mut problems = Vec::new();
    for family in &exp.families {
        let count_suffix = match family.metric_type {
            MetricType::Histogram => "_count",
            MetricType::GaugeHistogram => "_gcount",
            _ => continue,
        };
        for series in collect_series(family, count_suffix) {
            series.check(count_suffix, |_, line, message| {
                problems.push(Problem {
                    line,
                    family: family.name.to_string(),
                    message,
                });
            });
        }
    }
    problems
}

fn collect_series<'e>(family: &'e Family<'e>, count_suffix: &str) -> Vec<SeriesCheck<'e>> {
    let mut series: Vec<SeriesCheck<'e>> = Vec::new();
    let mut index: HashMap<Vec<(&'e str, &'e str)>, usize> = HashMap::new();
    for sample in &family.samples {
        let Some(rest) = sample.name.strip_prefix(family.name) else {
            continue;
        };
        let is_bucket = rest == "_bucket";
        if !is_bucket && rest != count_suffix {
            continue;
        }
        // Label order does not change identity, so the key is sorted.
        let mut key: Vec<(&str, &str)> = sample
            .labels
            .iter()
            .filter(|(name, _)| *name != "le")
            .map(|(name, value)| (*name, value.as_ref()))
            .collect();
        key.sort_unstable();
        let idx = *index.entry(key).or_insert_with(|| {
            series.push(SeriesCheck::new(family.name, sample));
            series.len() - 1
        });
        let Some(entry) = series.get_mut(idx) else {
            continue;
        };
        if is_bucket {
            let le_text = sample.label("le").unwrap_or("");
            entry.bucket(Cow::Borrowed(le_text), sample.value, sample.line);
        } else {
            entry.count(sample.value, sample.line);
        }
    }
    series
}

/// `family{label="value",...}` without `le`, escaped as in the exposition.
pub(crate) fn describe(family: &str, sample: &Sample<'_>) -> String {
    render_series(family, sample, Some("le"))
}

/// `name{label="value",...}` with the sample's labels but `skip`, escaped as
/// in the exposition, control characters included.
pub(crate) fn render_series(family: &str, sample: &Sample<'_>, skip: Option<&str>) -> String {
    let mut out = String::from(family);
    let mut first = true;
    for (name, value) in sample.labels.iter().filter(|(n, _)| Some(*n) != skip) {
        out.push(if first { '{' } else { ',' });
        first = false;
        let _ = write!(out, "{name}=\"");
        for c in value.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '"' => out.push_str("\\\""),
                '\n' => out.push_str("\\n"),
                c if c.is_control() => out.extend(c.escape_default()),
                c => out.push(c),
            }
        }
        out.push('"');
    }
    if !first {
        out.push('}');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::{Format, parse};
    use super::*;

    fn problems(input: &str) -> Vec<Problem> {
        match parse(input, Format::Text) {
            Ok(exp) => histogram_problems(&exp),
            Err(e) => panic!("fixture rejected: {e}"),
        }
    }

    const HEADER: &str = "# TYPE http_request_duration_seconds histogram\n";

    #[test]
    fn well_formed_histogram_has_no_problems() {
        let body = format!(
            "{HEADER}http_request_duration_seconds_bucket{{path=\"/a\",le=\"0.1\"}} 1\n\
             http_request_duration_seconds_bucket{{path=\"/a\",le=\"+Inf\"}} 2\n\
             http_request_duration_seconds_sum{{path=\"/a\"}} 0.3\n\
             http_request_duration_seconds_count{{path=\"/a\"}} 2\n\
             http_request_duration_seconds_bucket{{path=\"/b\",le=\"0.1\"}} 0\n\
             http_request_duration_seconds_bucket{{le=\"+Inf\",path=\"/b\"}} 0\n\
             http_request_duration_seconds_count{{path=\"/b\"}} 0\n"
        );
        assert_eq!(problems(&body), []);
    }

    #[test]
    fn missing_inf_bucket() {
        let body = format!(
            "{HEADER}http_request_duration_seconds_bucket{{path=\"/a\",le=\"0.1\"}} 1\n\
             http_request_duration_seconds_count{{path=\"/a\"}} 1\n"
        );
        assert_eq!(
            problems(&body),
            [Problem {
                line: 2,
                family: "http_request_duration_seconds".into(),
                message: "histogram http_request_duration_seconds{path=\"/a\"} has no le=\"+Inf\" bucket".into(),
            }]
        );
    }

    #[test]
    fn non_cumulative_buckets_are_found_even_out_of_order() {
        let body = format!(
            "{HEADER}http_request_duration_seconds_bucket{{le=\"0.5\"}} 3\n\
             http_request_duration_seconds_bucket{{le=\"0.1\"}} 5\n\
             http_request_duration_seconds_bucket{{le=\"+Inf\"}} 6\n\
             http_request_duration_seconds_count 6\n"
        );
        let found = problems(&body);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].line, 2);
        assert!(
            found[0]
                .message
                .ends_with("bucket le=\"0.5\" (3) is lower than le=\"0.1\" (5): buckets must be cumulative")
        );
    }

    #[test]
    fn count_mismatch_and_missing_count() {
        let body = format!(
            "{HEADER}http_request_duration_seconds_bucket{{le=\"+Inf\"}} 6\n\
             http_request_duration_seconds_count 7\n"
        );
        let found = problems(&body);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].line, 3);
        assert!(
            found[0]
                .message
                .ends_with("_count (7) differs from the +Inf bucket (6)")
        );

        let body = format!("{HEADER}http_request_duration_seconds_bucket{{le=\"+Inf\"}} 6\n");
        let found = problems(&body);
        assert_eq!(found.len(), 1);
        assert!(found[0].message.ends_with("has no _count"));
    }

    #[test]
    fn bad_and_duplicate_le_values() {
        let body = format!(
            "{HEADER}http_request_duration_seconds_bucket{{le=\"NaN\"}} 1\n\
             http_request_duration_seconds_bucket{{le=\"1\"}} 1\n\
             http_request_duration_seconds_bucket{{le=\"1.0\"}} 1\n\
             http_request_duration_seconds_bucket{{le=\"+Inf\"}} 1\n\
             http_request_duration_seconds_count 1\n"
        );
        let messages: Vec<String> = problems(&body).into_iter().map(|p| p.message).collect();
        assert_eq!(messages.len(), 2, "{messages:?}");
        assert!(messages[0].contains("le=\"NaN\" is not a number"));
        assert!(messages[1].contains("duplicate bucket le=\"1.0\""));
    }

    #[test]
    fn other_types_are_ignored_and_labels_are_escaped() {
        let body = "# TYPE g gauge\ng_bucket{le=\"1\"} 5\n# TYPE h histogram\nh_bucket{x=\"a\\\"b\",le=\"1\"} 1\n";
        let found = problems(body);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].family, "h");
        assert_eq!(found[0].message, "histogram h{x=\"a\\\"b\"} has no le=\"+Inf\" bucket");
    }
}
