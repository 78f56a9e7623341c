//! Upgrade and downgrade steps applied to a schema instead of a payload:
//! the schema of what a version's payloads become once the steps ran. The
//! compatibility checker then compares *that* with the next version, so a
//! field moved by a declared `rename` is judged where it lands, not as a
//! removal plus an addition.
//!
//! # Why this is sound
//!
//! The checker's verdict is sound for a writer schema W: whatever W accepts,
//! a compatible reader accepts. So the transformed schema must accept
//! *every* payload the steps can produce from a payload W accepted — it
//! may accept more (a stricter verdict than needed), never less. Each step
//! below says what its output can be and builds a schema covering it:
//!
//! - `rename` moves the property's subschema (and its `required` entry):
//!   the value moves unchanged.
//! - `default` makes the property required; its value is the old value when
//!   one was there (the old subschema) or the default (`const`).
//! - `remove` leaves the property absent: a closed model drops it, an open
//!   one maps it to `false` so `additionalProperties` does not readmit it.
//! - `cast` yields the target type, or the old value when the cast cannot
//!   apply (a string that is not a number): both, unless every old type
//!   always casts (any number or boolean to a string).
//! - `map` replaces the listed values: the mapped `enum` when the old
//!   schema enumerates its values, else the mapped values or the old schema.
//!
//! A step this module cannot place (a path through a `$ref` to another
//! file, an array, a combinator; a write that may create its parent
//! objects; an Avro step other than `rename` and `remove`; a step kind it
//! does not know) makes the whole transform `None`: `check` then judges
//! that pair by running generated payloads through the real steps only,
//! never by a guessed schema.

use serde_json::{json, Map, Value};

use crate::contract::evolve::{ScalarType, Step};
use crate::contract::pointer::JsonPointer;
use crate::contract::schema::SchemaFormat;

/// Which way the steps run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Way {
    /// A payload of the older version becomes the newer one.
    Upgrade,
    /// The derived inverse: the newer version becomes the older one.
    Downgrade,
}

/// The schema of what `steps` (one version's upgrade, in declared order)
/// make of payloads of `schema`, run `way`; `None` when a step cannot be
/// placed in the schema.
pub(super) fn apply(
    format: SchemaFormat,
    schema: &Value,
    steps: &[Step],
    way: Way,
) -> Option<Value> {
    let mut schema = schema.clone();
    let ordered: Vec<&Step> = match way {
        Way::Upgrade => steps.iter().collect(),
        Way::Downgrade => steps.iter().rev().collect(),
    };
    for step in ordered {
        match format {
            SchemaFormat::JsonSchema => json_step(&mut schema, step, way)?,
            SchemaFormat::Avro => avro_step(&mut schema, step, way)?,
        }
    }
    Some(schema)
}

fn json_step(root: &mut Value, step: &Step, way: Way) -> Option<()> {
    match (step, way) {
        (Step::Rename { from, to }, Way::Upgrade) => rename(root, from, to),
        (Step::Rename { from, to }, Way::Downgrade) => rename(root, to, from),
        (Step::Default { path, value }, Way::Upgrade) => default(root, path, value),
        (Step::Default { path, .. }, Way::Downgrade)
        | (Step::Remove { path, .. }, Way::Upgrade) => remove(root, path),
        // A downgrade cannot bring back what was removed: the payload is
        // left as it is.
        (Step::Remove { .. }, Way::Downgrade) => Some(()),
        (Step::Cast { path, to, .. }, Way::Upgrade) => cast(root, path, *to),
        (Step::Cast { path, from, .. }, Way::Downgrade) => match from {
            Some(from) => cast(root, path, *from),
            None => Some(()),
        },
        (Step::Map { path, values }, _) => {
            let pairs: Vec<(Value, Value)> = values
                .iter()
                .map(|(old, new)| match way {
                    Way::Upgrade => (Value::String(old.clone()), new.clone()),
                    Way::Downgrade => (new.clone(), Value::String(old.clone())),
                })
                .collect();
            map_values(root, path, &pairs)
        }
        #[allow(unreachable_patterns)] // steps added later have no schema form yet
        _ => None,
    }
}

