//! The Avro rules (`tests/data/compat/avro-rules.md`): every row of its
//! table in both directions (`tests/data/compat/avro/cases.json`), the
//! S1/S2/S3 history examples, and the Avro project's own schema tests
//! (`tests/data/avro/schema_tests/{pass,fail}`).

mod compat_common;

use std::path::{Path, PathBuf};

use compat_common::*;
use contractgate::contract::compat::{check_history, Mode, Policy, SchemaVersion};
use contractgate::contract::schema::RefRoots;
use contractgate::contract::{SchemaDocument, SchemaFormat};
use serde_json::Value;

const MODES: [Mode; 7] = [
    Mode::Backward,
    Mode::BackwardTransitive,
    Mode::Forward,
    Mode::ForwardTransitive,
    Mode::Full,
    Mode::FullTransitive,
    Mode::None,
];

fn strings(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

#[test]
fn every_row_in_both_directions() {
    let dir = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for (i, case) in table("avro/cases.json").iter().enumerate() {
        let row = case["row"].as_str().unwrap();
        let writer = version(dir.path(), &format!("w{i}.avsc"), &case["writer"]);
        let reader = version(dir.path(), &format!("r{i}.avsc"), &case["reader"]);
        for (old, new, expected, kinds_key, locations_key) in [
            (
                &writer,
                &reader,
                case["reads"].as_bool().unwrap(),
                "kinds",
                "locations",
            ),
            (
                &reader,
                &writer,
                case["reverse"].as_bool().unwrap(),
                "reverse_kinds",
                "reverse_locations",
            ),
        ] {
            let changes = backward(old, new, Policy::Strict);
            let label = format!("{row} ({kinds_key})");
            if compatible(&changes) != expected {
                failures.push(format!(
                    "{label}: verdict {} expected {expected}: {changes:#?}",
                    compatible(&changes)
                ));
            }
            let found = kinds(&changes);
            for kind in strings(&case[kinds_key]) {
                if !found.contains(&kind) {
                    failures.push(format!("{label}: expected {kind}, found {found:?}"));
                }
            }
            if kinds_key == "kinds" && strings(&case["kinds"]).is_empty() && !found.is_empty() {
                failures.push(format!("{label}: expected no change, found {found:?}"));
            }
            for location in strings(&case[locations_key]) {
                if !changes.iter().any(|c| c.location == location) {
                    failures.push(format!(
                        "{label}: nothing reported at {location}: {changes:#?}"
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn s(n: u8) -> PathBuf {
    data(&format!("avro/history/s{n}.avsc"))
}

#[test]
fn backward_checks_the_latest_only_and_transitive_every_version() {
    let (s1, s2, s3) = (s(1), s(2), s(3));
    assert!(history(Mode::Backward, &[&s1, &s2], &s3).compatible);
    let transitive = history(Mode::BackwardTransitive, &[&s1, &s2], &s3);
    assert!(!transitive.compatible);
    let failing: Vec<_> = transitive
        .comparisons
        .iter()
        .filter(|c| !c.is_compatible())
        .collect();
    assert_eq!(failing.len(), 1);
    assert_eq!(failing[0].old, s1);
    assert_eq!(kinds(&failing[0].changes), ["FIELD_ADDED_WITHOUT_DEFAULT"]);
    assert_eq!(failing[0].changes[0].location, "/fields/1");
}

#[test]
fn forward_checks_the_latest_only_and_transitive_every_version() {
    // The rules write "S1 after [S2, S3]"; the claim "forward compatible"
    // only holds when S2 (f2 with a default) is the latest version, since S3
    // (f2 without one) cannot read S1's data. So S3 is the older one here.
    let (s1, s2, s3) = (s(1), s(2), s(3));
    assert!(history(Mode::Forward, &[&s3, &s2], &s1).compatible);
    let transitive = history(Mode::ForwardTransitive, &[&s3, &s2], &s1);
    assert!(!transitive.compatible);
    let failing: Vec<_> = transitive
        .comparisons
        .iter()
        .filter(|c| !c.is_compatible())
        .collect();
    assert_eq!(failing.len(), 1);
    assert_eq!(failing[0].old, s3);
    assert!(!history(Mode::Forward, &[&s2, &s3], &s1).compatible);
}

#[test]
fn full_is_both_directions() {
    let (s1, s2, s3) = (s(1), s(2), s(3));
    assert!(history(Mode::Full, &[&s1], &s2).compatible);
    assert!(history(Mode::Full, &[&s2], &s3).compatible);
    assert!(!history(Mode::Full, &[&s1], &s3).compatible);
    assert!(!history(Mode::FullTransitive, &[&s1, &s2], &s3).compatible);
    assert!(history(Mode::None, &[&s1, &s2], &s3).comparisons.is_empty());
}

fn schema_tests(kind: &str) -> Vec<PathBuf> {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/avro/schema_tests")
        .join(kind);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&folder)
        .unwrap_or_else(|e| panic!("{}: {e}", folder.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
}

/// The files have no extension; they are Avro by origin.
fn read_avro(path: &Path) -> Result<SchemaVersion, contractgate::contract::Error> {
    let raw = contractgate::contract::schema::read_json(path)?;
    let document = SchemaDocument {
        path: path.to_path_buf(),
        format: SchemaFormat::Avro,
        raw,
    };
    SchemaVersion::compile(document, RefRoots::folder(path.parent().unwrap())?)
}

#[test]
fn pass_schemas_parse_and_are_compatible_with_themselves_in_every_mode() {
    let files = schema_tests("pass");
    assert!(files.len() >= 20);
    for path in files {
        let schema = read_avro(&path).unwrap_or_else(|e| panic!("{e}"));
        for mode in MODES {
            let earlier = read_avro(&path).unwrap();
            let report = check_history(mode, Policy::Strict, &[earlier], &schema).unwrap();
            assert!(
                report.compatible,
                "{} in {mode:?}: {report:#?}",
                path.display()
            );
            let changes: Vec<_> = report.comparisons.iter().flat_map(|c| &c.changes).collect();
            assert!(
                changes.is_empty(),
                "{} in {mode:?}: {changes:#?}",
                path.display()
            );
        }
    }
}

#[test]
fn fail_schemas_are_rejected_with_a_clear_error() {
    for path in schema_tests("fail") {
        let error = read_avro(&path).expect_err(&path.display().to_string());
        let clear = error.message.contains("not a valid Avro schema")
            || error.message.contains("not valid JSON");
        assert!(clear, "{error}");
    }
}
