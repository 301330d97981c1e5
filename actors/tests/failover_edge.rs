//! Consumer-group failover edge cases against real brokers (issue 5 item 8).
//!
//! The core check, used by most tests: a source group commits offsets, ferry copies the topic and
//! syncs the group's translated offsets to the target, ferry stops, and a real consumer of the same
//! group on the target (subscribed to the remote topic, `auto.offset.reset=earliest`) reads to the
//! end. What it reads is compared by sequence number (`p<partition>-<seq>` values) with what the
//! source group had left to read: 0 re-read, 0 skipped.
//!
//! Covered: plain topics with a shifted target; a transactional producer with aborted transactions
//! (commit markers and aborted records leave gaps in source offsets); a compacted topic; a kill -9 of
//! ferry (duplicates on the target); MM2's own scenarios (reference §6: empty partition, no
//! checkpoints if nothing mirrored, offset syncs on the target, translation behind the replication
//! flow, restarts); and malformed records in the internal topics ferry reads
//! (offset syncs, offset-index journal, checkpoints, progress).

#![cfg(feature = "kafka-integration-tests")]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::*;
use ferry_engine::filter::ConfigPropertyFilter;
use ferry_engine::translate::JournalSlot;
use ferry_engine::wire::{Checkpoint, JournalRecord, OffsetSync};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

// ---------------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------------

/// One consumer group of a scenario: the source offset it committed per partition, and the
/// partitions ferry must be able to translate (offsets at or after the first copied record).
#[derive(Clone, Debug)]
struct Group {
    name: String,
    commits: BTreeMap<i32, i64>,
    required: BTreeSet<i32>,
}

impl Group {
    fn new(name: String, commits: BTreeMap<i32, i64>) -> Group {
        let required = commits.keys().copied().collect();
        Group { name, commits, required }
    }

    /// Commits the group's offsets on the source.
    fn commit(&self, src: &Cluster, topic: &str) {
        let offsets: Vec<(&str, i32, i64)> = self.commits.iter().map(|(p, c)| (topic, *p, *c)).collect();
        src.commit_group_offsets(&self.name, &offsets);
    }
}

/// The sequence number of a numbered record of `partition`, `None` for anything else.
fn seq(record: &Rec, partition: i32) -> Option<i64> {
    record.value_str().strip_prefix(&format!("p{partition}-")).and_then(|s| s.parse().ok())
}

/// `[0, 1, 2, 5, 7, 8]` as `0..=2, 5, 7..=8`; `None` entries (foreign records) as `?`.
fn ranges(seqs: &[Option<i64>]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < seqs.len() {
        match seqs[i] {
            None => {
                out.push("?".into());
                i += 1;
            }
            Some(start) => {
                let mut j = i;
                while j + 1 < seqs.len() && seqs[j + 1] == seqs[j].map(|s| s + 1) {
                    j += 1;
                }
                let end = seqs[j].unwrap_or(start);
                out.push(if j == i { start.to_string() } else { format!("{start}..={end}") });
                i = j + 1;
            }
        }
    }
    if out.len() > 40 {
        let tail = out.split_off(out.len() - 10);
        out.truncate(30);
        out.push("…".into());
        out.extend(tail);
    }
    format!("[{}]", out.join(", "))
}

fn ranges_of(seqs: &[i64]) -> String {
    ranges(&seqs.iter().copied().map(Some).collect::<Vec<_>>())
}

/// The mm2.properties of the tests: flow `src->dst` on `<p>.*`, groups `<p>.*`, checkpoints and
/// group offset sync every second.
fn mm2_groups(rig: &Rig, p: &str) -> Mm2 {
    let mut mm2 = rig.mm2(&format!("{p}.*"));
    mm2.set("groups", &format!("{p}.*"))
        .set("emit.checkpoints.interval.seconds", "1")
        .set("sync.group.offsets.enabled", "true")
        .set("sync.group.offsets.interval.seconds", "1");
    mm2
}

/// Every decodable checkpoint of groups starting with `group_prefix` in `topic`, in the order written.
fn checkpoints(cluster: &Cluster, topic: &str, group_prefix: &str) -> Vec<Checkpoint> {
    cluster
        .read_raw(topic)
        .iter()
        .filter_map(|(k, v)| Checkpoint::decode(k, v).ok())
        .filter(|c| c.group.starts_with(group_prefix))
        .collect()
}

/// The last checkpoint per (group, partition) for `remote`.
fn latest_checkpoints(all: &[Checkpoint], remote: &str) -> BTreeMap<(String, i32), (i64, i64)> {
    all.iter()
        .filter(|c| c.topic == remote)
        .map(|c| ((c.group.clone(), c.partition), (c.upstream_offset, c.downstream_offset)))
        .collect()
}

/// Checkpoints of `group` on `remote`/`partition`, in the order written, as (upstream, downstream).
fn history(all: &[Checkpoint], group: &str, remote: &str, partition: i32) -> Vec<(i64, i64)> {
    all.iter()
        .filter(|c| c.group == group && c.topic == remote && c.partition == partition)
        .map(|c| (c.upstream_offset, c.downstream_offset))
        .collect()
}

/// Asserts checkpoints never go backwards unless the upstream offset went back (MM2's
/// `assertMonotonicCheckpoints`, with MM2's allowed rewind).
fn assert_monotonic(all: &[Checkpoint], group: &str, remote: &str, partition: i32, what: &str) {
    let h = history(all, group, remote, partition);
    for pair in h.windows(2) {
        let ((up_a, down_a), (up_b, down_b)) = (pair[0], pair[1]);
        assert!(
            down_b >= down_a || up_b < up_a,
            "{what}: checkpoints of {group} on {remote}/{partition} went backwards without a source rewind: {h:?}"
        );
    }
}

/// `group`'s committed offsets on `topic` partitions `0..n` of `cluster`, with one consumer.
fn committed_all(cluster: &Cluster, group: &str, topic: &str, n: i32) -> BTreeMap<i32, Option<i64>> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &cluster.bootstrap)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .expect("group consumer");
    let mut list = TopicPartitionList::new();
    for partition in 0..n {
        list.add_partition(topic, partition);
    }
    let committed = match consumer.committed_offsets(list, Duration::from_secs(30)) {
        Ok(committed) => committed,
        Err(e) => {
            eprintln!("[it] committed offsets of {group} on {}: {e}", cluster.alias);
            return (0..n).map(|p| (p, None)).collect();
        }
    };
    (0..n)
        .map(|partition| {
            let offset = committed.find_partition(topic, partition).and_then(|e| match e.offset() {
                Offset::Offset(o) => Some(o),
                _ => None,
            });
            (partition, offset)
        })
        .collect()
}

/// Waits until, for every group and every required partition, the latest checkpoint in
/// `checkpoints_topic` is of the group's committed offset and the target group holds the checkpoint's
/// target offset (group offset sync done), and then until nothing changes any more for a few seconds
/// (checkpoints of every partition, target offsets). Returns the latest checkpoints.
///
/// The stability window matters: ferry's translation index learns copies at its progress ticks
/// (`offset.flush.interval.ms`), so a group that committed past what the index knows first gets a
/// conservative checkpoint (one past the last known copy: re-reads, never skips), synced, then the
/// exact one at a later pass.
fn wait_synced(
    dst: &Cluster,
    ferry: &mut Ferry,
    checkpoints_topic: &str,
    remote: &str,
    partitions: i32,
    groups: &[Group],
) -> BTreeMap<(String, i32), (i64, i64)> {
    wait_synced_then(dst, ferry, checkpoints_topic, remote, partitions, groups, Duration::from_secs(4))
}

/// What [`wait_synced_then`] watches: per (group, partition), the latest checkpoint and the target
/// group's committed offset.
type SyncState = BTreeMap<(String, i32), (Option<(i64, i64)>, Option<i64>)>;

