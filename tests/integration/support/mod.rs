//! Helpers shared by the integration tests: the binary under test, fixture
//! servers on 127.0.0.1, gate files in temp dirs, and snapshot filters.

pub mod alertmanager;
pub mod backend;
pub mod daemon;
pub mod docker;
pub mod exporters;
pub mod grafana;
pub mod hostile;
pub mod jaeger;
pub mod junit_schema;
pub mod loki;
pub mod prometheus;
pub mod pty;
pub mod tls;
pub mod victoria;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use assert_cmd::Command;
use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response, StatusCode, header};

/// The token the fixture backend expects; tests assert it never leaks.
pub const TOKEN: &str = "mng-test-9f3c2a7b5d1e";

/// Environment variables of DESIGN §1 that must not leak in from the machine.
const GATE_VARS: &[&str] = &[
    "MEDIANEST_BACKEND_URL",
    "PROMETHEUS_URL",
    "GRAFANA_URL",
    "LOKI_URL",
    "DOCKER_HOST",
    "METRICS_TOKEN",
    "GRAFANA_TOKEN",
    "GRAFANA_USER",
    "GRAFANA_PASSWORD",
    "LOKI_TENANT",
    "GRAFANA_CONTAINER",
    "GRAFANA_DASHBOARDS",
    "BACKEND_JOB",
    "APP_LOG_SELECTOR",
    "TRACING_URL",
    "ALERTMANAGER_URL",
    "ALERT_RECEIVER",
    "BACKEND_SERVICE",
    "PROMETHEUS_CONTAINER",
    "BACKEND_CONTAINER",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "http_proxy",
    "https_proxy",
];

/// The real binary, with a clean environment for gate variables.
pub fn bin() -> Command {
    let mut cmd = Command::cargo_bin("medianest-gate").expect("the binary is built by cargo test");
    for v in GATE_VARS {
        cmd.env_remove(v);
    }
    // A test run inside GitHub Actions must not append every report to the
    // job's summary: the tests that want one set it.
    cmd.env("NO_COLOR", "1")
        .env_remove("RUST_BACKTRACE")
        .env_remove("GITHUB_STEP_SUMMARY");
    cmd
}

/// `check` of the built-in Gate G's backend requirements against `url`:
/// deliberately a partial run (`--allow-partial`), so the verdict is the
/// backend's alone.
pub fn check_backend(url: &str) -> Command {
    let mut cmd = bin();
    cmd.args(["check", "--no-progress", "--allow-partial", "--target"])
        .arg(format!("backend={url}"))
        .args(["--only", "metrics-endpoint", "--only", "health-checks"])
        .env("METRICS_TOKEN", TOKEN);
    cmd
}

/// A port on 127.0.0.1 that nothing listens on (bound, then released).
pub fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    let port = l.local_addr().expect("local addr").port();
    drop(l);
    port
}

pub fn fixture(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(path)
}

pub fn read_fixture(path: &str) -> String {
    std::fs::read_to_string(fixture(path)).expect("fixture exists")
}

/// Writes a gate file into a fresh temp dir; the dir lives as long as the guard.
pub fn gate_file(yaml: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("gate.yaml");
    std::fs::write(&path, yaml).expect("write gate");
    (dir, path)
}

/// Runs `check --no-progress --format json` on `yaml` with `extra` flags and
/// returns (exit code, the JSON report, stderr); panics when no report came.
pub fn check_json(yaml: &str, extra: &[&str], env: &[(&str, &str)]) -> (i32, serde_json::Value, String) {
    let (_dir, path) = gate_file(yaml);
    let mut args = vec!["--gate", path.to_str().expect("temp paths are UTF-8")];
    args.extend_from_slice(extra);
    check_json_args(&args, env)
}

