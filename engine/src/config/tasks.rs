//! Settings of MM2's offset-sync, checkpoint and heartbeat tasks, and the heartbeat-only pairs.
//!
//! - [`OffsetSyncSettings`]: `emit.offset-syncs.enabled`, `offset-syncs.topic.location`,
//!   `offset-syncs.topic.replication.factor`, `offset.lag.max` (MirrorSourceConnector).
//! - [`CheckpointSettings`]: `emit.checkpoints.*`, `checkpoints.topic.replication.factor`,
//!   `refresh.groups.*`, `sync.group.offsets.*` (MirrorCheckpointConnector).
//! - [`HeartbeatSettings`]: `emit.heartbeats.*`, `heartbeats.topic.replication.factor`
//!   (MirrorHeartbeatConnector).
//! - [`HeartbeatFlow`]: a pair `A->B` that emits heartbeats into `B`, enabled or not. MM2 runs a
//!   herder for every ordered pair whose `enabled` is true *or* whose heartbeats are enabled
//!   (`MirrorMakerConfig.clusterPairs`, KAFKA-10710), so a one-way `A->B` file also writes
//!   heartbeats into `A` from `B->A` unless `B->A.emit.heartbeats.enabled=false`.
//!
//! All keys are connector keys: `A->B.key` > top-level `key` > MM2 default. Negative
//! `*.interval.seconds` disable the task (with a warning), zero is an error naming the key.

use super::error::{ConfigError, ConfigWarning};
use super::flow::{boolean, interval};
use super::scope::{FlowScope, Found};
use super::values::{parse_int, parse_replication_factor};
use crate::client_props::ClientProps;
use crate::policy::ReplicationPolicy;
use std::collections::BTreeMap;
use std::time::Duration;

/// `offset-syncs.topic.location`: which cluster holds the offset-syncs topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SyncsLocation {
    /// On the source cluster (MM2 default); topic `mm2-offset-syncs.<target>.internal`.
    #[default]
    Source,
    /// On the target cluster; topic `mm2-offset-syncs.<source>.internal`.
    Target,
}

impl SyncsLocation {
    /// `source` or `target`, as written in `mm2.properties`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Source => "source",
            Self::Target => "target",
        }
    }
}

/// Offset-sync emission of a flow (MirrorSourceConnector keys).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetSyncSettings {
    /// `emit.offset-syncs.enabled`, default true (KIP-1031).
    pub enabled: bool,
    /// `offset-syncs.topic.location`, default `source`.
    pub location: SyncsLocation,
    /// The offset-syncs topic name from the policy: it holds the alias of the cluster it is
    /// *not* on (`mm2-offset-syncs.<target>.internal` on the source, separator-aware).
    pub topic: String,
    /// ferry's offset-index journal topic, on the same cluster and for the same alias as `topic`
    /// (`ferry-offset-index.<target>.internal` on the source by default).
    pub index_topic: String,
    /// `offset-syncs.topic.replication.factor`, default 3; -1 = broker default (also used for the
    /// journal topic).
    pub replication_factor: i16,
    /// `offset.lag.max`, default 100 (negative values behave as 0 in MM2: a sync per record).
    pub lag_max: u64,
}

impl OffsetSyncSettings {
    /// True when the topic lives on the source cluster.
    pub fn on_source(&self) -> bool {
        self.location == SyncsLocation::Source
    }
}

/// Checkpoint emission and group offset sync of a flow (MirrorCheckpointConnector keys).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointSettings {
    /// `emit.checkpoints.enabled`, default true (false also when the interval is negative, or
    /// when offset syncs are disabled: MM2's checkpoint connector refuses to run then).
    pub enabled: bool,
    /// `emit.checkpoints.interval.seconds`, default 60 s.
    pub interval: Duration,
    /// `<source>.checkpoints.internal` on the target (separator-aware).
    pub topic: String,
    /// `checkpoints.topic.replication.factor`, default 3; -1 = broker default.
    pub replication_factor: i16,
    /// `refresh.groups.enabled`, default true (false also when the interval is negative).
    pub refresh_groups_enabled: bool,
    /// `refresh.groups.interval.seconds`, default 600 s.
    pub refresh_groups_interval: Duration,
    /// `sync.group.offsets.enabled`, default false (false also when the interval is negative or
    /// offset syncs are disabled).
    pub sync_group_offsets_enabled: bool,
    /// `sync.group.offsets.interval.seconds`, default 60 s.
    pub sync_group_offsets_interval: Duration,
}

