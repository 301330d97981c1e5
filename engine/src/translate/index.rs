//! [`OffsetIndex`]: the per-source-partition change-point index behind exact translation.

use std::borrow::Borrow;

use super::generation::Generation;
use super::Translation;
use crate::wire::OffsetSync;

/// At most this many generations are kept; when a new one would exceed it, the oldest is dropped
/// and offsets up to its end become untranslatable (`None`), which is safe. Only a run of
/// restarts that each rewind before the previous one caught up gets here.
pub const MAX_GENERATIONS: usize = 8;

/// Exact offset translation for one source partition; see the [module docs](super) for the
/// semantics, the invariants and how to feed it.
#[derive(Debug, Clone, Default)]
pub struct OffsetIndex {
    /// Oldest first. Each later generation has higher downstream offsets than all earlier ones,
    /// and starts at or before the previous one's last upstream offset.
    gens: Vec<Generation>,
    /// Offsets below this are not translated (pruned with source retention, or evicted).
    low_water: u64,
}

impl OffsetIndex {
    /// An empty index: translates nothing until records are fed.
    pub fn new() -> Self {
        Self::default()
    }

    /// Rebuilds an index from the offset syncs ferry wrote for this partition, in the order they
    /// were written (the offset-syncs topic order). Syncs with negative offsets are skipped.
    ///
    /// Because ferry's [`PartitionSyncWriter`](crate::sync_writer::PartitionSyncWriter) emits every
    /// change point (and, before a rewind, the record just before it), the rebuilt index
    /// translates exactly like the live one did when the writer had nothing delayed (after its
    /// last `flush`). Feed only ferry's syncs here: MM2's are sparse (see
    /// [`record_sparse`](Self::record_sparse)).
    pub fn from_syncs<I>(syncs: I) -> Self
    where
        I: IntoIterator,
        I::Item: Borrow<OffsetSync>,
    {
        let mut index = Self::new();
        for sync in syncs {
            let sync = sync.borrow();
            if let (Ok(up), Ok(down)) = (u64::try_from(sync.upstream_offset), u64::try_from(sync.downstream_offset)) {
                index.record(up, down);
            }
        }
        index
    }

    /// Feeds one acknowledged copy: source record `upstream` was written at `downstream` on the
    /// target. Calls must follow acknowledgement order. O(1) unless a point is stored.
    ///
    /// Returns true when the copy changed the index's structure (stored a point, started, merged or
    /// evicted a generation, or reset the index), false when it only extended the newest piece or
    /// repeated the last copy. [`IndexJournal`](super::IndexJournal) persists exactly the former.
    pub fn record(&mut self, upstream: u64, downstream: u64) -> bool {
        self.push(upstream, downstream, true)
    }

    /// Feeds a batch of acknowledged copies, in order; the intended hot-path call (one per acked
    /// batch).
    pub fn record_batch(&mut self, pairs: &[(u64, u64)]) {
        for &(up, down) in pairs {
            self.push(up, down, true);
        }
    }

    /// Feeds a sync whose stream is not known to contain every change point (one written by MM2).
    /// Offsets just after it translate with MM2's rule (one past it, not exact) until the next
    /// point.
    pub fn record_sparse(&mut self, upstream: u64, downstream: u64) {
        self.push(upstream, downstream, false);
    }

    /// Feeds a copy with [`record`](Self::record) when `dense` (ferry's), else with
    /// [`record_sparse`](Self::record_sparse) (MM2's).
    pub fn record_pair(&mut self, upstream: u64, downstream: u64, dense: bool) {
        self.push(upstream, downstream, dense);
    }

    /// The lowest target offset of any stored point: everything the index still needs lies at or
    /// after it (generations are ordered by target offset). `None` when empty.
    pub fn lowest_downstream(&self) -> Option<u64> {
        self.gens.first().map(Generation::first_point_downstream)
    }

    /// Declares that every source offset below `next_upstream` has been copied or is not a record
    /// (transaction markers, aborted or compacted records), e.g. the fetch position once all
    /// records fetched before it are acknowledged. Only makes "end" translations exact; ignored
    /// for an empty index.
    pub fn advance_upstream(&mut self, next_upstream: u64) {
        if let Some(newest) = self.gens.last_mut() {
            newest.advance_upstream(next_upstream);
        }
    }

