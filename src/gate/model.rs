//! The validated gate the runner executes: every reference resolved, every
//! duration parsed, every check typed by its kind.

use std::collections::BTreeMap;
use std::time::Duration;

use secrecy::SecretString;
use serde::Serialize;

pub use super::raw::Loc;

/// How bad a failing requirement is; blockers are ordered by it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Critical,
    High,
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

impl From<super::raw::RawSeverity> for Severity {
    fn from(s: super::raw::RawSeverity) -> Self {
        use super::raw::RawSeverity as R;
        match s {
            R::Critical => Severity::Critical,
            R::High => Severity::High,
            R::Medium => Severity::Medium,
            R::Low => Severity::Low,
        }
    }
}

/// A variable a value needs but the environment does not have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingVar {
    pub var: String,
    pub loc: Loc,
}

#[derive(Debug, Clone)]
pub struct Gate {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    /// The file the gate came from, as shown in errors.
    pub source: String,
    pub pass: PassRule,
    pub targets: BTreeMap<String, Target>,
    pub secrets: BTreeMap<String, Secret>,
    pub default_timeout: Option<Duration>,
    pub requirements: Vec<Requirement>,
}

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
    pub missing: Vec<MissingVar>,
    pub loc: Loc,
}

#[derive(Debug, Clone)]
pub struct Requirement {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
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

/// What a check probes, by kind. Adding a kind means one variant here, one
/// file in `probe/` and one arm in the loader.
#[derive(Debug, Clone)]
pub enum CheckSpec {
    Http(HttpSpec),
    MetricsEndpoint(MetricsSpec),
    PrometheusTargets(TargetsSpec),
    Promql(PromqlSpec),
    LatencySlo(LatencySpec),
    PrometheusRules(RulesSpec),
    Grafana(GrafanaSpec),
    Loki(LokiSpec),
    DockerContainer(ContainerSpec),
    DockerNetwork(NetworkSpec),
}

impl CheckSpec {
    pub fn kind(&self) -> &'static str {
        match self {
            CheckSpec::Http(_) => "http",
            CheckSpec::MetricsEndpoint(_) => "metrics_endpoint",
            CheckSpec::PrometheusTargets(_) => "prometheus_targets",
            CheckSpec::Promql(_) => "promql",
            CheckSpec::LatencySlo(_) => "latency_slo",
            CheckSpec::PrometheusRules(_) => "prometheus_rules",
            CheckSpec::Grafana(_) => "grafana",
            CheckSpec::Loki(_) => "loki",
            CheckSpec::DockerContainer(_) => "docker_container",
            CheckSpec::DockerNetwork(_) => "docker_network",
        }
    }

    /// Names of the secrets the check sends.
    pub fn secrets(&self) -> Vec<&str> {
        match self {
            CheckSpec::Http(h) => h.token.as_deref().into_iter().collect(),
            CheckSpec::MetricsEndpoint(m) => m.token.as_deref().into_iter().collect(),
            CheckSpec::Grafana(g) => [&g.token, &g.user, &g.password]
                .into_iter()
                .filter_map(|s| s.as_deref())
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// The kinds a gate file may name.
pub const KINDS: &[&str] = &[
    "http",
    "metrics_endpoint",
    "prometheus_targets",
    "promql",
    "latency_slo",
    "prometheus_rules",
    "grafana",
    "loki",
    "docker_container",
    "docker_network",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LatencyStat {
    Max,
    P95,
}

#[derive(Debug, Clone)]
pub struct HttpSpec {
    pub path: String,
    pub token: Option<String>,
    /// Empty means any 2xx.
    pub expect_status: Vec<u16>,
    pub samples: u32,
    pub max_latency: Option<Duration>,
    pub latency_stat: LatencyStat,
    pub expect_json: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Clone)]
pub struct MetricsSpec {
    pub path: String,
    pub token: Option<String>,
    pub expect_families: Vec<String>,
    pub family_types: BTreeMap<String, String>,
    pub anonymous_status: Vec<u16>,
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

#[derive(Debug, Clone)]
pub struct TargetsSpec {
    /// The scrape job (`scrapePool`) that must be healthy.
    pub job: String,
    pub min_targets: u32,
    /// The gate target the job is meant to scrape, to attribute "connection
    /// refused" to the backend and to spot port mismatches.
    pub backend_target: Option<String>,
}

/// Comparison operators for thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
}

impl Op {
    pub fn parse(s: &str) -> Option<Op> {
        Some(match s {
            "<" => Op::Lt,
            "<=" => Op::Le,
            ">" => Op::Gt,
            ">=" => Op::Ge,
            "==" => Op::Eq,
            _ => return None,
        })
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Eq => "==",
        }
    }
    pub fn holds(self, value: f64, threshold: f64) -> bool {
        match self {
            Op::Lt => value < threshold,
            Op::Le => value <= threshold,
            Op::Gt => value > threshold,
            Op::Ge => value >= threshold,
            Op::Eq => value == threshold,
        }
    }
}

#[derive(Debug, Clone)]
pub struct PromqlSpec {
    pub query: String,
    pub op: Op,
    pub threshold: f64,
}

#[derive(Debug, Clone)]
pub struct LatencySpec {
    /// Histogram base name, e.g. `http_request_duration_seconds`.
    pub metric: String,
    /// Label matchers without braces, e.g. `job="medianest-backend"`.
    pub selector: String,
    pub quantile: f64,
    pub max: Duration,
    /// PromQL range, e.g. `5m`.
    pub window: String,
    /// Fewer requests than this in the window make the quantile untrustworthy.
    pub min_requests: f64,
}

#[derive(Debug, Clone)]
pub struct RulesSpec {
    pub rules: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct GrafanaSpec {
    /// Secret holding a service account token (Bearer); used when non-empty.
    pub token: Option<String>,
    /// Secrets holding basic-auth credentials; used when no token is set.
    pub user: Option<String>,
    pub password: Option<String>,
    pub min_dashboards: u32,
    /// Dashboard titles that must exist.
    pub dashboards: Vec<String>,
    /// Datasource names to health-check; empty means all.
    pub datasources: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct LokiSpec {
    pub min_retention: Duration,
    /// LogQL stream selector whose logs must be arriving; empty skips that part.
    pub selector: String,
    pub logs_window: Duration,
    /// Sent as `X-Scope-OrgID` when non-empty.
    pub tenant: String,
}

#[derive(Debug, Clone)]
pub struct ContainerSpec {
    /// Exact container name (without the leading `/`).
    pub container: String,
    /// More restarts than this fail the check (a restart loop).
    pub max_restarts: u32,
    /// How long a health check may stay `starting` after the container started.
    pub start_grace: Duration,
    /// Log lines to keep as evidence when the container is unwell.
    pub log_lines: u32,
    /// The gate target this container serves: its failure is that target's
    /// root cause, so the target's refused HTTP checks group under it.
    pub serves: Option<String>,
}

#[derive(Debug, Clone)]
pub struct NetworkSpec {
    /// Containers that must share at least one network.
    pub containers: Vec<String>,
}
