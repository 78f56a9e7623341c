//! Shared by the compatibility tests: reading the case tables and turning a
//! schema from a table into a file the checker reads like any other.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use contractgate::contract::compat::{
    check_history, compare, Change, Direction, Mode, Policy, Report, SchemaVersion,
};
use serde_json::Value;

/// `tests/data/compat/<name>`.
pub fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/compat")
        .join(name)
}

/// A JSON table from `tests/data/compat/`.
pub fn table(name: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(data(name)).expect("the case table is readable");
    serde_json::from_str(&text).expect("the case table is JSON")
}

/// Writes `schema` as `dir/name` and reads it back as a version.
pub fn version(dir: &Path, name: &str, schema: &Value) -> SchemaVersion {
    let path = dir.join(name);
    std::fs::write(&path, schema.to_string()).expect("the temporary folder is writable");
    SchemaVersion::read(&path).unwrap_or_else(|e| panic!("{name} should compile: {e}"))
}

/// Changes found checking `new` backward against `old`.
pub fn backward(old: &SchemaVersion, new: &SchemaVersion, policy: Policy) -> Vec<Change> {
    compare(old, new, Direction::Backward, policy).expect("the comparison runs")
}

/// Checks `new` after `history` (oldest first) under `mode`.
pub fn history(mode: Mode, history: &[&Path], new: &Path) -> Report {
    let history: Vec<SchemaVersion> = history
        .iter()
        .map(|p| SchemaVersion::read(p).expect("history schema reads"))
        .collect();
    let new = SchemaVersion::read(new).expect("new schema reads");
    check_history(mode, Policy::Strict, &history, &new).expect("the check runs")
}

pub fn kinds(changes: &[Change]) -> Vec<&'static str> {
    changes.iter().map(|c| c.kind.name()).collect()
}

pub fn compatible(changes: &[Change]) -> bool {
    changes.iter().all(|c| c.compatible)
}
