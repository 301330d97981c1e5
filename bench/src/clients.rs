//! The two Kafka clusters the bench measures against, and the rdkafka clients it uses on them.
//!
//! # Layout
//! - [`Rig`]: bootstrap servers and the Kafka jars, from the environment or `.rig/env` (written by
//!   `scripts/kafka-rig.sh start`).
//! - [`producer_config`] / [`consumer_config`]: the client settings every in-process runner shares, the
//!   same as ferry's own defaults (idempotent, `acks=all`, `linger.ms=5`; manual assignment, no commits).
//! - [`Admin`]: create and delete topics, read end offsets (the "how far has the copy got" probe).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::{ClientContext, DefaultClientContext};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::DeliveryResult;
use rdkafka::producer::ProducerContext;
use rdkafka::{Offset, TopicPartitionList};

/// Where the clusters are and what the bench can run against them.
#[derive(Clone, Debug)]
pub struct Rig {
    /// Bootstrap servers of the source cluster.
    pub src: String,
    /// Bootstrap servers of the target cluster.
    pub dst: String,
    /// Directory with every Kafka jar (broker, tools, connect-mirror); needed for MirrorMaker 2.
    pub kafka_libs: Option<PathBuf>,
    /// `scripts/rig/log4j2.properties`, used for MirrorMaker 2's logging when present.
    pub log4j: Option<PathBuf>,
}

impl Rig {
    /// Reads `FERRY_SRC_BOOTSTRAP`, `FERRY_DST_BOOTSTRAP`, `FERRY_KAFKA_LIBS` from the environment, falling
    /// back to `<workspace>/.rig/env` for each one missing.
    ///
    /// # Errors
    /// When neither names both clusters (the rig is not started).
    pub fn load(workspace: &Path) -> Result<Rig> {
        let file: HashMap<String, String> =
            std::fs::read_to_string(workspace.join(".rig/env")).map(|text| parse_env(&text)).unwrap_or_default();
        let var = |name: &str| {
            std::env::var(name)
                .ok()
                .filter(|v| !v.is_empty())
                .or_else(|| file.get(name).cloned().filter(|v| !v.is_empty()))
        };
        let (Some(src), Some(dst)) = (var("FERRY_SRC_BOOTSTRAP"), var("FERRY_DST_BOOTSTRAP")) else {
            bail!(
                "no Kafka clusters: start them with `scripts/kafka-rig.sh start` (writes .rig/env) or set \
                 FERRY_SRC_BOOTSTRAP and FERRY_DST_BOOTSTRAP"
            );
        };
        let log4j = workspace.join("scripts/rig/log4j2.properties");
        Ok(Rig {
            src,
            dst,
            kafka_libs: var("FERRY_KAFKA_LIBS").map(PathBuf::from),
            log4j: log4j.exists().then_some(log4j),
        })
    }

    /// The Kafka version of the jars (from `kafka-clients-<version>.jar`), if they are there.
    pub fn kafka_version(&self) -> Option<String> {
        let dir = self.kafka_libs.as_ref()?;
        std::fs::read_dir(dir).ok()?.flatten().find_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            name.strip_prefix("kafka-clients-").and_then(|rest| rest.strip_suffix(".jar")).map(str::to_string)
        })
    }

    /// Whether real MirrorMaker 2 can be started: the connect-mirror jar is there and `java` runs.
    ///
    /// # Errors
    /// A sentence saying what is missing.
    pub fn mm2_available(&self) -> Result<()> {
        let dir = self
            .kafka_libs
            .as_ref()
            .ok_or_else(|| anyhow!("FERRY_KAFKA_LIBS is not set (run scripts/kafka-rig.sh start)"))?;
        let has_mirror = std::fs::read_dir(dir)
            .with_context(|| format!("reading {}", dir.display()))?
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("connect-mirror-4"));
        if !has_mirror {
            bail!("no connect-mirror jar in {}", dir.display());
        }
        let java = std::process::Command::new("java").arg("-version").output().context("running `java -version`")?;
        if !java.status.success() {
            bail!("`java -version` failed");
        }
        Ok(())
    }
}

/// Parses `KEY=VALUE` lines (comments and blank lines skipped; values are not shell-quoted by the rig
/// for the paths and addresses it writes).
fn parse_env(text: &str) -> HashMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().trim_matches('\'').to_string()))
        .collect()
}

/// Producer settings shared by every in-process runner: ferry's target producer defaults.
pub fn producer_config(bootstrap: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", bootstrap)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "5")
        .set("partitioner", "murmur2_random");
    c
}

/// Consumer settings shared by every in-process runner: ferry's source consumer (manual assignment, no
/// commits, librdkafka's fetch defaults).
pub fn consumer_config(bootstrap: &str, group: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "false")
        .set("auto.offset.reset", "earliest");
    c
}

/// A producer context that counts delivery reports: a benchmark whose records failed is not a result.
#[derive(Default)]
pub struct CountingContext {
    /// Records acknowledged by the broker.
    pub delivered: AtomicU64,
    /// Records that failed for good.
    pub failed: AtomicU64,
}

impl ClientContext for CountingContext {}

impl ProducerContext for CountingContext {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(_) => self.delivered.fetch_add(1, Ordering::Relaxed),
            Err(_) => self.failed.fetch_add(1, Ordering::Relaxed),
        };
    }
}

/// Topic administration and the end-offset probe on one cluster.
pub struct Admin {
    admin: AdminClient<DefaultClientContext>,
    probe: BaseConsumer,
    /// For error messages.
    pub name: &'static str,
}

