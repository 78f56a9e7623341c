//! The named kinds of change the checker reports, and which of them a policy
//! accepts. The names are stable: CI annotations and dashboards key on them.
//! JSON Schema kinds reuse Confluent Schema Registry's names where it has one,
//! because users of its STRICT semantics already know them.

use serde::{Serialize, Serializer};

use super::Policy;

/// Declares [`ChangeKind`] with one explanation per kind; the explanation is
/// both the variant's doc comment and the text the report prints.
macro_rules! change_kinds {
    ($($name:ident => $explanation:literal,)*) => {
        /// One kind of difference between two versions of a schema.
        #[allow(non_camel_case_types)]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum ChangeKind {
            $(#[doc = $explanation] $name,)*
        }

        impl ChangeKind {
            /// Every kind, for documentation and tests.
            pub const ALL: &'static [ChangeKind] = &[$(ChangeKind::$name,)*];

            /// The stable name, `MAX_LENGTH_DECREASED`.
            pub fn name(self) -> &'static str {
                match self {
                    $(ChangeKind::$name => stringify!($name),)*
                }
            }

            /// What the kind means, in one line.
            pub fn explanation(self) -> &'static str {
                match self {
                    $(ChangeKind::$name => $explanation,)*
                }
            }
        }
    };
}

change_kinds! {
    // Annotations and whole subschemas.
    ID_CHANGED => "`$id` changed; an annotation, it does not affect validation",
    TITLE_CHANGED => "`title` changed; an annotation",
    DESCRIPTION_CHANGED => "`description` changed; an annotation",
    DEFAULT_CHANGED => "`default` changed; an annotation",
    ANNOTATION_CHANGED => "an annotation keyword (`examples`, `$comment`, `deprecated`, `x-…`) changed",
    SCHEMA_ADDED => "a subschema was added where there was none; old data may not satisfy it",
    SCHEMA_REMOVED => "a subschema was removed; the new version accepts more",
    KEYWORD_CHANGED => "a keyword the compatibility rules do not name changed; treated as incompatible",
    CONDITIONAL_CHANGED => "`if`/`then`/`else` changed; a conditional is only compatible when unchanged",
    // Types and values.
    TYPE_EXTENDED => "the type now allows more kinds of value",
    TYPE_NARROWED => "the type now allows fewer kinds of value; old data of the removed kinds is rejected",
    TYPE_CHANGED => "the type changed; old data of the old type is rejected",
    ENUM_ARRAY_EXTENDED => "the allowed values (`enum`/`const`) were extended or lifted",
    ENUM_ARRAY_NARROWED => "allowed values (`enum`/`const`) were removed or introduced; old data may use a value no longer allowed",
    ENUM_ARRAY_CHANGED => "the allowed values (`enum`/`const`) changed; old data may use a value no longer allowed",
    FORMAT_ADDED => "a `format` was added; the gateway asserts formats, so old data may fail it",
    FORMAT_REMOVED => "a `format` was removed; the rules do not name this change, so it is treated as incompatible",
    FORMAT_CHANGED => "the `format` changed; old data may fail the new one",
    // Strings.
    MAX_LENGTH_ADDED => "a `maxLength` was added; longer old strings are rejected",
    MAX_LENGTH_REMOVED => "the `maxLength` was removed",
    MAX_LENGTH_INCREASED => "the `maxLength` was raised",
    MAX_LENGTH_DECREASED => "the `maxLength` was lowered; longer old strings are rejected",
    MIN_LENGTH_ADDED => "a `minLength` was added; shorter old strings are rejected",
    MIN_LENGTH_REMOVED => "the `minLength` was removed",
    MIN_LENGTH_INCREASED => "the `minLength` was raised; shorter old strings are rejected",
    MIN_LENGTH_DECREASED => "the `minLength` was lowered",
    PATTERN_ADDED => "a `pattern` was added; old strings may not match it",
    PATTERN_REMOVED => "the `pattern` was removed",
    PATTERN_CHANGED => "the `pattern` changed; old strings may not match the new one",
    // Numbers.
    MAXIMUM_ADDED => "a `maximum` was added; larger old numbers are rejected",
    MAXIMUM_REMOVED => "the `maximum` was removed",
    MAXIMUM_INCREASED => "the `maximum` was raised",
    MAXIMUM_DECREASED => "the `maximum` was lowered; larger old numbers are rejected",
    MINIMUM_ADDED => "a `minimum` was added; smaller old numbers are rejected",
    MINIMUM_REMOVED => "the `minimum` was removed",
    MINIMUM_INCREASED => "the `minimum` was raised; smaller old numbers are rejected",
    MINIMUM_DECREASED => "the `minimum` was lowered",
    EXCLUSIVE_MAXIMUM_ADDED => "an `exclusiveMaximum` was added; larger old numbers are rejected",
    EXCLUSIVE_MAXIMUM_REMOVED => "the `exclusiveMaximum` was removed",
    EXCLUSIVE_MAXIMUM_INCREASED => "the `exclusiveMaximum` was raised",
    EXCLUSIVE_MAXIMUM_DECREASED => "the `exclusiveMaximum` was lowered; larger old numbers are rejected",
    EXCLUSIVE_MINIMUM_ADDED => "an `exclusiveMinimum` was added; smaller old numbers are rejected",
    EXCLUSIVE_MINIMUM_REMOVED => "the `exclusiveMinimum` was removed",
    EXCLUSIVE_MINIMUM_INCREASED => "the `exclusiveMinimum` was raised; smaller old numbers are rejected",
    EXCLUSIVE_MINIMUM_DECREASED => "the `exclusiveMinimum` was lowered",
    MULTIPLE_OF_ADDED => "a `multipleOf` was added; old numbers may not be multiples",
    MULTIPLE_OF_REMOVED => "the `multipleOf` was removed",
    MULTIPLE_OF_REDUCED => "the `multipleOf` was reduced to a divisor of the old one",
    MULTIPLE_OF_EXPANDED => "the `multipleOf` was raised to a multiple of the old one; old numbers may not be multiples",
    MULTIPLE_OF_CHANGED => "the `multipleOf` changed to an unrelated value",
    // Objects.
    REQUIRED_ATTRIBUTE_ADDED => "a property became required without a default; old data may lack it",
    REQUIRED_ATTRIBUTE_WITH_DEFAULT_ADDED => "a property became required and has a default (Confluent's deliberate leniency)",
    REQUIRED_ATTRIBUTE_REMOVED => "a property is no longer required",
    DEPENDENCY_ARRAY_ADDED => "a `dependentRequired` entry was added; old data may lack the dependent properties",
    DEPENDENCY_ARRAY_REMOVED => "a `dependentRequired` entry was removed",
    DEPENDENCY_ARRAY_EXTENDED => "a `dependentRequired` entry requires more properties",
    DEPENDENCY_ARRAY_NARROWED => "a `dependentRequired` entry requires fewer properties",
    DEPENDENCY_ARRAY_CHANGED => "a `dependentRequired` entry requires different properties",
    DEPENDENCY_SCHEMA_ADDED => "a `dependentSchemas` entry was added; old data may not satisfy it",
    DEPENDENCY_SCHEMA_REMOVED => "a `dependentSchemas` entry was removed",
    MAX_PROPERTIES_ADDED => "a `maxProperties` was added",
    MAX_PROPERTIES_REMOVED => "the `maxProperties` was removed",
    MAX_PROPERTIES_INCREASED => "the `maxProperties` was raised",
    MAX_PROPERTIES_DECREASED => "the `maxProperties` was lowered",
    MIN_PROPERTIES_ADDED => "a `minProperties` was added",
    MIN_PROPERTIES_REMOVED => "the `minProperties` was removed",
    MIN_PROPERTIES_INCREASED => "the `minProperties` was raised",
    MIN_PROPERTIES_DECREASED => "the `minProperties` was lowered",
    ADDITIONAL_PROPERTIES_ADDED => "additional properties, forbidden before, are now allowed",
    ADDITIONAL_PROPERTIES_REMOVED => "additional properties are now forbidden; old data may carry some",
    ADDITIONAL_PROPERTIES_EXTENDED => "the `additionalProperties` schema was lifted",
    ADDITIONAL_PROPERTIES_NARROWED => "an `additionalProperties` schema now constrains extra properties",
    UNEVALUATED_PROPERTIES_ADDED => "unevaluated properties, forbidden before, are now allowed",
    UNEVALUATED_PROPERTIES_REMOVED => "unevaluated properties are now forbidden; old data may carry some",
    UNEVALUATED_PROPERTIES_EXTENDED => "the `unevaluatedProperties` schema was lifted",
    UNEVALUATED_PROPERTIES_NARROWED => "an `unevaluatedProperties` schema now constrains extra properties",
    PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL => "a property was added to an open content model; old data may already carry that name with another value",
    PROPERTY_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL => "a property accepting anything was added to an open content model",
    REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL => "a required property without a default was added; old data lacks it",
    REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_UNOPEN_CONTENT_MODEL => "a required property with a default was added to a closed content model",
    OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL => "an optional property was added to a closed content model; old data cannot carry it",
    PROPERTY_REMOVED_FROM_OPEN_CONTENT_MODEL => "a property was removed from an open content model; any value is still accepted",
    PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL => "a property was removed from a closed content model; old data carrying it is rejected",
    PROPERTY_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL => "a forbidden (`false`) property was removed from a closed content model",
    PROPERTY_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL => "a property was added that accepts everything the partially open content model allowed for it",
    PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL => "a property was added that the partially open content model did not cover or that accepts less than it did",
    PROPERTY_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL => "a property was removed and the partially open content model still accepts its values",
    PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL => "a property was removed that the partially open content model does not cover or accepts less of",
    PATTERN_PROPERTY_ADDED => "a `patternProperties` entry was added; old data may carry matching names with other values",
    PATTERN_PROPERTY_REMOVED => "a `patternProperties` entry was removed while extra properties are constrained",
    // Arrays.
    MAX_ITEMS_ADDED => "a `maxItems` was added",
    MAX_ITEMS_REMOVED => "the `maxItems` was removed",
    MAX_ITEMS_INCREASED => "the `maxItems` was raised",
    MAX_ITEMS_DECREASED => "the `maxItems` was lowered",
    MIN_ITEMS_ADDED => "a `minItems` was added",
    MIN_ITEMS_REMOVED => "the `minItems` was removed",
    MIN_ITEMS_INCREASED => "the `minItems` was raised",
    MIN_ITEMS_DECREASED => "the `minItems` was lowered",
    MAX_CONTAINS_ADDED => "a `maxContains` was added",
    MAX_CONTAINS_REMOVED => "the `maxContains` was removed",
    MAX_CONTAINS_INCREASED => "the `maxContains` was raised",
    MAX_CONTAINS_DECREASED => "the `maxContains` was lowered",
    MIN_CONTAINS_ADDED => "a `minContains` was added",
    MIN_CONTAINS_REMOVED => "the `minContains` was removed",
    MIN_CONTAINS_INCREASED => "the `minContains` was raised",
    MIN_CONTAINS_DECREASED => "the `minContains` was lowered",
    UNIQUE_ITEMS_ADDED => "`uniqueItems` was added; old arrays with duplicates are rejected",
    UNIQUE_ITEMS_REMOVED => "`uniqueItems` was removed",
    ADDITIONAL_ITEMS_ADDED => "items beyond the tuple, forbidden before, are now allowed",
    ADDITIONAL_ITEMS_REMOVED => "items beyond the tuple are now forbidden; old data may have some",
    ADDITIONAL_ITEMS_EXTENDED => "the schema of items beyond the tuple was lifted",
    ADDITIONAL_ITEMS_NARROWED => "a schema now constrains items beyond the tuple",
    UNEVALUATED_ITEMS_ADDED => "unevaluated items, forbidden before, are now allowed",
    UNEVALUATED_ITEMS_REMOVED => "unevaluated items are now forbidden",
    UNEVALUATED_ITEMS_EXTENDED => "the `unevaluatedItems` schema was lifted",
    UNEVALUATED_ITEMS_NARROWED => "an `unevaluatedItems` schema now constrains extra items",
    ITEM_ADDED_TO_OPEN_CONTENT_MODEL => "a tuple item was added to an open tuple; old arrays may have another value there",
    ITEM_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL => "a tuple item accepting anything was added to an open tuple",
    ITEM_ADDED_TO_CLOSED_CONTENT_MODEL => "a tuple item was added to a closed tuple; old arrays are never that long",
    ITEM_REMOVED_FROM_OPEN_CONTENT_MODEL => "a tuple item was removed from an open tuple",
    ITEM_REMOVED_FROM_CLOSED_CONTENT_MODEL => "a tuple item was removed from a closed tuple; old arrays that long are rejected",
    ITEM_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL => "a forbidden (`false`) tuple item was removed from a closed tuple",
    ITEM_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL => "a tuple item was added that accepts everything the old extra-items schema allowed",
    ITEM_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL => "a tuple item was added that accepts less than the old extra-items schema allowed",
    ITEM_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL => "a tuple item was removed and the new extra-items schema accepts its values",
    ITEM_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL => "a tuple item was removed and the new extra-items schema accepts less",
    // Combinators.
    COMBINED_TYPE_CHANGED => "the combinator changed (`oneOf` → `anyOf` …) or was introduced",
    COMBINED_TYPE_SUBSCHEMAS_CHANGED => "a branch of the combinator has no compatible counterpart",
    PRODUCT_TYPE_EXTENDED => "an `allOf` gained a member; old data may not satisfy it",
    PRODUCT_TYPE_NARROWED => "an `allOf` lost a member",
    SUM_TYPE_EXTENDED => "a `oneOf`/`anyOf` gained a branch",
    SUM_TYPE_NARROWED => "a `oneOf`/`anyOf` lost a branch; old data of that branch is rejected",
    NOT_TYPE_EXTENDED => "`not` now excludes more; old data may be excluded",
    NOT_TYPE_NARROWED => "`not` now excludes less",
    // Avro.
    AVRO_TYPE_MISMATCH => "the reader's type cannot read the writer's (a demotion or an unrelated type)",
    AVRO_TYPE_PROMOTED => "the writer's type is promoted to the reader's (int→long/float/double, long→float/double, float→double, string↔bytes)",
    AVRO_NAME_MISMATCH => "a named type was renamed without a reader alias for the old name",
    AVRO_NAME_MATCHED_BY_ALIAS => "a named type was renamed and the reader lists the old name as an alias",
    AVRO_NAMESPACE_CHANGED => "a named type changed namespace; names match on their unqualified part",
    AVRO_FIXED_SIZE_CHANGED => "the size of a fixed type changed",
    ENUM_SYMBOL_ADDED => "the reader's enum has symbols the writer's lacks",
    ENUM_SYMBOL_REMOVED => "the reader's enum lacks a writer symbol and has no default",
    ENUM_SYMBOL_REMOVED_WITH_DEFAULT => "the reader's enum lacks a writer symbol; the enum default is read instead",
    FIELD_ADDED_WITH_DEFAULT => "the reader has a field the writer lacks, with a default",
    FIELD_ADDED_WITHOUT_DEFAULT => "the reader has a field the writer lacks, without a default",
    FIELD_REMOVED => "the writer has a field the reader lacks; it is skipped",
    FIELD_RENAMED_WITH_ALIAS => "a field was renamed and the reader lists the old name as an alias",
    UNION_BRANCH_ADDED => "the reader's union has branches the writer's lacks",
    UNION_BRANCH_MISSING => "a writer union branch cannot be read by any reader branch",
}

