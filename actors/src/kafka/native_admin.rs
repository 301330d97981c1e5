//! Admin calls rust-rdkafka 0.39 does not wrap: incremental alter configs (KIP-339), describe ACLs and
//! create ACLs. They call librdkafka's C API (rdkafka's re-exported `bindings`) on an existing client's
//! handle, so they reuse its connections, TLS and SASL settings; no Kafka protocol is written here.
//!
//! Each call blocks: it starts the request with a private result queue and waits on that queue for the
//! result event, so callers run it on a blocking thread ([`super::admin::Admin`] does).
//!
//! # Safety
//!
//! One of three modules of ferry with `unsafe` code (the workspace denies it elsewhere; the others are
//! `exit.rs` and `pipeline/borrowed_send.rs`). The rules it keeps:
//! - the client handle is borrowed (`&Client`) for the whole call, so it outlives the request;
//! - every object librdkafka allocates for a call (queue, options, config resource, ACL bindings, the
//!   result event) is owned by a guard that destroys it exactly once, on every path;
//! - librdkafka copies request arguments when the request starts, and everything read from a result
//!   event is copied into Rust values before the event guard drops;
//! - strings passed in are `CString`s living until the call returns; strings read are null-checked.
//!
//! # Layout
//!
//! [`incremental_alter_topic_configs`], [`describe_topic_acls`], [`create_acls`], [`known_topics_metadata`];
//! below them the shared
//! request plumbing (`request`), the guards and the enum conversions.

#![allow(unsafe_code)]

use std::ffi::{c_char, c_int, CStr, CString};
use std::ptr;
use std::time::Duration;

use ferry_engine::acl::{AclBinding, AclOperation, AclPermission, PatternType, ResourceType};
use ferry_engine::topic_config::ConfigAlteration;
use rdkafka::bindings as rd;
use rdkafka::bindings::{
    rd_kafka_AclOperation_t as Op, rd_kafka_AclPermissionType_t as Perm, rd_kafka_ResourcePatternType_t as Pat,
    rd_kafka_ResourceType_t as Res,
};
use rdkafka::client::{Client, ClientContext};
use rdkafka::types::RDKafkaErrorCode;

/// A failed native admin call: librdkafka's or the broker's error code and message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} ({code})")]
pub struct NativeAdminError {
    /// The error code.
    pub code: RDKafkaErrorCode,
    /// What librdkafka or the broker said.
    pub message: String,
}

impl NativeAdminError {
    fn new(code: RDKafkaErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }
}

const NO_ERROR: rd::rd_kafka_resp_err_t = rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR;

