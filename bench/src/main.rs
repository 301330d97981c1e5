//! `ferry-bench`: measures, in one run against the rig's two Kafka clusters, what the brokers can take
//! (produce-only and consume-only ceilings), a naive one-thread copy loop, ferry, and real MirrorMaker 2
//! (defaults and tuned), on backlog workloads, plus two ferry instances sharing a backlog and ferry in
//! exactly-once mode; then end-to-end latency in steady mode. Writes JSON,
//! Markdown and a PNG under `bench/results/` (a timestamped set plus `latest.*`).
//!
//! ```text
//! scripts/kafka-rig.sh start
//! cargo build --release -p ferry
//! cargo run --release -p ferry-bench -- --quick
//! ```
//!
//! # Layout
//! - `clients`: the client settings the in-process runners share. The clusters (`.rig/env`), topic admin
//!   and the end-offset probe are `ferry_loadtest::{rig, admin}`, shared with the load test.
//! - `workload`: workloads, payloads, the producer loop (preload and produce ceiling).
//! - `runners`: the in-process runners (ceilings, naive loop).
//! - `external`: ferry and MM2 as child processes, generated mm2.properties, the backlog timer.
//! - `multi`: the scale-out (`ferry-x2`) and exactly-once (`ferry-eos`) runners, timed from the target's
//!   end-offset history and checked by reading the target back.
//! - `steady`: the latency mode.
//! - `wan`, `netdelay`: WAN mode (the source behind a delayed link) and the delay itself.
//! - `rss`: the many-partition memory run (ferry's RSS over time).
//! - `report`, `plot`, `procstat`, `progress`: results, their files, CPU and memory probes, progress lines.

mod clients;
mod external;
mod multi;
mod netdelay;
mod plot;
mod procstat;
mod progress;
mod repeat;
mod report;
mod rss;
mod runners;
mod steady;
mod wan;
mod workload;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use clap::Parser;

use external::{Flow, Kind, Launcher};
use ferry_loadtest::admin::Admin;
use ferry_loadtest::rig::{random_id, workspace_root, Rig};
use progress::Progress;
use report::{Latency, Machine, Measurement, Report};
use wan::WanPlan;
use workload::{Limits, Workload};

/// Set by SIGINT/SIGTERM; every wait loop checks it so children are stopped and topics deleted on the way out.
static INTERRUPTED: std::sync::OnceLock<Arc<AtomicBool>> = std::sync::OnceLock::new();

/// Fails once the bench was asked to stop.
///
/// # Errors
/// After SIGINT or SIGTERM.
pub fn check_interrupted() -> Result<()> {
    if INTERRUPTED.get().is_some_and(|f| f.load(Ordering::Relaxed)) {
        bail!("interrupted");
    }
    Ok(())
}

