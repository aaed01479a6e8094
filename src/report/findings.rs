//! The non-passing checks of a report as CI findings, most important first:
//! shared by the formats that feed a CI's annotation or issue list (GitHub,
//! GitLab Code Quality), where only the first few may be shown.
//!
//! Order: blocking failures of required requirements, grouped by root cause
//! in order of score impact (a cause's own failures before the checks it
//! blocks); then the other failures that count toward the verdict (weighted
//! requirements that are not required), most severe first; then advisory
//! (weight-0) findings.

use std::collections::{BTreeSet, HashMap};

use super::model::{CheckReport, Report, RequirementReport};
use crate::status::{Severity, Status};

/// How a finding bears on the verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Weight {
    /// A required requirement fails because of it: the gate cannot pass.
    Blocking,
    /// It costs score points but blocks nothing by itself.
    Scored,
    /// A weight-0 requirement that is not required: advice only.
    Advisory,
}

pub struct Finding<'a> {
    pub requirement: &'a RequirementReport,
    pub check: &'a CheckReport,
    pub weight: Weight,
    /// The blocker's severity (a security finding is critical), else the
    /// requirement's.
    pub severity: Severity,
}

/// Every fail/error/blocked check of `r`, in the order of the module doc.
pub fn ordered(r: &Report) -> Vec<Finding<'_>> {
    let by_id: HashMap<&str, (&RequirementReport, &CheckReport)> =
        r.all_checks().map(|(q, c)| (c.id.as_str(), (q, c))).collect();
    let finding = |id: &str, severity: Option<Severity>| {
        let (q, c) = *by_id.get(id)?;
        if !c.status.is_failure() {
            return None;
        }
        let weight = if q.required {
            Weight::Blocking
        } else if q.weight > 0.0 {
            Weight::Scored
        } else {
            Weight::Advisory
        };
        let severity = severity.unwrap_or(if c.security { Severity::Critical } else { q.severity });
        Some(Finding {
            requirement: q,
            check: c,
            weight,
            severity,
        })
    };
    let blocker_severity: HashMap<&str, Severity> = r.blockers.iter().map(|b| (b.check.as_str(), b.severity)).collect();
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for rc in &r.root_causes {
        let mut checks: Vec<Finding<'_>> = rc
            .checks
            .iter()
            .filter_map(|id| finding(id, blocker_severity.get(id.as_str()).copied()))
            .collect();
        // What failed on its own comes before what waits on it.
        checks.sort_by_key(|f| f.check.status == Status::Blocked);
        for f in checks {
            push(Some(f), Weight::Blocking, &mut seen, &mut out);
        }
    }
    for want in [Weight::Blocking, Weight::Scored] {
        for b in &r.blockers {
            push(finding(&b.check, Some(b.severity)), want, &mut seen, &mut out);
        }
    }
    let mut advisory: Vec<Finding<'_>> = r
        .all_checks()
        .filter_map(|(_, c)| finding(&c.id, None))
        .filter(|f| !seen.contains(&f.check.id))
        .collect();
    // Stable: gate order within a severity. A failure the evaluation did not
    // list as a blocker still shows, after the advice it outranks by weight.
    advisory.sort_by_key(|f| (f.weight, f.severity));
    out.extend(advisory);
    out
}

/// Adds `f` when it has the weight asked for and is not listed yet.
fn push<'a>(f: Option<Finding<'a>>, want: Weight, seen: &mut BTreeSet<String>, out: &mut Vec<Finding<'a>>) {
    if let Some(f) = f.filter(|f| f.weight == want)
        && seen.insert(f.check.id.clone())
    {
        out.push(f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::table::hostile;

    #[test]
    fn every_failing_check_appears_once_root_cause_first() {
        let mut r = hostile::report();
        let failing: Vec<String> = r
            .all_checks()
            .filter(|(_, c)| c.status.is_failure())
            .map(|(_, c)| c.id.clone())
            .collect();
        assert_eq!(failing.len(), 3);
        // The blocked check's root cause leads, so it comes first.
        r.root_causes[0].checks = vec![failing[2].clone()];
        let ids: Vec<&str> = ordered(&r).iter().map(|f| f.check.id.as_str()).collect();
        assert_eq!(ids, [failing[2].as_str(), failing[0].as_str(), failing[1].as_str()]);
    }

    #[test]
    fn advisory_findings_come_last_and_are_marked_so() {
        let mut r = hostile::report();
        let mut advisory = r.requirements[0].clone();
        advisory.id = "advice".into();
        advisory.required = false;
        advisory.weight = 0.0;
        for c in &mut advisory.checks {
            c.id = format!("advice-{}", c.status.as_str());
            c.security = false;
        }
        r.requirements.insert(0, advisory);
        let found = ordered(&r);
        assert_eq!(found.len(), 6);
        assert!(found[..3].iter().all(|f| f.weight == Weight::Blocking));
        assert!(found[3..].iter().all(|f| f.weight == Weight::Advisory));
        assert_eq!(found[3].severity, Severity::High, "the requirement's severity");
    }
}
