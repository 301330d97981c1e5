//! Which source ACLs are mirrored onto the target (MM2 `MirrorSourceConnector.syncTopicAcls`).
//!
//! MM2 copies the *literal topic* ACLs of replicated topics to the remote topic names, so that
//! consumers allowed to read a topic on the source may read its copy on the target:
//!
//! - only `TOPIC` resources with the `LITERAL` pattern type (no `PREFIXED`, no group, cluster or
//!   transactional-id ACLs);
//! - only topics the flow replicates (`shouldReplicateTopic`);
//! - `ALLOW WRITE` is dropped and `ALLOW ALL` becomes `ALLOW READ`, so nobody but the replicator
//!   writes to remote topics (`shouldReplicateAcl`, `downgradeAllowAllACL`); `DENY` entries are
//!   copied as they are;
//! - ACLs are only ever added, never deleted.
//!
//! ferry also skips the literal wildcard topic `*` (MM2 would turn it into an ACL on the literal
//! topic `<source>.*`, which names no real topic).
//!
//! # Layout
//!
//! [`AclBinding`] and its enums mirror Kafka's `AclBinding`; [`mirrored_acls`] applies the rules
//! above for a flow; [`missing_acls`] is the diff that keeps each periodic pass quiet.
//!
//! ```
//! use ferry_engine::acl::{AclBinding, AclOperation, AclPermission, PatternType, ResourceType, mirrored_acls};
//! let all = AclBinding {
//!     resource_type: ResourceType::Topic,
//!     name: "orders".into(),
//!     pattern_type: PatternType::Literal,
//!     principal: "User:carol".into(),
//!     host: "*".into(),
//!     operation: AclOperation::All,
//!     permission: AclPermission::Allow,
//! };
//! let mirrored = mirrored_acls(&[all], |_| true, |t| format!("src.{t}"));
//! assert_eq!(mirrored[0].name, "src.orders");
//! assert_eq!(mirrored[0].operation, AclOperation::Read);
//! ```

use std::collections::BTreeSet;

/// Kafka's resource types (`org.apache.kafka.common.resource.ResourceType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ResourceType {
    /// A topic.
    Topic,
    /// A consumer group.
    Group,
    /// The cluster (`kafka-cluster`).
    Cluster,
    /// A transactional id.
    TransactionalId,
    /// Any other or unknown type.
    Other,
}

/// How an ACL's resource name matches (`PatternType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PatternType {
    /// The exact name (or `*`, every resource).
    Literal,
    /// Every resource whose name starts with the name.
    Prefixed,
    /// Any other or unknown pattern type.
    Other,
}

/// The operation an ACL allows or denies (`AclOperation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AclOperation {
    /// Every operation.
    All,
    /// Read (consume, fetch offsets).
    Read,
    /// Write (produce).
    Write,
    /// Create.
    Create,
    /// Delete.
    Delete,
    /// Alter.
    Alter,
    /// Describe.
    Describe,
    /// Cluster action (brokers among themselves).
    ClusterAction,
    /// Describe configs.
    DescribeConfigs,
    /// Alter configs.
    AlterConfigs,
    /// Idempotent write.
    IdempotentWrite,
    /// Any other or unknown operation.
    Other,
}

/// Whether an ACL allows or denies (`AclPermissionType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AclPermission {
    /// Allow.
    Allow,
    /// Deny.
    Deny,
    /// Any other or unknown permission type.
    Other,
}

/// One ACL: a resource pattern and an access control entry (Kafka `AclBinding`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AclBinding {
    /// Type of the resource.
    pub resource_type: ResourceType,
    /// Resource name (topic name, or `*`).
    pub name: String,
    /// How the name matches.
    pub pattern_type: PatternType,
    /// Principal, e.g. `User:alice`.
    pub principal: String,
    /// Host the principal connects from, `*` for any.
    pub host: String,
    /// The operation.
    pub operation: AclOperation,
    /// Allow or deny.
    pub permission: AclPermission,
}

/// The literal topic name that matches every topic.
const WILDCARD: &str = "*";

/// MM2 `shouldReplicateAcl`: everything except `ALLOW WRITE`.
fn should_mirror(acl: &AclBinding) -> bool {
    !(acl.permission == AclPermission::Allow && acl.operation == AclOperation::Write)
}

