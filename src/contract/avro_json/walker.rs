//! The schema walk: checks a payload against a schema, normalizes it and
//! finds which pointers the schema declares, following unions and named
//! references.

use apache_avro::schema::{Name, RecordSchema, UnionSchema};
use apache_avro::Schema;
use serde_json::{Map, Value};

use super::logical::{canonical, decimal_problem};
use super::values::{bytes_problem, enum_problem, expected, scalar_problem, ValueProblem};
use super::Named;
use crate::contract::pointer::push_token;
use crate::contract::schema::Violation;

/// Walks a schema and a payload together; following the payload rather
/// than the schema keeps recursive types finite.
pub(super) struct Walker<'s> {
    pub(super) named: &'s Named,
}

impl<'s> Walker<'s> {
    /// The schema a `Ref` stands for, with its location; anything else as
    /// given. `Err` carries the name of a reference that resolves nowhere,
    /// which apache-avro's parser does not let through.
    pub(super) fn resolve<'a>(
        &'a self,
        schema: &'s Schema,
        location: &'a str,
    ) -> Result<(&'s Schema, &'a str), String> {
        match schema {
            Schema::Ref { name } => {
                let full = name.fullname(None);
                match self.named.get(&full) {
                    Some((target, at)) => Ok((target, at.as_str())),
                    None => Err(full),
                }
            }
            _ => Ok((schema, location)),
        }
    }

    pub(super) fn check(
        &self,
        schema: &'s Schema,
        location: &str,
        value: &Value,
        pointer: &str,
        out: &mut Vec<Violation>,
    ) {
        let (schema, location) = match self.resolve(schema, location) {
            Ok(found) => found,
            Err(name) => {
                let message = format!("the schema refers to `{name}`, which it does not define");
                out.push(violation(pointer, "type", location, message));
                return;
            }
        };
        let problem = match schema {
            Schema::Record(record) => {
                return self.check_record(record, location, value, pointer, out)
            }
            Schema::Union(union) => return self.check_union(union, location, value, pointer, out),
            Schema::Array(array) => match value {
                Value::Array(items) => {
                    let at = format!("{location}/items");
                    for (index, item) in items.iter().enumerate() {
                        let item_pointer = push_token(pointer, &index.to_string());
                        self.check(&array.items, &at, item, &item_pointer, out);
                    }
                    None
                }
                _ => Some(ValueProblem::type_error("an array", value)),
            },
            Schema::Map(map) => match value {
                Value::Object(entries) => {
                    let at = format!("{location}/values");
                    for (key, entry) in entries {
                        self.check(&map.types, &at, entry, &push_token(pointer, key), out);
                    }
                    None
                }
                _ => Some(ValueProblem::type_error("an object (a map)", value)),
            },
            Schema::Enum(e) => enum_problem(&e.symbols, value),
            Schema::Fixed(fixed) => bytes_problem(value, Some(fixed.size)),
            Schema::Duration => bytes_problem(value, Some(12)),
            Schema::Decimal(decimal) => {
                decimal_problem(value, Some((decimal.precision, decimal.scale)))
            }
            Schema::BigDecimal => decimal_problem(value, None),
            scalar => scalar_problem(scalar, value),
        };
        if let Some(problem) = problem {
            let at = format!("{location}{}", problem.suffix);
            out.push(violation(pointer, problem.keyword, at, problem.message));
        }
    }

    fn check_record(
        &self,
        record: &'s RecordSchema,
        location: &str,
        value: &Value,
        pointer: &str,
        out: &mut Vec<Violation>,
    ) {
        let Value::Object(object) = value else {
            let what = format!("an object (the record {})", record.name.fullname(None));
            out.push(violation(pointer, "type", location, expected(&what, value)));
            return;
        };
        for (index, field) in record.fields.iter().enumerate() {
            let field_location = format!("{location}/fields/{index}");
            let field_pointer = push_token(pointer, &field.name);
            match object.get(&field.name) {
                Some(item) => {
                    let at = format!("{field_location}/type");
                    self.check(&field.schema, &at, item, &field_pointer, out);
                }
                None if field.default.is_none() => out.push(violation(
                    &field_pointer,
                    "required",
                    field_location,
                    format!("the field `{}` is missing and has no default", field.name),
                )),
                None => {}
            }
        }
        for key in object.keys() {
            if !record.fields.iter().any(|field| field.name == *key) {
                out.push(violation(
                    &push_token(pointer, key),
                    "additionalProperties",
                    format!("{location}/fields"),
                    format!(
                        "`{key}` is not a field of the record {}; Avro records take only their declared fields",
                        record.name.fullname(None)
                    ),
                ));
            }
        }
    }

    fn check_union(
        &self,
        union: &'s UnionSchema,
        location: &str,
        value: &Value,
        pointer: &str,
        out: &mut Vec<Violation>,
    ) {
        let branches = union.variants();
        if let Some((index, key, inner)) = self.wrapped(branches, value) {
            let at = format!("{location}/{index}");
            self.check(&branches[index], &at, inner, &push_token(pointer, key), out);
            return;
        }
        if self.natural_branch(branches, value).is_some() {
            return;
        }
        let takers: Vec<usize> = (0..branches.len())
            .filter(|index| self.takes_container(&branches[*index], value))
            .collect();
        if let [index] = takers[..] {
            let at = format!("{location}/{index}");
            self.check(&branches[index], &at, value, pointer, out);
            return;
        }
        let labels: Vec<String> = branches.iter().map(label).collect();
        let what = format!(
            "a value of one of the union's types ({})",
            labels.join(", ")
        );
        out.push(violation(
            pointer,
            "union",
            location,
            expected(&what, value),
        ));
    }

    /// The branch a one-key object names, with its key and value: the Avro
    /// JSON encoding of a union. Among branches sharing the name (`long` and
    /// a `timestamp-millis`), the first that accepts the value.
    fn wrapped<'v>(
        &self,
        branches: &'s [Schema],
        value: &'v Value,
    ) -> Option<(usize, &'v str, &'v Value)> {
        let Value::Object(object) = value else {
            return None;
        };
        let (key, inner) = object.iter().next().filter(|_| object.len() == 1)?;
        let named: Vec<usize> = (0..branches.len())
            .filter(|index| names_branch(&branches[*index], key))
            .collect();
        let index = named
            .iter()
            .copied()
            .find(|index| self.accepts(&branches[*index], inner))
            .or_else(|| named.first().copied())?;
        Some((index, key.as_str(), inner))
    }

    /// The first branch that accepts `value` as it is.
    fn natural_branch(&self, branches: &'s [Schema], value: &Value) -> Option<usize> {
        (0..branches.len()).find(|index| self.accepts(&branches[*index], value))
    }

    pub(super) fn accepts(&self, schema: &'s Schema, value: &Value) -> bool {
        let mut violations = Vec::new();
        self.check(schema, "", value, "", &mut violations);
        violations.is_empty()
    }

    /// Whether `schema` is a container of the JSON kind of `value`.
    fn takes_container(&self, schema: &'s Schema, value: &Value) -> bool {
        matches!(
            (self.resolve(schema, ""), value),
            (
                Ok((Schema::Record(_) | Schema::Map(_), _)),
                Value::Object(_)
            ) | (Ok((Schema::Array(_), _)), Value::Array(_))
        )
    }

    pub(super) fn normalize(&self, schema: &'s Schema, value: Value) -> Value {
        let Ok((schema, _)) = self.resolve(schema, "") else {
            return value;
        };
        match (schema, value) {
            (Schema::Union(union), value) => self.normalize_union(union.variants(), value),
            (Schema::Record(record), Value::Object(object)) => {
                Value::Object(self.normalize_record(record, object))
            }
            (Schema::Array(array), Value::Array(items)) => Value::Array(
                items
                    .into_iter()
                    .map(|item| self.normalize(&array.items, item))
                    .collect(),
            ),
            (Schema::Map(map), Value::Object(entries)) => Value::Object(
                entries
                    .into_iter()
                    .map(|(key, entry)| (key, self.normalize(&map.types, entry)))
                    .collect(),
            ),
            (leaf, value) => canonical(leaf, value),
        }
    }

    /// Normalizes a value for the branch it is read as, and stores it in
    /// natural form if that form is read back as the same branch, wrapped
    /// otherwise: a canonical form may fit an earlier branch too (the
    /// string of a `timestamp-millis` after a `string` branch), and the
    /// stored value must keep the meaning it was accepted with.
    fn normalize_union(&self, branches: &'s [Schema], value: Value) -> Value {
        let (index, inner) = match self.read_union(branches, value) {
            Ok(read) => read,
            Err(value) => return value,
        };
        let normalized = self.normalize(&branches[index], inner);
        if self.branch_read(branches, &normalized) == Some(index) {
            return normalized;
        }
        Value::Object(Map::from_iter([(
            wrapper_key(&branches[index]),
            normalized,
        )]))
    }

    /// The branch a union value is read as and the value without its
    /// wrapper; the value back when no branch takes it.
    pub(super) fn read_union(
        &self,
        branches: &'s [Schema],
        value: Value,
    ) -> Result<(usize, Value), Value> {
        match self.wrapped(branches, &value) {
            Some((index, _, _)) => match value {
                Value::Object(object) => match object.into_iter().next() {
                    Some((_, inner)) => Ok((index, inner)),
                    None => Err(Value::Null),
                },
                other => Ok((index, other)),
            },
            None => match self.natural_branch(branches, &value) {
                Some(index) => Ok((index, value)),
                None => Err(value),
            },
        }
    }

    /// The branch a union value is read as: the one its wrapper names, or
    /// the first that accepts it.
    fn branch_read(&self, branches: &'s [Schema], value: &Value) -> Option<usize> {
        match self.wrapped(branches, value) {
            Some((index, _, _)) => Some(index),
            None => self.natural_branch(branches, value),
        }
    }

    fn normalize_record(
        &self,
        record: &'s RecordSchema,
        mut object: Map<String, Value>,
    ) -> Map<String, Value> {
        for field in &record.fields {
            let value = match (object.remove(&field.name), &field.default) {
                (Some(value), _) => value,
                (None, Some(default)) => default.clone(),
                (None, None) => continue,
            };
            let normalized = self.normalize(&field.schema, value);
            object.insert(field.name.clone(), normalized);
        }
        object
    }

    pub(super) fn declares(&self, schema: &'s Schema, segments: &[String]) -> bool {
        let Some((first, rest)) = segments.split_first() else {
            return true;
        };
        match self.resolve(schema, "") {
            Ok((Schema::Record(record), _)) => record
                .fields
                .iter()
                .find(|field| field.name == *first)
                .is_some_and(|field| self.declares(&field.schema, rest)),
            // A key inside an optional record (`["null", "Customer"]`) is
            // declared: the record branch reaches it.
            Ok((Schema::Union(union), _)) => union
                .variants()
                .iter()
                .any(|branch| self.declares(branch, segments)),
            _ => false,
        }
    }

    pub(super) fn requires(&self, schema: &'s Schema, segments: &[String]) -> bool {
        let Some((first, rest)) = segments.split_first() else {
            return false;
        };
        match self.resolve(schema, "") {
            Ok((Schema::Record(record), _)) => record
                .fields
                .iter()
                .find(|field| field.name == *first)
                .is_some_and(|field| {
                    if rest.is_empty() {
                        field.default.is_none()
                    } else {
                        self.requires(&field.schema, rest)
                    }
                }),
            // Inside an optional record, the record branch decides.
            Ok((Schema::Union(union), _)) => union
                .variants()
                .iter()
                .any(|branch| self.requires(branch, segments)),
            _ => false,
        }
    }
}

