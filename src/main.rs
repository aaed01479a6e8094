//! Entry point: parse the command line, run it, map the result to an exit code.

use std::process::ExitCode;

use clap::Parser;
use medianest_gate::cli::Cli;
use medianest_gate::error::exit_for;

fn main() -> ExitCode {
    // One TLS backend for the whole process; reqwest is built without a default.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = Cli::parse();
    match medianest_gate::run(cli) {
        Ok(exit) => exit.into(),
        Err(err) => {
            anstream::eprintln!("error: {err:#}");
            exit_for(&err).into()
        }
    }
}
