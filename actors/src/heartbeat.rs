//! Heartbeats: MM2's `heartbeats` topic, written to each target cluster every
//! `emit.heartbeats.interval.seconds` (1 s by default), in MM2's format.
//!
//! Like MM2 (KAFKA-10710) ferry runs an emitter for every ordered cluster pair with heartbeats on, so a
//! one-way `A->B` setup also writes heartbeats *into A* (source B, target A); `A->B` then copies A's
//! `heartbeats` to B as `A.heartbeats`, which is how MM2's tools (`upstreamClusters`,
//! `replicationHops`) see the replication path. Turn a pair off with `B->A.emit.heartbeats.enabled =
//! false` (a read-only source).
//!
//! # Layout
//! [`HeartbeatEmitter`]: one actor per pair; it creates the topic (1 partition, compacted) at start and
//! retries on failure, then writes one record per tick. Failures are logged and never stop ferry.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix::prelude::*;
use ferry_engine::config::HeartbeatFlow;
use ferry_engine::wire::Heartbeat;
use rdkafka::producer::{FutureProducer, FutureRecord};

use crate::error::FerryError;
use crate::kafka::admin::Admin;
use crate::kafka::clients::{self, LoggingContext};

/// Write one heartbeat now.
#[derive(Message)]
#[rtype(result = "()")]
struct Beat;

/// Emits heartbeats for one cluster pair.
pub struct HeartbeatEmitter {
    /// The pair and its settings.
    flow: HeartbeatFlow,
    /// Admin client of the target (creates the topic).
    admin: Admin,
    /// Producer writing to the target.
    producer: FutureProducer<LoggingContext>,
    /// Whether the topic is known to exist.
    topic_ready: bool,
    /// Whether a beat is under way (beats never pile up behind a slow cluster).
    busy: bool,
}

impl HeartbeatEmitter {
    /// An emitter for `flow`.
    ///
    /// # Errors
    /// [`FerryError::Kafka`] when the clients cannot be built from the properties.
    pub fn new(flow: HeartbeatFlow) -> Result<Self, FerryError> {
        let admin = Admin::new(&flow.target, &flow.target_admin, Duration::from_secs(10))?;
        let producer =
            clients::create(&flow.target, "heartbeat producer", &clients::client_config(&flow.target_producer))?;
        Ok(Self { flow, admin, producer, topic_ready: false, busy: false })
    }
}

impl Actor for HeartbeatEmitter {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        tracing::info!(pair = %self.flow.name, topic = %self.flow.settings.topic, interval = ?self.flow.settings.interval, "heartbeats started");
        ctx.notify(Beat);
        ctx.run_interval(self.flow.settings.interval, |_, ctx| ctx.notify(Beat));
    }
}

impl Handler<Beat> for HeartbeatEmitter {
    type Result = ResponseActFuture<Self, ()>;

    /// Creates the topic if needed, then writes one heartbeat.
    fn handle(&mut self, _: Beat, _: &mut Self::Context) -> Self::Result {
        if self.busy {
            return Box::pin(async {}.into_actor(self));
        }
        self.busy = true;
        let admin = self.admin.clone();
        let producer = self.producer.clone();
        let flow = self.flow.clone();
        let topic_ready = self.topic_ready;
        Box::pin(
            async move {
                if !topic_ready {
                    let settings = &flow.settings;
                    admin
                        .ensure_compacted_topic(&settings.topic, 1, settings.replication_factor, "heartbeats.topic.replication.factor")
                        .await?;
                }
                beat(&flow, &producer).await?;
                Ok::<(), FerryError>(())
            }
            .into_actor(self)
            .map(|result, act, _| {
                act.busy = false;
                match result {
                    Ok(()) => act.topic_ready = true,
                    Err(error) => tracing::warn!(pair = %act.flow.name, %error, "heartbeat not written; retrying at the next tick"),
                }
            }),
        )
    }
}

async fn beat(flow: &HeartbeatFlow, producer: &FutureProducer<LoggingContext>) -> Result<(), FerryError> {
    let timestamp_ms =
        SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    let heartbeat = Heartbeat { source_alias: flow.source.clone(), target_alias: flow.target.clone(), timestamp_ms };
    let key = heartbeat.encode_key().map_err(|e| FerryError::Topic {
        alias: flow.target.clone(),
        message: format!("heartbeat key for `{}` not encodable: {e}", flow.name),
    })?;
    let value = heartbeat.encode_value();
    let record = FutureRecord::to(&flow.settings.topic).partition(0).key(&key).payload(&value).timestamp(timestamp_ms);
    producer
        .send(record, Duration::from_secs(5))
        .await
        .map(|_| ())
        .map_err(|(error, _)| FerryError::kafka(&flow.target, format!("writing to `{}`", flow.settings.topic), error))
}

/// Starts an emitter for every pair of `flows`; a pair whose clients cannot be built is reported and
/// skipped.
pub fn start_all(flows: Vec<HeartbeatFlow>) -> Vec<Addr<HeartbeatEmitter>> {
    flows
        .into_iter()
        .filter_map(|flow| {
            let name = flow.name.clone();
            match HeartbeatEmitter::new(flow) {
                Ok(emitter) => Some(emitter.start()),
                Err(error) => {
                    tracing::error!(pair = %name, %error, "heartbeats not started");
                    None
                }
            }
        })
        .collect()
}
