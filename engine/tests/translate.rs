//! Property tests for exact offset translation (`ferry_engine::translate`) and the offset-sync
//! writer that makes it survive restarts (`ferry_engine::sync_writer`).
//!
//! A scenario is a source partition whose offsets are records or not (compaction gaps,
//! transaction markers, aborted records), copied by a sequence of lifetimes. Each lifetime
//! resumes somewhere (where the last one stopped, before it: crash duplicates, or after it) and
//! scans part of the source; every record it scans is copied to the next target offset, after a
//! random target gap (markers of an exactly-once producer). The acknowledged copies are the
//! ground truth the invariants of `translate`'s module docs are checked against.

use std::collections::BTreeMap;

use ferry_engine::sync_writer::PartitionSyncWriter;
use ferry_engine::translate::{
    translate_conservative, IndexJournal, JournalEntry, JournalSlot, OffsetIndex, Replay, Translation,
};
use ferry_engine::wire::OffsetSync;
use proptest::prelude::*;

#[derive(Debug, Clone, Copy)]
enum Resume {
    /// Where the previous lifetime stopped.
    Continue,
    /// This many offsets before it (copies some records again).
    Rewind(u64),
    /// This many offsets after it (never copies them).
    Forward(u64),
}

#[derive(Debug, Clone)]
struct Scenario {
    is_record: Vec<bool>,
    target_gaps: Vec<u64>,
    start: u64,
    lifetimes: Vec<(Resume, u64)>,
    first_downstream: u64,
}

struct Copies {
    /// Per lifetime, the acknowledged `(upstream, downstream)` pairs in order.
    lifetimes: Vec<Vec<(u64, u64)>>,
}

impl Copies {
    fn all(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.lifetimes.iter().flatten().copied()
    }

    /// Upstream offset -> target offsets of all its copies, in order.
    fn by_upstream(&self) -> BTreeMap<u64, Vec<u64>> {
        let mut map: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
        for (u, d) in self.all() {
            map.entry(u).or_default().push(d);
        }
        map
    }

    fn has_duplicates(&self) -> bool {
        let mut seen = std::collections::HashSet::new();
        !self.all().all(|(u, _)| seen.insert(u))
    }
}

impl Scenario {
    fn n(&self) -> u64 {
        self.is_record.len() as u64
    }

    fn run(&self) -> Copies {
        let n = self.n();
        let mut down = self.first_downstream;
        let mut gaps = self.target_gaps.iter().cycle();
        let mut position = self.start.min(n);
        // Highest offset any lifetime scanned up to (exclusive).
        let mut frontier = position;
        let mut lifetimes = Vec::new();
        for (i, &(resume, len)) in self.lifetimes.iter().enumerate() {
            let from = match (i, resume) {
                (0, _) | (_, Resume::Continue) => position,
                (_, Resume::Rewind(back)) => position.saturating_sub(back),
                // The documented assumption: a re-copy never jumps forward over records that
                // only an older generation copied, so forward jumps start at the frontier.
                (_, Resume::Forward(_)) if position < frontier => position,
                (_, Resume::Forward(ahead)) => (position + ahead).min(n),
            };
            let to = (from + len).min(n);
            frontier = frontier.max(to);
            let mut acks = Vec::new();
            for u in from..to {
                if self.is_record[u as usize] {
                    down += gaps.next().copied().unwrap_or(0);
                    acks.push((u, down));
                    down += 1;
                }
            }
            lifetimes.push(acks);
            position = to;
        }
        Copies { lifetimes }
    }
}

fn resume(allow_rewind: bool) -> BoxedStrategy<Resume> {
    if allow_rewind {
        prop_oneof![
            3 => Just(Resume::Continue),
            4 => (1u64..60).prop_map(Resume::Rewind),
            1 => (1u64..10).prop_map(Resume::Forward),
        ]
        .boxed()
    } else {
        prop_oneof![
            3 => Just(Resume::Continue),
            1 => (1u64..10).prop_map(Resume::Forward),
        ]
        .boxed()
    }
}

fn scenario(allow_rewind: bool) -> impl Strategy<Value = Scenario> {
    (
        proptest::collection::vec(prop::bool::weighted(0.8), 1..150),
        proptest::collection::vec(prop_oneof![6 => Just(0u64), 1 => 1u64..4], 1..20),
        0u64..20,
        proptest::collection::vec((resume(allow_rewind), 1u64..120), 1..6),
        0u64..1000,
    )
        .prop_map(|(is_record, target_gaps, start, lifetimes, first_downstream)| Scenario {
            is_record,
            target_gaps,
            start,
            lifetimes,
            first_downstream,
        })
}

