//! A real Alertmanager (Debian's `prometheus-alertmanager`) for integration
//! tests: one per test, on a free 127.0.0.1 port, clustering off, its
//! config and storage in a temp dir, routing to a webhook sink served by the
//! test that counts notifications.
//!
//! It runs under the same `sh` wrapper as the test Prometheus
//! (`support::prometheus`): when the guard is dropped or the test process
//! dies, the wrapper's stdin closes and it stops Alertmanager.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::Value;

use super::daemon::{Daemon, get as http_get};

/// A webhook receiver that counts the notifications it gets and keeps
/// their bodies (Alertmanager's webhook payload, pipeline-apis §1.10).
pub struct Sink {
    /// `http://127.0.0.1:PORT/hook`
    pub url: String,
    pub count: Arc<AtomicUsize>,
    payloads: Arc<Mutex<Vec<Value>>>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Sink {
    pub fn start() -> Sink {
        let count = Arc::new(AtomicUsize::new(0));
        let payloads: Arc<Mutex<Vec<Value>>> = Arc::default();
        let (c, p) = (Arc::clone(&count), Arc::clone(&payloads));
        let (url, stop) = super::spawn(move |req: axum::http::Request<axum::body::Body>| {
            let (c, p) = (Arc::clone(&c), Arc::clone(&p));
            async move {
                let body = axum::body::to_bytes(req.into_body(), 1 << 20).await.unwrap_or_default();
                super::lock(&p).push(serde_json::from_slice(&body).unwrap_or(Value::Null));
                c.fetch_add(1, Ordering::SeqCst);
                super::respond(200, "text/plain", "ok")
            }
        });
        Sink {
            url: format!("{url}/hook"),
            count,
            payloads,
            _stop: stop,
        }
    }

    pub fn notifications(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }

    /// The notifications received so far, parsed (`null` where not JSON).
    pub fn payloads(&self) -> Vec<Value> {
        super::lock(&self.payloads).clone()
    }
}

/// A running Alertmanager; dropping it stops the server and deletes its files.
pub struct Alertmanager {
    pub url: String,
    pub addr: SocketAddr,
    daemon: Daemon,
}

/// `alertmanager.yml`: everything goes to `root` (the sink) after a
/// short group_wait; `team="ops"` goes to `ops` (also the sink); `unused`
/// has no route.
fn config(sink: &str, root: &str) -> String {
    let q = |s: &str| serde_json::to_string(s).expect("string to JSON");
    format!(
        "route:\n  receiver: {r}\n  group_by: [alertname]\n  group_wait: 1s\n  group_interval: 5s\n  routes:\n    - receiver: ops\n      matchers: ['team=\"ops\"']\nreceivers:\n  - name: {r}\n    webhook_configs:\n      - url: {u}\n  - name: ops\n    webhook_configs:\n      - url: {u}\n  - name: unused\n",
        u = q(sink),
        r = q(root)
    )
}

impl Alertmanager {
    /// Starts Alertmanager routing to `sink` and waits until it answers
    /// with our config (another test's Alertmanager may hold a port we
    /// picked: 0.25 shows webhook URLs in clear in `/api/v2/status`).
    pub fn start(sink: &Sink) -> Alertmanager {
        Self::routing_to(sink, "default")
    }

    /// As `start`, with the root route's receiver named `receiver`.
    pub fn routing_to(sink: &Sink, receiver: &str) -> Alertmanager {
        assert!(sink.url.starts_with("http://127.0.0.1:"), "the sink is local");
        let yaml = config(&sink.url, receiver);
        let daemon = Daemon::start(
            "prometheus-alertmanager",
            "prometheus-alertmanager",
            "/api/v2/status",
            &sink.url,
            |addr, dir| {
                let cfg = dir.join("alertmanager.yml");
                std::fs::write(&cfg, &yaml).expect("write alertmanager.yml");
                vec![
                    format!("--config.file={}", cfg.display()),
                    format!("--web.listen-address={addr}"),
                    format!("--storage.path={}", dir.join("data").display()),
                    // An empty value turns clustering off (no gossip port, status `disabled`).
                    "--cluster.listen-address=".to_string(),
                ]
            },
        );
        Alertmanager {
            url: daemon.url(),
            addr: daemon.addr,
            daemon,
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
        self.daemon.log_tail()
    }
}
