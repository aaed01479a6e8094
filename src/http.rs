//! The one HTTP client every probe shares: TLS settings, a body cap, and a
//! diagnosis of transport failures that a person can act on.
//!
//! reqwest has no body limit of its own, so bodies are read chunk by chunk
//! under a running cap: a hostile or broken server can cost at most `cap`
//! bytes of memory, never more. Redirects keep reqwest's policy of dropping
//! `Authorization` when the host, port or scheme changes, so a bearer token
//! never follows a redirect to another host.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, HeaderValue};

/// Cap for JSON API answers (DESIGN §7).
pub const JSON_CAP: usize = 4 * 1024 * 1024;
/// Cap for `/metrics` expositions (DESIGN §7).
pub const METRICS_CAP: usize = 16 * 1024 * 1024;

/// TLS options from the command line.
#[derive(Debug, Clone, Default)]
pub struct TlsOptions {
    pub ca_cert: Option<std::path::PathBuf>,
    pub insecure: bool,
}

/// Larger CA bundles are refused (the system bundle is about 200 KiB).
const MAX_CA_BYTES: u64 = 4 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("--ca-cert {path}: {source}")]
    ReadCa {
        path: String,
        source: crate::fsio::ReadError,
    },
    #[error("--ca-cert {path}: holds no PEM certificate (`-----BEGIN CERTIFICATE-----`)")]
    NoCertificate { path: String },
    #[error("cannot build the HTTP client: {0}")]
    Build(#[source] reqwest::Error),
}

#[derive(Debug, Clone)]
pub struct HttpClient {
    inner: reqwest::Client,
    pub tls: TlsOptions,
    /// Bounds requests in flight across all checks (`--concurrency`), so
    /// `--concurrency 1` is truly one request at a time.
    in_flight: Option<std::sync::Arc<tokio::sync::Semaphore>>,
    /// Requests sent, so the report can state the run's load on each target.
    counts: RequestCounts,
}

/// Requests sent by one client and every clone of it, by origin
/// (`scheme://host:port`, never credentials), plus those of the one check
/// a [`HttpClient::for_check`] clone belongs to.
#[derive(Debug, Clone, Default)]
struct RequestCounts {
    by_origin: Arc<Mutex<BTreeMap<String, u64>>>,
    check: Option<Arc<AtomicU32>>,
}

/// The origin a request counts against: credentials, path and query are
/// left out, so neither a secret nor a check's path reaches the report.
pub fn origin(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) => match (u.host_str(), u.port_or_known_default()) {
            (Some(host), Some(port)) => format!("{}://{host}:{port}", u.scheme()),
            (Some(host), None) => format!("{}://{host}", u.scheme()),
            _ => u.scheme().to_string(),
        },
        Err(_) => "unparsable URL".to_string(),
    }
}

/// Credentials for one request.
#[derive(Clone, Copy)]
pub enum Auth<'a> {
    None,
    Bearer(&'a str),
    Basic(&'a str, &'a str),
}

impl std::fmt::Debug for Auth<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the credentials themselves.
        f.write_str(match self {
            Auth::None => "Auth::None",
            Auth::Bearer(_) => "Auth::Bearer(..)",
            Auth::Basic(..) => "Auth::Basic(..)",
        })
    }
}

impl<'a> From<Option<&'a str>> for Auth<'a> {
    fn from(token: Option<&'a str>) -> Self {
        token.map(Auth::Bearer).unwrap_or(Auth::None)
    }
}

/// A complete answer, body included.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: reqwest::StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    /// Request sent to last body byte read.
    pub elapsed: Duration,
    /// The URL that answered, after redirects.
    pub final_url: String,
}

impl Response {
    pub fn content_type(&self) -> Option<&str> {
        self.headers
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
    }

    /// The status line as a person reads it: `503 Service Unavailable`.
    pub fn status_line(&self) -> String {
        status_line(self.status)
    }

    /// A short, printable excerpt of the body for evidence and messages.
    pub fn excerpt(&self, max: usize) -> String {
        excerpt(&self.body, max)
    }