fn live_index(copies: &Copies) -> OffsetIndex {
    let mut index = OffsetIndex::new();
    for lifetime in &copies.lifetimes {
        index.record_batch(lifetime);
    }
    index
}

fn to_sync(pair: ferry_engine::sync_writer::OffsetPair) -> OffsetSync {
    OffsetSync {
        topic: "t".into(),
        partition: 0,
        upstream_offset: i64::try_from(pair.upstream).expect("small"),
        downstream_offset: i64::try_from(pair.downstream).expect("small"),
    }
}

/// The syncs a writer emits, one writer per lifetime (or one for everything), each flushed at
/// the end of its lifetime (a clean hand-over).
fn emitted_syncs(copies: &Copies, lag: u64, one_writer: bool, mm2: bool) -> Vec<OffsetSync> {
    let new_writer = || {
        if mm2 {
            PartitionSyncWriter::mm2_compatible(lag)
        } else {
            PartitionSyncWriter::new(lag)
        }
    };
    let mut syncs = Vec::new();
    let mut writer = new_writer();
    for lifetime in &copies.lifetimes {
        if !one_writer {
            writer = new_writer();
        }
        for &(u, d) in lifetime {
            syncs.extend(writer.on_ack(u, d).map(to_sync));
        }
        if !one_writer {
            syncs.extend(writer.flush().map(to_sync));
        }
    }
    syncs.extend(writer.flush().map(to_sync));
    syncs
}

/// The journal topic as a log: every write in order (replayed with compaction's semantics).
type JournalLog = Vec<(JournalSlot, Option<(u64, u64)>)>;

fn append(log: &mut JournalLog, entries: &mut Vec<JournalEntry>) {
    log.extend(entries.drain(..).map(|entry| entry.slot_and_value()));
}

fn replay(log: &JournalLog) -> (OffsetIndex, IndexJournal) {
    let mut replay = Replay::new();
    for &(slot, value) in log {
        replay.apply(slot, value);
    }
    replay.finish()
}

/// Invariant 1: every copied record at or after `c` has its latest copy at or after `D`, and `D`
/// is at most one past the last copy.
fn check_no_skip(
    copies: &BTreeMap<u64, Vec<u64>>,
    last_down: u64,
    c: u64,
    t: Translation,
) -> Result<(), TestCaseError> {
    for (&u, downs) in copies.range(c..) {
        let latest = downs.iter().copied().max().unwrap_or(0);
        prop_assert!(
            latest >= t.downstream,
            "translate({}) = {:?} skips record {} (latest copy at {})",
            c,
            t,
            u,
            latest
        );
    }
    prop_assert!(t.downstream <= last_down + 1, "translate({}) = {:?} past the end", c, t);
    Ok(())
}

/// Invariant 2: an exact answer reads no copy of a record before `c`.
fn check_exact_is_honest(copies: &Copies, c: u64, t: Translation) -> Result<(), TestCaseError> {
    if t.exact {
        for (u, d) in copies.all() {
            prop_assert!(
                !(d >= t.downstream && u < c),
                "translate({}) = {:?} claims exact but re-reads {} at {}",
                c,
                t,
                u,
                d
            );
        }
    }
    Ok(())
}

/// 512 cases by default; `PROPTEST_CASES` overrides it for longer runs.
fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(512);
    ProptestConfig { cases, ..ProptestConfig::default() }
}

