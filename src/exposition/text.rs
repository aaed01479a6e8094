//! The Prometheus text exposition format 0.0.4, read the way `promtool check
//! metrics` reads it (the `expfmt` text parser of Prometheus 2.42): blank-
//! separated tokens, `# HELP` and `# TYPE` metadata, other `#` lines as
//! comments, Go float values without `p` or `_`, integer millisecond
//! timestamps, and families merged by name wherever their lines are.
//!
//! Two modes share that grammar. [`Mode::Promtool`] rejects exactly what
//! promtool rejects and reports what a stricter reader would object to as
//! [`Strict`] events. [`Mode::Gate`], the `metrics_endpoint` probe's, turns
//! those into errors and also refuses invalid UTF-8 anywhere, as the probe
//! always has.
//!
//! The parser is fed one line at a time and keeps only a table of family
//! names, so it never needs the whole input.

use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use super::events::{FamId, FamilyRef, Meta, Role, Sink, Strict};
use super::lexer::{self, At, Cursor, Dialect, Labels, Res, fail, fail_at, quote};
use super::{MetricType, Sample};

/// Which rules beyond promtool's apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Promtool,
    Gate,
}

/// How a sample name matched its family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Exact,
    Bucket,
    Sum,
    Count,
}

struct Fam {
    name: Rc<str>,
    /// `None` until a TYPE line or the first sample (which makes it untyped).
    metric_type: Option<MetricType>,
    helped: bool,
    sampled: bool,
}

/// Sample names remembered with their resolution (see `TextParser::recent`).
const RECENT: usize = 4;

/// Above this many labels the duplicate check switches from a linear scan
/// per label to a set, so a hostile line stays linear.
const LINEAR_DUP_LIMIT: usize = 16;

pub(crate) struct TextParser {
    mode: Mode,
    fams: Vec<Fam>,
    by_name: HashMap<Rc<str>, FamId>,
    /// Family of the most recent sample.
    current: Option<FamId>,
    /// The last few sample names and what they resolved to, most recent
    /// first: consecutive lines mostly repeat one, and a histogram's lines
    /// cycle through three (`_bucket`, `_sum`, `_count`), so this spares
    /// hashing a name again (and, for a suffix, twice).
    recent: [(String, FamId, Part); RECENT],
}

/// The labels of one sample line and what promtool makes of them.
struct LabelSet<'l> {
    labels: Labels<'l>,
    le: Option<f64>,
    quantile: Option<f64>,
}

impl TextParser {
    pub(crate) fn new(mode: Mode) -> Self {
        TextParser {
            mode,
            fams: Vec::new(),
            by_name: HashMap::new(),
            current: None,
            recent: std::array::from_fn(|_| (String::new(), 0, Part::Exact)),
        }
    }

    /// Parses one line (without its `\n`); `terminated` is false only for
    /// a last line that has no newline.
    pub(crate) fn line<'l, S: Sink<'l>>(
        &mut self,
        line: &'l [u8],
        terminated: bool,
        no: usize,
        sink: &mut S,
    ) -> Res<()> {
        let first = line.iter().position(|&b| b != b' ' && b != b'\t');
        let Some(first) = first else {
            // Blank: fine even without a newline, as the end of input is
            // only an error in the middle of a line.
            return Ok(());
        };
        match std::str::from_utf8(line) {
            Ok(text) => {
                let mut c = Cursor::new(text);
                c.skip_blanks();
                if c.peek() == Some(b'#') {
                    self.comment(c, text, no, sink)?;
                } else {
                    self.sample(c, no, sink)?;
                }
            }
            Err(e) => {
                // promtool only checks UTF-8 in label values, so invalid
                // bytes pass in comments and HELP texts; anywhere else on a
                // line they fail some other rule first.
                if self.mode == Mode::Gate || line.get(first) != Some(&b'#') {
                    return fail(e.valid_up_to(), "invalid utf-8");
                }
                let lossy = String::from_utf8_lossy(line);
                let valid = std::str::from_utf8(line.get(..e.valid_up_to()).unwrap_or(&[])).unwrap_or("");
                let mut c = Cursor::new(&lossy);
                c.skip_blanks();
                self.comment(c, valid, no, sink)?;
            }
        }
        if terminated {
            Ok(())
        } else {
            fail_at(At::End, "missing newline at end of input")
        }
    }

