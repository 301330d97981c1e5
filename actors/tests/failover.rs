//! Consumer-group failover against real brokers: ferry writes MM2-format offset syncs, and
//! `ferry translate` turns a group's committed source offsets into exact target offsets even when the
//! target partitions are shifted (records already on the target before ferry started).

#![cfg(feature = "kafka-integration-tests")]

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::*;
use ferry_engine::wire::OffsetSync;

#[test]
fn translate_gives_exact_target_offsets_and_syncs_are_mm2_format() {
    let rig = Rig::get();
    let (src, dst) = (rig.source(), rig.target());
    let p = prefix();
    let topic = format!("{p}orders");
    let remote = format!("src.{topic}");
    src.create_topic(&topic, 2, &[]);
    // The remote topic exists already and partition 0 holds 5 unrelated records: target offsets of
    // partition 0 are source offsets + 5, so a naive "same offset" failover would skip 5 records.
    dst.create_topic(&remote, 2, &[]);
    let ts = now_ms() - 10_000;
    dst.produce(&remote, 0, &(0..5).map(|i| numbered(0, 1000 + i, ts)).collect::<Vec<_>>());
    for partition in 0..2 {
        src.produce(&topic, partition, &(0..100).map(|i| numbered(partition, i, ts + i)).collect::<Vec<_>>());
    }

    let dir = tempfile::tempdir().expect("tempdir");
    let config = rig.mm2(&format!("{p}.*")).write(dir.path());
    let mut ferry = Ferry::start(&config, dir.path(), "failover");
    wait_for_counts(&dst, &remote, &BTreeMap::from([(0, 105), (1, 100)]), &mut ferry);

    let group = format!("{p}billing");
    src.commit_group_offsets(&group, &[(&topic, 0, 37), (&topic, 1, 100)]);
    // Syncs are published at each progress tick (1 s).
    std::thread::sleep(Duration::from_secs(3));

    let config_path = config.to_str().expect("utf-8 path");
    let (code, stdout, stderr) =
        ferry_output(&["translate", config_path, "--group", &group, "--from", "src", "--to", "dst", "--json"]);
    assert_eq!(code, Some(0), "stdout:\n{stdout}\nstderr:\n{stderr}");
    let answer: serde_json::Value = serde_json::from_str(stdout.trim()).expect("JSON output");
    let partitions = answer["partitions"].as_array().expect("partitions");
    let row = |partition: i64| {
        partitions
            .iter()
            .find(|r| r["partition"] == partition)
            .unwrap_or_else(|| panic!("partition {partition} in {answer}"))
    };
    assert_eq!(row(0)["target_topic"], remote.as_str());
    assert_eq!(row(0)["source_offset"], 37);
    assert_eq!(row(0)["target_offset"], 42, "{answer}");
    assert_eq!(row(0)["exact"], true, "{answer}");
    assert_eq!(row(1)["target_offset"], 100, "{answer}");
    assert_eq!(row(1)["exact"], true, "{answer}");

    // The record at the translated offset is the one the group would have read next on the source.
    let copied = dst.read_topic(&remote);
    assert_eq!(seq_of(&copied[&0][42], 0), 37);

    // Offset syncs are MM2's format, in MM2's topic on the source cluster.
    let syncs: Vec<OffsetSync> = src
        .read_raw("mm2-offset-syncs.dst.internal")
        .iter()
        .map(|(k, v)| OffsetSync::decode(k, v).expect("MM2 OffsetSync format"))
        .filter(|s| s.topic == topic)
        .collect();
    assert!(
        syncs.iter().any(|s| s.partition == 0 && s.upstream_offset == 0 && s.downstream_offset == 5),
        "first-record sync of partition 0 in {syncs:?}"
    );

    // Clear errors for an unknown group and an unknown alias.
    let (code, _, stderr) =
        ferry_output(&["translate", config_path, "--group", "no-such-group-x", "--from", "src", "--to", "dst"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--group") && stderr.contains("no-such-group-x"), "{stderr}");
    let (code, _, stderr) =
        ferry_output(&["translate", config_path, "--group", &group, "--from", "nope", "--to", "dst"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--from"), "{stderr}");
    ferry.stop(Duration::from_secs(10));
}

#[test]
fn heartbeats_are_written_both_ways_and_replicated_downstream() {
    use ferry_engine::wire::Heartbeat;
    let rig = Rig::get();
    let (src, dst) = (rig.source(), rig.target());
    let dir = tempfile::tempdir().expect("tempdir");
    let mut mm2 = rig.mm2(&format!("{}.*", prefix()));
    mm2.set("emit.heartbeats.interval.seconds", "1");
    let mut ferry = Ferry::start(&mm2.write(dir.path()), dir.path(), "heartbeats");
    let started = now_ms();
    let beats_since = |cluster: &Cluster, topic: &str, source: &str, target: &str| {
        cluster
            .read_raw(topic)
            .iter()
            .filter_map(|(k, v)| Heartbeat::decode(k, v).ok())
            .filter(|h| h.source_alias == source && h.target_alias == target && h.timestamp_ms >= started)
            .count()
    };
    // src->dst writes into dst; the heartbeat-only pair dst->src writes into src (as MM2 does).
    wait_until(WAIT, "heartbeats on both clusters", || {
        ferry.assert_running();
        dst.partitions("heartbeats").is_some()
            && src.partitions("heartbeats").is_some()
            && beats_since(&dst, "heartbeats", "src", "dst") >= 2
            && beats_since(&src, "heartbeats", "dst", "src") >= 2
    });
    // src's heartbeats are replicated like any topic: `src.heartbeats` on dst shows the path.
    wait_until(WAIT, "src.heartbeats replicated to dst", || beats_since(&dst, "src.heartbeats", "dst", "src") >= 1);
    ferry.stop(Duration::from_secs(10));
}

#[test]
fn checkpoints_are_exact_monotonic_and_group_offsets_sync_without_rewinding() {
    use ferry_engine::wire::Checkpoint;
    let rig = Rig::get();
    let (src, dst) = (rig.source(), rig.target());
    let p = prefix();
    let topic = format!("{p}pay");
    let remote = format!("src.{topic}");
    src.create_topic(&topic, 1, &[]);
    dst.create_topic(&remote, 1, &[]);
    let ts = now_ms() - 10_000;
    dst.produce(&remote, 0, &(0..3).map(|i| numbered(0, 900 + i, ts)).collect::<Vec<_>>());
    src.produce(&topic, 0, &(0..50).map(|i| numbered(0, i, ts + i)).collect::<Vec<_>>());
    let group = format!("{p}app");
    src.commit_group_offsets(&group, &[(&topic, 0, 20)]);

    let dir = tempfile::tempdir().expect("tempdir");
    let mut mm2 = rig.mm2(&format!("{p}.*"));
    mm2.set("groups", &format!("{p}.*"))
        .set("emit.checkpoints.interval.seconds", "1")
        .set("sync.group.offsets.enabled", "true")
        .set("sync.group.offsets.interval.seconds", "1");
    let mut ferry = Ferry::start(&mm2.write(dir.path()), dir.path(), "checkpoints");
    let checkpoints = |dst: &Cluster| -> Vec<(i64, i64)> {
        dst.read_raw("src.checkpoints.internal")
            .iter()
            .filter_map(|(k, v)| Checkpoint::decode(k, v).ok())
            .filter(|c| c.group == group && c.topic == remote && c.partition == 0)
            .map(|c| (c.upstream_offset, c.downstream_offset))
            .collect()
    };
    let mut wait_for_checkpoint = |want: (i64, i64)| {
        wait_until(WAIT, &format!("checkpoint {want:?}"), || {
            ferry.assert_running();
            checkpoints(&dst).contains(&want)
        });
    };
    // Source offset 20 is target offset 23 (3 records were on the target first).
    wait_for_checkpoint((20, 23));
    wait_until(WAIT, "target group synced to 23", || dst.committed(&group, &remote, 0) == Some(23));

    src.commit_group_offsets(&group, &[(&topic, 0, 30)]);
    wait_for_checkpoint((30, 33));
    wait_until(WAIT, "target group synced to 33", || dst.committed(&group, &remote, 0) == Some(33));

    // A source group reset backwards is checkpointed (MM2 allows rewinds) but the target group, which
    // may have consumers past it, is never moved back.
    src.commit_group_offsets(&group, &[(&topic, 0, 10)]);
    wait_for_checkpoint((10, 13));
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(dst.committed(&group, &remote, 0), Some(33), "target group rewound");

    // Downstream offsets only decrease where the upstream offset decreased.
    let history = checkpoints(&dst);
    for pair in history.windows(2) {
        let ((up_a, down_a), (up_b, down_b)) = (pair[0], pair[1]);
        assert!(down_b >= down_a || up_b < up_a, "checkpoint went backwards without a source rewind: {history:?}");
    }
    ferry.stop(Duration::from_secs(10));
}
