//! The checkpoint task's rules (reference §3.3, §3.4, `MirrorCheckpointTask.java`): under which
//! topic name a group's offset is checkpointed, whether a new checkpoint is emitted, and whether
//! a translated offset may be committed to the group on the target.
//!
//! # API
//!
//! - [`checkpoint_topic`]`(policy, source, target, topic) -> String`: the renaming rule.
//! - [`decide_checkpoint`]`(last, upstream, downstream) -> CheckpointDecision` and
//!   [`LastCheckpoints`] (`load`, `offer`, `get`, `group`, `groups`), MM2's `CheckpointStore`:
//!   checkpoints only go backwards when the source group rewinds.
//! - [`decide_group_sync`]`(state, target_committed, translated) -> GroupSyncDecision` with
//!   [`TargetGroupState::from_state_name`]: sync only idle or absent target groups, never rewind.
//!
//! ```
//! use ferry_engine::checkpoint_rules::*;
//! use ferry_engine::policy::ReplicationPolicy;
//! let p = ReplicationPolicy::default();
//! assert_eq!(checkpoint_topic(&p, "A", "B", "foo"), "A.foo");
//! assert_eq!(checkpoint_topic(&p, "A", "B", "B.foo"), "foo"); // fail-back
//! assert!(decide_checkpoint(Some((10, 20)), 12, 20) == CheckpointDecision::Repeated);
//! assert!(decide_group_sync(TargetGroupState::Empty, Some(15), 20).should_sync());
//! ```

use std::collections::HashMap;

use crate::policy::ReplicationPolicy;
use crate::wire::Checkpoint;

/// The downstream topic a checkpoint of source topic `upstream_topic` is keyed under
/// (`MirrorCheckpointTask.renameTopicPartition`).
///
/// A topic that itself came from the target (`topic_source == target_alias`, e.g. `B.foo` on A for
/// flow A->B) is checkpointed under its original name (`foo`), which is what makes fail-back work;
/// every other topic under `format_remote_topic(source_alias, topic)`.
pub fn checkpoint_topic(
    policy: &ReplicationPolicy,
    source_alias: &str,
    target_alias: &str,
    upstream_topic: &str,
) -> String {
    if policy.topic_source(upstream_topic).as_deref() == Some(target_alias) {
        policy.original_topic(upstream_topic)
    } else {
        policy.format_remote_topic(source_alias, upstream_topic)
    }
}

/// Whether a checkpoint is emitted, and why (`MirrorCheckpointTask.checkpointIsMoreRecent`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckpointDecision {
    /// Emit: nothing was emitted for this group and partition yet.
    First,
    /// Emit: the source group was reset backwards, so the checkpoint may go back too.
    UpstreamRewind,
    /// Emit: the translated offset moved forward.
    DownstreamAdvanced,
    /// Skip: same translated offset as the last checkpoint.
    Repeated,
    /// Skip: the translated offset is lower although the group did not rewind (would make
    /// checkpoints go backwards).
    WouldRewind,
}

impl CheckpointDecision {
    /// True for the emitting variants.
    pub fn should_emit(self) -> bool {
        matches!(self, Self::First | Self::UpstreamRewind | Self::DownstreamAdvanced)
    }
}

/// Decides a new checkpoint `(upstream, downstream)` against the last emitted one for the same
/// group and partition, given as `(upstream, downstream)`.
pub fn decide_checkpoint(last: Option<(i64, i64)>, upstream_offset: i64, downstream_offset: i64) -> CheckpointDecision {
    match last {
        None => CheckpointDecision::First,
        Some((last_up, _)) if upstream_offset < last_up => CheckpointDecision::UpstreamRewind,
        Some((_, last_down)) if downstream_offset > last_down => CheckpointDecision::DownstreamAdvanced,
        Some((_, last_down)) if downstream_offset == last_down => CheckpointDecision::Repeated,
        Some(_) => CheckpointDecision::WouldRewind,
    }
}

/// The last checkpoint emitted per group and downstream topic-partition (MM2's
/// `CheckpointStore`). Seed it with [`load`](Self::load) from the checkpoints topic at start, so a
/// restart does not emit a lower checkpoint; then pass every candidate through
/// [`offer`](Self::offer).
#[derive(Debug, Clone, Default)]
pub struct LastCheckpoints {
    /// group → (downstream topic, partition) → last emitted checkpoint.
    by_group: HashMap<String, HashMap<(String, i32), Checkpoint>>,
}

