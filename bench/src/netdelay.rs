//! WAN emulation: a round-trip delay on the source broker's TCP traffic, and on nothing else.
//!
//! `tc netem` would be the usual tool, but the reference machine's kernel has neither `sch_netem` nor
//! `sch_prio` (`CONFIG_NET_SCH_NETEM is not set`, no modules). It does have netfilter queues, so the delay
//! is made in user space: two iptables rules on the loopback device's INPUT hook send every TCP packet to
//! or from the source broker's port (`--dport P`, `--sport P`) to an NFQUEUE; a thread of the bench holds
//! each packet for RTT/2 and then accepts it, in arrival order. Both directions are delayed once, so a
//! round trip takes RTT more. TCP stays end to end (no proxy): windows, socket buffers and the kernel's
//! congestion control see the delay as on a real link. Queuing on INPUT (not OUTPUT) matters: loopback
//! packets are orphaned from their sending socket before INPUT, so TCP small queues do not throttle a
//! sender whose packets wait in the queue (netem orphans its packets for the same reason).
//!
//! Safety of the machine: the rules live in a chain of their own, `FB_WAN_<port>_<pid>`, jumped to from
//! INPUT; they use `--queue-bypass`, so if the bench dies the packets flow undelayed instead of being
//! dropped; [`Delay`] removes them when dropped (normal end, error, Ctrl-C unwinding), and [`clear_stale`]
//! removes chains left by a bench that was killed (its pid no longer runs `ferry-bench`).
//!
//! # Layout
//! - [`check`]: whether WAN mode can run here (root, iptables, a queue can be bound).
//! - [`Delay::start`] / [`Delay::stop`]: add the delay for one port, remove it; [`DelayStats`].
//! - [`clear_stale`]: remove chains of benches that no longer run.
//! - [`measure_rtt`]: median metadata round trip to a cluster, to verify the delay really applies.

use std::collections::VecDeque;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use rdkafka::consumer::Consumer;
use serde::Serialize;

/// Prefix of every chain the bench creates.
const CHAIN_PREFIX: &str = "FB_WAN_";

/// Longest sleep of the delayer between looks at the queue while packets are held (and when idle).
const TICK_BUSY: Duration = Duration::from_micros(200);
const TICK_IDLE: Duration = Duration::from_millis(1);

/// Packets the kernel may hold for us before it drops new ones (the default is 1024).
const QUEUE_MAX_LEN: u32 = 65_536;

/// What the delayer did while it ran.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct DelayStats {
    /// Packets delayed (both directions).
    pub packets: u64,
    /// Most packets held at once.
    pub max_held: usize,
    /// CPU seconds the delayer thread used (user + system).
    pub cpu_seconds: f64,
}

/// The delay on one broker port; removed when dropped.
pub struct Delay {
    chain: String,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Result<DelayStats>>>,
}

/// The iptables chain for `port` owned by this process.
fn chain_name(port: u16) -> String {
    format!("{CHAIN_PREFIX}{port}_{}", std::process::id())
}

fn iptables(args: &[&str]) -> Result<String> {
    let out =
        Command::new("iptables").args(args).output().context("running iptables (Debian: apt-get install iptables)")?;
    if !out.status.success() {
        bail!("iptables {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Whether WAN mode can run here for the broker on `port`.
///
/// # Errors
/// A sentence saying what is missing (iptables, root, netfilter queues).
pub fn check(port: u16) -> Result<()> {
    iptables(&["-S", "INPUT"]).context("WAN mode needs iptables and root")?;
    let mut queue = nfq::Queue::open().context("opening a netfilter queue socket (WAN mode needs root)")?;
    let num = queue_number(port);
    queue.bind(num).with_context(|| format!("binding netfilter queue {num}"))?;
    let _ = queue.unbind(num);
    Ok(())
}

/// The queue number for `port`: distinct per broker port, so two benches on two rigs do not collide.
fn queue_number(port: u16) -> u16 {
    // keep clear of queue 0, the default of most tools
    port.max(1)
}

/// Removes chains (and their INPUT jumps) left by benches that no longer run; returns their names.
///
/// # Errors
/// When iptables cannot be run.
pub fn clear_stale() -> Result<Vec<String>> {
    let rules = iptables(&["-S"])?;
    let mut removed = Vec::new();
    for chain in rules.lines().filter_map(|l| l.strip_prefix("-N ")).filter(|c| c.starts_with(CHAIN_PREFIX)) {
        let owner = chain.rsplit('_').next().and_then(|p| p.parse::<u32>().ok());
        if owner.is_some_and(|pid| pid != std::process::id() && bench_is_running(pid)) {
            continue;
        }
        remove_chain(chain);
        removed.push(chain.to_string());
    }
    Ok(removed)
}

/// Whether process `pid` is a running ferry-bench.
fn bench_is_running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "ferry-bench")
}

/// Removes `chain` and every jump to it from INPUT; best effort.
fn remove_chain(chain: &str) {
    while iptables(&["-D", "INPUT", "-i", "lo", "-j", chain]).is_ok() {}
    let _ = iptables(&["-F", chain]);
    let _ = iptables(&["-X", chain]);
}

impl Delay {
    /// Delays every TCP packet to and from `port` on the loopback device by `rtt / 2`.
    ///
    /// # Errors
    /// When the queue cannot be bound or the rules cannot be added (then nothing is left behind).
    pub fn start(port: u16, rtt: Duration) -> Result<Delay> {
        let chain = chain_name(port);
        remove_chain(&chain);
        let num = queue_number(port);
        let stop = Arc::new(AtomicBool::new(false));
        let (ready_tx, ready_rx) = mpsc::channel();
        let thread = {
            let stop = stop.clone();
            std::thread::Builder::new()
                .name("wan-delay".into())
                .spawn(move || delayer(num, rtt / 2, &stop, &ready_tx))
                .context("starting the delay thread")?
        };
        let mut delay = Delay { chain: chain.clone(), stop, thread: Some(thread) };
        match ready_rx.recv_timeout(Duration::from_secs(10)) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(e),
            Err(_) => return Err(delay.finish().err().unwrap_or_else(|| anyhow!("the delay thread did not start"))),
        }
        let p = port.to_string();
        let q = num.to_string();
        iptables(&["-N", &chain])?;
        for direction in ["--dport", "--sport"] {
            iptables(&[
                "-A",
                &chain,
                "-p",
                "tcp",
                direction,
                &p,
                "-j",
                "NFQUEUE",
                "--queue-num",
                &q,
                "--queue-bypass",
            ])?;
        }
        iptables(&["-I", "INPUT", "1", "-i", "lo", "-j", &chain])?;
        Ok(delay)
    }

    /// Removes the delay; returns what the delayer did.
    ///
    /// # Errors
    /// When the delayer failed (the rules are removed all the same).
    pub fn stop(mut self) -> Result<DelayStats> {
        self.finish()
    }

    fn finish(&mut self) -> Result<DelayStats> {
        // rules first, so no new packet is queued; then the thread releases what it holds
        remove_chain(&self.chain);
        self.stop.store(true, Ordering::Relaxed);
        match self.thread.take() {
            Some(t) => t.join().map_err(|_| anyhow!("the delay thread panicked"))?,
            None => Ok(DelayStats::default()),
        }
    }
}