/// Heartbeat emission of a pair (MirrorHeartbeatConnector keys).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeartbeatSettings {
    /// `emit.heartbeats.enabled`, default true (false also when the interval is negative).
    pub enabled: bool,
    /// `emit.heartbeats.interval.seconds`, default 1 s.
    pub interval: Duration,
    /// The policy's heartbeats topic, `heartbeats`, on the target.
    pub topic: String,
    /// `heartbeats.topic.replication.factor`, default 3; -1 = broker default.
    pub replication_factor: i16,
}

/// A pair `source->target` whose heartbeat emitter writes into `target`'s `heartbeats` topic.
///
/// [`Mm2Config::heartbeat_flows`](super::Mm2Config::heartbeat_flows) lists every such pair,
/// enabled flows included; `settings.enabled` is always true there.
#[derive(Debug, Clone)]
pub struct HeartbeatFlow {
    /// Source cluster alias (`sourceClusterAlias` of the heartbeat records).
    pub source: String,
    /// Target cluster alias: where heartbeats are written.
    pub target: String,
    /// `"source->target"`.
    pub name: String,
    /// Resolved heartbeat settings of the pair.
    pub settings: HeartbeatSettings,
    /// librdkafka properties of the producer writing heartbeats to the target.
    pub target_producer: ClientProps,
    /// librdkafka properties of the target admin client (creates `heartbeats`).
    pub target_admin: ClientProps,
}

fn replication_factor(found: Option<Found<'_>>) -> Result<i16, ConfigError> {
    found.map_or(Ok(3), |f| parse_replication_factor(f.key, f.value))
}

fn location(found: Option<Found<'_>>) -> Result<SyncsLocation, ConfigError> {
    match found {
        None => Ok(SyncsLocation::Source),
        Some(f) if f.value.eq_ignore_ascii_case("source") => Ok(SyncsLocation::Source),
        Some(f) if f.value.eq_ignore_ascii_case("target") => Ok(SyncsLocation::Target),
        Some(f) => Err(ConfigError::new(f.key, format!("expected `source` or `target`, got `{}`", f.value))),
    }
}

/// Resolves the offset-sync settings of flow `source->target`.
pub(crate) fn offset_syncs(
    scope: &FlowScope<'_>,
    policy: &ReplicationPolicy,
    source: &str,
    target: &str,
    warnings: &mut Vec<ConfigWarning>,
) -> Result<OffsetSyncSettings, ConfigError> {
    let enabled = boolean(scope.connector("emit.offset-syncs.enabled"), true)?;
    let location = location(scope.connector("offset-syncs.topic.location"))?;
    let alias = match location {
        SyncsLocation::Source => target,
        SyncsLocation::Target => source,
    };
    let (topic, index_topic) = (policy.offset_syncs_topic(alias), policy.offset_index_topic(alias));
    let replication_factor = replication_factor(scope.connector("offset-syncs.topic.replication.factor"))?;
    let lag_max = match scope.connector("offset.lag.max") {
        None => 100,
        Some(f) => {
            let n: i64 = parse_int(f.key, f.value, i64::MIN)?;
            if n < 0 {
                warnings.push(ConfigWarning::new(f.key, "negative lag behaves as 0 (an offset sync per record)"));
            }
            n.max(0).unsigned_abs()
        }
    };
    Ok(OffsetSyncSettings { enabled, location, topic, index_topic, replication_factor, lag_max })
}

