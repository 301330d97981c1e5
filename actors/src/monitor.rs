//! The monitor of one flow: every few seconds it reads the source's log start and end offsets of the
//! partitions being copied (two batched ListOffsets requests, whatever the partition count) and sets
//! the flow's gauges: per-partition lag in records and time, flow lag, queue depth, partitions,
//! paused and failed partitions, readiness.
//!
//! Lag in records is `end offset − next offset to copy`, where the next offset is the one after the last
//! offset the target acknowledged (or where copying starts: the stored progress, the log start, or the
//! end with `auto.offset.reset=latest`), never below the log start. The end offset is the last stable
//! offset (`isolation.level=read_committed`, librdkafka's default); a transactional source's commit
//! markers occupy offsets that are never copied, so such a partition may show a lag of 1 when idle.
//! Lag in time is, while records are uncopied, `now − timestamp of the last record the target
//! acknowledged`: an upper bound of the oldest uncopied record's age, equal to it under steady
//! traffic; 0 when caught up; absent until the partition's first batch is acknowledged.
//!
//! It also reviews the flow's topic problems ([`crate::status::problems`]): when a fetch loop saw a
//! partition refused for lack of the Read permission it finds out which source topics
//! ([`crate::kafka::read_access`]) and reports them, re-checks them every [`READ_RECHECK`] until they are
//! readable, and ends a remote topic's delivery problem once its partitions copy again.
//!
//! All of it is control-rate work on this actor and the blocking pool; the data path is not touched.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use ferry_engine::FlowConfig;
use metrics::Label;
use rdkafka::consumer::BaseConsumer;

use crate::error::FerryError;
use crate::kafka::clients::{self, LoggingContext};
use crate::kafka::read_access;
use crate::kafka::source_offsets::source_offsets;
use crate::metrics::{age_seconds, names, now_ms};
use crate::pipeline::tracker::NONE;
use crate::pipeline::Pipeline;
use crate::status::problems::{ProblemKey, ProblemStage};
use crate::status::{FlowStatus, Stage};

/// How often the source's offsets are read and the gauges refreshed.
pub const MONITOR_INTERVAL: Duration = Duration::from_secs(5);

/// How long one offsets request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// How often source topics ferry may not read are checked again.
pub const READ_RECHECK: Duration = Duration::from_secs(30);

/// What to do about a source topic ferry may not read.
const READ_HINT: &str =
    "its records are not copied; grant ferry's principal Read and Describe on it (docs/security.md)";

/// The next source offset to copy, if known: after the last acknowledged one, else where copying
/// starts; never below the log start (retention may have deleted what was not copied).
pub fn next_offset(acked: i64, first_sent: i64, log_start: i64, end: i64, starts_at_end: bool) -> Option<i64> {
    let next = if acked != NONE {
        acked + 1
    } else if first_sent != NONE {
        first_sent
    } else if starts_at_end {
        (end != NONE).then_some(end)?
    } else {
        (log_start != NONE).then_some(log_start)?
    };
    Some(next.max(log_start))
}

/// `end − next`, never negative (the end may be older than the last acknowledgement); `None` until
/// both are known.
pub fn lag_records(next: Option<i64>, end: i64) -> Option<i64> {
    next.filter(|_| end != NONE).map(|next| (end - next).max(0))
}

/// Poll the source's offsets and refresh the gauges now.
#[derive(Message)]
#[rtype(result = "()")]
struct Poll;

/// The monitor actor of one flow.
pub struct FlowMonitor {
    /// The flow's configuration (source alias and client properties).
    flow: Arc<FlowConfig>,
    /// The data path whose trackers are read and updated.
    pipeline: Arc<Pipeline>,
    /// Where poll outcomes are reported.
    status: Arc<FlowStatus>,
    /// Client for the offsets requests (built once; it connects lazily).
    consumer: Option<Arc<BaseConsumer<LoggingContext>>>,
    /// Whether a poll is under way.
    busy: bool,
    /// Whether a read access probe is under way.
    probing: bool,
    /// When read access was last probed.
    last_probe: Option<Instant>,
}

impl FlowMonitor {
    /// A monitor of `pipeline`, reporting to `status`.
    pub fn new(flow: Arc<FlowConfig>, pipeline: Arc<Pipeline>, status: Arc<FlowStatus>) -> Self {
        Self { flow, pipeline, status, consumer: None, busy: false, probing: false, last_probe: None }
    }
}

