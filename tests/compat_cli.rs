//! `contractgate compat` as a user runs it: exit 0 compatible, 1
//! incompatible, 2 on an error, with the report on stdout.

mod compat_common;

use std::process::Command;

use compat_common::data;

fn run(args: &[&str]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_contractgate"))
        .arg("compat")
        .args(args)
        .output()
        .expect("the binary runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn path(name: &str) -> String {
    data(name).display().to_string()
}

#[test]
fn incompatible_change_exits_1_and_names_kind_and_location() {
    let (code, out, _) = run(&[&path("json/refs/v1.json"), &path("json/refs/v2.json")]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("MAX_LENGTH_DECREASED"), "{out}");
    assert!(
        out.contains("address-v2.json#/$defs/address/properties/zip/maxLength"),
        "{out}"
    );
    assert!(out.contains("verdict: incompatible"), "{out}");
}

#[test]
fn compatible_change_exits_0_and_json_output_parses() {
    let (code, out, _) = run(&[
        "--format",
        "json",
        &path("json/refs/v2.json"),
        &path("json/refs/v1.json"),
    ]);
    assert_eq!(code, 0, "{out}");
    let report: serde_json::Value = serde_json::from_str(&out).expect("JSON output");
    assert_eq!(report["compatible"], true);
    assert_eq!(
        report["comparisons"][0]["changes"][0]["kind"],
        "MAX_LENGTH_INCREASED"
    );
}

#[test]
fn transitive_mode_reads_the_older_versions() {
    let (s1, s2, s3) = (
        path("avro/history/s1.avsc"),
        path("avro/history/s2.avsc"),
        path("avro/history/s3.avsc"),
    );
    assert_eq!(run(&[&s2, &s3, &s1]).0, 0);
    let (code, out, _) = run(&["--mode", "backward_transitive", &s2, &s3, &s1]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("FIELD_ADDED_WITHOUT_DEFAULT at /fields/1"),
        "{out}"
    );
}

#[test]
fn errors_exit_2_with_a_message() {
    let (code, _, err) = run(&[&path("json/refs/v1.json"), &path("json/refs/missing.json")]);
    assert_eq!(code, 2);
    assert!(err.contains("cannot read the file"), "{err}");
    let (code, _, err) = run(&[&path("json/refs/v1.json"), &path("json/refs/broken.json")]);
    assert_eq!(code, 2);
    assert!(err.contains("$ref"), "{err}");
    let (code, _, err) = run(&[&path("avro/history/s1.avsc"), &path("json/refs/v1.json")]);
    assert_eq!(code, 2);
    assert!(err.contains("same language"), "{err}");
    let (code, _, err) = run(&[
        "--mode",
        "sideways",
        &path("json/refs/v1.json"),
        &path("json/refs/v1.json"),
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("not a compatibility mode"), "{err}");
}

#[test]
fn lenient_policy_accepts_an_optional_property_on_an_open_model() {
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("old.json");
    let new = dir.path().join("new.json");
    std::fs::write(
        &old,
        r#"{"type": "object", "properties": {"id": {"type": "integer"}}}"#,
    )
    .unwrap();
    std::fs::write(&new, r#"{"type": "object", "properties": {"id": {"type": "integer"}, "note": {"type": "string"}}}"#).unwrap();
    let (old, new) = (old.display().to_string(), new.display().to_string());
    assert_eq!(run(&[&old, &new]).0, 1);
    assert_eq!(run(&["--policy", "lenient", &old, &new]).0, 0);
}

#[test]
fn a_public_schema_recursing_through_a_ref_with_siblings_compares_with_itself() {
    let file = path("real/bukkit-plugin.schema.json");
    let (code, out, err) = run(&["--mode", "full", &file, &file]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("verdict: compatible"), "{out}");
}

#[test]
fn a_schema_without_dollar_schema_using_draft_7_forms_is_read_as_draft_7_and_says_so() {
    let file = path("json/draft7-implied.json");
    let (code, out, err) = run(&[&file, &file]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("has no `$schema` and uses `items` as an array: read as draft 7"),
        "{out}"
    );
}
