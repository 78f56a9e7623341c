//! The JSON Schema checker: walks the writer's and the reader's schema in
//! parallel and names every difference, following
//! `conformance/json-schema-compat-rules.md` (Confluent's STRICT semantics).
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

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use serde_json::{Map, Value};

use super::{ChangeKind, Found, Locate, Policy};
use crate::contract::pointer::push_token;
use crate::contract::schema::{RefRoots, SchemaDocument};
use crate::contract::Error;
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

// Instance types as bits; `number` is integer plus fraction.
const NULL: u8 = 1;
const BOOLEAN: u8 = 2;
const OBJECT: u8 = 4;
const ARRAY: u8 = 8;
const STRING: u8 = 16;
const INTEGER: u8 = 32;
const FRACTION: u8 = 64;
const NUMBER: u8 = INTEGER | FRACTION;
const ANY: u8 = 127;

fn type_bits(name: &str) -> u8 {
    match name {
        "null" => NULL,
        "boolean" => BOOLEAN,
        "object" => OBJECT,
        "array" => ARRAY,
        "string" => STRING,
        "integer" => INTEGER,
        "number" => NUMBER,
        _ => 0,
    }
}

fn value_bits(value: &Value) -> u8 {
    match value {
        Value::Null => NULL,
        Value::Bool(_) => BOOLEAN,
        Value::Object(_) => OBJECT,
        Value::Array(_) => ARRAY,
        Value::String(_) => STRING,
        Value::Number(n) => {
            if n.as_f64().is_some_and(|f| f.fract() == 0.0) {
                INTEGER
            } else {
                FRACTION
            }
        }
    }
}

fn declared_types(node: &Node) -> u8 {
    match node.get("type") {
        Some(Value::String(name)) => type_bits(name),
        Some(Value::Array(names)) => names
            .iter()
            .filter_map(Value::as_str)
            .fold(0, |bits, name| bits | type_bits(name)),
        _ => ANY,
    }
}

/// The values of `enum` or `const`, if either is present.
fn allowed_values(node: &Node) -> Option<Vec<Value>> {
    let mut values: Option<Vec<Value>> = node.array("enum").cloned();
    if let Some(constant) = node.get("const") {
        values = Some(match values {
            Some(v) => v.into_iter().filter(|x| same(x, constant)).collect(),
            None => vec![constant.clone()],
        });
    }
    values
}

/// JSON equality where `1` and `1.0` are the same number.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

struct Walker {
    locate: Locate,
    policy: Policy,
    found: Vec<Found>,
    /// Pairs of resolved references being compared, to stop recursion.
    active: HashSet<(String, String)>,
    cache: HashMap<PathBuf, Rc<Doc>>,
}

type Step = Result<(), Error>;

