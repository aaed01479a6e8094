//! The generic loader's messages, each asserted with its location: the
//! header, requirements, common check fields, references and `needs`. Each
//! kind's own messages are tested in its module (`probe/<kind>.rs`).

use super::testing::*;

fn with_header(header: &str, requirements: &str) -> String {
    format!("{header}requirements:\n{requirements}")
}

const BASE: &str = "schema_version: 1\nid: T\nname: t\ntargets: {t: \"http://127.0.0.1:1\"}\n";
const ONE_REQ: &str = "  - id: r\n    name: r\n    weight: 1\n    checks:\n      - {id: c, kind: http, target: t}\n";

#[test]
fn schema_version_other_than_1() {
    let text = with_header(&BASE.replace("schema_version: 1", "schema_version: 2"), ONE_REQ);
    rejects_at(&text, 1, 17, "unsupported schema_version 2", Some("schema_version: 1"));
}

#[test]
fn no_requirements() {
    rejects_at(
        &format!("{BASE}requirements: []\n"),
        5,
        15,
        "the gate has no requirements",
        None,
    );
}

#[test]
fn requirement_without_checks() {
    let text = with_header(BASE, "  - id: r\n    name: r\n    weight: 1\n    checks: []\n");
    rejects_at(&text, 9, 13, "requirement `r` has no checks", None);
}

#[test]
fn invalid_ids() {
    let text = with_header(
        BASE,
        "  - id: r/1\n    name: r\n    weight: 1\n    checks:\n      - {id: \"c 1\", kind: http, target: t}\n",
    );
    rejects_at(&text, 6, 9, "invalid requirement id `r/1`", Some("letters, digits"));
    rejects_at(&text, 10, 14, "invalid check id `c 1`", None);
}

#[test]
fn duplicate_ids_and_collisions() {
    let reqs = "  - id: r\n    name: r\n    weight: 1\n    checks:\n      - {id: c, kind: http, target: t}\n      - {id: c, kind: http, target: t}\n  - id: r\n    name: again\n    weight: 1\n    checks:\n      - {id: x, kind: http, target: t}\n  - id: q\n    name: q\n    weight: 1\n    checks:\n      - {id: r, kind: http, target: t}\n";
    let text = with_header(BASE, reqs);
    rejects_at(&text, 11, 14, "duplicate check id `c` (first defined at line 10)", None);
    rejects_at(
        &text,
        12,
        9,
        "duplicate requirement id `r` (first defined at line 6)",
        None,
    );
    rejects_at(&text, 21, 14, "check id `r` is also a requirement id", None);
}

#[test]
fn weights_must_be_zero_or_positive_and_not_all_zero() {
    let text = with_header(BASE, &ONE_REQ.replace("weight: 1", "weight: -5"));
    rejects_at(&text, 8, 13, "requirement `r` has weight -5", Some("advisory"));
    let text = with_header(BASE, &ONE_REQ.replace("weight: 1", "weight: 0"));
    rejects_at(&text, 6, 3, "every requirement has weight 0", None);
    let text = with_header(BASE, &ONE_REQ.replace("target: t}", "target: t, weight: -1}"));
    rejects_at(&text, 10, 48, "check `c` has weight -1", None);
}

#[test]
fn min_score_outside_0_to_100() {
    let text = with_header(&format!("{BASE}pass: {{min_score: 140}}\n"), ONE_REQ);
    rejects_at(&text, 5, 19, "min_score 140 is outside 0–100", None);
}

#[test]
fn target_urls_must_be_absolute_with_a_known_scheme_and_are_never_echoed() {
    for (url, message) in [
        ("localhost:3000", "unsupported scheme `localhost`"),
        ("ftp://h/", "unsupported scheme `ftp`"),
        ("http://u:SECRET@[bad", "is not a valid absolute URL"),
        ("/just/a/path", "is not a valid absolute URL"),
    ] {
        let header = BASE.replace("\"http://127.0.0.1:1\"", &format!("\"{url}\""));
        let text = with_header(&header, ONE_REQ);
        rejects_at(&text, 4, 14, message, Some("absolute URL"));
        let errors = try_load(&text).err().unwrap_or_default();
        assert!(
            errors.iter().all(|e| !e.message.contains("SECRET")),
            "a URL's credentials are not echoed: {errors:?}"
        );
    }
}

