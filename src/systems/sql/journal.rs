//! The journal of an SQL owner: its outbox table, sequenced into the change
//! feed as `systems/journal.rs` explains, and claimed by one relay at a
//! time so that events leave in commit order.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;
use sqlx::{Any, AnyConnection, Row, Transaction};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::dialect::{Dialect, Text};
use super::ledger::{ledger_entry, Entry, LedgerRow};
use super::SqlOwner;
use crate::config::RejectionLimits;
use crate::contract::{ContractName, RecordKey};
use crate::events::{now_rfc3339, ChangeEvent};
use crate::systems::{
    Backlog, ChangedSchema, Changes, Committed, Error, Idempotency, IdempotencyKey, Journal,
    JournalEvent, KeptRejection, LedgerEntry, ServedSchema,
};

/// Events numbered per sequencing transaction at most.
const SEQUENCE_LIMIT: i64 = 1000;

/// Events deleted per retention transaction at most, so a sweep never holds
/// the feed row's lock for long.
const PRUNE_LIMIT: i64 = 10_000;
/// Schema hashes recorded per statement: 4 parameters each, far below any
/// engine's limit on one statement's parameters.
const PINNED_PER_INSERT: usize = 500;

/// The journal's statements in one dialect, built once.
pub struct JournalStatements {
    lock_feed: String,
    unsequenced: String,
    set_last_position: String,
    changes: String,
    changes_of_contract: String,
    take_lease: String,
    unrelayed: String,
    oldest_unrelayed: String,
    count_unrelayed: String,
    pruned_through: String,
    prunable: String,
    delete_through: String,
    set_pruned_through: String,
}

