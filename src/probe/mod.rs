//! Probes: one file per check kind, all behind the [`Probe`] trait.
//!
//! A probe never returns an error: whatever happens (refused, timeout,
//! garbage body) becomes an [`Outcome`] with a status, evidence, a cause and a
//! remediation, because a failed probe is a finding, not a crash.

mod docker;
mod docker_container;
mod docker_network;
mod grafana;
mod http;
mod latency_slo;
mod loki;
mod metrics_endpoint;
mod prometheus_api;
mod prometheus_rules;
mod prometheus_targets;
mod promql;

/// Loki retention logic, public for the fuzz target that feeds it hostile `/config` bodies.
pub use loki::{Retention, effective_retention};

use std::collections::BTreeMap;
use std::time::Duration;

use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::gate::{Check, CheckSpec, Gate, Target};
use crate::http::{FetchError, HttpClient, fmt_duration};

/// The status of one check (DESIGN §5). Only `pass` earns credit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Fail,
    /// Could not be evaluated: unreachable, no data, bad response.
    Error,
    /// A check it `needs` did not pass, so it was not run.
    Blocked,
    /// Filtered out with `--only` / `--skip`.
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
}

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

/// Everything a probe may use. Built once per check by the runner.
pub struct ProbeContext<'a> {
    pub http: &'a HttpClient,
    pub gate: &'a Gate,
    pub check: &'a Check,
    pub target: Option<&'a Target>,
    pub timeout: Duration,
    pub deadline: tokio::time::Instant,
}

impl ProbeContext<'_> {
    /// The target's base URL.
    pub fn base_url(&self) -> &str {
        self.target.map(|t| t.url.as_str()).unwrap_or_default()
    }

    /// The environment variable the target's URL comes from (`PROMETHEUS_URL`), for hints.
    pub fn target_var(&self) -> Option<&str> {
        self.target.and_then(|t| t.vars.first()).map(String::as_str)
    }

    pub fn target_name(&self) -> &str {
        self.target.map(|t| t.name.as_str()).unwrap_or("?")
    }

    /// The value of a named secret (never to be printed).
    pub fn secret(&self, name: &str) -> Option<&str> {
        self.gate.secrets.get(name).map(|s| s.value.expose_secret())
    }

    /// How reproduction commands spell a secret: `$METRICS_TOKEN`.
    pub fn placeholder(&self, name: &str) -> String {
        self.gate
            .secrets
            .get(name)
            .map(|s| s.placeholder.clone())
            .unwrap_or_else(|| format!("${}", name.to_ascii_uppercase()))
    }

    /// A `curl` line that repeats a GET by hand, with the token as a
    /// placeholder the person's shell expands. Every argument is quoted, as
    /// URLs can hold `'` and `$(…)`. A Docker host (`unix://`, `tcp://`),
    /// which curl cannot take as a URL, becomes a ping of its Engine API.
    pub fn curl(&self, url: &str, token: Option<&str>) -> String {
        use crate::shell::{Word, docker_api_args, join_words};
        let mut argv: Vec<Word> = ["curl", "-sS", "-i", "--max-time"].map(Word::from).into();
        argv.push(self.timeout.as_secs().max(1).to_string().into());
        if self.http.tls.insecure {
            argv.push("-k".into());
        }
        if let Some(ca) = &self.http.tls.ca_cert {
            argv.push("--cacert".into());
            argv.push(ca.to_string_lossy().into_owned().into());
        }
        if let Some(name) = token {
            argv.push("-H".into());
            argv.push(Word::literal("Authorization: Bearer ").placeholder(&self.placeholder(name)));
        }
        match docker_api_args(url, "/_ping").filter(|_| url.starts_with("unix://") || url.starts_with("tcp://")) {
            Some(args) => argv.extend(args.into_iter().map(Word::from)),
            None => argv.push(url.into()),
        }
        join_words(&argv)
    }

    /// An outcome for a request that got no usable answer. Failures that make
    /// the whole target unusable share one cause key per target, so the
    /// report groups them into one root cause.
    pub fn transport_failure(&self, url: &str, err: &FetchError) -> Outcome {
        let target = self.target_name();
        let base = self.base_url();
        let env_hint = self
            .target_var()
            .map(|v| format!(" (set by `{v}`)"))
            .unwrap_or_default();
        let (key, summary, remediation) = match err {
            FetchError::Refused { addr } => (
                format!("unreachable:{target}"),
                format!("target `{target}` ({base}) refused the connection: nothing listens on {addr}"),
                format!(
                    "start the `{target}` service or fix its address{env_hint}; check `docker compose ps` and the container's logs"
                ),
            ),
            FetchError::Dns { host, .. } => (
                format!("unreachable:{target}"),
                format!("target `{target}` ({base}): host `{host}` does not resolve"),
                format!("fix the host name in the `{target}` URL{env_hint}, or run the check where that name resolves"),
            ),
            FetchError::Tls { detail } => (
                format!("tls:{target}"),
                format!("target `{target}` ({base}): TLS handshake failed: {detail}"),
                "pass the issuing CA with `--ca-cert FILE`, fix the server certificate, or use `--insecure` for a throwaway environment".to_string(),
            ),
            FetchError::Timeout { .. } => (
                format!("timeout:{target}"),
                format!("target `{target}` ({base}) did not answer within {}", fmt_duration(self.timeout)),
                format!("find out why `{target}` hangs (overload, deadlock, firewall dropping packets){env_hint}, or raise the check's `timeout`"),
            ),
            FetchError::TooLarge { .. } | FetchError::Redirect { .. } => (
                format!("check:{}", self.check.id),
                format!("{url}: {}", err.describe()),
                "make the endpoint answer directly with a bounded body".to_string(),
            ),
            FetchError::Other { detail } => (
                format!("unreachable:{target}"),
                format!("target `{target}` ({base}): {detail}"),
                format!("check that `{target}` is up and speaks HTTP at that address{env_hint}"),
            ),
        };
        let status = match err {
            FetchError::TooLarge { .. } | FetchError::Redirect { .. } => Status::Fail,
            _ => Status::Error,
        };
        let described = match err {
            // The client measures what was left of the budget; people set the timeout.
            FetchError::Timeout { .. } => {
                format!("no answer within {}", fmt_duration(self.timeout))
            }
            other => other.describe(),
        };
        Outcome::new(status, format!("GET {url}: {described}"))
            .evidence("url", url)
            .evidence("error", err.class())
            .cause(key, summary)
            .remediation(remediation)
            .reproduce(self.curl(url, None))
    }
}

