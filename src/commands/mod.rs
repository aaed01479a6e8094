//! One file per subcommand. Each returns the exit code it decided on, or an
//! error that `main` prints and maps through [`crate::error::exit_for`].

mod check;
mod demo;
mod diff;
mod history;
mod lint_metrics;
mod list;
mod man;
mod schema;
mod validate;

use std::io::IsTerminal;

use crate::cli::{Cli, ColorChoice, Command};
use crate::error::Exit;
use crate::report::layout::{LOG_WIDTH, MIN_WIDTH};

/// What every command knows about the terminal and verbosity.
#[derive(Debug, Clone, Copy)]
pub struct Ui {
    pub color_stdout: bool,
    pub color_stderr: bool,
    pub quiet: bool,
    pub verbose: u8,
    /// Display columns that output for people (the table, `list`) fits.
    pub width: u16,
}

impl Ui {
    fn new(cli: &Cli) -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let dumb = std::env::var("TERM").is_ok_and(|t| t == "dumb");
        let auto = |tty: bool| tty && !no_color && !dumb;
        let (out, err) = match cli.color {
            ColorChoice::Always => (true, true),
            ColorChoice::Never => (false, false),
            ColorChoice::Auto => (
                auto(std::io::stdout().is_terminal()),
                auto(std::io::stderr().is_terminal()),
            ),
        };
        Ui {
            color_stdout: out,
            color_stderr: err,
            quiet: cli.quiet,
            verbose: cli.verbose,
            width: stdout_width(),
        }
    }
}

/// The terminal's width when stdout is one, `COLUMNS` first (so a user, or
/// a terminal the query cannot see through, can say); otherwise the fixed
/// [`LOG_WIDTH`], ignoring `COLUMNS`, so that piped output and files are
/// the same on every machine and in every CI.
fn stdout_width() -> u16 {
    let stdout = std::io::stdout();
    if !stdout.is_terminal() {
        return LOG_WIDTH;
    }
    let from_env = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<u16>().ok())
        .filter(|&c| c > 0);
    from_env
        .or_else(|| terminal_size::terminal_size_of(&stdout).map(|(w, _)| w.0))
        .filter(|&c| c > 0)
        .unwrap_or(LOG_WIDTH)
        .max(MIN_WIDTH)
}

pub fn dispatch(cli: Cli) -> anyhow::Result<Exit> {
    let ui = Ui::new(&cli);
    match cli.command {
        Command::Check(args) => check::run(*args, ui),
        Command::Validate(args) => validate::run(args, ui),
        Command::List(args) => list::run(args, ui),
        Command::Schema(args) => schema::run(args),
        Command::Diff(args) => diff::run(args, ui),
        Command::LintMetrics(args) => lint_metrics::run(args, ui),
        Command::Man(args) => man::run(args),
        Command::History(args) => history::run(args, ui),
        Command::Demo(args) => demo::run(*args, ui),
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut cmd, "medianest-gate", &mut std::io::stdout());
            Ok(Exit::Passed)
        }
    }
}
