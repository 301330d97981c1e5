//! Reading `mm2.properties` text into key/value pairs with Java `Properties` semantics.
//!
//! The `java-properties` crate handles escapes, line continuations, the `=`/`:`/whitespace
//! separators and `#`/`!` comments. On top of that this module trims values (MM2's `ConfigDef`
//! trims every value it parses), keeps the first-seen order of keys (so flows come out in file
//! order) and warns about quoted values: Java keeps quotes as part of the value, so
//! `topics.exclude="__.*"` is the regex `"__.*"` *with* the quotes, which matches nothing.

use super::error::{ConfigError, ConfigWarning};
use std::collections::BTreeMap;

/// Properties as read: the last value of each key wins (as in Java), and `order` lists each key
/// once, at its first occurrence.
#[derive(Debug, Default, Clone)]
pub(crate) struct RawProperties {
    /// Every key with its trimmed value.
    pub map: BTreeMap<String, String>,
    /// Keys in first-seen file order.
    pub order: Vec<String>,
    /// Quoted-value warnings.
    pub warnings: Vec<ConfigWarning>,
}

/// Parses properties text (UTF-8; Java would read ISO-8859-1, which only differs for non-ASCII).
///
/// # Errors
///
/// A malformed escape (for example a bad `\uXXXX`) yields an error whose key is `line N`.
pub(crate) fn read_properties(text: &str) -> Result<RawProperties, ConfigError> {
    let mut raw = RawProperties::default();
    let iter = java_properties::PropertiesIter::new_with_encoding(text.as_bytes(), encoding_rs::UTF_8);
    for line in iter {
        let line = line.map_err(|e| {
            let key = e.line_number().map_or_else(|| "mm2.properties".to_string(), |n| format!("line {n}"));
            ConfigError::new(key, format!("cannot parse properties: {e}"))
        })?;
        if let java_properties::LineContent::KVPair(key, value) = line.consume_content() {
            let value = value.trim().to_string();
            if is_quoted(&value) {
                let shown = if crate::client_props::is_secret(&key) { crate::client_props::MASK } else { &value };
                raw.warnings.push(ConfigWarning::new(
                    key.clone(),
                    format!(
                        "value {shown} is wrapped in quotes; Java properties keep quotes, so they are \
                         part of the value (and of any regex) and are used literally"
                    ),
                ));
            }
            if !raw.map.contains_key(&key) {
                raw.order.push(key.clone());
            }
            raw.map.insert(key, value);
        }
    }
    Ok(raw)
}

/// True when `value` is wrapped in a matching pair of double or single quotes.
fn is_quoted(value: &str) -> bool {
    let b = value.as_bytes();
    b.len() >= 2 && (b[0] == b'"' || b[0] == b'\'') && b[b.len() - 1] == b[0]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separators_escapes_continuations_and_comments() {
        let text = "# comment\n! also comment\na = 1\nb:2\nc 3\nd=x\\\n   y\ne=tab\\tend\nf\\ key=v\n  g =  spaced  \n";
        let raw = read_properties(text).expect("parses");
        assert_eq!(raw.map["a"], "1");
        assert_eq!(raw.map["b"], "2");
        assert_eq!(raw.map["c"], "3");
        assert_eq!(raw.map["d"], "xy");
        assert_eq!(raw.map["e"], "tab\tend");
        assert_eq!(raw.map["f key"], "v");
        assert_eq!(raw.map["g"], "spaced");
        assert_eq!(raw.order, vec!["a", "b", "c", "d", "e", "f key", "g"]);
        assert!(raw.warnings.is_empty());
    }

    #[test]
    fn last_value_wins_first_position_kept() {
        let raw = read_properties("a=1\nb=2\na=3\n").expect("parses");
        assert_eq!(raw.map["a"], "3");
        assert_eq!(raw.order, vec!["a", "b"]);
    }

    #[test]
    fn quoted_secrets_are_not_shown_in_the_warning() {
        let raw = read_properties("src.ssl.key.password = \"hunter2\"\n").expect("parses");
        assert_eq!(raw.warnings.len(), 1);
        let shown = raw.warnings[0].to_string();
        assert!(shown.contains("src.ssl.key.password") && !shown.contains("hunter2"), "{shown}");
    }

    #[test]
    fn quoted_values_are_literal_with_warning() {
        let raw = read_properties("topics.blacklist=\"__.*\"\nx='y'\nz=\"half\n").expect("parses");
        assert_eq!(raw.map["topics.blacklist"], "\"__.*\"");
        assert_eq!(raw.map["x"], "'y'");
        assert_eq!(raw.warnings.len(), 2);
        assert_eq!(raw.warnings[0].key, "topics.blacklist");
        assert!(raw.warnings[0].message.contains("quotes"));
    }

    #[test]
    fn bad_unicode_escape_is_an_error_naming_the_line() {
        let err = read_properties("a=1\nb=\\u12\n").expect_err("bad escape");
        assert!(err.key.starts_with("line"), "{err}");
    }
}