/// Measure ferry against the brokers' ceilings, a naive copy loop and real MirrorMaker 2, in one run.
#[derive(Parser, Debug)]
#[command(
    version,
    about,
    after_help = "Example:\n  scripts/kafka-rig.sh start && cargo build --release -p ferry\n  cargo run --release -p ferry-bench -- --quick"
)]
struct Args {
    /// About 3–4 minutes: 100 B and 1 KiB records, 1 and 16 partitions, ~128 MiB per workload, MM2,
    /// ferry-x2 and ferry-eos only on 1 KiB × 16 partitions, 10 s of steady mode (direct, naive relay and ferry) at 50 %
    /// of the ceiling.
    #[arg(long)]
    quick: bool,
    /// Where results go (default: bench/results in the workspace).
    #[arg(long)]
    out: Option<PathBuf>,
    /// The ferry binary (default: $FERRY_BIN, else next to this binary, else target/release/ferry).
    #[arg(long)]
    ferry_bin: Option<PathBuf>,
    /// Record value sizes in bytes (default: 100,1024 with --quick, else 100,1024,10240).
    #[arg(long, value_delimiter = ',')]
    sizes: Vec<usize>,
    /// Partition counts (default: 1,16 with --quick, else 1,16,128).
    #[arg(long, value_delimiter = ',')]
    partitions: Vec<i32>,
    /// MiB of keys and values per workload (default: 128 with --quick, else 1024).
    #[arg(long)]
    mib: Option<u64>,
    /// At most this many records per workload (default: 600000 with --quick, else 5000000).
    #[arg(long)]
    max_records: Option<u64>,
    /// Runners (default all): produce-ceiling, consume-ceiling, naive, ferry, ferry-x2 (two instances
    /// sharing the backlog), ferry-eos (exactly-once mode), mm2-default, mm2-tuned. ferry-x2 and ferry-eos
    /// are compared with ferry, so run them with it.
    #[arg(long, value_delimiter = ',')]
    runners: Vec<String>,
    /// Run MM2 on every workload (the default without --quick; with --quick only on 1 KiB × 16 partitions).
    #[arg(long)]
    mm2_all_workloads: bool,
    /// Seconds of steady-mode production per measurement (default: 10 with --quick, else 30; 0 skips it).
    #[arg(long)]
    steady_seconds: Option<u64>,
    /// Steady-mode rates as percentages of the produce ceiling (default: 50 with --quick, else 50,90).
    #[arg(long, value_delimiter = ',')]
    steady_percent: Vec<u32>,
    /// Steady-mode runners (default: direct,naive,ferry with --quick, else also mm2-default,mm2-tuned);
    /// `direct` reads the source topic itself: the latency floor of the instrument, nothing copied;
    /// `naive` copies with a one-thread relay in the bench: the floor of any copy through both brokers.
    #[arg(long, value_delimiter = ',')]
    steady_runners: Vec<String>,
    /// Keep the bench's topics on the clusters (default: deleted after each workload).
    #[arg(long)]
    keep_topics: bool,
    /// WAN mode: round-trip delays in ms added to the source broker's traffic (default: 0,50,100 in a full
    /// run, none with --quick; 0 is always measured first, as the reference). Needs root and iptables.
    #[arg(long, value_delimiter = ',')]
    rtt_ms: Vec<u32>,
    /// Skip WAN mode in a full run.
    #[arg(long)]
    no_wan: bool,
    /// WAN mode: MiB of the 1 KiB × 16 partitions backlog (default: 128 with --quick, else 512).
    #[arg(long)]
    wan_mib: Option<u64>,
    /// WAN mode: stop each runner this many seconds after its first record (default: 20 with --quick,
    /// else 30).
    #[arg(long)]
    wan_cap_seconds: Option<u64>,
    /// WAN mode runners (default all): consume-ceiling, naive, ferry, mm2-default, mm2-tuned; also
    /// consume-ceiling-x<N> (the ceiling read on N source connections at once).
    #[arg(long, value_delimiter = ',')]
    wan_runners: Vec<String>,
    /// Memory run: ferry copies a backlog over this many partitions while its RSS is sampled (default:
    /// 1000 in a full run, none with --quick; 0 skips it).
    #[arg(long)]
    rss_partitions: Option<i32>,
    /// Memory run: MiB of 1 KiB records in the backlog.
    #[arg(long, default_value_t = 512)]
    rss_mib: u64,
    /// Run every runner this many times per workload (per RTT in WAN mode, per load in steady mode),
    /// interleaved (round 1 of every runner, then round 2, ...), and report the run with the median rate and
    /// the median of the rounds' ratios (to the ceiling; in WAN mode to the same round at 0 ms), in steady
    /// mode the run with the median p99: on a noisy machine one run proves little.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=20))]
    repeat: u32,
    /// Only remove WAN delays left behind by a bench that was killed, then exit.
    #[arg(long)]
    clear_wan: bool,
}

/// The plan derived from [`Args`].
struct Plan {
    quick: bool,
    workloads: Vec<Workload>,
    runners: Vec<String>,
    mm2_all: bool,
    steady_seconds: u64,
    steady_percent: Vec<u32>,
    steady_runners: Vec<steady::Runner>,
    wan: Option<WanPlan>,
    rss_partitions: i32,
    rss_mib: u64,
    repeat: u32,
}

