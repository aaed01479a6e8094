//! `validate`: lint gate files without probing anything. Unset environment
//! variables are reported as notes, not errors: CI lints gates where the
//! stack's secrets do not exist.

use super::Ui;
use crate::cli::ValidateArgs;
use crate::error::Exit;
use crate::gate::{self, Env, Source};

pub fn run(args: ValidateArgs, ui: Ui) -> anyhow::Result<Exit> {
    let env = Env::process(args.vars.into_iter().collect());
    // Positional files and `--gate` files are the same thing, as in `check` and `list`.
    let files: Vec<_> = args.files.into_iter().chain(args.gates).collect();
    let sources: Vec<Source> = if files.is_empty() {
        vec![Source::Builtin]
    } else {
        files.into_iter().map(Source::File).collect()
    };
    let mut ok = true;
    for source in &sources {
        match gate::load_source(source, &env) {
            Ok(g) => {
                if !ui.quiet {
                    let checks = g.checks().count();
                    anstream::eprintln!(
                        "{}: ok — gate {} ({} requirements, {checks} checks, pass at {}%)",
                        source.display_name(),
                        g.id,
                        g.requirements.len(),
                        g.pass.min_score
                    );
                    if let Err(missing) = gate::ensure_env(&g, &|_| true) {
                        for e in missing.0 {
                            anstream::eprintln!("  note: {}:{}:{}: {}", e.file, e.line, e.column, e.message);
                        }
                    }
                }
            }
            Err(errors) => {
                ok = false;
                anstream::eprintln!("{errors}");
            }
        }
    }
    Ok(if ok { Exit::Passed } else { Exit::Usage })
}
