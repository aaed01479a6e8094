//! The Docker Engine API client the Docker kinds share, and engine errors
//! turned into outcomes. Every daemon-level failure (no socket, permission
//! denied, refused, API version) is keyed on the Docker target, so all
//! Docker checks share one root cause instead of one per check.
//!
//! It speaks HTTP over the daemon's socket (or TCP) with the same client
//! library as every other probe, so every answer is read under a running
//! cap: a daemon that streams an endless body costs at most the cap in
//! memory. Requests are unversioned, so the daemon serves its own API
//! version (Engine 20.10 speaks 1.41); the answers are read into the
//! Engine API's model types from `bollard-stubs` (the models of the bollard client, without its HTTP stack).

use std::time::Duration;

use bollard_stubs::models::{ContainerInspectResponse, ContainerSummary};

use super::{Outcome, ProbeContext};
use crate::http::{FetchError, JSON_CAP, fmt_bytes};

/// The socket path or address a Docker target names, for messages.
pub fn describe_host(host: &str) -> String {
    host.trim_start_matches("unix://").to_string()
}

/// Why a call to the Engine failed.
#[derive(Debug)]
pub enum EngineError {
    /// The socket file does not exist.
    NoSocket,
    PermissionDenied,
    Refused,
    Timeout,
    /// The daemon answered an error status with its message.
    Api {
        status: u16,
        message: String,
    },
    /// The answer was larger than the cap.
    TooLarge {
        cap: usize,
    },
    /// The answer is not the JSON the API documents.
    BadAnswer(String),
    Other(String),
}

/// A connection to one daemon, for one check.
pub struct Engine {
    client: reqwest::Client,
    /// `http://localhost` over a socket, `http://host:port` over TCP.
    base: String,
    deadline: tokio::time::Instant,
}

/// A container's log tail is read up to this many bytes.
pub const MAX_LOG_BYTES: usize = 64 * 1024;