/// Applies `alterations` (SET / DELETE) to the configs of `topic` with one IncrementalAlterConfigs
/// request; other configs of the topic stay as they are.
///
/// # Errors
/// [`NativeAdminError`] when a name contains a NUL byte, the request fails or times out, or the broker
/// refuses the change (e.g. an invalid value, no authorization).
pub fn incremental_alter_topic_configs<C: ClientContext>(
    client: &Client<C>,
    topic: &str,
    alterations: &[ConfigAlteration],
    timeout: Duration,
) -> Result<(), NativeAdminError> {
    let topic_name = c_string(topic)?;
    // SAFETY: `topic_name` is a valid C string for the call; librdkafka copies it. The guard destroys
    // the resource.
    let resource =
        ConfigResource(unsafe { rd::rd_kafka_ConfigResource_new(Res::RD_KAFKA_RESOURCE_TOPIC, topic_name.as_ptr()) });
    if resource.0.is_null() {
        return Err(NativeAdminError::new(RDKafkaErrorCode::InvalidArgument, "cannot allocate a config resource"));
    }
    for alteration in alterations {
        let (name, op, value) = match alteration {
            ConfigAlteration::Set { name, value } => {
                (name, rd::rd_kafka_AlterConfigOpType_t::RD_KAFKA_ALTER_CONFIG_OP_TYPE_SET, Some(c_string(value)?))
            }
            ConfigAlteration::Delete { name } => {
                (name, rd::rd_kafka_AlterConfigOpType_t::RD_KAFKA_ALTER_CONFIG_OP_TYPE_DELETE, None)
            }
        };
        let name = c_string(name)?;
        let value_ptr = value.as_ref().map_or(ptr::null(), |v| v.as_ptr());
        // SAFETY: `resource` is live; name and value are valid C strings (value may be NULL for DELETE,
        // as documented), copied by librdkafka. The returned error, if any, is ours to destroy.
        let error =
            unsafe { rd::rd_kafka_ConfigResource_add_incremental_config(resource.0, name.as_ptr(), op, value_ptr) };
        take_error(error)?;
    }
    let op = rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_INCREMENTALALTERCONFIGS;
    let event = request(client, op, timeout, |rk, options, queue| {
        let mut resources = [resource.0];
        // SAFETY: all handles are live for the call; librdkafka copies the resource array's contents.
        unsafe { rd::rd_kafka_IncrementalAlterConfigs(rk, resources.as_mut_ptr(), resources.len(), options, queue) }
    })?;
    // SAFETY: `event` is a live result event of this request type (NULL is checked).
    let result = unsafe { rd::rd_kafka_event_IncrementalAlterConfigs_result(event.0) };
    if result.is_null() {
        return Err(unexpected_event());
    }
    let mut count = 0usize;
    // SAFETY: `result` belongs to `event`, which outlives the reads below; the array has `count` entries.
    let resources = unsafe { rd::rd_kafka_IncrementalAlterConfigs_result_resources(result, &mut count) };
    for i in 0..count {
        // SAFETY: i < count, so the element is a valid resource pointer owned by the event.
        let (code, message) = unsafe {
            let resource = *resources.add(i);
            (rd::rd_kafka_ConfigResource_error(resource), owned(rd::rd_kafka_ConfigResource_error_string(resource)))
        };
        if code != NO_ERROR {
            return Err(NativeAdminError::new(code.into(), message));
        }
    }
    Ok(())
}

/// One metadata request for the brokers and the topics this client already knows (none for a fresh
/// admin client), not for every topic of the cluster: a round trip whose answer stays small on a
/// cluster with thousands of topics (used to time the link to a cluster). Creates no topic.
///
/// # Errors
/// [`NativeAdminError`] when no broker answers within `timeout`.
pub fn known_topics_metadata<C: ClientContext>(client: &Client<C>, timeout: Duration) -> Result<(), NativeAdminError> {
    let mut metadata: *const rd::rd_kafka_metadata_t = ptr::null();
    let timeout_ms = c_int::try_from(timeout.as_millis()).unwrap_or(c_int::MAX);
    // SAFETY: the client handle is live for the call; `all_topics = 0` with no topic handle asks for
    // the locally known topics only. On success librdkafka hands over `metadata`, destroyed below.
    let code = unsafe { rd::rd_kafka_metadata(client.native_ptr(), 0, ptr::null_mut(), &mut metadata, timeout_ms) };
    if code != NO_ERROR {
        return Err(NativeAdminError::new(code.into(), "metadata request failed"));
    }
    if !metadata.is_null() {
        // SAFETY: returned by `rd_kafka_metadata` above and destroyed once.
        unsafe { rd::rd_kafka_metadata_destroy(metadata) };
    }
    Ok(())
}

