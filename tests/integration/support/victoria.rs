//! The real single-node VictoriaMetrics from Debian's `victoria-metrics`,
//! run on a free loopback port (see `daemon`), scraping fixture targets.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::daemon::{Daemon, get};

pub struct VictoriaMetrics {
    pub url: String,
    daemon: Daemon,
}

impl VictoriaMetrics {
    /// Scrapes `jobs` (name, 127.0.0.1 target, bearer token) every second.
    pub fn start(jobs: &[(&str, &str, Option<&str>)]) -> VictoriaMetrics {
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
        let daemon = Daemon::start(
            "victoria-metrics",
            "victoria-metrics",
            "/-/ready",
            "VictoriaMetrics",
            |addr, dir| {
                let path = dir.join("scrape.yml");
                std::fs::write(&path, &config).expect("write scrape config");
                vec![
                    format!("-httpListenAddr={addr}"),
                    format!("-storageDataPath={}", dir.join("data").display()),
                    format!("-promscrape.config={}", path.display()),
                ]
            },
        );
        VictoriaMetrics {
            url: daemon.url(),
            daemon,
        }
    }

    /// Waits until every active target has been scraped once.
    pub fn wait_for_scrapes(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            let scraped = get(self.daemon.addr, "/api/v1/targets")
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
            self.daemon.log_tail()
        );
    }
}
