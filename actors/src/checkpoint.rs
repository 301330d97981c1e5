//! Checkpoints and group offset sync of one flow: every `emit.checkpoints.interval.seconds` the
//! emitter reads the committed offsets of the source groups the flow covers (`groups` /
//! `groups.exclude`), translates them with the flow's exact offset index, and writes MM2-format
//! checkpoints to `<source>.checkpoints.internal` on the target; with `sync.group.offsets.enabled` it
//! also commits the translated offsets to the target groups that have no active member, never
//! rewinding a target group.
//!
//! Checkpoints never go backwards unless the source group was reset backwards: the last checkpoint of
//! each (group, partition) is loaded from the checkpoints topic at start and every new one is checked
//! against it (engine `checkpoint_rules`). Partitions without syncs are not checkpointed (MM2,
//! KAFKA-12635). Everything here is control-rate work: one tick per interval, no per-record input.
//! Checkpoints written and their latency (MM2's `checkpoint-latency-ms`: checkpoint timestamp to the
//! target's ack) go to `ferry_checkpoints_total` and `ferry_checkpoint_latency_seconds`; failed passes
//! to the flow's [`FlowStatus`].

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use actix::prelude::*;
use ferry_engine::checkpoint_rules::{checkpoint_topic, decide_group_sync, LastCheckpoints, TargetGroupState};
use ferry_engine::wire::Checkpoint;
use ferry_engine::FlowConfig;
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use std::sync::Arc;

use crate::error::FerryError;
use crate::kafka::admin::Admin;
use crate::kafka::clients::{self, LoggingContext};
use crate::kafka::groups::{self, Committed, GroupOffsets};
use crate::kafka::read_to_end::read_to_end;
use crate::metrics::{age_seconds, names};
use crate::offset_index::{lock, SyncIndexes};
use crate::status::{FlowStatus, Stage};

/// Run one checkpoint pass now.
#[derive(Message)]
#[rtype(result = "()")]
struct Tick;

/// Checkpoint emitter of one flow.
pub struct CheckpointEmitter {
    /// The flow's configuration.
    flow: Arc<FlowConfig>,
    /// Exact translation indexes, kept up to date by the flow's sync publisher.
    indexes: SyncIndexes,
    /// Admin client of the source (lists replicated topics).
    source_admin: Admin,
    /// Admin client of the target (creates the checkpoints topic).
    target_admin: Admin,
    /// Producer writing checkpoints to the target.
    producer: FutureProducer<LoggingContext>,
    /// Last checkpoint per (group, topic, partition); `None` until loaded from the topic.
    last: Option<LastCheckpoints>,
    /// When group offsets were last synced to the target.
    last_group_sync: Option<Instant>,
    /// Whether a pass is under way.
    busy: bool,
    /// Where failed passes are reported.
    status: Arc<FlowStatus>,
}

impl CheckpointEmitter {
    /// An emitter for `flow` translating with `indexes`, reporting to `status`.
    ///
    /// # Errors
    /// [`FerryError::Kafka`] when the producer cannot be built.
    pub fn new(
        flow: Arc<FlowConfig>,
        indexes: SyncIndexes,
        source_admin: Admin,
        target_admin: Admin,
        status: Arc<FlowStatus>,
    ) -> Result<Self, FerryError> {
        let producer =
            clients::create(&flow.target, "checkpoint producer", &clients::client_config(&flow.target_producer))?;
        Ok(Self {
            flow,
            indexes,
            source_admin,
            target_admin,
            producer,
            last: None,
            last_group_sync: None,
            busy: false,
            status,
        })
    }
}

impl Actor for CheckpointEmitter {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        let settings = &self.flow.checkpoints;
        tracing::info!(flow = %self.flow.name, topic = %settings.topic, interval = ?settings.interval, group_sync = settings.sync_group_offsets_enabled, "checkpoints started");
        ctx.run_interval(settings.interval, |_, ctx| ctx.notify(Tick));
    }
}

impl Handler<Tick> for CheckpointEmitter {
    type Result = ResponseActFuture<Self, ()>;

