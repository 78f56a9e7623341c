//! The rejection store, what schema registries call a dead-letter queue:
//! the rejected writes of contracts with `rejections: keep`, PII redacted,
//! kept in the journal of the contract's owner so a data owner can see who
//! keeps sending bad data.

use serde_json::Value;

use super::Error;
use crate::contract::Rejection;
use crate::events::now_rfc3339;
use crate::gateway::{Gateway, Target};
use crate::metrics::Operation;
use crate::systems::KeptRejection;

impl Gateway {
    /// The error for a write its contract refused (violation messages
    /// already redacted); with the payload, when the contract keeps its
    /// rejections, the rejection is kept first. Failing to keep it is
    /// logged: the client's answer is the 422 either way.
    pub(super) async fn rejected(
        &self,
        target: &Target,
        rejection: Rejection,
        payload: Option<Value>,
    ) -> Error {
        let contract = &target.contract;
        tracing::info!(
            violations = rejection.violations.len(),
            first = %rejection.first(),
            "write rejected"
        );
        if let Some(payload) = payload {
            let kept = KeptRejection {
                contract: contract.name.clone(),
                version: rejection.version.number(),
                caller: target.caller.clone(),
                at: now_rfc3339(),
                violations: serde_json::to_value(&rejection.violations).unwrap_or_default(),
                payload: contract.redact(payload),
            };
            let limits = &self.config().rejections;
            let journal = &target.system.journal;
            let keeping = journal.keep_rejection(&kept, limits);
            if let Err(error) = self.timed(target, Operation::Journal, keeping).await {
                tracing::warn!(%error, "the rejected write could not be kept");
            }
        }
        Error::Rejected {
            contract: contract.name.to_string(),
            rejection,
        }
    }

    /// Up to `limit` kept rejections of a contract, newest first.
    pub async fn rejections(
        &self,
        contract: &str,
        limit: usize,
    ) -> Result<Vec<KeptRejection>, Error> {
        let (name, journal) = self.journal_of(contract)?;
        Ok(journal.rejections(&name, limit).await?)
    }
}
