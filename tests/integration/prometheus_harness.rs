//! Self-tests of the real-Prometheus harness: that Prometheus scrapes the
//! fixture backend the way the Prometheus-probe tests assume (bearer file,
//! exact `lastError` strings, p95 from the traffic histogram, rules loaded),
//! that the harness cleans up, and that `Traffic` predicts `histogram_quantile`.

use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::support::backend::{Backend, Behaviour, Traffic};
use crate::support::prometheus::{PromConfig, Prometheus, default_rules};
use crate::support::{TOKEN, check, check_backend, closed_port, json, output};

const JOB: &str = "medianest-backend";

/// Generous: the first scrape alone comes ~5 s after start in 2.42, and the
/// machine may be busy with other tests.
const SCRAPES: Duration = Duration::from_secs(60);
const SETTLE: Duration = Duration::from_secs(30);

/// The p95 query of Gate G, for one job.
fn p95_query(job: &str) -> String {
    format!("histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{{job=\"{job}\"}}[1m])))")
}

fn is_listening(url: &str) -> bool {
    let addr = url.trim_start_matches("http://");
    TcpStream::connect_timeout(&addr.parse().expect("socket addr"), Duration::from_secs(2)).is_ok()
}

#[test]
fn bearer_scrape_is_up_and_sends_the_token() {
    let started = Instant::now();
    let backend = Backend::healthy();
    let prom = Prometheus::start(PromConfig::new(JOB, &backend.addr()).bearer(TOKEN));
    prom.wait_for_scrapes(JOB, 2, SCRAPES);
    let t = prom.target(JOB);
    assert_eq!(t["health"], "up", "{t}");
    assert_eq!(t["lastError"], "", "{t}");
    assert_eq!(t["scrapeUrl"], format!("{}/metrics", backend.url));
    let auth = backend.auth_headers();
    assert!(!auth.is_empty(), "Prometheus sent no Authorization header");
    assert!(
        auth.iter().all(|a| *a == format!("Bearer {TOKEN}")),
        "unexpected Authorization headers: {auth:?}"
    );
    // The samples are stored, not only the target's state.
    prom.eventually("up == 1 is stored", SETTLE, || {
        (prom.query_value(&format!("up{{job=\"{JOB}\"}}")) == Some(1.0)).then_some(())
    });
    let stored = prom.query_value(&format!("http_requests_total{{job=\"{JOB}\",status_code=\"500\"}}"));
    assert_eq!(stored, Some(3.0), "the fixture body's counter, as scraped");
    eprintln!("bearer scrape: up after {:?}", started.elapsed());

    // Dropping the guard stops the server and removes its files.
    let (url, dir) = (prom.url.clone(), prom.dir().to_path_buf());
    assert!(dir.join("data").is_dir());
    drop(prom);
    assert!(!is_listening(&url), "Prometheus still listens on {url}");
    assert!(!dir.exists(), "{} was not removed", dir.display());
}

#[test]
fn scrape_without_credentials_is_down_with_401() {
    let backend = Backend::healthy();
    let prom = Prometheus::start(PromConfig::new(JOB, &backend.addr()));
    prom.wait_for_scrapes(JOB, 1, SCRAPES);
    let t = prom.target(JOB);
    assert_eq!(t["health"], "down", "{t}");
    assert_eq!(t["lastError"], "server returned HTTP status 401 Unauthorized", "{t}");
    assert!(backend.auth_headers().is_empty(), "no token was configured");
    prom.eventually("up == 0 is stored", SETTLE, || {
        (prom.query_value(&format!("up{{job=\"{JOB}\"}}")) == Some(0.0)).then_some(())
    });
}

#[test]
fn closed_port_reports_connection_refused() {
    let target = format!("127.0.0.1:{}", closed_port());
    let prom = Prometheus::start(PromConfig::new(JOB, &target).bearer(TOKEN));
    prom.wait_for_scrapes(JOB, 1, SCRAPES);
    let t = prom.target(JOB);
    assert_eq!(t["health"], "down", "{t}");
    let err = t["lastError"].as_str().unwrap_or_default();
    assert_eq!(
        err,
        format!("Get \"http://{target}/metrics\": dial tcp {target}: connect: connection refused")
    );
}

