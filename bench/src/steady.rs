//! Steady mode: a producer writes to the source at a fixed rate while a replicator runs; a consumer on the
//! target measures each record's end-to-end latency (the producer's send time, carried in the value, to
//! the moment the consumer sees it) in an HDR histogram.
//!
//! # Layout
//! - [`run`]: create the topic, start the replicator, warm up until every partition flows, produce at the
//!   rate for the duration, wait for the stragglers, stop.
//! - [`Runner`]: what copies the records: nothing (`direct`, the instrument's floor), the naive one-thread
//!   relay in this process (`naive`: the floor of any copy through two brokers on this machine), or ferry
//!   or MirrorMaker 2.
//! - Values: byte 0 is `W` (warm-up, not measured) or `M` (measured), bytes 1..9 the send time in µs since
//!   the epoch, big-endian; the rest is padding up to the record size.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use hdrhistogram::Histogram;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};

use crate::clients::consumer_config;
use crate::external::{Flow, Kind, Launcher};
use crate::procstat::MachineCpu;
use crate::report::Latency;
use crate::runners::{consumer_from_start, copy_record, producer};
use crate::workload::{send_blocking, Payloads, Workload};
use ferry_loadtest::admin::Admin;
use ferry_loadtest::rig::Rig;

/// What carries the records from the source topic to the topic the latency consumer reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Runner {
    /// Nothing: the consumer reads the source topic (producer + one broker + consumer).
    Direct,
    /// The naive relay: one thread in this process, poll the source, send each record to the target.
    Naive,
    /// A replicator process.
    Replicator(Kind),
}

impl Runner {
    /// The runner's name in the report.
    pub fn name(self) -> &'static str {
        match self {
            Runner::Direct => "direct (no copy)",
            Runner::Naive => "naive relay",
            Runner::Replicator(kind) => kind.name(),
        }
    }

    /// Whether it is MirrorMaker 2 (measured only where MM2 can be run).
    pub fn is_mm2(self) -> bool {
        matches!(self, Runner::Replicator(kind) if !kind.is_ferry())
    }

    /// The runner behind a `--steady-runners` name.
    ///
    /// # Errors
    /// For an unknown name.
    pub fn from_name(name: &str) -> Result<Runner> {
        Ok(match name {
            "direct" => Runner::Direct,
            "naive" => Runner::Naive,
            "ferry" | "mm2-default" | "mm2-tuned" => Runner::Replicator(Kind::from_name(name).context("a replicator")?),
            other => anyhow::bail!("unknown steady runner `{other}` (direct, naive, ferry, mm2-default, mm2-tuned)"),
        })
    }
}

/// The naive relay's thread: copies `source_topic` to the same partitions of `target_topic` until `stop`.
fn relay(rig: Rig, source_topic: String, target_topic: String, partitions: i32, stop: Arc<AtomicBool>) -> Result<()> {
    let producer = producer(&rig.dst)?;
    let consumer = consumer_from_start(&rig.src, "ferry-bench-naive-relay", &source_topic, partitions)?;
    while !stop.load(Ordering::Relaxed) {
        match consumer.poll(Duration::from_millis(50)) {
            Some(Ok(m)) => copy_record(&producer, &m, &target_topic)?,
            Some(Err(e)) => anyhow::bail!("naive relay: consumer error: {e}"),
            None => {
                producer.poll(Duration::ZERO);
            }
        }
    }
    producer.flush(Duration::from_secs(30))?;
    Ok(())
}

fn now_micros() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros() as u64).unwrap_or(0)
}

/// What the target-side consumer thread shares with the producer.
#[derive(Default)]
struct Shared {
    /// Set when the consumer must stop.
    stop: AtomicBool,
    /// Measured records seen.
    received: AtomicU64,
    /// Bit `p` set once a warm-up record of partition `p` arrived (partitions ≥ 64 share bits).
    warm: AtomicU64,
}

