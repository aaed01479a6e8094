//! JUnit XML for CI test tabs: one test suite per requirement, one test case
//! per check. A check that keeps the gate from passing is a `<failure>`
//! (`fail`) or an `<error>` (`error`, `blocked`); `skipped` and `waived` are
//! `<skipped message="…"/>`, counted in each suite's `skipped=`.
//!
//! A check that did not pass but does not block the gate is not a failure:
//! CI would otherwise mark a passing gate red. That is every finding of an
//! advisory requirement (weight 0, not required), and every finding of a
//! gate that passed anyway. Its test case passes and carries the finding in
//! `<system-out>`, first line `does not block the gate (…): STATUS: message`,
//! and its suite counts them in the `advisory_findings` property (Jenkins'
//! `junit-10.xsd` allows no properties on a test case).
//!
//! quick-junit escapes `<`, `&` and quotes, and its `XmlString` strips ANSI
//! sequences and the C0 controls XML 1.0 forbids, but it also strips tabs
//! and the text of an escape sequence (`\x1b]0;pwned\x07` loses `pwned`).
//! So text is escaped here first ([`crate::text::escape`], one line per
//! field), XML's noncharacters U+FFFE/U+FFFF too, and a reproduce
//! command's tabs travel past `XmlString` as a private-use stand-in that
//! becomes `&#9;` in the finished document: a character reference, unlike
//! a raw tab, also survives attribute-value normalisation.
//!
//! quick-junit also writes the suites' skip count as `disabled=`, which
//! `junit-10.xsd` does not know; it is renamed `skipped=` (see [`Junit::render`]).

use std::borrow::Cow;
use std::io;
use std::time::Duration;

use quick_junit::{NonSuccessKind, Property, Report as JReport, TestCase, TestCaseStatus, TestSuite};

use super::model::{CheckReport, RequirementReport};
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
            let leniency = not_blocking(r, q);
            if leniency == Some(ADVISORY) {
                suite.add_property(Property::new("advisory", "true"));
            }
            let findings = q.checks.iter().filter(|c| c.status.is_failure()).count();
            if leniency.is_some() && findings > 0 {
                suite.add_property(Property::new("advisory_findings", findings.to_string()));
            }
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
                suite.add_test_case(case(&q.id, c, leniency));
            }
            report.add_test_suite(suite);
        }
        let mut xml = Vec::new();
        report.serialize(&mut xml).map_err(io::Error::other)?;
        let xml = String::from_utf8(xml).map_err(io::Error::other)?;
        // Every `"` inside an attribute value or text is written `&quot;`,
        // so ` disabled="` can only be the attribute itself, which quick-junit
        // writes on `<testsuite>` alone, holding the skipped count.
        let xml = xml.replace(" disabled=\"", " skipped=\"");
        out.write_all(xml.replace(TAB, "&#9;").as_bytes())?;
        writeln!(out)
    }
}

/// The reason findings of an advisory requirement do not block.
const ADVISORY: &str = "advisory, weight 0";

