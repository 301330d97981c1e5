//! `mm2.properties` → [`Mm2Config`]: clusters, enabled flows and warnings.
//!
//! Ferry reads the same file MM2's `connect-mirror-maker.sh` reads. This module validates the
//! cluster list, discovers the enabled flows (`A->B.enabled=true`), and resolves each flow
//! with MM2's key precedence. Problems that would make ferry behave differently from what the
//! file asks for are [`ConfigError`]s naming the key; everything else is a [`ConfigWarning`].
//!
//! # Layout
//!
//! - `read`: properties text → raw map (Java `Properties` semantics, quoted-value warnings);
//! - `keys`: known-key tables and unknown-key warnings;
//! - `scope`: MM2 precedence lookups for one flow;
//! - `values`: typed value parsing;
//! - `flow`: [`FlowConfig`]; `ferry`: [`FerrySettings`]; `metrics`: [`MetricsSettings`] (process-wide);
//!   `error`: error and warning types;
//! - `tasks`: offset-sync, checkpoint and heartbeat settings, and [`HeartbeatFlow`]s (MM2 also
//!   emits heartbeats for pairs that are not enabled flows).
//!
//! ```
//! let cfg = ferry_engine::parse_str(
//!     "clusters=a,b\na.bootstrap.servers=a:9092\nb.bootstrap.servers=b:9092\na->b.enabled=true\n",
//! ).unwrap();
//! assert_eq!(cfg.flows[0].remote_topic("orders"), "a.orders");
//! ```

mod error;
mod exactly_once;
mod ferry;
mod flow;
mod keys;
mod metrics;
mod read;
mod scope;
mod tasks;
mod values;

pub use error::{ConfigError, ConfigWarning};
pub use ferry::{FerrySettings, SourceConsumers, DISTANT_PARTITION_FETCH_BYTES};
pub use flow::{FlowConfig, DEFAULT_OFFSET_FLUSH_INTERVAL_MS};
pub use keys::{is_connector_key, is_worker_key, CONNECTOR_DEFAULTS, FERRY_KEYS, LEGACY_ALIASES};
pub use metrics::{
    parse_metrics_address, MetricsSettings, DEFAULT_METRICS_ADDRESS, METRICS_ADDRESS_KEY, PARTITION_LABELS_KEY,
};
pub use tasks::{CheckpointSettings, HeartbeatFlow, HeartbeatSettings, OffsetSyncSettings, SyncsLocation};

use std::collections::BTreeMap;
use std::path::Path;

/// One cluster alias and how to reach it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterConfig {
    /// Alias as listed in `clusters`.
    pub alias: String,
    /// `{alias}.bootstrap.servers`, else the top-level `bootstrap.servers`.
    pub bootstrap_servers: String,
}

/// A parsed and validated `mm2.properties`.
#[derive(Debug, Clone)]
pub struct Mm2Config {
    /// Aliases as listed in `clusters` (trimmed, duplicates removed).
    pub clusters: Vec<String>,
    /// Clusters that have bootstrap servers configured, by alias.
    pub cluster_configs: BTreeMap<String, ClusterConfig>,
    /// Enabled flows (`A->B.enabled=true`) in the file order of their `enabled` keys.
    pub flows: Vec<FlowConfig>,
    /// Every ordered pair `A->B` that emits heartbeats into `B`, in `clusters` order: MM2 runs a
    /// herder for each pair that is an enabled flow *or* has heartbeats enabled
    /// (`emit.heartbeats.enabled`: `A->B.` prefix > top level > default true), so a one-way
    /// `a->b` file also lists `b->a` (KAFKA-10710). Pairs whose heartbeats are disabled (also by a
    /// negative interval) are left out, so every entry's `settings.enabled` is true. A pair that
    /// is not an enabled flow and lacks bootstrap servers for either alias is skipped silently.
    pub heartbeat_flows: Vec<HeartbeatFlow>,
    /// Process-wide observability: `ferry.metrics.address`, `ferry.metrics.partition.labels`.
    pub metrics: MetricsSettings,
    /// Non-fatal findings, one per key and message.
    pub warnings: Vec<ConfigWarning>,
    /// All properties as read (values trimmed).
    pub raw: BTreeMap<String, String>,
}

