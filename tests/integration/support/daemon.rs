//! Real servers from Debian run by the tests (Prometheus, exporters,
//! VictoriaMetrics, Alertmanager): each under a small `sh` wrapper that holds
//! a pipe from the test process, so when the test process dies for any reason
//! (even SIGKILL) the pipe closes and the wrapper stops the server: nothing is
//! left running. Servers bind free loopback ports only.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

/// Stops the server when the test process closes the wrapper's stdin, and
/// exits with the server's status so the harness sees an early death.
/// A background job's stdin is /dev/null in `sh`, hence the copy on fd 3.
pub const WRAPPER: &str = r#"
pidfile=$1; shift
exec 3<&0
"$@" </dev/null 3<&- &
pid=$!
echo "$pid" > "$pidfile"
( read -r _ <&3; kill -TERM "$pid" 2>/dev/null ) &
watcher=$!
exec 3<&-
wait "$pid"
status=$?
kill "$watcher" 2>/dev/null
exit "$status"
"#;

pub fn on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// A program the tests cannot do without: missing is a failure, not a skip.
pub fn required(name: &str, package: &str) -> PathBuf {
    on_path(name)
        .unwrap_or_else(|| panic!("`{name}` is not on PATH: install Debian's `{package}` (./scripts/test does)"))
}

/// The wrapper `sh` and the pipe that keeps its server alive.
pub struct Process {
    pub child: Child,
    pub stdin: Option<ChildStdin>,
    pub pidfile: PathBuf,
}

impl Process {
    /// Runs `program args…` under the wrapper in `dir`, output to `log`.
    pub fn spawn(program: &Path, args: &[String], dir: &Path, log: &Path) -> Process {
        let log = std::fs::File::create(log).expect("create log");
        let pidfile = dir.join("pid");
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(WRAPPER)
            .arg("server-wrapper")
            .arg(&pidfile)
            .arg(program)
            .args(args)
            // Nothing from the machine's proxies reaches the servers.
            .env_remove("HTTP_PROXY")
            .env_remove("HTTPS_PROXY")
            .env_remove("http_proxy")
            .env_remove("https_proxy")
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::from(log.try_clone().expect("clone log handle")))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn sh");
        let stdin = child.stdin.take();
        Process { child, stdin, pidfile }
    }

    pub fn stop(&mut self) {
        // EOF on the wrapper's stdin: it sends SIGTERM and waits.
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        // Hung on shutdown: kill exactly the server we started.
        if let Ok(pid) = std::fs::read_to_string(&self.pidfile) {
            let _ = Command::new("kill").args(["-KILL", pid.trim()]).status();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A server on a free loopback port, stopped when dropped.
pub struct Daemon {
    pub addr: SocketAddr,
    pub process: Process,
    pub dir: tempfile::TempDir,
}

impl Daemon {
    /// Starts `program` (from Debian's `package`) with the flags `args`
    /// gives for a free loopback address and a temp dir, and waits until
    /// `ready` answers 200 with a body holding `ready_text`. A port taken
    /// meanwhile by another test is retried.
    pub fn start(
        program: &str,
        package: &str,
        ready: &str,
        ready_text: &str,
        args: impl Fn(SocketAddr, &Path) -> Vec<String>,
    ) -> Daemon {
        let path = required(program, package);
        let mut last = String::new();
        for _ in 0..5 {
            let dir = tempfile::Builder::new()
                .prefix("medianest-daemon-")
                .tempdir()
                .expect("temp dir");
            let addr: SocketAddr = ([127, 0, 0, 1], super::closed_port()).into();
            let process = Process::spawn(
                &path,
                &args(addr, dir.path()),
                dir.path(),
                &dir.path().join("daemon.log"),
            );
            let mut daemon = Daemon { addr, process, dir };
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                if let Ok((200, body)) = get(addr, ready)
                    && body.contains(ready_text)
                {
                    return daemon;
                }
                if let Ok(Some(_)) = daemon.process.child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            last = daemon.log_tail();
            daemon.process.stop();
            if !last.contains("address already in use") {
                break;
            }
        }
        panic!("{program} did not become ready; its log:\n{last}");
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.dir.path().join("daemon.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.process.stop();
    }
}

/// An HTTP/1.0 GET, so the answer is never chunked and ends at EOF.
pub fn get(addr: SocketAddr, path_and_query: &str) -> std::io::Result<(u16, String)> {
    get_with(addr, path_and_query, &[])
}

/// [`get`] with extra request headers.
pub fn get_with(addr: SocketAddr, path_and_query: &str, headers: &[(&str, &str)]) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    s.set_write_timeout(Some(Duration::from_secs(5)))?;
    let extra: String = headers.iter().map(|(k, v)| format!("{k}: {v}\r\n")).collect();
    write!(
        s,
        "GET {path_and_query} HTTP/1.0\r\nHost: {addr}\r\nAccept: application/json\r\n{extra}\r\n"
    )?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no HTTP status line: {head:?}")))?;
    Ok((status, body.to_string()))
}