fn violation(
    pointer: &str,
    keyword: &str,
    schema_location: impl Into<String>,
    message: String,
) -> Violation {
    Violation {
        pointer: pointer.to_owned(),
        keyword: keyword.to_owned(),
        schema_location: schema_location.into(),
        message,
    }
}

/// Whether a wrapped-union key names `branch`.
fn names_branch(branch: &Schema, key: &str) -> bool {
    branch_keys(branch).iter().any(|name| name == key)
}

/// Every key that names `branch` in the wrapped form: a named type's short
/// and full name, any other type's type name.
pub(super) fn branch_keys(branch: &Schema) -> Vec<String> {
    let named = |name: &Name| {
        let full = name.fullname(None);
        if full == name.name {
            vec![full]
        } else {
            vec![name.name.clone(), full]
        }
    };
    match branch {
        Schema::Ref { name } => named(name),
        Schema::Record(record) => named(&record.name),
        Schema::Enum(e) => named(&e.name),
        Schema::Fixed(fixed) => named(&fixed.name),
        Schema::Decimal(decimal) => branch_keys(&decimal.inner),
        other => vec![type_name(other).to_owned()],
    }
}

/// The key that names `branch` in the wrapped form: the full name of a
/// named type, the type name of any other.
pub(super) fn wrapper_key(branch: &Schema) -> String {
    match branch {
        Schema::Ref { name } => name.fullname(None),
        Schema::Record(record) => record.name.fullname(None),
        Schema::Enum(e) => e.name.fullname(None),
        Schema::Fixed(fixed) => fixed.name.fullname(None),
        Schema::Decimal(decimal) => wrapper_key(&decimal.inner),
        other => type_name(other).to_owned(),
    }
}