#[test]
fn invalid_variable_reference_is_located() {
    let header = BASE.replace("\"http://127.0.0.1:1\"", "\"${URL\"");
    rejects_at(
        &with_header(&header, ONE_REQ),
        4,
        14,
        "invalid variable reference at character 1",
        None,
    );
}

#[test]
fn unknown_kind_suggests_the_nearest() {
    rejects_at(
        &one_check("promq", &[]),
        12,
        15,
        "unknown check kind `promq`",
        Some("did you mean `promql`?"),
    );
    rejects_at(
        &one_check("nonsense", &[]),
        12,
        15,
        "unknown check kind `nonsense`",
        Some("known kinds: http,"),
    );
}

#[test]
fn a_field_of_another_kind_names_its_kind_and_the_real_list() {
    field_rejected(
        "grafana",
        "min_retention: 30d",
        "`min_retention` is a `loki` field",
        Some("`grafana` checks take: `token`, `user`, `password`, `min_dashboards`, `dashboards`, `datasources`"),
    );
    field_rejected(
        "grafana",
        "job: api",
        "`job` is a field of `prometheus_targets`, `telemetry_roundtrip`",
        None,
    );
    field_rejected(
        "prometheus_targets",
        "expect_families: [x]",
        "`expect_families` is a `metrics_endpoint` field",
        None,
    );
    field_rejected(
        "latency_slo",
        "path: /x",
        "`path` is a field of `http`, `metrics_endpoint`",
        None,
    );
    field_rejected(
        "docker_network",
        "serves: t",
        "`serves` is a `docker_container` field",
        Some("`docker_network` checks take: `containers`"),
    );
}

#[test]
fn a_misspelt_field_suggests_the_nearest() {
    rejects_at(
        &one_check("prometheus_targets", &["job: api", "min_target: 2"]),
        FIELD_LINE + 1,
        9,
        "unknown field `min_target`",
        Some("did you mean `min_targets`?"),
    );
    rejects_at(
        &one_check("http", &["pathh: /x"]),
        FIELD_LINE,
        9,
        "unknown field `pathh`",
        Some("did you mean `path`?"),
    );
    // Near a field of another kind: suggested, though this kind cannot take it.
    rejects_at(
        &one_check("http", &["min_retentio: 7d"]),
        FIELD_LINE,
        9,
        "unknown field `min_retentio`",
        Some("did you mean `min_retention`?"),
    );
}

#[test]
fn a_check_needs_a_target() {
    let text = with_header(BASE, &ONE_REQ.replace(", target: t}", "}"));
    rejects_at(&text, 10, 14, "check `c` of kind `http` needs a `target`", None);
}

#[test]
fn references_to_unknown_targets_and_secrets() {
    let text = with_header(BASE, &ONE_REQ.replace("target: t}", "target: tt}"));
    rejects_at(
        &text,
        10,
        37,
        "check `c` names unknown target `tt`",
        Some("did you mean `t`?"),
    );
    field_rejected(
        "http",
        "token: nope",
        "check `c` names unknown secret `nope`",
        Some("use one of: s, u"),
    );
}

#[test]
fn timeouts_are_positive_bounded_durations() {
    let check = |t: &str| {
        with_header(
            BASE,
            &ONE_REQ.replace("target: t}", &format!("target: t, timeout: {t}}}")),
        )
    };
    rejects_at(&check("soon"), 10, 49, "invalid timeout `soon`", Some("`5s`"));
    rejects_at(&check("0s"), 10, 49, "timeout must be greater than zero", None);
    rejects_at(
        &check("18446744073709551615s"),
        10,
        49,
        "longer than the maximum of 7 days",
        None,
    );
    rejects_at(&check("30d"), 10, 49, "longer than the maximum of 7 days", None);
    let defaults = with_header(&format!("{BASE}defaults: {{timeout: 99999h}}\n"), ONE_REQ);
    rejects_at(&defaults, 5, 21, "longer than the maximum of 7 days", None);
}

