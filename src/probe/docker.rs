//! Connecting to the Docker Engine with bollard, and turning engine errors
//! into outcomes. Every daemon-level failure (no socket, permission denied,
//! refused, API version) is keyed on the Docker target, so all Docker checks
//! share one root cause instead of one per check.
//!
//! The engine here speaks API 1.41 while bollard 0.21 defaults to 1.53; its
//! requests are unversioned (served at the daemon's own version), and
//! `negotiate_version()` is still called so a future bollard that pins the
//! version in the path asks for one the daemon has.

use bollard::Docker;

use super::{Outcome, ProbeContext};

/// The socket path or address a Docker target names, for messages.
pub fn describe_host(host: &str) -> String {
    host.trim_start_matches("unix://").to_string()
}

/// Connects and negotiates the API version.
pub async fn connect(cx: &ProbeContext<'_>) -> Result<Docker, Outcome> {
    let host = cx.base_url().to_string();
    let timeout = cx.timeout.as_secs().max(1);
    let docker = if let Some(path) = host.strip_prefix("unix://") {
        Docker::connect_with_socket(path, timeout, bollard::API_DEFAULT_VERSION)
    } else if let Some(addr) = host.strip_prefix("tcp://") {
        Docker::connect_with_http(&format!("http://{addr}"), timeout, bollard::API_DEFAULT_VERSION)
    } else if host.starts_with("http://") {
        Docker::connect_with_http(&host, timeout, bollard::API_DEFAULT_VERSION)
    } else {
        return Err(daemon_failure(
            cx,
            &format!(
                "unsupported Docker address `{host}` for target `{}` (use unix:///path.sock or tcp://host:port)",
                cx.target_name()
            ),
        ));
    };
    let docker = docker.map_err(|e| engine_error(cx, &e))?;
    match tokio::time::timeout_at(cx.deadline, docker.negotiate_version()).await {
        Ok(Ok(d)) => Ok(d),
        Ok(Err(e)) => Err(engine_error(cx, &e)),
        Err(_) => Err(daemon_failure(
            cx,
            &format!(
                "the Docker daemon at {} did not answer within {}",
                describe_host(&host),
                crate::http::fmt_duration(cx.timeout)
            ),
        )),
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

/// Turns a bollard error into an outcome, naming what went wrong at the daemon.
pub fn engine_error(cx: &ProbeContext<'_>, e: &bollard::errors::Error) -> Outcome {
    use bollard::errors::Error as E;
    let host = describe_host(cx.base_url());
    let text = crate::http::chain_text(e);
    let lower = text.to_ascii_lowercase();
    match e {
        E::SocketNotFoundError(path) => daemon_failure(
            cx,
            &format!("the Docker socket {path} does not exist (is the daemon running?)"),
        ),
        E::RequestTimeoutError => daemon_failure(cx, &format!("the Docker daemon at {host} did not answer in time")),
        E::DockerResponseServerError { status_code, message } if message.contains("too new") => daemon_failure(
            cx,
            &format!("the Docker daemon rejects the API version ({status_code}: {message})"),
        ),
        E::DockerResponseServerError { status_code, message } => {
            Outcome::error(format!("the Docker daemon answered {status_code}: {message}"))
                .cause(
                    format!("check:{}", cx.check.id),
                    format!("Docker API error {status_code}: {message}"),
                )
                .remediation("see the daemon's log (journalctl -u docker) for the failing request")
        }
        _ if lower.contains("permission denied") => {
            daemon_failure(cx, &format!("permission denied on the Docker socket {host}"))
        }
        _ if lower.contains("connection refused") => {
            daemon_failure(cx, &format!("the Docker daemon at {host} refused the connection"))
        }
        _ if lower.contains("no such file") => daemon_failure(cx, &format!("the Docker socket {host} does not exist")),
        E::JsonDataError { .. } | E::JsonSerdeError { .. } => {
            Outcome::error(format!("the Docker daemon sent an answer bollard cannot read: {text}"))
                .cause(
                    format!("check:{}", cx.check.id),
                    "unexpected Docker API answer".to_string(),
                )
                .remediation(
                    "check the daemon version (`docker version`); this tool is tested against Engine 20.10 (API 1.41)",
                )
        }
        _ => daemon_failure(cx, &format!("cannot talk to the Docker daemon at {host}: {text}")),
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
}
