//! A fixture Loki 3.x on 127.0.0.1 that answers like the reference
//! (observability-apis.md §4): `/ready`, `/config` (YAML as text/plain, with
//! `?mode=diff|defaults`), the bare buildinfo object, labels, `query_range`
//! over streams whose timestamps are relative to the server's start (so
//! "fresh" logs stay fresh), the instant-query refusal for log queries,
//! plain-text errors, and multi-tenancy (`X-Scope-OrgID`). `POST
//! /loki/api/v1/push` (JSON, §4.8) adds streams at run time, as Promtail
//! would; `|= "text"` line filters apply to every query.
//! What it serves comes from `fixtures/loki/<scenario>.json`; the schema is in
//! `fixtures/loki/README.md`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, Response, StatusCode, header};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{fixture, lock, respond, spawn};

pub use super::grafana::Recorded;

/// The tenant whose logs the multi-tenant scenario holds.
pub const LOKI_TENANT: &str = "medianest";

/// The tenant Loki uses for everything when `auth_enabled` is false (§4.1).
const SINGLE_TENANT: &str = "fake";

/// Loki's `http.Error` answers: text, nosniff, and a trailing newline (§4.1).
const TEXT_UTF8: &str = "text/plain; charset=utf-8";

/// Query and label answers. The reference gives no type for them; this is
/// what Loki's query-frontend codec sets. UNCONFIRMED.
const JSON_UTF8: &str = "application/json; charset=UTF-8";

const NS_PER_S: i64 = 1_000_000_000;

/// The parse error the reference quotes; the fixture uses it for every
/// query it cannot parse (anything not starting with a `{...}` selector).
const PARSE_ERROR: &str = "parse error at line 1, col 1: syntax error: unexpected IDENTIFIER";

/// What `/ready` answers; `message` is sent with `http.Error`'s newline.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ready {
    pub status: u16,
    pub message: String,
}

impl Default for Ready {
    fn default() -> Self {
        Ready {
            status: 200,
            message: "ready".to_string(),
        }
    }
}

/// The buildinfo object, in Prometheus' field order (§4.5).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BuildInfo {
    pub version: String,
    pub revision: String,
    pub branch: String,
    pub build_user: String,
    pub build_date: String,
    pub go_version: String,
}

impl Default for BuildInfo {
    /// The capture quoted in the reference ([ISSUE grafana/loki#15436]).
    fn default() -> Self {
        BuildInfo {
            version: "3.2.1".to_string(),
            revision: "3c386cc5d1".to_string(),
            branch: "HEAD".to_string(),
            build_user: "root@9ae540a0f47e".to_string(),
            build_date: "2024-10-17T20:23:47Z".to_string(),
            // Official builds never set it.
            go_version: String::new(),
        }
    }
}

/// One log line, `age_seconds` before the fixture started.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub age_seconds: f64,
    pub line: String,
}

/// One stream: the selector that finds it, its full label set, its tenant.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stream {
    /// Matched against the query's selector after removing whitespace
    /// outside quoted values; no real matcher semantics.
    pub selector: String,
    pub labels: BTreeMap<String, String>,
    /// Absent means `fake`, the single-tenant tenant.
    #[serde(default)]
    pub tenant: Option<String>,
    #[serde(default)]
    pub entries: Vec<Entry>,
}

/// A whole fixture Loki, as read from `fixtures/loki/<name>.json`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub description: String,
    #[serde(default)]
    pub auth_enabled: bool,
    #[serde(default)]
    pub ready: Ready,
    /// File in `fixtures/loki/` served on `/config`.
    pub config: String,
    /// File served on `/config?mode=diff`; the full config when absent.
    #[serde(default)]
    pub config_diff: Option<String>,
    /// File served on `/config?mode=defaults`; the full config when absent.
    #[serde(default)]
    pub config_defaults: Option<String>,
    /// Content-Type of `/config`; Loki's is `text/plain; charset=utf-8`.
    #[serde(default)]
    pub config_content_type: Option<String>,
    #[serde(default)]
    pub buildinfo: BuildInfo,
    #[serde(default)]
    pub streams: Vec<Stream>,
    /// Route path (see [`ROUTES`]) → delay before answering.
    #[serde(default)]
    pub delays_ms: BTreeMap<String, u64>,
}