/// The object schema holding the last segment of `path`, following
/// `properties` and local `$ref`s (copied in place, so the change stays
/// local to this path). `None` when the way leads elsewhere.
fn parent_of<'v>(
    root: &'v mut Value,
    path: &JsonPointer,
) -> Option<(&'v mut Map<String, Value>, String)> {
    let (last, parents) = path.segments().split_last()?;
    let original = root.clone();
    let mut current = root;
    for segment in parents {
        inline_local_ref(current, &original)?;
        current = current
            .as_object_mut()?
            .get_mut("properties")?
            .as_object_mut()?
            .get_mut(segment)?;
    }
    inline_local_ref(current, &original)?;
    Some((current.as_object_mut()?, last.clone()))
}

/// Replaces a schema that is only a local `$ref` by a copy of its target.
/// A `$ref` beside other keywords, or to another file, cannot be placed.
fn inline_local_ref(schema: &mut Value, root: &Value) -> Option<()> {
    let Some(map) = schema.as_object() else {
        return Some(());
    };
    let Some(reference) = map.get("$ref") else {
        return Some(());
    };
    let pointer = reference.as_str()?.strip_prefix('#')?;
    if map.keys().any(|k| k != "$ref" && !is_note(k)) {
        return None;
    }
    *schema = root.pointer(pointer)?.clone();
    // A target that is itself a reference is followed once more at most
    // by the caller's next call; a chain of them is refused here.
    match schema.get("$ref") {
        Some(_) => None,
        None => Some(()),
    }
}

fn is_note(key: &str) -> bool {
    matches!(key, "description" | "title" | "$comment")
}

fn is_closed(object: &Map<String, Value>) -> bool {
    object.get("additionalProperties") == Some(&Value::Bool(false))
}

/// What an open model lets a property not in `properties` hold.
fn additional(object: &Map<String, Value>) -> Value {
    object
        .get("additionalProperties")
        .cloned()
        .unwrap_or(Value::Bool(true))
}

fn required_remove(object: &mut Map<String, Value>, name: &str) -> bool {
    let Some(Value::Array(required)) = object.get_mut("required") else {
        return false;
    };
    let before = required.len();
    required.retain(|r| r.as_str() != Some(name));
    before != required.len()
}

fn required_add(object: &mut Map<String, Value>, name: &str) {
    let required = object
        .entry("required")
        .or_insert_with(|| Value::Array(Vec::new()));
    if let Value::Array(list) = required {
        if !list.iter().any(|r| r.as_str() == Some(name)) {
            list.push(Value::String(name.to_owned()));
        }
    }
}

fn properties(object: &mut Map<String, Value>) -> Option<&mut Map<String, Value>> {
    object
        .entry("properties")
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut()
}

/// Removes the property's subschema; `None` for a property the model does
/// not declare (what it held is whatever `additionalProperties` allowed).
fn take_property(root: &mut Value, path: &JsonPointer) -> Option<(Value, bool)> {
    let (object, name) = parent_of(root, path)?;
    let required = required_remove(object, &name);
    let declared = properties(object)?.remove(&name);
    let schema = match declared {
        Some(schema) => schema,
        None if is_closed(object) => Value::Bool(false),
        None => additional(object),
    };
    Some((schema, required))
}

/// Whether writing at `path` may create objects on the way (a step sets
/// missing parents): the schema would then have to say that a parent
/// object appears holding only this property, which it cannot.
fn creates_parents(path: &JsonPointer, beside: Option<&JsonPointer>) -> bool {
    let parents = |p: &JsonPointer| p.segments().split_last().map(|(_, rest)| rest.to_vec());
    let own = parents(path).unwrap_or_default();
    // Beside a value that was there, the parents exist.
    !own.is_empty() && beside.is_none_or(|other| parents(other).unwrap_or_default() != own)
}

