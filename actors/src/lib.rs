//! The ferry runtime: actors for control, a batched data path for records.
//!
//! # Layout
//! - [`runtime`]: `ferry run` — one [`supervisor::FlowSupervisor`] per enabled flow, signal handling,
//!   orderly shutdown.
//! - [`supervisor`], [`discovery`]: the control actors of a flow; [`checkpoint`]: checkpoints
//!   and group offset sync; [`heartbeat`]: MM2's heartbeats; [`topic_sync`] and [`acl_sync`]: topic
//!   configs and topic ACLs mirrored onto remote topics.
//! - [`pipeline`]: fetchers → bounded crossbeam queues → producer workers, with per-partition progress.
//! - [`progress`]: durable progress in MM2's Connect offsets topic; [`offset_syncs`]: MM2-format offset
//!   syncs and ferry's offset-index journal, written before progress; [`offset_index`]: rebuilding the
//!   translation indexes from them.
//! - [`kafka`]: client construction, admin calls, error sorting.
//! - Observability: [`metrics`] (names and per-batch handles), [`monitor`] (lag and gauges per flow),
//!   [`status`] (what `/status` and `/readyz` report), [`http`] (the endpoint).
//! - [`check`], [`demo`], [`translate`]: `ferry check`, `ferry demo` and `ferry translate`.
//! - [`exit`]: ending the process without C exit handlers racing the clients left alive.
//!
//! Start reading at [`runtime::run`], then [`supervisor::start_flow`] and [`pipeline::Pipeline`].

// `FerryError` carries the cluster alias and context with every Kafka error; errors are the cold path,
// so their size does not matter and boxing them would only add noise.
#![allow(clippy::result_large_err)]

pub mod acl_sync;
pub mod check;
pub mod checkpoint;
pub mod demo;
pub mod discovery;
pub mod error;
pub mod exit;
pub mod heartbeat;
pub mod http;
pub mod kafka;
pub mod membership;
pub mod metrics;
pub mod monitor;
pub mod offset_index;
pub mod offset_syncs;
pub mod pipeline;
pub mod progress;
pub mod runtime;
pub mod status;
pub mod supervisor;
pub mod topic_sync;
pub mod translate;
