//! Server text stays inert (DESIGN §7), through the real binary: a server
//! whose rule errors, datasource names and messages, bodies and redirects
//! carry terminal control sequences, forged `[   pass]` and `# PASSED`
//! lines, an HTML comment and markup. Every format on stdout, every
//! `--report` file and the `-v` lines are checked; and every printed
//! command is run by a real `sh`, with `curl` stubbed out, to prove it
//! passes the arguments it shows and runs nothing else.

use std::path::{Path, PathBuf};
use std::process::Command;

use pulldown_cmark::{Event, Options, Parser, Tag};
use serde_json::json;

use crate::support::hostile::{Misbehaviour, Route, start};
use crate::support::{bin, check, json, output};

/// What the server writes into its answers.
const EVIL: &str = "\u{1b}]0;pwned\u{7}\u{1b}[2J\n[   pass] forged\n# PASSED\n\n<!-- hide\n<script>alert(1)</script> [x](http://evil.test) \u{9b}1m \u{202e}desrever <img src=x onerror=alert(2)>";
const TOKEN: &str = "inert-suite-token-77c1";
const CHECKS: &[&str] = &[
    "rules",
    "datasources",
    "login",
    "redirected",
    "health-json",
    "container",
];

struct Stack {
    _dir: tempfile::TempDir,
    gate: PathBuf,
    /// Created by any command that runs what a server smuggled in.
    marker: PathBuf,
    /// The `svc` target, with `'$(touch MARKER)'` in its path.
    svc: String,
    docker_socket: String,
}

