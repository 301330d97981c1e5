//! Known MM2/ferry property names, their defaults, and the unknown-key warnings.
//!
//! MM2 accepts a wide surface (connector keys, Connect worker keys, client keys, each possibly
//! prefixed by a cluster alias or a flow `A->B.`). Ferry reports every key it does not recognise
//! as a warning instead of failing, so existing MM2 files load; keys whose feature ferry does not
//! implement yet are recognised silently.
//!
//! # Layout
//!
//! Tables ([`CONNECTOR_DEFAULTS`], worker/ferry names and prefixes), the per-scope predicates and
//! [`check_keys`], which produces the warnings for a whole file.

use super::error::ConfigWarning;
use crate::client_props::is_cluster_client_key;
use crate::filter::{ConfigPropertyFilter, GroupFilter, TopicFilter};
use std::collections::BTreeMap;

/// MM2 connector keys with their MM2 defaults (as strings, the way MM2 documents them).
pub const CONNECTOR_DEFAULTS: &[(&str, &str)] = &[
    ("topics", TopicFilter::DEFAULT_INCLUDE),
    ("topics.exclude", TopicFilter::DEFAULT_EXCLUDE),
    ("groups", GroupFilter::DEFAULT_INCLUDE),
    ("groups.exclude", GroupFilter::DEFAULT_EXCLUDE),
    ("config.properties.exclude", ConfigPropertyFilter::DEFAULT_EXCLUDE),
    ("replication.factor", "2"),
    ("replication.policy.class", "org.apache.kafka.connect.mirror.DefaultReplicationPolicy"),
    ("replication.policy.separator", "."),
    ("replication.policy.internal.topic.separator.enabled", "true"),
    ("use.defaults.from", "target"),
    ("sync.topic.configs.enabled", "true"),
    ("sync.topic.configs.interval.seconds", "600"),
    ("sync.topic.acls.enabled", "true"),
    ("sync.topic.acls.interval.seconds", "600"),
    ("refresh.topics.enabled", "true"),
    ("refresh.topics.interval.seconds", "600"),
    ("refresh.groups.enabled", "true"),
    ("refresh.groups.interval.seconds", "600"),
    ("emit.checkpoints.enabled", "true"),
    ("emit.checkpoints.interval.seconds", "60"),
    ("sync.group.offsets.enabled", "false"),
    ("sync.group.offsets.interval.seconds", "60"),
    ("emit.heartbeats.enabled", "true"),
    ("emit.heartbeats.interval.seconds", "1"),
    ("heartbeats.topic.replication.factor", "3"),
    ("checkpoints.topic.replication.factor", "3"),
    ("offset-syncs.topic.replication.factor", "3"),
    ("offset-syncs.topic.location", "source"),
    ("emit.offset-syncs.enabled", "true"),
    ("offset.lag.max", "100"),
    ("heartbeats.replication.enabled", "true"),
    ("admin.timeout.ms", "60000"),
    ("consumer.poll.timeout.ms", "1000"),
    ("tasks.max", "1"),
];

/// MM2 connector keys without a ferry-relevant default.
const CONNECTOR_KEYS: &[&str] = &[
    "enabled",
    "name",
    "connector.class",
    "source.cluster.alias",
    "target.cluster.alias",
    "forwarding.admin.class",
    "topic.filter.class",
    "group.filter.class",
    "config.property.filter.class",
    "metric.reporters",
    "metric.names.formats",
    "exactly.once.support",
    "transaction.boundary",
    "transaction.boundary.interval.ms",
    "offsets.storage.topic",
];

/// Connector key families (prefixes) accepted silently.
const CONNECTOR_PREFIXES: &[&str] = &[
    "emit.",
    "sync.",
    "refresh.",
    "groups",
    "topics",
    "checkpoints.",
    "heartbeats.",
    "offset-syncs.",
    "replication.policy.",
    "config.properties.",
    "config.providers",
    "errors.",
    "transforms",
    "predicates",
    "exactly.once.",
    "header.converter",
    "key.converter",
    "value.converter",
];

