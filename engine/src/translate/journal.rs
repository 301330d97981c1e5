//! [`IndexJournal`]: what ferry writes to its compacted offset-index topic so that an
//! [`OffsetIndex`] survives restarts **and** log compaction of MM2's offset-syncs topic.
//!
//! `mm2-offset-syncs.*` is compacted with one key per source partition, so the log cleaner keeps
//! only the latest sync of each partition and the change points needed for old offsets vanish.
//! The journal topic (`ferry-offset-index.<alias>.internal`, next to the offset-syncs topic) is
//! compacted too, but keyed so that compaction keeps exactly what a rebuild needs:
//!
//! - a [`JournalEntry::Point`] per copy that changed the index's structure
//!   ([`OffsetIndex::record`] returned true), keyed by (partition, target offset), so every such
//!   copy survives; plus, right before it, the copy fed just before it when that one is not stored
//!   yet (so the rebuild sees where the previous stretch or generation ended);
//! - one [`JournalEntry::Tail`] per partition (key without offset, overwritten at every tick by
//!   [`IndexJournal::tail`]): the latest copy, for "end" translations;
//! - [`JournalEntry::Forget`] tombstones for points no longer needed: below the lowest point the
//!   index keeps after [`IndexJournal::prune`] (source retention), and every point when the target
//!   partition was truncated (its offsets went backwards).
//!
//! Every copy fed between two stored ones only extends a piece of constant delta, so replaying the
//! surviving points and the tail in target-offset order (target offsets of one source partition's
//! copies only grow, and a truncation forgets everything before it) rebuilds an index that
//! translates every offset at or above the last pruned log start exactly like the live one as of
//! the last tail (property-tested in `engine/tests/translate.rs`). [`Replay`] does that from the
//! topic's records in log order, whether or not the cleaner has run, and tolerates entries written
//! twice.
//!
//! The journal's own state is small: the target offsets of the stored points (for tombstones) and
//! the last copy fed.

use std::collections::{BTreeMap, BTreeSet};

use super::OffsetIndex;

/// One write to the journal topic (for one source partition).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JournalEntry {
    /// Keep this copy (key: its target offset).
    Point {
        /// Source offset.
        upstream: u64,
        /// Target offset (the key).
        downstream: u64,
    },
    /// The latest copy (one key per partition, overwritten).
    Tail {
        /// Source offset.
        upstream: u64,
        /// Target offset.
        downstream: u64,
    },
    /// Tombstone for the point keyed by this target offset.
    Forget {
        /// Target offset of the point.
        downstream: u64,
    },
}

impl JournalEntry {
    /// The record this entry writes: its key slot and value (`None`: a tombstone).
    pub fn slot_and_value(&self) -> (JournalSlot, Option<(u64, u64)>) {
        match *self {
            Self::Point { upstream, downstream } => (JournalSlot::Point(downstream), Some((upstream, downstream))),
            Self::Tail { upstream, downstream } => (JournalSlot::Tail, Some((upstream, downstream))),
            Self::Forget { downstream } => (JournalSlot::Point(downstream), None),
        }
    }
}

/// Journal state of one source partition; see the [module docs](self).
#[derive(Debug, Clone, Default)]
pub struct IndexJournal {
    /// Target offsets of the points stored in the topic (live keys).
    stored: BTreeSet<u64>,
    /// The last copy fed (or the rebuilt index's tail at start).
    last_fed: Option<(u64, u64)>,
    /// The last tail written.
    tail_written: Option<(u64, u64)>,
}

impl IndexJournal {
    /// The journal continuing a rebuilt index: `stored` are the points already in the topic,
    /// `last_dense` the index's last copy when ferry wrote it (not when it is an MM2 sync: storing
    /// that one as a point would make it look dense).
    pub fn resume(stored: BTreeSet<u64>, last_dense: Option<(u64, u64)>) -> Self {
        Self { stored, last_fed: last_dense, tail_written: last_dense }
    }

    /// Feeds one acknowledged copy to `index` and appends what must be written for it to `out`.
    pub fn record(&mut self, index: &mut OffsetIndex, upstream: u64, downstream: u64, out: &mut Vec<JournalEntry>) {
        let previous = self.last_fed.replace((upstream, downstream));
        let truncated = previous.is_some_and(|(u, d)| downstream < d || (downstream == d && upstream != u));
        if !index.record(upstream, downstream) {
            return;
        }
        if truncated {
            out.extend(self.stored.iter().map(|&d| JournalEntry::Forget { downstream: d }));
            self.stored.clear();
        } else if let Some((u, d)) = previous {
            self.store(u, d, out);
        }
        self.store(upstream, downstream, out);
    }

