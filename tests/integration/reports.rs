//! Snapshots of every report format for two scenarios, with ports,
//! durations and timestamps filtered out.

use crate::support::backend::{Backend, Endpoint};
use crate::support::{check_backend, closed_port, normalize_table, output, snapshot_settings};

fn render(url: &str, format: &str) -> String {
    let (_, stdout, stderr) = output(check_backend(url).args(["--format", format, "--color", "never"]));
    assert!(!stdout.is_empty(), "no {format} output; stderr: {stderr}");
    if format == "table" {
        normalize_table(&stdout)
    } else {
        stdout
    }
}

/// `/metrics` open to anyone and `/api/health` answering 503.
fn mixed_backend() -> Backend {
    let backend = Backend::healthy();
    backend.set(|b| {
        b.token = None;
        b.health
            .insert("/api/health".into(), Endpoint::json(503, r#"{"status":"down"}"#));
    });
    backend
}

#[test]
fn backend_down_reports() {
    let url = format!("http://127.0.0.1:{}", closed_port());
    snapshot_settings().bind(|| {
        for format in ["table", "json", "markdown", "junit"] {
            insta::assert_snapshot!(format!("backend_down_{format}"), render(&url, format));
        }
    });
}

#[test]
fn mixed_failures_reports() {
    let backend = mixed_backend();
    snapshot_settings().bind(|| {
        for format in ["table", "json", "markdown", "junit"] {
            insta::assert_snapshot!(format!("mixed_{format}"), render(&backend.url, format));
        }
    });
}

#[test]
fn json_report_validates_against_its_schema_fields() {
    let backend = mixed_backend();
    let r: serde_json::Value = serde_json::from_str(&render(&backend.url, "json")).unwrap();
    for c in r["requirements"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|q| q["checks"].as_array().unwrap())
    {
        for f in [
            "id",
            "kind",
            "status",
            "duration_ms",
            "evidence",
            "message",
            "cause",
            "remediation",
            "reproduce",
        ] {
            assert!(c.get(f).is_some(), "check lacks {f}: {c}");
        }
    }
    for rc in r["root_causes"].as_array().unwrap() {
        for f in ["summary", "score_impact", "checks"] {
            assert!(rc.get(f).is_some(), "root cause lacks {f}");
        }
    }
    // Blockers lead with the security finding, then by severity.
    assert_eq!(r["blockers"][0]["severity"], "critical");
    assert_eq!(r["blockers"][1]["severity"], "medium");
}
