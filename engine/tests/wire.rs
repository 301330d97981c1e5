//! Byte fixtures and property tests for MM2's internal record formats (`ferry_engine::wire`).

use ferry_engine::wire::{Checkpoint, Heartbeat, OffsetSync, WireError};
use proptest::prelude::*;

fn hex(s: &str) -> Vec<u8> {
    s.split_whitespace().filter(|t| *t != "|").map(|t| u8::from_str_radix(t, 16).expect("hex fixture")).collect()
}

/// The golden vectors of reference §2.5, written as there.
#[test]
fn golden_vectors() {
    let sync = OffsetSync { topic: "topic-1".into(), partition: 2, upstream_offset: 3, downstream_offset: 4 };
    let key = hex("00 07 74 6f 70 69 63 2d 31 00 00 00 02");
    let value = hex("00 00 00 00 00 00 00 03 00 00 00 00 00 00 00 04");
    assert_eq!(sync.encode_key().expect("encodes"), key);
    assert_eq!(sync.encode_value(), value);
    assert_eq!(OffsetSync::decode(&key, &value).expect("decodes"), sync);

    let cp = Checkpoint {
        group: "group-1".into(),
        topic: "topic-2".into(),
        partition: 3,
        upstream_offset: 4,
        downstream_offset: 5,
        metadata: "metadata-6".into(),
    };
    let key = hex("00 07 67 72 6f 75 70 2d 31 00 07 74 6f 70 69 63 2d 32 00 00 00 03");
    let value = hex("00 00 | 00 00 00 00 00 00 00 04 | 00 00 00 00 00 00 00 05 | 00 0a 6d 65 74 61 64 61 74 61 2d 36");
    assert_eq!((key.len(), value.len()), (22, 30));
    assert_eq!(cp.encode_key().expect("encodes"), key);
    assert_eq!(cp.encode_value().expect("encodes"), value);
    assert_eq!(Checkpoint::decode(&key, &value).expect("decodes"), cp);

    let hb =
        Heartbeat { source_alias: "source-1".into(), target_alias: "target-2".into(), timestamp_ms: 1_234_567_890 };
    let key = hex("00 08 73 6f 75 72 63 65 2d 31 00 08 74 61 72 67 65 74 2d 32");
    let value = hex("00 00 | 00 00 00 00 49 96 02 d2");
    assert_eq!(hb.encode_key().expect("encodes"), key);
    assert_eq!(hb.encode_value(), value);
    assert_eq!(Heartbeat::decode(&key, &value).expect("decodes"), hb);
}

#[test]
fn errors_name_the_field() {
    let err = Checkpoint::decode(&hex("00 01 67 ff ff"), &[]).expect_err("negative length");
    assert_eq!(err, WireError::NegativeLength { field: "Checkpoint.key.topic", len: -1 });
    assert_eq!(err.to_string(), "Checkpoint.key.topic: negative string length -1");
    let err = Heartbeat::decode(&hex("00 00 00 00"), &hex("00 01 00")).expect_err("version");
    assert_eq!(err.to_string(), "Heartbeat value has version 1; only version 0 is known");
}

fn name() -> impl Strategy<Value = String> {
    prop_oneof![any::<String>(), "[a-zA-Z0-9._-]{0,60}"]
}

fn any_sync() -> impl Strategy<Value = OffsetSync> {
    (name(), any::<i32>(), any::<i64>(), any::<i64>()).prop_map(|(topic, partition, u, d)| OffsetSync {
        topic,
        partition,
        upstream_offset: u,
        downstream_offset: d,
    })
}

fn any_checkpoint() -> impl Strategy<Value = Checkpoint> {
    (name(), name(), any::<i32>(), any::<i64>(), any::<i64>(), name()).prop_map(
        |(group, topic, partition, u, d, metadata)| Checkpoint {
            group,
            topic,
            partition,
            upstream_offset: u,
            downstream_offset: d,
            metadata,
        },
    )
}

