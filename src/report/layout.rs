//! Fitting text for people into a width: the terminal's, or a fixed one for
//! logs and files. Widths are display columns (a CJK character takes two,
//! a combining mark none), as a terminal counts them, never bytes or chars.
//!
//! The table renderer and `list` share these, so both fit the same way.

use comfy_table::{ContentArrangement, Table, presets};
use unicode_width::UnicodeWidthChar;

/// The width of output that is not going to a terminal (a pipe, a CI log,
/// a `--report table=PATH` file): fixed, so the same run gives the same
/// text wherever it is read, and narrow enough for a README code block and
/// the usual CI log viewer without side-scrolling.
pub const LOG_WIDTH: u16 = 100;

/// Below this the layout stops shrinking: ids and statuses are never wrapped,
/// and narrower than this they alone would not fit. Lines may then be longer
/// than the terminal.
pub const MIN_WIDTH: u16 = 40;

/// The width to lay out for: `width` when given (at least [`MIN_WIDTH`]),
/// otherwise [`LOG_WIDTH`].
pub fn target(width: Option<u16>) -> usize {
    usize::from(width.unwrap_or(LOG_WIDTH).max(MIN_WIDTH))
}

/// Display columns of `s`. A tab counts as 8 (the most it can take).
pub fn width(s: &str) -> usize {
    s.chars().map(char_width).sum()
}

fn char_width(c: char) -> usize {
    if c == '\t' { 8 } else { c.width().unwrap_or(0) }
}

/// Columns a comfy-table in the [`table`] style takes for columns whose
/// content is this wide: each column adds one space of padding on either
/// side and one border.
pub fn table_width(content_widths: &[usize]) -> usize {
    content_widths.iter().sum::<usize>() + 3 * content_widths.len() + 1
}

/// The project's table style, laid out to fit `width` columns. Columns whose
/// content must stay whole get `ContentWidth` constraints from the caller;
/// the others wrap at spaces.
pub fn table(width: usize) -> Table {
    let mut t = Table::new();
    t.load_style(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .force_no_tty()
        .set_width(u16::try_from(width).unwrap_or(u16::MAX));
    t
}

/// Word-wraps `text` to `width` columns: the first line starts with
/// `first`, each further one with `rest` (a hanging indent, so a wrapped
/// line never looks like a line of its own). Breaks at spaces, keeping the
/// spacing inside a line; a word longer than a whole line is cut. No
/// trailing newline.
pub fn wrap(text: &str, width: usize, first: &str, rest: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let mut line = String::from(first);
    let mut line_w = self::width(first);
    // Whether the current line has a word yet.
    let mut empty = true;
    let rest_w = self::width(rest);
    let mut words = Vec::new();
    let mut left = text.trim_start_matches(' ');
    while !left.is_empty() {
        let (word, after) = left.split_at(left.find(' ').unwrap_or(left.len()));
        let next = after.trim_start_matches(' ');
        words.push((word, &after[..after.len() - next.len()]));
        left = next;
    }
    let mut pending_space = "";
    for (word, space) in words {
        let ww = self::width(word);
        let sw = self::width(pending_space);
        if !empty && line_w + sw + ww > width {
            out.push_str(&line);
            out.push('\n');
            line = String::from(rest);
            line_w = rest_w;
        } else if !empty {
            line.push_str(pending_space);
            line_w += sw;
        }
        // A word that cannot fit even on a line of its own is cut.
        let mut word = word;
        while line_w + self::width(word) > width && line_w < width {
            let room = width - line_w;
            let mut cut = 0;
            let mut cut_w = 0;
            for (j, c) in word.char_indices() {
                let cw = char_width(c);
                if cut_w + cw > room {
                    break;
                }
                cut = j + c.len_utf8();
                cut_w += cw;
            }
            if cut == 0 {
                break;
            }
            out.push_str(&line);
            out.push_str(&word[..cut]);
            out.push('\n');
            line = String::from(rest);
            line_w = rest_w;
            word = &word[cut..];
        }
        line.push_str(word);
        line_w += self::width(word);
        empty = false;
        pending_space = space;
    }
    out.push_str(&line);
    out
}

/// `s` cut to `max` columns, ending in `…` when it was cut.
pub fn truncate(s: &str, max: usize) -> String {
    if width(s) <= max {
        return s.to_string();
    }
    let mut out = String::new();
    let mut w = 0;
    for c in s.chars() {
        let cw = char_width(c);
        if w + cw + 1 > max {
            break;
        }
        out.push(c);
        w += cw;
    }
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn widest(s: &str) -> usize {
        s.lines().map(width).max().unwrap_or(0)
    }

    #[test]
    fn wrapping_breaks_at_spaces_with_a_hanging_indent() {
        let s = wrap("cause: the quick brown fox jumps over the lazy dog", 20, "", "  ");
        assert_eq!(s, "cause: the quick\n  brown fox jumps\n  over the lazy dog");
    }

    #[test]
    fn a_word_longer_than_the_line_is_cut_rather_than_overflowing() {
        let s = wrap(
            "see http://127.0.0.1:1/a/very/long/path/that/never/ends",
            20,
            "- ",
            "  ",
        );
        assert!(widest(&s) <= 20, "{s}");
        assert_eq!(
            s,
            "- see\n  http://127.0.0.1:1\n  /a/very/long/path/\n  that/never/ends"
        );
    }

    #[test]
    fn wide_characters_count_two_columns() {
        assert_eq!(width("日本"), 4);
        let s = wrap("日本語 日本語 日本語", 10, "", "");
        assert_eq!(s, "日本語\n日本語\n日本語");
        assert_eq!(truncate("日本語のテキスト", 7), "日本語…");
    }

    #[test]
    fn spacing_inside_a_line_is_kept_and_dropped_at_breaks() {
        assert_eq!(wrap("BLOCKED  score 1", 80, "", ""), "BLOCKED  score 1");
        assert_eq!(wrap("aaaa  bbbb", 6, "", ""), "aaaa\nbbbb");
    }

    #[test]
    fn the_table_style_adds_three_columns_per_column_plus_one() {
        let mut t = table(200);
        t.set_header(vec!["ab", "cde"]);
        let line = t.lines().next().unwrap_or_default();
        assert_eq!(width(&line), table_width(&[2, 3]));
    }
}
