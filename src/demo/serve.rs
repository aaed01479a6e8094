//! The HTTP/1 plumbing of the simulated services: accept loops on TCP and
//! unix sockets (hyper 1 + hyper-util), and the small request and reply
//! types the services answer with, so each service is a plain function.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};

/// A request body larger than this is refused: the gate's largest POST is
/// one dashboard panel's queries.
const BODY_CAP: usize = 1 << 20;

/// What a service sees of a request.
pub struct Req {
    pub method: hyper::Method,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub authorization: Option<String>,
    pub body: Bytes,
}

impl Req {
    /// The first value of query parameter `name`.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// A service's answer: status, optional Content-Type, extra headers, body.
pub struct Reply {
    pub status: u16,
    pub content_type: Option<&'static str>,
    pub headers: Vec<(&'static str, &'static str)>,
    pub body: Bytes,
}

impl Reply {
    pub fn new(status: u16, content_type: &'static str, body: impl Into<Bytes>) -> Reply {
        Reply {
            status,
            content_type: Some(content_type),
            headers: Vec::new(),
            body: body.into(),
        }
    }

    pub fn json(status: u16, content_type: &'static str, body: &serde_json::Value) -> Reply {
        Reply::new(status, content_type, body.to_string())
    }

    pub fn text(status: u16, body: &'static str) -> Reply {
        Reply::new(status, "text/plain; charset=utf-8", body)
    }
}

/// A service: answers one request.
pub type Handler = Arc<dyn Fn(Req) -> Reply + Send + Sync>;

/// Where connections come from: a TCP or a unix listener.
pub trait Listener: Send + 'static {
    type Io: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    fn next(&self) -> impl Future<Output = std::io::Result<Self::Io>> + Send;
}

impl Listener for tokio::net::TcpListener {
    type Io = tokio::net::TcpStream;
    async fn next(&self) -> std::io::Result<Self::Io> {
        self.accept().await.map(|(s, _)| s)
    }
}

impl Listener for tokio::net::UnixListener {
    type Io = tokio::net::UnixStream;
    async fn next(&self) -> std::io::Result<Self::Io> {
        self.accept().await.map(|(s, _)| s)
    }
}

/// Serves `handler` on every connection of `listener`, until the task is dropped.
pub async fn serve(listener: impl Listener, handler: Handler) {
    loop {
        // A failed accept (a client that hung up at once) ends only that connection.
        let Ok(stream) = listener.next().await else { continue };
        let handler = Arc::clone(&handler);
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
                let handler = Arc::clone(&handler);
                async move { Ok::<_, Infallible>(answer(req, &*handler).await) }
            });
            // A client that drops the connection midway is no error of the stack's.
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn answer(
    req: hyper::Request<Incoming>,
    handler: &(dyn Fn(Req) -> Reply + Send + Sync),
) -> hyper::Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let reply = match Limited::new(body, BODY_CAP).collect().await {
        Ok(body) => handler(Req {
            method: parts.method,
            path: parts.uri.path().to_string(),
            query: url::form_urlencoded::parse(parts.uri.query().unwrap_or_default().as_bytes())
                .into_owned()
                .collect(),
            authorization: parts
                .headers
                .get(hyper::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
            body: body.to_bytes(),
        }),
        Err(_) => Reply::text(413, "request body too large\n"),
    };
    let mut resp = hyper::Response::new(Full::new(reply.body));
    *resp.status_mut() = hyper::StatusCode::from_u16(reply.status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    let headers = resp.headers_mut();
    if let Some(ct) = reply.content_type {
        headers.insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static(ct));
    }
    for (name, value) in reply.headers {
        headers.insert(name, hyper::header::HeaderValue::from_static(value));
    }
    resp
}
