//! Handing a record to the target producer without librdkafka copying its value.
//!
//! rust-rdkafka's `BaseProducer::send` always passes `RD_KAFKA_MSG_F_COPY`, and builds a `CString` of
//! the topic name, for every record: librdkafka copies the value into a message of its own and later
//! serializes that copy into the produce request. ferry's records already sit in a batch arena, and the
//! batch is owned by its [`BatchAck`], which every record of the batch carries as delivery opaque; so the
//! arena lives until the last delivery report of the batch has been handled, and librdkafka may as well
//! read the value from there. [`send_record`] calls `rd_kafka_producev` without the copy flag (librdkafka
//! still copies keys, which are small, and header names and values), with the topic name converted once
//! per batch. The value is then copied once by librdkafka, into the request, instead of twice (profiled:
//! the extra copy was ~5 % of ferry's CPU time in a backlog copy, the per-record `CString` ~2 %).
//!
//! Memory safety rests on one rule this module enforces itself: the bytes handed to librdkafka are taken
//! from the batch owned by the acknowledgement passed as the record's opaque, and rust-rdkafka's
//! delivery callback drops that opaque only after librdkafka is done with the message.

// One call to `rd_kafka_producev` and three header functions, which rust-rdkafka wraps only with copying.
#![allow(unsafe_code)]

use std::ffi::{c_int, c_void, CStr};
use std::ptr;
use std::sync::Arc;

use rdkafka::bindings as rdsys;
use rdkafka::bindings::rd_kafka_vtype_t::{
    RD_KAFKA_VTYPE_END, RD_KAFKA_VTYPE_HEADERS, RD_KAFKA_VTYPE_KEY, RD_KAFKA_VTYPE_MSGFLAGS, RD_KAFKA_VTYPE_OPAQUE,
    RD_KAFKA_VTYPE_PARTITION, RD_KAFKA_VTYPE_TIMESTAMP, RD_KAFKA_VTYPE_TOPIC, RD_KAFKA_VTYPE_VALUE,
};
use rdkafka::error::{IsError, KafkaError};
use rdkafka::producer::Producer;
use rdkafka::util::IntoOpaque;

use super::batch::{RecordBatch, RecordMeta};
use super::producer::TargetProducer;
use super::tracker::BatchAck;

/// Hands record `meta` of the batch owned by `ack` to `producer`, for partition `partition` of `topic`,
/// with a clone of `ack` as delivery opaque. On an error the record did not enter the producer (the
/// opaque clone is dropped again) and the call may be repeated.
///
/// # Errors
/// librdkafka's refusal (e.g. its queue is full), or [`KafkaError::MessageProduction`] with
/// `InvalidArg` when `ack` owns no batch.
pub fn send_record(
    producer: &TargetProducer,
    topic: &CStr,
    partition: i32,
    ack: &Arc<BatchAck>,
    meta: &RecordMeta,
) -> Result<(), KafkaError> {
    let Some(batch) = ack.batch() else {
        return Err(KafkaError::MessageProduction(rdkafka::types::RDKafkaErrorCode::InvalidArgument));
    };
    let (value_ptr, value_len) = bytes(meta.value.as_ref().map(|v| batch.slice(v)));
    let (key_ptr, key_len) = bytes(meta.key.as_ref().map(|k| batch.slice(k)));
    let headers = headers_of(batch, meta);
    let opaque = Arc::clone(ack).into_ptr();
    // SAFETY: the arguments follow `rd_kafka_producev`'s contract (type tag, then its values, ending
    // with END). The value's bytes belong to the batch owned by `ack`, whose clone is the opaque:
    // rust-rdkafka drops it after the delivery report, when librdkafka no longer reads the message.
    // The key, the topic name and the headers' contents are copied by librdkafka during the call.
    let error = unsafe {
        rdsys::rd_kafka_producev(
            producer.client().native_ptr(),
            RD_KAFKA_VTYPE_TOPIC,
            topic.as_ptr(),
            RD_KAFKA_VTYPE_PARTITION,
            partition,
            RD_KAFKA_VTYPE_MSGFLAGS,
            0 as c_int, // neither F_COPY nor F_FREE: librdkafka borrows the value
            RD_KAFKA_VTYPE_VALUE,
            value_ptr,
            value_len,
            RD_KAFKA_VTYPE_KEY,
            key_ptr,
            key_len,
            RD_KAFKA_VTYPE_OPAQUE,
            opaque,
            RD_KAFKA_VTYPE_TIMESTAMP,
            meta.timestamp.unwrap_or(0),
            RD_KAFKA_VTYPE_HEADERS,
            headers,
            RD_KAFKA_VTYPE_END,
        )
    };
    if error.is_error() {
        // SAFETY: librdkafka refused the message, so it did not keep the opaque or the headers; both
        // are ours again (the opaque was made by `into_ptr` above, the headers by `headers_of`).
        unsafe {
            drop(Arc::<BatchAck>::from_ptr(opaque));
            if !headers.is_null() {
                rdsys::rd_kafka_headers_destroy(headers);
            }
        }
        return Err(KafkaError::MessageProduction(error.into()));
    }
    Ok(()) // the producer owns the headers now
}

/// Pointer and length of optional bytes, null for none (a null key, a tombstone's value).
fn bytes(slice: Option<&[u8]>) -> (*mut c_void, usize) {
    slice.map_or((ptr::null_mut(), 0), |s| (s.as_ptr().cast_mut().cast(), s.len()))
}

/// The record's headers as a new librdkafka header list (null when it has none).
fn headers_of(batch: &RecordBatch, meta: &RecordMeta) -> *mut rdsys::rd_kafka_headers_t {
    let headers = batch.headers_of(meta);
    if headers.is_empty() {
        return ptr::null_mut();
    }
    // SAFETY: a new list, filled with copies of the batch's bytes (`rd_kafka_header_add` copies name
    // and value; the lengths are given, so the name needs no terminating NUL).
    unsafe {
        let list = rdsys::rd_kafka_headers_new(headers.len());
        for header in headers {
            let name = batch.slice(&header.name);
            let (value, value_len) = bytes(header.value.as_ref().map(|v| batch.slice(v)));
            rdsys::rd_kafka_header_add(
                list,
                name.as_ptr().cast(),
                name.len() as isize,
                value.cast_const(),
                value_len as isize,
            );
        }
        list
    }
}