impl Actor for FlowMonitor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        let mut config = clients::client_config(&self.flow.source_group_consumer);
        clients::ensure_group_id(&mut config, &format!("ferry-{}-monitor", self.flow.name));
        match clients::create(&self.flow.source, "offsets monitor", &config) {
            Ok(consumer) => self.consumer = Some(Arc::new(consumer)),
            Err(error) => self.status.failed(Stage::SourceOffsets, &error),
        }
        ctx.notify(Poll);
        ctx.run_interval(MONITOR_INTERVAL, |_, ctx| ctx.notify(Poll));
    }
}

/// Stop monitoring (the flow is shutting down).
#[derive(Message)]
#[rtype(result = "()")]
pub struct StopMonitor;

impl Handler<StopMonitor> for FlowMonitor {
    type Result = ();

    fn handle(&mut self, _: StopMonitor, ctx: &mut Self::Context) {
        ctx.stop();
    }
}

impl Handler<Poll> for FlowMonitor {
    type Result = ResponseActFuture<Self, ()>;

    /// Reads the offsets on the blocking pool, stores them in the trackers and sets the gauges.
    fn handle(&mut self, _: Poll, _: &mut Self::Context) -> Self::Result {
        let Some(consumer) = self.consumer.clone().filter(|_| !self.busy) else {
            return Box::pin(async {}.into_actor(self));
        };
        self.busy = true;
        let partitions: Vec<(String, i32)> =
            self.pipeline.trackers().iter().map(|t| (t.topic.clone(), t.partition)).collect();
        let alias = self.flow.source.clone();
        Box::pin(
            async move {
                tokio::task::spawn_blocking(move || source_offsets(&alias, &consumer, &partitions, REQUEST_TIMEOUT)).await.map_err(|e| {
                    FerryError::Io { context: "reading source offsets".into(), source: std::io::Error::other(e) }
                })?
            }
            .into_actor(self)
            .map(|result, act, ctx| {
                act.busy = false;
                match result {
                    Ok(offsets) => {
                        for tracker in act.pipeline.trackers() {
                            if let Some(&(start, end)) = offsets.get(&(tracker.topic.clone(), tracker.partition)) {
                                tracker.set_source_offsets(start, end);
                            }
                        }
                        act.status.succeeded(Stage::SourceOffsets);
                    }
                    Err(error) => {
                        tracing::warn!(flow = %act.flow.name, %error, "cannot read the source's end offsets; lag not updated");
                        act.status.failed(Stage::SourceOffsets, &error);
                    }
                }
                act.set_gauges();
                act.review_problems(ctx);
            }),
        )
    }
}

impl FlowMonitor {
    /// Ends delivery problems of remote topics that copy again, and probes read access when a fetch
    /// loop saw a refusal or refused topics are due for a re-check.
    fn review_problems(&mut self, ctx: &mut Context<Self>) {
        let problems = Arc::clone(self.status.problems());
        let trackers = self.pipeline.trackers();
        for key in problems.keys(ProblemStage::Delivery) {
            let mine: Vec<_> = trackers.iter().filter(|t| key.topic.as_ref() == Some(&t.target_topic)).collect();
            let copying = mine.iter().all(|t| !t.is_failed())
                && mine.iter().any(|t| t.copied_records.load(Ordering::Relaxed) > 0);
            if mine.is_empty() || copying {
                problems.clear(&key);
            }
        }
        if self.probing {
            return;
        }
        let refused = self.pipeline.take_read_denied();
        let recheck = !problems.keys(ProblemStage::SourceRead).is_empty()
            && self.last_probe.is_none_or(|at| at.elapsed() >= READ_RECHECK);
        if !refused && !recheck {
            return;
        }
        let topics: Vec<String> =
            trackers.iter().map(|t| t.topic.clone()).collect::<std::collections::BTreeSet<_>>().into_iter().collect();
        self.probing = true;
        self.last_probe = Some(Instant::now());
        let (alias, props) = (self.flow.source.clone(), self.flow.source_consumer.clone());
        let probed = async move {
            tokio::task::spawn_blocking(move || read_access::probe(&alias, &props, &topics, REQUEST_TIMEOUT)).await
        };
        ctx.spawn(probed.into_actor(self).map(move |result, act, _| {
            act.probing = false;
            let source = &act.flow.source;
            match result {
                Ok(Ok(access)) => {
                    for topic in &access.denied {
                        problems.report(
                            ProblemKey::topic(ProblemStage::SourceRead, source, topic),
                            &"not authorized to read (TopicAuthorizationFailed)",
                            READ_HINT,
                        );
                    }
                    for topic in &access.readable {
                        problems.clear(&ProblemKey::topic(ProblemStage::SourceRead, source, topic));
                    }
                }
                Ok(Err(error)) => tracing::warn!(flow = %act.flow.name, %error, "read access probe failed"),
                Err(error) => tracing::warn!(flow = %act.flow.name, %error, "read access probe failed"),
            }
        }));
    }
}

