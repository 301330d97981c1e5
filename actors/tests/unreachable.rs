//! Clusters that do not answer: ferry retries with a clear log line, never crashes, and starts copying
//! once the cluster answers.

#![cfg(feature = "kafka-integration-tests")]

mod common;

use std::io;
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use common::*;

/// Forwards every connection accepted on `listener` to `target`, both ways, until the process ends.
fn forward(listener: TcpListener, target: String) {
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let Ok(server) = TcpStream::connect(&target) else { continue };
            let (mut client_read, mut server_write) =
                (client.try_clone().expect("clone"), server.try_clone().expect("clone"));
            let (mut server_read, mut client_write) = (server, client);
            std::thread::spawn(move || io::copy(&mut client_read, &mut server_write));
            std::thread::spawn(move || io::copy(&mut server_read, &mut client_write));
        }
    });
}

#[test]
fn a_target_unreachable_at_start_is_retried_until_it_answers() {
    let rig = Rig::get();
    let (src, dst) = (rig.source(), rig.target());
    let p = prefix();
    let topic = format!("{p}late");
    src.create_topic(&topic, 2, &[]);
    let ts = now_ms() - 1000;
    let records: Vec<Vec<Rec>> = (0..2)
        .map(|partition| {
            let batch: Vec<Rec> = (0..10).map(|i| numbered(partition, i, ts + i)).collect();
            src.produce(&topic, partition, &batch)
        })
        .collect();

    // Reserve a loopback port and close it: nothing answers there until the forwarder starts.
    let port = TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut mm2 = rig.mm2(&format!("{p}.*"));
    mm2.set("dst.bootstrap.servers", &format!("127.0.0.1:{port}"));
    let mut ferry = Ferry::start(&mm2.write(dir.path()), dir.path(), "unreachable-target");
    ferry.wait_for_log("clusters not ready; retrying", Duration::from_secs(60));
    ferry.assert_running();

    // The cluster "comes back": its bootstrap address answers (forwarded to the real broker).
    forward(TcpListener::bind(("127.0.0.1", port)).expect("re-bind the reserved port"), rig.dst.clone());
    let remote = format!("src.{topic}");
    wait_until(Duration::from_secs(90), "records copied after the target came back", || {
        dst.partitions(&remote) == Some(2) && (0..2).map(|p| dst.high_watermark(&remote, p)).sum::<i64>() == 20
    });
    let copied = dst.read_topic(&remote);
    for partition in 0..2 {
        assert_same_records(&format!("partition {partition}"), &records[partition as usize], &copied[&partition]);
    }
    ferry.stop(Duration::from_secs(10));
}

#[test]
fn a_source_unreachable_is_logged_and_ferry_stays_up_and_stops_cleanly() {
    let rig = Rig::get();
    let port = TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut mm2 = rig.mm2(&format!("{}.*", prefix()));
    mm2.set("src.bootstrap.servers", &format!("127.0.0.1:{port}"));
    let mut ferry = Ferry::start(&mm2.write(dir.path()), dir.path(), "unreachable-source");
    ferry.wait_for_log("clusters not ready; retrying", Duration::from_secs(60));
    ferry.assert_running();
    let took = ferry.stop(Duration::from_secs(10));
    assert!(took < Duration::from_secs(10), "SIGTERM took {took:?}");
}
