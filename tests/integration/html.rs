//! The HTML report in a real browser: Debian's headless Chromium loads the
//! page from a file, driven over the DevTools protocol, at a desktop and at
//! a phone width. It must render (the score, one row per requirement), log
//! no console error or exception (a Content-Security-Policy violation is
//! one), attempt no network request, fit 375 px without a horizontal
//! scroll, filter checks by status without JavaScript's help, copy a
//! reproduce command to the clipboard, and print with every check shown and
//! no controls; a hostile server's script and images must neither run nor
//! fetch. Screenshots (desktop, phone, print, hostile) are saved under
//! `target/test-output/html/` (and copied to `/tmp/html-shots/`) for a
//! person to look at.
//!
//! `./scripts/test` installs `chromium`. Without it the test says it
//! skipped, except under CI (`CI` set), where it fails, so CI can never
//! pass it without running it.

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

use crate::support::hostile::{Misbehaviour, Route, start};
use crate::support::{bin, output};

/// `chromium` on the PATH, or `None` (skipped, said on stderr) outside CI.
fn chromium() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("chromium"))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "chromium is not installed: ./scripts/test installs it (apt-get install chromium)"
        );
        eprintln!("skipped: chromium is not installed (./scripts/test installs it)");
    }
    found
}

/// Where the screenshots go: `target/test-output/html/`.
fn output_dir() -> PathBuf {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let dir = tmp.parent().unwrap_or(tmp).join("test-output").join("html");
    std::fs::create_dir_all(&dir).expect("create the test output dir");
    dir
}

/// A headless Chromium with its DevTools endpoint, killed on drop.
struct Browser {
    child: Child,
    ws: WebSocket<MaybeTlsStream<TcpStream>>,
    next_id: u64,
    /// (method, params, sessionId) of every event seen so far.
    events: Vec<(String, Value, Option<String>)>,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Browser {
    fn start(exe: &Path) -> Browser {
        let profile = tempfile::tempdir().expect("profile dir");
        let mut child = Command::new(exe)
            .args([
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-extensions",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--hide-scrollbars",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start chromium");
        // Keep draining stderr, so Chromium never blocks on a full pipe.
        let stderr = child.stderr.take().expect("piped stderr");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(i) = line.find("ws://") {
                    let _ = tx.send(line[i..].trim().to_string());
                }
            }
        });
        let url = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(url) => url,
            Err(_) => {
                let _ = child.kill();
                panic!("chromium printed no `DevTools listening on ws://…` within 60 s");
            }
        };
        let (ws, _) = tungstenite::connect(url.as_str()).expect("connect to DevTools");
        if let MaybeTlsStream::Plain(s) = ws.get_ref() {
            s.set_read_timeout(Some(Duration::from_secs(30))).expect("read timeout");
        }
        Browser {
            child,
            ws,
            next_id: 0,
            events: Vec::new(),
            _profile: profile,
        }
    }

    /// Sends a command (to the page `session`, if given) and returns its
    /// result; events that arrive meanwhile are kept.
    fn call(&mut self, session: Option<&str>, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({ "id": id, "method": method, "params": params });
        if let Some(s) = session {
            msg["sessionId"] = json!(s);
        }
        self.ws
            .send(Message::text(msg.to_string()))
            .unwrap_or_else(|e| panic!("{method}: {e}"));
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            assert!(Instant::now() < deadline, "{method}: no answer in 30 s");
            let m = self.read().unwrap_or_else(|| panic!("{method}: the browser closed"));
            if m["id"] == id {
                if let Some(err) = m.get("error") {
                    panic!("{method}: {err}");
                }
                return m["result"].clone();
            }
        }
    }

    /// The next message, events recorded; `None` when the socket is gone.
    fn read(&mut self) -> Option<Value> {
        loop {
            match self.ws.read() {
                Ok(Message::Text(t)) => {
                    let v: Value = serde_json::from_str(t.as_str()).expect("DevTools sends JSON");
                    if let Some(method) = v["method"].as_str() {
                        self.events.push((
                            method.to_string(),
                            v["params"].clone(),
                            v["sessionId"].as_str().map(str::to_string),
                        ));
                    }
                    return Some(v);
                }
                Ok(_) => continue,
                Err(_) => return None,
            }
        }
    }

    /// Waits for `method` on `session` after event number `from`.
    fn wait_event(&mut self, session: &str, method: &str, from: usize) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if self.events[from.min(self.events.len())..]
                .iter()
                .any(|(m, _, s)| m == method && s.as_deref() == Some(session))
            {
                return;
            }
            assert!(Instant::now() < deadline, "no {method} in 30 s");
            assert!(self.read().is_some(), "the browser closed while waiting for {method}");
        }
    }

    fn eval(&mut self, session: &str, expression: &str) -> Value {
        let r = self.call(
            Some(session),
            "Runtime.evaluate",
            json!({ "expression": expression, "returnByValue": true }),
        );
        assert!(r.get("exceptionDetails").is_none(), "{expression}: {r}");
        r["result"]["value"].clone()
    }
}