/// [`wait_synced`] with the stability window `stable` (zero: return as soon as the required
/// partitions are synced).
fn wait_synced_then(
    dst: &Cluster,
    ferry: &mut Ferry,
    checkpoints_topic: &str,
    remote: &str,
    partitions: i32,
    groups: &[Group],
    stable: Duration,
) -> BTreeMap<(String, i32), (i64, i64)> {
    let started = Instant::now();
    let timeout = WAIT + stable * 3;
    let group_prefix = common_prefix(groups);
    let mut unchanged_since: Option<(Instant, SyncState)> = None;
    loop {
        let latest = latest_checkpoints(&checkpoints(dst, checkpoints_topic, &group_prefix), remote);
        let mut missing = Vec::new();
        let mut state = SyncState::new();
        for group in groups {
            let target = committed_all(dst, &group.name, remote, partitions);
            for (partition, want) in &group.commits {
                let id = (group.name.clone(), *partition);
                let checkpoint = latest.get(&id).copied();
                state.insert(id, (checkpoint, target[partition]));
                if !group.required.contains(partition) {
                    continue;
                }
                match checkpoint {
                    Some((up, down)) if up == *want && target[partition] == Some(down) => {}
                    Some((up, down)) if up == *want => missing.push(format!(
                        "{}/{partition}: checkpoint {up}->{down}, target group at {:?}",
                        group.name, target[partition]
                    )),
                    other => missing.push(format!(
                        "{}/{partition}: latest checkpoint {other:?}, want one of source offset {want}",
                        group.name
                    )),
                }
            }
        }
        if missing.is_empty() {
            match &unchanged_since {
                Some((since, before)) if *before == state => {
                    if since.elapsed() >= stable {
                        return latest;
                    }
                }
                _ => {
                    if stable.is_zero() {
                        return latest;
                    }
                    unchanged_since = Some((Instant::now(), state));
                }
            }
        } else {
            unchanged_since = None;
        }
        ferry.assert_running();
        assert!(
            started.elapsed() < timeout,
            "timed out after {timeout:?} waiting for checkpoints and group offset sync on {remote} to settle:\n{}\n{}",
            if missing.is_empty() { "(still changing)".to_string() } else { missing.join("\n") },
            ferry.stderr_tail(40)
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn common_prefix(groups: &[Group]) -> String {
    let first = groups.first().map(|g| g.name.clone()).unwrap_or_default();
    groups
        .iter()
        .fold(first, |acc, g| acc.chars().zip(g.name.chars()).take_while(|(a, b)| a == b).map(|(a, _)| a).collect())
}

/// The failover itself: a consumer of `group` on `cluster`, subscribed to `topic`
/// (`auto.offset.reset=earliest`, read_committed, no commits), reading until it reached the end of
/// every one of the `partitions`. Returns the records read, per partition, in order.
fn failover_read(cluster: &Cluster, group: &str, topic: &str, partitions: i32) -> BTreeMap<i32, Vec<Rec>> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &cluster.bootstrap)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("enable.partition.eof", "true")
        .set("session.timeout.ms", "10000")
        .create()
        .expect("failover consumer");
    consumer.subscribe(&[topic]).expect("subscribe");
    let mut out: BTreeMap<i32, Vec<Rec>> = (0..partitions).map(|p| (p, Vec::new())).collect();
    let mut at_end: BTreeSet<i32> = BTreeSet::new();
    let deadline = Instant::now() + WAIT;
    while at_end.len() < partitions as usize {
        assert!(
            Instant::now() < deadline,
            "failover consumer of {group} on {topic}: did not reach the end of every partition ({at_end:?})"
        );
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(message)) => {
                at_end.remove(&message.partition());
                out.entry(message.partition()).or_default().push(Rec::from_message(&message));
            }
            Some(Err(KafkaError::PartitionEOF(partition))) => {
                at_end.insert(partition);
            }
            Some(Err(e)) => panic!("failover consumer of {group} on {topic}: {e}"),
            None => {}
        }
    }
    out
}

/// Fails `group` over to `remote` and compares what it reads with `expected` sequence numbers per
/// partition. Returns one line per partition that differs (empty when exact).
fn check_failover(
    dst: &Cluster,
    group: &Group,
    remote: &str,
    partitions: i32,
    expected: &BTreeMap<i32, Vec<i64>>,
) -> Vec<String> {
    let before = committed_all(dst, &group.name, remote, partitions);
    let read = failover_read(dst, &group.name, remote, partitions);
    let mut problems = Vec::new();
    for partition in 0..partitions {
        let got: Vec<Option<i64>> = read[&partition].iter().map(|r| seq(r, partition)).collect();
        let want = &expected[&partition];
        if got.iter().copied().eq(want.iter().copied().map(Some)) {
            continue;
        }
        let want_set: BTreeSet<i64> = want.iter().copied().collect();
        let mut seen = BTreeSet::new();
        let re_read = got.iter().filter(|s| !s.is_some_and(|s| want_set.contains(&s) && seen.insert(s))).count();
        let got_set: BTreeSet<i64> = got.iter().flatten().copied().collect();
        let skipped: Vec<i64> = want.iter().copied().filter(|s| !got_set.contains(s)).collect();
        problems.push(format!(
            "{} partition {partition}: source group committed {:?}, target group at {:?}: expected {} records {}, \
             read {} {} — {re_read} re-read, {} skipped {}",
            group.name,
            group.commits.get(&partition),
            before[&partition],
            want.len(),
            ranges_of(want),
            got.len(),
            ranges(&got),
            skipped.len(),
            ranges_of(&skipped)
        ));
    }
    problems
}

/// A real consumer of `group` on the source: subscribes to `topic`, processes (stores the offset
/// of) the first `counts[p]` records of each partition, ignores the rest, and commits.
fn consume_and_commit(src: &Cluster, group: &str, topic: &str, counts: &BTreeMap<i32, i64>) {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &src.bootstrap)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .create()
        .expect("source group consumer");
    consumer.subscribe(&[topic]).expect("subscribe");
    let mut processed: BTreeMap<i32, i64> = counts.keys().map(|p| (*p, 0)).collect();
    let deadline = Instant::now() + WAIT;
    while processed.iter().any(|(p, n)| *n < counts[p]) {
        assert!(Instant::now() < deadline, "source consumer of {group}: processed only {processed:?} of {counts:?}");
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(message)) => {
                let partition = message.partition();
                if let Some(n) = processed.get_mut(&partition) {
                    if *n < counts[&partition] {
                        consumer.store_offset_from_message(&message).expect("store offset");
                        *n += 1;
                    }
                }
            }
            Some(Err(e)) => panic!("source consumer of {group}: {e}"),
            None => {}
        }
    }
    consumer.commit_consumer_state(CommitMode::Sync).expect("commit");
}

/// A little deterministic randomness for garbage bytes.
struct Noise(u64);

