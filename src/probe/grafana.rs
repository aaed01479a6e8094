//! `grafana`: the database is ok (`/api/health`), every datasource passes
//! its own health check (run concurrently), and enough dashboards exist.
//! Rejected credentials are diagnosed as credentials, a redirect to the
//! login page as an unauthenticated API call, never as "Grafana down".

use futures_util::future::join_all;
use serde_json::{Value, json};

use super::registry::Kind;
use super::{Outcome, ProbeContext};
use crate::status::Status;
use crate::gate::fields::{FieldDef, FieldType as T, SpecCx};
use crate::http::{Auth, JSON_CAP, Response, join_url};

/// The outcome of one authenticated API call.
/// At most this many requests of one Grafana check in flight at once.
pub const IN_FLIGHT: usize = 8;
/// Grafana's largest `/api/search` page (reference §3.6).
const SEARCH_PAGE: usize = 5000;
/// Search pages read at most: 50,000 dashboards.
const MAX_SEARCH_PAGES: usize = 10;

/// Runs `requests`, answers in order, at most [`IN_FLIGHT`] at once. A
/// semaphore over join_all bounds what is in flight, keeps the order, and
/// (unlike a buffered stream) keeps the probe future `Send`.
async fn at_most_in_flight<F: std::future::Future>(requests: impl Iterator<Item = F>) -> Vec<F::Output> {
    let slots = tokio::sync::Semaphore::new(IN_FLIGHT);
    join_all(requests.map(|request| async {
        let _slot = slots.acquire().await.ok();
        request.await
    }))
    .await
}

pub(super) enum Api {
    Ok(Response, Value),
    Failed(Outcome),
}

/// One problem the check found; the outcome lists them all.
struct Failure {
    message: String,
    cause: String,
    remediation: &'static str,
    /// The endpoint that shows it.
    reproduce: String,
    /// Only a request that got no usable answer (a timeout, a refused
    /// connection): not a verdict on Grafana by itself.
    unanswered: bool,
}

/// The Grafana API credentials a check names: a service account token, or
/// basic-auth user and password. Shared by every Grafana kind, with their
/// fields, their loading, and the authenticated API calls.
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    /// Secret holding a service account token (Bearer); used when non-empty.
    pub token: Option<String>,
    /// Secrets holding basic-auth credentials; used when no token is set.
    pub user: Option<String>,
    pub password: Option<String>,
}

impl Credentials {
    pub(super) const TOKEN: FieldDef = FieldDef::new(
        "token",
        T::SecretRef,
        "The name of a secret holding a service account token (used when non-empty).",
        "grafana_token",
    );
    pub(super) const USER: FieldDef = FieldDef::new(
        "user",
        T::SecretRef,
        "The name of the secret holding the basic-auth user (used when `token` is empty).",
        "grafana_user",
    );
    pub(super) const PASSWORD: FieldDef = FieldDef::new(
        "password",
        T::SecretRef,
        "The name of the secret holding the basic-auth password.",
        "grafana_password",
    );

    pub(super) fn load(f: &mut SpecCx<'_, '_>) -> Self {
        let token = f.secret("token");
        let user = f.secret("user");
        let password = f.secret("password");
        if f.is_absent("user") != f.is_absent("password") {
            f.err(f.id_loc(), "`user` and `password` go together", Some("name both secrets, or neither".to_string()));
        }
        Credentials { token, user, password }
    }

    pub(super) fn secrets(&self) -> Vec<&str> {
        [&self.token, &self.user, &self.password]
            .into_iter()
            .filter_map(|s| s.as_deref())
            .collect()
    }

