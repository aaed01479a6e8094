//! Byte-level scanning shared by both text formats: a cursor over one line,
//! metric and label names, quoted label values, label sets, and the number
//! grammars (Go's `strconv.ParseFloat` for 0.0.4, the OpenMetrics ABNF).
//!
//! Everything here works on one line that has already been split off the
//! input, never recurses, and reports failures as byte offsets into that
//! line, so a streaming caller can turn them into line and column without
//! keeping the input.

use std::borrow::Cow;

/// Where a failure is, before it becomes a [`super::ParseError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum At {
    /// A byte offset into the line being parsed.
    Here(usize),
    /// An earlier place, already resolved (1-based line and column).
    Pos { line: usize, column: usize },
    /// Just past the last byte of the input.
    End,
}

/// A failure before it is turned into a [`super::ParseError`].
#[derive(Debug)]
pub(crate) struct Fail {
    pub(crate) at: At,
    pub(crate) message: String,
}

pub(crate) type Res<T> = Result<T, Fail>;

/// A failure at byte `at` of the current line.
pub(crate) fn fail<T>(at: usize, message: impl Into<String>) -> Res<T> {
    fail_at(At::Here(at), message)
}

pub(crate) fn fail_at<T>(at: At, message: impl Into<String>) -> Res<T> {
    Err(Fail {
        at,
        message: message.into(),
    })
}

/// 1-based column of byte `at` in `line`, in characters; for invalid UTF-8
/// in characters of the valid prefix, so it points at the first bad byte.
pub(crate) fn column(line: &[u8], at: usize) -> usize {
    // Counting bytes that do not continue a UTF-8 sequence counts chars.
    1 + line
        .get(..at)
        .unwrap_or(line)
        .iter()
        .filter(|&&b| b & 0xC0 != 0x80)
        .count()
}

/// Quotes a token for a message the way Go's `%q` does, so invisible bytes
/// such as the `\r` of a CRLF line end show.
pub(crate) fn quote(s: &str) -> String {
    format!("\"{}\"", s.escape_debug())
}

/// Which escaping and whitespace rules apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Text,
    OpenMetrics,
}

/// A label set being built for one sample.
pub(crate) type Labels<'a> = Vec<(&'a str, Cow<'a, str>)>;

/// Above this many labels the duplicate check switches from a linear scan per
/// label to one sort, so a hostile line with thousands of labels stays
/// `O(n log n)`.
const LINEAR_DUP_LIMIT: usize = 16;

