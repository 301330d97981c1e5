//! Publishing offset syncs: the (source offset, target offset) pairs MM2's checkpoint connector and
//! ferry's translation read, in MM2's format and topic, plus ferry's offset-index journal.
//!
//! The data path queues syncs as batches complete (see [`crate::pipeline::tracker`]); nothing is
//! produced per record on the hot path. At every progress tick the supervisor calls
//! [`SyncPublisher::publish_pending`], which feeds the queued syncs to the translation indexes, writes
//! them in order to `mm2-offset-syncs.<alias>.internal` (on the source by default,
//! `offset-syncs.topic.location`) and writes what the journal needs to keep of them to
//! `ferry-offset-index.<alias>.internal` (see [`crate::offset_index`]), then waits for every ack
//! **before** progress is stored, so stored progress never covers a copy whose sync could be lost.
//! Writes the cluster refused are sent again, first and in order, at the next tick.
//! [`SyncPublisher::prune`] shrinks the indexes and the journal to the source's retention.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use ferry_engine::config::SyncsLocation;
use ferry_engine::translate::{IndexJournal, JournalEntry};
use ferry_engine::wire::{JournalRecord, OffsetSync, WireError};
use ferry_engine::FlowConfig;
use rdkafka::error::KafkaError;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

use crate::error::FerryError;
use crate::kafka::admin::Admin;
use crate::kafka::clients::{self, LoggingContext};
use crate::kafka::produce::{acknowledged, enqueue};
use crate::offset_index::{self, lock, LoadedIndexes, SourcePartition, SyncIndexes, FERRY_SYNC_HEADER};

/// One record for the sync topics: which topic, key, value (`None`: tombstone), whether it is a sync.
struct Outgoing {
    journal: bool,
    key: Vec<u8>,
    value: Option<Vec<u8>>,
}

/// Writes a flow's queued offset syncs to the offset-syncs topic and its journal.
pub struct SyncPublisher {
    alias: String,
    topic: String,
    journal_topic: String,
    producer: FutureProducer<LoggingContext>,
    queued: UnboundedReceiver<OffsetSync>,
    timeout: Duration,
    indexes: SyncIndexes,
    journals: BTreeMap<SourcePartition, IndexJournal>,
    /// Records not acknowledged yet (a failed tick), sent again first.
    unacked: Vec<Outgoing>,
}

impl SyncPublisher {
    /// Creates the offset-syncs and journal topics if needed, rebuilds the indexes from them (with
    /// `ferry.group.enabled` only later, per assigned partition: see [`Self::reload`]) and returns the
    /// publisher with the sender the data path queues syncs into.
    ///
    /// # Errors
    /// [`FerryError`] when a topic cannot be created or read, or the producer cannot be built.
    pub async fn open(
        flow: &FlowConfig,
        source_admin: &Admin,
        target_admin: &Admin,
    ) -> Result<(Self, UnboundedSender<OffsetSync>), FerryError> {
        let settings = &flow.offset_syncs;
        let (admin, props) = match settings.location {
            SyncsLocation::Source => (source_admin, &flow.source_producer),
            SyncsLocation::Target => (target_admin, &flow.target_producer),
        };
        let rf_key = "offset-syncs.topic.replication.factor";
        for topic in [&settings.topic, &settings.index_topic] {
            admin.ensure_compacted_topic(topic, 1, settings.replication_factor, rf_key).await?;
        }
        // Instances sharing the flow read the indexes of each partition when the group assigns it.
        let loaded = if flow.ferry.group_enabled { LoadedIndexes::default() } else { load_indexes(flow).await? };
        let mut props = props.clone();
        props.props.insert("linger.ms".into(), "5".into());
        let producer = clients::create(admin.alias(), "offset-sync producer", &clients::client_config(&props))?;
        let (sender, queued) = unbounded_channel();
        let publisher = Self {
            alias: admin.alias().to_string(),
            topic: settings.topic.clone(),
            journal_topic: settings.index_topic.clone(),
            producer,
            queued,
            timeout: Duration::from_secs(30),
            indexes: SyncIndexes::new(std::sync::Mutex::new(loaded.indexes)),
            journals: loaded.journals,
            unacked: Vec::new(),
        };
        Ok((publisher, sender))
    }

    /// Feeds every queued sync to the indexes and writes it, in order, with the journal records it
    /// calls for; waits until the cluster acknowledged all of them. Returns how many syncs were
    /// written.
    ///
    /// # Errors
    /// [`FerryError::Kafka`] when the cluster refused a write (progress must then not be stored; the
    /// writes are retried at the next call).
    pub async fn publish_pending(&mut self) -> Result<usize, FerryError> {
        let mut outgoing = Vec::new();
        let mut entries = Vec::new();
        let mut touched = BTreeSet::new();
        {
            let mut indexes = lock(&self.indexes);
            while let Ok(sync) = self.queued.try_recv() {
                let (Ok(key), value) = (sync.encode_key(), sync.encode_value()) else {
                    tracing::error!(topic = %sync.topic, partition = sync.partition, "offset sync not encodable; skipped");
                    continue;
                };
                outgoing.push(Outgoing { journal: false, key, value: Some(value) });
                let (Ok(up), Ok(down)) = (u64::try_from(sync.upstream_offset), u64::try_from(sync.downstream_offset))
                else {
                    continue;
                };
                let partition = (sync.topic, sync.partition);
                let index = indexes.entry(partition.clone()).or_default();
                self.journals.entry(partition.clone()).or_default().record(index, up, down, &mut entries);
                journal_records(&partition, &mut entries, &mut outgoing);
                touched.insert(partition);
            }
        }
        for partition in touched {
            if let Some(journal) = self.journals.get_mut(&partition) {
                journal.tail(&mut entries);
                journal_records(&partition, &mut entries, &mut outgoing);
            }
        }
        let written = outgoing.iter().filter(|o| !o.journal).count();
        self.send(outgoing).await?;
        Ok(written)
    }

