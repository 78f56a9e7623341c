//! `allOf`/`anyOf`/`oneOf`, `not` and `if`/`then`/`else`.
//!
//! Branches are paired by a maximum matching over compatible pairs (old
//! branch i readable by new branch j), as Confluent does, so reordering is
//! no change. A combinator replaced by another is incompatible unless both
//! have a single branch; a conditional is compatible only when unchanged.

use serde_json::{Map, Value};

use super::{ChangeKind, Found, Node, WalkResult, Walker};
use ChangeKind::*;

const COMBINATORS: [&str; 3] = ["allOf", "anyOf", "oneOf"];

impl Walker {
    pub(super) fn combinators(&mut self, w: &Node, r: &Node) -> WalkResult {
        let present = |n: &Node| -> Vec<&'static str> {
            COMBINATORS
                .into_iter()
                .filter(|k| n.array(k).is_some())
                .collect()
        };
        let (old, new) = (present(w), present(r));
        if let ([o], [n]) = (old.as_slice(), new.as_slice()) {
            if o != n {
                let singletons =
                    w.array(o).map(Vec::len) == Some(1) && r.array(n).map(Vec::len) == Some(1);
                if singletons {
                    return self.compare(w.child(&[o, "0"]), r.child(&[n, "0"]));
                }
                return self.combinator_changed(w, r, o, n);
            }
        }
        for key in COMBINATORS {
            match (w.array(key).is_some(), r.array(key).is_some()) {
                (true, true) => self.branches(w, r, key)?,
                (true, false) => self.combinator_removed(w, r, key)?,
                (false, true) => self.combinator_added(w, r, key)?,
                (false, false) => {}
            }
        }
        Ok(())
    }

    /// The reader spells the combination with another combinator: judged
    /// by what each accepts. An `anyOf` reader takes every old instance
    /// when each old branch (`anyOf`/`oneOf`: an instance matches one of
    /// them) or some old member (`allOf`: an instance matches all) is read
    /// by a new branch; an `allOf` reader when each member reads the old
    /// schema. A `oneOf` reader refuses data two branches match, so a change
    /// into it stays incompatible.
    fn combinator_changed(&mut self, w: &Node, r: &Node, old: &str, new: &str) -> WalkResult {
        let count = |n: &Node, key: &str| n.array(key).map_or(0, Vec::len);
        let (old_count, new_count) = (count(w, old), count(r, new));
        let widened = match new {
            "anyOf" => {
                let mut readable = Vec::new();
                for i in 0..old_count {
                    let branch = self.with_siblings(w, old, &i.to_string())?;
                    let mut read = false;
                    for j in 0..new_count {
                        let found = self.sub(&branch, &r.child(&[new, &j.to_string()]))?;
                        if self.accepts(&found) {
                            read = true;
                            break;
                        }
                    }
                    readable.push(read);
                }
                if old == "allOf" {
                    readable.contains(&true)
                } else {
                    readable.iter().all(|read| *read)
                }
            }
            "allOf" => {
                let mut all = true;
                for j in 0..new_count {
                    let found = self.sub(w, &r.child(&[new, &j.to_string()]))?;
                    all &= self.accepts(&found);
                }
                all
            }
            _ => false,
        };
        let (kind, detail) = if widened {
            (
                SUM_TYPE_EXTENDED,
                format!("`{old}` → `{new}`, which reads every old instance"),
            )
        } else {
            (COMBINED_TYPE_CHANGED, format!("`{old}` → `{new}`"))
        };
        self.report_at(kind, (w, &[old]), (r, &[new]), detail);
        Ok(())
    }

    /// A combinator with a single branch is that branch: the node becomes
    /// the branch with the node's other keywords added. For the writer an
    /// added keyword the branch already has is dropped, which only makes
    /// it accept more (sound); the reader is folded only when nothing is
    /// dropped, since a reader that accepts more than it does would hide
    /// an incompatibility.
    pub(super) fn fold(
        &mut self,
        node: &Node,
        other: &Node,
        writer: bool,
    ) -> Result<Node, crate::contract::Error> {
        let Some(map) = node.value.as_object() else {
            return Ok(node.clone());
        };
        let present: Vec<&str> = COMBINATORS
            .into_iter()
            .filter(|k| map.contains_key(*k))
            .collect();
        let [key] = present[..] else {
            return Ok(node.clone());
        };
        // The other side spelling the same combinator is paired branch by
        // branch instead (`branches`).
        if node.array(key).map(Vec::len) != Some(1) || other.get(key).is_some() {
            return Ok(node.clone());
        }
        let (branch, _) = self.resolve(node.child(&[key, "0"]))?;
        let siblings: Map<String, Value> = map
            .iter()
            .filter(|(k, _)| *k != key)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        match &branch.value {
            // The node's own keywords, where they are.
            Value::Bool(true) => Ok(Node {
                value: Value::Object(siblings),
                ..node.clone()
            }),
            Value::Bool(false) => Ok(branch),
            Value::Object(own) => {
                let asserting = siblings.keys().any(|k| !super::is_annotation(k));
                // Keywords of one file cannot move into another: their
                // `$ref`s would resolve elsewhere.
                if branch.doc.path != node.doc.path && asserting {
                    return Ok(if writer { branch } else { node.clone() });
                }
                let clash = siblings
                    .iter()
                    .any(|(k, v)| !super::is_annotation(k) && own.get(k).is_some_and(|o| o != v));
                if clash && !writer || entangled(&siblings, own) {
                    return Ok(node.clone());
                }
                let mut merged = own.clone();
                for (k, v) in siblings {
                    merged.entry(k).or_insert(v);
                }
                Ok(Node {
                    value: Value::Object(merged),
                    ..branch
                })
            }
            _ => Ok(node.clone()),
        }
    }

    /// Both sides have `key`: pair the branches.
    fn branches(&mut self, w: &Node, r: &Node, key: &str) -> WalkResult {
        let old = distinct(w.array(key));
        let new = distinct(r.array(key));
        let mut results: Vec<Vec<Vec<Found>>> = Vec::new();
        for i in &old {
            let mut row = Vec::new();
            for j in &new {
                let (i, j) = (i.to_string(), j.to_string());
                row.push(self.sub(&w.child(&[key, &i]), &r.child(&[key, &j]))?);
            }
            results.push(row);
        }
        let edges: Vec<Vec<bool>> = results
            .iter()
            .map(|row| row.iter().map(|f| self.accepts(f)).collect())
            .collect();
        let matching = maximum_matching(&edges, new.len());
        let product = key == "allOf";
        if new.len() > old.len() {
            let kind = if product {
                PRODUCT_TYPE_EXTENDED
            } else {
                SUM_TYPE_EXTENDED
            };
            self.report(
                kind,
                w,
                r,
                &[key],
                format!("{} → {} subschemas", old.len(), new.len()),
            );
        } else if new.len() < old.len() {
            let kind = if product {
                PRODUCT_TYPE_NARROWED
            } else {
                SUM_TYPE_NARROWED
            };
            self.report(
                kind,
                w,
                r,
                &[key],
                format!("{} → {} subschemas", old.len(), new.len()),
            );
        }
        for (i, j) in &matching {
            self.found.extend(results[*i][*j].clone());
        }
        if matching.len() < old.len().min(new.len()) {
            self.report(
                COMBINED_TYPE_SUBSCHEMAS_CHANGED,
                w,
                r,
                &[key],
                "no pairing of old and new subschemas is compatible".into(),
            );
            // Say what changed in the branches left unpaired at the same place.
            for (i, row) in results.iter().enumerate().take(new.len()) {
                let paired = matching.iter().any(|(a, b)| *a == i || *b == i);
                if !paired {
                    self.found.extend(row[i].clone());
                }
            }
        }
        Ok(())
    }

    /// The reader dropped `key`.
    fn combinator_removed(&mut self, w: &Node, r: &Node, key: &str) -> WalkResult {
        if key == "allOf" {
            self.report(
                PRODUCT_TYPE_NARROWED,
                w,
                r,
                &[key],
                "`allOf` removed".into(),
            );
            return Ok(());
        }
        // Old data matched one branch together with the sibling keywords;
        // each such combination must be readable by the new schema.
        let count = w.array(key).map_or(0, Vec::len);
        for i in 0..count {
            let index = i.to_string();
            let branch = self.with_siblings(w, key, &index)?;
            let found = self.sub(&branch, r)?;
            if !self.accepts(&found) {
                let detail = format!(
                    "old branch {i} is not readable: {}",
                    first_incompatible(self, &found)
                );
                self.report(SUM_TYPE_NARROWED, w, r, &[key, &index], detail);
            }
        }
        Ok(())
    }

    /// The reader introduced `key`.
    fn combinator_added(&mut self, w: &Node, r: &Node, key: &str) -> WalkResult {
        let count = r.array(key).map_or(0, Vec::len);
        if key == "allOf" {
            for j in 0..count {
                let index = j.to_string();
                let found = self.sub(w, &r.child(&[key, &index]))?;
                if !self.accepts(&found) {
                    let detail = format!("new member {j}: {}", first_incompatible(self, &found));
                    self.report(PRODUCT_TYPE_EXTENDED, w, r, &[key, &index], detail);
                }
            }
            return Ok(());
        }
        for j in 0..count {
            let found = self.sub(w, &r.child(&[key, &j.to_string()]))?;
            if self.accepts(&found) {
                if count > 1 {
                    self.report(
                        SUM_TYPE_EXTENDED,
                        w,
                        r,
                        &[key],
                        format!("old schema is branch {j}"),
                    );
                }
                return Ok(());
            }
        }
        self.report(
            COMBINED_TYPE_CHANGED,
            w,
            r,
            &[key],
            "the old schema matches no new branch".into(),
        );
        Ok(())
    }

    /// Branch `index` of `key` with the keywords beside `key` added where
    /// the branch lacks them. Dropping a conflicting sibling only makes the
    /// writer accept more, so the result stays a sound over-approximation.
    fn with_siblings(
        &mut self,
        w: &Node,
        key: &str,
        index: &str,
    ) -> Result<Node, crate::contract::Error> {
        let (branch, _) = self.resolve(w.child(&[key, index]))?;
        let (Some(siblings), Some(own)) = (w.value.as_object(), branch.value.as_object()) else {
            return Ok(branch);
        };
        if branch.doc.path != w.doc.path || entangled(siblings, own) {
            return Ok(branch);
        }
        let mut merged: Map<String, Value> = own.clone();
        for (k, v) in siblings {
            if k != key && !merged.contains_key(k) {
                merged.insert(k.clone(), v.clone());
            }
        }
        Ok(Node {
            value: Value::Object(merged),
            ..branch
        })
    }

    pub(super) fn negation(&mut self, w: &Node, r: &Node) -> WalkResult {
        match (w.get("not").is_some(), r.get("not").is_some()) {
            (true, false) => self.report(NOT_TYPE_NARROWED, w, r, &["not"], "`not` removed".into()),
            (false, true) => self.report(NOT_TYPE_EXTENDED, w, r, &["not"], "`not` added".into()),
            (true, true) => {
                // New data must avoid `new.not`; old data avoided `old.not`.
                // Compatible when everything `new.not` excludes, `old.not` did.
                let found = self.sub_swapped(&w.child(&["not"]), &r.child(&["not"]))?;
                if !self.accepts(&found) {
                    let detail = first_incompatible(self, &found);
                    self.report(NOT_TYPE_EXTENDED, w, r, &["not"], detail);
                } else if !found.is_empty() {
                    self.report(NOT_TYPE_NARROWED, w, r, &["not"], String::new());
                }
            }
            (false, false) => {}
        }
        Ok(())
    }

    pub(super) fn conditional(&mut self, w: &Node, r: &Node) -> WalkResult {
        let keys = ["if", "then", "else"];
        let has = |n: &Node| keys.iter().any(|k| n.get(k).is_some());
        match (has(w), has(r)) {
            (true, false) => {
                self.report(SCHEMA_REMOVED, w, r, &["if"], "conditional removed".into())
            }
            (false, true) => self.report(SCHEMA_ADDED, w, r, &["if"], "conditional added".into()),
            (true, true) => {
                for key in keys {
                    if !self.equivalent(w, r, key)? {
                        self.report(
                            CONDITIONAL_CHANGED,
                            w,
                            r,
                            &[key],
                            format!("`{key}` changed"),
                        );
                    }
                }
            }
            (false, false) => {}
        }
        Ok(())
    }

    /// Whether `key` means the same on both sides (annotations aside).
    fn equivalent(
        &mut self,
        w: &Node,
        r: &Node,
        key: &str,
    ) -> Result<bool, crate::contract::Error> {
        match (w.get(key), r.get(key)) {
            (None, None) => Ok(true),
            (Some(_), Some(_)) => {
                let (a, b) = (w.child(&[key]), r.child(&[key]));
                let forward = self.sub(&a, &b)?;
                let backward = self.sub_swapped(&a, &b)?;
                Ok(forward
                    .iter()
                    .chain(&backward)
                    .all(|f| is_annotation_kind(f.kind)))
            }
            _ => Ok(false),
        }
    }
}

