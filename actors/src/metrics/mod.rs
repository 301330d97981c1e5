//! ferry's Prometheus metrics: every name, unit, help text and label set in one place, the recorder,
//! and the pre-registered handles the data path bumps once per batch.
//!
//! Why handles: a `metrics::counter!` macro call looks its series up in the registry (a hash and a
//! lock-free map read, plus label allocations). The data path never does that per record: each
//! partition registers its handles once when it starts ([`PartitionMetrics::new`], control path), and
//! producer workers and delivery callbacks add a whole batch's figures to them when the batch completes
//! (one atomic add per counter per batch, one histogram sample per batch). Gauges that need a
//! computation (lag, queue depth, paused partitions) are set by each flow's
//! [`monitor`](crate::monitor) every few seconds.
//!
//! # Layout
//! - [`names`]: metric names (Prometheus conventions: `ferry_` prefix, `_total` counters, base units).
//! - [`install`]: installs the global recorder (histogram buckets, help texts) and returns the handle
//!   the HTTP server renders; [`describe`] registers help texts and units.
//! - [`FlowLabels`], [`PartitionMetrics`]: label sets and per-partition handles;
//!   `ferry.metrics.partition.labels=false` drops the `partition` label ([`set_partition_labels`]).
//! - [`age_seconds`]: the one time computation latency histograms use.

pub mod names;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use metrics::{Counter, Histogram, Label, Unit};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::error::FerryError;
use names::*;

/// Bucket upper bounds (seconds) of the latency histograms: 5 ms to 1 h. Replication over a LAN sits
/// in the low buckets; the high ones catch a backlog being copied (record age) or an outage.
pub const LATENCY_BUCKETS: &[f64] =
    &[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0];

/// Whether per-partition series carry a `partition` label (`ferry.metrics.partition.labels`).
static PARTITION_LABELS: AtomicBool = AtomicBool::new(true);

/// Sets whether per-partition series carry a `partition` label. Call before flows start: handles
/// registered earlier keep their labels.
pub fn set_partition_labels(enabled: bool) {
    PARTITION_LABELS.store(enabled, Ordering::Relaxed);
}

/// Installs the Prometheus recorder for the whole process and describes every metric.
///
/// # Errors
/// [`FerryError::Io`] when a recorder is already installed (the process can have one).
pub fn install() -> Result<PrometheusHandle, FerryError> {
    let builder = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
        .map_err(|e| FerryError::Io { context: "configuring metrics".into(), source: std::io::Error::other(e) })?;
    let handle = builder
        .install_recorder()
        .map_err(|e| FerryError::Io { context: "installing metrics".into(), source: std::io::Error::other(e) })?;
    describe();
    Ok(handle)
}

