//! The linter's findings: what `promtool check metrics` reports as lint
//! problems (client_golang's promlint rules, same wording), what promtool
//! accepts but Prometheus' scraper or a careful reader would not, and the
//! consistency rules the text format cannot express (histograms, duplicate
//! series). None of them makes an exposition invalid.
//!
//! [`LintSink`] applies them to the events of a streaming parse. It keeps a
//! few bytes per family and, for the text format, the series hashes and
//! histogram buckets of the family whose samples are being read, dropped
//! when the next family starts; so memory follows the largest family.

use std::borrow::Cow;
use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};

use super::events::{FamId, FamilyRef, Meta, Role, Sink, Strict};
use super::validate::{self, HistogramRule, SeriesCheck};
use super::{MetricType, Sample};

/// Which rule a finding breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Kind {
    // promtool's lint problems.
    NoHelp,
    BaseUnit,
    CounterTotal,
    NonCounterTotal,
    ReservedSuffix,
    LeLabel,
    QuantileLabel,
    TypeInName,
    Colon,
    CamelCaseName,
    CamelCaseLabel,
    AbbreviatedUnit,
    // Accepted by promtool, refused by the gate.
    Interleaved,
    TypeWord,
    MissingType,
    IgnoredSample,
    DuplicateLabel,
    // Consistency.
    DuplicateSeries,
    HistogramNoInf,
    HistogramNotCumulative,
    HistogramCountMismatch,
    HistogramNoCount,
    HistogramBadLe,
    HistogramDuplicateLe,
}

impl Kind {
    /// Whether `promtool check metrics` reports this too (as a lint problem,
    /// with the same text).
    pub fn is_promtool_lint(self) -> bool {
        matches!(
            self,
            Kind::NoHelp
                | Kind::BaseUnit
                | Kind::CounterTotal
                | Kind::NonCounterTotal
                | Kind::ReservedSuffix
                | Kind::LeLabel
                | Kind::QuantileLabel
                | Kind::TypeInName
                | Kind::Colon
                | Kind::CamelCaseName
                | Kind::CamelCaseLabel
                | Kind::AbbreviatedUnit
        )
    }
}

/// One finding: the first place a rule is broken in a family, and how many
/// more times the family breaks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// 1-based line of the first occurrence.
    pub line: usize,
    pub family: String,
    pub kind: Kind,
    pub message: String,
    /// Further occurrences in the same family, not shown one by one.
    pub repeats: usize,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.family, self.message)?;
        match self.repeats {
            0 => Ok(()),
            1 => write!(f, " (and once more in this family)"),
            n => write!(f, " (and {n} more times in this family)"),
        }
    }
}

/// Beyond this many distinct findings the rest are only counted, so a body
/// that breaks a rule in every family cannot grow memory or the output.
const MAX_SHOWN: usize = 10_000;

/// promlint's units and the base unit each should be.
const UNITS: [(&str, &str); 24] = [
    ("amperes", "amperes"),
    ("bytes", "bytes"),
    ("celsius", "celsius"),
    ("grams", "grams"),
    ("joules", "joules"),
    ("kelvin", "kelvin"),
    ("meters", "meters"),
    ("metres", "metres"),
    ("seconds", "seconds"),
    ("volts", "volts"),
    ("minutes", "seconds"),
    ("hours", "seconds"),
    ("days", "seconds"),
    ("weeks", "seconds"),
    ("kelvins", "kelvin"),
    ("fahrenheit", "celsius"),
    ("rankine", "celsius"),
    ("inches", "meters"),
    ("yards", "meters"),
    ("miles", "meters"),
    ("bits", "bytes"),
    ("calories", "joules"),
    ("pounds", "grams"),
    ("ounces", "grams"),
];

const UNIT_PREFIXES: [&str; 19] = [
    "pico", "nano", "micro", "milli", "centi", "deci", "deca", "hecto", "kilo", "kibi", "mega", "mibi", "giga", "gibi",
    "tera", "tebi", "peta", "pebi", "",
];

const ABBREVIATIONS: [&str; 14] = [
    "s", "ms", "us", "ns", "sec", "b", "kb", "mb", "gb", "tb", "pb", "m", "h", "d",
];

/// The types whose names a metric name should not contain, in the
/// protobuf enum's words (untyped is exempt).
const TYPE_WORDS: [&str; 5] = ["counter", "gauge", "summary", "histogram", "gauge_histogram"];

/// The unit word in `name` and its base unit, as promlint finds it.
fn metric_unit(name: &str) -> Option<(String, &'static str)> {
    for (unit, base) in UNITS {
        for prefix in UNIT_PREFIXES {
            if name.split('_').any(|part| part.strip_prefix(prefix) == Some(unit)) {
                return Some((format!("{prefix}{unit}"), base));
            }
        }
    }
    None
}

