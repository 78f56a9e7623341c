//! Objects: declared properties against the content model, `required`,
//! dependencies, extra properties and size bounds.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::content_model::{constrains, Extra, PROPERTY};
use super::{is_empty_schema, ChangeKind, Node, WalkResult, Walker};
use crate::contract::Error;
use ChangeKind::*;

impl Walker {
    pub(super) fn objects(&mut self, w: &Node, r: &Node) -> WalkResult {
        let unopen_required = self.properties(w, r)?;
        self.required(w, r, &unopen_required)?;
        self.dependencies(w, r)?;
        self.extra_keyword(
            (w, "additionalProperties"),
            (r, "additionalProperties"),
            [
                ADDITIONAL_PROPERTIES_ADDED,
                ADDITIONAL_PROPERTIES_REMOVED,
                ADDITIONAL_PROPERTIES_EXTENDED,
                ADDITIONAL_PROPERTIES_NARROWED,
            ],
        )?;
        self.extra_keyword(
            (w, "unevaluatedProperties"),
            (r, "unevaluatedProperties"),
            [
                UNEVALUATED_PROPERTIES_ADDED,
                UNEVALUATED_PROPERTIES_REMOVED,
                UNEVALUATED_PROPERTIES_EXTENDED,
                UNEVALUATED_PROPERTIES_NARROWED,
            ],
        )?;
        self.pattern_properties(w, r)?;
        self.optional_subschema(w, r, "propertyNames")?;
        self.bound(
            w,
            r,
            "maxProperties",
            [
                MAX_PROPERTIES_ADDED,
                MAX_PROPERTIES_REMOVED,
                MAX_PROPERTIES_INCREASED,
                MAX_PROPERTIES_DECREASED,
            ],
        );
        self.bound(
            w,
            r,
            "minProperties",
            [
                MIN_PROPERTIES_ADDED,
                MIN_PROPERTIES_REMOVED,
                MIN_PROPERTIES_INCREASED,
                MIN_PROPERTIES_DECREASED,
            ],
        );
        Ok(())
    }

    /// Compares `properties`; returns the newly required properties already
    /// judged as added to a closed or partially open model.
    fn properties(&mut self, w: &Node, r: &Node) -> Result<BTreeSet<String>, Error> {
        let old = names(w, "properties");
        let new = names(r, "properties");
        let newly_required: BTreeSet<String> =
            required(r).difference(&required(w)).cloned().collect();
        let mut judged = BTreeSet::new();
        for name in old.union(&new) {
            let tokens = ["properties", name.as_str()];
            match (old.contains(name), new.contains(name)) {
                (true, true) => self.compare(w.child(&tokens), r.child(&tokens))?,
                (false, true) => {
                    if self.property_added(w, r, name, newly_required.contains(name))? {
                        judged.insert(name.clone());
                    }
                }
                (true, false) => self.property_removed(w, r, name)?,
                (false, false) => {}
            }
        }
        Ok(judged)
    }

    /// Returns true when the `required` side of the addition was judged too.
    fn property_added(
        &mut self,
        w: &Node,
        r: &Node,
        name: &str,
        newly_required: bool,
    ) -> Result<bool, Error> {
        let tokens = ["properties", name];
        // Up front, whatever the model: its `default` decides a required
        // addition, and a broken `$ref` here has always been an error.
        let (added, _) = self.resolve(r.child(&tokens))?;
        let extra = extra_for(w, name);
        // Added to an open model, a newly required property keeps the open
        // model's kind and `required` judges the requirement on its own.
        let judged = newly_required && !matches!(extra, Extra::Open);
        let kind = self.member_added(r.child(&tokens), extra, is_partially_open(w), &PROPERTY)?;
        let kind = match (judged, added.get("default").is_some()) {
            (true, true) => REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_UNOPEN_CONTENT_MODEL,
            (true, false) => REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL,
            (false, _) => kind,
        };
        self.report(kind, w, r, &tokens, format!("property `{name}` added"));
        Ok(judged)
    }