    /// True when the body looks like an HTML page rather than data.
    pub fn looks_like_html(&self) -> bool {
        let ct_html = self.content_type().is_some_and(|c| c.contains("html"));
        let head = String::from_utf8_lossy(&self.body[..self.body.len().min(512)]).to_ascii_lowercase();
        let head = head.trim_start();
        ct_html || head.starts_with("<!doctype html") || head.starts_with("<html")
    }
}

pub fn status_line(status: reqwest::StatusCode) -> String {
    match status.canonical_reason() {
        Some(reason) => format!("{} {reason}", status.as_u16()),
        None => status.as_u16().to_string(),
    }
}

/// Printable text of at most `max` characters, with control characters escaped.
pub fn excerpt(body: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(max * 4)]);
    let mut out = String::new();
    for (i, c) in text.chars().enumerate() {
        if i >= max {
            out.push('…');
            break;
        }
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push(' '),
            c if c.is_control() => out.push('�'),
            c => out.push(c),
        }
    }
    out
}

/// Why a request produced no usable answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchError {
    /// Nothing listens on the port.
    Refused { addr: String },
    /// The host name does not resolve.
    Dns { host: String, detail: String },
    /// The TLS handshake failed (certificate, protocol).
    Tls { detail: String },
    /// No complete answer before the deadline.
    Timeout { after: Duration },
    /// The body exceeded the cap; `reason` says why the cap is that size
    /// where the caller chose one of its own.
    TooLarge { cap: usize, reason: Option<&'static str> },
    /// Too many redirects, or a redirect loop.
    Redirect { detail: String },
    /// Any other connection or protocol failure.
    Other { detail: String },
    /// This process ran out of file descriptors: the tool's problem, not the target's.
    OutOfDescriptors,
}

impl FetchError {
    /// One line for messages: "connection refused (127.0.0.1:3000)".
    pub fn describe(&self) -> String {
        match self {
            FetchError::Refused { addr } => format!("connection refused ({addr})"),
            FetchError::Dns { host, detail } => format!("DNS lookup of `{host}` failed: {detail}"),
            FetchError::Tls { detail } => format!("TLS handshake failed: {detail}"),
            FetchError::Timeout { after } => format!("no answer within {}", fmt_duration(*after)),
            FetchError::TooLarge { cap, reason: None } => {
                format!("response body exceeds the {} cap", fmt_bytes(*cap))
            }
            FetchError::TooLarge { cap, reason: Some(why) } => {
                format!("response body exceeds the {} cap ({why})", fmt_bytes(*cap))
            }
            FetchError::Redirect { detail } => format!("redirect error: {detail}"),
            FetchError::Other { detail } => detail.clone(),
            FetchError::OutOfDescriptors => {
                "medianest-gate ran out of file descriptors before it could connect".to_string()
            }
        }
    }

    /// A stable class name for evidence and cause keys.
    pub fn class(&self) -> &'static str {
        match self {
            FetchError::Refused { .. } => "refused",
            FetchError::Dns { .. } => "dns",
            FetchError::Tls { .. } => "tls",
            FetchError::Timeout { .. } => "timeout",
            FetchError::TooLarge { .. } => "too_large",
            FetchError::Redirect { .. } => "redirect",
            FetchError::Other { .. } => "connection",
            FetchError::OutOfDescriptors => "local_resources",
        }
    }
}