/// Resolves the checkpoint and group-offset-sync settings of flow `source`->target.
pub(crate) fn checkpoints(
    scope: &FlowScope<'_>,
    policy: &ReplicationPolicy,
    source: &str,
    offset_syncs: &OffsetSyncSettings,
    warnings: &mut Vec<ConfigWarning>,
) -> Result<CheckpointSettings, ConfigError> {
    let emit = boolean(scope.connector("emit.checkpoints.enabled"), true)?;
    let (interval_d, interval_on) = interval(scope.connector("emit.checkpoints.interval.seconds"), 60, warnings)?;
    let replication_factor = replication_factor(scope.connector("checkpoints.topic.replication.factor"))?;
    let refresh = boolean(scope.connector("refresh.groups.enabled"), true)?;
    let (refresh_d, refresh_on) = interval(scope.connector("refresh.groups.interval.seconds"), 600, warnings)?;
    let sync = boolean(scope.connector("sync.group.offsets.enabled"), false)?;
    let (sync_d, sync_on) = interval(scope.connector("sync.group.offsets.interval.seconds"), 60, warnings)?;
    let mut enabled = emit && interval_on;
    let mut sync_group_offsets_enabled = sync && sync_on;
    if !offset_syncs.enabled && (enabled || sync_group_offsets_enabled) {
        let key = scope.connector("emit.offset-syncs.enabled").map_or("emit.offset-syncs.enabled", |f| f.key);
        warnings.push(ConfigWarning::new(
            key,
            "offset syncs are disabled, so checkpoints and group offset sync are off for this flow \
             (MM2's checkpoint connector cannot run without offset syncs)",
        ));
        enabled = false;
        sync_group_offsets_enabled = false;
    }
    Ok(CheckpointSettings {
        enabled,
        interval: interval_d,
        topic: policy.checkpoints_topic(source),
        replication_factor,
        refresh_groups_enabled: refresh && refresh_on,
        refresh_groups_interval: refresh_d,
        sync_group_offsets_enabled,
        sync_group_offsets_interval: sync_d,
    })
}

/// Resolves the heartbeat settings of pair `source->target` (enabled flow or not).
pub(crate) fn heartbeats(
    scope: &FlowScope<'_>,
    warnings: &mut Vec<ConfigWarning>,
) -> Result<HeartbeatSettings, ConfigError> {
    let emit = boolean(scope.connector("emit.heartbeats.enabled"), true)?;
    let (interval_d, interval_on) = interval(scope.connector("emit.heartbeats.interval.seconds"), 1, warnings)?;
    let replication_factor = replication_factor(scope.connector("heartbeats.topic.replication.factor"))?;
    Ok(HeartbeatSettings {
        enabled: emit && interval_on,
        interval: interval_d,
        topic: crate::policy::HEARTBEATS_TOPIC.to_string(),
        replication_factor,
    })
}

