//! [`lint`]: an exposition from any reader (file, pipe, FIFO, device) read
//! line by line under two running caps, judged by the same parsers as
//! [`super::parse`] but in promtool's mode for the text format, with the
//! findings of [`super::rules`]. Nothing keeps the input: memory is the read
//! buffer, one line, and per-family state.
//!
//! Without a format the input is judged both ways at once, each parser
//! dropped at its first error, and the verdict is the OpenMetrics one when
//! the input ends with `# EOF` (what `lint-metrics` has always done), which a
//! pipe only tells at its end.

use std::fmt;
use std::io::{BufRead, BufReader, ErrorKind, Read};

use super::openmetrics::OmParser;
use super::rules::{Finding, LintSink};
use super::text::{Mode, TextParser};
use super::{Format, LineParser, ParseError};

/// What to read and how much of it.
#[derive(Debug, Clone)]
pub struct LintOptions {
    /// `None`: OpenMetrics if the input ends with `# EOF`, else text.
    pub format: Option<Format>,
    /// The whole input may not be larger.
    pub max_bytes: u64,
    /// No line may be longer (newline excluded); this is what bounds memory.
    pub max_line: usize,
    /// No more metric families: each costs a name and a few flags for the
    /// whole input (a duplicate TYPE or an interleaved family can come at
    /// any line), so this bounds what a body of one-sample families costs.
    pub max_families: usize,
}

impl Default for LintOptions {
    fn default() -> Self {
        LintOptions {
            format: None,
            max_bytes: 1 << 30,
            max_line: 16 << 20,
            max_families: MAX_FAMILIES,
        }
    }
}

/// The default [`LintOptions::max_families`]: far more than any exporter
/// writes (node exporter about 500, kube-state-metrics about 2,000), and
/// about 20 MB of names and flags.
pub const MAX_FAMILIES: usize = 100_000;

/// Why an input could not be judged.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot read the input")]
    Io(#[from] std::io::Error),
    #[error("the input is larger than {}", Size(*limit))]
    TooLarge { limit: u64 },
    #[error("line {line} is longer than {}", Size(*limit as u64))]
    LineTooLong { line: usize, limit: usize },
    #[error("line {line} starts more metric families than the linter remembers ({limit})")]
    TooManyFamilies { line: usize, limit: usize },
}

/// A byte count as people write caps: `16 MiB`, `512 KiB`, `1000 bytes`.
struct Size(u64);

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            n if n >= 1 << 30 && n % (1 << 30) == 0 => write!(f, "{} GiB", n >> 30),
            n if n >= 1 << 20 && n % (1 << 20) == 0 => write!(f, "{} MiB", n >> 20),
            n if n >= 1 << 10 && n % (1 << 10) == 0 => write!(f, "{} KiB", n >> 10),
            n => write!(f, "{n} bytes"),
        }
    }
}

/// The verdict on one input.
#[derive(Debug)]
pub struct LintReport {
    /// The format it was judged as.
    pub format: Format,
    /// The first parse error; `None` when the input parses.
    pub error: Option<ParseError>,
    /// By line; those found before a parse error when there is one.
    pub findings: Vec<Finding>,
    /// Findings beyond the shown ones, only counted.
    pub unshown: u64,
    /// Families with at least one sample.
    pub families: usize,
    /// Sample lines.
    pub series: u64,
    /// Bytes read.
    pub bytes: u64,
    /// Samples whose series a family too large for the memory bound made
    /// the duplicate-series and histogram checks leave out (they were
    /// compared with the series remembered, but not remembered themselves).
    pub unremembered: u64,
}

/// One parser with its findings and verdict.
struct Judge<P> {
    parser: P,
    sink: LintSink,
    error: Option<ParseError>,
}

impl<P: LineParser> Judge<P> {
    fn new(parser: P, text: bool) -> Self {
        Judge {
            parser,
            sink: LintSink::new(text),
            error: None,
        }
    }

    fn line(&mut self, line: &[u8], terminated: bool, no: usize) {
        if self.error.is_none()
            && let Err(fail) = self.parser.line(line, terminated, no, &mut self.sink)
        {
            self.error = Some(ParseError::locate(fail, line, no));
        }
    }

    fn finish(&mut self, lines: usize) {
        if self.error.is_some() {
            return;
        }
        match self.parser.finish() {
            Ok(()) => self.sink.finish(),
            Err(fail) => self.error = Some(ParseError::at_end(fail, lines)),
        }
    }

    fn report(self, format: Format, bytes: u64) -> LintReport {
        let (families, series) = self.sink.counts();
        let unremembered = self.sink.unremembered();
        let (findings, unshown) = self.sink.into_findings();
        LintReport {
            format,
            error: self.error,
            findings,
            unshown,
            families,
            series,
            bytes,
            unremembered,
        }
    }
}

/// The parsers still judging the input, fed the same lines.
struct Judges {
    text: Option<Judge<TextParser>>,
    om: Option<Judge<OmParser>>,
    /// Given by the caller; otherwise the input's end decides.
    known_format: bool,
    /// Lines so far.
    no: usize,
    ends_with_eof: bool,
    max_families: usize,
}

