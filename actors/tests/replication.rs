//! Record and topic replication against real brokers: the example scenario (exact copies per
//! partition, topic configs, filters, internal topics), the identity policy, and loop prevention.

#![cfg(feature = "kafka-integration-tests")]

mod common;

use std::collections::BTreeMap;

use common::*;
use rdkafka::admin::ConfigSource;

/// Records exercising every field: keys and null keys, null values, duplicate header names, binary
/// and null header values, explicit timestamps (recent, so that retention never removes them).
fn varied_records(partition: i32, count: usize, base_ts: i64) -> Vec<Rec> {
    (0..count)
        .map(|i| {
            let key = format!("k{partition}-{i}");
            let value = format!("value {partition}/{i} {}", "x".repeat(i % 7));
            let binary: Vec<u8> = vec![0x00, 0xff, 0x80, i as u8, 0x7f, 0x0a, 0x00];
            let key = if i % 4 == 3 { None } else { Some(key.as_bytes()) };
            let value = if i % 5 == 2 { None } else { Some(value.as_bytes()) };
            let headers: Vec<(&str, Option<&[u8]>)> = match i % 3 {
                0 => vec![("dup", Some(b"first")), ("bin", Some(&binary)), ("dup", Some(b"second")), ("nil", None)],
                1 => vec![("nil", None), ("dup", Some(b"")), ("dup", None)],
                _ => vec![],
            };
            Rec::new(key, value, &headers, base_ts + (i as i64) * 7 + i64::from(partition))
        })
        .collect()
}

#[test]
fn example_scenario_copies_records_topics_and_configs() {
    let rig = Rig::get();
    let (src, dst) = (rig.source(), rig.target());
    let p = prefix();
    let internal_prefix = format!("__{}", p.trim_end_matches('-'));
    let one = format!("{p}one");
    let four = format!("{p}four");
    let skipped = format!("{p}skip-me");
    let internal = format!("{internal_prefix}-hidden");
    let internal_suffix = format!("{p}logs.internal");

    src.create_topic(&one, 1, &[]);
    src.create_topic(
        &four,
        4,
        &[("retention.ms", "123456789"), ("max.message.bytes", "2000000"), ("min.insync.replicas", "1")],
    );
    src.create_topic(&skipped, 1, &[]);
    src.create_topic(&internal, 1, &[]);
    src.create_topic(&internal_suffix, 1, &[]);

    let base_ts = now_ms() - 600_000;
    let mut expected: BTreeMap<(String, i32), Vec<Rec>> = BTreeMap::new();
    expected.insert((one.clone(), 0), src.produce(&one, 0, &varied_records(0, 60, base_ts)));
    for partition in 0..4 {
        let count = 20 + 10 * partition as usize;
        expected.insert(
            (four.clone(), partition),
            src.produce(&four, partition, &varied_records(partition, count, base_ts)),
        );
    }
    for topic in [&skipped, &internal, &internal_suffix] {
        src.produce(topic, 0, &varied_records(0, 5, base_ts));
    }

    let dir = tempfile::tempdir().expect("tempdir");
    let mut mm2 = rig.mm2(&format!("{p}.*, {internal_prefix}.*"));
    // Replaces the default exclusions (`__.*`, `.*[\-\.]internal`, ...): internal topics must stay
    // uncopied anyway, as in MM2's isInternalTopic.
    mm2.set("src->dst.topics.exclude", &format!("{p}skip.*"));
    let mut ferry = Ferry::start(&mm2.write(dir.path()), dir.path(), "example");

    let remote = |t: &str| format!("src.{t}");
    let counts = |topic: &str| -> BTreeMap<i32, i64> {
        expected.iter().filter(|((t, _), _)| t == topic).map(|((_, p), r)| (*p, r.len() as i64)).collect()
    };
    wait_for_counts(&dst, &remote(&one), &counts(&one), &mut ferry);
    wait_for_counts(&dst, &remote(&four), &counts(&four), &mut ferry);

    // Partition counts and exact per-partition copies.
    assert_eq!(dst.partitions(&remote(&one)), Some(1));
    assert_eq!(dst.partitions(&remote(&four)), Some(4));
    for topic in [&one, &four] {
        let copied = dst.read_topic(&remote(topic));
        for (partition, records) in &copied {
            let source = &expected[&(topic.clone(), *partition)];
            assert_same_records(&format!("{}/{partition}", remote(topic)), source, records);
        }
    }

    // Topic configs: non-default source configs copied, excluded ones not.
    let configs = dst.topic_configs(&remote(&four));
    let shown = |name: &str| {
        configs.get(name).map(|e| format!("{:?} ({:?})", e.value, e.source)).unwrap_or_else(|| "absent".into())
    };
    for (name, value) in [("retention.ms", "123456789"), ("max.message.bytes", "2000000")] {
        let entry = configs.get(name).unwrap_or_else(|| panic!("dst has no `{name}` entry"));
        assert_eq!(entry.value.as_deref(), Some(value), "`{name}` on the remote topic: {}", shown(name));
        assert_eq!(entry.source, ConfigSource::DynamicTopic, "`{name}` should be a topic override: {}", shown(name));
    }
    let mir = configs.get("min.insync.replicas").expect("dst has a `min.insync.replicas` entry");
    assert_ne!(
        mir.source,
        ConfigSource::DynamicTopic,
        "`min.insync.replicas` is excluded by default and must not be set on the remote topic: {}",
        shown("min.insync.replicas")
    );
    let plain = dst.topic_configs(&remote(&one));
    assert_ne!(
        plain.get("retention.ms").map(|e| &e.source),
        Some(&ConfigSource::DynamicTopic),
        "a topic with default configs must not get overrides"
    );

    // Excluded and internal topics: decided in the same discovery pass that created the others, and
    // still absent after a few more refreshes.
    ferry.wait_for_log("remote topic created", WAIT);
    let before = ferry.stderr().matches("remote topic created").count();
    // Grace period for an absence check: three more discovery refreshes (1 s apart).
    std::thread::sleep(std::time::Duration::from_secs(3));
    ferry.assert_running();
    let topics = dst.topics();
    for topic in [&skipped, &internal, &internal_suffix] {
        for candidate in [remote(topic), topic.to_string()] {
            assert!(!topics.contains_key(&candidate), "`{topic}` must not be replicated, but dst has `{candidate}`");
        }
    }
    assert_eq!(ferry.stderr().matches("remote topic created").count(), before, "{}", ferry.stderr_tail(30));
    ferry.stop(std::time::Duration::from_secs(10));
}

