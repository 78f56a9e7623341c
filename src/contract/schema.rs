//! JSON Schema and Apache Avro behind one type. A schema is compiled when
//! its contract loads, and then validates JSON payloads without I/O.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use serde::Serialize;
use serde_json::Value;
use url::Url;
use utoipa::ToSchema;

use super::avro_json::AvroSchema;
use super::bundle::bundle;
use super::pointer::{push_token, JsonPointer};
use super::Error;

/// The language a schema file is written in, found from its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SchemaFormat {
    /// JSON Schema, 2020-12 unless `$schema` names draft 7 or, without
    /// `$schema`, the schema uses a draft-7-only form.
    JsonSchema,
    /// An Apache Avro `.avsc` schema, validating JSON payloads.
    Avro,
}

impl SchemaFormat {
    /// `.json` is JSON Schema and `.avsc` Avro; anything else is refused.
    pub fn from_path(path: &Path) -> Result<Self, Error> {
        match path.extension().and_then(|e| e.to_str()) {
            Some("json") => Ok(Self::JsonSchema),
            Some("avsc") => Ok(Self::Avro),
            _ => Err(Error::new(
                path,
                "a schema file must end in `.json` (JSON Schema) or `.avsc` (Avro)",
            )),
        }
    }
}

/// A schema file read and parsed as JSON, not yet compiled.
#[derive(Debug, Clone)]
pub struct SchemaDocument {
    /// Where it was read from (absolute).
    pub path: PathBuf,
    /// Its language.
    pub format: SchemaFormat,
    /// The document itself.
    pub raw: Value,
}

impl SchemaDocument {
    /// Reads and parses `path`; the format comes from the extension.
    pub fn read(path: &Path) -> Result<Self, Error> {
        let format = SchemaFormat::from_path(path)?;
        let path = absolute(path)?;
        let raw = read_json(&path)?;
        Ok(Self { path, format, raw })
    }
}

/// Reads one JSON file, naming the line and column of a syntax error.
pub fn read_json(path: &Path) -> Result<Value, Error> {
    parse_json(path, &read_text(path)?)
}

fn read_text(path: &Path) -> Result<String, Error> {
    std::fs::read_to_string(path)
        .map_err(|e| Error::new(path, format!("cannot read the file: {e}")))
}

fn parse_json(path: &Path, text: &str) -> Result<Value, Error> {
    serde_json::from_str(text).map_err(|e| Error::new(path, format!("not valid JSON: {e}")))
}

fn absolute(path: &Path) -> Result<PathBuf, Error> {
    std::path::absolute(path).map_err(|e| Error::new(path, format!("cannot resolve the path: {e}")))
}

/// Where `$ref`s may point. Contracts may reference files inside their
/// contracts folder and nothing else: no network, no path outside it. Tests
/// add extra roots (the JSON Schema Test Suite's `remotes/`) the same way.
/// Carries the folder's compiled `pattern`s too: every schema compiled with
/// the same roots shares one regex per distinct pattern rather than a copy
/// each (thousands of contracts repeat the same few). And the text of each
/// file a `$ref` reached, read once: every later reference to it, and a
/// validator compiled again after loading, sees the file as it loaded,
/// whatever the disk holds by then.
#[derive(Debug, Clone)]
pub struct RefRoots {
    roots: Arc<Vec<(String, PathBuf)>>,
    patterns: jsonschema::PatternCache,
    read: Arc<Mutex<HashMap<String, ReadFile>>>,
}

/// A referenced file and its text, by its URI.
type ReadFile = (PathBuf, Arc<str>);

impl RefRoots {
    /// Only files below `folder` may be referenced.
    pub fn folder(folder: &Path) -> Result<Self, Error> {
        let folder = std::fs::canonicalize(folder)
            .map_err(|e| Error::new(folder, format!("cannot open the folder: {e}")))?;
        let prefix = Url::from_directory_path(&folder)
            .map_err(|()| Error::new(&folder, "the folder has no file URL"))?;
        Ok(Self {
            roots: Arc::new(vec![(prefix.to_string(), folder)]),
            patterns: jsonschema::PatternCache::new(),
            read: Arc::default(),
        })
    }

