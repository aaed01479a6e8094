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
    rejects_at(
        &text,
        5,
        1,
        "unknown field `colour`",
        Some("the top level of a gate file takes: `schema_version`, `id`, `name`"),
    );
    let text = with_header(
        BASE,
        &ONE_REQ.replace("    weight: 1\n", "    weight: 1\n    weight: 2\n"),
    );
    rejects_at(&text, 9, 5, "duplicate key `weight`", Some("merge"));
}

/// Every message of the YAML layer, in our words: the field, the type it
/// wants with an example, what was found; never a Rust type or serde's words.
#[test]
fn type_errors_name_the_field_the_type_and_what_was_found() {
    let cases: &[(&str, u64, u64, &str)] = &[
        (
            "    weight: 1\n=>    weight: \"lots\"\n",
            8,
            13,
            "`weight` must be a number (e.g. 25), found the string \"lots\"",
        ),
        (
            "    weight: 1\n=>    weight: 1\n    required: yes\n",
            9,
            15,
            "`required` must be `true` or `false` (e.g. true), found the string \"yes\"",
        ),
        (
            "    weight: 1\n=>    weight: 1\n    severity: hgh\n",
            9,
            15,
            "`severity` must be one of `critical`, `high`, `medium`, `low` (e.g. high), found the string \"hgh\"",
        ),
        (
            "target: t}=>target: t, needs: c2}",
            10,
            47,
            "`needs` must be a list of check ids (e.g. [metrics-auth]), found the string \"c2\"",
        ),
        (
            "target: t}=>target: t, weight: [1]}",
            10,
            48,
            "`weight` must be a number (e.g. 1), found a list",
        ),
        (
            "target: t}=>target: t, needs: [{a: b}]}",
            10,
            48,
            "item 1 of `needs` must be a check id, found a mapping",
        ),
    ];
    for (edit, line, column, message) in cases {
        let (from, to) = edit.split_once("=>").unwrap();
        let text = with_header(BASE, &ONE_REQ.replace(from, to));
        rejects_at(&text, *line, *column, message, None);
    }
    let header = BASE.replace("schema_version: 1", "schema_version: one");
    rejects_at(
        &with_header(&header, ONE_REQ),
        1,
        17,
        "`schema_version` must be a whole number (e.g. 1), found the string \"one\"",
        None,
    );
    let header = BASE.replace("targets: {t: \"http://127.0.0.1:1\"}", "targets: {t: [a]}");
    rejects_at(
        &with_header(&header, ONE_REQ),
        4,
        14,
        "target `t` must be a URL string (e.g. \"http://localhost:3000\"), found a list",
        None,
    );
}

#[test]
fn unknown_fields_of_every_block_suggest_the_nearest_and_list_the_block() {
    let text = with_header(BASE, &ONE_REQ.replace("    weight: 1\n", "    wieght: 1\n"));
    rejects_at(
        &text,
        8,
        5,
        "unknown field `wieght`",
        Some(
            "did you mean `weight`? requirements take: `id`, `name`, `description`, `weight`, `severity`, `required`, `checks`",
        ),
    );
    let text = with_header(&format!("{BASE}pass: {{min_scor: 90}}\n"), ONE_REQ);
    rejects_at(
        &text,
        5,
        8,
        "unknown field `min_scor`",
        Some("did you mean `min_score`? `pass` takes: `min_score`, `required_must_pass`"),
    );
    let text = with_header(
        BASE,
        &ONE_REQ.replace("target: t}", "target: t, waiver: {reason: r, expire: 2026-01-01}}"),
    );
    rejects_at(
        &text,
        10,
        60,
        "unknown field `expire`",
        Some("did you mean `expires`? a `waiver` takes: `reason`, `expires`"),
    );
}

#[test]
fn missing_fields_name_their_block() {
    let text = with_header(BASE, &ONE_REQ.replace("    weight: 1\n", ""));
    rejects_at(&text, 8, 5, "requirement `r` needs `weight`", Some("add `weight: 25`"));
    let text = with_header(BASE, &ONE_REQ.replace("target: t}", "target: t, waiver: {reason: r}}"));
    rejects_at(
        &text,
        10,
        49,
        "the waiver needs `expires`",
        Some("add `expires: 2026-12-31`"),
    );
}