/// What the page did that it must not: console errors, exceptions, and
/// requests for anything but the page itself.
fn misdeeds(events: &[(String, Value, Option<String>)], page: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (method, p, _) in events {
        match method.as_str() {
            "Network.requestWillBeSent" => {
                let url = p["request"]["url"].as_str().unwrap_or_default();
                if url != page && !url.starts_with("data:") {
                    out.push(format!("a request for {url}"));
                }
            }
            "Runtime.consoleAPICalled" if p["type"] == "error" || p["type"] == "warning" => {
                out.push(format!("console {}: {}", p["type"], p["args"]));
            }
            "Runtime.exceptionThrown" => out.push(format!("exception: {}", p["exceptionDetails"])),
            "Log.entryAdded" if p["entry"]["level"] == "error" => {
                out.push(format!("log error: {}", p["entry"]["text"]));
            }
            _ => {}
        }
    }
    out
}

/// A new page with the domains the checks listen to; returns its session.
fn open_page(b: &mut Browser) -> String {
    let target = b.call(None, "Target.createTarget", json!({ "url": "about:blank" }));
    let attached = b.call(
        None,
        "Target.attachToTarget",
        json!({ "targetId": target["targetId"], "flatten": true }),
    );
    let s = attached["sessionId"].as_str().expect("sessionId").to_string();
    for domain in ["Page.enable", "Network.enable", "Runtime.enable", "Log.enable"] {
        b.call(Some(&s), domain, json!({}));
    }
    s
}

/// Sets the viewport, loads the page, and returns the index of the first
/// event of this load.
fn load(b: &mut Browser, session: &str, url: &str, width: u32, mobile: bool) -> usize {
    b.call(
        Some(session),
        "Emulation.setDeviceMetricsOverride",
        json!({ "width": width, "height": 900, "deviceScaleFactor": 1, "mobile": mobile }),
    );
    let from = b.events.len();
    b.call(Some(session), "Page.navigate", json!({ "url": url }));
    b.wait_event(session, "Page.loadEventFired", from);
    from
}

/// A full-page screenshot at `width`, saved as `name` in the output dir
/// and in `/tmp/html-shots/`.
fn screenshot(b: &mut Browser, session: &str, width: u32, mobile: bool, name: &str) -> PathBuf {
    let height = b
        .eval(session, "document.documentElement.scrollHeight")
        .as_u64()
        .unwrap_or(900);
    b.call(
        Some(session),
        "Emulation.setDeviceMetricsOverride",
        json!({ "width": width, "height": height.clamp(600, 16000), "deviceScaleFactor": 1, "mobile": mobile }),
    );
    let shot = b.call(Some(session), "Page.captureScreenshot", json!({ "format": "png" }));
    let png = base64::engine::general_purpose::STANDARD
        .decode(shot["data"].as_str().expect("screenshot data"))
        .expect("base64 PNG");
    assert!(png.starts_with(b"\x89PNG"), "not a PNG");
    let path = output_dir().join(name);
    std::fs::write(&path, &png).expect("save the screenshot");
    let shots = Path::new("/tmp/html-shots");
    if std::fs::create_dir_all(shots).is_ok() {
        let _ = std::fs::write(shots.join(name), &png);
    }
    path
}

/// The seed's day (backend down, Grafana in a restart loop) after a healthy
/// run and a scrape-401 run, as `check --history` records them: a blocked
/// gate with blockers and a three-run trend.
fn blocked_report_with_history(dir: &Path) -> (PathBuf, Value) {
    let history = dir.join("history.jsonl");
    for scenario in ["healthy", "scrape-401"] {
        let (code, _, stderr) = output(
            bin()
                .args(["demo", scenario, "--format", "json", "--history"])
                .arg(&history),
        );
        assert!(code == 0 || code == 1, "{scenario}: exit {code}: {stderr}");
    }
    let page = dir.join("report.html");
    let (code, stdout, stderr) = output(
        bin()
            .args(["demo", "seed-day", "--format", "json", "--history"])
            .arg(&history)
            .arg("--report")
            .arg(format!("html={}", page.display())),
    );
    assert_eq!(code, 1, "seed-day is blocked: {stderr}");
    let report: Value = serde_json::from_str(&stdout).expect("a JSON report");
    assert!(!report["blockers"].as_array().expect("blockers").is_empty());
    (page, report)
}