pub fn fmt_duration(d: Duration) -> String {
    if d.as_millis() < 1000 {
        format!("{}ms", d.as_millis())
    } else if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

pub fn fmt_bytes(n: usize) -> String {
    if n >= 1024 * 1024 && n.is_multiple_of(1024 * 1024) {
        format!("{} MiB", n / (1024 * 1024))
    } else if n >= 1024 && n.is_multiple_of(1024) {
        format!("{} KiB", n / 1024)
    } else {
        format!("{n} bytes")
    }
}

impl HttpClient {
    pub fn new(tls: TlsOptions) -> Result<Self, ClientError> {
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("medianest-gate/", env!("CARGO_PKG_VERSION")))
            // Probes talk to a staging stack directly; a proxy from the
            // environment would turn "backend down" into "proxy error".
            .no_proxy()
            .redirect(reqwest::redirect::Policy::limited(10))
            // A check's path or query may carry a secret; a Referer would hand
            // it to whatever host a redirect points at.
            .referer(false)
            .connect_timeout(Duration::from_secs(30))
            .dns_resolver(std::sync::Arc::new(crate::resolve::Resolver::default()))
            .pool_idle_timeout(Duration::from_secs(10));
        if let Some(path) = &tls.ca_cert {
            let pem =
                crate::fsio::read_capped(path, MAX_CA_BYTES, "CA bundles").map_err(|source| ClientError::ReadCa {
                    path: path.display().to_string(),
                    source,
                })?;
            // reqwest accepts a file without any PEM block as an empty bundle;
            // a --ca-cert that adds no trust is a mistake worth stopping for.
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .ok()
                .filter(|c| !c.is_empty())
                .ok_or_else(|| ClientError::NoCertificate {
                    path: path.display().to_string(),
                })?;
            // Merged with the system roots: --ca-cert adds trust, it does not replace it.
            builder = builder.tls_certs_merge(certs);
        }
        if tls.insecure {
            builder = builder.tls_danger_accept_invalid_certs(true);
        }
        let inner = builder.build().map_err(ClientError::Build)?;
        Ok(Self {
            inner,
            tls,
            in_flight: None,
            counts: RequestCounts::default(),
        })
    }

    /// A clone that also counts the requests of one check (same connection
    /// pool, same in-flight limit, same per-origin totals).
    pub fn for_check(&self) -> Self {
        let mut c = self.clone();
        c.counts.check = Some(Arc::new(AtomicU32::new(0)));
        c
    }

    /// Requests sent through this [`Self::for_check`] clone (0 for any other client).
    pub fn check_requests(&self) -> u32 {
        self.counts.check.as_ref().map_or(0, |c| c.load(Ordering::Relaxed))
    }

    /// Requests sent so far by this client and its clones, by origin.
    pub fn requests_by_origin(&self) -> BTreeMap<String, u64> {
        self.counts.by_origin.lock().map(|m| m.clone()).unwrap_or_default()
    }

    /// Counts one request as sent: it had its slot and goes on the wire
    /// (a refused connection counts too, as the target's host was asked).
    fn count(&self, url: &str) {
        if let Some(c) = &self.counts.check {
            c.fetch_add(1, Ordering::Relaxed);
        }
        if let Ok(mut m) = self.counts.by_origin.lock() {
            *m.entry(origin(url)).or_default() += 1;
        }
    }

    /// Allows at most `n` requests in flight at once.
    pub fn with_request_limit(mut self, n: usize) -> Self {
        self.in_flight = Some(std::sync::Arc::new(tokio::sync::Semaphore::new(n.max(1))));
        self
    }

    /// GETs `url`, reading at most `cap` body bytes, all before `deadline`.
    pub async fn get(
        &self,
        url: &str,
        auth: impl Into<Auth<'_>>,
        extra: &[(&str, &str)],
        cap: usize,
        deadline: tokio::time::Instant,
    ) -> Result<Response, FetchError> {
        let auth = auth.into();
        self.bounded(url, deadline, |start| {
            self.send(self.inner.get(url), url, auth, extra, cap, start)
        })
        .await
    }

    /// Runs one request in a slot of the in-flight limit, all before
    /// `deadline`. Waiting for a slot counts against the check's deadline,
    /// not its latency: `start` is when the slot was had.
    async fn bounded<R, F>(
        &self,
        url: &str,
        deadline: tokio::time::Instant,
        request: impl FnOnce(Instant) -> F,
    ) -> Result<R, FetchError>
    where
        F: std::future::Future<Output = Result<R, FetchError>>,
    {
        let budget = deadline.saturating_duration_since(tokio::time::Instant::now());
        let fut = async {
            let _permit = match &self.in_flight {
                Some(sem) => sem.acquire().await.ok(),
                None => None,
            };
            self.count(url);
            request(Instant::now()).await
        };
        match tokio::time::timeout_at(deadline, fut).await {
            Ok(r) => r,
            Err(_) => Err(FetchError::Timeout { after: budget }),
        }
    }

    /// GETs `url` and hands a 2xx, non-HTML body to `parse` as it arrives,
    /// so an answer of many megabytes costs only what `parse` keeps. At most
    /// `cap.bytes` are read (the error names `cap.reason`). Anything else (an
    /// error status, an HTML page) is read whole under `small_cap` and
    /// returned as [`Streamed::Whole`] for the caller's diagnosis.
    ///
    /// `parse` runs on a blocking thread, fed chunk by chunk through a
    /// bounded channel: a large answer never stalls the runtime thread and
    /// with it every other check's timers. When the deadline passes, the
    /// channel closes and `parse` sees the end of its input.
    pub async fn get_streamed<T, P>(
        &self,
        url: &str,
        cap: StreamCap,
        small_cap: usize,
        deadline: tokio::time::Instant,
        parse: P,
    ) -> Result<Streamed<T>, FetchError>
    where
        P: FnOnce(&mut dyn std::io::Read) -> T + Send + 'static,
        T: Send + 'static,
    {
        self.bounded(url, deadline, |start| async move {
            let mut resp = self.inner.get(url).send().await.map_err(|e| classify(&e, url))?;
            let status = resp.status();
            let headers = resp.headers().clone();
            let final_url = resp.url().to_string();
            let head = |body: Vec<u8>| Response {
                status,
                headers: headers.clone(),
                body,
                elapsed: start.elapsed(),
                final_url: final_url.clone(),
            };
            let html_type = headers
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|c| c.contains("html"));
            if !status.is_success() || html_type {
                let body = read_body(&mut resp, small_cap, url).await?;
                return Ok(Streamed::Whole(head(body)));
            }
            if let Some(len) = resp.content_length()
                && len > cap.bytes as u64
            {
                return Err(cap.exceeded());
            }
            // The first chunk decides: a page that starts like markup is
            // diagnosed whole, whatever its Content-Type claims.
            let first = match resp.chunk().await {
                Ok(Some(c)) => c,
                Ok(None) => return Ok(Streamed::Whole(head(Vec::new()))),
                Err(e) => return Err(classify(&e, url)),
            };
            if first.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'<') {
                let mut body = first.to_vec();
                if body.len() <= small_cap {
                    let rest = read_body(&mut resp, small_cap - body.len(), url).await?;
                    body.extend_from_slice(&rest);
                }
                return Ok(Streamed::Whole(head(body)));
            }
            let prefix = first[..first.len().min(STREAM_PREFIX)].to_vec();
            let (tx, rx) = tokio::sync::mpsc::channel(STREAM_CHUNKS);
            let parser = tokio::task::spawn_blocking(move || {
                let mut reader = ChannelReader { rx, cur: None, pos: 0 };
                parse(&mut reader)
            });
            let mut read = first.len();
            let mut next = Some(first);
            while let Some(chunk) = next.take() {
                if read > cap.bytes {
                    return Err(cap.exceeded());
                }
                if tx.send(chunk).await.is_err() {
                    // The parser stopped early (it has its answer or an error).
                    break;
                }
                match resp.chunk().await {
                    Ok(Some(c)) => {
                        read += c.len();
                        next = Some(c);
                    }
                    Ok(None) => {}
                    Err(e) => return Err(classify(&e, url)),
                }
            }
            drop(tx);
            let value = parser.await.map_err(|e| FetchError::Other {
                detail: format!("the parser of the answer failed: {e}"),
            })?;
            Ok(Streamed::Parsed {
                head: head(prefix),
                value,
            })
        })
        .await
    }

    /// POSTs a JSON `body` to `url` (Grafana's `/api/ds/query`, Alertmanager's alerts), reading at
    /// most `cap` answer bytes, all before `deadline`. Same client, so the
    /// same redirect, Referer and credential-dropping policy as [`Self::get`].
    pub async fn post_json(
        &self,
        url: &str,
        auth: impl Into<Auth<'_>>,
        body: &serde_json::Value,
        cap: usize,
        deadline: tokio::time::Instant,
    ) -> Result<Response, FetchError> {
        let auth = auth.into();
        let bytes = body.to_string().into_bytes();
        self.bounded(url, deadline, |start| {
            let req = self
                .inner
                .post(url)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(bytes);
            self.send(req, url, auth, &[], cap, start)
        })
        .await
    }

    /// Adds the credentials and headers, sends, and reads the body under `cap`.
    async fn send(
        &self,
        mut req: reqwest::RequestBuilder,
        url: &str,
        auth: Auth<'_>,
        extra: &[(&str, &str)],
        cap: usize,
        start: Instant,
    ) -> Result<Response, FetchError> {
        match auth {
            Auth::None => {}
            Auth::Bearer(token) => {
                let mut value = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| FetchError::Other {
                    detail: "the bearer token holds characters that cannot be sent in a header".into(),
                })?;
                value.set_sensitive(true);
                req = req.header(reqwest::header::AUTHORIZATION, value);
            }
            // reqwest marks basic credentials sensitive and drops them on cross-host redirects too.
            Auth::Basic(user, password) => req = req.basic_auth(user, Some(password)),
        }
        for (k, v) in extra {
            req = req.header(*k, *v);
        }
        self.send_and_read(req, url, cap, start).await
    }

    /// Sends a built request and reads its answer under the running cap.
    async fn send_and_read(
        &self,
        req: reqwest::RequestBuilder,
        url: &str,
        cap: usize,
        start: Instant,
    ) -> Result<Response, FetchError> {
        let mut resp = req.send().await.map_err(|e| classify(&e, url))?;
        let status = resp.status();
        let headers = resp.headers().clone();
        let final_url = resp.url().to_string();
        let body = read_body(&mut resp, cap, url).await?;
        Ok(Response {
            status,
            headers,
            body,
            elapsed: start.elapsed(),
            final_url,
        })
    }
}

