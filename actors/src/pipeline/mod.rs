//! The data path of one flow: source consumer → per-partition fetchers → bounded queues → producer
//! workers → target producer.
//!
//! # Layout
//! - [`Pipeline`] owns the flow's source consumer (partitions assigned by hand, no consumer group),
//!   the fetch arbiter running one [`fetcher::Fetcher`] task per partition, the producer worker threads
//!   and the idempotent target producer. Control code calls [`Pipeline::start_partition`],
//!   [`Pipeline::stop_partition`] and [`Pipeline::shutdown`]; records never pass through actor mailboxes.
//! - [`batch`]: records copied once into a per-batch arena.
//! - [`tracker`]: per-partition acknowledged progress.
//! - [`producer`]: worker threads and delivery reports.

pub mod batch;
pub mod fetcher;
pub mod producer;
pub mod tracker;

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Sender};
use ferry_engine::wire::OffsetSync;
use ferry_engine::FlowConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::producer::Producer;
use rdkafka::{Offset, TopicPartitionList};
use tokio::sync::mpsc::UnboundedSender;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use self::batch::{BatchPool, RecordBatch};
use self::fetcher::{BatchLimits, Fetcher};
use self::producer::{DeliveryContext, TargetProducer};
use self::tracker::{PartitionTracker, SyncFeed, NONE};
use crate::error::FerryError;
use crate::kafka::clients::{self, LoggingContext};

/// A partition being copied.
struct Running {
    tracker: Arc<PartitionTracker>,
    cancel: CancellationToken,
    done: tokio::sync::oneshot::Receiver<()>,
}

