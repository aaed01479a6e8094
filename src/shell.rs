//! POSIX `sh` quoting for the commands the report prints (`try:` lines,
//! `reproduce`). A person pastes them into a shell, so every argument must
//! reach the program exactly as written: a URL with `'$(…)'` in it, from a
//! gate or a server's redirect, must stay a URL and never run anything.
//!
//! Arguments are literal unless built as a [`Word`] with a variable in it:
//! that is how secrets appear, as `$METRICS_TOKEN` that the person's shell
//! expands, while the text around them stays literal.

use std::borrow::Cow;

/// Characters that mean nothing to `sh` anywhere in a word. Not `=` and `%`,
/// which mean something in the command name (an assignment, a bash job);
/// not `~`, `#`, globs, quotes, `$`, `!` or whitespace.
fn is_plain(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/' | ':' | ',' | '+' | '@')
}

fn is_plain_arg(c: char) -> bool {
    is_plain(c) || matches!(c, '=' | '%')
}

/// One argument as a single `sh` word that expands to exactly `arg`: bare
/// when it holds only characters that mean nothing to the shell, otherwise
/// in single quotes, with each `'` written `'\''`.
///
/// `quote("it's $(x)")` is `'it'\''s $(x)'`; `quote("")` is `''`.
pub fn quote(arg: &str) -> Cow<'_, str> {
    if !arg.is_empty() && arg.chars().all(is_plain_arg) {
        Cow::Borrowed(arg)
    } else {
        Cow::Owned(single_quoted(arg))
    }
}

fn single_quoted(s: &str) -> String {
    if s.is_empty() {
        return "''".to_string();
    }
    let mut out = String::with_capacity(s.len() + 2);
    for (i, part) in s.split('\'').enumerate() {
        if i > 0 {
            out.push_str("\\'");
        }
        if !part.is_empty() {
            out.push('\'');
            out.push_str(part);
            out.push('\'');
        }
    }
    out
}

/// A command line from an argv: every element quoted with [`quote`]. The
/// command name is quoted stricter, so `a=b` or `%1` is never read as an
/// assignment or a job.
pub fn join<I, S>(argv: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let words: Vec<Word> = argv.into_iter().map(|a| Word::literal(a.as_ref())).collect();
    join_words(&words)
}

/// A command line from words that may hold variables.
pub fn join_words(words: &[Word]) -> String {
    let mut out = String::new();
    for (i, w) in words.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(&w.render(i == 0));
    }
    out
}

/// Splits a command line for display in `width` columns: breaks only at
/// blanks outside quotes and escapes, ending each line but the last with
/// ` \\`, so the lines pasted together into `sh` are the same command.
/// Nothing after a `#` that starts a comment is split (a backslash does not
/// continue a comment). A word wider than a line stays whole and overflows.
pub fn wrap_command(cmd: &str, width: usize) -> Vec<String> {
    let words = split_blanks(cmd);
    let mut lines = Vec::new();
    let mut line = String::new();
    for (i, &(word, _)) in words.iter().enumerate() {
        let last = i + 1 == words.len();
        // A line that will be continued needs room for ` \`.
        let room = if last { width } else { width.saturating_sub(2) };
        let prev_blank = if i == 0 { "" } else { words[i - 1].1 };
        let joined = crate::report::layout::width(&line)
            + crate::report::layout::width(prev_blank)
            + crate::report::layout::width(word);
        if !line.is_empty() && joined > room {
            line.push_str(" \\");
            lines.push(std::mem::take(&mut line));
        } else if !line.is_empty() {
            line.push_str(prev_blank);
        }
        line.push_str(word);
    }
    lines.push(line);
    lines
}

