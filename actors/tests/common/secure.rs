//! The secured test broker of `scripts/secure-rig.sh` (TLS, SASL/SCRAM, ACLs): started on first use if
//! it does not run, its addresses, certificates and passwords read from `.rig/secure/env`, ACLs set
//! with Kafka's own `AclCommand`, and mm2.properties lines for an alias that connects as user `ferry`.
//!
//! The tests' own set-up (topics, records, read-back) goes through the broker's PLAINTEXT `INTERNAL`
//! listener, whose anonymous user is a super user; ferry only ever talks to the SASL_SSL listeners.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use super::{Cluster, Mm2};

/// The running secured broker.
#[derive(Clone, Debug)]
pub struct SecureRig {
    /// SASL_SSL listener (certificate for 127.0.0.1/localhost, client certificate required).
    pub bootstrap: String,
    /// SASL_SSL listener whose certificate names another host.
    pub mismatch_bootstrap: String,
    /// PLAINTEXT listener for the tests' set-up (super user).
    pub internal_bootstrap: String,
    /// Directory of the generated certificates.
    pub certs: PathBuf,
    /// SCRAM/PLAIN password of user `ferry`.
    pub ferry_password: String,
    /// Password of the encrypted private keys in the PEM key stores.
    pub key_password: String,
    /// Password of `client.p12`.
    pub store_password: String,
}

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the actors crate sits in the repository")
}

impl SecureRig {
    /// Starts the secured broker unless it runs (`scripts/secure-rig.sh ensure`, serialised by a lock
    /// across test processes) and reads its environment.
    pub fn get() -> &'static SecureRig {
        static RIG: OnceLock<SecureRig> = OnceLock::new();
        RIG.get_or_init(|| {
            let script = repo().join("scripts/secure-rig.sh");
            let out = Command::new("bash").arg(&script).arg("ensure").output().expect("running secure-rig.sh");
            assert!(
                out.status.success(),
                "`scripts/secure-rig.sh ensure` failed:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let text = std::fs::read_to_string(repo().join(".rig/secure/env")).expect("reading .rig/secure/env");
            let env: BTreeMap<&str, &str> = text
                .lines()
                .filter(|l| !l.starts_with('#'))
                .filter_map(|l| l.split_once('='))
                .map(|(k, v)| (k, v.trim_matches('\'')))
                .collect();
            let var = |k: &str| env.get(k).unwrap_or_else(|| panic!("{k} missing in .rig/secure/env")).to_string();
            SecureRig {
                bootstrap: var("FERRY_SECURE_BOOTSTRAP"),
                mismatch_bootstrap: var("FERRY_SECURE_MISMATCH_BOOTSTRAP"),
                internal_bootstrap: var("FERRY_SECURE_INTERNAL_BOOTSTRAP"),
                certs: PathBuf::from(var("FERRY_SECURE_CERTS")),
                ferry_password: var("FERRY_SECURE_FERRY_PASSWORD"),
                key_password: var("FERRY_SECURE_KEY_PASSWORD"),
                store_password: var("FERRY_SECURE_STORE_PASSWORD"),
            }
        })
    }

    /// A handle on the broker through its PLAINTEXT listener, for set-up and checks.
    pub fn admin(&self) -> Cluster {
        Cluster::new("secure", &self.internal_bootstrap)
    }

    /// A certificate file of the rig (`ca.pem`, `other-ca.pem`, `client-keystore.pem`, `client.p12`).
    pub fn cert(&self, name: &str) -> String {
        self.certs.join(name).to_string_lossy().into_owned()
    }