    /// Forgets translations below each partition's source log start (`(partition, log start)`), in
    /// the indexes and in the journal topic. Returns how many journal points were forgotten.
    ///
    /// # Errors
    /// [`FerryError::Kafka`] when the cluster refused the tombstones (retried at the next call).
    pub async fn prune(&mut self, log_starts: &[(SourcePartition, u64)]) -> Result<usize, FerryError> {
        let mut outgoing = Vec::new();
        let mut entries = Vec::new();
        {
            let mut indexes = lock(&self.indexes);
            for (partition, log_start) in log_starts {
                if let (Some(index), Some(journal)) = (indexes.get_mut(partition), self.journals.get_mut(partition)) {
                    journal.prune(index, *log_start, &mut entries);
                    journal_records(partition, &mut entries, &mut outgoing);
                }
            }
        }
        let forgotten = outgoing.len();
        self.send(outgoing).await?;
        Ok(forgotten)
    }

    /// Rebuilds the indexes of `partitions` from the sync topics: another instance may have copied
    /// them since this one read the topics. Blocking reads, on a blocking thread.
    ///
    /// # Errors
    /// [`FerryError`] when the topics cannot be read (the partitions must not start then).
    pub async fn reload(&mut self, flow: &FlowConfig, partitions: &[SourcePartition]) -> Result<(), FerryError> {
        let mut loaded = load_indexes(flow).await?;
        let mut indexes = lock(&self.indexes);
        for partition in partitions {
            match (loaded.indexes.remove(partition), loaded.journals.remove(partition)) {
                (Some(index), Some(journal)) => {
                    indexes.insert(partition.clone(), index);
                    self.journals.insert(partition.clone(), journal);
                }
                _ => {
                    indexes.remove(partition);
                    self.journals.remove(partition);
                }
            }
        }
        Ok(())
    }

    /// Forgets the indexes of partitions another instance copies now (checkpoints and pruning are for
    /// the partitions this instance copies).
    pub fn forget(&mut self, partitions: &[SourcePartition]) {
        let mut indexes = lock(&self.indexes);
        for partition in partitions {
            indexes.remove(partition);
            self.journals.remove(partition);
        }
    }

    /// The translation indexes this publisher keeps up to date.
    pub fn indexes(&self) -> SyncIndexes {
        SyncIndexes::clone(&self.indexes)
    }

    /// The partitions with an index (candidates for [`prune`](Self::prune)).
    pub fn indexed_partitions(&self) -> Vec<SourcePartition> {
        self.journals.keys().cloned().collect()
    }

    /// Writes the unacknowledged records and then `outgoing`, in order, and waits for every ack.
    async fn send(&mut self, outgoing: Vec<Outgoing>) -> Result<(), FerryError> {
        self.unacked.extend(outgoing);
        if self.unacked.is_empty() {
            return Ok(());
        }
        let mut pending = Vec::with_capacity(self.unacked.len());
        for record in &self.unacked {
            let topic = if record.journal { &self.journal_topic } else { &self.topic };
            let mut base = FutureRecord::<Vec<u8>, Vec<u8>>::to(topic).partition(0).key(&record.key);
            if !record.journal {
                base = base.headers(OwnedHeaders::new().insert(Header { key: FERRY_SYNC_HEADER, value: Some("1") }));
            }
            if let Some(value) = &record.value {
                base = base.payload(value);
            }
            let delivery = enqueue(&self.producer, base).await;
            pending.push(delivery.map_err(|e| self.error(e))?);
        }
        acknowledged(pending, self.timeout).await.map_err(|e| self.error(e))?;
        self.unacked.clear();
        Ok(())
    }

    fn error(&self, error: KafkaError) -> FerryError {
        FerryError::kafka(
            &self.alias,
            format!("writing offset syncs to `{}` / `{}`", self.topic, self.journal_topic),
            error,
        )
    }
}

/// Rebuilds every index of `flow` from its sync topics, on a blocking thread.
async fn load_indexes(flow: &FlowConfig) -> Result<LoadedIndexes, FerryError> {
    let flow = flow.clone();
    tokio::task::spawn_blocking(move || offset_index::load(&flow, Duration::from_secs(30))).await.map_err(|e| {
        FerryError::Io { context: "reading offset syncs".into(), source: std::io::Error::other(e.to_string()) }
    })?
}

/// Encodes `entries` (emptied) as journal records of `partition`.
fn journal_records(partition: &SourcePartition, entries: &mut Vec<JournalEntry>, out: &mut Vec<Outgoing>) {
    for entry in entries.drain(..) {
        let (slot, value) = entry.slot_and_value();
        let record = JournalRecord { topic: partition.0.clone(), partition: partition.1, slot, value };
        match encode(&record) {
            Ok((key, value)) => out.push(Outgoing { journal: true, key, value }),
            Err(error) => {
                tracing::error!(topic = %partition.0, partition = partition.1, %error, "offset-index record not encodable; skipped")
            }
        }
    }
}

fn encode(record: &JournalRecord) -> Result<(Vec<u8>, Option<Vec<u8>>), WireError> {
    Ok((record.encode_key()?, record.encode_value()?))
}
