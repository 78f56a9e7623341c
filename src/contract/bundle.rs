//! One JSON Schema document that stands on its own, for readers that see a
//! contract's schema away from its folder (the OpenAPI document): every
//! file a `$ref` names is embedded under `$defs`, every reference becomes a
//! JSON pointer from the root, and draft 7 keywords are written as their
//! 2020-12 equivalents.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};
use url::Url;

use super::schema::{RefRoots, SchemaDocument};

/// Keywords whose value is a map of schemas.
const SCHEMA_MAPS: [&str; 6] = [
    "properties",
    "patternProperties",
    "$defs",
    "definitions",
    "dependentSchemas",
    "dependencies",
];
/// Keywords whose value is a schema, or (`items` in draft 7) an array of
/// schemas.
const SCHEMAS: [&str; 12] = [
    "additionalProperties",
    "items",
    "additionalItems",
    "unevaluatedItems",
    "unevaluatedProperties",
    "not",
    "if",
    "then",
    "else",
    "contains",
    "propertyNames",
    "contentSchema",
];
/// Keywords whose value is an array of schemas.
const SCHEMA_ARRAYS: [&str; 4] = ["allOf", "anyOf", "oneOf", "prefixItems"];

/// The schema of `document` with what it references inside, as JSON Schema
/// 2020-12. A reference that cannot be followed (the drafts' own
/// metaschemas, which are no files) is kept as written.
pub fn bundle(document: &SchemaDocument, roots: &RefRoots) -> Value {
    let mut bundler = Bundler {
        roots,
        placed: HashMap::from([(document.path.clone(), String::new())]),
        embedded: Map::new(),
        taken: document
            .raw
            .get("$defs")
            .and_then(Value::as_object)
            .map(|defs| defs.keys().cloned().collect())
            .unwrap_or_default(),
    };
    let mut root = document.raw.clone();
    let legacy = is_legacy(&root, false);
    bundler.rewrite(&mut root, &document.path, "", legacy);
    strip_identity(&mut root);
    if let Value::Object(map) = &mut root {
        if !bundler.embedded.is_empty() {
            let defs = map
                .entry("$defs")
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(defs) = defs {
                defs.extend(bundler.embedded);
            }
        }
    }
    root
}

/// Rewrites the local references (`#/…`) of a bundled schema to start at
/// `pointer`, where the schema is placed in a larger document.
pub fn relocate(schema: &mut Value, pointer: &str) {
    let Value::Object(map) = schema else {
        return;
    };
    if let Some(Value::String(reference)) = map.get_mut("$ref") {
        if let Some(fragment) = local_pointer(reference) {
            *reference = format!("#{pointer}{fragment}");
        }
    }
    for_each_subschema(map, &mut |subschema| relocate(subschema, pointer));
}

/// The JSON pointer of a same-document reference (`#`, `#/a/b`); `None`
/// for another document or a plain-name anchor.
fn local_pointer(reference: &str) -> Option<&str> {
    reference
        .strip_prefix('#')
        .filter(|fragment| fragment.is_empty() || fragment.starts_with('/'))
}

/// Calls `visit` on every schema directly inside `map`.
fn for_each_subschema(map: &mut Map<String, Value>, visit: &mut impl FnMut(&mut Value)) {
    for (keyword, value) in map.iter_mut() {
        let keyword = keyword.as_str();
        match value {
            Value::Object(members) if SCHEMA_MAPS.contains(&keyword) => {
                // A draft 7 `dependencies` entry may be a list of names.
                members.values_mut().for_each(&mut *visit);
            }
            Value::Array(items) if SCHEMA_ARRAYS.contains(&keyword) || keyword == "items" => {
                items.iter_mut().for_each(&mut *visit);
            }
            value if SCHEMAS.contains(&keyword) => visit(value),
            _ => {}
        }
    }
}

struct Bundler<'r> {
    roots: &'r RefRoots,
    /// Where each file read so far sits in the bundle (`""`: the root).
    placed: HashMap<PathBuf, String>,
    /// Embedded files by their `$defs` key.
    embedded: Map<String, Value>,
    /// `$defs` keys in use.
    taken: Vec<String>,
}