/// Every literal topic ACL of the cluster (MM2's `ANY_TOPIC_ACL` filter: resource type TOPIC, pattern
/// type LITERAL, any name, principal, host, operation and permission).
///
/// # Errors
/// [`NativeAdminError`] when the request fails or times out; the code is `SecurityDisabled` when the
/// cluster has no authorizer.
pub fn describe_topic_acls<C: ClientContext>(
    client: &Client<C>,
    timeout: Duration,
) -> Result<Vec<AclBinding>, NativeAdminError> {
    let mut errstr = [0 as c_char; 512];
    // SAFETY: NULL name, principal and host mean "any" (documented); `errstr` is writable for its
    // length. The guard destroys the filter; librdkafka copies it when the request starts.
    let filter = AclBindings(vec![unsafe {
        rd::rd_kafka_AclBindingFilter_new(
            Res::RD_KAFKA_RESOURCE_TOPIC,
            ptr::null(),
            Pat::RD_KAFKA_RESOURCE_PATTERN_LITERAL,
            ptr::null(),
            ptr::null(),
            Op::RD_KAFKA_ACL_OPERATION_ANY,
            Perm::RD_KAFKA_ACL_PERMISSION_TYPE_ANY,
            errstr.as_mut_ptr(),
            errstr.len(),
        )
    }]);
    if filter.0[0].is_null() {
        return Err(NativeAdminError::new(RDKafkaErrorCode::InvalidArgument, errstr_text(&errstr)));
    }
    let op = rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_DESCRIBEACLS;
    let event = request(client, op, timeout, |rk, options, queue| {
        // SAFETY: all handles are live for the call; librdkafka copies the filter.
        unsafe { rd::rd_kafka_DescribeAcls(rk, filter.0[0], options, queue) }
    })?;
    // SAFETY: `event` is a live result event of this request type (NULL is checked).
    let result = unsafe { rd::rd_kafka_event_DescribeAcls_result(event.0) };
    if result.is_null() {
        return Err(unexpected_event());
    }
    let mut count = 0usize;
    // SAFETY: the array and its bindings belong to `event`, which outlives the reads; it has `count`
    // entries. librdkafka skips bindings whose enums it does not know, so the enum reads are in range.
    let acls = unsafe { rd::rd_kafka_DescribeAcls_result_acls(result, &mut count) };
    Ok((0..count).map(|i| unsafe { read_acl(*acls.add(i)) }).collect())
}

/// Creates `acls`; returns one outcome per ACL, in order (Kafka creates each binding on its own, and
/// creating one that exists is a success).
///
/// # Errors
/// [`NativeAdminError`] when an ACL cannot be expressed (e.g. a NUL byte in a name), or the request as
/// a whole fails or times out.
pub fn create_acls<C: ClientContext>(
    client: &Client<C>,
    acls: &[AclBinding],
    timeout: Duration,
) -> Result<Vec<Result<(), NativeAdminError>>, NativeAdminError> {
    if acls.is_empty() {
        return Ok(Vec::new());
    }
    let mut bindings = AclBindings(Vec::with_capacity(acls.len()));
    for acl in acls {
        let (name, principal, host) = (c_string(&acl.name)?, c_string(&acl.principal)?, c_string(&acl.host)?);
        let mut errstr = [0 as c_char; 512];
        // SAFETY: the strings are valid C strings, copied by librdkafka; `errstr` is writable for its
        // length. The binding goes straight into the guard.
        let binding = unsafe {
            rd::rd_kafka_AclBinding_new(
                resource_type_to_rd(acl.resource_type),
                name.as_ptr(),
                pattern_type_to_rd(acl.pattern_type),
                principal.as_ptr(),
                host.as_ptr(),
                operation_to_rd(acl.operation),
                permission_to_rd(acl.permission),
                errstr.as_mut_ptr(),
                errstr.len(),
            )
        };
        if binding.is_null() {
            return Err(NativeAdminError::new(RDKafkaErrorCode::InvalidArgument, errstr_text(&errstr)));
        }
        bindings.0.push(binding);
    }
    let op = rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_CREATEACLS;
    let event = request(client, op, timeout, |rk, options, queue| {
        // SAFETY: all handles are live for the call; librdkafka copies the bindings.
        unsafe { rd::rd_kafka_CreateAcls(rk, bindings.0.as_mut_ptr(), bindings.0.len(), options, queue) }
    })?;
    // SAFETY: `event` is a live result event of this request type (NULL is checked).
    let result = unsafe { rd::rd_kafka_event_CreateAcls_result(event.0) };
    if result.is_null() {
        return Err(unexpected_event());
    }
    let mut count = 0usize;
    // SAFETY: the results belong to `event`, which outlives the reads; the array has `count` entries.
    // The errors they hold are owned by the event too (not destroyed here).
    let results = unsafe { rd::rd_kafka_CreateAcls_result_acls(result, &mut count) };
    let outcomes = (0..count)
        .map(|i| {
            // SAFETY: i < count (see above).
            let error = unsafe { rd::rd_kafka_acl_result_error(*results.add(i)) };
            if error.is_null() {
                Ok(())
            } else {
                // SAFETY: `error` is a live error object owned by the event.
                let (code, message) =
                    unsafe { (rd::rd_kafka_error_code(error), owned(rd::rd_kafka_error_string(error))) };
                Err(NativeAdminError::new(code.into(), message))
            }
        })
        .collect();
    Ok(outcomes)
}

