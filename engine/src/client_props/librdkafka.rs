//! Translation of one Java Kafka client property into librdkafka property/properties.
//!
//! MM2 files carry Java client names (`fetch.max.wait.ms`, `buffer.memory`, `sasl.jaas.config`,
//! serializers...). librdkafka rejects unknown names at client creation, so each
//! property is either passed through (librdkafka has the same name), translated to its
//! librdkafka equivalent, or dropped with a reason the caller turns into a warning.
//!
//! # Layout
//!
//! [`LIBRDKAFKA`] lists the librdkafka properties ferry passes through, tagged by the client
//! kind they apply to; [`translate`] handles one Java name. Trust and key stores, the SASL mechanism
//! and the JAAS line of SASL clients depend on other keys and are resolved first, together, by
//! [`super::security`].

use super::jaas;

/// Which client kinds accept a librdkafka property.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Applies {
    /// Every client (global properties).
    All,
    /// Consumers only.
    Consumer,
    /// Producers only.
    Producer,
}

/// The kind of client being configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientKind {
    /// A consumer.
    Consumer,
    /// A producer.
    Producer,
    /// An admin client (global properties only).
    Admin,
}

impl ClientKind {
    /// The MM2 key segment for this kind: `consumer`, `producer` or `admin`.
    pub fn segment(self) -> &'static str {
        match self {
            Self::Consumer => "consumer",
            Self::Producer => "producer",
            Self::Admin => "admin",
        }
    }
}

