//! GitHub Actions workflow commands: an `::error` annotation per failure, a
//! `::warning` per advisory finding or run warning, then one `::notice` with
//! the verdict, the score and what was not annotated.
//!
//! The runner shows at most ten errors and ten warnings per step, so the
//! findings come in [`super::findings`] order (what blocks the gate, by
//! root-cause impact, first) and the notice names the rest.
//!
//! Escaping is the runner's (`@actions/core`'s `escapeData` and
//! `escapeProperty`): in the message `%`, CR and LF become `%25`, `%0D`,
//! `%0A`; in property values `:` and `,` also become `%3A` and `%2C`. So no
//! report text can end the line it is on, and every line of the output is a
//! command this file wrote: a server's `::add-mask::` or `\n::error::` stays
//! inside our message. Other control and bidi characters are written as the
//! visible escapes of [`crate::text`], as in every format.

use std::io;

use super::findings::{self, Finding, Weight};
use super::words::{pct, status};
use super::{RenderOptions, Renderer, Report};

pub struct Github;

/// Annotations of one level the runner shows per step.
const SHOWN_PER_LEVEL: usize = 10;
/// Ids of unannotated checks the notice lists before "…".
const NAMED_IN_NOTICE: usize = 20;

impl Renderer for Github {
    fn render(&self, r: &Report, out: &mut dyn io::Write, _opts: RenderOptions) -> io::Result<()> {
        let found = findings::ordered(r);
        let (advisory, failures): (Vec<&Finding<'_>>, Vec<&Finding<'_>>) =
            found.iter().partition(|f| f.weight == Weight::Advisory);
        for f in failures.iter().take(SHOWN_PER_LEVEL) {
            writeln!(out, "{}", annotation("error", r, f))?;
        }
        let mut warnings: Vec<String> = advisory.iter().map(|f| annotation("warning", r, f)).collect();
        warnings.extend(
            r.warnings
                .iter()
                .map(|w| command("warning", &[("title", "medianest-gate warning")], w)),
        );
        for w in warnings.iter().take(SHOWN_PER_LEVEL) {
            writeln!(out, "{w}")?;
        }

        let c = &r.counts;
        let mut notice = format!(
            "Gate {}: {}\nscore {} (threshold {}), verdict {}; checks: {} pass, {} fail, {} error, {} blocked, {} waived, {} skipped",
            r.gate.id,
            r.summary,
            pct(r.score),
            pct(r.gate.threshold),
            r.verdict,
            c.pass,
            c.fail,
            c.error,
            c.blocked,
            c.waived,
            c.skipped
        );
        let hidden_errors: Vec<&str> = failures
            .iter()
            .skip(SHOWN_PER_LEVEL)
            .map(|f| f.check.id.as_str())
            .collect();
        let hidden_warnings = warnings.len().saturating_sub(SHOWN_PER_LEVEL);
        if !hidden_errors.is_empty() {
            notice.push_str(&format!(
                "\n{} more failing checks not annotated (the runner shows {SHOWN_PER_LEVEL}): {}",
                hidden_errors.len(),
                named(&hidden_errors)
            ));
        }
        if hidden_warnings > 0 {
            notice.push_str(&format!("\n{hidden_warnings} more warnings not annotated"));
        }
        if hidden_errors.is_empty() && hidden_warnings == 0 && found.is_empty() {
            notice.push_str("\nno failing check");
        }
        writeln!(
            out,
            "{}",
            command("notice", &[("title", "medianest-gate verdict")], &notice)
        )
    }
}

/// One finding as an annotation, pointing at the check's line when the gate
/// is a file of the repository.
fn annotation(level: &str, r: &Report, f: &Finding<'_>) -> String {
    let c = f.check;
    let mut title = format!(
        "{} {} ({}, {}",
        status(c.status),
        c.id,
        f.requirement.id,
        f.severity.as_str()
    );
    if c.security {
        title.push_str(", security");
    }
    title.push(')');
    let line = c.line.map(|l| l.to_string());
    let mut props = Vec::new();
    if r.gate.from_file {
        props.push(("file", r.gate.source.as_str()));
        if let Some(line) = &line {
            props.push(("line", line.as_str()));
        }
    }
    props.push(("title", title.as_str()));

    let mut message = c.message.clone();
    if let Some(cause) = c.cause.as_deref().filter(|cause| *cause != c.message) {
        message.push_str(&format!("\ncause: {cause}"));
    }
    if let Some(fix) = &c.remediation {
        message.push_str(&format!("\nfix: {fix}"));
    }
    if let Some(cmd) = &c.reproduce {
        message.push_str(&format!("\nreproduce: {cmd}"));
    }
    command(level, &props, &message)
}

