//! Property tests of the exposition parser, run in CI with the unit tests:
//! hostile bytes never panic and errors point inside the input; generated
//! valid expositions round-trip in both formats; a non-cumulative histogram
//! is always caught.

use std::collections::BTreeSet;

use proptest::prelude::*;

use super::{Format, MetricType, histogram_problems, parse, parse_bytes};

const CASES: u32 = 256;

/// Pieces of both grammars, so random concatenations reach deep states.
const FRAGMENTS: &[&[u8]] = &[
    b"# TYPE ",
    b"# HELP ",
    b"# UNIT ",
    b"# EOF\n",
    b"# EOF",
    b"#",
    b"m",
    b"m_total",
    b"m_bucket",
    b"m_count",
    b"m_sum",
    b"m_created",
    b"m_gcount",
    b"_info",
    b" counter\n",
    b" gauge\n",
    b" histogram\n",
    b" gaugehistogram\n",
    b" summary\n",
    b" stateset\n",
    b" info\n",
    b" untyped\n",
    b"{",
    b"}",
    b"le=\"",
    b"quantile=\"",
    b"a=\"",
    b"\"",
    b",",
    b"=",
    b" ",
    b"\t",
    b"\n",
    b"\r",
    b"1",
    b"0",
    b"-1.5e3",
    b"0.5",
    b"NaN",
    b"+Inf",
    b"-Inf",
    b"0x1p3",
    b"1e400",
    b"\\",
    b"\\n",
    b"\\\"",
    b" # {trace=\"x\"} 1",
    b"\xc3\xa9",
    b"\xff",
    b"\xc3",
    b"\0",
];

fn soup() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..256),
        prop::collection::vec(prop::sample::select(FRAGMENTS), 0..60).prop_map(|parts| parts.concat()),
    ]
}

/// Line count the way errors number lines: one more than the newlines.
fn line_count(input: &[u8]) -> usize {
    1 + input.iter().filter(|&&b| b == b'\n').count()
}

/// Characters on 1-based line `line`, counted like `ParseError::at` does.
fn line_chars(input: &[u8], line: usize) -> usize {
    input
        .split(|&b| b == b'\n')
        .nth(line - 1)
        .map_or(0, |l| l.iter().filter(|&&b| b & 0xC0 != 0x80).count())
}

// ---------------------------------------------------------------------------
// A model of a valid exposition, rendered in either format.

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Counter,
    Gauge,
    Untyped,
    Histogram,
    Summary,
}

#[derive(Debug, Clone)]
struct Series {
    labels: Vec<(String, String)>,
    value: f64,
    /// Histogram: per-bucket increments (one per bound, then +Inf).
    increments: Vec<u32>,
    /// Histogram and summary `_sum`, tenths.
    sum: u32,
    /// Summary values for QUANTILES.
    quantile_values: Vec<u32>,
}

#[derive(Debug, Clone)]
struct Fam {
    name: String,
    kind: Kind,
    help: String,
    /// Histogram bucket bounds, increasing, finite; +Inf is implied.
    bounds: Vec<f64>,
    series: Vec<Series>,
}

const QUANTILES: [&str; 3] = ["0.5", "0.9", "0.99"];

/// Label values and HELP texts: everything that needs escaping, and more.
fn text_string(max: usize) -> impl Strategy<Value = String> {
    let chars = prop::sample::select(vec![
        'a', 'z', ' ', '"', '\\', '\n', 'n', '{', '}', '=', ',', '#', 'é', '☃', '\t',
    ]);
    prop::collection::vec(chars, 0..max).prop_map(String::from_iter)
}

fn value() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(-0.0),
        (-1000i32..1000).prop_map(f64::from),
        any::<f64>(),
    ]
}

fn series() -> impl Strategy<Value = Series> {
    (
        prop::collection::vec(("[a-z][a-z0-9_]{0,4}", text_string(8)), 0..4),
        value(),
        prop::collection::vec(0u32..1000, 6),
        0u32..100_000,
        prop::collection::vec(0u32..1000, QUANTILES.len()),
    )
        .prop_map(|(raw, value, increments, sum, quantile_values)| Series {
            labels: raw,
            value,
            increments,
            sum,
            quantile_values,
        })
}

fn family() -> impl Strategy<Value = Fam> {
    (
        "[a-z_]{0,6}",
        prop::sample::select(vec![
            Kind::Counter,
            Kind::Gauge,
            Kind::Untyped,
            Kind::Histogram,
            Kind::Summary,
        ]),
        text_string(12),
        prop::collection::btree_set(1u32..100_000, 0..5),
        prop::collection::vec(series(), 1..4),
    )
        .prop_map(|(stem, kind, help, bounds, series)| Fam {
            name: stem,
            kind,
            help,
            bounds: bounds.into_iter().map(|b| f64::from(b) / 100.0).collect(),
            series,
        })
}