/// Position within one line.
pub(crate) struct Cursor<'a> {
    line: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(line: &'a str) -> Self {
        Cursor { line, pos: 0 }
    }

    /// Byte offset of the current position in the line.
    pub(crate) fn offset(&self) -> usize {
        self.pos
    }

    /// Moves past one byte.
    pub(crate) fn bump(&mut self) {
        self.pos = (self.pos + 1).min(self.line.len());
    }

    pub(crate) fn peek(&self) -> Option<u8> {
        self.line.as_bytes().get(self.pos).copied()
    }

    pub(crate) fn is_done(&self) -> bool {
        self.pos >= self.line.len()
    }

    pub(crate) fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    pub(crate) fn eat_str(&mut self, s: &str) -> bool {
        if self.rest().starts_with(s) {
            self.pos += s.len();
            true
        } else {
            false
        }
    }

    /// Skips spaces and tabs; tells whether there were any.
    pub(crate) fn skip_blanks(&mut self) -> bool {
        let start = self.pos;
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
        self.pos > start
    }

    pub(crate) fn rest(&self) -> &'a str {
        self.line.get(self.pos..).unwrap_or("")
    }

    pub(crate) fn fail<T>(&self, message: impl Into<String>) -> Res<T> {
        fail(self.offset(), message)
    }

    /// Advances while `keep` holds and returns what was passed over. Only
    /// ever stops at an ASCII byte or the end, so the slice is always on
    /// character boundaries.
    pub(crate) fn take_while(&mut self, keep: impl Fn(u8) -> bool) -> &'a str {
        let start = self.pos;
        let rest = self.line.as_bytes().get(start..).unwrap_or(&[]);
        self.pos += rest.iter().take_while(|&&b| keep(b)).count();
        self.line.get(start..self.pos).unwrap_or("")
    }

    /// [`Cursor::take_while`] for a byte class of [`CLASSES`]: one table
    /// load per byte instead of a chain of range tests, as names are most
    /// of what a sample line is made of.
    fn take_class(&mut self, class: u8) -> &'a str {
        let bytes = self.line.as_bytes();
        let start = self.pos;
        let mut end = start;
        while let Some(&b) = bytes.get(end) {
            if CLASSES[usize::from(b)] & class == 0 {
                break;
            }
            end += 1;
        }
        self.pos = end;
        // The class is ASCII, so both ends are character boundaries.
        self.line.get(start..end).unwrap_or("")
    }

    /// A token ending at a space (OpenMetrics) or any blank (0.0.4).
    pub(crate) fn token(&mut self, dialect: Dialect) -> &'a str {
        match dialect {
            Dialect::OpenMetrics => self.take_while(|b| b != b' '),
            Dialect::Text => self.take_while(|b| b != b' ' && b != b'\t'),
        }
    }

    /// `[a-zA-Z_:][a-zA-Z0-9_:]*`, or `None` without moving.
    pub(crate) fn metric_name(&mut self) -> Option<&'a str> {
        match self.peek() {
            Some(b) if b.is_ascii_alphabetic() || b == b'_' || b == b':' => Some(self.take_class(METRIC_NAME)),
            _ => None,
        }
    }

    /// `[a-zA-Z_][a-zA-Z0-9_]*`, or `None` without moving.
    pub(crate) fn label_name(&mut self) -> Option<&'a str> {
        match self.peek() {
            Some(b) if b.is_ascii_alphabetic() || b == b'_' => Some(self.take_class(LABEL_NAME)),
            _ => None,
        }
    }

    /// A double-quoted label value starting at the opening quote, unescaped.
    /// Borrowed unless an escape had to be rewritten.
    pub(crate) fn quoted(&mut self, dialect: Dialect) -> Res<Cow<'a, str>> {
        let open = self.pos;
        let bytes = self.line.as_bytes();
        let start = open + 1;
        let mut i = start;
        let mut segment = start;
        let mut owned: Option<String> = None;
        loop {
            // Jump to the next quote or backslash: memchr2 looks at many
            // bytes per step (a byte-by-byte scan of the first few bytes
            // measured slower, even for values of a dozen bytes).
            i = match bytes.get(i..).and_then(|rest| memchr::memchr2(b'"', b'\\', rest)) {
                Some(skip) => i + skip,
                None => bytes.len(),
            };
            match bytes.get(i) {
                None => return fail(open, "unterminated label value"),
                Some(b'"') => break,
                Some(b'\\') => {
                    let replacement = match bytes.get(i + 1) {
                        Some(b'\\') => "\\",
                        Some(b'"') => "\"",
                        Some(b'n') => "\n",
                        None => return fail(open, "unterminated label value"),
                        Some(_) => match dialect {
                            // The ABNF allows `\` before any other character
                            // and means it literally (`\a` is `\\a`).
                            Dialect::OpenMetrics => {
                                i += 1;
                                continue;
                            }
                            Dialect::Text => {
                                let shown = self.line.get(i + 1..).and_then(|s| s.chars().next()).unwrap_or('?');
                                return fail(i, format!("invalid escape sequence '\\{shown}' in label value"));
                            }
                        },
                    };
                    let buf = owned.get_or_insert_with(String::new);
                    buf.push_str(self.line.get(segment..i).unwrap_or(""));
                    buf.push_str(replacement);
                    i += 2;
                    segment = i;
                }
                Some(_) => i += 1,
            }
        }
        let value = match owned {
            None => Cow::Borrowed(self.line.get(start..i).unwrap_or("")),
            Some(mut buf) => {
                buf.push_str(self.line.get(segment..i).unwrap_or(""));
                Cow::Owned(buf)
            }
        };
        self.pos = i + 1;
        Ok(value)
    }

    /// A `{...}` label set starting at the `{`. 0.0.4 allows blanks around
    /// tokens and a trailing comma; OpenMetrics allows neither.
    pub(crate) fn label_set(&mut self, dialect: Dialect, out: &mut Labels<'a>) -> Res<()> {
        let open = self.offset();
        let text = dialect == Dialect::Text;
        self.pos += 1;
        if text {
            self.skip_blanks();
        }
        if self.eat(b'}') {
            return Ok(());
        }
        loop {
            let name_at = self.offset();
            let Some(name) = self.label_name() else {
                return self.fail("invalid or missing label name");
            };
            if text {
                self.skip_blanks();
            }
            if !self.eat(b'=') {
                return self.fail(format!("expected '=' after label name {name}"));
            }
            if text {
                self.skip_blanks();
            }
            if self.peek() != Some(b'"') {
                return self.fail(format!("expected '\"' to open the value of label {name}"));
            }
            let value = self.quoted(dialect)?;
            if out.len() < LINEAR_DUP_LIMIT && out.iter().any(|(n, _)| *n == name) {
                return fail(name_at, format!("duplicate label name {name}"));
            }
            out.push((name, value));
            if text {
                self.skip_blanks();
            }
            if self.eat(b'}') {
                break;
            }
            if !self.eat(b',') {
                return self.fail("expected ',' or '}' after label value");
            }
            if text {
                self.skip_blanks();
                if self.eat(b'}') {
                    break;
                }
            }
        }
        if out.len() > LINEAR_DUP_LIMIT {
            let mut names: Vec<&str> = out.iter().map(|(n, _)| *n).collect();
            names.sort_unstable();
            if let Some(w) = names.windows(2).find(|w| w.first() == w.get(1)) {
                let name = w.first().copied().unwrap_or("");
                return fail(open, format!("duplicate label name {name}"));
            }
        }
        Ok(())
    }
}