    pub(super) fn auth<'a>(&self, cx: &'a ProbeContext<'_>) -> (Auth<'a>, &'static str) {
        let token = self
            .token
            .as_deref()
            .and_then(|t| cx.secret(t))
            .filter(|t| !t.is_empty());
        if let Some(t) = token {
            return (Auth::Bearer(t), "service account token");
        }
        let user = self
            .user
            .as_deref()
            .and_then(|u| cx.secret(u))
            .filter(|u| !u.is_empty());
        let password = self.password.as_deref().and_then(|p| cx.secret(p)).unwrap_or_default();
        match user {
            Some(u) => (Auth::Basic(u, password), "basic auth"),
            None => (Auth::None, "no credentials"),
        }
    }

    /// Which settings hold the credentials, for remediations: "`GRAFANA_TOKEN`
    /// (or `GRAFANA_USER`/`GRAFANA_PASSWORD`)", from the gate's own names.
    pub(super) fn credential_settings(&self, cx: &ProbeContext<'_>) -> String {
        let token = self.token.as_deref().map(|t| cx.secret_setting(t));
        let basic = match (self.user.as_deref(), self.password.as_deref()) {
            (Some(u), Some(p)) => Some(format!("{} and {}", cx.secret_setting(u), cx.secret_setting(p))),
            _ => None,
        };
        match (token, basic) {
            (Some(t), Some(b)) => format!("{t} (or {b})"),
            (Some(t), None) => t,
            (None, Some(b)) => b,
            (None, None) => "a `token` (or `user`/`password`) secret on the check".to_string(),
        }
    }

    /// Every dashboard, from `/api/search?type=dash-db` read page by page at
    /// Grafana's largest page size, kept as `{uid, title, type}` only, so
    /// 10,000 dashboards cost a few requests and little memory. Stops after
    /// [`MAX_SEARCH_PAGES`] pages.
    pub(super) async fn search_dashboards(&self, cx: &ProbeContext<'_>) -> Api {
        let mut hits = Vec::new();
        let mut first_uid: Option<Value> = None;
        let mut page = 1;
        loop {
            let path = format!("/api/search?type=dash-db&limit={SEARCH_PAGE}&page={page}");
            match self.api(cx, &path).await {
                Api::Ok(resp, Value::Array(batch)) => {
                    // A Grafana that ignores `page` would hand back page 1 forever.
                    let uid = batch.first().and_then(|h| h.get("uid")).cloned();
                    if page > 1 && uid.is_some() && uid == first_uid {
                        return Api::Ok(resp, Value::Array(hits));
                    }
                    if page == 1 {
                        first_uid = uid;
                    }
                    let full = batch.len() >= SEARCH_PAGE;
                    hits.extend(batch.into_iter().map(|h| {
                        json!({"uid": h.get("uid"), "title": h.get("title"), "type": h.get("type")})
                    }));
                    if !full || page == MAX_SEARCH_PAGES {
                        return Api::Ok(resp, Value::Array(hits));
                    }
                    page += 1;
                }
                // Not a list: the caller says what Grafana answered.
                other => return other,
            }
        }
    }

    /// Authenticated GETs of `paths`, answers in order, at most
    /// [`IN_FLIGHT`] at once so hundreds of datasources or dashboards never
    /// open hundreds of connections to one Grafana.
    pub(super) async fn api_all(&self, cx: &ProbeContext<'_>, paths: &[String]) -> Vec<Api> {
        at_most_in_flight(paths.iter().map(|p| self.api(cx, p))).await
    }

    /// As [`Self::api_all`], POSTing each of `bodies` to `path` (`/api/ds/query`).
    pub(super) async fn api_post_all<'b>(
        &self,
        cx: &ProbeContext<'_>,
        path: &str,
        bodies: impl Iterator<Item = &'b Value>,
    ) -> Vec<Api> {
        at_most_in_flight(bodies.map(|b| self.api_post(cx, path, b))).await
    }

    /// An authenticated GET of a JSON API path, with the 401, 403 and
    /// login-redirect diagnosis; other statuses come back with their body.
    pub(super) async fn api(&self, cx: &ProbeContext<'_>, path: &str) -> Api {
        self.request(cx, path, None).await
    }

    /// As [`Self::api`], but a POST of `body` (`/api/ds/query`).
    pub(super) async fn api_post(&self, cx: &ProbeContext<'_>, path: &str, body: &Value) -> Api {
        self.request(cx, path, Some(body)).await
    }

    async fn request(&self, cx: &ProbeContext<'_>, path: &str, body: Option<&Value>) -> Api {
        let url = join_url(cx.base_url(), path);
        let (auth, how) = self.auth(cx);
        let sent = match body {
            Some(b) => cx.http.post_json(&url, auth, b, JSON_CAP, cx.deadline).await,
            None => cx.http.get(&url, auth, &[], JSON_CAP, cx.deadline).await,
        };
        let resp = match sent {
            Ok(r) => r,
            Err(e) => {
                let mut o = cx.transport_failure(&url, &e);
                // The shared diagnosis names a GET; say what was sent.
                if body.is_some()
                    && let Some(rest) = o.message.strip_prefix("GET ")
                {
                    o.message = format!("POST {rest}");
                }
                return Api::Failed(o);
            }
        };
        let target = cx.target_name();
        let redirected_to_login = resp.final_url.contains("/login") && !url.contains("/login");
        if redirected_to_login || (resp.status.is_success() && resp.looks_like_html()) {
            return Api::Failed(
                Outcome::error(format!("{path} redirected to the login page ({}) instead of answering JSON", resp.final_url))
                    .evidence("url", url)
                    .evidence("final_url", resp.final_url.clone())
                    .evidence("auth", how)
                    .cause(format!("auth:{target}"), format!("Grafana (`{target}`) treats the API call as unauthenticated and redirects to its login page ({how})"))
                    .remediation(format!(
                        "create a service account token with the Viewer role and set {}; if an auth proxy fronts Grafana, point {} past it",
                        self.credential_settings(cx),
                        cx.target_setting()
                    )),
            );
        }
        let message = || error_message(&resp);
        match resp.status.as_u16() {
            401 => {
                return Api::Failed(
                    Outcome::fail(format!("Grafana rejected the credentials ({how}): 401 {}", message()))
                        .evidence("url", url)
                        .evidence("status", 401)
                        .evidence("auth", how)
                        .cause(format!("auth:{target}"), format!("Grafana (`{target}`) rejects the gate's credentials ({how}): {}", message()))
                        .remediation(if how == "no credentials" {
                            format!(
                                "set {} to a service account token (Viewer role) or basic-auth credentials",
                                self.credential_settings(cx)
                            )
                        } else {
                            format!(
                                "the token is invalid, expired or revoked, or the password is wrong: issue a new service account token and set {}",
                                self.credential_settings(cx)
                            )
                        }),
                );
            }
            403 => {
                return Api::Failed(
                    Outcome::fail(format!("Grafana denied {path}: 403 {}", message()))
                        .evidence("url", url)
                        .evidence("status", 403)
                        .cause(
                            format!("auth:{target}"),
                            format!("the gate's Grafana identity lacks permissions: {}", message()),
                        )
                        .remediation(
                            "give the service account at least the Viewer role (datasources:read, dashboards:read)",
                        ),
                );
            }
            _ => {}
        }
        match serde_json::from_slice::<Value>(&resp.body) {
            Ok(v) => Api::Ok(resp, v),
            Err(e) => Api::Failed(
                Outcome::error(format!(
                    "{path} answered {} with invalid JSON ({e})",
                    resp.status_line()
                ))
                .evidence("url", url)
                .evidence("body_excerpt", resp.excerpt(200))
                .cause(
                    format!("api:{target}"),
                    format!("`{target}` does not answer like Grafana's API on {path}"),
                )
                .remediation(format!("point {} at Grafana itself", cx.target_setting())),
            ),
        }
    }
}

