//! Process-wide observability keys: where ferry serves `/metrics` and its status API, and how many
//! labels its per-partition series carry.
//!
//! Unlike the other `ferry.*` keys these apply to the whole process (one HTTP endpoint, one metrics
//! registry), so they are read at the top level only; a flow-prefixed copy is ignored with a warning.
//! `ferry run --metrics-addr` overrides `ferry.metrics.address` with the same syntax
//! ([`parse_metrics_address`]).
//!
//! ```
//! use ferry_engine::config::parse_metrics_address;
//! assert_eq!(parse_metrics_address("k", "off").unwrap(), None);
//! assert_eq!(parse_metrics_address("k", "0.0.0.0:9644").unwrap().map(|a| a.port()), Some(9644));
//! assert!(parse_metrics_address("k", "localhost").is_err());
//! ```

use super::error::{ConfigError, ConfigWarning};
use super::values::parse_bool;
use std::collections::BTreeMap;
use std::net::SocketAddr;

/// `ferry.metrics.address`: where `/metrics`, `/status`, `/healthz` and `/readyz` are served.
pub const METRICS_ADDRESS_KEY: &str = "ferry.metrics.address";
/// `ferry.metrics.partition.labels`: whether per-partition series carry a `partition` label.
pub const PARTITION_LABELS_KEY: &str = "ferry.metrics.partition.labels";
/// The default listen address: loopback only, so nothing is exposed unless asked for.
pub const DEFAULT_METRICS_ADDRESS: &str = "127.0.0.1:9644";

/// Observability settings of the process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsSettings {
    /// `ferry.metrics.address`: IP address and port of the metrics and status endpoint, `None` when
    /// `off`. Default `127.0.0.1:9644`; port 0 picks a free port (logged at start).
    pub address: Option<SocketAddr>,
    /// `ferry.metrics.partition.labels`: `true` (default) gives per-partition series a `partition`
    /// label; `false` sums them per topic, for deployments with many thousands of partitions.
    pub partition_labels: bool,
}

impl Default for MetricsSettings {
    fn default() -> Self {
        Self { address: Some(SocketAddr::from(([127, 0, 0, 1], 9644))), partition_labels: true }
    }
}

impl MetricsSettings {
    /// Reads the top-level keys; flow-prefixed copies are reported in `warnings` and ignored.
    ///
    /// # Errors
    /// A value that is not an `ip:port` or `off`, or not a boolean, naming the key.
    pub(crate) fn resolve(
        raw: &BTreeMap<String, String>,
        warnings: &mut Vec<ConfigWarning>,
    ) -> Result<Self, ConfigError> {
        let defaults = Self::default();
        let address = match raw.get(METRICS_ADDRESS_KEY) {
            Some(value) => parse_metrics_address(METRICS_ADDRESS_KEY, value)?,
            None => defaults.address,
        };
        let partition_labels = match raw.get(PARTITION_LABELS_KEY) {
            Some(value) => parse_bool(PARTITION_LABELS_KEY, value)?,
            None => defaults.partition_labels,
        };
        for key in raw.keys().filter(|k| k.contains("->")) {
            if key.ends_with(&format!(".{METRICS_ADDRESS_KEY}")) || key.ends_with(&format!(".{PARTITION_LABELS_KEY}")) {
                warnings.push(ConfigWarning::new(
                    key.as_str(),
                    "applies to the whole process, not to one flow; set it without the flow prefix (ignored)",
                ));
            }
        }
        Ok(Self { address, partition_labels })
    }
}

/// Parses a metrics listen address: `off` (any case) disables the endpoint, otherwise an IP address
/// and port such as `127.0.0.1:9644`, `0.0.0.0:9644` or `[::1]:9644`.
///
/// # Errors
/// Any other text (host names are not resolved: they would make start-up depend on DNS), naming `key`.
pub fn parse_metrics_address(key: &str, value: &str) -> Result<Option<SocketAddr>, ConfigError> {
    let value = value.trim();
    if value.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    value.parse::<SocketAddr>().map(Some).map_err(|_| {
        ConfigError::new(
            key,
            format!("expected an IP address and port such as `{DEFAULT_METRICS_ADDRESS}`, or `off`, got `{value}`"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::raw;

    #[test]
    fn defaults_overrides_and_off() {
        let mut warnings = Vec::new();
        let s = MetricsSettings::resolve(&raw(&[]), &mut warnings).expect("defaults");
        assert_eq!(s, MetricsSettings::default());
        assert_eq!(s.address.map(|a| a.to_string()), Some(DEFAULT_METRICS_ADDRESS.to_string()));
        let r = raw(&[(METRICS_ADDRESS_KEY, "0.0.0.0:19644"), (PARTITION_LABELS_KEY, "FALSE")]);
        let s = MetricsSettings::resolve(&r, &mut warnings).expect("set");
        assert_eq!(s.address.map(|a| a.port()), Some(19644));
        assert!(!s.partition_labels);
        let s = MetricsSettings::resolve(&raw(&[(METRICS_ADDRESS_KEY, "Off")]), &mut warnings).expect("off");
        assert_eq!(s.address, None);
        assert!(warnings.is_empty());
    }

    #[test]
    fn bad_values_name_the_key_and_flow_copies_warn() {
        let mut warnings = Vec::new();
        for bad in ["9644", "localhost:9644", "127.0.0.1", "127.0.0.1:99999", ""] {
            let e = MetricsSettings::resolve(&raw(&[(METRICS_ADDRESS_KEY, bad)]), &mut warnings).expect_err(bad);
            assert_eq!(e.key, METRICS_ADDRESS_KEY);
            assert!(e.to_string().contains("`off`"), "{e}");
        }
        let e = MetricsSettings::resolve(&raw(&[(PARTITION_LABELS_KEY, "no")]), &mut warnings).expect_err("bool");
        assert_eq!(e.key, PARTITION_LABELS_KEY);
        let r = raw(&[("a->b.ferry.metrics.address", "0.0.0.0:1")]);
        let s = MetricsSettings::resolve(&r, &mut warnings).expect("ignored");
        assert_eq!(s, MetricsSettings::default());
        assert_eq!(warnings.len(), 1);
        assert_eq!(warnings[0].key, "a->b.ferry.metrics.address");
    }
}