/// Registers the help text and unit of every ferry metric (process metrics describe themselves).
pub fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!(COPIED_RECORDS, Unit::Count, "Records copied: acknowledged by the target cluster.");
    describe_counter!(COPIED_BYTES, Unit::Bytes, "Key and value bytes of the records copied (headers excluded).");
    describe_counter!(
        COPIED_VALUE_BYTES,
        Unit::Bytes,
        "Value bytes of the records copied (MirrorMaker 2's byte-count counts values only)."
    );
    describe_histogram!(
        REPLICATION_LATENCY,
        Unit::Seconds,
        "Time from a record's timestamp to the target's acknowledgement; one sample per batch (its last record)."
    );
    describe_histogram!(
        RECORD_AGE,
        Unit::Seconds,
        "Age (now minus timestamp) of the oldest record of each batch when a producer worker starts sending it."
    );
    describe_counter!(PRODUCER_ERRORS, Unit::Count, "Records the target producer failed to deliver or refused.");
    describe_counter!(
        PRODUCER_RETRIES,
        Unit::Count,
        "Sends ferry retried because the producer's local queue was full or the error was transient."
    );
    describe_gauge!(
        LAG_RECORDS,
        Unit::Count,
        "Source end offset minus the next offset to copy, at the last poll of the source's end offsets."
    );
    describe_gauge!(
        LAG_SECONDS,
        Unit::Seconds,
        "While records are uncopied: now minus the timestamp of the last record the target acknowledged; 0 when caught up."
    );
    describe_gauge!(FLOW_LAG_RECORDS, Unit::Count, "Sum of the partition lags of a flow.");
    describe_gauge!(QUEUE_BATCHES, Unit::Count, "Batches waiting in the producer workers' bounded queues.");
    describe_gauge!(PARTITIONS, Unit::Count, "Source partitions being copied.");
    describe_gauge!(PAUSED_PARTITIONS, Unit::Count, "Partitions paused because their worker's queue is full.");
    describe_gauge!(FAILED_PARTITIONS, Unit::Count, "Partitions stopped by a delivery failure, waiting for restart.");
    describe_counter!(TOPICS_ADDED, Unit::Count, "Source topics discovery started copying.");
    describe_counter!(PARTITIONS_ADDED, Unit::Count, "Source partitions discovery started copying.");
    describe_counter!(TOPICS_REMOVED, Unit::Count, "Source topics that vanished and stopped being copied.");
    describe_counter!(OFFSET_SYNCS, Unit::Count, "Offset syncs written to the offset-syncs topic.");
    describe_counter!(CHECKPOINTS, Unit::Count, "Checkpoints written to the checkpoints topic.");
    describe_histogram!(
        CHECKPOINT_LATENCY,
        Unit::Seconds,
        "Time from a checkpoint's timestamp (its pass's start) to the target's acknowledgement."
    );
    describe_gauge!(
        PROGRESS_COMMIT_TIME,
        Unit::Seconds,
        "Unix time of the flow's last successful progress commit (offsets stored in the Connect offsets topic)."
    );
    describe_counter!(ERRORS, Unit::Count, "Control-path errors of a flow by stage (each is retried).");
    describe_gauge!(READY, Unit::Count, "1 when the flow is connected and copying (as /readyz), else 0.");
}

/// The labels every series of a flow carries: `flow` (`source->target`), `source`, `target`.
#[derive(Debug, Clone)]
pub struct FlowLabels {
    /// `source->target`.
    pub flow: String,
    /// Source cluster alias.
    pub source: String,
    /// Target cluster alias.
    pub target: String,
}

impl FlowLabels {
    /// The labels of flow `source->target`.
    pub fn new(source: &str, target: &str) -> Self {
        Self { flow: format!("{source}->{target}"), source: source.into(), target: target.into() }
    }

    /// The flow's labels.
    pub fn labels(&self) -> Vec<Label> {
        vec![
            Label::new("flow", self.flow.clone()),
            Label::new("source", self.source.clone()),
            Label::new("target", self.target.clone()),
        ]
    }

    /// The flow's labels plus `topic` (the source topic).
    pub fn topic_labels(&self, topic: &str) -> Vec<Label> {
        let mut labels = self.labels();
        labels.push(Label::new("topic", topic.to_string()));
        labels
    }

    /// The labels of a partition's series: flow, topic and, unless turned off, `partition`.
    pub fn partition_labels(&self, topic: &str, partition: i32) -> Vec<Label> {
        self.partition_labels_with(topic, partition, PARTITION_LABELS.load(Ordering::Relaxed))
    }

    /// The labels of a partition's series, with or without `partition`.
    pub fn partition_labels_with(&self, topic: &str, partition: i32, with_partition: bool) -> Vec<Label> {
        let mut labels = self.topic_labels(topic);
        if with_partition {
            labels.push(Label::new("partition", partition.to_string()));
        }
        labels
    }
}

