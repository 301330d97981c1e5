//! The many-partition memory run: ferry copies a backlog spread over 1,000 partitions (by default) while
//! the bench samples its resident memory every 250 ms. The goal (issue 4) is that RSS stays flat and at
//! most 200 MB: memory that grows with the backlog, rather than with the partition count, would show as a
//! second half of the copy using more than the first.
//!
//! # Layout
//! - [`run`]: create the topic (halving the partition count while the broker refuses, and saying so),
//!   preload it, create the remote topic and wait until the target serves all of it, copy with ferry,
//!   and summarise the samples into an [`RssRun`].
//! - [`RssRun::summarise`]: peak, first-half and second-half maxima of the copy window, flatness.

use std::fmt::Write as _;
use std::time::Duration;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::external::{self, Flow, Kind};
use crate::report::{Measurement, RssSample};
use crate::workload::{Limits, Workload};
use crate::{runners, workload, Ctx};

/// The goal for ferry's peak RSS, MB.
pub const GOAL_MB: f64 = 200.0;

/// Second-half maximum over first-half maximum above which RSS is not called flat.
pub const FLAT_LIMIT: f64 = 1.10;

/// What the memory run found.
#[derive(Clone, Debug, Serialize)]
pub struct RssRun {
    /// Partitions asked for.
    pub partitions_asked: i32,
    /// The backlog copied (its partition count is what the broker accepted).
    pub workload: Workload,
    /// ferry's copy (throughput, CPU, `VmHWM` as `peak_rss_mb`).
    pub measurement: Option<Measurement>,
    /// `VmRSS` every 250 ms from ferry's start to the end of the copy.
    pub samples: Vec<RssSample>,
    /// Seconds since ferry's start when the first record arrived and when the last did.
    pub copy_window_s: Option<(f64, f64)>,
    /// Highest sample, MB.
    pub max_sample_mb: Option<f64>,
    /// Highest sample in the first / second half of the copy window, MB.
    pub first_half_max_mb: Option<f64>,
    /// See `first_half_max_mb`.
    pub second_half_max_mb: Option<f64>,
    /// `second_half_max_mb / first_half_max_mb`; at most [`FLAT_LIMIT`] counts as flat.
    pub flatness: Option<f64>,
    /// Peak RSS (`VmHWM`) ≤ [`GOAL_MB`].
    pub within_goal: Option<bool>,
    /// Flatness ≤ [`FLAT_LIMIT`].
    pub flat: Option<bool>,
    /// What went differently from the plan (fewer partitions, a failed copy).
    pub note: Option<String>,
}

impl RssRun {
    /// A run of `workload` (nothing measured yet).
    pub fn new(partitions_asked: i32, workload: Workload, note: Option<String>) -> RssRun {
        RssRun {
            partitions_asked,
            workload,
            measurement: None,
            samples: Vec::new(),
            copy_window_s: None,
            max_sample_mb: None,
            first_half_max_mb: None,
            second_half_max_mb: None,
            flatness: None,
            within_goal: None,
            flat: None,
            note,
        }
    }

    /// Fills the summary fields from `samples` and `measurement`.
    pub fn summarise(&mut self) {
        let Some(m) = self.measurement.as_ref().filter(|m| m.ok) else { return };
        let start = m.startup_seconds.unwrap_or(0.0);
        let end = self.samples.last().map_or(start, |s| s.t_s);
        self.copy_window_s = Some((start, end));
        let max = |lo: f64, hi: f64| {
            self.samples.iter().filter(|s| s.t_s >= lo && s.t_s <= hi).map(|s| s.rss_mb).reduce(f64::max)
        };
        let mid = (start + end) / 2.0;
        self.max_sample_mb = self.samples.iter().map(|s| s.rss_mb).reduce(f64::max);
        self.first_half_max_mb = max(start, mid - 1e-9);
        self.second_half_max_mb = max(mid, end);
        self.flatness = self.first_half_max_mb.zip(self.second_half_max_mb).map(|(a, b)| b / a);
        self.flat = self.flatness.map(|f| f <= FLAT_LIMIT);
        let peak = m.peak_rss_mb.or(self.max_sample_mb);
        self.within_goal = peak.map(|p| p <= GOAL_MB);
    }

    /// The memory section of the Markdown report.
    pub fn markdown(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "\n### Memory: ferry copying a {} backlog ({} records, {:.0} MB), RSS sampled every 250 ms\n",
            self.workload.label(),
            self.workload.records,
            self.workload.bytes() as f64 / 1e6
        );
        if let Some(note) = &self.note {
            let _ = writeln!(s, "{note}\n");
        }
        let Some(m) = &self.measurement else { return s };
        let mb = |v: Option<f64>| v.map(|v| format!("{v:.0}")).unwrap_or_else(|| "–".into());
        let yes = |v: Option<bool>| v.map(|v| if v { "yes" } else { "**no**" }).unwrap_or("–");
        s.push_str("| MB/s | peak RSS (VmHWM) MB | max sample MB | 1st half max MB | 2nd half max MB | flatness (2nd/1st) | flat (≤ 1.10) | ≤ 200 MB |\n|---:|---:|---:|---:|---:|---:|---|---|\n");
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            if m.ok { format!("{:.1}", m.mb_per_sec) } else { "failed".into() },
            mb(m.peak_rss_mb),
            mb(self.max_sample_mb),
            mb(self.first_half_max_mb),
            mb(self.second_half_max_mb),
            self.flatness.map(|f| format!("{f:.2}")).unwrap_or_else(|| "–".into()),
            yes(self.flat),
            yes(self.within_goal),
        );
        if let Some((a, b)) = self.copy_window_s {
            let _ = writeln!(s, "\nCopy window: {a:.1}–{b:.1} s after ferry's start; {} samples.", self.samples.len());
        }
        if let Some(note) = m.note.as_deref().filter(|_| !m.ok) {
            let _ = writeln!(s, "\nThe copy failed: {}", note.replace('\n', " "));
        }
        s
    }
}

