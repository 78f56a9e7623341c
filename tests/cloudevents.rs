//! Change events are real CloudEvents: a check of the CloudEvents 1.0 JSON
//! format that agrees with every vector of the CloudEvents conformance
//! suite (`tests/data/cloudevents/`), passed by every event the gateway
//! emits.

mod support;

use serde_json::{json, Map, Value};
use support::{example_contracts, TestGateway};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// The context attributes of the core specification; any other member
/// but `data` and `data_base64` is an extension.
const CORE: [&str; 8] = [
    "specversion",
    "id",
    "source",
    "type",
    "datacontenttype",
    "dataschema",
    "subject",
    "time",
];

/// Why a JSON document is not a CloudEvent in the JSON event format
/// (CloudEvents 1.0: the core specification's attribute types and
/// constraints, the JSON format's `data` rules), if it is not.
fn check(event: &Value) -> Result<(), String> {
    let members = event.as_object().ok_or("an event is a JSON object")?;
    if required(members, "specversion")? != "1.0" {
        return Err("specversion must be \"1.0\"".into());
    }
    required(members, "id")?;
    required(members, "type")?;
    uri_reference(required(members, "source")?)?;
    optional(members, "subject")?;
    if let Some(time) = optional(members, "time")? {
        OffsetDateTime::parse(time, &Rfc3339)
            .map_err(|e| format!("time `{time}` is not an RFC 3339 timestamp: {e}"))?;
    }
    if let Some(schema) = optional(members, "dataschema")? {
        // An absolute URI, unlike `source` (a URI-reference).
        url::Url::parse(schema)
            .map_err(|e| format!("dataschema `{schema}` is not an absolute URI: {e}"))?;
    }
    let content_type = optional(members, "datacontenttype")?;
    if let Some(media_type) = content_type {
        check_media_type(media_type)?;
    }
    check_data(members, content_type)?;
    for (name, value) in members {
        if !CORE.contains(&name.as_str()) && name != "data" && name != "data_base64" {
            check_extension(name, value)?;
        }
    }
    Ok(())
}

/// A string attribute that must be there and not be empty.
fn required<'e>(members: &'e Map<String, Value>, name: &str) -> Result<&'e str, String> {
    optional(members, name)?.ok_or_else(|| format!("{name} is required"))
}

/// A string attribute that may be absent or null, but never empty.
fn optional<'e>(members: &'e Map<String, Value>, name: &str) -> Result<Option<&'e str>, String> {
    match members.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) if !text.is_empty() => Ok(Some(text)),
        Some(other) => Err(format!("{name} must be a non-empty string, not {other}")),
    }
}

/// RFC 3986 URI-reference: absolute, or relative to some base.
fn uri_reference(text: &str) -> Result<(), String> {
    let clean = !text.chars().any(|c| c.is_whitespace() || c.is_control());
    let base = url::Url::parse("http://base.invalid/").map_err(|e| e.to_string())?;
    if clean && (url::Url::parse(text).is_ok() || base.join(text).is_ok()) {
        Ok(())
    } else {
        Err(format!("`{text}` is not a URI-reference"))
    }
}

/// RFC 2046: `type/subtype`, optionally followed by `;` parameters.
fn check_media_type(text: &str) -> Result<(), String> {
    // RFC 2045 token: no space, control or tspecial.
    let token = |part: &str| {
        !part.is_empty()
            && part
                .chars()
                .all(|c| c.is_ascii_graphic() && !"()<>@,;:\\\"/[]?=".contains(c))
    };
    let essence = text.split(';').next().unwrap_or_default().trim();
    match essence.split_once('/') {
        Some((kind, subtype)) if token(kind) && token(subtype) => Ok(()),
        _ => Err(format!("datacontenttype `{text}` is not a media type")),
    }
}

/// `data` and `data_base64` exclude each other; `data_base64` is Base64;
/// `data` that is not declared JSON is carried as a string.
fn check_data(members: &Map<String, Value>, content_type: Option<&str>) -> Result<(), String> {
    let data = members.get("data").filter(|v| !v.is_null());
    let base64 = members.get("data_base64").filter(|v| !v.is_null());
    if data.is_some() && base64.is_some() {
        return Err("data and data_base64 exclude each other".into());
    }
    if let Some(encoded) = base64 {
        let text = encoded.as_str().ok_or("data_base64 must be a string")?;
        if !is_base64(text) {
            return Err(format!("data_base64 `{text}` is not Base64"));
        }
    }
    let json = content_type.is_none_or(|t| {
        let essence = t
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        essence == "application/json" || essence == "text/json" || essence.ends_with("+json")
    });
    match data {
        Some(value) if !json && !value.is_string() => Err(format!(
            "data of a non-JSON datacontenttype must be a string, not {value}"
        )),
        _ => Ok(()),
    }
}

