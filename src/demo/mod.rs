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
        "Prometheus scrapes /metrics without the bearer token and gets 401 (prometheus-scrape fails)",
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

/// What every simulated service knows: the scenario, the tokens, the addresses.
struct Sim {
    scenario: Scenario,
    metrics_token: String,
    grafana_token: String,
    /// `127.0.0.1:PORT` of each service.
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

/// The running stack; dropping it stops every service and removes the socket.
pub struct Stack {
    /// `--var` pairs that point the built-in Gate G at the stack.
    pub vars: Vec<(String, String)>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    _socket_dir: tempfile::TempDir,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Service {
    Backend,
    Prometheus,
    Grafana,
    Loki,
    Alertmanager,
    Jaeger,
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
        // Seed day: backend and Grafana are down, their ports refuse connections.
        let down = |s: Service| scenario == Scenario::SeedDay && matches!(s, Service::Backend | Service::Grafana);
        let services = [
            Service::Backend,
            Service::Prometheus,
            Service::Grafana,
            Service::Loki,
            Service::Alertmanager,
            Service::Jaeger,
        ];
        let (ports, docker) = runtime
            .block_on(async {
                let mut ports = Vec::new();
                for s in services {
                    let socket = tokio::net::TcpSocket::new_v4()?;
                    socket.bind(std::net::SocketAddr::from(([127, 0, 0, 1], 0)))?;
                    let addr = socket.local_addr()?.to_string();
                    // Bound but never listening: connecting is refused, as at
                    // a stopped service's port, and no other process takes it.
                    let port = if down(s) { Err(socket) } else { Ok(socket.listen(128)?) };
                    ports.push((s, addr, port));
                }
                std::io::Result::Ok((ports, tokio::net::UnixListener::bind(&socket)?))
            })
            .context("cannot bind the simulated stack on 127.0.0.1")?;
        let addr = |s: Service| ports.iter().find(|p| p.0 == s).map(|p| p.1.clone()).unwrap_or_default();
        let url = |s: Service| format!("http://{}", addr(s));
        let vars = [
            ("MEDIANEST_BACKEND_URL", url(Service::Backend)),
            ("PROMETHEUS_URL", url(Service::Prometheus)),
            ("GRAFANA_URL", url(Service::Grafana)),
            ("LOKI_URL", url(Service::Loki)),
            ("ALERTMANAGER_URL", url(Service::Alertmanager)),
            ("TRACING_URL", url(Service::Jaeger)),
            ("DOCKER_HOST", format!("unix://{}", socket.display())),
            ("METRICS_TOKEN", METRICS_TOKEN.to_string()),
            ("GRAFANA_TOKEN", GRAFANA_TOKEN.to_string()),
        ];
        let sim = Arc::new(Sim {
            scenario,
            metrics_token: METRICS_TOKEN.to_string(),
            grafana_token: GRAFANA_TOKEN.to_string(),
            backend: addr(Service::Backend),
            prometheus: addr(Service::Prometheus),
            alertmanager: addr(Service::Alertmanager),
        });
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("demo-stack".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let mut refusing = Vec::new();
                    for (service, _, port) in ports {
                        match port {
                            Ok(l) => {
                                tokio::spawn(serve::serve(l, handler(service, Arc::clone(&sim))));
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
            vars: vars.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
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

fn handler(service: Service, sim: Arc<Sim>) -> Handler {
    let answer: fn(&Sim, &Req) -> Reply = match service {
        Service::Backend => backend::answer,
        Service::Prometheus => prometheus::answer,
        Service::Grafana => grafana::answer,
        Service::Loki => loki::answer,
        Service::Alertmanager => extras::alertmanager,
        Service::Jaeger => extras::jaeger,
    };
    Arc::new(move |req| answer(&sim, &req))
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