/// promlint's `[a-z][A-Z]`.
fn is_camel_case(name: &str) -> bool {
    name.as_bytes()
        .windows(2)
        .any(|w| matches!(w, [a, b] if a.is_ascii_lowercase() && b.is_ascii_uppercase()))
}

fn has_word(lower: &str, word: &str) -> bool {
    let mut infix = String::with_capacity(word.len() + 2);
    infix.push('_');
    infix.push_str(word);
    let suffixed = lower.ends_with(infix.as_str());
    infix.push('_');
    suffixed || lower.contains(infix.as_str())
}

/// A keyed hash of series identities. SipHash per label was a fifth of the
/// linter's time; these identities only ever decide findings (a collision
/// reports a duplicate that is not one), never the parse verdict, so a fast
/// multiply-mix hash with a random key is enough.
#[derive(Clone, Copy)]
struct SeriesHasher {
    key: u64,
}

impl SeriesHasher {
    fn new() -> Self {
        SeriesHasher {
            key: RandomState::new().hash_one(0x6c69_6e74_u64) | 1,
        }
    }

    /// Mixes `bytes` into `state` eight at a time.
    fn absorb(mut state: u64, bytes: &[u8]) -> u64 {
        const M: u64 = 0x9e37_79b9_7f4a_7c15;
        state = state.wrapping_add((bytes.len() as u64).wrapping_mul(M));
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            state = (state ^ u64::from_le_bytes(word)).wrapping_mul(M).rotate_left(29);
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word.get_mut(..rest.len()).unwrap_or(&mut []).copy_from_slice(rest);
            state = (state ^ u64::from_le_bytes(word)).wrapping_mul(M).rotate_left(29);
        }
        state
    }

    /// murmur3's finaliser, so every input bit reaches every output bit.
    fn finish(mut h: u64) -> u64 {
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }

    /// `(all, without)`: the hash of the sample's name, timestamp and labels
    /// in any order, and of its labels but `without` (in any order too).
    fn sample(self, sample: &Sample<'_>, without: Option<&str>) -> (u64, u64) {
        let mut labels = 0u64;
        let mut skipped = 0u64;
        for (name, value) in &sample.labels {
            let h = Self::finish(Self::absorb(Self::absorb(self.key, name.as_bytes()), value.as_bytes()));
            labels = labels.wrapping_add(h);
            if Some(*name) == without {
                skipped = skipped.wrapping_add(h);
            }
        }
        let timestamp = sample.timestamp.map_or(0, |t| t.to_bits() | 1);
        let named = Self::finish(Self::absorb(self.key ^ timestamp, sample.name.as_bytes()));
        (named.wrapping_add(labels), labels.wrapping_sub(skipped))
    }
}

/// Keys that are already [`SeriesHasher`] outputs need no second hash.
#[derive(Default)]
struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type SeriesMap<V> = HashMap<u64, V, BuildHasherDefault<Prehashed>>;

struct LintFamily {
    /// First line that mentions the family.
    line: usize,
    helped: bool,
    sampled: bool,
    /// Kept only while the family has no HELP, for its "no help" finding.
    name: Option<Box<str>>,
}

/// The text-format family whose samples are being read.
struct Run {
    id: FamId,
    name: String,
    /// Series identity (name, labels in any order, timestamp) to first line.
    seen: SeriesMap<usize>,
    histograms: Vec<SeriesCheck<'static>>,
    by_labels: SeriesMap<usize>,
}

/// Applies the rules to a parse's events. Text rules follow promtool; for
/// OpenMetrics only the naming and HELP rules apply, as its parser already
/// enforces the rest.
pub(crate) struct LintSink {
    text: bool,
    families: Vec<LintFamily>,
    findings: Vec<Finding>,
    index: HashMap<(FamId, Kind, u8), usize>,
    unshown: u64,
    run: Option<Run>,
    hasher: SeriesHasher,
    series: u64,
    sampled_families: usize,
}

impl LintSink {
    pub(crate) fn new(text: bool) -> Self {
        LintSink {
            text,
            families: Vec::new(),
            findings: Vec::new(),
            index: HashMap::new(),
            unshown: 0,
            run: None,
            hasher: SeriesHasher::new(),
            series: 0,
            sampled_families: 0,
        }
    }

    /// Families with at least one sample, and sample lines.
    pub(crate) fn counts(&self) -> (usize, u64) {
        (self.sampled_families, self.series)
    }