    /// Follows promtool's comment handling: only `HELP` and `TYPE` with a
    /// name and more text after it mean anything. `borrowed` is the part of
    /// the line that is valid UTF-8, which the cursor's text starts with.
    fn comment<'l, S: Sink<'l>>(&mut self, mut c: Cursor<'_>, borrowed: &'l str, no: usize, sink: &mut S) -> Res<()> {
        c.bump();
        c.skip_blanks();
        let keyword = c.token(Dialect::Text);
        if c.is_done() || (keyword != "HELP" && keyword != "TYPE") {
            return Ok(());
        }
        c.skip_blanks();
        let name_at = c.offset();
        let name = c.metric_name().unwrap_or("");
        let name_end = c.offset();
        if c.is_done() {
            return self.no_type_given(keyword, name, no, sink);
        }
        if !matches!(c.peek(), Some(b' ' | b'\t')) {
            return c.fail(format!("invalid metric name in {keyword} line"));
        }
        // Names are ASCII, so they end before the first invalid byte.
        let Some(name) = borrowed.get(name_at..name_end) else {
            return fail(name_at, "internal error: metric name outside the line");
        };
        let (id, _) = self.resolve(name, no, sink);
        c.skip_blanks();
        if c.is_done() {
            return self.no_type_given(keyword, name, no, sink);
        }
        let rest_at = c.offset();
        let rest = c.rest();
        let Some(fam) = self.fams.get_mut(id) else {
            return fail(name_at, "internal error: family index out of range");
        };
        if keyword == "HELP" {
            if fam.helped {
                return fail(
                    name_at,
                    format!("second HELP line for metric name {}", quote(&fam.name)),
                );
            }
            let help = match borrowed.get(rest_at..) {
                Some(text) if text.len() == rest.len() => lexer::text_help(text, rest_at)?,
                _ => std::borrow::Cow::Owned(lexer::text_help(rest, rest_at)?.into_owned()),
            };
            fam.helped = true;
            sink.meta(id, Meta::Help(help));
            return Ok(());
        }
        if fam.metric_type.is_some() {
            return fail(
                name_at,
                format!(
                    "second TYPE line for metric name {}, or TYPE reported after samples",
                    quote(&fam.name)
                ),
            );
        }
        let Some(metric_type) = promtool_type(rest) else {
            let hint = if rest.ends_with('\r') {
                " (the line ends with CR LF: the text format needs LF line ends)"
            } else {
                ""
            };
            return fail(rest_at, format!("unknown metric type {}{hint}", quote(rest)));
        };
        fam.metric_type = Some(metric_type);
        let family = FamilyRef {
            id,
            name: &fam.name,
            metric_type,
        };
        if !matches!(rest, "counter" | "gauge" | "histogram" | "summary" | "untyped") {
            let message = format!(
                "TYPE {} is read as {metric_type} by promtool, but Prometheus' scraper only knows counter, gauge, histogram, summary and untyped",
                quote(rest)
            );
            strict(self.mode, sink, family, Strict::TypeWord, no, rest_at, message)?;
        }
        sink.meta(id, Meta::Type(metric_type));
        Ok(())
    }

    /// promtool ignores a `# TYPE name` line without a type; the gate does
    /// not.
    fn no_type_given<'l, S: Sink<'l>>(&mut self, keyword: &str, name: &str, no: usize, sink: &mut S) -> Res<()> {
        if keyword != "TYPE" || name.is_empty() {
            return Ok(());
        }
        let family = FamilyRef {
            id: self.by_name.get(name).copied().unwrap_or(usize::MAX),
            name,
            metric_type: MetricType::Untyped,
        };
        let message = format!("missing metric type for {name}: promtool ignores this TYPE line");
        strict(self.mode, sink, family, Strict::MissingType, no, 0, message)
    }