    /// Serves `uri_prefix…` from files below `folder` as well.
    pub fn with_mapping(mut self, uri_prefix: &str, folder: &Path) -> Self {
        Arc::make_mut(&mut self.roots).push((uri_prefix.to_owned(), folder.to_path_buf()));
        self
    }

    /// The file a `$ref` target URI stands for, if it lies inside a root.
    pub fn locate(&self, uri: &str) -> Result<PathBuf, String> {
        let uri = uri.split('#').next().unwrap_or_default();
        for (prefix, folder) in self.roots.iter() {
            if let Some(relative) = uri.strip_prefix(prefix.as_str()) {
                let candidate = folder.join(relative);
                let resolved = std::fs::canonicalize(&candidate)
                    .map_err(|e| format!("`{uri}` cannot be read: {e}"))?;
                if !resolved.starts_with(folder) {
                    return Err(format!("`{uri}` lies outside the contracts folder"));
                }
                return Ok(resolved);
            }
        }
        if uri.starts_with("file:") {
            Err(format!("`{uri}` lies outside the contracts folder"))
        } else {
            Err(format!(
                "`{uri}` is not a file inside the contracts folder; remote references are never fetched"
            ))
        }
    }

    /// Resolves `reference` against the file that contains it and loads the
    /// target document (the part before `#`). The compatibility checker
    /// follows file references through this too.
    pub fn load(&self, from: &Path, reference: &str) -> Result<(PathBuf, Value), String> {
        let base = Url::from_file_path(from)
            .map_err(|()| format!("{} has no file URL", from.display()))?;
        let target = base
            .join(reference)
            .map_err(|e| format!("`{reference}` is not a valid reference: {e}"))?;
        self.fetch(target.as_str())
    }

    /// The file a `$ref` target URI stands for and its document, read from
    /// the disk the first time only.
    fn fetch(&self, uri: &str) -> Result<(PathBuf, Value), String> {
        let uri = uri.split('#').next().unwrap_or_default();
        let read = || self.read.lock().unwrap_or_else(PoisonError::into_inner);
        let known = read().get(uri).cloned();
        let (path, text) = match known {
            Some(known) => known,
            None => {
                let path = self.locate(uri)?;
                let text: Arc<str> = read_text(&path).map_err(|e| e.message)?.into();
                read().insert(uri.to_owned(), (path.clone(), text.clone()));
                (path, text)
            }
        };
        let value = parse_json(&path, &text).map_err(|e| e.message)?;
        Ok((path, value))
    }
}

impl jsonschema::Retrieve for RefRoots {
    fn retrieve(
        &self,
        uri: &jsonschema::Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        Ok(self.fetch(uri.as_str())?.1)
    }
}

/// One way a payload breaks a schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Violation {
    /// JSON pointer into the payload (`""` is the payload itself).
    pub pointer: String,
    /// The schema keyword that failed (`required`, `maxLength`, `type` …).
    pub keyword: String,
    /// Where that keyword sits in the schema, as a JSON pointer.
    pub schema_location: String,
    /// What is wrong, readably.
    pub message: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} at `{}`", self.message, self.pointer)
    }
}

/// A compiled schema of either language.
pub struct Schema {
    /// The document as written, as JSON text: parsed, it costs about ten
    /// times as much for as long as the contract is served, and only
    /// loading's checks and the schema route read it.
    raw: Box<str>,
    /// Where it was read from and what its `$ref`s may reach, for the
    /// questions asked of its properties.
    path: PathBuf,
    roots: RefRoots,
    compiled: Compiled,
    /// What [`Schema::json_schema`] answers, built with the schema and kept
    /// as JSON text: a parsed document costs ten times its text, and only
    /// the OpenAPI document reads it.
    described: String,
}

