//! The validated gate the runner executes: every reference resolved, every
//! duration parsed, every check typed by its kind.

use std::collections::BTreeMap;
use std::time::Duration;

pub use super::raw::Loc;
pub use crate::probe::CheckSpec;
pub use crate::status::Severity;
use secrecy::SecretString;

/// A variable a value needs but the environment does not have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingVar {
    pub var: String,
    pub loc: Loc,
}

/// Which part of a gate reads a variable.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    Target(String),
    Secret(String),
    Check(String),
    WarmUp,
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Scope::Target(n) => write!(f, "target {n}"),
            Scope::Secret(n) => write!(f, "secret {n}"),
            Scope::Check(n) => write!(f, "check {n}"),
            Scope::WarmUp => f.write_str("warm_up"),
        }
    }
}

/// A `${VAR}` the gate reads, with where it reads it (for `list`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variable {
    pub name: String,
    /// The first `:-default` written for it, if any.
    pub default: Option<String>,
    /// Named in a `secrets:` value: its value is never shown.
    pub secret: bool,
    /// Every part of the gate that reads it, in file order, without repeats.
    pub used_by: Vec<Scope>,
}

#[derive(Debug, Clone)]
pub struct Gate {
    pub id: String,
    pub name: String,
    /// The file the gate came from, as shown in errors.
    pub source: String,
    pub pass: PassRule,
    pub targets: BTreeMap<String, Target>,
    pub secrets: BTreeMap<String, Secret>,
    pub default_timeout: Option<Duration>,
    /// Traffic sent before the checks, only with `--synthetic`.
    pub warm_up: Option<WarmUp>,
    pub requirements: Vec<Requirement>,
    /// Every variable the gate references, by name.
    pub variables: Vec<Variable>,
}

/// `warm_up:`: bounded traffic to one of the gate's own targets before the
/// checks, so that latency and rate checks judge fresh data.
#[derive(Debug, Clone)]
pub struct WarmUp {
    pub target: String,
    /// Requested in turn: request *i* goes to `paths[i % paths.len()]`.
    pub paths: Vec<String>,
    pub requests: u32,
    pub concurrency: u32,
    /// Requests per second, at most.
    pub rate: f64,
    /// Per request.
    pub timeout: Duration,
    /// Where to read the scrape interval to wait after the traffic: a
    /// Prometheus target and the scrape job that collects the traffic.
    pub settle: Option<Settle>,
    /// Variables the warm-up needs but the environment lacks.
    pub missing: Vec<MissingVar>,
    pub loc: Loc,
}

#[derive(Debug, Clone)]
pub struct Settle {
    pub prometheus: String,
    pub job: String,
}

/// When the gate passes: the score threshold and whether every required
/// requirement must pass (`--min-score` overrides the threshold).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PassRule {
    pub min_score: f64,
    pub required_must_pass: bool,
}

#[derive(Debug, Clone)]
pub struct Target {
    pub name: String,
    /// The expanded value; meaningless while `missing` is non-empty.
    pub url: String,
    /// Variables the value names, for remediation hints (`MEDIANEST_BACKEND_URL`).
    pub vars: Vec<String>,
    pub missing: Vec<MissingVar>,
    pub loc: Loc,
}

#[derive(Debug, Clone)]
pub struct Secret {
    pub name: String,
    pub value: SecretString,
    /// How a reproduction command should spell it: `$METRICS_TOKEN`.
    pub placeholder: String,
    /// The value comes from an environment variable (the placeholder's).
    pub from_var: bool,
    pub missing: Vec<MissingVar>,
    pub loc: Loc,
}

#[derive(Debug, Clone)]
pub struct Requirement {
    pub id: String,
    pub name: String,
    pub weight: f64,
    pub severity: Severity,
    pub required: bool,
    pub checks: Vec<Check>,
}

#[derive(Debug, Clone)]
pub struct Waiver {
    pub reason: String,
    /// `YYYY-MM-DD`, inclusive.
    pub expires: String,
    /// Where `expires` is written, for `validate`'s expiry warnings.
    pub loc: Loc,
}

#[derive(Debug, Clone)]
pub struct Check {
    pub id: String,
    pub name: Option<String>,
    pub target: Option<String>,
    pub weight: f64,
    pub timeout: Option<Duration>,
    pub needs: Vec<String>,
    pub waiver: Option<Waiver>,
    pub spec: CheckSpec,
    /// Variables the check's own fields need but the environment lacks.
    pub missing: Vec<MissingVar>,
    pub loc: Loc,
}

impl Gate {
    pub fn checks(&self) -> impl Iterator<Item = (&Requirement, &Check)> {
        self.requirements
            .iter()
            .flat_map(|r| r.checks.iter().map(move |c| (r, c)))
    }

    pub fn find_check(&self, id: &str) -> Option<(&Requirement, &Check)> {
        self.checks().find(|(_, c)| c.id == id)
    }
}
