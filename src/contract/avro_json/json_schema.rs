//! The JSON Schema (2020-12) of the natural JSON an Avro schema accepts,
//! for readers who know JSON Schema and not this mapping (the OpenAPI
//! document). It accepts what [`AvroSchema::validate`] accepts, value for
//! value, with these exceptions, which JSON Schema cannot state:
//!
//! - an integer written `5.0` is a number with an integral value to JSON
//!   Schema; the gateway wants the literal `5`;
//! - a decimal string in exponent notation (`"1.5e2"`) is accepted when its
//!   digits fit; the pattern shows plain notation only, since digits and
//!   exponent would have to be counted against each other;
//! - a timestamp string with an offset that moves it out of the years 0000
//!   to 9999 in UTC, or a `timestamp-nanos` string beyond what its long
//!   holds (1677 to 2262), matches the pattern but is refused; so is a
//!   leap second (`:60`) for millis and micros, which the pattern leaves out.
//!
//! Named types (records, enums, fixed) are defined once under `$defs` by
//! their full name and referenced from every use; the root type is the
//! schema itself (`#`).

use std::collections::BTreeSet;

use apache_avro::schema::{Name, RecordSchema, UnionSchema};
use apache_avro::Schema;
use serde_json::{json, Map, Value};

use super::logical::{days_range, timestamp_of, BIG_DECIMAL_EXPONENT};
use super::values::MILLIS_PER_DAY;
use super::walker::{branch_keys, Walker};

/// A calendar date `YYYY-MM-DD` from 0000 to 9999, leap days included.
const DATE: &str = "(?:[0-9]{4}-(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])|(?:0[13-9]|1[0-2])-(?:29|30)|(?:0[13578]|1[02])-31)|(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:[02468][048]|[13579][26])00)-02-29)";
/// The separator and time of day of an RFC 3339 timestamp, without leap
/// seconds.
const TIME: &str = "[Tt ](?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]";
/// An RFC 3339 offset.
const OFFSET: &str = "(?:[Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])";
/// Bytes in JSON: code points 0–255.
const BYTES: &str = "^[\\u0000-\\u00ff]*$";

/// The JSON Schema of the payloads `walker`'s schema accepts.
pub(super) fn json_schema(walker: Walker<'_>, root: &Schema) -> Value {
    let mut translator = Translator {
        walker,
        defs: Map::new(),
        root: named_of(root).map(|name| name.fullname(None)),
    };
    let mut schema = match named_of(root) {
        Some(_) => translator.definition(root),
        None => translator.schema(root),
    };
    if !translator.defs.is_empty() {
        if let Value::Object(map) = &mut schema {
            map.insert("$defs".to_owned(), Value::Object(translator.defs));
        }
    }
    schema
}

struct Translator<'s> {
    walker: Walker<'s>,
    /// Named types defined so far, by full name.
    defs: Map<String, Value>,
    /// The full name of the root type, if it is named: it is `#`.
    root: Option<String>,
}

/// The name a named type (record, enum, fixed, decimal on a fixed) is
/// defined and referenced by.
fn named_of(schema: &Schema) -> Option<&Name> {
    match schema {
        Schema::Record(record) => Some(&record.name),
        Schema::Enum(e) => Some(&e.name),
        Schema::Fixed(fixed) => Some(&fixed.name),
        Schema::Decimal(decimal) => named_of(&decimal.inner),
        _ => None,
    }
}

impl<'s> Translator<'s> {
    fn schema(&mut self, schema: &'s Schema) -> Value {
        if let Schema::Ref { name } = schema {
            return self.reference(&name.fullname(None));
        }
        if let Some(name) = named_of(schema) {
            let full = name.fullname(None);
            if !self.defs.contains_key(&full) && self.root.as_ref() != Some(&full) {
                // Reserved first: a recursive use inside finds it defined.
                self.defs.insert(full.clone(), Value::Bool(true));
                let definition = self.definition(schema);
                self.defs.insert(full.clone(), definition);
            }
            return self.reference(&full);
        }
        match schema {
            Schema::Union(union) => self.union(union),
            Schema::Array(array) => json!({"type": "array", "items": self.schema(&array.items)}),
            Schema::Map(map) => {
                json!({"type": "object", "additionalProperties": self.schema(&map.types)})
            }
            leaf => leaf_schema(leaf),
        }
    }

    fn reference(&self, full: &str) -> Value {
        if self.root.as_deref() == Some(full) {
            json!({"$ref": "#"})
        } else {
            json!({"$ref": format!("#/$defs/{full}")})
        }
    }

