//! A fixture Grafana on 127.0.0.1 that answers like the reference
//! (observability-apis.md §3): public `/api/health` and `/healthz`; data
//! source, data source health, search and dashboard routes behind bearer or
//! basic auth; the modern and old 401 bodies, the RBAC 403 body, and a
//! login-redirecting front (an auth proxy or a misconfigured root URL).
//! What it serves comes from `fixtures/grafana/<scenario>.json`; the schema is
//! in `fixtures/grafana/README.md`. Started with a real Prometheus
//! ([`Grafana::with_prometheus`]), `POST /api/ds/query` runs each Prometheus
//! target as `/api/v1/query_range` there and answers in Grafana's
//! data-frame shape (pipeline-apis.md §3.3), so panels show live data; with
//! a fixture Loki too ([`Grafana::with_prometheus_and_loki`]) each Loki
//! target runs on that Loki's streams and comes back as Grafana's logs frame.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, Request, Response, StatusCode, header};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{fixture, lock, respond, spawn};

/// The service account token the fixture accepts as `Authorization: Bearer`.
pub const GRAFANA_TOKEN: &str = "glsa_fixtureToken_0123456789abcdef";
/// The basic-auth user the fixture accepts.
pub const GRAFANA_USER: &str = "gate-reader";
/// The basic-auth password of [`GRAFANA_USER`].
pub const GRAFANA_PASSWORD: &str = "fixture-pass-4242";

/// Grafana sends every JSON answer, errors included, with this type (§3.2).
const JSON_UTF8: &str = "application/json; charset=UTF-8";

/// One request as the fixture saw it, so tests can assert what the CLI sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    /// The raw query string, still percent-encoded; empty when absent.
    pub query: String,
    /// Header names are lower case; values that are not UTF-8 are lossy.
    pub headers: Vec<(String, String)>,
}

impl Recorded {
    pub(super) fn of(req: &Request<Body>) -> Recorded {
        Recorded {
            method: req.method().to_string(),
            path: req.uri().path().to_string(),
            query: req.uri().query().unwrap_or_default().to_string(),
            headers: req
                .headers()
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_ascii_lowercase(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect(),
        }
    }

    /// The first value of header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// How authentication behaves; see the README for each mode.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum AuthMode {
    #[default]
    #[serde(rename = "normal")]
    Normal,
    #[serde(rename = "old_401")]
    Old401,
    #[serde(rename = "rbac_403")]
    Rbac403,
    #[serde(rename = "login_redirect")]
    LoginRedirect,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Database {
    Ok,
    Failing,
}

/// What `/api/health` reports. `version`/`commit` absent model
/// `[auth.anonymous] hide_version = true`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Health {
    pub database: Database,
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub commit: Option<String>,
}

/// The plugin SDK's health status strings are upper case (§0.12).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub enum DsStatus {
    #[serde(rename = "OK")]
    Ok,
    #[serde(rename = "ERROR")]
    Error,
    #[serde(rename = "UNKNOWN")]
    Unknown,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DsHealth {
    pub status: DsStatus,
    pub message: String,
    #[serde(default)]
    pub details: Option<Value>,
}

/// A data source: the list DTO fields, the extra single-object fields
/// (defaulted), and the result of its health check.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Datasource {
    pub id: i64,
    pub uid: String,
    pub org_id: i64,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub type_name: String,
    pub type_logo_url: String,
    pub access: String,
    pub url: String,
    #[serde(default)]
    pub user: String,
    #[serde(default)]
    pub database: String,
    #[serde(default)]
    pub basic_auth: bool,
    #[serde(default)]
    pub basic_auth_user: String,
    #[serde(default)]
    pub with_credentials: bool,
    #[serde(default)]
    pub is_default: bool,
    #[serde(default)]
    pub json_data: Option<Value>,
    #[serde(default)]
    pub secure_json_fields: BTreeMap<String, bool>,
    #[serde(default = "one")]
    pub version: i64,
    #[serde(default)]
    pub read_only: bool,
    pub health: DsHealth,
}

fn one() -> i64 {
    1
}

/// A search hit (§3.6); `panels` only feeds `/api/dashboards/uid/:uid`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Dashboard {
    pub id: i64,
    pub uid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_id: Option<i64>,
    pub title: String,
    pub uri: String,
    pub url: String,
    pub slug: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub is_starred: bool,
    // Absent for the General folder (§3.6).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub folder_uid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub folder_title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub folder_url: Option<String>,
    #[serde(default)]
    pub sort_meta: i64,
    #[serde(default, skip_serializing)]
    pub panels: Vec<Value>,
    /// `templating` of the dashboard JSON (variables); only in `/api/dashboards/uid/:uid`.
    #[serde(default, skip_serializing)]
    pub templating: Option<Value>,
}

/// A whole fixture Grafana, as read from `fixtures/grafana/<name>.json`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub description: String,
    #[serde(default)]
    pub auth: AuthMode,
    pub health: Health,
    #[serde(default)]
    pub datasources: Vec<Datasource>,
    #[serde(default)]
    pub dashboards: Vec<Dashboard>,
    /// Route pattern (see [`ROUTES`]) → delay before answering.
    #[serde(default)]
    pub delays_ms: BTreeMap<String, u64>,
    /// Library panels by uid: `/api/library-elements/:uid` answers
    /// `{"result": {"uid", "name", "model"}}` with the model given here.
    #[serde(default)]
    pub library_panels: BTreeMap<String, Value>,
    /// `/api/ds/query` answers 207 instead of 400 when some refId fails
    /// (the `datasourceQueryMultiStatus` toggle, §3.3).
    #[serde(default)]
    pub multi_status: bool,
}

