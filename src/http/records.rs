//! `/contracts/{name}/v{n}/records…`: create, replace, patch, delete, read.
//! Each handler resolves its target, hands the parsed body to the write
//! path and shapes the answer; all checking happens below.

use std::future::Future;
use std::sync::Arc;

use axum::extract::{FromRequest, Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::Value;

use super::auth::Principal;
use super::body::JsonObject;
use super::if_match;
use super::problem::Problem;
use super::set_contract_version;
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
    Extension(caller): Extension<Principal>,
    Path((name, version)): Path<(String, String)>,
    request: Request,
) -> Result<Response, Problem> {
    let target = gateway.resolve(&name, &version, &caller.name)?;
    Ok(answer(&target, async {
        let JsonObject(body) = JsonObject::from_request(request, &gateway).await?;
        let outcome = gateway.create(&target, body).await?;
        Ok(written(&target, outcome))
    })
    .await)
}

async fn replace(
    State(gateway): State<Arc<Gateway>>,
    Extension(caller): Extension<Principal>,
    Path((name, version, key)): Path<(String, String, String)>,
    request: Request,
) -> Result<Response, Problem> {
    let target = gateway.resolve(&name, &version, &caller.name)?;
    Ok(answer(&target, async {
        let (key, if_match, body) = update(&gateway, &key, request).await?;
        let outcome = gateway.replace(&target, key, body, if_match).await?;
        Ok(written(&target, outcome))
    })
    .await)
}

async fn patch(
    State(gateway): State<Arc<Gateway>>,
    Extension(caller): Extension<Principal>,
    Path((name, version, key)): Path<(String, String, String)>,
    request: Request,
) -> Result<Response, Problem> {
    let target = gateway.resolve(&name, &version, &caller.name)?;
    Ok(answer(&target, async {
        let (key, if_match, body) = update(&gateway, &key, request).await?;
        let outcome = gateway.patch(&target, key, body, if_match).await?;
        Ok(written(&target, outcome))
    })
    .await)
}

async fn delete(
    State(gateway): State<Arc<Gateway>>,
    Extension(caller): Extension<Principal>,
    Path((name, version, key)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let target = gateway.resolve(&name, &version, &caller.name)?;
    Ok(answer(&target, async {
        let key = record_key(&key)?;
        let if_match = if_match::precondition(&headers)?;
        gateway.delete(&target, key, if_match).await?;
        Ok(StatusCode::NO_CONTENT.into_response())
    })
    .await)
}

async fn read(
    State(gateway): State<Arc<Gateway>>,
    Extension(caller): Extension<Principal>,
    Path((name, version, key)): Path<(String, String, String)>,
) -> Result<Response, Problem> {
    let target = gateway.resolve(&name, &version, &caller.name)?;
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
async fn answer(
    target: &Target,
    work: impl Future<Output = Result<Response, Problem>>,
) -> Response {
    let mut response = work.await.unwrap_or_else(IntoResponse::into_response);
    // For the metrics layer: which contract version this was about.
    response.extensions_mut().insert(target.clone());
    let headers = response.headers_mut();
    set_contract_version(headers, target.version);
    // `Deprecation` and the successor link on deprecated versions.
    if target.deprecated {
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

/// What an update (PUT, PATCH) brings: the key, its `If-Match`, its body.
async fn update(
    gateway: &Arc<Gateway>,
    key: &str,
    request: Request,
) -> Result<(RecordKey, Option<Precondition>, Value), Problem> {
    let key = record_key(key)?;
    let if_match = if_match::precondition(request.headers())?;
    let JsonObject(body) = JsonObject::from_request(request, gateway).await?;
    Ok((key, if_match, body))
}

fn record_key(text: &str) -> Result<RecordKey, Problem> {
    RecordKey::parse(text).map_err(Problem::not_found)
}

/// The revision as a strong entity tag: `"3"`.
fn etag(revision: u64) -> HeaderValue {
    // Digits and quotes are always a valid header value.
    HeaderValue::from_str(&format!("\"{revision}\"")).unwrap_or(HeaderValue::from_static("\"0\""))
}

fn written(target: &Target, outcome: Outcome) -> Response {
    let status = if outcome.event_type == EventType::Created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let mut response = (status, Json(outcome.body.unwrap_or(Value::Null))).into_response();
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
