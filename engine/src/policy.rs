//! MM2 replication policies: how remote topics are named and recognised.
//!
//! Ports `DefaultReplicationPolicy` and `IdentityReplicationPolicy` from
//! `connect/mirror-client`, including Java `String.split` quirks (trailing empty parts are
//! dropped, so `foo.` is not a remote topic), the configurable separator and
//! `replication.policy.internal.topic.separator.enabled`, plus `MirrorSourceConnector.isCycle`.
//!
//! ```
//! use ferry_engine::policy::ReplicationPolicy;
//! let p = ReplicationPolicy::default();
//! assert_eq!(p.format_remote_topic("src", "foo"), "src.foo");
//! assert_eq!(p.topic_source("src.foo").as_deref(), Some("src"));
//! assert!(p.is_cycle("dest.foo", "dest"));
//! ```

/// The heartbeats topic name MM2 uses.
pub const HEARTBEATS_TOPIC: &str = "heartbeats";
/// Default separator between alias and topic name.
pub const DEFAULT_SEPARATOR: &str = ".";

/// A configured replication policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplicationPolicy {
    /// `DefaultReplicationPolicy`: remote topic = `<source alias><separator><topic>`.
    Default {
        /// `replication.policy.separator`, default `.`.
        separator: String,
        /// `replication.policy.internal.topic.separator.enabled`, default true: whether
        /// internal topic names use `separator` (else `.`).
        internal_separator_enabled: bool,
    },
    /// `IdentityReplicationPolicy`: remote topic = source topic (heartbeats excepted).
    /// Cannot detect replication cycles.
    Identity {
        /// The flow's source alias (`source.cluster.alias`), returned by `topic_source`.
        source_alias: String,
        /// Separator used for heartbeats topics and internal names.
        separator: String,
        /// As for [`ReplicationPolicy::Default`].
        internal_separator_enabled: bool,
    },
}

impl Default for ReplicationPolicy {
    fn default() -> Self {
        Self::Default { separator: DEFAULT_SEPARATOR.to_string(), internal_separator_enabled: true }
    }
}

