//! Host-name resolution for every probe, in pure Rust (hickory), never
//! through libc. The release binary links glibc statically, and a static
//! glibc cannot load the NSS modules `getaddrinfo` needs: it would fail to
//! resolve anything in a `FROM scratch` image and behave differently from the
//! host. Reading `/etc/hosts` and `/etc/resolv.conf` ourselves gives the same
//! answers everywhere the binary runs.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, OnceLock};

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{ResolveHosts, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;

/// A host name that did not resolve. [`crate::http::classify`] recognises
/// DNS failures by this type, never by message text.
#[derive(Debug, thiserror::Error)]
#[error("{host} does not resolve: {detail}")]
pub(crate) struct DnsError {
    pub host: String,
    pub detail: String,
}

/// The resolver one HTTP client uses. It is built on first use, inside the
/// runtime that does the lookups: hickory spawns its queries there.
#[derive(Default, Clone)]
pub(crate) struct Resolver {
    inner: Arc<OnceLock<Result<TokioResolver, String>>>,
}

impl Resolver {
    fn hickory(&self) -> Result<&TokioResolver, &str> {
        self.inner
            .get_or_init(|| {
                let mut builder = TokioResolver::builder_tokio().unwrap_or_else(|_| {
                    // No readable /etc/resolv.conf (a bare container): names
                    // in /etc/hosts still resolve, and anything else fails
                    // with a DNS error naming the host instead of reaching a
                    // public resolver the operator never chose.
                    TokioResolver::builder_with_config(
                        ResolverConfig::from_parts(None, Vec::new(), Vec::new()),
                        TokioRuntimeProvider::default(),
                    )
                });
                builder.options_mut().use_hosts_file = ResolveHosts::Always;
                builder
                    .build()
                    .map_err(|e| format!("the resolver could not start: {e}"))
            })
            .as_ref()
            .map_err(String::as_str)
    }

    pub async fn lookup(&self, host: &str) -> Result<Vec<SocketAddr>, DnsError> {
        if let Some(addrs) = loopback_name(host) {
            return Ok(addrs);
        }
        let fail = |detail: String| DnsError {
            host: host.to_string(),
            detail,
        };
        let resolver = self.hickory().map_err(|e| fail(e.to_string()))?;
        let answer = resolver.lookup_ip(host).await.map_err(|e| fail(e.to_string()))?;
        let addrs: Vec<SocketAddr> = answer.iter().map(|ip| SocketAddr::new(ip, 0)).collect();
        if addrs.is_empty() {
            return Err(fail("no addresses".to_string()));
        }
        Ok(addrs)
    }
}

impl reqwest::dns::Resolve for Resolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let this = self.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs = this
                .lookup(&host)
                .await
                .map_err(|e| -> Box<dyn std::error::Error + Send + Sync> { Box::new(e) })?;
            let addrs: reqwest::dns::Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

/// `localhost` and names under it are loopback by definition (RFC 6761
/// §6.3), whether or not the machine, or the container, has an /etc/hosts.
/// IPv4 first: the stacks this tool probes mostly listen on 127.0.0.1 only.
fn loopback_name(host: &str) -> Option<Vec<SocketAddr>> {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    (host == "localhost" || host.ends_with(".localhost")).then(|| {
        vec![
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
            SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), 0),
        ]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn localhost_names_are_loopback_without_a_lookup() {
        for name in ["localhost", "LOCALHOST.", "grafana.localhost"] {
            let addrs = loopback_name(name).unwrap();
            assert!(addrs.iter().all(|a| a.ip().is_loopback()), "{name}");
            assert_eq!(addrs[0].ip(), IpAddr::V4(Ipv4Addr::LOCALHOST));
        }
        assert!(loopback_name("localhost.example").is_none());
        assert!(loopback_name("notlocalhost").is_none());
    }

    #[tokio::test(flavor = "current_thread")]
    async fn names_in_etc_hosts_resolve_without_libc() {
        // Every Docker container, and most machines, list their own host
        // name in /etc/hosts; hickory must find it there without NSS.
        let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
        let entry = hosts.lines().find_map(|line| {
            let mut fields = line.split('#').next()?.split_whitespace();
            let ip: IpAddr = fields.next()?.parse().ok()?;
            let name = fields.find(|n| !n.contains("localhost"))?;
            Some((ip, name.to_string()))
        });
        let Some((ip, name)) = entry else {
            eprintln!("skipped: /etc/hosts has no non-localhost entry");
            return;
        };
        let addrs = Resolver::default().lookup(&name).await.unwrap();
        assert!(
            addrs.iter().any(|a| a.ip() == ip),
            "{name}: {addrs:?}, /etc/hosts says {ip}"
        );
    }
}
