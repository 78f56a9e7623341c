//! The HTTP surface: one axum router over a shared [`Gateway`].

mod admin;
pub mod auth;
mod body;
mod contracts;
mod health;
mod if_match;
mod metrics;
mod problem;
mod records;

use std::future::{Future, IntoFuture};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::MatchedPath;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method};
use axum::{middleware, Router};
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::{Level, Span};

pub use problem::{Problem, TYPE_BASE};

use crate::contract::Version;
use crate::gateway::Gateway;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
const CONTRACT_VERSION: HeaderName = HeaderName::from_static("contract-version");

/// The whole application, ready to serve.
pub fn router(gateway: Arc<Gateway>) -> Router {
    // Outermost first: every request gets an id (kept if the client sent
    // one) before its span opens, and the response carries it back. What
    // may refuse a request (authentication) sits inside those, and the
    // metrics count inside that what the routes answered.
    let layers = ServiceBuilder::new()
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(middleware::from_fn(auth::open))
        .layer(middleware::from_fn_with_state(
            gateway.clone(),
            metrics::count,
        ));
    Router::new()
        .merge(records::router())
        .merge(contracts::router())
        .merge(health::router())
        .merge(metrics::router())
        .merge(admin::router())
        .fallback(|| async { Problem::not_found("nothing is served at this path") })
        .method_not_allowed_fallback(method_not_allowed)
        .layer(layers)
        .with_state(gateway)
}

/// Each request's span: its id, method and route. The route template, not
/// the URI: a record key in the path may be PII.
fn request_span(request: &axum::extract::Request) -> Span {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str);
    let id = request
        .headers()
        .get(REQUEST_ID)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    tracing::info_span!("request", request_id = id, method = %request.method(), route)
}

async fn method_not_allowed(method: Method) -> Problem {
    Problem::method_not_allowed(&method)
}

/// `Contract-Version`: the version a request addressed, on every answer
/// about a version that resolved.
fn set_contract_version(headers: &mut HeaderMap, version: Version) {
    headers.insert(CONTRACT_VERSION, HeaderValue::from(version.number()));
}

/// Serves on `listener` until `shutdown` completes, then stops accepting
/// and lets the requests in flight finish, for up to the configured
/// shutdown deadline; past it, those left are abandoned.
pub async fn serve(
    listener: TcpListener,
    gateway: Arc<Gateway>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let deadline = Duration::from_millis(gateway.config().shutdown.deadline_ms);
    let (stopping, stopped) = tokio::sync::oneshot::channel();
    let signal = async move {
        shutdown.await;
        tracing::info!(?deadline, "shutting down: finishing the requests in flight");
        let _ = stopping.send(());
    };
    let server = axum::serve(listener, router(gateway))
        .with_graceful_shutdown(signal)
        .into_future();
    let overdue = async move {
        match stopped.await {
            Ok(()) => tokio::time::sleep(deadline).await,
            // The server ended on its own: it wins the race below.
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        served = server => served,
        () = overdue => {
            tracing::warn!(?deadline, "shutdown deadline reached; abandoning the requests still in flight");
            Ok(())
        }
    }
}
