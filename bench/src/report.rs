//! What one bench run measured, and how it is written: JSON (everything), Markdown (the tables for
//! docs/performance.md) and, through [`crate::plot`], a PNG.
//!
//! # Layout
//! - [`Measurement`]: one runner copying (or only producing/consuming) one backlog workload.
//! - [`Latency`]: one runner in steady mode, end-to-end latency percentiles.
//! - [`Machine`]: the facts that make numbers comparable (cores, memory, versions).
//! - [`RssSample`]: a replicator's resident memory at one moment of a copy.
//! - [`Report`]: all of it (with the WAN table of [`crate::wan`] and the memory run of [`crate::rss`]),
//!   with [`Report::markdown`] and [`Report::write`].

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Serialize;

use crate::workload::Workload;

/// Bytes per MB in every MB/s and GB figure (decimal, like network and disk throughput).
pub const MB: f64 = 1e6;

/// Runner names, in table order.
pub const RUNNERS: [&str; 8] =
    ["produce-ceiling", "consume-ceiling", "naive", "ferry", "ferry-x2", "ferry-eos", "mm2-default", "mm2-tuned"];

/// The runners compared with single-instance at-least-once ferry of the same run (issue 8).
pub const FERRY_VARIANTS: [&str; 2] = ["ferry-x2", "ferry-eos"];

/// One backlog measurement.
#[derive(Clone, Debug, Serialize)]
pub struct Measurement {
    /// One of [`RUNNERS`].
    pub runner: String,
    /// What was copied.
    pub workload: Workload,
    /// `workload.label()`, for readers of the JSON.
    pub label: String,
    /// False when the runner failed or timed out (then `note` says why and the rates are partial or zero).
    pub ok: bool,
    /// Why it failed, or anything worth knowing.
    pub note: Option<String>,
    /// Records handled (all of them unless it failed).
    pub records: u64,
    /// Copy time in seconds: in-process runners from start to the last acknowledgement; ferry and MM2 from
    /// the first record on the target to the last (see `startup_seconds`).
    pub seconds: f64,
    /// ferry and MM2: from process start to the first record on the target.
    pub startup_seconds: Option<f64>,
    /// `records / seconds`.
    pub records_per_sec: f64,
    /// Key + value bytes per second, in MB (10^6 B).
    pub mb_per_sec: f64,
    /// `records_per_sec` over the produce ceiling's for the same workload.
    pub ratio_to_ceiling: Option<f64>,
    /// `ferry-x2` and `ferry-eos`: `records_per_sec` over single-instance ferry's for the same workload.
    pub ratio_to_ferry: Option<f64>,
    /// CPU seconds (user + system, all threads) during `seconds`.
    pub cpu_seconds: Option<f64>,
    /// ferry and MM2: CPU seconds from process start to the end of the copy (start-up included).
    pub cpu_seconds_total: Option<f64>,
    /// `cpu_seconds` per GB (10^9 B) of keys and values.
    pub cpu_s_per_gb: Option<f64>,
    /// Peak resident memory (VmHWM) in MB; the highest of the instances when there are several (each in
    /// `instances`).
    pub peak_rss_mb: Option<f64>,
    /// ferry: its exit status after SIGTERM (the instances' separated by ` / `).
    pub exit: Option<String>,
    /// `ferry-x2` and `ferry-eos`: each process (CPU, peak RSS, exit, its share of the partitions).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub instances: Vec<crate::multi::InstanceStats>,
    /// `ferry-x2` and `ferry-eos`: what the target held afterwards, read back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_back: Option<crate::multi::ReadBack>,
    /// Stopped at a time cap (WAN mode): `records` is what was copied by then and the rates are over that.
    pub capped: bool,
    /// With `--repeat`: every round's records/s (0 for a failed round), in round order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub round_rates: Vec<f64>,
    /// With `--repeat`: the ratio to the ceiling of every successful round.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub round_ratios_to_ceiling: Vec<f64>,
}

