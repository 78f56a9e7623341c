//! The JSON Schema Test Suite (drafts 2020-12 and 7, with `optional/` and
//! `optional/format/`), run through the same code path contracts use:
//! `SchemaDocument::read` → `Schema::compile` with `RefRoots` → `validate`.
//!
//! Every case that fails must be listed in `tests/data/json-schema-limitations.txt`
//! with a reason; the test fails on a new failure (a line to add) and on a new
//! pass (a line to remove), so a change in conformance is always noticed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use contractgate::contract::schema::RefRoots;
use contractgate::contract::{Schema, SchemaDocument};
use serde::Deserialize;
use serde_json::Value;

/// The suite, relative to the project root (origin in `tests/data/README.md`).
const SUITE: &str = "tests/data/json-schema-test-suite";
/// The documented limitations, one failing case a line.
const LIMITATIONS: &str = "tests/data/json-schema-limitations.txt";
/// Remote `$ref`s of the suite point below this prefix; `remotes/` serves them.
const REMOTE_PREFIX: &str = "http://localhost:1234/";
/// How a user selects draft 7 in a contract.
const DRAFT7_URI: &str = "http://json-schema.org/draft-07/schema#";
/// Separates the fields of a limitations line. Test descriptions may contain
/// it (`invalid | character`), so a line is split only at its last separator:
/// everything before is the case, the rest the reason (which must not contain it).
const SEPARATOR: &str = " | ";

/// The folders run, each reported on its own line.
const FOLDERS: [&str; 6] = [
    "draft2020-12",
    "draft2020-12/optional",
    "draft2020-12/optional/format",
    "draft7",
    "draft7/optional",
    "draft7/optional/format",
];

#[derive(Deserialize)]
struct Group {
    description: String,
    schema: Value,
    tests: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    description: String,
    data: Value,
    valid: bool,
}

/// Everything the suite needs to compile a schema the way a contract is compiled.
struct Runner {
    dir: tempfile::TempDir,
    roots: RefRoots,
    written: usize,
}

impl Runner {
    fn new(suite: &Path) -> Self {
        let dir = tempfile::tempdir().expect("cannot create a temporary folder for the schemas");
        let remotes = std::fs::canonicalize(suite.join("remotes"))
            .expect("the suite's remotes/ folder is missing");
        let roots = RefRoots::folder(dir.path())
            .expect("the temporary folder is not a valid ref root")
            .with_mapping(REMOTE_PREFIX, &remotes);
        Self {
            dir,
            roots,
            written: 0,
        }
    }

    /// Writes `schema` to a new file and compiles it as a contract schema would be.
    fn compile(&mut self, schema: &Value) -> Result<Schema, String> {
        self.written += 1;
        let path = self.dir.path().join(format!("{:04}.json", self.written));
        std::fs::write(&path, schema.to_string()).expect("cannot write a schema file");
        let document = SchemaDocument::read(&path).map_err(|e| e.message)?;
        Schema::compile(&document, &self.roots).map_err(|e| e.message)
    }
}

/// The draft7 folder selects draft 7 the way a user does: `$schema` in the
/// root object. Boolean root schemas have nowhere to put it; they mean the
/// same in every draft, so they run under the gateway default (2020-12).
fn as_written_for(folder: &str, mut schema: Value) -> Value {
    if folder.starts_with("draft7") {
        if let Value::Object(map) = &mut schema {
            map.entry("$schema")
                .or_insert_with(|| Value::String(DRAFT7_URI.to_owned()));
        }
    }
    schema
}

/// Runs one case against its (possibly failed) compiled schema; `Err` is the
/// reason it fails.
fn check_case(schema: &Result<Schema, String>, case: &Case) -> Result<(), String> {
    let schema = schema
        .as_ref()
        .map_err(|e| format!("the schema does not compile: {e}"))?;
    let violations = schema.validate(&case.data);
    match (case.valid, violations.first()) {
        (true, None) | (false, Some(_)) => Ok(()),
        (true, Some(v)) => Err(format!("rejected a valid instance: {}", v.message)),
        (false, None) => Err("accepted an invalid instance".to_owned()),
    }
}

#[derive(Default)]
struct Tally {
    passed: usize,
    total: usize,
}

/// Failing cases keyed `<folder>/<file> | <group> | <test>`, with the observed reason.
type Failures = BTreeMap<String, String>;

