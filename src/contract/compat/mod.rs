//! Schema compatibility: whether a new version of a contract's schema can
//! read what earlier versions accepted (Confluent Schema Registry's modes).
//!
//! The primitive of both checkers is one direction: can the *reader* schema
//! accept every instance the *writer* schema accepted? Backward compares the
//! old version as writer with the new one as reader; forward swaps them. In
//! both directions locations point into the **new** version, because that is
//! the file a pull request changes and an annotation should mark.
//!
//! Everything here is pure: schemas are read through the registry's loader
//! ([`SchemaDocument`], [`RefRoots`]) and the result is a [`Report`] that the
//! CLI only renders.

mod avro;
mod json_schema;
mod kind;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use kind::ChangeKind;

use super::schema::{draft7_form, read_json, RefRoots, Schema, SchemaDocument, SchemaFormat};
use super::Error;

/// Which earlier versions a new one must be compatible with, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// New reads the latest version's data.
    #[default]
    Backward,
    /// New reads the data of every earlier version.
    BackwardTransitive,
    /// The latest version reads the new one's data.
    Forward,
    /// Every earlier version reads the new one's data.
    ForwardTransitive,
    /// Backward and forward against the latest version.
    Full,
    /// Backward and forward against every earlier version.
    FullTransitive,
    /// No check.
    None,
}

impl Mode {
    /// Parses `backward`, `forward_transitive`, … (case-insensitive, `-` or `_`).
    pub fn parse(text: &str) -> Result<Self, String> {
        match text.to_ascii_lowercase().replace('-', "_").as_str() {
            "backward" => Ok(Self::Backward),
            "backward_transitive" => Ok(Self::BackwardTransitive),
            "forward" => Ok(Self::Forward),
            "forward_transitive" => Ok(Self::ForwardTransitive),
            "full" => Ok(Self::Full),
            "full_transitive" => Ok(Self::FullTransitive),
            "none" => Ok(Self::None),
            _ => Err(format!(
                "`{text}` is not a compatibility mode: use none, backward, forward or full, optionally with `_transitive`"
            )),
        }
    }

    /// Whether every earlier version is checked, not only the latest.
    pub fn is_transitive(self) -> bool {
        matches!(
            self,
            Self::BackwardTransitive | Self::ForwardTransitive | Self::FullTransitive
        )
    }

    /// The directions the mode checks.
    pub fn directions(self) -> &'static [Direction] {
        match self {
            Self::Backward | Self::BackwardTransitive => &[Direction::Backward],
            Self::Forward | Self::ForwardTransitive => &[Direction::Forward],
            Self::Full | Self::FullTransitive => &[Direction::Backward, Direction::Forward],
            Self::None => &[],
        }
    }
}

/// How strictly JSON Schema content-model changes are judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Policy {
    /// The rules' compatible list only (the default).
    #[default]
    Strict,
    /// Also the content-model leniencies the rules list (opt-in per contract).
    Lenient,
}

impl Policy {
    /// Parses `strict` or `lenient`.
    pub fn parse(text: &str) -> Result<Self, String> {
        match text.to_ascii_lowercase().as_str() {
            "strict" => Ok(Self::Strict),
            "lenient" => Ok(Self::Lenient),
            _ => Err(format!("`{text}` is not a policy: use strict or lenient")),
        }
    }
}

/// One direction of one comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// The new version reads the old one's data.
    Backward,
    /// The old version reads the new one's data.
    Forward,
}

/// One difference found between two schemas.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// Its stable name.
    pub kind: ChangeKind,
    /// A JSON pointer into the new version (`#/properties/email/maxLength`
    /// for JSON Schema, `/fields/3/type/symbols` for Avro); a file name
    /// precedes `#` when the change lies in a referenced file.
    pub location: String,
    /// Whether the policy accepts it.
    pub compatible: bool,
    /// What changed and why it matters, in one line.
    pub message: String,
}

/// The changes found in one direction between the new version and one
/// earlier version.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    /// The earlier version's file.
    pub old: PathBuf,
    /// The new version's file.
    pub new: PathBuf,
    /// Which one reads the other's data.
    pub direction: Direction,
    /// Every change found, compatible or not.
    pub changes: Vec<Change>,
}

impl Comparison {
    /// True when every change is accepted.
    pub fn is_compatible(&self) -> bool {
        self.changes.iter().all(|c| c.compatible)
    }
}