impl Plan {
    fn from(args: &Args) -> Result<Plan> {
        let q = args.quick;
        let or = |v: &Vec<usize>, d: &[usize]| if v.is_empty() { d.to_vec() } else { v.clone() };
        let sizes = or(&args.sizes, if q { &[100, 1024] } else { &[100, 1024, 10240] });
        let partitions = if args.partitions.is_empty() {
            if q {
                vec![1, 16]
            } else {
                vec![1, 16, 128]
            }
        } else {
            args.partitions.clone()
        };
        let budget = args.mib.unwrap_or(if q { 128 } else { 1024 }) << 20;
        let max_records = args.max_records.unwrap_or(if q { 600_000 } else { 5_000_000 });
        let mut workloads = Vec::new();
        for &size in &sizes {
            for &p in &partitions {
                if size == 0 || p <= 0 {
                    bail!("sizes and partitions must be positive");
                }
                workloads.push(Workload::sized(size, p, budget, max_records));
            }
        }
        let runners: Vec<String> = if args.runners.is_empty() {
            report::RUNNERS.iter().map(|s| s.to_string()).collect()
        } else {
            args.runners.clone()
        };
        for r in &runners {
            if !report::RUNNERS.contains(&r.as_str()) {
                bail!("unknown runner `{r}` (one of {})", report::RUNNERS.join(", "));
            }
        }
        let steady_runners = if args.steady_runners.is_empty() {
            use steady::Runner::{Direct, Naive, Replicator};
            if q {
                vec![Direct, Naive, Replicator(Kind::Ferry)]
            } else {
                vec![Direct, Naive, Replicator(Kind::Ferry), Replicator(Kind::Mm2Default), Replicator(Kind::Mm2Tuned)]
            }
        } else {
            args.steady_runners.iter().map(|s| steady::Runner::from_name(s)).collect::<Result<_>>()?
        };
        let wan = Plan::wan(args)?;
        Ok(Plan {
            quick: q,
            workloads,
            runners,
            mm2_all: args.mm2_all_workloads || !q,
            steady_seconds: args.steady_seconds.unwrap_or(if q { 10 } else { 30 }),
            steady_percent: if args.steady_percent.is_empty() {
                if q {
                    vec![50]
                } else {
                    vec![50, 90]
                }
            } else {
                args.steady_percent.clone()
            },
            steady_runners,
            wan,
            rss_partitions: args.rss_partitions.unwrap_or(if q { 0 } else { 1000 }),
            rss_mib: args.rss_mib,
            repeat: args.repeat,
        })
    }

    /// WAN mode's plan: off with --quick unless --rtt-ms is given, off with --no-wan.
    fn wan(args: &Args) -> Result<Option<WanPlan>> {
        let q = args.quick;
        let mut rtts = if args.rtt_ms.is_empty() {
            if q || args.no_wan {
                return Ok(None);
            }
            vec![0, 50, 100]
        } else {
            args.rtt_ms.clone()
        };
        if args.no_wan {
            return Ok(None);
        }
        rtts.push(0);
        rtts.sort_unstable();
        rtts.dedup();
        let runners: Vec<String> = if args.wan_runners.is_empty() {
            wan::WAN_RUNNERS.iter().map(|s| s.to_string()).collect()
        } else {
            args.wan_runners.clone()
        };
        if let Some(bad) = runners.iter().find(|r| !wan::is_wan_runner(r)) {
            bail!("unknown WAN runner `{bad}` (one of {}, consume-ceiling-x<N>)", wan::WAN_RUNNERS.join(", "));
        }
        let mib = args.wan_mib.unwrap_or(if q { 128 } else { 512 });
        Ok(Some(WanPlan {
            rtts_ms: rtts,
            workload: Workload::sized(1024, 16, mib << 20, u64::MAX),
            cap: Duration::from_secs(args.wan_cap_seconds.unwrap_or(if q { 20 } else { 30 })),
            runners,
            rounds: args.repeat,
        }))
    }

