//! `${VAR}` and `${VAR:-default}` expansion from the environment.
//!
//! A reference with no value and no default is not an error here: it is
//! recorded as missing, because it only matters when a check that is actually
//! run depends on it (DESIGN §3).

use std::collections::BTreeMap;

/// Where variables come from: `--var KEY=VALUE` overrides first, then the process environment.
#[derive(Debug, Clone, Default)]
pub struct Env {
    overrides: BTreeMap<String, String>,
    use_process_env: bool,
}

impl Env {
    /// The process environment plus `--var` overrides.
    pub fn process(overrides: BTreeMap<String, String>) -> Self {
        Self {
            overrides,
            use_process_env: true,
        }
    }

    /// Only the given variables (used by tests and `validate`).
    pub fn fixed(vars: BTreeMap<String, String>) -> Self {
        Self {
            overrides: vars,
            use_process_env: false,
        }
    }

    pub fn get(&self, name: &str) -> Option<String> {
        self.lookup(name).map(|(v, _)| v)
    }

    /// A variable's value and where it came from.
    pub fn lookup(&self, name: &str) -> Option<(String, Origin)> {
        if let Some(v) = self.overrides.get(name) {
            return Some((v.clone(), Origin::Flag));
        }
        if self.use_process_env {
            return std::env::var(name).ok().map(|v| (v, Origin::Environment));
        }
        None
    }
}

/// Where a variable's value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// `--var KEY=VALUE`.
    Flag,
    Environment,
}

/// The result of expanding one string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expanded {
    pub value: String,
    /// Variables that had no value and no default.
    pub missing: Vec<String>,
    /// Every variable named, in order (used for `$NAME` placeholders).
    pub vars: Vec<String>,
    /// Every reference as written, in order, with its default (for `list`).
    pub refs: Vec<VarRef>,
}

/// One `${NAME}` or `${NAME:-default}` as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VarRef {
    pub name: String,
    pub default: Option<String>,
}

/// A malformed reference, with the byte offset of its `$` in the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SyntaxError {
    pub offset: usize,
    pub message: String,
}

/// Expands `${VAR}` and `${VAR:-default}`; `$$` is a literal `$`.
///
/// Like a shell, `:-` applies the default when the variable is unset *or* empty.
pub fn interpolate(input: &str, env: &Env) -> Result<Expanded, SyntaxError> {
    let mut out = String::with_capacity(input.len());
    let mut missing = Vec::new();
    let mut vars = Vec::new();
    let mut refs = Vec::new();
    let mut rest = input;
    let mut consumed = 0;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            consumed += pos + 2;
            rest = tail;
            continue;
        }
        let Some(body_and_tail) = after.strip_prefix('{') else {
            // A lone `$` (e.g. in a PromQL regex) is kept as written.
            out.push('$');
            consumed += pos + 1;
            rest = after;
            continue;
        };
        let offset = consumed + pos;
        // Match braces so a default may itself hold `{…}` (a LogQL selector).
        let mut depth = 0usize;
        let end = body_and_tail.char_indices().find_map(|(i, c)| match c {
            '{' => {
                depth += 1;
                None
            }
            '}' if depth == 0 => Some(i),
            '}' => {
                depth -= 1;
                None
            }
            _ => None,
        });
        let Some(end) = end else {
            return Err(SyntaxError {
                offset,
                message: "unclosed `${`: write `${NAME}` or `${NAME:-default}` (or `$$` for a literal `$`)".into(),
            });
        };
        let body = &body_and_tail[..end];
        let (name, default) = match body.split_once(":-") {
            Some((n, d)) => (n, Some(d)),
            None => (body, None),
        };
        if !is_var_name(name) {
            return Err(SyntaxError {
                offset,
                message: format!(
                    "`${{{body}}}` is not a variable reference: names are letters, digits and `_`, \
                     optionally followed by `:-default`"
                ),
            });
        }
        vars.push(name.to_string());
        refs.push(VarRef {
            name: name.to_string(),
            default: default.map(str::to_string),
        });
        match (env.get(name).filter(|v| !v.is_empty() || default.is_none()), default) {
            (Some(v), _) => out.push_str(&v),
            (None, Some(d)) => out.push_str(d),
            (None, None) => missing.push(name.to_string()),
        }
        consumed += pos + 2 + end + 1;
        rest = &body_and_tail[end + 1..];
    }
    out.push_str(rest);
    Ok(Expanded {
        value: out,
        missing,
        vars,
        refs,
    })
}

