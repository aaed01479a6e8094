//! Root causes: failing checks grouped by the cause they share.
//!
//! Every check that did not pass depends on a set of causes: its own cause
//! key when it failed, or the causes of the checks it `needs` when it was
//! blocked. A root cause's `score_impact` is what the gate would gain if that
//! cause were fixed and every check depending only on it then passed. The
//! fix path is the smallest set of root causes whose fixing passes the gate.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::{ReqIn, gate_score, round1};
use crate::status::Severity;
use crate::status::Status;

#[derive(Debug, Clone, PartialEq)]
pub struct RootCause {
    pub key: String,
    pub summary: String,
    /// Checks that fail or are blocked because of it, in gate order.
    pub checks: Vec<String>,
    /// Points the gate gains when this alone is fixed.
    pub score_impact: f64,
    pub severity: Severity,
    pub security: bool,
    /// Required requirements that pass once this alone is fixed.
    pub unblocks: Vec<String>,
}

fn own_key(c: &super::CheckIn) -> String {
    c.cause_key.clone().unwrap_or_else(|| format!("check:{}", c.id))
}

/// For each check that did not pass, the causes that must be fixed for it to pass.
pub(super) fn cause_sets(reqs: &[ReqIn]) -> BTreeMap<String, BTreeSet<String>> {
    let by_id: HashMap<&str, &super::CheckIn> = reqs
        .iter()
        .flat_map(|r| r.checks.iter())
        .map(|c| (c.id.as_str(), c))
        .collect();
    let mut memo: HashMap<String, BTreeSet<String>> = HashMap::new();
    fn visit(
        id: &str,
        by_id: &HashMap<&str, &super::CheckIn>,
        memo: &mut HashMap<String, BTreeSet<String>>,
        stack: &mut Vec<String>,
    ) -> BTreeSet<String> {
        if let Some(s) = memo.get(id) {
            return s.clone();
        }
        let Some(c) = by_id.get(id) else {
            return BTreeSet::new();
        };
        if stack.iter().any(|s| s == id) {
            // Cycles are rejected when loading; never loop if one slips through.
            return BTreeSet::new();
        }
        let set = match c.status {
            Status::Pass | Status::Skipped => BTreeSet::new(),
            Status::Fail | Status::Error | Status::Waived => BTreeSet::from([own_key(c)]),
            Status::Blocked => {
                stack.push(id.to_string());
                let mut s = BTreeSet::new();
                for dep in &c.needs {
                    s.extend(visit(dep, by_id, memo, stack));
                }
                stack.pop();
                if s.is_empty() {
                    s.insert(own_key(c));
                }
                s
            }
        };
        memo.insert(id.to_string(), set.clone());
        set
    }
    let mut out = BTreeMap::new();
    for c in reqs.iter().flat_map(|r| r.checks.iter()) {
        if !matches!(c.status, Status::Pass | Status::Skipped) {
            let set = visit(&c.id, &by_id, &mut memo, &mut Vec::new());
            out.insert(c.id.clone(), set);
        }
    }
    out
}

/// The gate as it would be with `fixed` causes fixed.
pub(super) fn simulate(
    reqs: &[ReqIn],
    sets: &BTreeMap<String, BTreeSet<String>>,
    fixed: &BTreeSet<&str>,
) -> Vec<ReqIn> {
    let mut out = reqs.to_vec();
    for r in &mut out {
        for c in &mut r.checks {
            if let Some(set) = sets.get(&c.id)
                && set.iter().all(|k| fixed.contains(k.as_str()))
            {
                c.status = Status::Pass;
            }
        }
    }
    out
}

/// Root causes ordered by score impact (then severity, then key).
pub fn root_causes(reqs: &[ReqIn]) -> Vec<RootCause> {
    root_causes_with(reqs, &cause_sets(reqs))
}

