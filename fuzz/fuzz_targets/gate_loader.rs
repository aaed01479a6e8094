//! Arbitrary bytes as a gate file: `gate::load` must return a gate or
//! located errors, never panic or hang; a loaded gate goes through
//! `ensure_env` (all checks, then a subset) like `check` does.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use medianest_gate::gate::{self, Env};

fuzz_target!(|data: &[u8]| {
    // `load_source` refuses non-UTF-8 files before parsing.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // A few variables set (one empty) so both sides of `${X:-d}` are reached.
    let vars = BTreeMap::from([
        ("METRICS_TOKEN".to_string(), "t0ken".to_string()),
        ("EMPTY".to_string(), String::new()),
        ("X".to_string(), "$${X}".to_string()),
    ]);
    let env = Env::fixed(vars);
    // Lines as YAML counts them: `\n`, `\r\n` and a lone `\r` end a line.
    let lines = 1 + text
        .replace("\r\n", "\n")
        .bytes()
        .filter(|b| matches!(b, b'\n' | b'\r'))
        .count() as u64;
    match gate::load("fuzz.yaml", text, &env) {
        Ok(g) => {
            let _ = gate::ensure_env(&g, &|_| true);
            let _ = gate::ensure_env(&g, &|id| id.len() % 2 == 0);
            let _ = g.checks().count();
        }
        Err(errors) => {
            assert!(!errors.0.is_empty(), "an error result with no errors");
            for e in &errors.0 {
                // line 0 means "the whole file"; else it must point into it.
                assert!(e.line <= lines, "line {} of a {lines}-line file: {e}", e.line);
                assert!(e.line == 0 || e.column >= 1, "column 0: {e}");
            }
            let _ = errors.to_string();
        }
    }
});
