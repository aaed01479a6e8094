//! Gate G against a whole fixture stack: the real Prometheus scraping the
//! fixture backend, fixture Grafana and Loki. Each test is one situation
//! people meet before a release, with the verdict it must produce.

use std::time::Duration;

use crate::support::backend::{Backend, Behaviour, Traffic};
use crate::support::docker::{Container, Network};
use crate::support::grafana::{GRAFANA_PASSWORD, GRAFANA_TOKEN, GRAFANA_USER, Grafana};
use crate::support::loki::Loki;
use crate::support::prometheus::{PromConfig, Prometheus, default_rules};
use crate::support::{TOKEN, bin, check, closed_port, json, output};

const JOB: &str = "medianest-backend";

/// Everything a Gate G run points at.
struct Stack {
    backend: String,
    prometheus: String,
    grafana: String,
    loki: String,
    /// Real containers for Gate G's Docker checks; without them those checks are skipped.
    containers: Option<Containers>,
}

/// A running Grafana container, and Prometheus and backend containers on one network.
struct Containers {
    grafana: Container,
    prometheus: Container,
    backend: Container,
    _network: Network,
}

impl Containers {
    fn start() -> Containers {
        let network = Network::create("stack");
        Containers {
            grafana: Container::run("grafana", &[], &["sleep", "600"]),
            prometheus: Container::run_on("prometheus", &network.name, &[], &["sleep", "600"]),
            backend: Container::run_on("backend", &network.name, &[], &["sleep", "600"]),
            _network: network,
        }
    }
}

impl Stack {
    /// Runs `check` of the built-in Gate G with these targets and `extra` args.
    fn check(&self, extra: &[&str]) -> (i32, serde_json::Value, String) {
        self.check_env(extra, &[])
    }

    /// [`Stack::check`] with extra environment variables.
    fn check_env(&self, extra: &[&str], env: &[(&str, &str)]) -> (i32, serde_json::Value, String) {
        let mut cmd = bin();
        cmd.args(["check", "--no-progress", "--format", "json"])
            .arg("--target")
            .arg(format!("backend={}", self.backend))
            .arg("--target")
            .arg(format!("prometheus={}", self.prometheus))
            .arg("--target")
            .arg(format!("grafana={}", self.grafana))
            .arg("--target")
            .arg(format!("loki={}", self.loki))
            .env("METRICS_TOKEN", TOKEN)
            .env("GRAFANA_TOKEN", GRAFANA_TOKEN)
            .envs(env.iter().copied())
            .args(extra);
        match &self.containers {
            Some(c) => {
                cmd.env("GRAFANA_CONTAINER", &c.grafana.name)
                    .env("PROMETHEUS_CONTAINER", &c.prometheus.name)
                    .env("BACKEND_CONTAINER", &c.backend.name);
            }
            None => {
                cmd.args(["--skip", "grafana-container", "--skip", "docker-network"]);
            }
        }
        let (code, stdout, stderr) = output(&mut cmd);
        assert!(!stderr.contains("panicked"), "{stderr}");
        (code, json(&stdout), stderr)
    }
}

fn closed() -> String {
    format!("http://127.0.0.1:{}", closed_port())
}

/// A backend with steady traffic, scraped by a real Prometheus with the bearer token.
fn scraped_backend(traffic: Traffic, bearer: Option<&str>) -> (Backend, Prometheus) {
    let backend = Backend::start(Behaviour {
        traffic: Some(traffic),
        ..Behaviour::default()
    });
    let addr = backend.url.trim_start_matches("http://").to_string();
    let mut cfg = PromConfig::new(JOB, &addr);
    cfg.bearer = bearer.map(str::to_string);
    cfg.rules = Some(default_rules());
    let prom = Prometheus::start(cfg);
    (backend, prom)
}

/// Waits until the healthy dashboard's request-rate panel has a value to
/// show. Grafana's range ends on a whole second, so two samples are not
/// enough (the newer may lie after it): wait for four, one scrape a second.
fn wait_for_request_rate(prom: &Prometheus) {
    prom.eventually("four samples of http_requests_total", Duration::from_secs(60), || {
        prom.query_value(&format!(
            "min(count_over_time(http_requests_total{{job=\"{JOB}\"}}[5m]))"
        ))
        .filter(|n| *n >= 4.0)
    });
}

