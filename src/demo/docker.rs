//! The simulated Docker Engine 20.10 API (1.41) on a unix socket: ping, the
//! container list, inspect and multiplexed logs of the stack's containers,
//! and their network. Paths are served bare and with a `/vX.Y` prefix, as
//! the engine does.

use std::hash::{Hash, Hasher};

use serde_json::{Value, json};

use super::serve::{Reply, Req};
use super::{Scenario, Sim, rfc3339_ago};

const JSON: &str = "application/json";
const NETWORK: &str = "medianest";
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";
/// What Grafana's entrypoint prints when its data directory is not writable
/// (reference §3.9), the `mkdir` line first as it comes from stderr.
const GRAFANA_UNWRITABLE: [(u8, &str); 3] = [
    (
        2,
        "mkdir: can't create directory '/var/lib/grafana/plugins': Permission denied\n",
    ),
    (1, "GF_PATHS_DATA='/var/lib/grafana' is not writable.\n"),
    (
        1,
        "You may have issues with file permissions, more information here: http://docs.grafana.org/installation/docker/#migrate-to-v51-or-later\n",
    ),
];

/// One container of the stack as the scenario has it.
struct Container {
    name: &'static str,
    image: &'static str,
    /// `State.Status`: running, restarting or exited.
    status: &'static str,
    restarts: u32,
    exit_code: i64,
    /// (host path, container path) bind mounts.
    mounts: &'static [(&'static str, &'static str)],
    /// (stream, line): 1 stdout, 2 stderr.
    logs: Vec<(u8, &'static str)>,
    /// The last byte of its address on the network.
    ip: u8,
}

fn containers(scenario: Scenario) -> Vec<Container> {
    let seed_day = scenario == Scenario::SeedDay;
    let grafana_logs = if seed_day {
        // One set of lines per start: the restart loop repeats them.
        GRAFANA_UNWRITABLE.iter().copied().cycle().take(3 * 8).collect()
    } else {
        vec![(
            1,
            "logger=server t=2025-09-12T06:00:01Z level=info msg=\"HTTP Server Listen\" address=[::]:3000\n",
        )]
    };
    let running = |name, image, mounts, ip| Container {
        name,
        image,
        status: "running",
        restarts: 0,
        exit_code: 0,
        mounts,
        logs: vec![(1, "started\n")],
        ip,
    };
    vec![
        Container {
            name: "medianest-backend",
            image: "medianest/backend:2.4.1",
            status: if seed_day { "exited" } else { "running" },
            restarts: 0,
            exit_code: if seed_day { 1 } else { 0 },
            mounts: &[],
            logs: vec![(1, "MediaNest backend listening on :3000\n")],
            ip: 2,
        },
        Container {
            name: "medianest-grafana",
            image: "grafana/grafana:11.2.0",
            status: if seed_day { "restarting" } else { "running" },
            restarts: if seed_day { 47 } else { 0 },
            exit_code: if seed_day { 1 } else { 0 },
            mounts: &[("/srv/medianest/grafana", "/var/lib/grafana")],
            logs: grafana_logs,
            ip: 3,
        },
        running(
            "medianest-loki",
            "grafana/loki:3.2.1",
            &[("/srv/medianest/loki", "/loki")],
            4,
        ),
        running(
            "medianest-prometheus",
            "prom/prometheus:v2.42.0",
            &[("/srv/medianest/prometheus", "/prometheus")],
            5,
        ),
    ]
}

pub fn answer(sim: &Sim, req: &Req) -> Reply {
    let mut reply = route(sim.scenario, req);
    reply.headers.extend([
        ("api-version", "1.41"),
        ("server", "Docker/20.10.24+dfsg1 (linux)"),
        ("ostype", "linux"),
    ]);
    reply
}

fn route(scenario: Scenario, req: &Req) -> Reply {
    // An optional version prefix (`/v1.41/...`) names the same handlers.
    let path = match req.path.strip_prefix("/v").and_then(|p| p.split_once('/')) {
        Some((v, rest))
            if v.split('.')
                .all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())) =>
        {
            format!("/{rest}")
        }
        _ => req.path.clone(),
    };
    let all = containers(scenario);
    let find = |name: &str| all.iter().find(|c| c.name == name.trim_start_matches('/'));
    let no_such = |name: &str| Reply::json(404, JSON, &json!({"message": format!("No such container: {name}")}));
    match path.split('/').collect::<Vec<_>>().as_slice() {
        ["", "_ping"] => Reply::text(200, "OK"),
        ["", "containers", "json"] => {
            let everything = matches!(req.param("all"), Some("1" | "true"));
            let list: Vec<Value> = all
                .iter()
                .filter(|c| everything || c.status != "exited")
                .map(summary)
                .collect();
            Reply::json(200, JSON, &Value::Array(list))
        }
        ["", "containers", name, "json"] => match find(name) {
            Some(c) => Reply::json(200, JSON, &inspect(c)),
            None => no_such(name),
        },
        ["", "containers", name, "logs"] => {
            let wanted = |s: &str| matches!(req.param(s), Some("1" | "true"));
            if !wanted("stdout") && !wanted("stderr") {
                return Reply::json(
                    400,
                    JSON,
                    &json!({"message": "Bad parameters: you must choose at least one stream"}),
                );
            }
            match find(name) {
                Some(c) => logs(c, req.param("tail"), wanted("stdout"), wanted("stderr")),
                None => no_such(name),
            }
        }
        ["", "networks", id] if *id == NETWORK => Reply::json(200, JSON, &network(&all)),
        ["", "networks", id] => Reply::json(404, JSON, &json!({"message": format!("network {id} not found")})),
        _ => Reply::json(404, JSON, &json!({"message": "page not found"})),
    }
}

