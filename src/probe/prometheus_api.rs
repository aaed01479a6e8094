//! Talking to the Prometheus HTTP API: the `status`/`data` envelope, its
//! error types, instant queries with string-encoded sample values, and the
//! ways a "Prometheus" URL can turn out to be something else.
//!
//! Every failure here is already an [`Outcome`] keyed on the Prometheus
//! target, so all checks against an unusable Prometheus share one root cause.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{Outcome, ProbeContext};
use crate::http::{Auth, JSON_CAP, Response, StreamCap, Streamed, join_url};

/// An instant query's result.
#[derive(Debug, Clone, PartialEq)]
pub enum QueryResult {
    Vector(Vec<(BTreeMap<String, String>, f64)>),
    Scalar(f64),
    Text(String),
    /// A range vector: the query needs an aggregation to be compared.
    Matrix(usize),
}

/// Builds an API URL with properly encoded query parameters.
pub fn api_url(cx: &ProbeContext<'_>, path: &str, params: &[(&str, &str)]) -> String {
    let base = join_url(cx.base_url(), path);
    match url::Url::parse(&base) {
        Ok(mut u) => {
            if !params.is_empty() {
                let mut q = u.query_pairs_mut();
                for (k, v) in params {
                    q.append_pair(k, v);
                }
            }
            u.to_string()
        }
        Err(_) => base,
    }
}

/// A `curl` line that runs a PromQL query by hand.
pub fn promql_curl(cx: &ProbeContext<'_>, query: &str) -> String {
    crate::shell::join([
        "curl",
        "-sG",
        &join_url(cx.base_url(), "/api/v1/query"),
        "--data-urlencode",
        &format!("query={query}"),
    ])
}

/// Outcome for an answer that is not the Prometheus API at all.
fn not_the_api(cx: &ProbeContext<'_>, url: &str, resp: &Response, what: &str) -> Outcome {
    let target = cx.target_name();
    Outcome::error(format!("{url}: {what}"))
        .evidence("url", url)
        .evidence("status", resp.status.as_u16())
        .evidence("content_type", resp.content_type().unwrap_or("").to_string())
        .evidence("body_excerpt", resp.excerpt(200))
        .cause(
            format!("api:{target}"),
            format!("target `{target}` ({}) does not answer like the Prometheus API: {what}", cx.base_url()),
        )
        .remediation(format!(
            "point the `{target}` target at Prometheus itself (e.g. http://prometheus:9090), not a proxy, login page or another service"
        ))
}

/// Which server speaks the Prometheus API: advice differs (VictoriaMetrics
/// has no `rule_files:` and reloads with `/-/reload`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Server {
    Prometheus,
    VictoriaMetrics,
}

impl Server {
    /// VictoriaMetrics (and vmalert) send `X-Server-Hostname` on every
    /// answer; Prometheus never does (reference: pipeline-apis §5.3).
    pub fn of(resp: &Response) -> Server {
        if resp.headers.contains_key("x-server-hostname") {
            Server::VictoriaMetrics
        } else {
            Server::Prometheus
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Server::Prometheus => "Prometheus",
            Server::VictoriaMetrics => "VictoriaMetrics",
        }
    }

    /// Where its scrape jobs are configured.
    pub fn scrape_config(self) -> &'static str {
        match self {
            Server::Prometheus => "prometheus.yml",
            Server::VictoriaMetrics => "the `-promscrape.config` file",
        }
    }

    /// How a person makes it re-read its configuration.
    pub fn reload(self) -> &'static str {
        match self {
            Server::Prometheus => "reload Prometheus",
            Server::VictoriaMetrics => "reload VictoriaMetrics (`curl http://<vm>/-/reload`)",
        }
    }
}

/// GETs an API path and returns `data` from a `"status":"success"` envelope.
pub async fn get_data(cx: &ProbeContext<'_>, path: &str, params: &[(&str, &str)]) -> Result<Value, Outcome> {
    get_data_from(cx, path, params).await.map(|(data, _)| data)
}

/// Like [`get_data`], also saying which server answered.
pub async fn get_data_from(
    cx: &ProbeContext<'_>,
    path: &str,
    params: &[(&str, &str)],
) -> Result<(Value, Server), Outcome> {
    let url = api_url(cx, path, params);
    let resp = cx
        .http
        .get(&url, Auth::None, &[], JSON_CAP, cx.deadline)
        .await
        .map_err(|e| cx.transport_failure(&url, &e))?;
    interpret(cx, &url, &resp)
}

