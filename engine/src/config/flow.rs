//! One enabled replication flow `A->B`, fully resolved from `mm2.properties`.
//!
//! [`FlowConfig`] holds everything the runtime needs for a flow: filters, policy, topic creation
//! and sync settings, offset storage, the five librdkafka client configs, and ferry tuning.
//! `build_flow` resolves each key with MM2 precedence (see the `scope` module) and reports bad
//! values as errors naming the exact key.

use super::error::{ConfigError, ConfigWarning};
use super::ferry::FerrySettings;
use super::keys::{is_connector_key, CONNECTOR_DEFAULTS};
use super::scope::{FlowScope, Found};
use super::tasks::{self, CheckpointSettings, HeartbeatSettings, OffsetSyncSettings};
use super::values::{parse_bool, parse_int, parse_positive_millis, parse_replication_factor};
use crate::client_props::{self, ClientProps, ClientRole};
use crate::filter::{ConfigPropertyFilter, GroupFilter, PatternList, TopicFilter};
use crate::policy::ReplicationPolicy;
use crate::topic_config::DefaultsFrom;
use std::collections::BTreeMap;
use std::time::Duration;

/// ferry's default `offset.flush.interval.ms`.
pub const DEFAULT_OFFSET_FLUSH_INTERVAL_MS: u64 = 1000;

/// A resolved, enabled flow.
#[derive(Debug, Clone)]
pub struct FlowConfig {
    /// Source cluster alias.
    pub source: String,
    /// Target cluster alias.
    pub target: String,
    /// `"source->target"`.
    pub name: String,
    /// `topics` / `topics.exclude` (legacy `topics.whitelist` / `topics.blacklist` accepted).
    pub topics: TopicFilter,
    /// `groups` / `groups.exclude` (legacy `groups.whitelist` / `groups.blacklist` accepted).
    pub groups: GroupFilter,
    /// `replication.policy.class` with its separator settings.
    pub policy: ReplicationPolicy,
    /// `replication.factor` of newly created remote topics; MM2 default 2; -1 = broker default.
    pub replication_factor: i16,
    /// `sync.topic.configs.enabled`, default true (false also when the interval is negative).
    pub sync_topic_configs_enabled: bool,
    /// `sync.topic.configs.interval.seconds`, default 600 s.
    pub sync_topic_configs_interval: Duration,
    /// `sync.topic.acls.enabled`, default true (false also when the interval is negative): mirror the
    /// literal topic ACLs of replicated topics onto the remote topics (see [`crate::acl`]).
    pub sync_topic_acls_enabled: bool,
    /// `sync.topic.acls.interval.seconds`, default 600 s.
    pub sync_topic_acls_interval: Duration,
    /// `config.properties.exclude` (plus MM2 defaults when unset).
    pub config_filter: ConfigPropertyFilter,
    /// `use.defaults.from`: `target` (default) or `source`.
    pub use_defaults_from: DefaultsFrom,
    /// `refresh.topics.enabled`, default true (false also when the interval is negative).
    pub refresh_topics_enabled: bool,
    /// `refresh.topics.interval.seconds`, default 600 s: how often new topics/partitions are found.
    pub refresh_topics_interval: Duration,
    /// `heartbeats.replication.enabled`, default true: replicate heartbeats topics even when
    /// the topic filter excludes them (KIP-1089).
    pub heartbeats_replication_enabled: bool,
    /// `offset.flush.interval.ms` (top level, else `{target}.offset.flush.interval.ms`): how often
    /// delivered source offsets are written to the offsets topic. ferry's default is 1000 ms,
    /// not MM2/Connect's 60000 ms, so a restart re-copies at most about a second of records.
    pub offset_flush_interval: Duration,
    /// `offset.storage.topic`, default `mm2-offsets.<source>.internal` (on the target).
    pub offset_storage_topic: String,
    /// `offset.storage.partitions`, default 25 (used when ferry creates the topic).
    pub offset_storage_partitions: i32,
    /// `offset.storage.replication.factor`, default 3; -1 = broker default.
    pub offset_storage_replication_factor: i16,
    /// Exactly-once mode (`exactly.once.source.support` / `exactly.once.support`, see
    /// [`exactly_once`](super::exactly_once)): records and progress in one target transaction per batch.
    pub exactly_once: bool,
    /// librdkafka properties of the consumer reading the source.
    pub source_consumer: ClientProps,
    /// librdkafka properties of the source admin client.
    pub source_admin: ClientProps,
    /// librdkafka properties of the producer writing replicated records to the target.
    pub target_producer: ClientProps,
    /// librdkafka properties of the target admin client.
    pub target_admin: ClientProps,
    /// librdkafka properties of the consumer reading the offsets topic on the target.
    pub target_consumer: ClientProps,
    /// librdkafka properties of the producer writing offset syncs to the source cluster (used
    /// when `offset_syncs.location` is `source`; else write them with `target_producer`).
    pub source_producer: ClientProps,
    /// librdkafka properties of a consumer on the source reading committed group offsets
    /// (`enable.auto.commit=false`; never commits).
    pub source_group_consumer: ClientProps,
    /// librdkafka properties of a consumer on the target committing translated group offsets
    /// (`enable.auto.commit=false`).
    pub target_group_consumer: ClientProps,
    /// Offset-sync emission: `emit.offset-syncs.enabled`, `offset-syncs.topic.*`, `offset.lag.max`.
    pub offset_syncs: OffsetSyncSettings,
    /// Checkpoints and group offset sync: `emit.checkpoints.*`, `refresh.groups.*`,
    /// `sync.group.offsets.*`, `checkpoints.topic.replication.factor`.
    pub checkpoints: CheckpointSettings,
    /// Heartbeats into the target: `emit.heartbeats.*`, `heartbeats.topic.replication.factor`.
    pub heartbeats: HeartbeatSettings,
    /// Every resolved connector-level key for this flow, including defaults, plus the resolved
    /// worker and `ferry.*` keys (for `ferry check`).
    pub settings: BTreeMap<String, String>,
    /// ferry-only tuning.
    pub ferry: FerrySettings,
}

