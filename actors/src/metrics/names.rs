//! Metric names, kept together so docs/operations.md, the Grafana dashboard and the code agree.
//!
//! Conventions (Prometheus): `ferry_` prefix, counters end in `_total`, base units in the name
//! (`_seconds`, `_bytes`). Labels: `flow`, `source`, `target` on everything of a flow; `topic` (the
//! source topic) and `partition` on per-partition series (`partition` can be turned off with
//! `ferry.metrics.partition.labels=false`); histograms are per topic; `stage` on [`ERRORS`].
//! Process metrics (`process_cpu_seconds_total`, `process_resident_memory_bytes`, ...) keep their
//! standard names.

/// Counter: records copied (acknowledged by the target). MM2 `record-count`.
pub const COPIED_RECORDS: &str = "ferry_copied_records_total";
/// Counter: key + value bytes copied.
pub const COPIED_BYTES: &str = "ferry_copied_bytes_total";
/// Counter: value bytes copied. MM2 `byte-count`.
pub const COPIED_VALUE_BYTES: &str = "ferry_copied_value_bytes_total";
/// Histogram: record timestamp → target ack. MM2 `replication-latency-ms`.
pub const REPLICATION_LATENCY: &str = "ferry_replication_latency_seconds";
/// Histogram: now − record timestamp when a worker starts sending the batch. MM2 `record-age-ms`.
pub const RECORD_AGE: &str = "ferry_record_age_seconds";
/// Counter: records that failed delivery or were refused by the producer.
pub const PRODUCER_ERRORS: &str = "ferry_producer_errors_total";
/// Counter: sends retried by ferry (local queue full, transient errors).
pub const PRODUCER_RETRIES: &str = "ferry_producer_retries_total";
/// Gauge: per-partition lag in records.
pub const LAG_RECORDS: &str = "ferry_partition_lag_records";
/// Gauge: per-partition lag in time.
pub const LAG_SECONDS: &str = "ferry_partition_lag_seconds";
/// Gauge: per-flow lag in records.
pub const FLOW_LAG_RECORDS: &str = "ferry_flow_lag_records";
/// Gauge: batches queued for the producer workers.
pub const QUEUE_BATCHES: &str = "ferry_queue_batches";
/// Gauge: bytes of batch buffers in use, against the flow's `ferry.queue.max.bytes`.
pub const BATCH_BUFFER_BYTES: &str = "ferry_batch_buffer_bytes";
/// Gauge: partitions being copied.
pub const PARTITIONS: &str = "ferry_partitions";
/// Gauge: paused partitions (back-pressure).
pub const PAUSED_PARTITIONS: &str = "ferry_paused_partitions";
/// Gauge: partitions stopped by a delivery failure.
pub const FAILED_PARTITIONS: &str = "ferry_failed_partitions";
/// Counter: topics added by discovery.
pub const TOPICS_ADDED: &str = "ferry_discovery_topics_added_total";
/// Counter: partitions added by discovery.
pub const PARTITIONS_ADDED: &str = "ferry_discovery_partitions_added_total";
/// Counter: topics removed (gone from the source).
pub const TOPICS_REMOVED: &str = "ferry_discovery_topics_removed_total";
/// Counter: offset syncs written.
pub const OFFSET_SYNCS: &str = "ferry_offset_syncs_total";
/// Counter: checkpoints written.
pub const CHECKPOINTS: &str = "ferry_checkpoints_total";
/// Histogram: checkpoint timestamp → target ack. MM2 `checkpoint-latency-ms`.
pub const CHECKPOINT_LATENCY: &str = "ferry_checkpoint_latency_seconds";
/// Gauge: Unix time of the last successful progress commit.
pub const PROGRESS_COMMIT_TIME: &str = "ferry_last_progress_commit_timestamp_seconds";
/// Counter: control-path errors by `stage`.
pub const ERRORS: &str = "ferry_errors_total";
/// Gauge: flow readiness (1 ready, 0 not).
pub const READY: &str = "ferry_flow_ready";