/// The route patterns `delays_ms` may name.
pub const ROUTES: &[&str] = &[
    "/api/health",
    "/healthz",
    "/api/datasources",
    "/api/datasources/uid/:uid",
    "/api/datasources/uid/:uid/health",
    "/api/search",
    "/api/dashboards/uid/:uid",
    "/api/ds/query",
    "/api/library-elements/:uid",
];

impl Scenario {
    /// Reads and checks `fixtures/grafana/<name>.json`; panics (in the test,
    /// not the server thread) on a broken fixture.
    pub fn load(name: &str) -> Scenario {
        let path = fixture(&format!("grafana/{name}.json"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        let s: Scenario = serde_json::from_str(&text).unwrap_or_else(|e| panic!("grafana scenario {name}: {e}"));
        s.check(name);
        s
    }

    fn check(&self, name: &str) {
        for k in self.delays_ms.keys() {
            assert!(
                ROUTES.contains(&k.as_str()),
                "grafana scenario {name}: unknown route `{k}` in delays_ms"
            );
        }
    }
}

pub struct Grafana {
    pub url: String,
    recorded: Arc<Mutex<Vec<Recorded>>>,
    /// Requests being answered now, and the most ever at once.
    in_flight: Arc<(AtomicUsize, AtomicUsize)>,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

impl Grafana {
    /// Serves `fixtures/grafana/<scenario>.json`.
    pub fn start(scenario: &str) -> Grafana {
        Self::start_with(Scenario::load(scenario))
    }

    /// Serves a scenario a test loaded and changed.
    pub fn start_with(scenario: Scenario) -> Grafana {
        Self::serve(scenario, Upstreams::default())
    }

    /// Serves `fixtures/grafana/<scenario>.json`, running panel queries on
    /// the data sources of type `prometheus` against `prom`.
    pub fn with_prometheus(scenario: &str, prom: &super::prometheus::Prometheus) -> Grafana {
        Self::serve(
            Scenario::load(scenario),
            Upstreams {
                prometheus: Some(prom.addr()),
                loki: None,
            },
        )
    }

    /// Serves `fixtures/grafana/<scenario>.json`, running panel queries on
    /// `prometheus` data sources against `prom` and on `loki` data sources
    /// against `loki`, as a Grafana whose data sources point at both.
    pub fn with_prometheus_and_loki(
        scenario: &str,
        prom: &super::prometheus::Prometheus,
        loki: &super::loki::Loki,
    ) -> Grafana {
        Self::live_with(Scenario::load(scenario), prom, loki)
    }

    /// [`Grafana::with_prometheus_and_loki`] for a scenario a test loaded and changed.
    pub fn live_with(scenario: Scenario, prom: &super::prometheus::Prometheus, loki: &super::loki::Loki) -> Grafana {
        Self::serve(
            scenario,
            Upstreams {
                prometheus: Some(prom.addr()),
                loki: Some(loki.addr()),
            },
        )
    }

    /// Serves `fixtures/grafana/<scenario>.json`, running panel queries on
    /// `loki` data sources against `loki` (Prometheus ones answer an error).
    pub fn with_loki(scenario: &str, loki: &super::loki::Loki) -> Grafana {
        Self::start_with_loki(Scenario::load(scenario), loki)
    }

    /// [`Grafana::with_loki`] for a scenario a test loaded and changed.
    pub fn start_with_loki(scenario: Scenario, loki: &super::loki::Loki) -> Grafana {
        Self::serve(
            scenario,
            Upstreams {
                prometheus: None,
                loki: Some(loki.addr()),
            },
        )
    }

    fn serve(mut scenario: Scenario, upstreams: Upstreams) -> Grafana {
        scenario.check("(start_with)");
        // Grafana sorts the list by name, case-insensitively (§3.4); doing it
        // here once keeps the fixture files in whatever order reads best.
        scenario.datasources.sort_by_key(|d| d.name.to_lowercase());
        let scenario = Arc::new(scenario);
        let recorded = Arc::new(Mutex::new(Vec::new()));
        let rec = Arc::clone(&recorded);
        let in_flight = Arc::new((AtomicUsize::new(0), AtomicUsize::new(0)));
        let counter = Arc::clone(&in_flight);
        let (url, shutdown) = spawn(move |req| {
            let (scenario, rec, counter) = (Arc::clone(&scenario), Arc::clone(&rec), Arc::clone(&counter));
            async move {
                let now = counter.0.fetch_add(1, Ordering::SeqCst) + 1;
                counter.1.fetch_max(now, Ordering::SeqCst);
                let resp = handle(req, scenario, rec, upstreams).await;
                counter.0.fetch_sub(1, Ordering::SeqCst);
                resp
            }
        });
        Grafana {
            url,
            recorded,
            in_flight,
            _shutdown: shutdown,
        }
    }

    /// The most requests the fixture was ever answering at once.
    pub fn max_in_flight(&self) -> usize {
        self.in_flight.1.load(Ordering::SeqCst)
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<Recorded> {
        lock(&self.recorded).clone()
    }
}

/// The servers panel queries run on, by data source type; `None` answers
/// every query of that type with an error.
#[derive(Debug, Clone, Copy, Default)]
struct Upstreams {
    prometheus: Option<SocketAddr>,
    loki: Option<SocketAddr>,
}

/// A Grafana route the fixture knows, with its path parameter.
enum Route<'a> {
    Datasources,
    Datasource(&'a str),
    DatasourceHealth(&'a str),
    Search,
    Dashboard(&'a str),
    LibraryElement(&'a str),
}

impl Route<'_> {
    fn pattern(&self) -> &'static str {
        match self {
            Route::Datasources => "/api/datasources",
            Route::Datasource(_) => "/api/datasources/uid/:uid",
            Route::DatasourceHealth(_) => "/api/datasources/uid/:uid/health",
            Route::Search => "/api/search",
            Route::Dashboard(_) => "/api/dashboards/uid/:uid",
            Route::LibraryElement(_) => "/api/library-elements/:uid",
        }
    }

    /// The permission the RBAC 403 names. The reference only shows
    /// `datasources:read`; the other two action names are UNCONFIRMED.
    fn permission(&self) -> &'static str {
        match self {
            Route::Datasources | Route::Datasource(_) => "datasources:read",
            Route::DatasourceHealth(_) => "datasources:query",
            Route::Search | Route::Dashboard(_) => "dashboards:read",
            Route::LibraryElement(_) => "library.panels:read",
        }
    }
}

fn route(path: &str) -> Option<Route<'_>> {
    let segment = |s: &str| !s.is_empty() && !s.contains('/');
    if path == "/api/datasources" {
        return Some(Route::Datasources);
    }
    if path == "/api/search" {
        return Some(Route::Search);
    }
    if let Some(rest) = path.strip_prefix("/api/datasources/uid/") {
        if let Some(uid) = rest.strip_suffix("/health")
            && segment(uid)
        {
            return Some(Route::DatasourceHealth(uid));
        }
        return segment(rest).then_some(Route::Datasource(rest));
    }
    if let Some(uid) = path.strip_prefix("/api/library-elements/") {
        return segment(uid).then_some(Route::LibraryElement(uid));
    }
    if let Some(uid) = path.strip_prefix("/api/dashboards/uid/") {
        return segment(uid).then_some(Route::Dashboard(uid));
    }
    None
}

async fn handle(
    req: Request<Body>,
    s: Arc<Scenario>,
    recorded: Arc<Mutex<Vec<Recorded>>>,
    upstreams: Upstreams,
) -> Response<Body> {
    lock(&recorded).push(Recorded::of(&req));
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or_default().to_string();
    let get = req.method() == axum::http::Method::GET;

    // Public routes first: they answer in every auth mode (§3.1).
    if get && path == "/api/health" {
        delay(&s, "/api/health").await;
        return health(&s.health);
    }
    if get && path == "/healthz" {
        delay(&s, "/healthz").await;
        // Grafana writes `Ok` without a type; Go sniffs text/plain.
        return respond(200, "text/plain; charset=utf-8", "Ok");
    }
    if get && path == "/login" {
        return respond(200, "text/html; charset=UTF-8", LOGIN_PAGE);
    }
    if s.auth == AuthMode::LoginRedirect {
        return redirect_to_login();
    }
    if path == "/api/ds/query" && req.method() == axum::http::Method::POST {
        if let Some(denied) = authenticate(req.headers(), s.auth) {
            return denied;
        }
        if s.auth == AuthMode::Rbac403 {
            return rbac_denied("datasources:query");
        }
        delay(&s, "/api/ds/query").await;
        return match axum::body::to_bytes(req.into_body(), 1024 * 1024).await {
            Ok(body) => ds_query(&s, upstreams, &body).await,
            Err(_) => respond(400, JSON_UTF8, r#"{"message":"bad request data"}"#),
        };
    }
    let Some(r) = route(&path).filter(|_| get) else {
        return respond(404, JSON_UTF8, r#"{"message":"Not found"}"#);
    };
    if let Some(denied) = authenticate(req.headers(), s.auth) {
        return denied;
    }
    if s.auth == AuthMode::Rbac403 {
        return rbac_denied(r.permission());
    }
    delay(&s, r.pattern()).await;
    match r {
        Route::Datasources => datasource_list(&s.datasources),
        Route::Datasource(uid) => match s.datasources.iter().find(|d| d.uid == uid) {
            Some(d) => datasource_single(d),
            None => respond(404, JSON_UTF8, r#"{"message":"Data source not found"}"#),
        },
        Route::DatasourceHealth(uid) => match s.datasources.iter().find(|d| d.uid == uid) {
            Some(d) => datasource_health(&d.health),
            // The lookup failure path, which an unknown UID takes (§3.5).
            None => respond(500, JSON_UTF8, r#"{"message":"Unable to load datasource metadata"}"#),
        },
        Route::Search => search(&s.dashboards, &query),
        Route::Dashboard(uid) => match s.dashboards.iter().find(|d| d.uid == uid && d.kind == "dash-db") {
            Some(d) => dashboard(d),
            None => respond(404, JSON_UTF8, r#"{"message":"Dashboard not found"}"#),
        },
        Route::LibraryElement(uid) => match s.library_panels.get(uid) {
            Some(model) => {
                let name = model["title"].as_str().unwrap_or(uid);
                let body =
                    json!({"result": {"uid": uid, "name": name, "kind": 1, "type": model["type"], "model": model}});
                respond(200, JSON_UTF8, &body.to_string())
            }
            None => respond(404, JSON_UTF8, r#"{"message":"library element could not be found"}"#),
        },
    }
}

async fn delay(s: &Scenario, pattern: &str) {
    if let Some(ms) = s.delays_ms.get(pattern).filter(|ms| **ms > 0) {
        tokio::time::sleep(Duration::from_millis(*ms)).await;
    }
}

fn health(h: &Health) -> Response<Body> {
    // Newer Grafana emits database, version, commit in this order and omits
    // version and commit when hide_version is set (§3.3).
    #[derive(Serialize)]
    struct Body<'a> {
        database: Database,
        #[serde(skip_serializing_if = "Option::is_none")]
        version: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        commit: Option<&'a str>,
    }
    let body = Body {
        database: h.database,
        version: h.version.as_deref(),
        commit: h.commit.as_deref(),
    };
    let status = match h.database {
        Database::Ok => 200,
        Database::Failing => 503,
    };
    // serde_json's pretty printer indents by two spaces, like Go's
    // MarshalIndent(data, "", "  "); no trailing newline.
    match serde_json::to_string_pretty(&body) {
        Ok(text) => respond(status, JSON_UTF8, &text),
        Err(e) => internal(&e.to_string()),
    }
}

/// Checks the credentials; `Some` is the 401 answer Grafana would give.
fn authenticate(h: &HeaderMap, mode: AuthMode) -> Option<Response<Body>> {
    let old = mode == AuthMode::Old401;
    let unauthorized = |message: &str, message_id: &str| {
        let body = if old {
            json!({ "message": message })
        } else {
            json!({
                "extra": null,
                "message": message,
                "messageId": message_id,
                "statusCode": 401,
                "traceID": "",
            })
        };
        Some(respond(401, JSON_UTF8, &body.to_string()))
    };
    let Some(value) = h.get(header::AUTHORIZATION) else {
        return unauthorized("Unauthorized", "auth.unauthorized");
    };
    let value = String::from_utf8_lossy(value.as_bytes());
    let (scheme, credentials) = value.split_once(' ').unwrap_or((&value, ""));
    let credentials = credentials.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        return if credentials == GRAFANA_TOKEN {
            None
        } else {
            unauthorized("Invalid API key", "api-key.invalid")
        };
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64_decode(credentials)
            .and_then(|b| String::from_utf8(b).ok())
            .unwrap_or_default();
        let (user, password) = decoded.split_once(':').unwrap_or((&decoded, ""));
        if user == GRAFANA_USER && password == GRAFANA_PASSWORD {
            return None;
        }
        // Old versions took an API key as the password of user `api_key` (§3.1).
        if old && user == "api_key" && password == GRAFANA_TOKEN {
            return None;
        }
        return unauthorized("Invalid username or password", "password-auth.failed");
    }
    // An unknown scheme carries no credentials Grafana understands.
    unauthorized("Unauthorized", "auth.unauthorized")
}

fn rbac_denied(permission: &str) -> Response<Body> {
    let body = json!({
        "accessErrorId": "ACE1234567890",
        "message": format!(
            "You'll need additional permissions to perform this action. Permissions needed: {permission}"
        ),
        "title": "Access denied",
    });
    respond(403, JSON_UTF8, &body.to_string())
}

fn redirect_to_login() -> Response<Body> {
    // What Go's http.Redirect writes for a GET.
    Response::builder()
        .status(StatusCode::FOUND)
        .header(header::LOCATION, "/login")
        .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
        .body(Body::from("<a href=\"/login\">Found</a>.\n\n"))
        .unwrap_or_default()
}

fn datasource_list(list: &[Datasource]) -> Response<Body> {
    // DataSourceListItemDTO, in Grafana's field order (§3.4).
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Item<'a> {
        id: i64,
        uid: &'a str,
        org_id: i64,
        name: &'a str,
        #[serde(rename = "type")]
        kind: &'a str,
        type_name: &'a str,
        type_logo_url: &'a str,
        access: &'a str,
        url: &'a str,
        user: &'a str,
        database: &'a str,
        basic_auth: bool,
        is_default: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        json_data: Option<&'a Value>,
        read_only: bool,
    }
    let items: Vec<Item<'_>> = list
        .iter()
        .map(|d| Item {
            id: d.id,
            uid: &d.uid,
            org_id: d.org_id,
            name: &d.name,
            kind: &d.kind,
            type_name: &d.type_name,
            type_logo_url: &d.type_logo_url,
            access: &d.access,
            url: &d.url,
            user: &d.user,
            database: &d.database,
            basic_auth: d.basic_auth,
            is_default: d.is_default,
            json_data: d.json_data.as_ref(),
            read_only: d.read_only,
        })
        .collect();
    json_ok(&items)
}

fn datasource_single(d: &Datasource) -> Response<Body> {
    // dtos.DataSource: no typeName, plus the single-object fields (§3.4).
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Single<'a> {
        id: i64,
        uid: &'a str,
        org_id: i64,
        name: &'a str,
        #[serde(rename = "type")]
        kind: &'a str,
        type_logo_url: &'a str,
        access: &'a str,
        url: &'a str,
        user: &'a str,
        database: &'a str,
        basic_auth: bool,
        basic_auth_user: &'a str,
        with_credentials: bool,
        is_default: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        json_data: Option<&'a Value>,
        secure_json_fields: &'a BTreeMap<String, bool>,
        version: i64,
        read_only: bool,
    }
    json_ok(&Single {
        id: d.id,
        uid: &d.uid,
        org_id: d.org_id,
        name: &d.name,
        kind: &d.kind,
        type_logo_url: &d.type_logo_url,
        access: &d.access,
        url: &d.url,
        user: &d.user,
        database: &d.database,
        basic_auth: d.basic_auth,
        basic_auth_user: &d.basic_auth_user,
        with_credentials: d.with_credentials,
        is_default: d.is_default,
        json_data: d.json_data.as_ref(),
        secure_json_fields: &d.secure_json_fields,
        version: d.version,
        read_only: d.read_only,
    })
}

fn datasource_health(h: &DsHealth) -> Response<Body> {
    // Grafana builds this from a Go map, so keys come out sorted.
    let mut body = json!({ "message": h.message, "status": h.status });
    if let (Some(details), Some(obj)) = (&h.details, body.as_object_mut()) {
        obj.insert("details".to_string(), details.clone());
    }
    // 200 only for OK; ERROR and UNKNOWN are 400 (§3.5).
    let status = if h.status == DsStatus::Ok { 200 } else { 400 };
    respond(status, JSON_UTF8, &body.to_string())
}

fn search(all: &[Dashboard], query: &str) -> Response<Body> {
    let mut kind: Option<String> = None;
    let mut text: Option<String> = None;
    // `limit` defaults to 1000 and is at most 5000; `page` counts from 1 (§3.6).
    let mut limit = 1000usize;
    let mut page = 1usize;
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        match k.as_ref() {
            "type" => kind = Some(v.into_owned()),
            "query" => text = Some(v.to_lowercase()),
            "limit" => limit = v.parse().unwrap_or(1000).clamp(1, 5000),
            "page" => page = v.parse().unwrap_or(1).max(1),
            _ => {} // tag, folderUIDs...: not modelled
        }
    }
    let hits: Vec<&Dashboard> = all
        .iter()
        .filter(|d| kind.as_deref().is_none_or(|k| d.kind == k))
        // Grafana matches `query` as a case-insensitive title substring.
        .filter(|d| text.as_deref().is_none_or(|t| d.title.to_lowercase().contains(t)))
        .skip((page - 1) * limit)
        .take(limit)
        .collect();
    json_ok(&hits)
}

fn dashboard(d: &Dashboard) -> Response<Body> {
    // Field list from §3.7; the values are a read-only viewer's view of a
    // provisioned dashboard.
    let body = json!({
        "dashboard": {
            "id": d.id,
            "uid": d.uid,
            "title": d.title,
            "tags": d.tags,
            "timezone": "browser",
            "schemaVersion": 39,
            "version": 1,
            "panels": d.panels,
            "templating": d.templating.clone().unwrap_or_else(|| json!({"list": []})),
        },
        "meta": {
            "type": "db",
            "canSave": false,
            "canEdit": false,
            "canAdmin": false,
            "canStar": true,
            "slug": d.slug,
            "url": d.url,
            "expires": "0001-01-01T00:00:00Z",
            "created": "2024-05-02T09:00:00Z",
            "updated": "2024-05-02T09:00:00Z",
            "updatedBy": "admin",
            "createdBy": "admin",
            "version": 1,
            "isFolder": false,
            "folderId": 0,
            "folderUid": d.folder_uid.clone().unwrap_or_default(),
            "folderTitle": d.folder_title.clone().unwrap_or_else(|| "General".to_string()),
            "folderUrl": d.folder_url.clone().unwrap_or_default(),
            "provisioned": true,
            "provisionedExternalId": format!("{}.json", d.slug),
        },
    });
    respond(200, JSON_UTF8, &body.to_string())
}

/// A request-level error in Grafana's errutil shape (§3.3).
fn query_error(status: u16, message: &str, message_id: &str) -> Response<Body> {
    let body = json!({"message": message, "messageId": message_id, "statusCode": status, "traceID": ""});
    respond(status, JSON_UTF8, &body.to_string())
}

/// `POST /api/ds/query` (pipeline-apis.md §3.3): request-level checks first
/// (bad JSON, no queries, duplicate refId, no data source reference, an
/// unknown uid), then every query, each refId with frames or an error. The
/// HTTP status is 200 when no refId failed, else 400, or 207 with the
/// scenario's `multi_status`; results are keyed by refId in sorted order.
async fn ds_query(s: &Scenario, upstreams: Upstreams, body: &[u8]) -> Response<Body> {
    let Ok(req) = serde_json::from_slice::<Value>(body) else {
        return respond(400, JSON_UTF8, r#"{"message":"bad request data"}"#);
    };
    let queries = req["queries"].as_array().cloned().unwrap_or_default();
    if queries.is_empty() {
        return query_error(400, "No queries found", "query.noQueries");
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default();
    let (Some(from), Some(to)) = (time_arg(&req["from"], now), time_arg(&req["to"], now)) else {
        return respond(400, JSON_UTF8, r#"{"message":"bad request data"}"#);
    };
    let mut seen = std::collections::BTreeSet::new();
    let mut planned = Vec::new();
    for q in &queries {
        // refId defaults to A (§3.3).
        let ref_id = q["refId"].as_str().unwrap_or("A").to_string();
        if !seen.insert(ref_id.clone()) {
            // Grafana's message ends with a space (§3.3).
            return query_error(
                400,
                "Multiple queries using the same RefId is not allowed ",
                "query.duplicateRefId",
            );
        }
        let Some(uid) = q.pointer("/datasource/uid").and_then(Value::as_str) else {
            return query_error(
                400,
                "Query does not contain a valid data source identifier",
                "query.invalidDatasourceId",
            );
        };
        let Some(ds) = s.datasources.iter().find(|d| d.uid == uid) else {
            return respond(
                404,
                JSON_UTF8,
                r#"{"error":"data source not found","message":"Data source not found","traceID":""}"#,
            );
        };
        planned.push((ref_id, ds.clone(), q.clone()));
    }
    let mut results = serde_json::Map::new();
    let mut failed = false;
    for (ref_id, ds, q) in planned {
        let answer = match (ds.kind.as_str(), upstreams) {
            (
                "prometheus",
                Upstreams {
                    prometheus: Some(addr), ..
                },
            ) => prometheus_frames(addr, &ds, &ref_id, &q, from, to).await,
            ("prometheus", _) => {
                Err("fixture: started without a Prometheus (use Grafana::with_prometheus)".to_string())
            }
            ("loki", Upstreams { loki: Some(addr), .. }) => loki_frames(addr, &ref_id, &q, from, to).await,
            ("loki", _) => Err("fixture: started without a Loki (use Grafana::with_prometheus_and_loki)".to_string()),
            (other, _) => Err(format!("fixture: queries of `{other}` data sources are not modelled")),
        };
        let result = match answer {
            Ok(frames) => json!({"status": 200, "frames": frames}),
            Err(e) => {
                failed = true;
                json!({"error": e, "errorSource": "downstream", "status": 400})
            }
        };
        results.insert(ref_id, result);
    }
    let status = match (failed, s.multi_status) {
        (false, _) => 200,
        (true, true) => 207,
        (true, false) => 400,
    };
    respond(status, JSON_UTF8, &json!({"results": results}).to_string())
}

/// `from`/`to`: epoch milliseconds (number or string), `now` or `now-<n><unit>`.
fn time_arg(v: &Value, now: i64) -> Option<i64> {
    if let Some(n) = v.as_i64() {
        return Some(n);
    }
    let text = v.as_str()?;
    if let Ok(n) = text.parse::<i64>() {
        return Some(n);
    }
    if text == "now" {
        return Some(now);
    }
    let rel = text.strip_prefix("now-")?;
    let split = rel.find(|c: char| !c.is_ascii_digit())?;
    let (n, unit) = rel.split_at(split);
    let n: i64 = n.parse().ok()?;
    let secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 604_800,
        _ => return None,
    };
    Some(now - n * secs * 1000)
}

/// Runs one Prometheus target as `query_range` on the real Prometheus and
/// converts the matrix into one frame per series (§3.3: column-major
/// values, epoch-ms times, NaN/±Inf as null plus `entities`, the value
/// field named after `__name__` as 11.x does). The backend's macros are
/// replaced as Grafana's Prometheus backend would (§3.4).
async fn prometheus_frames(
    addr: SocketAddr,
    ds: &Datasource,
    ref_id: &str,
    q: &Value,
    from: i64,
    to: i64,
) -> Result<Vec<Value>, String> {
    let expr = q["expr"].as_str().unwrap_or_default();
    let scrape = ds
        .json_data
        .as_ref()
        .and_then(|j| j["timeInterval"].as_str())
        .and_then(|t| t.strip_suffix('s'))
        .and_then(|t| t.parse::<i64>().ok())
        .unwrap_or(15);
    let range_s = ((to - from) / 1000).max(1);
    let interval_s = q["intervalMs"].as_i64().unwrap_or(1000) / 1000;
    let max_points = q["maxDataPoints"].as_i64().unwrap_or(100).max(1);
    let step = scrape
        .max(interval_s)
        .max(range_s / max_points)
        .max(range_s / 11_000)
        .max(1);
    let rate = (step + scrape).max(4 * scrape);
    let rate_go = if rate % 60 == 0 {
        format!("{}m0s", rate / 60)
    } else if rate > 60 {
        format!("{}m{}s", rate / 60, rate % 60)
    } else {
        format!("{rate}s")
    };
    let mut e = expr.to_string();
    for (k, v) in [
        ("__rate_interval_ms", (rate * 1000).to_string()),
        ("__rate_interval", rate_go),
        ("__interval_ms", (step * 1000).to_string()),
        ("__interval", format!("{step}s")),
        ("__range_ms", (range_s * 1000).to_string()),
        ("__range_s", range_s.to_string()),
        ("__range", format!("{range_s}s")),
    ] {
        e = e.replace(&format!("${{{k}}}"), &v).replace(&format!("${k}"), &v);
    }
    // The last point falls on `to`, so the newest samples are always seen;
    // Grafana aligns to the step instead, which with a young TSDB can miss them.
    let end = to / 1000;
    let start = end - (range_s / step) * step;
    let path = format!(
        "/api/v1/query_range?query={}&start={start}&end={end}&step={step}",
        super::prometheus::encode(&e)
    );
    let fetched = tokio::task::spawn_blocking(move || super::daemon::get(addr, &path))
        .await
        .map_err(|e| format!("fixture: {e}"))?
        .map_err(|e| format!("Post \"http://{addr}/api/v1/query_range\": {e}"))?;
    let doc: Value =
        serde_json::from_str(&fetched.1).map_err(|e| format!("fixture: Prometheus answered {} ({e})", fetched.0))?;
    if doc["status"] != "success" {
        return Err(doc["error"].as_str().unwrap_or("unknown Prometheus error").to_string());
    }
    let series = doc
        .pointer("/data/result")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut frames = Vec::new();
    for s in series {
        let mut labels = s["metric"].as_object().cloned().unwrap_or_default();
        let name = labels
            .remove("__name__")
            .and_then(|n| n.as_str().map(str::to_string))
            .unwrap_or_else(|| "Value".to_string());
        let points = s["values"].as_array().cloned().unwrap_or_default();
        let mut times = Vec::new();
        let mut values = Vec::new();
        let mut special: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, p) in points.iter().enumerate() {
            times.push(json!((p[0].as_f64().unwrap_or_default() * 1000.0) as i64));
            let v: f64 = p[1].as_str().and_then(|v| v.parse().ok()).unwrap_or(f64::NAN);
            if v.is_finite() {
                values.push(json!(v));
            } else {
                let kind = if v.is_nan() {
                    "NaN"
                } else if v > 0.0 {
                    "Inf"
                } else {
                    "NegInf"
                };
                special.entry(kind).or_default().push(i);
                values.push(Value::Null);
            }
        }
        let mut data = json!({"values": [times, values]});
        if !special.is_empty() {
            data["entities"] = json!([null, special]);
        }
        frames.push(json!({
            "schema": {
                "refId": ref_id,
                "meta": {
                    "type": "timeseries-multi",
                    "typeVersion": [0, 1],
                    "custom": {"resultType": "matrix"},
                    "executedQueryString": format!("Expr: {e}\nStep: {step}s"),
                },
                "fields": [
                    {"name": "Time", "type": "time", "typeInfo": {"frame": "time.Time"}, "config": {"interval": step * 1000}},
                    {"name": name, "type": "number", "typeInfo": {"frame": "float64"}, "labels": labels, "config": {}},
                ],
            },
            "data": data,
        }));
    }
    Ok(frames)
}

/// Grafana's `gtime.FormatInterval`: the largest whole unit, `1ms` at least.
fn format_interval(ms: i64) -> String {
    const UNITS: [(i64, &str); 6] = [
        (365 * 86_400_000, "y"),
        (86_400_000, "d"),
        (3_600_000, "h"),
        (60_000, "m"),
        (1000, "s"),
        (1, "ms"),
    ];
    UNITS
        .iter()
        .find(|(unit, _)| ms >= *unit)
        .map_or_else(|| "1ms".to_string(), |(unit, name)| format!("{}{name}", ms / unit))
}

/// Runs one Loki target the way Grafana's Loki backend does
/// (pkg/tsdb/loki: parse_query.go, step.go, api.go, frame.go; the request
/// shape is pipeline-apis.md §3.3): macros replaced, then
/// `query_range` (`queryType` `range` or absent) or `query` (`instant`)
/// with `direction` (default backward), `limit` only when the target sets
/// `maxLines`, start/end in ns and the step in ms. A non-2xx answer becomes
/// the refId's error with Loki's body as the text; a `streams` result
/// becomes one legacy logs frame (`labels`, `Time`, `Line`, `tsNs`, `id`;
/// `meta.custom.frameType` `LabeledTimeValues`), rows in stream order.
/// Metric results (`matrix`, `vector`) are not modelled: the fixture Loki
/// never returns them.
async fn loki_frames(addr: SocketAddr, ref_id: &str, q: &Value, from: i64, to: i64) -> Result<Vec<Value>, String> {
    let instant = match q["queryType"].as_str() {
        None | Some("range") => false,
        Some("instant") => true,
        Some(other) => return Err(format!("invalid queryType: {other}")),
    };
    let direction = match q["direction"].as_str() {
        None | Some("backward") | Some("scan") => "backward",
        Some("forward") => "forward",
        Some(other) => return Err(format!("invalid queryDirection: {other}")),
    };
    let range_ms = (to - from).max(0);
    let interval_ms = q["intervalMs"].as_i64().unwrap_or(1000).max(1);
    // max(interval × resolution 1, range / 11000), rounded up to a millisecond.
    let step_ms = interval_ms.max((range_ms + 10_999) / 11_000);
    let range_s = (range_ms as f64 / 1000.0).round() as i64;
    let interval = format_interval(interval_ms);
    let mut expr = q["expr"].as_str().unwrap_or_default().to_string();
    for (k, v) in [
        ("$__interval_ms", interval_ms.to_string()),
        ("$__interval", interval.clone()),
        ("$__range_ms", range_ms.to_string()),
        ("$__range_s", range_s.to_string()),
        ("$__range", format!("{range_s}s")),
        (
            "$__auto",
            if instant {
                format!("{range_s}s")
            } else {
                format_interval(step_ms)
            },
        ),
        ("${__interval_ms}", interval_ms.to_string()),
        ("${__interval}", interval),
        ("${__range_ms}", range_ms.to_string()),
        ("${__range_s}", range_s.to_string()),
        ("${__range}", format!("{range_s}s")),
    ] {
        expr = expr.replace(k, &v);
    }
    // Built in one statement: the serializer is not `Send`, so it must not live across an await.
    let path = {
        let mut params = url::form_urlencoded::Serializer::new(String::new());
        params.append_pair("query", &expr).append_pair("direction", direction);
        if let Some(n) = q["maxLines"].as_i64().filter(|n| *n > 0) {
            params.append_pair("limit", &n.to_string());
        }
        let to_ns = to.saturating_mul(1_000_000).to_string();
        if instant {
            params.append_pair("time", &to_ns);
        } else {
            params
                .append_pair("start", &from.saturating_mul(1_000_000).to_string())
                .append_pair("end", &to_ns)
                .append_pair("step", &format!("{step_ms}ms"));
        }
        let route = if instant {
            "/loki/api/v1/query"
        } else {
            "/loki/api/v1/query_range"
        };
        format!("{route}?{}", params.finish())
    };
    let (status, body) = tokio::task::spawn_blocking(move || super::daemon::get(addr, &path))
        .await
        .map_err(|e| format!("fixture: {e}"))?
        .map_err(|e| format!("Get \"http://{addr}/loki/api/v1/query_range\": {e}"))?;
    if status / 100 != 2 {
        // api.go makeLokiError: the JSON `message` if there is one, else the whole body.
        return Err(serde_json::from_str::<Value>(&body)
            .ok()
            .and_then(|v| v["message"].as_str().filter(|m| !m.is_empty()).map(str::to_string))
            .unwrap_or(body));
    }
    let doc: Value = serde_json::from_str(&body).map_err(|e| format!("fixture: Loki answered {status} ({e})"))?;
    match doc.pointer("/data/resultType").and_then(Value::as_str) {
        Some("streams") => {}
        other => {
            return Err(format!(
                "fixture: Loki `{}` results are not modelled",
                other.unwrap_or("(none)")
            ));
        }
    }
    let streams = doc
        .pointer("/data/result")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let (mut labels, mut times, mut lines, mut ts_ns, mut ids) = (vec![], vec![], vec![], vec![], vec![]);
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for stream in &streams {
        let stream_labels = stream["stream"].clone();
        for v in stream["values"].as_array().map(Vec::as_slice).unwrap_or_default() {
            let (Some(ns), Some(line)) = (v[0].as_str(), v[1].as_str()) else {
                return Err("fixture: Loki entry is not [ts, line]".to_string());
            };
            let ns_int: i64 = ns.parse().map_err(|_| format!("fixture: Loki timestamp `{ns}`"))?;
            // frame.go makeIdField: `<tsNs>_<fnv32 of line + "_" + labels JSON>`,
            // with `_<n>` added to repeats.
            let sum = format!("{ns}_{:x}", fnv32(format!("{line}_{stream_labels}").as_bytes()));
            let n = seen.entry(sum.clone()).or_default();
            let id = if *n > 0 { format!("{sum}_{n}") } else { sum };
            *n += 1;
            labels.push(stream_labels.clone());
            times.push(json!(ns_int / 1_000_000));
            lines.push(json!(line));
            ts_ns.push(json!(ns));
            ids.push(json!(id));
        }
    }
    if lines.is_empty() {
        return Ok(Vec::new());
    }
    let string_field = |name: &str| json!({"name": name, "type": "string", "typeInfo": {"frame": "string"}});
    Ok(vec![json!({
        "schema": {
            "refId": ref_id,
            "meta": {
                "custom": {"frameType": "LabeledTimeValues"},
                "stats": loki_stats(doc.pointer("/data/stats")),
                "executedQueryString": format!("Expr: {expr}"),
            },
            "fields": [
                {"name": "labels", "type": "other", "typeInfo": {"frame": "json.RawMessage"}},
                {"name": "Time", "type": "time", "typeInfo": {"frame": "time.Time"}},
                string_field("Line"),
                string_field("tsNs"),
                string_field("id"),
            ],
        },
        "data": {"values": [labels, times, lines, ts_ns, ids]},
    })])
}

/// frame.go `parseStats`: Loki's `summary`, `store` and `ingester`
/// counters as Grafana's query stats, each 0 when Loki omits it.
fn loki_stats(stats: Option<&Value>) -> Vec<Value> {
    /// Loki's counter name, Grafana's display name, its unit.
    type Counter = (&'static str, &'static str, &'static str);
    const SECTIONS: [(&str, &str, &[Counter]); 3] = [
        (
            "summary",
            "Summary",
            &[
                ("bytesProcessedPerSecond", "bytes processed per second", "Bps"),
                ("linesProcessedPerSecond", "lines processed per second", ""),
                ("totalBytesProcessed", "total bytes processed", "decbytes"),
                ("totalLinesProcessed", "total lines processed", ""),
                ("execTime", "exec time", "s"),
            ],
        ),
        (
            "store",
            "Store",
            &[
                ("totalChunksRef", "total chunks ref", ""),
                ("totalChunksDownloaded", "total chunks downloaded", ""),
                ("chunksDownloadTime", "chunks download time", "s"),
                ("headChunkBytes", "head chunk bytes", "decbytes"),
                ("headChunkLines", "head chunk lines", ""),
                ("decompressedBytes", "decompressed bytes", "decbytes"),
                ("decompressedLines", "decompressed lines", ""),
                ("compressedBytes", "compressed bytes", "decbytes"),
                ("totalDuplicates", "total duplicates", ""),
            ],
        ),
        (
            "ingester",
            "Ingester",
            &[
                ("totalReached", "total reached", ""),
                ("totalChunksMatched", "total chunks matched", ""),
                ("totalBatches", "total batches", ""),
                ("totalLinesSent", "total lines sent", ""),
                ("headChunkBytes", "head chunk bytes", "decbytes"),
                ("headChunkLines", "head chunk lines", ""),
                ("decompressedBytes", "decompressed bytes", "decbytes"),
                ("decompressedLines", "decompressed lines", ""),
                ("compressedBytes", "compressed bytes", "decbytes"),
                ("totalDuplicates", "total duplicates", ""),
            ],
        ),
    ];
    let mut out = Vec::new();
    for (key, title, counters) in SECTIONS {
        let Some(section) = stats.and_then(|s| s.get(key)).filter(|v| v.is_object()) else {
            continue;
        };
        for (field, name, unit) in counters {
            let mut stat =
                json!({"displayName": format!("{title}: {name}"), "value": section[field].as_f64().unwrap_or(0.0)});
            if !unit.is_empty() {
                stat["unit"] = json!(unit);
            }
            out.push(stat);
        }
    }
    out
}

/// 32-bit FNV-1 (Go's `hash/fnv.New32`), for the logs frame's row ids.
fn fnv32(bytes: &[u8]) -> u32 {
    bytes
        .iter()
        .fold(0x811c_9dc5_u32, |h, b| h.wrapping_mul(0x0100_0193) ^ u32::from(*b))
}

/// Decodes standard base64 (with or without padding); `None` if malformed.
fn base64_decode(s: &str) -> Option<Vec<u8>> {
    fn value(c: u8) -> Option<u32> {
        match c {
            b'A'..=b'Z' => Some(u32::from(c - b'A')),
            b'a'..=b'z' => Some(u32::from(c - b'a') + 26),
            b'0'..=b'9' => Some(u32::from(c - b'0') + 52),
            b'+' => Some(62),
            b'/' => Some(63),
            _ => None,
        }
    }
    let bytes = s.trim_end_matches('=').as_bytes();
    if bytes.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let mut acc = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            acc |= value(*c)? << (18 - 6 * i);
        }
        let n = chunk.len() - 1; // 4 chars → 3 bytes, 3 → 2, 2 → 1
        for i in 0..n {
            out.push((acc >> (16 - 8 * i)) as u8);
        }
    }
    Some(out)
}

fn json_ok<T: Serialize>(v: &T) -> Response<Body> {
    match serde_json::to_string(v) {
        Ok(text) => respond(200, JSON_UTF8, &text),
        Err(e) => internal(&e.to_string()),
    }
}

/// A fixture bug, reported as an answer rather than a panicking thread.
fn internal(message: &str) -> Response<Body> {
    let body = json!({ "message": format!("fixture error: {message}") });
    respond(500, JSON_UTF8, &body.to_string())
}

/// A trimmed Grafana login page: enough for a client to tell HTML from JSON.
const LOGIN_PAGE: &str = r#"<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width" />
    <title>Grafana</title>
    <base href="/" />
  </head>
  <body class="theme-dark app-grafana">
    <div id="reactRoot"></div>
    <script nonce="">
      window.grafanaBootData = { user: { isSignedIn: false }, settings: {} };
    </script>
  </body>
</html>
"#;
