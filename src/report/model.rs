//! The one report model every format renders (DESIGN §6). Its JSON form is
//! versioned and its JSON Schema is printed by `medianest-gate schema report`,
//! so the doc comments on these types are that schema's descriptions: they
//! speak to a consumer of the JSON and cite nothing it does not have.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::status::ReqStatus;
use crate::status::Severity;
use crate::status::Status;

pub const SCHEMA_VERSION: u32 = 1;

/// The values of [`Report::verdict`]: the schema's enum and the builder
/// share them, so neither can name one the other does not.
pub mod verdict {
    /// The gate passed.
    pub const PASS: &str = "pass";
    /// The gate did not pass.
    pub const BLOCKED: &str = "blocked";
    /// It would pass on what was checked, but required checks were skipped.
    pub const PARTIAL: &str = "partial";
    pub const ALL: [&str; 3] = [PASS, BLOCKED, PARTIAL];
}

fn verdict_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({ "type": "string", "enum": verdict::ALL })
}

/// The result of one `medianest-gate check` run: the gate's score and
/// verdict, every requirement with its checks, what blocks the gate and
/// what fixing it is worth.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[schemars(title = "medianest-gate report")]
pub struct Report {
    /// Always 1 for this layout.
    #[schemars(range(min = 1, max = 1))]
    pub schema_version: u32,
    pub tool: Tool,
    pub gate: GateInfo,
    /// RFC 3339, UTC.
    pub started_at: String,
    pub duration_ms: u64,
    /// Weighted compliance score, 0–100, one decimal.
    #[schemars(range(min = 0, max = 100))]
    pub score: f64,
    /// The gate passed (exit code 0).
    pub passed: bool,
    /// `pass`, `blocked`, or `partial`: it would pass on what was checked,
    /// but required checks were skipped (and `--allow-partial` was not given).
    #[schemars(schema_with = "verdict_schema")]
    pub verdict: String,
    /// Required requirements or checks were skipped: the run is partial,
    /// whatever its verdict.
    pub partial: bool,
    /// What was not checked, when `partial`.
    pub not_checked: Vec<String>,
    /// One sentence: why the verdict is what it is.
    pub summary: String,
    /// `--insecure` was used: TLS certificates were not verified.
    pub insecure: bool,
    /// Rounds the gate was run in: 1, or more when `--wait` retried the
    /// failing checks.
    #[schemars(range(min = 1))]
    pub attempts: u32,
    pub counts: Counts,
    pub requirements: Vec<RequirementReport>,
    /// Checks that keep the gate from passing, most severe first.
    pub blockers: Vec<Blocker>,
    /// Failures grouped by shared cause, largest score impact first.
    pub root_causes: Vec<RootCauseReport>,
    pub fix_path: FixPathReport,
    pub warnings: Vec<String>,
    /// The gate's `warm_up:` traffic, when `--synthetic` sent it.
    // Left out, never `null`, when absent: the schema says so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "WarmUpReport")]
    pub warm_up: Option<WarmUpReport>,
    /// The HTTP requests the run sent, by target: the gate's load on the
    /// stack. Absent in reports of versions that did not count them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "RequestsReport")]
    pub requests: Option<RequestsReport>,
    /// Set when the probed stack was simulated (`medianest-gate demo`): what
    /// it simulated. Absent for every run against a real stack.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub simulated: Option<String>,
}

/// What the warm-up sent before the checks (a synthetic action).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct WarmUpReport {
    /// The gate target the traffic went to.
    pub target: String,
    pub paths: Vec<String>,
    pub requests_planned: u32,
    pub requests_sent: u32,
    /// Answers by HTTP status code; requests that got none, by failure
    /// class (`refused`, `timeout`, …).
    pub answers: BTreeMap<String, u32>,
    /// RFC 3339, UTC: when the first request was sent.
    pub started_at: String,
    /// How long the traffic took.
    pub traffic_ms: u64,
    /// The scrape interval read from Prometheus, when it could be.
    pub scrape_interval_ms: Option<u64>,
    /// How long the checks waited after the traffic for it to be scraped.
    pub waited_ms: u64,
    /// One sentence, as every format shows it.
    pub summary: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
