//! Workloads (record size × partition count × record count) and the fast producer loop that writes them.
//!
//! # Layout
//! - [`Workload`]: what one backlog measurement copies; its records are spread evenly over the partitions
//!   so every partition's expected end offset is known.
//! - [`Limits`]: how long one backlog measurement may take, and whether it stops early (WAN mode).
//! - [`Payloads`]: incompressible record values cut from one pseudo-random buffer (no allocation per record).
//! - [`produce`]: writes a workload to a topic as fast as librdkafka takes it, and checks every record was
//!   acknowledged.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use serde::Serialize;

use crate::clients::CountingContext;

/// Bytes of every record key (the record's index, big-endian).
pub const KEY_BYTES: u64 = 8;

/// One backlog workload.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Workload {
    /// Size of each record value in bytes (keys add [`KEY_BYTES`]).
    pub record_bytes: usize,
    /// Partitions of the source and target topics.
    pub partitions: i32,
    /// Records copied; a multiple of `partitions`.
    pub records: u64,
}

impl Workload {
    /// A workload of about `budget_bytes` of keys and values, at most `max_records` records, rounded down to
    /// a multiple of the partition count.
    pub fn sized(record_bytes: usize, partitions: i32, budget_bytes: u64, max_records: u64) -> Workload {
        let per_record = record_bytes as u64 + KEY_BYTES;
        let p = partitions.max(1) as u64;
        let records = (budget_bytes / per_record).min(max_records).max(p);
        Workload { record_bytes, partitions, records: records / p * p }
    }

    /// Human label, e.g. `1 KiB × 16 p`.
    #[allow(clippy::manual_is_multiple_of)] // is_multiple_of needs Rust 1.87; the MSRV is 1.80
    pub fn label(&self) -> String {
        let size = if self.record_bytes % 1024 == 0 {
            format!("{} KiB", self.record_bytes / 1024)
        } else {
            format!("{} B", self.record_bytes)
        };
        format!("{size} × {} p", self.partitions)
    }

    /// Key and value bytes of all records.
    pub fn bytes(&self) -> u64 {
        self.records * (self.record_bytes as u64 + KEY_BYTES)
    }
}

/// How long one backlog measurement may take.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// From the start of the runner (process start for ferry and MM2) to the last record: a runner still
    /// copying then has failed.
    pub timeout: Duration,
    /// Stop this long after the first copied record and report the rate so far (WAN mode, where a slow
    /// runner would take many minutes); `None`: copy everything.
    pub cap: Option<Duration>,
}

impl Limits {
    /// Whether a runner whose first record came at `first` has reached the cap.
    pub fn capped(&self, first: Option<Instant>) -> bool {
        matches!((self.cap, first), (Some(cap), Some(first)) if first.elapsed() >= cap)
    }
}

/// Record values: slices of a pseudo-random buffer, so they do not compress and cost nothing to make.
pub struct Payloads {
    buf: Vec<u8>,
    size: usize,
}

/// Bytes of pseudo-random data the values are cut from (beyond the value size).
const SPREAD: usize = 64 * 1024;

impl Payloads {
    /// Values of `size` bytes.
    pub fn new(size: usize) -> Payloads {
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let buf = (0..size + SPREAD)
            .map(|_| {
                // xorshift64
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 24) as u8
            })
            .collect();
        Payloads { buf, size }
    }

    /// The value of record `i`.
    pub fn get(&self, i: u64) -> &[u8] {
        let start = (i.wrapping_mul(7919) as usize) % SPREAD;
        &self.buf[start..start + self.size]
    }
}

/// Sends one record, waiting (and serving delivery reports) while librdkafka's queue is full.
///
/// # Errors
/// Any produce error other than a full queue.
pub fn send_blocking(producer: &BaseProducer<CountingContext>, record: BaseRecord<'_, [u8], [u8]>) -> Result<()> {
    let mut record = record;
    loop {
        match producer.send(record) {
            Ok(()) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                record = back;
                producer.poll(Duration::from_millis(5));
            }
            Err((e, back)) => bail!("producing to {}: {e}", back.topic),
        }
    }
}

/// Writes `workload` to `topic` (record `i` to partition `i % partitions`, key = `i`), flushes, and returns the
/// time from the first send to the last acknowledgement.
///
/// # Errors
/// On a produce error, an unacknowledged record, or an interruption.
pub fn produce(producer: &BaseProducer<CountingContext>, topic: &str, workload: &Workload) -> Result<Duration> {
    produce_laid_out(producer, topic, workload, false)
}

/// [`produce`], or with `contiguous` the first `records / partitions` records to partition 0, the next to
/// partition 1, and so on: the same end offsets, but full batches when there are many partitions (round
/// robin over 1,000 partitions makes batches of a record or two and a slow preload).
///
/// # Errors
/// As [`produce`].
pub fn produce_laid_out(
    producer: &BaseProducer<CountingContext>,
    topic: &str,
    workload: &Workload,
    contiguous: bool,
) -> Result<Duration> {
    let per_partition = (workload.records / workload.partitions.max(1) as u64).max(1);
    let payloads = Payloads::new(workload.record_bytes);
    let ctx = producer.context();
    let (ok0, failed0) = (ctx.delivered.load(Ordering::Relaxed), ctx.failed.load(Ordering::Relaxed));
    let started = Instant::now();
    for i in 0..workload.records {
        let key = i.to_be_bytes();
        let partition = if contiguous { i / per_partition } else { i % workload.partitions as u64 } as i32;
        let record = BaseRecord::to(topic).partition(partition).key(&key[..]).payload(payloads.get(i));
        send_blocking(producer, record)?;
        if i % 1024 == 0 {
            producer.poll(Duration::ZERO);
            crate::check_interrupted()?;
        }
    }
    producer.flush(Duration::from_secs(120))?;
    let elapsed = started.elapsed();
    let ok = ctx.delivered.load(Ordering::Relaxed) - ok0;
    let failed = ctx.failed.load(Ordering::Relaxed) - failed0;
    if failed > 0 || ok != workload.records {
        bail!("{ok} of {} records acknowledged, {failed} failed", workload.records);
    }
    Ok(elapsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workloads_split_evenly() {
        let w = Workload::sized(1024, 16, 64 << 20, 1_000_000);
        assert_eq!(w.records % 16, 0);
        assert!(w.bytes() <= 64 << 20);
        assert_eq!(w.label(), "1 KiB × 16 p");
        assert_eq!(Workload::sized(100, 1, 1 << 30, 1000).records, 1000);
    }

    #[test]
    fn payloads_have_the_right_size() {
        let p = Payloads::new(100);
        assert_eq!(p.get(0).len(), 100);
        assert_eq!(p.get(u64::MAX).len(), 100);
        assert_ne!(p.get(1), p.get(2));
    }
}