    fn sample<'l, S: Sink<'l>>(&mut self, mut c: Cursor<'l>, no: usize, sink: &mut S) -> Res<()> {
        let name_at = c.offset();
        let Some(name) = c.metric_name() else {
            return c.fail("invalid metric name");
        };
        // A name's resolution never changes once made: an exact family
        // shadows the suffix rules for good, and a suffix match needs a typed
        // family, whose TYPE cannot change.
        let hit = self.recent.iter().position(|(n, ..)| n == name && !name.is_empty());
        let (id, part) = match hit {
            Some(at) => {
                // Most recent first, so the common case is one comparison.
                self.recent[..=at].rotate_right(1);
                (self.recent[0].1, self.recent[0].2)
            }
            None => {
                let resolved = self.resolve(name, no, sink);
                self.recent.rotate_right(1);
                let slot = &mut self.recent[0];
                slot.0.clear();
                slot.0.push_str(name);
                (slot.1, slot.2) = resolved;
                resolved
            }
        };
        let Some(fam) = self.fams.get_mut(id) else {
            return fail(name_at, "internal error: family index out of range");
        };
        let metric_type = *fam.metric_type.get_or_insert(MetricType::Untyped);
        let resumed = fam.sampled && self.current != Some(id);
        fam.sampled = true;
        let fam_name = Rc::clone(&fam.name);
        let family = FamilyRef {
            id,
            name: &fam_name,
            metric_type,
        };
        self.current = Some(id);
        if resumed {
            let message = format!(
                "metric family {fam_name} appears twice / is not contiguous: its samples must not be split by other families"
            );
            strict(self.mode, sink, family, Strict::Interleaved, no, name_at, message)?;
        }

        c.skip_blanks();
        let set = if c.peek() == Some(b'{') {
            self.labels(&mut c, family, no, sink)?
        } else {
            LabelSet {
                labels: Vec::new(),
                le: None,
                quantile: None,
            }
        };
        let value_at = c.offset();
        let token = c.token(Dialect::Text);
        let Some(value) = lexer::go_float(token) else {
            return fail(value_at, format!("expected float as value, got {}", quote(token)));
        };
        let mut timestamp = None;
        if !c.is_done() {
            c.skip_blanks();
            let ts_at = c.offset();
            let token = c.token(Dialect::Text);
            let Some(ms) = lexer::int64(token) else {
                return fail(ts_at, format!("expected integer as timestamp, got {}", quote(token)));
            };
            timestamp = Some(ms as f64 / 1000.0);
            if !c.is_done() {
                let rest = c.rest();
                c.skip_blanks();
                return c.fail(format!("spurious string after timestamp: {}", quote(rest)));
            }
        }

        let role = match (metric_type, part, set.le, set.quantile) {
            (MetricType::Histogram | MetricType::Summary, Part::Count, ..) => Role::Count,
            (MetricType::Histogram | MetricType::Summary, Part::Sum, ..) => Role::Sum,
            (MetricType::Histogram, _, Some(le), _) => Role::Bucket(le),
            (MetricType::Summary, _, _, Some(_)) => Role::Quantile,
            (MetricType::Histogram | MetricType::Summary, ..) => Role::Ignored,
            _ => Role::Value,
        };
        let needs = match (metric_type, part) {
            (MetricType::Histogram, Part::Exact) => Some(format!(
                "sample {name} of histogram {fam_name} needs a _bucket, _sum or _count suffix"
            )),
            (MetricType::Histogram, Part::Bucket) if set.le.is_none() => Some(format!("{name} has no le label")),
            (MetricType::Summary, Part::Exact) if set.quantile.is_none() => {
                Some(format!("{name} has no quantile label"))
            }
            _ => None,
        };
        if let Some(message) = needs {
            let message = if role == Role::Ignored {
                format!("{message}: promtool ignores it")
            } else {
                message
            };
            strict(self.mode, sink, family, Strict::IgnoredSample, no, name_at, message)?;
        }
        sink.sample(
            family,
            role,
            Sample {
                name,
                labels: set.labels,
                value,
                timestamp,
                line: no,
            },
        );
        Ok(())
    }

