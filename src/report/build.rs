//! Builds the report model from the scoring stage's [`Evaluation`] and the
//! run's metadata, then redacts every secret. Nothing here scores: the
//! verdict, blockers and root causes are the evaluation's.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime};

use super::model::*;
use crate::redact::Redactor;
use crate::score::{self, CheckEval, Evaluation};
use crate::status::Status;

/// What the report says about the run beyond its evaluation.
pub struct RunMeta<'a> {
    pub gate_id: &'a str,
    pub gate_name: &'a str,
    pub gate_source: &'a str,
    /// The gate came from a file, not the built-in Gate G.
    pub gate_from_file: bool,
    pub started_at: SystemTime,
    pub duration: Duration,
    pub insecure: bool,
    pub attempts: u32,
    /// Checks that did not pass in some earlier `--wait` attempt.
    pub failed_before: BTreeSet<String>,
    /// Rounds each check was run in; a check not listed was not run.
    pub check_attempts: BTreeMap<String, u32>,
    /// Requests sent, by target.
    pub requests: Option<RequestsReport>,
    pub warnings: Vec<String>,
    pub warm_up: Option<crate::report::WarmUpReport>,
    /// What a `demo` run simulated; `None` for a real stack.
    pub simulated: Option<String>,
}

/// The report of an evaluation, every secret redacted (see [`redact`]).
pub fn build(eval: &Evaluation, meta: RunMeta<'_>, redactor: &Redactor) -> Report {
    let mut counts = Counts::default();
    let requirements: Vec<RequirementReport> = eval
        .requirements
        .iter()
        .map(|req| RequirementReport {
            id: req.id.clone(),
            name: req.name.clone(),
            weight: req.weight,
            required: req.required,
            severity: req.severity,
            score: score::round1(req.score.unwrap_or(0.0)),
            status: req.status,
            checks: req
                .checks
                .iter()
                .map(|c| {
                    counts.add(c.status);
                    check_report(c, &meta)
                })
                .collect(),
        })
        .collect();

    let by_id: std::collections::HashMap<&str, &CheckEval> = eval.checks().map(|(_, c)| (c.id.as_str(), c)).collect();
    let blockers = eval
        .blockers
        .iter()
        .filter_map(|b| {
            let c = *by_id.get(b.check.as_str())?;
            Some(Blocker {
                requirement: b.requirement.clone(),
                check: b.check.clone(),
                severity: b.severity,
                status: c.status,
                security: c.outcome.security,
                message: c.outcome.message.clone(),
                cause: c.cause.clone(),
                remediation: c.outcome.remediation.clone(),
                evidence: c.outcome.evidence.clone(),
                reproduce: c.outcome.reproduce.clone(),
            })
        })
        .collect();

    let root_causes = eval
        .root_causes
        .iter()
        .map(|rc| RootCauseReport {
            key: rc.cause.key.clone(),
            summary: rc.cause.summary.clone(),
            score_impact: rc.cause.score_impact,
            severity: rc.cause.severity,
            security: rc.cause.security,
            checks: rc.cause.checks.clone(),
            unblocks: rc.cause.unblocks.clone(),
            remediation: rc.remediation.clone(),
        })
        .collect();

    let summary = summarize(eval, &counts);
    let mut warnings = meta.warnings.clone();
    if meta.insecure {
        warnings.push("--insecure: TLS certificates were not verified".to_string());
    }
    warnings.extend(eval.warnings.iter().cloned());
    for (_, c) in eval.checks() {
        for w in &c.outcome.warnings {
            warnings.push(format!("{}: {w}", c.id));
        }
    }

    let fix = &eval.fix_path;
    let report = Report {
        schema_version: SCHEMA_VERSION,
        tool: Tool {
            name: env!("CARGO_PKG_NAME").to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
        },
        gate: GateInfo {
            id: meta.gate_id.to_string(),
            name: meta.gate_name.to_string(),
            source: meta.gate_source.to_string(),
            threshold: eval.rule.min_score,
            required_must_pass: eval.rule.required_must_pass,
            from_file: meta.gate_from_file,
        },
        started_at: humantime::format_rfc3339_millis(meta.started_at).to_string(),
        duration_ms: meta.duration.as_millis() as u64,
        score: eval.score,
        passed: eval.passed,
        verdict: verdict(eval).to_string(),
        partial: !eval.not_checked.is_empty(),
        not_checked: eval.not_checked.clone(),
        summary,
        insecure: meta.insecure,
        attempts: meta.attempts,
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
        warm_up: meta.warm_up.clone(),
        requests: meta.requests.clone(),
        simulated: meta.simulated.clone(),
    };
    redact(report, redactor)
}

