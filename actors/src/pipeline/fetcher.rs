//! Per-partition fetchers: copy records out of a split partition queue into batches and push them into
//! a producer worker's bounded queue.
//!
//! One async task per source partition, all on the flow's fetch arbiter. A fetcher waits for the first
//! record, then takes whatever else is already fetched (up to the batch limits) without waiting, so
//! batches grow with load and latency stays low when idle. When the worker's queue is full the fetcher
//! pauses its partition in the consumer (librdkafka stops fetching it) and waits for space: memory stays
//! bounded whatever the backlog.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::{Sender, TrySendError};
use futures::FutureExt;
use rdkafka::consumer::stream_consumer::StreamPartitionQueue;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::TopicPartitionList;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::batch::{BatchPool, RecordBatch};
use super::tracker::PartitionTracker;
use crate::kafka::clients::LoggingContext;

/// Smallest arena reserved for a batch.
const MIN_RESERVE: usize = 16 * 1024;

/// Batch size limits.
#[derive(Debug, Clone, Copy)]
pub struct BatchLimits {
    /// Most records in one batch.
    pub max_records: usize,
    /// Most key/value/header bytes in one batch.
    pub max_bytes: usize,
}

/// Everything one fetcher needs.
pub struct Fetcher {
    /// The split queue of this partition.
    pub queue: StreamPartitionQueue<LoggingContext>,
    /// The flow's source consumer (for pause/resume).
    pub consumer: Arc<StreamConsumer<LoggingContext>>,
    /// Progress of this partition.
    pub tracker: Arc<PartitionTracker>,
    /// The worker queue this partition feeds.
    pub sender: Sender<RecordBatch>,
    /// Signalled by workers when they take a batch.
    pub space: Arc<Notify>,
    /// Stops this fetcher.
    pub cancel: CancellationToken,
    /// Batch limits.
    pub limits: BatchLimits,
    /// Bytes of the last batch: the next batch's arena is reserved at that size, so a busy partition
    /// does not grow (and re-copy) its arena batch after batch.
    pub last_batch_bytes: AtomicUsize,
    /// Buffers of sent batches, reused.
    pub pool: Arc<BatchPool>,
}

impl Fetcher {
    /// Runs until cancelled or until a delivery of this partition failed.
    pub async fn run(self) {
        loop {
            let batch = tokio::select! {
                biased;
                () = self.cancel.cancelled() => break,
                batch = self.next_batch() => batch,
            };
            let Some(batch) = batch else { continue };
            if !self.push(batch).await {
                break;
            }
            if self.tracker.is_failed() {
                self.set_paused(true);
                break;
            }
        }
    }

    /// Waits for one record, then takes what is already fetched, up to the limits.
    async fn next_batch(&self) -> Option<RecordBatch> {
        // A quarter more than last time: a batch a little larger than the last does not reallocate.
        let last = self.last_batch_bytes.load(Ordering::Relaxed);
        let reserve = last.saturating_add(last / 4).clamp(MIN_RESERVE, self.limits.max_bytes.max(MIN_RESERVE));
        let mut batch = self.pool.batch(Arc::clone(&self.tracker), reserve);
        match self.queue.recv().await {
            Ok(message) => batch.push(&message),
            Err(error) => {
                tracing::warn!(topic = %self.tracker.topic, partition = self.tracker.partition, %error, "fetch error (retrying)");
                tokio::time::sleep(Duration::from_millis(200)).await;
                return None;
            }
        }
        while batch.len() < self.limits.max_records && batch.bytes() < self.limits.max_bytes {
            match self.queue.recv().now_or_never() {
                Some(Ok(message)) => batch.push(&message),
                Some(Err(error)) => {
                    tracing::warn!(topic = %self.tracker.topic, partition = self.tracker.partition, %error, "fetch error (retrying)");
                    break;
                }
                None => break,
            }
        }
        self.last_batch_bytes.store(batch.bytes(), Ordering::Relaxed);
        Some(batch)
    }

    /// Hands a batch to the worker, pausing the partition while the queue is full. Returns false when
    /// cancelled while waiting (the batch is dropped unsent, so its offsets are never marked done).
    async fn push(&self, batch: RecordBatch) -> bool {
        self.tracker.queued_batches.fetch_add(1, Ordering::AcqRel);
        let mut batch = batch;
        let mut paused = false;
        loop {
            let notified = self.space.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            match self.sender.try_send(batch) {
                Ok(()) => break,
                Err(TrySendError::Full(returned)) => {
                    batch = returned;
                    if !paused {
                        self.set_paused(true);
                        paused = true;
                    }
                    tokio::select! {
                        biased;
                        () = self.cancel.cancelled() => {
                            self.tracker.queued_batches.fetch_sub(1, Ordering::AcqRel);
                            return false;
                        }
                        () = notified => {}
                    }
                }
                Err(TrySendError::Disconnected(_)) => {
                    self.tracker.queued_batches.fetch_sub(1, Ordering::AcqRel);
                    return false;
                }
            }
        }
        if paused {
            self.set_paused(false);
        }
        true
    }

    fn set_paused(&self, pause: bool) {
        let mut list = TopicPartitionList::with_capacity(1);
        list.add_partition(&self.tracker.topic, self.tracker.partition);
        let result = if pause { self.consumer.pause(&list) } else { self.consumer.resume(&list) };
        if let Err(error) = result {
            tracing::warn!(topic = %self.tracker.topic, partition = self.tracker.partition, %error, pause, "pause/resume failed");
        }
    }
}