/// Families with unique names that no suffix can confuse (they end in `x`),
/// and series with unique label sets and unique label names.
fn exposition(force_histogram: bool) -> impl Strategy<Value = Vec<Fam>> {
    prop::collection::vec(family(), 1..6).prop_map(move |mut fams| {
        if force_histogram {
            let last = fams.len() - 1;
            if let Some(f) = fams.get_mut(last) {
                f.kind = Kind::Histogram;
                if f.bounds.is_empty() {
                    f.bounds.push(0.25);
                }
            }
        }
        for (i, f) in fams.iter_mut().enumerate() {
            f.name = format!("m{i}_{}x", f.name);
            for (k, s) in f.series.iter_mut().enumerate() {
                let mut seen = BTreeSet::new();
                s.labels
                    .retain(|(n, _)| !matches!(n.as_str(), "le" | "quantile" | "series") && seen.insert(n.clone()));
                s.labels.push(("series".into(), k.to_string()));
                if f.kind == Kind::Counter {
                    // OpenMetrics counters are never NaN or negative.
                    s.value = if s.value.is_nan() { 0.0 } else { s.value.abs() };
                }
            }
        }
        fams
    })
}

fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

fn escape_help(v: &str, format: Format) -> String {
    let v = v.replace('\\', "\\\\").replace('\n', "\\n");
    match format {
        Format::Text => v,
        Format::OpenMetrics => v.replace('"', "\\\""),
    }
}

fn show(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{v}")
    }
}

/// One sample line as expected back from the parser.
#[derive(Debug)]
struct Expected {
    name: String,
    labels: Vec<(String, String)>,
    value: f64,
    line: usize,
}

struct Rendered {
    body: String,
    /// Per family, its samples in order.
    samples: Vec<Vec<Expected>>,
}

fn render(fams: &[Fam], format: Format) -> Rendered {
    let om = format == Format::OpenMetrics;
    let mut lines: Vec<String> = Vec::new();
    let mut samples = Vec::new();
    for f in fams {
        // The HELP text keeps what follows the blanks after the name in 0.0.4.
        let help = if om {
            f.help.clone()
        } else {
            f.help.trim_start_matches([' ', '\t']).to_string()
        };
        if !help.is_empty() {
            lines.push(format!("# HELP {} {}", f.name, escape_help(&help, format)));
        }
        let type_word = match (f.kind, om) {
            (Kind::Counter, _) => Some("counter"),
            (Kind::Gauge, _) => Some("gauge"),
            (Kind::Histogram, _) => Some("histogram"),
            (Kind::Summary, _) => Some("summary"),
            (Kind::Untyped, _) => None,
        };
        if let Some(word) = type_word {
            lines.push(format!("# TYPE {} {word}", f.name));
        }
        let mut out = Vec::new();
        let mut emit = |lines: &mut Vec<String>, name: String, labels: Vec<(String, String)>, value: f64| {
            let rendered: Vec<String> = labels
                .iter()
                .map(|(n, v)| format!("{n}=\"{}\"", escape_label(v)))
                .collect();
            let set = if rendered.is_empty() {
                String::new()
            } else {
                format!("{{{}}}", rendered.join(","))
            };
            lines.push(format!("{name}{set} {}", show(value)));
            out.push(Expected {
                name,
                labels,
                value,
                line: lines.len(),
            });
        };
        for s in &f.series {
            let with = |extra: (&str, String)| {
                let mut l = s.labels.clone();
                l.push((extra.0.to_string(), extra.1));
                l
            };
            match f.kind {
                Kind::Counter => {
                    let name = if om {
                        format!("{}_total", f.name)
                    } else {
                        f.name.clone()
                    };
                    emit(&mut lines, name, s.labels.clone(), s.value);
                }
                Kind::Gauge | Kind::Untyped => emit(&mut lines, f.name.clone(), s.labels.clone(), s.value),
                Kind::Histogram => {
                    let mut cumulative = 0.0;
                    let les = f.bounds.iter().map(|b| show(*b)).chain(["+Inf".to_string()]);
                    for (le, inc) in les.zip(&s.increments) {
                        cumulative += f64::from(*inc);
                        emit(&mut lines, format!("{}_bucket", f.name), with(("le", le)), cumulative);
                    }
                    emit(
                        &mut lines,
                        format!("{}_sum", f.name),
                        s.labels.clone(),
                        f64::from(s.sum) / 10.0,
                    );
                    emit(&mut lines, format!("{}_count", f.name), s.labels.clone(), cumulative);
                }
                Kind::Summary => {
                    for (q, v) in QUANTILES.iter().zip(&s.quantile_values) {
                        emit(
                            &mut lines,
                            f.name.clone(),
                            with(("quantile", q.to_string())),
                            f64::from(*v),
                        );
                    }
                    emit(
                        &mut lines,
                        format!("{}_sum", f.name),
                        s.labels.clone(),
                        f64::from(s.sum) / 10.0,
                    );
                    let count = s.quantile_values.len() as f64;
                    emit(&mut lines, format!("{}_count", f.name), s.labels.clone(), count);
                }
            }
        }
        samples.push(out);
    }
    if om {
        lines.push("# EOF".into());
    }
    let mut body = lines.join("\n");
    body.push('\n');
    Rendered { body, samples }
}