impl Drop for Delay {
    fn drop(&mut self) {
        let _ = self.finish();
    }
}

/// The delay thread: holds every queued packet for `one_way`, then accepts it; on `stop`, accepts all.
fn delayer(num: u16, one_way: Duration, stop: &AtomicBool, ready: &mpsc::Sender<Result<()>>) -> Result<DelayStats> {
    let setup = || -> Result<nfq::Queue> {
        let mut queue = nfq::Queue::open().context("opening a netfilter queue socket (WAN mode needs root)")?;
        queue.bind(num).with_context(|| format!("binding netfilter queue {num}"))?;
        queue.set_copy_range(num, 0)?; // metadata only: the payload stays in the kernel
        queue.set_recv_gso(num, true)?; // loopback's 64 KiB packets as they are, not cut into segments
        queue.set_queue_max_len(num, QUEUE_MAX_LEN)?;
        queue.set_fail_open(num, false)?; // a full queue drops (TCP retransmits) rather than skip the delay
        queue.set_nonblocking(true);
        Ok(queue)
    };
    let mut queue = match setup() {
        Ok(q) => {
            let _ = ready.send(Ok(()));
            q
        }
        Err(e) => {
            let msg = format!("{e:#}");
            let _ = ready.send(Err(e));
            bail!("{msg}");
        }
    };
    let cpu0 = crate::procstat::thread_cpu_seconds();
    let mut stats = DelayStats::default();
    let mut held: VecDeque<(Instant, nfq::Message)> = VecDeque::new();
    let result = loop {
        let stopping = stop.load(Ordering::Relaxed);
        let mut failed = None;
        loop {
            match queue.recv() {
                Ok(msg) => {
                    held.push_back((Instant::now() + one_way, msg));
                    stats.packets += 1;
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    failed = Some(anyhow!("reading netfilter queue {num}: {e}"));
                    break;
                }
            }
        }
        stats.max_held = stats.max_held.max(held.len());
        let now = Instant::now();
        while held.front().is_some_and(|(due, _)| stopping || failed.is_some() || *due <= now) {
            if let Some((_, msg)) = held.pop_front() {
                queue.verdict(msg).with_context(|| format!("releasing a packet of queue {num}"))?;
            }
        }
        if let Some(e) = failed {
            break Err(e);
        }
        if stopping {
            break Ok(());
        }
        let tick = if held.is_empty() { TICK_IDLE } else { TICK_BUSY };
        let wait = held.front().map_or(tick, |(due, _)| due.saturating_duration_since(now).min(tick));
        std::thread::sleep(wait);
    };
    let _ = queue.unbind(num);
    stats.cpu_seconds = crate::procstat::thread_cpu_seconds().zip(cpu0).map_or(0.0, |(b, a)| b - a);
    result.map(|()| stats)
}

/// Median round trip of a metadata request to `bootstrap`, in milliseconds, over an established connection
/// (a fresh client, two warm-up requests, then `samples` timed ones).
///
/// # Errors
/// When the cluster does not answer.
pub fn measure_rtt(bootstrap: &str, samples: usize) -> Result<f64> {
    let probe = ferry_loadtest::admin::probe_consumer(bootstrap)?;
    let mut times = Vec::with_capacity(samples);
    for i in 0..samples + 2 {
        let t = Instant::now();
        probe
            .fetch_metadata(Some("__ferry_bench_rtt_probe"), Duration::from_secs(10))
            .with_context(|| format!("metadata round trip to {bootstrap}"))?;
        if i >= 2 {
            times.push(t.elapsed().as_secs_f64() * 1000.0);
        }
    }
    times.sort_by(f64::total_cmp);
    Ok(times.get(times.len() / 2).copied().unwrap_or(0.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_names_fit_iptables_and_carry_the_pid() {
        let name = chain_name(65535);
        assert!(name.len() <= 28, "{name}");
        assert!(name.starts_with(CHAIN_PREFIX));
        assert_eq!(name.rsplit('_').next().and_then(|p| p.parse::<u32>().ok()), Some(std::process::id()));
    }

    #[test]
    fn queue_numbers_follow_the_port() {
        assert_eq!(queue_number(9092), 9092);
        assert_eq!(queue_number(0), 1);
    }
}
