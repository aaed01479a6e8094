//! A real Alertmanager (Debian's `prometheus-alertmanager`) for integration
//! tests: one per test, on a free 127.0.0.1 port, clustering off, its
//! config and storage in a temp dir, routing to a webhook sink served by the
//! test that counts notifications.
//!
//! It runs under the same `sh` wrapper as the test Prometheus
//! (`support::prometheus`): when the guard is dropped or the test process
//! dies, the wrapper's stdin closes and it stops Alertmanager.

use std::fs::File;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::prometheus::{Process, WRAPPER, find_on_path, http_get};

const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// A webhook receiver that counts the notifications it gets.
pub struct Sink {
    /// `http://127.0.0.1:PORT/hook`
    pub url: String,
    pub count: Arc<AtomicUsize>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Sink {
    pub fn start() -> Sink {
        let count = Arc::new(AtomicUsize::new(0));
        let c = Arc::clone(&count);
        let (url, stop) = super::spawn(move |_req| {
            let c = Arc::clone(&c);
            async move {
                c.fetch_add(1, Ordering::SeqCst);
                super::respond(200, "text/plain", "ok")
            }
        });
        Sink {
            url: format!("{url}/hook"),
            count,
            _stop: stop,
        }
    }

    pub fn notifications(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }
}

/// A running Alertmanager; dropping it stops the server and deletes its files.
pub struct Alertmanager {
    /// `http://127.0.0.1:PORT`
    pub url: String,
    /// `127.0.0.1:PORT`, as Prometheus' `alerting:` section names it.
    pub addr: SocketAddr,
    process: Process,
    dir: tempfile::TempDir,
}

/// `alertmanager.yml`: everything goes to `default` (the sink) after a
/// short group_wait; `team="ops"` goes to `ops` (also the sink); `unused`
/// has no route.
fn config(sink: &str) -> String {
    let q = |s: &str| serde_json::to_string(s).expect("string to JSON");
    format!(
        "route:\n  receiver: default\n  group_by: [alertname]\n  group_wait: 1s\n  group_interval: 5s\n  routes:\n    - receiver: ops\n      matchers: ['team=\"ops\"']\nreceivers:\n  - name: default\n    webhook_configs:\n      - url: {u}\n  - name: ops\n    webhook_configs:\n      - url: {u}\n  - name: unused\n",
        u = q(sink)
    )
}

impl Alertmanager {
    /// Starts Alertmanager routing to `sink` and waits for `/-/ready`.
    pub fn start(sink: &Sink) -> Alertmanager {
        assert!(sink.url.starts_with("http://127.0.0.1:"), "the sink is local");
        let bin = find_on_path("prometheus-alertmanager").unwrap_or_else(|| {
            panic!(
                "`prometheus-alertmanager` is not on PATH. These tests run a real Alertmanager: \
                 run ./scripts/test, which installs it (Debian package `prometheus-alertmanager`)."
            )
        });
        let mut logs = Vec::new();
        for _ in 0..5 {
            match Self::try_start(&bin, &config(&sink.url), &sink.url) {
                Ok(a) => return a,
                Err(log) if log.contains("address already in use") => logs.push(log),
                Err(log) => panic!("Alertmanager did not start:\n{log}"),
            }
        }
        panic!(
            "Alertmanager found no free port in 5 attempts:\n{}",
            logs.pop().unwrap_or_default()
        );
    }

    fn try_start(bin: &Path, yaml: &str, sink: &str) -> Result<Alertmanager, String> {
        let dir = tempfile::Builder::new()
            .prefix("medianest-am-")
            .tempdir()
            .expect("temp dir");
        let cfg = dir.path().join("alertmanager.yml");
        std::fs::write(&cfg, yaml).expect("write alertmanager.yml");
        let port = super::closed_port();
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let storage = dir.path().join("data");
        let log = File::create(dir.path().join("am.log")).expect("create log");
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(WRAPPER)
            .arg("alertmanager-wrapper")
            .arg(dir.path().join("pid"))
            .arg(bin)
            .arg(format!("--config.file={}", cfg.display()))
            .arg(format!("--web.listen-address={addr}"))
            .arg(format!("--storage.path={}", storage.display()))
            // An empty value turns clustering off (no gossip port, status `disabled`).
            .arg("--cluster.listen-address=")
            .env_remove("HTTP_PROXY")
            .env_remove("HTTPS_PROXY")
            .env_remove("http_proxy")
            .env_remove("https_proxy")
            .current_dir(dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::from(log.try_clone().expect("clone log handle")))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn sh");
        let stdin = child.stdin.take();
        let mut am = Alertmanager {
            url: format!("http://{addr}"),
            addr,
            process: Process {
                child,
                stdin,
                pidfile: dir.path().join("pid"),
            },
            dir,
        };
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Ok(Some(status)) = am.process.child.try_wait() {
                return Err(format!("Alertmanager exited ({status}):\n{}", am.log_tail()));
            }
            if let Ok((200, _)) = http_get(addr, "/-/ready") {
                // Ours if its config names our sink: 0.25 shows webhook URLs in clear (another test's may hold the port).
                let ours = http_get(addr, "/api/v2/status")
                    .ok()
                    .and_then(|(_, b)| serde_json::from_str::<Value>(&b).ok())
                    .and_then(|s| s["config"]["original"].as_str().map(str::to_string))
                    .is_some_and(|c| c.contains(sink));
                if ours {
                    return Ok(am);
                }
            }
            if Instant::now() >= deadline {
                return Err(format!("Alertmanager on {addr} not ready:\n{}", am.log_tail()));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `GET /api/v2/alerts` with all flags true, parsed.
    pub fn alerts(&self) -> Vec<Value> {
        let (status, body) = http_get(self.addr, "/api/v2/alerts").expect("GET /api/v2/alerts");
        assert_eq!(status, 200, "{body}");
        serde_json::from_str::<Value>(&body)
            .ok()
            .and_then(|v| v.as_array().cloned())
            .unwrap_or_else(|| panic!("not a JSON list: {body}"))
    }

    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.dir.path().join("am.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        self.process.stop();
    }
}
