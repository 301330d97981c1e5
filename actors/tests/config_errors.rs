//! Invalid configurations: `ferry run` (and `ferry check`) exit with code 2 and print one stderr line
//! naming the key at fault. No brokers needed: the configuration is rejected before any connection.

mod common;

use common::ferry_output;

/// A syntactically complete two-cluster file; each test breaks one thing.
fn base() -> Vec<(&'static str, &'static str)> {
    vec![
        ("clusters", "src, dst"),
        ("src.bootstrap.servers", "127.0.0.1:1"),
        ("dst.bootstrap.servers", "127.0.0.1:2"),
        ("src->dst.enabled", "true"),
        ("src->dst.topics", "it-.*"),
        ("replication.factor", "1"),
        ("offset.storage.replication.factor", "1"),
    ]
}

fn write(lines: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let text: String = lines.iter().map(|(k, v)| format!("{k} = {v}\n")).collect();
    std::fs::write(dir.path().join("mm2.properties"), text).expect("write");
    dir
}

/// Runs `ferry <command> <file>` and asserts exit 2 with exactly one stderr line naming `key`.
fn assert_rejected(lines: &[(&str, &str)], command: &[&str], key: &str) {
    let dir = write(lines);
    let file = dir.path().join("mm2.properties");
    let file = file.to_str().expect("utf-8 path");
    let mut args = command.to_vec();
    args.push(file);
    let (code, stdout, stderr) = ferry_output(&args);
    assert_eq!(code, Some(2), "`ferry {}` should exit 2; stdout:\n{stdout}\nstderr:\n{stderr}", args.join(" "));
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "`ferry {}`: stderr should be one line, got {}:\n{stderr}", args.join(" "), lines.len());
    assert!(
        lines[0].contains(&format!("`{key}`")),
        "`ferry {}`: stderr should name `{key}`:\n{stderr}",
        args.join(" ")
    );
}

fn without(key: &str) -> Vec<(&'static str, &'static str)> {
    base().into_iter().filter(|(k, _)| *k != key).collect()
}

fn with(key: &'static str, value: &'static str) -> Vec<(&'static str, &'static str)> {
    let mut lines = without(key);
    lines.push((key, value));
    lines
}

#[test]
fn missing_source_bootstrap_servers() {
    assert_rejected(&without("src.bootstrap.servers"), &["run"], "src.bootstrap.servers");
}

#[test]
fn missing_bootstrap_servers_rejected_by_check_too() {
    assert_rejected(&without("src.bootstrap.servers"), &["check", "--offline"], "src.bootstrap.servers");
}

#[test]
fn enabled_flow_naming_unknown_alias() {
    let mut lines = base();
    lines.push(("src->nowhere.enabled", "true"));
    assert_rejected(&lines, &["run"], "src->nowhere.enabled");
}

#[test]
fn bad_topics_regex() {
    assert_rejected(&with("src->dst.topics", "it-(.*"), &["run"], "src->dst.topics");
}

#[test]
fn non_numeric_replication_factor() {
    assert_rejected(&with("replication.factor", "three"), &["run"], "replication.factor");
}

#[test]
fn missing_file_exits_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("nope.properties");
    let (code, _, stderr) = ferry_output(&["run", missing.to_str().expect("utf-8 path")]);
    assert_eq!(code, Some(2), "stderr:\n{stderr}");
    assert!(stderr.contains("nope.properties"), "stderr should name the file:\n{stderr}");
}

#[test]
fn security_settings_that_cannot_work() {
    let mut sasl = with("src.security.protocol", "SASL_SSL");
    sasl.push((
        "src.sasl.jaas.config",
        "org.apache.kafka.common.security.scram.ScramLoginModule required username=\"u\" password=\"hunter2\";",
    ));
    // No `sasl.mechanism`: Kafka's default, GSSAPI (Kerberos), which ferry does not support.
    assert_rejected(&sasl, &["run"], "src.sasl.mechanism");
    let mut no_credentials = with("dst.security.protocol", "SASL_PLAINTEXT");
    no_credentials.push(("dst.sasl.mechanism", "SCRAM-SHA-256"));
    assert_rejected(&no_credentials, &["check", "--offline"], "dst.sasl.jaas.config");
    assert_rejected(&with("src.security.protocol", "TLS"), &["run"], "src.security.protocol");
}
