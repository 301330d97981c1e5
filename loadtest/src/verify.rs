//! The verifier: what the source holds is the truth; the target must hold every one of those records, in
//! the same partition, in order.
//!
//! # Layout
//! - [`encode`] / [`decode`]: the record value, `FLT1` + partition (u32) + sequence number (u64), padded.
//! - [`PartitionCheck`]: per partition of the target, which sequence numbers arrived, duplicates, and
//!   records out of order. At-least-once allows re-copying a suffix after a crash (0..100, 80..200: 21
//!   duplicates, nothing out of order); a record never seen before that arrives after a higher sequence
//!   number is out of order (an earlier record was skipped and came later, or never).
//! - [`TargetCheck`]: all partitions, plus records in the wrong partition (`misplaced`) and records that
//!   are not the load test's (`foreign`).
//! - [`read_source`]: the source topic from the start to its end offsets.
//! - [`Verifier`]: a thread reading the target topic from the start for the whole test.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use serde::Serialize;

use crate::admin::wait_leaders;

/// The first bytes of every load-test value.
pub const MAGIC: &[u8; 4] = b"FLT1";
/// Magic + partition + sequence number.
pub const HEADER_BYTES: usize = 16;

/// Writes the header into `value` (at least [`HEADER_BYTES`] long).
pub fn encode(value: &mut [u8], partition: i32, seq: u64) {
    value[..4].copy_from_slice(MAGIC);
    value[4..8].copy_from_slice(&(partition as u32).to_be_bytes());
    value[8..16].copy_from_slice(&seq.to_be_bytes());
}

/// Reads (partition, sequence number) from a load-test value.
pub fn decode(value: &[u8]) -> Option<(i32, u64)> {
    if value.len() < HEADER_BYTES || &value[..4] != MAGIC {
        return None;
    }
    let partition = u32::from_be_bytes(value[4..8].try_into().ok()?) as i32;
    let seq = u64::from_be_bytes(value[8..16].try_into().ok()?);
    Some((partition, seq))
}

/// What arrived in one target partition.
#[derive(Clone, Debug, Default)]
pub struct PartitionCheck {
    /// How often each sequence number arrived (saturating).
    seen: Vec<u8>,
    /// Highest sequence number so far.
    max: Option<u64>,
    /// Records read.
    pub records: u64,
    /// Records that had arrived before.
    pub duplicates: u64,
    /// New records that arrived after a higher sequence number.
    pub out_of_order: u64,
    /// Up to 10 (previous max, record) pairs of out-of-order arrivals.
    pub out_of_order_examples: Vec<(u64, u64)>,
}

impl PartitionCheck {
    /// Records the arrival of `seq`.
    pub fn observe(&mut self, seq: u64) {
        self.records += 1;
        let idx = seq as usize;
        if self.seen.len() <= idx {
            self.seen.resize(idx + 1, 0);
        }
        if self.seen[idx] > 0 {
            self.duplicates += 1;
        } else if self.max.is_some_and(|m| seq < m) {
            self.out_of_order += 1;
            if self.out_of_order_examples.len() < 10 {
                self.out_of_order_examples.push((self.max.unwrap_or_default(), seq));
            }
        }
        self.seen[idx] = self.seen[idx].saturating_add(1);
        self.max = Some(self.max.map_or(seq, |m| m.max(seq)));
    }

    /// Whether `seq` arrived.
    pub fn has(&self, seq: u64) -> bool {
        self.seen.get(seq as usize).is_some_and(|c| *c > 0)
    }
}

/// What arrived in the target topic.
#[derive(Clone, Debug, Default)]
pub struct TargetCheck {
    /// Per partition.
    pub partitions: Vec<PartitionCheck>,
    /// Records whose embedded partition is not the one they are in.
    pub misplaced: u64,
    /// Records that are not load-test records.
    pub foreign: u64,
}

impl TargetCheck {
    /// A check of `partitions` partitions.
    pub fn new(partitions: i32) -> TargetCheck {
        TargetCheck { partitions: vec![PartitionCheck::default(); partitions as usize], misplaced: 0, foreign: 0 }
    }

    /// Records one target record.
    pub fn observe(&mut self, partition: i32, value: Option<&[u8]>) {
        match value.and_then(decode) {
            None => self.foreign += 1,
            Some((p, _)) if p != partition => self.misplaced += 1,
            Some((p, seq)) => match self.partitions.get_mut(p as usize) {
                Some(check) => check.observe(seq),
                None => self.misplaced += 1,
            },
        }
    }

    /// Records read in total.
    pub fn records(&self) -> u64 {
        self.partitions.iter().map(|p| p.records).sum::<u64>() + self.misplaced + self.foreign
    }
}

/// The source topic's content: sequence numbers per partition in offset order.
#[derive(Clone, Debug, Default, Serialize)]
pub struct SourceTruth {
    /// Sequence numbers per partition.
    #[serde(skip)]
    pub seqs: Vec<Vec<u64>>,
    /// Records in the source.
    pub records: u64,
    /// Source records whose sequence number is not above the previous one (should be 0: the producer is
    /// idempotent).
    pub out_of_order: u64,
    /// Source records that are not load-test records.
    pub foreign: u64,
}

/// The records lost: in the source, never seen in the target. Returns the count and up to 20 examples.
pub fn missing(truth: &SourceTruth, target: &TargetCheck) -> (u64, Vec<(i32, u64)>) {
    let mut count = 0;
    let mut examples = Vec::new();
    for (p, seqs) in truth.seqs.iter().enumerate() {
        let check = target.partitions.get(p);
        for &seq in seqs {
            if !check.is_some_and(|c| c.has(seq)) {
                count += 1;
                if examples.len() < 20 {
                    examples.push((p as i32, seq));
                }
            }
        }
    }
    (count, examples)
}

