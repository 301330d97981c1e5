//! One *generation* of an [`OffsetIndex`](super::OffsetIndex): a stretch of copies in which both the
//! upstream and the downstream offsets strictly increase, stored as change points.
//!
//! A new generation starts when the upstream offset goes back (the same source range is copied
//! again after a crash, a takeover or an operator reset). Keeping generations apart lets the index
//! answer from the copy a consumer must read, see the invariants in [`super`].
//!
//! # Representation
//!
//! `points` are the change points, strictly increasing in both offsets. A point's *piece* runs from
//! its upstream offset up to (not including) the next point's. In a **dense** piece every copied
//! record satisfies `downstream = upstream + delta` with the point's `delta` (records may be missing:
//! compaction gaps, transaction markers, aborted records), because any record whose delta differs
//! from its predecessor's is itself a point. A **sparse** point is a sync of unknown density
//! (written by MM2): only the point itself is known, and later records of its piece sit somewhere
//! after it.

/// A change point: the record at `upstream` was copied to `downstream`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Point {
    /// Source offset of the record.
    pub(crate) upstream: u64,
    /// Target offset of its copy.
    pub(crate) downstream: u64,
    /// Whether the piece that starts here holds every change point (ferry's acks or ferry's
    /// syncs), so offsets inside it can be interpolated.
    pub(crate) dense: bool,
}

impl Point {
    /// `downstream - upstream` modulo 2^64: equal for two records iff their deltas are equal.
    fn delta_key(&self) -> u64 {
        self.downstream.wrapping_sub(self.upstream)
    }
}

/// A monotone stretch of copies; see the module docs.
#[derive(Debug, Clone)]
pub(crate) struct Generation {
    /// Source offset of the first copy: where this generation's range starts. Kept when pruning
    /// drops early points, since it also tells whether copies of earlier records exist in it.
    first: u64,
    /// Change points, never empty, strictly increasing in both offsets.
    points: Vec<Point>,
    /// The last record of this generation: `(upstream, downstream)`. At or after the last point,
    /// in its piece; equal to it when that point is sparse.
    tail: (u64, u64),
    /// Every source offset below this was either copied or is not a record (markers, aborted or
    /// compacted records). At least `tail.0 + 1`; raised by `OffsetIndex::advance_upstream`.
    covered_until: u64,
}

impl Generation {
    pub(crate) fn new(upstream: u64, downstream: u64, dense: bool) -> Self {
        Self {
            first: upstream,
            points: vec![Point { upstream, downstream, dense }],
            tail: (upstream, downstream),
            covered_until: upstream.saturating_add(1),
        }
    }

    /// Source offset of the first record.
    pub(crate) fn first_upstream(&self) -> u64 {
        self.first
    }

    /// The last record, `(upstream, downstream)`.
    pub(crate) fn tail(&self) -> (u64, u64) {
        self.tail
    }

    pub(crate) fn covered_until(&self) -> u64 {
        self.covered_until
    }

    pub(crate) fn advance_upstream(&mut self, next_upstream: u64) {
        self.covered_until = self.covered_until.max(next_upstream);
    }

    pub(crate) fn point_count(&self) -> usize {
        self.points.len()
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.points.capacity() * std::mem::size_of::<Point>()
    }

    /// Target offset of the first stored point (the lowest this generation still needs).
    pub(crate) fn first_point_downstream(&self) -> u64 {
        self.points.first().map_or(self.tail.1, |p| p.downstream)
    }

    /// Appends a record strictly after the tail in both offsets. Stores a point only when the
    /// delta changes, or when either this record or the last point is sparse; returns whether it did.
    pub(crate) fn push(&mut self, upstream: u64, downstream: u64, dense: bool) -> bool {
        let point = Point { upstream, downstream, dense };
        let extends =
            dense && self.points.last().is_some_and(|last| last.dense && last.delta_key() == point.delta_key());
        if !extends {
            self.points.push(point);
        }
        self.tail = (upstream, downstream);
        self.covered_until = self.covered_until.max(upstream.saturating_add(1));
        !extends
    }

    /// Translates `x`, which must lie in `[first_upstream, tail.0]`: a downstream offset `D` at or
    /// before the copy of the first record at or after `x`, after every copy of a record before `x`.
    /// Returns `(D, exact)`, where `exact` means no copy in this generation at or after `D` is of a
    /// record before `x` and no record at or after `x` is skipped.
    pub(crate) fn translate_within(&self, x: u64) -> (u64, bool) {
        let idx = self.points.partition_point(|p| p.upstream <= x);
        // `x >= first_upstream`, so at least one point is at or before it.
        let Some(p) = idx.checked_sub(1).and_then(|i| self.points.get(i)) else {
            return (self.tail.1.saturating_add(1), false);
        };
        if x == p.upstream {
            return (p.downstream, true);
        }
        let candidate =
            if p.dense { p.downstream.saturating_add(x - p.upstream) } else { p.downstream.saturating_add(1) };
        match self.points.get(idx) {
            Some(next) if next.downstream <= candidate => (next.downstream, true),
            // Dense: every record of the piece is on the line. Sparse: only exact right after it.
            _ => (candidate, p.dense || x == p.upstream + 1),
        }
    }

