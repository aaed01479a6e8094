//! Self-tests of the fixture Grafana and Loki: plain HTTP requests (a tiny
//! std-only HTTP/1.1 client, so no client library smooths anything over)
//! checking the reference facts the CLI's probes depend on: status codes,
//! exact error bodies and content types, envelopes, timestamps and config.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::support::grafana::{self, GRAFANA_PASSWORD, GRAFANA_TOKEN, GRAFANA_USER, Grafana, Recorded};
use crate::support::loki::{self, LOKI_TENANT, Loki};

/// One HTTP answer.
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }
}

/// `GET base+target` over HTTP/1.1 with `Connection: close`.
fn get(base: &str, target: &str, headers: &[(&str, &str)]) -> Reply {
    send("GET", base, target, headers, "")
}

/// `POST base+target` of a JSON `body`.
fn post(base: &str, target: &str, headers: &[(&str, &str)], body: &str) -> Reply {
    send("POST", base, target, headers, body)
}

fn send(method: &str, base: &str, target: &str, headers: &[(&str, &str)], body: &str) -> Reply {
    let host = base.trim_start_matches("http://");
    let mut s = TcpStream::connect(host).expect("connect to fixture");
    s.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let mut req = format!("{method} {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if method == "POST" {
        req.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).expect("send request");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read answer");
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("end of headers");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut body = raw[split + 4..].to_vec();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .expect("status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    if headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"))
    {
        body = dechunk(&body);
    }
    Reply {
        status,
        headers,
        body: String::from_utf8(body).expect("UTF-8 body"),
    }
}

fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let eol = raw.windows(2).position(|w| w == b"\r\n").expect("chunk size line");
        let size_text = String::from_utf8_lossy(&raw[..eol]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16).expect("chunk size");
        raw = &raw[eol + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&raw[..size]);
        raw = &raw[size + 2..];
    }
}

/// Standard base64, written independently of the fixture's decoder.
fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", base64(format!("{user}:{password}").as_bytes()))
}

fn bearer() -> String {
    format!("Bearer {GRAFANA_TOKEN}")
}

const GRAFANA_JSON: &str = "application/json; charset=UTF-8";
const LOKI_TEXT: &str = "text/plain; charset=utf-8";

// ---------------------------------------------------------------- Grafana

#[test]
fn base64_helper_matches_a_known_vector() {
    // RFC 4648 test vectors, so the basic-auth tests below test the fixture.
    assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    assert_eq!(base64(b"fooba"), "Zm9vYmE=");
    assert_eq!(base64(b"foob"), "Zm9vYg==");
}

#[test]
fn grafana_without_credentials_is_401_with_the_modern_or_old_body() {
    let g = Grafana::start("healthy");
    let r = get(&g.url, "/api/datasources", &[]);
    assert_eq!(r.status, 401);
    assert_eq!(r.header("content-type"), Some(GRAFANA_JSON));
    assert_eq!(
        r.json(),
        json!({"extra":null,"message":"Unauthorized","messageId":"auth.unauthorized","statusCode":401,"traceID":""})
    );

    let mut old = grafana::Scenario::load("healthy");
    old.auth = grafana::AuthMode::Old401;
    let g = Grafana::start_with(old);
    let r = get(&g.url, "/api/search?type=dash-db", &[]);
    assert_eq!(r.status, 401);
    assert_eq!(r.body, r#"{"message":"Unauthorized"}"#);
    // Old versions took the token as the password of user `api_key`.
    let r = get(
        &g.url,
        "/api/search",
        &[("Authorization", &basic("api_key", GRAFANA_TOKEN))],
    );
    assert_eq!(r.status, 200, "{}", r.body);
}

#[test]
fn grafana_wrong_password_and_wrong_token_have_their_own_401s() {
    let g = Grafana::start("healthy");
    let r = get(
        &g.url,
        "/api/datasources",
        &[("Authorization", &basic(GRAFANA_USER, "admin"))],
    );
    assert_eq!(r.status, 401);
    assert_eq!(r.header("content-type"), Some(GRAFANA_JSON));
    let b = r.json();
    assert_eq!(b["message"], "Invalid username or password");
    assert_eq!(b["messageId"], "password-auth.failed");
    assert_eq!(b["statusCode"], 401);

    let r = get(
        &g.url,
        "/api/datasources",
        &[("Authorization", "Bearer glsa_revoked_0000")],
    );
    assert_eq!(r.status, 401);
    let b = r.json();
    assert_eq!(b["message"], "Invalid API key");
    assert_eq!(b["messageId"], "api-key.invalid");
}

#[test]
fn grafana_datasources_are_sorted_case_insensitively_for_token_and_basic_auth() {
    let g = Grafana::start("healthy");
    for auth in [bearer(), basic(GRAFANA_USER, GRAFANA_PASSWORD)] {
        let r = get(&g.url, "/api/datasources", &[("Authorization", &auth)]);
        assert_eq!(r.status, 200, "{auth}: {}", r.body);
        assert_eq!(r.header("content-type"), Some(GRAFANA_JSON));
        let list = r.json();
        let names: Vec<&str> = list
            .as_array()
            .expect("array")
            .iter()
            .filter_map(|d| d["name"].as_str())
            .collect();
        // The file lists Prometheus first; a byte-wise sort would keep it there.
        assert_eq!(names, ["loki", "Prometheus"]);
        let prom = &list[1];
        assert_eq!(prom["uid"], "prom-main");
        assert_eq!(prom["type"], "prometheus");
        assert_eq!(prom["typeName"], "Prometheus");
        assert_eq!(prom["readOnly"], true);
        assert_eq!(prom["jsonData"]["httpMethod"], "POST");
    }
    let token = bearer();
    let auth = [("Authorization", token.as_str())];
    let one = get(&g.url, "/api/datasources/uid/prom-main", &auth).json();
    assert_eq!(one["name"], "Prometheus");
    assert_eq!(one["version"], 1);
    assert_eq!(one["secureJsonFields"], json!({}));
    assert!(one.get("typeName").is_none(), "dtos.DataSource has no typeName");
    let r = get(&g.url, "/api/datasources/uid/nope", &auth);
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["message"], "Data source not found");
}

