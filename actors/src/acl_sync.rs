//! ACL sync of a flow (MM2 `syncTopicAcls`): at start and every `sync.topic.acls.interval.seconds`, the
//! literal topic ACLs of replicated source topics are mirrored onto the remote topics by the rules of
//! [`ferry_engine::acl`] (`ALLOW WRITE` dropped, `ALLOW ALL` → `ALLOW READ`, prefixed and non-topic
//! ACLs ignored).
//!
//! ACLs are only added, never deleted. Unlike MM2, which re-sends the whole set each interval, a pass
//! reads the target's literal topic ACLs and creates only the missing ones, so steady state is quiet.
//! A source without an authorizer (`SECURITY_DISABLED`) is logged once and skipped (as MM2 does since
//! KAFKA-14781); a target without one, or a broker without the ACL API (e.g. Tansu), is logged once too. Other failures are logged and retried at the
//! next pass; the flow never stops. Started by the flow supervisor when `sync.topic.acls.enabled`; it
//! runs on control ticks only, nowhere near the record path.

use std::sync::Arc;

use actix::prelude::*;
use ferry_engine::acl::{mirrored_acls, missing_acls, AclBinding};
use ferry_engine::FlowConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};

use crate::error::FerryError;
use crate::kafka::admin::Admin;

/// Run one sync pass now.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SyncAcls;

/// Stop syncing (the flow is shutting down).
#[derive(Message)]
#[rtype(result = "()")]
pub struct StopAclSync;

/// ACL sync actor of one flow.
pub struct AclSync {
    /// The flow's configuration (topic filter, naming, interval).
    flow: Arc<FlowConfig>,
    /// Admin client of the source cluster (ACLs are read there).
    source: Admin,
    /// Admin client of the target cluster (ACLs are created there).
    target: Admin,
    /// Whether a pass is under way (passes never overlap).
    busy: bool,
    /// Whether "no ACLs on this cluster" was already logged (it is logged once, not every pass).
    unavailable_logged: bool,
}

impl AclSync {
    /// An ACL sync actor for `flow`.
    pub fn new(flow: Arc<FlowConfig>, source: Admin, target: Admin) -> Self {
        Self { flow, source, target, busy: false, unavailable_logged: false }
    }
}

impl Actor for AclSync {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.notify(SyncAcls);
        ctx.run_interval(self.flow.sync_topic_acls_interval, |_, ctx| ctx.notify(SyncAcls));
    }
}

impl Handler<StopAclSync> for AclSync {
    type Result = ();

    fn handle(&mut self, _: StopAclSync, ctx: &mut Self::Context) {
        ctx.stop();
    }
}

impl Handler<SyncAcls> for AclSync {
    type Result = ResponseActFuture<Self, ()>;

    /// Creates the missing mirrored ACLs on the target; logs what it created or why it could not.
    fn handle(&mut self, _: SyncAcls, _: &mut Self::Context) -> Self::Result {
        if self.busy {
            return Box::pin(async {}.into_actor(self));
        }
        self.busy = true;
        let (flow, source, target) = (Arc::clone(&self.flow), self.source.clone(), self.target.clone());
        Box::pin(async move { sync(&flow, &source, &target).await }.into_actor(self).map(|outcome, act, _| {
            act.busy = false;
            act.report(outcome);
        }))
    }
}

