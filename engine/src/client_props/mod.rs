//! librdkafka client properties for each client a flow uses, assembled from MM2 keys.
//!
//! MM2 layers client settings (later wins):
//! 1. top-level `bootstrap.servers`, `security.protocol`, `ssl.*`, `sasl.*`;
//! 2. the same keys prefixed by the cluster alias (`src.ssl.ca.location`);
//! 3. `{alias}.{consumer|producer|admin}.*`;
//! 4. flow-prefixed keys: `A->B.consumer.*` (source consumer), `A->B.producer.*` (target producer),
//!    `A->B.admin.*` (both admins), and `A->B.{source|target}.{consumer|producer|admin}.*`.
//!
//! Java names are then translated to librdkafka ([`librdkafka`] module), role defaults are
//! applied (the source consumer never auto-commits or auto-stores offsets: ferry stores offsets
//! from delivery acks) and each dropped or rewritten key yields a [`ConfigWarning`].
//!
//! # Layout
//!
//! [`ClientProps`] (with [`ClientProps::masked`] for display), [`ClientRole`], [`build`].

mod jaas;
pub mod librdkafka;
mod security;

use crate::config::{ConfigError, ConfigWarning};
use librdkafka::{translate, ClientKind};
use std::collections::BTreeMap;

/// A librdkafka-ready property map for one client.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientProps {
    /// librdkafka property name → value; only names librdkafka accepts.
    pub props: BTreeMap<String, String>,
}

/// Replacement shown instead of secret values.
pub const MASK: &str = "********";

/// True for property names whose values are secrets.
pub fn is_secret(name: &str) -> bool {
    name.ends_with(".password")
        || name == "sasl.jaas.config"
        || name == "sasl.password"
        || name.starts_with("ssl.key.")
        || name.starts_with("ssl.keystore.")
        || name.contains("token")
        || name.contains("secret")
}

impl ClientProps {
    /// The properties with secret values (`*.password`, `sasl.jaas.config`, `ssl.key.*`,
    /// `ssl.keystore.*`, `*token*`, `*secret*`) replaced by `********`, for logs and `ferry check`.
    pub fn masked(&self) -> BTreeMap<String, String> {
        self.props
            .iter()
            .map(|(k, v)| {
                let shown = if is_secret(k) { MASK.to_string() } else { v.clone() };
                (k.clone(), shown)
            })
            .collect()
    }

    /// The value of `name`, if set.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.props.get(name).map(String::as_str)
    }
}

/// The clients of a flow `A->B`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientRole {
    /// Reads records from the source cluster.
    SourceConsumer,
    /// Lists and describes source topics, configs and ACLs.
    SourceAdmin,
    /// Writes replicated records to the target cluster.
    TargetProducer,
    /// Creates and configures remote topics.
    TargetAdmin,
    /// Reads the Connect offsets topic on the target.
    TargetConsumer,
    /// Writes offset syncs to the source cluster (`offset-syncs.topic.location = source`).
    /// Built like the target producer, from the source alias's keys and `{source}.producer.*`
    /// (plus `A->B.producer.*` and `A->B.source.producer.*`, as MM2's `sourceProducerConfig`).
    SourceProducer,
    /// Reads committed offsets of consumer groups on the source cluster; never commits.
    SourceGroupConsumer,
    /// Commits translated offsets of consumer groups on the target cluster (no auto-commit).
    TargetGroupConsumer,
}

impl ClientRole {
    /// All roles.
    pub const ALL: [ClientRole; 8] = [
        Self::SourceConsumer,
        Self::SourceAdmin,
        Self::TargetProducer,
        Self::TargetAdmin,
        Self::TargetConsumer,
        Self::SourceProducer,
        Self::SourceGroupConsumer,
        Self::TargetGroupConsumer,
    ];

    /// Whether the role talks to the source cluster (else the target).
    pub fn on_source(self) -> bool {
        matches!(self, Self::SourceConsumer | Self::SourceAdmin | Self::SourceProducer | Self::SourceGroupConsumer)
    }

