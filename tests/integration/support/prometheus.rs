//! A real Prometheus server for integration tests: one per test, on a free
//! 127.0.0.1 port, with its config, token file, rules and TSDB in a temp dir.
//!
//! Each instance runs under a small `sh` wrapper that holds a pipe from the
//! test process: when the test drops the guard, panics, or dies outright
//! (even SIGKILL), the pipe closes and the wrapper stops Prometheus, so no
//! server outlives the tests.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::daemon::{Process, get as http_get, on_path as find_on_path};

/// What `lastScrape` says before the first scrape (Go's zero time).
const NEVER_SCRAPED: &str = "0001-01-01T00:00:00Z";

/// How long Prometheus gets to answer `/-/ready` with 200.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// How the instance is configured.
#[derive(Debug, Clone)]
pub struct PromConfig {
    /// Job name of the scraped target, e.g. `medianest-backend`.
    pub job: String,
    /// `127.0.0.1:PORT` the job scrapes.
    pub scrape_target: String,
    /// Written to a `credentials_file`; `None` scrapes without credentials.
    pub bearer: Option<String>,
    pub scrape_interval: String,
    /// Contents of a rule file, loaded through `rule_files`.
    pub rules: Option<String>,
    /// More `(job, target)` pairs, scraped without credentials.
    pub extra_jobs: Vec<(String, String)>,
    /// `127.0.0.1:PORT` of an Alertmanager for an `alerting:` section; `None` writes none.
    pub alertmanager: Option<String>,
    /// `--rules.alert.resend-delay`; `None` keeps Prometheus' 1m.
    pub resend_delay: Option<String>,
    /// Adds a `prometheus` job scraping this server's own /metrics, as real
    /// setups do (the notifier's error counters live there).
    pub scrape_self: bool,
    /// `(jobs, targets per job)` of generated jobs ([`dead_job`] names
    /// them), every target a closed port on its own loopback address.
    pub dead_jobs: Option<(usize, usize)>,
}

/// The scrape interval of generated jobs: slow enough that 20,000 refused
/// scrapes are a light load, quick enough that all are scraped soon.
pub const DEAD_JOB_INTERVAL: Duration = Duration::from_secs(15);

/// The name of generated job `i`.
pub fn dead_job(i: usize) -> String {
    format!("dead-{i:03}")
}

/// Target `n` of generated job `job`: `127.A.B.C:1`, one loopback address
/// each (the whole of 127.0.0.0/8 is the loopback interface), where port 1
/// has no listener, so every scrape is refused at once.
fn dead_target(job: usize, n: usize) -> String {
    assert!(n < 254 && job < 250 * 254, "more generated targets than addresses");
    format!("127.{}.{}.{}:1", 1 + job / 250, job % 250, n + 1)
}

impl PromConfig {
    pub fn new(job: &str, scrape_target: &str) -> Self {
        PromConfig {
            job: job.to_string(),
            scrape_target: scrape_target.to_string(),
            bearer: None,
            scrape_interval: "1s".to_string(),
            rules: None,
            extra_jobs: Vec::new(),
            alertmanager: None,
            resend_delay: None,
            scrape_self: false,
            dead_jobs: None,
        }
    }

    /// Adds `jobs` generated jobs of `per_job` refused targets each.
    ///
    /// Written as `static_configs`, not `file_sd_configs`: each file_sd
    /// config holds an inotify instance, and Linux allows 128 per user by
    /// default, for every process of that user together: 200 of them make
    /// Prometheus drop the jobs past the limit ("too many open files"), and
    /// starve every other program on the machine meanwhile. What the
    /// targets API answers does not depend on how targets were discovered.
    pub fn dead_jobs(mut self, jobs: usize, per_job: usize) -> Self {
        self.dead_jobs = Some((jobs, per_job));
        self
    }

    /// Resends firing alerts every `delay`: with the default 1m, an alert
    /// whose first send beat the Alertmanager discovery (5 s after start)
    /// reaches Alertmanager only a minute or two later.
    pub fn resend_delay(mut self, delay: &str) -> Self {
        self.resend_delay = Some(delay.to_string());
        self
    }

