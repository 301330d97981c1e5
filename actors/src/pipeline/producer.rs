//! Producer workers: drain bounded queues of record batches into the target cluster.
//!
//! Each worker is a plain thread that owns one bounded crossbeam receiver. A source partition always maps
//! to the same worker, so its records are sent in offset order; the idempotent producer keeps that order
//! on the target. Every record carries its batch's [`BatchAck`] as delivery opaque; acks flow back
//! through [`DeliveryContext`] without any per-record lock, allocation or actor message.
//!
//! Metrics: a worker sums the batch's key and value bytes while it sends (plain local additions),
//! samples the record age of the batch's oldest record once, and hands the sums to [`BatchAck`], which
//! adds them to the partition's counters when the target has acknowledged the whole batch. Failures and
//! retries bump a counter where they happen (rare, and a counter add is one atomic instruction).

use std::ffi::{CStr, CString};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;
use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, Message, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::util::IntoOpaque;
use tokio::sync::Notify;

use super::batch::{RecordBatch, RecordMeta};
use super::borrowed_send;
use super::tracker::{BatchAck, NONE};
use crate::kafka::clients::LoggingContext;
use crate::kafka::errors::{disposition, Disposition};
use crate::metrics::{age_seconds, now_ms};
use crate::status::problems::{ProblemKey, ProblemStage};

/// The target producer of a flow.
pub type TargetProducer = ThreadedProducer<DeliveryContext>;

/// Producer context that turns delivery reports into batch acknowledgements.
pub struct DeliveryContext {
    /// Logging of the producer's own events.
    pub logging: LoggingContext,
}

impl ClientContext for DeliveryContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        self.logging.log(level, fac, log_message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        self.logging.error(error, reason);
    }
}

impl ProducerContext for DeliveryContext {
    type DeliveryOpaque = Arc<BatchAck>;

    fn delivery(&self, result: &DeliveryResult<'_>, ack: Arc<BatchAck>) {
        match result {
            Ok(message) => {
                self.logging.connection_alive();
                ack.delivered(true, message.offset());
            }
            Err((error, _)) => {
                ack.tracker().metrics.producer_errors.increment(1);
                if ack.delivered(false, NONE) {
                    let tracker = ack.tracker();
                    tracker.set_error(format!("delivery to `{}` failed: {error}", tracker.target_topic));
                    match tracker.problems() {
                        Some(problems) => problems.report(
                            ProblemKey::topic(ProblemStage::Delivery, &self.logging.alias, &tracker.target_topic),
                            &error,
                            DELIVERY_HINT,
                        ),
                        None => tracing::error!(
                            cluster = %self.logging.alias,
                            topic = %tracker.target_topic,
                            partition = tracker.partition,
                            %error,
                            "delivery to the target failed; the partition stops and resumes from its last stored progress"
                        ),
                    }
                }
            }
        }
    }
}

/// Most batches one worker gathers into transactions at once (exactly-once mode).
const TRANSACTION_BATCHES: usize = 64;

/// Runs one producer worker until every sender of `batches` is dropped and the queue is empty.
pub fn run_worker(batches: Receiver<RecordBatch>, producer: Arc<TargetProducer>, space: Arc<Notify>) {
    while let Ok(batch) = batches.recv() {
        space.notify_waiters();
        if batch.partition.transactions().is_some() {
            // A commit per batch would cap throughput: take every batch already queued, and write each
            // partition's batches in one transaction.
            let mut gathered = vec![batch];
            while gathered.len() < TRANSACTION_BATCHES {
                match batches.try_recv() {
                    Ok(next) => gathered.push(next),
                    Err(_) => break,
                }
            }
            space.notify_waiters();
            send_in_transactions(gathered);
            space.notify_waiters();
            continue;
        }
        let tracker = Arc::clone(&batch.partition);
        // It leaves the flow's memory budget now; its buffers are reused once the target acknowledged it.
        send_batch(&producer, batch);
        tracker.queued_batches.fetch_sub(1, Ordering::AcqRel);
        space.notify_waiters();
    }
}

/// Exactly-once mode: writes `gathered` (in queue order) as one transaction per partition, then releases
/// the batches.
fn send_in_transactions(gathered: Vec<RecordBatch>) {
    let mut by_partition: Vec<Vec<RecordBatch>> = Vec::new();
    for batch in gathered {
        match by_partition.iter_mut().find(|group| Arc::ptr_eq(&group[0].partition, &batch.partition)) {
            Some(group) => group.push(batch),
            None => by_partition.push(vec![batch]),
        }
    }
    for group in by_partition {
        let tracker = Arc::clone(&group[0].partition);
        let acks: Vec<Arc<BatchAck>> = group
            .iter()
            .map(|batch| {
                if let Some(oldest) = batch.records().first().and_then(|r| r.timestamp) {
                    tracker.metrics.record_age.record(age_seconds(now_ms(), oldest));
                }
                tracker.begin_batch_of(batch)
            })
            .collect();
        if let Some(transactions) = tracker.transactions() {
            transactions.send_batches(&group, &acks);
        }
        tracker.queued_batches.fetch_sub(group.len(), Ordering::AcqRel);
        // Their buffers count against the flow's memory budget until dropped.
        drop(group);
    }
}

