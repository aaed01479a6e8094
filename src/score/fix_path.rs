//! The fix path: the smallest set of root causes whose fixing passes the
//! gate, exact up to [`EXACT_LIMIT`] causes and greedy beyond.

use std::collections::{BTreeMap, BTreeSet};

use super::root_cause::{RootCause, cause_sets, root_causes_with, simulate};
use super::{ReqIn, gate_score, passes};
use crate::gate::PassRule;

#[derive(Debug, Clone, PartialEq)]
pub struct FixStep {
    pub key: String,
    pub summary: String,
    /// Gate score once this and every earlier step are fixed.
    pub score_after: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FixPath {
    /// The gate passes already: nothing to fix.
    pub already_passing: bool,
    /// Fixing the steps passes the gate. False when even fixing every root
    /// cause would not (waived or advisory-only shortfalls).
    pub reachable: bool,
    pub steps: Vec<FixStep>,
    pub score_after: f64,
}

/// Exhaustive search is used up to this many root causes, greedy beyond.
const EXACT_LIMIT: usize = 12;

/// The smallest set of root causes whose fixing passes the gate; among sets
/// of that size, the one with the highest resulting score.
pub fn fix_path(reqs: &[ReqIn], rule: PassRule) -> FixPath {
    let sets = cause_sets(reqs);
    fix_path_with(reqs, rule, &root_causes_with(reqs, &sets), &sets)
}

/// [`fix_path`] with the root causes and [`cause_sets`] of `reqs` already
/// computed: the evaluation needs both anyway, and each is a walk over
/// every check.
pub(super) fn fix_path_with(
    reqs: &[ReqIn],
    rule: PassRule,
    causes: &[RootCause],
    sets: &BTreeMap<String, BTreeSet<String>>,
) -> FixPath {
    let current = gate_score(reqs);
    if passes(reqs, rule) {
        return FixPath {
            already_passing: true,
            reachable: true,
            steps: Vec::new(),
            score_after: current,
        };
    }
    let keys: Vec<&str> = causes.iter().map(|c| c.key.as_str()).collect();
    let eval = |chosen: &BTreeSet<&str>| {
        let after = simulate(reqs, sets, chosen);
        (passes(&after, rule), gate_score(&after))
    };

    let chosen: Option<BTreeSet<&str>> = if keys.len() <= EXACT_LIMIT {
        let mut best: Option<(usize, f64, BTreeSet<&str>)> = None;
        for mask in 1u32..(1u32 << keys.len()) {
            let size = mask.count_ones() as usize;
            if best.as_ref().is_some_and(|(s, _, _)| size > *s) {
                continue;
            }
            let set: BTreeSet<&str> = keys
                .iter()
                .enumerate()
                .filter(|(i, _)| mask & (1 << i) != 0)
                .map(|(_, k)| *k)
                .collect();
            let (ok, score) = eval(&set);
            if ok {
                let better = match &best {
                    None => true,
                    Some((s, sc, _)) => size < *s || (size == *s && score > *sc),
                };
                if better {
                    best = Some((size, score, set));
                }
            }
        }
        best.map(|(_, _, s)| s)
    } else {
        // Greedy: add the cause that gains most (required unblocks first).
        let mut set: BTreeSet<&str> = BTreeSet::new();
        loop {
            if eval(&set).0 {
                break Some(set);
            }
            let next = keys
                .iter()
                .filter(|k| !set.contains(*k))
                .map(|k| {
                    let mut s = set.clone();
                    s.insert(k);
                    let after = simulate(reqs, sets, &s);
                    (super::failed_required(&after).len(), gate_score(&after), *k)
                })
                .min_by(|a, b| a.0.cmp(&b.0).then(b.1.total_cmp(&a.1)));
            match next {
                Some((_, _, k)) => {
                    set.insert(k);
                }
                None => break None,
            }
        }
    };

    let (reachable, chosen) = match chosen {
        Some(c) => (true, c),
        None => (false, keys.iter().copied().collect()),
    };
    // Present the steps in impact order with the running score.
    let mut steps = Vec::new();
    let mut so_far: BTreeSet<&str> = BTreeSet::new();
    for rc in causes.iter().filter(|c| chosen.contains(c.key.as_str())) {
        so_far.insert(&rc.key);
        steps.push(FixStep {
            key: rc.key.clone(),
            summary: rc.summary.clone(),
            score_after: eval(&so_far).1,
        });
    }
    let score_after = steps.last().map(|s| s.score_after).unwrap_or(current);
    FixPath {
        already_passing: false,
        reachable,
        steps,
        score_after,
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{RULE, check, req};
    use super::*;
    use crate::score::CheckIn;
    use crate::status::Status;

    #[test]
    fn fix_path_picks_the_smallest_set_reaching_the_threshold() {
        let reqs = vec![
            req("a", 50.0, false, vec![check("a", Status::Fail)]),
            req("b", 20.0, false, vec![check("b", Status::Fail)]),
            req("c", 20.0, false, vec![check("c", Status::Fail)]),
            req("d", 10.0, false, vec![check("d", Status::Pass)]),
        ];
        // Need 85: a (50) + one of b/c (20) + d (10) = 80 < 85 → needs a, b and c.
        let fp = fix_path(&reqs, RULE);
        assert!(fp.reachable && !fp.already_passing);
        assert_eq!(fp.steps.len(), 3);
        assert_eq!(fp.steps[0].key, "check:a");
        assert_eq!(fp.steps[0].score_after, 60.0);
        assert_eq!(fp.score_after, 100.0);

        let lower = PassRule {
            min_score: 60.0,
            ..RULE
        };
        let fp = fix_path(&reqs, lower);
        assert_eq!(
            fp.steps.iter().map(|s| s.key.as_str()).collect::<Vec<_>>(),
            vec!["check:a"]
        );
    }

    #[test]
    fn fix_path_must_also_fix_failing_required_requirements() {
        let reqs = vec![
            req("big", 95.0, false, vec![check("a", Status::Pass)]),
            req("small", 5.0, true, vec![check("b", Status::Fail)]),
        ];
        let fp = fix_path(&reqs, RULE);
        assert_eq!(fp.steps.len(), 1);
        assert_eq!(fp.steps[0].key, "check:b");
    }

    #[test]
    fn passing_gate_has_an_empty_fix_path() {
        let reqs = vec![req("a", 10.0, true, vec![check("a", Status::Pass)])];
        let fp = fix_path(&reqs, RULE);
        assert!(fp.already_passing && fp.reachable && fp.steps.is_empty());
        assert!(super::super::root_causes(&reqs).is_empty());
    }

    #[test]
    fn unreachable_threshold_is_reported() {
        // A waived check earns no credit and is not a root cause: 50 max.
        let reqs = vec![
            req("w", 50.0, false, vec![check("w", Status::Waived)]),
            req("f", 50.0, false, vec![check("f", Status::Fail)]),
        ];
        let fp = fix_path(&reqs, RULE);
        assert!(!fp.reachable);
        assert_eq!(fp.score_after, 50.0);
    }

    #[test]
    fn many_causes_fall_back_to_greedy_and_still_pass() {
        let checks: Vec<CheckIn> = (0..20).map(|i| check(&format!("c{i}"), Status::Fail)).collect();
        let reqs = vec![req("r", 10.0, false, checks)];
        let fp = fix_path(&reqs, RULE);
        assert!(fp.reachable);
        assert_eq!(fp.steps.len(), 17); // 17/20 = 85 %
        assert_eq!(fp.score_after, 85.0);
    }
}
