//! The supervisor of one flow `A->B`: owns its pipeline and progress store, starts the discovery actor,
//! stores progress every `offset.flush.interval.ms`, restarts partitions whose delivery failed, and
//! runs the flow's shutdown (stop fetching, drain, flush, store progress). It starts the flow's
//! [`FlowMonitor`] (lag and gauges), [`TopicConfigSync`] and [`AclSync`] (when enabled) and reports its phase, progress commits and errors to the flow's
//! [`FlowStatus`].
//!
//! With `ferry.group.enabled` (the default) the flow's [`GroupMember`] decides which of the partitions
//! discovery reports this instance copies: a partition runs when it is both ready (its remote topic
//! exists) and assigned to this instance. Assigned partitions start from progress read again at that
//! moment; revoked ones are drained and their progress stored before the group may give them to
//! another instance.
//!
//! # Layout
//! Messages: [`StartPartitions`] and [`StopTopics`] (from discovery), [`GroupChange`] (from the group
//! member), [`Shutdown`] (from the runtime).
//! [`start_flow`] does the asynchronous set-up (clients, progress topic, stored offsets) with retries
//! while a cluster is unreachable, then starts the actor.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use ferry_engine::FlowConfig;

use crate::acl_sync::{AclSync, StopAclSync};
use crate::checkpoint::CheckpointEmitter;
use crate::discovery::Discovery;
use crate::error::FerryError;
use crate::kafka::admin::Admin;
use crate::kafka::source_offsets::log_start_offsets;
use crate::membership::{GroupChange, GroupMember};
use crate::metrics::names;
use crate::monitor::{FlowMonitor, StopMonitor};
use crate::offset_index::SyncIndexes;
use crate::offset_syncs::SyncPublisher;
use crate::pipeline::sizing::SourceSizing;
use crate::pipeline::tracker::{PartitionTracker, NONE};
use crate::pipeline::transactional::PartitionTransactions;
use crate::pipeline::{copied_records, Pipeline};
use crate::progress::{ProgressStore, StoredOffsets};
use crate::status::{FlowStatus, Phase, Stage};
use crate::topic_sync::{StopTopicConfigSync, TopicConfigSync};
use ferry_engine::wire::OffsetSync;
use tokio::sync::mpsc::UnboundedSender;

/// How long shutdown waits for the group member to leave the group.
const LEAVE_TIMEOUT: Duration = Duration::from_secs(3);

/// Start copying these partitions: (source topic, partition, remote topic).
#[derive(Message)]
#[rtype(result = "()")]
pub struct StartPartitions(pub Vec<(String, i32, String)>);

/// Stop copying these source topics (they were deleted on the source).
#[derive(Message)]
#[rtype(result = "()")]
pub struct StopTopics(pub Vec<String>);

/// Drain, store progress and stop; replies with the number of records copied.
#[derive(Message)]
#[rtype(result = "Result<u64, FerryError>")]
pub struct Shutdown {
    /// When draining must be over.
    pub deadline: Instant,
}

/// Periodic progress commit.
#[derive(Message)]
#[rtype(result = "()")]
struct StoreProgress;

/// Periodic pruning of the translation index to the source's retention.
#[derive(Message)]
#[rtype(result = "()")]
struct PruneIndex;

/// Supervisor of one flow.
pub struct FlowSupervisor {
    /// The flow's resolved configuration.
    flow: Arc<FlowConfig>,
    /// The data path.
    pipeline: Arc<Pipeline>,
    /// Durable progress (and the offset syncs that must be written before it).
    progress: Arc<Progress>,
    /// Resume points: offsets stored when the flow started, updated when a partition stops.
    stored: StoredOffsets,
    /// Admin clients handed to discovery.
    admins: (Admin, Admin),
    /// The discovery actor, once started.
    discovery: Option<Addr<Discovery>>,
    /// The checkpoint emitter, when checkpoints are on and offset syncs work.
    checkpoints: Option<Addr<CheckpointEmitter>>,
    /// The monitor setting the flow's gauges.
    monitor: Option<Addr<FlowMonitor>>,
    /// The topic config sync, when `sync.topic.configs.enabled`.
    topic_sync: Option<Addr<TopicConfigSync>>,
    /// The ACL sync, when `sync.topic.acls.enabled`.
    acl_sync: Option<Addr<AclSync>>,
    /// What `/status` and `/readyz` report about this flow.
    status: Arc<FlowStatus>,
    /// Whether a progress write is under way (ticks never overlap).
    storing: bool,
    /// Whether an index prune is under way.
    pruning: bool,
    /// Partitions discovery found copyable (remote topic ready), with their remote topic.
    ready: HashMap<(String, i32), String>,
    /// This instance's share of the flow, from the group (`None`: no group, every partition).
    assigned: Option<HashSet<(String, i32)>>,
    /// The flow's group member, when `ferry.group.enabled`.
    member: Option<GroupMember>,
    /// The topics the member is subscribed to.
    subscribed: BTreeSet<String>,
    /// Exactly-once mode: the transactional producers of partitions fenced and ready to start.
    fenced: HashMap<(String, i32), Arc<PartitionTransactions>>,
    /// Whether a [`Fence`] is under way.
    fencing: bool,
    /// Keeps group changes (hand-overs, progress reads, fencing) in the order they arrived.
    changes: Arc<tokio::sync::Mutex<()>>,
    /// Set by [`Shutdown`]: no partition starts any more.
    stopping: bool,
}

