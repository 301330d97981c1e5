//! The scale-out and exactly-once runners (issue 8): `ferry-x2`, two `ferry run` processes started with the
//! same mm2.properties (so one consumer group on the source shares the partitions between them) copying one
//! backlog together, and `ferry-eos`, one `ferry run` with `exactly.once.source.support = enabled`.
//!
//! They are timed by the rules of [`crate::external::backlog`] (from the first poll of the target's end
//! offsets that sees records to the poll that sees everything), with two differences that both runners
//! need. In exactly-once mode every transaction leaves a commit marker in each partition it wrote, which
//! takes an offset but is no record, so end offsets overstate what was copied; and two instances handing
//! partitions to each other might copy a record twice, so "N offsets on the target" need not be "all N
//! records". Hence the bench records the end offsets (and the instances' CPU time) at every poll that
//! changed them, waits until every partition holds its share and nothing changes for [`SETTLE`], stops the
//! instances, reads the target back (read_committed) and only then places the copy in the recorded
//! history: it ended at the first poll where every partition held all that it ends with (in exactly-once
//! mode, including the commit marker after its last record).
//!
//! # Layout
//! - [`run`]: start, poll, stop, read back, time.
//! - [`ReadBack`] / [`read_back`]: what the target holds: records per partition and their offsets,
//!   duplicates, missing keys, records in the wrong partition.
//! - [`Poll`] / [`window`]: the recorded history and the copy window in it (pure).
//! - [`InstanceStats`] / [`LogCounts`]: per process: peak RSS, CPU, exit status, and from its log the
//!   partitions the group assigned and revoked, the partitions it started, warnings and errors.
//! - [`ratio`]: a runner's records/s over ferry's in the same run.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use serde::Serialize;

use crate::external::{Flow, Kind, Launcher};
use crate::procstat;
use crate::report::{Measurement, MB};
use crate::workload::{Limits, Workload};
use ferry_loadtest::admin::Admin;

/// How long the target's end offsets must stay unchanged, once every partition holds its share, before
/// the instances are stopped (a commit marker or a re-copied record may still come).
pub const SETTLE: Duration = Duration::from_millis(1000);

/// How long reading the target back may take.
const READ_BACK_TIMEOUT: Duration = Duration::from_secs(120);

/// One ferry process of a run.
#[derive(Clone, Debug, Default, Serialize)]
pub struct InstanceStats {
    /// Peak resident memory (`VmHWM`) when the copy was complete, MB.
    pub peak_rss_mb: Option<f64>,
    /// CPU seconds (user + system) during the copy window.
    pub cpu_seconds: Option<f64>,
    /// Exit status after SIGTERM.
    pub exit: String,
    /// From its log.
    pub log: LogCounts,
    /// Its log file.
    pub log_path: String,
}

/// What one instance's log says about its share of the work.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct LogCounts {
    /// Partitions the group assigned to it, summed over rebalances.
    pub assigned: u64,
    /// Partitions revoked from it (handed over to the other instance), summed.
    pub revoked: u64,
    /// "partition started" lines of the workload's topic: partitions it copied from (a partition assigned
    /// twice counts twice).
    pub started: u64,
    /// Time of day (UTC seconds) of its first and last "partition started" line of the workload's topic.
    pub started_between_s: Option<(f64, f64)>,
    /// WARN lines.
    pub warnings: u64,
    /// ERROR lines.
    pub errors: u64,
}

/// Seconds since midnight of a log line's timestamp (`2026-11-27T12:26:06.474295Z …`).
fn time_of_day(line: &str) -> Option<f64> {
    let time = line.split_whitespace().next()?.split_once('T')?.1.strip_suffix('Z')?;
    let mut parts = time.split(':');
    let (h, m, s) = (parts.next()?.parse::<f64>().ok()?, parts.next()?.parse::<f64>().ok()?, parts.next()?);
    Some(h * 3600.0 + m * 60.0 + s.parse::<f64>().ok()?)
}

