//! The flow's fetch loop: one task reads the source consumer's queue, appends each record to its
//! partition's batch and hands batches to the partition's producer worker through its bounded queue.
//!
//! Per partition: a batch is handed over when it reaches the batch limits or when nothing more is
//! fetched right now, so batches grow with load and latency stays low when idle. When the worker's
//! queue is full the batch is held and the partition paused in the consumer (librdkafka stops
//! fetching it); records of it already fetched are still appended to the held batch, in order, and
//! the batch is handed over as soon as the worker takes one. Other partitions keep flowing.
//!
//! Why one queue for all partitions rather than one per partition: librdkafka keeps a fetch response's
//! buffer alive while any record of it is unread, and a response holds many partitions. With a queue
//! per partition, partitions held back by a full worker queue pinned response after response: at
//! 1,000 partitions ferry's RSS grew to several times the backlog. Read in arrival order from one
//! queue, responses are released in order, and `queued.max.messages.kbytes` bounds what the flow has
//! prefetched in all.
//!
//! Memory: the batches being filled, held or queued count against the flow's `ferry.queue.max.bytes`
//! (kept by the [`BatchPool`]); while they hold that much the loop stops reading the consumer's queue,
//! so librdkafka's prefetch limit takes over. At thousands of partitions this, not the per-worker
//! queue depth, is what bounds ferry's own buffers.
//!
//! Partitions are added and removed with [`Control`] messages, applied between records (a partition's
//! `Start` is sent before the consumer is assigned it, so its route exists before its first record);
//! records of a removed or failed partition still in the queue are dropped (their progress was never stored, so
//! they are copied again when the partition restarts).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::{Sender, TrySendError};
use futures::FutureExt;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::TopicPartitionList;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::batch::{BatchPool, RecordBatch};
use super::tracker::PartitionTracker;
use crate::kafka::clients::LoggingContext;

/// Smallest arena reserved for a batch.
const MIN_RESERVE: usize = 16 * 1024;

/// Records taken from the queue without waiting before batches are handed over.
const DRAIN_MAX: usize = 20_000;

/// How often held batches (and a full budget) are retried even without a notification from the workers.
const HELD_RETRY: Duration = Duration::from_millis(10);

/// Batch size limits.
#[derive(Debug, Clone, Copy)]
pub struct BatchLimits {
    /// Most records in one batch.
    pub max_records: usize,
    /// Most key/value/header bytes in one batch.
    pub max_bytes: usize,
}

/// Adds or removes a partition of the fetch loop.
pub enum Control {
    /// Route this partition's records to `sender` (its worker's queue).
    Start {
        /// The partition's progress.
        tracker: Arc<PartitionTracker>,
        /// Its worker's queue.
        sender: Sender<RecordBatch>,
    },
    /// Stop routing this partition (its records still queued are dropped).
    Stop {
        /// Source topic.
        topic: String,
        /// Partition.
        partition: i32,
    },
}

/// One partition's state in the loop.
struct Route {
    tracker: Arc<PartitionTracker>,
    sender: Sender<RecordBatch>,
    /// The batch being filled, or held while the worker queue is full.
    batch: Option<RecordBatch>,
    /// Whether the batch is held (and the partition paused).
    held: bool,
    /// Bytes of the last batch handed over: the next arena is reserved from it.
    last_batch_bytes: usize,
    /// Whether the route is listed in [`Routes::pending`].
    pending: bool,
}

/// The fetch loop of one flow.
pub struct FetchLoop {
    /// The flow's source consumer.
    pub consumer: Arc<StreamConsumer<LoggingContext>>,
    /// Signalled by workers when they take a batch and when they have sent it.
    pub space: Arc<Notify>,
    /// Stops the loop.
    pub cancel: CancellationToken,
    /// Batch limits.
    pub limits: BatchLimits,
    /// Buffers of sent batches, reused.
    pub pool: Arc<BatchPool>,
    /// Raised when the source refuses to let a partition be read (see [`Self::fetch_error`]).
    pub read_denied: Arc<AtomicBool>,
}