    /// The workload MM2 runs on with --quick and the steady mode uses: 1 KiB × 16 partitions if planned.
    fn headline(&self) -> Option<Workload> {
        self.workloads.iter().find(|w| w.record_bytes == 1024 && w.partitions == 16).or(self.workloads.last()).copied()
    }

    fn runs(&self, runner: &str, w: &Workload) -> bool {
        if !self.runners.iter().any(|r| r == runner) {
            return false;
        }
        let headline_only =
            (runner.starts_with("mm2") && !self.mm2_all) || (report::FERRY_VARIANTS.contains(&runner) && self.quick);
        if headline_only {
            return self.headline().is_some_and(|h| h.record_bytes == w.record_bytes && h.partitions == w.partitions);
        }
        true
    }
}

/// One line about a measurement, for the progress output.
pub fn summary(m: &Measurement) -> String {
    if m.ok {
        format!(
            "{:<16} {:<14} {:>10.0} rec/s {:>7.1} MB/s{}{}{}{}",
            m.runner,
            m.label,
            m.records_per_sec,
            m.mb_per_sec,
            m.startup_seconds.map(|s| format!("  start-up {s:.1} s")).unwrap_or_default(),
            m.cpu_s_per_gb.map(|c| format!("  {c:.1} CPU s/GB")).unwrap_or_default(),
            m.peak_rss_mb.map(|r| format!("  {r:.0} MB RSS")).unwrap_or_default(),
            // the read-back and the instances' shares of the partitions
            m.note
                .as_deref()
                .filter(|_| report::FERRY_VARIANTS.contains(&m.runner.as_str()))
                .map(|n| format!("  ({n})"))
                .unwrap_or_default(),
        )
    } else {
        format!("{:<16} {:<14} FAILED: {}", m.runner, m.label, m.note.as_deref().unwrap_or("?"))
    }
}

/// (`YYYY-MM-DDTHH:MM:SSZ`, `YYYYMMDD-HHMMSS`) for now, in UTC.
fn utc_now() -> (String, String) {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let (hh, mm, ss) = (rem / 3600, rem % 3600 / 60, rem % 60);
    (format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}Z"), format!("{y:04}{m:02}{d:02}-{hh:02}{mm:02}{ss:02}"))
}

fn command_output(cmd: &str, args: &[&str]) -> Option<String> {
    let out = std::process::Command::new(cmd).args(args).output().ok()?;
    let text = if out.stdout.is_empty() { out.stderr } else { out.stdout };
    String::from_utf8(text).ok().and_then(|s| s.lines().next().map(|l| l.trim().to_string()))
}

fn machine(rig: &Rig) -> Machine {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let meminfo = read("/proc/meminfo");
    let mem_kb: f64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0.0);
    let cpu = read("/proc/cpuinfo")
        .lines()
        .find_map(|l| l.strip_prefix("model name").and_then(|r| r.split_once(':')).map(|(_, v)| v.trim().to_string()))
        .unwrap_or_default();
    Machine {
        nproc: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        cpu,
        memory_gib: mem_kb / 1024.0 / 1024.0,
        kernel: read("/proc/sys/kernel/osrelease").trim().to_string(),
        kafka: rig.kafka_version().unwrap_or_else(|| "unknown".into()),
        java: command_output("java", &["-version"]).unwrap_or_else(|| "no java".into()),
        librdkafka: rdkafka::util::get_rdkafka_version().1,
        ferry_commit: command_output(
            "git",
            &["-C", &workspace_root().to_string_lossy(), "describe", "--always", "--dirty"],
        )
        .unwrap_or_else(|| "unknown".into()),
    }
}

