//! The HTTP surface: one axum router over a shared [`Gateway`].

mod body;
mod contracts;
mod health;
mod if_match;
pub mod openapi;
mod path;
mod problem;
mod records;

use std::future::Future;
use std::sync::Arc;

use axum::http::{HeaderMap, HeaderName, HeaderValue, Method};
use axum::Router;
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

pub use problem::{Problem, TYPE_BASE};

use crate::contract::Version;
use crate::gateway::Gateway;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
const CONTRACT_VERSION: HeaderName = HeaderName::from_static("contract-version");

/// The whole application, ready to serve.
pub fn router(gateway: Arc<Gateway>) -> Router {
    // Outermost first: every request gets an id (kept if the client sent
    // one) before tracing sees it, and the response carries it back.
    let layers = ServiceBuilder::new()
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .layer(TraceLayer::new_for_http())
        .layer(PropagateRequestIdLayer::new(REQUEST_ID));
    Router::new()
        .merge(records::router())
        .merge(contracts::router())
        .merge(health::router())
        .merge(openapi::router())
        .fallback(|| async { Problem::not_found("nothing is served at this path") })
        .method_not_allowed_fallback(method_not_allowed)
        .layer(layers)
        .with_state(gateway)
}

async fn method_not_allowed(method: Method) -> Problem {
    Problem::method_not_allowed(&method)
}

/// `Contract-Version`: the version a request addressed, on every answer
/// about a version that resolved.
fn set_contract_version(headers: &mut HeaderMap, version: Version) {
    headers.insert(CONTRACT_VERSION, HeaderValue::from(version.number()));
}

/// Serves on `listener` until `shutdown` completes, then drains requests in
/// flight.
pub async fn serve(
    listener: TcpListener,
    gateway: Arc<Gateway>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(gateway))
        .with_graceful_shutdown(shutdown)
        .await
}
