//! Sharing a flow's source partitions among ferry instances through a Kafka consumer group.
//!
//! Every instance started with the same file joins the group `ferry.group.id` on the source cluster,
//! subscribed to the flow's replicated topics, with the cooperative-sticky assignor: Kafka's own group
//! protocol decides which instance copies which partition, and a change (an instance starting, stopping
//! or dying, a topic or partition appearing) moves only the partitions that must move, without stopping
//! the others.
//!
//! The group member is a consumer of its own that never reads a record: partitions it is assigned are
//! paused at once and handed to the flow's supervisor, which copies them with the data path's consumer
//! (assigned by hand, unchanged). Revocations are handed over *synchronously*: the rebalance callback
//! waits until the supervisor has drained the partitions and stored their progress, so the next owner
//! resumes exactly where this one stopped. Only a lost assignment (this instance missed its session) is
//! dropped without storing, because another instance may already be copying it.
//!
//! # Layout
//! [`GroupMember::start`] spawns the member's thread; [`GroupMember::subscribe`] follows discovery's
//! topic list; [`GroupMember::stop`] leaves the group after the flow stored its final progress.
//! [`GroupChange`] is what the supervisor receives.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use actix::prelude::*;
use ferry_engine::FlowConfig;
use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::TopicPartitionList;

use crate::error::FerryError;
use crate::kafka::clients::{self, LoggingContext};
use crate::status::problems::{ProblemKey, ProblemStage, Problems};

/// A change of this instance's share of the flow.
#[derive(Message)]
#[rtype(result = "()")]
pub enum GroupChange {
    /// These partitions are now this instance's to copy.
    Assigned(Vec<(String, i32)>),
    /// Stop copying these partitions; `stored` is to be called once their progress is stored (or it
    /// could not be). `lost`: another instance may own them already, so store nothing.
    Revoked {
        /// The partitions.
        partitions: Vec<(String, i32)>,
        /// Whether the assignment was lost rather than handed over.
        lost: bool,
        /// Signalled when the partitions are stopped.
        stored: mpsc::Sender<()>,
    },
}

/// The member's rebalance callbacks, on the member's thread.
struct MemberContext {
    logging: LoggingContext,
    flow: String,
    supervisor: Recipient<GroupChange>,
    /// Set when the flow stops: revocations are then not handed over (the flow stored everything).
    closing: Arc<AtomicBool>,
    /// Longest wait for the supervisor to hand partitions over.
    handover_timeout: Duration,
    /// Where a group the member cannot join is reported (`/status`, rate-limited logs).
    problems: Arc<Problems>,
}

impl MemberContext {
    fn problem_key(&self) -> ProblemKey {
        ProblemKey::cluster(ProblemStage::Group, &self.logging.alias)
    }
}

impl ClientContext for MemberContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        self.logging.log(level, fac, log_message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        // Transient trouble (a broker restarting) is only logged; a refusal (no permission on the group,
        // a session timeout the brokers do not allow) stops this instance from copying: report it.
        if error.rdkafka_error_code().is_some_and(refuses_membership) {
            self.problems.report(
                self.problem_key(),
                &format!("{error}: {reason}"),
                "this instance copies nothing until it can join the group (check the group's ACLs and ferry.group.*)",
            );
        }
        self.logging.error(error, reason);
    }
}

impl ConsumerContext for MemberContext {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let Rebalance::Revoke(list) = rebalance else { return };
        let partitions = partitions_of(list);
        if partitions.is_empty() || self.closing.load(Ordering::Acquire) {
            return;
        }
        let lost = consumer.assignment_lost();
        tracing::info!(flow = %self.flow, partitions = partitions.len(), lost, "group: partitions revoked from this instance");
        let (stored, done) = mpsc::channel();
        self.supervisor.do_send(GroupChange::Revoked { partitions, lost, stored });
        // The next owner starts only after this callback returns: wait for the hand-over.
        if let Err(mpsc::RecvTimeoutError::Timeout) = done.recv_timeout(self.handover_timeout) {
            tracing::warn!(flow = %self.flow, "group: hand-over of revoked partitions timed out; the next owner may repeat records");
        }
    }

    fn post_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(list) => {
                self.problems.clear(&self.problem_key());
                // The member never reads records: the data path's consumer copies the partitions.
                if let Err(error) = consumer.pause(list) {
                    tracing::debug!(flow = %self.flow, %error, "group: pausing the member's partitions failed");
                }
                let partitions = partitions_of(list);
                if !partitions.is_empty() && !self.closing.load(Ordering::Acquire) {
                    tracing::info!(flow = %self.flow, partitions = partitions.len(), "group: partitions assigned to this instance");
                    self.supervisor.do_send(GroupChange::Assigned(partitions));
                }
            }
            Rebalance::Error(error) => tracing::warn!(flow = %self.flow, %error, "group: rebalance failed; retrying"),
            Rebalance::Revoke(_) => {}
        }
    }
}

