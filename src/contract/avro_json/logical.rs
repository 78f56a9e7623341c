//! Logical types: reading each spelling a client may send (decimal, uuid,
//! date, timestamps), checking it, and writing its one canonical form.
//!
//! Each type is read once into what it means (a `Decimal`, a `time::Date`,
//! nanoseconds since the epoch), so the check and the canonical form cannot
//! disagree: whatever the check accepts, `canonical` can write, and the
//! canonical form reads back to the same value.

use apache_avro::Schema;
use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime, UtcOffset};

use super::values::{describe, integer_problem, ValueProblem};

/// The canonical JSON form of a value the check of `schema` accepted; any
/// other value, and every value of a schema that is no logical type (or
/// whose form is already one: `time-*`, `duration`), comes back as it is.
pub(super) fn canonical(schema: &Schema, value: Value) -> Value {
    let written = match schema {
        Schema::Decimal(decimal) => read_decimal(&value, Some((decimal.precision, decimal.scale)))
            .ok()
            .map(|read| read.plain(i64::try_from(decimal.scale).unwrap_or(i64::MAX))),
        // A big-decimal has no scale of its own: its digits decide.
        Schema::BigDecimal => read_decimal(&value, None).ok().map(|read| read.plain(0)),
        Schema::Uuid => read_uuid(&value)
            .ok()
            .map(|uuid| uuid.hyphenated().to_string()),
        Schema::Date => read_date(&value).ok().map(write_date),
        other => timestamp_of(other).and_then(|timestamp| {
            let nanos = timestamp.read(&value).ok()?;
            timestamp.write(nanos)
        }),
    };
    written.map_or(value, Value::String)
}

/// A decimal reduced to its value: its significant digits and where the
/// point sits among them, whatever spelling it came in.
#[derive(Debug, PartialEq, Eq)]
struct Decimal {
    negative: bool,
    /// Without leading or trailing zeros; empty for zero.
    digits: String,
    /// How many of `digits` stand before the point: negative, or beyond
    /// their count, when zeros stand between the digits and the point.
    point: i64,
    /// The exponent as written after `e`; 0 without one.
    exponent: i64,
}

impl Decimal {
    /// Reads `-?digits(.digits)?([eE][+-]?digits)?`, the JSON number grammar.
    fn parse(text: &str) -> Option<Self> {
        let (negative, unsigned) = match text.strip_prefix('-') {
            Some(unsigned) => (true, unsigned),
            None => (false, text),
        };
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
        let written = format!("{integer}{fraction}");
        let (Some(first), Some(last)) = (written.find(|c| c != '0'), written.rfind(|c| c != '0'))
        else {
            return Some(Self {
                negative,
                digits: String::new(),
                point: 0,
                exponent,
            });
        };
        // Where the point sits in `written` once the exponent is applied.
        let point = i64::try_from(integer.len()).ok()?.saturating_add(exponent);
        Some(Self {
            negative,
            digits: written.get(first..=last)?.to_owned(),
            point: point.saturating_sub(i64::try_from(first).ok()?),
            exponent,
        })
    }

    /// Digits before the point, leading zeros not counted.
    fn integer_digits(&self) -> i64 {
        if self.digits.is_empty() {
            0
        } else {
            self.point.max(0)
        }
    }

    /// Digits after the point, trailing zeros not counted.
    fn fraction_digits(&self) -> i64 {
        self.count().saturating_sub(self.point).max(0)
    }

    fn count(&self) -> i64 {
        i64::try_from(self.digits.len()).unwrap_or(i64::MAX)
    }

