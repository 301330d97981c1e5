//! Per-partition progress: which source offsets the target has acknowledged.
//!
//! A source offset counts as done only after the target acknowledged it, and progress only moves over a
//! contiguous prefix of acknowledged batches, so a stored offset never skips a record that might still
//! fail. Bookkeeping is per batch (a short lock when a batch is sent and when its last record is acked),
//! never per record; per-record acks only decrement an atomic counter in [`BatchAck`].

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// Offset value meaning "nothing acknowledged yet".
pub const NONE: i64 = -1;

#[derive(Debug)]
struct InflightBatch {
    seq: u64,
    last_offset: i64,
    done: bool,
    ok: bool,
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
    inflight: Mutex<VecDeque<InflightBatch>>,
    failed: AtomicBool,
    /// Records acknowledged by the target since start.
    pub copied_records: AtomicU64,
    /// Batches handed to the producer queue and not yet sent (for draining).
    pub queued_batches: AtomicUsize,
}

impl PartitionTracker {
    /// A tracker whose progress starts at `stored` (the last offset already copied, or `NONE`).
    pub fn new(topic: &str, partition: i32, target_topic: &str, stored: i64) -> Arc<Self> {
        Arc::new(Self {
            topic: topic.to_string(),
            partition,
            target_topic: target_topic.to_string(),
            acked: AtomicI64::new(stored),
            stored: AtomicI64::new(stored),
            first_sent: AtomicI64::new(NONE),
            next_seq: AtomicU64::new(0),
            inflight: Mutex::new(VecDeque::new()),
            failed: AtomicBool::new(false),
            copied_records: AtomicU64::new(0),
            queued_batches: AtomicUsize::new(0),
        })
    }

    /// A tracker with no stored progress, for unit tests.
    pub fn new_for_test(topic: &str, partition: i32, target_topic: &str) -> Arc<Self> {
        Self::new(topic, partition, target_topic, NONE)
    }

    fn lock(&self) -> MutexGuard<'_, VecDeque<InflightBatch>> {
        // A poisoned lock only means another thread panicked mid-update of this small queue; its
        // entries are still consistent (each update is a single push/pop/flag write), so keep going.
        self.inflight.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Registers a batch (offsets `first_offset..=last_offset`) about to be sent and returns its
    /// acknowledgement handle.
    pub fn begin_batch(self: &Arc<Self>, first_offset: i64, last_offset: i64, records: usize) -> Arc<BatchAck> {
        let _ = self.first_sent.compare_exchange(NONE, first_offset, Ordering::AcqRel, Ordering::Acquire);
        let seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
        self.lock().push_back(InflightBatch { seq, last_offset, done: false, ok: true });
        Arc::new(BatchAck {
            tracker: Arc::clone(self),
            seq,
            records,
            remaining: AtomicUsize::new(records),
            failed: AtomicBool::new(false),
        })
    }

    fn finish_batch(&self, seq: u64, ok: bool, records: usize) {
        let mut inflight = self.lock();
        if let Some(entry) = inflight.iter_mut().find(|b| b.seq == seq) {
            entry.done = true;
            entry.ok = ok;
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
            self.acked.store(front.last_offset, Ordering::Release);
            inflight.pop_front();
        }
        if ok {
            self.copied_records.fetch_add(records as u64, Ordering::Relaxed);
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
        self.lock().iter().filter(|b| !b.done).count()
    }

    /// Whether nothing of this partition is queued or waiting for acknowledgement.
    pub fn is_idle(&self) -> bool {
        self.queued_batches.load(Ordering::Acquire) == 0 && self.inflight_batches() == 0
    }
}

/// Acknowledgement handle of one sent batch; every record of the batch carries a clone as its
/// delivery opaque.
#[derive(Debug)]
pub struct BatchAck {
    tracker: Arc<PartitionTracker>,
    seq: u64,
    records: usize,
    remaining: AtomicUsize,
    failed: AtomicBool,
}

impl BatchAck {
    /// Records one record's delivery result; the last one completes the batch. Returns true when this
    /// is the batch's first failure (so the caller logs once per batch, not per record).
    pub fn delivered(&self, ok: bool) -> bool {
        let first_failure = !ok && !self.failed.swap(true, Ordering::AcqRel);
        if self.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
            let ok = !self.failed.load(Ordering::Acquire);
            self.tracker.finish_batch(self.seq, ok, self.records);
        }
        first_failure
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
        let a = t.begin_batch(0, 9, 2);
        let b = t.begin_batch(10, 19, 1);
        b.delivered(true);
        assert_eq!(t.acked(), NONE, "second batch done but first still in flight");
        a.delivered(true);
        assert_eq!(t.acked(), NONE);
        a.delivered(true);
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
        let t = PartitionTracker::new("t", 0, "src.t", 4);
        let a = t.begin_batch(5, 9, 1);
        let b = t.begin_batch(10, 19, 1);
        a.delivered(false);
        b.delivered(true);
        assert_eq!(t.acked(), 4);
        assert_eq!(t.resume_offset(), Some(5));
        assert!(t.is_failed());
        assert_eq!(t.unstored(), None);
    }
}
