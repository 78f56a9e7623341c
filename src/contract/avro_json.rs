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
//!   forms without limits.
//! - `uuid`: a UUID in the hyphenated 8-4-4-4-12 form, any case (also for a
//!   uuid on `fixed(16)`, which the parsed schema does not tell apart).
//! - `date`: an int (days since 1970-01-01) or an ISO date `"2024-05-01"`.
//! - `time-millis` / `time-micros`: an integer, milliseconds (microseconds)
//!   after midnight, within one day.
//! - `timestamp-millis`/`-micros`/`-nanos`: a long since the Unix epoch, or
//!   an RFC 3339 string with an offset (`"2024-05-01T10:00:00Z"`); the
//!   `local-timestamp-*` types also take the string without an offset
//!   (`"2024-05-01T10:00:00"`).
//! - `duration`: like `fixed` of size 12.
//!
//! **Normalization** (of payloads that validated) unwraps wrapped unions to
//! their natural form and fills missing record fields with their defaults
//! (as written in the schema, where a union's default is for its first
//! branch), recursively. Everything else is kept as sent: timestamp and date
//! strings, decimal strings and integers are not converted.
//!
//! Every violation is reported, not only the first. Its `pointer` points
//! into the payload; its `schema_location` into the schema as the parsed
//! structure walks it: `/fields/2/type` for a field, `/items`, `/values`,
//! `/1` for a union branch, with `/symbols`, `/size`, `/precision` or
//! `/scale` appended where that attribute is at fault. A named type used
//! again by name is checked at, and located at, its definition.

use std::collections::HashMap;

