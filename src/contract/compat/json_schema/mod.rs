//! The JSON Schema checker: walks the writer's and the reader's schema in
//! parallel and names every difference, following
//! `tests/data/compat/json-schema-compat-rules.md` (Confluent's STRICT semantics).
//!
//! Draft 7 and 2020-12 are compared by meaning: `items: [...]` +
//! `additionalItems` and `prefixItems` + `items` both become a tuple with a
//! rest schema, `dependencies` splits into `dependentRequired` and
//! `dependentSchemas`, and `definitions`/`$defs` are only reached through
//! `$ref`s. `$ref`s resolve before comparing; a pair of references already
//! being compared higher up is assumed equal, so recursion terminates.

mod arrays;
mod combinators;
mod content_model;
mod objects;
mod refs;
mod scalars;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::rc::Rc;

use serde_json::Value;

use super::{ChangeKind, Found, Locate, Policy};
use crate::contract::pointer::push_token;
use crate::contract::schema::{draft7_form, RefRoots, SchemaDocument};
use crate::contract::Error;
use scalars::{admits_nothing, reads_every_value, ARRAY, NUMBER, OBJECT, STRING};
use ChangeKind::*;

/// One side of a comparison: the document and where its `$ref`s may reach.
pub(super) struct Input<'a> {
    document: &'a SchemaDocument,
    roots: &'a RefRoots,
}

impl<'a> Input<'a> {
    pub(super) fn new(document: &'a SchemaDocument, roots: &'a RefRoots) -> Self {
        Self { document, roots }
    }
}

/// Every change between `writer` and `reader`, located in the side `locate`
/// names.
pub(super) fn compare(
    writer: Input<'_>,
    reader: Input<'_>,
    locate: Locate,
    policy: Policy,
) -> Result<Vec<Found>, Error> {
    let mut walker = Walker {
        locate,
        policy,
        found: Vec::new(),
        active: HashSet::new(),
        cache: HashMap::new(),
        depth: 0,
    };
    let w = walker.root(writer);
    let r = walker.root(reader);
    walker.compare(w, r)?;
    Ok(walker.found)
}

/// A schema file taking part in the comparison.
struct Doc {
    path: PathBuf,
    /// How locations name the file: empty for the compared file itself.
    label: String,
    root: Value,
    roots: RefRoots,
    /// Read as draft 7 (by `$schema`, or implied by its forms): a `$ref`'s
    /// sibling keywords are then ignored, as a draft 7 validator does.
    draft7: bool,
}

/// Whether a document is read as draft 7: its `$schema` says so, or it has
/// none and `otherwise` holds.
fn is_draft7(root: &Value, otherwise: bool) -> bool {
    match root.get("$schema").and_then(Value::as_str) {
        Some(uri) => ["draft-07", "draft-06", "draft-04"]
            .iter()
            .any(|d| uri.contains(d)),
        None => otherwise,
    }
}

/// A subschema and where it sits.
#[derive(Clone)]
struct Node {
    doc: Rc<Doc>,
    value: Value,
    pointer: String,
}

impl Node {
    fn get(&self, key: &str) -> Option<&Value> {
        self.value.as_object().and_then(|m| m.get(key))
    }

    fn at(&self, tokens: &[&str]) -> String {
        tokens
            .iter()
            .fold(self.pointer.clone(), |p, t| push_token(&p, t))
    }

    /// The subschema at `tokens`, `true` when absent.
    fn child(&self, tokens: &[&str]) -> Node {
        let mut value = Some(&self.value);
        for token in tokens {
            value = value.and_then(|v| match v {
                Value::Object(m) => m.get(*token),
                Value::Array(a) => token.parse::<usize>().ok().and_then(|i| a.get(i)),
                _ => None,
            });
        }
        Node {
            doc: self.doc.clone(),
            value: value.cloned().unwrap_or(Value::Bool(true)),
            pointer: self.at(tokens),
        }
    }

    fn location(&self, tokens: &[&str]) -> String {
        format!("{}#{}", self.doc.label, self.at(tokens))
    }

    fn is_false(&self) -> bool {
        self.value == Value::Bool(false)
    }

    fn array(&self, key: &str) -> Option<&Vec<Value>> {
        self.get(key).and_then(Value::as_array)
    }

