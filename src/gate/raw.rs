//! The gate file exactly as written: serde types whose values carry the line
//! and column they came from, so every later validation error can point at
//! the offending token. The JSON Schema of the gate file is derived from here.
//!
//! A check's common fields (`id`, `kind`, `target`, …) are typed here; every
//! other field is kept as a located [`Node`] for the check's kind to read
//! (`probe::registry`), because which fields exist depends on `kind`, which
//! may come last in the mapping. serde's tagged and flattened enums would
//! buffer the input and lose source positions, and a gate author deserves
//! `file:line:column` for every value, nested ones included.

use std::borrow::Cow;
use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

use crate::status::Severity;

/// A 1-based line and column in the gate file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Loc {
    pub line: u64,
    pub column: u64,
}

impl From<serde_saphyr::Location> for Loc {
    fn from(l: serde_saphyr::Location) -> Self {
        Loc {
            line: l.line(),
            column: l.column(),
        }
    }
}

/// A value and where it was written.
#[derive(Debug, Clone, Deserialize)]
#[serde(transparent)]
pub struct Sp<T>(pub Spanned<T>);

impl<T> Sp<T> {
    pub fn loc(&self) -> Loc {
        self.0.referenced.into()
    }
    pub fn get(&self) -> &T {
        &self.0.value
    }
    pub fn into_inner(self) -> T {
        self.0.value
    }
}

impl<T: JsonSchema> JsonSchema for Sp<T> {
    fn schema_name() -> Cow<'static, str> {
        T::schema_name()
    }
    fn schema_id() -> Cow<'static, str> {
        T::schema_id()
    }
    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        T::json_schema(generator)
    }
    fn inline_schema() -> bool {
        T::inline_schema()
    }
}

/// A gate: weighted requirements, each made of checks.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "medianest-gate gate file")]
pub struct RawGate {
    /// Always 1 for this version of the format.
    pub schema_version: Sp<u32>,
    /// Short id of the gate, e.g. `G`.
    pub id: Sp<String>,
    /// Human name, e.g. `Observability & Operations Readiness`.
    pub name: Sp<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// When the gate passes. Defaults: `min_score: 85`, `required_must_pass: true`.
    #[serde(default)]
    pub pass: Option<RawPass>,
    /// Named endpoints (URLs, or `unix://` paths for Docker). `${VAR}` and
    /// `${VAR:-default}` are expanded; `--target NAME=URL` overrides.
    #[serde(default)]
    pub targets: BTreeMap<String, Sp<String>>,
    /// Named secrets. Their values never appear in any output.
    #[serde(default)]
    pub secrets: BTreeMap<String, Sp<String>>,
    #[serde(default)]
    pub defaults: Option<RawDefaults>,
    /// Traffic sent to one target before the checks, only with
    /// `check --synthetic`, so latency checks have fresh data.
    #[serde(default)]
    pub warm_up: Option<Sp<RawWarmUp>>,
    pub requirements: Sp<Vec<RawRequirement>>,
}

