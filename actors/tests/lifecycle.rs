//! Process lifecycle against real brokers: SIGKILL mid-stream then restart loses nothing; SIGTERM
//! drains, stores exact progress and exits 0 so a restart copies nothing twice; a remote topic that
//! cannot be created (replication factor too high) is reported and does not stop ferry; JSON logs at
//! debug level carry the lifecycle events and never a secret from the configuration.

#![cfg(feature = "kafka-integration-tests")]

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;

#[test]
fn kill_9_mid_stream_then_restart_loses_nothing() {
    let rig = Rig::get();
    let (src, dst) = (rig.source(), rig.target());
    let p = prefix();
    let topic = format!("{p}crash");
    let remote = format!("src.{topic}");
    let partitions = 4;
    src.create_topic(&topic, partitions, &[]);

    // A backlog to copy, then a live stream while ferry runs.
    let backlog = 40_000;
    {
        let producer = src.producer();
        let ts = now_ms();
        for partition in 0..partitions {
            for seq in 0..backlog {
                producer.send(&topic, partition, &numbered(partition, seq, ts));
            }
        }
        producer.flush();
    }
    let stop = Arc::new(AtomicBool::new(false));
    let start: BTreeMap<i32, i64> = (0..partitions).map(|p| (p, backlog)).collect();
    let stream =
        produce_continuously(src.clone(), topic.clone(), start, 200, Duration::from_millis(100), Arc::clone(&stop));

    let dir = tempfile::tempdir().expect("tempdir");
    let mut mm2 = rig.mm2(&format!("{p}.*"));
    mm2.set("offset.flush.interval.ms", "500");
    let config = mm2.write(dir.path());
    let mut first = Ferry::start(&config, dir.path(), "crash-1");

    // Kill once progress has been stored for every partition and copying is under way.
    let waited = wait_until(WAIT, "ferry stored progress for every partition", || {
        first.assert_running();
        dst.read_progress(&p).len() == partitions as usize
    });
    first.kill9();
    let copied_at_kill: i64 = (0..partitions).map(|q| dst.high_watermark(&remote, q)).sum();
    eprintln!(
        "[it] SIGKILL after {waited:?}; {copied_at_kill} records on the target (backlog alone: {})",
        backlog * i64::from(partitions)
    );

    // Keep producing a little while ferry is down, and let in-flight writes of the killed process land.
    std::thread::sleep(Duration::from_secs(1));
    let at_kill = dst.read_progress(&p);
    stop.store(true, Ordering::Relaxed);
    let totals = stream.join().expect("producer thread");
    eprintln!("[it] stored progress at kill: {at_kill:?}; source totals: {totals:?}");
    source_sanity(&src, &topic, &totals);

    let mut second = Ferry::start(&config, dir.path(), "crash-2");
    wait_for_counts(&dst, &remote, &totals, &mut second);
    let mut copied = BTreeMap::new();
    wait_until(WAIT, "the target holds the last record of every partition", || {
        copied = dst.read_topic(&remote);
        totals
            .iter()
            .all(|(partition, total)| copied[partition].last().map(|r| seq_of(r, *partition)) == Some(total - 1))
    });
    second.stop(Duration::from_secs(10));

    for (partition, records) in &copied {
        let total = totals[partition];
        let seqs: Vec<i64> = records.iter().map(|r| seq_of(r, *partition)).collect();
        // First run: a gap-free prefix 0..k. Second run: from the stored progress + 1 to the end.
        let k = seqs.iter().enumerate().take_while(|(i, s)| **s == *i as i64).count();
        let resume = at_kill.get(&(topic.clone(), *partition)).map_or(0, |o| o + 1);
        eprintln!(
            "[it] partition {partition}: first run copied {k}, resumed at {resume}, {} re-copied",
            k as i64 - resume
        );
        let context = format!(
            "partition {partition}: {} records on the target, first run copied 0..{k}, progress at kill {:?}, source total {total}",
            seqs.len(),
            at_kill.get(&(topic.clone(), *partition))
        );
        assert!(
            resume <= k as i64,
            "{context}: records {k}..{resume} were lost (progress stored past what was copied)"
        );
        if k < seqs.len() {
            // Re-copies after the restart: exactly the records after the stored progress, in order.
            let want: Vec<i64> = (resume..total).collect();
            assert_eq!(seqs[k], resume, "{context}: the restart must resume right after the stored progress");
            assert!(
                seqs[k..] == want[..],
                "{context}: after the restart the target should hold exactly {resume}..{total} in order"
            );
        } else {
            assert_eq!(k as i64, total, "{context}");
        }
        let timestamps_kept = records.iter().all(|r| r.timestamp > 0);
        assert!(timestamps_kept, "{context}: timestamps lost");
    }
}

