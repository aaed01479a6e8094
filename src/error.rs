//! Exit codes and the errors that end a command before or outside probing.
//!
//! A failed probe is never an error here: it is an outcome in the report.
//! Only setup failures (bad flags, bad gate file, unreadable input,
//! unwritable report path) end a run early. Each is a [`Failure`], and
//! [`Failure::exit`] is the one exhaustive map from failures to the
//! documented exit codes; anything else that reaches `main` is a bug (3).

use std::process::ExitCode;

use crate::gate::LoadErrors;

/// The process exit codes that CI depends on (DESIGN §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// The gate passed.
    Passed = 0,
    /// The gate is blocked: score below threshold or a required requirement failed.
    /// `validate`, `lint-metrics` and `diff` also use it for "the input is invalid"
    /// or "a regression".
    Blocked = 1,
    /// Usage error, invalid gate file or unreadable input; nothing was probed.
    Usage = 2,
    /// Internal error: the run could not produce a verdict.
    Internal = 3,
    /// A verdict was reached, but an artifact (`--report`) could not be
    /// written; the others were.
    ArtifactMissing = 4,
    /// Standard output was closed before everything was written (`| head`):
    /// 128 + SIGPIPE, as a shell reports a program the pipe ended.
    StdoutClosed = 141,
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        ExitCode::from(exit as u8)
    }
}

/// Why a command stopped without finishing its work.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// A flag or argument the user can fix.
    #[error("{0}")]
    Usage(String),
    /// The gate file is invalid.
    #[error(transparent)]
    Gate(#[from] LoadErrors),
    /// An input file (a report for `diff`, a CA bundle, an exposition) cannot be read.
    #[error("{0}")]
    Input(String),
    /// The verdict was reached, but these artifacts could not be written.
    #[error("could not write {}", .0.join(", "))]
    Artifacts(Vec<String>),
    /// Standard output went away; nothing more can be said there.
    #[error("standard output was closed")]
    StdoutClosed,
}

impl Failure {
    pub fn usage(message: impl Into<String>) -> Self {
        Failure::Usage(message.into())
    }

    pub fn exit(&self) -> Exit {
        match self {
            Failure::Usage(_) | Failure::Gate(_) | Failure::Input(_) => Exit::Usage,
            Failure::Artifacts(_) => Exit::ArtifactMissing,
            Failure::StdoutClosed => Exit::StdoutClosed,
        }
    }

    /// Whether `main` prints the error (a closed stdout ends quietly).
    pub fn is_quiet(&self) -> bool {
        matches!(self, Failure::StdoutClosed)
    }
}

/// The failure an error that reached `main` carries, if any.
pub fn failure(err: &anyhow::Error) -> Option<&Failure> {
    err.chain().find_map(|cause| cause.downcast_ref::<Failure>())
}

/// Picks the exit code for an error that reached `main`: a [`Failure`]'s own,
/// otherwise internal (a bug).
pub fn exit_for(err: &anyhow::Error) -> Exit {
    failure(err).map(Failure::exit).unwrap_or(Exit::Internal)
}

/// Maps a write error on stdout: a closed pipe is [`Failure::StdoutClosed`].
pub fn stdout_error(e: std::io::Error) -> anyhow::Error {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        Failure::StdoutClosed.into()
    } else {
        anyhow::Error::new(e).context("cannot write to stdout")
    }
}

/// Writes `text` to stdout, turning a closed pipe into [`Failure::StdoutClosed`]
/// instead of the panic `println!` would give.
pub fn print(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes()).map_err(stdout_error)?;
    out.flush().map_err(stdout_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_failure_maps_to_its_documented_code() {
        assert_eq!(Failure::usage("x").exit(), Exit::Usage);
        assert_eq!(Failure::Gate(LoadErrors(vec![])).exit(), Exit::Usage);
        assert_eq!(Failure::Input("x".into()).exit(), Exit::Usage);
        assert_eq!(Failure::Artifacts(vec!["a".into()]).exit(), Exit::ArtifactMissing);
        assert_eq!(Failure::StdoutClosed.exit() as u8, 141);
    }

    #[test]
    fn a_failure_under_context_keeps_its_code_and_anything_else_is_internal() {
        let e = anyhow::Error::new(Failure::Input("cannot read x".into())).context("while diffing");
        assert_eq!(exit_for(&e), Exit::Usage);
        assert_eq!(exit_for(&anyhow::anyhow!("a bug")), Exit::Internal);
        let pipe = stdout_error(std::io::Error::from(std::io::ErrorKind::BrokenPipe));
        assert_eq!(exit_for(&pipe), Exit::StdoutClosed);
    }
}
