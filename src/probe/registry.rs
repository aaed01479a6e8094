//! The check-kind registry. A kind is one module that owns its spec type,
//! its fields, its validation, its probe and its reproduce command, behind
//! the [`Kind`] trait; the `kinds!` invocation in `probe/mod.rs` lists every
//! kind once, and everything that needs the list of kinds (dispatch, the
//! `KINDS` names, field applicability, the gate-file schema) is generated
//! from that list. A kind that is listed but does not implement [`Kind`]
//! completely does not compile.

use crate::gate::fields::{FieldDef, SpecCx};

use super::{Outcome, ProbeContext};

/// One check kind.
pub trait Kind: Sized {
    /// The `kind:` value in a gate file.
    const NAME: &'static str;
    /// Every field the kind takes besides the common ones (`id`, `target`, …).
    const FIELDS: &'static [FieldDef];
    /// The kind writes into the stack (traffic, a test alert, log lines), so
    /// it runs only with `check --synthetic` (DESIGN §2).
    const SYNTHETIC: bool = false;

    /// Builds the spec from the check's fields, recording every problem with
    /// its location in `f`. Returns a spec even when there were errors (the
    /// loader discards the gate then), so one run reports every problem.
    fn load(f: &mut SpecCx<'_, '_>) -> Self;

    /// Probes the stack. Never fails: every finding is an [`Outcome`].
    #[expect(async_fn_in_trait, reason = "static dispatch through CheckSpec only; never dyn")]
    async fn probe(&self, cx: &ProbeContext<'_>) -> Outcome;

    /// A command that shows by hand what the probe saw, when the probe's
    /// outcome did not name a more precise one.
    fn reproduce(&self, cx: &ProbeContext<'_>) -> String {
        cx.curl(cx.base_url(), None)
    }

    /// Names of the secrets the check sends.
    fn secrets(&self) -> Vec<&str> {
        Vec::new()
    }
}

/// Declares the kind modules and generates [`CheckSpec`] and the lookups
/// from one list of `Variant(module::SpecType)` lines.
macro_rules! kinds {
    ($($variant:ident($module:ident :: $spec:ident)),* $(,)?) => {
        $(mod $module;)*

        /// What a check probes, by kind.
        #[derive(Debug, Clone)]
        pub enum CheckSpec {
            $($variant($module::$spec)),*
        }

        /// The kinds a gate file may name, in registry order.
        pub const KINDS: &[&str] = &[$(<$module::$spec as $crate::probe::registry::Kind>::NAME),*];

        /// Every kind with its fields.
        pub const KIND_FIELDS: &[(&str, &[$crate::gate::fields::FieldDef])] = &[
            $((<$module::$spec as $crate::probe::registry::Kind>::NAME,
               <$module::$spec as $crate::probe::registry::Kind>::FIELDS)),*
        ];

        impl CheckSpec {
            pub fn kind(&self) -> &'static str {
                use $crate::probe::registry::Kind as _;
                match self {
                    $(CheckSpec::$variant(_) => <$module::$spec>::NAME),*
                }
            }

            /// Whether the check writes into the stack and needs `--synthetic`.
            pub fn is_synthetic(&self) -> bool {
                use $crate::probe::registry::Kind as _;
                match self {
                    $(CheckSpec::$variant(_) => <$module::$spec>::SYNTHETIC),*
                }
            }

            /// Names of the secrets the check sends.
            pub fn secrets(&self) -> Vec<&str> {
                use $crate::probe::registry::Kind as _;
                match self {
                    $(CheckSpec::$variant(s) => s.secrets()),*
                }
            }

            /// Builds the spec of `kind`; `None` for a kind that is not registered.
            pub fn load(kind: &str, f: &mut $crate::gate::fields::SpecCx<'_, '_>) -> Option<CheckSpec> {
                use $crate::probe::registry::Kind as _;
                $(if kind == <$module::$spec>::NAME {
                    return Some(CheckSpec::$variant(<$module::$spec>::load(f)));
                })*
                None
            }

            /// Runs the probe and fills in the default reproduce command.
            pub async fn probe(&self, cx: &ProbeContext<'_>) -> Outcome {
                use $crate::probe::registry::Kind as _;
                let (mut outcome, reproduce) = match self {
                    $(CheckSpec::$variant(s) => (s.probe(cx).await, s.reproduce(cx))),*
                };
                if outcome.reproduce.is_none() {
                    outcome.reproduce = Some(reproduce);
                }
                outcome
            }
        }
    };
}

/// The fields a kind takes, or `None` for an unknown kind.
pub fn fields_of(kind: &str) -> Option<&'static [FieldDef]> {
    super::KIND_FIELDS.iter().find(|(k, _)| *k == kind).map(|(_, f)| *f)
}

/// The kinds that take a field named `name`.
pub fn kinds_with_field(name: &str) -> Vec<&'static str> {
    super::KIND_FIELDS
        .iter()
        .filter(|(_, fields)| fields.iter().any(|f| f.name == name))
        .map(|(k, _)| *k)
        .collect()
}