/// librdkafka properties passed through unchanged (see librdkafka `CONFIGURATION.md`).
pub(crate) const LIBRDKAFKA: &[(&str, Applies)] = &[
    // Global.
    ("bootstrap.servers", Applies::All),
    ("metadata.broker.list", Applies::All),
    ("client.id", Applies::All),
    ("client.rack", Applies::All),
    ("client.dns.lookup", Applies::All),
    ("message.max.bytes", Applies::All),
    ("message.copy.max.bytes", Applies::All),
    ("receive.message.max.bytes", Applies::All),
    ("max.in.flight.requests.per.connection", Applies::All),
    ("max.in.flight", Applies::All),
    ("metadata.max.age.ms", Applies::All),
    ("topic.metadata.refresh.interval.ms", Applies::All),
    ("topic.metadata.refresh.fast.interval.ms", Applies::All),
    ("topic.metadata.refresh.sparse", Applies::All),
    ("topic.metadata.propagation.max.ms", Applies::All),
    ("debug", Applies::All),
    ("socket.timeout.ms", Applies::All),
    ("socket.send.buffer.bytes", Applies::All),
    ("socket.receive.buffer.bytes", Applies::All),
    ("socket.keepalive.enable", Applies::All),
    ("socket.nagle.disable", Applies::All),
    ("socket.max.fails", Applies::All),
    ("socket.connection.setup.timeout.ms", Applies::All),
    ("connections.max.idle.ms", Applies::All),
    ("broker.address.ttl", Applies::All),
    ("broker.address.family", Applies::All),
    ("reconnect.backoff.jitter.ms", Applies::All),
    ("reconnect.backoff.ms", Applies::All),
    ("reconnect.backoff.max.ms", Applies::All),
    ("retry.backoff.ms", Applies::All),
    ("retry.backoff.max.ms", Applies::All),
    ("statistics.interval.ms", Applies::All),
    ("log_level", Applies::All),
    ("log.connection.close", Applies::All),
    ("api.version.request", Applies::All),
    ("api.version.request.timeout.ms", Applies::All),
    ("broker.version.fallback", Applies::All),
    ("allow.auto.create.topics", Applies::All),
    ("request.timeout.ms", Applies::All),
    ("security.protocol", Applies::All),
    ("ssl.cipher.suites", Applies::All),
    ("ssl.curves.list", Applies::All),
    ("ssl.sigalgs.list", Applies::All),
    ("ssl.key.location", Applies::All),
    ("ssl.key.password", Applies::All),
    ("ssl.key.pem", Applies::All),
    ("ssl.certificate.location", Applies::All),
    ("ssl.certificate.pem", Applies::All),
    ("ssl.ca.location", Applies::All),
    ("ssl.ca.pem", Applies::All),
    ("ssl.ca.certificate.stores", Applies::All),
    ("ssl.crl.location", Applies::All),
    ("ssl.providers", Applies::All),
    ("ssl.engine.id", Applies::All),
    ("enable.ssl.certificate.verification", Applies::All),
    ("ssl.endpoint.identification.algorithm", Applies::All),
    ("sasl.mechanism", Applies::All),
    ("sasl.mechanisms", Applies::All),
    ("sasl.kerberos.service.name", Applies::All),
    ("sasl.kerberos.principal", Applies::All),
    ("sasl.kerberos.kinit.cmd", Applies::All),
    ("sasl.kerberos.keytab", Applies::All),
    ("sasl.kerberos.min.time.before.relogin", Applies::All),
    ("sasl.username", Applies::All),
    ("sasl.password", Applies::All),
    ("sasl.oauthbearer.config", Applies::All),
    ("enable.sasl.oauthbearer.unsecure.jwt", Applies::All),
    ("sasl.oauthbearer.method", Applies::All),
    ("sasl.oauthbearer.client.id", Applies::All),
    ("sasl.oauthbearer.client.secret", Applies::All),
    ("sasl.oauthbearer.scope", Applies::All),
    ("sasl.oauthbearer.extensions", Applies::All),
    ("sasl.oauthbearer.token.endpoint.url", Applies::All),
    // Consumer.
    ("group.id", Applies::Consumer),
    ("group.instance.id", Applies::Consumer),
    ("partition.assignment.strategy", Applies::Consumer),
    ("session.timeout.ms", Applies::Consumer),
    ("heartbeat.interval.ms", Applies::Consumer),
    ("group.protocol", Applies::Consumer),
    ("group.remote.assignor", Applies::Consumer),
    ("coordinator.query.interval.ms", Applies::Consumer),
    ("max.poll.interval.ms", Applies::Consumer),
    ("enable.auto.commit", Applies::Consumer),
    ("auto.commit.interval.ms", Applies::Consumer),
    ("enable.auto.offset.store", Applies::Consumer),
    ("queued.min.messages", Applies::Consumer),
    ("queued.max.messages.kbytes", Applies::Consumer),
    ("fetch.wait.max.ms", Applies::Consumer),
    ("fetch.queue.backoff.ms", Applies::Consumer),
    ("fetch.message.max.bytes", Applies::Consumer),
    ("max.partition.fetch.bytes", Applies::Consumer),
    ("fetch.max.bytes", Applies::Consumer),
    ("fetch.min.bytes", Applies::Consumer),
    ("fetch.error.backoff.ms", Applies::Consumer),
    ("isolation.level", Applies::Consumer),
    ("enable.partition.eof", Applies::Consumer),
    ("check.crcs", Applies::Consumer),
    ("auto.offset.reset", Applies::Consumer),
    // Producer.
    ("transactional.id", Applies::Producer),
    ("transaction.timeout.ms", Applies::Producer),
    ("enable.idempotence", Applies::Producer),
    ("enable.gapless.guarantee", Applies::Producer),
    ("queue.buffering.max.messages", Applies::Producer),
    ("queue.buffering.max.kbytes", Applies::Producer),
    ("queue.buffering.max.ms", Applies::Producer),
    ("linger.ms", Applies::Producer),
    ("message.send.max.retries", Applies::Producer),
    ("retries", Applies::Producer),
    ("queue.buffering.backpressure.threshold", Applies::Producer),
    ("compression.codec", Applies::Producer),
    ("compression.type", Applies::Producer),
    ("compression.level", Applies::Producer),
    ("batch.num.messages", Applies::Producer),
    ("batch.size", Applies::Producer),
    ("delivery.report.only.error", Applies::Producer),
    ("sticky.partitioning.linger.ms", Applies::Producer),
    ("acks", Applies::Producer),
    ("request.required.acks", Applies::Producer),
    ("message.timeout.ms", Applies::Producer),
    ("delivery.timeout.ms", Applies::Producer),
    ("partitioner", Applies::Producer),
];

/// Result of translating one Java client property.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Translation {
    /// Pass these librdkafka properties; `note` (if any) explains a rename or value change.
    Keep {
        /// librdkafka name/value pairs.
        props: Vec<(String, String)>,
        /// Why the name or value changed, reported as a warning.
        note: Option<String>,
    },
    /// Not representable in librdkafka; the reason becomes a warning.
    Drop(String),
}

fn keep(name: &str, value: impl Into<String>) -> Translation {
    Translation::Keep { props: vec![(name.to_string(), value.into())], note: None }
}

fn renamed(name: &str, value: impl Into<String>, note: String) -> Translation {
    Translation::Keep { props: vec![(name.to_string(), value.into())], note: Some(note) }
}