/// Connect worker keys (top-level or `{target}.`-prefixed in MM2).
const WORKER_KEYS: &[&str] = &[
    "offset.flush.interval.ms",
    "offset.flush.timeout.ms",
    "group.id",
    "client.id",
    "listeners",
    "admin.listeners",
    "scheduled.rebalance.max.delay.ms",
    "connect.protocol",
    "heartbeat.interval.ms",
    "session.timeout.ms",
    "rebalance.timeout.ms",
    "metric.reporters",
    "plugin.path",
    "tasks.max",
];

/// Connect worker key families.
const WORKER_PREFIXES: &[&str] = &[
    "offset.storage.",
    "config.storage.",
    "status.storage.",
    "key.converter",
    "value.converter",
    "header.converter",
    "exactly.once.",
    "dedicated.mode.",
    "rest.",
    "task.",
    "worker.",
    "config.providers",
    "metrics.",
    "replication.policy.",
    "inter.worker.",
    "access.control.",
    "response.http.",
];

/// Keys removed in Kafka 4.0 without replacement.
const REMOVED_KEYS: &[&str] = &["use.incremental.alter.configs", "add.source.alias.to.metrics"];

/// Removed/legacy names accepted as aliases: (legacy, modern).
pub const LEGACY_ALIASES: &[(&str, &str)] = &[
    ("topics.blacklist", "topics.exclude"),
    ("groups.blacklist", "groups.exclude"),
    ("config.properties.blacklist", "config.properties.exclude"),
    ("topics.whitelist", "topics"),
    ("groups.whitelist", "groups"),
];

/// ferry-only keys (global `ferry.x` or flow-prefixed `A->B.ferry.x`).
pub const FERRY_KEYS: &[&str] = &[
    "ferry.producer.workers",
    "ferry.queue.batches",
    "ferry.queue.max.bytes",
    "ferry.batch.max.records",
    "ferry.batch.max.bytes",
    "ferry.shutdown.timeout.ms",
    "ferry.offset.index.prune.interval.ms",
    "ferry.source.consumers",
    "ferry.group.enabled",
    "ferry.group.id",
    "ferry.group.session.timeout.ms",
    "ferry.metrics.address",
    "ferry.metrics.partition.labels",
];

fn has_prefix(key: &str, prefixes: &[&str]) -> bool {
    prefixes.iter().any(|p| key.starts_with(p))
}

/// True for MM2 connector-level keys.
pub fn is_connector_key(key: &str) -> bool {
    CONNECTOR_DEFAULTS.iter().any(|(k, _)| *k == key)
        || CONNECTOR_KEYS.contains(&key)
        || has_prefix(key, CONNECTOR_PREFIXES)
}

/// True for Connect worker keys.
pub fn is_worker_key(key: &str) -> bool {
    WORKER_KEYS.contains(&key) || has_prefix(key, WORKER_PREFIXES)
}

fn is_client_role_key(key: &str) -> bool {
    has_prefix(key, &["consumer.", "producer.", "admin."])
}

/// A key split as `{source}->{target}.{rest}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FlowKey {
    pub source: String,
    pub target: String,
    pub rest: String,
}

/// Splits a flow-prefixed key, preferring the longest known aliases (aliases may contain dots);
/// for unknown aliases the target ends at the first `.` after `->`.
pub(crate) fn split_flow_key(key: &str, aliases: &[String]) -> Option<FlowKey> {
    let arrow = key.find("->")?;
    let mut best: Option<FlowKey> = None;
    for a in aliases {
        let Some(after) = key.strip_prefix(a.as_str()).and_then(|r| r.strip_prefix("->")) else {
            continue;
        };
        for b in aliases {
            if let Some(rest) = after.strip_prefix(b.as_str()).and_then(|r| r.strip_prefix('.')) {
                let better = match &best {
                    None => true,
                    Some(f) => a.len() + b.len() > f.source.len() + f.target.len(),
                };
                if better {
                    best = Some(FlowKey { source: a.clone(), target: b.clone(), rest: rest.to_string() });
                }
            }
        }
    }
    best.or_else(|| {
        let source = &key[..arrow];
        let after = &key[arrow + 2..];
        let (target, rest) = after.split_once('.').unwrap_or((after, ""));
        Some(FlowKey { source: source.to_string(), target: target.to_string(), rest: rest.to_string() })
    })
}