impl Measurement {
    /// A measurement of `records` records of `workload` in `seconds`.
    pub fn new(runner: &str, workload: &Workload, records: u64, seconds: f64) -> Measurement {
        let seconds = seconds.max(1e-6);
        let bytes = records as f64 * (workload.record_bytes as f64 + crate::workload::KEY_BYTES as f64);
        Measurement {
            runner: runner.to_string(),
            workload: *workload,
            label: workload.label(),
            ok: records == workload.records,
            note: None,
            records,
            seconds,
            startup_seconds: None,
            records_per_sec: records as f64 / seconds,
            mb_per_sec: bytes / MB / seconds,
            ratio_to_ceiling: None,
            ratio_to_ferry: None,
            cpu_seconds: None,
            cpu_seconds_total: None,
            cpu_s_per_gb: None,
            peak_rss_mb: None,
            exit: None,
            instances: Vec::new(),
            read_back: None,
            capped: false,
            round_rates: Vec::new(),
            round_ratios_to_ceiling: Vec::new(),
        }
    }

    /// A runner stopped at its time cap (`cap_s` seconds after its first record) after copying `records`
    /// in `seconds`: a valid rate, flagged as such.
    pub fn capped(runner: &str, workload: &Workload, records: u64, seconds: f64, cap_s: f64) -> Measurement {
        let mut m = Measurement::new(runner, workload, records, seconds);
        m.ok = records > 0;
        m.capped = true;
        m.note = Some(format!("time cap {cap_s:.0} s: {records} of {} records", workload.records));
        m
    }

    /// A failed runner.
    pub fn failed(runner: &str, workload: &Workload, note: String) -> Measurement {
        let mut m = Measurement::new(runner, workload, 0, 1.0);
        m.ok = false;
        m.records_per_sec = 0.0;
        m.mb_per_sec = 0.0;
        m.note = Some(note);
        m
    }

    /// Sets the CPU seconds spent during the copy and derives CPU s/GB.
    pub fn with_cpu(mut self, cpu_seconds: Option<f64>) -> Measurement {
        self.cpu_seconds = cpu_seconds;
        let gb = self.records as f64 * (self.workload.record_bytes as f64 + crate::workload::KEY_BYTES as f64) / 1e9;
        self.cpu_s_per_gb = cpu_seconds.filter(|_| gb > 0.0).map(|c| c / gb);
        self
    }

    /// Sets the peak RSS from bytes.
    pub fn with_rss(mut self, bytes: Option<u64>) -> Measurement {
        self.peak_rss_mb = bytes.map(|b| b as f64 / MB);
        self
    }
}

/// A replicator's resident memory (`VmRSS`) at one moment of a backlog copy.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct RssSample {
    /// Seconds since the process started.
    pub t_s: f64,
    /// Resident memory in MB (10^6 B).
    pub rss_mb: f64,
    /// Records on the target at that moment.
    pub copied: i64,
}

/// One steady-mode latency measurement.
#[derive(Clone, Debug, Serialize)]
pub struct Latency {
    /// `ferry`, `mm2-default` or `mm2-tuned`.
    pub runner: String,
    /// Record size and partitions (`records` unused).
    pub workload: Workload,
    /// `workload.label()`.
    pub label: String,
    /// The rate as a percentage of the produce ceiling of the same workload.
    pub percent_of_ceiling: u32,
    /// Records per second asked of the producer.
    pub target_rate: f64,
    /// Records per second the producer achieved.
    pub achieved_rate: f64,
    /// Records sent during the measured period.
    pub sent: u64,
    /// Of those, records read back from the target.
    pub received: u64,
    /// Latency percentiles in milliseconds, producer timestamp to arrival at the target consumer.
    pub p50_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// 99.9th percentile.
    pub p999_ms: f64,
    /// Maximum.
    pub max_ms: f64,
    /// Mean.
    pub mean_ms: f64,
    /// How the machine's CPUs were used (all processes) while the records were produced: near 100 %
    /// busy + stolen, the latency is the machine's queueing, not the runner's.
    pub machine_cpu: Option<crate::procstat::CpuShare>,
    /// False when records went missing, the rate was not reached, or the runner failed.
    pub ok: bool,
    /// Why not ok; with `--repeat`, which round this row is and the spread over the rounds.
    pub note: Option<String>,
    /// With `--repeat`: every round's p50 in ms (`null` for a failed round), in round order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub round_p50_ms: Vec<Option<f64>>,
    /// With `--repeat`: every round's p99 in ms (`null` for a failed round), in round order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub round_p99_ms: Vec<Option<f64>>,
}

