//! Brokers that stop answering while ferry runs: the source or the target broker is frozen (SIGSTOP) for a
//! few seconds under load, then resumed. ferry logs, keeps running, and resumes copying; nothing is lost
//! and every partition stays in order. Runs as its own test binary so no other test shares the frozen
//! brokers.

#![cfg(feature = "kafka-integration-tests")]

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;

/// Freezes process `pid` for `pause`, then resumes it.
fn freeze(pid: &str, pause: Duration) {
    let signal = |sig: &str| {
        let status = std::process::Command::new("kill").args([sig, pid]).status().expect("kill");
        assert!(status.success(), "kill {sig} {pid}");
    };
    signal("-STOP");
    std::thread::sleep(pause);
    signal("-CONT");
}

#[test]
fn frozen_source_and_target_brokers_lose_nothing() {
    let rig = Rig::get();
    let (src, dst) = (rig.source(), rig.target());
    let pids = (
        std::env::var("FERRY_SRC_PID").expect("FERRY_SRC_PID"),
        std::env::var("FERRY_DST_PID").expect("FERRY_DST_PID"),
    );
    let p = prefix();
    let topic = format!("{p}outage");
    let remote = format!("src.{topic}");
    let partitions = 3;
    src.create_topic(&topic, partitions, &[]);

    let dir = tempfile::tempdir().expect("tempdir");
    let mut mm2 = rig.mm2(&format!("{p}.*"));
    mm2.set("offset.flush.interval.ms", "500");
    let mut ferry = Ferry::start(&mm2.write(dir.path()), dir.path(), "outage");
    wait_until(WAIT, "remote topic created", || dst.partitions(&remote) == Some(partitions));

    let stop = Arc::new(AtomicBool::new(false));
    let start: BTreeMap<i32, i64> = (0..partitions).map(|p| (p, 0)).collect();
    let stream =
        produce_continuously(src.clone(), topic.clone(), start, 50, Duration::from_millis(100), Arc::clone(&stop));
    std::thread::sleep(Duration::from_secs(2));
    freeze(&pids.1, Duration::from_secs(6));
    ferry.assert_running();
    std::thread::sleep(Duration::from_secs(2));
    stop.store(true, Ordering::Relaxed);
    let totals = stream.join().expect("producer thread");
    // The source is frozen after its records are written, so ferry's fetches stall instead.
    freeze(&pids.0, Duration::from_secs(6));
    ferry.assert_running();
    source_sanity(&src, &topic, &totals);

    wait_for_counts(&dst, &remote, &totals, &mut ferry);
    let copied = dst.read_topic(&remote);
    for (partition, records) in &copied {
        let seqs: Vec<i64> = records.iter().map(|r| seq_of(r, *partition)).collect();
        let want: Vec<i64> = (0..totals[partition]).collect();
        assert_eq!(seqs, want, "partition {partition}: every record once, in order (idempotent producer)");
    }
    ferry.stop(Duration::from_secs(10));
}
