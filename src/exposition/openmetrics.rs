//! OpenMetrics 1.0 text: the strict grammar (single spaces, no comments, no
//! blank lines, `# EOF` last) plus the semantic rules a conforming parser
//! must enforce: metadata placement and uniqueness, name clashes between
//! families, per-type sample suffixes and values, exemplar placement and
//! size, metric grouping, timestamp order and histogram consistency.
//!
//! The parser is fed one line at a time. Families are processed one at a
//! time: only the open family keeps state, plus a table of the names seen so
//! far (for clashes and repeats), so memory is bounded by the largest family
//! and the number of families, never by the samples.

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, Hash, Hasher};
use std::rc::Rc;

use super::events::{FamId, FamilyRef, Meta, Role, Sink};
use super::lexer::{self, At, Cursor, Dialect, Labels, Res, fail, fail_at};
use super::{MetricType, Sample};

/// What a sample name adds to its family name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Suffix {
    None,
    Total,
    Created,
    Count,
    Sum,
    Bucket,
    GCount,
    GSum,
    Info,
}

const ALL_SUFFIXES: [Suffix; 9] = [
    Suffix::None,
    Suffix::Total,
    Suffix::Created,
    Suffix::Count,
    Suffix::Sum,
    Suffix::Bucket,
    Suffix::GCount,
    Suffix::GSum,
    Suffix::Info,
];

impl Suffix {
    fn as_str(self) -> &'static str {
        match self {
            Suffix::None => "",
            Suffix::Total => "_total",
            Suffix::Created => "_created",
            Suffix::Count => "_count",
            Suffix::Sum => "_sum",
            Suffix::Bucket => "_bucket",
            Suffix::GCount => "_gcount",
            Suffix::GSum => "_gsum",
            Suffix::Info => "_info",
        }
    }
}

/// The sample suffixes a family of this type exposes.
fn sample_suffixes(metric_type: MetricType) -> &'static [Suffix] {
    match metric_type {
        MetricType::Counter => &[Suffix::Total, Suffix::Created],
        MetricType::Summary => &[Suffix::None, Suffix::Count, Suffix::Sum, Suffix::Created],
        MetricType::Histogram => &[Suffix::Bucket, Suffix::Count, Suffix::Sum, Suffix::Created],
        MetricType::GaugeHistogram => &[Suffix::Bucket, Suffix::GCount, Suffix::GSum],
        MetricType::Info => &[Suffix::Info],
        MetricType::Gauge | MetricType::StateSet | MetricType::Unknown | MetricType::Untyped => &[Suffix::None],
    }
}

/// The names a family claims in the metric set: its sample names and its
/// own name, which no other family may use either.
fn claims(metric_type: MetricType, suffix: Suffix) -> bool {
    suffix == Suffix::None || sample_suffixes(metric_type).contains(&suffix)
}

fn parse_type(word: &str) -> Option<MetricType> {
    Some(match word {
        "counter" => MetricType::Counter,
        "gauge" => MetricType::Gauge,
        "histogram" => MetricType::Histogram,
        "gaugehistogram" => MetricType::GaugeHistogram,
        "summary" => MetricType::Summary,
        "stateset" => MetricType::StateSet,
        "info" => MetricType::Info,
        "unknown" => MetricType::Unknown,
        _ => return None,
    })
}

/// The exemplar label set limit, in code points of names and values.
const EXEMPLAR_MAX_CHARS: usize = 128;

/// One histogram MetricPoint being checked: the run of samples that share a
/// metric and a timestamp.
struct Point {
    group: u64,
    timestamp: Option<u64>,
    at: At,
    last_le: Option<f64>,
    last_bucket: f64,
    count: Option<f64>,
    negative_buckets: bool,
    has_sum: bool,
    has_gsum: bool,
    negative_gsum: bool,
}

impl Point {
    fn new(group: u64, timestamp: Option<u64>, at: At) -> Point {
        Point {
            group,
            timestamp,
            at,
            last_le: None,
            last_bucket: 0.0,
            count: None,
            negative_buckets: false,
            has_sum: false,
            has_gsum: false,
            negative_gsum: false,
        }
    }

    fn finish(&self, family: &str, metric_type: MetricType) -> Res<()> {
        let at = self.at;
        let (kind, count_name, sum_name) = if metric_type == MetricType::GaugeHistogram {
            ("gauge histogram", "_gcount", "_gsum")
        } else {
            ("histogram", "_count", "_sum")
        };
        if self.last_le != Some(f64::INFINITY) {
            return fail_at(at, format!("{kind} {family} has no le=\"+Inf\" bucket"));
        }
        if let Some(count) = self.count
            && count != self.last_bucket
        {
            return fail_at(
                at,
                format!(
                    "{kind} {family}: {count_name} ({count}) differs from the +Inf bucket ({})",
                    self.last_bucket
                ),
            );
        }
        let has_sum = self.has_sum || self.has_gsum;
        if has_sum && self.count.is_none() {
            return fail_at(at, format!("{kind} {family} has {sum_name} but no {count_name}"));
        }
        if !has_sum && self.count.is_some() {
            return fail_at(at, format!("{kind} {family} has {count_name} but no {sum_name}"));
        }
        if self.negative_buckets && self.has_sum {
            return fail_at(
                at,
                format!("{kind} {family} has negative buckets, so it must not have _sum"),
            );
        }
        if !self.negative_buckets && self.negative_gsum {
            return fail_at(
                at,
                format!("{kind} {family} has a negative _gsum but no negative buckets"),
            );
        }
        Ok(())
    }
}