/// Keywords that read each other within one schema object: moved into
/// another object beside the rest of their group, they would mean more or
/// less than before (`additionalProperties` beside new `properties`, a
/// `then` beside an `if`).
const GROUPS: [&[&str]; 5] = [
    &[
        "properties",
        "patternProperties",
        "additionalProperties",
        "unevaluatedProperties",
    ],
    &[
        "prefixItems",
        "items",
        "additionalItems",
        "unevaluatedItems",
    ],
    &["if", "then", "else"],
    &["contains", "minContains", "maxContains"],
    &["$ref", "$dynamicRef"],
];

/// Whether merging the two objects would put keywords of one group, each
/// side holding some, into one object.
fn entangled(a: &Map<String, Value>, b: &Map<String, Value>) -> bool {
    GROUPS.iter().any(|group| {
        let holds = |m: &Map<String, Value>| group.iter().any(|k| m.contains_key(*k));
        holds(a) && holds(b)
    })
}

fn is_annotation_kind(kind: ChangeKind) -> bool {
    matches!(
        kind,
        ID_CHANGED | TITLE_CHANGED | DESCRIPTION_CHANGED | DEFAULT_CHANGED | ANNOTATION_CHANGED
    )
}

fn first_incompatible(walker: &Walker, found: &[Found]) -> String {
    found
        .iter()
        .find(|f| !f.kind.is_compatible(walker.policy))
        .map(|f| format!("{} at {}", f.kind, f.location))
        .unwrap_or_default()
}

