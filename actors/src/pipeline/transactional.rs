//! Exactly-once mode: each source partition writes through its own transactional producer. The batches
//! of a partition that a producer worker finds queued (one or more, in order) go to the target in one
//! transaction together with the partition's progress record (the Connect offsets topic entry MM2 would
//! write). A read_committed consumer of the target therefore sees records exactly when the progress that
//! covers them is visible too: a crash at any point repeats nothing.
//!
//! Zombie fencing: the transactional id is derived from the flow's group id, the source topic and the
//! partition, so whichever instance copies a partition uses the same id. Opening the producer
//! (`init_transactions`) bumps the id's epoch, which aborts an open transaction of a previous owner and
//! fences its later writes, even ones the target broker only processes after the previous owner died.
//! The supervisor opens the producer *before* it reads the partition's progress, so no transaction of the
//! previous owner can commit after that read.
//!
//! Acknowledgements: a batch's records are acknowledged to its [`BatchAck`] only after the commit (the
//! delivery reports' offsets are kept until then), so offset syncs and the partition's progress never
//! cover a record of an aborted transaction. A failed transaction is aborted and fails its batches; the
//! supervisor then reopens the producer and resumes from the committed progress.

use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ferry_engine::connect_offsets::{source_offset_key, source_offset_value};
use ferry_engine::FlowConfig;
use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};

use super::batch::RecordBatch;
use super::producer::target_record;
use super::tracker::{BatchAck, NONE};
use crate::error::FerryError;
use crate::kafka::clients::{self, LoggingContext};

/// Target offsets of one transaction's records, filled by delivery reports (in send order: the
/// producer is idempotent and writes one partition).
struct Slots {
    offsets: Vec<AtomicI64>,
    next: AtomicUsize,
}

impl Slots {
    fn new(len: usize) -> Arc<Self> {
        Arc::new(Self { offsets: (0..len).map(|_| AtomicI64::new(NONE)).collect(), next: AtomicUsize::new(0) })
    }

    fn all_delivered(&self) -> bool {
        self.offsets.iter().all(|o| o.load(Ordering::Acquire) >= 0)
    }
}

/// Delivery reports of a transactional producer.
struct TxnContext {
    logging: LoggingContext,
}

impl ClientContext for TxnContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        self.logging.log(level, fac, log_message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        self.logging.error(error, reason);
    }
}

impl ProducerContext for TxnContext {
    type DeliveryOpaque = Arc<Slots>;

    fn delivery(&self, result: &DeliveryResult<'_>, slots: Arc<Slots>) {
        let index = slots.next.fetch_add(1, Ordering::AcqRel);
        if let (Ok(message), Some(slot)) = (result, slots.offsets.get(index)) {
            self.logging.connection_alive();
            slot.store(message.offset(), Ordering::Release);
        }
    }
}

/// The transactional producer of one source partition.
pub struct PartitionTransactions {
    producer: BaseProducer<TxnContext>,
    progress_topic: String,
    progress_key: Vec<u8>,
    timeout: Duration,
}

impl std::fmt::Debug for PartitionTransactions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PartitionTransactions").field("progress_topic", &self.progress_topic).finish_non_exhaustive()
    }
}

/// The transactional id of a source partition: the same on every instance of the flow.
pub fn transactional_id(flow: &FlowConfig, topic: &str, partition: i32) -> String {
    format!("{}.{topic}.{partition}", flow.ferry.group_id)
}

impl PartitionTransactions {
    /// Creates the partition's producer and initializes its transactions, fencing every earlier
    /// producer of the partition. Blocking (up to the transaction timeout when a previous owner left a
    /// transaction open on an unreachable broker).
    ///
    /// # Errors
    /// [`FerryError::Kafka`] when the producer cannot be created or initialized.
    pub fn open(flow: &FlowConfig, topic: &str, partition: i32) -> Result<Self, FerryError> {
        let mut props = flow.target_producer.clone();
        props.props.insert("transactional.id".into(), transactional_id(flow, topic, partition));
        let context = TxnContext { logging: LoggingContext::new(&flow.target, "target producer") };
        let producer: BaseProducer<TxnContext> = clients::client_config(&props)
            .create_with_context(context)
            .map_err(|e| FerryError::kafka(&flow.target, "creating a transactional producer", e))?;
        let timeout = Duration::from_secs(60);
        producer.init_transactions(timeout).map_err(|e| {
            FerryError::kafka(
                &flow.target,
                format!("initializing the transactions of `{topic}` partition {partition}"),
                e,
            )
        })?;
        Ok(Self {
            producer,
            progress_topic: flow.offset_storage_topic.clone(),
            progress_key: source_offset_key(&flow.source, topic, partition),
            timeout,
        })
    }