pub(crate) fn is_metric_name_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b':'
}

/// [`CLASSES`] bit of `[a-zA-Z0-9_:]`.
const METRIC_NAME: u8 = 1;
/// [`CLASSES`] bit of `[a-zA-Z0-9_]`.
const LABEL_NAME: u8 = 2;

/// Per byte, the name classes it belongs to.
const CLASSES: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let byte = b as u8;
        if byte.is_ascii_alphanumeric() || byte == b'_' {
            table[b] = METRIC_NAME | LABEL_NAME;
        } else if byte == b':' {
            table[b] = METRIC_NAME;
        }
        b += 1;
    }
    table
};

/// Unescapes a 0.0.4 HELP text as `promtool check metrics` does: `\\` and
/// `\n` only; any other backslash, one at the end of the line included, is
/// an error at that backslash (`at` is the text's offset in its line).
pub(crate) fn text_help(s: &str, at: usize) -> Res<Cow<'_, str>> {
    let Some(first) = s.find('\\') else {
        return Ok(Cow::Borrowed(s));
    };
    let mut out = String::with_capacity(s.len());
    out.push_str(s.get(..first).unwrap_or(""));
    let mut chars = s.get(first..).unwrap_or("").char_indices();
    while let Some((i, c)) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some((_, '\\')) => out.push('\\'),
            Some((_, 'n')) => out.push('\n'),
            Some((_, c)) => {
                let shown = if c.is_control() {
                    c.escape_debug().to_string()
                } else {
                    c.to_string()
                };
                return fail(
                    at + first + i,
                    format!("invalid escape sequence '\\{shown}' in HELP text"),
                );
            }
            None => {
                return fail(
                    at + first + i,
                    "invalid escape sequence: a backslash ends the HELP text",
                );
            }
        }
    }
    Ok(Cow::Owned(out))
}

/// Unescapes an OpenMetrics HELP text: `\\`, `\n` and `\"`; the ABNF
/// defines any other `\x` as a literal backslash and `x`.
pub(crate) fn unescape_help(s: &str, dialect: Dialect) -> Cow<'_, str> {
    if !s.contains('\\') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.clone().next() {
            Some('\\') => {
                out.push('\\');
                chars.next();
            }
            Some('n') => {
                out.push('\n');
                chars.next();
            }
            Some('"') if dialect == Dialect::OpenMetrics => {
                out.push('"');
                chars.next();
            }
            _ => out.push('\\'),
        }
    }
    Cow::Owned(out)
}

