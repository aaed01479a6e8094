//! A raw TCP server on a loopback address that misbehaves on purpose: it
//! never answers, trickles, streams endless or compressed-bomb bodies,
//! sends giant headers or invalid UTF-8, loops redirects, redirects to
//! another loopback host, or answers canned routes full of hostile text.
//! Answers say `Connection: close` because the server closes every
//! connection after one answer. A recorder keeps every request it
//! receives, so a test can prove a secret never arrived.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

#[derive(Debug, Clone)]
pub enum Misbehaviour {
    /// Accepts the connection and never sends a byte.
    Silent,
    /// Answers 200 with a chunked body of `total` bytes of valid-looking samples.
    Endless { total: u64 },
    /// Announces a JSON body longer than what it sends, then closes.
    TruncatedJson,
    /// Sends the status line and headers, then one body byte per second.
    Trickle,
    /// A small gzip body that inflates to `inflated` bytes of samples.
    GzipBomb { inflated: usize },
    /// One header line of `bytes` bytes.
    HugeHeader { bytes: usize },
    /// `/metrics` (and everything else) redirects to itself.
    RedirectLoop,
    /// Every request is redirected to `location`.
    RedirectTo { location: String },
    /// A 200 answer with these bytes and content type.
    Body { content_type: &'static str, body: Vec<u8> },
    /// Any status line (e.g. `400 Bad Request`) with a JSON body.
    Json { status: &'static str, body: &'static str },
    /// Reads the request, then closes the connection without a byte.
    CloseAfterRequest,
    /// A fake Docker daemon: `/_ping` answers `OK`, every other path streams
    /// `total` bytes like [`Misbehaviour::Endless`].
    EndlessAfterPing { total: u64 },
    /// Answers by path: the first route whose prefix the request path has;
    /// 404 when none does. For servers whose every answer carries hostile text.
    Routes(Vec<Route>),
}

/// One canned answer of [`Misbehaviour::Routes`].
#[derive(Debug, Clone)]
pub struct Route {
    pub prefix: String,
    /// Status line after `HTTP/1.1 `, e.g. `302 Found`.
    pub status: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Route {
    pub fn new(prefix: &str, status: &str, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        Route {
            prefix: prefix.to_string(),
            status: status.to_string(),
            headers: vec![("Content-Type".to_string(), content_type.to_string())],
            body: body.into(),
        }
    }

    pub fn redirect(prefix: &str, location: &str) -> Self {
        Route {
            prefix: prefix.to_string(),
            status: "302 Found".to_string(),
            headers: vec![("Location".to_string(), location.to_string())],
            body: Vec::new(),
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }
}

/// Requests a server received (raw bytes up to the end of the headers).
#[derive(Clone, Default)]
pub struct Recorder(Arc<Mutex<Vec<Vec<u8>>>>);

impl Recorder {
    pub fn requests(&self) -> Vec<String> {
        self.0
            .lock()
            .map(|r| r.iter().map(|b| String::from_utf8_lossy(b).into_owned()).collect())
            .unwrap_or_default()
    }
}

/// Starts the server on 127.0.0.1; it lives until the test process exits.
pub fn start(kind: Misbehaviour) -> String {
    start_on("127.0.0.1", kind).0
}

/// Starts the server on any loopback address (e.g. 127.0.0.2).
pub fn start_on(ip: &str, kind: Misbehaviour) -> (String, Recorder) {
    // Compress the bomb before listening: its cost must not count against
    // the timeout of the check under test.
    if let Misbehaviour::GzipBomb { inflated } = &kind {
        gzip_bomb(*inflated);
    }
    let listener = TcpListener::bind((ip, 0)).expect("bind hostile server");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let recorder = Recorder::default();
    let rec = recorder.clone();
    let self_url = url.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (kind, rec, self_url) = (kind.clone(), rec.clone(), self_url.clone());
            std::thread::spawn(move || serve(stream, kind, rec, &self_url));
        }
    });
    (url, recorder)
}

fn read_request(s: &mut TcpStream) -> Vec<u8> {
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let mut req = Vec::new();
    let mut buf = [0u8; 4096];
    while !req.windows(4).any(|w| w == b"\r\n\r\n") && req.len() < 64 * 1024 {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => req.extend_from_slice(&buf[..n]),
        }
    }
    req
}

