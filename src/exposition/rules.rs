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

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::BuildHasher;

use super::events::{FamId, FamilyRef, Meta, Role, Sink, Strict};
use super::table::{BlockTable, Entry};
use super::validate;
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

/// The unit word in `name` and its base unit, as promlint finds it: the
/// first unit in [`UNITS`] order, and for it the first prefix in
/// [`UNIT_PREFIXES`] order, that some `_`-separated part of the name is.
/// Run once per family; a body of one-sample families runs it per line, so
/// each part is matched against the units it ends with rather than every
/// prefix-unit pair against every part.
fn metric_unit(name: &str) -> Option<(String, &'static str)> {
    let mut best: Option<(usize, usize)> = None;
    for part in name.split('_') {
        for (u, (unit, _)) in UNITS.iter().enumerate() {
            if best.is_some_and(|(bu, _)| u > bu) {
                break;
            }
            let Some(prefix) = part.strip_suffix(unit) else {
                continue;
            };
            if let Some(p) = UNIT_PREFIXES.iter().position(|&known| known == prefix)
                && best.is_none_or(|b| (u, p) < b)
            {
                best = Some((u, p));
            }
        }
    }
    let (u, p) = best?;
    let ((unit, base), prefix) = (UNITS.get(u)?, UNIT_PREFIXES.get(p)?);
    Some((format!("{prefix}{unit}"), base))
}

/// promlint's `[a-z][A-Z]`.
fn is_camel_case(name: &str) -> bool {
    // Run for every label of every sample; almost no name has a capital.
    if !name.bytes().any(|b| b.is_ascii_uppercase()) {
        return false;
    }
    name.as_bytes()
        .windows(2)
        .any(|w| matches!(w, [a, b] if a.is_ascii_lowercase() && b.is_ascii_uppercase()))
}

/// Whether `lower` has `_word` at its end or `_word_` inside, without
/// building either string.
fn has_word(lower: &str, word: &str) -> bool {
    let bytes = lower.as_bytes();
    memchr::memchr_iter(b'_', bytes).any(|at| {
        let after = bytes.get(at + 1..).unwrap_or_default();
        after
            .strip_prefix(word.as_bytes())
            .is_some_and(|rest| rest.first().is_none_or(|&b| b == b'_'))
    })
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
            state = (state ^ Self::tail(rest)).wrapping_mul(M).rotate_left(29);
        }
        state
    }

    /// The last one to seven bytes as one word, without the variable-length
    /// copy (a `memcpy` call per label name and value) of padding them out.
    /// Overlapping reads are fine: the length is mixed in already.
    fn tail(rest: &[u8]) -> u64 {
        let byte = |i: usize| u64::from(rest.get(i).copied().unwrap_or(0));
        let half = |i: usize| {
            let mut word = [0u8; 4];
            if let Some(bytes) = rest.get(i..i + 4) {
                word.copy_from_slice(bytes);
            }
            u64::from(u32::from_le_bytes(word))
        };
        let n = rest.len();
        if n >= 4 {
            half(0) | (half(n - 4) << 32)
        } else {
            byte(0) | (byte(n / 2) << 8) | (byte(n.saturating_sub(1)) << 16)
        }
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

/// Series identities one family's duplicate check remembers, at eight bytes
/// each (32 MiB of table at most, see [`SeriesSet`]). A single family may
/// have more (200 MB of very short lines is 13 million series, and 1 GiB of
/// `a 1 <timestamp>` lines over a hundred million), and no exact set of
/// those fits the linter's memory bound; so later series are still checked
/// against the ones remembered, but not remembered themselves, and the
/// report says how many were not.
pub const MAX_SERIES: usize = 3 << 20;

/// Histogram label sets one family's consistency check follows, a few
/// numbers each; later label sets of the family go unchecked, for the same
/// reason as [`MAX_SERIES`]. 131,072 in at most 16 MiB.
pub const MAX_HISTOGRAMS: usize = 1 << 17;

/// A [`SeriesSet`] block: 4,096 keys' slots, 32 KiB.
const SET_BLOCK: usize = 1 << 12;

/// [`MAX_SERIES`] fill 1,024 blocks to about 75 %: 32 MiB.
const SET_BLOCKS: usize = 1 << 10;

/// A histogram map block: 512 slots of 64 bytes, 32 KiB.
const HISTOGRAM_BLOCK: usize = 1 << 9;

/// [`MAX_HISTOGRAMS`] fill 512 blocks to about 50 %: 16 MiB.
const HISTOGRAM_BLOCKS: usize = 1 << 9;

/// One family's series identities (keyed [`SeriesHasher`] outputs).
struct SeriesSet(BlockTable<()>);

/// What [`SeriesSet::insert`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seen {
    New,
    Again,
    /// Not seen before, and the set is full: not remembered.
    Unremembered,
}

