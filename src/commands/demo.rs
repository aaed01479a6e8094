//! `demo`: starts the simulated stack of [`crate::demo`], runs `check` (the
//! built-in Gate G, with every flag the user gave) against it, and stops
//! it. The exit code is the check's.

use super::{Ui, check};
use crate::cli::DemoArgs;
use crate::demo::{Scenario, Stack};
use crate::error::{Exit, Failure};

pub fn run(args: DemoArgs, ui: Ui) -> anyhow::Result<Exit> {
    if args.list {
        let width = Scenario::ALL.iter().map(|s| s.name().len()).max().unwrap_or(0);
        let lines: String = Scenario::ALL
            .iter()
            .map(|s| format!("{:width$}  {}\n", s.name(), s.description()))
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
    stack.stop();
    result
}

fn unknown(name: &str) -> Failure {
    let names = Scenario::ALL.map(Scenario::name);
    let hint = crate::suggest::closest(name, names)
        .map(|s| format!(" (did you mean `{s}`?)"))
        .unwrap_or_default();
    Failure::usage(format!(
        "unknown demo scenario `{name}`{hint}; scenarios: {}",
        names.join(", ")
    ))
}
