//! JUnit XML for CI test tabs: one test suite per requirement, one test case
//! per check. `fail` is a failure, `error` and `blocked` are errors, `skipped`
//! and `waived` are skipped; the message and remediation travel with them.
//!
//! quick-junit escapes `<`, `&` and quotes, and its `XmlString` strips ANSI
//! sequences and the C0 controls XML 1.0 forbids, but it also strips tabs
//! and the text of an escape sequence (`\x1b]0;pwned\x07` loses `pwned`).
//! So text is escaped here first ([`crate::text::escape`], one line per
//! field), XML's noncharacters U+FFFE/U+FFFF too, and a reproduce
//! command's tabs travel past `XmlString` as a private-use stand-in that
//! becomes `&#9;` in the finished document: a character reference, unlike
//! a raw tab, also survives attribute-value normalisation.

use std::borrow::Cow;
use std::io;
use std::time::Duration;

use quick_junit::{NonSuccessKind, Property, Report as JReport, TestCase, TestCaseStatus, TestSuite};

use super::model::CheckReport;
use super::{RenderOptions, Renderer, Report};
use crate::status::Status;

pub struct Junit;

impl Renderer for Junit {
    fn render(&self, r: &Report, out: &mut dyn io::Write, _opts: RenderOptions) -> io::Result<()> {
        let partial = if r.partial { " (partial run)" } else { "" };
        let mut report = JReport::new(format!("medianest-gate {}{partial}", x(&r.gate.id)));
        report.set_time(Duration::from_millis(r.duration_ms));
        for q in &r.requirements {
            let mut suite = TestSuite::new(format!("{}: {}", x(&q.id), x(&q.name)));
            suite.add_property(Property::new("weight", super::words::weight(q.weight)));
            suite.add_property(Property::new("required", q.required.to_string()));
            suite.add_property(Property::new("score", format!("{:.1}", q.score)));
            if r.partial {
                suite.add_property(Property::new("partial", "true"));
            }
            if let Some(w) = &r.warm_up {
                suite.add_property(Property::new("warm_up", x(&w.summary)));
            }
            if let Some(sim) = &r.simulated {
                suite.add_property(Property::new("simulated", x(sim)));
            }
            for c in &q.checks {
                suite.add_test_case(case(&q.id, c));
            }
            report.add_test_suite(suite);
        }
        let mut xml = Vec::new();
        report.serialize(&mut xml).map_err(io::Error::other)?;
        let xml = String::from_utf8(xml).map_err(io::Error::other)?;
        out.write_all(xml.replace(TAB, "&#9;").as_bytes())?;
        writeln!(out)
    }
}

/// Stands in for a tab until the document is serialised; input holding it
/// is escaped, so every one in the output was a tab.
const TAB: char = '\u{e009}';

fn xml_unsafe(c: char) -> bool {
    crate::text::is_unsafe(c) || matches!(c, '\u{fffe}' | '\u{ffff}' | TAB)
}

/// One line of text for an attribute or a line of a description.
fn x(s: &str) -> Cow<'_, str> {
    crate::text::escape_with(s, xml_unsafe)
}

/// A command: like [`x`], but its tabs survive.
fn x_command(s: &str) -> String {
    crate::text::escape_with(s, |c| c != '\t' && xml_unsafe(c)).replace('\t', &TAB.to_string())
}

