//! Gate loading: YAML parsing, `${VAR}` expansion and validation of the
//! built-in Gate G, and of a generated gate of 1,000 `http` checks.

use std::collections::BTreeMap;
use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use medianest_gate::gate::{self, Env, Source};

#[path = "support/gate.rs"]
mod generate;

fn env() -> Env {
    Env::fixed(BTreeMap::from([(
        "METRICS_TOKEN".to_string(),
        "bench-metrics-token-7f3a9c2e51d4".to_string(),
    )]))
}

fn loading(c: &mut Criterion) {
    let env = env();
    let mut group = c.benchmark_group("gate_load");
    group.bench_function("gate_g_builtin", |b| {
        b.iter(|| gate::load_source(black_box(&Source::Builtin), &env).expect("Gate G loads"))
    });
    let text = generate::http_gate(1_000);
    group.throughput(Throughput::Bytes(text.len() as u64));
    group.sample_size(20);
    group.bench_function("http_checks_1000", |b| {
        b.iter(|| gate::load("bench.yaml", black_box(&text), &env).expect("generated gate loads"))
    });
    group.finish();
}

criterion_group!(benches, loading);
criterion_main!(benches);