    fn number(&self, key: &str) -> Option<f64> {
        self.get(key).and_then(Value::as_f64)
    }
}

/// Keywords that never change what validates.
const SILENT: &[&str] = &[
    "$schema",
    "$defs",
    "definitions",
    "$anchor",
    "$dynamicAnchor",
    "$vocabulary",
];
const ANNOTATIONS: &[&str] = &[
    "examples",
    "$comment",
    "deprecated",
    "readOnly",
    "writeOnly",
    "contentMediaType",
    "contentEncoding",
    "contentSchema",
];
/// Keywords the walker compares by meaning.
const COMPARED: &[&str] = &[
    "$id",
    "title",
    "description",
    "default",
    "$ref",
    "type",
    "enum",
    "const",
    "format",
    "maxLength",
    "minLength",
    "pattern",
    "maximum",
    "minimum",
    "exclusiveMaximum",
    "exclusiveMinimum",
    "multipleOf",
    "properties",
    "required",
    "additionalProperties",
    "unevaluatedProperties",
    "patternProperties",
    "propertyNames",
    "dependentRequired",
    "dependentSchemas",
    "dependencies",
    "maxProperties",
    "minProperties",
    "items",
    "prefixItems",
    "additionalItems",
    "unevaluatedItems",
    "contains",
    "maxContains",
    "minContains",
    "maxItems",
    "minItems",
    "uniqueItems",
    "allOf",
    "anyOf",
    "oneOf",
    "not",
    "if",
    "then",
    "else",
];

fn is_annotation(key: &str) -> bool {
    matches!(key, "$id" | "title" | "description" | "default")
        || ANNOTATIONS.contains(&key)
        || SILENT.contains(&key)
        || key.starts_with("x-")
}

/// `true`, `{}`, or an object with annotations only: accepts everything.
fn is_empty_schema(value: &Value) -> bool {
    match value {
        Value::Bool(b) => *b,
        Value::Object(m) => m.keys().all(|k| is_annotation(k)),
        _ => false,
    }
}

struct Walker {
    locate: Locate,
    policy: Policy,
    found: Vec<Found>,
    /// Pairs of resolved references being compared, to stop recursion.
    active: HashSet<(String, String)>,
    cache: HashMap<PathBuf, Rc<Doc>>,
    /// Pairs of subschemas being compared, one inside the other.
    depth: usize,
}

/// Nesting past which a comparison gives up with an error. Every recursion
/// through `$ref`s stops at a pair already being compared, and documents
/// are at most 128 JSON levels deep (serde_json's limit), so real schemas
/// stay far below this; it is the backstop that turns a walk that would
/// still run away into an error naming the schema instead of a stack
/// overflow that would take the process (and a gateway reloading
/// contracts) down.
const MAX_DEPTH: usize = 200;

/// What walking a pair of subschemas returns: the changes go to
/// `Walker::found`, so only a `$ref` that cannot be followed fails.
type WalkResult = Result<(), Error>;

impl Walker {
    fn root(&mut self, input: Input<'_>) -> Node {
        let doc = Rc::new(Doc {
            path: input.document.path.clone(),
            label: String::new(),
            root: input.document.raw.clone(),
            roots: input.roots.clone(),
            draft7: is_draft7(
                &input.document.raw,
                draft7_form(&input.document.raw).is_some(),
            ),
        });
        Node {
            value: doc.root.clone(),
            doc,
            pointer: String::new(),
        }
    }

    fn report(&mut self, kind: ChangeKind, w: &Node, r: &Node, tokens: &[&str], detail: String) {
        self.report_at(kind, (w, tokens), (r, tokens), detail);
    }

    /// Reports a change whose keyword is spelt differently on each side
    /// (`items` in draft 7, `prefixItems` in 2020-12).
    fn report_at(
        &mut self,
        kind: ChangeKind,
        (w, w_tokens): (&Node, &[&str]),
        (r, r_tokens): (&Node, &[&str]),
        detail: String,
    ) {
        let location = match self.locate {
            Locate::Writer => w.location(w_tokens),
            Locate::Reader => r.location(r_tokens),
        };
        self.found.push(Found {
            kind,
            location,
            detail,
        });
    }