/// Indices of the distinct subschemas (duplicates collapse, as in a set).
fn distinct(items: Option<&Vec<Value>>) -> Vec<usize> {
    let items = items.map(Vec::as_slice).unwrap_or_default();
    (0..items.len())
        .filter(|i| !items[..*i].contains(&items[*i]))
        .collect()
}

/// Pairs (left, right) of a maximum bipartite matching (Kuhn's algorithm;
/// the branch lists are short).
fn maximum_matching(edges: &[Vec<bool>], right: usize) -> Vec<(usize, usize)> {
    fn augment(
        i: usize,
        edges: &[Vec<bool>],
        seen: &mut [bool],
        owner: &mut [Option<usize>],
    ) -> bool {
        for j in 0..owner.len() {
            if edges[i][j] && !seen[j] {
                seen[j] = true;
                if owner[j].is_none_or(|k| augment(k, edges, seen, owner)) {
                    owner[j] = Some(i);
                    return true;
                }
            }
        }
        false
    }
    let mut owner = vec![None; right];
    for i in 0..edges.len() {
        let mut seen = vec![false; right];
        augment(i, edges, &mut seen, &mut owner);
    }
    owner
        .iter()
        .enumerate()
        .filter_map(|(j, i)| i.map(|i| (i, j)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::tests::{changes, one};
    use super::*;
    use serde_json::json;

    #[test]
    fn the_matching_is_maximum_not_greedy() {
        // Greedy would pair old 0 with new 0 and leave old 1 alone.
        let edges = vec![vec![true, true], vec![true, false]];
        assert_eq!(maximum_matching(&edges, 2), [(1, 0), (0, 1)]);
        assert!(maximum_matching(&[vec![false]], 1).is_empty());
        let items = vec![json!(1), json!(2), json!(1)];
        assert_eq!(distinct(Some(&items)), [0, 1]);
    }

    #[test]
    fn reordered_branches_are_no_change_and_a_changed_branch_is_located() {
        let old = json!({"anyOf": [{"type": "string"}, {"type": "integer"}]});
        let reordered = json!({"anyOf": [{"type": "integer"}, {"type": "string"}]});
        assert!(changes(old.clone(), reordered).is_empty());
        // Unpaired branches at the same index say what changed in them.
        let changed = json!({"anyOf": [{"type": "string", "maxLength": 2}, {"type": "integer"}]});
        assert_eq!(
            changes(old.clone(), changed),
            [
                (COMBINED_TYPE_SUBSCHEMAS_CHANGED, "#/anyOf".to_owned()),
                (MAX_LENGTH_ADDED, "#/anyOf/0/maxLength".to_owned()),
            ]
        );
        // Moved as well as changed: only the failed pairing is reported.
        let moved = json!({"anyOf": [{"type": "integer"}, {"type": "string", "maxLength": 2}]});
        assert_eq!(
            changes(old, moved),
            one(COMBINED_TYPE_SUBSCHEMAS_CHANGED, "#/anyOf")
        );
    }

    #[test]
    fn branches_without_a_compatible_pairing() {
        let old = json!({"oneOf": [{"type": "string"}, {"type": "integer"}]});
        let new = json!({"oneOf": [{"type": "string"}, {"type": "boolean"}]});
        let found = changes(old, new);
        assert_eq!(
            found[0],
            (COMBINED_TYPE_SUBSCHEMAS_CHANGED, "#/oneOf".to_owned())
        );
        let old = json!({"allOf": [{"type": "string"}]});
        let new = json!({"allOf": [{"type": "string"}, {"minLength": 1}]});
        assert_eq!(changes(old, new), one(PRODUCT_TYPE_EXTENDED, "#/allOf"));
    }

    #[test]
    fn keywords_that_read_each_other_are_not_merged_apart() {
        // Folded, `additionalProperties: false` would meet the branch's
        // `properties` and admit `a`; the reader truly refuses every property.
        let reader = json!({"allOf": [{"properties": {"a": {}}}], "additionalProperties": false});
        let old = json!({"type": "object", "properties": {"a": {}}, "additionalProperties": false});
        assert!(changes(old, reader)
            .iter()
            .any(|(kind, _)| !kind.is_compatible(crate::contract::compat::Policy::Strict)));
        let conditional = serde_json::Map::from_iter([("if".to_owned(), json!(true))]);
        let then = serde_json::Map::from_iter([("then".to_owned(), json!(false))]);
        assert!(entangled(&conditional, &then));
        assert!(!entangled(&conditional, &serde_json::Map::new()));
    }

    #[test]
    fn one_combinator_replaced_by_another() {
        let two = json!([{"type": "string"}, {"type": "integer"}]);
        // Judged by what each accepts: `anyOf` over the same or more
        // branches reads every `oneOf` instance; `oneOf` refuses what two
        // `anyOf` branches match.
        assert_eq!(
            changes(json!({ "oneOf": two }), json!({ "anyOf": two })),
            one(SUM_TYPE_EXTENDED, "#/anyOf")
        );
        let three = json!([{"type": "boolean"}, {"type": "integer"}, {"type": "string"}]);
        assert_eq!(
            changes(json!({ "oneOf": two }), json!({ "anyOf": three })),
            one(SUM_TYPE_EXTENDED, "#/anyOf")
        );
        assert_eq!(
            changes(json!({ "anyOf": two }), json!({ "oneOf": two })),
            one(COMBINED_TYPE_CHANGED, "#/oneOf")
        );
        let fewer = json!([{"type": "string"}, {"type": "null"}]);
        assert_eq!(
            changes(json!({ "oneOf": two }), json!({ "anyOf": fewer })),
            one(COMBINED_TYPE_CHANGED, "#/anyOf")
        );
        // An `allOf` instance matches each member: one readable member is enough.
        let members = json!([{"type": "string"}, {"maxLength": 3}]);
        assert_eq!(
            changes(json!({ "allOf": members }), json!({ "anyOf": fewer })),
            one(SUM_TYPE_EXTENDED, "#/anyOf")
        );
        // Single branches are compared as they are.
        let old = json!({"oneOf": [{"type": "string", "maxLength": 3}]});
        let new = json!({"allOf": [{"type": "string"}]});
        assert_eq!(
            changes(old, new),
            one(MAX_LENGTH_REMOVED, "#/allOf/0/maxLength")
        );
    }

    #[test]
    fn a_sum_removed_must_be_readable_branch_by_branch_with_its_siblings() {
        // The sibling `type` makes both old branches strings.
        let old = json!({"type": "string", "anyOf": [{"maxLength": 3}, {"minLength": 5}]});
        assert!(changes(old.clone(), json!({"type": "string"})).is_empty());
        assert_eq!(
            changes(old, json!({"type": "string", "maxLength": 4})),
            [
                (MAX_LENGTH_ADDED, "#/maxLength".to_owned()),
                (SUM_TYPE_NARROWED, "#/anyOf/1".to_owned()),
            ]
        );
    }

    #[test]
    fn a_combinator_introduced() {
        let old = json!({"type": "string"});
        let sum =
            json!({"type": ["string", "null"], "anyOf": [{"type": "null"}, {"type": "string"}]});
        assert_eq!(
            changes(old.clone(), sum),
            [
                (TYPE_EXTENDED, "#/type".to_owned()),
                (SUM_TYPE_EXTENDED, "#/anyOf".to_owned()),
            ]
        );
        let unrelated = json!({"type": "string", "oneOf": [{"const": "a"}, {"const": "b"}]});
        assert_eq!(
            changes(old.clone(), unrelated),
            one(COMBINED_TYPE_CHANGED, "#/oneOf")
        );
        let product = json!({"type": "string", "allOf": [{"title": "t"}, {"maxLength": 3}]});
        assert_eq!(
            changes(old, product),
            one(PRODUCT_TYPE_EXTENDED, "#/allOf/1")
        );
    }

    #[test]
    fn not_excludes_more_or_less() {
        let n = |values: Value| json!({"type": "integer", "not": {"enum": values}});
        let plain = json!({"type": "integer"});
        assert_eq!(
            changes(plain.clone(), n(json!([1]))),
            one(NOT_TYPE_EXTENDED, "#/not")
        );
        assert_eq!(
            changes(n(json!([1])), plain),
            one(NOT_TYPE_NARROWED, "#/not")
        );
        assert_eq!(
            changes(n(json!([1])), n(json!([1, 2]))),
            one(NOT_TYPE_EXTENDED, "#/not")
        );
        assert_eq!(
            changes(n(json!([1, 2])), n(json!([2]))),
            one(NOT_TYPE_NARROWED, "#/not")
        );
        assert!(changes(n(json!([1, 2])), n(json!([2, 1]))).is_empty());
    }

    #[test]
    fn a_conditional_is_compatible_only_unchanged() {
        let c = |then: Value| json!({"if": {"required": ["a"]}, "then": then});
        let at = "#/then";
        assert!(changes(
            c(json!({"required": ["b"]})),
            c(json!({"required": ["b"], "title": "t"}))
        )
        .is_empty());
        // Even a relaxation is reported: the rules only accept no change.
        assert_eq!(
            changes(
                c(json!({"maxProperties": 2})),
                c(json!({"maxProperties": 3}))
            ),
            one(CONDITIONAL_CHANGED, at)
        );
        assert_eq!(changes(json!({}), c(json!({}))), one(SCHEMA_ADDED, "#/if"));
        assert_eq!(
            changes(c(json!({})), json!({})),
            one(SCHEMA_REMOVED, "#/if")
        );
    }
}