/// The most a streamed body may be, and why it is that size: the reason is
/// part of the error a person reads when an answer exceeds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamCap {
    pub bytes: usize,
    pub reason: &'static str,
}

impl StreamCap {
    fn exceeded(self) -> FetchError {
        FetchError::TooLarge {
            cap: self.bytes,
            reason: Some(self.reason),
        }
    }
}

/// What [`HttpClient::get_streamed`] got.
#[derive(Debug)]
pub enum Streamed<T> {
    /// A 2xx answer read by the parser; `head.body` holds only its first
    /// bytes, for excerpts.
    Parsed { head: Response, value: T },
    /// An error status, an HTML page or an empty body, read whole.
    Whole(Response),
}

/// How much of a streamed body is kept for excerpts.
const STREAM_PREFIX: usize = 512;
/// Chunks in flight between the connection and the parser: the memory a
/// streamed answer costs beyond what the parser keeps.
const STREAM_CHUNKS: usize = 8;

/// The parser's side of the channel: a blocking `Read` over the chunks.
struct ChannelReader<B> {
    rx: tokio::sync::mpsc::Receiver<B>,
    cur: Option<B>,
    pos: usize,
}

impl<B: AsRef<[u8]>> std::io::Read for ChannelReader<B> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        loop {
            if let Some(cur) = &self.cur {
                let rest = &cur.as_ref()[self.pos..];
                if !rest.is_empty() {
                    let n = rest.len().min(out.len());
                    out[..n].copy_from_slice(&rest[..n]);
                    self.pos += n;
                    return Ok(n);
                }
            }
            // A closed channel is the end of the input, whether the body
            // ended or the request was cut off: the fetch reports which.
            match self.rx.blocking_recv() {
                Some(next) => {
                    self.cur = Some(next);
                    self.pos = 0;
                }
                None => return Ok(0),
            }
        }
    }
}

