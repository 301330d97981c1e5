//! The in-process runners: the produce-only and consume-only ceilings and the naive one-thread copy loop.
//!
//! Each one runs alone in this process. Clients are connected and warmed up first (metadata fetched, the
//! idempotent producer's id obtained with one record per partition), then the clock runs from the first
//! record (sent, or received) to the last (acknowledged, or received), like ferry's and MM2's clock, which
//! starts at their first record on the target. CPU time is this process's (all threads, librdkafka's
//! included) over the run, and peak RSS is this process's after its high-water mark was reset.
//!
//! # Layout
//! - [`produce_ceiling`]: write the workload to a fresh target topic.
//! - [`consume_ceiling`]: read the preloaded source topic from the start, on one or several connections.
//! - [`naive`]: one thread, poll the source consumer, send each record to the same partition of the target.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};

use crate::clients::{consumer_config, producer_config, CountingContext};
use crate::procstat;
use crate::report::Measurement;
use crate::workload::{produce, send_blocking, Limits, Workload};
use ferry_loadtest::rig::Rig;

/// CPU and memory accounting around an in-process runner.
struct Usage {
    cpu0: Option<f64>,
}

impl Usage {
    fn start() -> Usage {
        procstat::reset_own_peak_rss();
        Usage { cpu0: procstat::cpu_seconds(None) }
    }

    fn finish(self, m: Measurement) -> Measurement {
        let cpu = match (self.cpu0, procstat::cpu_seconds(None)) {
            (Some(a), Some(b)) => Some(b - a),
            _ => None,
        };
        m.with_cpu(cpu).with_rss(procstat::peak_rss_bytes(None))
    }
}

/// A producer with [`producer_config`] on `bootstrap`.
///
/// # Errors
/// When librdkafka rejects the configuration.
pub fn producer(bootstrap: &str) -> Result<BaseProducer<CountingContext>> {
    producer_config(bootstrap).create_with_context(CountingContext::default()).context("creating a producer")
}

/// Sends one small record to every partition of `topic` and waits for them: connections, metadata and the
/// idempotent producer id are then in place before the clock starts.
fn warm_up(producer: &BaseProducer<CountingContext>, topic: &str, partitions: i32) -> Result<()> {
    for p in 0..partitions {
        send_blocking(producer, BaseRecord::to(topic).partition(p).key(&b"warm-up"[..]).payload(&b"warm-up"[..]))?;
    }
    producer.flush(Duration::from_secs(60))?;
    if producer.context().failed.load(std::sync::atomic::Ordering::Relaxed) > 0 {
        bail!("warm-up records to {topic} failed");
    }
    Ok(())
}

/// Sends `m` to the same partition of `target_topic` (key, value, timestamp and headers), as the naive
/// loop does with every record, then serves the producer's callbacks.
///
/// # Errors
/// When the producer refuses the record for good.
pub fn copy_record(
    producer: &BaseProducer<CountingContext>,
    m: &rdkafka::message::BorrowedMessage<'_>,
    target_topic: &str,
) -> Result<()> {
    let headers = m.headers().map(|h| h.detach());
    let mut record: BaseRecord<'_, [u8], [u8]> = BaseRecord::to(target_topic).partition(m.partition());
    if let Some(key) = m.key() {
        record = record.key(key);
    }
    if let Some(payload) = m.payload() {
        record = record.payload(payload);
    }
    if let Some(ts) = m.timestamp().to_millis() {
        record = record.timestamp(ts);
    }
    if let Some(headers) = headers {
        record = record.headers(headers);
    }
    send_blocking(producer, record)?;
    producer.poll(Duration::ZERO);
    Ok(())
}

/// A consumer assigned to every partition of `topic` from the beginning.
pub fn consumer_from_start(bootstrap: &str, group: &str, topic: &str, partitions: i32) -> Result<BaseConsumer> {
    consumer_for(bootstrap, group, topic, 0..partitions)
}

/// A consumer assigned to `partitions` of `topic` from the beginning.
fn consumer_for(
    bootstrap: &str,
    group: &str,
    topic: &str,
    partitions: impl IntoIterator<Item = i32>,
) -> Result<BaseConsumer> {
    let consumer: BaseConsumer = consumer_config(bootstrap, group).create().context("creating a consumer")?;
    let mut tpl = TopicPartitionList::new();
    for p in partitions {
        tpl.add_partition_offset(topic, p, Offset::Beginning)?;
    }
    consumer.assign(&tpl)?;
    Ok(consumer)
}

/// The measurement of `count` records in `seconds`: capped when the run stopped at `limits.cap` before the
/// end of the workload.
fn measured(
    runner: &str,
    workload: &Workload,
    count: u64,
    seconds: f64,
    limits: Limits,
    first: Option<Instant>,
) -> Measurement {
    match limits.cap {
        Some(cap) if count < workload.records && limits.capped(first) => {
            Measurement::capped(runner, workload, count, seconds, cap.as_secs_f64())
        }
        _ => Measurement::new(runner, workload, count, seconds),
    }
}

/// Produce-only ceiling: the workload written to `topic` on the target (created by the caller).
///
/// # Errors
/// When the producer cannot be created; a failed produce is a failed measurement, not an error.
pub fn produce_ceiling(rig: &Rig, workload: &Workload, topic: &str) -> Result<Measurement> {
    let producer = producer(&rig.dst)?;
    warm_up(&producer, topic, workload.partitions)?;
    let usage = Usage::start();
    Ok(match produce(&producer, topic, workload) {
        Ok(elapsed) => {
            usage.finish(Measurement::new("produce-ceiling", workload, workload.records, elapsed.as_secs_f64()))
        }
        Err(e) => {
            crate::check_interrupted()?;
            Measurement::failed("produce-ceiling", workload, format!("{e:#}"))
        }
    })
}

