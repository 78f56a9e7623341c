//! `GET /changes`: the change feed, for subscribers with no broker. Pages of
//! committed change events in commit order, each page with the cursor to
//! resume from; with `Accept: text/event-stream`, the same events followed
//! live as Server-Sent Events whose `id:` is the cursor, so a reconnecting
//! `EventSource` resumes where it stopped (`Last-Event-ID`).
//!
//! The cursor is a journal's position: with several systems each has its
//! own journal, and `contract=` picks its owner's.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Extension;
use axum::{Json, Router};
use futures_util::stream::{self, Stream, StreamExt};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::auth::{require, require_named, Action, Principal};
use super::Problem;
use crate::contract::ContractName;
use crate::gateway::Gateway;
use crate::systems::{Changes, Journal, JournalEvent};

/// Events per page when `limit` is not given.
const DEFAULT_LIMIT: usize = 100;
/// The largest `limit` accepted.
const MAX_LIMIT: usize = 1000;
/// How often a live follower looks for new events once caught up.
const POLL: Duration = Duration::from_millis(250);

/// The change feed's route.
pub fn router() -> Router<Arc<Gateway>> {
    Router::new().route("/changes", get(changes))
}

/// The query as sent; parsed into a [`FeedRequest`].
#[derive(Deserialize)]
pub(super) struct FeedQuery {
    after: Option<String>,
    contract: Option<String>,
    limit: Option<String>,
}

/// What a request asks of the feed, checked.
struct FeedRequest {
    journal: Arc<dyn Journal>,
    contract: Option<ContractName>,
    /// None: from the oldest event retention kept.
    after: Option<u64>,
    limit: usize,
    follow: bool,
}

/// A page of the feed.
#[derive(Serialize, ToSchema)]
pub(super) struct FeedPage {
    /// The events after the cursor, in commit order (CloudEvents 1.0,
    /// structured JSON).
    #[schema(value_type = Vec<crate::events::ChangeEvent>)]
    events: Vec<Value>,
    /// The cursor to resume from: `after` of the next request (the same
    /// cursor again when the page is empty).
    #[schema(example = "2", pattern = "^[0-9]+$")]
    next: String,
}

/// Read the change feed.
///
/// Committed change events in commit order, a page at a time, each page with
/// the cursor to resume from; with `Accept: text/event-stream`, the same
/// events followed live as Server-Sent Events whose `id:` is the cursor, so
/// a reconnecting `EventSource` resumes where it stopped (`Last-Event-ID`).
/// With several systems each keeps its own feed: name a contract. Reading
/// one contract's events needs its `read` scope, the whole feed `*:read`.
#[utoipa::path(get, path = "/changes", tag = "changes",
    params(
        ("after" = Option<String>, Query, description = "The cursor to read after: the `next` of a page, or the `id` of an event. Without it, from the oldest event kept. At most 2^63 − 1, as positions are.", pattern = "^[0-9]+$", example = "2"),
        ("contract" = Option<String>, Query, description = "Only this contract's events, from its owner's feed (required when several systems each keep one).", example = "customer"),
        ("limit" = Option<u16>, Query, description = "Events per page, 1 to 1000 (default 100).", minimum = 1, maximum = 1000),
        ("Last-Event-ID" = Option<String>, Header, description = "Sent by a reconnecting `EventSource`: the `id` of the last event it received; takes the place of `after`.", pattern = "^[0-9]+$"),
    ),
    responses((status = 200, description = "A page of events, or with `Accept: text/event-stream` the live stream: each event an SSE `id:` (its cursor) and `data:` (the event's JSON), and a comment line now and then to keep the connection open. The stream ends when retention overtakes it; reconnecting is then answered 410. (OpenAPI 3.1 has no schema for a stream's items: the one given is one event's.)",
        content((FeedPage = "application/json"), (String = "text/event-stream")))))]
pub(super) async fn changes(
    State(gateway): State<Arc<Gateway>>,
    Extension(principal): Extension<Principal>,
    query: Result<Query<FeedQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let query = query.map_err(|rejection| Problem::invalid_query(rejection.body_text()))?;
    // The feed shows records: reading one contract's needs its read scope,
    // the whole feed `*:read`.
    match query.contract.as_deref() {
        Some(name) => require_named(&principal, name, &[Action::Read])?,
        None => require(&principal, None, Action::Read)?,
    }
    let request = FeedRequest::parse(&gateway, query.0, &headers)?;
    let changes = request
        .journal
        .changes_after(request.after, request.contract.as_ref(), request.limit)
        .await?;
    let (after, events) = match changes {
        Changes::Page { after, events } => (after, events),
        Changes::Expired { pruned_through } => return Err(Problem::cursor_expired(pruned_through)),
    };
    let next = events.last().map_or(after, |last| last.position);
    if request.follow {
        let live = follow(request, next);
        let feed = stream::iter(events.into_iter().map(sse_event)).chain(live);
        return Ok(Sse::new(feed)
            .keep_alive(KeepAlive::default())
            .into_response());
    }
    let events = events.into_iter().map(|e| e.event).collect();
    let next = next.to_string();
    Ok(Json(FeedPage { events, next }).into_response())
}

