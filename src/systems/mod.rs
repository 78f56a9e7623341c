//! Systems: where a write goes. What a write commits is split in two: the
//! record, held by its [`Owner`], and the gateway's [`Journal`] (change
//! events, and the idempotency ledger). Each kind of owner is one module
//! behind these traits; which kind stands behind a name is decided once, in
//! [`connect`]. A new kind touches this folder and
//! [`crate::config::SystemConfig`], nothing else.

mod journal;
mod sql;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use serde_json::Value;

use crate::config::SystemConfig;
use crate::contract::{Contract, ContractName, RecordKey, ValidatedRecord, Version};
use crate::events::{EventData, EventType};
use crate::metrics::Metrics;

pub use journal::{
    Backlog, ChangedSchema, Changes, Idempotency, IdempotencyKey, Journal, JournalEvent,
    KeptRejection, LedgerEntry, ServedSchema,
};

/// What an owner failed at, classified once so that retries, statuses and
/// metrics are decided in one place rather than in every owner.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// The record does not exist (a precondition needed it).
    #[error("the record does not exist")]
    NotFound,
    /// The record exists (a create needed it not to).
    #[error("the record already exists")]
    Exists,
    /// `If-Match` named another revision.
    #[error("{}", match current {
        Some(current) => format!("the record is at revision {current}, not the one expected"),
        None => "the record changed while it was written".to_owned(),
    })]
    RevisionMismatch {
        /// Its current revision, when the owner knows it.
        current: Option<u64>,
    },
    /// The owner's own rules (a constraint, a trigger) refused the write.
    #[error("the owner refused the write: {0}")]
    Refused(String),
    /// The idempotency ledger keeps the write's key already: a write under
    /// the same key committed first (in another gateway instance).
    #[error("another write under the same Idempotency-Key committed first")]
    IdempotencyKeyTaken,
    /// The owner cannot be reached or is busy; trying later may work.
    #[error("the owner is unavailable: {0}")]
    Unavailable(String),
    /// The owner did not answer in time.
    #[error("the owner did not answer within {0:?}")]
    Timeout(Duration),
    /// The owner failed in a way retrying will not mend (a missing table, a
    /// stored body that is not JSON).
    #[error("the owner failed: {0}")]
    Fault(String),
}

impl Error {
    /// Whether the write was refused on its own merits (the record's state
    /// or the owner's rules) rather than by a failing owner: such a write
    /// fails alone, and a batch it was part of goes on without it.
    pub fn is_domain(&self) -> bool {
        matches!(
            self,
            Error::NotFound
                | Error::Exists
                | Error::RevisionMismatch { .. }
                | Error::Refused(_)
                | Error::IdempotencyKeyTaken
        )
    }
}

/// What a write requires of the record's current state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Precondition {
    /// Nothing.
    None,
    /// That there is no record (a create).
    Absent,
    /// That the record exists.
    Exists,
    /// That the record exists at this revision.
    Revision(u64),
    /// That the record exists at one of these revisions (`If-Match`: a
    /// list matches when any entry does; an empty one matches nothing).
    Revisions(Vec<u64>),
}

impl Precondition {
    /// Checks the precondition against the current revision (None: absent).
    pub fn check(&self, current: Option<u64>) -> Result<(), Error> {
        match (self, current) {
            (Precondition::Absent, Some(_)) => Err(Error::Exists),
            (
                Precondition::Exists | Precondition::Revision(_) | Precondition::Revisions(_),
                None,
            ) => Err(Error::NotFound),
            (Precondition::Revision(expected), Some(current)) if *expected != current => {
                Err(Error::RevisionMismatch {
                    current: Some(current),
                })
            }
            (Precondition::Revisions(allowed), Some(current)) if !allowed.contains(&current) => {
                Err(Error::RevisionMismatch {
                    current: Some(current),
                })
            }
            _ => Ok(()),
        }
    }
}

/// What a write does to the record.
#[derive(Debug, Clone)]
pub enum Mutation {
    /// Store this body (create, replace or the result of a patch).
    Put(ValidatedRecord),
    /// Remove the record.
    Delete,
}

/// One write, as an owner receives it.
#[derive(Debug, Clone)]
pub struct Write {
    /// The contract the record belongs to; the owner maps it to its
    /// storage (prepared by [`Owner::prepare`]).
    pub contract: ContractName,
    /// The record's key.
    pub key: RecordKey,
    /// What to do.
    pub mutation: Mutation,
    /// What must hold first.
    pub precondition: Precondition,
    /// How the change event names it: `Patched` for patches; a put is
    /// `Created` or `Replaced` depending on what the owner finds.
    pub patch: bool,
    /// The body for the change event, PII redacted.
    pub event_data: Option<EventData>,
    /// What the idempotency ledger keeps of the write, when the client
    /// sent an `Idempotency-Key`.
    pub idempotency: Option<Idempotency>,
}