fn check_report(c: &CheckEval, meta: &RunMeta<'_>) -> CheckReport {
    let o = &c.outcome;
    CheckReport {
        id: c.id.clone(),
        name: c.name.clone(),
        kind: c.kind.to_string(),
        target: c.target.clone(),
        weight: c.weight,
        status: c.status,
        duration_ms: c.duration.as_millis() as u64,
        message: o.message.clone(),
        evidence: o.evidence.clone(),
        expected: o.expected.clone(),
        cause: c.cause.clone(),
        remediation: if c.status == Status::Pass {
            None
        } else {
            o.remediation.clone()
        },
        reproduce: o.reproduce.clone(),
        security: o.security,
        waiver: c.waiver.as_ref().map(|w| WaiverReport {
            reason: w.reason.clone(),
            expires: w.expires.clone(),
            expired: w.expired,
        }),
        attempts: meta.check_attempts.get(&c.id).copied().unwrap_or(0),
        passed_after_retry: c.status == Status::Pass && meta.failed_before.contains(&c.id),
        warnings: o.warnings.clone(),
        line: (c.line > 0).then_some(c.line),
    }
}

impl Counts {
    fn add(&mut self, status: Status) {
        match status {
            Status::Pass => self.pass += 1,
            Status::Fail => self.fail += 1,
            Status::Error => self.error += 1,
            Status::Blocked => self.blocked += 1,
            Status::Skipped => self.skipped += 1,
            Status::Waived => self.waived += 1,
        }
    }
}

fn verdict(eval: &Evaluation) -> &'static str {
    if eval.passed {
        verdict::PASS
    } else if !eval.not_checked.is_empty() && would_pass_on_what_ran(eval) {
        verdict::PARTIAL
    } else {
        verdict::BLOCKED
    }
}

fn would_pass_on_what_ran(eval: &Evaluation) -> bool {
    eval.score >= eval.rule.min_score && (!eval.rule.required_must_pass || eval.failed_required.is_empty())
}

fn summarize(eval: &Evaluation, counts: &Counts) -> String {
    let summary = summarize_checked(eval, counts);
    if eval.not_checked.is_empty() {
        return summary;
    }
    let what = eval.not_checked.join("; ");
    if eval.passed {
        format!("{summary} — PARTIAL run (--allow-partial): not checked: {what}")
    } else if would_pass_on_what_ran(eval) {
        format!(
            "PARTIAL: what ran passes ({summary}), but not checked: {what}; a partial run does not pass without --allow-partial"
        )
    } else {
        format!("{summary}; PARTIAL run, not checked: {what}")
    }
}