/// The handles a partition's data path bumps, registered once when the partition starts. With no
/// recorder installed (`ferry.metrics.address=off`, tests, the demo) they do nothing.
#[derive(Debug)]
pub struct PartitionMetrics {
    /// [`names::COPIED_RECORDS`].
    pub records: Counter,
    /// [`names::COPIED_BYTES`].
    pub bytes: Counter,
    /// [`names::COPIED_VALUE_BYTES`].
    pub value_bytes: Counter,
    /// [`names::PRODUCER_ERRORS`].
    pub producer_errors: Counter,
    /// [`names::PRODUCER_RETRIES`].
    pub producer_retries: Counter,
    /// [`names::REPLICATION_LATENCY`] (per topic: histograms never carry the partition label).
    pub replication_latency: Histogram,
    /// [`names::RECORD_AGE`] (per topic).
    pub record_age: Histogram,
}

impl PartitionMetrics {
    /// Registers (or finds: a restarted partition continues its series) the handles of a partition.
    pub fn new(flow: &FlowLabels, topic: &str, partition: i32) -> Self {
        let labels = flow.partition_labels(topic, partition);
        let topic_labels = flow.topic_labels(topic);
        Self {
            records: metrics::counter!(COPIED_RECORDS, labels.clone()),
            bytes: metrics::counter!(COPIED_BYTES, labels.clone()),
            value_bytes: metrics::counter!(COPIED_VALUE_BYTES, labels.clone()),
            producer_errors: metrics::counter!(PRODUCER_ERRORS, labels.clone()),
            producer_retries: metrics::counter!(PRODUCER_RETRIES, labels.clone()),
            replication_latency: metrics::histogram!(REPLICATION_LATENCY, topic_labels.clone()),
            record_age: metrics::histogram!(RECORD_AGE, topic_labels.clone()),
        }
    }

    /// Handles that record nothing (unit tests).
    pub fn noop() -> Self {
        Self {
            records: Counter::noop(),
            bytes: Counter::noop(),
            value_bytes: Counter::noop(),
            producer_errors: Counter::noop(),
            producer_retries: Counter::noop(),
            replication_latency: Histogram::noop(),
            record_age: Histogram::noop(),
        }
    }
}

/// Milliseconds since the Unix epoch (0 if the clock is before it).
pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Seconds from `timestamp_ms` to `now_ms`, never negative (clocks of producers and ferry differ).
pub fn age_seconds(now_ms: i64, timestamp_ms: i64) -> f64 {
    (now_ms.saturating_sub(timestamp_ms)).max(0) as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_are_seconds_and_never_negative() {
        assert_eq!(age_seconds(10_500, 10_000), 0.5);
        assert_eq!(age_seconds(10_000, 12_000), 0.0, "a producer clock ahead of ferry's");
    }

    #[test]
    fn the_partition_label_can_be_dropped() {
        let flow = FlowLabels::new("a", "b");
        let with = flow.partition_labels("t", 3);
        assert_eq!(
            with.iter().map(|l| l.key()).collect::<Vec<_>>(),
            ["flow", "source", "target", "topic", "partition"]
        );
        assert_eq!(with[0].value(), "a->b");
        let without = flow.partition_labels_with("t", 3, false);
        assert_eq!(without.len(), 4);
    }

    #[test]
    fn handles_render_with_their_labels_and_buckets() {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
            .expect("buckets")
            .build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            describe();
            let m = PartitionMetrics::new(&FlowLabels::new("a", "b"), "orders", 2);
            m.records.increment(10);
            m.bytes.increment(300);
            m.replication_latency.record(0.02);
        });
        let text = handle.render();
        assert!(
            text.contains(
                r#"ferry_copied_records_total{flow="a->b",source="a",target="b",topic="orders",partition="2"} 10"#
            ),
            "{text}"
        );
        assert!(text.contains("# TYPE ferry_replication_latency_seconds histogram"), "{text}");
        assert!(text.contains(r#"ferry_replication_latency_seconds_bucket{flow="a->b",source="a",target="b",topic="orders",le="0.025"} 1"#), "{text}");
    }
}