/// The Avro type name of an unnamed schema; logical types go by their
/// underlying type, as in Avro's JSON encoding of unions.
pub(super) fn type_name(schema: &Schema) -> &'static str {
    match schema {
        Schema::Null => "null",
        Schema::Boolean => "boolean",
        Schema::Int | Schema::Date | Schema::TimeMillis => "int",
        Schema::Float => "float",
        Schema::Double => "double",
        Schema::Bytes | Schema::BigDecimal => "bytes",
        Schema::String | Schema::Uuid => "string",
        Schema::Array(_) => "array",
        Schema::Map(_) => "map",
        Schema::Duration => "duration",
        Schema::Decimal(_) => "decimal",
        Schema::Record(_) => "record",
        Schema::Enum(_) => "enum",
        Schema::Fixed(_) => "fixed",
        Schema::Union(_) => "union",
        Schema::Ref { .. } => "reference",
        Schema::Long
        | Schema::TimeMicros
        | Schema::TimestampMillis
        | Schema::TimestampMicros
        | Schema::TimestampNanos
        | Schema::LocalTimestampMillis
        | Schema::LocalTimestampMicros
        | Schema::LocalTimestampNanos => "long",
    }
}

/// How a union branch is named in messages: its wrapper key, with the
/// logical type it carries.
fn label(schema: &Schema) -> String {
    let logical = match schema {
        Schema::Decimal(_) => "decimal",
        Schema::BigDecimal => "big-decimal",
        Schema::Uuid => "uuid",
        Schema::Date => "date",
        Schema::TimeMillis => "time-millis",
        Schema::TimeMicros => "time-micros",
        Schema::TimestampMillis => "timestamp-millis",
        Schema::TimestampMicros => "timestamp-micros",
        Schema::TimestampNanos => "timestamp-nanos",
        Schema::LocalTimestampMillis => "local-timestamp-millis",
        Schema::LocalTimestampMicros => "local-timestamp-micros",
        Schema::LocalTimestampNanos => "local-timestamp-nanos",
        _ => return wrapper_key(schema),
    };
    format!("{} ({logical})", wrapper_key(schema))
}

