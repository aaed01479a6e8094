//! A generated gate of many `http` checks against one target, for
//! benchmarks of gate loading, scoring and a large concurrent run. Shared by
//! `benches/` and `examples/bench_gen.rs` through `#[path]`.

use std::fmt::Write as _;

/// Checks per requirement: ten requirements of 100 checks for a 1,000-check gate.
const PER_REQUIREMENT: usize = 100;

/// A valid gate of `checks` `http` checks (GET `/health` on target `backend`,
/// whose URL comes from `BENCH_BACKEND_URL` or `--target backend=URL`).
pub fn http_gate(checks: usize) -> String {
    let mut out = String::from(
        "# Generated benchmark gate: many http checks against one backend.\n\
         schema_version: 1\n\
         id: BENCH\n\
         name: Benchmark gate of http checks\n\
         pass: { min_score: 85, required_must_pass: true }\n\
         targets:\n  backend: \"${BENCH_BACKEND_URL:-http://127.0.0.1:3000}\"\n\
         defaults: { timeout: 5s }\n\
         requirements:\n",
    );
    let requirements = checks.div_ceil(PER_REQUIREMENT);
    for r in 0..requirements {
        let _ = write!(
            out,
            "  - id: req-{r:03}\n    name: Requirement {r}\n    weight: {}\n    severity: medium\n    required: {}\n    checks:\n",
            1 + r % 5,
            r % 2 == 0
        );
        let first = r * PER_REQUIREMENT;
        for c in first..checks.min(first + PER_REQUIREMENT) {
            let _ = writeln!(
                out,
                "      - {{ id: check-{c:04}, kind: http, target: backend, path: /health, max_latency: 5s }}"
            );
        }
    }
    out
}
