//! The JSON documents of the status API: `GET /status` ([`StatusReport`]) and `GET /readyz`
//! ([`Readiness`]), the shapes `docs/status-api.openapi.json` describes (field names are the contract:
//! `actors/tests/status_api.rs` fails when they drift), and [`rfc3339`] for their timestamps.

use serde::Serialize;

use super::problems::ProblemReport;
use super::Check;

/// `GET /status`.
#[derive(Debug, Serialize)]
pub struct StatusReport {
    /// Whether every flow is ready (as `/readyz`).
    pub ready: bool,
    /// When the process started (RFC 3339, UTC).
    pub started_at: String,
    /// Seconds since then.
    pub uptime_seconds: f64,
    /// One entry per enabled flow.
    pub flows: Vec<FlowReport>,
}

/// One flow in `/status`.
#[derive(Debug, Serialize)]
pub struct FlowReport {
    /// `source->target`.
    pub name: String,
    /// Source cluster alias.
    pub source: String,
    /// Target cluster alias.
    pub target: String,
    /// `starting`, `running` or `stopping`.
    pub state: &'static str,
    /// Connected and copying.
    pub ready: bool,
    /// Why not ready (empty when ready).
    pub not_ready: Vec<String>,
    /// Last outcome of the recurring checks.
    pub checks: Checks,
    /// Partitions being copied.
    pub partitions: usize,
    /// Partitions paused by back-pressure.
    pub paused_partitions: usize,
    /// Partitions stopped by a delivery failure.
    pub failed_partitions: usize,
    /// Records copied since each partition (re)started.
    pub copied_records: u64,
    /// Sum of the partition lags (`null` until every partition's end offset is known).
    pub lag_records: Option<i64>,
    /// Last successful progress commit (RFC 3339), `null` if none yet.
    pub last_progress_commit_at: Option<String>,
    /// The most recent error of the flow or one of its partitions.
    pub last_error: Option<ErrorReport>,
    /// Current problems of a cluster or topic (authentication, authorization), each with how often it
    /// happened; an entry goes away when the problem is over.
    pub errors: Vec<ProblemReport>,
    /// Partitions by source topic.
    pub topics: Vec<TopicReport>,
}

/// Last outcome of a flow's recurring checks.
#[derive(Debug, Serialize)]
pub struct Checks {
    /// Topic discovery (lists both clusters).
    pub discovery: Check,
    /// Progress commit to the target.
    pub progress: Check,
    /// The source's end offsets poll (lag).
    pub source_offsets: Check,
}

/// One source topic in `/status`.
#[derive(Debug, Serialize)]
pub struct TopicReport {
    /// Source topic.
    pub topic: String,
    /// Its name on the target.
    pub target_topic: String,
    /// Its partitions being copied.
    pub partitions: Vec<PartitionReport>,
}

/// One partition in `/status`.
#[derive(Debug, Serialize)]
pub struct PartitionReport {
    /// Partition number.
    pub partition: i32,
    /// `copying`, `paused` or `failed`.
    pub state: &'static str,
    /// Next source offset to copy, when known.
    pub next_offset: Option<i64>,
    /// Source end offset at the last poll.
    pub end_offset: Option<i64>,
    /// `end_offset - next_offset`, never negative.
    pub lag_records: Option<i64>,
    /// While lagging: age of the last acknowledged record; 0 when caught up.
    pub lag_seconds: Option<f64>,
    /// Records copied since the partition (re)started.
    pub copied_records: u64,
    /// The partition's last delivery failure.
    pub last_error: Option<ErrorReport>,
}

/// An error and when it happened.
#[derive(Debug, Serialize)]
pub struct ErrorReport {
    /// Where: `start`, `discovery`, `progress`, `source_offsets`, `checkpoints` or `delivery`.
    pub stage: String,
    /// The message.
    pub message: String,
    /// When (RFC 3339, UTC).
    pub at: String,
}

/// `GET /readyz`.
#[derive(Debug, Serialize)]
pub struct Readiness {
    /// Every flow connected and copying.
    pub ready: bool,
    /// Why not, one line per reason, prefixed with the flow.
    pub not_ready: Vec<String>,
}

/// Formats ms since the Unix epoch as RFC 3339 UTC with milliseconds (`2024-05-01T12:00:00.123Z`).
pub fn rfc3339(ms: i64) -> String {
    let (secs, millis) = (ms.div_euclid(1000), ms.rem_euclid(1000));
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_formats_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(951_782_400_123), "2000-02-29T00:00:00.123Z");
        assert_eq!(rfc3339(1_714_564_800_000), "2024-05-01T12:00:00.000Z");
    }
}