#[test]
fn sigterm_drains_stores_exact_progress_and_restart_copies_nothing_twice() {
    let rig = Rig::get();
    let (src, dst) = (rig.source(), rig.target());
    let p = prefix();
    let topics = [(format!("{p}a"), 1), (format!("{p}b"), 3)];
    for (topic, partitions) in &topics {
        src.create_topic(topic, *partitions, &[]);
        for partition in 0..*partitions {
            let records: Vec<Rec> =
                (0..40 + 10 * i64::from(partition)).map(|i| numbered(partition, i, now_ms())).collect();
            src.produce(topic, partition, &records);
        }
    }
    let expect_progress_at_end = |what: &str| {
        let progress = dst.read_progress(&p);
        for (topic, partitions) in &topics {
            for partition in 0..*partitions {
                let last = src.high_watermark(topic, partition) - 1;
                assert_eq!(
                    progress.get(&(topic.clone(), partition)),
                    Some(&last),
                    "{what}: stored progress of {topic}/{partition} should be the last source offset; all: {progress:?}"
                );
            }
        }
    };
    let wait_all = |ferry: &mut Ferry| {
        for (topic, partitions) in &topics {
            let counts = (0..*partitions).map(|q| (q, src.high_watermark(topic, q))).collect();
            wait_for_counts(&dst, &format!("src.{topic}"), &counts, ferry);
        }
    };
    let assert_exactly_once = |what: &str| {
        for (topic, _) in &topics {
            let source = src.read_topic(topic);
            let copied = dst.read_topic(&format!("src.{topic}"));
            for (partition, records) in &source {
                assert_same_records(&format!("{what}: src.{topic}/{partition}"), records, &copied[partition]);
            }
        }
    };

    let dir = tempfile::tempdir().expect("tempdir");
    let mut mm2 = rig.mm2(&format!("{p}.*"));
    // No periodic commit during the test: the progress checked below is written by the shutdown.
    mm2.set("offset.flush.interval.ms", "600000");
    let config = mm2.write(dir.path());

    // Run 1: copy a backlog, SIGTERM, exact progress.
    let mut run1 = Ferry::start(&config, dir.path(), "term-1");
    wait_all(&mut run1);
    let took = run1.stop(Duration::from_secs(10));
    eprintln!("[it] run 1 stopped in {took:?}");
    assert!(run1.stderr().contains("progress stored"), "{}", run1.stderr_tail(20));
    expect_progress_at_end("after run 1");

    // Run 2: resume, copy new records, SIGTERM while the source is still being written to.
    let mut run2 = Ferry::start(&config, dir.path(), "term-2");
    let (busy, _) = &topics[1];
    let stop = Arc::new(AtomicBool::new(false));
    let start = (0..3).map(|q| (q, src.high_watermark(busy, q))).collect();
    let stream =
        produce_continuously(src.clone(), busy.clone(), start, 20, Duration::from_millis(50), Arc::clone(&stop));
    let more: Vec<Rec> = (40..45).map(|i| numbered(0, i, now_ms())).collect();
    src.produce(&topics[0].0, 0, &more);
    wait_until(WAIT, "run 2 copies new records", || {
        dst.high_watermark(&format!("src.{busy}"), 0) > 60
            && dst.high_watermark(&format!("src.{}", topics[0].0), 0) >= 45
    });
    run2.stop(Duration::from_secs(10));
    stop.store(true, Ordering::Relaxed);
    stream.join().expect("producer thread");
    // A clean stop leaves the target holding exactly the source up to the stored progress.
    let progress = dst.read_progress(&p);
    for (topic, partitions) in &topics {
        let source = src.read_topic(topic);
        let copied = dst.read_topic(&format!("src.{topic}"));
        for partition in 0..*partitions {
            let stored = *progress
                .get(&(topic.clone(), partition))
                .unwrap_or_else(|| panic!("no progress for {topic}/{partition}: {progress:?}"));
            let upto: Vec<Rec> = source[&partition].iter().filter(|r| r.offset <= stored).cloned().collect();
            assert_same_records(
                &format!("after run 2 (progress {stored}): src.{topic}/{partition}"),
                &upto,
                &copied[&partition],
            );
        }
    }

    // Run 3: copies the rest; every record exactly once.
    let mut run3 = Ferry::start(&config, dir.path(), "term-3");
    wait_all(&mut run3);
    run3.stop(Duration::from_secs(10));
    assert_exactly_once("after run 3");
    expect_progress_at_end("after run 3");
}