/// The alias prefix of a cluster-level key (`src.ssl.x` → `("src", "ssl.x")`), longest alias first.
fn split_alias_key<'k>(key: &'k str, aliases: &[String]) -> Option<(&'k str, &'k str)> {
    aliases
        .iter()
        .filter_map(|a| {
            key.strip_prefix(a.as_str()).and_then(|r| r.strip_prefix('.')).map(|rest| (&key[..a.len()], rest))
        })
        .max_by_key(|(a, _)| a.len())
}

fn legacy_warning(key: &str, name: &str) -> Option<ConfigWarning> {
    LEGACY_ALIASES.iter().find(|(l, _)| *l == name).map(|(l, m)| {
        ConfigWarning::new(
            key,
            format!(
                "`{l}` was removed in Kafka 4.0 (`topics.whitelist` never existed); ferry treats it \
                 as `{m}` where no `{m}` is set for this flow; rename it"
            ),
        )
    })
}

fn ferry_warning(key: &str, name: &str) -> Option<ConfigWarning> {
    if name.starts_with("ferry.") && !FERRY_KEYS.contains(&name) {
        Some(ConfigWarning::new(key, format!("unknown ferry key; known ferry keys: {}", FERRY_KEYS.join(", "))))
    } else {
        None
    }
}

fn removed_warning(key: &str, name: &str) -> Option<ConfigWarning> {
    REMOVED_KEYS.contains(&name).then(|| ConfigWarning::new(key, "removed in Kafka 4.0; ignored"))
}

/// Warning for a key at the top level (no prefix), if any.
fn check_global(key: &str) -> Option<ConfigWarning> {
    if let Some(w) = legacy_warning(key, key).or_else(|| removed_warning(key, key)).or_else(|| ferry_warning(key, key))
    {
        return Some(w);
    }
    if key == "clusters"
        || key.starts_with("ferry.")
        || is_connector_key(key)
        || is_worker_key(key)
        || is_cluster_client_key(key)
    {
        return None;
    }
    if is_client_role_key(key) {
        return Some(ConfigWarning::new(
            key,
            "top-level consumer./producer./admin. keys are ignored (as in MM2); use \
             `{alias}.consumer.*` or `{source}->{target}.consumer.*`",
        ));
    }
    Some(ConfigWarning::new(key, "unknown key; ignored"))
}

/// Warning for `{source}->{target}.{rest}` with known aliases, if any.
fn check_flow(key: &str, flow: &FlowKey) -> Option<ConfigWarning> {
    let rest = flow.rest.as_str();
    if let Some(w) =
        legacy_warning(key, rest).or_else(|| removed_warning(key, rest)).or_else(|| ferry_warning(key, rest))
    {
        return Some(w);
    }
    if rest.starts_with("ferry.")
        || is_connector_key(rest)
        || is_cluster_client_key(rest)
        || is_client_role_key(rest)
        || has_prefix(rest, &["source.", "target."])
    {
        return None;
    }
    if is_worker_key(rest) {
        return Some(ConfigWarning::new(
            key,
            format!("worker-level key is not read per flow; set `{rest}` at top level or as `{}.{rest}`", flow.target),
        ));
    }
    Some(ConfigWarning::new(key, "unknown flow key; ignored"))
}