    /// The body of a named type.
    fn definition(&mut self, schema: &'s Schema) -> Value {
        let mut body = match schema {
            Schema::Record(record) => self.record(record),
            Schema::Enum(e) => json!({"type": "string", "enum": e.symbols}),
            Schema::Fixed(fixed) => bytes(Some(fixed.size)),
            other => leaf_schema(other),
        };
        let doc = match schema {
            Schema::Record(record) => record.doc.as_ref(),
            Schema::Enum(e) => e.doc.as_ref(),
            Schema::Fixed(fixed) => fixed.doc.as_ref(),
            _ => None,
        };
        if let (Value::Object(map), Some(name)) = (&mut body, named_of(schema)) {
            map.insert("title".to_owned(), json!(name.fullname(None)));
            if let Some(doc) = doc {
                map.insert("description".to_owned(), json!(doc));
            }
        }
        body
    }

    /// A closed object: every field without a default is required.
    fn record(&mut self, record: &'s RecordSchema) -> Value {
        let mut properties = Map::new();
        let mut required = Vec::new();
        for field in &record.fields {
            let mut property = self.schema(&field.schema);
            if let Value::Object(map) = &mut property {
                if let Some(doc) = &field.doc {
                    map.insert("description".to_owned(), json!(doc));
                }
                match &field.default {
                    Some(default) => {
                        map.insert("default".to_owned(), default.clone());
                    }
                    None => required.push(json!(field.name)),
                }
            }
            properties.insert(field.name.clone(), property);
        }
        let mut schema = json!({
            "type": "object",
            "properties": properties,
            "additionalProperties": false,
        });
        if !required.is_empty() {
            schema["required"] = Value::Array(required);
        }
        schema
    }

    /// Any branch's natural value, or the wrapped form `{"<branch>": value}`
    /// of any branch. A one-key object whose key names a branch is always
    /// read as the wrapped form, so a record or map branch that could take
    /// one is not offered it.
    fn union(&mut self, union: &'s UnionSchema) -> Value {
        let branches = union.variants();
        let keys: BTreeSet<String> = branches.iter().flat_map(branch_keys).collect();
        let mut alternatives = Vec::new();
        for branch in branches {
            let mut natural = self.schema(branch);
            if self.may_take_a_wrapper(branch, &keys) {
                if let Value::Object(map) = &mut natural {
                    map.insert("not".to_owned(), wrapper_shape(&keys));
                }
            }
            alternatives.push(natural);
        }
        for branch in branches {
            for key in branch_keys(branch) {
                alternatives.push(json!({
                    "type": "object",
                    "properties": {key.clone(): self.schema(branch)},
                    "required": [key],
                    "maxProperties": 1,
                }));
            }
        }
        json!({"anyOf": alternatives})
    }

    /// Whether a branch would take a one-key object whose key is one of
    /// `keys`: a map always, a record with a field of such a name.
    fn may_take_a_wrapper(&self, branch: &'s Schema, keys: &BTreeSet<String>) -> bool {
        match self.walker.resolve(branch, "") {
            Ok((Schema::Map(_), _)) => true,
            Ok((Schema::Record(record), _)) => {
                record.fields.iter().any(|field| keys.contains(&field.name))
            }
            _ => false,
        }
    }
}

/// An object of one property whose name is one of `keys`.
fn wrapper_shape(keys: &BTreeSet<String>) -> Value {
    let named: Vec<Value> = keys.iter().map(|key| json!({"required": [key]})).collect();
    json!({"type": "object", "maxProperties": 1, "anyOf": named})
}

fn integer(min: i64, max: i64, format: Option<&str>) -> Value {
    let mut schema = json!({"type": "integer", "minimum": min, "maximum": max});
    if let Some(format) = format {
        schema["format"] = json!(format);
    }
    schema
}

/// `bytes`, or `fixed` of `size`: a string of code points 0–255.
fn bytes(size: Option<usize>) -> Value {
    let mut schema = json!({"type": "string", "pattern": BYTES});
    if let Some(size) = size {
        schema["minLength"] = json!(size);
        schema["maxLength"] = json!(size);
    }
    schema
}