/// The loop's partitions: topic → partition → route, and the partitions with a batch to hand over.
#[derive(Default)]
struct Routes {
    by_topic: HashMap<String, HashMap<i32, Route>>,
    pending: Vec<(String, i32)>,
}

impl FetchLoop {
    /// Runs until cancelled; batches not handed over by then are dropped unsent (their offsets are
    /// never marked done).
    pub async fn run(self, mut control: UnboundedReceiver<Control>) {
        let mut routes = Routes::default();
        loop {
            let space = Arc::clone(&self.space);
            let notified = space.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            self.hand_over(&mut routes);
            let holding = routes.pending.iter().any(|(t, p)| routes.get(t, *p).is_some_and(|r| r.held));
            let over_budget = self.pool.over_budget();
            let waiting = holding || over_budget;
            tokio::select! {
                biased;
                () = self.cancel.cancelled() => break,
                control = control.recv() => match control {
                    Some(control) => self.apply(&mut routes, control),
                    None => break,
                },
                () = &mut notified, if waiting => {}
                () = tokio::time::sleep(HELD_RETRY), if waiting => {}
                result = self.consumer.recv(), if !over_budget => {
                    match result {
                        Ok(message) => {
                            self.consumer.context().connection_alive();
                            self.route(&mut routes, &mut control, &message);
                        }
                        Err(error) => {
                            self.fetch_error(&error);
                            continue;
                        }
                    }
                    for _ in 0..DRAIN_MAX {
                        if self.pool.over_budget() {
                            break;
                        }
                        match self.consumer.recv().now_or_never() {
                            Some(Ok(message)) => self.route(&mut routes, &mut control, &message),
                            Some(Err(error)) => {
                                self.fetch_error(&error);
                                break;
                            }
                            None => break,
                        }
                    }
                }
            }
        }
        for partitions in routes.by_topic.into_values() {
            for route in partitions.into_values() {
                if route.batch.is_some() {
                    route.tracker.queued_batches.fetch_sub(1, Ordering::AcqRel);
                }
            }
        }
    }

    /// Logs an error the consumer's queue delivered (librdkafka retries by itself). A partition the
    /// source does not let ferry read is reported once per partition by librdkafka, without naming it:
    /// the flag makes the monitor find out which topics and report them (rate-limited, in `/status`).
    fn fetch_error(&self, error: &KafkaError) {
        let context = self.consumer.context();
        match error.rdkafka_error_code() {
            Some(RDKafkaErrorCode::AllBrokersDown) => context.connection_lost(&error.to_string()),
            Some(RDKafkaErrorCode::TopicAuthorizationFailed) => {
                if !self.read_denied.swap(true, Ordering::AcqRel) {
                    tracing::debug!(cluster = %context.alias, %error, "a source partition may not be read; finding which topics");
                }
            }
            _ => tracing::warn!(cluster = %context.alias, %error, "fetch error (retrying)"),
        }
    }

    fn apply(&self, routes: &mut Routes, control: Control) {
        match control {
            Control::Start { tracker, sender } => {
                // A partition restarted after a failure was paused by its previous route.
                self.set_paused(&tracker, false);
                let partition = tracker.partition;
                let route = Route { tracker, sender, batch: None, held: false, last_batch_bytes: 0, pending: false };
                let topic = route.tracker.topic.clone();
                if let Some(old) = routes.by_topic.entry(topic).or_default().insert(partition, route) {
                    drop_batch(old);
                }
            }
            Control::Stop { topic, partition } => {
                if let Some(old) = routes.by_topic.get_mut(&topic).and_then(|p| p.remove(&partition)) {
                    drop_batch(old);
                }
            }
        }
    }