    fn property_removed(&mut self, w: &Node, r: &Node, name: &str) -> WalkResult {
        let tokens = ["properties", name];
        let (extra, partial) = (extra_for(r, name), is_partially_open(r));
        let kind = self.member_removed(w.child(&tokens), extra, partial, &PROPERTY)?;
        self.report(kind, w, r, &tokens, format!("property `{name}` removed"));
        Ok(())
    }

    fn required(&mut self, w: &Node, r: &Node, judged: &BTreeSet<String>) -> WalkResult {
        let (old, new) = (required(w), required(r));
        for name in old.difference(&new) {
            self.report(
                REQUIRED_ATTRIBUTE_REMOVED,
                w,
                r,
                &["required"],
                format!("`{name}` no longer required"),
            );
        }
        for name in new.difference(&old).filter(|n| !judged.contains(*n)) {
            let (property, _) = self.resolve(r.child(&["properties", name]))?;
            let kind = if property.get("default").is_some() {
                REQUIRED_ATTRIBUTE_WITH_DEFAULT_ADDED
            } else {
                REQUIRED_ATTRIBUTE_ADDED
            };
            self.report(kind, w, r, &["required"], format!("`{name}` now required"));
        }
        Ok(())
    }

    fn dependencies(&mut self, w: &Node, r: &Node) -> WalkResult {
        let (old, new) = (dependent_required(w), dependent_required(r));
        for name in old.keys().chain(new.keys()).collect::<BTreeSet<_>>() {
            let detail = format!("dependency of `{name}`");
            let (kind, key) = match (old.get(name), new.get(name)) {
                (Some((_, key)), None) => (DEPENDENCY_ARRAY_REMOVED, *key),
                (None, Some((_, key))) => (DEPENDENCY_ARRAY_ADDED, *key),
                (Some((o, _)), Some((n, key))) if o != n => {
                    let kind = if n.is_subset(o) {
                        DEPENDENCY_ARRAY_NARROWED
                    } else if n.is_superset(o) {
                        DEPENDENCY_ARRAY_EXTENDED
                    } else {
                        DEPENDENCY_ARRAY_CHANGED
                    };
                    (kind, *key)
                }
                _ => continue,
            };
            self.report(kind, w, r, &[key, name], detail);
        }
        let (old, new) = (dependent_schemas(w), dependent_schemas(r));
        for name in old.keys().chain(new.keys()).collect::<BTreeSet<_>>() {
            let detail = format!("dependent schema of `{name}`");
            match (old.get(name), new.get(name)) {
                (Some(key), None) => {
                    self.report(DEPENDENCY_SCHEMA_REMOVED, w, r, &[key, name], detail)
                }
                (None, Some(key)) => {
                    self.report(DEPENDENCY_SCHEMA_ADDED, w, r, &[key, name], detail)
                }
                (Some(o), Some(n)) => self.compare(w.child(&[o, name]), r.child(&[n, name]))?,
                (None, None) => {}
            }
        }
        Ok(())
    }

    fn pattern_properties(&mut self, w: &Node, r: &Node) -> WalkResult {
        let (old, new) = (names(w, "patternProperties"), names(r, "patternProperties"));
        for pattern in old.union(&new) {
            let tokens = ["patternProperties", pattern.as_str()];
            let detail = format!("pattern `{pattern}`");
            match (old.contains(pattern), new.contains(pattern)) {
                (true, true) => self.compare(w.child(&tokens), r.child(&tokens))?,
                (false, true) => self.pattern_property_added(w, r, pattern)?,
                (true, false)
                    if extra_is_open(r, "additionalProperties", "unevaluatedProperties") =>
                {
                    self.report(SCHEMA_REMOVED, w, r, &tokens, detail)
                }
                (true, false) => self.report(PATTERN_PROPERTY_REMOVED, w, r, &tokens, detail),
                (false, false) => {}
            }
        }
        Ok(())
    }