impl Default for SeriesSet {
    fn default() -> Self {
        SeriesSet(BlockTable::new(SET_BLOCK, SET_BLOCKS, MAX_SERIES))
    }
}

impl SeriesSet {
    fn insert(&mut self, key: u64) -> Seen {
        match self.0.entry(key, || ()) {
            Entry::Found(()) => Seen::Again,
            Entry::New(()) => Seen::New,
            Entry::Full => Seen::Unremembered,
        }
    }

    /// Empties the set, keeping its blocks for the next family.
    fn clear(&mut self) {
        self.0.clear();
    }
}

/// Histogram label sets to their state, at most [`MAX_HISTOGRAMS`].
fn histogram_map() -> BlockTable<Histogram> {
    BlockTable::new(HISTOGRAM_BLOCK, HISTOGRAM_BLOCKS, MAX_HISTOGRAMS)
}

struct LintFamily {
    /// First line that mentions the family.
    line: usize,
    helped: bool,
    sampled: bool,
    /// Kept only while the family has no HELP, for its "no help" finding.
    name: Option<Box<str>>,
}

/// One histogram label set (all labels but `le`) of the open run, checked
/// as its samples arrive: a few numbers, not its buckets, so a family of a
/// million buckets costs a few megabytes. The optional numbers are flagged
/// in one byte rather than as `Option`s, which made it 80 bytes instead of
/// 56 (see [`MAX_HISTOGRAMS`]).
#[derive(Clone, Copy, Default)]
struct Histogram {
    /// First sample of the series, for the findings only the end can make.
    line: usize,
    /// The highest `le` so far and its bucket's value, when [`LAST`].
    last_le: f64,
    last_value: f64,
    /// The `+Inf` bucket's value, when [`INF`].
    inf: f64,
    /// The first `_count` and its line, when [`COUNT`].
    count: f64,
    count_line: usize,
    /// [`LAST`], [`INF`], [`COUNT`], [`ORDERED`] and [`COUNT_CHECKED`].
    flags: u8,
}

const LAST: u8 = 1;
const INF: u8 = 2;
const COUNT: u8 = 4;
/// Buckets came in increasing `le` order so far. Client libraries write
/// them so; when one does not, cumulativeness is not checked, as that would
/// need every bucket kept.
const ORDERED: u8 = 8;
/// The `_count` was checked against `+Inf` when it arrived.
const COUNT_CHECKED: u8 = 16;

impl Histogram {
    fn new(line: usize) -> Self {
        Histogram {
            line,
            last_le: 0.0,
            last_value: 0.0,
            inf: 0.0,
            count: 0.0,
            count_line: 0,
            flags: ORDERED,
        }
    }

    fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }

    fn last(&self) -> Option<(f64, f64)> {
        self.has(LAST).then_some((self.last_le, self.last_value))
    }

    fn inf(&self) -> Option<f64> {
        self.has(INF).then_some(self.inf)
    }

    fn count(&self) -> Option<(f64, usize)> {
        self.has(COUNT).then_some((self.count, self.count_line))
    }
}