/// The paths the fixture serves (and `delays_ms` may name).
pub const ROUTES: &[&str] = &[
    "/ready",
    "/config",
    "/loki/api/v1/status/buildinfo",
    "/loki/api/v1/labels",
    "/loki/api/v1/query_range",
    "/loki/api/v1/query",
    "/loki/api/v1/push",
];

/// Largest push body the fixture reads; Loki's default is 4 MiB too.
const PUSH_CAP: usize = 4 * 1024 * 1024;

impl Scenario {
    /// Reads and checks `fixtures/loki/<name>.json`; panics (in the test,
    /// not the server thread) on a broken fixture.
    pub fn load(name: &str) -> Scenario {
        let path = fixture(&format!("loki/{name}.json"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("loki scenario {name}: {e}"))
    }
}

/// The `/config` bodies, read once at start.
struct Configs {
    full: String,
    diff: Option<String>,
    defaults: Option<String>,
    content_type: String,
}

/// Reads a config file, dropping its leading `#` lines: they document the
/// fixture (fixtures/README.md) and are not part of what Loki prints.
fn read_config(name: &str) -> String {
    let path = fixture(&format!("loki/{name}"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let mut rest = text.as_str();
    while rest.starts_with('#') {
        rest = rest.split_once('\n').map_or("", |(_, r)| r);
    }
    rest.to_string()
}

/// A log line with its absolute timestamp, fixed when the server starts.
#[derive(Clone)]
struct Line {
    ts_ns: i64,
    text: String,
}

struct Running {
    scenario: Scenario,
    configs: Configs,
    /// Per stream of `scenario.streams`, its lines with timestamps.
    lines: Vec<Vec<Line>>,
    /// Streams pushed to `/loki/api/v1/push`, in arrival order.
    pushed: Mutex<Vec<Pushed>>,
}

/// A stream created by a push: its tenant, labels and lines.
struct Pushed {
    tenant: String,
    labels: BTreeMap<String, String>,
    lines: Vec<Line>,
}

pub struct Loki {
    pub url: String,
    recorded: Arc<Mutex<Vec<Recorded>>>,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

impl Loki {
    /// Serves `fixtures/loki/<scenario>.json`.
    pub fn start(scenario: &str) -> Loki {
        Self::start_with(Scenario::load(scenario))
    }

    /// Serves a scenario a test loaded and changed.
    pub fn start_with(scenario: Scenario) -> Loki {
        for k in scenario.delays_ms.keys() {
            assert!(
                ROUTES.contains(&k.as_str()),
                "loki scenario: unknown route `{k}` in delays_ms"
            );
        }
        let configs = Configs {
            full: read_config(&scenario.config),
            diff: scenario.config_diff.as_deref().map(read_config),
            defaults: scenario.config_defaults.as_deref().map(read_config),
            content_type: scenario
                .config_content_type
                .clone()
                .unwrap_or_else(|| TEXT_UTF8.to_string()),
        };
        // Ages are turned into timestamps once, so two queries in one test
        // see the same lines and every run sees them equally fresh.
        let started = now_ns();
        let lines = scenario
            .streams
            .iter()
            .map(|s| {
                s.entries
                    .iter()
                    .map(|e| Line {
                        ts_ns: started.saturating_sub((e.age_seconds * NS_PER_S as f64) as i64),
                        text: e.line.clone(),
                    })
                    .collect()
            })
            .collect();
        let running = Arc::new(Running {
            scenario,
            configs,
            lines,
            pushed: Mutex::new(Vec::new()),
        });
        let recorded = Arc::new(Mutex::new(Vec::new()));
        let rec = Arc::clone(&recorded);
        let (url, shutdown) = spawn(move |req| handle(req, Arc::clone(&running), Arc::clone(&rec)));
        Loki {
            url,
            recorded,
            _shutdown: shutdown,
        }
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<Recorded> {
        lock(&self.recorded).clone()
    }

    /// The listening address, for a fixture Grafana that queries this Loki.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.url
            .trim_start_matches("http://")
            .parse()
            .unwrap_or_else(|e| panic!("fixture Loki url {}: {e}", self.url))
    }
}

fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

async fn handle(req: Request<Body>, r: Arc<Running>, recorded: Arc<Mutex<Vec<Recorded>>>) -> Response<Body> {
    lock(&recorded).push(Recorded::of(&req));
    let path = req.uri().path().to_string();
    let params: Vec<(String, String)> = url::form_urlencoded::parse(req.uri().query().unwrap_or_default().as_bytes())
        .into_owned()
        .collect();
    let Some(route) = ROUTES.iter().find(|p| **p == path) else {
        // gorilla/mux's NotFoundHandler is Go's http.NotFound.
        return text_error(404, "404 page not found");
    };
    let want = if *route == "/loki/api/v1/push" {
        Method::POST
    } else {
        Method::GET
    };
    if req.method() != want {
        // gorilla/mux answers a known path with the wrong method with an
        // empty 405; the query routes also take POST, which is not modelled.
        return respond(405, TEXT_UTF8, "");
    }
    if let Some(ms) = r.scenario.delays_ms.get(*route).filter(|ms| **ms > 0) {
        tokio::time::sleep(Duration::from_millis(*ms)).await;
    }
    let s = &r.scenario;
    match *route {
        "/ready" => text_error(s.ready.status, &s.ready.message),
        "/config" => {
            let c = &r.configs;
            // The code checks `diff`; the docs' `diffs` gets the full config (§4.3).
            let body = match param(&params, "mode") {
                Some("diff") => c.diff.as_ref().unwrap_or(&c.full),
                Some("defaults") => c.defaults.as_ref().unwrap_or(&c.full),
                _ => &c.full,
            };
            respond(200, &c.content_type, body)
        }
        // Registered next to /ready without the auth middleware, so no
        // tenant is needed [SRC pkg/loki/modules.go initServer]. json.Encoder
        // adds the newline.
        "/loki/api/v1/status/buildinfo" => match serde_json::to_string(&s.buildinfo) {
            Ok(text) => respond(200, "application/json", &format!("{text}\n")),
            Err(e) => text_error(500, &e.to_string()),
        },
        "/loki/api/v1/push" => {
            let tenant = match tenant(s, req.headers()) {
                Ok(t) => t,
                Err((status, message)) => return text_error(status, &message),
            };
            let json = req
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|t| t.starts_with("application/json"));
            let body = match axum::body::to_bytes(req.into_body(), PUSH_CAP).await {
                Ok(b) => b,
                Err(e) => return text_error(400, &e.to_string()),
            };
            if !json {
                // Without JSON, Loki reads snappy protobuf (§4.8), which the fixture does not model.
                return text_error(400, "fixture Loki: only JSON pushes are modelled");
            }
            match push(&r, &tenant, &body) {
                // Success is 204 with no body (§4.8).
                Ok(()) => Response::builder()
                    .status(StatusCode::NO_CONTENT)
                    .body(Body::empty())
                    .unwrap_or_default(),
                Err(message) => text_error(400, &message),
            }
        }
        api => {
            let result = tenant(s, req.headers()).and_then(|tenant| match api {
                "/loki/api/v1/labels" => labels(&r, &tenant, &params),
                "/loki/api/v1/query_range" => query_range(&r, &tenant, &params),
                _ => instant_query(&params),
            });
            result.unwrap_or_else(|(status, message)| text_error(status, &message))
        }
    }
}

/// Stores a JSON push (§4.8): `{"streams":[{"stream":{labels},"values":[["<ns>","line"(, {metadata})]]}]}`.
/// Timestamps must be strings of ns; anything else is 400, as in Loki.
fn push(r: &Running, tenant: &str, body: &[u8]) -> Result<(), String> {
    let doc: Value = serde_json::from_slice(body).map_err(|e| format!("loghttp.PushRequest: {e}"))?;
    let streams = doc
        .get("streams")
        .and_then(Value::as_array)
        .ok_or("loghttp.PushRequest: no streams")?;
    let mut parsed = Vec::new();
    for st in streams {
        let labels: BTreeMap<String, String> = st
            .get("stream")
            .and_then(Value::as_object)
            .ok_or("a stream without `stream` labels")?
            .iter()
            .map(|(k, v)| {
                v.as_str()
                    .map(|v| (k.clone(), v.to_string()))
                    .ok_or("a label value that is not a string")
            })
            .collect::<Result<_, _>>()?;
        let mut lines = Vec::new();
        for v in st
            .get("values")
            .and_then(Value::as_array)
            .ok_or("a stream without `values`")?
        {
            let ts = v
                .get(0)
                .and_then(Value::as_str)
                .and_then(|t| t.parse::<i64>().ok())
                .ok_or("timestamps must be strings of ns")?;
            let text = v.get(1).and_then(Value::as_str).ok_or("a line that is not a string")?;
            lines.push(Line {
                ts_ns: ts,
                text: text.to_string(),
            });
        }
        parsed.push((labels, lines));
    }
    let mut pushed = lock(&r.pushed);
    for (labels, lines) in parsed {
        match pushed.iter_mut().find(|p| p.tenant == tenant && p.labels == labels) {
            Some(p) => p.lines.extend(lines),
            None => pushed.push(Pushed {
                tenant: tenant.to_string(),
                labels,
                lines,
            }),
        }
    }
    Ok(())
}

/// The tenant of a request, or Loki's 401 when auth is on and none is given.
fn tenant(s: &Scenario, h: &HeaderMap) -> Result<String, (u16, String)> {
    if !s.auth_enabled {
        // With auth off, Loki ignores the header and uses `fake`.
        return Ok(SINGLE_TENANT.to_string());
    }
    match h.get("x-scope-orgid").and_then(|v| v.to_str().ok()).map(str::trim) {
        Some(t) if !t.is_empty() => Ok(t.to_string()),
        _ => Err((401, "no org id".to_string())),
    }
}

type Answer = Result<Response<Body>, (u16, String)>;

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// The query's stream selector with whitespace outside quotes removed, or
/// `None` when the query does not start with a `{...}` selector.
fn selector(query: &str) -> Option<String> {
    let q = query.trim_start();
    if !q.starts_with('{') {
        return None;
    }
    let mut out = String::new();
    let (mut quoted, mut escaped) = (false, false);
    for c in q.chars() {
        if quoted {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                quoted = false;
            }
            continue;
        }
        match c {
            '"' => {
                quoted = true;
                out.push(c);
            }
            '}' => {
                out.push(c);
                return Some(out);
            }
            c if c.is_whitespace() => {}
            c => out.push(c),
        }
    }
    None // no closing brace
}

fn normalize_selector(s: &str) -> String {
    selector(s).unwrap_or_else(|| s.to_string())
}

/// The `|= "text"` line filters after a query's selector; `None` when one is
/// malformed. Other pipeline stages are ignored, as before filters existed.
fn line_filters(query: &str) -> Option<Vec<String>> {
    let close = query.find('}')?;
    let mut rest = &query[close + 1..];
    let mut out = Vec::new();
    while let Some(at) = rest.find("|=") {
        let after = rest[at + 2..].trim_start();
        let body = after.strip_prefix('"')?;
        let (mut text, mut escaped, mut end) = (String::new(), false, None);
        for (i, c) in body.char_indices() {
            match (escaped, c) {
                (true, c) => {
                    text.push(c);
                    escaped = false;
                }
                (false, '\\') => escaped = true,
                (false, '"') => {
                    end = Some(i);
                    break;
                }
                (false, c) => text.push(c),
            }
        }
        let end = end?;
        out.push(text);
        rest = &body[end + 1..];
    }
    Some(out)
}

/// The `name="value"` matchers of a normalised selector, or `None` when it
/// uses any other operator (pushed streams then match nothing).
fn equality_matchers(selector: &str) -> Option<Vec<(String, String)>> {
    let inner = selector.strip_prefix('{')?.strip_suffix('}')?;
    let mut out = Vec::new();
    let mut rest = inner;
    while !rest.is_empty() {
        let (name, after) = rest.split_once("=\"")?;
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return None;
        }
        let mut value = String::new();
        let mut escaped = false;
        let mut end = None;
        for (i, c) in after.char_indices() {
            match (escaped, c) {
                (true, c) => {
                    value.push(c);
                    escaped = false;
                }
                (false, '\\') => escaped = true,
                (false, '"') => {
                    end = Some(i);
                    break;
                }
                (false, c) => value.push(c),
            }
        }
        out.push((name.to_string(), value));
        rest = after[end? + 1..].strip_prefix(',').unwrap_or(&after[end? + 1..]);
    }
    Some(out)
}

/// Loki's timestamp parameter rules [SRC pkg/loghttp/params.go]: a value
/// with a `.` is float seconds; an integer of up to 10 digits is seconds and
/// a longer one nanoseconds (the reference says "integer = ns", which is the
/// longer case); otherwise RFC3339 (here: UTC `Z` form only).
fn parse_ts(name: &str, value: Option<&str>, default: i64) -> Result<i64, (u16, String)> {
    let Some(v) = value.filter(|v| !v.is_empty()) else {
        return Ok(default);
    };
    if v.contains('.')
        && let Ok(f) = v.parse::<f64>()
    {
        let secs = f.trunc();
        let frac = (f.fract() * 1000.0).round() / 1000.0;
        // Saturating: a hostile value must get an answer, not a panicked thread.
        return Ok((secs as i64)
            .saturating_mul(NS_PER_S)
            .saturating_add((frac * NS_PER_S as f64) as i64));
    }
    if let Ok(n) = v.parse::<i64>() {
        return Ok(if v.len() <= 10 { n.saturating_mul(NS_PER_S) } else { n });
    }
    if let Ok(t) = humantime::parse_rfc3339(v)
        && let Ok(d) = t.duration_since(UNIX_EPOCH)
    {
        return Ok(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
    }
    // The wording of this message is UNCONFIRMED.
    Err((
        400,
        format!("could not parse '{name}' parameter: strconv.ParseInt: parsing \"{v}\": invalid syntax"),
    ))
}

/// A Prometheus model.Duration (`1h`, `30m`, `1d12h`, `0`) in nanoseconds.
fn parse_model_duration(v: &str) -> Option<i64> {
    if v == "0" {
        return Some(0);
    }
    let mut total: i64 = 0;
    let mut rest = v;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit())?;
        let n: i64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let ms = match &rest[..unit_len] {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 604_800_000,
            "y" => 31_536_000_000,
            _ => return None,
        };
        total = total.checked_add(n.checked_mul(ms)?.checked_mul(1_000_000)?)?;
        rest = &rest[unit_len..];
    }
    Some(total)
}

