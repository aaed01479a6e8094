//! JUnit XML for CI test tabs: one test suite per requirement, one test case
//! per check. `fail` is a failure, `error` and `blocked` are errors, `skipped`
//! and `waived` are skipped; the message and remediation travel with them.

use std::io;
use std::time::Duration;

use quick_junit::{NonSuccessKind, Property, Report as JReport, TestCase, TestCaseStatus, TestSuite};

use super::model::CheckReport;
use super::{RenderOptions, Renderer, Report};
use crate::status::Status;

pub struct Junit;

impl Renderer for Junit {
    fn render(&self, r: &Report, out: &mut dyn io::Write, _opts: RenderOptions) -> io::Result<()> {
        let mut report = JReport::new(format!("medianest-gate {}", r.gate.id));
        report.set_time(Duration::from_millis(r.duration_ms));
        for q in &r.requirements {
            let mut suite = TestSuite::new(format!("{}: {}", q.id, q.name));
            suite.add_property(Property::new("weight", super::words::weight(q.weight)));
            suite.add_property(Property::new("required", q.required.to_string()));
            suite.add_property(Property::new("score", format!("{:.1}", q.score)));
            for c in &q.checks {
                suite.add_test_case(case(&q.id, c));
            }
            report.add_test_suite(suite);
        }
        report.serialize(&mut *out).map_err(io::Error::other)?;
        writeln!(out)
    }
}

fn case(requirement: &str, c: &CheckReport) -> TestCase {
    let mut status = match c.status {
        Status::Pass => TestCaseStatus::success(),
        Status::Fail => TestCaseStatus::non_success(NonSuccessKind::Failure),
        Status::Error | Status::Blocked => TestCaseStatus::non_success(NonSuccessKind::Error),
        Status::Skipped | Status::Waived => TestCaseStatus::skipped(),
    };
    if c.status != Status::Pass {
        let mut message = c.message.clone();
        if let Some(w) = &c.waiver
            && c.status == Status::Waived
        {
            message = format!("waived until {}: {} ({})", w.expires, w.reason, c.message);
        }
        status.set_message(message);
        status.set_type(c.status.as_str());
        let mut details = Vec::new();
        if let Some(cause) = &c.cause {
            details.push(format!("cause: {cause}"));
        }
        if let Some(fix) = &c.remediation {
            details.push(format!("remediation: {fix}"));
        }
        if let Some(cmd) = &c.reproduce {
            details.push(format!("reproduce: {cmd}"));
        }
        if !c.evidence.is_empty() {
            details.push(format!(
                "evidence: {}",
                serde_json::to_string(&c.evidence).unwrap_or_default()
            ));
        }
        if !details.is_empty() {
            status.set_description(details.join("\n"));
        }
    }
    let mut tc = TestCase::new(c.id.clone(), status);
    tc.set_classname(format!("gate.{requirement}"));
    tc.set_time(Duration::from_millis(c.duration_ms));
    if c.status == Status::Pass {
        tc.set_system_out(c.message.clone());
    }
    tc
}