/// Kinds STRICT accepts: the compatible list of the rules, nothing more.
const STRICT_COMPATIBLE: &[ChangeKind] = {
    use ChangeKind::*;
    &[
        ID_CHANGED,
        TITLE_CHANGED,
        DESCRIPTION_CHANGED,
        DEFAULT_CHANGED,
        ANNOTATION_CHANGED,
        SCHEMA_REMOVED,
        TYPE_EXTENDED,
        ENUM_ARRAY_EXTENDED,
        MAX_LENGTH_INCREASED,
        MAX_LENGTH_REMOVED,
        MIN_LENGTH_DECREASED,
        MIN_LENGTH_REMOVED,
        PATTERN_REMOVED,
        MAXIMUM_INCREASED,
        MAXIMUM_REMOVED,
        MINIMUM_DECREASED,
        MINIMUM_REMOVED,
        EXCLUSIVE_MAXIMUM_INCREASED,
        EXCLUSIVE_MAXIMUM_REMOVED,
        EXCLUSIVE_MINIMUM_DECREASED,
        EXCLUSIVE_MINIMUM_REMOVED,
        MULTIPLE_OF_REDUCED,
        MULTIPLE_OF_REMOVED,
        REQUIRED_ATTRIBUTE_WITH_DEFAULT_ADDED,
        REQUIRED_ATTRIBUTE_REMOVED,
        DEPENDENCY_ARRAY_NARROWED,
        DEPENDENCY_ARRAY_REMOVED,
        DEPENDENCY_SCHEMA_REMOVED,
        MAX_PROPERTIES_INCREASED,
        MAX_PROPERTIES_REMOVED,
        MIN_PROPERTIES_DECREASED,
        MIN_PROPERTIES_REMOVED,
        ADDITIONAL_PROPERTIES_ADDED,
        ADDITIONAL_PROPERTIES_EXTENDED,
        UNEVALUATED_PROPERTIES_ADDED,
        UNEVALUATED_PROPERTIES_EXTENDED,
        PROPERTY_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL,
        REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_UNOPEN_CONTENT_MODEL,
        OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL,
        PROPERTY_REMOVED_FROM_OPEN_CONTENT_MODEL,
        PROPERTY_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL,
        PROPERTY_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL,
        PROPERTY_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL,
        MAX_ITEMS_INCREASED,
        MAX_ITEMS_REMOVED,
        MIN_ITEMS_DECREASED,
        MIN_ITEMS_REMOVED,
        MAX_CONTAINS_INCREASED,
        MAX_CONTAINS_REMOVED,
        MIN_CONTAINS_DECREASED,
        MIN_CONTAINS_REMOVED,
        UNIQUE_ITEMS_REMOVED,
        ADDITIONAL_ITEMS_ADDED,
        ADDITIONAL_ITEMS_EXTENDED,
        UNEVALUATED_ITEMS_ADDED,
        UNEVALUATED_ITEMS_EXTENDED,
        ITEM_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL,
        ITEM_ADDED_TO_CLOSED_CONTENT_MODEL,
        ITEM_REMOVED_FROM_OPEN_CONTENT_MODEL,
        ITEM_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL,
        ITEM_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL,
        ITEM_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL,
        PRODUCT_TYPE_NARROWED,
        SUM_TYPE_EXTENDED,
        NOT_TYPE_NARROWED,
        AVRO_TYPE_PROMOTED,
        AVRO_NAME_MATCHED_BY_ALIAS,
        AVRO_NAMESPACE_CHANGED,
        ENUM_SYMBOL_ADDED,
        ENUM_SYMBOL_REMOVED_WITH_DEFAULT,
        FIELD_ADDED_WITH_DEFAULT,
        FIELD_REMOVED,
        FIELD_RENAMED_WITH_ALIAS,
        UNION_BRANCH_ADDED,
    ]
};

