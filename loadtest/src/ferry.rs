//! The ferry process under test: started with the generated mm2.properties, killed with SIGKILL and
//! restarted, watched for exits nobody asked for, and finally stopped with SIGTERM (its contract: drain,
//! store progress, exit 0).

use std::fs::OpenOptions;
use std::io::Write as _;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// Finds the ferry binary: `$FERRY_BIN`, else `ferry` next to the running executable or one directory up
/// (a test binary lives in `target/<profile>/deps/`), else `target/release/ferry` in the workspace.
///
/// # Errors
/// When none exists (the message says how to build it).
pub fn locate(explicit: Option<&Path>) -> Result<PathBuf> {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(p) = explicit {
        candidates.push(p.to_path_buf());
    } else if let Some(p) = std::env::var_os("FERRY_BIN") {
        candidates.push(PathBuf::from(p));
    } else {
        if let Ok(exe) = std::env::current_exe() {
            for dir in exe.ancestors().skip(1).take(2) {
                candidates.push(dir.join("ferry"));
            }
        }
        candidates.push(crate::rig::workspace_root().join("target/release/ferry"));
    }
    candidates.iter().find(|p| p.is_file()).cloned().with_context(|| {
        format!("no ferry binary at {candidates:?}: run `cargo build --release -p ferry` (or set FERRY_BIN)")
    })
}

/// The ferry child process and its history.
pub struct Ferry {
    bin: PathBuf,
    config: PathBuf,
    /// Its log (every start appends, after a marker line).
    pub log: PathBuf,
    child: Option<Child>,
    /// How many times it was started.
    pub starts: u32,
    /// How many times the load test killed it with SIGKILL.
    pub kills: u32,
    /// Exits nobody asked for, with their status.
    pub unexpected_exits: Vec<String>,
}

impl Ferry {
    /// A ferry for `config`, not started yet.
    pub fn new(bin: PathBuf, config: PathBuf, log: PathBuf) -> Ferry {
        Ferry { bin, config, log, child: None, starts: 0, kills: 0, unexpected_exits: Vec::new() }
    }

    /// Starts `ferry run <config>`.
    ///
    /// # Errors
    /// When it cannot be spawned.
    pub fn start(&mut self, at: f64) -> Result<()> {
        let mut log = OpenOptions::new().create(true).append(true).open(&self.log)?;
        writeln!(log, "===== ferry-loadtest: start #{} at {at:.1} s =====", self.starts + 1)?;
        let child = Command::new(&self.bin)
            .arg("run")
            .arg(&self.config)
            .env("NO_COLOR", "1")
            .env("RUST_LOG", std::env::var("FERRY_LOADTEST_LOG").unwrap_or_else(|_| "info".into()))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .process_group(0)
            .spawn()
            .with_context(|| format!("starting {}", self.bin.display()))?;
        self.child = Some(child);
        self.starts += 1;
        Ok(())
    }

    /// SIGKILL and reap.
    ///
    /// # Errors
    /// When it was not running.
    pub fn kill9(&mut self) -> Result<()> {
        let Some(mut child) = self.child.take() else { bail!("ferry is not running") };
        child.kill()?;
        child.wait()?;
        self.kills += 1;
        Ok(())
    }

    /// If ferry exited by itself, records it and returns true (the caller restarts it).
    pub fn exited_unexpectedly(&mut self, at: f64) -> bool {
        let Some(child) = self.child.as_mut() else { return false };
        match child.try_wait() {
            Ok(Some(status)) => {
                self.unexpected_exits.push(format!("{status} at {at:.1} s"));
                self.child = None;
                true
            }
            _ => false,
        }
    }

    /// SIGTERM; waits up to `timeout`, then SIGKILL. Returns the exit status (`None` if not running).
    pub fn stop(&mut self, timeout: Duration) -> Option<String> {
        let mut child = self.child.take()?;
        let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status.to_string());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        Some(format!("no exit within {timeout:?} of SIGTERM (killed)"))
    }

    /// How many log lines say a client lost every broker of a cluster, and how many that the connection
    /// came back (ferry's lifecycle lines for broker outages).
    pub fn connection_lines(&self) -> (usize, usize) {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        (
            text.matches("lost the connection to every broker").count(),
            text.matches("connection to the cluster regained").count(),
        )
    }

    /// The last `n` lines of the log.
    pub fn log_tail(&self, n: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }
}

impl Drop for Ferry {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
