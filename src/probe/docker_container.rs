//! `docker_container`: the container exists (by exact name), its
//! `State.Status` is `running` (not `Running`, which paused and restarting
//! containers also report), health is not `unhealthy` (nor `starting` past a
//! grace period), it is not in a restart loop, and it was not OOM-killed.
//!
//! When it is unwell, the last lines of its logs become evidence and known
//! failure signatures become a specific cause: Grafana's unwritable data
//! directory (chown to UID 472), OOM kills, signals behind exit codes.

use std::time::{Duration, SystemTime};

use bollard::Docker;
use bollard::container::LogOutput;
use bollard::models::{ContainerInspectResponse, ContainerStateStatusEnum, HealthStatusEnum};
use bollard::query_parameters::{ListContainersOptions, LogsOptions};
use futures_util::StreamExt;
use serde_json::json;

use super::docker::{connect, engine_error, valid_name};
use super::{Outcome, Probe, ProbeContext, Status};
use crate::gate::ContainerSpec;

/// Logs are evidence, not a download: at most this many bytes are read.
const MAX_LOG_BYTES: usize = 64 * 1024;

impl ContainerSpec {
    fn cause_key(&self) -> String {
        match &self.serves {
            Some(t) => format!("unreachable:{t}"),
            None => format!("container:{}", self.container),
        }
    }
}

impl Probe for ContainerSpec {
    async fn run(&self, cx: &ProbeContext<'_>) -> Outcome {
        let name = self.container.as_str();
        let repro = format!(
            "docker inspect --format '{{{{json .State}}}}' {name}; docker logs --tail {} {name}",
            self.log_lines
        );
        if !valid_name(name) {
            return Outcome::fail(format!("`{name}` is not a valid Docker container name, so no container can have it"))
                .cause(format!("check:{}", cx.check.id), format!("the gate names container `{name}`, which Docker names cannot be"))
                .remediation("Docker names match [a-zA-Z0-9][a-zA-Z0-9_.-]*: set the exact name (see `docker ps -a --format '{{.Names}}'`)");
        }
        let docker = match connect(cx).await {
            Ok(d) => d,
            Err(o) => return o,
        };
        let inspected = tokio::time::timeout_at(cx.deadline, docker.inspect_container(name, None)).await;
        let info = match inspected {
            Err(_) => return engine_error(cx, &bollard::errors::Error::RequestTimeoutError),
            Ok(Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. })) => {
                return self.missing(cx, &docker).await;
            }
            Ok(Err(e)) => return engine_error(cx, &e),
            // The engine also resolves ID prefixes: only an exact name counts.
            Ok(Ok(info)) if info.name.as_deref() != Some(&format!("/{name}")) => {
                return self.missing(cx, &docker).await;
            }
            Ok(Ok(info)) => info,
        };
        let facts = Facts::from(&info);
        let mut o = Outcome::pass(String::new())
            .evidence("container", name)
            .evidence("status", facts.status.clone())
            .evidence("restart_count", facts.restart_count)
            .evidence("exit_code", facts.exit_code)
            .evidence("oom_killed", facts.oom_killed)
            .evidence("health", facts.health.clone().unwrap_or_else(|| "none".into()))
            .expected("status", "running")
            .expected("max_restarts", self.max_restarts)
            .reproduce(repro);
        if let Some(err) = &facts.error {
            o = o.evidence("engine_error", err.clone());
        }
        if !facts.health_log.is_empty() {
            o = o.evidence("health_log", json!(facts.health_log));
        }
        let Some(problem) = self.problem(&facts) else {
            o.message = format!(
                "running{}{}",
                facts.health.as_deref().map(|h| format!(", {h}")).unwrap_or_default(),
                if facts.restart_count > 0 {
                    format!(", {} restart(s)", facts.restart_count)
                } else {
                    String::new()
                }
            );
            return o;
        };
        let logs = read_logs(&docker, name, self.log_lines, cx.deadline).await;
        let diagnosis = diagnose(&facts, &logs, &info);
        o.status = Status::Fail;
        o.message = format!("container `{name}` {problem}");
        let o = o.evidence("logs_tail", json!(logs));
        match diagnosis {
            Some((summary, remediation)) => o
                .root_cause(self.cause_key(), format!("container `{name}` {problem}: {summary}"))
                .remediation(remediation),
            None => o
                .root_cause(self.cause_key(), format!("container `{name}` {problem}"))
                .remediation(format!(
                    "read `docker logs {name}` for the reason, fix it, then `docker start {name}`"
                )),
        }
    }
}

