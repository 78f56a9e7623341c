//! Keywords with scalar values: `type`, `enum`/`const`, the string and
//! number bounds, `pattern`, `format` and `multipleOf`, each compared by
//! what old data can be. The bound and text rules also serve the array and
//! object keywords (`maxItems`, `minProperties`…).

use serde_json::Value;

use super::{ChangeKind, Node, Walker};
use ChangeKind::*;

// Instance types as bits; `number` is integer plus fraction.
const NULL: u8 = 1;
const BOOLEAN: u8 = 2;
pub(super) const OBJECT: u8 = 4;
pub(super) const ARRAY: u8 = 8;
pub(super) const STRING: u8 = 16;
const INTEGER: u8 = 32;
const FRACTION: u8 = 64;
pub(super) const NUMBER: u8 = INTEGER | FRACTION;
const ANY: u8 = 127;

fn type_bits(name: &str) -> u8 {
    match name {
        "null" => NULL,
        "boolean" => BOOLEAN,
        "object" => OBJECT,
        "array" => ARRAY,
        "string" => STRING,
        "integer" => INTEGER,
        "number" => NUMBER,
        _ => 0,
    }
}

fn value_bits(value: &Value) -> u8 {
    match value {
        Value::Null => NULL,
        Value::Bool(_) => BOOLEAN,
        Value::Object(_) => OBJECT,
        Value::Array(_) => ARRAY,
        Value::String(_) => STRING,
        Value::Number(n) => {
            if n.as_f64().is_some_and(|f| f.fract() == 0.0) {
                INTEGER
            } else {
                FRACTION
            }
        }
    }
}

fn declared_types(node: &Node) -> u8 {
    type_keyword_bits(node.get("type"))
}

/// The types a `type` keyword (if any) allows.
fn type_keyword_bits(keyword: Option<&Value>) -> u8 {
    match keyword {
        Some(Value::String(name)) => type_bits(name),
        Some(Value::Array(names)) => names
            .iter()
            .filter_map(Value::as_str)
            .fold(0, |bits, name| bits | type_bits(name)),
        _ => ANY,
    }
}

/// Whether a subschema certainly accepts no value at all: `false`, `not`
/// of anything, an empty `enum`, types that `enum`/`const` or `allOf`
/// members exclude, bounds that cross, a required property the model
/// forbids, a sum of such. `$ref`s are not followed (an unknown member
/// could accept anything), so "false" only means "not shown empty".
pub(super) fn admits_nothing(schema: &Value) -> bool {
    admitted_types(schema) == 0
}

/// The instance types a subschema can accept, as type bits; 0 when none.
fn admitted_types(schema: &Value) -> u8 {
    let map = match schema {
        Value::Bool(accepts) => return if *accepts { ANY } else { 0 },
        // What a reference (and, in draft 7, its siblings) means is not
        // looked at here.
        Value::Object(map) if !map.contains_key("$ref") => map,
        _ => return ANY,
    };
    let mut bits = type_keyword_bits(map.get("type"));
    if let Some(Value::Array(values)) = map.get("enum") {
        bits &= values.iter().fold(0, |b, v| b | value_bits(v));
    }
    if let Some(value) = map.get("const") {
        bits &= value_bits(value);
    }
    if map.get("not").is_some_and(super::is_empty_schema) {
        return 0;
    }
    for member in map
        .get("allOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        bits &= admitted_types(member);
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(Value::Array(branches)) = map.get(key) {
            bits &= branches
                .iter()
                .fold(0, |b, branch| b | admitted_types(branch));
        }
    }
    let bound = |key: &str| map.get(key).and_then(Value::as_f64);
    let crossed =
        |low: &str, high: &str| matches!((bound(low), bound(high)), (Some(l), Some(h)) if l > h);
    if bits & STRING != 0 && crossed("minLength", "maxLength") {
        bits &= !STRING;
    }
    if bits & NUMBER != 0 && crossed("minimum", "maximum") {
        bits &= !NUMBER;
    }
    if bits & ARRAY != 0 && crossed("minItems", "maxItems") {
        bits &= !ARRAY;
    }
    if bits & OBJECT != 0 && (crossed("minProperties", "maxProperties") || requires_forbidden(map))
    {
        bits &= !OBJECT;
    }
    bits
}

/// A required property the object model cannot hold.
fn requires_forbidden(map: &serde_json::Map<String, Value>) -> bool {
    let properties = map.get("properties").and_then(Value::as_object);
    let closed = map.get("additionalProperties") == Some(&Value::Bool(false))
        && map.get("patternProperties").is_none();
    map.get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .any(|name| match properties.and_then(|p| p.get(name)) {
            Some(property) => admits_nothing(property),
            None => closed,
        })
}

