//! Loading a contracts folder into an immutable [`Registry`]. Loading checks
//! everything it can and reports every problem at once, so `check` and a
//! refused `serve` list all that is wrong, not the first thing.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value;

use super::compat::Mode;
use super::evolve::Step;
use super::model::{Concurrency, Contract, ContractVersion, Example, Status};
use super::names::{is_sql_identifier, ContractName, Version};
use super::pointer::JsonPointer;
use super::schema::{read_json, RefRoots, Schema, SchemaDocument};
use super::Error;

/// `contract.yaml` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ContractFile {
    name: ContractName,
    #[serde(default)]
    description: String,
    owner: Option<String>,
    table: Option<String>,
    key: JsonPointer,
    #[serde(default)]
    compatibility: Mode,
    #[serde(default)]
    concurrency: Concurrency,
    #[serde(default)]
    tags: Tags,
    versions: Vec<VersionFile>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Tags {
    #[serde(default)]
    pii: Vec<JsonPointer>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct VersionFile {
    version: u32,
    schema: PathBuf,
    #[serde(default)]
    status: Status,
    // Steps are written `- rename: {…}`, a one-key map per step.
    #[serde(
        default,
        deserialize_with = "serde_yaml::with::singleton_map_recursive::deserialize"
    )]
    upgrade: Vec<Step>,
}

/// What loading needs to know from outside the folder.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// The systems the gateway config declares; when set, every contract's
    /// `owner` must be one of them.
    pub systems: Option<BTreeSet<String>>,
}

/// Every contract of a folder, compiled and checked. Immutable: a reload
/// builds a new one and swaps it in whole.
#[derive(Debug)]
pub struct Registry {
    contracts: BTreeMap<ContractName, Arc<Contract>>,
}

impl Registry {
    /// Loads every `*/contract.yaml` below `folder`.
    pub fn load(folder: &Path, options: &LoadOptions) -> Result<Registry, Vec<Error>> {
        let roots = RefRoots::folder(folder).map_err(|e| vec![e])?;
        let entries = std::fs::read_dir(folder)
            .map_err(|e| vec![Error::new(folder, format!("cannot list the folder: {e}"))])?;
        let mut dirs: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|path| path.is_dir() && path.join("contract.yaml").is_file())
            .collect();
        dirs.sort();

        let mut contracts = BTreeMap::new();
        let mut errors = Vec::new();
        for dir in dirs {
            match load_contract(&dir, &roots, options) {
                Ok(contract) => {
                    contracts.insert(contract.name.clone(), Arc::new(contract));
                }
                Err(mut problems) => errors.append(&mut problems),
            }
        }
        if errors.is_empty() {
            Ok(Registry { contracts })
        } else {
            Err(errors)
        }
    }

    /// A contract by name.
    pub fn get(&self, name: &str) -> Option<&Arc<Contract>> {
        ContractName::parse(name)
            .ok()
            .and_then(|name| self.contracts.get(&name))
    }

    /// Every contract, by name.
    pub fn contracts(&self) -> impl Iterator<Item = &Arc<Contract>> {
        self.contracts.values()
    }
}

fn load_contract(
    dir: &Path,
    roots: &RefRoots,
    options: &LoadOptions,
) -> Result<Contract, Vec<Error>> {
    let file_path = dir.join("contract.yaml");
    let text = std::fs::read_to_string(&file_path)
        .map_err(|e| vec![Error::new(&file_path, format!("cannot read the file: {e}"))])?;
    let file: ContractFile = serde_yaml::from_str(&text)
        .map_err(|e| vec![Error::new(&file_path, format!("invalid contract: {e}"))])?;

    let mut errors = Vec::new();
    let problem = |message: String| Error::new(&file_path, message);
    let folder_name = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    if file.name.as_str() != folder_name {
        errors.push(problem(format!(
            "the contract is named `{}` but its folder is `{folder_name}`; they must match",
            file.name
        )));
    }
    if let (Some(systems), Some(owner)) = (&options.systems, &file.owner) {
        if !systems.contains(owner) {
            errors.push(problem(format!(
                "owner `{owner}` is not a system declared in the gateway config (declared: {})",
                systems.iter().cloned().collect::<Vec<_>>().join(", ")
            )));
        }
    } else if options.systems.is_some() && file.owner.is_none() {
        errors.push(problem(
            "no `owner`: name the system that holds these records".to_owned(),
        ));
    }
    let table = file
        .table
        .clone()
        .unwrap_or_else(|| file.name.as_str().replace('-', "_"));
    if !is_sql_identifier(&table) {
        errors.push(problem(format!(
            "table `{table}` is not a plain SQL name: use letters, digits and `_`, starting with a letter"
        )));
    }
    if file.versions.is_empty() {
        errors.push(problem("no versions: list at least version 1".to_owned()));
    }

    let mut versions = Vec::new();
    let mut seen = BTreeSet::new();
    for (index, declared) in file.versions.into_iter().enumerate() {
        let expected = index as u32 + 1;
        if !seen.insert(declared.version) {
            errors.push(problem(format!(
                "version {} is declared twice",
                declared.version
            )));
            continue;
        }
        if declared.version != expected {
            errors.push(problem(format!(
                "versions must be numbered 1, 2, 3 … in order without gaps or duplicates: entry {} says {} where {expected} belongs",
                index + 1,
                declared.version
            )));
            continue;
        }
        match load_version(dir, roots, &file.key, declared) {
            Ok(version) => versions.push(version),
            Err(e) => errors.push(e),
        }
    }
    let examples = read_examples(dir, versions.len(), &mut errors);
    if !errors.is_empty() {
        return Err(errors);
    }

    let contract = Contract {
        name: file.name,
        description: file.description,
        owner: file.owner,
        table,
        key: file.key,
        compatibility: file.compatibility,
        concurrency: file.concurrency,
        pii: file.tags.pii,
        folder: dir.to_path_buf(),
        examples,
        versions,
    };
    let mut problems = check_upgrades(&contract, &file_path);
    problems.extend(check_examples(&contract));
    if problems.is_empty() {
        Ok(contract)
    } else {
        Err(problems)
    }
}