    /// `{name="value",...}` as promtool reads it: blanks around every token,
    /// an optional trailing comma, `__name__` reserved, and `le` (histograms)
    /// or `quantile` (summaries) parsed as floats and left out of its
    /// duplicate check.
    fn labels<'l, S: Sink<'l>>(
        &mut self,
        c: &mut Cursor<'l>,
        family: FamilyRef<'_>,
        no: usize,
        sink: &mut S,
    ) -> Res<LabelSet<'l>> {
        let mut set = LabelSet {
            // Room for a histogram bucket's labels and its `le`: growing from
            // four to eight was a second allocation per bucket line.
            labels: Vec::with_capacity(8),
            le: None,
            quantile: None,
        };
        let special_name = match family.metric_type {
            MetricType::Histogram => Some("le"),
            MetricType::Summary => Some("quantile"),
            _ => None,
        };
        let mut seen: Option<HashSet<&'l str>> = None;
        let mut special_seen = false;
        loop {
            c.bump();
            c.skip_blanks();
            if c.eat(b'}') {
                break;
            }
            let name_at = c.offset();
            let Some(name) = c.label_name() else {
                return c.fail(format!("invalid label name for metric {}", quote(family.name)));
            };
            c.skip_blanks();
            if c.peek() != Some(b'=') {
                let found = c.rest().chars().next().unwrap_or('\n');
                return c.fail(format!(
                    "expected '=' after label name, found {}",
                    quote(&found.to_string())
                ));
            }
            if name == "__name__" {
                return fail(name_at, "label name \"__name__\" is reserved");
            }
            let special = Some(name) == special_name;
            if special {
                if special_seen {
                    let message = format!("duplicate label name {name}");
                    strict(self.mode, sink, family, Strict::DuplicateLabel, no, name_at, message)?;
                }
                special_seen = true;
            } else if is_duplicate(&set.labels, &mut seen, name, special_name) {
                return fail(
                    name_at,
                    format!("duplicate label names for metric {}", quote(family.name)),
                );
            }
            c.bump();
            c.skip_blanks();
            if c.peek() != Some(b'"') {
                let found = c.rest().chars().next().unwrap_or('\n');
                return c.fail(format!(
                    "expected '\"' at start of label value, found {}",
                    quote(&found.to_string())
                ));
            }
            let value = c.quoted(Dialect::Text)?;
            if special {
                let Some(v) = lexer::go_float(&value) else {
                    return fail(
                        name_at,
                        format!("expected float as value for '{name}' label, got {}", quote(&value)),
                    );
                };
                if name == "le" {
                    set.le = Some(v);
                } else {
                    set.quantile = Some(v);
                }
            }
            set.labels.push((name, value));
            c.skip_blanks();
            match c.peek() {
                Some(b',') => {}
                Some(b'}') => {
                    c.bump();
                    break;
                }
                _ => {
                    let last = set.labels.last().map(|(_, v)| quote(v)).unwrap_or_default();
                    return c.fail(format!("unexpected end of label value {last}"));
                }
            }
        }
        c.skip_blanks();
        Ok(set)
    }

    /// Maps a name to its family as promtool does: the exact name first,
    /// then `_count`/`_sum` of a summary, then `_count`/`_sum`/`_bucket` of a
    /// histogram, else a new family. Metadata lines resolve the same way, so
    /// `# HELP h_count` documents histogram `h`.
    fn resolve<'l, S: Sink<'l>>(&mut self, name: &'l str, no: usize, sink: &mut S) -> (FamId, Part) {
        if let Some(&id) = self.by_name.get(name) {
            return (id, Part::Exact);
        }
        let typed = |base: &str, want: MetricType| {
            let id = *self.by_name.get(base)?;
            let fam = self.fams.get(id)?;
            (fam.metric_type == Some(want)).then_some(id)
        };
        let parts = [("_count", Part::Count), ("_sum", Part::Sum), ("_bucket", Part::Bucket)];
        for (want, allowed) in [(MetricType::Summary, 2), (MetricType::Histogram, 3)] {
            for (suffix, part) in parts.iter().take(allowed) {
                let base = name.strip_suffix(suffix).filter(|b| !b.is_empty());
                if let Some(id) = base.and_then(|b| typed(b, want)) {
                    return (id, *part);
                }
            }
        }
        let id = self.fams.len();
        let shared: Rc<str> = Rc::from(name);
        self.fams.push(Fam {
            name: Rc::clone(&shared),
            metric_type: None,
            helped: false,
            sampled: false,
        });
        self.by_name.insert(shared, id);
        sink.family(id, name, MetricType::Untyped, no);
        (id, Part::Exact)
    }
}