#[test]
fn p95_from_traffic_histogram_is_what_traffic_predicts() {
    let started = Instant::now();
    let fast = Traffic::fast();
    let slow = Traffic::slow();
    let (want_fast, want_slow) = (fast.expected_quantile(0.95), slow.expected_quantile(0.95));
    let fast_backend = Backend::with_traffic(fast);
    // Extra jobs scrape without credentials.
    let open = |t: Traffic| {
        Backend::start(Behaviour {
            token: None,
            traffic: Some(t),
            ..Behaviour::default()
        })
    };
    let slow_backend = open(slow);
    let idle_backend = open(Traffic::none());
    let prom = Prometheus::start(
        PromConfig::new(JOB, &fast_backend.addr())
            .bearer(TOKEN)
            .extra_job("slow", &slow_backend.addr())
            .extra_job("idle", &idle_backend.addr()),
    );
    // Four scrapes span three seconds: with 200 requests/s, rounding the
    // counts to integers moves the p95 by under 2 %.
    for job in [JOB, "slow", "idle"] {
        prom.wait_for_scrapes(job, 4, SCRAPES);
    }
    let p95 = |job: &str| {
        let q = p95_query(job);
        prom.eventually(&format!("`{q}` has a value"), SETTLE, || prom.query_value(&q))
    };
    let (got_fast, got_slow, got_idle) = (p95(JOB), p95("slow"), p95("idle"));
    eprintln!(
        "p95 fast {got_fast} (expected {want_fast}), slow {got_slow} (expected {want_slow}), \
         idle {got_idle}; {:?} since start",
        started.elapsed()
    );
    assert!(
        (got_fast - want_fast).abs() <= 0.1 * want_fast,
        "fast p95 {got_fast}, expected {want_fast}"
    );
    assert!(got_fast < 0.6);
    assert!(
        (got_slow - want_slow).abs() <= 0.1 * want_slow,
        "slow p95 {got_slow}, expected {want_slow}"
    );
    assert!(got_slow > 0.6);
    // No requests: every bucket's rate is 0, and Prometheus answers NaN.
    assert!(got_idle.is_nan(), "idle p95 {got_idle}");
    // The counter grows at the configured rate between stored samples. Not
    // checked with rate(…[1m]): until a minute of samples exists, rate()
    // divides the increase it saw over a few seconds by the whole minute.
    let series = format!("http_requests_total{{job=\"{JOB}\",status_code=\"200\"}}[1m]");
    let raw = prom.query(&series);
    let points: Vec<(f64, f64)> = raw["data"]["result"][0]["values"]
        .as_array()
        .unwrap_or_else(|| panic!("no samples: {raw}"))
        .iter()
        .map(|p| {
            let v = p[1].as_str().and_then(|v| v.parse().ok());
            (p[0].as_f64().expect("timestamp"), v.expect("value"))
        })
        .collect();
    let (first, last) = (points[0], points[points.len() - 1]);
    let per_second = (last.1 - first.1) / (last.0 - first.0);
    eprintln!("200s grew {per_second}/s over {} samples", points.len());
    assert!(
        (per_second - 198.0).abs() < 0.1 * 198.0,
        "200s grew {per_second}/s over {points:?}"
    );
}

#[test]
fn rule_file_is_loaded_and_evaluated() {
    let backend = Backend::with_traffic(Traffic {
        error_share: 0.2,
        ..Traffic::fast()
    });
    let prom = Prometheus::start(
        PromConfig::new(JOB, &backend.addr())
            .bearer(TOKEN)
            .rules(&default_rules()),
    );
    // HighErrorRate needs two scrapes for rate(); with 20 % errors it goes
    // pending (`for: 5m` keeps it from firing), while the target is up so
    // ApplicationDown stays inactive.
    let rules = prom.eventually("both rules evaluated, HighErrorRate pending", SCRAPES, || {
        let r = prom.api("/api/v1/rules");
        let group = r["data"]["groups"]
            .as_array()?
            .iter()
            .find(|g| g["name"] == "medianest")?
            .clone();
        let rules = group["rules"].as_array()?.clone();
        let ok = rules.len() == 2 && rules.iter().all(|r| r["health"] == "ok");
        let pending = rules
            .iter()
            .any(|r| r["name"] == "HighErrorRate" && r["state"] == "pending");
        (ok && pending).then_some(rules)
    });
    let rule = |name: &str| {
        rules
            .iter()
            .find(|r| r["name"] == name)
            .unwrap_or_else(|| panic!("no rule {name}: {rules:?}"))
    };
    let down = rule("ApplicationDown");
    assert_eq!(down["type"], "alerting");
    assert_eq!(down["query"], "up{job=\"medianest-backend\"} == 0");
    assert_eq!(down["duration"], 60.0);
    assert_eq!(down["state"], "inactive", "{down}");
    let errors = rule("HighErrorRate");
    assert_eq!(errors["duration"], 300.0);
    assert_eq!(errors["alerts"][0]["state"], "pending", "{errors}");
}

