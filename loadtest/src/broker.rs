//! Fault injection on the rig's brokers: stop one (SIGKILL, as in a crash), start it again with exactly the
//! command line, environment and working directory it had (same ports, same data directory), or pause it
//! (SIGSTOP/SIGCONT, a broker that stops answering without closing its connections).
//!
//! A restarted broker has a new PID: it is written to the rig's pid file (`.rig/clusters/<name>/pid`) and to
//! `.rig/env`, so `scripts/kafka-rig.sh stop`/`status` keep working. A [`Broker`] dropped while stopped or
//! paused restores the broker, so an interrupted load test does not leave the rig broken.
//!
//! # Layout
//! - [`Broker::attach`]: find the broker's PID, check it belongs to the rig, save how to start it again.
//! - [`Broker::stop`], [`Broker::start`], [`Broker::pause`], [`Broker::resume`].

use std::ffi::OsString;
use std::fs::OpenOptions;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::admin::wait_leaders;
use crate::rig::Rig;

/// What a broker is doing, as far as the load test made it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Up,
    Down,
    Paused,
}

/// One of the rig's brokers under the load test's control.
pub struct Broker {
    /// `src` or `dst`.
    pub name: String,
    bootstrap: String,
    rig_dir: PathBuf,
    pid: u32,
    cmdline: Vec<OsString>,
    environ: Vec<(OsString, OsString)>,
    cwd: PathBuf,
    state: State,
    /// The broker process when this load test started it (reaped when stopped again).
    child: Option<Child>,
    /// A topic whose partitions must have leaders before a restarted broker counts as back.
    probe: Option<(String, i32)>,
}

fn split_nul(bytes: &[u8]) -> Vec<OsString> {
    bytes.split(|b| *b == 0).filter(|s| !s.is_empty()).map(|s| OsString::from(std::ffi::OsStr::from_bytes(s))).collect()
}

/// True once `pid` no longer runs (gone or a zombie).
fn is_gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat.rfind(')').and_then(|i| stat[i + 1..].split_whitespace().next()) == Some("Z"),
    }
}

fn kill(signal: &str, pid: u32) -> Result<()> {
    let status = Command::new("kill").arg(format!("-{signal}")).arg(pid.to_string()).status()?;
    if !status.success() {
        bail!("kill -{signal} {pid} failed");
    }
    Ok(())
}

impl Broker {
    /// Takes control of broker `name` (`src` or `dst`) of `rig`.
    ///
    /// # Errors
    /// When its PID is unknown, it does not run, or its command line does not point into the rig's
    /// directory (never signal a process the rig did not start).
    pub fn attach(rig: &Rig, name: &str) -> Result<Broker> {
        if !rig.kind.eq_ignore_ascii_case("kafka") {
            bail!(
                "broker faults need Apache Kafka brokers (FERRY_BROKER_KIND={}): Tansu keeps its data in memory",
                rig.kind
            );
        }
        let rig_dir = rig.dir.clone().context("FERRY_RIG_DIR is not set and there is no .rig directory")?;
        let pid = rig.broker_pid(name).with_context(|| format!("no PID for the {name} broker"))?;
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline"))
            .with_context(|| format!("the {name} broker (pid {pid}) is not running"))?;
        let rig_bytes = rig_dir.as_os_str().as_bytes();
        if !cmdline.windows(rig_bytes.len()).any(|w| w == rig_bytes) {
            bail!("pid {pid} is not a broker of the rig in {}", rig_dir.display());
        }
        let environ = split_nul(&std::fs::read(format!("/proc/{pid}/environ"))?)
            .into_iter()
            .filter_map(|kv| {
                let b = kv.as_bytes();
                let eq = b.iter().position(|c| *c == b'=')?;
                Some((
                    OsString::from(std::ffi::OsStr::from_bytes(&b[..eq])),
                    OsString::from(std::ffi::OsStr::from_bytes(&b[eq + 1..])),
                ))
            })
            .collect();
        let cwd = std::fs::read_link(format!("/proc/{pid}/cwd")).unwrap_or_else(|_| rig_dir.clone());
        Ok(Broker {
            name: name.to_string(),
            bootstrap: rig.bootstrap(name).to_string(),
            rig_dir,
            pid,
            cmdline: split_nul(&cmdline),
            environ,
            cwd,
            state: State::Up,
            child: None,
            probe: None,
        })
    }

    /// Sets the topic whose leaders mark a restarted broker as ready.
    pub fn set_probe(&mut self, topic: &str, partitions: i32) {
        self.probe = Some((topic.to_string(), partitions));
    }

    /// The broker's current PID.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// SIGSTOP.
    ///
    /// # Errors
    /// When the signal cannot be sent.
    pub fn pause(&mut self) -> Result<()> {
        kill("STOP", self.pid)?;
        self.state = State::Paused;
        Ok(())
    }

