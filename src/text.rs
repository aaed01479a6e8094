//! Untrusted text made inert where people read it. Servers write most of a
//! report (error messages, `lastError`, datasource names, Docker errors,
//! bodies), and a hostile or broken one must not be able to retitle a
//! terminal, clear it, forge a `[   pass]` line, reverse text with bidi
//! overrides, or open a heading, a link or an HTML comment in Markdown.
//!
//! The report model keeps text as the server sent it; the renderers call
//! these functions when they write it out.
//!
//! One escape vocabulary everywhere: `\n`, `\r`, `\t`, `\x1b` for the other
//! C0 controls and DEL, `\u{9b}` for C1 controls, bidi controls and the
//! Unicode line separators. A newline is shown as `\n` rather than `⏎`
//! because [`crate::http::excerpt`] already spells body excerpts that way.
//! Backslashes are left alone: Windows paths and regexes stay readable, at
//! the price that a literal `\x1b` typed by the server looks like an escaped
//! ESC. That is ambiguous to a reader but harmless to a terminal.

use std::borrow::Cow;
use std::fmt::Write as _;

/// A character that a terminal, a Markdown renderer or an XML parser may act
/// on instead of showing: C0 and C1 controls, DEL, the bidi embeddings,
/// overrides, isolates and marks, and U+2028/U+2029 (line breaks to some
/// renderers).
pub fn is_unsafe(c: char) -> bool {
    matches!(
        c,
        '\u{0}'..='\u{1f}'
            | '\u{7f}'..='\u{9f}'
            | '\u{61c}'
            | '\u{200e}'
            | '\u{200f}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2066}'..='\u{2069}'
    )
}

/// `s` on one line with every unsafe character written as a visible escape.
/// For table cells, `-v` lines and attribute values.
pub fn escape(s: &str) -> Cow<'_, str> {
    if is_printable_ascii(s) {
        return Cow::Borrowed(s);
    }
    escape_with(s, is_unsafe)
}

/// Nothing to escape, checked a byte at a time (which vectorises) instead
/// of decoding characters: nearly every string a report shows is like that.
fn is_printable_ascii(s: &str) -> bool {
    s.bytes().all(|b| (0x20..0x7f).contains(&b))
}

/// Like [`escape`] but keeps tabs, which are harmless on a terminal and
/// meaningful in a shell command (`docker ps --format '{{.Names}}\t…'`).
pub fn escape_keep_tabs(s: &str) -> Cow<'_, str> {
    if is_printable_ascii(s) {
        return Cow::Borrowed(s);
    }
    escape_with(s, |c| c != '\t' && is_unsafe(c))
}