fn is_var_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env::fixed(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }

    #[test]
    fn set_variable_replaces_reference() {
        let e = interpolate("http://${HOST}:9090", &env(&[("HOST", "prom")])).unwrap();
        assert_eq!(e.value, "http://prom:9090");
        assert!(e.missing.is_empty());
        assert_eq!(e.vars, vec!["HOST"]);
    }

    #[test]
    fn default_applies_when_unset_or_empty() {
        let e = interpolate("${URL:-http://localhost:3000}", &env(&[])).unwrap();
        assert_eq!(e.value, "http://localhost:3000");
        let e = interpolate("${URL:-x}", &env(&[("URL", "")])).unwrap();
        assert_eq!(e.value, "x");
        let e = interpolate("${TOKEN:-}", &env(&[])).unwrap();
        assert_eq!(e.value, "");
        assert!(e.missing.is_empty());
    }

    #[test]
    fn unset_without_default_is_recorded_missing() {
        let e = interpolate("Bearer ${METRICS_TOKEN}", &env(&[])).unwrap();
        assert_eq!(e.missing, vec!["METRICS_TOKEN"]);
    }

    #[test]
    fn empty_value_without_default_is_kept() {
        let e = interpolate("${X}", &env(&[("X", "")])).unwrap();
        assert_eq!(e.value, "");
        assert!(e.missing.is_empty());
    }

    #[test]
    fn dollar_escapes_and_lone_dollars_are_literal() {
        let e = interpolate("a$$b ${X} c$ d$e", &env(&[("X", "1")])).unwrap();
        assert_eq!(e.value, "a$b 1 c$ d$e");
    }

    #[test]
    fn defaults_may_hold_braces() {
        let sel = r#"${APP_LOG_SELECTOR:-{job="medianest-app"}}"#;
        assert_eq!(interpolate(sel, &env(&[])).unwrap().value, r#"{job="medianest-app"}"#);
        let set = interpolate(sel, &env(&[("APP_LOG_SELECTOR", r#"{app="x"}"#)])).unwrap();
        assert_eq!(set.value, r#"{app="x"}"#);
    }

    #[test]
    fn references_keep_their_defaults_whatever_the_environment() {
        let e = interpolate("${A:-x}/${B}/${C:-}", &env(&[("A", "set")])).unwrap();
        let got: Vec<(&str, Option<&str>)> = e.refs.iter().map(|r| (r.name.as_str(), r.default.as_deref())).collect();
        assert_eq!(got, vec![("A", Some("x")), ("B", None), ("C", Some(""))]);
    }

    #[test]
    fn unclosed_reference_reports_offset() {
        let err = interpolate("abc ${NAME", &env(&[])).unwrap_err();
        assert_eq!(err.offset, 4);
        assert!(err.message.contains("unclosed"));
    }

    #[test]
    fn invalid_name_is_an_error() {
        let err = interpolate("x${1BAD}", &env(&[])).unwrap_err();
        assert_eq!(err.offset, 1);
        let err = interpolate("${}", &env(&[])).unwrap_err();
        assert_eq!(err.offset, 0);
    }

    #[test]
    fn offsets_account_for_earlier_references() {
        let err = interpolate("${A}-${B:-x}-${", &env(&[("A", "long value")])).unwrap_err();
        assert_eq!(err.offset, 13);
    }
}