/// Grafana's error text: any JSON body with a `message` string.
fn error_message(resp: &Response) -> String {
    serde_json::from_slice::<Value>(&resp.body)
        .ok()
        .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_else(|| resp.excerpt(100))
}

#[derive(Debug, Clone)]
pub struct GrafanaSpec {
    pub credentials: Credentials,
    pub min_dashboards: u32,
    /// Dashboard titles that must exist.
    pub dashboards: Vec<String>,
    /// Datasource names to health-check; empty means all.
    pub datasources: Vec<String>,
}

impl Kind for GrafanaSpec {
    const NAME: &'static str = "grafana";
    const FIELDS: &'static [FieldDef] = &[
        Credentials::TOKEN,
        Credentials::USER,
        Credentials::PASSWORD,
        FieldDef::new("min_dashboards", T::Int, "Minimum number of dashboards (default 1).", "1"),
        FieldDef::new("dashboards", T::Names, "Dashboard titles that must exist, as a list or one comma-separated string.", "[MediaNest Overview]"),
        FieldDef::new("datasources", T::StrList, "Datasource names to health-check (default: all).", "[Prometheus, Loki]"),
    ];

    fn load(f: &mut SpecCx<'_, '_>) -> Self {
        GrafanaSpec {
            credentials: Credentials::load(f),
            min_dashboards: f.int("min_dashboards").map(|n| *n.get()).unwrap_or(1),
            dashboards: f.names("dashboards").unwrap_or_default(),
            datasources: f.strings("datasources").unwrap_or_default(),
        }
    }

    async fn probe(&self, cx: &ProbeContext<'_>) -> Outcome {
        self.run(cx).await
    }

    fn secrets(&self) -> Vec<&str> {
        self.credentials.secrets()
    }
}