/// Escapes the characters `escape_if` selects, in the vocabulary above.
pub fn escape_with(s: &str, escape_if: impl Fn(char) -> bool) -> Cow<'_, str> {
    if !s.chars().any(&escape_if) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if escape_if(c) {
            push_escape(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

fn push_escape(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        // Writing to a String cannot fail.
        c if (c as u32) < 0x80 => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        c => {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
    }
}

/// Text for HTML element content or a quoted attribute value: unsafe
/// characters become visible escapes as in every other format (so the text
/// stays on one line), then `&`, `<`, `>`, `"` and `'` become character
/// references, so server text is never markup, whatever it holds.
pub fn html(s: &str) -> String {
    html_entities(&escape(s))
}

/// [`html`] keeping tabs, for a shell command in a `<pre>`.
pub fn html_keep_tabs(s: &str) -> String {
    html_entities(&escape_keep_tabs(s))
}

fn html_entities(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Text for a Markdown paragraph, list item, heading or block quote: it
/// renders as the characters it holds, on the line it is written on.
///
/// Code spans the text already has (`` `backend` `` in a remediation) are
/// kept, as CommonMark pairs them, since nothing inside a code span is
/// markup. Everything else is backslash-escaped where it could open inline
/// markup (emphasis, links, images, raw HTML and comments, entities,
/// strikethrough, GitHub math, bare-URL autolinks) and, at the start, where
/// it could open a block (heading, quote, list, thematic break, fence,
/// indented code). Unsafe characters, newlines first, become escapes, so the
/// text never reaches a second line.
pub fn markdown(s: &str) -> String {
    markdown_in(s, false)
}

/// [`markdown`] for a GFM table cell, where `|` ends the cell even inside a
/// code span unless it is written `\|`.
pub fn markdown_cell(s: &str) -> String {
    markdown_in(s, true)
}

/// `s` as one inline code span, whatever backticks it holds: the fence is
/// one backtick longer than its longest backtick run (CommonMark 6.1).
pub fn markdown_code(s: &str) -> String {
    code_span(&escape(s), false)
}

/// [`markdown_code`] inside a GFM table cell.
pub fn markdown_code_cell(s: &str) -> String {
    code_span(&escape(s), true)
}

/// A fenced code block for a command, each line prefixed by `indent` (a
/// list item's continuation). Its fence is longer than any backtick run in
/// the command, and newlines in the command are escaped so it stays one
/// line; tabs are kept.
pub fn markdown_code_block(s: &str, info: &str, indent: &str) -> String {
    let line = escape_keep_tabs(s);
    let fence = "`".repeat(longest_backtick_run(&line).max(2) + 1);
    format!("{indent}{fence}{info}\n{indent}{line}\n{indent}{fence}")
}

fn longest_backtick_run(s: &str) -> usize {
    s.split(|c| c != '`').map(str::len).max().unwrap_or(0)
}

fn code_span(content: &str, cell: bool) -> String {
    if content.is_empty() {
        return "` `".to_string();
    }
    let fence = "`".repeat(longest_backtick_run(content) + 1);
    // CommonMark strips one space from each side when both are spaces, and a
    // backtick at an edge would merge with the fence: pad so neither happens.
    let all_spaces = content.chars().all(|c| c == ' ');
    let pad = content.starts_with('`')
        || content.ends_with('`')
        || (!all_spaces && content.starts_with(' ') && content.ends_with(' '));
    let pad = if pad { " " } else { "" };
    let body = if cell {
        content.replace('|', "\\|")
    } else {
        content.to_string()
    };
    format!("{fence}{pad}{body}{pad}{fence}")
}

fn markdown_in(s: &str, cell: bool) -> String {
    let escaped = escape(s);
    // Leading spaces never render in a paragraph, and four of them would
    // open an indented code block.
    let text = escaped.trim_start_matches(' ');
    let mut out = String::with_capacity(text.len() + 16);
    let runs = backtick_runs(text);
    let mut pos = 0;
    let mut i = 0;
    while i < runs.len() {
        let (start, len) = runs[i];
        // CommonMark: a run opens a code span closed by the next run of the same length.
        match runs[i + 1..].iter().position(|&(_, l)| l == len) {
            Some(k) => {
                let (close, _) = runs[i + 1 + k];
                escape_inline(&text[pos..start], pos == 0, &mut out);
                let span = &text[start..close + len];
                if cell {
                    out.push_str(&span.replace('|', "\\|"));
                } else {
                    out.push_str(span);
                }
                pos = close + len;
                i += k + 2;
            }
            None => {
                escape_inline(&text[pos..start], pos == 0, &mut out);
                for _ in 0..len {
                    out.push_str("\\`");
                }
                pos = start + len;
                i += 1;
            }
        }
    }
    escape_inline(&text[pos..], pos == 0, &mut out);
    out
}

/// (byte offset, length) of every maximal run of backticks.
fn backtick_runs(s: &str) -> Vec<(usize, usize)> {
    let mut runs = Vec::new();
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'`' {
            let start = i;
            while i < bytes.len() && bytes[i] == b'`' {
                i += 1;
            }
            runs.push((start, i - start));
        } else {
            i += 1;
        }
    }
    runs
}

/// Backslash-escapes text outside code spans. `line_start`: the text begins
/// a line (or a list item or quote), where block markers count.
///
/// A character is escaped where CommonMark or GFM could read it as the start
/// of a construct, and left alone where the spec says it cannot be one, so
/// the source stays readable: `p95 < 500ms`, `a & b` and `scrape_interval`
/// need no backslash (no tag, entity or emphasis can start there).
fn escape_inline(s: &str, line_start: bool, out: &mut String) {
    let chars: Vec<char> = s.chars().collect();
    let at = |i: usize| chars.get(i).copied();
    let alnum = |c: Option<char>| c.is_some_and(char::is_alphanumeric);
    let mut marker_at = None;
    if line_start {
        match at(0) {
            Some('-' | '+' | '=' | '#' | '>') => marker_at = Some(0),
            Some(c) if c.is_ascii_digit() => {
                let digits = chars.iter().take_while(|c| c.is_ascii_digit()).count();
                if matches!(at(digits), Some('.' | ')')) {
                    marker_at = Some(digits);
                }
            }
            _ => {}
        }
    }
    for (i, &c) in chars.iter().enumerate() {
        let prev = i.checked_sub(1).and_then(at);
        let next = at(i + 1);
        let escape = match c {
            '*' | '[' | ']' | '|' | '~' | '$' | '>' => true,
            // Both sides alphanumeric: neither left- nor right-flanking enough to open or close emphasis.
            '_' => !(alnum(prev) && alnum(next)),
            // A tag, comment, declaration or autolink needs a letter, `/`, `!` or `?` right after `<`.
            '<' => matches!(next, Some(n) if n.is_ascii_alphabetic() || matches!(n, '/' | '!' | '?')),
            // An entity needs a name or `#` right after `&`.
            '&' => matches!(next, Some(n) if n.is_ascii_alphanumeric() || n == '#'),
            '!' => next == Some('['),
            // Only a backslash before punctuation escapes it; `\n` from [`escape`] stays as is.
            '\\' => next.is_none_or(|n| n.is_ascii_punctuation()),
            // GFM autolinks bare `scheme://…` and `www.…`; an escaped `:` or `.` stops both.
            ':' => next == Some('/') && at(i + 2) == Some('/'),
            '.' => i >= 3 && chars[i - 3..i] == ['w', 'w', 'w'] && !alnum(i.checked_sub(4).and_then(at)),
            _ => false,
        };
        if escape || marker_at == Some(i) {
            out.push('\\');
        }
        out.push(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_text_is_never_markup_and_stays_on_one_line() {
        assert_eq!(
            html("<img src=x onerror=\"alert('1')\"> & <script>\n"),
            "&lt;img src=x onerror=&quot;alert(&#39;1&#39;)&quot;&gt; &amp; &lt;script&gt;\\n"
        );
        assert_eq!(html("\u{1b}]0;t\u{7}\u{202e}"), "\\x1b]0;t\\x07\\u{202e}");
        assert_eq!(html_keep_tabs("a\tb\n<"), "a\tb\\n&lt;");
        assert_eq!(html("plain text"), "plain text");
    }

    #[test]
    fn controls_become_visible_escapes() {
        assert_eq!(escape("a\x1b]0;pwned\x07b"), "a\\x1b]0;pwned\\x07b");
        assert_eq!(escape("x\ny\r\tz\x7f"), "x\\ny\\r\\tz\\x7f");
        assert_eq!(escape("c1\u{9b}2J"), "c1\\u{9b}2J");
        assert_eq!(escape("abc\u{202e}fed\u{2066}"), "abc\\u{202e}fed\\u{2066}");
        assert_eq!(escape("line\u{2028}sep"), "line\\u{2028}sep");
        assert_eq!(escape_keep_tabs("a\tb\nc"), "a\tb\\nc");
    }

    #[test]
    fn plain_text_is_borrowed_untouched() {
        for s in ["", "GET /metrics answered 200 OK", "≥ 7 days · ✅ 🔒", "C:\\path\\x1b"] {
            assert!(matches!(escape(s), Cow::Borrowed(b) if b == s), "{s}");
        }
    }

    #[test]
    fn escaped_text_holds_no_unsafe_character() {
        let all: String = (0u32..0x3000).filter_map(char::from_u32).collect();
        assert!(!escape(&all).chars().any(is_unsafe));
        assert!(!escape_keep_tabs(&all).chars().any(|c| c != '\t' && is_unsafe(c)));
    }

    #[test]
    fn markdown_cannot_open_blocks_at_line_start() {
        for (text, want) in [
            ("# PASSED", r"\# PASSED"),
            ("> quote", r"\> quote"),
            ("- item", r"\- item"),
            ("+ item", r"\+ item"),
            ("===", r"\==="),
            ("12. item", r"12\. item"),
            ("3) item", r"3\) item"),
            ("    indented code", "indented code"),
            ("***", r"\*\*\*"),
            ("___", r"\_\_\_"),
            ("```sh", r"\`\`\`sh"),
            ("~~~", r"\~\~\~"),
            ("<div>", r"\<div\>"),
            ("| a | b |", r"\| a \| b \|"),
            // Only at the start: mid-line they are plain text.
            ("a - b + c = 12. d # e", "a - b + c = 12. d # e"),
        ] {
            assert_eq!(markdown(text), want, "{text:?}");
        }
    }

    #[test]
    fn markdown_newlines_never_start_a_line() {
        let out = markdown("ok\n# PASSED\n\n<!-- hide -->\n[   pass] forged\r\n\x1b]0;t\x07");
        assert!(!out.contains(['\n', '\r', '\x1b', '\x07']), "{out}");
        assert_eq!(
            out,
            r"ok\n# PASSED\n\n\<!-- hide --\>\n\[   pass\] forged\r\n\x1b\]0;t\x07"
        );
    }

    #[test]
    fn markdown_cannot_open_inline_markup() {
        for (text, want) in [
            ("[x](http://evil)", r"\[x\](http\://evil)"),
            ("![i](y)", r"\!\[i\](y)"),
            ("<script>alert(1)</script>", r"\<script\>alert(1)\</script\>"),
            ("<!-- c -->", r"\<!-- c --\>"),
            ("<?php", r"\<?php"),
            ("<https://evil>", r"\<https\://evil\>"),
            ("*a* _b_ ~~c~~ ~d~", r"\*a\* \_b\_ \~\~c\~\~ \~d\~"),
            ("&#x202e; &amp; &lt;", r"\&#x202e; \&amp; \&lt;"),
            ("$x$ a|b", r"\$x\$ a\|b"),
            ("see www.evil.test or awww.x", r"see www\.evil.test or awww.x"),
            ("[^1]: note", r"\[^1\]: note"),
            (r"a\*b\ c\", r"a\\\*b\ c\\"),
            // Where no construct can start, no backslash.
            ("p95 < 500ms & a_b_c ! x", "p95 < 500ms & a_b_c ! x"),
            (r"C:\path\to", r"C:\path\to"),
        ] {
            assert_eq!(markdown(text), want, "{text:?}");
        }
    }

    #[test]
    fn markdown_keeps_paired_code_spans_and_escapes_stray_backticks() {
        for (text, want) in [
            ("start the `backend` service", "start the `backend` service"),
            ("`<!--` is inert in code", "`<!--` is inert in code"),
            ("a `b", r"a \`b"),
            ("``a`b`` and `c", r"``a`b`` and \`c"),
            ("`x` <y>", r"`x` \<y\>"),
            ("`a` then ```b", r"`a` then \`\`\`b"),
        ] {
            assert_eq!(markdown(text), want, "{text:?}");
        }
        assert_eq!(markdown_cell("`a|b` c|d"), r"`a\|b` c\|d");
    }

    #[test]
    fn code_spans_survive_backticks_and_edges() {
        assert_eq!(markdown_code("plain"), "`plain`");
        assert_eq!(markdown_code("a`b"), "``a`b``");
        assert_eq!(markdown_code("`x`"), "`` `x` ``");
        assert_eq!(markdown_code("``` fence"), "```` ``` fence ````");
        assert_eq!(markdown_code(" a "), "`  a  `");
        assert_eq!(markdown_code(""), "` `");
        assert_eq!(markdown_code("a\nb"), "`a\\nb`");
        assert_eq!(markdown_code_cell("a|b"), "`a\\|b`");
    }

    #[test]
    fn code_blocks_outlast_backticks_in_the_command() {
        assert_eq!(markdown_code_block("curl x", "sh", "  "), "  ```sh\n  curl x\n  ```");
        assert_eq!(
            markdown_code_block("echo ````\n# PASSED", "sh", ""),
            "`````sh\necho ````\\n# PASSED\n`````"
        );
        assert_eq!(markdown_code_block("a\tb", "", ""), "```\na\tb\n```");
    }
}