impl LastCheckpoints {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Replays one checkpoint read back from the checkpoints topic; later records replace
    /// earlier ones.
    pub fn load(&mut self, checkpoint: Checkpoint) {
        self.by_group
            .entry(checkpoint.group.clone())
            .or_default()
            .insert((checkpoint.topic.clone(), checkpoint.partition), checkpoint);
    }

    /// Decides `checkpoint` against the last one for its group and partition, and remembers it
    /// when it is to be emitted (MM2 updates its store before sending, too).
    pub fn offer(&mut self, checkpoint: &Checkpoint) -> CheckpointDecision {
        let last = self
            .get(&checkpoint.group, &checkpoint.topic, checkpoint.partition)
            .map(|c| (c.upstream_offset, c.downstream_offset));
        let decision = decide_checkpoint(last, checkpoint.upstream_offset, checkpoint.downstream_offset);
        if decision.should_emit() {
            self.load(checkpoint.clone());
        }
        decision
    }

    /// The last checkpoint for a group and downstream topic-partition.
    pub fn get(&self, group: &str, topic: &str, partition: i32) -> Option<&Checkpoint> {
        self.by_group.get(group)?.get(&(topic.to_string(), partition))
    }

    /// The last checkpoints of one group (the offsets a group offset sync would commit).
    pub fn group<'a>(&'a self, group: &str) -> impl Iterator<Item = &'a Checkpoint> + 'a {
        self.by_group.get(group).into_iter().flat_map(|m| m.values())
    }

    /// The groups with at least one checkpoint.
    pub fn groups(&self) -> impl Iterator<Item = &str> {
        self.by_group.keys().map(String::as_str)
    }
}

/// What the target cluster says about a consumer group, as far as offset sync cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetGroupState {
    /// No such group on the target (`Dead`, or not found): a new consumer, sync everything.
    Missing,
    /// The group exists with no members: safe to commit offsets.
    Empty,
    /// The group has (or may have) members: committing would fail or fight the consumers.
    Active,
}

impl TargetGroupState {
    /// Maps a group state name as librdkafka / the Java admin client spell it. Unknown names
    /// (including `Unknown`) count as [`Active`](Self::Active), so ferry never commits under a
    /// running consumer.
    pub fn from_state_name(name: &str) -> Self {
        if name.eq_ignore_ascii_case("Empty") {
            Self::Empty
        } else if name.eq_ignore_ascii_case("Dead") {
            Self::Missing
        } else {
            Self::Active
        }
    }
}

/// Whether to commit a translated offset for one partition of a target group, and why not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupSyncDecision {
    /// Commit the translated offset.
    Sync,
    /// Skip: the target group is in use.
    GroupActive,
    /// Skip: the target group is already at or past the translated offset (never rewind it).
    TargetAhead,
}

impl GroupSyncDecision {
    /// True for [`Sync`](Self::Sync).
    pub fn should_sync(self) -> bool {
        self == Self::Sync
    }
}

