//! Shared helpers of ferry's integration tests: the `ferry` child process (killed on drop), mm2.properties
//! files, and small synchronous Kafka helpers (create topics, produce, read back, describe configs, read
//! ferry's progress) for the two test clusters of `scripts/kafka-rig.sh`.
//!
//! Every test uses its own random topic prefix so tests can share the two clusters and run in parallel.
//! The aliases are always `src` and `dst`.

#![allow(dead_code)]

pub mod secure;

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::sync::OnceLock;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rdkafka::admin::{
    AdminClient, AdminOptions, AlterConfig, ConfigEntry, NewPartitions, NewTopic, ResourceSpecifier, TopicReplication,
};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};

/// Generous limit for "eventually" conditions on a loaded 2-core machine.
pub const WAIT: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------------------------------
// Randomness and naming
// ---------------------------------------------------------------------------------------------------

/// A random lowercase alphanumeric string of `len` characters (no external crate needed).
pub fn random_id(len: usize) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0);
    let mut state = nanos
        ^ (u64::from(std::process::id()) << 32)
        ^ COUNTER.fetch_add(1, Ordering::Relaxed).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    (0..len)
        .map(|_| {
            // splitmix64
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            ALPHABET[(z % ALPHABET.len() as u64) as usize] as char
        })
        .collect()
}

/// A fresh topic prefix `it-<random>-` for one test.
pub fn prefix() -> String {
    format!("it-{}-", random_id(8))
}

/// Milliseconds since the epoch.
pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

// ---------------------------------------------------------------------------------------------------
// The rig
// ---------------------------------------------------------------------------------------------------

/// The two test clusters started by `scripts/kafka-rig.sh start` (`.rig/env`).
#[derive(Clone, Debug)]
pub struct Rig {
    /// Bootstrap servers of the `src` cluster.
    pub src: String,
    /// Bootstrap servers of the `dst` cluster.
    pub dst: String,
    /// `kafka` or `tansu`.
    pub kind: String,
}

impl Rig {
    /// Reads the rig's environment; panics with instructions when it is missing.
    pub fn get() -> Rig {
        let var = |name: &str| {
            std::env::var(name).unwrap_or_else(|_| {
                panic!(
                    "{name} is not set: start the brokers with `scripts/kafka-rig.sh start`, then \
                     `set -a; . .rig/env; set +a` (or run scripts/test.sh)"
                )
            })
        };
        Rig {
            src: var("FERRY_SRC_BOOTSTRAP"),
            dst: var("FERRY_DST_BOOTSTRAP"),
            kind: std::env::var("FERRY_BROKER_KIND").unwrap_or_else(|_| "kafka".into()),
        }
    }

    /// Whether the brokers are Tansu rather than Apache Kafka.
    pub fn is_tansu(&self) -> bool {
        self.kind.eq_ignore_ascii_case("tansu")
    }

    /// A [`Cluster`] handle for `src`.
    pub fn source(&self) -> Cluster {
        Cluster::new("src", &self.src)
    }

    /// A [`Cluster`] handle for `dst`.
    pub fn target(&self) -> Cluster {
        Cluster::new("dst", &self.dst)
    }

    /// The base of an mm2.properties for flow `src->dst` restricted to `topics` (a regex list),
    /// with test-friendly settings (single replicas, 1 s topic refresh). Extra lines can be appended.
    pub fn mm2(&self, topics: &str) -> Mm2 {
        Mm2::new(self, topics)
    }

    /// Like [`mm2`](Self::mm2) for flow `a->b` between the rig's clusters under private aliases, so
    /// that the flow's internal topics (`mm2-offset-syncs.<b>.internal`, `ferry-offset-index.<b>.internal`
    /// on src; `<a>.checkpoints.internal`, `mm2-offsets.<a>.internal` on dst) belong to one test alone.
    /// Heartbeats are off.
    pub fn private_mm2(&self, a: &str, b: &str, topics: &str) -> Mm2 {
        let mut mm2 = Mm2 { lines: Vec::new() };
        mm2.set("clusters", &format!("{a}, {b}"))
            .set(&format!("{a}.bootstrap.servers"), &self.src)
            .set(&format!("{b}.bootstrap.servers"), &self.dst)
            .set(&format!("{a}->{b}.enabled"), "true")
            .set(&format!("{a}->{b}.topics"), topics);
        mm2.test_defaults();
        mm2.set("emit.heartbeats.enabled", "false").set("heartbeats.replication.enabled", "false");
        mm2
    }
}

// ---------------------------------------------------------------------------------------------------
// mm2.properties
// ---------------------------------------------------------------------------------------------------

/// An mm2.properties being written (key order kept; later keys win in ferry as in MM2).
pub struct Mm2 {
    lines: Vec<(String, String)>,
}

impl Mm2 {
    fn new(rig: &Rig, topics: &str) -> Mm2 {
        let mut mm2 = Mm2 { lines: Vec::new() };
        mm2.set("clusters", "src, dst")
            .set("src.bootstrap.servers", &rig.src)
            .set("dst.bootstrap.servers", &rig.dst)
            .set("src->dst.enabled", "true")
            .set("src->dst.topics", topics);
        mm2.test_defaults();
        mm2
    }

