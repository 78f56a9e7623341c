//! `application/problem+json` (RFC 9457): the one place that knows status
//! codes and problem `type` URIs.

use std::time::Duration;

use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::contract::{Version, Violation};
use crate::systems;
use crate::write;

/// Problem `type` URIs start with this; the kind follows (`…/contract-violation`).
pub const TYPE_BASE: &str = "https://contractgate.dev/problems/";

/// An error response. Boxed: it travels in every handler's `Err`, and the
/// success path should not pay for its size.
#[derive(Debug, Serialize)]
pub struct Problem(Box<Details>);

/// A problem (RFC 9457): what went wrong, and every violation when a
/// payload broke its contract.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Problem)]
pub(super) struct Details {
    /// `https://contractgate.dev/problems/` and the kind of problem.
    #[serde(rename = "type")]
    #[schema(
        format = "uri",
        example = "https://contractgate.dev/problems/contract-violation"
    )]
    kind: String,
    /// The kind of problem, for people.
    title: &'static str,
    /// The HTTP status.
    status: u16,
    /// What went wrong in this case, and what to do about it.
    detail: String,
    /// The contract concerned.
    #[serde(skip_serializing_if = "Option::is_none")]
    contract: Option<String>,
    /// The version checked.
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<u32>,
    /// Every violation of the contract, for `contract-violation`,
    /// `upgrade-violation`, `inexpressible-record` and `number-out-of-range`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(required = false)]
    violations: Vec<Violation>,
    /// For a retired version: the version to move to.
    #[serde(skip_serializing_if = "Option::is_none")]
    successor_version: Option<u32>,
    #[serde(skip)]
    retry_after: Option<u64>,
    #[serde(skip)]
    www_authenticate: Option<String>,
}

/// Every kind of problem the gateway answers with. Its status, `type` and
/// title are here and nowhere else; the OpenAPI document lists the kinds
/// each operation can give from this too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// Not JSON, not UTF-8, not an object, or nested too deep.
    MalformedBody,
    /// `If-Match` is neither `*` nor a list of entity-tags.
    InvalidPrecondition,
    /// Nothing is served at the path (or the record key cannot be one).
    NotFound,
    /// No contract of that name.
    UnknownContract,
    /// The contract has no such version.
    UnknownVersion,
    /// No record at that key.
    UnknownRecord,
    /// The path is served, not for this method.
    MethodNotAllowed,
    /// A POST of a key that exists.
    RecordExists,
    /// The version is retired.
    RetiredVersion,
    /// `If-Match` names another revision.
    StaleRevision,
    /// The body is over `limits.body_bytes`.
    BodyTooLarge,
    /// The body is not declared as JSON.
    UnsupportedMediaType,
    /// The payload breaks the version it was sent in.
    ContractViolation,
    /// Valid as sent, but its upgrade breaks the stored version.
    UpgradeViolation,
    /// A PUT body's key differs from the path's.
    KeyMismatch,
    /// An integer literal beyond 64 bits.
    NumberOutOfRange,
    /// The owner's own rules refused the write.
    OwnerRefused,
    /// `concurrency: required` and no `If-Match`.
    PreconditionRequired,
    /// The owner failed in a way a retry will not mend.
    OwnerFault,
    /// The owner cannot be reached; nothing was written.
    OwnerUnavailable,
    /// The owner took longer than `limits.timeout_ms`.
    OwnerTimeout,
    /// Authentication required.
    Unauthorized,
    /// Forbidden.
    Forbidden,
    /// Request timed out.
    RequestTimeout,
    /// Too many requests.
    RateLimited,
    /// Gateway overloaded.
    Overloaded,
    /// Internal error.
    InternalError,
    /// Invalid Idempotency-Key.
    InvalidIdempotencyKey,
    /// Idempotency-Key in use.
    IdempotencyKeyInFlight,
    /// Invalid query parameter.
    InvalidQuery,
    /// Contract required.
    ContractRequired,
    /// Cursor expired.
    CursorExpired,
    /// The stored record cannot be expressed in the version asked for.
    NotRepresentable,
    /// Idempotency-Key reused.
    IdempotencyKeyReused,
    /// A reload found problems in the contracts folder; the old ones serve.
    ReloadRefused,
}