/// The data path of one flow.
pub struct Pipeline {
    flow: String,
    consumer: Arc<StreamConsumer<LoggingContext>>,
    producer: Arc<TargetProducer>,
    senders: Mutex<Vec<Sender<RecordBatch>>>,
    space: Arc<Notify>,
    workers: Mutex<Vec<JoinHandle<()>>>,
    running: Mutex<HashMap<(String, i32), Running>>,
    cancel: CancellationToken,
    fetch_arbiter: actix::ArbiterHandle,
    limits: BatchLimits,
    /// Buffers of sent batches, reused by the fetchers.
    pool: Arc<BatchPool>,
    reset: Offset,
    /// Where completed batches queue their offset syncs (`None`: `emit.offset-syncs.enabled = false`).
    syncs: Option<UnboundedSender<OffsetSync>>,
    /// `offset.lag.max`.
    sync_lag_max: u64,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Control-path maps only; a panic elsewhere leaves them consistent, so recover the guard.
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Pipeline {
    /// Builds the clients, worker threads and fetch arbiter of `flow`.
    ///
    /// # Errors
    /// [`FerryError::Kafka`] when a client cannot be created from the configured properties.
    pub fn new(flow: &FlowConfig, syncs: Option<UnboundedSender<OffsetSync>>) -> Result<Self, FerryError> {
        let mut consumer_config = clients::client_config(&flow.source_consumer);
        clients::ensure_group_id(&mut consumer_config, &format!("ferry-{}", flow.name));
        let consumer: StreamConsumer<LoggingContext> =
            clients::create(&flow.source, "source consumer", &consumer_config)?;
        let reset = match flow.source_consumer.props.get("auto.offset.reset").map(|s| s.to_ascii_lowercase()) {
            Some(v) if v == "latest" || v == "largest" || v == "end" => Offset::End,
            _ => Offset::Beginning,
        };
        let producer_config = clients::client_config(&flow.target_producer);
        let context = DeliveryContext { logging: LoggingContext::new(&flow.target, "target producer") };
        let producer: TargetProducer =
            rdkafka::config::FromClientConfigAndContext::from_config_and_context(&producer_config, context)
                .map_err(|e| FerryError::kafka(&flow.target, "creating the target producer", e))?;
        let producer = Arc::new(producer);
        let space = Arc::new(Notify::new());
        let mut senders = Vec::new();
        let mut workers = Vec::new();
        for index in 0..flow.ferry.producer_workers.max(1) {
            let (tx, rx) = bounded(flow.ferry.queue_batches.max(1));
            senders.push(tx);
            let producer = Arc::clone(&producer);
            let space = Arc::clone(&space);
            let handle = std::thread::Builder::new()
                .name(format!("ferry-produce-{index}"))
                .spawn(move || producer::run_worker(rx, producer, space))
                .map_err(|source| FerryError::Io { context: "starting a producer worker".into(), source })?;
            workers.push(handle);
        }
        let fetch_arbiter = actix::Arbiter::new().handle();
        let pipeline = Self {
            flow: flow.name.clone(),
            consumer: Arc::new(consumer),
            producer,
            senders: Mutex::new(senders),
            space,
            workers: Mutex::new(workers),
            running: Mutex::new(HashMap::new()),
            cancel: CancellationToken::new(),
            fetch_arbiter,
            limits: BatchLimits {
                max_records: flow.ferry.batch_max_records.max(1),
                max_bytes: flow.ferry.batch_max_bytes.max(1),
            },
            // Enough buffers to cover the batches between a worker finishing one and a fetcher starting
            // the next; arenas up to twice the batch limit (the last record may pass it) are kept.
            pool: BatchPool::new(2 * flow.ferry.producer_workers.max(1) + 8, 2 * flow.ferry.batch_max_bytes.max(1)),
            reset,
            syncs,
            sync_lag_max: flow.offset_syncs.lag_max,
        };
        pipeline.serve_main_queue();
        Ok(pipeline)
    }

    /// Serves the consumer's main queue (client events). Records never arrive there: every partition's
    /// queue is split before the partition is assigned.
    fn serve_main_queue(&self) {
        let consumer = Arc::clone(&self.consumer);
        let cancel = self.cancel.clone();
        let flow = self.flow.clone();
        self.fetch_arbiter.spawn(async move {
            loop {
                tokio::select! {
                    biased;
                    () = cancel.cancelled() => break,
                    result = consumer.recv() => {
                        if let Ok(message) = result {
                            use rdkafka::message::Message;
                            tracing::error!(flow = %flow, topic = message.topic(), partition = message.partition(), offset = message.offset(),
                                "record arrived on the main consumer queue; it will be copied when its partition restarts");
                        }
                    }
                }
            }
        });
    }

    /// Starts copying `topic`/`partition` into `target_topic`, after `stored` (the last offset already
    /// copied, from progress storage), or from `auto.offset.reset` when there is none. A partition that
    /// is already running is left alone.
    ///
    /// # Errors
    /// [`FerryError::Kafka`] when the consumer refuses the assignment.
    pub fn start_partition(
        &self,
        topic: &str,
        partition: i32,
        target_topic: &str,
        stored: Option<i64>,
    ) -> Result<(), FerryError> {
        let key = (topic.to_string(), partition);
        let mut running = lock(&self.running);
        if running.contains_key(&key) {
            return Ok(());
        }
        let Some(queue) = self.consumer.split_partition_queue(topic, partition) else {
            return Err(FerryError::Topic {
                alias: self.flow.clone(),
                message: format!("cannot split the queue of `{topic}` partition {partition}"),
            });
        };
        let offset = match stored {
            Some(last) => Offset::Offset(last + 1),
            None => self.reset,
        };
        let mut list = TopicPartitionList::with_capacity(1);
        list.add_partition_offset(topic, partition, offset)
            .map_err(|e| FerryError::kafka(&self.flow, "building an assignment", e))?;
        self.consumer
            .incremental_assign(&list)
            .map_err(|e| FerryError::kafka(&self.flow, format!("assigning `{topic}` partition {partition}"), e))?;
        let feed = self.syncs.as_ref().map(|tx| SyncFeed::new(self.sync_lag_max, tx.clone()));
        let tracker = PartitionTracker::new(topic, partition, target_topic, stored.unwrap_or(NONE), feed);
        let senders = lock(&self.senders);
        let Some(sender) = senders.get(worker_index(topic, partition, senders.len())).cloned() else {
            return Ok(());
        };
        drop(senders);
        let cancel = self.cancel.child_token();
        let (done_tx, done) = tokio::sync::oneshot::channel();
        let fetcher = Fetcher {
            queue,
            consumer: Arc::clone(&self.consumer),
            tracker: Arc::clone(&tracker),
            sender,
            space: Arc::clone(&self.space),
            cancel: cancel.clone(),
            limits: self.limits,
            last_batch_bytes: std::sync::atomic::AtomicUsize::new(0),
            pool: Arc::clone(&self.pool),
        };
        self.fetch_arbiter.spawn(async move {
            fetcher.run().await;
            let _ = done_tx.send(());
        });
        tracing::info!(flow = %self.flow, topic, partition, target_topic, start = ?offset, "partition started");
        running.insert(key, Running { tracker, cancel, done });
        Ok(())
    }

    /// Stops copying a partition (topic deleted on the source). Its progress stays stored.
    pub fn stop_partition(&self, topic: &str, partition: i32) {
        let removed = lock(&self.running).remove(&(topic.to_string(), partition));
        if let Some(running) = removed {
            running.cancel.cancel();
            let mut list = TopicPartitionList::with_capacity(1);
            list.add_partition(topic, partition);
            if let Err(error) = self.consumer.incremental_unassign(&list) {
                tracing::warn!(flow = %self.flow, topic, partition, %error, "unassign failed");
            }
            tracing::info!(flow = %self.flow, topic, partition, "partition stopped");
        }
    }

    /// Restarts partitions whose delivery failed, from their last acknowledged offset, once nothing of
    /// them is in flight. Returns how many were restarted.
    pub fn restart_failed(&self) -> usize {
        let failed: Vec<(String, i32, String, Option<i64>)> = lock(&self.running)
            .values()
            .filter(|r| r.tracker.is_failed() && r.tracker.inflight_batches() == 0)
            .map(|r| {
                (
                    r.tracker.topic.clone(),
                    r.tracker.partition,
                    r.tracker.target_topic.clone(),
                    r.tracker.resume_offset(),
                )
            })
            .collect();
        let mut restarted = 0;
        for (topic, partition, target_topic, resume) in failed {
            self.stop_partition(&topic, partition);
            // `start_partition` resumes after a stored offset: the one before the resume point.
            match self.start_partition(&topic, partition, &target_topic, resume.map(|r| r - 1)) {
                Ok(()) => restarted += 1,
                Err(error) => tracing::warn!(flow = %self.flow, topic, partition, %error, "restart failed; will retry"),
            }
        }
        restarted
    }

    /// Whether `topic`/`partition` is being copied.
    pub fn is_running(&self, topic: &str, partition: i32) -> bool {
        lock(&self.running).contains_key(&(topic.to_string(), partition))
    }

    /// Trackers of all running partitions.
    pub fn trackers(&self) -> Vec<Arc<PartitionTracker>> {
        lock(&self.running).values().map(|r| Arc::clone(&r.tracker)).collect()
    }

    /// Stops fetching, lets workers drain their queues, and flushes the producer, all within
    /// `deadline`. Progress can be stored from the trackers afterwards.
    ///
    /// # Errors
    /// [`FerryError::ShutdownTimeout`] when draining did not finish in time (progress is still only
    /// what the target acknowledged).
    pub async fn shutdown(&self, deadline: Instant) -> Result<(), FerryError> {
        self.cancel.cancel();
        let dones: Vec<_> = lock(&self.running).drain().map(|(_, r)| r.done).collect();
        for done in dones {
            let _ = tokio::time::timeout_at(deadline.into(), done).await;
        }
        lock(&self.senders).clear();
        let workers: Vec<_> = lock(&self.workers).drain(..).collect();
        let joined = tokio::task::spawn_blocking(move || {
            for worker in workers {
                let _ = worker.join();
            }
        });
        if tokio::time::timeout_at(deadline.into(), joined).await.is_err() {
            return Err(FerryError::ShutdownTimeout(Duration::ZERO));
        }
        let producer = Arc::clone(&self.producer);
        let remaining = deadline.saturating_duration_since(Instant::now());
        let flushed = tokio::task::spawn_blocking(move || producer.flush(remaining)).await;
        self.fetch_arbiter.stop();
        match flushed {
            Ok(Ok(())) => Ok(()),
            _ => Err(FerryError::ShutdownTimeout(remaining)),
        }
    }
}

/// Which worker a partition goes to: always the same one, so its records keep their order.
pub fn worker_index(topic: &str, partition: i32, workers: usize) -> usize {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    topic.hash(&mut hasher);
    partition.hash(&mut hasher);
    (hasher.finish() % workers.max(1) as u64) as usize
}

/// Total records acknowledged over `trackers`.
pub fn copied_records(trackers: &[Arc<PartitionTracker>]) -> u64 {
    trackers.iter().map(|t| t.copied_records.load(Ordering::Relaxed)).sum()
}
