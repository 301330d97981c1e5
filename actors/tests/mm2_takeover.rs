//! Switching between real MirrorMaker 2 (Apache Kafka's `connect-mirror`, dedicated mode, fetched by
//! the rig with Maven) and ferry on the same mm2.properties: ferry resumes from MM2's stored progress
//! without copying again what MM2 had stored as done, continues its checkpoints without going
//! backwards, and MM2 started after ferry resumes from ferry's progress (rollback).

#![cfg(feature = "kafka-integration-tests")]

mod common;

use std::collections::BTreeMap;
use std::fs::File;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use ferry_engine::wire::Checkpoint;

/// A running MirrorMaker 2 (dedicated mode); killed on drop.
struct MirrorMaker {
    child: Child,
    log: std::path::PathBuf,
}

impl MirrorMaker {
    fn start(config: &Path, dir: &Path, name: &str) -> MirrorMaker {
        let libs = std::env::var("FERRY_KAFKA_LIBS").expect("FERRY_KAFKA_LIBS (set by the rig)");
        let log = dir.join(format!("{name}.log"));
        let rig_log4j = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/rig/log4j2.properties");
        let child = Command::new("java")
            .args(["-Xmx512m", "-XX:TieredStopAtLevel=1"])
            .arg(format!("-Dlog4j2.configurationFile={}", rig_log4j.display()))
            .arg("-cp")
            .arg(format!("{libs}/*"))
            .arg("org.apache.kafka.connect.mirror.MirrorMaker")
            .arg(config)
            .stdin(Stdio::null())
            .stdout(Stdio::from(File::create(&log).expect("log file")))
            .stderr(Stdio::from(File::create(dir.join(format!("{name}.err"))).expect("err file")))
            .spawn()
            .expect("starting MirrorMaker 2 (java)");
        eprintln!("[it] started MirrorMaker 2 `{name}` (pid {}), log in {}", child.id(), log.display());
        MirrorMaker { child, log }
    }

    fn tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// SIGTERM and wait (MM2 commits its offsets on a clean stop).
    fn stop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for MirrorMaker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn produce_range(src: &Cluster, topic: &str, partitions: i32, range: std::ops::Range<i64>) {
    let ts = now_ms();
    for partition in 0..partitions {
        src.produce(topic, partition, &range.clone().map(|i| numbered(partition, i, ts + i)).collect::<Vec<_>>());
    }
}

/// Waits until every partition of `remote` holds `count` records and returns them.
fn wait_copied(dst: &Cluster, remote: &str, partitions: i32, count: i64, what: &str, diag: &dyn Fn() -> String) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let have: Vec<i64> = (0..partitions)
            .map(|p| if dst.partitions(remote).is_some() { dst.high_watermark(remote, p) } else { 0 })
            .collect();
        if have.iter().all(|h| *h >= count) {
            return;
        }
        assert!(Instant::now() < deadline, "{what}: {remote} has {have:?}, want {count} each\n{}", diag());
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn ferry_takes_over_from_mirror_maker_and_back_without_recopying() {
    let rig = Rig::get();
    if rig.is_tansu() {
        eprintln!("[it] skipped on tansu: MirrorMaker 2 needs Apache Kafka's group and config APIs");
        return;
    }
    let (src, dst) = (rig.source(), rig.target());
    let p = prefix();
    let topic = format!("{p}ledger");
    let remote = format!("src.{topic}");
    let partitions = 2;
    src.create_topic(&topic, partitions, &[]);
    produce_range(&src, &topic, partitions, 0..100);
    let group = format!("{p}reader");

    let dir = tempfile::tempdir().expect("tempdir");
    let mut mm2 = rig.mm2(&format!("{p}.*"));
    mm2.set("groups", &format!("{p}.*"))
        .set("emit.checkpoints.interval.seconds", "1")
        .set("refresh.groups.interval.seconds", "1")
        .set("sync.topic.acls.enabled", "false")
        .set("dst.offset.flush.interval.ms", "1000")
        .set("src.offset.flush.interval.ms", "1000")
        .set("config.storage.replication.factor", "1")
        .set("status.storage.replication.factor", "1")
        .set("dst->src.emit.heartbeats.enabled", "false");
    let config = mm2.write(dir.path());

    // 1. MirrorMaker 2 copies the first 100 per partition and stores its progress.
    let mut mirror = MirrorMaker::start(&config, dir.path(), "mm2-first");
    wait_copied(&dst, &remote, partitions, 100, "MM2 copy", &|| mirror.tail());
    src.commit_group_offsets(&group, &[(&topic, 0, 60), (&topic, 1, 100)]);
    wait_until(Duration::from_secs(120), "MM2 stored progress 99 for every partition", || {
        let progress = dst.read_progress(&p);
        (0..partitions).all(|q| progress.get(&(topic.clone(), q)) == Some(&99))
    });
    mirror.stop();
    let checkpoints = |dst: &Cluster| -> Vec<(i32, i64, i64)> {
        dst.read_raw("src.checkpoints.internal")
            .iter()
            .filter_map(|(k, v)| Checkpoint::decode(k, v).ok())
            .filter(|c| c.group == group && c.topic == remote)
            .map(|c| (c.partition, c.upstream_offset, c.downstream_offset))
            .collect()
    };
    let mm2_checkpoints = checkpoints(&dst);
    eprintln!("[it] MM2 checkpoints: {mm2_checkpoints:?}");

    // 2. ferry takes over: it copies only what MM2 had not, and its checkpoints never go backwards.
    produce_range(&src, &topic, partitions, 100..150);
    let mut ferry = Ferry::start(&config, dir.path(), "takeover");
    wait_copied(&dst, &remote, partitions, 150, "ferry after MM2", &|| ferry.stderr_tail(40));
    src.commit_group_offsets(&group, &[(&topic, 0, 140), (&topic, 1, 150)]);
    wait_until(Duration::from_secs(60), "ferry checkpoints after the takeover", || {
        let all = checkpoints(&dst);
        all.contains(&(0, 140, 140)) && all.contains(&(1, 150, 150))
    });
    ferry.stop(Duration::from_secs(10));

    // 3. Rollback: MM2 resumes from ferry's progress.
    produce_range(&src, &topic, partitions, 150..170);
    let mirror2 = MirrorMaker::start(&config, dir.path(), "mm2-again");
    wait_copied(&dst, &remote, partitions, 170, "MM2 after ferry", &|| mirror2.tail());
    std::thread::sleep(Duration::from_secs(3));
    drop(mirror2);

    // Every record exactly once, in order, across the three runs.
    let copied = dst.read_topic(&remote);
    for partition in 0..partitions {
        let seqs: Vec<i64> = copied[&partition].iter().map(|r| seq_of(r, partition)).collect();
        assert_eq!(seqs, (0..170).collect::<Vec<_>>(), "partition {partition}: each record once, in order");
    }
    // Checkpoints per partition never went backwards (the source group only moved forwards).
    let mut last: BTreeMap<i32, i64> = BTreeMap::new();
    for (partition, _, downstream) in checkpoints(&dst) {
        let previous = last.insert(partition, downstream).unwrap_or(-1);
        assert!(downstream >= previous, "checkpoint of partition {partition} went back: {:?}", checkpoints(&dst));
    }
}