#[cfg(test)]
mod tests {
    use crate::contract::avro_json::testing::*;
    use crate::contract::pointer::JsonPointer;
    use serde_json::{json, Value};

    #[test]
    fn arrays_and_maps_check_every_member() {
        let array = json!({"type": "array", "items": "int"});
        assert!(accepts(&array, json!([1, 2])));
        assert_eq!(
            found(&array, json!([1, "x", 3, true])),
            [
                ("/1".into(), "type".into(), "/items".into()),
                ("/3".into(), "type".into(), "/items".into())
            ]
        );
        let map = json!({"type": "map", "values": "string"});
        assert!(accepts(&map, json!({"a": "x"})));
        assert_eq!(
            found(&map, json!({"a/b": 1})),
            [("/a~1b".into(), "type".into(), "/values".into())]
        );
        assert_eq!(keywords(&map, json!([])), ["type"]);
    }

    fn person() -> Value {
        json!({"type": "record", "name": "Person", "namespace": "test", "fields": [
            {"name": "name", "type": "string"},
            {"name": "age", "type": "int"},
            {"name": "nick", "type": ["null", "string"], "default": null},
            {"name": "tags", "type": {"type": "array", "items": "string"}, "default": []}
        ]})
    }

    #[test]
    fn records_are_closed_and_require_fields_without_default() {
        assert!(accepts(&person(), json!({"name": "Ada", "age": 36})));
        assert_eq!(
            found(&person(), json!({"age": "old", "email": "a@b"})),
            [
                ("/name".into(), "required".into(), "/fields/0".into()),
                ("/age".into(), "type".into(), "/fields/1/type".into()),
                (
                    "/email".into(),
                    "additionalProperties".into(),
                    "/fields".into()
                )
            ]
        );
        assert_eq!(keywords(&person(), json!("Ada")), ["type"]);
    }

