//! The data path of one flow: source consumer → per-partition fetchers → bounded queues → producer
//! workers → target producer.
//!
//! # Layout
//! - [`Pipeline`] owns the flow's source consumers (`ferry.source.consumers`, sized by [`sizing`];
//!   partitions assigned by hand, no consumer group, each to the consumer reading the fewest), one fetch arbiter per consumer running its
//!   [`fetcher::FetchLoop`] (per-partition batches from the consumer's queue), the producer worker
//!   threads and the idempotent target producer. Control code
//!   calls [`Pipeline::start_partition`], [`Pipeline::stop_partition`] and [`Pipeline::shutdown`];
//!   records never pass through actor mailboxes.
//! - [`batch`]: records copied once into a per-batch arena.
//! - [`tracker`]: per-partition acknowledged progress.
//! - [`producer`]: worker threads and delivery reports.

pub mod batch;
pub mod borrowed_send;
pub mod fetcher;
pub mod producer;
pub mod sizing;
pub mod tracker;
pub mod transactional;

use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
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
use self::fetcher::{BatchLimits, Control, FetchLoop};
use self::producer::{DeliveryContext, TargetProducer};
use self::sizing::SourceSizing;
use self::tracker::{PartitionTracker, SyncFeed, NONE};
use self::transactional::PartitionTransactions;
use crate::error::FerryError;
use crate::kafka::clients::{self, LoggingContext};
use crate::metrics::{FlowLabels, PartitionMetrics};
use crate::status::problems::Problems;

/// One source consumer and the fetch loop reading it.
struct Source {
    consumer: Arc<StreamConsumer<LoggingContext>>,
    /// Adds and removes partitions of the fetch loop.
    control: tokio::sync::mpsc::UnboundedSender<Control>,
    /// Completes when the fetch loop has stopped.
    done: tokio::sync::Mutex<Option<tokio::sync::oneshot::Receiver<()>>>,
    /// The thread the fetch loop runs on.
    arbiter: actix::ArbiterHandle,
}

/// Running partitions by (topic, partition): their trackers and the index of the source consumer that
/// reads them.
type RunningPartitions = HashMap<(String, i32), (Arc<PartitionTracker>, usize)>;

