//! Topic config sync of a flow (MM2 `syncTopicConfigs`): at start and every
//! `sync.topic.configs.interval.seconds`, the configs of each replicated source topic go through the
//! flow's property filter (`config.properties.exclude`, `use.defaults.from`) onto its remote topic.
//!
//! A pass compares with the remote topic's described configs and sends an incremental alteration only
//! for what differs (a changed or new override: `SET`; an override the source dropped: `DELETE`, unless
//! `use.defaults.from = source`), so steady state sends nothing and logs nothing. Each changed topic
//! logs one line. A topic that fails (unreadable, refused by the target) is logged with the flow, topic
//! and keys, and retried at the next pass; other topics carry on and the flow never stops. Remote
//! topics that do not exist yet are left to discovery, which creates them with filtered configs.
//!
//! It runs only on control ticks, nowhere near the record path. Started by the flow supervisor when
//! `sync.topic.configs.enabled`.

use std::sync::Arc;

use actix::prelude::*;
use ferry_engine::topic_config::{changes_needed, config_alterations, ConfigAlteration};
use ferry_engine::FlowConfig;

use crate::error::FerryError;
use crate::kafka::admin::Admin;

/// Run one sync pass now.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SyncTopicConfigs;

/// Stop syncing (the flow is shutting down).
#[derive(Message)]
#[rtype(result = "()")]
pub struct StopTopicConfigSync;

/// Topic config sync actor of one flow.
pub struct TopicConfigSync {
    /// The flow's configuration (filter, `use.defaults.from`, interval, naming).
    flow: Arc<FlowConfig>,
    /// Admin client of the source cluster (configs are read there).
    source: Admin,
    /// Admin client of the target cluster (remote topics are altered there).
    target: Admin,
    /// Whether a pass is under way (passes never overlap).
    busy: bool,
}

impl TopicConfigSync {
    /// A sync actor for `flow`.
    pub fn new(flow: Arc<FlowConfig>, source: Admin, target: Admin) -> Self {
        Self { flow, source, target, busy: false }
    }
}

impl Actor for TopicConfigSync {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.notify(SyncTopicConfigs);
        ctx.run_interval(self.flow.sync_topic_configs_interval, |_, ctx| ctx.notify(SyncTopicConfigs));
    }
}

impl Handler<StopTopicConfigSync> for TopicConfigSync {
    type Result = ();

    fn handle(&mut self, _: StopTopicConfigSync, ctx: &mut Self::Context) {
        ctx.stop();
    }
}

impl Handler<SyncTopicConfigs> for TopicConfigSync {
    type Result = ResponseActFuture<Self, ()>;

    /// Syncs every replicated topic whose remote topic exists; logs what changed or failed.
    fn handle(&mut self, _: SyncTopicConfigs, _: &mut Self::Context) -> Self::Result {
        if self.busy {
            return Box::pin(async {}.into_actor(self));
        }
        self.busy = true;
        let (flow, source, target) = (Arc::clone(&self.flow), self.source.clone(), self.target.clone());
        Box::pin(
            async move {
                if let Err(error) = sync_all(&flow, &source, &target).await {
                    tracing::warn!(flow = %flow.name, %error, "topic config sync failed; will retry at the next interval");
                }
            }
            .into_actor(self)
            .map(|(), act, _| act.busy = false),
        )
    }
}

/// One pass over every replicated topic. Per-topic failures are logged and skipped.
///
/// # Errors
/// [`FerryError`] when either cluster cannot list its topics.
async fn sync_all(flow: &FlowConfig, source: &Admin, target: &Admin) -> Result<(), FerryError> {
    let (source_topics, _) = source.list_topics().await?;
    let (target_topics, _) = target.list_topics().await?;
    for topic in source_topics.keys().filter(|t| flow.should_replicate_topic(t)) {
        let remote = flow.remote_topic(topic);
        if !target_topics.contains_key(&remote) {
            continue;
        }
        match sync_topic(flow, source, target, topic, &remote).await {
            Ok(changes) if changes.is_empty() => {}
            Ok(changes) => {
                tracing::info!(flow = %flow.name, topic, remote, changes = %describe(&changes), "topic configs synced");
            }
            Err((keys, error)) => {
                tracing::warn!(flow = %flow.name, topic, remote, keys = %keys, %error, "cannot sync topic configs; will retry at the next interval");
            }
        }
    }
    Ok(())
}

/// Syncs one topic; returns the alterations sent (none when in sync), or the keys involved and the error.
async fn sync_topic(
    flow: &FlowConfig,
    source: &Admin,
    target: &Admin,
    topic: &str,
    remote: &str,
) -> Result<Vec<ConfigAlteration>, (String, FerryError)> {
    let source_entries = source.topic_configs(topic).await.map_err(|e| ("(reading the source)".to_string(), e))?;
    let target_entries = target.topic_configs(remote).await.map_err(|e| ("(reading the target)".to_string(), e))?;
    let wanted = config_alterations(&source_entries, &flow.config_filter, flow.use_defaults_from);
    let changes = changes_needed(wanted, &target_entries);
    if !changes.is_empty() {
        let keys = changes.iter().map(ConfigAlteration::name).collect::<Vec<_>>().join(", ");
        target.alter_topic_configs(remote, changes.clone()).await.map_err(|e| (keys, e))?;
    }
    Ok(changes)
}

/// `retention.ms=7200000, segment.ms (deleted)` for the log line.
fn describe(changes: &[ConfigAlteration]) -> String {
    changes
        .iter()
        .map(|c| match c {
            ConfigAlteration::Set { name, value } => format!("{name}={value}"),
            ConfigAlteration::Delete { name } => format!("{name} (deleted: target default)"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_are_described_for_the_log() {
        let changes = vec![
            ConfigAlteration::Set { name: "retention.ms".into(), value: "5".into() },
            ConfigAlteration::Delete { name: "segment.ms".into() },
        ];
        assert_eq!(describe(&changes), "retention.ms=5, segment.ms (deleted: target default)");
    }
}
