//! A contract's history judged as a whole, when it loads (so `check` lists
//! it and `serve` refuses it):
//!
//! 1. Each version against the earlier ones its `compatibility` mode
//!    names, with compat's checker, *through the declared steps*: the older
//!    schema as the upgrade makes it (backward), or the newer one as the
//!    downgrade makes it (forward), so a `rename` is a move and not a
//!    removal. `transform` says why that is sound.
//! 2. Payloads of every version — its valid examples blended with payloads
//!    generated from its schema — run hop by hop up to the latest version
//!    (and down to the first when the mode is forward or full), each hop's
//!    result validated against the version it reaches: every reader of that
//!    version may be handed it. The first failure is shrunk to the smallest
//!    payload that still fails.

mod transform;

use std::cell::RefCell;
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{Map, Value};

use super::compat::{compare_sides, Change, Direction, Policy, Side};
use super::evolve::Step;
use super::model::{Contract, ContractVersion};
use super::names::Version;
use super::samples::{avro_payloads, names_in, run, JsonInstances};
use super::schema::{RefRoots, Schema, SchemaDocument, SchemaFormat, Violation};
use super::Error;
use transform::Way;

/// Every problem of the contract's history: versions that break its mode,
/// steps that turn a valid payload (of `cases` generated per version, and
/// the examples) into an invalid one.
pub(super) fn check(
    contract: &Contract,
    roots: &RefRoots,
    file: &Path,
    yaml: &str,
    examples: &[(Version, Value)],
    cases: u32,
) -> Vec<Error> {
    let mut errors = modes(contract, roots, file, yaml);
    errors.extend(payloads(contract, file, yaml, examples, cases));
    errors
}

/// The line of `- version: N` in `contract.yaml`, for annotations.
pub(super) fn version_line(yaml: &str, version: Version) -> Option<usize> {
    yaml.lines()
        .position(|line| {
            let line = line.trim().trim_start_matches('-').trim();
            line.strip_prefix("version:")
                .is_some_and(|rest| rest.trim() == version.number().to_string())
        })
        .map(|index| index + 1)
}

fn modes(contract: &Contract, roots: &RefRoots, file: &Path, yaml: &str) -> Vec<Error> {
    let mode = contract.compatibility;
    let versions = contract.versions();
    let mut errors = Vec::new();
    for (index, newer) in versions.iter().enumerate().skip(1) {
        let earlier = if mode.is_transitive() {
            &versions[..index]
        } else {
            &versions[index - 1..index]
        };
        for older in earlier.iter().rev() {
            for direction in mode.directions() {
                let changes = match judge(contract, roots, older, newer, *direction) {
                    Ok(Some(changes)) => changes,
                    // No schema form of the steps: the payloads judge it.
                    Ok(None) => continue,
                    Err(error) => {
                        errors.push(error);
                        continue;
                    }
                };
                let (reader, writer, how) = match direction {
                    Direction::Backward => (newer, older, "upgraded"),
                    Direction::Forward => (older, newer, "downgraded"),
                };
                for change in changes.iter().filter(|c| !c.compatible) {
                    errors.push(Error::at(
                        file,
                        version_line(yaml, newer.version),
                        format!(
                            "{name} {reader} cannot read every {writer} payload {how} by the declared steps (compatibility: {mode}): {kind} at {location}: {message}",
                            name = contract.name,
                            reader = reader.version,
                            writer = writer.version,
                            mode = mode.name(),
                            kind = change.kind,
                            location = change.location,
                            message = change.message,
                        ),
                    ));
                }
            }
        }
    }
    errors
}

/// The changes between `older` and `newer` in one direction, the writer
/// transformed by the steps between them; `None` when a step has no
/// schema form.
fn judge(
    contract: &Contract,
    roots: &RefRoots,
    older: &ContractVersion,
    newer: &ContractVersion,
    direction: Direction,
) -> Result<Option<Vec<Change>>, Error> {
    let hops =
        &contract.versions()[older.version.number() as usize..newer.version.number() as usize];
    let (writer, way) = match direction {
        Direction::Backward => (older, Way::Upgrade),
        Direction::Forward => (newer, Way::Downgrade),
    };
    let format = writer.schema.format();
    let mut transformed = writer.schema.raw();
    let ordered: Vec<&ContractVersion> = match way {
        Way::Upgrade => hops.iter().collect(),
        Way::Downgrade => hops.iter().rev().collect(),
    };
    for hop in ordered {
        match transform::apply(format, &transformed, &hop.upgrade, way) {
            Some(next) => transformed = next,
            None => return Ok(None),
        }
    }
    let (old_raw, new_raw) = match direction {
        Direction::Backward => (transformed, newer.schema.raw()),
        Direction::Forward => (older.schema.raw(), transformed),
    };
    let document = |v: &ContractVersion, raw: Value| -> Result<SchemaDocument, Error> {
        Ok(SchemaDocument {
            path: schema_path(contract, v)?,
            format,
            raw,
        })
    };
    let (old, new) = (document(older, old_raw)?, document(newer, new_raw)?);
    // Only Avro compares parsed schemas: a JSON Schema side needs no
    // validator (building them was a tenth of a start).
    let parse = |document: &SchemaDocument| match format {
        SchemaFormat::Avro => Schema::compile(document, roots).map(Some),
        SchemaFormat::JsonSchema => Ok(None),
    };
    let (old_parsed, new_parsed) = (parse(&old)?, parse(&new)?);
    fn side<'a>(
        document: &'a SchemaDocument,
        roots: &'a RefRoots,
        parsed: &'a Option<Schema>,
    ) -> Side<'a> {
        Side {
            document,
            roots,
            avro: parsed.as_ref().and_then(Schema::avro),
        }
    }
    compare_sides(
        side(&old, roots, &old_parsed),
        side(&new, roots, &new_parsed),
        direction,
        Policy::Strict,
    )
    .map(Some)
}

