//! End-to-end tests of `mm2.properties` parsing with realistic files.

use ferry_engine::policy::ReplicationPolicy;
use ferry_engine::topic_config::DefaultsFrom;
use ferry_engine::{load_file, parse_str, ConfigError, Mm2Config};
use std::time::Duration;

const SEED: &str = r#"
clusters = src, dest
src.bootstrap.servers = 127.0.0.1:9092
dest.bootstrap.servers = 127.0.0.1:9093
src->dest.enabled = true
src->dest.topics = foo-.*
groups=.*
topics.blacklist="__.*"
replication.factor=3
"#;

fn parse(text: &str) -> Mm2Config {
    match parse_str(text) {
        Ok(c) => c,
        Err(e) => panic!("unexpected error: {e}"),
    }
}

fn err(text: &str) -> ConfigError {
    match parse_str(text) {
        Ok(c) => panic!("expected an error, got flows {:?}", c.flows.iter().map(|f| &f.name).collect::<Vec<_>>()),
        Err(e) => e,
    }
}

const BASE: &str =
    "clusters=src,dest\nsrc.bootstrap.servers=s:9092\ndest.bootstrap.servers=d:9092\nsrc->dest.enabled=true\n";

fn with(extra: &str) -> String {
    format!("{BASE}{extra}\n")
}

#[test]
fn seed_file() {
    let cfg = parse(SEED);
    assert_eq!(cfg.clusters, vec!["src", "dest"]);
    assert_eq!(cfg.cluster_configs["src"].bootstrap_servers, "127.0.0.1:9092");
    assert_eq!(cfg.cluster_configs["dest"].bootstrap_servers, "127.0.0.1:9093");
    assert_eq!(cfg.flows.len(), 1);
    let f = &cfg.flows[0];
    assert_eq!((f.source.as_str(), f.target.as_str(), f.name.as_str()), ("src", "dest", "src->dest"));
    assert!(f.topics.accepts("foo-1"));
    assert!(!f.topics.accepts("bar"));
    assert!(f.should_replicate_topic("foo-1"));
    assert!(!f.should_replicate_topic("bar"));
    assert_eq!(f.replication_factor, 3);
    assert_eq!(f.remote_topic("foo-1"), "src.foo-1");
    // The quoted blacklist replaces the default exclude and, being literal, matches nothing...
    assert_eq!(f.settings["topics.exclude"], "\"__.*\"");
    let f_all = parse(&SEED.replace("src->dest.topics = foo-.*", ""));
    assert!(f_all.flows[0].topics.accepts("__x"), "the quoted exclude no longer excludes __x");
    // ...but the internal-topic rule still refuses to replicate __x.
    assert!(!f_all.flows[0].should_replicate_topic("__x"));
    assert!(f_all.flows[0].topics.accepts("foo.replica"), "default exclude replaced");
    // Warnings: quoted value and the removed blacklist key, both naming the key.
    let msgs: Vec<String> =
        cfg.warnings.iter().filter(|w| w.key == "topics.blacklist").map(|w| w.message.clone()).collect();
    assert!(msgs.iter().any(|m| m.contains("quotes")), "{msgs:?}");
    assert!(msgs.iter().any(|m| m.contains("removed")), "{msgs:?}");
    assert!(cfg.flows[0].groups.accepts("app"));
}