    /// Writes `batches` (consecutive batches of this partition, in order) and the progress covering them
    /// in one transaction, then acknowledges their records to `acks` — or, when the transaction fails,
    /// aborts it and fails the batches.
    pub fn send_batches(&self, batches: &[RecordBatch], acks: &[Arc<BatchAck>]) {
        match self.transact(batches) {
            Ok(offsets) => {
                for (ack, offsets) in acks.iter().zip(offsets) {
                    for offset in offsets {
                        ack.delivered(true, offset);
                    }
                }
            }
            Err(error) => {
                if let Err(abort) = self.producer.abort_transaction(self.timeout) {
                    tracing::debug!(%abort, "aborting the failed transaction failed (the producer is reopened)");
                }
                if let Some(ack) = acks.first() {
                    let tracker = ack.tracker();
                    tracker.metrics.producer_errors.increment(1);
                    tracker.set_error(format!("transaction to `{}` failed: {error}", tracker.target_topic));
                    tracing::error!(
                        topic = %tracker.target_topic,
                        partition = tracker.partition,
                        %error,
                        "transaction failed and was aborted; the partition resumes from its committed progress"
                    );
                }
                for (ack, batch) in acks.iter().zip(batches) {
                    for _ in 0..batch.len() {
                        ack.delivered(false, NONE);
                    }
                }
            }
        }
    }

    /// One transaction: the records, the progress record, flush, commit. Returns each batch's records'
    /// target offsets.
    fn transact(&self, batches: &[RecordBatch]) -> Result<Vec<Vec<i64>>, KafkaError> {
        let Some(last) = batches.iter().rev().find_map(|b| b.records().last()).map(|r| r.offset) else {
            return Ok(batches.iter().map(|_| Vec::new()).collect());
        };
        self.producer.begin_transaction()?;
        let mut all_slots = Vec::with_capacity(batches.len());
        for batch in batches {
            let slots = Slots::new(batch.len());
            for meta in batch.records() {
                self.send(target_record(batch, meta, Arc::clone(&slots)))?;
            }
            all_slots.push(slots);
        }
        let value = source_offset_value(last);
        let progress = Slots::new(1);
        self.send(
            BaseRecord::with_opaque_to(&self.progress_topic, Arc::clone(&progress))
                .key(&self.progress_key[..])
                .payload(&value[..]),
        )?;
        self.producer.flush(self.timeout)?;
        if !all_slots.iter().all(|s| s.all_delivered()) || !progress.all_delivered() {
            return Err(KafkaError::MessageProduction(RDKafkaErrorCode::MessageTimedOut));
        }
        self.producer.commit_transaction(self.timeout)?;
        Ok(all_slots.iter().map(|s| s.offsets.iter().map(|o| o.load(Ordering::Acquire)).collect()).collect())
    }

    /// Enqueues one record, waiting while the producer's queue is full.
    fn send<K, P>(&self, mut record: BaseRecord<'_, K, P, Arc<Slots>>) -> Result<(), KafkaError>
    where
        K: rdkafka::message::ToBytes + ?Sized,
        P: rdkafka::message::ToBytes + ?Sized,
    {
        loop {
            match self.producer.send(record) {
                Ok(()) => return Ok(()),
                Err((error, returned)) if error.rdkafka_error_code() == Some(RDKafkaErrorCode::QueueFull) => {
                    record = returned;
                    self.producer.poll(Duration::from_millis(5));
                }
                Err((error, _)) => return Err(error),
            }
        }
    }
}