proptest! {
    #![proptest_config(config())]

    /// Invariants 1 and 2 for streams with gaps on both sides and crash duplicates.
    #[test]
    fn never_skips_and_exact_is_honest(s in scenario(true)) {
        let copies = s.run();
        let index = live_index(&copies);
        let by_upstream = copies.by_upstream();
        let Some(min_up) = by_upstream.keys().next().copied() else {
            prop_assert!(index.is_empty());
            return Ok(());
        };
        let last_down = copies.all().map(|(_, d)| d).max().unwrap_or(0);
        for c in 0..=s.n() + 2 {
            let t = index.translate(c);
            prop_assert_eq!(t.is_none(), c < min_up, "translate({}) = {:?}", c, t);
            if let Some(t) = t {
                check_no_skip(&by_upstream, last_down, c, t)?;
                check_exact_is_honest(&copies, c, t)?;
            }
        }
    }

    /// Invariants 1 and 2 still hold at and above the log start when the index is pruned after
    /// every copy while it is fed (source retention deleting records between copies).
    #[test]
    fn pruning_while_feeding_keeps_answers_honest(
        s in scenario(true),
        prunes in proptest::collection::vec((0usize..400, 0u64..150), 0..4),
    ) {
        let copies = s.run();
        let mut index = OffsetIndex::new();
        let mut cut = 0u64;
        for (fed, (u, d)) in copies.all().enumerate() {
            index.record(u, d);
            for &(_, at) in prunes.iter().filter(|(at, _)| *at == fed + 1) {
                cut = cut.max(at);
            }
            // ferry prunes periodically, with the log start unchanged most of the time.
            index.prune_below(cut);
        }
        let by_upstream = copies.by_upstream();
        let last_down = copies.all().map(|(_, d)| d).max().unwrap_or(0);
        for c in cut..=s.n() + 2 {
            if let Some(t) = index.translate(c) {
                check_no_skip(&by_upstream, last_down, c, t)?;
                check_exact_is_honest(&copies, c, t)?;
            }
        }
    }

    /// Invariant 3: without duplicates every offset in range is exact, and the index holds one
    /// point per change of the delta.
    #[test]
    fn exact_without_duplicates(s in scenario(false)) {
        let copies = s.run();
        prop_assume!(!copies.has_duplicates());
        let index = live_index(&copies);
        let all: Vec<(u64, u64)> = copies.all().collect();
        let (Some(&(first_up, _)), Some(&(last_up, last_down))) = (all.first(), all.last()) else {
            return Ok(());
        };
        let delta = |p: (u64, u64)| p.1.wrapping_sub(p.0);
        let changes = all.windows(2).filter(|w| delta(w[1]) != delta(w[0])).count();
        prop_assert_eq!(index.point_count(), changes + 1);
        for c in first_up..=last_up + 1 {
            let t = index.translate(c).expect("in range");
            prop_assert!(t.exact, "translate({}) = {:?} not exact", c, t);
            let before = all.iter().filter(|(u, _)| *u < c).map(|(_, d)| *d).max();
            let after = all.iter().find(|(u, _)| *u >= c).map(|(_, d)| *d).unwrap_or(last_down + 1);
            prop_assert!(before.is_none_or(|b| b < t.downstream), "translate({}) = {:?} re-reads", c, t);
            prop_assert!(t.downstream <= after, "translate({}) = {:?} skips", c, t);
        }
    }

    /// Invariant 4: the index rebuilt from ferry's emitted syncs translates like the live one.
    #[test]
    fn rebuild_from_syncs_matches_live(s in scenario(true), lag in 0u64..30, one_writer in any::<bool>()) {
        let copies = s.run();
        let live = live_index(&copies);
        let rebuilt = OffsetIndex::from_syncs(emitted_syncs(&copies, lag, one_writer, false));
        for c in 0..=s.n() + 2 {
            prop_assert_eq!(live.translate(c), rebuilt.translate(c), "translate({})", c);
        }
        prop_assert_eq!(live.last(), rebuilt.last());
    }

    /// Invariant 4 through the journal: each lifetime is a process that rebuilds its index from the
    /// journal log, feeds its copies with ticks (tails) and prunes at random, and stops cleanly. After
    /// every tick the index rebuilt from the log translates every offset at or above the highest
    /// log start like the process's index; at the end both match the live index fed every copy.
    #[test]
    fn journal_rebuild_matches_live(
        s in scenario(true),
        ticks in proptest::collection::vec(any::<bool>(), 1..40),
        prunes in proptest::collection::vec((0usize..400, 0u64..150), 0..4),
    ) {
        let copies = s.run();
        let mut log = JournalLog::new();
        let mut entries = Vec::new();
        let mut cut = 0u64;
        let mut fed = 0usize;
        let mut tick = ticks.iter().cycle();
        let mut process = OffsetIndex::new();
        for lifetime in &copies.lifetimes {
            let (mut index, mut journal) = replay(&log);
            index.prune_below(cut);
            for &(u, d) in lifetime {
                journal.record(&mut index, u, d, &mut entries);
                fed += 1;
                for &(_, at) in prunes.iter().filter(|(at, _)| *at == fed) {
                    cut = cut.max(at);
                    journal.prune(&mut index, cut, &mut entries);
                }
                if *tick.next().unwrap_or(&false) {
                    journal.tail(&mut entries);
                    append(&mut log, &mut entries);
                    let (rebuilt, _) = replay(&log);
                    for c in cut..=s.n() + 2 {
                        prop_assert_eq!(rebuilt.translate(c), index.translate(c), "mid-run translate({})", c);
                    }
                }
            }
            journal.tail(&mut entries);
            append(&mut log, &mut entries);
            process = index;
        }
        let (rebuilt, _) = replay(&log);
        let mut live = live_index(&copies);
        live.prune_below(cut);
        for c in cut..=s.n() + 2 {
            prop_assert_eq!(rebuilt.translate(c), process.translate(c), "translate({})", c);
            prop_assert_eq!(rebuilt.translate(c), live.translate(c), "live translate({})", c);
        }
        prop_assert_eq!(rebuilt.last(), live.last());
    }

    /// MM2's sparse syncs fed as sparse points never skip either.
    #[test]
    fn sparse_mm2_syncs_never_skip(s in scenario(true), lag in 0u64..30) {
        let copies = s.run();
        let mut index = OffsetIndex::new();
        for sync in emitted_syncs(&copies, lag, false, true) {
            let (u, d) = (sync.upstream_offset as u64, sync.downstream_offset as u64);
            index.record_sparse(u, d);
        }
        let by_upstream = copies.by_upstream();
        let last_down = copies.all().map(|(_, d)| d).max().unwrap_or(0);
        for c in 0..=s.n() + 2 {
            if let Some(t) = index.translate(c) {
                check_no_skip(&by_upstream, last_down, c, t)?;
                check_exact_is_honest(&copies, c, t)?;
            }
        }
    }

    /// MM2's rule over one lifetime's syncs never skips and is never later than the exact index.
    #[test]
    fn conservative_is_safe_and_never_beats_exact(s in scenario(false), lag in 0u64..30) {
        let copies = s.run();
        prop_assume!(!copies.has_duplicates());
        let syncs: Vec<(u64, u64)> = emitted_syncs(&copies, lag, false, true)
            .iter()
            .map(|s| (s.upstream_offset as u64, s.downstream_offset as u64))
            .collect();
        let index = live_index(&copies);
        let by_upstream = copies.by_upstream();
        let last_down = copies.all().map(|(_, d)| d).max().unwrap_or(0);
        for c in 0..=s.n() + 2 {
            if let Some(d) = translate_conservative(syncs.iter().copied(), c) {
                check_no_skip(&by_upstream, last_down, c, Translation { downstream: d, exact: false })?;
                let exact = index.translate(c).expect("a sync implies a copy at or before c");
                prop_assert!(d <= exact.downstream, "conservative {} > exact {:?} at {}", d, exact, c);
            }
        }
    }

    /// Pruning below the log start keeps every translation at or above it.
    #[test]
    fn prune_keeps_translations_above_log_start(s in scenario(true), cut in 0u64..150) {
        let copies = s.run();
        let index = live_index(&copies);
        let mut pruned = index.clone();
        pruned.prune_below(cut);
        prop_assert!(pruned.point_count() <= index.point_count());
        for c in 0..=s.n() + 2 {
            if c < cut {
                prop_assert_eq!(pruned.translate(c), None);
            } else {
                prop_assert_eq!(pruned.translate(c), index.translate(c), "translate({})", c);
            }
        }
    }
}

