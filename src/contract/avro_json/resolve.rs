//! Avro's schema resolution (specification, "Schema Resolution") applied to
//! JSON payloads: how a payload of one version of an Avro contract becomes
//! a payload of the next, and back. The compatibility checker
//! (`compat/avro.rs`) says whether a pair of schemas resolves; this moves
//! the values:
//!
//! - record fields are matched by name, then by the reader field's
//!   aliases, then by the writer field's aliases, so that the downgrade
//!   (resolution with the roles swapped) finds a renamed field again;
//!   writer fields the reader lacks are dropped, and reader fields the
//!   writer lacks are left for normalization to fill with their default;
//! - an enum symbol the reader lacks becomes the reader's enum default;
//! - `string` ↔ `bytes` re-encode the text as UTF-8 (bytes that are not
//!   UTF-8 become U+FFFD, as Avro's own readers decode them);
//!   `int`→`long`→`float`→`double` keep the number, and a whole number read
//!   back as an `int` or `long` (a downgraded promotion) is written as an
//!   integer again;
//! - a union value is read as the writer branch it was stored as and
//!   written as the reader branch Avro picks for that branch (the same
//!   type or name first, else one it promotes to), wrapped so that
//!   normalization keeps that branch.
//!
//! Nothing here refuses: what cannot be resolved is left as it is, and the
//! reader's validation, which always follows, reports it. Where a declared
//! step has already changed a value, it no longer follows the writer's
//! schema; the value is then resolved by the reader's schema alone.

use apache_avro::schema::{Name, RecordSchema};
use apache_avro::Schema;
use serde_json::{Map, Number, Value};

use super::walker::{type_name, wrapper_key, Walker};

/// The two schemas of one resolution, with their named types.
pub(super) struct Resolver<'s> {
    pub(super) writer: Walker<'s>,
    pub(super) reader: Walker<'s>,
}

impl<'s> Resolver<'s> {
    /// `value`, written with `writer` (None when the value no longer
    /// follows it), as `reader` reads it.
    pub(super) fn resolve(
        &self,
        writer: Option<&'s Schema>,
        reader: &'s Schema,
        value: Value,
    ) -> Value {
        let writer = writer.and_then(|w| self.writer.resolve(w, "").ok().map(|(w, _)| w));
        let Ok((reader, _)) = self.reader.resolve(reader, "") else {
            return value;
        };
        if let Some(Schema::Union(union)) = writer {
            let branches = union.variants();
            return match self.writer.read_union(branches, value) {
                Ok((index, inner)) => self.resolve(Some(&branches[index]), reader, inner),
                Err(value) => self.resolve(None, reader, value),
            };
        }
        match (reader, value) {
            (Schema::Union(union), value) => self.resolve_union(writer, union.variants(), value),
            (Schema::Record(record), Value::Object(object)) => {
                let writer = match writer {
                    Some(Schema::Record(w)) => Some(w),
                    _ => None,
                };
                Value::Object(self.record(writer, record, object))
            }
            (Schema::Array(array), Value::Array(items)) => {
                let writer = match writer {
                    Some(Schema::Array(w)) => Some(w.items.as_ref()),
                    _ => None,
                };
                Value::Array(
                    items
                        .into_iter()
                        .map(|item| self.resolve(writer, &array.items, item))
                        .collect(),
                )
            }
            (Schema::Map(map), Value::Object(entries)) => {
                let writer = match writer {
                    Some(Schema::Map(w)) => Some(w.types.as_ref()),
                    _ => None,
                };
                Value::Object(
                    entries
                        .into_iter()
                        .map(|(key, entry)| (key, self.resolve(writer, &map.types, entry)))
                        .collect(),
                )
            }
            (Schema::Enum(e), Value::String(symbol)) if !e.symbols.contains(&symbol) => {
                match &e.default {
                    Some(default) => Value::String(default.clone()),
                    None => Value::String(symbol),
                }
            }
            (leaf, value) => promote(writer.map(type_name), type_name(leaf), value),
        }
    }

    /// Writes the value as the reader branch that reads it, wrapped.
    fn resolve_union(
        &self,
        writer: Option<&'s Schema>,
        branches: &'s [Schema],
        value: Value,
    ) -> Value {
        let (index, inner) = match writer.and_then(|w| self.pick_branch(w, branches)) {
            Some(index) => (index, value),
            None => match self.reader.read_union(branches, value) {
                Ok(read) => read,
                Err(value) => return value,
            },
        };
        let branch = &branches[index];
        let resolved = self.resolve(writer, branch, inner);
        if matches!(branch, Schema::Null) {
            return resolved;
        }
        Value::Object(Map::from_iter([(wrapper_key(branch), resolved)]))
    }