    /// Appends the tail entry when the last copy changed since the last call.
    pub fn tail(&mut self, out: &mut Vec<JournalEntry>) {
        if let Some((upstream, downstream)) = self.last_fed.filter(|&last| Some(last) != self.tail_written) {
            out.push(JournalEntry::Tail { upstream, downstream });
            self.tail_written = Some((upstream, downstream));
        }
    }

    /// Prunes `index` below the source's log start and appends tombstones for the stored points the
    /// index no longer needs.
    pub fn prune(&mut self, index: &mut OffsetIndex, upstream_log_start: u64, out: &mut Vec<JournalEntry>) {
        index.prune_below(upstream_log_start);
        let Some(lowest) = index.lowest_downstream() else { return };
        let kept = self.stored.split_off(&lowest);
        out.extend(self.stored.iter().map(|&d| JournalEntry::Forget { downstream: d }));
        self.stored = kept;
    }

    /// Number of points stored in the topic.
    pub fn stored_points(&self) -> usize {
        self.stored.len()
    }

    fn store(&mut self, upstream: u64, downstream: u64, out: &mut Vec<JournalEntry>) {
        if self.stored.insert(downstream) {
            out.push(JournalEntry::Point { upstream, downstream });
        }
    }
}

/// The key of a journal record, without the partition it belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum JournalSlot {
    /// A point, by target offset.
    Point(u64),
    /// The partition's tail.
    Tail,
}

/// Rebuilds one partition's journal from the topic's records in log order, with compaction's
/// semantics (the last value of a key wins; a tombstone removes it).
#[derive(Debug, Clone, Default)]
pub struct Replay {
    points: BTreeMap<u64, u64>,
    tail: Option<(u64, u64)>,
}

impl Replay {
    /// An empty replay.
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies one record: `value` is `(upstream, downstream)`, `None` for a tombstone. A point's
    /// value must carry the key's target offset; records that do not are ignored.
    pub fn apply(&mut self, slot: JournalSlot, value: Option<(u64, u64)>) {
        match (slot, value) {
            (JournalSlot::Point(d), Some((u, down))) if down == d => {
                self.points.insert(d, u);
            }
            (JournalSlot::Point(d), None) => {
                self.points.remove(&d);
            }
            (JournalSlot::Tail, value) => self.tail = value,
            (JournalSlot::Point(_), Some(_)) => {}
        }
    }

    /// True when nothing survives.
    pub fn is_empty(&self) -> bool {
        self.points.is_empty() && self.tail.is_none()
    }

    /// The surviving copies in target-offset order: the order they were fed in.
    pub fn copies(&self) -> Vec<(u64, u64)> {
        let mut copies: Vec<(u64, u64)> = self.points.iter().map(|(&d, &u)| (u, d)).collect();
        if let Some((u, d)) = self.tail {
            if !self.points.contains_key(&d) {
                let at = copies.partition_point(|&(_, down)| down < d);
                copies.insert(at, (u, d));
            }
        }
        copies
    }

    /// Target offsets of the stored points (for [`IndexJournal::resume`]).
    pub fn stored(&self) -> BTreeSet<u64> {
        self.points.keys().copied().collect()
    }

    /// The rebuilt index and the journal that continues it.
    pub fn finish(&self) -> (OffsetIndex, IndexJournal) {
        self.finish_with_sparse(&[])
    }

    /// Like [`finish`](Self::finish), with MM2's syncs of the same partition (`(upstream, downstream)` in
    /// the order written) merged in by target offset as sparse points.
    pub fn finish_with_sparse(&self, sparse: &[(u64, u64)]) -> (OffsetIndex, IndexJournal) {
        let dense = self.copies();
        let mut index = OffsetIndex::new();
        for (u, d, is_dense) in merge_by_downstream(&dense, sparse) {
            index.record_pair(u, d, is_dense);
        }
        // The journal continues from the last copy only when ferry wrote it (see `IndexJournal::resume`).
        let last_dense = dense.last().copied().filter(|&last| index.last() == Some(last));
        (index, IndexJournal::resume(self.stored(), last_dense))
    }
}

