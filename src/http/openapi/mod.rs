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
        super::changes::changes,
        super::health::healthz,
        super::health::readyz,
        super::metrics::scrape,
        super::admin::reload,
        super::admin::rejections,
        openapi_json,
    ),
    components(schemas(super::problem::Details, super::batch::BatchResult)),
    tags(
        (name = "registry", description = "The contracts the gateway holds."),
        (name = "changes", description = "The change feed: committed change events in commit order."),
        (name = "health", description = "Liveness, readiness and metrics."),
        (name = "admin", description = "Operating the gateway; needs the `admin` scope."),
        (name = "documentation", description = "This document."),
    )
)]
struct StaticApi;

/// What the layers around every route answer: the request deadline and
/// the concurrency limit.
const LAYERS: [Kind; 2] = [Kind::RequestTimeout, Kind::Overloaded];
/// What the routes behind authentication answer besides [`LAYERS`].
const GUARDED: [Kind; 4] = [
    Kind::Unauthorized,
    Kind::RateLimited,
    Kind::RequestTimeout,
    Kind::Overloaded,
];
/// What reading a journal can meet.
const JOURNAL: [Kind; 4] = [
    Kind::UnknownContract,
    Kind::OwnerFault,
    Kind::OwnerUnavailable,
    Kind::OwnerTimeout,
];

/// The kinds whose problem always carries `Retry-After`.
const RETRY_AFTER: [Kind; 4] = [
    Kind::OwnerUnavailable,
    Kind::Overloaded,
    Kind::RateLimited,
    Kind::IdempotencyKeyInFlight,
];

/// The problems each static endpoint can answer with, by path and method;
/// record operations list theirs in `records`.
fn static_problems() -> [(&'static str, &'static str, Vec<Kind>); 10] {
    let guarded = |kinds: &[Kind]| [&GUARDED[..], kinds].concat();
    [
        ("/contracts", "get", GUARDED.to_vec()),
        (
            "/contracts/{name}",
            "get",
            guarded(&[Kind::UnknownContract, Kind::Forbidden]),
        ),
        (
            "/contracts/{name}/{version}/schema",
            "get",
            guarded(&[Kind::UnknownContract, Kind::UnknownVersion, Kind::Forbidden]),
        ),
        (
            "/changes",
            "get",
            guarded(
                &[
                    &JOURNAL[..],
                    &[
                        Kind::InvalidQuery,
                        Kind::ContractRequired,
                        Kind::CursorExpired,
                        Kind::Forbidden,
                    ],
                ]
                .concat(),
            ),
        ),
        ("/healthz", "get", LAYERS.to_vec()),
        ("/readyz", "get", LAYERS.to_vec()),
        ("/metrics", "get", LAYERS.to_vec()),
        (
            "/admin/reload",
            "post",
            guarded(&[Kind::ReloadRefused, Kind::Forbidden]),
        ),
        (
            "/rejections",
            "get",
            guarded(&[&JOURNAL[..], &[Kind::InvalidQuery, Kind::Forbidden]].concat()),
        ),
        ("/openapi.json", "get", GUARDED.to_vec()),
    ]
}

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
    for (path, method, kinds) in static_problems() {
        if let Some(responses) = document
            .pointer_mut(&format!("/paths/{}/{method}/responses", escape(path)))
            .and_then(Value::as_object_mut)
        {
            add_problems(responses, &kinds, &Map::new());
        }
    }
    document["components"]["headers"] = headers();
    document["components"]["parameters"] = parameters();
    headers_are_text(&mut document);
    if let Some(live) =
        document.pointer_mut("/paths/~1changes/get/responses/200/content/text~1event-stream")
    {
        live["schema"] = server_sent_event();
    }
    records::add(&mut document, registry);
    add_request_id(&mut document);
    document
}

/// One event of `/changes`' live stream as an `EventSource` receives it:
/// utoipa cannot say that `data` holds a JSON document of its own.
fn server_sent_event() -> Value {
    json!({
        "type": "object",
        "required": ["id", "data"],
        "properties": {
            "id": {"type": "string", "pattern": "^[0-9]+$", "description": "The event's cursor: send it back as `Last-Event-ID` (or `after`) to resume after it."},
            "event": {"const": "message", "description": "The events name no type: `message`."},
            "data": {
                "type": "string",
                "contentMediaType": "application/json",
                "contentSchema": {"$ref": "#/components/schemas/ChangeEvent"},
                "description": "The change event's JSON document, on one line.",
            },
        },
    })
}

