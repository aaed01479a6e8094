//! Turns serde-saphyr's errors into messages for gate authors: the field's
//! name and the type it wants, the value that was found, "did you mean" for
//! near-misses, and no Rust or serde vocabulary (`u16`, `Option<…>`, struct
//! names, budget internals).
//!
//! serde's errors know a location but not which field is there, so the
//! file is read a second time into located [`Node`]s and the location is
//! looked up in that tree. This happens only when the gate fails to parse:
//! the happy path pays nothing for it.

use serde_saphyr::Error as YamlError;
use serde_saphyr::budget::BudgetBreach;

use super::load::LoadError;
use super::raw::{Loc, Node, Sp};

/// One field of a fixed part of the gate file: its name, what it must be,
/// and a valid value as YAML.
type Field = (&'static str, &'static str, &'static str);

const TOP: &[Field] = &[
    ("schema_version", "a whole number", "1"),
    ("id", "a string", "G"),
    ("name", "a string", "Observability & Operations Readiness"),
    ("description", "a string", "\"what this gate protects\""),
    ("pass", "a mapping", "{ min_score: 85, required_must_pass: true }"),
    (
        "targets",
        "a mapping of names to URLs",
        "{ backend: \"http://localhost:3000\" }",
    ),
    (
        "secrets",
        "a mapping of names to values",
        "{ metrics_token: \"${METRICS_TOKEN}\" }",
    ),
    ("defaults", "a mapping", "{ timeout: 5s }"),
    ("warm_up", "a mapping", "{ target: backend, paths: [/health] }"),
    (
        "requirements",
        "a list of requirements",
        "[{ id: health, name: Health, weight: 10, checks: [...] }]",
    ),
];

const REQUIREMENT: &[Field] = &[
    ("id", "a string", "metrics-endpoint"),
    ("name", "a string", "/metrics endpoint with bearer auth"),
    ("description", "a string", "\"why this matters\""),
    ("weight", "a number", "25"),
    ("severity", "one of `critical`, `high`, `medium`, `low`", "high"),
    ("required", "`true` or `false`", "true"),
    (
        "checks",
        "a list of checks",
        "[{ id: health, kind: http, target: backend, path: /health }]",
    ),
];

const CHECK: &[Field] = &[
    ("id", "a string", "metrics-auth"),
    ("kind", "the name of a check kind", "http"),
    ("name", "a string", "\"/health answers\""),
    ("description", "a string", "\"why this matters\""),
    ("target", "the name of a target", "backend"),
    ("weight", "a number", "1"),
    ("timeout", "a duration", "5s"),
    ("needs", "a list of check ids", "[metrics-auth]"),
    (
        "waiver",
        "a mapping",
        "{ reason: \"accepted by ops\", expires: 2026-12-31 }",
    ),
];

const WAIVER: &[Field] = &[
    ("reason", "a string", "\"accepted by ops until the migration\""),
    ("expires", "a date", "2026-12-31"),
];

const PASS: &[Field] = &[
    ("min_score", "a number from 0 to 100", "85"),
    ("required_must_pass", "`true` or `false`", "true"),
];

const DEFAULTS: &[Field] = &[("timeout", "a duration", "5s")];

const WARM_UP: &[Field] = &[
    ("target", "the name of a target", "backend"),
    ("paths", "a list of paths", "[/health, /api/health]"),
    ("requests", "a whole number", "100"),
    ("concurrency", "a whole number", "4"),
    ("rate", "a number", "50"),
    ("timeout", "a duration", "5s"),
    ("prometheus", "the name of a target", "prometheus"),
    ("job", "a string", "medianest-backend"),
];

/// Which part of the gate file a mapping is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Block {
    Top,
    Requirement,
    Check,
    Waiver,
    Pass,
    Defaults,
    WarmUp,
    Targets,
    Secrets,
    /// A check's kind-specific value, or something we cannot name.
    Other,
}

impl Block {
    fn of(path: &[Seg<'_>]) -> Block {
        use Seg::{Index as I, Key as K};
        match path {
            [] => Block::Top,
            [K("requirements"), I(_)] => Block::Requirement,
            [K("requirements"), I(_), K("checks"), I(_)] => Block::Check,
            [K("requirements"), I(_), K("checks"), I(_), K("waiver")] => Block::Waiver,
            [K("pass")] => Block::Pass,
            [K("defaults")] => Block::Defaults,
            [K("warm_up")] => Block::WarmUp,
            [K("targets")] => Block::Targets,
            [K("secrets")] => Block::Secrets,
            _ => Block::Other,
        }
    }

    fn fields(self) -> &'static [Field] {
        match self {
            Block::Top => TOP,
            Block::Requirement => REQUIREMENT,
            Block::Check => CHECK,
            Block::Waiver => WAIVER,
            Block::Pass => PASS,
            Block::Defaults => DEFAULTS,
            Block::WarmUp => WARM_UP,
            Block::Targets | Block::Secrets | Block::Other => &[],
        }
    }