impl Mm2Config {
    /// Keeps only flows whose target is one of `targets` (MM2's `--clusters` semantics).
    ///
    /// # Errors
    ///
    /// An alias not listed in `clusters` (key `--clusters`).
    pub fn restrict_to_targets(&mut self, targets: &[String]) -> Result<(), ConfigError> {
        for t in targets {
            if !self.clusters.contains(t) {
                return Err(ConfigError::new(
                    "--clusters",
                    format!("unknown cluster alias `{t}`; `clusters` lists: {}", self.clusters.join(", ")),
                ));
            }
        }
        self.flows.retain(|f| targets.contains(&f.target));
        self.heartbeat_flows.retain(|f| targets.contains(&f.target));
        Ok(())
    }

    /// Names (`A->B`) of the enabled flows, in order.
    pub fn flow_names(&self) -> Vec<&str> {
        self.flows.iter().map(|f| f.name.as_str()).collect()
    }

    /// The heartbeat pair named `A->B`, if it emits heartbeats.
    pub fn heartbeat_flow(&self, name: &str) -> Option<&HeartbeatFlow> {
        self.heartbeat_flows.iter().find(|f| f.name == name)
    }

    /// The flow named `A->B`, if enabled.
    pub fn flow(&self, name: &str) -> Option<&FlowConfig> {
        self.flows.iter().find(|f| f.name == name)
    }
}

/// Reads and parses an `mm2.properties` file.
///
/// # Errors
///
/// The file cannot be read (key = the path), or any [`parse_str`] error.
pub fn load_file(path: &Path) -> Result<Mm2Config, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::new(path.display().to_string(), format!("cannot read file: {e}")))?;
    parse_str(&text).map_err(|e| match e.key.strip_prefix("line ") {
        Some(line) => ConfigError::new(format!("{}:{line}", path.display()), e.problem),
        None => e,
    })
}

/// Parses `mm2.properties` text.
///
/// # Errors
///
/// Malformed properties syntax; missing or empty `clusters`; an enabled flow naming an unknown
/// alias, a cluster without bootstrap servers, or itself as target; any invalid value of an
/// enabled flow (regex, number, boolean, policy class, `use.defaults.from`). Each error names
/// the key to fix.
pub fn parse_str(text: &str) -> Result<Mm2Config, ConfigError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let raw = read::read_properties(text)?;
    let mut warnings = raw.warnings.clone();

    let clusters_value = raw
        .map
        .get("clusters")
        .ok_or_else(|| ConfigError::new("clusters", "required key is missing (comma-separated cluster aliases)"))?;
    let mut clusters: Vec<String> = Vec::new();
    for alias in crate::filter::split_list(clusters_value) {
        if alias.contains("->") {
            return Err(ConfigError::new("clusters", format!("alias `{alias}` must not contain `->`")));
        }
        if clusters.iter().any(|c| c == alias) {
            warnings.push(ConfigWarning::new("clusters", format!("alias `{alias}` listed twice")));
        } else {
            clusters.push(alias.to_string());
        }
    }
    if clusters.is_empty() {
        return Err(ConfigError::new("clusters", "must list at least one cluster alias"));
    }

    warnings.extend(keys::check_keys(&raw.map, &raw.order, &clusters));

    let mut cluster_configs = BTreeMap::new();
    for alias in &clusters {
        let servers = raw
            .map
            .get(&format!("{alias}.bootstrap.servers"))
            .or_else(|| raw.map.get("bootstrap.servers"))
            .filter(|s| !s.is_empty());
        if let Some(servers) = servers {
            cluster_configs
                .insert(alias.clone(), ClusterConfig { alias: alias.clone(), bootstrap_servers: servers.clone() });
        }
    }

    let mut flows = Vec::new();
    for (source, target) in enabled_flows(&raw, &clusters, &mut warnings)? {
        for alias in [&source, &target] {
            if !cluster_configs.contains_key(alias) {
                return Err(ConfigError::new(
                    format!("{alias}.bootstrap.servers"),
                    format!(
                        "cluster `{alias}` (used by enabled flow `{source}->{target}`) has no bootstrap servers; \
                         set `{alias}.bootstrap.servers`"
                    ),
                ));
            }
        }
        flows.push(flow::build_flow(&raw.map, &source, &target, &mut warnings)?);
    }

    let heartbeat_flows = heartbeat_flows(&raw.map, &clusters, &cluster_configs, &flows, &mut warnings)?;
    let metrics = MetricsSettings::resolve(&raw.map, &mut warnings)?;

    let mut seen = std::collections::BTreeSet::new();
    warnings.retain(|w| seen.insert((w.key.clone(), w.message.clone())));
    Ok(Mm2Config { clusters, cluster_configs, flows, heartbeat_flows, metrics, warnings, raw: raw.map })
}

