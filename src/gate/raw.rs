//! The gate file exactly as written: serde types whose values carry the line
//! and column they came from, so every later validation error can point at
//! the offending token. The JSON Schema of the gate file is derived from here.
//!
//! Checks are one flat struct with a `kind` field rather than an internally
//! tagged enum: serde's tagged and flattened enums buffer their input and lose
//! source positions, and a gate author deserves `file:line:column`.

use std::borrow::Cow;
use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_saphyr::Spanned;

/// A 1-based line and column in the gate file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Loc {
    pub line: u64,
    pub column: u64,
}

impl From<serde_saphyr::Location> for Loc {
    fn from(l: serde_saphyr::Location) -> Self {
        Loc {
            line: l.line(),
            column: l.column(),
        }
    }
}

/// A value and where it was written.
#[derive(Debug, Clone, Deserialize)]
#[serde(transparent)]
pub struct Sp<T>(pub Spanned<T>);

impl<T> Sp<T> {
    pub fn loc(&self) -> Loc {
        self.0.referenced.into()
    }
    pub fn get(&self) -> &T {
        &self.0.value
    }
}

impl<T: JsonSchema> JsonSchema for Sp<T> {
    fn schema_name() -> Cow<'static, str> {
        T::schema_name()
    }
    fn schema_id() -> Cow<'static, str> {
        T::schema_id()
    }
    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        T::json_schema(generator)
    }
    fn inline_schema() -> bool {
        T::inline_schema()
    }
}

/// A gate: weighted requirements, each made of checks.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "medianest-gate gate file")]
pub struct RawGate {
    /// Always 1 for this version of the format.
    pub schema_version: Sp<u32>,
    /// Short id of the gate, e.g. `G`.
    pub id: Sp<String>,
    /// Human name, e.g. `Observability & Operations Readiness`.
    pub name: Sp<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// When the gate passes. Defaults: `min_score: 85`, `required_must_pass: true`.
    #[serde(default)]
    pub pass: Option<RawPass>,
    /// Named endpoints (URLs, or `unix://` paths for Docker). `${VAR}` and
    /// `${VAR:-default}` are expanded; `--target NAME=URL` overrides.
    #[serde(default)]
    pub targets: BTreeMap<String, Sp<String>>,
    /// Named secrets. Their values never appear in any output.
    #[serde(default)]
    pub secrets: BTreeMap<String, Sp<String>>,
    #[serde(default)]
    pub defaults: Option<RawDefaults>,
    pub requirements: Sp<Vec<RawRequirement>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawPass {
    /// Minimum score (0–100) for the gate to pass.
    pub min_score: Option<Sp<f64>>,
    /// When true, every `required` requirement must pass whatever the score.
    pub required_must_pass: Option<bool>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawDefaults {
    /// Per-check timeout, e.g. `5s`, `750ms`.
    pub timeout: Option<Sp<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "lowercase")]
pub enum RawSeverity {
    Critical,
    High,
    #[default]
    Medium,
    Low,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRequirement {
    /// Stable id, used by `--only`, `--skip` and the JSON report.
    pub id: Sp<String>,
    pub name: Sp<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// Share of the gate score; 0 makes the requirement advisory.
    pub weight: Sp<f64>,
    #[serde(default)]
    pub severity: Option<RawSeverity>,
    /// A required requirement must pass for the gate to pass.
    #[serde(default)]
    pub required: Option<bool>,
    pub checks: Sp<Vec<RawCheck>>,
}

/// A waiver: the check earns no credit but does not block until `expires`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawWaiver {
    pub reason: Sp<String>,
    /// Last day the waiver holds, `YYYY-MM-DD`.
    pub expires: Sp<String>,
}

/// One probe. `kind` selects the probe; the other fields that apply depend on it.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawCheck {
    pub id: Sp<String>,
    /// `http`, `metrics_endpoint`, `prometheus_targets`, `promql`,
    /// `latency_slo`, `prometheus_rules`, `grafana`, `loki`,
    /// `docker_container` or `docker_network`.
    pub kind: Sp<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// The name of an entry in `targets`.
    pub target: Option<Sp<String>>,
    /// Weight inside the requirement (default 1).
    pub weight: Option<Sp<f64>>,
    /// Overrides `defaults.timeout` and `--timeout` for this check.
    pub timeout: Option<Sp<String>>,
    /// Ids of checks that must pass before this one runs.
    #[serde(default)]
    pub needs: Vec<Sp<String>>,
    pub waiver: Option<RawWaiver>,