fn is_base64(text: &str) -> bool {
    let body = text.trim_end_matches('=');
    text.len().is_multiple_of(4)
        && text.len() - body.len() <= 2
        && body
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '+' || c == '/')
}

/// An extension: a name of lowercase letters and digits, and a value of a
/// CloudEvents type (JSON carries Boolean, Integer, and every other type as
/// a string).
fn check_extension(name: &str, value: &Value) -> Result<(), String> {
    let named = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if !named {
        return Err(format!(
            "extension `{name}`: names are lowercase letters and digits"
        ));
    }
    let typed = match value {
        Value::Null | Value::Bool(_) | Value::String(_) => true,
        // CloudEvents' Integer is a signed 32-bit number.
        Value::Number(n) => n.as_i64().is_some_and(|n| i32::try_from(n).is_ok()),
        Value::Array(_) | Value::Object(_) => false,
    };
    if typed {
        Ok(())
    } else {
        Err(format!(
            "extension `{name}`: {value} is not a CloudEvents type"
        ))
    }
}

/// Reads a conformance file and checks each of its tests; returns the
/// tests whose verdict differs, with why.
fn disagreements(file: &str) -> Vec<String> {
    let suite = support::data(&format!("cloudevents/{file}"));
    let default = suite["testType"].as_str().unwrap_or_default().to_owned();
    let tests = suite["tests"].as_array().expect("tests");
    assert!(!tests.is_empty(), "{file} has tests");
    let mut wrong = Vec::new();
    for test in tests {
        let kind = test["testType"].as_str().unwrap_or(&default);
        let verdict = match kind {
            "ValidSingleEvent" | "InvalidSingleEvent" => check(&test["event"]),
            "ValidBatch" | "InvalidBatch" => test["batch"]
                .as_array()
                .ok_or_else(|| "a batch is an array".to_owned())
                .and_then(|events| events.iter().try_for_each(check)),
            other => panic!("{file}: unknown test type {other}"),
        };
        let expected_valid = kind.starts_with("Valid");
        if verdict.is_ok() != expected_valid {
            wrong.push(format!("{file} {}: {verdict:?}", test["id"]));
        }
    }
    wrong
}

#[test]
fn the_check_agrees_with_every_conformance_vector() {
    let wrong: Vec<String> = ["valid-events.json", "invalid-events.json"]
        .into_iter()
        .flat_map(disagreements)
        .collect();
    assert!(wrong.is_empty(), "disagreements:\n{}", wrong.join("\n"));
}

#[test]
fn the_check_refuses_what_the_vectors_do_not_cover() {
    let event = |extra: Value| {
        let mut event = json!({"specversion": "1.0", "id": "x", "type": "t", "source": "/s"});
        let members = event.as_object_mut().expect("an object");
        members.extend(extra.as_object().cloned().unwrap_or_default());
        event
    };
    assert_eq!(check(&event(json!({}))), Ok(()));
    for bad in [
        json!({"dataschema": "/contracts/customer/v2/schema"}),
        json!({"revision": 2_147_483_648_u64}),
        json!({"tags": ["a"]}),
        json!({"datacontenttype": "text/plain", "data": {"a": 1}}),
        json!({"data_base64": "not base64!"}),
        json!({"source": "has space"}),
    ] {
        assert!(check(&event(bad.clone())).is_err(), "{bad} passed");
    }
}

#[tokio::test]
async fn every_event_the_gateway_emits_is_a_cloud_event() {
    let gateway = TestGateway::spawn(&example_contracts()).await;
    gateway.customer_history(&["c-1", "c-2"]).await;
    let order = support::example("order", "v1.valid.natural.json");
    assert_eq!(gateway.post("order", 1, &order).await.status(), 201);
    let events = gateway.all_changes(None).await;
    let mut kinds: Vec<&str> = events
        .iter()
        .map(|e| e["type"].as_str().unwrap_or_default())
        .collect();
    kinds.sort_unstable();
    kinds.dedup();
    assert_eq!(
        kinds,
        [
            "customer.created",
            "customer.deleted",
            "customer.patched",
            "customer.replaced",
            "order.created"
        ]
    );
    for event in &events {
        assert_eq!(check(event), Ok(()), "{event}");
    }
}