impl Noise {
    fn new() -> Noise {
        Noise(now_ms() as u64 ^ (u64::from(std::process::id()) << 20))
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

// ---------------------------------------------------------------------------------------------------
// 1. Exact failover, end to end
// ---------------------------------------------------------------------------------------------------

#[test]
fn exact_failover_end_to_end() {
    let rig = Rig::get();
    let (src, dst) = (rig.source(), rig.target());
    let p = prefix();
    let topic = format!("{p}orders");
    let remote = format!("src.{topic}");
    let (partitions, n) = (3, 50);
    src.create_topic(&topic, partitions, &[]);
    // Partition 1 of the remote topic starts with 4 unrelated records: target offsets are shifted, so
    // "same offset on the target" would skip 4 records there.
    dst.create_topic(&remote, partitions, &[]);
    let ts = now_ms() - 60_000;
    dst.produce(&remote, 1, &(0..4).map(|i| numbered(1, 9000 + i, ts)).collect::<Vec<_>>());
    for partition in 0..partitions {
        src.produce(&topic, partition, &(0..n).map(|i| numbered(partition, i, ts + i)).collect::<Vec<_>>());
    }
    // A real consumer processes part of each partition (all of partition 2) and commits.
    let consumed = BTreeMap::from([(0, 17), (1, 33), (2, n)]);
    let reader = Group::new(format!("{p}reader"), consumed.clone());
    consume_and_commit(&src, &reader.name, &topic, &consumed);
    for (partition, count) in &consumed {
        assert_eq!(src.committed(&reader.name, &topic, *partition), Some(*count), "source commit of {partition}");
    }
    // A group that committed the very beginning of every partition.
    let from_start = Group::new(format!("{p}start"), (0..partitions).map(|q| (q, 0)).collect());
    from_start.commit(&src, &topic);
    let groups = [reader, from_start];

    let dir = tempfile::tempdir().expect("tempdir");
    let mut ferry = Ferry::start(&mm2_groups(&rig, &p).write(dir.path()), dir.path(), "edge-exact");
    wait_for_counts(&dst, &remote, &BTreeMap::from([(0, n), (1, n + 4), (2, n)]), &mut ferry);
    let latest = wait_synced(&dst, &mut ferry, "src.checkpoints.internal", &remote, partitions, &groups);
    eprintln!("[it] checkpoints: {latest:?}");
    ferry.stop(Duration::from_secs(10));

    let mut problems = Vec::new();
    for group in &groups {
        let expected = group.commits.iter().map(|(q, c)| (*q, (*c..n).collect())).collect();
        problems.extend(check_failover(&dst, group, &remote, partitions, &expected));
    }
    assert!(problems.is_empty(), "failover not exact:\n{}\n{}", problems.join("\n"), ferry.stderr_tail(30));
}

// ---------------------------------------------------------------------------------------------------
// 2. Transactional producer with aborted transactions
// ---------------------------------------------------------------------------------------------------

/// One transaction on one partition: whether it commits, and how many records it writes.
type Txn = (bool, i64);

/// Where a transaction landed in the source log.
#[derive(Clone, Copy, Debug)]
struct Placed {
    commit: bool,
    start: i64,
    count: i64,
    /// Offset of its commit or abort marker.
    marker: i64,
}

fn place(layout: &[Txn]) -> Vec<Placed> {
    let mut next = 0;
    layout
        .iter()
        .map(|&(commit, count)| {
            let placed = Placed { commit, start: next, count, marker: next + count };
            next += count + 1;
            placed
        })
        .collect()
}

#[test]
fn exact_failover_with_aborted_transactions() {
    let rig = Rig::get();
    let (src, dst) = (rig.source(), rig.target());
    let p = prefix();
    let topic = format!("{p}txn");
    let remote = format!("src.{topic}");
    let layouts: BTreeMap<i32, Vec<Txn>> = BTreeMap::from([
        (0, vec![(true, 5), (false, 3), (true, 5), (false, 2), (true, 4)]),
        // Starts with an aborted transaction, ends with one.
        (1, vec![(false, 3), (true, 5), (true, 1), (false, 4), (true, 5), (false, 2)]),
        // Two aborted transactions in a row.
        (2, vec![(true, 5), (true, 5), (false, 3), (false, 3), (true, 3)]),
    ]);
    let partitions = layouts.len() as i32;
    src.create_topic(&topic, partitions, &[]);

    let ts = now_ms() - 60_000;
    src.produce_transactions(&topic, &layouts, &format!("{p}producer"), ts);

    // The source log is exactly the layout: records then a marker per transaction; read_committed
    // readers see only the committed records.
    let placed: BTreeMap<i32, Vec<Placed>> = layouts.iter().map(|(q, l)| (*q, place(l))).collect();
    let source = src.read_topic(&topic);
    let mut offset_of_seq: BTreeMap<i32, Vec<i64>> = BTreeMap::new();
    for (partition, txns) in &placed {
        let want: Vec<i64> = txns.iter().filter(|t| t.commit).flat_map(|t| t.start..t.start + t.count).collect();
        let got: Vec<i64> = source[partition].iter().map(|r| r.offset).collect();
        assert_eq!(got, want, "source {topic}/{partition}: offsets of the committed records");
        for (i, record) in source[partition].iter().enumerate() {
            assert_eq!(seq(record, *partition), Some(i as i64), "source {topic}/{partition}");
        }
        let end = txns.last().map_or(0, |t| t.marker + 1);
        assert_eq!(src.high_watermark(&topic, *partition), end, "source {topic}/{partition} end");
        offset_of_seq.insert(*partition, want);
    }

    // Groups committed at every kind of position the gaps create.
    let pick = |name: &str, f: &dyn Fn(&[Placed], i64) -> i64| -> Group {
        let commits = placed
            .iter()
            .map(|(q, txns)| {
                let end = txns.last().map_or(0, |t| t.marker + 1);
                (*q, f(txns, end))
            })
            .collect();
        Group::new(format!("{p}{name}"), commits)
    };
    let first_abort = |t: &[Placed]| *t.iter().find(|t| !t.commit).expect("an aborted transaction");
    let mut groups = vec![
        // At the marker of the first committed transaction (what a consumer that read it commits).
        pick("commit-marker", &|t, _| t.iter().find(|t| t.commit).expect("a commit").marker),
        // First record of an aborted range, inside it, at its abort marker.
        pick("abort-first", &|t, _| first_abort(t).start),
        pick("abort-inside", &|t, _| first_abort(t).start + first_abort(t).count / 2),
        pick("abort-marker", &|t, _| first_abort(t).marker),
        // Right after the last aborted range that is followed by a committed transaction.
        pick("after-abort", &|t, _| {
            t.windows(2).rfind(|w| !w[0].commit && w[1].commit).expect("abort then commit")[0].marker + 1
        }),
        // At the final marker, and at the end of the log (after it).
        pick("last-marker", &|_, end| end - 1),
        pick("end", &|_, end| end),
    ];
    for group in &mut groups {
        // Before the first committed record ferry has nothing to translate from; the group then has
        // no target offset and the failover consumer starts at the beginning, which is also exact.
        group.required = group.commits.iter().filter(|(q, c)| **c >= offset_of_seq[q][0]).map(|(q, _)| *q).collect();
        group.commit(&src, &topic);
    }

    let dir = tempfile::tempdir().expect("tempdir");
    let mut ferry = Ferry::start(&mm2_groups(&rig, &p).write(dir.path()), dir.path(), "edge-txn");
    let counts: BTreeMap<i32, i64> = offset_of_seq.iter().map(|(q, o)| (*q, o.len() as i64)).collect();
    wait_for_counts(&dst, &remote, &counts, &mut ferry);
    let latest = wait_synced(&dst, &mut ferry, "src.checkpoints.internal", &remote, partitions, &groups);
    eprintln!("[it] checkpoints: {latest:?}");
    ferry.stop(Duration::from_secs(10));

    let mut problems = Vec::new();
    for group in &groups {
        let expected = group
            .commits
            .iter()
            .map(|(q, c)| (*q, (0..counts[q]).filter(|s| offset_of_seq[q][*s as usize] >= *c).collect()))
            .collect();
        problems.extend(check_failover(&dst, group, &remote, partitions, &expected));
    }
    assert!(
        problems.is_empty(),
        "failover not exact over transaction gaps (layouts {layouts:?}):\n{}\n{}",
        problems.join("\n"),
        ferry.stderr_tail(30)
    );
}

// ---------------------------------------------------------------------------------------------------
// 3. Compacted source topic
// ---------------------------------------------------------------------------------------------------

#[test]
fn exact_failover_on_a_compacted_topic() {
    let rig = Rig::get();
    let (src, dst) = (rig.source(), rig.target());
    let p = prefix();
    let topic = format!("{p}compact");
    let remote = format!("src.{topic}");
    let partitions = 2;
    let mut configs = vec![
        ("cleanup.policy", "compact"),
        ("segment.ms", "100"),
        ("min.cleanable.dirty.ratio", "0.01"),
        ("min.compaction.lag.ms", "0"),
        ("segment.bytes", "16384"),
    ];
    if let Err(e) = src.try_create_topic(&topic, partitions, 1, &configs) {
        // Kafka 4 refuses segment.bytes below 1 MiB; time-based rolling is enough.
        eprintln!("[it] creating {topic} with a small segment.bytes failed ({e}); without it");
        configs.pop();
        src.create_topic(&topic, partitions, &configs);
    } else {
        wait_until(WAIT, "compacted topic metadata", || src.partitions(&topic) == Some(partitions));
    }
    // seq == source offset. Offsets 1, 4, 7... have unique keys and survive; the others share 4 keys,
    // so compaction removes all but the last of each: gaps of two offsets between survivors.
    let key = |s: i64| if s % 3 == 1 { format!("u{s}") } else { format!("k{}", s % 4) };
    let record = |q: i32, s: i64| {
        Rec::new(Some(key(s).as_bytes()), Some(format!("p{q}-{s}").as_bytes()), &[], now_ms() - 60_000 + s)
    };
    let rounds = 8;
    let per_round = 8;
    let mut next = 0;
    for _ in 0..rounds {
        for q in 0..partitions {
            src.produce(&topic, q, &(next..next + per_round).map(|s| record(q, s)).collect::<Vec<_>>());
        }
        next += per_round;
        std::thread::sleep(Duration::from_millis(250)); // rolls a segment at the next append
    }
    // One more record per partition closes the last full segment.
    for q in 0..partitions {
        src.produce(&topic, q, &[record(q, next)]);
    }
    let total = next + 1;

    // Wait for the log cleaner (log.cleaner.backoff.ms is 15 s by default).
    let compacted =
        |src: &Cluster| -> bool { src.read_topic(&topic).values().all(|records| (records.len() as i64) < total) };
    let started = Instant::now();
    let mut is_compacted = false;
    while started.elapsed() < Duration::from_secs(40) {
        if compacted(&src) {
            is_compacted = true;
            break;
        }
        std::thread::sleep(Duration::from_secs(2));
    }
    let before = src.read_topic(&topic);
    if is_compacted {
        eprintln!(
            "[it] compaction after {:?}: survivors {:?}",
            started.elapsed(),
            before
                .iter()
                .map(|(q, r)| (*q, ranges_of(&r.iter().map(|r| r.offset).collect::<Vec<_>>())))
                .collect::<Vec<_>>()
        );
    } else {
        eprintln!(
            "[it] NOTICE: the log cleaner did not compact {topic} within 40 s; the test runs on the uncompacted \
             (contiguous) topic"
        );
    }
    for (q, records) in &before {
        for r in records {
            assert_eq!(seq(r, *q), Some(r.offset), "source {topic}/{q}: value and offset");
        }
    }

    // Groups at a compacted-away offset between survivors, at a surviving record, at 0 (compacted
    // away, before the first survivor), at the end.
    let offsets = |q: i32| -> Vec<i64> { before[&q].iter().map(|r| r.offset).collect() };
    let gap_in_middle = |q: i32| -> i64 {
        let o = offsets(q);
        let mid = o.len() / 2;
        o.windows(2).skip(mid.saturating_sub(1)).find(|w| w[1] > w[0] + 1).map_or(o[mid], |w| w[0] + 1)
    };
    let survivor = |q: i32| -> i64 {
        let o = offsets(q);
        o[o.len() * 2 / 3]
    };
    let make = |name: &str, f: &dyn Fn(i32) -> i64| {
        Group::new(format!("{p}{name}"), (0..partitions).map(|q| (q, f(q))).collect())
    };
    let mut groups =
        vec![make("gap", &gap_in_middle), make("record", &survivor), make("zero", &|_| 0), make("end", &|_| total)];
    for group in &mut groups {
        group.required = group.commits.iter().filter(|(q, c)| **c >= offsets(**q)[0]).map(|(q, _)| *q).collect();
        group.commit(&src, &topic);
    }

    // The remote topic gets cleanup.policy=compact but not the fast-cleaning settings, so the target
    // keeps what ferry wrote for the length of the test.
    let dir = tempfile::tempdir().expect("tempdir");
    let mut mm2 = mm2_groups(&rig, &p);
    mm2.set(
        "config.properties.exclude",
        &format!(
            "{}, segment\\.ms, segment\\.bytes, min\\.cleanable\\.dirty\\.ratio, min\\.compaction\\.lag\\.ms",
            ConfigPropertyFilter::DEFAULT_EXCLUDE
        ),
    );
    let mut ferry = Ferry::start(&mm2.write(dir.path()), dir.path(), "edge-compact");
    // Everything copied: the last record (never compacted away) is on the target.
    let mut copied = BTreeMap::new();
    wait_until(WAIT, "the last record of every partition copied", || {
        ferry.assert_running();
        copied = match dst.partitions(&remote) {
            Some(_) => dst.read_topic(&remote),
            None => BTreeMap::new(),
        };
        (0..partitions).all(|q| copied.get(&q).and_then(|r| r.last()).and_then(|r| seq(r, q)) == Some(total - 1))
    });
    let latest = wait_synced(&dst, &mut ferry, "src.checkpoints.internal", &remote, partitions, &groups);
    eprintln!("[it] checkpoints: {latest:?}");
    ferry.stop(Duration::from_secs(10));

    // The target holds, in order and once, a superset of what the source holds now (the cleaner may
    // have removed more since ferry read it).
    let copied = dst.read_topic(&remote);
    let after = src.read_topic(&topic);
    let mut target_seqs: BTreeMap<i32, Vec<i64>> = BTreeMap::new();
    for q in 0..partitions {
        let seqs: Vec<i64> = copied[&q].iter().map(|r| seq(r, q).expect("numbered record")).collect();
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "target {remote}/{q} not in order or duplicated: {seqs:?}");
        let have: BTreeSet<i64> = seqs.iter().copied().collect();
        let lost: Vec<i64> = after[&q].iter().map(|r| r.offset).filter(|o| !have.contains(o)).collect();
        assert!(lost.is_empty(), "source records {lost:?} of {topic}/{q} are not on the target");
        target_seqs.insert(q, seqs);
    }
    eprintln!("[it] target: {:?}", target_seqs.iter().map(|(q, s)| (*q, ranges_of(s))).collect::<Vec<_>>());

    let mut problems = Vec::new();
    for group in &groups {
        let expected = group
            .commits
            .iter()
            .map(|(q, c)| (*q, target_seqs[q].iter().copied().filter(|s| s >= c).collect()))
            .collect();
        problems.extend(check_failover(&dst, group, &remote, partitions, &expected));
    }
    assert!(
        problems.is_empty(),
        "failover not exact on a compacted topic (compacted: {is_compacted}):\n{}\n{}",
        problems.join("\n"),
        ferry.stderr_tail(30)
    );
}

// ---------------------------------------------------------------------------------------------------
// 4. Across a kill -9 of ferry
// ---------------------------------------------------------------------------------------------------

/// What a failed-over group must read after a crash left duplicates on the target, where the target
/// partition holds the source records `0..k` (first run) then `r..total` (the restart resumed at the
/// stored progress `r - 1`, so `r..k` are on the target twice). With `c` the source group's committed
/// offset and `R` the sequence numbers the failover consumer reads:
///
/// 1. no record before `c`: every `s` in `R` has `s >= c`;
/// 2. no skip: every `s` in `c..total` is in `R`;
/// 3. re-reads only of the restart's duplicates: a sequence number appears at most twice in `R`,
///    and twice only if it was copied twice (`r <= s < k`).
///
/// (1) forces a group with `r <= c < k` into the restart's copies: starting at the first run's copy
/// of `c` would read the restart's copies of `r..c` again. Only a group with `c < r` may re-read
/// `r..k`.
fn check_after_crash(group: &Group, partition: i32, read: &[Rec], total: i64, r: i64, k: i64) -> Option<String> {
    let c = group.commits[&partition];
    let seqs: Vec<Option<i64>> = read.iter().map(|x| seq(x, partition)).collect();
    let mut problems = Vec::new();
    let before: Vec<Option<i64>> = seqs.iter().copied().filter(|s| s.is_none_or(|s| s < c)).collect();
    if !before.is_empty() {
        problems.push(format!("{} records before the committed offset {}", before.len(), ranges(&before)));
    }
    let got: BTreeSet<i64> = seqs.iter().flatten().copied().collect();
    let skipped: Vec<i64> = (c..total).filter(|s| !got.contains(s)).collect();
    if !skipped.is_empty() {
        problems.push(format!("{} skipped {}", skipped.len(), ranges_of(&skipped)));
    }
    let mut counts: BTreeMap<i64, usize> = BTreeMap::new();
    for s in seqs.iter().flatten() {
        *counts.entry(*s).or_default() += 1;
    }
    let bad_dups: Vec<i64> =
        counts.iter().filter(|(s, n)| **n > 2 || (**n == 2 && !(r..k).contains(*s))).map(|(s, _)| *s).collect();
    if !bad_dups.is_empty() {
        problems.push(format!("re-read records that were not duplicated by the restart: {}", ranges_of(&bad_dups)));
    }
    let dups = counts.values().filter(|n| **n > 1).count();
    eprintln!(
        "[it] {} partition {partition}: committed {c}, read {} records ({dups} duplicates of the restart)",
        group.name,
        seqs.len()
    );
    (!problems.is_empty()).then(|| {
        format!(
            "{} partition {partition}: committed {c}, target holds 0..{k} then {r}..{total}; read {}: {}",
            group.name,
            ranges(&seqs),
            problems.join("; ")
        )
    })
}

#[test]
fn failover_after_kill_9_and_duplicates_never_skips_nor_reads_before_the_commit() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let rig = Rig::get();
    let (src, dst) = (rig.source(), rig.target());
    let p = prefix();
    let topic = format!("{p}crash");
    let remote = format!("src.{topic}");
    let partitions = 3;
    src.create_topic(&topic, partitions, &[]);
    let backlog = 1500;
    {
        let producer = src.producer();
        let ts = now_ms();
        for q in 0..partitions {
            for s in 0..backlog {
                producer.send(&topic, q, &numbered(q, s, ts));
            }
        }
        producer.flush();
    }
    let early = Group::new(format!("{p}early"), (0..partitions).map(|q| (q, 100 + i64::from(q))).collect());
    early.commit(&src, &topic);