impl LogCounts {
    /// Counts the lines of a ferry log (tracing's default format: `<time> <LEVEL> <target>: <message> k=v…`);
    /// `topic` is the workload's source topic (the group also assigns the `heartbeats` topic's partition).
    pub fn parse(text: &str, topic: &str) -> LogCounts {
        let mut c = LogCounts::default();
        let topic_field = format!("topic=\"{topic}\"");
        for line in text.lines() {
            let partitions = || {
                line.split_whitespace()
                    .find_map(|w| w.strip_prefix("partitions="))
                    .and_then(|v| v.parse::<u64>().ok())
                    .unwrap_or(0)
            };
            if line.contains("group: partitions assigned to this instance") {
                c.assigned += partitions();
            } else if line.contains("group: partitions revoked from this instance") {
                c.revoked += partitions();
            } else if line.contains(" partition started") && line.contains(&topic_field) {
                c.started += 1;
                if let Some(t) = time_of_day(line) {
                    c.started_between_s = Some(c.started_between_s.map_or((t, t), |(a, b)| (a.min(t), b.max(t))));
                }
            }
            let level = line.split_whitespace().nth(1).unwrap_or_default();
            c.warnings += u64::from(level == "WARN");
            c.errors += u64::from(level == "ERROR");
        }
        c
    }
}

/// What the target topic held after the run, read back with `isolation.level = read_committed`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ReadBack {
    /// Records read (committed ones only).
    pub records: u64,
    /// Distinct keys among them that belong to the workload.
    pub distinct: u64,
    /// Records whose key had been read before.
    pub duplicates: u64,
    /// Workload keys never read.
    pub missing: u64,
    /// Records in another partition than their key's (`key mod partitions`).
    pub misplaced: u64,
    /// Records whose key is not one of the workload's.
    pub foreign: u64,
    /// Partitions whose end was not reached in time (the read-back is then incomplete).
    pub unfinished_partitions: u64,
    /// Offsets below each partition's last record that hold no committed record, summed: in exactly-once
    /// mode the commit markers (one per transaction and partition) and any aborted records.
    pub non_record_offsets: u64,
    /// Offsets of the records read, per partition, ascending (not in the JSON: up to millions).
    #[serde(skip)]
    pub offsets: Vec<Vec<i64>>,
}

impl ReadBack {
    /// A read-back of `partitions` partitions of a `records`-record workload, nothing read yet.
    fn new(partitions: i32) -> ReadBack {
        ReadBack { offsets: vec![Vec::new(); partitions.max(0) as usize], ..ReadBack::default() }
    }

    /// Counts one record of `partition` at `offset` with `key`; `seen` is the workload's key bitmap.
    fn observe(&mut self, partitions: i32, records: u64, seen: &mut [u64], partition: i32, offset: i64, key: &[u8]) {
        self.records += 1;
        if let Some(list) = self.offsets.get_mut(partition as usize) {
            list.push(offset);
        }
        let Some(i) = <[u8; 8]>::try_from(key).ok().map(u64::from_be_bytes).filter(|i| *i < records) else {
            self.foreign += 1;
            return;
        };
        if i % partitions.max(1) as u64 != partition as u64 {
            self.misplaced += 1;
        }
        let (word, bit) = ((i / 64) as usize, 1u64 << (i % 64));
        // `i < records` and the bitmap has `records.div_ceil(64)` words: the index is in range
        if seen[word] & bit != 0 {
            self.duplicates += 1;
        } else {
            seen[word] |= bit;
            self.distinct += 1;
        }
    }

    /// Whether the target holds every record of the workload exactly where it belongs, each at least once.
    pub fn complete(&self) -> bool {
        self.missing == 0 && self.misplaced == 0 && self.foreign == 0 && self.unfinished_partitions == 0
    }

    /// One line for the report's note column.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "read back (read_committed): {} records, {} duplicates, {} missing",
            self.records, self.duplicates, self.missing
        );
        if self.misplaced > 0 || self.foreign > 0 {
            s.push_str(&format!(", {} in the wrong partition, {} foreign", self.misplaced, self.foreign));
        }
        if self.non_record_offsets > 0 {
            s.push_str(&format!(", {} offsets without a record (commit markers)", self.non_record_offsets));
        }
        if self.unfinished_partitions > 0 {
            s.push_str(&format!(", {} partitions not read to the end", self.unfinished_partitions));
        }
        s
    }
}

