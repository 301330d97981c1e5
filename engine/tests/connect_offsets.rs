//! Byte fixtures and round-trips for the Connect offsets-topic format of `MirrorSourceConnector`.

use ferry_engine::connect_offsets::{
    decode_source_offset, source_offset_key, source_offset_value, SourceOffset, SOURCE_CONNECTOR,
};
use proptest::prelude::*;

#[test]
fn golden_bytes() {
    assert_eq!(
        source_offset_key("src", "foo", 0),
        b"[\"MirrorSourceConnector\",{\"cluster\":\"src\",\"partition\":0,\"topic\":\"foo\"}]".to_vec()
    );
    assert_eq!(source_offset_value(5), b"{\"offset\":5}".to_vec());
    assert_eq!(SOURCE_CONNECTOR, "MirrorSourceConnector");
}

#[test]
fn decodes_what_mm2_wrote_in_another_key_order() {
    // Connect does not guarantee map order; accept any.
    let key = br#"["MirrorSourceConnector",{"topic":"orders","cluster":"primary","partition":12}]"#;
    let got = decode_source_offset(key, Some(br#"{"offset":123456789012}"#)).expect("valid");
    assert_eq!(
        got,
        Some(SourceOffset {
            cluster: "primary".into(),
            topic: "orders".into(),
            partition: 12,
            offset: Some(123_456_789_012),
        })
    );
}

proptest! {
    #[test]
    fn round_trip(cluster in any::<String>(), topic in any::<String>(), partition in any::<i32>(), offset in any::<i64>()) {
        let key = source_offset_key(&cluster, &topic, partition);
        let value = source_offset_value(offset);
        // Also valid JSON for any generic parser.
        prop_assert!(serde_json::from_slice::<serde_json::Value>(&key).is_ok());
        let got = decode_source_offset(&key, Some(&value)).expect("decodes").expect("source connector");
        prop_assert_eq!(got, SourceOffset { cluster: cluster.clone(), topic: topic.clone(), partition, offset: Some(offset) });
        let tomb = decode_source_offset(&key, None).expect("decodes").expect("source connector");
        prop_assert_eq!(tomb.offset, None);
    }

    #[test]
    fn key_matches_serde_for_plain_names(cluster in "[a-zA-Z0-9._-]{1,20}", topic in "[a-zA-Z0-9._-]{1,40}", partition in 0i32..10_000) {
        let expected = format!(
            "[\"MirrorSourceConnector\",{{\"cluster\":{},\"partition\":{},\"topic\":{}}}]",
            serde_json::to_string(&cluster).expect("json"),
            partition,
            serde_json::to_string(&topic).expect("json"),
        );
        prop_assert_eq!(source_offset_key(&cluster, &topic, partition), expected.into_bytes());
    }

    #[test]
    fn arbitrary_bytes_never_panic(key in proptest::collection::vec(any::<u8>(), 0..64), value in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..32))) {
        let _ = decode_source_offset(&key, value.as_deref());
    }
}