impl Walker {
    fn root(&mut self, input: Input<'_>) -> Node {
        let doc = Rc::new(Doc {
            path: input.document.path.clone(),
            label: String::new(),
            root: input.document.raw.clone(),
            roots: input.roots.clone(),
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

    // ----- references -------------------------------------------------

    /// Follows `$ref`s until a schema without one. A `$ref` with asserting
    /// siblings (2020-12) becomes `allOf: [target, siblings]`.
    fn resolve(&mut self, mut node: Node) -> Result<(Node, bool), Error> {
        let mut followed = false;
        for _ in 0..64 {
            let Some(Value::String(reference)) = node.get("$ref").cloned() else {
                return Ok((node, followed));
            };
            followed = true;
            let target = self.target(&node, &reference)?;
            let siblings: Map<String, Value> = node
                .value
                .as_object()
                .map(|m| {
                    m.iter()
                        .filter(|(k, _)| *k != "$ref" && !is_annotation(k))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect()
                })
                .unwrap_or_default();
            if siblings.is_empty() || target.doc.path != node.doc.path {
                node = target;
            } else {
                let mut combined = Map::new();
                combined.insert(
                    "allOf".into(),
                    Value::Array(vec![target.value, Value::Object(siblings)]),
                );
                node.value = Value::Object(combined);
            }
        }
        Err(Error::new(
            &node.doc.path,
            format!("`$ref` chain at {} does not end", node.location(&[])),
        ))
    }

    fn target(&mut self, node: &Node, reference: &str) -> Result<Node, Error> {
        let (file, fragment) = reference.split_once('#').unwrap_or((reference, ""));
        let doc = if file.is_empty() {
            node.doc.clone()
        } else {
            self.load(&node.doc, reference)?
        };
        let pointer = if fragment.is_empty() || fragment.starts_with('/') {
            percent_decode(fragment)
        } else {
            find_anchor(&doc.root, "", fragment).ok_or_else(|| {
                Error::new(
                    &node.doc.path,
                    format!("`$ref: {reference}` names an anchor that does not exist"),
                )
            })?
        };
        let value = doc.root.pointer(&pointer).cloned().ok_or_else(|| {
            Error::new(
                &node.doc.path,
                format!(
                    "`$ref: {reference}` points at nothing in {}",
                    doc.path.display()
                ),
            )
        })?;
        Ok(Node {
            doc,
            value,
            pointer,
        })
    }

    fn load(&mut self, from: &Rc<Doc>, reference: &str) -> Result<Rc<Doc>, Error> {
        let (path, root) = from
            .roots
            .load(&from.path, reference)
            .map_err(|m| Error::new(&from.path, format!("`$ref: {reference}` is refused: {m}")))?;
        if let Some(doc) = self.cache.get(&path) {
            return Ok(doc.clone());
        }
        let label = label_for(&from.path, &path);
        let doc = Rc::new(Doc {
            path: path.clone(),
            label,
            root,
            roots: from.roots.clone(),
        });
        self.cache.insert(path, doc.clone());
        Ok(doc)
    }

    // ----- the walk ---------------------------------------------------

    fn compare(&mut self, w: Node, r: Node) -> Step {
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

    fn compare_resolved(&mut self, w: &Node, r: &Node) -> Step {
        if w.is_false() || is_empty_schema(&r.value) && !w.value.is_object() {
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

    /// Compares `type`; returns the types old instances can have.
    fn types(&mut self, w: &Node, r: &Node) -> u8 {
        let old_declared = declared_types(w);
        let new_declared = declared_types(r);
        let old_effective = match allowed_values(w) {
            Some(values) => old_declared & values.iter().fold(0, |b, v| b | value_bits(v)),
            None => old_declared,
        };
        if old_effective & !new_declared == 0 {
            if new_declared & !old_declared != 0 {
                self.report(TYPE_EXTENDED, w, r, &["type"], type_detail(w, r));
            }
        } else if new_declared & !old_declared == 0 {
            self.report(TYPE_NARROWED, w, r, &["type"], type_detail(w, r));
        } else {
            self.report(TYPE_CHANGED, w, r, &["type"], type_detail(w, r));
        }
        old_effective
    }

    fn values(&mut self, w: &Node, r: &Node) {
        let key = if r.get("enum").is_some() || r.get("const").is_none() {
            "enum"
        } else {
            "const"
        };
        match (allowed_values(w), allowed_values(r)) {
            (_, None) if w.get("enum").is_some() || w.get("const").is_some() => {
                self.report(
                    ENUM_ARRAY_EXTENDED,
                    w,
                    r,
                    &[key],
                    "no longer restricted".into(),
                );
            }
            (None, Some(_)) => {
                self.report(
                    ENUM_ARRAY_NARROWED,
                    w,
                    r,
                    &[key],
                    "values restricted".into(),
                );
            }
            (Some(old), Some(new)) => {
                let lost: Vec<&Value> = old
                    .iter()
                    .filter(|v| !new.iter().any(|n| same(v, n)))
                    .collect();
                let gained = new.iter().any(|n| !old.iter().any(|v| same(v, n)));
                let detail = if lost.is_empty() {
                    String::new()
                } else {
                    format!("{} no longer allowed", join_values(&lost))
                };
                match (lost.is_empty(), gained) {
                    (true, true) => self.report(ENUM_ARRAY_EXTENDED, w, r, &[key], detail),
                    (false, false) => self.report(ENUM_ARRAY_NARROWED, w, r, &[key], detail),
                    (false, true) => self.report(ENUM_ARRAY_CHANGED, w, r, &[key], detail),
                    (true, false) => {}
                }
            }
            _ => {}
        }
    }

    fn strings(&mut self, w: &Node, r: &Node) {
        self.bound(
            w,
            r,
            "maxLength",
            [
                MAX_LENGTH_ADDED,
                MAX_LENGTH_REMOVED,
                MAX_LENGTH_INCREASED,
                MAX_LENGTH_DECREASED,
            ],
        );
        self.bound(
            w,
            r,
            "minLength",
            [
                MIN_LENGTH_ADDED,
                MIN_LENGTH_REMOVED,
                MIN_LENGTH_INCREASED,
                MIN_LENGTH_DECREASED,
            ],
        );
        self.text(
            w,
            r,
            "pattern",
            [PATTERN_ADDED, PATTERN_REMOVED, PATTERN_CHANGED],
        );
        self.text(
            w,
            r,
            "format",
            [FORMAT_ADDED, FORMAT_REMOVED, FORMAT_CHANGED],
        );
    }

    fn numbers(&mut self, w: &Node, r: &Node) {
        self.bound(
            w,
            r,
            "maximum",
            [
                MAXIMUM_ADDED,
                MAXIMUM_REMOVED,
                MAXIMUM_INCREASED,
                MAXIMUM_DECREASED,
            ],
        );
        self.bound(
            w,
            r,
            "minimum",
            [
                MINIMUM_ADDED,
                MINIMUM_REMOVED,
                MINIMUM_INCREASED,
                MINIMUM_DECREASED,
            ],
        );
        self.bound(
            w,
            r,
            "exclusiveMaximum",
            [
                EXCLUSIVE_MAXIMUM_ADDED,
                EXCLUSIVE_MAXIMUM_REMOVED,
                EXCLUSIVE_MAXIMUM_INCREASED,
                EXCLUSIVE_MAXIMUM_DECREASED,
            ],
        );
        self.bound(
            w,
            r,
            "exclusiveMinimum",
            [
                EXCLUSIVE_MINIMUM_ADDED,
                EXCLUSIVE_MINIMUM_REMOVED,
                EXCLUSIVE_MINIMUM_INCREASED,
                EXCLUSIVE_MINIMUM_DECREASED,
            ],
        );
        let detail = |o: f64, n: f64| format!("multipleOf {o} → {n}");
        match (w.number("multipleOf"), r.number("multipleOf")) {
            (None, Some(n)) => self.report(
                MULTIPLE_OF_ADDED,
                w,
                r,
                &["multipleOf"],
                format!("multipleOf {n}"),
            ),
            (Some(o), None) => self.report(
                MULTIPLE_OF_REMOVED,
                w,
                r,
                &["multipleOf"],
                format!("multipleOf {o}"),
            ),
            (Some(o), Some(n)) if o != n => {
                let kind = if is_whole(o / n) {
                    MULTIPLE_OF_REDUCED
                } else if is_whole(n / o) {
                    MULTIPLE_OF_EXPANDED
                } else {
                    MULTIPLE_OF_CHANGED
                };
                self.report(kind, w, r, &["multipleOf"], detail(o, n));
            }
            _ => {}
        }
    }

    /// A numeric bound, as `[added, removed, increased, decreased]`.
    fn bound(&mut self, w: &Node, r: &Node, key: &str, kinds: [ChangeKind; 4]) {
        self.bound_in_force(w, r, key, |n: &Node| n.number(key), kinds);
    }

    /// A numeric bound whose absence may mean a default (`minContains` is
    /// 1 beside `contains`): `in_force` gives the bound that applies on a
    /// side. The direction comes from those values, so dropping
    /// `minContains: 0` is a raise; "added"/"removed" name a change that
    /// also adds or drops the keyword.
    fn bound_in_force(
        &mut self,
        w: &Node,
        r: &Node,
        key: &str,
        in_force: impl Fn(&Node) -> Option<f64>,
        [added, removed, increased, decreased]: [ChangeKind; 4],
    ) {
        let (old, new) = (in_force(w), in_force(r));
        let kind = match (old, new) {
            (None, Some(_)) => added,
            (Some(_), None) => removed,
            (Some(o), Some(n)) if n > o && w.get(key).is_none() => added,
            (Some(o), Some(n)) if n > o => increased,
            (Some(o), Some(n)) if n < o && r.get(key).is_none() => removed,
            (Some(o), Some(n)) if n < o => decreased,
            _ => return,
        };
        let show = |v: Option<f64>| v.map_or("none".to_owned(), |v| v.to_string());
        self.report(
            kind,
            w,
            r,
            &[key],
            format!("{key} {} → {}", show(old), show(new)),
        );
    }

    fn text(&mut self, w: &Node, r: &Node, key: &str, [added, removed, changed]: [ChangeKind; 3]) {
        match (w.get(key), r.get(key)) {
            (None, Some(n)) => self.report(added, w, r, &[key], format!("{key} {n}")),
            (Some(o), None) => self.report(removed, w, r, &[key], format!("{key} {o}")),
            (Some(o), Some(n)) if o != n => {
                self.report(changed, w, r, &[key], format!("{key} {o} → {n}"))
            }
            _ => {}
        }
    }
}

fn flip(locate: Locate) -> Locate {
    match locate {
        Locate::Writer => Locate::Reader,
        Locate::Reader => Locate::Writer,
    }
}

fn is_whole(x: f64) -> bool {
    x >= 1.0 && (x - x.round()).abs() < 1e-9
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

fn type_detail(w: &Node, r: &Node) -> String {
    let show = |n: &Node| n.get("type").map_or("any".to_owned(), Value::to_string);
    format!("type {} → {}", show(w), show(r))
}

fn join_values(values: &[&Value]) -> String {
    values
        .iter()
        .map(|v| v.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The pointer of the subschema declaring `$anchor: name`.
fn find_anchor(value: &Value, pointer: &str, name: &str) -> Option<String> {
    match value {
        Value::Object(map) => {
            if map.get("$anchor").and_then(Value::as_str) == Some(name) {
                return Some(pointer.to_owned());
            }
            map.iter()
                .filter(|(k, _)| !matches!(k.as_str(), "enum" | "const" | "default" | "examples"))
                .find_map(|(k, v)| find_anchor(v, &push_token(pointer, k), name))
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| find_anchor(v, &push_token(pointer, &i.to_string()), name)),
        _ => None,
    }
}

/// How a referenced file is named in locations: relative to the compared
/// file's folder when it lies below it.
fn label_for(from: &Path, path: &Path) -> String {
    let folder = from.parent().unwrap_or(Path::new(""));
    path.strip_prefix(folder)
        .unwrap_or(path)
        .display()
        .to_string()
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
    fn a_bound_is_added_removed_raised_or_lowered() {
        let s = |v: Value| json!({"type": "string", "maxLength": v});
        let plain = json!({"type": "string"});
        let at = "#/maxLength";
        assert_eq!(
            changes(plain.clone(), s(json!(5))),
            one(MAX_LENGTH_ADDED, at)
        );
        assert_eq!(changes(s(json!(5)), plain), one(MAX_LENGTH_REMOVED, at));
        assert_eq!(
            changes(s(json!(5)), s(json!(9))),
            one(MAX_LENGTH_INCREASED, at)
        );
        assert_eq!(
            changes(s(json!(9)), s(json!(5))),
            one(MAX_LENGTH_DECREASED, at)
        );
        // 5 and 5.0 are the same bound.
        assert!(changes(s(json!(5)), s(json!(5.0))).is_empty());
    }

    #[test]
    fn number_bounds_apply_only_when_old_data_can_be_a_number() {
        let old = json!({"type": "string", "minimum": 3});
        let new = json!({"type": "string"});
        assert!(changes(old, new).is_empty());
        let old = json!({"type": "integer", "exclusiveMinimum": 3});
        let new = json!({"type": "integer", "exclusiveMinimum": 1});
        assert_eq!(
            changes(old, new),
            one(EXCLUSIVE_MINIMUM_DECREASED, "#/exclusiveMinimum")
        );
    }

    #[test]
    fn multiple_of_is_reduced_to_a_divisor_expanded_to_a_multiple_or_changed() {
        let m = |v: Value| json!({"type": "number", "multipleOf": v});
        let at = "#/multipleOf";
        assert_eq!(
            changes(m(json!(0.5)), m(json!(0.25))),
            one(MULTIPLE_OF_REDUCED, at)
        );
        assert_eq!(
            changes(m(json!(2)), m(json!(6))),
            one(MULTIPLE_OF_EXPANDED, at)
        );
        assert_eq!(
            changes(m(json!(4)), m(json!(6))),
            one(MULTIPLE_OF_CHANGED, at)
        );
        assert!(is_whole(3.0) && is_whole(1.0) && !is_whole(0.5) && !is_whole(1.5));
    }

    #[test]
    fn types_are_extended_narrowed_or_changed_by_what_old_data_can_be() {
        let t = |v: Value| json!({ "type": v });
        assert_eq!(
            changes(t(json!("integer")), t(json!("number"))),
            one(TYPE_EXTENDED, "#/type")
        );
        assert_eq!(
            changes(t(json!("number")), t(json!("integer"))),
            one(TYPE_NARROWED, "#/type")
        );
        assert_eq!(
            changes(
                t(json!(["string", "null"])),
                t(json!(["string", "boolean"]))
            ),
            one(TYPE_CHANGED, "#/type")
        );
        // Old data is only the enum's values: whole numbers, so `integer`
        // reads all of it.
        let old = json!({"type": "number", "enum": [1, 2]});
        let new = json!({"type": "integer", "enum": [1, 2]});
        assert!(changes(old, new).is_empty());
    }

    #[test]
    fn allowed_values_are_extended_narrowed_or_changed() {
        let e = |v: Value| json!({ "enum": v });
        assert_eq!(
            changes(e(json!([1, "a"])), e(json!([1.0, "a", null]))),
            one(ENUM_ARRAY_EXTENDED, "#/enum")
        );
        assert_eq!(
            changes(json!({}), json!({"const": 1})),
            one(ENUM_ARRAY_NARROWED, "#/const")
        );
        assert_eq!(
            changes(json!({"const": 1}), json!({})),
            one(ENUM_ARRAY_EXTENDED, "#/enum")
        );
        assert_eq!(
            changes(e(json!(["a", "b"])), json!({"const": "c"})),
            one(ENUM_ARRAY_CHANGED, "#/const")
        );
    }

    #[test]
    fn format_and_pattern_are_texts_added_removed_or_changed() {
        let f = |v: Value| json!({"type": "string", "format": v});
        let plain = json!({"type": "string"});
        assert_eq!(
            changes(plain.clone(), f(json!("uri"))),
            one(FORMAT_ADDED, "#/format")
        );
        assert_eq!(
            changes(f(json!("uri")), plain),
            one(FORMAT_REMOVED, "#/format")
        );
        assert_eq!(
            changes(f(json!("uri")), f(json!("email"))),
            one(FORMAT_CHANGED, "#/format")
        );
        // A format on a schema whose data cannot be a string is moot.
        let old = json!({"type": "integer"});
        let new = json!({"type": "integer", "format": "email"});
        assert!(changes(old, new).is_empty());
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

    #[test]
    fn a_ref_with_siblings_is_read_as_all_of_target_and_siblings() {
        let old = json!({"$defs": {"s": {"type": "string"}}, "$ref": "#/$defs/s"});
        let new = json!({"$defs": {"s": {"type": "string"}}, "$ref": "#/$defs/s", "maxLength": 3});
        // The siblings become an `allOf` member the old schema lacked: the
        // one incompatible change. (Its location names the synthesized
        // `allOf`, not the sibling keyword; not asserted here.)
        let incompatible: Vec<ChangeKind> = changes(old, new)
            .into_iter()
            .map(|(kind, _)| kind)
            .filter(|kind| !kind.is_compatible(Policy::Strict))
            .collect();
        assert_eq!(incompatible, [PRODUCT_TYPE_EXTENDED]);
    }

    #[test]
    fn anchors_resolve_and_pointers_are_percent_decoded() {
        let old = json!({"$defs": {"a b": {"$anchor": "ab", "type": "string"}}, "$ref": "#ab"});
        let new =
            json!({"$defs": {"a b": {"type": "string", "maxLength": 2}}, "$ref": "#/$defs/a%20b"});
        assert_eq!(
            changes(old, new),
            one(MAX_LENGTH_ADDED, "#/$defs/a b/maxLength")
        );
        assert_eq!(percent_decode("a%20b%7E"), "a b~");
        assert_eq!(percent_decode("100%"), "100%");
    }
}
