//! What a check kind reads from a gate file: the declaration of its fields
//! ([`FieldDef`]) and the typed, located accessors it reads them with
//! ([`SpecCx`]). The loader checks every written field against the kind's
//! declaration before the kind sees it, so a kind's `load` only meets its
//! own fields, and every error it records carries the value's location.

use std::collections::BTreeMap;
use std::time::Duration;

use super::interpolate::{Env, interpolate};
use super::load::LoadError;
use super::model::{MissingVar, Scope, Secret, Target, Variable};
use super::raw::{Loc, Node, RawCheck, Sp};

/// The longest duration a gate may write for a timeout, latency or grace
/// period: longer values are typos, and adding them to an instant overflows.
pub const MAX_DURATION: Duration = Duration::from_secs(7 * 24 * 3600);
/// The longest Prometheus-style duration (retention, windows): 100 years.
pub const MAX_PROM_DURATION: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// The type of a kind-specific field, for type errors and the JSON Schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    Str,
    /// The name of an entry in `secrets:`.
    SecretRef,
    /// The name of an entry in `targets:`.
    TargetRef,
    /// A whole number ≥ 0.
    Int,
    Number,
    /// `5s`, `750ms`, `1m30s`.
    Duration,
    /// A Prometheus duration: `5m`, `7d`, `1w`.
    PromDuration,
    StrList,
    /// A list of strings, or one comma-separated string (so a single
    /// `${VAR}` can carry the list); see [`SpecCx::names`].
    Names,
    /// HTTP status codes.
    StatusList,
    StrMap,
    /// A mapping whose values may be any JSON value.
    JsonMap,
}

impl FieldType {
    /// The JSON Schema of a value of this type.
    pub fn schema(self) -> serde_json::Value {
        use serde_json::json;
        match self {
            FieldType::Str | FieldType::SecretRef | FieldType::TargetRef => json!({"type": "string"}),
            FieldType::Int => json!({"type": "integer", "minimum": 0}),
            FieldType::Number => json!({"type": "number"}),
            FieldType::Duration | FieldType::PromDuration => json!({"type": "string"}),
            FieldType::StrList => json!({"type": "array", "items": {"type": "string"}}),
            FieldType::Names => json!({"oneOf": [
                {"type": "array", "items": {"type": "string"}},
                {"type": "string", "description": "Comma-separated; `${VAR}` is expanded, items are trimmed, empty means none."}
            ]}),
            FieldType::StatusList => {
                json!({"type": "array", "items": {"type": "integer", "minimum": 100, "maximum": 599}})
            }
            FieldType::StrMap => json!({"type": "object", "additionalProperties": {"type": "string"}}),
            FieldType::JsonMap => json!({"type": "object"}),
        }
    }
}

/// One field a kind accepts.
#[derive(Debug, Clone, Copy)]
pub struct FieldDef {
    pub name: &'static str,
    pub ty: FieldType,
    /// One line for the schema and for hints.
    pub doc: &'static str,
    /// A valid value, as YAML flow text (`5s`, `[200, 204]`), for hints and tests.
    pub example: &'static str,
}

impl FieldDef {
    pub const fn new(name: &'static str, ty: FieldType, doc: &'static str, example: &'static str) -> Self {
        Self { name, ty, doc, example }
    }
}

/// Collects located load errors for one gate file.
pub struct Cx<'a> {
    pub file: &'a str,
    pub env: &'a Env,
    pub errors: Vec<LoadError>,
    /// The part of the gate being read, so variables know who reads them.
    pub scope: Option<Scope>,
    /// Every variable referenced so far, by name.
    pub variables: BTreeMap<String, Variable>,
}

