//! `ferry check`: validates a configuration and prints the plan — flows, policy, which periodic syncs
//! run (topic configs, ACLs), how partitions are shared among instances, the delivery guarantee and each
//! side's security protocol, resolved settings and client properties
//! (secrets masked) and, when the source cluster answers, which topics match now — without copying
//! anything.

use std::fmt::Write as _;
use std::time::Duration;

use ferry_engine::client_props::ClientProps;
use ferry_engine::topic_config::DefaultsFrom;
use ferry_engine::{FlowConfig, Mm2Config};

use crate::kafka::admin::Admin;

/// Renders the plan of `config`. When `probe` is set, asks each flow's source cluster (a few seconds at
/// most) which topics match now.
pub async fn plan(config: &Mm2Config, probe: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "clusters: {}", config.clusters.join(", "));
    for (alias, cluster) in &config.cluster_configs {
        let _ = writeln!(out, "  {alias}: bootstrap.servers = {}", cluster.bootstrap_servers);
    }
    if config.flows.is_empty() {
        let _ = writeln!(out, "no enabled flow: set `A->B.enabled = true` for at least one pair");
    }
    for flow in &config.flows {
        render_flow(&mut out, flow);
        if probe {
            render_matching_topics(&mut out, flow).await;
        }
    }
    let metrics = &config.metrics;
    let address = metrics
        .address
        .map_or_else(|| "off".to_string(), |a| format!("http://{a}/metrics (/status, /healthz, /readyz)"));
    let partition_labels = if metrics.partition_labels { "on" } else { "off" };
    let _ = writeln!(out, "\nmetrics and status: {address}, partition labels {partition_labels}");
    for warning in &config.warnings {
        let _ = writeln!(out, "warning: {warning}");
    }
    out
}

fn render_flow(out: &mut String, flow: &FlowConfig) {
    let _ = writeln!(out, "\nflow {}", flow.name);
    let _ = writeln!(out, "  replication policy: {}", flow.policy.name());
    let _ = writeln!(out, "  example remote name: {}", flow.remote_topic("<topic>"));
    let _ = writeln!(out, "  progress topic: {} (on {})", flow.offset_storage_topic, flow.target);
    render_syncs(out, flow);
    let _ = writeln!(out, "  settings:");
    for (key, value) in &flow.settings {
        let _ = writeln!(out, "    {key} = {value}");
    }
    for (role, props) in [
        ("source consumer", &flow.source_consumer),
        ("target producer", &flow.target_producer),
        ("source admin", &flow.source_admin),
        ("target admin", &flow.target_admin),
    ] {
        let _ = writeln!(out, "  {role}:");
        for (key, value) in props.masked() {
            let _ = writeln!(out, "    {key} = {value}");
        }
    }
}

/// Which periodic syncs run, and how each side connects (no secrets: only protocol and mechanism).
fn render_syncs(out: &mut String, flow: &FlowConfig) {
    let defaults_from = match flow.use_defaults_from {
        DefaultsFrom::Target => "target",
        DefaultsFrom::Source => "source",
    };
    let topic_configs = if flow.sync_topic_configs_enabled {
        format!("on, every {} s, use.defaults.from = {defaults_from}", flow.sync_topic_configs_interval.as_secs())
    } else {
        "off (remote topics are created without source configs)".to_string()
    };
    let _ = writeln!(out, "  topic config sync: {topic_configs}");
    let acls = if flow.sync_topic_acls_enabled {
        format!("on, every {} s (literal topic ACLs, add-only)", flow.sync_topic_acls_interval.as_secs())
    } else {
        "off".to_string()
    };
    let _ = writeln!(out, "  ACL sync: {acls}");
    let instances = if flow.ferry.group_enabled {
        format!(
            "shared with every instance of group `{}` on {} (cooperative-sticky; session timeout {} ms)",
            flow.ferry.group_id,
            flow.source,
            flow.ferry.group_session_timeout.as_millis()
        )
    } else {
        "this instance copies every partition (ferry.group.enabled = false)".to_string()
    };
    let _ = writeln!(out, "  partitions: {instances}");
    let delivery = if flow.exactly_once {
        "exactly once (one target transaction per batch, with its progress)"
    } else {
        "at least once (progress stored every offset.flush.interval.ms)"
    };
    let _ = writeln!(out, "  delivery: {delivery}");
    for (side, alias, data, admin) in [
        ("source", &flow.source, &flow.source_consumer, &flow.source_admin),
        ("target", &flow.target, &flow.target_producer, &flow.target_admin),
    ] {
        let (data_security, admin_security) = (security(data), security(admin));
        let admin_note =
            if admin_security == data_security { String::new() } else { format!(" (admin client: {admin_security})") };
        let _ = writeln!(out, "  {side} {alias}: {data_security}{admin_note}");
    }
}

/// `security.protocol = sasl_ssl, sasl.mechanism = SCRAM-SHA-512` of a client, as configured.
fn security(props: &ClientProps) -> String {
    let protocol = props.get("security.protocol").unwrap_or("plaintext");
    let mut shown = format!("security.protocol = {protocol}");
    if let Some(mechanism) = props.get("sasl.mechanism").or_else(|| props.get("sasl.mechanisms")) {
        let _ = write!(shown, ", sasl.mechanism = {mechanism}");
    } else if protocol.starts_with("sasl") {
        shown.push_str(", sasl.mechanism = GSSAPI (librdkafka default)");
    }
    shown
}

async fn render_matching_topics(out: &mut String, flow: &FlowConfig) {
    let admin = match Admin::new(&flow.source, &flow.source_admin, Duration::from_secs(5)) {
        Ok(admin) => admin,
        Err(error) => {
            let _ = writeln!(out, "  topics now: unknown ({error})");
            return;
        }
    };
    match admin.list_topics().await {
        Ok((topics, _)) => {
            let matching: Vec<String> = topics
                .iter()
                .filter(|(t, _)| flow.should_replicate_topic(t))
                .map(|(t, p)| format!("{t} ({p} partitions) -> {}", flow.remote_topic(t)))
                .collect();
            let _ = writeln!(out, "  topics now ({} of {} on {}):", matching.len(), topics.len(), flow.source);
            for line in matching {
                let _ = writeln!(out, "    {line}");
            }
        }
        Err(error) => {
            let _ = writeln!(out, "  topics now: source cluster not reachable ({error})");
        }
    }
}