/// The JSON Schema of one check: one alternative per kind, each with the
/// common fields, `kind` fixed to the kind's name, and exactly its fields.
pub fn check_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
    use serde_json::{Map, Value, json};
    let waiver = serde_json::to_value(generator.subschema_for::<crate::gate::raw::RawWaiver>()).unwrap_or(json!({}));
    let common = |kind: &str| -> Map<String, Value> {
        let mut p = Map::new();
        p.insert(
            "id".into(),
            json!({"type": "string", "description": "Unique id, used by `needs`, `--only` and reports."}),
        );
        p.insert("kind".into(), json!({"const": kind}));
        p.insert("name".into(), json!({"type": "string"}));
        p.insert("description".into(), json!({"type": "string"}));
        p.insert(
            "target".into(),
            json!({"type": "string", "description": "The name of an entry in `targets`."}),
        );
        p.insert(
            "weight".into(),
            json!({"type": "number", "minimum": 0, "description": "Weight inside the requirement (default 1)."}),
        );
        p.insert(
            "timeout".into(),
            json!({"type": "string", "description": "Overrides `defaults.timeout` and `--timeout`, e.g. `5s`."}),
        );
        p.insert("needs".into(), json!({"type": "array", "items": {"type": "string"}, "description": "Ids of checks that must pass before this one runs."}));
        p.insert("waiver".into(), waiver.clone());
        p
    };
    let alternatives: Vec<Value> = super::KIND_FIELDS
        .iter()
        .map(|(kind, fields)| {
            let mut props = common(kind);
            for f in *fields {
                let mut s = f.ty.schema();
                if let Value::Object(o) = &mut s {
                    o.insert("description".into(), Value::String(f.doc.to_string()));
                }
                props.insert(f.name.to_string(), s);
            }
            json!({
                "type": "object",
                "title": kind,
                "properties": props,
                "required": ["id", "kind"],
                "additionalProperties": false,
            })
        })
        .collect();
    let mut schema = schemars::Schema::default();
    schema.insert(
        "description".into(),
        json!("One probe: `kind` selects it and decides which other fields apply."),
    );
    schema.insert("oneOf".into(), Value::Array(alternatives));
    schema
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::gate::fields::FieldType;
    use crate::gate::{Env, load};

    /// A gate with one check of `kind` whose every field is set to its example.
    fn gate_with_every_field(kind: &str, fields: &[FieldDef]) -> String {
        let mut check = format!("      - id: c\n        kind: {kind}\n        target: t\n");
        for f in fields {
            let value = match f.ty {
                FieldType::SecretRef => "s",
                FieldType::TargetRef => "t",
                _ => f.example,
            };
            check.push_str(&format!("        {}: {value}\n", f.name));
        }
        format!(
            "schema_version: 1\nid: T\nname: t\ntargets: {{t: \"http://127.0.0.1:1\"}}\nsecrets: {{s: \"a-long-secret\", u: \"user-name\"}}\nrequirements:\n  - id: r\n    name: r\n    weight: 1\n    checks:\n{check}"
        )
    }

    #[test]
    fn every_kind_loads_with_every_field_set_to_its_example() {
        for (kind, fields) in super::super::KIND_FIELDS {
            let text = gate_with_every_field(kind, fields);
            let gate = load("t.yaml", &text, &Env::fixed(BTreeMap::new()));
            // Grafana's user/password come in pairs and docker_network needs two names;
            // their examples satisfy that, so every kind must load cleanly.
            match gate {
                Ok(g) => assert_eq!(g.requirements[0].checks[0].spec.kind(), *kind),
                Err(e) => panic!("kind `{kind}` with every example field:\n{e}\n---\n{text}"),
            }
        }
    }

    #[test]
    fn kind_names_and_field_names_are_unique_and_not_common() {
        let mut kinds: Vec<&str> = super::super::KINDS.to_vec();
        kinds.sort();
        kinds.dedup();
        assert_eq!(kinds.len(), super::super::KINDS.len());
        for (kind, fields) in super::super::KIND_FIELDS {
            let mut names: Vec<&str> = fields.iter().map(|f| f.name).collect();
            names.sort();
            names.dedup();
            assert_eq!(names.len(), fields.len(), "{kind} declares a field twice");
            for n in names {
                assert!(
                    !crate::gate::raw::COMMON_FIELDS.contains(&n),
                    "{kind}.{n} shadows a common field"
                );
            }
        }
    }

    #[test]
    fn a_field_shared_by_kinds_has_one_type() {
        let mut seen: BTreeMap<&str, FieldType> = BTreeMap::new();
        for (kind, fields) in super::super::KIND_FIELDS {
            for f in *fields {
                if let Some(ty) = seen.insert(f.name, f.ty) {
                    assert_eq!(ty, f.ty, "`{}` has two types (last in `{kind}`)", f.name);
                }
            }
        }
    }
}