    #[test]
    fn fields_match_by_name_not_alias() {
        let schema = json!({"type": "record", "name": "R", "fields": [
            {"name": "id", "type": "string", "aliases": ["key"]}]});
        assert_eq!(
            found(&schema, json!({"key": "x"})),
            [
                ("/id".into(), "required".into(), "/fields/0".into()),
                (
                    "/key".into(),
                    "additionalProperties".into(),
                    "/fields".into()
                )
            ]
        );
    }

    #[test]
    fn unions_take_natural_json_first_branch_wins() {
        let schema = json!(["null", "long", "string"]);
        assert!(accepts(&schema, json!(null)));
        assert!(accepts(&schema, json!(5)));
        assert!(accepts(&schema, json!("x")));
        let violations = avro(schema).validate(&json!(true));
        assert_eq!(violations.len(), 1);
        assert_eq!(violations[0].keyword, "union");
        assert!(
            violations[0].message.contains("null, long, string"),
            "{violations:?}"
        );
    }

    #[test]
    fn unions_take_the_wrapped_form() {
        let schema = json!(["null", "string", "long",
            {"type": "record", "name": "Address", "namespace": "com.example",
             "fields": [{"name": "city", "type": "string"}]}]);
        assert!(accepts(&schema, json!({"string": "x"})));
        assert!(accepts(&schema, json!({"long": 5})));
        assert!(accepts(&schema, json!({"null": null})));
        assert!(accepts(
            &schema,
            json!({"com.example.Address": {"city": "Oslo"}})
        ));
        assert!(accepts(&schema, json!({"Address": {"city": "Oslo"}})));
        // Wrapped values are checked against the named branch only.
        assert_eq!(
            found(&schema, json!({"long": "5"})),
            [("/long".into(), "type".into(), "/2".into())]
        );
        assert_eq!(
            found(&schema, json!({"Address": {"town": "Oslo"}})),
            [
                (
                    "/Address/city".into(),
                    "required".into(),
                    "/3/fields/0".into()
                ),
                (
                    "/Address/town".into(),
                    "additionalProperties".into(),
                    "/3/fields".into()
                )
            ]
        );
        // A key naming no branch is no wrapper: the object is a record here.
        assert!(accepts(&schema, json!({"city": "Oslo"})));
    }

