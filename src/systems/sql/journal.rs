//! The journal of an SQL owner: its outbox table, sequenced into the change
//! feed as `systems/journal.rs` explains, and claimed by one relay at a
//! time so that events leave in commit order.

use async_trait::async_trait;
use serde_json::Value;
use sqlx::{Any, AnyConnection, Transaction};

use super::dialect::{Dialect, Text};
use super::SqlOwner;
use crate::config::RejectionLimits;
use crate::contract::ContractName;
use crate::events::{now_rfc3339, ChangeEvent};
use crate::systems::{Error, Journal, JournalEvent, KeptRejection};

/// Events numbered per sequencing transaction at most.
const SEQUENCE_LIMIT: i64 = 1000;

/// The journal's statements in one dialect, built once.
pub struct JournalStatements {
    /// Journals one change event.
    pub insert_event: String,
    lock_feed: String,
    unsequenced: String,
    set_position: String,
    set_last_position: String,
    changes: String,
    changes_of_contract: String,
    take_lease: String,
    unrelayed: String,
    mark_relayed: String,
}

impl JournalStatements {
    /// Spells the statements in a dialect.
    pub fn new(dialect: &dyn Dialect) -> Self {
        let p = |index| dialect.param(index);
        let lock = dialect.lock_rows();
        Self {
            insert_event: format!(
                "INSERT INTO contractgate_outbox (id, contract, record_key, revision, event, created_at) VALUES ({})",
                dialect.params(1, 6)
            ),
            lock_feed: format!(
                "SELECT last_position, relay_holder, relay_lease_until FROM contractgate_feed WHERE id = 1{lock}"
            ),
            unsequenced: format!(
                "SELECT seq FROM contractgate_outbox WHERE position IS NULL ORDER BY seq LIMIT {}",
                p(1)
            ),
            set_position: format!(
                "UPDATE contractgate_outbox SET position = {} WHERE seq = {}",
                p(1),
                p(2)
            ),
            set_last_position: format!(
                "UPDATE contractgate_feed SET last_position = {} WHERE id = 1",
                p(1)
            ),
            changes: format!(
                "SELECT position, event FROM contractgate_outbox WHERE position > {} ORDER BY position LIMIT {}",
                p(1),
                p(2)
            ),
            changes_of_contract: format!(
                "SELECT position, event FROM contractgate_outbox WHERE position > {} AND contract = {} \
                 ORDER BY position LIMIT {}",
                p(1),
                p(2),
                p(3)
            ),
            take_lease: format!(
                "UPDATE contractgate_feed SET relay_holder = {}, relay_lease_until = {} WHERE id = 1",
                p(1),
                p(2)
            ),
            unrelayed: format!(
                "SELECT position, event FROM contractgate_outbox \
                 WHERE position IS NOT NULL AND relayed_at IS NULL ORDER BY position LIMIT {}",
                p(1)
            ),
            mark_relayed: format!(
                "UPDATE contractgate_outbox SET relayed_at = {} WHERE position = {}",
                p(1),
                p(2)
            ),
        }
    }
}

/// The feed row, locked: the last position given and the relay lease.
type FeedRow = (i64, Option<String>, Option<i64>);

impl SqlOwner {
    /// A write transaction holding the feed row's lock, and the row.
    async fn lock_feed(&self) -> Result<(Transaction<'static, Any>, FeedRow), Error> {
        let classify = |e| self.classify(e);
        let mut transaction = self
            .writer
            .begin_with(self.procedure.dialect.begin())
            .await
            .map_err(classify)?;
        let row = sqlx::query_as(&self.procedure.journal.lock_feed)
            .fetch_one(&mut *transaction)
            .await
            .map_err(classify)?;
        Ok((transaction, row))
    }

    /// Gives positions to committed events that have none, in one
    /// transaction holding the feed row's lock (see `systems/journal.rs`).
    async fn sequence(&self) -> Result<(), Error> {
        let sql = &self.procedure.journal;
        let classify = |e| self.classify(e);
        let (mut transaction, (last, _, _)) = self.lock_feed().await?;
        let unsequenced: Vec<i64> = sqlx::query_scalar(&sql.unsequenced)
            .bind(SEQUENCE_LIMIT)
            .fetch_all(&mut *transaction)
            .await
            .map_err(classify)?;
        if unsequenced.is_empty() {
            return Ok(());
        }
        let mut position = last;
        for seq in unsequenced {
            position += 1;
            sqlx::query(&sql.set_position)
                .bind(position)
                .bind(seq)
                .execute(&mut *transaction)
                .await
                .map_err(classify)?;
        }
        sqlx::query(&sql.set_last_position)
            .bind(position)
            .execute(&mut *transaction)
            .await
            .map_err(classify)?;
        transaction.commit().await.map_err(classify)
    }
}

