//! Upgrade and downgrade steps: how a payload of version N becomes N+1 and
//! back. Steps are declared in `contract.yaml`; downgrades are derived by
//! inverting them. Every result is validated by the caller against the
//! target version, so a step that cannot apply leaves the payload for that
//! validation to reject rather than guessing.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Number, Value};

use super::pointer::JsonPointer;

/// One mechanical step from a version to the next.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Step {
    /// Move a value to another place (a field renamed or moved).
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
    },
    /// Change a scalar's JSON type.
    Cast {
        /// The field.
        path: JsonPointer,
        /// Its type in the newer version.
        to: ScalarType,
        /// Its type in the older version; without it a downgrade leaves the
        /// value as it is.
        #[serde(default)]
        from: Option<ScalarType>,
    },
    /// Replace values one for one (codes renamed).
    Map {
        /// The field.
        path: JsonPointer,
        /// Older value (as text) → newer value.
        values: BTreeMap<String, Value>,
    },
}

/// The JSON scalar types a `cast` converts between.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
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
            Step::Remove { path } => {
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
            // What was removed cannot be recovered; validation of the older
            // version decides whether its absence matters.
            Step::Remove { .. } => {}
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
        }
    }

    /// A reason the step cannot be inverted faithfully, for `check`.
    pub fn inversion_problem(&self) -> Option<String> {
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
            _ => None,
        }
    }
}

fn move_value(payload: &mut Value, from: &JsonPointer, to: &JsonPointer) {
    if let Some(value) = from.take(payload) {
        to.set(payload, value);
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
    fn a_map_that_merges_values_cannot_be_inverted() {
        let merging = steps("- map: { path: /s, values: { A: x, B: x } }");
        assert!(merging[0].inversion_problem().is_some());
        let fine = steps("- map: { path: /s, values: { A: x, B: y } }");
        assert!(fine[0].inversion_problem().is_none());
    }

    #[test]
    fn unknown_steps_are_refused() {
        assert!(parse("- explode: { path: /a }").is_err());
        assert!(parse("- rename: { from: /a }").is_err());
    }
}
