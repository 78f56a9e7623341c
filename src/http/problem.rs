//! `application/problem+json` (RFC 9457): the one place that knows status
//! codes and problem `type` URIs.

use std::time::Duration;

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
    /// For a retired version: the version to move to.
    #[serde(skip_serializing_if = "Option::is_none")]
    successor_version: Option<u32>,
    #[serde(skip)]
    retry_after: Option<u64>,
    #[serde(skip)]
    www_authenticate: Option<String>,
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
            successor_version: None,
            retry_after: None,
            www_authenticate: None,
        }))
    }

    /// 401: no credentials, or ones that do not check out; `challenge` is
    /// the `WWW-Authenticate` value naming the schemes that would.
    pub fn unauthorized(detail: impl Into<String>, challenge: String) -> Self {
        let mut problem = Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Authentication required",
            detail,
        );
        problem.0.www_authenticate = Some(challenge);
        problem
    }

    /// 403: the caller lacks the scope. Says the same whether or not the
    /// contract exists.
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", "Forbidden", detail)
    }

    /// 408: the request took longer than `limits.request_timeout_ms`.
    pub fn request_timeout(deadline: Duration) -> Self {
        Self::new(
            StatusCode::REQUEST_TIMEOUT,
            "request-timeout",
            "Request timed out",
            format!(
                "the request took longer than {} ms; a write may still be applied: read the record (its ETag names its revision) before retrying",
                deadline.as_millis()
            ),
        )
    }

    /// 429: `principal` is over its rate; it may send again after `wait`.
    pub fn rate_limited(principal: &str, wait: Duration) -> Self {
        // Whole seconds, rounded up: sooner would be refused again.
        let seconds = wait.as_secs_f64().ceil().max(1.0) as u64;
        let mut problem = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate-limited",
            "Too many requests",
            format!("`{principal}` is over its rate limit; retry after {seconds} s"),
        );
        problem.0.retry_after = Some(seconds);
        problem
    }

    /// 503: as many requests are in flight as `limits.concurrency` allows;
    /// this one was refused at once rather than queued.
    pub fn overloaded() -> Self {
        let mut problem = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "overloaded",
            "Gateway overloaded",
            "the gateway is serving as many requests as it may at once; nothing was done, retry shortly",
        );
        problem.0.retry_after = Some(1);
        problem
    }

    /// 500: a failure of the gateway itself.
    pub fn internal(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal-error",
            "Internal error",
            detail,
        )
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

    /// 400: `Idempotency-Key` is not a key.
    pub fn invalid_idempotency_key(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid-idempotency-key",
            "Invalid Idempotency-Key",
            detail,
        )
    }

    /// 409 with `Retry-After`: a request with the same idempotency key is
    /// being processed.
    fn idempotency_key_in_flight(detail: String) -> Self {
        let mut problem = Self::new(
            StatusCode::CONFLICT,
            "idempotency-key-in-flight",
            "Idempotency-Key in use",
            format!("{detail}; retry once it is answered to get its answer"),
        );
        problem.0.retry_after = Some(1);
        problem
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

    /// 415: the body is not declared as what the route takes (`expected`);
    /// `found` says what it was.
    pub fn unsupported_media_type(expected: &str, found: &str) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "Unsupported media type",
            format!("the body must be {expected}, not {found}"),
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
            E::Retired {
                contract,
                version,
                successor,
            } => {
                let mut problem = Self::new(
                    StatusCode::GONE,
                    "retired-version",
                    "Contract version retired",
                    format!("{detail} (/contracts/{contract}/{successor}/…)"),
                )
                .contract(contract)
                .version(version);
                problem.0.successor_version = Some(successor.number());
                problem
            }
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
            E::NotRepresentable {
                contract,
                rejection,
            } => Self::new(
                StatusCode::NOT_ACCEPTABLE,
                "not-representable",
                "Record not representable in this version",
                detail,
            )
            .contract(contract)
            .version(rejection.version)
            .violations(rejection.violations),
            E::IdempotencyKeyReused(_) => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency-key-reused",
                "Idempotency-Key reused",
                detail,
            ),
            E::IdempotencyKeyInFlight(_) => Self::idempotency_key_in_flight(detail),
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
            // The write path answers from the ledger instead, unless the
            // write that took the key is not visible there yet: in flight.
            E::IdempotencyKeyTaken => Self::idempotency_key_in_flight(detail),
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
        let challenge = self
            .0
            .www_authenticate
            .as_deref()
            .and_then(|value| HeaderValue::from_str(value).ok());
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
        if let Some(challenge) = challenge {
            headers.insert(header::WWW_AUTHENTICATE, challenge);
        }
        response
    }
}