/// `[start, end]` from `start`, `end` and `since`, defaulting the window to
/// `default_since` before `end` (or now, if `end` is in the future).
fn bounds(params: &[(String, String)], default_since: i64) -> Result<(i64, i64), (u16, String)> {
    let now = now_ns();
    let end = parse_ts("end", param(params, "end"), now)?;
    let since = match param(params, "since") {
        Some(v) => parse_model_duration(v).ok_or_else(|| (400, format!("could not parse 'since' parameter: {v}")))?,
        None => default_since,
    };
    let start = parse_ts("start", param(params, "start"), end.min(now).saturating_sub(since))?;
    Ok((start, end))
}

/// Streams of `tenant` that `query_selector` (normalised) names, if given.
fn visible<'a>(
    r: &'a Running,
    tenant: &'a str,
    query_selector: Option<&'a str>,
) -> impl Iterator<Item = (&'a Stream, &'a [Line])> + 'a {
    r.scenario
        .streams
        .iter()
        .zip(r.lines.iter())
        .filter(move |(s, _)| s.tenant.as_deref().unwrap_or(SINGLE_TENANT) == tenant)
        .filter(move |(s, _)| query_selector.is_none_or(|q| normalize_selector(&s.selector) == q))
        .map(|(s, l)| (s, l.as_slice()))
}

