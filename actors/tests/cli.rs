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
    assert!(stdout.contains("alice"), "the user name is not a secret:\n{stdout}");
    assert!(stdout.contains("********"), "the password should be shown masked:\n{stdout}");
    for (name, text) in [("stdout", &stdout), ("stderr", &stderr)] {
        assert!(!text.contains("hunter2"), "the password leaked on {name}:\n{text}");
    }
    assert!(!stdout.contains("topics now"), "--offline must not contact the clusters:\n{stdout}");
}

#[test]
fn demo_copies_and_verifies() {
    let (code, stdout, stderr) = ferry_output(&["demo"]);
    assert_eq!(code, Some(0), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("verified"), "demo should print `verified`:\nstdout:\n{stdout}\nstderr:\n{stderr}");
}