/// The group-offset-sync rule of `MirrorCheckpointTask.syncGroupOffset` (KIP-545): commit only
/// while the target group is missing or empty, and only when the target has no offset for the
/// partition (`None`; a negative offset, as some clients reset to -1, counts as none) or a lower
/// one than `translated`.
pub fn decide_group_sync(state: TargetGroupState, target_committed: Option<i64>, translated: i64) -> GroupSyncDecision {
    match state {
        TargetGroupState::Active => GroupSyncDecision::GroupActive,
        TargetGroupState::Missing => GroupSyncDecision::Sync,
        TargetGroupState::Empty => match target_committed {
            Some(current) if current >= 0 && current >= translated => GroupSyncDecision::TargetAhead,
            _ => GroupSyncDecision::Sync,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cp(group: &str, topic: &str, upstream: i64, downstream: i64) -> Checkpoint {
        Checkpoint {
            group: group.into(),
            topic: topic.into(),
            partition: 0,
            upstream_offset: upstream,
            downstream_offset: downstream,
            metadata: String::new(),
        }
    }

    /// `MirrorCheckpointTaskTest.testDownstreamTopicRenaming`.
    #[test]
    fn downstream_topic_renaming() {
        let p = ReplicationPolicy::default();
        assert_eq!(checkpoint_topic(&p, "source1", "target2", "topic3"), "source1.topic3");
        assert_eq!(checkpoint_topic(&p, "source1", "target2", "target2.topic3"), "topic3");
        assert_eq!(checkpoint_topic(&p, "source1", "target2", "source6.topic7"), "source1.source6.topic7");
        // MM2 uses `originalTopic`, which strips every hop.
        assert_eq!(checkpoint_topic(&p, "A", "B", "B.C.foo"), "foo");
        let identity = ReplicationPolicy::Identity {
            source_alias: "A".into(),
            separator: ".".into(),
            internal_separator_enabled: true,
        };
        assert_eq!(checkpoint_topic(&identity, "A", "B", "foo"), "foo");
        assert_eq!(checkpoint_topic(&identity, "A", "B", "B.foo"), "B.foo");
    }

    #[test]
    fn checkpoint_decisions() {
        use CheckpointDecision::*;
        assert_eq!(decide_checkpoint(None, 5, 3), First);
        assert_eq!(decide_checkpoint(Some((10, 20)), 9, 30), UpstreamRewind);
        assert_eq!(decide_checkpoint(Some((10, 20)), 9, 5), UpstreamRewind);
        assert_eq!(decide_checkpoint(Some((10, 20)), 11, 21), DownstreamAdvanced);
        assert_eq!(decide_checkpoint(Some((10, 20)), 10, 20), Repeated);
        assert_eq!(decide_checkpoint(Some((10, 20)), 12, 20), Repeated);
        assert_eq!(decide_checkpoint(Some((10, 20)), 12, 19), WouldRewind);
        assert!(!WouldRewind.should_emit() && !Repeated.should_emit());
    }

    /// `MirrorCheckpointTaskTest.testCheckpointRecordsMonotonicIfStoreRewinds` and
    /// `testCheckpointsTaskRestartUsesExistingCheckpoints`.
    #[test]
    fn checkpoints_stay_monotonic_across_restarts() {
        let mut store = LastCheckpoints::new();
        assert_eq!(store.offer(&cp("g", "A.t", 100, 200)), CheckpointDecision::First);
        // The translation got worse (e.g. the sync store was rebuilt): not emitted.
        assert_eq!(store.offer(&cp("g", "A.t", 110, 150)), CheckpointDecision::WouldRewind);
        assert_eq!(store.get("g", "A.t", 0).map(|c| c.downstream_offset), Some(200));
        // A restart replays the checkpoints topic first.
        let mut restarted = LastCheckpoints::new();
        restarted.load(cp("g", "A.t", 90, 180));
        restarted.load(cp("g", "A.t", 100, 200));
        assert_eq!(restarted.offer(&cp("g", "A.t", 100, 199)), CheckpointDecision::WouldRewind);
        assert_eq!(restarted.offer(&cp("g", "A.t", 101, 201)), CheckpointDecision::DownstreamAdvanced);
        assert_eq!(restarted.offer(&cp("g", "A.t", 50, 120)), CheckpointDecision::UpstreamRewind);
        assert_eq!(restarted.offer(&cp("h", "A.t", 50, 120)), CheckpointDecision::First);
        let mut groups: Vec<_> = restarted.groups().collect();
        groups.sort_unstable();
        assert_eq!(groups, ["g", "h"]);
        assert_eq!(restarted.group("g").map(|c| c.upstream_offset).collect::<Vec<_>>(), [50]);
        assert_eq!(restarted.group("nope").count(), 0);
    }

    /// `MirrorCheckpointTaskTest.testSyncOffsetForTargetGroupWithNullOffsetAndMetadata` and
    /// the KIP-545 rules.
    #[test]
    fn group_sync_rules() {
        use GroupSyncDecision::*;
        use TargetGroupState::*;
        assert_eq!(decide_group_sync(Missing, None, 10), Sync);
        assert_eq!(decide_group_sync(Empty, None, 10), Sync);
        assert_eq!(decide_group_sync(Empty, Some(-1), 10), Sync);
        assert_eq!(decide_group_sync(Empty, Some(9), 10), Sync);
        assert_eq!(decide_group_sync(Empty, Some(10), 10), TargetAhead);
        assert_eq!(decide_group_sync(Empty, Some(11), 10), TargetAhead);
        assert_eq!(decide_group_sync(Active, None, 10), GroupActive);
        assert_eq!(TargetGroupState::from_state_name("Empty"), Empty);
        assert_eq!(TargetGroupState::from_state_name("EMPTY"), Empty);
        assert_eq!(TargetGroupState::from_state_name("Dead"), Missing);
        for active in ["Stable", "PreparingRebalance", "CompletingRebalance", "Unknown", "Assigning", ""] {
            assert_eq!(TargetGroupState::from_state_name(active), Active, "{active}");
        }
    }
}