/// The outcome of checking a new version against its history.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The mode checked.
    pub mode: Mode,
    /// The policy applied.
    pub policy: Policy,
    /// How schemas were read where they did not say (a draft implied).
    pub notes: Vec<String>,
    /// One entry per (earlier version, direction) checked.
    pub comparisons: Vec<Comparison>,
    /// True when every comparison is compatible.
    pub compatible: bool,
}

/// A schema file with the folder its `$ref`s may reach, compiled once so
/// that a schema which does not compile is an error and not a verdict.
#[derive(Debug)]
pub struct SchemaVersion {
    document: SchemaDocument,
    roots: RefRoots,
    compiled: Schema,
    note: Option<String>,
}

impl SchemaVersion {
    /// Reads `path`; the format comes from the extension (`.json`, `.avsc`)
    /// or, for any other name, from the content. `$ref`s may reach files in
    /// the same folder (and below) only.
    pub fn read(path: &Path) -> Result<Self, Error> {
        let document = match SchemaFormat::from_path(path) {
            Ok(_) => SchemaDocument::read(path)?,
            Err(_) => sniff(path)?,
        };
        let folder = document
            .path
            .parent()
            .ok_or_else(|| Error::new(&document.path, "the file has no folder"))?
            .to_path_buf();
        let roots = RefRoots::folder(&folder)?;
        Self::compile(document, roots)
    }

    /// Compiles an already read document whose `$ref`s resolve in `roots`
    /// (what `contractgate check` uses for a contracts folder).
    pub fn compile(document: SchemaDocument, roots: RefRoots) -> Result<Self, Error> {
        let compiled = Schema::compile(&document, &roots)?;
        let implied = match document.format {
            SchemaFormat::JsonSchema if document.raw.get("$schema").is_none() => {
                draft7_form(&document.raw)
            }
            _ => None,
        };
        let note = implied.map(|form| {
            format!(
                "{} has no `$schema` and uses {form}: read as draft 7",
                document.path.display()
            )
        });
        Ok(Self {
            document,
            roots,
            compiled,
            note,
        })
    }

    /// The file the version was read from.
    pub fn path(&self) -> &Path {
        &self.document.path
    }

    /// The compiled schema, the validator the gateway uses.
    pub fn schema(&self) -> &Schema {
        &self.compiled
    }

    fn side(&self) -> Side<'_> {
        Side {
            document: &self.document,
            roots: &self.roots,
            avro: self.compiled.avro(),
        }
    }
}

/// What comparing reads of one schema: the document, where its `$ref`s may
/// reach and, for Avro, the parsed schema. JSON Schema is compared as a
/// document, so a side needs no validator compiled.
#[derive(Clone, Copy)]
pub struct Side<'a> {
    pub document: &'a SchemaDocument,
    pub roots: &'a RefRoots,
    pub avro: Option<&'a apache_avro::Schema>,
}

/// Reads a file whose name says nothing of its format and recognises the
/// format from the content: a string (a primitive type name), an array (a
/// union) or an object typed `record`/`enum`/`fixed`/`map`, or an `array`
/// whose items are an Avro type name, is Avro; anything else is JSON Schema.
fn sniff(path: &Path) -> Result<SchemaDocument, Error> {
    let raw = read_json(path)?;
    let avro = match &raw {
        Value::String(_) | Value::Array(_) => true,
        Value::Object(map) => match map.get("type").and_then(Value::as_str) {
            Some("record" | "enum" | "fixed" | "map") => true,
            Some("array") => map.get("items").is_some_and(Value::is_string),
            _ => false,
        },
        _ => false,
    };
    let path = std::path::absolute(path)
        .map_err(|e| Error::new(path, format!("cannot resolve the path: {e}")))?;
    let format = if avro {
        SchemaFormat::Avro
    } else {
        SchemaFormat::JsonSchema
    };
    Ok(SchemaDocument { path, format, raw })
}

/// Checks `new` against `history` (oldest first; the last is the latest)
/// under `mode`. Plain modes compare with the latest version only,
/// `_transitive` modes with every one.
pub fn check_history(
    mode: Mode,
    policy: Policy,
    history: &[SchemaVersion],
    new: &SchemaVersion,
) -> Result<Report, Error> {
    let earlier: &[SchemaVersion] = if mode.is_transitive() {
        history
    } else {
        history.last().map(std::slice::from_ref).unwrap_or_default()
    };
    let mut comparisons = Vec::new();
    for old in earlier.iter().rev() {
        for direction in mode.directions() {
            comparisons.push(Comparison {
                old: old.path().to_path_buf(),
                new: new.path().to_path_buf(),
                direction: *direction,
                changes: compare(old, new, *direction, policy)?,
            });
        }
    }
    let compatible = comparisons.iter().all(Comparison::is_compatible);
    let notes = earlier
        .iter()
        .chain([new])
        .filter_map(|v| v.note.clone())
        .collect();
    Ok(Report {
        mode,
        policy,
        notes,
        comparisons,
        compatible,
    })
}

