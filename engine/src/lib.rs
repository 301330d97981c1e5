//! Pure logic of ferry, the Rust replacement for Kafka MirrorMaker 2 (MM2).
//!
//! This crate is sans-io: it parses `mm2.properties`, resolves MM2's key precedence into typed
//! per-flow settings, implements MM2's replication policies and filters, builds librdkafka client
//! properties, and encodes/decodes the Kafka Connect offsets that MM2 stores. The runtime crate
//! (`actors/`) does all I/O and calls into these functions.
//!
//! # Layout
//!
//! - [`config`]: `mm2.properties` → [`Mm2Config`] with one [`FlowConfig`] per enabled `A->B` flow.
//! - [`policy`]: `DefaultReplicationPolicy` / `IdentityReplicationPolicy` naming and cycle rules.
//! - [`filter`]: MM2's default topic, group and topic-config-property filters.
//! - [`client_props`]: Java client keys → librdkafka properties, with secret masking.
//! - [`topic_config`]: which source topic configs to copy onto remote topics.
//! - [`connect_offsets`]: the Connect offsets-topic JSON written for `MirrorSourceConnector`.
//!
//! Start at [`parse_str`] / [`load_file`].

pub mod client_props;
pub mod config;
pub mod connect_offsets;
pub mod filter;
pub mod policy;
pub mod topic_config;

pub use config::{
    load_file, parse_str, ClusterConfig, ConfigError, ConfigWarning, FerrySettings, FlowConfig,
    Mm2Config,
};