/// The consumer thread: reads `topic` on the target from the beginning, records the latency of measured
/// records, returns the histogram (µs).
fn consume(bootstrap: String, topic: String, partitions: i32, shared: Arc<Shared>) -> Result<Histogram<u64>> {
    let consumer: BaseConsumer = consumer_config(&bootstrap, "ferry-bench-latency")
        .set("fetch.wait.max.ms", "10")
        .create()
        .context("creating the latency consumer")?;
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition_offset(&topic, p, Offset::Beginning)?;
    }
    consumer.assign(&tpl)?;
    let mut hist = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3)?;
    while !shared.stop.load(Ordering::Relaxed) {
        let Some(Ok(m)) = consumer.poll(Duration::from_millis(50)) else { continue };
        let arrived = now_micros();
        let Some(v) = m.payload() else { continue };
        if v.len() < 9 {
            continue;
        }
        let sent = u64::from_be_bytes(v[1..9].try_into()?);
        match v[0] {
            b'M' => {
                hist.saturating_record(arrived.saturating_sub(sent).max(1));
                shared.received.fetch_add(1, Ordering::Relaxed);
            }
            b'W' => {
                shared.warm.fetch_or(1 << (m.partition() % 64), Ordering::Relaxed);
            }
            _ => {}
        }
    }
    Ok(hist)
}

/// Settings of one steady measurement.
pub struct Steady<'a> {
    /// Starts the replicator.
    pub launcher: &'a Launcher,
    /// Target cluster admin.
    pub target: &'a Admin,
    /// Source cluster admin.
    pub source: &'a Admin,
    /// What copies the records.
    pub runner: Runner,
    /// Record size and partitions.
    pub workload: Workload,
    /// Records per second.
    pub rate: f64,
    /// The rate as a percentage of the ceiling (for the report).
    pub percent: u32,
    /// How long to produce at the rate.
    pub duration: Duration,
    /// Unique part of topic and alias names.
    pub tag: String,
}