/// Every change between `old` and `new` in one direction.
pub fn compare(
    old: &SchemaVersion,
    new: &SchemaVersion,
    direction: Direction,
    policy: Policy,
) -> Result<Vec<Change>, Error> {
    compare_sides(old.side(), new.side(), direction, policy)
}

/// [`compare`], of schemas as [`Side`]s.
pub fn compare_sides(
    old: Side<'_>,
    new: Side<'_>,
    direction: Direction,
    policy: Policy,
) -> Result<Vec<Change>, Error> {
    let (old_format, new_format) = (old.document.format, new.document.format);
    if old_format != new_format {
        return Err(Error::new(
            &new.document.path,
            format!(
                "cannot compare a {} schema with a {} schema ({}); both versions must use the same language",
                describe(new_format),
                describe(old_format),
                old.document.path.display()
            ),
        ));
    }
    let (writer, reader, locate) = match direction {
        Direction::Backward => (old, new, Locate::Reader),
        Direction::Forward => (new, old, Locate::Writer),
    };
    let found = match (writer.avro, reader.avro) {
        (Some(w), Some(r)) => avro::compare(w, r, locate),
        _ => json_schema::compare(
            json_schema::Input::new(writer.document, writer.roots),
            json_schema::Input::new(reader.document, reader.roots),
            locate,
            policy,
        )?,
    };
    Ok(found.into_iter().map(|f| f.into_change(policy)).collect())
}

fn describe(format: SchemaFormat) -> &'static str {
    match format {
        SchemaFormat::JsonSchema => "JSON Schema",
        SchemaFormat::Avro => "Avro",
    }
}

/// Which side of a comparison locations point into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Locate {
    Writer,
    Reader,
}

/// A change as a checker finds it, before a policy judges it.
#[derive(Debug, Clone, PartialEq)]
struct Found {
    kind: ChangeKind,
    location: String,
    detail: String,
}

impl Found {
    fn into_change(self, policy: Policy) -> Change {
        let compatible = self.kind.is_compatible(policy);
        let message = if self.detail.is_empty() {
            self.kind.explanation().to_owned()
        } else {
            format!("{}: {}", self.detail, self.kind.explanation())
        };
        Change {
            kind: self.kind,
            location: self.location,
            compatible,
            message,
        }
    }
}

/// The report as people read it: one line per change, then the verdict.
pub fn render_text(report: &Report) -> String {
    let mut out = String::new();
    for note in &report.notes {
        let _ = writeln!(out, "note: {note}");
    }
    if report.comparisons.is_empty() {
        out.push_str("nothing to compare: mode `none` or no earlier version\n");
    }
    for comparison in &report.comparisons {
        let (reader, writer) = match comparison.direction {
            Direction::Backward => (&comparison.new, &comparison.old),
            Direction::Forward => (&comparison.old, &comparison.new),
        };
        let _ = writeln!(
            out,
            "{} against {} ({} reads data written with {}):",
            direction_name(comparison.direction),
            comparison.old.display(),
            reader.display(),
            writer.display()
        );
        if comparison.changes.is_empty() {
            out.push_str("  no change\n");
        }
        for change in &comparison.changes {
            let _ = writeln!(
                out,
                "  {:<12} {} at {}: {}",
                if change.compatible {
                    "compatible"
                } else {
                    "INCOMPATIBLE"
                },
                change.kind,
                if change.location.is_empty() {
                    "the whole schema"
                } else {
                    &change.location
                },
                change.message
            );
        }
    }
    let incompatible: usize = report
        .comparisons
        .iter()
        .flat_map(|c| &c.changes)
        .filter(|c| !c.compatible)
        .count();
    let _ = writeln!(
        out,
        "verdict: {} ({} mode, {} policy, {} incompatible change{})",
        if report.compatible {
            "compatible"
        } else {
            "incompatible"
        },
        report.mode.name(),
        match report.policy {
            Policy::Strict => "strict",
            Policy::Lenient => "lenient",
        },
        incompatible,
        if incompatible == 1 { "" } else { "s" }
    );
    out
}

