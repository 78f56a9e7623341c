//! Content models: one judgement for a member (a property or a tuple item)
//! added to or removed from an object or an array, by what the model allows
//! for members it does not declare. The rules are the same for both; only
//! the kinds' names differ.

use serde_json::Value;

use super::{is_empty_schema, ChangeKind, Node, Walker};
use crate::contract::Error;
use ChangeKind::*;

/// What a content model allows for a property name (or an item index)
/// that it does not declare.
pub(super) enum Extra {
    Open,
    Closed,
    Schema(Node),
}

impl Extra {
    /// The first of the extra-content `keys` present decides: it evaluates
    /// every extra member, so a later one (`unevaluated*`) never sees any.
    /// None present, or an empty schema, leaves the model open.
    pub(super) fn of(node: &Node, keys: [&str; 2]) -> Self {
        let Some(key) = keys.into_iter().find(|key| node.get(key).is_some()) else {
            return Self::Open;
        };
        match node.get(key) {
            Some(Value::Bool(false)) => Self::Closed,
            Some(v) if constrains(v) => Self::Schema(node.child(&[key])),
            _ => Self::Open,
        }
    }
}

/// An extra-content schema that neither allows everything nor forbids all.
pub(super) fn constrains(value: &Value) -> bool {
    !is_empty_schema(value) && *value != Value::Bool(false)
}

/// The kind for each outcome of [`Walker::member_added`] and
/// [`Walker::member_removed`].
pub(super) struct MemberKinds {
    added_to_open: ChangeKind,
    empty_added_to_open: ChangeKind,
    added_covered: ChangeKind,
    added_not_covered: ChangeKind,
    added_to_closed: ChangeKind,
    removed_from_open: ChangeKind,
    removed_covered: ChangeKind,
    removed_not_covered: ChangeKind,
    removed_from_closed: ChangeKind,
    false_removed_from_closed: ChangeKind,
}

/// Properties. A required addition is the caller's (`objects.rs`).
pub(super) const PROPERTY: MemberKinds = MemberKinds {
    added_to_open: PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL,
    empty_added_to_open: PROPERTY_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL,
    added_covered: PROPERTY_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL,
    added_not_covered: PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL,
    added_to_closed: OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL,
    removed_from_open: PROPERTY_REMOVED_FROM_OPEN_CONTENT_MODEL,
    removed_covered: PROPERTY_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL,
    removed_not_covered: PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL,
    removed_from_closed: PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL,
    false_removed_from_closed: PROPERTY_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL,
};

/// Tuple items.
pub(super) const ITEM: MemberKinds = MemberKinds {
    added_to_open: ITEM_ADDED_TO_OPEN_CONTENT_MODEL,
    empty_added_to_open: ITEM_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL,
    added_covered: ITEM_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL,
    added_not_covered: ITEM_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL,
    added_to_closed: ITEM_ADDED_TO_CLOSED_CONTENT_MODEL,
    removed_from_open: ITEM_REMOVED_FROM_OPEN_CONTENT_MODEL,
    removed_covered: ITEM_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL,
    removed_not_covered: ITEM_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL,
    removed_from_closed: ITEM_REMOVED_FROM_CLOSED_CONTENT_MODEL,
    false_removed_from_closed: ITEM_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL,
};

impl Walker {
    /// The kind of `added` (the new side's member, unresolved) by what the
    /// old model allowed for it (`old_extra`). `partially_open`: the old
    /// model constrains other extra members (only `patternProperties` can
    /// leave a member outside), so an open rest is "not covered".
    pub(super) fn member_added(
        &mut self,
        added: Node,
        old_extra: Extra,
        partially_open: bool,
        kinds: &MemberKinds,
    ) -> Result<ChangeKind, Error> {
        Ok(match old_extra {
            Extra::Open => {
                let (resolved, _) = self.resolve(added)?;
                if is_empty_schema(&resolved.value) {
                    kinds.empty_added_to_open
                } else if partially_open {
                    kinds.added_not_covered
                } else {
                    kinds.added_to_open
                }
            }
            Extra::Schema(extra) => {
                let covered = self.covered(&extra, &added)?;
                pick(covered, kinds.added_covered, kinds.added_not_covered)
            }
            Extra::Closed => kinds.added_to_closed,
        })
    }

    /// The kind of `removed` (the old side's member, unresolved) by what the
    /// new model allows for it (`new_extra`); `partially_open` as for
    /// [`Walker::member_added`], about the new model's closed rest.
    pub(super) fn member_removed(
        &mut self,
        removed: Node,
        new_extra: Extra,
        partially_open: bool,
        kinds: &MemberKinds,
    ) -> Result<ChangeKind, Error> {
        Ok(match new_extra {
            Extra::Open => kinds.removed_from_open,
            Extra::Schema(extra) => {
                let covered = self.covered(&removed, &extra)?;
                pick(covered, kinds.removed_covered, kinds.removed_not_covered)
            }
            Extra::Closed => {
                let (resolved, _) = self.resolve(removed)?;
                if resolved.is_false() {
                    kinds.false_removed_from_closed
                } else if partially_open {
                    kinds.removed_not_covered
                } else {
                    kinds.removed_from_closed
                }
            }
        })
    }

    /// Whether `r` accepts what `w` allows; the differences found on the way
    /// are kept, as they say why a member is not covered.
    fn covered(&mut self, w: &Node, r: &Node) -> Result<bool, Error> {
        let found = self.sub(w, r)?;
        let covered = self.accepts(&found);
        self.found.extend(found);
        Ok(covered)
    }
}

fn pick(covered: bool, yes: ChangeKind, no: ChangeKind) -> ChangeKind {
    if covered {
        yes
    } else {
        no
    }
}
