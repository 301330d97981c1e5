//! A batch of records copied out of one source partition, ready to be produced.
//!
//! Records leave librdkafka's fetch buffers exactly once: their key, value and header bytes are appended
//! to one arena per batch (no allocation per record), and per-record metadata holds ranges into it. The
//! producer worker hands slices of the arena to the target producer.
//!
//! A [`BatchPool`] keeps the buffers of sent batches for the next ones: without it every batch of a
//! busy partition allocated a fresh arena of up to `ferry.batch.max.bytes`, which the kernel had to
//! zero page by page (profiled: a sixth of ferry's CPU time in a backlog copy).
//!
//! The pool also keeps the flow's memory budget (`ferry.queue.max.bytes`): the arena capacity of every
//! live batch it handed out (being filled, held or queued for a worker) is counted until the batch is
//! sent ([`RecordBatch::leave_budget`]; librdkafka then reads the values from the arena until the target
//! acknowledged them, within the producer's own queue limit) or dropped, and the fetch loops stop reading while the count is over the budget; buffers are kept for
//! reuse only while live and kept arenas together stay within it. Counting capacity
//! rather than content matters at many partitions: a reused arena keeps its resident pages however few
//! records the next batch holds.

use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crossbeam_channel::{bounded, Receiver, Sender};
use tokio::sync::Notify;

use rdkafka::message::{BorrowedMessage, Headers, Message};

use super::tracker::{BatchSummary, PartitionTracker, NONE};

/// Where a record's parts sit in the batch arena.
#[derive(Debug, Clone)]
pub struct RecordMeta {
    /// Offset of the record in the source partition.
    pub offset: i64,
    /// Timestamp in ms (create or log-append time as the source reported it), if any.
    pub timestamp: Option<i64>,
    /// The key, `None` for a null key.
    pub key: Option<Range<usize>>,
    /// The value, `None` for a null value (tombstone).
    pub value: Option<Range<usize>>,
    /// This record's headers: a range into [`RecordBatch::headers`].
    pub headers: Range<usize>,
}

/// One record header: name and value as ranges into the arena.
#[derive(Debug, Clone)]
pub struct HeaderMeta {
    /// Header name (UTF-8).
    pub name: Range<usize>,
    /// Header value, `None` for a null value.
    pub value: Option<Range<usize>>,
}

/// Records fetched from one source partition, in offset order.
pub struct RecordBatch {
    /// The partition these records come from (and its progress tracking).
    pub partition: Arc<PartitionTracker>,
    arena: Vec<u8>,
    records: Vec<RecordMeta>,
    headers: Vec<HeaderMeta>,
    /// Where the buffers go back when the batch is dropped.
    pool: Option<Arc<BatchPool>>,
    /// Arena capacity counted in the pool's budget.
    counted: usize,
}

impl RecordBatch {
    /// An empty batch for `partition`, sized for `records` records of about `bytes` bytes.
    pub fn with_capacity(partition: Arc<PartitionTracker>, records: usize, bytes: usize) -> Self {
        Self {
            partition,
            arena: Vec::with_capacity(bytes),
            records: Vec::with_capacity(records),
            headers: Vec::new(),
            pool: None,
            counted: 0,
        }
    }

    fn append(&mut self, bytes: &[u8]) -> Range<usize> {
        let start = self.arena.len();
        self.arena.extend_from_slice(bytes);
        start..self.arena.len()
    }

    /// Copies a fetched message into the batch.
    pub fn push(&mut self, message: &BorrowedMessage<'_>) {
        let key = message.key().map(|k| self.append(k));
        let value = message.payload().map(|v| self.append(v));
        let headers_start = self.headers.len();
        if let Some(headers) = message.headers() {
            for header in headers.iter() {
                let name = self.append(header.key.as_bytes());
                let value = header.value.map(|v| self.append(v));
                self.headers.push(HeaderMeta { name, value });
            }
        }
        self.records.push(RecordMeta {
            offset: message.offset(),
            timestamp: message.timestamp().to_millis(),
            key,
            value,
            headers: headers_start..self.headers.len(),
        });
        self.count_growth();
    }

    /// Adds arena growth to the pool's budget count (the arena only grows while records are pushed).
    fn count_growth(&mut self) {
        let capacity = self.arena.capacity();
        if capacity > self.counted {
            if let Some(pool) = &self.pool {
                pool.in_use.fetch_add(capacity - self.counted, Ordering::Relaxed);
                self.counted = capacity;
            }
        }
    }

