//! `schema`: the JSON Schemas of the gate file and of the JSON report.
//!
//! The report's schema describes what is written, not what would be read:
//! every field the tool always emits is required, a field left out when empty
//! is not, and every object of the model is closed, so a consumer can rely
//! on it for exactly the layout this version writes.

use schemars::Schema;
use schemars::generate::SchemaSettings;
use schemars::transform::RecursiveTransform;

use crate::cli::{SchemaArgs, SchemaKind};
use crate::error::Exit;

pub fn run(args: SchemaArgs) -> anyhow::Result<Exit> {
    let schema = match args.kind {
        SchemaKind::Gate => schemars::schema_for!(crate::gate::raw::RawGate),
        SchemaKind::Report => report_schema(),
    };
    crate::error::print(&(serde_json::to_string_pretty(&schema)? + "\n"))?;
    Ok(Exit::Passed)
}

/// The JSON Schema of [`crate::report::Report`] as serialised.
pub fn report_schema() -> Schema {
    SchemaSettings::draft2020_12()
        .for_serialize()
        .with_transform(RecursiveTransform(close_objects))
        .into_generator()
        .into_root_schema_for::<crate::report::Report>()
}

/// Closes every object with declared properties (`additionalProperties:
/// false`). Maps (evidence, answers) declare none and stay open. A
/// transform rather than `deny_unknown_fields` on each type: the Rust model
/// still reads reports of other versions, and a type added later is closed
/// without anyone remembering to.
fn close_objects(schema: &mut Schema) {
    if schema.get("properties").is_some() && schema.get("additionalProperties").is_none() {
        schema.insert("additionalProperties".into(), false.into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defs(schema: &Schema) -> &serde_json::Map<String, serde_json::Value> {
        schema
            .get("$defs")
            .and_then(|d| d.as_object())
            .expect("the report schema has definitions")
    }

    #[test]
    fn every_object_of_the_report_is_closed_and_maps_stay_open() {
        let schema = report_schema();
        assert_eq!(schema.get("additionalProperties"), Some(&false.into()));
        for (name, def) in defs(&schema) {
            if def.get("properties").is_some() {
                assert_eq!(def.get("additionalProperties"), Some(&false.into()), "{name} is open");
            }
        }
        let evidence = &defs(&schema)["CheckReport"]["properties"]["evidence"];
        assert_ne!(evidence.get("additionalProperties"), Some(&false.into()), "{evidence}");
    }

    #[test]
    fn fields_always_written_are_required_and_those_left_out_when_empty_are_not() {
        let schema = report_schema();
        let required = |v: &serde_json::Value| -> Vec<String> {
            v["required"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        };
        let top = required(&serde_json::to_value(&schema).expect("schema as JSON"));
        assert!(top.iter().any(|f| f == "verdict") && top.iter().any(|f| f == "attempts"));
        assert!(!top.iter().any(|f| f == "warm_up" || f == "requests"), "{top:?}");
        // An `Option` that is written as `null` is still always written.
        let check = required(&defs(&schema)["CheckReport"]);
        for f in [
            "cause",
            "remediation",
            "reproduce",
            "waiver",
            "attempts",
            "passed_after_retry",
        ] {
            assert!(
                check.iter().any(|c| c == f),
                "CheckReport.{f} is not required: {check:?}"
            );
        }
    }

    #[test]
    fn the_verdict_is_one_of_the_three_the_report_writes() {
        let schema = serde_json::to_value(report_schema()).expect("schema as JSON");
        let verdict = &schema["properties"]["verdict"];
        assert_eq!(
            verdict["enum"],
            serde_json::json!(crate::report::model::verdict::ALL),
            "{verdict}"
        );
    }

    #[test]
    fn descriptions_cite_nothing_a_user_does_not_have() {
        let text = serde_json::to_string(&report_schema()).expect("schema as JSON");
        for cited in ["DESIGN", "§", "README", "src/", ".rs"] {
            assert!(!text.contains(cited), "the report schema cites `{cited}`");
        }
    }
}
