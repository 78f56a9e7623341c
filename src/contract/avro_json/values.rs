//! The checks of leaf values: scalars, bytes and fixed, enums, with the
//! wording of their messages; logical types are in `logical`.

use apache_avro::Schema;
use serde_json::Value;

use super::logical::{date_problem, timestamp_problem, uuid_problem};

/// One way a value breaks a leaf schema, before it is tied to a pointer.
pub(super) struct ValueProblem {
    pub(super) keyword: &'static str,
    /// Appended to the schema location: the attribute at fault, if any.
    pub(super) suffix: &'static str,
    pub(super) message: String,
}

impl ValueProblem {
    pub(super) fn new(keyword: &'static str, suffix: &'static str, message: String) -> Self {
        Self {
            keyword,
            suffix,
            message,
        }
    }

    pub(super) fn type_error(what: &str, value: &Value) -> Self {
        Self::new("type", "", expected(what, value))
    }
}

pub(super) fn enum_problem(symbols: &[String], value: &Value) -> Option<ValueProblem> {
    match value {
        Value::String(symbol) if symbols.contains(symbol) => None,
        Value::String(_) => Some(ValueProblem::new(
            "enum",
            "/symbols",
            format!("{} is not one of {}", describe(value), symbols.join(", ")),
        )),
        _ => Some(ValueProblem::type_error(
            &format!("one of the symbols {}", symbols.join(", ")),
            value,
        )),
    }
}

pub(super) const MILLIS_PER_DAY: i64 = 86_400_000;

pub(super) fn scalar_problem(schema: &Schema, value: &Value) -> Option<ValueProblem> {
    match schema {
        Schema::Null => (!value.is_null()).then(|| ValueProblem::type_error("null", value)),
        Schema::Boolean => {
            (!value.is_boolean()).then(|| ValueProblem::type_error("a boolean", value))
        }
        Schema::String => (!value.is_string()).then(|| ValueProblem::type_error("a string", value)),
        Schema::Int => integer_problem(value, i32::MIN.into(), i32::MAX.into(), "an int"),
        Schema::Long => integer_problem(value, i64::MIN, i64::MAX, "a long"),
        Schema::Float => float_problem(value),
        Schema::Double => (!value.is_number()).then(|| ValueProblem::type_error("a number", value)),
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
        timestamp => timestamp_problem(timestamp, value),
    }
}

/// Checks an integer literal against `min..=max`.
pub(super) fn integer_problem(
    value: &Value,
    min: i64,
    max: i64,
    what: &str,
) -> Option<ValueProblem> {
    let Value::Number(number) = value else {
        return Some(ValueProblem::type_error(what, value));
    };
    let out_of_range = || {
        ValueProblem::new(
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
    Some(ValueProblem::new(
        "type",
        "",
        format!(
            "expected {what} written as an integer, without fraction or exponent; found {number}"
        ),
    ))
}

fn float_problem(value: &Value) -> Option<ValueProblem> {
    let Some(float) = value.as_f64() else {
        return Some(ValueProblem::type_error("a number", value));
    };
    (float.abs() > f64::from(f32::MAX)).then(|| {
        ValueProblem::new(
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
pub(super) fn bytes_problem(value: &Value, size: Option<usize>) -> Option<ValueProblem> {
    let Value::String(text) = value else {
        return Some(ValueProblem::type_error(
            "a string of bytes (code points 0-255)",
            value,
        ));
    };
    if let Some((index, c)) = text.chars().enumerate().find(|(_, c)| u32::from(*c) > 0xff) {
        return Some(ValueProblem::new(
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
        Some(size) if length != size => Some(ValueProblem::new(
            "size",
            "/size",
            format!("expected exactly {size} bytes, found {length}"),
        )),
        _ => None,
    }
}

pub(super) fn expected(what: &str, value: &Value) -> String {
    format!("expected {what}, found {}", describe(value))
}

/// Names a payload value for a message, quoting at most a short prefix of a
/// string so that an error response stays readable.
pub(super) fn describe(value: &Value) -> String {
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
    use crate::contract::avro_json::testing::*;
    use serde_json::json;

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
    fn duration_is_twelve_bytes() {
        let schema =
            json!({"type": "fixed", "name": "Span", "size": 12, "logicalType": "duration"});
        assert!(accepts(&schema, json!("\u{0001}\u{0000}\u{0000}\u{0000}\u{0002}\u{0000}\u{0000}\u{0000}\u{0003}\u{0000}\u{0000}\u{0000}")));
        assert_eq!(keywords(&schema, json!("short")), ["size"]);
    }
}
