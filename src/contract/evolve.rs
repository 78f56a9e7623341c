//! Upgrade and downgrade steps: how a payload of version N becomes N+1 and
//! back. Steps are declared in `contract.yaml`; downgrades are derived by
//! inverting them unless a version declares its own. Every result is
//! validated by the caller against the target version, so a step that
//! cannot apply leaves the payload for that validation to reject rather
//! than guessing.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Number, Value};

use super::pointer::JsonPointer;
use super::schema::Schema;

/// One mechanical step from a version to the next. Serialized the way
/// `contract.yaml` writes it (`{"rename": {"from": …, "to": …}}`), for the
/// dry run's report of the steps it applied.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Step {
    /// Move a value to another place: a field renamed, or moved into or out
    /// of a nested object (`move` is the same step). An object the move
    /// leaves empty is dropped, and created again by the downgrade.
    #[serde(alias = "move")]
    Rename {
        /// Where the value is in the older version.
        from: JsonPointer,
        /// Where it goes in the newer one.
        to: JsonPointer,
    },
    /// Give a field the newer version added a value when it is absent.
    Default {
        /// The new field.
        path: JsonPointer,
        /// Its value for payloads that predate it.
        value: Value,
    },
    /// Drop a field the newer version no longer has.
    Remove {
        /// The dropped field.
        path: JsonPointer,
        /// What the downgrade puts back; without it the field stays absent
        /// in the older version.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        default: Option<Value>,
    },
    /// Change a scalar's JSON type.
    Cast {
        /// The field.
        path: JsonPointer,
        /// Its type in the newer version.
        to: ScalarType,
        /// Its type in the older version; without it a downgrade leaves the
        /// value as it is.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from: Option<ScalarType>,
    },
    /// Replace values one for one (codes renamed).
    Map {
        /// The field.
        path: JsonPointer,
        /// Older value (as text) → newer value.
        values: BTreeMap<String, Value>,
    },
    /// Make a single value a one-element array (a field that may now hold
    /// several). The downgrade takes the one element back out.
    Wrap {
        /// The field.
        path: JsonPointer,
    },
    /// Take the one element out of a one-element array; the inverse of
    /// `wrap`.
    Unwrap {
        /// The field.
        path: JsonPointer,
    },
    /// Split a string on a separator into an array of strings; the
    /// downgrade joins them again.
    Split {
        /// The field.
        path: JsonPointer,
        /// What separates the parts (`","`, `"\n"`).
        separator: String,
    },
    /// Join an array of strings with a separator; the inverse of `split`.
    Join {
        /// The field.
        path: JsonPointer,
        /// What goes between the parts.
        separator: String,
    },
}

/// The JSON scalar types a `cast` converts between.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ScalarType {
    /// A JSON string.
    String,
    /// Any JSON number.
    Number,
    /// A JSON number with no fraction.
    Integer,
    /// true or false.
    Boolean,
}

impl Step {
    /// Applies the step to a payload of the older version.
    pub fn upgrade(&self, payload: &mut Value) {
        match self {
            Step::Rename { from, to } => move_value(payload, from, to),
            Step::Default { path, value } => {
                if path.get(payload).is_none() {
                    path.set(payload, value.clone());
                }
            }
            Step::Remove { path, .. } => {
                path.take(payload);
            }
            Step::Cast { path, to, .. } => cast_at(payload, path, *to),
            Step::Map { path, values } => {
                if let Some(slot) = path.get_mut(payload) {
                    if let Some(new) = values.get(&scalar_text(slot)) {
                        *slot = new.clone();
                    }
                }
            }
            Step::Wrap { path } => wrap_at(payload, path),
            Step::Unwrap { path } => unwrap_at(payload, path),
            Step::Split { path, separator } => split_at(payload, path, separator),
            Step::Join { path, separator } => join_at(payload, path, separator),
        }
    }