#[test]
fn defaults() {
    let cfg = parse(BASE);
    let f = &cfg.flows[0];
    assert_eq!(f.replication_factor, 2);
    assert!(f.sync_topic_configs_enabled);
    assert_eq!(f.sync_topic_configs_interval, Duration::from_secs(600));
    assert!(f.sync_topic_acls_enabled);
    assert_eq!(f.sync_topic_acls_interval, Duration::from_secs(600));
    assert!(f.refresh_topics_enabled);
    assert_eq!(f.refresh_topics_interval, Duration::from_secs(600));
    assert!(f.heartbeats_replication_enabled);
    assert_eq!(f.use_defaults_from, DefaultsFrom::Target);
    assert_eq!(f.offset_flush_interval, Duration::from_millis(1000));
    assert_eq!(f.offset_storage_topic, "mm2-offsets.src.internal");
    assert_eq!(f.offset_storage_partitions, 25);
    assert_eq!(f.offset_storage_replication_factor, 3);
    assert_eq!(f.policy, ReplicationPolicy::default());
    assert!(!f.config_filter.should_replicate("min.insync.replicas"));
    assert!(f.config_filter.should_replicate("retention.ms"));
    assert!(!f.groups.accepts("console-consumer-1"));
    assert!(!f.topics.accepts("x.internal"));
    assert_eq!(f.ferry, ferry_engine::FerrySettings { group_id: "ferry.src->dest".into(), ..Default::default() });
    assert!(!f.exactly_once);
    assert_eq!(f.settings["replication.factor"], "2");
    assert_eq!(f.settings["sync.group.offsets.enabled"], "false");
    assert_eq!(f.settings["offset.flush.interval.ms"], "1000");
    assert_eq!(f.settings["ferry.producer.workers"], "2");
    assert!(cfg.warnings.is_empty(), "{:?}", cfg.warnings);
    assert_eq!(f.source_consumer.props["bootstrap.servers"], "s:9092");
    assert_eq!(f.target_producer.props["bootstrap.servers"], "d:9092");
    assert_eq!(f.target_admin.props["bootstrap.servers"], "d:9092");
    assert_eq!(f.source_admin.props["bootstrap.servers"], "s:9092");
    assert_eq!(f.target_consumer.props["bootstrap.servers"], "d:9092");
}

#[test]
fn properties_syntax_continuations_escapes_colons() {
    let text = "clusters : src, \\\n    dest\n\
                src.bootstrap.servers: s:9092\n\
                dest.bootstrap.servers   d:9092\n\
                ! a comment\n\
                # another\n\
                src->dest.enabled=TRUE\n\
                src->dest.topics = foo, \\\n   bar\\u002d.*\n";
    let cfg = parse(text);
    assert_eq!(cfg.clusters, vec!["src", "dest"]);
    assert_eq!(cfg.cluster_configs["src"].bootstrap_servers, "s:9092");
    assert_eq!(cfg.cluster_configs["dest"].bootstrap_servers, "d:9092");
    let f = &cfg.flows[0];
    assert!(f.topics.accepts("foo"));
    assert!(f.topics.accepts("bar-1"));
    assert!(!f.topics.accepts("baz"));
}

#[test]
fn override_order_connector_keys() {
    let cfg = parse(&with(
        "topics=a.*\nreplication.factor=4\nsrc->dest.replication.factor=5\n\
         dest.enabled=x\ndest->src.enabled=true\nsync.topic.configs.enabled=false\n\
         dest->src.sync.topic.configs.enabled=true",
    ));
    let sd = cfg.flow("src->dest").expect("src->dest");
    let ds = cfg.flow("dest->src").expect("dest->src");
    assert_eq!(sd.replication_factor, 5);
    assert_eq!(ds.replication_factor, 4);
    assert!(sd.topics.accepts("abc") && ds.topics.accepts("abc"));
    assert!(!sd.sync_topic_configs_enabled);
    assert!(ds.sync_topic_configs_enabled);
    // Flows come out in file order of their enabled keys.
    assert_eq!(cfg.flows.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(), vec!["src->dest", "dest->src"]);
}

#[test]
fn override_order_worker_keys() {
    let cfg = parse(&with(
        "dest.offset.flush.interval.ms=250\nsrc.offset.flush.interval.ms=999\ndest.offset.storage.topic=custom-offsets",
    ));
    let f = &cfg.flows[0];
    assert_eq!(f.offset_flush_interval, Duration::from_millis(250));
    assert_eq!(f.offset_storage_topic, "custom-offsets");
    let cfg = parse(&with("dest.offset.flush.interval.ms=250\noffset.flush.interval.ms=60000\noffset.storage.replication.factor=-1\noffset.storage.partitions=5"));
    let f = &cfg.flows[0];
    assert_eq!(f.offset_flush_interval, Duration::from_millis(60000));
    assert_eq!(f.offset_storage_replication_factor, -1);
    assert_eq!(f.offset_storage_partitions, 5);
}