impl Bundler<'_> {
    /// Rewrites the references of a schema from the file `file`, placed at
    /// `prefix` in the bundle.
    fn rewrite(&mut self, schema: &mut Value, file: &Path, prefix: &str, legacy: bool) {
        let Value::Object(map) = schema else {
            return;
        };
        if legacy {
            modernize(map);
        }
        if let Some(Value::String(reference)) = map.get("$ref") {
            let rewritten = self.reference(reference, file, prefix, legacy);
            map.insert("$ref".to_owned(), Value::String(rewritten));
        }
        for_each_subschema(map, &mut |subschema| {
            self.rewrite(subschema, file, prefix, legacy);
        });
    }

    fn reference(&mut self, reference: &str, file: &Path, prefix: &str, legacy: bool) -> String {
        if let Some(fragment) = local_pointer(reference) {
            return format!("#{prefix}{fragment}");
        }
        let absolute = Url::parse(reference).is_ok_and(|url| url.scheme() != "file");
        let (_, fragment) = reference.split_once('#').unwrap_or((reference, ""));
        if absolute || !(fragment.is_empty() || fragment.starts_with('/')) {
            return reference.to_owned();
        }
        let Ok((path, document)) = self.roots.load(file, reference) else {
            return reference.to_owned();
        };
        let place = match self.placed.get(&path) {
            Some(place) => place.clone(),
            None => self.embed(path, document, legacy),
        };
        format!("#{place}{fragment}")
    }

    /// Places a referenced file under `$defs`, keyed by its file name.
    fn embed(&mut self, path: PathBuf, mut document: Value, legacy: bool) -> String {
        let name: String = path
            .file_name()
            .map(|name| name.to_string_lossy())
            .unwrap_or_default()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "._-".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let key = (1..)
            .map(|n| match n {
                1 => name.clone(),
                n => format!("{name}-{n}"),
            })
            .find(|key| !self.taken.contains(key))
            .unwrap_or_default();
        self.taken.push(key.clone());
        // Keys hold no `/` or `~`: the pointer needs no escaping.
        let place = format!("/$defs/{key}");
        self.placed.insert(path.clone(), place.clone());
        let legacy = is_legacy(&document, legacy);
        self.rewrite(&mut document, &path, &place, legacy);
        strip_identity(&mut document);
        self.embedded.insert(key, document);
        place
    }
}

/// Whether a schema is draft 7 or older: its `$schema` says so, or it has
/// none and the schema referring to it is.
fn is_legacy(schema: &Value, inherited: bool) -> bool {
    match schema.get("$schema").and_then(Value::as_str) {
        Some(dialect) => dialect.contains("draft-0"),
        None => inherited,
    }
}

/// A bundled document is identified by its place, not by its own `$id`,
/// and is read as 2020-12.
fn strip_identity(schema: &mut Value) {
    if let Value::Object(map) = schema {
        map.remove("$schema");
        map.remove("$id");
    }
}