fn rename(root: &mut Value, from: &JsonPointer, to: &JsonPointer) -> Option<()> {
    if creates_parents(to, Some(from)) {
        return None;
    }
    let (moved, required) = take_property(root, from)?;
    let (object, name) = parent_of(root, to)?;
    // A value always moved replaces whatever was there; one that may be
    // absent leaves what the target place could already hold.
    let existing = match object.get("properties").and_then(|p| p.get(&name)) {
        Some(schema) => schema.clone(),
        None if is_closed(object) => Value::Bool(false),
        None => additional(object),
    };
    let schema = if required || existing == Value::Bool(false) {
        moved
    } else {
        json!({"anyOf": [moved, existing]})
    };
    properties(object)?.insert(name.clone(), schema);
    if required {
        required_add(object, &name);
    }
    Some(())
}

fn default(root: &mut Value, path: &JsonPointer, value: &Value) -> Option<()> {
    if creates_parents(path, None) {
        return None;
    }
    let (object, name) = parent_of(root, path)?;
    let was_required = object
        .get("required")
        .and_then(Value::as_array)
        .is_some_and(|r| r.iter().any(|n| n.as_str() == Some(&name)));
    let old = match object.get("properties").and_then(|p| p.get(&name)) {
        Some(schema) => schema.clone(),
        None if is_closed(object) => Value::Bool(false),
        None => additional(object),
    };
    let schema = if was_required {
        old
    } else if old == Value::Bool(false) {
        json!({"const": value})
    } else {
        json!({"anyOf": [old, {"const": value}]})
    };
    properties(object)?.insert(name.clone(), schema);
    required_add(object, &name);
    Some(())
}

fn remove(root: &mut Value, path: &JsonPointer) -> Option<()> {
    let (object, name) = parent_of(root, path)?;
    required_remove(object, &name);
    let closed = is_closed(object);
    let properties = properties(object)?;
    if closed {
        properties.remove(&name);
    } else {
        properties.insert(name, Value::Bool(false));
    }
    Some(())
}

/// The JSON Schema `type` of a cast's target.
fn type_name(to: ScalarType) -> &'static str {
    match to {
        ScalarType::String => "string",
        ScalarType::Number => "number",
        ScalarType::Integer => "integer",
        ScalarType::Boolean => "boolean",
    }
}

fn cast(root: &mut Value, path: &JsonPointer, to: ScalarType) -> Option<()> {
    let (object, name) = parent_of(root, path)?;
    let slot = properties(object)?.get_mut(&name)?;
    let types: Vec<&str> = match slot.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    // Numbers and booleans always have a string form; every other cast
    // may leave the value as it was.
    let always = to == ScalarType::String
        && !types.is_empty()
        && types
            .iter()
            .all(|t| matches!(*t, "integer" | "number" | "boolean"));
    let target = json!({"type": type_name(to)});
    *slot = if always {
        target
    } else {
        json!({"anyOf": [target, slot.clone()]})
    };
    Some(())
}

fn map_values(root: &mut Value, path: &JsonPointer, pairs: &[(Value, Value)]) -> Option<()> {
    let (object, name) = parent_of(root, path)?;
    let slot = properties(object)?.get_mut(&name)?;
    let mapped = |value: &Value| {
        // Steps compare a value by its text: 1 and "1" map alike.
        let text = match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        pairs
            .iter()
            .find(|(old, _)| old.as_str() == Some(text.as_str()) || *old == *value)
            .map_or_else(|| value.clone(), |(_, new)| new.clone())
    };
    let enumerated: Option<Vec<Value>> = match (slot.get("enum"), slot.get("const")) {
        (Some(Value::Array(values)), _) => Some(values.clone()),
        (None, Some(value)) => Some(vec![value.clone()]),
        _ => None,
    };
    *slot = match enumerated {
        Some(values) => json!({"enum": values.iter().map(mapped).collect::<Vec<_>>()}),
        None => {
            let news: Vec<Value> = pairs.iter().map(|(_, new)| new.clone()).collect();
            json!({"anyOf": [{"enum": news}, slot.clone()]})
        }
    };
    Some(())
}

