//! Names and numbers that arrive as text (from files or URLs) and are
//! checked once, where they enter.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// A contract's name: lowercase letters, digits, `_` and `-`, starting with a
/// letter, at most 64 characters (it appears in URLs, table names and event
/// types).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContractName(String);

impl ContractName {
    /// Checks the spelling of a name.
    pub fn parse(text: &str) -> Result<Self, String> {
        let starts_with_letter = text.chars().next().is_some_and(|c| c.is_ascii_lowercase());
        let allowed = text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
        if starts_with_letter && allowed && text.len() <= 64 {
            Ok(Self(text.to_owned()))
        } else {
            Err(format!(
                "`{text}` is not a contract name: use lowercase letters, digits, `_` or `-`, starting with a letter, at most 64 characters"
            ))
        }
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ContractName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for ContractName {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ContractName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// A version number of a contract: 1, 2, 3 …
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct Version(u32);

impl Version {
    /// A version number; 0 is not one.
    pub fn new(number: u32) -> Result<Self, String> {
        if number == 0 {
            Err("versions are numbered from 1".to_owned())
        } else {
            Ok(Self(number))
        }
    }

    /// Parses the URL form `v2`.
    pub fn parse_segment(segment: &str) -> Option<Self> {
        let digits = segment.strip_prefix('v')?;
        if digits.starts_with('0') || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.parse().ok().and_then(|n| Self::new(n).ok())
    }

    /// The number itself.
    pub fn number(self) -> u32 {
        self.0
    }
}

impl TryFrom<u32> for Version {
    type Error = String;
    fn try_from(number: u32) -> Result<Self, String> {
        Self::new(number)
    }
}

impl From<Version> for u32 {
    fn from(version: Version) -> u32 {
        version.0
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}", self.0)
    }
}

/// The key of one record: the text form of the value at the contract's key
/// pointer (a string, or an integer written in decimal).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecordKey(String);

/// Keys appear in URLs and primary keys; this bounds both.
const KEY_LIMIT: usize = 512;

impl RecordKey {
    /// A key as it appears in a URL path.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.is_empty() {
            Err("a record key cannot be empty".to_owned())
        } else if text.len() > KEY_LIMIT {
            Err(format!("a record key is at most {KEY_LIMIT} bytes"))
        } else {
            Ok(Self(text.to_owned()))
        }
    }

    /// The key held by a payload value: strings as they are, integers in
    /// decimal; anything else cannot be a key.
    pub fn from_value(value: &Value) -> Result<Self, String> {
        match value {
            Value::String(text) => Self::parse(text),
            Value::Number(n) if n.is_i64() || n.is_u64() => Self::parse(&n.to_string()),
            other => Err(format!(
                "a record key must be a string or an integer, not {other}"
            )),
        }
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RecordKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether a name can be a table, column or schema name in every SQL
/// dialect unquoted: a letter, then letters, digits and `_`, 63 at most.
pub fn is_sql_identifier(name: &str) -> bool {
    name.len() <= 63
        && name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn contract_names_are_checked() {
        assert!(ContractName::parse("customer_v-2").is_ok());
        for bad in ["", "Customer", "1st", "a b", "a/b"] {
            assert!(ContractName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn versions_parse_from_url_segments() {
        assert_eq!(Version::parse_segment("v12").map(Version::number), Some(12));
        for bad in ["12", "v0", "v01", "v", "v-1", "v1x", "v99999999999"] {
            assert_eq!(Version::parse_segment(bad), None, "{bad}");
        }
    }

    #[test]
    fn keys_come_from_strings_and_integers() {
        assert_eq!(
            RecordKey::from_value(&json!("c-1")).unwrap().as_str(),
            "c-1"
        );
        assert_eq!(RecordKey::from_value(&json!(42)).unwrap().as_str(), "42");
        assert!(RecordKey::from_value(&json!(1.5)).is_err());
        assert!(RecordKey::from_value(&json!("")).is_err());
        assert!(RecordKey::from_value(&json!(null)).is_err());
    }
}