/// [`root_causes`] with the [`cause_sets`] of `reqs` already computed.
pub(super) fn root_causes_with(reqs: &[ReqIn], sets: &BTreeMap<String, BTreeSet<String>>) -> Vec<RootCause> {
    let current = gate_score(reqs);
    let mut order: Vec<String> = Vec::new();
    let mut causes: BTreeMap<String, RootCause> = BTreeMap::new();
    let mut summary_rank: BTreeMap<String, u8> = BTreeMap::new();
    // Causes that touch a weighted requirement: only those can move the score.
    let mut weighted: BTreeSet<String> = BTreeSet::new();
    for r in reqs {
        for c in &r.checks {
            if !matches!(c.status, Status::Fail | Status::Error | Status::Blocked) {
                continue;
            }
            for key in sets.get(&c.id).into_iter().flatten() {
                let entry = causes.entry(key.clone()).or_insert_with(|| {
                    order.push(key.clone());
                    RootCause {
                        key: key.clone(),
                        summary: String::new(),
                        checks: Vec::new(),
                        score_impact: 0.0,
                        severity: r.severity,
                        security: false,
                        unblocks: Vec::new(),
                    }
                });
                entry.checks.push(c.id.clone());
                entry.severity = entry.severity.min(r.severity);
                if r.weight > 0.0 {
                    weighted.insert(key.clone());
                }
                if own_key(c) == *key && c.status != Status::Blocked {
                    entry.security |= c.security;
                    let best = summary_rank.get(key).copied().unwrap_or(u8::MAX);
                    if entry.summary.is_empty() || c.cause_rank < best {
                        entry.summary = c
                            .cause_summary
                            .clone()
                            .unwrap_or_else(|| format!("check `{}` failed", c.id));
                        summary_rank.insert(key.clone(), c.cause_rank);
                    }
                }
            }
        }
    }
    let failed_before: Vec<String> = super::failed_required(reqs).iter().map(|r| r.id.clone()).collect();
    let mut list: Vec<RootCause> = order
        .into_iter()
        .filter_map(|k| causes.remove(&k))
        .map(|mut rc| {
            if rc.summary.is_empty() {
                rc.summary = format!("checks blocked by `{}`", rc.key);
            }
            if rc.security {
                rc.severity = Severity::Critical;
            }
            let fixed = BTreeSet::from([rc.key.as_str()]);
            let after = simulate(reqs, sets, &fixed);
            // An advisory (weight 0) requirement is worth no points, even when it
            // is all that ran and the all-or-nothing score of such a run moves.
            rc.score_impact = if weighted.contains(&rc.key) {
                round1((gate_score(&after) - current).max(0.0))
            } else {
                0.0
            };
            let failed_after: BTreeSet<String> = super::failed_required(&after).iter().map(|r| r.id.clone()).collect();
            rc.unblocks = failed_before
                .iter()
                .filter(|id| !failed_after.contains(*id))
                .cloned()
                .collect();
            rc
        })
        .collect();
    list.sort_by(|a, b| {
        b.score_impact
            .total_cmp(&a.score_impact)
            .then(a.severity.cmp(&b.severity))
            .then(b.unblocks.len().cmp(&a.unblocks.len()))
    });
    list
}

#[cfg(test)]
mod tests {
    use super::super::tests::{RULE, check, req};
    use super::*;
    use crate::score::CheckIn;

    fn with_cause(mut c: CheckIn, key: &str) -> CheckIn {
        c.cause_key = Some(key.into());
        c.cause_summary = Some(format!("summary of {key}"));
        c
    }

    fn needs(mut c: CheckIn, deps: &[&str]) -> CheckIn {
        c.needs = deps.iter().map(|d| d.to_string()).collect();
        c
    }

    #[test]
    fn checks_sharing_a_cause_form_one_root_cause() {
        let reqs = vec![
            req(
                "metrics",
                25.0,
                true,
                vec![with_cause(check("m", Status::Error), "unreachable:backend")],
            ),
            req(
                "health",
                10.0,
                true,
                vec![
                    with_cause(check("h1", Status::Error), "unreachable:backend"),
                    with_cause(check("h2", Status::Error), "unreachable:backend"),
                ],
            ),
            req("grafana", 20.0, true, vec![check("g", Status::Pass)]),
        ];
        let rcs = root_causes(&reqs);
        assert_eq!(rcs.len(), 1);
        assert_eq!(rcs[0].checks, vec!["m", "h1", "h2"]);
        assert_eq!(rcs[0].summary, "summary of unreachable:backend");
        // 20/55 = 36.4 now; fixed: 100 → impact 63.6
        assert_eq!(gate_score(&reqs), 36.4);
        assert_eq!(rcs[0].score_impact, 63.6);
        assert_eq!(rcs[0].unblocks, vec!["metrics", "health"]);
    }

