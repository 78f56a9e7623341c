//! The write path: validate, upgrade, commit to the owner with the change
//! event, at most once per idempotency key; and the read path back. Nothing
//! here knows HTTP: handlers resolve a [`Target`] on the [`Gateway`], call
//! these functions and turn [`Error`] into a problem response.

mod idempotency;

mod batch;
mod dry_run;

mod rejections;

use std::time::{Duration, Instant};

use serde_json::Value;

pub use dry_run::{dry_run, DryRun};

use crate::contract::{Contract, RecordKey, Rejection, Rejections, ValidatedRecord, Version};
use crate::events::{event_data, now_rfc3339, ChangeEvent, EventData, EventType};
use crate::gateway::{Gateway, Target};
use crate::metrics::Operation;
use crate::systems::{self, Committed, Idempotency, IdempotencyKey, Mutation, Precondition, Write};
use idempotency::KeyedRequest;

pub use idempotency::IdempotencyKeys;

pub use batch::{LineOutcome, PreparedLines};

/// A write path failure, by cause.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No contract of that name.
    #[error("no contract named `{0}`")]
    UnknownContract(String),
    /// The contract has no such version.
    #[error("contract `{contract}` has no version `{version}`")]
    UnknownVersion {
        /// The contract.
        contract: String,
        /// The version as it was asked for.
        version: String,
    },
    /// The version is retired.
    #[error("{contract} {version} is retired; move to {successor}")]
    Retired {
        /// The contract.
        contract: String,
        /// The retired version.
        version: Version,
        /// The version to move to: the latest active one.
        successor: Version,
    },
    /// The payload breaks the contract.
    #[error("the payload breaks {contract} {}", rejection.version)]
    Rejected {
        /// The contract.
        contract: String,
        /// Every violation.
        rejection: Rejection,
    },
    /// A PUT names one key in the path and another in the body.
    #[error("the path names record `{path}` but the body's key is `{body}`")]
    KeyMismatch {
        /// The key in the URL.
        path: RecordKey,
        /// The key in the body.
        body: RecordKey,
    },
    /// The contract requires `If-Match` on updates.
    #[error("contract `{0}` requires If-Match on updates and deletes")]
    PreconditionRequired(String),
    /// The stored record cannot be expressed in the version asked for: its
    /// downgrade breaks that version's schema or rules.
    #[error("the stored record cannot be represented in {contract} {}", rejection.version)]
    NotRepresentable {
        /// The contract.
        contract: String,
        /// What the downgraded record breaks.
        rejection: Rejection,
    },
    /// The idempotency key was first used with another request.
    #[error(
        "Idempotency-Key `{0}` was used before with another request (method, path or body); \
         a new request needs a new key"
    )]
    IdempotencyKeyReused(IdempotencyKey),
    /// The first request with the idempotency key is still being processed.
    #[error("the first request with Idempotency-Key `{0}` is still being processed")]
    IdempotencyKeyInFlight(IdempotencyKey),
    /// The owner refused or failed.
    #[error(transparent)]
    Owner(#[from] systems::Error),
}

/// The result of a write.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The record's key.
    pub key: RecordKey,
    /// Its revision after the write.
    pub revision: u64,
    /// What happened.
    pub event_type: EventType,
    /// The record in the client's version; none after a deletion.
    pub body: Option<Value>,
    /// Whether this is the answer of an earlier request with the same
    /// idempotency key, from the ledger: nothing was written this time.
    pub replayed: bool,
}

impl Outcome {
    /// The outcome of a write that committed now (not a replay).
    fn committed(key: RecordKey, committed: &Committed, body: Option<Value>) -> Self {
        Outcome {
            key,
            revision: committed.revision,
            event_type: committed.event_type,
            body,
            replayed: false,
        }
    }
}

/// A record as read, in the client's version.
#[derive(Debug, Clone)]
pub struct Read {
    /// Its revision.
    pub revision: u64,
    /// Its body.
    pub body: Value,
}