/// State of the family currently being read.
struct Open {
    idx: FamId,
    at: At,
    has_type: bool,
    has_help: bool,
    has_unit: bool,
    /// A UNIT line with a unit in it.
    unit: bool,
    /// The current metric (label set minus point labels) and the timestamp
    /// of its last sample.
    group: Option<(u64, Option<f64>)>,
    point: Option<Point>,
}

/// A parsed sample line before it is attached to a family.
struct Line<'a> {
    name: &'a str,
    name_at: usize,
    labels: Labels<'a>,
    value: f64,
    value_at: usize,
    timestamp: Option<f64>,
    timestamp_at: usize,
    exemplar_at: Option<usize>,
}

/// What the parser keeps of every family it has seen.
struct Fam {
    name: Rc<str>,
    metric_type: MetricType,
    sampled: bool,
}

pub(crate) struct OmParser {
    fams: Vec<Fam>,
    by_name: HashMap<Rc<str>, FamId>,
    open: Option<Open>,
    /// Metrics already seen in the open family; kept here to reuse its
    /// allocation across families.
    seen_groups: HashSet<u64>,
    /// Keyed per parse so nobody can precompute colliding label sets.
    hasher: RandomState,
    /// The `# EOF` line has been read.
    done: bool,
}

impl OmParser {
    pub(crate) fn new() -> Self {
        OmParser {
            fams: Vec::new(),
            by_name: HashMap::new(),
            open: None,
            seen_groups: HashSet::new(),
            hasher: RandomState::new(),
            done: false,
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
        if self.done {
            return fail(0, "text after \"# EOF\"");
        }
        let line = match std::str::from_utf8(line) {
            Ok(line) => line,
            Err(e) => return fail(e.valid_up_to(), "invalid utf-8"),
        };
        if line == "# EOF" {
            self.done = true;
            return self.close();
        }
        if !terminated {
            return fail_at(At::End, "missing \"# EOF\" at end of input");
        }
        if line.is_empty() {
            return fail(0, "blank lines are not allowed in OpenMetrics");
        }
        if line.starts_with('#') {
            self.metadata(line, no, sink)
        } else {
            self.sample(line, no, sink)
        }
    }

    /// The end of the input.
    pub(crate) fn finish(&mut self) -> Res<()> {
        if self.done {
            Ok(())
        } else {
            fail_at(At::End, "missing \"# EOF\" at end of input")
        }
    }

    fn family_ref(&self, id: FamId) -> Option<(Rc<str>, MetricType)> {
        self.fams.get(id).map(|f| (Rc::clone(&f.name), f.metric_type))
    }
    fn metadata<'l, S: Sink<'l>>(&mut self, line: &'l str, no: usize, sink: &mut S) -> Res<()> {
        let mut c = Cursor::new(line);
        let kind = if c.eat_str("# TYPE ") {
            "TYPE"
        } else if c.eat_str("# HELP ") {
            "HELP"
        } else if c.eat_str("# UNIT ") {
            "UNIT"
        } else {
            return c.fail("comments are not allowed in OpenMetrics: '#' lines must be TYPE, HELP, UNIT or EOF");
        };
        let name_at = c.offset();
        let Some(name) = c.metric_name() else {
            return c.fail(format!("invalid or missing metric name in {kind} line"));
        };
        if !c.eat(b' ') {
            return c.fail(format!("expected a single space after the metric name in {kind} line"));
        }
        let rest_at = c.offset();
        let rest = c.rest();
        let at = At::Pos {
            line: no,
            column: lexer::column(line.as_bytes(), name_at),
        };
        let idx = self.open_for_metadata(name, at, kind, no, sink)?;
        let (Some(open), Some(family)) = (self.open.as_mut(), self.fams.get_mut(idx)) else {
            return fail(name_at, "internal error: no open family");
        };
        match kind {
            "TYPE" => {
                if open.has_type {
                    return fail(name_at, format!("second TYPE line for metric family {name}"));
                }
                let Some(metric_type) = parse_type(rest) else {
                    return fail(rest_at, format!("invalid metric type {}", lexer::quote(rest)));
                };
                open.has_type = true;
                family.metric_type = metric_type;
                sink.meta(idx, Meta::Type(metric_type));
            }
            "HELP" => {
                if open.has_help {
                    return fail(name_at, format!("second HELP line for metric family {name}"));
                }
                open.has_help = true;
                sink.meta(idx, Meta::Help(lexer::unescape_help(rest, Dialect::OpenMetrics)));
            }
            _ => {
                if open.has_unit {
                    return fail(name_at, format!("second UNIT line for metric family {name}"));
                }
                open.has_unit = true;
                if let Some(bad) = rest.bytes().position(|b| !lexer::is_metric_name_char(b)) {
                    return fail(rest_at + bad, "invalid character in unit");
                }
                if !rest.is_empty() {
                    let suffixed = name.strip_suffix(rest).is_some_and(|base| base.ends_with('_'));
                    if !suffixed {
                        return fail(rest_at, format!("unit {rest} is not a suffix of metric name {name}"));
                    }
                    open.unit = true;
                    sink.meta(idx, Meta::Unit(rest));
                }
            }
        }
        if open.unit && matches!(family.metric_type, MetricType::Info | MetricType::StateSet) {
            return fail(
                name_at,
                format!("{} family {name} must not have a unit", family.metric_type),
            );
        }
        Ok(())
    }

    /// The open family for a metadata line about `name`, starting a new one
    /// if needed.
    fn open_for_metadata<'l, S: Sink<'l>>(
        &mut self,
        name: &'l str,
        at: At,
        kind: &str,
        no: usize,
        sink: &mut S,
    ) -> Res<FamId> {
        let open = self.open.as_ref().and_then(|o| self.fams.get(o.idx));
        if let Some(family) = open.filter(|f| &*f.name == name) {
            if family.sampled {
                return fail_at(at, format!("{kind} line for metric family {name} after its samples"));
            }
        } else {
            self.close()?;
            if self.by_name.contains_key(name) {
                return fail_at(at, format!("metric family {name} appears twice / is not contiguous"));
            }
            self.start_family(name, at, no, sink);
        }
        match &self.open {
            Some(open) => Ok(open.idx),
            None => fail_at(at, "internal error: no open family"),
        }
    }

    fn start_family<'l, S: Sink<'l>>(&mut self, name: &'l str, at: At, no: usize, sink: &mut S) {
        let idx = self.fams.len();
        let shared: Rc<str> = Rc::from(name);
        self.fams.push(Fam {
            name: Rc::clone(&shared),
            metric_type: MetricType::Unknown,
            sampled: false,
        });
        self.by_name.insert(shared, idx);
        self.seen_groups.clear();
        self.open = Some(Open {
            idx,
            at,
            has_type: false,
            has_help: false,
            has_unit: false,
            unit: false,
            group: None,
            point: None,
        });
        sink.family(idx, name, MetricType::Unknown, no);
    }

    /// Finishes the open family: its last histogram point, then the check
    /// that none of its names can be produced by an earlier family.
    fn close(&mut self) -> Res<()> {
        let Some(open) = self.open.take() else {
            return Ok(());
        };
        let Some((name, metric_type)) = self.family_ref(open.idx) else {
            return Ok(());
        };
        if let Some(point) = &open.point {
            point.finish(&name, metric_type)?;
        }
        let mut candidate = String::new();
        for &mine in &ALL_SUFFIXES {
            if !claims(metric_type, mine) {
                continue;
            }
            candidate.clear();
            candidate.push_str(&name);
            candidate.push_str(mine.as_str());
            if let Some(other) = self.claimant(&candidate, Some(open.idx)) {
                return fail_at(
                    open.at,
                    format!("metric family {name} clashes with family {other}: both claim the name {candidate}"),
                );
            }
        }
        Ok(())
    }

    /// The earlier family (other than `except`) whose names include `name`.
    fn claimant(&self, name: &str, except: Option<FamId>) -> Option<Rc<str>> {
        ALL_SUFFIXES.iter().find_map(|&suffix| {
            let base = name.strip_suffix(suffix.as_str())?;
            let &idx = self.by_name.get(base)?;
            let family = self.fams.get(idx)?;
            (Some(idx) != except && claims(family.metric_type, suffix)).then(|| Rc::clone(&family.name))
        })
    }

    fn sample<'l, S: Sink<'l>>(&mut self, line: &'l str, no: usize, sink: &mut S) -> Res<()> {
        let parsed = parse_sample_line(line)?;
        let (idx, suffix) = self.family_for(&parsed, line, no, sink)?;
        self.check_sample(idx, suffix, &parsed, line, no)?;
        let Some(family) = self.fams.get_mut(idx) else {
            return fail(parsed.name_at, "internal error: family index out of range");
        };
        family.sampled = true;
        let family = FamilyRef {
            id: idx,
            name: &family.name,
            metric_type: family.metric_type,
        };
        sink.sample(
            family,
            Role::Value,
            Sample {
                name: parsed.name,
                labels: parsed.labels,
                value: parsed.value,
                timestamp: parsed.timestamp,
                line: no,
            },
        );
        Ok(())
    }

    /// The family a sample belongs to: the open one if its type allows the
    /// sample name, else a new unknown family named after the sample.
    fn family_for<'l, S: Sink<'l>>(
        &mut self,
        s: &Line<'l>,
        line: &str,
        no: usize,
        sink: &mut S,
    ) -> Res<(FamId, Suffix)> {
        let current = self
            .open
            .as_ref()
            .and_then(|o| self.fams.get(o.idx).map(|f| (o.idx, f)));
        if let Some((idx, family)) = current {
            let fits = s.name.strip_prefix(&*family.name).and_then(|rest| {
                sample_suffixes(family.metric_type)
                    .iter()
                    .copied()
                    .find(|suffix| suffix.as_str() == rest)
            });
            if let Some(suffix) = fits {
                return Ok((idx, suffix));
            }
            if s.name == &*family.name {
                let expected: Vec<String> = sample_suffixes(family.metric_type)
                    .iter()
                    .map(|suffix| format!("{}{}", family.name, suffix.as_str()))
                    .collect();
                return fail(
                    s.name_at,
                    format!(
                        "sample {} does not fit {} family {}: expected {}",
                        s.name,
                        family.metric_type,
                        family.name,
                        expected.join(" or ")
                    ),
                );
            }
        }
        self.close()?;
        if let Some(owner) = self.claimant(s.name, None) {
            return fail(
                s.name_at,
                format!(
                    "metric family {owner} appears twice / is not contiguous: sample {} comes after other families",
                    s.name
                ),
            );
        }
        let at = At::Pos {
            line: no,
            column: lexer::column(line.as_bytes(), s.name_at),
        };
        self.start_family(s.name, at, no, sink);
        let idx = self.fams.len().saturating_sub(1);
        Ok((idx, Suffix::None))
    }

    fn group_hash(&self, labels: &Labels<'_>, skip: Option<&str>) -> u64 {
        // Summing per-label hashes makes the result independent of label
        // order, which does not change a label set's identity.
        labels
            .iter()
            .filter(|(name, _)| Some(*name) != skip)
            .fold(0u64, |acc, (name, value)| {
                let mut h = self.hasher.build_hasher();
                name.hash(&mut h);
                value.hash(&mut h);
                acc.wrapping_add(h.finish())
            })
    }

    fn check_sample(&mut self, idx: FamId, suffix: Suffix, s: &Line<'_>, line: &str, no: usize) -> Res<()> {
        let Some((family_name, metric_type)) = self.family_ref(idx) else {
            return fail(s.name_at, "internal error: family index out of range");
        };
        let family_name = &*family_name;
        let histogram = matches!(metric_type, MetricType::Histogram | MetricType::GaugeHistogram);
        let name = s.name;
        let value = s.value;
        let bad_value = |why: &str| fail(s.value_at, format!("{name}: {why}, got {value}"));

        // Counter-like values: the spec forbids NaN and negatives, and
        // requires whole numbers where they count events.
        let not_counter = value.is_nan() || value < 0.0;
        let not_count = not_counter || value.fract() != 0.0;
        let mut le = None;
        let violation = match (metric_type, suffix) {
            (MetricType::Counter, Suffix::Total) => not_counter.then_some("counter totals must not be NaN or negative"),
            (_, Suffix::Bucket) => {
                let Some(text) = label(&s.labels, "le") else {
                    return fail(s.name_at, format!("histogram bucket {name} has no le label"));
                };
                // Infinity must be spelled exactly `+Inf`; other bounds are
                // plain real numbers, canonical or not.
                let parsed = if text == "+Inf" {
                    Some(f64::INFINITY)
                } else {
                    lexer::om_real(text)
                };
                let Some(bound) = parsed else {
                    return fail(s.name_at, format!("{name} has invalid le=\"{text}\""));
                };
                le = Some(bound);
                not_count.then_some("bucket values must be non-negative integers")
            }
            (_, Suffix::Count | Suffix::GCount) => not_count.then_some("counts must be non-negative integers"),
            (_, Suffix::Sum) => not_counter.then_some("sums must not be NaN or negative"),
            (_, Suffix::GSum) => value.is_nan().then_some("_gsum must not be NaN"),
            (MetricType::Summary, Suffix::None) => {
                let Some(text) = label(&s.labels, "quantile") else {
                    return fail(s.name_at, format!("summary sample {name} has no quantile label"));
                };
                if !lexer::om_real(text).is_some_and(|q| (0.0..=1.0).contains(&q)) {
                    return fail(
                        s.name_at,
                        format!("{name} has quantile=\"{text}\": quantiles are numbers from 0 to 1"),
                    );
                }
                (value < 0.0).then_some("quantile values must not be negative")
            }
            (MetricType::StateSet, _) => {
                if label(&s.labels, family_name).is_none() {
                    return fail(
                        s.name_at,
                        format!("stateset sample {name} has no {family_name} label naming its state"),
                    );
                }
                (value != 0.0 && value != 1.0).then_some("stateset values must be 0 or 1")
            }
            (MetricType::Info, _) => (value != 1.0).then_some("info values must be 1"),
            _ => None,
        };
        if let Some(why) = violation {
            return bad_value(why);
        }

        if let Some(at) = s.exemplar_at {
            let allowed = matches!(
                (metric_type, suffix),
                (MetricType::Counter, Suffix::Total)
                    | (MetricType::Histogram | MetricType::GaugeHistogram, Suffix::Bucket)
            );
            if !allowed {
                return fail(
                    at,
                    format!("exemplars are only allowed on counter totals and histogram buckets, not on {name}"),
                );
            }
        }

        // Which labels tell the points of one metric apart rather than the
        // metrics of the family.
        let group = match (metric_type, suffix) {
            (MetricType::Info, _) => 0,
            (MetricType::Summary, Suffix::None) => self.group_hash(&s.labels, Some("quantile")),
            (MetricType::StateSet, _) => self.group_hash(&s.labels, Some(family_name)),
            (_, Suffix::Bucket) => self.group_hash(&s.labels, Some("le")),
            _ => self.group_hash(&s.labels, None),
        };
        let Some(open) = self.open.as_mut() else {
            return fail(s.name_at, "internal error: no open family");
        };
        match open.group {
            Some((current, last_ts)) if current == group => {
                if last_ts.is_some() != s.timestamp.is_some() {
                    return fail(
                        s.name_at,
                        format!("{name}: samples of one metric must all have timestamps or none"),
                    );
                }
                if let (Some(last), Some(ts)) = (last_ts, s.timestamp)
                    && ts < last
                    && metric_type != MetricType::Info
                {
                    return fail(
                        s.timestamp_at,
                        format!("{name}: timestamp {ts} goes backwards (previous {last})"),
                    );
                }
            }
            _ => {
                if !self.seen_groups.insert(group) {
                    return fail(
                        s.name_at,
                        format!(
                            "{name}: the samples of one metric must be contiguous, not interleaved with other metrics"
                        ),
                    );
                }
            }
        }
        open.group = Some((group, s.timestamp));

        if histogram {
            let ts_bits = s.timestamp.map(f64::to_bits);
            let same_point = open
                .point
                .as_ref()
                .is_some_and(|p| p.group == group && p.timestamp == ts_bits);
            if !same_point {
                if let Some(done) = open.point.take() {
                    done.finish(family_name, metric_type)?;
                }
                let at = At::Pos {
                    line: no,
                    column: lexer::column(line.as_bytes(), s.name_at),
                };
                open.point = Some(Point::new(group, ts_bits, at));
            }
            let Some(point) = open.point.as_mut() else {
                return fail(s.name_at, "internal error: no histogram point");
            };
            match suffix {
                Suffix::Bucket => {
                    let bound = le.unwrap_or(f64::NAN);
                    if let Some(previous) = point.last_le
                        && bound <= previous
                    {
                        return fail(
                            s.name_at,
                            format!("{name}: buckets must be sorted by increasing le, got {bound} after {previous}"),
                        );
                    }
                    if value < point.last_bucket {
                        return fail(
                            s.value_at,
                            format!(
                                "{name}: bucket values must be cumulative, got {value} after {}",
                                point.last_bucket
                            ),
                        );
                    }
                    point.negative_buckets |= bound < 0.0;
                    point.last_le = Some(bound);
                    point.last_bucket = value;
                }
                Suffix::Count | Suffix::GCount => point.count = Some(value),
                Suffix::Sum => point.has_sum = true,
                Suffix::GSum => {
                    point.has_gsum = true;
                    point.negative_gsum |= value < 0.0;
                }
                _ => {}
            }
        }
        Ok(())
    }
}

fn label<'l>(labels: &'l Labels<'_>, name: &str) -> Option<&'l str> {
    labels.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_ref())
}

