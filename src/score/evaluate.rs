//! The scoring stage: from a gate and its check results to an
//! [`Evaluation`] — each check's status after waivers, requirement statuses
//! and scores, the verdict, the blockers in order, the root causes with
//! their remediation, and the fix path. `--wait` and the report both read
//! it; nothing downstream goes back to the raw results.

use std::collections::BTreeMap;
use std::time::Duration;

use super::{CheckIn, ReqIn};
use crate::gate::{Gate, PassRule};
use crate::probe::Outcome;
use crate::runner::CheckResult;
use crate::status::{ReqStatus, Severity, Status};

/// Everything scoring decided about one run.
#[derive(Debug, Clone)]
pub struct Evaluation {
    pub rule: PassRule,
    /// 0–100, one decimal.
    pub score: f64,
    pub passed: bool,
    /// What a required requirement did not get checked (skipped checks);
    /// a run with any does not pass unless partial runs are allowed.
    pub not_checked: Vec<String>,
    /// Partial runs may pass (`--allow-partial`).
    pub allow_partial: bool,
    pub requirements: Vec<RequirementEval>,
    /// Required requirements that failed.
    pub failed_required: Vec<String>,
    /// Checks that keep the gate from passing, most severe first.
    pub blockers: Vec<BlockerEval>,
    /// Largest score impact first.
    pub root_causes: Vec<RootCauseEval>,
    pub fix_path: super::FixPath,
    /// Waivers that expired, and similar notes about the gate itself.
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct RequirementEval {
    pub id: String,
    pub name: String,
    pub weight: f64,
    pub required: bool,
    pub severity: Severity,
    /// `None` when every check was skipped.
    pub score: Option<f64>,
    pub status: ReqStatus,
    pub checks: Vec<CheckEval>,
}

#[derive(Debug, Clone)]
pub struct CheckEval {
    pub id: String,
    pub name: Option<String>,
    pub kind: &'static str,
    pub target: Option<String>,
    pub weight: f64,
    /// The status after waivers: what the check counts as.
    pub status: Status,
    /// What the probe found (its status is the probe's own, before waivers).
    pub outcome: Outcome,
    pub duration: Duration,
    /// Why it did not pass: its own cause, or for a blocked check the root
    /// causes it waits on.
    pub cause: Option<String>,
    pub waiver: Option<WaiverEval>,
    /// The line of the check's `id:` in the gate file (0 when unknown), for
    /// formats that point at the gate (GitHub annotations, Code Quality).
    pub line: u64,
}

#[derive(Debug, Clone)]
pub struct WaiverEval {
    pub reason: String,
    pub expires: String,
    pub expired: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BlockerEval {
    pub requirement: String,
    pub check: String,
    pub severity: Severity,
}

#[derive(Debug, Clone)]
pub struct RootCauseEval {
    pub cause: super::RootCause,
    /// The fix, from the lowest-ranked check that has the cause.
    pub remediation: Option<String>,
}

impl Evaluation {
    pub fn checks(&self) -> impl Iterator<Item = (&RequirementEval, &CheckEval)> {
        self.requirements
            .iter()
            .flat_map(|r| r.checks.iter().map(move |c| (r, c)))
    }

