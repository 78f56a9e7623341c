//! `/contracts/{name}/v{n}/records…`: create, replace, patch, delete, read.
//! Each handler resolves its target, hands the parsed body to the write
//! path and shapes the answer; all checking happens below.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::Value;

use super::body::JsonObject;
use super::idempotency_key::{idempotency_key, mark_replayed};
use super::problem::Problem;
use crate::contract::RecordKey;
use crate::events::EventType;
use crate::gateway::{Gateway, Target};
use crate::systems::Precondition;
use crate::write::Outcome;

/// What a key may keep unescaped in a URL path: RFC 3986's unreserved set.
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The record routes.
pub fn router() -> Router<Arc<Gateway>> {
    Router::new()
        .route("/contracts/{name}/{version}/records", post(create))
        .route(
            "/contracts/{name}/{version}/records/{key}",
            get(read).put(replace).patch(patch).delete(delete),
        )
}

async fn create(
    State(gateway): State<Arc<Gateway>>,
    Path((name, version)): Path<(String, String)>,
    headers: HeaderMap,
    JsonObject(body): JsonObject,
) -> Result<Response, Problem> {
    let target = gateway.resolve(&name, &version)?;
    let outcome = gateway
        .create(&target, body, idempotency_key(&headers)?)
        .await?;
    Ok(written(&target, outcome))
}

async fn replace(
    State(gateway): State<Arc<Gateway>>,
    Path((name, version, key)): Path<(String, String, String)>,
    headers: HeaderMap,
    JsonObject(body): JsonObject,
) -> Result<Response, Problem> {
    let target = gateway.resolve(&name, &version)?;
    let (key, if_match) = (record_key(&key)?, if_match(&headers));
    let outcome = gateway
        .replace(&target, key, body, if_match, idempotency_key(&headers)?)
        .await?;
    Ok(written(&target, outcome))
}

async fn patch(
    State(gateway): State<Arc<Gateway>>,
    Path((name, version, key)): Path<(String, String, String)>,
    headers: HeaderMap,
    JsonObject(body): JsonObject,
) -> Result<Response, Problem> {
    let target = gateway.resolve(&name, &version)?;
    let (key, if_match) = (record_key(&key)?, if_match(&headers));
    let outcome = gateway
        .patch(&target, key, body, if_match, idempotency_key(&headers)?)
        .await?;
    Ok(written(&target, outcome))
}

async fn delete(
    State(gateway): State<Arc<Gateway>>,
    Path((name, version, key)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let target = gateway.resolve(&name, &version)?;
    let (key, if_match) = (record_key(&key)?, if_match(&headers));
    let outcome = gateway
        .delete(&target, key, if_match, idempotency_key(&headers)?)
        .await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    mark_replayed(&mut response, outcome.replayed);
    Ok(with_version_headers(&target, response))
}

async fn read(
    State(gateway): State<Arc<Gateway>>,
    Path((name, version, key)): Path<(String, String, String)>,
) -> Result<Response, Problem> {
    let target = gateway.resolve(&name, &version)?;
    let record = gateway.read(&target, &record_key(&key)?).await?;
    let mut response = Json(record.body).into_response();
    response
        .headers_mut()
        .insert(header::ETAG, etag(record.revision));
    Ok(with_version_headers(&target, response))
}

fn record_key(text: &str) -> Result<RecordKey, Problem> {
    RecordKey::parse(text).map_err(Problem::not_found)
}

/// `If-Match: "3"` (or `3`, or `*`). A value that names no revision can
/// never match, so it becomes a precondition no record meets.
fn if_match(headers: &HeaderMap) -> Option<Precondition> {
    let value = headers
        .get(header::IF_MATCH)?
        .to_str()
        .unwrap_or_default()
        .trim();
    if value == "*" {
        return Some(Precondition::Exists);
    }
    let revision = value.trim_matches('"').parse::<u64>().unwrap_or(0);
    Some(Precondition::Revision(revision))
}

/// The revision as a strong entity tag: `"3"`.
fn etag(revision: u64) -> HeaderValue {
    // Digits and quotes are always a valid header value.
    HeaderValue::from_str(&format!("\"{revision}\"")).unwrap_or(HeaderValue::from_static("\"0\""))
}

/// The answer to a create, replace or patch; a replay is answered by the
/// same code from what the ledger kept.
fn written(target: &Target, outcome: Outcome) -> Response {
    let status = if outcome.event_type == EventType::Created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let mut response = (status, Json(outcome.body.unwrap_or(Value::Null))).into_response();
    mark_replayed(&mut response, outcome.replayed);
    let headers = response.headers_mut();
    headers.insert(header::ETAG, etag(outcome.revision));
    if status == StatusCode::CREATED {
        let location = format!(
            "/contracts/{}/{}/records/{}",
            target.contract.name,
            target.version,
            utf8_percent_encode(outcome.key.as_str(), PATH_SEGMENT)
        );
        if let Ok(value) = HeaderValue::from_str(&location) {
            headers.insert(header::LOCATION, value);
        }
    }
    with_version_headers(target, response)
}

/// `Deprecation` and the successor link on deprecated versions.
fn with_version_headers(target: &Target, mut response: Response) -> Response {
    if target.deprecated {
        let headers = response.headers_mut();
        headers.insert("deprecation", HeaderValue::from_static("true"));
        let latest = target.contract.stored_version().version;
        let link = format!(
            "</contracts/{}/{latest}/records>; rel=\"successor-version\"",
            target.contract.name
        );
        if let Ok(value) = HeaderValue::from_str(&link) {
            headers.insert(header::LINK, value);
        }
    }
    response
}