impl JournalStatements {
    /// Spells the statements in a dialect.
    pub fn new(dialect: &dyn Dialect) -> Self {
        let p = |index| dialect.param(index);
        let lock = dialect.lock_rows();
        Self {
            lock_feed: format!(
                "SELECT last_position, relay_holder, relay_lease_until, pruned_through \
                 FROM contractgate_feed WHERE id = 1{lock}"
            ),
            unsequenced: format!(
                "SELECT seq FROM contractgate_outbox WHERE position IS NULL ORDER BY seq LIMIT {}",
                p(1)
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
            oldest_unrelayed: "SELECT created_at FROM contractgate_outbox \
                               WHERE relayed_at IS NULL ORDER BY seq LIMIT 1"
                .to_owned(),
            count_unrelayed: "SELECT COUNT(*) FROM contractgate_outbox WHERE relayed_at IS NULL"
                .to_owned(),
            pruned_through: "SELECT pruned_through FROM contractgate_feed WHERE id = 1".to_owned(),
            prunable: format!(
                "SELECT position, sequenced_at, relayed_at FROM contractgate_outbox \
                 WHERE position > {} ORDER BY position LIMIT {}",
                p(1),
                p(2)
            ),
            delete_through: format!(
                "DELETE FROM contractgate_outbox WHERE position <= {}",
                p(1)
            ),
            set_pruned_through: format!(
                "UPDATE contractgate_feed SET pruned_through = {} WHERE id = 1",
                p(1)
            ),
        }
    }
}

/// Journals `count` change events; binds per event: id, contract, record
/// key, revision, the event document and the time.
pub fn insert_events(dialect: &dyn Dialect, count: usize) -> String {
    format!(
        "INSERT INTO contractgate_outbox (id, contract, record_key, revision, event, created_at) VALUES {}",
        dialect.rows(count, &[false; 6])
    )
}

/// Gives `count` events their positions; binds each event's seq and
/// position, then the time and each seq again.
fn set_positions(dialect: &dyn Dialect, count: usize) -> String {
    let cases: Vec<String> = (0..count)
        .map(|i| {
            format!(
                "WHEN {} THEN {}",
                dialect.param(2 * i + 1),
                dialect.param(2 * i + 2)
            )
        })
        .collect();
    format!(
        "UPDATE contractgate_outbox SET position = CASE seq {} END, sequenced_at = {} \
         WHERE seq IN ({})",
        cases.join(" "),
        dialect.param(2 * count + 1),
        dialect.params(2 * count + 2, count)
    )
}

/// Marks `count` events relayed; binds the time, then each position.
fn mark_relayed(dialect: &dyn Dialect, count: usize) -> String {
    format!(
        "UPDATE contractgate_outbox SET relayed_at = {} WHERE position IN ({})",
        dialect.param(1),
        dialect.params(2, count)
    )
}

/// The feed row, locked: the last position given, the relay lease and the
/// last position retention deleted.
type FeedRow = (i64, Option<String>, Option<i64>, i64);

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
        // Readers poll: look before taking the write lock for nothing.
        let waiting: Vec<i64> = sqlx::query_scalar(&sql.unsequenced)
            .bind(1_i64)
            .fetch_all(&self.readers)
            .await
            .map_err(classify)?;
        if waiting.is_empty() {
            return Ok(());
        }
        let (mut transaction, (last, _, _, _)) = self.lock_feed().await?;
        let unsequenced: Vec<i64> = sqlx::query_scalar(&sql.unsequenced)
            .bind(SEQUENCE_LIMIT)
            .fetch_all(&mut *transaction)
            .await
            .map_err(classify)?;
        if unsequenced.is_empty() {
            return release(transaction, classify).await;
        }
        // Taken under the lock, so it grows with the position (retention
        // reads it as the time an event entered the feed).
        let now = epoch_millis();
        let set = set_positions(self.procedure.dialect, unsequenced.len());
        let mut query = sqlx::query(&set);
        let mut position = last;
        for seq in &unsequenced {
            position += 1;
            query = query.bind(*seq).bind(position);
        }
        query = query.bind(now);
        for seq in &unsequenced {
            query = query.bind(*seq);
        }
        query.execute(&mut *transaction).await.map_err(classify)?;
        sqlx::query(&sql.set_last_position)
            .bind(position)
            .execute(&mut *transaction)
            .await
            .map_err(classify)?;
        transaction.commit().await.map_err(classify)
    }

    /// The last position retention deleted (0: none).
    async fn pruned_through(&self) -> Result<u64, Error> {
        let pruned: i64 = sqlx::query_scalar(&self.procedure.journal.pruned_through)
            .fetch_one(&self.readers)
            .await
            .map_err(|e| self.classify(e))?;
        Ok(pruned as u64)
    }

    /// When the oldest event not relayed yet was written, if any waits.
    async fn oldest_unrelayed(&self) -> Result<Option<OffsetDateTime>, Error> {
        let created: Option<Text> = sqlx::query_scalar(&self.procedure.journal.oldest_unrelayed)
            .fetch_optional(&self.readers)
            .await
            .map_err(|e| self.classify(e))?;
        created
            .map(|Text(text)| {
                OffsetDateTime::parse(&text, &Rfc3339).map_err(|e| {
                    Error::Fault(format!("a journaled time `{text}` is not RFC 3339: {e}"))
                })
            })
            .transpose()
    }
}

#[async_trait]
impl Journal for SqlOwner {
    async fn record(&self, event: &ChangeEvent) -> Result<(), Error> {
        let mut connection = self.writer.acquire().await.map_err(|e| self.classify(e))?;
        let connection: &mut AnyConnection = &mut connection;
        self.procedure
            .insert_events(connection, std::slice::from_ref(event), &now_rfc3339())
            .await
    }

