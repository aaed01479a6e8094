//! What the parsers report while they read, one line at a time: new
//! families, their metadata, samples, and what a stricter reader would
//! object to. A sink decides what to keep, so the same parser can build a
//! whole [`super::Exposition`] for the probe or stream a 200 MB file through
//! the linter keeping only per-family state.

use std::borrow::Cow;

use super::{MetricType, Sample};

/// A family's index in the order families were first mentioned.
pub(crate) type FamId = usize;

/// One metadata line's content.
pub(crate) enum Meta<'l> {
    Help(Cow<'l, str>),
    Type(MetricType),
    Unit(&'l str),
}

/// What a sample is to its family, as promtool's parser files it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Role {
    /// A counter, gauge, untyped or OpenMetrics sample.
    Value,
    /// A histogram bucket, with its parsed `le`.
    Bucket(f64),
    Count,
    Sum,
    Quantile,
    /// Parsed, then dropped by promtool: a histogram sample that is neither a
    /// bucket (no `le`) nor `_sum`/`_count`, or a summary sample without
    /// `quantile`.
    Ignored,
}

/// The family a sample belongs to, as the sink needs it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FamilyRef<'f> {
    pub(crate) id: FamId,
    pub(crate) name: &'f str,
    pub(crate) metric_type: MetricType,
}

/// What a text-format reader that is stricter than promtool would reject:
/// errors for the gate, findings for the linter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Strict {
    /// A family's samples resumed after another family's.
    Interleaved,
    /// A TYPE word promtool accepts but Prometheus' scraper does not.
    TypeWord,
    /// A TYPE line without a type.
    MissingType,
    /// A histogram or summary sample promtool parses and then drops.
    IgnoredSample,
    /// `le` or `quantile` twice on one sample.
    DuplicateLabel,
}

/// Receives the events of one parse. `'l` is how long the line's text
/// lives: the whole input for [`super::parse`], one line when streaming.
pub(crate) trait Sink<'l> {
    fn family(&mut self, id: FamId, name: &'l str, metric_type: MetricType, line: usize);
    fn meta(&mut self, id: FamId, meta: Meta<'l>);
    fn sample(&mut self, family: FamilyRef<'_>, role: Role, sample: Sample<'l>);
    /// Only called in the promtool-exact mode; the gate's mode fails instead.
    fn strict(&mut self, family: FamilyRef<'_>, rule: Strict, line: usize, message: String);
}