fn expected_type(kind: Kind, format: Format) -> MetricType {
    match (kind, format) {
        (Kind::Counter, _) => MetricType::Counter,
        (Kind::Gauge, _) => MetricType::Gauge,
        (Kind::Histogram, _) => MetricType::Histogram,
        (Kind::Summary, _) => MetricType::Summary,
        (Kind::Untyped, Format::Text) => MetricType::Untyped,
        (Kind::Untyped, Format::OpenMetrics) => MetricType::Unknown,
    }
}

fn same_value(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a.to_bits() == b.to_bits()
}

fn check_round_trip(fams: &[Fam], format: Format) -> Result<(), TestCaseError> {
    let r = render(fams, format);
    let exp = parse(&r.body, format);
    let exp = match exp {
        Ok(exp) => exp,
        Err(e) => return Err(TestCaseError::fail(format!("rejected: {e}\n{}", r.body))),
    };
    prop_assert_eq!(exp.families.len(), fams.len(), "{}", r.body);
    for ((got, want), samples) in exp.families.iter().zip(fams).zip(&r.samples) {
        prop_assert_eq!(got.name, want.name.as_str());
        prop_assert_eq!(got.metric_type, expected_type(want.kind, format));
        let help = if format == Format::Text {
            want.help.trim_start_matches([' ', '\t'])
        } else {
            &want.help
        };
        prop_assert_eq!(got.help.as_deref(), (!help.is_empty()).then_some(help));
        prop_assert_eq!(got.samples.len(), samples.len(), "{}", r.body);
        for (g, w) in got.samples.iter().zip(samples) {
            prop_assert_eq!(g.name, w.name.as_str());
            prop_assert_eq!(g.line, w.line);
            let labels: Vec<(&str, &str)> = g.labels.iter().map(|(n, v)| (*n, v.as_ref())).collect();
            let want_labels: Vec<(&str, &str)> = w.labels.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
            prop_assert_eq!(labels, want_labels);
            prop_assert!(
                same_value(g.value, w.value),
                "{} vs {} on line {}",
                g.value,
                w.value,
                w.line
            );
        }
    }
    let problems = histogram_problems(&exp);
    prop_assert!(problems.is_empty(), "{problems:?}\n{}", r.body);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    /// (a) Any bytes, either format: no panic; an error names a line of the
    /// input and a column on it (one past its end at most).
    #[test]
    fn arbitrary_bytes_never_panic_and_errors_point_inside(input in soup()) {
        for format in [Format::Text, Format::OpenMetrics] {
            match parse_bytes(&input, format) {
                Ok(exp) => {
                    for p in histogram_problems(&exp) {
                        prop_assert!(p.line >= 1 && p.line <= line_count(&input), "{p}");
                    }
                }
                Err(e) => {
                    prop_assert!(e.line >= 1 && e.line <= line_count(&input), "{e} ({} lines)", line_count(&input));
                    prop_assert!(e.column >= 1 && e.column <= line_chars(&input, e.line) + 1, "{e}");
                    prop_assert!(!e.message.is_empty());
                }
            }
        }
    }

    /// (b) A generated valid exposition parses back to what was generated,
    /// label values unescaped, and its histograms are well-formed.
    #[test]
    fn generated_text_exposition_round_trips(fams in exposition(false)) {
        check_round_trip(&fams, Format::Text)?;
    }

    #[test]
    fn generated_openmetrics_exposition_round_trips(fams in exposition(false)) {
        check_round_trip(&fams, Format::OpenMetrics)?;
    }

    /// (b) Making one bucket larger than the next is reported at the next
    /// bucket's line: a problem for 0.0.4, a parse error for OpenMetrics.
    #[test]
    fn non_cumulative_buckets_are_caught(fams in exposition(true), pick in any::<prop::sample::Index>()) {
        let last = fams.len() - 1;
        let i = pick.index(fams[last].bounds.len());
        for format in [Format::Text, Format::OpenMetrics] {
            let r = render(&fams, format);
            let (Some(bucket), Some(next)) = (r.samples[last].get(i), r.samples[last].get(i + 1)) else {
                return Err(TestCaseError::fail("no bucket pair"));
            };
            let body = break_bucket(&r.body, bucket.line, next.value + 1.0);
            match parse(&body, format) {
                Ok(exp) => {
                    prop_assert_eq!(format, Format::Text, "accepted:\n{}", body);
                    let problems = histogram_problems(&exp);
                    prop_assert!(
                        problems.iter().any(|p| p.line == next.line && p.message.contains("cumulative")),
                        "line {}: {problems:?}\n{}", next.line, body
                    );
                }
                Err(e) => {
                    prop_assert_eq!(format, Format::OpenMetrics, "rejected: {}\n{}", e, body);
                    prop_assert!(e.line == next.line && e.message.contains("cumulative"), "{e}, expected line {}", next.line);
                }
            }
        }
    }
}

/// Replaces the value (the last token) of 1-based line `line`.
fn break_bucket(body: &str, line: usize, value: f64) -> String {
    body.split('\n')
        .enumerate()
        .map(|(i, l)| match l.rsplit_once(' ') {
            Some((head, _)) if i + 1 == line => format!("{head} {}", show(value)),
            _ => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}
