//! Discovery while running: new topics, new records and new partitions on the source reach the target
//! without restarting ferry.

#![cfg(feature = "kafka-integration-tests")]

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::*;

#[test]
fn new_topics_and_new_records_arrive_while_running() {
    let rig = Rig::get();
    let (src, dst) = (rig.source(), rig.target());
    let p = prefix();
    let existing = format!("{p}existing");
    src.create_topic(&existing, 1, &[]);
    let ts = now_ms() - 1000;
    let first: Vec<Rec> = (0..10).map(|i| numbered(0, i, ts + i)).collect();
    let mut expected = src.produce(&existing, 0, &first);

    let dir = tempfile::tempdir().expect("tempdir");
    let mm2 = rig.mm2(&format!("{p}.*"));
    let mut ferry = Ferry::start(&mm2.write(dir.path()), dir.path(), "new-topic");
    let remote_existing = format!("src.{existing}");
    wait_for_counts(&dst, &remote_existing, &BTreeMap::from([(0, 10)]), &mut ferry);

    // A new record on a copied topic arrives quickly (ferry promises well under a second; < 5 s here).
    for round in 0..3 {
        let seq = 10 + round;
        let sent = Instant::now();
        expected.extend(src.produce(&existing, 0, &[numbered(0, seq, now_ms())]));
        let took = wait_for_counts(&dst, &remote_existing, &BTreeMap::from([(0, seq + 1)]), &mut ferry);
        eprintln!("[it] record {seq} arrived after {:?}", sent.elapsed());
        assert!(took < Duration::from_secs(5), "a new record took {took:?} to arrive\n{}", ferry.stderr_tail(30));
    }

    // A topic created while ferry runs is found at the next refresh (1 s) and copied.
    let fresh = format!("{p}fresh");
    let created = Instant::now();
    src.create_topic(&fresh, 2, &[]);
    let mut fresh_expected = BTreeMap::new();
    for partition in 0..2 {
        let records: Vec<Rec> = (0..15).map(|i| numbered(partition, i, now_ms())).collect();
        fresh_expected.insert(partition, src.produce(&fresh, partition, &records));
    }
    let remote_fresh = format!("src.{fresh}");
    wait_for_counts(&dst, &remote_fresh, &BTreeMap::from([(0, 15), (1, 15)]), &mut ferry);
    let took = created.elapsed();
    eprintln!("[it] new topic copied {took:?} after its creation");
    assert!(took < Duration::from_secs(20), "a new topic took {took:?} to be copied (refresh interval 1 s)");
    assert_eq!(dst.partitions(&remote_fresh), Some(2));
    for (partition, records) in dst.read_topic(&remote_fresh) {
        assert_same_records(&format!("{remote_fresh}/{partition}"), &fresh_expected[&partition], &records);
    }
    assert_same_records(&remote_existing, &expected, &dst.read_topic(&remote_existing)[&0]);
    ferry.stop(Duration::from_secs(10));
}

#[test]
fn partitions_added_to_a_source_topic_are_copied() {
    let rig = Rig::get();
    if rig.is_tansu() {
        eprintln!(
            "[it] SKIPPED partitions_added_to_a_source_topic_are_copied: needs Apache Kafka (FERRY_BROKER_KIND=tansu)"
        );
        return;
    }
    let (src, dst) = (rig.source(), rig.target());
    let p = prefix();
    let topic = format!("{p}grow");
    let remote = format!("src.{topic}");
    let mut expected = src.seed_numbered(&topic, 2, 10);

    let dir = tempfile::tempdir().expect("tempdir");
    let mm2 = rig.mm2(&format!("{p}.*"));
    let mut ferry = Ferry::start(&mm2.write(dir.path()), dir.path(), "grow");
    wait_for_counts(&dst, &remote, &BTreeMap::from([(0, 10), (1, 10)]), &mut ferry);
    assert_eq!(dst.partitions(&remote), Some(2));

    src.create_partitions(&topic, 3);
    wait_until(WAIT, "the source topic has 3 partitions", || src.partitions(&topic) == Some(3));
    let records: Vec<Rec> = (0..7).map(|i| numbered(2, i, now_ms())).collect();
    expected.insert(2, src.produce(&topic, 2, &records));
    // And more records on the old partitions meanwhile.
    let more: Vec<Rec> = (10..13).map(|i| numbered(0, i, now_ms())).collect();
    expected.get_mut(&0).expect("partition 0").extend(src.produce(&topic, 0, &more));

    wait_for_counts(&dst, &remote, &BTreeMap::from([(0, 13), (1, 10), (2, 7)]), &mut ferry);
    assert_eq!(dst.partitions(&remote), Some(3), "the remote topic should have grown to 3 partitions");
    for (partition, records) in dst.read_topic(&remote) {
        assert_same_records(&format!("{remote}/{partition}"), &expected[&partition], &records);
    }
    ferry.stop(Duration::from_secs(10));
}