enum Compiled {
    /// Compiled when loading checks the contract, then released until the
    /// first payload needs it (see [`Schema::release`]).
    Json(OnceLock<Box<jsonschema::Validator>>),
    Avro(Box<AvroSchema>),
}

impl std::fmt::Debug for Schema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Schema")
            .field("format", &self.format())
            .finish_non_exhaustive()
    }
}

/// Messages quote the offending value; a huge value is cut so that an error
/// response stays readable.
const MESSAGE_LIMIT: usize = 300;

impl Schema {
    /// Compiles a document. `$ref`s resolve through `roots` only.
    pub fn compile(document: &SchemaDocument, roots: &RefRoots) -> Result<Self, Error> {
        let (compiled, described) = match document.format {
            SchemaFormat::JsonSchema => (
                Compiled::Json(OnceLock::from(Box::new(compile_json_schema(
                    document, roots,
                )?))),
                bundle(document, roots),
            ),
            SchemaFormat::Avro => {
                let schema = parse_avro(&document.raw)
                    .map(AvroSchema::new)
                    .map_err(|e| {
                        Error::new(&document.path, format!("not a valid Avro schema: {e}"))
                    })?;
                let described = schema.json_schema();
                (Compiled::Avro(Box::new(schema)), described)
            }
        };
        Ok(Self {
            raw: document.raw.to_string().into(),
            path: document.path.clone(),
            roots: roots.clone(),
            compiled,
            described: described.to_string(),
        })
    }

    /// The schema document as written.
    pub fn raw(&self) -> Value {
        // The text is a serialized `Value`: it always parses back.
        serde_json::from_str(&self.raw).unwrap_or_default()
    }

    /// The JSON Schema (2020-12) of the payloads it accepts, standing on
    /// its own: for JSON Schema the document with the files it references
    /// embedded (see `bundle`), for Avro the natural JSON mapping's (see
    /// `avro_json`). Local references are JSON pointers from its root.
    pub fn json_schema(&self) -> Value {
        // The text is a serialized `Value`: it always parses back.
        serde_json::from_str(&self.described).unwrap_or_default()
    }

    /// The language of the schema.
    pub fn format(&self) -> SchemaFormat {
        match self.compiled {
            Compiled::Json(_) => SchemaFormat::JsonSchema,
            Compiled::Avro(_) => SchemaFormat::Avro,
        }
    }

    /// The parsed Avro schema, for Avro contracts.
    pub fn avro(&self) -> Option<&apache_avro::Schema> {
        match &self.compiled {
            Compiled::Avro(schema) => Some(schema.schema()),
            Compiled::Json(_) => None,
        }
    }

    /// Drops a JSON Schema's compiled validator until a payload needs it
    /// again. A validator costs ~14 KiB; a gateway serving 10,000 contracts
    /// kept 20,000 of them, most never used. The one that comes back is
    /// compiled from the same text and the same referenced files (kept by
    /// the roots), once, by the first validation.
    pub fn release(&mut self) {
        if let Compiled::Json(validator) = &mut self.compiled {
            validator.take();
        }
    }

