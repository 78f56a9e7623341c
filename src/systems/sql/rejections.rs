//! The rejection store of an SQL owner: `contractgate_rejections`, one row
//! per rejected write of a contract with `rejections: keep`, bounded per
//! contract by count and age each time one is kept.

use serde_json::Value;

use super::dialect::{Dialect, Text};
use super::journal::epoch_millis;
use super::SqlOwner;
use crate::config::RejectionLimits;
use crate::contract::ContractName;
use crate::systems::{Error, KeptRejection};

/// The store's statements in one dialect.
struct RejectionStatements {
    insert: String,
    /// The `seq` of the (n+1)th newest rejection of a contract: it and
    /// everything older go.
    cutoff: String,
    prune: String,
    list: String,
}

impl RejectionStatements {
    fn new(dialect: &dyn Dialect) -> Self {
        let p = |index| dialect.param(index);
        Self {
            insert: format!(
                "INSERT INTO contractgate_rejections \
                 (contract, version, caller, violations, payload, kept_at, kept_at_ms) VALUES ({})",
                dialect.params(1, 7)
            ),
            cutoff: format!(
                "SELECT seq FROM contractgate_rejections WHERE contract = {} \
                 ORDER BY seq DESC LIMIT 1 OFFSET {}",
                p(1),
                p(2)
            ),
            prune: format!(
                "DELETE FROM contractgate_rejections WHERE contract = {} AND (seq <= {} OR kept_at_ms < {})",
                p(1),
                p(2),
                p(3)
            ),
            list: format!(
                "SELECT version, caller, violations, payload, kept_at FROM contractgate_rejections \
                 WHERE contract = {} ORDER BY seq DESC LIMIT {}",
                p(1),
                p(2)
            ),
        }
    }
}

/// A kept row: version, caller, violations, payload, when.
type Row = (i64, Text, Text, Text, Text);

impl SqlOwner {
    /// Keeps one rejection and prunes its contract's beyond the limits, in
    /// one transaction.
    pub(super) async fn keep(
        &self,
        rejection: &KeptRejection,
        limits: &RejectionLimits,
    ) -> Result<(), Error> {
        let dialect = self.procedure.dialect;
        let sql = RejectionStatements::new(dialect);
        let classify = |e| self.classify(e);
        let now = epoch_millis();
        let contract = rejection.contract.as_str();
        let mut transaction = self
            .writer
            .begin_with(dialect.begin())
            .await
            .map_err(classify)?;
        sqlx::query(&sql.insert)
            .bind(contract)
            .bind(i64::from(rejection.version))
            .bind(rejection.caller.as_str())
            .bind(rejection.violations.to_string())
            .bind(rejection.payload.to_string())
            .bind(rejection.at.as_str())
            .bind(now)
            .execute(&mut *transaction)
            .await
            .map_err(classify)?;
        let kept = i64::try_from(limits.max_per_contract).unwrap_or(i64::MAX);
        let cutoff: Option<i64> = sqlx::query_scalar(&sql.cutoff)
            .bind(contract)
            .bind(kept)
            .fetch_optional(&mut *transaction)
            .await
            .map_err(classify)?;
        let max_age_ms =
            i64::try_from(limits.max_age_hours.saturating_mul(3_600_000)).unwrap_or(i64::MAX);
        sqlx::query(&sql.prune)
            .bind(contract)
            .bind(cutoff.unwrap_or(0))
            .bind(now.saturating_sub(max_age_ms))
            .execute(&mut *transaction)
            .await
            .map_err(classify)?;
        transaction.commit().await.map_err(classify)
    }

    /// Up to `limit` kept rejections of a contract, newest first.
    pub(super) async fn kept(
        &self,
        contract: &ContractName,
        limit: usize,
    ) -> Result<Vec<KeptRejection>, Error> {
        let sql = RejectionStatements::new(self.procedure.dialect);
        let rows: Vec<Row> = sqlx::query_as(&sql.list)
            .bind(contract.as_str())
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&self.readers)
            .await
            .map_err(|e| self.classify(e))?;
        rows.into_iter()
            .map(|(version, caller, violations, payload, at)| {
                Ok(KeptRejection {
                    contract: contract.clone(),
                    version: u32::try_from(version)
                        .map_err(|_| Error::Fault(format!("a kept version is {version}")))?,
                    caller: caller.0,
                    at: at.0,
                    violations: json(&violations.0)?,
                    payload: json(&payload.0)?,
                })
            })
            .collect()
    }
}

fn json(text: &str) -> Result<Value, Error> {
    serde_json::from_str(text)
        .map_err(|e| Error::Fault(format!("a kept rejection is not JSON: {e}")))
}