impl Write {
    /// The event type, once the owner knows whether the record existed.
    pub fn event_type(&self, existed: bool) -> EventType {
        match (&self.mutation, self.patch, existed) {
            (Mutation::Delete, _, _) => EventType::Deleted,
            (Mutation::Put(_), true, _) => EventType::Patched,
            (Mutation::Put(_), false, true) => EventType::Replaced,
            (Mutation::Put(_), false, false) => EventType::Created,
        }
    }

    /// Checks the precondition against the current revision (None: absent);
    /// a deletion also needs a record to delete.
    pub fn check(&self, current: Option<u64>) -> Result<(), Error> {
        self.precondition.check(current)?;
        match (&self.mutation, current) {
            (Mutation::Delete, None) => Err(Error::NotFound),
            _ => Ok(()),
        }
    }
}

/// The outcome of a committed write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Committed {
    /// The record's revision after the write (for a deletion, the revision
    /// it had).
    pub revision: u64,
    /// The version of the body written (for a deletion, of the body removed).
    pub version: Version,
    /// What the write did.
    pub event_type: EventType,
}

/// A record as an owner holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRecord {
    /// The version the body conforms to.
    pub version: Version,
    /// Bumped by every write.
    pub revision: u64,
    /// The body.
    pub body: Value,
}

/// What an owner can do, declared once so that the write path branches on
/// a capability, never on a kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// The owner commits a write's journal entries (change event, ledger)
    /// in the record's own transaction, as SQL owners do. When not, the
    /// gateway records them in its own journal after the owner committed.
    pub journal_in_transaction: bool,
}

/// A system of record. A commit is atomic: the record and, for owners whose
/// capabilities say so, its journal entries are written together or not at
/// all.
#[async_trait]
pub trait Owner: Send + Sync {
    /// What this owner can do.
    fn capabilities(&self) -> Capabilities;
    /// Maps contracts to this owner's storage (a table each for SQL
    /// owners), creating what is missing. Called for every contract before
    /// any write, with all of an owner's contracts at once.
    async fn prepare(&self, contracts: &[Arc<Contract>]) -> Result<(), Error>;
    /// Applies one write (and its journal entries, see [`Capabilities`]).
    async fn commit(&self, write: Write) -> Result<Committed, Error>;
    /// Applies writes all or nothing (a chunk of a bulk request): each
    /// write's domain outcome (refused alone, the others committed), or the
    /// failure that left every one of them unwritten.
    async fn commit_together(
        &self,
        writes: Vec<Write>,
    ) -> Result<Vec<Result<Committed, Error>>, Error>;
    /// The current record under a key.
    async fn read(
        &self,
        contract: &ContractName,
        key: &RecordKey,
    ) -> Result<Option<StoredRecord>, Error>;
    /// Whether the owner answers.
    async fn health(&self) -> Result<(), Error>;
}

/// One configured system: its owner, and the journal its writes' change
/// events go to (the owner's own database for SQL owners).
#[derive(Clone)]
pub struct System {
    /// Holds records.
    pub owner: Arc<dyn Owner>,
    /// Holds change events and the ledger.
    pub journal: Arc<dyn Journal>,
}

/// The systems of a gateway, by name.
pub type Systems = BTreeMap<String, System>;

/// Connects to every configured system, registering each one's metrics.
/// The one place that knows kinds.
pub async fn connect(
    systems: &BTreeMap<String, SystemConfig>,
    metrics: &mut Metrics,
) -> anyhow::Result<Systems> {
    let mut connected = Systems::new();
    for (name, config) in systems {
        let owner = match config {
            SystemConfig::Sqlite { path } => sql::open_sqlite(path).await,
            SystemConfig::Postgres {
                url,
                schema,
                connections,
            } => sql::open_postgres(url, schema.as_deref(), *connections).await,
            SystemConfig::Mysql { url, connections } => sql::open_mysql(url, *connections).await,
        }
        .with_context(|| format!("system `{name}`"))?;
        metrics.register_commit_batches(name, owner.batch_sizes());
        let owner = Arc::new(owner);
        let system = System {
            owner: owner.clone(),
            journal: owner,
        };
        connected.insert(name.clone(), system);
    }
    Ok(connected)
}