fn consumer(bootstrap: &str, group: &str) -> Result<BaseConsumer> {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        .set("fetch.wait.max.ms", "100")
        .create()
        .context("creating a verifier consumer")
}

fn assign_from_start(consumer: &BaseConsumer, topic: &str, partitions: i32) -> Result<()> {
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition_offset(topic, p, Offset::Beginning)?;
    }
    consumer.assign(&tpl)?;
    Ok(())
}

/// Reads `topic` on the source from the beginning up to its end offsets at the time of the call.
///
/// # Errors
/// When the end offsets cannot be read or the records are not all read within `timeout`.
pub fn read_source(bootstrap: &str, topic: &str, partitions: i32, timeout: Duration) -> Result<SourceTruth> {
    let consumer = consumer(bootstrap, "ferry-loadtest-source")?;
    let mut ends = Vec::new();
    for p in 0..partitions {
        let (_, high) = consumer
            .fetch_watermarks(topic, p, Duration::from_secs(30))
            .with_context(|| format!("end offset of {topic}/{p} on the source"))?;
        ends.push(high);
    }
    assign_from_start(&consumer, topic, partitions)?;
    let mut truth = SourceTruth { seqs: vec![Vec::new(); partitions as usize], ..SourceTruth::default() };
    let mut next = vec![0i64; partitions as usize];
    let deadline = Instant::now() + timeout;
    while next.iter().zip(&ends).any(|(n, e)| n < e) {
        if Instant::now() > deadline {
            bail!("reading the source topic {topic} took longer than {timeout:?}");
        }
        let Some(Ok(m)) = consumer.poll(Duration::from_millis(200)) else { continue };
        let p = m.partition() as usize;
        if p >= next.len() || m.offset() >= ends[p] {
            continue;
        }
        next[p] = m.offset() + 1;
        match m.payload().and_then(decode) {
            Some((_, seq)) => {
                if truth.seqs[p].last().is_some_and(|last| *last >= seq) {
                    truth.out_of_order += 1;
                }
                truth.seqs[p].push(seq);
                truth.records += 1;
            }
            None => truth.foreign += 1,
        }
    }
    Ok(truth)
}

/// A thread that reads the target topic from its start for the whole test.
pub struct Verifier {
    /// What arrived so far.
    pub check: Arc<Mutex<TargetCheck>>,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<Result<()>>>,
}

impl Verifier {
    /// Starts reading `topic` on `bootstrap` as soon as it exists with `partitions` partitions.
    pub fn spawn(bootstrap: String, topic: String, partitions: i32) -> Verifier {
        let check = Arc::new(Mutex::new(TargetCheck::new(partitions)));
        let stop = Arc::new(AtomicBool::new(false));
        let (c, s) = (check.clone(), stop.clone());
        let handle = std::thread::spawn(move || -> Result<()> {
            while !wait_leaders(&bootstrap, &topic, partitions, Duration::from_secs(1)) {
                if s.load(Ordering::Relaxed) {
                    return Ok(());
                }
            }
            let consumer = consumer(&bootstrap, "ferry-loadtest-verifier")?;
            assign_from_start(&consumer, &topic, partitions)?;
            while !s.load(Ordering::Relaxed) {
                let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) else { continue };
                if let Ok(mut check) = c.lock() {
                    check.observe(m.partition(), m.payload());
                }
            }
            Ok(())
        });
        Verifier { check, stop, handle: Some(handle) }
    }

    /// A copy of what arrived so far.
    pub fn snapshot(&self) -> TargetCheck {
        self.check.lock().map(|c| c.clone()).unwrap_or_default()
    }

    /// Stops the thread and returns what arrived.
    ///
    /// # Errors
    /// When the thread failed.
    pub fn finish(mut self) -> Result<TargetCheck> {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            h.join().map_err(|_| anyhow::anyhow!("the verifier thread panicked"))??;
        }
        Ok(self.snapshot())
    }
}

impl Drop for Verifier {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip() {
        let mut v = vec![0u8; 40];
        encode(&mut v, 7, 123_456_789);
        assert_eq!(decode(&v), Some((7, 123_456_789)));
        assert_eq!(decode(b"nope"), None);
    }

    #[test]
    fn a_recopied_suffix_is_duplicates_not_disorder() {
        let mut c = PartitionCheck::default();
        for s in (0..100).chain(80..200) {
            c.observe(s);
        }
        assert_eq!(c.duplicates, 20);
        assert_eq!(c.out_of_order, 0);
        assert!((0..200).all(|s| c.has(s)));
    }

    #[test]
    fn a_late_record_is_out_of_order() {
        let mut c = PartitionCheck::default();
        for s in [0, 1, 3, 2, 4] {
            c.observe(s);
        }
        assert_eq!(c.out_of_order, 1);
        assert_eq!(c.duplicates, 0);
        assert_eq!(c.out_of_order_examples, vec![(3, 2)]);
    }

    #[test]
    fn lost_records_are_counted_against_the_source() {
        let truth = SourceTruth { seqs: vec![vec![0, 1, 2, 4], vec![0]], records: 5, ..SourceTruth::default() };
        let mut target = TargetCheck::new(2);
        let mut v = vec![0u8; 16];
        for s in [0, 1, 4] {
            encode(&mut v, 0, s);
            target.observe(0, Some(&v));
        }
        encode(&mut v, 0, 9);
        target.observe(1, Some(&v)); // wrong partition
        target.observe(1, Some(b"x"));
        assert_eq!(missing(&truth, &target), (2, vec![(0, 2), (1, 0)]));
        assert_eq!(target.misplaced, 1);
        assert_eq!(target.foreign, 1);
    }
}