/// The whole check a write gets ([`Contract::accept_keeping`]); a
/// refusal's messages quote no value tagged PII.
fn accept<T>(
    contract: &Contract,
    version: Version,
    body: Value,
    keep: impl FnOnce(&Value) -> T,
) -> Result<(ValidatedRecord, T), Rejection> {
    let pii = contract.pii_texts(&body);
    contract
        .accept_keeping(version, body, keep)
        .map_err(|mut rejection| {
            contract.redact_violations(&mut rejection.violations, &pii);
            rejection
        })
}

/// How often a patch is retried when another write slips in between its
/// read and its commit (only when the client sent no If-Match).
const PATCH_ATTEMPTS: usize = 5;

impl Gateway {
    /// POST: creates a record; its key comes from the body. Every write
    /// takes the client's idempotency key, if it sent one.
    #[tracing::instrument(level = "debug", skip_all, fields(contract = %target.contract.name, version = %target.version))]
    pub async fn create(
        &self,
        target: &Target,
        body: Value,
        idempotency_key: Option<IdempotencyKey>,
    ) -> Result<Outcome, Error> {
        let request =
            idempotency_key.map(|k| KeyedRequest::new(k, "POST", target, None, Some(&body)));
        self.at_most_once(target, request, |idempotency| {
            self.put_record(target, None, body, Precondition::Absent, false, idempotency)
        })
        .await
    }

    /// PUT: creates or replaces the record at `key`.
    #[tracing::instrument(level = "debug", skip_all, fields(contract = %target.contract.name, version = %target.version))]
    pub async fn replace(
        &self,
        target: &Target,
        key: RecordKey,
        body: Value,
        if_match: Option<Precondition>,
        idempotency_key: Option<IdempotencyKey>,
    ) -> Result<Outcome, Error> {
        let precondition = self.update_precondition(target, if_match, Precondition::None)?;
        let request =
            idempotency_key.map(|k| KeyedRequest::new(k, "PUT", target, Some(&key), Some(&body)));
        self.at_most_once(target, request, |idempotency| {
            self.put_record(target, Some(key), body, precondition, false, idempotency)
        })
        .await
    }

    /// PATCH: applies a JSON merge patch (RFC 7396) to the record as the
    /// client's version sees it, then validates the result like any write.
    #[tracing::instrument(level = "debug", skip_all, fields(contract = %target.contract.name, version = %target.version))]
    pub async fn patch(
        &self,
        target: &Target,
        key: RecordKey,
        patch: Value,
        if_match: Option<Precondition>,
        idempotency_key: Option<IdempotencyKey>,
    ) -> Result<Outcome, Error> {
        let precondition = self.update_precondition(target, if_match, Precondition::Exists)?;
        let request = idempotency_key
            .map(|k| KeyedRequest::new(k, "PATCH", target, Some(&key), Some(&patch)));
        self.at_most_once(target, request, |idempotency| {
            self.merge(target, key, patch, precondition, idempotency)
        })
        .await
    }