/// `name[{labels}] SP value [SP timestamp] [SP # SP {labels} SP value [SP timestamp]]`.
fn parse_sample_line(line: &str) -> Res<Line<'_>> {
    let mut c = Cursor::new(line);
    let name_at = c.offset();
    let Some(name) = c.metric_name() else {
        return c.fail("invalid metric name");
    };
    let mut labels = Vec::new();
    let had_labels = c.peek() == Some(b'{');
    if had_labels {
        c.label_set(Dialect::OpenMetrics, &mut labels)?;
    }
    if !c.eat(b' ') {
        return match c.peek() {
            None => c.fail(format!("missing value for {name}")),
            Some(b'\t') => c.fail("separators must be single spaces"),
            Some(_) if had_labels => c.fail("expected a single space after the labels"),
            Some(_) => c.fail(format!(
                "invalid character after metric name {name}: expected '{{' or a space"
            )),
        };
    }
    let value_at = c.offset();
    let token = c.token(Dialect::OpenMetrics);
    let Some(value) = lexer::om_number(token) else {
        return fail(value_at, format!("invalid value \"{token}\""));
    };
    let mut timestamp = None;
    let mut timestamp_at = value_at;
    let mut exemplar_at = None;
    if c.eat(b' ') {
        if c.peek() != Some(b'#') {
            timestamp_at = c.offset();
            let token = c.token(Dialect::OpenMetrics);
            let Some(ts) = lexer::om_real(token) else {
                return fail(timestamp_at, format!("invalid timestamp \"{token}\""));
            };
            timestamp = Some(ts);
            if c.eat(b' ') && c.peek() != Some(b'#') {
                return c.fail("expected an exemplar (\" # {...} value\") after the timestamp");
            }
        }
        if c.peek() == Some(b'#') {
            exemplar_at = Some(c.offset());
            exemplar(&mut c)?;
        }
    }
    if !c.is_done() {
        return c.fail("unexpected text at end of sample line");
    }
    Ok(Line {
        name,
        name_at,
        labels,
        value,
        value_at,
        timestamp,
        timestamp_at,
        exemplar_at,
    })
}

