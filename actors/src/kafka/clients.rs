//! Building rdkafka clients from the engine's resolved client properties.
//!
//! The engine turns mm2.properties into librdkafka property maps per role (source consumer, target
//! producer, admins). This module is the only place that turns those maps into live clients, and it gives
//! every client a [`LoggingContext`] that routes librdkafka's own log lines and errors to `tracing`, tagged
//! with the cluster alias, so a broker that goes away is one clear log line, not silence or a crash.

use ferry_engine::client_props::ClientProps;
use rdkafka::client::ClientContext;
use rdkafka::config::{ClientConfig, FromClientConfigAndContext, RDKafkaLogLevel};
use rdkafka::consumer::ConsumerContext;
use rdkafka::error::KafkaError;

use crate::error::FerryError;

/// Routes librdkafka logs and global errors to `tracing`, naming the cluster.
#[derive(Clone, Debug)]
pub struct LoggingContext {
    /// Alias of the cluster the client talks to.
    pub alias: String,
    /// The client's role, e.g. "source consumer".
    pub role: &'static str,
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
        tracing::warn!(cluster = %self.alias, role = self.role, %error, "kafka client error (retrying): {reason}");
    }
}

impl ConsumerContext for LoggingContext {}

/// Turns a resolved property map into an rdkafka `ClientConfig`.
pub fn client_config(props: &ClientProps) -> ClientConfig {
    let mut config = ClientConfig::new();
    for (key, value) in &props.props {
        config.set(key, value);
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
    let context = LoggingContext { alias: alias.to_string(), role };
    T::from_config_and_context(config, context).map_err(|e| FerryError::kafka(alias, format!("creating the {role}"), e))
}

/// Gives a consumer that assigns partitions by hand a group id when it has none: librdkafka refuses
/// manual assignment without one. The group is never joined and nothing is committed to it.
pub fn ensure_group_id(config: &mut ClientConfig, group: &str) {
    if config.get("group.id").is_none() {
        config.set("group.id", group);
    }
}