/// Descriptors kept free for everything but probe connections (stdio,
/// the runtime, report files, TLS roots, the Docker socket).
const RESERVED_DESCRIPTORS: u64 = 64;

/// How many requests may be in flight without running out of file
/// descriptors: the soft `RLIMIT_NOFILE` (from `/proc/self/limits`) less a
/// reserve, each request holding one socket; `None` when the limit is
/// unknown or unlimited.
pub fn descriptor_budget() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    let soft: u64 = line.split_whitespace().nth(3)?.parse().ok()?;
    Some(soft.saturating_sub(RESERVED_DESCRIPTORS).max(1) as usize)
}

/// Reads a body chunk by chunk under a running cap: a server can cost at
/// most `cap` bytes of memory, whatever it announces or sends.
pub(crate) async fn read_body(resp: &mut reqwest::Response, cap: usize, url: &str) -> Result<Vec<u8>, FetchError> {
    if let Some(len) = resp.content_length()
        && len > cap as u64
    {
        return Err(FetchError::TooLarge { cap, reason: None });
    }
    let mut body = Vec::new();
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > cap {
                    return Err(FetchError::TooLarge { cap, reason: None });
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(body),
            Err(e) => return Err(classify(&e, url)),
        }
    }
}

/// Like [`read_body`], but keeps the first `cap` bytes and stops there
/// (for log tails, where the beginning is enough).
pub(crate) async fn read_prefix(resp: &mut reqwest::Response, cap: usize) -> Vec<u8> {
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = resp.chunk().await {
        let room = cap.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() >= cap {
            break;
        }
    }
    body
}

