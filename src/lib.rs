//! medianest-gate: decides whether a staging environment may go live.
//!
//! The binary's `main` only parses the command line, calls [`run`] and maps
//! the result to an exit code; everything else lives in these modules.

pub mod cli;
mod commands;
mod demo;
pub mod duration;
pub mod error;
pub mod exposition;
mod fsio;
pub mod gate;
mod history;
mod http;
pub mod probe;
mod redact;
mod report;
mod resolve;
mod runner;
pub mod score;
mod shell;
pub mod status;
mod suggest;
mod text;
mod warm_up;

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
