//! Client property assembly and translation from realistic MM2 files.

use ferry_engine::client_props::{build, ClientRole, MASK};
use ferry_engine::parse_str;
use std::collections::BTreeMap;

const FILE: &str = r#"
clusters = src, dest
bootstrap.servers = fallback:9092
security.protocol = SSL
ssl.truststore.location = /etc/kafka/truststore.jks
ssl.truststore.password = changeit
src.bootstrap.servers = s1:9092,s2:9092
src.ssl.ca.location = /etc/ssl/src-ca.pem
src.ssl.key.password = keypass
src.consumer.fetch.max.wait.ms = 100
src.consumer.max.poll.records = 5000
src.consumer.key.deserializer = org.apache.kafka.common.serialization.ByteArrayDeserializer
src.consumer.isolation.level = read_committed
src.consumer.receive.buffer.bytes = 1048576
src.admin.request.timeout.ms = 30000
dest.producer.buffer.memory = 67108864
dest.producer.max.request.size = 10485760
dest.producer.compression.type = lz4
dest.producer.send.buffer.bytes = -1
dest.producer.enable.idempotence = false
src->dest.enabled = true
src->dest.consumer.auto.offset.reset = latest
src->dest.producer.linger.ms = 20
"#;

/// Per-role property maps (source consumer, source admin, target producer, target admin, target
/// consumer) and the `(key, message)` warnings.
type FlowProps = (Vec<BTreeMap<String, String>>, Vec<(String, String)>);

fn flow_props() -> FlowProps {
    let cfg = match parse_str(FILE) {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    };
    let f = &cfg.flows[0];
    let props = vec![
        f.source_consumer.props.clone(),
        f.source_admin.props.clone(),
        f.target_producer.props.clone(),
        f.target_admin.props.clone(),
        f.target_consumer.props.clone(),
    ];
    let warnings = cfg.warnings.iter().map(|w| (w.key.clone(), w.message.clone())).collect();
    (props, warnings)
}

#[test]
fn source_consumer() {
    let (p, _) = flow_props();
    let c = &p[0];
    assert_eq!(c["bootstrap.servers"], "s1:9092,s2:9092");
    assert_eq!(c["security.protocol"], "ssl");
    assert_eq!(c["ssl.ca.location"], "/etc/ssl/src-ca.pem");
    assert_eq!(c["fetch.wait.max.ms"], "100");
    assert_eq!(c["isolation.level"], "read_committed");
    assert_eq!(c["socket.receive.buffer.bytes"], "1048576");
    assert_eq!(c["auto.offset.reset"], "latest");
    assert_eq!(c["enable.auto.commit"], "false");
    assert_eq!(c["enable.auto.offset.store"], "false");
    for absent in [
        "max.poll.records",
        "key.deserializer",
        "fetch.max.wait.ms",
        "ssl.truststore.location",
        "ssl.truststore.password",
        "linger.ms",
        "request.timeout.ms",
    ] {
        assert!(!c.contains_key(absent), "{absent} leaked into {c:?}");
    }
}

#[test]
fn target_producer() {
    let (p, _) = flow_props();
    let c = &p[2];
    assert_eq!(c["bootstrap.servers"], "fallback:9092");
    assert_eq!(c["queue.buffering.max.kbytes"], "65536");
    assert_eq!(c["message.max.bytes"], "10485760");
    assert_eq!(c["compression.type"], "lz4");
    assert_eq!(c["socket.send.buffer.bytes"], "0");
    assert_eq!(c["enable.idempotence"], "false", "user value wins over ferry default");
    assert_eq!(c["acks"], "all");
    assert_eq!(c["linger.ms"], "20");
    assert_eq!(c["partitioner"], "murmur2_random");
    assert!(!c.contains_key("ssl.ca.location"), "source-only key leaked to target");
    assert!(!c.contains_key("enable.auto.commit"));
}

#[test]
fn admins_and_target_consumer() {
    let (p, _) = flow_props();
    assert_eq!(p[1]["request.timeout.ms"], "30000");
    assert_eq!(p[1]["bootstrap.servers"], "s1:9092,s2:9092");
    assert!(!p[3].contains_key("request.timeout.ms"));
    assert_eq!(p[3]["bootstrap.servers"], "fallback:9092");
    assert_eq!(p[4]["bootstrap.servers"], "fallback:9092");
    assert_eq!(p[4]["enable.auto.commit"], "false");
    assert!(
        !p[4].contains_key("auto.offset.reset") || p[4]["auto.offset.reset"] == "earliest",
        "flow consumer keys must not reach the target consumer"
    );
    for (i, props) in p.iter().enumerate() {
        assert!(props.contains_key("client.id"), "role {i} has a client.id");
    }
}

#[test]
fn warnings_name_the_dropped_keys() {
    let (_, w) = flow_props();
    let has = |k: &str| w.iter().any(|(key, _)| key == k);
    for k in [
        "src.consumer.max.poll.records",
        "src.consumer.key.deserializer",
        "ssl.truststore.location",
        "ssl.truststore.password",
        "src.consumer.fetch.max.wait.ms",
        "dest.producer.buffer.memory",
    ] {
        assert!(has(k), "no warning for {k}: {w:?}");
    }
    let jks = w.iter().find(|(k, _)| k == "ssl.truststore.location").map(|(_, m)| m.as_str()).unwrap_or("");
    assert!(jks.contains("PEM"), "{jks}");
    // Deduplicated even though several roles drop the same key.
    assert_eq!(w.iter().filter(|(k, _)| k == "ssl.truststore.location").count(), 1);
}

#[test]
fn masking_hides_secrets_only() {
    let cfg = match parse_str(FILE) {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    };
    let m = cfg.flows[0].source_consumer.masked();
    assert_eq!(m["ssl.key.password"], MASK);
    assert_eq!(m["bootstrap.servers"], "s1:9092,s2:9092");
    assert_eq!(cfg.flows[0].source_consumer.props["ssl.key.password"], "keypass");
}

#[test]
fn build_is_usable_directly() {
    let raw: BTreeMap<String, String> = [("a.bootstrap.servers", "a:1"), ("b.bootstrap.servers", "b:1")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    for role in ClientRole::ALL {
        let (p, w) = build(&raw, "a", "b", role).expect("valid");
        let want = if role.on_source() { "a:1" } else { "b:1" };
        assert_eq!(p.get("bootstrap.servers"), Some(want), "{role:?}");
        assert!(w.is_empty());
    }
}