use apache_avro::schema::{Name, RecordSchema, UnionSchema};
use apache_avro::Schema;
use serde_json::{Map, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::pointer::{push_token, JsonPointer};
use super::schema::Violation;

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

    /// Whether the record fields of the schema reach `pointer`.
    pub fn declares(&self, pointer: &JsonPointer) -> bool {
        self.walker().declares(&self.root, pointer.segments())
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

/// Walks a schema and a payload together; following the payload rather
/// than the schema keeps recursive types finite.
struct Walker<'s> {
    named: &'s Named,
}

impl<'s> Walker<'s> {
    /// The schema a `Ref` stands for, with its location; anything else as
    /// given. `Err` carries the name of a reference that resolves nowhere,
    /// which apache-avro's parser does not let through.
    fn resolve<'a>(
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

    fn check(
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
                _ => Some(Problem::type_error("an array", value)),
            },
            Schema::Map(map) => match value {
                Value::Object(entries) => {
                    let at = format!("{location}/values");
                    for (key, entry) in entries {
                        self.check(&map.types, &at, entry, &push_token(pointer, key), out);
                    }
                    None
                }
                _ => Some(Problem::type_error("an object (a map)", value)),
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

    fn accepts(&self, schema: &'s Schema, value: &Value) -> bool {
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

    fn normalize(&self, schema: &'s Schema, value: Value) -> Value {
        let Ok((schema, _)) = self.resolve(schema, "") else {
            return value;
        };
        match (schema, value) {
            (Schema::Union(union), value) => {
                let branches = union.variants();
                if let Some((index, _, _)) = self.wrapped(branches, &value) {
                    let inner = match value {
                        Value::Object(object) => object.into_iter().next().map(|(_, v)| v),
                        _ => None,
                    };
                    return match inner {
                        Some(inner) => self.normalize(&branches[index], inner),
                        None => Value::Null,
                    };
                }
                match self.natural_branch(branches, &value) {
                    Some(index) => self.normalize(&branches[index], value),
                    None => value,
                }
            }
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
            (_, value) => value,
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

    fn declares(&self, schema: &'s Schema, segments: &[String]) -> bool {
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
}

/// One way a value breaks a leaf schema, before it is tied to a pointer.
struct Problem {
    keyword: &'static str,
    /// Appended to the schema location: the attribute at fault, if any.
    suffix: &'static str,
    message: String,
}

impl Problem {
    fn new(keyword: &'static str, suffix: &'static str, message: String) -> Self {
        Self {
            keyword,
            suffix,
            message,
        }
    }

    fn type_error(what: &str, value: &Value) -> Self {
        Self::new("type", "", expected(what, value))
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

fn enum_problem(symbols: &[String], value: &Value) -> Option<Problem> {
    match value {
        Value::String(symbol) if symbols.contains(symbol) => None,
        Value::String(_) => Some(Problem::new(
            "enum",
            "/symbols",
            format!("{} is not one of {}", describe(value), symbols.join(", ")),
        )),
        _ => Some(Problem::type_error(
            &format!("one of the symbols {}", symbols.join(", ")),
            value,
        )),
    }
}

const MILLIS_PER_DAY: i64 = 86_400_000;

fn scalar_problem(schema: &Schema, value: &Value) -> Option<Problem> {
    match schema {
        Schema::Null => (!value.is_null()).then(|| Problem::type_error("null", value)),
        Schema::Boolean => (!value.is_boolean()).then(|| Problem::type_error("a boolean", value)),
        Schema::String => (!value.is_string()).then(|| Problem::type_error("a string", value)),
        Schema::Int => integer_problem(value, i32::MIN.into(), i32::MAX.into(), "an int"),
        Schema::Long => integer_problem(value, i64::MIN, i64::MAX, "a long"),
        Schema::Float => float_problem(value),
        Schema::Double => (!value.is_number()).then(|| Problem::type_error("a number", value)),
        Schema::Bytes => bytes_problem(value, None),
        Schema::Uuid => uuid_problem(value),
        Schema::Date => date_problem(value),
        Schema::TimeMillis => integer_problem(
            value,
            0,
            MILLIS_PER_DAY - 1,
            "a time-millis (milliseconds after midnight)",
        ),
        Schema::TimeMicros => integer_problem(
            value,
            0,
            MILLIS_PER_DAY * 1000 - 1,
            "a time-micros (microseconds after midnight)",
        ),
        Schema::TimestampMillis | Schema::TimestampMicros => timestamp_problem(value, false, false),
        Schema::TimestampNanos => timestamp_problem(value, false, true),
        Schema::LocalTimestampMillis | Schema::LocalTimestampMicros => {
            timestamp_problem(value, true, false)
        }
        Schema::LocalTimestampNanos => timestamp_problem(value, true, true),
        _ => None,
    }
}

/// Checks an integer literal against `min..=max`.
fn integer_problem(value: &Value, min: i64, max: i64, what: &str) -> Option<Problem> {
    let Value::Number(number) = value else {
        return Some(Problem::type_error(what, value));
    };
    let out_of_range = || {
        Problem::new(
            "range",
            "",
            format!("{number} is out of range for {what}: it must be from {min} to {max}"),
        )
    };
    if let Some(integer) = number.as_i64() {
        return (integer < min || integer > max).then(out_of_range);
    }
    if number.is_u64() {
        return Some(out_of_range());
    }
    // A double: too large a whole number is a range problem; `max as f64 + 1`
    // is exact for both limits used here (2^31 and 2^63).
    let float = number.as_f64().unwrap_or(f64::NAN);
    if float.fract() == 0.0 && (float < min as f64 || float >= max as f64 + 1.0) {
        return Some(out_of_range());
    }
    Some(Problem::new(
        "type",
        "",
        format!(
            "expected {what} written as an integer, without fraction or exponent; found {number}"
        ),
    ))
}

fn float_problem(value: &Value) -> Option<Problem> {
    let Some(float) = value.as_f64() else {
        return Some(Problem::type_error("a number", value));
    };
    (float.abs() > f64::from(f32::MAX)).then(|| {
        Problem::new(
            "range",
            "",
            format!(
                "{float} is out of range for a float: its magnitude must be at most {}",
                f32::MAX
            ),
        )
    })
}

/// Bytes in JSON are strings of code points 0–255, one per byte.
fn bytes_problem(value: &Value, size: Option<usize>) -> Option<Problem> {
    let Value::String(text) = value else {
        return Some(Problem::type_error(
            "a string of bytes (code points 0-255)",
            value,
        ));
    };
    if let Some((index, c)) = text.chars().enumerate().find(|(_, c)| u32::from(*c) > 0xff) {
        return Some(Problem::new(
            "bytes",
            "",
            format!(
                "character {index} (U+{:04X}) is not a byte: bytes are written as a string of code points 0-255",
                u32::from(c)
            ),
        ));
    }
    let length = text.chars().count();
    match size {
        Some(size) if length != size => Some(Problem::new(
            "size",
            "/size",
            format!("expected exactly {size} bytes, found {length}"),
        )),
        _ => None,
    }
}

/// The digits of a decimal that count against its precision and scale.
#[derive(Debug, PartialEq, Eq)]
struct DecimalDigits {
    /// Digits before the point, leading zeros not counted.
    integer: i64,
    /// Digits after the point, trailing zeros not counted.
    fraction: i64,
}

/// Reads `-?digits(.digits)?([eE][+-]?digits)?`, the JSON number grammar.
fn decimal_digits(text: &str) -> Option<DecimalDigits> {
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
        Some((mantissa, exponent)) => (mantissa, exponent.parse::<i64>().ok()?),
        None => (unsigned, 0),
    };
    let (integer, fraction) = match mantissa.split_once('.') {
        Some((_, "")) => return None,
        Some(parts) => parts,
        None => (mantissa, ""),
    };
    let all_digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
    if integer.is_empty() || !all_digits(integer) || !all_digits(fraction) {
        return None;
    }
    let digits = format!("{integer}{fraction}");
    // Where the point sits in `digits` once the exponent is applied.
    let point = i64::try_from(integer.len()).ok()?.saturating_add(exponent);
    let (Some(first), Some(last)) = (digits.find(|c| c != '0'), digits.rfind(|c| c != '0')) else {
        return Some(DecimalDigits {
            integer: 0,
            fraction: 0,
        });
    };
    let first = i64::try_from(first).ok()?;
    let end = i64::try_from(last).ok()? + 1;
    Some(DecimalDigits {
        integer: point.saturating_sub(first).max(0),
        fraction: end.saturating_sub(point).max(0),
    })
}

fn decimal_problem(value: &Value, limits: Option<(usize, usize)>) -> Option<Problem> {
    let text = match value {
        Value::Number(number) => number.to_string(),
        Value::String(text) => text.clone(),
        _ => {
            return Some(Problem::type_error(
                "a decimal (a number, or a string like \"12.50\")",
                value,
            ))
        }
    };
    let Some(digits) = decimal_digits(&text) else {
        return Some(Problem::new(
            "format",
            "",
            format!(
                "{} is not a decimal number such as \"12.50\"",
                describe(value)
            ),
        ));
    };
    let (precision, scale) = limits?;
    let (precision, scale) = (
        i64::try_from(precision).unwrap_or(i64::MAX),
        i64::try_from(scale).unwrap_or(i64::MAX),
    );
    if digits.fraction > scale {
        return Some(Problem::new(
            "scale",
            "/scale",
            format!(
                "{text} has {} digits after the point; the scale allows {scale}",
                digits.fraction
            ),
        ));
    }
    let integer_limit = precision.saturating_sub(scale);
    (digits.integer > integer_limit).then(|| {
        Problem::new(
            "precision",
            "/precision",
            format!(
                "{text} has {} digits before the point; precision {precision} with scale {scale} allows {integer_limit}",
                digits.integer
            ),
        )
    })
}

fn uuid_problem(value: &Value) -> Option<Problem> {
    let Value::String(text) = value else {
        return Some(Problem::type_error("a UUID string", value));
    };
    let hyphenated = text.len() == 36 && uuid::Uuid::try_parse(text).is_ok();
    (!hyphenated).then(|| {
        Problem::new(
            "format",
            "",
            format!(
                "{} is not a UUID in the form 123e4567-e89b-12d3-a456-426614174000",
                describe(value)
            ),
        )
    })
}

fn date_problem(value: &Value) -> Option<Problem> {
    let Value::String(text) = value else {
        return integer_problem(
            value,
            i32::MIN.into(),
            i32::MAX.into(),
            "a date (days since 1970-01-01, or a string like \"2024-05-01\")",
        );
    };
    parse_date(text).is_none().then(|| {
        Problem::new(
            "format",
            "",
            format!("{} is not a date in the form 2024-05-01", describe(value)),
        )
    })
}

/// Exactly `YYYY-MM-DD`, a real calendar day.
fn parse_date(text: &str) -> Option<time::Date> {
    let shaped = text.len() == 10
        && text.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            _ => b.is_ascii_digit(),
        });
    if !shaped {
        return None;
    }
    let year = text.get(0..4)?.parse().ok()?;
    let month = time::Month::try_from(text.get(5..7)?.parse::<u8>().ok()?).ok()?;
    let day = text.get(8..10)?.parse().ok()?;
    time::Date::from_calendar_date(year, month, day).ok()
}

fn timestamp_problem(value: &Value, local: bool, nanos: bool) -> Option<Problem> {
    let Value::String(text) = value else {
        return integer_problem(
            value,
            i64::MIN,
            i64::MAX,
            "a timestamp (a long since the Unix epoch, or a string like \"2024-05-01T10:00:00Z\")",
        );
    };
    // A local timestamp has no zone; reading it as UTC only checks its shape.
    let parsed = OffsetDateTime::parse(text, &Rfc3339).or_else(|e| {
        if local {
            OffsetDateTime::parse(&format!("{text}Z"), &Rfc3339)
        } else {
            Err(e)
        }
    });
    match parsed {
        Err(_) => Some(Problem::new(
            "format",
            "",
            format!(
                "{} is not an RFC 3339 timestamp such as 2024-05-01T10:00:00Z{}",
                describe(value),
                if local { " or 2024-05-01T10:00:00" } else { "" }
            ),
        )),
        Ok(instant) if nanos && i64::try_from(instant.unix_timestamp_nanos()).is_err() => {
            Some(Problem::new(
                "range",
                "",
                format!(
                    "{text} is out of range for nanoseconds since the epoch (years 1677 to 2262)"
                ),
            ))
        }
        Ok(_) => None,
    }
}

/// Whether a wrapped-union key names `branch`.
fn names_branch(branch: &Schema, key: &str) -> bool {
    let named = |name: &Name| name.name == key || name.fullname(None) == key;
    match branch {
        Schema::Ref { name } => named(name),
        Schema::Record(record) => named(&record.name),
        Schema::Enum(e) => named(&e.name),
        Schema::Fixed(fixed) => named(&fixed.name),
        Schema::Decimal(decimal) => names_branch(&decimal.inner, key),
        other => type_name(other) == key,
    }
}

/// The Avro type name of an unnamed schema; logical types go by their
/// underlying type, as in Avro's JSON encoding of unions.
fn type_name(schema: &Schema) -> &'static str {
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

/// How a union branch is named in messages.
fn label(schema: &Schema) -> String {
    match schema {
        Schema::Ref { name } => name.fullname(None),
        Schema::Record(record) => record.name.fullname(None),
        Schema::Enum(e) => e.name.fullname(None),
        Schema::Fixed(fixed) => fixed.name.fullname(None),
        Schema::Decimal(decimal) => format!("{} (decimal)", label(&decimal.inner)),
        Schema::BigDecimal => "bytes (big-decimal)".to_owned(),
        Schema::Uuid => "string (uuid)".to_owned(),
        Schema::Date => "int (date)".to_owned(),
        Schema::TimeMillis => "int (time-millis)".to_owned(),
        Schema::TimeMicros => "long (time-micros)".to_owned(),
        Schema::TimestampMillis => "long (timestamp-millis)".to_owned(),
        Schema::TimestampMicros => "long (timestamp-micros)".to_owned(),
        Schema::TimestampNanos => "long (timestamp-nanos)".to_owned(),
        Schema::LocalTimestampMillis => "long (local-timestamp-millis)".to_owned(),
        Schema::LocalTimestampMicros => "long (local-timestamp-micros)".to_owned(),
        Schema::LocalTimestampNanos => "long (local-timestamp-nanos)".to_owned(),
        other => type_name(other).to_owned(),
    }
}

fn expected(what: &str, value: &Value) -> String {
    format!("expected {what}, found {}", describe(value))
}

/// Names a payload value for a message, quoting at most a short prefix of a
/// string so that an error response stays readable.
fn describe(value: &Value) -> String {
    const QUOTE_LIMIT: usize = 40;
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(number) => format!("the number {number}"),
        Value::String(text) if text.chars().count() > QUOTE_LIMIT => {
            let prefix: String = text.chars().take(QUOTE_LIMIT).collect();
            format!("the string {}…", Value::String(prefix))
        }
        Value::String(_) => format!("the string {value}"),
        Value::Array(_) => "an array".to_owned(),
        Value::Object(_) => "an object".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn avro(raw: Value) -> AvroSchema {
        AvroSchema::new(Schema::parse(&raw).expect("test schemas are valid Avro"))
    }

    fn accepts(schema: &Value, payload: Value) -> bool {
        avro(schema.clone()).validate(&payload).is_empty()
    }

    /// `(pointer, keyword, schema_location)` of each violation.
    fn found(schema: &Value, payload: Value) -> Vec<(String, String, String)> {
        avro(schema.clone())
            .validate(&payload)
            .into_iter()
            .map(|v| (v.pointer, v.keyword, v.schema_location))
            .collect()
    }

    fn keywords(schema: &Value, payload: Value) -> Vec<String> {
        found(schema, payload)
            .into_iter()
            .map(|(_, k, _)| k)
            .collect()
    }

    #[test]
    fn null_boolean_string_double() {
        assert!(accepts(&json!("null"), json!(null)));
        assert_eq!(keywords(&json!("null"), json!(0)), ["type"]);
        assert!(accepts(&json!("boolean"), json!(true)));
        assert_eq!(keywords(&json!("boolean"), json!("true")), ["type"]);
        assert!(accepts(&json!("string"), json!("x")));
        assert_eq!(keywords(&json!("string"), json!(1)), ["type"]);
        assert!(accepts(&json!("double"), json!(1)));
        assert!(accepts(&json!("double"), json!(1.5e300)));
        assert_eq!(keywords(&json!("double"), json!("1")), ["type"]);
    }

    #[test]
    fn int_and_long_are_integers_within_their_limits() {
        assert!(accepts(&json!("int"), json!(2_147_483_647)));
        assert!(accepts(&json!("int"), json!(-2_147_483_648_i64)));
        assert_eq!(keywords(&json!("int"), json!(2_147_483_648_i64)), ["range"]);
        assert_eq!(keywords(&json!("int"), json!(1.5)), ["type"]);
        assert_eq!(keywords(&json!("int"), json!(1.0)), ["type"]);
        assert!(accepts(&json!("long"), json!(i64::MAX)));
        assert_eq!(keywords(&json!("long"), json!(u64::MAX)), ["range"]);
        let too_large = avro(json!("long")).validate(&json!(1e20));
        assert_eq!(too_large[0].keyword, "range");
        assert!(
            too_large[0].message.contains("9223372036854775807"),
            "{too_large:?}"
        );
        assert_eq!(keywords(&json!("long"), json!("5")), ["type"]);
    }

    #[test]
    fn float_is_any_number_of_float_magnitude() {
        assert!(accepts(&json!("float"), json!(3)));
        assert!(accepts(&json!("float"), json!(-2.5)));
        assert_eq!(keywords(&json!("float"), json!(1e39)), ["range"]);
    }

    #[test]
    fn bytes_and_fixed_are_strings_of_code_points_up_to_255() {
        assert!(accepts(&json!("bytes"), json!("\u{00ff}\u{0000}abc")));
        assert_eq!(keywords(&json!("bytes"), json!("€")), ["bytes"]);
        assert_eq!(keywords(&json!("bytes"), json!([1, 2])), ["type"]);
        let fixed = json!({"type": "fixed", "name": "Pair", "size": 2});
        assert!(accepts(&fixed, json!("\u{00e9}a")));
        assert_eq!(
            found(&fixed, json!("abc")),
            [("".into(), "size".into(), "/size".into())]
        );
    }

    #[test]
    fn enum_takes_its_symbols() {
        let schema = json!({"type": "enum", "name": "Suit", "symbols": ["HEARTS", "SPADES"]});
        assert!(accepts(&schema, json!("SPADES")));
        assert_eq!(
            found(&schema, json!("hearts")),
            [("".into(), "enum".into(), "/symbols".into())]
        );
        assert_eq!(keywords(&schema, json!(0)), ["type"]);
    }

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
    fn decimal_takes_numbers_and_decimal_strings() {
        let schema = json!({"type": "bytes", "logicalType": "decimal", "precision": 5, "scale": 2});
        for valid in [
            json!(12.5),
            json!("12.50"),
            json!("-999.99"),
            json!(0),
            json!("1.5e2"),
        ] {
            assert!(accepts(&schema, valid.clone()), "{valid}");
        }
        assert_eq!(
            found(&schema, json!("1.234")),
            [("".into(), "scale".into(), "/scale".into())]
        );
        assert_eq!(
            found(&schema, json!(1000)),
            [("".into(), "precision".into(), "/precision".into())]
        );
        assert_eq!(keywords(&schema, json!("12,50")), ["format"]);
        assert_eq!(keywords(&schema, json!(true)), ["type"]);
        let fixed = json!({"type": "fixed", "name": "Money", "size": 8,
                           "logicalType": "decimal", "precision": 10, "scale": 2});
        assert!(accepts(&fixed, json!("12345678.90")));
        assert_eq!(keywords(&fixed, json!("123456789.0")), ["precision"]);
    }

    #[test]
    fn decimal_digits_ignore_padding_zeros() {
        let digits = |text| decimal_digits(text).map(|d| (d.integer, d.fraction));
        assert_eq!(digits("0012.500"), Some((2, 1)));
        assert_eq!(digits("0.05"), Some((0, 2)));
        assert_eq!(digits("1.5e3"), Some((4, 0)));
        assert_eq!(digits("1e-7"), Some((0, 7)));
        assert_eq!(digits("-0"), Some((0, 0)));
        for invalid in ["", "-", ".5", "5.", "1.2.3", "+1", "1e", "0x10"] {
            assert_eq!(digits(invalid), None, "{invalid}");
        }
    }

    #[test]
    fn uuid_is_a_hyphenated_uuid_string() {
        let schema = json!({"type": "string", "logicalType": "uuid"});
        assert!(accepts(
            &schema,
            json!("123e4567-E89B-12d3-a456-426614174000")
        ));
        assert_eq!(
            keywords(&schema, json!("123e4567e89b12d3a456426614174000")),
            ["format"]
        );
        assert_eq!(keywords(&schema, json!("not-a-uuid")), ["format"]);
        assert_eq!(keywords(&schema, json!(1)), ["type"]);
    }

    #[test]
    fn date_is_days_or_an_iso_date() {
        let schema = json!({"type": "int", "logicalType": "date"});
        assert!(accepts(&schema, json!(19844)));
        assert!(accepts(&schema, json!("2024-02-29")));
        assert_eq!(keywords(&schema, json!("2023-02-29")), ["format"]);
        assert_eq!(keywords(&schema, json!("2024-5-1")), ["format"]);
        assert_eq!(keywords(&schema, json!(3_000_000_000_i64)), ["range"]);
    }

    #[test]
    fn time_of_day_is_an_integer_within_a_day() {
        let millis = json!({"type": "int", "logicalType": "time-millis"});
        assert!(accepts(&millis, json!(36_000_000)));
        assert_eq!(keywords(&millis, json!(86_400_000)), ["range"]);
        assert_eq!(keywords(&millis, json!("10:00")), ["type"]);
        let micros = json!({"type": "long", "logicalType": "time-micros"});
        assert!(accepts(&micros, json!(86_399_999_999_i64)));
        assert_eq!(keywords(&micros, json!(-1)), ["range"]);
    }

    #[test]
    fn timestamps_are_epoch_integers_or_rfc3339() {
        let schema = json!({"type": "long", "logicalType": "timestamp-millis"});
        assert!(accepts(&schema, json!(1_714_557_600_000_i64)));
        assert!(accepts(&schema, json!("2024-05-01T10:00:00Z")));
        assert!(accepts(&schema, json!("2024-05-01T10:00:00.123+02:00")));
        assert_eq!(keywords(&schema, json!("2024-05-01T10:00:00")), ["format"]);
        assert_eq!(keywords(&schema, json!("yesterday")), ["format"]);
        assert_eq!(keywords(&schema, json!(1.5)), ["type"]);
        let local = json!({"type": "long", "logicalType": "local-timestamp-micros"});
        assert!(accepts(&local, json!("2024-05-01T10:00:00")));
        assert!(accepts(&local, json!("2024-05-01T10:00:00Z")));
        let nanos = json!({"type": "long", "logicalType": "timestamp-nanos"});
        assert!(accepts(&nanos, json!("2024-05-01T10:00:00Z")));
        assert_eq!(keywords(&nanos, json!("2300-01-01T00:00:00Z")), ["range"]);
    }

    #[test]
    fn duration_is_twelve_bytes() {
        let schema =
            json!({"type": "fixed", "name": "Span", "size": 12, "logicalType": "duration"});
        assert!(accepts(&schema, json!("\u{0001}\u{0000}\u{0000}\u{0000}\u{0002}\u{0000}\u{0000}\u{0000}\u{0003}\u{0000}\u{0000}\u{0000}")));
        assert_eq!(keywords(&schema, json!("short")), ["size"]);
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
    fn normalize_keeps_logical_values_as_sent() {
        let schema = avro(json!({"type": "record", "name": "R", "fields": [
            {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
            {"name": "price", "type": {"type": "bytes", "logicalType": "decimal", "precision": 4, "scale": 2}}]}));
        let payload = json!({"at": "2024-05-01T10:00:00Z", "price": "12.50"});
        assert_eq!(schema.normalize(payload.clone()), payload);
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