impl ReplicationPolicy {
    /// The Java simple class name.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Default { .. } => "DefaultReplicationPolicy",
            Self::Identity { .. } => "IdentityReplicationPolicy",
        }
    }

    /// The separator between alias and topic.
    pub fn separator(&self) -> &str {
        match self {
            Self::Default { separator, .. } | Self::Identity { separator, .. } => separator,
        }
    }

    fn internal_separator(&self) -> &str {
        match self {
            Self::Default { separator, internal_separator_enabled }
            | Self::Identity { separator, internal_separator_enabled, .. } => {
                if *internal_separator_enabled {
                    separator
                } else {
                    DEFAULT_SEPARATOR
                }
            }
        }
    }

    fn internal_suffix(&self) -> String {
        format!("{}internal", self.internal_separator())
    }

    fn checkpoints_suffix(&self) -> String {
        format!("{}checkpoints{}", self.internal_separator(), self.internal_suffix())
    }

    /// Name of `topic` from cluster `source_alias` once replicated.
    pub fn format_remote_topic(&self, source_alias: &str, topic: &str) -> String {
        match self {
            Self::Identity { .. } if !looks_like_heartbeat(topic) => topic.to_string(),
            _ => format!("{source_alias}{}{topic}", self.separator()),
        }
    }

    /// Source alias of a remote topic, `None` if `topic` is not remote.
    pub fn topic_source(&self, topic: &str) -> Option<String> {
        match self {
            Self::Identity { source_alias, .. } if !looks_like_heartbeat(topic) => Some(source_alias.clone()),
            _ => default_topic_source(topic, self.separator()).map(str::to_string),
        }
    }

    /// The topic's name on the upstream cluster, `None` if `topic` is not remote.
    pub fn upstream_topic(&self, topic: &str) -> Option<String> {
        match self {
            Self::Identity { .. } if !looks_like_heartbeat(topic) => Some(topic.to_string()),
            _ => {
                let sep = self.separator();
                let source = default_topic_source(topic, sep)?;
                topic.get(source.len() + sep.len()..).map(str::to_string)
            }
        }
    }

    /// The original topic name after any number of hops (`originalTopic`).
    pub fn original_topic(&self, topic: &str) -> String {
        let mut current = topic.to_string();
        // Each hop strictly shortens the name, so this terminates; the bound is belt and braces.
        for _ in 0..=topic.len() {
            match self.upstream_topic(&current) {
                Some(up) if up != current => current = up,
                _ => break,
            }
        }
        current
    }

    /// `mm2-offset-syncs.<alias>.internal` (separator-aware).
    pub fn offset_syncs_topic(&self, cluster_alias: &str) -> String {
        format!("mm2-offset-syncs{}{cluster_alias}{}", self.internal_separator(), self.internal_suffix())
    }

    /// ferry's offset-index journal topic, `ferry-offset-index.<alias>.internal` (separator-aware),
    /// kept next to the offset-syncs topic of the same alias.
    pub fn offset_index_topic(&self, cluster_alias: &str) -> String {
        format!("ferry-offset-index{}{cluster_alias}{}", self.internal_separator(), self.internal_suffix())
    }

    /// `<alias>.checkpoints.internal` (separator-aware).
    pub fn checkpoints_topic(&self, cluster_alias: &str) -> String {
        format!("{cluster_alias}{}", self.checkpoints_suffix())
    }

    /// The heartbeats topic name.
    pub fn heartbeats_topic(&self) -> &'static str {
        HEARTBEATS_TOPIC
    }

    /// True for `heartbeats`, `A.heartbeats`, `B.A.heartbeats`, ...
    pub fn is_heartbeats_topic(&self, topic: &str) -> bool {
        self.original_topic(topic) == HEARTBEATS_TOPIC
    }

    /// True for checkpoints topics.
    pub fn is_checkpoints_topic(&self, topic: &str) -> bool {
        topic.ends_with(&self.checkpoints_suffix())
    }

    /// True for MM2's own internal topics (offset syncs, checkpoints, Connect storage).
    pub fn is_mm2_internal_topic(&self, topic: &str) -> bool {
        topic.ends_with(&self.internal_suffix()) || self.is_checkpoints_topic(topic)
    }

    /// Internal topics are never replicated: Kafka's (`__*`, `.*`), Connect's (`*-internal`,
    /// `*.internal`) and MM2's own.
    pub fn is_internal_topic(&self, topic: &str) -> bool {
        topic.starts_with("__")
            || topic.starts_with('.')
            || topic.ends_with("-internal")
            || topic.ends_with(".internal")
            || self.is_mm2_internal_topic(topic)
    }

    /// `MirrorSourceConnector.isCycle`: true if any hop of `topic` came from `target_alias`.
    /// Always false for identity-named topics (MM2 cannot detect cycles there).
    pub fn is_cycle(&self, topic: &str, target_alias: &str) -> bool {
        let mut current = topic.to_string();
        for _ in 0..=topic.len() {
            let Some(source) = self.topic_source(&current) else {
                return false;
            };
            if source == target_alias {
                return true;
            }
            match self.upstream_topic(&current) {
                Some(up) if up != current => current = up,
                _ => return false,
            }
        }
        false
    }
}

fn looks_like_heartbeat(topic: &str) -> bool {
    topic.ends_with(HEARTBEATS_TOPIC)
}

