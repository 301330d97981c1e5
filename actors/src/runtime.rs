//! `ferry run`: starts the metrics and status endpoint (unless `ferry.metrics.address=off`) and a
//! supervisor per enabled flow inside one actix system, waits for SIGTERM or SIGINT, then shuts every
//! flow down (stop fetching, drain, flush, store progress) within the configured deadline.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use ferry_engine::Mm2Config;

use crate::error::FerryError;
use crate::status::{FlowStatus, StatusBoard};
use crate::supervisor::{start_flow, FlowSupervisor, Shutdown};

/// Waits for SIGTERM or SIGINT.
///
/// # Errors
/// [`FerryError::Io`] when the signal handlers cannot be installed.
pub async fn termination_signal() -> Result<&'static str, FerryError> {
    use tokio::signal::unix::{signal, SignalKind};
    let io = |source| FerryError::Io { context: "installing signal handlers".into(), source };
    let mut term = signal(SignalKind::terminate()).map_err(io)?;
    let mut int = signal(SignalKind::interrupt()).map_err(io)?;
    tokio::select! {
        _ = term.recv() => Ok("SIGTERM"),
        _ = int.recv() => Ok("SIGINT"),
    }
}

/// Replicates every enabled flow of `config` until a termination signal. `metrics_key` names where
/// `config.metrics.address` came from (`ferry.metrics.address` or `--metrics-addr`), for errors.
///
/// # Errors
/// [`FerryError::Config`] naming `metrics_key` when the metrics address cannot be bound;
/// [`FerryError`] when a flow cannot start for a reason retrying cannot fix, or when progress could
/// not be stored at shutdown.
pub fn run(config: Mm2Config, metrics_key: &str) -> Result<(), FerryError> {
    let listener = config.metrics.address.map(|address| crate::http::bind(address, metrics_key)).transpose()?;
    let prometheus = listener.as_ref().map(|_| crate::metrics::install()).transpose()?;
    crate::metrics::set_partition_labels(config.metrics.partition_labels);
    let system = System::new();
    let result = system.block_on(async move {
        let shutdown_timeout =
            config.flows.iter().map(|f| f.ferry.shutdown_timeout).max().unwrap_or(Duration::from_secs(8));
        let statuses: Vec<_> = config.flows.iter().map(|f| FlowStatus::new(&f.source, &f.target)).collect();
        if let (Some(listener), Some(prometheus)) = (listener, prometheus) {
            crate::http::serve(listener, StatusBoard::new(statuses.iter().map(Arc::clone).collect()), prometheus);
        }
        let _heartbeats = crate::heartbeat::start_all(config.heartbeat_flows);
        for (alias, (props, flows)) in secured_clusters(&config.flows, &statuses) {
            actix::spawn(crate::kafka::connection::watch(alias, props, flows));
        }
        let starting = futures::future::join_all(config.flows.into_iter().zip(statuses).map(|(f, s)| start_flow(f, s)));
        let signal = termination_signal();
        tokio::pin!(signal);
        let supervisors: Vec<Addr<FlowSupervisor>> = tokio::select! {
            biased;
            signal = &mut signal => {
                tracing::info!(signal = signal?, "stopping before every flow started");
                return Ok(());
            }
            started = starting => started.into_iter().collect::<Result<_, _>>()?,
        };
        let signal = signal.await?;
        tracing::info!(signal, "stopping: draining queues and storing progress");
        shutdown_all(&supervisors, Instant::now() + shutdown_timeout).await
    });
    leave_without_teardown(system);
    result
}

/// The clusters with TLS or SASL, each with the admin properties of its first flow and the flows
/// using it: the ones whose connection failures [`crate::kafka::connection::watch`] explains.
fn secured_clusters(
    flows: &[ferry_engine::FlowConfig],
    statuses: &[Arc<FlowStatus>],
) -> std::collections::BTreeMap<String, (ferry_engine::client_props::ClientProps, Vec<Arc<FlowStatus>>)> {
    let mut clusters: std::collections::BTreeMap<String, (_, Vec<Arc<FlowStatus>>)> = Default::default();
    for (flow, status) in flows.iter().zip(statuses) {
        for (alias, props) in [(&flow.source, &flow.source_admin), (&flow.target, &flow.target_admin)] {
            if crate::kafka::connection::is_secured(props) {
                clusters.entry(alias.clone()).or_insert_with(|| (props.clone(), Vec::new())).1.push(Arc::clone(status));
            }
        }
    }
    clusters
}

/// Ends the actor system without running its destructors. By now every flow has drained, flushed and
/// stored its progress; what is left (a consumer closing against an unreachable cluster, an admin call
/// blocked until its timeout on the blocking pool) could only delay the exit the shutdown deadline
/// promises. The process ends right after with [`crate::exit::exit_now`], which releases everything
/// without running C exit handlers under the clients' threads.
pub fn leave_without_teardown(system: actix::SystemRunner) {
    std::mem::forget(system);
}

/// Shuts down every flow, returning the first error.
///
/// # Errors
/// The first flow's [`FerryError`] (every flow is still asked to stop).
pub async fn shutdown_all(supervisors: &[Addr<FlowSupervisor>], deadline: Instant) -> Result<(), FerryError> {
    let replies = futures::future::join_all(supervisors.iter().map(|s| s.send(Shutdown { deadline }))).await;
    let mut first_error = None;
    for reply in replies {
        match reply {
            Ok(Ok(copied)) => tracing::debug!(copied, "flow drained"),
            Ok(Err(error)) => {
                tracing::error!(%error, "flow shutdown failed");
                first_error.get_or_insert(error);
            }
            Err(mailbox) => tracing::error!(%mailbox, "flow supervisor gone before shutdown"),
        }
    }
    first_error.map_or(Ok(()), Err)
}