/// A check kind. Implementations live one per file in this folder.
pub trait Probe {
    #[expect(async_fn_in_trait, reason = "static dispatch only; never used as dyn")]
    async fn run(&self, cx: &ProbeContext<'_>) -> Outcome;
}

/// Runs the probe behind a check's spec.
pub async fn run(spec: &CheckSpec, cx: &ProbeContext<'_>) -> Outcome {
    let mut outcome = match spec {
        CheckSpec::Http(s) => s.run(cx).await,
        CheckSpec::MetricsEndpoint(s) => s.run(cx).await,
        CheckSpec::PrometheusTargets(s) => s.run(cx).await,
        CheckSpec::Promql(s) => s.run(cx).await,
        CheckSpec::LatencySlo(s) => s.run(cx).await,
        CheckSpec::PrometheusRules(s) => s.run(cx).await,
        CheckSpec::Grafana(s) => s.run(cx).await,
        CheckSpec::Loki(s) => s.run(cx).await,
        CheckSpec::DockerContainer(s) => s.run(cx).await,
        CheckSpec::DockerNetwork(s) => s.run(cx).await,
    };
    if outcome.reproduce.is_none() {
        outcome.reproduce = Some(default_reproduce(spec, cx));
    }
    outcome
}

fn default_reproduce(spec: &CheckSpec, cx: &ProbeContext<'_>) -> String {
    match spec {
        CheckSpec::Http(crate::gate::HttpSpec { path, token, .. })
        | CheckSpec::MetricsEndpoint(crate::gate::MetricsSpec { path, token, .. }) => {
            cx.curl(&crate::http::join_url(cx.base_url(), path), token.as_deref())
        }
        _ => cx.curl(cx.base_url(), None),
    }
}