/// The kinds of client a librdkafka property applies to, `None` if ferry does not know it.
pub(crate) fn applies(name: &str) -> Option<Applies> {
    LIBRDKAFKA.iter().find(|(n, _)| *n == name).map(|(_, a)| *a)
}

fn fits(applies: Applies, kind: ClientKind) -> bool {
    matches!(
        (applies, kind),
        (Applies::All, _) | (Applies::Consumer, ClientKind::Consumer) | (Applies::Producer, ClientKind::Producer)
    )
}

/// Translates Java client property `name=value` for a client of `kind`.
pub(crate) fn translate(name: &str, value: &str, kind: ClientKind) -> Translation {
    let translated = translate_name(name, value);
    let Translation::Keep { props, note } = translated else {
        return translated;
    };
    let mut kept = Vec::with_capacity(props.len());
    for (n, v) in props {
        match applies(&n) {
            Some(a) if fits(a, kind) => kept.push((n, v)),
            Some(_) => {
                return Translation::Drop(format!("`{n}` does not apply to a {} client; ignored", kind.segment()))
            }
            None => return Translation::Drop(format!("`{n}` is not a librdkafka property; ignored")),
        }
    }
    Translation::Keep { props: kept, note }
}

fn translate_name(name: &str, value: &str) -> Translation {
    match name {
        "security.protocol" => keep(name, value.to_ascii_lowercase()),
        "ssl.endpoint.identification.algorithm" => {
            if value.is_empty() {
                renamed(name, "none", "empty value means no hostname verification; set to `none` for librdkafka".into())
            } else {
                keep(name, value.to_ascii_lowercase())
            }
        }
        "auto.offset.reset" => match value.to_ascii_lowercase().as_str() {
            "none" => renamed(name, "error", "Java `none` is librdkafka `error`".into()),
            v @ ("earliest" | "latest" | "smallest" | "largest" | "beginning" | "end" | "error") => keep(name, v),
            other => Translation::Drop(format!("value `{other}` has no librdkafka equivalent; ignored")),
        },
        "fetch.max.wait.ms" => {
            renamed("fetch.wait.max.ms", value, "translated to librdkafka `fetch.wait.max.ms`".into())
        }
        "max.request.size" => {
            renamed("message.max.bytes", value, "translated to librdkafka `message.max.bytes`".into())
        }
        "receive.buffer.bytes" | "send.buffer.bytes" => {
            let target = format!("socket.{name}");
            // Java uses -1 for "OS default", librdkafka uses 0.
            let v = if value.trim() == "-1" { "0" } else { value };
            Translation::Keep {
                props: vec![(target.clone(), v.to_string())],
                note: Some(format!("translated to librdkafka `{target}`")),
            }
        }
        "buffer.memory" => match value.parse::<u64>() {
            Ok(bytes) => renamed(
                "queue.buffering.max.kbytes",
                bytes.div_ceil(1024).max(1).to_string(),
                "translated to librdkafka `queue.buffering.max.kbytes` (bytes / 1024)".into(),
            ),
            Err(_) => Translation::Drop(format!("value `{value}` is not a byte count; ignored")),
        },
        "compression.gzip.level" | "compression.lz4.level" | "compression.zstd.level" => {
            renamed("compression.level", value, "translated to librdkafka `compression.level`".into())
        }
        "partition.assignment.strategy" => translate_assignors(value),
        "sasl.jaas.config" => match jaas::credentials(value) {
            Some((user, pass)) => Translation::Keep {
                props: vec![("sasl.username".to_string(), user), ("sasl.password".to_string(), pass)],
                note: Some("translated to librdkafka `sasl.username`/`sasl.password`".into()),
            },
            None => Translation::Drop(
                "only PlainLoginModule/ScramLoginModule username/password JAAS configs can be \
                 translated; set `sasl.username`/`sasl.password` or librdkafka SASL keys instead"
                    .into(),
            ),
        },
        n if JAVA_ONLY.contains(&n) || JAVA_ONLY_PREFIXES.iter().any(|p| n.starts_with(p)) => {
            Translation::Drop("Java-only client property with no librdkafka equivalent; ignored".into())
        }
        _ => keep(name, value),
    }
}

/// Java client properties known to have no librdkafka equivalent.
const JAVA_ONLY: &[&str] = &[
    "key.serializer",
    "value.serializer",
    "key.deserializer",
    "value.deserializer",
    "max.poll.records",
    "interceptor.classes",
    "metric.reporters",
    "max.block.ms",
    "partitioner.class",
    "partitioner.ignore.keys",
    "default.api.timeout.ms",
    "exclude.internal.topics",
    "security.providers",
    "ssl.protocol",
    "ssl.enabled.protocols",
    "ssl.provider",
    "ssl.keymanager.algorithm",
    "ssl.trustmanager.algorithm",
    "ssl.secure.random.implementation",
    "ssl.engine.factory.class",
    "auto.include.jmx.reporter",
    "enable.metrics.push",
    "internal.leave.group.on.close",
];

