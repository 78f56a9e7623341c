//! JSON pointers (RFC 6901), parsed once where they enter the program.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// A syntactically valid JSON pointer such as `/id` or `/address/zip`.
///
/// The empty pointer (the whole document) is allowed by RFC 6901 but is never
/// a useful key or upgrade target, so [`JsonPointer::parse`] rejects it.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct JsonPointer {
    text: String,
    segments: Vec<String>,
}

impl JsonPointer {
    /// Parses `/a/b~1c` into its unescaped segments.
    pub fn parse(text: &str) -> Result<Self, String> {
        let Some(rest) = text.strip_prefix('/') else {
            return Err(format!(
                "`{text}` is not a JSON pointer: it must start with `/`"
            ));
        };
        let mut segments = Vec::new();
        for raw in rest.split('/') {
            if raw.contains('~') && !valid_escapes(raw) {
                return Err(format!(
                    "`{text}` is not a JSON pointer: `~` must be followed by 0 or 1"
                ));
            }
            segments.push(raw.replace("~1", "/").replace("~0", "~"));
        }
        Ok(Self {
            text: text.to_owned(),
            segments,
        })
    }

    /// The unescaped reference tokens, outermost first.
    pub fn segments(&self) -> &[String] {
        &self.segments
    }

    /// The pointer as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The value at this pointer, if there is one.
    pub fn get<'v>(&self, value: &'v Value) -> Option<&'v Value> {
        // By the segments unescaped at parse: `Value::pointer` would unescape
        // the text again, allocating, on every call of the write path.
        self.segments
            .iter()
            .try_fold(value, |value, segment| match value {
                Value::Object(map) => map.get(segment),
                Value::Array(items) => items.get(array_index(segment)?),
                _ => None,
            })
    }

    /// Removes and returns the value at this pointer.
    pub fn take(&self, value: &mut Value) -> Option<Value> {
        let (last, parents) = self.segments.split_last()?;
        match walk_mut(value, parents)? {
            Value::Object(map) => map.remove(last),
            Value::Array(items) => {
                let index = last.parse::<usize>().ok().filter(|i| *i < items.len())?;
                Some(items.remove(index))
            }
            _ => None,
        }
    }

    /// Sets the value at this pointer, creating missing objects on the way.
    /// Returns false when a parent on the way is not an object.
    pub fn set(&self, value: &mut Value, new: Value) -> bool {
        let Some((last, parents)) = self.segments.split_last() else {
            return false;
        };
        let mut current = value;
        for segment in parents {
            let Value::Object(map) = current else {
                return false;
            };
            current = map
                .entry(segment.clone())
                .or_insert_with(|| Value::Object(Default::default()));
        }
        match current {
            Value::Object(map) => {
                map.insert(last.clone(), new);
                true
            }
            _ => false,
        }
    }

    /// The pointer to what holds this one's target; None for a top-level
    /// member (the document itself is never a pointer here).
    pub fn parent(&self) -> Option<JsonPointer> {
        let (_, parents) = self.segments.split_last()?;
        if parents.is_empty() {
            return None;
        }
        let text = parents
            .iter()
            .fold(String::new(), |text, segment| push_token(&text, segment));
        Some(Self {
            text,
            segments: parents.to_vec(),
        })
    }

    /// The value at this pointer, mutably.
    pub fn get_mut<'v>(&self, value: &'v mut Value) -> Option<&'v mut Value> {
        self.segments
            .iter()
            .try_fold(value, |value, segment| match value {
                Value::Object(map) => map.get_mut(segment),
                Value::Array(items) => items.get_mut(array_index(segment)?),
                _ => None,
            })
    }
}

/// An array index token as `Value::pointer` reads one: digits without a
/// sign or a leading zero.
fn array_index(token: &str) -> Option<usize> {
    if token.starts_with('+') || (token.starts_with('0') && token.len() != 1) {
        return None;
    }
    token.parse().ok()
}

fn valid_escapes(raw: &str) -> bool {
    let bytes = raw.as_bytes();
    bytes
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'~')
        .all(|(i, _)| matches!(bytes.get(i + 1), Some(b'0' | b'1')))
}

fn walk_mut<'v>(mut value: &'v mut Value, segments: &[String]) -> Option<&'v mut Value> {
    for segment in segments {
        value = match value {
            Value::Object(map) => map.get_mut(segment)?,
            Value::Array(items) => items.get_mut(segment.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(value)
}

/// Appends one reference token to a pointer, escaping it (RFC 6901 §3).
pub fn push_token(pointer: &str, token: &str) -> String {
    format!("{pointer}/{}", token.replace('~', "~0").replace('/', "~1"))
}

impl fmt::Display for JsonPointer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for JsonPointer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "JsonPointer({})", self.text)
    }
}

impl Serialize for JsonPointer {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for JsonPointer {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        JsonPointer::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn get_reads_as_value_pointer_does() {
        let doc = json!({"a": [10, {"b/c": 1, "d~e": 2}], "": 3});
        for text in [
            "/a",
            "/a/0",
            "/a/1/b~1c",
            "/a/1/d~0e",
            "/a/01",
            "/a/+1",
            "/a/-",
            "/a/2",
            "/x",
            "/",
            "/a/0/z",
        ] {
            let pointer = JsonPointer::parse(text).unwrap();
            assert_eq!(pointer.get(&doc), doc.pointer(text), "{text}");
            let mut copy = doc.clone();
            let found = pointer.get_mut(&mut copy).map(|v| v.clone());
            assert_eq!(found.as_ref(), doc.pointer(text), "{text}");
        }
    }

    #[test]
    fn parses_and_unescapes_segments() {
        let pointer = JsonPointer::parse("/a~1b/c~0d/0").unwrap();
        assert_eq!(pointer.segments(), ["a/b", "c~d", "0"]);
        assert!(JsonPointer::parse("id").is_err());
        assert!(JsonPointer::parse("/a~2").is_err());
    }

    #[test]
    fn set_creates_parents_and_take_removes() {
        let mut doc = json!({"a": 1});
        let pointer = JsonPointer::parse("/b/c").unwrap();
        assert!(pointer.set(&mut doc, json!(2)));
        assert_eq!(doc, json!({"a": 1, "b": {"c": 2}}));
        assert_eq!(pointer.take(&mut doc), Some(json!(2)));
        assert_eq!(doc, json!({"a": 1, "b": {}}));
        assert!(!JsonPointer::parse("/a/x").unwrap().set(&mut doc, json!(0)));
    }

    #[test]
    fn parent_stops_below_the_document() {
        let pointer = JsonPointer::parse("/a~1b/c/d").unwrap();
        let parent = pointer.parent().unwrap();
        assert_eq!(
            (parent.as_str(), parent.segments()),
            ("/a~1b/c", &["a/b".to_owned(), "c".to_owned()][..])
        );
        assert_eq!(parent.parent().unwrap().as_str(), "/a~1b");
        assert!(JsonPointer::parse("/a").unwrap().parent().is_none());
    }

    #[test]
    fn push_token_escapes() {
        assert_eq!(push_token("/x", "a/b~"), "/x/a~1b~0");
    }
}