    /// Applies the inverse of the step to a payload of the newer version.
    pub fn downgrade(&self, payload: &mut Value) {
        match self {
            Step::Rename { from, to } => move_value(payload, to, from),
            // The older version did not have the field.
            Step::Default { path, .. } => {
                path.take(payload);
            }
            // What was removed cannot be recovered; the declared default
            // stands in for it, else validation of the older version
            // decides whether its absence matters.
            Step::Remove { path, default } => {
                if let Some(value) = default {
                    if path.get(payload).is_none() {
                        path.set(payload, value.clone());
                    }
                }
            }
            Step::Cast { path, from, .. } => {
                if let Some(from) = from {
                    cast_at(payload, path, *from);
                }
            }
            Step::Map { path, values } => {
                if let Some(slot) = path.get_mut(payload) {
                    if let Some((old, _)) = values.iter().find(|(_, new)| *new == slot) {
                        *slot = Value::String(old.clone());
                    }
                }
            }
            Step::Wrap { path } => unwrap_at(payload, path),
            Step::Unwrap { path } => wrap_at(payload, path),
            Step::Split { path, separator } => join_at(payload, path, separator),
            Step::Join { path, separator } => split_at(payload, path, separator),
        }
    }

    /// The paths the step reads, in the shape it applies to.
    pub fn reads(&self) -> Vec<&JsonPointer> {
        match self {
            Step::Rename { from, .. } => vec![from],
            Step::Default { .. } => vec![],
            Step::Remove { path, .. } | Step::Cast { path, .. } | Step::Map { path, .. } => {
                vec![path]
            }
            Step::Wrap { path }
            | Step::Unwrap { path }
            | Step::Split { path, .. }
            | Step::Join { path, .. } => vec![path],
        }
    }

    /// The paths the step writes, in the shape it produces.
    pub fn writes(&self) -> Vec<&JsonPointer> {
        match self {
            Step::Rename { to, .. } => vec![to],
            Step::Remove { .. } => vec![],
            Step::Default { path, .. } | Step::Cast { path, .. } | Step::Map { path, .. } => {
                vec![path]
            }
            Step::Wrap { path }
            | Step::Unwrap { path }
            | Step::Split { path, .. }
            | Step::Join { path, .. } => vec![path],
        }
    }

    /// Why the derived downgrade of this step cannot give back what
    /// `older` requires, whatever the record; None when it can (or when
    /// only some records would be lost, which a read reports as 406).
    pub fn inversion_problem(&self, older: &Schema) -> Option<String> {
        match self {
            Step::Map { path, values } => {
                let mut seen = Vec::new();
                for new in values.values() {
                    if seen.contains(&new) {
                        return Some(format!(
                            "map at {path} sends two values to {new}, so a downgrade cannot tell them apart"
                        ));
                    }
                    seen.push(new);
                }
                None
            }
            Step::Remove {
                path,
                default: None,
            } if older.requires(path) => Some(format!(
                "remove of {path} has no `default`, and the older version requires {path}"
            )),
            _ => None,
        }
    }
}

/// Moves a value, dropping the objects on the way that the move empties:
/// they held only what moved, and the inverse move creates them again.
fn move_value(payload: &mut Value, from: &JsonPointer, to: &JsonPointer) {
    let Some(value) = from.take(payload) else {
        return;
    };
    let mut parent = from.parent();
    while let Some(up) = parent {
        match up.get(payload) {
            Some(Value::Object(map)) if map.is_empty() => {
                up.take(payload);
            }
            _ => break,
        }
        parent = up.parent();
    }
    to.set(payload, value);
}

fn wrap_at(payload: &mut Value, path: &JsonPointer) {
    if let Some(slot) = path.get_mut(payload) {
        *slot = Value::Array(vec![slot.take()]);
    }
}

/// Leaves anything but a one-element array as it is: the older version's
/// validation then says the record has no single value there.
fn unwrap_at(payload: &mut Value, path: &JsonPointer) {
    if let Some(slot) = path.get_mut(payload) {
        if let Value::Array(items) = slot {
            if items.len() == 1 {
                let item = items.remove(0);
                *slot = item;
            }
        }
    }
}