/// Exactly-once mode: open the transactional producers of these partitions (fencing their previous
/// owners), then read their committed progress, then start them.
#[derive(Message)]
#[rtype(result = "()")]
struct Fence(Vec<(String, i32)>);

impl Actor for FlowSupervisor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        tracing::info!(flow = %self.flow.name, policy = self.flow.policy.name(), "flow started");
        self.status.set_phase(Phase::Running);
        let discovery = Discovery::new(
            Arc::clone(&self.flow),
            self.admins.0.clone(),
            self.admins.1.clone(),
            ctx.address(),
            Arc::clone(&self.status),
        );
        self.discovery = Some(discovery.start());
        let monitor = FlowMonitor::new(Arc::clone(&self.flow), Arc::clone(&self.pipeline), Arc::clone(&self.status));
        self.monitor = Some(monitor.start());
        let (source, target) = (&self.admins.0, &self.admins.1);
        if self.flow.sync_topic_configs_enabled {
            let sync = TopicConfigSync::new(Arc::clone(&self.flow), source.clone(), target.clone());
            self.topic_sync = Some(sync.start());
        }
        if self.flow.sync_topic_acls_enabled {
            self.acl_sync = Some(AclSync::new(Arc::clone(&self.flow), source.clone(), target.clone()).start());
        }
        if let (true, Some(indexes)) = (self.flow.checkpoints.enabled, &self.progress.indexes) {
            let emitter = CheckpointEmitter::new(
                Arc::clone(&self.flow),
                Arc::clone(indexes),
                self.admins.0.clone(),
                self.admins.1.clone(),
                Arc::clone(&self.status),
            );
            match emitter {
                Ok(emitter) => self.checkpoints = Some(emitter.start()),
                Err(error) => tracing::error!(flow = %self.flow.name, %error, "checkpoints not started"),
            }
        }
        if self.flow.ferry.group_enabled {
            match GroupMember::start(&self.flow, ctx.address().recipient(), Arc::clone(self.status.problems())) {
                Ok(member) => {
                    tracing::info!(flow = %self.flow.name, group = %self.flow.ferry.group_id, "sharing the flow's partitions with the other instances of its group");
                    self.member = Some(member);
                    self.assigned = Some(HashSet::new());
                }
                Err(error) => {
                    // Copying everything could repeat what other instances copy: copy nothing, say why.
                    tracing::error!(flow = %self.flow.name, %error, "cannot join the flow's group; this instance copies nothing");
                    self.status.failed(Stage::Start, &error);
                    self.assigned = Some(HashSet::new());
                }
            }
        }
        ctx.run_interval(self.flow.offset_flush_interval, |_, ctx| ctx.notify(StoreProgress));
        if self.progress.syncs.is_some() {
            ctx.run_interval(self.flow.ferry.index_prune_interval, |_, ctx| ctx.notify(PruneIndex));
        }
    }
}

impl Handler<PruneIndex> for FlowSupervisor {
    type Result = ResponseActFuture<Self, ()>;