/// A stable 64-hex id per name, like the engine's.
fn id(name: &str) -> String {
    (0..4u8)
        .map(|i| {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            (name, i).hash(&mut h);
            format!("{:016x}", h.finish())
        })
        .collect()
}

fn endpoint(c: &Container) -> Value {
    json!({"IPAMConfig": null, "Links": null, "Aliases": [c.name, &id(c.name)[..12]], "NetworkID": id(NETWORK),
        "EndpointID": if c.status == "running" { id(&format!("{}-ep", c.name)) } else { String::new() },
        "Gateway": "172.20.0.1", "IPAddress": if c.status == "running" { format!("172.20.0.{}", c.ip) } else { String::new() },
        "IPPrefixLen": 16, "IPv6Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0,
        "MacAddress": "", "DriverOpts": null})
}

fn summary(c: &Container) -> Value {
    let status = match c.status {
        "running" => "Up 3 hours".to_string(),
        "restarting" => format!("Restarting ({}) 4 seconds ago", c.exit_code),
        _ => format!("Exited ({}) 41 minutes ago", c.exit_code),
    };
    json!({"Id": id(c.name), "Names": [format!("/{}", c.name)], "Image": c.image, "ImageID": format!("sha256:{}", id(c.image)),
        "Command": "/run.sh", "Created": 1_757_570_400, "Ports": [], "Labels": {"com.docker.compose.project": "medianest"},
        "State": c.status, "Status": status, "HostConfig": {"NetworkMode": NETWORK},
        "NetworkSettings": {"Networks": {NETWORK: endpoint(c)}}, "Mounts": []})
}

fn inspect(c: &Container) -> Value {
    let running = c.status == "running";
    let mounts: Vec<Value> = c
        .mounts
        .iter()
        .map(|(src, dst)| json!({"Type": "bind", "Source": src, "Destination": dst, "Mode": "", "RW": true, "Propagation": "rprivate"}))
        .collect();
    json!({
        "Id": id(c.name), "Created": "2025-09-11T06:00:00.143027662Z", "Path": "/run.sh", "Args": [],
        "State": {"Status": c.status, "Running": c.status != "exited", "Paused": false, "Restarting": c.status == "restarting",
            "OOMKilled": false, "Dead": false, "Pid": if running { 4242 } else { 0 }, "ExitCode": c.exit_code, "Error": "",
            "StartedAt": rfc3339_ago(if running { 10_800 } else { 64 }),
            "FinishedAt": if running { ZERO_TIME.to_string() } else { rfc3339_ago(4) }},
        "Image": format!("sha256:{}", id(c.image)), "ResolvConfPath": "", "HostnamePath": "", "HostsPath": "", "LogPath": "",
        "Name": format!("/{}", c.name), "RestartCount": c.restarts, "Driver": "overlay2", "Platform": "linux",
        "MountLabel": "", "ProcessLabel": "", "AppArmorProfile": "docker-default", "ExecIDs": null,
        "HostConfig": {"NetworkMode": NETWORK, "RestartPolicy": {"Name": "always", "MaximumRetryCount": 0}},
        "GraphDriver": {"Data": {}, "Name": "overlay2"},
        "Mounts": mounts,
        "Config": {"Hostname": &id(c.name)[..12], "Tty": false, "Image": c.image, "Env": [], "Labels": {}},
        "NetworkSettings": {"Bridge": "", "SandboxID": "", "Ports": {}, "IPAddress": "", "Gateway": "", "MacAddress": "",
            "Networks": {NETWORK: endpoint(c)}}
    })
}