/// Runs the memory run: `partitions` partitions (fewer if the broker refuses), about `mib` MiB of 1 KiB
/// records; `tag` contains the run id.
///
/// # Errors
/// Set-up failures (no partition count accepted at all) and interruptions.
pub fn run(ctx: &Ctx<'_>, partitions: i32, mib: u64, tag: &str) -> Result<RssRun> {
    let topic = format!("fb-{tag}-src");
    let mut p = partitions;
    let mut refused = Vec::new();
    loop {
        ctx.progress.begin(format!("memory run: creating {topic} with {p} partitions"));
        match ctx.source.create_topic(&topic, p) {
            Ok(()) => break,
            Err(e) if p > 100 => {
                refused.push(format!("{p} partitions: {e:#}"));
                let _ = ctx.source.delete_topics_containing(&topic);
                std::thread::sleep(Duration::from_secs(2));
                p /= 2;
            }
            Err(e) => return Err(e.context(format!("the broker refused {refused:?} too"))),
        }
    }
    wait_served(ctx.source, &topic, p)?;
    let w = Workload::sized(1024, p, mib << 20, u64::MAX);
    let note = (!refused.is_empty()).then(|| format!("Fewer partitions than asked: {}", refused.join("; ")));
    let mut run = RssRun::new(partitions, w, note);
    ctx.progress.done(format!("memory run: {topic} has {p} partitions"));
    ctx.progress.begin(format!("memory run: preloading {} records ({})", w.records, w.label()));
    let took = workload::produce_laid_out(&runners::producer(&ctx.rig.src)?, &topic, &w, true).context("preloading")?;
    ctx.progress.done(format!("memory run: preloaded {:.1} MB in {:.1} s", w.bytes() as f64 / 1e6, took.as_secs_f64()));
    ctx.progress.begin(format!("memory run: ferry copying {} ({} records)", w.label(), w.records));
    let flow = Flow::new(Kind::Ferry, tag, &topic, p);
    // The remote topic is created beforehand and waited for: a single broker takes 10–20 s to serve 1,000
    // new partitions, and that wait (ferry's producers retrying, its consumers fetching ahead) is not the
    // steady copy this run is about. ferry finds the topic and copies into it.
    ctx.target.create_topic(&flow.remote_topic, p)?;
    wait_served(ctx.target, &flow.remote_topic, p)?;
    let limits = Limits { timeout: Duration::from_secs(900), cap: None };
    let m = external::backlog(ctx.launcher, ctx.target, Kind::Ferry, &flow, &w, limits, Some(&mut run.samples))?;
    run.measurement = Some(m);
    run.summarise();
    ctx.progress.done(format!(
        "memory run: {}; RSS peak {} MB, flatness {}",
        run.measurement.as_ref().map(crate::summary).unwrap_or_default(),
        run.measurement.as_ref().and_then(|m| m.peak_rss_mb).map_or("?".into(), |v| format!("{v:.0}")),
        run.flatness.map_or("?".into(), |f| format!("{f:.2}"))
    ));
    Ok(run)
}

/// Waits (at most 60 s) until every partition of `topic` answers ListOffsets: a broker creating many
/// partitions lists them with a leader before it serves them.
fn wait_served(admin: &ferry_loadtest::admin::Admin, topic: &str, partitions: i32) -> Result<()> {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while admin.end_offsets_partial(topic, partitions).iter().any(Option::is_none) {
        crate::check_interrupted()?;
        if std::time::Instant::now() > deadline {
            anyhow::bail!("{topic} on the {}: not every partition is served after 60 s", admin.name);
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(t_s: f64, rss_mb: f64) -> RssSample {
        RssSample { t_s, rss_mb, copied: 0 }
    }

    #[test]
    fn flatness_compares_the_halves_of_the_copy_window() {
        let w = Workload { record_bytes: 1024, partitions: 1000, records: 1000 };
        let mut m = Measurement::new("ferry", &w, 1000, 8.0);
        m.startup_seconds = Some(2.0);
        m.peak_rss_mb = Some(150.0);
        let mut run = RssRun::new(1000, w, None);
        run.measurement = Some(m);
        // start-up (t < 2) is outside the window and does not count
        run.samples =
            vec![sample(0.5, 300.0), sample(2.0, 100.0), sample(4.0, 110.0), sample(6.0, 120.0), sample(10.0, 132.0)];
        run.summarise();
        assert_eq!(run.copy_window_s, Some((2.0, 10.0)));
        assert_eq!(run.first_half_max_mb, Some(110.0));
        assert_eq!(run.second_half_max_mb, Some(132.0));
        assert!((run.flatness.unwrap_or_default() - 1.2).abs() < 1e-9);
        assert_eq!(run.flat, Some(false));
        assert_eq!(run.within_goal, Some(true));
        assert_eq!(run.max_sample_mb, Some(300.0));
    }
}
