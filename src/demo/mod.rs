//! A simulated MediaNest stack for `demo`: backend, Prometheus, Grafana,
//! Loki, Alertmanager, Jaeger on loopback ports and a Docker Engine API on
//! a temporary unix socket, served in-process so a first run shows the
//! job with nothing else installed. Every answer follows the shapes of
//! `shared/reference/*.md`; a scenario decides what is broken.
//!
//! This is no test fixture and shares nothing with the probes: it only
//! answers HTTP, and the gate judges it like any other stack.

mod backend;
mod docker;
mod extras;
mod grafana;
mod loki;
mod prometheus;
mod serve;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;

use serve::{Handler, Reply, Req};

/// One simulated day of the stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    SeedDay,
    Healthy,
    SlowP95,
    Scrape401,
    MetricsOpen,
    LokiRetention,
}

/// Every scenario with its name and the line `demo --list` prints; the first is the default.
const SCENARIOS: [(Scenario, &str, &str); 6] = [
    (
        Scenario::SeedDay,
        "seed-day",
        "the seed's own day, 2025-09-12 (default): the backend is down and Grafana restarts in a loop because its data directory is not writable (BLOCKED)",
    ),
    (Scenario::Healthy, "healthy", "everything works (PASSED)"),
    (
        Scenario::SlowP95,
        "slow-p95",
        "the backend's p95 latency is above the 600 ms SLA (performance-sla fails)",
    ),
    (
        Scenario::Scrape401,
        "scrape-401",
        "Prometheus scrapes /metrics without the bearer token and gets 401 (prometheus-scrape fails; the dashboards' backend panels go empty)",
    ),
    (
        Scenario::MetricsOpen,
        "metrics-open",
        "the backend serves /metrics without authentication (metrics-endpoint fails)",
    ),
    (
        Scenario::LokiRetention,
        "loki-retention",
        "Loki sets retention_period 30d but compactor retention is disabled, so nothing is ever deleted (log-aggregation passes with a warning: the setting is not enforced)",
    ),
];

impl Scenario {
    /// (name, description) of every scenario, the default first.
    pub fn list() -> impl Iterator<Item = (&'static str, &'static str)> {
        SCENARIOS.iter().map(|(_, n, d)| (*n, *d))
    }

    pub fn name(self) -> &'static str {
        self.entry().0
    }

    pub fn description(self) -> &'static str {
        self.entry().1
    }

    fn entry(self) -> (&'static str, &'static str) {
        SCENARIOS
            .iter()
            .find(|(s, _, _)| *s == self)
            .map_or(("", ""), |(_, n, d)| (*n, *d))
    }

    pub fn parse(name: &str) -> Option<Scenario> {
        SCENARIOS.iter().find(|(_, n, _)| *n == name).map(|(s, _, _)| *s)
    }

    fn backend_up(self) -> bool {
        self != Scenario::SeedDay
    }

    /// Prometheus holds the backend's series (its scrapes succeed).
    fn scraped(self) -> bool {
        self.backend_up() && self != Scenario::Scrape401
    }
}

/// What every simulated service knows: the scenario and the addresses
/// (`127.0.0.1:PORT`) the others' answers name.
struct Sim {
    scenario: Scenario,
    backend: String,
    prometheus: String,
    alertmanager: String,
}

/// The bearer tokens of the simulated stack. They are secrets to the gate
/// like real ones (redacted from every output), though nothing real uses
/// them. Any 8 characters of a secret are redacted, so they share no run of
/// 8 with the report's ids and words.
const METRICS_TOKEN: &str = "dM0qX7vK2pLw9Rt4";
const GRAFANA_TOKEN: &str = "glsa_Zk3N9xQ2Lr7Vw5Tp";

type Answer = fn(&Sim, &Req) -> Reply;
/// Each TCP service: the Gate G variable its URL goes into, and its answers.
const SERVICES: [(&str, Answer); 6] = [
    ("MEDIANEST_BACKEND_URL", backend::answer),
    ("PROMETHEUS_URL", prometheus::answer),
    ("GRAFANA_URL", grafana::answer),
    ("LOKI_URL", loki::answer),
    ("ALERTMANAGER_URL", extras::alertmanager),
    ("TRACING_URL", extras::jaeger),
];