/// Multiplexed frames (the container has no TTY): an 8-byte header
/// `[stream, 0, 0, 0, len_be_u32]` per line. No Content-Type, as 20.10 sends.
fn logs(c: &Container, tail: Option<&str>, stdout: bool, stderr: bool) -> Reply {
    let lines: Vec<&(u8, &str)> = c
        .logs
        .iter()
        .filter(|(s, _)| (*s == 1 && stdout) || (*s == 2 && stderr))
        .collect();
    let keep = tail.and_then(|t| t.parse::<usize>().ok()).unwrap_or(lines.len());
    let mut body = Vec::new();
    for (stream, line) in &lines[lines.len().saturating_sub(keep)..] {
        body.extend_from_slice(&[*stream, 0, 0, 0]);
        body.extend_from_slice(&(line.len() as u32).to_be_bytes());
        body.extend_from_slice(line.as_bytes());
    }
    Reply {
        status: 200,
        content_type: None,
        headers: Vec::new(),
        body: body.into(),
    }
}

fn network(all: &[Container]) -> Value {
    let members: serde_json::Map<String, Value> = all
        .iter()
        .filter(|c| c.status == "running")
        .map(|c| {
            (
                id(c.name),
                json!({"Name": c.name, "EndpointID": id(&format!("{}-ep", c.name)),
                "MacAddress": "", "IPv4Address": format!("172.20.0.{}/16", c.ip), "IPv6Address": ""}),
            )
        })
        .collect();
    json!({"Name": NETWORK, "Id": id(NETWORK), "Created": "2025-09-11T06:00:00.01Z", "Scope": "local", "Driver": "bridge",
        "EnableIPv6": false, "IPAM": {"Driver": "default", "Options": {}, "Config": [{"Subnet": "172.20.0.0/16", "Gateway": "172.20.0.1"}]},
        "Internal": false, "Attachable": false, "Ingress": false, "ConfigFrom": {"Network": ""}, "ConfigOnly": false,
        "Containers": members, "Options": {}, "Labels": {}})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(path: &str) -> Reply {
        let (path, query) = path.split_once('?').unwrap_or((path, ""));
        route(
            Scenario::SeedDay,
            &Req {
                method: hyper::Method::GET,
                path: path.to_string(),
                query: url::form_urlencoded::parse(query.as_bytes()).into_owned().collect(),
                authorization: None,
                body: bytes::Bytes::new(),
            },
        )
    }

    #[test]
    fn versioned_and_bare_paths_are_the_same_api() {
        assert_eq!(get("/v1.41/_ping").body, get("/_ping").body);
        assert_eq!(get("/v1.41/containers/medianest-grafana/json").status, 200);
        assert_eq!(get("/containers/nope/json").status, 404);
        // Without all=1 the exited backend is not listed.
        let listed = |p| serde_json::from_slice::<Value>(&get(p).body).map(|v| v.as_array().map_or(0, Vec::len));
        assert_eq!(listed("/containers/json").ok(), Some(3));
        assert_eq!(listed("/containers/json?all=1").ok(), Some(4));
    }

    #[test]
    fn logs_are_multiplexed_frames_and_need_a_stream() {
        assert_eq!(get("/containers/medianest-grafana/logs").status, 400);
        let body = get("/containers/medianest-grafana/logs?stdout=1&stderr=1&tail=2").body;
        let line = GRAFANA_UNWRITABLE[1].1;
        assert_eq!(&body[..8], &[1, 0, 0, 0, 0, 0, 0, line.len() as u8]);
        assert_eq!(&body[8..8 + line.len()], line.as_bytes());
        let stdout_only = get("/containers/medianest-grafana/logs?stdout=1").body;
        assert!(!String::from_utf8_lossy(&stdout_only).contains("mkdir"));
    }
}