/// `warm_up:`. Bounded: at most 10,000 requests, 64 at once, 1,000 per
/// second, two minutes of traffic.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawWarmUp {
    /// The gate target the traffic goes to (e.g. `backend`).
    pub target: Sp<String>,
    /// Paths requested in turn, e.g. `[/health, /api/health]`.
    pub paths: Sp<Vec<Sp<String>>>,
    /// Requests in all (default 100).
    pub requests: Option<Sp<u64>>,
    /// Requests in flight at once (default 4).
    pub concurrency: Option<Sp<u64>>,
    /// Requests per second at most (default 50).
    pub rate: Option<Sp<f64>>,
    /// Per request, e.g. `5s` (default 5s).
    pub timeout: Option<Sp<String>>,
    /// A Prometheus target: after the traffic, wait one scrape interval of `job`, read from it.
    pub prometheus: Option<Sp<String>>,
    /// The scrape job that collects the traffic's metrics.
    pub job: Option<Sp<String>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawPass {
    /// Minimum score (0–100) for the gate to pass.
    pub min_score: Option<Sp<f64>>,
    /// When true, every `required` requirement must pass whatever the score.
    pub required_must_pass: Option<bool>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawDefaults {
    /// Per-check timeout, e.g. `5s`, `750ms`.
    pub timeout: Option<Sp<String>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRequirement {
    /// Stable id, used by `--only`, `--skip` and the JSON report.
    pub id: Sp<String>,
    pub name: Sp<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// Share of the gate score; 0 makes the requirement advisory.
    pub weight: Sp<f64>,
    #[serde(default)]
    pub severity: Option<Severity>,
    /// A required requirement must pass for the gate to pass.
    #[serde(default)]
    pub required: Option<bool>,
    pub checks: Sp<Vec<RawCheck>>,
}

/// A waiver: the check earns no credit but does not block until `expires`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawWaiver {
    pub reason: Sp<String>,
    /// Last day the waiver holds, `YYYY-MM-DD`.
    pub expires: Sp<String>,
}

/// One probe: the fields every kind shares, and the kind's own fields as
/// located nodes. Its JSON Schema is generated from the kind registry.
#[derive(Debug)]
pub struct RawCheck {
    pub id: Sp<String>,
    pub kind: Sp<String>,
    pub name: Option<String>,
    pub target: Option<Sp<String>>,
    pub weight: Option<Sp<f64>>,
    pub timeout: Option<Sp<String>>,
    pub needs: Vec<Sp<String>>,
    pub waiver: Option<RawWaiver>,
    /// Every other field, in file order, with the location of its key.
    pub fields: Vec<(Sp<String>, Sp<Node>)>,
    /// Where the check's mapping starts, for "missing field" errors.
    pub loc: Loc,
}

/// The fields every check takes, whatever its kind.
pub const COMMON_FIELDS: &[&str] = &[
    "id",
    "kind",
    "name",
    "description",
    "target",
    "weight",
    "timeout",
    "needs",
    "waiver",
];

impl RawCheck {
    /// The kind-specific field `name`, if written.
    pub fn field(&self, name: &str) -> Option<&Sp<Node>> {
        self.fields.iter().find(|(k, _)| k.get() == name).map(|(_, v)| v)
    }
}

impl<'de> Deserialize<'de> for RawCheck {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawCheck;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a check: a mapping with `id`, `kind` and the kind's fields")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawCheck, A::Error> {
                let mut id = None;
                let mut kind = None;
                let mut name = None;
                let mut target = None;
                let mut weight = None;
                let mut timeout = None;
                let mut needs = None;
                let mut waiver = None;
                let mut fields: Vec<(Sp<String>, Sp<Node>)> = Vec::new();
                let mut loc: Option<Loc> = None;
                while let Some(key) = map.next_key::<Sp<String>>()? {
                    loc.get_or_insert(key.loc());
                    match key.get().as_str() {
                        "id" => id = Some(map.next_value()?),
                        "kind" => kind = Some(map.next_value()?),
                        "name" => name = map.next_value()?,
                        "description" => {
                            let _: Option<String> = map.next_value()?;
                        }
                        "target" => target = map.next_value()?,
                        "weight" => weight = map.next_value()?,
                        "timeout" => timeout = map.next_value()?,
                        "needs" => needs = map.next_value()?,
                        "waiver" => waiver = map.next_value()?,
                        _ => {
                            let value: Sp<Node> = map.next_value()?;
                            fields.push((key, value));
                        }
                    }
                }
                Ok(RawCheck {
                    id: id.ok_or_else(|| de::Error::missing_field("id"))?,
                    kind: kind.ok_or_else(|| de::Error::missing_field("kind"))?,
                    name,
                    target,
                    weight,
                    timeout,
                    needs: needs.unwrap_or_default(),
                    waiver,
                    fields,
                    loc: loc.unwrap_or_default(),
                })
            }
        }
        deserializer.deserialize_map(V)
    }
}

impl JsonSchema for RawCheck {
    fn schema_name() -> Cow<'static, str> {
        "RawCheck".into()
    }
    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        crate::probe::registry::check_schema(generator)
    }
}

/// A YAML value of a kind-specific field, every part with its location.
#[derive(Debug, Clone)]
pub enum Node {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Seq(Vec<Sp<Node>>),
    Map(Vec<(Sp<String>, Sp<Node>)>),
}

impl Node {
    /// What a person calls this kind of value, for type errors.
    pub fn describe(&self) -> String {
        match self {
            Node::Null => "an empty value".into(),
            Node::Bool(b) => format!("the boolean `{b}`"),
            Node::Int(i) => format!("the number `{i}`"),
            Node::Float(f) => format!("the number `{f}`"),
            Node::Str(s) => {
                let short: String = s.chars().take(40).collect();
                format!("the string \"{short}\"")
            }
            Node::Seq(_) => "a list".into(),
            Node::Map(_) => "a mapping".into(),
        }
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Node;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a YAML value")
            }
            fn visit_unit<E>(self) -> Result<Node, E> {
                Ok(Node::Null)
            }
            fn visit_none<E>(self) -> Result<Node, E> {
                Ok(Node::Null)
            }
            fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
                Node::deserialize(d)
            }
            fn visit_bool<E>(self, v: bool) -> Result<Node, E> {
                Ok(Node::Bool(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Node, E> {
                Ok(Node::Int(v.into()))
            }
            fn visit_i128<E>(self, v: i128) -> Result<Node, E> {
                Ok(Node::Int(v))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Node, E> {
                Ok(Node::Int(v.into()))
            }
            fn visit_u128<E: de::Error>(self, v: u128) -> Result<Node, E> {
                i128::try_from(v)
                    .map(Node::Int)
                    .map_err(|_| E::custom("number too large"))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Node, E> {
                Ok(Node::Float(v))
            }
            fn visit_str<E>(self, v: &str) -> Result<Node, E> {
                Ok(Node::Str(v.to_string()))
            }
            fn visit_string<E>(self, v: String) -> Result<Node, E> {
                Ok(Node::Str(v))
            }
            fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<Node, E> {
                Err(E::custom("binary values are not supported here"))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<Sp<Node>>()? {
                    items.push(item);
                }
                Ok(Node::Seq(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
                let mut entries = Vec::new();
                while let Some(key) = map.next_key::<Sp<String>>()? {
                    let value: Sp<Node> = map.next_value()?;
                    entries.push((key, value));
                }
                Ok(Node::Map(entries))
            }
        }
        deserializer.deserialize_any(V)
    }
}
