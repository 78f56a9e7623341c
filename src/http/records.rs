//! `/contracts/{name}/v{n}/records…`: create, replace, patch, delete, read.
//! Each handler resolves its target, hands the parsed body to the write
//! path and shapes the answer; all checking happens below.

use std::future::Future;
use std::sync::Arc;
use std::time::SystemTime;

use axum::extract::{FromRequest, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Extension;
use axum::{Json, Router};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::Value;

use super::auth::{require_named, Action, Principal};
use super::body::JsonObject;
use super::idempotency_key::{idempotency_key, mark_replayed};
use super::if_match;
use super::path::Path;
use super::problem::Problem;
use super::set_contract_version;
use crate::contract::RecordKey;
use crate::events::EventType;
use crate::gateway::{Gateway, Target};
use crate::systems::{IdempotencyKey, Precondition};
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
    Extension(principal): Extension<Principal>,
    Path((name, version)): Path<(String, String)>,
    request: Request,
) -> Result<Response, Problem> {
    require_named(&principal, &name, &[Action::Write])?;
    let target = gateway.resolve(&name, &version, &principal.name)?;
    Ok(answer(&target, async {
        let idempotency = idempotency_key(request.headers())?;
        let JsonObject(body) = JsonObject::from_request(request, &gateway).await?;
        let outcome = gateway.create(&target, body, idempotency).await?;
        Ok(written(&target, outcome))
    })
    .await)
}

async fn replace(
    State(gateway): State<Arc<Gateway>>,
    Extension(principal): Extension<Principal>,
    Path((name, version, key)): Path<(String, String, String)>,
    request: Request,
) -> Result<Response, Problem> {
    require_named(&principal, &name, &[Action::Write])?;
    let target = gateway.resolve(&name, &version, &principal.name)?;
    Ok(answer(&target, async {
        let (key, if_match, idempotency, body) = update(&gateway, &key, request).await?;
        let outcome = gateway
            .replace(&target, key, body, if_match, idempotency)
            .await?;
        Ok(written(&target, outcome))
    })
    .await)
}

async fn patch(
    State(gateway): State<Arc<Gateway>>,
    Extension(principal): Extension<Principal>,
    Path((name, version, key)): Path<(String, String, String)>,
    request: Request,
) -> Result<Response, Problem> {
    require_named(&principal, &name, &[Action::Write])?;
    let target = gateway.resolve(&name, &version, &principal.name)?;
    Ok(answer(&target, async {
        let (key, if_match, idempotency, body) = update(&gateway, &key, request).await?;
        let outcome = gateway
            .patch(&target, key, body, if_match, idempotency)
            .await?;
        Ok(written(&target, outcome))
    })
    .await)
}

async fn delete(
    State(gateway): State<Arc<Gateway>>,
    Extension(principal): Extension<Principal>,
    Path((name, version, key)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    require_named(&principal, &name, &[Action::Write])?;
    let target = gateway.resolve(&name, &version, &principal.name)?;
    Ok(answer(&target, async {
        let key = record_key(&key)?;
        let if_match = if_match::precondition(&headers)?;
        let outcome = gateway
            .delete(&target, key, if_match, idempotency_key(&headers)?)
            .await?;
        let mut response = StatusCode::NO_CONTENT.into_response();
        mark_replayed(&mut response, outcome.replayed);
        Ok(response)
    })
    .await)
}

async fn read(
    State(gateway): State<Arc<Gateway>>,
    Extension(principal): Extension<Principal>,
    Path((name, version, key)): Path<(String, String, String)>,
) -> Result<Response, Problem> {
    require_named(&principal, &name, &[Action::Read])?;
    let target = gateway.resolve(&name, &version, &principal.name)?;
    Ok(answer(&target, async {
        let record = gateway.read(&target, &record_key(&key)?).await?;
        let mut response = Json(record.body).into_response();
        response
            .headers_mut()
            .insert(header::ETAG, etag(record.revision));
        Ok(response)
    })
    .await)
}

/// Runs the work of a request whose target resolved. Its answer, success
/// or problem (422, 412, 404 unknown record…), carries the version headers;
/// the body is read only once the target is known, so a bad body on a
/// known version gets them too. A target that does not resolve is answered
/// before this, without them.
pub(super) async fn answer(
    target: &Target,
    work: impl Future<Output = Result<Response, Problem>>,
) -> Response {
    let mut response = work.await.unwrap_or_else(IntoResponse::into_response);
    // For the metrics layer: which contract version this was about.
    response.extensions_mut().insert(target.clone());
    let headers = response.headers_mut();
    set_contract_version(headers, target.version);
    if target.deprecated {
        deprecation_headers(headers, target);
    }
    response
}

/// `Deprecation` (RFC 9745: `@` and the declared date in epoch seconds;
/// `true`, the drafts' form, when the contract declares no date),
/// `Sunset` (RFC 8594, an HTTP-date) when declared, and a `Link` to the
/// version to move to.
fn deprecation_headers(headers: &mut HeaderMap, target: &Target) {
    let version = target.contract.version(target.version);
    let deprecation = match version.and_then(|v| v.deprecated_on) {
        Some(at) => HeaderValue::from_str(&format!("@{}", at.unix_timestamp())).ok(),
        None => Some(HeaderValue::from_static("true")),
    };
    if let Some(value) = deprecation {
        headers.insert("deprecation", value);
    }
    if let Some(at) = version.and_then(|v| v.sunset) {
        let date = httpdate::fmt_http_date(SystemTime::from(at));
        if let Ok(value) = HeaderValue::from_str(&date) {
            headers.insert("sunset", value);
        }
    }
    let link = format!(
        "</contracts/{}/{}/records>; rel=\"successor-version\"",
        target.contract.name,
        target.contract.successor()
    );
    if let Ok(value) = HeaderValue::from_str(&link) {
        headers.insert(header::LINK, value);
    }
}

/// What an update (PUT, PATCH) brings: the key, its `If-Match`, its body.
async fn update(
    gateway: &Arc<Gateway>,
    key: &str,
    request: Request,
) -> Result<
    (
        RecordKey,
        Option<Precondition>,
        Option<IdempotencyKey>,
        Value,
    ),
    Problem,
> {
    let key = record_key(key)?;
    let if_match = if_match::precondition(request.headers())?;
    let idempotency = idempotency_key(request.headers())?;
    let JsonObject(body) = JsonObject::from_request(request, gateway).await?;
    Ok((key, if_match, idempotency, body))
}

fn record_key(text: &str) -> Result<RecordKey, Problem> {
    RecordKey::parse(text).map_err(Problem::not_found)
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
    response
}
