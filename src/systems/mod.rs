//! Owners: the systems of record a gateway writes to, one file per kind
//! behind the [`Owner`] trait. The write path talks to `dyn Owner` only;
//! which kind stands behind a name is decided once, in [`connect`].

mod sqlite;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;

use crate::config::SystemConfig;
use crate::contract::{ContractName, RecordKey, ValidatedRecord, Version};
use crate::events::ChangeKind;

pub use sqlite::SqliteOwner;

/// What an owner failed at, classified once so that retries, statuses and
/// metrics are decided in one place rather than in every owner.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// The record does not exist (a precondition needed it).
    #[error("the record does not exist")]
    NotFound,
    /// The record exists (a create needed it not to).
    #[error("the record already exists at revision {revision}")]
    Exists {
        /// Its current revision.
        revision: u64,
    },
    /// `If-Match` named another revision.
    #[error("the record is at revision {current}, not the one expected")]
    RevisionMismatch {
        /// Its current revision.
        current: u64,
    },
    /// The owner cannot be reached or is busy; trying later may work.
    #[error("the owner is unavailable: {0}")]
    Unavailable(String),
    /// The owner did not answer in time.
    #[error("the owner did not answer within {0:?}")]
    Timeout(Duration),
    /// The owner refused the write for good.
    #[error("the owner refused the write: {0}")]
    Refused(String),
}

impl Error {
    /// Whether the same request may succeed later.
    pub fn is_temporary(&self) -> bool {
        matches!(self, Error::Unavailable(_) | Error::Timeout(_))
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
            (Precondition::Absent, Some(revision)) => Err(Error::Exists { revision }),
            (
                Precondition::Exists | Precondition::Revision(_) | Precondition::Revisions(_),
                None,
            ) => Err(Error::NotFound),
            (Precondition::Revision(expected), Some(current)) if *expected != current => {
                Err(Error::RevisionMismatch { current })
            }
            (Precondition::Revisions(allowed), Some(current)) if !allowed.contains(&current) => {
                Err(Error::RevisionMismatch { current })
            }
            _ => Ok(()),
        }
    }
}

/// The change a write makes.
#[derive(Debug, Clone)]
pub enum Change {
    /// Store this body (create, replace or the result of a patch).
    Put(ValidatedRecord),
    /// Remove the record.
    Delete,
}

/// One write, as an owner receives it.
#[derive(Debug, Clone)]
pub struct Write {
    /// The contract the record belongs to.
    pub contract: ContractName,
    /// Where SQL owners keep it.
    pub table: String,
    /// The record's key.
    pub key: RecordKey,
    /// What to do.
    pub change: Change,
    /// What must hold first.
    pub precondition: Precondition,
    /// How the change event names it: `Patched` for patches; a put is
    /// `Created` or `Replaced` depending on what the owner finds.
    pub patch: bool,
    /// The body for the change event, PII redacted.
    pub event_data: Option<Value>,
}

impl Write {
    /// The event kind, once the owner knows whether the record existed.
    pub fn change_kind(&self, existed: bool) -> ChangeKind {
        match (&self.change, self.patch, existed) {
            (Change::Delete, _, _) => ChangeKind::Deleted,
            (Change::Put(_), true, _) => ChangeKind::Patched,
            (Change::Put(_), false, true) => ChangeKind::Replaced,
            (Change::Put(_), false, false) => ChangeKind::Created,
        }
    }

    /// Checks the precondition against the current revision (None: absent);
    /// a deletion also needs a record to delete.
    pub fn check(&self, current: Option<u64>) -> Result<(), Error> {
        self.precondition.check(current)?;
        match (&self.change, current) {
            (Change::Delete, None) => Err(Error::NotFound),
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
    /// What the write did.
    pub kind: ChangeKind,
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

/// A system of record. Each call is atomic: a commit writes the record and
/// its change event together or not at all.
#[async_trait]
pub trait Owner: Send + Sync {
    /// Makes sure the tables for these contracts exist.
    async fn prepare(&self, tables: &[String]) -> Result<(), Error>;
    /// Applies one write and its change event in one transaction.
    async fn commit(&self, write: Write) -> Result<Committed, Error>;
    /// The current record under a key.
    async fn read(&self, table: &str, key: &RecordKey) -> Result<Option<StoredRecord>, Error>;
    /// Whether the owner answers.
    async fn health(&self) -> Result<(), Error>;
}

/// The owners of a gateway, by system name.
pub type Owners = BTreeMap<String, Arc<dyn Owner>>;

/// Connects to every configured system. The one place that knows kinds.
pub async fn connect(systems: &BTreeMap<String, SystemConfig>) -> anyhow::Result<Owners> {
    let mut owners: Owners = BTreeMap::new();
    for (name, config) in systems {
        let owner: Arc<dyn Owner> = match config {
            SystemConfig::Sqlite { path } => Arc::new(SqliteOwner::open(path).await?),
        };
        owners.insert(name.clone(), owner);
    }
    Ok(owners)
}
