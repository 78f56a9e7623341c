//! The gateway's journal: the change events committed writes emitted (the
//! outbox), in an order every reader and the relay agree on.
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

use async_trait::async_trait;
use serde::Serialize;
use serde_json::Value;

use super::Error;
use crate::config::RejectionLimits;
use crate::contract::ContractName;
use crate::events::ChangeEvent;

/// An event as the journal holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct JournalEvent {
    /// Its place in the change feed (see the module comment).
    pub position: u64,
    /// The CloudEvents document.
    pub event: Value,
}

/// A rejected write of a contract with `rejections: keep`: what a data
/// owner needs to see who keeps sending bad data, PII redacted.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KeptRejection {
    /// The contract written to.
    pub contract: ContractName,
    /// The version the payload was checked against.
    pub version: u32,
    /// Who sent it (the principal's name).
    pub caller: String,
    /// When (RFC 3339).
    pub at: String,
    /// Every violation, as the 422 answer listed them.
    pub violations: Value,
    /// The payload as sent, PII fields redacted.
    pub payload: Value,
}

/// Where committed writes' change events are kept until relayed, and read
/// back in commit order.
#[async_trait]
pub trait Journal: Send + Sync {
    /// Records the event of a write its owner committed on its own (owners
    /// whose capabilities say the journal is not in their transaction).
    async fn record(&self, event: &ChangeEvent) -> Result<(), Error>;
    /// Up to `limit` events after `cursor` (a position; 0 for the start),
    /// of one contract or all, in commit order.
    async fn changes_after(
        &self,
        cursor: u64,
        contract: Option<&ContractName>,
        limit: usize,
    ) -> Result<Vec<JournalEvent>, Error>;
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