#[test]
fn grafana_datasource_health_is_200_for_ok_and_400_for_error() {
    let g = Grafana::start("healthy");
    let auth = bearer();
    let auth = [("Authorization", auth.as_str())];
    let r = get(&g.url, "/api/datasources/uid/prom-main/health", &auth);
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json(),
        json!({"message":"Successfully queried the Prometheus API.","status":"OK"})
    );
    let r = get(&g.url, "/api/datasources/uid/loki-main/health", &auth);
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["message"], "Data source successfully connected.");
    let r = get(&g.url, "/api/datasources/uid/no-such-uid/health", &auth);
    assert_eq!(r.status, 500);
    assert_eq!(r.json()["message"], "Unable to load datasource metadata");

    let g = Grafana::start("datasource-error");
    let r = get(&g.url, "/api/datasources/uid/prom-main/health", &auth);
    assert_eq!(r.status, 400);
    assert_eq!(r.header("content-type"), Some(GRAFANA_JSON));
    assert_eq!(
        r.json(),
        json!({
            "message": "Post \"http://prometheus:9090/api/v1/query\": dial tcp 172.20.0.5:9090: connect: connection refused - There was an error returned querying the Prometheus API.",
            "status": "ERROR"
        })
    );
}

#[test]
fn grafana_health_is_public_pretty_printed_and_503_when_the_database_fails() {
    let g = Grafana::start("database-failing");
    let r = get(&g.url, "/api/health", &[]);
    assert_eq!(r.status, 503);
    assert_eq!(r.header("content-type"), Some(GRAFANA_JSON));
    assert_eq!(
        r.body,
        "{\n  \"database\": \"failing\",\n  \"version\": \"11.2.0\",\n  \"commit\": \"2a88694fd3\"\n}"
    );
    // Only the health check fails; the API keeps answering.
    let r = get(&g.url, "/api/datasources", &[("Authorization", bearer().as_str())]);
    assert_eq!(r.status, 200);

    let g = Grafana::start("healthy");
    let r = get(&g.url, "/api/health", &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["database"], "ok");
    let r = get(&g.url, "/healthz", &[]);
    assert_eq!((r.status, r.body.as_str()), (200, "Ok"));

    // hide_version: no version, no commit.
    let mut hidden = grafana::Scenario::load("healthy");
    hidden.health.version = None;
    hidden.health.commit = None;
    let g = Grafana::start_with(hidden);
    assert_eq!(get(&g.url, "/api/health", &[]).body, "{\n  \"database\": \"ok\"\n}");
}

