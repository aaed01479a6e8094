//! The real binary on a pseudo-terminal of a set size, through util-linux
//! `script`: the binary finds a terminal on stdout and asks it for its
//! width itself, as it does for a person, rather than being told a width.

use std::process::{Command, Stdio};

/// Output of one run on a terminal `cols` columns wide.
pub struct TtyRun {
    pub code: i32,
    /// Everything the terminal showed (stdout and stderr share it), with
    /// the terminal's `\r\n` turned back into `\n`.
    pub screen: String,
}

/// Runs `medianest-gate ARGS…` on a `cols`×50 pseudo-terminal with `env`
/// (and a clean environment for the gate variables, `COLUMNS` and colour).
pub fn run(cols: u16, args: &[String], env: &[(&str, &str)]) -> TtyRun {
    let bin = assert_cmd::cargo::cargo_bin!("medianest-gate");
    // `script` gives its child a `COLUMNS` of its own: drop it, so the binary
    // asks the terminal, unless the test sets one.
    let mut line = format!("stty cols {cols} rows 50 && exec env -u COLUMNS -u LINES");
    for (k, v) in env {
        line.push(' ');
        line.push_str(&quote(&format!("{k}={v}")));
    }
    line.push(' ');
    line.push_str(&quote(&bin.display().to_string()));
    for a in args {
        line.push(' ');
        line.push_str(&quote(a));
    }
    let mut cmd = Command::new("script");
    cmd.args(["-qfec", &line, "/dev/null"])
        .stdin(Stdio::null())
        .env("TERM", "xterm-256color");
    for v in super::GATE_VARS
        .iter()
        .chain(&["COLUMNS", "LINES", "NO_COLOR", "RUST_BACKTRACE"])
    {
        cmd.env_remove(v);
    }
    let out = cmd
        .output()
        .expect("run `script` (util-linux; ./scripts/test installs it)");
    TtyRun {
        code: out.status.code().unwrap_or(-1),
        screen: String::from_utf8_lossy(&out.stdout).replace("\r\n", "\n"),
    }
}

/// `s` in single quotes for the `sh` that `script` starts.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// `s` without its SGR colour sequences (`ESC [ … m`).
pub fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' && chars.peek() == Some(&'[') {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

/// Display columns of `line`, as a terminal counts them.
pub fn columns(line: &str) -> usize {
    unicode_width::UnicodeWidthStr::width(line)
}
