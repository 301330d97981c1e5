//! Admin operations ferry needs on either cluster: list topics, read and alter topic configs, create
//! remote topics and grow their partition counts, read and create topic ACLs.
//!
//! Kept apart from the actors so discovery reads as policy ("which topics, how many partitions") while
//! this file holds the mechanics and the error messages operators see ("target has 1 broker but
//! `replication.factor` is 3").
//!
//! # Layout
//! [`Admin`] wraps one rdkafka `AdminClient` for one cluster alias. Metadata calls and the calls of
//! [`native_admin`] (incremental alter configs, ACLs) block, so they run on tokio's blocking pool.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use ferry_engine::acl::AclBinding;
use ferry_engine::topic_config::{ConfigAlteration, ConfigSource, TopicConfigEntry};
use rdkafka::admin::{AdminClient, AdminOptions, NewPartitions, NewTopic, ResourceSpecifier, TopicReplication};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};

use super::clients::{self, LoggingContext};
use super::native_admin::{self, NativeAdminError};
use crate::error::FerryError;
use ferry_engine::client_props::ClientProps;

/// Partition counts of the topics a cluster has, by topic name.
pub type TopicPartitions = BTreeMap<String, i32>;

/// Admin access to one cluster.
#[derive(Clone)]
pub struct Admin {
    alias: String,
    client: Arc<AdminClient<LoggingContext>>,
    timeout: Duration,
}

impl Admin {
    /// Creates an admin client for cluster `alias`.
    ///
    /// # Errors
    /// [`FerryError::Kafka`] when the properties are rejected by librdkafka.
    pub fn new(alias: &str, props: &ClientProps, timeout: Duration) -> Result<Self, FerryError> {
        let config = clients::client_config(props);
        let client = clients::create::<AdminClient<LoggingContext>>(alias, "admin client", &config)?;
        Ok(Self { alias: alias.to_string(), client: Arc::new(client), timeout })
    }

    /// The alias of the cluster this client talks to.
    pub fn alias(&self) -> &str {
        &self.alias
    }

    fn options(&self) -> AdminOptions {
        AdminOptions::new().request_timeout(Some(self.timeout)).operation_timeout(Some(self.timeout))
    }

    /// Lists all topics with their partition counts and the number of brokers.
    ///
    /// # Errors
    /// [`FerryError::Kafka`] when the cluster cannot be reached within the timeout.
    pub async fn list_topics(&self) -> Result<(TopicPartitions, usize), FerryError> {
        let client = Arc::clone(&self.client);
        let timeout = self.timeout;
        let alias = self.alias.clone();
        let joined = tokio::task::spawn_blocking(move || {
            client.inner().fetch_metadata(None, timeout).map(|metadata| {
                let topics = metadata
                    .topics()
                    .iter()
                    .filter(|t| t.error().is_none())
                    .map(|t| (t.name().to_string(), t.partitions().len() as i32))
                    .collect::<TopicPartitions>();
                (topics, metadata.brokers().len())
            })
        })
        .await;
        match joined {
            Ok(result) => result.map_err(|e| FerryError::kafka(&alias, "listing topics", e)),
            Err(join) => Err(FerryError::Io {
                context: format!("cluster `{alias}`: listing topics"),
                source: std::io::Error::other(join.to_string()),
            }),
        }
    }

    /// The shortest of `samples` metadata round trips to the cluster (the first, which may include
    /// connecting, does not count when there are more); `None` when one was not answered within
    /// `timeout`. Each asks for the brokers only (and the topics this client already knows), so the
    /// answer stays small however many topics the cluster has.
    pub async fn round_trip(&self, samples: usize, timeout: Duration) -> Option<Duration> {
        let client = Arc::clone(&self.client);
        let joined = tokio::task::spawn_blocking(move || {
            let mut times = Vec::with_capacity(samples);
            for _ in 0..samples.max(1) {
                let started = std::time::Instant::now();
                if native_admin::known_topics_metadata(client.inner(), timeout).is_err() {
                    return None;
                }
                times.push(started.elapsed());
            }
            if times.len() > 1 {
                times.remove(0);
            }
            times.into_iter().min()
        })
        .await;
        joined.ok().flatten()
    }

