//! ferry's offset-index journal against real brokers: exact translation survives the loss of the
//! offset-syncs topic's history (what log compaction does to `mm2-offset-syncs.*`, which keeps only the
//! latest sync per partition), across several ferry lifetimes; and the journal follows the source's
//! retention (DeleteRecords), forgetting change points below the log start.
//!
//! Kafka only: Tansu has no DeleteRecords and no transactions to make gaps with.

#![cfg(feature = "kafka-integration-tests")]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use common::*;
use ferry_engine::translate::Replay;
use ferry_engine::wire::JournalRecord;

/// The journal topic replayed per (topic, partition), tombstones applied.
fn journal(src: &Cluster, b: &str) -> BTreeMap<(String, i32), Replay> {
    let topic = format!("ferry-offset-index.{b}.internal");
    let mut replays: BTreeMap<(String, i32), Replay> = BTreeMap::new();
    if src.partitions(&topic).is_none() {
        return replays;
    }
    for record in src.read_partitions(&topic, &[0]).remove(&0).unwrap_or_default() {
        let key = record.key.as_deref().expect("journal records have keys");
        let decoded = JournalRecord::decode(key, record.value.as_deref()).expect("ferry's journal format");
        replays.entry((decoded.topic, decoded.partition)).or_default().apply(decoded.slot, decoded.value);
    }
    replays
}

/// Per partition, (source offset, target offset) of every copy, pairing the committed source records
/// in order with the target records that are copies (values `p<partition>-<seq>`), in order.
fn copies(src: &Cluster, dst: &Cluster, topic: &str, remote: &str) -> BTreeMap<i32, Vec<(i64, i64)>> {
    let source = src.read_topic(topic);
    let target = dst.read_topic(remote);
    source
        .iter()
        .map(|(partition, records)| {
            let copied: Vec<i64> = target
                .get(partition)
                .into_iter()
                .flatten()
                .filter(|r| r.value_str().starts_with(&format!("p{partition}-")))
                .map(|r| r.offset)
                .collect();
            assert_eq!(copied.len(), records.len(), "{remote}/{partition}: one copy per source record");
            (*partition, records.iter().map(|r| r.offset).zip(copied).collect())
        })
        .collect()
}

/// `ferry translate --json` for `group`: partition → (target offset, exact).
fn translate(config: &Path, group: &str, a: &str, b: &str) -> BTreeMap<i64, (Option<i64>, bool)> {
    let config = config.to_str().expect("utf-8 path");
    let (code, stdout, stderr) =
        ferry_output(&["translate", config, "--group", group, "--from", a, "--to", b, "--json"]);
    assert_eq!(code, Some(0), "stdout:\n{stdout}\nstderr:\n{stderr}");
    let answer: serde_json::Value = serde_json::from_str(stdout.trim()).expect("JSON output");
    answer["partitions"]
        .as_array()
        .expect("partitions")
        .iter()
        .map(|row| {
            let partition = row["partition"].as_i64().expect("partition");
            (partition, (row["target_offset"].as_i64(), row["exact"].as_bool().unwrap_or(false)))
        })
        .collect()
}