    fn accepts(&self, found: &[Found]) -> bool {
        found.iter().all(|f| f.kind.is_compatible(self.policy))
    }

    /// Compares in a scratch list, for decisions that depend on the result.
    fn sub(&mut self, w: &Node, r: &Node) -> Result<Vec<Found>, Error> {
        let saved = std::mem::take(&mut self.found);
        let result = self.compare(w.clone(), r.clone());
        let found = std::mem::replace(&mut self.found, saved);
        result.map(|()| found)
    }

    /// Same as `sub` with writer and reader swapped (for `not`).
    fn sub_swapped(&mut self, w: &Node, r: &Node) -> Result<Vec<Found>, Error> {
        self.locate = flip(self.locate);
        let result = self.sub(r, w);
        self.locate = flip(self.locate);
        result
    }

    fn compare(&mut self, w: Node, r: Node) -> WalkResult {
        if self.depth >= MAX_DEPTH {
            return Err(Error::new(
                &r.doc.path,
                format!(
                    "comparing {} with {} nests deeper than {MAX_DEPTH} subschemas at {}; the comparison stops here",
                    w.doc.path.display(),
                    r.doc.path.display(),
                    r.location(&[]),
                ),
            ));
        }
        self.depth += 1;
        let result = self.compare_nested(w, r);
        self.depth -= 1;
        result
    }

    fn compare_nested(&mut self, w: Node, r: Node) -> WalkResult {
        let (w, w_ref) = self.resolve(w)?;
        let (r, r_ref) = self.resolve(r)?;
        if !(w_ref || r_ref) {
            return self.compare_resolved(&w, &r);
        }
        let key = (
            format!("{}#{}", w.doc.path.display(), w.pointer),
            format!("{}#{}", r.doc.path.display(), r.pointer),
        );
        if !self.active.insert(key.clone()) {
            // Already being compared further up: assume equal (coinduction).
            return Ok(());
        }
        let result = self.compare_resolved(&w, &r);
        self.active.remove(&key);
        result
    }

    fn compare_resolved(&mut self, w: &Node, r: &Node) -> WalkResult {
        let (w, r) = (&self.fold(w, r, true)?, &self.fold(r, w, false)?);
        if w.is_false() || admits_nothing(&w.value) {
            // No old data at all: any reader reads it.
            return Ok(());
        }
        if is_empty_schema(&r.value) && !w.value.is_object() {
            // Nothing old to read, or a reader that accepts anything.
            return Ok(());
        }
        if r.is_false() {
            self.report(TYPE_NARROWED, w, r, &[], "the new schema is `false`".into());
            return Ok(());
        }
        if !w.value.is_object() || !r.value.is_object() {
            return Ok(());
        }
        if reads_every_value(w, r) {
            // Old data is one of a few values and the new schema takes
            // each: what the keywords say changed stands, but nothing of
            // it can reject old data.
            let saved = std::mem::take(&mut self.found);
            let result = self.compare_keywords(w, r);
            let found = std::mem::replace(&mut self.found, saved);
            result?;
            let policy = self.policy;
            self.found
                .extend(found.into_iter().filter(|f| f.kind.is_compatible(policy)));
            return Ok(());
        }
        self.compare_keywords(w, r)
    }

    /// Compares two object schemas keyword by keyword.
    fn compare_keywords(&mut self, w: &Node, r: &Node) -> WalkResult {
        self.annotations(w, r);
        let old_types = self.types(w, r);
        self.values(w, r);
        if old_types & STRING != 0 {
            self.strings(w, r);
        }
        if old_types & NUMBER != 0 {
            self.numbers(w, r);
        }
        if old_types & OBJECT != 0 {
            self.objects(w, r)?;
        }
        if old_types & ARRAY != 0 {
            self.arrays(w, r)?;
        }
        self.combinators(w, r)?;
        self.negation(w, r)?;
        self.conditional(w, r)?;
        self.unknown(w, r);
        Ok(())
    }

