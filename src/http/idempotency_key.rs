//! The `Idempotency-Key` request header and the `Idempotent-Replayed`
//! response header. The IETF draft makes the key an RFC 8941 String item
//! (`"8e03978e-…"`); a bare token (`8e03978e-…`, as many clients send it) is
//! accepted too and is the same key as its quoted form. Parameters after
//! the string mean nothing to the draft and are refused rather than
//! ignored, so that no two spellings silently differ.

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::response::Response;

use super::problem::Problem;
use crate::systems::IdempotencyKey;

const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
const IDEMPOTENT_REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// The request's idempotency key, if it sent one; 400 when it is not one.
pub fn idempotency_key(headers: &HeaderMap) -> Result<Option<IdempotencyKey>, Problem> {
    let mut values = headers.get_all(IDEMPOTENCY_KEY).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(Problem::invalid_idempotency_key(
            "the request has more than one Idempotency-Key",
        ));
    }
    let text = value
        .to_str()
        .map_err(|_| Problem::invalid_idempotency_key("Idempotency-Key is not ASCII text"))?;
    let key = unquote(text.trim_matches([' ', '\t']))?;
    IdempotencyKey::parse(&key)
        .map(Some)
        .map_err(|why| Problem::invalid_idempotency_key(format!("Idempotency-Key: {why}")))
}

/// Marks an answer taken from the ledger.
pub fn mark_replayed(response: &mut Response, replayed: bool) {
    if replayed {
        response
            .headers_mut()
            .insert(IDEMPOTENT_REPLAYED, HeaderValue::from_static("true"));
    }
}

/// The key's text: an RFC 8941 sf-string unescaped, or a bare token.
fn unquote(text: &str) -> Result<String, Problem> {
    let invalid = |why: &str| {
        Problem::invalid_idempotency_key(format!(
            "Idempotency-Key must be a quoted string (\"…\") or a token: {why}"
        ))
    };
    let Some(quoted) = text.strip_prefix('"') else {
        // RFC 9110 tchar: what a token may hold.
        let tchar = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
        return match text.chars().find(|c| !tchar(*c)) {
            Some(c) => Err(invalid(&format!("{c:?} in an unquoted key"))),
            None => Ok(text.to_owned()),
        };
    };
    let mut key = String::new();
    let mut chars = quoted.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(escaped @ ('"' | '\\')) => key.push(escaped),
                _ => return Err(invalid("only \\\" and \\\\ may be escaped")),
            },
            '"' if chars.as_str().is_empty() => return Ok(key),
            '"' => return Err(invalid("text after the closing quote")),
            c => key.push(c),
        }
    }
    Err(invalid("no closing quote"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(values: &[&str]) -> Result<Option<String>, Problem> {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(
                IDEMPOTENCY_KEY,
                HeaderValue::from_str(value).expect("a value"),
            );
        }
        idempotency_key(&headers).map(|key| key.map(|k| k.as_str().to_owned()))
    }

    fn key(value: &str) -> Option<String> {
        parse(&[value]).expect("a valid key")
    }

    #[test]
    fn strings_and_tokens_are_keys() {
        assert_eq!(parse(&[]).expect("no key"), None);
        let uuid = "8e03978e-40d5-43e8-bc93-6894a57f9324";
        assert_eq!(key(&format!("\"{uuid}\"")).as_deref(), Some(uuid));
        assert_eq!(key(uuid).as_deref(), Some(uuid));
        assert_eq!(key(r#" "a \"b\" \\ c" "#).as_deref(), Some(r#"a "b" \ c"#));
        let longest = "k".repeat(IdempotencyKey::MAX_LEN);
        assert_eq!(key(&longest), Some(longest));
    }

    #[test]
    fn anything_else_is_refused() {
        let too_long = "k".repeat(IdempotencyKey::MAX_LEN + 1);
        for bad in [
            "",
            "\"\"",
            "\"open",
            "\"a\";p=1",
            "\"a\" \"b\"",
            r#""a\b""#,
            "two words",
            "a;b",
            "\"tab\there\"",
            too_long.as_str(),
        ] {
            assert!(parse(&[bad]).is_err(), "{bad:?} was accepted");
        }
        assert!(parse(&["a", "b"]).is_err(), "two keys were accepted");
        let mut headers = HeaderMap::new();
        headers.insert(
            IDEMPOTENCY_KEY,
            HeaderValue::from_bytes(b"\"caf\xc3\xa9\"").expect("a value"),
        );
        assert!(idempotency_key(&headers).is_err(), "non-ASCII was accepted");
    }
}
