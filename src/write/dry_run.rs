//! The validate dry run: the verdict a write would get, and what the owner
//! would store, with nothing written and no change event. The HTTP route
//! and `contractgate validate` both answer with this.

use serde::Serialize;
use serde_json::Value;

use super::{accept, Error};
use crate::contract::{AppliedStep, Contract, Version};

/// What a valid payload would become.
#[derive(Debug, Serialize)]
pub struct DryRun<'c> {
    /// Always true: an invalid payload is an [`Error`] like a write's.
    pub valid: bool,
    /// The version the owner stores.
    pub stored_version: Version,
    /// The body the owner would store (upgraded, normalized).
    pub body: Value,
    /// The upgrade steps applied on the way, in order.
    pub steps: Vec<AppliedStep<'c>>,
}

/// Checks `body` as a write of `version` would be checked, and upgrades it
/// to the stored version; stores nothing.
pub fn dry_run(contract: &Contract, version: Version, body: Value) -> Result<DryRun<'_>, Error> {
    let (record, ()) =
        accept(contract, version, body, |_| ()).map_err(|rejection| Error::Rejected {
            contract: contract.name.to_string(),
            rejection,
        })?;
    Ok(DryRun {
        valid: true,
        stored_version: record.version(),
        steps: contract.applied_steps(version, record.version()),
        body: record.body().clone(),
    })
}
