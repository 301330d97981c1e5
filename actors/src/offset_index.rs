//! A flow's exact translation indexes and where they are durable.
//!
//! Two topics on the cluster `offset-syncs.topic.location` names, both read once at start (and by
//! `ferry translate`):
//!
//! - `mm2-offset-syncs.<alias>.internal`, MM2's: ferry's syncs carry the header `ferry.sync`
//!   (every change point, dense); syncs without it are MM2's (sparse). Compacted per partition, so
//!   only the latest sync of each partition is sure to survive.
//! - `ferry-offset-index.<alias>.internal`, ferry's journal ([`ferry_engine::translate::journal`]):
//!   the change points and tails keyed so that compaction keeps what a rebuild needs.
//!
//! For a partition the journal knows, the index is rebuilt from the journal plus MM2's syncs (merged
//! by target offset); otherwise from the syncs topic alone, as before the journal existed.
//! Malformed records are skipped with a warning.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use ferry_engine::client_props::ClientProps;
use ferry_engine::config::SyncsLocation;
use ferry_engine::translate::{IndexJournal, Replay};
use ferry_engine::wire::{JournalRecord, OffsetSync};
use ferry_engine::{FlowConfig, OffsetIndex};
use rdkafka::message::{Headers, Message};

use crate::error::FerryError;
use crate::kafka::read_to_end::read_to_end;

/// Header marking ferry's syncs (one per change point, never coalesced).
pub const FERRY_SYNC_HEADER: &str = "ferry.sync";

/// A source partition: (topic, partition).
pub type SourcePartition = (String, i32);

/// Per source partition, the exact translation index: shared by the sync publisher (which feeds it
/// once per progress tick, never per record) and the checkpoint emitter.
pub type SyncIndexes = Arc<Mutex<BTreeMap<SourcePartition, OffsetIndex>>>;

/// Locks the indexes; updates are single calls on plain data, so a panic elsewhere leaves them
/// consistent.
pub fn lock(indexes: &SyncIndexes) -> MutexGuard<'_, BTreeMap<SourcePartition, OffsetIndex>> {
    indexes.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// One offset sync as read back, with whether ferry wrote it (dense: every change point) or MM2
/// (sparse).
#[derive(Debug, Clone)]
pub struct StoredSync {
    /// The sync.
    pub sync: OffsetSync,
    /// Whether it carries ferry's header.
    pub dense: bool,
}

/// The indexes of a flow rebuilt from its topics, with the journals that continue them.
#[derive(Debug, Default)]
pub struct LoadedIndexes {
    /// Translation index per source partition.
    pub indexes: BTreeMap<SourcePartition, OffsetIndex>,
    /// Journal state per source partition (only those with an index).
    pub journals: BTreeMap<SourcePartition, IndexJournal>,
}

/// The cluster alias and reader properties of the cluster holding the flow's sync topics.
fn syncs_cluster(flow: &FlowConfig) -> (&str, &ClientProps) {
    match flow.offset_syncs.location {
        SyncsLocation::Source => (&flow.source, &flow.source_group_consumer),
        SyncsLocation::Target => (&flow.target, &flow.target_consumer),
    }
}

/// Rebuilds every index of `flow` from its journal and offset-syncs topics. Blocking.
///
/// # Errors
/// [`FerryError`] when the cluster holding the topics cannot be read.
pub fn load(flow: &FlowConfig, timeout: Duration) -> Result<LoadedIndexes, FerryError> {
    load_with_syncs(flow, timeout).map(|(loaded, _)| loaded)
}

/// [`load`], also returning the offset syncs read, per source partition in the order written (for MM2's
/// conservative rule where the index cannot answer). Blocking.
///
/// # Errors
/// [`FerryError`] when the cluster holding the topics cannot be read.
pub fn load_with_syncs(
    flow: &FlowConfig,
    timeout: Duration,
) -> Result<(LoadedIndexes, BTreeMap<SourcePartition, Vec<StoredSync>>), FerryError> {
    let journal = read_journal(flow, timeout)?;
    let mut syncs: BTreeMap<SourcePartition, Vec<StoredSync>> = BTreeMap::new();
    for stored in read_syncs(flow, timeout)? {
        syncs.entry((stored.sync.topic.clone(), stored.sync.partition)).or_default().push(stored);
    }
    let mut loaded = LoadedIndexes::default();
    for (partition, replay) in &journal {
        let sparse: Vec<(u64, u64)> =
            syncs.get(partition).into_iter().flatten().filter(|s| !s.dense).filter_map(pair).collect();
        let (index, resumed) = replay.finish_with_sparse(&sparse);
        loaded.journals.insert(partition.clone(), resumed);
        loaded.indexes.insert(partition.clone(), index);
    }
    for (partition, stored) in syncs.iter().filter(|(p, _)| !journal.contains_key(*p)) {
        let mut index = OffsetIndex::new();
        for s in stored {
            if let Some((u, d)) = pair(s) {
                index.record_pair(u, d, s.dense);
            }
        }
        let last_dense = stored.last().filter(|s| s.dense).and_then(pair);
        loaded.journals.insert(partition.clone(), IndexJournal::resume(Default::default(), last_dense));
        loaded.indexes.insert(partition.clone(), index);
    }
    Ok((loaded, syncs))
}

fn pair(stored: &StoredSync) -> Option<(u64, u64)> {
    Some((u64::try_from(stored.sync.upstream_offset).ok()?, u64::try_from(stored.sync.downstream_offset).ok()?))
}

/// Every offset sync of `flow` in its topic, in the order written. Blocking.
fn read_syncs(flow: &FlowConfig, timeout: Duration) -> Result<Vec<StoredSync>, FerryError> {
    let (alias, props) = syncs_cluster(flow);
    let topic = &flow.offset_syncs.topic;
    let mut syncs = Vec::new();
    read_to_end(alias, props, topic, timeout, |message| {
        let (Some(key), Some(value)) = (message.key(), message.payload()) else { return };
        match OffsetSync::decode(key, value) {
            Ok(sync) => {
                let dense = message.headers().is_some_and(|h| h.iter().any(|h| h.key == FERRY_SYNC_HEADER));
                syncs.push(StoredSync { sync, dense });
            }
            Err(error) => tracing::warn!(topic, offset = message.offset(), %error, "skipping a malformed offset sync"),
        }
    })?;
    Ok(syncs)
}

/// Replays the journal topic of `flow`, per source partition. Blocking.
fn read_journal(flow: &FlowConfig, timeout: Duration) -> Result<BTreeMap<SourcePartition, Replay>, FerryError> {
    let (alias, props) = syncs_cluster(flow);
    let topic = &flow.offset_syncs.index_topic;
    let mut replays: BTreeMap<SourcePartition, Replay> = BTreeMap::new();
    read_to_end(alias, props, topic, timeout, |message| {
        let Some(key) = message.key() else { return };
        match JournalRecord::decode(key, message.payload()) {
            Ok(record) => replays.entry((record.topic, record.partition)).or_default().apply(record.slot, record.value),
            Err(error) => {
                tracing::warn!(topic, offset = message.offset(), %error, "skipping a malformed offset-index record")
            }
        }
    })?;
    replays.retain(|_, replay| !replay.is_empty());
    Ok(replays)
}
