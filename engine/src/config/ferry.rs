//! ferry-only tuning keys (`ferry.*`, global or flow-prefixed `A->B.ferry.*`).
//!
//! These size ferry's data path: how many producer workers write to the target, how deep their
//! bounded queues are, how records are batched, and how long shutdown may take. MM2 has no
//! equivalent, so they live under their own prefix and are ignored by MM2 if the file is reused.

use super::error::ConfigError;
use super::scope::FlowScope;
use super::values::{parse_bool, parse_int};
use std::collections::BTreeMap;
use std::time::Duration;

/// ferry data-path tuning for one flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FerrySettings {
    /// `ferry.producer.workers`: producer worker threads writing to the target. Default 2, min 1.
    pub producer_workers: usize,
    /// `ferry.queue.batches`: capacity of each worker's bounded queue, in batches. Default 64,
    /// min 1. Bounds memory: at most `producer_workers × queue_batches × batch_max_bytes` queued.
    pub queue_batches: usize,
    /// `ferry.queue.max.bytes`: memory the flow may hold in record batches (being filled, held, queued
    /// for a worker or kept for reuse), counted by buffer capacity. Above it the fetch loops stop taking
    /// records from the source consumers until workers have sent batches. Default 16777216 (16 MiB),
    /// min 1.
    pub queue_max_bytes: usize,
    /// `ferry.batch.max.records`: records per batch handed to a worker. Default 2000, min 1.
    pub batch_max_records: usize,
    /// `ferry.batch.max.bytes`: key+value bytes per batch. Default 1048576 (1 MiB), min 1.
    pub batch_max_bytes: usize,
    /// `ferry.shutdown.timeout.ms`: how long shutdown waits for in-flight deliveries and the final
    /// offset flush, in milliseconds. Default 8000.
    pub shutdown_timeout: Duration,
    /// `ferry.source.consumers`: source consumers (and fetch loops) per flow, each with its own
    /// connections to the source brokers; partitions are spread over them. Default `auto` (sized from
    /// the round trip to the source, see [`SourceConsumers`]), or a number (min 1). More help over
    /// high-latency links, where one connection's TCP window caps throughput.
    pub source_consumers: SourceConsumers,
    /// `ferry.offset.index.prune.interval.ms`: how often the translation index and its journal topic
    /// drop what the source's retention deleted, in milliseconds. Default 300000 (5 minutes), min 1.
    pub index_prune_interval: Duration,
    /// `ferry.group.enabled`: instances started with the same file share the flow's source partitions
    /// through a consumer group on the source cluster (cooperative-sticky). Default true.
    pub group_enabled: bool,
    /// `ferry.group.id`: that group's id. Default `ferry.<source>-><target>`.
    pub group_id: String,
    /// `ferry.group.session.timeout.ms`: how long a silent instance keeps its partitions before the
    /// others take them over, in milliseconds. Default 6000 (the brokers' minimum by default), min 1.
    pub group_session_timeout: Duration,
}

/// How many source consumers a flow reads with (`ferry.source.consumers`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceConsumers {
    /// Sized at start from the measured round trip to the source: one for a near source, more for a
    /// distant one ([`SourceConsumers::for_round_trip`]).
    Auto,
    /// This many (at least 1).
    Fixed(usize),
}

/// A source whose round trip is shorter than this is near: one consumer carries it.
const NEAR_SOURCE_ROUND_TRIP: Duration = Duration::from_millis(20);

/// The most consumers `auto` gives a flow (each one holds its own connections and buffers).
const MAX_AUTO_SOURCE_CONSUMERS: usize = 8;

/// `auto` adds one consumer per this much round trip (100 ms: 8).
const ROUND_TRIP_PER_AUTO_CONSUMER: Duration = Duration::from_micros(12_500);

/// Per-partition fetch size (`max.partition.fetch.bytes`) `auto` gives the consumers of a distant
/// source unless the user set one: a fetch carries more than librdkafka's 1 MiB per round trip.
pub const DISTANT_PARTITION_FETCH_BYTES: u64 = 4 << 20;

impl SourceConsumers {
    /// The number of consumers for a source at `round_trip` (`None`: not measured, which counts as
    /// near): a fixed number as it is; `auto` gives 1 below [`NEAR_SOURCE_ROUND_TRIP`], else one per
    /// 12.5 ms of round trip, at least 2 and at most [`MAX_AUTO_SOURCE_CONSUMERS`].
    pub fn for_round_trip(self, round_trip: Option<Duration>) -> usize {
        match (self, round_trip) {
            (Self::Fixed(n), _) => n.max(1),
            (Self::Auto, Some(rtt)) if rtt >= NEAR_SOURCE_ROUND_TRIP => {
                let per = ROUND_TRIP_PER_AUTO_CONSUMER.as_micros();
                let wanted = rtt.as_micros().div_ceil(per);
                usize::try_from(wanted).unwrap_or(usize::MAX).clamp(2, MAX_AUTO_SOURCE_CONSUMERS)
            }
            (Self::Auto, _) => 1,
        }
    }
}