impl FeedRequest {
    fn parse(gateway: &Gateway, query: FeedQuery, headers: &HeaderMap) -> Result<Self, Problem> {
        let (journal, contract) = feed_of(gateway, query.contract.as_deref())?;
        // A reconnecting EventSource names the last event it received.
        let last_event_id = headers
            .get("last-event-id")
            .map(|value| value.to_str().unwrap_or("(not text)").to_owned());
        let after = match (last_event_id, query.after) {
            (Some(id), _) => Some(number("Last-Event-ID", &id)?),
            (None, Some(after)) => Some(number("after", &after)?),
            (None, None) => None,
        };
        let limit = match query.limit {
            Some(limit) => number("limit", &limit)
                .ok()
                .and_then(|n| usize::try_from(n).ok())
                .filter(|n| (1..=MAX_LIMIT).contains(n))
                .ok_or_else(|| {
                    Problem::invalid_query(format!(
                        "limit `{limit}` must be a whole number from 1 to {MAX_LIMIT}"
                    ))
                })?,
            None => DEFAULT_LIMIT,
        };
        let follow = headers
            .get_all(header::ACCEPT)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .any(|value| value.contains("text/event-stream"));
        Ok(FeedRequest {
            journal,
            contract,
            after,
            limit,
            follow,
        })
    }
}

/// The journal to read: the owner's of `contract`, or the only system's.
fn feed_of(
    gateway: &Gateway,
    contract: Option<&str>,
) -> Result<(Arc<dyn Journal>, Option<ContractName>), Problem> {
    if let Some(name) = contract {
        let (name, journal) = gateway.journal_of(name)?;
        return Ok((journal, Some(name)));
    }
    let mut systems = gateway.systems().values();
    match (systems.next(), systems.next()) {
        (Some(only), None) => Ok((only.journal.clone(), None)),
        _ => {
            let names: Vec<&str> = gateway.systems().keys().map(String::as_str).collect();
            Err(Problem::contract_required(&names))
        }
    }
}

/// A cursor or a count: a whole number, nothing else, and no larger than
/// the journals' positions (signed 64-bit in every database) can be.
fn number(name: &str, text: &str) -> Result<u64, Problem> {
    text.parse::<u64>()
        .ok()
        .filter(|number| i64::try_from(*number).is_ok())
        .ok_or_else(|| {
            Problem::invalid_query(format!(
                "{name} `{text}` is not a cursor: use the `next` of a page or the `id` of an event"
            ))
        })
}

fn sse_event(event: JournalEvent) -> Result<Event, Infallible> {
    Ok(Event::default()
        .id(event.position.to_string())
        .data(event.event.to_string()))
}

/// The events after `cursor` as they are sequenced, for ever. A journal that
/// fails is retried; a cursor retention overtook ends the stream, and the
/// client's reconnection is then answered 410.
fn follow(
    request: FeedRequest,
    cursor: u64,
) -> impl Stream<Item = Result<Event, Infallible>> + Send {
    let FeedRequest {
        journal,
        contract,
        limit,
        ..
    } = request;
    stream::unfold(cursor, move |cursor| {
        let journal = journal.clone();
        let contract = contract.clone();
        async move {
            loop {
                match journal
                    .changes_after(Some(cursor), contract.as_ref(), limit)
                    .await
                {
                    Ok(Changes::Page { events, .. }) if !events.is_empty() => {
                        let next = events.last().map_or(cursor, |last| last.position);
                        return Some((stream::iter(events.into_iter().map(sse_event)), next));
                    }
                    Ok(Changes::Page { .. }) => tokio::time::sleep(POLL).await,
                    Ok(Changes::Expired { .. }) => return None,
                    Err(error) => {
                        tracing::warn!(%error, "/changes: the journal failed; retrying");
                        tokio::time::sleep(POLL).await;
                    }
                }
            }
        }
    })
    .flatten()
}
