//! Scoring, verdict, root causes and the fix path, as pure functions over a
//! small input model so every rule of DESIGN §5 can be unit-tested alone;
//! [`evaluate`] is the stage that applies them to a run.
//!
//! - requirement score = passed check weight / evaluated check weight;
//! - gate score = Σ weight × requirement score / Σ weight (evaluated requirements);
//! - the gate passes when score ≥ threshold and, if asked, every required requirement passes.

mod evaluate;
mod fix_path;
mod root_cause;

pub use evaluate::{BlockerEval, CheckEval, Evaluation, Judging, RequirementEval, RootCauseEval, WaiverEval, evaluate};
pub use fix_path::{FixPath, FixStep, fix_path};
pub use root_cause::{RootCause, root_causes};

use crate::gate::PassRule;
use crate::status::{ReqStatus, Severity, Status};

/// A check as scoring sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckIn {
    pub id: String,
    pub weight: f64,
    pub status: Status,
    /// Checks with the same key share a root cause. `None` for passing checks.
    pub cause_key: Option<String>,
    pub cause_summary: Option<String>,
    /// Lower is more fundamental; a root cause's summary comes from its lowest.
    pub cause_rank: u8,
    pub needs: Vec<String>,
    pub security: bool,
}

/// A requirement as scoring sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct ReqIn {
    pub id: String,
    pub weight: f64,
    pub required: bool,
    pub severity: Severity,
    pub checks: Vec<CheckIn>,
}

/// Rounds to one decimal, as every reported score is.
pub fn round1(x: f64) -> f64 {
    // `+ 0.0` turns the -0.0 that summing an empty f64 iterator yields into 0.0.
    (x * 10.0).round() / 10.0 + 0.0
}

/// Score of one requirement in 0–100, or `None` when every check was skipped.
///
/// Only `pass` earns credit. When every evaluated check has weight 0, the
/// requirement scores 100 if they all passed and 0 otherwise, so an
/// all-zero-weight requirement still means something.
pub fn requirement_score(checks: &[CheckIn]) -> Option<f64> {
    let evaluated: Vec<&CheckIn> = checks.iter().filter(|c| c.status != Status::Skipped).collect();
    if evaluated.is_empty() {
        return None;
    }
    let total: f64 = evaluated.iter().map(|c| c.weight).sum();
    if total <= 0.0 {
        let all = evaluated.iter().all(|c| c.status == Status::Pass);
        return Some(if all { 100.0 } else { 0.0 });
    }
    let passed: f64 = evaluated
        .iter()
        .filter(|c| c.status == Status::Pass)
        .map(|c| c.weight)
        .sum();
    Some(100.0 * passed / total)
}

pub fn requirement_status(checks: &[CheckIn]) -> ReqStatus {
    let evaluated: Vec<&CheckIn> = checks.iter().filter(|c| c.status != Status::Skipped).collect();
    if evaluated.is_empty() {
        ReqStatus::Skipped
    } else if evaluated.iter().any(|c| c.status.is_failure()) {
        ReqStatus::Fail
    } else if evaluated.iter().any(|c| c.status == Status::Waived) {
        ReqStatus::Waived
    } else {
        ReqStatus::Pass
    }
}

/// Gate score in 0–100, one decimal.
///
/// Skipped requirements and weight-0 (advisory) requirements do not count.
/// When no weighted requirement was evaluated, the score is 100 if every
/// evaluated requirement passed and 0 otherwise (0 when nothing ran at all).
pub fn gate_score(reqs: &[ReqIn]) -> f64 {
    let mut total = 0.0;
    let mut earned = 0.0;
    let mut any_evaluated = false;
    let mut all_ok = true;
    for r in reqs {
        let Some(score) = requirement_score(&r.checks) else {
            continue;
        };
        any_evaluated = true;
        all_ok &= matches!(requirement_status(&r.checks), ReqStatus::Pass | ReqStatus::Waived);
        total += r.weight;
        earned += r.weight * score;
    }
    if total > 0.0 {
        round1(earned / total)
    } else if any_evaluated && all_ok {
        100.0
    } else {
        0.0
    }
}

/// Required requirements that did not pass (waived counts as not blocking).
pub fn failed_required(reqs: &[ReqIn]) -> Vec<&ReqIn> {
    reqs.iter()
        .filter(|r| r.required && requirement_status(&r.checks) == ReqStatus::Fail)
        .collect()
}