impl Kind {
    /// Its status, the last segment of its `type`, and its title.
    pub fn describe(self) -> (StatusCode, &'static str, &'static str) {
        use Kind as K;
        match self {
            K::ReloadRefused => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "reload-refused",
                "Contracts reload refused",
            ),
            K::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "Authentication required",
            ),
            K::Forbidden => (StatusCode::FORBIDDEN, "forbidden", "Forbidden"),
            K::RequestTimeout => (
                StatusCode::REQUEST_TIMEOUT,
                "request-timeout",
                "Request timed out",
            ),
            K::RateLimited => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate-limited",
                "Too many requests",
            ),
            K::Overloaded => (
                StatusCode::SERVICE_UNAVAILABLE,
                "overloaded",
                "Gateway overloaded",
            ),
            K::InternalError => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal-error",
                "Internal error",
            ),
            K::InvalidIdempotencyKey => (
                StatusCode::BAD_REQUEST,
                "invalid-idempotency-key",
                "Invalid Idempotency-Key",
            ),
            K::IdempotencyKeyInFlight => (
                StatusCode::CONFLICT,
                "idempotency-key-in-flight",
                "Idempotency-Key in use",
            ),
            K::InvalidQuery => (
                StatusCode::BAD_REQUEST,
                "invalid-query",
                "Invalid query parameter",
            ),
            K::ContractRequired => (
                StatusCode::BAD_REQUEST,
                "contract-required",
                "Contract required",
            ),
            K::CursorExpired => (StatusCode::GONE, "cursor-expired", "Cursor expired"),
            K::NotRepresentable => (
                StatusCode::NOT_ACCEPTABLE,
                "not-representable",
                "Record not representable in this version",
            ),
            K::IdempotencyKeyReused => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency-key-reused",
                "Idempotency-Key reused",
            ),
            K::MalformedBody => (
                StatusCode::BAD_REQUEST,
                "malformed-body",
                "Malformed request body",
            ),
            K::InvalidPrecondition => (
                StatusCode::BAD_REQUEST,
                "invalid-precondition",
                "Invalid If-Match",
            ),
            K::NotFound => (StatusCode::NOT_FOUND, "not-found", "Not found"),
            K::UnknownContract => (
                StatusCode::NOT_FOUND,
                "unknown-contract",
                "Unknown contract",
            ),
            K::UnknownVersion => (
                StatusCode::NOT_FOUND,
                "unknown-version",
                "Unknown contract version",
            ),
            K::UnknownRecord => (StatusCode::NOT_FOUND, "unknown-record", "Unknown record"),
            K::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "Method not allowed",
            ),
            K::RecordExists => (
                StatusCode::CONFLICT,
                "record-exists",
                "Record already exists",
            ),
            K::RetiredVersion => (
                StatusCode::GONE,
                "retired-version",
                "Contract version retired",
            ),
            K::StaleRevision => (
                StatusCode::PRECONDITION_FAILED,
                "stale-revision",
                "If-Match does not match",
            ),
            K::BodyTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "body-too-large",
                "Request body too large",
            ),
            K::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported media type",
            ),
            K::ContractViolation => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "contract-violation",
                "Payload violates the contract",
            ),
            K::UpgradeViolation => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "upgrade-violation",
                "Upgraded payload violates the stored version",
            ),
            K::KeyMismatch => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "key-mismatch",
                "Record key mismatch",
            ),
            K::NumberOutOfRange => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "number-out-of-range",
                "Number out of range",
            ),
            K::OwnerRefused => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "owner-refused",
                "Owner refused the write",
            ),
            K::PreconditionRequired => (
                StatusCode::PRECONDITION_REQUIRED,
                "precondition-required",
                "If-Match required",
            ),
            K::OwnerFault => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "owner-fault",
                "Owner failed",
            ),
            K::OwnerUnavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "owner-unavailable",
                "Owner unavailable",
            ),
            K::OwnerTimeout => (
                StatusCode::GATEWAY_TIMEOUT,
                "owner-timeout",
                "Owner timed out",
            ),
        }
    }

    /// Its `type` URI.
    pub fn uri(self) -> String {
        format!("{TYPE_BASE}{}", self.describe().1)
    }
}

