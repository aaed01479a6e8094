//! `man`: the manual pages, rendered by clap_mangen from the same clap
//! definition as `--help`, so the two can never disagree.

use anyhow::Context;
use clap::CommandFactory;

use crate::cli::{Cli, ManArgs};
use crate::error::{Exit, Failure};

pub fn run(args: ManArgs) -> anyhow::Result<Exit> {
    let mut root = Cli::command();
    if let Some(dir) = &args.out_dir {
        // Pages are named like git's: medianest-gate.1, medianest-gate-check.1, …
        std::fs::create_dir_all(dir)
            .and_then(|()| clap_mangen::generate_to(root, dir))
            .map_err(|e| Failure::Input(format!("cannot write man pages into {}: {e}", dir.display())))?;
        return Ok(Exit::Passed);
    }
    let page = match &args.command {
        None => root,
        Some(name) => {
            root.build();
            let names: Vec<String> = root
                .get_subcommands()
                .map(|c| c.get_name().to_string())
                .filter(|n| n != "help")
                .collect();
            let Some(sub) = root.find_subcommand(name).filter(|c| c.get_name() != "help").cloned() else {
                let hint = crate::suggest::closest(name, names.iter().map(String::as_str))
                    .map(|s| format!(" (did you mean `{s}`?)"))
                    .unwrap_or_default();
                return Err(Failure::usage(format!(
                    "no command `{name}`{hint}: the commands are {}",
                    names.join(", ")
                ))
                .into());
            };
            let full = format!("medianest-gate-{}", sub.get_name());
            sub.display_name(full).bin_name(format!("medianest-gate {name}"))
        }
    };
    let mut out = Vec::new();
    let source = format!("medianest-gate {}", env!("CARGO_PKG_VERSION"));
    clap_mangen::Man::new(page)
        .source(source)
        .render(&mut out)
        .context("rendering the man page")?;
    crate::error::print(&String::from_utf8_lossy(&out))?;
    Ok(Exit::Passed)
}
