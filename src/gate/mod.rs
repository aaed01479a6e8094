//! The gate: what must hold for a stack to go live.
//!
//! `raw` mirrors the YAML file (every value carries its line and column),
//! `load` turns it into the validated `model` the runner executes (each
//! check kind reads its own fields through `fields`, see
//! `probe::registry`), `needs` checks the dependency graph, and
//! `interpolate` expands `${VAR}` references from the environment;
//! `yaml_errors` words YAML and type errors for gate authors.

pub mod fields;
mod interpolate;
mod load;
pub mod model;
mod needs;
#[cfg(test)]
mod proptests;
pub mod raw;
#[cfg(test)]
pub(crate) mod testing;
#[cfg(test)]
mod tests;
mod warm_up;
mod yaml_errors;

pub use interpolate::{Env, Origin, VarRef, interpolate};
pub use load::{BUILTIN_GATE_G, LoadError, LoadErrors, Source, check_target_url, ensure_env, load, load_source};
pub use model::*;
pub use warm_up::ensure_warm_up_env;
