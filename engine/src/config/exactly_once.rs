//! Whether a flow copies exactly once (MM2's KIP-618 keys, read the way a ferry user means them).
//!
//! MM2 splits the switch between the Connect worker (`exactly.once.source.support = enabled`, top level
//! or `<target>.`-prefixed) and the connector (`exactly.once.support = requested | required`). ferry has
//! no worker/connector split: the flow runs in exactly-once mode when the worker key is `enabled`, or
//! when the connector key is `required` (or `enabled`). Like MM2, exactly-once needs a source consumer
//! that reads committed records only (`isolation.level = read_committed`, librdkafka's default).

use super::error::ConfigError;
use super::scope::FlowScope;
use crate::client_props::ClientProps;

/// Resolves the flow's exactly-once switch.
///
/// # Errors
/// An unknown value of either key, or exactly-once with a `read_uncommitted` source consumer, naming
/// the key.
pub(crate) fn resolve(scope: &FlowScope<'_>, source: &str, consumer: &ClientProps) -> Result<bool, ConfigError> {
    let worker = match scope.worker("exactly.once.source.support") {
        None => false,
        Some(f) => match f.value.to_ascii_lowercase().as_str() {
            "enabled" => true,
            "disabled" | "preparing" => false,
            _ => return Err(ConfigError::new(f.key, "must be `enabled`, `preparing` or `disabled`")),
        },
    };
    let connector = match scope.connector("exactly.once.support") {
        None => false,
        Some(f) => match f.value.to_ascii_lowercase().as_str() {
            "required" | "enabled" => true,
            "requested" => false,
            _ => return Err(ConfigError::new(f.key, "must be `requested`, `required` or `enabled`")),
        },
    };
    let on = worker || connector;
    let uncommitted = consumer.props.get("isolation.level").is_some_and(|v| v.eq_ignore_ascii_case("read_uncommitted"));
    if on && uncommitted {
        return Err(ConfigError::new(
            format!("{source}.consumer.isolation.level"),
            "exactly-once copying needs `read_committed` (a copy of an aborted transaction cannot be undone)",
        ));
    }
    Ok(on)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::raw;

    fn consumer(isolation: Option<&str>) -> ClientProps {
        let mut props = ClientProps::default();
        if let Some(level) = isolation {
            props.props.insert("isolation.level".into(), level.into());
        }
        props
    }

    #[test]
    fn off_by_default_on_with_either_key() {
        let r = raw(&[]);
        assert!(!resolve(&FlowScope::new(&r, "a", "b"), "a", &consumer(None)).expect("ok"));
        let r = raw(&[("b.exactly.once.source.support", "enabled")]);
        assert!(resolve(&FlowScope::new(&r, "a", "b"), "a", &consumer(None)).expect("ok"));
        let r = raw(&[("a->b.exactly.once.support", "required")]);
        assert!(resolve(&FlowScope::new(&r, "a", "b"), "a", &consumer(None)).expect("ok"));
        let r = raw(&[("exactly.once.source.support", "preparing"), ("exactly.once.support", "requested")]);
        assert!(!resolve(&FlowScope::new(&r, "a", "b"), "a", &consumer(None)).expect("ok"));
    }

    #[test]
    fn bad_values_and_uncommitted_reads_name_the_key() {
        let r = raw(&[("exactly.once.support", "yes")]);
        let e = resolve(&FlowScope::new(&r, "a", "b"), "a", &consumer(None)).expect_err("bad value");
        assert_eq!(e.key, "exactly.once.support");
        let r = raw(&[("exactly.once.source.support", "enabled")]);
        let e = resolve(&FlowScope::new(&r, "a", "b"), "a", &consumer(Some("read_uncommitted"))).expect_err("dirty");
        assert_eq!(e.key, "a.consumer.isolation.level");
    }
}
