//! A small gate builder for in-process tests of the loader, the kinds and
//! the scorer: a fixed header, so a test knows the line of every value it
//! writes, and helpers that assert an error's text and location.

use std::collections::BTreeMap;

use super::{Env, Gate, LoadError, load};

/// The header every built gate starts with; the first check starts on
/// [`CHECK_LINE`] with `id: c`, `kind:` and `target: t` on the lines after.
const HEADER: &str = "schema_version: 1
id: T
name: t
targets: {t: \"http://127.0.0.1:1\", d: \"unix:///var/run/docker.sock\"}
secrets: {s: \"a-long-secret\", u: \"user-name\"}
requirements:
  - id: r
    name: r
    weight: 1
    checks:
";

/// The line of a check's `- id: c`.
pub const CHECK_LINE: u64 = 11;
/// The column of the check id's value, where "needs a field" errors point.
pub const ID_COLUMN: u64 = 13;
/// The line of the first field after `id`, `kind` and `target`.
pub const FIELD_LINE: u64 = 14;

/// A gate with one check of `kind` and these extra field lines (written at
/// eight spaces' indent, the first on [`FIELD_LINE`]).
pub fn one_check(kind: &str, fields: &[&str]) -> String {
    let mut text = format!("{HEADER}      - id: c\n        kind: {kind}\n        target: t\n");
    for f in fields {
        text.push_str("        ");
        text.push_str(f);
        text.push('\n');
    }
    text
}

/// The column of a field's value when written as `key: value` at the field indent.
pub fn value_column(key: &str) -> u64 {
    9 + key.len() as u64 + 2
}

pub fn try_load(text: &str) -> Result<Gate, Vec<LoadError>> {
    load("t.yaml", text, &Env::fixed(BTreeMap::new())).map_err(|e| e.0)
}

pub fn loads(text: &str) -> Gate {
    match try_load(text) {
        Ok(g) => g,
        Err(e) => panic!("expected the gate to load, got:\n{}\n---\n{text}", super::LoadErrors(e)),
    }
}

/// Asserts that loading fails with an error at `line:column` whose message
/// contains `message` (and whose hint contains `hint`, when given).
#[track_caller]
pub fn rejects_at(text: &str, line: u64, column: u64, message: &str, hint: Option<&str>) {
    let errors = match try_load(text) {
        Ok(_) => panic!("expected an error `{message}` at {line}:{column}; the gate loaded:\n{text}"),
        Err(e) => e,
    };
    let found = errors.iter().find(|e| e.message.contains(message));
    let Some(e) = found else {
        panic!(
            "no error containing `{message}`; got:\n{}\n---\n{text}",
            super::LoadErrors(errors)
        );
    };
    assert_eq!(
        (e.line, e.column),
        (line, column),
        "location of `{}`\n---\n{text}",
        e.message
    );
    if let Some(h) = hint {
        let got = e.hint.as_deref().unwrap_or_default();
        assert!(got.contains(h), "hint of `{}` is `{got}`, expected `{h}`", e.message);
    }
}

/// Asserts that one field line of a `kind` check is rejected at its value.
#[track_caller]
pub fn field_rejected(kind: &str, field: &str, message: &str, hint: Option<&str>) {
    let key = field.split(':').next().unwrap_or_default();
    rejects_at(&one_check(kind, &[field]), FIELD_LINE, value_column(key), message, hint);
}

/// Asserts that a `kind` check without `missing` fails at the check's id.
#[track_caller]
pub fn requires(kind: &str, other_fields: &[&str], message: &str) {
    rejects_at(&one_check(kind, other_fields), CHECK_LINE, ID_COLUMN, message, None);
}