/// ` # {labels} value [timestamp]`, starting at the `#`.
fn exemplar(c: &mut Cursor<'_>) -> Res<()> {
    let at = c.offset();
    c.eat(b'#');
    if !c.eat(b' ') {
        return c.fail("expected a space after the exemplar's '#'");
    }
    if c.peek() != Some(b'{') {
        return c.fail("expected '{' to open the exemplar's labels");
    }
    let mut labels = Vec::new();
    c.label_set(Dialect::OpenMetrics, &mut labels)?;
    let chars: usize = labels.iter().map(|(n, v)| n.chars().count() + v.chars().count()).sum();
    if chars > EXEMPLAR_MAX_CHARS {
        return lexer::fail(
            at,
            format!("exemplar labels have {chars} characters, more than {EXEMPLAR_MAX_CHARS}"),
        );
    }
    if !c.eat(b' ') {
        return c.fail("expected a single space before the exemplar value");
    }
    let value_at = c.offset();
    let token = c.token(Dialect::OpenMetrics);
    if lexer::om_number(token).is_none() {
        return lexer::fail(value_at, format!("invalid exemplar value \"{token}\""));
    }
    if c.eat(b' ') {
        let ts_at = c.offset();
        let token = c.token(Dialect::OpenMetrics);
        if lexer::om_real(token).is_none() {
            return lexer::fail(ts_at, format!("invalid exemplar timestamp \"{token}\""));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::{Format, MetricType, parse, parse_bytes};

    fn om(input: &str) -> Result<super::super::Exposition<'_>, String> {
        parse(input, Format::OpenMetrics).map_err(|e| e.to_string())
    }

    fn message(input: &str) -> String {
        om(input).err().unwrap_or_default()
    }

    #[test]
    fn requires_eof_and_nothing_after_it() {
        assert!(om("# EOF").is_ok());
        assert!(om("# EOF\n").is_ok());
        assert!(message("").contains("missing \"# EOF\""));
        assert!(message("a 1\n").contains("missing \"# EOF\""));
        assert_eq!(message("a 1\n# EOF\n\n"), "3:1: text after \"# EOF\"");
        assert!(om("a 1\n# EOFx").is_err());
        assert_eq!(
            message("a 1\n\n# EOF\n"),
            "2:1: blank lines are not allowed in OpenMetrics"
        );
    }

    #[test]
    fn counters_use_total_and_created() {
        let exp = om("# TYPE c counter\nc_total 1\nc_created 2\n# EOF\n");
        let family = exp.as_ref().ok().and_then(|e| e.family("c"));
        assert_eq!(family.map(|f| f.samples.len()), Some(2));
        assert_eq!(family.map(|f| f.metric_type), Some(MetricType::Counter));
        assert!(message("# TYPE c counter\nc 1\n# EOF\n").contains("expected c_total or c_created"));
        assert!(message("# TYPE c counter\nc_total -1\n# EOF\n").contains("must not be NaN or negative"));
    }

    #[test]
    fn unknown_samples_form_their_own_family() {
        let exp = om("a 1\nb_total 2\n# EOF\n");
        let names: Vec<_> = exp
            .map(|e| e.families.iter().map(|f| (f.name, f.metric_type)).collect())
            .unwrap_or_default();
        assert_eq!(names, [("a", MetricType::Unknown), ("b_total", MetricType::Unknown)]);
    }

    #[test]
    fn families_must_not_repeat_or_clash() {
        assert!(message("a 1\nb 1\na 2\n# EOF\n").contains("metric family a appears twice"));
        let clash = "# TYPE a_created gauge\n# TYPE a counter\n# EOF\n";
        assert!(message(clash).contains("clashes with family a_created"));
        let late = "# TYPE s summary\ns_sum 1\ns_count 1\nx 1\ns_sum 2\n# EOF\n";
        assert!(message(late).contains("metric family s appears twice"));
    }

    #[test]
    fn metadata_rules() {
        assert!(message("# TYPE a untyped\n# EOF\n").contains("invalid metric type"));
        assert!(message("# HELP a x\n# HELP a y\n# EOF\n").contains("second HELP"));
        assert!(message("a 1\n# HELP a x\n# EOF\n").contains("after its samples"));
        assert!(message("# UNIT a seconds\n# EOF\n").contains("not a suffix"));
        assert!(message("# UNIT aseconds seconds\n# EOF\n").contains("not a suffix"));
        assert!(message("# TYPE a_u info\n# UNIT a_u u\n# EOF\n").contains("must not have a unit"));
        assert!(message("# comment\n# EOF\n").contains("comments are not allowed"));
        let exp = om("# HELP a say \\\"hi\\\"\n# UNIT a \n# EOF\n");
        let family = exp.as_ref().ok().and_then(|e| e.family("a"));
        assert_eq!(family.and_then(|f| f.help.as_deref()), Some("say \"hi\""));
        assert_eq!(family.and_then(|f| f.unit), None);
    }

    #[test]
    fn separators_are_single_spaces() {
        assert!(om("a  1\n# EOF\n").is_err());
        assert!(om("a\t1\n# EOF\n").is_err());
        assert!(om("a 1 \n# EOF\n").is_err());
        assert!(om("a{x=\"1\"}1\n# EOF\n").is_err());
        assert!(om("a{x=\"1\"} 1 2\n# EOF\n").is_ok());
    }

    #[test]
    fn timestamps_are_float_seconds_and_must_not_go_backwards() {
        let exp = om("a 1 1.5\na 2 1.5\na 3 2\n# EOF\n");
        let ts: Vec<_> = exp
            .map(|e| e.families[0].samples.iter().map(|s| s.timestamp).collect())
            .unwrap_or_default();
        assert_eq!(ts, [Some(1.5), Some(1.5), Some(2.0)]);
        assert_eq!(
            message("a 1 2\na 1 1\n# EOF\n"),
            "2:5: a: timestamp 1 goes backwards (previous 2)"
        );
        assert!(message("a 1\na 1 1\n# EOF\n").contains("timestamps or none"));
        assert!(om("a{x=\"1\"} 1 2\na{x=\"2\"} 1 1\n# EOF\n").is_ok());
    }

    #[test]
    fn metrics_must_not_interleave() {
        let input = "a{x=\"1\"} 1\na{x=\"2\"} 1\na{x=\"1\"} 1\n# EOF\n";
        assert!(message(input).starts_with("3:1: a: the samples of one metric must be contiguous"));
        // Label order does not change a metric's identity.
        assert!(om("a{x=\"1\",y=\"2\"} 1 1\na{y=\"2\",x=\"1\"} 1 2\n# EOF\n").is_ok());
    }

    #[test]
    fn histogram_rules() {
        let good = "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_count 2\nh_sum 3\nh_created 1\n# EOF\n";
        assert!(om(good).is_ok());
        let no_inf = "# TYPE h histogram\nh_bucket{le=\"1\"} 1\n# EOF\n";
        assert!(message(no_inf).contains("no le=\"+Inf\" bucket"));
        let unsorted =
            "# TYPE h histogram\nh_bucket{le=\"2\"} 1\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 1\n# EOF\n";
        assert!(message(unsorted).contains("sorted by increasing le"));
        let decreasing = "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\n# EOF\n";
        assert!(message(decreasing).contains("cumulative"));
        let mismatch = "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_count 2\nh_sum 1\n# EOF\n";
        assert!(message(mismatch).contains("_count (2) differs from the +Inf bucket (1)"));
        let fraction = "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1.5\n# EOF\n";
        assert!(message(fraction).contains("integers"));
        let upper_inf = "# TYPE h histogram\nh_bucket{le=\"+INF\"} 1\n# EOF\n";
        assert!(message(upper_inf).contains("invalid le"));
        let gauge_hist =
            "# TYPE g gaugehistogram\ng_bucket{le=\"-1\"} 1\ng_bucket{le=\"+Inf\"} 1\ng_gcount 1\ng_gsum -3\n# EOF\n";
        assert!(om(gauge_hist).is_ok());
    }

    #[test]
    fn summary_stateset_info_rules() {
        assert!(message("# TYPE s summary\ns{quantile=\"1.5\"} 1\n# EOF\n").contains("from 0 to 1"));
        assert!(om("# TYPE s summary\ns{quantile=\"0.5\"} NaN\ns_count 1\n# EOF\n").is_ok());
        assert!(message("# TYPE st stateset\nst{x=\"a\"} 1\n# EOF\n").contains("no st label"));
        assert!(message("# TYPE st stateset\nst{st=\"a\"} 0.5\n# EOF\n").contains("0 or 1"));
        assert!(message("# TYPE i info\ni_info 2\n# EOF\n").contains("must be 1"));
        // Info metrics may repeat with older timestamps.
        assert!(om("# TYPE i info\ni_info{a=\"1\"} 1 2\ni_info{a=\"2\"} 1 1\n# EOF\n").is_ok());
    }

    #[test]
    fn exemplars() {
        let ok = "# TYPE c counter\nc_total 1 # {trace=\"x\"} 0.5 12\n# EOF\n";
        assert!(om(ok).is_ok());
        let on_gauge = "# TYPE g gauge\ng 1 # {trace=\"x\"} 0.5\n# EOF\n";
        assert_eq!(
            message(on_gauge),
            "2:5: exemplars are only allowed on counter totals and histogram buckets, not on g"
        );
        let long = format!("# TYPE c counter\nc_total 1 # {{a=\"{}\"}} 1\n# EOF\n", "x".repeat(128));
        assert!(message(&long).contains("129 characters"));
        assert!(om("# TYPE c counter\nc_total 1 #{} 1\n# EOF\n").is_err());
        assert!(om("# TYPE c counter\nc_total 1 # {} 1 NaN\n# EOF\n").is_err());
    }

    #[test]
    fn unknown_escapes_are_kept_literally() {
        let exp = om("a{x=\"b\\\\a\\z\"} 1\n# EOF\n");
        let value = exp
            .ok()
            .and_then(|e| e.families[0].samples[0].label("x").map(str::to_owned));
        assert_eq!(value.as_deref(), Some("b\\a\\z"));
    }

    /// Runs the OpenMetrics project's parser test cases from the folder in
    /// `OPENMETRICS_CORPUS`: one folder per case, with `test.json` giving the
    /// input file and whether it must parse.
    #[test]
    fn openmetrics_conformance_corpus() {
        let Some(root) = std::env::var_os("OPENMETRICS_CORPUS") else {
            println!("skipped: OPENMETRICS_CORPUS is not set");
            return;
        };
        let mut entries: Vec<_> = std::fs::read_dir(&root)
            .map(|dir| dir.filter_map(Result::ok).map(|e| e.path()).collect())
            .unwrap_or_default();
        entries.sort();
        let mut total = 0;
        let mut mismatches = Vec::new();
        for dir in entries.iter().filter(|p| p.join("test.json").is_file()) {
            let case = dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let json = std::fs::read_to_string(dir.join("test.json")).unwrap_or_default();
            let should_parse = json_bool(&json, "shouldParse");
            let file = json_string(&json, "file").unwrap_or_else(|| "metrics".into());
            let Ok(body) = std::fs::read(dir.join(&file)) else {
                mismatches.push(format!("{case}: cannot read {file}"));
                continue;
            };
            total += 1;
            let result = parse_bytes(&body, Format::OpenMetrics);
            match (should_parse, &result) {
                (Some(true), Ok(_)) | (Some(false), Err(_)) => {}
                (Some(true), Err(e)) => mismatches.push(format!("{case}: rejected: {e}")),
                (Some(false), Ok(_)) => mismatches.push(format!("{case}: accepted")),
                (None, _) => mismatches.push(format!("{case}: test.json has no shouldParse")),
            }
        }
        println!(
            "openmetrics corpus: {}/{total} verdicts match",
            total - mismatches.len()
        );
        for m in &mismatches {
            println!("mismatch: {m}");
        }
        assert!(total > 0, "no cases found in {}", root.to_string_lossy());
        assert!(mismatches.is_empty(), "{} mismatching cases", mismatches.len());
    }

    /// The text after `"key":` up to the next delimiter; enough for the
    /// corpus' flat test.json files.
    fn json_raw<'j>(json: &'j str, key: &str) -> Option<&'j str> {
        let at = json.find(&format!("\"{key}\""))?;
        let rest = json.get(at + key.len() + 2..)?.trim_start();
        Some(rest.strip_prefix(':')?.trim_start())
    }

    fn json_bool(json: &str, key: &str) -> Option<bool> {
        let raw = json_raw(json, key)?;
        if raw.starts_with("true") {
            Some(true)
        } else if raw.starts_with("false") {
            Some(false)
        } else {
            None
        }
    }

    fn json_string(json: &str, key: &str) -> Option<String> {
        let raw = json_raw(json, key)?.strip_prefix('"')?;
        Some(raw.get(..raw.find('"')?)?.to_string())
    }
}
