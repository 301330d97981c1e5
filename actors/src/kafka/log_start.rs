//! Log start offsets of source partitions: where the source's retention (or DeleteRecords) has cut
//! them, so translation state below can be dropped.

use std::time::Duration;

use ferry_engine::client_props::ClientProps;
use rdkafka::consumer::{BaseConsumer, Consumer};

use super::clients::{self, LoggingContext};
use crate::error::FerryError;

/// A source partition `(topic, partition)` and its log start offset.
pub type LogStart = ((String, i32), u64);

/// The log start offset of each of `partitions` on cluster `alias`; partitions the cluster does not
/// know (deleted topics) are left out. Blocking, one request per partition: for control-rate use.
///
/// # Errors
/// [`FerryError`] when the client cannot be built.
pub fn log_start_offsets(
    alias: &str,
    props: &ClientProps,
    partitions: &[(String, i32)],
    timeout: Duration,
) -> Result<Vec<LogStart>, FerryError> {
    let mut config = clients::client_config(props);
    clients::ensure_group_id(&mut config, "ferry-log-start-reader");
    let consumer: BaseConsumer<LoggingContext> = clients::create(alias, "log start reader", &config)?;
    let mut starts = Vec::with_capacity(partitions.len());
    for (topic, partition) in partitions {
        match consumer.fetch_watermarks(topic, *partition, timeout) {
            Ok((low, _)) => {
                if let Ok(low) = u64::try_from(low) {
                    starts.push(((topic.clone(), *partition), low));
                }
            }
            Err(error) => tracing::debug!(cluster = alias, topic, partition, %error, "no log start offset"),
        }
    }
    Ok(starts)
}
