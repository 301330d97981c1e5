//! Per-partition progress: which source offsets the target has acknowledged, and the offset syncs
//! those acknowledgements produce.
//!
//! A source offset counts as done only after the target acknowledged it, and progress only moves over a
//! contiguous prefix of acknowledged batches, so a stored offset never skips a record that might still
//! fail. Bookkeeping is per batch (a short lock when a batch is sent and when it completes), never per
//! record: per-record acks only write the record's target offset into the batch's slot and decrement an
//! atomic counter in [`BatchAck`].
//!
//! Metrics follow the same rule: a completed batch adds its records and bytes to the partition's
//! pre-registered counters and records one replication-latency sample (its last record, whose ack
//! completed it), after the lock is released. The tracker also keeps what the status API and the
//! flow monitor read: paused flag, source offsets from the last lag poll, last delivery error.
//!
//! When offset syncs are on, each completed batch's (source offset, target offset) pairs go, in order,
//! through the partition's [`PartitionSyncWriter`] (MM2's triggers plus ferry's change points) under the
//! same per-batch lock; the syncs it emits are queued for the flow's sync publisher.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use super::batch::RecordBatch;
use super::transactional::PartitionTransactions;

use crate::metrics::{age_seconds, now_ms, PartitionMetrics};
use crate::status::problems::Problems;
use ferry_engine::sync_writer::{OffsetPair, PartitionSyncWriter};
use ferry_engine::wire::OffsetSync;
use tokio::sync::mpsc::UnboundedSender;

/// Offset value meaning "nothing acknowledged yet".
pub const NONE: i64 = -1;

#[derive(Debug)]
struct InflightBatch {
    seq: u64,
    last_offset: i64,
    done: bool,
    ok: bool,
    /// (source offset, target offset) of each record, once acknowledged (only when syncs are on).
    pairs: Vec<(u64, u64)>,
}

/// Where a partition's offset syncs go.
#[derive(Debug)]
pub struct SyncFeed {
    writer: PartitionSyncWriter,
    out: UnboundedSender<OffsetSync>,
}

impl SyncFeed {
    /// A feed applying MM2's triggers with `offset.lag.max` = `lag_max`, sending syncs to `out`.
    pub fn new(lag_max: u64, out: UnboundedSender<OffsetSync>) -> Self {
        Self { writer: PartitionSyncWriter::new(lag_max), out }
    }
}

#[derive(Debug)]
struct Inner {
    inflight: VecDeque<InflightBatch>,
    syncs: Option<SyncFeed>,
}

/// What a batch carries besides its offsets, for metrics: counted when the target acknowledged it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchSummary {
    /// Key + value bytes of the batch's records.
    pub bytes: u64,
    /// Value bytes of the batch's records.
    pub value_bytes: u64,
    /// Timestamp (ms) of the batch's last record, `NONE` if it has none.
    pub last_timestamp: i64,
}

/// A failure and when it happened, for the status API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastError {
    /// What failed, as the client reported it.
    pub message: String,
    /// When, in ms since the Unix epoch.
    pub at_ms: i64,
}

/// Progress state of one source partition being copied.
#[derive(Debug)]
pub struct PartitionTracker {
    /// Source topic name.
    pub topic: String,
    /// Partition index (the same on source and target).
    pub partition: i32,
    /// Remote topic name on the target.
    pub target_topic: String,
    /// Last source offset acknowledged by the target with every earlier one (`NONE` if none yet).
    acked: AtomicI64,
    /// Last offset written to progress storage (`NONE` if none).
    stored: AtomicI64,
    /// Offset of the first record this tracker ever sent (`NONE` until then): where a failed partition
    /// restarts when nothing was acknowledged yet.
    first_sent: AtomicI64,
    next_seq: AtomicU64,
    inner: Mutex<Inner>,
    failed: AtomicBool,
    /// Records acknowledged by the target since start.
    pub copied_records: AtomicU64,
    /// Batches handed to the producer queue and not yet sent (for draining).
    pub queued_batches: AtomicUsize,
    /// Pre-registered metric handles, bumped once per batch.
    pub metrics: PartitionMetrics,
    /// Whether the fetch loop paused this partition (its worker's queue was full).
    pub paused: AtomicBool,
    /// Source log start and end offsets at the last lag poll (`NONE` until known).
    source_offsets: (AtomicI64, AtomicI64),
    /// Timestamp (ms) of the last record of the last batch acknowledged (`NONE` if none).
    last_acked_timestamp: AtomicI64,
    /// The last delivery failure (cold path: written once per failed batch).
    last_error: Mutex<Option<LastError>>,
    /// Exactly-once mode: the partition's transactional producer (set once, before its first batch).
    transactions: OnceLock<Arc<PartitionTransactions>>,
    /// Where delivery failures are reported as the flow's problems (rate-limited logs, `/status`).
    problems: Option<Arc<Problems>>,
}