/// `::level key=value,…::message`, every part escaped.
fn command(level: &str, props: &[(&str, &str)], message: &str) -> String {
    let mut line = format!("::{level}");
    for (i, (key, value)) in props.iter().enumerate() {
        line.push(if i == 0 { ' ' } else { ',' });
        line.push_str(key);
        line.push('=');
        line.push_str(&escape_property(value));
    }
    line.push_str("::");
    line.push_str(&escape_data(message));
    line
}

fn named(ids: &[&str]) -> String {
    let mut s = ids.iter().take(NAMED_IN_NOTICE).copied().collect::<Vec<_>>().join(", ");
    if ids.len() > NAMED_IN_NOTICE {
        s.push_str(", …");
    }
    s
}

/// Visible escapes for control and bidi characters, except the line breaks
/// and tabs the runner's own escaping carries into the annotation.
fn inert(s: &str) -> std::borrow::Cow<'_, str> {
    crate::text::escape_with(s, |c| !matches!(c, '\n' | '\r' | '\t') && crate::text::is_unsafe(c))
}

/// The runner's `escapeData`.
fn escape_data(s: &str) -> String {
    inert(s).replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

/// The runner's `escapeProperty`.
fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::super::table::hostile;
    use super::*;
    use crate::report::{Format, render_to_string};
    use crate::status::Status;

    /// Text that tries every trick: the escape characters themselves,
    /// already-escaped sequences, forged commands after CR, LF and CRLF,
    /// property separators, and an ESC.
    const HOSTILE: &str = "100% down, see a:b %0A literal\n::error::forged\r::add-mask::x\r\n::stop-commands::t,\x1b[2J\ttab ##[error]v1 %25";

    /// The runner's unescaping (GitHub `ActionCommand`), left to right.
    fn unescape(s: &str, property: bool) -> String {
        let mut out = String::new();
        let mut rest = s;
        while let Some(i) = rest.find('%') {
            out.push_str(&rest[..i]);
            let code = rest.get(i + 1..i + 3).unwrap_or("");
            let c = match code {
                "25" => '%',
                "0D" => '\r',
                "0A" => '\n',
                "3A" if property => ':',
                "2C" if property => ',',
                _ => panic!("`%{code}` is not an escape the runner decodes in {s:?}"),
            };
            out.push(c);
            rest = &rest[i + 3..];
        }
        out.push_str(rest);
        out
    }

    /// Splits a command line as the runner does: `::name props::data`.
    fn parse(line: &str) -> (String, Vec<(String, String)>, String) {
        let body = line.strip_prefix("::").expect("a command");
        let end = body.find("::").expect("the command ends with `::`");
        let (head, data) = (&body[..end], &body[end + 2..]);
        let (name, props) = head.split_once(' ').unwrap_or((head, ""));
        let props = props
            .split(',')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').expect("key=value");
                (k.to_string(), unescape(v, true))
            })
            .collect();
        (name.to_string(), props, unescape(data, false))
    }

    #[test]
    fn data_and_properties_decode_to_what_was_escaped() {
        let text = HOSTILE.replace('\x1b', "");
        assert_eq!(unescape(&escape_data(&text), false), text);
        assert_eq!(unescape(&escape_property(&text), true), text);
        let property = escape_property(&text);
        assert!(!property.contains([':', ',', '\n', '\r']), "{property}");
        assert!(!escape_data(&text).contains(['\n', '\r']));
        assert_eq!(escape_data("50%"), "50%25");
        assert_eq!(escape_property("a:b,c"), "a%3Ab%2Cc");
    }

    #[test]
    fn control_characters_become_visible_escapes() {
        assert_eq!(escape_data("a\x1b[2Jb\u{202e}"), "a\\x1b[2Jb\\u{202e}");
        assert_eq!(escape_data("tab\there"), "tab\there");
    }

    fn hostile_report() -> Report {
        let mut r = hostile::report();
        r.gate.source = format!("gates/{HOSTILE}.yaml");
        for q in &mut r.requirements {
            for c in &mut q.checks {
                c.message = format!("{} {HOSTILE}", c.message);
            }
        }
        r.warnings.push(HOSTILE.to_string());
        r
    }

    fn render(r: &Report) -> String {
        render_to_string(Format::Github, r, RenderOptions::default()).expect("render")
    }

    #[test]
    fn every_line_is_one_of_our_commands_and_decodes_to_the_report_text() {
        let r = hostile_report();
        let out = render(&r);
        let lines: Vec<&str> = out.lines().collect();
        // Three failing checks, two warnings of the report, the notice.
        assert_eq!(lines.len(), 6, "{out}");
        assert!(!out.contains('\r'));
        for line in &lines {
            assert!(
                ["::error ", "::warning ", "::notice "]
                    .iter()
                    .any(|p| line.starts_with(p)),
                "a line that is not our command: {line:?}"
            );
            let (name, props, data) = parse(line);
            let keys: Vec<&str> = props.iter().map(|(k, _)| k.as_str()).collect();
            match name.as_str() {
                "error" => assert_eq!(keys, ["file", "line", "title"]),
                "warning" | "notice" => assert_eq!(keys, ["title"]),
                other => panic!("unexpected command {other}"),
            }
            assert!(!data.contains('\x1b'), "ESC reached the annotation: {data:?}");
        }
        let (_, props, data) = parse(lines[0]);
        // What the runner decodes is the report's text, with only the
        // non-line-breaking controls made visible.
        assert_eq!(props[0].1, inert(&r.gate.source), "the file decodes exactly");
        assert_eq!(props[1].1, "7");
        let fail = r
            .all_checks()
            .map(|(_, c)| c)
            .find(|c| c.status == Status::Fail)
            .expect("a failing check");
        assert!(props[2].1.starts_with("FAIL "), "{:?}", props[2].1);
        let message = inert(&fail.message);
        assert!(
            data.starts_with(&*message),
            "the message decodes exactly:\n{data:?}\n{message:?}"
        );
        // The server's CRLF and its forged commands are in the decoded text,
        // on lines of the annotation, not of the log.
        assert!(data.contains("\n::error::forged\r::add-mask::x\r\n::stop-commands::t,"));
        assert!(lines[0].contains("%0A::error::forged%0D::add-mask::x%0D%0A::stop-commands::t,"));
    }

    #[test]
    fn only_ten_of_each_level_are_annotated_and_the_notice_counts_the_rest() {
        let mut r = hostile::report();
        let template = r.requirements[0].checks[0].clone();
        r.requirements[0].checks = (0..13)
            .map(|i| {
                let mut c = template.clone();
                c.id = format!("check-{i:02}");
                c
            })
            .collect();
        r.blockers.clear();
        r.warnings = (0..12).map(|i| format!("warning {i}")).collect();
        let out = render(&r);
        assert_eq!(out.lines().filter(|l| l.starts_with("::error ")).count(), 10);
        assert_eq!(out.lines().filter(|l| l.starts_with("::warning ")).count(), 10);
        let notice = out.lines().last().expect("a notice");
        let (name, _, data) = parse(notice);
        assert_eq!(name, "notice");
        assert!(data.contains("3 more failing checks not annotated"), "{data}");
        assert!(data.contains("check-10, check-11, check-12"), "{data}");
        assert!(data.contains("2 more warnings not annotated"), "{data}");
        assert!(data.contains("score 12.5% (threshold 85.0%)"), "{data}");
    }

    #[test]
    fn the_built_in_gate_gets_no_file_property() {
        let mut r = hostile::report();
        r.gate.from_file = false;
        let out = render(&r);
        let (_, props, _) = parse(out.lines().next().expect("an error"));
        assert_eq!(props.len(), 1);
        assert_eq!(props[0].0, "title");
    }
}