/// Unnamed types other than unions, arrays and maps.
fn leaf_schema(schema: &Schema) -> Value {
    let float = f64::from(f32::MAX);
    let time_of_day = |unit: i64, what: &str| {
        let mut schema = integer(0, MILLIS_PER_DAY * unit - 1, None);
        schema["description"] = json!(format!("{what} after midnight"));
        schema
    };
    match schema {
        Schema::Null => json!({"type": "null"}),
        Schema::Boolean => json!({"type": "boolean"}),
        Schema::Int => integer(i32::MIN.into(), i32::MAX.into(), Some("int32")),
        Schema::Long => integer(i64::MIN, i64::MAX, Some("int64")),
        Schema::Float => {
            json!({"type": "number", "format": "float", "minimum": -float, "maximum": float})
        }
        Schema::Double => json!({"type": "number", "format": "double"}),
        Schema::String => json!({"type": "string"}),
        Schema::Bytes => bytes(None),
        Schema::Duration => bytes(Some(12)),
        Schema::Decimal(decimal) => decimal_schema(Some((decimal.precision, decimal.scale))),
        Schema::BigDecimal => decimal_schema(None),
        Schema::Uuid => json!({
            "type": "string",
            "format": "uuid",
            "pattern": "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$",
            "description": "uuid: hyphenated, any case; stored in lower case",
        }),
        Schema::Date => {
            let days = days_range();
            json!({
                "anyOf": [
                    integer(*days.start(), *days.end(), None),
                    {"type": "string", "format": "date", "pattern": format!("^{DATE}$")},
                ],
                "description": "date: days since 1970-01-01, or \"YYYY-MM-DD\"; stored as \"YYYY-MM-DD\"",
            })
        }
        Schema::TimeMillis => time_of_day(1, "time-millis: milliseconds"),
        Schema::TimeMicros => time_of_day(1000, "time-micros: microseconds"),
        other => match timestamp_of(other) {
            Some(timestamp) => {
                let units = timestamp.units_range();
                let digits = timestamp.unit.digits();
                // Digits past the unit's must be zeros, up to the ninth: the
                // parser reads nanoseconds and drops any further digits.
                let fraction = if digits >= 9 {
                    "(?:\\.[0-9]+)?".to_owned()
                } else {
                    let zeros = 9 - digits;
                    format!("(?:\\.(?:[0-9]{{1,{digits}}}|[0-9]{{{digits}}}0{{1,{zeros}}}|[0-9]{{{digits}}}0{{{zeros}}}[0-9]+))?")
                };
                let offset = if timestamp.local {
                    format!("{OFFSET}?")
                } else {
                    OFFSET.to_owned()
                };
                let mut text = json!({
                    "type": "string",
                    "pattern": format!("^{DATE}{TIME}{fraction}{offset}$"),
                });
                let description = if timestamp.local {
                    format!("local timestamp: units since 1970-01-01T00:00:00 on the wall clock, or an RFC 3339 date-time (an offset is ignored); at most {digits} significant digits after the second; stored without offset with {digits} digits")
                } else {
                    text["format"] = json!("date-time");
                    format!("timestamp: units since the Unix epoch, or an RFC 3339 date-time with an offset; at most {digits} significant digits after the second; stored in UTC (`Z`) with {digits} digits")
                };
                json!({
                    "anyOf": [integer(*units.start(), *units.end(), Some("int64")), text],
                    "description": description,
                })
            }
            None => json!({}),
        },
    }
}

/// 10 to the power `exponent`, the float nearest to it (`powi` may miss).
fn power_of_ten(exponent: i64) -> f64 {
    format!("1e{exponent}").parse().unwrap_or(f64::INFINITY)
}

