//! `docker_container`: the container exists (by exact name), its
//! `State.Status` is `running` (not `Running`, which paused and restarting
//! containers also report), health is not `unhealthy` (nor `starting` past a
//! grace period), it is not in a restart loop, and it was not OOM-killed.
//!
//! When it is unwell, the last lines of its logs become evidence and known
//! failure signatures become a specific cause: Grafana's unwritable data
//! directory (chown to UID 472), OOM kills, signals behind exit codes.

use std::time::Duration;

use serde_json::json;

use super::docker::{Engine, engine_error, valid_name};
use super::docker_diagnosis::{Facts, clean, diagnose, similar_names};
use super::registry::Kind;
use super::{Outcome, ProbeContext, Status};
use crate::gate::fields::{FieldDef, FieldType as T, SpecCx};

impl ContainerSpec {
    fn cause_key(&self) -> String {
        match &self.serves {
            Some(t) => format!("unreachable:{t}"),
            None => format!("container:{}", self.container),
        }
    }
}

#[derive(Debug, Clone)]
pub struct ContainerSpec {
    /// Exact container name (without the leading `/`).
    pub container: String,
    /// The variable the name comes from (`GRAFANA_CONTAINER`), for hints.
    pub container_var: Option<String>,
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

impl Kind for ContainerSpec {
    const NAME: &'static str = "docker_container";
    const FIELDS: &'static [FieldDef] = &[
        FieldDef::new("container", T::Str, "Exact container name (required).", "medianest-grafana"),
        FieldDef::new("max_restarts", T::Int, "Restarts above this fail the check (default 3).", "3"),
        FieldDef::new("start_grace", T::Duration, "How long health may stay `starting` after start (default `60s`).", "60s"),
        FieldDef::new("log_lines", T::Int, "Log lines kept as evidence (default 20, at most 200).", "20"),
        FieldDef::new("serves", T::TargetRef, "The gate target this container serves (its failure becomes that target's root cause).", "grafana"),
    ];

    fn load(f: &mut SpecCx<'_, '_>) -> Self {
        let container_var = f
            .string_with_vars("container")
            .and_then(|(_, _, vars)| vars.into_iter().next());
        let container = f.required_string("container");
        let container = container.trim_start_matches('/').to_string();
        let start_grace = f.duration("start_grace").unwrap_or(Duration::from_secs(60));
        let log_lines = match f.int("log_lines") {
            Some(n) if *n.get() > 200 => {
                f.err(n.loc(), "log_lines is at most 200", None);
                200
            }
            Some(n) => *n.get(),
            None => 20,
        };
        ContainerSpec {
            container,
            container_var,
            max_restarts: f.int("max_restarts").map(|n| *n.get()).unwrap_or(3),
            start_grace,
            log_lines,
            serves: f.target("serves"),
        }
    }

    async fn probe(&self, cx: &ProbeContext<'_>) -> Outcome {
        self.run(cx).await
    }

    /// What the Engine API says of the container, asked the way the probe did
    /// (`curl --unix-socket …`), for a daemon that could not be used.
    fn reproduce(&self, cx: &ProbeContext<'_>) -> String {
        let path = format!("/containers/{}/json", self.container);
        crate::shell::docker_curl(cx.base_url(), &path).unwrap_or_else(|| cx.curl(cx.base_url(), None))
    }
}

impl ContainerSpec {
    async fn run(&self, cx: &ProbeContext<'_>) -> Outcome {
        let name = self.container.as_str();
        let quoted = crate::shell::quote(name);
        let repro = format!(
            "docker inspect --format '{{{{json .State}}}}' {quoted}; docker logs --tail {} {quoted}",
            self.log_lines
        );
        if !valid_name(name) {
            return Outcome::fail(format!("`{name}` is not a valid Docker container name, so no container can have it"))
                .cause(format!("check:{}", cx.check.id), format!("the gate names container `{name}`, which Docker names cannot be"))
                .remediation("Docker names match [a-zA-Z0-9][a-zA-Z0-9_.-]*: set the exact name (see `docker ps -a --format '{{.Names}}'`)");
        }
        let docker = match Engine::connect(cx).await {
            Ok(d) => d,
            Err(o) => return o,
        };
        let info = match docker.inspect(name).await {
            Ok(None) => return self.missing(&docker).await,
            Err(e) => return engine_error(cx, &e),
            // The engine also resolves ID prefixes: only an exact name counts.
            Ok(Some(info)) if info.name.as_deref() != Some(&format!("/{name}")) => {
                return self.missing(&docker).await;
            }
            Ok(Some(info)) => info,
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
        let tty = info.config.as_ref().and_then(|c| c.tty).unwrap_or(false);
        let logs = read_logs(&docker, name, self.log_lines, tty).await;
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
                .remediation(remedy_for_state(&facts, name)),
        }
    }
}

