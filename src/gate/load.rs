//! Loads a gate file and validates it, collecting every problem with its
//! `file:line:column` and a hint saying what to write instead.
//!
//! Errors are collected rather than returned at the first one: a gate author
//! fixing a file wants the whole list in one run.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::SecretString;

use super::interpolate::{Env, interpolate};
use super::model::*;
use super::raw::{Loc, RawCheck, RawGate, Sp};

/// Gate G, compiled into the binary so `medianest-gate check` works anywhere.
pub const BUILTIN_GATE_G: &str = include_str!("../../gates/gate-g.yaml");

/// Gate files larger than this are refused before parsing.
const MAX_GATE_BYTES: u64 = 8 * 1024 * 1024;

/// Where a gate comes from.
#[derive(Debug, Clone)]
pub enum Source {
    Builtin,
    File(PathBuf),
}

impl Source {
    pub fn display_name(&self) -> String {
        match self {
            Source::Builtin => "gates/gate-g.yaml (built-in)".to_string(),
            Source::File(p) => p.display().to_string(),
        }
    }
}

/// One problem in a gate file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    pub file: String,
    /// 0 when the problem concerns the whole file (e.g. it cannot be read).
    pub line: u64,
    pub column: u64,
    pub message: String,
    pub hint: Option<String>,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file, self.message)?;
        } else {
            write!(f, "{}:{}:{}: {}", self.file, self.line, self.column, self.message)?;
        }
        if let Some(hint) = &self.hint {
            write!(f, "\n  help: {hint}")?;
        }
        Ok(())
    }
}

/// Every problem found in a gate file, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadErrors(pub Vec<LoadError>);

impl fmt::Display for LoadErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for LoadErrors {}

/// Reads and validates a gate from a file or the built-in Gate G.
pub fn load_source(source: &Source, env: &Env) -> Result<Gate, LoadErrors> {
    let name = source.display_name();
    match source {
        Source::Builtin => load(&name, BUILTIN_GATE_G, env),
        Source::File(path) => {
            let text = read_capped(path).map_err(|message| {
                LoadErrors(vec![LoadError {
                    file: name.clone(),
                    line: 0,
                    column: 0,
                    message,
                    hint: None,
                }])
            })?;
            load(&name, &text, env)
        }
    }
}

