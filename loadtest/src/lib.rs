//! ferry's load test: runs `ferry run` for a given time under a steady load whose records carry
//! (partition, sequence number), injects faults (kill -9 of ferry, source or target broker outages, a paused
//! target broker), waits for ferry to catch up, and verifies the target against the source: records lost
//! (must be 0), out of order within a partition (must be 0; re-copied duplicates aside), duplicates.
//!
//! ```text
//! scripts/kafka-rig.sh start && cargo build --release -p ferry
//! cargo run --release -p ferry-loadtest -- --duration 60s --rate 5000 --partitions 4 --kill-every 10s
//! ```
//!
//! # Layout
//! - [`Options`] and [`run`]: one scenario from set-up to verdict; [`Report`] is what it found.
//! - `rig`: the clusters, `admin`: topics and offsets (both also used by `ferry-bench`); `broker`:
//!   stop/start/pause a broker; `ferry`: the process under test;
//!   `producer`: the load; `verify`: the checks.
//!
//! Every topic and cluster alias contains a random run id, so a load test shares the rig with other tests;
//! broker faults, though, affect everyone using the rig at that moment.

pub mod admin;
pub mod broker;
pub mod ferry;
pub mod producer;
pub mod rig;
pub mod verify;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use serde::Serialize;

use admin::Admin;
use broker::Broker;
use ferry::Ferry;
use rig::{random_id, Rig};

/// One scenario.
#[derive(Clone, Debug)]
pub struct Options {
    /// How long the load runs (faults happen within it).
    pub duration: Duration,
    /// Records per second, all partitions together.
    pub rate: f64,
    /// Partitions of the source topic.
    pub partitions: i32,
    /// Value size in bytes (at least 16).
    pub record_bytes: usize,
    /// Kill ferry with SIGKILL this often (and restart it at once).
    pub kill_every: Option<Duration>,
    /// At most this many kills.
    pub max_kills: Option<u32>,
    /// Stop the source broker (SIGKILL) for this long, at 25 % of the duration, then start it again.
    pub source_outage: Option<Duration>,
    /// Stop the target broker for this long, at 50 % of the duration.
    pub target_outage: Option<Duration>,
    /// Pause the target broker (SIGSTOP … SIGCONT) for this long, at 70 % of the duration.
    pub pause_target: Option<Duration>,
    /// Kill ferry with SIGKILL (and restart it) once while the target broker is paused, so that produce
    /// requests it sent reach the broker only after it died.
    pub kill_while_target_paused: bool,
    /// Run ferry in exactly-once mode (`exactly.once.source.support = enabled`).
    pub exactly_once: bool,
    /// How long ferry may take to copy the rest once the load and the faults are over.
    pub catch_up_timeout: Duration,
    /// The ferry binary (default: see [`ferry::locate`]).
    pub ferry_bin: Option<PathBuf>,
    /// Keep the topics even when the scenario passes.
    pub keep_topics: bool,
    /// Set to stop early (SIGINT/SIGTERM); brokers are restored and ferry stopped on the way out.
    pub interrupt: Option<Arc<AtomicBool>>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            duration: Duration::from_secs(60),
            rate: 5000.0,
            partitions: 4,
            record_bytes: 200,
            kill_every: None,
            max_kills: None,
            source_outage: None,
            target_outage: None,
            pause_target: None,
            kill_while_target_paused: false,
            exactly_once: false,
            catch_up_timeout: Duration::from_secs(180),
            ferry_bin: None,
            keep_topics: false,
            interrupt: None,
        }
    }
}

/// One injected fault.
#[derive(Clone, Debug, Serialize)]
pub struct Fault {
    /// `kill -9 ferry`, `source outage`, `target outage`, `pause target`.
    pub kind: String,
    /// Seconds since the start of the load.
    pub at_s: f64,
    /// How long the fault was held (outage or pause), seconds.
    pub held_s: f64,
    /// How long restoring took (broker restart until it serves the topic again), seconds.
    pub restore_s: f64,
    /// What went wrong while injecting or restoring it.
    pub error: Option<String>,
}