    /// The end of a successful parse: the last family's consistency, then
    /// every family that never got a HELP.
    pub(crate) fn finish(&mut self) {
        self.end_run();
        let missing: Vec<(FamId, usize, Box<str>)> = self
            .families
            .iter_mut()
            .enumerate()
            .filter(|(_, f)| f.sampled && !f.helped)
            .filter_map(|(id, f)| Some((id, f.line, f.name.take()?)))
            .collect();
        for (id, line, name) in missing {
            self.add(id, &name, Kind::NoHelp, 0, line, "no help text".to_string());
        }
    }

    /// The findings sorted by line, and how many more were not kept.
    pub(crate) fn into_findings(mut self) -> (Vec<Finding>, u64) {
        self.findings.sort_by_key(|f| f.line);
        (self.findings, self.unshown)
    }

    fn add(&mut self, id: FamId, family: &str, kind: Kind, variant: u8, line: usize, message: String) {
        if let Some(&at) = self.index.get(&(id, kind, variant)) {
            if let Some(f) = self.findings.get_mut(at) {
                f.repeats += 1;
            }
            return;
        }
        if self.findings.len() >= MAX_SHOWN {
            self.unshown += 1;
            return;
        }
        self.index.insert((id, kind, variant), self.findings.len());
        self.findings.push(Finding {
            line,
            family: family.to_string(),
            kind,
            message,
            repeats: 0,
        });
    }

    /// promlint's rules about a family's name, checked at its first sample,
    /// when its type can no longer change.
    fn name_rules(&mut self, family: FamilyRef<'_>, line: usize) {
        let (id, name, metric_type) = (family.id, family.name, family.metric_type);
        if let Some((unit, base)) = metric_unit(name)
            && unit != base
        {
            let message = format!("use base unit \"{base}\" instead of \"{unit}\"");
            self.add(id, name, Kind::BaseUnit, 0, line, message);
        }
        if self.text {
            let total = name.ends_with("_total");
            if metric_type == MetricType::Counter && !total {
                let message = "counter metrics should have \"_total\" suffix".to_string();
                self.add(id, name, Kind::CounterTotal, 0, line, message);
            } else if total && !matches!(metric_type, MetricType::Counter | MetricType::Untyped) {
                let message = "non-counter metrics should not have \"_total\" suffix".to_string();
                self.add(id, name, Kind::NonCounterTotal, 0, line, message);
            }
            if metric_type != MetricType::Untyped {
                let histogram = metric_type == MetricType::Histogram;
                let summary = metric_type == MetricType::Summary;
                if !histogram && name.ends_with("_bucket") {
                    let message = "non-histogram metrics should not have \"_bucket\" suffix".to_string();
                    self.add(id, name, Kind::ReservedSuffix, 0, line, message);
                }
                for (variant, suffix) in [(1, "_count"), (2, "_sum")] {
                    if !histogram && !summary && name.ends_with(suffix) {
                        let message =
                            format!("non-histogram and non-summary metrics should not have \"{suffix}\" suffix");
                        self.add(id, name, Kind::ReservedSuffix, variant, line, message);
                    }
                }
            }
        }
        let lower = name.to_ascii_lowercase();
        for (variant, word) in (0u8..).zip(TYPE_WORDS) {
            if has_word(&lower, word) {
                let message = format!("metric name should not include type '{word}'");
                self.add(id, name, Kind::TypeInName, variant, line, message);
            }
        }
        if name.contains(':') {
            let message = "metric names should not contain ':'".to_string();
            self.add(id, name, Kind::Colon, 0, line, message);
        }
        if is_camel_case(name) {
            let message = "metric names should be written in 'snake_case' not 'camelCase'".to_string();
            self.add(id, name, Kind::CamelCaseName, 0, line, message);
        }
        if ABBREVIATIONS.iter().any(|a| has_word(&lower, a)) {
            let message = "metric names should not contain abbreviated units".to_string();
            self.add(id, name, Kind::AbbreviatedUnit, 0, line, message);
        }
    }

    /// promlint's rules about label names; `le` and `quantile` are exempt
    /// where the type gives them their meaning.
    fn label_rules(&mut self, family: FamilyRef<'_>, sample: &Sample<'_>) {
        let metric_type = family.metric_type;
        let histogram = match metric_type {
            MetricType::Histogram => true,
            MetricType::GaugeHistogram => !self.text,
            _ => false,
        };
        let summary = metric_type == MetricType::Summary;
        let typed = !matches!(metric_type, MetricType::Untyped | MetricType::Unknown);
        for (label, _) in &sample.labels {
            let label = *label;
            if (histogram && label == "le") || (summary && label == "quantile") {
                continue;
            }
            if typed && label == "le" {
                let message = "non-histogram metrics should not have \"le\" label".to_string();
                self.add(family.id, family.name, Kind::LeLabel, 0, sample.line, message);
            }
            if typed && label == "quantile" {
                let message = "non-summary metrics should not have \"quantile\" label".to_string();
                self.add(family.id, family.name, Kind::QuantileLabel, 0, sample.line, message);
            }
            if is_camel_case(label) {
                let message = "label names should be written in 'snake_case' not 'camelCase'".to_string();
                self.add(family.id, family.name, Kind::CamelCaseLabel, 0, sample.line, message);
            }
        }
    }