    /// Reads the configuration entries of a topic.
    ///
    /// # Errors
    /// [`FerryError::Kafka`] when the request fails.
    pub async fn topic_configs(&self, topic: &str) -> Result<Vec<TopicConfigEntry>, FerryError> {
        let results = self
            .client
            .describe_configs([&ResourceSpecifier::Topic(topic)], &self.options())
            .await
            .map_err(|e| FerryError::kafka(&self.alias, format!("describing configs of `{topic}`"), e))?;
        let mut entries = Vec::new();
        for result in results {
            let resource = result.map_err(|code| {
                FerryError::kafka(&self.alias, format!("describing configs of `{topic}`"), KafkaError::AdminOp(code))
            })?;
            entries.extend(resource.entries.into_iter().map(|e| TopicConfigEntry {
                name: e.name,
                value: e.value,
                source: convert_source(e.source),
                is_read_only: e.is_read_only,
                is_sensitive: e.is_sensitive,
            }));
        }
        Ok(entries)
    }

    /// Creates `topic` with `partitions`, replication factor `replication_factor` (-1: broker default)
    /// and `configs`. A topic that already exists counts as success.
    ///
    /// # Errors
    /// [`FerryError::Topic`] naming the key to change when the broker refuses (e.g. too few brokers for
    /// the replication factor, named by `rf_key`).
    pub async fn create_topic(
        &self,
        topic: &str,
        partitions: i32,
        replication_factor: i16,
        configs: &BTreeMap<String, String>,
        rf_key: &str,
    ) -> Result<(), FerryError> {
        let replication = TopicReplication::Fixed(i32::from(replication_factor));
        let mut new_topic = NewTopic::new(topic, partitions, replication);
        for (key, value) in configs {
            new_topic = new_topic.set(key, value);
        }
        let results = self
            .client
            .create_topics([&new_topic], &self.options())
            .await
            .map_err(|e| FerryError::kafka(&self.alias, format!("creating topic `{topic}`"), e))?;
        for result in results {
            match result {
                Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((_, RDKafkaErrorCode::InvalidReplicationFactor)) => {
                    return Err(FerryError::Topic {
                        alias: self.alias.clone(),
                        message: format!(
                            "cannot create topic `{topic}`: `{rf_key}` is {replication_factor} but the cluster has fewer brokers; lower `{rf_key}`"
                        ),
                    })
                }
                Err((_, code)) => {
                    return Err(FerryError::Topic {
                        alias: self.alias.clone(),
                        message: format!("cannot create topic `{topic}`: {code}"),
                    })
                }
            }
        }
        Ok(())
    }

    /// Creates the compacted internal topic `topic` (progress, offset syncs, checkpoints, heartbeats)
    /// unless it exists. Returns whether it was created.
    ///
    /// # Errors
    /// [`FerryError`] when the cluster cannot be listed or refuses the topic (naming `rf_key` when the
    /// replication factor is the problem).
    pub async fn ensure_compacted_topic(
        &self,
        topic: &str,
        partitions: i32,
        replication_factor: i16,
        rf_key: &str,
    ) -> Result<bool, FerryError> {
        let (topics, _) = self.list_topics().await?;
        if topics.contains_key(topic) {
            return Ok(false);
        }
        let configs = BTreeMap::from([("cleanup.policy".to_string(), "compact".to_string())]);
        self.create_topic(topic, partitions, replication_factor, &configs, rf_key).await?;
        tracing::info!(cluster = %self.alias, topic, "internal topic created");
        Ok(true)
    }