/// Warning for `{alias}.{rest}`, if any.
fn check_cluster(key: &str, rest: &str) -> Option<ConfigWarning> {
    if is_cluster_client_key(rest) || is_client_role_key(rest) || is_worker_key(rest) {
        return None;
    }
    Some(ConfigWarning::new(
        key,
        "not a cluster-level key (expected client keys, consumer./producer./admin. or worker keys); ignored",
    ))
}

/// Unknown-key, legacy-alias and misplaced-key warnings for a whole file.
/// Flow keys naming unknown aliases are reported by flow discovery, not here.
pub(crate) fn check_keys(raw: &BTreeMap<String, String>, order: &[String], aliases: &[String]) -> Vec<ConfigWarning> {
    let mut out = Vec::new();
    for key in order {
        if !raw.contains_key(key) {
            continue;
        }
        let warning = if key.contains("->") {
            match split_flow_key(key, aliases) {
                Some(f) if aliases.contains(&f.source) && aliases.contains(&f.target) => check_flow(key, &f),
                _ => None,
            }
        } else if is_global_known(key) {
            check_global(key)
        } else if let Some((_, rest)) = split_alias_key(key, aliases) {
            check_cluster(key, rest)
        } else {
            check_global(key)
        };
        out.extend(warning);
    }
    out
}

fn is_global_known(key: &str) -> bool {
    check_global(key).is_none() || LEGACY_ALIASES.iter().any(|(l, _)| *l == key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aliases(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    fn warned(pairs: &[&str], al: &[&str]) -> Vec<String> {
        let raw: BTreeMap<String, String> = pairs.iter().map(|k| (k.to_string(), "x".to_string())).collect();
        let order: Vec<String> = pairs.iter().map(|s| s.to_string()).collect();
        check_keys(&raw, &order, &aliases(al)).into_iter().map(|w| w.key).collect()
    }

    #[test]
    fn split_flow_keys() {
        let al = aliases(&["us.west", "us", "eu"]);
        let f = split_flow_key("us.west->eu.topics", &al).expect("flow");
        assert_eq!((f.source.as_str(), f.target.as_str(), f.rest.as_str()), ("us.west", "eu", "topics"));
        let f = split_flow_key("x->y.enabled", &al).expect("flow");
        assert_eq!((f.source.as_str(), f.target.as_str(), f.rest.as_str()), ("x", "y", "enabled"));
        assert!(split_flow_key("plain.key", &al).is_none());
    }

    #[test]
    fn known_keys_are_silent() {
        let w = warned(
            &[
                "clusters",
                "topics",
                "replication.factor",
                "src.bootstrap.servers",
                "src.consumer.fetch.min.bytes",
                "dest.producer.linger.ms",
                "dest.offset.flush.interval.ms",
                "offset.storage.replication.factor",
                "src->dest.enabled",
                "src->dest.topics",
                "src->dest.consumer.auto.offset.reset",
                "src->dest.ferry.producer.workers",
                "ferry.batch.max.records",
                "sync.group.offsets.enabled",
                "emit.checkpoints.interval.seconds",
                "security.protocol",
                "ssl.truststore.location",
                "sasl.jaas.config",
                "key.converter",
                "tasks.max",
                "dedicated.mode.enable.internal.rest",
                "listeners",
                "config.providers.file.class",
            ],
            &["src", "dest"],
        );
        assert!(w.is_empty(), "{w:?}");
    }

    #[test]
    fn unknown_and_misplaced_keys_warn() {
        let w = warned(
            &[
                "topic",
                "replicaton.factor",
                "ferry.bogus",
                "src->dest.ferry.bogus",
                "src->dest.bogus",
                "src->dest.offset.flush.interval.ms",
                "src.topics",
                "consumer.fetch.max.bytes",
                "topics.blacklist",
                "src->dest.groups.blacklist",
                "use.incremental.alter.configs",
            ],
            &["src", "dest"],
        );
        assert_eq!(w.len(), 11, "{w:?}");
    }
}