    /// Single replicas for every topic, 1 s topic refresh and progress ticks, the metrics endpoint on a
    /// free port and a group of its own (tests run several ferry processes at once).
    fn test_defaults(&mut self) {
        self.set("ferry.metrics.address", "127.0.0.1:0")
            .set("ferry.group.id", &format!("ferry-test-{}", random_id(8)))
            // A restarted instance waits for the killed one's session to end (the rig allows 1 s minimum).
            .set("ferry.group.session.timeout.ms", "2000")
            .set("replication.factor", "1")
            .set("offset.storage.replication.factor", "1")
            .set("offset-syncs.topic.replication.factor", "1")
            .set("checkpoints.topic.replication.factor", "1")
            .set("heartbeats.topic.replication.factor", "1")
            .set("refresh.topics.interval.seconds", "1")
            .set("offset.flush.interval.ms", "1000");
    }

    /// Sets (or replaces) `key`.
    pub fn set(&mut self, key: &str, value: &str) -> &mut Mm2 {
        if let Some(line) = self.lines.iter_mut().find(|(k, _)| k == key) {
            line.1 = value.to_string();
        } else {
            self.lines.push((key.to_string(), value.to_string()));
        }
        self
    }

    /// The file's text.
    pub fn text(&self) -> String {
        self.lines.iter().map(|(k, v)| format!("{k} = {v}\n")).collect()
    }

    /// Writes the file into `dir` and returns its path.
    pub fn write(&self, dir: &Path) -> PathBuf {
        let path = dir.join("mm2.properties");
        std::fs::write(&path, self.text()).expect("writing mm2.properties");
        path
    }
}

// ---------------------------------------------------------------------------------------------------
// The ferry child process
// ---------------------------------------------------------------------------------------------------

/// Path of the `ferry` binary built by cargo for these tests.
pub fn ferry_bin() -> &'static str {
    env!("CARGO_BIN_EXE_ferry")
}

/// A running `ferry run <file>`; killed (SIGKILL) when dropped if still running.
pub struct Ferry {
    child: Child,
    stderr_path: PathBuf,
    name: String,
    status: Option<ExitStatus>,
}

impl Ferry {
    /// Starts `ferry run <config>`, logging to `<dir>/<name>.stderr`.
    pub fn start(config: &Path, dir: &Path, name: &str) -> Ferry {
        let level = std::env::var("FERRY_IT_LOG").unwrap_or_else(|_| "info".into());
        Self::start_with(config, dir, name, &[], &level)
    }

    /// Starts `ferry run <config> <args>` with `RUST_LOG=<log>`, logging to `<dir>/<name>.stderr`.
    pub fn start_with(config: &Path, dir: &Path, name: &str, args: &[&str], log: &str) -> Ferry {
        let stderr_path = dir.join(format!("{name}.stderr"));
        let stderr = File::create(&stderr_path).expect("creating the stderr file");
        let child = Command::new(ferry_bin())
            .arg("run")
            .arg(config)
            .args(args)
            .env("NO_COLOR", "1")
            .env("RUST_LOG", log)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(stderr))
            .spawn()
            .expect("starting ferry");
        eprintln!("[it] started ferry `{name}` (pid {}), stderr in {}", child.id(), stderr_path.display());
        Ferry { child, stderr_path, name: name.to_string(), status: None }
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What ferry wrote to stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// The last `n` lines of stderr, for failure messages.
    pub fn stderr_tail(&self, n: usize) -> String {
        let text = self.stderr();
        let lines: Vec<&str> = text.lines().collect();
        let start = lines.len().saturating_sub(n);
        format!("--- last {} lines of ferry `{}` stderr ---\n{}\n---", n, self.name, lines[start..].join("\n"))
    }

    /// Sends `signal` (e.g. "TERM", "KILL") with the `kill` command.
    pub fn signal(&self, signal: &str) {
        let status =
            Command::new("kill").arg(format!("-{signal}")).arg(self.pid().to_string()).status().expect("running kill");
        assert!(status.success(), "kill -{signal} {} failed", self.pid());
    }