/// What one pass did.
enum Outcome {
    /// Nothing was missing on the target.
    InSync,
    /// These ACLs were created; these were refused.
    Created(Vec<AclBinding>, Vec<(AclBinding, FerryError)>),
    /// The cluster named has no authorizer or no ACL API (the reason).
    Unavailable(String, &'static str),
    /// The pass failed.
    Failed(FerryError),
}

impl AclSync {
    fn report(&mut self, outcome: Outcome) {
        let flow = &self.flow.name;
        match outcome {
            Outcome::InSync => {}
            Outcome::Created(created, refused) => {
                for acl in &created {
                    tracing::info!(flow = %flow, topic = %acl.name, acl = %show(acl), "ACL created on the target");
                }
                for (acl, error) in &refused {
                    tracing::warn!(flow = %flow, topic = %acl.name, acl = %show(acl), %error, "cannot create ACL on the target; will retry at the next interval");
                }
            }
            Outcome::Unavailable(cluster, reason) if !self.unavailable_logged => {
                self.unavailable_logged = true;
                tracing::warn!(flow = %flow, cluster, reason, "topic ACLs are not synced: the cluster has no ACLs (set sync.topic.acls.enabled = false to silence this)");
            }
            Outcome::Unavailable(..) => {}
            Outcome::Failed(error) => {
                tracing::warn!(flow = %flow, %error, "topic ACL sync failed; will retry at the next interval");
            }
        }
    }
}

/// One pass: source ACLs → mirrored set → those the target lacks → created.
async fn sync(flow: &FlowConfig, source: &Admin, target: &Admin) -> Outcome {
    let source_acls = match source.describe_topic_acls().await {
        Ok(acls) => acls,
        Err(error) => match unavailable(&error) {
            Some(reason) => return Outcome::Unavailable(flow.source.clone(), reason),
            None => return Outcome::Failed(error),
        },
    };
    let wanted = mirrored_acls(&source_acls, |t| flow.should_replicate_topic(t), |t| flow.remote_topic(t));
    if wanted.is_empty() {
        return Outcome::InSync;
    }
    let existing = match target.describe_topic_acls().await {
        Ok(acls) => acls,
        Err(error) => match unavailable(&error) {
            Some(reason) => return Outcome::Unavailable(flow.target.clone(), reason),
            None => return Outcome::Failed(error),
        },
    };
    let missing = missing_acls(&wanted, &existing);
    if missing.is_empty() {
        return Outcome::InSync;
    }
    match target.create_acls(missing.clone()).await {
        Ok(refused) => {
            let created = missing.into_iter().filter(|acl| !refused.iter().any(|(r, _)| r == acl)).collect();
            Outcome::Created(created, refused)
        }
        Err(error) => Outcome::Failed(error),
    }
}

/// Why a cluster cannot list ACLs at all, if that is what `error` says: no authorizer
/// (`SECURITY_DISABLED`), or a broker without the ACL API.
fn unavailable(error: &FerryError) -> Option<&'static str> {
    match error {
        FerryError::Kafka { source: KafkaError::AdminOp(code), .. } => match code {
            RDKafkaErrorCode::SecurityDisabled => Some("no authorizer (SECURITY_DISABLED)"),
            RDKafkaErrorCode::UnsupportedFeature | RDKafkaErrorCode::UnsupportedVersion => {
                Some("the broker does not support the ACL API")
            }
            _ => None,
        },
        _ => None,
    }
}

/// `ALLOW READ for User:alice from *` for the log.
fn show(acl: &AclBinding) -> String {
    let verb = format!("{:?} {:?}", acl.permission, acl.operation).to_uppercase();
    format!("{verb} for {} from {}", acl.principal, acl.host)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admin_error(code: RDKafkaErrorCode) -> FerryError {
        FerryError::kafka("src", "describing topic ACLs", KafkaError::AdminOp(code))
    }

    #[test]
    fn clusters_without_acls_are_told_apart_from_failures() {
        assert!(unavailable(&admin_error(RDKafkaErrorCode::SecurityDisabled)).is_some());
        assert!(unavailable(&admin_error(RDKafkaErrorCode::UnsupportedFeature)).is_some());
        assert!(unavailable(&admin_error(RDKafkaErrorCode::ClusterAuthorizationFailed)).is_none());
        assert!(unavailable(&admin_error(RDKafkaErrorCode::OperationTimedOut)).is_none());
    }

    #[test]
    fn acls_are_shown_without_changing_the_principal() {
        let acl = AclBinding {
            resource_type: ferry_engine::acl::ResourceType::Topic,
            name: "src.orders".into(),
            pattern_type: ferry_engine::acl::PatternType::Literal,
            principal: "User:alice".into(),
            host: "*".into(),
            operation: ferry_engine::acl::AclOperation::Read,
            permission: ferry_engine::acl::AclPermission::Allow,
        };
        assert_eq!(show(&acl), "ALLOW READ for User:alice from *");
    }
}