/// Prefixes of Java-only client property families.
const JAVA_ONLY_PREFIXES: &[&str] =
    &["metrics.", "sasl.login.", "sasl.client.", "partitioner.adaptive.", "partitioner.availability."];

fn translate_assignors(value: &str) -> Translation {
    let mut out = Vec::new();
    for item in crate::filter::split_list(value) {
        let simple = item.rsplit('.').next().unwrap_or(item);
        match simple {
            "RangeAssignor" | "range" => out.push("range"),
            "RoundRobinAssignor" | "roundrobin" => out.push("roundrobin"),
            "CooperativeStickyAssignor" | "cooperative-sticky" => out.push("cooperative-sticky"),
            _ => {}
        }
    }
    if out.is_empty() {
        Translation::Drop(format!("no librdkafka equivalent for assignors `{value}`; ignored"))
    } else {
        renamed(
            "partition.assignment.strategy",
            out.join(","),
            "Java assignor classes translated to librdkafka names".into(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kept(t: Translation) -> Vec<(String, String)> {
        match t {
            Translation::Keep { props, .. } => props,
            Translation::Drop(r) => panic!("dropped: {r}"),
        }
    }

    fn pair(n: &str, v: &str) -> (String, String) {
        (n.to_string(), v.to_string())
    }

    #[test]
    fn passthrough_and_renames() {
        assert_eq!(kept(translate("linger.ms", "7", ClientKind::Producer)), vec![pair("linger.ms", "7")]);
        assert_eq!(
            kept(translate("fetch.max.wait.ms", "50", ClientKind::Consumer)),
            vec![pair("fetch.wait.max.ms", "50")]
        );
        assert_eq!(
            kept(translate("buffer.memory", "33554432", ClientKind::Producer)),
            vec![pair("queue.buffering.max.kbytes", "32768")]
        );
        assert_eq!(
            kept(translate("buffer.memory", "1000", ClientKind::Producer)),
            vec![pair("queue.buffering.max.kbytes", "1")]
        );
        assert_eq!(
            kept(translate("receive.buffer.bytes", "-1", ClientKind::Consumer)),
            vec![pair("socket.receive.buffer.bytes", "0")]
        );
        assert_eq!(
            kept(translate("send.buffer.bytes", "131072", ClientKind::Producer)),
            vec![pair("socket.send.buffer.bytes", "131072")]
        );
        assert_eq!(
            kept(translate("max.request.size", "2000000", ClientKind::Producer)),
            vec![pair("message.max.bytes", "2000000")]
        );
        assert_eq!(
            kept(translate("security.protocol", "SASL_SSL", ClientKind::Admin)),
            vec![pair("security.protocol", "sasl_ssl")]
        );
        assert_eq!(
            kept(translate("auto.offset.reset", "none", ClientKind::Consumer)),
            vec![pair("auto.offset.reset", "error")]
        );
        assert_eq!(
            kept(translate(
                "partition.assignment.strategy",
                "org.apache.kafka.clients.consumer.CooperativeStickyAssignor",
                ClientKind::Consumer
            )),
            vec![pair("partition.assignment.strategy", "cooperative-sticky")]
        );
    }

    #[test]
    fn drops() {
        for (n, k) in [
            ("key.serializer", ClientKind::Producer),
            ("max.poll.records", ClientKind::Consumer),
            ("interceptor.classes", ClientKind::Consumer),
            ("some.unknown.prop", ClientKind::Admin),
            ("linger.ms", ClientKind::Consumer),
            ("fetch.min.bytes", ClientKind::Producer),
            ("group.id", ClientKind::Admin),
        ] {
            assert!(matches!(translate(n, "x", k), Translation::Drop(_)), "{n}");
        }
    }

    #[test]
    fn jaas_plain_becomes_username_password() {
        let v =
            r#"org.apache.kafka.common.security.plain.PlainLoginModule required username="alice" password="s3cr\"et";"#;
        assert_eq!(
            kept(translate("sasl.jaas.config", v, ClientKind::Consumer)),
            vec![pair("sasl.username", "alice"), pair("sasl.password", "s3cr\"et")]
        );
    }
}