impl std::fmt::Display for SourceConsumers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Auto => f.write_str("auto"),
            Self::Fixed(n) => write!(f, "{n}"),
        }
    }
}

impl Default for FerrySettings {
    fn default() -> Self {
        Self {
            producer_workers: 2,
            queue_batches: 64,
            queue_max_bytes: 16 << 20,
            batch_max_records: 2000,
            batch_max_bytes: 1_048_576,
            shutdown_timeout: Duration::from_millis(8000),
            source_consumers: SourceConsumers::Auto,
            index_prune_interval: Duration::from_millis(300_000),
            group_enabled: true,
            group_id: String::new(), // set per flow by `resolve`
            group_session_timeout: Duration::from_millis(6000),
        }
    }
}

/// The default `ferry.group.id` of the flow `source->target`.
pub fn default_group_id(source: &str, target: &str) -> String {
    format!("ferry.{source}->{target}")
}

impl FerrySettings {
    /// Resolves the `ferry.*` keys for a flow (flow prefix > top level > default).
    ///
    /// # Errors
    ///
    /// A non-numeric or too small value, naming the key.
    pub(crate) fn resolve(scope: &FlowScope<'_>) -> Result<Self, ConfigError> {
        let d = Self::default();
        let size = |name: &str, default: usize| -> Result<usize, ConfigError> {
            scope.connector(name).map_or(Ok(default), |f| parse_int::<usize>(f.key, f.value, 1))
        };
        let shutdown_ms =
            scope.connector("ferry.shutdown.timeout.ms").map_or(Ok(8000), |f| parse_int::<u64>(f.key, f.value, 0))?;
        let prune_ms = scope
            .connector("ferry.offset.index.prune.interval.ms")
            .map_or(Ok(300_000), |f| parse_int::<u64>(f.key, f.value, 1))?;
        let group_enabled = scope.connector("ferry.group.enabled").map_or(Ok(true), |f| parse_bool(f.key, f.value))?;
        let group_id = match scope.connector("ferry.group.id") {
            Some(f) if f.value.trim().is_empty() => {
                return Err(ConfigError::new(f.key, "must not be empty".to_string()));
            }
            Some(f) => f.value.trim().to_string(),
            None => default_group_id(scope.source(), scope.target()),
        };
        let session_ms = scope
            .connector("ferry.group.session.timeout.ms")
            .map_or(Ok(6000), |f| parse_int::<u64>(f.key, f.value, 1))?;
        Ok(Self {
            producer_workers: size("ferry.producer.workers", d.producer_workers)?,
            queue_batches: size("ferry.queue.batches", d.queue_batches)?,
            queue_max_bytes: size("ferry.queue.max.bytes", d.queue_max_bytes)?,
            batch_max_records: size("ferry.batch.max.records", d.batch_max_records)?,
            batch_max_bytes: size("ferry.batch.max.bytes", d.batch_max_bytes)?,
            shutdown_timeout: Duration::from_millis(shutdown_ms),
            source_consumers: match scope.connector("ferry.source.consumers") {
                Some(f) if f.value.trim().eq_ignore_ascii_case("auto") => SourceConsumers::Auto,
                Some(f) => SourceConsumers::Fixed(
                    parse_int::<usize>(f.key, f.value, 1)
                        .map_err(|e| ConfigError::new(f.key, format!("{}, or `auto`", e.problem)))?,
                ),
                None => d.source_consumers,
            },
            index_prune_interval: Duration::from_millis(prune_ms),
            group_enabled,
            group_id,
            group_session_timeout: Duration::from_millis(session_ms),
        })
    }