impl FlowConfig {
    /// MM2 `shouldReplicateTopic`: (topic filter accepts OR (heartbeats replication enabled AND
    /// heartbeats topic)) AND NOT internal AND NOT a cycle back to the target.
    pub fn should_replicate_topic(&self, topic: &str) -> bool {
        (self.topics.accepts(topic) || (self.heartbeats_replication_enabled && self.policy.is_heartbeats_topic(topic)))
            && !self.policy.is_internal_topic(topic)
            && !self.policy.is_cycle(topic, &self.target)
    }

    /// The name of `topic` on the target.
    pub fn remote_topic(&self, topic: &str) -> String {
        self.policy.format_remote_topic(&self.source, topic)
    }

    /// MM2 `shouldReplicateGroup` of the group filter.
    pub fn should_replicate_group(&self, group: &str) -> bool {
        self.groups.accepts(group)
    }

    /// The client properties of `role`.
    pub fn client(&self, role: ClientRole) -> &ClientProps {
        match role {
            ClientRole::SourceConsumer => &self.source_consumer,
            ClientRole::SourceAdmin => &self.source_admin,
            ClientRole::TargetProducer => &self.target_producer,
            ClientRole::TargetAdmin => &self.target_admin,
            ClientRole::TargetConsumer => &self.target_consumer,
            ClientRole::SourceProducer => &self.source_producer,
            ClientRole::SourceGroupConsumer => &self.source_group_consumer,
            ClientRole::TargetGroupConsumer => &self.target_group_consumer,
        }
    }
}

fn pattern(found: Option<Found<'_>>, default: &str) -> Result<(PatternList, String), ConfigError> {
    let (key, value) = found.map_or(("(default)", default), |f| (f.key, f.value));
    PatternList::parse(value)
        .map(|p| (p, value.to_string()))
        .map_err(|e| ConfigError::new(key, format!("invalid regex: {e}")))
}

pub(super) fn boolean(found: Option<Found<'_>>, default: bool) -> Result<bool, ConfigError> {
    found.map_or(Ok(default), |f| parse_bool(f.key, f.value))
}

/// An MM2 `*.interval.seconds`: a negative value disables the task (MM2's `Scheduler` skips
/// it), zero is rejected (MM2 would fail to schedule it).
pub(super) fn interval(
    found: Option<Found<'_>>,
    default_secs: u64,
    warnings: &mut Vec<ConfigWarning>,
) -> Result<(Duration, bool), ConfigError> {
    let Some(f) = found else {
        return Ok((Duration::from_secs(default_secs), true));
    };
    let secs: i64 = parse_int(f.key, f.value, i64::MIN)?;
    if secs < 0 {
        warnings.push(ConfigWarning::new(f.key, "negative interval disables this task (as in MM2)"));
        return Ok((Duration::from_secs(default_secs), false));
    }
    if secs == 0 {
        return Err(ConfigError::new(f.key, "interval must be positive (or negative to disable)"));
    }
    // Proof of cast: secs > 0 here.
    Ok((Duration::from_secs(secs.unsigned_abs()), true))
}