/// The running stack; dropping it stops every service and removes the socket.
pub struct Stack {
    /// `--var` pairs that point the built-in Gate G at the stack.
    pub vars: Vec<(String, String)>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    _socket_dir: tempfile::TempDir,
}

impl Stack {
    /// Binds every service on 127.0.0.1 (port 0 each) and the Docker socket
    /// in a fresh private directory, then serves them on a thread of their own.
    pub fn start(scenario: Scenario) -> anyhow::Result<Stack> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the simulated stack's runtime")?;
        let socket_dir = tempfile::Builder::new()
            .prefix("medianest-gate-demo-")
            .tempdir()
            .context("cannot create a directory for the simulated Docker socket")?;
        let socket = socket_dir.path().join("docker.sock");
        // Seed day: the backend and Grafana are down, their ports refuse connections.
        let down = |var: &str| scenario == Scenario::SeedDay && matches!(var, "MEDIANEST_BACKEND_URL" | "GRAFANA_URL");
        let (ports, docker) = runtime
            .block_on(async {
                let mut ports = Vec::new();
                for (var, answer) in SERVICES {
                    let socket = tokio::net::TcpSocket::new_v4()?;
                    socket.bind(std::net::SocketAddr::from(([127, 0, 0, 1], 0)))?;
                    let addr = socket.local_addr()?.to_string();
                    // Bound but never listening: connecting is refused, as at
                    // a stopped service's port, and no other process takes it.
                    let port = if down(var) {
                        Err(socket)
                    } else {
                        Ok(socket.listen(128)?)
                    };
                    ports.push((var, addr, answer, port));
                }
                std::io::Result::Ok((ports, tokio::net::UnixListener::bind(&socket)?))
            })
            .context("cannot bind the simulated stack on 127.0.0.1")?;
        let mut vars: Vec<(String, String)> = ports
            .iter()
            .map(|(var, addr, _, _)| (var.to_string(), format!("http://{addr}")))
            .collect();
        vars.extend([
            ("DOCKER_HOST".to_string(), format!("unix://{}", socket.display())),
            ("METRICS_TOKEN".to_string(), METRICS_TOKEN.to_string()),
            ("GRAFANA_TOKEN".to_string(), GRAFANA_TOKEN.to_string()),
        ]);
        let addr = |i: usize| ports[i].1.clone();
        let sim = Arc::new(Sim {
            scenario,
            backend: addr(0),
            prometheus: addr(1),
            alertmanager: addr(4),
        });
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("demo-stack".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let mut refusing = Vec::new();
                    for (_, _, answer, port) in ports {
                        match port {
                            Ok(l) => {
                                let sim = Arc::clone(&sim);
                                tokio::spawn(serve::serve(l, Arc::new(move |req| answer(&sim, &req))));
                            }
                            Err(reserved) => refusing.push(reserved),
                        }
                    }
                    let docker_answer: Handler = Arc::new(move |req| docker::answer(&sim, &req));
                    tokio::spawn(serve::serve(docker, docker_answer));
                    let _ = stopped.await;
                    drop(refusing);
                });
            })
            .context("cannot start the simulated stack's thread")?;
        Ok(Stack {
            vars,
            stop: Some(stop),
            thread: Some(thread),
            _socket_dir: socket_dir,
        })
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Bearer check shared by the protected services.
fn bearer(req: &Req, token: &str) -> bool {
    req.authorization.as_deref().and_then(|v| v.strip_prefix("Bearer ")) == Some(token)
}

fn now() -> SystemTime {
    SystemTime::now()
}

fn unix_secs(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

/// RFC 3339 with nanoseconds, `secs` ago, as Prometheus and Docker write times.
fn rfc3339_ago(secs: u64) -> String {
    let t = now().checked_sub(Duration::from_secs(secs)).unwrap_or(UNIX_EPOCH);
    humantime::format_rfc3339_nanos(t).to_string()
}