/// The ACLs the target should have for the source ACLs `source`: literal topic ACLs of topics
/// `replicates` accepts, renamed with `remote_topic`, `ALLOW WRITE` dropped and `ALLOW ALL`
/// turned into `ALLOW READ`. Sorted and without duplicates.
pub fn mirrored_acls(
    source: &[AclBinding],
    replicates: impl Fn(&str) -> bool,
    remote_topic: impl Fn(&str) -> String,
) -> Vec<AclBinding> {
    source
        .iter()
        .filter(|acl| acl.resource_type == ResourceType::Topic && acl.pattern_type == PatternType::Literal)
        .filter(|acl| acl.name != WILDCARD && replicates(&acl.name))
        .filter(|acl| should_mirror(acl))
        .map(|acl| {
            let operation = match (acl.permission, acl.operation) {
                (AclPermission::Allow, AclOperation::All) => AclOperation::Read,
                (_, operation) => operation,
            };
            AclBinding { name: remote_topic(&acl.name), operation, ..acl.clone() }
        })
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// The ACLs of `wanted` that `existing` (the target's ACLs) lacks, in `wanted`'s order.
pub fn missing_acls(wanted: &[AclBinding], existing: &[AclBinding]) -> Vec<AclBinding> {
    let existing: BTreeSet<&AclBinding> = existing.iter().collect();
    wanted.iter().filter(|acl| !existing.contains(acl)).cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acl(name: &str, principal: &str, operation: AclOperation, permission: AclPermission) -> AclBinding {
        AclBinding {
            resource_type: ResourceType::Topic,
            name: name.to_string(),
            pattern_type: PatternType::Literal,
            principal: principal.to_string(),
            host: "*".to_string(),
            operation,
            permission,
        }
    }

    fn mirror(source: &[AclBinding]) -> Vec<AclBinding> {
        mirrored_acls(source, |t| t.starts_with("orders"), |t| format!("src.{t}"))
    }

    #[test]
    fn allow_read_is_copied_to_the_remote_name() {
        let got = mirror(&[acl("orders", "User:alice", AclOperation::Read, AclPermission::Allow)]);
        assert_eq!(got, vec![acl("src.orders", "User:alice", AclOperation::Read, AclPermission::Allow)]);
    }

    #[test]
    fn allow_write_is_dropped_but_deny_write_is_kept() {
        let got = mirror(&[
            acl("orders", "User:bob", AclOperation::Write, AclPermission::Allow),
            acl("orders", "User:eve", AclOperation::Write, AclPermission::Deny),
        ]);
        assert_eq!(got, vec![acl("src.orders", "User:eve", AclOperation::Write, AclPermission::Deny)]);
    }

    #[test]
    fn allow_all_becomes_allow_read_and_deny_all_stays() {
        let got = mirror(&[
            acl("orders", "User:carol", AclOperation::All, AclPermission::Allow),
            acl("orders", "User:mallory", AclOperation::All, AclPermission::Deny),
        ]);
        assert_eq!(
            got,
            vec![
                acl("src.orders", "User:carol", AclOperation::Read, AclPermission::Allow),
                acl("src.orders", "User:mallory", AclOperation::All, AclPermission::Deny),
            ]
        );
    }

    #[test]
    fn other_operations_are_copied_as_they_are() {
        let got = mirror(&[acl("orders", "User:ops", AclOperation::DescribeConfigs, AclPermission::Allow)]);
        assert_eq!(got, vec![acl("src.orders", "User:ops", AclOperation::DescribeConfigs, AclPermission::Allow)]);
    }

    #[test]
    fn prefixed_non_topic_unreplicated_and_wildcard_acls_are_ignored() {
        let mut prefixed = acl("orders", "User:dave", AclOperation::Read, AclPermission::Allow);
        prefixed.pattern_type = PatternType::Prefixed;
        let mut group = acl("orders", "User:dave", AclOperation::Read, AclPermission::Allow);
        group.resource_type = ResourceType::Group;
        let got = mirror(&[
            prefixed,
            group,
            acl("payments", "User:erin", AclOperation::Read, AclPermission::Allow),
            acl("*", "User:frank", AclOperation::Read, AclPermission::Allow),
        ]);
        assert!(got.is_empty(), "{got:?}");
    }

    #[test]
    fn allow_all_and_allow_read_of_one_principal_give_one_acl() {
        let got = mirror(&[
            acl("orders", "User:carol", AclOperation::All, AclPermission::Allow),
            acl("orders", "User:carol", AclOperation::Read, AclPermission::Allow),
        ]);
        assert_eq!(got.len(), 1);
    }

    #[test]
    fn only_missing_acls_are_added() {
        let wanted = mirror(&[
            acl("orders", "User:alice", AclOperation::Read, AclPermission::Allow),
            acl("orders", "User:carol", AclOperation::All, AclPermission::Allow),
        ]);
        let existing = vec![
            acl("src.orders", "User:alice", AclOperation::Read, AclPermission::Allow),
            acl("src.orders", "User:zed", AclOperation::Write, AclPermission::Allow),
        ];
        assert_eq!(
            missing_acls(&wanted, &existing),
            vec![acl("src.orders", "User:carol", AclOperation::Read, AclPermission::Allow)]
        );
        assert!(missing_acls(&wanted, &wanted).is_empty());
    }
}