    /// Appends one record to its partition's batch; hands the batch over when it is full. A record of a
    /// partition without a route first applies the control messages waiting: its `Start` is sent before
    /// the partition is assigned, but may still be queued while the loop drains records.
    fn route(&self, routes: &mut Routes, control: &mut UnboundedReceiver<Control>, message: &BorrowedMessage<'_>) {
        let (topic, partition) = (message.topic(), message.partition());
        let mut found = routes.by_topic.get_mut(topic).and_then(|p| p.get_mut(&partition));
        if found.is_none() {
            while let Ok(waiting) = control.try_recv() {
                self.apply(routes, waiting);
            }
            found = routes.by_topic.get_mut(topic).and_then(|p| p.get_mut(&partition));
        }
        let Some(route) = found else {
            return; // a partition stopped meanwhile: copied again from its progress if it restarts
        };
        if route.tracker.is_failed() {
            return; // restarted from its last acknowledged offset by the supervisor
        }
        if !route.pending {
            route.pending = true;
            routes.pending.push((route.tracker.topic.clone(), route.tracker.partition));
        }
        let batch = route.batch.get_or_insert_with(|| {
            route.tracker.queued_batches.fetch_add(1, Ordering::AcqRel);
            let last = route.last_batch_bytes;
            // A quarter more than last time: a batch a little larger than the last does not reallocate.
            let reserve = last.saturating_add(last / 4).clamp(MIN_RESERVE, self.limits.max_bytes.max(MIN_RESERVE));
            self.pool.batch(Arc::clone(&route.tracker), reserve)
        });
        batch.push(message);
        if !route.held && (batch.len() >= self.limits.max_records || batch.bytes() >= self.limits.max_bytes) {
            self.offer(route);
        }
    }

    /// Hands every pending batch to its worker (or holds it).
    fn hand_over(&self, routes: &mut Routes) {
        let pending = std::mem::take(&mut routes.pending);
        for (topic, partition) in pending {
            let Some(route) = routes.by_topic.get_mut(&topic).and_then(|p| p.get_mut(&partition)) else { continue };
            self.offer(route);
            route.pending = route.batch.is_some();
            if route.pending {
                routes.pending.push((topic, partition));
            }
        }
    }

    /// Tries to hand the route's batch to its worker: on a full queue the batch is held and the
    /// partition paused; once handed over, a paused partition is resumed.
    fn offer(&self, route: &mut Route) {
        let Some(batch) = route.batch.take() else { return };
        if route.tracker.is_failed() {
            route.tracker.queued_batches.fetch_sub(1, Ordering::AcqRel);
            if !route.held {
                route.held = true;
                self.set_paused(&route.tracker, true);
            }
            return;
        }
        let bytes = batch.bytes();
        match route.sender.try_send(batch) {
            Ok(()) => {
                route.last_batch_bytes = bytes;
                if route.held {
                    route.held = false;
                    self.set_paused(&route.tracker, false);
                }
            }
            Err(TrySendError::Full(batch)) => {
                route.batch = Some(batch);
                if !route.held {
                    route.held = true;
                    self.set_paused(&route.tracker, true);
                }
            }
            Err(TrySendError::Disconnected(_)) => {
                route.tracker.queued_batches.fetch_sub(1, Ordering::AcqRel);
            }
        }
    }

    fn set_paused(&self, tracker: &PartitionTracker, pause: bool) {
        let mut list = TopicPartitionList::with_capacity(1);
        list.add_partition(&tracker.topic, tracker.partition);
        let result = if pause { self.consumer.pause(&list) } else { self.consumer.resume(&list) };
        match result {
            Ok(()) => tracker.paused.store(pause, Ordering::Relaxed),
            Err(error) => {
                tracing::warn!(topic = %tracker.topic, partition = tracker.partition, %error, pause, "pause/resume failed")
            }
        }
    }
}

impl Routes {
    fn get(&self, topic: &str, partition: i32) -> Option<&Route> {
        self.by_topic.get(topic).and_then(|p| p.get(&partition))
    }
}

/// Drops a removed route's batch unsent.
fn drop_batch(route: Route) {
    if route.batch.is_some() {
        route.tracker.queued_batches.fetch_sub(1, Ordering::AcqRel);
    }
}