#[test]
fn html_report_renders_in_headless_chromium_at_desktop_and_phone_width_without_fetching_anything() {
    let Some(exe) = chromium() else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let (page, report) = blocked_report_with_history(dir.path());
    let html = std::fs::read_to_string(&page).expect("the HTML report");
    assert!(html.contains("Score trend"), "--history gives a trend");
    let url = format!("file://{}", page.display());
    let score = format!("Score {:.1}%", report["score"].as_f64().expect("score"));
    let requirements = report["requirements"].as_array().expect("requirements").len();
    let checks: usize = report["requirements"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|q| q["checks"].as_array().map_or(0, Vec::len))
        .sum();
    let failing = report["counts"]["fail"].as_u64().expect("fail count");

    let mut b = Browser::start(&exe);
    let s = open_page(&mut b);

    // Desktop.
    let from = load(&mut b, &s, &url, 1280, false);
    let shown = b.eval(&s, "document.getElementById('score').textContent");
    assert!(
        shown.as_str().unwrap_or_default().contains(&score),
        "{shown} has no {score}"
    );
    assert_eq!(
        b.eval(&s, "document.querySelectorAll('tr.req').length"),
        json!(requirements)
    );
    assert_eq!(
        b.eval(&s, "document.querySelectorAll('li.check').length"),
        json!(checks)
    );
    assert_eq!(b.eval(&s, "document.querySelectorAll('h1').length"), json!(1));
    assert!(
        b.eval(&s, "document.querySelector('#h-trend') !== null") == json!(true),
        "the trend section"
    );
    // The filter: FAIL shows only the failing checks, without JavaScript's help.
    b.eval(&s, "document.getElementById('f-fail').click()");
    let visible = "[...document.querySelectorAll('li.check')].filter(e => e.offsetParent !== null).length";
    assert_eq!(b.eval(&s, visible), json!(failing));
    b.eval(&s, "document.getElementById('f-all').click()");
    assert_eq!(b.eval(&s, visible), json!(checks));
    let desktop = screenshot(&mut b, &s, 1280, false, "desktop.png");
    // The copy buttons: their script ran (the policy's hash admits it), and
    // a click puts the command on the clipboard.
    let buttons = b.eval(&s, "document.querySelectorAll('button.copy:not([hidden])').length");
    assert_eq!(
        buttons,
        json!(
            report["blockers"]
                .as_array()
                .map_or(0, |bs| bs.iter().filter(|b| b["reproduce"].is_string()).count())
        )
    );
    b.call(
        None,
        "Browser.grantPermissions",
        json!({ "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"] }),
    );
    b.call(
        Some(&s),
        "Emulation.setFocusEmulationEnabled",
        json!({ "enabled": true }),
    );
    let copied = b.call(
        Some(&s),
        "Runtime.evaluate",
        json!({
            "expression": "(async () => { const b = document.querySelector('button.copy'); b.click(); for (let i = 0; i < 250 && b.textContent !== 'Copied'; i++) await new Promise(r => setTimeout(r, 20)); return [b.textContent, await navigator.clipboard.readText(), document.getElementById(b.dataset.copy).textContent]; })()",
            "awaitPromise": true,
            "returnByValue": true,
            "userGesture": true,
        }),
    );
    let copied = &copied["result"]["value"];
    assert_eq!(copied[0], "Copied", "{copied}");
    assert_eq!(copied[1], copied[2], "the clipboard holds the command");
    assert!(copied[1].as_str().is_some_and(|c| c.starts_with("curl ")), "{copied}");

    // Print: no controls, every check shown even when filtered.
    b.eval(&s, "document.getElementById('f-fail').click()");
    b.call(Some(&s), "Emulation.setEmulatedMedia", json!({ "media": "print" }));
    assert_eq!(
        b.eval(&s, "getComputedStyle(document.querySelector('.filter')).display"),
        json!("none")
    );
    assert_eq!(b.eval(&s, visible), json!(checks));
    screenshot(&mut b, &s, 800, false, "print.png");
    b.call(Some(&s), "Emulation.setEmulatedMedia", json!({ "media": "" }));

    // Phone.
    load(&mut b, &s, &url, 375, true);
    assert_eq!(
        b.eval(&s, "document.querySelectorAll('tr.req').length"),
        json!(requirements)
    );
    let scroll_width = b.eval(&s, "document.documentElement.scrollWidth");
    assert!(
        scroll_width.as_u64().is_some_and(|w| w <= 375),
        "the page scrolls sideways at 375 px: scrollWidth {scroll_width}"
    );
    let phone = screenshot(&mut b, &s, 375, true, "phone.png");

    let bad = misdeeds(&b.events[from..], &url);
    assert!(bad.is_empty(), "the page misbehaved:\n{}", bad.join("\n"));
    let _ = b.call(None, "Browser.close", json!({}));
    eprintln!("screenshots: {} {}", desktop.display(), phone.display());
}