    /// How a hint names the block: "`pass` takes: …".
    fn takes(self) -> &'static str {
        match self {
            Block::Top => "the top level of a gate file takes",
            Block::Requirement => "requirements take",
            Block::Check => "every check takes",
            Block::Waiver => "a `waiver` takes",
            Block::Pass => "`pass` takes",
            Block::Defaults => "`defaults` takes",
            Block::WarmUp => "`warm_up` takes",
            Block::Targets | Block::Secrets | Block::Other => "this mapping takes",
        }
    }
}

/// One step from the root of the file to a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

/// The value or key written at a location, and the path to it.
struct Found<'a> {
    path: Vec<Seg<'a>>,
    /// The value at the location (for a key: the value it introduces).
    node: &'a Sp<Node>,
    /// True when the location is the key's, not the value's.
    at_key: bool,
}

fn find<'a>(node: &'a Sp<Node>, at: Loc, path: &mut Vec<Seg<'a>>) -> Option<Found<'a>> {
    match node.get() {
        Node::Map(entries) => {
            for (k, v) in entries {
                path.push(Seg::Key(k.get()));
                if k.loc() == at || v.loc() == at {
                    return Some(Found {
                        path: path.clone(),
                        node: v,
                        at_key: k.loc() == at,
                    });
                }
                if let Some(f) = find(v, at, path) {
                    return Some(f);
                }
                path.pop();
            }
            None
        }
        Node::Seq(items) => {
            for (i, v) in items.iter().enumerate() {
                path.push(Seg::Index(i));
                if v.loc() == at {
                    return Some(Found {
                        path: path.clone(),
                        node: v,
                        at_key: false,
                    });
                }
                if let Some(f) = find(v, at, path) {
                    return Some(f);
                }
                path.pop();
            }
            None
        }
        _ => None,
    }
}

/// The mapping at `path`, if there is one.
fn mapping_at<'a>(root: &'a Sp<Node>, path: &[Seg<'_>]) -> Option<&'a [(Sp<String>, Sp<Node>)]> {
    let mut node = root;
    for seg in path {
        node = match (node.get(), seg) {
            (Node::Map(entries), Seg::Key(k)) => &entries.iter().find(|(key, _)| key.get() == k)?.1,
            (Node::Seq(items), Seg::Index(i)) => items.get(*i)?,
            _ => return None,
        };
    }
    match node.get() {
        Node::Map(entries) => Some(entries),
        _ => None,
    }
}

/// What a person calls the mapping at `path`, with its id when it has one:
/// "requirement `r1`", "check `c1`".
fn block_name(root: &Sp<Node>, path: &[Seg<'_>]) -> String {
    let id = mapping_at(root, path)
        .and_then(|m| m.iter().find(|(k, _)| k.get() == "id"))
        .and_then(|(_, v)| match v.get() {
            Node::Str(s) => Some(s.clone()),
            _ => None,
        });
    let what = match Block::of(path) {
        Block::Top => return "the gate file".to_string(),
        Block::Requirement => "requirement",
        Block::Check => "check",
        Block::Waiver => return "the waiver".to_string(),
        Block::Pass => return "`pass`".to_string(),
        Block::Defaults => return "`defaults`".to_string(),
        Block::WarmUp => return "`warm_up`".to_string(),
        Block::Targets | Block::Secrets | Block::Other => return "this mapping".to_string(),
    };
    match id {
        Some(id) => format!("{what} `{}`", printable(&id)),
        None => format!("a {what}"),
    }
}

/// Text from the file, with control characters escaped so an error line
/// cannot be rewritten by what it quotes.
fn printable(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            let escaped: Vec<char> = if c.is_control() {
                c.escape_default().collect()
            } else {
                vec![c]
            };
            escaped
        })
        .collect()
}

fn ticked(names: &[&str]) -> String {
    names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
}

/// The message for an empty or comment-only gate file, or None when the
/// file holds YAML.
pub(super) fn empty_file(file: &str, text: &str) -> Option<LoadError> {
    let blank = text.lines().all(|l| {
        let l = l.trim();
        l.is_empty() || l.starts_with('#') || l == "---" || l == "..."
    });
    blank.then(|| LoadError {
        file: file.to_string(),
        line: 1,
        column: 1,
        message: if text.trim().is_empty() {
            "the gate file is empty: there is nothing to check".to_string()
        } else {
            "the gate file is empty: it holds only comments".to_string()
        },
        hint: Some(
            "write `schema_version: 1`, an `id`, a `name`, `targets:` and `requirements:` with at least one check; \
             `medianest-gate schema gate` describes every field and gates/gate-g.yaml is a complete example"
                .to_string(),
        ),
    })
}