    fn validator<'a>(
        &'a self,
        validator: &'a OnceLock<Box<jsonschema::Validator>>,
    ) -> &'a jsonschema::Validator {
        validator.get_or_init(|| {
            let document = SchemaDocument {
                path: self.path.clone(),
                format: SchemaFormat::JsonSchema,
                raw: self.raw(),
            };
            // The same inputs compiled when the contract loaded.
            Box::new(
                compile_json_schema(&document, &self.roots)
                    .expect("a schema that compiled when it loaded compiles again"),
            )
        })
    }

    /// Whether `payload` is valid, without building the report of what is
    /// not (see [`Schema::validate`]).
    pub fn is_valid(&self, payload: &Value) -> bool {
        match &self.compiled {
            Compiled::Json(validator) => self.validator(validator).is_valid(payload),
            Compiled::Avro(schema) => schema.validate(payload).is_empty(),
        }
    }

    /// Every violation of the schema by `payload`; empty when it is valid.
    pub fn validate(&self, payload: &Value) -> Vec<Violation> {
        match &self.compiled {
            Compiled::Json(validator) => {
                let validator = self.validator(validator);
                // Most payloads are valid: `is_valid` builds no error; only
                // a refused payload pays for the report.
                if validator.is_valid(payload) {
                    return Vec::new();
                }
                validator
                    .iter_errors(payload)
                    .flat_map(violations)
                    .collect()
            }
            Compiled::Avro(schema) => schema.validate(payload),
        }
    }

    /// The canonical form of a valid payload: for Avro, union wrappers
    /// (`{"string": "x"}`) are unwrapped, missing fields get their defaults
    /// and logical-type values take one form each (see `avro_json`); JSON
    /// Schema payloads are kept as sent.
    pub fn normalize(&self, payload: Value) -> Value {
        match &self.compiled {
            Compiled::Json(_) => payload,
            Compiled::Avro(schema) => schema.normalize(payload),
        }
    }

    /// A payload of the `writer` schema's version brought to this one by
    /// Avro's schema resolution when both are Avro; anything else as it
    /// is (JSON Schema versions evolve by declared steps only).
    pub fn resolve_from(&self, writer: &Schema, payload: Value) -> Value {
        match (&self.compiled, &writer.compiled) {
            (Compiled::Avro(reader), Compiled::Avro(writer)) => {
                reader.resolve_from(writer, payload)
            }
            _ => payload,
        }
    }

    /// Whether the schema declares a property at `pointer` (used to check
    /// that a contract's key exists).
    pub fn declares(&self, pointer: &JsonPointer) -> bool {
        match &self.compiled {
            Compiled::Json(_) => {
                let segments = pointer.segments();
                let raw = self.raw();
                segments.is_empty()
                    || PropertyWalk::declares(&self.roots)
                        .holds(&self.path, &raw, &raw, segments, 0)
            }
            Compiled::Avro(schema) => schema.declares(pointer),
        }
    }

    /// Whether every object holding the property at `pointer` must have it
    /// (JSON Schema `required`, an Avro field without a default): what a
    /// downgrade has to give back.
    pub fn requires(&self, pointer: &JsonPointer) -> bool {
        match &self.compiled {
            Compiled::Json(_) => {
                let raw = self.raw();
                PropertyWalk::requires(&self.roots).holds(
                    &self.path,
                    &raw,
                    &raw,
                    pointer.segments(),
                    0,
                )
            }
            Compiled::Avro(schema) => schema.requires(pointer),
        }
    }
}

fn compile_json_schema(
    document: &SchemaDocument,
    roots: &RefRoots,
) -> Result<jsonschema::Validator, Error> {
    let base = Url::from_file_path(&document.path)
        .map_err(|()| Error::new(&document.path, "the file has no file URL"))?;
    let mut options = jsonschema::options()
        .should_validate_formats(true)
        .with_base_uri(base.to_string())
        .with_pattern_cache(roots.patterns.clone())
        .with_retriever(roots.clone());
    if document.raw.get("$schema").is_none() {
        let draft = match draft7_form(&document.raw) {
            Some(_) => jsonschema::Draft::Draft7,
            None => jsonschema::Draft::Draft202012,
        };
        options = options.with_draft(draft);
    }
    options.build(&document.raw).map_err(|e| {
        let what = match e.kind() {
            jsonschema::error::ValidationErrorKind::Referencing(_) => "a `$ref` cannot be resolved",
            _ => "the schema does not compile",
        };
        let at = e.instance_path().as_str();
        let place = if at.is_empty() {
            String::new()
        } else {
            format!(" (at {at} in the schema)")
        };
        Error::new(&document.path, format!("{what}: {e}{place}"))
    })
}

