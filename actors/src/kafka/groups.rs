//! Consumer-group operations: list groups with their state, read and commit a group's offsets.
//!
//! rdkafka has no admin calls for group offsets, so these use a plain consumer configured with the
//! group's id that never subscribes: OffsetFetch reads the committed offsets and OffsetCommit from a
//! non-member writes them, which the broker accepts only while the group has no active member —
//! exactly the condition MM2 puts on group offset sync. All calls block: run them on a blocking thread.

use std::collections::BTreeMap;
use std::time::Duration;

use ferry_engine::client_props::ClientProps;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::{Offset, TopicPartitionList};

use super::clients::{self, LoggingContext};
use crate::error::FerryError;

/// A committed offset with its metadata string (MM2 carries it into checkpoints and synced offsets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Committed {
    /// The next offset to read.
    pub offset: i64,
    /// The committer's metadata (usually empty).
    pub metadata: String,
}

/// Committed offsets by (topic, partition).
pub type GroupOffsets = BTreeMap<(String, i32), Committed>;

fn group_consumer(alias: &str, props: &ClientProps, group: &str) -> Result<BaseConsumer<LoggingContext>, FerryError> {
    let mut config = clients::client_config(props);
    config.set("group.id", group);
    config.set("enable.auto.commit", "false");
    clients::create(alias, "group offsets client", &config)
}

/// Lists the consumer groups of cluster `alias` with their state (`Empty`, `Stable`, `Dead`, ...), or
/// only `group` when given.
///
/// # Errors
/// [`FerryError::Kafka`] when the cluster does not answer.
pub fn list_groups(
    alias: &str,
    props: &ClientProps,
    group: Option<&str>,
    timeout: Duration,
) -> Result<Vec<(String, String)>, FerryError> {
    let consumer = group_consumer(alias, props, "ferry-group-lister")?;
    let list = consumer
        .fetch_group_list(group, timeout)
        .map_err(|e| FerryError::kafka(alias, "listing consumer groups", e))?;
    Ok(list.groups().iter().map(|g| (g.name().to_string(), g.state().to_string())).collect())
}

/// Reads `group`'s committed offsets for `partitions`; partitions without a committed offset are left
/// out.
///
/// # Errors
/// [`FerryError::Kafka`] when the cluster does not answer.
pub fn committed_offsets(
    alias: &str,
    props: &ClientProps,
    group: &str,
    partitions: &[(String, i32)],
    timeout: Duration,
) -> Result<GroupOffsets, FerryError> {
    let consumer = group_consumer(alias, props, group)?;
    let mut list = TopicPartitionList::new();
    for (topic, partition) in partitions {
        list.add_partition(topic, *partition);
    }
    let committed = consumer
        .committed_offsets(list, timeout)
        .map_err(|e| FerryError::kafka(alias, format!("reading committed offsets of group `{group}`"), e))?;
    Ok(committed
        .elements()
        .iter()
        .filter_map(|e| match e.offset() {
            Offset::Offset(offset) => {
                Some(((e.topic().to_string(), e.partition()), Committed { offset, metadata: e.metadata().to_string() }))
            }
            _ => None,
        })
        .collect())
}

/// Commits `offsets` for `group` (the group must have no active member).
///
/// # Errors
/// [`FerryError::Kafka`] when the broker refuses (e.g. a member joined meanwhile).
pub fn commit_offsets(alias: &str, props: &ClientProps, group: &str, offsets: &GroupOffsets) -> Result<(), FerryError> {
    let consumer = group_consumer(alias, props, group)?;
    let mut list = TopicPartitionList::new();
    for ((topic, partition), committed) in offsets {
        list.add_partition_offset(topic, *partition, Offset::Offset(committed.offset))
            .map_err(|e| FerryError::kafka(alias, "building a commit", e))?;
        if let Some(mut element) = list.find_partition(topic, *partition) {
            element.set_metadata(committed.metadata.as_str());
        }
    }
    consumer
        .commit(&list, CommitMode::Sync)
        .map_err(|e| FerryError::kafka(alias, format!("committing offsets of group `{group}`"), e))
}
