//! References: `$ref`s followed to their target, within the file (JSON
//! pointers, percent-decoded, or `$anchor`s) or in another file the
//! comparison's `RefRoots` allow, which locations then name by its label.

use std::path::Path;
use std::rc::Rc;

use serde_json::{Map, Value};

use super::{is_annotation, is_draft7, Doc, Node, Walker};
use crate::contract::pointer::push_token;
use crate::contract::Error;

impl Walker {
    /// Follows `$ref`s until a schema without one. A `$ref` with asserting
    /// siblings (2020-12) becomes `allOf: [target, siblings]`; in draft 7
    /// the siblings mean nothing and the target stands alone.
    pub(super) fn resolve(&mut self, mut node: Node) -> Result<(Node, bool), Error> {
        let mut followed = false;
        for _ in 0..64 {
            let Some(Value::String(reference)) = node.get("$ref").cloned() else {
                return Ok((node, followed));
            };
            followed = true;
            let target = self.target(&node, &reference)?;
            let siblings: Map<String, Value> = node
                .value
                .as_object()
                .map(|m| {
                    m.iter()
                        .filter(|(k, _)| *k != "$ref" && !is_annotation(k))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect()
                })
                .unwrap_or_default();
            if siblings.is_empty() || node.doc.draft7 {
                node = target;
            } else {
                // The first branch keeps the `$ref` rather than the target
                // copied in: walking it resolves to the target's own
                // location, so a recursion through it (a definition that
                // refers to itself beside siblings) meets a pair already
                // being compared and stops. A copy would sit at a new,
                // ever longer pointer on each turn and never stop.
                let mut reference_only = Map::new();
                reference_only.insert("$ref".into(), Value::String(reference));
                let mut combined = Map::new();
                combined.insert(
                    "allOf".into(),
                    Value::Array(vec![Value::Object(reference_only), Value::Object(siblings)]),
                );
                node.value = Value::Object(combined);
            }
        }
        Err(Error::new(
            &node.doc.path,
            format!("`$ref` chain at {} does not end", node.location(&[])),
        ))
    }

    fn target(&mut self, node: &Node, reference: &str) -> Result<Node, Error> {
        let (file, fragment) = reference.split_once('#').unwrap_or((reference, ""));
        let doc = if file.is_empty() {
            node.doc.clone()
        } else {
            self.load(&node.doc, reference)?
        };
        let pointer = if fragment.is_empty() || fragment.starts_with('/') {
            percent_decode(fragment)
        } else {
            find_anchor(&doc.root, "", fragment).ok_or_else(|| {
                Error::new(
                    &node.doc.path,
                    format!("`$ref: {reference}` names an anchor that does not exist"),
                )
            })?
        };
        let value = doc.root.pointer(&pointer).cloned().ok_or_else(|| {
            Error::new(
                &node.doc.path,
                format!(
                    "`$ref: {reference}` points at nothing in {}",
                    doc.path.display()
                ),
            )
        })?;
        Ok(Node {
            doc,
            value,
            pointer,
        })
    }

    fn load(&mut self, from: &Rc<Doc>, reference: &str) -> Result<Rc<Doc>, Error> {
        let (path, root) = from
            .roots
            .load(&from.path, reference)
            .map_err(|m| Error::new(&from.path, format!("`$ref: {reference}` is refused: {m}")))?;
        if let Some(doc) = self.cache.get(&path) {
            return Ok(doc.clone());
        }
        let label = label_for(&from.path, &path);
        let doc = Rc::new(Doc {
            path: path.clone(),
            label,
            draft7: is_draft7(&root, from.draft7),
            root,
            roots: from.roots.clone(),
        });
        self.cache.insert(path, doc.clone());
        Ok(doc)
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The pointer of the subschema declaring `$anchor: name`.
fn find_anchor(value: &Value, pointer: &str, name: &str) -> Option<String> {
    match value {
        Value::Object(map) => {
            if map.get("$anchor").and_then(Value::as_str) == Some(name) {
                return Some(pointer.to_owned());
            }
            map.iter()
                .filter(|(k, _)| !matches!(k.as_str(), "enum" | "const" | "default" | "examples"))
                .find_map(|(k, v)| find_anchor(v, &push_token(pointer, k), name))
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| find_anchor(v, &push_token(pointer, &i.to_string()), name)),
        _ => None,
    }
}

/// How a referenced file is named in locations: relative to the compared
/// file's folder when it lies below it.
fn label_for(from: &Path, path: &Path) -> String {
    let folder = from.parent().unwrap_or(Path::new(""));
    path.strip_prefix(folder)
        .unwrap_or(path)
        .display()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::super::tests::{changes, one};
    use super::*;
    use crate::contract::compat::{ChangeKind, Policy};
    use serde_json::json;
    use ChangeKind::*;

    #[test]
    fn a_ref_with_siblings_is_read_as_all_of_target_and_siblings() {
        let old = json!({"$defs": {"s": {"type": "string"}}, "$ref": "#/$defs/s"});
        let new = json!({"$defs": {"s": {"type": "string"}}, "$ref": "#/$defs/s", "maxLength": 3});
        // The siblings become an `allOf` member the old schema lacked: the
        // one incompatible change. (Its location names the synthesized
        // `allOf`, not the sibling keyword; not asserted here.)
        let incompatible: Vec<ChangeKind> = changes(old, new)
            .into_iter()
            .map(|(kind, _)| kind)
            .filter(|kind| !kind.is_compatible(Policy::Strict))
            .collect();
        assert_eq!(incompatible, [PRODUCT_TYPE_EXTENDED]);
    }

    #[test]
    fn a_definition_recursing_through_a_ref_beside_siblings_terminates() {
        let schema = json!({
            "$defs": {"p": {"properties": {"children": {
                "type": "object",
                "additionalProperties": {"type": ["boolean", "object"], "$ref": "#/$defs/p"}
            }}}},
            "$ref": "#/$defs/p"
        });
        assert!(changes(schema.clone(), schema).is_empty());
    }

    #[test]
    fn in_draft_7_a_refs_siblings_mean_nothing() {
        let draft7 = "http://json-schema.org/draft-07/schema#";
        // The old schema accepts anything: its `type` beside `$ref` is ignored.
        let old = json!({"$schema": draft7, "definitions": {"any": {}}, "$ref": "#/definitions/any", "type": "string"});
        let new = json!({"$schema": draft7, "type": "string"});
        assert!(changes(old, new)
            .iter()
            .any(|(kind, _)| !kind.is_compatible(Policy::Strict)));
    }

    #[test]
    fn anchors_resolve_and_pointers_are_percent_decoded() {
        let old = json!({"$defs": {"a b": {"$anchor": "ab", "type": "string"}}, "$ref": "#ab"});
        let new =
            json!({"$defs": {"a b": {"type": "string", "maxLength": 2}}, "$ref": "#/$defs/a%20b"});
        assert_eq!(
            changes(old, new),
            one(MAX_LENGTH_ADDED, "#/$defs/a b/maxLength")
        );
        assert_eq!(percent_decode("a%20b%7E"), "a b~");
        assert_eq!(percent_decode("100%"), "100%");
    }
}
