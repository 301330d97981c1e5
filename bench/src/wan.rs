//! WAN mode: the same backlog copied with the source cluster behind a link with a round-trip delay (0, 50,
//! 100 ms by default), to see how much of its own 0-RTT throughput each runner keeps.
//!
//! One workload (1 KiB × 16 partitions by default) is preloaded once, before any delay. Then for each RTT:
//! the delay is added ([`crate::netdelay`]), the metadata round trip to both clusters is measured (the
//! source must show the RTT, the target must not), and every runner copies the backlog from the start,
//! stopping at a time cap after its first record (a slow runner at 100 ms would take many minutes), so its
//! rate is measured over at most the cap. The delay is removed before the next RTT, and on every way out
//! (it is a guard dropped on error or Ctrl-C).
//!
//! # Layout
//! - [`WanPlan`]: RTTs, workload, cap, runners.
//! - [`run`]: the loop above; [`WanReport`] with [`WanReport::markdown`].

use std::fmt::Write as _;
use std::time::Duration;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::external::{self, Flow, Kind};
use crate::netdelay::{self, Delay, DelayStats};
use crate::report::Measurement;
use crate::workload::{Limits, Workload};
use crate::{runners, workload, Ctx};

/// Runners WAN mode can measure (the produce ceiling does not read the source, so the delay cannot touch it).
/// `consume-ceiling-x<N>` (see [`ceiling_connections`]) is accepted too.
pub const WAN_RUNNERS: [&str; 5] = ["consume-ceiling", "naive", "ferry", "mm2-default", "mm2-tuned"];

/// The number of source connections of a consume-ceiling runner name: 1 for `consume-ceiling`, N for
/// `consume-ceiling-x<N>` (N ≥ 1); `None` for any other name.
pub fn ceiling_connections(runner: &str) -> Option<usize> {
    match runner.strip_prefix("consume-ceiling")? {
        "" => Some(1),
        rest => rest.strip_prefix("-x")?.parse().ok().filter(|n| *n >= 1),
    }
}

/// Whether WAN mode knows `runner`.
pub fn is_wan_runner(runner: &str) -> bool {
    WAN_RUNNERS.contains(&runner) || ceiling_connections(runner).is_some()
}

/// What WAN mode runs.
#[derive(Clone, Debug)]
pub struct WanPlan {
    /// Round-trip times in ms; 0 comes first (every ratio is against it).
    pub rtts_ms: Vec<u32>,
    /// The backlog.
    pub workload: Workload,
    /// Each runner stops this long after its first record.
    pub cap: Duration,
    /// Names [`is_wan_runner`] knows.
    pub runners: Vec<String>,
    /// Rounds per RTT (`--repeat`): every runner once per round; a row is the median.
    pub rounds: u32,
}

/// The delay asked for and what was measured with it.
#[derive(Clone, Debug, Serialize)]
pub struct RttCheck {
    /// RTT asked for.
    pub rtt_ms: u32,
    /// Median metadata round trip to the source cluster.
    pub source_ms: Option<f64>,
    /// Median metadata round trip to the target cluster (must stay near 0).
    pub target_ms: Option<f64>,
    /// What the delayer did over this RTT's runs.
    pub delayer: Option<DelayStats>,
}

/// One runner at one RTT.
#[derive(Clone, Debug, Serialize)]
pub struct WanRow {
    /// RTT asked for.
    pub rtt_ms: u32,
    /// records/s over the same runner's at 0 ms (with several rounds: the median of the rounds' ratios,
    /// round i at this RTT over round i at 0 ms).
    pub ratio_to_own_0ms: Option<f64>,
    /// The measurement (with several rounds: the median-rate one).
    pub measurement: Measurement,
    /// With several rounds: every round's records/s (0 for a failed run) and ratio to its 0 ms round.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub round_rates: Vec<f64>,
    /// See `round_rates`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub round_ratios: Vec<f64>,
}

/// Everything WAN mode measured.
#[derive(Clone, Debug, Serialize)]
pub struct WanReport {
    /// The backlog.
    pub workload: Workload,
    /// The time cap per runner, seconds.
    pub cap_seconds: f64,
    /// How the delay is made.
    pub mechanism: String,
    /// One per RTT.
    pub rtts: Vec<RttCheck>,
    /// Runner × RTT.
    pub rows: Vec<WanRow>,
    /// Rounds per RTT (each row is the median of them).
    pub rounds: u32,
    /// Why WAN mode did not run (or stopped), when it did not.
    pub unavailable: Option<String>,
}