#[test]
fn waivers_need_a_date_and_a_reason() {
    let text = one_check("http", &[]).replace(
        "        target: t\n",
        "        target: t\n        waiver: {reason: \"\", expires: soon}\n",
    );
    rejects_at(
        &text,
        FIELD_LINE,
        39,
        "waiver expiry `soon` is not a date",
        Some("YYYY-MM-DD"),
    );
    let text = one_check("http", &[]).replace(
        "        target: t\n",
        "        target: t\n        waiver: {reason: \"\", expires: 2026-01-01}\n",
    );
    rejects_at(&text, FIELD_LINE, 26, "a waiver needs a reason", None);
}

#[test]
fn needs_must_name_checks_without_cycles() {
    let reqs = "  - id: r\n    name: r\n    weight: 1\n    checks:\n      - {id: a, kind: http, target: t, needs: [b]}\n      - {id: b, kind: http, target: t, needs: [a]}\n      - {id: c, kind: http, target: t, needs: [ghost, c]}\n";
    let text = with_header(BASE, reqs);
    rejects_at(&text, 12, 14, "check `c` needs unknown check `ghost`", None);
    rejects_at(&text, 12, 14, "check `c` needs itself", None);
    rejects_at(&text, 10, 14, "`needs` cycle: a → b → a", None);
}

#[test]
fn unset_variables_are_reported_only_for_checks_that_run() {
    let header = BASE.replace("\"http://127.0.0.1:1\"", "\"${NOT_SET_ANYWHERE}\"");
    let gate = loads(&with_header(&header, ONE_REQ));
    let errors = super::ensure_env(&gate, &|_| true).unwrap_err().0;
    assert_eq!((errors[0].line, errors[0].column), (4, 14));
    assert!(
        errors[0]
            .message
            .contains("environment variable `NOT_SET_ANYWHERE` is not set (needed by check `c`)")
    );
    assert!(errors[0].hint.as_deref().unwrap_or_default().contains("--skip c"));
    assert!(super::ensure_env(&gate, &|_| false).is_ok());
}

#[test]
fn yaml_level_errors_are_located_with_hints() {
    let text = with_header(&format!("{BASE}colour: red\n"), ONE_REQ);
    rejects_at(&text, 5, 1, "unknown field `colour`", Some("schema gate"));
    let text = with_header(
        BASE,
        &ONE_REQ.replace("    weight: 1\n", "    weight: 1\n    weight: 2\n"),
    );
    rejects_at(&text, 9, 5, "duplicate mapping key", Some("merge"));
}

#[test]
fn variables_are_collected_with_defaults_secrecy_and_readers() {
    let g = loads(
        "schema_version: 1\nid: T\nname: t\n\
         targets: {t: \"${T_URL:-http://127.0.0.1:1}\"}\n\
         secrets: {tok: \"${TOKEN}\"}\n\
         requirements:\n  - id: r\n    name: r\n    weight: 1\n    checks:\n\
         \x20     - {id: a, kind: http, target: t, path: \"/${P:-health}\", token: tok}\n\
         \x20     - {id: b, kind: http, target: t, path: \"/${P}/x\"}\n",
    );
    let got: Vec<(&str, Option<&str>, bool, Vec<String>)> = g
        .variables
        .iter()
        .map(|v| {
            (
                v.name.as_str(),
                v.default.as_deref(),
                v.secret,
                v.used_by.iter().map(ToString::to_string).collect(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "P",
                Some("health"),
                false,
                vec!["check a".to_string(), "check b".to_string()]
            ),
            ("TOKEN", None, true, vec!["secret tok".to_string()]),
            ("T_URL", Some("http://127.0.0.1:1"), false, vec!["target t".to_string()]),
        ]
    );
}