/// A `decimal` of `(precision, scale)`, or a `big-decimal`: a number, or a
/// string holding one.
fn decimal_schema(limits: Option<(usize, usize)>) -> Value {
    let Some((precision, scale)) = limits else {
        // A number is read in its shortest spelling, whose exponent (from
        // 1e16 and below 1e-5) must be within the limit.
        let bound = power_of_ten(BIG_DECIMAL_EXPONENT + 1);
        let least = power_of_ten(-BIG_DECIMAL_EXPONENT);
        return json!({
            "anyOf": [
                {"const": 0},
                {"type": "number", "minimum": least, "exclusiveMaximum": bound},
                {"type": "number", "maximum": -least, "exclusiveMinimum": -bound},
                {"type": "string", "pattern": format!("^-?[0-9]+(?:\\.[0-9]+)?(?:[eE][+-]?0*(?:[0-9]{{1,2}}|{BIG_DECIMAL_EXPONENT}))?$")},
            ],
            "description": "big-decimal: a number, or a string holding one (an exponent moves the point at most 100 places); stored as a string in plain notation",
        });
    };
    let integer_digits = precision.saturating_sub(scale);
    let bound = power_of_ten(i64::try_from(integer_digits).unwrap_or(i64::MAX));
    // Leading zeros of the integer part and trailing zeros of the fraction
    // do not count.
    let integer = match integer_digits {
        0 => "0+".to_owned(),
        n => format!("0+|0*[1-9][0-9]{{0,{}}}", n - 1),
    };
    let fraction = match scale {
        0 => "0+".to_owned(),
        n => format!("[0-9]{{1,{n}}}0*"),
    };
    json!({
        "anyOf": [
            {
                "type": "number",
                "multipleOf": power_of_ten(-i64::try_from(scale).unwrap_or(i64::MAX)),
                "exclusiveMinimum": -bound,
                "exclusiveMaximum": bound,
            },
            {"type": "string", "pattern": format!("^-?(?:{integer})(?:\\.(?:{fraction}))?$")},
        ],
        "description": format!("decimal({precision}, {scale}): a number, or a string holding one, with at most {integer_digits} digits before the point and {scale} after; stored as a string with exactly {scale} digits after the point"),
    })
}

#[cfg(test)]
mod tests {
    use crate::contract::avro_json::testing::avro;
    use serde_json::{json, Value};

    /// Values of every JSON kind, with the edges of each Avro type.
    fn corpus() -> Vec<Value> {
        let twelve = "\u{0001}\u{0000}\u{0000}\u{0000}\u{0002}\u{0000}\u{0000}\u{0000}\u{0003}\u{0000}\u{0000}\u{0000}";
        let mut values = vec![
            json!(null),
            json!(true),
            json!(false),
            json!(0),
            json!(1),
            json!(-1),
            json!(42),
            json!(19844),
            json!(2_147_483_647),
            json!(2_147_483_648_i64),
            json!(-2_147_483_648_i64),
            json!(-2_147_483_649_i64),
            json!(i64::MAX),
            json!(i64::MIN),
            json!(u64::MAX),
            json!(1.5),
            json!(-2.5),
            json!(8.99),
            json!(12.5),
            json!(0.05),
            json!(1e-7),
            json!(99_999_999.99),
            json!(100_000_000),
            json!(3.4e38),
            json!(-3.5e38),
            json!(1e300),
            json!(1e100),
            json!(1e101),
            json!(1e-100),
            json!(1e-101),
            json!(-1e-101),
            json!(36_000_000),
            json!(86_399_999),
            json!(86_400_000),
            json!(86_399_999_999_i64),
            json!(-719_528),
            json!(-719_529),
            json!(2_932_896),
            json!(2_932_897),
            json!(1_714_557_600_000_i64),
            json!(253_402_300_799_999_i64),
            json!(253_402_300_800_000_i64),
            json!(-62_167_219_200_000_i64),
            json!(-62_167_219_200_001_i64),
            json!(""),
            json!("x"),
            json!("€"),
            json!("\u{00ff}\u{0000}abc"),
            json!("ab"),
            json!(twelve),
            json!("PLACED"),
            json!("LOST"),
            json!("hearts"),
            json!("123e4567-e89b-12d3-a456-426614174000"),
            json!("123E4567-E89B-12D3-A456-426614174000"),
            json!("123e4567e89b12d3a456426614174000"),
            json!("{123e4567-e89b-12d3-a456-426614174000}"),
            json!("2024-05-01"),
            json!("2024-02-29"),
            json!("2023-02-29"),
            json!("2000-02-29"),
            json!("1900-02-29"),
            json!("0000-02-29"),
            json!("2024-5-1"),
            json!("9999-12-31"),
            json!("2024-04-31"),
            json!("2024-05-01T10:00:00Z"),
            json!("2024-05-01t10:00:00z"),
            json!("2024-05-01 10:00:00Z"),
            json!("2024-05-01x10:00:00Z"),
            json!("2024-05-01T10:00:00"),
            json!("2024-05-01T10:00:00.5"),
            json!("2024-05-01T10:00:00.123+02:00"),
            json!("2024-05-01T10:00:00.1234Z"),
            json!("2024-05-01T10:00:00.1230Z"),
            json!("2024-05-01T10:00:00.123000000Z"),
            json!("2024-05-01T10:00:00.1230000005Z"),
            json!("2024-05-01T10:00:00.000001Z"),
            json!("2024-05-01T10:00:00.0000001Z"),
            json!("2024-05-01T10:00:00.000000001Z"),
            json!("2024-05-01T24:00:00Z"),
            json!("2024-05-01T10:60:00Z"),
            json!("2024-05-01T10:00:00+24:00"),
            json!("2024-05-01T10:00:00+23:59"),
            json!("2024-05-01T10:00:00+02:60"),
            json!("2024-05-01T10:00:00."),
            json!("2024-05-01T10:00:00Z "),
            json!("yesterday"),
            json!("12.50"),
            json!("12.5"),
            json!("-999.99"),
            json!("1.234"),
            json!("12,50"),
            json!("0012.500"),
            json!("-0"),
            json!(".5"),
            json!("5."),
            json!("00000000.10"),
            json!("12345678.90"),
            json!("123456789.0"),
            json!("150"),
            json!("1e100"),
            json!("1e101"),
            json!("1.5e-3"),
            json!("1E+0099"),
            json!("+1"),
            json!([]),
            json!([1, 2]),
            json!(["a"]),
            json!([1, "x"]),
            json!({}),
            json!({"a": 1}),
            json!({"a": "x"}),
            json!({"a": "x", "b": "y"}),
            json!({"string": "x"}),
            json!({"string": 5}),
            json!({"long": 5}),
            json!({"long": "5"}),
            json!({"null": null}),
            json!({"null": "x"}),
            json!({"int": 5}),
            json!({"map": {"a": "x"}}),
            json!({"array": [1]}),
            json!({"bytes": "12.50"}),
            json!({"long": "2024-05-01T10:00:00.000Z"}),
            json!({"value": 1}),
            json!({"value": 1, "next": null}),
            json!({"value": 1, "next": {"value": 2}}),
            json!({"value": 1, "next": {"Node": {"value": 2}}}),
            json!({"value": "x"}),
            json!({"Point": {"x": 1}}),
            json!({"test.Point": {"x": 1, "y": 2}}),
            json!({"x": 1}),
            json!({"x": 1, "y": 0}),
            json!({"x": 1, "y": 2, "z": 3}),
            json!({"string": "a", "x": 1}),
        ];
        values.extend(order_payloads());
        values
    }

