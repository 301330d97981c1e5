//! Durable progress in MirrorMaker 2's own format: the Connect offsets topic on the target.
//!
//! Progress of flow `A->B` lives in `mm2-offsets.A.internal` on B (compacted), keyed
//! `["MirrorSourceConnector",{"cluster":"A","partition":P,"topic":"t"}]` with value `{"offset":N}`, N
//! being the last source offset copied. Using MM2's topic, key bytes and partitioner (murmur2, like
//! Java's) means ferry resumes from MM2's progress and MM2 resumes from ferry's.
//!
//! # Layout
//! [`ProgressStore::load`] reads the whole topic once at start (last value per key wins, tombstones
//! delete); [`ProgressStore::store`] writes changed offsets and waits for the target's acks.

use std::collections::HashMap;
use std::time::Duration;

use ferry_engine::connect_offsets::{decode_source_offset, source_offset_key, source_offset_value};
use ferry_engine::FlowConfig;
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};

use crate::error::FerryError;
use crate::kafka::admin::Admin;
use crate::kafka::clients::{self, LoggingContext};
use crate::kafka::produce::{acknowledged, enqueue};
use crate::kafka::read_to_end::read_to_end;

/// Last copied source offset per (topic, partition).
pub type StoredOffsets = HashMap<(String, i32), i64>;

/// Reads and writes a flow's progress in the target's Connect offsets topic.
pub struct ProgressStore {
    source_alias: String,
    target_alias: String,
    topic: String,
    producer: FutureProducer<LoggingContext>,
    consumer_props: ferry_engine::client_props::ClientProps,
    timeout: Duration,
}

impl ProgressStore {
    /// Creates the store, creating the offsets topic on the target if it does not exist.
    ///
    /// # Errors
    /// [`FerryError`] when the producer cannot be built or the topic cannot be created.
    pub async fn open(flow: &FlowConfig, target_admin: &Admin) -> Result<Self, FerryError> {
        let topic = flow.offset_storage_topic.clone();
        target_admin
            .ensure_compacted_topic(
                &topic,
                flow.offset_storage_partitions,
                flow.offset_storage_replication_factor,
                "offset.storage.replication.factor",
            )
            .await?;
        let mut producer_props = flow.target_producer.clone();
        producer_props.props.insert("linger.ms".into(), "0".into());
        let producer = clients::create(&flow.target, "progress producer", &clients::client_config(&producer_props))?;
        Ok(Self {
            source_alias: flow.source.clone(),
            target_alias: flow.target.clone(),
            topic,
            producer,
            consumer_props: flow.target_consumer.clone(),
            timeout: Duration::from_secs(30),
        })
    }

    /// Reads every stored offset of this flow's source cluster.
    ///
    /// # Errors
    /// [`FerryError::Kafka`] when the topic cannot be read within the timeout.
    pub async fn load(&self) -> Result<StoredOffsets, FerryError> {
        let props = self.consumer_props.clone();
        let topic = self.topic.clone();
        let alias = self.target_alias.clone();
        let source = self.source_alias.clone();
        let timeout = self.timeout;
        tokio::task::spawn_blocking(move || read_offsets(&alias, &props, &topic, &source, timeout)).await.map_err(
            |e| FerryError::Io { context: "reading progress".into(), source: std::io::Error::other(e.to_string()) },
        )?
    }

    /// Writes `entries` (topic, partition, last copied offset) and waits until the target acked them.
    ///
    /// # Errors
    /// [`FerryError::Kafka`] for the first write the target refused.
    pub async fn store(&self, entries: &[(String, i32, i64)]) -> Result<(), FerryError> {
        let mut pending = Vec::with_capacity(entries.len());
        for (topic, partition, offset) in entries {
            let key = source_offset_key(&self.source_alias, topic, *partition);
            let value = source_offset_value(*offset);
            let record = FutureRecord::to(&self.topic).key(&key).payload(&value);
            pending.push(enqueue(&self.producer, record).await.map_err(|e| self.write_error(e))?);
        }
        acknowledged(pending, self.timeout).await.map_err(|e| self.write_error(e))
    }
}

impl ProgressStore {
    fn write_error(&self, error: KafkaError) -> FerryError {
        FerryError::kafka(&self.target_alias, format!("writing progress to `{}`", self.topic), error)
    }
}

fn read_offsets(
    alias: &str,
    props: &ferry_engine::client_props::ClientProps,
    topic: &str,
    source: &str,
    timeout: Duration,
) -> Result<StoredOffsets, FerryError> {
    let mut offsets = StoredOffsets::new();
    read_to_end(alias, props, topic, timeout, |message| {
        let Some(key) = message.key() else { return };
        match decode_source_offset(key, message.payload()) {
            Ok(Some(entry)) if entry.cluster == source => {
                let id = (entry.topic, entry.partition);
                match entry.offset {
                    Some(offset) => offsets.insert(id, offset),
                    None => offsets.remove(&id),
                };
            }
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(topic, offset = message.offset(), %error, "skipping a malformed progress record")
            }
        }
    })?;
    Ok(offsets)
}