/// What a scenario found.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// The scenario (durations in seconds).
    pub options: serde_json::Value,
    /// Unix time of the start.
    pub started_unix: u64,
    /// Source topic.
    pub topic: String,
    /// Target topic.
    pub remote_topic: String,
    /// Where ferry's log and mm2.properties are.
    pub work_dir: String,
    /// Records handed to the producer.
    pub produced: u64,
    /// Records the source acknowledged.
    pub acknowledged: u64,
    /// Records the producer gave up on (gaps in the source, not counted as lost).
    pub produce_failed: u64,
    /// The source topic at the end.
    pub source: verify::SourceTruth,
    /// Records read from the target.
    pub target_records: u64,
    /// Source records never seen in the target. Must be 0.
    pub lost: u64,
    /// Up to 20 lost (partition, sequence number).
    pub lost_examples: Vec<(i32, u64)>,
    /// New records that arrived after a higher sequence number of their partition. Must be 0.
    pub out_of_order: u64,
    /// Up to 10 (partition, previous max, record) out-of-order arrivals.
    pub out_of_order_examples: Vec<(i32, u64, u64)>,
    /// Records that arrived again (at-least-once re-copies).
    pub duplicates: u64,
    /// Records in a different partition than in the source. Must be 0.
    pub misplaced: u64,
    /// Target records that are not load-test records.
    pub foreign: u64,
    /// Faults injected, in order.
    pub faults: Vec<Fault>,
    /// How often ferry was started.
    pub ferry_starts: u32,
    /// ferry exits nobody asked for (it was restarted each time).
    pub ferry_unexpected_exits: Vec<String>,
    /// ferry's exit status after the final SIGTERM.
    pub ferry_final_exit: Option<String>,
    /// ferry's log lines saying a client lost every broker of a cluster, and that it got the connection back.
    pub ferry_connection_lines: (usize, usize),
    /// Whether the target had every source record before the catch-up time-out.
    pub caught_up: bool,
    /// Seconds from the end of load and faults until the target had everything.
    pub catch_up_s: f64,
    /// Seconds of the whole scenario.
    pub total_s: f64,
    /// Stopped early by a signal.
    pub interrupted: bool,
    /// lost = 0, out of order = 0, misplaced = 0 (and in exactly-once mode duplicates = 0), caught up,
    /// not interrupted.
    pub passed: bool,
}

impl Report {
    /// A human summary.
    pub fn summary(&self) -> String {
        let faults: Vec<String> = self
            .faults
            .iter()
            .map(|f| {
                let mut s = format!("{} at {:.1} s", f.kind, f.at_s);
                if f.held_s > 0.0 {
                    s += &format!(" for {:.1} s", f.held_s);
                }
                if f.restore_s > 0.0 {
                    s += &format!(" (back after {:.1} s)", f.restore_s);
                }
                if let Some(e) = &f.error {
                    s += &format!(" ERROR: {e}");
                }
                s
            })
            .collect();
        format!(
            "ferry-loadtest {verdict}\n\
             \x20 topic {} → {}\n\
             \x20 produced {} (acknowledged {}, failed {}), source holds {} (out of order {})\n\
             \x20 target read {}: lost {}{}, out of order {}, duplicates {}, misplaced {}, foreign {}\n\
             \x20 faults ({}): {}\n\
             \x20 ferry started {} times, unexpected exits: {}, final exit after SIGTERM: {}, connection lost/regained lines: {}/{}\n\
             \x20 caught up: {} ({:.1} s after the load), total {:.1} s; logs in {}",
            self.topic,
            self.remote_topic,
            self.produced,
            self.acknowledged,
            self.produce_failed,
            self.source.records,
            self.source.out_of_order,
            self.target_records,
            self.lost,
            if self.lost_examples.is_empty() { String::new() } else { format!(" e.g. {:?}", self.lost_examples) },
            self.out_of_order,
            self.duplicates,
            self.misplaced,
            self.foreign,
            self.faults.len(),
            if faults.is_empty() { "none".into() } else { faults.join("; ") },
            self.ferry_starts,
            if self.ferry_unexpected_exits.is_empty() { "none".into() } else { self.ferry_unexpected_exits.join(", ") },
            self.ferry_final_exit.as_deref().unwrap_or("-"),
            self.ferry_connection_lines.0,
            self.ferry_connection_lines.1,
            self.caught_up,
            self.catch_up_s,
            self.total_s,
            self.work_dir,
            verdict = if self.passed { "PASSED" } else { "FAILED" },
        )
    }
}