// ---------------------------------------------------------------------------------------------------
// Request plumbing and guards
// ---------------------------------------------------------------------------------------------------

/// Runs one admin request: a private result queue and options with `timeout`, `start` to send the
/// request, then waits for the result event. Returns it when librdkafka reports no request-level error.
fn request<C: ClientContext>(
    client: &Client<C>,
    op: rd::rd_kafka_admin_op_t,
    timeout: Duration,
    start: impl FnOnce(*mut rd::rd_kafka_t, *const rd::rd_kafka_AdminOptions_t, *mut rd::rd_kafka_queue_t),
) -> Result<Event, NativeAdminError> {
    let rk = client.native_ptr();
    let timeout_ms = c_int::try_from(timeout.as_millis()).unwrap_or(c_int::MAX / 2).max(1);
    // SAFETY: `rk` is the live handle of `client`, borrowed for this call. The guard destroys the queue
    // (librdkafka reference-counts it, so a result arriving after a time-out is still safe).
    let queue = Queue(unsafe { rd::rd_kafka_queue_new(rk) });
    // SAFETY: as above; the guard destroys the options.
    let options = Options(unsafe { rd::rd_kafka_AdminOptions_new(rk, op) });
    if queue.0.is_null() || options.0.is_null() {
        return Err(NativeAdminError::new(RDKafkaErrorCode::InvalidArgument, "cannot set up the admin request"));
    }
    let mut errstr = [0 as c_char; 512];
    // SAFETY: `options` is live; `errstr` is writable for its length.
    let err = unsafe {
        rd::rd_kafka_AdminOptions_set_request_timeout(options.0, timeout_ms, errstr.as_mut_ptr(), errstr.len())
    };
    if err != NO_ERROR {
        return Err(NativeAdminError::new(err.into(), errstr_text(&errstr)));
    }
    start(rk, options.0, queue.0);
    // librdkafka answers a timed-out request with an error event itself; the margin covers the rest.
    // SAFETY: `queue` is live; the returned event (if any) is ours to destroy (guard).
    let event = unsafe { rd::rd_kafka_queue_poll(queue.0, timeout_ms.saturating_add(2000)) };
    if event.is_null() {
        return Err(NativeAdminError::new(RDKafkaErrorCode::OperationTimedOut, "no admin result in time"));
    }
    let event = Event(event);
    // SAFETY: `event` is live.
    let code = unsafe { rd::rd_kafka_event_error(event.0) };
    if code != NO_ERROR {
        // SAFETY: `event` is live; the string it returns is owned by it and copied here.
        let message = unsafe { owned(rd::rd_kafka_event_error_string(event.0)) };
        return Err(NativeAdminError::new(code.into(), message));
    }
    Ok(event)
}

/// Owns a result queue.
struct Queue(*mut rd::rd_kafka_queue_t);

impl Drop for Queue {
    fn drop(&mut self) {
        if !self.0.is_null() {
            // SAFETY: created by rd_kafka_queue_new, destroyed once here.
            unsafe { rd::rd_kafka_queue_destroy(self.0) }
        }
    }
}

/// Owns admin options.
struct Options(*mut rd::rd_kafka_AdminOptions_t);

impl Drop for Options {
    fn drop(&mut self) {
        if !self.0.is_null() {
            // SAFETY: created by rd_kafka_AdminOptions_new, destroyed once here.
            unsafe { rd::rd_kafka_AdminOptions_destroy(self.0) }
        }
    }
}