    #[test]
    fn a_sole_record_branch_reports_its_own_violations() {
        let schema = json!({"type": "record", "name": "Order", "fields": [
            {"name": "customer", "type": ["null", {"type": "record", "name": "Customer",
                "fields": [{"name": "id", "type": "string"}]}]}]});
        assert_eq!(
            found(&schema, json!({"customer": {"id": 7}})),
            [(
                "/customer/id".into(),
                "type".into(),
                "/fields/0/type/1/fields/0/type".into()
            )]
        );
        assert_eq!(keywords(&schema, json!({"customer": 7})), ["union"]);
    }

    #[test]
    fn logical_types_in_unions_are_named_by_their_underlying_type() {
        let schema = json!(["null", {"type": "long", "logicalType": "timestamp-millis"}]);
        assert!(accepts(&schema, json!({"long": 1_714_557_600_000_i64})));
        assert!(accepts(&schema, json!("2024-05-01T10:00:00Z")));
        assert_eq!(keywords(&schema, json!({"long": "soon"})), ["format"]);
    }

    fn linked_list() -> Value {
        json!({"type": "record", "name": "Node", "fields": [
            {"name": "value", "type": "int"},
            {"name": "next", "type": ["null", "Node"], "default": null}]})
    }

    #[test]
    fn recursive_types_resolve_to_their_definition() {
        let deep = json!({"value": 1, "next": {"value": 2, "next": {"Node": {"value": "three"}}}});
        assert_eq!(
            found(&linked_list(), deep),
            [(
                "/next/next/Node/value".into(),
                "type".into(),
                "/fields/0/type".into()
            )]
        );
        assert!(accepts(
            &linked_list(),
            json!({"value": 1, "next": {"value": 2}})
        ));
    }

    #[test]
    fn reports_every_violation_with_nested_pointers() {
        let schema = json!({"type": "record", "name": "Order", "fields": [
            {"name": "lines", "type": {"type": "array", "items": {"type": "record", "name": "Line",
                "fields": [{"name": "sku", "type": "string"}, {"name": "qty", "type": "int"}]}}},
            {"name": "extra", "type": "Line"}]});
        let payload = json!({"lines": [{"sku": "a", "qty": 1}, {"sku": 2, "qty": "x"}],
                             "extra": {"sku": "b"}});
        assert_eq!(
            found(&schema, payload),
            [
                (
                    "/lines/1/sku".into(),
                    "type".into(),
                    "/fields/0/type/items/fields/0/type".into()
                ),
                (
                    "/lines/1/qty".into(),
                    "type".into(),
                    "/fields/0/type/items/fields/1/type".into()
                ),
                (
                    "/extra/qty".into(),
                    "required".into(),
                    "/fields/0/type/items/fields/1".into()
                )
            ]
        );
    }

    #[test]
    fn normalize_unwraps_unions_and_fills_defaults() {
        let schema = avro(json!({"type": "record", "name": "Order", "fields": [
            {"name": "note", "type": ["null", "string"], "default": null},
            {"name": "lines", "type": {"type": "array", "items": {"type": "record", "name": "Line",
                "fields": [{"name": "sku", "type": "string"},
                           {"name": "qty", "type": "int", "default": 1}]}}},
            {"name": "next", "type": ["null", "Order"], "default": null}]}));
        let payload = json!({"note": {"string": "fragile"},
                             "lines": [{"sku": "a"}, {"sku": "b", "qty": 3}],
                             "next": {"Order": {"lines": []}}});
        assert!(schema.validate(&payload).is_empty());
        assert_eq!(
            schema.normalize(payload),
            json!({"note": "fragile",
                   "lines": [{"sku": "a", "qty": 1}, {"sku": "b", "qty": 3}],
                   "next": {"note": null, "lines": [], "next": null}})
        );
    }

