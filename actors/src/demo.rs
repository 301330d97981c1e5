//! `ferry demo`: a self-contained replication between two librdkafka mock clusters inside the process.
//!
//! It creates a sample topic (3 partitions) and the offset-syncs topic on the "src" mock and the remote
//! topic and progress topic on the "dst" mock through the mock's own API (the mock answers no CreateTopics/DescribeConfigs),
//! produces records with keys, null values, duplicate and binary headers and timestamps, runs the normal
//! `ferry run` code path (supervisor, discovery, fetchers, queues, producer workers, progress) until the
//! records arrive, shuts down as on SIGTERM, and verifies every partition record by record.

use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::{Offset, TopicPartitionList};

use crate::error::FerryError;
use crate::runtime::shutdown_all;
use crate::supervisor::start_flow;

const TOPIC: &str = "orders";
const REMOTE: &str = "src.orders";
const PARTITIONS: i32 = 3;
const RECORDS: usize = 600;

/// One record as produced and as read back: partition, key, value, headers, timestamp.
type Sample = (i32, Option<Vec<u8>>, Option<Vec<u8>>, Vec<(String, Option<Vec<u8>>)>, i64);

fn sample(i: usize) -> Sample {
    let key = (!i.is_multiple_of(7)).then(|| format!("customer-{}", i % 13).into_bytes());
    let value = (!i.is_multiple_of(10)).then(|| format!("{{\"order\":{i},\"amount\":{}}}", i * 3).into_bytes());
    let mut headers = vec![("trace".to_string(), Some(vec![0u8, 1, 2, (i % 256) as u8]))];
    if i.is_multiple_of(5) {
        headers.push(("trace".to_string(), None));
    }
    (i as i32 % PARTITIONS, key, value, headers, 1_700_000_000_000 + i as i64)
}

/// Runs the demo and prints what it copied.
///
/// # Errors
/// [`FerryError::Demo`] when the copy differs from the source; other errors from the runtime.
pub fn run() -> Result<(), FerryError> {
    let mock = |what| move |e| FerryError::kafka(what, "starting a mock cluster", e);
    let src = MockCluster::new(1).map_err(mock("src"))?;
    let dst = MockCluster::new(1).map_err(mock("dst"))?;
    src.create_topic(TOPIC, PARTITIONS, 1).map_err(mock("src"))?;
    src.create_topic("mm2-offset-syncs.dst.internal", 1, 1).map_err(mock("src"))?;
    src.create_topic("ferry-offset-index.dst.internal", 1, 1).map_err(mock("src"))?;
    dst.create_topic(REMOTE, PARTITIONS, 1).map_err(mock("dst"))?;
    dst.create_topic("mm2-offsets.src.internal", 25, 1).map_err(mock("dst"))?;
    let (src_servers, dst_servers) = (src.bootstrap_servers(), dst.bootstrap_servers());
    println!("mock clusters: src at {src_servers}, dst at {dst_servers}");
    let expected: Vec<Sample> = (0..RECORDS).map(sample).collect();
    produce(&src_servers, &expected)?;
    println!("produced {RECORDS} records to `{TOPIC}` ({PARTITIONS} partitions) on src");

    let properties = format!(
        "clusters = src, dst\nsrc.bootstrap.servers = {src_servers}\ndst.bootstrap.servers = {dst_servers}\n\
         src->dst.enabled = true\nsrc->dst.topics = {TOPIC}\nreplication.factor = 1\n\
         offset.storage.replication.factor = 1\nrefresh.topics.interval.seconds = 1\noffset.flush.interval.ms = 500\n"
    );
    let config = ferry_engine::parse_str(&properties)?;
    let system = actix::System::new();
    let servers = dst_servers.clone();
    let result = system.block_on(async move {
        let mut supervisors = Vec::new();
        for flow in config.flows {
            let status = crate::status::FlowStatus::new(&flow.source, &flow.target);
            supervisors.push(start_flow(flow, status).await?);
        }
        let arrived = tokio::task::spawn_blocking(move || wait_for(&servers, RECORDS, Duration::from_secs(60)))
            .await
            .map_err(|e| FerryError::Demo(e.to_string()))??;
        println!("ferry copied {arrived} records to `{REMOTE}` on dst; stopping as on SIGTERM");
        shutdown_all(&supervisors, Instant::now() + Duration::from_secs(8)).await
    });
    crate::runtime::leave_without_teardown(system);
    result?;
    let copied = read_all(&dst_servers)?;
    verify(&expected, &copied)?;
    println!(
        "verified: every partition holds the same keys, values (nulls included), headers and timestamps, in order"
    );
    Ok(())
}