/// Owns a result event (and so everything read from it).
struct Event(*mut rd::rd_kafka_event_t);

impl Drop for Event {
    fn drop(&mut self) {
        // SAFETY: polled from our queue (never NULL here), destroyed once here.
        unsafe { rd::rd_kafka_event_destroy(self.0) }
    }
}

/// Owns a config resource of a request.
struct ConfigResource(*mut rd::rd_kafka_ConfigResource_t);

impl Drop for ConfigResource {
    fn drop(&mut self) {
        if !self.0.is_null() {
            // SAFETY: created by rd_kafka_ConfigResource_new, destroyed once here.
            unsafe { rd::rd_kafka_ConfigResource_destroy(self.0) }
        }
    }
}

/// Owns the ACL bindings (or binding filters, the same C type) of a request.
struct AclBindings(Vec<*mut rd::rd_kafka_AclBinding_t>);

impl Drop for AclBindings {
    fn drop(&mut self) {
        for binding in self.0.iter().filter(|b| !b.is_null()) {
            // SAFETY: created by rd_kafka_AclBinding(Filter)_new, destroyed once here.
            unsafe { rd::rd_kafka_AclBinding_destroy(*binding) }
        }
    }
}

/// Turns an owned `rd_kafka_error_t` (NULL: no error) into a result, destroying it.
fn take_error(error: *mut rd::rd_kafka_error_t) -> Result<(), NativeAdminError> {
    if error.is_null() {
        return Ok(());
    }
    // SAFETY: `error` is a live error object we own; it is read, then destroyed once.
    let (code, message) = unsafe {
        let read = (rd::rd_kafka_error_code(error), owned(rd::rd_kafka_error_string(error)));
        rd::rd_kafka_error_destroy(error);
        read
    };
    Err(NativeAdminError::new(code.into(), message))
}

fn unexpected_event() -> NativeAdminError {
    NativeAdminError::new(RDKafkaErrorCode::Fail, "unexpected admin result event")
}

fn c_string(text: &str) -> Result<CString, NativeAdminError> {
    CString::new(text)
        .map_err(|_| NativeAdminError::new(RDKafkaErrorCode::InvalidArgument, format!("NUL byte in `{text}`")))
}

