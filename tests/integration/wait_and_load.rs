//! `--wait` against a backend that comes up late, and the report's count of
//! the requests each target received, both held against the fixture's own
//! log of what arrived.

use std::time::{Duration, Instant};

use crate::support::backend::{Backend, Endpoint};
use crate::support::{check, check_backend, json, output};

/// The backend's `/health` answers 503 until `after`, then 200; returns the
/// backend (once flipped) and when it turned healthy.
fn healthy_after(backend: Backend, after: Duration) -> std::thread::JoinHandle<(Backend, Instant)> {
    backend.set(|b| {
        b.health
            .insert("/health".into(), Endpoint::json(503, r#"{"status":"starting"}"#));
    });
    std::thread::spawn(move || {
        std::thread::sleep(after);
        backend.set(|b| {
            b.health
                .insert("/health".into(), Endpoint::json(200, r#"{"status":"ok"}"#));
        });
        (backend, Instant::now())
    })
}

#[test]
fn a_backend_that_comes_up_late_passes_under_wait_and_is_never_asked_more_than_twice_a_second() {
    let backend = Backend::healthy();
    let url = backend.url.clone();
    let flip = healthy_after(backend, Duration::from_millis(2500));
    // --interval at its default (5s): the backoff starts near a second.
    let (code, stdout, stderr) = output(check_backend(&url).args(["--format", "json", "--wait", "30s"]));
    let (backend, _) = flip.join().expect("the flipping thread");
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let r = json(&stdout);

    let health = check(&r, "health");
    assert_eq!(health["status"], "pass");
    assert_eq!(health["passed_after_retry"], true);
    let arrivals = backend.arrivals();
    let health_times: Vec<Instant> = arrivals
        .iter()
        .filter(|(_, p)| p == "/health")
        .map(|(t, _)| *t)
        .collect();
    assert!(
        health_times.len() >= 3,
        "503 first, at least one retry, then 200: {health_times:?}"
    );
    assert_eq!(health["attempts"].as_u64(), Some(health_times.len() as u64));
    for pair in health_times.windows(2) {
        let gap = pair[1] - pair[0];
        assert!(
            gap >= Duration::from_millis(500),
            "a failing check was asked again after {gap:?}, more than 2 requests/s"
        );
    }

    // The checks that passed at once are not retried while `/health` fails,
    // and are taken once more right after it passes (one consistent pass).
    let api = check(&r, "health-api");
    assert_eq!(api["passed_after_retry"], false);
    assert_eq!(api["attempts"], 2, "{api}");
    let api_hits = arrivals.iter().filter(|(_, p)| p == "/api/health").count();
    assert_eq!(api_hits, 2);

    assert_requests_match(&r, &backend);
}

#[test]
fn the_report_counts_the_requests_the_backend_received() {
    let backend = Backend::healthy();
    backend.set(|b| {
        b.health.insert("/api/health".into(), Endpoint::json(503, "{}"));
    });
    let (_, stdout, stderr) = output(check_backend(&backend.url).args(["--format", "json"]));
    let r = json(&stdout);
    assert!(!backend.arrivals().is_empty(), "{stderr}");
    assert_requests_match(&r, &backend);

    let (_, table, _) = output(check_backend(&backend.url).args(["--format", "table"]));
    let n = backend.arrivals().len() / 2;
    assert!(
        table.contains(&format!("Requests sent: {n} (backend {n})")),
        "the table footer states the load: {table}"
    );
}

/// The report's `requests` say exactly what the backend saw: every request
/// went to the `backend` target and nowhere else.
fn assert_requests_match(r: &serde_json::Value, backend: &Backend) {
    let received = backend.arrivals().len() as u64;
    assert_eq!(r["requests"]["total"].as_u64(), Some(received), "{}", r["requests"]);
    assert_eq!(
        r["requests"]["by_target"],
        serde_json::json!([{"targets": ["backend"], "requests": received}])
    );
}
