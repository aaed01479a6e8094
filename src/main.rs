//! Entry point: parse the command line, run it, map the result to an exit code.

use std::process::ExitCode;

use clap::Parser;
use medianest_gate::cli::Cli;
use medianest_gate::error::{exit_for, failure};

/// A 10,000-check run makes millions of small allocations (YAML events,
/// report strings, futures) and glibc's malloc and free were a quarter of
/// its instructions; mimalloc's thread-local free lists cost a fraction.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // One TLS backend for the whole process; reqwest is built without a default.
    let _ = rustls::crypto::ring::default_provider().install_default();
    // A panic is a bug. Probe panics are caught and reported in the check's
    // outcome; this hook only keeps the stderr line short (no backtrace
    // flood even where RUST_BACKTRACE is set).
    std::panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        eprintln!("medianest-gate: internal error (panic{location}): {message}");
    }));
    let cli = Cli::parse();
    match medianest_gate::run(cli) {
        Ok(exit) => exit.into(),
        Err(err) => {
            if !failure(&err).is_some_and(|f| f.is_quiet()) {
                anstream::eprintln!("error: {err:#}");
            }
            exit_for(&err).into()
        }
    }
}
