//! MM2's default topic, group and topic-config-property filters.
//!
//! MM2 (`DefaultTopicFilter`, `DefaultGroupFilter`, `DefaultConfigPropertyFilter`) takes a
//! comma-separated list of regexes, joins them with `|` and requires a **full** match
//! (`Matcher.matches`). Exclusions win over inclusions. Ferry follows that exactly, except that
//! empty list items are dropped (Java would turn `a,,b` into an alternative matching `""`, which
//! no topic name is). An empty list matches nothing.
//!
//! # Layout
//!
//! [`PatternList`] is one compiled list; [`NameFilter`] pairs an include and an exclude list
//! ([`TopicFilter`], [`GroupFilter`]); [`ConfigPropertyFilter`] has only an exclude list.
//!
//! ```
//! use ferry_engine::filter::TopicFilter;
//! let f = TopicFilter::new("foo-.*, bar", TopicFilter::DEFAULT_EXCLUDE).unwrap();
//! assert!(f.accepts("foo-1"));
//! assert!(!f.accepts("foo"));
//! assert!(!f.accepts("bar.internal"));
//! ```

use std::marker::PhantomData;

use regex::Regex;

/// A comma-separated list of regexes compiled into one full-match alternation.
#[derive(Debug, Clone)]
pub struct PatternList {
    /// The list as written (for display).
    source: String,
    /// `\A(?:a|b)\z`, or `None` when the list is empty (matches nothing).
    regex: Option<Regex>,
}

impl PatternList {
    /// Compiles a comma-separated list; items are trimmed and empty items dropped.
    ///
    /// # Errors
    ///
    /// Returns the regex error when an item (or their alternation) is not a valid regex.
    pub fn parse(list: &str) -> Result<Self, regex::Error> {
        let items: Vec<&str> = split_list(list);
        let regex = if items.is_empty() {
            None
        } else {
            // Validate each item alone first so that an error points at the bad item.
            for item in &items {
                Regex::new(&format!("\\A(?:{item})\\z"))?;
            }
            Some(Regex::new(&format!("\\A(?:{})\\z", items.join("|")))?)
        };
        Ok(Self { source: list.to_string(), regex })
    }

    /// True when `name` fully matches one of the patterns.
    pub fn matches(&self, name: &str) -> bool {
        self.regex.as_ref().is_some_and(|r| r.is_match(name))
    }

    /// The list as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }
}

/// Splits an MM2 comma list: items trimmed, empty items dropped.
pub fn split_list(list: &str) -> Vec<&str> {
    list.split(',').map(str::trim).filter(|s| !s.is_empty()).collect()
}

/// The MM2 default lists of a [`NameFilter`].
pub trait FilterDefaults {
    /// Default include list.
    const INCLUDE: &'static str;
    /// Default exclude list.
    const EXCLUDE: &'static str;
}

/// An include list and an exclude list: a name is accepted when it matches the include list and not
/// the exclude list (exclusions win). `D` only selects the MM2 defaults.
#[derive(Debug, Clone)]
pub struct NameFilter<D> {
    include: PatternList,
    exclude: PatternList,
    defaults: PhantomData<D>,
}

/// Which topics a flow replicates (`topics` / `topics.exclude`).
pub type TopicFilter = NameFilter<Topics>;
/// Which consumer groups a flow checkpoints (`groups` / `groups.exclude`).
pub type GroupFilter = NameFilter<Groups>;

/// MM2's topic filter defaults.
#[derive(Debug, Clone)]
pub enum Topics {}

impl FilterDefaults for Topics {
    const INCLUDE: &'static str = ".*";
    const EXCLUDE: &'static str = ".*[\\-\\.]internal, .*\\.replica, __.*";
}

/// MM2's group filter defaults.
#[derive(Debug, Clone)]
pub enum Groups {}

impl FilterDefaults for Groups {
    const INCLUDE: &'static str = ".*";
    const EXCLUDE: &'static str = "console-consumer-.*, connect-.*, __.*";
}

impl<D: FilterDefaults> NameFilter<D> {
    /// MM2's default include list (`topics` / `groups`).
    pub const DEFAULT_INCLUDE: &'static str = D::INCLUDE;
    /// MM2's default exclude list (`topics.exclude` / `groups.exclude`).
    pub const DEFAULT_EXCLUDE: &'static str = D::EXCLUDE;

    /// Builds a filter from include and exclude comma lists.
    ///
    /// # Errors
    ///
    /// Returns the regex error of the first invalid list.
    pub fn new(include: &str, exclude: &str) -> Result<Self, regex::Error> {
        Ok(Self::from_lists(PatternList::parse(include)?, PatternList::parse(exclude)?))
    }