fn read_capped(path: &Path) -> Result<String, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read gate file: {e}"))?;
    if meta.is_dir() {
        return Err("is a directory, not a gate file".into());
    }
    if meta.len() > MAX_GATE_BYTES {
        return Err(format!(
            "gate file is {} bytes; the limit is {MAX_GATE_BYTES}",
            meta.len()
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read gate file: {e}"))?;
    String::from_utf8(bytes).map_err(|e| {
        let offset = e.utf8_error().valid_up_to();
        format!("not valid UTF-8 (first bad byte at offset {offset})")
    })
}

/// Parses and validates gate text; `file` names it in errors.
pub fn load(file: &str, text: &str, env: &Env) -> Result<Gate, LoadErrors> {
    let options = serde_saphyr::options! {
        strict_booleans: true,
    };
    let raw: RawGate =
        serde_saphyr::from_str_with_options(text, options).map_err(|e| LoadErrors(vec![yaml_error(file, &e)]))?;
    let mut cx = Cx {
        file,
        env,
        errors: Vec::new(),
    };
    let gate = cx.gate(raw);
    if cx.errors.is_empty() {
        Ok(gate)
    } else {
        cx.errors.sort_by_key(|e| (e.line, e.column));
        Err(LoadErrors(cx.errors))
    }
}

/// Turns a YAML/serde error into a located error with a hint where we know one.
fn yaml_error(file: &str, e: &serde_saphyr::Error) -> LoadError {
    let loc: Loc = e.location().map(Loc::from).unwrap_or_default();
    let rendered = e.without_snippet().to_string();
    let first = rendered.lines().next().unwrap_or_default();
    let message = strip_location_prefix(first).to_string();
    let hint = if message.contains("unknown field") {
        Some("remove the field or fix its spelling; `medianest-gate schema gate` lists every field".to_string())
    } else if message.contains("duplicate mapping key") {
        Some("each key may appear once per mapping: merge the two entries".to_string())
    } else if message.contains("missing field") {
        Some("add the field; `medianest-gate schema gate` shows what each block needs".to_string())
    } else {
        None
    };
    let message = message
        .replace(", set DuplicateKeyPolicy in Options if acceptable", "")
        .trim()
        .to_string();
    LoadError {
        file: file.to_string(),
        line: loc.line,
        column: loc.column,
        message: if message.is_empty() {
            "invalid YAML".into()
        } else {
            message
        },
        hint,
    }
}

fn strip_location_prefix(s: &str) -> &str {
    let s = s.strip_prefix("error: ").unwrap_or(s);
    // "line 4 column 5: message"
    if let Some(rest) = s.strip_prefix("line ")
        && let Some((_, msg)) = rest.split_once(": ")
    {
        return msg;
    }
    s
}

struct Cx<'a> {
    file: &'a str,
    env: &'a Env,
    errors: Vec<LoadError>,
}

impl Cx<'_> {
    fn err(&mut self, loc: Loc, message: impl Into<String>, hint: impl Into<Option<String>>) {
        self.errors.push(LoadError {
            file: self.file.to_string(),
            line: loc.line,
            column: loc.column,
            message: message.into(),
            hint: hint.into(),
        });
    }

    /// Expands `${VAR}` in a string value; a syntax error is recorded and the raw text kept.
    fn expand(&mut self, sp: &Sp<String>) -> (String, Vec<String>, Vec<MissingVar>) {
        match interpolate(sp.get(), self.env) {
            Ok(e) => {
                let missing = e
                    .missing
                    .into_iter()
                    .map(|var| MissingVar { var, loc: sp.loc() })
                    .collect();
                (e.value, e.vars, missing)
            }
            Err(e) => {
                self.err(
                    sp.loc(),
                    format!(
                        "invalid variable reference at character {}: {}",
                        e.offset + 1,
                        e.message
                    ),
                    None,
                );
                (sp.get().clone(), Vec::new(), Vec::new())
            }
        }
    }

    fn duration(&mut self, sp: &Sp<String>, what: &str) -> Option<Duration> {
        match humantime::parse_duration(sp.get().trim()) {
            Ok(d) if d.is_zero() => {
                self.err(
                    sp.loc(),
                    format!("{what} must be greater than zero"),
                    Some("write e.g. `5s` or `750ms`".to_string()),
                );
                None
            }
            Ok(d) => Some(d),
            Err(e) => {
                self.err(
                    sp.loc(),
                    format!("invalid {what} `{}`: {e}", sp.get()),
                    Some("write a duration such as `5s`, `750ms` or `1m30s`".to_string()),
                );
                None
            }
        }
    }

    fn gate(&mut self, raw: RawGate) -> Gate {
        if *raw.schema_version.get() != 1 {
            self.err(
                raw.schema_version.loc(),
                format!("unsupported schema_version {}", raw.schema_version.get()),
                Some("this version of medianest-gate reads `schema_version: 1`".to_string()),
            );
        }
        let pass = self.pass_rule(raw.pass.as_ref());
        let default_timeout = raw
            .defaults
            .as_ref()
            .and_then(|d| d.timeout.as_ref())
            .and_then(|t| self.duration(t, "timeout"));

        let mut targets = BTreeMap::new();
        for (name, value) in &raw.targets {
            let (url, vars, missing) = self.expand(value);
            if missing.is_empty() {
                self.validate_target_url(name, &url, value.loc());
            }
            targets.insert(
                name.clone(),
                Target {
                    name: name.clone(),
                    url,
                    vars,
                    missing,
                    loc: value.loc(),
                },
            );
        }
        let mut secrets = BTreeMap::new();
        for (name, value) in &raw.secrets {
            let (expanded, vars, missing) = self.expand(value);
            let placeholder = match vars.first() {
                Some(var) => format!("${var}"),
                None => format!("${}", name.to_ascii_uppercase()),
            };
            secrets.insert(
                name.clone(),
                Secret {
                    name: name.clone(),
                    value: SecretString::from(expanded),
                    placeholder,
                    missing,
                    loc: value.loc(),
                },
            );
        }

        let mut requirements = Vec::new();
        let mut req_ids: HashMap<String, Loc> = HashMap::new();
        let mut check_ids: HashMap<String, Loc> = HashMap::new();
        let reqs_loc = raw.requirements.loc();
        let raw_reqs = raw.requirements.0.value;
        if raw_reqs.is_empty() {
            self.err(
                reqs_loc,
                "the gate has no requirements",
                Some("add at least one requirement with a check".to_string()),
            );
        }
        for rr in raw_reqs {
            let id = rr.id.get().clone();
            self.check_id_syntax(&id, rr.id.loc(), "requirement");
            if let Some(first) = req_ids.get(&id) {
                let first = *first;
                self.err(
                    rr.id.loc(),
                    format!("duplicate requirement id `{id}` (first defined at line {})", first.line),
                    Some("requirement ids must be unique: rename one of them".to_string()),
                );
            } else {
                req_ids.insert(id.clone(), rr.id.loc());
            }
            let weight = *rr.weight.get();
            if !weight.is_finite() || weight < 0.0 {
                self.err(
                    rr.weight.loc(),
                    format!("requirement `{id}` has weight {weight}; weights must be zero or positive"),
                    Some("use 0 for an advisory requirement".to_string()),
                );
            }
            if rr.checks.get().is_empty() {
                self.err(
                    rr.checks.loc(),
                    format!("requirement `{id}` has no checks"),
                    Some("add a check, or remove the requirement".to_string()),
                );
            }
            let mut checks = Vec::new();
            for rc in rr.checks.0.value {
                let cid = rc.id.get().clone();
                self.check_id_syntax(&cid, rc.id.loc(), "check");
                if let Some(first) = check_ids.get(&cid) {
                    let first = *first;
                    self.err(
                        rc.id.loc(),
                        format!("duplicate check id `{cid}` (first defined at line {})", first.line),
                        Some("check ids must be unique across the gate: rename one of them".to_string()),
                    );
                } else if req_ids.contains_key(&cid) && cid != id {
                    self.err(
                        rc.id.loc(),
                        format!("check id `{cid}` is also a requirement id"),
                        Some("`--only`/`--skip` accept both kinds of id, so they must not collide".to_string()),
                    );
                } else {
                    check_ids.insert(cid.clone(), rc.id.loc());
                }
                if let Some(check) = self.check(rc, &targets, &secrets) {
                    checks.push(check);
                }
            }
            requirements.push(Requirement {
                id,
                name: rr.name.get().clone(),
                description: rr.description,
                weight: if weight.is_finite() { weight.max(0.0) } else { 0.0 },
                severity: rr.severity.unwrap_or_default().into(),
                required: rr.required.unwrap_or(false),
                checks,
            });
        }
        if !requirements.is_empty() && requirements.iter().all(|r| r.weight == 0.0) {
            self.err(
                reqs_loc,
                "every requirement has weight 0, so no score can be computed",
                Some("give at least one requirement a positive weight".to_string()),
            );
        }
        let gate = Gate {
            id: raw.id.get().clone(),
            name: raw.name.get().clone(),
            description: raw.description,
            source: self.file.to_string(),
            pass,
            targets,
            secrets,
            default_timeout,
            requirements,
        };
        self.check_needs(&gate, &check_ids);
        gate
    }

    fn pass_rule(&mut self, raw: Option<&super::raw::RawPass>) -> PassRule {
        let mut rule = PassRule {
            min_score: 85.0,
            required_must_pass: true,
        };
        if let Some(p) = raw {
            if let Some(ms) = &p.min_score {
                let v = *ms.get();
                if !(0.0..=100.0).contains(&v) {
                    self.err(
                        ms.loc(),
                        format!("min_score {v} is outside 0–100"),
                        Some("write a percentage, e.g. `min_score: 85`".to_string()),
                    );
                } else {
                    rule.min_score = v;
                }
            }
            if let Some(r) = p.required_must_pass {
                rule.required_must_pass = r;
            }
        }
        rule
    }

    fn validate_target_url(&mut self, name: &str, url: &str, loc: Loc) {
        match url::Url::parse(url) {
            Ok(u) if matches!(u.scheme(), "http" | "https" | "unix" | "tcp") => {}
            Ok(u) => self.err(
                loc,
                format!("target `{name}` has unsupported scheme `{}`", u.scheme()),
                Some("use http://, https://, or unix:// / tcp:// for Docker".to_string()),
            ),
            Err(e) => self.err(
                loc,
                format!("target `{name}` is not a valid URL (`{url}`): {e}"),
                Some("write an absolute URL such as `http://localhost:3000`".to_string()),
            ),
        }
    }

    fn check_id_syntax(&mut self, id: &str, loc: Loc, what: &str) {
        let ok = !id.is_empty()
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !ok {
            self.err(
                loc,
                format!("invalid {what} id `{id}`"),
                Some("ids use letters, digits, `-`, `_` and `.`, e.g. `metrics-auth`".to_string()),
            );
        }
    }

    fn check(
        &mut self,
        rc: RawCheck,
        targets: &BTreeMap<String, Target>,
        secrets: &BTreeMap<String, Secret>,
    ) -> Option<Check> {
        let id = rc.id.get().clone();
        let kind = rc.kind.get().as_str();
        if !KINDS.contains(&kind) {
            self.err(
                rc.kind.loc(),
                format!("unknown check kind `{kind}`"),
                Some(format!("known kinds: {}", KINDS.join(", "))),
            );
            return None;
        }
        let allowed: &[&str] = match kind {
            "http" => &[
                "path",
                "token",
                "expect_status",
                "samples",
                "max_latency",
                "latency_stat",
                "expect_json",
            ],
            _ => &["path", "token", "expect_families", "family_types", "anonymous_status"],
        };
        for (field, loc) in kind_fields(&rc) {
            if !allowed.contains(&field) {
                self.err(
                    loc,
                    format!("field `{field}` does not apply to kind `{kind}`"),
                    Some(format!("`{kind}` checks take: {}", allowed.join(", "))),
                );
            }
        }

        let target = match &rc.target {
            Some(t) => self.reference(t, targets.keys(), "target", "targets", &id),
            None => {
                self.err(
                    rc.id.loc(),
                    format!("check `{id}` of kind `{kind}` needs a `target`"),
                    Some("add `target: <name of an entry in targets>`".to_string()),
                );
                None
            }
        };
        let token = self.secret_ref(&rc.token, secrets, &id);
        let weight = match &rc.weight {
            Some(w) if !w.get().is_finite() || *w.get() < 0.0 => {
                self.err(
                    w.loc(),
                    format!("check `{id}` has weight {}; weights must be zero or positive", w.get()),
                    None,
                );
                0.0
            }
            Some(w) => *w.get(),
            None => 1.0,
        };
        let timeout = rc.timeout.as_ref().and_then(|t| self.duration(t, "timeout"));
        let waiver = rc.waiver.as_ref().and_then(|w| {
            let exp = w.expires.get().trim();
            if !is_date(exp) {
                self.err(
                    w.expires.loc(),
                    format!("waiver expiry `{exp}` is not a date"),
                    Some("write `expires: YYYY-MM-DD`".to_string()),
                );
                return None;
            }
            if w.reason.get().trim().is_empty() {
                self.err(
                    w.reason.loc(),
                    "a waiver needs a reason",
                    Some("say why the check may fail and who accepted it".to_string()),
                );
            }
            Some(Waiver {
                reason: w.reason.get().clone(),
                expires: exp.to_string(),
            })
        });
        let mut missing = Vec::new();
        let path = match &rc.path {
            Some(p) if !matches!(kind, "http" | "metrics_endpoint") => p.get().clone(),
            Some(p) => {
                let (v, _, m) = self.expand(p);
                missing.extend(m);
                if !v.starts_with('/') {
                    self.err(
                        p.loc(),
                        format!("path `{v}` must start with `/`"),
                        Some(format!("write `/{v}`")),
                    );
                }
                v
            }
            None if kind == "metrics_endpoint" => "/metrics".to_string(),
            None => "/".to_string(),
        };
        let spec = match kind {
            "http" => CheckSpec::Http(self.http_spec(&rc, path, token)),
            "metrics_endpoint" => CheckSpec::MetricsEndpoint(self.metrics_spec(&rc, path, token)),
            "prometheus_targets" => CheckSpec::PrometheusTargets(self.targets_spec(&rc, targets, &mut missing)),
            "promql" => CheckSpec::Promql(self.promql_spec(&rc, &mut missing)),
            "latency_slo" => CheckSpec::LatencySlo(self.latency_spec(&rc, &mut missing)),
            "prometheus_rules" => CheckSpec::PrometheusRules(self.rules_spec(&rc)),
            "grafana" => CheckSpec::Grafana(self.grafana_spec(&rc, token, secrets)),
            "loki" => CheckSpec::Loki(self.loki_spec(&rc, &mut missing)),
            "docker_container" => CheckSpec::DockerContainer(self.container_spec(&rc, targets, &mut missing)),
            _ => CheckSpec::DockerNetwork(self.network_spec(&rc, &mut missing)),
        };
        Some(Check {
            id,
            name: rc.name,
            target,
            weight,
            timeout,
            needs: rc.needs.iter().map(|n| n.get().clone()).collect(),
            waiver,
            spec,
            missing,
            loc: rc.id.loc(),
        })
    }

    fn statuses(&mut self, sp: &Sp<Vec<u16>>) -> Vec<u16> {
        for s in sp.get() {
            if !(100..=599).contains(s) {
                self.err(
                    sp.loc(),
                    format!("`{s}` is not an HTTP status code"),
                    Some("status codes are 100–599".to_string()),
                );
            }
        }
        sp.get().clone()
    }

    fn http_spec(&mut self, rc: &RawCheck, path: String, token: Option<String>) -> HttpSpec {
        let expect_status = rc.expect_status.as_ref().map(|s| self.statuses(s)).unwrap_or_default();
        let samples = match &rc.samples {
            Some(s) if *s.get() == 0 || *s.get() > 1000 => {
                self.err(
                    s.loc(),
                    format!("samples must be between 1 and 1000, not {}", s.get()),
                    None,
                );
                1
            }
            Some(s) => *s.get(),
            None => 1,
        };
        let max_latency = rc.max_latency.as_ref().and_then(|d| self.duration(d, "max_latency"));
        let latency_stat = match rc.latency_stat.as_ref().map(|s| (s.get().as_str(), s.loc())) {
            None | Some(("max", _)) => LatencyStat::Max,
            Some(("p95", _)) => LatencyStat::P95,
            Some((other, loc)) => {
                self.err(
                    loc,
                    format!("unknown latency_stat `{other}`"),
                    Some("write `max` or `p95`".to_string()),
                );
                LatencyStat::Max
            }
        };
        HttpSpec {
            path,
            token,
            expect_status,
            samples,
            max_latency,
            latency_stat,
            expect_json: rc.expect_json.as_ref().map(|j| j.get().clone()).unwrap_or_default(),
        }
    }

    fn metrics_spec(&mut self, rc: &RawCheck, path: String, token: Option<String>) -> MetricsSpec {
        const TYPES: &[&str] = &[
            "counter",
            "gauge",
            "histogram",
            "summary",
            "untyped",
            "unknown",
            "stateset",
            "info",
            "gaugehistogram",
        ];
        let mut family_types = BTreeMap::new();
        if let Some(ft) = &rc.family_types {
            for (name, ty) in ft.get() {
                if TYPES.contains(&ty.as_str()) {
                    family_types.insert(name.clone(), ty.clone());
                } else {
                    self.err(
                        ft.loc(),
                        format!("unknown metric type `{ty}` for `{name}`"),
                        Some(format!("types: {}", TYPES.join(", "))),
                    );
                }
            }
        }
        let expect_families: Vec<String> = rc.expect_families.as_ref().map(|f| f.get().clone()).unwrap_or_default();
        for f in &expect_families {
            if !family_types.contains_key(f) && f.ends_with("_total") {
                family_types.insert(f.clone(), "counter".to_string());
            }
        }
        if rc.token.is_none() {
            self.err(
                rc.id.loc(),
                format!("metrics_endpoint check `{}` needs a `token`", rc.id.get()),
                Some("name the secret holding the bearer token, e.g. `token: metrics_token`".to_string()),
            );
        }
        let anonymous_status = rc
            .anonymous_status
            .as_ref()
            .map(|s| self.statuses(s))
            .unwrap_or_else(|| vec![401, 403]);
        MetricsSpec {
            path,
            token,
            expect_families,
            family_types,
            anonymous_status,
        }
    }

    /// Resolves a field naming a secret.
    fn secret_ref(
        &mut self,
        field: &Option<Sp<String>>,
        secrets: &BTreeMap<String, Secret>,
        id: &str,
    ) -> Option<String> {
        let t = field.as_ref()?;
        self.reference(t, secrets.keys(), "secret", "secrets", id)
    }

    /// Resolves a name that must be a key of a gate section (`targets:`,
    /// `secrets:`), or records an error listing the names that exist.
    fn reference<'k>(
        &mut self,
        name: &Sp<String>,
        known: impl Iterator<Item = &'k String>,
        what: &str,
        section: &str,
        id: &str,
    ) -> Option<String> {
        let known: Vec<&str> = known.map(String::as_str).collect();
        if known.contains(&name.get().as_str()) {
            return Some(name.get().clone());
        }
        self.err(
            name.loc(),
            format!("check `{id}` names unknown {what} `{}`", name.get()),
            Some(if known.is_empty() {
                format!("declare it under `{section}:`")
            } else {
                format!("declare it under `{section}:`, or use one of: {}", known.join(", "))
            }),
        );
        None
    }

    /// A required string field, expanded; records an error when absent.
    fn required_str(
        &mut self,
        rc: &RawCheck,
        field: &Option<Sp<String>>,
        name: &str,
        example: &str,
        missing: &mut Vec<MissingVar>,
    ) -> String {
        match field {
            Some(v) => {
                let (value, _, m) = self.expand(v);
                missing.extend(m);
                if value.trim().is_empty() && missing.is_empty() {
                    self.err(
                        v.loc(),
                        format!("`{name}` is empty"),
                        Some(format!("write e.g. `{name}: {example}`")),
                    );
                }
                value
            }
            None => {
                self.err(
                    rc.id.loc(),
                    format!("check `{}` of kind `{}` needs `{name}`", rc.id.get(), rc.kind.get()),
                    Some(format!("add `{name}: {example}`")),
                );
                String::new()
            }
        }
    }

    fn optional_str(&mut self, field: &Option<Sp<String>>, default: &str, missing: &mut Vec<MissingVar>) -> String {
        match field {
            Some(v) => {
                let (value, _, m) = self.expand(v);
                missing.extend(m);
                value
            }
            None => default.to_string(),
        }
    }

    fn prom_duration(&mut self, field: &Option<Sp<String>>, default: &str, what: &str) -> (String, Duration) {
        let Some(sp) = field else {
            return (default.to_string(), crate::duration::parse(default).unwrap_or_default());
        };
        match crate::duration::parse(sp.get()) {
            Ok(d) if !d.is_zero() => (sp.get().trim().to_string(), d),
            Ok(_) => {
                self.err(sp.loc(), format!("{what} must be greater than zero"), None);
                (default.to_string(), crate::duration::parse(default).unwrap_or_default())
            }
            Err(e) => {
                self.err(
                    sp.loc(),
                    format!("invalid {what}: {e}"),
                    Some("write a Prometheus duration such as `5m`, `7d` or `1w`".to_string()),
                );
                (default.to_string(), crate::duration::parse(default).unwrap_or_default())
            }
        }
    }

    fn targets_spec(
        &mut self,
        rc: &RawCheck,
        targets: &BTreeMap<String, Target>,
        missing: &mut Vec<MissingVar>,
    ) -> TargetsSpec {
        let job = self.required_str(rc, &rc.job, "job", "medianest-backend", missing);
        let backend_target = rc
            .backend_target
            .as_ref()
            .and_then(|t| self.reference(t, targets.keys(), "target", "targets", rc.id.get()));
        let min_targets = match &rc.min_targets {
            Some(n) if *n.get() == 0 => {
                self.err(n.loc(), "min_targets must be at least 1", None);
                1
            }
            Some(n) => *n.get(),
            None => 1,
        };
        TargetsSpec {
            job,
            min_targets,
            backend_target,
        }
    }

    fn promql_spec(&mut self, rc: &RawCheck, missing: &mut Vec<MissingVar>) -> PromqlSpec {
        let query = self.required_str(rc, &rc.query, "query", "up{job=\"api\"}", missing);
        let op = match &rc.op {
            Some(o) => Op::parse(o.get().trim()).unwrap_or_else(|| {
                self.err(
                    o.loc(),
                    format!("unknown operator `{}`", o.get()),
                    Some("use <, <=, >, >= or ==".to_string()),
                );
                Op::Lt
            }),
            None => {
                self.err(
                    rc.id.loc(),
                    format!("promql check `{}` needs `op`", rc.id.get()),
                    Some("add e.g. `op: \"<\"`".to_string()),
                );
                Op::Lt
            }
        };
        let threshold = match &rc.threshold {
            Some(t) if t.get().is_finite() => *t.get(),
            Some(t) => {
                self.err(t.loc(), "threshold must be a finite number", None);
                0.0
            }
            None => {
                self.err(
                    rc.id.loc(),
                    format!("promql check `{}` needs `threshold`", rc.id.get()),
                    Some("add e.g. `threshold: 0.05`".to_string()),
                );
                0.0
            }
        };
        PromqlSpec { query, op, threshold }
    }

    fn latency_spec(&mut self, rc: &RawCheck, missing: &mut Vec<MissingVar>) -> LatencySpec {
        let metric = self.required_str(rc, &rc.metric, "metric", "http_request_duration_seconds", missing);
        let metric = metric.strip_suffix("_bucket").map(str::to_string).unwrap_or(metric);
        let selector = self.optional_str(&rc.selector, "", missing);
        let selector = selector
            .trim()
            .trim_start_matches('{')
            .trim_end_matches('}')
            .to_string();
        let quantile = match &rc.quantile {
            Some(q) if *q.get() > 0.0 && *q.get() < 1.0 => *q.get(),
            Some(q) => {
                self.err(
                    q.loc(),
                    format!("quantile {} is outside (0, 1)", q.get()),
                    Some("write e.g. `quantile: 0.95`".to_string()),
                );
                0.95
            }
            None => 0.95,
        };
        let max = match &rc.max {
            Some(m) => self.duration(m, "max").unwrap_or_default(),
            None => {
                self.err(
                    rc.id.loc(),
                    format!("latency_slo check `{}` needs `max`", rc.id.get()),
                    Some("add e.g. `max: 600ms`".to_string()),
                );
                Duration::ZERO
            }
        };
        let (window, _) = self.prom_duration(&rc.window, "5m", "window");
        let min_requests = match &rc.min_requests {
            Some(n) if *n.get() >= 0.0 && n.get().is_finite() => *n.get(),
            Some(n) => {
                self.err(n.loc(), "min_requests must be zero or positive", None);
                100.0
            }
            None => 100.0,
        };
        LatencySpec {
            metric,
            selector,
            quantile,
            max,
            window,
            min_requests,
        }
    }

    fn rules_spec(&mut self, rc: &RawCheck) -> RulesSpec {
        let rules = match &rc.rules {
            Some(r) if !r.get().is_empty() => r.get().clone(),
            Some(r) => {
                self.err(
                    r.loc(),
                    "`rules` is empty",
                    Some("list the alert names, e.g. `rules: [ApplicationDown]`".to_string()),
                );
                Vec::new()
            }
            None => {
                self.err(
                    rc.id.loc(),
                    format!("prometheus_rules check `{}` needs `rules`", rc.id.get()),
                    Some("add `rules: [ApplicationDown, HighErrorRate]`".to_string()),
                );
                Vec::new()
            }
        };
        RulesSpec { rules }
    }

    fn grafana_spec(
        &mut self,
        rc: &RawCheck,
        token: Option<String>,
        secrets: &BTreeMap<String, Secret>,
    ) -> GrafanaSpec {
        let id = rc.id.get().clone();
        let user = self.secret_ref(&rc.user, secrets, &id);
        let password = self.secret_ref(&rc.password, secrets, &id);
        if user.is_some() != password.is_some() {
            self.err(
                rc.id.loc(),
                "`user` and `password` go together",
                Some("name both secrets, or neither".to_string()),
            );
        }
        GrafanaSpec {
            token,
            user,
            password,
            min_dashboards: rc.min_dashboards.as_ref().map(|n| *n.get()).unwrap_or(1),
            dashboards: rc.dashboards.as_ref().map(|d| d.get().clone()).unwrap_or_default(),
            datasources: rc.datasources.as_ref().map(|d| d.get().clone()).unwrap_or_default(),
        }
    }

    fn loki_spec(&mut self, rc: &RawCheck, missing: &mut Vec<MissingVar>) -> LokiSpec {
        let (_, min_retention) = self.prom_duration(&rc.min_retention, "7d", "min_retention");
        let selector = self.optional_str(&rc.selector, "", missing);
        if !selector.is_empty()
            && !selector.trim_start().starts_with('{')
            && let Some(s) = &rc.selector
        {
            self.err(
                s.loc(),
                format!("`{selector}` is not a LogQL stream selector"),
                Some("write e.g. `selector: '{job=\"medianest-app\"}'`".to_string()),
            );
        }
        let (_, logs_window) = self.prom_duration(&rc.logs_window, "1h", "logs_window");
        let tenant = self.optional_str(&rc.tenant, "", missing);
        LokiSpec {
            min_retention,
            selector,
            logs_window,
            tenant,
        }
    }

    fn container_spec(
        &mut self,
        rc: &RawCheck,
        targets: &BTreeMap<String, Target>,
        missing: &mut Vec<MissingVar>,
    ) -> ContainerSpec {
        let container = self.required_str(rc, &rc.container, "container", "medianest-grafana", missing);
        let container = container.trim_start_matches('/').to_string();
        let start_grace = rc
            .start_grace
            .as_ref()
            .and_then(|g| self.duration(g, "start_grace"))
            .unwrap_or(Duration::from_secs(60));
        let log_lines = match &rc.log_lines {
            Some(n) if *n.get() > 200 => {
                self.err(n.loc(), "log_lines is at most 200", None);
                200
            }
            Some(n) => *n.get(),
            None => 20,
        };
        let serves = rc
            .serves
            .as_ref()
            .and_then(|t| self.reference(t, targets.keys(), "target", "targets", rc.id.get()));
        ContainerSpec {
            container,
            max_restarts: rc.max_restarts.as_ref().map(|n| *n.get()).unwrap_or(3),
            start_grace,
            log_lines,
            serves,
        }
    }

    fn network_spec(&mut self, rc: &RawCheck, missing: &mut Vec<MissingVar>) -> NetworkSpec {
        let mut containers = Vec::new();
        match &rc.containers {
            Some(list) if list.get().len() >= 2 => {
                for name in list.get() {
                    match crate::gate::interpolate(name, self.env) {
                        Ok(e) => {
                            missing.extend(e.missing.into_iter().map(|var| MissingVar { var, loc: list.loc() }));
                            containers.push(e.value.trim_start_matches('/').to_string());
                        }
                        Err(e) => self.err(
                            list.loc(),
                            format!("invalid variable reference in `{name}`: {}", e.message),
                            None,
                        ),
                    }
                }
            }
            Some(list) => self.err(
                list.loc(),
                "`containers` needs at least two names",
                Some("list the containers that must share a network".to_string()),
            ),
            None => self.err(
                rc.id.loc(),
                format!("docker_network check `{}` needs `containers`", rc.id.get()),
                Some("add `containers: [medianest-prometheus, medianest-backend]`".to_string()),
            ),
        }
        NetworkSpec { containers }
    }

    /// Unknown `needs` and cycles, each reported at the `needs` entry.
    fn check_needs(&mut self, gate: &Gate, ids: &HashMap<String, Loc>) {
        let mut graph: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (_, c) in gate.checks() {
            for n in &c.needs {
                if !ids.contains_key(n) {
                    self.err(
                        c.loc,
                        format!("check `{}` needs unknown check `{n}`", c.id),
                        Some("`needs` lists ids of other checks in this gate".to_string()),
                    );
                } else if n == &c.id {
                    self.err(
                        c.loc,
                        format!("check `{}` needs itself", c.id),
                        Some("remove it from its own `needs`".to_string()),
                    );
                }
            }
            graph.insert(
                &c.id,
                c.needs
                    .iter()
                    .map(String::as_str)
                    .filter(|n| ids.contains_key(*n))
                    .collect(),
            );
        }
        // Depth-first search with colours; each cycle is reported once.
        let mut state: HashMap<&str, u8> = HashMap::new();
        let mut reported: BTreeSet<Vec<String>> = BTreeSet::new();
        for start in graph.keys().copied() {
            let mut stack: Vec<(&str, usize)> = vec![(start, 0)];
            let mut path: Vec<&str> = Vec::new();
            if state.get(start).copied().unwrap_or(0) != 0 {
                continue;
            }
            while let Some((node, idx)) = stack.pop() {
                if idx == 0 {
                    state.insert(node, 1);
                    path.push(node);
                }
                let next = graph.get(node).and_then(|v| v.get(idx)).copied();
                match next {
                    Some(n) => {
                        stack.push((node, idx + 1));
                        match state.get(n).copied().unwrap_or(0) {
                            0 => stack.push((n, 0)),
                            1 if n != node => {
                                let pos = path.iter().position(|p| *p == n).unwrap_or(0);
                                let mut cycle: Vec<String> = path[pos..].iter().map(|s| s.to_string()).collect();
                                let mut key = cycle.clone();
                                key.sort();
                                if reported.insert(key) {
                                    cycle.push(n.to_string());
                                    let loc = gate.find_check(n).map(|(_, c)| c.loc).unwrap_or_default();
                                    self.err(
                                        loc,
                                        format!("`needs` cycle: {}", cycle.join(" → ")),
                                        Some("a check cannot wait for itself: remove one of these `needs`".to_string()),
                                    );
                                }
                            }
                            _ => {}
                        }
                    }
                    None => {
                        state.insert(node, 2);
                        path.pop();
                    }
                }
            }
        }
    }
}