/// Where a version's schema file is, absolute (its `$ref`s resolve from it).
fn schema_path(contract: &Contract, version: &ContractVersion) -> Result<PathBuf, Error> {
    let path = contract.folder.join(&version.schema_file);
    std::path::absolute(&path)
        .map_err(|e| Error::new(&path, format!("cannot resolve the path: {e}")))
}

/// A payload that a hop of the chain turned into an invalid one.
#[derive(Debug, Clone)]
pub(super) struct HopFailure {
    start: Version,
    payload: Value,
    from: Version,
    to: Version,
    result: Value,
    violations: Vec<Violation>,
    steps: String,
}

impl HopFailure {
    /// The version whose declared steps are at fault (the newer of the hop).
    fn blamed(&self) -> Version {
        self.from.max(self.to)
    }
}

impl std::fmt::Display for HopFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let way = if self.from < self.to {
            "upgrade"
        } else {
            "downgrade"
        };
        let violations: Vec<String> = self.violations.iter().map(ToString::to_string).collect();
        write!(
            f,
            "the {way} from {} to {} ({}) turns the valid {} payload {} into {}, which {} rejects: {}",
            self.from,
            self.to,
            self.steps,
            self.start,
            self.payload,
            self.result,
            self.to,
            violations.join("; ")
        )
    }
}

/// Runs a payload valid at `start` up to the latest version, one hop at a
/// time, validating each result; and down to the first when the contract's
/// mode promises that older versions read newer data (forward, full).
/// Under a backward mode a newer payload an older version cannot hold is
/// not a defect: reading it there is refused at run time, never answered
/// in a wrong shape. A payload `start` rejects is no payload of it and
/// passes.
pub(super) fn walk(
    contract: &Contract,
    start: Version,
    payload: &Value,
) -> Result<(), Box<HopFailure>> {
    let Some(first) = contract.version(start) else {
        return Ok(());
    };
    // Most generated payloads are not valid at their own version: their
    // violations are not wanted, only the verdict.
    if !first.schema.is_valid(payload) {
        return Ok(());
    }
    let normalized = first.schema.normalize(payload.clone());
    let index = start.number() as usize - 1;
    let versions = contract.versions();
    let up = versions[index + 1..].iter().collect();
    let down = if contract
        .compatibility
        .directions()
        .contains(&Direction::Forward)
    {
        versions[..index].iter().rev().collect()
    } else {
        Vec::new()
    };
    for chain in [up, down] {
        let mut current = normalized.clone();
        let mut from = start;
        for target in chain {
            let hop = contract.convert(current, from, target.version);
            current = target.schema.normalize(hop);
            let violations = target.schema.validate(&current);
            if !violations.is_empty() {
                let steps_of = if from < target.version {
                    target
                } else {
                    &versions[from.number() as usize - 1]
                };
                return Err(Box::new(HopFailure {
                    start,
                    payload: payload.clone(),
                    from,
                    to: target.version,
                    result: current,
                    violations,
                    steps: describe_steps(steps_of),
                }));
            }
            from = target.version;
        }
    }
    Ok(())
}

fn describe_steps(version: &ContractVersion) -> String {
    if version.upgrade.is_empty() {
        return "no declared steps".to_owned();
    }
    let steps: Vec<String> = version.upgrade.iter().map(describe).collect();
    format!("{}'s steps: {}", version.version, steps.join(", "))
}

/// A step as `contract.yaml` names it.
fn describe(step: &Step) -> String {
    match step {
        Step::Rename { from, to } => format!("rename {from} to {to}"),
        Step::Default { path, value } => format!("default {path} = {value}"),
        Step::Remove { path, .. } => format!("remove {path}"),
        Step::Cast { path, to, .. } => {
            format!("cast {path} to {}", format!("{to:?}").to_lowercase())
        }
        Step::Map { path, .. } => format!("map {path}"),
        #[allow(unreachable_patterns)] // steps added later: their debug form
        other => format!("{other:?}"),
    }
}