    fn record(
        &self,
        writer: Option<&'s RecordSchema>,
        reader: &'s RecordSchema,
        mut object: Map<String, Value>,
    ) -> Map<String, Value> {
        let mut resolved = Map::new();
        for field in &reader.fields {
            let matched = writer.and_then(|w| {
                w.fields
                    .iter()
                    .find(|f| f.name == field.name)
                    .or_else(|| w.fields.iter().find(|f| aliased(&field.aliases, &f.name)))
                    .or_else(|| w.fields.iter().find(|f| aliased(&f.aliases, &field.name)))
                    .filter(|f| object.contains_key(&f.name))
            });
            let (key, schema) = match matched {
                Some(f) => (f.name.clone(), Some(&f.schema)),
                // The value does not follow the writer here: by the
                // reader's names alone.
                None => {
                    let names = std::iter::once(&field.name).chain(field.aliases.iter().flatten());
                    match names.into_iter().find(|name| object.contains_key(*name)) {
                        Some(name) => (name.clone(), None),
                        None => continue,
                    }
                }
            };
            if let Some(value) = object.remove(&key) {
                let value = self.resolve(schema, &field.schema, value);
                resolved.insert(field.name.clone(), value);
            }
        }
        resolved
    }

    /// The reader branch Avro reads a writer type with: the first of the
    /// same type (and name, for named types), else the first it promotes
    /// to.
    fn pick_branch(&self, writer: &Schema, branches: &'s [Schema]) -> Option<usize> {
        let writer_type = type_name(writer);
        let branches: Vec<&Schema> = branches
            .iter()
            .map(|branch| self.reader.resolve(branch, "").map_or(branch, |(b, _)| b))
            .collect();
        branches
            .iter()
            .position(|branch| type_name(branch) == writer_type && same_name(writer, branch))
            .or_else(|| {
                branches
                    .iter()
                    .position(|branch| promotes(writer_type, type_name(branch)))
            })
    }
}

fn aliased(aliases: &Option<Vec<String>>, name: &str) -> bool {
    aliases.iter().flatten().any(|alias| alias == name)
}

/// Named types match on the unqualified name or an alias of either.
fn same_name(writer: &Schema, reader: &Schema) -> bool {
    match (named(writer), named(reader)) {
        (Some((w, w_aliases)), Some((r, r_aliases))) => {
            w.name == r.name
                || r_aliases.iter().any(|a| a.name() == w.name)
                || w_aliases.iter().any(|a| a.name() == r.name)
        }
        _ => true,
    }
}

fn named(schema: &Schema) -> Option<(&Name, Vec<&apache_avro::schema::Alias>)> {
    let (name, aliases) = match schema {
        Schema::Record(r) => (&r.name, &r.aliases),
        Schema::Enum(e) => (&e.name, &e.aliases),
        Schema::Fixed(f) => (&f.name, &f.aliases),
        _ => return None,
    };
    Some((name, aliases.iter().flatten().collect()))
}

/// Avro's promotions, by type name.
fn promotes(writer: &str, reader: &str) -> bool {
    matches!(
        (writer, reader),
        ("int", "long" | "float" | "double")
            | ("long", "float" | "double")
            | ("float", "double")
            | ("string", "bytes")
            | ("bytes", "string")
    )
}

/// A leaf value of `writer`'s type as `reader`'s type.
fn promote(writer: Option<&str>, reader: &str, value: Value) -> Value {
    match (writer, reader, value) {
        (Some("string"), "bytes", Value::String(text)) => {
            Value::String(text.bytes().map(char::from).collect())
        }
        (Some("bytes"), "string", Value::String(text)) => {
            let bytes: Option<Vec<u8>> = text.chars().map(|c| u8::try_from(c).ok()).collect();
            match bytes {
                Some(bytes) => Value::String(String::from_utf8_lossy(&bytes).into_owned()),
                None => Value::String(text),
            }
        }
        (_, "int" | "long", Value::Number(number)) => Value::Number(whole(number)),
        (_, _, value) => value,
    }
}