    let stop = Arc::new(AtomicBool::new(false));
    let start: BTreeMap<i32, i64> = (0..partitions).map(|q| (q, backlog)).collect();
    let stream =
        produce_continuously(src.clone(), topic.clone(), start, 10, Duration::from_millis(100), Arc::clone(&stop));

    let dir = tempfile::tempdir().expect("tempdir");
    let mut mm2 = mm2_groups(&rig, &p);
    mm2.set("offset.flush.interval.ms", "8000");
    let config = mm2.write(dir.path());
    let mut first = Ferry::start(&config, dir.path(), "edge-crash-1");
    // The early group is checkpointed and synced before the crash.
    wait_synced(&dst, &mut first, "src.checkpoints.internal", &remote, partitions, std::slice::from_ref(&early));
    let mut stored = BTreeMap::new();
    wait_until(WAIT, "progress stored for every partition", || {
        first.assert_running();
        stored = dst.read_progress(&p);
        stored.len() == partitions as usize
    });
    // Right after a fresh progress store, a group commits at the last record copied so far: its
    // checkpoint is emitted and synced, and the crash comes before the next store, so the restart
    // copies that record again.
    wait_until(WAIT, "a new progress store", || {
        first.assert_running();
        dst.read_progress(&p) != stored
    });
    let late = Group::new(
        format!("{p}late"),
        (0..partitions).map(|q| (q, (dst.high_watermark(&remote, q) - 1).max(0))).collect(),
    );
    late.commit(&src, &topic);
    let since_store = Instant::now();
    wait_synced_then(
        &dst,
        &mut first,
        "src.checkpoints.internal",
        &remote,
        partitions,
        std::slice::from_ref(&late),
        Duration::ZERO,
    );
    eprintln!("[it] late group {:?} synced {:?} after the progress store", late.commits, since_store.elapsed());
    first.kill9();
    std::thread::sleep(Duration::from_secs(1));
    let at_kill = dst.read_progress(&p);
    stop.store(true, Ordering::Relaxed);
    let totals = stream.join().expect("producer thread");
    source_sanity(&src, &topic, &totals);
    eprintln!("[it] SIGKILL; stored progress {at_kill:?}; source totals {totals:?}");

    let mut second = Ferry::start(&config, dir.path(), "edge-crash-2");
    let mut copied = BTreeMap::new();
    wait_until(WAIT, "the last record of every partition copied after the restart", || {
        second.assert_running();
        copied = dst.read_topic(&remote);
        totals.iter().all(|(q, total)| copied[q].last().and_then(|r| seq(r, *q)) == Some(total - 1))
    });

