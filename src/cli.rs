//! The command line: every subcommand and flag, with doc comments as help.
//! Raw flags are validated into typed values here, so commands never see an
//! unparsed `NAME=URL` or duration.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::report::Format;

const EXIT_CODES: &str = "\
Exit codes:
  0  gate passed (validate, lint-metrics: the input is valid)
  1  gate blocked: score below threshold or a required requirement failed
     (lint-metrics: the exposition is invalid; diff: a regression)
  2  usage error or invalid gate file: nothing was probed
     (also an unreadable input file, --report path, --ca-cert or --target)
  3  internal error: the run could not produce a verdict
  4  verdict reached, but a --report artifact (or the $GITHUB_STEP_SUMMARY
     append) could not be written (the others were; stderr names it and the verdict)
  141  stdout was closed early (`| head`); nothing more is printed";

/// Decides whether a staging environment may go live: probes the
/// observability stack and scores a readiness gate.
#[derive(Debug, Parser)]
#[command(name = "medianest-gate", version, after_help = EXIT_CODES, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// When to use colours (`NO_COLOR` also turns them off).
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, global = true)]
    pub color: ColorChoice,

    /// Print only errors on stderr.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Log each check as it finishes on stderr (repeat for more).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

/// What `check --help` adds: the variables the built-in Gate G reads.
const GATE_G_ENV: &str = "\
Environment read by the built-in Gate G (default in brackets):
  MEDIANEST_BACKEND_URL [http://localhost:3000]   METRICS_TOKEN (required)
  PROMETHEUS_URL [http://localhost:9090]          BACKEND_JOB [medianest-backend]
  GRAFANA_URL [http://localhost:3002]             GRAFANA_TOKEN, or GRAFANA_USER/GRAFANA_PASSWORD
  GRAFANA_CONTAINER [medianest-grafana]           LOKI_URL [http://localhost:3100]
  LOKI_TENANT (sent as X-Scope-OrgID)             APP_LOG_SELECTOR [{job=\"medianest-app\"}]
  DOCKER_HOST [unix:///var/run/docker.sock]       TRACING_URL [http://localhost:16686]
  BACKEND_SERVICE [medianest-backend]             BACKEND_CONTAINER [medianest-backend]
  PROMETHEUS_CONTAINER [medianest-prometheus]     ALERTMANAGER_URL [http://localhost:9093]
  ALERT_RECEIVER [web.hook] (with --synthetic)
  GRAFANA_DASHBOARDS (comma-separated titles or uids whose panels must show data; empty = all)
`medianest-gate list` shows each variable's current value (secrets only as set / not set).";

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a gate against the stack (default: the built-in Gate G).
    // Boxed: its many flags would make every `Command` as large as it.
    #[command(after_help = format!("{EXIT_CODES}\n\n{GATE_G_ENV}"))]
    Check(Box<CheckArgs>),
    /// Lint gate files without probing anything.
    Validate(ValidateArgs),
    /// Show a gate's requirements, checks and weights, and the variables it
    /// reads with their current values (secrets only as `***` or not set).
    List(GateArgs),
    /// Print the JSON Schema of the gate file or the JSON report.
    Schema(SchemaArgs),
    /// Compare two JSON reports of one gate: regressions (a check that
    /// passed and no longer does, or a new check that does not pass), fixes
    /// and the score delta.
    Diff(DiffArgs),
    /// Validate a metrics exposition like `promtool check metrics`.
    LintMetrics(LintMetricsArgs),
    /// Show the runs recorded with `check --history`: scores, the trend,
    /// how long each failure has lasted, when each regression appeared.
    History(HistoryArgs),
    /// Run the built-in Gate G against a simulated MediaNest stack started
    /// in-process on 127.0.0.1: a first run that needs nothing else.
    // Boxed for the same reason as `Check`: it carries every flag of check.
    #[command(after_help = EXIT_CODES)]
    Demo(Box<DemoArgs>),
    /// Print a shell completion script.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), generated from this same command line.
    Man(ManArgs),
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Print the page of one subcommand (`medianest-gate-check(1)`) instead
    /// of the main page.
    #[arg(value_name = "COMMAND")]
    pub command: Option<String>,

    /// Write every page (`medianest-gate.1` and one per subcommand) into DIR
    /// instead of printing one, e.g. for `/usr/local/share/man/man1`.
    #[arg(long, value_name = "DIR", conflicts_with = "command")]
    pub out_dir: Option<PathBuf>,
}

#[derive(Debug, Args, Clone)]
pub struct GateArgs {
    /// Gate file to use instead of the built-in Gate G.
    #[arg(long, value_name = "FILE")]
    pub gate: Option<PathBuf>,

    /// Gate file, as a positional argument (the same as `--gate FILE`).
    #[arg(value_name = "FILE", conflicts_with = "gate")]
    pub file: Option<PathBuf>,

    /// Set a variable for `${VAR}` expansion (beats the environment).
    #[arg(long = "var", value_name = "KEY=VALUE", value_parser = parse_pair)]
    pub vars: Vec<(String, String)>,
}

impl GateArgs {
    /// The gate file named by `--gate` or positionally; `None` is the built-in Gate G.
    pub fn path(&self) -> Option<&PathBuf> {
        self.gate.as_ref().or(self.file.as_ref())
    }
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub gate: GateArgs,

    /// Override a gate target's URL.
    #[arg(long = "target", value_name = "NAME=URL", value_parser = parse_pair)]
    pub targets: Vec<(String, String)>,

    /// Format written to stdout.
    #[arg(long, value_enum, ignore_case = true, default_value_t = Format::Table)]
    pub format: Format,

    /// Also write the report in FORMAT (any `--format`) to PATH (repeatable).
    #[arg(long = "report", value_name = "FORMAT=PATH", value_parser = parse_report)]
    pub reports: Vec<(Format, PathBuf)>,

    /// Run only these requirements or checks (repeatable, by id).
    #[arg(long, value_name = "ID")]
    pub only: Vec<String>,

    /// Skip these requirements or checks (repeatable, by id).
    #[arg(long, value_name = "ID")]
    pub skip: Vec<String>,

    /// Per-check timeout [default: the gate's `defaults.timeout`, else 5s].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<Duration>,

    /// How many checks, and requests, may run at once (1: strictly one
    /// request after another, like a curl script).
    #[arg(long, value_name = "N", default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub concurrency: u32,

    /// Re-run the gate until it passes or this much time has passed; each
    /// attempt's failing checks are named on stderr (`-q` silences them).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub wait: Option<Duration>,

    /// Pause between `--wait` attempts.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "5s")]
    pub interval: Duration,

    /// Override the gate's pass threshold (0–100).
    #[arg(long, value_name = "PCT", value_parser = parse_pct)]
    pub min_score: Option<f64>,

    /// Let a partial run pass: by default a run that skipped a required
    /// requirement or any of its checks (`--skip`, `--only`) does not pass,
    /// and every format says `partial` either way.
    #[arg(long)]
    pub allow_partial: bool,

    /// Allow checks that write into the stack (a test alert, traffic, log
    /// lines); without it they are skipped with "needs --synthetic".
    #[arg(long)]
    pub synthetic: bool,

    /// Trust this CA (PEM) in addition to the system roots.
    #[arg(long, value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,

    /// Do not verify TLS certificates (the report says so).
    #[arg(long)]
    pub insecure: bool,

    /// Never show the progress spinner.
    #[arg(long)]
    pub no_progress: bool,

    /// Append the Markdown report to this file; GitHub Actions sets the
    /// variable to the job summary's file (empty: no summary).
    #[arg(long, value_name = "FILE", env = "GITHUB_STEP_SUMMARY", hide_env_values = true, value_parser = parse_optional_path)]
    pub step_summary: Option<PathBuf>,

    /// Do not append to `$GITHUB_STEP_SUMMARY` (or `--step-summary`).
    #[arg(long)]
    pub no_step_summary: bool,

    /// Append one JSON line for this run (time, score, verdict, requirement
    /// statuses, root causes) to FILE; `medianest-gate history FILE` reads it.
    #[arg(long, value_name = "FILE")]
    pub history: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// The file `check --history FILE` appends to.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,

    /// `text` for people, `json` for machines.
    #[arg(long, value_enum, default_value_t = HistoryFormat::Text)]
    pub format: HistoryFormat,

    /// The gate whose runs to show, when the file holds several
    /// [default: the gate of the latest run].
    #[arg(long, value_name = "ID")]
    pub gate: Option<String>,

    /// How many of the latest runs to list (the trend and streaks use all).
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub last: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum HistoryFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// What the simulated stack gets wrong [default: seed-day, the seed's
    /// 2025-09-12: backend down, Grafana in a restart loop]; see `--list`.
    #[arg(value_name = "SCENARIO")]
    pub scenario: Option<String>,

    /// Name every scenario with a line on what it breaks, and exit.
    #[arg(long, conflicts_with = "scenario")]
    pub list: bool,

    // Every flag of `check` applies; the stack's endpoints and tokens come first as `--var`s.
    #[command(flatten)]
    pub check: CheckArgs,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Gate files to lint [default: the built-in Gate G].
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,

    /// A gate file to lint (repeatable; the same as a positional FILE).
    #[arg(long = "gate", value_name = "FILE")]
    pub gates: Vec<PathBuf>,

    /// Set a variable for `${VAR}` expansion.
    #[arg(long = "var", value_name = "KEY=VALUE", value_parser = parse_pair)]
    pub vars: Vec<(String, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SchemaKind {
    /// The gate file format.
    Gate,
    /// The JSON report.
    Report,
}

#[derive(Debug, Args)]
pub struct SchemaArgs {
    #[arg(value_enum)]
    pub kind: SchemaKind,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The earlier JSON report.
    pub before: PathBuf,
    /// The later JSON report.
    pub after: PathBuf,
    /// Output as JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
#[command(after_help = "\
Exit codes (lint-metrics):
  0  the exposition parses; findings (no HELP, inconsistent histograms, ...) are warnings
  1  it does not parse (for the text format exactly where `promtool check metrics`
     finds a parse error), or it has findings and --strict is given
  2  the input cannot be read, or is larger than --max-bytes or has a line over 16 MiB")]
pub struct LintMetricsArgs {
    /// Exposition file, or `-` for stdin.
    #[arg(default_value = "-")]
    pub file: PathBuf,
    /// Apply the OpenMetrics 1.0 rules (also implied by a final `# EOF`).
    #[arg(long)]
    pub openmetrics: bool,
    /// Exit 1 on findings too (missing HELP, inconsistent histograms, …),
    /// not only where the exposition does not parse.
    #[arg(long)]
    pub strict: bool,
    /// Refuse an input larger than this many bytes (exit 2); it is read as
    /// a stream, so this bounds time, not memory.
    #[arg(long, value_name = "BYTES", default_value_t = 1 << 30)]
    pub max_bytes: u64,
}

fn parse_pair(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(format!("expected KEY=VALUE, got `{s}`")),
    }
}

fn parse_report(s: &str) -> Result<(Format, PathBuf), String> {
    let (f, p) = s
        .split_once('=')
        .ok_or_else(|| format!("expected FORMAT=PATH (e.g. json=report.json), got `{s}`"))?;
    let format = Format::parse(f).ok_or_else(|| format!("unknown report format `{f}`: use {}", Format::names()))?;
    if p.is_empty() {
        return Err("the report path is empty".to_string());
    }
    Ok((format, PathBuf::from(p)))
}

/// A path that may be empty: `GITHUB_STEP_SUMMARY=` means no summary, not
/// a usage error (clap's `PathBuf` parser refuses empty values).
fn parse_optional_path(s: &str) -> Result<PathBuf, String> {
    Ok(PathBuf::from(s))
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let d =
        humantime::parse_duration(s).map_err(|e| format!("`{s}` is not a duration ({e}); write e.g. 5s, 750ms, 2m"))?;
    if d.is_zero() {
        return Err("the duration must be greater than zero".to_string());
    }
    // Larger values are typos, and adding them to an instant would overflow.
    if d > crate::gate::fields::MAX_DURATION {
        return Err(format!("`{s}` is longer than the maximum of 7 days"));
    }
    Ok(d)
}

fn parse_pct(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .trim_end_matches('%')
        .parse()
        .map_err(|_| format!("`{s}` is not a number"))?;
    if (0.0..=100.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("{v} is outside 0–100"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn pairs_and_reports_parse() {
        assert_eq!(
            parse_pair("backend=http://x:1").unwrap(),
            ("backend".into(), "http://x:1".into())
        );
        assert_eq!(parse_pair("a=b=c").unwrap(), ("a".into(), "b=c".into()));
        assert!(parse_pair("novalue").is_err());
        assert!(parse_pair("=x").is_err());
        assert_eq!(parse_report("md=out.md").unwrap().0, Format::Markdown);
        assert_eq!(parse_report("prometheus=gate.prom").unwrap().0, Format::Prometheus);
        assert!(parse_report("pdf=x").unwrap_err().contains("prometheus"));
        assert!(parse_report("pdf=x").is_err());
        assert_eq!(parse_report("github=a.txt").unwrap().0, Format::Github);
        assert_eq!(parse_report("codequality=gl.json").unwrap().0, Format::Codequality);
        assert_eq!(parse_report("html=gate.html").unwrap().0, Format::Html);
        let err = parse_report("pdf=x").unwrap_err();
        assert!(err.contains("github") && err.contains("codequality"), "{err}");
        assert!(err.contains("html"), "{err}");
        assert!(parse_report("json=").is_err());
    }

    /// Every name and alias of every format, so a variant added later is
    /// covered without touching this test.
    fn every_format_spelling() -> Vec<(Format, String)> {
        Format::value_variants()
            .iter()
            .flat_map(|f| {
                let v = f.to_possible_value().expect("formats are not hidden");
                v.get_name_and_aliases()
                    .flat_map(|n| [n.to_string(), n.to_ascii_uppercase()])
                    .map(|n| (*f, n))
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    #[test]
    fn format_and_report_accept_the_same_names() {
        let spellings = every_format_spelling();
        assert!(spellings.iter().any(|(f, n)| *f == Format::Markdown && n == "md"));
        for (format, name) in spellings {
            let cli = Cli::try_parse_from(["medianest-gate", "check", "--format", &name])
                .unwrap_or_else(|e| panic!("--format {name} is refused: {e}"));
            let Command::Check(args) = cli.command else {
                panic!("not a check")
            };
            assert_eq!(args.format, format, "--format {name}");
            assert_eq!(
                parse_report(&format!("{name}=out")).unwrap().0,
                format,
                "--report {name}="
            );
        }
        assert!(Cli::try_parse_from(["medianest-gate", "check", "--format", "pdf"]).is_err());
        let refused = parse_report("pdf=x").unwrap_err();
        assert!(refused.contains(&Format::names()), "{refused}");
    }

    #[test]
    fn check_and_list_take_the_gate_positionally_or_by_flag() {
        for sub in ["check", "list"] {
            let path = |args: &[&str]| {
                let cli = Cli::try_parse_from([&["medianest-gate", sub][..], args].concat()).unwrap();
                match cli.command {
                    Command::Check(a) => a.gate.path().cloned(),
                    Command::List(a) => a.path().cloned(),
                    _ => unreachable!(),
                }
            };
            assert_eq!(path(&["g.yaml"]), Some(PathBuf::from("g.yaml")));
            assert_eq!(path(&["--gate", "g.yaml"]), Some(PathBuf::from("g.yaml")));
            assert_eq!(path(&[]), None);
            assert!(Cli::try_parse_from(["medianest-gate", sub, "a.yaml", "--gate", "b.yaml"]).is_err());
        }
    }

    #[test]
    fn durations_and_percentages_are_checked() {
        assert_eq!(parse_duration("750ms").unwrap(), Duration::from_millis(750));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("fast").is_err());
        assert_eq!(parse_pct("85%").unwrap(), 85.0);
        assert!(parse_pct("101").is_err());
    }
}