fn client(servers: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", servers);
    config
}

fn produce(servers: &str, records: &[Sample]) -> Result<(), FerryError> {
    let producer: ThreadedProducer<DefaultProducerContext> =
        client(servers).create().map_err(|e| FerryError::kafka("src", "creating the demo producer", e))?;
    for (partition, key, value, headers, timestamp) in records {
        let mut owned = OwnedHeaders::new();
        for (name, value) in headers {
            owned = owned.insert(Header { key: name, value: value.as_deref() });
        }
        let mut record = BaseRecord::<[u8], [u8]>::to(TOPIC).partition(*partition).timestamp(*timestamp).headers(owned);
        if let Some(key) = key {
            record = record.key(key);
        }
        if let Some(value) = value {
            record = record.payload(value);
        }
        producer.send(record).map_err(|(e, _)| FerryError::kafka("src", "producing demo records", e))?;
    }
    producer.flush(Duration::from_secs(10)).map_err(|e| FerryError::kafka("src", "flushing demo records", e))
}

fn wait_for(servers: &str, records: usize, timeout: Duration) -> Result<usize, FerryError> {
    let consumer: BaseConsumer =
        client(servers).create().map_err(|e| FerryError::kafka("dst", "creating the demo reader", e))?;
    let deadline = Instant::now() + timeout;
    loop {
        let mut total = 0;
        for partition in 0..PARTITIONS {
            if let Ok((low, high)) = consumer.fetch_watermarks(REMOTE, partition, Duration::from_secs(5)) {
                total += (high - low) as usize;
            }
        }
        if total >= records {
            return Ok(total);
        }
        if Instant::now() > deadline {
            return Err(FerryError::Demo(format!("only {total} of {records} records arrived within {timeout:?}")));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn read_all(servers: &str) -> Result<Vec<Sample>, FerryError> {
    let mut config = client(servers);
    crate::kafka::clients::ensure_group_id(&mut config, "ferry-demo-reader");
    let consumer: BaseConsumer =
        config.create().map_err(|e| FerryError::kafka("dst", "creating the demo reader", e))?;
    let mut list = TopicPartitionList::new();
    for partition in 0..PARTITIONS {
        list.add_partition_offset(REMOTE, partition, Offset::Beginning)
            .map_err(|e| FerryError::kafka("dst", "assigning", e))?;
    }
    consumer.assign(&list).map_err(|e| FerryError::kafka("dst", "assigning", e))?;
    let mut copied = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while copied.len() < RECORDS && Instant::now() < deadline {
        let Some(result) = consumer.poll(Duration::from_millis(200)) else { continue };
        let message = result.map_err(|e| FerryError::kafka("dst", "reading the copy", e))?;
        let headers = message
            .headers()
            .map(|h| h.iter().map(|h| (h.key.to_string(), h.value.map(<[u8]>::to_vec))).collect())
            .unwrap_or_default();
        copied.push((
            message.partition(),
            message.key().map(<[u8]>::to_vec),
            message.payload().map(<[u8]>::to_vec),
            headers,
            message.timestamp().to_millis().unwrap_or(-1),
        ));
    }
    Ok(copied)
}

fn verify(expected: &[Sample], copied: &[Sample]) -> Result<(), FerryError> {
    for partition in 0..PARTITIONS {
        let want: Vec<&Sample> = expected.iter().filter(|s| s.0 == partition).collect();
        let got: Vec<&Sample> = copied.iter().filter(|s| s.0 == partition).collect();
        if want != got {
            let first_difference = want.iter().zip(&got).position(|(a, b)| a != b);
            return Err(FerryError::Demo(format!(
                "partition {partition}: expected {} records, found {} (first difference at index {first_difference:?})",
                want.len(),
                got.len()
            )));
        }
        println!("  partition {partition}: {} records identical", got.len());
    }
    Ok(())
}
