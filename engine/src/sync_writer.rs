//! When to write an offset sync: MM2's `OffsetSyncWriter` decision logic for one source partition
//! (reference §3.1), plus ferry's change-point rule that makes its syncs enough to rebuild the
//! exact [`OffsetIndex`](crate::translate::OffsetIndex) after a restart.
//!
//! For every copy the target acknowledged, in order, [`PartitionSyncWriter::on_ack`] says which
//! syncs to send now. A copy that triggers nothing becomes the *delayed* sync (only the latest is
//! kept); [`PartitionSyncWriter::flush`] hands it out on the periodic flush (MM2 promotes delayed
//! syncs on every `offset.flush.interval.ms` commit), so idle partitions still get an end-of-topic
//! sync.
//!
//! Triggers, first match wins (the reason is reported for metrics and tests):
//!
//! 1. [`EmitReason::First`]: first copy of this writer's lifetime;
//! 2. [`EmitReason::DownstreamRewind`]: the target offset went backwards (target truncation);
//! 3. [`EmitReason::UpstreamGap`]: the source offset is not the previous one plus 1 (compaction,
//!    transaction markers, aborted records, or a rewind);
//! 4. [`EmitReason::DeltaChange`] (ferry only): `downstream - upstream` changed, which with a
//!    contiguous source means a gap on the target (e.g. transaction markers of an exactly-once
//!    producer);
//! 5. [`EmitReason::Lag`]: `downstream - (last_sync_downstream + 1) >= offset.lag.max`.
//!
//! Ferry differs from MM2 in two more ways, both needed for the rebuild to be exact:
//!
//! - on a rewind (source or target offset not increasing), the delayed sync is sent first, so the
//!   rebuilt index sees where the previous stretch ended (MM2 drops it);
//! - every sync [`on_ack`](PartitionSyncWriter::on_ack) returns must be written, in order: unlike
//!   MM2's pending map, the caller must not coalesce or drop them.
//!
//! With those, [`OffsetIndex::from_syncs`](crate::translate::OffsetIndex::from_syncs) over the
//! emitted syncs equals the index fed every copy, whenever nothing is delayed.
//!
//! [`PartitionSyncWriter::mm2_compatible`] disables both and the change-point rule, reproducing
//! MM2's decisions exactly.
//!
//! # API
//!
//! `PartitionSyncWriter::new(max_offset_lag)`, `::mm2_compatible(max_offset_lag)`,
//! `on_ack(upstream, downstream) -> Emits`, `flush() -> Option<OffsetPair>`, `delayed()`;
//! [`Emits`] iterates the [`OffsetPair`]s to send and tells the [`EmitReason`].
//!
//! ```
//! use ferry_engine::sync_writer::{EmitReason, OffsetPair, PartitionSyncWriter};
//! let mut w = PartitionSyncWriter::new(100);
//! assert_eq!(w.on_ack(0, 10).reason(), Some(EmitReason::First));
//! assert!(w.on_ack(1, 11).is_empty());
//! let sent: Vec<_> = w.on_ack(5, 12).collect(); // source gap 2..=4
//! assert_eq!(sent, [OffsetPair { upstream: 5, downstream: 12 }]);
//! assert!(w.on_ack(6, 13).is_empty());
//! assert_eq!(w.flush(), Some(OffsetPair { upstream: 6, downstream: 13 }));
//! ```

/// One (source offset, target offset) pair of a copied record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OffsetPair {
    /// Source offset.
    pub upstream: u64,
    /// Target offset of its copy.
    pub downstream: u64,
}

/// Why a sync is sent now; see the [module docs](self) for the order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmitReason {
    /// First copy of this writer's lifetime.
    First,
    /// The target offset went backwards.
    DownstreamRewind,
    /// The source offset is not the previous one plus 1.
    UpstreamGap,
    /// `downstream - upstream` changed (ferry's change-point rule).
    DeltaChange,
    /// The last sync is `offset.lag.max` or more target offsets behind.
    Lag,
}

/// The syncs to send for one acknowledged copy: none, the copy itself, or the previously delayed
/// copy followed by this one. Iterate it to get them in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Emits {
    first: Option<OffsetPair>,
    second: Option<OffsetPair>,
    reason: Option<EmitReason>,
}

impl Emits {
    fn none() -> Self {
        Self { first: None, second: None, reason: None }
    }

    /// Why the syncs are sent; `None` when the copy was delayed.
    pub fn reason(&self) -> Option<EmitReason> {
        self.reason
    }

    /// True when nothing is to be sent now.
    pub fn is_empty(&self) -> bool {
        self.first.is_none() && self.second.is_none()
    }

