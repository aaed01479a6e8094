//! `grafana_dashboards`: the selected dashboards display live data. Every
//! panel's queries (rows walked, collapsed or not) go through Grafana's own
//! `/api/ds/query` with the panel's data source and the dashboard's
//! variables substituted, as the browser would send them; a panel passes
//! when its queries answer without error and with at least one value.
//!
//! Grafana answers `/api/dashboards/uid/:uid` with the stored, unmigrated
//! JSON (pipeline-apis §3.1), so legacy data source forms are resolved here
//! (§3.2), and the backend expands only its `$__` macros (§3.4): dashboard
//! variables are the caller's job. A query answer is read from the body
//! whatever the status (200, 400 or 207 carry per-refId results, §3.3).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::grafana::{Api, Credentials, encode};
use super::registry::Kind;
use super::{Outcome, ProbeContext};
use crate::gate::fields::{FieldDef, FieldType as T, SpecCx};
use crate::http::join_url;

/// Dashboards checked per run: beyond this the check errors and asks for a
/// narrower `dashboards` list, rather than judging a sample.
pub const MAX_DASHBOARDS: usize = 50;
/// Query-bearing panels per run, over all selected dashboards.
pub const MAX_PANELS: usize = 500;
/// Rows cannot nest in Grafana; a deeper structure is malformed input, and
/// the bound keeps a hostile document from recursing without end.
const MAX_DEPTH: usize = 4;
/// Points asked per query, as a wide panel would (§3.3 default is 100).
const MAX_DATA_POINTS: u64 = 1000;

#[derive(Debug, Clone)]
pub struct DashboardsSpec {
    /// Secrets, used exactly like the `grafana` kind's.
    pub credentials: Credentials,
    /// Titles or uids; empty means every dashboard.
    pub dashboards: Vec<String>,
    /// The time range as written (`1h`) and its length.
    pub range: String,
    pub range_secs: u64,
    pub max_empty_panels: u32,
}

impl Kind for DashboardsSpec {
    const NAME: &'static str = "grafana_dashboards";
    const FIELDS: &'static [FieldDef] = &[
        Credentials::TOKEN,
        Credentials::USER,
        Credentials::PASSWORD,
        FieldDef::new("dashboards", T::Names, "Dashboard titles or uids to check, as a list or one comma-separated string (default: all).", "[MediaNest Overview]"),
        FieldDef::new("range", T::PromDuration, "Time range the panels are queried over (default `1h`).", "1h"),
        FieldDef::new("max_empty_panels", T::Int, "Panels allowed to return no data (default 0).", "0"),
    ];

    fn load(f: &mut SpecCx<'_, '_>) -> Self {
        let credentials = Credentials::load(f);
        let dashboards = f.names("dashboards").unwrap_or_default();
        if dashboards.len() > MAX_DASHBOARDS {
            f.err(f.id_loc(), format!("`dashboards` names {} dashboards; at most {MAX_DASHBOARDS} are checked per run", dashboards.len()), Some("split them over several checks".to_string()));
        }
        let (range, d) = f.prom_duration("range", "1h");
        DashboardsSpec {
            credentials,
            dashboards,
            range,
            range_secs: d.as_secs().max(1),
            max_empty_panels: f.int("max_empty_panels").map(|n| *n.get()).unwrap_or(0),
        }
    }

    async fn probe(&self, cx: &ProbeContext<'_>) -> Outcome {
        self.run(cx).await
    }

    fn secrets(&self) -> Vec<&str> {
        self.credentials.secrets()
    }
}

/// A data source as `/api/datasources` lists it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Datasource {
    pub uid: String,
    pub name: String,
    pub kind: String,
    pub is_default: bool,
}

/// One query-bearing panel found in a dashboard.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Panel {
    pub title: String,
    /// The panel's own `datasource` value, unresolved.
    pub datasource: Value,
    /// Visible targets, as stored.
    pub targets: Vec<Value>,
    /// A library panel's uid: the dashboard stores it without `targets`
    /// (§3.1), so its model comes from `/api/library-elements/:uid`.
    pub library: Option<String>,
}

/// A panel that cannot be queried as stored.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Malformed {
    pub title: String,
    pub reason: String,
}

/// Walks `panels`, descending into rows (collapsed rows nest their
/// children; expanded ones leave them as siblings, §3.1), keeping panels
/// with at least one visible target. Text and other query-less panels are
/// skipped; panels whose structure is not what Grafana stores are reported.
pub(crate) fn walk_panels(panels: &Value, depth: usize, out: &mut Vec<Panel>, bad: &mut Vec<Malformed>) {
    let Some(list) = panels.as_array() else {
        if !panels.is_null() {
            bad.push(Malformed {
                title: "(panels)".to_string(),
                reason: format!("`panels` is {}, not a list", json_type(panels)),
            });
        }
        return;
    };
    for p in list {
        let title = panel_title(p);
        let Some(obj) = p.as_object() else {
            bad.push(Malformed {
                title,
                reason: format!("malformed panel: {}, not an object", json_type(p)),
            });
            continue;
        };
        let ty = obj.get("type");
        if let Some(t) = ty.filter(|t| !t.is_string() && !t.is_null()) {
            bad.push(Malformed {
                title,
                reason: format!("malformed panel: `type` is {}, not a string", json_type(t)),
            });
            continue;
        }
        if let Some(children) = obj.get("panels") {
            if depth >= MAX_DEPTH {
                bad.push(Malformed {
                    title,
                    reason: format!("malformed panel: rows nested deeper than {MAX_DEPTH}"),
                });
                continue;
            }
            walk_panels(children, depth + 1, out, bad);
        }
        let has_targets = obj.get("targets").and_then(Value::as_array).is_some_and(|t| !t.is_empty());
        if let Some(lib) = obj.get("libraryPanel").filter(|_| !has_targets) {
            match lib.get("uid").and_then(Value::as_str).filter(|u| !u.is_empty()) {
                Some(uid) => out.push(Panel {
                    title: match (obj.get("title"), lib.get("name").and_then(Value::as_str)) {
                        (None, Some(name)) => name.to_string(),
                        _ => title,
                    },
                    datasource: Value::Null,
                    targets: Vec::new(),
                    library: Some(uid.to_string()),
                }),
                None => bad.push(Malformed {
                    title,
                    reason: "malformed panel: `libraryPanel` has no uid".to_string(),
                }),
            }
            continue;
        }
        let targets = match obj.get("targets") {
            None | Some(Value::Null) => continue,
            Some(Value::Array(t)) => t,
            Some(other) => {
                bad.push(Malformed {
                    title,
                    reason: format!("malformed panel: `targets` is {}, not a list", json_type(other)),
                });
                continue;
            }
        };
        let visible: Vec<Value> = targets
            .iter()
            .filter(|t| t.get("hide").and_then(Value::as_bool) != Some(true))
            .cloned()
            .collect();
        if visible.is_empty() {
            continue;
        }
        if let Some(t) = visible.iter().find(|t| !t.is_object()) {
            bad.push(Malformed {
                title,
                reason: format!("malformed panel: a target is {}, not an object", json_type(t)),
            });
            continue;
        }
        out.push(Panel {
            title,
            datasource: obj.get("datasource").cloned().unwrap_or(Value::Null),
            targets: visible,
            library: None,
        });
    }
}