    /// Keeps only the points before `upstream`; false when none is left.
    pub(crate) fn truncate_before(&mut self, upstream: u64) -> bool {
        let keep = self.points.partition_point(|p| p.upstream < upstream);
        self.points.truncate(keep);
        !self.points.is_empty()
    }

    /// Moves the start of this generation's range down to `upstream` (never up): copies of records
    /// from there on belong to it even when no point of theirs is stored any more.
    pub(crate) fn start_at(&mut self, upstream: u64) {
        self.first = self.first.min(upstream);
    }

    /// Continues this (truncated) generation with a newer one that starts after its last point.
    pub(crate) fn append(&mut self, newer: Generation) {
        self.points.extend(newer.points);
        self.tail = newer.tail;
        self.covered_until = newer.covered_until;
    }

    /// Drops the points whose pieces end at or before `upstream` (keeps the one covering it).
    pub(crate) fn prune_below(&mut self, upstream: u64) {
        let at_or_before = self.points.partition_point(|p| p.upstream <= upstream);
        if at_or_before > 1 {
            self.points.drain(..at_or_before - 1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dense(pairs: &[(u64, u64)]) -> Generation {
        let (first, rest) = pairs.split_first().expect("non-empty");
        let mut g = Generation::new(first.0, first.1, true);
        for &(u, d) in rest {
            g.push(u, d, true);
        }
        g
    }

    #[test]
    fn contiguous_copies_are_one_point() {
        let g = dense(&(0..100).map(|i| (i, i + 1000)).collect::<Vec<_>>());
        assert_eq!(g.point_count(), 1);
        assert_eq!(g.translate_within(37), (1037, true));
        assert_eq!(g.tail(), (99, 1099));
    }

    #[test]
    fn equal_gaps_on_both_sides_keep_the_delta() {
        // 0..=4 -> 10..=14, then 8 -> 18 (upstream markers 5..8, downstream positions 15..18 hold
        // no copies): one piece; 6 maps to 16, which holds no copy, and the first copy after it
        // is 8's at 18, so a consumer at 16 reads exactly the records from 6 on.
        let g = dense(&[(0, 10), (1, 11), (2, 12), (3, 13), (4, 14), (8, 18)]);
        assert_eq!(g.point_count(), 1);
        assert_eq!(g.translate_within(6), (16, true));
    }

    #[test]
    fn upstream_gap_caps_at_the_next_point() {
        // 0..=9 -> 0..=9, 10..=19 compacted away, 20.. -> 10..
        let mut pairs: Vec<_> = (0..10).map(|i| (i, i)).collect();
        pairs.extend((20..30).map(|i| (i, i - 10)));
        let g = dense(&pairs);
        assert_eq!(g.point_count(), 2);
        assert_eq!(g.translate_within(5), (5, true));
        assert_eq!(g.translate_within(9), (9, true));
        assert_eq!(g.translate_within(15), (10, true));
        assert_eq!(g.translate_within(20), (10, true));
        assert_eq!(g.translate_within(25), (15, true));
    }

    #[test]
    fn sparse_points_translate_like_mm2() {
        let mut g = Generation::new(10, 100, false);
        g.push(50, 140, false);
        assert_eq!(g.point_count(), 2);
        assert_eq!(g.translate_within(10), (100, true));
        assert_eq!(g.translate_within(11), (101, true));
        assert_eq!(g.translate_within(30), (101, false));
        assert_eq!(g.translate_within(50), (140, true));
        // A dense record after a sparse point always starts a point.
        g.push(51, 141, true);
        assert_eq!(g.point_count(), 3);
    }

    #[test]
    fn truncate_append_and_prune() {
        let mut old = dense(&[(0, 0), (10, 20), (20, 40)]);
        assert!(old.truncate_before(15));
        assert_eq!(old.point_count(), 2);
        old.append(dense(&[(15, 100), (16, 101)]));
        assert_eq!(old.tail(), (16, 101));
        assert_eq!(old.translate_within(12), (22, true));
        assert_eq!(old.translate_within(14), (24, true));
        assert_eq!(old.translate_within(16), (101, true));
        old.prune_below(15);
        assert_eq!(old.point_count(), 1);
        assert_eq!(old.first_upstream(), 0);
        assert_eq!(old.translate_within(16), (101, true));
        let mut gone = dense(&[(5, 5)]);
        assert!(!gone.truncate_before(5));
    }
}