fn policy(scope: &FlowScope<'_>, source: &str) -> Result<ReplicationPolicy, ConfigError> {
    let separator = match scope.connector("replication.policy.separator") {
        Some(f) if f.value.is_empty() => return Err(ConfigError::new(f.key, "separator must not be empty")),
        Some(f) => f.value.to_string(),
        None => ".".to_string(),
    };
    let internal_separator_enabled =
        boolean(scope.connector("replication.policy.internal.topic.separator.enabled"), true)?;
    let class = scope.connector("replication.policy.class");
    let simple = class.map_or("DefaultReplicationPolicy", |f| {
        f.value.strip_prefix("org.apache.kafka.connect.mirror.").unwrap_or(f.value)
    });
    match (simple, class) {
        ("DefaultReplicationPolicy", _) => Ok(ReplicationPolicy::Default { separator, internal_separator_enabled }),
        ("IdentityReplicationPolicy", _) => {
            Ok(ReplicationPolicy::Identity { source_alias: source.to_string(), separator, internal_separator_enabled })
        }
        (_, Some(f)) => Err(ConfigError::new(
            f.key,
            format!(
                "unsupported replication policy `{}`; ferry supports \
                 org.apache.kafka.connect.mirror.DefaultReplicationPolicy and IdentityReplicationPolicy",
                f.value
            ),
        )),
        (_, None) => Ok(ReplicationPolicy::default()),
    }
}

fn defaults_from(found: Option<Found<'_>>) -> Result<DefaultsFrom, ConfigError> {
    match found {
        None => Ok(DefaultsFrom::Target),
        Some(f) if f.value.eq_ignore_ascii_case("target") => Ok(DefaultsFrom::Target),
        Some(f) if f.value.eq_ignore_ascii_case("source") => Ok(DefaultsFrom::Source),
        Some(f) => Err(ConfigError::new(f.key, format!("expected `target` or `source`, got `{}`", f.value))),
    }
}

