//! The rdkafka client settings every in-process runner of the bench shares, and the producer context that
//! counts acknowledgements. (The clusters themselves and topic administration are the load test's
//! [`ferry_loadtest::rig`] and [`ferry_loadtest::admin`], shared by both tools.)
//!
//! # Layout
//! - [`producer_config`] / [`consumer_config`]: the same as ferry's own defaults (idempotent, `acks=all`,
//!   `linger.ms=5`; manual assignment, no commits).
//! - [`CountingContext`]: delivery reports counted, so a run whose records failed is not a result.

use std::sync::atomic::{AtomicU64, Ordering};

use rdkafka::client::ClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::message::DeliveryResult;
use rdkafka::producer::ProducerContext;

/// Producer settings shared by every in-process runner: ferry's target producer defaults.
pub fn producer_config(bootstrap: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", bootstrap)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "5")
        .set("partitioner", "murmur2_random");
    c
}

/// Consumer settings shared by every in-process runner: ferry's source consumer (manual assignment, no
/// commits, librdkafka's fetch defaults).
pub fn consumer_config(bootstrap: &str, group: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "false")
        .set("auto.offset.reset", "earliest");
    c
}

/// A producer context that counts delivery reports: a benchmark whose records failed is not a result.
#[derive(Default)]
pub struct CountingContext {
    /// Records acknowledged by the broker.
    pub delivered: AtomicU64,
    /// Records that failed for good.
    pub failed: AtomicU64,
}

impl ClientContext for CountingContext {}

impl ProducerContext for CountingContext {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(_) => self.delivered.fetch_add(1, Ordering::Relaxed),
            Err(_) => self.failed.fetch_add(1, Ordering::Relaxed),
        };
    }
}
