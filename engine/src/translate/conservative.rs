//! MM2's own translation rule (`OffsetSyncStore.translateDownstream`, reference §3.2), for offsets
//! ferry's [`OffsetIndex`](super::OffsetIndex) does not cover: history written by MM2 before
//! ferry took over, or a partition ferry has no change points for.

/// Translates `upstream` with MM2's rule over one partition's syncs, given in the order they
/// were written, as `(upstream, downstream)` pairs.
///
/// As in MM2, a sync whose upstream offset is lower than the previous one's starts over (the
/// store is reset), then the latest sync `s` with `s.upstream <= upstream` is used: the answer is
/// `s.downstream` if the offsets are equal, else `s.downstream + 1`. It never extrapolates, so it
/// never skips a record, at the price of re-reading up to the distance to the sync. `None` when
/// no sync is at or before `upstream` (MM2 drops the checkpoint: "too far in the past", or no
/// syncs at all).
///
/// MM2 keeps only 64 syncs per partition; this uses all of them, so it answers at least as late
/// (closer to exact) as MM2 while following the same rule.
///
/// ```
/// use ferry_engine::translate::translate_conservative;
/// let syncs = [(10, 100), (20, 130)];
/// assert_eq!(translate_conservative(syncs, 9), None);
/// assert_eq!(translate_conservative(syncs, 10), Some(100));
/// assert_eq!(translate_conservative(syncs, 15), Some(101));
/// assert_eq!(translate_conservative(syncs, 20), Some(130));
/// assert_eq!(translate_conservative(syncs, 99), Some(131));
/// ```
pub fn translate_conservative<I>(syncs: I, upstream: u64) -> Option<u64>
where
    I: IntoIterator<Item = (u64, u64)>,
{
    let mut best: Option<(u64, u64)> = None;
    let mut latest_upstream: Option<u64> = None;
    for (up, down) in syncs {
        if latest_upstream.is_some_and(|latest| up < latest) {
            best = None;
        }
        latest_upstream = Some(up);
        if up <= upstream {
            best = Some((up, down));
        }
    }
    best.map(|(up, down)| if up == upstream { down } else { down.saturating_add(1) })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `OffsetSyncStoreTest.testOffsetTranslation`-style: one sync per record pair.
    #[test]
    fn translates_at_and_after_syncs() {
        let syncs = [(100, 200), (150, 250), (200, 300)];
        assert_eq!(translate_conservative(syncs, 99), None);
        assert_eq!(translate_conservative(syncs, 100), Some(200));
        assert_eq!(translate_conservative(syncs, 101), Some(201));
        assert_eq!(translate_conservative(syncs, 149), Some(201));
        assert_eq!(translate_conservative(syncs, 150), Some(250));
        assert_eq!(translate_conservative(syncs, 1000), Some(301));
        assert_eq!(translate_conservative([], 5), None);
    }

    #[test]
    fn upstream_rewind_resets_like_the_store() {
        let syncs = [(100, 200), (150, 250), (50, 400), (60, 410)];
        assert_eq!(translate_conservative(syncs, 120), Some(411));
        assert_eq!(translate_conservative(syncs, 55), Some(401));
        assert_eq!(translate_conservative(syncs, 40), None);
        // An equal upstream offset is not a rewind: the later sync wins.
        assert_eq!(translate_conservative([(5, 10), (5, 20)], 5), Some(20));
    }
}