/// MM2's `clusterPairs()` restricted to pairs that emit heartbeats.
fn heartbeat_flows(
    raw: &BTreeMap<String, String>,
    clusters: &[String],
    cluster_configs: &BTreeMap<String, ClusterConfig>,
    flows: &[FlowConfig],
    warnings: &mut Vec<ConfigWarning>,
) -> Result<Vec<HeartbeatFlow>, ConfigError> {
    let mut out = Vec::new();
    for source in clusters {
        for target in clusters {
            if source == target {
                continue;
            }
            let name = format!("{source}->{target}");
            if let Some(f) = flows.iter().find(|f| f.name == name) {
                if f.heartbeats.enabled {
                    out.push(HeartbeatFlow {
                        source: source.clone(),
                        target: target.clone(),
                        name,
                        settings: f.heartbeats.clone(),
                        target_producer: f.target_producer.clone(),
                        target_admin: f.target_admin.clone(),
                    });
                }
                continue;
            }
            if !cluster_configs.contains_key(source) || !cluster_configs.contains_key(target) {
                continue;
            }
            let scope = scope::FlowScope::new(raw, source, target);
            let settings = tasks::heartbeats(&scope, warnings)?;
            if !settings.enabled {
                continue;
            }
            let mut client = |role| {
                let (props, w) = crate::client_props::build(raw, source, target, role)?;
                warnings.extend(w);
                Ok::<_, ConfigError>(props)
            };
            let target_producer = client(crate::client_props::ClientRole::TargetProducer)?;
            let target_admin = client(crate::client_props::ClientRole::TargetAdmin)?;
            out.push(HeartbeatFlow {
                source: source.clone(),
                target: target.clone(),
                name,
                settings,
                target_producer,
                target_admin,
            });
        }
    }
    Ok(out)
}

/// Finds `A->B.enabled=true` keys in file order and validates their aliases.
fn enabled_flows(
    raw: &read::RawProperties,
    clusters: &[String],
    warnings: &mut Vec<ConfigWarning>,
) -> Result<Vec<(String, String)>, ConfigError> {
    let mut out: Vec<(String, String)> = Vec::new();
    for key in &raw.order {
        let Some(f) = keys::split_flow_key(key, clusters) else {
            continue;
        };
        let known = clusters.contains(&f.source) && clusters.contains(&f.target);
        if f.rest != "enabled" {
            if !known {
                warnings.push(ConfigWarning::new(
                    key.clone(),
                    "flow key names a cluster alias not listed in `clusters`; ignored",
                ));
            }
            continue;
        }
        let value = raw.map.get(key).map_or("", String::as_str);
        if !values::parse_bool(key, value)? {
            if !known {
                warnings.push(ConfigWarning::new(key.clone(), "flow names a cluster alias not listed in `clusters`"));
            }
            continue;
        }
        if !known {
            let missing = if clusters.contains(&f.source) { &f.target } else { &f.source };
            return Err(ConfigError::new(
                key.clone(),
                format!(
                    "enabled flow names cluster `{missing}`, which is not listed in `clusters` ({})",
                    clusters.join(", ")
                ),
            ));
        }
        if f.source == f.target {
            return Err(ConfigError::new(key.clone(), "a flow cannot replicate a cluster into itself"));
        }
        let pair = (f.source, f.target);
        if !out.contains(&pair) {
            out.push(pair);
        }
    }
    Ok(out)
}
