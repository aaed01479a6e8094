//! A fixture MediaNest backend on 127.0.0.1: a bearer-protected `/metrics`
//! and health endpoints whose status, body and delay each test sets, and a
//! log of the `Authorization` headers it received.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, Response, StatusCode, header};

use super::{TOKEN, read_fixture};

/// How one endpoint answers.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub status: u16,
    pub delay: Duration,
    pub body: String,
    pub content_type: String,
}

impl Endpoint {
    pub fn json(status: u16, body: &str) -> Self {
        Endpoint {
            status,
            delay: Duration::ZERO,
            body: body.to_string(),
            content_type: "application/json; charset=utf-8".to_string(),
        }
    }
    pub fn delayed(mut self, d: Duration) -> Self {
        self.delay = d;
        self
    }
}

/// Everything the backend does; tests change it through [`Backend::set`].
#[derive(Debug, Clone)]
pub struct Behaviour {
    /// `None` serves `/metrics` to anyone (the security blocker).
    pub token: Option<String>,
    pub metrics_body: String,
    pub metrics_content_type: String,
    pub health: HashMap<String, Endpoint>,
}

impl Default for Behaviour {
    /// A healthy backend: protected metrics, all three health endpoints up.
    fn default() -> Self {
        let ok = Endpoint::json(200, r#"{"status":"ok","uptime":1234.5}"#);
        Behaviour {
            token: Some(TOKEN.to_string()),
            metrics_body: read_fixture("backend/metrics-ok.prom"),
            metrics_content_type: "text/plain; version=0.0.4; charset=utf-8".to_string(),
            health: ["/health", "/api/v1/health", "/api/health"]
                .into_iter()
                .map(|p| (p.to_string(), ok.clone()))
                .collect(),
        }
    }
}

pub struct Backend {
    pub url: String,
    behaviour: Arc<Mutex<Behaviour>>,
    auth_seen: Arc<Mutex<Vec<String>>>,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

impl Backend {
    pub fn start(behaviour: Behaviour) -> Backend {
        let behaviour = Arc::new(Mutex::new(behaviour));
        let auth_seen = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let (port_tx, port_rx) = std::sync::mpsc::channel();
        let (b, a) = (Arc::clone(&behaviour), Arc::clone(&auth_seen));
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("fixture runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("bind fixture");
                port_tx
                    .send(listener.local_addr().expect("addr").port())
                    .expect("report port");
                let app = Router::new().fallback(move |req: Request<Body>| handle(req, Arc::clone(&b), Arc::clone(&a)));
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = rx.await;
                    })
                    .await;
            });
        });
        let port = port_rx.recv_timeout(Duration::from_secs(10)).expect("fixture started");
        Backend {
            url: format!("http://127.0.0.1:{port}"),
            behaviour,
            auth_seen,
            _shutdown: tx,
        }
    }

    pub fn healthy() -> Backend {
        Self::start(Behaviour::default())
    }

    pub fn set(&self, f: impl FnOnce(&mut Behaviour)) {
        f(&mut self.behaviour.lock().expect("behaviour lock"));
    }

    /// `Authorization` headers received so far.
    pub fn auth_headers(&self) -> Vec<String> {
        self.auth_seen.lock().expect("auth lock").clone()
    }
}

async fn handle(
    req: Request<Body>,
    behaviour: Arc<Mutex<Behaviour>>,
    auth_seen: Arc<Mutex<Vec<String>>>,
) -> Response<Body> {
    let b = behaviour.lock().expect("behaviour lock").clone();
    let path = req.uri().path().to_string();
    let auth = header_str(req.headers(), header::AUTHORIZATION);
    if let Some(a) = &auth {
        auth_seen.lock().expect("auth lock").push(a.clone());
    }
    if path == "/metrics" {
        if let Some(token) = &b.token
            && auth.as_deref() != Some(&format!("Bearer {token}"))
        {
            return respond(401, "application/json", r#"{"error":"unauthorized"}"#);
        }
        return respond(200, &b.metrics_content_type, &b.metrics_body);
    }
    match b.health.get(&path) {
        Some(ep) => {
            if !ep.delay.is_zero() {
                tokio::time::sleep(ep.delay).await;
            }
            respond(ep.status, &ep.content_type, &ep.body)
        }
        None => respond(404, "text/plain", "Not Found"),
    }
}

fn header_str(h: &HeaderMap, name: header::HeaderName) -> Option<String> {
    h.get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
}

fn respond(status: u16, content_type: &str, body: &str) -> Response<Body> {
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from(body.to_string()))
        .unwrap_or_default()
}