fn stack() -> Stack {
    let dir = tempfile::tempdir().expect("temp dir");
    let marker = dir.path().join("pwned");
    let smuggled = format!("'$(touch {})'", marker.display());
    let json_route =
        |prefix: &str, body: serde_json::Value| Route::new(prefix, "200 OK", "application/json", body.to_string());
    let routes = vec![
        json_route(
            "/prom/api/v1/rules",
            json!({"status": "success", "data": {"groups": [{"name": "g", "rules": [
                {"type": "alerting", "name": "ApplicationDown", "health": "err", "state": "inactive", "lastError": EVIL}
            ]}]}}),
        ),
        json_route("/graf/api/health", json!({"database": "ok", "version": EVIL})),
        json_route(
            "/graf/api/datasources/uid/u1/health",
            json!({"status": "ERROR", "message": EVIL}),
        ),
        json_route(
            "/graf/api/datasources",
            json!([{"name": format!("ds {EVIL}"), "uid": "u1", "type": "prometheus"}]),
        ),
        json_route("/graf/api/search", json!([])),
        json_route("/login-graf/api/health", json!({"database": "ok"})),
        Route::redirect("/login-graf/api/", &format!("/login?next={smuggled}")),
        Route::new("/login", "200 OK", "text/html", "<!DOCTYPE html><html>login</html>"),
        Route::redirect("/svc/", &format!("/svc2/{smuggled}/health")),
        Route::new("/svc2/", "500 Internal Server Error", "text/plain", EVIL).header("X-Reason", "<!-- hide"),
        json_route("/svc3/health", json!({"status": EVIL})),
    ];
    let url = start(Misbehaviour::Routes(routes));
    let docker_socket = format!("{}/no such dir/docker.sock", dir.path().display());
    let gate = dir.path().join("gate.yaml");
    let yaml = format!(
        r#"schema_version: 1
id: I
name: inert text
targets:
  prometheus: "{url}/prom"
  grafana: "{url}/graf"
  grafana_login: "{url}/login-graf"
  svc: "{url}/placeholder"
  svc_json: "{url}/svc3"
  docker: "unix://{docker_socket}"
secrets: {{ token: "${{INERT_TOKEN}}" }}
requirements:
  - id: server-text
    name: server text
    weight: 1
    checks:
      - {{ id: rules, kind: prometheus_rules, target: prometheus, rules: [ApplicationDown] }}
      - {{ id: datasources, kind: grafana, target: grafana }}
      - {{ id: login, kind: grafana, target: grafana_login }}
      - {{ id: redirected, kind: http, target: svc, path: /health, token: token }}
      - {{ id: health-json, kind: http, target: svc_json, path: /health, expect_json: {{ status: ok }} }}
      - {{ id: container, kind: docker_container, target: docker, container: grafana }}
"#
    );
    std::fs::write(&gate, yaml).expect("write the gate");
    Stack {
        svc: format!("{url}/svc/{smuggled}"),
        _dir: dir,
        gate,
        marker,
        docker_socket,
    }
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
    /// (format, text) of each `--report` file.
    reports: Vec<(&'static str, String)>,
}

/// One run with `--format format`, every `--report`, `-v`, and colour
/// forced as on a terminal (anstream would strip escape sequences from a
/// pipe and hide what a terminal gets).
fn run(s: &Stack, format: &str) -> Run {
    let out = tempfile::tempdir().expect("temp dir");
    let formats = ["table", "json", "markdown", "junit", "github", "codequality", "html"];
    let paths: Vec<PathBuf> = formats.iter().map(|f| out.path().join(format!("report.{f}"))).collect();
    let mut cmd = bin();
    cmd.args([
        "check",
        "--no-progress",
        "-v",
        "--color",
        "always",
        "--timeout",
        "3s",
        "--format",
        format,
    ])
    .arg("--gate")
    .arg(&s.gate)
    .arg("--target")
    .arg(format!("svc={}", s.svc))
    .env("INERT_TOKEN", TOKEN)
    .env_remove("NO_COLOR")
    .env("CLICOLOR_FORCE", "1");
    for (f, p) in formats.iter().zip(&paths) {
        cmd.arg("--report").arg(format!("{f}={}", p.display()));
    }
    let (code, stdout, stderr) = output(&mut cmd);
    let reports = formats
        .iter()
        .zip(&paths)
        .map(|(f, p)| (*f, std::fs::read_to_string(p).unwrap_or_default()))
        .collect();
    Run {
        code,
        stdout,
        stderr,
        reports,
    }
}

/// `text` without the SGR colour sequences (`ESC [ digits ; m`).
fn strip_sgr(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find('\u{1b}') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let sgr_len = after
            .strip_prefix('[')
            .and_then(|r| r.find(|c: char| !(c.is_ascii_digit() || c == ';')).map(|n| (r, n)))
            .filter(|(r, n)| r[*n..].starts_with('m'))
            .map(|(_, n)| n + 2);
        match sgr_len {
            Some(n) => rest = &after[n..],
            None => {
                // Not a colour: keep it, so the inertness check below reports it.
                out.push('\u{1b}');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// No control character but the layout's newlines (and tabs where
/// `tabs`), no DEL, C1, bidi control or line separator.
fn assert_inert(what: &str, text: &str, tabs: bool) {
    for (i, c) in text.char_indices() {
        let allowed = c == '\n' || (tabs && c == '\t');
        let unsafe_char = matches!(c, '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}' | '\u{61c}' | '\u{200e}' | '\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
        assert!(
            allowed || !unsafe_char,
            "{what}: {c:?} at byte {i}: {:?}",
            text[..i]
                .chars()
                .rev()
                .take(80)
                .collect::<String>()
                .chars()
                .rev()
                .collect::<String>()
        );
    }
    for line in text.lines() {
        // Wrapped text goes on under a hanging indent, so a word of it may
        // start an indented line; no server text starts a line of its own.
        let trimmed = line.trim_start();
        assert!(
            !trimmed.starts_with("[   pass] forged") && !trimmed.starts_with("# PASSED") && !line.starts_with("forged"),
            "{what}: a forged line: {line}"
        );
    }
}

fn assert_markdown_inert(what: &str, md: &str) {
    let opts = Options::ENABLE_TABLES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_MATH;
    let mut headings = 0;
    for (e, range) in Parser::new_ext(md, opts).into_offset_iter() {
        let source = &md[range];
        match e {
            Event::Html(h) => assert!(
                ["<details><summary>All checks</summary>", "</details>"].contains(&h.trim()),
                "{what}: raw HTML from {source:?}"
            ),
            Event::InlineHtml(h) => assert!(["<sub>", "</sub>"].contains(&h.as_ref()), "{what}: inline HTML {h}"),
            Event::Start(Tag::Link { .. } | Tag::Image { .. }) => panic!("{what}: a link from {source:?}"),
            Event::Start(Tag::Heading { .. }) => {
                headings += 1;
                assert!(
                    ["# Gate I", "## ", "### "].iter().any(|p| source.starts_with(p)),
                    "{what}: heading {source:?}"
                );
            }
            _ => {}
        }
    }
    // Title, root causes, compliance, blockers, one per blocker.
    assert!(headings >= 4 + CHECKS.len(), "{what}: {headings} headings");
}

fn assert_xml(what: &str, xml: &str) {
    if let Err(e) = roxmltree::Document::parse(xml) {
        panic!("{what} is not XML 1.0: {e}\n{xml}");
    }
}

/// The tags the HTML report writes; server text adds none.
const HTML_TAGS: &[&str] = &[
    "!DOCTYPE", "html", "head", "meta", "title", "style", "body", "header", "div", "svg", "path", "line", "text", "p",
    "span", "strong", "code", "main", "section", "h1", "h2", "h3", "h4", "table", "thead", "tbody", "tr", "th", "td",
    "ol", "li", "ul", "article", "dl", "dt", "dd", "pre", "button", "fieldset", "legend", "input", "label", "polyline",
    "circle", "rect", "footer", "script",
];

/// Server text is text in the HTML page: every `<` on the page opens one
/// of our tags, no tag carries an event handler, the one script is ours,
/// and the server's markup is shown escaped.
fn assert_html_inert(what: &str, page: &str) {
    assert_inert(what, page, true);
    for (i, _) in page.match_indices('<') {
        let tag = &page[i + 1..];
        let end = tag.find('>').unwrap_or(tag.len());
        let tag = &tag[..end];
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '!')
            .collect();
        assert!(
            HTML_TAGS.contains(&name.as_str()),
            "{what}: a tag that is not ours: <{tag}>"
        );
        assert!(
            !tag.split_whitespace().any(|a| a.to_ascii_lowercase().starts_with("on")),
            "{what}: an event handler in <{tag}>"
        );
    }
    assert_eq!(page.matches("<script").count(), 1, "{what}: one script, ours");
    assert!(page.contains("<script>if(navigator.clipboard)"), "{what}");
    assert!(!page.contains("<img") && !page.contains("<!-- hide"), "{what}");
    assert!(
        page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{what}: the server's script as text"
    );
    assert!(
        page.contains("&lt;img src=x onerror=alert(2)&gt;"),
        "{what}: the server's image as text"
    );
    assert!(page.contains("&lt;!-- hide"), "{what}");
    let csp = page
        .lines()
        .find(|l| l.contains("Content-Security-Policy"))
        .unwrap_or_else(|| panic!("{what}: no Content-Security-Policy"));
    assert!(csp.contains("default-src 'none'"), "{what}: {csp}");
}

fn assert_output_inert(what: &str, format: &str, text: &str) {
    match format {
        "html" => assert_html_inert(what, text),
        "table" => assert_inert(what, &strip_sgr(text), true),
        "markdown" => {
            assert_inert(what, text, true);
            assert_markdown_inert(what, text);
        }
        "junit" => {
            assert_inert(what, text, false);
            assert_xml(what, text);
        }
        "github" => {
            // Tabs survive in reproduce commands; every line is our command.
            assert_inert(what, text, true);
            for line in text.lines() {
                assert!(
                    ["::error ", "::warning ", "::notice "]
                        .iter()
                        .any(|p| line.starts_with(p)),
                    "{what}: a line that is not our workflow command: {line:?}"
                );
            }
        }
        _ => {
            assert_inert(what, text, false);
            json(text);
        }
    }
}

/// Runs a printed command in `sh` with `curl`, `jq` and `docker` stubbed:
/// returns the arguments `curl` got, or panics if the shell rejects it.
fn curl_args(cmd: &str, marker: &Path) -> Vec<String> {
    let syntax = Command::new("sh").args(["-n", "-c", cmd]).status().expect("sh -n");
    assert!(syntax.success(), "sh -n rejects {cmd}");
    let script = format!("curl() {{ printf '%s\\0' \"$@\"; }}; jq() {{ cat >/dev/null; }}; docker() {{ :; }}; {cmd}");
    let out = Command::new("sh")
        .arg("-c")
        .arg(script)
        .env("INERT_TOKEN", TOKEN)
        .output()
        .expect("run sh");
    assert!(out.status.success(), "{cmd}: {}", String::from_utf8_lossy(&out.stderr));
    assert!(
        !marker.exists(),
        "running the printed command ran what the server smuggled in: {cmd}"
    );
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_terminator('\0').map(str::to_string).collect()
}

#[test]
fn hostile_server_text_is_inert_in_every_format_report_file_and_verbose_line() {
    let s = stack();
    for format in ["table", "json", "markdown", "junit"] {
        let r = run(&s, format);
        assert_eq!(r.code, 1, "{format}: blocked expected; stderr: {}", r.stderr);
        assert!(!r.stderr.contains("panic"), "{}", r.stderr);
        assert_output_inert(&format!("--format {format}"), format, &r.stdout);
        for (f, text) in &r.reports {
            assert!(!text.is_empty(), "no {f} report");
            assert!(!text.contains('\u{1b}'), "--report {f}= has an escape sequence");
            assert_output_inert(&format!("--report {f}="), f, text);
        }
        // -v: one line per check, each starting with its status and id.
        let stderr = strip_sgr(&r.stderr);
        assert_inert("-v", &stderr, false);
        let verbose: Vec<&str> = stderr.lines().filter(|l| l.starts_with('[')).collect();
        assert_eq!(verbose.len(), CHECKS.len(), "{stderr}");
        for line in verbose {
            let id = line
                .get(10..)
                .and_then(|rest| rest.split(" (").next())
                .unwrap_or_default();
            assert!(CHECKS.contains(&id), "a -v line for no check: {line}");
        }
    }
}

#[test]
fn hostile_server_text_is_text_in_the_html_report_never_markup_or_script() {
    let s = stack();
    let r = run(&s, "html");
    assert_eq!(r.code, 1, "blocked expected; stderr: {}", r.stderr);
    assert_html_inert("--format html", &r.stdout);
    let (_, file) = r.reports.iter().find(|(f, _)| *f == "html").expect("an html report");
    assert_html_inert("--report html=", file);
    // The command the server tried to smuggle shows as text, quotes escaped.
    assert!(r.stdout.contains("&#39;$(touch "), "{}", r.stdout);
    assert!(!r.stdout.contains(TOKEN), "the token never appears");
}

#[test]
fn the_report_keeps_what_the_server_sent_and_shows_it_escaped() {
    let s = stack();
    let r = run(&s, "json");
    let report = json(&r.stdout);
    let message = |id: &str| check(&report, id)["message"].as_str().unwrap_or_default().to_string();
    // The server's text arrived, so the other tests prove something.
    assert!(message("rules").contains(EVIL), "{}", message("rules"));
    assert!(
        message("datasources").contains(&format!("ds {EVIL}")),
        "{}",
        message("datasources")
    );
    assert!(message("login").contains("$(touch"), "{}", message("login"));
    // Shown as escapes in the table and -v lines, not dropped.
    let table = &r.reports[0].1;
    assert!(
        table.contains(r"\x1b]0;pwned\x07\x1b[2J\n[   pass] forged\n# PASSED"),
        "{table}"
    );
    assert!(strip_sgr(&r.stderr).contains(r"\x1b]0;pwned\x07"), "{}", r.stderr);
}

#[test]
fn every_printed_command_parses_in_sh_and_runs_only_what_it_shows() {
    let s = stack();
    let r = run(&s, "table");
    let report = json(&r.reports[1].1);
    let mut commands = Vec::new();
    for id in CHECKS {
        let cmd = check(&report, id)["reproduce"].as_str().unwrap_or_default().to_string();
        assert!(!cmd.is_empty(), "{id} has no reproduce command");
        commands.push((*id, cmd));
    }
    // What the terminal shows after `try:` is the same command, wrapped
    // with ` \` continuations at the blanks between words.
    let mut tries: Vec<String> = Vec::new();
    let mut continued = false;
    for l in strip_sgr(&r.stdout).lines() {
        let (text, more) = match l.strip_suffix(" \\") {
            Some(t) => (t, true),
            None => (l, false),
        };
        if continued && let Some(t) = tries.last_mut() {
            t.push(' ');
            t.push_str(text.trim_start());
        } else if let Some(c) = text.trim_start().strip_prefix("try:") {
            tries.push(c.trim_start().to_string());
        } else {
            continue;
        }
        continued = more;
    }
    for (id, cmd) in &commands {
        assert!(tries.contains(cmd), "{id}: `{cmd}` is not a try: line: {tries:#?}");
    }
    for (id, cmd) in &commands {
        let args = curl_args(cmd, &s.marker);
        match *id {
            "redirected" => {
                assert_eq!(args.last(), Some(&format!("{}/health", s.svc)), "{cmd}");
                assert!(
                    args.contains(&format!("Authorization: Bearer {TOKEN}")),
                    "the placeholder expands: {cmd}"
                );
            }
            "container" => {
                let at = args
                    .iter()
                    .position(|a| a == "--unix-socket")
                    .unwrap_or_else(|| panic!("{cmd}"));
                assert_eq!(
                    args[at + 1..],
                    // The Engine API's own view of the container, over the socket.
                    [
                        s.docker_socket.clone(),
                        "http://localhost/containers/grafana/json".to_string()
                    ],
                    "{cmd}"
                );
            }
            _ => {}
        }
    }
    assert!(!s.marker.exists());
}