fn payloads(
    contract: &Contract,
    file: &Path,
    yaml: &str,
    examples: &[(Version, Value)],
    cases: u32,
) -> Vec<Error> {
    if contract.versions().len() < 2 {
        return Vec::new();
    }
    let mut errors = Vec::new();
    for version in contract.versions() {
        let own: Vec<Value> = examples
            .iter()
            .filter(|(v, _)| *v == version.version)
            .map(|(_, payload)| payload.clone())
            .collect();
        let Some(strategy) = strategy(version, own) else {
            continue;
        };
        let last = RefCell::new(None);
        let outcome = run(strategy, cases, |payload| {
            walk(contract, version.version, &payload).map_err(|failure| {
                let message = failure.to_string();
                *last.borrow_mut() = Some(failure);
                message
            })
        });
        if let Err(message) = outcome {
            // Shrinking ends on the last failing payload: the smallest.
            let line = last
                .into_inner()
                .and_then(|failure| version_line(yaml, failure.blamed()));
            errors.push(Error::at(
                file,
                line,
                format!("{}: {message}", contract.name),
            ));
        }
    }
    errors
}

/// Payloads of a version: generated from its schema, and its examples with
/// some of their properties swapped for generated ones (a schema's
/// patterns and formats are rarely met by chance; the examples meet them).
fn strategy(version: &ContractVersion, examples: Vec<Value>) -> Option<BoxedStrategy<Value>> {
    let generated = match version.schema.avro() {
        Some(avro) => avro_payloads(avro)?
            .prop_map(|(_, natural)| natural)
            .boxed(),
        None => {
            let raw = version.schema.raw();
            let mut names = Vec::new();
            names_in(&raw, &mut names);
            names.sort();
            names.dedup();
            JsonInstances::new(&raw, names).payloads()
        }
    };
    if examples.is_empty() {
        return Some(generated);
    }
    let blended = (select(examples), generated.clone(), any::<u64>())
        .prop_map(|(example, generated, picks)| blend(example, generated, picks));
    Some(prop_oneof![3 => blended, 1 => generated].boxed())
}

/// The example's properties, each replaced by the generated payload's (or
/// dropped when it has none) where its bit of `picks` is set.
fn blend(example: Value, generated: Value, picks: u64) -> Value {
    let (Value::Object(example), Value::Object(generated)) = (example.clone(), generated) else {
        return example;
    };
    let mut keys: Vec<&String> = example.keys().chain(generated.keys()).collect();
    keys.sort();
    keys.dedup();
    let blended: Map<String, Value> = keys
        .into_iter()
        .enumerate()
        .filter_map(|(i, key)| {
            let side = if picks >> (i % 64) & 1 == 1 {
                &generated
            } else {
                &example
            };
            side.get(key).map(|value| (key.clone(), value.clone()))
        })
        .collect();
    Value::Object(blended)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::compat::{compare, SchemaVersion};
    use serde_json::json;

    #[test]
    fn the_line_of_a_version_is_found_in_the_yaml() {
        let yaml =
            "name: x\nversions:\n  - version: 1\n    schema: a\n  - schema: b\n    version: 2\n";
        let line = |n| version_line(yaml, Version::new(n).unwrap());
        assert_eq!(line(1), Some(3));
        assert_eq!(line(2), Some(6));
        assert_eq!(line(3), None);
    }

    #[test]
    fn the_example_customer_is_judged_through_its_rename_and_default() {
        let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("contracts");
        let registry = crate::contract::Registry::load(&folder, &Default::default()).unwrap();
        let customer = registry.get("customer").unwrap();
        let roots = RefRoots::folder(&folder).unwrap();
        let (v1, v2) = (&customer.versions()[0], &customer.versions()[1]);
        let changes = judge(customer, &roots, v1, v2, Direction::Backward)
            .unwrap()
            .expect("both steps have a schema form");
        assert!(changes.iter().all(|c| c.compatible), "{changes:#?}");
        // Compared raw, the rename is a removal and an addition.
        let raw = |v: &ContractVersion| {
            SchemaVersion::compile(
                SchemaDocument {
                    path: schema_path(customer, v).unwrap(),
                    format: v.schema.format(),
                    raw: v.schema.raw(),
                },
                roots.clone(),
            )
            .unwrap()
        };
        let raw_changes = compare(&raw(v1), &raw(v2), Direction::Backward, Policy::Strict).unwrap();
        assert!(raw_changes.iter().any(|c| !c.compatible));
    }

    #[test]
    fn blend_takes_each_property_from_one_side() {
        let example = json!({"a": 1, "b": 2});
        let generated = json!({"b": 3, "c": 4});
        assert_eq!(blend(example.clone(), generated.clone(), 0), example);
        assert_eq!(
            blend(example.clone(), generated.clone(), u64::MAX),
            generated
        );
        // Bits by sorted key: a=0 (example), b=1 (generated), c=2 (example: none).
        assert_eq!(blend(example, generated, 0b010), json!({"a": 1, "b": 3}));
    }
}