/// Avro records: a `rename` renames the field, a `remove` drops it. Other
/// steps are left to Avro's own resolution, so they make no schema form.
fn avro_step(root: &mut Value, step: &Step, way: Way) -> Option<()> {
    match (step, way) {
        (Step::Rename { from, to }, Way::Upgrade) => avro_rename(root, from, to),
        (Step::Rename { from, to }, Way::Downgrade) => avro_rename(root, to, from),
        (Step::Remove { path, .. }, Way::Upgrade) => {
            let (fields, name) = avro_fields(root, path)?;
            fields.retain(|f| f.get("name").and_then(Value::as_str) != Some(name.as_str()));
            Some(())
        }
        (Step::Remove { .. }, Way::Downgrade) => Some(()),
        _ => None,
    }
}

/// The fields of the record holding the last segment of `path`, through
/// fields whose type is an inline record.
fn avro_fields<'v>(
    root: &'v mut Value,
    path: &JsonPointer,
) -> Option<(&'v mut Vec<Value>, String)> {
    let (last, parents) = path.segments().split_last()?;
    let mut record = root;
    for segment in parents {
        let fields = record.get_mut("fields")?.as_array_mut()?;
        let field = fields
            .iter_mut()
            .find(|f| f.get("name").and_then(Value::as_str) == Some(segment.as_str()))?;
        record = field.get_mut("type")?;
    }
    Some((record.get_mut("fields")?.as_array_mut()?, last.clone()))
}

