//! Integration tests: the real `medianest-gate` binary against fixture
//! servers on 127.0.0.1. One binary, one module per area.

mod support;

mod alerting;
mod check_backend;
mod ci_formats;
mod cli;
mod consistency;
mod dashboards;
mod demo;
mod distribution;
mod docker;
mod exit_codes;
mod fail_closed;
mod fixtures_selftest;
mod full_gate;
mod gate_errors;
mod grafana_scale;
mod hostile_servers;
mod html;
mod inert_text;
mod junit_readers;
mod lint_metrics;
mod monitoring_stack;
mod prometheus_harness;
mod prometheus_scale;
mod prometheus_textfile;
mod report_schema;
mod reports;
mod roundtrip;
mod secrets;
mod stack;
mod terminal_width;
mod tracing;
mod victoria;
mod wait_and_load;
mod warm_up;