    pub fn check(&self, id: &str) -> Option<&CheckEval> {
        self.checks().map(|(_, c)| c).find(|c| c.id == id)
    }
}

/// How a run is judged beyond the gate's own pass rule.
#[derive(Debug, Clone, Copy)]
pub struct Judging<'a> {
    pub rule: PassRule,
    /// `YYYY-MM-DD`: decides which waivers still hold.
    pub today: &'a str,
    /// `--allow-partial`: a run that skipped required checks may pass.
    pub allow_partial: bool,
}

/// Scores a run. A check missing from `results` counts as `error`.
pub fn evaluate(gate: &Gate, results: Vec<CheckResult>, judging: Judging<'_>) -> Evaluation {
    let Judging {
        rule,
        today,
        allow_partial,
    } = judging;
    let mut by_id: BTreeMap<String, CheckResult> = results.into_iter().map(|r| (r.check_id.clone(), r)).collect();
    let mut warnings = Vec::new();
    let mut requirements: Vec<RequirementEval> = gate
        .requirements
        .iter()
        .map(|req| {
            let checks = req
                .checks
                .iter()
                .map(|c| {
                    let (outcome, duration) = match by_id.remove(&c.id) {
                        Some(r) => (r.outcome, r.duration),
                        None => (
                            Outcome::error("internal error: the check produced no result"),
                            Duration::ZERO,
                        ),
                    };
                    let mut status = outcome.status;
                    let waiver = c.waiver.as_ref().map(|w| {
                        let expired = w.expires.as_str() < today;
                        if !matches!(status, Status::Pass | Status::Skipped) {
                            if expired {
                                warnings.push(format!(
                                    "{}: waiver expired on {} and no longer applies: {}",
                                    c.id, w.expires, w.reason
                                ));
                            } else {
                                // A waiver covers a blocked check too: the author
                                // accepted that this check may not pass.
                                status = Status::Waived;
                            }
                        }
                        WaiverEval {
                            reason: w.reason.clone(),
                            expires: w.expires.clone(),
                            expired,
                        }
                    });
                    CheckEval {
                        id: c.id.clone(),
                        name: c.name.clone(),
                        kind: c.spec.kind(),
                        target: c.target.clone(),
                        weight: c.weight,
                        status,
                        outcome,
                        duration,
                        cause: None,
                        waiver,
                        line: c.loc.line,
                    }
                })
                .collect();
            RequirementEval {
                id: req.id.clone(),
                name: req.name.clone(),
                weight: req.weight,
                required: req.required,
                severity: req.severity,
                score: None,
                status: ReqStatus::Skipped,
                checks,
            }
        })
        .collect();

    let needs: BTreeMap<&str, &[String]> = gate
        .checks()
        .map(|(_, c)| (c.id.as_str(), c.needs.as_slice()))
        .collect();
    let reqs_in = score_input(&requirements, &needs);
    let score = super::gate_score(&reqs_in);
    let not_checked = not_checked(&requirements);
    // Fail closed: what was not checked cannot be said to pass.
    let passed = super::passes(&reqs_in, rule) && (not_checked.is_empty() || allow_partial);
    let sets = super::root_cause::cause_sets(&reqs_in);
    let causes = super::root_cause::root_causes_with(&reqs_in, &sets);
    let fix = super::fix_path::fix_path_with(&reqs_in, rule, &causes, &sets);
    let failed_required = super::failed_required(&reqs_in).iter().map(|r| r.id.clone()).collect();

    // Which root causes each check waits on, looked up once per blocked check.
    let mut by_check: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for rc in &causes {
        for c in &rc.checks {
            by_check.entry(c.as_str()).or_default().push(rc.summary.as_str());
        }
    }
    let mut blockers = Vec::new();
    for (req, rin) in requirements.iter_mut().zip(&reqs_in) {
        req.score = super::requirement_score(&rin.checks);
        req.status = super::requirement_status(&rin.checks);
        let counts_toward_verdict = req.required || req.weight > 0.0;
        for c in &mut req.checks {
            c.cause = match c.status {
                Status::Blocked => Some(blocked_cause(&c.outcome, &by_check, &c.id)),
                Status::Pass | Status::Skipped => None,
                _ => c.outcome.cause.as_ref().map(|k| k.summary.clone()),
            };
            if counts_toward_verdict && c.status.is_failure() {
                blockers.push((
                    req.weight,
                    BlockerEval {
                        requirement: req.id.clone(),
                        check: c.id.clone(),
                        severity: if c.outcome.security {
                            Severity::Critical
                        } else {
                            req.severity
                        },
                    },
                ));
            }
        }
    }
    // Stable sort keeps gate order within equal severity and weight.
    blockers.sort_by(|a, b| a.1.severity.cmp(&b.1.severity).then(b.0.total_cmp(&a.0)));

    let root_causes = causes
        .into_iter()
        .map(|rc| {
            let remediation = remediation_for(&requirements, &rc.key);
            RootCauseEval { cause: rc, remediation }
        })
        .collect();

    Evaluation {
        rule,
        score,
        passed,
        not_checked,
        allow_partial,
        requirements,
        failed_required,
        blockers: blockers.into_iter().map(|(_, b)| b).collect(),
        root_causes,
        fix_path: fix,
        warnings,
    }
}

/// Required requirements, or checks of them, that were skipped.
fn not_checked(reqs: &[RequirementEval]) -> Vec<String> {
    let mut out = Vec::new();
    for r in reqs.iter().filter(|r| r.required) {
        let skipped: Vec<&str> = r
            .checks
            .iter()
            .filter(|c| c.status == Status::Skipped)
            .map(|c| c.id.as_str())
            .collect();
        if skipped.is_empty() {
            continue;
        }
        if skipped.len() == r.checks.len() {
            out.push(format!("required requirement `{}` (every check skipped)", r.id));
        } else {
            let list: Vec<String> = skipped.iter().map(|c| format!("`{c}`")).collect();
            out.push(format!("{} of required requirement `{}`", list.join(", "), r.id));
        }
    }
    out
}

/// The requirements as the pure scoring functions see them.
fn score_input(reqs: &[RequirementEval], needs: &BTreeMap<&str, &[String]>) -> Vec<ReqIn> {
    reqs.iter()
        .map(|r| ReqIn {
            id: r.id.clone(),
            weight: r.weight,
            required: r.required,
            severity: r.severity,
            checks: r
                .checks
                .iter()
                .map(|c| {
                    let cause = c.outcome.cause.as_ref();
                    CheckIn {
                        id: c.id.clone(),
                        weight: c.weight,
                        status: c.status,
                        cause_key: cause.map(|k| k.key.clone()),
                        cause_summary: cause.map(|k| k.summary.clone()),
                        cause_rank: cause.map(|k| k.rank).unwrap_or(1),
                        needs: needs.get(c.id.as_str()).map(|n| n.to_vec()).unwrap_or_default(),
                        security: c.outcome.security,
                    }
                })
                .collect(),
        })
        .collect()
}

/// The remediation of the most fundamental check with this cause.
fn remediation_for(reqs: &[RequirementEval], key: &str) -> Option<String> {
    reqs.iter()
        .flat_map(|r| r.checks.iter())
        .filter_map(|c| c.outcome.cause.as_ref().filter(|k| k.key == key).map(|k| (k.rank, c)))
        .filter(|(_, c)| c.outcome.remediation.is_some())
        .min_by_key(|(rank, _)| *rank)
        .and_then(|(_, c)| c.outcome.remediation.clone())
}

/// For a blocked check, the summary of the root cause(s) it waits on.
fn blocked_cause(o: &Outcome, by_check: &BTreeMap<&str, Vec<&str>>, id: &str) -> String {
    let causes = by_check.get(id).cloned().unwrap_or_default();
    if causes.is_empty() {
        o.message.clone()
    } else {
        causes.join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gate::testing::loads;

    const RULE: PassRule = PassRule {
        min_score: 85.0,
        required_must_pass: true,
    };

    /// A gate of two required requirements: `up` (check `a`) and `down`
    /// (check `b`, which needs `a`), with `extra` appended to `b`.
    fn gate(b_extra: &str) -> Gate {
        loads(&format!(
            "schema_version: 1\nid: T\nname: t\ntargets: {{t: \"http://127.0.0.1:1\"}}\nrequirements:\n  - id: up\n    name: up\n    weight: 10\n    required: true\n    checks:\n      - {{id: a, kind: http, target: t}}\n  - id: down\n    name: down\n    weight: 90\n    required: true\n    checks:\n      - {{id: b, kind: http, target: t, needs: [a]{b_extra}}}\n"
        ))
    }

    fn judging(rule: PassRule) -> Judging<'static> {
        Judging {
            rule,
            today: "2026-01-01",
            allow_partial: false,
        }
    }

    fn result(id: &str, status: Status) -> CheckResult {
        let outcome = match status {
            Status::Fail | Status::Error => {
                Outcome::new(status, "x").cause(format!("check:{id}"), format!("{id} broke"))
            }
            _ => Outcome::new(status, "x"),
        };
        CheckResult {
            check_id: id.into(),
            outcome,
            duration: Duration::ZERO,
            requests: 0,
        }
    }

    #[test]
    fn a_requirement_failing_only_through_blocked_checks_fails_and_blocks_the_gate() {
        let lenient = PassRule { min_score: 0.0, ..RULE };
        let e = evaluate(
            &gate(""),
            vec![result("a", Status::Pass), result("b", Status::Blocked)],
            judging(lenient),
        );
        assert_eq!(e.requirements[1].status, ReqStatus::Fail);
        assert_eq!(e.failed_required, vec!["down".to_string()]);
        assert!(!e.passed, "score 10 ≥ 0, but a required requirement failed");
        assert_eq!(
            e.blockers,
            vec![BlockerEval {
                requirement: "down".into(),
                check: "b".into(),
                severity: Severity::Medium
            }]
        );
    }

    #[test]
    fn a_waiver_covers_a_blocked_check() {
        let g = gate(", waiver: {reason: accepted, expires: 2099-01-01}");
        let e = evaluate(
            &g,
            vec![result("a", Status::Fail), result("b", Status::Blocked)],
            judging(RULE),
        );
        let b = e.check("b").map(|c| c.status);
        assert_eq!(b, Some(Status::Waived));
        assert_eq!(e.requirements[1].status, ReqStatus::Waived);
        assert!(!e.failed_required.contains(&"down".to_string()));
        // `up` still fails on its own: the waiver on `b` does not cover `a`.
        assert_eq!(e.failed_required, vec!["up".to_string()]);
    }

    #[test]
    fn an_expired_waiver_is_void_and_says_so() {
        let g = gate(", waiver: {reason: accepted, expires: 2020-01-01}");
        let e = evaluate(
            &g,
            vec![result("a", Status::Pass), result("b", Status::Fail)],
            judging(RULE),
        );
        assert_eq!(e.check("b").map(|c| c.status), Some(Status::Fail));
        assert!(e.check("b").and_then(|c| c.waiver.as_ref()).is_some_and(|w| w.expired));
        assert!(
            e.warnings
                .iter()
                .any(|w| w.starts_with("b: waiver expired on 2020-01-01")),
            "{:?}",
            e.warnings
        );
    }

    #[test]
    fn min_score_0_with_everything_skipped_does_not_pass() {
        let zero = PassRule { min_score: 0.0, ..RULE };
        let e = evaluate(
            &gate(""),
            vec![result("a", Status::Skipped), result("b", Status::Skipped)],
            judging(zero),
        );
        assert_eq!(e.score, 0.0);
        assert!(!e.passed, "nothing was evaluated, so nothing passed");
        assert!(
            e.requirements
                .iter()
                .all(|r| r.status == ReqStatus::Skipped && r.score.is_none())
        );
    }

    #[test]
    fn a_blocked_check_is_explained_by_the_root_cause_it_waits_on() {
        let e = evaluate(
            &gate(""),
            vec![result("a", Status::Error), result("b", Status::Blocked)],
            judging(RULE),
        );
        assert_eq!(e.check("b").and_then(|c| c.cause.clone()).as_deref(), Some("a broke"));
        assert_eq!(e.root_causes.len(), 1);
        assert_eq!(e.root_causes[0].cause.checks, vec!["a", "b"]);
        assert_eq!(e.root_causes[0].cause.score_impact, 100.0);
    }

    #[test]
    fn a_run_that_skipped_a_required_check_is_partial_and_does_not_pass_unless_allowed() {
        let zero = PassRule { min_score: 0.0, ..RULE };
        let results = || vec![result("a", Status::Pass), result("b", Status::Skipped)];
        let e = evaluate(&gate(""), results(), judging(zero));
        assert_eq!(e.score, 100.0);
        assert_eq!(
            e.not_checked,
            vec!["required requirement `down` (every check skipped)".to_string()]
        );
        assert!(!e.passed, "a skipped required requirement is not a pass");
        let allowed = Judging {
            allow_partial: true,
            ..judging(zero)
        };
        let e = evaluate(&gate(""), results(), allowed);
        assert!(e.passed);
        assert_eq!(e.not_checked.len(), 1, "still says what was not checked");
    }

    #[test]
    fn a_missing_result_is_an_error_not_a_pass() {
        let e = evaluate(&gate(""), vec![result("a", Status::Pass)], judging(RULE));
        assert_eq!(e.check("b").map(|c| c.status), Some(Status::Error));
        assert!(!e.passed);
    }
}
