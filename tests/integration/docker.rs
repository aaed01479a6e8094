//! Docker probes against the real engine: real containers in real states,
//! judged through Gate G's `grafana-container` and `prometheus-backend-network`
//! checks as a user would run them.

use std::time::{Duration, Instant};

use crate::support::docker::{Container, Network, unique};
use crate::support::{TOKEN, bin, check, closed_port, gate_file, json, output};

/// Runs Gate G's checks `only` with the given environment; returns the report.
fn gate_g(only: &[&str], env: &[(&str, &str)]) -> serde_json::Value {
    let mut cmd = bin();
    cmd.args(["check", "--no-progress", "--format", "json"])
        .env("METRICS_TOKEN", TOKEN);
    for id in only {
        cmd.args(["--only", id]);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let (code, stdout, stderr) = output(&mut cmd);
    assert!(code == 0 || code == 1, "exit {code}: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    json(&stdout)
}

/// The `grafana-container` check for the container named `name`.
fn grafana_container(name: &str) -> (serde_json::Value, serde_json::Value) {
    let r = gate_g(&["grafana-container"], &[("GRAFANA_CONTAINER", name)]);
    (check(&r, "grafana-container").clone(), r)
}

fn s(v: &serde_json::Value) -> &str {
    v.as_str().unwrap_or_default()
}

#[test]
fn running_container_passes() {
    let c = Container::run("running", &[], &["sleep", "300"]);
    let (chk, r) = grafana_container(&c.name);
    assert_eq!(chk["status"], "pass", "{chk}");
    assert_eq!(chk["evidence"]["status"], "running");
    assert_eq!(
        r["requirements"]
            .as_array()
            .unwrap()
            .iter()
            .find(|q| q["id"] == "grafana")
            .unwrap()["status"],
        "pass"
    );
}

#[test]
fn healthy_container_passes_and_unhealthy_fails_with_its_probe_output() {
    let healthy = Container::run(
        "healthy",
        &["--health-cmd", "true", "--health-interval", "1s"],
        &["sleep", "300"],
    );
    let unhealthy = Container::run(
        "unhealthy",
        &[
            "--health-cmd",
            "echo failing; false",
            "--health-interval",
            "1s",
            "--health-retries",
            "1",
        ],
        &["sleep", "300"],
    );
    healthy.wait_until("healthy", |c| c.inspect("{{.State.Health.Status}}") == "healthy");
    unhealthy.wait_until("unhealthy", |c| c.inspect("{{.State.Health.Status}}") == "unhealthy");
    let (chk, _) = grafana_container(&healthy.name);
    assert_eq!(chk["status"], "pass", "{chk}");
    assert_eq!(chk["evidence"]["health"], "healthy");
    assert_eq!(s(&chk["message"]), "running, healthy");
    let (chk, _) = grafana_container(&unhealthy.name);
    assert_eq!(chk["status"], "fail", "{chk}");
    assert!(s(&chk["message"]).contains("is unhealthy: exit 1: failing"), "{chk}");
    // It runs: the fix is the health check or a restart, never `docker start`.
    let fix = s(&chk["remediation"]);
    assert!(fix.contains("docker restart") && !fix.contains("docker start"), "{fix}");
    assert!(
        chk["evidence"]["health_log"].as_array().is_some_and(|l| !l.is_empty()),
        "{chk}"
    );
}

#[test]
fn grafana_restart_loop_names_the_unwritable_data_dir_and_uid_472() {
    let script = "echo \"mkdir: can't create directory '/var/lib/grafana/plugins': Permission denied\" >&2; \
                  echo \"GF_PATHS_DATA='/var/lib/grafana' is not writable.\"; \
                  echo 'You may have issues with file permissions, more information here: http://docs.grafana.org/installation/docker/#migrate-to-v51-or-later'; \
                  exit 1";
    let c = Container::run("grafana-loop", &["--restart", "always"], &["sh", "-c", script]);
    c.wait_until("restarting", |c| {
        c.inspect("{{.RestartCount}}").parse::<u32>().unwrap_or(0) >= 4
    });
    let (chk, r) = grafana_container(&c.name);
    assert_eq!(chk["status"], "fail", "{chk}");
    let msg = s(&chk["message"]);
    assert!(msg.contains("restart loop") || msg.contains("has restarted"), "{msg}");
    assert!(
        s(&chk["cause"]).contains("not writable") && s(&chk["cause"]).contains("472"),
        "{chk}"
    );
    assert!(s(&chk["remediation"]).contains("chown -R 472:0"), "{chk}");
    let logs = chk["evidence"]["logs_tail"].as_array().unwrap();
    assert!(logs.iter().any(|l| s(l).contains("is not writable")), "{logs:?}");
    // Grouped with Grafana's other failures under the container, the deepest cause.
    assert_eq!(r["root_causes"][0]["key"], "unreachable:grafana");
    assert!(s(&r["root_causes"][0]["remediation"]).contains("472"));
}

#[test]
fn exited_containers_report_their_exit_code() {
    let one = Container::run("exit1", &[], &["sh", "-c", "echo boom; exit 1"]);
    // PID 1 cannot SIGKILL itself inside its namespace: kill it from outside.
    let killed = Container::run("exit137", &[], &["sleep", "300"]);
    crate::support::docker::docker(&["kill", "--signal", "KILL", &killed.name]);
    one.wait_until("exited", |c| c.inspect("{{.State.Status}}") == "exited");
    killed.wait_until("exited", |c| c.inspect("{{.State.Status}}") == "exited");
    let (chk, _) = grafana_container(&one.name);
    assert_eq!(chk["status"], "fail");
    assert_eq!(
        s(&chk["message"]),
        format!("container `{}` is exited (exit code 1)", one.name)
    );
    assert_eq!(chk["evidence"]["exit_code"], 1);
    assert!(
        chk["evidence"]["logs_tail"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l == "boom"),
        "{chk}"
    );
    let (chk, _) = grafana_container(&killed.name);
    assert_eq!(chk["evidence"]["exit_code"], 137, "{chk}");
    assert_eq!(chk["evidence"]["oom_killed"], false, "{chk}");
    assert!(s(&chk["cause"]).contains("SIGKILL"), "{chk}");
    assert!(
        s(&chk["cause"]).contains("not by the OOM killer"),
        "its own evidence rules the OOM killer out: {chk}"
    );
}

#[test]
fn oom_killed_container_says_raise_the_memory_limit() {
    let c = Container::run(
        "oom",
        &["--memory", "8m", "--memory-swap", "8m"],
        // PID 1 itself must be the one the OOM killer takes, or the engine
        // may not flag the container: `tail` buffers /dev/zero (no newline) forever.
        &["sh", "-c", "exec tail /dev/zero"],
    );
    c.wait_until("OOM-killed", |c| c.inspect("{{.State.Status}}") == "exited");
    assert_eq!(
        c.inspect("{{.State.OOMKilled}}"),
        "true",
        "the engine did not OOM-kill the container"
    );
    let (chk, _) = grafana_container(&c.name);
    assert_eq!(chk["status"], "fail");
    assert_eq!(chk["evidence"]["oom_killed"], true);
    assert!(
        s(&chk["cause"]).contains("OOM killer") && s(&chk["cause"]).contains("8 MiB"),
        "{chk}"
    );
    assert!(s(&chk["remediation"]).contains("memory limit"), "{chk}");
}

#[test]
fn missing_container_lists_similar_names() {
    let c = Container::run("grafana", &[], &["sleep", "300"]);
    // Ask for a name one character short of the real one.
    let wanted = &c.name[..c.name.len() - 1];
    let (chk, _) = grafana_container(wanted);
    assert_eq!(chk["status"], "fail");
    assert!(
        s(&chk["message"]).starts_with(&format!("no container named `{wanted}`")),
        "{chk}"
    );
    assert!(
        chk["evidence"]["similar"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| s(n) == c.name),
        "{chk}"
    );
    // The engine's name filter is a substring regex: an exact match is required.
    let (chk, _) = grafana_container(&format!("{}x", c.name));
    assert_eq!(chk["status"], "fail");
}

#[test]
fn paused_container_is_not_running() {
    let c = Container::run("paused", &[], &["sleep", "300"]);
    crate::support::docker::docker(&["pause", &c.name]);
    let (chk, _) = grafana_container(&c.name);
    crate::support::docker::docker(&["unpause", &c.name]);
    assert_eq!(chk["status"], "fail");
    assert_eq!(chk["evidence"]["status"], "paused");
    assert!(s(&chk["message"]).ends_with("is paused"), "{chk}");
    assert!(
        s(&chk["remediation"]).contains("docker unpause"),
        "Docker refuses to start a paused container: {chk}"
    );
}

#[test]
fn a_created_never_started_container_is_told_to_start_not_to_read_logs() {
    let c = Container::create("created", &["sleep", "300"]);
    let (chk, _) = grafana_container(&c.name);
    assert_eq!(chk["status"], "fail");
    assert!(s(&chk["message"]).ends_with("was created but never started"), "{chk}");
    let fix = s(&chk["remediation"]);
    assert!(fix.contains("docker start") && !fix.contains("docker logs"), "{fix}");
}

#[test]
fn regex_in_a_container_name_is_rejected_clearly() {
    let (chk, _) = grafana_container("medianest-graf.*");
    assert_eq!(chk["status"], "fail");
    assert!(
        s(&chk["message"]).contains("not a valid Docker container name"),
        "{chk}"
    );
}

#[test]
fn containers_on_a_shared_network_pass_and_apart_fail() {
    let obs = Network::create("obs");
    let other = Network::create("other");
    let prom = Container::run_on("prom", &obs.name, &[], &["sleep", "300"]);
    let api = Container::run_on("api", &obs.name, &[], &["sleep", "300"]);
    let lonely = Container::run_on("lonely", &other.name, &[], &["sleep", "300"]);
    let r = gate_g(
        &["docker-network"],
        &[("PROMETHEUS_CONTAINER", &prom.name), ("BACKEND_CONTAINER", &api.name)],
    );
    let chk = check(&r, "prometheus-backend-network");
    assert_eq!(chk["status"], "pass", "{chk}");
    assert_eq!(chk["evidence"]["shared"][0], obs.name.as_str());
    let r = gate_g(
        &["docker-network"],
        &[
            ("PROMETHEUS_CONTAINER", &prom.name),
            ("BACKEND_CONTAINER", &lonely.name),
        ],
    );
    let chk = check(&r, "prometheus-backend-network");
    assert_eq!(chk["status"], "fail");
    let msg = s(&chk["message"]);
    assert!(
        msg.contains(&format!("{}: {}", prom.name, obs.name))
            && msg.contains(&format!("{}: {}", lonely.name, other.name)),
        "{msg}"
    );
    // Advisory: the network does not move the score or the verdict.
    assert_eq!(
        r["requirements"]
            .as_array()
            .unwrap()
            .iter()
            .find(|q| q["id"] == "docker-network")
            .unwrap()["weight"],
        0.0
    );
    drop((prom, api, lonely));
}

#[test]
fn missing_docker_socket_is_one_root_cause_for_all_docker_checks() {
    let r = gate_g(
        &["grafana-container", "docker-network"],
        &[("DOCKER_HOST", "unix:///nonexistent/docker.sock")],
    );
    for id in ["grafana-container", "prometheus-backend-network"] {
        let chk = check(&r, id);
        assert_eq!(chk["status"], "error", "{chk}");
        assert!(
            s(&chk["message"]).contains("/nonexistent/docker.sock does not exist"),
            "{chk}"
        );
    }
    let rcs = r["root_causes"].as_array().unwrap();
    assert_eq!(rcs.len(), 1, "{rcs:#?}");
    assert_eq!(rcs[0]["key"], "unreachable:docker");
}

#[test]
fn restarting_backend_container_explains_the_refused_backend() {
    let c = Container::run(
        "backend-loop",
        &["--restart", "always"],
        &[
            "sh",
            "-c",
            "echo 'Error: listen EADDRINUSE: address already in use :::3000'; exit 1",
        ],
    );
    c.wait_until("restarting", |c| {
        c.inspect("{{.RestartCount}}").parse::<u32>().unwrap_or(0) >= 4
    });
    let gate = format!(
        r#"schema_version: 1
id: T
name: backend with its container
targets:
  backend: "http://127.0.0.1:{port}"
  docker: "unix:///var/run/docker.sock"
requirements:
  - id: backend
    name: backend
    weight: 1
    checks:
      - {{ id: health, kind: http, target: backend, path: /health }}
      - {{ id: ready, kind: http, target: backend, path: /ready }}
      - {{ id: backend-container, kind: docker_container, target: docker, container: "{name}", serves: backend }}
"#,
        port = closed_port(),
        name = c.name
    );
    let (_dir, path) = gate_file(&gate);
    let (code, stdout, _) = output(bin().args(["check", "--format", "json", "--gate"]).arg(&path));
    assert_eq!(code, 1);
    let r = json(&stdout);
    let rcs = r["root_causes"].as_array().unwrap();
    assert_eq!(rcs.len(), 1, "{rcs:#?}");
    assert_eq!(rcs[0]["checks"].as_array().unwrap().len(), 3);
    assert!(
        s(&rcs[0]["summary"]).contains(&format!("container `{}`", c.name)),
        "{}",
        rcs[0]
    );
    assert!(s(&rcs[0]["summary"]).contains("port is already in use"), "{}", rcs[0]);
}

#[test]
fn garbage_and_huge_logs_stay_bounded_and_printable() {
    let garbage = Container::run("garbage", &[], &["sh", "-c", "head -c 200000 /dev/urandom; exit 2"]);
    let huge = Container::run(
        "huge",
        &[],
        &[
            "sh",
            "-c",
            "yes 'a long log line that repeats' | head -n 300000; exit 3",
        ],
    );
    let tty = Container::run(
        "tty",
        &["-t"],
        &[
            "sh",
            "-c",
            "echo \"GF_PATHS_DATA='/var/lib/grafana' is not writable.\"; exit 1",
        ],
    );
    for c in [&garbage, &huge, &tty] {
        c.wait_until("exited", |c| c.inspect("{{.State.Status}}") == "exited");
    }
    let started = Instant::now();
    let (chk, _) = grafana_container(&huge.name);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(chk["status"], "fail");
    let logs = chk["evidence"]["logs_tail"].as_array().unwrap();
    assert!(logs.len() <= 20 && !logs.is_empty(), "{}", logs.len());
    let (chk, _) = grafana_container(&garbage.name);
    assert_eq!(chk["evidence"]["exit_code"], 2);
    for l in chk["evidence"]["logs_tail"].as_array().unwrap() {
        assert!(s(l).chars().all(|c| !c.is_control() || c == '\t'), "unprintable: {l}");
        assert!(s(l).chars().count() <= 300);
    }
    // A TTY container's raw (unframed) log is read too.
    let (chk, _) = grafana_container(&tty.name);
    assert!(s(&chk["cause"]).contains("472"), "{chk}");
    let _ = unique("done");
}

#[test]
fn daemon_rejecting_the_api_version_is_one_clear_root_cause() {
    use crate::support::hostile::{Misbehaviour, start};
    // What Engine 20.10 answers to a client version above 1.41 (reference §5.1).
    let daemon = start(Misbehaviour::Json {
        status: "400 Bad Request",
        body: r#"{"message":"client version 1.53 is too new. Maximum supported API version is 1.41"}"#,
    });
    let host = daemon.replace("http://", "tcp://");
    let r = gate_g(&["grafana-container", "docker-network"], &[("DOCKER_HOST", &host)]);
    for id in ["grafana-container", "prometheus-backend-network"] {
        let chk = check(&r, id);
        assert_eq!(chk["status"], "error", "{chk}");
        assert!(s(&chk["message"]).contains("too new"), "{chk}");
    }
    let rcs = r["root_causes"].as_array().unwrap();
    assert_eq!(rcs.len(), 1, "{rcs:#?}");
    assert_eq!(rcs[0]["key"], "unreachable:docker");
}