    // --- http, metrics_endpoint ---
    /// Path appended to the target URL.
    pub path: Option<Sp<String>>,
    /// The name of a secret sent as `Authorization: Bearer <secret>`.
    pub token: Option<Sp<String>>,

    // --- http ---
    /// Accepted status codes (default: any 2xx).
    pub expect_status: Option<Sp<Vec<u16>>>,
    /// How many requests to make (default 1); latency is judged over them.
    pub samples: Option<Sp<u32>>,
    /// Latency limit, e.g. `5s`.
    pub max_latency: Option<Sp<String>>,
    /// Which latency to compare with `max_latency`: `max` (default) or `p95`.
    pub latency_stat: Option<Sp<String>>,
    /// JSON fields the body must hold, by dotted path: `{status: ok, "checks.db": up}`.
    pub expect_json: Option<Sp<BTreeMap<String, serde_json::Value>>>,

    // --- metrics_endpoint ---
    /// Metric families that must be exposed.
    pub expect_families: Option<Sp<Vec<String>>>,
    /// Required type per family, e.g. `{http_request_duration_seconds: histogram}`.
    /// Families named `*_total` default to `counter`.
    pub family_types: Option<Sp<BTreeMap<String, String>>>,
    /// Statuses that count as "refused without a token" (default `[401, 403]`).
    pub anonymous_status: Option<Sp<Vec<u16>>>,

    // --- prometheus_targets ---
    /// The scrape job whose targets must be up.
    pub job: Option<Sp<String>>,
    /// Minimum number of active targets for the job (default 1).
    pub min_targets: Option<Sp<u32>>,
    /// The gate target the job scrapes (to tie "connection refused" to it and spot port mismatches).
    pub backend_target: Option<Sp<String>>,

    // --- promql ---
    /// An instant PromQL query.
    pub query: Option<Sp<String>>,
    /// `<`, `<=`, `>`, `>=` or `==`.
    pub op: Option<Sp<String>>,
    pub threshold: Option<Sp<f64>>,

    // --- latency_slo ---
    /// Histogram base name, e.g. `http_request_duration_seconds`.
    pub metric: Option<Sp<String>>,
    /// latency_slo: label matchers without braces (`job="api"`); loki: a LogQL stream selector (`{job="app"}`).
    pub selector: Option<Sp<String>>,
    /// Quantile to compute (default 0.95).
    pub quantile: Option<Sp<f64>>,
    /// Limit for the quantile, e.g. `600ms`.
    pub max: Option<Sp<String>>,
    /// PromQL range window (default `5m`).
    pub window: Option<Sp<String>>,
    /// Requests needed in the window to trust the quantile (default 100).
    pub min_requests: Option<Sp<f64>>,

    // --- prometheus_rules ---
    /// Alert rule names that must be loaded and healthy.
    pub rules: Option<Sp<Vec<String>>>,

    // --- grafana ---
    /// Secret holding the basic-auth user (used when `token` is empty).
    pub user: Option<Sp<String>>,
    /// Secret holding the basic-auth password.
    pub password: Option<Sp<String>>,
    /// Minimum number of dashboards (default 1).
    pub min_dashboards: Option<Sp<u32>>,
    /// Dashboard titles that must exist.
    pub dashboards: Option<Sp<Vec<String>>>,
    /// Datasource names to health-check (default: all).
    pub datasources: Option<Sp<Vec<String>>>,

    // --- loki ---
    /// Minimum effective retention, e.g. `7d`.
    pub min_retention: Option<Sp<String>>,
    /// How recent application logs must be (default `1h`).
    pub logs_window: Option<Sp<String>>,
    /// Tenant sent as `X-Scope-OrgID` (empty: none).
    pub tenant: Option<Sp<String>>,

    // --- docker_container ---
    /// Exact container name.
    pub container: Option<Sp<String>>,
    /// Restarts above this fail the check (default 3).
    pub max_restarts: Option<Sp<u32>>,
    /// How long health may stay `starting` after start (default `60s`).
    pub start_grace: Option<Sp<String>>,
    /// Log lines kept as evidence (default 20, at most 200).
    pub log_lines: Option<Sp<u32>>,
    /// The gate target this container serves (its failure becomes that target's root cause).
    pub serves: Option<Sp<String>>,

    // --- docker_network ---
    /// Containers that must share a network.
    pub containers: Option<Sp<Vec<String>>>,
}