    /// The resolved values as `key → value` (for `ferry check`).
    pub fn as_settings(&self) -> BTreeMap<String, String> {
        [
            ("ferry.producer.workers", self.producer_workers.to_string()),
            ("ferry.queue.batches", self.queue_batches.to_string()),
            ("ferry.queue.max.bytes", self.queue_max_bytes.to_string()),
            ("ferry.batch.max.records", self.batch_max_records.to_string()),
            ("ferry.batch.max.bytes", self.batch_max_bytes.to_string()),
            ("ferry.shutdown.timeout.ms", self.shutdown_timeout.as_millis().to_string()),
            ("ferry.source.consumers", self.source_consumers.to_string()),
            ("ferry.offset.index.prune.interval.ms", self.index_prune_interval.as_millis().to_string()),
            ("ferry.group.enabled", self.group_enabled.to_string()),
            ("ferry.group.id", self.group_id.clone()),
            ("ferry.group.session.timeout.ms", self.group_session_timeout.as_millis().to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::raw;

    #[test]
    fn defaults_and_overrides() {
        let r = raw(&[]);
        let defaults = FerrySettings { group_id: default_group_id("a", "b"), ..FerrySettings::default() };
        assert_eq!(FerrySettings::resolve(&FlowScope::new(&r, "a", "b")).expect("ok"), defaults);
        let r = raw(&[
            ("ferry.producer.workers", "4"),
            ("a->b.ferry.producer.workers", "8"),
            ("ferry.shutdown.timeout.ms", "0"),
        ]);
        let s = FerrySettings::resolve(&FlowScope::new(&r, "a", "b")).expect("ok");
        assert_eq!(s.producer_workers, 8);
        assert_eq!(s.shutdown_timeout, Duration::ZERO);
        let s = FerrySettings::resolve(&FlowScope::new(&r, "b", "a")).expect("ok");
        assert_eq!(s.producer_workers, 4);
    }

    #[test]
    fn group_settings_default_per_flow_and_can_be_turned_off() {
        let r = raw(&[]);
        let s = FerrySettings::resolve(&FlowScope::new(&r, "a", "b")).expect("ok");
        assert!(s.group_enabled);
        assert_eq!(s.group_id, "ferry.a->b");
        assert_eq!(s.group_session_timeout, Duration::from_millis(6000));
        let r = raw(&[("ferry.group.enabled", "false"), ("a->b.ferry.group.id", "mine")]);
        let s = FerrySettings::resolve(&FlowScope::new(&r, "a", "b")).expect("ok");
        assert!(!s.group_enabled);
        assert_eq!(s.group_id, "mine");
        let r = raw(&[("ferry.group.enabled", "maybe")]);
        let e = FerrySettings::resolve(&FlowScope::new(&r, "a", "b")).expect_err("not a boolean");
        assert_eq!(e.key, "ferry.group.enabled");
        let r = raw(&[("ferry.group.id", " ")]);
        let e = FerrySettings::resolve(&FlowScope::new(&r, "a", "b")).expect_err("empty");
        assert_eq!(e.key, "ferry.group.id");
    }

    #[test]
    fn source_consumers_are_auto_by_default_or_a_number() {
        let resolve = |pairs: &[(&str, &str)]| FerrySettings::resolve(&FlowScope::new(&raw(pairs), "a", "b"));
        assert_eq!(resolve(&[]).expect("ok").source_consumers, SourceConsumers::Auto);
        assert_eq!(resolve(&[("ferry.source.consumers", "AUTO")]).expect("ok").source_consumers, SourceConsumers::Auto);
        let fixed = resolve(&[("a->b.ferry.source.consumers", "4")]).expect("ok");
        assert_eq!(fixed.source_consumers, SourceConsumers::Fixed(4));
        assert_eq!(fixed.as_settings().get("ferry.source.consumers").map(String::as_str), Some("4"));
        let e = resolve(&[("ferry.source.consumers", "0")]).expect_err("zero");
        assert_eq!(e.key, "ferry.source.consumers");
        assert!(e.problem.contains("`auto`"), "{}", e.problem);
    }

    #[test]
    fn auto_sizes_the_source_consumers_from_the_round_trip() {
        let ms = |n| Some(Duration::from_millis(n));
        let auto = SourceConsumers::Auto;
        assert_eq!(auto.for_round_trip(None), 1);
        assert_eq!(auto.for_round_trip(ms(1)), 1);
        assert_eq!(auto.for_round_trip(ms(19)), 1);
        assert_eq!(auto.for_round_trip(ms(20)), 2);
        assert_eq!(auto.for_round_trip(ms(50)), 4);
        assert_eq!(auto.for_round_trip(ms(100)), 8);
        assert_eq!(auto.for_round_trip(ms(300)), MAX_AUTO_SOURCE_CONSUMERS);
        assert_eq!(SourceConsumers::Fixed(3).for_round_trip(ms(100)), 3);
        assert_eq!(SourceConsumers::Fixed(0).for_round_trip(None), 1);
    }

    #[test]
    fn bad_values_name_the_key() {
        let r = raw(&[("a->b.ferry.queue.batches", "0")]);
        let e = FerrySettings::resolve(&FlowScope::new(&r, "a", "b")).expect_err("zero");
        assert_eq!(e.key, "a->b.ferry.queue.batches");
        let r = raw(&[("ferry.batch.max.bytes", "1MB")]);
        let e = FerrySettings::resolve(&FlowScope::new(&r, "a", "b")).expect_err("text");
        assert_eq!(e.key, "ferry.batch.max.bytes");
    }
}