/// Length of a run of ASCII digits starting at `i`.
fn digits(b: &[u8], i: usize, hex: bool) -> usize {
    b.get(i..)
        .unwrap_or(&[])
        .iter()
        .take_while(|c| if hex { c.is_ascii_hexdigit() } else { c.is_ascii_digit() })
        .count()
}

/// `[+-]` at `i`: returns the index after it.
fn skip_sign(b: &[u8], i: usize) -> usize {
    match b.get(i) {
        Some(b'+' | b'-') => i + 1,
        _ => i,
    }
}

/// `[+-]? (d+ (. d*)? | . d+) ([eE] [+-]? d+)?` exactly.
fn is_decimal(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = skip_sign(b, 0);
    let int_digits = digits(b, i, false);
    i += int_digits;
    let mut frac_digits = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        frac_digits = digits(b, i, false);
        i += frac_digits;
    }
    if int_digits + frac_digits == 0 {
        return false;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i = skip_sign(b, i + 1);
        let exp_digits = digits(b, i, false);
        if exp_digits == 0 {
            return false;
        }
        i += exp_digits;
    }
    i == b.len()
}

/// A finite decimal; overflow to infinity is refused, as Go's `ParseFloat`
/// reports it as a range error.
fn decimal(s: &str) -> Option<f64> {
    if !is_decimal(s) {
        return None;
    }
    s.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// `[+-]? (inf | infinity)` or `nan`, case-insensitively.
fn special(s: &str) -> Option<f64> {
    let (negative, body) = match s.as_bytes().first() {
        Some(b'-') => (true, s.get(1..).unwrap_or("")),
        Some(b'+') => (false, s.get(1..).unwrap_or("")),
        _ => (false, s),
    };
    if body.eq_ignore_ascii_case("inf") || body.eq_ignore_ascii_case("infinity") {
        return Some(if negative { f64::NEG_INFINITY } else { f64::INFINITY });
    }
    if body.len() == s.len() && s.eq_ignore_ascii_case("nan") {
        return Some(f64::NAN);
    }
    None
}

/// What the 0.0.4 parsers accept for values and `le`/`quantile` labels: Go's
/// `strconv.ParseFloat` behind a filter that refuses any `p`, `P` or `_`.
/// That filter leaves no hexadecimal float (Go requires the `p` exponent) and
/// no digit separator, so it is decimals, infinities and NaN.
pub(crate) fn go_float(s: &str) -> Option<f64> {
    if let Some(v) = plain_decimal(s) {
        return Some(v);
    }
    // Rust's float syntax is Go's for decimals, so the common case needs
    // one parse; only infinities and NaN, which Rust spells more loosely
    // (`+nan`) and also gets from overflow (`1e400`), need a second look.
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() => Some(v),
        _ => special(s),
    }
}

/// `digits` or `digits.digits` with at most 15 digits in all, the way
/// nearly every sample value and `le` is written, without the general
/// parser: such a mantissa and its power of ten (at most 10^15) are exact
/// in an `f64`, so one division is correctly rounded (Clinger's fast path)
/// and gives exactly what `str::parse` gives.
fn plain_decimal(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    if b.is_empty() || b.len() > 16 {
        return None;
    }
    let mut mantissa: u64 = 0;
    let mut digits = 0u32;
    let mut point: Option<u32> = None;
    for &c in b {
        match c {
            b'0'..=b'9' => {
                mantissa = mantissa * 10 + u64::from(c - b'0');
                digits += 1;
            }
            b'.' if point.is_none() => point = Some(digits),
            _ => return None,
        }
    }
    // `.` alone, `5.` and `.5` are left to the general parser.
    let scale = match point {
        None => 0,
        Some(at) if at > 0 && at < digits => digits - at,
        Some(_) => return None,
    };
    if digits > 15 {
        return None;
    }
    const POWERS: [f64; 16] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
    ];
    let power = POWERS.get(usize::try_from(scale).ok()?)?;
    // Exact: below 10^15 < 2^53.
    #[allow(clippy::cast_precision_loss)]
    let m = mantissa as f64;
    Some(m / power)
}