#[test]
fn broken_rule_file_fails_start_with_the_log() {
    let rules = "groups:\n  - name: broken\n    rules:\n      - alert: Bad\n        expr: up{\n";
    let started = Instant::now();
    let panic = std::panic::catch_unwind(|| Prometheus::start(PromConfig::new(JOB, "127.0.0.1:9").rules(rules)))
        .err()
        .expect("start must fail");
    let msg = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(msg.contains("exited"), "{msg}");
    assert!(msg.contains("parse error"), "the log tail explains why: {msg}");
    // Prometheus exits at once; the harness must not wait out its timeout.
    assert!(started.elapsed() < Duration::from_secs(20), "{:?}", started.elapsed());
}

#[test]
fn panicking_test_still_stops_prometheus() {
    let (tx, rx) = std::sync::mpsc::channel();
    let result = std::panic::catch_unwind(move || {
        let prom = Prometheus::start(PromConfig::new(JOB, "127.0.0.1:9"));
        tx.send((prom.url.clone(), prom.dir().to_path_buf())).expect("send");
        panic!("the test fails while Prometheus runs");
    });
    assert!(result.is_err());
    let (url, dir) = rx.recv().expect("Prometheus started");
    assert!(!is_listening(&url), "Prometheus still listens on {url}");
    assert!(!dir.exists(), "{} was not removed", dir.display());
}

#[test]
fn expected_quantile_follows_prometheus_bucket_quantile() {
    let t = |buckets: Vec<(f64, f64)>| Traffic {
        requests_per_second: 10.0,
        buckets,
        error_share: 0.0,
        started: Instant::now(),
        business: false,
    };
    let h = t(vec![(0.1, 0.5), (0.5, 0.9), (f64::INFINITY, 1.0)]);
    // Inside the first bucket, which starts at 0.
    assert!((h.expected_quantile(0.25) - 0.05).abs() < 1e-12);
    // A rank exactly on a bound belongs to the lower bucket.
    assert!((h.expected_quantile(0.5) - 0.1).abs() < 1e-12);
    assert!((h.expected_quantile(0.7) - 0.3).abs() < 1e-12);
    // In the +Inf bucket: the last finite bound.
    assert_eq!(h.expected_quantile(0.95), 0.5);
    assert_eq!(h.expected_quantile(0.0), 0.0);
    assert_eq!(h.expected_quantile(1.5), f64::INFINITY);
    assert_eq!(h.expected_quantile(-0.5), f64::NEG_INFINITY);
    assert!(h.expected_quantile(f64::NAN).is_nan());
    // No +Inf bucket, or no requests: NaN, as in Prometheus.
    assert!(t(vec![(0.1, 0.5), (0.5, 1.0)]).expected_quantile(0.5).is_nan());
    assert!(Traffic::none().expected_quantile(0.95).is_nan());

    assert!((Traffic::fast().expected_quantile(0.95) - 0.2).abs() < 1e-9);
    assert!((Traffic::slow().expected_quantile(0.95) - 1.5).abs() < 1e-9);
    for p95 in [0.006, 0.04, 0.1, 0.3, 0.6, 0.99, 2.0, 7.5, 10.0] {
        let got = Traffic::with_p95(p95).expected_quantile(0.95);
        assert!((got - p95).abs() < 1e-9 * p95, "with_p95({p95}) gives {got}");
    }
}

/// `(series, value)` of each sample line.
fn samples(body: &str) -> Vec<(String, f64)> {
    body.lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| {
            let (series, value) = l.rsplit_once(' ').expect("sample line");
            (series.to_string(), value.parse().expect("number"))
        })
        .collect()
}