/// `DefaultReplicationPolicy.topicSource`: Java `split` on the literal separator drops trailing
/// empty parts, and fewer than two parts means "not remote".
fn default_topic_source<'t>(topic: &'t str, separator: &str) -> Option<&'t str> {
    if separator.is_empty() {
        return None;
    }
    let mut parts: Vec<&str> = topic.split(separator).collect();
    while parts.last().is_some_and(|p| p.is_empty()) {
        parts.pop();
    }
    if parts.len() < 2 {
        None
    } else {
        Some(parts[0])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(src: &str) -> ReplicationPolicy {
        ReplicationPolicy::Identity {
            source_alias: src.to_string(),
            separator: ".".to_string(),
            internal_separator_enabled: true,
        }
    }

    fn custom(sep: &str, internal: bool) -> ReplicationPolicy {
        ReplicationPolicy::Default { separator: sep.to_string(), internal_separator_enabled: internal }
    }

    #[test]
    fn default_naming() {
        let p = ReplicationPolicy::default();
        assert_eq!(p.format_remote_topic("src", "foo"), "src.foo");
        assert_eq!(p.topic_source("src.foo").as_deref(), Some("src"));
        assert_eq!(p.upstream_topic("src.foo").as_deref(), Some("foo"));
        assert_eq!(p.upstream_topic("b.a.foo").as_deref(), Some("a.foo"));
        assert_eq!(p.original_topic("b.a.foo"), "foo");
        assert_eq!(p.topic_source("foo"), None);
        assert_eq!(p.upstream_topic("foo"), None);
        assert_eq!(p.name(), "DefaultReplicationPolicy");
    }

    #[test]
    fn java_split_quirks() {
        let p = ReplicationPolicy::default();
        assert_eq!(p.topic_source("foo."), None);
        assert_eq!(p.topic_source("foo.."), None);
        assert_eq!(p.topic_source(".foo").as_deref(), Some(""));
        assert_eq!(p.topic_source("a..b").as_deref(), Some("a"));
        assert_eq!(p.upstream_topic("a..b").as_deref(), Some(".b"));
        assert_eq!(p.topic_source(""), None);
    }

    #[test]
    fn custom_separator_and_internal_names() {
        let p = custom("_", true);
        assert_eq!(p.format_remote_topic("src", "foo"), "src_foo");
        assert_eq!(p.topic_source("src_foo").as_deref(), Some("src"));
        assert_eq!(p.offset_syncs_topic("dest"), "mm2-offset-syncs_dest_internal");
        assert_eq!(p.checkpoints_topic("src"), "src_checkpoints_internal");
        assert!(p.is_internal_topic("src_checkpoints_internal"));
        let p = custom("_", false);
        assert_eq!(p.offset_syncs_topic("dest"), "mm2-offset-syncs.dest.internal");
        assert_eq!(p.checkpoints_topic("src"), "src.checkpoints.internal");
        let d = ReplicationPolicy::default();
        assert_eq!(d.offset_syncs_topic("dest"), "mm2-offset-syncs.dest.internal");
        assert_eq!(d.checkpoints_topic("src"), "src.checkpoints.internal");
    }

    #[test]
    fn internal_topics() {
        let p = ReplicationPolicy::default();
        for t in [
            "__consumer_offsets",
            ".hidden",
            "connect-offsets-internal",
            "mm2-offsets.src.internal",
            "src.checkpoints.internal",
        ] {
            assert!(p.is_internal_topic(t), "{t}");
        }
        assert!(!p.is_internal_topic("orders"));
        assert!(!p.is_internal_topic("src.orders"));
    }

    #[test]
    fn heartbeats() {
        let p = ReplicationPolicy::default();
        assert!(p.is_heartbeats_topic("heartbeats"));
        assert!(p.is_heartbeats_topic("a.heartbeats"));
        assert!(p.is_heartbeats_topic("b.a.heartbeats"));
        assert!(!p.is_heartbeats_topic("myheartbeats"));
        let i = identity("src");
        assert!(i.is_heartbeats_topic("heartbeats"));
        assert!(i.is_heartbeats_topic("a.heartbeats"));
        assert!(!i.is_heartbeats_topic("foo"));
        assert_eq!(i.format_remote_topic("src", "heartbeats"), "src.heartbeats");
    }

    #[test]
    fn cycles_default() {
        let p = ReplicationPolicy::default();
        assert!(p.is_cycle("dest.foo", "dest"));
        assert!(p.is_cycle("x.dest.foo", "dest"));
        assert!(!p.is_cycle("src.foo", "dest"));
        assert!(!p.is_cycle("foo", "dest"));
    }

    #[test]
    fn identity_policy() {
        let i = identity("src");
        assert_eq!(i.format_remote_topic("src", "foo"), "foo");
        assert_eq!(i.topic_source("dest.foo").as_deref(), Some("src"));
        assert_eq!(i.upstream_topic("dest.foo").as_deref(), Some("dest.foo"));
        assert_eq!(i.original_topic("dest.foo"), "dest.foo");
        assert!(!i.is_cycle("dest.foo", "dest"));
        assert!(!i.is_cycle("foo", "dest"));
        // Heartbeats still follow default naming, so their cycles are detected.
        assert!(i.is_cycle("dest.heartbeats", "dest"));
        assert_eq!(i.name(), "IdentityReplicationPolicy");
    }
}
