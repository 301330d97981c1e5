//! Reading a whole topic once, from its beginning to the end offsets it had when reading started.
//!
//! Used for ferry's small internal topics (progress, offset syncs): they are read at start or on demand,
//! not followed. Blocking; call it on a blocking pool thread.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use ferry_engine::client_props::ClientProps;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::{Offset, TopicPartitionList};

use super::clients::{self, LoggingContext};
use crate::error::FerryError;

/// Calls `each` for every record of `topic` on cluster `alias`, partition by partition in offset order,
/// up to the end offsets at the time of the call. A missing topic reads as empty.
///
/// # Errors
/// [`FerryError`] when the cluster cannot be read within `timeout` (per request; the whole read may take
/// four times as long).
pub fn read_to_end(
    alias: &str,
    props: &ClientProps,
    topic: &str,
    timeout: Duration,
    mut each: impl FnMut(&BorrowedMessage<'_>),
) -> Result<(), FerryError> {
    let mut config = clients::client_config(props);
    clients::ensure_group_id(&mut config, "ferry-internal-reader");
    config.set("enable.auto.commit", "false");
    let consumer: BaseConsumer<LoggingContext> = clients::create(alias, "internal topic reader", &config)?;
    let metadata = consumer
        .fetch_metadata(Some(topic), timeout)
        .map_err(|e| FerryError::kafka(alias, format!("reading metadata of `{topic}`"), e))?;
    let partitions: Vec<i32> = metadata
        .topics()
        .iter()
        .filter(|t| t.error().is_none())
        .flat_map(|t| t.partitions().iter().map(|p| p.id()))
        .collect();
    let mut ends = HashMap::new();
    let mut list = TopicPartitionList::new();
    for partition in partitions {
        let (low, high) = consumer
            .fetch_watermarks(topic, partition, timeout)
            .map_err(|e| FerryError::kafka(alias, format!("reading watermarks of `{topic}`"), e))?;
        if high > low {
            ends.insert(partition, high);
            list.add_partition_offset(topic, partition, Offset::Beginning)
                .map_err(|e| FerryError::kafka(alias, "building an assignment", e))?;
        }
    }
    if ends.is_empty() {
        return Ok(());
    }
    consumer.assign(&list).map_err(|e| FerryError::kafka(alias, format!("assigning `{topic}`"), e))?;
    let deadline = Instant::now() + timeout * 4;
    while !ends.is_empty() {
        if Instant::now() > deadline {
            return Err(FerryError::Topic {
                alias: alias.to_string(),
                message: format!("timed out reading `{topic}`"),
            });
        }
        let Some(result) = consumer.poll(Duration::from_millis(200)) else {
            // Compaction can remove a partition's last offsets: compare positions with the end offsets.
            if let Ok(positions) = consumer.position() {
                for element in positions.elements() {
                    if let (Offset::Offset(position), Some(end)) = (element.offset(), ends.get(&element.partition())) {
                        if position >= *end {
                            ends.remove(&element.partition());
                        }
                    }
                }
            }
            continue;
        };
        let message = result.map_err(|e| FerryError::kafka(alias, format!("reading `{topic}`"), e))?;
        each(&message);
        if ends.get(&message.partition()).is_some_and(|end| message.offset() + 1 >= *end) {
            ends.remove(&message.partition());
        }
    }
    Ok(())
}
