//! Discovery of a flow: every `refresh.topics.interval.seconds` it lists the source's topics, picks the
//! ones the flow replicates, creates missing remote topics (same partition count, `replication.factor`,
//! source configs through the property filter), grows remote topics whose source gained partitions,
//! and tells the supervisor which partitions to copy and which topics vanished.
//!
//! One refresh runs at a time; a cluster that cannot be reached makes the refresh log a line and try
//! again at the next tick. Outcomes go to the flow's [`FlowStatus`] (readiness), and topics and
//! partitions added or removed to the `ferry_discovery_*_total` counters. A topic that cannot be created is reported and skipped; others keep flowing.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use ferry_engine::topic_config::configs_for_new_topic;
use ferry_engine::FlowConfig;

use crate::error::FerryError;
use crate::kafka::admin::{Admin, TopicPartitions};
use crate::metrics::names;
use crate::status::problems::{ProblemKey, ProblemStage, Problems};
use crate::status::{FlowStatus, Stage};
use crate::supervisor::{FlowSupervisor, StartPartitions, StopTopics};

/// Run one discovery pass now.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Refresh;

/// Stop discovering (the flow is shutting down).
#[derive(Message)]
#[rtype(result = "()")]
pub struct StopDiscovery;

/// Discovery actor of one flow.
pub struct Discovery {
    /// The flow's configuration.
    flow: Arc<FlowConfig>,
    /// Admin client of the source cluster.
    source: Admin,
    /// Admin client of the target cluster.
    target: Admin,
    /// Where partitions to copy are reported.
    supervisor: Addr<FlowSupervisor>,
    /// Source topics replicated at the last pass, with the partitions being copied.
    known: BTreeMap<String, i32>,
    /// Whether a pass is under way.
    busy: bool,
    /// Delay before retrying a failed or incomplete pass (doubles up to [`MAX_RETRY`]).
    retry_backoff: Duration,
    /// Where pass outcomes are reported.
    status: Arc<FlowStatus>,
}

/// First retry delay after a failed pass: far sooner than the refresh interval (600 s by default).
const FIRST_RETRY: Duration = Duration::from_secs(2);
/// Longest retry delay.
const MAX_RETRY: Duration = Duration::from_secs(60);

impl Discovery {
    /// A discovery actor for `flow`, reporting partitions to `supervisor` and outcomes to `status`.
    pub fn new(
        flow: Arc<FlowConfig>,
        source: Admin,
        target: Admin,
        supervisor: Addr<FlowSupervisor>,
        status: Arc<FlowStatus>,
    ) -> Self {
        Self {
            flow,
            source,
            target,
            supervisor,
            known: BTreeMap::new(),
            busy: false,
            retry_backoff: FIRST_RETRY,
            status,
        }
    }

    /// When to retry a failed pass: the back-off, but never later than the regular tick.
    fn retry_delay(&self) -> Duration {
        self.retry_backoff.min(self.flow.refresh_topics_interval)
    }
}

impl Actor for Discovery {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.notify(Refresh);
        if self.flow.refresh_topics_enabled {
            ctx.run_interval(self.flow.refresh_topics_interval, |_, ctx| ctx.notify(Refresh));
        }
    }
}

impl Handler<StopDiscovery> for Discovery {
    type Result = ();

    fn handle(&mut self, _: StopDiscovery, ctx: &mut Self::Context) {
        ctx.stop();
    }
}

impl Handler<Refresh> for Discovery {
    type Result = ResponseActFuture<Self, ()>;

    /// Lists, creates and grows topics, then reports partitions to the supervisor.
    fn handle(&mut self, _: Refresh, _: &mut Self::Context) -> Self::Result {
        if self.busy {
            return Box::pin(async {}.into_actor(self));
        }
        self.busy = true;
        let flow = Arc::clone(&self.flow);
        let source = self.source.clone();
        let target = self.target.clone();
        let problems = Arc::clone(self.status.problems());
        Box::pin(
            async move { refresh(&flow, &source, &target, &problems).await }.into_actor(self).map(|result, act, ctx| {
                act.busy = false;
                let retry = match result {
                    Ok(refreshed) => {
                        act.status.succeeded(Stage::Discovery);
                        act.report(refreshed.copyable);
                        refreshed.incomplete
                    }
                    Err(error) => {
                        tracing::warn!(flow = %act.flow.name, %error, retry_in = ?act.retry_delay(), "topic refresh failed");
                        act.status.failed(Stage::Discovery, &error);
                        true
                    }
                };
                if retry {
                    ctx.notify_later(Refresh, act.retry_delay());
                    act.retry_backoff = (act.retry_backoff * 2).min(MAX_RETRY);
                } else {
                    act.retry_backoff = FIRST_RETRY;
                }
            }),
        )
    }
}

