//! `application/problem+json` (RFC 9457): the one place that knows status
//! codes and problem `type` URIs.

use axum::http::{header, HeaderValue, StatusCode};
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
    pub fn new(
        status: StatusCode,
        kind: &str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
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

    /// 404 for a path nothing serves.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", "Not found", detail)
    }

    /// 400: a query parameter of `/changes` is not usable.
    pub fn invalid_query(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid-query",
            "Invalid query parameter",
            detail,
        )
    }

    /// 400: `/changes` without `contract=` while several systems each keep
    /// their own feed.
    pub fn contract_required(systems: &[&str]) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "contract-required",
            "Contract required",
            format!(
                "each system keeps its own change feed ({}): name a contract with \
                 `contract=` to read its owner's",
                systems.join(", ")
            ),
        )
    }

    /// 410: retention deleted events after the cursor.
    pub fn cursor_expired(pruned_through: u64) -> Self {
        Self::new(
            StatusCode::GONE,
            "cursor-expired",
            "Cursor expired",
            format!(
                "events up to position {pruned_through} were deleted (older than \
                 events.retention), so this cursor cannot resume without a gap: read the \
                 records again, then follow from after={pruned_through}"
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

    /// Lists one more violation.
    pub fn add_violation(&mut self, pointer: String, keyword: &str, message: String) {
        self.0.violations.push(Violation {
            pointer,
            keyword: keyword.to_owned(),
            schema_location: String::new(),
            message,
        });
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