fn errstr_text(errstr: &[c_char]) -> String {
    let bytes: Vec<u8> = errstr.iter().take_while(|c| **c != 0).map(|c| *c as u8).collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Copies a C string owned by librdkafka; NULL gives "".
///
/// # Safety
/// `text` is NULL or a valid NUL-terminated string that stays alive during the call.
unsafe fn owned(text: *const c_char) -> String {
    if text.is_null() {
        String::new()
    } else {
        // SAFETY: guaranteed by the caller.
        unsafe { CStr::from_ptr(text) }.to_string_lossy().into_owned()
    }
}

/// Copies an ACL binding of a result.
///
/// # Safety
/// `acl` is a live binding owned by a result event that outlives the call.
unsafe fn read_acl(acl: *const rd::rd_kafka_AclBinding_t) -> AclBinding {
    // SAFETY: guaranteed by the caller; the strings are owned by the binding and copied.
    unsafe {
        AclBinding {
            resource_type: resource_type_from_rd(rd::rd_kafka_AclBinding_restype(acl)),
            name: owned(rd::rd_kafka_AclBinding_name(acl)),
            pattern_type: pattern_type_from_rd(rd::rd_kafka_AclBinding_resource_pattern_type(acl)),
            principal: owned(rd::rd_kafka_AclBinding_principal(acl)),
            host: owned(rd::rd_kafka_AclBinding_host(acl)),
            operation: operation_from_rd(rd::rd_kafka_AclBinding_operation(acl)),
            permission: permission_from_rd(rd::rd_kafka_AclBinding_permission_type(acl)),
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// Enum conversions
// ---------------------------------------------------------------------------------------------------

const OPERATIONS: [(AclOperation, Op); 11] = [
    (AclOperation::All, Op::RD_KAFKA_ACL_OPERATION_ALL),
    (AclOperation::Read, Op::RD_KAFKA_ACL_OPERATION_READ),
    (AclOperation::Write, Op::RD_KAFKA_ACL_OPERATION_WRITE),
    (AclOperation::Create, Op::RD_KAFKA_ACL_OPERATION_CREATE),
    (AclOperation::Delete, Op::RD_KAFKA_ACL_OPERATION_DELETE),
    (AclOperation::Alter, Op::RD_KAFKA_ACL_OPERATION_ALTER),
    (AclOperation::Describe, Op::RD_KAFKA_ACL_OPERATION_DESCRIBE),
    (AclOperation::ClusterAction, Op::RD_KAFKA_ACL_OPERATION_CLUSTER_ACTION),
    (AclOperation::DescribeConfigs, Op::RD_KAFKA_ACL_OPERATION_DESCRIBE_CONFIGS),
    (AclOperation::AlterConfigs, Op::RD_KAFKA_ACL_OPERATION_ALTER_CONFIGS),
    (AclOperation::IdempotentWrite, Op::RD_KAFKA_ACL_OPERATION_IDEMPOTENT_WRITE),
];

fn operation_to_rd(operation: AclOperation) -> Op {
    OPERATIONS.iter().find(|(o, _)| *o == operation).map_or(Op::RD_KAFKA_ACL_OPERATION_UNKNOWN, |(_, r)| *r)
}

fn operation_from_rd(operation: Op) -> AclOperation {
    OPERATIONS.iter().find(|(_, r)| *r == operation).map_or(AclOperation::Other, |(o, _)| *o)
}

fn permission_to_rd(permission: AclPermission) -> Perm {
    match permission {
        AclPermission::Allow => Perm::RD_KAFKA_ACL_PERMISSION_TYPE_ALLOW,
        AclPermission::Deny => Perm::RD_KAFKA_ACL_PERMISSION_TYPE_DENY,
        AclPermission::Other => Perm::RD_KAFKA_ACL_PERMISSION_TYPE_UNKNOWN,
    }
}

fn permission_from_rd(permission: Perm) -> AclPermission {
    match permission {
        Perm::RD_KAFKA_ACL_PERMISSION_TYPE_ALLOW => AclPermission::Allow,
        Perm::RD_KAFKA_ACL_PERMISSION_TYPE_DENY => AclPermission::Deny,
        _ => AclPermission::Other,
    }
}

fn pattern_type_to_rd(pattern: PatternType) -> Pat {
    match pattern {
        PatternType::Literal => Pat::RD_KAFKA_RESOURCE_PATTERN_LITERAL,
        PatternType::Prefixed => Pat::RD_KAFKA_RESOURCE_PATTERN_PREFIXED,
        PatternType::Other => Pat::RD_KAFKA_RESOURCE_PATTERN_UNKNOWN,
    }
}

fn pattern_type_from_rd(pattern: Pat) -> PatternType {
    match pattern {
        Pat::RD_KAFKA_RESOURCE_PATTERN_LITERAL => PatternType::Literal,
        Pat::RD_KAFKA_RESOURCE_PATTERN_PREFIXED => PatternType::Prefixed,
        _ => PatternType::Other,
    }
}

fn resource_type_to_rd(resource: ResourceType) -> Res {
    match resource {
        ResourceType::Topic => Res::RD_KAFKA_RESOURCE_TOPIC,
        ResourceType::Group => Res::RD_KAFKA_RESOURCE_GROUP,
        // librdkafka's BROKER is Kafka's CLUSTER resource type (both 4).
        ResourceType::Cluster => Res::RD_KAFKA_RESOURCE_BROKER,
        ResourceType::TransactionalId => Res::RD_KAFKA_RESOURCE_TRANSACTIONAL_ID,
        ResourceType::Other => Res::RD_KAFKA_RESOURCE_UNKNOWN,
    }
}

fn resource_type_from_rd(resource: Res) -> ResourceType {
    match resource {
        Res::RD_KAFKA_RESOURCE_TOPIC => ResourceType::Topic,
        Res::RD_KAFKA_RESOURCE_GROUP => ResourceType::Group,
        Res::RD_KAFKA_RESOURCE_BROKER => ResourceType::Cluster,
        Res::RD_KAFKA_RESOURCE_TRANSACTIONAL_ID => ResourceType::TransactionalId,
        _ => ResourceType::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rdkafka::admin::AdminClient;
    use rdkafka::client::DefaultClientContext;
    use rdkafka::config::ClientConfig;

    /// An admin client whose cluster never answers (port 1 refuses connections).
    fn unreachable() -> AdminClient<DefaultClientContext> {
        ClientConfig::new()
            .set("bootstrap.servers", "127.0.0.1:1")
            .set("log_level", "0")
            .create()
            .expect("admin client")
    }

    fn acl(name: &str, operation: AclOperation) -> AclBinding {
        AclBinding {
            resource_type: ResourceType::Topic,
            name: name.to_string(),
            pattern_type: PatternType::Literal,
            principal: "User:alice".to_string(),
            host: "*".to_string(),
            operation,
            permission: AclPermission::Allow,
        }
    }

    #[test]
    fn enums_round_trip() {
        for (operation, _) in OPERATIONS {
            assert_eq!(operation_from_rd(operation_to_rd(operation)), operation);
        }
        for permission in [AclPermission::Allow, AclPermission::Deny] {
            assert_eq!(permission_from_rd(permission_to_rd(permission)), permission);
        }
        for pattern in [PatternType::Literal, PatternType::Prefixed] {
            assert_eq!(pattern_type_from_rd(pattern_type_to_rd(pattern)), pattern);
        }
        for resource in [ResourceType::Topic, ResourceType::Group, ResourceType::Cluster, ResourceType::TransactionalId]
        {
            assert_eq!(resource_type_from_rd(resource_type_to_rd(resource)), resource);
        }
    }

    #[test]
    fn an_unreachable_cluster_is_an_error_after_the_timeout_not_a_hang() {
        let admin = unreachable();
        let timeout = Duration::from_millis(300);
        let started = std::time::Instant::now();
        let set = [ConfigAlteration::Set { name: "retention.ms".into(), value: "1000".into() }];
        assert!(incremental_alter_topic_configs(admin.inner(), "t", &set, timeout).is_err());
        assert!(describe_topic_acls(admin.inner(), timeout).is_err());
        assert!(create_acls(admin.inner(), &[acl("t", AclOperation::Read)], timeout).is_err());
        assert!(started.elapsed() < Duration::from_secs(15), "took {:?}", started.elapsed());
    }

    #[test]
    fn invalid_arguments_are_errors_before_any_request() {
        let admin = unreachable();
        let timeout = Duration::from_millis(300);
        let nul = [ConfigAlteration::Delete { name: "retention\0ms".into() }];
        let error = incremental_alter_topic_configs(admin.inner(), "t", &nul, timeout).expect_err("NUL byte");
        assert_eq!(error.code, RDKafkaErrorCode::InvalidArgument);
        // librdkafka refuses to create an ACL for operation ANY/UNKNOWN; it says so in its message.
        let error = create_acls(admin.inner(), &[acl("t", AclOperation::Other)], timeout).expect_err("unknown op");
        assert_eq!(error.code, RDKafkaErrorCode::InvalidArgument);
        assert!(!error.message.is_empty(), "{error:?}");
        let set_without_value = [ConfigAlteration::Set { name: "retention.ms".into(), value: String::new() }];
        // An empty value is a valid request (the broker decides); only the time-out fails it here.
        let error =
            incremental_alter_topic_configs(admin.inner(), "t", &set_without_value, timeout).expect_err("timeout");
        assert_ne!(error.code, RDKafkaErrorCode::InvalidArgument, "{error:?}");
        assert!(create_acls(admin.inner(), &[], timeout).expect("nothing to do").is_empty());
    }
}
