//! Which source topics the flow's credentials may not read.
//!
//! When the broker refuses a Fetch for lack of the Read permission, librdkafka puts one error per
//! partition on the consumer's queue, and rust-rdkafka hands it over without the topic's name. The
//! data path only raises a flag; this probe, run on the blocking pool by the monitor, then asks once
//! per topic: a short-lived consumer assigned partition 0 of each topic at its end, with a queue per
//! partition, gets either "end of partition" (readable) or the authorization error (denied) on that
//! topic's own queue. No record is read.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferry_engine::client_props::ClientProps;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::{Offset, TopicPartitionList};

use super::clients::{self, LoggingContext};
use crate::error::FerryError;

/// What the probe found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ReadAccess {
    /// Topics the broker refused to let ferry read.
    pub denied: BTreeSet<String>,
    /// Topics it let ferry read.
    pub readable: BTreeSet<String>,
}

/// Probes read access to `topics` on cluster `alias` with the source consumer's `props`, waiting at most
/// `timeout`; topics with no answer by then are in neither set.
///
/// # Errors
/// [`FerryError::Kafka`] when the probe consumer cannot be created or assigned.
pub fn probe(alias: &str, props: &ClientProps, topics: &[String], timeout: Duration) -> Result<ReadAccess, FerryError> {
    let mut config = clients::client_config(props);
    clients::ensure_group_id(&mut config, "ferry-read-access-probe");
    config.set("enable.partition.eof", "true");
    config.set("client.id", format!("{}|read-access-probe", props.get("client.id").unwrap_or("ferry")));
    let consumer: Arc<BaseConsumer<LoggingContext>> = Arc::new(clients::create(alias, "read access probe", &config)?);
    let mut assignment = TopicPartitionList::with_capacity(topics.len());
    for topic in topics {
        assignment
            .add_partition_offset(topic, 0, Offset::End)
            .map_err(|e| FerryError::kafka(alias, "building the probe's assignment", e))?;
    }
    let mut queues = Vec::with_capacity(topics.len());
    for topic in topics {
        if let Some(queue) = consumer.split_partition_queue(topic, 0) {
            queues.push((topic.clone(), queue));
        }
    }
    consumer.assign(&assignment).map_err(|e| FerryError::kafka(alias, "assigning the read access probe", e))?;
    let mut access = ReadAccess::default();
    let deadline = Instant::now() + timeout;
    while !queues.is_empty() && Instant::now() < deadline {
        // Serves the main queue (errors, logs); records never arrive there: each partition has its own.
        let _ = consumer.poll(Duration::from_millis(50));
        queues.retain(|(topic, queue)| match queue.poll(Duration::ZERO) {
            None => true,
            Some(Ok(_)) | Some(Err(KafkaError::PartitionEOF(_))) => {
                access.readable.insert(topic.clone());
                false
            }
            Some(Err(error)) if error.rdkafka_error_code() == Some(RDKafkaErrorCode::TopicAuthorizationFailed) => {
                access.denied.insert(topic.clone());
                false
            }
            Some(Err(_)) => true,
        });
    }
    Ok(access)
}
