//! Typed parsing of property values (booleans, integers, durations) with errors naming the key.
//!
//! Mirrors Kafka's `ConfigDef` parsing: values are already trimmed, booleans are
//! case-insensitive `true`/`false`, integers are decimal with an optional sign.

use super::error::ConfigError;
use std::str::FromStr;
use std::time::Duration;

/// Parses a case-insensitive `true`/`false`.
///
/// # Errors
///
/// Any other text is an error naming `key`.
pub(crate) fn parse_bool(key: &str, value: &str) -> Result<bool, ConfigError> {
    if value.eq_ignore_ascii_case("true") {
        Ok(true)
    } else if value.eq_ignore_ascii_case("false") {
        Ok(false)
    } else {
        Err(ConfigError::new(key, format!("expected `true` or `false`, got `{value}`")))
    }
}

/// Parses an integer of type `T` that must be at least `min`.
///
/// # Errors
///
/// Non-numeric, out-of-range or below-`min` values are errors naming `key`.
pub(crate) fn parse_int<T>(key: &str, value: &str, min: T) -> Result<T, ConfigError>
where
    T: FromStr + PartialOrd + Copy + std::fmt::Display,
{
    let n: T = value.parse().map_err(|_| ConfigError::new(key, format!("expected a whole number, got `{value}`")))?;
    if n < min {
        return Err(ConfigError::new(key, format!("must be at least {min}, got {n}")));
    }
    Ok(n)
}

/// Parses a replication factor: a positive number, or `-1` for the broker default.
///
/// # Errors
///
/// Zero, values below -1, or non-numbers are errors naming `key`.
pub(crate) fn parse_replication_factor(key: &str, value: &str) -> Result<i16, ConfigError> {
    let n: i16 = parse_int(key, value, -1)?;
    if n == 0 {
        return Err(ConfigError::new(key, "must be positive, or -1 for the broker default"));
    }
    Ok(n)
}

/// Parses a positive number of milliseconds.
///
/// # Errors
///
/// Non-numbers and values below 1 are errors naming `key`.
pub(crate) fn parse_positive_millis(key: &str, value: &str) -> Result<Duration, ConfigError> {
    parse_int::<u64>(key, value, 1).map(Duration::from_millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans_are_case_insensitive() {
        assert!(parse_bool("k", "TRUE").expect("bool"));
        assert!(!parse_bool("k", "False").expect("bool"));
        let e = parse_bool("k", "yes").expect_err("not a bool");
        assert_eq!(e.key, "k");
    }

    #[test]
    fn ints_reject_text_negative_and_overflow() {
        assert_eq!(parse_int::<i32>("k", "25", 1).expect("int"), 25);
        assert!(parse_int::<i32>("k", "abc", 1).is_err());
        assert!(parse_int::<u64>("k", "-5", 0).is_err());
        assert!(parse_int::<i16>("k", "70000", 1).is_err());
        assert!(parse_int::<i32>("k", "0", 1).is_err());
    }

    #[test]
    fn replication_factor_allows_minus_one_only() {
        assert_eq!(parse_replication_factor("k", "-1").expect("rf"), -1);
        assert_eq!(parse_replication_factor("k", "3").expect("rf"), 3);
        assert!(parse_replication_factor("k", "0").is_err());
        assert!(parse_replication_factor("k", "-2").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_positive_millis("k", "1000").expect("ms"), Duration::from_millis(1000));
        assert!(parse_positive_millis("k", "0").is_err());
    }
}