    /// The text format's consistency rules for one sample of the open run.
    fn consistency(&mut self, family: FamilyRef<'_>, role: Role, sample: &Sample<'_>) {
        if self.run.as_ref().is_none_or(|r| r.id != family.id) {
            self.end_run();
            self.run = Some(Run {
                id: family.id,
                name: family.name.to_string(),
                seen: SeriesMap::default(),
                histograms: Vec::new(),
                by_labels: SeriesMap::default(),
            });
        }
        let (identity, series) = self.hasher.sample(sample, Some("le"));
        let by_labels = match role {
            Role::Bucket(_) | Role::Count => Some(series),
            _ => None,
        };
        let Some(run) = self.run.as_mut() else {
            return;
        };
        let repeated = match run.seen.get(&identity) {
            Some(&first) => Some(first),
            None => {
                run.seen.insert(identity, sample.line);
                None
            }
        };
        if family.metric_type == MetricType::Histogram
            && let Some(key) = by_labels
        {
            let idx = *run.by_labels.entry(key).or_insert_with(|| {
                run.histograms.push(SeriesCheck::new(family.name, sample));
                run.histograms.len() - 1
            });
            if let Some(series) = run.histograms.get_mut(idx) {
                match role {
                    Role::Bucket(_) => {
                        let le = sample.label("le").unwrap_or("").to_string();
                        series.bucket(Cow::Owned(le), sample.value, sample.line);
                    }
                    _ => series.count(sample.value, sample.line),
                }
            }
        }
        if let Some(first) = repeated {
            let message = format!(
                "duplicate series {} (first at line {first})",
                validate::render_series(sample.name, sample, None)
            );
            self.add(family.id, family.name, Kind::DuplicateSeries, 0, sample.line, message);
        }
    }

    /// Checks the histograms of the run that just ended.
    fn end_run(&mut self) {
        let Some(run) = self.run.take() else {
            return;
        };
        let mut found = Vec::new();
        for series in &run.histograms {
            series.check("_count", |rule, line, message| found.push((rule, line, message)));
        }
        for (rule, line, message) in found {
            let kind = match rule {
                HistogramRule::BadLe => Kind::HistogramBadLe,
                HistogramRule::DuplicateLe => Kind::HistogramDuplicateLe,
                HistogramRule::NotCumulative => Kind::HistogramNotCumulative,
                HistogramRule::NoInf => Kind::HistogramNoInf,
                HistogramRule::NoCount => Kind::HistogramNoCount,
                HistogramRule::CountMismatch => Kind::HistogramCountMismatch,
            };
            self.add(run.id, &run.name, kind, 0, line, message);
        }
    }
}

impl<'l> Sink<'l> for LintSink {
    fn family(&mut self, _id: FamId, name: &'l str, _metric_type: MetricType, line: usize) {
        self.families.push(LintFamily {
            line,
            helped: false,
            sampled: false,
            name: Some(name.into()),
        });
    }

    fn meta(&mut self, id: FamId, meta: Meta<'l>) {
        if let (Meta::Help(help), Some(family)) = (meta, self.families.get_mut(id))
            && (self.text || !help.is_empty())
        {
            family.helped = true;
            family.name = None;
        }
    }

    fn sample(&mut self, family: FamilyRef<'_>, role: Role, sample: Sample<'l>) {
        self.series += 1;
        let first = self.families.get_mut(family.id).is_some_and(|f| {
            let first = !f.sampled;
            f.sampled = true;
            first
        });
        if first {
            self.sampled_families += 1;
            self.name_rules(family, sample.line);
        }
        self.label_rules(family, &sample);
        if self.text {
            self.consistency(family, role, &sample);
        }
    }

    fn strict(&mut self, family: FamilyRef<'_>, rule: Strict, line: usize, message: String) {
        let kind = match rule {
            Strict::Interleaved => Kind::Interleaved,
            Strict::TypeWord => Kind::TypeWord,
            Strict::MissingType => Kind::MissingType,
            Strict::IgnoredSample => Kind::IgnoredSample,
            Strict::DuplicateLabel => Kind::DuplicateLabel,
        };
        self.add(family.id, family.name, kind, 0, line, message);
    }
}
