//! How many source consumers a flow reads with, and how much one fetch may carry per partition:
//! decided once when the flow starts, from `ferry.source.consumers` and, for `auto` (the default),
//! the measured round trip to the source.
//!
//! Over a distant link one connection carries at most its TCP window per round trip, and a consumer
//! keeps one fetch in flight per broker, of at most `max.partition.fetch.bytes` (librdkafka: 1 MiB)
//! per partition. So a distant source gets more consumers (each with its own connections) and
//! larger partition fetches; a near one keeps one consumer and librdkafka's defaults (more would
//! only cost memory). The rule itself is [`SourceConsumers::for_round_trip`] in the engine.

use std::time::Duration;

use ferry_engine::config::{SourceConsumers, DISTANT_PARTITION_FETCH_BYTES};
use ferry_engine::FlowConfig;
use rdkafka::ClientConfig;

use crate::kafka::admin::Admin;

/// Metadata requests timed to measure the round trip (the first, which may connect, is dropped).
const ROUND_TRIP_SAMPLES: usize = 4;

/// How long one of them may take: a source that does not answer by then counts as near, and the
/// flow starts without waiting longer.
const ROUND_TRIP_TIMEOUT: Duration = Duration::from_secs(2);

/// The source consumers of a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceSizing {
    /// Source consumers (and fetch loops).
    pub consumers: usize,
    /// `max.partition.fetch.bytes` for them, when ferry chose it.
    pub partition_fetch_bytes: Option<u64>,
}

impl SourceSizing {
    /// `consumers` consumers with librdkafka's fetch sizes (or the user's).
    pub fn fixed(consumers: usize) -> Self {
        Self { consumers: consumers.max(1), partition_fetch_bytes: None }
    }

    /// Decides for `flow`, measuring the round trip to its source through `source_admin` when
    /// `ferry.source.consumers` is `auto`, and logs the decision.
    pub async fn decide(flow: &FlowConfig, source_admin: &Admin) -> Self {
        let setting = flow.ferry.source_consumers;
        if let SourceConsumers::Fixed(n) = setting {
            return Self::fixed(n);
        }
        let round_trip = source_admin.round_trip(ROUND_TRIP_SAMPLES, ROUND_TRIP_TIMEOUT).await;
        let sizing = Self::for_round_trip(flow, round_trip);
        tracing::info!(
            flow = %flow.name,
            round_trip_ms = round_trip.map(|rtt| rtt.as_secs_f64() * 1000.0),
            source_consumers = sizing.consumers,
            partition_fetch_bytes = sizing.partition_fetch_bytes,
            "source consumers sized from the round trip to the source (ferry.source.consumers = auto)"
        );
        sizing
    }

    /// The `auto` decision for a measured round trip.
    fn for_round_trip(flow: &FlowConfig, round_trip: Option<Duration>) -> Self {
        let consumers = SourceConsumers::Auto.for_round_trip(round_trip);
        let user_set = ["max.partition.fetch.bytes", "fetch.message.max.bytes"]
            .iter()
            .any(|key| flow.source_consumer.props.contains_key(*key));
        let partition_fetch_bytes = (consumers > 1 && !user_set).then_some(DISTANT_PARTITION_FETCH_BYTES);
        Self { consumers, partition_fetch_bytes }
    }

    /// Applies the fetch size to one source consumer's configuration.
    pub fn apply(&self, config: &mut ClientConfig) {
        if let Some(bytes) = self.partition_fetch_bytes {
            config.set("max.partition.fetch.bytes", bytes.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow(pairs: &[(&str, &str)]) -> FlowConfig {
        let mut text = String::from(
            "clusters = a, b\na.bootstrap.servers = a:9092\nb.bootstrap.servers = b:9092\na->b.enabled = true\n",
        );
        for (k, v) in pairs {
            text.push_str(&format!("{k} = {v}\n"));
        }
        let config = ferry_engine::parse_str(&text).unwrap_or_else(|e| panic!("{e}"));
        config.flows.into_iter().next().expect("one flow")
    }

    #[test]
    fn a_distant_source_gets_more_consumers_and_larger_fetches_unless_set() {
        let ms = |n| Some(Duration::from_millis(n));
        let plain = flow(&[]);
        assert_eq!(SourceSizing::for_round_trip(&plain, ms(1)), SourceSizing::fixed(1));
        assert_eq!(SourceSizing::for_round_trip(&plain, None), SourceSizing::fixed(1));
        let far = SourceSizing::for_round_trip(&plain, ms(100));
        assert_eq!(far, SourceSizing { consumers: 8, partition_fetch_bytes: Some(4 << 20) });
        let own = flow(&[("a.consumer.max.partition.fetch.bytes", "2097152")]);
        assert_eq!(SourceSizing::for_round_trip(&own, ms(100)).partition_fetch_bytes, None);
        let mut config = ClientConfig::new();
        far.apply(&mut config);
        assert_eq!(config.get("max.partition.fetch.bytes"), Some("4194304"));
    }
}
