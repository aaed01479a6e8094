//! The hostile-server suite: servers that misbehave on purpose. Each case
//! asserts the outcome, the wall time and, where it matters, the peak memory
//! of the real binary, loosely enough not to be flaky on a busy machine.
//! And whatever happens, the bearer token never appears in any output and
//! never reaches another host.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::hostile::{Misbehaviour, start, start_on};
use crate::support::{check, gate_file, json};

const SECRET: &str = "hostile-suite-token-5f1e9c";

/// A gate with a `/metrics` check (bearer token) and a JSON health check against `svc`.
fn gate(url: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    gate_file(&format!(
        r#"schema_version: 1
id: H
name: hostile
targets: {{ svc: "{url}" }}
secrets: {{ token: "${{HOSTILE_TOKEN}}" }}
requirements:
  - id: r
    name: r
    weight: 1
    checks:
      - {{ id: metrics, kind: metrics_endpoint, target: svc, token: token }}
      - {{ id: health, kind: http, target: svc, path: /health, token: token, expect_json: {{ status: ok }} }}
"#
    ))
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
    wall: Duration,
    /// Peak resident set size in KiB, read from /proc while it ran.
    peak_rss_kib: u64,
}

/// Runs the real binary and samples its peak RSS (VmHWM) until it exits.
fn run(gate: &Path, args: &[&str]) -> Run {
    let out_dir = tempfile::tempdir().expect("temp dir");
    let (out, err) = (out_dir.path().join("out"), out_dir.path().join("err"));
    let started = Instant::now();
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("medianest-gate"))
        .args(["check", "--no-progress", "--gate"])
        .arg(gate)
        .args(args)
        .env("HOSTILE_TOKEN", SECRET)
        .env("NO_COLOR", "1")
        .env_remove("RUST_BACKTRACE")
        .stdout(std::fs::File::create(&out).expect("stdout file"))
        .stderr(std::fs::File::create(&err).expect("stderr file"))
        .spawn()
        .expect("spawn the binary");
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    let status = loop {
        if let Ok(text) = std::fs::read_to_string(&status_path) {
            for line in text.lines().filter(|l| l.starts_with("VmHWM:")) {
                let kib = line.split_whitespace().nth(1).and_then(|n| n.parse().ok()).unwrap_or(0);
                peak = peak.max(kib);
            }
        }
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "the binary hung");
        std::thread::sleep(Duration::from_millis(10));
    };
    Run {
        code: status.code().unwrap_or(-1),
        stdout: std::fs::read_to_string(&out).unwrap_or_default(),
        stderr: std::fs::read_to_string(&err).unwrap_or_default(),
        wall: started.elapsed(),
        peak_rss_kib: peak,
    }
}

fn judged(url: &str, timeout: &str) -> (serde_json::Value, Run) {
    let (_dir, path) = gate(url);
    let r = run(&path, &["--format", "json", "--timeout", timeout]);
    assert!(r.code == 1 || r.code == 0, "exit {}: {}", r.code, r.stderr);
    assert!(!r.stderr.contains("panic"), "{}", r.stderr);
    (json(&r.stdout), r)
}

fn msg(report: &serde_json::Value, id: &str) -> String {
    check(report, id)["message"].as_str().unwrap_or_default().to_string()
}

#[test]
fn gigabyte_metrics_body_is_capped_and_memory_stays_bounded() {
    let url = start(Misbehaviour::Endless { total: 1 << 30 });
    let (r, run) = judged(&url, "20s");
    assert_eq!(run.code, 1);
    assert_eq!(check(&r, "metrics")["status"], "fail");
    assert!(
        msg(&r, "metrics").contains("exceeds the 16 MiB cap"),
        "{}",
        msg(&r, "metrics")
    );
    assert!(run.peak_rss_kib < 200 * 1024, "peak RSS {} KiB", run.peak_rss_kib);
    // Stopping at the cap, not reading the whole gigabyte.
    assert!(run.wall < Duration::from_secs(15), "took {:?}", run.wall);
}

