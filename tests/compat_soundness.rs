//! Soundness: a pair the checker calls backward compatible must not reject
//! old data. For every such pair of the rule tables, instances valid under
//! the old schema — the table's own examples and instances generated from
//! both schemas by proptest strategies — are validated against the new
//! schema with the gateway's validator (`Schema::validate`); any rejection
//! fails, naming the pair and the instance (shrunk to a minimal one).
//!
//! Avro pairs are also checked with apache-avro's binary resolution: data
//! encoded with the writer schema must decode with the reader schema.
//!
//! The one listed exception is Confluent's deliberate leniency: a required
//! property added *with a default* may reject old data lacking it.
//!
//! Generation is deterministic (a fixed seed, no persisted failures), so a
//! failure reproduces and CI sees the same instances on every run.

mod compat_common;

use std::cell::Cell;

use apache_avro::types::Value as Avro;
use compat_common::*;
use contractgate::contract::compat::{Change, ChangeKind, Policy, SchemaVersion};
use contractgate::contract::samples::{avro_payloads, names_in, run, JsonInstances};
use serde_json::Value;

/// Instances generated per schema of a JSON Schema pair.
const JSON_CASES: u32 = 300;
/// Values generated per direction of an Avro pair.
const AVRO_CASES: u32 = 200;

/// The leniency Confluent's semantics allow on purpose.
fn allows_missing_required(changes: &[Change]) -> bool {
    changes.iter().any(|c| {
        matches!(
            c.kind,
            ChangeKind::REQUIRED_ATTRIBUTE_WITH_DEFAULT_ADDED
                | ChangeKind::REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_UNOPEN_CONTENT_MODEL
        )
    })
}

#[test]
fn json_schema_pairs_called_compatible_accept_all_old_data() {
    let dir = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    let checked = Cell::new(0);
    for (i, case) in table("json/cases.json").iter().enumerate() {
        let old = version(dir.path(), &format!("old{i}.json"), &case["old"]);
        let new = version(dir.path(), &format!("new{i}.json"), &case["new"]);
        let changes = backward(&old, &new, Policy::Strict);
        if !compatible(&changes) {
            continue;
        }
        let lenient_required = allows_missing_required(&changes);
        // Old data the new schema rejects; anything the old schema refuses is not old data.
        let check = |instance: &Value| -> Result<(), String> {
            if !old.schema().validate(instance).is_empty() {
                return Ok(());
            }
            checked.set(checked.get() + 1);
            let rejected: Vec<_> = new
                .schema()
                .validate(instance)
                .into_iter()
                .filter(|v| !(lenient_required && v.keyword == "required"))
                .collect();
            if rejected.is_empty() {
                Ok(())
            } else {
                Err(format!("{instance} rejected: {rejected:?}"))
            }
        };
        let examples = case["examples"].as_array().cloned().unwrap_or_default();
        let mut outcomes: Vec<Result<(), String>> = examples.iter().map(&check).collect();
        let mut names = Vec::new();
        names_in(&case["old"], &mut names);
        names_in(&case["new"], &mut names);
        names.sort();
        names.dedup();
        for side in ["old", "new"] {
            let instances = JsonInstances::new(&case[side], names.clone()).payloads();
            outcomes.push(run(instances, JSON_CASES, |instance| check(&instance)));
        }
        if let Some(Err(failure)) = outcomes.into_iter().find(Result::is_err) {
            failures.push(format!("{}: {failure}", case["rule"]));
        }
    }
    assert!(
        checked.get() > 1000,
        "too few old instances were generated: {}",
        checked.get()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn parsed(version: &SchemaVersion) -> &apache_avro::Schema {
    version.schema().avro().expect("an Avro schema")
}

#[test]
fn avro_pairs_called_compatible_resolve_old_data() {
    let dir = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    let checked = Cell::new(0);
    for (i, case) in table("avro/cases.json").iter().enumerate() {
        let writer = version(dir.path(), &format!("w{i}.avsc"), &case["writer"]);
        let reader = version(dir.path(), &format!("r{i}.avsc"), &case["reader"]);
        for (old, new) in [(&writer, &reader), (&reader, &writer)] {
            let changes = backward(old, new, Policy::Strict);
            if !compatible(&changes) {
                continue;
            }
            // apache-avro resolves record fields by name only: it has no
            // reader aliases, so an alias-renamed field cannot decode there.
            let binary = !changes
                .iter()
                .any(|c| c.kind == ChangeKind::FIELD_RENAMED_WITH_ALIAS);
            let Some(values) = avro_payloads(parsed(old)) else {
                continue;
            };
            let outcome = run(values, AVRO_CASES, |(value, natural)| {
                checked.set(checked.get() + 1);
                if !old.schema().validate(&natural).is_empty() {
                    return Err(format!(
                        "generated {natural} is invalid under the old schema"
                    ));
                }
                if !binary {
                    return Ok(());
                }
                // What the gateway does with old data of an Avro contract:
                // Avro's schema resolution (skip, default, promote), then
                // the new version's validator on the resolved JSON.
                let bytes = apache_avro::to_avro_datum(parsed(old), value)
                    .expect("the generated value encodes");
                let resolved = apache_avro::from_avro_datum(
                    parsed(old),
                    &mut bytes.as_slice(),
                    Some(parsed(new)),
                )
                .map_err(|e| format!("{natural} does not resolve: {e}"))?;
                let resolved = json_of(resolved);
                let violations = new.schema().validate(&resolved);
                if violations.is_empty() {
                    Ok(())
                } else {
                    Err(format!(
                        "{natural} resolves to {resolved}, rejected by the new schema: {violations:?}"
                    ))
                }
            });
            if let Err(failure) = outcome {
                failures.push(format!("{}: {failure}", case["row"]));
            }
        }
    }
    assert!(
        checked.get() > 1000,
        "too few values were generated: {}",
        checked.get()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// An Avro value in the gateway's JSON mapping (bytes and fixed as strings
/// of code points 0–255, unions unwrapped).
fn json_of(value: Avro) -> Value {
    let bytes = |b: Vec<u8>| Value::String(b.into_iter().map(char::from).collect());
    match value {
        Avro::Null => Value::Null,
        Avro::Boolean(b) => Value::Bool(b),
        Avro::Int(i) | Avro::Date(i) | Avro::TimeMillis(i) => Value::from(i),
        Avro::Long(l)
        | Avro::TimeMicros(l)
        | Avro::TimestampMillis(l)
        | Avro::TimestampMicros(l) => Value::from(l),
        Avro::Float(f) => Value::from(f64::from(f)),
        Avro::Double(d) => Value::from(d),
        Avro::Bytes(b) | Avro::Fixed(_, b) => bytes(b),
        Avro::String(s) | Avro::Enum(_, s) => Value::String(s),
        Avro::Union(_, inner) => json_of(*inner),
        Avro::Array(items) => Value::Array(items.into_iter().map(json_of).collect()),
        Avro::Map(items) => {
            Value::Object(items.into_iter().map(|(k, v)| (k, json_of(v))).collect())
        }
        Avro::Record(fields) => {
            Value::Object(fields.into_iter().map(|(k, v)| (k, json_of(v))).collect())
        }
        other => panic!("the generator makes no {other:?}"),
    }
}
