//! The HTTP surface: one axum router over a shared [`Gateway`].

mod admin;
pub mod auth;
mod batch;
mod body;
mod changes;
mod contracts;
mod health;
mod idempotency_key;
mod if_match;
mod limits;
mod metrics;
pub mod openapi;
mod path;
mod problem;
mod records;
mod tls;
mod validate;

use std::future::{Future, IntoFuture};
use std::sync::Arc;
use std::time::Duration;

use axum::error_handling::HandleErrorLayer;
use axum::extract::MatchedPath;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method};
use axum::middleware::from_fn_with_state;
use axum::{middleware, Router};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tower::limit::GlobalConcurrencyLimitLayer;
use tower::load_shed::LoadShedLayer;
use tower::timeout::TimeoutLayer;
use tower::{BoxError, ServiceBuilder};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::{Level, Span};

pub use problem::{Problem, TYPE_BASE};

use crate::contract::Version;
use crate::gateway::Gateway;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
const CONTRACT_VERSION: HeaderName = HeaderName::from_static("contract-version");

/// The whole application, ready to serve. Fails when a key or
/// certificate file the config names does not read.
pub fn router(gateway: Arc<Gateway>) -> anyhow::Result<Router> {
    let config = gateway.config().clone();
    let authenticator = config
        .auth
        .as_ref()
        .map(auth::Authenticator::new)
        .transpose()?
        .map(Arc::new);
    let deadline = Duration::from_millis(config.limits.request_timeout_ms);
    // Outermost first. What must see every request comes first: its id
    // (kept if the client sent one) before tracing sees it, and the
    // response carries it back. Then the limits on work: the excess over
    // the concurrency limit is shed at once (503), and what is let in has
    // a deadline (408) — both before authentication, whose Argon2 check
    // is work too. HandleErrorLayer turns their errors into problems.
    let outer = ServiceBuilder::new()
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        // Counts what every request was answered, refusals of the limits
        // and of authentication included.
        .layer(middleware::from_fn_with_state(
            gateway.clone(),
            metrics::count,
        ))
        .layer(HandleErrorLayer::new(move |error: BoxError| async move {
            limits::refusal(&error, deadline)
        }))
        .layer(LoadShedLayer::new())
        // Global: `Router::layer` wraps each route on its own, and one
        // semaphore must count the requests of them all.
        .layer(GlobalConcurrencyLimitLayer::new(
            config.limits.concurrency.get(),
        ))
        .layer(TimeoutLayer::new(deadline));
    // Inside those, and outside routing: authentication (401), which names
    // the principal; then its rate limit (429). Handlers check scopes
    // (403) before they look anything up.
    let mut guarded = Router::new()
        .merge(records::router())
        .merge(batch::router())
        .merge(validate::router())
        .merge(contracts::router())
        .merge(changes::router())
        .merge(openapi::router())
        .merge(admin::router())
        .fallback(|| async { Problem::not_found("nothing is served at this path") })
        .method_not_allowed_fallback(method_not_allowed);
    if let Some(rate) = config.limits.rate {
        let limiter = Arc::new(limits::RateLimiter::new(rate));
        guarded = guarded.layer(from_fn_with_state(limiter, limits::limit_rate));
    }
    Ok(guarded
        .layer(from_fn_with_state(authenticator, auth::authenticate))
        // Probes answer load balancers, and scrapes Prometheus, which carry
        // no credentials.
        .merge(health::router())
        .merge(metrics::router())
        .layer(outer)
        .with_state(gateway))
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

/// The HTTP service of a gateway, built before it listens: its keys and
/// certificate are read and checked here.
pub struct Server {
    router: Router,
    tls: Option<TlsAcceptor>,
    /// How long requests in flight may take once shutdown began.
    deadline: Duration,
}

impl Server {
    /// Builds the router and, with `tls:`, the TLS acceptor.
    pub fn new(gateway: Arc<Gateway>) -> anyhow::Result<Server> {
        let tls = gateway
            .config()
            .tls
            .as_ref()
            .map(tls::acceptor)
            .transpose()?;
        let deadline = Duration::from_millis(gateway.config().shutdown.deadline_ms);
        Ok(Server {
            router: router(gateway)?,
            tls,
            deadline,
        })
    }

    /// `https` with `tls:`, else `http`.
    pub fn scheme(&self) -> &'static str {
        if self.tls.is_some() {
            "https"
        } else {
            "http"
        }
    }

    /// Serves on `listener` until `shutdown` completes, then stops
    /// accepting and lets the requests in flight finish, for up to the
    /// configured shutdown deadline; past it, those left are abandoned.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let deadline = self.deadline;
        let (stopping, stopped) = tokio::sync::oneshot::channel();
        let signal = async move {
            shutdown.await;
            tracing::info!(?deadline, "shutting down: finishing the requests in flight");
            let _ = stopping.send(());
        };
        let served = async move {
            match self.tls {
                Some(acceptor) => {
                    let listener = tls::TlsListener::new(listener, acceptor)?;
                    axum::serve(listener, self.router)
                        .with_graceful_shutdown(signal)
                        .into_future()
                        .await
                }
                None => {
                    axum::serve(listener, self.router)
                        .with_graceful_shutdown(signal)
                        .into_future()
                        .await
                }
            }
        };
        let overdue = async move {
            match stopped.await {
                Ok(()) => tokio::time::sleep(deadline).await,
                // The server ended on its own: it wins the race below.
                Err(_) => std::future::pending().await,
            }
        };
        tokio::select! {
            served = served => served,
            () = overdue => {
                tracing::warn!(?deadline, "shutdown deadline reached; abandoning the requests still in flight");
                Ok(())
            }
        }
    }
}

/// Builds the gateway's [`Server`] and serves on `listener` until
/// `shutdown` completes.
/// Serves on `listener` until `shutdown` completes, then stops accepting
/// and lets the requests in flight finish, for up to the configured
/// shutdown deadline; past it, those left are abandoned.
pub async fn serve(
    listener: TcpListener,
    gateway: Arc<Gateway>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    Server::new(gateway)?.serve(listener, shutdown).await?;
    Ok(())
}
