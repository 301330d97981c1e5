//! Which source topic configs are copied to remote topics (MM2 `MirrorSourceConnector.targetConfig`).
//!
//! MM2 never copies read-only, sensitive or static-broker entries, nor properties excluded by
//! `config.properties.exclude`. Entries whose value is the source's *default* are copied only
//! with `use.defaults.from=source` (KIP-894); with `target` (the default) the target's own
//! default applies, which for periodic sync means a `DELETE` of any override.
//!
//! # Layout
//!
//! [`configs_for_new_topic`] for topic creation, [`config_alterations`] for the periodic
//! incremental sync, [`changes_needed`] to send only what the target's remote topic lacks.

use crate::filter::ConfigPropertyFilter;
use std::collections::BTreeMap;

/// Where default-valued topic configs come from (`use.defaults.from`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultsFrom {
    /// The target cluster's defaults win (MM2 default).
    Target,
    /// The source cluster's default values are copied.
    Source,
}

/// Origin of a described config value (Kafka `ConfigEntry.ConfigSource`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigSource {
    /// Set on the topic.
    DynamicTopic,
    /// Dynamic per-broker setting.
    DynamicBroker,
    /// Dynamic cluster-wide broker default.
    DynamicDefaultBroker,
    /// `server.properties` of the broker: never copied.
    StaticBroker,
    /// Kafka's built-in default.
    Default,
    /// Anything else reported by the broker.
    Unknown,
}

/// One described topic config entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicConfigEntry {
    /// Config name, e.g. `retention.ms`.
    pub name: String,
    /// Value, `None` when the broker hides it.
    pub value: Option<String>,
    /// Where the value comes from.
    pub source: ConfigSource,
    /// Read-only entries cannot be set.
    pub is_read_only: bool,
    /// Sensitive entries are never copied.
    pub is_sensitive: bool,
}

/// One incremental alteration for the periodic topic config sync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigAlteration {
    /// `SET name=value`.
    Set {
        /// Config name.
        name: String,
        /// New value.
        value: String,
    },
    /// `DELETE name` (fall back to the target's default).
    Delete {
        /// Config name.
        name: String,
    },
}

fn eligible(entry: &TopicConfigEntry, filter: &ConfigPropertyFilter) -> bool {
    !entry.is_read_only
        && !entry.is_sensitive
        && entry.source != ConfigSource::StaticBroker
        && filter.should_replicate(&entry.name)
}

/// Configs to set on a newly created remote topic.
pub fn configs_for_new_topic(
    entries: &[TopicConfigEntry],
    filter: &ConfigPropertyFilter,
    defaults_from: DefaultsFrom,
) -> BTreeMap<String, String> {
    entries
        .iter()
        .filter(|e| e.source != ConfigSource::Default || defaults_from == DefaultsFrom::Source)
        .filter(|e| eligible(e, filter))
        .filter_map(|e| e.value.clone().map(|v| (e.name.clone(), v)))
        .collect()
}

/// Alterations for the periodic sync of an existing remote topic (MM2 incremental mode):
/// non-default entries are set; default entries are deleted on the target, or set to the
/// source default with [`DefaultsFrom::Source`].
pub fn config_alterations(
    entries: &[TopicConfigEntry],
    filter: &ConfigPropertyFilter,
    defaults_from: DefaultsFrom,
) -> Vec<ConfigAlteration> {
    entries
        .iter()
        .filter(|e| eligible(e, filter))
        .filter_map(|e| {
            if e.source == ConfigSource::Default && defaults_from == DefaultsFrom::Target {
                Some(ConfigAlteration::Delete { name: e.name.clone() })
            } else {
                e.value.clone().map(|value| ConfigAlteration::Set { name: e.name.clone(), value })
            }
        })
        .collect()
}

/// The alterations of `wanted` (from [`config_alterations`]) that would change the remote topic whose
/// described configs are `target`: a `SET` whose value differs from the target's, a `DELETE` of a
/// value set on the topic itself. An empty result means the remote topic is in sync, so periodic
/// passes send nothing.
pub fn changes_needed(wanted: Vec<ConfigAlteration>, target: &[TopicConfigEntry]) -> Vec<ConfigAlteration> {
    let on_target = |name: &str| target.iter().find(|e| e.name == name);
    wanted
        .into_iter()
        .filter(|alteration| match alteration {
            ConfigAlteration::Set { name, value } => {
                on_target(name).and_then(|e| e.value.as_deref()) != Some(value.as_str())
            }
            ConfigAlteration::Delete { name } => {
                on_target(name).is_some_and(|e| e.source == ConfigSource::DynamicTopic)
            }
        })
        .collect()
}

