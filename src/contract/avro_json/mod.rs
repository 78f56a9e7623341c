//! The JSON mapping of Avro schemas: how a JSON payload is checked against an
//! Avro schema and brought to its canonical form.
//!
//! ## JSON payloads for Avro contracts
//!
//! REST clients send plain JSON; the gateway checks it against the contract's
//! Avro schema with this mapping.
//!
//! | Avro type | JSON accepted |
//! |---|---|
//! | `null` | `null` |
//! | `boolean` | `true` or `false` |
//! | `int` | an integer from -2147483648 to 2147483647 |
//! | `long` | an integer from -9223372036854775808 to 9223372036854775807 |
//! | `float` | any number whose magnitude fits a float (at most 3.4028235e38) |
//! | `double` | any number |
//! | `string` | a string |
//! | `bytes` | a string whose characters are all code points 0–255, one per byte (Avro's JSON encoding: `"\u00ff\u0001"`) |
//! | `fixed` | like `bytes`, with exactly `size` characters |
//! | `enum` | one of the symbols, as a string |
//! | `array` | an array; every item is checked |
//! | `map` | an object; every value is checked |
//! | `record` | an object, see below |
//! | union | the natural value or the wrapped form, see below |
//!
//! Integers must be written as integer literals (`5`, not `5.0` or `5e0`): such
//! numbers are parsed as doubles and may already have lost digits. A whole
//! number beyond the type's limits (`1e20` for a `long`) is reported as out of
//! range (keyword `range`), anything else that is not an integer as `type`.
//!
//! **Records** are closed: every field without a `default` must be present, a
//! missing field that has a default is fine (normalization fills it in), and a
//! property that is not a field is a violation. Fields are matched by their
//! name only; aliases are for schema evolution, not for payloads.
//!
//! **Unions** take both forms:
//! - natural JSON: the branches are tried in order and the first that accepts
//!   the value wins (`null` takes the `null` branch, `"x"` the `string` one);
//! - the Avro specification's wrapped form: an object with exactly one key
//!   naming a branch, whose value fits that branch: `{"string": "x"}`,
//!   `{"long": 5}`, `{"shop.Address": {…}}`. Named types (record, enum, fixed)
//!   are named by their full name or their short name; other types by their
//!   type name (`array`, `map`, …), logical types by their underlying type
//!   (`{"long": 1714557600000}` for `timestamp-millis`, `{"bytes": "12.50"}`
//!   for a bytes `decimal`, `{"string": …}` for `uuid`, `{"duration": …}` for
//!   `duration`, whose fixed name the parsed schema does not keep).
//!
//! The shape decides: a one-key object whose key names a branch is always
//! read as the wrapped form, even when a record or map branch could also take
//! it, and its value is then checked against that branch only (violations
//! point below the key, e.g. `/note/string`). When no branch accepts a value,
//! one violation with keyword `union` lists the branch types — except that an
//! object or array which only one branch could take (the only record or map
//! branch, the only array branch) gets that branch's own violations, since
//! "no branch accepts" would hide which field is wrong.
//!
//! **Logical types**:
//! - `decimal` (on bytes or fixed): a JSON number or a string holding a
//!   decimal (`12.5`, `"12.50"`, `"-3"`, `"1.5e3"`). At most `scale` digits
//!   after the point (trailing zeros do not count) and at most
//!   `precision - scale` digits before it (leading zeros do not count).
//!   The binary two's-complement string of Avro's JSON encoding is not
//!   accepted: `"12"` would be ambiguous. `big-decimal` takes the same
//!   forms without limits, except that an exponent may move the point at
//!   most 100 places (it is stored without one).
//! - `uuid`: a UUID in the hyphenated 8-4-4-4-12 form, any case (also for a
//!   uuid on `fixed(16)`, which the parsed schema does not tell apart).
//! - `date`: an int (days since 1970-01-01) or an ISO date `"2024-05-01"`,
//!   from 0000-01-01 to 9999-12-31 (what `YYYY-MM-DD` can write).
//! - `time-millis` / `time-micros`: an integer, milliseconds (microseconds)
//!   after midnight, within one day.
//! - `timestamp-millis`/`-micros`/`-nanos`: a long since the Unix epoch, or
//!   an RFC 3339 string with an offset (`"2024-05-01T10:00:00Z"`); the
//!   `local-timestamp-*` types also take the string without an offset
//!   (`"2024-05-01T10:00:00"`), and read one with an offset as the wall
//!   clock it shows. A string may not be more precise than the unit
//!   (`"…00.0001Z"` is not a `timestamp-millis`), and the instant must fall
//!   in the years 0000 to 9999 in UTC (RFC 3339 writes four digits;
//!   `-nanos` holds 1677-09-21 to 2262-04-11, what its long can count).
//! - `duration`: like `fixed` of size 12.
//!
//! **Normalization** (of payloads that validated) brings every value to
//! one canonical form, so that an owner and every change event hold one
//! shape per field whatever spelling each client sent. Missing record
//! fields get their defaults (as written in the schema, where a union's
//! default is for its first branch), recursively, and:
//!
//! | Avro type | canonical form | e.g. |
//! |---|---|---|
//! | `decimal` | a string in plain notation with exactly `scale` digits after the point | `8.99`, `"8.990"`, `"899e-2"` → `"8.99"`; `12.5` → `"12.50"` |
//! | `big-decimal` | a string in plain notation, no leading or trailing zeros | `1.5e2`, `"150.00"` → `"150"` |
//! | `uuid` | lower case, hyphenated | `"123E4567-…"` → `"123e4567-…"` |
//! | `date` | `"YYYY-MM-DD"` | `19844` → `"2024-05-01"` |
//! | `timestamp-*` | RFC 3339 in UTC (`Z`) with the unit's digits after the second: 3, 6 or 9 | `1714557600000`, `"2024-05-01T12:00:00+02:00"` → `"2024-05-01T10:00:00.000Z"` |
//! | `local-timestamp-*` | the same without an offset | `"2024-05-01T10:00:00"` → `"2024-05-01T10:00:00.000"` |
//! | `time-*`, `duration`, other types | as sent (already one form) | |
//! | union | the natural value, unwrapped | `{"string": "x"}` → `"x"` |
//!
//! Timestamps are strings rather than epoch integers because events are
//! read by people and by systems in other languages: an RFC 3339 string
//! says its unit and zone, a bare `1714557600000` does not. The fixed
//! number of digits makes the strings of one field sort as their instants.
//!
//! A union value stays wrapped only when its natural form would be read as
//! another, earlier branch: in `["null", "string", timestamp-millis]` the
//! string `"2024-05-01T10:00:00.000Z"` would be the `string` branch, so an
//! epoch integer sent for the timestamp is stored as
//! `{"long": "2024-05-01T10:00:00.000Z"}`; the wrapper key is the branch's
//! full name for named types. The canonical form is itself valid and
//! normalizes to itself, so a stored body validates again after an upgrade.
//!
//! Every violation is reported, not only the first. Its `pointer` points
//! into the payload; its `schema_location` into the schema as the parsed
//! structure walks it: `/fields/2/type` for a field, `/items`, `/values`,
//! `/1` for a union branch, with `/symbols`, `/size`, `/precision` or
//! `/scale` appended where that attribute is at fault. A named type used
//! again by name is checked at, and located at, its definition.