    /// The exit status if ferry has exited.
    pub fn try_status(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().expect("waiting for ferry");
        }
        self.status
    }

    /// Panics (with the stderr tail) if ferry is no longer running.
    pub fn assert_running(&mut self) {
        if let Some(status) = self.try_status() {
            panic!("ferry `{}` exited unexpectedly with {status}\n{}", self.name, self.stderr_tail(60));
        }
    }

    /// Waits up to `timeout` for ferry to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_status() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGTERM, then asserts exit code 0 within `timeout`; returns how long the exit took.
    pub fn stop(&mut self, timeout: Duration) -> Duration {
        let started = Instant::now();
        self.signal("TERM");
        match self.wait_exit(timeout) {
            Some(status) => {
                assert_eq!(
                    status.code(),
                    Some(0),
                    "ferry `{}` exited with {status} after SIGTERM\n{}",
                    self.name,
                    self.stderr_tail(60)
                );
            }
            None => {
                panic!("ferry `{}` did not exit within {timeout:?} of SIGTERM\n{}", self.name, self.stderr_tail(60))
            }
        }
        started.elapsed()
    }

    /// SIGKILL and reap.
    pub fn kill9(&mut self) {
        if self.try_status().is_none() {
            self.signal("KILL");
            self.status = Some(self.child.wait().expect("reaping ferry"));
        }
    }

    /// Waits until stderr contains `needle` (checking that ferry keeps running meanwhile).
    pub fn wait_for_log(&mut self, needle: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            if self.stderr().contains(needle) {
                return;
            }
            self.assert_running();
            assert!(
                Instant::now() < deadline,
                "ferry `{}` did not log `{needle}` within {timeout:?}\n{}",
                self.name,
                self.stderr_tail(60)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Ferry {
    fn drop(&mut self) {
        if self.status.is_none() && matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        // Keep the log of a failed test (or of every test with FERRY_IT_KEEP_LOGS=1) for debugging.
        if std::thread::panicking() || std::env::var_os("FERRY_IT_KEEP_LOGS").is_some() {
            let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("ferry-it-logs");
            let kept = dir.join(format!("{}-{}.stderr", self.name, self.child.id()));
            if std::fs::create_dir_all(&dir).is_ok() && std::fs::copy(&self.stderr_path, &kept).is_ok() {
                eprintln!("[it] ferry `{}` stderr kept in {}", self.name, kept.display());
            }
        }
    }
}

/// Runs `ferry <args>` to completion (killed after 60 s) and returns (exit code, stdout, stderr).
pub fn ferry_output(args: &[&str]) -> (Option<i32>, String, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let out_path = dir.path().join("stdout");
    let err_path = dir.path().join("stderr");
    let mut child = Command::new(ferry_bin())
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::from(File::create(&out_path).expect("stdout file")))
        .stderr(Stdio::from(File::create(&err_path).expect("stderr file")))
        .spawn()
        .expect("starting ferry");
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for ferry") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "`ferry {}` did not exit within 60 s; stderr:\n{}",
                args.join(" "),
                std::fs::read_to_string(&err_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    (
        status.code(),
        std::fs::read_to_string(&out_path).unwrap_or_default(),
        std::fs::read_to_string(&err_path).unwrap_or_default(),
    )
}

// ---------------------------------------------------------------------------------------------------
// Waiting
// ---------------------------------------------------------------------------------------------------

/// Polls `condition` every 200 ms until it holds; panics with `what` (and `context()`) after `timeout`.
pub fn wait_until(timeout: Duration, what: &str, mut condition: impl FnMut() -> bool) -> Duration {
    let started = Instant::now();
    loop {
        if condition() {
            return started.elapsed();
        }
        assert!(started.elapsed() < timeout, "timed out after {timeout:?} waiting until {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

// ---------------------------------------------------------------------------------------------------
// Records
// ---------------------------------------------------------------------------------------------------

/// (key, value, headers, timestamp) of a record: what must be identical on both clusters.
pub type RecContent<'a> = (Option<&'a [u8]>, Option<&'a [u8]>, &'a [(String, Option<Vec<u8>>)], i64);

/// A record as the tests compare it (offset kept apart: it may differ between clusters).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rec {
    /// Offset in its partition (not compared by `same_content`).
    pub offset: i64,
    /// Key bytes, `None` for a null key.
    pub key: Option<Vec<u8>>,
    /// Value bytes, `None` for a null value (tombstone).
    pub value: Option<Vec<u8>>,
    /// Headers in order, duplicates and null values included.
    pub headers: Vec<(String, Option<Vec<u8>>)>,
    /// Record timestamp (ms).
    pub timestamp: i64,
}

impl Rec {
    /// A record to produce (offset unknown).
    pub fn new(key: Option<&[u8]>, value: Option<&[u8]>, headers: &[(&str, Option<&[u8]>)], timestamp: i64) -> Rec {
        Rec {
            offset: -1,
            key: key.map(<[u8]>::to_vec),
            value: value.map(<[u8]>::to_vec),
            headers: headers.iter().map(|(k, v)| ((*k).to_string(), v.map(<[u8]>::to_vec))).collect(),
            timestamp,
        }
    }

    /// The record without its offset, for comparisons across clusters.
    pub fn content(&self) -> RecContent<'_> {
        (self.key.as_deref(), self.value.as_deref(), &self.headers, self.timestamp)
    }

    /// A record read back from a cluster.
    pub fn from_message(message: &BorrowedMessage<'_>) -> Rec {
        let headers = message
            .headers()
            .map(|headers| headers.iter().map(|h| (h.key.to_string(), h.value.map(<[u8]>::to_vec))).collect())
            .unwrap_or_default();
        Rec {
            offset: message.offset(),
            key: message.key().map(<[u8]>::to_vec),
            value: message.payload().map(<[u8]>::to_vec),
            headers,
            timestamp: message.timestamp().to_millis().unwrap_or(-1),
        }
    }

    /// The value as UTF-8 text ("" for null).
    pub fn value_str(&self) -> String {
        self.value.as_deref().map(|v| String::from_utf8_lossy(v).into_owned()).unwrap_or_default()
    }
}

/// Asserts that `actual` holds exactly the records of `expected`, in order (offsets ignored).
pub fn assert_same_records(what: &str, expected: &[Rec], actual: &[Rec]) {
    for (i, (e, a)) in expected.iter().zip(actual).enumerate() {
        assert_eq!(
            a.content(),
            e.content(),
            "{what}: record #{i} differs (source offset {}, target offset {})",
            e.offset,
            a.offset
        );
    }
    assert_eq!(
        actual.len(),
        expected.len(),
        "{what}: target holds {} records, source {}",
        actual.len(),
        expected.len()
    );
}

// ---------------------------------------------------------------------------------------------------
// Kafka helpers
// ---------------------------------------------------------------------------------------------------

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("tokio runtime")
    })
}