/// Whether the reader accepts every value a finite old schema (`enum`,
/// `const`) allows, asked of the validator itself (formats asserted, as
/// the gateway does): then every old instance is read, whatever else
/// changed. A reader with a `$ref` is left to the keyword comparison, as
/// the fragment's references would resolve against nothing.
pub(super) fn reads_every_value(w: &Node, r: &Node) -> bool {
    let Some(values) = allowed_values(w) else {
        return false;
    };
    if mentions_ref(&r.value) {
        return false;
    }
    let draft = if r.doc.draft7 {
        jsonschema::Draft::Draft7
    } else {
        jsonschema::Draft::Draft202012
    };
    jsonschema::options()
        .with_draft(draft)
        .should_validate_formats(true)
        .build(&r.value)
        .is_ok_and(|reader| values.iter().all(|value| reader.is_valid(value)))
}

fn mentions_ref(value: &Value) -> bool {
    match value {
        Value::Object(map) => {
            ["$ref", "$dynamicRef", "$recursiveRef"]
                .iter()
                .any(|k| map.contains_key(*k))
                || map.values().any(mentions_ref)
        }
        Value::Array(items) => items.iter().any(mentions_ref),
        _ => false,
    }
}

/// The values of `enum` or `const`, if either is present.
fn allowed_values(node: &Node) -> Option<Vec<Value>> {
    let mut values: Option<Vec<Value>> = node.array("enum").cloned();
    if let Some(constant) = node.get("const") {
        values = Some(match values {
            Some(v) => v.into_iter().filter(|x| same(x, constant)).collect(),
            None => vec![constant.clone()],
        });
    }
    values
}

/// JSON equality where `1` and `1.0` are the same number.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

impl Walker {
    /// Compares `type`; returns the types old instances can have.
    pub(super) fn types(&mut self, w: &Node, r: &Node) -> u8 {
        let old_declared = declared_types(w);
        let new_declared = declared_types(r);
        let old_effective = match allowed_values(w) {
            Some(values) => old_declared & values.iter().fold(0, |b, v| b | value_bits(v)),
            None => old_declared,
        };
        if old_effective & !new_declared == 0 {
            if new_declared & !old_declared != 0 {
                self.report(TYPE_EXTENDED, w, r, &["type"], type_detail(w, r));
            }
        } else if new_declared & !old_declared == 0 {
            self.report(TYPE_NARROWED, w, r, &["type"], type_detail(w, r));
        } else {
            self.report(TYPE_CHANGED, w, r, &["type"], type_detail(w, r));
        }
        old_effective
    }

    pub(super) fn values(&mut self, w: &Node, r: &Node) {
        let key = if r.get("enum").is_some() || r.get("const").is_none() {
            "enum"
        } else {
            "const"
        };
        match (allowed_values(w), allowed_values(r)) {
            (_, None) if w.get("enum").is_some() || w.get("const").is_some() => {
                self.report(
                    ENUM_ARRAY_EXTENDED,
                    w,
                    r,
                    &[key],
                    "no longer restricted".into(),
                );
            }
            (None, Some(_)) => {
                self.report(
                    ENUM_ARRAY_NARROWED,
                    w,
                    r,
                    &[key],
                    "values restricted".into(),
                );
            }
            (Some(old), Some(new)) => {
                let lost: Vec<&Value> = old
                    .iter()
                    .filter(|v| !new.iter().any(|n| same(v, n)))
                    .collect();
                let gained = new.iter().any(|n| !old.iter().any(|v| same(v, n)));
                let detail = if lost.is_empty() {
                    String::new()
                } else {
                    format!("{} no longer allowed", join_values(&lost))
                };
                match (lost.is_empty(), gained) {
                    (true, true) => self.report(ENUM_ARRAY_EXTENDED, w, r, &[key], detail),
                    (false, false) => self.report(ENUM_ARRAY_NARROWED, w, r, &[key], detail),
                    (false, true) => self.report(ENUM_ARRAY_CHANGED, w, r, &[key], detail),
                    (true, false) => {}
                }
            }
            _ => {}
        }
    }

    pub(super) fn strings(&mut self, w: &Node, r: &Node) {
        self.bound(
            w,
            r,
            "maxLength",
            [
                MAX_LENGTH_ADDED,
                MAX_LENGTH_REMOVED,
                MAX_LENGTH_INCREASED,
                MAX_LENGTH_DECREASED,
            ],
        );
        self.bound(
            w,
            r,
            "minLength",
            [
                MIN_LENGTH_ADDED,
                MIN_LENGTH_REMOVED,
                MIN_LENGTH_INCREASED,
                MIN_LENGTH_DECREASED,
            ],
        );
        self.text(
            w,
            r,
            "pattern",
            [PATTERN_ADDED, PATTERN_REMOVED, PATTERN_CHANGED],
        );
        self.text(
            w,
            r,
            "format",
            [FORMAT_ADDED, FORMAT_REMOVED, FORMAT_CHANGED],
        );
    }