/// The OpenMetrics `number`: a decimal, `[+-]inf(inity)` or `nan`.
pub(crate) fn om_number(s: &str) -> Option<f64> {
    decimal(s).or_else(|| special(s))
}

/// The OpenMetrics `realnumber` (timestamps, `le`, `quantile`): decimals only.
pub(crate) fn om_real(s: &str) -> Option<f64> {
    decimal(s)
}

/// A 0.0.4 timestamp: a base-10 int64 with an optional sign.
pub(crate) fn int64(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let start = skip_sign(b, 0);
    let n = digits(b, start, false);
    if n == 0 || start + n != b.len() {
        return None;
    }
    s.parse::<i64>().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(line: &str, dialect: Dialect) -> Result<Vec<(String, String)>, String> {
        let mut c = Cursor::new(line);
        let mut out = Vec::new();
        c.label_set(dialect, &mut out)
            .map_err(|f| format!("{:?}: {}", f.at, f.message))?;
        Ok(out.into_iter().map(|(n, v)| (n.to_string(), v.into_owned())).collect())
    }

    #[test]
    fn the_plain_decimal_fast_path_agrees_with_the_general_parser() {
        let mut texts: Vec<String> = [
            "0",
            "00",
            "1",
            "975",
            "0.005",
            "0.1",
            "0.3",
            "8700.087",
            "123456789012345",
            "12345678901234.5",
            "0.000000000000001",
            "999999999999999",
            "1.10",
            "007.70",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let digits = x % 10_u64.pow(1 + (x >> 60) as u32 % 15);
            let text = digits.to_string();
            let at = (x >> 40) as usize % (text.len() + 1);
            texts.push(text.clone());
            if at > 0 && at < text.len() {
                texts.push(format!("{}.{}", &text[..at], &text[at..]));
            }
        }
        for text in &texts {
            let fast = plain_decimal(text).map(f64::to_bits);
            if let Some(fast) = fast {
                assert_eq!(Some(fast), text.parse::<f64>().ok().map(f64::to_bits), "{text}");
            }
        }
        // Too long, or not plain: the general parser's.
        for text in ["1234567890123456", "1.", ".5", "1e3", "-1", "+1", "1.2.3", ""] {
            assert_eq!(plain_decimal(text), None, "{text}");
        }
    }

    #[test]
    fn go_float_accepts_go_syntax_and_refuses_the_rest() {
        assert_eq!(go_float("1.5e3"), Some(1500.0));
        assert_eq!(go_float("-.5"), Some(-0.5));
        assert_eq!(go_float("1."), Some(1.0));
        assert_eq!(go_float("+Inf"), Some(f64::INFINITY));
        assert_eq!(go_float("-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(go_float("Infinity"), Some(f64::INFINITY));
        assert!(go_float("NaN").is_some_and(f64::is_nan));
        assert_eq!(go_float("1e-400"), Some(0.0));
        assert_eq!(go_float("00.1"), Some(0.1));
        // promtool refuses hexadecimal floats: its parser rejects any `p`.
        for bad in [
            "", ".", "e5", "1e", "1_000", "0x1", "0x", "0xp1", "1e400", "+NaN", "inff", "1 ", "--1", "0x1p", "1.2.3",
            "0x1p-2", "-0X1.8P1", "0x.8p0", "0x10", "1\r",
        ] {
            assert_eq!(go_float(bad).map(f64::to_bits), None, "{bad:?}");
        }
    }

    #[test]
    fn om_numbers_follow_the_abnf() {
        assert_eq!(om_number("0000001.2e-1"), Some(0.12));
        assert_eq!(om_number("-Infinity"), Some(f64::NEG_INFINITY));
        assert!(om_number("nan").is_some_and(f64::is_nan));
        assert_eq!(om_number("0x1p-3"), None);
        assert_eq!(om_number("-nan"), None);
        assert_eq!(om_real("Inf"), None);
        assert_eq!(om_real("NaN"), None);
        assert_eq!(om_real("1.5E3"), Some(1500.0));
    }

    #[test]
    fn int64_timestamps() {
        assert_eq!(int64("-12"), Some(-12));
        assert_eq!(int64("+12"), Some(12));
        assert_eq!(int64("9223372036854775808"), None);
        assert_eq!(int64("1.5"), None);
        assert_eq!(int64("-"), None);
    }

    #[test]
    fn quoted_values_borrow_unless_escaped() {
        let mut c = Cursor::new(r#""plain" rest"#);
        assert!(matches!(c.quoted(Dialect::Text), Ok(Cow::Borrowed("plain"))));
        assert_eq!(c.rest(), " rest");
        let mut c = Cursor::new(r#""a\"b\\c\nd""#);
        let v = c.quoted(Dialect::Text).map_err(|f| f.message);
        assert_eq!(v.as_deref(), Ok("a\"b\\c\nd"));
        assert!(matches!(v, Ok(Cow::Owned(_))));
    }

    #[test]
    fn unknown_escapes_differ_by_dialect() {
        let mut c = Cursor::new(r#""b\z""#);
        let f = c.quoted(Dialect::Text).err();
        assert_eq!(f.as_ref().map(|f| f.at), Some(At::Here(2)));
        let mut c = Cursor::new(r#""b\z""#);
        assert_eq!(c.quoted(Dialect::OpenMetrics).ok().as_deref(), Some("b\\z"));
    }

    #[test]
    fn trailing_backslash_is_unterminated() {
        let mut c = Cursor::new("\"abc\\");
        assert!(c.quoted(Dialect::OpenMetrics).is_err());
    }

    #[test]
    fn label_sets_by_dialect() {
        let text = labels(r#"{ a = "1" , b="2", }"#, Dialect::Text);
        assert_eq!(text, Ok(vec![("a".into(), "1".into()), ("b".into(), "2".into())]));
        assert!(labels(r#"{a="1",}"#, Dialect::OpenMetrics).is_err());
        assert!(labels(r#"{a="1", b="2"}"#, Dialect::OpenMetrics).is_err());
        assert_eq!(labels("{}", Dialect::OpenMetrics), Ok(vec![]));
        assert!(labels(r#"{a="1",,b="2"}"#, Dialect::Text).is_err());
    }

    #[test]
    fn duplicate_labels_are_found_in_small_and_large_sets() {
        assert!(labels(r#"{a="1",a="2"}"#, Dialect::Text).is_err_and(|e| e.contains("duplicate label name a")));
        let mut big = String::from("{");
        for i in 0..40 {
            big.push_str(&format!("l{i}=\"x\","));
        }
        assert!(labels(&format!("{big}}}"), Dialect::Text).is_ok());
        big.push_str("l7=\"y\"}");
        assert!(labels(&big, Dialect::Text).is_err_and(|e| e.contains("duplicate label name l7")));
    }

    #[test]
    fn text_help_allows_only_backslash_and_newline_escapes() {
        assert_eq!(text_help(r"a\\b\nc", 0).ok().as_deref(), Some("a\\b\nc"));
        assert!(matches!(text_help("plain", 0), Ok(Cow::Borrowed("plain"))));
        let tab = text_help(r"x\ty", 7).err();
        assert_eq!(tab.as_ref().map(|f| f.at), Some(At::Here(8)));
        assert!(tab.is_some_and(|f| f.message.contains(r"'\t'")));
        assert!(text_help(r#"say \"hi\""#, 0).is_err());
        assert!(text_help("trailing\\", 0).is_err_and(|f| f.message.contains("backslash ends")));
    }

    #[test]
    fn columns_count_characters_and_quotes_show_control_bytes() {
        assert_eq!(column("aé b".as_bytes(), 4), 4);
        assert_eq!(column(b"ab", 99), 3);
        assert_eq!(quote("gauge\r"), r#""gauge\r""#);
    }

    #[test]
    fn help_unescaping() {
        assert_eq!(unescape_help(r"a\\b\nc\d", Dialect::Text), "a\\b\nc\\d");
        assert_eq!(unescape_help(r#"\""#, Dialect::Text), "\\\"");
        assert_eq!(unescape_help(r#"\""#, Dialect::OpenMetrics), "\"");
        assert_eq!(unescape_help("trailing\\", Dialect::OpenMetrics), "trailing\\");
        assert!(matches!(unescape_help("plain", Dialect::Text), Cow::Borrowed(_)));
    }
}
