//! Parser and validator for the Prometheus text exposition format 0.0.4 and
//! OpenMetrics 1.0 text, for bodies fetched from arbitrary HTTP servers.
//!
//! Two ways in. [`parse`] and [`parse_bytes`] build a whole [`Exposition`]
//! for the `metrics_endpoint` probe, with the gate's rules: stricter than
//! promtool for the text format (see [`text`]'s gate mode). [`lint`] streams
//! any reader through the same parsers family by family, judging the text
//! format exactly as `promtool check metrics` does and reporting everything
//! else as [`Finding`]s, in memory bounded by the largest family.
//!
//! The parse borrows from the input (names always, label values and HELP
//! texts unless they contain escapes), makes one pass over it, never
//! recurses and never panics; the first problem found is returned as a
//! [`ParseError`] with its 1-based line and column. Semantic checks that the
//! 0.0.4 grammar cannot express live in [`histogram_problems`].

use std::borrow::Cow;
use std::fmt;

mod events;
mod lexer;
mod lint;
mod openmetrics;
#[cfg(test)]
mod proptests;
mod rules;
mod table;
mod text;
mod validate;

use events::{FamId, FamilyRef, Meta, Role, Sink, Strict};
use lexer::{At, Fail, Res};

pub use lint::{LintOptions, LintReport, ReadError, lint};
pub use rules::{Finding, Kind};
pub use rules::{MAX_HISTOGRAMS, MAX_SERIES};
pub use validate::{Problem, histogram_problems};

/// Which text format a body is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Format {
    /// Prometheus text exposition format 0.0.4 (`text/plain; version=0.0.4`).
    #[default]
    Text,
    /// OpenMetrics 1.0 text (`application/openmetrics-text`).
    OpenMetrics,
}

impl Format {
    /// Picks the format from a `Content-Type` header value: OpenMetrics for
    /// `application/openmetrics-text` (any parameters), 0.0.4 for anything
    /// else, including a missing header, since that is what Prometheus
    /// falls back to.
    pub fn from_content_type(ct: Option<&str>) -> Format {
        let media_type = ct.and_then(|ct| ct.split(';').next()).map(str::trim).unwrap_or("");
        if media_type.eq_ignore_ascii_case("application/openmetrics-text") {
            Format::OpenMetrics
        } else {
            Format::Text
        }
    }
}

/// The TYPE of a metric family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetricType {
    Counter,
    Gauge,
    Histogram,
    Summary,
    /// 0.0.4's word for a family without (or with an `untyped`) TYPE.
    Untyped,
    /// OpenMetrics' word for the same.
    Unknown,
    StateSet,
    Info,
    GaugeHistogram,
}

impl MetricType {
    /// The lowercase word used in `# TYPE` lines.
    pub fn as_str(self) -> &'static str {
        match self {
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Histogram => "histogram",
            MetricType::Summary => "summary",
            MetricType::Untyped => "untyped",
            MetricType::Unknown => "unknown",
            MetricType::StateSet => "stateset",
            MetricType::Info => "info",
            MetricType::GaugeHistogram => "gaugehistogram",
        }
    }
}

impl fmt::Display for MetricType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A parsed body.
#[derive(Debug, Clone, PartialEq)]
pub struct Exposition<'a> {
    pub format: Format,
    /// In order of first appearance.
    pub families: Vec<Family<'a>>,
}

/// One metric family: its metadata and samples.
#[derive(Debug, Clone, PartialEq)]
pub struct Family<'a> {
    /// The family name: for OpenMetrics counters without the `_total` their
    /// samples carry.
    pub name: &'a str,
    pub metric_type: MetricType,
    /// Unescaped; `None` when there was no HELP line or its text was empty.
    pub help: Option<Cow<'a, str>>,
    /// OpenMetrics only; `None` when there was no UNIT line or it was empty.
    pub unit: Option<&'a str>,
    pub samples: Vec<Sample<'a>>,
    /// First line of the family (metadata or sample), 1-based.
    pub line: usize,
}

/// One sample line.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample<'a> {
    /// The full sample name, suffix included (`foo_bucket`, `foo_total`).
    pub name: &'a str,
    /// In the order written; values unescaped (`\\`, `\"`, `\n`), borrowed
    /// when they had no escapes.
    pub labels: Vec<(&'a str, Cow<'a, str>)>,
    pub value: f64,
    /// Seconds since the Unix epoch in both formats: 0.0.4 milliseconds are
    /// divided by 1000 so callers need not care which format they had.
    pub timestamp: Option<f64>,
    /// 1-based.
    pub line: usize,
}

