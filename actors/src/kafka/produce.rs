//! Producing ferry's own small records (progress, offset syncs) and waiting for their acks.
//!
//! The data path has its own worker loop; these helpers serve the control path, where a few hundred
//! records at a time are written and must all be acknowledged before the next step.

use std::time::Duration;

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::ToBytes;
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord};
use rdkafka::util::Timeout;

use super::clients::LoggingContext;

/// Hands `record` to the producer, waiting while its local queue is full.
///
/// # Errors
/// The producer's error when it refuses the record for another reason.
pub async fn enqueue<K, P>(
    producer: &FutureProducer<LoggingContext>,
    mut record: FutureRecord<'_, K, P>,
) -> Result<DeliveryFuture, KafkaError>
where
    K: ToBytes + ?Sized,
    P: ToBytes + ?Sized,
{
    loop {
        match producer.send_result(record) {
            Ok(delivery) => return Ok(delivery),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), returned)) => {
                record = returned;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            Err((error, _)) => return Err(error),
        }
    }
}

/// Waits for every delivery, at most `timeout` in all.
///
/// # Errors
/// The first delivery error, or a time-out.
pub async fn acknowledged(pending: Vec<DeliveryFuture>, timeout: impl Into<Timeout>) -> Result<(), KafkaError> {
    let wait = futures::future::join_all(pending);
    let results = match timeout.into() {
        Timeout::After(limit) => tokio::time::timeout(limit, wait)
            .await
            .map_err(|_| KafkaError::MessageProduction(RDKafkaErrorCode::MessageTimedOut))?,
        Timeout::Never => wait.await,
    };
    for result in results {
        match result {
            Ok(Ok(_)) => {}
            Ok(Err((error, _))) => return Err(error),
            Err(_canceled) => return Err(KafkaError::Canceled),
        }
    }
    Ok(())
}