impl Problem {
    /// A problem of a kind.
    fn new(kind: Kind, detail: impl Into<String>) -> Self {
        let (status, _, title) = kind.describe();
        Problem(Box::new(Details {
            kind: kind.uri(),
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
        let mut problem = Self::new(Kind::Unauthorized, detail);
        problem.0.www_authenticate = Some(challenge);
        problem
    }

    /// 403: the caller lacks the scope. Says the same whether or not the
    /// contract exists.
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(Kind::Forbidden, detail)
    }

    /// 408: the request took longer than `limits.request_timeout_ms`.
    pub fn request_timeout(deadline: Duration) -> Self {
        Self::new(Kind::RequestTimeout, format!(
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
            Kind::RateLimited,
            format!("`{principal}` is over its rate limit; retry after {seconds} s"),
        );
        problem.0.retry_after = Some(seconds);
        problem
    }

    /// 503: as many requests are in flight as `limits.concurrency` allows;
    /// this one was refused at once rather than queued.
    pub fn overloaded() -> Self {
        let mut problem = Self::new(Kind::Overloaded, "the gateway is serving as many requests as it may at once; nothing was done, retry shortly",
        );
        problem.0.retry_after = Some(1);
        problem
    }

    /// 500: a failure of the gateway itself.
    pub fn internal(detail: impl Into<String>) -> Self {
        Self::new(Kind::InternalError, detail)
    }

    /// 400: the body is not acceptable JSON.
    pub fn malformed(detail: impl Into<String>) -> Self {
        Self::new(Kind::MalformedBody, detail)
    }

    /// 400: `If-Match` is not a valid field value.
    pub fn invalid_precondition(detail: impl Into<String>) -> Self {
        Self::new(Kind::InvalidPrecondition, detail)
    }

    /// 400: `Idempotency-Key` is not a key.
    pub fn invalid_idempotency_key(detail: impl Into<String>) -> Self {
        Self::new(Kind::InvalidIdempotencyKey, detail)
    }

    /// 409 with `Retry-After`: a request with the same idempotency key is
    /// being processed.
    fn idempotency_key_in_flight(detail: String) -> Self {
        let mut problem = Self::new(
            Kind::IdempotencyKeyInFlight,
            format!("{detail}; retry once it is answered to get its answer"),
        );
        problem.0.retry_after = Some(1);
        problem
    }

    /// 404 for a path nothing serves.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(Kind::NotFound, detail)
    }

    /// 405: the path is served, but not for this method.
    pub fn method_not_allowed(method: &Method) -> Self {
        Self::new(
            Kind::MethodNotAllowed,
            format!("{method} is not served at this path"),
        )
    }

    /// 413: the body is over `limit` bytes.
    pub fn too_large(limit: usize) -> Self {
        Self::new(
            Kind::BodyTooLarge,
            format!("the body is larger than the limit of {limit} bytes"),
        )
    }

    /// 415: the body is not declared as what the route takes (`expected`);
    /// `found` says what it was.
    pub fn unsupported_media_type(expected: &str, found: &str) -> Self {
        Self::new(
            Kind::UnsupportedMediaType,
            format!("the body must be {expected}, not {found}"),
        )
    }

    /// 422: an integer `literal` at `pointer` does not fit in 64 bits.
    pub fn number_out_of_range(literal: &str, pointer: String) -> Self {
        let detail = format!(
            "the integer {literal} at `{pointer}` does not fit in 64 bits; it would not be stored exactly, so it is refused"
        );
        Self::new(Kind::NumberOutOfRange, detail.clone()).violations(vec![Violation {
            pointer,
            keyword: "type".to_owned(),
            schema_location: String::new(),
            message: detail,
        }])
    }

    /// 400: a query parameter of `/changes` is not usable.
    pub fn invalid_query(detail: impl Into<String>) -> Self {
        Self::new(Kind::InvalidQuery, detail)
    }

    /// 400: `/changes` without `contract=` while several systems each keep
    /// their own feed.
    pub fn contract_required(systems: &[&str]) -> Self {
        Self::new(
            Kind::ContractRequired,
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
            Kind::CursorExpired,
            format!(
                "events up to position {pruned_through} were deleted (older than \
                 events.retention), so this cursor cannot resume without a gap: read the \
                 records again, then follow from after={pruned_through}"
            ),
        )
    }

    /// 422: a reload found problems in the contracts folder; generation
    /// `serving` goes on serving.
    pub fn reload_refused(serving: u64, problems: &[String]) -> Self {
        Self::new(
            Kind::ReloadRefused,
            format!(
                "the contracts folder has problems; generation {serving} keeps serving: {}",
                problems.join("; ")
            ),
        )
    }

    /// Its HTTP status.
    pub fn status(&self) -> u16 {
        self.0.status
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
            E::UnknownContract(_) => Self::new(Kind::UnknownContract, detail),
            E::UnknownVersion { contract, .. } => {
                Self::new(Kind::UnknownVersion, detail).contract(contract)
            }
            E::Retired {
                contract,
                version,
                successor,
            } => {
                let mut problem = Self::new(
                    Kind::RetiredVersion,
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
                let kind = if rejection.after_upgrade {
                    Kind::UpgradeViolation
                } else {
                    Kind::ContractViolation
                };
                Self::new(kind, detail)
                    .contract(contract)
                    .version(rejection.version)
                    .violations(rejection.violations)
            }
            E::KeyMismatch { .. } => Self::new(Kind::KeyMismatch, detail),
            E::PreconditionRequired(_) => Self::new(Kind::PreconditionRequired, detail),
            E::NotRepresentable {
                contract,
                rejection,
            } => Self::new(Kind::NotRepresentable, detail)
                .contract(contract)
                .version(rejection.version)
                .violations(rejection.violations),
            E::IdempotencyKeyReused(_) => Self::new(Kind::IdempotencyKeyReused, detail),
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
            E::NotFound => Self::new(Kind::UnknownRecord, detail),
            E::Exists => Self::new(
                Kind::RecordExists,
                format!("{detail}; use PUT to replace it"),
            ),
            E::RevisionMismatch { .. } => Self::new(Kind::StaleRevision, detail),
            E::Unavailable(_) => {
                let mut problem = Self::new(
                    Kind::OwnerUnavailable,
                    format!("{detail}; nothing was written"),
                );
                problem.0.retry_after = Some(1);
                problem
            }
            E::Timeout(_) => Self::new(
                Kind::OwnerTimeout,
                format!(
                    "{detail}; the write may still be applied: read the record (its ETag \
                     names its revision) before retrying"
                ),
            ),
            // The write path answers from the ledger instead, unless the
            // write that took the key is not visible there yet: in flight.
            E::IdempotencyKeyTaken => Self::idempotency_key_in_flight(detail),
            E::Refused(_) => {
                Self::new(Kind::OwnerRefused, format!("{detail}; nothing was written"))
            }
            E::Fault(_) => Self::new(Kind::OwnerFault, detail),
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