    /// Plain notation (no exponent, no leading zeros) with `scale` digits
    /// after the point, or as many as the value needs when it needs more.
    /// Only for a value `read_decimal` accepted: the zeros it writes are as
    /// many as the exponent asks for, which only the limits bound.
    fn plain(&self, scale: i64) -> String {
        let zeros = |count: i64| "0".repeat(usize::try_from(count.max(0)).unwrap_or(0));
        // Where the point falls in `digits`, clamped to them.
        let split = usize::try_from(self.point.clamp(0, self.count())).unwrap_or(0);
        let (before, after) = self.digits.split_at(split);
        let integer = match before {
            "" => "0".to_owned(),
            before => format!("{before}{}", zeros(self.point.saturating_sub(self.count()))),
        };
        let mut fraction = format!("{}{after}", zeros(self.point.saturating_neg()));
        fraction.push_str(&zeros(scale.saturating_sub(self.fraction_digits())));
        let sign = if self.negative && !self.digits.is_empty() {
            "-"
        } else {
            ""
        };
        match fraction.as_str() {
            "" => format!("{sign}{integer}"),
            fraction => format!("{sign}{integer}.{fraction}"),
        }
    }
}

/// How far an exponent may move the point of a `big-decimal`: it is stored
/// in plain notation, so `"1e999999"` must not become a million zeros.
pub(super) const BIG_DECIMAL_EXPONENT: i64 = 100;

/// Checks a `decimal` against its `(precision, scale)`, or a `big-decimal`
/// (no limits) against the reach of its exponent.
pub(super) fn decimal_problem(
    value: &Value,
    limits: Option<(usize, usize)>,
) -> Option<ValueProblem> {
    read_decimal(value, limits).err()
}

/// A decimal from a JSON number or a decimal string, within `limits`.
fn read_decimal(value: &Value, limits: Option<(usize, usize)>) -> Result<Decimal, ValueProblem> {
    // A number is read in its shortest spelling.
    let text = match value {
        Value::Number(number) => number.to_string(),
        Value::String(text) => text.clone(),
        _ => {
            return Err(ValueProblem::type_error(
                "a decimal (a number, or a string like \"12.50\")",
                value,
            ))
        }
    };
    let Some(decimal) = Decimal::parse(&text) else {
        return Err(ValueProblem::new(
            "format",
            "",
            format!(
                "{} is not a decimal number such as \"12.50\"",
                describe(value)
            ),
        ));
    };
    let Some((precision, scale)) = limits else {
        if decimal.exponent.abs() > BIG_DECIMAL_EXPONENT {
            return Err(ValueProblem::new(
                "range",
                "",
                format!("{text} has the exponent {}; a big-decimal is stored without one, so it may move the point at most {BIG_DECIMAL_EXPONENT} places", decimal.exponent),
            ));
        }
        return Ok(decimal);
    };
    let (precision, scale) = (
        i64::try_from(precision).unwrap_or(i64::MAX),
        i64::try_from(scale).unwrap_or(i64::MAX),
    );
    if decimal.fraction_digits() > scale {
        return Err(ValueProblem::new(
            "scale",
            "/scale",
            format!(
                "{text} has {} digits after the point; the scale allows {scale}",
                decimal.fraction_digits()
            ),
        ));
    }
    let integer_limit = precision.saturating_sub(scale);
    if decimal.integer_digits() > integer_limit {
        return Err(ValueProblem::new(
            "precision",
            "/precision",
            format!(
                "{text} has {} digits before the point; precision {precision} with scale {scale} allows {integer_limit}",
                decimal.integer_digits()
            ),
        ));
    }
    Ok(decimal)
}

pub(super) fn uuid_problem(value: &Value) -> Option<ValueProblem> {
    read_uuid(value).err()
}

