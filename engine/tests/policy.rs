//! Property tests for replication policies and filters.

use ferry_engine::filter::TopicFilter;
use ferry_engine::policy::ReplicationPolicy;
use proptest::prelude::*;

proptest! {
    #[test]
    fn default_policy_round_trips(alias in "[a-z][a-z0-9-]{0,10}", topic in "[a-zA-Z0-9_-][a-zA-Z0-9._-]{0,30}[a-zA-Z0-9_-]") {
        let p = ReplicationPolicy::default();
        let remote = p.format_remote_topic(&alias, &topic);
        prop_assert_eq!(p.topic_source(&remote), Some(alias.clone()));
        prop_assert_eq!(p.upstream_topic(&remote), Some(topic.clone()));
        prop_assert!(p.is_cycle(&remote, &alias));
        prop_assert_eq!(p.original_topic(&p.format_remote_topic("b", &remote)), p.original_topic(&topic));
    }

    #[test]
    fn identity_never_renames_or_detects_cycles(alias in "[a-z]{1,8}", topic in "[a-z][a-z0-9.]{0,20}") {
        prop_assume!(!topic.ends_with("heartbeats"));
        let p = ReplicationPolicy::Identity { source_alias: alias.clone(), separator: ".".into(), internal_separator_enabled: true };
        prop_assert_eq!(p.format_remote_topic(&alias, &topic), topic.clone());
        prop_assert!(!p.is_cycle(&topic, "target"));
    }

    #[test]
    fn policies_never_panic(topic in any::<String>(), sep in "[._-]{1,2}", target in any::<String>()) {
        let p = ReplicationPolicy::Default { separator: sep, internal_separator_enabled: true };
        let _ = p.is_cycle(&topic, &target);
        let _ = p.is_heartbeats_topic(&topic);
        let _ = p.original_topic(&topic);
        let _ = p.is_internal_topic(&topic);
    }

    #[test]
    fn literal_include_is_exact(name in "[a-z0-9]{1,12}", other in "[a-z0-9]{1,12}") {
        let f = TopicFilter::new(&name, "").expect("valid");
        prop_assert!(f.accepts(&name));
        prop_assert_eq!(f.accepts(&other), other == name);
    }
}