/// Reads `topic` (`workload.partitions` partitions) on `bootstrap` from the start to its end with a
/// read_committed consumer.
///
/// # Errors
/// When the consumer cannot be created or assigned, or the bench is interrupted; a partition that does
/// not reach its end within [`READ_BACK_TIMEOUT`] is counted in `unfinished_partitions`.
pub fn read_back(bootstrap: &str, topic: &str, workload: &Workload) -> Result<ReadBack> {
    let consumer: BaseConsumer = crate::clients::consumer_config(bootstrap, "ferry-bench-read-back")
        .set("isolation.level", "read_committed")
        .set("enable.partition.eof", "true")
        .create()
        .context("creating the read-back consumer")?;
    let mut tpl = TopicPartitionList::new();
    for p in 0..workload.partitions {
        tpl.add_partition_offset(topic, p, Offset::Beginning)?;
    }
    consumer.assign(&tpl).context("assigning the read-back consumer")?;
    let mut back = ReadBack::new(workload.partitions);
    let mut seen = vec![0u64; workload.records.div_ceil(64) as usize];
    let mut at_end = vec![false; workload.partitions.max(0) as usize];
    let deadline = Instant::now() + READ_BACK_TIMEOUT;
    while at_end.iter().any(|e| !e) && Instant::now() < deadline {
        crate::check_interrupted()?;
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                if let Some(e) = at_end.get_mut(m.partition() as usize) {
                    *e = false; // more came after an end of partition
                }
                let key = m.key().unwrap_or_default();
                back.observe(workload.partitions, workload.records, &mut seen, m.partition(), m.offset(), key);
            }
            Some(Err(KafkaError::PartitionEOF(p))) => {
                if let Some(e) = at_end.get_mut(p as usize) {
                    *e = true;
                }
            }
            Some(Err(e)) => anyhow::bail!("reading {topic} back: {e}"),
            None => {}
        }
    }
    back.unfinished_partitions = at_end.iter().filter(|e| !**e).count() as u64;
    back.missing = workload.records - back.distinct;
    for list in &mut back.offsets {
        list.sort_unstable();
    }
    back.non_record_offsets =
        back.offsets.iter().filter_map(|o| o.last().map(|l| (l + 1) as u64 - o.len() as u64)).sum();
    Ok(back)
}

/// The target's end offsets at one poll that changed them, with the instances' CPU time.
#[derive(Clone, Debug, PartialEq)]
pub struct Poll {
    /// Seconds since the instances were started.
    pub t_s: f64,
    /// End offset per partition.
    pub ends: Vec<i64>,
    /// User + system CPU seconds of each instance so far (`None` if it could not be read).
    pub cpu: Vec<Option<f64>>,
}

impl Poll {
    /// CPU seconds of all instances (`None` if one could not be read).
    pub fn cpu_total(&self) -> Option<f64> {
        self.cpu.iter().copied().sum()
    }
}

impl Window {
    /// CPU seconds of instance `i` between the two polls, times `scale`.
    fn cpu_of(&self, i: usize, scale: f64) -> Option<f64> {
        let at = |p: &Poll| p.cpu.get(i).copied().flatten();
        at(&self.last).zip(at(&self.first)).map(|(e, s)| (e - s) * scale)
    }
}

/// The copy window found in a history.
#[derive(Clone, Debug, PartialEq)]
pub struct Window {
    /// The first poll that saw records.
    pub first: Poll,
    /// Records on the target at that poll.
    pub at_first: u64,
    /// The first poll at which every partition held all it ends with.
    pub last: Poll,
}

/// Records of a partition below `end`, given the offsets of its records (ascending).
fn records_below(offsets: &[i64], end: i64) -> u64 {
    offsets.partition_point(|o| *o < end) as u64
}

/// The copy window in `history` given the target's final content: `offsets` per partition (ascending), and
/// `marker` (1 in exactly-once mode: the commit marker written after a partition's last record is part of
/// the copy; else 0). `None` when the history never saw a record or never saw the final content.
pub fn window(history: &[Poll], offsets: &[Vec<i64>], marker: i64) -> Option<Window> {
    let needed: Vec<i64> = offsets.iter().map(|o| o.last().map_or(0, |last| last + 1 + marker)).collect();
    let first = history.iter().find(|p| p.ends.iter().any(|e| *e > 0))?;
    let last = history.iter().find(|p| p.ends.iter().zip(&needed).all(|(e, n)| e >= n))?;
    let at_first = first.ends.iter().zip(offsets).map(|(e, o)| records_below(o, *e)).sum();
    Some(Window { first: first.clone(), at_first, last: last.clone() })
}