#[test]
fn translation_stays_exact_when_the_offset_syncs_topic_loses_its_history() {
    let rig = Rig::get();
    if rig.is_tansu() {
        eprintln!("skipped: needs transactions (Kafka only)");
        return;
    }
    let (src, dst) = (rig.source(), rig.target());
    let id = random_id(6);
    let (a, b) = (format!("a{id}"), format!("b{id}"));
    let p = prefix();
    let topic = format!("{p}txn");
    let remote = format!("{a}.{topic}");
    src.create_topic(&topic, 2, &[]);
    let ts = now_ms() - 60_000;
    // Aborted transactions and markers leave gaps in the source offsets: change points for the index.
    let first: BTreeMap<i32, Vec<(bool, i64)>> = BTreeMap::from([
        (0, vec![(true, 5), (false, 3), (true, 4), (false, 2), (true, 6)]),
        (1, vec![(false, 2), (true, 7), (true, 3), (false, 4), (true, 2)]),
    ]);
    src.produce_transactions(&topic, &first, &format!("{p}tx"), ts);
    let committed = |layouts: &BTreeMap<i32, Vec<(bool, i64)>>, q: i32| -> i64 {
        layouts[&q].iter().filter(|(commit, _)| *commit).map(|(_, n)| n).sum()
    };
    let mut counts: BTreeMap<i32, i64> = (0..2).map(|q| (q, committed(&first, q))).collect();

    let dir = tempfile::tempdir().expect("tempdir");
    let config = rig.private_mm2(&a, &b, &format!("{p}.*")).write(dir.path());
    let mut ferry = Ferry::start(&config, dir.path(), "index-first");
    wait_for_counts(&dst, &remote, &counts, &mut ferry);
    ferry.stop(Duration::from_secs(10));
    let points: usize = journal(&src, &b).values().map(|r| r.stored().len()).sum();
    assert!(points >= 6, "the journal holds the change points: {points}");

    // A second lifetime after unrelated records landed on the target (another change point), with
    // more transactions (numbered from 0 again, which `copies` does not mind).
    dst.produce(
        &remote,
        0,
        &(0..3).map(|i| Rec::new(None, Some(format!("other-{i}").as_bytes()), &[], ts)).collect::<Vec<_>>(),
    );
    let second: BTreeMap<i32, Vec<(bool, i64)>> =
        BTreeMap::from([(0, vec![(false, 2), (true, 3)]), (1, vec![(true, 4), (false, 1), (true, 1)])]);
    src.produce_transactions(&topic, &second, &format!("{p}tx"), ts);
    for q in 0..2 {
        *counts.entry(q).or_default() += committed(&second, q);
    }
    let mut ferry = Ferry::start(&config, dir.path(), "index-second");
    let mut target_counts = counts.clone();
    *target_counts.entry(0).or_default() += 3;
    wait_for_counts(&dst, &remote, &target_counts, &mut ferry);
    ferry.stop(Duration::from_secs(10));

    // What compaction does to the offset-syncs topic over time, at its worst: nothing is left.
    src.delete_topic(&format!("mm2-offset-syncs.{b}.internal"));

    // Groups committed at every source offset of the first transactions (records, markers, aborted
    // records) translate exactly: to the copy of the first committed record at or after the offset.
    let pairs = copies(&src, &dst, &topic, &remote);
    let last = |q: i32| pairs[&q].last().expect("copies").0;
    let mut problems = Vec::new();
    for c in 0..15 {
        let group = format!("{p}g{c}");
        let offsets: Vec<(&str, i32, i64)> = (0..2).map(|q| (topic.as_str(), q, c.min(last(q)))).collect();
        src.commit_group_offsets(&group, &offsets);
        let answer = translate(&config, &group, &a, &b);
        for (_, q, c) in offsets {
            let want = pairs[&q].iter().find(|(u, _)| *u >= c).map(|(_, d)| *d);
            // Before the first copied record there is nothing to translate from (the failover
            // consumer then starts at the beginning, which is exact too).
            let want = if c < pairs[&q][0].0 { (None, false) } else { (want, true) };
            let got = answer.get(&i64::from(q)).copied();
            if got != Some(want) {
                problems.push(format!("partition {q} at {c}: got {got:?}, want {want:?}"));
            }
        }
    }
    for q in 0..2 {
        let group = format!("{p}late{q}");
        let c = pairs[&q][pairs[&q].len() - 3].0;
        src.commit_group_offsets(&group, &[(topic.as_str(), q, c)]);
        let answer = translate(&config, &group, &a, &b);
        let want = pairs[&q].iter().find(|(u, _)| *u >= c).map(|(_, d)| *d);
        if answer.get(&i64::from(q)).copied() != Some((want, true)) {
            problems.push(format!("second lifetime, partition {q} at {c}: got {answer:?}, want ({want:?}, exact)"));
        }
    }
    assert!(problems.is_empty(), "translation not exact without the offset-syncs history:\n{}", problems.join("\n"));
}

#[test]
fn the_offset_index_follows_the_source_log_start() {
    let rig = Rig::get();
    if rig.is_tansu() {
        eprintln!("skipped: needs DeleteRecords (Kafka only)");
        return;
    }
    let (src, dst) = (rig.source(), rig.target());
    let id = random_id(6);
    let (a, b) = (format!("a{id}"), format!("b{id}"));
    let p = prefix();
    let topic = format!("{p}retained");
    let remote = format!("{a}.{topic}");
    src.create_topic(&topic, 1, &[]);
    let ts = now_ms() - 60_000;
    src.produce(&topic, 0, &(0..50).map(|i| numbered(0, i, ts)).collect::<Vec<_>>());
    let dir = tempfile::tempdir().expect("tempdir");
    let mut mm2 = rig.private_mm2(&a, &b, &format!("{p}.*"));
    mm2.set("ferry.offset.index.prune.interval.ms", "1000");
    let config = mm2.write(dir.path());
    let mut ferry = Ferry::start(&config, dir.path(), "prune-first");
    wait_for_counts(&dst, &remote, &BTreeMap::from([(0, 50)]), &mut ferry);
    ferry.stop(Duration::from_secs(10));

    // Three unrelated records on the target shift the second lifetime's copies: 50.. -> 53..
    dst.produce(
        &remote,
        0,
        &(0..3).map(|i| Rec::new(None, Some(format!("other-{i}").as_bytes()), &[], ts)).collect::<Vec<_>>(),
    );
    src.produce(&topic, 0, &(50..100).map(|i| numbered(0, i, ts)).collect::<Vec<_>>());
    let mut ferry = Ferry::start(&config, dir.path(), "prune-second");
    wait_for_counts(&dst, &remote, &BTreeMap::from([(0, 103)]), &mut ferry);
    let stored = |src: &Cluster| -> BTreeSet<u64> {
        journal(src, &b).get(&(topic.clone(), 0)).map(Replay::stored).unwrap_or_default()
    };
    wait_until(WAIT, "the journal holds the points of both lifetimes", || stored(&src) == BTreeSet::from([0, 49, 53]));

    // The source's retention moves the log start to 60: the piece starting at (50 -> 53) still covers
    // it, everything before is forgotten.
    src.delete_records(&topic, 0, 60);
    wait_until(WAIT, "points below the log start forgotten", || stored(&src) == BTreeSet::from([53]));
    ferry.stop(Duration::from_secs(10));
    let tail = journal(&src, &b).get(&(topic.clone(), 0)).map(Replay::copies).unwrap_or_default();
    assert_eq!(tail.last(), Some(&(99, 102)), "the tail survives pruning");

    let group = format!("{p}reader");
    src.commit_group_offsets(&group, &[(topic.as_str(), 0, 70)]);
    assert_eq!(translate(&config, &group, &a, &b).get(&0), Some(&(Some(73), true)));
}
