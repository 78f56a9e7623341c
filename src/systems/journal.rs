//! The gateway's journal: the change events committed writes emitted (the
//! outbox), in an order every reader and the relay agree on; and the
//! idempotency ledger, what committed writes answered under an
//! `Idempotency-Key`, kept so that a retry gets the same answer.
//!
//! # The change feed's cursor
//!
//! A feed reader resumes with "after N", so N must grow in commit order: no
//! event may become visible with a number below one a reader has already
//! passed. An identity column does not give that on PostgreSQL or MySQL: it
//! is assigned at INSERT, and a transaction that took 10 can commit after
//! one that took 11 — a reader who saw 11 would skip 10 for ever. So events
//! are numbered twice. `seq` is the insertion identity, for the journal's
//! own bookkeeping. `position`, the cursor, is given only to committed
//! events, by a sequencing step that runs in its own short transaction
//! holding the one counter row's lock: sequencing transactions are
//! serialized, each numbers the committed events it sees after every
//! number already given, and commits them all at once. Positions therefore
//! appear in order with no gaps filled later, on every engine, while the
//! writes themselves never wait for each other on the counter. Events of one
//! key keep their commit order: a later write of a key inserts its event
//! after the earlier one committed, so its `seq` is higher and it is
//! sequenced after it.
//!
//! # Retention
//!
//! Old events are deleted by [`Journal::prune`], always a prefix of the
//! feed: the journal remembers the last position deleted, so a reader whose
//! cursor is older learns that events after it are gone
//! ([`Changes::Expired`]) instead of silently skipping them.

use std::time::Duration;

use std::fmt;

use async_trait::async_trait;
use serde::Serialize;
use serde_json::Value;

use super::{Committed, Error};
use crate::config::RejectionLimits;
use crate::contract::{ContractName, RecordKey};
use crate::events::{ChangeEvent, EventType};

/// An event as the journal holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct JournalEvent {
    /// Its place in the change feed (see the module comment).
    pub position: u64,
    /// The CloudEvents document.
    pub event: Value,
}

/// A client's idempotency key, scoped to one contract in the ledger: 1 to
/// 255 bytes of printable ASCII (space included), the characters an
/// RFC 8941 string may hold once unescaped. Case matters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// The longest key kept, in bytes.
    pub const MAX_LEN: usize = 255;

    /// Checks a key's text (already unescaped from its header syntax).
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.is_empty() {
            return Err("the key is empty".to_owned());
        }
        if text.len() > Self::MAX_LEN {
            return Err(format!(
                "the key is {} bytes long, more than {}",
                text.len(),
                Self::MAX_LEN
            ));
        }
        if let Some(c) = text.chars().find(|c| !matches!(c, ' '..='~')) {
            return Err(format!(
                "the key holds {c:?}; only printable ASCII characters are allowed"
            ));
        }
        Ok(Self(text.to_owned()))
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a write under an idempotency key asks the ledger to keep, in the
/// write's own transaction where the owner can (see
/// [`super::Capabilities`]): with the revision and event type the owner
/// reports, enough to answer a retry exactly as the write was answered.
#[derive(Debug, Clone, PartialEq)]
pub struct Idempotency {
    /// The client's key.
    pub key: IdempotencyKey,
    /// Identifies the request the key was first used with; a retry must
    /// bring the same one (computed by the write path, opaque here).
    pub fingerprint: String,
    /// How long the key is kept after the write.
    pub ttl: Duration,
    /// The body answered, in the client's version; none for a deletion.
    pub response: Option<Value>,
}

/// A committed write as the ledger remembers it under an unexpired key.
#[derive(Debug, Clone, PartialEq)]
pub struct LedgerEntry {
    /// The fingerprint of the request that wrote it.
    pub fingerprint: String,
    /// The record written.
    pub record_key: RecordKey,
    /// Its revision after the write.
    pub revision: u64,
    /// What the write did.
    pub event_type: EventType,
    /// The body answered; none for a deletion.
    pub response: Option<Value>,
}

/// A read of the change feed.
#[derive(Debug, Clone, PartialEq)]
pub enum Changes {
    /// The events after `after`, in commit order (none when caught up).
    Page {
        /// The position read from: the cursor given, or the last position
        /// retention deleted when none was given.
        after: u64,
        /// The events.
        events: Vec<JournalEvent>,
    },
    /// Retention deleted events after the cursor: it cannot be resumed.
    Expired {
        /// The last position deleted; the feed starts after it.
        pruned_through: u64,
    },
}