impl WanReport {
    fn row(&self, runner: &str, rtt: u32) -> Option<&WanRow> {
        self.rows.iter().find(|r| r.rtt_ms == rtt && r.measurement.runner == runner)
    }

    /// The WAN section of the Markdown report.
    pub fn markdown(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "\n### WAN: {} backlog with the source behind a delayed link (each runner stopped {:.0} s after its first record)\n",
            self.workload.label(),
            self.cap_seconds
        );
        if let Some(why) = &self.unavailable {
            let _ = writeln!(s, "WAN mode: {why}\n");
        }
        if self.rtts.is_empty() {
            return s;
        }
        let rtts: Vec<u32> = self.rtts.iter().map(|r| r.rtt_ms).collect();
        s.push_str("| runner |");
        for r in &rtts {
            let _ = write!(s, " {r} ms: MB/s (× own 0 ms) |");
        }
        s.push_str("\n|---|");
        s.push_str(&"---:|".repeat(rtts.len()));
        s.push('\n');
        let mut runners: Vec<&str> = Vec::new();
        for row in &self.rows {
            if !runners.contains(&row.measurement.runner.as_str()) {
                runners.push(&row.measurement.runner);
            }
        }
        for runner in &runners {
            let _ = write!(s, "| {runner} |");
            for &rtt in &rtts {
                let cell = match self.row(runner, rtt) {
                    Some(r) if r.measurement.ok => {
                        let ratio = r.ratio_to_own_0ms.map(|x| format!(" ({x:.2})")).unwrap_or_default();
                        let cap = if r.measurement.capped { "†" } else { "" };
                        format!("{:.1}{ratio}{cap}", r.measurement.mb_per_sec)
                    }
                    Some(_) => "failed".into(),
                    None => "–".into(),
                };
                let _ = write!(s, " {cell} |");
            }
            s.push('\n');
        }
        s.push_str("\n† stopped at the time cap (rate over the records copied by then).\n");
        if self.rounds > 1 {
            let _ = writeln!(
                s,
                "Each cell: the median-rate run of {} rounds; its ratio is the median of the rounds' ratios \
                 (round i at that RTT over round i at 0 ms). Every round is in the JSON.",
                self.rounds
            );
        }
        s.push('\n');
        s.push_str("| RTT asked | measured RTT to the source (median metadata request) | to the target | packets delayed | delayer CPU s |\n|---:|---:|---:|---:|---:|\n");
        for r in &self.rtts {
            let ms = |v: Option<f64>| v.map(|v| format!("{v:.1} ms")).unwrap_or_else(|| "–".into());
            let _ = writeln!(
                s,
                "| {} ms | {} | {} | {} | {} |",
                r.rtt_ms,
                ms(r.source_ms),
                ms(r.target_ms),
                r.delayer.map(|d| d.packets.to_string()).unwrap_or_else(|| "–".into()),
                r.delayer.map(|d| format!("{:.1}", d.cpu_seconds)).unwrap_or_else(|| "–".into()),
            );
        }
        let ratios: Vec<String> = rtts
            .iter()
            .filter_map(|&rtt| {
                let f = self.row("ferry", rtt).filter(|r| r.measurement.ok)?;
                let m =
                    self.row("mm2-default", rtt).filter(|r| r.measurement.ok && r.measurement.records_per_sec > 0.0)?;
                Some(format!("{rtt} ms: {:.1}×", f.measurement.records_per_sec / m.measurement.records_per_sec))
            })
            .collect();
        if !ratios.is_empty() {
            let _ = writeln!(s, "\nferry / MM2 default: {}.", ratios.join(", "));
        }
        let _ = writeln!(s, "\nDelay: {}", self.mechanism);
        s
    }
}

