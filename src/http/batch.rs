//! `POST /contracts/{name}/v{n}/records:batch`: NDJSON bulk writes. The
//! body is read as it arrives, line by line, in chunks (see
//! `write::batch`): while chunks commit, the next is read and checked. Up
//! to two chunks commit at once, on two of the owner's connections, unless
//! they share a key: then the later waits for the earlier, so the last line
//! of a key wins. One NDJSON result line per input line, streamed back in
//! input order, in bounded memory whatever the body's size: at most three
//! chunks are held.

use std::collections::{HashSet, VecDeque};
use std::convert::Infallible;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Extension;
use axum::Router;
use futures_util::StreamExt;
use serde::Serialize;
use serde_json::Value;
use tokio::sync::mpsc;
use utoipa::ToSchema;

use super::auth::{require_named, Action, Principal};
use super::body::{check_content_type, parse};
use super::problem::Problem;
use super::records::answer;
use crate::contract::RecordKey;
use crate::events::EventType;
use crate::gateway::{Gateway, Target};
use crate::write::{LineOutcome, PreparedLines};

/// Lines written together at most: a chunk is one transaction. 2,000
/// rather than 500 commits (and syncs) a quarter as often: bulk loads went
/// 14 % faster on SQLite and 5 % on PostgreSQL, for a few megabytes more.
const CHUNK_LINES: usize = 2000;

/// Chunks committing at once. A server owner's commit of a chunk is one
/// backend's serial work, which left half of the machine idle; SQLite's one
/// writer takes them in turn.
const COMMITTING: usize = 2;

/// Result lines buffered ahead of a slow reader; the request body is read
/// no faster than the answer is taken.
const RESULTS_AHEAD: usize = 4;

/// The bulk route.
pub fn router() -> Router<Arc<Gateway>> {
    Router::new().route("/contracts/{name}/{version}/records:batch", post(batch))
}

async fn batch(
    State(gateway): State<Arc<Gateway>>,
    Path((name, version)): Path<(String, String)>,
    Extension(principal): Extension<Principal>,
    request: Request,
) -> Result<Response, Problem> {
    require_named(&principal, &name, &[Action::Write])?;
    let target = gateway.resolve(&name, &version, &principal.name)?;
    Ok(answer(&target, async {
        check_content_type(
            request.headers(),
            "NDJSON (Content-Type: application/x-ndjson), one JSON object per line",
            |essence| essence == "application/x-ndjson" || essence == "application/jsonl",
        )?;
        // The answer starts once the first of the body has come: a client
        // that sent `Expect: 100-continue` (curl does for a large body) is
        // told to go on only when the body is read, and an answer sent
        // before that would leave it waiting for the `100` to time out.
        let mut data = request.into_body().into_data_stream();
        let first = data.next().await;
        let body = futures_util::stream::iter(first).chain(data);
        let (results, stream) = mpsc::channel::<Bytes>(RESULTS_AHEAD);
        tokio::spawn(write_lines(gateway.clone(), target.clone(), body, results));
        let stream = futures_util::stream::unfold(stream, |mut stream| async move {
            stream
                .recv()
                .await
                .map(|bytes| (Ok::<_, Infallible>(bytes), stream))
        });
        let mut response = Body::from_stream(stream).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-ndjson"),
        );
        Ok(response)
    })
    .await)
}

/// The result of one input line, as one NDJSON line of the answer.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub(super) enum BatchResult {
    /// The line was written.
    Written {
        /// The input line's number, counting non-blank lines from 1.
        #[schema(minimum = 1)]
        line: usize,
        /// 201 when the record was created, 200 when it was replaced.
        #[schema(minimum = 200, maximum = 201)]
        status: u16,
        /// The record's key.
        key: String,
        /// The record's revision now.
        #[schema(minimum = 1)]
        revision: u64,
    },
    /// The line was not written: the problem a single write of it would
    /// have got.
    Refused {
        /// The input line's number, counting non-blank lines from 1.
        #[schema(minimum = 1)]
        line: usize,
        /// The problem's status.
        #[schema(minimum = 400, maximum = 599)]
        status: u16,
        #[schema(value_type = super::problem::Details)]
        problem: Problem,
    },
}

/// A chunk of lines being gathered: each line's number and its parsed body
/// or why it could not be parsed.
type Chunk = Vec<(usize, Result<Value, Problem>)>;

/// A chunk's commit under way: the keys it writes, and its result lines.
type InFlight = (HashSet<RecordKey>, tokio::task::JoinHandle<Bytes>);