/// Runs one backlog workload: preload, then every planned runner; returns the measurements.
fn run_workload(plan: &Plan, ctx: &Ctx<'_>, w: &Workload, tag: &str, mm2_ok: bool) -> Result<Vec<Measurement>> {
    let Ctx { rig, source, target, progress, .. } = *ctx;
    let label = w.label();
    let src_topic = format!("fb-{tag}-src");
    progress.begin(format!("{label}: preloading {} records into the source", w.records));
    source.create_topic(&src_topic, w.partitions)?;
    let preload = workload::produce(&runners::producer(&rig.src)?, &src_topic, w).context("preloading the source")?;
    progress.done(format!(
        "preloaded {label}: {} records, {:.1} MB in {:.1} s",
        w.records,
        w.bytes() as f64 / 1e6,
        preload.as_secs_f64()
    ));

    let rounds: Vec<Vec<Measurement>> = (0..plan.repeat)
        .map(|round| {
            let round_tag = if plan.repeat == 1 { tag.to_string() } else { format!("{tag}r{round}") };
            if plan.repeat > 1 {
                progress.say(format!("{label}: round {} of {}", round + 1, plan.repeat));
            }
            let round = run_round(plan, ctx, w, &src_topic, &round_tag, mm2_ok);
            // The copies of one round go before the next: gigabytes of old segments slow the brokers down.
            if plan.repeat > 1 && !ctx.keep_topics {
                cleanup(source, target, &round_tag, progress);
            }
            round
        })
        .collect::<Result<_>>()?;
    Ok(repeat::medians(rounds))
}

/// One run of every planned runner on the preloaded `src_topic`, with the ratios of this round.
fn run_round(
    plan: &Plan,
    ctx: &Ctx<'_>,
    w: &Workload,
    src_topic: &str,
    tag: &str,
    mm2_ok: bool,
) -> Result<Vec<Measurement>> {
    let Ctx { rig, launcher, target, progress, .. } = *ctx;
    let label = w.label();
    let src_topic = src_topic.to_string();
    let mut results: Vec<Measurement> = Vec::new();
    // generous: a slow replicator is a result, a hung one must not stall the run
    let mut timeout = Duration::from_secs(120);
    let run = |name: &str| plan.runs(name, w);
    if run("produce-ceiling") {
        progress.begin(format!("{label}: produce-only ceiling"));
        let topic = format!("fb-{tag}-ceiling");
        target.create_topic(&topic, w.partitions)?;
        let m = runners::produce_ceiling(rig, w, &topic)?;
        if m.ok {
            timeout = timeout.max(Duration::from_secs_f64(m.seconds * 40.0)).min(Duration::from_secs(900));
        }
        progress.done(summary(&m));
        results.push(m);
    }
    if run("consume-ceiling") {
        progress.begin(format!("{label}: consume-only ceiling"));
        let m = runners::consume_ceiling(rig, w, &src_topic, Limits { timeout, cap: None }, 1)?;
        progress.done(summary(&m));
        results.push(m);
    }
    if run("naive") {
        progress.begin(format!("{label}: naive consume→produce loop"));
        let topic = format!("fb-{tag}-naive");
        target.create_topic(&topic, w.partitions)?;
        let m = runners::naive(rig, w, &src_topic, &topic, Limits { timeout, cap: None })?;
        progress.done(summary(&m));
        results.push(m);
    }
    for kind in [Kind::Ferry, Kind::FerryX2, Kind::FerryEos, Kind::Mm2Default, Kind::Mm2Tuned] {
        if !run(kind.name()) {
            continue;
        }
        if !kind.is_ferry() && !mm2_ok {
            continue;
        }
        progress.begin(format!("{label}: {}", kind.name()));
        let flow = Flow::new(kind, tag, &src_topic, w.partitions);
        let limits = Limits { timeout, cap: None };
        let m = match kind {
            Kind::FerryX2 | Kind::FerryEos => multi::run(launcher, target, kind, &flow, w, limits)?,
            _ => external::backlog(launcher, target, kind, &flow, w, limits, None)?,
        };
        progress.done(summary(&m));
        results.push(m);
    }
    if let Some(ceiling) = results.iter().find(|m| m.runner == "produce-ceiling" && m.ok).map(|m| m.records_per_sec) {
        for m in results.iter_mut().filter(|m| m.ok) {
            m.ratio_to_ceiling = Some(m.records_per_sec / ceiling);
        }
    }
    if let Some(ferry) = results.iter().find(|m| m.runner == "ferry" && m.ok).map(|m| m.records_per_sec) {
        for m in results.iter_mut().filter(|m| m.ok && report::FERRY_VARIANTS.contains(&m.runner.as_str())) {
            m.ratio_to_ferry = multi::ratio(m.records_per_sec, ferry);
        }
    }
    Ok(results)
}