/// `data` from a whole answer, or the outcome saying why there is none.
#[expect(
    clippy::result_large_err,
    reason = "the failure is the check's outcome, as in the async callers, which the lint does not see"
)]
fn interpret(cx: &ProbeContext<'_>, url: &str, resp: &Response) -> Result<(Value, Server), Outcome> {
    if resp.status.as_u16() == 503 && !resp.body.starts_with(b"{") {
        return Err(unready(cx, url, resp));
    }
    if resp.looks_like_html() {
        return Err(not_the_api(cx, url, resp, "answered an HTML page, not JSON"));
    }
    let doc: Value = match serde_json::from_slice(&resp.body) {
        Ok(v) => v,
        Err(e) => return Err(invalid_json(cx, url, resp, &e)),
    };
    let text = |k: &str| doc.get(k).and_then(Value::as_str).map(str::to_string);
    match text("status").as_deref() {
        Some("success") => doc
            .get("data")
            .cloned()
            .map(|d| (d, Server::of(resp)))
            .ok_or_else(|| not_the_api(cx, url, resp, "a success envelope without `data`")),
        Some("error") => Err(rejected(cx, url, resp, text("errorType"), text("error"))),
        _ => Err(not_the_api(cx, url, resp, "JSON without a Prometheus `status` field")),
    }
}

fn invalid_json(cx: &ProbeContext<'_>, url: &str, resp: &Response, e: &serde_json::Error) -> Outcome {
    let what = if resp.status.as_u16() == 404 {
        format!(
            "answered {} with a non-JSON body: no Prometheus API at this address",
            resp.status_line()
        )
    } else {
        format!("answered {} with invalid JSON ({e})", resp.status_line())
    };
    not_the_api(cx, url, resp, &what)
}

/// An `"status":"error"` envelope: Prometheus understood and refused.
fn rejected(cx: &ProbeContext<'_>, url: &str, resp: &Response, kind: Option<String>, msg: Option<String>) -> Outcome {
    let kind = kind.unwrap_or_else(|| "unknown".to_string());
    let msg = msg.unwrap_or_else(|| "no message".to_string());
    Outcome::error(format!("Prometheus rejected the request ({kind}): {msg}"))
        .evidence("url", url)
        .evidence("status", resp.status.as_u16())
        .evidence("error_type", kind.as_str())
        .evidence("error", msg.as_str())
        .cause(
            format!("check:{}", cx.check.id),
            format!("Prometheus answers `{kind}` for check `{}`: {msg}", cx.check.id),
        )
        .remediation(match kind.as_str() {
            "bad_data" => "fix the query or parameters in the gate file (Prometheus cannot parse them)".to_string(),
            "timeout" | "canceled" => {
                "the query is too expensive for Prometheus' query timeout: narrow the selector or the window"
                    .to_string()
            }
            _ => "see Prometheus' log for the failing query".to_string(),
        })
}

/// Reads the `data` of an envelope as it streams in, keeping only what it
/// needs: for answers that grow with the size of the monitored estate
/// (every target), where a `Value` of the whole would cost many times the
/// body. `Clone` because an answer that turns out small is read whole and
/// scanned again from memory.
pub trait DataScan: Clone + Send + 'static {
    type Out: Send + 'static;
    fn scan<'de, D: serde::Deserializer<'de>>(self, data: D) -> Result<Self::Out, D::Error>;
}

/// The parts of a `status`/`data` envelope, `data` read by a [`DataScan`].
struct Envelope<T> {
    status: Option<String>,
    data: Option<T>,
    error_type: Option<String>,
    error: Option<String>,
}

struct EnvelopeSeed<S>(S);

impl<'de, S: DataScan> serde::de::DeserializeSeed<'de> for EnvelopeSeed<S> {
    type Value = Envelope<S::Out>;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

struct DataSeed<S>(S);

impl<'de, S: DataScan> serde::de::DeserializeSeed<'de> for DataSeed<S> {
    type Value = S::Out;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        self.0.scan(d)
    }
}

impl<'de, S: DataScan> serde::de::Visitor<'de> for EnvelopeSeed<S> {
    type Value = Envelope<S::Out>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a Prometheus API envelope (an object with `status` and `data`)")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        use serde::de::IgnoredAny;
        let mut scan = Some(self.0);
        let mut env = Envelope {
            status: None,
            data: None,
            error_type: None,
            error: None,
        };
        // Strings of the wrong type are no answer at all, like absent ones.
        let text = |v: Value| v.as_str().map(str::to_string);
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "status" => env.status = text(map.next_value()?),
                "errorType" => env.error_type = text(map.next_value()?),
                "error" => env.error = text(map.next_value()?),
                "data" => match scan.take() {
                    Some(s) => env.data = Some(map.next_value_seed(DataSeed(s))?),
                    None => return Err(serde::de::Error::duplicate_field("data")),
                },
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(env)
    }
}