const TIMEOUT: Duration = Duration::from_secs(30);

/// One test cluster.
#[derive(Clone)]
pub struct Cluster {
    /// Its alias (`src` or `dst`).
    pub alias: &'static str,
    /// Its bootstrap servers.
    pub bootstrap: String,
    admin: std::sync::Arc<AdminClient<DefaultClientContext>>,
}

impl Cluster {
    fn new(alias: &'static str, bootstrap: &str) -> Cluster {
        let admin = ClientConfig::new()
            .set("bootstrap.servers", bootstrap)
            .set("client.id", format!("ferry-it-admin-{alias}"))
            .create()
            .expect("admin client");
        Cluster { alias, bootstrap: bootstrap.to_string(), admin: std::sync::Arc::new(admin) }
    }

    fn options() -> AdminOptions {
        AdminOptions::new().request_timeout(Some(TIMEOUT)).operation_timeout(Some(TIMEOUT))
    }

    /// Creates `topic` with `partitions`, replication factor 1 and `configs`; waits until its metadata
    /// shows every partition.
    pub fn create_topic(&self, topic: &str, partitions: i32, configs: &[(&str, &str)]) {
        self.try_create_topic(topic, partitions, 1, configs)
            .unwrap_or_else(|e| panic!("creating topic `{topic}` on {}: {e}", self.alias));
        wait_until(WAIT, &format!("`{topic}` has {partitions} partitions on {}", self.alias), || {
            self.partitions(topic) == Some(partitions)
        });
    }

    /// Creates a topic, returning the broker's error code if it refuses.
    pub fn try_create_topic(
        &self,
        topic: &str,
        partitions: i32,
        replication: i32,
        configs: &[(&str, &str)],
    ) -> Result<(), String> {
        let mut new_topic = NewTopic::new(topic, partitions, TopicReplication::Fixed(replication));
        for (k, v) in configs {
            new_topic = new_topic.set(k, v);
        }
        let results =
            runtime().block_on(self.admin.create_topics([&new_topic], &Self::options())).map_err(|e| e.to_string())?;
        for result in results {
            result.map_err(|(t, code)| format!("{t}: {code:?}"))?;
        }
        Ok(())
    }

    /// Writes `layouts` (per partition, transactions as (commit?, record count)) with one
    /// transactional producer: committed records are numbered `p<partition>-<seq>` from 0 per
    /// partition, aborted ones `p<partition>-aborted-<k>`. Each transaction leaves its records and a
    /// marker in the log, so source offsets have gaps where markers and aborted records are.
    pub fn produce_transactions(&self, topic: &str, layouts: &BTreeMap<i32, Vec<(bool, i64)>>, id: &str, ts: i64) {
        let producer: BaseProducer = ClientConfig::new()
            .set("bootstrap.servers", &self.bootstrap)
            .set("transactional.id", id)
            .set("linger.ms", "5")
            .create()
            .expect("transactional producer");
        producer.init_transactions(TIMEOUT).expect("init_transactions");
        for (partition, layout) in layouts {
            let (mut committed, mut aborted) = (0, 0);
            for &(commit, count) in layout {
                producer.begin_transaction().expect("begin_transaction");
                for _ in 0..count {
                    let value = if commit {
                        committed += 1;
                        format!("p{partition}-{}", committed - 1)
                    } else {
                        aborted += 1;
                        format!("p{partition}-aborted-{aborted}")
                    };
                    let record: BaseRecord<'_, [u8], [u8]> = BaseRecord::to(topic)
                        .partition(*partition)
                        .key(b"k".as_slice())
                        .payload(value.as_bytes())
                        .timestamp(ts);
                    producer.send(record).map_err(|(e, _)| e).expect("transactional send");
                }
                // The records must be in the log before the abort (an abort purges what is queued).
                producer.flush(TIMEOUT).expect("flush in transaction");
                if commit {
                    producer.commit_transaction(TIMEOUT).expect("commit_transaction");
                } else {
                    producer.abort_transaction(TIMEOUT).expect("abort_transaction");
                }
            }
        }
    }

