//! What Docker's answers mean: the facts the gate reads from `docker
//! inspect`, and the known failure signatures (log lines, exit codes, OOM)
//! turned into a cause and a fix. Kept apart from the Engine calls so the
//! knowledge can grow and be tested without a daemon.

use std::time::{Duration, SystemTime};

use bollard_stubs::models::{ContainerInspectResponse, ContainerStateStatusEnum, HealthStatusEnum};

/// What the gate needs from `docker inspect`.
#[derive(Debug, Clone, Default)]
pub(super) struct Facts {
    pub(super) status: String,
    pub(super) restart_count: i64,
    pub(super) exit_code: i64,
    pub(super) oom_killed: bool,
    pub(super) error: Option<String>,
    pub(super) health: Option<String>,
    pub(super) health_log: Vec<String>,
    pub(super) running_for: Option<Duration>,
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

/// Printable text: TTY `\r` dropped, other control characters replaced.
pub(super) fn clean(s: &str) -> String {
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
pub(super) fn diagnose(f: &Facts, logs: &[String], info: &ContainerInspectResponse) -> Option<(String, String)> {
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
        // OOMKilled was false (checked above): the evidence rules the OOM killer out.
        137 => Some((
            "exit code 137: killed by SIGKILL, not by the OOM killer (OOMKilled is false): `docker kill`, or a stop that outlived its timeout",
            "find what sent the kill (`docker events --filter container=<name> --since 1h`) and restart it",
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
pub(super) fn similar_names(want: &str, names: &[String]) -> Vec<String> {
    let w = want.to_ascii_lowercase();
    let mut scored: Vec<(usize, &String)> = names
        .iter()
        .filter_map(|n| {
            let l = n.to_ascii_lowercase();
            let d = crate::suggest::edit_distance(&w, &l);
            (l.contains(&w) || w.contains(&l) || d <= 3).then_some((d, n))
        })
        .collect();
    scored.sort();
    scored.into_iter().take(5).map(|(_, n)| n.clone()).collect()
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    pub(in crate::probe) fn facts(status: &str) -> Facts {
        Facts {
            status: status.into(),
            ..Default::default()
        }
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
