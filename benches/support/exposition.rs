//! Deterministic Prometheus text expositions of any size, for benchmarks:
//! the shape prom-client gives a busy backend (a request counter and a
//! latency histogram per method × route × status), so `lint-metrics`, the
//! parser bench and `promtool check metrics` all read the same realistic
//! body. Shared by `benches/` and `examples/bench_gen.rs` through `#[path]`.

use std::fmt::Write as _;

const METHODS: [&str; 4] = ["GET", "POST", "PUT", "DELETE"];
const STATUSES: [&str; 10] = ["200", "201", "204", "301", "400", "401", "403", "404", "500", "503"];
const RESOURCES: [&str; 8] = [
    "media",
    "users",
    "libraries",
    "playlists",
    "search",
    "uploads",
    "sessions",
    "jobs",
];
/// prom-client's default buckets, and the share of requests at or below each.
const BUCKETS: [(&str, f64); 11] = [
    ("0.005", 0.08),
    ("0.01", 0.17),
    ("0.025", 0.31),
    ("0.05", 0.48),
    ("0.1", 0.66),
    ("0.25", 0.83),
    ("0.5", 0.93),
    ("1", 0.975),
    ("2.5", 0.992),
    ("5", 0.998),
    ("10", 0.9995),
];
/// Lines per label set: one counter, and a histogram of 11 buckets, `+Inf`, `_sum`, `_count`.
const SERIES_PER_SET: usize = 1 + BUCKETS.len() + 3;

/// The labels of label set `i`; distinct for every `i` (mixed radix).
fn labels(i: usize) -> String {
    format!(
        "method=\"{}\",route=\"/api/v1/{}/{}\",status_code=\"{}\"",
        METHODS[i % 4],
        RESOURCES[(i / 4) % 8],
        i / 32 / 10,
        STATUSES[(i / 32) % 10]
    )
}

/// An exposition of exactly `series` sample lines (≈ 100 bytes each), the
/// same bytes for the same `series`: histograms complete and cumulative,
/// names and units as `promtool check metrics` wants them.
pub fn exposition(series: usize) -> String {
    let sets = series / SERIES_PER_SET;
    let rest = series - sets * SERIES_PER_SET;
    let mut out = String::with_capacity(series * 104 + 1024);
    // Requests per label set, spread deterministically over 1..=100_000.
    let total = |i: usize| (i * 7919) % 100_000 + 1;

    out.push_str("# HELP http_requests_total Total number of HTTP requests.\n# TYPE http_requests_total counter\n");
    for i in 0..sets {
        let _ = writeln!(out, "http_requests_total{{{}}} {}", labels(i), total(i));
    }
    out.push_str(
        "# HELP http_request_duration_seconds Duration of HTTP requests in seconds.\n\
         # TYPE http_request_duration_seconds histogram\n",
    );
    for i in 0..sets {
        let l = labels(i);
        let n = total(i);
        for (le, share) in BUCKETS {
            let _ = writeln!(
                out,
                "http_request_duration_seconds_bucket{{{l},le=\"{le}\"}} {}",
                (n as f64 * share).floor()
            );
        }
        let _ = writeln!(out, "http_request_duration_seconds_bucket{{{l},le=\"+Inf\"}} {n}");
        let _ = writeln!(out, "http_request_duration_seconds_sum{{{l}}} {:.3}", n as f64 * 0.087);
        let _ = writeln!(out, "http_request_duration_seconds_count{{{l}}} {n}");
    }
    // Whatever does not fill a whole label set becomes gauge series.
    if rest > 0 {
        out.push_str("# HELP medianest_queue_depth Jobs waiting per queue.\n# TYPE medianest_queue_depth gauge\n");
        for q in 0..rest {
            let _ = writeln!(out, "medianest_queue_depth{{queue=\"q{q}\"}} {}", (q * 31) % 97);
        }
    }
    out
}