    /// Translates a committed source offset (the next record the group will read); see the
    /// [module docs](super) for the exact semantics. `None` when the offset is before what the
    /// index knows: fall back to [`translate_conservative`](super::translate_conservative).
    pub fn translate(&self, committed: u64) -> Option<Translation> {
        if committed < self.low_water {
            return None;
        }
        let first = self.gens.iter().map(Generation::first_upstream).min()?;
        if committed < first {
            return None;
        }
        for (i, generation) in self.gens.iter().enumerate() {
            let later = self.gens.get(i + 1..).unwrap_or_default();
            if let Some(x) = first_effective(generation, later, committed) {
                let (downstream, exact_within) = generation.translate_within(x);
                // Copies of later generations are read too; they must not be of earlier records.
                let exact = exact_within && later.iter().all(|g| g.first_upstream() >= committed);
                return Some(Translation { downstream, exact });
            }
        }
        let newest = self.gens.last()?;
        Some(Translation { downstream: newest.tail().1.saturating_add(1), exact: committed <= newest.covered_until() })
    }

    /// Forgets offsets below `upstream_log_start` (the source partition's log start offset), so
    /// the index stays as small as the source's retention. Those offsets then translate to `None`.
    pub fn prune_below(&mut self, upstream_log_start: u64) {
        self.low_water = self.low_water.max(upstream_log_start);
        let newest = self.gens.len().saturating_sub(1);
        let mut i = 0;
        self.gens.retain(|g| {
            let keep = i == newest || g.tail().0 >= upstream_log_start;
            i += 1;
            keep
        });
        for g in &mut self.gens {
            g.prune_below(upstream_log_start);
        }
    }

    /// Approximate heap plus inline size in bytes (for metrics and bounds).
    pub fn approx_memory_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.gens.capacity() * std::mem::size_of::<Generation>()
            + self.gens.iter().map(Generation::heap_bytes).sum::<usize>()
    }

    /// Number of stored change points (all generations).
    pub fn point_count(&self) -> usize {
        self.gens.iter().map(Generation::point_count).sum()
    }

    /// The last copy fed, `(upstream, downstream)`; `None` when empty.
    pub fn last(&self) -> Option<(u64, u64)> {
        self.gens.last().map(Generation::tail)
    }

    /// True when nothing has been fed (or everything was reset).
    pub fn is_empty(&self) -> bool {
        self.gens.is_empty()
    }

    /// Feeds one copy; true when the structure changed (see [`record`](Self::record)).
    fn push(&mut self, upstream: u64, downstream: u64, dense: bool) -> bool {
        let Some(newest) = self.gens.last_mut() else {
            self.gens.push(Generation::new(upstream, downstream, dense));
            return true;
        };
        let (tail_up, tail_down) = newest.tail();
        if downstream <= tail_down {
            if (upstream, downstream) == (tail_up, tail_down) {
                return false; // the same acknowledgement twice
            }
            // The target partition was truncated or recreated: earlier positions are void.
            self.gens.clear();
            self.gens.push(Generation::new(upstream, downstream, dense));
            return true;
        }
        if upstream <= tail_up {
            // The source range is copied again (crash, takeover, reset): a new generation.
            if self.gens.len() >= MAX_GENERATIONS {
                let evicted = self.gens.remove(0);
                self.low_water = self.low_water.max(evicted.tail().0.saturating_add(1));
            }
            self.gens.push(Generation::new(upstream, downstream, dense));
            self.merge_caught_up();
            return true;
        }
        let stored = newest.push(upstream, downstream, dense);
        self.merge_caught_up() || stored
    }

    /// Once the newest generation has re-copied past the end of the one before, the older
    /// copies from its start on are superseded: keep the older points before it and continue
    /// them with the newer generation.
    /// Returns whether anything merged.
    fn merge_caught_up(&mut self) -> bool {
        let mut merged = false;
        while self.gens.len() >= 2 {
            let n = self.gens.len();
            let (Some(older), Some(newer)) = (self.gens.get(n - 2), self.gens.get(n - 1)) else {
                return merged;
            };
            if newer.tail().0 < older.tail().0 {
                return merged;
            }
            let (Some(newer), Some(mut older)) = (self.gens.pop(), self.gens.pop()) else {
                return merged;
            };
            merged = true;
            if older.truncate_before(newer.first_upstream()) {
                older.append(newer);
                self.gens.push(older);
            } else {
                // Pruning left the older generation no point before the newer one starts, but its
                // copies of records from its first offset on are still on the target, before the
                // newer ones: the merged generation starts where the older one did.
                let mut newer = newer;
                newer.start_at(older.first_upstream());
                self.gens.push(newer);
            }
        }
        merged
    }
}