impl Admin {
    /// Connects to `bootstrap`; `name` ("source"/"target") appears in errors.
    ///
    /// # Errors
    /// When the clients cannot be created or the cluster does not answer within 20 s.
    pub fn new(name: &'static str, bootstrap: &str) -> Result<Admin> {
        let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
            .set("bootstrap.servers", bootstrap)
            .create()
            .with_context(|| format!("creating the {name} admin client"))?;
        let probe: BaseConsumer = consumer_config(bootstrap, "ferry-bench-probe")
            .create()
            .with_context(|| format!("creating the {name} probe consumer"))?;
        probe
            .fetch_metadata(None, Duration::from_secs(20))
            .with_context(|| format!("the {name} cluster ({bootstrap}) does not answer"))?;
        Ok(Admin { admin, probe, name })
    }

    fn options() -> AdminOptions {
        AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)))
    }

    /// Creates `topic` with `partitions` partitions (replication factor 1) and waits until every partition
    /// has a leader.
    ///
    /// # Errors
    /// When the broker refuses or the partitions do not come up within 30 s.
    pub fn create_topic(&self, topic: &str, partitions: i32) -> Result<()> {
        let new = NewTopic::new(topic, partitions, TopicReplication::Fixed(1));
        let results = futures::executor::block_on(self.admin.create_topics([&new], &Self::options()))
            .with_context(|| format!("creating topic {topic} on the {}", self.name))?;
        for result in results {
            result.map_err(|(t, code)| anyhow!("creating topic {t} on the {}: {code}", self.name))?;
        }
        self.wait_topic(topic, partitions, Duration::from_secs(30))
    }

    /// Waits until `topic` exists with `partitions` partitions, all with a leader.
    ///
    /// # Errors
    /// On time-out.
    pub fn wait_topic(&self, topic: &str, partitions: i32, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            if self.partitions_with_leader(topic) >= partitions {
                return Ok(());
            }
            if Instant::now() >= deadline {
                bail!("topic {topic} on the {} did not get {partitions} partitions within {timeout:?}", self.name);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// How many partitions of `topic` have a leader (0 when it does not exist).
    pub fn partitions_with_leader(&self, topic: &str) -> i32 {
        let Ok(md) = self.probe.fetch_metadata(Some(topic), Duration::from_secs(5)) else {
            return 0;
        };
        md.topics()
            .iter()
            .filter(|t| t.name() == topic && t.error().is_none())
            .map(|t| t.partitions().iter().filter(|p| p.leader() >= 0 && p.error().is_none()).count() as i32)
            .sum()
    }

    /// Deletes every topic whose name contains `needle`; returns how many.
    ///
    /// # Errors
    /// When the topic list cannot be read or a deletion fails.
    pub fn delete_topics_containing(&self, needle: &str) -> Result<usize> {
        let md = self
            .probe
            .fetch_metadata(None, Duration::from_secs(10))
            .with_context(|| format!("listing topics on the {}", self.name))?;
        let names: Vec<String> =
            md.topics().iter().map(|t| t.name().to_string()).filter(|n| n.contains(needle)).collect();
        if names.is_empty() {
            return Ok(0);
        }
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let results = futures::executor::block_on(self.admin.delete_topics(&refs, &Self::options()))
            .with_context(|| format!("deleting topics on the {}", self.name))?;
        for result in results {
            result.map_err(|(t, code)| anyhow!("deleting topic {t} on the {}: {code}", self.name))?;
        }
        Ok(names.len())
    }

    /// The end offset of every partition `0..partitions` of `topic` in one ListOffsets round trip.
    ///
    /// # Errors
    /// When the topic does not exist (yet) or the broker does not answer within 5 s.
    pub fn end_offsets(&self, topic: &str, partitions: i32) -> Result<Vec<i64>> {
        let mut tpl = TopicPartitionList::new();
        for p in 0..partitions {
            tpl.add_partition_offset(topic, p, Offset::End)?;
        }
        let got = self
            .probe
            .offsets_for_times(tpl, Duration::from_secs(5))
            .map_err(|e: KafkaError| anyhow!("end offsets of {topic} on the {}: {e}", self.name))?;
        let mut out = vec![0i64; partitions as usize];
        for elem in got.elements() {
            if let Some(err) = elem.error().err() {
                bail!("end offset of {topic}/{} on the {}: {err}", elem.partition(), self.name);
            }
            let offset = match elem.offset() {
                Offset::Offset(o) => o,
                other => bail!("end offset of {topic}/{}: unexpected {other:?}", elem.partition()),
            };
            if let Some(slot) = out.get_mut(elem.partition() as usize) {
                *slot = offset;
            }
        }
        Ok(out)
    }

    /// Sum of [`Admin::end_offsets`]; 0 while the topic does not exist.
    pub fn total_records(&self, topic: &str, partitions: i32) -> i64 {
        match self.end_offsets(topic, partitions) {
            Ok(v) => v.iter().sum(),
            Err(e) => {
                if std::env::var_os("FERRY_BENCH_DEBUG").is_some() {
                    eprintln!("end offsets: {e:#}");
                }
                0
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_rig_env_file() {
        let env = parse_env("# comment\nFERRY_SRC_BOOTSTRAP=127.0.0.1:1\n\nFERRY_KAFKA_LIBS=/a/b\n");
        assert_eq!(env.get("FERRY_SRC_BOOTSTRAP").map(String::as_str), Some("127.0.0.1:1"));
        assert_eq!(env.get("FERRY_KAFKA_LIBS").map(String::as_str), Some("/a/b"));
        assert_eq!(env.len(), 2);
    }
}