/// A form only draft 7 gives a meaning, if a schema without `$schema` uses
/// one: such a schema is read as draft 7, as its author surely meant (many
/// published schemas omit `$schema`), not as 2020-12, where `items: [...]`
/// does not compile and `additionalItems`, `definitions` and
/// `dependencies` would be silently ignored.
pub fn draft7_form(schema: &Value) -> Option<&'static str> {
    let Value::Object(map) = schema else {
        return None;
    };
    if map.get("items").is_some_and(Value::is_array) {
        return Some("`items` as an array");
    }
    for (key, form) in [
        ("additionalItems", "`additionalItems`"),
        ("definitions", "`definitions`"),
        ("dependencies", "`dependencies`"),
    ] {
        if map.contains_key(key) {
            return Some(form);
        }
    }
    map.iter().find_map(|(key, value)| match key.as_str() {
        // Maps of subschemas: their keys are names, not keywords.
        "properties" | "patternProperties" | "$defs" | "definitions" | "dependentSchemas"
        | "dependencies" => value
            .as_object()
            .and_then(|m| m.values().find_map(draft7_form)),
        "items" | "prefixItems" | "allOf" | "anyOf" | "oneOf" => match value {
            Value::Array(items) => items.iter().find_map(draft7_form),
            other => draft7_form(other),
        },
        "not"
        | "if"
        | "then"
        | "else"
        | "additionalProperties"
        | "unevaluatedProperties"
        | "unevaluatedItems"
        | "contains"
        | "propertyNames" => draft7_form(value),
        _ => None,
    })
}

/// The violations one validation error stands for: one per unexpected
/// property, so each points at the property itself.
fn violations(error: jsonschema::ValidationError<'_>) -> Vec<Violation> {
    use jsonschema::error::ValidationErrorKind as Kind;
    let at = error.instance_path().as_str();
    let properties: Vec<String> = match error.kind() {
        Kind::Required {
            property: Value::String(name),
        } => vec![name.clone()],
        Kind::AdditionalProperties { unexpected } | Kind::UnevaluatedProperties { unexpected } => {
            unexpected.clone()
        }
        _ => Vec::new(),
    };
    let keyword = error.kind().keyword().to_owned();
    let schema_location = error.schema_path().as_str().to_owned();
    let message = match error.kind() {
        Kind::AdditionalProperties { .. } | Kind::UnevaluatedProperties { .. } => None,
        _ => Some(bounded(error.to_string())),
    };
    if properties.is_empty() {
        return vec![Violation {
            pointer: at.to_owned(),
            keyword,
            schema_location,
            message: message.unwrap_or_default(),
        }];
    }
    properties
        .into_iter()
        .map(|property| Violation {
            pointer: push_token(at, &property),
            keyword: keyword.clone(),
            schema_location: schema_location.clone(),
            message: message
                .clone()
                .unwrap_or_else(|| format!("property `{property}` is not allowed here")),
        })
        .collect()
}

fn bounded(mut message: String) -> String {
    if message.len() > MESSAGE_LIMIT {
        let cut = (0..=MESSAGE_LIMIT)
            .rev()
            .find(|i| message.is_char_boundary(*i))
            .unwrap_or(0);
        message.truncate(cut);
        message.push('…');
    }
    message
}

/// Parses an Avro schema. apache-avro 0.20 panics (an `unwrap` in
/// `Name::parse`) on a name or alias that is not a valid Avro name, so
/// those are refused first; a panic that still escapes becomes an error
/// rather than taking the gateway down.
fn parse_avro(raw: &Value) -> Result<apache_avro::Schema, String> {
    check_avro_names(raw)?;
    std::panic::catch_unwind(|| apache_avro::Schema::parse(raw))
        .map_err(|_| "the Avro parser failed on it".to_owned())?
        .map_err(|e| e.to_string())
}