/// What LENIENT accepts on top of STRICT, as listed in the rules.
const LENIENT_ALSO: &[ChangeKind] = {
    use ChangeKind::*;
    &[
        PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL,
        PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL,
        ADDITIONAL_PROPERTIES_NARROWED,
        ADDITIONAL_PROPERTIES_REMOVED,
        UNEVALUATED_PROPERTIES_NARROWED,
        UNEVALUATED_PROPERTIES_REMOVED,
        PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL,
        PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL,
    ]
};

impl ChangeKind {
    /// Whether `policy` accepts a change of this kind.
    pub fn is_compatible(self, policy: Policy) -> bool {
        STRICT_COMPATIBLE.contains(&self)
            || (policy == Policy::Lenient && LENIENT_ALSO.contains(&self))
    }
}

impl Serialize for ChangeKind {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl std::fmt::Display for ChangeKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenient_accepts_everything_strict_does_and_the_listed_leniencies() {
        for kind in ChangeKind::ALL {
            if kind.is_compatible(Policy::Strict) {
                assert!(kind.is_compatible(Policy::Lenient), "{kind}");
            }
        }
        for kind in LENIENT_ALSO {
            assert!(!kind.is_compatible(Policy::Strict), "{kind}");
        }
    }

    #[test]
    fn the_policy_lists_hold_each_kind_once_and_do_not_overlap() {
        for list in [STRICT_COMPATIBLE, LENIENT_ALSO] {
            for (i, kind) in list.iter().enumerate() {
                assert!(!list[..i].contains(kind), "{kind} listed twice");
            }
        }
        for kind in LENIENT_ALSO {
            assert!(!STRICT_COMPATIBLE.contains(kind), "{kind} is in both lists");
        }
    }

    #[test]
    fn kinds_the_rules_do_not_name_are_incompatible() {
        for kind in [
            ChangeKind::KEYWORD_CHANGED,
            ChangeKind::FORMAT_REMOVED,
            ChangeKind::SCHEMA_ADDED,
        ] {
            assert!(!kind.is_compatible(Policy::Lenient), "{kind}");
        }
    }
}