    #[test]
    fn normalize_writes_logical_values_in_their_canonical_form_at_any_depth() {
        let schema = json!({"type": "record", "name": "R", "fields": [
            {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
            {"name": "prices", "type": {"type": "map", "values":
                {"type": "bytes", "logicalType": "decimal", "precision": 4, "scale": 2}}},
            {"name": "days", "type": {"type": "array", "items": {"type": "int", "logicalType": "date"}}},
            {"name": "price", "type": ["null", {"type": "bytes", "logicalType": "decimal", "precision": 4, "scale": 2}]}]});
        assert_normalizes(
            &schema,
            &[
                json!({"at": 1_714_557_600_000_i64, "prices": {"tea": 8.9}, "days": [19844], "price": {"bytes": 1}}),
                json!({"at": "2024-05-01T10:00:00Z", "prices": {"tea": "8.900"}, "days": ["2024-05-01"], "price": "1"}),
            ],
            &json!({"at": "2024-05-01T10:00:00.000Z", "prices": {"tea": "8.90"}, "days": ["2024-05-01"], "price": "1.00"}),
        );
    }

    #[test]
    fn a_union_value_another_branch_would_take_keeps_its_wrapper() {
        // The canonical string of the timestamp would read as the string
        // branch, so the timestamp is stored wrapped.
        let schema = json!(["null", "string", {"type": "long", "logicalType": "timestamp-millis"}]);
        assert_normalizes(
            &schema,
            &[
                json!(1_714_557_600_000_i64),
                json!({"long": "2024-05-01T10:00:00Z"}),
            ],
            &json!({"long": "2024-05-01T10:00:00.000Z"}),
        );
        assert_normalizes(&schema, &[json!({"string": "x"})], &json!("x"));
        assert_normalizes(
            &schema,
            &[json!("2024-05-01T10:00:00Z")],
            &json!("2024-05-01T10:00:00Z"),
        );
        // A string the earlier timestamp branch would take stays wrapped.
        let timestamp_first =
            json!([{"type": "long", "logicalType": "timestamp-millis"}, "string"]);
        assert_normalizes(
            &timestamp_first,
            &[json!({"string": "2024-05-01T10:00:00Z"})],
            &json!({"string": "2024-05-01T10:00:00Z"}),
        );
        // Named branches are wrapped under their full name.
        let records = json!([
            {"type": "record", "name": "Pair", "namespace": "test",
             "fields": [{"name": "x", "type": "int"}, {"name": "y", "type": "int"}]},
            {"type": "record", "name": "Point", "namespace": "test",
             "fields": [{"name": "x", "type": "int"}, {"name": "y", "type": "int", "default": 0}]}]);
        assert_normalizes(
            &records,
            &[json!({"Point": {"x": 1}}), json!({"x": 1})],
            &json!({"test.Point": {"x": 1, "y": 0}}),
        );
        assert_normalizes(
            &records,
            &[json!({"test.Pair": {"x": 1, "y": 0}})],
            &json!({"x": 1, "y": 0}),
        );
    }

    #[test]
    fn declares_follows_record_fields_through_unions_and_refs() {
        let schema = avro(json!({"type": "record", "name": "Order", "fields": [
            {"name": "id", "type": "string"},
            {"name": "customer", "type": ["null", {"type": "record", "name": "Customer",
                "fields": [{"name": "id", "type": "string"}]}]},
            {"name": "payer", "type": "Customer"},
            {"name": "lines", "type": {"type": "array", "items": "Customer"}}]}));
        let declared = |p: &str| schema.declares(&JsonPointer::parse(p).unwrap());
        assert!(declared("/id"));
        assert!(declared("/customer/id"));
        assert!(declared("/payer/id"));
        assert!(!declared("/payer/name"));
        assert!(!declared("/lines/0/id"));
        assert!(!declared("/id/x"));
    }
}