    // The target: 0..k from the first run, then r..total from the restart.
    let mut shape: BTreeMap<i32, (i64, i64)> = BTreeMap::new();
    for q in 0..partitions {
        let seqs: Vec<i64> = copied[&q].iter().map(|r| seq(r, q).expect("numbered record")).collect();
        let k = seqs.iter().enumerate().take_while(|(i, s)| **s == *i as i64).count() as i64;
        let r = at_kill.get(&(topic.clone(), q)).map_or(0, |o| o + 1);
        let want: Vec<i64> = (0..k).chain(r..totals[&q]).collect();
        assert!(
            r <= k && seqs == want,
            "{remote}/{q}: expected 0..{k} then {r}..{} on the target, found {}",
            totals[&q],
            ranges_of(&seqs)
        );
        if k == r {
            eprintln!("[it] NOTICE: partition {q} has no duplicates (the kill fell right after a progress store)");
        }
        eprintln!("[it] partition {q}: first run copied 0..{k}, restart resumed at {r}: {} duplicates", k - r);
        shape.insert(q, (r, k));
    }

    // Groups committed after the restart, around the duplicated range.
    let make = |name: &str, f: &dyn Fn(i32, i64, i64, i64) -> i64| {
        Group::new(
            format!("{p}{name}"),
            (0..partitions).map(|q| (q, f(q, shape[&q].0, shape[&q].1, totals[&q]))).collect(),
        )
    };
    let later = vec![
        make("mid", &|_, r, _, _| r / 2),
        make("last-stored", &|_, r, _, _| r - 1),
        make("dup", &|_, r, k, _| (r + k) / 2),
        make("first-only-restart", &|_, _, k, _| k),
        make("end", &|_, _, _, t| t),
    ];
    for group in &later {
        group.commit(&src, &topic);
    }
    for q in 0..partitions {
        let (c, (r, k)) = (late.commits[&q], shape[&q]);
        if !(r..k).contains(&c) {
            eprintln!("[it] NOTICE: partition {q}: the late group ({c}) is not in the duplicated range {r}..{k}");
        }
    }
    let mut groups = vec![early, late];
    groups.extend(later);
    // Progress is stored every 8 s and the translation index learns copies at those ticks: allow
    // a tick and a few checkpoint passes for the late group's checkpoint to move into the restart's
    // copies before calling the state settled.
    let latest = wait_synced_then(
        &dst,
        &mut second,
        "src.checkpoints.internal",
        &remote,
        partitions,
        &groups,
        Duration::from_secs(12),
    );
    eprintln!("[it] checkpoints: {latest:?}");
    second.stop(Duration::from_secs(10));

    let mut problems = Vec::new();
    for group in &groups {
        let read = failover_read(&dst, &group.name, &remote, partitions);
        for q in 0..partitions {
            let (r, k) = shape[&q];
            problems.extend(check_after_crash(group, q, &read[&q], totals[&q], r, k));
        }
    }
    assert!(
        problems.is_empty(),
        "failover after kill -9:\n{}\n{}\n{}",
        problems.join("\n"),
        first.stderr_tail(15),
        second.stderr_tail(30)
    );
}

// ---------------------------------------------------------------------------------------------------
// 5. MM2's own scenarios (reference §6)
// ---------------------------------------------------------------------------------------------------

/// `testReplicationWithEmptyPartition` (KAFKA-10048): the group consumed everything, one partition
/// is empty. ferry, like MM2 since KAFKA-12635, checkpoints only partitions with offset syncs, so the
/// empty partition gets either no target offset or 0 — never anything a failed-over consumer could
/// skip from. Once records arrive there (the group still at 0), it is synced to exactly 0 and the
/// failed-over group reads exactly those records: no data gap.
#[test]
fn mm2_replication_with_empty_partition() {
    let rig = Rig::get();
    let (src, dst) = (rig.source(), rig.target());
    let p = prefix();
    let topic = format!("{p}sparse");
    let remote = format!("src.{topic}");
    let (partitions, n) = (3, 10);
    src.create_topic(&topic, partitions, &[]);
    for q in 0..partitions - 1 {
        src.produce(&topic, q, &(0..n).map(|i| numbered(q, i, now_ms())).collect::<Vec<_>>());
    }
    let mut group = Group::new(format!("{p}consumer-group"), BTreeMap::from([(0, n), (1, n), (2, 0)]));
    group.required = BTreeSet::from([0, 1]);
    group.commit(&src, &topic);

    let dir = tempfile::tempdir().expect("tempdir");
    let mut ferry = Ferry::start(&mm2_groups(&rig, &p).write(dir.path()), dir.path(), "edge-empty");
    wait_for_counts(&dst, &remote, &BTreeMap::from([(0, n), (1, n)]), &mut ferry);
    let latest =
        wait_synced(&dst, &mut ferry, "src.checkpoints.internal", &remote, partitions, std::slice::from_ref(&group));
    let empty = committed_all(&dst, &group.name, &remote, partitions)[&2];
    eprintln!("[it] checkpoints {latest:?}; target offset of the empty partition: {empty:?}");
    assert!(
        matches!(empty, None | Some(0)),
        "the empty partition's target offset must be absent or 0, is {empty:?}; checkpoints {latest:?}\n{}",
        ferry.stderr_tail(30)
    );

    // Records arrive in the empty partition; the group has not read them (still at 0).
    src.produce(&topic, 2, &(0..5).map(|i| numbered(2, i, now_ms())).collect::<Vec<_>>());
    wait_for_counts(&dst, &remote, &BTreeMap::from([(2, 5)]), &mut ferry);
    group.required = BTreeSet::from([0, 1, 2]);
    wait_synced(&dst, &mut ferry, "src.checkpoints.internal", &remote, partitions, std::slice::from_ref(&group));
    assert_eq!(
        committed_all(&dst, &group.name, &remote, partitions)[&2],
        Some(0),
        "offset of the once-empty partition"
    );
    ferry.stop(Duration::from_secs(10));
    let expected = BTreeMap::from([(0, vec![]), (1, vec![]), (2, (0..5).collect())]);
    let problems = check_failover(&dst, &group, &remote, partitions, &expected);
    assert!(problems.is_empty(), "failover with a once-empty partition:\n{}", problems.join("\n"));
}

/// `testNoCheckpointsIfNoRecordsAreMirrored`: a group committed on a topic nothing was mirrored from
/// gets no checkpoint there (while another topic's partitions are checkpointed); once records are
/// mirrored and the group commits again, it does.
#[test]
fn mm2_no_checkpoints_if_no_records_are_mirrored() {
    let rig = Rig::get();
    let (src, dst) = (rig.source(), rig.target());
    let p = prefix();
    let full = format!("{p}full");
    let empty = format!("{p}no-checkpoints");
    let (remote_full, remote_empty) = (format!("src.{full}"), format!("src.{empty}"));
    src.create_topic(&full, 2, &[]);
    src.create_topic(&empty, 1, &[]);
    for q in 0..2 {
        src.produce(&full, q, &(0..20).map(|i| numbered(q, i, now_ms())).collect::<Vec<_>>());
    }
    let group = format!("{p}consumer-group");
    src.commit_group_offsets(&group, &[(&full, 0, 20), (&full, 1, 20), (&empty, 0, 0)]);

    let dir = tempfile::tempdir().expect("tempdir");
    let mut ferry = Ferry::start(&mm2_groups(&rig, &p).write(dir.path()), dir.path(), "edge-no-checkpoints");
    wait_for_counts(&dst, &remote_full, &BTreeMap::from([(0, 20), (1, 20)]), &mut ferry);
    let full_group = Group::new(group.clone(), BTreeMap::from([(0, 20), (1, 20)]));
    wait_synced(&dst, &mut ferry, "src.checkpoints.internal", &remote_full, 2, std::slice::from_ref(&full_group));
    wait_until(WAIT, "the empty topic's remote topic exists", || dst.partitions(&remote_empty) == Some(1));
    // A few more checkpoint intervals: still nothing for the empty topic.
    std::thread::sleep(Duration::from_secs(3));
    let all = checkpoints(&dst, "src.checkpoints.internal", &group);
    let for_empty: Vec<&Checkpoint> = all.iter().filter(|c| c.topic == remote_empty).collect();
    assert!(for_empty.is_empty(), "checkpoints for a topic nothing was mirrored from: {for_empty:?}");
    assert_eq!(dst.committed(&group, &remote_empty, 0), None, "target group offset for the empty topic");

    src.produce(&empty, 0, &(0..10).map(|i| numbered(0, i, now_ms())).collect::<Vec<_>>());
    wait_for_counts(&dst, &remote_empty, &BTreeMap::from([(0, 10)]), &mut ferry);
    src.commit_group_offsets(&group, &[(&empty, 0, 10)]);
    let now_full = Group::new(group.clone(), BTreeMap::from([(0, 10)]));
    let latest =
        wait_synced(&dst, &mut ferry, "src.checkpoints.internal", &remote_empty, 1, std::slice::from_ref(&now_full));
    assert_eq!(latest.get(&(group.clone(), 0)), Some(&(10, 10)), "checkpoint of the now mirrored topic");
    ferry.stop(Duration::from_secs(10));
}

