//! Avro schemas through the gateway's compile path: the Avro project's
//! schema conformance files, and the example `order` contract with its
//! valid and invalid payloads.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use contractgate::contract::schema::{read_json, RefRoots};
use contractgate::contract::{Error, JsonPointer, Schema, SchemaDocument, SchemaFormat};
use serde::Deserialize;
use serde_json::Value;

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn conformance_dir() -> PathBuf {
    manifest_dir().join("tests/data/avro/schema_tests")
}

/// Compiles `path` as Avro whatever its extension: the conformance files
/// have none, so `SchemaDocument::read` cannot tell their format.
fn compile_avro(path: &Path) -> Result<Schema, Error> {
    let raw = read_json(path)?;
    let document = SchemaDocument {
        path: path.to_path_buf(),
        format: SchemaFormat::Avro,
        raw,
    };
    let folder = path.parent().expect("a file has a parent folder");
    Schema::compile(&document, &RefRoots::folder(folder)?)
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|entry| entry.expect("a readable directory entry").path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    files
}

#[test]
fn conformance_pass_schemas_compile() {
    let pass = files(&conformance_dir().join("pass"));
    assert!(
        pass.len() >= 20,
        "expected the conformance files, found {pass:?}"
    );
    for path in pass {
        let schema = compile_avro(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(schema.format(), SchemaFormat::Avro);
    }
}

#[test]
fn conformance_fail_schemas_are_refused_with_a_clear_message() {
    let fail = files(&conformance_dir().join("fail"));
    assert!(
        fail.len() >= 10,
        "expected the conformance files, found {fail:?}"
    );
    for path in fail {
        // apache-avro 0.20 panics on some of these (`invalid_avro_id`);
        // Schema::compile must turn that into an error.
        let error = match compile_avro(&path) {
            Ok(_) => panic!("{} compiled but must be refused", path.display()),
            Err(error) => error,
        };
        assert_eq!(error.path, path);
        // Two of the files are not even JSON; the reader says so with a line.
        let names_problem = error.message.starts_with("not a valid Avro schema: ")
            || error.message.starts_with("not valid JSON: ");
        assert!(names_problem, "{error}");
        let detail = error.message.split_once(": ").map_or("", |(_, d)| d);
        assert!(!detail.trim().is_empty(), "{error}");
    }
}

#[test]
fn interop_schema_validates_a_full_payload() {
    let schema = compile_avro(&conformance_dir().join("pass/interop.avsc")).expect("compiles");
    let payload = read_json(&manifest_dir().join("tests/data/avro/interop.valid.json"))
        .expect("test data is JSON");
    assert_eq!(schema.validate(&payload), []);
}

fn order_schema() -> Schema {
    let path = manifest_dir().join("contracts/order/v1.avsc");
    let document = SchemaDocument::read(&path).expect("the order schema reads as Avro");
    let roots = RefRoots::folder(&manifest_dir().join("contracts")).expect("contracts folder");
    Schema::compile(&document, &roots).expect("the order schema compiles")
}

/// The example payloads whose file name starts with `prefix`.
fn order_examples(prefix: &str) -> Vec<PathBuf> {
    let examples = files(&manifest_dir().join("contracts/order/examples"));
    examples
        .into_iter()
        .filter(|path| {
            path.file_name()
                .and_then(|name| name.to_str())
                .is_some_and(|name| name.starts_with(prefix))
        })
        .collect()
}

#[test]
fn order_declares_its_key() {
    let schema = order_schema();
    for declared in ["/id", "/customer/id", "/customer/address/city"] {
        let pointer = JsonPointer::parse(declared).expect("a pointer");
        assert!(schema.declares(&pointer), "{declared}");
    }
    assert!(!schema.declares(&JsonPointer::parse("/customer/name").expect("a pointer")));
}

#[test]
fn order_valid_examples_validate_and_normalize() {
    let schema = order_schema();
    let examples = order_examples("v1.valid.");
    assert!(examples.len() >= 3, "{examples:?}");
    for path in examples {
        let payload = read_json(&path).expect("examples are JSON");
        assert_eq!(schema.validate(&payload), [], "{}", path.display());
        let normalized = schema.normalize(payload);
        assert_eq!(schema.validate(&normalized), [], "{}", path.display());
        // The note union is either filled with its default or unwrapped.
        let note = normalized.get("note").expect("note is filled in");
        assert!(
            note.is_null() || note.is_string(),
            "{}: {note}",
            path.display()
        );
    }
}

#[derive(Debug, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
struct Expected {
    pointer: String,
    keyword: String,
}

#[test]
fn order_invalid_examples_yield_the_expected_violations() {
    let schema = order_schema();
    let table = read_json(&manifest_dir().join("tests/data/avro/order-v1-invalid.json"))
        .expect("the expectation table is JSON");
    let mut table: BTreeMap<String, Vec<Expected>> =
        serde_json::from_value(table).expect("file name to a list of {pointer, keyword}");
    let examples = order_examples("v1.invalid.");
    assert_eq!(
        examples.len(),
        table.len(),
        "one expectation per invalid example"
    );
    for path in examples {
        let name = path
            .file_name()
            .and_then(|name| name.to_str())
            .unwrap_or_default();
        let mut expected = table
            .remove(name)
            .unwrap_or_else(|| panic!("no expectation for {name}"));
        let payload: Value = read_json(&path).expect("examples are JSON");
        let mut found: Vec<Expected> = schema
            .validate(&payload)
            .into_iter()
            .map(|v| Expected {
                pointer: v.pointer,
                keyword: v.keyword,
            })
            .collect();
        expected.sort();
        found.sort();
        assert_eq!(found, expected, "{name}");
    }
}
