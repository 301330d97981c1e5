//! What each flow is doing, for `GET /status` and `GET /readyz`: written by the flow's actors (phase,
//! health checks, last error, last progress commit), read by the HTTP endpoint together with the
//! partition trackers (offsets, lag, copied records).
//!
//! Nothing here repeats a configuration value: flows are named by their aliases, partitions by topic and
//! number. Error texts come from the Kafka client and ferry's own messages (which name keys, never
//! their values).
//!
//! # Layout
//! - [`FlowStatus`]: one per flow, shared (`Arc`) by its supervisor, discovery, checkpoint emitter and
//!   monitor; [`Stage`] names where an error happened.
//! - [`StatusBoard`]: every flow of the process; [`StatusBoard::report`] builds the `/status` document
//!   and [`StatusBoard::readiness`] the `/readyz` one.
//! - [`report`]: the documents' shapes (those `docs/status-api.openapi.json` describes) and timestamps.

use std::sync::atomic::{AtomicI64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use serde::Serialize;

pub mod problems;
pub mod report;

pub use report::{rfc3339, Checks, ErrorReport, FlowReport, PartitionReport, Readiness, StatusReport, TopicReport};

use crate::metrics::{age_seconds, names, now_ms, FlowLabels};
use crate::monitor::{lag_records, next_offset};
use crate::pipeline::tracker::{LastError, PartitionTracker, NONE};
use crate::pipeline::Pipeline;
use problems::Problems;

/// Where in a flow an error happened (the `stage` label of `ferry_errors_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Setting the flow up (clients, progress topic, stored offsets).
    Start,
    /// Listing, creating or growing topics.
    Discovery,
    /// Storing progress (and the offset syncs written before it).
    Progress,
    /// Reading the source's end offsets for lag.
    SourceOffsets,
    /// Writing checkpoints or syncing group offsets.
    Checkpoints,
}

impl Stage {
    /// The stage's name in reports and labels.
    pub fn name(self) -> &'static str {
        match self {
            Self::Start => "start",
            Self::Discovery => "discovery",
            Self::Progress => "progress",
            Self::SourceOffsets => "source_offsets",
            Self::Checkpoints => "checkpoints",
        }
    }
}

/// The life phase of a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Phase {
    /// Setting up; retrying while a cluster is unreachable.
    Starting = 0,
    /// The supervisor runs.
    Running = 1,
    /// Shutting down.
    Stopping = 2,
}

/// Outcome of the last attempt of a recurring check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum Check {
    /// Not attempted yet.
    Unknown = 0,
    /// The last attempt succeeded.
    Ok = 1,
    /// The last attempt failed.
    Failed = 2,
}

impl Check {
    fn from_u8(value: u8) -> Self {
        match value {
            1 => Self::Ok,
            2 => Self::Failed,
            _ => Self::Unknown,
        }
    }
}

/// The status of one flow.
pub struct FlowStatus {
    /// The flow's aliases, as metric labels.
    pub labels: FlowLabels,
    phase: AtomicU8,
    /// Last outcome of discovery, progress commit and end-offset poll, in [`Stage`] order.
    checks: [AtomicU8; 3],
    last_error: Mutex<Option<(Stage, LastError)>>,
    pipeline: OnceLock<Arc<Pipeline>>,
    /// When progress was last stored successfully (ms since the epoch, `NONE` if never).
    last_progress_commit: AtomicI64,
    /// Problems of one cluster or topic (authentication, authorization), listed under `errors`.
    problems: Arc<Problems>,
}

fn check_index(stage: Stage) -> Option<usize> {
    match stage {
        Stage::Discovery => Some(0),
        Stage::Progress => Some(1),
        Stage::SourceOffsets => Some(2),
        Stage::Start | Stage::Checkpoints => None,
    }
}

impl FlowStatus {
    /// The status of flow `source->target`, starting.
    pub fn new(source: &str, target: &str) -> Arc<Self> {
        Arc::new(Self {
            labels: FlowLabels::new(source, target),
            phase: AtomicU8::new(Phase::Starting as u8),
            checks: [AtomicU8::new(0), AtomicU8::new(0), AtomicU8::new(0)],
            last_error: Mutex::new(None),
            pipeline: OnceLock::new(),
            last_progress_commit: AtomicI64::new(NONE),
            problems: Arc::new(Problems::new(&format!("{source}->{target}"))),
        })
    }

    /// The flow's cluster and topic problems.
    pub fn problems(&self) -> &Arc<Problems> {
        &self.problems
    }

    /// Enters `phase`.
    pub fn set_phase(&self, phase: Phase) {
        self.phase.store(phase as u8, Ordering::Release);
    }

    fn phase(&self) -> Phase {
        match self.phase.load(Ordering::Acquire) {
            1 => Phase::Running,
            2 => Phase::Stopping,
            _ => Phase::Starting,
        }
    }