/// The types promtool's TYPE line accepts: the protobuf enum's names,
/// matched after Go's `strings.ToUpper`, so `GAUGE` and `gauge_histogram`
/// pass while a trailing blank does not.
fn promtool_type(word: &str) -> Option<MetricType> {
    // Go upper-cases rune by rune (simple case mapping): `ı` becomes `I`,
    // while ligatures that expand to several letters stay as they are.
    let mut upper = String::with_capacity(word.len());
    for ch in word.chars() {
        let mut mapped = ch.to_uppercase();
        match (mapped.next(), mapped.next()) {
            (Some(one), None) => upper.push(one),
            _ => upper.push(ch),
        }
    }
    Some(match upper.as_str() {
        "COUNTER" => MetricType::Counter,
        "GAUGE" => MetricType::Gauge,
        "SUMMARY" => MetricType::Summary,
        "UNTYPED" => MetricType::Untyped,
        "HISTOGRAM" => MetricType::Histogram,
        "GAUGE_HISTOGRAM" => MetricType::GaugeHistogram,
        _ => return None,
    })
}

/// Whether `name` is already among the labels, ignoring the family's special
/// label as promtool does.
fn is_duplicate<'l>(
    labels: &Labels<'l>,
    seen: &mut Option<HashSet<&'l str>>,
    name: &'l str,
    special: Option<&str>,
) -> bool {
    if labels.len() < LINEAR_DUP_LIMIT {
        return labels.iter().any(|(n, _)| *n == name && Some(*n) != special);
    }
    let set = seen.get_or_insert_with(|| labels.iter().map(|(n, _)| *n).filter(|n| Some(*n) != special).collect());
    !set.insert(name)
}

/// A [`Strict`] rule broken at byte `at` of line `no`: an error for the gate,
/// an event for the linter.
fn strict<'l, S: Sink<'l>>(
    mode: Mode,
    sink: &mut S,
    family: FamilyRef<'_>,
    rule: Strict,
    no: usize,
    at: usize,
    message: String,
) -> Res<()> {
    match mode {
        Mode::Gate => fail(at, message),
        Mode::Promtool => {
            sink.strict(family, rule, no, message);
            Ok(())
        }
    }
}
#[cfg(test)]
mod tests {
    use super::super::{Format, Kind, LintOptions, ParseError, lint, parse};

    /// The gate's verdict (whole-input parse).
    fn err(input: &str) -> Option<ParseError> {
        parse(input, Format::Text).err()
    }

    fn err_at(input: &str) -> Option<(usize, usize)> {
        err(input).map(|e| (e.line, e.column))
    }

    fn message(input: &str) -> String {
        err(input).map(|e| e.message).unwrap_or_default()
    }

    /// promtool's verdict: the linter's parse error, if any.
    fn promtool(input: &[u8]) -> Option<ParseError> {
        let options = LintOptions {
            format: Some(Format::Text),
            ..LintOptions::default()
        };
        match lint(input, &options) {
            Ok(report) => report.error,
            Err(e) => panic!("cannot lint: {e}"),
        }
    }

    /// The kinds of the linter's findings, for an input that parses.
    fn findings(input: &str) -> Vec<Kind> {
        let options = LintOptions {
            format: Some(Format::Text),
            ..LintOptions::default()
        };
        match lint(input.as_bytes(), &options) {
            Ok(report) if report.error.is_none() => report.findings.iter().map(|f| f.kind).collect(),
            Ok(report) => panic!("rejected: {:?}", report.error),
            Err(e) => panic!("cannot lint: {e}"),
        }
    }

    #[test]
    fn empty_input_and_blank_lines_are_fine() {
        assert!(parse("", Format::Text).is_ok_and(|e| e.families.is_empty()));
        let exp = parse("\n  \n# just a comment\na 1\n\n", Format::Text);
        assert!(exp.is_ok_and(|e| e.series_count() == 1));
        // Blanks after the last newline are not a line.
        assert!(promtool(b"a 1\n \t ").is_none());
    }

    #[test]
    fn missing_trailing_newline_is_reported_on_the_last_line() {
        assert_eq!(err_at("a 1\nb 2"), Some((2, 4)));
        assert!(message("a 1\nb 2").contains("missing newline"));
        assert_eq!(promtool(b"a 1\n# comment").map(|e| e.line), Some(2));
    }

