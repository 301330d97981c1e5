//! The rig's two clusters as the load test and the bench see them: bootstrap servers, the brokers' processes
//! (for fault injection and WAN emulation), the Kafka jars (for MirrorMaker 2), and run ids. Shared by
//! `ferry-loadtest` and `ferry-bench` so both read `.rig/env` the same way.
//!
//! # Layout
//! - [`Rig`]: from the environment or `.rig/env` (written by `scripts/kafka-rig.sh start`). Broker PIDs are
//!   read from `.rig/clusters/<name>/pid` first, because a restarted broker has a new PID.
//! - [`workspace_root`], [`random_id`]: where `.rig/` lives; unique names for topics and aliases.
//! - Topic administration is in [`crate::admin`].

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Context, Result};

/// The two clusters.
#[derive(Clone, Debug)]
pub struct Rig {
    /// Bootstrap servers of the source cluster (`src`).
    pub src: String,
    /// Bootstrap servers of the target cluster (`dst`).
    pub dst: String,
    /// `kafka` or `tansu`: broker outages are only possible with Kafka (Tansu keeps data in memory).
    pub kind: String,
    /// The rig's directory (`.rig`), for the brokers' pid files.
    pub dir: Option<PathBuf>,
    /// Directory with every Kafka jar (broker, tools, connect-mirror); needed for MirrorMaker 2.
    pub kafka_libs: Option<PathBuf>,
    /// `scripts/rig/log4j2.properties`, used for MirrorMaker 2's logging when present.
    pub log4j: Option<PathBuf>,
    /// `FERRY_SRC_PID` / `FERRY_DST_PID` as given (fallback when the pid files are missing).
    env_pids: HashMap<String, u32>,
}

/// Parses `KEY=VALUE` lines of `.rig/env` (comments and blank lines skipped; values are not shell-quoted by
/// the rig for the paths and addresses it writes).
fn parse_env(text: &str) -> HashMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().trim_matches('\'').to_string()))
        .collect()
}

/// The workspace root (where `.rig/` lives).
pub fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

impl Rig {
    /// Reads the rig's variables from the environment, falling back to `<workspace>/.rig/env`.
    ///
    /// # Errors
    /// When the clusters are not named anywhere (the rig is not started).
    pub fn load() -> Result<Rig> {
        Rig::load_from(&workspace_root())
    }

    /// [`Rig::load`] with `.rig/env` (and `scripts/rig/log4j2.properties`) looked up under `workspace`.
    ///
    /// # Errors
    /// When the clusters are not named anywhere (the rig is not started).
    pub fn load_from(workspace: &Path) -> Result<Rig> {
        let file = std::fs::read_to_string(workspace.join(".rig/env")).map(|t| parse_env(&t)).unwrap_or_default();
        let var = |name: &str| {
            std::env::var(name)
                .ok()
                .filter(|v| !v.is_empty())
                .or_else(|| file.get(name).cloned().filter(|v| !v.is_empty()))
        };
        let (Some(src), Some(dst)) = (var("FERRY_SRC_BOOTSTRAP"), var("FERRY_DST_BOOTSTRAP")) else {
            bail!(
                "no Kafka clusters: start them with `scripts/kafka-rig.sh start` (writes .rig/env) or set \
                 FERRY_SRC_BOOTSTRAP and FERRY_DST_BOOTSTRAP"
            );
        };
        let mut env_pids = HashMap::new();
        for (name, key) in [("src", "FERRY_SRC_PID"), ("dst", "FERRY_DST_PID")] {
            if let Some(pid) = var(key).and_then(|v| v.parse().ok()) {
                env_pids.insert(name.to_string(), pid);
            }
        }
        let log4j = workspace.join("scripts/rig/log4j2.properties");
        Ok(Rig {
            src,
            dst,
            kind: var("FERRY_BROKER_KIND").unwrap_or_else(|| "kafka".into()),
            dir: var("FERRY_RIG_DIR").map(PathBuf::from).or_else(|| {
                let d = workspace.join(".rig");
                d.is_dir().then_some(d)
            }),
            kafka_libs: var("FERRY_KAFKA_LIBS").map(PathBuf::from),
            log4j: log4j.exists().then_some(log4j),
            env_pids,
        })
    }