    /// How many syncs are to be sent (0 to 2).
    pub fn len(&self) -> usize {
        usize::from(self.first.is_some()) + usize::from(self.second.is_some())
    }
}

impl Iterator for Emits {
    type Item = OffsetPair;

    fn next(&mut self) -> Option<OffsetPair> {
        self.first.take().or_else(|| self.second.take())
    }
}

/// Offset-sync decisions for one source partition, for one lifetime (a new writer per
/// assignment or process start).
#[derive(Debug, Clone)]
pub struct PartitionSyncWriter {
    /// `offset.lag.max` (MM2 default 100): how far the target may advance past the last sync
    /// before a new one is forced.
    max_offset_lag: u64,
    /// Ferry's rules (change points, delayed-before-rewind) on; off reproduces MM2.
    change_points: bool,
    /// The previous acknowledged copy.
    previous: Option<OffsetPair>,
    /// Target offset of the last sync sent by a trigger (not by `flush`, as in MM2).
    last_sync_downstream: Option<u64>,
    /// The latest copy that triggered nothing.
    delayed: Option<OffsetPair>,
}

impl PartitionSyncWriter {
    /// Ferry's writer: MM2's triggers plus a sync at every change of `downstream - upstream`.
    pub fn new(max_offset_lag: u64) -> Self {
        Self { max_offset_lag, change_points: true, previous: None, last_sync_downstream: None, delayed: None }
    }

    /// MM2's exact decisions (`OffsetSyncWriter.PartitionState.update`), without ferry's rules.
    pub fn mm2_compatible(max_offset_lag: u64) -> Self {
        Self { change_points: false, ..Self::new(max_offset_lag) }
    }

    /// Records one acknowledged copy and returns the syncs to send now, in order.
    pub fn on_ack(&mut self, upstream: u64, downstream: u64) -> Emits {
        let current = OffsetPair { upstream, downstream };
        let reason = self.trigger(current);
        let previous = self.previous.replace(current);
        let Some(reason) = reason else {
            self.delayed = Some(current);
            return Emits::none();
        };
        self.last_sync_downstream = Some(downstream);
        let delayed = self.delayed.take();
        let rewind = previous.is_some_and(|p| upstream <= p.upstream || downstream <= p.downstream);
        let first = delayed.filter(|d| self.change_points && rewind && *d != current);
        Emits { first, second: Some(current), reason: Some(reason) }
    }

    /// The periodic flush: returns the delayed sync, if any, to send now.
    pub fn flush(&mut self) -> Option<OffsetPair> {
        self.delayed.take()
    }

    /// The delayed sync waiting for the next flush.
    pub fn delayed(&self) -> Option<OffsetPair> {
        self.delayed
    }

