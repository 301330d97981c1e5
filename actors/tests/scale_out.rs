//! Several ferry instances as one, against real brokers: three processes started with the same file
//! share a topic's partitions through the flow's consumer group, cover for one killed with SIGKILL
//! under load, and give a restarted one its share back without stopping the partitions that stay.

#![cfg(feature = "kafka-integration-tests")]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;

const PARTITIONS: i32 = 12;

/// Which partitions of the test's topic an instance copies now, from its "partition started" /
/// "partition stopped" lines, and how many times each partition was stopped.
fn ownership(ferry: &Ferry) -> (BTreeSet<i32>, BTreeMap<i32, usize>) {
    let mut running = BTreeSet::new();
    let mut stops = BTreeMap::new();
    for line in ferry.stderr().lines().filter(|line| line.contains("shared\" partition=")) {
        let started = line.contains("partition started");
        if !started && !line.contains("partition stopped") {
            continue;
        }
        let Some(partition) = field(line, "partition") else { continue };
        if started {
            running.insert(partition);
        } else {
            running.remove(&partition);
            *stops.entry(partition).or_default() += 1;
        }
    }
    (running, stops)
}

/// The integer value of `name=` in a log line.
fn field(line: &str, name: &str) -> Option<i32> {
    let start = line.find(&format!(" {name}="))? + name.len() + 2;
    line[start..].split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
}

/// Waits until the instances own disjoint sets covering every partition, each `expected` of them;
/// returns how long that took.
fn wait_for_balance(instances: &mut [&mut Ferry], expected: usize, what: &str) -> Duration {
    let started = Instant::now();
    loop {
        let owned: Vec<BTreeSet<i32>> = instances.iter().map(|f| ownership(f).0).collect();
        let union: BTreeSet<i32> = owned.iter().flatten().copied().collect();
        let disjoint = owned.iter().map(BTreeSet::len).sum::<usize>() == union.len();
        if disjoint && union.len() == PARTITIONS as usize && owned.iter().all(|o| o.len() == expected) {
            return started.elapsed();
        }
        for ferry in instances.iter_mut() {
            ferry.assert_running();
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{what}: no balanced ownership after 60 s: {owned:?}\n{}",
            instances.iter().map(|f| f.stderr_tail(30)).collect::<Vec<_>>().join("\n")
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Writes numbered records to every partition until stopped; returns how many per partition.
fn steady_load(src: Cluster, topic: String, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<BTreeMap<i32, i64>> {
    std::thread::spawn(move || {
        let producer = src.producer();
        let mut next: BTreeMap<i32, i64> = (0..PARTITIONS).map(|p| (p, 0)).collect();
        while !stop.load(Ordering::Relaxed) {
            for (partition, seq) in &mut next {
                for _ in 0..5 {
                    producer.send(&topic, *partition, &numbered(*partition, *seq, now_ms()));
                    *seq += 1;
                }
            }
            producer.flush();
            std::thread::sleep(Duration::from_millis(50));
        }
        next
    })
}

#[test]
fn three_instances_share_partitions_and_cover_for_a_killed_one() {
    let rig = Rig::get();
    if rig.is_tansu() {
        eprintln!("skipped on Tansu: group rebalances are proven on Kafka");
        return;
    }
    let (src, dst) = (rig.source(), rig.target());
    let p = prefix();
    let topic = format!("{p}shared");
    let remote = format!("src.{topic}");
    src.create_topic(&topic, PARTITIONS, &[]);

    let dir = tempfile::tempdir().expect("tempdir");
    // Without the heartbeats topic, the group balances exactly the test topic's 12 partitions.
    let config = rig
        .mm2(&format!("{p}.*"))
        .set("emit.heartbeats.enabled", "false")
        .set("heartbeats.replication.enabled", "false")
        // The failover time is measured with ferry's default session timeout, not the tests' short one.
        .set("ferry.group.session.timeout.ms", "6000")
        .write(dir.path());
    let stop = Arc::new(AtomicBool::new(false));
    let load = steady_load(src.clone(), topic.clone(), Arc::clone(&stop));

    let mut one = Ferry::start(&config, dir.path(), "one");
    let mut two = Ferry::start(&config, dir.path(), "two");
    let mut three = Ferry::start(&config, dir.path(), "three");
    wait_for_balance(&mut [&mut one, &mut two, &mut three], 4, "three instances");

    // Kill one under load: the others take its partitions over.
    let killed = ownership(&two).0;
    two.kill9();
    let took_over = wait_for_balance(&mut [&mut one, &mut three], 6, "after kill -9");
    eprintln!("[it] the partitions of the killed instance resumed after {took_over:?}");
    assert!(took_over <= Duration::from_secs(10), "took over after {took_over:?}");
    let survivors_before: Vec<BTreeSet<i32>> = [&one, &three].iter().map(|f| ownership(f).0).collect();
    assert!(survivors_before.iter().all(|owned| !killed.is_disjoint(owned)), "each survivor took a share");

    // A restarted instance takes its share back; the partitions that stay are never stopped.
    let stops_before: Vec<BTreeMap<i32, usize>> = [&one, &three].iter().map(|f| ownership(f).1).collect();
    let mut two_again = Ferry::start(&config, dir.path(), "two-again");
    wait_for_balance(&mut [&mut one, &mut two_again, &mut three], 4, "after the restart");
    for (index, ferry) in [&one, &three].into_iter().enumerate() {
        let (now, stops) = ownership(ferry);
        let stopped: BTreeSet<i32> =
            stops.iter().filter(|(p, n)| stops_before[index].get(p) != Some(n)).map(|(p, _)| *p).collect();
        let moved: BTreeSet<i32> = survivors_before[index].difference(&now).copied().collect();
        assert_eq!(stopped, moved, "instance {index} stopped only the partitions that moved");
    }

    // Nothing lost: every record written under load reaches the target.
    stop.store(true, Ordering::Relaxed);
    let written = load.join().expect("load thread");
    let mut instances = [&mut one, &mut two_again, &mut three];
    let started = Instant::now();
    loop {
        let done = written.iter().all(|(p, n)| dst.high_watermark(&remote, *p) >= *n);
        if done {
            break;
        }
        for ferry in instances.iter_mut() {
            ferry.assert_running();
        }
        assert!(started.elapsed() < Duration::from_secs(60), "target never caught up with {written:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
    let copied = dst.read_topic(&remote);
    for (partition, count) in &written {
        let seqs: BTreeSet<i64> = copied[partition].iter().map(|r| seq_of(r, *partition)).collect();
        let missing: Vec<i64> = (0..*count).filter(|s| !seqs.contains(s)).collect();
        assert!(
            missing.is_empty(),
            "partition {partition} lost {} records, e.g. {:?}",
            missing.len(),
            &missing[..5.min(missing.len())]
        );
    }
    for ferry in instances.iter_mut() {
        ferry.stop(Duration::from_secs(30));
    }
}