/// Every error in a chain, looking inside `io::Error`s too: their `source()`
/// skips the error they wrap, which is where rustls and DNS errors sit.
pub(crate) fn chain<'a>(err: &'a (dyn std::error::Error + 'static)) -> Vec<&'a (dyn std::error::Error + 'static)> {
    let mut out = Vec::new();
    let mut next = Some(err);
    while let Some(e) = next {
        out.push(e);
        if let Some(inner) = e.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref()) {
            let inner: &'a (dyn std::error::Error + 'static) = inner;
            out.extend(chain(inner));
        }
        next = e.source();
    }
    out
}

/// Turns a reqwest error into something a person can act on, from the types
/// in its source chain (I/O kinds, our DNS error, rustls), never from the
/// text of a message: a URL or a server's words must not change the class.
pub(crate) fn classify(err: &reqwest::Error, url: &str) -> FetchError {
    let parsed = url::Url::parse(url).ok();
    let host = parsed
        .as_ref()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_default();
    let addr = parsed
        .as_ref()
        .map(|u| format!("{}:{}", host, u.port_or_known_default().unwrap_or(0)))
        .unwrap_or_default();
    if err.is_timeout() {
        return FetchError::Timeout { after: Duration::ZERO };
    }
    if err.is_redirect() {
        return FetchError::Redirect {
            detail: chain_text(err),
        };
    }
    for e in chain(err) {
        if let Some(dns) = e.downcast_ref::<crate::resolve::DnsError>() {
            return FetchError::Dns {
                host: dns.host.clone(),
                detail: dns.detail.clone(),
            };
        }
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return FetchError::Tls {
                detail: tls.to_string(),
            };
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            // EMFILE (24) and ENFILE (23): the limit is ours, whatever the target does.
            if matches!(io.raw_os_error(), Some(23 | 24)) {
                return FetchError::OutOfDescriptors;
            }
            match io.kind() {
                std::io::ErrorKind::ConnectionRefused => return FetchError::Refused { addr },
                std::io::ErrorKind::TimedOut => return FetchError::Timeout { after: Duration::ZERO },
                _ => {}
            }
        }
    }
    FetchError::Other {
        detail: chain_text(err),
    }
}

/// An error and its sources as one line, without repeating a source that
/// an outer message already quotes.
pub(crate) fn chain_text(err: &dyn std::error::Error) -> String {
    let mut parts = vec![err.to_string()];
    let mut source = err.source();
    while let Some(e) = source {
        let t = e.to_string();
        if !parts.iter().any(|p| p.contains(&t)) {
            parts.push(t);
        }
        source = e.source();
    }
    parts.join(": ")
}

