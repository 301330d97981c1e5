//! ferry against a secured Apache Kafka broker (`scripts/secure-rig.sh`: SASL_SSL with SCRAM, client
//! certificates, StandardAuthorizer): records flow with credentials and certificates written as MM2
//! users write them, and wrong credentials, an untrusted CA and a certificate for another host are
//! clear, retried errors that name the cluster and never show a secret.
#![cfg(feature = "kafka-integration-tests")]

mod common;

use std::time::Duration;

use common::secure::SecureRig;
use common::*;
use serde_json::Value;

/// The JSON log lines of `text` (ferry runs with `--log-format json`).
fn events(text: &str) -> Vec<Value> {
    text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
}

fn assert_no_secret(secrets: &[String], what: &str, text: &str) {
    for secret in secrets {
        assert!(!text.contains(secret.as_str()), "a secret leaked into {what}:\n{text}");
    }
}

#[test]
fn scram_over_tls_with_client_certificates_replicates() {
    let rig = SecureRig::get();
    let admin = rig.admin();
    let id = random_id(6);
    let (a, b) = (format!("sa{id}"), format!("sb{id}"));
    let p = prefix();
    let topic = format!("{p}orders");
    admin.create_topic(&topic, 2, &[]);
    let ts = now_ms() - 10_000;
    let mut sent = Vec::new();
    for partition in 0..2 {
        sent.push(admin.produce(
            &topic,
            partition,
            &(0..5).map(|i| numbered(partition, i, ts + i)).collect::<Vec<_>>(),
        ));
    }
    rig.allow_flow(&a, &b, &p);

    let dir = tempfile::tempdir().expect("tempdir");
    let config = rig.mm2(&a, &b, &format!("{p}.*"), &rig.ferry_password, "ca.pem").write(dir.path());
    let mut ferry = Ferry::start_with(&config, dir.path(), "secure-flow", &["--log-format", "json"], "info");
    let remote = format!("{a}.{topic}");
    wait_until(WAIT, "records copied over SASL_SSL", || {
        ferry.assert_running();
        admin.partitions(&remote) == Some(2) && (0..2).map(|p| admin.high_watermark(&remote, p)).sum::<i64>() == 10
    });
    let copied = admin.read_topic(&remote);
    for partition in 0..2 {
        assert_same_records(&format!("partition {partition}"), &sent[partition as usize], &copied[&partition]);
    }
    ferry.stop(Duration::from_secs(20));
    let logs = ferry.stderr();
    assert_no_secret(&rig.secrets(), "the logs", &logs);
    let (code, out, err) = ferry_output(&["check", config.to_str().expect("utf-8 path")]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains(&topic), "ferry check lists the secured source's topics:\n{out}");
    assert_no_secret(&rig.secrets(), "ferry check", &format!("{out}{err}"));
}

/// Wrong password, untrusted CA, certificate for another host: ferry keeps running and retrying, says
/// which cluster and what is wrong (one log line, not one per retry, and /status), `ferry check` still
/// works, and no secret shows anywhere.
#[test]
fn bad_credentials_and_certificates_are_clear_retried_errors() {
    let rig = SecureRig::get();
    let id = random_id(6);
    let wrong_password = format!("wrong-{}", random_id(12));
    let cases = [
        ("wrong-password", wrong_password.as_str(), "ca.pem", rig.bootstrap.as_str(), "Authentication failed"),
        (
            "untrusted-ca",
            rig.ferry_password.as_str(),
            "other-ca.pem",
            rig.bootstrap.as_str(),
            "certificate verify failed",
        ),
        (
            "hostname-mismatch",
            rig.ferry_password.as_str(),
            "ca.pem",
            rig.mismatch_bootstrap.as_str(),
            "certificate verify failed",
        ),
    ];
    let dir = tempfile::tempdir().expect("tempdir");
    let mut running = Vec::new();
    for (name, password, ca, bootstrap, reason) in cases {
        let (a, b) = (format!("{}{id}", &name[..2]), format!("ok{id}{}", &name[..2]));
        let case_dir = dir.path().join(name);
        std::fs::create_dir_all(&case_dir).expect("case dir");
        rig.allow_flow(&a, &b, "never-");
        let mut mm2 = rig.mm2(&a, &b, "never-.*", password, ca);
        mm2.set(&format!("{a}.bootstrap.servers"), bootstrap);
        let config = mm2.write(&case_dir);
        let port = free_port();
        let ferry = Ferry::start_with(
            &config,
            &case_dir,
            name,
            &["--log-format", "json", "--metrics-addr", &format!("127.0.0.1:{port}")],
            "info",
        );
        running.push((name, a, reason, config, port, ferry));
    }
    let mut secrets = rig.secrets();
    secrets.push(wrong_password.clone());
    for (name, alias, reason, config, port, ferry) in &mut running {
        // Retried: the problem's count in /status passes 1 while ferry keeps running.
        let mut last = Value::Null;
        wait_until(WAIT, &format!("{name}: a retried connection problem of `{alias}` in /status"), || {
            ferry.assert_running();
            last = status_of(*port).unwrap_or_default();
            last["flows"][0]["errors"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|e| e["stage"] == "connection" && e["cluster"] == alias.as_str() && e["count"].as_u64() >= Some(2))
        });
        let problem = last["flows"][0]["errors"]
            .as_array()
            .and_then(|errors| errors.iter().find(|e| e["stage"] == "connection"))
            .cloned()
            .unwrap_or_default();
        let message = problem["message"].as_str().unwrap_or_default();
        assert!(message.contains(*reason), "{name}: /status should say `{reason}`:\n{last:#}");
        assert_eq!(last["flows"][0]["ready"], false, "{name}");
        let logs = ferry.stderr();
        let lines: Vec<Value> = events(&logs)
            .into_iter()
            .filter(|e| e["fields"]["stage"] == "connection" && e["fields"]["cluster"] == alias.as_str())
            .collect();
        assert_eq!(lines.len(), 1, "{name}: one error line per minute, not one per retry:\n{logs}");
        let line = &lines[0];
        let text = line["fields"]["message"].as_str().unwrap_or_default();
        assert!(
            line["level"] == "ERROR" && text.contains(&format!("cluster `{alias}`")) && text.contains(*reason),
            "{name}: the error line names the cluster and the reason:\n{line}"
        );
        assert_no_secret(&secrets, &format!("the logs of {name}"), &logs);
        assert_no_secret(&secrets, &format!("/status of {name}"), &last.to_string());
        let (code, out, err) = ferry_output(&["check", config.to_str().expect("utf-8 path")]);
        assert_eq!(code, Some(0), "{name}: ferry check still works:\n{out}\n{err}");
        assert!(out.contains(&format!("flow {alias}->")), "{name}:\n{out}");
        assert_no_secret(&secrets, &format!("ferry check of {name}"), &format!("{out}{err}"));
        ferry.assert_running();
    }
}

