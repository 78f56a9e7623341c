//! Canonical schema hashes: Avro's Parsing Canonical Form against the
//! Avro project's own vectors (`tests/data/avro/schema-tests.txt`), and
//! JSON Schema hashes that ignore spelling but follow `$ref`s.

use std::path::Path;

use contractgate::contract::canonical::schema_hash;
use contractgate::contract::{RefRoots, Schema, SchemaDocument};
use sha2::{Digest, Sha256};

/// `(input, canonical form)` of every vector in the file.
fn vectors() -> Vec<(String, String)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/avro/schema-tests.txt");
    let text = std::fs::read_to_string(path).expect("the vectors are readable");
    let mut vectors = Vec::new();
    let mut lines = text.lines();
    let mut input = None;
    while let Some(line) = lines.next() {
        if line == "<<INPUT" {
            // A multi-line input runs to the line `INPUT`.
            let body: Vec<&str> = lines.by_ref().take_while(|l| *l != "INPUT").collect();
            input = Some(body.join("\n"));
        } else if let Some(rest) = line.strip_prefix("<<INPUT ") {
            input = Some(rest.to_owned());
        } else if let Some(canonical) = line.strip_prefix("<<canonical ") {
            let input = input.take().expect("an input precedes its canonical form");
            vectors.push((input, canonical.to_owned()));
        }
    }
    vectors
}

fn hash_of_file(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    let document = SchemaDocument::read(&path).unwrap();
    let roots = RefRoots::folder(dir).unwrap();
    let schema = Schema::compile(&document, &roots).unwrap_or_else(|e| panic!("{text}: {e}"));
    schema_hash(&schema, &document.path, &roots).unwrap()
}

fn sha256(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

#[test]
fn avro_hashes_are_of_the_parsing_canonical_form() {
    let dir = tempfile::tempdir().unwrap();
    let vectors = vectors();
    assert!(vectors.len() >= 30, "{} vectors", vectors.len());
    for (i, (input, canonical)) in vectors.iter().enumerate() {
        assert_eq!(
            hash_of_file(dir.path(), &format!("s{i}.avsc"), input),
            sha256(canonical),
            "vector {i}: {input}"
        );
    }
}

#[test]
fn json_schema_hashes_ignore_spelling_and_follow_file_refs() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("common.json"), r#"{"type": "string"}"#).unwrap();
    let a = hash_of_file(
        dir.path(),
        "a.json",
        r#"{"type": "object", "properties": {"n": {"$ref": "common.json"}, "m": {"maximum": 1.0}}}"#,
    );
    let b = hash_of_file(
        dir.path(),
        "b.json",
        r#"{"properties":{"m":{"maximum":1},"n":{"$ref":"common.json"}},"type":"object"}"#,
    );
    assert_eq!(a, b);
    let other = hash_of_file(
        dir.path(),
        "c.json",
        r#"{"type": "object", "properties": {"n": {"$ref": "common.json"}, "m": {"maximum": 2}}}"#,
    );
    assert_ne!(a, other);
    // The referenced file is part of what a version means.
    std::fs::write(dir.path().join("common.json"), r#"{"type": "integer"}"#).unwrap();
    assert_ne!(
        hash_of_file(
            dir.path(),
            "a.json",
            r#"{"type": "object", "properties": {"n": {"$ref": "common.json"}, "m": {"maximum": 1.0}}}"#
        ),
        a
    );
}
