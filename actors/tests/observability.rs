//! The metrics and status endpoint against real brokers: `/healthz` answers at once, `/readyz` turns from
//! 503 to 200, `/metrics` counts exactly the records and bytes copied (scraped during and after the
//! copy), lag reaches 0, `/status` matches the OpenAPI document in docs/ and never shows a secret from
//! the configuration.

#![cfg(feature = "kafka-integration-tests")]

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

/// Secrets placed in the configuration; none may appear in a response. They are harmless on the rig's
/// PLAINTEXT listeners: SASL credentials (from the JAAS line) and SSL passwords are not used there.
const SECRETS: &[&str] = &["jaas-secret-4f9d2c", "key-password-8e1a7b", "truststore-secret-3c5e"];

/// Samples of one metric family from Prometheus text: (labels, value).
fn samples(text: &str, name: &str) -> Vec<(BTreeMap<String, String>, f64)> {
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((series, value)) = line.rsplit_once(' ') else { continue };
        let (metric, labels) = match series.split_once('{') {
            Some((metric, rest)) => (metric, rest.trim_end_matches('}')),
            None => (series, ""),
        };
        if metric != name {
            continue;
        }
        let labels = labels
            .split("\",")
            .filter(|kv| !kv.is_empty())
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_string(), v.trim_matches('"').to_string()))
            .collect();
        out.push((labels, value.parse().expect("numeric sample")));
    }
    out
}

/// Sum of a family's samples whose `topic` label is `topic`.
fn sum_for(text: &str, name: &str, topic: &str) -> f64 {
    samples(text, name).iter().filter(|(l, _)| l.get("topic").map(String::as_str) == Some(topic)).map(|(_, v)| v).sum()
}

/// Validates `body` against the OpenAPI document's schema for `GET path` answering `code`.
fn assert_matches_openapi(api: &Value, path: &str, code: u16, body: &str) {
    let errors = openapi_errors(api, path, code, body);
    assert!(errors.is_empty(), "GET {path} {code} does not match the OpenAPI document:\n{}\n{body}", errors.join("\n"));
}

fn assert_no_secret(what: &str, body: &str) {
    for secret in SECRETS {
        assert!(!body.contains(secret), "{what} shows the configured secret `{secret}`:\n{body}");
    }
}

