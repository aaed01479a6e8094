//! `schema`: the JSON Schemas of the gate file and of the JSON report.

use crate::cli::{SchemaArgs, SchemaKind};
use crate::error::Exit;

pub fn run(args: SchemaArgs) -> anyhow::Result<Exit> {
    let schema = match args.kind {
        SchemaKind::Gate => schemars::schema_for!(crate::gate::raw::RawGate),
        SchemaKind::Report => schemars::schema_for!(crate::report::Report),
    };
    crate::error::print(&(serde_json::to_string_pretty(&schema)? + "\n"))?;
    Ok(Exit::Passed)
}
