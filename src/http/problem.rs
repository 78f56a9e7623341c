//! `application/problem+json` (RFC 9457): the one place that knows status
//! codes and problem `type` URIs.

use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::contract::{Version, Violation};
use crate::systems;
use crate::write;

/// Problem `type` URIs start with this; the kind follows (`…/contract-violation`).
pub const TYPE_BASE: &str = "https://contractgate.dev/problems/";

/// An error response. Boxed: it travels in every handler's `Err`, and the
/// success path should not pay for its size.
#[derive(Debug, Serialize)]
pub struct Problem(Box<Details>);

#[derive(Debug, Serialize)]
struct Details {
    #[serde(rename = "type")]
    kind: String,
    title: &'static str,
    status: u16,
    detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    contract: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<u32>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    violations: Vec<Violation>,
    #[serde(skip)]
    retry_after: Option<u64>,
}

impl Problem {
    /// A problem of a kind (the last segment of its `type`).
    fn new(status: StatusCode, kind: &str, title: &'static str, detail: impl Into<String>) -> Self {
        Problem(Box::new(Details {
            kind: format!("{TYPE_BASE}{kind}"),
            title,
            status: status.as_u16(),
            detail: detail.into(),
            contract: None,
            version: None,
            violations: Vec::new(),
            retry_after: None,
        }))
    }

    /// 400: the body is not acceptable JSON.
    pub fn malformed(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "malformed-body",
            "Malformed request body",
            detail,
        )
    }

    /// 400: `If-Match` is not a valid field value.
    pub fn invalid_precondition(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid-precondition",
            "Invalid If-Match",
            detail,
        )
    }

    /// 404 for a path nothing serves.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", "Not found", detail)
    }

    /// 405: the path is served, but not for this method.
    pub fn method_not_allowed(method: &Method) -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method-not-allowed",
            "Method not allowed",
            format!("{method} is not served at this path"),
        )
    }

    /// 413: the body is over `limit` bytes.
    pub fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body-too-large",
            "Request body too large",
            format!("the body is larger than the limit of {limit} bytes"),
        )
    }

    /// 415: the body is not declared as JSON; `found` says what it was.
    pub fn unsupported_media_type(found: &str) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "Unsupported media type",
            format!("the body must be JSON (Content-Type: application/json or application/merge-patch+json), not {found}"),
        )
    }

    /// 422: an integer `literal` at `pointer` does not fit in 64 bits.
    pub fn number_out_of_range(literal: &str, pointer: String) -> Self {
        let detail = format!(
            "the integer {literal} at `{pointer}` does not fit in 64 bits; it would not be stored exactly, so it is refused"
        );
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "number-out-of-range",
            "Number out of range",
            detail.clone(),
        )
        .violations(vec![Violation {
            pointer,
            keyword: "type".to_owned(),
            schema_location: String::new(),
            message: detail,
        }])
    }

    /// 403: the caller lacks a scope.
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", "Forbidden", detail)
    }

    /// 400: the query string lacks or misspells a parameter.
    pub fn invalid_query(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid-query",
            "Invalid query parameters",
            detail,
        )
    }

    /// 422: a reload found problems in the contracts folder; generation
    /// `serving` goes on serving.
    pub fn reload_refused(serving: u64, problems: &[String]) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "reload-refused",
            "Contracts reload refused",
            format!(
                "the contracts folder has problems; generation {serving} keeps serving: {}",
                problems.join("; ")
            ),
        )
    }

    /// Names the contract concerned.
    fn contract(mut self, contract: String) -> Self {
        self.0.contract = Some(contract);
        self
    }

    /// Names the version checked.
    fn version(mut self, version: Version) -> Self {
        self.0.version = Some(version.number());
        self
    }

    /// Lists violations.
    fn violations(mut self, violations: Vec<Violation>) -> Self {
        self.0.violations = violations;
        self
    }
}

impl From<write::Error> for Problem {
    fn from(error: write::Error) -> Self {
        use write::Error as E;
        let detail = error.to_string();
        match error {
            E::UnknownContract(_) => Self::new(
                StatusCode::NOT_FOUND,
                "unknown-contract",
                "Unknown contract",
                detail,
            ),
            E::UnknownVersion { contract, .. } => Self::new(
                StatusCode::NOT_FOUND,
                "unknown-version",
                "Unknown contract version",
                detail,
            )
            .contract(contract),
            E::Retired { contract, version } => Self::new(
                StatusCode::GONE,
                "retired-version",
                "Contract version retired",
                format!("{detail}; use a newer version"),
            )
            .contract(contract)
            .version(version),
            E::Rejected {
                contract,
                rejection,
            } => {
                let (kind, title) = if rejection.after_upgrade {
                    (
                        "upgrade-violation",
                        "Upgraded payload violates the stored version",
                    )
                } else {
                    ("contract-violation", "Payload violates the contract")
                };
                Self::new(StatusCode::UNPROCESSABLE_ENTITY, kind, title, detail)
                    .contract(contract)
                    .version(rejection.version)
                    .violations(rejection.violations)
            }
            E::KeyMismatch { .. } => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "key-mismatch",
                "Record key mismatch",
                detail,
            ),
            E::PreconditionRequired(_) => Self::new(
                StatusCode::PRECONDITION_REQUIRED,
                "precondition-required",
                "If-Match required",
                detail,
            ),
            E::Inexpressible { rejection } => Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "inexpressible-record",
                "Stored record cannot be expressed in this version",
                detail,
            )
            .version(rejection.version)
            .violations(rejection.violations),
            E::Owner(owner) => Self::from(owner),
        }
    }
}

impl From<systems::Error> for Problem {
    fn from(error: systems::Error) -> Self {
        use systems::Error as E;
        let detail = error.to_string();
        match error {
            E::NotFound => Self::new(
                StatusCode::NOT_FOUND,
                "unknown-record",
                "Unknown record",
                detail,
            ),
            E::Exists => Self::new(
                StatusCode::CONFLICT,
                "record-exists",
                "Record already exists",
                format!("{detail}; use PUT to replace it"),
            ),
            E::RevisionMismatch { .. } => Self::new(
                StatusCode::PRECONDITION_FAILED,
                "stale-revision",
                "If-Match does not match",
                detail,
            ),
            E::Unavailable(_) => {
                let mut problem = Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "owner-unavailable",
                    "Owner unavailable",
                    format!("{detail}; nothing was written"),
                );
                problem.0.retry_after = Some(1);
                problem
            }
            E::Timeout(_) => Self::new(
                StatusCode::GATEWAY_TIMEOUT,
                "owner-timeout",
                "Owner timed out",
                format!(
                    "{detail}; the write may still be applied: read the record (its ETag \
                     names its revision) before retrying"
                ),
            ),
            E::Refused(_) => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "owner-refused",
                "Owner refused the write",
                format!("{detail}; nothing was written"),
            ),
            E::Fault(_) => Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "owner-fault",
                "Owner failed",
                detail,
            ),
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.0.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let retry_after = self.0.retry_after;
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(seconds) = retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}
