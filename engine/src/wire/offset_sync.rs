//! `OffsetSync`: one (upstream offset, downstream offset) pair of a replicated record, written to
//! `mm2-offset-syncs.<alias>.internal`, partition 0 (reference §2.2, `mirror/OffsetSync.java`).
//!
//! Key: `topic` STRING (the **source** topic name, not renamed), `partition` INT32.
//! Value: `upstreamOffset` INT64, `offset` INT64 (the downstream offset). No version header.

use super::primitives::{put_i32, put_i64, put_string, Reader};
use super::WireError;

/// One offset sync: record `upstream_offset` of `topic`/`partition` on the source was written at
/// `downstream_offset` in the remote topic on the target.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OffsetSync {
    /// Source topic name (not renamed).
    pub topic: String,
    /// Source partition (same number on the target).
    pub partition: i32,
    /// Offset of the record on the source.
    pub upstream_offset: i64,
    /// Offset the target assigned to its copy.
    pub downstream_offset: i64,
}

impl OffsetSync {
    /// The record key: `topic`, `partition`.
    ///
    /// # Errors
    ///
    /// [`WireError::StringTooLong`] if the topic name is longer than 32767 bytes (Kafka topic names
    /// are at most 249 characters, so only a caller bug gets here).
    pub fn encode_key(&self) -> Result<Vec<u8>, WireError> {
        let mut buf = Vec::with_capacity(2 + self.topic.len() + 4);
        put_string(&mut buf, "OffsetSync.key.topic", &self.topic)?;
        put_i32(&mut buf, self.partition);
        Ok(buf)
    }

    /// The record value: `upstreamOffset`, `offset` (16 bytes).
    pub fn encode_value(&self) -> Vec<u8> {
        let mut buf = Vec::with_capacity(16);
        put_i64(&mut buf, self.upstream_offset);
        put_i64(&mut buf, self.downstream_offset);
        buf
    }

    /// Decodes a record read from an offset-syncs topic. Trailing bytes are ignored.
    ///
    /// # Errors
    ///
    /// A [`WireError`] for truncated fields, a negative string length or non-UTF-8 topic name.
    /// Callers log and skip the record, as MM2 does.
    pub fn decode(key: &[u8], value: &[u8]) -> Result<Self, WireError> {
        let mut k = Reader::new(key);
        let topic = k.string("OffsetSync.key.topic")?;
        let partition = k.i32("OffsetSync.key.partition")?;
        let mut v = Reader::new(value);
        let upstream_offset = v.i64("OffsetSync.value.upstreamOffset")?;
        let downstream_offset = v.i64("OffsetSync.value.offset")?;
        Ok(Self { topic, partition, upstream_offset, downstream_offset })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `OffsetSyncTest`: `OffsetSync(TopicPartition("topic-1", 2), 3, 4)` (reference §2.5).
    #[test]
    fn golden_vector() {
        let sync = OffsetSync { topic: "topic-1".into(), partition: 2, upstream_offset: 3, downstream_offset: 4 };
        let key = sync.encode_key().expect("short topic");
        let value = sync.encode_value();
        assert_eq!(key, [0x00, 0x07, 0x74, 0x6f, 0x70, 0x69, 0x63, 0x2d, 0x31, 0x00, 0x00, 0x00, 0x02]);
        assert_eq!(value, [0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 4]);
        assert_eq!(OffsetSync::decode(&key, &value), Ok(sync));
    }

    #[test]
    fn trailing_bytes_are_ignored() {
        let key = [0, 1, b't', 0, 0, 0, 9, 0xaa];
        let value = [0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 0xbb, 0xcc];
        let sync = OffsetSync::decode(&key, &value).expect("valid prefix");
        assert_eq!((sync.topic.as_str(), sync.partition), ("t", 9));
        assert_eq!((sync.upstream_offset, sync.downstream_offset), (1, 2));
    }

    #[test]
    fn truncation_names_the_field() {
        let key = [0, 1, b't', 0, 0, 0, 9];
        let err = OffsetSync::decode(&key, &[0; 12]).expect_err("value too short");
        assert_eq!(err, WireError::Truncated { field: "OffsetSync.value.offset", needed: 8, remaining: 4 });
        assert!(OffsetSync::decode(&[0, 1, b't', 0, 0], &[0; 16]).is_err());
        assert!(OffsetSync::decode(&[], &[]).is_err());
    }

    #[test]
    fn long_topic_is_an_error() {
        let sync = OffsetSync { topic: "t".repeat(40_000), partition: 0, upstream_offset: 0, downstream_offset: 0 };
        assert!(matches!(sync.encode_key(), Err(WireError::StringTooLong { len: 40_000, .. })));
    }
}