/// Maps a parse error of `text` to a located message in our words.
pub(super) fn map(file: &str, text: &str, error: &YamlError) -> LoadError {
    if let Some(empty) = empty_file(file, text) {
        return empty;
    }
    // serde reports a missing field when the mapping ended early, which a
    // syntax error further on (bad indentation, a second document) may have
    // caused: that error is then the one worth reporting.
    let reparsed = match original(error) {
        YamlError::SerdeMissingField { .. } => parse_tree(text).err(),
        _ => None,
    };
    let error = match &reparsed {
        Some(e) if !matches!(original(e), YamlError::Budget { .. }) => e,
        _ => error,
    };
    let loc: Loc = error.location().map(Loc::from).unwrap_or_default();
    let (mut message, hint) = describe(text, original(error), loc);
    // A quoted value might be a secret written literally elsewhere in the file.
    if message.contains('"') {
        message = without_literal_secrets(text, message);
    }
    LoadError {
        file: file.to_string(),
        // A location-less error still gets one `file:line:col:` prefix.
        line: loc.line.max(1),
        column: loc.column.max(1),
        message,
        hint,
    }
}

/// Replaces the literal values of `secrets:` entries with `$NAME`, as the
/// report's placeholders do.
fn without_literal_secrets(text: &str, mut message: String) -> String {
    let Some(root) = tree(text) else { return message };
    let Some(secrets) = mapping_at(&root, &[Seg::Key("secrets")]) else {
        return message;
    };
    for (name, value) in secrets {
        if let Node::Str(v) = value.get()
            && v.chars().count() >= 4
            && !v.contains("${")
        {
            let shown = printable(v);
            let short: String = shown.chars().take(40).collect();
            let placeholder = format!("${}", name.get().to_ascii_uppercase());
            message = message.replace(&shown, &placeholder).replace(&short, &placeholder);
        }
    }
    message
}

/// The error itself, without the snippet or alias wrappers around it.
fn original(error: &YamlError) -> &YamlError {
    match error.without_snippet() {
        YamlError::AliasError { error, .. } => original(error),
        other => other,
    }
}

/// The located tree of the file, when its YAML is well-formed.
fn tree(text: &str) -> Option<Sp<Node>> {
    parse_tree(text).ok()
}

fn parse_tree(text: &str) -> Result<Sp<Node>, YamlError> {
    let options = serde_saphyr::options! {
        strict_booleans: true,
    };
    serde_saphyr::from_str_with_options(text, options)
}

fn describe(text: &str, e: &YamlError, loc: Loc) -> (String, Option<String>) {
    use YamlError as E;
    match e {
        E::Budget { breach, .. } => (budget(breach), Some("split the gate into smaller files".to_string())),
        E::Eof { .. } => (
            "the gate file ends in the middle of a value".to_string(),
            Some("close the open bracket, brace or quote, or finish the last entry".to_string()),
        ),
        E::MultipleDocuments { .. } => (
            "the gate file holds more than one YAML document".to_string(),
            Some("a gate is one document: remove the `---` separators, or split it into several files".to_string()),
        ),
        E::DuplicateMappingKey { key, .. } => {
            let key = key.as_deref().map(printable).unwrap_or_else(|| "this key".to_string());
            (
                format!("duplicate key `{key}`: it is already written in this mapping"),
                Some("each key may appear once per mapping: merge the two entries or remove one".to_string()),
            )
        }
        E::UnknownAnchor { .. } => (
            "this alias names an anchor that is not defined above it".to_string(),
            Some("define `&name` before using `*name`".to_string()),
        ),
        E::SerdeUnknownField { field, expected, .. } => unknown_field(field, expected),
        E::SerdeMissingField { field, .. } => missing_field(text, loc, field),
        E::SerdeUnknownVariant { variant, expected, .. } => {
            let near = crate::suggest::closest(variant, expected.iter().copied());
            let fallback = format!("one of {}", ticked(expected));
            let (message, _) = type_error(
                text,
                loc,
                &fallback,
                Some(&format!("the string \"{}\"", printable(variant))),
            );
            (message, near.map(|n| format!("did you mean `{n}`?")))
        }
        E::InvalidScalar { .. }
        | E::SerdeInvalidType { .. }
        | E::SerdeInvalidValue { .. }
        | E::SerdeInvalidLength { .. }
        | E::Unexpected { .. }
        | E::NullIntoString { .. }
        | E::InvalidBooleanStrict { .. }
        | E::InvalidCharNull { .. }
        | E::InvalidCharNotSingleScalar { .. }
        | E::BytesNotSupportedMissingBinaryTag { .. }
        | E::TaggedScalarCannotDeserializeIntoString { .. }
        | E::QuotingRequired { .. } => type_error(text, loc, "another kind of value", None),
        // The tree cannot be built either: the reader refuses the same value.
        E::NonFiniteFloat { .. } => unparsed_type_error(text, loc, "a finite number"),
        E::InvalidUtf8Input => (
            "the gate file is not valid UTF-8".to_string(),
            Some("save it as UTF-8 text".to_string()),
        ),
        other => (
            fallback(other),
            Some("check the indentation (spaces only), quotes and brackets here and on the line above".to_string()),
        ),
    }
}