fn run_file(
    runner: &mut Runner,
    folder: &str,
    path: &Path,
    tally: &mut Tally,
    failures: &mut Failures,
) {
    let file = path
        .file_name()
        .and_then(|n| n.to_str())
        .expect("a suite file name is not UTF-8");
    let text = std::fs::read_to_string(path).expect("cannot read a suite file");
    let groups: Vec<Group> = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{}: not a test-suite file: {e}", path.display()));
    for group in groups {
        let schema = runner.compile(&as_written_for(folder, group.schema));
        for case in &group.tests {
            tally.total += 1;
            match check_case(&schema, case) {
                Ok(()) => tally.passed += 1,
                Err(reason) => {
                    let key = [
                        format!("{folder}/{file}"),
                        group.description.clone(),
                        case.description.clone(),
                    ]
                    .join(SEPARATOR);
                    failures.insert(key, one_line(&reason));
                }
            }
        }
    }
}

/// A reason as it can stand on a limitations line.
fn one_line(reason: &str) -> String {
    reason.replace('\n', " ").replace(SEPARATOR, " / ")
}

fn json_files(folder: &Path) -> Vec<PathBuf> {
    let entries = std::fs::read_dir(folder)
        .unwrap_or_else(|e| panic!("{}: cannot list the folder: {e}", folder.display()));
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.expect("cannot read a folder entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

/// The listed failing cases (without their reasons), read from the limitations file.
fn read_limitations(path: &Path) -> BTreeSet<String> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: cannot read the limitations file: {e}", path.display()));
    let mut listed = BTreeSet::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (case, reason) = line
            .rsplit_once(SEPARATOR)
            .unwrap_or_else(|| panic!("{}:{}: no reason given", path.display(), number + 1));
        assert!(
            case.contains(SEPARATOR) && !reason.trim().is_empty(),
            "{}:{}: expected `<folder>/<file> | <group> | <test> | <reason>`",
            path.display(),
            number + 1
        );
        assert!(
            listed.insert(case.to_owned()),
            "{}:{}: listed twice",
            path.display(),
            number + 1
        );
    }
    listed
}

fn print_table(tallies: &[(&str, Tally)]) {
    println!("JSON Schema Test Suite through Schema::compile:");
    for (folder, tally) in tallies {
        let rate = 100.0 * tally.passed as f64 / tally.total.max(1) as f64;
        println!(
            "  {folder}: {}/{} passed ({rate:.1}%)",
            tally.passed, tally.total
        );
    }
}

/// Every folder of the suite below `tests/` must be one that runs, so that
/// nothing is skipped silently.
fn assert_every_folder_runs(tests: &Path) {
    let mut pending = vec![tests.to_path_buf()];
    while let Some(folder) = pending.pop() {
        let entries = std::fs::read_dir(&folder)
            .unwrap_or_else(|e| panic!("{}: cannot list the folder: {e}", folder.display()));
        for entry in entries {
            let path = entry.expect("cannot read a folder entry").path();
            if path.is_dir() {
                let name = path
                    .strip_prefix(tests)
                    .expect("a subfolder lies below its parent")
                    .to_string_lossy()
                    .replace('\\', "/");
                assert!(
                    FOLDERS.contains(&name.as_str()),
                    "suite folder {name} is not run: add it to FOLDERS or list it as excluded"
                );
                pending.push(path);
            }
        }
    }
}

#[test]
fn json_schema_test_suite() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let suite = root.join(SUITE);
    let started = std::time::Instant::now();
    assert_every_folder_runs(&suite.join("tests"));
    let mut runner = Runner::new(&suite);
    let mut failures = Failures::new();
    let mut tallies = Vec::new();
    for folder in FOLDERS {
        let mut tally = Tally::default();
        for path in json_files(&suite.join("tests").join(folder)) {
            run_file(&mut runner, folder, &path, &mut tally, &mut failures);
        }
        assert!(tally.total > 0, "{folder}: no test cases found");
        tallies.push((folder, tally));
    }
    print_table(&tallies);
    println!(
        "  ({} schemas compiled in {:.1?})",
        runner.written,
        started.elapsed()
    );

    let listed = read_limitations(&root.join(LIMITATIONS));
    let new_failures: Vec<String> = failures
        .iter()
        .filter(|(case, _)| !listed.contains(*case))
        .map(|(case, reason)| format!("{case}{SEPARATOR}{reason}"))
        .collect();
    let new_passes: Vec<&String> = listed
        .iter()
        .filter(|case| !failures.contains_key(*case))
        .collect();
    for line in &new_failures {
        println!("new failure, add to {LIMITATIONS} (with a short reason): {line}");
    }
    for case in &new_passes {
        println!("new pass, remove from {LIMITATIONS}: {case}");
    }
    assert!(
        new_failures.is_empty() && new_passes.is_empty(),
        "{} new failure(s) and {} new pass(es) against {LIMITATIONS}; see the lines above",
        new_failures.len(),
        new_passes.len()
    );
}