/// The verdict: score over the threshold and no required requirement failing.
pub fn passes(reqs: &[ReqIn], rule: PassRule) -> bool {
    let evaluated = reqs.iter().any(|r| requirement_score(&r.checks).is_some());
    evaluated && gate_score(reqs) >= rule.min_score && (!rule.required_must_pass || failed_required(reqs).is_empty())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn check(id: &str, status: Status) -> CheckIn {
        CheckIn {
            id: id.into(),
            weight: 1.0,
            status,
            cause_key: match status {
                Status::Fail | Status::Error => Some(format!("check:{id}")),
                _ => None,
            },
            cause_summary: None,
            cause_rank: 1,
            needs: vec![],
            security: false,
        }
    }

    pub fn req(id: &str, weight: f64, required: bool, checks: Vec<CheckIn>) -> ReqIn {
        ReqIn {
            id: id.into(),
            weight,
            required,
            severity: Severity::High,
            checks,
        }
    }

    pub const RULE: PassRule = PassRule {
        min_score: 85.0,
        required_must_pass: true,
    };

    #[test]
    fn requirement_score_counts_only_passing_weight() {
        let mut a = check("a", Status::Pass);
        a.weight = 3.0;
        let b = check("b", Status::Fail);
        assert_eq!(requirement_score(&[a, b]), Some(75.0));
    }

    #[test]
    fn error_blocked_and_waived_earn_no_credit() {
        for s in [Status::Error, Status::Blocked, Status::Waived, Status::Fail] {
            assert_eq!(
                requirement_score(&[check("a", Status::Pass), check("b", s)]),
                Some(50.0),
                "{s:?}"
            );
        }
    }

    #[test]
    fn skipped_checks_leave_the_denominator() {
        let r = [check("a", Status::Pass), check("b", Status::Skipped)];
        assert_eq!(requirement_score(&r), Some(100.0));
        assert_eq!(requirement_status(&r), ReqStatus::Pass);
    }

    #[test]
    fn all_skipped_requirement_has_no_score() {
        let r = [check("a", Status::Skipped), check("b", Status::Skipped)];
        assert_eq!(requirement_score(&r), None);
        assert_eq!(requirement_status(&r), ReqStatus::Skipped);
    }

    #[test]
    fn zero_weight_checks_score_all_or_nothing() {
        let mut a = check("a", Status::Pass);
        a.weight = 0.0;
        let mut b = check("b", Status::Fail);
        b.weight = 0.0;
        assert_eq!(requirement_score(std::slice::from_ref(&a)), Some(100.0));
        assert_eq!(requirement_score(&[a, b]), Some(0.0));
    }

    #[test]
    fn waived_requirement_is_not_a_failure() {
        let r = [check("a", Status::Pass), check("b", Status::Waived)];
        assert_eq!(requirement_status(&r), ReqStatus::Waived);
        let reqs = vec![req("x", 10.0, true, r.to_vec())];
        assert!(failed_required(&reqs).is_empty());
    }

    #[test]
    fn gate_score_is_weighted_mean_with_one_decimal() {
        let reqs = vec![
            req("a", 25.0, true, vec![check("a1", Status::Pass)]),
            req(
                "b",
                10.0,
                true,
                vec![
                    check("b1", Status::Pass),
                    check("b2", Status::Fail),
                    check("b3", Status::Pass),
                ],
            ),
        ];
        // (25×100 + 10×66.67) / 35 = 90.476…
        assert_eq!(gate_score(&reqs), 90.5);
    }

    #[test]
    fn zero_weight_requirements_do_not_move_the_score() {
        let reqs = vec![
            req("a", 20.0, true, vec![check("a1", Status::Pass)]),
            req("adv", 0.0, false, vec![check("x", Status::Fail)]),
        ];
        assert_eq!(gate_score(&reqs), 100.0);
        assert!(passes(&reqs, RULE));
    }

    #[test]
    fn skipped_requirements_leave_the_denominator() {
        let reqs = vec![
            req("a", 20.0, true, vec![check("a1", Status::Pass)]),
            req("b", 80.0, true, vec![check("b1", Status::Skipped)]),
        ];
        assert_eq!(gate_score(&reqs), 100.0);
        assert!(passes(&reqs, RULE));
    }

    #[test]
    fn all_skipped_gate_scores_zero_and_does_not_pass() {
        let reqs = vec![req("a", 20.0, true, vec![check("a1", Status::Skipped)])];
        assert_eq!(gate_score(&reqs), 0.0);
        assert!(!passes(&reqs, RULE));
    }

    #[test]
    fn only_advisory_requirements_evaluated() {
        let reqs = vec![
            req("a", 20.0, true, vec![check("a1", Status::Skipped)]),
            req("adv", 0.0, false, vec![check("x", Status::Pass)]),
        ];
        assert_eq!(gate_score(&reqs), 100.0);
        let reqs = vec![req("adv", 0.0, false, vec![check("x", Status::Fail)])];
        assert_eq!(gate_score(&reqs), 0.0);
    }

    #[test]
    fn required_requirement_failing_at_score_95_blocks() {
        let reqs = vec![
            req("big", 95.0, false, vec![check("a", Status::Pass)]),
            req("small", 5.0, true, vec![check("b", Status::Fail)]),
        ];
        assert_eq!(gate_score(&reqs), 95.0);
        assert!(!passes(&reqs, RULE));
        assert_eq!(failed_required(&reqs)[0].id, "small");
        let lenient = PassRule {
            required_must_pass: false,
            ..RULE
        };
        assert!(passes(&reqs, lenient));
    }

    #[test]
    fn threshold_is_inclusive() {
        let reqs = vec![
            req("a", 85.0, false, vec![check("a", Status::Pass)]),
            req("b", 15.0, false, vec![check("b", Status::Fail)]),
        ];
        assert_eq!(gate_score(&reqs), 85.0);
        assert!(passes(&reqs, RULE));
        let strict = PassRule {
            min_score: 85.1,
            ..RULE
        };
        assert!(!passes(&reqs, strict));
    }

    #[test]
    fn round1_rounds_half_away_from_zero() {
        assert_eq!(round1(71.42857), 71.4);
        assert_eq!(round1(71.45), 71.5);
        assert_eq!(round1(100.0), 100.0);
        assert!(round1(-0.0).is_sign_positive());
    }
}
