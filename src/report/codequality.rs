//! GitLab Code Quality JSON (`artifacts:reports:codequality`): an array with
//! one issue per check that did not pass (fail, error, blocked), pointing at
//! the check's line in the gate file; a passing gate is `[]`.
//!
//! GitLab matches issues across pipelines by `fingerprint`, so it is a hash
//! of what identifies the finding (gate id, check id, and whether it failed,
//! could not be evaluated, or was blocked), never of the message, which
//! holds durations, ports and server text. The hash is FNV-1a 128, written
//! here, because std's `DefaultHasher` is randomly keyed and not stable
//! across Rust versions.

use std::io;

use serde::Serialize;

use super::findings::{self, Finding, Weight};
use super::{RenderOptions, Renderer, Report};
use crate::status::Severity;

pub struct CodeQuality;

/// `location.path` for the built-in Gate G, which is no file of the
/// user's repository.
const BUILTIN_PATH: &str = "gate-g.yaml";

#[derive(Serialize)]
struct Issue<'a> {
    description: String,
    check_name: String,
    fingerprint: String,
    severity: &'static str,
    location: Location<'a>,
}

#[derive(Serialize)]
struct Location<'a> {
    path: &'a str,
    lines: Lines,
}

#[derive(Serialize)]
struct Lines {
    begin: u64,
}

impl Renderer for CodeQuality {
    fn render(&self, r: &Report, out: &mut dyn io::Write, _opts: RenderOptions) -> io::Result<()> {
        let path = if r.gate.from_file {
            r.gate.source.as_str()
        } else {
            BUILTIN_PATH
        };
        let issues: Vec<Issue<'_>> = findings::ordered(r).iter().map(|f| issue(r, f, path)).collect();
        serde_json::to_writer_pretty(&mut *out, &issues)?;
        writeln!(out)
    }
}

fn issue<'a>(r: &Report, f: &Finding<'_>, path: &'a str) -> Issue<'a> {
    let c = f.check;
    let status = c.status.as_str();
    let mut description = format!("{} {status}: {}", c.id, c.message);
    if let Some(cause) = c.cause.as_deref().filter(|cause| *cause != c.message) {
        description.push_str(&format!(" (cause: {cause})"));
    }
    Issue {
        // One line of inert text: GitLab shows it in the merge request.
        description: crate::text::escape(&description).into_owned(),
        check_name: format!("{}/{}", f.requirement.id, c.id),
        fingerprint: fingerprint(&r.gate.id, &c.id, status),
        severity: severity(f),
        location: Location {
            path,
            lines: Lines {
                begin: c.line.unwrap_or(1),
            },
        },
    }
}

/// Required requirements map critical..low to blocker..minor; the others,
/// which cannot block the gate on their own, to major..info.
fn severity(f: &Finding<'_>) -> &'static str {
    match (f.weight == Weight::Blocking, f.severity) {
        (true, Severity::Critical) => "blocker",
        (true, Severity::High) => "critical",
        (true, Severity::Medium) => "major",
        (true, Severity::Low) => "minor",
        (false, Severity::Critical) => "major",
        (false, Severity::High) => "minor",
        (false, Severity::Medium | Severity::Low) => "info",
    }
}

/// 32 hex digits of FNV-1a 128 over the parts, each length-prefixed so
/// that `("ab", "c")` and `("a", "bc")` differ.
fn fingerprint(gate: &str, check: &str, finding: &str) -> String {
    const OFFSET: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    const PRIME: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013b;
    let mut h = OFFSET;
    for part in ["medianest-gate", gate, check, finding] {
        for b in (part.len() as u64).to_le_bytes().iter().chain(part.as_bytes()) {
            h ^= u128::from(*b);
            h = h.wrapping_mul(PRIME);
        }
    }
    format!("{h:032x}")
}

#[cfg(test)]
mod tests {
    use super::super::table::hostile;
    use super::*;
    use crate::report::{Format, render_to_string};
    use crate::status::Status;

    fn render(r: &Report) -> serde_json::Value {
        let text = render_to_string(Format::Codequality, r, RenderOptions::default()).expect("render");
        serde_json::from_str(&text).expect("valid JSON")
    }

    #[test]
    fn fnv_1a_128_matches_its_published_vectors() {
        // Without our length prefixes, to check the arithmetic against the
        // reference values for "" and "a".
        let plain = |s: &str| {
            let mut h: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
            for b in s.bytes() {
                h ^= u128::from(b);
                h = h.wrapping_mul(0x0000_0000_0100_0000_0000_0000_0000_013b);
            }
            format!("{h:032x}")
        };
        assert_eq!(plain(""), "6c62272e07bb014262b821756295c58d");
        assert_eq!(plain("a"), "d228cb696f1a8caf78912b704e4a8964");
    }

    #[test]
    fn fingerprints_depend_on_gate_check_and_finding_only() {
        let f = fingerprint("G", "metrics-auth", "fail");
        assert_eq!(f.len(), 32);
        assert_eq!(f, fingerprint("G", "metrics-auth", "fail"));
        assert_ne!(f, fingerprint("G", "metrics-auth", "error"));
        assert_ne!(f, fingerprint("H", "metrics-auth", "fail"));
        assert_ne!(fingerprint("ab", "c", "fail"), fingerprint("a", "bc", "fail"));
    }

    #[test]
    fn one_issue_per_non_passing_check_with_every_required_field() {
        let mut r = hostile::report();
        let issues = render(&r);
        let issues = issues.as_array().expect("an array");
        assert_eq!(issues.len(), 3, "fail, error, blocked: {issues:#?}");
        for i in issues {
            let mut keys: Vec<&str> = i.as_object().expect("an object").keys().map(String::as_str).collect();
            keys.sort_unstable();
            assert_eq!(
                keys,
                ["check_name", "description", "fingerprint", "location", "severity"]
            );
            assert!(["info", "minor", "major", "critical", "blocker"].contains(&i["severity"].as_str().unwrap_or("")));
            assert_eq!(i["location"]["path"], r.gate.source.as_str());
            assert_eq!(i["location"]["lines"]["begin"], 7);
            let d = i["description"].as_str().expect("text");
            assert!(!d.contains(|c: char| crate::text::is_unsafe(c)), "{d:?}");
        }
        // The security failure of a required requirement blocks.
        assert_eq!(issues[0]["severity"], "blocker");
        assert_eq!(issues[1]["severity"], "critical");

        // A message that changes (durations, ports) keeps the fingerprint.
        let before: Vec<String> = issues.iter().map(|i| i["fingerprint"].to_string()).collect();
        for q in &mut r.requirements {
            for c in &mut q.checks {
                c.message = format!("took {} ms on port 41234", c.duration_ms + 1);
            }
        }
        r.gate.from_file = false;
        let again = render(&r);
        let after: Vec<String> = again
            .as_array()
            .expect("an array")
            .iter()
            .map(|i| i["fingerprint"].to_string())
            .collect();
        assert_eq!(before, after);
        assert_eq!(again[0]["location"]["path"], BUILTIN_PATH);
    }

    #[test]
    fn a_passing_gate_is_an_empty_array() {
        let mut r = hostile::report();
        for q in &mut r.requirements {
            for c in &mut q.checks {
                c.status = Status::Pass;
            }
        }
        r.blockers.clear();
        assert_eq!(render(&r), serde_json::json!([]));
    }
}