/// Runs `check --no-progress --format json` with `args` (the built-in Gate G
/// unless they name a `--gate`) and returns (exit code, the JSON report,
/// stderr); panics when no report came.
pub fn check_json_args(args: &[&str], env: &[(&str, &str)]) -> (i32, serde_json::Value, String) {
    let mut cmd = bin();
    cmd.args(["check", "--no-progress", "--format", "json"]).args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let (code, stdout, stderr) = output(&mut cmd);
    assert!(!stdout.is_empty(), "no report; stderr:\n{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    (code, json(&stdout), stderr)
}

/// Runs a command and returns (exit code, stdout, stderr).
pub fn output(cmd: &mut Command) -> (i32, String, String) {
    let out = cmd.output().expect("run the binary");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

pub fn json(stdout: &str) -> serde_json::Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{stdout}"))
}

/// The check with `id` in a JSON report.
pub fn check<'a>(report: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    report["requirements"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|r| r["checks"].as_array().into_iter().flatten())
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no check `{id}` in report"))
}

/// Insta settings that hide what changes between runs: ports, durations,
/// timestamps, latencies.
pub fn snapshot_settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.add_filter(r"127\.0\.0\.1:\d+", "127.0.0.1:[PORT]");
    s.add_filter(r#""duration_ms": \d+"#, r#""duration_ms": "[DURATION]""#);
    s.add_filter(r#""started_at": "[^"]+""#, r#""started_at": "[TIME]""#);
    s.add_filter(r"started \S+Z", "started [TIME]");
    s.add_filter(r#""(latency_\w+_ms)": [0-9.]+"#, r#""$1": "[LATENCY]""#);
    s.add_filter(
        r#""latency_samples_ms": \[[^\]]*\]"#,
        r#""latency_samples_ms": ["[LATENCY]"]"#,
    );
    s.add_filter(r"(`latency_\w+_ms`: )`[^`]*`", "$1`[LATENCY]`");
    s.add_filter(r"(&quot;latency_\w+_ms&quot;:)(\[[^\]]*\]|[0-9.]+)", "$1[LATENCY]");
    s.add_filter(r"\b\d+(\.\d+)?(ms| ms)\b", "[DURATION]");
    s.add_filter(r#"time="[0-9.]+""#, r#"time="[DURATION]""#);
    s.add_filter(r"\b\d+(\.\d+)?s\b", "[DURATION]");
    s.add_filter(r"medianest-gate \d+\.\d+\.\d+", "medianest-gate [VERSION]");
    s.add_filter(r#""version": "\d+\.\d+\.\d+""#, r#""version": "[VERSION]""#);
    s.set_snapshot_path("snapshots");
    s.set_prepend_module_to_snapshot(false);
    s
}

/// Table cells are padded to the widest value, so a duration one digit
/// longer moves every border: collapse padding and rules before comparing.
pub fn normalize_table(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let mut prev_space = false;
        let mut prev_rule = '\0';
        for c in line.chars() {
            if c == ' ' {
                if !prev_space {
                    out.push(c);
                }
                prev_space = true;
                continue;
            }
            prev_space = false;
            if matches!(c, '─' | '═') {
                if prev_rule != c {
                    out.push(c);
                }
                prev_rule = c;
                continue;
            }
            prev_rule = '\0';
            out.push(c);
        }
        out.push('\n');
    }
    out
}

/// Runs `handler` as an axum server on 127.0.0.1:0 in its own thread with a
/// current-thread runtime; returns its URL and a sender whose drop stops it.
/// Every HTTP fixture (backend, Grafana, Loki) is served this way.
pub fn spawn<F, Fut>(handler: F) -> (String, tokio::sync::oneshot::Sender<()>)
where
    F: Fn(Request<Body>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response<Body>> + Send + 'static,
{
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let (port_tx, port_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("fixture runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind fixture");
            port_tx
                .send(listener.local_addr().expect("addr").port())
                .expect("report port");
            let app = Router::new().fallback(move |req: Request<Body>| handler(req));
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
    });
    let port = port_rx.recv_timeout(Duration::from_secs(10)).expect("fixture started");
    (format!("http://127.0.0.1:{port}"), tx)
}

/// A fixture answer with a status, a content type and a body.
pub fn respond(status: u16, content_type: &str, body: &str) -> Response<Body> {
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from(body.to_string()))
        .unwrap_or_default()
}

/// Locks a fixture's state even after a panicking handler poisoned it, so
/// one failed request never hides the next test's evidence.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