impl ContainerSpec {
    fn problem(&self, f: &Facts) -> Option<String> {
        match f.status.as_str() {
            "restarting" => {
                return Some(format!(
                    "is in a restart loop ({} restarts, last exit code {})",
                    f.restart_count, f.exit_code
                ));
            }
            "paused" => return Some("is paused".into()),
            "running" => {}
            "created" if f.error.is_some() => return Some(format!("failed to start (exit code {})", f.exit_code)),
            "created" => return Some("was created but never started".into()),
            other => {
                let oom = if f.oom_killed { ", OOM-killed" } else { "" };
                return Some(format!("is {other} (exit code {}{oom})", f.exit_code));
            }
        }
        if f.restart_count > self.max_restarts as i64 {
            return Some(format!(
                "has restarted {} times (limit {})",
                f.restart_count, self.max_restarts
            ));
        }
        if f.oom_killed {
            return Some("was OOM-killed".into());
        }
        match f.health.as_deref() {
            Some("unhealthy") => {
                let last = f.health_log.last().map(|s| format!(": {s}")).unwrap_or_default();
                Some(format!("is unhealthy{last}"))
            }
            Some("starting") if f.running_for.is_some_and(|d| d > self.start_grace) => Some(format!(
                "has been starting for {}s, longer than its {}s grace period",
                f.running_for.map(|d| d.as_secs()).unwrap_or(0),
                self.start_grace.as_secs()
            )),
            _ => None,
        }
    }

    /// A missing container: say so, and list the similarly named ones.
    async fn missing(&self, cx: &ProbeContext<'_>, docker: &Docker) -> Outcome {
        let name = self.container.as_str();
        let listed = tokio::time::timeout_at(
            cx.deadline,
            docker.list_containers(Some(ListContainersOptions {
                all: true,
                ..Default::default()
            })),
        )
        .await;
        let names: Vec<String> = match listed {
            Ok(Ok(list)) => list
                .into_iter()
                .flat_map(|c| c.names.unwrap_or_default())
                .map(|n| n.trim_start_matches('/').to_string())
                .collect(),
            _ => Vec::new(),
        };
        let similar = similar_names(name, &names);
        let hint = if similar.is_empty() {
            String::new()
        } else {
            format!("; similarly named: {}", similar.join(", "))
        };
        Outcome::fail(format!("no container named `{name}`{hint}"))
            .evidence("container", name)
            .evidence("similar", json!(similar))
            .root_cause(self.cause_key(), format!("container `{name}` does not exist"))
            .remediation(if similar.is_empty() {
                "start the stack (`docker compose up -d`) or set the container's real name (see `docker ps -a`)"
                    .to_string()
            } else {
                format!(
                    "if the container is `{}`, set that name (e.g. GRAFANA_CONTAINER) in the gate's environment",
                    similar[0]
                )
            })
            .reproduce("docker ps -a --format '{{.Names}}\t{{.Status}}'")
    }
}

/// What the gate needs from `docker inspect`.
#[derive(Debug, Clone, Default)]
struct Facts {
    status: String,
    restart_count: i64,
    exit_code: i64,
    oom_killed: bool,
    error: Option<String>,
    health: Option<String>,
    health_log: Vec<String>,
    running_for: Option<Duration>,
}

