//! `Checkpoint`: a consumer group's committed source offset and its translation, written to
//! `<source>.checkpoints.internal` on the target, partition 0 (reference §2.3,
//! `mirror-client/Checkpoint.java`).
//!
//! Key: `group` STRING, `topic` STRING (the **downstream** topic name, e.g. `A.foo`, or the
//! original name when failing back), `partition` INT32.
//! Value: `version` INT16 (= 0), then `upstreamOffset` INT64, `offset` INT64 (downstream),
//! `metadata` STRING.

use super::primitives::{put_i16, put_i32, put_i64, put_string, Reader};
use super::{WireError, VERSION};

/// One checkpoint: group `group` committed `upstream_offset` on the source partition, which
/// translates to `downstream_offset` in `topic`/`partition` on the target.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Checkpoint {
    /// Consumer group id.
    pub group: String,
    /// Downstream topic name (see [`crate::checkpoint_rules::checkpoint_topic`]).
    pub topic: String,
    /// Partition (same number on source and target).
    pub partition: i32,
    /// The group's committed offset on the source (the next record it will read).
    pub upstream_offset: i64,
    /// The translated offset on the target.
    pub downstream_offset: i64,
    /// The committed offset's metadata, `""` when none (Java maps `null` to `""`).
    pub metadata: String,
}

impl Checkpoint {
    /// The record key: `group`, `topic`, `partition`.
    ///
    /// # Errors
    ///
    /// [`WireError::StringTooLong`] if the group id or topic is longer than 32767 bytes.
    pub fn encode_key(&self) -> Result<Vec<u8>, WireError> {
        let mut buf = Vec::with_capacity(8 + self.group.len() + self.topic.len());
        put_string(&mut buf, "Checkpoint.key.group", &self.group)?;
        put_string(&mut buf, "Checkpoint.key.topic", &self.topic)?;
        put_i32(&mut buf, self.partition);
        Ok(buf)
    }

    /// The record value: version header 0, `upstreamOffset`, `offset`, `metadata`.
    ///
    /// # Errors
    ///
    /// [`WireError::StringTooLong`] if the metadata is longer than 32767 bytes (brokers cap
    /// offset metadata at 4096 bytes by default, so only an unusual broker config gets here).
    pub fn encode_value(&self) -> Result<Vec<u8>, WireError> {
        let mut buf = Vec::with_capacity(20 + self.metadata.len());
        put_i16(&mut buf, VERSION);
        put_i64(&mut buf, self.upstream_offset);
        put_i64(&mut buf, self.downstream_offset);
        put_string(&mut buf, "Checkpoint.value.metadata", &self.metadata)?;
        Ok(buf)
    }

    /// Decodes a record read from a checkpoints topic. Trailing bytes are ignored.
    ///
    /// # Errors
    ///
    /// [`WireError::UnsupportedVersion`] for a value version other than 0, otherwise a
    /// [`WireError`] for truncated fields, negative string lengths or non-UTF-8 strings.
    pub fn decode(key: &[u8], value: &[u8]) -> Result<Self, WireError> {
        let mut k = Reader::new(key);
        let group = k.string("Checkpoint.key.group")?;
        let topic = k.string("Checkpoint.key.topic")?;
        let partition = k.i32("Checkpoint.key.partition")?;
        let mut v = Reader::new(value);
        v.version("Checkpoint", "Checkpoint.value.version")?;
        let upstream_offset = v.i64("Checkpoint.value.upstreamOffset")?;
        let downstream_offset = v.i64("Checkpoint.value.offset")?;
        let metadata = v.string("Checkpoint.value.metadata")?;
        Ok(Self { group, topic, partition, upstream_offset, downstream_offset, metadata })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn golden() -> Checkpoint {
        Checkpoint {
            group: "group-1".into(),
            topic: "topic-2".into(),
            partition: 3,
            upstream_offset: 4,
            downstream_offset: 5,
            metadata: "metadata-6".into(),
        }
    }

    const GOLDEN_KEY: [u8; 22] = [
        0x00, 0x07, 0x67, 0x72, 0x6f, 0x75, 0x70, 0x2d, 0x31, 0x00, 0x07, 0x74, 0x6f, 0x70, 0x69, 0x63, 0x2d, 0x32,
        0x00, 0x00, 0x00, 0x03,
    ];
    const GOLDEN_VALUE: [u8; 30] = [
        0x00, 0x00, // version
        0, 0, 0, 0, 0, 0, 0, 4, // upstreamOffset
        0, 0, 0, 0, 0, 0, 0, 5, // offset
        0x00, 0x0a, 0x6d, 0x65, 0x74, 0x61, 0x64, 0x61, 0x74, 0x61, 0x2d, 0x36, // metadata
    ];

    /// `CheckpointTest`: `Checkpoint("group-1", TopicPartition("topic-2", 3), 4, 5, "metadata-6")`.
    #[test]
    fn golden_vector() {
        let cp = golden();
        assert_eq!(cp.encode_key().expect("short"), GOLDEN_KEY);
        assert_eq!(cp.encode_value().expect("short"), GOLDEN_VALUE);
        assert_eq!(Checkpoint::decode(&GOLDEN_KEY, &GOLDEN_VALUE), Ok(cp));
    }

    #[test]
    fn other_versions_are_rejected() {
        let mut value = GOLDEN_VALUE;
        value[1] = 1;
        assert_eq!(
            Checkpoint::decode(&GOLDEN_KEY, &value),
            Err(WireError::UnsupportedVersion { record: "Checkpoint", version: 1 })
        );
        value[0] = 0xff;
        value[1] = 0xff;
        assert!(matches!(
            Checkpoint::decode(&GOLDEN_KEY, &value),
            Err(WireError::UnsupportedVersion { version: -1, .. })
        ));
    }

    #[test]
    fn trailing_bytes_are_ignored_and_truncation_is_an_error() {
        let mut key = GOLDEN_KEY.to_vec();
        key.push(7);
        let mut value = GOLDEN_VALUE.to_vec();
        value.extend_from_slice(&[1, 2, 3]);
        assert_eq!(Checkpoint::decode(&key, &value), Ok(golden()));
        for cut in 0..GOLDEN_VALUE.len() {
            assert!(Checkpoint::decode(&GOLDEN_KEY, &GOLDEN_VALUE[..cut]).is_err(), "{cut}");
        }
        for cut in 0..GOLDEN_KEY.len() {
            assert!(Checkpoint::decode(&GOLDEN_KEY[..cut], &GOLDEN_VALUE).is_err(), "{cut}");
        }
    }

    #[test]
    fn long_strings_are_errors() {
        let mut cp = golden();
        cp.metadata = "m".repeat(32_768);
        assert!(cp.encode_key().is_ok());
        assert!(matches!(cp.encode_value(), Err(WireError::StringTooLong { field: "Checkpoint.value.metadata", .. })));
        cp.group = "g".repeat(32_768);
        assert!(cp.encode_key().is_err());
    }
}
