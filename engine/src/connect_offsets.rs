//! Kafka Connect offsets-topic records for MM2's `MirrorSourceConnector`.
//!
//! MM2 stores "last replicated source offset" per source partition in the Connect offsets topic
//! (`mm2-offsets.<source>.internal` on the target), serialized by `JsonConverter` with
//! `schemas.enable=false`. Ferry writes byte-identical records so MM2 and ferry can take over
//! from each other without re-copying:
//!
//! - key: `["MirrorSourceConnector",{"cluster":"src","partition":0,"topic":"foo"}]` — this key
//!   order is what Java's `HashMap` iteration yields (checked against a JVM), no spaces;
//! - value: `{"offset":5}`, or a null value (tombstone).
//!
//! Decoding parses JSON instead of comparing bytes, accepting any key order and whitespace.
//!
//! ```
//! use ferry_engine::connect_offsets::*;
//! let key = source_offset_key("src", "foo", 0);
//! assert_eq!(key, br#"["MirrorSourceConnector",{"cluster":"src","partition":0,"topic":"foo"}]"#);
//! let v = source_offset_value(5);
//! let d = decode_source_offset(&key, Some(&v)).unwrap().unwrap();
//! assert_eq!(d.offset, Some(5));
//! ```

use serde_json::Value;

/// Connector name MM2 uses for the source connector (the class simple name).
pub const SOURCE_CONNECTOR: &str = "MirrorSourceConnector";

/// Why an offsets record could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    /// Key or value bytes are not JSON.
    #[error("offsets record {part} is not valid JSON: {reason}")]
    InvalidJson {
        /// `key` or `value`.
        part: &'static str,
        /// The JSON parser's message.
        reason: String,
    },
    /// JSON of an unexpected shape.
    #[error("offsets record {part} has an unexpected shape: {reason}")]
    Shape {
        /// `key` or `value`.
        part: &'static str,
        /// What was expected.
        reason: String,
    },
}

/// One decoded `MirrorSourceConnector` offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceOffset {
    /// Source cluster alias.
    pub cluster: String,
    /// Source topic (not renamed).
    pub topic: String,
    /// Source partition.
    pub partition: i32,
    /// Last replicated source offset; `None` for a tombstone.
    pub offset: Option<i64>,
}

/// Writes `s` as a JSON string the way Jackson does: `"` and `\` escaped, the common control
/// characters as short escapes, other control characters as `\u00XX` (upper-case hex), and
/// everything else (including non-ASCII) raw UTF-8.
fn push_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// The Connect offsets-topic key for a source partition.
pub fn source_offset_key(cluster: &str, topic: &str, partition: i32) -> Vec<u8> {
    let mut out = String::with_capacity(64 + cluster.len() + topic.len());
    out.push('[');
    push_json_string(&mut out, SOURCE_CONNECTOR);
    out.push_str(",{\"cluster\":");
    push_json_string(&mut out, cluster);
    out.push_str(&format!(",\"partition\":{partition},\"topic\":"));
    push_json_string(&mut out, topic);
    out.push_str("}]");
    out.into_bytes()
}

/// The Connect offsets-topic value for a last replicated offset.
pub fn source_offset_value(offset: i64) -> Vec<u8> {
    format!("{{\"offset\":{offset}}}").into_bytes()
}

fn parse(part: &'static str, bytes: &[u8]) -> Result<Value, FormatError> {
    serde_json::from_slice(bytes).map_err(|e| FormatError::InvalidJson { part, reason: e.to_string() })
}

fn shape(part: &'static str, reason: impl Into<String>) -> FormatError {
    FormatError::Shape { part, reason: reason.into() }
}