fn avro_rename(root: &mut Value, from: &JsonPointer, to: &JsonPointer) -> Option<()> {
    // Only a rename within one record has a place in an Avro schema.
    if from.segments().split_last()?.1 != to.segments().split_last()?.1 {
        return None;
    }
    let new_name = to.segments().last()?.clone();
    let (fields, name) = avro_fields(root, from)?;
    let field = fields
        .iter_mut()
        .find(|f| f.get("name").and_then(Value::as_str) == Some(name.as_str()))?;
    field
        .as_object_mut()?
        .insert("name".into(), Value::String(new_name));
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn steps(yaml: &str) -> Vec<Step> {
        serde_yaml::with::singleton_map_recursive::deserialize(serde_yaml::Deserializer::from_str(
            yaml,
        ))
        .unwrap()
    }

    fn upgraded(schema: Value, yaml: &str) -> Option<Value> {
        apply(
            SchemaFormat::JsonSchema,
            &schema,
            &steps(yaml),
            Way::Upgrade,
        )
    }

    #[test]
    fn rename_moves_the_subschema_and_its_required_entry() {
        let old = json!({"type": "object", "required": ["name"], "additionalProperties": false,
                         "properties": {"name": {"type": "string"}}});
        assert_eq!(
            upgraded(old, "- rename: { from: /name, to: /full_name }").unwrap(),
            json!({"type": "object", "required": ["full_name"], "additionalProperties": false,
                   "properties": {"full_name": {"type": "string"}}})
        );
    }

    #[test]
    fn an_optional_value_moved_into_an_open_place_may_find_what_was_there() {
        let old = json!({"properties": {"a": {"type": "string"}}});
        let new = upgraded(old, "- rename: { from: /a, to: /b }").unwrap();
        assert_eq!(
            new["properties"]["b"],
            json!({"anyOf": [{"type": "string"}, true]})
        );
        assert_eq!(new["properties"].get("a"), None);
    }

    #[test]
    fn default_makes_the_property_required_with_the_old_schema_or_the_default() {
        let closed =
            json!({"additionalProperties": false, "properties": {"a": {"type": "string"}}});
        let new = upgraded(
            closed,
            "- default: { path: /tier, value: standard }\n- default: { path: /a, value: x }",
        )
        .unwrap();
        assert_eq!(new["properties"]["tier"], json!({"const": "standard"}));
        assert_eq!(
            new["properties"]["a"],
            json!({"anyOf": [{"type": "string"}, {"const": "x"}]})
        );
        assert_eq!(new["required"], json!(["tier", "a"]));
        // An open model may already hold any value there.
        let open = upgraded(json!({}), "- default: { path: /tier, value: 1 }").unwrap();
        assert_eq!(
            open["properties"]["tier"],
            json!({"anyOf": [true, {"const": 1}]})
        );
    }

    #[test]
    fn remove_drops_a_closed_property_and_forbids_an_open_one() {
        let closed =
            json!({"required": ["a"], "additionalProperties": false, "properties": {"a": {}}});
        let new = upgraded(closed, "- remove: { path: /a }").unwrap();
        assert_eq!(
            new,
            json!({"required": [], "additionalProperties": false, "properties": {}})
        );
        let open = upgraded(json!({"properties": {"a": {}}}), "- remove: { path: /a }").unwrap();
        assert_eq!(open["properties"]["a"], json!(false));
    }

    #[test]
    fn cast_and_map_cover_the_values_a_failed_conversion_leaves() {
        let old = json!({"properties": {"zip": {"type": "integer"}, "n": {"type": "string"},
                         "s": {"enum": ["A", "I"]}, "t": {"type": "string"}}});
        let new = upgraded(
            old,
            "- cast: { path: /zip, to: string }\n- cast: { path: /n, to: integer }\n- map: { path: /s, values: { A: active } }\n- map: { path: /t, values: { A: active } }",
        )
        .unwrap();
        assert_eq!(new["properties"]["zip"], json!({"type": "string"}));
        assert_eq!(
            new["properties"]["n"],
            json!({"anyOf": [{"type": "integer"}, {"type": "string"}]})
        );
        assert_eq!(new["properties"]["s"], json!({"enum": ["active", "I"]}));
        assert_eq!(
            new["properties"]["t"],
            json!({"anyOf": [{"enum": ["active"]}, {"type": "string"}]})
        );
    }

    #[test]
    fn downgrades_invert_and_local_refs_are_followed() {
        let new = json!({"$defs": {"a": {"properties": {"zip": {"type": "string"}}}},
                         "properties": {"address": {"$ref": "#/$defs/a"}, "tier": {}}, "required": ["tier"]});
        let old = apply(
            SchemaFormat::JsonSchema,
            &new,
            &steps("- rename: { from: /address/post, to: /address/zip }\n- default: { path: /tier, value: s }"),
            Way::Downgrade,
        )
        .unwrap();
        // The address model is open: `post` may already have held anything.
        assert_eq!(
            old["properties"]["address"]["properties"],
            json!({"post": {"anyOf": [{"type": "string"}, true]}})
        );
        assert_eq!(old["properties"]["tier"], json!(false));
        assert_eq!(old["required"], json!([]));
    }

    #[test]
    fn a_step_that_may_create_a_parent_object_has_no_schema_form() {
        let old = json!({"properties": {"a": {"properties": {"x": {}}}, "b": {}}});
        assert!(upgraded(old.clone(), "- default: { path: /a/y, value: 1 }").is_none());
        assert!(upgraded(old.clone(), "- rename: { from: /b, to: /a/b }").is_none());
        // Beside the value it moves, the parent is there.
        assert!(upgraded(old, "- rename: { from: /a/x, to: /a/z }").is_some());
    }

    #[test]
    fn a_step_through_another_file_or_an_unknown_place_has_no_schema_form() {
        let old = json!({"properties": {"address": {"$ref": "address.json"}}});
        assert!(upgraded(old, "- rename: { from: /address/a, to: /address/b }").is_none());
        assert!(upgraded(json!({}), "- cast: { path: /missing, to: string }").is_none());
    }

    #[test]
    fn avro_renames_and_removes_record_fields_only() {
        let old = json!({"type": "record", "name": "r", "fields": [
            {"name": "a", "type": "int"}, {"name": "b", "type": "int"}]});
        let new = apply(
            SchemaFormat::Avro,
            &old,
            &steps("- rename: { from: /a, to: /c }\n- remove: { path: /b }"),
            Way::Upgrade,
        )
        .unwrap();
        assert_eq!(new["fields"], json!([{"name": "c", "type": "int"}]));
        let default = steps("- default: { path: /d, value: 1 }");
        assert!(apply(SchemaFormat::Avro, &old, &default, Way::Upgrade).is_none());
    }
}