/// The text-format family whose samples are being read.
struct Run {
    id: FamId,
    name: String,
    /// Series identities (name, labels in any order, timestamp).
    seen: SeriesSet,
    histograms: BlockTable<Histogram>,
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
    /// The tables of the last run, kept for the next one.
    spare: Option<(SeriesSet, BlockTable<Histogram>)>,
    series: u64,
    /// Samples past [`MAX_SERIES`] or [`MAX_HISTOGRAMS`] of their family,
    /// not remembered by the consistency checks.
    unremembered: u64,
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
            spare: None,
            series: 0,
            unremembered: 0,
            sampled_families: 0,
        }
    }

    /// Families announced so far, sampled or not.
    pub(crate) fn families(&self) -> usize {
        self.families.len()
    }

    /// Families with at least one sample, and sample lines.
    pub(crate) fn counts(&self) -> (usize, u64) {
        (self.sampled_families, self.series)
    }

    /// Samples the consistency checks could not remember (see
    /// [`MAX_SERIES`]).
    pub(crate) fn unremembered(&self) -> u64 {
        self.unremembered
    }

    /// The end of a successful parse: the last family's consistency, then
    /// every family that never got a HELP.
    pub(crate) fn finish(&mut self) {
        self.end_run();
        // One family at a time: collecting them first held a copy of every
        // unhelped family (32 bytes each) on top of the families themselves.
        for id in 0..self.families.len() {
            let Some(f) = self.families.get_mut(id).filter(|f| f.sampled && !f.helped) else {
                continue;
            };
            let line = f.line;
            if let Some(name) = f.name.take() {
                self.add(id, &name, Kind::NoHelp, 0, line, "no help text".to_string());
            }
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
            // The last run's tables, emptied: their capacity is what the
            // largest family so far needed, so reuse saves regrowing them.
            let (seen, histograms) = self
                .spare
                .take()
                .unwrap_or_else(|| (SeriesSet::default(), histogram_map()));
            self.run = Some(Run {
                id: family.id,
                name: family.name.to_string(),
                seen,
                histograms,
            });
        }
        let (identity, series) = self.hasher.sample(sample, Some("le"));
        let Some(run) = self.run.as_mut() else {
            return;
        };
        let seen = run.seen.insert(identity);
        if seen == Seen::Unremembered {
            self.unremembered += 1;
        }
        match seen {
            Seen::New | Seen::Unremembered => {}
            Seen::Again => {
                let message = format!(
                    "duplicate series {}",
                    validate::render_series(sample.name, sample, None)
                );
                self.add(family.id, family.name, Kind::DuplicateSeries, 0, sample.line, message);
                return;
            }
        }
        if family.metric_type != MetricType::Histogram || !matches!(role, Role::Bucket(_) | Role::Count) {
            return;
        }
        let (Entry::Found(h) | Entry::New(h)) = run.histograms.entry(series, || Histogram::new(sample.line)) else {
            // Counted once per sample, whichever check left it out.
            if seen != Seen::Unremembered {
                self.unremembered += 1;
            }
            return;
        };
        let value = sample.value;
        let mut found = None;
        match role {
            Role::Bucket(le) if le.is_nan() => {
                found = Some((Kind::HistogramBadLe, "bucket le=\"NaN\" is not a number".to_string()));
            }
            Role::Bucket(le) => {
                if le == f64::INFINITY && !h.has(INF) {
                    h.inf = value;
                    h.flags |= INF;
                }
                let ordered = h.has(ORDERED);
                match h.last() {
                    Some((last_le, _)) if le < last_le => h.flags &= !ORDERED,
                    Some((last_le, _)) if le == last_le && ordered => {
                        let text = format!("duplicate bucket le=\"{}\"", show_le(le));
                        found = Some((Kind::HistogramDuplicateLe, text));
                    }
                    Some((last_le, last_value)) if ordered && value < last_value => {
                        let text = format!(
                            "bucket le=\"{}\" ({value}) is lower than le=\"{}\" ({last_value}): buckets must be cumulative",
                            show_le(le),
                            show_le(last_le)
                        );
                        found = Some((Kind::HistogramNotCumulative, text));
                    }
                    _ => {}
                }
                if h.has(ORDERED) {
                    h.last_le = le;
                    h.last_value = value;
                    h.flags |= LAST;
                }
            }
            _ => {
                if !h.has(COUNT) {
                    h.count = value;
                    h.count_line = sample.line;
                    h.flags |= COUNT;
                    // Buckets come before `_count` from every client library,
                    // so `+Inf` is known by now; if not, the end decides.
                    if let Some(inf) = h.inf() {
                        h.flags |= COUNT_CHECKED;
                        if count_differs(value, inf) {
                            let text = format!("_count ({value}) differs from the +Inf bucket ({inf})");
                            found = Some((Kind::HistogramCountMismatch, text));
                        }
                    }
                }
            }
        }
        if let Some((kind, text)) = found {
            let message = format!("histogram {}: {text}", validate::describe(family.name, sample));
            self.add(family.id, family.name, kind, 0, sample.line, message);
        }
    }

    /// What only the end of a family's run can tell: missing `+Inf` buckets
    /// and counts.
    fn end_run(&mut self) {
        let Some(mut run) = self.run.take() else {
            return;
        };
        let mut found: Vec<(usize, Kind, String)> = Vec::new();
        run.histograms.for_each_value(|h| {
            // Formatted only for a finding: most histograms have none.
            let series = || format!("histogram {} (series at line {})", run.name, h.line);
            match (h.inf(), h.count()) {
                (None, _) => found.push((
                    h.line,
                    Kind::HistogramNoInf,
                    format!("{} has no le=\"+Inf\" bucket", series()),
                )),
                (Some(_), None) => found.push((h.line, Kind::HistogramNoCount, format!("{} has no _count", series()))),
                (Some(inf), Some((count, line))) if !h.has(COUNT_CHECKED) && count_differs(count, inf) => found.push((
                    line,
                    Kind::HistogramCountMismatch,
                    format!("{}: _count ({count}) differs from the +Inf bucket ({inf})", series()),
                )),
                _ => {}
            }
        });
        // The map's order is the hash's: sort so the first finding of a
        // kind is the first in the input.
        found.sort_by_key(|(line, ..)| *line);
        for (line, kind, message) in found {
            self.add(run.id, &run.name, kind, 0, line, message);
        }
        run.seen.clear();
        run.histograms.clear();
        self.spare = Some((run.seen, run.histograms));
    }
}

