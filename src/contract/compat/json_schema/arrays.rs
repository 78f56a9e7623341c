//! Arrays: lists and tuples compared by meaning (draft 7's `items: [...]` +
//! `additionalItems` is 2020-12's `prefixItems` + `items`), then
//! `contains`, `uniqueItems` and the size bounds.

use serde_json::Value;

use super::content_model::{Extra, ITEM};
use super::{is_empty_schema, ChangeKind, Node, WalkResult, Walker};
use ChangeKind::*;

/// An array schema's items: a tuple prefix and the schema of the rest.
struct Items {
    /// The keyword holding the prefix (`items` or `prefixItems`).
    prefix_key: &'static str,
    prefix_len: usize,
    /// The keyword holding the rest (`additionalItems` or `items`).
    rest_key: &'static str,
}

impl Items {
    fn of(node: &Node) -> Self {
        match node.get("items") {
            Some(Value::Array(prefix)) => Self {
                prefix_key: "items",
                prefix_len: prefix.len(),
                rest_key: "additionalItems",
            },
            _ => Self {
                prefix_key: "prefixItems",
                prefix_len: node.array("prefixItems").map_or(0, Vec::len),
                rest_key: "items",
            },
        }
    }

    /// What the array allows beyond the prefix.
    fn extra(&self, node: &Node) -> Extra {
        Extra::of(node, [self.rest_key, "unevaluatedItems"])
    }
}

impl Walker {
    pub(super) fn arrays(&mut self, w: &Node, r: &Node) -> WalkResult {
        let (old, new) = (Items::of(w), Items::of(r));
        if old.prefix_len == 0 && new.prefix_len == 0 {
            self.list(w, r, &old, &new)?;
        } else {
            self.tuple(w, r, &old, &new)?;
        }
        self.extra_keyword(
            (w, "unevaluatedItems"),
            (r, "unevaluatedItems"),
            [
                UNEVALUATED_ITEMS_ADDED,
                UNEVALUATED_ITEMS_REMOVED,
                UNEVALUATED_ITEMS_EXTENDED,
                UNEVALUATED_ITEMS_NARROWED,
            ],
        )?;
        self.optional_subschema(w, r, "contains")?;
        self.bound(
            w,
            r,
            "maxItems",
            [
                MAX_ITEMS_ADDED,
                MAX_ITEMS_REMOVED,
                MAX_ITEMS_INCREASED,
                MAX_ITEMS_DECREASED,
            ],
        );
        self.bound(
            w,
            r,
            "minItems",
            [
                MIN_ITEMS_ADDED,
                MIN_ITEMS_REMOVED,
                MIN_ITEMS_INCREASED,
                MIN_ITEMS_DECREASED,
            ],
        );
        self.bound(
            w,
            r,
            "maxContains",
            [
                MAX_CONTAINS_ADDED,
                MAX_CONTAINS_REMOVED,
                MAX_CONTAINS_INCREASED,
                MAX_CONTAINS_DECREASED,
            ],
        );
        // Beside `contains`, an absent `minContains` means 1.
        let min_contains = |n: &Node| {
            n.number("minContains")
                .or_else(|| n.get("contains").map(|_| 1.0))
        };
        self.bound_in_force(
            w,
            r,
            "minContains",
            min_contains,
            [
                MIN_CONTAINS_ADDED,
                MIN_CONTAINS_REMOVED,
                MIN_CONTAINS_INCREASED,
                MIN_CONTAINS_DECREASED,
            ],
        );
        let unique = |n: &Node| n.get("uniqueItems") == Some(&Value::Bool(true));
        match (unique(w), unique(r)) {
            (true, false) => {
                self.report(UNIQUE_ITEMS_REMOVED, w, r, &["uniqueItems"], String::new())
            }
            (false, true) => self.report(UNIQUE_ITEMS_ADDED, w, r, &["uniqueItems"], String::new()),
            _ => {}
        }
        Ok(())
    }

    /// Both sides are plain lists: one schema for every item.
    fn list(&mut self, w: &Node, r: &Node, old: &Items, new: &Items) -> WalkResult {
        let present =
            |n: &Node, items: &Items| n.get(items.rest_key).is_some_and(|v| !is_empty_schema(v));
        let tokens = ([old.rest_key], [new.rest_key]);
        match (present(w, old), present(r, new)) {
            (true, true) => self.compare(w.child(&tokens.0), r.child(&tokens.1)),
            (true, false) => {
                self.report_at(
                    SCHEMA_REMOVED,
                    (w, &tokens.0),
                    (r, &tokens.1),
                    "item schema removed".into(),
                );
                Ok(())
            }
            (false, true) => {
                self.report_at(
                    SCHEMA_ADDED,
                    (w, &tokens.0),
                    (r, &tokens.1),
                    "item schema added".into(),
                );
                Ok(())
            }
            (false, false) => Ok(()),
        }
    }

