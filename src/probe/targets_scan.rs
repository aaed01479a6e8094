//! Reads an `/api/v1/targets` answer as it streams in and keeps, per scrape
//! pool, only what `prometheus_targets` judges: counts, the first few
//! unhealthy targets, and (for one job) the targets themselves.
//!
//! A Prometheus of 20,000 targets answers about 8 MB for all of them, and
//! VictoriaMetrics answers every target whatever `scrapePool` says; a
//! `serde_json::Value` of that costs several times the body. Here each
//! target is deserialized into a small struct, counted and dropped.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, SystemTime};

use serde::Deserialize;
use serde::de::{DeserializeSeed, Deserializer, Error as _, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::prometheus_api::DataScan;

/// Distinct pools remembered. The all-jobs form keeps a table row per pool;
/// an answer naming more is not a scrape config a person maintains.
pub const MAX_POOLS: usize = 10_000;
/// Unhealthy targets kept per pool: the message names the first; a few
/// more cost nothing and help evidence.
const PROBLEMS_KEPT: usize = 3;

/// One active target as the API reports it.
#[derive(Debug, Clone)]
pub struct ActiveTarget {
    pub scrape_url: String,
    pub health: String,
    pub last_error: String,
    pub last_scrape: Option<SystemTime>,
    pub interval: Option<Duration>,
}

/// Which pools a scan tallies.
#[derive(Debug, Clone)]
pub enum Pools {
    All,
    Only(Vec<String>),
}

/// What to keep from one answer.
#[derive(Debug, Clone)]
pub struct TargetsScan {
    pools: Pools,
    /// Targets kept in full per tallied pool; the rest are only counted.
    keep: usize,
    /// Count `droppedTargets` discovered for this job (and require no
    /// `activeTargets`: the dropped-only answer is asked for on its own).
    dropped_of: Option<String>,
    healthy: fn(&ActiveTarget, SystemTime) -> bool,
}

impl TargetsScan {
    /// Tallies `pools`, keeping up to `keep` targets of each in full;
    /// `healthy` decides which targets count as up.
    pub fn active(pools: Pools, keep: usize, healthy: fn(&ActiveTarget, SystemTime) -> bool) -> Self {
        TargetsScan {
            pools,
            keep,
            dropped_of: None,
            healthy,
        }
    }

    /// Counts the dropped targets discovered for `job`.
    pub fn dropped(job: &str) -> Self {
        TargetsScan {
            pools: Pools::Only(Vec::new()),
            keep: 0,
            dropped_of: Some(job.to_string()),
            healthy: |_, _| false,
        }
    }
}

/// One pool's targets, as far as the check needs them.
#[derive(Debug, Clone, Default)]
pub struct PoolTally {
    pub total: usize,
    pub healthy: usize,
    /// Targets without a known scrape interval (freshness not judged).
    pub unknown_interval: usize,
    /// The first targets, in the answer's order, at most the scan's `keep`.
    pub targets: Vec<ActiveTarget>,
    /// The first unhealthy targets, in the answer's order.
    pub problems: Vec<ActiveTarget>,
}

/// What a scan kept.
#[derive(Debug, Clone)]
pub struct Tally {
    /// When the answer was read: health is judged as of then.
    pub now: SystemTime,
    /// Every pool the answer names, in its order, at most [`MAX_POOLS`].
    pub seen: Vec<String>,
    /// The tallied pools, in the order asked for (or seen, for all).
    pub pools: Vec<(String, PoolTally)>,
    pub dropped: usize,
    index: HashMap<String, usize>,
    seen_set: HashSet<String>,
}

impl Tally {
    pub fn pool(&self, name: &str) -> Option<&PoolTally> {
        self.index.get(name).map(|&i| &self.pools[i].1)
    }

    fn new(cfg: &TargetsScan) -> Self {
        let mut t = Tally {
            now: SystemTime::now(),
            seen: Vec::new(),
            pools: Vec::new(),
            dropped: 0,
            index: HashMap::new(),
            seen_set: HashSet::new(),
        };
        if let Pools::Only(names) = &cfg.pools {
            for n in names {
                t.slot(n);
            }
        }
        t
    }

    fn slot(&mut self, name: &str) -> usize {
        if let Some(&i) = self.index.get(name) {
            return i;
        }
        self.pools.push((name.to_string(), PoolTally::default()));
        self.index.insert(name.to_string(), self.pools.len() - 1);
        self.pools.len() - 1
    }

    fn add<E: serde::de::Error>(&mut self, cfg: &TargetsScan, raw: RawTarget) -> Result<(), E> {
        let pool = raw.scrape_pool.clone().unwrap_or_default();
        if !self.seen_set.contains(&pool) {
            let all = matches!(cfg.pools, Pools::All);
            if self.seen.len() >= MAX_POOLS {
                if all {
                    return Err(E::custom(format!(
                        "more than {MAX_POOLS} scrape pools (the all-jobs table keeps a row per pool, at most {MAX_POOLS})"
                    )));
                }
            } else {
                self.seen.push(pool.clone());
                self.seen_set.insert(pool.clone());
                if all {
                    self.slot(&pool);
                }
            }
        }
        let Some(&i) = self.index.get(&pool) else {
            return Ok(());
        };
        let target = raw.into_target();
        let healthy = (cfg.healthy)(&target, self.now);
        let tally = &mut self.pools[i].1;
        tally.total += 1;
        if target.interval.is_none() {
            tally.unknown_interval += 1;
        }
        if healthy {
            tally.healthy += 1;
        } else if tally.problems.len() < PROBLEMS_KEPT {
            tally.problems.push(target.clone());
        }
        if tally.targets.len() < cfg.keep {
            tally.targets.push(target);
        }
        Ok(())
    }
}

/// An active target's fields that are judged; every other field is skipped
/// unread. Strings may be `null` (read as empty); other types are errors.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawTarget {
    scrape_pool: Option<String>,
    scrape_url: Option<String>,
    health: Option<String>,
    last_error: Option<String>,
    last_scrape: Option<String>,
    scrape_interval: Option<String>,
    discovered_labels: Option<RawLabels>,
}

