//! The statuses of the JSON contract (DESIGN §5, §6): a check's status, a
//! requirement's status and a requirement's severity. Probes, scoring and
//! every renderer speak these types, so they live in one place.

use serde::{Deserialize, Serialize};

/// The status of one check. Only `pass` earns credit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Fail,
    /// Could not be evaluated: unreachable, no data, bad response.
    Error,
    /// A check it `needs` did not pass, so it was not run.
    Blocked,
    /// Not run: left out with `--only` / `--skip`, or a synthetic check
    /// run without `--synthetic`.
    Skipped,
    /// Did not pass, but a valid waiver covers it: no credit, does not block.
    Waived,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Error => "error",
            Status::Blocked => "blocked",
            Status::Skipped => "skipped",
            Status::Waived => "waived",
        }
    }

    /// Fail, error and blocked: the statuses that fail a requirement.
    pub fn is_failure(self) -> bool {
        matches!(self, Status::Fail | Status::Error | Status::Blocked)
    }
}

/// A requirement's status in the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReqStatus {
    Pass,
    Fail,
    /// Nothing failed, but at least one check is only waived.
    Waived,
    /// Every check was skipped.
    Skipped,
}

/// How bad a failing requirement is; blockers are ordered by it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Critical,
    High,
    #[default]
    Medium,
    Low,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::High => "high",
            Severity::Medium => "medium",
            Severity::Low => "low",
        }
    }
}
