//! Builds the report from a run's results: scores, verdict, blockers, root
//! causes and the fix path, then redacts every secret.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime};

use super::model::*;
use crate::gate::{Gate, Severity};
use crate::probe::Status;
use crate::redact::Redactor;
use crate::runner::CheckResult;
use crate::score::{self, CheckIn, ReqIn, Rule};

pub struct BuildInput<'a> {
    pub gate: &'a Gate,
    pub results: &'a [CheckResult],
    pub rule: Rule,
    pub started_at: SystemTime,
    pub duration: Duration,
    pub insecure: bool,
    pub attempts: u32,
    /// Checks that did not pass in some earlier `--wait` attempt.
    pub failed_before: BTreeSet<String>,
    pub warnings: Vec<String>,
    pub redactor: &'a Redactor,
}

/// Fails only if the redaction round trip fails, which would be a bug: the
/// report is then withheld rather than risk printing a secret.
pub fn build(input: BuildInput<'_>) -> Result<Report, serde_json::Error> {
    let gate = input.gate;
    let by_id: BTreeMap<&str, &CheckResult> = input.results.iter().map(|r| (r.check_id.as_str(), r)).collect();

    let reqs_in = score_input(gate, input.results);

    let score = score::gate_score(&reqs_in);
    let passed = score::passes(&reqs_in, input.rule);
    let root_causes = score::root_causes(&reqs_in);
    let fix = score::fix_path(&reqs_in, input.rule);

    let mut counts = Counts::default();
    let mut requirements = Vec::new();
    let mut blockers = Vec::new();
    for (req, rin) in gate.requirements.iter().zip(&reqs_in) {
        let mut checks = Vec::new();
        for c in &req.checks {
            let Some(res) = by_id.get(c.id.as_str()) else {
                continue;
            };
            let o = &res.outcome;
            match o.status {
                Status::Pass => counts.pass += 1,
                Status::Fail => counts.fail += 1,
                Status::Error => counts.error += 1,
                Status::Blocked => counts.blocked += 1,
                Status::Skipped => counts.skipped += 1,
                Status::Waived => counts.waived += 1,
            }
            let cause = match o.status {
                Status::Blocked => Some(blocked_cause(o, &root_causes, &c.id)),
                Status::Pass | Status::Skipped => None,
                _ => o.cause.as_ref().map(|c| c.summary.clone()),
            };
            let report = CheckReport {
                id: c.id.clone(),
                name: c.name.clone(),
                kind: c.spec.kind().to_string(),
                target: c.target.clone(),
                weight: c.weight,
                status: o.status,
                duration_ms: res.duration.as_millis() as u64,
                message: o.message.clone(),
                evidence: o.evidence.clone(),
                expected: o.expected.clone(),
                cause,
                remediation: if o.status == Status::Pass {
                    None
                } else {
                    o.remediation.clone()
                },
                reproduce: o.reproduce.clone(),
                security: o.security,
                waiver: c.waiver.as_ref().map(|w| WaiverReport {
                    reason: w.reason.clone(),
                    expires: w.expires.clone(),
                    expired: res.waiver_expired,
                }),
                attempts: input.attempts,
                passed_after_retry: o.status == Status::Pass && input.failed_before.contains(&c.id),
                warnings: o.warnings.clone(),
            };
            let counts_toward_verdict = req.required || req.weight > 0.0;
            if counts_toward_verdict && matches!(o.status, Status::Fail | Status::Error | Status::Blocked) {
                blockers.push((
                    req.weight,
                    Blocker {
                        requirement: req.id.clone(),
                        check: c.id.clone(),
                        severity: if o.security { Severity::Critical } else { req.severity },
                        status: o.status,
                        security: o.security,
                        message: report.message.clone(),
                        cause: report.cause.clone(),
                        remediation: report.remediation.clone(),
                        evidence: report.evidence.clone(),
                        reproduce: report.reproduce.clone(),
                    },
                ));
            }
            checks.push(report);
        }
        requirements.push(RequirementReport {
            id: req.id.clone(),
            name: req.name.clone(),
            weight: req.weight,
            required: req.required,
            severity: req.severity,
            score: score::round1(score::requirement_score(&rin.checks).unwrap_or(0.0)),
            status: score::requirement_status(&rin.checks),
            checks,
        });
    }
    // Stable sort keeps gate order within equal severity and weight.
    blockers.sort_by(|a, b| a.1.severity.cmp(&b.1.severity).then(b.0.total_cmp(&a.0)));
    let blockers: Vec<Blocker> = blockers.into_iter().map(|(_, b)| b).collect();

    let remediation_for = |key: &str| -> Option<String> {
        input
            .results
            .iter()
            .filter_map(|r| {
                r.outcome
                    .cause
                    .as_ref()
                    .filter(|c| c.key == key)
                    .and(r.outcome.remediation.clone())
            })
            .next()
    };
    let root_causes: Vec<RootCauseReport> = root_causes
        .iter()
        .map(|rc| RootCauseReport {
            key: rc.key.clone(),
            summary: rc.summary.clone(),
            score_impact: rc.score_impact,
            severity: rc.severity,
            security: rc.security,
            checks: rc.checks.clone(),
            unblocks: rc.unblocks.clone(),
            remediation: remediation_for(&rc.key),
        })
        .collect();

    let failed_required: Vec<String> = score::failed_required(&reqs_in).iter().map(|r| r.id.clone()).collect();
    let summary = summarize(score, passed, input.rule, &failed_required, &counts);
    let mut warnings = input.warnings;
    if input.insecure {
        warnings.push("--insecure: TLS certificates were not verified".to_string());
    }
    for (_, c) in requirements.iter().flat_map(|r| r.checks.iter().map(move |c| (r, c))) {
        for w in &c.warnings {
            warnings.push(format!("{}: {w}", c.id));
        }
    }

    let report = Report {
        schema_version: SCHEMA_VERSION,
        tool: Tool {
            name: env!("CARGO_PKG_NAME").to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
        },
        gate: GateInfo {
            id: gate.id.clone(),
            name: gate.name.clone(),
            source: gate.source.clone(),
            threshold: input.rule.min_score,
            required_must_pass: input.rule.required_must_pass,
        },
        started_at: humantime::format_rfc3339_millis(input.started_at).to_string(),
        duration_ms: input.duration.as_millis() as u64,
        score,
        passed,
        verdict: if passed { "pass" } else { "blocked" }.to_string(),
        summary,
        insecure: input.insecure,
        attempts: input.attempts,
        counts,
        requirements,
        blockers,
        root_causes,
        fix_path: FixPathReport {
            already_passing: fix.already_passing,
            reachable: fix.reachable,
            score_after: fix.score_after,
            steps: fix
                .steps
                .iter()
                .map(|s| FixStepReport {
                    root_cause: s.key.clone(),
                    summary: s.summary.clone(),
                    score_after: s.score_after,
                })
                .collect(),
        },
        warnings,
    };
    redact(report, input.redactor)
}

