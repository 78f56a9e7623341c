//! The write path: validate, upgrade, commit to the owner with the change
//! event, at most once per idempotency key; and the read path back. Nothing
//! here knows HTTP: handlers resolve a [`Target`] on the [`Gateway`], call
//! these functions and turn [`Error`] into a problem response.

mod idempotency;

use std::time::Duration;

use serde_json::Value;

use crate::contract::{RecordKey, Rejection, Version};
use crate::events::{ChangeEvent, EventType};
use crate::gateway::{Gateway, Target};
use crate::systems::{self, Committed, Idempotency, IdempotencyKey, Mutation, Precondition, Write};
use idempotency::KeyedRequest;

pub use idempotency::IdempotencyKeys;

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
    #[error("{contract} {version} is retired")]
    Retired {
        /// The contract.
        contract: String,
        /// The retired version.
        version: Version,
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
    /// The stored record cannot be expressed in the version asked for.
    #[error("the stored record cannot be expressed in {}", rejection.version)]
    Inexpressible {
        /// Why.
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

/// A record as read, in the client's version.
#[derive(Debug, Clone)]
pub struct Read {
    /// Its revision.
    pub revision: u64,
    /// Its body.
    pub body: Value,
}

/// How often a patch is retried when another write slips in between its
/// read and its commit (only when the client sent no If-Match).
const PATCH_ATTEMPTS: usize = 5;

impl Gateway {
    /// POST: creates a record; its key comes from the body. Every write
    /// takes the client's idempotency key, if it sent one.
    #[tracing::instrument(skip_all, fields(contract = %target.contract.name, version = %target.version))]
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
    #[tracing::instrument(skip_all, fields(contract = %target.contract.name, version = %target.version))]
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
    #[tracing::instrument(skip_all, fields(contract = %target.contract.name, version = %target.version))]
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
            if let Precondition::Revision(expected) = precondition {
                if expected != current.revision {
                    return Err(systems::Error::RevisionMismatch {
                        current: Some(current.revision),
                    }
                    .into());
                }
            }
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
    #[tracing::instrument(skip_all, fields(contract = %target.contract.name, version = %target.version))]
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
            Ok(Outcome {
                key,
                revision: committed.revision,
                event_type: committed.event_type,
                body: None,
                replayed: false,
            })
        })
        .await
    }

    /// GET: the record at `key`, in the client's version.
    #[tracing::instrument(skip_all, fields(contract = %target.contract.name, version = %target.version))]
    pub async fn read(&self, target: &Target, key: &RecordKey) -> Result<Read, Error> {
        let stored = self
            .timed(target.system.owner.read(&target.contract.name, key))
            .await?
            .ok_or(systems::Error::NotFound)?;
        let body = target
            .contract
            .express(stored.body, stored.version, target.version)
            .map_err(|rejection| Error::Inexpressible { rejection })?;
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
        let contract = &target.contract;
        let reject = |rejection| Error::Rejected {
            contract: contract.name.to_string(),
            rejection,
        };
        let (record, sent) = contract.accept(target.version, body).map_err(reject)?;
        if let Some(path_key) = path_key {
            if &path_key != record.key() {
                return Err(Error::KeyMismatch {
                    path: path_key,
                    body: record.key().clone(),
                });
            }
        }
        let key = record.key().clone();
        let write = Write {
            contract: contract.name.clone(),
            key: key.clone(),
            event_data: Some(contract.redact(record.body().clone())),
            mutation: Mutation::Put(record),
            precondition,
            patch,
            // The ledger keeps the answer the client is about to get.
            idempotency: idempotency.map(|idempotency| Idempotency {
                response: Some(sent.clone()),
                ..idempotency
            }),
        };
        let committed = self.commit(target, write).await?;
        Ok(Outcome {
            key,
            revision: committed.revision,
            event_type: committed.event_type,
            body: Some(sent),
            replayed: false,
        })
    }

    /// Commits a write and journals its change event and ledger entry: in
    /// the owner's own transaction when the owner can, else in the system's
    /// journal once the owner committed. The one place that branches on how
    /// an owner journals.
    async fn commit(&self, target: &Target, write: Write) -> Result<Committed, Error> {
        let system = &target.system;
        if system.owner.capabilities().journal_in_transaction {
            return Ok(self.timed(system.owner.commit(write)).await?);
        }
        let (contract, key, data, idempotency) = (
            write.contract.clone(),
            write.key.clone(),
            write.event_data.clone(),
            write.idempotency.clone(),
        );
        let committed = self.timed(system.owner.commit(write)).await?;
        let event = ChangeEvent::new(
            &contract,
            committed.version,
            &key,
            committed.event_type,
            committed.revision,
            data,
        );
        self.timed(system.journal.record(&event)).await?;
        if let Some(idempotency) = &idempotency {
            let remember = system
                .journal
                .remember(&contract, &key, idempotency, &committed);
            self.timed(remember).await?;
        }
        Ok(committed)
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

    /// Bounds an owner call by the configured timeout.
    async fn timed<T>(
        &self,
        call: impl std::future::Future<Output = Result<T, systems::Error>>,
    ) -> Result<T, systems::Error> {
        let limit = Duration::from_millis(self.config().limits.timeout_ms);
        tokio::time::timeout(limit, call)
            .await
            .map_err(|_| systems::Error::Timeout(limit))?
    }
}
