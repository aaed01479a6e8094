//! Property tests of the gate loader and `${VAR}` expansion, run in CI with
//! the unit tests: hostile text never panics; a generated valid gate loads;
//! one mutation of it is reported at the mutated token.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::{Env, LoadErrors, ensure_env, interpolate, load};
use crate::probe::KINDS;

const CASES: u32 = 256;

fn env(pairs: &[(&str, &str)]) -> Env {
    Env::fixed(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
}

/// Pieces of gate files, so random concatenations get past the YAML parser.
const FRAGMENTS: &[&str] = &[
    "schema_version: 1\n",
    "id: G\n",
    "name: n\n",
    "targets:\n",
    "  backend: \"${URL:-http://localhost:3000}\"\n",
    "  docker: unix:///var/run/docker.sock\n",
    "secrets:\n",
    "  tok: \"${TOKEN}\"\n",
    "requirements:\n",
    "  - id: r\n",
    "    name: r\n",
    "    weight: 1\n",
    "    weight: -1\n",
    "    checks:\n",
    "      - id: c\n",
    "        kind: http\n",
    "        kind: loki\n",
    "        kind: docker_network\n",
    "        target: backend\n",
    "        needs: [c]\n",
    "        containers: [a, b]\n",
    "        timeout: 5s\n",
    "        min_retention: 99999999999y\n",
    "      - { id: d, kind: promql, target: backend, query: up, op: \"<\", threshold: .nan }\n",
    "&a [*a, *a]\n",
    "*a\n",
    "!!binary aGk=\n",
    "? ",
    ": ",
    "- ",
    "{",
    "}",
    "[",
    "]",
    ",",
    "\"",
    "'",
    "${",
    "$$",
    "\n",
    "  ",
    "\t",
    "#",
    "é",
    "\u{feff}",
];

fn soup() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        prop::collection::vec(prop::sample::select(FRAGMENTS), 0..40).prop_map(|p| p.concat()),
    ]
}

/// Lines as YAML counts them: `\n`, `\r\n` and a lone `\r` end a line.
fn yaml_lines(text: &str) -> u64 {
    1 + text
        .replace("\r\n", "\n")
        .bytes()
        .filter(|b| matches!(b, b'\n' | b'\r'))
        .count() as u64
}

fn assert_located(text: &str, errors: &LoadErrors) -> Result<(), TestCaseError> {
    let lines = yaml_lines(text);
    prop_assert!(!errors.0.is_empty());
    for e in &errors.0 {
        prop_assert!(e.line <= lines, "line {} of {lines}: {e}", e.line);
        prop_assert!(e.line == 0 || e.column >= 1, "{e}");
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// A model of a valid gate, written one key per line so every token's line and
// column is known.

#[derive(Debug, Clone)]
struct Chk {
    id: String,
    kind: &'static str,
    weight: Option<u32>,
    needs_earlier: Option<prop::sample::Index>,
}

#[derive(Debug, Clone)]
struct Req {
    id: String,
    weight: u32,
    checks: Vec<Chk>,
}

#[derive(Debug, Clone, Copy)]
enum Mutation {
    DuplicateRequirementId,
    DuplicateCheckId,
    NegativeRequirementWeight,
    NegativeCheckWeight,
    UnknownKind,
    UnknownTarget,
}

fn gate_model() -> impl Strategy<Value = Vec<Req>> {
    let check = (
        "[a-z0-9_.-]{0,6}",
        prop::sample::select(KINDS),
        prop::option::of(0u32..10),
        prop::option::of(any::<prop::sample::Index>()),
    )
        .prop_map(|(id, kind, weight, needs_earlier)| Chk {
            id,
            kind,
            weight,
            needs_earlier,
        });
    let req = ("[a-z0-9_.-]{0,6}", 0u32..400, prop::collection::vec(check, 1..4))
        .prop_map(|(id, weight, checks)| Req { id, weight, checks });
    prop::collection::vec(req, 2..5).prop_map(|mut reqs| {
        for (i, r) in reqs.iter_mut().enumerate() {
            r.id = format!("r{i}{}", r.id);
            if i == 0 {
                r.weight = r.weight.max(1);
            }
            for (j, c) in r.checks.iter_mut().enumerate() {
                c.id = format!("c{i}-{j}{}", c.id);
            }
        }
        reqs
    })
}

/// The target each kind probes.
fn target_of(kind: &str) -> &'static str {
    match kind {
        "http" | "metrics_endpoint" => "backend",
        "grafana" => "grafana",
        "loki" => "loki",
        "docker_container" | "docker_network" => "docker",
        _ => "prometheus",
    }
}

/// The fields a kind cannot do without.
fn required_fields(kind: &str) -> &'static [(&'static str, &'static str)] {
    match kind {
        "http" => &[("path", "/health")],
        "metrics_endpoint" => &[("token", "tok"), ("expect_families", "[up_total]")],
        "prometheus_targets" => &[("job", "medianest-backend")],
        "promql" => &[("query", "'up{job=\"x\"}'"), ("op", "'<'"), ("threshold", "0.5")],
        "latency_slo" => &[("metric", "http_request_duration_seconds"), ("max", "600ms")],
        "prometheus_rules" => &[("rules", "[ApplicationDown]")],
        "grafana" => &[("min_dashboards", "1")],
        "loki" => &[("min_retention", "7d"), ("selector", "'{job=\"app\"}'")],
        "docker_container" => &[("container", "medianest-grafana")],
        "alertmanager" => &[],
        "alert_delivery" => &[("expect_receiver", "default")],
        _ => &[("containers", "[medianest-prometheus, medianest-backend]")],
    }
}

