//! `If-Match` (RFC 9110 §13.1.1) parsed into the precondition a write
//! carries.
//!
//! Hand-written rather than the `headers` crate's `IfMatch`: that type keeps
//! its entity-tags private and only answers `precondition_passes(&ETag)`,
//! which needs the current ETag, known only inside the owner's transaction;
//! it also skips list entries it cannot parse instead of refusing them, and
//! it refuses the bare revision (`3`) this gateway accepts for curl users.

use axum::http::{header, HeaderMap};

use super::problem::Problem;
use crate::systems::Precondition;

/// The precondition the request's `If-Match` fields state, if any.
///
/// `*` needs a current record; otherwise the record's revision must equal
/// one of the listed strong entity-tags. Our ETags are `"<revision>"`, so
/// only a strong tag holding a revision in canonical decimal can match:
/// weak tags (`W/"1"`, never equal under strong comparison) and other
/// opaque tags are valid but match nothing. A bare revision (`3`) counts as
/// `"3"`. Anything else is a 400.
pub fn precondition(headers: &HeaderMap) -> Result<Option<Precondition>, Problem> {
    let mut fields = headers.get_all(header::IF_MATCH).iter().peekable();
    if fields.peek().is_none() {
        return Ok(None);
    }
    // Several field lines are one comma-separated list (RFC 9110 §5.3).
    let value = fields
        .map(|field| field.as_bytes())
        .collect::<Vec<_>>()
        .join(&b","[..]);
    parse(&value).map(Some).map_err(|why| {
        Problem::invalid_precondition(format!(
            "If-Match `{}` is not valid: {why}; send `*`, or entity-tags such as `\"3\"` separated by commas",
            String::from_utf8_lossy(&value)
        ))
    })
}

/// Parses `"*" / #entity-tag`, where `entity-tag = [ "W/" ] DQUOTE
/// *etagc DQUOTE` (RFC 9110 §8.8.3), plus the bare revision.
fn parse(value: &[u8]) -> Result<Precondition, String> {
    if value.trim_ascii() == b"*" {
        return Ok(Precondition::Exists);
    }
    let mut revisions = Vec::new();
    let mut tags = 0;
    let mut rest = value;
    loop {
        // Empty list elements are allowed and ignored (RFC 9110 §5.6.1.2).
        rest = rest.trim_ascii_start();
        while let Some(after) = rest.strip_prefix(b",") {
            rest = after.trim_ascii_start();
        }
        if rest.is_empty() {
            break;
        }
        let (revision, after) = entity_tag(rest)?;
        revisions.extend(revision);
        tags += 1;
        rest = after.trim_ascii_start();
        if !(rest.is_empty() || rest.starts_with(b",")) {
            return Err(format!(
                "`{}` follows an entity-tag without a comma",
                String::from_utf8_lossy(rest)
            ));
        }
    }
    if tags == 0 {
        return Err("it names no entity-tag".to_owned());
    }
    Ok(Precondition::Revisions(revisions))
}

/// One entity-tag at the start of `text`: the revision it can match, if
/// any, and what follows it.
fn entity_tag(text: &[u8]) -> Result<(Option<u64>, &[u8]), String> {
    let (weak, quoted) = match text.strip_prefix(b"W/") {
        Some(quoted) => (true, quoted),
        None => (false, text),
    };
    let Some(opaque) = quoted.strip_prefix(b"\"") else {
        if text.starts_with(b"*") {
            return Err("`*` must stand alone".to_owned());
        }
        let digits = text.iter().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 {
            return Err("an entity-tag must be quoted, as in `\"3\"`".to_owned());
        }
        return Ok((revision(&text[..digits]), &text[digits..]));
    };
    let Some(end) = opaque.iter().position(|&b| b == b'"') else {
        return Err("an entity-tag's closing quote is missing".to_owned());
    };
    let tag = &opaque[..end];
    // etagc = %x21 / %x23-7E / obs-text: no spaces or controls inside.
    if let Some(bad) = tag.iter().find(|&&b| b <= b' ' || b == 0x7f) {
        return Err(format!("an entity-tag holds the byte 0x{bad:02x}"));
    }
    let matchable = if weak { None } else { revision(tag) };
    Ok((matchable, &opaque[end + 1..]))
}

/// The revision an opaque tag names, when it is one of our ETags: strong
/// comparison is byte for byte, so `"03"` or `"+3"` never equal `"3"`.
fn revision(tag: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(tag).ok()?;
    let number = text.parse::<u64>().ok()?;
    (number.to_string() == text).then_some(number)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NONE: [u64; 0] = [];

    fn revisions(value: &str) -> Vec<u64> {
        match parse(value.as_bytes()) {
            Ok(Precondition::Revisions(revisions)) => revisions,
            other => panic!("{value}: {other:?}"),
        }
    }

    #[test]
    fn star_needs_a_current_record() {
        assert_eq!(parse(b" * "), Ok(Precondition::Exists));
    }

    #[test]
    fn strong_tags_and_bare_revisions_name_revisions() {
        assert_eq!(revisions("\"3\""), [3]);
        assert_eq!(revisions("3"), [3]);
        assert_eq!(revisions("\"1\", \"2\",\"5\""), [1, 2, 5]);
        assert_eq!(revisions(" , \"1\" ,, 2 ,"), [1, 2]);
    }

    #[test]
    fn weak_and_foreign_tags_are_valid_but_match_nothing() {
        assert_eq!(revisions("W/\"1\""), NONE);
        assert_eq!(revisions("W/\"1\", \"2\""), [2]);
        assert_eq!(revisions("\"03\", \"+3\", \"xyzzy\", \"a,b\", \"\""), NONE);
        assert_eq!(
            revisions("\"18446744073709551616\""),
            NONE,
            "beyond u64 is no revision of ours"
        );
    }

    #[test]
    fn anything_else_is_refused_with_the_reason() {
        for (value, why) in [
            ("", "names no entity-tag"),
            (" , ", "names no entity-tag"),
            ("abc", "must be quoted"),
            ("W/1", "must be quoted"),
            ("w/\"1\"", "must be quoted"),
            ("\"1", "closing quote"),
            ("\"1 2\"", "0x20"),
            ("\"1\" \"2\"", "without a comma"),
            ("3a", "without a comma"),
            ("\"1\", *", "must stand alone"),
            ("**", "must stand alone"),
        ] {
            let error = parse(value.as_bytes()).unwrap_err();
            assert!(error.contains(why), "{value}: {error}");
        }
    }

    #[test]
    fn field_lines_are_one_list_and_absence_is_no_precondition() {
        let mut headers = HeaderMap::new();
        assert_eq!(precondition(&headers).unwrap(), None);
        headers.append(header::IF_MATCH, "\"1\"".parse().unwrap());
        headers.append(header::IF_MATCH, "W/\"2\", \"4\"".parse().unwrap());
        assert_eq!(
            precondition(&headers).unwrap(),
            Some(Precondition::Revisions(vec![1, 4]))
        );
        headers.append(header::IF_MATCH, "garbage".parse().unwrap());
        let problem = serde_json::to_value(precondition(&headers).unwrap_err()).unwrap();
        assert_eq!(problem["status"], 400);
        assert!(problem["detail"]
            .as_str()
            .unwrap()
            .contains("`\"1\",W/\"2\", \"4\",garbage`"));
    }
}
