//! The Prometheus text exposition format 0.0.4, as Prometheus' scraper and
//! `promtool check metrics` read it: blank-separated tokens, `# HELP` and
//! `# TYPE` metadata, other `#` lines as comments, Go float values and
//! integer millisecond timestamps.
//!
//! Beyond the grammar it enforces what those tools reject: one TYPE and HELP
//! per name, TYPE before the family's first sample, contiguous families,
//! unique label names, known escapes, and the `le`/`quantile` labels that
//! histogram buckets and summary quantiles need.

use std::collections::HashMap;

use super::lexer::{self, Cursor, Dialect, Labels, Res, fail};
use super::{Family, MetricType, Sample};

/// Sample name suffixes that 0.0.4 folds into a histogram or summary family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Suffix {
    None,
    Bucket,
    Sum,
    Count,
}

impl Suffix {
    fn of(metric_type: MetricType, rest: &str) -> Option<Suffix> {
        let suffix = match rest {
            "" => Suffix::None,
            "_bucket" => Suffix::Bucket,
            "_sum" => Suffix::Sum,
            "_count" => Suffix::Count,
            _ => return None,
        };
        let allowed = match metric_type {
            MetricType::Histogram => suffix != Suffix::None,
            MetricType::Summary => suffix != Suffix::Bucket,
            _ => suffix == Suffix::None,
        };
        allowed.then_some(suffix)
    }
}

#[derive(Default)]
struct Meta {
    typed: bool,
    helped: bool,
}

struct Parser<'a> {
    families: Vec<Family<'a>>,
    meta: Vec<Meta>,
    by_name: HashMap<&'a str, usize>,
    /// Family of the most recent sample: the only one that may grow.
    current: Option<usize>,
    line_no: usize,
}

pub(crate) fn parse(input: &str) -> Res<Vec<Family<'_>>> {
    let mut p = Parser {
        families: Vec::new(),
        meta: Vec::new(),
        by_name: HashMap::new(),
        current: None,
        line_no: 0,
    };
    let mut start = 0;
    while start < input.len() {
        let rest = input.get(start..).unwrap_or("");
        let Some(len) = rest.find('\n') else {
            return fail(input.len(), "missing newline at end of input");
        };
        let line = rest.get(..len).unwrap_or("");
        p.line_no += 1;
        p.line(line, start)?;
        start += len + 1;
    }
    Ok(p.families)
}

impl<'a> Parser<'a> {
    fn line(&mut self, line: &'a str, base: usize) -> Res<()> {
        let mut c = Cursor::new(line, base);
        c.skip_blanks();
        match c.peek() {
            None => Ok(()),
            Some(b'#') => self.comment(c),
            Some(_) => self.sample(c),
        }
    }

    fn family(&mut self, name: &'a str) -> usize {
        if let Some(&idx) = self.by_name.get(name) {
            return idx;
        }
        let idx = self.families.len();
        self.families.push(Family {
            name,
            metric_type: MetricType::Untyped,
            help: None,
            unit: None,
            samples: Vec::new(),
            line: self.line_no,
        });
        self.meta.push(Meta::default());
        self.by_name.insert(name, idx);
        idx
    }

    fn comment(&mut self, mut c: Cursor<'a>) -> Res<()> {
        c.eat(b'#');
        c.skip_blanks();
        let keyword = c.token(Dialect::Text);
        if keyword != "HELP" && keyword != "TYPE" {
            return Ok(());
        }
        c.skip_blanks();
        let name_at = c.offset();
        let Some(name) = c.metric_name() else {
            return c.fail(format!("invalid or missing metric name in {keyword} line"));
        };
        let blank = c.skip_blanks();
        if !blank && !c.is_done() {
            return c.fail(format!("invalid character in metric name in {keyword} line"));
        }
        let idx = self.family(name);
        let (Some(meta), Some(family)) = (self.meta.get_mut(idx), self.families.get_mut(idx)) else {
            return fail(name_at, "internal error: family index out of range");
        };
        if keyword == "HELP" {
            if meta.helped {
                return fail(name_at, format!("second HELP line for metric name {name}"));
            }
            meta.helped = true;
            let help = lexer::unescape_help(c.rest(), Dialect::Text);
            family.help = (!help.is_empty()).then_some(help);
            return Ok(());
        }
        let type_at = c.offset();
        let word = c.token(Dialect::Text);
        c.skip_blanks();
        if !c.is_done() {
            return c.fail("unexpected text after metric type");
        }
        let metric_type = match word {
            "counter" => MetricType::Counter,
            "gauge" => MetricType::Gauge,
            "histogram" => MetricType::Histogram,
            "summary" => MetricType::Summary,
            "untyped" => MetricType::Untyped,
            "" => return fail(type_at, format!("missing metric type for {name}")),
            other => return fail(type_at, format!("unknown metric type \"{other}\"")),
        };
        if meta.typed {
            return fail(name_at, format!("second TYPE line for metric name {name}"));
        }
        if !family.samples.is_empty() {
            return fail(
                name_at,
                format!("TYPE line for {name} after its samples: TYPE must come first"),
            );
        }
        meta.typed = true;
        family.metric_type = metric_type;
        Ok(())
    }