#[test]
fn replication_factor_too_high_is_reported_and_ferry_keeps_running() {
    let rig = Rig::get();
    let (src, dst) = (rig.source(), rig.target());
    let p = prefix();
    // Some brokers (Tansu) accept any replication factor: then there is no error to report.
    if dst.try_create_topic(&format!("{p}rf-probe"), 1, 3, &[]).is_ok() {
        eprintln!(
            "[it] SKIPPED replication_factor_too_high...: the dst broker ({}) accepts replication factor 3",
            rig.kind
        );
        return;
    }
    let topic = format!("{p}rf");
    src.create_topic(&topic, 1, &[]);
    src.produce(&topic, 0, &[numbered(0, 0, now_ms())]);

    let dir = tempfile::tempdir().expect("tempdir");
    let mut mm2 = rig.mm2(&format!("{p}.*"));
    mm2.set("replication.factor", "3");
    let port = free_port();
    let level = std::env::var("FERRY_IT_LOG").unwrap_or_else(|_| "info".into());
    let mut ferry = Ferry::start_with(
        &mm2.write(dir.path()),
        dir.path(),
        "rf",
        &["--metrics-addr", &format!("127.0.0.1:{port}")],
        &level,
    );
    let needle = "`replication.factor` is 3";
    ferry.wait_for_log(needle, WAIT);
    // Still running, and retrying at later refreshes (logged once a minute, counted in /status).
    wait_until(WAIT, "the error retried at a later refresh", || {
        ferry.assert_running();
        status_of(port).is_some_and(|status| {
            status["flows"][0]["errors"].as_array().into_iter().flatten().any(|e| {
                e["stage"] == "create_topic" && e["topic"] == format!("src.{topic}") && e["count"].as_u64() >= Some(2)
            })
        })
    });
    let line = ferry.stderr().lines().find(|l| l.contains(needle)).map(str::to_string).unwrap_or_default();
    assert!(line.contains("ERROR"), "the problem should be logged as an error: {line}");
    assert!(line.contains(&topic), "the error should name the topic: {line}");
    assert_eq!(dst.partitions(&format!("src.{topic}")), None);
    ferry.stop(Duration::from_secs(10));
}

#[test]
fn json_logs_show_lifecycle_events_and_never_a_secret() {
    let rig = Rig::get();
    let (src, dst) = (rig.source(), rig.target());
    let p = prefix();
    let topic = format!("{p}logs");
    src.create_topic(&topic, 2, &[]);
    let ts = now_ms() - 1000;
    for partition in 0..2 {
        src.produce(&topic, partition, &(0..5).map(|i| numbered(partition, i, ts + i)).collect::<Vec<_>>());
    }
    let secrets = ["hunter2-quoted", "hunter2-jaas", "hunter2-producer"];
    let dir = tempfile::tempdir().expect("tempdir");
    let mut mm2 = rig.mm2(&format!("{p}.*"));
    // Harmless on PLAINTEXT listeners: librdkafka only uses them for SSL / SASL connections.
    mm2.set("src.ssl.key.password", &format!("\"{}\"", secrets[0]));
    mm2.set(
        "dst.sasl.jaas.config",
        &format!(
            "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"ferry\" password=\"{}\";",
            secrets[1]
        ),
    );
    mm2.set("dst.producer.ssl.keystore.password", secrets[2]);
    let config = mm2.write(dir.path());
    let mut ferry = Ferry::start_with(&config, dir.path(), "json-logs", &["--log-format", "json"], "debug");
    let remote = format!("src.{topic}");
    wait_until(WAIT, "records copied", || {
        dst.partitions(&remote) == Some(2) && (0..2).map(|p| dst.high_watermark(&remote, p)).sum::<i64>() == 10
    });
    ferry.stop(Duration::from_secs(10));

    let (code, check_out, check_err) = ferry_output(&["check", "--offline", config.to_str().expect("utf-8 path")]);
    assert_eq!(code, Some(0), "{check_err}");
    let logs = ferry.stderr();
    for line in logs.lines() {
        let event: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
        assert!(event.get("level").is_some() && event.get("fields").is_some(), "{line}");
    }
    for event in ["flow started", "remote topic created", "partition started", "flow stopped, progress stored"] {
        assert!(logs.contains(event), "no `{event}` line in the logs:\n{logs}");
    }
    assert!(logs.contains("src.ssl.key.password"), "the quoted-value warning names the key:\n{logs}");
    for secret in secrets {
        for (name, text) in [("the logs", &logs), ("ferry check", &check_out), ("ferry check's stderr", &check_err)] {
            assert!(!text.contains(secret), "`{secret}` leaked into {name}:\n{text}");
        }
    }
}