#[derive(Deserialize)]
struct RawLabels {
    #[serde(rename = "__scrape_interval__")]
    scrape_interval: Option<String>,
    job: Option<String>,
}

#[derive(Deserialize)]
struct RawDropped {
    #[serde(rename = "discoveredLabels")]
    discovered_labels: Option<RawLabels>,
}

/// A target's scrape interval: Prometheus' `scrapeInterval`, else the
/// discovered `__scrape_interval__` label, which is all VictoriaMetrics
/// gives, in Go's format (`10m0s`).
pub fn scrape_interval(scrape_interval: Option<&str>, discovered: Option<&str>) -> Option<Duration> {
    scrape_interval
        .and_then(|s| crate::duration::parse(s).ok())
        .or_else(|| discovered.and_then(|s| crate::duration::parse(s).or_else(|_| crate::duration::parse_go(s)).ok()))
}

impl RawTarget {
    fn into_target(self) -> ActiveTarget {
        // Never scraped: Prometheus says 0001-01-01, VictoriaMetrics 1970-01-01.
        let last_scrape = self
            .last_scrape
            .as_deref()
            .filter(|s| !s.starts_with("0001-01-01") && !s.starts_with("1970-01-01"))
            .and_then(|s| {
                humantime::parse_rfc3339_weak(s)
                    .ok()
                    .or_else(|| humantime::parse_rfc3339(s).ok())
            });
        let interval = scrape_interval(
            self.scrape_interval.as_deref(),
            self.discovered_labels
                .as_ref()
                .and_then(|l| l.scrape_interval.as_deref()),
        );
        ActiveTarget {
            scrape_url: self.scrape_url.unwrap_or_default(),
            health: self.health.unwrap_or_default(),
            last_error: self.last_error.unwrap_or_default(),
            last_scrape,
            interval,
        }
    }
}

impl DataScan for TargetsScan {
    type Out = Tally;

    fn scan<'de, D: Deserializer<'de>>(self, data: D) -> Result<Tally, D::Error> {
        let tally = Tally::new(&self);
        data.deserialize_map(DataVisitor { cfg: self, tally })
    }
}

struct DataVisitor {
    cfg: TargetsScan,
    tally: Tally,
}

impl<'de> Visitor<'de> for DataVisitor {
    type Value = Tally;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an object with `activeTargets` and `droppedTargets`")
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<Tally, A::Error> {
        let mut saw_active = false;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "activeTargets" => {
                    saw_active = true;
                    map.next_value_seed(ActiveSeq {
                        cfg: &self.cfg,
                        tally: &mut self.tally,
                    })?;
                }
                "droppedTargets" if self.cfg.dropped_of.is_some() => {
                    map.next_value_seed(DroppedSeq {
                        job: self.cfg.dropped_of.as_deref().unwrap_or_default(),
                        count: &mut self.tally.dropped,
                    })?;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if !saw_active && self.cfg.dropped_of.is_none() {
            return Err(A::Error::custom("no `activeTargets` array"));
        }
        Ok(self.tally)
    }
}

struct ActiveSeq<'a> {
    cfg: &'a TargetsScan,
    tally: &'a mut Tally,
}

impl<'de> DeserializeSeed<'de> for ActiveSeq<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ActiveSeq<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an `activeTargets` array")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(raw) = seq.next_element::<RawTarget>()? {
            self.tally.add::<A::Error>(self.cfg, raw)?;
        }
        Ok(())
    }
}

struct DroppedSeq<'a> {
    job: &'a str,
    count: &'a mut usize,
}