/// Machine and software facts of the run.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Machine {
    /// Logical CPUs.
    pub nproc: usize,
    /// CPU model name.
    pub cpu: String,
    /// Total memory in GiB.
    pub memory_gib: f64,
    /// Kernel release.
    pub kernel: String,
    /// Kafka version of the brokers' and MM2's jars.
    pub kafka: String,
    /// `java -version`, first line.
    pub java: String,
    /// librdkafka version used by ferry and the in-process runners.
    pub librdkafka: String,
    /// `git describe --always --dirty` of the workspace.
    pub ferry_commit: String,
}

/// A whole run.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// UTC start time, `YYYY-MM-DDTHH:MM:SSZ`.
    pub started_utc: String,
    /// Wall-clock seconds of the run.
    pub duration_seconds: f64,
    /// `--quick` or not.
    pub quick: bool,
    /// The command line.
    pub command: String,
    /// Where it ran.
    pub machine: Machine,
    /// Backlog measurements.
    pub backlog: Vec<Measurement>,
    /// Steady-mode measurements.
    pub latency: Vec<Latency>,
    /// Why MirrorMaker 2 was not measured, when it was not.
    pub mm2_unavailable: Option<String>,
    /// WAN mode: throughput with a delayed source, when run.
    pub wan: Option<crate::wan::WanReport>,
    /// The many-partition memory run, when run.
    pub rss: Option<crate::rss::RssRun>,
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map(|v| format!("{v:.digits$}")).unwrap_or_else(|| "–".into())
}

/// Peak RSS, MB: one number, or one per process (`182 / 175`) for a runner with several.
fn rss_cell(m: &Measurement) -> String {
    if m.instances.len() > 1 {
        m.instances.iter().map(|i| opt(i.peak_rss_mb, 0)).collect::<Vec<_>>().join(" / ")
    } else {
        opt(m.peak_rss_mb, 0)
    }
}

impl Report {
    /// The measurement of `runner` on the workload labelled `label`.
    pub fn find(&self, label: &str, runner: &str) -> Option<&Measurement> {
        self.backlog.iter().find(|m| m.label == label && m.runner == runner && m.ok)
    }

    /// Workload labels in run order.
    pub fn labels(&self) -> Vec<String> {
        let mut labels: Vec<String> = Vec::new();
        for m in &self.backlog {
            if !labels.contains(&m.label) {
                labels.push(m.label.clone());
            }
        }
        labels
    }