fn labels(r: &Running, tenant: &str, params: &[(String, String)]) -> Answer {
    // The labels window defaults to the last 6h (§4.6).
    let (start, end) = bounds(params, 6 * 3600 * NS_PER_S)?;
    let wanted = match param(params, "query") {
        Some(q) if !q.trim().is_empty() => Some(selector(q).ok_or_else(|| (400, PARSE_ERROR.to_string()))?),
        _ => None,
    };
    let names: BTreeSet<&str> = visible(r, tenant, wanted.as_deref())
        .filter(|(_, lines)| lines.iter().any(|l| (start..=end).contains(&l.ts_ns)))
        .flat_map(|(s, _)| s.labels.keys().map(String::as_str))
        .collect();
    // `data,omitempty`: no labels means no `data` key at all (§4.6).
    #[derive(Serialize)]
    struct LabelResponse<'a> {
        status: &'static str,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        data: Vec<&'a str>,
    }
    json_answer(&LabelResponse {
        status: "success",
        data: names.into_iter().collect(),
    })
}

fn query_range(r: &Running, tenant: &str, params: &[(String, String)]) -> Answer {
    let query = param(params, "query").unwrap_or_default();
    let wanted = selector(query).ok_or_else(|| (400, PARSE_ERROR.to_string()))?;
    // The query_range window defaults to the last hour (§4.7).
    let (start, end) = bounds(params, 3600 * NS_PER_S)?;
    let limit: usize = match param(params, "limit") {
        None | Some("") => 100,
        Some(v) => v
            .parse()
            .map_err(|_| (400, format!("strconv.Atoi: parsing \"{v}\": invalid syntax")))?,
    };
    let backward = match param(params, "direction").map(str::to_ascii_uppercase) {
        None => true,
        Some(d) if d.is_empty() || d == "BACKWARD" => true,
        Some(d) if d == "FORWARD" => false,
        Some(d) => return Err((400, format!("invalid direction '{}'", d.to_lowercase()))),
    };

    let filters = line_filters(query).ok_or_else(|| (400, PARSE_ERROR.to_string()))?;
    let keep = |l: &Line| (start..=end).contains(&l.ts_ns) && filters.iter().all(|f| l.text.contains(f.as_str()));

    // Scenario streams match by selector text; pushed ones by their labels.
    let mut streams: Vec<(BTreeMap<String, String>, Vec<Line>)> = visible(r, tenant, Some(&wanted))
        .map(|(s, lines)| (s.labels.clone(), lines.to_vec()))
        .collect();
    if let Some(matchers) = equality_matchers(&wanted) {
        for p in lock(&r.pushed).iter().filter(|p| p.tenant == tenant) {
            if matchers.iter().all(|(k, v)| p.labels.get(k) == Some(v)) {
                streams.push((p.labels.clone(), p.lines.clone()));
            }
        }
    }

    // Loki applies `limit` to all entries of the query, newest first for
    // backward and oldest first for forward, then groups them by stream.
    let mut picked: Vec<(usize, &Line)> = Vec::new();
    for (i, (_, lines)) in streams.iter().enumerate() {
        picked.extend(lines.iter().filter(|l| keep(l)).map(|l| (i, l)));
    }
    picked.sort_by_key(|(_, l)| l.ts_ns);
    if backward {
        picked.reverse();
    }
    picked.truncate(limit);

    let mut result: Vec<Value> = Vec::new();
    for (i, (labels, _)) in streams.iter().enumerate() {
        let values: Vec<[String; 2]> = picked
            .iter()
            .filter(|(j, _)| *j == i)
            // The timestamp is a string of ns (§4.7).
            .map(|(_, l)| [l.ts_ns.to_string(), l.text.clone()])
            .collect();
        if !values.is_empty() {
            result.push(json!({ "stream": labels, "values": values }));
        }
    }
    #[derive(Serialize)]
    struct Data {
        #[serde(rename = "resultType")]
        result_type: &'static str,
        result: Vec<Value>,
        stats: Value,
    }
    #[derive(Serialize)]
    struct QueryResponse {
        status: &'static str,
        data: Data,
    }
    let entries = picked.len();
    let bytes: usize = picked.iter().map(|(_, l)| l.text.len()).sum();
    json_answer(&QueryResponse {
        status: "success",
        data: Data {
            result_type: "streams",
            result,
            stats: stats(entries, bytes),
        },
    })
}