/// Sends every record of `batch` to the same partition of the remote topic; stops at a record the
/// producer refuses. The batch's acknowledgement owns it from here: librdkafka reads the values from
/// its arena ([`borrowed_send`]).
fn send_batch(producer: &TargetProducer, mut batch: RecordBatch) {
    if batch.is_empty() {
        return;
    }
    batch.leave_budget();
    let tracker = Arc::clone(&batch.partition);
    if let Some(oldest) = batch.records().first().and_then(|r| r.timestamp) {
        tracker.metrics.record_age.record(age_seconds(now_ms(), oldest));
    }
    let ack = tracker.begin_owned_batch(batch);
    let Some(batch) = ack.batch() else { return };
    // Kafka topic names cannot hold a NUL: such a name fails the batch like a refused record.
    let topic = CString::new(tracker.target_topic.as_str());
    for (index, meta) in batch.records().iter().enumerate() {
        let sent = match &topic {
            Ok(topic) => send_with_retry(producer, topic, &ack, meta),
            Err(_) => {
                refused(producer, &ack, &KafkaError::MessageProduction(RDKafkaErrorCode::InvalidTopic));
                false
            }
        };
        if !sent {
            // The batch failed: the rest of it is not sent (the partition restarts from its last
            // acknowledged offset); account the unsent records so the batch completes.
            for _ in index + 1..batch.len() {
                ack.delivered(false, NONE);
            }
            return;
        }
    }
}

/// The target record for `meta` of `batch`: same partition of the remote topic, key, value, timestamp
/// and headers, borrowing the batch's arena (librdkafka copies the bytes when the record is sent; used
/// by exactly-once mode, whose batches are dropped once their transaction is committed).
pub(super) fn target_record<'a, D: IntoOpaque>(
    batch: &'a RecordBatch,
    meta: &RecordMeta,
    opaque: D,
) -> BaseRecord<'a, [u8], [u8], D> {
    let tracker = &batch.partition;
    let mut record =
        BaseRecord::<[u8], [u8], D>::with_opaque_to(&tracker.target_topic, opaque).partition(tracker.partition);
    if let Some(key) = &meta.key {
        record = record.key(batch.slice(key));
    }
    if let Some(value) = &meta.value {
        record = record.payload(batch.slice(value));
    }
    if let Some(timestamp) = meta.timestamp {
        record = record.timestamp(timestamp);
    }
    let headers = batch.headers_of(meta);
    if !headers.is_empty() {
        let mut owned = OwnedHeaders::new_with_capacity(headers.len());
        for header in headers {
            // Names were copied from `&str` header keys, so they are valid UTF-8.
            let key = std::str::from_utf8(batch.slice(&header.name)).unwrap_or_default();
            owned = owned.insert(Header { key, value: header.value.as_ref().map(|v| batch.slice(v)) });
        }
        record = record.headers(owned);
    }
    record
}

/// Sends one record, retrying while the producer's queue is full or the partition is not known yet.
/// Returns false when the record was refused (counted as a failed delivery).
fn send_with_retry(producer: &TargetProducer, topic: &CStr, ack: &Arc<BatchAck>, meta: &RecordMeta) -> bool {
    let tracker = ack.tracker();
    let mut metadata_deadline = None;
    loop {
        let Err(error) = borrowed_send::send_record(producer, topic, tracker.partition, ack, meta) else {
            return true;
        };
        if error.rdkafka_error_code() == Some(RDKafkaErrorCode::UnknownPartition) {
            // A partition just added to the remote topic: the producer's metadata is older than the
            // partition. Refresh it (bounded), then retry.
            let deadline = *metadata_deadline.get_or_insert_with(|| Instant::now() + UNKNOWN_PARTITION_WAIT);
            if Instant::now() < deadline {
                let _ = producer.client().fetch_metadata(Some(&tracker.target_topic), Duration::from_secs(5));
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
        }
        match disposition(&error) {
            Disposition::Retry => {
                // The local queue is full (or a transient error): let deliveries drain, then retry.
                tracker.metrics.producer_retries.increment(1);
                producer.poll(Duration::from_millis(5));
            }
            Disposition::Fatal | Disposition::Unknown => {
                refused(producer, ack, &error);
                return false;
            }
        }
    }
}

/// A record the producer refused never entered it: counts it as a failed delivery, so progress never
/// passes it, and reports the batch's first failure.
fn refused(producer: &TargetProducer, ack: &BatchAck, error: &KafkaError) {
    ack.tracker().metrics.producer_errors.increment(1);
    if ack.delivered(false, NONE) {
        let tracker = ack.tracker();
        tracker.set_error(format!("record refused by the producer: {error}"));
        match tracker.problems() {
            Some(problems) => problems.report(
                ProblemKey::topic(ProblemStage::Delivery, &producer.context().logging.alias, &tracker.target_topic),
                error,
                DELIVERY_HINT,
            ),
            None => tracing::error!(
                topic = %tracker.target_topic,
                partition = tracker.partition,
                %error,
                "record refused by the producer; the partition stops and resumes from its last acknowledged offset"
            ),
        }
    }
}

/// What a delivery problem means for the partition and what to check.
const DELIVERY_HINT: &str = "the partition stops and resumes from its last acknowledged offset; if not authorized, \
     grant ferry's principal Write and Describe on the remote topic (docs/security.md)";

/// How long a send waits for the producer to learn about a newly added partition.
const UNKNOWN_PARTITION_WAIT: Duration = Duration::from_secs(30);