    /// The Markdown tables (backlog, ratios, latency) and the machine line.
    pub fn markdown(&self) -> String {
        let mut s = String::new();
        let m = &self.machine;
        let _ = writeln!(
            s,
            "Run {} ({}, {:.0} s): {} × {}, {:.1} GiB RAM, Linux {}, Kafka {}, {}, librdkafka {}, ferry {}.\n",
            self.started_utc,
            if self.quick { "--quick" } else { "full" },
            self.duration_seconds,
            m.nproc,
            m.cpu,
            m.memory_gib,
            m.kernel,
            m.kafka,
            m.java,
            m.librdkafka,
            m.ferry_commit
        );
        s.push_str("### Backlog: copy N records already in the source\n\n");
        s.push_str(
            "| workload | records | runner | records/s | MB/s | × produce ceiling | start-up s | CPU s/GB | peak RSS MB | note |\n\
             |---|---:|---|---:|---:|---:|---:|---:|---:|---|\n",
        );
        for x in &self.backlog {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                x.label,
                x.workload.records,
                x.runner,
                if x.ok { format!("{:.0}", x.records_per_sec) } else { "–".into() },
                if x.ok { format!("{:.1}", x.mb_per_sec) } else { "–".into() },
                if x.ok { opt(x.ratio_to_ceiling, 2) } else { "–".into() },
                opt(x.startup_seconds, 1),
                if x.ok { opt(x.cpu_s_per_gb, 1) } else { "–".into() },
                rss_cell(x),
                x.note.as_deref().unwrap_or("").replace('|', "/").replace('\n', " "),
            );
        }
        let ratios = self.ratio_lines();
        if !ratios.is_empty() {
            s.push_str("\n### ferry against the others (records/s ratios, same run)\n\n");
            s.push_str("| workload | ferry / produce ceiling | ferry / naive | ferry / MM2 default | ferry / MM2 tuned |\n|---|---:|---:|---:|---:|\n");
            for line in ratios {
                s.push_str(&line);
            }
        }
        s.push_str(&self.variants_markdown());
        if !self.latency.is_empty() {
            s.push_str("\n### Steady: end-to-end latency (producer timestamp → target consumer)\n\n");
            s.push_str(
                "| workload | runner | rate (% of ceiling) | achieved rec/s | received | p50 ms | p99 ms | p99.9 ms | max ms | machine CPU busy | note |\n\
                 |---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n",
            );
            for l in &self.latency {
                let _ = writeln!(
                    s,
                    "| {} | {} | {:.0} ({} %) | {:.0} | {}/{} | {:.1} | {:.1} | {:.1} | {:.1} | {} | {} |",
                    l.label,
                    l.runner,
                    l.target_rate,
                    l.percent_of_ceiling,
                    l.achieved_rate,
                    l.received,
                    l.sent,
                    l.p50_ms,
                    l.p99_ms,
                    l.p999_ms,
                    l.max_ms,
                    l.machine_cpu.map_or("–".to_string(), |c| c.to_string()),
                    l.note.as_deref().unwrap_or("")
                );
            }
        }
        if let Some(wan) = &self.wan {
            s.push_str(&wan.markdown());
        }
        if let Some(rss) = &self.rss {
            s.push_str(&rss.markdown());
        }
        if let Some(why) = &self.mm2_unavailable {
            let _ = writeln!(s, "\nMirrorMaker 2 was not measured: {why}");
        }
        s
    }

    /// The scale-out and exactly-once table (issue 8): `ferry-x2` and `ferry-eos` against single-instance
    /// ferry of the same run; empty when neither ran.
    fn variants_markdown(&self) -> String {
        let mut s = String::new();
        for label in self.labels() {
            let variants: Vec<&Measurement> = FERRY_VARIANTS
                .iter()
                .filter_map(|r| self.backlog.iter().find(|m| m.label == label && m.runner == *r))
                .collect();
            if variants.is_empty() {
                continue;
            }
            if s.is_empty() {
                s.push_str("\n### Scale-out and exactly-once cost (same run, against single-instance ferry)\n\n");
                s.push_str(
                    "| workload | runner | processes | records/s | MB/s | × ferry | CPU s/GB (all processes) | CPU s/GB × ferry | peak RSS MB per process | ok |\n\
                     |---|---|---:|---:|---:|---:|---:|---:|---|---|\n",
                );
            }
            let ferry = self.find(&label, "ferry");
            let ferry_cpu = ferry.and_then(|f| f.cpu_s_per_gb);
            let mut rows: Vec<&Measurement> = ferry.into_iter().collect();
            rows.extend(variants);
            for x in rows {
                let cpu_ratio =
                    x.cpu_s_per_gb.zip(ferry_cpu).filter(|_| x.ok && x.runner != "ferry").map(|(a, b)| a / b);
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                    label,
                    x.runner,
                    x.instances.len().max(1),
                    if x.ok { format!("{:.0}", x.records_per_sec) } else { "–".into() },
                    if x.ok { format!("{:.1}", x.mb_per_sec) } else { "–".into() },
                    if x.ok { opt(x.ratio_to_ferry, 2) } else { "–".into() },
                    if x.ok { opt(x.cpu_s_per_gb, 1) } else { "–".into() },
                    opt(cpu_ratio, 2),
                    rss_cell(x),
                    if x.ok { "yes" } else { "**failed**" },
                );
            }
        }
        s
    }

    fn ratio_lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        for label in self.labels() {
            let Some(ferry) = self.find(&label, "ferry") else { continue };
            let ratio = |runner: &str| {
                self.find(&label, runner)
                    .and_then(|o| rate_ratio(ferry, o))
                    .map(|r| format!("{r:.2}"))
                    .unwrap_or_else(|| "–".into())
            };
            out.push(format!(
                "| {label} | {} | {} | {} | {} |\n",
                ratio("produce-ceiling"),
                ratio("naive"),
                ratio("mm2-default"),
                ratio("mm2-tuned")
            ));
        }
        out
    }

    /// Writes `<stem>.json`, `<stem>.md`, `<stem>.png` (and `<stem>-wan-rss.png` when WAN mode or the
    /// memory run ran) and copies them to `latest.*` / `latest-wan-rss.png` in `dir`; returns the paths
    /// written.
    ///
    /// # Errors
    /// On I/O errors; a plot that cannot be drawn is reported in the Markdown instead.
    pub fn write(&self, dir: &Path, stem: &str) -> Result<Vec<PathBuf>> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let mut written = Vec::new();
        let json = dir.join(format!("{stem}.json"));
        std::fs::write(&json, serde_json::to_string_pretty(self)? + "\n")
            .with_context(|| format!("writing {}", json.display()))?;
        written.push(json);
        let png = dir.join(format!("{stem}.png"));
        let mut md_text = format!("# ferry bench {}\n\n{}", self.started_utc, self.markdown());
        match crate::plot::draw(self, &png) {
            Ok(()) => {
                md_text.push_str(&format!("\n![throughput and latency]({stem}.png)\n"));
                written.push(png);
            }
            Err(e) => md_text.push_str(&format!("\n(no plot: {e:#})\n")),
        }
        if self.wan.is_some() || self.rss.is_some() {
            let extra = dir.join(format!("{stem}-wan-rss.png"));
            match crate::plot::draw_wan_rss(self, &extra) {
                Ok(()) => {
                    md_text.push_str(&format!("\n![WAN throughput and RSS over time]({stem}-wan-rss.png)\n"));
                    written.push(extra);
                }
                Err(e) => md_text.push_str(&format!("\n(no WAN/RSS plot: {e:#})\n")),
            }
        }
        let md = dir.join(format!("{stem}.md"));
        std::fs::write(&md, &md_text).with_context(|| format!("writing {}", md.display()))?;
        written.push(md);
        for path in written.clone() {
            let name = path.file_name().and_then(|e| e.to_str()).unwrap_or_default();
            let suffix = name.strip_prefix(stem).unwrap_or(name).to_string();
            let latest = dir.join(format!("latest{suffix}"));
            if suffix == ".md" {
                let text = md_text
                    .replace(&format!("({stem}.png)"), "(latest.png)")
                    .replace(&format!("({stem}-wan-rss.png)"), "(latest-wan-rss.png)");
                std::fs::write(&latest, text)?;
            } else {
                std::fs::copy(&path, &latest).with_context(|| format!("writing {}", latest.display()))?;
            }
            written.push(latest);
        }
        Ok(written)
    }
}

/// `a`'s records/s over `b`'s: with `--repeat`, the median of the rounds' ratios (rounds where both ran).
fn rate_ratio(a: &Measurement, b: &Measurement) -> Option<f64> {
    if a.round_rates.len() > 1 && a.round_rates.len() == b.round_rates.len() {
        let per_round: Vec<f64> = a
            .round_rates
            .iter()
            .zip(&b.round_rates)
            .filter(|(x, y)| **x > 0.0 && **y > 0.0)
            .map(|(x, y)| x / y)
            .collect();
        return crate::repeat::median(&per_round);
    }
    (b.records_per_sec > 0.0).then(|| a.records_per_sec / b.records_per_sec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_and_cpu_per_gb() {
        let w = Workload { record_bytes: 992, partitions: 1, records: 1_000_000 };
        let m = Measurement::new("ferry", &w, w.records, 2.0).with_cpu(Some(4.0));
        assert!(m.ok);
        assert!((m.records_per_sec - 500_000.0).abs() < 1e-6);
        assert!((m.mb_per_sec - 500.0).abs() < 1e-6); // 1000 B per record
        assert!((m.cpu_s_per_gb.unwrap_or_default() - 4.0).abs() < 1e-9); // 1 GB copied
    }
}
