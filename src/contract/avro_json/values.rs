//! The checks of leaf values: scalars, bytes and fixed, enums, decimals and
//! the other logical types, with the wording of their messages.

use apache_avro::Schema;
use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// One way a value breaks a leaf schema, before it is tied to a pointer.
pub(super) struct ValueProblem {
    pub(super) keyword: &'static str,
    /// Appended to the schema location: the attribute at fault, if any.
    pub(super) suffix: &'static str,
    pub(super) message: String,
}

impl ValueProblem {
    fn new(keyword: &'static str, suffix: &'static str, message: String) -> Self {
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

const MILLIS_PER_DAY: i64 = 86_400_000;

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
fn integer_problem(value: &Value, min: i64, max: i64, what: &str) -> Option<ValueProblem> {
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

pub(super) fn decimal_problem(
    value: &Value,
    limits: Option<(usize, usize)>,
) -> Option<ValueProblem> {
    let text = match value {
        Value::Number(number) => number.to_string(),
        Value::String(text) => text.clone(),
        _ => {
            return Some(ValueProblem::type_error(
                "a decimal (a number, or a string like \"12.50\")",
                value,
            ))
        }
    };
    let Some(digits) = decimal_digits(&text) else {
        return Some(ValueProblem::new(
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
        return Some(ValueProblem::new(
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
        ValueProblem::new(
            "precision",
            "/precision",
            format!(
                "{text} has {} digits before the point; precision {precision} with scale {scale} allows {integer_limit}",
                digits.integer
            ),
        )
    })
}

fn uuid_problem(value: &Value) -> Option<ValueProblem> {
    let Value::String(text) = value else {
        return Some(ValueProblem::type_error("a UUID string", value));
    };
    let hyphenated = text.len() == 36 && uuid::Uuid::try_parse(text).is_ok();
    (!hyphenated).then(|| {
        ValueProblem::new(
            "format",
            "",
            format!(
                "{} is not a UUID in the form 123e4567-e89b-12d3-a456-426614174000",
                describe(value)
            ),
        )
    })
}

fn date_problem(value: &Value) -> Option<ValueProblem> {
    let Value::String(text) = value else {
        return integer_problem(
            value,
            i32::MIN.into(),
            i32::MAX.into(),
            "a date (days since 1970-01-01, or a string like \"2024-05-01\")",
        );
    };
    parse_date(text).is_none().then(|| {
        ValueProblem::new(
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

fn timestamp_problem(value: &Value, local: bool, nanos: bool) -> Option<ValueProblem> {
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
        Err(_) => Some(ValueProblem::new(
            "format",
            "",
            format!(
                "{} is not an RFC 3339 timestamp such as 2024-05-01T10:00:00Z{}",
                describe(value),
                if local { " or 2024-05-01T10:00:00" } else { "" }
            ),
        )),
        Ok(instant) if nanos && i64::try_from(instant.unix_timestamp_nanos()).is_err() => {
            Some(ValueProblem::new(
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

pub(super) fn expected(what: &str, value: &Value) -> String {
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
}