impl GrafanaSpec {
    async fn run(&self, cx: &ProbeContext<'_>) -> Outcome {
        let target = cx.target_name().to_string();
        let key = format!("check:{}", cx.check.id);
        let health_url = join_url(cx.base_url(), "/api/health");
        let health = cx.http.get(&health_url, Auth::None, &[], JSON_CAP, cx.deadline);
        let (health, datasources, search) = tokio::join!(
            health,
            self.credentials.api(cx, "/api/datasources"),
            self.credentials.search_dashboards(cx)
        );
        let repro = cx.curl(&health_url, None);

        // 1. Is Grafana up, and is its database ok?
        let health = match health {
            Ok(r) => r,
            Err(e) => return cx.transport_failure(&health_url, &e),
        };
        let health_doc: Option<Value> = serde_json::from_slice(&health.body).ok();
        let database = health_doc
            .as_ref()
            .and_then(|d| d.get("database"))
            .and_then(Value::as_str)
            .map(str::to_string);
        let version = health_doc
            .as_ref()
            .and_then(|d| d.get("version"))
            .and_then(Value::as_str)
            .map(str::to_string);
        let mut evidence = vec![
            ("health_status", json!(health.status.as_u16())),
            ("database", json!(database)),
            ("version", json!(version)),
        ];
        let with_evidence = |mut o: Outcome, ev: &[(&str, Value)]| {
            for (k, v) in ev {
                o.evidence.insert(k.to_string(), v.clone());
            }
            o.expected("database", "ok")
                .expected("min_dashboards", self.min_dashboards)
        };
        if database.is_none() {
            return with_evidence(
                Outcome::error(format!(
                    "/api/health answered {} without a `database` field",
                    health.status_line()
                ))
                .evidence("body_excerpt", health.excerpt(200))
                .cause(
                    format!("api:{target}"),
                    format!("`{target}` ({}) does not answer like Grafana", cx.base_url()),
                )
                .remediation(format!(
                    "point {} at Grafana itself (Grafana's /api/health is public)",
                    cx.target_setting()
                ))
                .reproduce(repro),
                &evidence,
            );
        }
        if database.as_deref() != Some("ok") {
            return with_evidence(
                Outcome::fail(format!("Grafana's database is {} (/api/health answered {})", database.unwrap_or_default(), health.status_line()))
                    .cause(key, "Grafana cannot query its database (/api/health reports \"failing\")".to_string())
                    .remediation("check Grafana's database: for SQLite, that /var/lib/grafana is writable by UID 472; for MySQL/Postgres, that it is reachable")
                    .reproduce(repro),
                &evidence,
            );
        }

        // 2. Datasources, each health-checked concurrently.
        let (_, list) = match datasources {
            Api::Ok(r, v) => (r, v),
            Api::Failed(o) => return with_evidence(o, &evidence),
        };
        let Some(list) = list.as_array() else {
            return with_evidence(
                Outcome::error("/api/datasources did not answer a JSON array").cause(
                    format!("api:{target}"),
                    "unexpected /api/datasources answer".to_string(),
                ),
                &evidence,
            );
        };
        let selected: Vec<(String, String, String)> = list
            .iter()
            .filter_map(|d| {
                let name = d.get("name")?.as_str()?.to_string();
                let uid = d.get("uid")?.as_str()?.to_string();
                let ty = d.get("type").and_then(Value::as_str).unwrap_or_default().to_string();
                Some((name, uid, ty))
            })
            .filter(|(name, _, _)| self.datasources.is_empty() || self.datasources.contains(name))
            .collect();
        let absent: Vec<&String> = self
            .datasources
            .iter()
            .filter(|n| !selected.iter().any(|(name, _, _)| name == *n))
            .collect();
        let paths: Vec<String> = selected
            .iter()
            .map(|(_, uid, _)| format!("/api/datasources/uid/{}/health", encode(uid)))
            .collect();
        let results = self.credentials.api_all(cx, &paths).await;
        let mut ds_evidence = serde_json::Map::new();
        let mut ds_errors = Vec::new();
        let mut ds_judged = false;
        for ((name, _, ty), result) in selected.iter().zip(results) {
            let (status, message) = match result {
                Api::Ok(_, v) => {
                    let status = v.get("status").and_then(Value::as_str).unwrap_or("UNKNOWN").to_string();
                    ds_judged |= status != "OK";
                    (status, v.get("message").and_then(Value::as_str).unwrap_or_default().to_string())
                }
                Api::Failed(o) if o.cause.as_ref().is_some_and(|c| c.key.starts_with("auth:")) => {
                    return with_evidence(o, &evidence);
                }
                Api::Failed(o) => {
                    ds_judged |= o.status != Status::Error;
                    ("ERROR".to_string(), o.message)
                }
            };
            ds_evidence.insert(name.clone(), json!({"type": ty, "status": status, "message": message}));
            if status != "OK" {
                ds_errors.push(format!("{name} ({ty}): {status}: {message}"));
            }
        }
        evidence.push(("datasources", Value::Object(ds_evidence)));
        // Every problem found is reported, not just the first: a broken
        // datasource does not hide missing dashboards.
        let mut failures: Vec<Failure> = Vec::new();
        let ds_list_curl = || cx.curl(&join_url(cx.base_url(), "/api/datasources"), None);
        if !absent.is_empty() {
            let msg = format!(
                "datasources not configured: {}",
                absent.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
            );
            failures.push(Failure {
                cause: msg.clone(),
                message: msg,
                remediation: "provision the datasource (grafana/provisioning/datasources/*.yaml) and restart Grafana",
                reproduce: ds_list_curl(),
                unanswered: false,
            });
        }
        if selected.is_empty() && absent.is_empty() {
            failures.push(Failure {
                message: "Grafana has no datasources".to_string(),
                cause: "Grafana has no datasources configured".to_string(),
                remediation: "provision the Prometheus and Loki datasources",
                reproduce: ds_list_curl(),
                unanswered: false,
            });
        }
        if let Some(first) = ds_errors.first() {
            let failing = selected
                .iter()
                .zip(&paths)
                .find(|((name, _, _), _)| first.starts_with(name.as_str()))
                .map(|(_, p)| p.as_str())
                .unwrap_or("/api/datasources");
            failures.push(Failure {
                message: format!("datasource health check failed: {}", ds_errors.join("; ")),
                cause: format!("Grafana datasource unhealthy: {first}"),
                remediation: "fix the datasource URL to the service name on Grafana's Docker network (e.g. http://prometheus:9090), and its credentials; Grafana's Connections → Data sources → Test shows the same message",
                reproduce: cx.curl(&join_url(cx.base_url(), failing), None),
                unanswered: !ds_judged,
            });
        }

        // 3. Dashboards.
        let hits = match search {
            Api::Ok(_, v) => v,
            Api::Failed(o) if failures.is_empty() => return with_evidence(o, &evidence),
            Api::Failed(o) => {
                failures.push(Failure {
                    message: o.message.clone(),
                    cause: o.cause.map(|c| c.summary).unwrap_or_else(|| o.message.clone()),
                    remediation: "make /api/search answer (see the datasource problems above)",
                    reproduce: o.reproduce.unwrap_or_default(),
                    unanswered: o.status == Status::Error,
                });
                Value::Null
            }
        };
        let titles: Vec<String> = hits
            .as_array()
            .map(|a| {
                a.iter()
                    .filter(|h| h.get("type").and_then(Value::as_str).is_none_or(|t| t == "dash-db"))
                    .filter_map(|h| h.get("title").and_then(Value::as_str).map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        evidence.push(("dashboards", json!(titles.len())));
        evidence.push(("dashboard_titles", json!(titles.iter().take(20).collect::<Vec<_>>())));
        let missing: Vec<&String> = self.dashboards.iter().filter(|t| !titles.contains(t)).collect();
        if hits.is_array() && ((titles.len() as u32) < self.min_dashboards || !missing.is_empty()) {
            let msg = if missing.is_empty() {
                format!("{} dashboard(s), need at least {}", titles.len(), self.min_dashboards)
            } else {
                format!(
                    "missing dashboards: {}",
                    missing.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
                )
            };
            failures.push(Failure {
                cause: format!("Grafana: {msg}"),
                message: msg,
                remediation: "provision the MediaNest dashboards (grafana/provisioning/dashboards) or import them, then re-run",
                reproduce: cx.curl(&join_url(cx.base_url(), "/api/search?type=dash-db"), None),
                unanswered: false,
            });
        }
        if let Some(first) = failures.first() {
            let message = failures.iter().map(|f| f.message.as_str()).collect::<Vec<_>>().join("; ");
            let remediation = failures.iter().map(|f| f.remediation).collect::<Vec<_>>().join("; then ");
            // Fail closed both ways: a known problem fails the check, but
            // requests that only went unanswered (a timeout) are `error`,
            // as in every kind.
            let status = if failures.iter().all(|f| f.unanswered) {
                Status::Error
            } else {
                Status::Fail
            };
            let o = Outcome::new(status, message)
                .cause(key, first.cause.clone())
                .remediation(remediation)
                .reproduce(first.reproduce.clone());
            return with_evidence(o, &evidence);
        }
        with_evidence(
            Outcome::pass(format!(
                "database ok, {} datasource(s) healthy, {} dashboard(s){}",
                selected.len(),
                titles.len(),
                version.map(|v| format!(" (Grafana {v})")).unwrap_or_default()
            ))
            .reproduce(repro),
            &evidence,
        )
    }
}

/// Percent-encodes a UID for a path segment.
pub(super) fn encode(uid: &str) -> String {
    uid.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uids_are_encoded_for_paths() {
        assert_eq!(encode("prom-main_1"), "prom-main_1");
        assert_eq!(encode("a/b c"), "a%2Fb%20c");
    }
}

#[cfg(test)]
mod load_tests {
    //! The kind's loader messages, each with its location.
    use crate::gate::testing::*;

    #[test]
    fn grafana_fields_are_validated_where_written() {
        rejects_at(&one_check("grafana", &["user: u"]), CHECK_LINE, ID_COLUMN, "`user` and `password` go together", None);
        field_rejected("grafana", "min_dashboards: some", "`min_dashboards` must be a whole number", None);
        field_rejected("grafana", "token: grafana_token", "names unknown secret `grafana_token`", None);
    }
}
