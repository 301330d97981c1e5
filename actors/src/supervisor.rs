//! The supervisor of one flow `A->B`: owns its pipeline and progress store, starts the discovery actor,
//! stores progress every `offset.flush.interval.ms`, restarts partitions whose delivery failed, and
//! runs the flow's shutdown (stop fetching, drain, flush, store progress). It starts the flow's
//! [`FlowMonitor`] (lag and gauges), [`TopicConfigSync`] and [`AclSync`] (when enabled) and reports its phase, progress commits and errors to the flow's
//! [`FlowStatus`].
//!
//! # Layout
//! Messages: [`StartPartitions`] and [`StopTopics`] (from discovery), [`Shutdown`] (from the runtime).
//! [`start_flow`] does the asynchronous set-up (clients, progress topic, stored offsets) with retries
//! while a cluster is unreachable, then starts the actor.

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
use crate::metrics::names;
use crate::monitor::{FlowMonitor, StopMonitor};
use crate::offset_index::SyncIndexes;
use crate::offset_syncs::SyncPublisher;
use crate::pipeline::tracker::{PartitionTracker, NONE};
use crate::pipeline::{copied_records, Pipeline};
use crate::progress::{ProgressStore, StoredOffsets};
use crate::status::{FlowStatus, Phase, Stage};
use crate::topic_sync::{StopTopicConfigSync, TopicConfigSync};
use ferry_engine::wire::OffsetSync;
use tokio::sync::mpsc::UnboundedSender;

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
}

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

    /// Starts each partition not yet running, from its stored offset when there is one.
    fn handle(&mut self, msg: StartPartitions, _: &mut Self::Context) {
        for (topic, partition, target_topic) in msg.0 {
            if self.pipeline.is_running(&topic, partition) {
                continue;
            }
            let stored = self.stored.get(&(topic.clone(), partition)).copied();
            if let Err(error) = self.pipeline.start_partition(&topic, partition, &target_topic, stored) {
                tracing::error!(flow = %self.flow.name, topic, partition, %error, "cannot start partition; will retry at the next refresh");
            }
        }
    }
}

impl Handler<StopTopics> for FlowSupervisor {
    type Result = ();

    /// Stops the partitions of topics that vanished; their progress stays stored.
    fn handle(&mut self, msg: StopTopics, _: &mut Self::Context) {
        let trackers = self.pipeline.trackers();
        for topic in msg.0 {
            for tracker in trackers.iter().filter(|t| t.topic == topic) {
                self.pipeline.stop_partition(&tracker.topic, tracker.partition);
                // Should the topic come back, resume after what this run copied, not the start-up offset.
                if tracker.acked() != NONE {
                    self.stored.insert((tracker.topic.clone(), tracker.partition), tracker.acked());
                }
            }
        }
    }
}

impl Handler<StoreProgress> for FlowSupervisor {
    type Result = ResponseActFuture<Self, ()>;

    /// Writes the offsets acknowledged since the last tick, then restarts failed partitions.
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
            .map(|(), act, _| act.storing = false),
        )
    }
}

impl Handler<Shutdown> for FlowSupervisor {
    type Result = ResponseActFuture<Self, Result<u64, FerryError>>;

    /// Stops discovery and fetching, drains the queues, flushes and stores the final progress.
    fn handle(&mut self, msg: Shutdown, _: &mut Self::Context) -> Self::Result {
        self.status.set_phase(Phase::Stopping);
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
        Box::pin(
            async move {
                let trackers = pipeline.trackers();
                let drained = pipeline.shutdown(msg.deadline).await;
                if let Err(error) = &drained {
                    tracing::warn!(flow = %flow, %error, "drain incomplete; storing what the target acknowledged");
                }
                progress.store(&trackers).await?;
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
}

impl Progress {
    /// Publishes pending offset syncs (after promoting each partition's delayed one), then stores the
    /// offsets acknowledged since the last call. Progress is not stored when the syncs fail, so a
    /// stored offset never covers a copy whose sync was lost.
    ///
    /// # Errors
    /// The first [`FerryError`] of either write.
    pub async fn store(&self, trackers: &[Arc<PartitionTracker>]) -> Result<(), FerryError> {
        if let Some(syncs) = &self.syncs {
            for tracker in trackers {
                tracker.flush_syncs();
            }
            let written = syncs.lock().await.publish_pending().await?;
            self.syncs_written.increment(written as u64);
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
    let (progress, stored, sync_sender) = progress_parts(progress, stored, syncs_written);
    let pipeline = Arc::new(Pipeline::new(&flow, sync_sender)?);
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
) -> (Progress, StoredOffsets, Option<UnboundedSender<OffsetSync>>) {
    let (publisher, indexes, sender) = match syncs {
        Some((publisher, sender)) => {
            let indexes = publisher.indexes();
            (Some(tokio::sync::Mutex::new(publisher)), Some(indexes), Some(sender))
        }
        None => (None, None, None),
    };
    (Progress { store, syncs: publisher, indexes, syncs_written }, stored, sender)
}