    /// SIGCONT.
    ///
    /// # Errors
    /// When the signal cannot be sent.
    pub fn resume(&mut self) -> Result<()> {
        kill("CONT", self.pid)?;
        self.state = State::Up;
        Ok(())
    }

    /// SIGKILL, then waits (up to 15 s) until the process is gone.
    ///
    /// # Errors
    /// When it does not go away.
    pub fn stop(&mut self) -> Result<()> {
        if self.state == State::Paused {
            let _ = kill("CONT", self.pid);
        }
        kill("KILL", self.pid)?;
        self.state = State::Down;
        let deadline = Instant::now() + Duration::from_secs(15);
        while !is_gone(self.pid) {
            if Instant::now() > deadline {
                bail!("the {} broker (pid {}) did not exit after SIGKILL", self.name, self.pid);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        if let Some(mut child) = self.child.take() {
            let _ = child.wait();
        }
        Ok(())
    }

    fn pid_file(&self) -> PathBuf {
        self.rig_dir.join("clusters").join(&self.name).join("pid")
    }

    /// Starts the broker again with its saved command line, environment and directory, in its own session,
    /// appending to its `server.log`; records the new PID for the rig; waits (up to 120 s) until it serves
    /// the probe topic (or answers metadata). Returns how long the restart took.
    ///
    /// # Errors
    /// When it cannot be spawned or does not come back.
    pub fn start(&mut self) -> Result<Duration> {
        let started = Instant::now();
        let log_path = self.rig_dir.join("clusters").join(&self.name).join("server.log");
        let log = OpenOptions::new().create(true).append(true).open(&log_path)?;
        let pid_file = self.pid_file();
        let _ = std::fs::remove_file(&pid_file);
        // The same shape as kafka-rig.sh's spawn: the shell writes its PID, then execs the broker.
        let child = Command::new("setsid")
            .arg("sh")
            .arg("-c")
            .arg("echo $$ >\"$0\"; exec \"$@\"")
            .arg(&pid_file)
            .args(&self.cmdline)
            .env_clear()
            .envs(self.environ.iter().map(|(k, v)| (k, v)))
            .current_dir(&self.cwd)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("restarting the {} broker", self.name))?;
        let deadline = Instant::now() + Duration::from_secs(10);
        let pid = loop {
            if let Some(pid) = std::fs::read_to_string(&pid_file).ok().and_then(|s| s.trim().parse::<u32>().ok()) {
                break pid;
            }
            if Instant::now() > deadline {
                bail!("the restarted {} broker wrote no pid file", self.name);
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        self.pid = pid;
        self.child = Some(child);
        self.state = State::Up;
        self.update_env_file();
        let (topic, partitions) = self.probe.clone().unwrap_or_default();
        let ready = if topic.is_empty() {
            wait_leaders(&self.bootstrap, "__consumer_offsets", 0, Duration::from_secs(120))
        } else {
            wait_leaders(&self.bootstrap, &topic, partitions, Duration::from_secs(120))
        };
        if !ready {
            bail!(
                "the restarted {} broker (pid {pid}) did not serve {topic} within 120 s; see {}",
                self.name,
                log_path.display()
            );
        }
        Ok(started.elapsed())
    }

    /// Rewrites `FERRY_<NAME>_PID=` in `.rig/env` (atomically) so the rig's scripts see the new broker.
    fn update_env_file(&self) {
        let path = self.rig_dir.join("env");
        let Ok(text) = std::fs::read_to_string(&path) else { return };
        let key = format!("FERRY_{}_PID=", self.name.to_uppercase());
        let new: String = text
            .lines()
            .map(|l| if l.starts_with(&key) { format!("{key}{}", self.pid) } else { l.to_string() })
            .collect::<Vec<_>>()
            .join("\n")
            + "\n";
        let tmp = self.rig_dir.join(format!("env.loadtest.{}", std::process::id()));
        if std::fs::write(&tmp, new).is_ok() {
            let _ = std::fs::rename(&tmp, &path);
        }
    }

    /// Brings the broker back if the load test left it stopped or paused.
    ///
    /// # Errors
    /// When it cannot be restored.
    pub fn restore(&mut self) -> Result<()> {
        match self.state {
            State::Up => Ok(()),
            State::Paused => self.resume(),
            State::Down => self.start().map(|_| ()),
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if self.state != State::Up {
            if let Err(e) = self.restore() {
                eprintln!("ferry-loadtest: could not restore the {} broker: {e:#}", self.name);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_proc_cmdline() {
        let v = split_nul(b"java\0-Xmx512m\0kafka.Kafka\0/x/server.properties\0");
        assert_eq!(v.len(), 4);
        assert_eq!(v[3], OsString::from("/x/server.properties"));
    }

    #[test]
    fn own_process_is_not_gone() {
        assert!(!is_gone(std::process::id()));
        assert!(is_gone(u32::MAX - 1));
    }
}