#[test]
fn traffic_exposition_is_a_consistent_growing_histogram() {
    let traffic = Traffic::fast();
    let body = traffic.exposition_at(Duration::from_secs(10));
    assert!(body.contains("# TYPE http_request_duration_seconds histogram\n"));
    assert!(body.contains("# TYPE http_requests_total counter\n"));
    let s = samples(&body);
    let get = |name: &str| {
        s.iter()
            .find(|(k, _)| k == name)
            .unwrap_or_else(|| panic!("no {name} in\n{body}"))
            .1
    };
    let labels = r#"method="GET",route="/api/v1/media""#;
    // 200 requests/s for 10 s, 1 % of them 500s.
    assert_eq!(
        get(&format!("http_requests_total{{{labels},status_code=\"200\"}}")),
        1980.0
    );
    assert_eq!(
        get(&format!("http_requests_total{{{labels},status_code=\"500\"}}")),
        20.0
    );
    let buckets: Vec<f64> = s
        .iter()
        .filter(|(k, _)| k.starts_with("http_request_duration_seconds_bucket"))
        .map(|(_, v)| *v)
        .collect();
    assert_eq!(buckets.len(), 12, "prom-client's 11 bounds and +Inf");
    assert!(buckets.windows(2).all(|w| w[0] <= w[1]), "cumulative: {buckets:?}");
    assert!(body.contains(r#"http_request_duration_seconds_bucket{le="0.25",method="GET",route="/api/v1/media"}"#));
    assert!(body.contains(r#"http_request_duration_seconds_bucket{le="+Inf",method="GET",route="/api/v1/media"}"#));
    let count = get(&format!("http_request_duration_seconds_count{{{labels}}}"));
    assert_eq!(count, 2000.0);
    assert_eq!(buckets.last(), Some(&count));
    let sum = get(&format!("http_request_duration_seconds_sum{{{labels}}}"));
    assert!(sum > 0.0 && sum < count * 0.2, "mean latency under the p95: {sum}");

    // No series ever shrinks between scrapes, or Prometheus sees a reset.
    let mut prev = samples(&traffic.exposition_at(Duration::ZERO));
    for ms in (7..20_000).step_by(13) {
        let next = samples(&traffic.exposition_at(Duration::from_millis(ms)));
        for ((k, a), (_, b)) in prev.iter().zip(&next) {
            assert!(b >= a, "{k} went from {a} to {b} at {ms} ms");
        }
        prev = next;
    }
}

#[test]
fn traffic_body_passes_the_metrics_endpoint_check() {
    // The gate reads the same body Prometheus scrapes; both must accept it.
    let backend = Backend::with_traffic(Traffic::slow());
    let (code, stdout, stderr) = output(check_backend(&backend.url).args(["--format", "json"]));
    assert_eq!(code, 0, "stderr: {stderr}\nstdout: {stdout}");
    let report = json(&stdout);
    let m = check(&report, "metrics-auth");
    assert_eq!(m["status"], "pass", "{m}");
    assert_eq!(m["evidence"]["anonymous_status"], 401);
}

#[test]
fn the_all_jobs_form_lists_each_job_up_over_total() {
    let backend = Backend::healthy();
    let dead = format!("127.0.0.1:{}", closed_port());
    let prom = Prometheus::start(
        PromConfig::new(JOB, &backend.addr())
            .bearer(TOKEN)
            .extra_job("node", &dead),
    );
    prom.wait_for_scrapes(JOB, 1, SCRAPES);
    prom.wait_for_scrapes("node", 1, SCRAPES);
    let (_, r, stderr) = crate::support::check_json(
        &format!(
            "schema_version: 1\nid: M\nname: m\ntargets: {{prom: \"{}\"}}\nrequirements:\n  - id: monitoring-stack\n    name: m\n    weight: 1\n    checks:\n      - {{id: every-job, kind: prometheus_targets, target: prom, job: \"*\"}}\n      - {{id: listed, kind: prometheus_targets, target: prom, jobs: [{JOB}]}}\n      - {{id: absent, kind: prometheus_targets, target: prom, jobs: [{JOB}, cadvisor]}}\n",
            prom.url
        ),
        &[],
        &[],
    );
    let every = check(&r, "every-job");
    assert_eq!(every["status"], "fail", "{every}\n{stderr}");
    let msg = every["message"].as_str().unwrap_or_default();
    assert!(msg.starts_with("1 of 2 job(s) not healthy"), "{msg}");
    assert!(
        msg.contains(&format!("{JOB} 1/1")) && msg.contains("node 0/1 ("),
        "each job's up/total: {msg}"
    );
    assert_eq!(every["evidence"]["jobs"]["node"]["total"], 1);
    let listed = check(&r, "listed");
    assert_eq!(listed["status"], "pass", "{listed}");
    assert_eq!(listed["message"], format!("every job up: {JOB} 1/1"));
    let absent = check(&r, "absent");
    assert_eq!(absent["status"], "fail");
    assert!(
        absent["message"]
            .as_str()
            .unwrap_or_default()
            .contains("cadvisor 0/0 (no active targets"),
        "{absent}"
    );
}

#[test]
fn a_job_missing_from_the_scrape_config_is_named_with_the_jobs_that_exist() {
    let backend = Backend::healthy();
    let prom = Prometheus::start(PromConfig::new(JOB, &backend.addr()).bearer(TOKEN));
    prom.wait_for_scrapes(JOB, 1, SCRAPES);
    let (_, r, stderr) = crate::support::check_json(
        &format!(
            "schema_version: 1\nid: M\nname: m\ntargets: {{prom: \"{}\"}}\nrequirements:\n  - id: r\n    name: r\n    weight: 1\n    checks:\n      - {{id: t, kind: prometheus_targets, target: prom, job: medianest-backnd}}\n",
            prom.url
        ),
        &[],
        &[],
    );
    let t = check(&r, "t");
    assert_eq!(t["status"], "fail", "{t}\n{stderr}");
    assert_eq!(
        t["message"],
        "job `medianest-backnd` is not in Prometheus's scrape config"
    );
    // Asked with scrapePool, Prometheus names no other pool: the jobs come from `up`.
    assert_eq!(t["evidence"]["jobs"], serde_json::json!([JOB]), "{t}");
}