    /// Deletes `topic` and waits until its metadata is gone.
    pub fn delete_topic(&self, topic: &str) {
        let results = runtime()
            .block_on(self.admin.delete_topics(&[topic], &Self::options()))
            .unwrap_or_else(|e| panic!("deleting `{topic}` on {}: {e}", self.alias));
        for result in results {
            result.unwrap_or_else(|(t, code)| panic!("deleting `{t}`: {code:?}"));
        }
        wait_until(WAIT, &format!("`{topic}` deleted on {}", self.alias), || self.partitions(topic).is_none());
    }

    /// Deletes the records of `topic`/`partition` before `offset` (DeleteRecords: the log start moves).
    pub fn delete_records(&self, topic: &str, partition: i32, offset: i64) {
        let mut list = TopicPartitionList::new();
        list.add_partition_offset(topic, partition, Offset::Offset(offset)).expect("offset");
        let result = runtime()
            .block_on(self.admin.delete_records(&list, &Self::options()))
            .unwrap_or_else(|e| panic!("DeleteRecords on `{topic}`: {e}"));
        for element in result.elements() {
            if let Err(e) = element.error() {
                panic!("DeleteRecords on `{topic}`/{partition}: {e}");
            }
        }
    }

    /// Grows `topic` to `total` partitions.
    pub fn create_partitions(&self, topic: &str, total: usize) {
        let results = runtime()
            .block_on(self.admin.create_partitions([&NewPartitions::new(topic, total)], &Self::options()))
            .unwrap_or_else(|e| panic!("create_partitions on `{topic}`: {e}"));
        for result in results {
            result.unwrap_or_else(|(t, code)| panic!("create_partitions on `{t}`: {code:?}"));
        }
    }

    /// Topic configuration entries of `topic`.
    pub fn topic_configs(&self, topic: &str) -> HashMap<String, ConfigEntry> {
        let results = runtime()
            .block_on(self.admin.describe_configs([&ResourceSpecifier::Topic(topic)], &Self::options()))
            .unwrap_or_else(|e| panic!("describe_configs of `{topic}`: {e}"));
        let mut out = HashMap::new();
        for result in results {
            let resource = result.unwrap_or_else(|code| panic!("describe_configs of `{topic}`: {code:?}"));
            for entry in resource.entries {
                out.insert(entry.name.clone(), entry);
            }
        }
        out
    }

    /// Replaces the config overrides of `topic` with `configs` (non-incremental AlterConfigs: every
    /// override not listed goes back to its default).
    pub fn set_topic_configs(&self, topic: &str, configs: &[(&str, &str)]) {
        let mut alter = AlterConfig::new(ResourceSpecifier::Topic(topic));
        for (k, v) in configs {
            alter = alter.set(k, v);
        }
        let results = runtime()
            .block_on(self.admin.alter_configs([&alter], &Self::options()))
            .unwrap_or_else(|e| panic!("alter_configs of `{topic}` on {}: {e}", self.alias));
        for result in results {
            result.unwrap_or_else(|(_, code)| panic!("alter_configs of `{topic}` on {}: {code:?}", self.alias));
        }
    }

    /// The admin client, for calls the helpers here do not wrap.
    pub fn admin(&self) -> &AdminClient<DefaultClientContext> {
        &self.admin
    }

