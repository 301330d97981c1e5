//! Publishing offset syncs: the (source offset, target offset) pairs MM2's checkpoint connector and
//! ferry's translation read, in MM2's format and topic.
//!
//! The data path queues syncs as batches complete (see [`crate::pipeline::tracker`]); nothing is
//! produced per record on the hot path. At every progress tick the supervisor calls
//! [`SyncPublisher::publish_pending`], which writes the queued syncs in order to
//! `mm2-offset-syncs.<alias>.internal` (on the source by default, `offset-syncs.topic.location`) and
//! waits for their acks **before** progress is stored, so stored progress never covers a copy whose
//! sync could be lost. ferry's syncs carry a header `ferry.sync` so readers can tell ferry's dense
//! change-point syncs from MM2's sparse ones; MM2's readers ignore headers.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferry_engine::config::SyncsLocation;
use ferry_engine::wire::OffsetSync;
use ferry_engine::{FlowConfig, OffsetIndex};
use rdkafka::error::KafkaError;
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

use crate::error::FerryError;
use crate::kafka::admin::Admin;
use crate::kafka::clients::{self, LoggingContext};
use crate::kafka::produce::{acknowledged, enqueue};
use crate::kafka::read_to_end::read_to_end;

/// Header marking ferry's syncs (one per change point, never coalesced).
pub const FERRY_SYNC_HEADER: &str = "ferry.sync";

/// Per source partition, the exact translation index built from every published sync: shared with
/// the checkpoint emitter (updated once per progress tick, never per record).
pub type SyncIndexes = Arc<Mutex<BTreeMap<(String, i32), OffsetIndex>>>;

/// Writes a flow's queued offset syncs to the offset-syncs topic.
pub struct SyncPublisher {
    alias: String,
    topic: String,
    producer: FutureProducer<LoggingContext>,
    queued: UnboundedReceiver<OffsetSync>,
    timeout: Duration,
    indexes: SyncIndexes,
}

impl SyncPublisher {
    /// Creates the offset-syncs topic if needed and returns the publisher with the sender the data path
    /// queues syncs into.
    ///
    /// # Errors
    /// [`FerryError`] when the topic cannot be created or the producer cannot be built.
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
        admin
            .ensure_compacted_topic(
                &settings.topic,
                1,
                settings.replication_factor,
                "offset-syncs.topic.replication.factor",
            )
            .await?;
        let indexes = load_indexes(flow).await?;
        let mut props = props.clone();
        props.props.insert("linger.ms".into(), "5".into());
        let producer = clients::create(admin.alias(), "offset-sync producer", &clients::client_config(&props))?;
        let (sender, queued) = unbounded_channel();
        let publisher = Self {
            alias: admin.alias().to_string(),
            topic: settings.topic.clone(),
            producer,
            queued,
            timeout: Duration::from_secs(30),
            indexes,
        };
        Ok((publisher, sender))
    }

    /// Writes every queued sync, in order, and waits until the cluster acknowledged all of them.
    /// Returns how many were written.
    ///
    /// # Errors
    /// [`FerryError::Kafka`] for the first sync the cluster refused (progress must then not be stored).
    pub async fn publish_pending(&mut self) -> Result<usize, FerryError> {
        let mut pending = Vec::new();
        let mut published = Vec::new();
        while let Ok(sync) = self.queued.try_recv() {
            let (Ok(key), value) = (sync.encode_key(), sync.encode_value()) else {
                tracing::error!(topic = %sync.topic, partition = sync.partition, "offset sync not encodable; skipped");
                continue;
            };
            published.push(sync.clone());
            let headers = OwnedHeaders::new().insert(Header { key: FERRY_SYNC_HEADER, value: Some("1") });
            let record = FutureRecord::to(&self.topic).partition(0).key(&key).payload(&value).headers(headers);
            pending.push(enqueue(&self.producer, record).await.map_err(|e| self.error(e))?);
        }
        let written = pending.len();
        acknowledged(pending, self.timeout).await.map_err(|e| self.error(e))?;
        let mut indexes = lock(&self.indexes);
        for sync in &published {
            record(&mut indexes, sync, true);
        }
        Ok(written)
    }

    /// The translation indexes this publisher keeps up to date.
    pub fn indexes(&self) -> SyncIndexes {
        Arc::clone(&self.indexes)
    }

    fn error(&self, error: KafkaError) -> FerryError {
        FerryError::kafka(&self.alias, format!("writing offset syncs to `{}`", self.topic), error)
    }
}

fn lock(indexes: &SyncIndexes) -> std::sync::MutexGuard<'_, BTreeMap<(String, i32), OffsetIndex>> {
    // Index updates are single calls on plain data; a panic elsewhere leaves them consistent.
    indexes.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn record(indexes: &mut BTreeMap<(String, i32), OffsetIndex>, sync: &OffsetSync, dense: bool) {
    if let (Ok(up), Ok(down)) = (u64::try_from(sync.upstream_offset), u64::try_from(sync.downstream_offset)) {
        let index = indexes.entry((sync.topic.clone(), sync.partition)).or_default();
        if dense {
            index.record(up, down);
        } else {
            index.record_sparse(up, down);
        }
    }
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

/// Every offset sync of `flow` in its topic, in the order written. Blocking.
///
/// # Errors
/// [`FerryError`] when the cluster holding the topic cannot be read.
pub fn read_syncs(flow: &FlowConfig, timeout: Duration) -> Result<Vec<StoredSync>, FerryError> {
    let (alias, props) = match flow.offset_syncs.location {
        SyncsLocation::Source => (&flow.source, &flow.source_group_consumer),
        SyncsLocation::Target => (&flow.target, &flow.target_consumer),
    };
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

/// Translation indexes per source partition from syncs read back (ferry's dense, MM2's sparse).
pub fn build_indexes<'a>(syncs: impl IntoIterator<Item = &'a StoredSync>) -> BTreeMap<(String, i32), OffsetIndex> {
    let mut indexes = BTreeMap::new();
    for stored in syncs {
        record(&mut indexes, &stored.sync, stored.dense);
    }
    indexes
}

/// Rebuilds the indexes from the syncs already in the topic (written by earlier runs, ferry's or MM2's).
async fn load_indexes(flow: &FlowConfig) -> Result<SyncIndexes, FerryError> {
    let flow = flow.clone();
    let syncs =
        tokio::task::spawn_blocking(move || read_syncs(&flow, Duration::from_secs(30))).await.map_err(|e| {
            FerryError::Io { context: "reading offset syncs".into(), source: std::io::Error::other(e.to_string()) }
        })??;
    Ok(Arc::new(Mutex::new(build_indexes(&syncs))))
}