    pub fn scrape_self(mut self) -> Self {
        self.scrape_self = true;
        self
    }

    /// Sends alerts to the Alertmanager at `127.0.0.1:PORT`.
    pub fn alertmanager(mut self, addr: &str) -> Self {
        self.alertmanager = Some(addr.to_string());
        self
    }

    pub fn bearer(mut self, token: &str) -> Self {
        self.bearer = Some(token.to_string());
        self
    }

    pub fn rules(mut self, rules: &str) -> Self {
        self.rules = Some(rules.to_string());
        self
    }

    pub fn extra_job(mut self, job: &str, target: &str) -> Self {
        self.extra_jobs.push((job.to_string(), target.to_string()));
        self
    }

    /// `prometheus.yml` for files in `dir`, for a server listening on `own`.
    fn yaml(&self, dir: &Path, own: SocketAddr) -> String {
        // JSON strings are valid YAML scalars and need no escaping rules of
        // their own.
        let q = |s: &str| serde_json::to_string(s).expect("string to JSON");
        let interval = q(&self.scrape_interval);
        let mut y = format!("global:\n  scrape_interval: {interval}\n  evaluation_interval: 1s\n");
        if self.rules.is_some() {
            let path = dir.join("rules.yml");
            y += &format!("rule_files:\n  - {}\n", q(&path.to_string_lossy()));
        }
        if let Some(am) = &self.alertmanager {
            y += &format!(
                "alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: [{}]\n",
                q(am)
            );
        }
        y += "scrape_configs:\n";
        let mut job = |name: &str, target: &str, auth: bool| {
            y += &format!("  - job_name: {}\n    scrape_interval: {interval}\n", q(name));
            if auth {
                let path = dir.join("token");
                y += &format!(
                    "    authorization:\n      type: Bearer\n      credentials_file: {}\n",
                    q(&path.to_string_lossy())
                );
            }
            y += &format!("    static_configs:\n      - targets: [{}]\n", q(target));
        };
        job(&self.job, &self.scrape_target, self.bearer.is_some());
        for (name, target) in &self.extra_jobs {
            job(name, target, false);
        }
        if self.scrape_self {
            job("prometheus", &own.to_string(), false);
        }
        if let Some((jobs, per_job)) = self.dead_jobs {
            let interval = q(&format!("{}s", DEAD_JOB_INTERVAL.as_secs()));
            for j in 0..jobs {
                let targets: Vec<String> = (0..per_job).map(|n| q(&dead_target(j, n))).collect();
                y += &format!(
                    "  - job_name: {}\n    scrape_interval: {interval}\n    static_configs:\n      - targets: [{}]\n",
                    q(&dead_job(j)),
                    targets.join(", ")
                );
            }
        }
        y
    }
}

/// A running Prometheus; dropping it stops the server and deletes its files.
pub struct Prometheus {
    /// `http://127.0.0.1:PORT`
    pub url: String,
    addr: SocketAddr,
    process: Process,
    dir: tempfile::TempDir,
}

impl Prometheus {
    /// Starts Prometheus and waits until `/-/ready` answers 200, which also
    /// proves the config and rule files loaded (Prometheus exits otherwise).
    /// Panics with the log tail when it does not become ready in 30 s.
    pub fn start(cfg: PromConfig) -> Prometheus {
        let bin = find_on_path("prometheus").unwrap_or_else(|| {
            panic!(
                "`prometheus` is not on PATH. These tests run a real Prometheus: \
                 run ./scripts/test, which installs it (Debian package `prometheus`)."
            )
        });
        for target in std::iter::once(&cfg.scrape_target)
            .chain(cfg.extra_jobs.iter().map(|j| &j.1))
            .chain(cfg.alertmanager.iter())
        {
            assert!(
                target.starts_with("127.0.0.1:"),
                "the test Prometheus only scrapes 127.0.0.1, not `{target}`"
            );
        }
        // The free port is released before Prometheus binds it, so another
        // test may take it meanwhile: then Prometheus exits, and we retry.
        let mut attempts = Vec::new();
        for _ in 0..5 {
            match Self::try_start(&bin, &cfg) {
                Ok(p) => return p,
                Err(log) if log.contains("address already in use") => attempts.push(log),
                Err(log) => panic!("Prometheus did not start:\n{log}"),
            }
        }
        panic!(
            "Prometheus found no free port in 5 attempts; last log:\n{}",
            attempts.pop().unwrap_or_default()
        );
    }

