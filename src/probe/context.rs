//! What a probe may use ([`ProbeContext`]): the shared HTTP client, the gate,
//! its check and target, the deadline; and the outcomes every HTTP-speaking
//! kind shares (transport failures, reproduce commands).

use std::time::Duration;

use secrecy::ExposeSecret;

use super::{Outcome, Status};
use crate::gate::{Check, Gate, Target};
use crate::http::{FetchError, HttpClient, fmt_duration};

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

    /// How a person changes the target's address: "`GRAFANA_URL`" when the
    /// gate reads it from a variable, else "the `grafana` target".
    pub fn target_setting(&self) -> String {
        match self.target_var() {
            Some(var) => format!("`{var}`"),
            None => format!("the `{}` target", self.target_name()),
        }
    }

    /// How a person sets a secret: "`GRAFANA_TOKEN`" when the gate reads it
    /// from a variable, else "the secret `grafana_token`".
    pub fn secret_setting(&self, name: &str) -> String {
        match self.gate.secrets.get(name) {
            Some(s) if s.from_var => format!("`{}`", s.placeholder.trim_start_matches('$')),
            _ => format!("the secret `{name}`"),
        }
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
            FetchError::OutOfDescriptors => (
                "tool:descriptors".to_string(),
                "medianest-gate itself ran out of file descriptors (not a problem of the target)".to_string(),
                "raise the open-file limit (`ulimit -n`) or lower `--concurrency`".to_string(),
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