    /// Adds a record from parts (used by tests and the demo's fixtures).
    pub fn push_parts(
        &mut self,
        offset: i64,
        timestamp: Option<i64>,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[(&str, Option<&[u8]>)],
    ) {
        let key = key.map(|k| self.append(k));
        let value = value.map(|v| self.append(v));
        let headers_start = self.headers.len();
        for (name, value) in headers {
            let name = self.append(name.as_bytes());
            let value = value.map(|v| self.append(v));
            self.headers.push(HeaderMeta { name, value });
        }
        self.records.push(RecordMeta { offset, timestamp, key, value, headers: headers_start..self.headers.len() });
        self.count_growth();
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether the batch has no record.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Bytes of keys, values and headers held.
    pub fn bytes(&self) -> usize {
        self.arena.len()
    }

    /// The records' metadata, in offset order.
    pub fn records(&self) -> &[RecordMeta] {
        &self.records
    }

    /// Bytes of a range returned in [`RecordMeta`] or [`HeaderMeta`].
    pub fn slice(&self, range: &Range<usize>) -> &[u8] {
        &self.arena[range.clone()]
    }

    /// The headers of one record.
    pub fn headers_of(&self, record: &RecordMeta) -> &[HeaderMeta] {
        &self.headers[record.headers.clone()]
    }

    /// Key and value bytes, value bytes and the last record's timestamp, for metrics (one pass over the
    /// records' metadata).
    pub fn summary(&self) -> BatchSummary {
        let mut summary = BatchSummary {
            last_timestamp: self.records.last().and_then(|r| r.timestamp).unwrap_or(NONE),
            ..BatchSummary::default()
        };
        for meta in &self.records {
            // Ranges into the arena: `end >= start` by construction.
            let key = meta.key.as_ref().map_or(0, |k| k.end.saturating_sub(k.start));
            let value = meta.value.as_ref().map_or(0, |v| v.end.saturating_sub(v.start));
            summary.bytes += (key + value) as u64;
            summary.value_bytes += value as u64;
        }
        summary
    }

    /// The records' source offsets, in order.
    pub fn offsets(&self) -> Vec<i64> {
        self.records.iter().map(|r| r.offset).collect()
    }

    /// Offset of the last record, if any.
    pub fn last_offset(&self) -> Option<i64> {
        self.records.last().map(|r| r.offset)
    }
}

impl RecordBatch {
    /// Takes the batch out of the flow's memory budget: it is being sent, and from here the target
    /// producer's queue limit (`queue.buffering.max.kbytes`, which counts the values librdkafka borrows)
    /// bounds it until it is acknowledged and dropped. Fetch loops waiting for the budget are woken
    /// when this takes the live batches under it.
    pub fn leave_budget(&mut self) {
        let Some(pool) = &self.pool else { return };
        let before = pool.in_use.fetch_sub(self.counted, Ordering::Relaxed);
        if before >= pool.budget && before - self.counted < pool.budget {
            pool.released.notify_waiters();
        }
        self.counted = 0;
    }
}

impl Drop for RecordBatch {
    fn drop(&mut self) {
        self.leave_budget();
        if let Some(pool) = self.pool.take() {
            pool.give(Buffers {
                arena: std::mem::take(&mut self.arena),
                records: std::mem::take(&mut self.records),
                headers: std::mem::take(&mut self.headers),
            });
        }
    }
}

/// The reusable buffers of one batch.
struct Buffers {
    arena: Vec<u8>,
    records: Vec<RecordMeta>,
    headers: Vec<HeaderMeta>,
}

/// A bounded free list of batch buffers, shared by a flow's fetchers (which take) and producer workers
/// (whose sent batches give back on drop), which also counts the arena capacity of the live batches it
/// handed out against the flow's memory budget. At most `capacity` buffers are kept, and none whose arena
/// grew past `max_arena` bytes (a batch of unusually large records), so it holds at most
/// `capacity × max_arena` bytes.
pub struct BatchPool {
    give: Sender<Buffers>,
    take: Receiver<Buffers>,
    max_arena: usize,
    /// Arena capacity of live batches handed out by this pool.
    in_use: AtomicUsize,
    /// Arena capacity of the buffers kept for reuse.
    pooled: AtomicUsize,
    /// Most arena capacity live batches should hold (`ferry.queue.max.bytes`).
    budget: usize,
    /// Signalled when batches leaving the budget take the live arenas back under it.
    released: Arc<Notify>,
}

impl BatchPool {
    /// A pool keeping up to `capacity` buffers with arenas of at most `max_arena` bytes, for batches
    /// that should hold at most `budget` bytes of arena capacity in all; `released` is signalled when
    /// batches leaving the budget take them back under it.
    pub fn new(capacity: usize, max_arena: usize, budget: usize, released: Arc<Notify>) -> Arc<Self> {
        let (give, take) = bounded(capacity.max(1));
        Arc::new(Self {
            give,
            take,
            max_arena,
            in_use: AtomicUsize::new(0),
            pooled: AtomicUsize::new(0),
            budget,
            released,
        })
    }

