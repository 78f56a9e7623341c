//! The JSON body of a write, checked at the boundary: media type, size,
//! UTF-8, nesting depth, syntax, shape and number range. Handlers receive a
//! [`JsonObject`] and never see raw bytes.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{FromRequest, Request};
use axum::http::{header, HeaderMap};
use serde_json::Value;

use super::problem::Problem;
use crate::config::Limits;
use crate::contract::pointer::push_token;
use crate::gateway::Gateway;

/// A request body that is a JSON object within the gateway's limits.
#[derive(Debug)]
pub struct JsonObject(pub Value);

impl FromRequest<Arc<Gateway>> for JsonObject {
    type Rejection = Problem;

    async fn from_request(request: Request, gateway: &Arc<Gateway>) -> Result<Self, Problem> {
        let limits = gateway.config().limits;
        check_media_type(request.headers())?;
        let bytes = read_limited(request.into_body(), limits.body_bytes).await?;
        parse(&bytes, &limits).map(JsonObject)
    }
}

/// JSON bodies: `application/json` or any `application/*+json`
/// (`merge-patch+json` among them).
fn check_media_type(headers: &HeaderMap) -> Result<(), Problem> {
    check_content_type(
        headers,
        "JSON (Content-Type: application/json or application/merge-patch+json)",
        |essence| {
            essence == "application/json"
                || (essence.starts_with("application/") && essence.ends_with("+json"))
        },
    )
}

/// Checks a body's declared media type (its essence, lower case) against
/// what a route `accepts`; `expected` says it in the 415's detail.
pub(super) fn check_content_type(
    headers: &HeaderMap,
    expected: &str,
    accepts: impl Fn(&str) -> bool,
) -> Result<(), Problem> {
    let unsupported = |found: &str| Problem::unsupported_media_type(expected, found);
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Err(unsupported("a body without Content-Type"));
    };
    let text = value
        .to_str()
        .map_err(|_| unsupported("an unreadable Content-Type"))?;
    let essence = text
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if accepts(&essence) {
        Ok(())
    } else {
        Err(unsupported(&format!("`{text}`")))
    }
}

async fn read_limited(body: Body, limit: usize) -> Result<axum::body::Bytes, Problem> {
    axum::body::to_bytes(body, limit).await.map_err(|error| {
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&error);
        while let Some(current) = source {
            if current.is::<http_body_util::LengthLimitError>() {
                return Problem::too_large(limit);
            }
            source = current.source();
        }
        Problem::malformed(format!("the body could not be read: {error}"))
    })
}

/// Parses a body that has passed the size check.
pub fn parse(bytes: &[u8], limits: &Limits) -> Result<Value, Problem> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        Problem::malformed(format!(
            "the body is not valid UTF-8 (byte {})",
            e.valid_up_to()
        ))
    })?;
    let scan = scan(text, limits.json_depth)?;
    let value = parse_bounded(text)
        .map_err(|e| Problem::malformed(format!("the body is not valid JSON: {e}")))?;
    if !value.is_object() {
        return Err(Problem::malformed(format!(
            "the body must be a JSON object, not {}",
            kind_of(&value)
        )));
    }
    if let Some(literal) = scan.oversized_integer {
        return Err(out_of_range(&value, literal));
    }
    Ok(value)
}

/// serde_json stops at 127 levels of its own accord; the scan has already
/// bounded the depth by the configured limit, so that one decides.
fn parse_bounded(text: &str) -> serde_json::Result<Value> {
    use serde::Deserialize;
    let mut deserializer = serde_json::Deserializer::from_str(text);
    deserializer.disable_recursion_limit();
    let value = Value::deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(value)
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

struct Scan<'t> {
    oversized_integer: Option<&'t str>,
}

/// One pass over the text before parsing: refuses nesting deeper than the
/// limit (so deep input never reaches a recursive parser or validator) and
/// finds integer literals beyond 64 bits, which serde_json would silently
/// round to a float — storing a number other than the one sent.
fn scan(text: &str, max_depth: usize) -> Result<Scan<'_>, Problem> {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let mut oversized_integer = None;
    let mut i = 0;
    while i < bytes.len() {
        let byte = bytes[i];
        if in_string {
            match (escaped, byte) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
        } else {
            match byte {
                b'"' => in_string = true,
                b'{' | b'[' => {
                    depth += 1;
                    if depth > max_depth {
                        return Err(Problem::malformed(format!(
                            "the body nests deeper than the limit of {max_depth} levels"
                        )));
                    }
                }
                b'}' | b']' => depth = depth.saturating_sub(1),
                b'-' | b'0'..=b'9' => {
                    let end = bytes[i..]
                        .iter()
                        .position(|b| !matches!(b, b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9'))
                        .map_or(bytes.len(), |n| i + n);
                    let literal = &text[i..end];
                    let integral = !literal.contains(['.', 'e', 'E']);
                    if integral
                        && oversized_integer.is_none()
                        && literal.parse::<i64>().is_err()
                        && literal.parse::<u64>().is_err()
                    {
                        oversized_integer = Some(literal);
                    }
                    i = end;
                    continue;
                }
                _ => {}
            }
        }
        i += 1;
    }
    Ok(Scan { oversized_integer })
}

/// A 422 naming where the too-large integer is: the parsed value holds it
/// as the float it was rounded to, which finds its place.
fn out_of_range(value: &Value, literal: &str) -> Problem {
    let rounded = literal.parse::<f64>().ok();
    let pointer = rounded
        .and_then(|target| find_number(value, target, String::new()))
        .unwrap_or_default();
    Problem::number_out_of_range(literal, pointer)
}

fn find_number(value: &Value, target: f64, at: String) -> Option<String> {
    match value {
        Value::Number(n) if n.is_f64() && n.as_f64() == Some(target) => Some(at),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| find_number(item, target, push_token(&at, &i.to_string()))),
        Value::Object(map) => map
            .iter()
            .find_map(|(k, item)| find_number(item, target, push_token(&at, k))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits::default()
    }

    #[test]
    fn depth_is_counted_outside_strings_only() {
        assert!(parse(
            br#"{"a": "[[[[[[[["}"#,
            &Limits {
                json_depth: 2,
                ..limits()
            }
        )
        .is_ok());
        assert!(parse(
            br#"{"a": [[1]]}"#,
            &Limits {
                json_depth: 2,
                ..limits()
            }
        )
        .is_err());
        let at_limit = format!(r#"{{"a":{}{}}}"#, "[".repeat(127), "]".repeat(127));
        assert!(
            parse(at_limit.as_bytes(), &limits()).is_ok(),
            "128 levels are allowed"
        );
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(parse(deep.as_bytes(), &limits()).is_err());
    }

    #[test]
    fn oversized_integers_are_found_with_their_pointer() {
        let problem = parse(
            br#"{"a": [1, {"b": 123456789012345678901234567890}]}"#,
            &limits(),
        )
        .unwrap_err();
        let body = serde_json::to_value(&problem).unwrap();
        assert_eq!(body["violations"][0]["pointer"], "/a/1/b");
        assert!(parse(br#"{"a": 18446744073709551615, "b": -9223372036854775808, "c": 1e300, "d": "99999999999999999999"}"#, &limits()).is_ok());
    }

    #[test]
    fn only_objects_are_bodies() {
        for body in ["[1]", "1", "\"x\"", "null"] {
            assert!(parse(body.as_bytes(), &limits()).is_err(), "{body}");
        }
        assert!(parse(b"\xff\xfe", &limits()).is_err());
    }
}