    /// Runs a Kafka tool class (`scripts/kafka-rig.sh kafka-class <alias> <class> <args>`) against this
    /// cluster and returns its standard output; panics when it fails.
    pub fn kafka_tool(&self, class: &str, args: &[&str]) -> String {
        let script = std::env::var("FERRY_RIG_SCRIPT")
            .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/kafka-rig.sh").to_string());
        let output = Command::new(script)
            .arg("kafka-class")
            .arg(self.alias)
            .arg(class)
            .args(args)
            .env("FERRY_SRC_BOOTSTRAP", Rig::get().src)
            .env("FERRY_DST_BOOTSTRAP", Rig::get().dst)
            .stdin(Stdio::null())
            .output()
            .expect("running scripts/kafka-rig.sh kafka-class");
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(
            output.status.success(),
            "kafka-class {} {class} {args:?} failed: {}\n{stdout}\n{}",
            self.alias,
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        stdout
    }

    fn consumer(&self) -> BaseConsumer {
        ClientConfig::new()
            .set("bootstrap.servers", &self.bootstrap)
            .set("group.id", format!("ferry-it-reader-{}", random_id(6)))
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("enable.partition.eof", "false")
            .create()
            .expect("consumer")
    }

    /// All topics with their partition counts.
    pub fn topics(&self) -> BTreeMap<String, i32> {
        let deadline = Instant::now() + WAIT;
        let metadata = loop {
            match self.admin.inner().fetch_metadata(None, TIMEOUT) {
                Ok(metadata) => break metadata,
                Err(e) if Instant::now() < deadline => {
                    eprintln!("[it] metadata of {}: {e}; retrying", self.alias);
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err(e) => panic!("metadata of {}: {e}", self.alias),
            }
        };
        metadata
            .topics()
            .iter()
            .filter(|t| t.error().is_none())
            .map(|t| (t.name().to_string(), t.partitions().len() as i32))
            .collect()
    }

    /// The partition count of `topic`, `None` when it does not exist.
    pub fn partitions(&self, topic: &str) -> Option<i32> {
        self.topics().get(topic).copied()
    }

    /// (low, high) watermarks of a partition.
    /// Retries transient errors (a just-created partition may have no leader yet) for up to [`WAIT`].
    pub fn watermarks(&self, topic: &str, partition: i32) -> (i64, i64) {
        let deadline = Instant::now() + WAIT;
        loop {
            match self.admin.inner().fetch_watermarks(topic, partition, TIMEOUT) {
                Ok(watermarks) => return watermarks,
                Err(e) if Instant::now() < deadline => {
                    eprintln!("[it] watermarks of {topic}/{partition} on {}: {e}; retrying", self.alias);
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err(e) => panic!("watermarks of {topic}/{partition} on {}: {e}", self.alias),
            }
        }
    }

    /// High watermark (next offset) of a partition, 0 when the topic does not exist (yet).
    pub fn high_watermark(&self, topic: &str, partition: i32) -> i64 {
        match self.partitions(topic) {
            Some(n) if partition < n => self.watermarks(topic, partition).1,
            _ => 0,
        }
    }

    /// Every record of the given partitions, read from the beginning up to the high watermark taken at
    /// the start of the call.
    pub fn read_partitions(&self, topic: &str, partitions: &[i32]) -> BTreeMap<i32, Vec<Rec>> {
        let consumer = self.consumer();
        let mut out: BTreeMap<i32, Vec<Rec>> = partitions.iter().map(|p| (*p, Vec::new())).collect();
        let mut ends = HashMap::new();
        let mut list = TopicPartitionList::new();
        for &partition in partitions {
            let (low, high) = self.watermarks(topic, partition);
            if high > low {
                ends.insert(partition, high);
                list.add_partition_offset(topic, partition, Offset::Beginning).expect("assignment");
            }
        }
        if ends.is_empty() {
            return out;
        }
        consumer.assign(&list).expect("assign");
        let deadline = Instant::now() + WAIT;
        while !ends.is_empty() {
            assert!(Instant::now() < deadline, "reading {topic} on {}: timed out, missing {ends:?}", self.alias);
            match consumer.poll(Duration::from_millis(200)) {
                Some(Ok(message)) => {
                    let partition = message.partition();
                    if let Some(end) = ends.get(&partition) {
                        if message.offset() < *end {
                            out.entry(partition).or_default().push(Rec::from_message(&message));
                        }
                        if message.offset() + 1 >= *end {
                            ends.remove(&partition);
                        }
                    }
                }
                Some(Err(e)) => panic!("reading {topic} on {}: {e}", self.alias),
                None => {
                    // Positions past the end (e.g. a trailing control record) also mean done.
                    if let Ok(positions) = consumer.position() {
                        for element in positions.elements() {
                            if let (Offset::Offset(position), Some(end)) =
                                (element.offset(), ends.get(&element.partition()))
                            {
                                if position >= *end {
                                    ends.remove(&element.partition());
                                }
                            }
                        }
                    }
                }
            }
        }
        out
    }

    /// Every record of every partition of `topic`.
    pub fn read_topic(&self, topic: &str) -> BTreeMap<i32, Vec<Rec>> {
        let n = self.partitions(topic).unwrap_or_else(|| panic!("topic `{topic}` does not exist on {}", self.alias));
        self.read_partitions(topic, &(0..n).collect::<Vec<_>>())
    }

    /// A producer with explicit-partition, idempotent, in-order delivery.
    pub fn producer(&self) -> TestProducer {
        let producer: BaseProducer = ClientConfig::new()
            .set("bootstrap.servers", &self.bootstrap)
            .set("enable.idempotence", "true")
            .set("linger.ms", "5")
            .set("queue.buffering.max.messages", "200000")
            .set("message.timeout.ms", "60000")
            .create()
            .expect("producer");
        TestProducer { producer }
    }

    /// Creates `topic` with `partitions` partitions and writes `count` [`numbered`] records to each,
    /// timestamped a second ago; returns what each partition holds.
    pub fn seed_numbered(&self, topic: &str, partitions: i32, count: i64) -> BTreeMap<i32, Vec<Rec>> {
        self.create_topic(topic, partitions, &[]);
        let ts = now_ms() - 1000;
        (0..partitions)
            .map(|partition| {
                let records: Vec<Rec> = (0..count).map(|i| numbered(partition, i, ts + i)).collect();
                (partition, self.produce(topic, partition, &records))
            })
            .collect()
    }

    /// Produces `records` to `topic`/`partition` in order and waits until they are acknowledged;
    /// returns them with their offsets.
    pub fn produce(&self, topic: &str, partition: i32, records: &[Rec]) -> Vec<Rec> {
        let producer = self.producer();
        let first = self.high_watermark(topic, partition);
        for record in records {
            producer.send(topic, partition, record);
        }
        producer.flush();
        let end = self.high_watermark(topic, partition);
        assert_eq!(end - first, records.len() as i64, "produced records on {topic}/{partition} (concurrent writer?)");
        records.iter().enumerate().map(|(i, r)| Rec { offset: first + i as i64, ..r.clone() }).collect()
    }

    /// Every stored progress entry of source cluster `src` whose topic starts with `topic_prefix`, as
    /// ferry (and MM2) would load it: the last value per key, tombstones removing it.
    pub fn read_progress(&self, topic_prefix: &str) -> BTreeMap<(String, i32), i64> {
        let topic = "mm2-offsets.src.internal";
        let Some(n) = self.partitions(topic) else {
            return BTreeMap::new();
        };
        let all = self.read_partitions(topic, &(0..n).collect::<Vec<_>>());
        let mut out = BTreeMap::new();
        for records in all.values() {
            for record in records {
                let Some(key) = record.key.as_deref() else {
                    continue;
                };
                match ferry_engine::connect_offsets::decode_source_offset(key, record.value.as_deref()) {
                    Ok(Some(entry)) if entry.cluster == "src" && entry.topic.starts_with(topic_prefix) => {
                        let id = (entry.topic, entry.partition);
                        match entry.offset {
                            Some(offset) => out.insert(id, offset),
                            None => out.remove(&id),
                        };
                    }
                    Ok(_) => {}
                    Err(e) => panic!(
                        "malformed progress record at {topic}/{}: {e}: key {:?}",
                        record.offset,
                        String::from_utf8_lossy(key)
                    ),
                }
            }
        }
        out
    }
}

/// A synchronous producer for tests.
pub struct TestProducer {
    producer: BaseProducer,
}

impl TestProducer {
    /// Queues one record (retrying while the local queue is full).
    pub fn send(&self, topic: &str, partition: i32, record: &Rec) {
        let mut headers = OwnedHeaders::new();
        for (k, v) in &record.headers {
            headers = headers.insert(Header { key: k, value: v.as_ref() });
        }
        loop {
            let mut base: BaseRecord<'_, [u8], [u8]> =
                BaseRecord::to(topic).partition(partition).headers(headers.clone());
            if let Some(key) = &record.key {
                base = base.key(key.as_slice());
            }
            if let Some(value) = &record.value {
                base = base.payload(value.as_slice());
            }
            if record.timestamp >= 0 {
                base = base.timestamp(record.timestamp);
            }
            match self.producer.send(base) {
                Ok(()) => return,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                    self.producer.poll(Duration::from_millis(10));
                }
                Err((e, _)) => panic!("producing to {topic}/{partition}: {e}"),
            }
        }
    }

    /// Serves delivery callbacks without blocking.
    pub fn poll(&self) {
        self.producer.poll(Duration::ZERO);
    }

    /// Waits until every queued record is acknowledged.
    pub fn flush(&self) {
        self.producer.flush(TIMEOUT * 2).expect("flushing the test producer");
        assert_eq!(self.producer.in_flight_count(), 0, "records left undelivered");
    }
}

/// A small numbered record `p<partition>-<seq>` (key = seq) timestamped `ts`.
pub fn numbered(partition: i32, seq: i64, ts: i64) -> Rec {
    let key = seq.to_string();
    let value = format!("p{partition}-{seq}");
    Rec::new(Some(key.as_bytes()), Some(value.as_bytes()), &[], ts)
}

/// Parses the sequence number out of a [`numbered`] record's value.
pub fn seq_of(record: &Rec, partition: i32) -> i64 {
    let value = record.value_str();
    let expected_prefix = format!("p{partition}-");
    value
        .strip_prefix(&expected_prefix)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("unexpected record value `{value}` in partition {partition}"))
}

/// Waits until `topic` on `cluster` has at least `counts[p]` records in each partition `p`.
pub fn wait_for_counts(cluster: &Cluster, topic: &str, counts: &BTreeMap<i32, i64>, ferry: &mut Ferry) -> Duration {
    let started = Instant::now();
    loop {
        let have: BTreeMap<i32, i64> = counts.keys().map(|p| (*p, cluster.high_watermark(topic, *p))).collect();
        if counts.iter().all(|(p, n)| have[p] >= *n) {
            return started.elapsed();
        }
        ferry.assert_running();
        assert!(
            started.elapsed() < WAIT,
            "timed out after {WAIT:?} waiting for {topic} on {} to reach {counts:?}; it has {have:?}\n{}",
            cluster.alias,
            ferry.stderr_tail(40)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

// ---------------------------------------------------------------------------------------------------
// Streams of numbered records
// ---------------------------------------------------------------------------------------------------

/// Produces numbered records to every partition of `topic` in rounds of `per_round` per partition
/// every `every`, continuing the sequence numbers from `start`, until `stop` is set. Returns the next
/// sequence number per partition (= the number of records in the partition).
pub fn produce_continuously(
    cluster: Cluster,
    topic: String,
    start: BTreeMap<i32, i64>,
    per_round: i64,
    every: Duration,
    stop: Arc<AtomicBool>,
) -> JoinHandle<BTreeMap<i32, i64>> {
    std::thread::spawn(move || {
        let producer = cluster.producer();
        let mut next = start;
        while !stop.load(Ordering::Relaxed) {
            let round = Instant::now();
            for (partition, seq) in next.iter_mut() {
                for _ in 0..per_round {
                    producer.send(&topic, *partition, &numbered(*partition, *seq, now_ms()));
                    *seq += 1;
                }
            }
            producer.poll();
            if let Some(rest) = every.checked_sub(round.elapsed()) {
                std::thread::sleep(rest);
            }
        }
        producer.flush();
        next
    })
}

/// Asserts the source partitions hold `p<partition>-<offset>` at every offset (sanity of the test's
/// own producer) and returns them.
pub fn source_sanity(src: &Cluster, topic: &str, totals: &BTreeMap<i32, i64>) -> BTreeMap<i32, Vec<Rec>> {
    let source = src.read_topic(topic);
    for (partition, records) in &source {
        assert_eq!(records.len() as i64, totals[partition], "source {topic}/{partition} record count");
        for record in records {
            assert_eq!(seq_of(record, *partition), record.offset, "source {topic}/{partition}");
        }
    }
    source
}

// ---------------------------------------------------------------------------------------------------
// Consumer groups
// ---------------------------------------------------------------------------------------------------

impl Cluster {
    /// Commits `offsets` ((topic, partition) → next offset to read) for `group`, as a consumer that
    /// is not a member would (the group must have no active member).
    pub fn commit_group_offsets(&self, group: &str, offsets: &[(&str, i32, i64)]) {
        use rdkafka::consumer::CommitMode;
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &self.bootstrap)
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .create()
            .expect("group consumer");
        let mut list = TopicPartitionList::new();
        for (topic, partition, offset) in offsets {
            list.add_partition_offset(topic, *partition, Offset::Offset(*offset)).expect("offset");
        }
        consumer.commit(&list, CommitMode::Sync).unwrap_or_else(|e| panic!("committing offsets of `{group}`: {e}"));
    }

    /// `group`'s committed offset for `topic`/`partition`, if any.
    pub fn committed(&self, group: &str, topic: &str, partition: i32) -> Option<i64> {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &self.bootstrap)
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .create()
            .expect("group consumer");
        let mut list = TopicPartitionList::new();
        list.add_partition(topic, partition);
        let committed = consumer.committed_offsets(list, TIMEOUT).ok()?;
        let offset = committed.elements().first()?.offset();
        match offset {
            Offset::Offset(offset) => Some(offset),
            _ => None,
        }
    }

    /// Every record of a single-partition internal topic as (key, value) bytes.
    pub fn read_raw(&self, topic: &str) -> Vec<(Vec<u8>, Vec<u8>)> {
        // Asking for the topic's metadata first also refreshes the client's cache, which would
        // otherwise keep saying "unknown partition" for a topic created after the first look.
        if self.partitions(topic).is_none() {
            return Vec::new();
        }
        self.read_partitions(topic, &[0])
            .remove(&0)
            .unwrap_or_default()
            .into_iter()
            .map(|r| (r.key.unwrap_or_default(), r.value.unwrap_or_default()))
            .collect()
    }
}

// ---------------------------------------------------------------------------------------------------
// The status API's OpenAPI document
// ---------------------------------------------------------------------------------------------------

/// The OpenAPI document of the status API (docs/status-api.openapi.json).
pub fn openapi() -> serde_json::Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/status-api.openapi.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("docs/status-api.openapi.json")).expect("valid JSON")
}