    /// Builds a filter from compiled lists.
    pub fn from_lists(include: PatternList, exclude: PatternList) -> Self {
        Self { include, exclude, defaults: PhantomData }
    }

    /// MM2 `shouldReplicateTopic` / `shouldReplicateGroup` of the filter: included and not excluded.
    pub fn accepts(&self, name: &str) -> bool {
        self.include.matches(name) && !self.exclude.matches(name)
    }

    /// The include list.
    pub fn include(&self) -> &PatternList {
        &self.include
    }

    /// The exclude list.
    pub fn exclude(&self) -> &PatternList {
        &self.exclude
    }
}

impl<D: FilterDefaults> Default for NameFilter<D> {
    fn default() -> Self {
        // Proof: both defaults are constant, valid regex lists (checked by a unit test).
        #[allow(clippy::unwrap_used)]
        Self::new(D::INCLUDE, D::EXCLUDE).unwrap()
    }
}

/// Which topic config properties are copied to remote topics (`config.properties.exclude`).
#[derive(Debug, Clone)]
pub struct ConfigPropertyFilter {
    exclude: PatternList,
}

impl ConfigPropertyFilter {
    /// MM2's default `config.properties.exclude`.
    pub const DEFAULT_EXCLUDE: &'static str = "follower\\.replication\\.throttled\\.replicas, \
         leader\\.replication\\.throttled\\.replicas, message\\.timestamp\\.difference\\.max\\.ms, \
         message\\.timestamp\\.type, unclean\\.leader\\.election\\.enable, min\\.insync\\.replicas";

    /// Builds a filter from an exclude comma list.
    ///
    /// # Errors
    ///
    /// Returns the regex error when the list is invalid.
    pub fn new(exclude: &str) -> Result<Self, regex::Error> {
        Ok(Self { exclude: PatternList::parse(exclude)? })
    }

    /// MM2 `shouldReplicateConfigProperty`: not excluded.
    pub fn should_replicate(&self, name: &str) -> bool {
        !self.exclude.matches(name)
    }
}

impl Default for ConfigPropertyFilter {
    fn default() -> Self {
        // Proof: the default is a constant, valid regex list (checked by a unit test).
        #[allow(clippy::unwrap_used)]
        Self::new(Self::DEFAULT_EXCLUDE).unwrap()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_compile_and_behave_like_mm2() {
        let t = TopicFilter::default();
        assert!(t.accepts("orders"));
        assert!(!t.accepts("mm2-offsets.src.internal"));
        assert!(!t.accepts("connect-internal"));
        assert!(!t.accepts("orders.replica"));
        assert!(!t.accepts("__consumer_offsets"));
        let g = GroupFilter::default();
        assert!(g.accepts("my-app"));
        assert!(!g.accepts("console-consumer-123"));
        assert!(!g.accepts("connect-mm2"));
        assert!(!g.accepts("__x"));
        let c = ConfigPropertyFilter::default();
        assert!(c.should_replicate("retention.ms"));
        assert!(!c.should_replicate("min.insync.replicas"));
        assert!(!c.should_replicate("unclean.leader.election.enable"));
        assert!(!c.should_replicate("leader.replication.throttled.replicas"));
    }

    #[test]
    fn full_match_not_substring() {
        let t = TopicFilter::new("foo", "").expect("valid");
        assert!(t.accepts("foo"));
        assert!(!t.accepts("foobar"));
        assert!(!t.accepts("xfoo"));
        // The alternation is anchored as a whole, not just its first/last item.
        let t = TopicFilter::new("a, b", "").expect("valid");
        assert!(!t.accepts("ab"));
        assert!(!t.accepts("ba"));
        assert!(t.accepts("b"));
    }

    #[test]
    fn items_trimmed_and_empty_dropped() {
        let t = TopicFilter::new(" foo ,, bar ,", "").expect("valid");
        assert!(t.accepts("foo"));
        assert!(t.accepts("bar"));
        assert!(!t.accepts(""));
    }

    #[test]
    fn empty_include_matches_nothing_and_exclude_wins() {
        let t = TopicFilter::new("", "").expect("valid");
        assert!(!t.accepts("foo"));
        let t = TopicFilter::new(".*", "foo.*").expect("valid");
        assert!(!t.accepts("foo1"));
        assert!(t.accepts("bar"));
    }

    #[test]
    fn invalid_regex_is_an_error() {
        assert!(TopicFilter::new("foo(", "").is_err());
        assert!(PatternList::parse("a, [b").is_err());
    }

    #[test]
    fn quoted_pattern_is_literal() {
        let p = PatternList::parse("\"__.*\"").expect("valid");
        assert!(!p.matches("__x"));
        assert!(p.matches("\"__x\""));
    }
}