    /// Grows `topic` to `total` partitions.
    ///
    /// # Errors
    /// [`FerryError::Topic`] when the broker refuses.
    pub async fn add_partitions(&self, topic: &str, total: usize) -> Result<(), FerryError> {
        let new_partitions = NewPartitions::new(topic, total);
        let results = self
            .client
            .create_partitions([&new_partitions], &self.options())
            .await
            .map_err(|e| FerryError::kafka(&self.alias, format!("adding partitions to `{topic}`"), e))?;
        for result in results {
            match result {
                Ok(_) => {}
                Err((_, code)) => {
                    return Err(FerryError::Topic {
                        alias: self.alias.clone(),
                        message: format!("cannot grow topic `{topic}` to {total} partitions: {code}"),
                    })
                }
            }
        }
        Ok(())
    }
}

impl Admin {
    /// Applies `alterations` to the configs of `topic` (one IncrementalAlterConfigs request).
    ///
    /// # Errors
    /// [`FerryError::Kafka`] with the broker's error code and message when the request fails or the
    /// change is refused.
    pub async fn alter_topic_configs(&self, topic: &str, alterations: Vec<ConfigAlteration>) -> Result<(), FerryError> {
        let context = format!("altering configs of `{topic}`");
        let topic = topic.to_string();
        self.native(context, move |client, timeout| {
            native_admin::incremental_alter_topic_configs(client, &topic, &alterations, timeout)
        })
        .await
    }

    /// Every literal topic ACL of the cluster.
    ///
    /// # Errors
    /// [`FerryError::Kafka`]; its code is `SecurityDisabled` when the cluster has no authorizer.
    pub async fn describe_topic_acls(&self) -> Result<Vec<AclBinding>, FerryError> {
        self.native("describing topic ACLs".to_string(), native_admin::describe_topic_acls).await
    }

    /// Creates `acls`; returns the ACLs refused, each with its error.
    ///
    /// # Errors
    /// [`FerryError::Kafka`] when the request as a whole fails.
    pub async fn create_acls(&self, acls: Vec<AclBinding>) -> Result<Vec<(AclBinding, FerryError)>, FerryError> {
        let alias = self.alias.clone();
        let outcomes = self
            .native("creating ACLs".to_string(), {
                let acls = acls.clone();
                move |client, timeout| native_admin::create_acls(client, &acls, timeout)
            })
            .await?;
        Ok(acls
            .into_iter()
            .zip(outcomes)
            .filter_map(|(acl, outcome)| {
                let error = outcome.err()?;
                Some((acl, native_error(&alias, "creating an ACL".to_string(), error)))
            })
            .collect())
    }

    /// Runs a blocking [`native_admin`] call on tokio's blocking pool with this client and timeout.
    async fn native<T: Send + 'static>(
        &self,
        context: String,
        call: impl FnOnce(&rdkafka::client::Client<LoggingContext>, Duration) -> Result<T, NativeAdminError>
            + Send
            + 'static,
    ) -> Result<T, FerryError> {
        let client = Arc::clone(&self.client);
        let timeout = self.timeout;
        let joined = tokio::task::spawn_blocking(move || call(client.inner(), timeout)).await;
        match joined {
            Ok(result) => result.map_err(|e| native_error(&self.alias, context, e)),
            Err(join) => Err(FerryError::Io {
                context: format!("cluster `{}`: {context}", self.alias),
                source: std::io::Error::other(join.to_string()),
            }),
        }
    }
}

/// A [`NativeAdminError`] as a [`FerryError::Kafka`] whose source carries the error code (so errors are
/// sorted like every other admin error) and whose context carries the broker's message.
fn native_error(alias: &str, context: String, error: NativeAdminError) -> FerryError {
    let context = if error.message.is_empty() { context } else { format!("{context}: {}", error.message) };
    FerryError::kafka(alias, context, KafkaError::AdminOp(error.code))
}

fn convert_source(source: rdkafka::admin::ConfigSource) -> ConfigSource {
    use rdkafka::admin::ConfigSource as S;
    match source {
        S::DynamicTopic => ConfigSource::DynamicTopic,
        S::DynamicBroker => ConfigSource::DynamicBroker,
        S::DynamicDefaultBroker => ConfigSource::DynamicDefaultBroker,
        S::StaticBroker => ConfigSource::StaticBroker,
        S::Default => ConfigSource::Default,
        S::Unknown => ConfigSource::Unknown,
    }
}