/// Joins a target's base URL and a check's path without doubling slashes.
pub fn join_url(base: &str, path: &str) -> String {
    let base = base.trim_end_matches('/');
    if path.is_empty() {
        base.to_string()
    } else if path.starts_with('/') {
        format!("{base}{path}")
    } else {
        format!("{base}/{path}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Serves one answer: `head` then `body_len` bytes of `fill`, with no
    /// Content-Length (the body ends when the connection closes), so the
    /// running cap, not the announced length, has to stop it.
    fn one_answer(head: &'static str, first: &'static [u8], body_len: usize) -> String {
        use std::io::{Read, Write};
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let mut req = [0u8; 4096];
            let _ = s.read(&mut req);
            let _ = s.write_all(head.as_bytes());
            let _ = s.write_all(first);
            let block = vec![b' '; 64 * 1024];
            let mut sent = first.len();
            while sent < body_len {
                let n = block.len().min(body_len - sent);
                if s.write_all(&block[..n]).is_err() {
                    return;
                }
                sent += n;
            }
        });
        format!("http://{addr}/x")
    }

    fn streamed(url: &str, cap: usize) -> Result<Streamed<usize>, FetchError> {
        // As main does: the client is built without a default provider.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let client = HttpClient::new(TlsOptions::default()).unwrap();
        let cap = StreamCap {
            bytes: cap,
            reason: "why this size",
        };
        rt.block_on(async {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
            client
                .get_streamed(url, cap, 1024, deadline, |r| {
                    std::io::copy(r, &mut std::io::sink()).unwrap_or(0) as usize
                })
                .await
        })
    }

    const JSON_HEAD: &str = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n";

    #[test]
    fn a_streamed_body_reaches_the_parser_whole() {
        let url = one_answer(JSON_HEAD, b"{", 3 << 20);
        match streamed(&url, 4 << 20) {
            Ok(Streamed::Parsed { head, value }) => {
                assert_eq!(value, 3 << 20);
                assert!(head.body.starts_with(b"{") && head.body.len() <= STREAM_PREFIX);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_streamed_body_past_its_cap_is_stopped_with_the_reason() {
        let url = one_answer(JSON_HEAD, b"{", 8 << 20);
        let err = streamed(&url, 1 << 20).unwrap_err();
        assert_eq!(
            err,
            FetchError::TooLarge {
                cap: 1 << 20,
                reason: Some("why this size")
            }
        );
        assert_eq!(err.describe(), "response body exceeds the 1 MiB cap (why this size)");
    }

    #[test]
    fn markup_and_error_statuses_are_read_whole_for_diagnosis() {
        let url = one_answer(JSON_HEAD, b"  <!doctype html><p>login", 0);
        assert!(matches!(streamed(&url, 1 << 20), Ok(Streamed::Whole(r)) if r.body.ends_with(b"login")));
        let url = one_answer(
            "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n\r\n",
            b"busy",
            0,
        );
        assert!(matches!(streamed(&url, 1 << 20), Ok(Streamed::Whole(r)) if r.status.as_u16() == 503));
        // An error page larger than the small cap is not read to its end.
        let url = one_answer(
            "HTTP/1.1 500 Internal Server Error\r\nConnection: close\r\n\r\n",
            b"x",
            1 << 20,
        );
        assert!(matches!(
            streamed(&url, 1 << 30),
            Err(FetchError::TooLarge {
                cap: 1024,
                reason: None
            })
        ));
    }

    #[test]
    fn join_url_handles_slashes() {
        assert_eq!(join_url("http://h:1/", "/metrics"), "http://h:1/metrics");
        assert_eq!(join_url("http://h:1", "metrics"), "http://h:1/metrics");
        assert_eq!(join_url("http://h:1/base", "/x"), "http://h:1/base/x");
    }

    #[test]
    fn excerpt_escapes_and_truncates() {
        assert_eq!(excerpt(b"a\nb\x07c", 10), "a\\nb�c");
        assert_eq!(excerpt(b"abcdef", 3), "abc…");
        assert_eq!(excerpt(&[0xff, b'a'], 5), "�a");
    }

    #[test]
    fn durations_and_sizes_read_naturally() {
        assert_eq!(fmt_duration(Duration::from_millis(150)), "150ms");
        assert_eq!(fmt_duration(Duration::from_secs(5)), "5s");
        assert_eq!(fmt_duration(Duration::from_millis(2500)), "2.5s");
        assert_eq!(fmt_bytes(16 * 1024 * 1024), "16 MiB");
        assert_eq!(fmt_bytes(4096), "4 KiB");
        assert_eq!(fmt_bytes(100), "100 bytes");
    }

    #[test]
    fn status_line_has_reason() {
        assert_eq!(
            status_line(reqwest::StatusCode::SERVICE_UNAVAILABLE),
            "503 Service Unavailable"
        );
        assert_eq!(status_line(reqwest::StatusCode::from_u16(599).unwrap()), "599");
    }
}