    async fn changes_after(
        &self,
        cursor: Option<u64>,
        contract: Option<&ContractName>,
        limit: usize,
    ) -> Result<Changes, Error> {
        self.sequence().await?;
        let after = match cursor {
            Some(cursor) => cursor,
            None => self.pruned_through().await?,
        };
        let sql = &self.procedure.journal;
        let query = match contract {
            Some(contract) => sqlx::query_as(&sql.changes_of_contract)
                .bind(after as i64)
                .bind(contract.as_str()),
            None => sqlx::query_as(&sql.changes).bind(after as i64),
        };
        let rows: Vec<(i64, Text)> = query
            .bind(limit as i64)
            .fetch_all(&self.readers)
            .await
            .map_err(|e| self.classify(e))?;
        // Read after the page: retention only moves forward, so a cursor not
        // behind it now was not behind it while the page was read, and the
        // page has no hole.
        let pruned_through = self.pruned_through().await?;
        if after < pruned_through {
            return Ok(Changes::Expired { pruned_through });
        }
        let events = rows
            .into_iter()
            .map(journal_event)
            .collect::<Result<_, _>>()?;
        Ok(Changes::Page { after, events })
    }

    async fn claim_unrelayed(
        &self,
        limit: usize,
        lease_ms: u64,
    ) -> Result<Vec<JournalEvent>, Error> {
        // Relays poll: look before taking the write lock for nothing.
        if self.oldest_unrelayed().await?.is_none() {
            return Ok(Vec::new());
        }
        self.sequence().await?;
        let sql = &self.procedure.journal;
        let classify = |e| self.classify(e);
        let (mut transaction, (_, holder, until, _)) = self.lock_feed().await?;
        let now = epoch_millis();
        let held_by_another =
            holder.as_deref() != Some(self.instance.as_str()) && until.is_some_and(|t| t > now);
        if held_by_another {
            return release(transaction, classify).await.map(|()| Vec::new());
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
        if positions.is_empty() {
            return Ok(());
        }
        let mark = mark_relayed(self.procedure.dialect, positions.len());
        let mut query = sqlx::query(&mark).bind(now_rfc3339());
        for position in positions {
            query = query.bind(*position as i64);
        }
        query
            .execute(&self.writer)
            .await
            .map_err(|e| self.classify(e))?;
        Ok(())
    }

    async fn remembered(
        &self,
        contract: &ContractName,
        key: &IdempotencyKey,
    ) -> Result<Option<LedgerEntry>, Error> {
        let row: Option<LedgerRow> = sqlx::query_as(&self.procedure.ledger.remembered)
            .bind(contract.as_str())
            .bind(key.as_str())
            .bind(epoch_millis())
            .fetch_optional(&self.readers)
            .await
            .map_err(|e| self.classify(e))?;
        row.map(ledger_entry).transpose()
    }

    async fn remember(
        &self,
        contract: &ContractName,
        record_key: &RecordKey,
        idempotency: &Idempotency,
        committed: &Committed,
    ) -> Result<(), Error> {
        let mut connection = self.writer.acquire().await.map_err(|e| self.classify(e))?;
        let entry = Entry {
            contract,
            record_key,
            idempotency,
            committed,
        };
        self.procedure.remember(&mut connection, &[entry]).await
    }

    async fn forget_expired(&self) -> Result<u64, Error> {
        let done = sqlx::query(&self.procedure.ledger.forget_expired)
            .bind(epoch_millis())
            .execute(&self.writer)
            .await
            .map_err(|e| self.classify(e))?;
        Ok(done.rows_affected())
    }
    async fn backlog(&self) -> Result<Backlog, Error> {
        let oldest = self.oldest_unrelayed().await?;
        let events: i64 = sqlx::query_scalar(&self.procedure.journal.count_unrelayed)
            .fetch_one(&self.readers)
            .await
            .map_err(|e| self.classify(e))?;
        let age = |written: OffsetDateTime| {
            let waited = OffsetDateTime::now_utc() - written;
            Duration::try_from(waited).unwrap_or_default()
        };
        Ok(Backlog {
            events: events as u64,
            oldest: oldest.map(age),
        })
    }

    async fn prune(&self, older_than: Duration, relayed_only: bool) -> Result<u64, Error> {
        // Only sequenced events can go; without readers or a relay nothing
        // else would sequence them.
        self.sequence().await?;
        let sql = &self.procedure.journal;
        let classify = |e| self.classify(e);
        let age = i64::try_from(older_than.as_millis()).unwrap_or(i64::MAX);
        let cutoff = epoch_millis().saturating_sub(age);
        let (mut transaction, (_, _, _, pruned_through)) = self.lock_feed().await?;
        let candidates: Vec<(i64, Option<i64>, Option<Text>)> = sqlx::query_as(&sql.prunable)
            .bind(pruned_through)
            .bind(PRUNE_LIMIT)
            .fetch_all(&mut *transaction)
            .await
            .map_err(classify)?;
        // Events sequenced before retention existed have no time: old.
        let expired = |(_, sequenced, relayed): &&(i64, Option<i64>, Option<Text>)| {
            sequenced.unwrap_or(0) <= cutoff && (!relayed_only || relayed.is_some())
        };
        let Some((through, _, _)) = candidates.iter().take_while(expired).last() else {
            return release(transaction, classify).await.map(|()| 0);
        };
        let deleted = sqlx::query(&sql.delete_through)
            .bind(*through)
            .execute(&mut *transaction)
            .await
            .map_err(classify)?
            .rows_affected();
        sqlx::query(&sql.set_pruned_through)
            .bind(*through)
            .execute(&mut *transaction)
            .await
            .map_err(classify)?;
        transaction.commit().await.map_err(classify)?;
        Ok(deleted)
    }
    async fn pin_schemas(&self, served: &[ServedSchema]) -> Result<Vec<ChangedSchema>, Error> {
        let dialect = self.procedure.dialect;
        let classify = |e| self.classify(e);
        // Under the feed row's lock, so that instances starting together
        // on one database take turns: the second sees the first's hashes.
        let (mut transaction, _) = self.lock_feed().await?;
        // Every hash recorded, in one query, and the new ones in a few
        // multi-row inserts: a statement per version was seconds of a
        // start with 10,000 contracts.
        let rows = sqlx::query("SELECT contract, version, hash FROM contractgate_schema_hashes")
            .fetch_all(&mut *transaction)
            .await
            .map_err(classify)?;
        let mut recorded = HashMap::with_capacity(rows.len());
        for row in rows {
            let (Text(contract), version, Text(hash)) = (
                row.try_get::<Text, _>(0).map_err(classify)?,
                row.try_get::<i64, _>(1).map_err(classify)?,
                row.try_get::<Text, _>(2).map_err(classify)?,
            );
            recorded.insert((contract, version), hash);
        }
        let mut changed = Vec::new();
        let mut new = Vec::new();
        for schema in served {
            let version = i64::from(schema.version);
            match recorded.get(&(schema.contract.as_str().to_owned(), version)) {
                Some(hash) if *hash != schema.hash => changed.push(ChangedSchema {
                    contract: schema.contract.clone(),
                    version: schema.version,
                    recorded: hash.clone(),
                    offered: schema.hash.clone(),
                }),
                Some(_) => {}
                None => new.push((schema, version)),
            }
        }
        if !changed.is_empty() {
            // Nothing recorded, and the feed's lock let go now: the refused
            // gateway's connections may close later than another instance
            // wants the lock.
            transaction.rollback().await.map_err(classify)?;
            return Ok(changed);
        }
        let now = now_rfc3339();
        for part in new.chunks(PINNED_PER_INSERT) {
            let insert = format!(
                "INSERT INTO contractgate_schema_hashes (contract, version, hash, first_served_at) VALUES {}",
                dialect.rows(part.len(), &[false; 4])
            );
            let mut query = sqlx::query(&insert);
            for (schema, version) in part {
                query = query
                    .bind(schema.contract.as_str())
                    .bind(*version)
                    .bind(schema.hash.as_str())
                    .bind(now.as_str());
            }
            query.execute(&mut *transaction).await.map_err(classify)?;
        }
        transaction.commit().await.map_err(classify)?;
        Ok(changed)
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

/// Ends a transaction that changed nothing. Said explicitly: a dropped
/// transaction's rollback waits for the connection's next use, and the
/// feed row's lock with it.
async fn release(
    transaction: Transaction<'static, Any>,
    classify: impl Fn(sqlx::Error) -> Error,
) -> Result<(), Error> {
    transaction.rollback().await.map_err(classify)
}

fn journal_event((position, Text(event)): (i64, Text)) -> Result<JournalEvent, Error> {
    Ok(JournalEvent {
        position: position as u64,
        event: serde_json::from_str::<Value>(&event)
            .map_err(|e| Error::Fault(format!("a journaled event is not JSON: {e}")))?,
    })
}

/// The clock of leases and of the idempotency ledger's expiry.
pub(super) fn epoch_millis() -> i64 {
    let now = time::OffsetDateTime::now_utc();
    (now.unix_timestamp_nanos() / 1_000_000) as i64
}

#[cfg(test)]
pub(super) mod tests {
    use std::path::Path;

    use serde_json::json;

    use super::*;
    use crate::contract::{LoadOptions, Registry};
    use crate::systems::sql::open_sqlite;
    use crate::systems::{Mutation, Owner, Precondition, Write};

    /// Two owners on one SQLite file, as two gateway instances would be,
    /// with the example `customer` contract prepared.
    pub(in crate::systems::sql) async fn two_instances(
        file: &Path,
    ) -> (SqlOwner, SqlOwner, Registry) {
        let contracts = Path::new(env!("CARGO_MANIFEST_DIR")).join("contracts");
        let registry = Registry::load(&contracts, &LoadOptions::default()).expect("contracts");
        let customer = registry.get("customer").expect("customer");
        let first = open_sqlite(file).await.expect("first instance");
        let second = open_sqlite(file).await.expect("second instance");
        let contracts = std::slice::from_ref(customer);
        first.prepare(contracts).await.expect("prepared");
        second.prepare(contracts).await.expect("prepared");
        (first, second, registry)
    }

    /// Two instances whose first created customers c-1, c-2 and c-3.
    async fn three_customers() -> (tempfile::TempDir, SqlOwner, SqlOwner, Registry) {
        let folder = tempfile::tempdir().expect("a folder");
        let (first, second, registry) = two_instances(&folder.path().join("g.db")).await;
        for id in ["c-1", "c-2", "c-3"] {
            create(&first, &registry, id).await;
        }
        (folder, first, second, registry)
    }

    async fn create(owner: &SqlOwner, registry: &Registry, id: &str) {
        owner
            .commit(new_customer(registry, id))
            .await
            .expect("committed");
    }

    /// The creation of a valid customer.
    pub(in crate::systems::sql) fn new_customer(registry: &Registry, id: &str) -> Write {
        let customer = registry.get("customer").expect("customer");
        let body =
            json!({"id": id, "full_name": "Ada", "email": "ada@example.com", "tier": "gold"});
        let (record, _) = customer
            .accept(customer.stored_version().version, body)
            .expect("valid");
        Write {
            contract: customer.name.clone(),
            key: record.key().clone(),
            event_data: Some(crate::events::event_data(record.body()).expect("JSON")),
            mutation: Mutation::Put(record),
            precondition: Precondition::Absent,
            patch: false,
            idempotency: None,
        }
    }

    /// A page of the feed, which must not be expired.
    async fn page(
        owner: &SqlOwner,
        cursor: Option<u64>,
        contract: Option<&ContractName>,
        limit: usize,
    ) -> Vec<JournalEvent> {
        match owner.changes_after(cursor, contract, limit).await {
            Ok(Changes::Page { events, .. }) => events,
            other => panic!("expected a page, got {other:?}"),
        }
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
        let (_folder, first, second, registry) = three_customers().await;
        let first_page = page(&first, Some(0), None, 2).await;
        assert_eq!(
            subjects(&first_page),
            [(1, "c-1".into()), (2, "c-2".into())]
        );
        create(&second, &registry, "c-4").await;
        // Another instance reads on from the cursor and sees the rest once.
        let rest = page(&second, Some(2), None, 10).await;
        assert_eq!(subjects(&rest), [(3, "c-3".into()), (4, "c-4".into())]);
        assert!(page(&first, Some(4), None, 10).await.is_empty());
        let customer = ContractName::parse("customer").expect("a name");
        let order = ContractName::parse("order").expect("a name");
        assert_eq!(page(&first, Some(0), Some(&customer), 10).await.len(), 4);
        assert!(page(&first, Some(0), Some(&order), 10).await.is_empty());
    }

    #[tokio::test]
    async fn one_relay_at_a_time_claims_events_in_order_until_it_marks_them() {
        let (_folder, first, second, _) = three_customers().await;
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
            &now_rfc3339(),
            None,
        );
        first.record(&event).await.expect("recorded");
        let feed = page(&first, None, None, 10).await;
        assert_eq!(subjects(&feed), [(1, "c-9".into())]);
        assert_eq!(feed[0].event["id"], event.id);
    }

    #[tokio::test]
    async fn the_backlog_counts_what_waits_for_the_relay_and_how_long_the_oldest_has() {
        let (_folder, first, _, _) = three_customers().await;
        tokio::time::sleep(Duration::from_millis(20)).await;
        let waiting = first.backlog().await.expect("a backlog");
        assert_eq!(waiting.events, 3);
        let oldest = waiting.oldest.expect("an oldest event");
        assert!(oldest >= Duration::from_millis(20), "{oldest:?}");
        first.claim_unrelayed(10, 60_000).await.expect("claimed");
        first.mark_relayed(&[1, 2]).await.expect("marked");
        assert_eq!(first.backlog().await.expect("a backlog").events, 1);
        first.mark_relayed(&[3]).await.expect("marked");
        let none = Backlog {
            events: 0,
            oldest: None,
        };
        assert_eq!(first.backlog().await.expect("a backlog"), none);
    }

    #[tokio::test]
    async fn retention_deletes_an_old_prefix_and_an_older_cursor_expires() {
        let (_folder, first, second, registry) = three_customers().await;
        first.claim_unrelayed(10, 60_000).await.expect("claimed");
        first.mark_relayed(&[1, 3]).await.expect("marked");
        tokio::time::sleep(Duration::from_millis(5)).await;
        // Too young to go.
        let hour = Duration::from_secs(3600);
        assert_eq!(first.prune(hour, true).await.expect("pruned"), 0);
        // Old enough, but 2 was not relayed: it and what follows stay.
        assert_eq!(first.prune(Duration::ZERO, true).await.expect("pruned"), 1);
        assert_eq!(
            second.changes_after(Some(0), None, 10).await.expect("read"),
            Changes::Expired { pruned_through: 1 }
        );
        assert_eq!(subjects(&page(&second, Some(1), None, 10).await).len(), 2);
        // Without a relay nothing waits for one.
        assert_eq!(first.prune(Duration::ZERO, false).await.expect("pruned"), 2);
        assert_eq!(
            first.changes_after(Some(2), None, 10).await.expect("read"),
            Changes::Expired { pruned_through: 3 }
        );
        // Retention sequences what it finds, so it needs no reader.
        create(&first, &registry, "c-4").await;
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert_eq!(first.prune(Duration::ZERO, false).await.expect("pruned"), 1);
        // No cursor: from the oldest event kept.
        create(&first, &registry, "c-5").await;
        match first.changes_after(None, None, 10).await.expect("read") {
            Changes::Page { after, events } => {
                assert_eq!(after, 4);
                assert_eq!(subjects(&events), [(5, "c-5".into())]);
            }
            expired => panic!("{expired:?}"),
        }
        assert_eq!(subjects(&page(&first, Some(4), None, 10).await).len(), 1);
    }
}