/// Reads the body's lines, writes them chunk by chunk and sends the result
/// lines. Stops when the client goes away.
async fn write_lines(
    gateway: Arc<Gateway>,
    target: Target,
    mut data: impl futures_util::Stream<Item = Result<Bytes, axum::Error>> + Unpin,
    results: mpsc::Sender<Bytes>,
) {
    let limits = gateway.config().limits;
    let mut pending: Vec<u8> = Vec::new();
    let mut chunk: Chunk = Vec::new();
    let mut number = 0;
    // A line over the size limit is answered once, then skipped to its end.
    let mut skipping = false;
    let mut ended = false;
    let mut in_flight = VecDeque::new();
    while !ended {
        match data.next().await {
            Some(Ok(bytes)) => pending.extend_from_slice(&bytes),
            Some(Err(error)) => {
                number += 1;
                let problem = Problem::malformed(format!("the body could not be read: {error}"));
                chunk.push((number, Err(problem)));
                ended = true;
            }
            None => {
                ended = true;
                if !pending.is_empty() && !skipping {
                    // The last line may lack its newline.
                    pending.push(b'\n');
                }
            }
        }
        // The complete lines are taken from the front, then removed at
        // once: removing each as it is taken would move the rest every time.
        let mut start = 0;
        while let Some(length) = pending[start..].iter().position(|b| *b == b'\n') {
            let line = &pending[start..start + length];
            start += length + 1;
            if std::mem::take(&mut skipping) {
                continue;
            }
            let text = line.trim_ascii();
            if text.is_empty() {
                continue;
            }
            number += 1;
            chunk.push((number, parse(text, &limits)));
            if chunk.len() == CHUNK_LINES
                && !send(&gateway, &target, &mut chunk, &mut in_flight, &results).await
            {
                return;
            }
        }
        pending.drain(..start);
        if pending.len() > limits.body_bytes && !skipping {
            number += 1;
            chunk.push((number, Err(Problem::too_large(limits.body_bytes))));
            pending.clear();
            skipping = true;
        } else if skipping {
            pending.clear();
        }
        if ended
            && !chunk.is_empty()
            && !send(&gateway, &target, &mut chunk, &mut in_flight, &results).await
        {
            return;
        }
    }
    while answer_oldest(&mut in_flight, &results).await {}
}

/// Checks the chunk gathered, answers earlier chunks once they committed
/// as far as needed to start this one's commit (see the module's text),
/// then starts it; false when the client has gone.
async fn send(
    gateway: &Arc<Gateway>,
    target: &Target,
    chunk: &mut Chunk,
    in_flight: &mut VecDeque<InFlight>,
    results: &mpsc::Sender<Bytes>,
) -> bool {
    let mut refused = Vec::new();
    let mut parsed = Vec::with_capacity(chunk.len());
    for (line, body) in std::mem::take(chunk) {
        match body {
            Ok(body) => parsed.push((line, body)),
            Err(problem) => refused.push((line, problem_line(line, problem))),
        }
    }
    let prepared = gateway.prepare_lines(target, parsed).await;
    let keys: HashSet<RecordKey> = prepared.keys().cloned().collect();
    while in_flight.len() >= COMMITTING
        || in_flight
            .iter()
            .any(|(earlier, _)| !earlier.is_disjoint(&keys))
    {
        if !answer_oldest(in_flight, results).await {
            return false;
        }
    }
    let (gateway, target) = (gateway.clone(), target.clone());
    let commit =
        tokio::spawn(async move { commit_chunk(&gateway, &target, prepared, refused).await });
    in_flight.push_back((keys, commit));
    // A task spawned from a worker waits in that worker's own slot, which
    // no other worker takes, until the spawning task yields; checking the
    // next chunk would otherwise hold this commit back by milliseconds.
    tokio::task::yield_now().await;
    true
}

/// Sends the result lines of the oldest commit under way once it ends;
/// false when none was under way, the client has gone or the commit failed
/// to finish.
async fn answer_oldest(in_flight: &mut VecDeque<InFlight>, results: &mpsc::Sender<Bytes>) -> bool {
    match in_flight.pop_front() {
        Some((_, commit)) => match commit.await {
            Ok(lines) => results.send(lines).await.is_ok(),
            Err(_) => false,
        },
        None => false,
    }
}

/// Commits a checked chunk and renders every line's result, in order.
async fn commit_chunk(
    gateway: &Gateway,
    target: &Target,
    prepared: PreparedLines,
    refused: Vec<(usize, BatchResult)>,
) -> Bytes {
    let written = gateway.commit_lines(target, prepared).await;
    let mut lines: Vec<(usize, BatchResult)> = written.into_iter().map(result_line).collect();
    lines.extend(refused);
    lines.sort_by_key(|(line, _)| *line);
    let mut out = Vec::new();
    for (_, line) in lines {
        // Serialising strings and numbers into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut out, &line);
        out.push(b'\n');
    }
    Bytes::from(out)
}

fn result_line((line, outcome): LineOutcome) -> (usize, BatchResult) {
    match outcome {
        Ok(outcome) => {
            let status = if outcome.event_type == EventType::Created {
                201
            } else {
                200
            };
            let written = BatchResult::Written {
                line,
                status,
                key: outcome.key.as_str().to_owned(),
                revision: outcome.revision,
            };
            (line, written)
        }
        Err(error) => (line, problem_line(line, Problem::from(error))),
    }
}

fn problem_line(line: usize, problem: Problem) -> BatchResult {
    BatchResult::Refused {
        line,
        status: problem.status(),
        problem,
    }
}
