//! The scoring stage: from a gate and its check results to an
//! [`Evaluation`] — each check's status after waivers, requirement statuses
//! and scores, the verdict, the blockers in order, the root causes with
//! their remediation, and the fix path. `--wait` and the report both read
//! it; nothing downstream goes back to the raw results.

use std::collections::BTreeMap;
use std::time::Duration;

use super::{CheckIn, ReqIn, fix_path, root_causes};
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

/// Scores a run. `today` (`YYYY-MM-DD`) decides which waivers still hold.
/// A check missing from `results` counts as `error`.
pub fn evaluate(gate: &Gate, results: Vec<CheckResult>, rule: PassRule, today: &str) -> Evaluation {
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
    let passed = super::passes(&reqs_in, rule);
    let causes = root_causes(&reqs_in);
    let fix = fix_path(&reqs_in, rule);
    let failed_required = super::failed_required(&reqs_in).iter().map(|r| r.id.clone()).collect();

    let mut blockers = Vec::new();
    for (req, rin) in requirements.iter_mut().zip(&reqs_in) {
        req.score = super::requirement_score(&rin.checks);
        req.status = super::requirement_status(&rin.checks);
        let counts_toward_verdict = req.required || req.weight > 0.0;
        for c in &mut req.checks {
            c.cause = match c.status {
                Status::Blocked => Some(blocked_cause(&c.outcome, &causes, &c.id)),
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
        requirements,
        failed_required,
        blockers: blockers.into_iter().map(|(_, b)| b).collect(),
        root_causes,
        fix_path: fix,
        warnings,
    }
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
fn blocked_cause(o: &Outcome, rcs: &[super::RootCause], id: &str) -> String {
    let causes: Vec<&str> = rcs
        .iter()
        .filter(|rc| rc.checks.iter().any(|c| c == id))
        .map(|rc| rc.summary.as_str())
        .collect();
    if causes.is_empty() {
        o.message.clone()
    } else {
        causes.join("; ")
    }
}