/// Kind-specific fields that are set, with where they were written.
fn kind_fields(rc: &RawCheck) -> Vec<(&'static str, Loc)> {
    let mut v = Vec::new();
    macro_rules! field {
        ($($name:ident),*) => {$(
            if let Some(f) = &rc.$name { v.push((stringify!($name), f.loc())); }
        )*};
    }
    field!(
        path,
        token,
        expect_status,
        samples,
        max_latency,
        latency_stat,
        expect_json,
        expect_families,
        family_types,
        anonymous_status
    );
    v
}

fn is_date(s: &str) -> bool {
    s.len() == 10 && humantime::parse_rfc3339(&format!("{s}T00:00:00Z")).is_ok()
}

/// Fails when a check that will run depends on an unset variable, naming the
/// variable and where it is referenced.
pub fn ensure_env(gate: &Gate, will_run: &dyn Fn(&str) -> bool) -> Result<(), LoadErrors> {
    let mut errors = Vec::new();
    let mut seen = BTreeSet::new();
    for (_, check) in gate.checks().filter(|(_, c)| will_run(&c.id)) {
        let mut missing: Vec<&MissingVar> = check.missing.iter().collect();
        if let Some(t) = check.target.as_ref().and_then(|t| gate.targets.get(t)) {
            missing.extend(&t.missing);
        }
        for s in check.spec.secrets().into_iter().filter_map(|s| gate.secrets.get(s)) {
            missing.extend(&s.missing);
        }
        for m in missing {
            if seen.insert((m.var.clone(), m.loc.line, m.loc.column)) {
                errors.push(LoadError {
                    file: gate.source.clone(),
                    line: m.loc.line,
                    column: m.loc.column,
                    message: format!(
                        "environment variable `{}` is not set (needed by check `{}`)",
                        m.var, check.id
                    ),
                    hint: Some(format!(
                        "export {}=…, pass `--var {}=…`, give it a default with `${{{}:-…}}`, or `--skip {}`",
                        m.var, m.var, m.var, check.id
                    )),
                });
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        errors.sort_by_key(|e| (e.line, e.column));
        Err(LoadErrors(errors))
    }
}