    /// Loads past checkpoints once, then translates every covered group and emits what moved.
    fn handle(&mut self, _: Tick, _: &mut Self::Context) -> Self::Result {
        if self.busy {
            return Box::pin(async {}.into_actor(self));
        }
        self.busy = true;
        let sync_groups = self.flow.checkpoints.sync_group_offsets_enabled
            && self.last_group_sync.is_none_or(|at| at.elapsed() >= self.flow.checkpoints.sync_group_offsets_interval);
        let pass = Pass {
            flow: Arc::clone(&self.flow),
            indexes: Arc::clone(&self.indexes),
            source_admin: self.source_admin.clone(),
            target_admin: self.target_admin.clone(),
            producer: self.producer.clone(),
            last: self.last.take(),
            sync_groups,
            written: metrics::counter!(names::CHECKPOINTS, self.status.labels.labels()),
            latency: metrics::histogram!(names::CHECKPOINT_LATENCY, self.status.labels.labels()),
        };
        Box::pin(pass.run().into_actor(self).map(move |(last, result), act, _| {
            act.busy = false;
            act.last = last;
            match result {
                Ok(emitted) => {
                    if sync_groups {
                        act.last_group_sync = Some(Instant::now());
                    }
                    tracing::debug!(flow = %act.flow.name, emitted, "checkpoint pass done");
                }
                Err(error) => {
                    tracing::warn!(flow = %act.flow.name, %error, "checkpoint pass failed; retrying at the next tick");
                    act.status.failed(Stage::Checkpoints, &error);
                }
            }
        }))
    }
}

/// One checkpoint pass, run off the actor (it owns the last-checkpoint state meanwhile).
struct Pass {
    flow: Arc<FlowConfig>,
    indexes: SyncIndexes,
    source_admin: Admin,
    target_admin: Admin,
    producer: FutureProducer<LoggingContext>,
    last: Option<LastCheckpoints>,
    sync_groups: bool,
    /// `ferry_checkpoints_total` of the flow.
    written: metrics::Counter,
    /// `ferry_checkpoint_latency_seconds` of the flow.
    latency: metrics::Histogram,
}

impl Pass {
    async fn run(mut self) -> (Option<LastCheckpoints>, Result<usize, FerryError>) {
        let result = self.emit().await;
        (self.last, result)
    }

    async fn emit(&mut self) -> Result<usize, FerryError> {
        let flow = Arc::clone(&self.flow);
        if self.last.is_none() {
            self.last = Some(self.load_last().await?);
        }
        let timestamp = now_ms();
        let (topics, _) = self.source_admin.list_topics().await?;
        let partitions: Vec<(String, i32)> = topics
            .iter()
            .filter(|(t, _)| flow.topics.accepts(t))
            .flat_map(|(t, n)| (0..*n).map(move |p| (t.clone(), p)))
            .collect();
        let group_offsets = blocking({
            let flow = Arc::clone(&flow);
            move || read_source_groups(&flow, &partitions)
        })
        .await?;
        let mut emitted = 0;
        for (group, offsets) in group_offsets {
            let checkpoints = self.translate(&group, &offsets);
            let Some(last) = self.last.as_mut() else { break };
            let fresh: Vec<Checkpoint> = checkpoints.into_iter().filter(|c| last.offer(c).should_emit()).collect();
            for checkpoint in &fresh {
                self.write(checkpoint, timestamp).await?;
            }
            emitted += fresh.len();
            if self.sync_groups {
                if let Err(error) = self.sync_group(&group).await {
                    tracing::warn!(flow = %flow.name, group, %error, "group offsets not synced to the target");
                }
            }
        }
        Ok(emitted)
    }

    /// Creates the checkpoints topic if needed and reads the checkpoints already there.
    async fn load_last(&self) -> Result<LastCheckpoints, FerryError> {
        let settings = &self.flow.checkpoints;
        self.target_admin
            .ensure_compacted_topic(
                &settings.topic,
                1,
                settings.replication_factor,
                "checkpoints.topic.replication.factor",
            )
            .await?;
        let flow = Arc::clone(&self.flow);
        blocking(move || {
            let mut last = LastCheckpoints::new();
            let topic = &flow.checkpoints.topic;
            read_to_end(&flow.target, &flow.target_consumer, topic, Duration::from_secs(30), |message| {
                let (Some(key), Some(value)) = (message.key(), message.payload()) else { return };
                match Checkpoint::decode(key, value) {
                    Ok(checkpoint) => last.load(checkpoint),
                    Err(error) => {
                        tracing::warn!(topic, offset = message.offset(), %error, "skipping a malformed checkpoint")
                    }
                }
            })?;
            Ok(last)
        })
        .await
    }