    fn sample(&mut self, mut c: Cursor<'a>) -> Res<()> {
        let name_at = c.offset();
        let Some(name) = c.metric_name() else {
            return c.fail("invalid metric name");
        };
        let blank = c.skip_blanks();
        let mut labels: Labels<'a> = Vec::new();
        if c.peek() == Some(b'{') {
            c.label_set(Dialect::Text, &mut labels)?;
            c.skip_blanks();
        } else if !blank && !c.is_done() {
            return c.fail("invalid character in metric name");
        }
        if c.is_done() {
            return c.fail(format!("missing value for {name}"));
        }
        let value_at = c.offset();
        let token = c.token(Dialect::Text);
        let Some(value) = lexer::go_float(token) else {
            return fail(value_at, format!("invalid value \"{token}\""));
        };
        c.skip_blanks();
        let mut timestamp = None;
        if !c.is_done() {
            let ts_at = c.offset();
            let token = c.token(Dialect::Text);
            let Some(ms) = lexer::int64(token) else {
                return fail(
                    ts_at,
                    format!("invalid timestamp \"{token}\": expected integer milliseconds"),
                );
            };
            timestamp = Some(ms as f64 / 1000.0);
            c.skip_blanks();
            if !c.is_done() {
                return c.fail("unexpected text after timestamp");
            }
        }

        let (idx, suffix) = self.resolve(name);
        let Some(family) = self.families.get_mut(idx) else {
            return fail(name_at, "internal error: family index out of range");
        };
        if self.current != Some(idx) && !family.samples.is_empty() {
            return fail(
                name_at,
                format!(
                    "metric family {} appears twice / is not contiguous: its samples must not be split by other families",
                    family.name
                ),
            );
        }
        check_labels(family, suffix, name, &labels, name_at)?;
        self.current = Some(idx);
        family.samples.push(Sample {
            name,
            labels,
            value,
            timestamp,
            line: self.line_no,
        });
        Ok(())
    }

    /// Maps a sample name to its family the way the Go parsers do: exact
    /// name first, then histogram or summary suffixes, else a new untyped
    /// family.
    fn resolve(&mut self, name: &'a str) -> (usize, Suffix) {
        if let Some(&idx) = self.by_name.get(name) {
            return (idx, Suffix::None);
        }
        for rest in ["_bucket", "_sum", "_count"] {
            let Some(base) = name.strip_suffix(rest) else {
                continue;
            };
            let Some(&idx) = self.by_name.get(base) else {
                continue;
            };
            let metric_type = self.families.get(idx).map(|f| f.metric_type);
            if let Some(suffix) = metric_type.and_then(|t| Suffix::of(t, rest)) {
                return (idx, suffix);
            }
        }
        (self.family(name), Suffix::None)
    }
}