fn serve(mut s: TcpStream, kind: Misbehaviour, rec: Recorder, self_url: &str) {
    let req = read_request(&mut s);
    let path = String::from_utf8_lossy(&req)
        .split_whitespace()
        .nth(1)
        .unwrap_or("/")
        .to_string();
    if let Ok(mut r) = rec.0.lock() {
        r.push(req);
    }
    let kind = match kind {
        Misbehaviour::EndlessAfterPing { .. } if path == "/_ping" => {
            let _ = s.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\nOK",
            );
            return;
        }
        Misbehaviour::EndlessAfterPing { total } => Misbehaviour::Endless { total },
        other => other,
    };
    match kind {
        Misbehaviour::Silent => std::thread::sleep(Duration::from_secs(60)),
        Misbehaviour::EndlessAfterPing { .. } => {}
        Misbehaviour::CloseAfterRequest => {}
        Misbehaviour::Endless { total } => {
            let _ = s.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nTransfer-Encoding: chunked\r\n\r\n",
            );
            let line = b"http_requests_total{method=\"GET\",route=\"/padding/for/size\"} 1\n";
            let chunk: Vec<u8> = line.iter().copied().cycle().take(64 * 1024).collect();
            let mut sent = 0u64;
            while sent < total {
                let header = format!("{:x}\r\n", chunk.len());
                if s.write_all(header.as_bytes()).is_err()
                    || s.write_all(&chunk).is_err()
                    || s.write_all(b"\r\n").is_err()
                {
                    return; // the client hung up: exactly what the cap should do
                }
                sent += chunk.len() as u64;
            }
            let _ = s.write_all(b"0\r\n\r\n");
        }
        Misbehaviour::TruncatedJson => {
            let _ = s.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"status\":\"o",
            );
        }
        Misbehaviour::Trickle => {
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n");
            for _ in 0..1000 {
                if s.write_all(b" ").is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_secs(1));
            }
        }
        Misbehaviour::GzipBomb { inflated } => {
            let body = gzip_bomb(inflated);
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n",
                body.len()
            );
            let _ = s.write_all(head.as_bytes());
            let _ = s.write_all(body);
        }
        Misbehaviour::HugeHeader { bytes } => {
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nX-Padding: ");
            let chunk = vec![b'a'; 1024 * 1024];
            let mut sent = 0;
            while sent < bytes {
                let n = chunk.len().min(bytes - sent);
                if s.write_all(&chunk[..n]).is_err() {
                    return;
                }
                sent += n;
            }
            let _ = s.write_all(b"\r\nContent-Length: 2\r\n\r\n{}");
        }
        Misbehaviour::RedirectLoop => {
            let resp = format!(
                "HTTP/1.1 302 Found\r\nLocation: {self_url}{path}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
            let _ = s.write_all(resp.as_bytes());
        }
        Misbehaviour::RedirectTo { location } => {
            let resp =
                format!("HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            let _ = s.write_all(resp.as_bytes());
        }
        Misbehaviour::Json { status, body } => {
            let resp = format!(
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nApi-Version: 1.41\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = s.write_all(resp.as_bytes());
        }
        Misbehaviour::Routes(routes) => {
            let not_found = Route::new("", "404 Not Found", "text/plain", "no such route");
            let route = routes
                .iter()
                .find(|r| path.starts_with(&r.prefix))
                .unwrap_or(&not_found);
            let mut head = format!("HTTP/1.1 {}\r\n", route.status);
            for (name, value) in &route.headers {
                head.push_str(&format!("{name}: {value}\r\n"));
            }
            head.push_str(&format!(
                "Content-Length: {}\r\nConnection: close\r\n\r\n",
                route.body.len()
            ));
            let _ = s.write_all(head.as_bytes());
            let _ = s.write_all(&route.body);
        }
        Misbehaviour::Body { content_type, body } => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = s.write_all(head.as_bytes());
            let _ = s.write_all(&body);
        }
    }
}

/// Gzip of `inflated` bytes of repeated samples, built once per size class.
fn gzip_bomb(inflated: usize) -> &'static [u8] {
    static BOMB: OnceLock<(usize, Vec<u8>)> = OnceLock::new();
    let (_, bytes) = BOMB.get_or_init(|| {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let line = b"bomb_total 1\n";
        let block: Vec<u8> = line.iter().copied().cycle().take(1024 * 1024).collect();
        let mut left = inflated;
        while left > 0 {
            let n = block.len().min(left);
            enc.write_all(&block[..n]).expect("compress");
            left -= n;
        }
        (inflated, enc.finish().expect("finish gzip"))
    });
    bytes
}