/// `testOffsetSyncsTopicsOnTarget`: with `offset-syncs.topic.location = target` the syncs go to
/// `mm2-offset-syncs.src.internal` on the target (none for this flow's topics on the source), and
/// checkpoints and failover stay exact.
#[test]
fn mm2_offset_syncs_topic_on_target() {
    let rig = Rig::get();
    let (src, dst) = (rig.source(), rig.target());
    let p = prefix();
    let topic = format!("{p}synced-on-target");
    let remote = format!("src.{topic}");
    let (partitions, n) = (2, 30);
    src.create_topic(&topic, partitions, &[]);
    dst.create_topic(&remote, partitions, &[]);
    dst.produce(&remote, 0, &(0..3).map(|i| numbered(0, 9000 + i, now_ms())).collect::<Vec<_>>());
    for q in 0..partitions {
        src.produce(&topic, q, &(0..n).map(|i| numbered(q, i, now_ms())).collect::<Vec<_>>());
    }
    let group = Group::new(format!("{p}consumer-group"), BTreeMap::from([(0, 11), (1, 29)]));
    group.commit(&src, &topic);

    let dir = tempfile::tempdir().expect("tempdir");
    let mut mm2 = mm2_groups(&rig, &p);
    mm2.set("src->dst.offset-syncs.topic.location", "target");
    let mut ferry = Ferry::start(&mm2.write(dir.path()), dir.path(), "edge-syncs-on-target");
    wait_for_counts(&dst, &remote, &BTreeMap::from([(0, n + 3), (1, n)]), &mut ferry);
    let latest =
        wait_synced(&dst, &mut ferry, "src.checkpoints.internal", &remote, partitions, std::slice::from_ref(&group));
    assert_eq!(latest.get(&(group.name.clone(), 0)), Some(&(11, 14)), "checkpoint of partition 0: {latest:?}");
    assert_eq!(latest.get(&(group.name.clone(), 1)), Some(&(29, 29)), "checkpoint of partition 1: {latest:?}");

    let on_target: Vec<OffsetSync> = dst
        .read_raw("mm2-offset-syncs.src.internal")
        .iter()
        .filter_map(|(k, v)| OffsetSync::decode(k, v).ok())
        .filter(|s| s.topic == topic)
        .collect();
    assert!(
        on_target.iter().any(|s| s.partition == 0 && s.upstream_offset == 0 && s.downstream_offset == 3),
        "first-record sync of partition 0 in mm2-offset-syncs.src.internal on dst: {on_target:?}"
    );
    let on_source: Vec<OffsetSync> = src
        .read_raw("mm2-offset-syncs.dst.internal")
        .iter()
        .filter_map(|(k, v)| OffsetSync::decode(k, v).ok())
        .filter(|s| s.topic == topic)
        .collect();
    assert!(on_source.is_empty(), "offset syncs of {topic} on the source despite location=target: {on_source:?}");
    let all = checkpoints(&dst, "src.checkpoints.internal", &group.name);
    for q in 0..partitions {
        assert_monotonic(&all, &group.name, &remote, q, "syncs on target");
    }

    // `ferry translate` reads the syncs from the target too.
    let config = dir.path().join("mm2.properties");
    let (code, stdout, stderr) = ferry_output(&[
        "translate",
        config.to_str().expect("utf-8 path"),
        "--group",
        &group.name,
        "--from",
        "src",
        "--to",
        "dst",
        "--json",
    ]);
    assert_eq!(code, Some(0), "ferry translate: {stdout}\n{stderr}");
    let answer: serde_json::Value = serde_json::from_str(stdout.trim()).expect("JSON output");
    let row0 = answer["partitions"].as_array().and_then(|rows| rows.iter().find(|r| r["partition"] == 0).cloned());
    assert_eq!(row0.as_ref().map(|r| r["target_offset"].clone()), Some(serde_json::json!(14)), "{answer}");
    ferry.stop(Duration::from_secs(10));

    let expected = BTreeMap::from([(0, (11..n).collect()), (1, (29..n).collect())]);
    let problems = check_failover(&dst, &group, &remote, partitions, &expected);
    assert!(problems.is_empty(), "failover with syncs on the target:\n{}", problems.join("\n"));
}

/// Target offset of the record with sequence number `s` (the first at or after it) in `records`.
fn target_offset_of(records: &[Rec], partition: i32, s: i64) -> i64 {
    records
        .iter()
        .find(|r| seq(r, partition).is_some_and(|x| x >= s && x < 9000))
        .map_or_else(|| records.last().map_or(0, |r| r.offset + 1), |r| r.offset)
}

/// `testOffsetTranslationBehindReplicationFlow`: after a first checkpoint, many more records are
/// replicated; the group commits at 90% (checkpoints strictly greater, exact), then rewinds to 10%
/// (checkpoints strictly smaller, exact: rewinds are propagated to checkpoints).
#[test]
fn mm2_offset_translation_behind_replication_flow() {
    let rig = Rig::get();
    let (src, dst) = (rig.source(), rig.target());
    let p = prefix();
    let topic = format!("{p}behind");
    let remote = format!("src.{topic}");
    let partitions = 2;
    src.create_topic(&topic, partitions, &[]);
    dst.create_topic(&remote, partitions, &[]);
    dst.produce(&remote, 0, &(0..7).map(|i| numbered(0, 9000 + i, now_ms())).collect::<Vec<_>>());
    let first = 10;
    let total = 1000;
    for q in 0..partitions {
        src.produce(&topic, q, &(0..first).map(|i| numbered(q, i, now_ms())).collect::<Vec<_>>());
    }
    let name = format!("{p}consumer-group");
    let at = |offsets: [i64; 2]| Group::new(name.clone(), (0..partitions).zip(offsets).collect());
    at([first, first]).commit(&src, &topic);

    let dir = tempfile::tempdir().expect("tempdir");
    let mut ferry = Ferry::start(&mm2_groups(&rig, &p).write(dir.path()), dir.path(), "edge-behind");
    let initial = wait_synced(&dst, &mut ferry, "src.checkpoints.internal", &remote, partitions, &[at([first, first])]);

    {
        let producer = src.producer();
        for q in 0..partitions {
            for i in first..total {
                producer.send(&topic, q, &numbered(q, i, now_ms()));
            }
        }
        producer.flush();
    }
    wait_for_counts(&dst, &remote, &BTreeMap::from([(0, total + 7), (1, total)]), &mut ferry);
    let copied = dst.read_topic(&remote);
    let exact = |q: i32, s: i64| target_offset_of(&copied[&q], q, s);

    let ninety = at([total * 9 / 10, total * 9 / 10 + 3]);
    ninety.commit(&src, &topic);
    let high =
        wait_synced(&dst, &mut ferry, "src.checkpoints.internal", &remote, partitions, std::slice::from_ref(&ninety));
    let ten = at([total / 10, total / 10 - 3]);
    ten.commit(&src, &topic);
    // The target group is not rewound (it may have consumers past it), so wait for checkpoints only.
    let mut low = BTreeMap::new();
    wait_until(WAIT, "checkpoints of the rewind", || {
        ferry.assert_running();
        low = latest_checkpoints(&checkpoints(&dst, "src.checkpoints.internal", &name), &remote);
        (0..partitions).all(|q| low.get(&(name.clone(), q)).map(|c| c.0) == Some(ten.commits[&q]))
    });
    let target_group = committed_all(&dst, &name, &remote, partitions);
    ferry.stop(Duration::from_secs(10));

    let all = checkpoints(&dst, "src.checkpoints.internal", &name);
    for q in 0..partitions {
        let id = (name.clone(), q);
        let (i, h, l) = (initial[&id], high[&id], low[&id]);
        assert_eq!(i, (first, exact(q, first)), "initial checkpoint of partition {q}");
        assert_eq!(h, (ninety.commits[&q], exact(q, ninety.commits[&q])), "90% checkpoint of partition {q}");
        assert_eq!(l, (ten.commits[&q], exact(q, ten.commits[&q])), "10% checkpoint of partition {q}");
        assert!(h.0 > i.0 && h.1 > i.1, "partition {q}: 90% checkpoint {h:?} not above the first {i:?}");
        assert!(l.0 < h.0 && l.1 < h.1, "partition {q}: 10% checkpoint {l:?} not below the 90% one {h:?}");
        assert_monotonic(&all, &name, &remote, q, "behind the replication flow");
        assert_eq!(target_group[&q], Some(h.1), "partition {q}: the target group must not be rewound");
    }
}

