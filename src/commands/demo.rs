//! `demo`: starts the simulated stack of [`crate::demo`], runs `check` (the
//! built-in Gate G, with every flag the user gave) against it, and stops
//! it. The exit code is the check's.

use super::{Ui, check};
use crate::cli::DemoArgs;
use crate::demo::{Scenario, Stack};
use crate::error::{Exit, Failure};

pub fn run(args: DemoArgs, ui: Ui) -> anyhow::Result<Exit> {
    if args.list {
        let width = Scenario::list().map(|(name, _)| name.len()).max().unwrap_or(0);
        let lines: String = Scenario::list()
            .map(|(name, what)| format!("{name:width$}  {what}\n"))
            .collect();
        crate::error::print(&lines)?;
        return Ok(Exit::Passed);
    }
    let scenario = match args.scenario.as_deref() {
        None => Scenario::SeedDay,
        Some(name) => Scenario::parse(name).ok_or_else(|| unknown(name))?,
    };
    let stack = Stack::start(scenario)?;
    let what = format!(
        "MediaNest stack simulated in-process on 127.0.0.1 by `medianest-gate demo` (scenario `{}`); nothing real was probed",
        scenario.name()
    );
    if !ui.quiet {
        anstream::eprintln!(
            "medianest-gate demo: SIMULATED STACK, nothing real is probed.\n  scenario `{}`: {}\n  (other scenarios: `medianest-gate demo --list`; a real stack: `medianest-gate check`)",
            scenario.name(),
            scenario.description()
        );
    }
    let mut check = args.check;
    // The stack's endpoints and tokens first: the user's own --var still wins.
    let mut vars = stack.vars.clone();
    vars.append(&mut check.gate.vars);
    check.gate.vars = vars;
    let result = check::run_as(check, ui, Some(what));
    drop(stack);
    result
}

fn unknown(name: &str) -> Failure {
    let names: Vec<&str> = Scenario::list().map(|(name, _)| name).collect();
    let hint = crate::suggest::closest(name, names.iter().copied())
        .map(|s| format!(" (did you mean `{s}`?)"))
        .unwrap_or_default();
    Failure::usage(format!(
        "unknown demo scenario `{name}`{hint}; scenarios: {}",
        names.join(", ")
    ))
}