#[test]
fn legacy_aliases() {
    let cfg = parse(&with(
        "src->dest.topics.whitelist=keep.*\ngroups.blacklist=bad.*\nconfig.properties.blacklist=retention\\\\.ms",
    ));
    let f = &cfg.flows[0];
    assert!(f.topics.accepts("keep1"));
    assert!(!f.topics.accepts("other"));
    assert!(!f.groups.accepts("bad1"));
    assert!(f.groups.accepts("console-consumer-1"), "default groups.exclude replaced");
    assert!(!f.config_filter.should_replicate("retention.ms"));
    for k in ["src->dest.topics.whitelist", "groups.blacklist", "config.properties.blacklist"] {
        assert!(cfg.warnings.iter().any(|w| w.key == k), "no warning for {k}: {:?}", cfg.warnings);
    }
    // The modern key wins when both are set.
    let cfg = parse(&with("topics.exclude=x.*\nsrc->dest.topics.blacklist=y.*"));
    let f = &cfg.flows[0];
    assert!(!f.topics.accepts("x1"));
    assert!(f.topics.accepts("y1"));
}

#[test]
fn empty_topics_matches_nothing() {
    let cfg = parse(&with("src->dest.topics="));
    assert!(!cfg.flows[0].should_replicate_topic("foo"));
    // Heartbeats are still replicated (KIP-1089) unless disabled.
    assert!(cfg.flows[0].should_replicate_topic("heartbeats"));
    let cfg = parse(&with("src->dest.topics=\nheartbeats.replication.enabled=false"));
    assert!(!cfg.flows[0].should_replicate_topic("heartbeats"));
}

#[test]
fn unknown_keys_warn_but_load() {
    let cfg = parse(&with(
        "replicaton.factor=3\nsrc->dest.topic=foo\nferry.producer.wrkers=3\nsrc.consumer.max.poll.records=10",
    ));
    let keys: Vec<&str> = cfg.warnings.iter().map(|w| w.key.as_str()).collect();
    for k in ["replicaton.factor", "src->dest.topic", "ferry.producer.wrkers", "src.consumer.max.poll.records"] {
        assert!(keys.contains(&k), "missing warning for {k}: {keys:?}");
    }
    for w in &cfg.warnings {
        let line = w.to_string();
        assert!(line.starts_with(&format!("key `{}`: ", w.key)) && !line.contains('\n'), "{line}");
    }
}

#[test]
fn quiet_for_a_rich_real_world_file() {
    let text = r#"
clusters = primary, backup
primary.bootstrap.servers = p1:9092,p2:9092
backup.bootstrap.servers = b1:9092
security.protocol = SASL_SSL
sasl.mechanism = SCRAM-SHA-512
sasl.jaas.config = org.apache.kafka.common.security.scram.ScramLoginModule required username="mm2" password="hunter2";
ssl.ca.location = /etc/ssl/ca.pem
primary->backup.enabled = true
primary->backup.topics = .*
primary->backup.groups = .*
primary->backup.emit.checkpoints.enabled = true
primary->backup.sync.group.offsets.enabled = true
backup->primary.enabled = false
backup->primary.emit.heartbeats.enabled = false
replication.factor = 3
checkpoints.topic.replication.factor = 3
heartbeats.topic.replication.factor = 3
offset-syncs.topic.replication.factor = 3
offset.storage.replication.factor = 3
status.storage.replication.factor = 3
config.storage.replication.factor = 3
tasks.max = 8
refresh.topics.interval.seconds = 30
sync.topic.acls.enabled = false
primary.consumer.fetch.min.bytes = 1048576
backup.producer.compression.type = zstd
backup.producer.batch.size = 262144
"#;
    let cfg = parse(text);
    let f = &cfg.flows[0];
    assert_eq!(cfg.flows.len(), 1);
    assert_eq!(f.refresh_topics_interval, Duration::from_secs(30));
    assert_eq!(f.source_consumer.props["sasl.username"], "mm2");
    assert_eq!(f.source_consumer.props["sasl.password"], "hunter2");
    assert_eq!(f.source_consumer.props["security.protocol"], "sasl_ssl");
    assert_eq!(f.source_consumer.props["fetch.min.bytes"], "1048576");
    assert_eq!(f.target_producer.props["compression.type"], "zstd");
    assert_eq!(f.target_producer.masked()["sasl.password"], "********");
    assert_eq!(f.settings["tasks.max"], "8");
    // Only the (informational) JAAS translation notes; no unknown-key warnings.
    assert!(cfg.warnings.iter().all(|w| w.key == "sasl.jaas.config"), "{:?}", cfg.warnings);
}