fn instant_query(params: &[(String, String)]) -> Answer {
    let query = param(params, "query").unwrap_or_default();
    if selector(query).is_some() {
        return Err((
            400,
            "log queries are not supported as an instant query type, please change your query to a range query type"
                .to_string(),
        ));
    }
    // Metric queries (`count_over_time(...)`, `vector(1)`) are not modelled.
    Err((400, PARSE_ERROR.to_string()))
}

/// A trimmed `stats` object. The reference only names the sections
/// (summary, querier.store, ingester, cache, index) and says to treat it as
/// opaque, so only a few summary counters carry values.
fn stats(entries: usize, bytes: usize) -> Value {
    json!({
        "summary": {
            "bytesProcessedPerSecond": 0,
            "linesProcessedPerSecond": 0,
            "totalBytesProcessed": bytes,
            "totalLinesProcessed": entries,
            "execTime": 0.001,
            "queueTime": 0,
            "subqueries": 0,
            "totalEntriesReturned": entries,
        },
        "querier": { "store": {} },
        "ingester": {},
        "cache": {},
        "index": {},
    })
}

/// JSON + the newline Loki's marshaller writes.
fn json_answer<T: Serialize>(v: &T) -> Answer {
    serde_json::to_string(v)
        .map(|text| respond(200, JSON_UTF8, &format!("{text}\n")))
        .map_err(|e| (500, format!("fixture error: {e}")))
}

/// Go's `http.Error`: text/plain, nosniff, message plus `\n`.
fn text_error(status: u16, message: &str) -> Response<Body> {
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header(header::CONTENT_TYPE, TEXT_UTF8)
        .header("x-content-type-options", "nosniff")
        .body(Body::from(format!("{message}\n")))
        .unwrap_or_default()
}
