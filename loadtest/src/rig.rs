//! The rig's two clusters as the load test sees them: bootstrap servers, the brokers' processes (for fault
//! injection), and the few admin operations it needs.
//!
//! # Layout
//! - [`Rig`]: from the environment or `.rig/env` (written by `scripts/kafka-rig.sh start`). Broker PIDs are
//!   read from `.rig/clusters/<name>/pid` first, because a restarted broker has a new PID.
//! - [`Admin`]: create/delete topics, wait for partitions with leaders, list topics.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};

/// The two clusters.
#[derive(Clone, Debug)]
pub struct Rig {
    /// Bootstrap servers of the source cluster (`src`).
    pub src: String,
    /// Bootstrap servers of the target cluster (`dst`).
    pub dst: String,
    /// `kafka` or `tansu`: broker outages are only possible with Kafka (Tansu keeps data in memory).
    pub kind: String,
    /// The rig's directory (`.rig`), for the brokers' pid files.
    pub dir: Option<PathBuf>,
    /// `FERRY_SRC_PID` / `FERRY_DST_PID` as given (fallback when the pid files are missing).
    env_pids: HashMap<String, u32>,
}

/// Parses `KEY=VALUE` lines of `.rig/env`.
fn parse_env(text: &str) -> HashMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().trim_matches('\'').to_string()))
        .collect()
}

/// The workspace root (where `.rig/` lives).
pub fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

impl Rig {
    /// Reads the rig's variables from the environment, falling back to `<workspace>/.rig/env`.
    ///
    /// # Errors
    /// When the clusters are not named anywhere (the rig is not started).
    pub fn load() -> Result<Rig> {
        let file =
            std::fs::read_to_string(workspace_root().join(".rig/env")).map(|t| parse_env(&t)).unwrap_or_default();
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
        let mut env_pids = HashMap::new();
        for (name, key) in [("src", "FERRY_SRC_PID"), ("dst", "FERRY_DST_PID")] {
            if let Some(pid) = var(key).and_then(|v| v.parse().ok()) {
                env_pids.insert(name.to_string(), pid);
            }
        }
        Ok(Rig {
            src,
            dst,
            kind: var("FERRY_BROKER_KIND").unwrap_or_else(|| "kafka".into()),
            dir: var("FERRY_RIG_DIR").map(PathBuf::from).or_else(|| {
                let d = workspace_root().join(".rig");
                d.is_dir().then_some(d)
            }),
            env_pids,
        })
    }

    /// The current PID of broker `name` (`src` or `dst`): the rig's pid file, else the environment.
    pub fn broker_pid(&self, name: &str) -> Option<u32> {
        self.dir
            .as_ref()
            .and_then(|d| std::fs::read_to_string(d.join("clusters").join(name).join("pid")).ok())
            .and_then(|s| s.trim().parse().ok())
            .or_else(|| self.env_pids.get(name).copied())
    }

    /// Bootstrap servers of `name`.
    pub fn bootstrap(&self, name: &str) -> &str {
        if name == "src" {
            &self.src
        } else {
            &self.dst
        }
    }
}

/// Topic administration on one cluster.
pub struct Admin {
    admin: AdminClient<DefaultClientContext>,
    probe: BaseConsumer,
    bootstrap: String,
    /// "source" or "target", for messages.
    pub name: &'static str,
}

impl Admin {
    /// Connects to `bootstrap`.
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
    /// When the broker refuses or the partitions do not come up within 30 s.
    pub fn create_topic(&self, topic: &str, partitions: i32) -> Result<()> {
        let new = NewTopic::new(topic, partitions, TopicReplication::Fixed(1));
        let results = futures::executor::block_on(self.admin.create_topics([&new], &Self::options()))
            .with_context(|| format!("creating topic {topic} on the {}", self.name))?;
        for r in results {
            r.map_err(|(t, code)| anyhow!("creating topic {t} on the {}: {code}", self.name))?;
        }
        if !wait_leaders(&self.bootstrap, topic, partitions, Duration::from_secs(30)) {
            bail!("topic {topic} on the {} has no leaders after 30 s", self.name);
        }
        Ok(())
    }

    /// Deletes every topic whose name contains `needle`; returns how many.
    ///
    /// # Errors
    /// When the topic list cannot be read or a deletion fails.
    pub fn delete_topics_containing(&self, needle: &str) -> Result<usize> {
        let md = self.probe.fetch_metadata(None, Duration::from_secs(10))?;
        let names: Vec<String> =
            md.topics().iter().map(|t| t.name().to_string()).filter(|n| n.contains(needle)).collect();
        if names.is_empty() {
            return Ok(0);
        }
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let results = futures::executor::block_on(self.admin.delete_topics(&refs, &Self::options()))?;
        for r in results {
            r.map_err(|(t, code)| anyhow!("deleting topic {t} on the {}: {code}", self.name))?;
        }
        Ok(names.len())
    }
}

/// A consumer for metadata and offsets only (never subscribes or commits).
///
/// # Errors
/// When librdkafka rejects the configuration.
pub fn probe_consumer(bootstrap: &str) -> Result<BaseConsumer> {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "ferry-loadtest-probe")
        .set("enable.auto.commit", "false")
        .create()
        .context("creating a probe consumer")
}

/// Waits until `topic` on `bootstrap` has `partitions` partitions with a leader, asking with a fresh client
/// each time (so a restarted broker is really asked, not a cache). `false` on time-out.
pub fn wait_leaders(bootstrap: &str, topic: &str, partitions: i32, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Ok(probe) = probe_consumer(bootstrap) {
            if let Ok(md) = probe.fetch_metadata(Some(topic), Duration::from_secs(3)) {
                let ready: i32 = md
                    .topics()
                    .iter()
                    .filter(|t| t.name() == topic && t.error().is_none())
                    .map(|t| t.partitions().iter().filter(|p| p.leader() >= 0 && p.error().is_none()).count() as i32)
                    .sum();
                if ready >= partitions {
                    return true;
                }
            }
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_rig_env_file() {
        let env = parse_env("# c\nFERRY_SRC_PID=12\nFERRY_RIG_DIR=/x/.rig\n");
        assert_eq!(env.get("FERRY_SRC_PID").map(String::as_str), Some("12"));
        assert_eq!(env.get("FERRY_RIG_DIR").map(String::as_str), Some("/x/.rig"));
    }
}