    fn tuple(&mut self, w: &Node, r: &Node, old: &Items, new: &Items) -> WalkResult {
        for i in 0..old.prefix_len.max(new.prefix_len) {
            let index = i.to_string();
            let w_tokens = [old.prefix_key, index.as_str()];
            let r_tokens = [new.prefix_key, index.as_str()];
            let detail = format!("tuple item {i}");
            let kind = match (i < old.prefix_len, i < new.prefix_len) {
                (true, true) => {
                    self.compare(w.child(&w_tokens), r.child(&r_tokens))?;
                    continue;
                }
                // Items have no patterns: no tuple leaves an item outside
                // a schema that constrains others, so never partially open.
                (true, false) => {
                    self.member_removed(w.child(&w_tokens), new.extra(r), false, &ITEM)?
                }
                (false, true) => {
                    self.member_added(r.child(&r_tokens), old.extra(w), false, &ITEM)?
                }
                (false, false) => continue,
            };
            self.report_at(kind, (w, &w_tokens), (r, &r_tokens), detail);
        }
        self.extra_keyword(
            (w, old.rest_key),
            (r, new.rest_key),
            [
                ADDITIONAL_ITEMS_ADDED,
                ADDITIONAL_ITEMS_REMOVED,
                ADDITIONAL_ITEMS_EXTENDED,
                ADDITIONAL_ITEMS_NARROWED,
            ],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{changes, one};
    use super::*;
    use serde_json::json;

    const DRAFT7: &str = "http://json-schema.org/draft-07/schema#";

    fn tuple(prefix: Value, rest: Option<Value>) -> Value {
        let mut schema = json!({"type": "array", "prefixItems": prefix});
        if let Some(rest) = rest {
            schema["items"] = rest;
        }
        schema
    }

    #[test]
    fn draft_7_and_2020_12_tuples_are_the_same_and_located_in_their_own_spelling() {
        let d7 = json!({"$schema": DRAFT7, "type": "array", "items": [{"type": "string"}], "additionalItems": false});
        let now = tuple(json!([{"type": "string"}]), Some(json!(false)));
        assert!(changes(d7.clone(), now.clone()).is_empty());
        let longer = json!({"$schema": DRAFT7, "type": "array", "items": [{"type": "string"}, {}], "additionalItems": false});
        assert_eq!(
            changes(now, longer),
            one(ITEM_ADDED_TO_CLOSED_CONTENT_MODEL, "#/items/1")
        );
    }

    #[test]
    fn an_added_item_is_judged_by_the_old_rest_schema() {
        let s = json!({"type": "string"});
        let at = "#/prefixItems/1";
        let added = |rest: Option<Value>, item: Value| {
            changes(
                tuple(json!([s]), rest.clone()),
                tuple(json!([s, item]), rest),
            )
        };
        assert_eq!(
            added(None, s.clone()),
            one(ITEM_ADDED_TO_OPEN_CONTENT_MODEL, at)
        );
        assert_eq!(
            added(None, json!({})),
            one(ITEM_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL, at)
        );
        assert_eq!(
            added(Some(json!(false)), s.clone()),
            one(ITEM_ADDED_TO_CLOSED_CONTENT_MODEL, at)
        );
        assert_eq!(
            added(Some(s.clone()), s.clone()),
            one(ITEM_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL, at)
        );
        assert_eq!(
            added(Some(s.clone()), json!({"type": "integer"})),
            [
                (TYPE_CHANGED, "#/prefixItems/1/type".to_owned()),
                (
                    ITEM_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL,
                    at.to_owned()
                ),
            ]
        );
    }

    #[test]
    fn a_removed_item_is_judged_by_the_new_rest_schema() {
        let s = json!({"type": "string"});
        let at = "#/prefixItems/1";
        let removed = |item: Value, rest: Option<Value>| {
            changes(
                tuple(json!([s, item]), rest.clone()),
                tuple(json!([s]), rest),
            )
        };
        assert_eq!(
            removed(s.clone(), None),
            one(ITEM_REMOVED_FROM_OPEN_CONTENT_MODEL, at)
        );
        assert_eq!(
            removed(s.clone(), Some(json!(false))),
            one(ITEM_REMOVED_FROM_CLOSED_CONTENT_MODEL, at)
        );
        assert_eq!(
            removed(json!(false), Some(json!(false))),
            one(ITEM_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL, at)
        );
        assert_eq!(
            removed(s.clone(), Some(s.clone())),
            one(ITEM_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL, at)
        );
        assert_eq!(
            removed(json!({"type": "integer"}), Some(s.clone())),
            [
                (TYPE_CHANGED, "#/items/type".to_owned()),
                (
                    ITEM_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL,
                    at.to_owned()
                ),
            ]
        );
    }

    #[test]
    fn the_rest_of_a_tuple_is_an_extra_items_keyword() {
        let s = json!({"type": "string"});
        let prefix = json!([s]);
        let at = "#/items";
        assert_eq!(
            changes(
                tuple(prefix.clone(), Some(json!(false))),
                tuple(prefix.clone(), Some(s.clone()))
            ),
            one(ADDITIONAL_ITEMS_ADDED, at)
        );
        assert_eq!(
            changes(
                tuple(prefix.clone(), None),
                tuple(prefix.clone(), Some(json!(false)))
            ),
            one(ADDITIONAL_ITEMS_REMOVED, at)
        );
        assert_eq!(
            changes(
                tuple(prefix.clone(), Some(s.clone())),
                tuple(prefix.clone(), None)
            ),
            one(ADDITIONAL_ITEMS_EXTENDED, at)
        );
        assert_eq!(
            changes(tuple(prefix.clone(), None), tuple(prefix, Some(s))),
            one(ADDITIONAL_ITEMS_NARROWED, at)
        );
    }

    #[test]
    fn a_list_compares_its_item_schema() {
        let list = |items: Value| json!({"type": "array", "items": items});
        assert_eq!(
            changes(list(json!({"type": "string"})), json!({"type": "array"})),
            one(SCHEMA_REMOVED, "#/items")
        );
        assert_eq!(
            changes(
                list(json!({"type": "string"})),
                list(json!({"type": "string", "minLength": 1}))
            ),
            one(MIN_LENGTH_ADDED, "#/items/minLength")
        );
    }

    #[test]
    fn min_contains_means_one_beside_contains() {
        let c = |extra: Value| {
            let mut schema = json!({"type": "array", "contains": {"type": "string"}});
            schema
                .as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            schema
        };
        let at = "#/minContains";
        assert_eq!(
            changes(c(json!({"minContains": 0})), c(json!({}))),
            one(MIN_CONTAINS_INCREASED, at)
        );
        assert_eq!(
            changes(c(json!({})), c(json!({"minContains": 0}))),
            one(MIN_CONTAINS_DECREASED, at)
        );
        assert!(changes(c(json!({"minContains": 1})), c(json!({}))).is_empty());
        assert_eq!(
            changes(c(json!({"minContains": 3})), c(json!({}))),
            one(MIN_CONTAINS_REMOVED, at)
        );
        assert_eq!(
            changes(c(json!({})), c(json!({"minContains": 3}))),
            one(MIN_CONTAINS_ADDED, at)
        );
        // Without `contains` on the new side, its minContains does nothing.
        let old = c(json!({"minContains": 0}));
        let new = json!({"type": "array"});
        assert_eq!(
            changes(old, new),
            [
                (SCHEMA_REMOVED, "#/contains".to_owned()),
                (MIN_CONTAINS_REMOVED, at.to_owned()),
            ]
        );
    }

    #[test]
    fn unique_items_and_size_bounds() {
        let a = |extra: Value| {
            let mut schema = json!({"type": "array"});
            schema
                .as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            schema
        };
        assert_eq!(
            changes(
                a(json!({"uniqueItems": false})),
                a(json!({"uniqueItems": true}))
            ),
            one(UNIQUE_ITEMS_ADDED, "#/uniqueItems")
        );
        assert!(changes(a(json!({"uniqueItems": false})), a(json!({}))).is_empty());
        assert_eq!(
            changes(a(json!({"maxItems": 2})), a(json!({}))),
            one(MAX_ITEMS_REMOVED, "#/maxItems")
        );
        assert_eq!(
            changes(a(json!({"minItems": 2})), a(json!({}))),
            one(MIN_ITEMS_REMOVED, "#/minItems")
        );
        assert_eq!(
            changes(a(json!({"maxContains": 2})), a(json!({}))),
            one(MAX_CONTAINS_REMOVED, "#/maxContains")
        );
    }
}