/// Text for errors we have no words of our own for (YAML syntax errors come
/// from the parser and are meant for people): without the location the
/// prefix already gives, and never a Rust type.
fn fallback(e: &YamlError) -> String {
    let rendered = e.to_string();
    let first = rendered.lines().next().unwrap_or_default();
    let mut message = first.strip_prefix("error: ").unwrap_or(first).trim().to_string();
    if let Some(rest) = message.strip_prefix("line ")
        && let Some((_, msg)) = rest.split_once(": ")
    {
        message = msg.to_string();
    }
    if let Some(at) = message.rfind(" at line ")
        && message[at..].contains("column")
    {
        message.truncate(at);
    }
    let internal = [
        "Option<", "Vec<", "::", "u8", "u16", "u32", "u64", "i64", "f64", "struct ", "serde",
    ];
    if message.is_empty() || internal.iter().any(|w| message.contains(w)) {
        "this is not valid YAML for a gate file".to_string()
    } else {
        format!("invalid YAML: {}", printable(&message))
    }
}

fn budget(breach: &BudgetBreach) -> String {
    let b = serde_saphyr::Budget::default();
    let why = match breach {
        BudgetBreach::Nodes { .. } => format!("more than {} YAML nodes", b.max_nodes),
        BudgetBreach::Events { .. } => format!("more than {} YAML events", b.max_events),
        BudgetBreach::Depth { .. } => format!("nested more than {} levels deep", b.max_depth),
        BudgetBreach::Aliases { .. } => format!("more than {} aliases", b.max_aliases),
        BudgetBreach::Anchors { .. } => format!("more than {} anchors", b.max_anchors),
        BudgetBreach::AliasAnchorRatio { .. } => "aliases that expand far more than the anchors they name".to_string(),
        BudgetBreach::Documents { .. } => format!("more than {} YAML documents", b.max_documents),
        BudgetBreach::ScalarBytes { .. } => "more than 64 MiB of text in values".to_string(),
        BudgetBreach::MergeKeys { .. } => format!("more than {} merge keys", b.max_merge_keys),
        _ => "more YAML than a gate file may hold".to_string(),
    };
    format!("the gate file is too large: {why}")
}

/// "`weight` must be a number (e.g. 25), found the string "lots"".
/// `want` is used when the field is not one we know; `found` when the value
/// cannot be read back from the file.
fn type_error(text: &str, loc: Loc, want: &str, found: Option<&str>) -> (String, Option<String>) {
    let Some(root) = tree(text) else {
        return unparsed_type_error(text, loc, want);
    };
    let Some(f) = find(&root, loc, &mut Vec::new()) else {
        if root.loc() == loc && !matches!(root.get(), Node::Map(_)) {
            return (
                format!(
                    "the gate file must be a mapping of fields (`schema_version`, `id`, `name`, `requirements`, …), found {}",
                    root.get().describe()
                ),
                Some("start from gates/gate-g.yaml, or see `medianest-gate schema gate`".to_string()),
            );
        }
        return (format!("this value must be {want}"), None);
    };
    let found = found
        .map(str::to_string)
        .unwrap_or_else(|| printable(&f.node.get().describe()));
    let (last, parent) = match f.path.split_last() {
        Some((last, parent)) => (*last, parent),
        None => return (format!("this value must be {want}, found {found}"), None),
    };
    match last {
        Seg::Key(name) => {
            let name = printable(name);
            match Block::of(parent) {
                Block::Targets => (
                    format!("target `{name}` must be a URL string (e.g. \"http://localhost:3000\"), found {found}"),
                    None,
                ),
                Block::Secrets => (
                    format!("secret `{name}` must be a string (e.g. \"${{METRICS_TOKEN}}\"), found {found}"),
                    None,
                ),
                block => match block.fields().iter().find(|(n, _, _)| *n == name) {
                    Some((_, want, example)) => {
                        (format!("`{name}` must be {want} (e.g. {example}), found {found}"), None)
                    }
                    None => (format!("`{name}` must be {want}, found {found}"), None),
                },
            }
        }
        Seg::Index(i) => {
            let list = match parent.last() {
                Some(Seg::Key(k)) => *k,
                _ => "",
            };
            let item = match list {
                "requirements" => "a requirement: a mapping with `id`, `name`, `weight` and `checks`",
                "checks" => "a check: a mapping with `id`, `kind`, `target` and the kind's fields",
                "needs" => "a check id",
                "paths" => "a path such as /health",
                _ => want,
            };
            (
                format!("item {} of `{}` must be {item}, found {found}", i + 1, printable(list)),
                None,
            )
        }
    }
}

