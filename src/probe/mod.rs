//! Probes: one module per check kind, each owning its spec, fields,
//! validation and probe (see [`registry::Kind`]), all listed once in the
//! `kinds!` invocation below.
//!
//! A probe never returns an error: whatever happens (refused, timeout,
//! garbage body) becomes an [`Outcome`] with a status, evidence, a cause and a
//! remediation, because a failed probe is a finding, not a crash.
//!
//! Adding a kind: write `probe/<kind>.rs` with a spec type implementing
//! [`registry::Kind`], and add one line to the list below.

#[macro_use]
pub mod registry;

mod blocking;
mod context;
mod docker;
mod docker_diagnosis;
mod outcome;
mod prometheus_api;
mod targets_scan;
pub(crate) use targets_scan::scrape_interval;

pub use context::ProbeContext;
/// Loki retention logic, public for the fuzz target that feeds it hostile `/config` bodies.
pub use loki::{Retention, effective_retention};
pub use outcome::{Cause, Outcome};

pub use crate::status::Status;

kinds! {
    Http(http::HttpSpec),
    MetricsEndpoint(metrics_endpoint::MetricsSpec),
    PrometheusTargets(prometheus_targets::TargetsSpec),
    Promql(promql::PromqlSpec),
    LatencySlo(latency_slo::LatencySpec),
    PrometheusRules(prometheus_rules::RulesSpec),
    Grafana(grafana::GrafanaSpec),
    GrafanaDashboards(grafana_dashboards::DashboardsSpec),
    Loki(loki::LokiSpec),
    DockerContainer(docker_container::ContainerSpec),
    DockerNetwork(docker_network::NetworkSpec),
    Tracing(tracing::TracingSpec),
    Alertmanager(alertmanager::AlertmanagerSpec),
    AlertDelivery(alert_delivery::DeliverySpec),
    TelemetryRoundtrip(telemetry_roundtrip::RoundtripSpec),
}