impl PartitionTracker {
    /// A tracker whose progress starts at `stored` (the last offset already copied, or `NONE`), feeding
    /// offset syncs to `syncs` when given and counting into `metrics`.
    pub fn new(
        topic: &str,
        partition: i32,
        target_topic: &str,
        stored: i64,
        syncs: Option<SyncFeed>,
        metrics: PartitionMetrics,
    ) -> Arc<Self> {
        Arc::new(Self {
            topic: topic.to_string(),
            partition,
            target_topic: target_topic.to_string(),
            acked: AtomicI64::new(stored),
            stored: AtomicI64::new(stored),
            first_sent: AtomicI64::new(NONE),
            next_seq: AtomicU64::new(0),
            inner: Mutex::new(Inner { inflight: VecDeque::new(), syncs }),
            failed: AtomicBool::new(false),
            copied_records: AtomicU64::new(0),
            queued_batches: AtomicUsize::new(0),
            metrics,
            paused: AtomicBool::new(false),
            source_offsets: (AtomicI64::new(NONE), AtomicI64::new(NONE)),
            last_acked_timestamp: AtomicI64::new(NONE),
            last_error: Mutex::new(None),
            transactions: OnceLock::new(),
            problems: None,
        })
    }

    /// Sends this partition's batches in transactions through `transactions` (exactly-once mode).
    pub fn use_transactions(&self, transactions: Arc<PartitionTransactions>) {
        let _ = self.transactions.set(transactions);
    }

    /// The partition's transactional producer, in exactly-once mode.
    pub fn transactions(&self) -> Option<&Arc<PartitionTransactions>> {
        self.transactions.get()
    }

    /// Like [`Self::new`], reporting delivery failures to `problems`.
    pub fn with_problems(mut self: Arc<Self>, problems: Option<Arc<Problems>>) -> Arc<Self> {
        if let Some(tracker) = Arc::get_mut(&mut self) {
            tracker.problems = problems;
        }
        self
    }

    /// The flow's problems, if this partition reports to them.
    pub fn problems(&self) -> Option<&Arc<Problems>> {
        self.problems.as_ref()
    }