#[test]
fn grafana_login_redirect_sends_api_calls_to_an_html_login_page() {
    let g = Grafana::start("login-redirect");
    let r = get(&g.url, "/api/datasources", &[("Authorization", bearer().as_str())]);
    assert_eq!(r.status, 302);
    assert_eq!(r.header("location"), Some("/login"));
    let r = get(&g.url, "/api/search?type=dash-db", &[]);
    assert_eq!(r.status, 302);
    let page = get(&g.url, "/login", &[]);
    assert_eq!(page.status, 200);
    assert!(
        page.header("content-type").is_some_and(|t| t.starts_with("text/html")),
        "{:?}",
        page.headers
    );
    assert!(page.body.starts_with("<!DOCTYPE html>"));
    assert!(serde_json::from_str::<Value>(&page.body).is_err());
    // The health endpoints stay public.
    assert_eq!(get(&g.url, "/api/health", &[]).status, 200);
}

#[test]
fn grafana_rbac_denied_answers_403_to_authenticated_calls_only() {
    let g = Grafana::start("rbac-denied");
    let r = get(&g.url, "/api/datasources", &[("Authorization", bearer().as_str())]);
    assert_eq!(r.status, 403);
    assert_eq!(r.header("content-type"), Some(GRAFANA_JSON));
    assert_eq!(
        r.json(),
        json!({
            "accessErrorId": "ACE1234567890",
            "message": "You'll need additional permissions to perform this action. Permissions needed: datasources:read",
            "title": "Access denied"
        })
    );
    assert_eq!(get(&g.url, "/api/datasources", &[]).status, 401);
    assert_eq!(get(&g.url, "/api/health", &[]).status, 200);
}

#[test]
fn grafana_search_honours_type_and_query_and_dashboards_resolve_by_uid() {
    let g = Grafana::start("healthy");
    let auth = bearer();
    let auth = [("Authorization", auth.as_str())];
    let all = get(&g.url, "/api/search?type=dash-db", &auth).json();
    assert_eq!(all.as_array().map(Vec::len), Some(2));
    // The General folder has no folder fields at all.
    assert!(all[1].get("folderUid").is_none());
    assert!(all[1].get("panels").is_none());

    let hits = get(&g.url, "/api/search?type=dash-db&query=medianest%20OVERVIEW", &auth).json();
    assert_eq!(hits.as_array().map(Vec::len), Some(1), "{hits}");
    let h = &hits[0];
    assert_eq!(h["title"], "MediaNest Overview");
    assert_eq!(h["type"], "dash-db");
    assert_eq!(h["url"], "/d/medianest-overview/medianest-overview");
    assert_eq!(h["uri"], "db/medianest-overview");
    assert_eq!(h["folderTitle"], "MediaNest");
    assert_eq!(h["sortMeta"], 0);
    assert_eq!(h["isStarred"], false);
    let folders = get(&g.url, "/api/search?type=dash-folder", &auth).json();
    assert_eq!(folders, json!([]));

    let d = get(&g.url, "/api/dashboards/uid/medianest-overview", &auth);
    assert_eq!(d.status, 200);
    let d = d.json();
    assert_eq!(d["dashboard"]["uid"], "medianest-overview");
    assert_eq!(d["dashboard"]["panels"][1]["type"], "logs");
    assert_eq!(d["meta"]["type"], "db");
    assert_eq!(d["meta"]["slug"], "medianest-overview");
    let r = get(&g.url, "/api/dashboards/uid/nope", &auth);
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["message"], "Dashboard not found");

    let g = Grafana::start("no-dashboards");
    let r = get(&g.url, "/api/search?type=dash-db", &auth);
    assert_eq!((r.status, r.body.as_str()), (200, "[]"));
}

#[test]
fn grafana_records_requests_delays_routes_and_404s_unknown_ones() {
    let mut s = grafana::Scenario::load("healthy");
    s.delays_ms.insert("/api/search".to_string(), 300);
    let g = Grafana::start_with(s);
    let started = Instant::now();
    let r = get(
        &g.url,
        "/api/search?type=dash-db",
        &[("Authorization", bearer().as_str()), ("X-Grafana-Org-Id", "1")],
    );
    assert_eq!(r.status, 200);
    assert!(started.elapsed() >= Duration::from_millis(300));
    let r = get(&g.url, "/api/nothing-here", &[]);
    assert_eq!(r.status, 404);
    assert_eq!(r.body, r#"{"message":"Not found"}"#);

    let seen: Vec<Recorded> = g.requests();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].method, "GET");
    assert_eq!(seen[0].path, "/api/search");
    assert_eq!(seen[0].query, "type=dash-db");
    // Names are recorded lower case, whatever the client sent.
    assert_eq!(seen[0].header("authorization"), Some(bearer().as_str()));
    assert_eq!(seen[0].header("x-grafana-org-id"), Some("1"));
    assert_eq!(seen[1].path, "/api/nothing-here");
}