/// Runs WAN mode (see the module docs) into `out`, which holds what was measured even when this fails;
/// `tag` contains the run id.
///
/// # Errors
/// Set-up failures and interruptions; a runner that fails is a failed row. The delay is removed in every case.
pub fn run(ctx: &Ctx<'_>, plan: &WanPlan, tag: &str, mm2_ok: bool, out: &mut Option<WanReport>) -> Result<()> {
    let w = plan.workload;
    let report = out.insert(WanReport {
        workload: w,
        cap_seconds: plan.cap.as_secs_f64(),
        mechanism: "iptables NFQUEUE on the loopback INPUT hook for TCP to and from the source broker's port; \
                    a bench thread holds each packet RTT/2 (tc netem is not in this kernel)"
            .into(),
        rtts: Vec::new(),
        rows: Vec::new(),
        rounds: plan.rounds.max(1),
        unavailable: None,
    });
    let port = ferry_loadtest::rig::bootstrap_port(&ctx.rig.src).context("no port in the source bootstrap")?;
    if plan.rtts_ms.iter().any(|&r| r > 0) {
        if let Err(e) = netdelay::check(port) {
            report.unavailable = Some(format!("no delay possible here: {e:#}"));
            return Ok(());
        }
    }
    let src_topic = format!("fb-{tag}-src");
    ctx.progress.begin(format!("WAN: preloading {} records ({})", w.records, w.label()));
    ctx.source.create_topic(&src_topic, w.partitions)?;
    let preload = workload::produce(&runners::producer(&ctx.rig.src)?, &src_topic, &w).context("preloading")?;
    ctx.progress.done(format!("WAN: preloaded {:.1} MB in {:.1} s", w.bytes() as f64 / 1e6, preload.as_secs_f64()));
    let phases = Phases {
        ctx,
        plan,
        tag,
        mm2_ok,
        src_topic: &src_topic,
        limits: Limits { timeout: Duration::from_secs(300) + plan.cap, cap: Some(plan.cap) },
    };
    // Every run as (RTT, round, measurement), combined into the report's rows at the end, also on error.
    let mut raw: Vec<(u32, u32, Measurement)> = Vec::new();
    let mut measured = Ok(());
    for &rtt in &plan.rtts_ms {
        measured = phases.at_rtt(rtt, port, &mut raw, &mut report.rtts);
        if measured.is_err() {
            break;
        }
    }
    report.rows = combine_rounds(&raw, &plan.rtts_ms);
    measured
}

/// What every RTT phase of WAN mode shares.
struct Phases<'a> {
    ctx: &'a Ctx<'a>,
    plan: &'a WanPlan,
    tag: &'a str,
    mm2_ok: bool,
    src_topic: &'a str,
    limits: Limits,
}

impl Phases<'_> {
    /// Adds the delay for `rtt`, checks it, and measures every round of the runners into `raw`.
    fn at_rtt(
        &self,
        rtt: u32,
        port: u16,
        raw: &mut Vec<(u32, u32, Measurement)>,
        checks: &mut Vec<RttCheck>,
    ) -> Result<()> {
        let ctx = self.ctx;
        let delay = if rtt > 0 { Some(Delay::start(port, Duration::from_millis(u64::from(rtt)))?) } else { None };
        let mut check = RttCheck {
            rtt_ms: rtt,
            source_ms: netdelay::measure_rtt(&ctx.rig.src, 5).ok(),
            target_ms: netdelay::measure_rtt(&ctx.rig.dst, 5).ok(),
            delayer: None,
        };
        ctx.progress.say(format!(
            "WAN {rtt} ms: measured metadata RTT source {} ms, target {} ms",
            check.source_ms.map_or("?".into(), |v| format!("{v:.1}")),
            check.target_ms.map_or("?".into(), |v| format!("{v:.1}"))
        ));
        let rounds = self.plan.rounds.max(1);
        for round in 0..rounds {
            if rounds > 1 {
                ctx.progress.say(format!("WAN {rtt} ms: round {} of {rounds}", round + 1));
            }
            let sub = if rounds > 1 { format!("{}r{rtt}n{round}", self.tag) } else { format!("{}r{rtt}", self.tag) };
            for runner in &self.plan.runners {
                if runner.starts_with("mm2") && !self.mm2_ok {
                    continue;
                }
                ctx.progress.begin(format!("WAN {rtt} ms: {runner}"));
                let m = self.measure(runner, &sub)?;
                ctx.progress.done(format!("WAN {rtt:>3} ms  {}", crate::summary(&m)));
                raw.push((rtt, round, m));
                if !ctx.keep_topics {
                    crate::cleanup(ctx.source, ctx.target, &sub, ctx.progress);
                }
            }
        }
        if let Some(delay) = delay {
            check.delayer = Some(delay.stop()?);
        }
        checks.push(check);
        Ok(())
    }

    /// One run of `runner` copying the backlog; `sub` names its topics and aliases.
    fn measure(&self, runner: &str, sub: &str) -> Result<Measurement> {
        let (ctx, w, limits) = (self.ctx, &self.plan.workload, self.limits);
        if let Some(connections) = ceiling_connections(runner) {
            return runners::consume_ceiling(ctx.rig, w, self.src_topic, limits, connections);
        }
        if runner == "naive" {
            let topic = format!("fb-{sub}-naive");
            ctx.target.create_topic(&topic, w.partitions)?;
            return runners::naive(ctx.rig, w, self.src_topic, &topic, limits);
        }
        let kind = Kind::from_name(runner).with_context(|| format!("`{runner}` is not a replicator"))?;
        let flow = Flow::new(kind, sub, self.src_topic, w.partitions);
        external::backlog(ctx.launcher, ctx.target, kind, &flow, w, limits, None)
    }
}

