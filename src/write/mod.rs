//! The write path: resolve the contract version, validate, upgrade, commit
//! to the owner with the change event; and the read path back. Nothing here
//! knows HTTP: handlers call these functions and turn [`Error`] into a
//! problem response.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use serde_json::Value;

use crate::config::Config;
use crate::contract::{Contract, RecordKey, Registry, Rejection, Status, Version};
use crate::events::ChangeKind;
use crate::systems::{self, Change, Owner, Owners, Precondition, Write};

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

/// A contract version a request addresses, with the owner of its records.
#[derive(Clone)]
pub struct Target {
    /// The contract, from the registry snapshot the request started with.
    pub contract: Arc<Contract>,
    /// The version the client speaks.
    pub version: Version,
    /// Whether that version is deprecated.
    pub deprecated: bool,
    owner: Arc<dyn Owner>,
}

/// The result of a write.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The record's key.
    pub key: RecordKey,
    /// Its revision after the write.
    pub revision: u64,
    /// What happened.
    pub kind: ChangeKind,
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

/// The gateway: the current contracts, the owners and the limits. The
/// registry sits behind an atomic pointer: each request works on the
/// snapshot it started with, and a reload swaps in a new one whole.
pub struct Gateway {
    registry: ArcSwap<Registry>,
    owners: Owners,
    config: Config,
}

/// How often a patch is retried when another write slips in between its
/// read and its commit (only when the client sent no If-Match).
const PATCH_ATTEMPTS: usize = 5;

impl Gateway {
    /// Loads the contracts and connects the owners a config names: what
    /// `serve` does before it listens. A contracts folder with any problem
    /// is refused, with every problem listed. Every contract's table is
    /// prepared in its owner.
    pub async fn open(config: Config) -> anyhow::Result<Self> {
        let registry =
            Registry::load(&config.contracts, &config.load_options()).map_err(|problems| {
                let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
                anyhow::anyhow!(
                    "the contracts in {} have problems:\n  {}",
                    config.contracts.display(),
                    lines.join("\n  ")
                )
            })?;
        let owners = systems::connect(&config.systems).await?;
        let gateway = Gateway {
            registry: ArcSwap::from_pointee(registry),
            owners,
            config,
        };
        for contract in gateway.registry.load().contracts() {
            let owner = gateway.owner_of(contract)?;
            owner.prepare(std::slice::from_ref(&contract.table)).await?;
        }
        Ok(gateway)
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The current registry snapshot.
    pub fn registry(&self) -> Arc<Registry> {
        self.registry.load_full()
    }

    /// Every owner, for health checks.
    pub fn owners(&self) -> &Owners {
        &self.owners
    }

    fn owner_of(&self, contract: &Contract) -> anyhow::Result<Arc<dyn Owner>> {
        let name = self.config.owner_of(contract.owner.as_deref());
        self.owners.get(name).cloned().ok_or_else(|| {
            anyhow::anyhow!(
                "contract {} names owner `{name}`, which is not a system",
                contract.name
            )
        })
    }

    /// Finds a contract and one of its versions (`v2` in the URL), retired
    /// or not.
    pub fn lookup(&self, contract: &str, version: &str) -> Result<(Arc<Contract>, Version), Error> {
        let registry = self.registry.load();
        let found = registry
            .get(contract)
            .ok_or_else(|| Error::UnknownContract(contract.to_owned()))?;
        Version::parse_segment(version)
            .filter(|number| found.version(*number).is_some())
            .map(|number| (Arc::clone(found), number))
            .ok_or_else(|| Error::UnknownVersion {
                contract: contract.to_owned(),
                version: version.to_owned(),
            })
    }

    /// Finds the contract version a request reads or writes, with its owner;
    /// retired versions are refused.
    pub fn resolve(&self, contract: &str, version: &str) -> Result<Target, Error> {
        let (found, number) = self.lookup(contract, version)?;
        let status = found.version(number).map(|v| v.status).unwrap_or_default();
        if status == Status::Retired {
            return Err(Error::Retired {
                contract: contract.to_owned(),
                version: number,
            });
        }
        let owner = self
            .owner_of(&found)
            .map_err(|e| systems::Error::Unavailable(e.to_string()))?;
        Ok(Target {
            contract: found,
            version: number,
            deprecated: status == Status::Deprecated,
            owner,
        })
    }

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
            table: target.contract.table.clone(),
            key: key.clone(),
            change: Change::Delete,
            precondition,
            patch: false,
            event_data: None,
        };
        let committed = self.timed(target.owner.commit(write)).await?;
        Ok(Outcome {
            key,
            revision: committed.revision,
            kind: committed.kind,
            body: None,
        })
    }

    /// GET: the record at `key`, in the client's version.
    #[tracing::instrument(skip_all, fields(contract = %target.contract.name, version = %target.version))]
    pub async fn read(&self, target: &Target, key: &RecordKey) -> Result<Read, Error> {
        let stored = self
            .timed(target.owner.read(&target.contract.table, key))
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
            table: contract.table.clone(),
            key: key.clone(),
            event_data: Some(contract.redact(record.body().clone())),
            change: Change::Put(record),
            precondition,
            patch,
        };
        let committed = self.timed(target.owner.commit(write)).await?;
        Ok(Outcome {
            key,
            revision: committed.revision,
            kind: committed.kind,
            body: Some(sent),
        })
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
        let limit = Duration::from_millis(self.config.limits.timeout_ms);
        tokio::time::timeout(limit, call)
            .await
            .map_err(|_| systems::Error::Timeout(limit))?
    }
}
