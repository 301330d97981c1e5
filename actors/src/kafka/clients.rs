//! Building rdkafka clients from the engine's resolved client properties.
//!
//! The engine turns mm2.properties into librdkafka property maps per role (source consumer, target
//! producer, admins). This module is the only place that turns those maps into live clients, and it gives
//! every client a [`LoggingContext`] that routes librdkafka's own log lines and errors to `tracing`, tagged
//! with the cluster alias, so a broker that goes away is one clear log line, not silence or a crash.

use ferry_engine::client_props::ClientProps;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rdkafka::client::ClientContext;
use rdkafka::config::{ClientConfig, FromClientConfigAndContext, RDKafkaLogLevel};
use rdkafka::consumer::ConsumerContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};

use crate::error::FerryError;

/// Routes librdkafka logs and global errors to `tracing`, naming the cluster. Client errors (librdkafka
/// reports a lost broker many times a second) are logged at warn level at most once per
/// [`ERROR_LOG_INTERVAL`] per client, the rest at debug level.
///
/// For the data path's clients (the source consumer and the target producer), losing every broker of the
/// cluster is one lifecycle line ("lost the connection…"), and the first answer afterwards another
/// ("connection … regained after N s"): [`LoggingContext::connection_lost`] and
/// [`LoggingContext::connection_alive`], which the data path calls once per fetch or delivery (one relaxed
/// atomic load while connected). Other clients (admin, progress, heartbeats) report it as a client error.
#[derive(Clone, Debug)]
pub struct LoggingContext {
    /// Alias of the cluster the client talks to.
    pub alias: String,
    /// The client's role, e.g. "source consumer".
    pub role: &'static str,
    /// When the last client error was logged at warn level (ms since the Unix epoch).
    last_warned: Arc<AtomicU64>,
    /// When every broker was lost (ms since the Unix epoch), 0 while connected.
    lost_since: Arc<AtomicU64>,
}

/// Roles of the clients whose lost and regained connections are lifecycle lines.
pub const DATA_PATH_ROLES: [&str; 2] = ["source consumer", "target producer"];

/// Shortest time between two warn-level client error lines of one client.
pub const ERROR_LOG_INTERVAL: Duration = Duration::from_secs(10);

impl LoggingContext {
    /// A context for a client of cluster `alias` in `role`.
    pub fn new(alias: &str, role: &'static str) -> Self {
        Self {
            alias: alias.to_string(),
            role,
            last_warned: Arc::new(AtomicU64::new(0)),
            lost_since: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Records that the client lost every broker of the cluster; logs it once per outage.
    pub fn connection_lost(&self, reason: &str) {
        if self.lost_since.compare_exchange(0, now_ms().max(1), Ordering::Relaxed, Ordering::Relaxed).is_ok() {
            tracing::warn!(cluster = %self.alias, role = self.role, "lost the connection to every broker of the cluster; retrying: {reason}");
        }
    }

    /// Records that the cluster answered; after [`Self::connection_lost`] logs that the connection is back.
    pub fn connection_alive(&self) {
        if self.lost_since.load(Ordering::Relaxed) == 0 {
            return;
        }
        let since = self.lost_since.swap(0, Ordering::Relaxed);
        if since != 0 {
            let down = now_ms().saturating_sub(since) as f64 / 1000.0;
            tracing::info!(cluster = %self.alias, role = self.role, "connection to the cluster regained after {down:.1} s");
        }
    }

    /// Whether a client error may be logged at warn level now (and records that it was).
    fn may_warn(&self) -> bool {
        let now = now_ms();
        let last = self.last_warned.load(Ordering::Relaxed);
        now.saturating_sub(last) >= ERROR_LOG_INTERVAL.as_millis() as u64
            && self.last_warned.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_ok()
    }
}

impl ClientContext for LoggingContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        match level {
            RDKafkaLogLevel::Emerg | RDKafkaLogLevel::Alert | RDKafkaLogLevel::Critical | RDKafkaLogLevel::Error => {
                tracing::error!(cluster = %self.alias, role = self.role, facility = fac, "{log_message}")
            }
            RDKafkaLogLevel::Warning => {
                tracing::warn!(cluster = %self.alias, role = self.role, facility = fac, "{log_message}")
            }
            RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => {
                tracing::info!(cluster = %self.alias, role = self.role, facility = fac, "{log_message}")
            }
            RDKafkaLogLevel::Debug => {
                tracing::debug!(cluster = %self.alias, role = self.role, facility = fac, "{log_message}")
            }
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        if error.rdkafka_error_code() == Some(RDKafkaErrorCode::AllBrokersDown) && DATA_PATH_ROLES.contains(&self.role)
        {
            self.connection_lost(reason);
        } else if self.may_warn() {
            tracing::warn!(cluster = %self.alias, role = self.role, %error, "kafka client error (retrying; repeats logged at debug level for 10 s): {reason}");
        } else {
            tracing::debug!(cluster = %self.alias, role = self.role, %error, "kafka client error (retrying): {reason}");
        }
    }
}

impl ConsumerContext for LoggingContext {}

/// Milliseconds since the Unix epoch.
fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// Turns a resolved property map into an rdkafka `ClientConfig`. With librdkafka's `debug` contexts set,
/// its debug lines are let through (rust-rdkafka otherwise caps `log_level` at the `log` crate's level,
/// which ferry, logging through `tracing`, leaves low); they appear at ferry's debug level.
pub fn client_config(props: &ClientProps) -> ClientConfig {
    let mut config = ClientConfig::new();
    for (key, value) in &props.props {
        config.set(key, value);
    }
    if props.props.get("debug").is_some_and(|contexts| !contexts.trim().is_empty()) {
        config.set_log_level(RDKafkaLogLevel::Debug);
    }
    config
}

/// Creates a client of type `T` for cluster `alias` with a [`LoggingContext`].
///
/// # Errors
/// [`FerryError::Kafka`] when librdkafka rejects a property.
pub fn create<T>(alias: &str, role: &'static str, config: &ClientConfig) -> Result<T, FerryError>
where
    T: FromClientConfigAndContext<LoggingContext>,
{
    let context = LoggingContext::new(alias, role);
    T::from_config_and_context(config, context).map_err(|e| FerryError::kafka(alias, format!("creating the {role}"), e))
}

/// Gives a consumer that assigns partitions by hand a group id when it has none: librdkafka refuses
/// manual assignment without one. The group is never joined and nothing is committed to it.
pub fn ensure_group_id(config: &mut ClientConfig, group: &str) {
    if config.get("group.id").is_none() {
        config.set("group.id", group);
    }
}