    fn trigger(&self, current: OffsetPair) -> Option<EmitReason> {
        let (Some(previous), Some(last_sync)) = (self.previous, self.last_sync_downstream) else {
            return Some(EmitReason::First);
        };
        if current.downstream < previous.downstream {
            return Some(EmitReason::DownstreamRewind);
        }
        if previous.upstream.checked_add(1) != Some(current.upstream) {
            return Some(EmitReason::UpstreamGap);
        }
        let delta = |p: OffsetPair| p.downstream.wrapping_sub(p.upstream);
        if self.change_points && delta(current) != delta(previous) {
            return Some(EmitReason::DeltaChange);
        }
        // Java: downstream - (lastSync + 1) >= maxOffsetLag, in signed arithmetic.
        let behind = i128::from(current.downstream) - (i128::from(last_sync) + 1);
        if behind >= i128::from(self.max_offset_lag) {
            return Some(EmitReason::Lag);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(upstream: u64, downstream: u64) -> OffsetPair {
        OffsetPair { upstream, downstream }
    }

    /// `MirrorSourceTaskTest.testOffsetSync` (with the writer's reset after every sync).
    #[test]
    fn mm2_offset_sync_sequence() {
        let mut w = PartitionSyncWriter::mm2_compatible(50);
        let steps = [
            ((0, 100), Some(EmitReason::First)),
            ((2, 102), Some(EmitReason::UpstreamGap)),
            ((3, 152), None),
            ((4, 153), Some(EmitReason::Lag)), // "one past target offset"
            ((5, 154), None),
            ((6, 203), None),
            ((7, 204), Some(EmitReason::Lag)),
            ((2, 206), Some(EmitReason::UpstreamGap)), // upstream reset
            ((3, 207), None),
            ((4, 3), Some(EmitReason::DownstreamRewind)),
            ((5, 4), None),
            ((7, 6), Some(EmitReason::UpstreamGap)),
            ((7, 6), Some(EmitReason::UpstreamGap)),
            ((8, 7), None),
            ((10, 57), Some(EmitReason::UpstreamGap)),
            ((11, 58), None),
        ];
        for ((up, down), expected) in steps {
            let emits = w.on_ack(up, down);
            assert_eq!(emits.reason(), expected, "({up}, {down})");
            assert_eq!(emits.len(), usize::from(expected.is_some()), "({up}, {down})");
        }
    }

    /// `MirrorSourceTaskTest.testZeroOffsetSync`: with `offset.lag.max = 0` every copy syncs.
    #[test]
    fn mm2_zero_lag_always_syncs() {
        let mut w = PartitionSyncWriter::mm2_compatible(0);
        for (up, down) in [
            (0, 100),
            (2, 102),
            (3, 153),
            (4, 154),
            (5, 155),
            (6, 207),
            (2, 208),
            (3, 209),
            (4, 3),
            (5, 4),
            (7, 6),
            (7, 6),
            (8, 7),
            (10, 57),
            (11, 58),
        ] {
            assert!(!w.on_ack(up, down).is_empty(), "({up}, {down})");
        }
    }

    /// `OffsetSyncWriterTest.testMaybeQueueOffsetSyncs`.
    #[test]
    fn first_is_sent_then_delayed() {
        let mut w = PartitionSyncWriter::mm2_compatible(2);
        assert_eq!(w.on_ack(0, 1).collect::<Vec<_>>(), [pair(0, 1)]);
        assert_eq!(w.delayed(), None);
        assert!(w.on_ack(1, 2).is_empty());
        assert_eq!(w.delayed(), Some(pair(1, 2)));
    }

    /// `OffsetSyncWriterTest.testPromoteDelayedOffsetSyncs`.
    #[test]
    fn flush_promotes_the_latest_delayed() {
        let mut w = PartitionSyncWriter::mm2_compatible(50);
        assert!(!w.on_ack(0, 100).is_empty());
        assert!(w.on_ack(1, 101).is_empty());
        assert_eq!(w.flush(), Some(pair(1, 101)));
        assert_eq!(w.flush(), None);
        // A flush does not move the lag baseline (MM2 does not update the partition state).
        assert!(w.on_ack(2, 102).is_empty());
        assert_eq!(w.on_ack(50, 150).reason(), Some(EmitReason::UpstreamGap));
    }

    #[test]
    fn ferry_emits_every_delta_change() {
        let mut w = PartitionSyncWriter::new(50);
        assert_eq!(w.on_ack(0, 100).reason(), Some(EmitReason::First));
        assert_eq!(w.on_ack(2, 102).reason(), Some(EmitReason::UpstreamGap));
        // MM2 would delay this one (52 < lag), but the delta changed: a target gap.
        assert_eq!(w.on_ack(3, 152).reason(), Some(EmitReason::DeltaChange));
        assert!(w.on_ack(4, 153).is_empty());
        assert!(w.on_ack(5, 154).is_empty());
        assert_eq!(w.on_ack(6, 203).reason(), Some(EmitReason::DeltaChange));
        assert!(w.on_ack(7, 204).is_empty());
    }

    #[test]
    fn ferry_sends_the_delayed_sync_before_a_rewind() {
        let mut w = PartitionSyncWriter::new(100);
        assert!(!w.on_ack(10, 10).is_empty());
        assert!(w.on_ack(11, 11).is_empty());
        assert!(w.on_ack(12, 12).is_empty());
        let sent: Vec<_> = w.on_ack(5, 13).collect();
        assert_eq!(sent, [pair(12, 12), pair(5, 13)]);
        assert_eq!(w.delayed(), None);
        // Same on a target rewind.
        assert!(w.on_ack(6, 14).is_empty());
        let sent: Vec<_> = w.on_ack(7, 2).collect();
        assert_eq!(sent, [pair(6, 14), pair(7, 2)]);
        // A forward gap drops the delayed sync, as MM2 does.
        assert!(w.on_ack(8, 3).is_empty());
        assert_eq!(w.on_ack(20, 4).collect::<Vec<_>>(), [pair(20, 4)]);
        // A repeated acknowledgement of the delayed copy is sent once.
        assert!(w.on_ack(21, 5).is_empty());
        assert_eq!(w.on_ack(21, 5).collect::<Vec<_>>(), [pair(21, 5)]);
        // MM2 mode drops the delayed sync on rewinds too.
        let mut m = PartitionSyncWriter::mm2_compatible(100);
        assert!(!m.on_ack(10, 10).is_empty());
        assert!(m.on_ack(11, 11).is_empty());
        assert_eq!(m.on_ack(5, 12).collect::<Vec<_>>(), [pair(5, 12)]);
    }
}