/// Seconds from the first "partition started" of any instance to the last (the group's hand-overs, and in
/// exactly-once mode the opening of the transactional producers, happen in between).
fn start_spread(instances: &[InstanceStats]) -> Option<f64> {
    let all: Vec<(f64, f64)> = instances.iter().filter_map(|i| i.log.started_between_s).collect();
    let first = all.iter().map(|a| a.0).reduce(f64::min)?;
    let last = all.iter().map(|a| a.1).reduce(f64::max)?;
    // a copy across midnight
    Some(if last >= first { last - first } else { last + 86_400.0 - first })
}

/// `a / b` for records/s (`None` unless both are positive).
pub fn ratio(a: f64, b: f64) -> Option<f64> {
    (a > 0.0 && b > 0.0).then(|| a / b)
}

/// Runs `kind` (`ferry-x2` or `ferry-eos`) on the preloaded `flow.topic`, times the copy of all
/// `workload.records` records (see the module docs), stops the instances and checks the target.
///
/// # Errors
/// Only when a process cannot be started or the bench is interrupted; an instance that fails, a copy that
/// times out or is incomplete is a failed measurement.
pub fn run(
    launcher: &Launcher,
    target: &Admin,
    kind: Kind,
    flow: &Flow,
    workload: &Workload,
    limits: Limits,
) -> Result<Measurement> {
    let mut running = launcher.start_instances(kind, flow, kind.instances())?;
    let pids: Vec<u32> = running.iter().map(|r| r.pid()).collect();
    let started = Instant::now();
    let share = workload.records as i64 / i64::from(workload.partitions.max(1));
    let cpu_now = || pids.iter().map(|p| procstat::cpu_seconds(Some(*p))).collect::<Vec<_>>();
    let mut history: Vec<Poll> = Vec::new();
    let mut ends = vec![0i64; flow.partitions.max(0) as usize];
    let mut topic_known = false;
    let mut failure = None;
    // when every partition first held its share, and when the end offsets last changed after that
    let mut last_change = Duration::ZERO;
    let mut peaks: Vec<Option<u64>> = vec![None; pids.len()];
    loop {
        crate::check_interrupted()?;
        topic_known = topic_known || target.partitions_with_leader(&flow.remote_topic) > 0;
        if topic_known {
            for (end, now) in ends.iter_mut().zip(target.end_offsets_partial(&flow.remote_topic, flow.partitions)) {
                *end = now.unwrap_or(0).max(*end);
            }
        }
        let now = started.elapsed();
        if history.last().is_none_or(|h| h.ends != ends) {
            history.push(Poll { t_s: now.as_secs_f64(), ends: ends.clone(), cpu: cpu_now() });
            last_change = now;
        }
        let full = ends.iter().all(|e| *e >= share);
        if full {
            // the peak while copying (an instance's memory does not grow while it idles)
            for (peak, pid) in peaks.iter_mut().zip(&pids) {
                *peak = procstat::peak_rss_bytes(Some(*pid)).or(*peak);
            }
            if now - last_change >= SETTLE {
                break;
            }
        }
        if let Some((i, status)) = running.iter_mut().enumerate().find_map(|(i, r)| r.exited().map(|s| (i, s))) {
            failure = Some(format!(
                "instance {} exited with {status} at {}/{} offsets; log {}:\n{}",
                i + 1,
                ends.iter().sum::<i64>(),
                workload.records,
                running[i].log.display(),
                running[i].log_tail(15)
            ));
            break;
        }
        if now > limits.timeout {
            failure = Some(format!(
                "timed out after {:?} at {}/{} offsets (logs {})",
                limits.timeout,
                ends.iter().sum::<i64>(),
                workload.records,
                running.iter().map(|r| r.log.display().to_string()).collect::<Vec<_>>().join(", ")
            ));
            break;
        }
        std::thread::sleep(if history.len() <= 1 { Duration::from_millis(5) } else { Duration::from_millis(20) });
    }
    for (peak, pid) in peaks.iter_mut().zip(&pids) {
        *peak = peak.or_else(|| procstat::peak_rss_bytes(Some(*pid)));
    }
    // all at once: instances stopping one by one would hand their partitions to each other first
    for r in &mut running {
        r.terminate();
    }
    let mut instances: Vec<InstanceStats> = running
        .into_iter()
        .zip(&peaks)
        .map(|(r, peak)| {
            let log_path = r.log.display().to_string();
            let exit = r.stop();
            let log = LogCounts::parse(&std::fs::read_to_string(&log_path).unwrap_or_default(), &flow.topic);
            InstanceStats { peak_rss_mb: peak.map(|b| b as f64 / MB), cpu_seconds: None, exit, log, log_path }
        })
        .collect();
    let back = if topic_known { Some(read_back(&launcher.rig.dst, &flow.remote_topic, workload)?) } else { None };
    let marker = i64::from(kind == Kind::FerryEos);
    let win = back.as_ref().and_then(|b| window(&history, &b.offsets, marker));
    let mut m = match (&failure, &back, win) {
        (None, Some(b), Some(w)) if w.at_first < b.distinct => {
            // as in external::backlog: the rate over the records copied between the two polls, stated as the
            // time to copy all of them at that rate
            let n = b.distinct;
            let scale = n as f64 / (n - w.at_first) as f64;
            let seconds = (w.last.t_s - w.first.t_s) * scale;
            let cpu = w.last.cpu_total().zip(w.first.cpu_total()).map(|(e, s)| (e - s) * scale);
            let mut m = Measurement::new(kind.name(), workload, n, seconds).with_cpu(cpu);
            m.startup_seconds = Some(w.first.t_s);
            m.cpu_seconds_total = w.last.cpu_total();
            for (i, stats) in instances.iter_mut().enumerate() {
                stats.cpu_seconds = w.cpu_of(i, scale);
            }
            m
        }
        (None, Some(_), Some(_)) => Measurement::failed(
            kind.name(),
            workload,
            "copied everything between two polls: too little data to time (raise --mib)".into(),
        ),
        (None, Some(b), None) => {
            let mut m = Measurement::failed(
                kind.name(),
                workload,
                "the target never held the final content at a poll (see read back)".into(),
            );
            m.records = b.distinct;
            m
        }
        (f, _, _) => {
            let mut m = Measurement::failed(kind.name(), workload, f.clone().unwrap_or("no record arrived".into()));
            m.records = back.as_ref().map_or(0, |b| b.distinct);
            m
        }
    };
    m.peak_rss_mb = peaks.iter().flatten().map(|b| *b as f64 / MB).reduce(f64::max);
    let mut notes: Vec<String> = Vec::new();
    if let Some(b) = &back {
        if !b.complete() && m.ok {
            m.ok = false;
            notes.push("incomplete copy".into());
        }
        if kind == Kind::FerryEos && b.duplicates > 0 && m.ok {
            m.ok = false;
            notes.push("exactly-once violated".into());
        }
        notes.push(b.summary());
    }
    if kind.instances() > 1 {
        let part = |f: fn(&LogCounts) -> u64| instances.iter().map(|i| f(&i.log).to_string()).collect::<Vec<_>>();
        notes.push(format!(
            "group partitions assigned per instance {} (revoked {}; {} partitions started {})",
            part(|l| l.assigned).join(" / "),
            part(|l| l.revoked).join(" / "),
            flow.topic,
            part(|l| l.started).join(" / ")
        ));
    }
    if let Some(spread) = start_spread(&instances) {
        notes.push(format!("last partition started {spread:.1} s after the first"));
    }
    let (warnings, errors): (u64, u64) =
        instances.iter().fold((0, 0), |(w, e), i| (w + i.log.warnings, e + i.log.errors));
    if warnings + errors > 0 {
        notes.push(format!("{warnings} WARN / {errors} ERROR log lines"));
    }
    let bad_exits: Vec<String> = instances
        .iter()
        .enumerate()
        .filter(|(_, i)| !i.exit.contains("exit status: 0"))
        .map(|(n, i)| format!("instance {} {} after SIGTERM (log {})", n + 1, i.exit, i.log_path))
        .collect();
    notes.extend(bad_exits);
    let mut all = m.note.take().map(|n| vec![n]).unwrap_or_default();
    all.extend(notes);
    m.note = (!all.is_empty()).then(|| all.join("; "));
    m.exit = Some(instances.iter().map(|i| i.exit.clone()).collect::<Vec<_>>().join(" / "));
    m.read_back = back;
    m.instances = instances;
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn poll(t_s: f64, ends: &[i64], cpu: f64) -> Poll {
        Poll { t_s, ends: ends.to_vec(), cpu: vec![Some(cpu)] }
    }

    #[test]
    fn window_ends_when_every_partition_holds_its_final_content() {
        // two partitions of 4 records each; partition 1 got records 2..4 twice (offsets 2..6)
        let offsets = vec![vec![0, 1, 2, 3], vec![0, 1, 2, 3, 4, 5]];
        let history = vec![
            poll(1.0, &[0, 0], 0.1),
            poll(2.0, &[1, 0], 0.5),
            poll(3.0, &[4, 4], 1.0), // 4 + 4 offsets: the end-offset sum says "done", but 1 is not
            poll(4.0, &[4, 6], 1.5),
        ];
        let w = window(&history, &offsets, 0).expect("window");
        assert_eq!(w.first.t_s, 2.0);
        assert_eq!(w.at_first, 1);
        assert_eq!(w.last.t_s, 4.0);
    }

    #[test]
    fn commit_markers_are_offsets_but_not_records() {
        // exactly-once: partition 0 holds records at 0, 1, (marker 2), 3, 4, (marker 5)
        let offsets = vec![vec![0, 1, 3, 4]];
        let history = vec![poll(1.0, &[2], 0.0), poll(2.0, &[5], 1.0), poll(3.0, &[6], 2.0)];
        let w = window(&history, &offsets, 1).expect("window");
        assert_eq!(w.at_first, 2);
        assert_eq!(w.last.t_s, 3.0, "the last record is visible at 2 s, its commit marker at 3 s");
        assert_eq!(window(&history, &offsets, 0).expect("window").last.t_s, 2.0);
        assert!(window(&history[..2], &offsets, 1).is_none());
        assert!(window(&[poll(1.0, &[0], 0.0)], &offsets, 1).is_none());
    }

    #[test]
    fn read_back_counts_duplicates_missing_and_misplaced() {
        let w = Workload { record_bytes: 10, partitions: 2, records: 4 };
        let mut back = ReadBack::new(2);
        let mut seen = vec![0u64; 1];
        for (p, o, i) in [(0, 0, 0u64), (0, 1, 2), (1, 0, 1), (1, 1, 1), (0, 2, 3)] {
            back.observe(w.partitions, w.records, &mut seen, p, o, &i.to_be_bytes());
        }
        back.observe(w.partitions, w.records, &mut seen, 1, 2, b"x");
        back.missing = w.records - back.distinct;
        assert_eq!((back.records, back.distinct, back.duplicates, back.missing), (6, 4, 1, 0));
        assert_eq!((back.misplaced, back.foreign), (1, 1)); // key 3 in partition 0; "x"
        assert!(!back.complete());
        assert_eq!(back.offsets[1], vec![0, 1, 2]);
    }

    #[test]
    fn log_counts_follow_the_group_and_the_partitions() {
        let log = "\
2026-01-01T00:00:00.000000Z  INFO ferry::membership: group: partitions assigned to this instance flow=a->b partitions=16
2026-01-01T00:00:00.100000Z  INFO ferry::pipeline: partition started flow=a->b topic=\"t\" partition=0 target_topic=a.t start=None
2026-01-01T00:00:00.200000Z  INFO ferry::pipeline: partition started flow=a->b topic=\"t\" partition=1 target_topic=a.t start=None
2026-01-01T00:00:01.000000Z  INFO ferry::membership: group: partitions revoked from this instance flow=a->b partitions=8 lost=false
2026-01-01T00:00:02.000000Z  WARN ferry::x: something
2026-01-01T00:00:03.000000Z ERROR ferry::y: something else";
        let c = LogCounts::parse(log, "t");
        let (first, last) = c.started_between_s.expect("start times");
        assert!((first - 0.1).abs() < 1e-9 && (last - 0.2).abs() < 1e-9);
        let expected =
            LogCounts { assigned: 16, revoked: 8, started: 2, started_between_s: None, warnings: 1, errors: 1 };
        assert_eq!(LogCounts { started_between_s: None, ..c }, expected);
        assert_eq!(LogCounts::parse(log, "other").started, 0);
        assert_eq!(time_of_day("2026-01-01T01:02:03.500000Z  INFO x"), Some(3723.5));
    }

    #[test]
    fn ratios_need_two_rates() {
        assert_eq!(ratio(50.0, 100.0), Some(0.5));
        assert_eq!(ratio(50.0, 0.0), None);
        assert_eq!(ratio(0.0, 100.0), None);
    }
}