/// Steady mode's measurements of one run: which runners at which loads, on which workload.
struct SteadyPlan<'a> {
    runs: &'a [(steady::Runner, u32)],
    workload: Workload,
    /// The produce ceiling of the workload in records/s: loads are percentages of it.
    ceiling: f64,
    run_id: &'a str,
}

/// Measures every steady run once per round (`--repeat`); `out` always holds the rows of what was
/// measured so far (one per runner and load, combined over the rounds by [`repeat::latency_medians`]).
fn run_steady(plan: &Plan, ctx: &Ctx<'_>, steady: &SteadyPlan<'_>, out: &mut Vec<Latency>) -> Result<()> {
    let mut rounds: Vec<Vec<Latency>> = Vec::new();
    for round in 0..plan.repeat {
        rounds.push(Vec::new());
        for (j, (runner, percent)) in steady.runs.iter().enumerate() {
            let (tag, of_rounds) = if plan.repeat == 1 {
                (format!("{}l{j}", steady.run_id), String::new())
            } else {
                (format!("{}l{j}r{round}", steady.run_id), format!(", round {} of {}", round + 1, plan.repeat))
            };
            ctx.progress.begin(format!(
                "steady: {} at {percent} % of the ceiling, {} s{of_rounds}",
                runner.name(),
                plan.steady_seconds
            ));
            let mut workload = steady.workload;
            workload.records = 0;
            let result = steady::run(&steady::Steady {
                launcher: ctx.launcher,
                target: ctx.target,
                source: ctx.source,
                runner: *runner,
                workload,
                rate: steady.ceiling * f64::from(*percent) / 100.0,
                percent: *percent,
                duration: Duration::from_secs(plan.steady_seconds),
                tag: tag.clone(),
            });
            if !ctx.keep_topics {
                cleanup(ctx.source, ctx.target, &tag, ctx.progress);
            }
            let l = result?;
            ctx.progress.done(format!(
                "{:<16} steady {:>3} % ({:.0} rec/s): p50 {:.1} ms  p99 {:.1} ms  p99.9 {:.1} ms  max {:.1} ms  {}/{} received  CPU busy {}{}",
                l.runner,
                l.percent_of_ceiling,
                l.achieved_rate,
                l.p50_ms,
                l.p99_ms,
                l.p999_ms,
                l.max_ms,
                l.received,
                l.sent,
                l.machine_cpu.map_or("–".to_string(), |c| c.to_string()),
                l.note.as_deref().map(|n| format!("  ({n})")).unwrap_or_default()
            ));
            if let Some(current) = rounds.last_mut() {
                current.push(l);
            }
            *out = repeat::latency_medians(rounds.clone());
        }
    }
    Ok(())
}

/// What the backlog runs, the WAN mode and the memory run need from a bench run.
pub struct Ctx<'a> {
    /// The clusters.
    pub rig: &'a Rig,
    /// Starts ferry and MM2.
    pub launcher: &'a Launcher,
    /// Source cluster admin.
    pub source: &'a Admin,
    /// Target cluster admin.
    pub target: &'a Admin,
    /// Progress output.
    pub progress: &'a Progress,
    /// `--keep-topics`.
    pub keep_topics: bool,
}