/// ferry's user may describe every source topic but not read one, may not create one remote topic and
/// may not write another: each is one error line (not one per retry) and an entry in /status, and the
/// allowed topic is copied completely, also while the others keep failing.
#[test]
fn authorization_failures_are_reported_per_topic_and_the_other_topics_flow() {
    let rig = SecureRig::get();
    let admin = rig.admin();
    let id = random_id(6);
    let (a, b) = (format!("za{id}"), format!("zb{id}"));
    let p = prefix();
    let [ok, noread, nocreate, nowrite] = ["ok", "noread", "nocreate", "nowrite"].map(|t| format!("{p}{t}"));
    let remote = |t: &str| format!("{a}.{t}");
    let ts = now_ms() - 10_000;
    let batch = |from: i64| (from..from + 5).map(|i| numbered(0, i, ts + i)).collect::<Vec<_>>();
    for topic in [&ok, &noread, &nocreate, &nowrite] {
        admin.create_topic(topic, 1, &[]);
        admin.produce(topic, 0, &batch(0));
    }
    admin.create_topic(&remote(&nowrite), 1, &[]);
    let ferry_user = ["--add", "--allow-principal", "User:ferry"];
    // Source: every test topic visible, three readable.
    rig.acls(
        &[&ferry_user[..], &["--resource-pattern-type", "prefixed", "--operation", "Describe"]]
            .concat()
            .into_iter()
            .chain(["--operation", "DescribeConfigs", "--topic", &p, "--topic", &remote(&nowrite)])
            .collect::<Vec<_>>(),
    );
    rig.acls(
        &[&ferry_user[..], &["--operation", "Read", "--topic", &ok, "--topic", &nocreate, "--topic", &nowrite]]
            .concat(),
    );
    // Target: two remote topics and the flow's internal topics and group; `nocreate`'s remote topic not
    // at all, `nowrite`'s only described (above).
    rig.allow_prefixes(
        &[
            &remote(&ok),
            &remote(&noread),
            &format!("mm2-offsets.{a}."),
            &format!("mm2-offset-syncs.{b}."),
            &format!("ferry-offset-index.{b}."),
            &format!("{a}.checkpoints"),
        ],
        // Groups: the data consumer's `ferry-a->b` and the instances' group (`ferry.group.id`).
        &["ferry"],
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let config = rig.mm2(&a, &b, &format!("{p}.*"), &rig.ferry_password, "ca.pem").write(dir.path());
    let port = free_port();
    let mut ferry = Ferry::start_with(
        &config,
        dir.path(),
        "authz",
        &["--log-format", "json", "--metrics-addr", &format!("127.0.0.1:{port}")],
        "info",
    );
    let copied = |admin: &common::Cluster, n: i64| admin.high_watermark(&remote(&ok), 0) == n;
    wait_until(WAIT, "the allowed topic copied", || {
        ferry.assert_running();
        admin.partitions(&remote(&ok)) == Some(1) && copied(&admin, 5)
    });
    let expected = [
        ("source_read", a.clone(), noread.clone()),
        ("create_topic", b.clone(), remote(&nocreate)),
        ("delivery", b.clone(), remote(&nowrite)),
    ];
    let find = |status: &Value, (stage, cluster, topic): &(&str, String, String)| -> Option<Value> {
        status["flows"][0]["errors"]
            .as_array()?
            .iter()
            .find(|e| e["stage"] == *stage && e["cluster"] == cluster.as_str() && e["topic"] == topic.as_str())
            .cloned()
    };
    let mut last = Value::Null;
    wait_until(WAIT, "every denied topic reported in /status, the create and write failures retried", || {
        ferry.assert_running();
        last = status_of(port).unwrap_or_default();
        expected.iter().all(|e| find(&last, e).is_some())
            && expected[1..].iter().all(|e| find(&last, e).and_then(|p| p["count"].as_u64()) >= Some(3))
    });
    // The allowed topic keeps flowing meanwhile.
    admin.produce(&ok, 0, &batch(5));
    wait_until(WAIT, "new records of the allowed topic copied", || {
        ferry.assert_running();
        copied(&admin, 10)
    });
    let source = admin.read_topic(&ok);
    assert_same_records("allowed topic", &source[&0], &admin.read_topic(&remote(&ok))[&0]);
    for topic in [&noread, &nocreate] {
        assert!(admin.partitions(&remote(topic)).is_none_or(|_| admin.high_watermark(&remote(topic), 0) == 0));
    }
    assert_eq!(admin.high_watermark(&remote(&nowrite), 0), 0, "nothing written where ferry may not write");

    let status = status_of(port).expect("status");
    let schema_errors = openapi_errors(&openapi(), "/status", 200, &status.to_string());
    assert!(schema_errors.is_empty(), "{schema_errors:?}\n{status:#}");
    for e in &expected {
        let problem = find(&status, e).unwrap_or_else(|| panic!("{e:?} not in /status:\n{status:#}"));
        assert_eq!(problem["authorization"], true, "{problem}");
    }
    assert_eq!(status["flows"][0]["ready"], false);
    let logs = ferry.stderr();
    for (stage, cluster, topic) in &expected {
        let lines: Vec<Value> = events(&logs)
            .into_iter()
            .filter(|e| e["fields"]["stage"] == *stage && e["fields"]["topic"] == topic.as_str())
            .collect();
        assert_eq!(lines.len(), 1, "{stage} `{topic}`: one line per minute, not one per retry:\n{logs}");
        let text = lines[0]["fields"]["message"].as_str().unwrap_or_default();
        assert!(
            lines[0]["level"] == "ERROR"
                && text.contains(&format!("topic `{topic}` on cluster `{cluster}`"))
                && text.contains("not authorized"),
            "{}",
            lines[0]
        );
    }
    assert_no_secret(&rig.secrets(), "the logs", &logs);
    ferry.stop(Duration::from_secs(20));
}

/// An instance that may not join its flow's group (no ACL on `ferry.group.id`) copies nothing and says
/// so: one error line naming the group's cluster, and a `group` problem in `/status`.
#[test]
fn a_group_the_instance_may_not_join_is_reported() {
    let rig = SecureRig::get();
    let admin = rig.admin();
    let id = random_id(6);
    let (a, b) = (format!("ga{id}"), format!("gb{id}"));
    let p = prefix();
    let topic = format!("{p}orders");
    admin.create_topic(&topic, 1, &[]);
    admin.produce(&topic, 0, &(0..5).map(|i| numbered(0, i, now_ms() + i)).collect::<Vec<_>>());
    rig.allow_flow(&a, &b, &p);

    let dir = tempfile::tempdir().expect("tempdir");
    let mut mm2 = rig.mm2(&a, &b, &format!("{p}.*"), &rig.ferry_password, "ca.pem");
    // The ACLs cover groups starting with `ferry` only.
    mm2.set("ferry.group.id", &format!("denied-{id}"));
    let port = free_port();
    let mut ferry = Ferry::start_with(
        &mm2.write(dir.path()),
        dir.path(),
        "group-denied",
        &["--log-format", "json", "--metrics-addr", &format!("127.0.0.1:{port}")],
        "info",
    );
    let group_problem = |status: &Value| -> Option<Value> {
        status["flows"][0]["errors"].as_array()?.iter().find(|e| e["stage"] == "group").cloned()
    };
    let mut last = Value::Null;
    wait_until(WAIT, "the group refusal reported in /status", || {
        ferry.assert_running();
        last = status_of(port).unwrap_or_default();
        group_problem(&last).is_some()
    });
    let problem = group_problem(&last).expect("group problem");
    assert_eq!(problem["cluster"], a.as_str(), "{problem}");
    assert_eq!(problem["authorization"], true, "{problem}");
    assert_eq!(last["flows"][0]["ready"], false, "{last:#}");
    let remote = format!("{a}.{topic}");
    assert!(admin.partitions(&remote).is_none_or(|_| admin.high_watermark(&remote, 0) == 0), "nothing copied");
    let lines: Vec<Value> = events(&ferry.stderr()).into_iter().filter(|e| e["fields"]["stage"] == "group").collect();
    assert_eq!(lines.len(), 1, "one line, not one per retry: {lines:?}");
    ferry.stop(Duration::from_secs(20));
}