impl Judges {
    /// Judges the next line (without its `\n`); false once reading on
    /// cannot change the verdict.
    fn line(&mut self, line: &[u8], terminated: bool) -> Result<bool, ReadError> {
        self.no += 1;
        let content = line.trim_ascii_end();
        if !content.is_empty() {
            self.ends_with_eof = content.ends_with(b"# EOF");
        }
        let mut alive = false;
        let mut families = 0;
        if let Some(judge) = self.text.as_mut() {
            judge.line(line, terminated, self.no);
            alive |= judge.error.is_none();
            families = families.max(judge.sink.families());
        }
        if let Some(judge) = self.om.as_mut() {
            judge.line(line, terminated, self.no);
            alive |= judge.error.is_none();
            families = families.max(judge.sink.families());
        }
        if families > self.max_families {
            return Err(ReadError::TooManyFamilies {
                line: self.no,
                limit: self.max_families,
            });
        }
        // With the format unknown the end still decides which verdict counts.
        Ok(alive || !self.known_format)
    }
}

/// Makes room for `more` bytes in `buf`, doubling as `Vec` does but never
/// past `cap` (unless `more` itself needs it).
fn grow_within(buf: &mut Vec<u8>, more: usize, cap: usize) {
    let want = buf.len().saturating_add(more);
    if want > buf.capacity() {
        let target = buf.capacity().saturating_mul(2).min(cap).max(want);
        buf.reserve_exact(target - buf.len());
    }
}

/// Reads `input` to its end (or to the first parse error once the format is
/// known) and judges it.
pub fn lint(input: impl Read, options: &LintOptions) -> Result<LintReport, ReadError> {
    let mut reader = BufReader::with_capacity(256 << 10, input);
    let mut judges = Judges {
        text: (options.format != Some(Format::OpenMetrics)).then(|| Judge::new(TextParser::new(Mode::Promtool), true)),
        om: (options.format != Some(Format::Text)).then(|| Judge::new(OmParser::new(), false)),
        known_format: options.format.is_some(),
        no: 0,
        ends_with_eof: false,
        max_families: options.max_families,
    };
    // A line that straddles two fills of the read buffer; every other line
    // is judged where it lies in the buffer, without a copy.
    let mut carry: Vec<u8> = Vec::new();
    let mut bytes: u64 = 0;
    let max_line = u64::try_from(options.max_line).unwrap_or(u64::MAX);
    let too_large = |read: u64| {
        (read > options.max_bytes).then_some(ReadError::TooLarge {
            limit: options.max_bytes,
        })
    };
    // A line past its cap, counted as read up to the cap and one byte more:
    // the input cap wins when that already exceeds it.
    let line_too_long = |bytes: u64, line: usize| {
        too_large(bytes.saturating_add(max_line.saturating_add(1))).unwrap_or(ReadError::LineTooLong {
            line,
            limit: options.max_line,
        })
    };
    loop {
        let buf = match reader.fill_buf() {
            Ok(buf) => buf,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        };
        if buf.is_empty() {
            if !carry.is_empty() {
                judges.line(&carry, false)?;
            }
            break;
        }
        let Some(at) = memchr::memchr(b'\n', buf) else {
            // No line end in the buffer: keep what there is, unless the
            // line already outgrew its cap (counted as a read up to the cap
            // and one byte more would count it).
            // Never more than the cap and one byte: doubling past it would
            // hold twice the longest line allowed (and a copy during growth).
            let room = usize::try_from(max_line.saturating_add(1))
                .unwrap_or(usize::MAX)
                .saturating_sub(carry.len());
            let take = buf.get(..buf.len().min(room)).unwrap_or(buf);
            grow_within(&mut carry, take.len(), options.max_line.saturating_add(1));
            carry.extend_from_slice(take);
            let taken = buf.len();
            reader.consume(taken);
            let pending = carry.len() as u64;
            if pending > max_line {
                return Err(line_too_long(bytes, judges.no + 1));
            }
            if let Some(e) = too_large(bytes.saturating_add(pending)) {
                return Err(e);
            }
            continue;
        };
        let line_len = carry.len() as u64 + at as u64;
        if line_len > max_line {
            return Err(line_too_long(bytes, judges.no + 1));
        }
        bytes = bytes.saturating_add(line_len + 1);
        if let Some(e) = too_large(bytes) {
            return Err(e);
        }
        let go_on = if carry.is_empty() {
            judges.line(buf.get(..at).unwrap_or(&[]), true)?
        } else {
            carry.extend_from_slice(buf.get(..at).unwrap_or(&[]));
            let go_on = judges.line(&carry, true)?;
            carry.clear();
            go_on
        };
        reader.consume(at + 1);
        if !go_on {
            break;
        }
    }
    bytes = bytes.saturating_add(carry.len() as u64);
    let Judges {
        text,
        om,
        no,
        ends_with_eof,
        ..
    } = judges;
    let format = options.format.unwrap_or(if ends_with_eof {
        Format::OpenMetrics
    } else {
        Format::Text
    });
    match (format, text, om) {
        (Format::Text, Some(mut judge), _) => {
            judge.finish(no);
            Ok(judge.report(format, bytes))
        }
        (Format::OpenMetrics, _, Some(mut judge)) => {
            judge.finish(no);
            Ok(judge.report(format, bytes))
        }
        _ => Err(ReadError::Io(std::io::Error::other(
            "internal error: no parser for the format",
        ))),
    }
}
