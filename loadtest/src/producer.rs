//! The load: records carrying (partition, sequence number) written to the source at a steady rate.
//!
//! Record `i` goes to partition `i % partitions` with sequence number `i / partitions`, so every partition
//! sees 0, 1, 2, … The producer (a `ThreadedProducer`, whose own thread serves delivery reports) is idempotent with `acks=all` and a 10-minute delivery timeout, so broker
//! outages delay records rather than lose or reorder them; a fatal producer error recreates the producer
//! (its unsent records become gaps the verifier ignores, since it checks against what the source holds).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use rdkafka::client::ClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::DeliveryResult;
use rdkafka::producer::{BaseRecord, Producer, ProducerContext, ThreadedProducer};

use crate::verify;

/// Counters shared with the rest of the load test.
#[derive(Default, Debug)]
pub struct Stats {
    /// Records handed to the producer.
    pub sent: AtomicU64,
    /// Records the source acknowledged.
    pub acked: AtomicU64,
    /// Records that failed for good.
    pub failed: AtomicU64,
    /// Times the producer was recreated after a fatal error.
    pub recreated: AtomicU64,
    /// The last delivery or produce error.
    pub last_error: Mutex<Option<String>>,
}

/// Counts delivery reports into [`Stats`].
struct Ctx(Arc<Stats>);

impl ClientContext for Ctx {}

impl ProducerContext for Ctx {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(_) => {
                self.0.acked.fetch_add(1, Ordering::Relaxed);
            }
            Err((e, _)) => {
                self.0.failed.fetch_add(1, Ordering::Relaxed);
                if let Ok(mut last) = self.0.last_error.lock() {
                    *last = Some(e.to_string());
                }
            }
        }
    }
}

fn create(bootstrap: &str, stats: &Arc<Stats>) -> Result<ThreadedProducer<Ctx>> {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "5")
        .set("message.timeout.ms", "600000")
        .set("queue.buffering.max.messages", "2000000")
        .create_with_context(Ctx(stats.clone()))
        .context("creating the load producer")
}

/// What to produce.
pub struct Load {
    /// Source bootstrap servers.
    pub bootstrap: String,
    /// Source topic.
    pub topic: String,
    /// Its partitions.
    pub partitions: i32,
    /// Records per second, all partitions together.
    pub rate: f64,
    /// How long.
    pub duration: Duration,
    /// Value size in bytes (at least [`verify::HEADER_BYTES`]).
    pub record_bytes: usize,
}

/// Produces `load` until its duration ends or `stop` is set, then flushes (up to 10 minutes, since a broker
/// may just have come back). Blocks the calling thread.
///
/// # Errors
/// When the producer cannot be created.
pub fn run(load: &Load, stop: &AtomicBool, stats: &Arc<Stats>) -> Result<()> {
    let mut producer = create(&load.bootstrap, stats)?;
    let mut value = vec![b'.'; load.record_bytes.max(verify::HEADER_BYTES)];
    let started = Instant::now();
    let mut i = 0u64;
    while started.elapsed() < load.duration && !stop.load(Ordering::Relaxed) {
        let due = (started.elapsed().as_secs_f64() * load.rate) as u64;
        while i < due && !stop.load(Ordering::Relaxed) {
            let partition = (i % load.partitions as u64) as i32;
            verify::encode(&mut value, partition, i / load.partitions as u64);
            let record: BaseRecord<'_, (), [u8]> = BaseRecord::to(&load.topic).partition(partition).payload(&value[..]);
            match producer.send(record) {
                Ok(()) => {
                    i += 1;
                    stats.sent.fetch_add(1, Ordering::Relaxed);
                }
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err((e, _)) => {
                    // the record is skipped: a gap in the source, not a loss by ferry
                    i += 1;
                    stats.failed.fetch_add(1, Ordering::Relaxed);
                    if let Ok(mut last) = stats.last_error.lock() {
                        *last = Some(e.to_string());
                    }
                }
            }
        }
        if producer.client().fatal_error().is_some() {
            let _ = producer.flush(Duration::from_secs(1));
            producer = create(&load.bootstrap, stats)?;
            stats.recreated.fetch_add(1, Ordering::Relaxed);
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let _ = producer.flush(Duration::from_secs(600));
    Ok(())
}
