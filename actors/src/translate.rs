//! `ferry translate FILE --group G --from A --to B`: where consumer group G, which committed offsets on
//! cluster A, should start on cluster B after a failover — per partition, with whether the answer is
//! exact.
//!
//! It reads G's committed offsets on A, rebuilds the flow's exact translation indexes from ferry's
//! offset-index journal and the offset syncs ([`crate::offset_index`], as `ferry run` does), and
//! prints the target offsets. Offsets older than the index fall back to MM2's conservative rule over
//! the offset syncs (never skips, may re-read).

use std::collections::BTreeMap;
use std::time::Duration;

use ferry_engine::checkpoint_rules::checkpoint_topic;
use ferry_engine::translate::translate_conservative;
use ferry_engine::{ConfigError, FlowConfig, Mm2Config};
use serde_json::json;

use crate::error::FerryError;
use crate::kafka::admin::Admin;
use crate::kafka::groups::committed_offsets;
use crate::offset_index::{self, SourcePartition, StoredSync};
use ferry_engine::OffsetIndex;

/// One partition's translation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// Source topic.
    pub topic: String,
    /// Partition (same on both sides).
    pub partition: i32,
    /// The group's committed offset on the source.
    pub source_offset: i64,
    /// Topic to commit on the target.
    pub target_topic: String,
    /// Offset to commit on the target, `None` when nothing of the partition was copied yet.
    pub target_offset: Option<i64>,
    /// Whether the target offset is exact (no record skipped, none read twice).
    pub exact: bool,
}

/// Finds the enabled flow `from->to`.
///
/// # Errors
/// [`ConfigError`] naming `--from`/`--to` for an unknown alias or a flow that is not enabled.
pub fn find_flow<'a>(config: &'a Mm2Config, from: &str, to: &str) -> Result<&'a FlowConfig, ConfigError> {
    for (key, alias) in [("--from", from), ("--to", to)] {
        if !config.clusters.iter().any(|c| c == alias) {
            return Err(ConfigError::new(
                key,
                format!("unknown cluster alias `{alias}` (clusters: {})", config.clusters.join(", ")),
            ));
        }
    }
    config
        .flows
        .iter()
        .find(|f| f.source == from && f.target == to)
        .ok_or_else(|| ConfigError::new(format!("{from}->{to}.enabled"), format!("flow `{from}->{to}` is not enabled")))
}

/// Translates group `group`'s committed offsets for flow `flow`.
///
/// # Errors
/// [`FerryError::Config`] (exit 2) when the group has no committed offset on a replicated topic;
/// [`FerryError::Kafka`] when a cluster cannot be read.
pub async fn translate_group(flow: &FlowConfig, group: &str) -> Result<Vec<Row>, FerryError> {
    let timeout = Duration::from_secs(10);
    let admin = Admin::new(&flow.source, &flow.source_admin, timeout)?;
    let (topics, _) = admin.list_topics().await?;
    let replicated: BTreeMap<String, i32> =
        topics.into_iter().filter(|(t, _)| flow.should_replicate_topic(t)).collect();
    let flow_owned = flow.clone();
    let group_owned = group.to_string();
    let partitions: Vec<(String, i32)> =
        replicated.iter().flat_map(|(t, n)| (0..*n).map(move |p| (t.clone(), p))).collect();
    let committed = tokio::task::spawn_blocking(move || {
        committed_offsets(&flow_owned.source, &flow_owned.source_group_consumer, &group_owned, &partitions, timeout)
    })
    .await
    .map_err(|e| FerryError::Io {
        context: "reading group offsets".into(),
        source: std::io::Error::other(e.to_string()),
    })??;
    if committed.is_empty() {
        return Err(ConfigError::new(
            "--group",
            format!(
                "group `{group}` has no committed offsets on `{}` for topics replicated by {}",
                flow.source, flow.name
            ),
        )
        .into());
    }
    let flow_owned = flow.clone();
    let (loaded, syncs) =
        tokio::task::spawn_blocking(move || offset_index::load_with_syncs(&flow_owned, timeout)).await.map_err(
            |e| FerryError::Io { context: "reading offset syncs".into(), source: std::io::Error::other(e.to_string()) },
        )??;
    Ok(committed
        .into_iter()
        .map(|((topic, partition), committed)| {
            let source_offset = committed.offset;
            let key: SourcePartition = (topic.clone(), partition);
            let partition_syncs = syncs.get(&key).map_or(&[][..], Vec::as_slice);
            let (target_offset, exact) = translate_one(loaded.indexes.get(&key), partition_syncs, source_offset);
            let target_topic = checkpoint_topic(&flow.policy, &flow.source, &flow.target, &topic);
            Row { topic, partition, source_offset, target_topic, target_offset, exact }
        })
        .collect())
}

/// Exact translation from the index, or MM2's conservative rule over the syncs when the offset is
/// older than the index.
fn translate_one(index: Option<&OffsetIndex>, syncs: &[StoredSync], committed: i64) -> (Option<i64>, bool) {
    let Ok(committed) = u64::try_from(committed) else { return (None, false) };
    if let Some(translation) = index.and_then(|index| index.translate(committed)) {
        return (i64::try_from(translation.downstream).ok(), translation.exact);
    }
    let pairs = syncs
        .iter()
        .map(|s| &s.sync)
        .filter_map(|s| Some((u64::try_from(s.upstream_offset).ok()?, u64::try_from(s.downstream_offset).ok()?)));
    (translate_conservative(pairs, committed).and_then(|d| i64::try_from(d).ok()), false)
}

/// Renders rows as a table.
pub fn render_table(flow: &FlowConfig, group: &str, rows: &[Row]) -> String {
    let mut out = format!("group `{group}`: {} -> {}\n", flow.source, flow.target);
    out.push_str(&format!(
        "{:<40} {:>9} {:>14}  {:<40} {:>14}  {}\n",
        "TOPIC", "PARTITION", "SOURCE-OFFSET", "TARGET-TOPIC", "TARGET-OFFSET", "EXACT"
    ));
    for row in rows {
        let target = row.target_offset.map_or_else(|| "-".to_string(), |o| o.to_string());
        out.push_str(&format!(
            "{:<40} {:>9} {:>14}  {:<40} {:>14}  {}\n",
            row.topic,
            row.partition,
            row.source_offset,
            row.target_topic,
            target,
            if row.exact { "yes" } else { "no" }
        ));
    }
    out
}

/// Renders rows as JSON.
pub fn render_json(flow: &FlowConfig, group: &str, rows: &[Row]) -> String {
    let partitions: Vec<_> = rows
        .iter()
        .map(|r| {
            json!({
                "topic": r.topic, "partition": r.partition, "source_offset": r.source_offset,
                "target_topic": r.target_topic, "target_offset": r.target_offset, "exact": r.exact,
            })
        })
        .collect();
    json!({ "group": group, "from": flow.source, "to": flow.target, "partitions": partitions }).to_string()
}