    /// Drops translations below each source partition's log start, in memory and in the journal.
    fn handle(&mut self, _: PruneIndex, _: &mut Self::Context) -> Self::Result {
        if self.pruning {
            return Box::pin(async {}.into_actor(self));
        }
        self.pruning = true;
        let progress = Arc::clone(&self.progress);
        let flow = Arc::clone(&self.flow);
        Box::pin(
            async move {
                match progress.prune(&flow).await {
                    Ok(0) => {}
                    Ok(forgotten) => {
                        tracing::info!(flow = %flow.name, forgotten, "offset index pruned to the source's retention")
                    }
                    Err(error) => {
                        tracing::warn!(flow = %flow.name, %error, "pruning the offset index failed; will retry")
                    }
                }
            }
            .into_actor(self)
            .map(|(), act, _| act.pruning = false),
        )
    }
}

impl Handler<StartPartitions> for FlowSupervisor {
    type Result = ();

    /// Records the partitions as ready and starts those this instance copies.
    fn handle(&mut self, msg: StartPartitions, ctx: &mut Self::Context) {
        for (topic, partition, target_topic) in msg.0 {
            self.ready.insert((topic, partition), target_topic);
        }
        self.follow_topics();
        self.start_ready(ctx);
    }
}

impl Handler<StopTopics> for FlowSupervisor {
    type Result = ();

    /// Stops the partitions of topics that vanished; their progress stays stored.
    fn handle(&mut self, msg: StopTopics, _: &mut Self::Context) {
        let trackers = self.pipeline.trackers();
        for topic in msg.0 {
            self.ready.retain(|(t, _), _| *t != topic);
            self.fenced.retain(|(t, _), _| *t != topic);
            for tracker in trackers.iter().filter(|t| t.topic == topic) {
                self.pipeline.stop_partition(&tracker.topic, tracker.partition);
                // Should the topic come back, resume after what this run copied, not the start-up offset.
                if tracker.acked() != NONE {
                    self.stored.insert((tracker.topic.clone(), tracker.partition), tracker.acked());
                }
            }
        }
        self.follow_topics();
    }
}

impl FlowSupervisor {
    /// Starts each ready partition this instance copies that is not running yet, from its stored offset
    /// when there is one. In exactly-once mode a partition starts only once its transactional producer
    /// is open; the others are sent to [`Fence`] first.
    fn start_ready(&mut self, ctx: &mut Context<Self>) {
        if self.stopping {
            return;
        }
        let mut to_fence = Vec::new();
        for ((topic, partition), target_topic) in &self.ready {
            let key = (topic.clone(), *partition);
            let mine = self.assigned.as_ref().is_none_or(|assigned| assigned.contains(&key));
            if !mine || self.pipeline.is_running(topic, *partition) {
                continue;
            }
            let transactions = match (self.flow.exactly_once, self.fenced.get(&key)) {
                (false, _) => None,
                (true, Some(transactions)) => Some(Arc::clone(transactions)),
                (true, None) => {
                    to_fence.push(key);
                    continue;
                }
            };
            let stored = self.stored.get(&key).copied();
            if let Err(error) = self.pipeline.start_partition(topic, *partition, target_topic, stored, transactions) {
                tracing::error!(flow = %self.flow.name, topic, partition, %error, "cannot start partition; will retry at the next refresh");
            }
        }
        if !to_fence.is_empty() && !self.fencing {
            self.fencing = true;
            ctx.notify(Fence(to_fence));
        }
    }

    /// Exactly-once mode: stops partitions whose transaction failed and drops their producers, so that
    /// [`Self::start_ready`] reopens them and resumes from the committed progress.
    fn reopen_failed_transactions(&mut self) {
        for tracker in self.pipeline.trackers() {
            if tracker.transactions().is_some() && tracker.is_failed() && tracker.is_idle() {
                self.pipeline.stop_partition(&tracker.topic, tracker.partition);
                self.fenced.remove(&(tracker.topic.clone(), tracker.partition));
            }
        }
    }

    /// Subscribes the group member to the topics discovery found ready, when they changed.
    fn follow_topics(&mut self) {
        let Some(member) = &self.member else { return };
        let topics: BTreeSet<String> = self.ready.keys().map(|(topic, _)| topic.clone()).collect();
        if topics != self.subscribed {
            member.subscribe(topics.iter().cloned().collect());
            self.subscribed = topics;
        }
    }
}

impl Handler<GroupChange> for FlowSupervisor {
    type Result = ();

