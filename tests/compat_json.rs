//! The JSON Schema rules (`tests/data/compat/json-schema-compat-rules.md`)
//! as a table: `tests/data/compat/json/cases.json` names the rule, the old
//! and new schema, the STRICT (and, where it differs, LENIENT) backward
//! verdict and the change kinds that must be reported.

mod compat_common;

use compat_common::*;
use contractgate::contract::compat::{
    check_history, compare, ChangeKind, Direction, Mode, Policy, SchemaVersion,
};
use serde_json::{json, Value};

#[test]
fn every_rule_in_the_table_gets_its_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for (i, case) in table("json/cases.json").iter().enumerate() {
        let rule = case["rule"].as_str().unwrap();
        let old = version(dir.path(), &format!("old{i}.json"), &case["old"]);
        let new = version(dir.path(), &format!("new{i}.json"), &case["new"]);
        let strict = backward(&old, &new, Policy::Strict);
        let lenient = backward(&old, &new, Policy::Lenient);
        let expected_strict = case["strict"].as_bool().unwrap();
        let expected_lenient = case["lenient"].as_bool().unwrap_or(expected_strict);
        if compatible(&strict) != expected_strict {
            failures.push(format!(
                "{rule}: STRICT verdict {} expected {expected_strict}: {strict:#?}",
                compatible(&strict)
            ));
        }
        if compatible(&lenient) != expected_lenient {
            failures.push(format!(
                "{rule}: LENIENT verdict {} expected {expected_lenient}: {lenient:#?}",
                compatible(&lenient)
            ));
        }
        let found = kinds(&strict);
        let expected: Vec<&str> = case["kinds"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        for kind in &expected {
            if !found.contains(kind) {
                failures.push(format!("{rule}: expected {kind}, found {found:?}"));
            }
        }
        if expected.is_empty() && !found.is_empty() {
            failures.push(format!("{rule}: expected no change, found {found:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_schema_of_the_table_is_compatible_with_itself() {
    let dir = tempfile::tempdir().unwrap();
    for (i, case) in table("json/cases.json").iter().enumerate() {
        for side in ["old", "new"] {
            let schema = version(dir.path(), &format!("{side}{i}.json"), &case[side]);
            let changes = backward(&schema, &schema, Policy::Strict);
            assert!(
                changes.is_empty(),
                "{}: {side} against itself: {changes:#?}",
                case["rule"]
            );
        }
    }
}

#[test]
fn locations_are_json_pointers_into_the_new_schema() {
    let dir = tempfile::tempdir().unwrap();
    let old = version(
        dir.path(),
        "old.json",
        &serde_json::json!({"properties": {"email": {"type": "string", "maxLength": 100}}}),
    );
    let new = version(
        dir.path(),
        "new.json",
        &serde_json::json!({"properties": {"email": {"type": "string", "maxLength": 50}}}),
    );
    let changes = backward(&old, &new, Policy::Strict);
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].kind, ChangeKind::MAX_LENGTH_DECREASED);
    assert_eq!(changes[0].location, "#/properties/email/maxLength");
    assert!(
        changes[0].message.contains("100 → 50"),
        "{}",
        changes[0].message
    );
    // Forward reads the other way round and still points into the new file.
    let report = check_history(Mode::Forward, Policy::Strict, &[old], &new).unwrap();
    assert!(report.compatible);
    assert_eq!(
        report.comparisons[0].changes[0].kind,
        ChangeKind::MAX_LENGTH_INCREASED
    );
    assert_eq!(
        report.comparisons[0].changes[0].location,
        "#/properties/email/maxLength"
    );
}

#[test]
fn relative_file_refs_are_followed_and_located_in_their_file() {
    let v1 = SchemaVersion::read(&data("json/refs/v1.json")).unwrap();
    let v2 = SchemaVersion::read(&data("json/refs/v2.json")).unwrap();
    let changes = backward(&v1, &v2, Policy::Strict);
    assert_eq!(kinds(&changes), ["MAX_LENGTH_DECREASED"], "{changes:#?}");
    assert_eq!(
        changes[0].location,
        "address-v2.json#/$defs/address/properties/zip/maxLength"
    );
    assert!(backward(&v2, &v2, Policy::Strict).is_empty());
}

#[test]
fn unresolvable_and_escaping_refs_are_errors() {
    for name in ["broken.json", "escaping.json"] {
        let error = SchemaVersion::read(&data(&format!("json/refs/{name}"))).unwrap_err();
        assert!(error.message.contains("$ref"), "{name}: {error}");
    }
}

#[test]
fn json_schema_against_avro_is_an_error() {
    let json = SchemaVersion::read(&data("json/refs/v1.json")).unwrap();
    let avro = SchemaVersion::read(&data("avro/history/s1.avsc")).unwrap();
    let error = check_history(Mode::Backward, Policy::Strict, &[avro], &json).unwrap_err();
    assert!(error.message.contains("same language"), "{error}");
}

#[test]
fn every_kind_has_a_stable_screaming_snake_name_and_an_explanation() {
    for kind in ChangeKind::ALL {
        let name = kind.name();
        assert!(
            name.chars().all(|c| c.is_ascii_uppercase() || c == '_'),
            "{name}"
        );
        assert!(!kind.explanation().is_empty());
        assert_eq!(
            serde_json::to_value(kind).unwrap(),
            Value::String(name.into())
        );
    }
}

#[test]
fn a_ref_recursing_through_additional_properties_beside_siblings_terminates() {
    let file = data("real/bukkit-plugin.schema.json");
    let schema = SchemaVersion::read(&file).unwrap();
    assert!(backward(&schema, &schema, Policy::Strict).is_empty());
}

/// `$defs` d0 → d1 → … each one property deeper, without recursion.
fn nested_definitions(levels: usize) -> serde_json::Value {
    let defs: serde_json::Map<String, serde_json::Value> = (0..levels)
        .map(|i| {
            let next = json!({"properties": {"a": {"$ref": format!("#/$defs/d{}", i + 1)}}});
            (format!("d{i}"), next)
        })
        .chain([(format!("d{levels}"), json!({"type": "string"}))])
        .collect();
    json!({"$defs": defs, "$ref": "#/$defs/d0"})
}

#[test]
fn nesting_past_the_limit_is_an_error_naming_the_schema_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let deep = version(dir.path(), "deep.json", &nested_definitions(400));
    let error = compare(&deep, &deep, Direction::Backward, Policy::Strict).unwrap_err();
    assert!(error.path.ends_with("deep.json"), "{error}");
    assert!(error.message.contains("nests deeper than"), "{error}");
    let fine = version(dir.path(), "fine.json", &nested_definitions(150));
    assert!(backward(&fine, &fine, Policy::Strict).is_empty());
}
