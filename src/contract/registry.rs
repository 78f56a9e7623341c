//! Loading a contracts folder into an immutable [`Registry`]. Loading checks
//! everything it can and reports every problem at once, so `check` and a
//! refused `serve` list all that is wrong, not the first thing.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value;
use time::format_description::well_known::{Iso8601, Rfc3339};
use time::{Date, OffsetDateTime};

use super::canonical;
use super::compat::{self, ChangeKind, Direction, Mode, Policy, SchemaVersion};
use super::evolve::Step;
use super::history;
use super::model::{
    Concurrency, Contract, ContractVersion, Example, Layout, Rejections, Status, Unreadable,
};
use super::names::{is_sql_identifier, ContractName, Version};
use super::pointer::JsonPointer;
use super::rules::{Rule, RuleFile};
use super::schema::{read_json, RefRoots, Schema, SchemaDocument, SchemaFormat};
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
    #[serde(
        default,
        deserialize_with = "serde_yaml::with::singleton_map_recursive::deserialize"
    )]
    downgrade: Option<Vec<Step>>,
    #[serde(default)]
    rules: Vec<RuleFile>,
    /// `2026-01-15` or an RFC 3339 instant.
    deprecated: Option<String>,
    /// Likewise.
    sunset: Option<String>,
}

/// What loading needs to know from outside the folder.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// The systems the gateway config declares; when set, every contract's
    /// `owner` must be one of them.
    pub systems: Option<BTreeSet<String>>,
    /// Payloads generated per version to run through the upgrade chain.
    pub payload_cases: u32,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self {
            systems: None,
            payload_cases: 100,
        }
    }
}