fn read_envelope<S: DataScan>(reader: &mut dyn std::io::Read, scan: S) -> serde_json::Result<Envelope<S::Out>> {
    use serde::de::DeserializeSeed;
    let mut de = serde_json::Deserializer::from_reader(reader);
    let env = EnvelopeSeed(scan).deserialize(&mut de)?;
    de.end()?;
    Ok(env)
}

/// GETs an API path whose answer may be large and reads its `data` with
/// `scan` while it streams in, under `cap`; small and error answers are
/// diagnosed like [`get_data`]'s.
pub async fn scan_data<S: DataScan>(
    cx: &ProbeContext<'_>,
    path: &str,
    params: &[(&str, &str)],
    cap: StreamCap,
    scan: S,
) -> Result<(S::Out, Server), Outcome> {
    let url = api_url(cx, path, params);
    let streamed = {
        let scan = scan.clone();
        cx.http
            .get_streamed(&url, cap, JSON_CAP, cx.deadline, move |r| read_envelope(r, scan))
            .await
            .map_err(|e| cx.transport_failure(&url, &e))?
    };
    let (resp, env) = match streamed {
        Streamed::Parsed { head, value } => (head, value),
        Streamed::Whole(resp) => {
            // Not a plain success: the whole-answer diagnosis applies, and
            // a success that was only small is scanned from memory.
            interpret(cx, &url, &resp)?;
            let env = read_envelope(&mut resp.body.as_slice(), scan);
            (resp, env)
        }
    };
    let env = match env {
        Ok(env) => env,
        Err(e) if e.classify() == serde_json::error::Category::Data => {
            return Err(unexpected_shape(cx, path, Server::of(&resp), &e.to_string()));
        }
        Err(e) => return Err(invalid_json(cx, &url, &resp, &e)),
    };
    match env.status.as_deref() {
        Some("success") => match env.data {
            Some(out) => Ok((out, Server::of(&resp))),
            None => Err(not_the_api(cx, &url, &resp, "a success envelope without `data`")),
        },
        Some("error") => Err(rejected(cx, &url, &resp, env.error_type, env.error)),
        _ => Err(not_the_api(cx, &url, &resp, "JSON without a Prometheus `status` field")),
    }
}

/// An answer in JSON of the wrong shape: the API of something else, or of
/// a version the check does not know.
pub fn unexpected_shape(cx: &ProbeContext<'_>, path: &str, server: Server, what: &str) -> Outcome {
    Outcome::error(format!("unexpected {path} answer: {what}"))
        .cause(
            format!("api:{}", cx.target_name()),
            format!("{}'s {path} answered an unexpected shape: {what}", server.name()),
        )
        .remediation("check that the target is Prometheus 2.x or VictoriaMetrics")
}

fn unready(cx: &ProbeContext<'_>, url: &str, resp: &Response) -> Outcome {
    let target = cx.target_name();
    Outcome::error(format!(
        "Prometheus is not ready: {url} answered {}",
        resp.status_line()
    ))
    .evidence("url", url)
    .evidence("status", resp.status.as_u16())
    .evidence("body_excerpt", resp.excerpt(100))
    .cause(
        format!("unready:{target}"),
        format!("Prometheus (`{target}`) is starting up or replaying its WAL and answers 503"),
    )
    .remediation("wait for Prometheus to finish starting (`/-/ready` turns 200), or re-run with `--wait`")
}

/// Checks `/-/ready`.
pub async fn ready(cx: &ProbeContext<'_>) -> Result<(), Outcome> {
    let url = join_url(cx.base_url(), "/-/ready");
    let resp = cx
        .http
        .get(&url, Auth::None, &[], JSON_CAP, cx.deadline)
        .await
        .map_err(|e| cx.transport_failure(&url, &e))?;
    match resp.status.as_u16() {
        200 => Ok(()),
        503 => Err(unready(cx, &url, &resp)),
        _ if resp.looks_like_html() => Err(not_the_api(cx, &url, &resp, "answered an HTML page on /-/ready")),
        _ => Err(not_the_api(
            cx,
            &url,
            &resp,
            &format!("answered {} on /-/ready", resp.status_line()),
        )),
    }
}

/// Parses a sample value: Prometheus sends `[<ts>, "<value>"]` with values
/// as strings, including `NaN`, `+Inf` and `-Inf`.
pub fn sample_value(v: &Value) -> Option<f64> {
    let s = v.as_array()?.get(1)?.as_str()?;
    match s {
        "NaN" => Some(f64::NAN),
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        other => other.parse().ok(),
    }
}