/// A transactional source: every fifth offset is a commit marker, every 20th transaction
/// aborted; the target writes its own marker after every tenth copy. The index stays one point
/// per change, and a group at any offset fails over exactly.
#[test]
fn transactional_topic_is_exact() {
    let mut index = OffsetIndex::new();
    let mut writer = PartitionSyncWriter::new(100);
    let mut syncs = Vec::new();
    let mut down = 0u64;
    let mut copied = Vec::new();
    for u in 0..10_000u64 {
        let marker = u % 5 == 4;
        let aborted = (u / 5) % 20 == 19;
        if marker || aborted {
            continue;
        }
        index.record(u, down);
        syncs.extend(writer.on_ack(u, down).map(to_sync));
        copied.push((u, down));
        down += 1;
        if copied.len() % 10 == 0 {
            down += 1;
        }
    }
    syncs.extend(writer.flush().map(to_sync));
    index.advance_upstream(10_000);
    let rebuilt = OffsetIndex::from_syncs(&syncs);
    for c in 0..=10_000u64 {
        let t = index.translate(c).expect("in range");
        assert!(t.exact, "{c}");
        // At or before the first copy at or after c (earlier only by positions holding a
        // target marker), after every copy before c.
        let first_after = copied.iter().find(|(u, _)| *u >= c).map_or(down, |(_, d)| *d);
        let last_before = copied.iter().rev().find(|(u, _)| *u < c).map(|(_, d)| *d);
        assert!(t.downstream <= first_after, "{c}");
        assert!(last_before.is_none_or(|b| b < t.downstream), "{c}");
        if c < 10_000 && c % 5 != 4 && (c / 5) % 20 != 19 {
            assert_eq!(t.downstream, first_after, "a copied record maps to its copy: {c}");
        }
        let r = rebuilt.translate(c).expect("in range");
        assert_eq!(r.downstream, t.downstream, "{c}");
    }
    // One point per change of the delta, far fewer than records.
    assert!(index.point_count() < copied.len() / 3, "{}", index.point_count());
    assert!(syncs.len() >= index.point_count());
}