mod json_schema;
mod logical;
mod resolve;
mod values;
mod walker;

use std::collections::HashMap;

use apache_avro::schema::Name;
use apache_avro::Schema;
use serde_json::Value;

use super::pointer::JsonPointer;
use super::schema::Violation;
use walker::Walker;

/// An Avro schema ready to check JSON payloads: the parsed schema and its
/// named definitions, collected once when the contract loads.
#[derive(Debug)]
pub struct AvroSchema {
    root: Schema,
    named: Named,
}

/// Each named definition by full name, with where it sits in the schema.
/// apache-avro writes a named type used a second time (and every recursive
/// use) as `Schema::Ref`, which this resolves.
type Named = HashMap<String, (Schema, String)>;

impl AvroSchema {
    /// Prepares a parsed schema.
    pub fn new(root: Schema) -> Self {
        let mut named = HashMap::new();
        collect(&mut named, &root, String::new());
        Self { root, named }
    }

    /// The parsed schema.
    pub fn schema(&self) -> &Schema {
        &self.root
    }

    /// Every violation of the schema by `payload`.
    pub fn validate(&self, payload: &Value) -> Vec<Violation> {
        let mut violations = Vec::new();
        self.walker()
            .check(&self.root, "", payload, "", &mut violations);
        violations
    }

    /// The canonical form of a payload `validate` accepted.
    pub fn normalize(&self, payload: Value) -> Value {
        self.walker().normalize(&self.root, payload)
    }

