//! The JSON report: the model serialised as is, pretty-printed.
//!
//! serde_json escapes C0 controls in strings but writes DEL, C1 controls and
//! bidi overrides raw, and a report piped to a terminal would pass them on.
//! They are written as `\uXXXX` instead: the same strings to any parser.

use std::borrow::Cow;
use std::io;

use super::{RenderOptions, Renderer, Report};

pub struct Json;

impl Renderer for Json {
    fn render(&self, report: &Report, out: &mut dyn io::Write, _opts: RenderOptions) -> io::Result<()> {
        let text = serde_json::to_string_pretty(report).map_err(io::Error::other)?;
        out.write_all(inert_json(&text).as_bytes())?;
        writeln!(out)
    }
}

/// Serialised JSON with every unsafe character above ASCII's C0 range as a
/// `\uXXXX` escape. Outside strings JSON holds only ASCII, and serde_json
/// has escaped C0 inside them, so every such character is inside a string,
/// where the escape means the same character. (All of them are in the BMP.)
pub(super) fn inert_json(json: &str) -> Cow<'_, str> {
    let unsafe_above_c0 = |c: char| c >= '\u{7f}' && crate::text::is_unsafe(c);
    if !json.chars().any(unsafe_above_c0) {
        return Cow::Borrowed(json);
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if unsafe_above_c0(c) {
            out.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::super::table::hostile::{self, assert_inert};
    use crate::report::{Format, RenderOptions, Report, render_to_string};

    #[test]
    fn control_and_bidi_characters_travel_only_as_json_escapes() {
        let report = hostile::report();
        let json = render_to_string(Format::Json, &report, RenderOptions::default()).expect("render JSON");
        assert_inert("json", &json, false);
        assert!(json.contains(r"\u001b]0;pwned\u0007"), "serde_json's own escapes");
        assert!(
            json.contains(r"\u202edesrever\u2066\u2069") && json.contains(r"\u009b31m") && json.contains(r"del\u007f")
        );
        // The same strings to a parser: JSON keeps the text as the server sent it.
        let back: Report = serde_json::from_str(&json).expect("parse the report back");
        assert_eq!(serde_json::to_value(&back).ok(), serde_json::to_value(&report).ok());
    }

    #[test]
    fn plain_reports_are_untouched() {
        assert!(matches!(
            super::inert_json(r#"{"a": "≥ 7 days · 🔒"}"#),
            std::borrow::Cow::Borrowed(_)
        ));
    }
}