/// The report as machines read it (pretty JSON).
pub fn render_json(report: &Report) -> String {
    serde_json::to_string_pretty(report).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

fn direction_name(direction: Direction) -> &'static str {
    match direction {
        Direction::Backward => "backward",
        Direction::Forward => "forward",
    }
}

impl Mode {
    /// The mode as `contract.yaml` and `--mode` spell it.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Backward => "backward",
            Mode::BackwardTransitive => "backward_transitive",
            Mode::Forward => "forward",
            Mode::ForwardTransitive => "forward_transitive",
            Mode::Full => "full",
            Mode::FullTransitive => "full_transitive",
            Mode::None => "none",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn modes_parse_with_dashes_or_underscores_in_any_case() {
        assert_eq!(
            Mode::parse("Forward-Transitive"),
            Ok(Mode::ForwardTransitive)
        );
        assert_eq!(Mode::parse("full_transitive"), Ok(Mode::FullTransitive));
        assert!(Mode::parse("sideways").unwrap_err().contains("sideways"));
        assert_eq!(Policy::parse("LENIENT"), Ok(Policy::Lenient));
        assert!(Policy::parse("loose").is_err());
    }

    #[test]
    fn each_mode_names_its_directions_and_reach() {
        assert_eq!(
            Mode::Full.directions(),
            [Direction::Backward, Direction::Forward]
        );
        assert_eq!(Mode::ForwardTransitive.directions(), [Direction::Forward]);
        assert!(Mode::None.directions().is_empty());
        assert!(Mode::BackwardTransitive.is_transitive() && !Mode::Backward.is_transitive());
    }

    #[test]
    fn a_found_change_is_judged_by_the_policy_and_explained() {
        let found = |kind| Found {
            kind,
            location: "#/a".into(),
            detail: "property `a` added".into(),
        };
        let strict =
            found(ChangeKind::PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL).into_change(Policy::Strict);
        assert!(!strict.compatible);
        assert!(
            strict.message.starts_with("property `a` added: "),
            "{}",
            strict.message
        );
        let lenient =
            found(ChangeKind::PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL).into_change(Policy::Lenient);
        assert!(lenient.compatible);
        let bare = Found {
            detail: String::new(),
            ..found(ChangeKind::TITLE_CHANGED)
        };
        assert_eq!(
            bare.into_change(Policy::Strict).message,
            ChangeKind::TITLE_CHANGED.explanation()
        );
    }

    #[test]
    fn a_file_without_a_known_extension_is_recognised_by_its_content() {
        let dir = tempfile::tempdir().unwrap();
        let sniffed = |name: &str, value: serde_json::Value| {
            let path = dir.path().join(name);
            std::fs::write(&path, value.to_string()).unwrap();
            sniff(&path).unwrap().format
        };
        assert_eq!(sniffed("a", json!("int")), SchemaFormat::Avro);
        assert_eq!(sniffed("b", json!(["null", "int"])), SchemaFormat::Avro);
        assert_eq!(
            sniffed("c", json!({"type": "array", "items": "int"})),
            SchemaFormat::Avro
        );
        assert_eq!(
            sniffed("d", json!({"type": "array", "items": {"type": "integer"}})),
            SchemaFormat::JsonSchema
        );
        assert_eq!(
            sniffed("e", json!({"type": "object"})),
            SchemaFormat::JsonSchema
        );
    }

    #[test]
    fn the_text_report_has_one_line_per_change_and_a_verdict() {
        let report = Report {
            mode: Mode::Backward,
            policy: Policy::Strict,
            notes: Vec::new(),
            comparisons: vec![Comparison {
                old: "v1.json".into(),
                new: "v2.json".into(),
                direction: Direction::Backward,
                changes: vec![Found {
                    kind: ChangeKind::MAX_LENGTH_DECREASED,
                    location: "#/maxLength".into(),
                    detail: String::new(),
                }
                .into_change(Policy::Strict)],
            }],
            compatible: false,
        };
        let text = render_text(&report);
        assert!(
            text.contains("INCOMPATIBLE MAX_LENGTH_DECREASED at #/maxLength"),
            "{text}"
        );
        assert!(
            text.ends_with(
                "verdict: incompatible (backward mode, strict policy, 1 incompatible change)\n"
            ),
            "{text}"
        );
    }
}