impl Sample<'_> {
    /// The value of label `name`, if present.
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_ref())
    }
}

/// Why a body was rejected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{line}:{column}: {message}")]
pub struct ParseError {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, counted in characters (Unicode scalar values) from
    /// the start of the line; for invalid UTF-8, in characters of the valid
    /// prefix, so it points at the first bad byte.
    pub column: usize,
    pub message: String,
}

impl ParseError {
    /// Places a failure reported while line `no` (its bytes `line`) was
    /// being parsed; `End` means just past that line, which only a last
    /// line without a newline has.
    fn locate(fail: Fail, line: &[u8], no: usize) -> ParseError {
        let (line, column) = match fail.at {
            At::Here(at) => (no, lexer::column(line, at)),
            At::Pos { line, column } => (line, column),
            At::End => (no, lexer::column(line, line.len())),
        };
        ParseError {
            line,
            column,
            message: fail.message,
        }
    }

    /// Places a failure reported at the end of input, after `lines` lines
    /// that all ended with a newline.
    fn at_end(fail: Fail, lines: usize) -> ParseError {
        let (line, column) = match fail.at {
            At::Pos { line, column } => (line, column),
            At::Here(_) | At::End => (lines + 1, 1),
        };
        ParseError {
            line,
            column,
            message: fail.message,
        }
    }
}

/// A parser fed one line at a time: both formats' parsers are.
pub(crate) trait LineParser {
    /// `line` has no `\n`; `terminated` is false only for a last line
    /// without one.
    fn line<'l, S: Sink<'l>>(&mut self, line: &'l [u8], terminated: bool, no: usize, sink: &mut S) -> Res<()>;
    /// The end of the input, after every line parsed.
    fn finish(&mut self) -> Res<()>;
}

impl LineParser for text::TextParser {
    fn line<'l, S: Sink<'l>>(&mut self, line: &'l [u8], terminated: bool, no: usize, sink: &mut S) -> Res<()> {
        text::TextParser::line(self, line, terminated, no, sink)
    }

    fn finish(&mut self) -> Res<()> {
        Ok(())
    }
}

impl LineParser for openmetrics::OmParser {
    fn line<'l, S: Sink<'l>>(&mut self, line: &'l [u8], terminated: bool, no: usize, sink: &mut S) -> Res<()> {
        openmetrics::OmParser::line(self, line, terminated, no, sink)
    }

    fn finish(&mut self) -> Res<()> {
        openmetrics::OmParser::finish(self)
    }
}

/// Builds the [`Exposition`] of a whole-input parse.
struct Collector<'a> {
    families: Vec<Family<'a>>,
}

impl<'a> Sink<'a> for Collector<'a> {
    fn family(&mut self, _id: FamId, name: &'a str, metric_type: MetricType, line: usize) {
        self.families.push(Family {
            name,
            metric_type,
            help: None,
            unit: None,
            samples: Vec::new(),
            line,
        });
    }

    fn meta(&mut self, id: FamId, meta: Meta<'a>) {
        let Some(family) = self.families.get_mut(id) else {
            return;
        };
        match meta {
            Meta::Help(help) => family.help = (!help.is_empty()).then_some(help),
            Meta::Type(metric_type) => family.metric_type = metric_type,
            Meta::Unit(unit) => family.unit = Some(unit),
        }
    }

    fn sample(&mut self, family: FamilyRef<'_>, _role: Role, sample: Sample<'a>) {
        if let Some(f) = self.families.get_mut(family.id) {
            f.samples.push(sample);
        }
    }

    fn strict(&mut self, _family: FamilyRef<'_>, _rule: Strict, _line: usize, _message: String) {}
}

/// Feeds an in-memory input to `parser` line by line.
fn drive<'a, P: LineParser, S: Sink<'a>>(input: &'a [u8], parser: &mut P, sink: &mut S) -> Result<(), ParseError> {
    let mut rest = input;
    let mut no = 0;
    while !rest.is_empty() {
        no += 1;
        let (line, terminated, next) = match rest.iter().position(|&b| b == b'\n') {
            Some(i) => (rest.get(..i).unwrap_or(&[]), true, rest.get(i + 1..).unwrap_or(&[])),
            None => (rest, false, &[][..]),
        };
        parser
            .line(line, terminated, no, sink)
            .map_err(|fail| ParseError::locate(fail, line, no))?;
        rest = next;
    }
    parser.finish().map_err(|fail| ParseError::at_end(fail, no))
}