/// A UUID in the hyphenated 8-4-4-4-12 form, any case.
fn read_uuid(value: &Value) -> Result<uuid::Uuid, ValueProblem> {
    let Value::String(text) = value else {
        return Err(ValueProblem::type_error("a UUID string", value));
    };
    // `try_parse` also takes the simple, braced and URN forms.
    let hyphenated = uuid::Uuid::try_parse(text)
        .ok()
        .filter(|_| text.len() == 36);
    hyphenated.ok_or_else(|| {
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

pub(super) fn date_problem(value: &Value) -> Option<ValueProblem> {
    read_date(value).err()
}

/// The years an RFC 3339 date or timestamp can write: four digits.
const YEARS: std::ops::RangeInclusive<i32> = 0..=9999;

/// The days since 1970-01-01 a `date` takes: those of [`YEARS`].
pub(super) fn days_range() -> std::ops::RangeInclusive<i64> {
    let epoch = OffsetDateTime::UNIX_EPOCH.date().to_julian_day();
    let day = |year, month, day| {
        Date::from_calendar_date(year, month, day)
            .map_or(0, |date| i64::from(date.to_julian_day() - epoch))
    };
    day(*YEARS.start(), time::Month::January, 1)..=day(*YEARS.end(), time::Month::December, 31)
}

/// A date from days since 1970-01-01 or from `YYYY-MM-DD`.
fn read_date(value: &Value) -> Result<Date, ValueProblem> {
    let Value::String(text) = value else {
        let what = "a date (days since 1970-01-01, or a string like \"2024-05-01\")";
        if let Some(problem) = integer_problem(value, i32::MIN.into(), i32::MAX.into(), what) {
            return Err(problem);
        }
        let epoch = OffsetDateTime::UNIX_EPOCH.date().to_julian_day();
        return value
            .as_i64()
            .and_then(|days| i32::try_from(days).ok())
            .and_then(|days| days.checked_add(epoch))
            .and_then(|day| Date::from_julian_day(day).ok())
            .filter(|date| YEARS.contains(&date.year()))
            .ok_or_else(|| {
                ValueProblem::new(
                    "range",
                    "",
                    format!("{} is out of range for a date: it must fall in the years 0000 to 9999, which is all \"YYYY-MM-DD\" can write", describe(value)),
                )
            });
    };
    parse_date(text).ok_or_else(|| {
        ValueProblem::new(
            "format",
            "",
            format!("{} is not a date in the form 2024-05-01", describe(value)),
        )
    })
}

/// Exactly `YYYY-MM-DD`, a real calendar day.
fn parse_date(text: &str) -> Option<Date> {
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
    Date::from_calendar_date(year, month, day).ok()
}

fn write_date(date: Date) -> String {
    format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

/// The unit of a timestamp type.
#[derive(Clone, Copy)]
pub(super) enum Unit {
    Millis,
    Micros,
    Nanos,
}

impl Unit {
    /// Nanoseconds in one unit.
    fn nanos(self) -> i128 {
        match self {
            Unit::Millis => 1_000_000,
            Unit::Micros => 1_000,
            Unit::Nanos => 1,
        }
    }

    /// Digits after the second that show the unit.
    pub(super) fn digits(self) -> usize {
        match self {
            Unit::Millis => 3,
            Unit::Micros => 6,
            Unit::Nanos => 9,
        }
    }

    /// As in the type's name: `timestamp-millis`.
    fn name(self) -> &'static str {
        match self {
            Unit::Millis => "millis",
            Unit::Micros => "micros",
            Unit::Nanos => "nanos",
        }
    }

    fn plural(self) -> &'static str {
        match self {
            Unit::Millis => "milliseconds",
            Unit::Micros => "microseconds",
            Unit::Nanos => "nanoseconds",
        }
    }
}

/// A timestamp type: its unit, and whether it is `local-`, a wall-clock
/// reading in no particular zone rather than an instant.
#[derive(Clone, Copy)]
pub(super) struct Timestamp {
    pub(super) unit: Unit,
    pub(super) local: bool,
}

/// The timestamp type of `schema`, if it is one.
pub(super) fn timestamp_of(schema: &Schema) -> Option<Timestamp> {
    let (unit, local) = match schema {
        Schema::TimestampMillis => (Unit::Millis, false),
        Schema::TimestampMicros => (Unit::Micros, false),
        Schema::TimestampNanos => (Unit::Nanos, false),
        Schema::LocalTimestampMillis => (Unit::Millis, true),
        Schema::LocalTimestampMicros => (Unit::Micros, true),
        Schema::LocalTimestampNanos => (Unit::Nanos, true),
        _ => return None,
    };
    Some(Timestamp { unit, local })
}

/// Checks a value against the timestamp type of `schema`.
pub(super) fn timestamp_problem(schema: &Schema, value: &Value) -> Option<ValueProblem> {
    timestamp_of(schema)?.read(value).err()
}

impl Timestamp {
    /// The integers (units since the epoch) the type takes: what its long
    /// holds within [`YEARS`].
    pub(super) fn units_range(self) -> std::ops::RangeInclusive<i64> {
        let instant = |year, month, day, time| {
            Date::from_calendar_date(year, month, day).map_or(0, |date| {
                date.with_time(time).assume_utc().unix_timestamp_nanos()
            })
        };
        let first = instant(
            *YEARS.start(),
            time::Month::January,
            1,
            time::Time::MIDNIGHT,
        );
        let last = instant(*YEARS.end(), time::Month::December, 31, time::Time::MAX);
        // `first` is a midnight, a whole number of any unit; `last` is
        // positive, so dividing rounds it down to a whole unit.
        let units = |nanos: i128| i64::try_from(nanos / self.unit.nanos());
        let low = units(first).unwrap_or(i64::MIN);
        let high = units(last).unwrap_or(i64::MAX);
        low..=high
    }

    fn name(self) -> String {
        let local = if self.local { "local-" } else { "" };
        format!("{local}timestamp-{}", self.unit.name())
    }

    /// Nanoseconds since the epoch (for a local timestamp, since midnight
    /// of 1970-01-01 on its wall clock): a whole number of units that the
    /// type's long holds and RFC 3339's four-digit years can write.
    fn read(self, value: &Value) -> Result<i128, ValueProblem> {
        let nanos = match value {
            Value::String(text) => self.parse(text).ok_or_else(|| {
                ValueProblem::new(
                    "format",
                    "",
                    format!(
                        "{} is not an RFC 3339 timestamp such as 2024-05-01T10:00:00Z{}",
                        describe(value),
                        if self.local {
                            " or 2024-05-01T10:00:00"
                        } else {
                            ""
                        }
                    ),
                )
            })?,
            _ => {
                let what = "a timestamp (a long since the Unix epoch, or a string like \"2024-05-01T10:00:00Z\")";
                if let Some(problem) = integer_problem(value, i64::MIN, i64::MAX, what) {
                    return Err(problem);
                }
                let units = value
                    .as_i64()
                    .ok_or_else(|| ValueProblem::type_error(what, value))?;
                i128::from(units) * self.unit.nanos()
            }
        };
        if nanos % self.unit.nanos() != 0 {
            return Err(ValueProblem::new(
                "format",
                "",
                format!(
                    "{} is more precise than a {}, which holds whole {}",
                    describe(value),
                    self.name(),
                    self.unit.plural()
                ),
            ));
        }
        let in_long = i64::try_from(nanos / self.unit.nanos()).is_ok();
        let writable = OffsetDateTime::from_unix_timestamp_nanos(nanos)
            .is_ok_and(|instant| YEARS.contains(&instant.year()));
        if in_long && writable {
            return Ok(nanos);
        }
        let bounds = match self.unit {
            Unit::Nanos => {
                "from 1677-09-21 to 2262-04-11, what a long of nanoseconds since the epoch holds"
            }
            _ => "in the years 0000 to 9999, which is all RFC 3339 can write",
        };
        Err(ValueProblem::new(
            "range",
            "",
            format!(
                "{} is out of range for a {}: it must fall {bounds}",
                describe(value),
                self.name()
            ),
        ))
    }

    /// An RFC 3339 string; a local timestamp also takes one without an
    /// offset, and keeps the wall clock of one with an offset.
    fn parse(self, text: &str) -> Option<i128> {
        // RFC 3339 separates date and time with `T` (any case) or a space;
        // the `time` crate takes any byte there.
        if !matches!(text.as_bytes().get(10), Some(b'T' | b't' | b' ')) {
            return None;
        }
        let parsed = match OffsetDateTime::parse(text, &Rfc3339) {
            Ok(parsed) if self.local => parsed.replace_offset(UtcOffset::UTC),
            Ok(parsed) => parsed,
            Err(_) if self.local => OffsetDateTime::parse(&format!("{text}Z"), &Rfc3339).ok()?,
            Err(_) => return None,
        };
        Some(parsed.unix_timestamp_nanos())
    }

    /// RFC 3339 in UTC with the unit's digits after the second
    /// (`2024-05-01T10:00:00.000Z` for millis); no offset for a local one.
    fn write(self, nanos: i128) -> Option<String> {
        let at = OffsetDateTime::from_unix_timestamp_nanos(nanos).ok()?;
        let fraction = i128::from(at.nanosecond()) / self.unit.nanos();
        Some(format!(
            "{}T{:02}:{:02}:{:02}.{fraction:0width$}{}",
            write_date(at.date()),
            at.hour(),
            at.minute(),
            at.second(),
            if self.local { "" } else { "Z" },
            width = self.unit.digits(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::avro_json::testing::*;
    use serde_json::json;

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
        let digits = |text| Decimal::parse(text).map(|d| (d.integer_digits(), d.fraction_digits()));
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
    fn timestamps_are_epoch_integers_or_rfc3339() {
        let schema = json!({"type": "long", "logicalType": "timestamp-millis"});
        assert!(accepts(&schema, json!(1_714_557_600_000_i64)));
        assert!(accepts(&schema, json!("2024-05-01T10:00:00Z")));
        assert!(accepts(&schema, json!("2024-05-01T10:00:00.123+02:00")));
        assert_eq!(keywords(&schema, json!("2024-05-01T10:00:00")), ["format"]);
        assert_eq!(keywords(&schema, json!("yesterday")), ["format"]);
        assert_eq!(keywords(&schema, json!(1.5)), ["type"]);
        // RFC 3339's separators only: `T` in any case, or a space.
        assert!(accepts(&schema, json!("2024-05-01t10:00:00z")));
        assert!(accepts(&schema, json!("2024-05-01 10:00:00Z")));
        assert_eq!(keywords(&schema, json!("2024-05-01x10:00:00Z")), ["format"]);
        let local = json!({"type": "long", "logicalType": "local-timestamp-micros"});
        assert!(accepts(&local, json!("2024-05-01T10:00:00")));
        assert!(accepts(&local, json!("2024-05-01T10:00:00Z")));
        let nanos = json!({"type": "long", "logicalType": "timestamp-nanos"});
        assert!(accepts(&nanos, json!("2024-05-01T10:00:00Z")));
        assert_eq!(keywords(&nanos, json!("2300-01-01T00:00:00Z")), ["range"]);
    }

    #[test]
    fn decimal_is_stored_as_a_string_with_the_schema_scale() {
        let schema =
            json!({"type": "bytes", "logicalType": "decimal", "precision": 10, "scale": 2});
        let spellings = [
            (
                vec![
                    json!(8.99),
                    json!("8.99"),
                    json!("8.990"),
                    json!("08.99"),
                    json!("899e-2"),
                    json!("0.0899E2"),
                ],
                "8.99",
            ),
            (
                vec![json!(12.5), json!("12.5"), json!("12.50"), json!("1.25e1")],
                "12.50",
            ),
            (
                vec![json!(0), json!("-0"), json!("0.000"), json!("0e5")],
                "0.00",
            ),
            (vec![json!(-3), json!("-3"), json!("-3.000")], "-3.00"),
            (vec![json!(1e3), json!(1000), json!("1E+3")], "1000.00"),
            (vec![json!(0.05), json!("5e-2"), json!("0.050")], "0.05"),
        ];
        for (sent, stored) in spellings {
            assert_normalizes(&schema, &sent, &json!(stored));
        }
        let fixed = json!({"type": "fixed", "name": "Count", "size": 4,
                           "logicalType": "decimal", "precision": 5, "scale": 0});
        assert_normalizes(
            &fixed,
            &[json!(42), json!("42"), json!("4.2e1")],
            &json!("42"),
        );
    }

    #[test]
    fn big_decimal_is_stored_as_a_plain_string_of_its_own_digits() {
        let schema = json!({"type": "bytes", "logicalType": "big-decimal"});
        assert_normalizes(
            &schema,
            &[json!(150), json!("150"), json!("150.000"), json!("1.5e2")],
            &json!("150"),
        );
        assert_normalizes(&schema, &[json!(0.05), json!("0.050")], &json!("0.05"));
        let hundred_zeros = format!("1{}", "0".repeat(100));
        assert_normalizes(&schema, &[json!("1e100")], &json!(hundred_zeros));
        assert_eq!(keywords(&schema, json!("1e101")), ["range"]);
        assert_eq!(keywords(&schema, json!("1e-101")), ["range"]);
    }

    #[test]
    fn uuid_is_stored_in_lower_case() {
        let schema = json!({"type": "string", "logicalType": "uuid"});
        assert_normalizes(
            &schema,
            &[json!("123E4567-E89B-12D3-A456-426614174000")],
            &json!("123e4567-e89b-12d3-a456-426614174000"),
        );
    }

    #[test]
    fn date_is_stored_as_an_iso_date() {
        let schema = json!({"type": "int", "logicalType": "date"});
        assert_normalizes(
            &schema,
            &[json!(19844), json!("2024-05-01")],
            &json!("2024-05-01"),
        );
        assert_normalizes(&schema, &[json!(-1)], &json!("1969-12-31"));
        // Only days an ISO date can write: 0000-01-01 to 9999-12-31.
        assert_normalizes(&schema, &[json!(-719_528)], &json!("0000-01-01"));
        assert_normalizes(&schema, &[json!(2_932_896)], &json!("9999-12-31"));
        assert_eq!(keywords(&schema, json!(-719_529)), ["range"]);
        assert_eq!(keywords(&schema, json!(2_932_897)), ["range"]);
    }

    #[test]
    fn timestamps_are_stored_as_rfc3339_utc_with_the_unit_digits() {
        let millis = json!({"type": "long", "logicalType": "timestamp-millis"});
        assert_normalizes(
            &millis,
            &[
                json!(1_714_557_600_000_i64),
                json!("2024-05-01T10:00:00Z"),
                json!("2024-05-01T12:00:00+02:00"),
                json!("2024-05-01T10:00:00.000000z"),
            ],
            &json!("2024-05-01T10:00:00.000Z"),
        );
        assert_normalizes(
            &millis,
            &[
                json!(1_714_557_600_250_i64),
                json!("2024-05-01T12:00:00.25+02:00"),
            ],
            &json!("2024-05-01T10:00:00.250Z"),
        );
        assert_normalizes(&millis, &[json!(-1)], &json!("1969-12-31T23:59:59.999Z"));
        let micros = json!({"type": "long", "logicalType": "timestamp-micros"});
        assert_normalizes(
            &micros,
            &[
                json!(1_714_557_600_000_001_i64),
                json!("2024-05-01T10:00:00.000001Z"),
            ],
            &json!("2024-05-01T10:00:00.000001Z"),
        );
        let nanos = json!({"type": "long", "logicalType": "timestamp-nanos"});
        assert_normalizes(
            &nanos,
            &[
                json!(1_714_557_600_000_000_001_i64),
                json!("2024-05-01T10:00:00.000000001Z"),
            ],
            &json!("2024-05-01T10:00:00.000000001Z"),
        );
    }

    #[test]
    fn local_timestamps_are_stored_as_their_wall_clock_without_offset() {
        let local = json!({"type": "long", "logicalType": "local-timestamp-millis"});
        assert_normalizes(
            &local,
            &[
                json!(1_714_557_600_000_i64),
                json!("2024-05-01T10:00:00"),
                json!("2024-05-01T10:00:00Z"),
                json!("2024-05-01T10:00:00+02:00"),
            ],
            &json!("2024-05-01T10:00:00.000"),
        );
        let micros = json!({"type": "long", "logicalType": "local-timestamp-micros"});
        assert_normalizes(&micros, &[json!(1)], &json!("1970-01-01T00:00:00.000001"));
    }

    #[test]
    fn timestamps_hold_whole_units_in_years_rfc3339_can_write() {
        let millis = json!({"type": "long", "logicalType": "timestamp-millis"});
        assert_eq!(
            keywords(&millis, json!("2024-05-01T10:00:00.0001Z")),
            ["format"]
        );
        let micros = json!({"type": "long", "logicalType": "local-timestamp-micros"});
        assert_eq!(
            keywords(&micros, json!("2024-05-01T10:00:00.0000001")),
            ["format"]
        );
        assert_normalizes(
            &millis,
            &[json!(253_402_300_799_999_i64)],
            &json!("9999-12-31T23:59:59.999Z"),
        );
        assert_eq!(keywords(&millis, json!(253_402_300_800_000_i64)), ["range"]);
        assert_eq!(keywords(&millis, json!(i64::MIN)), ["range"]);
        // A year-0000 time east of UTC falls in year -1 in UTC.
        assert_eq!(
            keywords(&millis, json!("0000-01-01T00:30:00+01:00")),
            ["range"]
        );
    }

    #[test]
    fn time_of_day_and_duration_keep_their_form() {
        let time = json!({"type": "int", "logicalType": "time-millis"});
        assert_normalizes(&time, &[json!(36_000_000)], &json!(36_000_000));
        let duration =
            json!({"type": "fixed", "name": "Span", "size": 12, "logicalType": "duration"});
        let twelve = json!("\u{0001}\u{0000}\u{0000}\u{0000}\u{0002}\u{0000}\u{0000}\u{0000}\u{0003}\u{0000}\u{0000}\u{0000}");
        assert_normalizes(&duration, std::slice::from_ref(&twelve), &twelve);
    }

    proptest::proptest! {
        #[test]
        fn every_spelling_of_a_decimal_has_one_canonical_form(
            unscaled in -999_999_999_999_i64..=999_999_999_999,
            scale in 0_u32..=6,
            padding in 0_usize..=3,
        ) {
            let schema = json!({"type": "bytes", "logicalType": "decimal",
                                "precision": 12 + scale, "scale": scale});
            let sign = if unscaled < 0 { "-" } else { "" };
            let digits = unscaled.unsigned_abs().to_string();
            let scale = scale as usize;
            let exponent = format!("{sign}{digits}e-{scale}");
            let full = format!("{digits:0>width$}", width = scale + 1);
            let (integer, fraction) = full.split_at(full.len() - scale);
            let zeros = "0".repeat(padding);
            let plain = format!("{sign}{zeros}{integer}.{fraction}0{zeros}");
            let canonical = avro(schema.clone()).normalize(json!(exponent));
            assert_normalizes(&schema, &[json!(exponent), json!(plain)], &canonical);
            let text = canonical.as_str().unwrap_or_default();
            let stored_scale = text.split_once('.').map_or(0, |(_, f)| f.len());
            proptest::prop_assert_eq!(stored_scale, scale);
            let stored_digits = text.replace(['.', '-'], "");
            proptest::prop_assert_eq!(stored_digits.trim_start_matches('0'), digits.trim_start_matches('0'));
            proptest::prop_assert_eq!(text.starts_with('-'), unscaled < 0);
        }

        #[test]
        fn every_spelling_of_a_timestamp_has_one_canonical_form(
            millis in -62_167_219_200_000_i64..=253_402_300_799_999,
        ) {
            let schema = json!({"type": "long", "logicalType": "timestamp-millis"});
            let canonical = avro(schema.clone()).normalize(json!(millis));
            let Ok(instant) = OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000) else {
                return Err(proptest::test_runner::TestCaseError::fail("in range"));
            };
            let rfc3339 = instant.format(&Rfc3339).unwrap_or_default();
            assert_normalizes(&schema, &[json!(millis), json!(rfc3339)], &canonical);
        }
    }
}