    /// The client kind.
    pub fn kind(self) -> ClientKind {
        match self {
            Self::SourceConsumer | Self::TargetConsumer | Self::SourceGroupConsumer | Self::TargetGroupConsumer => {
                ClientKind::Consumer
            }
            Self::TargetProducer | Self::SourceProducer => ClientKind::Producer,
            Self::SourceAdmin | Self::TargetAdmin => ClientKind::Admin,
        }
    }

    /// A short label such as `source-consumer`, used in the default `client.id`.
    pub fn label(self) -> &'static str {
        match self {
            Self::SourceConsumer => "source-consumer",
            Self::SourceAdmin => "source-admin",
            Self::TargetProducer => "target-producer",
            Self::TargetAdmin => "target-admin",
            Self::TargetConsumer => "target-consumer",
            Self::SourceProducer => "source-producer",
            Self::SourceGroupConsumer => "source-group-consumer",
            Self::TargetGroupConsumer => "target-group-consumer",
        }
    }

    /// Flow-level key prefixes (after `A->B.`) that configure this role, lowest precedence first.
    fn flow_prefixes(self) -> &'static [&'static str] {
        match self {
            Self::SourceConsumer => &["consumer.", "source.consumer."],
            Self::SourceAdmin => &["admin.", "source.admin."],
            Self::TargetProducer => &["producer.", "target.producer."],
            Self::TargetAdmin => &["admin.", "target.admin."],
            Self::TargetConsumer | Self::TargetGroupConsumer => &["target.consumer."],
            Self::SourceProducer => &["producer.", "source.producer."],
            Self::SourceGroupConsumer => &["consumer.", "source.consumer."],
        }
    }
}

/// True for the cluster-level client keys MM2 copies to every client of a cluster.
pub fn is_cluster_client_key(name: &str) -> bool {
    name == "bootstrap.servers" || name == "security.protocol" || name.starts_with("ssl.") || name.starts_with("sasl.")
}

/// A property value and the raw key it came from (for warnings).
struct Layered {
    value: String,
    origin: String,
}

/// Builds the librdkafka properties of `role` for flow `source->target`.
/// Returns the properties and the warnings about dropped or translated keys.
///
/// # Errors
/// A [`ConfigError`] naming the key when the security settings cannot work (unknown
/// `security.protocol` or `sasl.mechanism`, Kerberos, SASL PLAIN/SCRAM without credentials).
pub fn build(
    raw: &BTreeMap<String, String>,
    source: &str,
    target: &str,
    role: ClientRole,
) -> Result<(ClientProps, Vec<ConfigWarning>), ConfigError> {
    let alias = if role.on_source() { source } else { target };
    let kind = role.kind();
    let mut layered: BTreeMap<String, Layered> = BTreeMap::new();
    let mut put = |name: &str, value: &str, origin: &str| {
        layered.insert(name.to_string(), Layered { value: value.to_string(), origin: origin.to_string() });
    };
    for (k, v) in raw {
        if is_cluster_client_key(k) {
            put(k, v, k);
        }
    }
    let alias_prefix = format!("{alias}.");
    for (k, v) in raw {
        if let Some(name) = k.strip_prefix(&alias_prefix) {
            if is_cluster_client_key(name) {
                put(name, v, k);
            }
        }
    }
    let kind_prefix = format!("{alias}.{}.", kind.segment());
    for (k, v) in raw {
        if let Some(name) = k.strip_prefix(&kind_prefix) {
            put(name, v, k);
        }
    }
    for p in role.flow_prefixes() {
        let prefix = format!("{source}->{target}.{p}");
        for (k, v) in raw {
            if let Some(name) = k.strip_prefix(&prefix) {
                put(name, v, k);
            }
        }
    }

    let security = security::resolve(alias, &mut layered)?;
    let mut props = BTreeMap::new();
    let mut warnings = security.warnings;
    for (name, l) in &layered {
        match translate(name, &l.value, kind) {
            librdkafka::Translation::Keep { props: kv, note } => {
                if let Some(note) = note {
                    warnings.push(ConfigWarning::new(l.origin.clone(), note));
                }
                props.extend(kv);
            }
            librdkafka::Translation::Drop(reason) => {
                warnings.push(ConfigWarning::new(l.origin.clone(), reason));
            }
        }
    }
    props.extend(security.props);
    apply_role_defaults(role, source, target, &layered, &mut props, &mut warnings);
    Ok((ClientProps { props }, warnings))
}

