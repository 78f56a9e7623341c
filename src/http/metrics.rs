//! `GET /metrics`, and the layer that counts requests to record routes.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::gateway::{Gateway, Target};
use crate::metrics::{Outcome, CONTENT_TYPE};

/// Set by the idempotency layer on an answer replayed from the ledger.
const REPLAYED: &str = "idempotent-replayed";

/// The metrics route.
pub fn router() -> Router<Arc<Gateway>> {
    Router::new().route("/metrics", get(scrape))
}

/// Prometheus metrics.
///
/// Requests by contract, version and outcome, validation, upgrade and owner
/// timings, commit batch sizes, the relay's outbox backlog and the reloads.
/// Needs no credentials, as a scraper carries none.
#[utoipa::path(get, path = "/metrics", tag = "health",
    responses((status = 200, description = "Every metric, in the Prometheus text format 0.0.4.",
        content_type = "text/plain; version=0.0.4; charset=utf-8", body = String)))]
pub(super) async fn scrape(State(gateway): State<Arc<Gateway>>) -> Response {
    // What waits for the relay is read at each scrape, each journal within
    // the bound `/readyz` uses; one that does not answer keeps its last.
    if gateway.config().events.publish_to.is_some() {
        let limit = Duration::from_millis(gateway.config().limits.timeout_ms.min(2_000));
        for (name, system) in gateway.systems() {
            if let Ok(Ok(backlog)) = tokio::time::timeout(limit, system.journal.backlog()).await {
                gateway
                    .metrics()
                    .outbox_backlog(name, backlog.events, backlog.oldest);
            }
        }
    }
    (
        [(header::CONTENT_TYPE, CONTENT_TYPE)],
        gateway.metrics().render(),
    )
        .into_response()
}

/// Counts every answer about a contract version that resolved (the record
/// handlers leave its [`Target`] on the response): by contract, version,
/// outcome and status, and who uses a deprecated version.
pub async fn count(State(gateway): State<Arc<Gateway>>, request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let response = next.run(request).await;
    if let Some(target) = response.extensions().get::<Target>() {
        let metrics = gateway.metrics();
        let (contract, version) = (target.contract.name.as_str(), target.version.to_string());
        let status = response.status();
        let outcome = outcome(&method, target, &response);
        metrics.request(contract, &version, outcome, status.as_u16());
        if target.deprecated {
            metrics.deprecated_use(contract, &version, &target.caller);
        }
    }
    response
}

/// What an answer says happened.
fn outcome(method: &Method, target: &Target, response: &Response) -> Outcome {
    let status = response.status();
    if status.is_success() {
        let upgraded = target.version != target.contract.stored_version().version;
        if response.headers().contains_key(REPLAYED) {
            Outcome::Replayed
        } else if method == Method::GET {
            Outcome::Read
        } else if upgraded && method != Method::DELETE {
            Outcome::Upgraded
        } else {
            Outcome::Accepted
        }
    } else {
        match status {
            StatusCode::UNPROCESSABLE_ENTITY => Outcome::Rejected,
            StatusCode::CONFLICT
            | StatusCode::PRECONDITION_FAILED
            | StatusCode::PRECONDITION_REQUIRED => Outcome::Conflict,
            _ => Outcome::Failed,
        }
    }
}