fn panel_title(p: &Value) -> String {
    match p.get("title").and_then(Value::as_str).filter(|t| !t.trim().is_empty()) {
        Some(t) => t.to_string(),
        None => match p.get("id").and_then(Value::as_i64) {
            Some(id) => format!("panel {id}"),
            None => "(untitled panel)".to_string(),
        },
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// A dashboard variable's current value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum VarValue {
    One(String),
    Many(Vec<String>),
    /// Declared, but without a usable `current.value`.
    Missing,
}

/// The variables of `templating.list`, by name, with `$__all` expanded to
/// `allValue` or a regex of the options, as the frontend does (§3.4).
pub(crate) fn variables(dashboard: &Value) -> BTreeMap<String, VarValue> {
    let mut out = BTreeMap::new();
    let list = dashboard
        .pointer("/templating/list")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for v in &list {
        let Some(name) = v.get("name").and_then(Value::as_str) else {
            continue;
        };
        let current = v.pointer("/current/value");
        let all = || {
            if let Some(a) = v.get("allValue").and_then(Value::as_str).filter(|a| !a.is_empty()) {
                return VarValue::One(a.to_string());
            }
            let opts: Vec<String> = v
                .get("options")
                .and_then(Value::as_array)
                .map(|o| {
                    o.iter()
                        .filter_map(|o| o.get("value").and_then(Value::as_str))
                        .filter(|s| *s != "$__all")
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default();
            if opts.is_empty() {
                VarValue::Missing
            } else {
                VarValue::Many(opts)
            }
        };
        let value = match current {
            Some(Value::String(s)) if s == "$__all" => all(),
            Some(Value::String(s)) => VarValue::One(s.clone()),
            Some(Value::Array(a)) => {
                let items: Vec<String> = a.iter().filter_map(Value::as_str).map(str::to_string).collect();
                if items.iter().any(|s| s == "$__all") {
                    all()
                } else if items.is_empty() {
                    VarValue::Missing
                } else if items.len() == 1 {
                    VarValue::One(items[0].clone())
                } else {
                    VarValue::Many(items)
                }
            }
            _ => VarValue::Missing,
        };
        out.insert(name.to_string(), value);
    }
    out
}

/// Substitutes dashboard variables in `$v`, `${v}`, `${v:fmt}` and `[[v]]`
/// form; several values become `(a|b)`, as Grafana writes them for
/// Prometheus. Grafana's own `$__` macros and names that are not variables
/// are left for the backend. `Err` names a used variable without a value.
pub(crate) fn substitute(text: &str, vars: &BTreeMap<String, VarValue>) -> Result<String, String> {
    let ident = |s: &str| -> usize { s.bytes().take_while(|b| b.is_ascii_alphanumeric() || *b == b'_').count() };
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(['$', '[']) {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        // (name, length of the whole reference)
        let found: Option<(&str, usize)> = if let Some(t) = tail.strip_prefix("${") {
            let n = ident(t);
            let after = &t[n..];
            let close = if after.starts_with('}') {
                Some(0)
            } else if after.starts_with(':') {
                after.find('}')
            } else {
                None
            };
            close.filter(|_| n > 0).map(|c| (&t[..n], 2 + n + c + 1))
        } else if let Some(t) = tail.strip_prefix("[[") {
            let n = ident(t);
            (n > 0 && t[n..].starts_with("]]")).then(|| (&t[..n], 2 + n + 2))
        } else if let Some(t) = tail.strip_prefix('$') {
            let n = ident(t);
            (n > 0).then(|| (&t[..n], 1 + n))
        } else {
            None
        };
        match found {
            Some((name, len)) if !name.starts_with("__") && vars.contains_key(name) => {
                match &vars[name] {
                    VarValue::One(v) => out.push_str(v),
                    VarValue::Many(vs) => {
                        out.push('(');
                        out.push_str(&vs.join("|"));
                        out.push(')');
                    }
                    VarValue::Missing => return Err(format!("variable `{name}` has no current value")),
                }
                rest = &tail[len..];
            }
            Some((_, len)) => {
                out.push_str(&tail[..len]);
                rest = &tail[len..];
            }
            None => {
                out.push_str(&tail[..1]);
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// What a panel's or target's `datasource` value points at.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Resolved {
    Source(Datasource),
    /// Each target names its own (`-- Mixed --`).
    Mixed,
    /// Built-in Grafana, dashboard or expression sources: nothing to query.
    NotQueried,
    Missing(String),
}

/// Resolves a stored `datasource` value (pipeline-apis §3.2) against the
/// org's data sources, substituting variables in it first.
pub(crate) fn resolve(value: &Value, sources: &[Datasource], vars: &BTreeMap<String, VarValue>) -> Resolved {
    let default = || match sources.iter().find(|d| d.is_default) {
        Some(d) => Resolved::Source(d.clone()),
        None => Resolved::Missing("no default datasource is configured".to_string()),
    };
    let by_ref = |r: &str| -> Resolved {
        let r = match substitute(r, vars) {
            Ok(r) => r,
            Err(e) => return Resolved::Missing(e),
        };
        match r.as_str() {
            "" | "default" => return default(),
            "-- Mixed --" => return Resolved::Mixed,
            "-- Grafana --" | "grafana" | "-- Dashboard --" | "__expr__" => return Resolved::NotQueried,
            _ => {}
        }
        match sources.iter().find(|d| d.uid == r).or_else(|| sources.iter().find(|d| d.name == r)) {
            Some(d) => Resolved::Source(d.clone()),
            None if r.contains('$') => Resolved::Missing(format!(
                "datasource `{r}` missing (an unresolved placeholder or variable)"
            )),
            None => Resolved::Missing(format!("datasource `{r}` missing")),
        }
    };
    match value {
        Value::Null => default(),
        Value::String(s) => by_ref(s),
        Value::Object(o) => {
            let ty = o.get("type").and_then(Value::as_str).unwrap_or_default();
            if matches!(ty, "datasource" | "__expr__" | "grafana") && o.get("uid").and_then(Value::as_str) != Some("-- Mixed --") {
                return Resolved::NotQueried;
            }
            match o.get("uid").and_then(Value::as_str) {
                Some(uid) => by_ref(uid),
                None if !ty.is_empty() => {
                    let of_type: Vec<&Datasource> = sources.iter().filter(|d| d.kind == ty).collect();
                    match of_type.iter().find(|d| d.is_default).or(of_type.first()) {
                        Some(d) => Resolved::Source((*d).clone()),
                        None => Resolved::Missing(format!("no datasource of type `{ty}`")),
                    }
                }
                None => default(),
            }
        }
        other => Resolved::Missing(format!("datasource is {}, not a reference", json_type(other))),
    }
}

/// How one panel fared.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum PanelResult {
    Data,
    Empty,
    Failing(String),
}

/// Reads an `/api/ds/query` answer for the `ref_ids` it was asked: any
/// refId error fails the panel (with Grafana's text); otherwise the panel
/// has data when some frame holds a non-null number.
pub(crate) fn judge_answer(status: u16, body: &Value, ref_ids: &[String]) -> PanelResult {
    let Some(results) = body.get("results").and_then(Value::as_object) else {
        let message = body
            .get("message")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| format!("unexpected answer ({status})"));
        return PanelResult::Failing(if status == 404 {
            format!("datasource missing: {message}")
        } else {
            format!("query error: {message}")
        });
    };
    let mut errors = Vec::new();
    let mut data = false;
    for r in ref_ids {
        let Some(res) = results.get(r) else {
            errors.push(format!("{r}: no result"));
            continue;
        };
        // Loki's plain-text errors reach the refId with their trailing newline.
        if let Some(e) = res.get("error").and_then(Value::as_str).map(str::trim).filter(|e| !e.is_empty()) {
            errors.push(format!("{r}: {e}"));
            continue;
        }
        let frames = res.get("frames").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
        data |= frames.iter().any(frame_has_value);
    }
    if !errors.is_empty() {
        return PanelResult::Failing(format!("query error: {}", errors.join("; ")));
    }
    if data { PanelResult::Data } else { PanelResult::Empty }
}

/// True when a frame's first number field holds a value that is not null.
/// A logs frame (Loki's `labels`, `Time`, `Line`, … or the dataplane
/// `body`) has no number field: there a line, i.e. a non-null value in
/// its first string field, is the data a logs panel shows.
fn frame_has_value(frame: &Value) -> bool {
    let fields = frame.pointer("/schema/fields").and_then(Value::as_array);
    let values = frame.pointer("/data/values").and_then(Value::as_array);
    let (Some(fields), Some(values)) = (fields, values) else {
        return false;
    };
    // Field names differ by version (§3.3): match the type, not the name.
    let of_type = |ty: &str| fields.iter().position(|f| f.get("type").and_then(Value::as_str) == Some(ty));
    let Some(i) = of_type("number").or_else(|| of_type("string")) else {
        return false;
    };
    values
        .get(i)
        .and_then(Value::as_array)
        .is_some_and(|col| col.iter().any(|v| !v.is_null()))
}

/// One query request for one panel: its targets on one data source.
struct Job {
    /// Which panel (in walk order over all dashboards): titles may repeat.
    panel_no: usize,
    dashboard: String,
    panel: String,
    body: Value,
    ref_ids: Vec<String>,
}

/// One listed problem: `dashboard / panel: reason`.
struct Finding {
    /// The panel's first query request, for the reproduce command.
    query: Option<usize>,
    dashboard: String,
    panel: String,
    result: PanelResult,
}

impl DashboardsSpec {
    async fn run(&self, cx: &ProbeContext<'_>) -> Outcome {
        let g = &self.credentials;
        let key = format!("check:{}", cx.check.id);
        let target = cx.target_name().to_string();
        let api_error = |what: &str| {
            Outcome::error(format!("{what} is not what Grafana answers"))
                .cause(format!("api:{target}"), format!("`{target}` does not answer like Grafana's API ({what})"))
                .remediation(format!("point {} at Grafana itself", cx.target_setting()))
        };
        let (sources, search) = tokio::join!(
            g.api(cx, "/api/datasources"),
            g.search_dashboards(cx)
        );
        let sources = match sources {
            Api::Ok(_, v) => v,
            Api::Failed(o) => return o,
        };
        let Some(sources) = sources.as_array() else {
            return api_error("/api/datasources (not a list)");
        };
        let sources: Vec<Datasource> = sources
            .iter()
            .filter_map(|d| {
                Some(Datasource {
                    uid: d.get("uid")?.as_str()?.to_string(),
                    name: d.get("name")?.as_str()?.to_string(),
                    kind: d.get("type").and_then(Value::as_str).unwrap_or_default().to_string(),
                    is_default: d.get("isDefault").and_then(Value::as_bool).unwrap_or(false),
                })
            })
            .collect();
        let hits = match search {
            Api::Ok(_, v) => v,
            Api::Failed(o) => return o,
        };
        let Some(hits) = hits.as_array() else {
            return api_error("/api/search (not a list)");
        };
        let all: Vec<(String, String)> = hits
            .iter()
            .filter(|h| h.get("type").and_then(Value::as_str).is_none_or(|t| t == "dash-db"))
            .filter_map(|h| Some((h.get("uid")?.as_str()?.to_string(), h.get("title")?.as_str()?.to_string())))
            .collect();
        let mut findings: Vec<Finding> = Vec::new();
        let selected: Vec<(String, String)> = if self.dashboards.is_empty() {
            all.clone()
        } else {
            let mut out = Vec::new();
            for want in &self.dashboards {
                match all.iter().find(|(uid, title)| uid == want || title == want) {
                    Some(d) if !out.contains(d) => out.push(d.clone()),
                    Some(_) => {}
                    None => findings.push(Finding {
                        query: None,
                        dashboard: want.clone(),
                        panel: "(dashboard)".to_string(),
                        result: PanelResult::Failing("dashboard not found".to_string()),
                    }),
                }
            }
            out
        };
        if selected.len() > MAX_DASHBOARDS {
            return Outcome::error(format!(
                "Grafana has {} dashboards; at most {MAX_DASHBOARDS} are checked per run",
                selected.len()
            ))
            .evidence("dashboards", selected.len())
            .cause(key, format!("too many dashboards for one `{}` check", Self::NAME))
            .remediation("name the dashboards to check in `dashboards`, split over several checks");
        }
        if selected.is_empty() && findings.is_empty() {
            return Outcome::fail("Grafana has no dashboards")
                .evidence("dashboards", 0)
                .cause(key, "Grafana has no dashboards to check".to_string())
                .remediation("provision the MediaNest dashboards (grafana/provisioning/dashboards)");
        }

        // Dashboards, fetched with bounded concurrency.
        let paths: Vec<String> = selected.iter().map(|(uid, _)| format!("/api/dashboards/uid/{}", encode(uid))).collect();
        let fetched: Vec<Api> = g.api_all(cx, &paths).await;
        let mut panels_total = 0usize;
        let mut parsed: Vec<(&String, BTreeMap<String, VarValue>, Vec<Panel>)> = Vec::new();
        for ((_, title), answer) in selected.iter().zip(fetched) {
            let doc = match answer {
                Api::Ok(r, v) if r.status.is_success() => v,
                Api::Ok(r, v) => {
                    let m = v.get("message").and_then(Value::as_str).map(str::to_string).unwrap_or_else(|| r.excerpt(100));
                    findings.push(Finding {
                        query: None,
                        dashboard: title.clone(),
                        panel: "(dashboard)".to_string(),
                        result: PanelResult::Failing(format!("{} {m}", r.status.as_u16())),
                    });
                    continue;
                }
                Api::Failed(o) => return o,
            };
            let Some(dash) = doc.get("dashboard").filter(|d| d.is_object()) else {
                findings.push(Finding {
                    query: None,
                    dashboard: title.clone(),
                    panel: "(dashboard)".to_string(),
                    result: PanelResult::Failing("the answer has no `dashboard` object".to_string()),
                });
                continue;
            };
            let vars = variables(dash);
            let mut panels = Vec::new();
            let mut bad = Vec::new();
            walk_panels(dash.get("panels").unwrap_or(&Value::Null), 0, &mut panels, &mut bad);
            panels_total += panels.len() + bad.len();
            if panels_total > MAX_PANELS {
                return Outcome::error(format!("more than {MAX_PANELS} query panels in the selected dashboards"))
                    .cause(key, format!("too many panels for one `{}` check", Self::NAME))
                    .remediation("name fewer dashboards in `dashboards`, split over several checks");
            }
            for m in bad {
                findings.push(Finding {
                    query: None,
                    dashboard: title.clone(),
                    panel: m.title,
                    result: PanelResult::Failing(m.reason),
                });
            }
            parsed.push((title, vars, panels));
        }

        // Library panels, each model fetched once.
        let mut library_uids: Vec<String> = parsed
            .iter()
            .flat_map(|(_, _, ps)| ps.iter().filter_map(|p| p.library.clone()))
            .collect();
        library_uids.sort_unstable();
        library_uids.dedup();
        let library_paths: Vec<String> =
            library_uids.iter().map(|u| format!("/api/library-elements/{}", encode(u))).collect();
        let library_answers: Vec<Api> = g.api_all(cx, &library_paths).await;
        let mut library: BTreeMap<String, Result<Option<Panel>, String>> = BTreeMap::new();
        for (uid, answer) in library_uids.iter().zip(library_answers) {
            let model = match answer {
                Api::Ok(r, v) if r.status.is_success() => match v.pointer("/result/model") {
                    Some(m) => library_model(m),
                    None => Err(format!("library panel `{uid}`: the answer has no `result.model`")),
                },
                Api::Ok(r, v) => Err(format!(
                    "library panel `{uid}` could not be loaded: {} {}",
                    r.status.as_u16(),
                    v.get("message").and_then(Value::as_str).map(str::to_string).unwrap_or_else(|| r.excerpt(100))
                )),
                Api::Failed(o) => return o,
            };
            library.insert(uid.clone(), model);
        }

        let mut jobs: Vec<Job> = Vec::new();
        let mut panel_no = 0usize;
        let from = format!("now-{}", self.range);
        let interval_ms = (self.range_secs * 1000 / MAX_DATA_POINTS).max(1000);
        for (title, vars, panels) in parsed {
            for p in panels {
                let p = match p.library.as_deref().map(|u| library.get(u)) {
                    None => p,
                    Some(Some(Ok(Some(model)))) => Panel {
                        title: p.title.clone(),
                        ..model.clone()
                    },
                    // A query-less library panel (text): nothing to check.
                    Some(Some(Ok(None))) => continue,
                    Some(Some(Err(reason))) => {
                        findings.push(Finding {
                            query: None,
                            dashboard: title.clone(),
                            panel: p.title.clone(),
                            result: PanelResult::Failing(reason.clone()),
                        });
                        continue;
                    }
                    Some(None) => continue,
                };
                match panel_jobs(title, &p, &sources, &vars, &from, interval_ms) {
                    // Only built-in sources (Grafana, expressions): nothing to query.
                    Ok(js) if js.is_empty() => {}
                    Ok(js) => {
                        let n = panel_no;
                        panel_no += 1;
                        jobs.extend(js.into_iter().map(|j| Job { panel_no: n, ..j }));
                    }
                    Err(reason) => findings.push(Finding {
                        query: None,
                        dashboard: title.clone(),
                        panel: p.title.clone(),
                        result: PanelResult::Failing(reason),
                    }),
                }
            }
        }

        // Panel queries, at most IN_FLIGHT at once like every other request of the check.
        let answers: Vec<Api> = g.api_post_all(cx, "/api/ds/query", jobs.iter().map(|j| &j.body)).await;
        let mut results = Vec::with_capacity(answers.len());
        for (j, a) in jobs.iter().zip(answers) {
            match a {
                Api::Ok(r, v) => results.push(judge_answer(r.status.as_u16(), &v, &j.ref_ids)),
                // Rejected credentials, a login redirect or an unreachable
                // Grafana are the check's root cause, not a panel's.
                Api::Failed(o) => return o,
            }
        }
        // A panel on several data sources is several jobs: merge per panel.
        let mut per_panel: Vec<(usize, Finding)> = Vec::new();
        for (i, (j, r)) in jobs.iter().zip(results).enumerate() {
            match per_panel.iter_mut().find(|(n, _)| *n == j.panel_no).map(|(_, f)| f) {
                Some(f) => {
                    f.result = match (&f.result, r) {
                        (PanelResult::Failing(a), PanelResult::Failing(b)) => PanelResult::Failing(format!("{a}; {b}")),
                        (PanelResult::Failing(a), _) => PanelResult::Failing(a.clone()),
                        (_, PanelResult::Failing(b)) => PanelResult::Failing(b),
                        (PanelResult::Data, _) | (_, PanelResult::Data) => PanelResult::Data,
                        _ => PanelResult::Empty,
                    }
                }
                None => per_panel.push((
                    j.panel_no,
                    Finding {
                        query: Some(i),
                        dashboard: j.dashboard.clone(),
                        panel: j.panel.clone(),
                        result: r,
                    },
                )),
            }
        }
        findings.extend(per_panel.into_iter().map(|(_, f)| f));
        // Listed in the dashboards' order (a stable sort keeps panel order);
        // selectors that matched nothing come last.
        let position = |d: &str| selected.iter().position(|(_, t)| t == d).unwrap_or(usize::MAX);
        findings.sort_by_key(|f| position(&f.dashboard));
        let count = |pred: fn(&PanelResult) -> bool| findings.iter().filter(|f| pred(&f.result)).count();
        let with_data = count(|r| *r == PanelResult::Data);
        let empty = count(|r| *r == PanelResult::Empty);
        let failing = count(|r| matches!(r, PanelResult::Failing(_)));
        let listed: Vec<String> = findings
            .iter()
            .filter_map(|f| match &f.result {
                PanelResult::Data => None,
                PanelResult::Empty => Some(format!("{} / {}: no data", f.dashboard, f.panel)),
                PanelResult::Failing(why) => Some(format!("{} / {}: {why}", f.dashboard, f.panel)),
            })
            .collect();
        let evidence = |o: Outcome| {
            o.evidence("dashboards", selected.len())
                .evidence("panels_total", with_data + empty + failing)
                .evidence("panels_with_data", with_data)
                .evidence("panels_empty", empty)
                .evidence("panels_failing", failing)
                .evidence("range", self.range.clone())
                .evidence("problems", json!(listed.iter().take(50).collect::<Vec<_>>()))
                .expected("max_empty_panels", self.max_empty_panels)
        };
        // The first listed panel's own query, when it got as far as one:
        // what Grafana answers there is the evidence a person wants to see.
        let first_query = findings
            .iter()
            .filter(|f| f.result != PanelResult::Data)
            .find_map(|f| f.query.and_then(|i| jobs.get(i)));
        let repro = match first_query {
            Some(j) => format!(
                "{} -X POST -H 'Content-Type: application/json' --data {}",
                cx.curl(&join_url(cx.base_url(), "/api/ds/query"), self.credentials.token.as_deref()),
                crate::shell::quote(&j.body.to_string())
            ),
            None => cx.curl(&join_url(cx.base_url(), "/api/search?type=dash-db"), self.credentials.token.as_deref()),
        };
        if failing > 0 || empty > self.max_empty_panels as usize {
            let mut shown: Vec<&str> = listed.iter().take(20).map(String::as_str).collect();
            let more = listed.len().saturating_sub(shown.len());
            let tail = format!("… and {more} more");
            if more > 0 {
                shown.push(&tail);
            }
            let summary = if failing > 0 {
                format!("{failing} dashboard panel(s) fail their queries")
            } else {
                format!("{empty} dashboard panel(s) show no data (at most {} allowed)", self.max_empty_panels)
            };
            return evidence(
                Outcome::fail(shown.join("; "))
                    .cause(key, format!("Grafana: {summary}"))
                    .remediation("fix each listed panel: provision the missing datasource, correct the PromQL, or make the service export the metric (the panel's Query inspector shows the same answer)")
                    .reproduce(repro),
            );
        }
        evidence(
            Outcome::pass(format!(
                "{with_data} panel(s) on {} dashboard(s) show data over {}{}",
                selected.len(),
                self.range,
                if empty > 0 { format!(", {empty} empty (allowed {})", self.max_empty_panels) } else { String::new() }
            ))
            .reproduce(repro),
        )
    }
}

/// The query panel of a library element's `model`: `None` when it has no
/// queries; a model that is itself a library reference is malformed (and
/// would otherwise be an endless chain).
fn library_model(model: &Value) -> Result<Option<Panel>, String> {
    let (mut out, mut bad) = (Vec::new(), Vec::new());
    walk_panels(&Value::Array(vec![model.clone()]), MAX_DEPTH, &mut out, &mut bad);
    if let Some(b) = bad.into_iter().next() {
        return Err(format!("library panel: {}", b.reason));
    }
    match out.into_iter().next() {
        Some(p) if p.library.is_some() => Err("library panel: its model is another library reference".to_string()),
        other => Ok(other),
    }
}

/// The `/api/ds/query` requests of one panel, one per data source (some
/// Grafana versions refuse mixed requests, §3.3). Empty when no target is
/// queryable (built-in sources); `Err` is the panel's failure reason.
fn panel_jobs(
    dashboard: &str,
    p: &Panel,
    sources: &[Datasource],
    vars: &BTreeMap<String, VarValue>,
    from: &str,
    interval_ms: u64,
) -> Result<Vec<Job>, String> {
    let panel_ds = resolve(&p.datasource, sources, vars);
    let mut groups: Vec<(Datasource, Vec<Value>)> = Vec::new();
    for (i, t) in p.targets.iter().enumerate() {
        let ds = match t.get("datasource").filter(|d| !d.is_null()) {
            Some(d) if panel_ds == Resolved::Mixed || !matches!(panel_ds, Resolved::Source(_)) || d.get("uid").is_some() || d.is_string() => resolve(d, sources, vars),
            _ => panel_ds.clone(),
        };
        let ds = match ds {
            Resolved::Source(d) => d,
            Resolved::NotQueried => continue,
            Resolved::Mixed => return Err("datasource missing: a target of a Mixed panel names no datasource".to_string()),
            Resolved::Missing(why) => return Err(why),
        };
        let mut q = t.clone();
        let Some(obj) = q.as_object_mut() else {
            return Err("malformed panel: a target is not an object".to_string());
        };
        for field in ["expr", "query"] {
            if let Some(Value::String(s)) = obj.get(field) {
                let s = substitute(s, vars)?;
                obj.insert(field.to_string(), Value::String(s));
            }
        }
        if !obj.get("refId").is_some_and(Value::is_string) {
            obj.insert("refId".to_string(), Value::String(ref_id(i)));
        }
        obj.insert("datasource".to_string(), json!({"type": ds.kind, "uid": ds.uid}));
        obj.insert("intervalMs".to_string(), json!(interval_ms));
        obj.insert("maxDataPoints".to_string(), json!(MAX_DATA_POINTS));
        match groups.iter_mut().find(|(d, _)| d.uid == ds.uid) {
            Some((_, qs)) => qs.push(q),
            None => groups.push((ds, vec![q])),
        }
    }
    Ok(groups
        .into_iter()
        .map(|(_, queries)| {
            let ref_ids = queries
                .iter()
                .filter_map(|q| q.get("refId").and_then(Value::as_str).map(str::to_string))
                .collect();
            Job {
                panel_no: 0,
                dashboard: dashboard.to_string(),
                panel: p.title.clone(),
                body: json!({"from": from, "to": "now", "queries": queries}),
                ref_ids,
            }
        })
        .collect())
}

/// `A`, `B`, … `Z`, `AA`, as Grafana names targets without a `refId`.
fn ref_id(i: usize) -> String {
    let mut n = i;
    let mut s = Vec::new();
    loop {
        s.push(b'A' + (n % 26) as u8);
        if n < 26 {
            break;
        }
        n = n / 26 - 1;
    }
    s.reverse();
    String::from_utf8_lossy(&s).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn walk(panels: Value) -> (Vec<Panel>, Vec<Malformed>) {
        let (mut out, mut bad) = (Vec::new(), Vec::new());
        walk_panels(&panels, 0, &mut out, &mut bad);
        (out, bad)
    }

    fn titles(p: &[Panel]) -> Vec<&str> {
        p.iter().map(|p| p.title.as_str()).collect()
    }

    #[test]
    fn grafana_dashboards_walks_nested_and_collapsed_rows_and_skips_query_less_panels() {
        let (panels, bad) = walk(json!([
            {"type": "text", "title": "Notes", "options": {"content": "hi"}},
            {"type": "row", "title": "Open row", "collapsed": false, "panels": []},
            {"type": "stat", "title": "Up", "targets": [{"refId": "A", "expr": "up"}]},
            {"type": "row", "title": "Closed", "collapsed": true, "panels": [
                {"type": "timeseries", "title": "Inside", "targets": [{"refId": "A", "expr": "x"}]},
                {"type": "timeseries", "title": "Hidden only", "targets": [{"refId": "A", "expr": "y", "hide": true}]}
            ]},
            {"type": "some-plugin-panel", "id": 9, "targets": [{"expr": "z"}]}
        ]));
        assert!(bad.is_empty(), "{bad:?}");
        assert_eq!(titles(&panels), ["Up", "Inside", "panel 9"]);
    }

    #[test]
    fn grafana_dashboards_reports_malformed_panels() {
        let (panels, bad) = walk(json!([
            {"type": 42, "title": "Numeric type", "targets": [{"expr": "up"}]},
            {"type": "graph", "title": "Bad targets", "targets": "up"},
            "not a panel"
        ]));
        assert!(panels.is_empty());
        let reasons: Vec<&str> = bad.iter().map(|b| b.reason.as_str()).collect();
        assert_eq!(
            reasons,
            [
                "malformed panel: `type` is a number, not a string",
                "malformed panel: `targets` is a string, not a list",
                "malformed panel: a string, not an object"
            ]
        );
        // A hostile nesting stops at the depth bound instead of recursing.
        let mut deep = json!([{"type": "timeseries", "title": "leaf", "targets": [{"expr": "up"}]}]);
        for _ in 0..10 {
            deep = json!([{"type": "row", "title": "r", "panels": deep}]);
        }
        let (_, bad) = walk(deep);
        assert!(bad[0].reason.contains("nested deeper"), "{bad:?}");
    }

    #[test]
    fn grafana_dashboards_takes_library_panels_from_their_model() {
        let (panels, bad) = walk(json!([
            {"id": 2, "gridPos": {}, "libraryPanel": {"uid": "lib-1", "name": "Shared"}},
            {"id": 3, "libraryPanel": {"name": "No uid"}}
        ]));
        assert_eq!(titles(&panels), ["Shared"]);
        assert_eq!(panels[0].library.as_deref(), Some("lib-1"));
        assert_eq!(bad[0].reason, "malformed panel: `libraryPanel` has no uid");
        let model = library_model(&json!({"type": "stat", "title": "Shared", "targets": [{"expr": "up"}]}));
        assert!(matches!(model, Ok(Some(ref p)) if p.targets.len() == 1 && p.library.is_none()), "{model:?}");
        assert_eq!(library_model(&json!({"type": "text", "title": "Notes"})), Ok(None));
        assert!(library_model(&json!({"libraryPanel": {"uid": "lib-1"}})).is_err());
    }

    fn sources() -> Vec<Datasource> {
        let ds = |uid: &str, name: &str, kind: &str, is_default| Datasource {
            uid: uid.into(),
            name: name.into(),
            kind: kind.into(),
            is_default,
        };
        vec![ds("prom-main", "Prometheus", "prometheus", true), ds("loki-main", "loki", "loki", false)]
    }

    fn uid(r: Resolved) -> String {
        match r {
            Resolved::Source(d) => d.uid,
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn grafana_dashboards_resolves_every_stored_datasource_form() {
        let s = sources();
        let mut vars = BTreeMap::new();
        vars.insert("datasource".to_string(), VarValue::One("loki-main".to_string()));
        let r = |v: Value| uid(resolve(&v, &s, &vars));
        assert_eq!(r(json!({"type": "prometheus", "uid": "prom-main"})), "prom-main");
        assert_eq!(r(json!({"uid": "loki-main"})), "loki-main");
        assert_eq!(r(json!({"type": "loki"})), "loki-main");
        assert_eq!(r(json!("Prometheus")), "prom-main");
        assert_eq!(r(Value::Null), "prom-main");
        assert_eq!(r(json!("default")), "prom-main");
        assert_eq!(r(json!({"uid": "${datasource}"})), "loki-main");
        assert_eq!(r(json!("$datasource")), "loki-main");
        assert_eq!(resolve(&json!({"type": "datasource", "uid": "-- Mixed --"}), &s, &vars), Resolved::Mixed);
        assert_eq!(resolve(&json!({"type": "datasource", "uid": "grafana"}), &s, &vars), Resolved::NotQueried);
        assert_eq!(resolve(&json!({"type": "__expr__", "uid": "__expr__"}), &s, &vars), Resolved::NotQueried);
        assert_eq!(r(json!({"uid": "prom-gone"})), "Missing(\"datasource `prom-gone` missing\")");
        assert!(r(json!("${DS_PROMETHEUS}")).contains("unresolved placeholder"));
        assert!(uid(resolve(&Value::Null, &s[1..], &vars)).contains("no default datasource"));
    }

    #[test]
    fn grafana_dashboards_substitutes_variables_in_every_syntax() {
        let dash = json!({"templating": {"list": [
            {"name": "job", "type": "custom", "current": {"text": "api", "value": "api"}},
            {"name": "inst", "type": "query", "multi": true, "current": {"value": ["a:1", "b:2"]}},
            {"name": "all", "type": "query", "includeAll": true, "current": {"value": "$__all"},
             "options": [{"value": "$__all"}, {"value": "x"}, {"value": "y"}]},
            {"name": "allv", "includeAll": true, "allValue": ".*", "current": {"value": ["$__all"]}},
            {"name": "none", "type": "query"}
        ]}});
        let vars = variables(&dash);
        let sub = |s: &str| substitute(s, &vars);
        assert_eq!(sub("up{job=\"$job\"}"), Ok("up{job=\"api\"}".to_string()));
        assert_eq!(sub("${job}/[[job]]/${job:raw}"), Ok("api/api/api".to_string()));
        assert_eq!(sub("up{instance=~\"$inst\"}"), Ok("up{instance=~\"(a:1|b:2)\"}".to_string()));
        assert_eq!(sub("$all $allv"), Ok("(x|y) .*".to_string()));
        // Grafana's macros and unknown names are the backend's business.
        assert_eq!(
            sub("rate(x[$__rate_interval]) $unknown ${__range} $"),
            Ok("rate(x[$__rate_interval]) $unknown ${__range} $".to_string())
        );
        // `$jobs` is another name, not `$job` followed by `s`.
        assert_eq!(sub("$jobs"), Ok("$jobs".to_string()));
        assert_eq!(sub("up{x=\"$none\"}"), Err("variable `none` has no current value".to_string()));
    }

    #[test]
    fn grafana_dashboards_judges_answers_by_refid() {
        let frame = |vals: Value| {
            json!({"schema": {"fields": [{"name": "Time", "type": "time"}, {"name": "Value", "type": "number"}]},
                   "data": {"values": [[1, 2], vals]}})
        };
        let ids = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let ok = json!({"results": {"A": {"status": 200, "frames": [frame(json!([1.0, null]))]}}});
        assert_eq!(judge_answer(200, &ok, &ids(&["A"])), PanelResult::Data);
        let nulls = json!({"results": {"A": {"frames": [frame(json!([null, null]))]}}});
        assert_eq!(judge_answer(200, &nulls, &ids(&["A"])), PanelResult::Empty);
        let none = json!({"results": {"A": {"status": 200, "frames": []}}});
        assert_eq!(judge_answer(200, &none, &ids(&["A"])), PanelResult::Empty);
        // 207 (or 400): one refId failing fails the panel even if another has data.
        let partial = json!({"results": {"A": {"frames": [frame(json!([3]))]},
                                         "B": {"error": "parse error", "errorSource": "downstream", "status": 400}}});
        assert_eq!(
            judge_answer(207, &partial, &ids(&["A", "B"])),
            PanelResult::Failing("query error: B: parse error".to_string())
        );
        // A Loki logs frame (pkg/tsdb/loki frame.go): no number field, the lines are strings.
        let logs = |values: Value| {
            json!({"schema": {"fields": [
                       {"name": "labels", "type": "other"}, {"name": "Time", "type": "time"},
                       {"name": "Line", "type": "string"}, {"name": "tsNs", "type": "string"}, {"name": "id", "type": "string"}]},
                   "data": {"values": values}})
        };
        let one = logs(json!([[{"job": "app"}], [1], ["started"], ["1000000"], ["1000000_ab"]]));
        let lines = json!({"results": {"A": {"status": 200, "frames": [one]}}});
        assert_eq!(judge_answer(200, &lines, &ids(&["A"])), PanelResult::Data);
        let no_lines = json!({"results": {"A": {"status": 200, "frames": [logs(json!([[], [], [], [], []]))]}}});
        assert_eq!(judge_answer(200, &no_lines, &ids(&["A"])), PanelResult::Empty);
        let loki_error = json!({"results": {"A": {"error": "parse error at line 1, col 1: syntax error\n", "status": 400}}});
        assert_eq!(
            judge_answer(400, &loki_error, &ids(&["A"])),
            PanelResult::Failing("query error: A: parse error at line 1, col 1: syntax error".to_string())
        );
        let missing = json!({"error": "data source not found", "message": "Data source not found", "traceID": ""});
        assert_eq!(
            judge_answer(404, &missing, &ids(&["A"])),
            PanelResult::Failing("datasource missing: Data source not found".to_string())
        );
    }

    #[test]
    fn ref_ids_follow_grafana() {
        assert_eq!([ref_id(0), ref_id(25), ref_id(26), ref_id(27)], ["A", "Z", "AA", "AB"]);
    }
}

#[cfg(test)]
mod load_tests {
    //! The kind's loader messages, each with its location.
    use crate::gate::testing::*;

    #[test]
    fn grafana_dashboards_fields_are_validated_where_written() {
        let k = "grafana_dashboards";
        rejects_at(&one_check(k, &["password: s"]), CHECK_LINE, ID_COLUMN, "`user` and `password` go together", None);
        field_rejected(k, "token: grafana_token", "names unknown secret `grafana_token`", None);
        field_rejected(k, "range: soon", "invalid range", Some("`5m`, `7d` or `1w`"));
        field_rejected(k, "range: 0s", "range must be greater than zero", None);
        field_rejected(k, "max_empty_panels: -1", "`max_empty_panels` must be zero or a positive whole number", None);
        field_rejected(k, "max_empty_panels: few", "`max_empty_panels` must be a whole number", None);
        field_rejected(k, "dashboards: {a: b}", "`dashboards` must be a list of strings or a comma-separated string", None);
        let many: Vec<String> = (0..51).map(|i| format!("d{i}")).collect();
        let line = format!("dashboards: [{}]", many.join(", "));
        rejects_at(&one_check(k, &[&line]), CHECK_LINE, ID_COLUMN, "at most 50 are checked per run", None);
        loads(&one_check(k, &["token: s", "dashboards: [a, b]", "range: 6h", "max_empty_panels: 2"]));
    }

    fn dashboards_of(field: &str) -> Vec<String> {
        let gate = loads(&one_check("grafana_dashboards", &[field]));
        match &gate.requirements[0].checks[0].spec {
            crate::probe::CheckSpec::GrafanaDashboards(s) => s.dashboards.clone(),
            other => panic!("not a grafana_dashboards spec: {other:?}"),
        }
    }

    #[test]
    fn grafana_dashboards_takes_a_list_or_a_comma_separated_string() {
        assert_eq!(dashboards_of("dashboards: [Backend Live, node-exporter]"), ["Backend Live", "node-exporter"]);
        // The form a single variable fills: items trimmed, an unset or blank value means all.
        assert_eq!(dashboards_of("dashboards: \" Backend Live ,node-exporter \""), ["Backend Live", "node-exporter"]);
        assert_eq!(dashboards_of("dashboards: \"${GRAFANA_DASHBOARDS:-MediaNest Overview, Logs}\""), ["MediaNest Overview", "Logs"]);
        assert_eq!(dashboards_of("dashboards: Overview"), ["Overview"]);
        assert!(dashboards_of("dashboards: \"${GRAFANA_DASHBOARDS:-}\"").is_empty());
        assert!(dashboards_of("dashboards: \"  \"").is_empty());
        assert!(dashboards_of("dashboards: []").is_empty());
    }

    #[test]
    fn grafana_dashboards_refuses_an_empty_item_where_it_is_written() {
        let k = "grafana_dashboards";
        let hint = Some("separate the names with single commas");
        field_rejected(k, "dashboards: \"a,,b\"", "`dashboards` has an empty item at position 2 of `a,,b`", hint);
        field_rejected(k, "dashboards: \"a, b,\"", "has an empty item at position 3", hint);
        field_rejected(k, "dashboards: \",a\"", "has an empty item at position 1", hint);
        // Through a variable the message names it, since the text is not in the file.
        field_rejected(
            k,
            "dashboards: \"${GRAFANA_DASHBOARDS:-Overview,,Logs}\"",
            "`dashboards` (from `GRAFANA_DASHBOARDS`) has an empty item at position 2 of `Overview,,Logs`",
            hint,
        );
        // The bound counts the split names.
        let many: Vec<String> = (0..51).map(|i| format!("d{i}")).collect();
        let line = format!("dashboards: \"{}\"", many.join(","));
        rejects_at(&one_check(k, &[&line]), CHECK_LINE, ID_COLUMN, "at most 50 are checked per run", None);
    }

    #[test]
    fn grafana_also_takes_its_dashboards_as_a_comma_separated_string() {
        loads(&one_check("grafana", &["dashboards: \"MediaNest Overview, Node Exporter Full\""]));
        field_rejected("grafana", "dashboards: \"a,,b\"", "has an empty item at position 2", None);
    }
}
