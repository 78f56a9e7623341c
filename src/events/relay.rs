//! The outbox relay: publishes each system's journaled change events to a
//! NATS JetStream stream, in commit order, and marks them relayed only once
//! the broker acknowledged them.
//!
//! # What a subscriber gets
//!
//! - **Subjects**: `<stream in lowercase>.<contract>.<created|replaced|patched|deleted>`
//!   (the event's `type` under the stream's prefix), so a consumer filters
//!   by contract (`changes.customer.>`) or by kind (`changes.*.deleted`).
//! - **Binding**: CloudEvents *structured* mode: the payload is the event's
//!   JSON document, byte for byte what `/changes` serves, with
//!   `content-type: application/cloudevents+json`. NATS's CloudEvents binding
//!   (1.0) defines structured mode only, and one document keeps every
//!   attribute (the `revision` extension included) and the data together,
//!   so a consumer parses one format from the broker and from the feed.
//! - **Exactly once**: `Nats-Msg-Id` is the event id. An event is published
//!   again only when its relay stopped between the broker's ack and marking
//!   it (a crash, a lost connection); the stream drops the repeat within its
//!   duplicate window ([`DUPLICATE_WINDOW`] for streams the relay creates).
//! - **Order**: one event at a time, each awaiting its ack, in position
//!   order, by one relay per journal (the journal's lease): a later write of
//!   a key never overtakes an earlier one, even across a broker outage.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, message::PublishMessage};
use futures_util::future::join_all;
use serde_json::{json, Value};
use tokio::sync::OnceCell;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::CertificateDer;

use crate::config::PublishTo;
use crate::systems::{self, Journal, JournalEvent, Systems};

/// How long a relay's claim on its journal's events holds: another
/// instance takes over this long after a relay stopped.
pub const LEASE: Duration = Duration::from_secs(10);

/// Events claimed per step.
const BATCH: usize = 100;

/// How long a stream the relay creates remembers message ids to drop
/// repeats: far longer than a lease, so an event re-published after a relay
/// restarted is still recognised.
pub const DUPLICATE_WINDOW: Duration = Duration::from_secs(10 * 60);

/// How often an idle relay looks for new events.
const IDLE: Duration = Duration::from_millis(200);

/// The longest wait between attempts while the broker or the journal fails.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Why a relay step stopped; the events it did not mark wait for the next.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The journal failed.
    #[error("the journal failed: {0}")]
    Journal(#[from] systems::Error),
    /// The broker did not take an event.
    #[error("the broker failed: {0}")]
    Broker(String),
}

fn broker(error: impl std::fmt::Display) -> Error {
    Error::Broker(error.to_string())
}

/// What one relay step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relayed {
    /// This many events were published and marked.
    Events(usize),
    /// Nothing was waiting (or another instance holds the lease).
    Empty,
}

/// A connection to the broker's stream, shared by every system's relay.
pub struct Publisher {
    jetstream: jetstream::Context,
    config: PublishTo,
    stream: OnceCell<()>,
}

impl Publisher {
    /// Connects to the broker. Returns at once even when the broker is
    /// down: the client keeps reconnecting, and publishing fails meanwhile.
    pub async fn connect(config: &PublishTo) -> Result<Publisher, Error> {
        let mut options = async_nats::ConnectOptions::new()
            .name("contractgate-relay")
            .retry_on_initial_connect();
        if let Some(ca) = &config.ca {
            // Read now: the client reads it at each connection attempt, and
            // retrying the first one, would retry a bad file for ever.
            let certificates = CertificateDer::pem_file_iter(ca)
                .and_then(Iterator::collect::<Result<Vec<_>, _>>)
                .map_err(|error| {
                    Error::Broker(format!(
                        "ca: cannot read a PEM certificate from {}: {error}",
                        ca.display()
                    ))
                })?;
            if certificates.is_empty() {
                return Err(Error::Broker(format!(
                    "ca: {} holds no certificate",
                    ca.display()
                )));
            }
            options = options.add_root_certificates(ca.clone()).require_tls(true);
        }
        let client = options.connect(config.url.as_str()).await.map_err(broker)?;
        Ok(Publisher {
            jetstream: jetstream::new(client),
            config: config.clone(),
            stream: OnceCell::new(),
        })
    }

