//! The load test's short scenario against the rig's real brokers: ferry under steady load is killed with
//! SIGKILL three times (restarted at once), the source broker is killed and restarted (a 5 s outage), then
//! the target broker; ferry must lose nothing and keep every partition in order. A second, shorter run
//! stops only the target broker and checks that ferry logs the lost and the regained connection.
//!
//! The broker outages disturb every other client of the rig for about 20 s each: run this test on its own,
//! never in parallel with other integration tests. The restarted brokers keep their ports and data
//! directories, and the rig's pid files and `.rig/env` are updated, so the rig stays usable (and
//! `scripts/kafka-rig.sh stop` stops them). With `FERRY_BROKER=tansu` the outages are skipped (Tansu keeps
//! its data in memory).
//!
//! Needs `scripts/kafka-rig.sh start` (or `.rig/env` from it) and a built ferry binary
//! (`cargo build --release -p ferry`, found next to the test's `target/<profile>` directory or via
//! `FERRY_BIN`). Run with:
//!
//! ```text
//! cargo build --release -p ferry
//! cargo test -p ferry-loadtest --features kafka-integration-tests --release --test short_scenario
//! ```

#![cfg(feature = "kafka-integration-tests")]

use std::time::Duration;

use ferry_loadtest::{run, Options};

/// The scenarios restart the rig's brokers: never two at once.
static BROKERS: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn kill_cycles_and_broker_outages_under_load_lose_nothing() {
    let _brokers = BROKERS.lock().unwrap_or_else(|e| e.into_inner());
    let kafka = std::env::var("FERRY_BROKER_KIND").map_or(true, |k| k.eq_ignore_ascii_case("kafka"));
    let outage = kafka.then_some(Duration::from_secs(5));
    let opts = Options {
        duration: Duration::from_secs(40),
        rate: 1000.0,
        partitions: 4,
        record_bytes: 200,
        kill_every: Some(Duration::from_secs(10)),
        max_kills: Some(3),
        source_outage: outage,
        target_outage: outage,
        catch_up_timeout: Duration::from_secs(120),
        ..Options::default()
    };
    let report = run(&opts).expect("the load test could not run");
    eprintln!("{}", report.summary());
    assert_eq!(report.lost, 0, "records lost: {:?}", report.lost_examples);
    assert_eq!(report.out_of_order, 0, "records out of order: {:?}", report.out_of_order_examples);
    assert_eq!(report.misplaced, 0, "records in the wrong partition");
    assert!(report.caught_up, "ferry did not catch up within {:?}", opts.catch_up_timeout);
    assert_eq!(report.faults.iter().filter(|f| f.kind == "kill -9 ferry").count(), 3, "{:?}", report.faults);
    if kafka {
        assert!(report.faults.iter().any(|f| f.kind == "source outage"), "{:?}", report.faults);
        assert!(report.faults.iter().any(|f| f.kind == "target outage"), "{:?}", report.faults);
    }
    assert!(report.faults.iter().all(|f| f.error.is_none()), "{:?}", report.faults);
    assert!(report.source.records >= 30_000, "too little load: {} records", report.source.records);
    assert!(report.passed, "{}", report.summary());
}

/// A target outage while ferry runs (no kills): ferry logs that its target producer lost every broker and,
/// once the broker is back, that the connection was regained; nothing is lost.
#[test]
fn a_target_outage_is_logged_when_lost_and_when_regained() {
    let _brokers = BROKERS.lock().unwrap_or_else(|e| e.into_inner());
    if !std::env::var("FERRY_BROKER_KIND").map_or(true, |k| k.eq_ignore_ascii_case("kafka")) {
        eprintln!("SKIPPED: broker outages need Kafka (Tansu keeps its data in memory)");
        return;
    }
    let opts = Options {
        duration: Duration::from_secs(20),
        rate: 500.0,
        partitions: 2,
        record_bytes: 100,
        target_outage: Some(Duration::from_secs(3)),
        catch_up_timeout: Duration::from_secs(120),
        ..Options::default()
    };
    let report = run(&opts).expect("the load test could not run");
    eprintln!("{}", report.summary());
    assert_eq!(report.lost, 0, "records lost: {:?}", report.lost_examples);
    assert!(report.faults.iter().any(|f| f.kind == "target outage" && f.error.is_none()), "{:?}", report.faults);
    let (lost, regained) = report.ferry_connection_lines;
    assert!(lost >= 1 && regained >= 1, "ferry logged {lost} lost / {regained} regained connection lines");
    assert!(report.passed, "{}", report.summary());
}

/// Exactly-once mode: ferry is killed with SIGKILL under load three times, and once more while the target
/// broker is frozen (SIGSTOP) with produce requests of ferry's in flight that the broker processes only
/// after the kill. A read_committed reader of the target must see every record exactly once.
#[test]
fn exactly_once_mode_repeats_nothing_across_kills_and_a_frozen_target() {
    let _brokers = BROKERS.lock().unwrap_or_else(|e| e.into_inner());
    if !std::env::var("FERRY_BROKER_KIND").map_or(true, |k| k.eq_ignore_ascii_case("kafka")) {
        eprintln!("SKIPPED: transactions are proven on Kafka");
        return;
    }
    let opts = Options {
        duration: Duration::from_secs(30),
        rate: 1000.0,
        partitions: 4,
        record_bytes: 200,
        kill_every: Some(Duration::from_secs(6)),
        max_kills: Some(3),
        pause_target: Some(Duration::from_secs(4)),
        kill_while_target_paused: true,
        exactly_once: true,
        catch_up_timeout: Duration::from_secs(120),
        ..Options::default()
    };
    let report = run(&opts).expect("the load test could not run");
    eprintln!("{}", report.summary());
    assert_eq!(report.lost, 0, "records lost: {:?}", report.lost_examples);
    assert_eq!(report.duplicates, 0, "records copied twice in exactly-once mode");
    assert_eq!(report.out_of_order, 0, "records out of order: {:?}", report.out_of_order_examples);
    let kills = |kind: &str| report.faults.iter().filter(|f| f.kind == kind && f.error.is_none()).count();
    assert_eq!(kills("kill -9 ferry"), 3, "{:?}", report.faults);
    assert_eq!(kills("kill -9 ferry while the target is paused"), 1, "{:?}", report.faults);
    assert!(report.passed, "{}", report.summary());
}
