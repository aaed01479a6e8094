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

/// The `attempt N (…s): …` lines `--wait` wrote on stderr.
fn attempt_lines(stderr: &str) -> Vec<&str> {
    stderr.lines().filter(|l| l.starts_with("attempt ")).collect()
}

#[test]
fn wait_narrates_every_attempt_on_stderr_and_the_report_counts_them() {
    let backend = Backend::healthy();
    let url = backend.url.clone();
    let flip = healthy_after(backend, Duration::from_millis(2000));
    // stderr is a pipe here, as in CI: no spinner, but the narration.
    let (code, stdout, stderr) = output(check_backend(&url).args(["--format", "json", "--wait", "30s"]));
    let _ = flip.join().expect("the flipping thread");
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let r = json(&stdout);
    let lines = attempt_lines(&stderr);
    let attempts = r["attempts"].as_u64().expect("a run-level attempt count");
    assert_eq!(lines.len() as u64, attempts, "one line per attempt:\n{stderr}");
    assert!(
        attempts >= 4,
        "a failing first run, a retry, a confirmation, a pass:\n{stderr}"
    );

    let number = |line: &str| -> u64 {
        let n = line["attempt ".len()..].split(' ').next().unwrap_or_default();
        n.parse().unwrap_or_else(|_| panic!("no attempt number in {line:?}"))
    };
    let failing = |line: &str, still: &str| {
        let (head, rest) = line.split_once("): ").unwrap_or_else(|| panic!("{line:?}"));
        assert!(head.ends_with('s') && head.contains(" ("), "elapsed seconds: {line:?}");
        assert!(
            rest.starts_with(&format!("1 check {still}failing: health-checks/health (fail: ")),
            "{line:?}"
        );
    };
    let (last, rest) = lines.split_last().expect("lines");
    let (confirm, retries) = rest.split_last().expect("lines");
    for (i, line) in lines.iter().enumerate() {
        assert_eq!(number(line), i as u64 + 1, "{stderr}");
    }
    failing(retries[0], "");
    for line in &retries[1..] {
        failing(line, "still ");
    }
    let others = check(&r, "health-api")["attempts"].as_u64();
    assert_eq!(others, Some(2), "taken once, then once more to confirm");
    let ran = r["requirements"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|q| q["checks"].as_array().into_iter().flatten())
        .filter(|c| c["status"] != "skipped")
        .count();
    assert!(
        confirm.ends_with(&format!(
            ": every retried check passes; taking the {} others again",
            ran - 1
        )),
        "{confirm:?}"
    );
    assert!(last.ends_with(": the gate passes"), "{last:?}");

    // Every attempt but the confirmation retried `/health`.
    let health = check(&r, "health");
    assert_eq!(health["attempts"].as_u64(), Some(attempts - 1), "{health}");
    assert_eq!(health["passed_after_retry"], true);
    assert_eq!(check(&r, "health-api")["passed_after_retry"], false);
}

#[test]
fn quiet_silences_the_wait_narration_and_the_table_says_how_many_attempts_a_check_needed() {
    let backend = Backend::healthy();
    let (code, _, stderr) = output(check_backend(&backend.url).args(["--format", "json", "--wait", "5s"]));
    assert_eq!(code, 0, "{stderr}");
    let lines = attempt_lines(&stderr);
    assert!(
        lines.len() == 1 && lines[0].starts_with("attempt 1 (") && lines[0].ends_with("s): the gate passes"),
        "{stderr}"
    );
    let (code, stdout, stderr) = output(check_backend(&backend.url).args(["-q", "--format", "json", "--wait", "5s"]));
    assert_eq!(code, 0, "{stderr}");
    assert!(attempt_lines(&stderr).is_empty(), "-q: {stderr}");
    assert_eq!(json(&stdout)["attempts"], 1);

    let url = backend.url.clone();
    let flip = healthy_after(backend, Duration::from_millis(1200));
    let dir = tempfile::tempdir().expect("temp dir");
    let md_path = dir.path().join("report.md");
    let (code, table, stderr) = output(
        check_backend(&url)
            .args(["--format", "table", "--wait", "30s", "--report"])
            .arg(format!("markdown={}", md_path.display())),
    );
    let _ = flip.join().expect("the flipping thread");
    assert_eq!(code, 0, "{table}\n{stderr}");
    let n = attempt_lines(&stderr).len();
    let row = table
        .lines()
        .find(|l| l.contains(" health ") && l.contains("PASS"))
        .unwrap_or_else(|| panic!("no row for `health`:\n{table}"));
    assert!(row.contains(&format!("passed after {} attempts", n - 1)), "{row}");
    assert!(
        table.contains(&format!("Attempts: {n} (--wait retried the failing checks)")),
        "{table}"
    );
    let md = std::fs::read_to_string(&md_path).expect("the markdown report");
    let row = md
        .lines()
        .find(|l| l.contains("| `health` |"))
        .unwrap_or_else(|| panic!("no row for `health`:\n{md}"));
    assert!(
        row.contains("| PASS | ") && row.contains(&format!("passed after {} attempts: ", n - 1)),
        "{row}"
    );
    assert!(
        md.contains(&format!("Attempts: {n} (--wait retried the failing checks)")),
        "{md}"
    );
}