fn count_differs(count: f64, inf: f64) -> bool {
    count != inf && !(count.is_nan() && inf.is_nan())
}

/// An `le` bound as expositions write it.
fn show_le(le: f64) -> String {
    if le == f64::INFINITY {
        "+Inf".to_string()
    } else {
        le.to_string()
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

#[cfg(test)]
mod tests {
    use super::super::{Format, LintOptions, lint};
    use super::{Finding, Kind};

    fn findings(input: &str) -> Vec<Finding> {
        let options = LintOptions {
            format: Some(Format::Text),
            ..LintOptions::default()
        };
        match lint(input.as_bytes(), &options) {
            Ok(report) if report.error.is_none() => report.findings,
            Ok(report) => panic!("rejected: {:?}", report.error),
            Err(e) => panic!("cannot lint: {e}"),
        }
    }

    fn kinds(input: &str) -> Vec<(usize, Kind)> {
        findings(input).iter().map(|f| (f.line, f.kind)).collect()
    }

    const HEAD: &str = "# HELP h_seconds Latency.\n# TYPE h_seconds histogram\n";

    #[test]
    fn the_series_set_is_exact_up_to_its_cap_and_bounded_past_it() {
        use super::{MAX_SERIES, Seen, SeriesSet};
        // Spread like keyed hashes; zero included, which shares a slot with one.
        let key = |i: u64| i.wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(17);
        let mut set = SeriesSet::default();
        let cap = MAX_SERIES as u64;
        for i in 0..cap {
            assert_eq!(set.insert(key(i)), Seen::New, "{i}");
        }
        assert_eq!(set.insert(key(7)), Seen::Again);
        assert_eq!(set.insert(key(cap - 1)), Seen::Again);
        // Past the cap: still compared with what is held, not remembered.
        assert_eq!(set.insert(key(cap)), Seen::Unremembered);
        assert_eq!(set.insert(key(cap)), Seen::Unremembered);
        assert_eq!(set.insert(key(3)), Seen::Again);
        // 32 MiB of blocks, and the one a split leaves spare.
        let slots = set.0.slots();
        assert!(slots * 8 <= (32 << 20) + (32 << 10), "{slots} slots");
        set.clear();
        assert_eq!(set.insert(key(7)), Seen::New);
        assert_eq!(set.insert(key(7)), Seen::Again);
    }

    #[test]
    fn unit_and_word_matching_agree_with_promlints_nested_loops() {
        use super::{ABBREVIATIONS, TYPE_WORDS, UNIT_PREFIXES, UNITS, has_word, metric_unit};
        // promlint's own formulation, as a reference.
        let reference_unit = |name: &str| {
            UNITS.iter().find_map(|&(unit, base)| {
                UNIT_PREFIXES
                    .iter()
                    .find(|&&prefix| name.split('_').any(|part| part.strip_prefix(prefix) == Some(unit)))
                    .map(|prefix| (format!("{prefix}{unit}"), base))
            })
        };
        let reference_word =
            |lower: &str, word: &str| lower.ends_with(&format!("_{word}")) || lower.contains(&format!("_{word}_"));
        let parts = [
            "http",
            "bytes",
            "kilobytes",
            "seconds",
            "milliseconds",
            "ms",
            "s",
            "total",
            "minutes",
            "gibibits",
            "counter",
            "gauge",
            "histogram",
            "summary",
            "gauge_histogram",
            "hours",
            "mibibytes",
            "",
            "x",
            "db",
            "secs",
            "kb",
            "mb",
            "inches",
            "pounds",
        ];
        let mut names = 0;
        for a in parts {
            for b in parts {
                for c in ["", "_total", "_seconds_bytes", "_ms_x", "_kb"] {
                    let name = format!("{a}_{b}{c}");
                    assert_eq!(metric_unit(&name), reference_unit(&name), "{name}");
                    for word in TYPE_WORDS.iter().chain(&ABBREVIATIONS) {
                        assert_eq!(has_word(&name, word), reference_word(&name, word), "{name} {word}");
                    }
                    names += 1;
                }
            }
        }
        assert_eq!(names, 25 * 25 * 5);
    }

    #[test]
    fn families_after_a_large_one_start_from_an_empty_set() {
        // A family large enough to split the set's blocks, then small ones
        // that reuse them: nothing of the large one may leak into theirs,
        // and their own duplicates are still found.
        let mut body = String::from("# HELP big B.\n# TYPE big gauge\n");
        for i in 0..20_000 {
            body.push_str(&format!("big{{i=\"{i}\"}} 1\n"));
        }
        for f in 0..3 {
            body.push_str(&format!(
                "# HELP s{f} S.\n# TYPE s{f} gauge\ns{f}{{i=\"1\"}} 1\ns{f}{{i=\"2\"}} 1\n"
            ));
        }
        body.push_str("# HELP d D.\n# TYPE d gauge\nd{i=\"1\"} 1\nd{i=\"1\"} 2\n");
        // Series of earlier runs seen again: interleaved, not duplicates, so
        // a set that kept them would say so.
        body.push_str("s0{i=\"1\"} 1\nbig{i=\"7\"} 1\n");
        let lines = 2 + 20_000 + 3 * 4 + 4;
        assert_eq!(
            kinds(&body),
            [
                (lines, Kind::DuplicateSeries),
                (lines + 1, Kind::Interleaved),
                (lines + 2, Kind::Interleaved)
            ]
        );
    }

    #[test]
    fn a_histogram_family_that_splits_the_set_still_finds_only_real_repeats() {
        // Enough label sets to split the set's blocks many times over: no
        // series may be lost or doubled by a split, so only a real repeat
        // is a duplicate.
        let mut body = String::from(HEAD);
        for i in 0..3_000 {
            for le in ["0.1", "1", "+Inf"] {
                body.push_str(&format!("h_seconds_bucket{{a=\"{i}\",le=\"{le}\"}} 1\n"));
            }
            body.push_str(&format!(
                "h_seconds_sum{{a=\"{i}\"}} 1\nh_seconds_count{{a=\"{i}\"}} 1\n"
            ));
        }
        assert_eq!(kinds(&body), []);
        body.push_str("h_seconds_bucket{a=\"17\",le=\"1\"} 1\nh_seconds_sum{a=\"2999\"} 1\n");
        let found = findings(&body);
        let got: Vec<(usize, Kind, usize)> = found.iter().map(|f| (f.line, f.kind, f.repeats)).collect();
        // The second repeat is counted in the first finding, as every rule is.
        assert_eq!(got, [(2 + 3_000 * 5 + 1, Kind::DuplicateSeries, 1)]);
    }

    #[test]
    fn a_clean_histogram_has_no_findings() {
        let body = format!(
            "{HEAD}h_seconds_bucket{{a=\"1\",le=\"0.1\"}} 1\nh_seconds_bucket{{a=\"1\",le=\"+Inf\"}} 2\nh_seconds_sum{{a=\"1\"}} 1\nh_seconds_count{{a=\"1\"}} 2\n"
        );
        assert_eq!(kinds(&body), []);
    }

    #[test]
    fn histogram_consistency_is_checked_as_samples_arrive() {
        let body = format!(
            "{HEAD}h_seconds_bucket{{le=\"0.1\"}} 5\nh_seconds_bucket{{le=\"1\"}} 3\nh_seconds_bucket{{le=\"1.0\"}} 4\nh_seconds_bucket{{le=\"+Inf\"}} 5\nh_seconds_count 6\n"
        );
        let found = findings(&body);
        let got: Vec<(usize, Kind)> = found.iter().map(|f| (f.line, f.kind)).collect();
        assert_eq!(
            got,
            [
                (4, Kind::HistogramNotCumulative),
                (5, Kind::HistogramDuplicateLe),
                (7, Kind::HistogramCountMismatch),
            ]
        );
        assert_eq!(
            found[0].message,
            "histogram h_seconds: bucket le=\"1\" (3) is lower than le=\"0.1\" (5): buckets must be cumulative"
        );
        assert_eq!(
            found[2].message,
            "histogram h_seconds: _count (6) differs from the +Inf bucket (5)"
        );
    }

    #[test]
    fn missing_inf_and_count_are_found_at_the_end_of_the_family() {
        let body = format!(
            "{HEAD}h_seconds_bucket{{a=\"1\",le=\"1\"}} 1\nh_seconds_count{{a=\"1\"}} 1\nh_seconds_bucket{{a=\"2\",le=\"+Inf\"}} 1\n# HELP g G.\ng 1\n"
        );
        assert_eq!(kinds(&body), [(3, Kind::HistogramNoInf), (5, Kind::HistogramNoCount)]);
        // A count before its buckets is compared at the end instead.
        let late = format!("{HEAD}h_seconds_count 2\nh_seconds_bucket{{le=\"+Inf\"}} 1\n");
        assert_eq!(kinds(&late), [(3, Kind::HistogramCountMismatch)]);
    }

    #[test]
    fn buckets_out_of_order_are_not_misjudged() {
        let body = format!(
            "{HEAD}h_seconds_bucket{{le=\"+Inf\"}} 5\nh_seconds_bucket{{le=\"1\"}} 2\nh_seconds_count 5\nh_seconds_sum 1\n"
        );
        assert_eq!(kinds(&body), []);
    }

    #[test]
    fn duplicate_series_ignore_label_order_but_not_timestamps() {
        let body =
            "# HELP a A.\n# TYPE a gauge\na{x=\"1\",y=\"2\"} 1\na{y=\"2\",x=\"1\"} 2\na{x=\"1\",y=\"2\"} 3 1000\n";
        let found = findings(body);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!((found[0].line, found[0].kind), (4, Kind::DuplicateSeries));
        assert_eq!(found[0].message, "duplicate series a{y=\"2\",x=\"1\"}");
    }

    #[test]
    fn promlint_rules_use_promtools_words_once_per_family() {
        let body = "# TYPE process_cpu_milliseconds counter\nprocess_cpu_milliseconds{fooBar=\"1\"} 1\nprocess_cpu_milliseconds{fooBar=\"2\"} 1\n";
        let found = findings(body);
        let texts: Vec<(usize, &str, usize)> = found.iter().map(|f| (f.line, f.message.as_str(), f.repeats)).collect();
        assert_eq!(
            texts,
            [
                (1, "no help text", 0),
                (2, "use base unit \"seconds\" instead of \"milliseconds\"", 0),
                (2, "counter metrics should have \"_total\" suffix", 0),
                (2, "label names should be written in 'snake_case' not 'camelCase'", 1),
            ]
        );
        assert!(found.iter().all(|f| f.kind.is_promtool_lint()));
        assert_eq!(
            found[3].to_string(),
            "process_cpu_milliseconds: label names should be written in 'snake_case' not 'camelCase' (and once more in this family)"
        );
    }

    #[test]
    fn openmetrics_gets_only_the_naming_and_help_rules() {
        let options = LintOptions {
            format: Some(Format::OpenMetrics),
            ..LintOptions::default()
        };
        let body = "# TYPE c counter\nc_total 1\n# TYPE h histogram\n# HELP h H.\nh_bucket{le=\"+Inf\"} 1\n# EOF\n";
        let report = lint(body.as_bytes(), &options).map_err(|e| e.to_string());
        let Ok(report) = report else {
            panic!("{report:?}");
        };
        assert!(report.error.is_none(), "{:?}", report.error);
        let got: Vec<(usize, &str)> = report.findings.iter().map(|f| (f.line, f.message.as_str())).collect();
        assert_eq!(got, [(1, "no help text")]);
        assert_eq!((report.families, report.series), (2, 2));
    }
}