pub struct RequestsReport {
    /// Every request sent, `--wait` retries included (Docker Engine calls are not counted).
    pub total: u64,
    /// One entry per address that received requests, in target-name order.
    pub by_target: Vec<RequestCount>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
pub struct RequestCount {
    /// The gate targets at this address (`scheme://host:port`): several when
    /// they share it, none for an address no target names.
    pub targets: Vec<String>,
    pub requests: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Tool {
    pub name: String,
    pub version: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct GateInfo {
    pub id: String,
    pub name: String,
    pub source: String,
    /// Minimum score to pass.
    pub threshold: f64,
    pub required_must_pass: bool,
    /// `source` is a file the user's repository holds (not the built-in
    /// Gate G), so annotations may point into it. Render-only: not part of
    /// the versioned JSON.
    #[serde(skip)]
    #[schemars(skip)]
    pub from_file: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
pub struct Counts {
    pub pass: usize,
    pub fail: usize,
    pub error: usize,
    pub blocked: usize,
    pub skipped: usize,
    pub waived: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct RequirementReport {
    pub id: String,
    pub name: String,
    pub weight: f64,
    pub required: bool,
    pub severity: Severity,
    /// 0–100, one decimal (0 when skipped).
    #[schemars(range(min = 0, max = 100))]
    pub score: f64,
    pub status: ReqStatus,
    pub checks: Vec<CheckReport>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct CheckReport {
    pub id: String,
    pub name: Option<String>,
    pub kind: String,
    pub target: Option<String>,
    pub weight: f64,
    pub status: Status,
    pub duration_ms: u64,
    pub message: String,
    /// Observed values.
    pub evidence: BTreeMap<String, Value>,
    /// What the gate asked for.
    pub expected: BTreeMap<String, Value>,
    /// Why it did not pass (the root cause's summary).
    pub cause: Option<String>,
    pub remediation: Option<String>,
    /// A command that reproduces the observation; secrets appear as `$NAME`.
    pub reproduce: Option<String>,
    pub security: bool,
    pub waiver: Option<WaiverReport>,
    /// Rounds it was run in: 1, or more when `--wait` retried it; 0 when
    /// it was skipped (not run).
    pub attempts: u32,
    /// It did not pass in an earlier `--wait` attempt and passed on a retry.
    pub passed_after_retry: bool,
    pub warnings: Vec<String>,
    /// The line of the check in the gate file, when known. Render-only (the
    /// GitHub and Code Quality formats point at it): not part of the
    /// versioned JSON.
    #[serde(skip)]
    #[schemars(skip)]
    pub line: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct WaiverReport {
    pub reason: String,
    pub expires: String,
    pub expired: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Blocker {
    pub requirement: String,
    pub check: String,
    pub severity: Severity,
    pub status: Status,
    pub security: bool,
    pub message: String,
    pub cause: Option<String>,
    pub remediation: Option<String>,
    pub evidence: BTreeMap<String, Value>,
    pub reproduce: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct RootCauseReport {
    /// Stable grouping key, e.g. `unreachable:backend`.
    pub key: String,
    pub summary: String,
    /// Points the gate would gain if this were fixed.
    #[schemars(range(min = 0, max = 100))]
    pub score_impact: f64,
    pub severity: Severity,
    pub security: bool,
    /// Check ids failing or blocked because of it.
    pub checks: Vec<String>,
    /// Required requirements that pass once it is fixed.
    pub unblocks: Vec<String>,
    pub remediation: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct FixPathReport {
    pub already_passing: bool,
    /// Fixing the steps passes the gate.
    pub reachable: bool,
    pub score_after: f64,
    pub steps: Vec<FixStepReport>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct FixStepReport {
    pub root_cause: String,
    pub summary: String,
    pub score_after: f64,
}

impl Report {
    pub fn all_checks(&self) -> impl Iterator<Item = (&RequirementReport, &CheckReport)> {
        self.requirements
            .iter()
            .flat_map(|r| r.checks.iter().map(move |c| (r, c)))
    }
}