    /// A `patternProperties` entry the reader added. When the old model
    /// was closed (no extra property, no pattern of its own), old data held
    /// only its declared properties: the new pattern matters for those
    /// whose name it matches, each of whose old values it must accept.
    /// Otherwise old data may hold any matching name: incompatible.
    fn pattern_property_added(&mut self, w: &Node, r: &Node, pattern: &str) -> WalkResult {
        let tokens = ["patternProperties", pattern];
        // `unevaluatedProperties: false` would also admit properties the
        // combinators declare: only `additionalProperties` closes here.
        let closed = w.get("additionalProperties") == Some(&Value::Bool(false))
            && names(w, "patternProperties").is_empty();
        if !closed {
            let detail = format!("pattern `{pattern}`");
            self.report(PATTERN_PROPERTY_ADDED, w, r, &tokens, detail);
            return Ok(());
        }
        for name in names(w, "properties") {
            if !pattern_matches(pattern, &name) {
                continue;
            }
            let found = self.sub(&w.child(&["properties", &name]), &r.child(&tokens))?;
            if !self.accepts(&found) {
                let detail = format!("pattern `{pattern}` matches old property `{name}`");
                self.report(PATTERN_PROPERTY_ADDED, w, r, &tokens, detail);
            }
        }
        Ok(())
    }

