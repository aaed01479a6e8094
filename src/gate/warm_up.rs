//! Loads and validates the gate's `warm_up:` block: traffic the tool sends
//! to one of the gate's own targets before the checks (only with
//! `--synthetic`). Every bound is enforced here, at load time, so a gate
//! file cannot make the tool flood a stack.

use std::collections::BTreeMap;
use std::time::Duration;

use super::fields::Cx;
use super::model::{Gate, MissingVar, Settle, Target, WarmUp};
use super::raw::{RawWarmUp, Sp};
use super::{LoadError, LoadErrors};

/// At most this many requests in one warm-up.
pub const MAX_REQUESTS: u64 = 10_000;
/// At most this many in flight at once.
pub const MAX_CONCURRENCY: u64 = 64;
/// At most this many requests per second.
pub const MAX_RATE: f64 = 1_000.0;
/// At most this long of traffic (`requests / rate`).
pub const MAX_TRAFFIC: Duration = Duration::from_secs(120);
/// At most this many paths.
pub const MAX_PATHS: usize = 32;
/// At most this long per request.
pub const MAX_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

const DEFAULT_REQUESTS: u64 = 100;
const DEFAULT_CONCURRENCY: u64 = 4;
const DEFAULT_RATE: f64 = 50.0;
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

impl Cx<'_> {
    pub(super) fn warm_up(&mut self, raw: &Sp<RawWarmUp>, targets: &BTreeMap<String, Target>) -> Option<WarmUp> {
        let w = raw.get();
        let errors_before = self.errors.len();
        let mut missing: Vec<MissingVar> = Vec::new();

        let target = w.target.get().clone();
        match targets.get(&target) {
            None => {
                self.reference(
                    &target,
                    w.target.loc(),
                    targets.keys(),
                    "target",
                    "targets",
                    "`warm_up`",
                );
            }
            Some(t) if t.missing.is_empty() && !t.url.starts_with("http") => self.err(
                w.target.loc(),
                format!("`warm_up` target `{target}` is not an HTTP target"),
                Some("warm-up traffic goes to an http:// or https:// target, such as the backend".to_string()),
            ),
            Some(_) => {}
        }

        let mut paths = Vec::new();
        if w.paths.get().is_empty() {
            self.err(
                w.paths.loc(),
                "`warm_up.paths` is empty",
                Some("list at least one path, e.g. `[/health]`".to_string()),
            );
        }
        if w.paths.get().len() > MAX_PATHS {
            self.err(
                w.paths.loc(),
                format!(
                    "`warm_up.paths` lists {} paths; at most {MAX_PATHS}",
                    w.paths.get().len()
                ),
                None,
            );
        }
        for p in w.paths.get() {
            let (path, _, m) = self.expand(p.get(), p.loc());
            let unset = !m.is_empty();
            missing.extend(m);
            if !unset && !path.starts_with('/') || path.chars().any(char::is_whitespace) {
                self.err(
                    p.loc(),
                    format!("warm-up path `{path}` must start with `/` and contain no spaces"),
                    Some("write a path of the target, e.g. `/health`".to_string()),
                );
            }
            paths.push(path);
        }

        let requests = self.bounded_count(w.requests.as_ref(), DEFAULT_REQUESTS, MAX_REQUESTS, "requests");
        let concurrency = self.bounded_count(
            w.concurrency.as_ref(),
            DEFAULT_CONCURRENCY,
            MAX_CONCURRENCY,
            "concurrency",
        );
        let rate = match &w.rate {
            None => DEFAULT_RATE,
            Some(r) => {
                let v = *r.get();
                if !v.is_finite() || v <= 0.0 || v > MAX_RATE {
                    self.err(
                        r.loc(),
                        format!("`warm_up.rate` is {v}; it must be above 0 and at most {MAX_RATE} requests per second"),
                        None,
                    );
                    DEFAULT_RATE
                } else {
                    v
                }
            }
        };
        let traffic = Duration::from_secs_f64(requests as f64 / rate);
        if traffic > MAX_TRAFFIC {
            let loc = w.requests.as_ref().map(Sp::loc).unwrap_or(raw.loc());
            self.err(
                loc,
                format!(
                    "the warm-up would last {:.0} s ({requests} requests at {rate} per second); at most {} s",
                    traffic.as_secs_f64(),
                    MAX_TRAFFIC.as_secs()
                ),
                Some("send fewer requests or raise `rate`".to_string()),
            );
        }
        let timeout = match &w.timeout {
            None => DEFAULT_TIMEOUT,
            Some(t) => match self.duration(t.get(), t.loc(), "`warm_up.timeout`") {
                Some(d) if d > MAX_REQUEST_TIMEOUT => {
                    self.err(
                        t.loc(),
                        format!("`warm_up.timeout` is longer than {} s", MAX_REQUEST_TIMEOUT.as_secs()),
                        None,
                    );
                    DEFAULT_TIMEOUT
                }
                Some(d) => d,
                None => DEFAULT_TIMEOUT,
            },
        };

        let settle = match (&w.prometheus, &w.job) {
            (None, None) => None,
            (Some(p), Some(j)) => {
                let prometheus = p.get().clone();
                self.reference(&prometheus, p.loc(), targets.keys(), "target", "targets", "`warm_up`");
                let (job, _, m) = self.expand(j.get(), j.loc());
                missing.extend(m);
                if job.is_empty() {
                    self.err(j.loc(), "`warm_up.job` is empty", None);
                }
                Some(Settle { prometheus, job })
            }
            (Some(p), None) => {
                self.err(
                    p.loc(),
                    "`warm_up.prometheus` needs `job`: the scrape job whose interval to wait",
                    Some("add e.g. `job: medianest-backend`".to_string()),
                );
                None
            }
            (None, Some(j)) => {
                self.err(
                    j.loc(),
                    "`warm_up.job` needs `prometheus`: the target to read its scrape interval from",
                    Some("add e.g. `prometheus: prometheus`".to_string()),
                );
                None
            }
        };

        (self.errors.len() == errors_before).then(|| WarmUp {
            target,
            paths,
            requests: requests as u32,
            concurrency: concurrency.min(requests) as u32,
            rate,
            timeout,
            settle,
            missing,
            loc: raw.loc(),
        })
    }

    fn bounded_count(&mut self, raw: Option<&Sp<u64>>, default: u64, max: u64, what: &str) -> u64 {
        match raw {
            None => default,
            Some(v) if (1..=max).contains(v.get()) => *v.get(),
            Some(v) => {
                self.err(
                    v.loc(),
                    format!("`warm_up.{what}` is {}; it must be 1 to {max}", v.get()),
                    None,
                );
                default
            }
        }
    }
}