/// Runs one steady measurement (see the module docs).
///
/// # Errors
/// Only for set-up failures and interruptions; a replicator that never gets going is a failed result.
pub fn run(s: &Steady<'_>) -> Result<Latency> {
    let w = s.workload;
    let topic = format!("fb-{}-lat", s.tag);
    s.source.create_topic(&topic, w.partitions)?;
    let name = s.runner.name();
    let rig = &s.launcher.rig;
    let relay_stop = Arc::new(AtomicBool::new(false));
    let mut relay_thread = None;
    let (running, read_topic, read_bootstrap) = match s.runner {
        Runner::Replicator(kind) => {
            let flow = Flow::new(kind, &s.tag, &topic, w.partitions);
            (Some(s.launcher.start(kind, &flow)?), flow.remote_topic, rig.dst.clone())
        }
        Runner::Naive => {
            let remote = format!("{topic}-relayed");
            s.target.create_topic(&remote, w.partitions)?;
            let (relay_rig, from, to, stop) = (rig.clone(), topic.clone(), remote.clone(), relay_stop.clone());
            relay_thread = Some(std::thread::spawn(move || relay(relay_rig, from, to, w.partitions, stop)));
            (None, remote, rig.dst.clone())
        }
        Runner::Direct => (None, topic.clone(), rig.src.clone()),
    };
    let read_admin = if s.runner == Runner::Direct { s.source } else { s.target };
    let mut result = Latency {
        runner: name.to_string(),
        workload: w,
        label: w.label(),
        percent_of_ceiling: s.percent,
        target_rate: s.rate,
        achieved_rate: 0.0,
        sent: 0,
        received: 0,
        p50_ms: 0.0,
        p99_ms: 0.0,
        p999_ms: 0.0,
        max_ms: 0.0,
        mean_ms: 0.0,
        machine_cpu: None,
        ok: false,
        note: None,
        round_p50_ms: Vec::new(),
        round_p99_ms: Vec::new(),
    };
    let producer = producer(&rig.src)?;
    let payloads = Payloads::new(w.record_bytes.max(9));
    let send = |mark: u8, i: u64, partition: i32| -> Result<()> {
        let mut value = payloads.get(i).to_vec();
        value[0] = mark;
        value[1..9].copy_from_slice(&now_micros().to_be_bytes());
        let key = i.to_be_bytes();
        send_blocking(&producer, BaseRecord::to(&topic).partition(partition).key(&key[..]).payload(&value[..]))
    };

    // 1. Warm-up: a record per partition every 200 ms until the target topic exists and all partitions flow.
    let all_warm: u64 = if w.partitions >= 64 { u64::MAX } else { (1u64 << w.partitions) - 1 };
    let shared = Arc::new(Shared::default());
    let mut consumer_thread = None;
    let warm_deadline = Instant::now() + Duration::from_secs(120);
    let mut i = 0u64;
    loop {
        crate::check_interrupted()?;
        if consumer_thread.is_none() && read_admin.partitions_with_leader(&read_topic) >= w.partitions {
            let (bootstrap, t, sh) = (read_bootstrap.clone(), read_topic.clone(), shared.clone());
            let parts = w.partitions;
            consumer_thread = Some(std::thread::spawn(move || consume(bootstrap, t, parts, sh)));
        }
        if shared.warm.load(Ordering::Relaxed) == all_warm {
            break;
        }
        if Instant::now() > warm_deadline {
            let log = running.as_ref().map(|r| r.log.display().to_string()).unwrap_or_default();
            result.note = Some(format!("{name} never copied the warm-up records (log {log})"));
            break;
        }
        for p in 0..w.partitions {
            send(b'W', i, p)?;
            i += 1;
        }
        producer.poll(Duration::ZERO);
        std::thread::sleep(Duration::from_millis(200));
    }
    // 2. Measured: record n goes out at n / rate seconds.
    if result.note.is_none() {
        let started = Instant::now();
        let cpu_before = MachineCpu::now();
        let mut n = 0u64;
        while started.elapsed() < s.duration {
            crate::check_interrupted()?;
            let due = (started.elapsed().as_secs_f64() * s.rate) as u64;
            while n < due {
                send(b'M', n, (n % w.partitions as u64) as i32)?;
                n += 1;
            }
            producer.poll(Duration::ZERO);
            std::thread::sleep(Duration::from_micros(500));
        }
        let elapsed = started.elapsed().as_secs_f64();
        result.machine_cpu = cpu_before.zip(MachineCpu::now()).and_then(|(a, b)| a.share_until(b));
        producer.flush(Duration::from_secs(60))?;
        result.sent = n;
        result.achieved_rate = n as f64 / elapsed;
        // 3. Stragglers: wait until everything arrived (or 30 s without progress, or 120 s in all: a
        // replicator that cannot keep the rate falls behind without bound).
        let mut last = (0, Instant::now());
        let give_up = Instant::now() + Duration::from_secs(120);
        while shared.received.load(Ordering::Relaxed) < n && Instant::now() < give_up {
            crate::check_interrupted()?;
            let got = shared.received.load(Ordering::Relaxed);
            if got != last.0 {
                last = (got, Instant::now());
            } else if last.1.elapsed() > Duration::from_secs(30) {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    shared.stop.store(true, Ordering::Relaxed);
    relay_stop.store(true, Ordering::Relaxed);
    let exit = running.map(|r| r.stop()).unwrap_or_default();
    let relay_error = match relay_thread.map(std::thread::JoinHandle::join) {
        Some(Ok(Err(e))) => Some(format!("{e:#}")),
        Some(Err(_)) => Some("the naive relay panicked".into()),
        _ => None,
    };
    let hist = match consumer_thread {
        Some(t) => t.join().map_err(|_| anyhow::anyhow!("the latency consumer panicked"))??,
        None => Histogram::<u64>::new(3)?,
    };
    result.received = shared.received.load(Ordering::Relaxed);
    let ms = |us: u64| us as f64 / 1000.0;
    result.p50_ms = ms(hist.value_at_quantile(0.5));
    result.p99_ms = ms(hist.value_at_quantile(0.99));
    result.p999_ms = ms(hist.value_at_quantile(0.999));
    result.max_ms = ms(hist.max());
    result.mean_ms = hist.mean() / 1000.0;
    if result.note.is_none() {
        if let Some(error) = relay_error {
            result.note = Some(error);
        } else if result.received < result.sent {
            result.note = Some(format!("{} records never arrived", result.sent - result.received));
        } else if result.achieved_rate < 0.95 * s.rate {
            result.note = Some("the producer could not keep the rate".into());
        } else if s.runner == Runner::Replicator(Kind::Ferry) && !exit.contains("exit status: 0") {
            result.note = Some(format!("ferry {exit} after SIGTERM"));
        } else {
            result.ok = true;
        }
    }
    Ok(result)
}