    /// The current PID of broker `name` (`src` or `dst`): the rig's pid file, else the environment.
    pub fn broker_pid(&self, name: &str) -> Option<u32> {
        self.dir
            .as_ref()
            .and_then(|d| std::fs::read_to_string(d.join("clusters").join(name).join("pid")).ok())
            .and_then(|s| s.trim().parse().ok())
            .or_else(|| self.env_pids.get(name).copied())
    }

    /// Bootstrap servers of `name`.
    pub fn bootstrap(&self, name: &str) -> &str {
        if name == "src" {
            &self.src
        } else {
            &self.dst
        }
    }

    /// The Kafka version of the jars (from `kafka-clients-<version>.jar`), if they are there.
    pub fn kafka_version(&self) -> Option<String> {
        let dir = self.kafka_libs.as_ref()?;
        std::fs::read_dir(dir).ok()?.flatten().find_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            name.strip_prefix("kafka-clients-").and_then(|rest| rest.strip_suffix(".jar")).map(str::to_string)
        })
    }

    /// Whether real MirrorMaker 2 can be started: the connect-mirror jar is there and `java` runs.
    ///
    /// # Errors
    /// A sentence saying what is missing.
    pub fn mm2_available(&self) -> Result<()> {
        let dir = self
            .kafka_libs
            .as_ref()
            .ok_or_else(|| anyhow!("FERRY_KAFKA_LIBS is not set (run scripts/kafka-rig.sh start)"))?;
        let has_mirror = std::fs::read_dir(dir)
            .with_context(|| format!("reading {}", dir.display()))?
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("connect-mirror-4"));
        if !has_mirror {
            bail!("no connect-mirror jar in {}", dir.display());
        }
        let java = std::process::Command::new("java").arg("-version").output().context("running `java -version`")?;
        if !java.status.success() {
            bail!("`java -version` failed");
        }
        Ok(())
    }
}

/// The TCP port of the first address in `bootstrap` (`host:port[,host:port…]`).
pub fn bootstrap_port(bootstrap: &str) -> Option<u16> {
    bootstrap.split(',').next()?.trim().rsplit_once(':')?.1.parse().ok()
}

/// Random lowercase alphanumerics from the clock and pid (no crate needed): run ids in topic and alias
/// names, so runs sharing the rig never see each other's topics.
pub fn random_id(len: usize) -> String {
    let mut state = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0)
        ^ (u64::from(std::process::id()) << 32);
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    (0..len)
        .map(|_| {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            ALPHABET[(z % ALPHABET.len() as u64) as usize] as char
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_rig_env_file() {
        let env = parse_env("# c\nFERRY_SRC_PID=12\nFERRY_RIG_DIR=/x/.rig\n\nFERRY_KAFKA_LIBS='/a/b'\n");
        assert_eq!(env.get("FERRY_SRC_PID").map(String::as_str), Some("12"));
        assert_eq!(env.get("FERRY_RIG_DIR").map(String::as_str), Some("/x/.rig"));
        assert_eq!(env.get("FERRY_KAFKA_LIBS").map(String::as_str), Some("/a/b"));
        assert_eq!(env.len(), 3);
    }

    #[test]
    fn random_ids_are_lowercase_alphanumerics() {
        let id = random_id(12);
        assert_eq!(id.len(), 12);
        assert!(id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()));
    }

    #[test]
    fn bootstrap_ports() {
        assert_eq!(bootstrap_port("127.0.0.1:9092"), Some(9092));
        assert_eq!(bootstrap_port("a:1, b:2"), Some(1));
        assert_eq!(bootstrap_port("nohost"), None);
    }
}