impl Cx<'_> {
    pub fn err(&mut self, loc: Loc, message: impl Into<String>, hint: impl Into<Option<String>>) {
        self.errors.push(LoadError {
            file: self.file.to_string(),
            line: loc.line,
            column: loc.column,
            message: message.into(),
            hint: hint.into(),
        });
    }

    /// Expands `${VAR}` in a string value; a syntax error is recorded and the raw text kept.
    pub fn expand(&mut self, text: &str, loc: Loc) -> (String, Vec<String>, Vec<MissingVar>) {
        match interpolate(text, self.env) {
            Ok(e) => {
                for r in &e.refs {
                    let v = self.variables.entry(r.name.clone()).or_insert_with(|| Variable {
                        name: r.name.clone(),
                        default: None,
                        secret: false,
                        used_by: Vec::new(),
                    });
                    if v.default.is_none() {
                        v.default = r.default.clone();
                    }
                    if let Some(scope) = &self.scope {
                        v.secret |= matches!(scope, Scope::Secret(_));
                        if !v.used_by.contains(scope) {
                            v.used_by.push(scope.clone());
                        }
                    }
                }
                let missing = e.missing.into_iter().map(|var| MissingVar { var, loc }).collect();
                (e.value, e.vars, missing)
            }
            Err(e) => {
                self.err(
                    loc,
                    format!(
                        "invalid variable reference at character {}: {}",
                        e.offset + 1,
                        e.message
                    ),
                    None,
                );
                (text.to_string(), Vec::new(), Vec::new())
            }
        }
    }

    /// A humantime duration (`5s`, `750ms`): positive and at most [`MAX_DURATION`].
    pub fn duration(&mut self, text: &str, loc: Loc, what: &str) -> Option<Duration> {
        match humantime::parse_duration(text.trim()) {
            Ok(d) if d.is_zero() => {
                self.err(
                    loc,
                    format!("{what} must be greater than zero"),
                    Some("write e.g. `5s` or `750ms`".to_string()),
                );
                None
            }
            Ok(d) if d > MAX_DURATION => {
                self.err(
                    loc,
                    format!("{what} `{}` is longer than the maximum of 7 days", text.trim()),
                    Some("write a duration such as `5s`, `750ms` or `1m30s`".to_string()),
                );
                None
            }
            Ok(d) => Some(d),
            Err(e) => {
                self.err(
                    loc,
                    format!("invalid {what} `{text}`: {e}"),
                    Some("write a duration such as `5s`, `750ms` or `1m30s`".to_string()),
                );
                None
            }
        }
    }

    /// Resolves a name that must be a key of a gate section (`targets:`,
    /// `secrets:`), or records an error listing the names that exist;
    /// `owner` says who names it ("check `c`", "`warm_up`").
    pub fn reference<'k>(
        &mut self,
        name: &str,
        loc: Loc,
        known: impl Iterator<Item = &'k String>,
        what: &str,
        section: &str,
        owner: &str,
    ) -> Option<String> {
        let known: Vec<&str> = known.map(String::as_str).collect();
        if known.contains(&name) {
            return Some(name.to_string());
        }
        let hint = if known.is_empty() {
            format!("declare it under `{section}:`")
        } else {
            match crate::suggest::closest(name, known.iter().copied()) {
                Some(near) => format!("did you mean `{near}`? Or declare `{name}` under `{section}:`"),
                None => format!("declare it under `{section}:`, or use one of: {}", known.join(", ")),
            }
        };
        self.err(loc, format!("{owner} names unknown {what} `{name}`"), Some(hint));
        None
    }
}

/// What a kind's `load` reads its check from: the check's fields, typed and
/// located, and the gate's targets and secrets to resolve references.
pub struct SpecCx<'c, 'a> {
    pub(super) cx: &'c mut Cx<'a>,
    pub(super) check: &'c RawCheck,
    pub(super) fields: &'static [FieldDef],
    pub(super) targets: &'c BTreeMap<String, Target>,
    pub(super) secrets: &'c BTreeMap<String, Secret>,
    /// Variables the check's fields need but the environment lacks.
    pub missing: Vec<MissingVar>,
}

impl<'c, 'a> SpecCx<'c, 'a> {
    pub(super) fn new(
        cx: &'c mut Cx<'a>,
        check: &'c RawCheck,
        fields: &'static [FieldDef],
        targets: &'c BTreeMap<String, Target>,
        secrets: &'c BTreeMap<String, Secret>,
    ) -> Self {
        Self {
            cx,
            check,
            fields,
            targets,
            secrets,
            missing: Vec::new(),
        }
    }

    /// The check's id.
    pub fn id(&self) -> &str {
        self.check.id.get()
    }

    /// Where the check's id is written: errors about missing fields point here.
    pub fn id_loc(&self) -> Loc {
        self.check.id.loc()
    }

    pub fn err(&mut self, loc: Loc, message: impl Into<String>, hint: impl Into<Option<String>>) {
        self.cx.err(loc, message, hint);
    }

