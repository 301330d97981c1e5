//! Sorting of Kafka client errors, in one place.
//!
//! Every part of the runtime that sees an `RDKafkaErrorCode` asks [`disposition`] what to do with it, so
//! the decision "retry, or give up on this record" is made the same way everywhere.

use rdkafka::error::{KafkaError, RDKafkaErrorCode};

/// What to do after a Kafka error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Transient: the client or ferry retries (broker down, leader moving, queue full).
    Retry,
    /// Permanent for this record or request: report it, never skip the record silently.
    Fatal,
    /// Not classified: treated like `Retry` by callers but logged at warn level.
    Unknown,
}

/// Classifies a librdkafka error code.
pub fn disposition_of_code(code: RDKafkaErrorCode) -> Disposition {
    use RDKafkaErrorCode as C;
    match code {
        C::QueueFull
        | C::BrokerTransportFailure
        | C::AllBrokersDown
        | C::OperationTimedOut
        | C::RequestTimedOut
        | C::MessageTimedOut
        | C::LeaderNotAvailable
        | C::NotLeaderForPartition
        | C::NetworkException
        | C::NotEnoughReplicas
        | C::NotEnoughReplicasAfterAppend
        | C::NotCoordinator
        | C::CoordinatorNotAvailable
        | C::UnknownTopicOrPartition
        | C::Resolve
        | C::KafkaStorageError
        | C::FencedLeaderEpoch
        | C::UnknownLeaderEpoch
        | C::OffsetNotAvailable
        | C::PreferredLeaderNotAvailable => Disposition::Retry,
        C::MessageSizeTooLarge
        | C::InvalidMessageSize
        | C::MessageBatchTooLarge
        | C::TopicAuthorizationFailed
        | C::ClusterAuthorizationFailed
        | C::SaslAuthenticationFailed
        | C::Authentication
        | C::InvalidRecord
        | C::InvalidMessage
        | C::InvalidReplicationFactor
        | C::InvalidConfig
        | C::PolicyViolation
        | C::UnsupportedVersion
        | C::InvalidProducerEpoch
        | C::ProducerFenced
        | C::Fatal => Disposition::Fatal,
        _ => Disposition::Unknown,
    }
}

/// Classifies a client error (by its code where it has one).
pub fn disposition(error: &KafkaError) -> Disposition {
    match error.rdkafka_error_code() {
        Some(code) => disposition_of_code(code),
        None => Disposition::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_full_is_retried_and_too_large_is_fatal() {
        assert_eq!(disposition_of_code(RDKafkaErrorCode::QueueFull), Disposition::Retry);
        assert_eq!(disposition_of_code(RDKafkaErrorCode::MessageSizeTooLarge), Disposition::Fatal);
        assert_eq!(disposition(&KafkaError::MessageProduction(RDKafkaErrorCode::AllBrokersDown)), Disposition::Retry);
    }
}
