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

use std::path::PathBuf;
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

impl Scenario {
    pub const ALL: [Scenario; 6] = [
        Scenario::SeedDay,
        Scenario::Healthy,
        Scenario::SlowP95,
        Scenario::Scrape401,
        Scenario::MetricsOpen,
        Scenario::LokiRetention,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Scenario::SeedDay => "seed-day",
            Scenario::Healthy => "healthy",
            Scenario::SlowP95 => "slow-p95",
            Scenario::Scrape401 => "scrape-401",
            Scenario::MetricsOpen => "metrics-open",
            Scenario::LokiRetention => "loki-retention",
        }
    }

    /// One line for `demo --list`.
    pub fn description(self) -> &'static str {
        match self {
            Scenario::SeedDay => {
                "the seed's own day, 2025-09-12 (default): the backend is down and Grafana restarts in a loop because its data directory is not writable (BLOCKED)"
            }
            Scenario::Healthy => "everything works (PASSED)",
            Scenario::SlowP95 => "the backend's p95 latency is above the 600 ms SLA (performance-sla fails)",
            Scenario::Scrape401 => {
                "Prometheus scrapes /metrics without the bearer token and gets 401 (prometheus-scrape fails)"
            }
            Scenario::MetricsOpen => "the backend serves /metrics without authentication (metrics-endpoint fails)",
            Scenario::LokiRetention => {
                "Loki sets retention_period 30d but compactor retention is disabled, so nothing is ever deleted (log-aggregation passes with a warning: the setting is not enforced)"
            }
        }
    }

    pub fn parse(name: &str) -> Option<Scenario> {
        Scenario::ALL.into_iter().find(|s| s.name() == name)
    }

    fn backend_up(self) -> bool {
        self != Scenario::SeedDay
    }

    fn grafana_up(self) -> bool {
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

/// The running stack; [`Stack::stop`] ends it.
pub struct Stack {
    /// `--var` pairs that point the built-in Gate G at the stack.
    pub vars: Vec<(String, String)>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    socket_dir: PathBuf,
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
        let socket_dir = private_dir()?;
        let socket = socket_dir.join("docker.sock");
        let services = [
            (Service::Backend, scenario.backend_up()),
            (Service::Prometheus, true),
            (Service::Grafana, scenario.grafana_up()),
            (Service::Loki, true),
            (Service::Alertmanager, true),
            (Service::Jaeger, true),
        ];
        let bound = runtime.block_on(async {
            let mut bound = Vec::new();
            for (service, up) in services {
                bound.push((service, Port::bind(up)?));
            }
            let docker = tokio::net::UnixListener::bind(&socket)?;
            std::io::Result::Ok((bound, docker))
        });
        let (bound, docker) = match bound {
            Ok(b) => b,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&socket_dir);
                return Err(anyhow::Error::new(e).context("cannot bind the simulated stack on 127.0.0.1"));
            }
        };
        let addr = |s: Service| {
            bound
                .iter()
                .find(|(b, _)| *b == s)
                .map(|(_, p)| p.addr.clone())
                .unwrap_or_default()
        };
        let url = |s: Service| format!("http://{}", addr(s));
        let sim = Arc::new(Sim {
            scenario,
            metrics_token: METRICS_TOKEN.to_string(),
            grafana_token: GRAFANA_TOKEN.to_string(),
            backend: addr(Service::Backend),
            prometheus: addr(Service::Prometheus),
            alertmanager: addr(Service::Alertmanager),
        });
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
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();

        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("demo-stack".into())
            .spawn(move || {
                runtime.block_on(async move {
                    // A refused port stays bound (never listening) until the stack stops.
                    let mut reserved = Vec::new();
                    for (service, port) in bound {
                        match port.listener {
                            Some(l) => spawn_tcp(l, handler(service, Arc::clone(&sim))),
                            None => reserved.push(port),
                        }
                    }
                    let docker = Arc::new(docker);
                    let sim_docker = Arc::clone(&sim);
                    let docker_handler: Handler = Arc::new(move |req| docker::answer(&sim_docker, &req));
                    tokio::spawn(serve::serve(
                        move || {
                            let l = Arc::clone(&docker);
                            async move { l.accept().await.map(|(s, _)| s) }
                        },
                        docker_handler,
                    ));
                    let _ = stopped.await;
                    drop(reserved);
                });
            })
            .context("cannot start the simulated stack's thread")?;
        Ok(Stack {
            vars,
            stop: Some(stop),
            thread: Some(thread),
            socket_dir,
        })
    }

    /// Stops every service and removes the socket directory.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = std::fs::remove_dir_all(&self.socket_dir);
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// A loopback port: listening, or only bound, so that connecting to it is
/// refused the way a stopped service's port is (and no other process can take it).
struct Port {
    addr: String,
    listener: Option<tokio::net::TcpListener>,
    _reserved: Option<tokio::net::TcpSocket>,
}

impl Port {
    fn bind(listening: bool) -> std::io::Result<Port> {
        let socket = tokio::net::TcpSocket::new_v4()?;
        socket.bind(std::net::SocketAddr::from(([127, 0, 0, 1], 0)))?;
        let addr = socket.local_addr()?.to_string();
        if listening {
            Ok(Port {
                addr,
                listener: Some(socket.listen(128)?),
                _reserved: None,
            })
        } else {
            Ok(Port {
                addr,
                listener: None,
                _reserved: Some(socket),
            })
        }
    }
}

fn spawn_tcp(listener: tokio::net::TcpListener, handler: Handler) {
    let listener = Arc::new(listener);
    tokio::spawn(serve::serve(
        move || {
            let l = Arc::clone(&listener);
            async move { l.accept().await.map(|(s, _)| s) }
        },
        handler,
    ));
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

/// A new directory only this user can enter, for the Docker socket.
fn private_dir() -> anyhow::Result<PathBuf> {
    use std::os::unix::fs::DirBuilderExt;
    let base = std::env::temp_dir();
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let mut last = None;
    for attempt in 0..16u32 {
        let dir = base.join(format!("medianest-gate-demo-{}-{nanos:x}-{attempt}", std::process::id()));
        match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) => last = Some(e),
        }
    }
    Err(anyhow::anyhow!(
        "cannot create a directory for the simulated Docker socket in {}: {}",
        base.display(),
        last.map(|e| e.to_string()).unwrap_or_default()
    ))
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