/// Events waiting for the relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backlog {
    /// How many.
    pub events: u64,
    /// How long the oldest has waited since its write committed; none when
    /// nothing waits.
    pub oldest: Option<Duration>,
}

/// A rejected write of a contract with `rejections: keep`: what a data
/// owner needs to see who keeps sending bad data, PII redacted.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct KeptRejection {
    /// The contract written to.
    #[schema(value_type = String)]
    pub contract: ContractName,
    /// The version the payload was checked against.
    pub version: u32,
    /// Who sent it (the principal's name).
    pub caller: String,
    /// When (RFC 3339).
    pub at: String,
    /// Every violation, as the 422 answer listed them.
    #[schema(value_type = Vec<crate::contract::Violation>)]
    pub violations: Value,
    /// The payload as sent, PII fields redacted.
    #[schema(value_type = Object)]
    pub payload: Value,
}

/// Where committed writes' change events are kept until relayed, and read
/// back in commit order; and the idempotency ledger.
#[async_trait]
pub trait Journal: Send + Sync {
    /// Records the event of a write its owner committed on its own (owners
    /// whose capabilities say the journal is not in their transaction).
    async fn record(&self, event: &ChangeEvent) -> Result<(), Error>;
    /// Up to `limit` events after `cursor` (a position; 0 for the very
    /// start; none for the oldest event retention kept), of one contract or
    /// all, in commit order.
    async fn changes_after(
        &self,
        cursor: Option<u64>,
        contract: Option<&ContractName>,
        limit: usize,
    ) -> Result<Changes, Error>;
    /// Up to `limit` events not yet relayed, in commit order, each claimed
    /// for `lease_ms` so that another relay (another gateway instance) skips
    /// it meanwhile. An event whose lease ran out is claimable again.
    async fn claim_unrelayed(
        &self,
        limit: usize,
        lease_ms: u64,
    ) -> Result<Vec<JournalEvent>, Error>;
    /// Marks events (by position) as relayed: never claimed again.
    async fn mark_relayed(&self, positions: &[u64]) -> Result<(), Error>;
    /// The unexpired ledger entry under a contract's idempotency key.
    async fn remembered(
        &self,
        contract: &ContractName,
        key: &IdempotencyKey,
    ) -> Result<Option<LedgerEntry>, Error>;
    /// Keeps the ledger entry of a write its owner committed on its own
    /// (owners whose capabilities say the journal is not in their
    /// transaction). [`Error::IdempotencyKeyTaken`] when the key is kept
    /// already.
    async fn remember(
        &self,
        contract: &ContractName,
        record_key: &RecordKey,
        idempotency: &Idempotency,
        committed: &Committed,
    ) -> Result<(), Error>;
    /// Deletes every expired ledger entry; returns how many there were.
    async fn forget_expired(&self) -> Result<u64, Error>;
    /// What waits for the relay.
    async fn backlog(&self) -> Result<Backlog, Error>;
    /// Deletes the oldest events that entered the feed more than `older_than`
    /// ago and, when `relayed_only`, were relayed: a prefix of the feed,
    /// ending before the first event that must stay. Returns how many went.
    async fn prune(&self, older_than: Duration, relayed_only: bool) -> Result<u64, Error>;
    /// Records each version's schema hash the first time it is served and
    /// returns the versions recorded before under another hash: a
    /// published version is immutable, so those must not be served. When
    /// any is returned, nothing new is recorded.
    async fn pin_schemas(&self, served: &[ServedSchema]) -> Result<Vec<ChangedSchema>, Error>;
    /// Keeps a rejected write, then deletes the contract's oldest kept
    /// rejections beyond `limits` (count and age).
    async fn keep_rejection(
        &self,
        rejection: &KeptRejection,
        limits: &RejectionLimits,
    ) -> Result<(), Error>;
    /// Up to `limit` kept rejections of a contract, newest first.
    async fn rejections(
        &self,
        contract: &ContractName,
        limit: usize,
    ) -> Result<Vec<KeptRejection>, Error>;
}

/// A contract version as served, by its canonical schema hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServedSchema {
    /// The contract.
    pub contract: ContractName,
    /// The version number.
    pub version: u32,
    /// `contract::canonical::schema_hash` of its schema.
    pub hash: String,
}

/// A version served before under another schema: it was edited in place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangedSchema {
    /// The contract.
    pub contract: ContractName,
    /// The version number.
    pub version: u32,
    /// The hash recorded when the version was first served.
    pub recorded: String,
    /// The hash of the schema now offered.
    pub offered: String,
}