/// Consume-only ceiling: the preloaded `topic` read from the start on `connections` consumers (each its own
/// connection to the source broker, partition `p` read by consumer `p % connections`), each on its own
/// thread. One connection is the ceiling of a single reader; several show what the link and the broker give
/// to parallel readers (WAN mode: a delayed link caps each TCP connection by its window).
///
/// # Errors
/// When a consumer cannot be created or assigned.
pub fn consume_ceiling(
    rig: &Rig,
    workload: &Workload,
    topic: &str,
    limits: Limits,
    connections: usize,
) -> Result<Measurement> {
    let connections = connections.clamp(1, usize::try_from(workload.partitions.max(1)).unwrap_or(1));
    let usage = Usage::start();
    let started = Instant::now();
    let consumers = (0..connections)
        .map(|i| {
            let mine = (0..workload.partitions).filter(|p| usize::try_from(*p).is_ok_and(|p| p % connections == i));
            consumer_for(&rig.src, "ferry-bench-consume", topic, mine)
        })
        .collect::<Result<Vec<_>>>()?;
    let total = AtomicU64::new(0);
    let first: OnceLock<Instant> = OnceLock::new();
    let notes: Vec<Option<String>> = std::thread::scope(|scope| {
        let readers: Vec<_> = consumers
            .iter()
            .map(|consumer| scope.spawn(|| read_until_done(consumer, workload, started, limits, &total, &first)))
            .collect();
        readers.into_iter().map(|r| r.join().unwrap_or_else(|_| Some("a reader panicked".into()))).collect()
    });
    crate::check_interrupted()?;
    let (count, first) = (total.load(Ordering::Relaxed), first.get().copied());
    let elapsed = first.map_or(0.0, |f| f.elapsed().as_secs_f64());
    let name = if connections == 1 { "consume-ceiling".to_string() } else { format!("consume-ceiling-x{connections}") };
    let mut m = usage.finish(measured(&name, workload, count, elapsed, limits, first));
    let mut note = notes.into_iter().flatten().next();
    if m.ok {
        note = m.note.take();
    }
    m.note = note;
    Ok(m)
}

/// One consume-ceiling reader: polls until all readers together have the workload, or time is out; its
/// note (an error or a timeout) when it has one.
fn read_until_done(
    consumer: &BaseConsumer,
    workload: &Workload,
    started: Instant,
    limits: Limits,
    total: &AtomicU64,
    first: &OnceLock<Instant>,
) -> Option<String> {
    let mut note = None;
    let mut bytes = 0u64;
    while total.load(Ordering::Relaxed) < workload.records {
        if crate::check_interrupted().is_err() {
            return None; // the caller reports it
        }
        if out_of_time(started, limits, first.get().copied(), &mut note) {
            break;
        }
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                first.get_or_init(Instant::now);
                total.fetch_add(1, Ordering::Relaxed);
                bytes += (m.payload_len() + m.key().map_or(0, <[u8]>::len)) as u64;
            }
            Some(Err(e)) => note = Some(format!("consumer error: {e}")),
            None => {}
        }
    }
    std::hint::black_box(bytes);
    note
}

/// Naive baseline: one thread, `BaseConsumer::poll` → `BaseProducer::send` to the same partition of
/// `target_topic` with key, value, headers and timestamp, then a flush. The same client settings as ferry.
///
/// # Errors
/// When the clients cannot be created.
pub fn naive(
    rig: &Rig,
    workload: &Workload,
    source_topic: &str,
    target_topic: &str,
    limits: Limits,
) -> Result<Measurement> {
    let usage = Usage::start();
    let started = Instant::now();
    let producer = producer(&rig.dst)?;
    warm_up(&producer, target_topic, workload.partitions)?;
    let consumer = consumer_from_start(&rig.src, "ferry-bench-naive", source_topic, workload.partitions)?;
    let mut count = 0u64;
    let mut note = None;
    let mut first: Option<Instant> = None;
    while count < workload.records {
        crate::check_interrupted()?;
        if out_of_time(started, limits, first, &mut note) {
            break;
        }
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                first.get_or_insert_with(Instant::now);
                copy_record(&producer, &m, target_topic)?;
                count += 1;
            }
            Some(Err(e)) => note = Some(format!("consumer error: {e}")),
            None => {}
        }
    }
    producer.flush(Duration::from_secs(120))?;
    let elapsed = first.map_or(0.0, |f| f.elapsed().as_secs_f64());
    let ctx = producer.context();
    let failed = ctx.failed.load(std::sync::atomic::Ordering::Relaxed);
    let mut m = usage.finish(measured("naive", workload, count, elapsed, limits, first));
    if failed > 0 {
        m.ok = false;
        note = Some(format!("{failed} records failed to produce"));
    } else if m.ok {
        note = m.note.take();
    }
    m.note = note;
    if !m.ok && m.note.is_none() {
        bail!("naive runner stopped early without a reason");
    }
    Ok(m)
}

/// Whether a copy loop must stop: past the time-out (noted) or past the cap after its first record.
fn out_of_time(started: Instant, limits: Limits, first: Option<Instant>, note: &mut Option<String>) -> bool {
    if started.elapsed() > limits.timeout {
        *note = Some(format!("timed out after {:?}", limits.timeout));
        return true;
    }
    limits.capped(first)
}