/// Parses `input` as `format` with the gate's rules, stopping at the first
/// error: for the text format, what `promtool check metrics` rejects plus
/// families split by other families, TYPE words Prometheus' scraper does not
/// know, a TYPE line without a type, histogram and summary samples without
/// their `le`/`quantile` or suffix, and a repeated `le` or `quantile`.
pub fn parse(input: &str, format: Format) -> Result<Exposition<'_>, ParseError> {
    let mut collector = Collector { families: Vec::new() };
    match format {
        Format::Text => drive(
            input.as_bytes(),
            &mut text::TextParser::new(text::Mode::Gate),
            &mut collector,
        )?,
        Format::OpenMetrics => drive(input.as_bytes(), &mut openmetrics::OmParser::new(), &mut collector)?,
    }
    Ok(Exposition {
        format,
        families: collector.families,
    })
}

/// Like [`parse`] for raw bytes; invalid UTF-8 is an error at its first bad
/// byte.
pub fn parse_bytes(input: &[u8], format: Format) -> Result<Exposition<'_>, ParseError> {
    match std::str::from_utf8(input) {
        Ok(s) => parse(s, format),
        Err(e) => {
            let at = e.valid_up_to();
            let before = input.get(..at).unwrap_or(input);
            let start = before.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
            let no = 1 + before.iter().filter(|&&b| b == b'\n').count();
            let line = input.get(start..).unwrap_or(&[]);
            let fail = Fail {
                at: At::Here(at - start),
                message: "invalid utf-8".to_string(),
            };
            Err(ParseError::locate(fail, line, no))
        }
    }
}