/// The checker above would notice a fetch: a page that asks for an image
/// is caught (so its silence on the report means something).
#[test]
fn html_browser_check_sees_a_page_that_fetches() {
    let Some(exe) = chromium() else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let page = dir.path().join("fetches.html");
    let port = crate::support::closed_port();
    std::fs::write(
        &page,
        format!("<!DOCTYPE html><title>t</title><img src=\"http://127.0.0.1:{port}/x.png\"><script>console.error('boom')</script>"),
    )
    .expect("write the page");
    let url = format!("file://{}", page.display());
    let mut b = Browser::start(&exe);
    let s = open_page(&mut b);
    let from = load(&mut b, &s, &url, 800, false);
    let bad = misdeeds(&b.events[from..], &url);
    assert!(
        bad.iter().any(|m| m.contains("a request for http://127.0.0.1")),
        "{bad:?}"
    );
    assert!(bad.iter().any(|m| m.contains("boom")), "{bad:?}");
    let _ = b.call(None, "Browser.close", json!({}));
}

/// A server whose answer is a script, an image with `onerror` and an image
/// that would call home: in the real browser the report shows all of it as
/// text, runs none of it (the title stays), and fetches nothing.
#[test]
fn html_report_of_a_hostile_server_runs_and_fetches_nothing_in_chromium() {
    let Some(exe) = chromium() else { return };
    let beacon = crate::support::closed_port();
    let evil = format!(
        "<script>document.title='pwned'</script><img src=x onerror=\"document.title='pwned'\"><img src=\"http://127.0.0.1:{beacon}/beacon\"> `tick`"
    );
    let url = start(Misbehaviour::Routes(vec![
        Route::new("/health", "500 Internal Server Error", "text/html", evil.clone()).header("X-Reason", "<!-- hide"),
    ]));
    let dir = tempfile::tempdir().expect("temp dir");
    let gate = dir.path().join("gate.yaml");
    std::fs::write(
        &gate,
        format!(
            "schema_version: 1\nid: H\nname: \"<script>document.title='pwned'</script>\"\ntargets: {{ svc: \"{url}\" }}\nrequirements:\n  - id: r\n    name: \"<img src=x onerror=alert(1)>\"\n    weight: 1\n    checks:\n      - {{ id: c, kind: http, target: svc, path: /health }}\n"
        ),
    )
    .expect("write the gate");
    let page = dir.path().join("hostile.html");
    let (code, _, stderr) = output(
        bin()
            .args(["check", "--no-progress", "--timeout", "3s", "--gate"])
            .arg(&gate)
            .arg("--report")
            .arg(format!("html={}", page.display())),
    );
    assert_eq!(code, 1, "blocked expected: {stderr}");
    let page_url = format!("file://{}", page.display());
    let mut b = Browser::start(&exe);
    let s = open_page(&mut b);
    let from = load(&mut b, &s, &page_url, 1280, false);
    // Our title, which holds the gate's name as text; a server script
    // that ran would have made it `pwned`.
    let title = b.eval(&s, "document.title");
    assert!(
        title.as_str().is_some_and(|t| t.starts_with("Gate H — <script>")),
        "a server script ran: {title}"
    );
    assert_eq!(b.eval(&s, "document.scripts.length"), json!(1), "only our script");
    assert_eq!(b.eval(&s, "document.images.length"), json!(0), "no server image");
    let text = b.eval(&s, "document.body.innerText");
    let text = text.as_str().unwrap_or_default();
    assert!(
        text.contains("<script>document.title='pwned'</script>"),
        "the server's text shows as text"
    );
    assert!(
        text.contains("<img src=x onerror=alert(1)>"),
        "the gate file's text shows as text"
    );
    screenshot(&mut b, &s, 1280, false, "hostile.png");
    let bad = misdeeds(&b.events[from..], &page_url);
    assert!(bad.is_empty(), "the page misbehaved:\n{}", bad.join("\n"));
    let _ = b.call(None, "Browser.close", json!({}));
}