/// utoipa makes an optional header parameter's schema nullable; a header
/// is absent or text, never null.
fn headers_are_text(document: &mut Value) {
    let Some(paths) = document.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    let parameters = paths
        .values_mut()
        .filter_map(Value::as_object_mut)
        .flat_map(|item| item.values_mut())
        .filter_map(|operation| operation.get_mut("parameters"))
        .filter_map(Value::as_array_mut)
        .flatten()
        .filter(|parameter| parameter["in"] == "header");
    for parameter in parameters {
        if parameter["schema"]["type"] == json!(["string", "null"]) {
            parameter["schema"]["type"] = json!("string");
        }
    }
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
        "Deprecation": header("The version is deprecated: move to its successor. `@` and the date it was deprecated in epoch seconds (RFC 9745), or `true` when the contract declares no date.", json!({"type": "string", "pattern": "^(true|@-?[0-9]+)$"})),
        "Link": header("The successor version's records: `</contracts/…/v{n}/records>; rel=\"successor-version\"`.", json!({"type": "string"})),
        "ETag": header("The record's revision as a strong entity-tag; send it back in `If-Match`.", json!({"type": "string", "pattern": "^\"[0-9]+\"$"})),
        "Location": header("Where the created record is read.", json!({"type": "string"})),
        "Retry-After": header("Seconds to wait before trying again.", json!({"type": "integer", "minimum": 0})),
        "WWW-Authenticate": header("The credentials the gateway takes: `ApiKey` and/or `Bearer` (with `error=\"invalid_token\"` when a token was refused).", json!({"type": "string"})),
        "Idempotent-Replayed": {
            "description": "This is the answer the first request with the same `Idempotency-Key` got, replayed: nothing was written again.",
            "required": false,
            "schema": {"const": "true"},
        },
    })
}

/// The request parameters operations refer to.
fn parameters() -> Value {
    json!({
        "Idempotency-Key": {
            "name": "Idempotency-Key",
            "in": "header",
            "required": false,
            "description": "Makes a retry safe: the first request with this key is carried out, and a retry with the same key and the same request gets the first answer again (`Idempotent-Replayed: true`) instead of a second write, for `idempotency.ttl_seconds`. The key is an RFC 8941 string (`\"8e03978e-…\"`) or a bare token; the same key with another request is 422 `idempotency-key-reused`, and while the first is still in progress 409 `idempotency-key-in-flight`.",
            // A token (RFC 9110 tchar), or a quoted string of printable
            // ASCII with `\"` and `\\` escaped; at most 255 bytes unescaped.
            "schema": {"type": "string", "pattern": r#"^([!#$%&'*+.^_`|~0-9A-Za-z-]{1,255}|"([ !#-\[\]-~]|\\["\\]){1,255}")$"#},
            "example": "\"8e03978e-40d5-43e8-bc93-6894a57f9324\"",
        },
    })
}

/// A reference to a header of [`headers`].
fn header_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/headers/{name}")})
}

/// Adds [`problem_responses`] to `responses`. A status that already
/// answers otherwise (`/readyz`'s 503) gets the problem's content beside
/// its own, and keeps its headers: those are what both answers carry.
fn add_problems(responses: &mut Map<String, Value>, kinds: &[Kind], headers: &Map<String, Value>) {
    for (status, problem) in problem_responses(kinds, headers) {
        let Some(Value::Object(existing)) = responses.get_mut(&status) else {
            responses.insert(status, problem);
            continue;
        };
        let described = [&existing["description"], &problem["description"]]
            .iter()
            .filter_map(|description| description.as_str())
            .collect::<Vec<_>>()
            .join(" Or ");
        existing.insert("description".to_owned(), Value::String(described));
        if let (Some(Value::Object(content)), Some(Value::Object(problem))) =
            (existing.get_mut("content"), problem.get("content"))
        {
            content.extend(problem.clone());
        }
    }
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
            if kinds.iter().all(|kind| RETRY_AFTER.contains(kind)) {
                headers.insert("Retry-After".to_owned(), header_ref("Retry-After"));
            }
            if kinds == [Kind::Unauthorized] {
                headers.insert(
                    "WWW-Authenticate".to_owned(),
                    header_ref("WWW-Authenticate"),
                );
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
