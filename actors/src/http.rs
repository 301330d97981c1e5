//! The observability endpoint: one small HTTP server (axum) on `ferry.metrics.address` /
//! `--metrics-addr` serving
//! - `GET /metrics`: Prometheus text format (ferry's metrics and the process's CPU and memory);
//! - `GET /status`: JSON status of every flow ([`crate::status::StatusReport`]);
//! - `GET /healthz`: 200 while the process runs;
//! - `GET /readyz`: 200 when every flow is connected and copying, else 503 with the reasons.
//!
//! `docs/status-api.openapi.json` describes the JSON responses; `actors/tests/observability.rs`
//! validates real responses against it.
//!
//! The listener is bound before any flow starts ([`bind`]), so a busy port fails `ferry run` at once with
//! a configuration error naming the key or flag (exit code 2). The server runs on its own arbiter thread
//! so scrapes never wait for the control actors.

use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use ferry_engine::ConfigError;
use metrics_exporter_prometheus::PrometheusHandle;

use crate::error::FerryError;
use crate::status::StatusBoard;

/// How often histogram buffers are drained and process metrics refreshed between scrapes.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// Binds the endpoint's listener. `key` is the key or flag the address came from, for the error.
///
/// # Errors
/// [`FerryError::Config`] naming `key` when the address cannot be bound (in use, not local, no
/// permission).
pub fn bind(address: SocketAddr, key: &str) -> Result<TcpListener, FerryError> {
    let listener = TcpListener::bind(address)
        .map_err(|e| ConfigError::new(key, format!("cannot listen on {address} for metrics and status: {e}")))?;
    listener
        .set_nonblocking(true)
        .map_err(|source| FerryError::Io { context: "configuring the metrics listener".into(), source })?;
    Ok(listener)
}

/// What the handlers read.
#[derive(Clone)]
struct Endpoint {
    board: StatusBoard,
    prometheus: PrometheusHandle,
    process: metrics_process::Collector,
}

/// The endpoint's routes over `board` and the installed recorder's `prometheus` handle.
fn router(board: StatusBoard, prometheus: PrometheusHandle) -> Router {
    let process = metrics_process::Collector::default();
    process.describe();
    Router::new()
        .route("/metrics", get(metrics))
        .route("/status", get(status))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(Endpoint { board, prometheus, process })
}

/// Serves the endpoint on `listener` from a dedicated arbiter thread until the process exits.
pub fn serve(listener: TcpListener, board: StatusBoard, prometheus: PrometheusHandle) {
    let local = listener.local_addr().map(|a| a.to_string()).unwrap_or_default();
    // The arbiter lives as long as the process: the endpoint must answer while flows drain.
    let arbiter = actix::Arbiter::new().handle();
    let upkeep = prometheus.clone();
    arbiter.spawn(async move {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(UPKEEP_INTERVAL);
            loop {
                tick.tick().await;
                upkeep.run_upkeep();
            }
        });
        let listener = match tokio::net::TcpListener::from_std(listener) {
            Ok(listener) => listener,
            Err(error) => {
                tracing::error!(%error, "metrics endpoint not started");
                return;
            }
        };
        tracing::info!(address = %local, "metrics and status endpoint listening (/metrics, /status, /healthz, /readyz)");
        if let Err(error) = axum::serve(listener, router(board, prometheus)).await {
            tracing::error!(%error, "metrics endpoint stopped");
        }
    });
}

async fn metrics(State(endpoint): State<Endpoint>) -> Response {
    endpoint.process.collect();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], endpoint.prometheus.render()).into_response()
}

async fn status(State(endpoint): State<Endpoint>) -> Response {
    Json(endpoint.board.report()).into_response()
}

async fn healthz() -> Response {
    Json(serde_json::json!({ "status": "ok" })).into_response()
}

async fn readyz(State(endpoint): State<Endpoint>) -> Response {
    let readiness = endpoint.board.readiness();
    let code = if readiness.ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (code, Json(readiness)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_busy_port_is_a_configuration_error_naming_the_key() {
        let first = bind(SocketAddr::from(([127, 0, 0, 1], 0)), "ferry.metrics.address").expect("free port");
        let taken = first.local_addr().expect("bound");
        let error = bind(taken, "--metrics-addr").expect_err("in use");
        assert_eq!(error.exit_code(), 2);
        assert!(error.to_string().starts_with("key `--metrics-addr`: cannot listen on 127.0.0.1:"), "{error}");
    }
}