#[test]
fn gzip_bomb_is_capped_after_decompression() {
    let url = start(Misbehaviour::GzipBomb { inflated: 256 << 20 });
    let (r, run) = judged(&url, "20s");
    assert_eq!(check(&r, "metrics")["status"], "fail", "{}", check(&r, "metrics"));
    assert!(
        msg(&r, "metrics").contains("exceeds the 16 MiB cap"),
        "{}",
        msg(&r, "metrics")
    );
    assert!(run.peak_rss_kib < 200 * 1024, "peak RSS {} KiB", run.peak_rss_kib);
}

#[test]
fn trickling_server_ends_at_the_timeout() {
    let url = start(Misbehaviour::Trickle);
    let (r, run) = judged(&url, "2s");
    for id in ["metrics", "health"] {
        assert!(msg(&r, id).contains("no answer within 2s"), "{id}: {}", msg(&r, id));
    }
    assert!(run.wall < Duration::from_secs(5), "took {:?}", run.wall);
}

#[test]
fn silent_server_costs_one_timeout_for_all_checks() {
    let url = start(Misbehaviour::Silent);
    let (r, run) = judged(&url, "1s");
    assert_eq!(run.code, 1);
    for id in ["metrics", "health"] {
        assert_eq!(check(&r, id)["status"], "error", "{}", check(&r, id));
        assert!(msg(&r, id).contains("no answer within 1s"), "{id}: {}", msg(&r, id));
    }
    let rcs = r["root_causes"].as_array().unwrap();
    assert_eq!(rcs.len(), 1, "{rcs:?}");
    assert_eq!(rcs[0]["key"], "timeout:svc");
    assert!(run.wall < Duration::from_secs(3), "took {:?}", run.wall);
}

#[test]
fn truncated_json_is_an_error_not_a_hang() {
    let url = start(Misbehaviour::TruncatedJson);
    let (r, run) = judged(&url, "3s");
    assert_eq!(run.code, 1);
    let c = check(&r, "health");
    assert!(matches!(c["status"].as_str(), Some("error") | Some("fail")), "{c}");
    assert!(!msg(&r, "health").is_empty());
    assert!(run.wall < Duration::from_secs(5), "took {:?}", run.wall);
}

#[test]
fn invalid_utf8_exposition_is_located() {
    let body = b"# TYPE up gauge\nup 1\nbad\xff\xfe_metric 1\n".to_vec();
    let url = start(Misbehaviour::Body {
        content_type: "text/plain; version=0.0.4",
        body,
    });
    // Public metrics (anonymous 200 allowed), so the exposition itself is judged.
    let (_dir, path) = gate_file(&format!(
        "schema_version: 1\nid: U\nname: u\ntargets: {{ svc: \"{url}\" }}\nsecrets: {{ token: \"${{HOSTILE_TOKEN}}\" }}\nrequirements:\n  - id: r\n    name: r\n    weight: 1\n    checks:\n      - {{ id: metrics, kind: metrics_endpoint, target: svc, token: token, anonymous_status: [200] }}\n"
    ));
    let run = run(&path, &["--format", "json"]);
    let r = json(&run.stdout);
    let m = msg(&r, "metrics");
    assert!(m.contains("line 3:4") && m.contains("invalid utf-8"), "{m}");
}

#[test]
fn fifty_megabyte_header_is_refused_quickly_with_bounded_memory() {
    let url = start(Misbehaviour::HugeHeader { bytes: 50 << 20 });
    let (r, run) = judged(&url, "10s");
    assert_eq!(check(&r, "metrics")["status"], "error", "{}", check(&r, "metrics"));
    assert!(run.peak_rss_kib < 200 * 1024, "peak RSS {} KiB", run.peak_rss_kib);
    assert!(run.wall < Duration::from_secs(8), "took {:?}", run.wall);
}