/// Writes draft 7 keywords of one schema object as 2020-12 says the same.
fn modernize(map: &mut Map<String, Value>) {
    // Draft 7 ignores everything beside `$ref`; definitions stay, as
    // references may point into them.
    if map.contains_key("$ref") {
        map.retain(|keyword, _| matches!(keyword.as_str(), "$ref" | "definitions" | "$defs"));
    }
    // `items: [..]` is a tuple, and `additionalItems` the rest.
    if map.get("items").is_some_and(Value::is_array) {
        if let Some(tuple) = map.remove("items") {
            map.insert("prefixItems".to_owned(), tuple);
        }
        if let Some(rest) = map.remove("additionalItems") {
            map.insert("items".to_owned(), rest);
        }
    } else {
        map.remove("additionalItems");
    }
    // `dependencies` is a list of names or a schema per property.
    if let Some(Value::Object(dependencies)) = map.remove("dependencies") {
        let (names, schemas): (Map<String, Value>, Map<String, Value>) = dependencies
            .into_iter()
            .partition(|(_, dependency)| dependency.is_array());
        for (keyword, members) in [("dependentRequired", names), ("dependentSchemas", schemas)] {
            if !members.is_empty() {
                map.insert(keyword.to_owned(), Value::Object(members));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn write(dir: &Path, name: &str, value: &Value) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, value.to_string()).unwrap();
        path
    }

    fn bundled(dir: &Path, name: &str) -> Value {
        let document = SchemaDocument::read(&dir.join(name)).unwrap();
        bundle(&document, &RefRoots::folder(dir).unwrap())
    }

    #[test]
    fn referenced_files_are_embedded_once_and_references_become_pointers() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "address.json",
            &json!({"$schema": "https://json-schema.org/draft/2020-12/schema",
                    "type": "object", "properties": {"zip": {"$ref": "#/$defs/zip"}},
                    "$defs": {"zip": {"type": "string"}}}),
        );
        write(
            dir.path(),
            "customer.json",
            &json!({"$id": "https://example.com/customer", "type": "object",
                    "properties": {
                        "home": {"$ref": "address.json"},
                        "work": {"$ref": "address.json#/properties/zip"},
                        "me": {"$ref": "#"},
                        "meta": {"$ref": "https://json-schema.org/draft/2020-12/schema"},
                        "tag": {"$ref": "#/$defs/tag"}},
                    "$defs": {"tag": {"type": "string"}, "address.json": {}}}),
        );
        assert_eq!(
            bundled(dir.path(), "customer.json"),
            json!({"type": "object",
                   "properties": {
                       "home": {"$ref": "#/$defs/address.json-2"},
                       "work": {"$ref": "#/$defs/address.json-2/properties/zip"},
                       "me": {"$ref": "#"},
                       "meta": {"$ref": "https://json-schema.org/draft/2020-12/schema"},
                       "tag": {"$ref": "#/$defs/tag"}},
                   "$defs": {"tag": {"type": "string"}, "address.json": {},
                             "address.json-2": {"type": "object",
                                 "properties": {"zip": {"$ref": "#/$defs/address.json-2/$defs/zip"}},
                                 "$defs": {"zip": {"type": "string"}}}}})
        );
    }

    #[test]
    fn draft7_keywords_become_2020_12() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "d7.json",
            &json!({"$schema": "http://json-schema.org/draft-07/schema#",
                    "properties": {
                        "pair": {"items": [{"type": "integer"}], "additionalItems": false},
                        "list": {"items": {"type": "integer"}, "additionalItems": false},
                        "ref": {"$ref": "#/definitions/x", "type": "string"},
                        "enum": {"enum": [{"items": [1]}]}},
                    "dependencies": {"a": ["b"], "c": {"required": ["d"]}},
                    "definitions": {"x": {"type": "integer"}}}),
        );
        assert_eq!(
            bundled(dir.path(), "d7.json"),
            json!({"properties": {
                       "pair": {"prefixItems": [{"type": "integer"}], "items": false},
                       "list": {"items": {"type": "integer"}},
                       "ref": {"$ref": "#/definitions/x"},
                       "enum": {"enum": [{"items": [1]}]}},
                   "dependentRequired": {"a": ["b"]},
                   "dependentSchemas": {"c": {"required": ["d"]}},
                   "definitions": {"x": {"type": "integer"}}})
        );
    }

    #[test]
    fn relocation_prefixes_local_pointers_only() {
        let mut schema = json!({"properties": {"a": {"$ref": "#/$defs/a"}, "b": {"$ref": "#"},
                                               "c": {"$ref": "#anchor"},
                                               "d": {"const": {"$ref": "#/x"}}},
                                "$defs": {"a": {"items": {"$ref": "#/$defs/a"}}}});
        relocate(&mut schema, "/components/schemas/c.v1");
        assert_eq!(
            schema,
            json!({"properties": {"a": {"$ref": "#/components/schemas/c.v1/$defs/a"},
                                  "b": {"$ref": "#/components/schemas/c.v1"},
                                  "c": {"$ref": "#anchor"},
                                  "d": {"const": {"$ref": "#/x"}}},
                   "$defs": {"a": {"items": {"$ref": "#/components/schemas/c.v1/$defs/a"}}}})
        );
    }
}