    /// Runs Kafka's `AclCommand` against the broker as a super user, e.g.
    /// `acls(&["--add", "--allow-principal", "User:ferry", "--operation", "Read", "--topic", "t"])`.
    pub fn acls(&self, args: &[&str]) {
        let out = Command::new("bash")
            .arg(repo().join("scripts/secure-rig.sh"))
            .arg("acls")
            .args(args)
            .output()
            .expect("running AclCommand");
        assert!(
            out.status.success(),
            "AclCommand {args:?} failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Grants user `ferry` every operation on topics and groups starting with each of `prefixes`.
    pub fn allow_prefixes(&self, topics: &[&str], groups: &[&str]) {
        let mut args = vec![
            "--add",
            "--allow-principal",
            "User:ferry",
            "--operation",
            "All",
            "--resource-pattern-type",
            "prefixed",
        ];
        for t in topics {
            args.extend(["--topic", t]);
        }
        for g in groups {
            args.extend(["--group", g]);
        }
        self.acls(&args);
    }

    /// Adds alias `alias` on the SASL_SSL listener to `mm2`, as MM2 users write it: SCRAM-SHA-512 from a
    /// JAAS line with `password`, PEM trust store `ca`, PEM key store with ferry's client certificate.
    pub fn add_alias(&self, mm2: &mut Mm2, alias: &str, password: &str, ca: &str) {
        mm2.set(&format!("{alias}.bootstrap.servers"), &self.bootstrap);
        self.security_lines(mm2, alias, password, ca);
    }

    /// The security keys of `alias` (not its bootstrap servers).
    pub fn security_lines(&self, mm2: &mut Mm2, alias: &str, password: &str, ca: &str) {
        mm2.set(&format!("{alias}.security.protocol"), "SASL_SSL")
            .set(&format!("{alias}.sasl.mechanism"), "SCRAM-SHA-512")
            .set(
                &format!("{alias}.sasl.jaas.config"),
                &format!(
                    "org.apache.kafka.common.security.scram.ScramLoginModule required username=\"ferry\" password=\"{password}\";"
                ),
            )
            .set(&format!("{alias}.ssl.truststore.type"), "PEM")
            .set(&format!("{alias}.ssl.truststore.location"), &self.cert(ca))
            .set(&format!("{alias}.ssl.keystore.type"), "PEM")
            .set(&format!("{alias}.ssl.keystore.location"), &self.cert("client-keystore.pem"))
            .set(&format!("{alias}.ssl.key.password"), &self.key_password);
    }

    /// Every secret of the rig, which no ferry output may contain.
    pub fn secrets(&self) -> Vec<String> {
        vec![self.ferry_password.clone(), self.key_password.clone(), self.store_password.clone()]
    }
}

impl SecureRig {
    /// An mm2.properties for flow `a->b` with both aliases on this broker (user `ferry`, the given
    /// password and trusted CA for `a`; `b` always correct, with a PKCS12 key store and SCRAM-SHA-256,
    /// the other way MM2 users write it), topics `topics`, test-friendly settings, heartbeats off.
    pub fn mm2(&self, a: &str, b: &str, topics: &str, a_password: &str, a_ca: &str) -> Mm2 {
        let mut mm2 = Mm2 { lines: Vec::new() };
        mm2.set("clusters", &format!("{a}, {b}"))
            .set(&format!("{a}->{b}.enabled"), "true")
            .set(&format!("{a}->{b}.topics"), topics);
        mm2.test_defaults();
        mm2.set("emit.heartbeats.enabled", "false").set("heartbeats.replication.enabled", "false");
        self.add_alias(&mut mm2, a, a_password, a_ca);
        mm2.set(&format!("{b}.bootstrap.servers"), &self.bootstrap)
            .set(&format!("{b}.security.protocol"), "SASL_SSL")
            .set(&format!("{b}.sasl.mechanism"), "SCRAM-SHA-256")
            .set(
                &format!("{b}.sasl.jaas.config"),
                &format!(
                    "org.apache.kafka.common.security.scram.ScramLoginModule required username=\"ferry\" password=\"{}\";",
                    self.ferry_password
                ),
            )
            .set(&format!("{b}.ssl.truststore.type"), "PEM")
            .set(&format!("{b}.ssl.truststore.location"), &self.cert("ca.pem"))
            .set(&format!("{b}.ssl.keystore.type"), "PKCS12")
            .set(&format!("{b}.ssl.keystore.location"), &self.cert("client.p12"))
            .set(&format!("{b}.ssl.keystore.password"), &self.store_password);
        mm2
    }

    /// Grants user `ferry` everything a flow `a->b` on this broker needs for source topics starting
    /// with `prefix`: the topics, their remote copies, the flow's internal topics and its group.
    pub fn allow_flow(&self, a: &str, b: &str, prefix: &str) {
        self.allow_prefixes(
            &[
                prefix,
                &format!("{a}."),
                &format!("mm2-offsets.{a}."),
                &format!("mm2-offset-syncs.{b}."),
                &format!("ferry-offset-index.{b}."),
            ],
            // Groups: the data consumer's `ferry-a->b` and the instances' group (`ferry.group.id`).
            &["ferry"],
        );
    }
}