/// Merges ferry's journaled copies (dense) with MM2's syncs for the same partition (sparse), both
/// in the order written, by target offset; ties keep ferry's first. Feed the result in order:
/// `true` to [`OffsetIndex::record`], `false` to [`OffsetIndex::record_sparse`].
pub fn merge_by_downstream(dense: &[(u64, u64)], sparse: &[(u64, u64)]) -> Vec<(u64, u64, bool)> {
    let mut merged = Vec::with_capacity(dense.len() + sparse.len());
    let (mut i, mut j) = (0, 0);
    while let (Some(&(du, dd)), Some(&(su, sd))) = (dense.get(i), sparse.get(j)) {
        if dd <= sd {
            merged.push((du, dd, true));
            i += 1;
        } else {
            merged.push((su, sd, false));
            j += 1;
        }
    }
    merged.extend(dense.get(i..).unwrap_or_default().iter().map(|&(u, d)| (u, d, true)));
    merged.extend(sparse.get(j..).unwrap_or_default().iter().map(|&(u, d)| (u, d, false)));
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply_all(replay: &mut Replay, entries: &[JournalEntry]) {
        for entry in entries {
            let (slot, value) = entry.slot_and_value();
            replay.apply(slot, value);
        }
    }

    #[test]
    fn contiguous_copies_store_one_point_and_a_tail() {
        let mut index = OffsetIndex::new();
        let mut journal = IndexJournal::default();
        let mut out = Vec::new();
        for u in 0..100 {
            journal.record(&mut index, u, u + 10, &mut out);
        }
        journal.tail(&mut out);
        assert_eq!(
            out,
            [JournalEntry::Point { upstream: 0, downstream: 10 }, JournalEntry::Tail { upstream: 99, downstream: 109 }]
        );
        out.clear();
        journal.tail(&mut out);
        assert!(out.is_empty(), "an unchanged tail is not written again");
    }

    #[test]
    fn a_rewind_stores_where_the_previous_run_ended() {
        let mut index = OffsetIndex::new();
        let mut journal = IndexJournal::default();
        let mut out = Vec::new();
        for u in 0..50 {
            journal.record(&mut index, u, u, &mut out);
        }
        for u in 40..60 {
            journal.record(&mut index, u, u + 100, &mut out);
        }
        journal.tail(&mut out);
        assert!(out.contains(&JournalEntry::Point { upstream: 49, downstream: 49 }));
        assert!(out.contains(&JournalEntry::Point { upstream: 40, downstream: 140 }));
        let mut replay = Replay::new();
        apply_all(&mut replay, &out);
        let (rebuilt, _) = replay.finish();
        for c in 0..62 {
            assert_eq!(rebuilt.translate(c), index.translate(c), "translate({c})");
        }
    }

    #[test]
    fn truncation_forgets_every_point() {
        let mut index = OffsetIndex::new();
        let mut journal = IndexJournal::default();
        let mut out = Vec::new();
        journal.record(&mut index, 0, 100, &mut out);
        journal.record(&mut index, 5, 110, &mut out);
        journal.record(&mut index, 6, 0, &mut out);
        assert!(out.contains(&JournalEntry::Forget { downstream: 100 }));
        assert!(out.contains(&JournalEntry::Forget { downstream: 110 }));
        assert_eq!(out.last(), Some(&JournalEntry::Point { upstream: 6, downstream: 0 }));
        assert_eq!(journal.stored_points(), 1);
    }

    #[test]
    fn prune_forgets_points_below_the_lowest_kept() {
        let mut index = OffsetIndex::new();
        let mut journal = IndexJournal::default();
        let mut out = Vec::new();
        // Three pieces: 0..10 -> +0, 20..30 -> -10, 40..50 -> -20 (compaction gaps).
        for u in (0..10).chain(20..30).chain(40..50) {
            journal.record(&mut index, u, u - (u / 20) * 10, &mut out);
        }
        assert_eq!(journal.stored_points(), 5);
        out.clear();
        journal.prune(&mut index, 25, &mut out);
        assert!(out.contains(&JournalEntry::Forget { downstream: 0 }));
        assert!(out.contains(&JournalEntry::Forget { downstream: 9 }));
        assert!(!out.contains(&JournalEntry::Forget { downstream: 10 }), "the piece covering 25 stays");
        assert_eq!(index.translate(25).map(|t| t.downstream), Some(15));
    }

    #[test]
    fn replay_ignores_duplicates_and_orders_by_target_offset() {
        let mut replay = Replay::new();
        replay.apply(JournalSlot::Point(20), Some((15, 20)));
        replay.apply(JournalSlot::Point(0), Some((0, 0)));
        replay.apply(JournalSlot::Point(20), Some((15, 20)));
        replay.apply(JournalSlot::Tail, Some((19, 24)));
        replay.apply(JournalSlot::Point(7), Some((1, 8))); // value does not match its key: ignored
        assert_eq!(replay.copies(), [(0, 0), (15, 20), (19, 24)]);
        assert_eq!(replay.stored().into_iter().collect::<Vec<_>>(), [0, 20]);
    }

    #[test]
    fn merge_keeps_each_side_in_order() {
        let merged = merge_by_downstream(&[(0, 0), (50, 60)], &[(10, 10), (70, 80)]);
        assert_eq!(merged, [(0, 0, true), (10, 10, false), (50, 60, true), (70, 80, false)]);
    }
}