fn load_version(
    dir: &Path,
    roots: &RefRoots,
    key: &JsonPointer,
    declared: VersionFile,
) -> Result<ContractVersion, Error> {
    let schema_file = dir.join(&declared.schema);
    if !schema_file.is_file() {
        return Err(Error::new(
            &schema_file,
            format!("schema file of version {} not found", declared.version),
        ));
    }
    let document = SchemaDocument::read(&schema_file)?;
    let schema = Schema::compile(&document, roots)?;
    if !schema.declares(key) {
        return Err(Error::new(
            &schema_file,
            format!("the contract's key {key} is not a property of this schema"),
        ));
    }
    Ok(ContractVersion {
        version: Version::new(declared.version).map_err(|m| Error::new(&schema_file, m))?,
        status: declared.status,
        schema,
        upgrade: declared.upgrade,
    })
}

/// Upgrade steps must name fields the versions have, and be invertible.
fn check_upgrades(contract: &Contract, file: &Path) -> Vec<Error> {
    let mut errors = Vec::new();
    for pair in contract.versions().windows(2) {
        let (older, newer) = (&pair[0], &pair[1]);
        for step in &newer.upgrade {
            let (old_paths, new_paths): (Vec<&JsonPointer>, Vec<&JsonPointer>) = match step {
                Step::Rename { from, to } => (vec![from], vec![to]),
                Step::Default { path, .. } => (vec![], vec![path]),
                Step::Remove { path } => (vec![path], vec![]),
                Step::Cast { path, .. } | Step::Map { path, .. } => (vec![path], vec![path]),
            };
            for path in old_paths.iter().filter(|p| !older.schema.declares(p)) {
                errors.push(Error::new(
                    file,
                    format!(
                        "the upgrade to {} uses {path}, which {} does not declare",
                        newer.version, older.version
                    ),
                ));
            }
            for path in new_paths.iter().filter(|p| !newer.schema.declares(p)) {
                errors.push(Error::new(
                    file,
                    format!(
                        "the upgrade to {} writes {path}, which {} does not declare",
                        newer.version, newer.version
                    ),
                ));
            }
            if let Some(problem) = step.inversion_problem() {
                errors.push(Error::new(
                    file,
                    format!("the upgrade to {}: {problem}", newer.version),
                ));
            }
        }
    }
    errors
}

/// Reads `examples/v{n}.valid.*.json` and `v{n}.invalid.*.json` of a
/// contract with `versions` versions, in file name order.
fn read_examples(dir: &Path, versions: usize, errors: &mut Vec<Error>) -> Vec<Example> {
    let Ok(entries) = std::fs::read_dir(dir.join("examples")) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    files.sort();
    let mut examples = Vec::new();
    for path in files {
        let file_name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let Some((version, valid, name)) = example_kind(file_name) else {
            continue;
        };
        if version.number() as usize > versions {
            errors.push(Error::new(
                &path,
                format!("example for {version}, which the contract does not have"),
            ));
            continue;
        }
        match read_json(&path) {
            Ok(payload) => examples.push(Example {
                name: name.to_owned(),
                path,
                version,
                valid,
                payload,
            }),
            Err(e) => errors.push(e),
        }
    }
    examples
}

/// Runs each example through its version, and every valid one up to the
/// stored version and back.
fn check_examples(contract: &Contract) -> Vec<Error> {
    let mut errors = Vec::new();
    for example in &contract.examples {
        let (version, path) = (example.version, &example.path);
        let Some(declared) = contract.version(version) else {
            continue;
        };
        let violations = declared.schema.validate(&example.payload);
        match (example.valid, violations.first()) {
            (true, Some(v)) => errors.push(Error::new(
                path,
                format!("a valid example is rejected by {version}: {v}"),
            )),
            (false, None) => errors.push(Error::new(
                path,
                format!("an invalid example is accepted by {version}"),
            )),
            (true, None) => errors.extend(check_round_trip(
                contract,
                version,
                example.payload.clone(),
                path,
            )),
            (false, Some(_)) => {}
        }
    }
    errors
}

fn check_round_trip(
    contract: &Contract,
    version: Version,
    payload: Value,
    path: &Path,
) -> Option<Error> {
    let record = match contract.accept(version, payload) {
        Ok((record, _)) => record,
        Err(rejection) => {
            return Some(Error::new(
                path,
                format!(
                    "upgraded to {}, this example is invalid: {}",
                    rejection.version,
                    rejection.first()
                ),
            ));
        }
    };
    let back = contract
        .express(record.body().clone(), record.version(), version)
        .err()?;
    let first = back.first();
    Some(Error::new(
        path,
        format!("downgraded back to {version}, this example is invalid: {first}"),
    ))
}

/// `v2.valid.basic.json` → (2, true, `basic`).
fn example_kind(file_name: &str) -> Option<(Version, bool, &str)> {
    let stem = file_name.strip_suffix(".json")?;
    let mut parts = stem.splitn(3, '.');
    let version = Version::parse_segment(parts.next()?)?;
    let valid = match parts.next()? {
        "valid" => true,
        "invalid" => false,
        _ => return None,
    };
    Some((version, valid, parts.next().unwrap_or_default()))
}