impl Discovery {
    /// Sends newly copyable partitions and vanished topics to the supervisor.
    fn report(&mut self, copyable: TopicPartitions) {
        let gone: Vec<String> = self.known.keys().filter(|t| !copyable.contains_key(*t)).cloned().collect();
        let mut start = Vec::new();
        let mut topics_added = 0u64;
        for (topic, partitions) in &copyable {
            let known = self.known.get(topic).copied().unwrap_or(0);
            if *partitions > known {
                topics_added += u64::from(known == 0);
                let remote = self.flow.remote_topic(topic);
                if known > 0 {
                    tracing::info!(flow = %self.flow.name, topic, from = known, to = partitions, "partitions added");
                }
                start.extend((known..*partitions).map(|p| (topic.clone(), p, remote.clone())));
            }
        }
        self.known = copyable;
        let labels = self.status.labels.labels();
        metrics::counter!(names::TOPICS_ADDED, labels.clone()).increment(topics_added);
        metrics::counter!(names::PARTITIONS_ADDED, labels.clone()).increment(start.len() as u64);
        metrics::counter!(names::TOPICS_REMOVED, labels).increment(gone.len() as u64);
        if !start.is_empty() {
            self.supervisor.do_send(StartPartitions(start));
        }
        if !gone.is_empty() {
            tracing::info!(flow = %self.flow.name, topics = ?gone, "topics gone from the source; stopped copying them");
            self.supervisor.do_send(StopTopics(gone));
        }
    }
}

/// One discovery pass. Returns, per replicated source topic, how many partitions can be copied now
/// (those that exist on both sides).
async fn refresh(
    flow: &FlowConfig,
    source: &Admin,
    target: &Admin,
    problems: &Problems,
) -> Result<Refreshed, FerryError> {
    let (source_topics, _) = source.list_topics().await?;
    let (target_topics, _) = target.list_topics().await?;
    let mut copyable = TopicPartitions::new();
    let mut incomplete = false;
    let replicated: BTreeSet<&String> = source_topics.keys().filter(|t| flow.should_replicate_topic(t)).collect();
    for topic in replicated {
        let partitions = source_topics[topic];
        let remote = flow.remote_topic(topic);
        let ready = match target_topics.get(&remote) {
            None => create_remote(flow, source, target, topic, &remote, partitions, problems).await,
            Some(&have) if have < partitions => grow_remote(flow, target, &remote, have, partitions).await,
            Some(&have) => Some(have.min(partitions)),
        };
        match ready {
            Some(ready) if ready == partitions => {
                copyable.insert(topic.clone(), ready);
            }
            Some(ready) => {
                copyable.insert(topic.clone(), ready);
                incomplete = true;
            }
            None => incomplete = true,
        }
    }
    Ok(Refreshed { copyable, incomplete })
}

/// Outcome of a discovery pass.
struct Refreshed {
    /// Partitions that can be copied now, per source topic.
    copyable: TopicPartitions,
    /// Whether some topic could not be created or fully grown (retried soon, not at the next tick).
    incomplete: bool,
}

/// Creates the remote topic of `topic`. A failure (including a missing permission to read the source
/// topic's configs or to create the remote topic) is one of the flow's [`Problems`]: logged at most
/// once a minute, listed in `/status`, retried; the other topics keep flowing.
async fn create_remote(
    flow: &FlowConfig,
    source: &Admin,
    target: &Admin,
    topic: &str,
    remote: &str,
    partitions: i32,
    problems: &Problems,
) -> Option<i32> {
    let configs_key = ProblemKey::topic(ProblemStage::SourceConfigs, &flow.source, topic);
    let configs = if flow.sync_topic_configs_enabled {
        match source.topic_configs(topic).await {
            Ok(entries) => {
                problems.clear(&configs_key);
                configs_for_new_topic(&entries, &flow.config_filter, flow.use_defaults_from)
            }
            Err(error) => {
                problems.report(
                    configs_key,
                    &error,
                    "its remote topic is not created; if not authorized, grant ferry's principal DescribeConfigs on it",
                );
                return None;
            }
        }
    } else {
        BTreeMap::new()
    };
    let create_key = ProblemKey::topic(ProblemStage::CreateTopic, &flow.target, remote);
    match target.create_topic(remote, partitions, flow.replication_factor, &configs, "replication.factor").await {
        Ok(()) => {
            problems.clear(&create_key);
            tracing::info!(flow = %flow.name, topic, remote, partitions, configs = ?configs, "remote topic created");
            Some(partitions)
        }
        Err(error) => {
            problems.report(
                create_key,
                &error,
                "its records are not copied; if not authorized, grant ferry's principal Create, Write and Describe on it \
                 (docs/security.md)",
            );
            None
        }
    }
}

async fn grow_remote(flow: &FlowConfig, target: &Admin, remote: &str, have: i32, partitions: i32) -> Option<i32> {
    match target.add_partitions(remote, partitions as usize).await {
        Ok(()) => {
            tracing::info!(flow = %flow.name, remote, from = have, to = partitions, "remote topic grown");
            Some(partitions)
        }
        Err(error) => {
            tracing::error!(flow = %flow.name, remote, %error, "cannot add partitions to the remote topic; copying the partitions it has");
            Some(have)
        }
    }
}
