//! Writes the generated inputs of `scripts/bench` to stdout, deterministically:
//!
//! ```text
//! cargo run --release --example bench_gen -- exposition 100000 > metrics.prom
//! cargo run --release --example bench_gen -- gate 1000 > gate.yaml
//! ```
//!
//! The generators are the ones the criterion benches use, so the script and
//! `cargo bench` measure the same bytes.

use std::io::Write as _;

#[path = "../benches/support/exposition.rs"]
mod exposition;
#[path = "../benches/support/gate.rs"]
mod gate;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (what, n) = match args.as_slice() {
        [what, n] => (what.as_str(), n.parse::<usize>().ok()),
        _ => ("", None),
    };
    let text = match (what, n) {
        ("exposition", Some(series)) => exposition::exposition(series),
        ("gate", Some(checks)) if checks > 0 => gate::http_gate(checks),
        _ => {
            eprintln!("usage: bench_gen exposition SERIES | bench_gen gate CHECKS");
            std::process::exit(2);
        }
    };
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        eprintln!("bench_gen: cannot write to stdout: {e}");
        std::process::exit(1);
    }
}