#[test]
fn identity_policy_keeps_topic_names() {
    let rig = Rig::get();
    let (src, dst) = (rig.source(), rig.target());
    let p = prefix();
    let topic = format!("{p}same");
    let expected = src.seed_numbered(&topic, 2, 25);

    let dir = tempfile::tempdir().expect("tempdir");
    let mut mm2 = rig.mm2(&format!("{p}.*"));
    mm2.set("replication.policy.class", "org.apache.kafka.connect.mirror.IdentityReplicationPolicy");
    let mut ferry = Ferry::start(&mm2.write(dir.path()), dir.path(), "identity");
    let counts = expected.iter().map(|(p, r)| (*p, r.len() as i64)).collect();
    wait_for_counts(&dst, &topic, &counts, &mut ferry);

    assert_eq!(dst.partitions(&topic), Some(2));
    assert_eq!(dst.partitions(&format!("src.{topic}")), None, "the identity policy must not prefix names");
    let copied = dst.read_topic(&topic);
    for (partition, records) in &copied {
        assert_same_records(&format!("{topic}/{partition} on dst"), &expected[partition], records);
    }
    let progress = dst.read_progress(&p);
    ferry.stop(std::time::Duration::from_secs(10));
    let progress_after = dst.read_progress(&p);
    for partition in 0..2 {
        assert_eq!(
            progress_after.get(&(topic.clone(), partition)),
            Some(&24),
            "progress keeps the source topic name; before stop: {progress:?}"
        );
    }
}

#[test]
fn topics_already_prefixed_with_the_target_alias_are_not_copied() {
    let rig = Rig::get();
    let (src, dst) = (rig.source(), rig.target());
    let p = prefix();
    // `dst.<...>` on src came from dst: copying it back would make a loop.
    let looped = format!("dst.{p}loop");
    let control = format!("{p}control");
    src.create_topic(&looped, 1, &[]);
    src.create_topic(&control, 1, &[]);
    let ts = now_ms();
    src.produce(&looped, 0, &[numbered(0, 0, ts)]);
    src.produce(&control, 0, &[numbered(0, 0, ts)]);

    let dir = tempfile::tempdir().expect("tempdir");
    let mm2 = rig.mm2(&format!("dst\\.{p}.*, {p}.*"));
    let mut ferry = Ferry::start(&mm2.write(dir.path()), dir.path(), "loop");
    // Both topics existed before ferry started, so the pass that created the control topic's remote
    // also decided about the looped one.
    wait_for_counts(&dst, &format!("src.{control}"), &BTreeMap::from([(0, 1)]), &mut ferry);
    // Grace period for an absence check: two more discovery refreshes (1 s apart).
    std::thread::sleep(std::time::Duration::from_secs(2));
    ferry.assert_running();
    let topics = dst.topics();
    assert!(!topics.contains_key(&format!("src.{looped}")), "`{looped}` was copied back as `src.{looped}`");
    ferry.stop(std::time::Duration::from_secs(10));
}