    /// Checkpoints for one group's committed offsets, for the partitions the index can translate.
    fn translate(&self, group: &str, offsets: &GroupOffsets) -> Vec<Checkpoint> {
        let flow = &self.flow;
        let indexes = lock(&self.indexes);
        offsets
            .iter()
            .filter_map(|((topic, partition), committed)| {
                let index = indexes.get(&(topic.clone(), *partition))?;
                let translation = index.translate(u64::try_from(committed.offset).ok()?)?;
                Some(Checkpoint {
                    group: group.to_string(),
                    topic: checkpoint_topic(&flow.policy, &flow.source, &flow.target, topic),
                    partition: *partition,
                    upstream_offset: committed.offset,
                    downstream_offset: i64::try_from(translation.downstream).ok()?,
                    metadata: committed.metadata.clone(),
                })
            })
            .collect()
    }

    async fn write(&self, checkpoint: &Checkpoint, timestamp: i64) -> Result<(), FerryError> {
        let topic = &self.flow.checkpoints.topic;
        let encode_error = |e| FerryError::Topic {
            alias: self.flow.target.clone(),
            message: format!("checkpoint not encodable: {e}"),
        };
        let key = checkpoint.encode_key().map_err(encode_error)?;
        let value = checkpoint.encode_value().map_err(encode_error)?;
        let record = FutureRecord::to(topic).partition(0).key(&key).payload(&value).timestamp(timestamp);
        self.producer
            .send(record, Duration::from_secs(10))
            .await
            .map_err(|(error, _)| FerryError::kafka(&self.flow.target, format!("writing to `{topic}`"), error))?;
        self.written.increment(1);
        self.latency.record(age_seconds(now_ms(), timestamp));
        Ok(())
    }

    /// Commits the group's latest checkpoints to the target group when it has no active member, never
    /// moving a target offset backwards.
    async fn sync_group(&self, group: &str) -> Result<(), FerryError> {
        let Some(last) = self.last.as_ref() else { return Ok(()) };
        let translated: Vec<((String, i32), Committed)> = last
            .group(group)
            .map(|c| {
                (
                    (c.topic.clone(), c.partition),
                    Committed { offset: c.downstream_offset, metadata: c.metadata.clone() },
                )
            })
            .collect();
        if translated.is_empty() {
            return Ok(());
        }
        let flow = Arc::clone(&self.flow);
        let group = group.to_string();
        blocking(move || {
            let timeout = Duration::from_secs(10);
            let states = groups::list_groups(&flow.target, &flow.target_group_consumer, Some(&group), timeout)?;
            let state = states
                .iter()
                .find(|(name, _)| *name == group)
                .map_or(TargetGroupState::Missing, |(_, state)| TargetGroupState::from_state_name(state));
            let partitions: Vec<(String, i32)> = translated.iter().map(|(tp, _)| tp.clone()).collect();
            let current = groups::committed_offsets(&flow.target, &flow.target_group_consumer, &group, &partitions, timeout)?;
            let to_commit: GroupOffsets = translated
                .into_iter()
                .filter(|(tp, c)| decide_group_sync(state, current.get(tp).map(|t| t.offset), c.offset).should_sync())
                .collect();
            if !to_commit.is_empty() {
                groups::commit_offsets(&flow.target, &flow.target_group_consumer, &group, &to_commit)?;
                tracing::info!(flow = %flow.name, group, partitions = to_commit.len(), "group offsets synced to the target");
            }
            Ok(())
        })
        .await
    }
}

/// Committed offsets of every source group the flow covers, on `partitions`.
fn read_source_groups(
    flow: &FlowConfig,
    partitions: &[(String, i32)],
) -> Result<Vec<(String, GroupOffsets)>, FerryError> {
    let timeout = Duration::from_secs(10);
    let groups = groups::list_groups(&flow.source, &flow.source_group_consumer, None, timeout)?;
    let mut out = Vec::new();
    for (group, _) in groups.into_iter().filter(|(g, _)| flow.groups.accepts(g)) {
        let offsets =
            groups::committed_offsets(&flow.source, &flow.source_group_consumer, &group, partitions, timeout)?;
        if !offsets.is_empty() {
            out.push((group, offsets));
        }
    }
    Ok(out)
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, FerryError> + Send + 'static,
) -> Result<T, FerryError> {
    tokio::task::spawn_blocking(work).await.map_err(|e| FerryError::Io {
        context: "blocking Kafka call".into(),
        source: std::io::Error::other(e.to_string()),
    })?
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