    /// Creates the stream when missing (once per connection); one that
    /// exists is used as it is.
    async fn ensure_stream(&self) -> Result<(), Error> {
        self.stream
            .get_or_try_init(|| async {
                let stream = jetstream::stream::Config {
                    name: self.config.stream.clone(),
                    subjects: vec![format!("{}.>", self.config.subject_prefix())],
                    duplicate_window: DUPLICATE_WINDOW,
                    ..Default::default()
                };
                self.jetstream
                    .get_or_create_stream(stream)
                    .await
                    .map(|_| ())
                    .map_err(broker)
            })
            .await
            .map(|_| ())
    }

    /// Publishes one event and waits for the broker's ack.
    async fn publish(&self, event: &Value) -> Result<(), Error> {
        let id = event["id"].as_str().unwrap_or_default();
        let kind = event["type"].as_str().unwrap_or_default();
        if id.is_empty() || kind.is_empty() {
            return Err(Error::Journal(systems::Error::Fault(format!(
                "a journaled event has no id or type: {event}"
            ))));
        }
        let payload = serde_json::to_vec(event).map_err(broker)?;
        let message = PublishMessage::build()
            .payload(payload.into())
            .message_id(id)
            .header("content-type", "application/cloudevents+json");
        let subject = format!("{}.{kind}", self.config.subject_prefix());
        let ack = self
            .jetstream
            .send_publish(subject, message)
            .await
            .map_err(broker)?;
        ack.await.map_err(broker)?;
        Ok(())
    }
}

/// The relay of one journal.
pub struct Relay {
    journal: Arc<dyn Journal>,
    publisher: Arc<Publisher>,
}

impl Relay {
    /// A relay from `journal` through `publisher`.
    pub fn new(journal: Arc<dyn Journal>, publisher: Arc<Publisher>) -> Self {
        Self { journal, publisher }
    }

    /// One step: claims the waiting events, publishes them in order and
    /// marks those the broker acknowledged. On a failure the events
    /// published so far are still marked, and the rest wait.
    pub async fn relay_once(&self) -> Result<Relayed, Error> {
        let lease_ms = LEASE.as_millis() as u64;
        let claimed = self.journal.claim_unrelayed(BATCH, lease_ms).await?;
        if claimed.is_empty() {
            return Ok(Relayed::Empty);
        }
        self.publisher.ensure_stream().await?;
        let started = Instant::now();
        let mut published = Vec::with_capacity(claimed.len());
        let mut failure = None;
        for JournalEvent { position, event } in &claimed {
            // Leave the rest to the next claim, which renews the lease,
            // rather than publish after another instance may have taken it.
            if started.elapsed() > LEASE / 2 {
                break;
            }
            match self.publisher.publish(event).await {
                Ok(()) => published.push(*position),
                Err(error) => {
                    failure = Some(error);
                    break;
                }
            }
        }
        if !published.is_empty() {
            self.journal.mark_relayed(&published).await?;
        }
        match failure {
            Some(error) => Err(error),
            None => Ok(Relayed::Events(published.len())),
        }
    }

    /// Relays for ever: at once while events wait, every [`IDLE`] when none
    /// do, and backing off (up to [`MAX_BACKOFF`]) while the broker or the
    /// journal fails; the events wait meanwhile. Stopped by aborting its
    /// task.
    pub async fn run(self, system: String) {
        let mut backoff = IDLE;
        loop {
            match self.relay_once().await {
                Ok(Relayed::Events(_)) => backoff = IDLE,
                Ok(Relayed::Empty) => {
                    backoff = IDLE;
                    tokio::time::sleep(IDLE).await;
                }
                Err(error) => {
                    tracing::warn!(%system, %error, "relay: events wait; retrying in {backoff:?}");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }
}

/// What waits for the relay in each system, for `/readyz`: `backlog`
/// (events not yet acknowledged by the broker) and
/// `oldest_unsent_seconds` (how long the oldest has waited; null when none
/// waits), or `error` when the journal does not answer within `limit`.
pub async fn backlog_report(systems: &Systems, limit: Duration) -> Value {
    let reports = systems.iter().map(|(name, system)| async move {
        let backlog = tokio::time::timeout(limit, system.journal.backlog())
            .await
            .unwrap_or(Err(systems::Error::Timeout(limit)));
        let report = match backlog {
            Ok(backlog) => json!({
                "backlog": backlog.events,
                "oldest_unsent_seconds": backlog.oldest.map(|age| age.as_secs_f64()),
            }),
            Err(error) => json!({ "error": error.to_string() }),
        };
        (name.clone(), report)
    });
    Value::Object(join_all(reports).await.into_iter().collect())
}