fn summarize_checked(eval: &Evaluation, counts: &Counts) -> String {
    let (score, rule) = (eval.score, eval.rule);
    let evaluated = counts.pass + counts.fail + counts.error + counts.blocked + counts.waived;
    if evaluated == 0 {
        return "BLOCKED: no check was evaluated (everything was skipped)".to_string();
    }
    if eval.passed {
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
    if rule.required_must_pass && !eval.failed_required.is_empty() {
        reasons.push(format!(
            "required requirements failing: {}",
            eval.failed_required.join(", ")
        ));
    }
    format!("BLOCKED: {}", reasons.join("; "))
}

/// Redacts every string of the report in place, map keys included, except
/// the gate's own identifiers (ids, names, kinds, target names), which the
/// gate author wrote and `diff` and every JSON consumer key on. It used to
/// be a round trip through `serde_json::Value`, a fifth of a 10,000-check
/// run; each struct is destructured without `..` instead, so a field added
/// to the model does not compile until it is redacted or named as exempt.
fn redact(mut report: Report, redactor: &Redactor) -> Report {
    let Report {
        schema_version: _,
        tool,
        gate,
        started_at,
        duration_ms: _,
        score: _,
        passed: _,
        verdict,
        partial: _,
        not_checked,
        summary,
        insecure: _,
        attempts: _,
        counts: _,
        requirements,
        blockers,
        root_causes,
        fix_path,
        warnings,
        warm_up,
        requests,
        simulated,
    } = &mut report;
    let r = Scrub(redactor);
    let Tool { name, version } = tool;
    r.all([name, version, started_at, verdict, summary]);
    let GateInfo {
        id: _,
        name: _,
        source,
        threshold: _,
        required_must_pass: _,
        from_file: _,
    } = gate;
    r.text(source);
    r.texts(not_checked);
    r.texts(warnings);
    r.opts([simulated]);
    for req in requirements {
        let RequirementReport {
            id: _,
            name: _,
            weight: _,
            required: _,
            severity: _,
            score: _,
            status: _,
            checks,
        } = req;
        for c in checks {
            let CheckReport {
                id: _,
                name: _,
                kind: _,
                target: _,
                weight: _,
                status: _,
                duration_ms: _,
                message,
                evidence,
                expected,
                cause,
                remediation,
                reproduce,
                security: _,
                waiver,
                attempts: _,
                passed_after_retry: _,
                warnings,
                line: _,
            } = c;
            r.text(message);
            r.map(evidence);
            r.map(expected);
            r.opts([cause, remediation, reproduce]);
            if let Some(WaiverReport {
                reason,
                expires,
                expired: _,
            }) = waiver
            {
                r.all([reason, expires]);
            }
            r.texts(warnings);
        }
    }
    for b in blockers {
        let Blocker {
            requirement: _,
            check: _,
            severity: _,
            status: _,
            security: _,
            message,
            cause,
            remediation,
            evidence,
            reproduce,
        } = b;
        r.text(message);
        r.opts([cause, remediation, reproduce]);
        r.map(evidence);
    }
    for rc in root_causes {
        let RootCauseReport {
            key: _,
            summary,
            score_impact: _,
            severity: _,
            security: _,
            checks: _,
            unblocks: _,
            remediation,
        } = rc;
        r.text(summary);
        r.opts([remediation]);
    }
    let FixPathReport {
        already_passing: _,
        reachable: _,
        score_after: _,
        steps,
    } = fix_path;
    for step in steps {
        let FixStepReport {
            root_cause: _,
            summary,
            score_after: _,
        } = step;
        r.text(summary);
    }
    if let Some(WarmUpReport {
        target,
        paths,
        requests_planned: _,
        requests_sent: _,
        answers,
        started_at,
        traffic_ms: _,
        scrape_interval_ms: _,
        waited_ms: _,
        summary,
    }) = warm_up
    {
        r.all([target, started_at, summary]);
        r.texts(paths);
        r.keys(answers);
    }
    // Numbers and target names only.
    if let Some(RequestsReport { total: _, by_target }) = requests {
        for count in by_target {
            let RequestCount { targets: _, requests: _ } = count;
        }
    }
    report
}

/// The redactor applied to each kind of field of the report.
struct Scrub<'r>(&'r Redactor);

impl Scrub<'_> {
    fn text(&self, s: &mut String) {
        if let std::borrow::Cow::Owned(redacted) = self.0.redact(s) {
            *s = redacted;
        }
    }

    fn all<const N: usize>(&self, fields: [&mut String; N]) {
        fields.into_iter().for_each(|s| self.text(s));
    }

    fn texts(&self, list: &mut [String]) {
        list.iter_mut().for_each(|s| self.text(s));
    }

    fn opts<const N: usize>(&self, fields: [&mut Option<String>; N]) {
        fields.into_iter().flatten().for_each(|s| self.text(s));
    }

    /// Values and keys; a key that changes is moved to its redacted name.
    fn map(&self, map: &mut BTreeMap<String, serde_json::Value>) {
        map.values_mut().for_each(|v| self.0.redact_json(v));
        self.keys(map);
    }

    fn keys<V>(&self, map: &mut BTreeMap<String, V>) {
        let changed: Vec<(String, String)> = map
            .keys()
            .filter_map(|k| match self.0.redact(k) {
                std::borrow::Cow::Owned(redacted) => Some((k.clone(), redacted)),
                std::borrow::Cow::Borrowed(_) => None,
            })
            .collect();
        for (old, new) in changed {
            if let Some(v) = map.remove(&old) {
                map.insert(new, v);
            }
        }
    }
}