/// Parses `500ms`, `10s`, `2m`, `1h` or a plain number of seconds.
///
/// # Errors
/// On anything else.
pub fn parse_duration(text: &str) -> Result<Duration> {
    let t = text.trim();
    let (num, unit) = t.split_at(t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len()));
    let value: f64 = num.parse().with_context(|| format!("invalid duration `{text}`"))?;
    let secs = match unit {
        "" | "s" => value,
        "ms" => value / 1000.0,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        _ => bail!("invalid duration `{text}` (use e.g. 500ms, 10s, 2m)"),
    };
    if !secs.is_finite() || secs < 0.0 {
        bail!("invalid duration `{text}`");
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Progress lines on stderr, stamped with seconds since the start.
struct Log(Instant);

impl Log {
    fn say(&self, line: &str) {
        eprintln!("[loadtest {:>6.1}s] {line}", self.0.elapsed().as_secs_f64());
    }
    fn t(&self) -> f64 {
        self.0.elapsed().as_secs_f64()
    }
}

/// Sleeps until `at` (since the log's start) or until `stop` is set; false if stopped.
fn sleep_until(log: &Log, at: f64, stop: &AtomicBool) -> bool {
    while log.t() < at {
        if stop.load(Ordering::Relaxed) {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    !stop.load(Ordering::Relaxed)
}

/// Runs the broker faults one after the other at their times (25 %, 50 %, 70 % of the duration), holding
/// each for its time; a stop request restores the broker at once.
fn broker_faults(
    opts: &Options,
    log: &Log,
    mut src: Option<Broker>,
    mut dst: Option<Broker>,
    stop: &AtomicBool,
    target_paused: &AtomicBool,
) -> Vec<Fault> {
    let d = opts.duration.as_secs_f64();
    let mut plan: Vec<(f64, &str, Duration)> = Vec::new();
    if let Some(x) = opts.source_outage {
        plan.push((0.25 * d, "source outage", x));
    }
    if let Some(x) = opts.target_outage {
        plan.push((0.5 * d, "target outage", x));
    }
    if let Some(x) = opts.pause_target {
        plan.push((0.7 * d, "pause target", x));
    }
    let mut faults = Vec::new();
    for (at, kind, hold) in plan {
        if !sleep_until(log, at, stop) {
            break;
        }
        let broker = if kind == "source outage" { src.as_mut() } else { dst.as_mut() };
        let Some(broker) = broker else { continue };
        let mut fault = Fault { kind: kind.to_string(), at_s: log.t(), held_s: 0.0, restore_s: 0.0, error: None };
        log.say(&format!("{kind}: {} broker (pid {}) for {:.1} s", broker.name, broker.pid(), hold.as_secs_f64()));
        let injected = if kind == "pause target" { broker.pause() } else { broker.stop() };
        if let Err(e) = injected {
            fault.error = Some(format!("{e:#}"));
            faults.push(fault);
            continue;
        }
        let held_from = log.t();
        target_paused.store(kind == "pause target", Ordering::Release);
        sleep_until(log, held_from + hold.as_secs_f64(), stop);
        fault.held_s = log.t() - held_from;
        target_paused.store(false, Ordering::Release);
        let restored = if kind == "pause target" { broker.resume().map(|()| Duration::ZERO) } else { broker.start() };
        match restored {
            Ok(took) => {
                fault.restore_s = took.as_secs_f64();
                log.say(&format!(
                    "{kind} over: {} broker back (pid {}) after {:.1} s",
                    broker.name,
                    broker.pid(),
                    fault.restore_s
                ));
            }
            Err(e) => {
                fault.error = Some(format!("{e:#}"));
                log.say(&format!("{kind}: restoring the {} broker FAILED: {e:#}", broker.name));
            }
        }
        faults.push(fault);
    }
    faults
}

/// Runs one scenario and returns its report (whether it passed is in [`Report::passed`]).
///
/// # Errors
/// Set-up failures (no rig, no ferry binary, a broker that cannot be controlled), not verdicts.
pub fn run(opts: &Options) -> Result<Report> {
    if opts.partitions < 1 || opts.rate <= 0.0 || opts.duration.is_zero() {
        bail!("--partitions, --rate and --duration must be positive");
    }
    let log = Log(Instant::now());
    let interrupt = opts.interrupt.clone().unwrap_or_default();
    let rig = Rig::load()?;
    let ferry_bin = ferry::locate(opts.ferry_bin.as_deref())?;
    let id = random_id(6);
    let topic = format!("lt-{id}");
    let (s_alias, d_alias) = (format!("lts{id}"), format!("ltd{id}"));
    let remote_topic = format!("{s_alias}.{topic}");
    let work_dir = std::env::temp_dir().join(format!("ferry-loadtest-{id}"));
    std::fs::create_dir_all(&work_dir)?;

    // Take control of the brokers first: a broker that cannot be controlled fails before anything runs.
    let mut src_broker = match opts.source_outage {
        Some(_) => Some(Broker::attach(&rig, "src")?),
        None => None,
    };
    let mut dst_broker = match opts.target_outage.or(opts.pause_target) {
        Some(_) => Some(Broker::attach(&rig, "dst")?),
        None => None,
    };
    let source = Admin::new("source", &rig.src)?;
    let target = Admin::new("target", &rig.dst)?;
    source.create_topic(&topic, opts.partitions)?;
    if let Some(b) = src_broker.as_mut() {
        b.set_probe(&topic, opts.partitions);
    }
    if let Some(b) = dst_broker.as_mut() {
        b.set_probe(&format!("mm2-offsets.{s_alias}.internal"), 1);
    }
    let config = work_dir.join("mm2.properties");
    std::fs::write(
        &config,
        format!(
            "# generated by ferry-loadtest\nclusters = {s_alias}, {d_alias}\n{s_alias}.bootstrap.servers = {}\n\
             {d_alias}.bootstrap.servers = {}\n{s_alias}->{d_alias}.enabled = true\n{s_alias}->{d_alias}.topics = {topic}\n\
             replication.factor = 1\noffset.storage.replication.factor = 1\noffset.flush.interval.ms = 1000\n{}",
            rig.src,
            rig.dst,
            if opts.exactly_once { "exactly.once.source.support = enabled\n" } else { "" }
        ),
    )?;
    let mut ferry = Ferry::new(ferry_bin.clone(), config, work_dir.join("ferry.log"));
    log.say(&format!(
        "{topic} ({} partitions) → {remote_topic}, {:.0} rec/s for {:.0} s; ferry {}; work dir {}",
        opts.partitions,
        opts.rate,
        opts.duration.as_secs_f64(),
        ferry_bin.display(),
        work_dir.display()
    ));
    ferry.start(log.t())?;
    let verifier = verify::Verifier::spawn(rig.dst.clone(), remote_topic.clone(), opts.partitions);

    // The load.
    let stats = Arc::new(producer::Stats::default());
    let producing = Arc::new(AtomicBool::new(true));
    let load = producer::Load {
        bootstrap: rig.src.clone(),
        topic: topic.clone(),
        partitions: opts.partitions,
        rate: opts.rate,
        duration: opts.duration,
        record_bytes: opts.record_bytes,
    };
    let producer_thread = {
        let (stats, interrupt, producing) = (stats.clone(), interrupt.clone(), producing.clone());
        std::thread::spawn(move || {
            let result = producer::run(&load, &interrupt, &stats);
            producing.store(false, Ordering::Relaxed);
            result
        })
    };
    // The broker faults, in their own thread (a restart blocks for seconds).
    let target_paused = Arc::new(AtomicBool::new(false));
    let faults_thread = {
        let (opts, interrupt, paused) = (opts.clone(), interrupt.clone(), target_paused.clone());
        let (src, dst) = (src_broker.take(), dst_broker.take());
        let start = log.0;
        std::thread::spawn(move || broker_faults(&opts, &Log(start), src, dst, &interrupt, &paused))
    };
    let mut kill_while_paused = opts.kill_while_target_paused;

    // kill -9 cycles and the watch on ferry, until the load and the broker faults are over.
    let mut faults: Vec<Fault> = Vec::new();
    let d = opts.duration.as_secs_f64();
    let mut next_kill = opts.kill_every.map(|k| k.as_secs_f64()).filter(|k| *k > 0.0);
    let mut next_status = 5.0;
    while producing.load(Ordering::Relaxed) || !faults_thread.is_finished() {
        let now = log.t();
        if let Some(at) = next_kill {
            let limit_reached = opts.max_kills.is_some_and(|m| ferry.kills >= m);
            if at >= d || limit_reached {
                next_kill = None;
            } else if now >= at {
                let mut fault =
                    Fault { kind: "kill -9 ferry".into(), at_s: now, held_s: 0.0, restore_s: 0.0, error: None };
                if let Err(e) = ferry.kill9().and_then(|()| ferry.start(log.t())) {
                    fault.error = Some(format!("{e:#}"));
                }
                log.say(&format!("kill -9 ferry #{} and restart", ferry.kills));
                faults.push(fault);
                next_kill = opts.kill_every.map(|k| at + k.as_secs_f64());
            }
        }
        if kill_while_paused && target_paused.load(Ordering::Acquire) {
            kill_while_paused = false;
            // Give ferry a moment to send produce requests the frozen broker will only process later.
            std::thread::sleep(Duration::from_millis(500));
            let mut fault = Fault {
                kind: "kill -9 ferry while the target is paused".into(),
                at_s: log.t(),
                held_s: 0.0,
                restore_s: 0.0,
                error: None,
            };
            if let Err(e) = ferry.kill9().and_then(|()| ferry.start(log.t())) {
                fault.error = Some(format!("{e:#}"));
            }
            log.say("kill -9 ferry while the target broker is paused, and restart");
            faults.push(fault);
        }
        if ferry.exited_unexpectedly(now) {
            log.say(&format!(
                "ferry exited by itself ({}); restarting it. Last log lines:\n{}",
                ferry.unexpected_exits.last().map(String::as_str).unwrap_or("?"),
                ferry.log_tail(10)
            ));
            ferry.start(log.t())?;
        }
        if now >= next_status {
            let snap = verifier.snapshot();
            log.say(&format!(
                "produced {} (acked {}), target has {} records",
                stats.sent.load(Ordering::Relaxed),
                stats.acked.load(Ordering::Relaxed),
                snap.records()
            ));
            next_status += 5.0;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    producer_thread.join().map_err(|_| anyhow::anyhow!("the producer thread panicked"))??;
    let broker_faults = faults_thread.join().map_err(|_| anyhow::anyhow!("the fault thread panicked"))?;
    faults.extend(broker_faults);
    faults.sort_by(|a, b| a.at_s.total_cmp(&b.at_s));
    let interrupted = interrupt.load(Ordering::Relaxed);

    // Catch-up: the source's content is the truth; wait until the target has all of it.
    log.say("load and faults over; reading the source and waiting for ferry to catch up");
    let truth = verify::read_source(&rig.src, &topic, opts.partitions, Duration::from_secs(300))?;
    let catch_up_from = Instant::now();
    let mut caught_up = false;
    let mut next_status = 5.0;
    while !interrupt.load(Ordering::Relaxed) {
        let (lost, _) = verify::missing(&truth, &verifier.snapshot());
        if lost == 0 {
            caught_up = true;
            break;
        }
        let waited = catch_up_from.elapsed();
        if waited > opts.catch_up_timeout {
            break;
        }
        if waited.as_secs_f64() >= next_status {
            log.say(&format!("{lost} source records not yet in the target"));
            next_status += 5.0;
        }
        if ferry.exited_unexpectedly(log.t()) {
            log.say("ferry exited by itself during catch-up; restarting it");
            ferry.start(log.t())?;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let catch_up_s = catch_up_from.elapsed().as_secs_f64();
    let ferry_final_exit = ferry.stop(Duration::from_secs(30));
    log.say(&format!("ferry stopped: {}", ferry_final_exit.as_deref().unwrap_or("-")));
    let check = verifier.finish()?;
    let (lost, lost_examples) = verify::missing(&truth, &check);
    let mut out_of_order_examples = Vec::new();
    for (p, c) in check.partitions.iter().enumerate() {
        for (max, seq) in &c.out_of_order_examples {
            if out_of_order_examples.len() < 10 {
                out_of_order_examples.push((p as i32, *max, *seq));
            }
        }
    }
    let out_of_order: u64 = check.partitions.iter().map(|c| c.out_of_order).sum();
    let duplicates: u64 = check.partitions.iter().map(|c| c.duplicates).sum();
    let passed = !interrupted
        && caught_up
        && lost == 0
        && out_of_order == 0
        && check.misplaced == 0
        && truth.records > 0
        && (!opts.exactly_once || duplicates == 0);
    let report = Report {
        options: serde_json::json!({
            "duration_s": opts.duration.as_secs_f64(),
            "rate": opts.rate,
            "partitions": opts.partitions,
            "record_bytes": opts.record_bytes,
            "kill_every_s": opts.kill_every.map(|d| d.as_secs_f64()),
            "max_kills": opts.max_kills,
            "exactly_once": opts.exactly_once,
            "kill_while_target_paused": opts.kill_while_target_paused,
            "source_outage_s": opts.source_outage.map(|d| d.as_secs_f64()),
            "target_outage_s": opts.target_outage.map(|d| d.as_secs_f64()),
            "pause_target_s": opts.pause_target.map(|d| d.as_secs_f64()),
            "catch_up_timeout_s": opts.catch_up_timeout.as_secs_f64(),
        }),
        started_unix: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
            .saturating_sub(log.t() as u64),
        topic: topic.clone(),
        remote_topic,
        work_dir: work_dir.display().to_string(),
        produced: stats.sent.load(Ordering::Relaxed),
        acknowledged: stats.acked.load(Ordering::Relaxed),
        produce_failed: stats.failed.load(Ordering::Relaxed),
        target_records: check.records(),
        lost,
        lost_examples,
        out_of_order,
        out_of_order_examples,
        duplicates: check.partitions.iter().map(|c| c.duplicates).sum(),
        misplaced: check.misplaced,
        foreign: check.foreign,
        source: truth,
        faults,
        ferry_starts: ferry.starts,
        ferry_unexpected_exits: ferry.unexpected_exits.clone(),
        ferry_final_exit,
        ferry_connection_lines: ferry.connection_lines(),
        caught_up,
        catch_up_s,
        total_s: log.t(),
        interrupted,
        passed,
    };
    if passed && !opts.keep_topics {
        for admin in [&source, &target] {
            if let Err(e) = admin.delete_topics_containing(&id) {
                log.say(&format!("warning: deleting the test's topics on the {}: {e:#}", admin.name));
            }
        }
    } else if !passed {
        log.say(&format!("topics kept for inspection: every topic containing `{id}` on both clusters"));
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s").ok(), Some(Duration::from_secs(10)));
        assert_eq!(parse_duration("500ms").ok(), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m").ok(), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("7").ok(), Some(Duration::from_secs(7)));
        assert!(parse_duration("ten").is_err());
        assert!(parse_duration("5x").is_err());
    }
}
