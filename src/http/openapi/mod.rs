//! The gateway's OpenAPI 3.1 document (`GET /openapi.json`) and Swagger UI
//! to read and try it (`GET /docs`, its assets inside the binary). The
//! static endpoints are described by their `#[utoipa::path]`s; the record
//! paths of every contract version are added from the registry snapshot the
//! request sees, so the document follows reloads. `contractgate openapi`
//! prints the same [`document`].

mod records;

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Map, Value};
use utoipa::OpenApi;
use utoipa_swagger_ui::{Config, SwaggerUi};

use super::problem::Kind;
use crate::contract::Registry;
use crate::gateway::Gateway;

/// Where the document is served, and Swagger UI reads it from.
const DOCUMENT_PATH: &str = "/openapi.json";

/// The documentation routes.
pub fn router() -> Router<Arc<Gateway>> {
    // The UI fetches the document from this gateway, and "Try it out" sends
    // requests to the origin it was served from: the document names no
    // servers.
    let ui = SwaggerUi::new("/docs").config(Config::from(DOCUMENT_PATH).try_it_out_enabled(true));
    Router::new()
        .route(DOCUMENT_PATH, get(openapi_json))
        .merge(Router::from(ui))
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "contractgate",
        description = "A declarative data-contract gateway: every write is checked against a versioned contract, \
            upgraded to the version its owner stores and committed with a change event. \
            Each contract version has its own record paths below, its schema as a component, \
            and every problem (RFC 9457, `application/problem+json`) an operation can answer with."
    ),
    paths(
        super::contracts::list,
        super::contracts::describe,
        super::contracts::schema,
        super::health::healthz,
        super::health::readyz,
        openapi_json,
    ),
    components(schemas(super::problem::Details)),
    tags(
        (name = "registry", description = "The contracts the gateway holds."),
        (name = "health", description = "Liveness and readiness."),
        (name = "documentation", description = "This document."),
    )
)]
struct StaticApi;

/// The problems each static endpoint can answer with, by path (all are
/// GETs); record operations list theirs in `records`.
const STATIC_PROBLEMS: [(&str, &[Kind]); 2] = [
    ("/contracts/{name}", &[Kind::UnknownContract]),
    (
        "/contracts/{name}/{version}/schema",
        &[Kind::UnknownContract, Kind::UnknownVersion],
    ),
];

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "documentation",
    responses((status = 200, description = "This document, for the contracts loaded now.", body = Object)))]
async fn openapi_json(State(gateway): State<Arc<Gateway>>) -> Json<Value> {
    Json(document(&gateway.registry()))
}

/// The OpenAPI document for the contracts of `registry`.
pub fn document(registry: &Registry) -> Value {
    // Serializing a utoipa document cannot fail: it holds no maps with
    // non-string keys.
    let mut document = serde_json::to_value(StaticApi::openapi()).unwrap_or_default();
    for (path, kinds) in STATIC_PROBLEMS {
        if let Some(responses) = document
            .pointer_mut(&format!("/paths/{}/get/responses", escape(path)))
            .and_then(Value::as_object_mut)
        {
            responses.extend(problem_responses(kinds, &Map::new()));
        }
    }
    document["components"]["headers"] = headers();
    records::add(&mut document, registry);
    add_request_id(&mut document);
    document
}

/// A path as a JSON pointer token.
fn escape(path: &str) -> String {
    path.replace('~', "~0").replace('/', "~1")
}

/// The response headers operations refer to.
fn headers() -> Value {
    let header = |description: &str, schema: Value| json!({"description": description, "required": true, "schema": schema});
    json!({
        "X-Request-Id": header("The request's id: the one the client sent, or a new UUID.", json!({"type": "string"})),
        "Contract-Version": header("The contract version the request addressed.", json!({"type": "integer", "minimum": 1})),
        "Deprecation": header("The version is deprecated: move to its successor.", json!({"const": "true"})),
        "Link": header("The successor version's records: `</contracts/…/v{n}/records>; rel=\"successor-version\"`.", json!({"type": "string"})),
        "ETag": header("The record's revision as a strong entity-tag; send it back in `If-Match`.", json!({"type": "string", "pattern": "^\"[0-9]+\"$"})),
        "Location": header("Where the created record is read.", json!({"type": "string"})),
        "Retry-After": header("Seconds to wait before trying again.", json!({"type": "integer", "minimum": 0})),
    })
}

/// A reference to a header of [`headers`].
fn header_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/headers/{name}")})
}

/// One response per status among `kinds`: `application/problem+json`
/// whose `status` and `type` are those of the kinds, carrying `headers`
/// (and `Retry-After` where the kind sends it).
fn problem_responses(kinds: &[Kind], headers: &Map<String, Value>) -> Map<String, Value> {
    let mut by_status: BTreeMap<u16, Vec<Kind>> = BTreeMap::new();
    for kind in kinds {
        by_status
            .entry(kind.describe().0.as_u16())
            .or_default()
            .push(*kind);
    }
    by_status
        .into_iter()
        .map(|(status, kinds)| {
            let description: Vec<String> = kinds
                .iter()
                .map(|kind| {
                    let (_, slug, title) = kind.describe();
                    format!("`{slug}`: {title}")
                })
                .collect();
            let types: Vec<String> = kinds.iter().map(|kind| kind.uri()).collect();
            let mut headers = headers.clone();
            if kinds.contains(&Kind::OwnerUnavailable) {
                headers.insert("Retry-After".to_owned(), header_ref("Retry-After"));
            }
            let response = json!({
                "description": description.join("; "),
                "headers": headers,
                "content": {"application/problem+json": {"schema": {"allOf": [
                    {"$ref": "#/components/schemas/Problem"},
                    {"properties": {"status": {"const": status}, "type": {"enum": types}}},
                ]}}},
            });
            (status.to_string(), response)
        })
        .collect()
}

/// Every answer carries `X-Request-Id`.
fn add_request_id(document: &mut Value) {
    let Some(paths) = document.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    let responses = paths
        .values_mut()
        .filter_map(Value::as_object_mut)
        .flat_map(|item| item.values_mut())
        .filter_map(|operation| operation.get_mut("responses"))
        .filter_map(Value::as_object_mut)
        .flat_map(|responses| responses.values_mut());
    for response in responses {
        if let Value::Object(response) = response {
            let headers = response
                .entry("headers")
                .or_insert_with(|| Value::Object(Map::new()));
            headers["X-Request-Id"] = header_ref("X-Request-Id");
        }
    }
}