impl<'de> DeserializeSeed<'de> for DroppedSeq<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for DroppedSeq<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a `droppedTargets` array")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(t) = seq.next_element::<RawDropped>()? {
            // Dropped targets carry only their discovered labels; the pool is their `job`.
            if t.discovered_labels.and_then(|l| l.job).as_deref() == Some(self.job) {
                *self.count += 1;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn target(pool: &str, health: &str, err: &str) -> serde_json::Value {
        json!({"discoveredLabels":{"job":pool,"__scrape_interval__":"1s"},"labels":{"job":pool},"scrapePool":pool,
               "scrapeUrl":"http://127.0.0.1:3000/metrics","globalUrl":"http://vm:3000/metrics",
               "lastError":err,"lastScrape":"2026-11-21T17:59:48.802385342Z","lastScrapeDuration":0.0019,
               "health":health,"scrapeInterval":"1s","scrapeTimeout":"1s"})
    }

    fn up(t: &ActiveTarget, _: SystemTime) -> bool {
        t.health == "up"
    }

    fn scan(cfg: TargetsScan, data: serde_json::Value) -> Result<Tally, serde_json::Error> {
        cfg.scan(data)
    }

    #[test]
    fn one_pool_is_tallied_and_every_pool_is_named() {
        let data = json!({"activeTargets":[target("prometheus","up",""), target("api","down","x"), target("api","up","")],
                          "droppedTargets":[]});
        let t = scan(TargetsScan::active(Pools::Only(vec!["api".into()]), 10, up), data).unwrap();
        assert_eq!(t.seen, vec!["prometheus", "api"]);
        let api = t.pool("api").unwrap();
        assert_eq!((api.total, api.healthy, api.targets.len()), (2, 1, 2));
        assert_eq!(api.problems[0].health, "down");
        assert_eq!(api.targets[0].interval, Some(Duration::from_secs(1)));
        assert!(api.targets[0].last_scrape.is_some());
        assert!(t.pool("prometheus").is_none());
    }

    #[test]
    fn all_pools_are_tallied_in_answer_order_keeping_only_counts_and_first_problems() {
        let mut active: Vec<_> = (0..50).map(|_| target("b", "down", "refused")).collect();
        active.push(target("a", "up", ""));
        let t = scan(TargetsScan::active(Pools::All, 0, up), json!({"activeTargets": active})).unwrap();
        let names: Vec<_> = t.pools.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["b", "a"]);
        let b = t.pool("b").unwrap();
        assert_eq!(
            (b.total, b.healthy, b.targets.len(), b.problems.len()),
            (50, 0, 0, PROBLEMS_KEPT)
        );
        assert_eq!(t.pool("a").unwrap().healthy, 1);
    }

    #[test]
    fn victoria_metrics_interval_comes_from_the_discovered_label() {
        let mut v = target("api", "up", "");
        v.as_object_mut().unwrap().remove("scrapeInterval");
        v["discoveredLabels"]["__scrape_interval__"] = json!("10m0s");
        let t = scan(
            TargetsScan::active(Pools::Only(vec!["api".into()]), 1, up),
            json!({"activeTargets":[v]}),
        )
        .unwrap();
        assert_eq!(
            t.pool("api").unwrap().targets[0].interval,
            Some(Duration::from_secs(600))
        );
    }

    #[test]
    fn never_scraped_target_has_no_last_scrape() {
        for never in ["0001-01-01T00:00:00Z", "1970-01-01T00:00:00Z"] {
            let mut v = target("api", "unknown", "");
            v["lastScrape"] = json!(never);
            let t = scan(TargetsScan::active(Pools::All, 1, up), json!({"activeTargets":[v]})).unwrap();
            assert!(t.pool("api").unwrap().targets[0].last_scrape.is_none());
        }
    }

    #[test]
    fn dropped_targets_are_counted_for_the_job_only() {
        let data = json!({"activeTargets":[],"droppedTargets":[{"discoveredLabels":{"job":"api"}},{"discoveredLabels":{"job":"x"}},{}]});
        assert_eq!(scan(TargetsScan::dropped("api"), data).unwrap().dropped, 1);
    }

    #[test]
    fn wrong_shapes_are_errors_not_defaults() {
        let mut wrong_type = target("api", "up", "");
        wrong_type["health"] = json!(1);
        for bad in [
            json!({"droppedTargets":[]}),
            json!({"activeTargets":{}}),
            json!({"activeTargets":[wrong_type]}),
            json!([]),
        ] {
            assert!(
                scan(TargetsScan::active(Pools::All, 1, up), bad.clone()).is_err(),
                "{bad}"
            );
        }
        let mut nulls = target("api", "up", "");
        nulls["lastError"] = json!(null);
        let t = scan(TargetsScan::active(Pools::All, 1, up), json!({"activeTargets":[nulls]})).unwrap();
        assert_eq!(t.pool("api").unwrap().targets[0].last_error, "");
    }

    #[test]
    fn too_many_pools_is_an_error_naming_the_limit() {
        let active: Vec<_> = (0..=MAX_POOLS)
            .map(|i| json!({"scrapePool": format!("j{i}")}))
            .collect();
        let e = scan(TargetsScan::active(Pools::All, 0, up), json!({"activeTargets": active})).unwrap_err();
        assert!(e.to_string().contains("more than 10000 scrape pools"), "{e}");
    }
}