/// What to do about a container in this state when no known signature
/// explains it: each state has its own command (a paused container cannot
/// be started, a running one need not be, a never-started one has no logs).
fn remedy_for_state(f: &Facts, name: &str) -> String {
    let name = crate::shell::quote(name);
    match f.status.as_str() {
        "paused" => format!("resume it with `docker unpause {name}`"),
        "running" if f.health.as_deref() == Some("unhealthy") || f.health.as_deref() == Some("starting") => format!(
            "it runs, but its health check fails: see what the check tests (`docker inspect --format '{{{{json .State.Health}}}}' {name}`), fix the service or the health command, then `docker restart {name}`"
        ),
        "running" => format!("read `docker logs {name}` for why it keeps restarting, and fix that"),
        "created" if f.error.is_none() => format!("it was never started, so it has no logs yet: `docker start {name}`"),
        "created" => format!("the engine could not start it (see `engine_error`): fix that, then `docker start {name}`"),
        "restarting" => format!("read `docker logs {name}` for the reason it exits, fix it, then `docker restart {name}`"),
        _ => format!("read `docker logs {name}` for the reason, fix it, then `docker start {name}`"),
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
    async fn missing(&self, docker: &Engine) -> Outcome {
        let name = self.container.as_str();
        let names = docker.names().await.unwrap_or_default();
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
                match &self.container_var {
                    Some(var) => format!("if the container is `{}`, set `{var}={}`", similar[0], similar[0]),
                    None => format!("if the container is `{}`, write that name in the check's `container`", similar[0]),
                }
            })
            .reproduce("docker ps -a --format '{{.Names}}\t{{.Status}}'")
    }
}

/// The last `lines` log lines, both streams, bounded in bytes and time
/// (logs are evidence, not a download); binary garbage is made printable.
async fn read_logs(docker: &Engine, name: &str, lines: u32, tty: bool) -> Vec<String> {
    if lines == 0 {
        return Vec::new();
    }
    let bytes = docker.logs(name, lines, tty).await;
    let text = clean(&String::from_utf8_lossy(&bytes));
    let all: Vec<String> = text
        .lines()
        .map(|l| l.trim_end().chars().take(300).collect())
        .filter(|l: &String| !l.is_empty())
        .collect();
    let skip = all.len().saturating_sub(lines as usize);
    all.into_iter().skip(skip).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::probe::docker_diagnosis::tests::facts;

    fn spec() -> ContainerSpec {
        ContainerSpec {
            container: "medianest-grafana".into(),
            container_var: None,
            max_restarts: 3,
            start_grace: Duration::from_secs(60),
            log_lines: 20,
            serves: None,
        }
    }

    #[test]
    fn each_state_gets_its_own_command() {
        let mut f = facts("paused");
        assert!(remedy_for_state(&f, "g").contains("docker unpause g"));
        f = facts("running");
        f.health = Some("unhealthy".into());
        let r = remedy_for_state(&f, "g");
        assert!(r.contains("docker restart g") && !r.contains("docker start"), "{r}");
        f = facts("created");
        let r = remedy_for_state(&f, "g");
        assert!(r.contains("never started") && r.contains("docker start g") && !r.contains("docker logs"), "{r}");
        assert!(remedy_for_state(&facts("exited"), "g").contains("docker logs g"));
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
}

#[cfg(test)]
mod load_tests {
    //! The kind's loader messages, each with its location.
    use crate::gate::testing::*;

    #[test]
    fn docker_container_fields_are_validated_where_written() {
        requires("docker_container", &[], "check `c` of kind `docker_container` needs `container`");
        let with = |extra: &str| one_check("docker_container", &["container: g", extra]);
        rejects_at(&with("log_lines: 500"), FIELD_LINE + 1, 20, "log_lines is at most 200", None);
        rejects_at(&with("start_grace: 0s"), FIELD_LINE + 1, 22, "start_grace must be greater than zero", None);
        rejects_at(&with("serves: nope"), FIELD_LINE + 1, 17, "names unknown target `nope`", None);
    }
}
