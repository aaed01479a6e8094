//! The real single-node VictoriaMetrics from Debian's `victoria-metrics`,
//! run on a free loopback port under the same `sh` wrapper as Prometheus
//! (so it dies with the test process), scraping fixture targets.

use std::fs::File;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::prometheus::{Process, WRAPPER, find_on_path, http_get};

pub struct VictoriaMetrics {
    pub url: String,
    addr: SocketAddr,
    process: Process,
    dir: tempfile::TempDir,
}

impl VictoriaMetrics {
    /// Scrapes `jobs` (name, 127.0.0.1 target, bearer token) every second.
    pub fn start(jobs: &[(&str, &str, Option<&str>)]) -> VictoriaMetrics {
        let bin = find_on_path("victoria-metrics").unwrap_or_else(|| {
            panic!("`victoria-metrics` is not on PATH: run ./scripts/test, which installs Debian's `victoria-metrics`")
        });
        let mut last = String::new();
        for _ in 0..5 {
            match Self::try_start(&bin, jobs) {
                Ok(vm) => return vm,
                Err(log) if log.contains("address already in use") => last = log,
                Err(log) => panic!("VictoriaMetrics did not start:\n{log}"),
            }
        }
        panic!("VictoriaMetrics found no free port; last log:\n{last}");
    }

    fn try_start(bin: &std::path::Path, jobs: &[(&str, &str, Option<&str>)]) -> Result<VictoriaMetrics, String> {
        let dir = tempfile::Builder::new()
            .prefix("medianest-vm-")
            .tempdir()
            .expect("temp dir");
        let mut config = String::from("global:\n  scrape_interval: 1s\nscrape_configs:\n");
        for (job, target, token) in jobs {
            assert!(target.starts_with("127.0.0.1:"), "only loopback targets, not {target}");
            config.push_str(&format!(
                "  - job_name: {job}\n    static_configs: [{{targets: ['{target}']}}]\n"
            ));
            if let Some(t) = token {
                config.push_str(&format!("    bearer_token: '{t}'\n"));
            }
        }
        let config_path = dir.path().join("scrape.yml");
        std::fs::write(&config_path, config).expect("write scrape config");
        let addr: SocketAddr = ([127, 0, 0, 1], super::closed_port()).into();
        let log = File::create(dir.path().join("vm.log")).expect("log file");
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(WRAPPER)
            .arg("vm-wrapper")
            .arg(dir.path().join("pid"))
            .arg(bin)
            .arg(format!("-httpListenAddr={addr}"))
            .arg(format!("-storageDataPath={}", dir.path().join("data").display()))
            .arg(format!("-promscrape.config={}", config_path.display()))
            .current_dir(dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::from(log.try_clone().expect("clone log")))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn sh");
        let stdin = child.stdin.take();
        let mut vm = VictoriaMetrics {
            url: format!("http://{addr}"),
            addr,
            process: Process {
                child,
                stdin,
                pidfile: dir.path().join("pid"),
            },
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = vm.process.child.try_wait() {
                return Err(format!("VictoriaMetrics exited ({status}):\n{}", vm.log_tail()));
            }
            if let Ok((200, body)) = http_get(addr, "/-/ready")
                && body.contains("VictoriaMetrics")
            {
                return Ok(vm);
            }
            if Instant::now() >= deadline {
                return Err(format!("VictoriaMetrics not ready:\n{}", vm.log_tail()));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until every active target has been scraped once.
    pub fn wait_for_scrapes(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            let scraped = http_get(self.addr, "/api/v1/targets")
                .ok()
                .and_then(|(_, body)| serde_json::from_str::<Value>(&body).ok())
                .and_then(|v| v["data"]["activeTargets"].as_array().cloned())
                .is_some_and(|t| {
                    !t.is_empty()
                        && t.iter()
                            .all(|t| !t["lastScrape"].as_str().unwrap_or("1970").starts_with("1970"))
                });
            if scraped {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!(
            "VictoriaMetrics did not scrape every target in 30 s:\n{}",
            self.log_tail()
        );
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.dir.path().join("vm.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

impl Drop for VictoriaMetrics {
    fn drop(&mut self) {
        self.process.stop();
    }
}
