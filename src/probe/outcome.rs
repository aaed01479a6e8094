//! What a probe found: an [`Outcome`] with a status, evidence, a cause and a
//! remediation. A failed probe is a finding, not an error.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::status::Status;

/// Why a check did not pass. Checks with the same `key` share one root cause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cause {
    pub key: String,
    pub summary: String,
    /// 0 for the most fundamental explanation (a dead container) over the
    /// symptoms it causes (refused connections); a root cause takes its
    /// summary from its lowest-ranked check.
    pub rank: u8,
}

/// What a probe found.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub status: Status,
    pub message: String,
    /// Observed values.
    pub evidence: BTreeMap<String, Value>,
    /// What the gate asked for.
    pub expected: BTreeMap<String, Value>,
    pub cause: Option<Cause>,
    pub remediation: Option<String>,
    /// A command that shows the same thing by hand (secrets as `$NAME`).
    pub reproduce: Option<String>,
    /// A security finding: reported as a critical blocker whatever the requirement's severity.
    pub security: bool,
    pub warnings: Vec<String>,
}

impl Outcome {
    pub fn new(status: Status, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            evidence: BTreeMap::new(),
            expected: BTreeMap::new(),
            cause: None,
            remediation: None,
            reproduce: None,
            security: false,
            warnings: Vec::new(),
        }
    }
    pub fn pass(message: impl Into<String>) -> Self {
        Self::new(Status::Pass, message)
    }
    pub fn fail(message: impl Into<String>) -> Self {
        Self::new(Status::Fail, message)
    }
    pub fn error(message: impl Into<String>) -> Self {
        Self::new(Status::Error, message)
    }
    pub fn evidence(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.evidence.insert(key.to_string(), value.into());
        self
    }
    pub fn expected(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.expected.insert(key.to_string(), value.into());
        self
    }
    pub fn cause(mut self, key: impl Into<String>, summary: impl Into<String>) -> Self {
        self.cause = Some(Cause {
            key: key.into(),
            summary: summary.into(),
            rank: 1,
        });
        self
    }
    /// A cause that explains its key's other failures (a dead container
    /// behind refused connections): the root cause takes its summary.
    pub fn root_cause(mut self, key: impl Into<String>, summary: impl Into<String>) -> Self {
        self = self.cause(key, summary);
        if let Some(c) = &mut self.cause {
            c.rank = 0;
        }
        self
    }
    pub fn remediation(mut self, text: impl Into<String>) -> Self {
        self.remediation = Some(text.into());
        self
    }
    pub fn reproduce(mut self, cmd: impl Into<String>) -> Self {
        self.reproduce = Some(cmd.into());
        self
    }
}
