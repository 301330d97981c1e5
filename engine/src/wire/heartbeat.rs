//! `Heartbeat`: proof of life of a replication flow, written to `heartbeats` on the target every
//! `emit.heartbeats.interval.seconds` and replicated onwards as `<source>.heartbeats`
//! (reference §2.4, `mirror-client/Heartbeat.java`).
//!
//! Key: `sourceClusterAlias` STRING, `targetClusterAlias` STRING.
//! Value: `version` INT16 (= 0), then `timestamp` INT64 (milliseconds since the epoch).

use super::primitives::{put_i16, put_i64, put_string, Reader};
use super::{WireError, VERSION};

/// One heartbeat of flow `source_alias -> target_alias`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Heartbeat {
    /// The flow's source cluster alias.
    pub source_alias: String,
    /// The flow's target cluster alias (the cluster the record is written to).
    pub target_alias: String,
    /// When it was emitted, in milliseconds since the Unix epoch (also the record timestamp).
    pub timestamp_ms: i64,
}

impl Heartbeat {
    /// The record key: `sourceClusterAlias`, `targetClusterAlias`.
    ///
    /// # Errors
    ///
    /// [`WireError::StringTooLong`] if an alias is longer than 32767 bytes.
    pub fn encode_key(&self) -> Result<Vec<u8>, WireError> {
        let mut buf = Vec::with_capacity(4 + self.source_alias.len() + self.target_alias.len());
        put_string(&mut buf, "Heartbeat.key.sourceClusterAlias", &self.source_alias)?;
        put_string(&mut buf, "Heartbeat.key.targetClusterAlias", &self.target_alias)?;
        Ok(buf)
    }

    /// The record value: version header 0, `timestamp` (10 bytes).
    pub fn encode_value(&self) -> Vec<u8> {
        let mut buf = Vec::with_capacity(10);
        put_i16(&mut buf, VERSION);
        put_i64(&mut buf, self.timestamp_ms);
        buf
    }

    /// Decodes a record read from a heartbeats topic. Trailing bytes are ignored.
    ///
    /// # Errors
    ///
    /// [`WireError::UnsupportedVersion`] for a value version other than 0, otherwise a
    /// [`WireError`] for truncated fields, negative string lengths or non-UTF-8 aliases.
    pub fn decode(key: &[u8], value: &[u8]) -> Result<Self, WireError> {
        let mut k = Reader::new(key);
        let source_alias = k.string("Heartbeat.key.sourceClusterAlias")?;
        let target_alias = k.string("Heartbeat.key.targetClusterAlias")?;
        let mut v = Reader::new(value);
        v.version("Heartbeat", "Heartbeat.value.version")?;
        let timestamp_ms = v.i64("Heartbeat.value.timestamp")?;
        Ok(Self { source_alias, target_alias, timestamp_ms })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `HeartbeatTest`: `Heartbeat("source-1", "target-2", 1234567890)` (reference §2.5).
    #[test]
    fn golden_vector() {
        let hb =
            Heartbeat { source_alias: "source-1".into(), target_alias: "target-2".into(), timestamp_ms: 1_234_567_890 };
        let key = hb.encode_key().expect("short aliases");
        let value = hb.encode_value();
        assert_eq!(
            key,
            [
                0x00, 0x08, 0x73, 0x6f, 0x75, 0x72, 0x63, 0x65, 0x2d, 0x31, 0x00, 0x08, 0x74, 0x61, 0x72, 0x67, 0x65,
                0x74, 0x2d, 0x32
            ]
        );
        assert_eq!(value, [0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x49, 0x96, 0x02, 0xd2]);
        assert_eq!(Heartbeat::decode(&key, &value), Ok(hb));
    }

    #[test]
    fn version_and_truncation() {
        let key = [0, 1, b'a', 0, 1, b'b'];
        assert!(matches!(
            Heartbeat::decode(&key, &[0, 2, 0, 0, 0, 0, 0, 0, 0, 1]),
            Err(WireError::UnsupportedVersion { record: "Heartbeat", version: 2 })
        ));
        assert!(matches!(
            Heartbeat::decode(&key, &[0, 0, 0, 0, 0]),
            Err(WireError::Truncated { field: "Heartbeat.value.timestamp", .. })
        ));
        assert!(matches!(
            Heartbeat::decode(&[0, 1, b'a'], &[0; 10]),
            Err(WireError::Truncated { field: "Heartbeat.key.targetClusterAlias", .. })
        ));
        let hb = Heartbeat::decode(&key, &[0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 9, 9]).expect("trailing ok");
        assert_eq!(hb.timestamp_ms, 1);
    }
}
