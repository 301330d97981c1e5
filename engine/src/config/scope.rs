//! Key lookup with MM2 precedence for one flow `A->B`.
//!
//! - Connector keys (filters, replication factor, sync/refresh settings, `ferry.*`):
//!   `A->B.key` > top-level `key` > default.
//! - Worker keys (`offset.flush.interval.ms`, `offset.storage.*`): top-level `key` >
//!   `B.key` (target alias) > default, because MM2 builds the worker config from the target
//!   cluster's properties and then overlays the top-level worker keys.
//!
//! Each lookup returns the raw key it used, so errors can name exactly the line to fix.

use std::collections::BTreeMap;

/// A value found for a flow, with the raw key it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Found<'a> {
    /// The full raw key, e.g. `src->dest.topics`.
    pub key: &'a str,
    /// The trimmed value.
    pub value: &'a str,
}

/// Lookups for flow `source->target`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FlowScope<'a> {
    raw: &'a BTreeMap<String, String>,
    source: &'a str,
    target: &'a str,
}

impl<'a> FlowScope<'a> {
    pub(crate) fn new(raw: &'a BTreeMap<String, String>, source: &'a str, target: &'a str) -> Self {
        Self { raw, source, target }
    }

    fn get(&self, key: &str) -> Option<Found<'a>> {
        self.raw.get_key_value(key).map(|(k, v)| Found { key: k.as_str(), value: v.as_str() })
    }

    /// The source alias.
    pub(crate) fn source(&self) -> &'a str {
        self.source
    }

    /// The target alias.
    pub(crate) fn target(&self) -> &'a str {
        self.target
    }

    /// The flow prefix `A->B.`.
    pub(crate) fn flow_prefix(&self) -> String {
        format!("{}->{}.", self.source, self.target)
    }

    /// Connector-level lookup: flow prefix, then top level.
    pub(crate) fn connector(&self, name: &str) -> Option<Found<'a>> {
        self.get(&format!("{}{name}", self.flow_prefix())).or_else(|| self.get(name))
    }

    /// Connector-level lookup of `modern`, falling back to its removed alias `legacy` (MM2's
    /// `translateDeprecatedConfigs`: the modern key wins whenever it is set).
    pub(crate) fn connector_or_legacy(&self, modern: &str, legacy: &str) -> Option<Found<'a>> {
        self.connector(modern).or_else(|| self.connector(legacy))
    }

    /// Worker-level lookup: top level, then the target alias.
    pub(crate) fn worker(&self, name: &str) -> Option<Found<'a>> {
        self.get(name).or_else(|| self.get(&format!("{}.{name}", self.target)))
    }

    /// All connector-level `name → value` pairs visible to this flow (top level overlaid by
    /// flow keys), restricted to names accepted by `keep`.
    pub(crate) fn connector_view(&self, keep: impl Fn(&str) -> bool) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for (k, v) in self.raw {
            if !k.contains("->") && keep(k) {
                out.insert(k.clone(), v.clone());
            }
        }
        let prefix = self.flow_prefix();
        for (k, v) in self.raw {
            if let Some(name) = k.strip_prefix(&prefix) {
                if keep(name) {
                    out.insert(name.to_string(), v.clone());
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::raw;

    #[test]
    fn connector_flow_beats_global() {
        let r = raw(&[("topics", "a"), ("src->dest.topics", "b"), ("replication.factor", "3")]);
        let s = FlowScope::new(&r, "src", "dest");
        assert_eq!(s.connector("topics").map(|f| f.value), Some("b"));
        assert_eq!(s.connector("topics").map(|f| f.key), Some("src->dest.topics"));
        assert_eq!(s.connector("replication.factor").map(|f| f.value), Some("3"));
        let other = FlowScope::new(&r, "dest", "src");
        assert_eq!(other.connector("topics").map(|f| f.value), Some("a"));
        assert_eq!(s.connector("groups"), None);
    }

    #[test]
    fn worker_global_beats_target_alias() {
        let r = raw(&[("dest.offset.flush.interval.ms", "5"), ("src.offset.flush.interval.ms", "6")]);
        let s = FlowScope::new(&r, "src", "dest");
        assert_eq!(s.worker("offset.flush.interval.ms").map(|f| f.value), Some("5"));
        let r = raw(&[("dest.offset.flush.interval.ms", "5"), ("offset.flush.interval.ms", "7")]);
        let s = FlowScope::new(&r, "src", "dest");
        assert_eq!(s.worker("offset.flush.interval.ms").map(|f| f.value), Some("7"));
    }

    #[test]
    fn modern_beats_legacy_across_scopes() {
        let r = raw(&[("topics.exclude", "x"), ("src->dest.topics.blacklist", "y")]);
        let s = FlowScope::new(&r, "src", "dest");
        assert_eq!(s.connector_or_legacy("topics.exclude", "topics.blacklist").map(|f| f.value), Some("x"));
        let r = raw(&[("src->dest.topics.blacklist", "y")]);
        let s = FlowScope::new(&r, "src", "dest");
        assert_eq!(s.connector_or_legacy("topics.exclude", "topics.blacklist").map(|f| f.value), Some("y"));
    }
}
