//! The command line without brokers: `ferry check --offline` prints the plan with secrets masked, and
//! `ferry demo` copies and verifies records between in-process mock clusters.

mod common;

use common::ferry_output;

#[test]
fn check_offline_prints_plan_and_masks_secrets() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("mm2.properties");
    std::fs::write(
        &file,
        "clusters = src, dst\n\
         src.bootstrap.servers = 127.0.0.1:1\n\
         dst.bootstrap.servers = 127.0.0.1:2\n\
         src->dst.enabled = true\n\
         src->dst.topics = orders.*\n\
         replication.factor = 1\n\
         offset.storage.replication.factor = 1\n\
         src.security.protocol = SASL_SSL\n\
         src.sasl.mechanism = PLAIN\n\
         src.sasl.jaas.config = org.apache.kafka.common.security.plain.PlainLoginModule required \
         username=\"alice\" password=\"hunter2-very-secret\";\n",
    )
    .expect("write");
    let (code, stdout, stderr) = ferry_output(&["check", "--offline", file.to_str().expect("utf-8 path")]);
    assert_eq!(code, Some(0), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("flow src->dst"), "plan should show the flow:\n{stdout}");
    assert!(stdout.contains("src.<topic>"), "plan should show the remote naming:\n{stdout}");
    assert!(stdout.contains("mm2-offsets.src.internal"), "plan should show the progress topic:\n{stdout}");
    assert!(stdout.contains("orders.*"), "plan should show the topic filter:\n{stdout}");
    assert!(
        stdout.contains("metrics and status: http://127.0.0.1:9644/metrics"),
        "plan should show where metrics are served:\n{stdout}"
    );
    assert!(stdout.contains("alice"), "the user name is not a secret:\n{stdout}");
    assert!(stdout.contains("********"), "the password should be shown masked:\n{stdout}");
    for (name, text) in [("stdout", &stdout), ("stderr", &stderr)] {
        assert!(!text.contains("hunter2"), "the password leaked on {name}:\n{text}");
    }
    assert!(!stdout.contains("topics now"), "--offline must not contact the clusters:\n{stdout}");
}

#[test]
fn check_offline_shows_the_syncs_sharing_delivery_and_security_of_each_flow() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("mm2.properties");
    std::fs::write(
        &file,
        "clusters = src, dst\n\
         src.bootstrap.servers = 127.0.0.1:1\n\
         dst.bootstrap.servers = 127.0.0.1:2\n\
         src->dst.enabled = true\n\
         dst->src.enabled = true\n\
         src->dst.sync.topic.configs.interval.seconds = 30\n\
         use.defaults.from = source\n\
         dst->src.sync.topic.configs.enabled = false\n\
         sync.topic.acls.interval.seconds = 45\n\
         dst->src.sync.topic.acls.enabled = false\n\
         src.security.protocol = SASL_SSL\n\
         src.sasl.mechanism = SCRAM-SHA-512\n\
         src.sasl.jaas.config = org.apache.kafka.common.security.scram.ScramLoginModule required \
         username=\"ferry\" password=\"s3cr3t-scram\";\n\
         dst.security.protocol = SSL\n\
         dst->src.ferry.group.enabled = false\n\
         dst.exactly.once.source.support = enabled\n",
    )
    .expect("write");
    let (code, stdout, stderr) = ferry_output(&["check", "--offline", file.to_str().expect("utf-8 path")]);
    assert_eq!(code, Some(0), "stdout:\n{stdout}\nstderr:\n{stderr}");
    let forward = stdout.split("flow dst->src").next().expect("the src->dst section");
    let backward = stdout.split("flow dst->src").nth(1).expect("a dst->src section");
    for (section, line) in [
        (forward, "topic config sync: on, every 30 s, use.defaults.from = source"),
        (forward, "ACL sync: on, every 45 s"),
        (forward, "source src: security.protocol = sasl_ssl, sasl.mechanism = SCRAM-SHA-512"),
        (forward, "target dst: security.protocol = ssl"),
        (backward, "topic config sync: off"),
        (backward, "ACL sync: off"),
        (backward, "source dst: security.protocol = ssl"),
        (backward, "target src: security.protocol = sasl_ssl, sasl.mechanism = SCRAM-SHA-512"),
        (forward, "partitions: shared with every instance of group `ferry.src->dst` on src"),
        (forward, "delivery: exactly once"),
        (backward, "partitions: this instance copies every partition"),
        (backward, "delivery: at least once"),
    ] {
        assert!(section.contains(line), "expected `{line}` in:\n{section}");
    }
    assert!(!stdout.contains("s3cr3t-scram"), "the password leaked:\n{stdout}");
}

#[test]
fn demo_copies_and_verifies() {
    let (code, stdout, stderr) = ferry_output(&["demo"]);
    assert_eq!(code, Some(0), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("verified"), "demo should print `verified`:\nstdout:\n{stdout}\nstderr:\n{stderr}");
}

/// A minimal configuration whose clusters are never reached (the metrics address is checked first).
fn unreachable_config(dir: &std::path::Path, extra: &str) -> String {
    let file = dir.join("mm2.properties");
    std::fs::write(
        &file,
        format!(
            "clusters = src, dst\nsrc.bootstrap.servers = 127.0.0.1:1\ndst.bootstrap.servers = 127.0.0.1:2\n\
             src->dst.enabled = true\n{extra}"
        ),
    )
    .expect("write");
    file.to_str().expect("utf-8 path").to_string()
}

#[test]
fn a_bad_metrics_address_exits_2_naming_the_key_or_flag() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = unreachable_config(dir.path(), "ferry.metrics.address = localhost\n");
    let (code, _, stderr) = ferry_output(&["run", &file]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("key `ferry.metrics.address`: expected an IP address and port"), "{stderr}");

    let file = unreachable_config(dir.path(), "");
    let (code, _, stderr) = ferry_output(&["run", &file, "--metrics-addr", "9644"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("key `--metrics-addr`"), "{stderr}");

    let busy = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = busy.local_addr().expect("address").to_string();
    let (code, _, stderr) = ferry_output(&["run", &file, "--metrics-addr", &address]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains(&format!("key `--metrics-addr`: cannot listen on {address}")), "{stderr}");
    let last = stderr.lines().last().unwrap_or_default();
    assert!(last.starts_with("ferry: invalid configuration: key `--metrics-addr`"), "one line: {stderr}");
}