    fn order_payloads() -> Vec<Value> {
        let folder =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("contracts/order/examples");
        let mut files: Vec<_> = std::fs::read_dir(folder)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        files
            .iter()
            .map(|path| serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap())
            .collect()
    }

    /// Asserts that the translated schema and the Avro check agree on every
    /// value of the corpus, and returns how many values both accept.
    fn agree(schema: Value) -> usize {
        agree_except(schema, |_| false)
    }

    /// `agree`, but for the values `excepted` picks.
    fn agree_except(schema: Value, excepted: fn(&Value) -> bool) -> usize {
        let avro = avro(schema.clone());
        let described = avro.json_schema();
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .build(&described)
            .unwrap_or_else(|e| panic!("{schema}: {e}\n{described:#}"));
        let mut accepted = 0;
        for value in corpus().into_iter().filter(|value| !excepted(value)) {
            let expected = avro.validate(&value).is_empty();
            assert_eq!(validator.is_valid(&value), expected, "{schema}: {value}");
            accepted += usize::from(expected);
        }
        accepted
    }

    #[test]
    fn primitives_and_logical_types_describe_what_they_accept() {
        for schema in [
            json!("null"),
            json!("boolean"),
            json!("int"),
            json!("long"),
            json!("float"),
            json!("double"),
            json!("string"),
            json!("bytes"),
            json!({"type": "fixed", "name": "Pair", "size": 2}),
            json!({"type": "enum", "name": "Status", "symbols": ["PLACED", "PAID"]}),
            json!({"type": "string", "logicalType": "uuid"}),
            json!({"type": "int", "logicalType": "date"}),
            json!({"type": "int", "logicalType": "time-millis"}),
            json!({"type": "long", "logicalType": "time-micros"}),
            json!({"type": "fixed", "name": "Span", "size": 12, "logicalType": "duration"}),
            json!({"type": "bytes", "logicalType": "big-decimal"}),
        ] {
            assert!(
                agree(schema.clone()) > 0,
                "{schema} accepts nothing of the corpus"
            );
        }
    }