#[test]
fn metrics_and_status_follow_a_replication() {
    let rig = Rig::get();
    if rig.is_tansu() {
        eprintln!("skipped: Tansu reports end offsets wrongly, so lag cannot be checked");
        return;
    }
    let (src, dst) = (rig.source(), rig.target());
    let p = prefix();
    let topic = format!("{p}observed");
    src.create_topic(&topic, 3, &[]);
    let base_ts = now_ms() - 60_000;
    // Phase 1: a backlog, copied as soon as ferry starts.
    let mut produced: BTreeMap<i32, Vec<Rec>> = BTreeMap::new();
    for partition in 0..3 {
        let records: Vec<Rec> = (0..200).map(|i| numbered(partition, i, base_ts + i)).collect();
        produced.insert(partition, src.produce(&topic, partition, &records));
    }

    let port = free_port();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut mm2 = rig.mm2(&topic);
    mm2.set("ferry.metrics.address", &format!("127.0.0.1:{port}"))
        .set(
            "src.sasl.jaas.config",
            &format!(
                "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"ferry\" password=\"{}\";",
                SECRETS[0]
            ),
        )
        .set("dst.ssl.key.password", SECRETS[1])
        .set("src.ssl.truststore.password", SECRETS[2]);
    let mut ferry = Ferry::start(&mm2.write(dir.path()), dir.path(), "observed");
    let http = http_agent();
    let api = openapi();

    // Liveness comes first; readiness only once the flow is set up, discovered and polled. The endpoint
    // listens before the flows start; the first `/readyz` answer is caught at once (the flow is ready a
    // few hundred milliseconds later), not after `wait_until`'s 200 ms pause.
    let mut readyz = Vec::new();
    let deadline = Instant::now() + WAIT;
    while readyz.is_empty() {
        ferry.assert_running();
        assert!(Instant::now() < deadline, "/readyz never answered\n{}", ferry.stderr_tail(30));
        match http_get(&http, port, "/readyz") {
            Some((code, body)) => {
                assert_matches_openapi(&api, "/readyz", code, &body);
                readyz.push(code);
            }
            None => std::thread::sleep(Duration::from_millis(5)),
        }
    }
    let (code, body) = http_get(&http, port, "/healthz").expect("healthz");
    assert_eq!(code, 200, "{body}");
    assert_matches_openapi(&api, "/healthz", 200, &body);
    wait_until(WAIT, "/readyz answers 200", || {
        ferry.assert_running();
        let (code, body) = http_get(&http, port, "/readyz").expect("readyz");
        assert_matches_openapi(&api, "/readyz", code, &body);
        readyz.push(code);
        code == 200
    });
    assert_eq!(readyz.first(), Some(&503), "ready before the flow was set up: {readyz:?}\n{}", ferry.stderr_tail(30));

    // Phase 2: more records while scraping; counters never go down nor past what was produced.
    let stop = Arc::new(AtomicBool::new(false));
    let producer = {
        let (src, topic, stop) = (src.clone(), topic.clone(), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut added: BTreeMap<i32, Vec<Rec>> = BTreeMap::new();
            for round in 0..20 {
                for partition in 0..3 {
                    let seq = 200 + round * 25;
                    let records: Vec<Rec> = (seq..seq + 25).map(|i| numbered(partition, i, now_ms())).collect();
                    added.entry(partition).or_default().extend(src.produce(&topic, partition, &records));
                }
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            added
        })
    };
    let mut last = 0.0;
    let mut scrapes = 0;
    while !producer.is_finished() {
        let (code, text) = http_get(&http, port, "/metrics").expect("metrics");
        assert_eq!(code, 200);
        let copied = sum_for(&text, "ferry_copied_records_total", &topic);
        assert!(copied >= last, "ferry_copied_records_total went down: {last} -> {copied}");
        assert!(copied <= 3.0 * 200.0 + 3.0 * 500.0, "more copied than produced: {copied}");
        last = copied;
        scrapes += 1;
        std::thread::sleep(Duration::from_millis(150));
    }
    stop.store(true, Ordering::Relaxed);
    for (partition, records) in producer.join().expect("producer thread") {
        produced.entry(partition).or_default().extend(records);
    }
    assert!(scrapes > 0);

    // After: exact counts and bytes, lag 0 in metrics and in /status.
    let records: usize = produced.values().map(Vec::len).sum();
    let size = |r: &Rec| r.key.as_ref().map_or(0, Vec::len) + r.value.as_ref().map_or(0, Vec::len);
    let bytes: usize = produced.values().flatten().map(size).sum();
    let value_bytes: usize = produced.values().flatten().map(|r| r.value.as_ref().map_or(0, Vec::len)).sum();
    let mut text = String::new();
    let waited = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        wait_until(WAIT, "every record is counted and lag is 0", || {
            // /status first: once it shows the source's final end offsets, the gauges scraped next come
            // from a poll that saw them too.
            let status: Value =
                serde_json::from_str(&http_get(&http, port, "/status").expect("status").1).expect("json");
            let ends_known = status["flows"][0]["topics"]
                .as_array()
                .and_then(|topics| topics.iter().find(|t| t["topic"] == topic.as_str()))
                .and_then(|t| t["partitions"].as_array().cloned())
                .is_some_and(|ps| {
                    ps.len() == 3
                        && ps.iter().all(|p| {
                            let n = p["partition"].as_i64().unwrap_or(-1) as i32;
                            p["end_offset"] == src.high_watermark(&topic, n)
                        })
                });
            text = http_get(&http, port, "/metrics").expect("metrics").1;
            let lags = samples(&text, "ferry_partition_lag_records");
            ends_known
                && sum_for(&text, "ferry_copied_records_total", &topic) == records as f64
                && lags.iter().filter(|(l, _)| l.get("topic") == Some(&topic)).count() == 3
                && lags.iter().all(|(_, v)| *v == 0.0)
        })
    }));
    assert!(waited.is_ok(), "metrics never showed {records} records and lag 0:\n{text}\n{}", ferry.stderr_tail(30));
    assert_eq!(sum_for(&text, "ferry_copied_bytes_total", &topic), bytes as f64, "key + value bytes");
    assert_eq!(sum_for(&text, "ferry_copied_value_bytes_total", &topic), value_bytes as f64, "value bytes");
    for partition in 0..3 {
        let copied = samples(&text, "ferry_copied_records_total")
            .into_iter()
            .find(|(l, _)| l.get("topic") == Some(&topic) && l.get("partition") == Some(&partition.to_string()))
            .map(|(_, v)| v);
        assert_eq!(copied, Some(produced[&partition].len() as f64), "partition {partition}");
    }
    let flow_labels = |name: &str| -> Vec<f64> {
        samples(&text, name)
            .into_iter()
            .filter(|(l, _)| l.get("flow").map(String::as_str) == Some("src->dst"))
            .map(|(_, v)| v)
            .collect()
    };
    assert_eq!(flow_labels("ferry_flow_lag_records"), [0.0]);
    assert_eq!(flow_labels("ferry_flow_ready"), [1.0]);
    assert_eq!(flow_labels("ferry_paused_partitions"), [0.0]);
    assert_eq!(flow_labels("ferry_batch_buffer_bytes"), [0.0], "every batch sent: no buffer counted");
    assert!(flow_labels("ferry_partitions").first().is_some_and(|n| *n >= 3.0));
    assert!(flow_labels("ferry_offset_syncs_total").first().is_some_and(|n| *n > 0.0), "{text}");
    assert!(flow_labels("ferry_last_progress_commit_timestamp_seconds").first().is_some_and(|t| *t > 1.0e9));
    assert!(sum_for(&text, "ferry_replication_latency_seconds_count", &topic) > 0.0, "{text}");
    assert!(sum_for(&text, "ferry_record_age_seconds_count", &topic) > 0.0);
    assert!(text.contains("# TYPE ferry_replication_latency_seconds histogram"));
    assert_eq!(sum_for(&text, "ferry_producer_errors_total", &topic), 0.0);
    assert!(!samples(&text, "process_resident_memory_bytes").is_empty(), "process metrics");
    assert!(!samples(&text, "process_cpu_seconds_total").is_empty(), "process metrics");
    assert_no_secret("/metrics", &text);

    let (code, body) = http_get(&http, port, "/status").expect("status");
    assert_eq!(code, 200);
    assert_matches_openapi(&api, "/status", 200, &body);
    assert_no_secret("/status", &body);
    let status: Value = serde_json::from_str(&body).expect("json");
    let flow = &status["flows"][0];
    assert_eq!(
        (flow["name"].as_str(), flow["state"].as_str(), flow["ready"].as_bool()),
        (Some("src->dst"), Some("running"), Some(true)),
        "{body}"
    );
    assert_eq!(flow["lag_records"], 0, "{body}");
    let partitions =
        flow["topics"].as_array().expect("topics").iter().find(|t| t["topic"] == topic.as_str()).expect("the topic")
            ["partitions"]
            .clone();
    for partition in partitions.as_array().expect("partitions") {
        let n = partition["partition"].as_i64().expect("number") as i32;
        let end = src.high_watermark(&topic, n);
        assert_eq!(partition["end_offset"], end, "{partition}");
        assert_eq!(partition["next_offset"], end, "{partition}");
        assert_eq!(partition["lag_records"], 0, "{partition}");
        assert_eq!(partition["copied_records"], produced[&n].len(), "{partition}");
        assert_eq!(partition["state"], "copying");
    }
    let (code, body) = http_get(&http, port, "/readyz").expect("readyz");
    assert_eq!(code, 200, "{body}");
    for (partition, records) in &produced {
        assert_eq!(dst.high_watermark(&format!("src.{topic}"), *partition), records.len() as i64);
    }
    ferry.stop(Duration::from_secs(15));
}