    #[test]
    fn duplicate_type_is_rejected() {
        let input = "# TYPE a gauge\n# TYPE a gauge\na 1\n";
        assert_eq!(err_at(input), Some((2, 8)));
        assert!(message(input).contains("second TYPE line for metric name \"a\""));
        // Metadata names resolve like sample names: `h_count` is `h`.
        let input = "# TYPE h histogram\n# TYPE h_count gauge\n";
        assert!(promtool(input.as_bytes()).is_some_and(|e| e.line == 2));
    }

    #[test]
    fn duplicate_help_is_rejected() {
        assert!(message("# HELP a x\n# HELP a y\n").contains("second HELP"));
        // A HELP line without text sets nothing, so another may follow.
        assert!(promtool(b"# HELP a \n# HELP a x\na 1\n").is_none());
        let exp = parse("# TYPE h histogram\n# HELP h_count Latency.\nh_count 1\n", Format::Text);
        let help = exp.ok().and_then(|e| e.families[0].help.clone());
        assert_eq!(help.as_deref(), Some("Latency."));
    }

    #[test]
    fn type_after_samples_is_rejected() {
        let input = "a 1\n# TYPE a gauge\n";
        assert_eq!(err_at(input), Some((2, 8)));
        assert!(message(input).contains("or TYPE reported after samples"));
        // HELP after samples is fine.
        assert!(promtool(b"a 1\n# HELP a x\n").is_none());
    }

    #[test]
    fn type_words_are_promtools() {
        assert!(message("# TYPE a gaugey\n").contains("unknown metric type \"gaugey\""));
        assert!(message("# TYPE a gauge extra\n").contains("unknown metric type \"gauge extra\""));
        // The rest of the line is the type, trailing blanks included.
        assert!(promtool(b"# TYPE a gauge \na 1\n").is_some());
        // `unknown` is OpenMetrics' word, `gaugehistogram` too.
        assert!(promtool(b"# TYPE a unknown\n").is_some());
        assert!(promtool(b"# TYPE a gaugehistogram\n").is_some());
        // promtool upper-cases the word; Prometheus' scraper does not, so the
        // gate refuses and the linter warns.
        for word in ["GAUGE", "Counter", "gauge_histogram", "hıstogram"] {
            let input = format!("# HELP a_total x\n# TYPE a_total {word}\na_total 1\n");
            assert!(promtool(input.as_bytes()).is_none(), "{word}");
            assert!(findings(&input).contains(&Kind::TypeWord), "{word}");
            assert!(err(&input).is_some(), "{word}");
        }
        assert!(promtool("# TYPE a hiﬆogram\n".as_bytes()).is_some());
    }

    #[test]
    fn type_line_without_a_type_is_ignored_by_promtool_only() {
        for input in ["# TYPE a\na 1\n", "# TYPE a \t\na 1\n"] {
            assert!(promtool(input.as_bytes()).is_none(), "{input:?}");
            assert!(findings(input).contains(&Kind::MissingType), "{input:?}");
            assert!(message(input).contains("missing metric type"), "{input:?}");
        }
        assert!(promtool(b"# TYPE\n# HELP\n#\n").is_none());
    }