#[async_trait]
impl Journal for SqlOwner {
    async fn record(&self, event: &ChangeEvent) -> Result<(), Error> {
        let mut connection = self.writer.acquire().await.map_err(|e| self.classify(e))?;
        let connection: &mut AnyConnection = &mut connection;
        self.procedure
            .insert_event(connection, event, &now_rfc3339())
            .await
    }

    async fn changes_after(
        &self,
        cursor: u64,
        contract: Option<&ContractName>,
        limit: usize,
    ) -> Result<Vec<JournalEvent>, Error> {
        self.sequence().await?;
        let sql = &self.procedure.journal;
        let query = match contract {
            Some(contract) => sqlx::query_as(&sql.changes_of_contract)
                .bind(cursor as i64)
                .bind(contract.as_str()),
            None => sqlx::query_as(&sql.changes).bind(cursor as i64),
        };
        let rows: Vec<(i64, Text)> = query
            .bind(limit as i64)
            .fetch_all(&self.readers)
            .await
            .map_err(|e| self.classify(e))?;
        rows.into_iter().map(journal_event).collect()
    }

    async fn claim_unrelayed(
        &self,
        limit: usize,
        lease_ms: u64,
    ) -> Result<Vec<JournalEvent>, Error> {
        self.sequence().await?;
        let sql = &self.procedure.journal;
        let classify = |e| self.classify(e);
        let (mut transaction, (_, holder, until)) = self.lock_feed().await?;
        let now = epoch_millis();
        let held_by_another =
            holder.as_deref() != Some(self.instance.as_str()) && until.is_some_and(|t| t > now);
        if held_by_another {
            return Ok(Vec::new());
        }
        sqlx::query(&sql.take_lease)
            .bind(self.instance.as_str())
            .bind(now.saturating_add(lease_ms as i64))
            .execute(&mut *transaction)
            .await
            .map_err(classify)?;
        let rows: Vec<(i64, Text)> = sqlx::query_as(&sql.unrelayed)
            .bind(limit as i64)
            .fetch_all(&mut *transaction)
            .await
            .map_err(classify)?;
        transaction.commit().await.map_err(classify)?;
        rows.into_iter().map(journal_event).collect()
    }

    async fn mark_relayed(&self, positions: &[u64]) -> Result<(), Error> {
        let classify = |e| self.classify(e);
        let mut transaction = self
            .writer
            .begin_with(self.procedure.dialect.begin())
            .await
            .map_err(classify)?;
        let now = now_rfc3339();
        for position in positions {
            sqlx::query(&self.procedure.journal.mark_relayed)
                .bind(&now)
                .bind(*position as i64)
                .execute(&mut *transaction)
                .await
                .map_err(classify)?;
        }
        transaction.commit().await.map_err(classify)
    }

    async fn keep_rejection(
        &self,
        rejection: &KeptRejection,
        limits: &RejectionLimits,
    ) -> Result<(), Error> {
        self.keep(rejection, limits).await
    }

    async fn rejections(
        &self,
        contract: &ContractName,
        limit: usize,
    ) -> Result<Vec<KeptRejection>, Error> {
        self.kept(contract, limit).await
    }
}

fn journal_event((position, Text(event)): (i64, Text)) -> Result<JournalEvent, Error> {
    Ok(JournalEvent {
        position: position as u64,
        event: serde_json::from_str::<Value>(&event)
            .map_err(|e| Error::Fault(format!("a journaled event is not JSON: {e}")))?,
    })
}