/// An empty string is no parts, so that `join` gives it back.
fn split_at(payload: &mut Value, path: &JsonPointer, separator: &str) {
    if let Some(slot) = path.get_mut(payload) {
        if let Value::String(text) = slot {
            let parts = if text.is_empty() {
                Vec::new()
            } else {
                text.split(separator)
                    .map(|part| Value::String(part.to_owned()))
                    .collect()
            };
            *slot = Value::Array(parts);
        }
    }
}

/// Joins only an array of strings: anything else is left for validation.
fn join_at(payload: &mut Value, path: &JsonPointer, separator: &str) {
    if let Some(slot) = path.get_mut(payload) {
        if let Value::Array(items) = slot {
            let parts: Option<Vec<&str>> = items.iter().map(Value::as_str).collect();
            if let Some(parts) = parts {
                *slot = Value::String(parts.join(separator));
            }
        }
    }
}

fn scalar_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

fn cast_at(payload: &mut Value, path: &JsonPointer, to: ScalarType) {
    if let Some(slot) = path.get_mut(payload) {
        if let Some(cast) = cast(slot, to) {
            *slot = cast;
        }
    }
}

/// The value as `to`, or None when it has no faithful form of that type.
fn cast(value: &Value, to: ScalarType) -> Option<Value> {
    match (to, value) {
        (ScalarType::String, Value::Number(_) | Value::Bool(_)) => {
            Some(Value::String(value.to_string()))
        }
        (ScalarType::Number, Value::String(text)) => {
            let trimmed = text.trim();
            serde_json::from_str::<Number>(trimmed)
                .ok()
                .map(Value::Number)
        }
        (ScalarType::Integer, Value::String(text)) => {
            text.trim().parse::<i64>().ok().map(Value::from)
        }
        (ScalarType::Integer, Value::Number(n)) => n
            .as_f64()
            .filter(|f| f.fract() == 0.0 && f.abs() < 9.007_199_254_740_992e15)
            .map(|f| Value::from(f as i64)),
        (ScalarType::Boolean, Value::String(text)) => match text.trim() {
            "true" => Some(Value::Bool(true)),
            "false" => Some(Value::Bool(false)),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(yaml: &str) -> Result<Vec<Step>, serde_yaml::Error> {
        serde_yaml::with::singleton_map_recursive::deserialize(serde_yaml::Deserializer::from_str(
            yaml,
        ))
    }

    fn steps(yaml: &str) -> Vec<Step> {
        parse(yaml).unwrap()
    }

    fn round_trip(steps: &[Step], v1: Value) -> (Value, Value) {
        let mut up = v1;
        steps.iter().for_each(|s| s.upgrade(&mut up));
        let mut down = up.clone();
        steps.iter().rev().for_each(|s| s.downgrade(&mut down));
        (up, down)
    }

    #[test]
    fn every_step_upgrades_and_downgrades() {
        let steps = steps(
            r#"
- rename: { from: /name, to: /full_name }
- default: { path: /tier, value: standard }
- remove: { path: /legacy_code }
- cast: { path: /zip, to: string, from: integer }
- map: { path: /status, values: { A: active, I: inactive } }
"#,
        );
        let (up, down) = round_trip(
            &steps,
            json!({"name": "Ada", "legacy_code": "x", "zip": 1234, "status": "A"}),
        );
        assert_eq!(
            up,
            json!({"full_name": "Ada", "tier": "standard", "zip": "1234", "status": "active"})
        );
        assert_eq!(down, json!({"name": "Ada", "zip": 1234, "status": "A"}));
    }

    #[test]
    fn default_keeps_a_present_value_and_casts_that_cannot_apply_leave_it() {
        let steps =
            steps("- default: { path: /tier, value: standard }\n- cast: { path: /n, to: integer }");
        let (up, _) = round_trip(&steps, json!({"tier": "gold", "n": "twelve"}));
        assert_eq!(up, json!({"tier": "gold", "n": "twelve"}));
    }

    #[test]
    fn a_map_that_merges_values_or_a_required_field_removed_cannot_be_inverted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v1.schema.json");
        let schema = json!({"required": ["s"], "properties": {"s": {}, "t": {}}});
        std::fs::write(&path, schema.to_string()).unwrap();
        let document = crate::contract::SchemaDocument::read(&path).unwrap();
        let roots = crate::contract::RefRoots::folder(dir.path()).unwrap();
        let older = Schema::compile(&document, &roots).unwrap();

        let problem = |yaml: &str| steps(yaml)[0].inversion_problem(&older);
        assert!(problem("- map: { path: /s, values: { A: x, B: x } }").is_some());
        assert!(problem("- map: { path: /s, values: { A: x, B: y } }").is_none());
        assert!(problem("- remove: { path: /s }").is_some());
        assert!(problem("- remove: { path: /s, default: x }").is_none());
        assert!(problem("- remove: { path: /t }").is_none());
    }

    #[test]
    fn wrap_and_split_round_trip_and_so_do_their_inverses() {
        let steps = steps(
            r#"
- wrap: { path: /phone }
- split: { path: /street, separator: "\n" }
- unwrap: { path: /emails }
- join: { path: /tags, separator: "," }
"#,
        );
        let v1 = json!({"phone": "+4930", "street": "Flat 2\n1 Main St", "emails": ["a@x"], "tags": ["a", "b"]});
        let (up, down) = round_trip(&steps, v1.clone());
        assert_eq!(
            up,
            json!({"phone": ["+4930"], "street": ["Flat 2", "1 Main St"], "emails": "a@x", "tags": "a,b"})
        );
        assert_eq!(down, v1);
        // No parts and no text are the same thing both ways.
        let (up, down) = round_trip(&steps, json!({"street": ""}));
        assert_eq!(
            (up["street"].clone(), down),
            (json!([]), json!({"street": ""}))
        );
    }

    #[test]
    fn a_downgrade_that_cannot_apply_leaves_the_value_for_validation() {
        let wrap = steps("- wrap: { path: /phone }\n- split: { path: /s, separator: \",\" }");
        let mut newer = json!({"phone": ["+1", "+2"], "s": ["a", 1]});
        wrap.iter().rev().for_each(|s| s.downgrade(&mut newer));
        assert_eq!(newer, json!({"phone": ["+1", "+2"], "s": ["a", 1]}));
    }

    #[test]
    fn move_reaches_nested_paths_and_drops_the_objects_it_empties() {
        let steps = steps(
            r#"
- move: { from: /name/first, to: /first_name }
- move: { from: /name/last, to: /last_name }
- rename: { from: /street, to: /address/lines }
"#,
        );
        let v1 = json!({"name": {"first": "Ada", "last": "King"}, "street": "x", "address": {"zip": "1"}});
        let (up, down) = round_trip(&steps, v1.clone());
        assert_eq!(
            up,
            json!({"first_name": "Ada", "last_name": "King", "address": {"zip": "1", "lines": "x"}})
        );
        assert_eq!(down, v1);
        // An object that was empty before is not the move's to drop.
        let (up, _) = round_trip(&steps, json!({"name": {}, "street": "x"}));
        assert_eq!(up, json!({"name": {}, "address": {"lines": "x"}}));
    }

    #[test]
    fn remove_puts_its_default_back_on_the_way_down() {
        let steps = steps("- remove: { path: /code, default: none }");
        let (up, down) = round_trip(&steps, json!({"code": "x1", "n": 1}));
        assert_eq!(up, json!({"n": 1}));
        assert_eq!(down, json!({"code": "none", "n": 1}));
    }

    #[test]
    fn steps_serialize_as_contract_yaml_writes_them() {
        let steps = steps("- move: { from: /a, to: /b }\n- remove: { path: /c }");
        assert_eq!(
            serde_json::to_value(&steps).unwrap(),
            json!([{"rename": {"from": "/a", "to": "/b"}}, {"remove": {"path": "/c"}}])
        );
    }

    #[test]
    fn unknown_steps_are_refused() {
        assert!(parse("- explode: { path: /a }").is_err());
        assert!(parse("- rename: { from: /a }").is_err());
    }
}
