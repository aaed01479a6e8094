//! Exposition parser throughput on the ~10 MB body of 100,000 series that
//! `scripts/bench` lints (histograms included), and the histogram checks
//! `lint-metrics` runs after parsing.
//!
//! Under `cargo test --all-targets` criterion runs each benchmark once; the
//! body is then 2,000 series so the unoptimised test build stays quick.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use medianest_gate::exposition::{self, Format};

#[path = "support/exposition.rs"]
mod generate;

/// `cargo bench` passes `--bench`; `cargo test` does not.
fn series() -> usize {
    if std::env::args().any(|a| a == "--bench") {
        100_000
    } else {
        2_000
    }
}

fn parser(c: &mut Criterion) {
    let body = generate::exposition(series());
    let mut group = c.benchmark_group("exposition");
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.sample_size(20);
    group.bench_function("parse_text", |b| {
        b.iter(|| exposition::parse(black_box(&body), Format::Text).expect("generated body parses"))
    });
    group.bench_function("parse_bytes", |b| {
        b.iter(|| exposition::parse_bytes(black_box(body.as_bytes()), Format::Text).expect("generated body parses"))
    });
    let parsed = exposition::parse(&body, Format::Text).expect("generated body parses");
    group.bench_function("histogram_problems", |b| {
        b.iter(|| exposition::histogram_problems(black_box(&parsed)))
    });
    group.finish();
}

criterion_group!(benches, parser);
criterion_main!(benches);