    /// The flow's data path, whose partitions the report lists.
    pub fn set_pipeline(&self, pipeline: Arc<Pipeline>) {
        pipeline.set_problems(Arc::clone(&self.problems));
        let _ = self.pipeline.set(pipeline);
    }

    /// Records a successful attempt of `stage`.
    pub fn succeeded(&self, stage: Stage) {
        if let Some(i) = check_index(stage) {
            self.checks[i].store(Check::Ok as u8, Ordering::Release);
        }
    }

    /// Records a failure of `stage`: its check, the flow's last error and `ferry_errors_total`.
    pub fn failed(&self, stage: Stage, error: &dyn std::fmt::Display) {
        if let Some(i) = check_index(stage) {
            self.checks[i].store(Check::Failed as u8, Ordering::Release);
        }
        let mut labels = self.labels.labels();
        labels.push(metrics::Label::new("stage", stage.name()));
        metrics::counter!(names::ERRORS, labels).increment(1);
        let error = LastError { message: error.to_string(), at_ms: now_ms() };
        *self.last_error.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some((stage, error));
    }

    /// Records a successful progress commit.
    pub fn progress_committed(&self) {
        let now = now_ms();
        self.last_progress_commit.store(now, Ordering::Release);
        self.succeeded(Stage::Progress);
        metrics::gauge!(names::PROGRESS_COMMIT_TIME, self.labels.labels()).set(now as f64 / 1000.0);
    }

    fn check(&self, stage: Stage) -> Check {
        check_index(stage).map_or(Check::Unknown, |i| Check::from_u8(self.checks[i].load(Ordering::Acquire)))
    }

    fn trackers(&self) -> Vec<Arc<PartitionTracker>> {
        self.pipeline.get().map(|p| p.trackers()).unwrap_or_default()
    }

    /// Why the flow is not ready (connected and copying); empty when it is.
    pub fn not_ready(&self) -> Vec<String> {
        let failed = self.trackers().iter().filter(|t| t.is_failed()).count();
        self.reasons(failed)
    }

    fn reasons(&self, failed_partitions: usize) -> Vec<String> {
        let mut reasons = Vec::new();
        match self.phase() {
            Phase::Starting => reasons.push("starting: clusters not reachable yet or set-up under way".to_string()),
            Phase::Stopping => reasons.push("stopping".to_string()),
            Phase::Running => {}
        }
        match self.check(Stage::Discovery) {
            Check::Unknown => reasons.push("topic discovery has not completed yet".to_string()),
            Check::Failed => reasons.push("the last topic discovery failed".to_string()),
            Check::Ok => {}
        }
        match self.check(Stage::SourceOffsets) {
            Check::Unknown => reasons.push("source end offsets not read yet".to_string()),
            Check::Failed => reasons.push("the last read of the source's end offsets failed".to_string()),
            Check::Ok => {}
        }
        if self.check(Stage::Progress) == Check::Failed {
            reasons.push("the last progress commit failed".to_string());
        }
        if failed_partitions > 0 {
            reasons.push(format!("{failed_partitions} partition(s) stopped by a delivery failure"));
        }
        let problems = self.problems.report_all();
        if !problems.is_empty() {
            reasons.push(format!("{} cluster or topic problem(s), listed under `errors`", problems.len()));
        }
        reasons.into_iter().map(|r| format!("{}: {r}", self.labels.flow)).collect()
    }

    /// This flow's part of `/status`.
    pub fn report(&self) -> FlowReport {
        let now = now_ms();
        let starts_at_end = self.pipeline.get().is_some_and(|p| p.starts_at_end());
        let mut trackers = self.trackers();
        trackers.sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
        let mut topics: Vec<TopicReport> = Vec::new();
        let mut last_error = self
            .last_error
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .as_ref()
            .map(|(stage, e)| (stage.name(), e.clone()));
        let (mut lag_total, mut lag_known, mut failed) = (0i64, !trackers.is_empty(), 0usize);
        for tracker in &trackers {
            let partition = partition_report(tracker, now, starts_at_end);
            lag_known &= partition.lag_records.is_some();
            lag_total += partition.lag_records.unwrap_or(0);
            failed += usize::from(tracker.is_failed());
            if let Some(error) = tracker.last_error() {
                if last_error.as_ref().is_none_or(|(_, e)| e.at_ms < error.at_ms) {
                    last_error = Some(("delivery", error));
                }
            }
            match topics.last_mut() {
                Some(topic) if topic.topic == tracker.topic => topic.partitions.push(partition),
                _ => topics.push(TopicReport {
                    topic: tracker.topic.clone(),
                    target_topic: tracker.target_topic.clone(),
                    partitions: vec![partition],
                }),
            }
        }
        let not_ready = self.reasons(failed);
        let commit = self.last_progress_commit.load(Ordering::Acquire);
        FlowReport {
            name: self.labels.flow.clone(),
            source: self.labels.source.clone(),
            target: self.labels.target.clone(),
            state: match self.phase() {
                Phase::Starting => "starting",
                Phase::Running => "running",
                Phase::Stopping => "stopping",
            },
            ready: not_ready.is_empty(),
            not_ready,
            checks: Checks {
                discovery: self.check(Stage::Discovery),
                progress: self.check(Stage::Progress),
                source_offsets: self.check(Stage::SourceOffsets),
            },
            partitions: trackers.len(),
            paused_partitions: trackers.iter().filter(|t| t.paused.load(Ordering::Relaxed)).count(),
            failed_partitions: failed,
            copied_records: crate::pipeline::copied_records(&trackers),
            lag_records: (lag_known || trackers.is_empty()).then_some(lag_total),
            last_progress_commit_at: (commit != NONE).then(|| rfc3339(commit)),
            last_error: last_error.map(|(stage, e)| ErrorReport {
                stage: stage.to_string(),
                message: e.message,
                at: rfc3339(e.at_ms),
            }),
            errors: self.problems.report_all(),
            topics,
        }
    }
}