    /// A tracker with no stored progress and no syncs, for unit tests.
    pub fn new_for_test(topic: &str, partition: i32, target_topic: &str) -> Arc<Self> {
        Self::new(topic, partition, target_topic, NONE, None, PartitionMetrics::noop())
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A poisoned lock only means another thread panicked mid-update of this small state; each update
        // is a single push/pop/flag write, so the state is consistent: keep going.
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether this partition emits offset syncs (so batches must record target offsets).
    pub fn has_syncs(&self) -> bool {
        self.lock().syncs.is_some()
    }

    /// Registers a batch (source offsets `upstream`, in order) about to be sent and returns its
    /// acknowledgement handle; `summary` is counted when the whole batch is acknowledged.
    pub fn begin_batch(self: &Arc<Self>, upstream: Vec<i64>, summary: BatchSummary) -> Arc<BatchAck> {
        self.begin(upstream, summary, None)
    }

    /// [`Self::begin_batch`] for the records of `batch`.
    pub fn begin_batch_of(self: &Arc<Self>, batch: &RecordBatch) -> Arc<BatchAck> {
        self.begin(batch.offsets(), batch.summary(), None)
    }

    /// Like [`Self::begin_batch_of`], but the acknowledgement then owns `batch`: its bytes stay where
    /// they are until the last record's delivery report has been handled (see
    /// [`super::borrowed_send`]).
    pub fn begin_owned_batch(self: &Arc<Self>, batch: RecordBatch) -> Arc<BatchAck> {
        self.begin(batch.offsets(), batch.summary(), Some(batch))
    }

    fn begin(self: &Arc<Self>, upstream: Vec<i64>, summary: BatchSummary, batch: Option<RecordBatch>) -> Arc<BatchAck> {
        let (Some(&first), Some(&last)) = (upstream.first(), upstream.last()) else {
            return Arc::new(BatchAck::empty(Arc::clone(self)));
        };
        let _ = self.first_sent.compare_exchange(NONE, first, Ordering::AcqRel, Ordering::Acquire);
        let seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
        let record_targets = {
            let mut inner = self.lock();
            inner.inflight.push_back(InflightBatch {
                seq,
                last_offset: last,
                done: false,
                ok: true,
                pairs: Vec::new(),
            });
            inner.syncs.is_some()
        };
        let records = upstream.len();
        let downstream = if record_targets { (0..records).map(|_| AtomicI64::new(NONE)).collect() } else { Vec::new() };
        Arc::new(BatchAck {
            tracker: Arc::clone(self),
            seq,
            upstream,
            downstream,
            next_index: AtomicUsize::new(0),
            remaining: AtomicUsize::new(records),
            failed: AtomicBool::new(false),
            summary,
            batch,
        })
    }

    fn finish_batch(&self, seq: u64, ok: bool, records: usize, pairs: Vec<(u64, u64)>, summary: BatchSummary) {
        self.complete(seq, ok, pairs);
        if ok {
            self.copied_records.fetch_add(records as u64, Ordering::Relaxed);
            self.metrics.records.increment(records as u64);
            self.metrics.bytes.increment(summary.bytes);
            self.metrics.value_bytes.increment(summary.value_bytes);
            if summary.last_timestamp != NONE {
                self.last_acked_timestamp.store(summary.last_timestamp, Ordering::Relaxed);
                self.metrics.replication_latency.record(age_seconds(now_ms(), summary.last_timestamp));
            }
        }
    }

    /// Marks batch `seq` done and moves progress over the completed prefix (under the per-batch lock).
    fn complete(&self, seq: u64, ok: bool, pairs: Vec<(u64, u64)>) {
        let mut inner = self.lock();
        let Inner { inflight, syncs } = &mut *inner;
        if let Some(entry) = inflight.iter_mut().find(|b| b.seq == seq) {
            entry.done = true;
            entry.ok = ok;
            entry.pairs = pairs;
        }
        while let Some(front) = inflight.front() {
            if !front.done {
                break;
            }
            if !front.ok {
                // Progress stops before a failed batch: nothing after it may count as copied.
                self.failed.store(true, Ordering::Release);
                break;
            }
            if let (Some(feed), Some(batch)) = (syncs.as_mut(), inflight.front()) {
                for &(upstream, downstream) in &batch.pairs {
                    for pair in feed.writer.on_ack(upstream, downstream) {
                        let _ = feed.out.send(self.sync(pair));
                    }
                }
            }
            self.acked.store(front.last_offset, Ordering::Release);
            inflight.pop_front();
        }
    }

    fn sync(&self, pair: OffsetPair) -> OffsetSync {
        OffsetSync {
            topic: self.topic.clone(),
            partition: self.partition,
            upstream_offset: pair.upstream as i64,
            downstream_offset: pair.downstream as i64,
        }
    }

    /// Sends the delayed offset sync, if any (MM2 promotes it at every progress commit, so idle
    /// partitions get an end-of-topic sync).
    pub fn flush_syncs(&self) {
        let mut inner = self.lock();
        if let Some(feed) = inner.syncs.as_mut() {
            if let Some(pair) = feed.writer.flush() {
                let _ = feed.out.send(self.sync(pair));
            }
        }
    }

    /// Where to resume after a failure: the offset after the last acknowledged one, or the first offset
    /// ever sent when nothing was acknowledged (`None` if nothing was sent either).
    pub fn resume_offset(&self) -> Option<i64> {
        match (self.acked(), self.first_sent.load(Ordering::Acquire)) {
            (NONE, NONE) => None,
            (NONE, first) => Some(first),
            (acked, _) => Some(acked + 1),
        }
    }

    /// Last source offset the target acknowledged together with all earlier ones (`NONE` if none).
    pub fn acked(&self) -> i64 {
        self.acked.load(Ordering::Acquire)
    }

    /// The acked offset if it moved since the last call to [`Self::mark_stored`].
    pub fn unstored(&self) -> Option<i64> {
        let acked = self.acked();
        (acked != NONE && acked != self.stored.load(Ordering::Acquire)).then_some(acked)
    }

    /// Records that `offset` is now in progress storage.
    pub fn mark_stored(&self, offset: i64) {
        self.stored.fetch_max(offset, Ordering::AcqRel);
    }

    /// Whether a batch failed delivery (the partition must stop and restart from its progress).
    pub fn is_failed(&self) -> bool {
        self.failed.load(Ordering::Acquire)
    }

    /// Batches sent and not yet fully acknowledged or failed.
    pub fn inflight_batches(&self) -> usize {
        self.lock().inflight.iter().filter(|b| !b.done).count()
    }

    /// Records the source's log start and end offsets (from the flow monitor's poll).
    pub fn set_source_offsets(&self, log_start: i64, end: i64) {
        self.source_offsets.0.store(log_start, Ordering::Relaxed);
        self.source_offsets.1.store(end, Ordering::Relaxed);
    }

    /// The source's (log start, end) offsets at the last poll, `NONE` until known.
    pub fn source_offsets(&self) -> (i64, i64) {
        (self.source_offsets.0.load(Ordering::Relaxed), self.source_offsets.1.load(Ordering::Relaxed))
    }

    /// Offset of the first record this tracker ever sent (`NONE` until then).
    pub fn first_sent(&self) -> i64 {
        self.first_sent.load(Ordering::Acquire)
    }

    /// Timestamp (ms) of the last record of the last acknowledged batch (`NONE` if none yet).
    pub fn last_acked_timestamp(&self) -> i64 {
        self.last_acked_timestamp.load(Ordering::Relaxed)
    }

    /// Remembers a delivery failure for the status API (once per failed batch: cold path).
    pub fn set_error(&self, message: String) {
        let error = LastError { message, at_ms: now_ms() };
        *self.last_error.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(error);
    }

    /// The last delivery failure, if any.
    pub fn last_error(&self) -> Option<LastError> {
        self.last_error.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    /// Whether nothing of this partition is queued or waiting for acknowledgement.
    pub fn is_idle(&self) -> bool {
        self.queued_batches.load(Ordering::Acquire) == 0 && self.inflight_batches() == 0
    }
}

/// Acknowledgement handle of one sent batch; every record of the batch carries a clone as its
/// delivery opaque.
pub struct BatchAck {
    tracker: Arc<PartitionTracker>,
    seq: u64,
    /// Source offsets of the batch's records, in send order.
    upstream: Vec<i64>,
    /// Target offsets, filled as acks arrive (empty when syncs are off).
    downstream: Vec<AtomicI64>,
    /// Index of the next record to be acknowledged (reports of one partition arrive in send order).
    next_index: AtomicUsize,
    remaining: AtomicUsize,
    failed: AtomicBool,
    /// Bytes and last timestamp, counted when the batch completes.
    summary: BatchSummary,
    /// The batch whose records librdkafka borrows until their delivery reports (dropped, and its
    /// buffers reused, with the last clone of this acknowledgement).
    batch: Option<RecordBatch>,
}

impl std::fmt::Debug for BatchAck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchAck")
            .field("topic", &self.tracker.topic)
            .field("partition", &self.tracker.partition)
            .field("seq", &self.seq)
            .field("records", &self.upstream.len())
            .field("remaining", &self.remaining)
            .finish_non_exhaustive()
    }
}