#[test]
fn redirect_loop_is_a_clear_failure() {
    let url = start(Misbehaviour::RedirectLoop);
    let (r, _) = judged(&url, "5s");
    let m = msg(&r, "health");
    assert!(m.contains("redirect"), "{m}");
    assert_eq!(check(&r, "health")["status"], "fail");
}

#[test]
fn bearer_token_never_follows_a_redirect_to_another_host() {
    // A recorder on 127.0.0.2 (another host as far as HTTP is concerned).
    let (elsewhere, recorder) = start_on(
        "127.0.0.2",
        Misbehaviour::Body {
            content_type: "text/plain",
            body: b"up 1\n".to_vec(),
        },
    );
    let redirector = start(Misbehaviour::RedirectTo {
        location: format!("{elsewhere}/metrics"),
    });
    let (_r, run) = judged(&redirector, "5s");
    let requests = recorder.requests();
    assert!(
        !requests.is_empty(),
        "the redirect was not followed, so this test proves nothing"
    );
    for req in &requests {
        assert!(!req.contains(SECRET), "the token reached 127.0.0.2:\n{req}");
        assert!(
            !req.to_ascii_lowercase().contains("authorization:"),
            "credentials reached 127.0.0.2:\n{req}"
        );
    }
    assert!(!run.stdout.contains(SECRET) && !run.stderr.contains(SECRET));
}

#[test]
fn html_where_the_prometheus_api_should_be_is_an_error() {
    let url = start(Misbehaviour::Body {
        content_type: "text/html",
        body: b"<!DOCTYPE html><html><body>Sign in</body></html>".to_vec(),
    });
    let (_dir, path) = gate_file(&format!(
        "schema_version: 1\nid: P\nname: p\ntargets: {{ prometheus: \"{url}\" }}\nrequirements:\n  - id: r\n    name: r\n    weight: 1\n    checks:\n      - {{ id: rules, kind: prometheus_rules, target: prometheus, rules: [ApplicationDown] }}\n      - {{ id: q, kind: promql, target: prometheus, query: up, op: '>', threshold: 0 }}\n"
    ));
    let run = run(&path, &["--format", "json"]);
    let r = json(&run.stdout);
    for id in ["rules", "q"] {
        assert_eq!(check(&r, id)["status"], "error");
        assert!(msg(&r, id).contains("HTML"), "{id}: {}", msg(&r, id));
    }
    assert_eq!(
        r["root_causes"].as_array().unwrap().len(),
        1,
        "one cause: the target is not Prometheus"
    );
}