/// Decodes one offsets-topic record.
///
/// Returns `Ok(None)` when the key belongs to another connector (checkpoint or heartbeat
/// connector), which callers skip.
///
/// # Errors
///
/// Malformed JSON or a `MirrorSourceConnector` record of the wrong shape (missing fields,
/// non-integer partition or offset, partition outside `i32`). Callers log and skip these.
pub fn decode_source_offset(key: &[u8], value: Option<&[u8]>) -> Result<Option<SourceOffset>, FormatError> {
    let key_json = parse("key", key)?;
    let Value::Array(items) = key_json else {
        return Err(shape("key", "expected a JSON array [connector, partition]"));
    };
    let [connector, partition_map] = items.as_slice() else {
        return Err(shape("key", format!("expected 2 elements, got {}", items.len())));
    };
    let Value::String(connector) = connector else {
        return Err(shape("key", "connector name is not a string"));
    };
    if connector != SOURCE_CONNECTOR {
        return Ok(None);
    }
    let Value::Object(map) = partition_map else {
        return Err(shape("key", "source partition is not an object"));
    };
    let string_field = |name: &str| -> Result<String, FormatError> {
        match map.get(name) {
            Some(Value::String(s)) => Ok(s.clone()),
            _ => Err(shape("key", format!("`{name}` is missing or not a string"))),
        }
    };
    let cluster = string_field("cluster")?;
    let topic = string_field("topic")?;
    let partition = map
        .get("partition")
        .and_then(Value::as_i64)
        .and_then(|p| i32::try_from(p).ok())
        .ok_or_else(|| shape("key", "`partition` is missing or not a 32-bit integer"))?;

    let offset = match value {
        None => None,
        Some(bytes) => match parse("value", bytes)? {
            Value::Null => None,
            Value::Object(m) => Some(
                m.get("offset")
                    .and_then(Value::as_i64)
                    .ok_or_else(|| shape("value", "`offset` is missing or not an integer"))?,
            ),
            _ => return Err(shape("value", "expected a JSON object {\"offset\": n}")),
        },
    };
    Ok(Some(SourceOffset { cluster, topic, partition, offset }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golden_key_and_value() {
        assert_eq!(
            source_offset_key("src", "foo", 0),
            br#"["MirrorSourceConnector",{"cluster":"src","partition":0,"topic":"foo"}]"#.to_vec()
        );
        assert_eq!(source_offset_value(5), br#"{"offset":5}"#.to_vec());
        assert_eq!(source_offset_value(-1), br#"{"offset":-1}"#.to_vec());
    }

    #[test]
    fn escaping_like_jackson() {
        let key = source_offset_key("a\"b", "t\\\n\u{1}é", -3);
        let text = String::from_utf8(key.clone()).expect("utf8");
        assert_eq!(text, r#"["MirrorSourceConnector",{"cluster":"a\"b","partition":-3,"topic":"t\\\n\u0001é"}]"#);
        let d = decode_source_offset(&key, None).expect("ok").expect("some");
        assert_eq!(d.topic, "t\\\n\u{1}é");
        assert_eq!(d.offset, None);
    }

    #[test]
    fn decode_any_order_and_whitespace() {
        let key = br#" [ "MirrorSourceConnector" , { "topic" : "foo", "partition": 7, "cluster":"src" } ] "#;
        let d = decode_source_offset(key, Some(b" { \"offset\" : 9000000000 } ")).expect("ok").expect("some");
        assert_eq!(
            d,
            SourceOffset { cluster: "src".into(), topic: "foo".into(), partition: 7, offset: Some(9_000_000_000) }
        );
    }

    #[test]
    fn other_connectors_are_skipped() {
        let key = br#"["MirrorCheckpointConnector",{"group":"g","topic":"t","partition":0}]"#;
        assert_eq!(decode_source_offset(key, Some(b"{\"offset\":0}")), Ok(None));
        let key = br#"["MirrorHeartbeatConnector",{"sourceClusterAlias":"a","targetClusterAlias":"b"}]"#;
        assert_eq!(decode_source_offset(key, None), Ok(None));
    }

    #[test]
    fn json_null_value_is_a_tombstone() {
        let key = source_offset_key("src", "foo", 1);
        let d = decode_source_offset(&key, Some(b"null")).expect("ok").expect("some");
        assert_eq!(d.offset, None);
    }

    #[test]
    fn malformed_inputs_are_errors_not_panics() {
        let good = source_offset_key("src", "foo", 1);
        assert!(decode_source_offset(b"not json", None).is_err());
        assert!(decode_source_offset(b"{}", None).is_err());
        assert!(decode_source_offset(b"[\"MirrorSourceConnector\"]", None).is_err());
        assert!(decode_source_offset(b"[1, {}]", None).is_err());
        assert!(decode_source_offset(br#"["MirrorSourceConnector",{"cluster":"a","topic":"t"}]"#, None).is_err());
        assert!(decode_source_offset(
            br#"["MirrorSourceConnector",{"cluster":"a","topic":"t","partition":4294967296}]"#,
            None
        )
        .is_err());
        assert!(decode_source_offset(
            br#"["MirrorSourceConnector",{"cluster":"a","topic":"t","partition":"0"}]"#,
            None
        )
        .is_err());
        assert!(decode_source_offset(&good, Some(b"{\"offset\":\"5\"}")).is_err());
        assert!(decode_source_offset(&good, Some(b"[5]")).is_err());
        assert!(decode_source_offset(&good, Some(b"{")).is_err());
    }
}
