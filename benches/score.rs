//! Scoring, root causes and the fix path (pure functions of `score`) on a
//! 1,000-check gate: ten requirements of 100 checks, in three states a
//! report meets: all passing, one target down (one root cause behind every
//! check), and scattered failures (many independent causes, some checks
//! blocked by the ones they need), which makes the fix path search greedy.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use medianest_gate::gate::PassRule as Rule;
use medianest_gate::gate::Severity;
use medianest_gate::probe::Status;
use medianest_gate::score::{self, CheckIn, ReqIn};

const RULE: Rule = Rule {
    min_score: 85.0,
    required_must_pass: true,
};

/// Ten requirements of 100 checks; `state(i)` gives check `i` its status
/// and cause key.
fn gate(state: impl Fn(usize) -> (Status, Option<String>)) -> Vec<ReqIn> {
    (0..10)
        .map(|r| ReqIn {
            id: format!("req-{r:03}"),
            weight: (1 + r % 5) as f64,
            required: r % 2 == 0,
            severity: [Severity::Critical, Severity::High, Severity::Medium, Severity::Low][r % 4],
            checks: (r * 100..(r + 1) * 100)
                .map(|i| {
                    let (status, cause_key) = state(i);
                    CheckIn {
                        id: format!("check-{i:04}"),
                        weight: 1.0,
                        status,
                        cause_summary: cause_key.as_ref().map(|k| format!("{k} is broken")),
                        cause_key,
                        cause_rank: 1,
                        // Every tenth check needs the one before it, as a
                        // latency check needs its scrape check.
                        needs: if i % 10 == 9 {
                            vec![format!("check-{:04}", i - 1)]
                        } else {
                            Vec::new()
                        },
                        security: false,
                    }
                })
                .collect(),
        })
        .collect()
}

fn scenarios() -> Vec<(&'static str, Vec<ReqIn>)> {
    vec![
        ("all_pass", gate(|_| (Status::Pass, None))),
        (
            "target_down",
            gate(|i| {
                if i % 10 == 9 {
                    (Status::Blocked, None)
                } else {
                    (Status::Error, Some("unreachable:backend".to_string()))
                }
            }),
        ),
        (
            "scattered_40_causes",
            gate(|i| match i % 25 {
                // 40 failing checks (every 25th), each its own cause; the 20
                // checks that need one of them (every 50th) are blocked.
                8 => (Status::Fail, Some(format!("check:check-{i:04}"))),
                9 if i % 10 == 9 => (Status::Blocked, None),
                _ => (Status::Pass, None),
            }),
        ),
    ]
}

fn scoring(c: &mut Criterion) {
    let mut group = c.benchmark_group("score_1000_checks");
    group.sample_size(20);
    for (name, reqs) in scenarios() {
        group.bench_with_input(BenchmarkId::new("gate_score", name), &reqs, |b, r| {
            b.iter(|| score::gate_score(black_box(r)))
        });
        group.bench_with_input(BenchmarkId::new("passes", name), &reqs, |b, r| {
            b.iter(|| score::passes(black_box(r), RULE))
        });
        group.bench_with_input(BenchmarkId::new("root_causes", name), &reqs, |b, r| {
            b.iter(|| score::root_causes(black_box(r)))
        });
        group.bench_with_input(BenchmarkId::new("fix_path", name), &reqs, |b, r| {
            b.iter(|| score::fix_path(black_box(r), RULE))
        });
    }
    group.finish();
}

criterion_group!(benches, scoring);
criterion_main!(benches);
