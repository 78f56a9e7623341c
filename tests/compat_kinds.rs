//! Every change kind the checker can report is the expected kind of at
//! least one row of the case tables (`tests/data/compat/json/cases.json`,
//! `tests/data/compat/avro/cases.json`), so a kind added later without a
//! row that proves when it is reported, and with which verdict, fails here.

mod compat_common;

use std::collections::BTreeSet;

use compat_common::*;
use contractgate::contract::compat::ChangeKind;
use serde_json::Value;

/// Kinds no table row expects, each with the reason it may stay untested.
/// Keep it empty: a kind that cannot be produced is dead code to remove.
const NOT_IN_TABLES: &[(ChangeKind, &str)] = &[];

/// Every kind a row of `name` expects under `keys`.
fn expected(name: &str, keys: &[&str]) -> BTreeSet<String> {
    table(name)
        .iter()
        .flat_map(|case| keys.iter().map(move |key| &case[*key]))
        .filter_map(Value::as_array)
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect()
}

/// Every kind a row of either table expects, in either direction.
fn covered() -> BTreeSet<String> {
    let mut covered = expected("json/cases.json", &["kinds"]);
    covered.extend(expected("avro/cases.json", &["kinds", "reverse_kinds"]));
    covered
}

#[test]
fn every_change_kind_is_expected_by_a_row_of_the_case_tables() {
    let covered = covered();
    let allowed: Vec<ChangeKind> = NOT_IN_TABLES.iter().map(|(kind, _)| *kind).collect();
    let missing: Vec<&str> = ChangeKind::ALL
        .iter()
        .filter(|kind| !covered.contains(kind.name()) && !allowed.contains(kind))
        .map(|kind| kind.name())
        .collect();
    assert!(
        missing.is_empty(),
        "no row of the case tables expects these kinds; add one with its STRICT and LENIENT verdicts: {missing:?}"
    );
}

#[test]
fn the_tables_name_only_kinds_that_exist() {
    let names: BTreeSet<&str> = ChangeKind::ALL.iter().map(|k| k.name()).collect();
    let unknown: Vec<String> = covered()
        .into_iter()
        .filter(|n| !names.contains(n.as_str()))
        .collect();
    assert!(
        unknown.is_empty(),
        "unknown kinds in the tables: {unknown:?}"
    );
}

#[test]
fn kinds_left_out_of_the_tables_are_still_kinds_the_tables_lack() {
    let covered = covered();
    for (kind, reason) in NOT_IN_TABLES {
        assert!(!reason.is_empty(), "{kind}: give the reason");
        assert!(
            !covered.contains(kind.name()),
            "{kind} now has a row: remove it from NOT_IN_TABLES"
        );
    }
}