#[test]
fn self_signed_tls_fails_unless_its_ca_is_given_or_insecure_is_explicit() {
    let tls = crate::support::tls::start(r#"{"status":"ok"}"#);
    let (_dir, path) = gate_file(&format!(
        "schema_version: 1\nid: T\nname: tls\ntargets: {{ svc: \"{}\" }}\nrequirements:\n  - id: r\n    name: r\n    weight: 1\n    checks:\n      - {{ id: health, kind: http, target: svc, path: /health, expect_json: {{ status: ok }} }}\n",
        tls.url
    ));
    let r = json(&run(&path, &["--format", "json"]).stdout);
    assert_eq!(check(&r, "health")["status"], "error");
    assert!(msg(&r, "health").contains("TLS"), "{}", msg(&r, "health"));
    assert_eq!(r["root_causes"][0]["key"], "tls:svc");

    let ca = tls.ca_pem.to_string_lossy().to_string();
    let r = json(&run(&path, &["--format", "json", "--ca-cert", &ca]).stdout);
    assert_eq!(check(&r, "health")["status"], "pass", "{}", check(&r, "health"));
    assert_eq!(r["insecure"], false);

    let run_insecure = run(&path, &["--format", "markdown", "--insecure"]);
    assert_eq!(run_insecure.code, 0, "{}", run_insecure.stderr);
    assert!(
        run_insecure.stdout.contains("--insecure"),
        "the report must say --insecure was used"
    );
    let r = json(&run(&path, &["--format", "json", "--insecure"]).stdout);
    assert_eq!(r["insecure"], true);
    assert!(
        check(&r, "health")["reproduce"].as_str().unwrap().contains(" -k "),
        "{}",
        check(&r, "health")
    );
}

#[test]
fn token_appears_in_no_output_in_any_scenario_format_or_log() {
    let scenarios = vec![
        start(Misbehaviour::Silent),
        start(Misbehaviour::TruncatedJson),
        start(Misbehaviour::RedirectLoop),
        start(Misbehaviour::HugeHeader { bytes: 1 << 20 }),
        start(Misbehaviour::Body {
            content_type: "text/plain",
            body: format!("echo_of_request{{auth=\"Bearer {SECRET}\"}} 1\n").into_bytes(),
        }),
        start(Misbehaviour::Body {
            content_type: "application/json",
            body: format!("{{\"status\":\"{SECRET}\"}}").into_bytes(),
        }),
        format!("http://127.0.0.1:{}", crate::support::closed_port()),
    ];
    for url in scenarios {
        let (dir, path) = gate(&url);
        let reports =
            ["json", "markdown", "junit", "table", "html"].map(|f| (f, dir.path().join(format!("report.{f}"))));
        let mut args: Vec<String> = vec![
            "--format".into(),
            "table".into(),
            "-vv".into(),
            "--timeout".into(),
            "1s".into(),
        ];
        for (f, p) in &reports {
            args.push("--report".into());
            args.push(format!("{f}={}", p.display()));
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let r = run(&path, &args);
        assert!(!r.stdout.contains(SECRET), "{url}: stdout leaks the token");
        assert!(!r.stderr.contains(SECRET), "{url}: stderr leaks the token");
        for (f, p) in &reports {
            let text = std::fs::read_to_string(p).unwrap_or_default();
            assert!(!text.is_empty(), "{url}: no {f} report");
            assert!(!text.contains(SECRET), "{url}: the {f} report leaks the token");
        }
    }
}

#[test]
fn a_docker_daemon_streaming_an_endless_answer_is_capped_with_bounded_memory() {
    let url = start(Misbehaviour::EndlessAfterPing { total: 4 << 30 });
    let host = url.replace("http://", "tcp://");
    let (_dir, gate) = gate_file(&format!(
        "schema_version: 1\nid: D\nname: d\ntargets: {{ docker: \"{host}\" }}\nrequirements:\n  - id: r\n    name: r\n    weight: 1\n    checks:\n      - {{ id: box, kind: docker_container, target: docker, container: grafana }}\n      - {{ id: net, kind: docker_network, target: docker, containers: [a, b] }}\n"
    ));
    let run = run(&gate, &["--format", "json", "--timeout", "20s"]);
    let r = json(&run.stdout);
    for id in ["box", "net"] {
        let c = check(&r, id);
        assert_eq!(c["status"], "error", "{c}");
        assert!(
            msg(&r, id).contains("sent an answer larger than 4 MiB"),
            "{}",
            msg(&r, id)
        );
    }
    assert_eq!(
        r["root_causes"][0]["key"], "unreachable:docker",
        "one root cause: the daemon"
    );
    assert!(run.peak_rss_kib < 100 * 1024, "peak RSS {} KiB", run.peak_rss_kib);
    assert_eq!(run.code, 1, "{}", run.stderr);
}

#[test]
fn concurrency_stays_under_the_open_file_limit() {
    let url = start(Misbehaviour::Json {
        status: "200 OK",
        body: "{}",
    });
    let checks: String = (0..1000)
        .map(|i| format!("      - {{ id: c{i}, kind: http, target: svc, path: /health }}\n"))
        .collect();
    let (_dir, gate) = gate_file(&format!(
        "schema_version: 1\nid: F\nname: f\ntargets: {{ svc: \"{url}\" }}\nrequirements:\n  - id: r\n    name: r\n    weight: 1\n    checks:\n{checks}"
    ));
    let bin = assert_cmd::cargo::cargo_bin("medianest-gate");
    let out = Command::new("sh")
        .arg("-c")
        .arg("ulimit -n 256 && exec \"$0\" check --no-progress --format json --concurrency 1000 --timeout 30s --gate \"$1\"")
        .arg(&bin)
        .arg(&gate)
        .env("NO_COLOR", "1")
        .output()
        .expect("run under ulimit");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let r = json(&stdout);
    assert_eq!(
        r["counts"]["pass"], 1000,
        "no check fails for lack of descriptors: {}",
        r["summary"]
    );
    assert!(
        r["warnings"].to_string().contains("--concurrency 1000 lowered to 192"),
        "{}",
        r["warnings"]
    );
    assert_eq!(out.status.code(), Some(0));
}

/// A valid text exposition of about `bytes` bytes: one latency histogram
/// with a label set per 13 lines, its buckets cumulative and its count
/// equal to `+Inf`, so the probe must parse and check all of it.
fn large_exposition(bytes: usize) -> Vec<u8> {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(bytes + 4096);
    out.push_str("# HELP req_seconds Request latency.\n# TYPE req_seconds histogram\n");
    let mut i = 0u64;
    while out.len() < bytes {
        let labels = format!(
            "route=\"/api/v1/items/{i}\",method=\"GET\",instance=\"10.0.0.{}:9100\"",
            i % 250
        );
        for (n, le) in ["0.005", "0.01", "0.05", "0.1", "0.5", "1", "5", "10", "+Inf"]
            .iter()
            .enumerate()
        {
            let _ = writeln!(out, "req_seconds_bucket{{{labels},le=\"{le}\"}} {}", n * 3);
        }
        let _ = writeln!(out, "req_seconds_sum{{{labels}}} 1.5");
        let _ = writeln!(out, "req_seconds_count{{{labels}}} 24");
        i += 1;
    }
    out.into_bytes()
}

#[test]
fn parsing_a_large_exposition_never_delays_another_checks_timeout() {
    // Just under the 16 MiB cap: the parse and its histogram checks take
    // seconds in a test build, on the thread they run on.
    let body = large_exposition(15 << 20);
    let big = start(Misbehaviour::Body {
        content_type: "text/plain; version=0.0.4",
        body,
    });
    let silent = start(Misbehaviour::Silent);
    let (_dir, path) = gate_file(&format!(
        r#"schema_version: 1
id: P
name: parse off the runtime thread
targets: {{ big: "{big}", silent: "{silent}" }}
secrets: {{ token: "${{HOSTILE_TOKEN}}" }}
requirements:
  - id: r
    name: r
    weight: 1
    checks:
      - {{ id: metrics, kind: metrics_endpoint, target: big, token: token, anonymous_status: [200], timeout: 120s }}
      - {{ id: quiet, kind: http, target: silent, path: /health, timeout: 1s }}
"#
    ));
    let run = run(&path, &["--format", "json"]);
    assert!(run.code == 0 || run.code == 1, "exit {}: {}", run.code, run.stderr);
    let r = json(&run.stdout);
    let metrics = check(&r, "metrics");
    assert_eq!(metrics["status"], "pass", "{metrics:#}");
    assert!(
        metrics["evidence"]["series_count"].as_u64().unwrap_or(0) > 100_000,
        "{metrics:#}"
    );
    let quiet = check(&r, "quiet");
    assert_eq!(quiet["status"], "error", "{quiet:#}");
    assert!(msg(&r, "quiet").contains("no answer within 1s"), "{}", msg(&r, "quiet"));
    // The silent check ends at its own timeout, give or take a busy
    // machine; a parse on the runtime thread would hold its timer until the
    // parse ends, seconds later.
    let quiet_ms = quiet["duration_ms"].as_u64().unwrap_or(u64::MAX);
    let metrics_ms = metrics["duration_ms"].as_u64().unwrap_or(0);
    assert!(
        quiet_ms < 2_500,
        "the silent check took {quiet_ms} ms (the parsing one {metrics_ms} ms)"
    );
}