#[test]
fn empty_and_comment_only_files_say_so() {
    for (text, what) in [
        ("", "there is nothing to check"),
        ("# a gate\n\n  # soon\n", "it holds only comments"),
    ] {
        rejects_at(
            text,
            1,
            1,
            &format!("the gate file is empty: {what}"),
            Some("schema_version: 1"),
        );
    }
}

#[test]
fn budget_errors_say_the_file_is_too_large() {
    let mut text = String::from("schema_version: 1\nid: T\nname: t\ntargets:\n");
    for i in 0..130_000 {
        text.push_str(&format!("  t{i}: x\n"));
    }
    let errors = try_load(&text).unwrap_err();
    assert_eq!(errors.len(), 1);
    assert_eq!(
        errors[0].message,
        "the gate file is too large: more than 250000 YAML nodes"
    );
}

#[test]
fn no_message_speaks_rust_or_serde() {
    let bad = [
        "schema_version: 1\nid: T\nname: ~\nrequirements: []\n",
        "schema_version: -1\nid: T\nname: t\nrequirements: []\n",
        "schema_version: 1\nid: T\nname: t\npass: {min_score: x}\nrequirements: []\n",
        "schema_version: 1\nid: T\nname: t\nwarm_up: {target: t, paths: /x, requests: -3}\nrequirements: []\n",
        "- a\n- b\n",
        "schema_version: 1\nid: T\nname: [unclosed\n",
        "a: *nowhere\n",
    ];
    let internals = [
        "Option<",
        "u16",
        "u32",
        "u64",
        "i64",
        "f64",
        "Raw",
        "struct",
        "serde",
        "at line",
        "invalid type",
    ];
    for text in bad {
        let errors = try_load(text).unwrap_err();
        for e in &errors {
            let all = format!("{}{}", e.message, e.hint.as_deref().unwrap_or_default());
            assert!(
                internals.iter().all(|w| !all.contains(w)),
                "internal words in {all:?} for {text:?}"
            );
            assert!(e.line > 0 && e.column > 0, "located: {e:?}");
        }
    }
}

#[test]
fn a_literal_secret_quoted_by_a_type_error_is_replaced_by_its_placeholder() {
    let header = format!("{BASE}secrets: {{api: \"hunter2-literal\"}}\n");
    let text = with_header(
        &header,
        &ONE_REQ.replace("    weight: 1\n", "    weight: hunter2-literal\n"),
    );
    rejects_at(
        &text,
        9,
        13,
        "`weight` must be a number (e.g. 25), found the string \"$API\"",
        None,
    );
}

#[test]
fn a_syntax_error_behind_a_missing_field_is_the_one_reported() {
    let text = "schema_version: 1\nid: T\nname: t\nrequirements:\n  - id: a\n   name: b\n";
    rejects_at(text, 6, 4, "invalid YAML: ", Some("indentation"));
    let text = "schema_version: 1\n---\nid: T\n";
    rejects_at(
        text,
        3,
        1,
        "the gate file holds more than one YAML document",
        Some("`---`"),
    );
}

/// The loader's tables of fixed fields follow the raw types: a field added
/// to one without the other makes its block unrecognisable here.
#[test]
fn every_fixed_block_is_recognised_by_its_fields() {
    let check = "      - {id: c, kind: http, target: t";
    for (text, takes) in [
        (
            with_header(&format!("{BASE}zzz: 1\n"), ONE_REQ),
            "the top level of a gate file takes",
        ),
        (
            with_header(BASE, &ONE_REQ.replace("    weight: 1\n", "    weight: 1\n    zzz: 1\n")),
            "requirements take",
        ),
        (
            with_header(&format!("{BASE}pass: {{zzz: 1}}\n"), ONE_REQ),
            "`pass` takes",
        ),
        (
            with_header(&format!("{BASE}defaults: {{zzz: 1}}\n"), ONE_REQ),
            "`defaults` takes",
        ),
        (
            with_header(&format!("{BASE}warm_up: {{target: t, paths: [/], zzz: 1}}\n"), ONE_REQ),
            "`warm_up` takes",
        ),
        (
            with_header(
                BASE,
                &ONE_REQ.replace(
                    check,
                    &format!("{check}, waiver: {{reason: r, expires: 2030-01-01, zzz: 1}}"),
                ),
            ),
            "a `waiver` takes",
        ),
    ] {
        let errors = try_load(&text).unwrap_err();
        let hint = errors[0].hint.as_deref().unwrap_or_default();
        assert!(hint.starts_with(takes), "expected `{takes}`, got {hint:?}");
    }
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