#[test]
fn healthy_stack_passes_with_100() {
    let (backend, prom) = scraped_backend(Traffic::fast(), Some(TOKEN));
    let loki = Loki::start("retention-30d-enforced");
    // Live data: the request-rate panel runs on this Prometheus, the logs panel on this Loki.
    let grafana = Grafana::with_prometheus_and_loki("healthy", &prom, &loki);
    let stack = Stack {
        backend: backend.url.clone(),
        prometheus: prom.url.clone(),
        grafana: grafana.url.clone(),
        loki: loki.url.clone(),
        containers: Some(Containers::start()),
    };
    // Prometheus needs a few scrapes before rate() has data: --wait re-runs
    // the gate until it passes, which is what CI would do after a deploy.
    let (code, r, stderr) = stack.check(&["--wait", "60s", "--interval", "1s"]);
    assert_eq!(code, 0, "{stderr}\n{r:#}");
    assert_eq!(r["score"], 100.0);
    assert_eq!(r["passed"], true);
    for id in [
        "metrics-auth",
        "prometheus-targets",
        "grafana-api",
        "grafana-live-data",
        "loki-logs",
        "health",
        "p95-latency",
        "alert-rules",
    ] {
        assert_eq!(check(&r, id)["status"], "pass", "{id}: {}", check(&r, id));
    }
    // Both of MediaNest Overview's panels show data (Node Exporter Full has none).
    let live = &check(&r, "grafana-live-data")["evidence"];
    assert_eq!(
        [
            &live["panels_total"],
            &live["panels_with_data"],
            &live["panels_empty"],
            &live["panels_failing"]
        ],
        [2, 2, 0, 0],
        "{live}"
    );
    let p95 = check(&r, "p95-latency")["evidence"]["p95_ms"].as_f64().unwrap();
    let expected = Traffic::fast().expected_quantile(0.95) * 1000.0;
    assert!(
        (p95 - expected).abs() / expected < 0.15,
        "p95 {p95} ms vs expected {expected} ms"
    );
}