fn any_heartbeat() -> impl Strategy<Value = Heartbeat> {
    (name(), name(), any::<i64>()).prop_map(|(s, t, ts)| Heartbeat {
        source_alias: s,
        target_alias: t,
        timestamp_ms: ts,
    })
}

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..max)
}

proptest! {
    #[test]
    fn offset_sync_round_trips(sync in any_sync(), extra_k in bytes(8), extra_v in bytes(8)) {
        let mut key = sync.encode_key().expect("short");
        let mut value = sync.encode_value();
        prop_assert_eq!(key.len(), 2 + sync.topic.len() + 4);
        prop_assert_eq!(value.len(), 16);
        prop_assert_eq!(&OffsetSync::decode(&key, &value).expect("decodes"), &sync);
        key.extend_from_slice(&extra_k);
        value.extend_from_slice(&extra_v);
        prop_assert_eq!(OffsetSync::decode(&key, &value).expect("trailing ignored"), sync);
    }

    #[test]
    fn checkpoint_round_trips(cp in any_checkpoint(), extra_k in bytes(8), extra_v in bytes(8)) {
        let mut key = cp.encode_key().expect("short");
        let mut value = cp.encode_value().expect("short");
        prop_assert_eq!(&value[..2], &[0, 0]);
        prop_assert_eq!(&Checkpoint::decode(&key, &value).expect("decodes"), &cp);
        key.extend_from_slice(&extra_k);
        value.extend_from_slice(&extra_v);
        prop_assert_eq!(Checkpoint::decode(&key, &value).expect("trailing ignored"), cp);
    }

    #[test]
    fn heartbeat_round_trips(hb in any_heartbeat(), extra_k in bytes(8), extra_v in bytes(8)) {
        let mut key = hb.encode_key().expect("short");
        let mut value = hb.encode_value();
        prop_assert_eq!(value.len(), 10);
        prop_assert_eq!(&Heartbeat::decode(&key, &value).expect("decodes"), &hb);
        key.extend_from_slice(&extra_k);
        value.extend_from_slice(&extra_v);
        prop_assert_eq!(Heartbeat::decode(&key, &value).expect("trailing ignored"), hb);
    }

    /// Every strict prefix of a valid key or value is rejected (no field is optional).
    #[test]
    fn truncations_are_errors(cp in any_checkpoint(), cut in any::<prop::sample::Index>()) {
        let key = cp.encode_key().expect("short");
        let value = cp.encode_value().expect("short");
        let k = cut.index(key.len());
        let v = cut.index(value.len());
        prop_assert!(Checkpoint::decode(&key[..k], &value).is_err());
        prop_assert!(Checkpoint::decode(&key, &value[..v]).is_err());
    }

    #[test]
    fn arbitrary_bytes_never_panic(key in bytes(64), value in bytes(64)) {
        let _ = OffsetSync::decode(&key, &value);
        let _ = Checkpoint::decode(&key, &value);
        let _ = Heartbeat::decode(&key, &value);
    }

    /// Arbitrary bytes behind plausible length prefixes reach the deeper fields too.
    #[test]
    fn plausible_prefixes_never_panic(len in -3i16..40, body in bytes(64), value in bytes(40)) {
        let mut key = len.to_be_bytes().to_vec();
        key.extend_from_slice(&body);
        let mut versioned = vec![0, 0];
        versioned.extend_from_slice(&value);
        let _ = OffsetSync::decode(&key, &value);
        let _ = Checkpoint::decode(&key, &versioned);
        let _ = Heartbeat::decode(&key, &versioned);
    }

    #[test]
    fn strings_over_the_limit_fail_to_encode(extra in 1usize..100) {
        let long = "x".repeat(32_767 + extra);
        let sync = OffsetSync { topic: long.clone(), partition: 0, upstream_offset: 0, downstream_offset: 0 };
        let is_too_long = matches!(sync.encode_key(), Err(WireError::StringTooLong { .. }));
        prop_assert!(is_too_long);
        let hb = Heartbeat { source_alias: "a".into(), target_alias: long, timestamp_ms: 0 };
        prop_assert!(hb.encode_key().is_err());
    }
}
