//! A version's canonical schema hash: what "the same schema" means when a
//! published version must never change. Spelling that does not change
//! meaning (whitespace, key order, `1.0` for `1`) gives the same hash; any
//! other edit gives another.
//!
//! - Avro: SHA-256 of the Parsing Canonical Form (the Avro specification's,
//!   computed by apache-avro): names made full, attributes that do not
//!   change what is read (`doc`, `aliases`, defaults) dropped.
//! - JSON Schema: SHA-256 of a canonical JSON serialisation (keys sorted,
//!   no whitespace, integral numbers without a fraction, strings escaped
//!   as serde_json does), followed by that of every file the schema
//!   reaches through `$ref`, each named by the reference that reached it:
//!   editing a shared file changes every version that uses it.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::schema::{RefRoots, Schema};
use super::Error;

/// `sha256:<hex>` of the schema's canonical form; `path` is the file it
/// was read from, whose `$ref`s resolve in `roots`.
pub fn schema_hash(schema: &Schema, path: &Path, roots: &RefRoots) -> Result<String, Error> {
    let text = match schema.avro() {
        Some(avro) => avro.canonical_form(),
        None => {
            let raw = schema.raw();
            let mut text = canonical_json(&raw);
            let mut seen = HashSet::from([path.to_path_buf()]);
            append_references(path, &raw, roots, &mut seen, &mut text)?;
            text
        }
    };
    let digest = Sha256::digest(text.as_bytes());
    let mut hex = String::with_capacity(7 + 64);
    hex.push_str("sha256:");
    for byte in digest {
        let _ = write!(hex, "{byte:02x}");
    }
    Ok(hex)
}

/// Appends each file `document` references (and those they reference), in
/// the order met, as `\n<reference>\n<canonical JSON>`.
fn append_references(
    path: &Path,
    document: &Value,
    roots: &RefRoots,
    seen: &mut HashSet<PathBuf>,
    out: &mut String,
) -> Result<(), Error> {
    let mut references = Vec::new();
    file_references(document, &mut references);
    for reference in references {
        let (target, value) = roots
            .load(path, &reference)
            .map_err(|m| Error::new(path, format!("`$ref: {reference}`: {m}")))?;
        if seen.insert(target.clone()) {
            out.push('\n');
            out.push_str(&reference);
            out.push('\n');
            out.push_str(&canonical_json(&value));
            append_references(&target, &value, roots, seen, out)?;
        }
    }
    Ok(())
}

/// Every `$ref` naming another file, in document order (keys sorted).
fn file_references(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(reference)) = map.get("$ref") {
                if !reference.starts_with('#') {
                    out.push(reference.clone());
                }
            }
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            for key in keys {
                // Values there are data, not schemas.
                if !matches!(key.as_str(), "enum" | "const" | "default" | "examples") {
                    file_references(&map[key], out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| file_references(item, out)),
        _ => {}
    }
}

/// The value as compact JSON with sorted keys and integral numbers written
/// as integers, whatever order and spelling the file used.
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(item, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        Value::Number(number) => match number.as_f64() {
            // 1.0 and 1 are the same number to a validator.
            Some(f)
                if number.is_f64() && f.fract() == 0.0 && f.abs() < 9.007_199_254_740_992e15 =>
            {
                let _ = write!(out, "{}", f as i64);
            }
            _ => out.push_str(&number.to_string()),
        },
        other => out.push_str(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn key_order_whitespace_and_integral_fractions_do_not_matter() {
        let a: Value =
            serde_json::from_str(r#"{"b": [1.0, {"y": 2, "x": "é\n"}], "a": null}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{"a":null,"b":[1,{"x":"é\n","y":2.0}]}"#).unwrap();
        assert_eq!(canonical_json(&a), canonical_json(&b));
        assert_eq!(
            canonical_json(&a),
            r#"{"a":null,"b":[1,{"x":"é\n","y":2}]}"#
        );
        assert_ne!(
            canonical_json(&json!({"a": 1.5})),
            canonical_json(&json!({"a": 1}))
        );
    }

    #[test]
    fn file_references_skip_data_and_local_pointers() {
        let mut out = Vec::new();
        file_references(
            &json!({"$ref": "#/x", "properties": {"a": {"$ref": "a.json"}, "b": {"const": {"$ref": "no.json"}}},
                    "allOf": [{"$ref": "c.json#/d"}]}),
            &mut out,
        );
        assert_eq!(out, ["c.json#/d", "a.json"]);
    }
}