    /// A keyword holding one optional subschema (`propertyNames`, `contains`).
    pub(super) fn optional_subschema(&mut self, w: &Node, r: &Node, key: &str) -> WalkResult {
        match (w.get(key), r.get(key)) {
            (Some(_), Some(_)) => self.compare(w.child(&[key]), r.child(&[key])),
            (Some(_), None) => {
                self.report(SCHEMA_REMOVED, w, r, &[key], format!("`{key}` removed"));
                Ok(())
            }
            (None, Some(v)) if !is_empty_schema(v) => {
                self.report(SCHEMA_ADDED, w, r, &[key], format!("`{key}` added"));
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// An extra-content keyword (`additionalProperties`, `additionalItems`,
    /// `unevaluated*`), by `[added, removed, extended, narrowed]`: allowing
    /// what was forbidden is "added", forbidding is "removed", lifting a
    /// schema is "extended" and introducing one "narrowed".
    pub(super) fn extra_keyword(
        &mut self,
        (w, w_key): (&Node, &str),
        (r, r_key): (&Node, &str),
        [added, removed, extended, narrowed]: [ChangeKind; 4],
    ) -> WalkResult {
        let (old, new) = (w.get(w_key), r.get(r_key));
        let forbids = |v: Option<&Value>| v == Some(&Value::Bool(false));
        let constrains = |v: Option<&Value>| v.is_some_and(constrains);
        let kind = if forbids(old) != forbids(new) {
            if forbids(new) {
                removed
            } else {
                added
            }
        } else if !constrains(old) && constrains(new) {
            narrowed
        } else if constrains(old) && !constrains(new) {
            extended
        } else if constrains(old) && constrains(new) {
            return self.compare(w.child(&[w_key]), r.child(&[r_key]));
        } else {
            return Ok(());
        };
        self.report_at(kind, (w, &[w_key]), (r, &[r_key]), format!("`{r_key}`"));
        Ok(())
    }
}

fn names(node: &Node, key: &str) -> BTreeSet<String> {
    node.get(key)
        .and_then(Value::as_object)
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

fn required(node: &Node) -> BTreeSet<String> {
    node.array("required")
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// `dependentRequired` and draft 7's array-valued `dependencies`, each with
/// the keyword it was spelt with.
fn dependent_required(node: &Node) -> BTreeMap<String, (BTreeSet<String>, &'static str)> {
    dependencies(node, "dependentRequired")
        .filter_map(|(key, name, value)| {
            let names = value.as_array()?;
            let names = names
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect();
            Some((name.clone(), (names, key)))
        })
        .collect()
}

/// `dependentSchemas` and draft 7's schema-valued `dependencies`.
fn dependent_schemas(node: &Node) -> BTreeMap<String, &'static str> {
    dependencies(node, "dependentSchemas")
        .filter(|(_, _, value)| !value.is_array())
        .map(|(key, name, _)| (name.clone(), key))
        .collect()
}

/// The entries of draft 7's `dependencies` then of `split` (its 2020-12
/// half), each as (keyword, name, value); a later one wins a name.
fn dependencies<'a>(
    node: &'a Node,
    split: &'static str,
) -> impl Iterator<Item = (&'static str, &'a String, &'a Value)> {
    ["dependencies", split].into_iter().flat_map(move |key| {
        node.get(key)
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .map(move |(name, value)| (key, name, value))
    })
}

/// Extra content is constrained by a schema or by patterns.
fn is_partially_open(node: &Node) -> bool {
    !names(node, "patternProperties").is_empty()
        || ["additionalProperties", "unevaluatedProperties"]
            .iter()
            .any(|k| node.get(k).is_some_and(constrains))
}

/// Neither keyword constrains extra content.
pub(super) fn extra_is_open(node: &Node, additional: &str, unevaluated: &str) -> bool {
    [additional, unevaluated]
        .iter()
        .all(|k| node.get(k).is_none_or(is_empty_schema))
}

/// What the object model allows for an undeclared property `name`.
fn extra_for(node: &Node, name: &str) -> Extra {
    for pattern in names(node, "patternProperties") {
        if pattern_matches(&pattern, name) {
            return Extra::Schema(node.child(&["patternProperties", &pattern]));
        }
    }
    Extra::of(node, ["additionalProperties", "unevaluatedProperties"])
}

/// ECMA-262 regex search, through the validator's own regex engine.
fn pattern_matches(pattern: &str, name: &str) -> bool {
    jsonschema::validator_for(&serde_json::json!({ "pattern": pattern }))
        .map(|v| v.is_valid(&Value::String(name.to_owned())))
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::super::tests::{changes, changes_with, one};
    use super::*;
    use crate::contract::compat::{Locate, Policy};
    use serde_json::json;

    /// An object with `properties` and the given content-model keywords.
    fn model(properties: Value, extra: Value) -> Value {
        let mut schema = json!({"type": "object", "properties": properties});
        schema
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        schema
    }

    #[test]
    fn an_added_property_is_judged_by_the_old_content_model() {
        let at = "#/properties/b";
        let added = |old_extra: Value, b: Value| {
            changes(
                model(json!({}), old_extra.clone()),
                model(json!({ "b": b }), old_extra),
            )
        };
        let string = json!({"type": "string"});
        assert_eq!(
            added(json!({}), string.clone()),
            one(PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL, at)
        );
        assert_eq!(
            added(json!({}), json!({"description": "anything"})),
            one(PROPERTY_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL, at)
        );
        assert_eq!(
            added(json!({"additionalProperties": false}), string.clone()),
            one(OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL, at)
        );
        assert_eq!(
            added(
                json!({"additionalProperties": string.clone()}),
                string.clone()
            ),
            one(
                PROPERTY_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL,
                at
            )
        );
        // A pattern that does not match `b` leaves `b` to the open rest.
        assert_eq!(
            added(
                json!({"patternProperties": {"^x_": string.clone()}}),
                string
            ),
            one(
                PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL,
                at
            )
        );
    }

    #[test]
    fn a_newly_required_added_property_is_judged_once() {
        let closed = json!({"additionalProperties": false});
        let old = model(json!({}), closed.clone());
        let mut with_default = model(
            json!({"b": {"type": "string", "default": "x"}}),
            closed.clone(),
        );
        with_default["required"] = json!(["b"]);
        assert_eq!(
            changes(old.clone(), with_default),
            one(
                REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_UNOPEN_CONTENT_MODEL,
                "#/properties/b"
            )
        );
        let mut without = model(json!({"b": {"type": "string"}}), closed);
        without["required"] = json!(["b"]);
        assert_eq!(
            changes(old, without),
            one(
                REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL,
                "#/properties/b"
            )
        );
    }

    #[test]
    fn a_removed_property_is_judged_by_the_new_content_model() {
        let at = "#/properties/b";
        let removed = |b: Value, new_extra: Value| {
            changes(
                model(json!({ "b": b }), new_extra.clone()),
                model(json!({}), new_extra),
            )
        };
        let string = json!({"type": "string"});
        assert_eq!(
            removed(string.clone(), json!({})),
            one(PROPERTY_REMOVED_FROM_OPEN_CONTENT_MODEL, at)
        );
        assert_eq!(
            removed(string.clone(), json!({"additionalProperties": false})),
            one(PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL, at)
        );
        assert_eq!(
            removed(json!(false), json!({"additionalProperties": false})),
            one(PROPERTY_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL, at)
        );
        assert_eq!(
            removed(
                string.clone(),
                json!({"additionalProperties": string.clone()})
            ),
            one(
                PROPERTY_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL,
                at
            )
        );
        assert_eq!(
            removed(
                string.clone(),
                json!({"patternProperties": {"^x_": string}, "additionalProperties": false})
            ),
            one(
                PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL,
                at
            )
        );
    }

    #[test]
    fn a_removed_property_the_narrower_extra_schema_rejects_is_not_covered() {
        let old = model(
            json!({"b": {"type": "string"}}),
            json!({"additionalProperties": {"type": "string"}}),
        );
        let new = model(
            json!({}),
            json!({"additionalProperties": {"type": "string", "maxLength": 2}}),
        );
        // Both the removal and the narrower extra schema are found; the
        // walk below the removal says why it is not covered.
        let found = changes_with(old, new, Locate::Reader, Policy::Lenient);
        assert!(found.contains(&(
            PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL,
            "#/properties/b".to_owned()
        )));
        assert!(found.iter().any(|(k, _)| *k == MAX_LENGTH_ADDED));
    }

    #[test]
    fn the_extra_schema_for_a_name_prefers_a_matching_pattern() {
        let node = |value: Value| Node {
            doc: std::rc::Rc::new(super::super::Doc {
                path: "x.json".into(),
                label: String::new(),
                root: value.clone(),
                roots: crate::contract::schema::RefRoots::folder(&std::env::temp_dir()).unwrap(),
                draft7: false,
            }),
            value,
            pointer: String::new(),
        };
        let n = node(json!({
            "patternProperties": {"^x_": {"type": "string"}},
            "additionalProperties": false
        }));
        assert!(
            matches!(extra_for(&n, "x_a"), Extra::Schema(s) if s.pointer == "/patternProperties/^x_")
        );
        assert!(matches!(extra_for(&n, "y"), Extra::Closed));
        assert!(is_partially_open(&n));
        let open = node(json!({"additionalProperties": {"description": "any"}}));
        assert!(matches!(extra_for(&open, "y"), Extra::Open));
        assert!(!is_partially_open(&open));
        assert!(extra_is_open(
            &open,
            "additionalProperties",
            "unevaluatedProperties"
        ));
        assert!(pattern_matches("^x_", "x_a") && pattern_matches("a", "bab"));
        assert!(!pattern_matches("(", "x"));
    }

    #[test]
    fn required_entries_and_dependencies_are_compared_as_sets() {
        let o = |extra: Value| model(json!({"a": {}, "b": {"default": 1}}), extra);
        assert_eq!(
            changes(o(json!({"required": ["a"]})), o(json!({}))),
            one(REQUIRED_ATTRIBUTE_REMOVED, "#/required")
        );
        assert_eq!(
            changes(o(json!({})), o(json!({"required": ["b"]}))),
            one(REQUIRED_ATTRIBUTE_WITH_DEFAULT_ADDED, "#/required")
        );
        let d = |names: Value| json!({"type": "object", "dependentRequired": {"card": names}});
        let at = "#/dependentRequired/card";
        assert_eq!(
            changes(d(json!(["a"])), d(json!(["a", "b"]))),
            one(DEPENDENCY_ARRAY_EXTENDED, at)
        );
        assert_eq!(
            changes(d(json!(["a", "b"])), d(json!(["b"]))),
            one(DEPENDENCY_ARRAY_NARROWED, at)
        );
        assert_eq!(
            changes(d(json!(["a"])), d(json!(["b"]))),
            one(DEPENDENCY_ARRAY_CHANGED, at)
        );
        assert!(changes(d(json!(["a", "b"])), d(json!(["b", "a"]))).is_empty());
        // Draft 7's `dependencies` holds both kinds.
        let old =
            json!({"type": "object", "dependencies": {"card": ["a"], "vat": {"required": ["b"]}}});
        let new = json!({"type": "object", "dependencies": {"vat": {"required": ["b"]}}});
        assert_eq!(
            changes(old, new),
            one(DEPENDENCY_ARRAY_REMOVED, "#/dependencies/card")
        );
    }

    #[test]
    fn extra_keywords_are_added_removed_extended_or_narrowed() {
        let x = |v: Value| json!({"type": "object", "unevaluatedProperties": v});
        let plain = json!({"type": "object"});
        let at = "#/unevaluatedProperties";
        let string = json!({"type": "string"});
        assert_eq!(
            changes(x(json!(false)), x(string.clone())),
            one(UNEVALUATED_PROPERTIES_ADDED, at)
        );
        assert_eq!(
            changes(x(string.clone()), x(json!(false))),
            one(UNEVALUATED_PROPERTIES_REMOVED, at)
        );
        assert_eq!(
            changes(x(string.clone()), x(json!(true))),
            one(UNEVALUATED_PROPERTIES_EXTENDED, at)
        );
        assert_eq!(
            changes(plain, x(string.clone())),
            one(UNEVALUATED_PROPERTIES_NARROWED, at)
        );
        assert_eq!(
            changes(x(string), x(json!({"type": "string", "maxLength": 1}))),
            one(MAX_LENGTH_ADDED, "#/unevaluatedProperties/maxLength")
        );
    }

    #[test]
    fn a_pattern_property_removed_is_a_lifted_schema_only_when_the_rest_is_open() {
        let p = |extra: Value| {
            model(
                json!({}),
                json!({"patternProperties": {"^x_": {"type": "string"}}}),
            )
            .as_object()
            .unwrap()
            .clone()
            .into_iter()
            .chain(extra.as_object().unwrap().clone())
            .collect::<serde_json::Map<_, _>>()
            .into()
        };
        let at = "#/patternProperties/^x_";
        assert_eq!(
            changes(p(json!({})), model(json!({}), json!({}))),
            one(SCHEMA_REMOVED, at)
        );
        let closed = json!({"additionalProperties": false});
        assert_eq!(
            changes(p(closed.clone()), model(json!({}), closed.clone())),
            one(PATTERN_PROPERTY_REMOVED, at)
        );
        // Added to a closed model: judged against the properties old data
        // could hold.
        let old = model(json!({"x_a": {"type": "string"}, "y": {}}), closed.clone());
        let reading = |pattern: Value| {
            let mut new = old.clone();
            new["patternProperties"] = json!({ "^x_": pattern });
            changes(old.clone(), new)
        };
        assert!(reading(json!({"type": "string"})).is_empty());
        assert_eq!(
            reading(json!({"type": "string", "maxLength": 1})),
            one(PATTERN_PROPERTY_ADDED, at)
        );
        assert!(changes(model(json!({}), closed.clone()), p(closed)).is_empty());
        // An open model may hold any name the pattern matches.
        assert_eq!(
            changes(model(json!({}), json!({})), p(json!({}))),
            one(PATTERN_PROPERTY_ADDED, at)
        );
    }
}