/// Runs an instant query.
pub async fn query(cx: &ProbeContext<'_>, promql: &str) -> Result<QueryResult, Outcome> {
    let data = get_data(cx, "/api/v1/query", &[("query", promql)]).await?;
    parse_query_data(&data).map_err(|what| {
        Outcome::error(format!("unexpected answer to `{promql}`: {what}"))
            .cause(
                format!("api:{}", cx.target_name()),
                format!("Prometheus answered a query with an unexpected shape: {what}"),
            )
            .remediation("check that the target is a Prometheus-compatible server")
    })
}

pub fn parse_query_data(data: &Value) -> Result<QueryResult, String> {
    let result = data.get("result").ok_or("no `result` in `data`")?;
    match data.get("resultType").and_then(Value::as_str) {
        Some("vector") => {
            let items = result.as_array().ok_or("vector `result` is not an array")?;
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                let labels = item
                    .get("metric")
                    .and_then(Value::as_object)
                    .map(|m| {
                        m.iter()
                            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                            .collect()
                    })
                    .unwrap_or_default();
                let value = item
                    .get("value")
                    .and_then(sample_value)
                    .ok_or("a vector sample without a `[ts, \"value\"]` pair")?;
                out.push((labels, value));
            }
            Ok(QueryResult::Vector(out))
        }
        Some("scalar") => sample_value(result)
            .map(QueryResult::Scalar)
            .ok_or_else(|| "a malformed scalar".to_string()),
        Some("string") => Ok(QueryResult::Text(
            result
                .as_array()
                .and_then(|a| a.get(1))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
        )),
        Some("matrix") => Ok(QueryResult::Matrix(result.as_array().map(Vec::len).unwrap_or(0))),
        other => Err(format!("unknown resultType {other:?}")),
    }
}

/// Formats labels like PromQL: `{job="api",instance="x"}`.
pub fn labels_text(labels: &BTreeMap<String, String>) -> String {
    if labels.is_empty() {
        return "{}".into();
    }
    let inner: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    format!("{{{}}}", inner.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sample_values_are_strings_including_special_floats() {
        assert_eq!(sample_value(&json!([1795283994.267, "1"])), Some(1.0));
        assert!(sample_value(&json!([1.0, "NaN"])).unwrap().is_nan());
        assert_eq!(sample_value(&json!([1.0, "+Inf"])), Some(f64::INFINITY));
        assert_eq!(sample_value(&json!([1.0, "-Inf"])), Some(f64::NEG_INFINITY));
        assert_eq!(
            sample_value(&json!([1.0, 1])),
            None,
            "numbers are not Prometheus' encoding"
        );
        assert_eq!(sample_value(&json!("x")), None);
    }

    #[test]
    fn query_results_of_every_type_parse() {
        let v = json!({"resultType":"vector","result":[{"metric":{"__name__":"up","job":"p"},"value":[1795283994.267,"1"]}]});
        let QueryResult::Vector(items) = parse_query_data(&v).unwrap() else {
            panic!("vector")
        };
        assert_eq!(items[0].0["job"], "p");
        assert_eq!(items[0].1, 1.0);
        let empty = json!({"resultType":"vector","result":[]});
        assert_eq!(parse_query_data(&empty).unwrap(), QueryResult::Vector(vec![]));
        let s = json!({"resultType":"scalar","result":[1795283994.287,"NaN"]});
        assert!(matches!(parse_query_data(&s).unwrap(), QueryResult::Scalar(x) if x.is_nan()));
        let t = json!({"resultType":"string","result":[1795283994.325,"hello"]});
        assert_eq!(parse_query_data(&t).unwrap(), QueryResult::Text("hello".into()));
        let m = json!({"resultType":"matrix","result":[{"metric":{},"values":[[1,"0"]]}]});
        assert_eq!(parse_query_data(&m).unwrap(), QueryResult::Matrix(1));
    }

    #[test]
    fn malformed_query_data_is_an_error_not_a_panic() {
        for bad in [
            json!({}),
            json!({"resultType":"vector"}),
            json!({"resultType":"vector","result":{}}),
            json!({"resultType":"vector","result":[{"metric":{},"value":"x"}]}),
            json!({"resultType":"scalar","result":[1]}),
            json!({"resultType":"histogram","result":[]}),
        ] {
            assert!(parse_query_data(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn labels_render_like_promql() {
        let mut l = BTreeMap::new();
        assert_eq!(labels_text(&l), "{}");
        l.insert("job".to_string(), "api".to_string());
        l.insert("instance".to_string(), "h:1".to_string());
        assert_eq!(labels_text(&l), r#"{instance="h:1",job="api"}"#);
    }
}