/// Deletes the topics whose name contains `needle` on both clusters; warns on failure.
pub fn cleanup(source: &Admin, target: &Admin, needle: &str, progress: &Progress) {
    for admin in [source, target] {
        if let Err(e) = admin.delete_topics_containing(needle) {
            progress.say(format!("warning: deleting the bench's topics on the {}: {e:#}", admin.name));
        }
    }
}

fn run(args: Args) -> Result<()> {
    let flag = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, flag.clone())?;
    }
    let _ = INTERRUPTED.set(flag);
    if args.clear_wan {
        let removed = netdelay::clear_stale()?;
        eprintln!("ferry-bench: removed {} stale WAN delay chain(s) {removed:?}", removed.len());
        return Ok(());
    }

    let plan = Plan::from(&args)?;
    let root = workspace_root();
    let rig = Rig::load_from(&root)?;
    let ferry_bin = ferry_loadtest::ferry::locate(args.ferry_bin.as_deref())?;
    let out_dir = args.out.clone().unwrap_or_else(|| root.join("bench/results"));
    let (started_utc, stamp) = utc_now();
    let run_id = random_id(6);
    let work_dir = std::env::temp_dir().join(format!("ferry-bench-{stamp}-{run_id}"));
    std::fs::create_dir_all(&work_dir)?;
    let source = Admin::new("source", &rig.src)?;
    let target = Admin::new("target", &rig.dst)?;
    let wants_mm2 = plan.runners.iter().any(|r| r.starts_with("mm2"))
        || plan.steady_runners.iter().any(|r| r.is_mm2())
        || plan.wan.as_ref().is_some_and(|w| w.runners.iter().any(|r| r.starts_with("mm2")));
    let mm2_unavailable = if wants_mm2 { rig.mm2_available().err().map(|e| format!("{e:#}")) } else { None };
    let launcher = Launcher { rig: rig.clone(), ferry_bin: ferry_bin.clone(), work_dir: work_dir.clone() };

    let mm2_ok = mm2_unavailable.is_none();
    let backlog_steps: u64 = plan
        .workloads
        .iter()
        .map(|w| {
            1 + u64::from(plan.repeat)
                * report::RUNNERS.iter().filter(|r| plan.runs(r, w) && (mm2_ok || !r.starts_with("mm2"))).count() as u64
        })
        .sum();
    let steady_runs: Vec<(steady::Runner, u32)> = if plan.steady_seconds == 0 {
        Vec::new()
    } else {
        plan.steady_runners
            .iter()
            .filter(|r| !r.is_mm2() || mm2_ok)
            .flat_map(|k| plan.steady_percent.iter().map(move |p| (*k, *p)))
            .collect()
    };
    let wan_steps = plan.wan.as_ref().map_or(0, |w| {
        1 + w.rtts_ms.len() as u64 * w.runners.iter().filter(|r| mm2_ok || !r.starts_with("mm2")).count() as u64
    });
    let rss_steps = if plan.rss_partitions > 0 { 3 } else { 0 };
    let steady_steps = steady_runs.len() as u64 * u64::from(plan.repeat);
    let progress = Progress::new(backlog_steps + steady_steps + wan_steps + rss_steps);
    // a bench killed during WAN mode leaves its delay behind: remove it before anything is measured
    match netdelay::clear_stale() {
        Ok(removed) if !removed.is_empty() => progress.say(format!("removed stale WAN delays {removed:?}")),
        Err(e) if plan.wan.is_some() => progress.say(format!("warning: checking for stale WAN delays: {e:#}")),
        _ => {}
    }
    progress.say(format!(
        "ferry bench {started_utc}: run id {run_id}, source {}, target {}, ferry {}, logs in {}",
        rig.src,
        rig.dst,
        ferry_bin.display(),
        work_dir.display()
    ));
    if let Some(why) = &mm2_unavailable {
        progress.say(format!("MirrorMaker 2 will not be measured: {why}"));
    }

    let t0 = Instant::now();
    let mut report = Report {
        started_utc,
        duration_seconds: 0.0,
        quick: args.quick,
        command: std::env::args().collect::<Vec<_>>().join(" "),
        machine: machine(&rig),
        backlog: Vec::new(),
        latency: Vec::new(),
        mm2_unavailable,
        wan: None,
        rss: None,
    };
    let ctx = Ctx {
        rig: &rig,
        launcher: &launcher,
        source: &source,
        target: &target,
        progress: &progress,
        keep_topics: args.keep_topics,
    };
    let outcome = (|| -> Result<()> {
        for (i, w) in plan.workloads.iter().enumerate() {
            let tag = format!("{run_id}w{i}");
            let results = run_workload(&plan, &ctx, w, &tag, mm2_ok);
            if !args.keep_topics {
                cleanup(&source, &target, &tag, &progress);
            }
            report.backlog.extend(results?);
        }
        if let Some(w) = plan.headline().filter(|_| !steady_runs.is_empty()) {
            match report.find(&w.label(), "produce-ceiling").map(|m| m.records_per_sec) {
                Some(ceiling) => {
                    let steady = SteadyPlan { runs: &steady_runs, workload: w, ceiling, run_id: &run_id };
                    run_steady(&plan, &ctx, &steady, &mut report.latency)?;
                }
                None => progress.say("steady mode skipped: no produce ceiling for its workload".into()),
            }
        }
        if let Some(wan_plan) = &plan.wan {
            let tag = format!("{run_id}n");
            let result = wan::run(&ctx, wan_plan, &tag, mm2_ok, &mut report.wan);
            if !args.keep_topics {
                cleanup(&source, &target, &tag, &progress);
            }
            result?;
        }
        if plan.rss_partitions > 0 {
            let tag = format!("{run_id}m");
            let result = rss::run(&ctx, plan.rss_partitions, plan.rss_mib, &tag);
            if !args.keep_topics {
                cleanup(&source, &target, &tag, &progress);
            }
            report.rss = Some(result?);
        }
        Ok(())
    })();
    progress.bar.finish_and_clear();
    report.duration_seconds = t0.elapsed().as_secs_f64();
    if let Err(e) = &outcome {
        eprintln!("ferry-bench: stopped early: {e:#}");
        if !args.keep_topics {
            cleanup(&source, &target, &run_id, &progress);
        }
        if report.backlog.is_empty() && report.wan.is_none() && report.rss.is_none() {
            return outcome;
        }
        eprintln!("ferry-bench: writing what was measured so far");
    }
    let stem = format!("bench-{stamp}{}", if args.quick { "-quick" } else { "" });
    let written = report.write(&out_dir, &stem)?;
    println!("{}", report.markdown());
    for path in written {
        eprintln!("wrote {}", path.display());
    }
    outcome
}

