//! Topic administration on one of the rig's clusters, shared by the load test and the bench: create and
//! delete topics, wait for partitions with leaders, and read end offsets (the bench's "how far has the copy
//! got" probe).
//!
//! # Layout
//! - [`Admin`]: an admin client plus a probe consumer (metadata and offsets only) on one cluster.
//! - [`probe_consumer`], [`wait_leaders`]: the same probes with a fresh client, for brokers that restart.

use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::metadata::Metadata;
use rdkafka::{Offset, TopicPartitionList};

/// Topic administration and the end-offset probe on one cluster.
pub struct Admin {
    admin: AdminClient<DefaultClientContext>,
    probe: BaseConsumer,
    bootstrap: String,
    /// "source" or "target", for messages.
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
        let probe = probe_consumer(bootstrap)?;
        probe
            .fetch_metadata(None, Duration::from_secs(20))
            .with_context(|| format!("the {name} cluster ({bootstrap}) does not answer"))?;
        Ok(Admin { admin, probe, bootstrap: bootstrap.to_string(), name })
    }

    fn options() -> AdminOptions {
        AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)))
    }

    /// Creates `topic` with `partitions` partitions and one replica, and waits until they all have a leader.
    ///
    /// # Errors
    /// When the broker refuses or the partitions do not come up within 30 s (60 s for more than 100).
    pub fn create_topic(&self, topic: &str, partitions: i32) -> Result<()> {
        let new = NewTopic::new(topic, partitions, TopicReplication::Fixed(1));
        let results = futures::executor::block_on(self.admin.create_topics([&new], &Self::options()))
            .with_context(|| format!("creating topic {topic} on the {}", self.name))?;
        for r in results {
            r.map_err(|(t, code)| anyhow!("creating topic {t} on the {}: {code}", self.name))?;
        }
        let timeout = Duration::from_secs(if partitions > 100 { 60 } else { 30 });
        if !wait_leaders(&self.bootstrap, topic, partitions, timeout) {
            bail!(
                "topic {topic} on the {} has no leaders for all {partitions} partitions after {timeout:?}",
                self.name
            );
        }
        Ok(())
    }

    /// How many partitions of `topic` have a leader (0 when it does not exist), asked with this admin's probe.
    pub fn partitions_with_leader(&self, topic: &str) -> i32 {
        self.probe.fetch_metadata(Some(topic), Duration::from_secs(5)).map_or(0, |md| leaders_in(&md, topic))
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
        for r in results {
            r.map_err(|(t, code)| anyhow!("deleting topic {t} on the {}: {code}", self.name))?;
        }
        Ok(names.len())
    }

    /// The end offset of every partition `0..partitions` of `topic` in one ListOffsets round trip.
    ///
    /// librdkafka answers only for topics in its metadata cache: ask [`Admin::partitions_with_leader`] first.
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
        let mut out = vec![0i64; partitions.max(0) as usize];
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

    /// [`Admin::end_offsets`] asked in chunks of 100 partitions, a chunk that fails again in chunks of 10;
    /// `None` stands for a partition that did not answer. A broker still loading a large new topic (1,000
    /// partitions take it seconds) answers NotLeaderForPartition for the partitions it does not serve yet,
    /// and librdkafka then fails the whole request. Errors are printed when `FERRY_BENCH_DEBUG` is set.
    pub fn end_offsets_partial(&self, topic: &str, partitions: i32) -> Vec<Option<i64>> {
        let mut out = vec![None; partitions.max(0) as usize];
        let all: Vec<i32> = (0..partitions.max(0)).collect();
        for chunk in all.chunks(100) {
            if !self.end_offsets_into(topic, chunk, &mut out) {
                for small in chunk.chunks(10) {
                    self.end_offsets_into(topic, small, &mut out);
                }
            }
        }
        out
    }

    /// One ListOffsets request for `partitions` of `topic`, written into `out`; false when it failed.
    fn end_offsets_into(&self, topic: &str, partitions: &[i32], out: &mut [Option<i64>]) -> bool {
        let mut tpl = TopicPartitionList::new();
        for &p in partitions {
            if tpl.add_partition_offset(topic, p, Offset::End).is_err() {
                return false;
            }
        }
        match self.probe.offsets_for_times(tpl, Duration::from_secs(5)) {
            Ok(got) => {
                for elem in got.elements() {
                    if let (Offset::Offset(o), Ok(()), Some(slot)) =
                        (elem.offset(), elem.error(), out.get_mut(elem.partition() as usize))
                    {
                        *slot = Some(o);
                    }
                }
                true
            }
            Err(e) => {
                if std::env::var_os("FERRY_BENCH_DEBUG").is_some() {
                    eprintln!("end offsets of {topic} ({} partitions) on the {}: {e}", partitions.len(), self.name);
                }
                false
            }
        }
    }
}

/// A consumer for metadata and offsets only (never subscribes or commits).
///
/// # Errors
/// When librdkafka rejects the configuration.
pub fn probe_consumer(bootstrap: &str) -> Result<BaseConsumer> {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "ferry-rig-probe")
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "false")
        .create()
        .context("creating a probe consumer")
}

/// Partitions of `topic` in `md` that have a leader and no error.
fn leaders_in(md: &Metadata, topic: &str) -> i32 {
    md.topics()
        .iter()
        .filter(|t| t.name() == topic && t.error().is_none())
        .map(|t| t.partitions().iter().filter(|p| p.leader() >= 0 && p.error().is_none()).count() as i32)
        .sum()
}

/// Waits until `topic` on `bootstrap` has `partitions` partitions with a leader, asking with a fresh client
/// each time (so a restarted broker is really asked, not a cache). `false` on time-out.
pub fn wait_leaders(bootstrap: &str, topic: &str, partitions: i32, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Ok(probe) = probe_consumer(bootstrap) {
            if let Ok(md) = probe.fetch_metadata(Some(topic), Duration::from_secs(3)) {
                if leaders_in(&md, topic) >= partitions {
                    return true;
                }
            }
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    false
}