impl FlowMonitor {
    /// Sets every gauge of the flow from the trackers.
    fn set_gauges(&self) {
        let labels = self.status.labels.labels();
        let trackers = self.pipeline.trackers();
        let starts_at_end = self.pipeline.starts_at_end();
        let now = now_ms();
        // Keyed by the series' labels: with the partition label off, partitions of a topic add up.
        let mut series: BTreeMap<Vec<Label>, (i64, Option<f64>)> = BTreeMap::new();
        let (mut flow_lag, mut paused, mut failed) = (0i64, 0usize, 0usize);
        for tracker in &trackers {
            let (log_start, end) = tracker.source_offsets();
            let next = next_offset(tracker.acked(), tracker.first_sent(), log_start, end, starts_at_end);
            let Some(lag) = lag_records(next, end) else { continue };
            let acked_ts = tracker.last_acked_timestamp();
            let seconds = match lag {
                0 => Some(0.0),
                _ => (acked_ts != NONE).then(|| age_seconds(now, acked_ts)),
            };
            let entry =
                series.entry(self.status.labels.partition_labels(&tracker.topic, tracker.partition)).or_default();
            entry.0 += lag;
            entry.1 = match (entry.1, seconds) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
            flow_lag += lag;
            paused += usize::from(tracker.paused.load(Ordering::Relaxed));
            failed += usize::from(tracker.is_failed());
        }
        for (partition_labels, (lag, seconds)) in series {
            metrics::gauge!(names::LAG_RECORDS, partition_labels.clone()).set(lag as f64);
            if let Some(seconds) = seconds {
                metrics::gauge!(names::LAG_SECONDS, partition_labels).set(seconds);
            }
        }
        metrics::gauge!(names::FLOW_LAG_RECORDS, labels.clone()).set(flow_lag as f64);
        metrics::gauge!(names::QUEUE_BATCHES, labels.clone()).set(self.pipeline.queued_batches() as f64);
        metrics::gauge!(names::BATCH_BUFFER_BYTES, labels.clone()).set(self.pipeline.batch_buffer_bytes() as f64);
        metrics::gauge!(names::PARTITIONS, labels.clone()).set(trackers.len() as f64);
        metrics::gauge!(names::PAUSED_PARTITIONS, labels.clone()).set(paused as f64);
        metrics::gauge!(names::FAILED_PARTITIONS, labels.clone()).set(failed as f64);
        let ready = self.status.not_ready().is_empty();
        metrics::gauge!(names::READY, labels).set(if ready { 1.0 } else { 0.0 });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_offset_follows_acks_then_start_points() {
        assert_eq!(next_offset(41, 0, 0, 100, false), Some(42), "after the last ack");
        assert_eq!(next_offset(41, 0, 50, 100, false), Some(50), "retention deleted uncopied records");
        assert_eq!(next_offset(NONE, 7, 0, 100, false), Some(7), "the first batch is in flight");
        assert_eq!(next_offset(NONE, NONE, 3, 100, false), Some(3), "from the beginning");
        assert_eq!(next_offset(NONE, NONE, 3, 100, true), Some(100), "auto.offset.reset=latest");
        assert_eq!(next_offset(NONE, NONE, NONE, NONE, false), None, "not polled yet");
    }

    #[test]
    fn lag_is_end_minus_next_and_never_negative() {
        assert_eq!(lag_records(Some(42), 100), Some(58));
        assert_eq!(lag_records(Some(100), 100), Some(0));
        assert_eq!(lag_records(Some(120), 100), Some(0), "copied past an older end offset");
        assert_eq!(lag_records(Some(1), NONE), None);
        assert_eq!(lag_records(None, 100), None);
    }
}