/// `testRestartReplication`: checkpoints stay monotonic and exact across a graceful restart and a
/// kill -9, while the group keeps committing; at the end the failed-over group reads exactly the rest.
#[test]
fn mm2_checkpoints_monotonic_across_restarts() {
    let rig = Rig::get();
    let (src, dst) = (rig.source(), rig.target());
    let p = prefix();
    let topic = format!("{p}restart");
    let remote = format!("src.{topic}");
    let partitions = 2;
    src.create_topic(&topic, partitions, &[]);
    let produce_to = |end: i64| produce_numbered_to(&src, &topic, partitions, end);
    produce_to(30);
    let name = format!("{p}consumer-group");
    let at = |offsets: [i64; 2]| Group::new(name.clone(), (0..partitions).zip(offsets).collect());
    at([10, 20]).commit(&src, &topic);

    let dir = tempfile::tempdir().expect("tempdir");
    let config = mm2_groups(&rig, &p).write(dir.path());
    let mut ferry = Ferry::start(&config, dir.path(), "edge-restart-1");
    wait_synced(&dst, &mut ferry, "src.checkpoints.internal", &remote, partitions, &[at([10, 20])]);
    ferry.stop(Duration::from_secs(10));

    let mut ferry = Ferry::start(&config, dir.path(), "edge-restart-2");
    std::thread::sleep(Duration::from_secs(4));
    ferry.assert_running();
    produce_to(60);
    wait_for_counts(&dst, &remote, &BTreeMap::from([(0, 60), (1, 60)]), &mut ferry);
    at([45, 60]).commit(&src, &topic);
    wait_synced(&dst, &mut ferry, "src.checkpoints.internal", &remote, partitions, &[at([45, 60])]);
    ferry.kill9();

    let mut ferry = Ferry::start(&config, dir.path(), "edge-restart-3");
    std::thread::sleep(Duration::from_secs(4));
    ferry.assert_running();
    produce_to(70);
    wait_for_counts(&dst, &remote, &BTreeMap::from([(0, 70), (1, 70)]), &mut ferry);
    let last = at([65, 61]);
    last.commit(&src, &topic);
    let latest =
        wait_synced(&dst, &mut ferry, "src.checkpoints.internal", &remote, partitions, std::slice::from_ref(&last));
    ferry.stop(Duration::from_secs(10));

    let all = checkpoints(&dst, "src.checkpoints.internal", &name);
    for q in 0..partitions {
        let h = history(&all, &name, &remote, q);
        eprintln!("[it] partition {q}: checkpoints {h:?}");
        assert_monotonic(&all, &name, &remote, q, "across restarts");
        // Source and target offsets coincide here. A checkpoint may be conservative for a while (the
        // index learns copies at progress ticks: one past the last known copy), never past the record.
        assert!(h.iter().all(|(up, down)| down <= up), "partition {q}: a checkpoint would skip records: {h:?}");
        if h.iter().any(|(up, down)| down < up) {
            eprintln!("[it] NOTICE: partition {q}: conservative (inexact) checkpoints were emitted: {h:?}");
        }
        assert_eq!(latest[&(name.clone(), q)], (last.commits[&q], last.commits[&q]), "partition {q}");
    }
    let expected = BTreeMap::from([(0, (65..70).collect()), (1, (61..70).collect())]);
    let problems = check_failover(&dst, &last, &remote, partitions, &expected);
    assert!(problems.is_empty(), "failover after restarts:\n{}", problems.join("\n"));
}

// ---------------------------------------------------------------------------------------------------
// 6. Malformed records in internal topics
// ---------------------------------------------------------------------------------------------------

/// mm2.properties for a private-alias flow with checkpoints and group sync every second.
fn private_flow(rig: &Rig, a: &str, b: &str, p: &str, dir: &Path) -> PathBuf {
    let mut mm2 = rig.private_mm2(a, b, &format!("{p}.*"));
    mm2.set("groups", &format!("{p}.*"))
        .set("emit.checkpoints.interval.seconds", "1")
        .set("sync.group.offsets.enabled", "true")
        .set("sync.group.offsets.interval.seconds", "1");
    mm2.write(dir)
}

/// A big-endian Kafka STRING.
fn kstring(s: &str) -> Vec<u8> {
    let mut out = (s.len() as i16).to_be_bytes().to_vec();
    out.extend_from_slice(s.as_bytes());
    out
}

/// Garbage for a Checkpoint or OffsetSync topic: random bytes, truncated values, negative and
/// overlong string lengths, null and empty values, an unknown version (no null keys: compacted
/// topics refuse them). `real` is a key of
/// the test's own data whose value is made undecodable.
fn binary_garbage(noise: &mut Noise, marker: &str, real_key: &[u8]) -> Vec<Rec> {
    let mut unique_random = marker.as_bytes().to_vec();
    unique_random.extend(noise.bytes(24));
    let mut negative = vec![0xFF, 0xF0];
    negative.extend_from_slice(marker.as_bytes());
    let mut overlong = 20_000_i16.to_be_bytes().to_vec();
    overlong.extend_from_slice(marker.as_bytes());
    let mut valid_key = kstring(&format!("{marker}group"));
    valid_key.extend(kstring(&format!("{marker}topic")));
    valid_key.extend(0_i32.to_be_bytes());
    let mut unknown_version = 7_i16.to_be_bytes().to_vec();
    unknown_version.extend(5_i64.to_be_bytes());
    unknown_version.extend(5_i64.to_be_bytes());
    unknown_version.extend(kstring(""));
    let ts = now_ms();
    let rec = |k: Option<&[u8]>, v: Option<&[u8]>| Rec::new(k, v, &[], ts);
    vec![
        rec(Some(&unique_random), Some(&noise.bytes(37))),
        rec(Some(&valid_key), Some(&[0, 0, 0, 0, 0])),
        rec(Some(&negative), Some(&noise.bytes(30))),
        rec(Some(&overlong), Some(&noise.bytes(16))),
        rec(Some(&valid_key), Some(&unknown_version)),
        rec(Some(&valid_key), None),
        rec(Some(&valid_key), Some(b"".as_slice())),
        rec(Some(real_key), Some(&noise.bytes(7))),
        rec(Some(&unique_random), Some(&noise.bytes(3))),
    ]
}

/// Garbage for a Connect offsets topic (JSON): random bytes, wrong types, truncated JSON.
fn json_garbage(noise: &mut Noise, a: &str, marker: &str) -> Vec<Rec> {
    let key = |partition: &str| {
        format!("[\"MirrorSourceConnector\",{{\"cluster\":\"{a}\",\"partition\":{partition},\"topic\":\"{marker}t\"}}]")
    };
    let mut random = marker.as_bytes().to_vec();
    random.extend(noise.bytes(20));
    let ts = now_ms();
    let rec = |k: Option<&[u8]>, v: Option<&[u8]>| Rec::new(k, v, &[], ts);
    vec![
        rec(Some(&random), Some(&noise.bytes(12))),
        rec(Some(key("\"zero\"").as_bytes()), Some(b"{\"offset\":1}")),
        rec(Some(key("0").as_bytes()), Some(b"{\"offset\":\"abc\"}")),
        rec(Some(key("1").as_bytes()), Some(b"{\"offset\":")),
        rec(Some(key("2").as_bytes()), Some(b"\xff\x00not json")),
        rec(Some(key("3").as_bytes()), Some(b"[1,2]")),
        rec(Some(&key("4").as_bytes()[..30]), Some(b"{\"offset\":4}")),
        rec(Some(format!("{{\"{marker}\":1}}").as_bytes()), None),
        rec(Some(format!("[\"{marker}\"]").as_bytes()), Some(b"{}")),
    ]
}

/// Writes `records` one by one to random partitions of `topic`.
fn produce_scattered(cluster: &Cluster, topic: &str, records: &[Rec], noise: &mut Noise) {
    let n = cluster.partitions(topic).unwrap_or_else(|| panic!("{topic} on {}", cluster.alias));
    for record in records {
        let partition = (noise.next() % n as u64) as i32;
        cluster.produce(topic, partition, std::slice::from_ref(record));
    }
}