    /// Arena capacity held by live batches of this pool.
    pub fn in_use(&self) -> usize {
        self.in_use.load(Ordering::Relaxed)
    }

    /// Whether live batches hold the budget or more: the fetch loops stop reading until workers have
    /// sent batches.
    pub fn over_budget(&self) -> bool {
        self.in_use() >= self.budget
    }

    /// An empty batch for `partition` with an arena of at least `bytes` bytes, from a kept buffer when
    /// there is one.
    pub fn batch(self: &Arc<Self>, partition: Arc<PartitionTracker>, bytes: usize) -> RecordBatch {
        let Buffers { mut arena, records, headers } = match self.take.try_recv() {
            Ok(kept) => {
                self.pooled.fetch_sub(kept.arena.capacity(), Ordering::Relaxed);
                kept
            }
            Err(_) => Buffers { arena: Vec::new(), records: Vec::with_capacity(64), headers: Vec::new() },
        };
        arena.reserve(bytes);
        let counted = arena.capacity();
        self.in_use.fetch_add(counted, Ordering::Relaxed);
        RecordBatch { partition, arena, records, headers, pool: Some(Arc::clone(self)), counted }
    }

    /// Keeps a dropped batch's buffers, unless the arena is oversized, the pool is full, or keeping it
    /// would take live and kept arenas together over the budget.
    fn give(&self, mut buffers: Buffers) {
        let capacity = buffers.arena.capacity();
        if capacity > self.max_arena || self.in_use() + self.pooled.load(Ordering::Relaxed) + capacity > self.budget {
            return;
        }
        buffers.arena.clear();
        buffers.records.clear();
        buffers.headers.clear();
        if self.give.try_send(buffers).is_ok() {
            self.pooled.fetch_add(capacity, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::FutureExt;

    #[test]
    fn parts_round_trip_through_the_arena() {
        let tracker = PartitionTracker::new_for_test("t", 0, "src.t");
        let mut batch = RecordBatch::with_capacity(tracker, 4, 64);
        batch.push_parts(7, Some(1000), Some(b"k"), None, &[("h", Some(b"\x00\x01")), ("h", None)]);
        batch.push_parts(8, None, None, Some(b"v"), &[]);
        assert_eq!(batch.len(), 2);
        let first = &batch.records()[0];
        assert_eq!(batch.slice(first.key.as_ref().expect("key was set")), b"k");
        assert!(first.value.is_none());
        let headers = batch.headers_of(first);
        assert_eq!(headers.len(), 2);
        assert_eq!(batch.slice(&headers[0].name), b"h");
        assert_eq!(batch.slice(headers[0].value.as_ref().expect("value set")), b"\x00\x01");
        assert!(headers[1].value.is_none());
        assert_eq!(batch.last_offset(), Some(8));
    }

    #[test]
    fn the_summary_counts_key_and_value_bytes_without_headers() {
        let tracker = PartitionTracker::new_for_test("t", 0, "src.t");
        let mut batch = RecordBatch::with_capacity(tracker, 4, 64);
        assert_eq!(batch.summary(), BatchSummary { last_timestamp: NONE, ..BatchSummary::default() });
        batch.push_parts(1, Some(5), Some(b"key"), Some(b"value"), &[("header", Some(b"ignored"))]);
        batch.push_parts(2, Some(9), None, Some(b"v2"), &[]);
        batch.push_parts(3, Some(12), Some(b"k"), None, &[]);
        assert_eq!(batch.summary(), BatchSummary { bytes: 3 + 5 + 2 + 1, value_bytes: 5 + 2, last_timestamp: 12 });
    }

    #[test]
    fn a_pool_reuses_the_buffers_of_dropped_batches() {
        let tracker = PartitionTracker::new_for_test("t", 0, "src.t");
        let pool = BatchPool::new(1, 1 << 20, usize::MAX, Arc::new(Notify::new()));
        let mut batch = pool.batch(Arc::clone(&tracker), 4096);
        batch.push_parts(1, None, None, Some(&[7; 100]), &[("h", None)]);
        let arena = batch.arena.as_ptr();
        drop(batch);
        let again = pool.batch(Arc::clone(&tracker), 16);
        assert_eq!(again.arena.as_ptr(), arena, "the same arena, kept");
        assert!(again.is_empty() && again.bytes() == 0 && again.headers.is_empty());
        assert!(again.arena.capacity() >= 4096);
        // Oversized arenas are not kept.
        let mut big = pool.batch(Arc::clone(&tracker), 2 << 20);
        big.push_parts(2, None, None, Some(b"v"), &[]);
        drop(again);
        drop(big);
        assert!(pool.take.try_recv().is_ok_and(|b| b.arena.capacity() < 2 << 20));
        assert!(pool.take.try_recv().is_err());
    }

    #[test]
    fn the_budget_counts_arena_capacity_of_live_batches_until_they_are_dropped() {
        let tracker = PartitionTracker::new_for_test("t", 0, "src.t");
        let pool = BatchPool::new(4, 1 << 20, 64 * 1024, Arc::new(Notify::new()));
        let mut first = pool.batch(Arc::clone(&tracker), 16 * 1024);
        assert!(pool.in_use() >= 16 * 1024);
        assert!(!pool.over_budget());
        // Growth while records are pushed is counted too.
        first.push_parts(1, None, None, Some(&[1; 70 * 1024]), &[]);
        assert_eq!(pool.in_use(), first.arena.capacity());
        assert!(pool.over_budget());
        let second = pool.batch(Arc::clone(&tracker), 16 * 1024);
        assert_eq!(pool.in_use(), first.arena.capacity() + second.arena.capacity());
        drop(first);
        assert_eq!(pool.in_use(), second.arena.capacity());
        assert!(!pool.over_budget());
        drop(second);
        assert_eq!(pool.in_use(), 0, "pooled buffers are idle, not counted");
        // A reused arena counts its whole capacity, however little the new batch needs.
        let reused = pool.batch(Arc::clone(&tracker), 16);
        assert!(pool.in_use() >= 16 * 1024);
        drop(reused);
        // Kept buffers and live batches together stay within the budget: a buffer that would pass it
        // is not kept.
        let mut big = pool.batch(Arc::clone(&tracker), 60 * 1024);
        big.push_parts(1, None, None, Some(&[1; 60 * 1024]), &[]);
        let small = pool.batch(Arc::clone(&tracker), 16 * 1024);
        drop(big);
        assert_eq!(pool.pooled.load(Ordering::Relaxed), 0, "live + kept would pass 64 KiB");
        drop(small);
        assert!(pool.pooled.load(Ordering::Relaxed) >= 16 * 1024);
        // Batches built outside a pool (tests, the demo's fixtures) are not counted.
        let mut free = RecordBatch::with_capacity(Arc::clone(&tracker), 1, 16);
        free.push_parts(1, None, None, Some(&[1; 4096]), &[]);
        assert_eq!(pool.in_use(), 0);
    }

    #[test]
    fn a_sent_batch_leaves_the_budget_but_its_arena_is_reused_only_after_its_acknowledgement() {
        let tracker = PartitionTracker::new_for_test("t", 0, "src.t");
        let released = Arc::new(Notify::new());
        let pool = BatchPool::new(4, 1 << 20, 16 * 1024, Arc::clone(&released));
        let mut batch = pool.batch(Arc::clone(&tracker), 16 * 1024);
        batch.push_parts(1, None, Some(b"k"), Some(&[7; 100]), &[]);
        let arena = batch.arena.as_ptr();
        assert!(pool.over_budget(), "one batch holds the whole budget");
        let woken = released.notified();
        tokio::pin!(woken);
        woken.as_mut().enable(); // registered before, as the fetch loop does
        batch.leave_budget();
        assert_eq!(pool.in_use(), 0);
        assert!(woken.now_or_never().is_some(), "a fetch loop waiting for the budget is woken");
        let ack = tracker.begin_owned_batch(batch);
        let opaque = Arc::clone(&ack); // what a record in the producer holds
        drop(ack);
        let owned = opaque.batch().map(|b| (b.arena.as_ptr(), b.len()));
        assert_eq!(owned, Some((arena, 1)), "the bytes librdkafka reads have not moved");
        assert!(pool.take.try_recv().is_err(), "not reused while the target has not acknowledged it");
        opaque.delivered(true, 0);
        drop(opaque);
        assert_eq!(pool.in_use(), 0, "not subtracted twice");
        assert!(pool.take.try_recv().is_ok_and(|b| b.arena.as_ptr() == arena), "reused once acknowledged");
    }
}