    #[test]
    fn crlf_line_ends_show_the_carriage_return() {
        let e = promtool(b"# HELP a x\r\n# TYPE a gauge\r\na 1\r\n");
        let e = e.map(|e| (e.line, e.message));
        assert_eq!(
            e,
            Some((
                2,
                "unknown metric type \"gauge\\r\" (the line ends with CR LF: the text format needs LF line ends)"
                    .to_string()
            ))
        );
        assert!(promtool(b"a 1\r\n").is_some_and(|e| e.message.contains(r#""1\r""#)));
    }

    #[test]
    fn bad_label_escape_is_rejected_at_the_backslash() {
        let input = "a{x=\"ok\"} 1\nb{x=\"b\\a\"} 1\n";
        assert_eq!(err_at(input), Some((2, 7)));
        assert!(message(input).contains("invalid escape sequence '\\a'"));
    }

    #[test]
    fn reserved_and_duplicate_label_names_are_rejected() {
        let input = "a{x=\"1\",y=\"2\",x=\"3\"} 1\n";
        assert_eq!(err_at(input), Some((1, 15)));
        assert!(message(input).contains("duplicate label names for metric \"a\""));
        let input = "a{__name__=\"b\"} 1\n";
        assert!(message(input).contains("\"__name__\" is reserved"));
        assert!(promtool(input.as_bytes()).is_some());
        // promtool leaves a histogram's `le` and a summary's `quantile` out of
        // its duplicate check; the gate does not.
        let hist = "# HELP h x\n# TYPE h histogram\nh_bucket{le=\"1\",le=\"+Inf\"} 1\nh_count 1\nh_sum 1\n";
        assert!(findings(hist).contains(&Kind::DuplicateLabel));
        assert!(message(hist).contains("duplicate label name le"));
        let mut many = String::from("a{");
        for i in 0..40 {
            many.push_str(&format!("l{i}=\"v\","));
        }
        assert!(promtool(format!("{many}}} 1\n").as_bytes()).is_none());
        assert!(promtool(format!("{many}l7=\"w\"}} 1\n").as_bytes()).is_some());
    }

    #[test]
    fn interleaved_families_are_a_gate_error_and_a_lint_finding() {
        let input = "a 1\nb 1\na{x=\"y\"} 2\n";
        assert_eq!(err_at(input), Some((3, 1)));
        assert!(message(input).contains("metric family a appears twice / is not contiguous"));
        assert!(promtool(input.as_bytes()).is_none());
        assert!(findings(input).contains(&Kind::Interleaved));
        // Histogram parts count as one family, in any order.
        let hist = "# TYPE h histogram\nh_sum 1\nh_count 1\nh_bucket{le=\"+Inf\"} 1\nb 1\nh_sum 2\n";
        assert!(message(hist).contains("metric family h appears twice"));
    }

    #[test]
    fn values_are_go_floats_without_hex() {
        for bad in [
            "1,5", "1_000", "0x1", "0x1p-2", "0X1P3", "one", "1e", "--1", "NaNa", "+NaN", "1e400",
        ] {
            let input = format!("a {bad}\n");
            assert_eq!(err_at(&input), Some((1, 3)), "{bad}");
            assert!(message(&input).contains("expected float as value"), "{bad}");
        }
        let ok = "a +Inf\nb -Inf\nc Inf\nd 1e-3\ne infinity\nf .5\ng NaN\nh 1e-400\n";
        let exp = parse(ok, Format::Text);
        let values: Vec<f64> = exp
            .map(|e| e.families.iter().map(|f| f.samples[0].value).collect())
            .unwrap_or_default();
        assert_eq!(values.len(), 8);
        assert_eq!(
            values[..6],
            [
                f64::INFINITY,
                f64::NEG_INFINITY,
                f64::INFINITY,
                0.001,
                f64::INFINITY,
                0.5
            ]
        );
        let hex_le = "# TYPE h histogram\nh_bucket{le=\"0x1p-2\"} 1\n";
        assert!(promtool(hex_le.as_bytes()).is_some_and(|e| e.message.contains("for 'le' label")));
        // Any sample of a histogram, `_sum` included, has its `le` parsed.
        assert!(promtool(b"# TYPE h histogram\nh_sum{le=\"x\"} 1\n").is_some());
        assert!(promtool(b"# TYPE s summary\ns_count{quantile=\"x\"} 1\n").is_some());
    }

    #[test]
    fn timestamps_must_be_integer_milliseconds_with_nothing_after() {
        assert!(message("a 1 1.5\n").contains("expected integer as timestamp"));
        assert_eq!(err_at("a 1 2 3\n"), Some((1, 7)));
        assert!(parse("a 1 -5\n", Format::Text).is_ok());
        assert!(parse("a 1 +5\n", Format::Text).is_ok());
        // A blank after the value or the timestamp is an error to promtool.
        assert!(message("a 1 \n").contains("expected integer as timestamp, got \"\""));
        assert!(message("a 1 2\t\n").contains("spurious string after timestamp: \"\\t\""));
    }

    #[test]
    fn whitespace_between_tokens_is_flexible() {
        let input = "  a\t{ x = \"1\" , }\t 2 \t 1000\n# HELP\ta\tsome help\t\n";
        let exp = parse(input, Format::Text);
        let Ok(exp) = exp else {
            panic!("rejected: {exp:?}");
        };
        let fam = &exp.families[0];
        assert_eq!(fam.help.as_deref(), Some("some help\t"));
        assert_eq!(fam.samples[0].label("x"), Some("1"));
        assert_eq!(fam.samples[0].timestamp, Some(1.0));
        assert!(parse("a{x=\"1\"}2\n", Format::Text).is_ok());
        assert!(parse("a{} 1\n", Format::Text).is_ok());
        assert!(err("a{x=\"1\" y=\"2\"} 1\n").is_some_and(|e| e.message.contains("unexpected end of label value")));
    }

    #[test]
    fn bad_names_are_rejected() {
        assert_eq!(err_at("0a 1\n"), Some((1, 1)));
        assert_eq!(err_at("a-b 1\n"), Some((1, 2)));
        assert!(err("a{0x=\"1\"} 1\n").is_some());
        assert!(err("a\n").is_some());
        assert!(err("# HELP 0a x\n").is_some());
        assert!(err("{x=\"1\"} 1\n").is_some());
    }

    #[test]
    fn help_allows_only_two_escapes() {
        let exp = parse("# HELP a line\\none \\\\ two\n# random words\na 1\n", Format::Text);
        let help = exp.ok().and_then(|e| e.families[0].help.clone());
        assert_eq!(help.as_deref(), Some("line\none \\ two"));
        for bad in ["# HELP a x\\ty\n", "# HELP a say \\\"hi\\\"\n", "# HELP a x\\\n"] {
            assert!(promtool(bad.as_bytes()).is_some_and(|e| e.line == 1), "{bad:?}");
        }
        // A literal tab is fine.
        assert!(promtool(b"# HELP a x\ty\na 1\n").is_none());
    }

    #[test]
    fn invalid_utf8_passes_in_comments_only() {
        assert!(promtool(b"# comment \xff\n# HELP a caf\xe9\na 1\n").is_none());
        assert!(promtool(b"a{x=\"\xff\"} 1\n").is_some_and(|e| (e.line, e.column) == (1, 6)));
        assert!(promtool(b"a 1\xff\n").is_some());
        // The gate refuses it anywhere, as it always has.
        assert!(super::super::parse_bytes(b"# comment \xff\na 1\n", Format::Text).is_err());
    }

    #[test]
    fn histogram_and_summary_samples_promtool_drops_are_findings() {
        let hist = "# HELP h x\n# TYPE h histogram\nh_bucket{x=\"1\"} 1\n";
        assert!(message(hist).contains("h_bucket has no le label"));
        assert!(findings(hist).contains(&Kind::IgnoredSample));
        let bare = "# HELP h x\n# TYPE h histogram\nh 1\n";
        assert!(message(bare).contains("needs a _bucket"));
        assert!(findings(bare).contains(&Kind::IgnoredSample));
        let summary = "# HELP s x\n# TYPE s summary\ns 1\n";
        assert!(message(summary).contains("s has no quantile label"));
        assert!(findings(summary).contains(&Kind::IgnoredSample));
        let ok = "# TYPE s summary\ns{quantile=\"0.5\"} 1\ns_sum 2\ns_count 3\n";
        let exp = parse(ok, Format::Text);
        assert!(exp.is_ok_and(|e| e.families.len() == 1 && e.families[0].samples.len() == 3));
    }

    #[test]
    fn suffixed_samples_of_untyped_families_stay_separate() {
        let exp = parse("a_sum 1\na_count 2\n# TYPE c counter\nc_bucket 1\n", Format::Text);
        let names: Vec<_> = exp
            .map(|e| e.families.iter().map(|f| f.name).collect())
            .unwrap_or_default();
        assert_eq!(names, ["a_sum", "a_count", "c", "c_bucket"]);
        // A HELP line naming `y_count` first makes `y_count` its own family.
        let exp = parse("# HELP y_count x\n# TYPE y histogram\ny_count 1\n", Format::Text);
        let names: Vec<_> = exp
            .map(|e| e.families.iter().map(|f| (f.name, f.samples.len())).collect())
            .unwrap_or_default();
        assert_eq!(names, [("y_count", 1), ("y", 0)]);
    }
}