    fn annotations(&mut self, w: &Node, r: &Node) {
        for (key, kind) in [
            ("$id", ID_CHANGED),
            ("title", TITLE_CHANGED),
            ("description", DESCRIPTION_CHANGED),
            ("default", DEFAULT_CHANGED),
        ] {
            if w.get(key) != r.get(key) {
                self.report(kind, w, r, &[key], String::new());
            }
        }
        let keys = union_keys(w, r);
        for key in keys
            .iter()
            .filter(|k| ANNOTATIONS.contains(&k.as_str()) || k.starts_with("x-"))
        {
            if w.get(key) != r.get(key) {
                self.report(ANNOTATION_CHANGED, w, r, &[key], format!("`{key}` changed"));
            }
        }
    }

    fn unknown(&mut self, w: &Node, r: &Node) {
        for key in union_keys(w, r) {
            if COMPARED.contains(&key.as_str()) || is_annotation(&key) {
                continue;
            }
            if w.get(&key) != r.get(&key) {
                self.report(KEYWORD_CHANGED, w, r, &[&key], format!("`{key}` changed"));
            }
        }
    }
}

fn flip(locate: Locate) -> Locate {
    match locate {
        Locate::Writer => Locate::Reader,
        Locate::Reader => Locate::Writer,
    }
}
fn union_keys(w: &Node, r: &Node) -> Vec<String> {
    let mut keys: Vec<String> = w
        .value
        .as_object()
        .into_iter()
        .chain(r.value.as_object())
        .flat_map(|m| m.keys().cloned())
        .collect();
    keys.sort();
    keys.dedup();
    keys
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::schema::SchemaFormat;
    use serde_json::json;

    /// `(kind, location)` of every change met reading `old`'s data with
    /// `new`, located as `locate` says.
    pub(super) fn changes_with(
        old: Value,
        new: Value,
        locate: Locate,
        policy: Policy,
    ) -> Vec<(ChangeKind, String)> {
        let folder = std::env::temp_dir();
        let roots = RefRoots::folder(&folder).unwrap();
        let document = |name: &str, raw: Value| SchemaDocument {
            path: folder.join(name),
            format: SchemaFormat::JsonSchema,
            raw,
        };
        let (w, r) = (document("old.json", old), document("new.json", new));
        compare(
            Input::new(&w, &roots),
            Input::new(&r, &roots),
            locate,
            policy,
        )
        .unwrap()
        .into_iter()
        .map(|f| (f.kind, f.location))
        .collect()
    }

    /// Backward under STRICT, located in the new schema.
    pub(super) fn changes(old: Value, new: Value) -> Vec<(ChangeKind, String)> {
        changes_with(old, new, Locate::Reader, Policy::Strict)
    }

    pub(super) fn one(kind: ChangeKind, location: &str) -> Vec<(ChangeKind, String)> {
        vec![(kind, location.to_owned())]
    }

    #[test]
    fn forward_locates_in_the_writer_which_is_then_the_new_schema() {
        let old = json!({"properties": {"a": {"type": "string", "maxLength": 3}}});
        let new = json!({"properties": {"a": {"type": "string"}}});
        assert_eq!(
            changes_with(new, old, Locate::Writer, Policy::Strict),
            one(MAX_LENGTH_ADDED, "#/properties/a/maxLength")
        );
    }

    #[test]
    fn annotations_and_unknown_keywords() {
        let old = json!({"type": "string", "examples": ["a"], "x-team": "a", "fancy": 1});
        let new = json!({"type": "string", "examples": ["b"], "x-team": "b", "fancy": 2});
        assert_eq!(
            changes(old, new),
            [
                (ANNOTATION_CHANGED, "#/examples".to_owned()),
                (ANNOTATION_CHANGED, "#/x-team".to_owned()),
                (KEYWORD_CHANGED, "#/fancy".to_owned()),
            ]
        );
        assert!(is_empty_schema(&json!({"title": "t", "x-a": 1})));
        assert!(is_empty_schema(&json!(true)));
        assert!(!is_empty_schema(&json!(false)));
        assert!(!is_empty_schema(&json!({"type": "string"})));
    }

    #[test]
    fn false_and_true_schemas() {
        assert_eq!(
            changes(json!({"type": "string"}), json!(false)),
            one(TYPE_NARROWED, "#")
        );
        assert!(changes(json!(false), json!({"type": "string"})).is_empty());
        assert!(changes(json!({"type": "string"}), json!(true)).is_empty());
    }
}