impl BatchAck {
    fn empty(tracker: Arc<PartitionTracker>) -> Self {
        Self {
            tracker,
            seq: u64::MAX,
            upstream: Vec::new(),
            downstream: Vec::new(),
            next_index: AtomicUsize::new(0),
            remaining: AtomicUsize::new(0),
            failed: AtomicBool::new(false),
            summary: BatchSummary::default(),
            batch: None,
        }
    }

    /// The batch this acknowledgement owns, if it was begun with [`PartitionTracker::begin_owned_batch`].
    pub fn batch(&self) -> Option<&RecordBatch> {
        self.batch.as_ref()
    }

    /// Records one record's delivery result (`target_offset` is where the target stored it, when ok);
    /// the last one completes the batch. Returns true when this is the batch's first failure (so the
    /// caller logs once per batch, not per record).
    pub fn delivered(&self, ok: bool, target_offset: i64) -> bool {
        let first_failure = !ok && !self.failed.swap(true, Ordering::AcqRel);
        let index = self.next_index.fetch_add(1, Ordering::AcqRel);
        if let Some(slot) = self.downstream.get(index) {
            slot.store(target_offset, Ordering::Release);
        }
        if self.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
            let ok = !self.failed.load(Ordering::Acquire);
            let pairs = if ok && !self.downstream.is_empty() { self.pairs() } else { Vec::new() };
            self.tracker.finish_batch(self.seq, ok, self.upstream.len(), pairs, self.summary);
        }
        first_failure
    }

    fn pairs(&self) -> Vec<(u64, u64)> {
        self.upstream
            .iter()
            .zip(&self.downstream)
            .filter_map(|(&up, down)| {
                let down = down.load(Ordering::Acquire);
                (up >= 0 && down >= 0).then_some((up as u64, down as u64))
            })
            .collect()
    }

    /// The partition this batch belongs to.
    pub fn tracker(&self) -> &Arc<PartitionTracker> {
        &self.tracker
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_moves_only_over_a_contiguous_acknowledged_prefix() {
        let t = PartitionTracker::new_for_test("t", 0, "src.t");
        let a = t.begin_batch(vec![0, 9], BatchSummary::default());
        let b = t.begin_batch(vec![19], BatchSummary::default());
        b.delivered(true, 2);
        assert_eq!(t.acked(), NONE, "second batch done but first still in flight");
        a.delivered(true, 0);
        assert_eq!(t.acked(), NONE);
        a.delivered(true, 1);
        assert_eq!(t.acked(), 19);
        assert_eq!(t.resume_offset(), Some(20));
        assert_eq!(t.unstored(), Some(19));
        t.mark_stored(19);
        assert_eq!(t.unstored(), None);
        assert!(t.is_idle());
        assert_eq!(t.copied_records.load(Ordering::Relaxed), 3);
    }

    #[test]
    fn a_failed_batch_freezes_progress_before_it() {
        let t = PartitionTracker::new("t", 0, "src.t", 4, None, PartitionMetrics::noop());
        let a = t.begin_batch(vec![5, 9], BatchSummary::default());
        let b = t.begin_batch(vec![19], BatchSummary::default());
        assert!(a.delivered(false, NONE), "first failure of the batch");
        assert!(!a.delivered(false, NONE), "logged once per batch");
        b.delivered(true, 7);
        assert_eq!(t.acked(), 4);
        assert_eq!(t.resume_offset(), Some(5));
        assert!(t.is_failed());
        assert_eq!(t.unstored(), None);
    }

    #[test]
    fn completed_batches_feed_offset_syncs_in_order() {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let t = PartitionTracker::new("t", 3, "src.t", NONE, Some(SyncFeed::new(100, tx)), PartitionMetrics::noop());
        let a = t.begin_batch(vec![0, 1, 2], BatchSummary::default());
        let b = t.begin_batch(vec![5, 6], BatchSummary::default());
        for (i, ack) in [(10, &a), (11, &a), (12, &a), (13, &b), (14, &b)] {
            ack.delivered(true, i);
        }
        t.flush_syncs();
        let mut syncs = Vec::new();
        while let Ok(sync) = rx.try_recv() {
            syncs.push((sync.topic.clone(), sync.partition, sync.upstream_offset, sync.downstream_offset));
        }
        // First record, then the upstream gap 2 -> 5 (and the delta change), then the delayed end.
        assert_eq!(syncs.first(), Some(&("t".to_string(), 3, 0, 10)));
        assert!(syncs.contains(&("t".to_string(), 3, 5, 13)), "{syncs:?}");
        assert_eq!(syncs.last().map(|s| (s.2, s.3)), Some((6, 14)), "{syncs:?}");
    }

    #[test]
    fn completed_batches_count_records_bytes_and_latency_once() {
        let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        let metrics = metrics::with_local_recorder(&recorder, || {
            PartitionMetrics::new(&crate::metrics::FlowLabels::new("a", "b"), "t", 0)
        });
        let t = PartitionTracker::new("t", 0, "a.t", NONE, None, metrics);
        let summary = BatchSummary { bytes: 30, value_bytes: 20, last_timestamp: now_ms() - 1000 };
        let a = t.begin_batch(vec![0, 1], summary);
        let failed = t.begin_batch(vec![2], BatchSummary { bytes: 7, value_bytes: 7, last_timestamp: NONE });
        a.delivered(true, 0);
        assert!(t.last_acked_timestamp() == NONE, "counted when the batch completes");
        a.delivered(true, 1);
        failed.delivered(false, NONE);
        let text = handle.render();
        assert!(
            text.contains(r#"ferry_copied_records_total{flow="a->b",source="a",target="b",topic="t",partition="0"} 2"#),
            "{text}"
        );
        assert!(
            text.contains(r#"ferry_copied_bytes_total{flow="a->b",source="a",target="b",topic="t",partition="0"} 30"#),
            "{text}"
        );
        assert!(
            text.contains(
                r#"ferry_copied_value_bytes_total{flow="a->b",source="a",target="b",topic="t",partition="0"} 20"#
            ),
            "{text}"
        );
        assert!(
            text.contains(r#"ferry_replication_latency_seconds_count{flow="a->b",source="a",target="b",topic="t"} 1"#),
            "{text}"
        );
        assert_eq!(t.last_acked_timestamp(), summary.last_timestamp);
    }
}