#[test]
fn policies_from_config() {
    let cfg = parse(BASE);
    let f = &cfg.flows[0];
    assert!(!f.should_replicate_topic("dest.foo"), "loop back to dest");
    assert!(f.should_replicate_topic("other.foo"));
    assert!(!f.should_replicate_topic("mm2-offset-syncs.dest.internal"));
    assert!(!f.should_replicate_topic("src.checkpoints.internal"));
    assert!(f.should_replicate_topic("heartbeats"));
    assert_eq!(f.remote_topic("heartbeats"), "src.heartbeats");

    let cfg = parse(&with("replication.policy.class=org.apache.kafka.connect.mirror.IdentityReplicationPolicy"));
    let f = &cfg.flows[0];
    assert_eq!(f.policy.name(), "IdentityReplicationPolicy");
    assert_eq!(f.remote_topic("foo"), "foo");
    assert_eq!(f.remote_topic("heartbeats"), "src.heartbeats");
    assert!(f.should_replicate_topic("dest.foo"), "identity cannot detect cycles");
    assert!(!f.should_replicate_topic("dest.heartbeats"));

    let cfg = parse(&with("src->dest.replication.policy.class=IdentityReplicationPolicy"));
    assert_eq!(cfg.flows[0].policy.name(), "IdentityReplicationPolicy");

    let cfg = parse(&with("replication.policy.separator=_\nreplication.policy.internal.topic.separator.enabled=false"));
    let f = &cfg.flows[0];
    assert_eq!(f.remote_topic("foo"), "src_foo");
    assert!(!f.should_replicate_topic("dest_foo"));
    assert_eq!(f.policy.offset_syncs_topic("dest"), "mm2-offset-syncs.dest.internal");
}

#[test]
fn use_defaults_from_and_intervals() {
    let cfg = parse(&with(
        "use.defaults.from=SOURCE\nsync.topic.configs.interval.seconds=-1\nrefresh.topics.interval.seconds=5\n\
         src->dest.sync.topic.acls.interval.seconds=7",
    ));
    let f = &cfg.flows[0];
    assert!(f.sync_topic_acls_enabled);
    assert_eq!(f.sync_topic_acls_interval, Duration::from_secs(7));
    assert_eq!(f.use_defaults_from, DefaultsFrom::Source);
    assert!(!f.sync_topic_configs_enabled, "negative interval disables, as in MM2");
    assert_eq!(f.refresh_topics_interval, Duration::from_secs(5));
    assert!(cfg.warnings.iter().any(|w| w.key == "sync.topic.configs.interval.seconds"));
}

#[test]
fn ferry_keys() {
    let cfg = parse(&with("ferry.producer.workers=4\nsrc->dest.ferry.batch.max.records=500\nferry.shutdown.timeout.ms=3000\nferry.queue.batches=8\nferry.batch.max.bytes=65536"));
    let f = &cfg.flows[0].ferry;
    assert_eq!(f.producer_workers, 4);
    assert_eq!(f.batch_max_records, 500);
    assert_eq!(f.queue_batches, 8);
    assert_eq!(f.batch_max_bytes, 65536);
    assert_eq!(f.shutdown_timeout, Duration::from_millis(3000));
}

#[test]
fn restrict_to_targets() {
    let mut cfg = parse(&with("dest->src.enabled=true"));
    assert_eq!(cfg.flows.len(), 2);
    cfg.restrict_to_targets(&["src".to_string()]).expect("known alias");
    assert_eq!(cfg.flows.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(), vec!["dest->src"]);
    let e = cfg.restrict_to_targets(&["nope".to_string()]).expect_err("unknown");
    assert_eq!(e.key, "--clusters");
    assert!(e.to_string().contains("nope"));
}

#[test]
fn disabled_and_absent_flows() {
    let cfg = parse("clusters=a,b\na->b.enabled=false\n");
    assert!(cfg.flows.is_empty());
    let cfg = parse("clusters=a,b\nbootstrap.servers=x:1\na->b.enabled=true\n");
    assert_eq!(cfg.flows.len(), 1);
    assert_eq!(cfg.cluster_configs["b"].bootstrap_servers, "x:1");
}

