//! Topic config sync while running (real Kafka only: Tansu reports every config as a default): a
//! source topic's changed configs reach its remote topic within a `sync.topic.configs.interval.seconds`,
//! excluded keys never do, an override removed on the source is removed on the target
//! (`use.defaults.from = target`), and a synced topic is left alone (no further alterations or log lines).

#![cfg(feature = "kafka-integration-tests")]

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::*;
use rdkafka::admin::{ConfigEntry, ConfigSource};

/// The value of `name` on `topic` when it is set on the topic itself (not a default).
fn override_of(configs: &HashMap<String, ConfigEntry>, name: &str) -> Option<String> {
    configs.get(name).filter(|e| e.source == ConfigSource::DynamicTopic).and_then(|e| e.value.clone())
}

#[test]
fn source_config_changes_reach_the_remote_topic_through_the_filter() {
    let rig = Rig::get();
    if rig.is_tansu() {
        eprintln!("[it] SKIPPED topic config sync: Tansu reports every topic config as a default");
        return;
    }
    let (src, dst) = (rig.source(), rig.target());
    let p = prefix();
    let topic = format!("{p}cfg");
    let remote = format!("src.{topic}");
    src.create_topic(&topic, 1, &[("retention.ms", "3600000")]);

    let dir = tempfile::tempdir().expect("tempdir");
    let mut mm2 = rig.mm2(&topic);
    mm2.set("sync.topic.configs.interval.seconds", "2").set("config.properties.exclude", "segment.ms");
    let mut ferry = Ferry::start(&mm2.write(dir.path()), dir.path(), "topic-sync");

    wait_until(WAIT, "the remote topic is created with the source's retention.ms", || {
        dst.partitions(&remote).is_some()
            && override_of(&dst.topic_configs(&remote), "retention.ms").as_deref() == Some("3600000")
    });

    // Changed while running: a changed override, a new one, and an excluded key.
    src.set_topic_configs(
        &topic,
        &[("retention.ms", "7200000"), ("max.message.bytes", "200000"), ("segment.ms", "600000")],
    );
    wait_until(Duration::from_secs(30), "retention.ms and max.message.bytes reach the remote topic", || {
        let configs = dst.topic_configs(&remote);
        override_of(&configs, "retention.ms").as_deref() == Some("7200000")
            && override_of(&configs, "max.message.bytes").as_deref() == Some("200000")
    });
    ferry.wait_for_log("topic configs synced", Duration::from_secs(5));
    assert_eq!(override_of(&dst.topic_configs(&remote), "segment.ms"), None, "segment.ms is excluded");

    // The retention.ms override removed on the source: the target falls back to its own default.
    src.set_topic_configs(&topic, &[("max.message.bytes", "200000"), ("segment.ms", "600000")]);
    wait_until(Duration::from_secs(30), "the retention.ms override is removed from the remote topic", || {
        override_of(&dst.topic_configs(&remote), "retention.ms").is_none()
    });
    let configs = dst.topic_configs(&remote);
    assert_eq!(override_of(&configs, "max.message.bytes").as_deref(), Some("200000"));
    assert_eq!(override_of(&configs, "segment.ms"), None, "segment.ms is excluded");

    // In sync now: the next passes send nothing and log nothing.
    std::thread::sleep(Duration::from_secs(1));
    let synced = ferry.stderr().matches("topic configs synced").count();
    std::thread::sleep(Duration::from_secs(5));
    ferry.assert_running();
    let log = ferry.stderr();
    assert_eq!(log.matches("topic configs synced").count(), synced, "a synced topic was altered again\n{log}");
    assert!(!log.contains("cannot sync topic configs"), "{}", ferry.stderr_tail(40));
    ferry.stop(Duration::from_secs(10));
}
