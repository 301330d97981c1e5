//! TLS and SASL settings of one client, resolved as a whole.
//!
//! Most Java client keys translate one by one ([`super::librdkafka`]). The security keys do not: what
//! `ssl.truststore.location` means depends on `ssl.truststore.type` (Java's default is JKS), whether
//! `sasl.jaas.config` is needed depends on `security.protocol` and `sasl.mechanism`, and hostname
//! verification has a Java default that must be stated to librdkafka. This module reads those keys
//! together (after MM2's layering), removes the ones it handles from the per-key path, and returns
//! librdkafka properties, warnings and the errors that make a start pointless (they would only fail at
//! connect time, far from the key at fault).
//!
//! | Java (MM2) | librdkafka |
//! |---|---|
//! | `security.protocol` PLAINTEXT/SSL/SASL_PLAINTEXT/SASL_SSL | same, lower case; anything else is an error |
//! | `sasl.mechanism` PLAIN/SCRAM-SHA-256/SCRAM-SHA-512 | same; GSSAPI (Java's default) is an error |
//! | `sasl.jaas.config` Plain/ScramLoginModule | `sasl.username`, `sasl.password` |
//! | `ssl.truststore.type=PEM` + `ssl.truststore.location` / `.certificates` | `ssl.ca.location` / `ssl.ca.pem` |
//! | `ssl.keystore.type=PEM` + `ssl.keystore.location` (key and chain in one file) | `ssl.certificate.location` + `ssl.key.location` |
//! | `ssl.keystore.certificate.chain` / `ssl.keystore.key` | `ssl.certificate.pem` / `ssl.key.pem` |
//! | `ssl.keystore.type=PKCS12` + `ssl.keystore.location` / `.password` | `ssl.keystore.location` / `.password` |
//! | JKS (or PKCS12) truststore, JKS keystore | dropped with a warning saying how to convert |
//! | `ssl.endpoint.identification.algorithm` unset (Java: `https`) | `https`: hostname verified |
//!
//! Messages never quote a value of these keys: most are secrets.

use std::collections::BTreeMap;

use super::{jaas, Layered};
use crate::config::{ConfigError, ConfigWarning};

/// The security part of one client's properties.
#[derive(Debug, Default)]
pub(super) struct Security {
    /// librdkafka properties to set (they win over the per-key translation).
    pub props: Vec<(String, String)>,
    /// Keys dropped or changed, for the user.
    pub warnings: Vec<ConfigWarning>,
}

/// SASL mechanisms ferry supports.
const MECHANISMS: [&str; 3] = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"];

/// Resolves the security keys of a client of cluster `alias`, removing from `layered` the keys it
/// handled.
///
/// # Errors
/// A [`ConfigError`] naming the key for an unknown `security.protocol` or `sasl.mechanism`, Kerberos
/// (GSSAPI, not built in), or a SASL PLAIN/SCRAM client without usable credentials.
pub(super) fn resolve(alias: &str, layered: &mut BTreeMap<String, Layered>) -> Result<Security, ConfigError> {
    let mut out = Security::default();
    let protocol = match layered.get("security.protocol") {
        None => "PLAINTEXT".to_string(),
        Some(l) => {
            let p = l.value.trim().to_ascii_uppercase();
            if !["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"].contains(&p.as_str()) {
                return Err(ConfigError::new(
                    l.origin.clone(),
                    format!("`{}` is not a security protocol: use PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL", l.value),
                ));
            }
            p
        }
    };
    let tls = protocol.ends_with("SSL");
    let sasl = protocol.starts_with("SASL_");
    stores(&protocol, layered, &mut out);
    if tls && !layered.contains_key("ssl.endpoint.identification.algorithm") {
        // Java clients verify the broker's host name by default (`https`); so does ferry.
        out.props.push(("ssl.endpoint.identification.algorithm".into(), "https".into()));
    }
    if sasl {
        sasl_settings(alias, &protocol, layered, &mut out)?;
    }
    Ok(out)
}