/// The resolved values shown in `FlowConfig::settings` (canonical spellings).
pub(crate) fn as_settings(
    o: &OffsetSyncSettings,
    c: &CheckpointSettings,
    h: &HeartbeatSettings,
) -> BTreeMap<String, String> {
    let secs = |d: Duration| d.as_secs().to_string();
    [
        ("emit.offset-syncs.enabled", o.enabled.to_string()),
        ("offset-syncs.topic.location", o.location.as_str().to_string()),
        ("offset-syncs.topic.replication.factor", o.replication_factor.to_string()),
        ("offset.lag.max", o.lag_max.to_string()),
        ("emit.checkpoints.enabled", c.enabled.to_string()),
        ("emit.checkpoints.interval.seconds", secs(c.interval)),
        ("checkpoints.topic.replication.factor", c.replication_factor.to_string()),
        ("refresh.groups.enabled", c.refresh_groups_enabled.to_string()),
        ("refresh.groups.interval.seconds", secs(c.refresh_groups_interval)),
        ("sync.group.offsets.enabled", c.sync_group_offsets_enabled.to_string()),
        ("sync.group.offsets.interval.seconds", secs(c.sync_group_offsets_interval)),
        ("emit.heartbeats.enabled", h.enabled.to_string()),
        ("emit.heartbeats.interval.seconds", secs(h.interval)),
        ("heartbeats.topic.replication.factor", h.replication_factor.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client_props::ClientRole;
    use crate::config::{parse_str, ConfigError, Mm2Config};

    const BASE: &str =
        "clusters=src,dest\nsrc.bootstrap.servers=s:9092\ndest.bootstrap.servers=d:9092\nsrc->dest.enabled=true\n";

    fn parse(extra: &str) -> Mm2Config {
        match parse_str(&format!("{BASE}{extra}\n")) {
            Ok(c) => c,
            Err(e) => panic!("unexpected error: {e}"),
        }
    }

    fn err(extra: &str) -> ConfigError {
        match parse_str(&format!("{BASE}{extra}\n")) {
            Ok(_) => panic!("expected an error for {extra:?}"),
            Err(e) => e,
        }
    }

    fn names(cfg: &Mm2Config) -> Vec<&str> {
        cfg.heartbeat_flows.iter().map(|h| h.name.as_str()).collect()
    }

    #[test]
    fn defaults() {
        let cfg = parse("");
        let f = &cfg.flows[0];
        let o = &f.offset_syncs;
        assert!(o.enabled);
        assert_eq!(o.location, SyncsLocation::Source);
        assert!(o.on_source());
        assert_eq!(o.topic, "mm2-offset-syncs.dest.internal");
        assert_eq!(o.index_topic, "ferry-offset-index.dest.internal");
        assert_eq!(o.replication_factor, 3);
        assert_eq!(o.lag_max, 100);
        let c = &f.checkpoints;
        assert!(c.enabled);
        assert_eq!(c.interval, Duration::from_secs(60));
        assert_eq!(c.topic, "src.checkpoints.internal");
        assert_eq!(c.replication_factor, 3);
        assert!(c.refresh_groups_enabled);
        assert_eq!(c.refresh_groups_interval, Duration::from_secs(600));
        assert!(!c.sync_group_offsets_enabled);
        assert_eq!(c.sync_group_offsets_interval, Duration::from_secs(60));
        let h = &f.heartbeats;
        assert!(h.enabled);
        assert_eq!(h.interval, Duration::from_secs(1));
        assert_eq!(h.topic, "heartbeats");
        assert_eq!(h.replication_factor, 3);
        assert!(cfg.warnings.is_empty(), "{:?}", cfg.warnings);
        assert_eq!(f.settings["offset-syncs.topic.location"], "source");
        assert_eq!(f.settings["emit.heartbeats.interval.seconds"], "1");
        assert_eq!(cfg.flow_names(), vec!["src->dest"]);
    }

    #[test]
    fn clients() {
        let cfg =
            parse("src.producer.linger.ms=9\nsrc.consumer.enable.auto.commit=true\ndest.consumer.fetch.min.bytes=7");
        let f = &cfg.flows[0];
        let p = &f.source_producer;
        assert_eq!(p.get("bootstrap.servers"), Some("s:9092"));
        assert_eq!(p.get("enable.idempotence"), Some("true"));
        assert_eq!(p.get("acks"), Some("all"));
        assert_eq!(p.get("linger.ms"), Some("9"));
        assert_eq!(p.get("client.id"), Some("src->dest|ferry|source-producer"));
        let sg = &f.source_group_consumer;
        assert_eq!(sg.get("bootstrap.servers"), Some("s:9092"));
        assert_eq!(sg.get("enable.auto.commit"), Some("false"));
        assert_eq!(sg.get("auto.offset.reset"), None);
        let tg = &f.target_group_consumer;
        assert_eq!(tg.get("bootstrap.servers"), Some("d:9092"));
        assert_eq!(tg.get("enable.auto.commit"), Some("false"));
        assert_eq!(tg.get("fetch.min.bytes"), Some("7"));
        assert_eq!(f.client(ClientRole::SourceProducer), p);
        assert_eq!(f.client(ClientRole::TargetGroupConsumer), tg);
        // The forced auto-commit is reported once (by the source consumer).
        let n = cfg.warnings.iter().filter(|w| w.key == "src.consumer.enable.auto.commit").count();
        assert_eq!(n, 1, "{:?}", cfg.warnings);
    }

    #[test]
    fn flow_prefix_overrides_global() {
        let cfg = parse(
            "emit.checkpoints.interval.seconds=30\nsrc->dest.emit.checkpoints.interval.seconds=5\n\
             offset.lag.max=10\nsrc->dest.offset.lag.max=0\n\
             emit.heartbeats.enabled=false\nsrc->dest.emit.heartbeats.enabled=true\n\
             src->dest.emit.heartbeats.interval.seconds=3\nheartbeats.topic.replication.factor=-1\n\
             sync.group.offsets.enabled=TRUE\nsrc->dest.sync.group.offsets.interval.seconds=15\n\
             checkpoints.topic.replication.factor=1\nsrc->dest.offset-syncs.topic.replication.factor=2\n\
             refresh.groups.interval.seconds=-1",
        );
        let f = &cfg.flows[0];
        assert_eq!(f.checkpoints.interval, Duration::from_secs(5));
        assert_eq!(f.offset_syncs.lag_max, 0);
        assert!(f.heartbeats.enabled);
        assert_eq!(f.heartbeats.interval, Duration::from_secs(3));
        assert_eq!(f.heartbeats.replication_factor, -1);
        assert!(f.checkpoints.sync_group_offsets_enabled);
        assert_eq!(f.checkpoints.sync_group_offsets_interval, Duration::from_secs(15));
        assert_eq!(f.checkpoints.replication_factor, 1);
        assert_eq!(f.offset_syncs.replication_factor, 2);
        assert!(!f.checkpoints.refresh_groups_enabled, "negative interval disables");
        assert!(cfg.warnings.iter().any(|w| w.key == "refresh.groups.interval.seconds"));
        assert_eq!(f.settings["sync.group.offsets.enabled"], "true");
        assert_eq!(f.settings["emit.checkpoints.interval.seconds"], "5");
        assert_eq!(f.settings["emit.heartbeats.enabled"], "true");
        assert_eq!(f.settings["refresh.groups.enabled"], "false");
        // Global heartbeats off: dest->src does not emit, src->dest does (flow prefix wins).
        assert_eq!(names(&cfg), vec!["src->dest"]);
    }

    #[test]
    fn syncs_on_target_and_custom_separator() {
        let f = &parse("offset-syncs.topic.location=target").flows[0];
        assert_eq!(f.offset_syncs.location, SyncsLocation::Target);
        assert!(!f.offset_syncs.on_source());
        assert_eq!(f.offset_syncs.topic, "mm2-offset-syncs.src.internal");
        assert_eq!(f.settings["offset-syncs.topic.location"], "target");

        let f = &parse("replication.policy.separator=_").flows[0];
        assert_eq!(f.offset_syncs.topic, "mm2-offset-syncs_dest_internal");
        assert_eq!(f.checkpoints.topic, "src_checkpoints_internal");
        assert_eq!(f.heartbeats.topic, "heartbeats");
        let f = &parse("replication.policy.separator=_\nsrc->dest.offset-syncs.topic.location=TARGET").flows[0];
        assert_eq!(f.offset_syncs.topic, "mm2-offset-syncs_src_internal");
        let f = &parse("replication.policy.separator=_\nreplication.policy.internal.topic.separator.enabled=false")
            .flows[0];
        assert_eq!(f.offset_syncs.topic, "mm2-offset-syncs.dest.internal");
        assert_eq!(f.checkpoints.topic, "src.checkpoints.internal");
    }

    #[test]
    fn offset_syncs_disabled_turns_checkpoints_off() {
        let cfg = parse("src->dest.emit.offset-syncs.enabled=false\nsync.group.offsets.enabled=true");
        let f = &cfg.flows[0];
        assert!(!f.offset_syncs.enabled);
        assert!(!f.checkpoints.enabled);
        assert!(!f.checkpoints.sync_group_offsets_enabled);
        assert!(cfg.warnings.iter().any(|w| w.key == "src->dest.emit.offset-syncs.enabled"), "{:?}", cfg.warnings);
        assert_eq!(f.settings["emit.checkpoints.enabled"], "false");
    }

    #[test]
    fn errors_name_their_key() {
        let cases: &[(&str, &str)] = &[
            ("offset-syncs.topic.location=both", "offset-syncs.topic.location"),
            ("src->dest.offset-syncs.topic.location=", "src->dest.offset-syncs.topic.location"),
            ("emit.offset-syncs.enabled=yes", "emit.offset-syncs.enabled"),
            ("offset-syncs.topic.replication.factor=0", "offset-syncs.topic.replication.factor"),
            ("src->dest.offset.lag.max=lots", "src->dest.offset.lag.max"),
            ("emit.checkpoints.interval.seconds=0", "emit.checkpoints.interval.seconds"),
            ("src->dest.emit.checkpoints.enabled=1", "src->dest.emit.checkpoints.enabled"),
            ("checkpoints.topic.replication.factor=-2", "checkpoints.topic.replication.factor"),
            ("refresh.groups.interval.seconds=0", "refresh.groups.interval.seconds"),
            ("sync.group.offsets.interval.seconds=x", "sync.group.offsets.interval.seconds"),
            ("src->dest.emit.heartbeats.interval.seconds=0", "src->dest.emit.heartbeats.interval.seconds"),
            ("heartbeats.topic.replication.factor=three", "heartbeats.topic.replication.factor"),
            // Heartbeat-only pair: its values are validated too (MM2 runs its herder).
            ("dest->src.emit.heartbeats.interval.seconds=0", "dest->src.emit.heartbeats.interval.seconds"),
            ("dest->src.emit.heartbeats.enabled=maybe", "dest->src.emit.heartbeats.enabled"),
        ];
        for (extra, key) in cases {
            let e = err(extra);
            assert_eq!(&e.key, key, "{extra:?} gave {e}");
        }
        assert!(err("offset-syncs.topic.location=both").problem.contains("`source` or `target`"));
    }

    #[test]
    fn heartbeat_only_pairs() {
        let cfg = parse("");
        assert_eq!(names(&cfg), vec!["src->dest", "dest->src"]);
        let back = cfg.heartbeat_flow("dest->src").expect("heartbeat-only pair");
        assert_eq!((back.source.as_str(), back.target.as_str()), ("dest", "src"));
        assert_eq!(back.settings.interval, Duration::from_secs(1));
        assert!(back.settings.enabled);
        assert_eq!(back.target_producer.get("bootstrap.servers"), Some("s:9092"));
        assert_eq!(back.target_producer.get("client.id"), Some("dest->src|ferry|target-producer"));
        assert_eq!(back.target_admin.get("bootstrap.servers"), Some("s:9092"));
        assert_eq!(cfg.heartbeat_flow("src->dest").expect("flow").target_producer, cfg.flows[0].target_producer);
        assert_eq!(cfg.flows.len(), 1, "heartbeat-only pairs are not flows");

        let cfg = parse("dest->src.emit.heartbeats.enabled=false");
        assert_eq!(names(&cfg), vec!["src->dest"]);
        let cfg = parse("dest->src.emit.heartbeats.interval.seconds=-1");
        assert_eq!(names(&cfg), vec!["src->dest"]);
        let cfg = parse("dest->src.enabled=false\ndest->src.emit.heartbeats.interval.seconds=7");
        assert_eq!(cfg.heartbeat_flow("dest->src").expect("pair").settings.interval, Duration::from_secs(7));
        let cfg = parse("emit.heartbeats.enabled=false");
        assert!(cfg.heartbeat_flows.is_empty());
        let cfg = parse("emit.heartbeats.enabled=false\ndest->src.emit.heartbeats.enabled=true");
        assert_eq!(names(&cfg), vec!["dest->src"]);
    }

    #[test]
    fn heartbeat_pairs_skip_clusters_without_bootstrap() {
        let text = "clusters=a,b,c\na.bootstrap.servers=a:1\nb.bootstrap.servers=b:1\na->b.enabled=true\n";
        let cfg = parse_str(text).expect("parses");
        let names: Vec<&str> = cfg.heartbeat_flows.iter().map(|h| h.name.as_str()).collect();
        assert_eq!(names, vec!["a->b", "b->a"]);
        // Three clusters with bootstrap servers: every ordered pair emits.
        let cfg = parse_str(&format!("{text}c.bootstrap.servers=c:1\n")).expect("parses");
        assert_eq!(cfg.heartbeat_flows.len(), 6);
        // No bootstrap at all: no pairs, no error.
        let cfg = parse_str("clusters=a,b\na->b.enabled=false\n").expect("parses");
        assert!(cfg.heartbeat_flows.is_empty());
    }

    #[test]
    fn restrict_to_targets_filters_heartbeats() {
        let mut cfg = parse_str(
            "clusters=a,b,c\na.bootstrap.servers=a:1\nb.bootstrap.servers=b:1\nc.bootstrap.servers=c:1\n\
             a->b.enabled=true\n",
        )
        .expect("parses");
        cfg.restrict_to_targets(&["a".to_string()]).expect("known");
        assert!(cfg.flows.is_empty());
        let names: Vec<&str> = cfg.heartbeat_flows.iter().map(|h| h.name.as_str()).collect();
        assert_eq!(names, vec!["b->a", "c->a"]);
    }
}