    /// Assigned partitions: read their progress again (another instance copied them until now), then
    /// start them. Revoked: drain them and store their progress, then let the group move them.
    fn handle(&mut self, msg: GroupChange, ctx: &mut Self::Context) {
        match msg {
            GroupChange::Assigned(partitions) => {
                if let Some(assigned) = &mut self.assigned {
                    assigned.extend(partitions.iter().cloned());
                }
                if self.flow.exactly_once {
                    // Fencing comes first, then the progress read (see `Fence`).
                    self.start_ready(ctx);
                } else {
                    ctx.notify(LoadProgress(partitions));
                }
            }
            GroupChange::Revoked { partitions, lost, stored } => {
                if let Some(assigned) = &mut self.assigned {
                    for key in &partitions {
                        assigned.remove(key);
                    }
                }
                // Their producers close once drained (the pipeline's trackers hold the last references).
                for key in &partitions {
                    self.fenced.remove(key);
                }
                let progress = Arc::clone(&self.progress);
                let pipeline = Arc::clone(&self.pipeline);
                let flow = Arc::clone(&self.flow);
                let changes = Arc::clone(&self.changes);
                let deadline = Instant::now() + self.flow.ferry.shutdown_timeout;
                // Not an atomic handler: a slow cluster must not hold up the flow's other messages
                // (shutdown above all); group changes are kept in order by `changes` instead.
                ctx.spawn(
                    async move {
                        let _in_order = changes.lock().await;
                        if lost {
                            // Another instance may copy them already: storing progress now could move it back.
                            for (topic, partition) in &partitions {
                                pipeline.stop_partition(topic, *partition);
                            }
                            let _ = stored.send(());
                        } else {
                            let trackers = pipeline.drain_partitions(&partitions, deadline).await;
                            if let Err(error) = progress.store(&trackers).await {
                                tracing::warn!(flow = %flow.name, %error, "storing the progress of revoked partitions failed; their next owner may repeat records");
                            }
                            let _ = stored.send(());
                        }
                        progress.forget(&partitions).await;
                    }
                    .into_actor(self),
                );
            }
        }
    }
}

/// Read the progress of partitions assigned to this instance, then start them.
#[derive(Message)]
#[rtype(result = "()")]
struct LoadProgress(Vec<(String, i32)>);

impl Handler<LoadProgress> for FlowSupervisor {
    type Result = ();

    /// Reads the progress (and translation index) of the partitions still assigned, then starts them;
    /// retries every 2 s while the clusters cannot be read.
    fn handle(&mut self, msg: LoadProgress, ctx: &mut Self::Context) {
        let assigned = self.assigned.as_ref();
        let partitions: Vec<_> = msg.0.into_iter().filter(|key| assigned.is_none_or(|a| a.contains(key))).collect();
        if partitions.is_empty() {
            return;
        }
        let progress = Arc::clone(&self.progress);
        let flow = Arc::clone(&self.flow);
        let changes = Arc::clone(&self.changes);
        ctx.spawn(
            async move {
                let _in_order = changes.lock().await;
                (progress.reload(&flow, &partitions).await, partitions)
            }
            .into_actor(self)
            .map(|(loaded, partitions), act, ctx| match loaded {
                Ok(stored) => {
                    for key in &partitions {
                        match stored.get(key) {
                            Some(offset) => act.stored.insert(key.clone(), *offset),
                            None => act.stored.remove(key),
                        };
                    }
                    act.start_ready(ctx);
                }
                Err(error) => {
                    tracing::warn!(flow = %act.flow.name, %error, "cannot read the progress of assigned partitions; retrying");
                    act.status.failed(Stage::Progress, &error);
                    ctx.notify_later(LoadProgress(partitions), Duration::from_secs(2));
                }
            }),
        );
    }
}

impl Handler<StoreProgress> for FlowSupervisor {
    type Result = ResponseActFuture<Self, ()>;

    /// Writes the offsets acknowledged since the last tick, then restarts failed partitions (in
    /// exactly-once mode: reopens their transactions).
    fn handle(&mut self, _: StoreProgress, _: &mut Self::Context) -> Self::Result {
        if self.storing {
            return Box::pin(async {}.into_actor(self));
        }
        self.storing = true;
        let pipeline = Arc::clone(&self.pipeline);
        let progress = Arc::clone(&self.progress);
        let flow = self.flow.name.clone();
        let status = Arc::clone(&self.status);
        Box::pin(
            async move {
                match progress.store(&pipeline.trackers()).await {
                    Ok(()) => status.progress_committed(),
                    Err(error) => {
                        tracing::warn!(flow = %flow, %error, "storing progress failed; will retry");
                        status.failed(Stage::Progress, &error);
                    }
                }
                pipeline.restart_failed();
            }
            .into_actor(self)
            .map(|(), act, ctx| {
                act.storing = false;
                if act.flow.exactly_once {
                    act.reopen_failed_transactions();
                    act.start_ready(ctx);
                }
            }),
        )
    }
}

