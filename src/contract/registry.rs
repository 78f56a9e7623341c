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
use super::model::{Concurrency, Contract, ContractVersion, Layout, Rejections, Status};
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
    /// An existing table's columns, each with the field it holds.
    #[serde(default)]
    columns: BTreeMap<String, JsonPointer>,
    /// With `columns`: the column holding the revision.
    revision_column: Option<String>,
    key: JsonPointer,
    #[serde(default)]
    compatibility: Mode,
    #[serde(default)]
    concurrency: Concurrency,
    #[serde(default)]
    tags: Tags,
    #[serde(default)]
    rejections: Rejections,
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
    if !errors.is_empty() {
        return Err(errors);
    }

    let layout = match layout(&file.key, file.columns, file.revision_column) {
        Ok(layout) => layout,
        Err(message) => return Err(vec![problem(message)]),
    };
    let contract = Contract {
        name: file.name,
        description: file.description,
        owner: file.owner,
        table,
        layout,
        key: file.key,
        compatibility: file.compatibility,
        concurrency: file.concurrency,
        pii: file.tags.pii,
        rejections: file.rejections,
        folder: dir.to_path_buf(),
        versions,
    };
    let mut problems = check_upgrades(&contract, &file_path);
    problems.extend(check_layout(&contract, &file_path));
    problems.extend(check_examples(&contract));
    if problems.is_empty() {
        Ok(contract)
    } else {
        Err(problems)
    }
}

/// The table layout `columns:` and `revision_column:` describe.
fn layout(
    key: &JsonPointer,
    columns: BTreeMap<String, JsonPointer>,
    revision: Option<String>,
) -> Result<Layout, String> {
    if columns.is_empty() {
        return match revision {
            Some(_) => Err("`revision_column` needs `columns`: the fields' columns".to_owned()),
            None => Ok(Layout::Document),
        };
    }
    let revision = revision.ok_or("`columns` needs `revision_column`: where the revision goes")?;
    if let Some(bad) = columns
        .keys()
        .chain([&revision])
        .find(|name| !is_sql_identifier(name))
    {
        return Err(format!(
            "column `{bad}` is not a plain SQL name: use letters, digits and `_`, starting with a letter"
        ));
    }
    if columns.contains_key(&revision) {
        return Err(format!(
            "column `{revision}` holds the revision and a field"
        ));
    }
    let key_column = columns
        .iter()
        .find(|(_, pointer)| *pointer == key)
        .map(|(column, _)| column.clone())
        .ok_or_else(|| format!("`columns` maps no column to the key {key}"))?;
    Ok(Layout::Columns {
        fields: columns
            .into_iter()
            .filter(|(column, _)| *column != key_column)
            .collect(),
        key: key_column,
        revision,
    })
}

/// Every mapped field must be one the stored version declares: a column
/// for anything else could never be filled.
fn check_layout(contract: &Contract, file: &Path) -> Vec<Error> {
    let Layout::Columns { fields, .. } = &contract.layout else {
        return Vec::new();
    };
    let stored = contract.stored_version();
    fields
        .iter()
        .filter(|(_, pointer)| !stored.schema.declares(pointer))
        .map(|(column, pointer)| {
            Error::new(
                file,
                format!(
                    "column `{column}` holds {pointer}, which {} does not declare",
                    stored.version
                ),
            )
        })
        .collect()
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

/// Runs `examples/v{n}.valid.*.json` and `v{n}.invalid.*.json` through their
/// version, and every valid one up to the stored version and back.
fn check_examples(contract: &Contract) -> Vec<Error> {
    let folder = contract.folder.join("examples");
    let Ok(entries) = std::fs::read_dir(&folder) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    files.sort();
    let mut errors = Vec::new();
    for path in files {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let Some((version, valid)) = example_kind(name) else {
            continue;
        };
        let Some(declared) = contract.version(version) else {
            errors.push(Error::new(
                &path,
                format!("example for {version}, which the contract does not have"),
            ));
            continue;
        };
        let payload: Value = match read_json(&path) {
            Ok(payload) => payload,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        let violations = declared.schema.validate(&payload);
        match (valid, violations.first()) {
            (true, Some(v)) => errors.push(Error::new(
                &path,
                format!("a valid example is rejected by {version}: {v}"),
            )),
            (false, None) => errors.push(Error::new(
                &path,
                format!("an invalid example is accepted by {version}"),
            )),
            (true, None) => errors.extend(check_round_trip(contract, version, payload, &path)),
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

/// `v2.valid.basic.json` → (2, true).
fn example_kind(name: &str) -> Option<(Version, bool)> {
    let mut parts = name.split('.');
    let version = Version::parse_segment(parts.next()?)?;
    let valid = match parts.next()? {
        "valid" => true,
        "invalid" => false,
        _ => return None,
    };
    name.ends_with(".json").then_some((version, valid))
}
