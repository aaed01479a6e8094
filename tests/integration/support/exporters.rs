//! The real exporters from Debian that a monitoring stack runs beside its
//! application (`prometheus-node-exporter`, `prometheus-pushgateway`), each
//! started by the tests on a free loopback port under the `daemon` wrapper,
//! never as the packages' system services.

use super::daemon::Daemon;

/// node_exporter with its default collectors, ready once `/metrics` answers
/// with its own build info (not another test's server on a reused port).
pub fn node_exporter() -> Daemon {
    Daemon::start(
        "prometheus-node-exporter",
        "prometheus-node-exporter",
        "/metrics",
        "node_exporter_build_info",
        |addr, _| vec![format!("--web.listen-address={addr}")],
    )
}

/// node_exporter with only the textfile collector, reading `*.prom` files
/// from its own temp dir (`Daemon::dir`).
pub fn node_exporter_textfile() -> Daemon {
    Daemon::start(
        "prometheus-node-exporter",
        "prometheus-node-exporter",
        "/metrics",
        "node_textfile_scrape_error",
        |addr, dir| {
            vec![
                format!("--web.listen-address={addr}"),
                "--collector.disable-defaults".to_string(),
                "--collector.textfile".to_string(),
                format!("--collector.textfile.directory={}", dir.display()),
            ]
        },
    )
}

/// The Pushgateway, without persistence.
pub fn pushgateway() -> Daemon {
    Daemon::start(
        "prometheus-pushgateway",
        "prometheus-pushgateway",
        "/-/ready",
        "",
        |addr, _| vec![format!("--web.listen-address={addr}")],
    )
}
