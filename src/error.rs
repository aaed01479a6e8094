//! Exit codes and the errors that abort a run before or outside probing.
//!
//! A failed probe is never an error here: it is an outcome in the report. Only
//! setup failures (bad flags, bad gate file, unwritable report path) and bugs
//! end a run early, and each maps to one documented exit code.

use std::process::ExitCode;

/// The process exit codes that CI depends on (DESIGN §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// The gate passed.
    Passed = 0,
    /// The gate is blocked: score below threshold or a required requirement failed.
    /// `validate` and `lint-metrics` also use it for "the input is invalid".
    Blocked = 1,
    /// Usage error or invalid gate file; nothing was probed.
    Usage = 2,
    /// Internal error: the run could not produce a verdict.
    Internal = 3,
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        ExitCode::from(exit as u8)
    }
}

/// An error that ends the command with [`Exit::Usage`]: the user can fix it by
/// changing a flag or the gate file.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

impl UsageError {
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

/// Picks the exit code for an error that reached `main`.
pub fn exit_for(err: &anyhow::Error) -> Exit {
    if err
        .chain()
        .any(|cause| cause.is::<UsageError>() || cause.is::<crate::gate::LoadErrors>() || cause.is::<clap::Error>())
    {
        Exit::Usage
    } else {
        Exit::Internal
    }
}
