//! `needs` between checks: every name must be a check of the gate, and the
//! graph must have no cycle (each cycle is reported once, at a check in it).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::fields::Cx;
use super::model::Gate;
use super::raw::Loc;

impl Cx<'_> {
    /// Unknown `needs` and cycles, each reported at the `needs` entry.
    pub(super) fn check_needs(&mut self, gate: &Gate, ids: &HashMap<String, Loc>) {
        let mut graph: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (_, c) in gate.checks() {
            for n in &c.needs {
                if !ids.contains_key(n) {
                    // Only on the error path: the id list is built for the hint.
                    let hint = if gate.requirements.iter().any(|r| &r.id == n) {
                        format!("`{n}` is a requirement; `needs` lists ids of checks, e.g. one of the checks of `{n}`")
                    } else {
                        match crate::suggest::closest(n, ids.keys().map(String::as_str)) {
                            Some(near) => {
                                format!("did you mean `{near}`? `needs` lists ids of other checks in this gate")
                            }
                            None => "`needs` lists ids of other checks in this gate".to_string(),
                        }
                    };
                    self.err(c.loc, format!("check `{}` needs unknown check `{n}`", c.id), Some(hint));
                } else if n == &c.id {
                    self.err(
                        c.loc,
                        format!("check `{}` needs itself", c.id),
                        Some("remove it from its own `needs`".to_string()),
                    );
                }
            }
            graph.insert(
                &c.id,
                c.needs
                    .iter()
                    .map(String::as_str)
                    .filter(|n| ids.contains_key(*n))
                    .collect(),
            );
        }
        // Depth-first search with colours; each cycle is reported once.
        let mut state: HashMap<&str, u8> = HashMap::new();
        let mut reported: BTreeSet<Vec<String>> = BTreeSet::new();
        for start in graph.keys().copied() {
            let mut stack: Vec<(&str, usize)> = vec![(start, 0)];
            let mut path: Vec<&str> = Vec::new();
            if state.get(start).copied().unwrap_or(0) != 0 {
                continue;
            }
            while let Some((node, idx)) = stack.pop() {
                if idx == 0 {
                    state.insert(node, 1);
                    path.push(node);
                }
                let next = graph.get(node).and_then(|v| v.get(idx)).copied();
                match next {
                    Some(n) => {
                        stack.push((node, idx + 1));
                        match state.get(n).copied().unwrap_or(0) {
                            0 => stack.push((n, 0)),
                            1 if n != node => {
                                let pos = path.iter().position(|p| *p == n).unwrap_or(0);
                                let mut cycle: Vec<String> = path[pos..].iter().map(|s| s.to_string()).collect();
                                let mut key = cycle.clone();
                                key.sort();
                                if reported.insert(key) {
                                    cycle.push(n.to_string());
                                    let loc = gate.find_check(n).map(|(_, c)| c.loc).unwrap_or_default();
                                    self.err(
                                        loc,
                                        format!("`needs` cycle: {}", cycle.join(" → ")),
                                        Some("a check cannot wait for itself: remove one of these `needs`".to_string()),
                                    );
                                }
                            }
                            _ => {}
                        }
                    }
                    None => {
                        state.insert(node, 2);
                        path.pop();
                    }
                }
            }
        }
    }
}
