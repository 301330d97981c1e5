//! Pure logic of ferry, the Rust replacement for Kafka MirrorMaker 2 (MM2).
//!
//! This crate is sans-io: it parses `mm2.properties`, resolves MM2's key precedence into typed
//! per-flow settings, implements MM2's replication policies and filters, builds librdkafka client
//! properties, encodes/decodes the Kafka Connect offsets and the internal records MM2 writes, and
//! translates consumer-group offsets exactly. The runtime crate (`actors/`) does all I/O and calls
//! into these functions.
//!
//! # Layout
//!
//! - [`config`]: `mm2.properties` → [`Mm2Config`] with one [`FlowConfig`] per enabled `A->B` flow.
//! - [`policy`]: `DefaultReplicationPolicy` / `IdentityReplicationPolicy` naming and cycle rules.
//! - [`filter`]: MM2's default topic, group and topic-config-property filters.
//! - [`client_props`]: Java client keys → librdkafka properties, with secret masking.
//! - [`topic_config`]: which source topic configs to copy onto remote topics.
//! - [`acl`]: which source topic ACLs to mirror onto remote topics.
//! - [`connect_offsets`]: the Connect offsets-topic JSON written for `MirrorSourceConnector`.
//! - [`wire`]: MM2's `OffsetSync`, `Checkpoint` and `Heartbeat` records, byte-exact.
//! - [`translate`]: the exact change-point [`OffsetIndex`] and MM2's conservative fallback.
//! - [`sync_writer`]: when to write an offset sync (MM2's triggers plus change points).
//! - [`checkpoint_rules`]: checkpoint topic renaming, monotone checkpoints, group offset sync.
//!
//! Start at [`parse_str`] / [`load_file`].

pub mod acl;
pub mod checkpoint_rules;
pub mod client_props;
pub mod config;
pub mod connect_offsets;
pub mod filter;
pub mod policy;
pub mod sync_writer;
pub mod topic_config;
pub mod translate;
pub mod wire;

pub use config::{
    load_file, parse_str, CheckpointSettings, ClusterConfig, ConfigError, ConfigWarning, FerrySettings, FlowConfig,
    HeartbeatFlow, HeartbeatSettings, Mm2Config, OffsetSyncSettings, SyncsLocation,
};
pub use translate::{OffsetIndex, Translation};
pub use wire::WireError;

#[cfg(test)]
mod test_support {
    //! Helpers shared by the unit tests of several modules.
    use std::collections::BTreeMap;

    /// A raw property map from `(key, value)` pairs.
    pub fn raw(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }
}