#[test]
fn malformed_records_in_internal_topics_are_skipped_with_a_warning() {
    let rig = Rig::get();
    let (src, dst) = (rig.source(), rig.target());
    let p = prefix();
    let id = random_id(5);
    let (a, b) = (format!("xs{id}"), format!("xd{id}"));
    let topic = format!("{p}t");
    let remote = format!("{a}.{topic}");
    let (syncs_topic, checkpoints_topic, offsets_topic) = (
        format!("mm2-offset-syncs.{b}.internal"),
        format!("{a}.checkpoints.internal"),
        format!("mm2-offsets.{a}.internal"),
    );
    let partitions = 2;
    src.create_topic(&topic, partitions, &[]);
    let produce_to = |end: i64| produce_numbered_to(&src, &topic, partitions, end);
    produce_to(20);
    let name = format!("{p}consumer-group");
    let at = |offsets: [i64; 2]| Group::new(name.clone(), (0..partitions).zip(offsets).collect());
    at([5, 10]).commit(&src, &topic);

    // A first run creates the internal topics and fills them with real data.
    let dir = tempfile::tempdir().expect("tempdir");
    let config = private_flow(&rig, &a, &b, &p, dir.path());
    let mut ferry = Ferry::start(&config, dir.path(), "edge-garbage-1");
    wait_for_counts(&dst, &remote, &BTreeMap::from([(0, 20), (1, 20)]), &mut ferry);
    wait_synced(&dst, &mut ferry, &checkpoints_topic, &remote, partitions, &[at([5, 10])]);
    ferry.stop(Duration::from_secs(10));
    assert!(src.partitions(&syncs_topic).is_some(), "{syncs_topic} on src");
    assert!(dst.partitions(&offsets_topic).is_some(), "{offsets_topic} on dst");

    // Garbage after the real records.
    let mut noise = Noise::new();
    let marker = format!("{p}garbage-");
    let mut real_sync_key = kstring(&topic);
    real_sync_key.extend(0_i32.to_be_bytes());
    let mut real_checkpoint_key = kstring(&name);
    real_checkpoint_key.extend(kstring(&remote));
    real_checkpoint_key.extend(0_i32.to_be_bytes());
    let mut sync_garbage = binary_garbage(&mut noise, &marker, &real_sync_key);
    // Well-formed syncs with negative offsets, for the real partition 1.
    let mut negative = (-5_i64).to_be_bytes().to_vec();
    negative.extend((-3_i64).to_be_bytes());
    let mut real_sync_key_1 = kstring(&topic);
    real_sync_key_1.extend(1_i32.to_be_bytes());
    sync_garbage.push(Rec::new(Some(&real_sync_key_1), Some(&negative), &[], now_ms()));
    src.produce(&syncs_topic, 0, &sync_garbage);
    let journal_topic = format!("ferry-offset-index.{b}.internal");
    assert!(src.partitions(&journal_topic).is_some(), "{journal_topic} on src");
    let real_journal_key = JournalRecord { topic: topic.clone(), partition: 0, slot: JournalSlot::Tail, value: None }
        .encode_key()
        .expect("short topic");
    src.produce(&journal_topic, 0, &binary_garbage(&mut noise, &marker, &real_journal_key));
    dst.produce(&checkpoints_topic, 0, &binary_garbage(&mut noise, &marker, &real_checkpoint_key));
    produce_scattered(&dst, &offsets_topic, &json_garbage(&mut noise, &a, &marker), &mut noise);

    // ferry starts on top of it, resumes exactly (nothing copied twice) and keeps checkpointing.
    produce_to(40);
    let mut ferry = Ferry::start(&config, dir.path(), "edge-garbage-2");
    wait_for_counts(&dst, &remote, &BTreeMap::from([(0, 40), (1, 40)]), &mut ferry);
    at([30, 35]).commit(&src, &topic);
    wait_synced(&dst, &mut ferry, &checkpoints_topic, &remote, partitions, &[at([30, 35])]);
    let log = ferry.stderr();
    for (what, needle) in [
        ("checkpoints", "malformed checkpoint"),
        ("offset syncs", "malformed offset sync"),
        ("offset-index journal", "malformed offset-index record"),
        ("progress", "malformed progress"),
    ] {
        assert!(
            log.lines().any(|l| l.contains("WARN") && l.contains(needle)),
            "no warning about malformed {what} records (`{needle}`)\n{}",
            ferry.stderr_tail(40)
        );
    }
    assert!(!log.contains("panicked"), "ferry panicked:\n{}", ferry.stderr_tail(40));

    // `ferry translate` reads the same syncs.
    let (code, stdout, stderr) = ferry_output(&[
        "translate",
        config.to_str().expect("utf-8 path"),
        "--group",
        &name,
        "--from",
        &a,
        "--to",
        &b,
        "--json",
    ]);
    assert_eq!(code, Some(0), "ferry translate over garbage syncs: {stdout}\n{stderr}");
    let answer: serde_json::Value = serde_json::from_str(stdout.trim()).expect("JSON output");
    for (q, want) in [(0, 30), (1, 35)] {
        let row = answer["partitions"].as_array().and_then(|rows| rows.iter().find(|r| r["partition"] == q).cloned());
        assert_eq!(
            row.map(|r| (r["target_offset"].clone(), r["exact"].clone())),
            Some((want.into(), true.into())),
            "{answer}"
        );
    }

    // More garbage while it runs, then a kill -9 and a third start that must read all of it again.
    src.produce(&syncs_topic, 0, &binary_garbage(&mut noise, &marker, &real_sync_key));
    dst.produce(&checkpoints_topic, 0, &binary_garbage(&mut noise, &marker, &real_checkpoint_key));
    produce_scattered(&dst, &offsets_topic, &json_garbage(&mut noise, &a, &marker), &mut noise);
    std::thread::sleep(Duration::from_secs(2));
    ferry.assert_running();
    ferry.kill9();
    produce_to(50);
    let mut ferry = Ferry::start(&config, dir.path(), "edge-garbage-3");
    let mut copied = BTreeMap::new();
    wait_until(WAIT, "the last records copied by the third run", || {
        ferry.assert_running();
        copied = dst.read_topic(&remote);
        (0..partitions).all(|q| copied[&q].last().and_then(|r| seq(r, q)) == Some(49))
    });
    let last = at([43, 37]);
    last.commit(&src, &topic);
    wait_synced(&dst, &mut ferry, &checkpoints_topic, &remote, partitions, std::slice::from_ref(&last));
    ferry.stop(Duration::from_secs(10));

    // The second run copied nothing twice: up to 40 the target is exactly the source.
    for q in 0..partitions {
        let seqs: Vec<i64> = copied[&q].iter().map(|r| seq(r, q).expect("numbered")).collect();
        assert_eq!(&seqs[..40], &(0..40).collect::<Vec<_>>()[..], "{remote}/{q}: {}", ranges_of(&seqs));
    }
    let all = checkpoints(&dst, &checkpoints_topic, &name);
    for q in 0..partitions {
        assert_monotonic(&all, &name, &remote, q, "with garbage");
    }
    // The failover is exact if the kill -9 left no duplicates after the group's positions, and never
    // skips in any case.
    let read = failover_read(&dst, &name, &remote, partitions);
    let mut problems = Vec::new();
    for q in 0..partitions {
        let seqs: Vec<i64> = copied[&q].iter().map(|r| seq(r, q).expect("numbered")).collect();
        let k = seqs.iter().enumerate().take_while(|(i, s)| **s == *i as i64).count() as i64;
        let r = if (k as usize) < seqs.len() { seqs[k as usize] } else { k };
        problems.extend(check_after_crash(&last, q, &read[&q], 50, r, k));
    }
    assert!(problems.is_empty(), "failover after garbage:\n{}", problems.join("\n"));
}

// ---------------------------------------------------------------------------------------------------
// Extra: committed-offset metadata (MM2 compatibility)
// ---------------------------------------------------------------------------------------------------

/// MM2 copies the metadata of the group's committed offset into the checkpoint
/// (`MirrorCheckpointTask.checkpoint`: `new Checkpoint(..., offsetAndMetadata.metadata())`) and its
/// group offset sync commits it with the translated offset (`Checkpoint.offsetAndMetadata()`), so
/// applications that keep state in the commit metadata find it on the target after a failover.
#[test]
fn checkpoints_and_synced_offsets_carry_the_commit_metadata_like_mm2() {
    let rig = Rig::get();
    let (src, dst) = (rig.source(), rig.target());
    let p = prefix();
    let topic = format!("{p}meta");
    let remote = format!("src.{topic}");
    src.create_topic(&topic, 1, &[]);
    src.produce(&topic, 0, &(0..10).map(|i| numbered(0, i, now_ms())).collect::<Vec<_>>());
    let group = format!("{p}consumer-group");
    let metadata = format!("{p}state-v7");
    {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &src.bootstrap)
            .set("group.id", &group)
            .set("enable.auto.commit", "false")
            .create()
            .expect("group consumer");
        let mut list = TopicPartitionList::new();
        list.add_partition_offset(&topic, 0, Offset::Offset(6)).expect("offset");
        list.find_partition(&topic, 0).expect("element").set_metadata(metadata.as_str());
        consumer.commit(&list, CommitMode::Sync).expect("commit with metadata");
    }

    let dir = tempfile::tempdir().expect("tempdir");
    let mut ferry = Ferry::start(&mm2_groups(&rig, &p).write(dir.path()), dir.path(), "edge-metadata");
    let g = Group::new(group.clone(), BTreeMap::from([(0, 6)]));
    wait_synced(&dst, &mut ferry, "src.checkpoints.internal", &remote, 1, std::slice::from_ref(&g));
    ferry.stop(Duration::from_secs(10));

    let written: Vec<Checkpoint> =
        checkpoints(&dst, "src.checkpoints.internal", &group).into_iter().filter(|c| c.topic == remote).collect();
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &dst.bootstrap)
        .set("group.id", &group)
        .set("enable.auto.commit", "false")
        .create()
        .expect("group consumer");
    let mut list = TopicPartitionList::new();
    list.add_partition(&remote, 0);
    let committed = consumer.committed_offsets(list, Duration::from_secs(30)).expect("committed offsets");
    let target_metadata = committed.find_partition(&remote, 0).map(|e| e.metadata().to_string());
    assert!(
        written.last().is_some_and(|c| c.metadata == metadata) && target_metadata.as_deref() == Some(metadata.as_str()),
        "the source commit's metadata `{metadata}` must be in the checkpoint and in the synced target offset (as \
         MM2 does); checkpoints {written:?}, target group metadata {target_metadata:?}"
    );
}

/// Produces numbered records to every partition of `topic` until each holds `end` records.
fn produce_numbered_to(src: &Cluster, topic: &str, partitions: i32, end: i64) {
    for q in 0..partitions {
        let have = src.high_watermark(topic, q);
        src.produce(topic, q, &(have..end).map(|i| numbered(q, i, now_ms())).collect::<Vec<_>>());
    }
}