    /// The node of a declared field. Reading an undeclared field, or as the
    /// wrong type, is a bug in the kind; the registry's tests catch it.
    fn node(&self, name: &str, ty: FieldType) -> Option<&'c Sp<Node>> {
        debug_assert!(
            self.fields.iter().any(|f| f.name == name && f.ty == ty),
            "field `{name}` read as {ty:?} but not declared so"
        );
        self.check.field(name)
    }

    fn example(&self, name: &str) -> &'static str {
        self.fields
            .iter()
            .find(|f| f.name == name)
            .map(|f| f.example)
            .unwrap_or("…")
    }

    fn type_error(&mut self, name: &str, node: &Sp<Node>, want: &str) {
        let example = self.example(name);
        self.cx.err(
            node.loc(),
            format!(
                "`{name}` must be {want} (e.g. {example}), found {}",
                node.get().describe()
            ),
            None,
        );
    }

    /// A scalar as text: YAML reads `tenant: 42` as a number, but the author meant text.
    fn text_of(node: &Node) -> Option<String> {
        match node {
            Node::Str(s) => Some(s.clone()),
            Node::Int(i) => Some(i.to_string()),
            Node::Float(f) => Some(f.to_string()),
            Node::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    fn raw_str(&mut self, name: &str, ty: FieldType) -> Option<(String, Loc)> {
        let node = self.node(name, ty)?;
        match Self::text_of(node.get()) {
            Some(s) => Some((s, node.loc())),
            None => {
                self.type_error(name, node, "a string");
                None
            }
        }
    }

    /// A string field as written, without `${VAR}` expansion.
    pub fn literal(&mut self, name: &str) -> Option<(String, Loc)> {
        self.raw_str(name, FieldType::Str)
    }

    /// A string field with `${VAR}` expanded.
    pub fn string(&mut self, name: &str) -> Option<(String, Loc)> {
        self.string_with_vars(name).map(|(value, loc, _)| (value, loc))
    }

    /// A string field with `${VAR}` expanded, and the variables it named
    /// (for hints such as "set `LOKI_TENANT`").
    pub fn string_with_vars(&mut self, name: &str) -> Option<(String, Loc, Vec<String>)> {
        let (text, loc) = self.raw_str(name, FieldType::Str)?;
        let (value, vars, missing) = self.cx.expand(&text, loc);
        self.missing.extend(missing);
        Some((value, loc, vars))
    }

    /// A string field that must be written and not empty.
    pub fn required_string(&mut self, name: &str) -> String {
        match self.string(name) {
            Some((value, loc)) => {
                if value.trim().is_empty() && self.missing.is_empty() {
                    let example = self.example(name);
                    self.err(
                        loc,
                        format!("`{name}` is empty"),
                        Some(format!("write e.g. `{name}: {example}`")),
                    );
                }
                value
            }
            None => {
                if self.check.field(name).is_none() {
                    self.missing_field(name);
                }
                String::new()
            }
        }
    }

    /// A URL path (`path:`), expanded, which must start with `/`.
    pub fn path(&mut self, default: &str) -> String {
        match self.string("path") {
            Some((v, loc)) => {
                if !v.starts_with('/') {
                    self.err(
                        loc,
                        format!("path `{v}` must start with `/`"),
                        Some(format!("write `/{v}`")),
                    );
                }
                v
            }
            None => default.to_string(),
        }
    }

    /// The check's own `timeout:` when it is written and valid (the loader
    /// reports an invalid one), for kinds whose fields must fit inside it.
    /// `--timeout` and `defaults.timeout` are not known here.
    pub fn own_timeout(&self) -> Option<Duration> {
        let t = self.check.timeout.as_ref()?;
        humantime::parse_duration(t.get().trim())
            .ok()
            .filter(|d| !d.is_zero() && *d <= MAX_DURATION)
    }

    /// Where the check's own `timeout:` is written.
    pub fn timeout_loc(&self) -> Option<Loc> {
        self.check.timeout.as_ref().map(|t| t.loc())
    }

    /// True when the check does not write the field.
    pub fn is_absent(&self, name: &str) -> bool {
        self.check.field(name).is_none()
    }

    /// Records that a required field is absent.
    pub fn missing_field(&mut self, name: &str) {
        let example = self.example(name);
        let (id, kind) = (self.id().to_string(), self.check.kind.get().clone());
        self.err(
            self.id_loc(),
            format!("check `{id}` of kind `{kind}` needs `{name}`"),
            Some(format!("add `{name}: {example}`")),
        );
    }

    pub fn int(&mut self, name: &str) -> Option<Sp<u32>> {
        let node = self.node(name, FieldType::Int)?;
        match node.get() {
            Node::Int(i) if (0..=i128::from(u32::MAX)).contains(i) => Some(located(node, *i as u32)),
            Node::Int(i) if *i < 0 => {
                self.type_error(name, node, "zero or a positive whole number");
                None
            }
            Node::Int(_) => {
                self.cx.err(node.loc(), format!("`{name}` is too large"), None);
                None
            }
            _ => {
                self.type_error(name, node, "a whole number");
                None
            }
        }
    }

    /// A number; NaN and infinities are refused here, so kinds compare finite values only.
    pub fn number(&mut self, name: &str) -> Option<Sp<f64>> {
        let node = self.node(name, FieldType::Number)?;
        let value = match node.get() {
            Node::Int(i) => *i as f64,
            Node::Float(f) => *f,
            _ => {
                self.type_error(name, node, "a number");
                return None;
            }
        };
        if !value.is_finite() {
            self.cx.err(
                node.loc(),
                format!("`{name}` must be a finite number, not {value}"),
                None,
            );
            return None;
        }
        Some(located(node, value))
    }

    /// A humantime duration, positive and bounded.
    pub fn duration(&mut self, name: &str) -> Option<Duration> {
        let (text, loc) = self.raw_str(name, FieldType::Duration)?;
        self.cx.duration(&text, loc, name)
    }

    /// A Prometheus duration as written and parsed; the default when absent or invalid.
    pub fn prom_duration(&mut self, name: &str, default: &str) -> (String, Duration) {
        let fallback = || (default.to_string(), crate::duration::parse(default).unwrap_or_default());
        let Some((text, loc)) = self.raw_str(name, FieldType::PromDuration) else {
            return fallback();
        };
        match crate::duration::parse(&text) {
            Ok(d) if d.is_zero() => {
                self.err(loc, format!("{name} must be greater than zero"), None);
                fallback()
            }
            Ok(d) if d > MAX_PROM_DURATION => {
                self.err(loc, format!("{name} `{}` is longer than 100 years", text.trim()), None);
                fallback()
            }
            Ok(d) => (text.trim().to_string(), d),
            Err(e) => {
                self.err(
                    loc,
                    format!("invalid {name}: {e}"),
                    Some("write a Prometheus duration such as `5m`, `7d` or `1w`".to_string()),
                );
                fallback()
            }
        }
    }

    /// A list of strings as written (no expansion), with each item's location.
    pub fn list(&mut self, name: &str) -> Option<Sp<Vec<(String, Loc)>>> {
        let node = self.node(name, FieldType::StrList)?;
        let Node::Seq(items) = node.get() else {
            self.type_error(name, node, "a list of strings");
            return None;
        };
        let mut out = Vec::new();
        for item in items {
            match Self::text_of(item.get()) {
                Some(s) => out.push((s, item.loc())),
                None => self.type_error(name, item, "a list of strings"),
            }
        }
        Some(located(node, out))
    }

    /// A list of strings as written, without locations.
    pub fn strings(&mut self, name: &str) -> Option<Vec<String>> {
        self.list(name)
            .map(|l| l.into_inner().into_iter().map(|(s, _)| s).collect())
    }

    /// Names written as a list (kept as written, like [`Self::strings`]) or
    /// as one comma-separated string, which is `${VAR}` expanded and split
    /// on commas with each item trimmed: `"${GRAFANA_DASHBOARDS:-}"` names
    /// none when the variable is unset or blank. An empty item (`a,,b`, a
    /// trailing comma) is an error at the value rather than a silent skip,
    /// since it usually means a name was lost.
    pub fn names(&mut self, name: &str) -> Option<Vec<String>> {
        let node = self.node(name, FieldType::Names)?;
        if let Node::Seq(items) = node.get() {
            let mut out = Vec::new();
            for item in items {
                match Self::text_of(item.get()) {
                    Some(s) => out.push(s),
                    None => self.type_error(name, item, "a list of strings or a comma-separated string"),
                }
            }
            return Some(out);
        }
        let Some(text) = Self::text_of(node.get()) else {
            self.type_error(name, node, "a list of strings or a comma-separated string");
            return None;
        };
        let loc = node.loc();
        let (value, vars, missing) = self.cx.expand(&text, loc);
        self.missing.extend(missing);
        if value.trim().is_empty() {
            return Some(Vec::new());
        }
        let items: Vec<String> = value.split(',').map(|s| s.trim().to_string()).collect();
        if let Some(at) = items.iter().position(String::is_empty) {
            let from = match vars.as_slice() {
                [] => String::new(),
                vs => format!(
                    " (from {})",
                    vs.iter().map(|v| format!("`{v}`")).collect::<Vec<_>>().join(", ")
                ),
            };
            self.err(
                loc,
                format!(
                    "`{name}`{from} has an empty item at position {} of `{}`",
                    at + 1,
                    value.trim()
                ),
                Some(
                    "separate the names with single commas, e.g. `Overview, Backend`, or leave the value empty for all"
                        .to_string(),
                ),
            );
            return None;
        }
        Some(items)
    }

    /// HTTP status codes, each 100–599.
    pub fn statuses(&mut self, name: &str) -> Option<Vec<u16>> {
        let node = self.node(name, FieldType::StatusList)?;
        let Node::Seq(items) = node.get() else {
            self.type_error(name, node, "a list of status codes");
            return None;
        };
        let mut out = Vec::new();
        for item in items {
            match item.get() {
                Node::Int(code) if (100..=599).contains(code) => out.push(*code as u16),
                Node::Int(code) => self.err(
                    item.loc(),
                    format!("`{code}` is not an HTTP status code"),
                    Some("status codes are 100–599".to_string()),
                ),
                _ => self.type_error(name, item, "a list of status codes"),
            }
        }
        Some(out)
    }

    /// A mapping of strings to strings.
    pub fn str_map(&mut self, name: &str) -> Option<Vec<(String, String, Loc)>> {
        let node = self.node(name, FieldType::StrMap)?;
        let Node::Map(entries) = node.get() else {
            self.type_error(name, node, "a mapping");
            return None;
        };
        let mut out = Vec::new();
        for (k, v) in entries {
            match Self::text_of(v.get()) {
                Some(s) => out.push((k.get().clone(), s, v.loc())),
                None => self.type_error(name, v, "a mapping of strings"),
            }
        }
        Some(out)
    }

    /// A mapping whose values are any JSON value.
    pub fn json_map(&mut self, name: &str) -> Option<BTreeMap<String, serde_json::Value>> {
        let node = self.node(name, FieldType::JsonMap)?;
        let Node::Map(entries) = node.get() else {
            self.type_error(name, node, "a mapping");
            return None;
        };
        let mut out = BTreeMap::new();
        for (k, v) in entries {
            match to_json(v) {
                Ok(j) => {
                    out.insert(k.get().clone(), j);
                }
                Err(loc) => self.err(
                    loc,
                    format!("`{name}` holds a number JSON cannot carry (NaN or infinite)"),
                    None,
                ),
            }
        }
        Some(out)
    }

    /// A field naming a secret, resolved.
    pub fn secret(&mut self, name: &str) -> Option<String> {
        let (value, loc) = self.raw_str(name, FieldType::SecretRef)?;
        let id = self.id().to_string();
        let secrets = self.secrets;
        self.cx.reference(
            &value,
            loc,
            secrets.keys(),
            "secret",
            "secrets",
            &format!("check `{id}`"),
        )
    }

    /// A field naming a target, resolved.
    pub fn target(&mut self, name: &str) -> Option<String> {
        let (value, loc) = self.raw_str(name, FieldType::TargetRef)?;
        let id = self.id().to_string();
        let targets = self.targets;
        self.cx.reference(
            &value,
            loc,
            targets.keys(),
            "target",
            "targets",
            &format!("check `{id}`"),
        )
    }

    /// Expands `${VAR}` in text that came from a list item or map value.
    pub fn expand(&mut self, text: &str, loc: Loc) -> String {
        let (value, _, missing) = self.cx.expand(text, loc);
        self.missing.extend(missing);
        value
    }
}

fn located<T, U>(node: &Sp<T>, value: U) -> Sp<U> {
    Sp(serde_saphyr::Spanned::new(value, node.0.referenced, node.0.defined))
}

fn to_json(node: &Sp<Node>) -> Result<serde_json::Value, Loc> {
    use serde_json::Value;
    Ok(match node.get() {
        Node::Null => Value::Null,
        Node::Bool(b) => Value::Bool(*b),
        Node::Int(i) => match i64::try_from(*i) {
            Ok(v) => Value::from(v),
            Err(_) => Value::from(*i as f64),
        },
        Node::Float(f) => serde_json::Number::from_f64(*f).map(Value::Number).ok_or(node.loc())?,
        Node::Str(s) => Value::String(s.clone()),
        Node::Seq(items) => Value::Array(items.iter().map(to_json).collect::<Result<_, _>>()?),
        Node::Map(entries) => {
            let mut m = serde_json::Map::new();
            for (k, v) in entries {
                m.insert(k.get().clone(), to_json(v)?);
            }
            Value::Object(m)
        }
    })
}
