//! Correctness at scale: the real Prometheus with 20,000 targets in 200 jobs
//! (every one refused) plus one live job. Its full targets answer is several
//! times the 4 MiB JSON cap; the verdicts must still be right, for one job
//! and for all. How fast is `./scripts/bench`'s business, not this test's.

use std::time::Duration;

use crate::support::backend::Backend;
use crate::support::prometheus::{DEAD_JOB_INTERVAL, PromConfig, Prometheus, dead_job};
use crate::support::{TOKEN, check, check_json};

const LIVE: &str = "medianest-backend";
const JOBS: usize = 200;
const PER_JOB: usize = 100;

#[test]
fn a_prometheus_of_20000_targets_is_judged_per_job_and_in_full_without_a_cap_error() {
    let backend = Backend::healthy();
    // The live job every 5 s: a Prometheus busy with 20,000 targets on a
    // shared machine can run a 1 s scrape late enough to read as stale.
    let mut cfg = PromConfig::new(LIVE, &backend.addr())
        .bearer(TOKEN)
        .dead_jobs(JOBS, PER_JOB);
    cfg.scrape_interval = "5s".to_string();
    let prom = Prometheus::start(cfg);
    // The first scrapes are spread over one interval after the ~5 s
    // discovery sync; a busy machine gets generous slack.
    let scrapes = DEAD_JOB_INTERVAL * 4 + Duration::from_secs(30);
    prom.wait_for_scrapes(LIVE, 1, scrapes);
    let dead = dead_job(7);
    prom.wait_for_scrapes(&dead, 1, scrapes);

    // The scenario holds: every target is there, and all of them together
    // are far beyond what a whole-body read would accept.
    let (status, all) = crate::support::daemon::get(prom.addr(), "/api/v1/targets?state=active")
        .unwrap_or_else(|e| panic!("GET the targets: {e}"));
    assert_eq!(status, 200);
    assert!(all.len() > 4 * 1024 * 1024, "only {} bytes", all.len());
    let listed: serde_json::Value = serde_json::from_str(&all).expect("targets JSON");
    let count = listed["data"]["activeTargets"].as_array().map_or(0, Vec::len);
    assert_eq!(count, JOBS * PER_JOB + 1, "every generated target is active");

    let yaml = format!(
        "schema_version: 1\nid: S\nname: s\ntargets: {{prom: \"{}\"}}\nrequirements:\n  - id: monitoring\n    name: m\n    weight: 1\n    checks:\n      - {{id: live, kind: prometheus_targets, target: prom, job: {LIVE}}}\n      - {{id: dead, kind: prometheus_targets, target: prom, job: {dead}}}\n      - {{id: every-job, kind: prometheus_targets, target: prom, job: \"*\"}}\n      - {{id: listed, kind: prometheus_targets, target: prom, jobs: [{LIVE}, {dead}]}}\n",
        prom.url
    );
    // Correctness, not speed: a loaded machine must not turn this into a timeout.
    let (_, r, stderr) = check_json(&yaml, &["--timeout", "120s"], &[]);
    for id in ["live", "dead", "every-job", "listed"] {
        let c = check(&r, id);
        assert!(
            !c.to_string().contains("exceeds the"),
            "`{id}` must be judged, not capped: {c}\n{stderr}"
        );
    }

    let live = check(&r, "live");
    assert_eq!(live["status"], "pass", "{live}\n{stderr}");
    assert_eq!(live["evidence"]["active"], 1, "{live}");

    let d = check(&r, "dead");
    assert_eq!(d["status"], "fail", "{d}");
    let msg = d["message"].as_str().unwrap_or_default();
    assert!(
        msg.contains("connection refused") && msg.ends_with(&format!("(0 of {PER_JOB} targets healthy)")),
        "{msg}"
    );
    assert!(
        d["cause"]
            .as_str()
            .unwrap_or_default()
            .contains(&format!("(job `{dead}`): connection refused, nothing listens there")),
        "the refused diagnosis (no backend_target, so not blamed on the backend): {d}"
    );
    assert_eq!(d["evidence"]["active"], PER_JOB, "{d}");
    assert_eq!(d["evidence"]["targets"].as_array().map_or(0, Vec::len), PER_JOB);

    let every = check(&r, "every-job");
    assert_eq!(every["status"], "fail", "{every}");
    let msg = every["message"].as_str().unwrap_or_default();
    let live_row = msg.split("; ").find(|r| r.starts_with(LIVE)).unwrap_or("no row");
    assert!(
        msg.starts_with(&format!("{JOBS} of {} job(s) not healthy: ", JOBS + 1)),
        "the live job: {live_row}\n{msg:.300}"
    );
    assert!(msg.contains(&format!("{LIVE} 1/1")), "the live job: {msg:.300}");
    for j in 0..JOBS {
        let row = format!("{} 0/{PER_JOB} (", dead_job(j));
        assert!(msg.contains(&row), "no `{row}` in {msg:.300}");
    }
    let table = every["evidence"]["jobs"].as_object().expect("the jobs table");
    assert_eq!(table.len(), JOBS + 1);
    assert_eq!(table[LIVE], serde_json::json!({"up": 1, "total": 1}));
    assert_eq!(table[&dead], serde_json::json!({"up": 0, "total": PER_JOB}));

    let listed = check(&r, "listed");
    assert_eq!(listed["status"], "fail", "{listed}");
    assert!(
        listed["message"].as_str().unwrap_or_default().starts_with(&format!(
            "1 of 2 job(s) not healthy: {LIVE} 1/1; {dead} 0/{PER_JOB} (target "
        )),
        "{listed}"
    );
}
