//! Loads a gate file and validates it, collecting every problem with its
//! `file:line:column` and a hint saying what to write instead.
//!
//! Errors are collected rather than returned at the first one: a gate author
//! fixing a file wants the whole list in one run.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::path::PathBuf;

use secrecy::SecretString;

use super::fields::{Cx, FieldDef, SpecCx};
use super::interpolate::Env;
use super::model::*;
use super::raw::{COMMON_FIELDS, RawCheck, RawGate};
use crate::probe::KINDS;

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
            let whole_file = |line, column, message: String| {
                LoadErrors(vec![LoadError {
                    file: name.clone(),
                    line,
                    column,
                    message,
                    hint: None,
                }])
            };
            let bytes = crate::fsio::read_capped(path, MAX_GATE_BYTES, "gate files")
                .map_err(|e| whole_file(0, 0, e.to_string()))?;
            let text = std::str::from_utf8(&bytes).map_err(|e| {
                let (line, column) = crate::fsio::utf8_error_location(&bytes, &e);
                let byte = bytes.get(e.valid_up_to()).copied().unwrap_or_default();
                let mut errors = whole_file(
                    line,
                    column,
                    format!("byte 0x{byte:02x} is not valid UTF-8: gate files are UTF-8 text"),
                );
                errors.0[0].hint = Some("save the file as UTF-8 (e.g. `iconv -t UTF-8`)".to_string());
                errors
            })?;
            load(&name, text, env)
        }
    }
}

/// Parses and validates gate text; `file` names it in errors.
pub fn load(file: &str, text: &str, env: &Env) -> Result<Gate, LoadErrors> {
    let options = serde_saphyr::options! {
        strict_booleans: true,
    };
    let raw: RawGate = serde_saphyr::from_str_with_options(text, options)
        .map_err(|e| LoadErrors(vec![super::yaml_errors::map(file, text, &e)]))?;
    let mut cx = Cx {
        file,
        env,
        errors: Vec::new(),
        scope: None,
        variables: BTreeMap::new(),
    };
    let gate = cx.gate(raw);
    if cx.errors.is_empty() {
        Ok(gate)
    } else {
        // An error may quote an expanded value: redact with what the gate
        // declares secret, as the report would.
        let redactor = crate::redact::Redactor::for_gate(&gate);
        for e in &mut cx.errors {
            e.message = redactor.redact(&e.message).into_owned();
            e.hint = e.hint.as_deref().map(|h| redactor.redact(h).into_owned());
        }
        cx.errors.sort_by_key(|e| (e.line, e.column));
        Err(LoadErrors(cx.errors))
    }
}

