//! ACL sync while running (real Kafka with an authorizer, as `scripts/kafka-rig.sh` starts it; Tansu has
//! no ACLs): literal topic ACLs of a replicated topic reach its remote topic by MM2's rules (ALLOW WRITE
//! dropped, ALLOW ALL → ALLOW READ), prefixed, non-topic and non-replicated ones never do, an ACL added
//! while ferry runs follows within an interval, and a synced target is left alone.
//!
//! The source ACLs are created with ferry's own librdkafka calls; what the target holds is checked with
//! them and, independently, with Kafka's `AclCommand`.

#![cfg(feature = "kafka-integration-tests")]

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::*;
use ferry_actors::kafka::native_admin::{create_acls, describe_topic_acls};
use ferry_engine::acl::{AclBinding, AclOperation, AclPermission, PatternType, ResourceType};

const TIMEOUT: Duration = Duration::from_secs(20);

fn acl(
    resource_type: ResourceType,
    name: &str,
    pattern_type: PatternType,
    principal: &str,
    operation: AclOperation,
) -> AclBinding {
    AclBinding {
        resource_type,
        name: name.to_string(),
        pattern_type,
        principal: principal.to_string(),
        host: "*".to_string(),
        operation,
        permission: AclPermission::Allow,
    }
}

fn topic_acl(name: &str, principal: &str, operation: AclOperation) -> AclBinding {
    acl(ResourceType::Topic, name, PatternType::Literal, principal, operation)
}

fn create(cluster: &Cluster, acls: &[AclBinding]) {
    let outcomes = create_acls(cluster.admin().inner(), acls, TIMEOUT).expect("CreateAcls");
    for (acl, outcome) in acls.iter().zip(outcomes) {
        outcome.unwrap_or_else(|e| panic!("creating {acl:?} on {}: {e}", cluster.alias));
    }
}

/// The literal topic ACLs of `cluster` whose principal ends with `-<id>` (this test's principals).
fn acls_of_test(cluster: &Cluster, id: &str) -> BTreeSet<AclBinding> {
    let suffix = format!("-{id}");
    describe_topic_acls(cluster.admin().inner(), TIMEOUT)
        .expect("DescribeAcls")
        .into_iter()
        .filter(|a| a.principal.ends_with(&suffix))
        .collect()
}

#[test]
fn literal_topic_acls_are_mirrored_by_mm2s_rules() {
    let rig = Rig::get();
    if rig.is_tansu() {
        eprintln!("[it] SKIPPED ACL sync: Tansu has no ACLs");
        return;
    }
    let (src, dst) = (rig.source(), rig.target());
    let p = prefix();
    let id = random_id(6);
    let user = |name: &str| format!("User:{name}-{id}");
    let (topic, other) = (format!("{p}acl"), format!("{p}other"));
    let remote = format!("src.{topic}");
    src.create_topic(&topic, 1, &[]);
    src.create_topic(&other, 1, &[]);
    create(
        &src,
        &[
            topic_acl(&topic, &user("alice"), AclOperation::Read),
            topic_acl(&topic, &user("bob"), AclOperation::Write),
            topic_acl(&topic, &user("carol"), AclOperation::All),
            acl(ResourceType::Topic, &p, PatternType::Prefixed, &user("dave"), AclOperation::Read),
            topic_acl(&other, &user("erin"), AclOperation::Read),
            acl(ResourceType::Group, &format!("{p}group"), PatternType::Literal, &user("frank"), AclOperation::Read),
        ],
    );
    wait_until(WAIT, "the source lists the test's literal topic ACLs", || acls_of_test(&src, &id).len() == 4);

    let dir = tempfile::tempdir().expect("tempdir");
    let mut mm2 = rig.mm2(&topic);
    mm2.set("sync.topic.acls.interval.seconds", "2");
    let mut ferry = Ferry::start(&mm2.write(dir.path()), dir.path(), "acl-sync");

    let expected: BTreeSet<AclBinding> = [
        topic_acl(&remote, &user("alice"), AclOperation::Read),
        topic_acl(&remote, &user("carol"), AclOperation::Read),
    ]
    .into();
    wait_until(Duration::from_secs(30), "alice's and carol's READ reach the remote topic", || {
        acls_of_test(&dst, &id) == expected
    });

    // Independently, with Kafka's own tool: every ACL of the target (all resource and pattern types).
    let listed = dst.kafka_tool("acls", &["--list"]);
    for name in ["alice", "carol"] {
        let entry = format!("principal={}, host=*, operation=READ, permissionType=ALLOW", user(name));
        assert_eq!(listed.matches(&entry).count(), 1, "{entry} once on the target:\n{listed}");
    }
    for name in ["bob", "dave", "erin", "frank"] {
        assert!(!listed.contains(&user(name)), "{} has no ACL on the target:\n{listed}", user(name));
    }
    assert!(!listed.contains(&format!("name={topic},")), "no ACL on the source topic name:\n{listed}");

    // Added while running: follows within an interval.
    let grace = topic_acl(&topic, &user("grace"), AclOperation::Describe);
    create(&src, &[grace]);
    let mut expected = expected;
    expected.insert(topic_acl(&remote, &user("grace"), AclOperation::Describe));
    wait_until(Duration::from_secs(30), "grace's DESCRIBE reaches the remote topic", || {
        acls_of_test(&dst, &id) == expected
    });

    // In sync now: the next passes create nothing. (The target may show grace's ACL a moment before
    // ferry has logged creating it.)
    wait_until(Duration::from_secs(10), "ferry logs creating grace's ACL", || {
        ferry.stderr().matches("ACL created on the target").count() >= 3
    });
    let created = ferry.stderr().matches("ACL created on the target").count();
    assert_eq!(created, 3, "{}", ferry.stderr_tail(40));
    std::thread::sleep(Duration::from_secs(5));
    ferry.assert_running();
    let log = ferry.stderr();
    assert_eq!(log.matches("ACL created on the target").count(), created, "ACLs were created again\n{log}");
    assert!(!log.contains("ACL sync failed") && !log.contains("cannot create ACL"), "{}", ferry.stderr_tail(40));
    ferry.stop(Duration::from_secs(10));
}