/// `cmd` as (word, the blanks after it) pairs, where a word is everything
/// up to an unquoted, unescaped blank, and a comment is one word.
fn split_blanks(cmd: &str) -> Vec<(&str, &str)> {
    let mut out = Vec::new();
    let bytes = cmd.as_bytes();
    let mut i = 0;
    let mut start = 0;
    let (mut single, mut double) = (false, false);
    while i < bytes.len() {
        let b = bytes[i];
        let at_word_start = i == start;
        match b {
            b'\\' if !single => i += 1,
            b'\'' if !double => single = !single,
            b'"' if !single => double = !double,
            b'#' if at_word_start && !single && !double => {
                out.push((&cmd[start..], ""));
                return out;
            }
            b' ' | b'\t' if !single && !double => {
                let end = i;
                while i < bytes.len() && matches!(bytes[i], b' ' | b'\t') {
                    i += 1;
                }
                out.push((&cmd[start..end], &cmd[end..i]));
                start = i;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    if start < cmd.len() {
        out.push((&cmd[start..], ""));
    }
    out
}

/// True for a name `sh` expands as `$NAME`: `[A-Za-z_][A-Za-z0-9_]*`.
pub fn is_var_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Literal(String),
    /// A valid variable name (checked when the piece is made).
    Var(String),
}

/// One shell word made of literal text and `$NAME` variables. The literal
/// parts reach the program as written; the variables are expanded by the
/// shell that runs the command, and never split or globbed.
///
/// `Word::literal("Authorization: Bearer ").var("METRICS_TOKEN")` renders
/// as `"Authorization: Bearer $METRICS_TOKEN"`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Word {
    pieces: Vec<Piece>,
}

impl Word {
    pub fn literal(text: &str) -> Self {
        Word::default().text(text)
    }

    /// Appends literal text.
    pub fn text(mut self, text: &str) -> Self {
        match self.pieces.last_mut() {
            Some(Piece::Literal(s)) => s.push_str(text),
            _ => self.pieces.push(Piece::Literal(text.to_string())),
        }
        self
    }

    /// Appends a variable the shell expands. A name `sh` cannot expand is
    /// appended as the literal text `$name` instead, so a bad name can
    /// never turn into syntax.
    pub fn var(mut self, name: &str) -> Self {
        if is_var_name(name) {
            self.pieces.push(Piece::Var(name.to_string()));
            self
        } else {
            self.text(&format!("${name}"))
        }
    }

    /// `$NAME` or `${NAME}` (a placeholder as the gate spells it) as a
    /// variable; any other text as a literal. Only for placeholders the
    /// tool made, never for server text: a `$HOME` in a server's URL must
    /// not expand in a person's shell.
    pub fn placeholder(self, placeholder: &str) -> Self {
        let name = placeholder
            .strip_prefix("${")
            .and_then(|n| n.strip_suffix('}'))
            .or_else(|| placeholder.strip_prefix('$'));
        match name {
            Some(n) if is_var_name(n) => self.var(n),
            _ => self.text(placeholder),
        }
    }

    /// The word as `sh` source. Literal-only words quote like [`quote`];
    /// with variables, double quotes when the literal parts need no escape
    /// inside them (no `"`, `\`, `` ` ``, `$`, and no `!` that interactive
    /// bash would expand), else single-quoted literals and `"$NAME"`
    /// concatenated.
    fn render(&self, command_name: bool) -> String {
        let plain = if command_name { is_plain } else { is_plain_arg };
        if !self.pieces.iter().any(|p| matches!(p, Piece::Var(_))) {
            let text: String = self
                .pieces
                .iter()
                .filter_map(|p| match p {
                    Piece::Literal(s) => Some(s.as_str()),
                    Piece::Var(_) => None,
                })
                .collect();
            return if !text.is_empty() && text.chars().all(plain) {
                text
            } else {
                single_quoted(&text)
            };
        }
        let double_quotable = self.pieces.iter().all(|p| match p {
            Piece::Literal(s) => !s.chars().any(|c| matches!(c, '"' | '\\' | '`' | '$' | '!')),
            Piece::Var(_) => true,
        });
        let mut out = String::new();
        if double_quotable {
            out.push('"');
            for (i, p) in self.pieces.iter().enumerate() {
                match p {
                    Piece::Literal(s) => out.push_str(s),
                    Piece::Var(name) => push_var(&mut out, name, self.pieces.get(i + 1)),
                }
            }
            out.push('"');
        } else {
            for p in &self.pieces {
                match p {
                    Piece::Literal(s) => out.push_str(&single_quoted(s)),
                    Piece::Var(name) => out.push_str(&format!("\"${{{name}}}\"")),
                }
            }
        }
        out
    }
}

/// `$NAME`, or `${NAME}` when the next literal would continue the name.
fn push_var(out: &mut String, name: &str, next: Option<&Piece>) {
    let continues = matches!(next, Some(Piece::Literal(s))
        if s.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_'));
    if continues {
        out.push_str(&format!("${{{name}}}"));
    } else {
        out.push('$');
        out.push_str(name);
    }
}

impl From<&str> for Word {
    fn from(s: &str) -> Self {
        Word::literal(s)
    }
}

impl From<String> for Word {
    fn from(s: String) -> Self {
        Word::literal(&s)
    }
}

/// The `curl` arguments that reach the Docker Engine API path `api_path`
/// (`/v1.41/containers/NAME/json`) through `DOCKER_HOST`: a unix socket is
/// `--unix-socket PATH http://localhost/…` (curl has no `unix://` URLs),
/// `tcp://h:p` is `http://h:p/…`, an `http(s)://` host is used as is.
/// `None` for any other scheme.
pub fn docker_api_args(docker_host: &str, api_path: &str) -> Option<Vec<String>> {
    let path = if api_path.starts_with('/') {
        api_path.to_string()
    } else {
        format!("/{api_path}")
    };
    if let Some(socket) = docker_host.strip_prefix("unix://") {
        return Some(vec![
            "--unix-socket".to_string(),
            socket.to_string(),
            format!("http://localhost{path}"),
        ]);
    }
    if let Some(addr) = docker_host.strip_prefix("tcp://") {
        return Some(vec![format!("http://{}{path}", addr.trim_end_matches('/'))]);
    }
    if docker_host.starts_with("http://") || docker_host.starts_with("https://") {
        return Some(vec![format!("{}{path}", docker_host.trim_end_matches('/'))]);
    }
    None
}

/// A `curl` line that asks the Docker Engine API for `api_path`, e.g.
/// `curl --unix-socket /var/run/docker.sock http://localhost/v1.41/containers/grafana/json`.
pub fn docker_curl(docker_host: &str, api_path: &str) -> Option<String> {
    let args = docker_api_args(docker_host, api_path)?;
    Some(join(std::iter::once("curl".to_string()).chain(args)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    /// Strings that break naive quoting.
    const HOSTILE: &[&str] = &[
        "",
        " ",
        "plain",
        "it's",
        "'",
        "''",
        "'\\''",
        "a'b'c",
        "\"double\"",
        "$(touch /tmp/medianest-gate-pwned)",
        "'$(touch /tmp/medianest-gate-pwned)'",
        "`id`",
        "${HOME}",
        "$HOME",
        "a;b && c || d | e & f",
        "back\\slash\\",
        "trailing\\",
        "new\nline\n",
        "tab\there",
        "* ? [a-z] {a,b} ~ ~root",
        "#comment",
        "!event !! !$",
        "unicode: ≥ 7 days · 🔒 \u{202e}rtl",
        "=x",
        "a=b",
        "%1",
        "-n",
        "--help",
        "http://127.0.0.1:9/'$(touch /tmp/x)'?a=1&b=2#frag",
        "\u{1b}]0;pwned\u{7}\u{1b}[2J",
    ];

    /// Runs `printf '%s\0' WORD…` through a real `sh` and splits what it printed.
    fn sh_argv(command_line: &str) -> Vec<String> {
        let out = Command::new("sh")
            .arg("-c")
            .arg(format!("printf '%s\\0' {command_line}"))
            .output()
            .expect("run sh");
        assert!(out.status.success(), "sh failed on {command_line}: {out:?}");
        let text = String::from_utf8(out.stdout).expect("utf-8 from printf");
        let mut args: Vec<String> = text.split('\0').map(str::to_string).collect();
        assert_eq!(args.pop().as_deref(), Some(""), "printf output ends with NUL");
        args
    }

    fn syntax_ok(command_line: &str) -> bool {
        Command::new("sh")
            .args(["-n", "-c", command_line])
            .status()
            .expect("run sh -n")
            .success()
    }

    #[test]
    fn every_hostile_string_round_trips_through_a_real_shell() {
        for s in HOSTILE {
            let q = quote(s);
            assert_eq!(sh_argv(&q), vec![s.to_string()], "quote({s:?}) = {q}");
            assert!(syntax_ok(&format!("curl {q}")), "sh -n rejects {q}");
        }
    }

    #[test]
    fn a_whole_argv_round_trips_as_separate_arguments() {
        let line = join(HOSTILE);
        assert!(syntax_ok(&line), "{line}");
        // As printf's arguments: each element arrives whole and in order.
        let got = sh_argv(&join(&HOSTILE[1..]));
        assert_eq!(got, HOSTILE[1..].iter().map(|s| s.to_string()).collect::<Vec<_>>());
    }

    #[test]
    fn nothing_in_a_quoted_argument_runs() {
        let dir = tempfile::tempdir().expect("temp dir");
        let marker = dir.path().join("pwned");
        let m = marker.display();
        let payloads = [
            format!("$(touch {m})"),
            format!("'$(touch {m})'"),
            format!("`touch {m}`"),
            format!("x; touch {m}"),
            format!("x' ; touch {m} ; '"),
            format!("x\ntouch {m}"),
            format!("x && touch {m}"),
            format!("\"$(touch {m})\""),
        ];
        for p in &payloads {
            let line = join(["printf", "%s\\n", p.as_str()]);
            let out = Command::new("sh").arg("-c").arg(&line).output().expect("run sh");
            assert!(out.status.success(), "{line}");
            assert_eq!(String::from_utf8_lossy(&out.stdout), format!("{p}\n"), "{line}");
            assert!(!marker.exists(), "{line} ran a command");
        }
    }

    #[test]
    fn a_wrapped_command_line_is_the_same_argv_to_a_real_shell() {
        let line = join(&HOSTILE[1..]);
        for width in [12, 30, 80] {
            let lines = wrap_command(&line, width);
            assert!(lines.len() > 1, "{width}: {lines:?}");
            for l in &lines[..lines.len() - 1] {
                assert!(l.ends_with(" \\"), "{l}");
            }
            // Indented continuation lines, as the table prints them.
            let pasted = lines.join("\n      ");
            let got = sh_argv(&pasted);
            assert_eq!(
                got,
                HOSTILE[1..].iter().map(|s| s.to_string()).collect::<Vec<_>>(),
                "{pasted}"
            );
        }
    }

    #[test]
    fn command_lines_break_only_between_words_and_never_inside_a_comment() {
        let cmd = "curl -sS -H \"Authorization: Bearer $METRICS_TOKEN\" 'http://h/a b' # see the logs for why";
        let lines = wrap_command(cmd, 24);
        assert_eq!(
            lines,
            [
                "curl -sS -H \\",
                "\"Authorization: Bearer $METRICS_TOKEN\" \\",
                "'http://h/a b' \\",
                "# see the logs for why",
            ]
        );
        assert_eq!(wrap_command("short one", 80), ["short one"]);
    }

    #[test]
    fn safe_arguments_stay_bare() {
        assert_eq!(
            quote("http://127.0.0.1:9090/api/v1/query"),
            "http://127.0.0.1:9090/api/v1/query"
        );
        assert_eq!(quote("--max-time"), "--max-time");
        assert_eq!(quote("query=up"), "query=up");
        assert_eq!(quote("it's"), "'it'\\''s'");
        assert_eq!(quote("'"), "\\'");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("http://h/x?a=1&b=2"), "'http://h/x?a=1&b=2'");
        assert_eq!(join(["a=b", "a=b"]), "'a=b' a=b");
        assert_eq!(join(["%1"]), "'%1'");
    }

    #[test]
    fn variables_expand_and_the_rest_stays_literal() {
        let bearer = Word::literal("Authorization: Bearer ").var("METRICS_TOKEN");
        let line = join_words(&["curl".into(), "-H".into(), bearer.clone()]);
        assert_eq!(line, "curl -H \"Authorization: Bearer $METRICS_TOKEN\"");

        let tenant = Word::literal("X-Scope-OrgID: ").var("LOKI_TENANT");
        let hostile = Word::literal("it's $(x) ").var("T").text("_and `y`!");
        let glued = Word::default().var("A").text("b");
        for (word, want) in [
            (bearer, "Authorization: Bearer s3cr'et $(x)"),
            (tenant, "X-Scope-OrgID: s3cr'et $(x)"),
            (hostile, "it's $(x) s3cr'et $(x)_and `y`!"),
            (glued, "s3cr'et $(x)b"),
        ] {
            let src = join_words(&[word]);
            // The expanded value must not be re-parsed: set it to something hostile.
            let out = Command::new("sh")
                .arg("-c")
                .arg(format!("printf '%s\\0' {src}"))
                .env("METRICS_TOKEN", "s3cr'et $(x)")
                .env("LOKI_TENANT", "s3cr'et $(x)")
                .env("T", "s3cr'et $(x)")
                .env("A", "s3cr'et $(x)")
                .output()
                .expect("run sh");
            assert_eq!(String::from_utf8_lossy(&out.stdout), format!("{want}\0"), "{src}");
        }
    }

    #[test]
    fn placeholders_become_variables_and_bad_names_stay_literal() {
        let w = |p: &str| join_words(&[Word::default().placeholder(p)]);
        assert_eq!(w("$METRICS_TOKEN"), "\"$METRICS_TOKEN\"");
        assert_eq!(w("${GRAFANA_TOKEN}"), "\"$GRAFANA_TOKEN\"");
        assert_eq!(w("$(id)"), "'$(id)'");
        assert_eq!(w("$1x"), "'$1x'");
        assert_eq!(join_words(&[Word::default().var("a b")]), "'$a b'");
        assert_eq!(join_words(&[Word::literal("x").var("N").text("y")]), "\"x${N}y\"");
    }

    #[test]
    fn docker_hosts_become_real_curl_targets() {
        assert_eq!(
            docker_curl("unix:///var/run/docker.sock", "/v1.41/containers/grafana/json").as_deref(),
            Some("curl --unix-socket /var/run/docker.sock http://localhost/v1.41/containers/grafana/json")
        );
        assert_eq!(
            docker_curl("unix:///run/user/1000/my docker.sock", "_ping").as_deref(),
            Some("curl --unix-socket '/run/user/1000/my docker.sock' http://localhost/_ping")
        );
        assert_eq!(
            docker_curl("tcp://127.0.0.1:2375", "/_ping").as_deref(),
            Some("curl http://127.0.0.1:2375/_ping")
        );
        assert_eq!(
            docker_curl("http://docker:2375/", "/_ping").as_deref(),
            Some("curl http://docker:2375/_ping")
        );
        assert_eq!(docker_curl("npipe:////./pipe/docker_engine", "/_ping"), None);
    }

    #[test]
    fn printed_commands_pass_sh_n() {
        for s in HOSTILE {
            let words = [
                Word::literal("curl"),
                Word::literal("-H"),
                Word::literal(s).var("TOKEN").text(s),
                Word::literal(s),
            ];
            let line = join_words(&words);
            assert!(syntax_ok(&line), "{line}");
        }
    }
}