// ------------------------------------------------------------------- Loki

fn now_ns() -> i64 {
    let d = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970");
    i64::try_from(d.as_nanos()).expect("ns fit in i64")
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The (timestamp, line) pairs of every stream, in answer order.
fn values(answer: &Value) -> Vec<(i64, String)> {
    answer["data"]["result"]
        .as_array()
        .expect("result array")
        .iter()
        .flat_map(|s| s["values"].as_array().expect("values").iter())
        .map(|v| {
            // The timestamp must be a JSON string of ns, not a number.
            let ts = v[0].as_str().expect("ns timestamp is a string");
            (
                ts.parse().expect("integer ns"),
                v[1].as_str().expect("line").to_string(),
            )
        })
        .collect()
}

fn assert_loki_text_error(r: &Reply, status: u16, body: &str) {
    assert_eq!(r.status, status, "{:?}", r.body);
    assert_eq!(r.body, body);
    assert_eq!(r.header("content-type"), Some(LOKI_TEXT));
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
}

fn yaml(body: &str) -> Value {
    serde_saphyr::from_str(body).unwrap_or_else(|e| panic!("not YAML ({e}):\n{body}"))
}

#[test]
fn loki_labels_omit_data_when_there_are_none() {
    let l = Loki::start("retention-30d-enforced");
    let r = get(&l.url, "/loki/api/v1/labels", &[]);
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body,
        "{\"status\":\"success\",\"data\":[\"container\",\"job\",\"level\"]}\n"
    );

    let l = Loki::start("no-logs");
    let r = get(&l.url, "/loki/api/v1/labels", &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.body, "{\"status\":\"success\"}\n");
}