#[test]
fn backend_down_with_prometheus_up_is_one_root_cause() {
    let dead = closed();
    let addr = dead.trim_start_matches("http://").to_string();
    let mut cfg = PromConfig::new(JOB, &addr);
    cfg.bearer = Some(TOKEN.to_string());
    cfg.rules = Some(default_rules());
    let prom = Prometheus::start(cfg);
    prom.wait_for_scrapes(JOB, 1, Duration::from_secs(30));
    let loki = Loki::start("retention-30d-enforced");
    let grafana = Grafana::with_prometheus_and_loki("healthy", &prom, &loki);
    let stack = Stack {
        backend: dead.clone(),
        prometheus: prom.url.clone(),
        grafana: grafana.url.clone(),
        loki: loki.url.clone(),
        containers: None,
    };
    let (code, r, _) = stack.check(&[]);
    assert_eq!(code, 1);
    let targets = check(&r, "prometheus-targets");
    assert_eq!(targets["status"], "fail", "{targets}");
    assert!(
        targets["message"].as_str().unwrap().contains("connection refused"),
        "{targets}"
    );
    assert_eq!(check(&r, "p95-latency")["status"], "blocked");
    let first = &r["root_causes"][0];
    assert_eq!(first["key"], "unreachable:backend", "{:#}", r["root_causes"]);
    let grouped: Vec<&str> = first["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c.as_str())
        .collect();
    for id in [
        "metrics-auth",
        "prometheus-targets",
        "health",
        "health-api-v1",
        "health-api",
        "p95-latency",
    ] {
        assert!(grouped.contains(&id), "{id} not grouped: {grouped:?}");
    }
    // A backend that never reported leaves the request-rate panel empty,
    // while the logs panel still has Loki's lines: Grafana earns half its
    // 20, Loki its 15, 25 in all; fixing the backend gains the other 65
    // (the panel is judged on its own: nothing links it to the backend).
    let live = check(&r, "grafana-live-data");
    assert_eq!(live["status"], "fail", "{live}");
    assert_eq!(live["message"], "MediaNest Overview / Request rate: no data", "{live}");
    assert_eq!(r["score"], 25.0);
    assert_eq!(first["score_impact"], 65.0);

    // The Markdown report leads like the seed's blocker analysis.
    let mut cmd = bin();
    cmd.args([
        "check",
        "--no-progress",
        "--format",
        "markdown",
        "--skip",
        "grafana-container",
        "--skip",
        "docker-network",
    ])
    .arg("--target")
    .arg(format!("backend={dead}"))
    .arg("--target")
    .arg(format!("prometheus={}", prom.url))
    .arg("--target")
    .arg(format!("grafana={}", grafana.url))
    .arg("--target")
    .arg(format!("loki={}", loki.url))
    .env("METRICS_TOKEN", TOKEN)
    .env("GRAFANA_TOKEN", GRAFANA_TOKEN);
    let (_, md, _) = output(&mut cmd);
    let verdict = md.find("❌ BLOCKED").expect("verdict");
    let fix_first = md.find("## Fix first").expect("root causes section");
    let compliance = md.find("## Compliance").expect("compliance table");
    let blockers = md.find("## Blockers").expect("blockers");
    assert!(
        verdict < fix_first && fix_first < compliance && compliance < blockers,
        "{md}"
    );
    let first_row = md[fix_first..]
        .lines()
        .find(|l| l.starts_with("| 1 |"))
        .expect("first root cause row");
    assert!(
        first_row.contains("refused the connection") && first_row.contains("+65.0 pts"),
        "{first_row}"
    );
    assert!(
        md.contains("| Prometheus scraping (`prometheus-scrape`) | 20 | yes | 0.0% | FAIL |"),
        "{md}"
    );
}

#[test]
fn dashboard_panel_on_a_metric_nobody_exports_fails_the_grafana_requirement() {
    let (_backend, prom) = scraped_backend(Traffic::fast(), Some(TOKEN));
    let loki = Loki::start("retention-30d-enforced");
    let mut scenario = crate::support::grafana::Scenario::load("healthy");
    let mut kpis = scenario.dashboards[0].clone();
    kpis.id = 5;
    kpis.uid = "business-kpis".into();
    kpis.title = "Business KPIs".into();
    kpis.slug = "business-kpis".into();
    kpis.panels = vec![serde_json::json!({
        "id": 1,
        "type": "stat",
        "title": "Transcode queue",
        "datasource": {"type": "prometheus", "uid": "prom-main"},
        "targets": [{"refId": "A", "expr": "sum(medianest_transcode_queue_length)"}]
    })];
    scenario.dashboards.push(kpis);
    let grafana = Grafana::live_with(scenario, &prom, &loki);
    wait_for_request_rate(&prom);
    let stack = Stack {
        backend: closed(),
        prometheus: prom.url.clone(),
        grafana: grafana.url.clone(),
        loki: closed(),
        containers: None,
    };
    let (code, r, _) = stack.check(&["--only", "grafana"]);
    assert_eq!(code, 1);
    let live = check(&r, "grafana-live-data");
    assert_eq!(live["status"], "fail", "{live}");
    // Only the empty panel is named; the live ones are not.
    assert_eq!(live["message"], "Business KPIs / Transcode queue: no data", "{live}");
    assert_eq!(live["evidence"]["panels_with_data"], 2, "{live}");
    assert_eq!(check(&r, "grafana-api")["status"], "pass");
    let grafana_req = r["requirements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["id"] == "grafana")
        .unwrap();
    assert_eq!(grafana_req["status"], "fail", "{grafana_req}");
    assert!(
        r["blockers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b.to_string().contains("grafana-live-data")),
        "{:#}",
        r["blockers"]
    );

    // GRAFANA_DASHBOARDS narrows the check to the dashboards that matter.
    let (_, r, _) = stack.check_env(
        &["--only", "grafana"],
        &[("GRAFANA_DASHBOARDS", "MediaNest Overview, node-exporter")],
    );
    let live = check(&r, "grafana-live-data");
    assert_eq!(live["status"], "pass", "{live}");
    assert_eq!(
        live["message"], "2 panel(s) on 2 dashboard(s) show data over 1h",
        "{live}"
    );
    // An empty item is a gate error before anything is probed.
    let (code, stdout, stderr) = output(
        bin()
            .args(["check", "--no-progress", "--only", "grafana"])
            .env("METRICS_TOKEN", TOKEN)
            .env("GRAFANA_DASHBOARDS", "MediaNest Overview,,Business KPIs"),
    );
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(
        stderr.contains("`dashboards` (from `GRAFANA_DASHBOARDS`) has an empty item at position 2"),
        "{stderr}"
    );
}

#[test]
fn grafana_down_blocks_its_live_data_check_behind_one_root_cause() {
    let stack = Stack {
        backend: closed(),
        prometheus: closed(),
        grafana: closed(),
        loki: closed(),
        containers: None,
    };
    let (code, r, _) = stack.check(&["--only", "grafana"]);
    assert_eq!(code, 1);
    assert_eq!(check(&r, "grafana-api")["status"], "error");
    let live = check(&r, "grafana-live-data");
    assert_eq!(live["status"], "blocked", "{live}");
    assert!(
        live["message"].as_str().unwrap().contains("needs `grafana-api`"),
        "{live}"
    );
    let rcs = r["root_causes"].as_array().unwrap();
    assert_eq!(rcs.len(), 1, "{rcs:#?}");
    assert_eq!(rcs[0]["key"], "unreachable:grafana");
    let grouped: Vec<&str> = rcs[0]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c.as_str())
        .collect();
    assert_eq!(grouped, ["grafana-api", "grafana-live-data"]);
}

#[test]
fn prometheus_without_credentials_gets_401() {
    let (backend, prom) = scraped_backend(Traffic::fast(), None);
    prom.wait_for_scrapes(JOB, 1, Duration::from_secs(30));
    let stack = Stack {
        backend: backend.url.clone(),
        prometheus: prom.url.clone(),
        grafana: closed(),
        loki: closed(),
        containers: None,
    };
    let (code, r, _) = stack.check(&["--only", "prometheus-scrape"]);
    assert_eq!(code, 1);
    let t = check(&r, "prometheus-targets");
    assert_eq!(t["status"], "fail");
    assert!(t["message"].as_str().unwrap().contains("401 Unauthorized"), "{t}");
    assert!(
        t["cause"].as_str().unwrap().contains("without valid credentials"),
        "{t}"
    );
    assert!(t["remediation"].as_str().unwrap().contains("credentials_file"), "{t}");
}

#[test]
fn scrape_target_on_the_wrong_port_is_named() {
    let backend = Backend::healthy();
    let wrong = closed_port();
    let prom = Prometheus::start(PromConfig::new(JOB, &format!("127.0.0.1:{wrong}")));
    prom.wait_for_scrapes(JOB, 1, Duration::from_secs(30));
    let stack = Stack {
        backend: backend.url.clone(),
        prometheus: prom.url.clone(),
        grafana: closed(),
        loki: closed(),
        containers: None,
    };
    let (_, r, _) = stack.check(&["--only", "prometheus-scrape"]);
    let t = check(&r, "prometheus-targets");
    assert_eq!(t["status"], "fail");
    let cause = t["cause"].as_str().unwrap();
    let backend_port = backend.url.rsplit(':').next().unwrap();
    assert!(cause.contains("port mismatch"), "{cause}");
    assert!(
        cause.contains(&format!("port {wrong}")) && cause.contains(&format!("port {backend_port}")),
        "{cause}"
    );
}

#[test]
fn slow_p95_fails_the_sla() {
    let (backend, prom) = scraped_backend(Traffic::slow(), Some(TOKEN));
    let stack = Stack {
        backend: backend.url.clone(),
        prometheus: prom.url.clone(),
        grafana: closed(),
        loki: closed(),
        containers: None,
    };
    // Wait until the SLA check has enough data to give a verdict either way.
    let r = poll(
        || {
            stack
                .check(&["--only", "prometheus-scrape", "--only", "performance-sla"])
                .1
        },
        |r| check(r, "p95-latency")["status"] == "fail",
    );
    let c = check(&r, "p95-latency");
    assert!(c["message"].as_str().unwrap().contains("over the 600 ms limit"), "{c}");
    assert!(c["evidence"]["p95_ms"].as_f64().unwrap() > 600.0, "{c}");
}

#[test]
fn no_traffic_is_insufficient_not_a_pass() {
    let (backend, prom) = scraped_backend(Traffic::none(), Some(TOKEN));
    prom.wait_for_scrapes(JOB, 3, Duration::from_secs(30));
    let stack = Stack {
        backend: backend.url.clone(),
        prometheus: prom.url.clone(),
        grafana: closed(),
        loki: closed(),
        containers: None,
    };
    let (code, r, _) = stack.check(&["--only", "prometheus-scrape", "--only", "performance-sla"]);
    assert_eq!(code, 1);
    let c = check(&r, "p95-latency");
    assert_eq!(c["status"], "error", "{c}");
    assert!(c["message"].as_str().unwrap().contains("insufficient traffic"), "{c}");
}

#[test]
fn prometheus_down_is_one_root_cause_for_every_prometheus_check() {
    let stack = Stack {
        backend: closed(),
        prometheus: closed(),
        grafana: closed(),
        loki: closed(),
        containers: None,
    };
    // The Prometheus checks only: `alerting` also holds the Alertmanager check,
    // a different server and so a different root cause.
    let (code, r, _) = stack.check(&[
        "--only",
        "prometheus-scrape",
        "--only",
        "performance-sla",
        "--only",
        "alert-rules",
    ]);
    assert_eq!(code, 1);
    assert_eq!(check(&r, "prometheus-targets")["status"], "error");
    assert_eq!(check(&r, "alert-rules")["status"], "error");
    assert_eq!(check(&r, "p95-latency")["status"], "blocked");
    let rcs = r["root_causes"].as_array().unwrap();
    assert_eq!(rcs.len(), 1, "{rcs:#?}");
    assert_eq!(rcs[0]["key"], "unreachable:prometheus");
    assert_eq!(rcs[0]["checks"].as_array().unwrap().len(), 3);
}

#[test]
fn invalid_promql_shows_prometheus_error() {
    let (backend, prom) = scraped_backend(Traffic::fast(), Some(TOKEN));
    let _ = &backend;
    let gate = format!(
        r#"schema_version: 1
id: T
name: promql
targets: {{ prometheus: "{}" }}
requirements:
  - id: q
    name: q
    weight: 1
    checks:
      - {{ id: bad-query, kind: promql, target: prometheus, query: "up{{", op: "<", threshold: 1 }}
      - {{ id: empty-query, kind: promql, target: prometheus, query: 'up{{job="nope"}}', op: ">", threshold: 0 }}
      - {{ id: nan-query, kind: promql, target: prometheus, query: "0/0", op: "<", threshold: 1 }}
"#,
        prom.url
    );
    let (_dir, path) = crate::support::gate_file(&gate);
    let (code, stdout, _) = output(bin().args(["check", "--format", "json", "--gate"]).arg(&path));
    assert_eq!(code, 1);
    let r = json(&stdout);
    let bad = check(&r, "bad-query");
    assert_eq!(bad["status"], "error");
    assert_eq!(bad["evidence"]["error_type"], "bad_data", "{bad}");
    let empty = check(&r, "empty-query");
    assert_eq!(empty["status"], "error");
    assert!(empty["message"].as_str().unwrap().contains("no data"), "{empty}");
    let nan = check(&r, "nan-query");
    assert_eq!(nan["status"], "error");
    assert!(nan["message"].as_str().unwrap().contains("NaN"), "{nan}");
}

/// Runs one Gate G check (`only`) with one target pointed at a fixture.
fn single(only: &str, target: &str, url: &str, extra_env: &[(&str, &str)]) -> serde_json::Value {
    let mut cmd = bin();
    cmd.args(["check", "--format", "json", "--only", only, "--target"])
        .arg(format!("{target}={url}"))
        .env("METRICS_TOKEN", TOKEN);
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    let (_, stdout, stderr) = output(&mut cmd);
    assert!(!stderr.contains("panicked"), "{stderr}");
    json(&stdout)
}

fn grafana_only(scenario: &str, extra_env: &[(&str, &str)]) -> serde_json::Value {
    let grafana = Grafana::start(scenario);
    single("grafana-api", "grafana", &grafana.url, extra_env)
}

#[test]
fn grafana_healthy_passes_with_token_or_basic_auth() {
    let r = grafana_only("healthy", &[("GRAFANA_TOKEN", GRAFANA_TOKEN)]);
    assert_eq!(
        check(&r, "grafana-api")["status"],
        "pass",
        "{}",
        check(&r, "grafana-api")
    );
    let r = grafana_only(
        "healthy",
        &[("GRAFANA_USER", GRAFANA_USER), ("GRAFANA_PASSWORD", GRAFANA_PASSWORD)],
    );
    assert_eq!(
        check(&r, "grafana-api")["status"],
        "pass",
        "{}",
        check(&r, "grafana-api")
    );
}

#[test]
fn grafana_datasource_error_shows_the_plugin_message() {
    let r = grafana_only("datasource-error", &[("GRAFANA_TOKEN", GRAFANA_TOKEN)]);
    let c = check(&r, "grafana-api");
    assert_eq!(c["status"], "fail");
    let msg = c["message"].as_str().unwrap();
    assert!(msg.contains("ERROR") && msg.contains("connection refused"), "{msg}");
}

#[test]
fn grafana_without_dashboards_fails() {
    let r = grafana_only("no-dashboards", &[("GRAFANA_TOKEN", GRAFANA_TOKEN)]);
    let c = check(&r, "grafana-api");
    assert_eq!(c["status"], "fail");
    assert!(
        c["message"]
            .as_str()
            .unwrap()
            .contains("0 dashboard(s), need at least 1"),
        "{c}"
    );
}

#[test]
fn grafana_wrong_credentials_is_a_credentials_problem_not_downtime() {
    let r = grafana_only("healthy", &[("GRAFANA_TOKEN", "glsa_wrong_token_value")]);
    let c = check(&r, "grafana-api");
    assert_eq!(c["status"], "fail");
    assert!(
        c["message"].as_str().unwrap().contains("rejected the credentials"),
        "{c}"
    );
    assert!(c["message"].as_str().unwrap().contains("Invalid API key"), "{c}");
    assert_eq!(r["root_causes"][0]["key"], "auth:grafana");
    // Without any credentials the hint says which variables to set.
    let r = grafana_only("healthy", &[]);
    assert!(
        check(&r, "grafana-api")["remediation"]
            .as_str()
            .unwrap()
            .contains("GRAFANA_TOKEN")
    );
}

#[test]
fn grafana_login_redirect_and_failing_database_are_diagnosed() {
    let r = grafana_only("login-redirect", &[("GRAFANA_TOKEN", GRAFANA_TOKEN)]);
    let c = check(&r, "grafana-api");
    assert_eq!(c["status"], "error", "{c}");
    assert!(c["message"].as_str().unwrap().contains("login page"), "{c}");
    let r = grafana_only("database-failing", &[("GRAFANA_TOKEN", GRAFANA_TOKEN)]);
    let c = check(&r, "grafana-api");
    assert_eq!(c["status"], "fail");
    assert!(c["message"].as_str().unwrap().contains("database is failing"), "{c}");
}

fn loki_only(scenario: &str, extra_env: &[(&str, &str)]) -> serde_json::Value {
    let loki = Loki::start(scenario);
    single("log-aggregation", "loki", &loki.url, extra_env)
}

#[test]
fn loki_30d_enforced_passes() {
    let r = loki_only("retention-30d-enforced", &[]);
    let c = check(&r, "loki-logs");
    assert_eq!(c["status"], "pass", "{c}");
    assert_eq!(c["evidence"]["retention_effective"], "4w2d");
    assert!(c["warnings"].as_array().unwrap().is_empty(), "{c}");
}

#[test]
fn loki_3d_enforced_fails() {
    let r = loki_only("retention-3d-enforced", &[]);
    let c = check(&r, "loki-logs");
    assert_eq!(c["status"], "fail", "{c}");
    assert!(
        c["message"]
            .as_str()
            .unwrap()
            .contains("effective log retention is 3d, shorter than the required 1w"),
        "{c}"
    );
}

#[test]
fn loki_3d_not_enforced_passes_with_a_warning() {
    let r = loki_only("retention-3d-not-enforced", &[]);
    let c = check(&r, "loki-logs");
    assert_eq!(c["status"], "pass", "{c}");
    assert_eq!(c["evidence"]["retention_effective"], "forever");
    let w = c["warnings"][0].as_str().unwrap();
    assert!(w.contains("not enforced"), "{w}");
    assert!(
        r["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x.as_str().unwrap().contains("not enforced"))
    );
}

#[test]
fn loki_without_logs_fails() {
    let r = loki_only("no-logs", &[]);
    let c = check(&r, "loki-logs");
    assert_eq!(c["status"], "fail");
    assert!(
        c["message"]
            .as_str()
            .unwrap()
            .contains("no log lines for {job=\"medianest-app\"}"),
        "{c}"
    );
}

#[test]
fn loki_multi_tenant_needs_the_tenant() {
    let r = loki_only("multi-tenant", &[]);
    let c = check(&r, "loki-logs");
    assert_eq!(c["status"], "fail", "{c}");
    assert!(c["remediation"].as_str().unwrap().contains("LOKI_TENANT"), "{c}");
    let r = loki_only("multi-tenant", &[("LOKI_TENANT", crate::support::loki::LOKI_TENANT)]);
    assert_eq!(check(&r, "loki-logs")["status"], "pass", "{}", check(&r, "loki-logs"));
}

#[test]
fn loki_not_ready_and_non_yaml_config_are_explained() {
    let r = loki_only("not-ready", &[]);
    let c = check(&r, "loki-logs");
    assert_eq!(c["status"], "fail");
    assert!(c["cause"].as_str().unwrap().contains("warming up"), "{c}");
    let r = loki_only("config-not-yaml", &[]);
    let c = check(&r, "loki-logs");
    assert_eq!(c["status"], "error", "{c}");
    assert!(c["message"].as_str().unwrap().contains("/config"), "{c}");
}

/// Re-runs `f` until `done` holds (Prometheus needs a few scrapes), up to a minute.
fn poll(mut f: impl FnMut() -> serde_json::Value, done: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let r = f();
        if done(&r) || std::time::Instant::now() > deadline {
            return r;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn grafana_reports_a_datasource_error_and_missing_dashboards_together() {
    let mut scenario = crate::support::grafana::Scenario::load("datasource-error");
    scenario.dashboards.clear();
    let grafana = Grafana::start_with(scenario);
    let r = single(
        "grafana-api",
        "grafana",
        &grafana.url,
        &[("GRAFANA_TOKEN", GRAFANA_TOKEN)],
    );
    let c = check(&r, "grafana-api");
    assert_eq!(c["status"], "fail");
    let msg = c["message"].as_str().unwrap_or_default();
    assert!(msg.contains("datasource health check failed"), "{msg}");
    assert!(msg.contains("0 dashboard(s), need at least 1"), "both findings: {msg}");
    let repro = c["reproduce"].as_str().unwrap_or_default();
    assert!(
        repro.contains("/api/datasources/uid/") && repro.ends_with("/health"),
        "the failing endpoint: {repro}"
    );
}

#[test]
fn loki_reports_short_retention_and_missing_logs_together() {
    let mut scenario = crate::support::loki::Scenario::load("retention-3d-enforced");
    scenario.streams.clear();
    let loki = Loki::start_with(scenario);
    let r = single("log-aggregation", "loki", &loki.url, &[]);
    let c = check(&r, "loki-logs");
    assert_eq!(c["status"], "fail");
    let msg = c["message"].as_str().unwrap_or_default();
    assert!(msg.contains("shorter than the required"), "{msg}");
    assert!(msg.contains("no log lines for"), "both findings: {msg}");
    assert!(c["reproduce"].as_str().unwrap_or_default().contains("/config"), "{c}");
}
