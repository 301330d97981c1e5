//! `JournalRecord`: ferry's own record in its offset-index journal topic
//! (`ferry-offset-index.<alias>.internal`, partition 0), written by
//! [`IndexJournal`](crate::translate::IndexJournal). Not an MM2 format; encoded with the same
//! `Struct` primitives so the topic can be read with the same tools.
//!
//! Key: `version` INT16 (0), `topic` STRING (source topic), `partition` INT32, `kind` INT16
//! (0 = point, 1 = tail), then for a point its `downstream` INT64 (so each point is its own
//! compaction key and the tail one key per partition).
//! Value: `upstream` INT64, `downstream` INT64; no value (a tombstone) forgets a point.

use super::primitives::{put_i16, put_i32, put_i64, put_string, Reader};
use super::{WireError, VERSION};
use crate::translate::JournalSlot;

const KIND_POINT: i16 = 0;
const KIND_TAIL: i16 = 1;

/// One journal record: a slot of a source partition and its value (`None`: tombstone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalRecord {
    /// Source topic name (not renamed).
    pub topic: String,
    /// Source partition.
    pub partition: i32,
    /// Which key of that partition.
    pub slot: JournalSlot,
    /// `(upstream, downstream)`, or `None` for a tombstone.
    pub value: Option<(u64, u64)>,
}

impl JournalRecord {
    /// The record key.
    ///
    /// # Errors
    /// [`WireError::StringTooLong`] for a topic name over 32767 bytes; [`WireError::Invalid`] for a
    /// point offset beyond `i64::MAX`.
    pub fn encode_key(&self) -> Result<Vec<u8>, WireError> {
        let mut buf = Vec::with_capacity(2 + 2 + self.topic.len() + 4 + 2 + 8);
        put_i16(&mut buf, VERSION);
        put_string(&mut buf, "JournalRecord.key.topic", &self.topic)?;
        put_i32(&mut buf, self.partition);
        match self.slot {
            JournalSlot::Point(downstream) => {
                put_i16(&mut buf, KIND_POINT);
                put_i64(&mut buf, to_i64("JournalRecord.key.downstream", downstream)?);
            }
            JournalSlot::Tail => put_i16(&mut buf, KIND_TAIL),
        }
        Ok(buf)
    }

    /// The record value (16 bytes), `None` for a tombstone.
    ///
    /// # Errors
    /// [`WireError::Invalid`] for an offset beyond `i64::MAX`.
    pub fn encode_value(&self) -> Result<Option<Vec<u8>>, WireError> {
        let Some((upstream, downstream)) = self.value else { return Ok(None) };
        let mut buf = Vec::with_capacity(16);
        put_i64(&mut buf, to_i64("JournalRecord.value.upstream", upstream)?);
        put_i64(&mut buf, to_i64("JournalRecord.value.downstream", downstream)?);
        Ok(Some(buf))
    }

    /// Decodes a record read from the journal topic; `value` is `None` for a tombstone.
    ///
    /// # Errors
    /// A [`WireError`] for truncated fields, an unknown version or kind, or negative offsets.
    pub fn decode(key: &[u8], value: Option<&[u8]>) -> Result<Self, WireError> {
        let mut k = Reader::new(key);
        match k.i16("JournalRecord.key.version")? {
            VERSION => {}
            version => return Err(WireError::UnsupportedVersion { record: "JournalRecord", version }),
        }
        let topic = k.string("JournalRecord.key.topic")?;
        let partition = k.i32("JournalRecord.key.partition")?;
        let slot = match k.i16("JournalRecord.key.kind")? {
            KIND_POINT => {
                JournalSlot::Point(to_u64("JournalRecord.key.downstream", k.i64("JournalRecord.key.downstream")?)?)
            }
            KIND_TAIL => JournalSlot::Tail,
            _ => return Err(WireError::Invalid { field: "JournalRecord.key.kind", problem: "unknown kind" }),
        };
        let value = match value {
            None => None,
            Some(value) => {
                let mut v = Reader::new(value);
                let upstream = to_u64("JournalRecord.value.upstream", v.i64("JournalRecord.value.upstream")?)?;
                let downstream = to_u64("JournalRecord.value.downstream", v.i64("JournalRecord.value.downstream")?)?;
                Some((upstream, downstream))
            }
        };
        Ok(Self { topic, partition, slot, value })
    }
}

fn to_i64(field: &'static str, v: u64) -> Result<i64, WireError> {
    i64::try_from(v).map_err(|_| WireError::Invalid { field, problem: "offset beyond i64::MAX" })
}

fn to_u64(field: &'static str, v: i64) -> Result<u64, WireError> {
    u64::try_from(v).map_err(|_| WireError::Invalid { field, problem: "negative offset" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn point_layout_and_round_trip() {
        let record =
            JournalRecord { topic: "t".into(), partition: 2, slot: JournalSlot::Point(5), value: Some((3, 5)) };
        let key = record.encode_key().expect("short topic");
        assert_eq!(key, [0, 0, 0, 1, b't', 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5]);
        let value = record.encode_value().expect("small offsets").expect("not a tombstone");
        assert_eq!(value, [0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 5]);
        assert_eq!(JournalRecord::decode(&key, Some(&value)), Ok(record));
    }

    #[test]
    fn tail_and_tombstone_round_trip() {
        let tail = JournalRecord { topic: "t".into(), partition: 0, slot: JournalSlot::Tail, value: Some((9, 19)) };
        let key = tail.encode_key().expect("short topic");
        assert_eq!(key, [0, 0, 0, 1, b't', 0, 0, 0, 0, 0, 1]);
        let value = tail.encode_value().expect("small").expect("value");
        assert_eq!(JournalRecord::decode(&key, Some(&value)), Ok(tail));
        let forget = JournalRecord { topic: "t".into(), partition: 0, slot: JournalSlot::Point(7), value: None };
        let key = forget.encode_key().expect("short topic");
        assert_eq!(forget.encode_value(), Ok(None));
        assert_eq!(JournalRecord::decode(&key, None), Ok(forget));
    }

    #[test]
    fn malformed_records_are_errors() {
        assert!(JournalRecord::decode(&[], None).is_err());
        assert!(matches!(
            JournalRecord::decode(&[0, 1, 0, 1, b't', 0, 0, 0, 0, 0, 1], None),
            Err(WireError::UnsupportedVersion { version: 1, .. })
        ));
        assert!(JournalRecord::decode(&[0, 0, 0, 1, b't', 0, 0, 0, 0, 0, 9], None).is_err());
        let negative = [0, 0, 0, 1, b't', 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
        assert!(JournalRecord::decode(&negative, None).is_err());
        assert!(JournalRecord::decode(&[0, 0, 0, 1, b't', 0, 0, 0, 0, 0, 1], Some(&[0; 8])).is_err());
    }
}