/// Java trust and key stores: PEM and PKCS12 key stores map to librdkafka, the rest is dropped with a
/// warning that says how to convert. Without TLS they are ignored (as Java does).
fn stores(protocol: &str, layered: &mut BTreeMap<String, Layered>, out: &mut Security) {
    let store_keys: Vec<String> = layered
        .keys()
        .filter(|k| k.starts_with("ssl.truststore.") || k.starts_with("ssl.keystore."))
        .cloned()
        .collect();
    if store_keys.is_empty() {
        return;
    }
    let stores: BTreeMap<String, Layered> =
        store_keys.into_iter().filter_map(|k| layered.remove(&k).map(|l| (k, l))).collect();
    if !protocol.ends_with("SSL") {
        for (k, l) in stores {
            if k.ends_with(".type") {
                continue;
            }
            out.warnings.push(ConfigWarning::new(
                l.origin,
                format!("`{k}` ignored: `security.protocol` is {protocol} (no TLS)"),
            ));
        }
        return;
    }
    let store_type = |stores: &BTreeMap<String, Layered>, kind: &str| {
        stores.get(&format!("ssl.{kind}.type")).map_or("JKS".to_string(), |l| l.value.trim().to_ascii_uppercase())
    };
    let mut note = |l: &Layered, message: String| out.warnings.push(ConfigWarning::new(l.origin.clone(), message));
    let mut props: Vec<(String, String)> = Vec::new();

    // Trust store: the CAs that sign the brokers' certificates.
    let trust_type = store_type(&stores, "truststore");
    let trust_location = stores.get("ssl.truststore.location");
    let trust_pem = stores.get("ssl.truststore.certificates");
    match trust_type.as_str() {
        "PEM" => {
            if let Some(l) = trust_location {
                props.push(("ssl.ca.location".into(), l.value.clone()));
            }
            if let Some(l) = trust_pem {
                props.push(("ssl.ca.pem".into(), l.value.clone()));
            }
            if let Some(l) = stores.get("ssl.truststore.password") {
                note(l, "ignored: a PEM trust store has no password".into());
            }
        }
        other => {
            if let Some(l) = trust_location.or(trust_pem) {
                note(
                    l,
                    format!(
                        "ignored: librdkafka cannot read {other} trust stores (Java's default type is JKS), so the \
                         system's CA certificates are used instead. Export the CA certificates to PEM \
                         (`keytool -exportcert -rfc -keystore FILE -alias CA -file ca.pem`, or for PKCS12 \
                         `openssl pkcs12 -in FILE -nokeys -out ca.pem`) and set `ssl.truststore.type = PEM` with \
                         `ssl.truststore.location = ca.pem` (or `ssl.ca.location`)"
                    ),
                );
            }
        }
    }

    // Key store: ferry's own certificate and key, for brokers that require client authentication.
    let key_type = store_type(&stores, "keystore");
    let key_location = stores.get("ssl.keystore.location");
    match key_type.as_str() {
        "PEM" => {
            if let Some(l) = key_location {
                // Kafka's PEM key store file holds the private key and the certificate chain;
                // OpenSSL picks each out of the same file.
                props.push(("ssl.certificate.location".into(), l.value.clone()));
                props.push(("ssl.key.location".into(), l.value.clone()));
            }
            if let Some(l) = stores.get("ssl.keystore.certificate.chain") {
                props.push(("ssl.certificate.pem".into(), l.value.clone()));
            }
            if let Some(l) = stores.get("ssl.keystore.key") {
                props.push(("ssl.key.pem".into(), l.value.clone()));
            }
            if let Some(l) = stores.get("ssl.keystore.password") {
                note(l, "ignored: a PEM key store has no store password (the key's is `ssl.key.password`)".into());
            }
        }
        "PKCS12" => {
            if let Some(l) = key_location {
                props.push(("ssl.keystore.location".into(), l.value.clone()));
            }
            if let Some(l) = stores.get("ssl.keystore.password") {
                props.push(("ssl.keystore.password".into(), l.value.clone()));
            }
        }
        other => {
            if let Some(l) = key_location {
                note(
                    l,
                    format!(
                        "ignored: librdkafka cannot read {other} key stores (Java's default type is JKS), so no \
                         client certificate is presented. Convert it to PKCS12 (`keytool -importkeystore \
                         -srckeystore FILE -destkeystore client.p12 -deststoretype PKCS12`) and set \
                         `ssl.keystore.type = PKCS12`, or use PEM files"
                    ),
                );
            }
        }
    }
    // Every other store key (passwords of dropped stores, keys of the other type) is named too.
    let handled = |k: &str| match k {
        "ssl.truststore.type" | "ssl.keystore.type" => true,
        "ssl.truststore.location" | "ssl.truststore.certificates" | "ssl.truststore.password" => trust_type == "PEM",
        "ssl.keystore.location" | "ssl.keystore.password" => matches!(key_type.as_str(), "PEM" | "PKCS12"),
        "ssl.keystore.certificate.chain" | "ssl.keystore.key" => key_type == "PEM",
        _ => false,
    };
    let warned: Vec<String> = out.warnings.iter().map(|w| w.key.clone()).collect();
    for (k, l) in &stores {
        if !handled(k) && !warned.contains(&l.origin) {
            let store = if k.starts_with("ssl.truststore.") { "trust" } else { "key" };
            out.warnings.push(ConfigWarning::new(
                l.origin.clone(),
                format!("ignored: not usable with this {store} store type (see `ssl.{store}store.type`)"),
            ));
        }
    }
    out.props.extend(props);
}