fn check_avro_names(raw: &Value) -> Result<(), String> {
    match raw {
        Value::Object(map) => {
            let named = matches!(
                map.get("type").and_then(Value::as_str),
                Some("record" | "error" | "enum" | "fixed")
            );
            let aliases = map
                .get("aliases")
                .and_then(Value::as_array)
                .into_iter()
                .flatten();
            let names = map.get("name").filter(|_| named).into_iter().chain(aliases);
            for name in names.filter_map(Value::as_str) {
                apache_avro::schema::Name::new(name)
                    .map_err(|e| format!("`{name}` is not a valid name: {e}"))?;
            }
            map.values().try_for_each(check_avro_names)
        }
        Value::Array(items) => items.iter().try_for_each(check_avro_names),
        _ => Ok(()),
    }
}

/// What a JSON Schema says of the property a pointer names, found by
/// following `properties` to the object schema that holds it, through
/// `$ref`s (in the same file or another one inside the contracts folder)
/// and combinator branches.
struct PropertyWalk<'a> {
    roots: &'a RefRoots,
    /// The combinators whose branches count: any branch declares a
    /// property, but only `allOf` makes one required of every payload.
    branches: &'static [&'static str],
    /// Whether a holding object schema says it of the last segment.
    holds: fn(&serde_json::Map<String, Value>, &str) -> bool,
}

/// `$ref` chains longer than this are taken to be cycles.
const REF_DEPTH: usize = 32;