impl LoadOptions {
    /// As the gateway loads contracts to serve them (at start and on
    /// reload): with a tenth of the generated payloads `check` runs. All
    /// of them were most of a start's time (21 s for 10,000 contracts
    /// whose tables exist, 8 s with a tenth); `check` in CI is the
    /// thorough gate, and a write whose upgrade breaks it is refused (422,
    /// nothing written) whatever loading missed.
    pub fn serving(self) -> Self {
        Self {
            payload_cases: self.payload_cases / 10,
            ..self
        }
    }
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
        for loaded in load_all(&dirs, &roots, options) {
            match loaded {
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

/// Loads every folder of `dirs`, in their order, on every core: contracts
/// are independent, and checking them (compiling, running generated
/// payloads through their chains) is most of a start-up's work.
fn load_all(
    dirs: &[PathBuf],
    roots: &RefRoots,
    options: &LoadOptions,
) -> Vec<Result<Contract, Vec<Error>>> {
    let workers = std::thread::available_parallelism().map_or(1, usize::from);
    let next = AtomicUsize::new(0);
    let work = || {
        let mut done = Vec::new();
        loop {
            let index = next.fetch_add(1, Ordering::Relaxed);
            let Some(dir) = dirs.get(index) else {
                return done;
            };
            done.push((index, load_contract(dir, roots, options)));
        }
    };
    let mut loaded = std::thread::scope(|scope| {
        // Helpers beside this thread, with a main thread's stack (schemas
        // are walked recursively); one that cannot start leaves its share
        // to the others.
        let helpers: Vec<_> = (1..workers.min(dirs.len()))
            .filter_map(|_| {
                std::thread::Builder::new()
                    .stack_size(WORKER_STACK)
                    .spawn_scoped(scope, work)
                    .ok()
            })
            .collect();
        let mut loaded = work();
        for helper in helpers {
            match helper.join() {
                Ok(done) => loaded.extend(done),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        loaded
    });
    loaded.sort_by_key(|(index, _)| *index);
    loaded.into_iter().map(|(_, result)| result).collect()
}

/// The stack of a thread loading contracts.
const WORKER_STACK: usize = 8 << 20;

fn load_contract(
    dir: &Path,
    roots: &RefRoots,
    options: &LoadOptions,
) -> Result<Contract, Vec<Error>> {
    let file_path = dir.join("contract.yaml");
    let text = std::fs::read_to_string(&file_path)
        .map_err(|e| vec![Error::new(&file_path, format!("cannot read the file: {e}"))])?;
    let file: ContractFile = serde_yaml::from_str(&text).map_err(|e| {
        let line = e.location().map(|l| l.line());
        vec![Error::at(
            &file_path,
            line,
            format!("invalid contract: {e}"),
        )]
    })?;

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
            Err(mut problems) => errors.append(&mut problems),
        }
    }
    let examples = read_examples(dir, versions.len(), &mut errors);
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
        examples,
        versions,
    };
    let mut problems = check_upgrades(&contract, &file_path);
    problems.extend(check_layout(&contract, &file_path));
    problems.extend(
        unreadable_versions(&contract)
            .into_iter()
            .map(|u| Error::new(&file_path, unreadable_message(&u))),
    );
    let (example_problems, examples) = check_examples(&contract);
    problems.extend(example_problems);
    if problems.is_empty() {
        problems = history::check(
            &contract,
            roots,
            &file_path,
            &text,
            &examples,
            options.payload_cases,
        );
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    // Checked: its validators wait for the payloads that need them.
    let mut contract = contract;
    for version in &mut contract.versions {
        version.schema.release();
    }
    Ok(contract)
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
) -> Result<ContractVersion, Vec<Error>> {
    let schema_file = dir.join(&declared.schema);
    if !schema_file.is_file() {
        return Err(vec![Error::new(
            &schema_file,
            format!("schema file of version {} not found", declared.version),
        )]);
    }
    let document = SchemaDocument::read(&schema_file).map_err(|e| vec![e])?;
    let schema = Schema::compile(&document, roots).map_err(|e| vec![e])?;
    if !schema.declares(key) {
        return Err(vec![Error::new(
            &schema_file,
            format!("the contract's key {key} is not a property of this schema"),
        )]);
    }
    let version = Version::new(declared.version).map_err(|m| vec![Error::new(&schema_file, m)])?;
    let file = dir.join("contract.yaml");
    let mut errors = Vec::new();
    let mut rules = Vec::new();
    for rule in declared.rules {
        match Rule::compile(rule) {
            Ok(rule) if rules.iter().any(|r: &Rule| r.name == rule.name) => {
                errors.push(format!("rule `{}` is declared twice", rule.name))
            }
            Ok(rule) => rules.push(rule),
            Err(problem) => errors.push(problem),
        }
    }
    let mut instant = |what: &str, text: Option<String>| {
        let text = text?;
        match parse_instant(&text) {
            Ok(at) => Some(at),
            Err(problem) => {
                errors.push(format!("`{what}: {text}` {problem}"));
                None
            }
        }
    };
    let deprecated_on = instant("deprecated", declared.deprecated);
    let sunset = instant("sunset", declared.sunset);
    if (deprecated_on.is_some() || sunset.is_some()) && declared.status == Status::Active {
        errors.push(
            "declares `deprecated:` or `sunset:` but its status is active; mark it `status: deprecated`"
                .to_owned(),
        );
    }
    if !errors.is_empty() {
        return Err(errors
            .into_iter()
            .map(|problem| Error::new(&file, format!("version {}: {problem}", declared.version)))
            .collect());
    }
    let schema_hash =
        canonical::schema_hash(&schema, &document.path, roots).map_err(|e| vec![e])?;
    Ok(ContractVersion {
        version,
        status: declared.status,
        schema_file: declared.schema,
        schema,
        schema_hash,
        upgrade: declared.upgrade,
        downgrade: declared.downgrade,
        rules,
        deprecated_on,
        sunset,
    })
}

/// A declared date (`2026-01-15`, midnight UTC) or instant (RFC 3339).
fn parse_instant(text: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(text, &Rfc3339)
        .or_else(|_| Date::parse(text, &Iso8601::DATE).map(|d| d.midnight().assume_utc()))
        .map_err(|_| "is neither a date (2026-01-15) nor an RFC 3339 instant".to_owned())
}

/// Upgrade and downgrade steps must name fields the versions have: a path
/// a step reads is declared by the version it starts from (or written by
/// an earlier step of the same version), a path it writes by the version
/// it leads to (or read by a later step, which moves it on).
fn check_upgrades(contract: &Contract, file: &Path) -> Vec<Error> {
    let mut problems = Vec::new();
    for pair in contract.versions().windows(2) {
        let (older, newer) = (&pair[0], &pair[1]);
        let upgrade = format!("the upgrade to {}", newer.version);
        problems.extend(check_steps(&newer.upgrade, older, newer, &upgrade));
        if let Some(downgrade) = &newer.downgrade {
            let label = format!("the downgrade from {}", newer.version);
            problems.extend(check_steps(downgrade, newer, older, &label));
        }
    }
    problems
        .into_iter()
        .map(|problem| Error::new(file, problem))
        .collect()
}

fn check_steps(
    steps: &[Step],
    from: &ContractVersion,
    to: &ContractVersion,
    label: &str,
) -> Vec<String> {
    let mut problems = Vec::new();
    for (index, step) in steps.iter().enumerate() {
        let written_before = |p| steps[..index].iter().any(|s| s.writes().contains(&p));
        let read_after = |p| steps[index + 1..].iter().any(|s| s.reads().contains(&p));
        for path in step.reads() {
            if !from.schema.declares(path) && !written_before(path) {
                problems.push(format!(
                    "{label} uses {path}, which {} does not declare",
                    from.version
                ));
            }
        }
        for path in step.writes() {
            if !to.schema.declares(path) && !read_after(path) {
                problems.push(format!(
                    "{label} writes {path}, which {} does not declare",
                    to.version
                ));
            }
        }
    }
    problems
}

/// Every version whose records cannot be read at an older one: derived
/// downgrades that cannot give back what the older version requires
/// ([`Contract::unreadable`]), and, between two Avro versions that declare
/// no steps, a field the older version requires without a default that
/// the newer one does not have (Avro's resolution read backwards, judged
/// by the compatibility checker).
pub fn unreadable_versions(contract: &Contract) -> Vec<Unreadable> {
    let mut found = contract.unreadable();
    for pair in contract.versions().windows(2) {
        let (older, newer) = (&pair[0], &pair[1]);
        let avro = [older.schema.format(), newer.schema.format()] == [SchemaFormat::Avro; 2];
        if !avro || !newer.upgrade.is_empty() || newer.downgrade.is_some() {
            continue;
        }
        let read = |v: &ContractVersion| SchemaVersion::read(&contract.folder.join(&v.schema_file));
        let changes = match (read(older), read(newer)) {
            (Ok(old), Ok(new)) => compat::compare(&old, &new, Direction::Forward, Policy::Strict),
            (Err(e), _) | (_, Err(e)) => Err(e),
        };
        let reasons: Vec<String> = match changes {
            Ok(changes) => changes
                .into_iter()
                .filter(|c| c.kind == ChangeKind::FIELD_ADDED_WITHOUT_DEFAULT)
                .map(|c| {
                    format!(
                        "{} ({} reads what {} writes)",
                        c.message, older.version, newer.version
                    )
                })
                .collect(),
            Err(e) => vec![e.to_string()],
        };
        found.extend(reasons.into_iter().map(|reason| Unreadable {
            version: newer.version,
            older: older.version,
            reason,
        }));
    }
    found
}

fn unreadable_message(unreadable: &Unreadable) -> String {
    format!(
        "{} cannot be read at {}: {}; declare `downgrade:` steps for {} that give it back",
        unreadable.version, unreadable.older, unreadable.reason, unreadable.version
    )
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
/// stored version and back, and through every hop of the chain; returns
/// the problems and the valid examples (the seeds of `history`'s generated
/// payloads).
fn check_examples(contract: &Contract) -> (Vec<Error>, Vec<(Version, Value)>) {
    let mut errors = Vec::new();
    let mut valid_examples = Vec::new();
    for example in &contract.examples {
        let (version, path, payload) = (example.version, &example.path, &example.payload);
        let Some(declared) = contract.version(version) else {
            continue;
        };
        let violations = declared.check(payload);
        match (example.valid, violations.first()) {
            (true, Some(v)) => errors.push(Error::new(
                path,
                format!("a valid example is rejected by {version}: {v}"),
            )),
            (false, None) => errors.push(Error::new(
                path,
                format!("an invalid example is accepted by {version}"),
            )),
            (true, None) => {
                let problem =
                    check_round_trip(contract, version, payload.clone(), path).or_else(|| {
                        let failure = history::walk(contract, version, payload).err()?;
                        Some(Error::new(path, failure.to_string()))
                    });
                errors.extend(problem);
                valid_examples.push((version, payload.clone()));
            }
            (false, Some(_)) => {}
        }
    }
    (errors, valid_examples)
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