    #[test]
    fn the_most_fundamental_check_names_the_root_cause() {
        let mut container = with_cause(check("backend-container", Status::Fail), "unreachable:backend");
        container.cause_summary = Some("container `api` is in a restart loop".into());
        container.cause_rank = 0;
        let reqs = vec![req(
            "r",
            10.0,
            true,
            vec![
                with_cause(check("health", Status::Error), "unreachable:backend"),
                container,
            ],
        )];
        let rcs = root_causes(&reqs);
        assert_eq!(rcs.len(), 1);
        assert_eq!(rcs[0].summary, "container `api` is in a restart loop");
        assert_eq!(rcs[0].checks, vec!["health", "backend-container"]);
    }

    #[test]
    fn root_causes_are_ordered_by_impact() {
        let reqs = vec![
            req("small", 10.0, true, vec![check("s", Status::Fail)]),
            req("big", 30.0, true, vec![check("b", Status::Fail)]),
            req("ok", 60.0, true, vec![check("o", Status::Pass)]),
        ];
        let rcs = root_causes(&reqs);
        assert_eq!(
            rcs.iter().map(|r| r.key.as_str()).collect::<Vec<_>>(),
            vec!["check:b", "check:s"]
        );
        assert_eq!(rcs[0].score_impact, 30.0);
        assert_eq!(rcs[1].score_impact, 10.0);
    }

    #[test]
    fn needs_chain_three_deep_groups_under_the_first_failure() {
        // a fails; b needs a; c needs b; d needs c: all blocked by a's cause.
        let reqs = vec![req(
            "chain",
            40.0,
            true,
            vec![
                with_cause(check("a", Status::Fail), "root"),
                needs(check("b", Status::Blocked), &["a"]),
                needs(check("c", Status::Blocked), &["b"]),
                needs(check("d", Status::Blocked), &["c"]),
            ],
        )];
        let rcs = root_causes(&reqs);
        assert_eq!(rcs.len(), 1);
        assert_eq!(rcs[0].key, "root");
        assert_eq!(rcs[0].checks, vec!["a", "b", "c", "d"]);
        assert_eq!(rcs[0].score_impact, 100.0);
        let fp = crate::score::fix_path(&reqs, RULE);
        assert!(fp.reachable);
        assert_eq!(fp.steps.len(), 1);
        assert_eq!(fp.score_after, 100.0);
    }

    #[test]
    fn blocked_check_needing_two_failures_counts_only_when_both_fixed() {
        let reqs = vec![req(
            "r",
            10.0,
            true,
            vec![
                with_cause(check("a", Status::Fail), "A"),
                with_cause(check("b", Status::Fail), "B"),
                needs(check("c", Status::Blocked), &["a", "b"]),
                check("d", Status::Pass),
            ],
        )];
        let rcs = root_causes(&reqs);
        // Fixing A alone: a passes (c still blocked) → 50 from 25.
        let a = rcs.iter().find(|r| r.key == "A").unwrap();
        assert_eq!(a.score_impact, 25.0);
        assert_eq!(a.checks, vec!["a", "c"]);
        let fp = crate::score::fix_path(&reqs, RULE);
        assert_eq!(fp.steps.len(), 2);
        assert_eq!(fp.score_after, 100.0);
    }

    #[test]
    fn zero_weight_failures_have_zero_impact() {
        let reqs = vec![
            req("a", 10.0, true, vec![check("a", Status::Pass)]),
            req("adv", 0.0, false, vec![check("x", Status::Fail)]),
        ];
        let rcs = root_causes(&reqs);
        assert_eq!(rcs.len(), 1);
        assert_eq!(rcs[0].score_impact, 0.0);
    }

    #[test]
    fn security_cause_is_critical() {
        let mut c = with_cause(check("m", Status::Fail), "security:metrics-open");
        c.security = true;
        let reqs = vec![req("m", 25.0, true, vec![c])];
        let rcs = root_causes(&reqs);
        assert_eq!(rcs[0].severity, Severity::Critical);
        assert!(rcs[0].security);
    }
}