    /// One start on one port; `Err` carries the reason and the log tail.
    fn try_start(bin: &Path, cfg: &PromConfig) -> Result<Prometheus, String> {
        let dir = tempfile::Builder::new()
            .prefix("medianest-prom-")
            .tempdir()
            .expect("temp dir");
        if let Some(token) = &cfg.bearer {
            // No trailing newline: the file is the credential as it is.
            std::fs::write(dir.path().join("token"), token).expect("write token file");
        }
        if let Some(rules) = &cfg.rules {
            std::fs::write(dir.path().join("rules.yml"), rules).expect("write rules");
        }
        let port = super::closed_port();
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let config = dir.path().join("prometheus.yml");
        std::fs::write(&config, cfg.yaml(dir.path(), addr)).expect("write prometheus.yml");
        let data = dir.path().join("data");
        let mut args = vec![
            format!("--config.file={}", config.display()),
            format!("--web.listen-address={addr}"),
            format!("--storage.tsdb.path={}", data.display()),
            "--storage.tsdb.retention.time=1h".to_string(),
            "--query.max-concurrency=4".to_string(),
            "--log.level=info".to_string(),
        ];
        if let Some(d) = &cfg.resend_delay {
            args.push(format!("--rules.alert.resend-delay={d}"));
        }
        let process = Process::spawn(bin, &args, dir.path(), &dir.path().join("prometheus.log"));
        let mut prom = Prometheus {
            url: format!("http://{addr}"),
            addr,
            process,
            dir,
        };
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Ok(Some(status)) = prom.process.child.try_wait() {
                return Err(format!(
                    "Prometheus exited ({status}) before it was ready:\n{}",
                    prom.log_tail()
                ));
            }
            if let Ok((200, _)) = http_get(addr, "/-/ready") {
                // A 200 may come from another test's Prometheus that won the
                // port; ours has our data dir.
                let ours = http_get(addr, "/api/v1/status/flags")
                    .ok()
                    .and_then(|(_, body)| serde_json::from_str::<Value>(&body).ok())
                    .is_some_and(|f| f["data"]["storage.tsdb.path"] == *data.to_string_lossy());
                if ours {
                    return Ok(prom);
                }
            }
            if Instant::now() >= deadline {
                // Dropping `prom` stops the server before the test panics.
                let tail = prom.log_tail();
                return Err(format!(
                    "Prometheus on {addr} was not ready after {READY_TIMEOUT:?}:\n{tail}"
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The temp dir with config, token file, rules, TSDB and log.
    /// Where the fixture Grafana sends panel queries.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// GET on the API, parsed. Panics unless the answer is JSON.
    pub fn api(&self, path_and_query: &str) -> Value {
        let (status, body) =
            http_get(self.addr, path_and_query).unwrap_or_else(|e| panic!("GET {path_and_query} on Prometheus: {e}"));
        serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("GET {path_and_query}: HTTP {status}, not JSON ({e}):\n{body}"))
    }

    /// `GET /api/v1/query`: the whole envelope, for assertions.
    pub fn query(&self, promql: &str) -> Value {
        self.api(&format!("/api/v1/query?query={}", encode(promql)))
    }

    /// The value of the first sample of a vector or of a scalar, or `None`
    /// while the result is empty (e.g. before `rate()` has two samples).
    pub fn query_value(&self, promql: &str) -> Option<f64> {
        let r = self.query(promql);
        assert_eq!(r["status"], "success", "query `{promql}` failed: {r}");
        let value = match r["data"]["resultType"].as_str() {
            Some("vector") => r["data"]["result"].get(0)?["value"][1].clone(),
            Some("scalar") => r["data"]["result"][1].clone(),
            _ => panic!("query `{promql}` gave neither a vector nor a scalar: {r}"),
        };
        // Sample values are strings: "0.2", "NaN", "+Inf".
        let v = value.as_str().unwrap_or_else(|| panic!("not a sample: {r}"));
        Some(match v {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("not a number: {r}")),
        })
    }

    /// The job's active targets (`/api/v1/targets?state=active`); empty until
    /// the scrape manager has synced, about 5 s after start in 2.42.
    pub fn targets(&self, job: &str) -> Vec<Value> {
        let r = self.api(&format!("/api/v1/targets?state=active&scrapePool={}", encode(job)));
        r["data"]["activeTargets"]
            .as_array()
            .unwrap_or_else(|| panic!("no activeTargets: {r}"))
            .clone()
    }

    /// The job's only active target. Panics if there is none.
    pub fn target(&self, job: &str) -> Value {
        self.targets(job)
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("job `{job}` has no active target"))
    }

    /// Waits until every active target of `job` has reported `n` distinct
    /// `lastScrape` times (n = 1: scraped at least once). Polls often enough
    /// to see each scrape of a 1 s interval; a missed one only means waiting
    /// longer. `lastScrape` is set just before that scrape's samples are
    /// committed, so a query right after may still see n − 1 scrapes.
    pub fn wait_for_scrapes(&self, job: &str, n: usize, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let mut seen: HashMap<String, HashSet<String>> = HashMap::new();
        loop {
            let targets = self.targets(job);
            for t in &targets {
                let at = t["lastScrape"].as_str().unwrap_or(NEVER_SCRAPED);
                if at != NEVER_SCRAPED {
                    let url = t["scrapeUrl"].as_str().unwrap_or_default().to_string();
                    seen.entry(url).or_default().insert(at.to_string());
                }
            }
            let done = !targets.is_empty()
                && targets.iter().all(|t| {
                    seen.get(t["scrapeUrl"].as_str().unwrap_or_default())
                        .map_or(0, HashSet::len)
                        >= n
                });
            if done {
                return;
            }
            if Instant::now() >= deadline {
                panic!(
                    "job `{job}` was not scraped {n} times within {timeout:?}; targets:\n{}\nlog:\n{}",
                    serde_json::to_string_pretty(&targets).unwrap_or_default(),
                    self.log_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Polls `f` until it returns `Some`, or panics with `what` and the log.
    pub fn eventually<T>(&self, what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(v) = f() {
                return v;
            }
            if Instant::now() >= deadline {
                panic!("{what}: not within {timeout:?}; log:\n{}", self.log_tail());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The last 40 lines of Prometheus' stdout and stderr.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.dir.path().join("prometheus.log"))
            .unwrap_or_else(|e| format!("(no log: {e})"));
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        // Before the temp dir goes: Prometheus still writes into it.
        self.process.stop();
    }
}

pub(super) fn encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Gate G's alerting rules for MediaNest, as a rule file.
pub fn default_rules() -> String {
    r#"groups:
  - name: medianest
    rules:
      - alert: ApplicationDown
        expr: up{job="medianest-backend"} == 0
        for: 1m
        labels:
          severity: critical
        annotations:
          summary: MediaNest backend {{ $labels.instance }} is down
      - alert: HighErrorRate
        expr: |
          sum(rate(http_requests_total{job="medianest-backend",status_code=~"5.."}[5m]))
            /
          sum(rate(http_requests_total{job="medianest-backend"}[5m]))
            > 0.05
        for: 5m
        labels:
          severity: warning
        annotations:
          summary: More than 5% of MediaNest requests fail with 5xx
"#
    .to_string()
}