/// Fails when the warm-up (sent only with `--synthetic`) needs an unset
/// variable, naming it and where it is referenced.
pub fn ensure_warm_up_env(gate: &Gate) -> Result<(), LoadErrors> {
    let Some(w) = &gate.warm_up else { return Ok(()) };
    let mut missing: Vec<&MissingVar> = w.missing.iter().collect();
    for name in std::iter::once(&w.target).chain(w.settle.as_ref().map(|s| &s.prometheus)) {
        if let Some(t) = gate.targets.get(name) {
            missing.extend(&t.missing);
        }
    }
    let errors: Vec<LoadError> = missing
        .into_iter()
        .map(|m| LoadError {
            file: gate.source.clone(),
            line: m.loc.line,
            column: m.loc.column,
            message: format!("environment variable `{}` is not set (needed by the warm-up)", m.var),
            hint: Some(format!(
                "export {}=…, pass `--var {}=…`, give it a default with `${{{}:-…}}`, or run without `--synthetic`",
                m.var, m.var, m.var
            )),
        })
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(LoadErrors(errors))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{loads, one_check, rejects_at};
    use super::*;

    /// A gate with one http check and this `warm_up:` body, whose first
    /// line is line [`BODY_LINE`], written at two spaces' indent.
    fn gate(body: &[&str]) -> String {
        let mut text = one_check("http", &[]);
        text.push_str("warm_up:\n");
        for line in body {
            text.push_str("  ");
            text.push_str(line);
            text.push('\n');
        }
        text
    }
    const BODY_LINE: u64 = 15;

    #[test]
    fn defaults_are_bounded_and_paths_kept_in_order() {
        let g = loads(&gate(&["target: t", "paths: [/health, /api/health]"]));
        let w = g.warm_up.expect("warm_up loaded");
        assert_eq!(w.target, "t");
        assert_eq!(w.paths, ["/health", "/api/health"]);
        assert_eq!((w.requests, w.concurrency, w.rate), (100, 4, 50.0));
        assert_eq!(w.timeout, Duration::from_secs(5));
        assert!(w.settle.is_none());
    }

    #[test]
    fn concurrency_never_exceeds_the_request_count() {
        let g = loads(&gate(&["target: t", "paths: [/]", "requests: 2", "concurrency: 8"]));
        assert_eq!(g.warm_up.map(|w| w.concurrency), Some(2));
    }

    #[test]
    fn an_unknown_target_is_named_with_a_suggestion() {
        rejects_at(
            &gate(&["target: tt", "paths: [/]"]),
            BODY_LINE,
            11,
            "unknown target `tt`",
            Some("did you mean `t`?"),
        );
    }

    #[test]
    fn the_docker_socket_is_no_warm_up_target() {
        rejects_at(
            &gate(&["target: d", "paths: [/]"]),
            BODY_LINE,
            11,
            "is not an HTTP target",
            None,
        );
    }

    #[test]
    fn bounds_are_enforced_where_they_are_written() {
        rejects_at(
            &gate(&["target: t", "paths: [/]", "requests: 20000"]),
            BODY_LINE + 2,
            13,
            "must be 1 to 10000",
            None,
        );
        rejects_at(
            &gate(&["target: t", "paths: [/]", "concurrency: 0"]),
            BODY_LINE + 2,
            16,
            "must be 1 to 64",
            None,
        );
        rejects_at(
            &gate(&["target: t", "paths: [/]", "rate: 5000"]),
            BODY_LINE + 2,
            9,
            "at most 1000 requests per second",
            None,
        );
        rejects_at(
            &gate(&["target: t", "paths: [/]", "rate: .nan"]),
            BODY_LINE + 2,
            9,
            "it must be above 0",
            None,
        );
        rejects_at(
            &gate(&["target: t", "paths: [/]", "timeout: 1m"]),
            BODY_LINE + 2,
            12,
            "longer than 30 s",
            None,
        );
        rejects_at(
            &gate(&["target: t", "paths: []"]),
            BODY_LINE + 1,
            10,
            "`warm_up.paths` is empty",
            None,
        );
        rejects_at(
            &gate(&["target: t", "paths: [health]"]),
            BODY_LINE + 1,
            11,
            "must start with `/`",
            None,
        );
    }

    #[test]
    fn traffic_longer_than_two_minutes_is_refused() {
        rejects_at(
            &gate(&["target: t", "paths: [/]", "requests: 10000", "rate: 10"]),
            BODY_LINE + 2,
            13,
            "would last 1000 s (10000 requests at 10 per second); at most 120 s",
            Some("send fewer requests"),
        );
    }

    #[test]
    fn settling_needs_both_prometheus_and_job() {
        let g = loads(&gate(&["target: t", "paths: [/]", "prometheus: t", "job: backend"]));
        let s = g.warm_up.and_then(|w| w.settle).expect("settle");
        assert_eq!((s.prometheus.as_str(), s.job.as_str()), ("t", "backend"));
        rejects_at(
            &gate(&["target: t", "paths: [/]", "prometheus: t"]),
            BODY_LINE + 2,
            15,
            "needs `job`",
            None,
        );
        rejects_at(
            &gate(&["target: t", "paths: [/]", "job: backend"]),
            BODY_LINE + 2,
            8,
            "needs `prometheus`",
            None,
        );
    }

    #[test]
    fn unknown_warm_up_fields_are_errors() {
        rejects_at(
            &gate(&["target: t", "paths: [/]", "rps: 5"]),
            BODY_LINE + 2,
            3,
            "unknown field `rps`",
            None,
        );
    }

    #[test]
    fn unset_variables_of_the_warm_up_are_reported_only_when_it_is_sent() {
        let g = loads(&gate(&["target: t", "paths: [\"${WARM_PATH}\"]"]));
        let e = ensure_warm_up_env(&g).expect_err("WARM_PATH is unset");
        assert_eq!((e.0[0].line, e.0[0].column), (BODY_LINE + 1, 11));
        assert!(
            e.0[0]
                .message
                .contains("`WARM_PATH` is not set (needed by the warm-up)"),
            "{}",
            e.0[0].message
        );
    }
}