/// A type error in a file that is not well-formed further on (so no tree):
/// the key is read from the source line, the value's shape from its first
/// character.
fn unparsed_type_error(text: &str, loc: Loc, want: &str) -> (String, Option<String>) {
    let line = text
        .lines()
        .nth(loc.line.saturating_sub(1) as usize)
        .unwrap_or_default();
    let before: String = line.chars().take(loc.column.saturating_sub(1) as usize).collect();
    let rest: String = line.chars().skip(loc.column.saturating_sub(1) as usize).collect();
    let key = before
        .trim_end()
        .strip_suffix(':')
        .map(|k| {
            k.rsplit(['{', ',', ' ', '-'])
                .next()
                .unwrap_or_default()
                .trim_matches(['"', '\''])
        })
        .filter(|k| !k.is_empty());
    let found = match rest.chars().next() {
        Some('[') => "a list".to_string(),
        Some('{') => "a mapping".to_string(),
        _ => {
            let token: String = rest
                .chars()
                .take_while(|c| !matches!(c, ',' | '}' | ']' | '#'))
                .take(40)
                .collect();
            format!("`{}`", printable(token.trim()))
        }
    };
    match key {
        Some(key) => {
            let known = [TOP, REQUIREMENT, CHECK, WAIVER, PASS, DEFAULTS, WARM_UP]
                .into_iter()
                .flatten()
                .find(|(n, _, _)| *n == key);
            let key = printable(key);
            match known {
                Some((_, want, example)) => (format!("`{key}` must be {want} (e.g. {example}), found {found}"), None),
                None => (format!("`{key}` must be {want}, found {found}"), None),
            }
        }
        None => (format!("this value must be {want}, found {found}"), None),
    }
}

fn unknown_field(field: &str, expected: &[&str]) -> (String, Option<String>) {
    let message = format!("unknown field `{}`", printable(field));
    // serde names the fields the block takes, which says which block it is.
    let block = [
        Block::Top,
        Block::Requirement,
        Block::Waiver,
        Block::Pass,
        Block::Defaults,
        Block::WarmUp,
    ]
    .into_iter()
    .find(|b| b.fields().len() == expected.len() && b.fields().iter().all(|(n, _, _)| expected.contains(n)))
    .unwrap_or(Block::Other);
    let takes = format!("{}: {}", block.takes(), ticked(expected));
    let hint = match crate::suggest::closest(field, expected.iter().copied()) {
        Some(near) => format!("did you mean `{near}`? {takes}"),
        None => takes,
    };
    (message, Some(hint))
}

fn missing_field(text: &str, loc: Loc, field: &str) -> (String, Option<String>) {
    let root = tree(text);
    let found = root
        .as_ref()
        .and_then(|r| find(r, loc, &mut Vec::new()).map(|f| (f.path, f.at_key)));
    let (owner, block) = match (&root, found) {
        // The location is a key of the mapping that lacks the field.
        (Some(root), Some((path, true))) => {
            let parent = &path[..path.len().saturating_sub(1)];
            (block_name(root, parent), Block::of(parent))
        }
        // The location is the mapping itself (an empty one, or the whole file).
        (Some(root), Some((path, false))) => (block_name(root, &path), Block::of(&path)),
        (Some(root), None) if root.loc() == loc => ("the gate file".to_string(), Block::Top),
        _ => ("this mapping".to_string(), Block::Other),
    };
    let hint = match block.fields().iter().find(|(n, _, _)| *n == field) {
        Some((_, _, example)) => format!("add `{field}: {example}`"),
        None => format!("add `{field}`"),
    };
    (format!("{owner} needs `{field}`"), Some(hint))
}
