//! Log start and end offsets of source partitions, asked with one batched ListOffsets request per
//! kind (earliest, latest): the flow monitor reads them for lag, and the offset index prunes below the
//! log starts (where the source's retention or DeleteRecords has cut the partitions).

use std::collections::HashMap;
use std::time::Duration;

use ferry_engine::client_props::ClientProps;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};

use super::clients::{self, LoggingContext};
use crate::error::FerryError;
use crate::pipeline::tracker::NONE;

/// A source partition `(topic, partition)` and its log start offset.
pub type LogStart = ((String, i32), u64);

/// (log start, end) offsets by source (topic, partition); the log start is `NONE` when only the end
/// was answered.
pub type SourceOffsets = HashMap<(String, i32), (i64, i64)>;

/// (log start, end) offsets of `partitions`, with one batched request for each; partitions the cluster
/// does not answer for (deleted topics) are left out. Blocking.
///
/// # Errors
/// [`FerryError`] when a request fails as a whole.
pub fn source_offsets(
    alias: &str,
    consumer: &BaseConsumer<LoggingContext>,
    partitions: &[(String, i32)],
    timeout: Duration,
) -> Result<SourceOffsets, FerryError> {
    let mut offsets = HashMap::with_capacity(partitions.len());
    if partitions.is_empty() {
        return Ok(offsets);
    }
    // ListOffsets with the special timestamps -2 (earliest) and -1 (latest): one request per leader.
    let query = |which: Offset| -> Result<TopicPartitionList, FerryError> {
        let mut list = TopicPartitionList::with_capacity(partitions.len());
        for (topic, partition) in partitions {
            list.add_partition_offset(topic, *partition, which)
                .map_err(|e| FerryError::kafka(alias, "building an offsets request", e))?;
        }
        consumer.offsets_for_times(list, timeout).map_err(|e| FerryError::kafka(alias, "listing offsets", e))
    };
    let starts = query(Offset::Beginning)?;
    let ends = query(Offset::End)?;
    for element in ends.elements() {
        let (Offset::Offset(end), Ok(())) = (element.offset(), element.error()) else { continue };
        let start = starts
            .find_partition(element.topic(), element.partition())
            .and_then(|s| match s.offset() {
                Offset::Offset(start) => Some(start),
                _ => None,
            })
            .unwrap_or(NONE);
        offsets.insert((element.topic().to_string(), element.partition()), (start, end));
    }
    Ok(offsets)
}

/// The log start offset of each of `partitions` on cluster `alias` (through a short-lived client);
/// partitions the cluster does not know (deleted topics) are left out. Blocking: for control-rate use.
///
/// # Errors
/// [`FerryError`] when the client cannot be built or the cluster does not answer.
pub fn log_start_offsets(
    alias: &str,
    props: &ClientProps,
    partitions: &[(String, i32)],
    timeout: Duration,
) -> Result<Vec<LogStart>, FerryError> {
    let mut config = clients::client_config(props);
    clients::ensure_group_id(&mut config, "ferry-log-start-reader");
    let consumer: BaseConsumer<LoggingContext> = clients::create(alias, "log start reader", &config)?;
    let offsets = source_offsets(alias, &consumer, partitions, timeout)?;
    Ok(offsets
        .into_iter()
        .filter_map(|(key, (start, _))| u64::try_from(start).ok().map(|start| (key, start)))
        .collect())
}