/// Where `body` departs from the schema the OpenAPI document gives for `GET path` answering `code`
/// (empty when it conforms).
pub fn openapi_errors(api: &serde_json::Value, path: &str, code: u16, body: &str) -> Vec<String> {
    let schema = &api["paths"][path]["get"]["responses"][code.to_string()]["content"]["application/json"]["schema"];
    assert!(schema.is_object(), "the OpenAPI document has no JSON schema for GET {path} {code}");
    // The whole document is the root, so `#/components/schemas/...` references resolve.
    let mut root = api.clone();
    root["allOf"] = serde_json::Value::Array(vec![schema.clone()]);
    let validator = jsonschema::validator_for(&root).expect("the OpenAPI schemas compile");
    let instance: serde_json::Value =
        serde_json::from_str(body).unwrap_or_else(|e| panic!("GET {path}: not JSON ({e}): {body}"));
    validator.iter_errors(&instance).map(|e| format!("{e} at {}", e.instance_path())).collect()
}

// ---------------------------------------------------------------------------------------------------
// ferry's metrics and status endpoint
// ---------------------------------------------------------------------------------------------------

/// A free loopback port (bound and released; the small race is acceptable in tests).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port()
}

/// An HTTP client that returns 4xx/5xx responses instead of failing on them.
pub fn http_agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(5)))
        .build()
        .into()
}

/// `GET path` → (status code, body), or `None` while nothing listens.
pub fn http_get(agent: &ureq::Agent, port: u16, path: &str) -> Option<(u16, String)> {
    let mut response = agent.get(&format!("http://127.0.0.1:{port}{path}")).call().ok()?;
    let status = response.status().as_u16();
    Some((status, response.body_mut().read_to_string().ok()?))
}

/// `GET /status` of a ferry listening on `port`, once it answers.
pub fn status_of(port: u16) -> Option<serde_json::Value> {
    serde_json::from_str(&http_get(&http_agent(), port, "/status")?.1).ok()
}