impl<'a> Exposition<'a> {
    /// The family called exactly `name`.
    pub fn family(&self, name: &str) -> Option<&Family<'a>> {
        self.families.iter().find(|f| f.name == name)
    }

    /// Finds the family a user means by `name`: exact family name, or (for counters) the family whose `<name>_total` sample name equals `name` (OpenMetrics counter `foo` exposes `foo_total`; text-format counters are usually named `foo_total` themselves).
    pub fn find_family(&self, name: &str) -> Option<&Family<'a>> {
        self.family(name).or_else(|| {
            let base = name.strip_suffix("_total")?;
            self.families
                .iter()
                .find(|f| f.metric_type == MetricType::Counter && f.name == base)
        })
    }

    /// Number of samples over all families. Each sample line is one series
    /// as a scrape ingests it; an OpenMetrics series written with several
    /// timestamps counts once per line.
    pub fn series_count(&self) -> usize {
        self.families.iter().map(|f| f.samples.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REFERENCE: &str = r#"# HELP demo_request_duration_seconds Request latency.
# TYPE demo_request_duration_seconds histogram
demo_request_duration_seconds_bucket{path="/a",le="0.1"} 3
demo_request_duration_seconds_bucket{path="/a",le="0.5"} 5
demo_request_duration_seconds_bucket{path="/a",le="+Inf"} 6
demo_request_duration_seconds_sum{path="/a"} 1.7
demo_request_duration_seconds_count{path="/a"} 6
# TYPE demo_info gauge
demo_info{msg="quote \" backslash \\ newline \n end"} 1
demo_temp NaN
"#;

    const OPENMETRICS: &str = "# TYPE http_requests counter
# HELP http_requests Requests.
http_requests_total{code=\"200\"} 10 # {trace_id=\"abc\"} 1 1.5
http_requests_created{code=\"200\"} 1600000000
# TYPE latency_seconds histogram
# UNIT latency_seconds seconds
latency_seconds_bucket{le=\"0.1\"} 1
latency_seconds_bucket{le=\"+Inf\"} 2
latency_seconds_count 2
latency_seconds_sum 0.3
# EOF
";

    #[test]
    fn content_type_selects_format() {
        let om = Some("application/openmetrics-text; version=1.0.0; charset=utf-8");
        assert_eq!(Format::from_content_type(om), Format::OpenMetrics);
        assert_eq!(
            Format::from_content_type(Some(" Application/OpenMetrics-Text")),
            Format::OpenMetrics
        );
        assert_eq!(
            Format::from_content_type(Some("text/plain; version=0.0.4")),
            Format::Text
        );
        assert_eq!(
            Format::from_content_type(Some("application/openmetrics-textual")),
            Format::Text
        );
        assert_eq!(Format::from_content_type(None), Format::Text);
    }

    #[test]
    fn metric_type_words() {
        assert_eq!(MetricType::GaugeHistogram.to_string(), "gaugehistogram");
        assert_eq!(MetricType::Untyped.as_str(), "untyped");
        assert_eq!(MetricType::Unknown.as_str(), "unknown");
        assert_eq!(MetricType::StateSet.as_str(), "stateset");
    }

    #[test]
    fn reference_example_parses() {
        let exp = parse(REFERENCE, Format::Text).map_err(|e| e.to_string());
        let Ok(exp) = exp else {
            panic!("reference example rejected: {exp:?}");
        };
        let names: Vec<_> = exp.families.iter().map(|f| (f.name, f.metric_type, f.line)).collect();
        assert_eq!(
            names,
            vec![
                ("demo_request_duration_seconds", MetricType::Histogram, 1),
                ("demo_info", MetricType::Gauge, 8),
                ("demo_temp", MetricType::Untyped, 10),
            ]
        );
        let hist = &exp.families[0];
        assert_eq!(hist.help.as_deref(), Some("Request latency."));
        assert_eq!(hist.samples.len(), 5);
        assert_eq!(hist.samples[2].label("le"), Some("+Inf"));
        assert_eq!(hist.samples[3].value, 1.7);
        let info = &exp.families[1].samples[0];
        assert_eq!(info.label("msg"), Some("quote \" backslash \\ newline \n end"));
        assert_eq!(info.line, 9);
        assert!(exp.families[2].samples[0].value.is_nan());
        assert_eq!(exp.series_count(), 7);
        assert!(histogram_problems(&exp).is_empty());
    }

    #[test]
    fn openmetrics_example_parses() {
        let exp = parse(OPENMETRICS, Format::OpenMetrics).map_err(|e| e.to_string());
        let Ok(exp) = exp else {
            panic!("rejected: {exp:?}");
        };
        assert_eq!(exp.format, Format::OpenMetrics);
        let lat = exp.family("latency_seconds");
        assert_eq!(lat.and_then(|f| f.unit), Some("seconds"));
        assert_eq!(lat.map(|f| f.metric_type), Some(MetricType::Histogram));
        assert_eq!(exp.series_count(), 6);
    }

    #[test]
    fn find_family_handles_both_counter_conventions() {
        let text = "# TYPE http_requests_total counter\nhttp_requests_total 1\n";
        let Ok(exp) = parse(text, Format::Text) else {
            panic!("text rejected");
        };
        let found = exp.find_family("http_requests_total");
        assert_eq!(found.map(|f| f.name), Some("http_requests_total"));

        let Ok(exp) = parse(OPENMETRICS, Format::OpenMetrics) else {
            panic!("openmetrics rejected");
        };
        let found = exp.find_family("http_requests_total");
        assert_eq!(found.map(|f| f.name), Some("http_requests"));
        assert_eq!(exp.find_family("http_requests").map(|f| f.name), Some("http_requests"));
        // Only counters expose `_total`.
        assert!(exp.find_family("latency_seconds_total").is_none());
    }

    #[test]
    fn text_timestamps_become_seconds() {
        let Ok(exp) = parse("a 1 1500\n", Format::Text) else {
            panic!("rejected");
        };
        assert_eq!(exp.families[0].samples[0].timestamp, Some(1.5));
    }

    #[test]
    fn invalid_utf8_points_at_first_bad_byte() {
        let err = parse_bytes(b"a 1\nb{x=\"\xc3\xa9\xff\"} 1\n", Format::Text).err();
        assert_eq!(
            err,
            Some(ParseError {
                line: 2,
                column: 7,
                message: "invalid utf-8".into()
            })
        );
        assert_eq!(
            parse_bytes(b"\xfe", Format::OpenMetrics).err().map(|e| e.to_string()),
            Some("1:1: invalid utf-8".into())
        );
    }

    #[test]
    fn error_columns_count_characters() {
        let err = parse("a 1\na{x=\"éé\"} 1 2 3\n", Format::Text).err();
        assert_eq!(err.as_ref().map(|e| (e.line, e.column)), Some((2, 15)));
        let err = parse("a 1\n# TYPE é\n", Format::Text).err();
        assert_eq!(err.as_ref().map(|e| (e.line, e.column)), Some((2, 8)));
    }

    /// A tiny deterministic generator so the test needs no crates.
    struct Lcg(u64);

    impl Lcg {
        fn next(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            self.0 >> 33
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }
    }

    #[test]
    fn mangled_input_never_panics() {
        let seeds: [&[u8]; 3] = [
            REFERENCE.as_bytes(),
            OPENMETRICS.as_bytes(),
            b"# TYPE s summary\ns{quantile=\"0.5\",a=\"\\\\\"} 1 # {x=\"y\"} 2 3\ns_sum 0x1p3 -5\n# TYPE g gaugehistogram\ng_bucket{le=\"+Inf\"} 1\ng_gcount 1\ng_gsum -1\n# TYPE st stateset\nst{st=\"a\"} 1\n# TYPE i info\ni_info 1\n# EOF\n",
        ];
        // Every truncation of every seed first: cut-off bodies are the most
        // common broken input.
        for seed in seeds {
            for end in 0..=seed.len() {
                for format in [Format::Text, Format::OpenMetrics] {
                    if let Ok(exp) = parse_bytes(&seed[..end], format) {
                        let _ = histogram_problems(&exp);
                    }
                }
            }
        }
        let specials = b"{}\",=\\# \n\t.eEpx+-_0123456789NaInf\xff\xc3";
        let mut rng = Lcg(42);
        let mut buf = Vec::new();
        for round in 0..30_000 {
            let seed = seeds[round % seeds.len()];
            buf.clear();
            buf.extend_from_slice(seed);
            for _ in 0..=rng.below(4) {
                let at = rng.below(buf.len() + 1);
                match rng.below(5) {
                    0 => buf.truncate(at),
                    1 => {
                        if let Some(b) = buf.get_mut(at) {
                            *b = rng.next() as u8;
                        }
                    }
                    2 => {
                        let c = specials[rng.below(specials.len())];
                        buf.insert(at.min(buf.len()), c);
                    }
                    3 => {
                        let end = (at + rng.below(20)).min(buf.len());
                        buf.drain(at.min(end)..end);
                    }
                    _ => {
                        let from = rng.below(seed.len());
                        let end = (from + rng.below(40)).min(seed.len());
                        let piece = seed[from..end].to_vec();
                        let at = at.min(buf.len());
                        buf.splice(at..at, piece);
                    }
                }
            }
            for format in [Format::Text, Format::OpenMetrics] {
                match parse_bytes(&buf, format) {
                    Ok(exp) => {
                        let _ = histogram_problems(&exp);
                        let _ = exp.series_count();
                    }
                    Err(e) => {
                        assert!(e.line >= 1 && e.column >= 1, "{e}");
                        assert!(!e.message.is_empty());
                    }
                }
            }
        }
    }

    #[test]
    fn pathological_inputs_stay_linear() {
        // Many labels on one line, a huge label value, and many families.
        let mut line = String::from("m{");
        for i in 0..20_000 {
            line.push_str(&format!("l{i}=\"v\","));
        }
        line.push_str("} 1\n");
        assert!(parse(&line, Format::Text).is_ok());
        let braces = "{".repeat(100_000);
        assert!(parse(&format!("m{braces} 1\n"), Format::Text).is_err());
        let value = format!("m{{a=\"{}\"}} 1\n", "\\\\".repeat(200_000));
        assert!(parse(&value, Format::Text).is_ok());
        let mut many = String::new();
        for i in 0..20_000 {
            many.push_str(&format!("# TYPE f{i} counter\nf{i}_total 1\n"));
        }
        many.push_str("# EOF\n");
        let Ok(exp) = parse(&many, Format::OpenMetrics) else {
            panic!("many families rejected");
        };
        assert_eq!(exp.families.len(), 20_000);
    }

    #[test]
    fn large_exposition_parses_quickly() {
        let mut body = String::with_capacity(12 << 20);
        body.push_str("# HELP req_seconds Latency.\n# TYPE req_seconds histogram\n");
        let mut series = 0;
        let mut i = 0;
        while series < 100_000 {
            for le in ["0.005", "0.01", "0.1", "1", "10", "+Inf"] {
                body.push_str(&format!(
                    "req_seconds_bucket{{handler=\"/api/v1/resource/{i}\",method=\"GET\",code=\"200\",instance=\"10.0.0.1:9090\",le=\"{le}\"}} {}\n",
                    i % 7
                ));
            }
            body.push_str(&format!(
                "req_seconds_sum{{handler=\"/api/v1/resource/{i}\",method=\"GET\",code=\"200\"}} 1.5\n"
            ));
            body.push_str(&format!(
                "req_seconds_count{{handler=\"/api/v1/resource/{i}\",method=\"GET\",code=\"200\"}} {}\n",
                i % 7
            ));
            series += 8;
            i += 1;
        }
        assert!(body.len() > 10_000_000);
        let start = std::time::Instant::now();
        let exp = parse(&body, Format::Text).map_err(|e| e.to_string());
        let elapsed = start.elapsed();
        println!("parsed {} bytes in {elapsed:?}", body.len());
        assert_eq!(exp.map(|e| e.series_count()), Ok(series));
        // Generous for unoptimised test builds on a slow machine; a
        // quadratic slip would take minutes.
        assert!(elapsed.as_secs() < 20, "took {elapsed:?}");
    }
}