impl Engine {
    /// Connects to the daemon a check's target names and pings it.
    pub async fn connect(cx: &ProbeContext<'_>) -> Result<Engine, Outcome> {
        let host = cx.base_url().to_string();
        let builder = reqwest::Client::builder()
            .no_proxy()
            // A check makes a handful of calls: a fresh connection each time
            // never meets a socket the daemon closed meanwhile.
            .pool_max_idle_per_host(0)
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(30));
        let (builder, base) = if let Some(path) = host.strip_prefix("unix://") {
            (builder.unix_socket(path), "http://localhost".to_string())
        } else if let Some(addr) = host.strip_prefix("tcp://") {
            (builder, format!("http://{}", addr.trim_end_matches('/')))
        } else if host.starts_with("http://") {
            (builder, host.trim_end_matches('/').to_string())
        } else {
            return Err(daemon_failure(
                cx,
                &format!(
                    "unsupported Docker address `{host}` for target `{}` (use unix:///path.sock or tcp://host:port)",
                    cx.target_name()
                ),
            ));
        };
        let client = builder
            .build()
            .map_err(|e| daemon_failure(cx, &format!("cannot build the Docker client: {e}")))?;
        let engine = Engine {
            client,
            base,
            deadline: cx.deadline,
        };
        engine.get("/_ping", 4096).await.map_err(|e| engine_error(cx, &e))?;
        Ok(engine)
    }

    /// GETs an API path, reading at most `cap` bytes; error statuses carry
    /// the daemon's `message`.
    async fn get(&self, path: &str, cap: usize) -> Result<Vec<u8>, EngineError> {
        let url = format!("{}{path}", self.base);
        let fut = async {
            let mut resp = self
                .client
                .get(&url)
                .send()
                .await
                .map_err(|e| request_error(&e, &url))?;
            let status = resp.status();
            let body = crate::http::read_body(&mut resp, cap, &url)
                .await
                .map_err(|e| match e {
                    FetchError::TooLarge { cap, .. } => EngineError::TooLarge { cap },
                    other => EngineError::Other(other.describe()),
                })?;
            if status.is_success() {
                return Ok(body);
            }
            let message = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_string))
                .unwrap_or_else(|| crate::http::excerpt(&body, 200));
            Err(EngineError::Api {
                status: status.as_u16(),
                message,
            })
        };
        tokio::time::timeout_at(self.deadline, fut)
            .await
            .unwrap_or(Err(EngineError::Timeout))
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T, EngineError> {
        let body = self.get(path, JSON_CAP).await?;
        serde_json::from_slice(&body).map_err(|e| EngineError::BadAnswer(format!("{path}: {e}")))
    }

    /// `GET /containers/{name}/json`; `None` when no container has that name or id.
    pub async fn inspect(&self, name: &str) -> Result<Option<ContainerInspectResponse>, EngineError> {
        match self.get_json(&format!("/containers/{name}/json")).await {
            Ok(info) => Ok(Some(info)),
            Err(EngineError::Api { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Every container's names (`GET /containers/json?all=1`), without the leading `/`.
    pub async fn names(&self) -> Result<Vec<String>, EngineError> {
        let list: Vec<ContainerSummary> = self.get_json("/containers/json?all=1").await?;
        Ok(list
            .into_iter()
            .flat_map(|c| c.names.unwrap_or_default())
            .map(|n| n.trim_start_matches('/').to_string())
            .collect())
    }

    /// The last `lines` log lines of both streams, at most [`MAX_LOG_BYTES`]
    /// of them. A container without a TTY multiplexes its streams in frames
    /// (8-byte headers); one with a TTY sends raw bytes.
    pub async fn logs(&self, name: &str, lines: u32, tty: bool) -> Vec<u8> {
        let url = format!("{}/containers/{name}/logs?stdout=1&stderr=1&tail={lines}", self.base);
        let fut = async {
            let Ok(mut resp) = self.client.get(&url).send().await else {
                return Vec::new();
            };
            if !resp.status().is_success() {
                return Vec::new();
            }
            // Frame headers take room too: read a little more than we keep.
            let raw = crate::http::read_prefix(&mut resp, MAX_LOG_BYTES + MAX_LOG_BYTES / 8).await;
            let mut out = if tty { raw } else { demultiplex(&raw) };
            out.truncate(MAX_LOG_BYTES);
            out
        };
        tokio::time::timeout_at(self.deadline, fut).await.unwrap_or_default()
    }
}

/// The payloads of a multiplexed log stream, in order. A truncated last
/// frame keeps what arrived; anything that is not a frame ends the stream.
fn demultiplex(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut rest = raw;
    while rest.len() >= 8 {
        let (head, body) = rest.split_at(8);
        if head[0] > 2 || head[1..4] != [0, 0, 0] {
            break;
        }
        let len = u32::from_be_bytes([head[4], head[5], head[6], head[7]]) as usize;
        let take = len.min(body.len());
        out.extend_from_slice(&body[..take]);
        rest = &body[take..];
    }
    out
}

/// Classifies a failed request from the error types in its chain.
fn request_error(e: &reqwest::Error, url: &str) -> EngineError {
    for cause in crate::http::chain(e) {
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            match io.kind() {
                std::io::ErrorKind::NotFound => return EngineError::NoSocket,
                std::io::ErrorKind::PermissionDenied => return EngineError::PermissionDenied,
                _ => {}
            }
        }
    }
    match crate::http::classify(e, url) {
        FetchError::Refused { .. } => EngineError::Refused,
        FetchError::Timeout { .. } => EngineError::Timeout,
        other => EngineError::Other(other.describe()),
    }
}

fn daemon_failure(cx: &ProbeContext<'_>, what: &str) -> Outcome {
    let target = cx.target_name();
    Outcome::error(what.to_string())
        .evidence("docker_host", cx.base_url().to_string())
        .cause(format!("unreachable:{target}"), format!("the Docker daemon is not usable: {what}"))
        .remediation(format!(
            "start the Docker daemon or point {} at it; the user running the gate needs access to the socket (the `docker` group)",
            cx.target_setting()
        ))
}

/// Turns an engine error into an outcome, naming what went wrong at the daemon.
pub fn engine_error(cx: &ProbeContext<'_>, e: &EngineError) -> Outcome {
    let host = describe_host(cx.base_url());
    match e {
        EngineError::NoSocket => daemon_failure(
            cx,
            &format!("the Docker socket {host} does not exist (is the daemon running?)"),
        ),
        EngineError::PermissionDenied => daemon_failure(cx, &format!("permission denied on the Docker socket {host}")),
        EngineError::Refused => daemon_failure(cx, &format!("the Docker daemon at {host} refused the connection")),
        EngineError::Timeout => daemon_failure(
            cx,
            &format!(
                "the Docker daemon at {host} did not answer within {}",
                crate::http::fmt_duration(cx.timeout)
            ),
        ),
        EngineError::Api { status, message } if message.contains("too new") => daemon_failure(
            cx,
            &format!("the Docker daemon rejects the API version ({status}: {message})"),
        ),
        EngineError::Api { status, message } => Outcome::error(format!("the Docker daemon answered {status}: {message}"))
            .cause(
                format!("check:{}", cx.check.id),
                format!("Docker API error {status}: {message}"),
            )
            .remediation("see the daemon's log (journalctl -u docker) for the failing request"),
        EngineError::TooLarge { cap } => Outcome::error(format!(
            "the Docker daemon at {host} sent an answer larger than {}",
            fmt_bytes(*cap)
        ))
        .cause(
            format!("unreachable:{}", cx.target_name()),
            format!("the Docker daemon at {host} answers with unbounded bodies: not a Docker Engine, or a broken proxy in front of it"),
        )
        .remediation("point the Docker target at the Engine's socket itself (`docker context inspect` shows it)"),
        EngineError::BadAnswer(what) => Outcome::error(format!("the Docker daemon sent an answer that is not the Engine API's: {what}"))
            .cause(format!("check:{}", cx.check.id), "unexpected Docker API answer".to_string())
            .remediation("check the daemon version (`docker version`); this tool is tested against Engine 20.10 (API 1.41)"),
        EngineError::Other(text) => daemon_failure(cx, &format!("cannot talk to the Docker daemon at {host}: {text}")),
    }
}

/// True for names Docker itself accepts: `[a-zA-Z0-9][a-zA-Z0-9_.-]*`.
/// Anything else (a regex, a path) cannot be a container's name.
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_name_rules() {
        assert!(valid_name("medianest-grafana"));
        assert!(valid_name("a.b_c-1"));
        assert!(!valid_name("graf.*"));
        assert!(!valid_name("^/grafana$"));
        assert!(!valid_name("-x"));
        assert!(!valid_name(""));
        assert!(!valid_name("a/b"));
    }

    #[test]
    fn multiplexed_logs_are_joined_and_garbage_ends_them() {
        let mut raw = vec![1, 0, 0, 0, 0, 0, 0, 3];
        raw.extend_from_slice(b"out");
        raw.extend_from_slice(&[2, 0, 0, 0, 0, 0, 0, 4]);
        raw.extend_from_slice(b"err\n");
        raw.extend_from_slice(&[1, 0, 0, 0, 0, 0, 0, 100]);
        raw.extend_from_slice(b"cut");
        assert_eq!(demultiplex(&raw), b"outerr\ncut");
        assert_eq!(demultiplex(b"not a frame at all"), b"");
    }
}
