//! Configuration errors and warnings.
//!
//! Both carry the offending property key so that `ferry check` (and startup) can print one
//! actionable line per problem. Errors stop startup (exit code 2); warnings are reported and
//! startup continues, because users bring MM2 files with keys ferry may not use yet.

use std::fmt;

/// A configuration problem that prevents ferry from starting.
///
/// Displayed as one line: ``key `src->dest.topics`: invalid regex: ...``.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("key `{key}`: {problem}")]
pub struct ConfigError {
    /// The property key at fault (or the file path when the file cannot be read, or `--clusters`).
    pub key: String,
    /// What is wrong, in words an operator can act on.
    pub problem: String,
}

impl ConfigError {
    /// Builds an error for `key`. The problem is folded onto one line (the CLI contract is a one-line
    /// message): multi-line texts such as the regex crate's are joined with "; ".
    pub fn new(key: impl Into<String>, problem: impl Into<String>) -> Self {
        Self { key: key.into(), problem: one_line(&problem.into()) }
    }
}

/// Joins the non-blank lines of `text` with "; ", trimming each.
fn one_line(text: &str) -> String {
    text.lines().map(str::trim).filter(|line| !line.is_empty()).collect::<Vec<_>>().join("; ")
}

/// A configuration oddity that does not prevent startup (unknown key, removed alias, dropped
/// Java-only client property, quoted value, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigWarning {
    /// The property key concerned.
    pub key: String,
    /// What ferry did about it.
    pub message: String,
}

impl ConfigWarning {
    /// Builds a warning for `key`.
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self { key: key.into(), message: message.into() }
    }
}

impl fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "key `{}`: {}", self.key, self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_one_line_naming_the_key() {
        let e = ConfigError::new("src->dest.topics", "invalid regex: unclosed group");
        assert_eq!(e.to_string(), "key `src->dest.topics`: invalid regex: unclosed group");
        let w = ConfigWarning::new("foo", "unknown key, ignored");
        assert_eq!(w.to_string(), "key `foo`: unknown key, ignored");
    }

    #[test]
    fn multi_line_problems_are_folded_onto_one_line() {
        let e = ConfigError::new("k", "invalid regex: regex parse error:\n    (a\n    ^\nerror: unclosed group\n");
        assert_eq!(e.to_string(), "key `k`: invalid regex: regex parse error:; (a; ^; error: unclosed group");
        assert_eq!(e.to_string().lines().count(), 1);
    }
}