/// A whole number written as a float (`3.0`) as the integer it is; any
/// other number as it is.
fn whole(number: Number) -> Number {
    match number.as_f64() {
        Some(f) if number.is_f64() && f.fract() == 0.0 && f.abs() < 9.007_199_254_740_992e15 => {
            Number::from(f as i64)
        }
        _ => number,
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::avro;
    use serde_json::{json, Value};

    /// Resolves `value` from `writer` to `reader` and normalizes it there,
    /// as a chain does.
    fn resolve(writer: &Value, reader: &Value, value: Value) -> Value {
        let (writer, reader) = (avro(writer.clone()), avro(reader.clone()));
        let resolved = reader.resolve_from(&writer, value);
        let violations = reader.validate(&resolved);
        assert!(violations.is_empty(), "{resolved}: {violations:?}");
        reader.normalize(resolved)
    }

    fn record(fields: Value) -> Value {
        json!({"type": "record", "name": "r", "fields": fields})
    }

    #[test]
    fn fields_are_found_by_alias_both_ways_and_dropped_or_defaulted() {
        let v1 = record(json!([
            {"name": "id", "type": "string"},
            {"name": "note", "type": ["null", "string"], "default": null},
            {"name": "legacy", "type": "int", "default": 0}
        ]));
        let v2 = record(json!([
            {"name": "id", "type": "string"},
            {"name": "comment", "aliases": ["note"], "type": ["null", "string"], "default": null},
            {"name": "currency", "type": "string", "default": "EUR"}
        ]));
        let up = resolve(&v1, &v2, json!({"id": "a", "note": "hi", "legacy": 3}));
        assert_eq!(up, json!({"id": "a", "comment": "hi", "currency": "EUR"}));
        let down = resolve(&v2, &v1, up);
        assert_eq!(down, json!({"id": "a", "note": "hi", "legacy": 0}));
    }

    #[test]
    fn promotions_keep_the_value_and_come_back() {
        let v1 = record(json!([
            {"name": "n", "type": "int"},
            {"name": "text", "type": "string"},
            {"name": "ratio", "type": "float"}
        ]));
        let v2 = record(json!([
            {"name": "n", "type": "long"},
            {"name": "text", "type": "bytes"},
            {"name": "ratio", "type": "double"}
        ]));
        let v1_value = json!({"n": 3, "text": "é", "ratio": 0.5});
        let up = resolve(&v1, &v2, v1_value.clone());
        assert_eq!(up, json!({"n": 3, "text": "\u{c3}\u{a9}", "ratio": 0.5}));
        assert_eq!(resolve(&v2, &v1, up), v1_value);
        let int = record(json!([{"name": "n", "type": "int"}]));
        let double = record(json!([{"name": "n", "type": "double"}]));
        assert_eq!(resolve(&double, &int, json!({"n": 4.0})), json!({"n": 4}));
    }

    #[test]
    fn union_branches_follow_the_writers_branch() {
        let writer = json!(["null", "int", "string"]);
        let reader = json!(["null", "string", "long"]);
        assert_eq!(resolve(&writer, &reader, json!(5)), json!(5));
        assert_eq!(
            resolve(&writer, &reader, json!({"string": "x"})),
            json!("x")
        );
        assert_eq!(resolve(&writer, &reader, Value::Null), Value::Null);
        // A plain writer type into a union reader, and the way back.
        assert_eq!(resolve(&json!("int"), &reader, json!(7)), json!(7));
        assert_eq!(
            resolve(&reader, &json!("long"), json!({"long": 7})),
            json!(7)
        );
    }

    #[test]
    fn an_enum_symbol_the_reader_lacks_becomes_its_default() {
        let v2 = json!({"type": "enum", "name": "s", "symbols": ["A", "B", "C"]});
        let v1 = json!({"type": "enum", "name": "s", "symbols": ["A", "X"], "default": "X"});
        assert_eq!(resolve(&v2, &v1, json!("C")), json!("X"));
        assert_eq!(resolve(&v2, &v1, json!("A")), json!("A"));
    }

    #[test]
    fn nested_records_in_arrays_and_maps_resolve() {
        let line = |quantity: &str| {
            json!({"type": "array", "items": {"type": "record", "name": "line",
                "fields": [{"name": "qty", "type": quantity}]}})
        };
        assert_eq!(
            resolve(&line("int"), &line("long"), json!([{"qty": 1}, {"qty": 2}])),
            json!([{"qty": 1}, {"qty": 2}])
        );
        let map = |values: &str| json!({"type": "map", "values": values});
        assert_eq!(
            resolve(&map("string"), &map("bytes"), json!({"a": "ü"})),
            json!({"a": "\u{c3}\u{bc}"})
        );
    }

    #[test]
    fn what_does_not_follow_the_writer_is_read_by_the_reader_alone() {
        // A declared step already made `tags` an array.
        let writer = record(json!([{"name": "tags", "type": "string"}]));
        let reader =
            record(json!([{"name": "tags", "type": {"type": "array", "items": "string"}}]));
        assert_eq!(
            resolve(&writer, &reader, json!({"tags": ["a", "b"]})),
            json!({"tags": ["a", "b"]})
        );
    }
}