#[test]
fn check_lists_the_topics_that_match_now() {
    let rig = Rig::get();
    let src = rig.source();
    let p = prefix();
    src.create_topic(&format!("{p}a"), 2, &[]);
    src.create_topic(&format!("{p}skip"), 1, &[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut mm2 = rig.mm2(&format!("{p}.*"));
    mm2.set("src->dst.topics.exclude", &format!("{p}skip"));
    let file = mm2.write(dir.path());
    let (code, stdout, stderr) = ferry_output(&["check", file.to_str().expect("utf-8 path")]);
    assert_eq!(code, Some(0), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains(&format!("{p}a (2 partitions) -> src.{p}a")), "matching topic listed:\n{stdout}");
    assert!(!stdout.contains(&format!("{p}skip (")), "excluded topic not listed:\n{stdout}");
    assert!(rig.target().partitions(&format!("src.{p}a")).is_none(), "check must not create remote topics");
}

#[test]
fn several_source_consumers_copy_every_partition_in_order() {
    let rig = Rig::get();
    let (src, dst) = (rig.source(), rig.target());
    let p = prefix();
    let topic = format!("{p}spread");
    let remote = format!("src.{topic}");
    let partitions = 6;
    src.create_topic(&topic, partitions, &[]);
    let ts = now_ms() - 1000;
    let mut expected = BTreeMap::new();
    for partition in 0..partitions {
        let records: Vec<Rec> = (0..150).map(|i| numbered(partition, i, ts + i)).collect();
        expected.insert(partition, src.produce(&topic, partition, &records));
    }

    let dir = tempfile::tempdir().expect("tempdir");
    let mut mm2 = rig.mm2(&format!("{p}.*"));
    mm2.set("ferry.source.consumers", "3");
    let mut ferry = Ferry::start(&mm2.write(dir.path()), dir.path(), "three-consumers");
    let counts = expected.iter().map(|(p, r)| (*p, r.len() as i64)).collect();
    wait_for_counts(&dst, &remote, &counts, &mut ferry);
    // Records written while it runs reach every consumer's partitions too.
    for partition in 0..partitions {
        let more: Vec<Rec> = (150..200).map(|i| numbered(partition, i, ts + i)).collect();
        expected.get_mut(&partition).expect("partition").extend(src.produce(&topic, partition, &more));
    }
    let counts = expected.iter().map(|(p, r)| (*p, r.len() as i64)).collect();
    wait_for_counts(&dst, &remote, &counts, &mut ferry);
    ferry.stop(std::time::Duration::from_secs(10));

    let copied = dst.read_topic(&remote);
    for (partition, records) in &copied {
        assert_same_records(&format!("{remote}/{partition} on dst"), &expected[partition], records);
    }
    let progress = dst.read_progress(&p);
    for partition in 0..partitions {
        assert_eq!(progress.get(&(topic.clone(), partition)), Some(&199), "progress of {topic}/{partition}");
    }
}

#[test]
fn auto_sizing_measures_a_near_source_and_keeps_one_consumer() {
    let rig = Rig::get();
    let (src, dst) = (rig.source(), rig.target());
    let p = prefix();
    let topic = format!("{p}near");
    let expected = src.seed_numbered(&topic, 2, 20);
    let dir = tempfile::tempdir().expect("tempdir");
    // `ferry.source.consumers` is not set: `auto`, the default.
    let mut ferry = Ferry::start(&rig.mm2(&format!("{p}.*")).write(dir.path()), dir.path(), "auto-sizing");
    ferry.wait_for_log("sized from the round trip", std::time::Duration::from_secs(30));
    let line = ferry.stderr().lines().find(|l| l.contains("sized from the round trip")).unwrap_or_default().to_string();
    let field =
        |name: &str| line.split_whitespace().find_map(|w| w.strip_prefix(&format!("{name}="))).map(str::to_string);
    let rtt: f64 =
        field("round_trip_ms").and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("no round trip in: {line}"));
    assert!(rtt > 0.0 && rtt < 20.0, "a broker on loopback answers within 20 ms: {line}");
    assert_eq!(field("source_consumers").as_deref(), Some("1"), "{line}");
    assert!(field("partition_fetch_bytes").is_none(), "no fetch size chosen for a near source: {line}");
    let counts = expected.iter().map(|(p, r)| (*p, r.len() as i64)).collect();
    wait_for_counts(&dst, &format!("src.{topic}"), &counts, &mut ferry);
    ferry.stop(std::time::Duration::from_secs(10));
}