impl Handler<Fence> for FlowSupervisor {
    type Result = ();

    /// Opens the partitions' transactional producers (fencing any previous owner), then reads their
    /// committed progress — in that order, so no transaction of a previous owner commits after the read
    /// — and starts them. Partitions that fail are tried again at the next progress tick.
    fn handle(&mut self, msg: Fence, ctx: &mut Self::Context) {
        let flow = Arc::clone(&self.flow);
        let progress = Arc::clone(&self.progress);
        let changes = Arc::clone(&self.changes);
        ctx.spawn(
            async move {
                let _in_order = changes.lock().await;
                let opening = Arc::clone(&flow);
                let opened =
                    tokio::task::spawn_blocking(move || open_transactions(&opening, msg.0)).await.unwrap_or_default();
                let keys: Vec<(String, i32)> = opened.iter().map(|(key, _)| key.clone()).collect();
                let stored =
                    if keys.is_empty() { Ok(StoredOffsets::new()) } else { progress.reload(&flow, &keys).await };
                (opened, stored)
            }
            .into_actor(self)
            .map(|(opened, stored), act, ctx| {
                act.fencing = false;
                match stored {
                    Ok(stored) => {
                        for (key, transactions) in opened {
                            let mine = act.assigned.as_ref().is_none_or(|assigned| assigned.contains(&key));
                            if !mine {
                                continue;
                            }
                            match stored.get(&key) {
                                Some(offset) => act.stored.insert(key.clone(), *offset),
                                None => act.stored.remove(&key),
                            };
                            act.fenced.insert(key, transactions);
                        }
                        act.start_ready(ctx);
                    }
                    Err(error) => {
                        tracing::warn!(flow = %act.flow.name, %error, "cannot read the committed progress; will retry");
                        act.status.failed(Stage::Progress, &error);
                    }
                }
            }),
        );
    }
}

/// How many transactional producers [`open_transactions`] opens in parallel.
const PRODUCERS_OPENED_AT_ONCE: usize = 8;

