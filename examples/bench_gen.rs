//! Writes the generated inputs of `scripts/bench` to stdout, deterministically:
//!
//! ```text
//! cargo run --release --example bench_gen -- exposition 100000 > metrics.prom
//! cargo run --release --example bench_gen -- gate 1000 > gate.yaml
//! cargo run --release --example bench_gen -- family 2000000 > giant.prom
//! ```
//!
//! The generators are the ones the criterion benches use, so the script and
//! `cargo bench` measure the same bytes; `family` is the linter's worst case
//! for memory, every series in one family.

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
        ("family", Some(series)) => single_family(series),
        _ => {
            eprintln!("usage: bench_gen exposition SERIES | bench_gen gate CHECKS | bench_gen family SERIES");
            std::process::exit(2);
        }
    };
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        eprintln!("bench_gen: cannot write to stdout: {e}");
        std::process::exit(1);
    }
}

/// One gauge family of `series` distinct series (≈ 100 bytes a line): what
/// `lint-metrics` must remember to find duplicate series grows with it.
fn single_family(series: usize) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(series * 104 + 128);
    out.push_str("# HELP medianest_item_bytes Bytes stored per media item.\n# TYPE medianest_item_bytes gauge\n");
    for i in 0..series {
        let _ = writeln!(
            out,
            "medianest_item_bytes{{library=\"lib{}\",item=\"/media/library/{}/item-{i}.mkv\",codec=\"h264\"}} {}",
            i % 97,
            i / 97,
            (i * 31) % 100_003
        );
    }
    out
}