#[test]
fn errors_name_their_key() {
    let cases: &[(&str, &str)] = &[
        ("src.bootstrap.servers=x\n", "clusters"),
        ("clusters= , \n", "clusters"),
        ("clusters=src,dest\nsrc.bootstrap.servers=s:1\nsrc->dest.enabled=true\n", "dest.bootstrap.servers"),
        (
            "clusters=src,dest\nsrc.bootstrap.servers=s:1\ndest.bootstrap.servers=d:1\nsrc->other.enabled=true\n",
            "src->other.enabled",
        ),
        ("clusters=src,dest\nsrc.bootstrap.servers=s:1\nsrc->src.enabled=true\n", "src->src.enabled"),
        ("clusters=src,dest\nsrc->dest.enabled=maybe\n", "src->dest.enabled"),
    ];
    for (text, key) in cases {
        let e = err(text);
        assert_eq!(&e.key, key, "{text:?} gave {e}");
        assert!(e.to_string().starts_with(&format!("key `{key}`: ")));
    }
    let flow_cases: &[(&str, &str)] = &[
        ("src->dest.topics=foo(", "src->dest.topics"),
        ("topics.exclude=[", "topics.exclude"),
        ("groups=*", "groups"),
        ("config.properties.exclude=(", "config.properties.exclude"),
        ("src->dest.topics.blacklist=(", "src->dest.topics.blacklist"),
        ("replication.factor=three", "replication.factor"),
        ("replication.factor=0", "replication.factor"),
        ("src->dest.replication.factor=-3", "src->dest.replication.factor"),
        ("sync.topic.configs.enabled=yes", "sync.topic.configs.enabled"),
        ("refresh.topics.interval.seconds=0", "refresh.topics.interval.seconds"),
        ("sync.topic.acls.enabled=on", "sync.topic.acls.enabled"),
        ("src->dest.sync.topic.acls.interval.seconds=x", "src->dest.sync.topic.acls.interval.seconds"),
        ("refresh.topics.interval.seconds=soon", "refresh.topics.interval.seconds"),
        ("heartbeats.replication.enabled=1", "heartbeats.replication.enabled"),
        ("replication.policy.class=com.example.MyPolicy", "replication.policy.class"),
        (
            "src->dest.replication.policy.class=org.apache.kafka.connect.mirror.Nope",
            "src->dest.replication.policy.class",
        ),
        ("replication.policy.separator=", "replication.policy.separator"),
        ("use.defaults.from=both", "use.defaults.from"),
        ("offset.flush.interval.ms=-5", "offset.flush.interval.ms"),
        ("dest.offset.flush.interval.ms=0", "dest.offset.flush.interval.ms"),
        ("offset.storage.partitions=0", "offset.storage.partitions"),
        ("dest.offset.storage.replication.factor=x", "dest.offset.storage.replication.factor"),
        ("ferry.producer.workers=0", "ferry.producer.workers"),
        ("src->dest.ferry.shutdown.timeout.ms=-1", "src->dest.ferry.shutdown.timeout.ms"),
    ];
    for (extra, key) in flow_cases {
        let e = err(&with(extra));
        assert_eq!(&e.key, key, "{extra:?} gave {e}");
    }
    assert!(err(&with("src->dest.topics=foo(")).problem.contains("invalid regex"));
}

#[test]
fn disabled_flow_values_are_not_validated() {
    // MM2 only builds connectors for enabled flows; a bad value on a disabled flow is not fatal.
    let cfg = parse("clusters=a,b\na.bootstrap.servers=x:1\nb.bootstrap.servers=y:1\na->b.enabled=false\na->b.replication.factor=zz\n");
    assert!(cfg.flows.is_empty());
}

#[test]
fn unreadable_file_names_the_path() {
    let path = std::path::Path::new("/nonexistent/ferry/mm2.properties");
    let e = load_file(path).expect_err("missing file");
    assert_eq!(e.key, path.display().to_string());
}

#[test]
fn load_file_reads_text() {
    let dir = std::env::temp_dir().join(format!("ferry-engine-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let path = dir.join("mm2.properties");
    std::fs::write(&path, SEED).expect("write");
    let cfg = load_file(&path).expect("loads");
    assert_eq!(cfg.flows.len(), 1);
    let _ = std::fs::remove_dir_all(&dir);
}
