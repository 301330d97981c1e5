//! Offset translation: which target offset a consumer group should use after failing over.
//!
//! MM2 translates only at its sparse offset syncs and answers "one past the nearest sync", so a
//! failed-over group re-reads up to `offset.lag.max` records per partition, more after restarts
//! (reference §3.2, §3.5). Ferry sees every acknowledged copy, so it keeps an exact index of the
//! points where the upstream→downstream delta changes, and still falls back to MM2's rule for
//! history it did not write.
//!
//! # API
//!
//! - [`OffsetIndex`] (one per source partition):
//!   `new()`, `from_syncs(iter of OffsetSync)`, `record(u, d)`, `record_batch(&[(u, d)])`,
//!   `record_sparse(u, d)`, `advance_upstream(next)`, `translate(c) -> Option<Translation>`,
//!   `prune_below(log_start)`, `approx_memory_bytes()`, `point_count()`, `last()`, `is_empty()`.
//! - [`Translation`] `{ downstream: u64, exact: bool }`.
//! - [`translate_conservative`]`(syncs, upstream) -> Option<u64>`: MM2's `translateDownstream`.
//!
//! # What `translate(c)` returns
//!
//! `c` is a committed source offset: the next record the group will read. A *copy* is an
//! acknowledged pair (source offset `u`, target offset `d`).
//!
//! - `None` when `c` is below everything the index knows: before the first copy fed, or below
//!   [`OffsetIndex::prune_below`]'s log start. The caller falls back to
//!   [`translate_conservative`] over MM2's syncs, or emits no checkpoint.
//! - Otherwise `downstream` is the target offset of the first copied record at or after `c`, up to
//!   positions that hold no copy at all: within a stretch of constant delta, `c` maps to `c + delta`
//!   even when `c` itself is a compaction gap, a transaction marker or an aborted record; that
//!   position holds no copy (at most a marker on the target), so a consumer starting there reads
//!   exactly the records from `c` on. Where the delta changes inside a gap, the answer is the next
//!   copy's offset.
//! - When every known copy is before `c`, `downstream` is the "end": one past the last copy's
//!   target offset.
//! - `exact` is true when a consumer starting at `downstream` skips nothing and re-reads no record
//!   before `c`. That holds inside the index's range for ferry's own (dense) copies unless a later
//!   re-copy (see duplicates) wrote records before `c` after `downstream`. At the end, it holds when
//!   `c` is at most one past the last copy, or at most the offset passed to
//!   [`OffsetIndex::advance_upstream`] (e.g. a group that committed past a final commit marker).
//!   After a sparse (MM2) sync it holds only at the sync and just after it.
//!
//! # Duplicates after a crash
//!
//! When the upstream offset goes back (the same source range copied again at higher target
//! offsets: a crash, a takeover, an operator reset), the index starts a new *generation*. For each
//! source offset, the newest generation whose range covers it is authoritative, and the answer is
//! the lowest target offset among the authoritative copies of records at or after `c`. So while a
//! re-copy is under way, offsets not yet re-copied still point at their old copies (never skipping
//! a record that only exists there), and once the re-copy passes the old end the old generation is
//! truncated and merged: translations then point into the new copies and are exact again.
//!
//! This relies on one assumption, which ferry's resume logic satisfies: a re-copy proceeds forward
//! from where it resumed and never jumps over records that only an older generation copied (it may
//! pass offsets that are no longer records). Progress reset backwards and then forwards again
//! before the re-copy caught up breaks it; MM2's store skips records in that case too.
//!
//! Invariants (property-tested in `engine/tests/translate.rs`):
//!
//! 1. **No skip.** For every copied source record `u >= c`, its latest copy is at or after
//!    `downstream`.
//! 2. **Honest `exact`.** If `exact`, no copy at or after `downstream` is of a record before `c`.
//! 3. **Exact without duplicates.** With one generation, every `c` from the first copy to one past
//!    the last is exact, and `downstream` is after every copy of a record before `c` and at or
//!    before the first copy of a record at or after `c`.
//! 4. **Rebuild.** [`OffsetIndex::from_syncs`] over the syncs ferry's
//!    [`PartitionSyncWriter`](crate::sync_writer::PartitionSyncWriter) emitted (after a `flush`)
//!    translates every offset exactly like the live index.
//!
//! A corollary for the runtime: the hot path can run the writer and send the translation actor
//! only the pairs it emits (change points, MM2's triggers, flushes); an index fed with those via
//! `record` translates like one fed every acknowledged copy, as of the last flush.
//!
//! # Why change points survive restarts
//!
//! The index must outlive the process, and ferry keeps no local state. A stretch of constant delta
//! is fully described by its first record, so ferry writes an MM2-format offset sync for **every
//! change point** in addition to MM2's triggers (see [`crate::sync_writer`]); MM2's readers simply
//! see more syncs. On start, [`OffsetIndex::from_syncs`] rebuilds the index from those syncs.
//! Preconditions for the rebuilt index to be safe:
//!
//! - syncs are written in order and none is dropped (no MM2-style coalescing of pending syncs);
//! - source progress `P` is committed only once every sync emitted for records before `P` is
//!   acknowledged, so the syncs are complete below the resume point;
//! - syncs written by MM2 (before a takeover, or during a rollback) go to
//!   [`OffsetIndex::record_sparse`], not `record`: they are not change-point complete. The actors
//!   need a way to tell them apart, such as a record header on ferry's syncs.
//! - the syncs topic still holds them: MM2 creates it with `cleanup.policy=compact` keyed by
//!   partition, so the log cleaner eventually keeps only the latest sync per partition. Rebuilding
//!   from a compacted prefix loses change points, so ferry also keeps them in its own journal topic,
//!   keyed so that compaction keeps exactly what a rebuild needs ([`journal`]); the syncs topic
//!   then only contributes MM2's syncs, and ferry's for partitions the journal does not know.
//!
//! Known window, shared with MM2: copies acknowledged after the last durable sync before a crash are
//! unknown to the rebuilt index; until the new lifetime has re-copied past them, a failover would
//! start after them.
//!
//! # Layout
//!
//! - `index`: [`OffsetIndex`] (generations, lookup, pruning, rebuild).
//! - `generation`: one monotone stretch of change points (crate-private).
//! - `conservative`: [`translate_conservative`].
//! - [`journal`]: [`IndexJournal`] (what to persist), [`Replay`] (rebuild), [`merge_by_downstream`].
//!
//! ```
//! use ferry_engine::translate::{OffsetIndex, Translation};
//! let mut index = OffsetIndex::new();
//! // 0..=9 copied to 100..=109; 10..=14 are aborted records; 15.. copied from 110 on.
//! index.record_batch(&(0..10).map(|u| (u, u + 100)).collect::<Vec<_>>());
//! index.record_batch(&(15..20).map(|u| (u, u + 95)).collect::<Vec<_>>());
//! assert_eq!(index.point_count(), 2);
//! assert_eq!(index.translate(3), Some(Translation { downstream: 103, exact: true }));
//! assert_eq!(index.translate(12), Some(Translation { downstream: 110, exact: true }));
//! assert_eq!(index.translate(20), Some(Translation { downstream: 115, exact: true }));
//! ```

mod conservative;
mod generation;
mod index;
pub mod journal;

pub use conservative::translate_conservative;
pub use index::{OffsetIndex, MAX_GENERATIONS};
pub use journal::{merge_by_downstream, IndexJournal, JournalEntry, JournalSlot, Replay};

/// The result of translating a committed source offset; see the [module docs](self).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Translation {
    /// The target offset to commit for the group.
    pub downstream: u64,
    /// True when a consumer starting at `downstream` reads exactly the records at or after the
    /// committed source offset: nothing skipped, nothing before it re-read.
    pub exact: bool,
}