    pub(super) fn numbers(&mut self, w: &Node, r: &Node) {
        self.bound(
            w,
            r,
            "maximum",
            [
                MAXIMUM_ADDED,
                MAXIMUM_REMOVED,
                MAXIMUM_INCREASED,
                MAXIMUM_DECREASED,
            ],
        );
        self.bound(
            w,
            r,
            "minimum",
            [
                MINIMUM_ADDED,
                MINIMUM_REMOVED,
                MINIMUM_INCREASED,
                MINIMUM_DECREASED,
            ],
        );
        self.bound(
            w,
            r,
            "exclusiveMaximum",
            [
                EXCLUSIVE_MAXIMUM_ADDED,
                EXCLUSIVE_MAXIMUM_REMOVED,
                EXCLUSIVE_MAXIMUM_INCREASED,
                EXCLUSIVE_MAXIMUM_DECREASED,
            ],
        );
        self.bound(
            w,
            r,
            "exclusiveMinimum",
            [
                EXCLUSIVE_MINIMUM_ADDED,
                EXCLUSIVE_MINIMUM_REMOVED,
                EXCLUSIVE_MINIMUM_INCREASED,
                EXCLUSIVE_MINIMUM_DECREASED,
            ],
        );
        let detail = |o: f64, n: f64| format!("multipleOf {o} → {n}");
        match (w.number("multipleOf"), r.number("multipleOf")) {
            (None, Some(n)) => self.report(
                MULTIPLE_OF_ADDED,
                w,
                r,
                &["multipleOf"],
                format!("multipleOf {n}"),
            ),
            (Some(o), None) => self.report(
                MULTIPLE_OF_REMOVED,
                w,
                r,
                &["multipleOf"],
                format!("multipleOf {o}"),
            ),
            (Some(o), Some(n)) if o != n => {
                let kind = if is_whole(o / n) {
                    MULTIPLE_OF_REDUCED
                } else if is_whole(n / o) {
                    MULTIPLE_OF_EXPANDED
                } else {
                    MULTIPLE_OF_CHANGED
                };
                self.report(kind, w, r, &["multipleOf"], detail(o, n));
            }
            _ => {}
        }
    }

    /// A numeric bound, as `[added, removed, increased, decreased]`.
    pub(super) fn bound(&mut self, w: &Node, r: &Node, key: &str, kinds: [ChangeKind; 4]) {
        self.bound_in_force(w, r, key, |n: &Node| n.number(key), kinds);
    }

    /// A numeric bound whose absence may mean a default (`minContains` is
    /// 1 beside `contains`): `in_force` gives the bound that applies on a
    /// side. The direction comes from those values, so dropping
    /// `minContains: 0` is a raise; "added"/"removed" name a change that
    /// also adds or drops the keyword.
    pub(super) fn bound_in_force(
        &mut self,
        w: &Node,
        r: &Node,
        key: &str,
        in_force: impl Fn(&Node) -> Option<f64>,
        [added, removed, increased, decreased]: [ChangeKind; 4],
    ) {
        let (old, new) = (in_force(w), in_force(r));
        let kind = match (old, new) {
            (None, Some(_)) => added,
            (Some(_), None) => removed,
            (Some(o), Some(n)) if n > o && w.get(key).is_none() => added,
            (Some(o), Some(n)) if n > o => increased,
            (Some(o), Some(n)) if n < o && r.get(key).is_none() => removed,
            (Some(o), Some(n)) if n < o => decreased,
            _ => return,
        };
        let show = |v: Option<f64>| v.map_or("none".to_owned(), |v| v.to_string());
        self.report(
            kind,
            w,
            r,
            &[key],
            format!("{key} {} → {}", show(old), show(new)),
        );
    }

    fn text(&mut self, w: &Node, r: &Node, key: &str, [added, removed, changed]: [ChangeKind; 3]) {
        match (w.get(key), r.get(key)) {
            (None, Some(n)) => self.report(added, w, r, &[key], format!("{key} {n}")),
            (Some(o), None) => self.report(removed, w, r, &[key], format!("{key} {o}")),
            (Some(o), Some(n)) if o != n => {
                self.report(changed, w, r, &[key], format!("{key} {o} → {n}"))
            }
            _ => {}
        }
    }
}

fn is_whole(x: f64) -> bool {
    x >= 1.0 && (x - x.round()).abs() < 1e-9
}

fn type_detail(w: &Node, r: &Node) -> String {
    let show = |n: &Node| n.get("type").map_or("any".to_owned(), Value::to_string);
    format!("type {} → {}", show(w), show(r))
}

