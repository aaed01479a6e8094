//! `docker_network`: the named containers share at least one network, so
//! they can reach each other by name. `none` connects nothing; `host` is
//! shared by every container on it.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::json;

use super::docker::{Engine, engine_error, valid_name};
use super::registry::Kind;
use super::{Outcome, ProbeContext};
use crate::gate::fields::{FieldDef, FieldType as T, SpecCx};

#[derive(Debug, Clone)]
pub struct NetworkSpec {
    /// Containers that must share at least one network.
    pub containers: Vec<String>,
}

impl Kind for NetworkSpec {
    const NAME: &'static str = "docker_network";
    const FIELDS: &'static [FieldDef] = &[FieldDef::new(
        "containers",
        T::StrList,
        "Containers that must share a network (at least two).",
        "[medianest-prometheus, medianest-backend]",
    )];

    fn load(f: &mut SpecCx<'_, '_>) -> Self {
        let mut containers = Vec::new();
        match f.list("containers") {
            Some(list) if list.get().len() >= 2 => {
                for (name, loc) in list.into_inner() {
                    containers.push(f.expand(&name, loc).trim_start_matches('/').to_string());
                }
            }
            Some(list) => f.err(
                list.loc(),
                "`containers` needs at least two names",
                Some("list the containers that must share a network".to_string()),
            ),
            None => {
                if f.is_absent("containers") {
                    let id = f.id().to_string();
                    f.err(
                        f.id_loc(),
                        format!("docker_network check `{id}` needs `containers`"),
                        Some("add `containers: [medianest-prometheus, medianest-backend]`".to_string()),
                    );
                }
            }
        }
        NetworkSpec { containers }
    }

    async fn probe(&self, cx: &ProbeContext<'_>) -> Outcome {
        self.run(cx).await
    }
}

impl NetworkSpec {
    async fn run(&self, cx: &ProbeContext<'_>) -> Outcome {
        let key = format!("check:{}", cx.check.id);
        if let Some(bad) = self.containers.iter().find(|n| !valid_name(n)) {
            return Outcome::fail(format!("`{bad}` is not a valid Docker container name"))
                .cause(
                    key,
                    format!("the gate names container `{bad}`, which Docker names cannot be"),
                )
                .remediation("set the exact container names (see `docker ps --format '{{.Names}}'`)");
        }
        let docker = match Engine::connect(cx).await {
            Ok(d) => d,
            Err(o) => return o,
        };
        let mut networks: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let mut missing = Vec::new();
        for name in &self.containers {
            match docker.inspect(name).await {
                Ok(None) => missing.push(name.clone()),
                Err(e) => return engine_error(cx, &e),
                Ok(Some(info)) if info.name.as_deref() != Some(&format!("/{name}")) => missing.push(name.clone()),
                Ok(Some(info)) => {
                    let nets: BTreeSet<String> = info
                        .network_settings
                        .and_then(|n| n.networks)
                        .map(|m| m.into_keys().collect())
                        .unwrap_or_default();
                    networks.insert(name.clone(), nets);
                }
            }
        }
        let evidence = json!(networks);
        let repro = format!(
            "docker inspect --format '{{{{.Name}}}}: {{{{range $k, $v := .NetworkSettings.Networks}}}}{{{{$k}}}} {{{{end}}}}' {}",
            self.containers
                .iter()
                .map(|c| crate::shell::quote(c).into_owned())
                .collect::<Vec<_>>()
                .join(" ")
        );
        if !missing.is_empty() {
            let msg = format!("containers not found: {}", missing.join(", "));
            return Outcome::fail(msg.clone())
                .evidence("networks", evidence)
                .cause(key, msg)
                .remediation("start the stack (`docker compose up -d`) or fix the container names")
                .reproduce(repro);
        }
        let shared = shared_networks(&networks);
        if shared.is_empty() {
            let listing: Vec<String> = networks
                .iter()
                .map(|(c, n)| {
                    format!(
                        "{c}: {}",
                        if n.is_empty() {
                            "no network".to_string()
                        } else {
                            n.iter().cloned().collect::<Vec<_>>().join(", ")
                        }
                    )
                })
                .collect();
            let msg = format!("the containers share no network ({})", listing.join("; "));
            return Outcome::fail(msg.clone())
                .evidence("networks", evidence)
                .cause(key, msg)
                .remediation("attach them to one user-defined network (compose: the same `networks:` entry; or `docker network connect <net> <container>`)")
                .reproduce(repro);
        }
        Outcome::pass(format!("{} share {}", self.containers.join(", "), shared.join(", ")))
            .evidence("networks", evidence)
            .evidence("shared", json!(shared))
            .reproduce(repro)
    }
}

/// Networks every container is on; `none` never counts.
fn shared_networks(networks: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    let mut sets = networks.values();
    let Some(first) = sets.next() else { return Vec::new() };
    let mut common: BTreeSet<String> = first.iter().filter(|n| n.as_str() != "none").cloned().collect();
    for s in sets {
        common = common.intersection(s).cloned().collect();
    }
    common.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(pairs: &[(&str, &[&str])]) -> BTreeMap<String, BTreeSet<String>> {
        pairs
            .iter()
            .map(|(c, n)| (c.to_string(), n.iter().map(|s| s.to_string()).collect()))
            .collect()
    }

    #[test]
    fn shared_network_is_found() {
        let n = nets(&[("prom", &["obs", "bridge"]), ("api", &["obs"])]);
        assert_eq!(shared_networks(&n), vec!["obs"]);
    }

    #[test]
    fn none_network_connects_nothing() {
        let n = nets(&[("prom", &["none"]), ("api", &["none"])]);
        assert!(shared_networks(&n).is_empty());
    }

    #[test]
    fn disjoint_networks_share_nothing() {
        let n = nets(&[("prom", &["a"]), ("api", &["b"]), ("x", &["a", "b"])]);
        assert!(shared_networks(&n).is_empty());
    }
}

#[cfg(test)]
mod load_tests {
    //! The kind's loader messages, each with its location.
    use crate::gate::testing::*;

    #[test]
    fn docker_network_fields_are_validated_where_written() {
        requires("docker_network", &[], "docker_network check `c` needs `containers`");
        field_rejected("docker_network", "containers: [a]", "`containers` needs at least two names", None);
    }
}
