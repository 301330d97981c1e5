//! `ferry check`: validates a configuration and prints the plan — flows, policy, resolved settings and
//! client properties (secrets masked) and, when the source cluster answers, which topics match now —
//! without copying anything.

use std::fmt::Write as _;
use std::time::Duration;

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