    #[test]
    fn decimals_describe_their_precision_and_scale() {
        // The documented exception: strings in exponent notation.
        let exponent = |value: &Value| value.as_str().is_some_and(|text| text.contains(['e', 'E']));
        for (precision, scale) in [(10, 2), (5, 2), (4, 0), (3, 3), (12, 6)] {
            agree_except(
                json!({"type": "bytes", "logicalType": "decimal", "precision": precision, "scale": scale}),
                exponent,
            );
            agree_except(
                json!({"type": "fixed", "name": "Money", "size": 8, "logicalType": "decimal",
                         "precision": precision, "scale": scale}),
                exponent,
            );
        }
    }

    #[test]
    fn timestamps_describe_their_unit_and_offset() {
        for unit in ["millis", "micros", "nanos"] {
            for local in ["", "local-"] {
                let logical = format!("{local}timestamp-{unit}");
                assert!(
                    agree(json!({"type": "long", "logicalType": logical})) > 2,
                    "{logical}"
                );
            }
        }
    }

    #[test]
    fn containers_records_and_unions_describe_what_they_accept() {
        let point = json!({"type": "record", "name": "Point", "namespace": "test",
                           "fields": [{"name": "x", "type": "int"}, {"name": "y", "type": "int", "default": 0}]});
        for schema in [
            json!({"type": "array", "items": "int"}),
            json!({"type": "map", "values": "string"}),
            point.clone(),
            json!(["null", "string"]),
            json!(["null", "long", "string"]),
            json!(["null", "string", {"type": "long", "logicalType": "timestamp-millis"}]),
            json!(["null", {"type": "map", "values": "string"}]),
            json!(["null", {"type": "bytes", "logicalType": "decimal", "precision": 4, "scale": 2}]),
            json!([{"type": "record", "name": "Pair", "namespace": "test",
                    "fields": [{"name": "x", "type": "int"}, {"name": "y", "type": "int"}]}, point]),
            json!([{"type": "record", "name": "Wrapper", "fields": [{"name": "string", "type": "string"}]}, "string"]),
            json!({"type": "record", "name": "Node", "fields": [
                {"name": "value", "type": "int"},
                {"name": "next", "type": ["null", "Node"], "default": null}]}),
            json!({"type": "array", "items": ["null", "int", {"type": "array", "items": "int"}]}),
        ] {
            agree(schema);
        }
    }

    #[test]
    fn the_example_order_contract_describes_what_it_accepts() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("contracts/order/v1.avsc");
        let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        // Every value of the corpus is judged alike (in `agree`); among them
        // the contract's valid v1 examples, and any other that v1 accepts.
        assert!(agree(schema) >= 3, "the three valid v1 examples");
    }

    #[test]
    fn named_types_are_defined_once_and_field_docs_and_defaults_shown() {
        let described = avro(json!({"type": "record", "name": "Order", "namespace": "shop", "doc": "An order.",
            "fields": [
                {"name": "from", "type": {"type": "record", "name": "Address", "fields": [{"name": "city", "type": "string"}]}},
                {"name": "to", "type": "Address", "doc": "Where it goes."},
                {"name": "note", "type": ["null", "string"], "default": null},
                {"name": "next", "type": ["null", "Order"], "default": null}]}))
        .json_schema();
        assert_eq!(described["title"], "shop.Order");
        assert_eq!(described["description"], "An order.");
        assert_eq!(
            described["properties"]["from"],
            json!({"$ref": "#/$defs/shop.Address"})
        );
        assert_eq!(
            described["properties"]["to"],
            json!({"$ref": "#/$defs/shop.Address", "description": "Where it goes."})
        );
        assert_eq!(described["$defs"]["shop.Address"]["title"], "shop.Address");
        assert_eq!(described["properties"]["note"]["default"], json!(null));
        assert_eq!(
            described["properties"]["next"]["anyOf"][1],
            json!({"$ref": "#"})
        );
        assert_eq!(described["required"], json!(["from", "to"]));
    }

    #[test]
    fn the_documented_exceptions_are_the_ones_json_schema_cannot_state() {
        let int = avro(json!("int"));
        let described = jsonschema::validator_for(&int.json_schema()).unwrap();
        assert!(described.is_valid(&json!(5.0)) && !int.validate(&json!(5.0)).is_empty());
        let decimal =
            avro(json!({"type": "bytes", "logicalType": "decimal", "precision": 5, "scale": 2}));
        let described = jsonschema::validator_for(&decimal.json_schema()).unwrap();
        assert!(
            !described.is_valid(&json!("1.5e2")) && decimal.validate(&json!("1.5e2")).is_empty()
        );
    }
}