/// Where a key's value was written: 1-based line and column.
type Pos = (u64, u64);

/// Finds the mutated token in a written gate.
type Locate = Box<dyn Fn(&Written) -> Pos>;

#[derive(Default)]
struct Written {
    text: String,
    line: u64,
    req_id: Vec<Pos>,
    req_weight: Vec<Pos>,
    /// Per check in file order: id, kind, target, weight (if written).
    check_id: Vec<Pos>,
    check_kind: Vec<Pos>,
    check_target: Vec<Pos>,
    check_weight: Vec<Option<Pos>>,
}

impl Written {
    /// Writes `indent` + `key: value` as one line; returns where the value is.
    fn kv(&mut self, indent: &str, key: &str, value: &str) -> Pos {
        self.line += 1;
        let column = (indent.len() + key.len() + 2 + 1) as u64;
        self.text.push_str(&format!("{indent}{key}: {value}\n"));
        (self.line, column)
    }

    fn raw(&mut self, line: &str) {
        self.line += 1;
        self.text.push_str(line);
        self.text.push('\n');
    }
}

fn write_gate(reqs: &[Req]) -> Written {
    let mut w = Written::default();
    for l in [
        "schema_version: 1",
        "id: P",
        "name: property gate",
        "pass: { min_score: 85, required_must_pass: true }",
        "targets:",
        "  backend: \"${BACKEND_URL:-http://localhost:3000}\"",
        "  prometheus: http://localhost:9090",
        "  grafana: http://localhost:3002",
        "  loki: http://localhost:3100",
        "  docker: unix:///var/run/docker.sock",
        "secrets:",
        "  tok: \"${PROP_TOKEN:-abcdefgh}\"",
        "defaults: { timeout: 5s }",
        "requirements:",
    ] {
        w.raw(l);
    }
    let mut earlier: Vec<String> = Vec::new();
    for r in reqs {
        let id = w.kv("  - ", "id", &r.id);
        w.req_id.push(id);
        w.kv("    ", "name", &format!("requirement {}", r.id));
        let weight = w.kv("    ", "weight", &format!("{}", f64::from(r.weight) / 4.0));
        w.req_weight.push(weight);
        w.raw("    checks:");
        for c in &r.checks {
            let id = w.kv("      - ", "id", &c.id);
            w.check_id.push(id);
            let kind = w.kv("        ", "kind", c.kind);
            w.check_kind.push(kind);
            let target = w.kv("        ", "target", target_of(c.kind));
            w.check_target.push(target);
            let weight = c.weight.map(|cw| w.kv("        ", "weight", &cw.to_string()));
            w.check_weight.push(weight);
            for (k, v) in required_fields(c.kind) {
                w.kv("        ", k, v);
            }
            if let (Some(pick), false) = (c.needs_earlier, earlier.is_empty()) {
                let need = earlier[pick.index(earlier.len())].clone();
                w.kv("        ", "needs", &format!("[{need}]"));
            }
            earlier.push(c.id.clone());
        }
    }
    w
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    /// (c) Any text: a gate or located errors, never a panic.
    #[test]
    fn arbitrary_text_never_panics(text in soup()) {
        let e = env(&[("URL", "http://x"), ("TOKEN", "")]);
        match load("soup.yaml", &text, &e) {
            Ok(gate) => {
                let _ = ensure_env(&gate, &|_| true);
            }
            Err(errors) => assert_located(&text, &errors)?,
        }
    }

    /// (c) A generated valid gate loads, with every requirement and check
    /// as written, and needs no variable it does not have.
    #[test]
    fn generated_gate_loads(reqs in gate_model()) {
        let w = write_gate(&reqs);
        let gate = load("gen.yaml", &w.text, &env(&[]));
        let gate = match gate {
            Ok(g) => g,
            Err(e) => return Err(TestCaseError::fail(format!("{e}\n{}", w.text))),
        };
        prop_assert_eq!(gate.requirements.len(), reqs.len());
        for (got, want) in gate.requirements.iter().zip(&reqs) {
            prop_assert_eq!(&got.id, &want.id);
            prop_assert_eq!(got.weight, f64::from(want.weight) / 4.0);
            prop_assert_eq!(got.checks.len(), want.checks.len());
            for (gc, wc) in got.checks.iter().zip(&want.checks) {
                prop_assert_eq!(&gc.id, &wc.id);
                prop_assert_eq!(gc.spec.kind(), wc.kind);
                prop_assert_eq!(gc.weight, wc.weight.map_or(1.0, f64::from));
                prop_assert_eq!(gc.target.as_deref(), Some(target_of(wc.kind)));
            }
        }
        prop_assert!(ensure_env(&gate, &|_| true).is_ok());
    }

    /// (c) One mutation of a valid gate is an error at the mutated token.
    #[test]
    fn mutated_gate_is_rejected_at_the_mutation(
        mut reqs in gate_model(),
        mutation in prop::sample::select(vec![
            Mutation::DuplicateRequirementId,
            Mutation::DuplicateCheckId,
            Mutation::NegativeRequirementWeight,
            Mutation::NegativeCheckWeight,
            Mutation::UnknownKind,
            Mutation::UnknownTarget,
        ]),
        pick in any::<prop::sample::Index>(),
    ) {
        let n_checks: usize = reqs.iter().map(|r| r.checks.len()).sum();
        // (requirement, check) of every check in file order.
        let flat: Vec<(usize, usize)> =
            reqs.iter().enumerate().flat_map(|(i, r)| (0..r.checks.len()).map(move |j| (i, j))).collect();
        let (expect_at, fragment): (Locate, &str) = match mutation {
            Mutation::DuplicateRequirementId => {
                let k = 1 + pick.index(reqs.len() - 1);
                reqs[k].id = reqs[0].id.clone();
                (Box::new(move |w| w.req_id[k]), "duplicate requirement id")
            }
            Mutation::DuplicateCheckId => {
                let k = 1 + pick.index(n_checks - 1);
                let (i, j) = flat[k];
                reqs[i].checks[j].id = reqs[0].checks[0].id.clone();
                (Box::new(move |w| w.check_id[k]), "duplicate check id")
            }
            Mutation::NegativeRequirementWeight => {
                let k = pick.index(reqs.len());
                reqs[k].weight = 0;
                (Box::new(move |w| w.req_weight[k]), "weights must be zero or positive")
            }
            Mutation::NegativeCheckWeight => {
                let k = pick.index(n_checks);
                let (i, j) = flat[k];
                reqs[i].checks[j].weight = Some(0);
                (Box::new(move |w| w.check_weight[k].unwrap_or_default()), "weights must be zero or positive")
            }
            Mutation::UnknownKind | Mutation::UnknownTarget => {
                let k = pick.index(n_checks);
                if matches!(mutation, Mutation::UnknownKind) {
                    (Box::new(move |w| w.check_kind[k]), "unknown check kind")
                } else {
                    (Box::new(move |w| w.check_target[k]), "unknown target")
                }
            }
        };
        let w = write_gate(&reqs);
        let (line, column) = expect_at(&w);
        // Apply the token-level mutations to the written text.
        let lines: Vec<String> = w
            .text
            .lines()
            .enumerate()
            .map(|(i, l)| {
                if i as u64 + 1 != line {
                    return l.to_string();
                }
                let (head, value) = l.split_at(column as usize - 1);
                match mutation {
                    Mutation::NegativeRequirementWeight => format!("{head}-2.5"),
                    Mutation::NegativeCheckWeight => format!("{head}-3"),
                    Mutation::UnknownKind => format!("{head}{value}_v2"),
                    Mutation::UnknownTarget => format!("{head}nowhere"),
                    _ => l.to_string(),
                }
            })
            .collect();
        let text = lines.join("\n") + "\n";
        match load("gen.yaml", &text, &env(&[])) {
            Ok(_) => prop_assert!(false, "{mutation:?} accepted:\n{text}"),
            Err(errors) => {
                assert_located(&text, &errors)?;
                prop_assert!(
                    errors.0.iter().any(|e| e.line == line && e.column == column && e.message.contains(fragment)),
                    "{mutation:?}: expected `{fragment}` at {line}:{column}, got:\n{errors}\n{text}"
                );
            }
        }
    }

    /// (d) `${X:-d}` with X unset (or empty) is `d`, whatever `d` holds
    /// (balanced braces included).
    #[test]
    fn default_applies_when_unset(
        name in "[A-Za-z_][A-Za-z0-9_]{0,8}",
        default in "[^{}]{0,12}",
        braced in any::<bool>(),
        empty in any::<bool>(),
    ) {
        let default = if braced { format!("{{job=\"{default}\"}}") } else { default };
        let vars = if empty { env(&[(name.as_str(), "")]) } else { env(&[]) };
        let expanded = interpolate(&format!("${{{name}:-{default}}}"), &vars);
        prop_assert_eq!(expanded.map(|e| (e.value, e.missing)), Ok((default, Vec::new())));
    }

    /// (d) Writing every `$` as `$$` gives back the text unchanged, with no
    /// variable referenced.
    #[test]
    fn escaped_dollars_round_trip(text in "[a-z${}:\\- é]{0,24}") {
        let escaped = text.replace('$', "$$");
        let expanded = interpolate(&escaped, &env(&[("a", "x")]));
        prop_assert_eq!(expanded.map(|e| (e.value, e.vars)), Ok((text, Vec::new())));
    }

    /// (d) Never a panic; an error's offset points at the `$` of the
    /// reference it complains about; set variables are substituted.
    #[test]
    fn interpolate_never_panics(text in prop_oneof![any::<String>(), "[a-zA-Z_${}:\\-]{0,32}"]) {
        let vars: BTreeMap<String, String> = [("a", "1"), ("A", "")].iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        match interpolate(&text, &Env::fixed(vars)) {
            Ok(e) => prop_assert!(e.missing.iter().all(|m| e.vars.contains(m))),
            Err(e) => {
                prop_assert_eq!(text.as_bytes().get(e.offset), Some(&b'$'), "{:?}", e);
                prop_assert_eq!(text.as_bytes().get(e.offset + 1), Some(&b'{'), "{:?}", e);
            }
        }
    }
}