    /// The JSON Schema (2020-12) of the payloads `validate` accepts; its
    /// module says where the two differ.
    pub fn json_schema(&self) -> Value {
        json_schema::json_schema(self.walker(), &self.root)
    }

    /// Whether the record fields of the schema reach `pointer`.
    pub fn declares(&self, pointer: &JsonPointer) -> bool {
        self.walker().declares(&self.root, pointer.segments())
    }

    /// A payload of `writer`'s schema as this schema reads it, by Avro's
    /// schema resolution (see `resolve`); normalize and validate after.
    pub fn resolve_from(&self, writer: &AvroSchema, payload: Value) -> Value {
        let resolver = resolve::Resolver {
            writer: writer.walker(),
            reader: self.walker(),
        };
        resolver.resolve(Some(&writer.root), &self.root, payload)
    }

    /// Whether the record holding the field at `pointer` must have it: the
    /// field has no default.
    pub fn requires(&self, pointer: &JsonPointer) -> bool {
        self.walker().requires(&self.root, pointer.segments())
    }

    fn walker(&self) -> Walker<'_> {
        Walker { named: &self.named }
    }
}

fn collect(named: &mut Named, schema: &Schema, location: String) {
    match schema {
        // Only the first sight of a record is walked: later ones are the
        // same definition.
        Schema::Record(record) if define(named, &record.name, schema, &location) => {
            for (index, field) in record.fields.iter().enumerate() {
                collect(
                    named,
                    &field.schema,
                    format!("{location}/fields/{index}/type"),
                );
            }
        }
        Schema::Enum(e) => {
            define(named, &e.name, schema, &location);
        }
        Schema::Fixed(fixed) => {
            define(named, &fixed.name, schema, &location);
        }
        // A fixed reused by name keeps its logical type, so the name
        // stands for the decimal, not the bare fixed.
        Schema::Decimal(decimal) => {
            if let Schema::Fixed(fixed) = decimal.inner.as_ref() {
                define(named, &fixed.name, schema, &location);
            }
        }
        Schema::Array(array) => collect(named, &array.items, format!("{location}/items")),
        Schema::Map(map) => collect(named, &map.types, format!("{location}/values")),
        Schema::Union(union) => {
            for (index, branch) in union.variants().iter().enumerate() {
                collect(named, branch, format!("{location}/{index}"));
            }
        }
        _ => {}
    }
}

/// Records a named definition; false when the name was already seen.
fn define(named: &mut Named, name: &Name, schema: &Schema, location: &str) -> bool {
    let full = name.fullname(None);
    if named.contains_key(&full) {
        return false;
    }
    named.insert(full, (schema.clone(), location.to_owned()));
    true
}

/// Builds and probes schemas for the unit tests of both submodules.
#[cfg(test)]
mod testing {
    use super::*;

    pub(super) fn avro(raw: Value) -> AvroSchema {
        AvroSchema::new(Schema::parse(&raw).expect("test schemas are valid Avro"))
    }

    pub(super) fn accepts(schema: &Value, payload: Value) -> bool {
        avro(schema.clone()).validate(&payload).is_empty()
    }

    /// `(pointer, keyword, schema_location)` of each violation.
    pub(super) fn found(schema: &Value, payload: Value) -> Vec<(String, String, String)> {
        avro(schema.clone())
            .validate(&payload)
            .into_iter()
            .map(|v| (v.pointer, v.keyword, v.schema_location))
            .collect()
    }

    pub(super) fn keywords(schema: &Value, payload: Value) -> Vec<String> {
        found(schema, payload)
            .into_iter()
            .map(|(_, k, _)| k)
            .collect()
    }

    /// Checks that every spelling is valid and normalizes to `canonical`,
    /// and that `canonical` is valid and normalizes to itself.
    pub(super) fn assert_normalizes(schema: &Value, spellings: &[Value], canonical: &Value) {
        let schema = avro(schema.clone());
        for spelling in spellings {
            let violations = schema.validate(spelling);
            assert!(violations.is_empty(), "{spelling}: {violations:?}");
            assert_eq!(&schema.normalize(spelling.clone()), canonical, "{spelling}");
        }
        let violations = schema.validate(canonical);
        assert!(violations.is_empty(), "{canonical}: {violations:?}");
        assert_eq!(&schema.normalize(canonical.clone()), canonical);
    }
}
