//! Blockers grouped by the root cause they share, so the table, Markdown
//! and HTML reports each list a cause and its fix once, with every check it
//! hits.

use super::model::{Blocker, Report, RootCauseReport};

/// Blockers that share a root cause, listed once with every check it hits.
pub(crate) struct BlockerGroup<'a> {
    pub blockers: Vec<&'a Blocker>,
    pub root_cause: Option<&'a RootCauseReport>,
}

impl BlockerGroup<'_> {
    /// The shared cause: the root cause's summary, else the blocker's own.
    pub fn cause(&self) -> Option<&str> {
        match self.root_cause {
            Some(rc) => Some(&rc.summary),
            None => self.blockers[0].cause.as_deref(),
        }
    }

    /// The root cause's remediation, else each distinct one of its blockers.
    pub fn fixes(&self) -> Vec<&str> {
        let mut fixes: Vec<&str> = Vec::new();
        match self.root_cause.and_then(|rc| rc.remediation.as_deref()) {
            Some(fix) => fixes.push(fix),
            None => {
                for b in &self.blockers {
                    if let Some(fix) = b.remediation.as_deref()
                        && !fixes.contains(&fix)
                    {
                        fixes.push(fix);
                    }
                }
            }
        }
        fixes
    }
}

/// Groups the blockers by the root cause that names their check, and the
/// rest by identical cause and fix; groups keep the blockers' order (most
/// severe first).
pub(crate) fn group_blockers(r: &Report) -> Vec<BlockerGroup<'_>> {
    let mut groups: Vec<BlockerGroup<'_>> = Vec::new();
    for b in &r.blockers {
        let rc = r.root_causes.iter().find(|rc| rc.checks.contains(&b.check));
        let same = |g: &BlockerGroup<'_>| match (rc, g.root_cause) {
            (Some(a), Some(g)) => std::ptr::eq(a, g),
            (None, None) => {
                let first = g.blockers[0];
                b.cause.is_some() && first.cause == b.cause && first.remediation == b.remediation
            }
            _ => false,
        };
        match groups.iter_mut().find(|g| same(g)) {
            Some(g) => g.blockers.push(b),
            None => groups.push(BlockerGroup {
                blockers: vec![b],
                root_cause: rc,
            }),
        }
    }
    groups
}