/// Now, in milliseconds since the Unix epoch.
pub(super) fn epoch_millis() -> i64 {
    let now = time::OffsetDateTime::now_utc();
    (now.unix_timestamp_nanos() / 1_000_000) as i64
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use serde_json::json;

    use super::*;
    use crate::contract::{LoadOptions, Registry};
    use crate::systems::sql::open_sqlite;
    use crate::systems::{Mutation, Owner, Precondition, Write};

    /// Two owners on one SQLite file, as two gateway instances would be,
    /// with the example `customer` contract prepared.
    async fn two_instances(file: &Path) -> (SqlOwner, SqlOwner, Registry) {
        let contracts = Path::new(env!("CARGO_MANIFEST_DIR")).join("contracts");
        let registry = Registry::load(&contracts, &LoadOptions::default()).expect("contracts");
        let customer = registry.get("customer").expect("customer");
        let first = open_sqlite(file).await.expect("first instance");
        let second = open_sqlite(file).await.expect("second instance");
        first.prepare(customer).await.expect("prepared");
        second.prepare(customer).await.expect("prepared");
        (first, second, registry)
    }

    async fn create(owner: &SqlOwner, registry: &Registry, id: &str) {
        let customer = registry.get("customer").expect("customer");
        let body =
            json!({"id": id, "full_name": "Ada", "email": "ada@example.com", "tier": "gold"});
        let (record, _) = customer
            .accept(customer.stored_version().version, body)
            .expect("valid");
        let write = Write {
            contract: customer.name.clone(),
            key: record.key().clone(),
            event_data: Some(record.body().clone()),
            mutation: Mutation::Put(record),
            precondition: Precondition::Absent,
            patch: false,
        };
        owner.commit(write).await.expect("committed");
    }

    fn subjects(events: &[JournalEvent]) -> Vec<(u64, String)> {
        events
            .iter()
            .map(|e| {
                (
                    e.position,
                    e.event["subject"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    }

    #[tokio::test]
    async fn the_feed_pages_in_commit_order_and_resumes_without_gaps_or_repeats() {
        let folder = tempfile::tempdir().expect("a folder");
        let (first, second, registry) = two_instances(&folder.path().join("g.db")).await;
        for id in ["c-1", "c-2", "c-3"] {
            create(&first, &registry, id).await;
        }
        let page = first.changes_after(0, None, 2).await.expect("a page");
        assert_eq!(subjects(&page), [(1, "c-1".into()), (2, "c-2".into())]);
        create(&second, &registry, "c-4").await;
        // Another instance reads on from the cursor and sees the rest once.
        let rest = second.changes_after(2, None, 10).await.expect("the rest");
        assert_eq!(subjects(&rest), [(3, "c-3".into()), (4, "c-4".into())]);
        assert!(first
            .changes_after(4, None, 10)
            .await
            .expect("none")
            .is_empty());
        let customer = ContractName::parse("customer").expect("a name");
        let order = ContractName::parse("order").expect("a name");
        assert_eq!(
            first
                .changes_after(0, Some(&customer), 10)
                .await
                .expect("all")
                .len(),
            4
        );
        assert!(first
            .changes_after(0, Some(&order), 10)
            .await
            .expect("none")
            .is_empty());
    }

    #[tokio::test]
    async fn one_relay_at_a_time_claims_events_in_order_until_it_marks_them() {
        let folder = tempfile::tempdir().expect("a folder");
        let (first, second, registry) = two_instances(&folder.path().join("g.db")).await;
        for id in ["c-1", "c-2", "c-3"] {
            create(&first, &registry, id).await;
        }
        let claimed = first.claim_unrelayed(2, 60_000).await.expect("claimed");
        assert_eq!(subjects(&claimed), [(1, "c-1".into()), (2, "c-2".into())]);
        // The other instance waits while the lease holds.
        assert!(second
            .claim_unrelayed(10, 60_000)
            .await
            .expect("none")
            .is_empty());
        first.mark_relayed(&[1, 2]).await.expect("marked");
        let next = first.claim_unrelayed(10, 0).await.expect("claimed");
        assert_eq!(subjects(&next), [(3, "c-3".into())]);
        // A lease that ran out (0 ms) passes to whoever claims next.
        let taken_over = second.claim_unrelayed(10, 60_000).await.expect("claimed");
        assert_eq!(subjects(&taken_over), [(3, "c-3".into())]);
    }

    #[tokio::test]
    async fn an_event_recorded_apart_from_its_write_joins_the_feed() {
        let folder = tempfile::tempdir().expect("a folder");
        let (first, _, registry) = two_instances(&folder.path().join("g.db")).await;
        let customer = registry.get("customer").expect("customer");
        let key = crate::contract::RecordKey::parse("c-9").expect("a key");
        let event = ChangeEvent::new(
            &customer.name,
            customer.stored_version().version,
            &key,
            crate::events::EventType::Created,
            1,
            None,
        );
        first.record(&event).await.expect("recorded");
        let feed = first.changes_after(0, None, 10).await.expect("the feed");
        assert_eq!(subjects(&feed), [(1, "c-9".into())]);
        assert_eq!(feed[0].event["id"], event.id);
    }
}