fn partition_report(tracker: &PartitionTracker, now: i64, starts_at_end: bool) -> PartitionReport {
    let (log_start, end) = tracker.source_offsets();
    let next = next_offset(tracker.acked(), tracker.first_sent(), log_start, end, starts_at_end);
    let lag = lag_records(next, end);
    let acked_ts = tracker.last_acked_timestamp();
    let lag_seconds = match lag {
        Some(0) => Some(0.0),
        Some(_) if acked_ts != NONE => Some(age_seconds(now, acked_ts)),
        _ => None,
    };
    let state = if tracker.is_failed() {
        "failed"
    } else if tracker.paused.load(Ordering::Relaxed) {
        "paused"
    } else {
        "copying"
    };
    PartitionReport {
        partition: tracker.partition,
        state,
        next_offset: next,
        end_offset: (end != NONE).then_some(end),
        lag_records: lag,
        lag_seconds,
        copied_records: tracker.copied_records.load(Ordering::Relaxed),
        last_error: tracker.last_error().map(|e| ErrorReport {
            stage: "delivery".to_string(),
            message: e.message,
            at: rfc3339(e.at_ms),
        }),
    }
}

/// Every flow of the process.
#[derive(Clone)]
pub struct StatusBoard {
    flows: Vec<Arc<FlowStatus>>,
    started_ms: i64,
}

impl StatusBoard {
    /// A board over `flows`.
    pub fn new(flows: Vec<Arc<FlowStatus>>) -> Self {
        Self { flows, started_ms: now_ms() }
    }

    /// The `/status` document.
    pub fn report(&self) -> StatusReport {
        let flows: Vec<FlowReport> = self.flows.iter().map(|f| f.report()).collect();
        let now = now_ms();
        StatusReport {
            ready: flows.iter().all(|f| f.ready),
            started_at: rfc3339(self.started_ms),
            uptime_seconds: age_seconds(now, self.started_ms),
            flows,
        }
    }

    /// The `/readyz` document: ready when every flow is connected and copying.
    pub fn readiness(&self) -> Readiness {
        let not_ready: Vec<String> = self.flows.iter().flat_map(|f| f.not_ready()).collect();
        Readiness { ready: not_ready.is_empty(), not_ready }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flow_is_ready_once_running_discovered_and_polled() {
        let status = FlowStatus::new("a", "b");
        assert_eq!(status.not_ready().len(), 3, "{:?}", status.not_ready());
        status.set_phase(Phase::Running);
        status.succeeded(Stage::Discovery);
        assert_eq!(status.not_ready(), ["a->b: source end offsets not read yet"]);
        status.succeeded(Stage::SourceOffsets);
        assert!(status.not_ready().is_empty());
        status.failed(Stage::Progress, &"target unreachable");
        assert_eq!(status.not_ready(), ["a->b: the last progress commit failed"]);
        status.progress_committed();
        assert!(status.not_ready().is_empty());
        let report = status.report();
        assert!(report.ready && report.lag_records == Some(0) && report.last_progress_commit_at.is_some());
        let error = report.last_error.expect("kept after recovery");
        assert_eq!((error.stage.as_str(), error.message.as_str()), ("progress", "target unreachable"));
        status.set_phase(Phase::Stopping);
        let board = StatusBoard::new(vec![status]);
        assert_eq!(board.readiness().not_ready, ["a->b: stopping"]);
        let json = serde_json::to_value(board.report()).expect("serializable");
        assert_eq!(json["flows"][0]["checks"]["progress"], "ok");
        assert_eq!(json["flows"][0]["state"], "stopping");
    }
}
