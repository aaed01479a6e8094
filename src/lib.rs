//! medianest-gate: decides whether a staging environment may go live.
//!
//! The binary's `main` only parses the command line, calls [`run`] and maps
//! the result to an exit code; everything else lives in these modules.

pub mod cli;
pub mod commands;
pub mod duration;
pub mod error;
pub mod exposition;
pub mod gate;
pub mod http;
pub mod probe;
pub mod redact;
pub mod report;
pub mod runner;
pub mod score;
pub mod shell;
pub mod text;

use std::panic::AssertUnwindSafe;

use error::Exit;

/// Runs a parsed command line. A panic anywhere outside a probe is a bug:
/// it becomes exit code 3 with a message, not a crash with exit 101.
pub fn run(cli: cli::Cli) -> anyhow::Result<Exit> {
    match std::panic::catch_unwind(AssertUnwindSafe(|| commands::dispatch(cli))) {
        Ok(result) => result,
        Err(_) => Ok(Exit::Internal),
    }
}