fn case(requirement: &str, c: &CheckReport) -> TestCase {
    let mut status = match c.status {
        Status::Pass => TestCaseStatus::success(),
        Status::Fail => TestCaseStatus::non_success(NonSuccessKind::Failure),
        Status::Error | Status::Blocked => TestCaseStatus::non_success(NonSuccessKind::Error),
        Status::Skipped | Status::Waived => TestCaseStatus::skipped(),
    };
    if c.status != Status::Pass {
        let mut message = x(&c.message).into_owned();
        if let Some(w) = &c.waiver
            && c.status == Status::Waived
        {
            message = format!("waived until {}: {} ({message})", x(&w.expires), x(&w.reason));
        }
        status.set_message(message);
        status.set_type(c.status.as_str());
        let mut details = Vec::new();
        if let Some(cause) = &c.cause {
            details.push(format!("cause: {}", x(cause)));
        }
        if let Some(fix) = &c.remediation {
            details.push(format!("remediation: {}", x(fix)));
        }
        if let Some(cmd) = &c.reproduce {
            details.push(format!("reproduce: {}", x_command(cmd)));
        }
        if !c.evidence.is_empty() {
            let json = serde_json::to_string(&c.evidence).unwrap_or_default();
            details.push(format!("evidence: {}", x(&super::json::inert_json(&json))));
        }
        if !details.is_empty() {
            status.set_description(details.join("\n"));
        }
    }
    let mut tc = TestCase::new(x(&c.id), status);
    tc.set_classname(format!("gate.{}", x(requirement)));
    tc.set_time(Duration::from_millis(c.duration_ms));
    if c.status == Status::Pass {
        tc.set_system_out(x(&c.message));
    }
    tc
}

#[cfg(test)]
mod tests {
    use super::super::table::hostile::{self, EVIL, assert_inert, evil_command};
    use crate::report::{Format, RenderOptions, render_to_string};
    use crate::text::escape;

    fn render() -> String {
        render_to_string(Format::Junit, &hostile::report(), RenderOptions::default()).expect("render JUnit")
    }

    #[test]
    fn hostile_text_still_makes_well_formed_xml() {
        let xml = render();
        assert_inert("junit", &xml, false);
        let doc = roxmltree::Document::parse(&xml).unwrap_or_else(|e| panic!("not XML 1.0: {e}\n{xml}"));
        let cases: Vec<_> = doc.descendants().filter(|n| n.has_tag_name("testcase")).collect();
        assert_eq!(cases.len(), 6);
        for case in &cases {
            let name = case.attribute("name").unwrap_or_default();
            assert!(name.ends_with(&escape_xml_noncharacters(&escape(EVIL))), "{name}");
        }
    }

    #[test]
    fn escape_sequences_are_shown_not_stripped() {
        let xml = render();
        let doc = roxmltree::Document::parse(&xml).expect("XML");
        let failure = doc
            .descendants()
            .find(|n| n.has_tag_name("failure"))
            .expect("the failing check");
        let message = failure.attribute("message").unwrap_or_default();
        assert_eq!(
            message,
            format!("fail message: {}", escape_xml_noncharacters(&escape(EVIL)))
        );
        assert!(
            message.contains(r"\x1b]0;pwned\x07"),
            "quick-junit alone would drop `pwned`: {message}"
        );
        let waived = doc.descendants().find(|n| {
            n.has_tag_name("skipped") && n.attribute("message").is_some_and(|m| m.starts_with("waived until"))
        });
        assert!(waived.is_some(), "the waiver's reason travels with the skipped case");
    }

    #[test]
    fn the_reproduce_commands_tab_survives_as_a_character_reference() {
        let xml = render();
        assert!(xml.contains("&#9;"), "{xml}");
        let doc = roxmltree::Document::parse(&xml).expect("XML");
        let failure = doc.descendants().find(|n| n.has_tag_name("failure")).expect("failure");
        let description = failure.text().unwrap_or_default();
        let reproduce = description
            .lines()
            .find_map(|l| l.strip_prefix("reproduce: "))
            .expect("a reproduce line");
        let want = escape_xml_noncharacters(&crate::text::escape_keep_tabs(&evil_command()));
        assert_eq!(reproduce, want);
        assert!(reproduce.contains("'{{.Names}}\t{{.Status}}'"));
        // The description's own lines, and only those: no server newline made one.
        let starts: Vec<&str> = description
            .lines()
            .map(|l| l.split(':').next().unwrap_or_default())
            .collect();
        assert_eq!(starts, ["cause", "remediation", "reproduce", "evidence"]);
    }

    /// What [`super::x`] adds to [`escape`]: XML's noncharacters.
    fn escape_xml_noncharacters(s: &str) -> String {
        s.replace('\u{fffe}', r"\u{fffe}").replace('\u{ffff}', r"\u{ffff}")
    }
}
