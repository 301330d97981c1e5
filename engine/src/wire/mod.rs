//! MM2's three internal record formats, byte-exact: [`OffsetSync`], [`Checkpoint`], [`Heartbeat`].
//!
//! MM2 writes these with Kafka's non-flexible `Schema`/`Struct` encoding (reference §2.1): big-endian
//! `INT16`/`INT32`/`INT64`, and `STRING` as an `INT16` length followed by that many UTF-8 bytes. No
//! varints, no tagged fields, no nullable strings. Ferry reads and writes the same bytes so that MM2,
//! `RemoteClusterUtils`, the `kafka-console-consumer` formatters and ferry can share the
//! `mm2-offset-syncs.*`, `*.checkpoints.internal` and `heartbeats` topics.
//!
//! Rules shared by all three types, as in Java:
//!
//! - encoding fails ([`WireError::StringTooLong`]) for a string longer than 32767 UTF-8 bytes;
//! - decoding rejects negative string lengths and lengths beyond the remaining bytes;
//! - trailing bytes after the last field are ignored (`Schema.read` does the same, so readers
//!   tolerate fields appended by later versions);
//! - [`Checkpoint`] and [`Heartbeat`] values start with an `INT16` version, which must be
//!   [`VERSION`] (0); [`OffsetSync`] has no version.
//!
//! One deviation: Java decodes invalid UTF-8 into U+FFFD replacement characters, ferry rejects it
//! ([`WireError::InvalidUtf8`]). Java writers always produce valid UTF-8, so such a record was not
//! written by MM2; callers log and skip it like any other undecodable record.
//!
//! ferry adds one format of its own with the same primitives: [`JournalRecord`], the offset-index
//! journal that keeps exact translation alive across compaction of the offset-syncs topic.
//!
//! # Layout
//!
//! - `primitives`: the `Struct` field encoders and a bounds-checked reader (crate-private).
//! - [`offset_sync`], [`checkpoint`], [`heartbeat`]: one record type each, with
//!   `encode_key`/`encode_value` and `decode(key, value)`.
//! - [`journal_record`]: ferry's journal record.
//!
//! ```
//! use ferry_engine::wire::OffsetSync;
//! let sync = OffsetSync { topic: "topic-1".into(), partition: 2, upstream_offset: 3, downstream_offset: 4 };
//! let key = sync.encode_key().unwrap();
//! let value = sync.encode_value();
//! assert_eq!(key, [0, 7, b't', b'o', b'p', b'i', b'c', b'-', b'1', 0, 0, 0, 2]);
//! assert_eq!(OffsetSync::decode(&key, &value).unwrap(), sync);
//! ```

pub mod checkpoint;
pub mod heartbeat;
pub mod journal_record;
pub mod offset_sync;
mod primitives;

pub use checkpoint::Checkpoint;
pub use heartbeat::Heartbeat;
pub use journal_record::JournalRecord;
pub use offset_sync::OffsetSync;

/// The only value version MM2 defines for [`Checkpoint`] and [`Heartbeat`].
pub const VERSION: i16 = 0;

/// The longest string the `STRING` type can carry, in UTF-8 bytes (`Short.MAX_VALUE`).
pub const MAX_STRING_BYTES: usize = i16::MAX as usize;

/// Why a record could not be encoded or decoded.
///
/// `field` names the place as `Record.part.field`, e.g. `Checkpoint.key.group`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// Encoding: a string does not fit the `INT16` length prefix.
    #[error("{field}: string of {len} bytes is longer than the {MAX_STRING_BYTES}-byte limit")]
    StringTooLong {
        /// Where.
        field: &'static str,
        /// Its UTF-8 length.
        len: usize,
    },
    /// Decoding: the bytes end inside a field.
    #[error("{field}: record truncated, {needed} bytes needed but {remaining} left")]
    Truncated {
        /// Where.
        field: &'static str,
        /// Bytes the field needs.
        needed: usize,
        /// Bytes that were left.
        remaining: usize,
    },
    /// Decoding: a string length prefix is negative (`STRING` is not nullable).
    #[error("{field}: negative string length {len}")]
    NegativeLength {
        /// Where.
        field: &'static str,
        /// The length read.
        len: i16,
    },
    /// Decoding: string bytes are not UTF-8.
    #[error("{field}: string is not valid UTF-8")]
    InvalidUtf8 {
        /// Where.
        field: &'static str,
    },
    /// A field holds a value its record type does not allow.
    #[error("{field}: {problem}")]
    Invalid {
        /// Where.
        field: &'static str,
        /// What is wrong.
        problem: &'static str,
    },
    /// Decoding: a value version other than [`VERSION`].
    #[error("{record} value has version {version}; only version {VERSION} is known")]
    UnsupportedVersion {
        /// `Checkpoint` or `Heartbeat`.
        record: &'static str,
        /// The version read.
        version: i16,
    },
}