/// Resolves flow `source->target` from the raw properties. Client-property warnings are appended
/// to `warnings`.
///
/// # Errors
///
/// The first invalid value (bad regex, number, boolean, policy class, `use.defaults.from`),
/// naming its key.
pub(crate) fn build_flow(
    raw: &BTreeMap<String, String>,
    source: &str,
    target: &str,
    warnings: &mut Vec<ConfigWarning>,
) -> Result<FlowConfig, ConfigError> {
    let scope = FlowScope::new(raw, source, target);

    let (topics_in, topics_src) =
        pattern(scope.connector_or_legacy("topics", "topics.whitelist"), TopicFilter::DEFAULT_INCLUDE)?;
    let (topics_ex, topics_ex_src) =
        pattern(scope.connector_or_legacy("topics.exclude", "topics.blacklist"), TopicFilter::DEFAULT_EXCLUDE)?;
    let (groups_in, groups_src) =
        pattern(scope.connector_or_legacy("groups", "groups.whitelist"), GroupFilter::DEFAULT_INCLUDE)?;
    let (groups_ex, groups_ex_src) =
        pattern(scope.connector_or_legacy("groups.exclude", "groups.blacklist"), GroupFilter::DEFAULT_EXCLUDE)?;
    let cfg_found = scope.connector_or_legacy("config.properties.exclude", "config.properties.blacklist");
    let cfg_src = cfg_found.map_or(ConfigPropertyFilter::DEFAULT_EXCLUDE, |f| f.value).to_string();
    let config_filter = ConfigPropertyFilter::new(&cfg_src)
        .map_err(|e| ConfigError::new(cfg_found.map_or("(default)", |f| f.key), format!("invalid regex: {e}")))?;

    let replication_factor =
        scope.connector("replication.factor").map_or(Ok(2), |f| parse_replication_factor(f.key, f.value))?;
    let sync_enabled = boolean(scope.connector("sync.topic.configs.enabled"), true)?;
    let (sync_interval, sync_on) = interval(scope.connector("sync.topic.configs.interval.seconds"), 600, warnings)?;
    let acls_enabled = boolean(scope.connector("sync.topic.acls.enabled"), true)?;
    let (acls_interval, acls_on) = interval(scope.connector("sync.topic.acls.interval.seconds"), 600, warnings)?;
    let refresh_enabled = boolean(scope.connector("refresh.topics.enabled"), true)?;
    let (refresh_interval, refresh_on) = interval(scope.connector("refresh.topics.interval.seconds"), 600, warnings)?;
    let heartbeats_replication = boolean(scope.connector("heartbeats.replication.enabled"), true)?;
    let use_defaults_from = defaults_from(scope.connector("use.defaults.from"))?;
    let policy = policy(&scope, source)?;

    let offset_flush_interval = scope
        .worker("offset.flush.interval.ms")
        .map_or(Ok(Duration::from_millis(DEFAULT_OFFSET_FLUSH_INTERVAL_MS)), |f| {
            parse_positive_millis(f.key, f.value)
        })?;
    let offset_storage_topic = match scope.worker("offset.storage.topic") {
        Some(f) if f.value.is_empty() => return Err(ConfigError::new(f.key, "topic name must not be empty")),
        Some(f) => f.value.to_string(),
        None => format!("mm2-offsets.{source}.internal"),
    };
    let offset_storage_partitions =
        scope.worker("offset.storage.partitions").map_or(Ok(25), |f| parse_int::<i32>(f.key, f.value, 1))?;
    let offset_storage_replication_factor = scope
        .worker("offset.storage.replication.factor")
        .map_or(Ok(3), |f| parse_replication_factor(f.key, f.value))?;
    let ferry = FerrySettings::resolve(&scope)?;
    let offset_syncs = tasks::offset_syncs(&scope, &policy, source, target, warnings)?;
    let checkpoints = tasks::checkpoints(&scope, &policy, source, &offset_syncs, warnings)?;
    let heartbeats = tasks::heartbeats(&scope, warnings)?;

    let mut client = |role| {
        let (props, w) = client_props::build(raw, source, target, role)?;
        warnings.extend(w);
        Ok::<_, ConfigError>(props)
    };
    let source_consumer = client(ClientRole::SourceConsumer)?;
    let source_admin = client(ClientRole::SourceAdmin)?;
    let target_producer = client(ClientRole::TargetProducer)?;
    let target_admin = client(ClientRole::TargetAdmin)?;
    let target_consumer = client(ClientRole::TargetConsumer)?;
    let source_producer = client(ClientRole::SourceProducer)?;
    let source_group_consumer = client(ClientRole::SourceGroupConsumer)?;
    let exactly_once = super::exactly_once::resolve(&scope, source, &source_consumer)?;
    let target_group_consumer = client(ClientRole::TargetGroupConsumer)?;

    let mut settings: BTreeMap<String, String> =
        CONNECTOR_DEFAULTS.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    settings.extend(scope.connector_view(is_connector_key));
    for (k, v) in [
        ("topics", topics_src),
        ("topics.exclude", topics_ex_src),
        ("groups", groups_src),
        ("groups.exclude", groups_ex_src),
        ("config.properties.exclude", cfg_src),
        ("name", format!("{source}->{target}")),
        ("source.cluster.alias", source.to_string()),
        ("target.cluster.alias", target.to_string()),
        ("enabled", "true".to_string()),
        ("offset.flush.interval.ms", offset_flush_interval.as_millis().to_string()),
        ("offset.storage.topic", offset_storage_topic.clone()),
        ("offset.storage.partitions", offset_storage_partitions.to_string()),
        ("offset.storage.replication.factor", offset_storage_replication_factor.to_string()),
    ] {
        settings.insert(k.to_string(), v);
    }
    for legacy in
        ["topics.blacklist", "topics.whitelist", "groups.blacklist", "groups.whitelist", "config.properties.blacklist"]
    {
        settings.remove(legacy);
    }
    settings.extend(ferry.as_settings());
    settings.extend(tasks::as_settings(&offset_syncs, &checkpoints, &heartbeats));

    Ok(FlowConfig {
        source: source.to_string(),
        target: target.to_string(),
        name: format!("{source}->{target}"),
        topics: TopicFilter::from_lists(topics_in, topics_ex),
        groups: GroupFilter::from_lists(groups_in, groups_ex),
        policy,
        replication_factor,
        sync_topic_configs_enabled: sync_enabled && sync_on,
        sync_topic_configs_interval: sync_interval,
        sync_topic_acls_enabled: acls_enabled && acls_on,
        sync_topic_acls_interval: acls_interval,
        config_filter,
        use_defaults_from,
        refresh_topics_enabled: refresh_enabled && refresh_on,
        refresh_topics_interval: refresh_interval,
        heartbeats_replication_enabled: heartbeats_replication,
        offset_flush_interval,
        offset_storage_topic,
        offset_storage_partitions,
        offset_storage_replication_factor,
        exactly_once,
        source_consumer,
        source_admin,
        target_producer,
        target_admin,
        target_consumer,
        source_producer,
        source_group_consumer,
        target_group_consumer,
        offset_syncs,
        checkpoints,
        heartbeats,
        settings,
        ferry,
    })
}