fn main() -> std::process::ExitCode {
    match run(Args::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ferry-bench: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quick_plan_runs_mm2_on_the_headline_only() {
        let args = Args::parse_from(["ferry-bench", "--quick"]);
        let plan = Plan::from(&args).expect("plan");
        assert_eq!(plan.workloads.len(), 4);
        let small = plan.workloads[0];
        let headline = plan.headline().expect("headline");
        assert_eq!((headline.record_bytes, headline.partitions), (1024, 16));
        assert!(plan.runs("mm2-tuned", &headline));
        assert!(!plan.runs("mm2-tuned", &small));
        assert!(plan.runs("ferry", &small));
        assert!(plan.runs("ferry-x2", &headline) && plan.runs("ferry-eos", &headline));
        assert!(!plan.runs("ferry-x2", &small) && !plan.runs("ferry-eos", &small));
        let full = Plan::from(&Args::parse_from(["ferry-bench", "--runners", "ferry,ferry-eos"])).expect("plan");
        assert!(full.workloads.iter().all(|w| full.runs("ferry-eos", w) && !full.runs("ferry-x2", w)));
    }

    #[test]
    fn utc_timestamps_look_right() {
        let (iso, stamp) = utc_now();
        assert_eq!(iso.len(), 20);
        assert!(iso.ends_with('Z'));
        assert_eq!(stamp.len(), 15);
    }
}