/// SASL: the mechanism must be one librdkafka has here, and PLAIN/SCRAM need a user name and password.
fn sasl_settings(
    alias: &str,
    protocol: &str,
    layered: &mut BTreeMap<String, Layered>,
    out: &mut Security,
) -> Result<(), ConfigError> {
    let (mechanism, mechanism_key) =
        match layered.remove("sasl.mechanism").or_else(|| layered.remove("sasl.mechanisms")) {
            Some(l) => (l.value.trim().to_ascii_uppercase(), l.origin),
            None => ("GSSAPI".to_string(), format!("{alias}.sasl.mechanism")),
        };
    match mechanism.as_str() {
        "GSSAPI" => {
            return Err(ConfigError::new(
                mechanism_key,
                format!(
                    "`security.protocol` is {protocol} and the SASL mechanism is GSSAPI (Kerberos; Kafka's default \
                     when `sasl.mechanism` is not set), which ferry does not support: set `sasl.mechanism` to PLAIN, \
                     SCRAM-SHA-256 or SCRAM-SHA-512"
                ),
            ))
        }
        "OAUTHBEARER" => {
            // librdkafka's own `sasl.oauthbearer.*` keys pass through; Java's login callbacks cannot.
            out.props.push(("sasl.mechanism".into(), mechanism));
            return Ok(());
        }
        m if MECHANISMS.contains(&m) => {}
        _ => {
            return Err(ConfigError::new(
                mechanism_key,
                format!("unknown SASL mechanism `{mechanism}`: use PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512"),
            ))
        }
    }
    out.props.push(("sasl.mechanism".into(), mechanism.clone()));
    if let Some(l) = layered.remove("sasl.jaas.config") {
        let Some((user, password)) = jaas::credentials(&l.value) else {
            return Err(ConfigError::new(
                l.origin,
                format!(
                    "cannot read a user name and password for SASL {mechanism} from this JAAS line; expected \
                     `org.apache.kafka.common.security.scram.ScramLoginModule required username=\"…\" password=\"…\";` \
                     (or PlainLoginModule)"
                ),
            ));
        };
        out.props.push(("sasl.username".into(), user));
        out.props.push(("sasl.password".into(), password));
    } else if !(layered.contains_key("sasl.username") && layered.contains_key("sasl.password")) {
        return Err(ConfigError::new(
            format!("{alias}.sasl.jaas.config"),
            format!(
                "`security.protocol` is {protocol} with SASL {mechanism} but no credentials are set: add \
                 `{alias}.sasl.jaas.config = org.apache.kafka.common.security.scram.ScramLoginModule required \
                 username=\"…\" password=\"…\";` (PlainLoginModule for PLAIN)"
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::{build, ClientRole};
    use crate::test_support::raw;

    fn props(pairs: &[(&str, &str)]) -> std::collections::BTreeMap<String, String> {
        match build(&raw(pairs), "sec", "dst", ClientRole::SourceConsumer) {
            Ok((p, _)) => p.props,
            Err(e) => panic!("{e}"),
        }
    }

    fn error(pairs: &[(&str, &str)]) -> String {
        match build(&raw(pairs), "sec", "dst", ClientRole::SourceConsumer) {
            Ok((p, _)) => panic!("accepted: {p:?}"),
            Err(e) => e.to_string(),
        }
    }

    const SCRAM: &str =
        r#"org.apache.kafka.common.security.scram.ScramLoginModule required username="ferry" password="pw-1";"#;

    #[test]
    fn sasl_ssl_with_pem_stores_and_scram() {
        let p = props(&[
            ("sec.security.protocol", "SASL_SSL"),
            ("sec.sasl.mechanism", "SCRAM-SHA-512"),
            ("sec.sasl.jaas.config", SCRAM),
            ("sec.ssl.truststore.type", "PEM"),
            ("sec.ssl.truststore.location", "/ca.pem"),
            ("sec.ssl.keystore.type", "PEM"),
            ("sec.ssl.keystore.location", "/client.pem"),
            ("sec.ssl.key.password", "kp"),
        ]);
        assert_eq!(p["security.protocol"], "sasl_ssl");
        assert_eq!(p["sasl.mechanism"], "SCRAM-SHA-512");
        assert_eq!((p["sasl.username"].as_str(), p["sasl.password"].as_str()), ("ferry", "pw-1"));
        assert_eq!(p["ssl.ca.location"], "/ca.pem");
        assert_eq!(p["ssl.certificate.location"], "/client.pem");
        assert_eq!(p["ssl.key.location"], "/client.pem");
        assert_eq!(p["ssl.key.password"], "kp");
        assert_eq!(p["ssl.endpoint.identification.algorithm"], "https", "hostname verified by default");
        assert!(!p.keys().any(|k| k.starts_with("ssl.truststore") || k == "sasl.jaas.config"), "{p:?}");
    }

    #[test]
    fn hostname_verification_off_only_when_asked() {
        let p = props(&[("security.protocol", "SSL"), ("sec.ssl.endpoint.identification.algorithm", "")]);
        assert_eq!(p["ssl.endpoint.identification.algorithm"], "none");
        let p = props(&[("security.protocol", "PLAINTEXT")]);
        assert!(!p.contains_key("ssl.endpoint.identification.algorithm"));
    }

    #[test]
    fn inline_pem_and_pkcs12() {
        let p = props(&[
            ("security.protocol", "SSL"),
            ("ssl.truststore.type", "PEM"),
            ("ssl.truststore.certificates", "-----BEGIN CERTIFICATE-----"),
            ("ssl.keystore.type", "PEM"),
            ("ssl.keystore.certificate.chain", "CHAIN"),
            ("ssl.keystore.key", "KEY"),
        ]);
        assert_eq!(
            (p["ssl.ca.pem"].as_str(), p["ssl.certificate.pem"].as_str()),
            ("-----BEGIN CERTIFICATE-----", "CHAIN")
        );
        assert_eq!(p["ssl.key.pem"], "KEY");
        let p = props(&[
            ("security.protocol", "SSL"),
            ("ssl.keystore.type", "pkcs12"),
            ("ssl.keystore.location", "/c.p12"),
            ("ssl.keystore.password", "sp"),
        ]);
        assert_eq!((p["ssl.keystore.location"].as_str(), p["ssl.keystore.password"].as_str()), ("/c.p12", "sp"));
    }

    #[test]
    fn jks_stores_are_dropped_with_how_to_convert() {
        let r = raw(&[
            ("security.protocol", "SSL"),
            ("sec.ssl.truststore.location", "/t.jks"),
            ("sec.ssl.truststore.password", "tp"),
            ("sec.ssl.keystore.location", "/k.jks"),
            ("sec.ssl.keystore.password", "kp"),
        ]);
        let (p, w) = build(&r, "sec", "dst", ClientRole::SourceConsumer).expect("warnings only");
        assert!(!p.props.keys().any(|k| k.starts_with("ssl.") && k.contains("store")), "{p:?}");
        let trust = w.iter().find(|w| w.key == "sec.ssl.truststore.location").expect("trust store warning");
        assert!(trust.message.contains("keytool -exportcert") && trust.message.contains("PEM"), "{trust}");
        let key = w.iter().find(|w| w.key == "sec.ssl.keystore.location").expect("key store warning");
        assert!(key.message.contains("PKCS12"), "{key}");
        assert!(w.iter().all(|w| !w.message.contains("/t.jks") && !w.message.contains("kp")), "{w:?}");
    }

    #[test]
    fn stores_without_tls_are_ignored_with_a_warning() {
        let (p, w) = build(&raw(&[("sec.ssl.keystore.password", "kp")]), "sec", "dst", ClientRole::SourceAdmin)
            .expect("warnings only");
        assert!(!p.props.contains_key("ssl.keystore.password"));
        assert!(w.iter().any(|w| w.key == "sec.ssl.keystore.password" && w.message.contains("PLAINTEXT")), "{w:?}");
    }

    #[test]
    fn errors_name_the_key_and_never_the_secret() {
        let e = error(&[("sec.security.protocol", "TLS")]);
        assert!(e.starts_with("key `sec.security.protocol`"), "{e}");
        let e = error(&[("security.protocol", "SASL_SSL"), ("sasl.jaas.config", SCRAM)]);
        assert!(e.starts_with("key `sec.sasl.mechanism`") && e.contains("GSSAPI"), "{e}");
        let e = error(&[("security.protocol", "SASL_SSL"), ("sasl.mechanism", "SCRAM-SHA-256")]);
        assert!(e.starts_with("key `sec.sasl.jaas.config`") && e.contains("no credentials"), "{e}");
        let e = error(&[
            ("security.protocol", "SASL_PLAINTEXT"),
            ("sasl.mechanism", "PLAIN"),
            ("sec.sasl.jaas.config", "PlainLoginModule required username=\"u\" password=\"secret-9"),
        ]);
        assert!(e.starts_with("key `sec.sasl.jaas.config`") && !e.contains("secret-9"), "{e}");
        let e = error(&[("security.protocol", "SASL_SSL"), ("sec.sasl.mechanism", "DIGEST-MD5")]);
        assert!(e.starts_with("key `sec.sasl.mechanism`"), "{e}");
        // librdkafka's own credential keys are accepted instead of a JAAS line.
        let p = props(&[
            ("security.protocol", "SASL_PLAINTEXT"),
            ("sasl.mechanism", "plain"),
            ("sasl.username", "u"),
            ("sasl.password", "p"),
        ]);
        assert_eq!((p["sasl.mechanism"].as_str(), p["sasl.username"].as_str()), ("PLAIN", "u"));
    }

    #[test]
    fn per_client_overrides_reach_only_that_client() {
        let r = raw(&[
            ("sec.security.protocol", "SASL_SSL"),
            ("sec.sasl.mechanism", "SCRAM-SHA-256"),
            ("sec.sasl.jaas.config", SCRAM),
            ("sec.consumer.sasl.jaas.config", SCRAM.replace("ferry", "reader").as_str()),
        ]);
        let r: std::collections::BTreeMap<String, String> = r.into_iter().collect();
        let (c, _) = build(&r, "sec", "dst", ClientRole::SourceConsumer).expect("valid");
        assert_eq!(c.get("sasl.username"), Some("reader"));
        let (a, _) = build(&r, "sec", "dst", ClientRole::SourceAdmin).expect("valid");
        assert_eq!(a.get("sasl.username"), Some("ferry"));
    }
}