/// The data path of one flow.
pub struct Pipeline {
    flow: String,
    sources: Vec<Source>,
    producer: Arc<TargetProducer>,
    senders: Mutex<Vec<Sender<RecordBatch>>>,
    workers: Mutex<Vec<JoinHandle<()>>>,
    running: Mutex<RunningPartitions>,
    cancel: CancellationToken,
    reset: Offset,
    /// Where completed batches queue their offset syncs (`None`: `emit.offset-syncs.enabled = false`).
    syncs: Option<UnboundedSender<OffsetSync>>,
    /// `offset.lag.max`.
    sync_lag_max: u64,
    /// Labels of the flow's metrics.
    labels: FlowLabels,
    /// The flow's batch buffers (and its memory budget).
    pool: Arc<BatchPool>,
    /// The flow's problems (set by its `FlowStatus`), which partitions report delivery failures to.
    problems: OnceLock<Arc<Problems>>,
    /// Raised by the fetch loops when the source refused to let a partition be read (which one
    /// librdkafka does not say); the monitor then finds out which topics.
    read_denied: Arc<AtomicBool>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Control-path maps only; a panic elsewhere leaves them consistent, so recover the guard.
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Pipeline {
    /// Builds the clients, worker threads and fetch arbiters of `flow`, with `sizing`'s source consumers.
    ///
    /// # Errors
    /// [`FerryError::Kafka`] when a client cannot be created from the configured properties.
    pub fn new(
        flow: &FlowConfig,
        syncs: Option<UnboundedSender<OffsetSync>>,
        sizing: SourceSizing,
    ) -> Result<Self, FerryError> {
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
        for index in 0..worker_count(flow) {
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
        let cancel = CancellationToken::new();
        // Enough buffers to cover the batches between a worker finishing one and a fetch loop starting
        // the next; arenas up to twice the batch limit (a held batch may pass it) are kept.
        let pool = BatchPool::new(
            2 * flow.ferry.producer_workers.max(1) + 8,
            2 * flow.ferry.batch_max_bytes.max(1),
            flow.ferry.queue_max_bytes.max(1),
            Arc::clone(&space),
        );
        let limits = BatchLimits {
            max_records: flow.ferry.batch_max_records.max(1),
            max_bytes: flow.ferry.batch_max_bytes.max(1),
        };
        let read_denied = Arc::new(AtomicBool::new(false));
        let mut sources = Vec::new();
        for _ in 0..sizing.consumers.max(1) {
            let mut consumer_config = clients::client_config(&flow.source_consumer);
            sizing.apply(&mut consumer_config);
            clients::ensure_group_id(&mut consumer_config, &format!("ferry-{}", flow.name));
            let consumer: StreamConsumer<LoggingContext> =
                clients::create(&flow.source, "source consumer", &consumer_config)?;
            let consumer = Arc::new(consumer);
            let (control, control_rx) = tokio::sync::mpsc::unbounded_channel();
            let (done_tx, done_rx) = tokio::sync::oneshot::channel();
            let fetch_loop = FetchLoop {
                consumer: Arc::clone(&consumer),
                space: Arc::clone(&space),
                cancel: cancel.clone(),
                limits,
                pool: Arc::clone(&pool),
                read_denied: Arc::clone(&read_denied),
            };
            let arbiter = actix::Arbiter::new().handle();
            arbiter.spawn(async move {
                fetch_loop.run(control_rx).await;
                let _ = done_tx.send(());
            });
            sources.push(Source { consumer, control, done: tokio::sync::Mutex::new(Some(done_rx)), arbiter });
        }
        Ok(Self {
            flow: flow.name.clone(),
            sources,
            producer,
            senders: Mutex::new(senders),
            workers: Mutex::new(workers),
            running: Mutex::new(HashMap::new()),
            cancel,
            reset,
            syncs,
            sync_lag_max: flow.offset_syncs.lag_max,
            labels: FlowLabels::new(&flow.source, &flow.target),
            pool,
            problems: OnceLock::new(),
            read_denied,
        })
    }

    /// Connects the pipeline to its flow's problems (once; later calls are ignored).
    pub fn set_problems(&self, problems: Arc<Problems>) {
        let _ = self.problems.set(problems);
    }

    /// Whether a fetch loop saw a source partition refused for lack of permission since the last
    /// call (and resets it).
    pub fn take_read_denied(&self) -> bool {
        self.read_denied.swap(false, Ordering::AcqRel)
    }

    /// The source consumer (and fetch loop) for a partition that starts: the one reading the fewest
    /// running partitions, so that each connection carries an even share (over a high-latency link, each
    /// connection's TCP window caps its throughput).
    fn least_loaded_source(&self, running: &RunningPartitions) -> usize {
        least_loaded(self.sources.len(), running.values().map(|&(_, source)| source))
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
        transactions: Option<Arc<PartitionTransactions>>,
    ) -> Result<(), FerryError> {
        let key = (topic.to_string(), partition);
        let mut running = lock(&self.running);
        if running.contains_key(&key) {
            return Ok(());
        }
        let offset = match stored {
            Some(last) => Offset::Offset(last + 1),
            None => self.reset,
        };
        let mut list = TopicPartitionList::with_capacity(1);
        list.add_partition_offset(topic, partition, offset)
            .map_err(|e| FerryError::kafka(&self.flow, "building an assignment", e))?;
        let source_index = self.least_loaded_source(&running);
        let Some(source) = self.sources.get(source_index) else { return Ok(()) };
        let feed = self.syncs.as_ref().map(|tx| SyncFeed::new(self.sync_lag_max, tx.clone()));
        let metrics = PartitionMetrics::new(&self.labels, topic, partition);
        let tracker = PartitionTracker::new(topic, partition, target_topic, stored.unwrap_or(NONE), feed, metrics)
            .with_problems(self.problems.get().cloned());
        if let Some(transactions) = transactions {
            tracker.use_transactions(transactions);
        }
        let senders = lock(&self.senders);
        let Some(sender) = senders.get(worker_index(topic, partition, senders.len())).cloned() else {
            return Ok(());
        };
        drop(senders);
        // The route before the assignment: a record fetched before the fetch loop knew its partition would
        // be dropped, and the partition's progress would then pass over it.
        if source.control.send(Control::Start { tracker: Arc::clone(&tracker), sender }).is_err() {
            return Err(FerryError::Topic { alias: self.flow.clone(), message: "the fetch loop has stopped".into() });
        }
        if let Err(e) = source.consumer.incremental_assign(&list) {
            let _ = source.control.send(Control::Stop { topic: topic.to_string(), partition });
            return Err(FerryError::kafka(&self.flow, format!("assigning `{topic}` partition {partition}"), e));
        }
        // The fetch loop resumes a restarted partition when it applies `Start`, which may have happened
        // before this assignment: resume it here too.
        if let Err(error) = source.consumer.resume(&list) {
            tracing::warn!(flow = %self.flow, topic, partition, %error, "resuming the assigned partition failed");
        }
        tracing::info!(flow = %self.flow, topic, partition, target_topic, start = ?offset, "partition started");
        running.insert(key, (tracker, source_index));
        Ok(())
    }

    /// Stops copying a partition (topic deleted on the source). Its progress stays stored.
    pub fn stop_partition(&self, topic: &str, partition: i32) {
        let removed = lock(&self.running).remove(&(topic.to_string(), partition));
        if let Some(source) = removed.and_then(|(_, index)| self.sources.get(index)) {
            let _ = source.control.send(Control::Stop { topic: topic.to_string(), partition });
            let mut list = TopicPartitionList::with_capacity(1);
            list.add_partition(topic, partition);
            if let Err(error) = source.consumer.incremental_unassign(&list) {
                tracing::warn!(flow = %self.flow, topic, partition, %error, "unassign failed");
            }
            tracing::info!(flow = %self.flow, topic, partition, "partition stopped");
        }
    }

    /// Stops fetching `partitions` and waits (until `deadline`) for what was already fetched of them to be
    /// acknowledged by the target; returns their trackers, whose progress can then be stored. Records
    /// fetched but not yet queued are dropped unsent (their offsets were never acknowledged).
    pub async fn drain_partitions(
        &self,
        partitions: &[(String, i32)],
        deadline: Instant,
    ) -> Vec<Arc<PartitionTracker>> {
        let trackers: Vec<_> = partitions
            .iter()
            .filter_map(|(topic, partition)| {
                let tracker = lock(&self.running).get(&(topic.clone(), *partition)).map(|(t, _)| Arc::clone(t));
                self.stop_partition(topic, *partition);
                tracker
            })
            .collect();
        while Instant::now() < deadline && trackers.iter().any(|t| !t.is_idle()) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        trackers
    }

    /// Restarts partitions whose delivery failed, from their last acknowledged offset, once nothing of
    /// them is in flight. Returns how many were restarted.
    pub fn restart_failed(&self) -> usize {
        let failed: Vec<(String, i32, String, Option<i64>)> = lock(&self.running)
            .values()
            .map(|(t, _)| t)
            // In exactly-once mode the supervisor reopens the producer first (see `transactional`).
            .filter(|t| t.is_failed() && t.inflight_batches() == 0 && t.transactions().is_none())
            .map(|t| (t.topic.clone(), t.partition, t.target_topic.clone(), t.resume_offset()))
            .collect();
        let mut restarted = 0;
        for (topic, partition, target_topic, resume) in failed {
            self.stop_partition(&topic, partition);
            // `start_partition` resumes after a stored offset: the one before the resume point.
            match self.start_partition(&topic, partition, &target_topic, resume.map(|r| r - 1), None) {
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

    /// Whether a partition with nothing copied yet starts at the end of the source partition
    /// (`auto.offset.reset=latest`) rather than its beginning.
    pub fn starts_at_end(&self) -> bool {
        self.reset == Offset::End
    }

    /// Batches waiting in the producer workers' queues.
    pub fn queued_batches(&self) -> usize {
        lock(&self.senders).iter().map(Sender::len).sum()
    }

    /// Bytes of batch buffers in use (being filled, held or queued), counted against
    /// `ferry.queue.max.bytes`.
    pub fn batch_buffer_bytes(&self) -> usize {
        self.pool.in_use()
    }

    /// Trackers of all running partitions.
    pub fn trackers(&self) -> Vec<Arc<PartitionTracker>> {
        lock(&self.running).values().map(|(t, _)| Arc::clone(t)).collect()
    }

    /// Stops fetching, lets workers drain their queues, and flushes the producer, all within
    /// `deadline`. Progress can be stored from the trackers afterwards.
    ///
    /// # Errors
    /// [`FerryError::ShutdownTimeout`] when draining did not finish in time (progress is still only
    /// what the target acknowledged).
    pub async fn shutdown(&self, deadline: Instant) -> Result<(), FerryError> {
        self.cancel.cancel();
        for source in &self.sources {
            if let Some(done) = source.done.lock().await.take() {
                let _ = tokio::time::timeout_at(deadline.into(), done).await;
            }
        }
        lock(&self.running).clear();
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
        for source in &self.sources {
            source.arbiter.stop();
        }
        match flushed {
            Ok(Ok(())) => Ok(()),
            _ => Err(FerryError::ShutdownTimeout(remaining)),
        }
    }
}

/// Workers of a flow: `ferry.producer.workers`, at least [`EXACTLY_ONCE_WORKERS`] in exactly-once mode,
/// where a worker waits for each commit (so more transactions are open at once).
fn worker_count(flow: &FlowConfig) -> usize {
    let configured = flow.ferry.producer_workers.max(1);
    if flow.exactly_once {
        configured.max(EXACTLY_ONCE_WORKERS)
    } else {
        configured
    }
}

/// Fewest producer workers in exactly-once mode.
pub const EXACTLY_ONCE_WORKERS: usize = 8;

/// Which worker a partition goes to: always the same one, so its records keep their order.
pub fn worker_index(topic: &str, partition: i32, workers: usize) -> usize {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    topic.hash(&mut hasher);
    partition.hash(&mut hasher);
    (hasher.finish() % workers.max(1) as u64) as usize
}

/// The index in `0..n` that occurs least often in `taken` (the lowest such one).
fn least_loaded(n: usize, taken: impl Iterator<Item = usize>) -> usize {
    let mut load = vec![0usize; n];
    for index in taken {
        if let Some(count) = load.get_mut(index) {
            *count += 1;
        }
    }
    load.iter().enumerate().min_by_key(|&(_, count)| *count).map_or(0, |(index, _)| index)
}

/// Total records acknowledged over `trackers`.
pub fn copied_records(trackers: &[Arc<PartitionTracker>]) -> u64 {
    trackers.iter().map(|t| t.copied_records.load(Ordering::Relaxed)).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_go_to_the_least_loaded_source_consumer() {
        assert_eq!(least_loaded(1, std::iter::empty()), 0);
        assert_eq!(least_loaded(3, [0, 1].into_iter()), 2);
        assert_eq!(least_loaded(3, [0, 1, 2, 1].into_iter()), 0);
        // Sixteen partitions started one after the other over four consumers: four each.
        let mut placed = Vec::new();
        for _ in 0..16 {
            placed.push(least_loaded(4, placed.iter().copied()));
        }
        assert!((0..4).all(|source| placed.iter().filter(|&&p| p == source).count() == 4), "{placed:?}");
    }
}
