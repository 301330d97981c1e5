//! A flow's current problems that concern one cluster or one topic and repeat until someone fixes them:
//! a cluster ferry cannot authenticate to, a source topic it may not read, a remote topic it may not
//! create or write. Each is logged when it first happens and then at most once per [`LOG_INTERVAL`]
//! with how often it happened meanwhile (not a line per retry), and listed in `/status` under the
//! flow's `errors` until it is over.
//!
//! Reported from control paths only (discovery, the monitor, delivery failures, the connection check):
//! never per record.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;

use super::report::rfc3339;
use crate::metrics::now_ms;

/// Shortest time between two log lines about the same problem.
pub const LOG_INTERVAL: Duration = Duration::from_secs(60);

/// What failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemStage {
    /// Connecting to a cluster (TLS handshake, SASL authentication).
    Connection,
    /// Reading a source topic's records.
    SourceRead,
    /// Reading a source topic's configs (to create its remote topic).
    SourceConfigs,
    /// Creating the remote topic on the target.
    CreateTopic,
    /// Writing to the remote topic.
    Delivery,
    /// Joining the flow's group of instances (`ferry.group.id`) on the source cluster.
    Group,
}

impl ProblemStage {
    fn name(self) -> &'static str {
        match self {
            Self::Connection => "connection",
            Self::SourceRead => "source_read",
            Self::SourceConfigs => "source_configs",
            Self::CreateTopic => "create_topic",
            Self::Delivery => "delivery",
            Self::Group => "group",
        }
    }
}

/// Identifies a problem: stage, cluster alias and (for topic problems) the topic on that cluster.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ProblemKey {
    /// What failed.
    pub stage: ProblemStage,
    /// The cluster it concerns.
    pub cluster: String,
    /// The topic on that cluster, if the problem is a topic's.
    pub topic: Option<String>,
}

impl ProblemKey {
    /// A problem of `topic` on `cluster`.
    pub fn topic(stage: ProblemStage, cluster: &str, topic: &str) -> Self {
        Self { stage, cluster: cluster.to_string(), topic: Some(topic.to_string()) }
    }

    /// A problem of a whole cluster.
    pub fn cluster(stage: ProblemStage, cluster: &str) -> Self {
        Self { stage, cluster: cluster.to_string(), topic: None }
    }
}

#[derive(Debug, Clone)]
struct Entry {
    message: String,
    authorization: bool,
    count: u64,
    first_ms: i64,
    last_ms: i64,
    logged_ms: i64,
    /// Occurrences since the last log line.
    unlogged: u64,
}

/// One problem in `/status`.
#[derive(Debug, Clone, Serialize)]
pub struct ProblemReport {
    /// `connection`, `source_read`, `source_configs`, `create_topic` or `delivery`.
    pub stage: ProblemStage,
    /// The cluster alias it concerns.
    pub cluster: String,
    /// The topic on that cluster (`null` for a cluster problem).
    pub topic: Option<String>,
    /// Whether the broker refused for lack of permission (an ACL is missing).
    pub authorization: bool,
    /// The latest error message.
    pub message: String,
    /// How often it happened since it started.
    pub count: u64,
    /// When it first happened (RFC 3339).
    pub first_at: String,
    /// When it last happened (RFC 3339).
    pub last_at: String,
}

/// The problems of one flow.
#[derive(Debug, Default)]
pub struct Problems {
    flow: String,
    entries: Mutex<BTreeMap<ProblemKey, Entry>>,
}

/// Whether an error text is a broker's refusal for lack of permission.
pub fn is_authorization(message: &str) -> bool {
    message.contains("AuthorizationFailed") || message.contains("authorization failed")
}