/// Default size of librdkafka's buffers (source prefetch, one fetch response, target producer queue).
const BUFFER_BYTES: u64 = 16 << 20;

/// librdkafka's `message.max.bytes` as set (default 1,000,000).
fn max_message_bytes(props: &BTreeMap<String, String>) -> u64 {
    props.get("message.max.bytes").and_then(|v| v.trim().parse().ok()).unwrap_or(1_000_000)
}

fn set_default(props: &mut BTreeMap<String, String>, name: &str, value: &str) {
    props.entry(name.to_string()).or_insert_with(|| value.to_string());
}

fn origin_of(layered: &BTreeMap<String, Layered>, name: &str) -> String {
    layered.get(name).map_or_else(|| name.to_string(), |l| l.origin.clone())
}

fn apply_role_defaults(
    role: ClientRole,
    source: &str,
    target: &str,
    layered: &BTreeMap<String, Layered>,
    props: &mut BTreeMap<String, String>,
    warnings: &mut Vec<ConfigWarning>,
) {
    set_default(props, "client.id", &format!("{source}->{target}|ferry|{}", role.label()));
    // Kafka's Java clients back off at most 1 s between reconnects; librdkafka's 10 s left ferry idle for
    // up to 10 s after a broker came back (measured in the load test's broker outages).
    // (Never below the user's own `reconnect.backoff.ms`.)
    let floor = props.get("reconnect.backoff.ms").and_then(|v| v.trim().parse::<u64>().ok()).unwrap_or(0);
    set_default(props, "reconnect.backoff.max.ms", &floor.max(1000).to_string());
    match role {
        ClientRole::SourceConsumer => {
            for forced in ["enable.auto.commit", "enable.auto.offset.store"] {
                if props.get(forced).is_some_and(|v| !v.eq_ignore_ascii_case("false")) {
                    warnings.push(ConfigWarning::new(
                        origin_of(layered, forced),
                        "forced to false: ferry stores source offsets only after delivery to the target",
                    ));
                }
                props.insert(forced.to_string(), "false".to_string());
            }
            set_default(props, "auto.offset.reset", "earliest");
            // librdkafka waits this long before fetching a partition again once its prefetch queue is
            // over `queued.min.messages`/`queued.max.messages.kbytes` (default 1000 ms). ferry drains
            // those queues far faster, so the default left the partition idle most of a second after
            // every full queue: a backlog ran at a fraction of the broker's speed.
            set_default(props, "fetch.queue.backoff.ms", "10");
            // Memory: what librdkafka prefetches for the flow (one queue for all partitions) and what one
            // fetch response may carry. librdkafka's 64 MiB and 50 MiB doubled ferry's footprint at
            // 1,000 partitions; 16 MiB still carries 160 MB/s over a 100 ms round trip. Never below
            // the largest record the user allows.
            let largest = max_message_bytes(props);
            set_default(props, "queued.max.messages.kbytes", &(BUFFER_BYTES.max(largest) / 1024).to_string());
            set_default(props, "fetch.max.bytes", &BUFFER_BYTES.max(largest).to_string());
        }
        ClientRole::TargetConsumer => {
            set_default(props, "enable.auto.commit", "false");
            set_default(props, "auto.offset.reset", "earliest");
        }
        ClientRole::SourceGroupConsumer | ClientRole::TargetGroupConsumer => {
            // Group offsets are read and committed explicitly; the source consumer's warning
            // already reports a user `enable.auto.commit=true` on the same keys.
            props.insert("enable.auto.commit".into(), "false".into());
            props.insert("enable.auto.offset.store".into(), "false".into());
        }
        ClientRole::TargetProducer | ClientRole::SourceProducer => {
            if !props.contains_key("enable.idempotence") {
                let acks_ok = match props.get("acks") {
                    None => true,
                    Some(a) => a.eq_ignore_ascii_case("all") || a == "-1",
                };
                let inflight_ok = match props.get("max.in.flight.requests.per.connection") {
                    None => true,
                    Some(v) => v.parse::<u32>().is_ok_and(|n| n <= 5),
                };
                if acks_ok && inflight_ok {
                    props.insert("enable.idempotence".into(), "true".into());
                } else {
                    let culprit = if acks_ok { "max.in.flight.requests.per.connection" } else { "acks" };
                    warnings.push(ConfigWarning::new(
                        origin_of(layered, culprit),
                        "idempotence left off: librdkafka requires acks=all and at most 5 in-flight requests for it",
                    ));
                }
            }
            set_default(props, "acks", "all");
            set_default(props, "linger.ms", "5");
            // Records waiting in the producer for delivery (Kafka's Java producer: `buffer.memory`, 32 MiB,
            // which maps to this key); librdkafka's 1 GiB let a slow target hold 100,000 records of any
            // size. Room for two of the largest records the user allows: librdkafka refuses a record
            // that does not fit the queue at all as "queue full", forever.
            let largest = max_message_bytes(props);
            set_default(props, "queue.buffering.max.kbytes", &(BUFFER_BYTES.max(2 * largest) / 1024).to_string());
            set_default(props, "partitioner", "murmur2_random");
        }
        ClientRole::SourceAdmin | ClientRole::TargetAdmin => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::raw;

    fn build_ok(
        raw: &BTreeMap<String, String>,
        s: &str,
        t: &str,
        role: ClientRole,
    ) -> (ClientProps, Vec<ConfigWarning>) {
        build(raw, s, t, role).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn layering_order() {
        let r = raw(&[
            ("bootstrap.servers", "global:9092"),
            ("security.protocol", "SSL"),
            ("src.bootstrap.servers", "src:9092"),
            ("src.consumer.fetch.min.bytes", "10"),
            ("src->dest.consumer.fetch.min.bytes", "20"),
            ("src.producer.linger.ms", "99"),
            ("dest.producer.linger.ms", "7"),
            ("dest.admin.request.timeout.ms", "1234"),
        ]);
        let (c, _) = build_ok(&r, "src", "dest", ClientRole::SourceConsumer);
        assert_eq!(c.get("bootstrap.servers"), Some("src:9092"));
        assert_eq!(c.get("security.protocol"), Some("ssl"));
        assert_eq!(c.get("fetch.min.bytes"), Some("20"));
        assert_eq!(c.get("linger.ms"), None);
        assert_eq!(c.get("enable.auto.commit"), Some("false"));
        assert_eq!(c.get("enable.auto.offset.store"), Some("false"));
        assert_eq!(c.get("auto.offset.reset"), Some("earliest"));
        assert_eq!(c.get("client.id"), Some("src->dest|ferry|source-consumer"));

        let (p, _) = build_ok(&r, "src", "dest", ClientRole::TargetProducer);
        assert_eq!(p.get("bootstrap.servers"), Some("global:9092"));
        assert_eq!(p.get("linger.ms"), Some("7"));
        assert_eq!(p.get("acks"), Some("all"));
        assert_eq!(p.get("enable.idempotence"), Some("true"));
        assert_eq!(p.get("partitioner"), Some("murmur2_random"));

        let (a, _) = build_ok(&r, "src", "dest", ClientRole::TargetAdmin);
        assert_eq!(a.get("request.timeout.ms"), Some("1234"));
        let (a, _) = build_ok(&r, "src", "dest", ClientRole::SourceAdmin);
        assert_eq!(a.get("request.timeout.ms"), None);
    }

    #[test]
    fn forced_and_dropped_keys_warn_with_their_key() {
        let r = raw(&[
            ("src.bootstrap.servers", "s:1"),
            ("src.consumer.enable.auto.commit", "true"),
            ("src.consumer.max.poll.records", "500"),
            ("src.ssl.truststore.location", "/t.jks"),
            ("src.consumer.auto.offset.reset", "latest"),
        ]);
        let (c, w) = build_ok(&r, "src", "dest", ClientRole::SourceConsumer);
        assert_eq!(c.get("enable.auto.commit"), Some("false"));
        assert_eq!(c.get("auto.offset.reset"), Some("latest"));
        assert!(!c.props.contains_key("max.poll.records"));
        assert!(!c.props.contains_key("ssl.truststore.location"));
        let keys: Vec<&str> = w.iter().map(|w| w.key.as_str()).collect();
        assert!(keys.contains(&"src.consumer.enable.auto.commit"), "{keys:?}");
        assert!(keys.contains(&"src.consumer.max.poll.records"), "{keys:?}");
        assert!(keys.contains(&"src.ssl.truststore.location"), "{keys:?}");
    }

    #[test]
    fn user_producer_settings_win_and_idempotence_backs_off() {
        let r = raw(&[("dest.producer.acks", "1"), ("dest.producer.linger.ms", "0")]);
        let (p, w) = build_ok(&r, "src", "dest", ClientRole::TargetProducer);
        assert_eq!(p.get("acks"), Some("1"));
        assert_eq!(p.get("linger.ms"), Some("0"));
        assert_eq!(p.get("enable.idempotence"), None);
        assert!(w.iter().any(|w| w.key == "dest.producer.acks"));
    }

    #[test]
    fn buffers_default_to_16_mib_and_always_fit_the_largest_record() {
        let (c, _) = build_ok(&raw(&[]), "src", "dest", ClientRole::SourceConsumer);
        assert_eq!(c.get("queued.max.messages.kbytes"), Some("16384"));
        assert_eq!(c.get("fetch.max.bytes"), Some("16777216"));
        let (p, _) = build_ok(&raw(&[]), "src", "dest", ClientRole::TargetProducer);
        assert_eq!(p.get("queue.buffering.max.kbytes"), Some("16384"));
        assert_eq!(p.get("reconnect.backoff.max.ms"), Some("1000"), "Java clients' reconnect back-off");
        // Larger records allowed: room for them.
        let big =
            raw(&[("dest.producer.max.request.size", "52428800"), ("src.consumer.message.max.bytes", "30000000")]);
        let (p, _) = build_ok(&big, "src", "dest", ClientRole::TargetProducer);
        assert_eq!(p.get("queue.buffering.max.kbytes"), Some("102400"));
        let (c, _) = build_ok(&big, "src", "dest", ClientRole::SourceConsumer);
        assert_eq!(c.get("fetch.max.bytes"), Some("30000000"));
        // The user's own settings win (buffer.memory is Java's name for the producer queue).
        let own = raw(&[("dest.producer.buffer.memory", "134217728"), ("src.consumer.fetch.max.bytes", "52428800")]);
        let (p, _) = build_ok(&own, "src", "dest", ClientRole::TargetProducer);
        assert_eq!(p.get("queue.buffering.max.kbytes"), Some("131072"));
        let (c, _) = build_ok(&own, "src", "dest", ClientRole::SourceConsumer);
        assert_eq!(c.get("fetch.max.bytes"), Some("52428800"));
    }

    #[test]
    fn masking() {
        let mut props = ClientProps::default();
        for (k, v) in [
            ("sasl.password", "p"),
            ("ssl.key.password", "p"),
            ("ssl.key.pem", "k"),
            ("sasl.oauthbearer.client.secret", "s"),
            ("bootstrap.servers", "b:1"),
            ("sasl.username", "u"),
        ] {
            props.props.insert(k.into(), v.into());
        }
        let m = props.masked();
        assert_eq!(m["sasl.password"], MASK);
        assert_eq!(m["ssl.key.password"], MASK);
        assert_eq!(m["ssl.key.pem"], MASK);
        assert_eq!(m["sasl.oauthbearer.client.secret"], MASK);
        assert_eq!(m["bootstrap.servers"], "b:1");
        assert_eq!(m["sasl.username"], "u");
        assert!(is_secret("sasl.jaas.config"));
        assert!(is_secret("ssl.keystore.location"));
        assert!(is_secret("my.token.value"));
    }
}