/// One row per runner and RTT from every run (`(rtt, round, measurement)`): the median-rate run, with
/// the ratio to the same runner at 0 ms taken within each round, and its median over the rounds.
fn combine_rounds(raw: &[(u32, u32, Measurement)], rtts: &[u32]) -> Vec<WanRow> {
    let mut runners: Vec<&str> = Vec::new();
    for (_, _, m) in raw {
        if !runners.contains(&m.runner.as_str()) {
            runners.push(&m.runner);
        }
    }
    let rate = |rtt: u32, round: u32, runner: &str| {
        raw.iter()
            .find(|(r, n, m)| *r == rtt && *n == round && m.runner == runner && m.ok)
            .map(|(_, _, m)| m.records_per_sec)
    };
    let mut rows = Vec::new();
    for &rtt in rtts {
        for &runner in &runners {
            let runs: Vec<&(u32, u32, Measurement)> =
                raw.iter().filter(|(r, _, m)| *r == rtt && m.runner == runner).collect();
            let Some(first) = runs.first() else { continue };
            let ratios: Vec<f64> = runs
                .iter()
                .filter_map(|(_, round, m)| {
                    let base = rate(0, *round, runner).filter(|b| *b > 0.0)?;
                    m.ok.then_some(m.records_per_sec / base)
                })
                .collect();
            let measurements: Vec<&Measurement> = runs.iter().map(|(_, _, m)| m).collect();
            let measurement = crate::repeat::median_rate_run(&measurements).unwrap_or(&first.2).clone();
            let several = runs.len() > 1;
            rows.push(WanRow {
                rtt_ms: rtt,
                ratio_to_own_0ms: crate::repeat::median(&ratios),
                measurement,
                round_rates: if several {
                    runs.iter().map(|(_, _, m)| if m.ok { m.records_per_sec } else { 0.0 }).collect()
                } else {
                    Vec::new()
                },
                round_ratios: if several { ratios } else { Vec::new() },
            });
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(runner: &str, rps: f64) -> Measurement {
        let w = Workload::sized(1024, 16, 1 << 20, u64::MAX);
        Measurement::new(runner, &w, w.records, w.records as f64 / rps)
    }

    #[test]
    fn rounds_combine_into_medians_with_ratios_taken_within_a_round() {
        let raw = vec![
            (0, 0, run("ferry", 100.0)),
            (0, 1, run("ferry", 200.0)),
            (0, 2, run("ferry", 150.0)),
            (100, 0, run("ferry", 90.0)),
            (100, 1, run("ferry", 100.0)),
            (100, 2, run("ferry", 120.0)),
        ];
        let rows = combine_rounds(&raw, &[0, 100]);
        assert_eq!(rows.len(), 2);
        let far = &rows[1];
        assert_eq!(far.rtt_ms, 100);
        assert!((far.measurement.records_per_sec - 100.0).abs() < 1e-6, "the median-rate run");
        // Per round: 0.9, 0.5, 0.8 -> median 0.8 (not 100 / 150).
        assert!((far.ratio_to_own_0ms.unwrap_or_default() - 0.8).abs() < 1e-9, "{:?}", far.ratio_to_own_0ms);
        assert_eq!(far.round_ratios.len(), 3);
        let single = combine_rounds(&[(0, 0, run("naive", 10.0)), (100, 0, run("naive", 5.0))], &[0, 100]);
        assert!(single[1].round_rates.is_empty());
        assert!((single[1].ratio_to_own_0ms.unwrap_or_default() - 0.5).abs() < 1e-9);
    }

    #[test]
    fn ceiling_runner_names_carry_their_connections() {
        assert_eq!(ceiling_connections("consume-ceiling"), Some(1));
        assert_eq!(ceiling_connections("consume-ceiling-x8"), Some(8));
        assert_eq!(ceiling_connections("consume-ceiling-x0"), None);
        assert_eq!(ceiling_connections("consume-ceiling-8"), None);
        assert_eq!(ceiling_connections("naive"), None);
        assert!(is_wan_runner("ferry") && is_wan_runner("consume-ceiling-x4") && !is_wan_runner("ferry-x2"));
    }
}