impl Problems {
    /// The problems of flow `flow`.
    pub fn new(flow: &str) -> Self {
        Self { flow: flow.to_string(), entries: Mutex::new(BTreeMap::new()) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<ProblemKey, Entry>> {
        // Each update is a single insert or field write: a poisoned map is still consistent.
        self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Records an occurrence of `key`; logs it at error level if it is new or last logged more than
    /// [`LOG_INTERVAL`] ago (with the number of occurrences since). `hint` says what to do about it.
    pub fn report(&self, key: ProblemKey, message: &dyn fmt::Display, hint: &str) {
        self.report_at(key, message, hint, now_ms());
    }

    fn report_at(&self, key: ProblemKey, message: &dyn fmt::Display, hint: &str, now: i64) {
        let message = message.to_string();
        let authorization = is_authorization(&message);
        let log = {
            let mut entries = self.lock();
            let entry = entries.entry(key.clone()).or_insert_with(|| Entry {
                message: String::new(),
                authorization,
                count: 0,
                first_ms: now,
                last_ms: now,
                logged_ms: i64::MIN,
                unlogged: 0,
            });
            entry.count += 1;
            entry.unlogged += 1;
            entry.last_ms = now;
            entry.authorization = authorization;
            entry.message.clone_from(&message);
            let due =
                entry.logged_ms == i64::MIN || now.saturating_sub(entry.logged_ms) >= LOG_INTERVAL.as_millis() as i64;
            due.then(|| {
                entry.logged_ms = now;
                (std::mem::take(&mut entry.unlogged), entry.count)
            })
        };
        if let Some((since_last, total)) = log {
            let topic = key.topic.as_deref().unwrap_or("");
            let what = if authorization { "not authorized" } else { "failing" };
            tracing::error!(
                flow = %self.flow,
                cluster = %key.cluster,
                topic,
                stage = key.stage.name(),
                occurrences = since_last,
                total,
                "{}: {what}: {message}; {hint} (retrying; reported again at most once a minute)",
                subject(&key),
            );
        }
    }

    /// Ends problem `key` if it exists, logging that it is over.
    pub fn clear(&self, key: &ProblemKey) {
        if let Some(entry) = self.lock().remove(key) {
            tracing::info!(
                flow = %self.flow,
                cluster = %key.cluster,
                topic = key.topic.as_deref().unwrap_or(""),
                stage = key.stage.name(),
                total = entry.count,
                "{}: resolved after {} occurrence(s)",
                subject(key),
                entry.count
            );
        }
    }

    /// The keys of the current problems of `stage`.
    pub fn keys(&self, stage: ProblemStage) -> Vec<ProblemKey> {
        self.lock().keys().filter(|k| k.stage == stage).cloned().collect()
    }

    /// Whether there is no current problem.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// The current problems, for `/status`.
    pub fn report_all(&self) -> Vec<ProblemReport> {
        self.lock()
            .iter()
            .map(|(key, e)| ProblemReport {
                stage: key.stage,
                cluster: key.cluster.clone(),
                topic: key.topic.clone(),
                authorization: e.authorization,
                message: e.message.clone(),
                count: e.count,
                first_at: rfc3339(e.first_ms),
                last_at: rfc3339(e.last_ms),
            })
            .collect()
    }
}

/// "topic `t` on cluster `c`" or "cluster `c`".
fn subject(key: &ProblemKey) -> String {
    match &key.topic {
        Some(topic) => format!("topic `{topic}` on cluster `{}`", key.cluster),
        None => format!("cluster `{}`", key.cluster),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_every_occurrence_and_clears() {
        let problems = Problems::new("a->b");
        let key = ProblemKey::topic(ProblemStage::SourceRead, "a", "t");
        let denied = "Broker: Topic authorization failed (TopicAuthorizationFailed)";
        for i in 0..5 {
            problems.report_at(key.clone(), &denied, "grant Read", 1_000 + i);
        }
        let entry = problems.lock()[&key].clone();
        assert_eq!((entry.count, entry.logged_ms, entry.unlogged), (5, 1_000, 4), "logged once, 4 waiting");
        problems.report_at(key.clone(), &denied, "grant Read", 1_000 + LOG_INTERVAL.as_millis() as i64);
        let entry = problems.lock()[&key].clone();
        assert_eq!((entry.count, entry.unlogged), (6, 0), "a minute later: logged again with the count");
        let report = problems.report_all();
        assert_eq!(report.len(), 1);
        assert!(report[0].authorization && report[0].topic.as_deref() == Some("t"), "{report:?}");
        assert_eq!(problems.keys(ProblemStage::SourceRead), vec![key.clone()]);
        problems.clear(&key);
        assert!(problems.is_empty());
    }
}
