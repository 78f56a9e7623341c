//! The write path: validate, upgrade, commit to the owner with the change
//! event; and the read path back. Nothing here knows HTTP: handlers resolve
//! a [`Target`] on the [`Gateway`], call these functions and turn [`Error`]
//! into a problem response.

mod rejections;

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::contract::{RecordKey, Rejection, Rejections, Version};
use crate::events::{ChangeEvent, EventType};
use crate::gateway::{Gateway, Target};
use crate::metrics::Operation;
use crate::systems::{self, Committed, Mutation, Precondition, Write};

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
    /// POST: creates a record; its key comes from the body.
    #[tracing::instrument(skip_all, fields(contract = %target.contract.name, version = %target.version))]
    pub async fn create(&self, target: &Target, body: Value) -> Result<Outcome, Error> {
        self.put_record(target, None, body, Precondition::Absent, false)
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
    ) -> Result<Outcome, Error> {
        let precondition = self.update_precondition(target, if_match, Precondition::None)?;
        self.put_record(target, Some(key), body, precondition, false)
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
    ) -> Result<Outcome, Error> {
        let precondition = self.update_precondition(target, if_match, Precondition::Exists)?;
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
    ) -> Result<Outcome, Error> {
        let precondition = self.update_precondition(target, if_match, Precondition::Exists)?;
        let write = Write {
            contract: target.contract.name.clone(),
            key: key.clone(),
            mutation: Mutation::Delete,
            precondition,
            patch: false,
            event_data: None,
        };
        let committed = self.commit(target, write).await?;
        Ok(Outcome {
            key,
            revision: committed.revision,
            event_type: committed.event_type,
            body: None,
        })
    }

    /// GET: the record at `key`, in the client's version.
    #[tracing::instrument(skip_all, fields(contract = %target.contract.name, version = %target.version))]
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
                Error::Inexpressible { rejection }
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
    ) -> Result<Outcome, Error> {
        let contract = &target.contract;
        // What a rejection's report needs once `accept` consumed the body:
        // the values a message must not quote, and the payload to keep.
        let pii = contract.pii_texts(&body);
        let kept = (contract.rejections == Rejections::Keep).then(|| body.clone());
        let started = Instant::now();
        let accepted = contract.accept(target.version, body);
        let upgraded = target.version != contract.stored_version().version;
        self.metrics()
            .check(contract.name.as_str(), upgraded, started.elapsed());
        let (record, sent) = match accepted {
            Ok(accepted) => accepted,
            Err(mut rejection) => {
                contract.redact_violations(&mut rejection.violations, &pii);
                return Err(self.rejected(target, rejection, kept).await);
            }
        };
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
            event_data: Some(if target.sees_pii {
                record.body().clone()
            } else {
                contract.redact(record.body().clone())
            }),
            mutation: Mutation::Put(record),
            precondition,
            patch,
        };
        let committed = self.commit(target, write).await?;
        tracing::debug!(revision = committed.revision, event = ?committed.event_type, "write committed");
        Ok(Outcome {
            key,
            revision: committed.revision,
            event_type: committed.event_type,
            body: Some(sent),
        })
    }

    /// Commits a write and journals its change event: in the owner's own
    /// transaction when the owner can, else in the system's journal once
    /// the owner committed. The one place that branches on how an owner
    /// journals.
    async fn commit(&self, target: &Target, write: Write) -> Result<Committed, Error> {
        let system = &target.system;
        if system.owner.capabilities().journal_in_transaction {
            return Ok(self
                .timed(target, Operation::Commit, system.owner.commit(write))
                .await?);
        }
        let (contract, key, data) = (
            write.contract.clone(),
            write.key.clone(),
            write.event_data.clone(),
        );
        let committed = self
            .timed(target, Operation::Commit, system.owner.commit(write))
            .await?;
        let event = ChangeEvent::new(
            &contract,
            committed.version,
            &key,
            committed.event_type,
            committed.revision,
            data,
        );
        self.timed(target, Operation::Journal, system.journal.record(&event))
            .await?;
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