impl From<&ContainerInspectResponse> for Facts {
    fn from(info: &ContainerInspectResponse) -> Self {
        let state = info.state.clone().unwrap_or_default();
        let status = match state.status {
            Some(ContainerStateStatusEnum::EMPTY) | None => "unknown".to_string(),
            Some(s) => s.to_string(),
        };
        let health = state.health.as_ref().and_then(|h| h.status).and_then(|s| match s {
            HealthStatusEnum::EMPTY | HealthStatusEnum::NONE => None,
            other => Some(other.to_string()),
        });
        let health_log = state
            .health
            .as_ref()
            .and_then(|h| h.log.as_ref())
            .map(|log| {
                log.iter()
                    .rev()
                    .take(3)
                    .rev()
                    .map(|r| {
                        format!(
                            "exit {}: {}",
                            r.exit_code.unwrap_or(-1),
                            clean(r.output.as_deref().unwrap_or("")).trim()
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let running_for = state
            .started_at
            .as_deref()
            .filter(|s| !s.starts_with("0001-"))
            .and_then(|s| humantime::parse_rfc3339_weak(s).ok())
            .and_then(|t| SystemTime::now().duration_since(t).ok());
        Facts {
            status,
            restart_count: info.restart_count.unwrap_or(0),
            exit_code: state.exit_code.unwrap_or(0),
            oom_killed: state.oom_killed.unwrap_or(false),
            error: state.error.filter(|e| !e.is_empty()),
            health,
            health_log,
            running_for,
        }
    }
}

/// The last `lines` log lines, both streams, bounded in bytes and time;
/// binary garbage is made printable.
async fn read_logs(docker: &Docker, name: &str, lines: u32, deadline: tokio::time::Instant) -> Vec<String> {
    if lines == 0 {
        return Vec::new();
    }
    let options = LogsOptions {
        stdout: true,
        stderr: true,
        tail: lines.to_string(),
        ..Default::default()
    };
    let mut stream = docker.logs(name, Some(options));
    let mut bytes: Vec<u8> = Vec::new();
    let collect = async {
        while let Some(item) = stream.next().await {
            let Ok(out) = item else { break };
            let chunk = match &out {
                LogOutput::StdOut { message }
                | LogOutput::StdErr { message }
                | LogOutput::StdIn { message }
                | LogOutput::Console { message } => message,
            };
            let room = MAX_LOG_BYTES.saturating_sub(bytes.len());
            bytes.extend_from_slice(&chunk[..chunk.len().min(room)]);
            if bytes.len() >= MAX_LOG_BYTES {
                break;
            }
        }
    };
    let _ = tokio::time::timeout_at(deadline, collect).await;
    let text = clean(&String::from_utf8_lossy(&bytes));
    let all: Vec<String> = text
        .lines()
        .map(|l| l.trim_end().chars().take(300).collect())
        .filter(|l: &String| !l.is_empty())
        .collect();
    let skip = all.len().saturating_sub(lines as usize);
    all.into_iter().skip(skip).collect()
}

/// Printable text: TTY `\r` dropped, other control characters replaced.
fn clean(s: &str) -> String {
    s.chars()
        .filter(|c| *c != '\r')
        .map(|c| {
            if c.is_control() && c != '\n' && c != '\t' {
                '\u{fffd}'
            } else {
                c
            }
        })
        .collect()
}

/// Known failure signatures: (summary, remediation).
fn diagnose(f: &Facts, logs: &[String], info: &ContainerInspectResponse) -> Option<(String, String)> {
    let joined = logs.join("\n");
    if let Some(line) = logs
        .iter()
        .find(|l| l.contains("is not writable") && l.contains("GF_PATHS_DATA"))
        .or_else(|| {
            logs.iter()
                .find(|l| l.contains("/var/lib/grafana") && l.contains("Permission denied"))
        })
    {
        let path = extract_quoted(line).unwrap_or_else(|| "/var/lib/grafana".to_string());
        let host = info
            .mounts
            .as_ref()
            .and_then(|m| m.iter().find(|m| m.destination.as_deref() == Some(path.as_str())))
            .and_then(|m| m.source.clone());
        let target = host.unwrap_or_else(|| "<the volume or host directory mounted there>".to_string());
        return Some((
            format!("Grafana's data directory {path} is not writable (Grafana runs as UID 472)"),
            format!(
                "make the data volume owned by Grafana's user: `sudo chown -R 472:0 {target}` (or use a named volume), then `docker restart` the container"
            ),
        ));
    }
    if f.oom_killed {
        let limit = info.host_config.as_ref().and_then(|h| h.memory).filter(|m| *m > 0);
        return Some((
            format!(
                "killed by the kernel's OOM killer{}",
                limit
                    .map(|m| format!(" at its {} MiB memory limit", m / (1024 * 1024)))
                    .unwrap_or_default()
            ),
            "raise the container's memory limit (`mem_limit` / `--memory`) or reduce its memory use".to_string(),
        ));
    }
    if joined.contains("address already in use") {
        return Some((
            "its port is already in use".into(),
            "stop the other process bound to the port, or change the published port".into(),
        ));
    }
    if joined.contains("Permission denied") {
        return Some((
            "a path it writes is not writable by its user".into(),
            "fix the ownership of the mounted volume to the container's user (see the log line above)".into(),
        ));
    }
    let by_code = match f.exit_code {
        137 => Some((
            "exit code 137: killed by SIGKILL (docker kill, a failed stop timeout, or the host's OOM killer)",
            "check `dmesg` for OOM kills and the container's memory limit",
        )),
        143 => Some((
            "exit code 143: stopped by SIGTERM",
            "something stopped it (docker stop, an orchestrator): start it again",
        )),
        127 => Some((
            "exit code 127: the command was not found in the image",
            "fix the image's entrypoint/command",
        )),
        126 => Some((
            "exit code 126: the command is not executable",
            "fix the entrypoint's permissions in the image",
        )),
        _ => None,
    };
    by_code.map(|(s, r)| (s.to_string(), r.to_string()))
}

/// The first single-quoted text in a line (`GF_PATHS_DATA='/var/lib/grafana' …`).
fn extract_quoted(line: &str) -> Option<String> {
    let start = line.find('\'')? + 1;
    let len = line[start..].find('\'')?;
    Some(line[start..start + len].to_string())
}

/// Names that look like `want`: containing it, contained in it, or a few edits away.
fn similar_names(want: &str, names: &[String]) -> Vec<String> {
    let w = want.to_ascii_lowercase();
    let mut scored: Vec<(usize, &String)> = names
        .iter()
        .filter_map(|n| {
            let l = n.to_ascii_lowercase();
            let d = edit_distance(&w, &l);
            (l.contains(&w) || w.contains(&l) || d <= 3).then_some((d, n))
        })
        .collect();
    scored.sort();
    scored.into_iter().take(5).map(|(_, n)| n.clone()).collect()
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(status: &str) -> Facts {
        Facts {
            status: status.into(),
            ..Default::default()
        }
    }

    fn spec() -> ContainerSpec {
        ContainerSpec {
            container: "medianest-grafana".into(),
            max_restarts: 3,
            start_grace: Duration::from_secs(60),
            log_lines: 20,
            serves: None,
        }
    }

    #[test]
    fn status_not_running_flag_decides() {
        let s = spec();
        assert!(s.problem(&facts("running")).is_none());
        assert!(s.problem(&facts("paused")).unwrap().contains("paused"));
        let mut f = facts("restarting");
        f.restart_count = 6;
        f.exit_code = 1;
        assert_eq!(
            s.problem(&f).unwrap(),
            "is in a restart loop (6 restarts, last exit code 1)"
        );
        let mut f = facts("exited");
        f.exit_code = 137;
        f.oom_killed = true;
        assert_eq!(s.problem(&f).unwrap(), "is exited (exit code 137, OOM-killed)");
    }

    #[test]
    fn restarts_health_and_grace_are_judged_while_running() {
        let s = spec();
        let mut f = facts("running");
        f.restart_count = 4;
        assert!(s.problem(&f).unwrap().contains("restarted 4 times"));
        let mut f = facts("running");
        f.health = Some("unhealthy".into());
        f.health_log = vec!["exit 1: failing".into()];
        assert_eq!(s.problem(&f).unwrap(), "is unhealthy: exit 1: failing");
        let mut f = facts("running");
        f.health = Some("starting".into());
        f.running_for = Some(Duration::from_secs(5));
        assert!(s.problem(&f).is_none(), "within the grace period");
        f.running_for = Some(Duration::from_secs(120));
        assert!(s.problem(&f).unwrap().contains("starting for 120s"));
    }

    #[test]
    fn grafana_unwritable_data_dir_is_recognised() {
        let logs = vec![
            "mkdir: can't create directory '/var/lib/grafana/plugins': Permission denied".to_string(),
            "GF_PATHS_DATA='/var/lib/grafana' is not writable.".to_string(),
        ];
        let (summary, fix) = diagnose(&facts("restarting"), &logs, &ContainerInspectResponse::default()).unwrap();
        assert!(
            summary.contains("/var/lib/grafana") && summary.contains("472"),
            "{summary}"
        );
        assert!(fix.contains("chown -R 472:0"), "{fix}");
    }

    #[test]
    fn exit_codes_are_explained() {
        let mut f = facts("exited");
        f.exit_code = 137;
        assert!(
            diagnose(&f, &[], &ContainerInspectResponse::default())
                .unwrap()
                .0
                .contains("SIGKILL")
        );
        f.exit_code = 143;
        assert!(
            diagnose(&f, &[], &ContainerInspectResponse::default())
                .unwrap()
                .0
                .contains("SIGTERM")
        );
        f.exit_code = 1;
        assert!(diagnose(&f, &[], &ContainerInspectResponse::default()).is_none());
    }

    #[test]
    fn similar_names_rank_by_closeness() {
        let names: Vec<String> = ["medianest-grafana-1", "grafana", "postgres", "medianest-grafan"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let s = similar_names("medianest-grafana", &names);
        assert_eq!(s[0], "medianest-grafan");
        assert!(s.contains(&"medianest-grafana-1".to_string()) && s.contains(&"grafana".to_string()));
        assert!(!s.contains(&"postgres".to_string()));
    }

    #[test]
    fn garbage_in_logs_becomes_printable() {
        assert_eq!(clean("a\u{0}b\r\nc\u{1b}[0m"), "a\u{fffd}b\nc\u{fffd}[0m");
    }
}