#[test]
fn loki_query_range_returns_the_fresh_stream_newest_first_with_ns_strings() {
    let l = Loki::start("retention-30d-enforced");
    let before = now_ns();
    let q = enc(r#"{job="medianest-app"}"#);
    let r = get(&l.url, &format!("/loki/api/v1/query_range?query={q}"), &[]);
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.ends_with('\n'));
    let a = r.json();
    assert_eq!(a["status"], "success");
    assert_eq!(a["data"]["resultType"], "streams");
    assert!(a["data"]["stats"]["summary"].is_object());
    let streams = a["data"]["result"].as_array().expect("result");
    // Both medianest-app streams (info, error), never nginx.
    assert_eq!(streams.len(), 2, "{a}");
    assert!(streams.iter().all(|s| s["stream"]["job"] == "medianest-app"));
    let info = &streams[0]["values"];
    let ts: Vec<i64> = info
        .as_array()
        .expect("values")
        .iter()
        .map(|v| v[0].as_str().expect("string ts").parse().expect("ns"))
        .collect();
    assert_eq!(ts.len(), 5);
    assert!(ts.windows(2).all(|w| w[0] > w[1]), "backward = newest first");
    // Fresh: the newest line is ~2 s old, in ns, relative to this run.
    let age = before - ts[0];
    assert!((0..30_000_000_000).contains(&age), "age {age} ns");

    // `limit` counts entries across streams; forward is oldest first.
    let r = get(
        &l.url,
        &format!("/loki/api/v1/query_range?query={q}&limit=2&direction=forward"),
        &[],
    );
    let v = values(&r.json());
    assert_eq!(v.len(), 2);
    assert!(v[0].0 < v[1].0);
    assert!(v[0].1.contains("server listening"), "{v:?}");

    // Whitespace inside the selector is not significant.
    let spaced = enc(r#"{ job = "nginx" }"#);
    let r = get(&l.url, &format!("/loki/api/v1/query_range?query={spaced}"), &[]);
    assert_eq!(values(&r.json()).len(), 2);
}

#[test]
fn loki_query_range_without_a_match_has_an_empty_result_and_stats() {
    let l = Loki::start("retention-30d-enforced");
    let q = enc(r#"{job="not-shipped"}"#);
    let r = get(&l.url, &format!("/loki/api/v1/query_range?query={q}"), &[]);
    assert_eq!(r.status, 200);
    let mut a = r.json();
    assert!(a["data"]["stats"].is_object(), "stats is always present");
    a["data"]["stats"] = json!({});
    assert_eq!(
        a,
        json!({"status":"success","data":{"resultType":"streams","result":[],"stats":{}}})
    );
}

#[test]
fn loki_stale_logs_are_outside_the_default_hour_but_found_with_a_wider_start() {
    let l = Loki::start("stale-logs");
    let q = enc(r#"{job="medianest-app"}"#);
    let r = get(&l.url, &format!("/loki/api/v1/query_range?query={q}"), &[]);
    assert!(values(&r.json()).is_empty(), "default start is now-1h");

    let now = now_ns();
    let start = now - 24 * 3600 * 1_000_000_000;
    let r = get(
        &l.url,
        &format!("/loki/api/v1/query_range?query={q}&start={start}&end={now}&limit=1"),
        &[],
    );
    let v = values(&r.json());
    assert_eq!(v.len(), 1);
    let age_s = (now - v[0].0) / 1_000_000_000;
    assert!((3 * 3600..3 * 3600 + 60).contains(&age_s), "age {age_s}s");
    // Ten-digit integers are seconds (Loki's params.go), not nanoseconds.
    let start_s = start / 1_000_000_000;
    let r = get(
        &l.url,
        &format!("/loki/api/v1/query_range?query={q}&start={start_s}&limit=1"),
        &[],
    );
    assert_eq!(values(&r.json()).len(), 1);
}

#[test]
fn loki_multi_tenant_wants_an_org_id_and_keeps_tenants_apart() {
    let l = Loki::start("multi-tenant");
    let q = enc(r#"{job="medianest-app"}"#);
    let path = format!("/loki/api/v1/query_range?query={q}");
    assert_loki_text_error(&get(&l.url, &path, &[]), 401, "no org id\n");
    assert_loki_text_error(&get(&l.url, "/loki/api/v1/labels", &[]), 401, "no org id\n");
    // /ready, /config and buildinfo are outside the tenant middleware.
    assert_eq!(get(&l.url, "/ready", &[]).status, 200);
    assert_eq!(get(&l.url, "/config", &[]).status, 200);
    assert_eq!(get(&l.url, "/loki/api/v1/status/buildinfo", &[]).status, 200);

    let r = get(&l.url, &path, &[("X-Scope-OrgID", "someone-else")]);
    assert_eq!(r.status, 200);
    assert!(values(&r.json()).is_empty());
    let r = get(&l.url, &path, &[("X-Scope-OrgID", LOKI_TENANT)]);
    let v = values(&r.json());
    assert_eq!(v.len(), 6, "{v:?}");
    assert!(v.iter().all(|(_, line)| !line.contains("other tenant")));

    let sent: Vec<loki::Recorded> = l.requests();
    let last = sent.last().expect("requests recorded");
    assert_eq!(last.path, "/loki/api/v1/query_range");
    assert_eq!(last.header("x-scope-orgid"), Some(LOKI_TENANT));
    assert!(last.query.starts_with("query="));
}

#[test]
fn loki_errors_are_plain_text_with_a_newline() {
    let l = Loki::start("retention-30d-enforced");
    assert_loki_text_error(
        &get(&l.url, "/loki/api/v1/query_range?query=medianest", &[]),
        400,
        "parse error at line 1, col 1: syntax error: unexpected IDENTIFIER\n",
    );
    let q = enc(r#"{job="medianest-app"}"#);
    assert_loki_text_error(
        &get(&l.url, &format!("/loki/api/v1/query?query={q}"), &[]),
        400,
        "log queries are not supported as an instant query type, please change your query to a range query type\n",
    );
    assert_loki_text_error(&get(&l.url, "/nope", &[]), 404, "404 page not found\n");
}

#[test]
fn loki_ready_and_buildinfo_follow_the_reference() {
    let l = Loki::start("retention-30d-enforced");
    assert_loki_text_error(&get(&l.url, "/ready", &[]), 200, "ready\n");
    let r = get(&l.url, "/loki/api/v1/status/buildinfo", &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert!(r.body.ends_with("}\n"));
    let b = r.json();
    assert!(b.get("status").is_none() && b.get("data").is_none(), "bare object");
    assert_eq!(b["version"], "3.2.1");
    assert_eq!(b["goVersion"], "");

    let l = Loki::start("not-ready");
    assert_loki_text_error(
        &get(&l.url, "/ready", &[]),
        503,
        "Ingester not ready: waiting for 15s after being ready\n",
    );
}

#[test]
fn loki_config_is_yaml_text_with_retention_settings_and_modes() {
    let l = Loki::start("retention-30d-enforced");
    let r = get(&l.url, "/config", &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some(LOKI_TEXT));
    assert!(r.body.starts_with("target: all\n"), "fixture comment stripped");
    assert!(r.body.contains("retention_enabled"));
    let c = yaml(&r.body);
    for key in [
        "target",
        "server",
        "common",
        "ingester",
        "storage_config",
        "schema_config",
        "compactor",
        "limits_config",
        "table_manager",
    ] {
        assert!(c.get(key).is_some(), "missing top-level `{key}`");
    }
    assert!(c.get("auth_enabled").is_none(), "omitempty when false");
    assert_eq!(c["compactor"]["retention_enabled"], true);
    assert_eq!(c["compactor"]["delete_request_store"], "filesystem");
    assert_eq!(c["compactor"]["compaction_interval"], "10m0s");
    assert_eq!(c["compactor"]["retention_delete_delay"], "2h0m0s");
    assert_eq!(c["limits_config"]["retention_period"], "30d");
    assert_eq!(c["schema_config"]["configs"][0]["index"]["period"], "24h0m0s");

    let diff = yaml(&get(&l.url, "/config?mode=diff", &[]).body);
    assert_eq!(diff["compactor"]["retention_enabled"], true);
    assert!(diff.get("table_manager").is_none(), "unchanged sections drop out");
    let defaults = yaml(&get(&l.url, "/config?mode=defaults", &[]).body);
    assert_eq!(defaults["auth_enabled"], true);
    assert_eq!(defaults["compactor"]["retention_enabled"], false);
    assert_eq!(defaults["limits_config"]["retention_period"], "0s");
    // The docs' spelling is not what the code checks: full config.
    assert_eq!(get(&l.url, "/config?mode=diffs", &[]).body, r.body);
}

#[test]
fn loki_config_variants_model_each_retention_setup() {
    let cases: [(&str, bool, &str, bool, &str); 5] = [
        // scenario, compactor switch, limits period, table manager switch, its period
        ("retention-3d-enforced", true, "3d", false, "0s"),
        ("retention-3d-not-enforced", false, "3d", false, "0s"),
        ("retention-default", false, "0s", false, "0s"),
        ("table-manager-retention", false, "0s", true, "2w"),
        ("multi-tenant", true, "30d", false, "0s"),
    ];
    for (name, enabled, period, tm_enabled, tm_period) in cases {
        let l = Loki::start(name);
        let c = yaml(&get(&l.url, "/config", &[]).body);
        assert_eq!(c["compactor"]["retention_enabled"], enabled, "{name}");
        assert_eq!(c["limits_config"]["retention_period"], period, "{name}");
        assert_eq!(c["table_manager"]["retention_deletes_enabled"], tm_enabled, "{name}");
        assert_eq!(c["table_manager"]["retention_period"], tm_period, "{name}");
        assert_eq!(c.get("auth_enabled").is_some(), name == "multi-tenant", "{name}");
    }
    let diff = yaml(&get(&Loki::start("retention-3d-not-enforced").url, "/config?mode=diff", &[]).body);
    assert_eq!(diff["limits_config"]["retention_period"], "3d");
    assert!(diff["compactor"].get("retention_enabled").is_none());
}

#[test]
fn loki_config_behind_a_proxy_is_an_html_page_with_status_200() {
    let l = Loki::start("config-not-yaml");
    let r = get(&l.url, "/config", &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/html"));
    assert!(r.body.starts_with("<html>"));
    assert!(serde_saphyr::from_str::<BTreeMap<String, Value>>(&r.body).is_err());
}

#[test]
fn grafana_ds_query_request_errors_and_library_elements_answer_like_the_reference() {
    let g = Grafana::start("dashboards-live");
    let bearer = format!("Bearer {GRAFANA_TOKEN}");
    let auth = [("Authorization", bearer.as_str())];
    let q = |body: &str| post(&g.url, "/api/ds/query", &auth, body);
    // Request-level errors (pipeline-apis §3.3).
    let r = q("{not json");
    assert_eq!(
        (r.status, r.json()["message"].clone()),
        (400, json!("bad request data"))
    );
    let r = q(r#"{"from":"now-1h","to":"now","queries":[]}"#);
    assert_eq!(
        (r.status, r.json()["messageId"].clone()),
        (400, json!("query.noQueries"))
    );
    let r = q(r#"{"from":"now-1h","to":"now","queries":[{"refId":"A","expr":"up"}]}"#);
    assert_eq!(
        (r.status, r.json()["messageId"].clone()),
        (400, json!("query.invalidDatasourceId"))
    );
    let two = r#"{"from":"now-1h","to":"now","queries":[{"refId":"A","datasource":{"uid":"prom-main"}},{"refId":"A","datasource":{"uid":"prom-main"}}]}"#;
    let r = q(two);
    assert_eq!(
        r.json()["message"],
        "Multiple queries using the same RefId is not allowed "
    );
    let r = q(r#"{"from":"now-1h","to":"now","queries":[{"refId":"A","datasource":{"uid":"nope"}}]}"#);
    assert_eq!(r.status, 404);
    assert_eq!(
        r.json(),
        json!({"error":"data source not found","message":"Data source not found","traceID":""})
    );
    // Without a Prometheus, a query is a per-refId error: 400 with `results`.
    let r = q(r#"{"from":"now-1h","to":"now","queries":[{"refId":"A","datasource":{"uid":"prom-main"},"expr":"up"}]}"#);
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["results"]["A"]["errorSource"], "downstream", "{}", r.body);
    // Authenticated like every other API route.
    assert_eq!(post(&g.url, "/api/ds/query", &[], "{}").status, 401);
    let lib = get(&g.url, "/api/library-elements/lib-up", &auth);
    assert_eq!(lib.status, 200);
    assert_eq!(lib.json()["result"]["model"]["targets"][0]["expr"], "up");
    assert_eq!(get(&g.url, "/api/library-elements/lib-gone", &auth).status, 404);
}

/// The frames of one refId of an `/api/ds/query` answer.
fn frames(r: &Reply, ref_id: &str) -> Vec<Value> {
    r.json()["results"][ref_id]["frames"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Column `i` of a frame's `data.values`.
fn column(frame: &Value, i: usize) -> Vec<Value> {
    frame["data"]["values"][i].as_array().cloned().unwrap_or_default()
}

#[test]
fn grafana_ds_query_runs_loki_targets_on_the_fixture_loki_streams() {
    let l = Loki::start("retention-30d-enforced");
    let g = Grafana::with_loki("healthy", &l);
    let bearer = format!("Bearer {GRAFANA_TOKEN}");
    let auth = [("Authorization", bearer.as_str())];
    let q = |targets: &str| {
        post(
            &g.url,
            "/api/ds/query",
            &auth,
            &format!(r#"{{"from":"now-1h","to":"now","queries":[{targets}]}}"#),
        )
    };
    let app = r#"{"refId":"A","datasource":{"type":"loki","uid":"loki-main"},"expr":"{job=\"medianest-app\"}","queryType":"range","intervalMs":15000}"#;
    let r = q(app);
    assert_eq!(r.status, 200, "{}", r.body);
    // One legacy logs frame for all streams (pkg/tsdb/loki frame.go).
    let fs = frames(&r, "A");
    assert_eq!(fs.len(), 1, "{}", r.body);
    let f = &fs[0];
    let names: Vec<&str> = f["schema"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(names, ["labels", "Time", "Line", "tsNs", "id"]);
    assert_eq!(f["schema"]["fields"][0]["type"], "other");
    assert_eq!(f["schema"]["fields"][1]["type"], "time");
    assert_eq!(f["schema"]["refId"], "A");
    assert_eq!(f["schema"]["meta"]["custom"]["frameType"], "LabeledTimeValues");
    assert_eq!(
        f["schema"]["meta"]["executedQueryString"],
        "Expr: {job=\"medianest-app\"}"
    );
    // Live: the rows are the Loki's own lines, the info stream's five then the error stream's one.
    let lines = column(f, 2);
    assert_eq!(lines.len(), 6, "{f}");
    assert!(
        lines[0].as_str().unwrap().contains("/api/v1/health"),
        "newest first: {lines:?}"
    );
    assert!(lines[5].as_str().unwrap().contains("plex request failed"), "{lines:?}");
    assert_eq!(column(f, 0)[5]["level"], "error");
    let (times, ts_ns, ids) = (column(f, 1), column(f, 3), column(f, 4));
    let ns: i64 = ts_ns[0].as_str().unwrap().parse().unwrap();
    assert_eq!(
        times[0].as_i64(),
        Some(ns / 1_000_000),
        "Time is epoch ms, tsNs the ns string"
    );
    assert!(ids[0].as_str().unwrap().starts_with(&format!("{ns}_")), "{ids:?}");
    // Grafana asked Loki the way its Loki backend does (api.go): ns bounds, backward, a ms step, no limit.
    let sent = l
        .requests()
        .into_iter()
        .rfind(|r| r.path == "/loki/api/v1/query_range")
        .expect("the fixture Grafana queried the fixture Loki");
    let params: BTreeMap<String, String> = url::form_urlencoded::parse(sent.query.as_bytes())
        .into_owned()
        .collect();
    assert_eq!(params["direction"], "backward");
    assert_eq!(params["step"], "15000ms");
    assert_eq!(params["start"].len(), 19, "{params:?}");
    assert!(!params.contains_key("limit"), "{params:?}");

    // maxLines becomes Loki's limit, which counts lines across streams.
    let r = q(&app.replace(r#""intervalMs""#, r#""maxLines":2,"intervalMs""#));
    assert_eq!(column(&frames(&r, "A")[0], 2).len(), 2, "{}", r.body);
    // A selector with no streams: no frames, not an error.
    let r = q(r#"{"refId":"A","datasource":{"uid":"loki-main"},"expr":"{job=\"nobody\"}"}"#);
    assert_eq!(r.status, 200);
    assert!(frames(&r, "A").is_empty(), "{}", r.body);
    // Loki's refusals become the refId's error with Loki's text; the request is 400.
    let r = q(r#"{"refId":"B","datasource":{"uid":"loki-main"},"expr":"sum(count_over_time({job=\"x\"}[5m]))"}"#);
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["results"]["B"]["error"],
        "parse error at line 1, col 1: syntax error: unexpected IDENTIFIER\n"
    );
    let r = q(&app.replace(r#""queryType":"range""#, r#""queryType":"instant""#));
    assert!(
        r.json()["results"]["A"]["error"]
            .as_str()
            .unwrap_or_default()
            .contains("not supported as an instant query"),
        "{}",
        r.body
    );
    // A Prometheus target without a Prometheus, and a Loki one without a Loki, are errors.
    let r = q(r#"{"refId":"A","datasource":{"uid":"prom-main"},"expr":"up"}"#);
    assert!(
        r.json()["results"]["A"]["error"]
            .as_str()
            .unwrap_or_default()
            .contains("without a Prometheus")
    );
    let bare = Grafana::start("healthy");
    let r = post(
        &bare.url,
        "/api/ds/query",
        &auth,
        &format!(r#"{{"from":"now-1h","to":"now","queries":[{app}]}}"#),
    );
    assert!(
        r.json()["results"]["A"]["error"]
            .as_str()
            .unwrap_or_default()
            .contains("without a Loki"),
        "{}",
        r.body
    );
    // A multi-tenant Loki refuses Grafana's tenant-less query (tenant headers are not modelled).
    let mt = Loki::start("multi-tenant");
    let g = Grafana::with_loki("healthy", &mt);
    let r = post(
        &g.url,
        "/api/ds/query",
        &auth,
        &format!(r#"{{"from":"now-1h","to":"now","queries":[{app}]}}"#),
    );
    assert_eq!(r.json()["results"]["A"]["error"], "no org id\n", "{}", r.body);
}

#[test]
fn every_shipped_scenario_loads_and_serves() {
    let dir = |d: &str| {
        let mut names: Vec<String> = std::fs::read_dir(crate::support::fixture(d))
            .expect("fixture dir")
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter_map(|n| n.strip_suffix(".json").map(str::to_string))
            .collect();
        names.sort();
        names
    };
    let grafana = dir("grafana");
    assert_eq!(grafana.len(), 8, "{grafana:?}");
    for name in grafana {
        assert!(!grafana::Scenario::load(&name).description.is_empty());
        let g = Grafana::start(&name);
        let r = get(&g.url, "/api/health", &[]);
        assert!(r.status == 200 || r.status == 503, "{name}: {}", r.status);
    }
    let loki = dir("loki");
    assert_eq!(loki.len(), 10, "{loki:?}");
    for name in loki {
        assert!(!loki::Scenario::load(&name).description.is_empty());
        let l = Loki::start(&name);
        let r = get(&l.url, "/config?mode=defaults", &[]);
        assert_eq!(r.status, 200, "{name}");
        assert!(!r.body.is_empty() && !r.body.starts_with('#'), "{name}");
    }
}