/// Why the checks of `q` that did not pass still do not block the gate,
/// or `None` when they do.
fn not_blocking(r: &Report, q: &RequirementReport) -> Option<&'static str> {
    if q.weight == 0.0 && !q.required {
        Some(ADVISORY)
    } else if r.passed {
        Some("the gate passed")
    } else {
        None
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

/// The lines that explain a check that did not pass: cause, remediation,
/// reproduce command and evidence, each on its own line.
fn details(c: &CheckReport) -> Vec<String> {
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
    details
}

fn case(requirement: &str, c: &CheckReport, leniency: Option<&str>) -> TestCase {
    let lenient = leniency.filter(|_| c.status.is_failure());
    let mut status = match (c.status, lenient) {
        (Status::Pass, _) | (_, Some(_)) => TestCaseStatus::success(),
        (Status::Fail, None) => TestCaseStatus::non_success(NonSuccessKind::Failure),
        (Status::Error | Status::Blocked, None) => TestCaseStatus::non_success(NonSuccessKind::Error),
        (Status::Skipped | Status::Waived, None) => TestCaseStatus::skipped(),
    };
    let mut system_out = None;
    if let Some(why) = lenient {
        let mut lines = vec![format!(
            "does not block the gate ({why}): {}: {}",
            super::words::status(c.status),
            x(&c.message)
        )];
        lines.extend(details(c));
        system_out = Some(lines.join("\n"));
    } else if c.status == Status::Pass {
        system_out = Some(x(&c.message).into_owned());
    } else {
        let mut message = x(&c.message).into_owned();
        if let Some(w) = &c.waiver
            && c.status == Status::Waived
        {
            message = format!("waived until {}: {} ({message})", x(&w.expires), x(&w.reason));
        }
        status.set_message(message);
        status.set_type(c.status.as_str());
        let details = details(c);
        if !details.is_empty() {
            status.set_description(details.join("\n"));
        }
    }
    let mut tc = TestCase::new(x(&c.id), status);
    tc.set_classname(format!("gate.{}", x(requirement)));
    tc.set_time(Duration::from_millis(c.duration_ms));
    if let Some(text) = system_out {
        tc.set_system_out(text);
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

    #[test]
    fn suites_count_skipped_checks_in_skipped_not_disabled() {
        let xml = render();
        assert!(!xml.contains("disabled="), "{xml}");
        let doc = roxmltree::Document::parse(&xml).expect("XML");
        let suite = doc
            .descendants()
            .find(|n| n.has_tag_name("testsuite"))
            .expect("a suite");
        // The skipped check and the waived one.
        assert_eq!(suite.attribute("skipped"), Some("2"));
        assert_eq!(suite.attribute("failures"), Some("1"));
        assert_eq!(suite.attribute("errors"), Some("2"));
    }

    #[test]
    fn findings_that_do_not_block_pass_with_the_finding_in_system_out() {
        for (advisory, gate_passed, why) in [(true, false, "advisory, weight 0"), (false, true, "the gate passed")] {
            let mut report = hostile::report();
            report.passed = gate_passed;
            if advisory {
                report.requirements[0].weight = 0.0;
                report.requirements[0].required = false;
            }
            let xml = render_to_string(Format::Junit, &report, RenderOptions::default()).expect("render");
            let doc = roxmltree::Document::parse(&xml).expect("XML");
            for tag in ["failure", "error"] {
                assert!(
                    !doc.descendants().any(|n| n.has_tag_name(tag)),
                    "{why}: a <{tag}>: {xml}"
                );
            }
            let suite = doc
                .descendants()
                .find(|n| n.has_tag_name("testsuite"))
                .expect("a suite");
            assert_eq!(suite.attribute("failures"), Some("0"));
            assert_eq!(suite.attribute("errors"), Some("0"));
            assert_eq!(suite.attribute("skipped"), Some("2"), "skipped and waived stay skipped");
            let findings = doc
                .descendants()
                .filter(|n| n.has_tag_name("system-out"))
                .filter_map(|n| n.text())
                .filter(|t| t.starts_with(&format!("does not block the gate ({why}): ")))
                .count();
            assert_eq!(findings, 3, "fail, error and blocked: {xml}");
            let property = |name: &str| {
                doc.descendants()
                    .find(|n| n.has_tag_name("property") && n.attribute("name") == Some(name))
                    .and_then(|n| n.attribute("value"))
            };
            assert_eq!(property("advisory_findings"), Some("3"));
            assert_eq!(property("advisory"), advisory.then_some("true"));
        }
    }

    /// What [`super::x`] adds to [`escape`]: XML's noncharacters.
    fn escape_xml_noncharacters(s: &str) -> String {
        s.replace('\u{fffe}', r"\u{fffe}").replace('\u{ffff}', r"\u{ffff}")
    }
}
