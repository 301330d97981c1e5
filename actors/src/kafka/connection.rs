//! Why a secured cluster cannot be reached: wrong credentials, an untrusted or mismatching certificate.
//!
//! librdkafka reports such failures as error events on a client's main queue, which only polled
//! clients deliver; admin calls just time out ("broker transport failure"). So at start, for every
//! cluster with TLS or SASL, [`watch`] connects with a small polled client until it gets an answer,
//! and reports librdkafka's reason (e.g. "SASL authentication error: Authentication failed during
//! authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512") as a `connection`
//! problem of every flow using the cluster: an error line naming the alias, at most once a minute,
//! and an entry under `errors` in `/status`, until the cluster answers. librdkafka's messages never
//! contain passwords.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferry_engine::client_props::ClientProps;
use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::KafkaError;

use super::clients;
use crate::status::problems::{ProblemKey, ProblemStage};
use crate::status::FlowStatus;

/// How long one connection attempt may take.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// Pause between two attempts.
const RETRY: Duration = Duration::from_secs(10);

/// Keeps the errors librdkafka reported, instead of logging them.
#[derive(Default)]
struct Captured {
    reasons: Mutex<Vec<String>>,
}

impl ClientContext for Captured {
    fn log(&self, level: RDKafkaLogLevel, _fac: &str, message: &str) {
        if matches!(
            level,
            RDKafkaLogLevel::Emerg | RDKafkaLogLevel::Alert | RDKafkaLogLevel::Critical | RDKafkaLogLevel::Error
        ) {
            self.keep(message);
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        let text = if reason.is_empty() { error.to_string() } else { reason.to_string() };
        self.keep(&text);
    }
}

impl ConsumerContext for Captured {}

impl Captured {
    fn keep(&self, text: &str) {
        let mut reasons = self.reasons.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if reasons.len() < 16 {
            reasons.push(text.to_string());
        }
    }

    /// The most telling reason: the first that is not just "all brokers are down".
    fn reason(&self) -> Option<String> {
        let reasons = self.reasons.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        reasons.iter().find(|r| !r.contains("brokers are down")).or(reasons.last()).cloned()
    }
}

/// Connects to cluster `alias` with `props` and asks for its metadata (blocking, at most `timeout`).
///
/// # Errors
/// Why it failed, in librdkafka's words when it said why.
pub fn check(props: &ClientProps, timeout: Duration) -> Result<(), String> {
    let mut config = clients::client_config(props);
    clients::ensure_group_id(&mut config, "ferry-connection-check");
    config.set("client.id", format!("{}|connection-check", props.get("client.id").unwrap_or("ferry")));
    let consumer: BaseConsumer<Captured> =
        rdkafka::config::FromClientConfigAndContext::from_config_and_context(&config, Captured::default())
            .map_err(|e| e.to_string())?;
    let result = consumer.fetch_metadata(None, timeout);
    // Delivers the error events queued meanwhile to the context.
    for _ in 0..5 {
        let _ = consumer.poll(Duration::from_millis(20));
    }
    let reason = consumer.context().reason();
    match result {
        Ok(_) => Ok(()),
        Err(error) => Err(reason.unwrap_or_else(|| error.to_string())),
    }
}

/// Whether a client of these properties uses TLS or SASL.
pub fn is_secured(props: &ClientProps) -> bool {
    props.get("security.protocol").is_some_and(|p| !p.eq_ignore_ascii_case("plaintext"))
}

/// Checks cluster `alias` until it answers, reporting each failure as a `connection` problem of the
/// flows in `statuses`, and ending it once connected.
pub async fn watch(alias: String, props: ClientProps, statuses: Vec<Arc<FlowStatus>>) {
    let key = ProblemKey::cluster(ProblemStage::Connection, &alias);
    let hint = format!(
        "check `{alias}.bootstrap.servers`, `{alias}.security.protocol`, `{alias}.sasl.*` and `{alias}.ssl.*` \
         (docs/security.md)"
    );
    loop {
        let attempt = props.clone();
        let result = tokio::task::spawn_blocking(move || check(&attempt, ATTEMPT_TIMEOUT)).await;
        match result {
            Ok(Ok(())) => {
                for status in &statuses {
                    status.problems().clear(&key);
                }
                return;
            }
            Ok(Err(reason)) => {
                for status in &statuses {
                    status.problems().report(key.clone(), &format!("cannot connect: {reason}"), &hint);
                }
            }
            Err(join) => tracing::warn!(cluster = %alias, %join, "connection check failed"),
        }
        tokio::time::sleep(RETRY).await;
    }
}
