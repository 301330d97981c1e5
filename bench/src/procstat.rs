//! CPU time and peak memory of a process, read from `/proc` (Linux only; elsewhere the numbers are absent).
//!
//! # Layout
//! - [`cpu_seconds`], [`thread_cpu_seconds`]: user + system time of a process (all its threads) or of the
//!   calling thread, from `/proc/<pid>/stat`.
//! - [`peak_rss_bytes`], [`rss_bytes`]: `VmHWM` and `VmRSS` from `/proc/<pid>/status`.
//! - [`MachineCpu`]: how busy all CPUs of the machine were over a period, from `/proc/stat`.
//! - [`reset_own_peak_rss`]: clears this process's `VmHWM`, so in-process runners each get their own peak.

use std::sync::OnceLock;

/// Clock ticks per second for `/proc/<pid>/stat` (`getconf CLK_TCK`, 100 on every Linux we know of).
fn clock_ticks() -> f64 {
    static TICKS: OnceLock<f64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse::<f64>().ok())
            .filter(|t| *t > 0.0)
            .unwrap_or(100.0)
    })
}

/// `pid` as a `/proc` path component ("self" for this process).
fn proc_dir(pid: Option<u32>) -> String {
    match pid {
        Some(pid) => format!("/proc/{pid}"),
        None => "/proc/self".to_string(),
    }
}

/// User + system CPU seconds used so far by `pid` (`None`: this process), all threads included.
pub fn cpu_seconds(pid: Option<u32>) -> Option<f64> {
    stat_cpu_seconds(&format!("{}/stat", proc_dir(pid)))
}

/// User + system CPU seconds used so far by the calling thread alone.
pub fn thread_cpu_seconds() -> Option<f64> {
    stat_cpu_seconds("/proc/thread-self/stat")
}

/// utime + stime of a `/proc/…/stat` file, in seconds.
fn stat_cpu_seconds(path: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(path).ok()?;
    // The command name (field 2) is in parentheses and may contain spaces: fields are counted after it.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After ')': state is field 3, so utime (14) and stime (15) are at indexes 11 and 12.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / clock_ticks())
}

/// Peak resident set size (`VmHWM`) of `pid` (`None`: this process), in bytes.
pub fn peak_rss_bytes(pid: Option<u32>) -> Option<u64> {
    status_kb(pid, "VmHWM:").map(|kb| kb * 1024)
}

/// Current resident set size (`VmRSS`) of `pid` (`None`: this process), in bytes.
pub fn rss_bytes(pid: Option<u32>) -> Option<u64> {
    status_kb(pid, "VmRSS:").map(|kb| kb * 1024)
}

/// The `<field> N kB` line of `/proc/<pid>/status`.
fn status_kb(pid: Option<u32>, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("{}/status", proc_dir(pid))).ok()?;
    status.lines().find_map(|line| line.strip_prefix(field)?.trim().strip_suffix("kB")?.trim().parse().ok())
}

/// Resets this process's peak RSS to its current RSS (`echo 5 > /proc/self/clear_refs`, Linux ≥ 4.0), so
/// that the next [`peak_rss_bytes`] reflects only what ran since. Best effort.
pub fn reset_own_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_cpu_and_memory() {
        if !std::path::Path::new("/proc/self/stat").exists() {
            return; // not Linux
        }
        let mut x = 0u64;
        for i in 0..5_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        assert!(x != 1);
        assert!(cpu_seconds(None).is_some_and(|s| s >= 0.0));
        assert!(thread_cpu_seconds().is_some_and(|s| s >= 0.0));
        assert!(peak_rss_bytes(None).is_some_and(|b| b > 0));
        assert!(rss_bytes(None).is_some_and(|b| b > 0));
    }
}

/// A reading of the machine's CPU counters (`cpu` line of `/proc/stat`), in jiffies.
#[derive(Clone, Copy, Debug)]
pub struct MachineCpu {
    /// user + nice + system + irq + softirq (guest time is already in user).
    busy: u64,
    /// Time the hypervisor gave this machine's virtual CPUs to someone else.
    steal: u64,
    total: u64,
}

/// How the machine's CPUs spent a period, in % of all CPUs' time.
#[derive(Clone, Copy, Debug, serde::Serialize)]
pub struct CpuShare {
    /// Running something (every process, the brokers included).
    pub busy_percent: f64,
    /// Taken by the hypervisor: capacity this machine did not get.
    pub steal_percent: f64,
}

impl MachineCpu {
    /// Reads the counters now (`None` where `/proc/stat` is missing).
    pub fn now() -> Option<MachineCpu> {
        let text = std::fs::read_to_string("/proc/stat").ok()?;
        let fields: Vec<u64> = text.lines().next()?.split_whitespace().skip(1).filter_map(|f| f.parse().ok()).collect();
        // user nice system idle iowait irq softirq steal
        let at = |i: usize| fields.get(i).copied().unwrap_or(0);
        Some(MachineCpu { busy: at(0) + at(1) + at(2) + at(5) + at(6), steal: at(7), total: (0..8).map(at).sum() })
    }

    /// How the CPUs spent the time between `self` and `later`.
    pub fn share_until(self, later: MachineCpu) -> Option<CpuShare> {
        let total = later.total.checked_sub(self.total).filter(|t| *t > 0)? as f64;
        Some(CpuShare {
            busy_percent: 100.0 * later.busy.saturating_sub(self.busy) as f64 / total,
            steal_percent: 100.0 * later.steal.saturating_sub(self.steal) as f64 / total,
        })
    }
}

impl std::fmt::Display for CpuShare {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:.0} % (+{:.0} % stolen)", self.busy_percent, self.steal_percent)
    }
}