impl ConfigAlteration {
    /// The config name altered.
    pub fn name(&self) -> &str {
        match self {
            Self::Set { name, .. } | Self::Delete { name } => name,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, value: Option<&str>, source: ConfigSource) -> TopicConfigEntry {
        TopicConfigEntry {
            name: name.to_string(),
            value: value.map(str::to_string),
            source,
            is_read_only: false,
            is_sensitive: false,
        }
    }

    fn sample() -> Vec<TopicConfigEntry> {
        let mut ro = entry("ro", Some("1"), ConfigSource::DynamicTopic);
        ro.is_read_only = true;
        let mut sens = entry("sens", Some("1"), ConfigSource::DynamicTopic);
        sens.is_sensitive = true;
        vec![
            entry("retention.ms", Some("1000"), ConfigSource::DynamicTopic),
            entry("cleanup.policy", Some("delete"), ConfigSource::Default),
            entry("segment.bytes", Some("5"), ConfigSource::StaticBroker),
            entry("min.insync.replicas", Some("2"), ConfigSource::DynamicTopic),
            entry("max.message.bytes", Some("9"), ConfigSource::DynamicDefaultBroker),
            entry("hidden", None, ConfigSource::DynamicTopic),
            ro,
            sens,
        ]
    }

    #[test]
    fn new_topic_defaults_from_target() {
        let got = configs_for_new_topic(&sample(), &ConfigPropertyFilter::default(), DefaultsFrom::Target);
        let want: BTreeMap<String, String> = [("retention.ms", "1000"), ("max.message.bytes", "9")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn new_topic_defaults_from_source() {
        let got = configs_for_new_topic(&sample(), &ConfigPropertyFilter::default(), DefaultsFrom::Source);
        assert_eq!(got.get("cleanup.policy").map(String::as_str), Some("delete"));
        assert_eq!(got.len(), 3);
    }

    #[test]
    fn alterations() {
        let got = config_alterations(&sample(), &ConfigPropertyFilter::default(), DefaultsFrom::Target);
        assert!(got.contains(&ConfigAlteration::Delete { name: "cleanup.policy".into() }));
        assert!(got.contains(&ConfigAlteration::Set { name: "retention.ms".into(), value: "1000".into() }));
        assert_eq!(got.len(), 3);
        let got = config_alterations(&sample(), &ConfigPropertyFilter::default(), DefaultsFrom::Source);
        assert!(got.contains(&ConfigAlteration::Set { name: "cleanup.policy".into(), value: "delete".into() }));
    }

    #[test]
    fn only_differences_are_sent() {
        let wanted = vec![
            ConfigAlteration::Set { name: "retention.ms".into(), value: "1000".into() },
            ConfigAlteration::Set { name: "max.message.bytes".into(), value: "9".into() },
            ConfigAlteration::Set { name: "segment.ms".into(), value: "7".into() },
            ConfigAlteration::Delete { name: "cleanup.policy".into() },
            ConfigAlteration::Delete { name: "segment.bytes".into() },
            ConfigAlteration::Delete { name: "unknown.on.target".into() },
        ];
        let target = vec![
            entry("retention.ms", Some("1000"), ConfigSource::DynamicTopic),
            entry("max.message.bytes", Some("8"), ConfigSource::DynamicTopic),
            entry("cleanup.policy", Some("compact"), ConfigSource::DynamicTopic),
            entry("segment.bytes", Some("5"), ConfigSource::Default),
        ];
        let got = changes_needed(wanted, &target);
        assert_eq!(
            got,
            vec![
                ConfigAlteration::Set { name: "max.message.bytes".into(), value: "9".into() },
                ConfigAlteration::Set { name: "segment.ms".into(), value: "7".into() },
                ConfigAlteration::Delete { name: "cleanup.policy".into() },
            ]
        );
        assert_eq!(got[2].name(), "cleanup.policy");
    }

    #[test]
    fn a_synced_topic_needs_nothing() {
        let source = sample();
        let wanted = config_alterations(&source, &ConfigPropertyFilter::default(), DefaultsFrom::Target);
        let target = vec![
            entry("retention.ms", Some("1000"), ConfigSource::DynamicTopic),
            entry("cleanup.policy", Some("delete"), ConfigSource::Default),
            entry("max.message.bytes", Some("9"), ConfigSource::DynamicTopic),
        ];
        assert!(changes_needed(wanted, &target).is_empty());
    }
}