/// The labels histogram buckets and summary quantiles cannot do without.
fn check_labels(family: &Family<'_>, suffix: Suffix, name: &str, labels: &Labels<'_>, at: usize) -> Res<()> {
    let needed = match (family.metric_type, suffix) {
        (MetricType::Histogram, Suffix::Bucket) => "le",
        (MetricType::Summary, Suffix::None) => "quantile",
        (MetricType::Histogram, Suffix::None) => {
            return fail(
                at,
                format!(
                    "sample {name} of histogram {} needs a _bucket, _sum or _count suffix",
                    family.name
                ),
            );
        }
        _ => return Ok(()),
    };
    let Some((_, value)) = labels.iter().find(|(n, _)| *n == needed) else {
        return fail(at, format!("{name} has no {needed} label"));
    };
    if lexer::go_float(value).is_none() {
        return fail(at, format!("{name} has {needed}=\"{value}\", which is not a number"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::{Format, ParseError, parse};

    fn err(input: &str) -> Option<ParseError> {
        parse(input, Format::Text).err()
    }

    fn err_at(input: &str) -> Option<(usize, usize)> {
        err(input).map(|e| (e.line, e.column))
    }

    fn message(input: &str) -> String {
        err(input).map(|e| e.message).unwrap_or_default()
    }

    #[test]
    fn empty_input_and_blank_lines_are_fine() {
        assert!(parse("", Format::Text).is_ok_and(|e| e.families.is_empty()));
        let exp = parse("\n  \n# just a comment\na 1\n\n", Format::Text);
        assert!(exp.is_ok_and(|e| e.series_count() == 1));
    }

    #[test]
    fn missing_trailing_newline_is_reported_on_the_last_line() {
        assert_eq!(err_at("a 1\nb 2"), Some((2, 4)));
        assert!(message("a 1\nb 2").contains("missing newline"));
    }

    #[test]
    fn duplicate_type_is_rejected() {
        let input = "# TYPE a gauge\n# TYPE a gauge\na 1\n";
        assert_eq!(err_at(input), Some((2, 8)));
        assert!(message(input).contains("second TYPE line for metric name a"));
    }

    #[test]
    fn duplicate_help_is_rejected() {
        assert!(message("# HELP a x\n# HELP a y\n").contains("second HELP"));
    }

    #[test]
    fn type_after_samples_is_rejected() {
        let input = "a 1\n# TYPE a gauge\n";
        assert_eq!(err_at(input), Some((2, 8)));
        assert!(message(input).contains("after its samples"));
    }

    #[test]
    fn unknown_or_missing_type_is_rejected() {
        assert!(message("# TYPE a gaugey\n").contains("unknown metric type \"gaugey\""));
        assert!(message("# TYPE a\n").contains("missing metric type"));
        assert!(message("# TYPE a gauge extra\n").contains("unexpected text"));
        // `unknown` is OpenMetrics' word, not 0.0.4's.
        assert!(err("# TYPE a unknown\n").is_some());
    }

    #[test]
    fn bad_label_escape_is_rejected_at_the_backslash() {
        let input = "a{x=\"ok\"} 1\nb{x=\"b\\a\"} 1\n";
        assert_eq!(err_at(input), Some((2, 7)));
        assert!(message(input).contains("invalid escape sequence '\\a'"));
    }

    #[test]
    fn duplicate_label_name_is_rejected() {
        let input = "a{x=\"1\",y=\"2\",x=\"3\"} 1\n";
        assert_eq!(err_at(input), Some((1, 15)));
        assert!(message(input).contains("duplicate label name x"));
    }

    #[test]
    fn non_contiguous_family_is_rejected() {
        let input = "a 1\nb 1\na{x=\"y\"} 2\n";
        assert_eq!(err_at(input), Some((3, 1)));
        assert!(message(input).contains("metric family a appears twice / is not contiguous"));
        // Histogram parts count as one family, in any order.
        let hist = "# TYPE h histogram\nh_sum 1\nh_count 1\nh_bucket{le=\"+Inf\"} 1\nb 1\nh_sum 2\n";
        assert!(message(hist).contains("metric family h appears twice"));
    }

    #[test]
    fn invalid_floats_are_rejected() {
        for bad in ["1,5", "1_000", "0x1", "one", "1e", "--1", "NaNa"] {
            let input = format!("a {bad}\n");
            assert_eq!(err_at(&input), Some((1, 3)), "{bad}");
            assert!(message(&input).contains("invalid value"));
        }
        let ok = "a +Inf\nb -Inf\nc Inf\nd 1e-3\ne 0x1p-2\nf .5\ng NaN\n";
        let exp = parse(ok, Format::Text);
        let values: Vec<f64> = exp
            .map(|e| e.families.iter().map(|f| f.samples[0].value).collect())
            .unwrap_or_default();
        assert_eq!(values.len(), 7);
        assert_eq!(
            values[..6],
            [f64::INFINITY, f64::NEG_INFINITY, f64::INFINITY, 0.001, 0.25, 0.5]
        );
    }

    #[test]
    fn timestamps_must_be_integer_milliseconds() {
        assert!(message("a 1 1.5\n").contains("invalid timestamp"));
        assert_eq!(err_at("a 1 2 3\n"), Some((1, 7)));
        assert!(parse("a 1 -5\n", Format::Text).is_ok());
    }

    #[test]
    fn whitespace_between_tokens_is_flexible() {
        let input = "  a\t{ x = \"1\" , }\t 2 \t 1000 \t\n# HELP\ta\tsome help\t\n";
        let exp = parse(input, Format::Text);
        let Ok(exp) = exp else {
            panic!("rejected: {exp:?}");
        };
        let fam = &exp.families[0];
        assert_eq!(fam.help.as_deref(), Some("some help\t"));
        assert_eq!(fam.samples[0].label("x"), Some("1"));
        assert_eq!(fam.samples[0].timestamp, Some(1.0));
        assert!(parse("a{x=\"1\"}2\n", Format::Text).is_ok());
    }

    #[test]
    fn bad_names_are_rejected() {
        assert_eq!(err_at("0a 1\n"), Some((1, 1)));
        assert_eq!(err_at("a-b 1\n"), Some((1, 2)));
        assert!(err("a{0x=\"1\"} 1\n").is_some());
        assert!(err("a\n").is_some());
        assert!(err("# HELP 0a x\n").is_some());
    }

    #[test]
    fn help_is_unescaped_and_other_comments_ignored() {
        let exp = parse("# HELP a line\\none \\\\ two \\x\n# random words\na 1\n", Format::Text);
        let help = exp.ok().and_then(|e| e.families[0].help.clone());
        assert_eq!(help.as_deref(), Some("line\none \\ two \\x"));
    }

    #[test]
    fn histogram_buckets_need_le_and_summaries_quantile() {
        let hist = "# TYPE h histogram\nh_bucket{x=\"1\"} 1\n";
        assert!(message(hist).contains("h_bucket has no le label"));
        let bad_le = "# TYPE h histogram\nh_bucket{le=\"abc\"} 1\n";
        assert!(message(bad_le).contains("not a number"));
        let bare = "# TYPE h histogram\nh 1\n";
        assert!(message(bare).contains("needs a _bucket"));
        let summary = "# TYPE s summary\ns 1\n";
        assert!(message(summary).contains("s has no quantile label"));
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
    }
}