/// The gate and its results as the scoring functions see them.
pub fn score_input(gate: &Gate, results: &[CheckResult]) -> Vec<ReqIn> {
    let by_id: BTreeMap<&str, &CheckResult> = results.iter().map(|r| (r.check_id.as_str(), r)).collect();
    gate.requirements
        .iter()
        .map(|r| ReqIn {
            id: r.id.clone(),
            weight: r.weight,
            required: r.required,
            severity: r.severity,
            checks: r
                .checks
                .iter()
                .map(|c| {
                    let res = by_id.get(c.id.as_str());
                    let outcome = res.map(|r| &r.outcome);
                    CheckIn {
                        id: c.id.clone(),
                        weight: c.weight,
                        status: outcome.map(|o| o.status).unwrap_or(Status::Error),
                        cause_key: outcome.and_then(|o| o.cause.as_ref().map(|c| c.key.clone())),
                        cause_summary: outcome.and_then(|o| o.cause.as_ref().map(|c| c.summary.clone())),
                        cause_rank: outcome.and_then(|o| o.cause.as_ref().map(|c| c.rank)).unwrap_or(1),
                        needs: c.needs.clone(),
                        security: outcome.is_some_and(|o| o.security),
                    }
                })
                .collect(),
        })
        .collect()
}

/// For a blocked check, the summary of the root cause(s) it waits on.
fn blocked_cause(o: &crate::probe::Outcome, rcs: &[score::RootCause], id: &str) -> String {
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

fn summarize(score: f64, passed: bool, rule: Rule, failed_required: &[String], counts: &Counts) -> String {
    let evaluated = counts.pass + counts.fail + counts.error + counts.blocked + counts.waived;
    if evaluated == 0 {
        return "BLOCKED: no check was evaluated (everything was skipped)".to_string();
    }
    if passed {
        return format!(
            "PASSED: score {score:.1}% ≥ {:.0}% and every required requirement passed",
            rule.min_score
        );
    }
    let mut reasons = Vec::new();
    if score < rule.min_score {
        reasons.push(format!("score {score:.1}% < {:.0}%", rule.min_score));
    } else {
        reasons.push(format!("score {score:.1}% ≥ {:.0}%", rule.min_score));
    }
    if rule.required_must_pass && !failed_required.is_empty() {
        reasons.push(format!("required requirements failing: {}", failed_required.join(", ")));
    }
    format!("BLOCKED: {}", reasons.join("; "))
}

/// Redacts every string of the report by a round trip through JSON, so no
/// field can be forgotten.
fn redact(report: Report, redactor: &Redactor) -> Result<Report, serde_json::Error> {
    let mut value = serde_json::to_value(&report)?;
    redactor.redact_json(&mut value);
    serde_json::from_value(value)
}