impl Cx<'_> {
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
            .and_then(|t| self.duration(t.get(), t.loc(), "timeout"));

        let mut targets = BTreeMap::new();
        for (name, value) in &raw.targets {
            self.scope = Some(Scope::Target(name.clone()));
            let (url, vars, missing) = self.expand(value.get(), value.loc());
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
            self.scope = Some(Scope::Secret(name.clone()));
            let (expanded, vars, missing) = self.expand(value.get(), value.loc());
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
                    from_var: !vars.is_empty(),
                    missing,
                    loc: value.loc(),
                },
            );
        }

        self.scope = Some(Scope::WarmUp);
        let warm_up = raw.warm_up.as_ref().and_then(|w| self.warm_up(w, &targets));

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
                self.scope = Some(Scope::Check(cid.clone()));
                if let Some(check) = self.check(rc, &targets, &secrets) {
                    checks.push(check);
                }
            }
            requirements.push(Requirement {
                id,
                name: rr.name.get().clone(),
                weight: if weight.is_finite() { weight.max(0.0) } else { 0.0 },
                severity: rr.severity.unwrap_or_default(),
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
            source: self.file.to_string(),
            pass,
            targets,
            secrets,
            default_timeout,
            warm_up,
            requirements,
            variables: std::mem::take(&mut self.variables).into_values().collect(),
        };
        self.scope = None;
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
        if let Err(why) = check_target_url(url) {
            self.err(
                loc,
                format!("target `{name}` {why}"),
                Some("write an absolute URL such as `http://localhost:3000`, or unix:///path / tcp://host:port for Docker".to_string()),
            );
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
        let Some(fields) = crate::probe::registry::fields_of(kind) else {
            let hint = match crate::suggest::closest(kind, KINDS.iter().copied()) {
                Some(near) => format!("did you mean `{near}`? Known kinds: {}", KINDS.join(", ")),
                None => format!("known kinds: {}", KINDS.join(", ")),
            };
            self.err(rc.kind.loc(), format!("unknown check kind `{kind}`"), Some(hint));
            return None;
        };
        self.misapplied_fields(&rc, kind, fields);

        let target = match &rc.target {
            Some(t) => self.reference(
                t.get(),
                t.loc(),
                targets.keys(),
                "target",
                "targets",
                &format!("check `{id}`"),
            ),
            None => {
                self.err(
                    rc.id.loc(),
                    format!("check `{id}` of kind `{kind}` needs a `target`"),
                    Some("add `target: <name of an entry in targets>`".to_string()),
                );
                None
            }
        };
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
        let timeout = rc
            .timeout
            .as_ref()
            .and_then(|t| self.duration(t.get(), t.loc(), "timeout"));
        let waiver = rc.waiver.as_ref().and_then(|w| self.waiver(w));
        let mut f = SpecCx::new(self, &rc, fields, targets, secrets);
        let spec = CheckSpec::load(kind, &mut f)?;
        let missing = f.missing;
        Some(Check {
            id,
            name: rc.name.clone(),
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

    /// Fields the kind does not take: each is an error naming the kind(s)
    /// it belongs to, or the nearest known field for a typo.
    fn misapplied_fields(&mut self, rc: &RawCheck, kind: &str, fields: &[FieldDef]) {
        let takes: Vec<&str> = fields.iter().map(|f| f.name).collect();
        let takes_list = if takes.is_empty() {
            "no fields besides the common ones".to_string()
        } else {
            takes.iter().map(|f| format!("`{f}`")).collect::<Vec<_>>().join(", ")
        };
        // A field no kind knows is reported at its key (the typo); a field
        // of another kind at its value, like every other field error.
        for (key, value) in &rc.fields {
            let name = key.get().as_str();
            if takes.contains(&name) {
                continue;
            }
            let owners = crate::probe::registry::kinds_with_field(name);
            let message = match owners.as_slice() {
                [] => format!("unknown field `{name}`"),
                [one] => format!("`{name}` is a `{one}` field"),
                many => format!(
                    "`{name}` is a field of {}",
                    many.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
                ),
            };
            let every_field = crate::probe::KIND_FIELDS
                .iter()
                .flat_map(|(_, fs)| fs.iter().map(|f| f.name))
                .chain(COMMON_FIELDS.iter().copied());
            let near = if owners.is_empty() {
                crate::suggest::closest(name, takes.iter().copied().chain(COMMON_FIELDS.iter().copied()))
                    .or_else(|| crate::suggest::closest(name, every_field))
            } else {
                crate::suggest::closest(name, takes.iter().copied())
            };
            let hint = match near {
                Some(near) => format!("did you mean `{near}`? `{kind}` checks take: {takes_list}"),
                None => format!("`{kind}` checks take: {takes_list}"),
            };
            let loc = if owners.is_empty() { key.loc() } else { value.loc() };
            self.err(loc, message, Some(hint));
        }
    }

    fn waiver(&mut self, w: &super::raw::RawWaiver) -> Option<Waiver> {
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
            loc: w.expires.loc(),
        })
    }
}

/// Whether a target URL can be probed: absolute, with a scheme the probes
/// speak, and a host for HTTP. The URL itself is never quoted back, as it
/// may carry credentials.
pub fn check_target_url(url: &str) -> Result<(), String> {
    match url::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some_and(|h| !h.is_empty()) => Ok(()),
        Ok(u) if matches!(u.scheme(), "http" | "https") => Err("has no host".to_string()),
        Ok(u) if matches!(u.scheme(), "unix" | "tcp") => Ok(()),
        Ok(u) => Err(format!(
            "has unsupported scheme `{}` (use http://, https://, or unix:// / tcp:// for Docker)",
            u.scheme()
        )),
        Err(e) => Err(format!("is not a valid absolute URL: {e}")),
    }
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