/// The first offset at or after `committed` in `g`'s range `[first, tail]` that no later
/// generation's range covers (later generations supersede earlier copies of their ranges).
fn first_effective(g: &Generation, later: &[Generation], committed: u64) -> Option<u64> {
    let mut x = committed.max(g.first_upstream());
    // Each step moves past one later generation's range, so this ends within `later.len() + 1`.
    loop {
        if x > g.tail().0 {
            return None;
        }
        match later.iter().find(|h| h.first_upstream() <= x && x <= h.tail().0) {
            Some(h) => x = h.tail().0.checked_add(1)?,
            None => return Some(x),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(downstream: u64, exact: bool) -> Option<Translation> {
        Some(Translation { downstream, exact })
    }

    fn feed(index: &mut OffsetIndex, ups: std::ops::Range<u64>, delta: i64) {
        for u in ups {
            index.record(u, u.checked_add_signed(delta).expect("test offsets"));
        }
    }

    #[test]
    fn empty_translates_nothing() {
        let index = OffsetIndex::new();
        assert!(index.is_empty());
        assert_eq!(index.translate(0), None);
        assert_eq!(index.last(), None);
    }

    #[test]
    fn contiguous_stream_is_one_point_and_small() {
        let mut index = OffsetIndex::new();
        let batch: Vec<_> = (1000..1_001_000).map(|u| (u, u + 5)).collect();
        index.record_batch(&batch);
        assert_eq!(index.point_count(), 1);
        assert!(index.approx_memory_bytes() < 512, "{}", index.approx_memory_bytes());
        assert_eq!(index.translate(999), None);
        assert_eq!(index.translate(1000), t(1005, true));
        assert_eq!(index.translate(500_000), t(500_005, true));
        assert_eq!(index.translate(1_001_000), t(1_001_005, true));
        assert_eq!(index.translate(1_001_001), t(1_001_005, false));
    }

    #[test]
    fn end_is_exact_up_to_the_declared_progress() {
        let mut index = OffsetIndex::new();
        feed(&mut index, 0..10, 0);
        // A commit marker at 10: the group commits 11, ferry's fetch position is 11.
        assert_eq!(index.translate(11), t(10, false));
        index.advance_upstream(11);
        assert_eq!(index.translate(11), t(10, true));
        assert_eq!(index.translate(12), t(10, false));
    }

    #[test]
    fn crash_duplicates_point_at_old_copies_until_recopied() {
        let mut index = OffsetIndex::new();
        feed(&mut index, 0..100, 0); // 0..=99 -> 0..=99
        feed(&mut index, 50..61, 50); // crash, resume at 50: 50..=60 -> 100..=110
        assert_eq!(index.translate(30), t(30, true));
        // 50..=60 were re-copied but 61..=99 only exist at their old positions.
        assert_eq!(index.translate(50), t(61, true));
        assert_eq!(index.translate(55), t(61, false));
        assert_eq!(index.translate(70), t(70, false));
        assert_eq!(index.translate(100), t(111, false));
        feed(&mut index, 61..100, 50); // re-copy passes the old end: merged
        assert_eq!(index.point_count(), 2);
        assert_eq!(index.translate(30), t(30, true));
        assert_eq!(index.translate(49), t(49, true));
        assert_eq!(index.translate(55), t(105, true));
        assert_eq!(index.translate(70), t(120, true));
        assert_eq!(index.translate(100), t(150, true));
    }

    #[test]
    fn operator_reset_to_the_start() {
        let mut index = OffsetIndex::new();
        feed(&mut index, 100..200, 0);
        feed(&mut index, 0..10, 300); // reset to 0: 0..=9 -> 300..=309
                                      // Nothing was ever copied in 10..100; 100..=199 only have old copies.
        assert_eq!(index.translate(5), t(100, false));
        assert_eq!(index.translate(150), t(150, false));
        feed(&mut index, 10..200, 300);
        assert_eq!(index.point_count(), 1);
        assert_eq!(index.translate(5), t(305, true));
        assert_eq!(index.translate(150), t(450, true));
    }

    #[test]
    fn repeated_acks_are_ignored_and_target_truncation_resets() {
        let mut index = OffsetIndex::new();
        feed(&mut index, 0..10, 0);
        index.record(9, 9);
        assert_eq!(index.point_count(), 1);
        index.record(10, 5); // the target lost 5..=9
        assert_eq!(index.point_count(), 1);
        assert_eq!(index.translate(9), None);
        assert_eq!(index.translate(10), t(5, true));
    }

    #[test]
    fn prune_keeps_the_piece_covering_the_log_start() {
        let mut index = OffsetIndex::new();
        for block in 0..10u64 {
            // 10 records per block, a 5-offset gap between blocks on the source only.
            feed(&mut index, block * 15..block * 15 + 10, -(5 * block as i64));
        }
        assert_eq!(index.point_count(), 10);
        let before = index.translate(77);
        index.prune_below(70);
        assert_eq!(index.point_count(), 6);
        assert_eq!(index.translate(69), None);
        assert_eq!(index.translate(77), before);
        index.prune_below(1000);
        assert_eq!(index.point_count(), 1);
        assert_eq!(index.translate(140), None);
        assert_eq!(index.last(), Some((144, 99)));
    }

    #[test]
    fn prune_drops_old_generations() {
        let mut index = OffsetIndex::new();
        feed(&mut index, 0..100, 0);
        feed(&mut index, 50..60, 50);
        index.prune_below(100);
        assert_eq!(index.translate(100), t(110, false));
        assert_eq!(index.translate(99), None);
    }

    #[test]
    fn a_merge_after_pruning_keeps_where_the_older_copies_started() {
        let mut index = OffsetIndex::new();
        feed(&mut index, 0..20, 0); // 0..=19 -> 0..=19
        index.record(8, 20); // crash, resume at 8: 8 -> 20, 10 -> 21
        index.record(10, 21);
        index.prune_below(10); // the second generation keeps only its point at 10
        index.record(10, 22); // another crash: 10 is copied a third time, and merges
                              // A consumer at 10 starts at 11 (10's latest copy is at 22) and also reads 8's copy at 20.
        assert_eq!(index.translate(10), t(11, false));
        assert_eq!(index.translate(9), None);
    }

    #[test]
    fn too_many_generations_evict_the_oldest_safely() {
        let mut index = OffsetIndex::new();
        let mut down = 0;
        // Each lifetime copies 0..=100-i then crashes; the next restarts at 0 again.
        for i in 0..(MAX_GENERATIONS as u64 + 2) {
            for u in 0..=(100 - i) {
                index.record(u, down);
                down += 1;
            }
        }
        assert!(index.gens.len() <= MAX_GENERATIONS);
        // Offsets up to the evicted generations' ends are no longer translated.
        assert_eq!(index.translate(50), None);
        assert_eq!(index.translate(100), None);
    }

    #[test]
    fn sparse_syncs_translate_like_mm2_then_dense_takes_over() {
        let mut index = OffsetIndex::new();
        index.record_sparse(100, 1000); // MM2's last syncs before the takeover
        index.record_sparse(200, 1100);
        index.record(301, 1201); // ferry resumes after MM2's progress
        index.record(302, 1202);
        assert_eq!(index.translate(100), t(1000, true));
        assert_eq!(index.translate(150), t(1001, false));
        assert_eq!(index.translate(201), t(1101, true));
        assert_eq!(index.translate(250), t(1101, false));
        assert_eq!(index.translate(301), t(1201, true));
        assert_eq!(index.translate(303), t(1203, true));
    }

    #[test]
    fn from_syncs_skips_negative_offsets() {
        let sync = |u, d| OffsetSync { topic: "t".into(), partition: 0, upstream_offset: u, downstream_offset: d };
        let index = OffsetIndex::from_syncs([sync(-1, 5), sync(0, 10), sync(5, -3), sync(6, 16)]);
        assert_eq!(index.point_count(), 1);
        assert_eq!(index.translate(3), t(13, true));
    }
}