    /// The read, merge and write of a patch, read again when another write
    /// slips in between.
    async fn merge(
        &self,
        target: &Target,
        key: RecordKey,
        patch: Value,
        precondition: Precondition,
        idempotency: Option<Idempotency>,
    ) -> Result<Outcome, Error> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let current = self.read(target, &key).await?;
            precondition.check(Some(current.revision))?;
            let mut merged = current.body;
            json_patch::merge(&mut merged, &patch);
            let result = self
                .put_record(
                    target,
                    Some(key.clone()),
                    merged,
                    Precondition::Revision(current.revision),
                    true,
                    idempotency.clone(),
                )
                .await;
            match result {
                // Someone wrote between our read and our commit: read again,
                // unless the client pinned a revision itself.
                Err(Error::Owner(
                    systems::Error::RevisionMismatch { .. } | systems::Error::NotFound,
                )) if precondition == Precondition::Exists && attempt < PATCH_ATTEMPTS => {}
                other => return other,
            }
        }
    }

    /// DELETE: removes the record at `key`.
    #[tracing::instrument(level = "debug", skip_all, fields(contract = %target.contract.name, version = %target.version))]
    pub async fn delete(
        &self,
        target: &Target,
        key: RecordKey,
        if_match: Option<Precondition>,
        idempotency_key: Option<IdempotencyKey>,
    ) -> Result<Outcome, Error> {
        let precondition = self.update_precondition(target, if_match, Precondition::Exists)?;
        let request =
            idempotency_key.map(|k| KeyedRequest::new(k, "DELETE", target, Some(&key), None));
        self.at_most_once(target, request, |idempotency| async {
            let write = Write {
                contract: target.contract.name.clone(),
                key: key.clone(),
                mutation: Mutation::Delete,
                precondition,
                patch: false,
                event_data: None,
                idempotency,
            };
            let committed = self.commit(target, write).await?;
            Ok(Outcome::committed(key, &committed, None))
        })
        .await
    }

    /// GET: the record at `key`, in the client's version.
    #[tracing::instrument(level = "debug", skip_all, fields(contract = %target.contract.name, version = %target.version))]
    pub async fn read(&self, target: &Target, key: &RecordKey) -> Result<Read, Error> {
        let contract = &target.contract;
        let stored = self
            .timed(
                target,
                Operation::Read,
                target.system.owner.read(&contract.name, key),
            )
            .await?
            .ok_or(systems::Error::NotFound)?;
        let pii = contract.pii_texts(&stored.body);
        let body = contract
            .express(stored.body, stored.version, target.version)
            .map_err(|mut rejection| {
                contract.redact_violations(&mut rejection.violations, &pii);
                Error::NotRepresentable {
                    contract: contract.name.to_string(),
                    rejection,
                }
            })?;
        Ok(Read {
            revision: stored.revision,
            body,
        })
    }

    async fn put_record(
        &self,
        target: &Target,
        path_key: Option<RecordKey>,
        body: Value,
        precondition: Precondition,
        patch: bool,
        idempotency: Option<Idempotency>,
    ) -> Result<Outcome, Error> {
        let (mut write, sent) = self
            .prepare_put(target, path_key, body, precondition, patch, Value::clone)
            .await?;
        // The ledger keeps the answer the client is about to get.
        write.idempotency = idempotency.map(|idempotency| Idempotency {
            response: Some(sent.clone()),
            ..idempotency
        });
        let key = write.key.clone();
        let committed = self.commit(target, write).await?;
        tracing::debug!(revision = committed.revision, event = ?committed.event_type, "write committed");
        Ok(Outcome::committed(key, &committed, Some(sent)))
    }

    /// A put's write (with no idempotency key) and what `keep` took from
    /// the payload as the client's version has it: the checks every
    /// create, replace, patch and bulk line runs before anything is
    /// written. A refusal is counted, kept when the contract keeps
    /// rejections, and names no PII value.
    async fn prepare_put<T>(
        &self,
        target: &Target,
        path_key: Option<RecordKey>,
        body: Value,
        precondition: Precondition,
        patch: bool,
        keep: impl FnOnce(&Value) -> T,
    ) -> Result<(Write, T), Error> {
        let contract = &target.contract;
        // The payload to keep once `accept` consumed it, when the contract
        // keeps rejections.
        let kept = (contract.rejections == Rejections::Keep).then(|| body.clone());
        let started = Instant::now();
        let accepted = accept(contract, target.version, body, keep);
        let upgraded = target.version != contract.stored_version().version;
        self.metrics()
            .check(contract.name.as_str(), upgraded, started.elapsed());
        let (mut record, sent) = match accepted {
            Ok(accepted) => accepted,
            Err(rejection) => return Err(self.rejected(target, rejection, kept).await),
        };
        if let Some(path_key) = path_key {
            if &path_key != record.key() {
                return Err(Error::KeyMismatch {
                    path: path_key,
                    body: record.key().clone(),
                });
            }
        }
        let data = if target.sees_pii {
            event_data(record.body())
        } else {
            contract.redacted_json(&mut record)
        };
        let data = data.map_err(|e| systems::Error::Fault(format!("an event's data: {e}")))?;
        let write = Write {
            contract: contract.name.clone(),
            key: record.key().clone(),
            event_data: Some(data),
            mutation: Mutation::Put(record),
            precondition,
            patch,
            idempotency: None,
        };
        Ok((write, sent))
    }

    /// Commits a write and journals its change event and ledger entry: in
    /// the owner's own transaction when the owner can, else in the system's
    /// journal once the owner committed. The one place, with
    /// [`Gateway::commit_together`], that branches on how an owner journals.
    async fn commit(&self, target: &Target, write: Write) -> Result<Committed, Error> {
        let system = &target.system;
        if system.owner.capabilities().journal_in_transaction {
            return Ok(self
                .timed(target, Operation::Commit, system.owner.commit(write))
                .await?);
        }
        let event = EventSource::of(&write);
        let idempotency = write.idempotency.clone();
        let committed = self
            .timed(target, Operation::Commit, system.owner.commit(write))
            .await?;
        let change = event.event(&committed);
        let recorded = system.journal.record(&change);
        self.timed(target, Operation::Journal, recorded).await?;
        if let Some(idempotency) = &idempotency {
            let remember =
                system
                    .journal
                    .remember(&event.contract, &event.key, idempotency, &committed);
            self.timed(target, Operation::Journal, remember).await?;
        }
        Ok(committed)
    }

    /// Commits writes all or nothing (see `Owner::commit_together`), with
    /// their change events.
    async fn commit_together(
        &self,
        target: &Target,
        writes: Vec<Write>,
    ) -> Result<Vec<Result<Committed, systems::Error>>, systems::Error> {
        let system = &target.system;
        if system.owner.capabilities().journal_in_transaction {
            return self
                .timed(
                    target,
                    Operation::Commit,
                    system.owner.commit_together(writes),
                )
                .await;
        }
        let events: Vec<EventSource> = writes.iter().map(EventSource::of).collect();
        let outcomes = self
            .timed(
                target,
                Operation::Commit,
                system.owner.commit_together(writes),
            )
            .await?;
        for (event, outcome) in events.iter().zip(&outcomes) {
            if let Ok(committed) = outcome {
                let change = event.event(committed);
                let recorded = system.journal.record(&change);
                self.timed(target, Operation::Journal, recorded).await?;
            }
        }
        Ok(outcomes)
    }

    /// Updates honour If-Match; contracts with `concurrency: required`
    /// refuse updates without it.
    fn update_precondition(
        &self,
        target: &Target,
        if_match: Option<Precondition>,
        otherwise: Precondition,
    ) -> Result<Precondition, Error> {
        match if_match {
            Some(precondition) => Ok(precondition),
            None if target.contract.concurrency == crate::contract::Concurrency::Required => Err(
                Error::PreconditionRequired(target.contract.name.to_string()),
            ),
            None => Ok(otherwise),
        }
    }

    /// Bounds an owner call by the configured timeout, and records how
    /// long it took.
    async fn timed<T>(
        &self,
        target: &Target,
        operation: Operation,
        call: impl std::future::Future<Output = Result<T, systems::Error>>,
    ) -> Result<T, systems::Error> {
        let limit = Duration::from_millis(self.config().limits.timeout_ms);
        let started = Instant::now();
        let result = tokio::time::timeout(limit, call).await;
        self.metrics()
            .owner(target.contract.name.as_str(), operation, started.elapsed());
        result.map_err(|_| systems::Error::Timeout(limit))?
    }
}

/// What a change event needs from its write, kept for owners that journal
/// after they committed.
struct EventSource {
    contract: crate::contract::ContractName,
    key: RecordKey,
    data: Option<EventData>,
}

impl EventSource {
    fn of(write: &Write) -> Self {
        Self {
            contract: write.contract.clone(),
            key: write.key.clone(),
            data: write.event_data.clone(),
        }
    }

    fn event(&self, committed: &Committed) -> ChangeEvent {
        ChangeEvent::new(
            &self.contract,
            committed.version,
            &self.key,
            committed.event_type,
            committed.revision,
            &now_rfc3339(),
            self.data.clone(),
        )
    }
}