/// Opens the transactional producers of `partitions`, several at a time (each `init_transactions` waits
/// for the transaction coordinator). Partitions that fail are logged and left out. Blocking.
fn open_transactions(
    flow: &FlowConfig,
    partitions: Vec<(String, i32)>,
) -> Vec<((String, i32), Arc<PartitionTransactions>)> {
    let chunk = partitions.len().div_ceil(PRODUCERS_OPENED_AT_ONCE).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = partitions
            .chunks(chunk)
            .map(|chunk| {
                scope.spawn(move || {
                    chunk
                        .iter()
                        .filter_map(|(topic, partition)| match PartitionTransactions::open(flow, topic, *partition) {
                            Ok(transactions) => Some(((topic.clone(), *partition), Arc::new(transactions))),
                            Err(error) => {
                                tracing::warn!(flow = %flow.name, topic, partition, %error, "cannot open the partition's transactions; will retry");
                                None
                            }
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(|handle| handle.join().unwrap_or_default()).collect()
    })
}

impl Handler<Shutdown> for FlowSupervisor {
    type Result = ResponseActFuture<Self, Result<u64, FerryError>>;

    /// Stops discovery and fetching, drains the queues, flushes and stores the final progress.
    fn handle(&mut self, msg: Shutdown, _: &mut Self::Context) -> Self::Result {
        self.status.set_phase(Phase::Stopping);
        self.stopping = true;
        if let Some(discovery) = self.discovery.take() {
            discovery.do_send(crate::discovery::StopDiscovery);
        }
        if let Some(monitor) = self.monitor.take() {
            monitor.do_send(StopMonitor);
        }
        if let Some(sync) = self.topic_sync.take() {
            sync.do_send(StopTopicConfigSync);
        }
        if let Some(sync) = self.acl_sync.take() {
            sync.do_send(StopAclSync);
        }
        let pipeline = Arc::clone(&self.pipeline);
        let progress = Arc::clone(&self.progress);
        let flow = self.flow.name.clone();
        let member = self.member.take();
        Box::pin(
            async move {
                let trackers = pipeline.trackers();
                let drained = pipeline.shutdown(msg.deadline).await;
                if let Err(error) = &drained {
                    tracing::warn!(flow = %flow, %error, "drain incomplete; storing what the target acknowledged");
                }
                let stored = progress.store(&trackers).await;
                if let Some(member) = member {
                    // Leaving the group after storing lets the other instances resume exactly here. Leaving
                    // can wait for a rejoin in progress: bounded, the group then times this instance out.
                    let leave = tokio::task::spawn_blocking(move || member.stop());
                    if tokio::time::timeout(LEAVE_TIMEOUT, leave).await.is_err() {
                        tracing::warn!(flow = %flow, "leaving the group timed out; the other instances take over after the session timeout");
                    }
                }
                stored?;
                let copied = copied_records(&trackers);
                tracing::info!(flow = %flow, copied, "flow stopped, progress stored");
                Ok(copied)
            }
            .into_actor(self)
            .map(|result, _, ctx| {
                ctx.stop();
                result
            }),
        )
    }
}

/// Progress storage of a flow together with its offset-sync publisher: syncs first, then progress.
pub struct Progress {
    store: ProgressStore,
    syncs: Option<tokio::sync::Mutex<SyncPublisher>>,
    /// The translation indexes the sync publisher keeps up to date (for checkpoints).
    indexes: Option<SyncIndexes>,
    /// `ferry_offset_syncs_total` of the flow.
    syncs_written: metrics::Counter,
    /// Serializes stores, so that an older tick never lands after a newer hand-over.
    storing: tokio::sync::Mutex<()>,
    /// Exactly-once mode: progress is written inside each batch's transaction, never here.
    in_transactions: bool,
}

impl Progress {
    /// Publishes pending offset syncs (after promoting each partition's delayed one), then stores the
    /// offsets acknowledged since the last call. Progress is not stored when the syncs fail, so a
    /// stored offset never covers a copy whose sync was lost.
    ///
    /// # Errors
    /// The first [`FerryError`] of either write.
    pub async fn store(&self, trackers: &[Arc<PartitionTracker>]) -> Result<(), FerryError> {
        let _one_at_a_time = self.storing.lock().await;
        if let Some(syncs) = &self.syncs {
            for tracker in trackers {
                tracker.flush_syncs();
            }
            let written = syncs.lock().await.publish_pending().await?;
            self.syncs_written.increment(written as u64);
        }
        if self.in_transactions {
            return Ok(());
        }
        let changed: Vec<_> =
            trackers.iter().filter_map(|t| t.unstored().map(|offset| (Arc::clone(t), offset))).collect();
        if changed.is_empty() {
            return Ok(());
        }
        let entries: Vec<_> = changed.iter().map(|(t, o)| (t.topic.clone(), t.partition, *o)).collect();
        self.store.store(&entries).await?;
        for (tracker, offset) in changed {
            tracker.mark_stored(offset);
        }
        Ok(())
    }

    /// Reads the stored offsets again and rebuilds the translation indexes of `partitions` (assigned to
    /// this instance by the group: another instance may have copied them until now).
    ///
    /// # Errors
    /// [`FerryError`] when the progress or sync topics cannot be read.
    pub async fn reload(&self, flow: &FlowConfig, partitions: &[(String, i32)]) -> Result<StoredOffsets, FerryError> {
        if let Some(syncs) = &self.syncs {
            syncs.lock().await.reload(flow, partitions).await?;
        }
        self.store.load().await
    }

    /// Forgets the translation indexes of partitions this instance no longer copies.
    pub async fn forget(&self, partitions: &[(String, i32)]) {
        if let Some(syncs) = &self.syncs {
            syncs.lock().await.forget(partitions);
        }
    }

    /// Prunes the translation indexes and their journal below the source partitions' log starts.
    /// Returns how many journal points were forgotten.
    ///
    /// # Errors
    /// [`FerryError`] when the source cannot be asked or the journal cannot be written.
    pub async fn prune(&self, flow: &FlowConfig) -> Result<usize, FerryError> {
        let Some(syncs) = &self.syncs else { return Ok(0) };
        let partitions = syncs.lock().await.indexed_partitions();
        let (alias, props) = (flow.source.clone(), flow.source_group_consumer.clone());
        let starts = tokio::task::spawn_blocking(move || {
            log_start_offsets(&alias, &props, &partitions, Duration::from_secs(10))
        })
        .await
        .map_err(|e| FerryError::Io {
            context: "reading log start offsets".into(),
            source: std::io::Error::other(e.to_string()),
        })??;
        syncs.lock().await.prune(&starts).await
    }
}

/// Sets up a flow (clients, progress topic, stored offsets) and starts its supervisor, which reports
/// to `status`. While a cluster is unreachable it logs and retries with back-off, for as long as the
/// caller awaits.
///
/// # Errors
/// [`FerryError`] for failures retrying cannot fix (invalid client properties).
pub async fn start_flow(flow: FlowConfig, status: Arc<FlowStatus>) -> Result<Addr<FlowSupervisor>, FerryError> {
    let flow = Arc::new(flow);
    let timeout = Duration::from_secs(10);
    let source_admin = Admin::new(&flow.source, &flow.source_admin, timeout)?;
    let target_admin = Admin::new(&flow.target, &flow.target_admin, timeout)?;
    let mut backoff = Duration::from_secs(1);
    let (progress, stored) = loop {
        match open_progress(&flow, &source_admin, &target_admin).await {
            Ok(ok) => break ok,
            Err(error @ FerryError::Topic { .. }) => return Err(error),
            Err(error) => {
                tracing::warn!(flow = %flow.name, %error, retry_in = ?backoff, "clusters not ready; retrying");
                status.failed(Stage::Start, &error);
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
        }
    };
    tracing::info!(flow = %flow.name, partitions = stored.len(), "progress loaded");
    let syncs_written = metrics::counter!(names::OFFSET_SYNCS, status.labels.labels());
    let (progress, stored, sync_sender) = progress_parts(progress, stored, syncs_written, flow.exactly_once);
    let sizing = SourceSizing::decide(&flow, &source_admin).await;
    let pipeline = Arc::new(Pipeline::new(&flow, sync_sender, sizing)?);
    status.set_pipeline(Arc::clone(&pipeline));
    let supervisor = FlowSupervisor {
        flow,
        pipeline,
        progress: Arc::new(progress),
        stored,
        admins: (source_admin, target_admin),
        discovery: None,
        checkpoints: None,
        monitor: None,
        topic_sync: None,
        acl_sync: None,
        status,
        storing: false,
        pruning: false,
        ready: HashMap::new(),
        assigned: None,
        member: None,
        subscribed: BTreeSet::new(),
        fenced: HashMap::new(),
        fencing: false,
        changes: Arc::new(tokio::sync::Mutex::new(())),
        stopping: false,
    };
    Ok(supervisor.start())
}

type Opened = (ProgressStore, Option<(SyncPublisher, UnboundedSender<OffsetSync>)>);

async fn open_progress(
    flow: &FlowConfig,
    source_admin: &Admin,
    target_admin: &Admin,
) -> Result<(Opened, StoredOffsets), FerryError> {
    let store = ProgressStore::open(flow, target_admin).await?;
    let syncs = if flow.offset_syncs.enabled {
        match SyncPublisher::open(flow, source_admin, target_admin).await {
            Ok(publisher) => Some(publisher),
            // Copying records does not depend on offset syncs: report and copy without them.
            Err(error @ FerryError::Topic { .. }) => {
                tracing::error!(flow = %flow.name, %error, "offset syncs disabled for this run: consumer offsets cannot be translated");
                None
            }
            Err(error) => return Err(error),
        }
    } else {
        None
    };
    let stored = store.load().await?;
    Ok(((store, syncs), stored))
}

fn progress_parts(
    (store, syncs): Opened,
    stored: StoredOffsets,
    syncs_written: metrics::Counter,
    in_transactions: bool,
) -> (Progress, StoredOffsets, Option<UnboundedSender<OffsetSync>>) {
    let (publisher, indexes, sender) = match syncs {
        Some((publisher, sender)) => {
            let indexes = publisher.indexes();
            (Some(tokio::sync::Mutex::new(publisher)), Some(indexes), Some(sender))
        }
        None => (None, None, None),
    };
    let storing = tokio::sync::Mutex::new(());
    let progress = Progress { store, syncs: publisher, indexes, syncs_written, storing, in_transactions };
    (progress, stored, sender)
}