/// Errors with which the group refuses this instance until someone changes the cluster or the file.
fn refuses_membership(code: RDKafkaErrorCode) -> bool {
    use RDKafkaErrorCode as C;
    matches!(
        code,
        C::GroupAuthorizationFailed
            | C::InvalidSessionTimeout
            | C::InvalidGroupId
            | C::GroupMaxSizeReached
            | C::InconsistentGroupProtocol
            | C::FencedInstanceId
    )
}

fn partitions_of(list: &TopicPartitionList) -> Vec<(String, i32)> {
    list.elements().iter().map(|e| (e.topic().to_string(), e.partition())).collect()
}

/// Commands to the member's thread.
enum Command {
    Subscribe(Vec<String>),
    Stop,
}

/// This instance's membership in the flow's group.
pub struct GroupMember {
    commands: mpsc::Sender<Command>,
    closing: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl GroupMember {
    /// Creates the member for `flow` (not subscribed yet) reporting to `supervisor`, and a group it cannot
    /// join to `problems`.
    ///
    /// # Errors
    /// [`FerryError::Kafka`] when the consumer cannot be created from the source's properties.
    pub fn start(
        flow: &FlowConfig,
        supervisor: Recipient<GroupChange>,
        problems: Arc<Problems>,
    ) -> Result<Self, FerryError> {
        let mut config = clients::client_config(&flow.source_consumer);
        let session_ms = flow.ferry.group_session_timeout.as_millis().max(1);
        config
            .set("group.id", &flow.ferry.group_id)
            .set("partition.assignment.strategy", "cooperative-sticky")
            .set("session.timeout.ms", session_ms.to_string())
            .set("heartbeat.interval.ms", (session_ms / 6).max(1).to_string())
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "latest")
            .set("queued.max.messages.kbytes", "64")
            // New partitions of subscribed topics reach the group within seconds, not librdkafka's 5 minutes.
            .set("topic.metadata.refresh.interval.ms", "10000");
        config.remove("group.instance.id");
        let closing = Arc::new(AtomicBool::new(false));
        let context = MemberContext {
            logging: LoggingContext::new(&flow.source, "group member"),
            flow: flow.name.clone(),
            supervisor,
            closing: Arc::clone(&closing),
            handover_timeout: flow.ferry.shutdown_timeout.max(Duration::from_secs(10)) * 3,
            problems,
        };
        let consumer: BaseConsumer<MemberContext> = config
            .create_with_context(context)
            .map_err(|e| FerryError::kafka(&flow.source, "creating the group member", e))?;
        let (commands, received) = mpsc::channel();
        let name = flow.name.clone();
        let thread = std::thread::Builder::new()
            .name("ferry-group".into())
            .spawn(move || run(&consumer, &received, &name))
            .map_err(|source| FerryError::Io { context: "starting the group member".into(), source })?;
        Ok(Self { commands, closing, thread: Some(thread) })
    }

    /// Follows the flow's replicated topics (an empty list leaves the group).
    pub fn subscribe(&self, topics: Vec<String>) {
        let _ = self.commands.send(Command::Subscribe(topics));
    }

    /// Leaves the group (after the flow stored its progress); revocations are not handed over any more.
    pub fn stop(mut self) {
        self.closing.store(true, Ordering::Release);
        let _ = self.commands.send(Command::Stop);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The member's thread: serves group events and applies subscriptions until told to stop.
fn run(consumer: &BaseConsumer<MemberContext>, commands: &mpsc::Receiver<Command>, flow: &str) {
    loop {
        match commands.try_recv() {
            Ok(Command::Subscribe(topics)) if topics.is_empty() => consumer.unsubscribe(),
            Ok(Command::Subscribe(topics)) => {
                let names: Vec<&str> = topics.iter().map(String::as_str).collect();
                if let Err(error) = consumer.subscribe(&names) {
                    tracing::warn!(flow, %error, "group: subscribing failed");
                }
                continue;
            }
            Ok(Command::Stop) | Err(mpsc::TryRecvError::Disconnected) => break,
            Err(mpsc::TryRecvError::Empty) => {}
        }
        // Paused partitions yield no records; anything fetched before the pause is ignored.
        if let Some(Err(error)) = consumer.poll(Duration::from_millis(100)) {
            tracing::debug!(flow, %error, "group member");
        }
    }
    consumer.unsubscribe();
}
