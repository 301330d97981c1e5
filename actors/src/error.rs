//! Errors of the ferry runtime.
//!
//! One `thiserror` enum for everything the runtime can fail with, so `main` can sort failures into exit
//! codes: configuration problems exit 2 (the command-line contract), everything else exits 1.

use ferry_engine::client_props::{is_secret, MASK};
use ferry_engine::ConfigError;
use rdkafka::error::KafkaError;

/// A failure of the ferry runtime.
#[derive(Debug, thiserror::Error)]
pub enum FerryError {
    /// The configuration is invalid; nothing was started.
    #[error("{0}")]
    Config(#[from] ConfigError),
    /// A Kafka client could not be built or a Kafka call failed.
    #[error("cluster `{alias}`: {context}: {source}")]
    Kafka {
        /// Alias of the cluster the call went to.
        alias: String,
        /// What ferry was doing.
        context: String,
        /// The client's error.
        #[source]
        source: KafkaError,
    },
    /// A remote topic could not be created or grown.
    #[error("cluster `{alias}`: {message}")]
    Topic {
        /// Alias of the target cluster.
        alias: String,
        /// What went wrong, naming the topic and the key to change where there is one.
        message: String,
    },
    /// Shutdown took longer than allowed.
    #[error("shutdown did not finish within {0:?}")]
    ShutdownTimeout(std::time::Duration),
    /// The demo's verification failed.
    #[error("demo verification failed: {0}")]
    Demo(String),
    /// An I/O error (signal handler set-up, threads).
    #[error("{context}: {source}")]
    Io {
        /// What ferry was doing.
        context: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

impl FerryError {
    /// Wraps a Kafka client error with the cluster alias and what was being done.
    pub fn kafka(alias: &str, context: impl Into<String>, source: KafkaError) -> Self {
        Self::Kafka { alias: alias.to_string(), context: context.into(), source: mask_secret_value(source) }
    }

    /// Exit code for this error: 2 for configuration errors (the CLI contract), 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            Self::Config(_) => 2,
            _ => 1,
        }
    }
}

/// librdkafka's property errors quote the value it refused; for a secret property that value is masked.
fn mask_secret_value(error: KafkaError) -> KafkaError {
    match error {
        KafkaError::ClientConfig(code, description, key, value) if is_secret(&key) && !value.is_empty() => {
            KafkaError::ClientConfig(code, description.replace(&value, MASK), key, MASK.to_string())
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rdkafka::types::RDKafkaConfRes;

    #[test]
    fn refused_secret_values_are_masked() {
        let refused = KafkaError::ClientConfig(
            RDKafkaConfRes::RD_KAFKA_CONF_INVALID,
            "Invalid value \"hunter2\" for configuration property \"sasl.password\"".into(),
            "sasl.password".into(),
            "hunter2".into(),
        );
        let shown = FerryError::kafka("src", "creating the source consumer", refused).to_string();
        assert!(shown.contains("sasl.password") && shown.contains(MASK) && !shown.contains("hunter2"), "{shown}");
        let plain = KafkaError::ClientConfig(
            RDKafkaConfRes::RD_KAFKA_CONF_INVALID,
            "Invalid value \"x\" for configuration property \"acks\"".into(),
            "acks".into(),
            "x".into(),
        );
        assert!(FerryError::kafka("src", "creating", plain).to_string().contains("\"x\""));
    }
}