fn join_values(values: &[&Value]) -> String {
    values
        .iter()
        .map(|v| v.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::super::tests::{changes, one};
    use super::*;
    use serde_json::json;

    #[test]
    fn a_bound_is_added_removed_raised_or_lowered() {
        let s = |v: Value| json!({"type": "string", "maxLength": v});
        let plain = json!({"type": "string"});
        let at = "#/maxLength";
        assert_eq!(
            changes(plain.clone(), s(json!(5))),
            one(MAX_LENGTH_ADDED, at)
        );
        assert_eq!(changes(s(json!(5)), plain), one(MAX_LENGTH_REMOVED, at));
        assert_eq!(
            changes(s(json!(5)), s(json!(9))),
            one(MAX_LENGTH_INCREASED, at)
        );
        assert_eq!(
            changes(s(json!(9)), s(json!(5))),
            one(MAX_LENGTH_DECREASED, at)
        );
        // 5 and 5.0 are the same bound.
        assert!(changes(s(json!(5)), s(json!(5.0))).is_empty());
    }

    #[test]
    fn number_bounds_apply_only_when_old_data_can_be_a_number() {
        let old = json!({"type": "string", "minimum": 3});
        let new = json!({"type": "string"});
        assert!(changes(old, new).is_empty());
        let old = json!({"type": "integer", "exclusiveMinimum": 3});
        let new = json!({"type": "integer", "exclusiveMinimum": 1});
        assert_eq!(
            changes(old, new),
            one(EXCLUSIVE_MINIMUM_DECREASED, "#/exclusiveMinimum")
        );
    }

    #[test]
    fn multiple_of_is_reduced_to_a_divisor_expanded_to_a_multiple_or_changed() {
        let m = |v: Value| json!({"type": "number", "multipleOf": v});
        let at = "#/multipleOf";
        assert_eq!(
            changes(m(json!(0.5)), m(json!(0.25))),
            one(MULTIPLE_OF_REDUCED, at)
        );
        assert_eq!(
            changes(m(json!(2)), m(json!(6))),
            one(MULTIPLE_OF_EXPANDED, at)
        );
        assert_eq!(
            changes(m(json!(4)), m(json!(6))),
            one(MULTIPLE_OF_CHANGED, at)
        );
        assert!(is_whole(3.0) && is_whole(1.0) && !is_whole(0.5) && !is_whole(1.5));
    }

    #[test]
    fn types_are_extended_narrowed_or_changed_by_what_old_data_can_be() {
        let t = |v: Value| json!({ "type": v });
        assert_eq!(
            changes(t(json!("integer")), t(json!("number"))),
            one(TYPE_EXTENDED, "#/type")
        );
        assert_eq!(
            changes(t(json!("number")), t(json!("integer"))),
            one(TYPE_NARROWED, "#/type")
        );
        assert_eq!(
            changes(
                t(json!(["string", "null"])),
                t(json!(["string", "boolean"]))
            ),
            one(TYPE_CHANGED, "#/type")
        );
        // Old data is only the enum's values: whole numbers, so `integer`
        // reads all of it.
        let old = json!({"type": "number", "enum": [1, 2]});
        let new = json!({"type": "integer", "enum": [1, 2]});
        assert!(changes(old, new).is_empty());
    }

    #[test]
    fn allowed_values_are_extended_narrowed_or_changed() {
        let e = |v: Value| json!({ "enum": v });
        assert_eq!(
            changes(e(json!([1, "a"])), e(json!([1.0, "a", null]))),
            one(ENUM_ARRAY_EXTENDED, "#/enum")
        );
        assert_eq!(
            changes(json!({}), json!({"const": 1})),
            one(ENUM_ARRAY_NARROWED, "#/const")
        );
        assert_eq!(
            changes(json!({"const": 1}), json!({})),
            one(ENUM_ARRAY_EXTENDED, "#/enum")
        );
        assert_eq!(
            changes(e(json!(["a", "b"])), json!({"const": "c"})),
            one(ENUM_ARRAY_CHANGED, "#/const")
        );
    }

    #[test]
    fn format_and_pattern_are_texts_added_removed_or_changed() {
        let f = |v: Value| json!({"type": "string", "format": v});
        let plain = json!({"type": "string"});
        assert_eq!(
            changes(plain.clone(), f(json!("uri"))),
            one(FORMAT_ADDED, "#/format")
        );
        assert_eq!(
            changes(f(json!("uri")), plain),
            one(FORMAT_REMOVED, "#/format")
        );
        assert_eq!(
            changes(f(json!("uri")), f(json!("email"))),
            one(FORMAT_CHANGED, "#/format")
        );
        // A format on a schema whose data cannot be a string is moot.
        let old = json!({"type": "integer"});
        let new = json!({"type": "integer", "format": "email"});
        assert!(changes(old, new).is_empty());
    }
}