impl PropertyWalk<'_> {
    fn declares(roots: &RefRoots) -> PropertyWalk<'_> {
        PropertyWalk {
            roots,
            branches: &["allOf", "anyOf", "oneOf"],
            holds: |holder, name| holder.get("properties").and_then(|p| p.get(name)).is_some(),
        }
    }

    fn requires(roots: &RefRoots) -> PropertyWalk<'_> {
        PropertyWalk {
            roots,
            branches: &["allOf"],
            holds: |holder, name| {
                holder
                    .get("required")
                    .and_then(Value::as_array)
                    .is_some_and(|required| required.iter().any(|r| r == name))
            },
        }
    }

    /// Whether `schema` (in `file`, whose document is `root`) holds the
    /// property at `segments` as the walk asks.
    fn holds(
        &self,
        file: &Path,
        root: &Value,
        schema: &Value,
        segments: &[String],
        depth: usize,
    ) -> bool {
        let Some((first, rest)) = segments.split_first() else {
            return false;
        };
        let Value::Object(map) = schema else {
            return false;
        };
        if depth > REF_DEPTH {
            return false;
        }
        let here = if rest.is_empty() {
            (self.holds)(map, first)
        } else {
            map.get("properties")
                .and_then(|p| p.get(first))
                .is_some_and(|property| self.holds(file, root, property, rest, depth + 1))
        };
        here || self.referenced(file, root, map, segments, depth)
            || self
                .branches
                .iter()
                .filter_map(|k| map.get(*k).and_then(Value::as_array))
                .flatten()
                .any(|branch| self.holds(file, root, branch, segments, depth + 1))
    }

    fn referenced(
        &self,
        file: &Path,
        root: &Value,
        map: &serde_json::Map<String, Value>,
        segments: &[String],
        depth: usize,
    ) -> bool {
        let Some(Value::String(reference)) = map.get("$ref") else {
            return false;
        };
        let (document, fragment) = reference.split_once('#').unwrap_or((reference, ""));
        if document.is_empty() {
            return root
                .pointer(fragment)
                .is_some_and(|target| self.holds(file, root, target, segments, depth + 1));
        }
        match self.roots.load(file, document) {
            Ok((path, loaded)) => loaded
                .pointer(fragment)
                .is_some_and(|target| self.holds(&path, &loaded, target, segments, depth + 1)),
            Err(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn compile(dir: &Path, name: &str, raw: Value) -> Result<Schema, Error> {
        let path = dir.join(name);
        std::fs::write(&path, raw.to_string()).unwrap();
        let document = SchemaDocument::read(&path)?;
        Schema::compile(&document, &RefRoots::folder(dir)?)
    }

    #[test]
    fn lists_every_violation_with_pointers() {
        let dir = tempfile::tempdir().unwrap();
        let schema = compile(
            dir.path(),
            "s.json",
            json!({"type": "object", "required": ["id", "email"],
                   "properties": {"id": {"type": "integer"}, "email": {"type": "string", "format": "email"}}}),
        )
        .unwrap();
        let violations = schema.validate(&json!({"id": "x"}));
        let pointers: Vec<_> = violations.iter().map(|v| v.pointer.as_str()).collect();
        assert!(pointers.contains(&"/id"), "{violations:?}");
        assert!(pointers.contains(&"/email"), "{violations:?}");
        let formats = schema.validate(&json!({"id": 1, "email": "not an email"}));
        assert_eq!(formats.len(), 1);
        assert_eq!(formats[0].keyword, "format");
    }

    #[test]
    fn refs_resolve_inside_the_folder_only() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("common.json"), r#"{"type": "string"}"#).unwrap();
        let schema = compile(dir.path(), "s.json", json!({"$ref": "common.json"})).unwrap();
        assert!(schema.validate(&json!("x")).is_empty());
        assert_eq!(schema.validate(&json!(1)).len(), 1);

        let escaping =
            compile(dir.path(), "e.json", json!({"$ref": "../outside.json"})).unwrap_err();
        assert!(
            escaping.message.contains("outside the contracts folder"),
            "{escaping}"
        );
        let remote = compile(
            dir.path(),
            "r.json",
            json!({"$ref": "https://example.com/x.json"}),
        )
        .unwrap_err();
        assert!(remote.message.contains("never fetched"), "{remote}");
    }

    #[test]
    fn a_released_validator_comes_back_as_it_loaded_whatever_the_disk_holds_now() {
        let dir = tempfile::tempdir().unwrap();
        let common = dir.path().join("common.json");
        std::fs::write(&common, r#"{"type": "string", "maxLength": 3}"#).unwrap();
        let mut schema = compile(
            dir.path(),
            "s.json",
            json!({"type": "object", "properties": {"name": {"$ref": "common.json"}}}),
        )
        .unwrap();
        schema.release();
        // Changed on disk after loading: the next reload's business.
        std::fs::write(&common, r#"{"type": "integer"}"#).unwrap();
        assert!(schema.is_valid(&json!({"name": "abc"})));
        let violations = schema.validate(&json!({"name": "abcd"}));
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert_eq!(
            (
                violations[0].pointer.as_str(),
                violations[0].keyword.as_str()
            ),
            ("/name", "maxLength")
        );
        // Released again, a schema whose file is gone comes back too.
        schema.release();
        std::fs::remove_file(&common).unwrap();
        assert!(!schema.is_valid(&json!({"name": 1})));
    }

    #[test]
    fn refs_to_the_drafts_own_metaschemas_need_no_network() {
        let dir = tempfile::tempdir().unwrap();
        let schema = compile(
            dir.path(),
            "m.json",
            json!({"$ref": "https://json-schema.org/draft/2020-12/schema"}),
        )
        .unwrap();
        assert!(schema.validate(&json!({"type": "string"})).is_empty());
        assert!(!schema.validate(&json!({"type": 1})).is_empty());
        let draft7 = compile(
            dir.path(),
            "m7.json",
            json!({"$schema": "http://json-schema.org/draft-07/schema#",
                   "properties": {"s": {"$ref": "http://json-schema.org/draft-07/schema#"}}}),
        )
        .unwrap();
        assert!(!draft7.validate(&json!({"s": {"minLength": -1}})).is_empty());
        // Another draft's metaschema is not bundled, and anything else on
        // json-schema.org is an ordinary remote reference: both refused.
        for (name, reference) in [
            ("x.json", "http://json-schema.org/draft-07/schema#"),
            ("o.json", "https://json-schema.org/draft/2020-12/other"),
        ] {
            let refused = compile(dir.path(), name, json!({"$ref": reference})).unwrap_err();
            let document = reference.trim_end_matches('#');
            assert!(refused.message.contains(document), "{refused}");
        }
    }

    #[test]
    fn draft7_is_chosen_by_dollar_schema() {
        let dir = tempfile::tempdir().unwrap();
        // In draft 7 `items` as an array is a tuple; in 2020-12 it is invalid.
        let draft7 = compile(
            dir.path(),
            "d7.json",
            json!({"$schema": "http://json-schema.org/draft-07/schema#", "items": [{"type": "integer"}]}),
        )
        .unwrap();
        assert!(draft7.validate(&json!([1, "extra"])).is_empty());
        assert_eq!(draft7.validate(&json!(["x"])).len(), 1);
    }

    #[test]
    fn without_dollar_schema_draft_7_forms_make_a_draft_7_schema() {
        let dir = tempfile::tempdir().unwrap();
        let tuple = compile(
            dir.path(),
            "t.json",
            json!({"items": [{"type": "integer"}]}),
        )
        .unwrap();
        assert!(tuple.validate(&json!([1, "extra"])).is_empty());
        // In 2020-12 `dependencies` means nothing; read as draft 7 it holds.
        let nested = json!({"properties": {"a": {"dependencies": {"x": ["y"]}}}});
        assert_eq!(draft7_form(&nested), Some("`dependencies`"));
        let schema = compile(dir.path(), "d.json", nested).unwrap();
        assert_eq!(schema.validate(&json!({"a": {"x": 1}})).len(), 1);
        // A property merely named like a keyword is no draft 7 form.
        assert_eq!(
            draft7_form(&json!({"properties": {"definitions": {}}})),
            None
        );
        assert_eq!(
            draft7_form(&json!({"$defs": {"a": {"type": "string"}}})),
            None
        );
    }

    #[test]
    fn declares_follows_properties_and_refs() {
        let dir = tempfile::tempdir().unwrap();
        let schema = compile(
            dir.path(),
            "s.json",
            json!({"$defs": {"addr": {"properties": {"zip": {}}}},
                   "properties": {"id": {}, "address": {"$ref": "#/$defs/addr"}}}),
        )
        .unwrap();
        assert!(schema.declares(&JsonPointer::parse("/id").unwrap()));
        assert!(schema.declares(&JsonPointer::parse("/address/zip").unwrap()));
        assert!(!schema.declares(&JsonPointer::parse("/nope").unwrap()));
    }

    #[test]
    fn declares_and_requires_follow_refs_to_other_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("address.json"),
            r#"{"required": ["street"], "properties": {"street": {}, "city": {}}}"#,
        )
        .unwrap();
        let schema = compile(
            dir.path(),
            "s.json",
            json!({"properties": {"address": {"$ref": "address.json"}, "me": {"$ref": "#"}}}),
        )
        .unwrap();
        let pointer = |p: &str| JsonPointer::parse(p).unwrap();
        assert!(schema.declares(&pointer("/address/city")));
        assert!(schema.requires(&pointer("/address/street")));
        assert!(!schema.requires(&pointer("/address/city")));
        // A cycle of references ends.
        assert!(!schema.declares(&pointer("/me/me/me/nope")));
        assert!(schema.declares(&pointer("/me/me/address")));
    }

    #[test]
    fn requires_looks_in_the_holding_objects_required() {
        let dir = tempfile::tempdir().unwrap();
        let schema = compile(
            dir.path(),
            "s.json",
            json!({"$defs": {"addr": {"required": ["zip"], "properties": {"zip": {}, "city": {}}}},
                   "required": ["id"],
                   "properties": {"id": {}, "note": {}, "address": {"$ref": "#/$defs/addr"}},
                   "allOf": [{"required": ["note"]}]}),
        )
        .unwrap();
        let requires = |p: &str| schema.requires(&JsonPointer::parse(p).unwrap());
        assert!(requires("/id") && requires("/note") && requires("/address/zip"));
        assert!(!requires("/address") && !requires("/address/city") && !requires("/nope"));
    }
}
