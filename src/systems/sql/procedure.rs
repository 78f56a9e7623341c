//! The one write procedure of every SQL owner: the revision check is part
//! of the write itself, so it holds with any number of concurrent writers,
//! not only under SQLite's single one.

use sqlx::AnyConnection;
use sqlx::AnyPool;

use super::dialect::{Dialect, Text};
use super::Procedure;
use crate::contract::{RecordKey, Version};
use crate::events::{now_rfc3339, ChangeEvent};
use crate::systems::{Committed, Error, Mutation, StoredRecord, Write};

/// A contract's statements in its owner, built once when it is prepared.
pub struct RecordStatements {
    /// The row's version and revision, locked for the rest of the
    /// transaction where the engine needs a lock for that.
    select_for_write: String,
    insert: String,
    /// Conditional on the revision read: zero rows means it changed.
    update: String,
    /// Conditional on the revision read.
    delete: String,
    read: String,
}

impl RecordStatements {
    /// The statements for a table (`table` quoted already).
    pub fn new(dialect: &dyn Dialect, table: &str) -> Self {
        let p = |index| dialect.param(index);
        Self {
            select_for_write: format!(
                "SELECT version, revision FROM {table} WHERE record_key = {}{}",
                p(1),
                dialect.lock_rows()
            ),
            insert: format!(
                "INSERT INTO {table} (record_key, version, revision, body, updated_at) \
                 VALUES ({}, {}, {}, {}, {})",
                p(1),
                p(2),
                p(3),
                dialect.json_param(4),
                p(5)
            ),
            update: format!(
                "UPDATE {table} SET version = {}, revision = {}, body = {}, updated_at = {} \
                 WHERE record_key = {} AND revision = {}",
                p(1),
                p(2),
                dialect.json_param(3),
                p(4),
                p(5),
                p(6)
            ),
            delete: format!(
                "DELETE FROM {table} WHERE record_key = {} AND revision = {}",
                p(1),
                p(2)
            ),
            read: format!(
                "SELECT version, revision, {} FROM {table} WHERE record_key = {}",
                dialect.json_text("body"),
                p(1)
            ),
        }
    }

    /// The record under `key`, outside any write transaction.
    pub async fn read(
        &self,
        dialect: &dyn Dialect,
        pool: &AnyPool,
        key: &RecordKey,
    ) -> Result<Option<StoredRecord>, Error> {
        let row: Option<(i64, i64, Text)> = sqlx::query_as(&self.read)
            .bind(key.as_str())
            .fetch_optional(pool)
            .await
            .map_err(|e| dialect.classify(e))?;
        let Some((version, revision, Text(body))) = row else {
            return Ok(None);
        };
        Ok(Some(StoredRecord {
            version: stored_version(version)?,
            revision: revision as u64,
            body: serde_json::from_str(&body)
                .map_err(|e| Error::Fault(format!("a stored body is not JSON: {e}")))?,
        }))
    }
}

impl Procedure {
    /// The revision check, the record, its change event and its ledger
    /// entry (when it has an idempotency key), on a connection inside a
    /// transaction.
    pub async fn apply(
        &self,
        connection: &mut AnyConnection,
        write: Write,
    ) -> Result<Committed, Error> {
        let sql = self.statements(&write.contract)?;
        let classify = |e| self.dialect.classify(e);
        let key = write.key.as_str();
        let current: Option<(i64, i64)> = sqlx::query_as(&sql.select_for_write)
            .bind(key)
            .fetch_optional(&mut *connection)
            .await
            .map_err(classify)?;
        write.check(current.map(|(_, revision)| revision as u64))?;
        let event_type = write.event_type(current.is_some());
        let now = now_rfc3339();
        let (revision, version) = match (&write.mutation, current) {
            (Mutation::Put(record), None) => {
                sqlx::query(&sql.insert)
                    .bind(key)
                    .bind(i64::from(record.version().number()))
                    .bind(1_i64)
                    .bind(record.body().to_string())
                    .bind(&now)
                    .execute(&mut *connection)
                    .await
                    .map_err(|error| match &error {
                        // Another writer created the key since the SELECT;
                        // the key is the default layout's one unique column.
                        sqlx::Error::Database(db) if db.is_unique_violation() => Error::Exists,
                        _ => classify(error),
                    })?;
                (1, record.version())
            }
            (Mutation::Put(record), Some((_, revision))) => {
                let changed = sqlx::query(&sql.update)
                    .bind(i64::from(record.version().number()))
                    .bind(revision + 1)
                    .bind(record.body().to_string())
                    .bind(&now)
                    .bind(key)
                    .bind(revision)
                    .execute(&mut *connection)
                    .await
                    .map_err(classify)?;
                unchanged_is_stale(changed.rows_affected())?;
                (revision as u64 + 1, record.version())
            }
            (Mutation::Delete, Some((version, revision))) => {
                let changed = sqlx::query(&sql.delete)
                    .bind(key)
                    .bind(revision)
                    .execute(&mut *connection)
                    .await
                    .map_err(classify)?;
                unchanged_is_stale(changed.rows_affected())?;
                (revision as u64, stored_version(version)?)
            }
            // `check` refuses deleting what is absent.
            (Mutation::Delete, None) => return Err(Error::NotFound),
        };
        let event = ChangeEvent::new(
            &write.contract,
            version,
            &write.key,
            event_type,
            revision,
            write.event_data,
        );
        self.insert_event(&mut *connection, &event, &now).await?;
        let committed = Committed {
            revision,
            version,
            event_type,
        };
        if let Some(idempotency) = &write.idempotency {
            self.remember(
                connection,
                &write.contract,
                &write.key,
                idempotency,
                &committed,
            )
            .await?;
        }
        Ok(committed)
    }

    /// Journals a change event on a connection (inside the write's
    /// transaction, or on its own).
    pub async fn insert_event(
        &self,
        connection: &mut AnyConnection,
        event: &ChangeEvent,
        now: &str,
    ) -> Result<(), Error> {
        let document = serde_json::to_string(event).map_err(|e| Error::Fault(e.to_string()))?;
        sqlx::query(&self.journal.insert_event)
            .bind(&event.id)
            .bind(event.contract.as_str())
            .bind(&event.subject)
            .bind(event.revision as i64)
            .bind(document)
            .bind(now)
            .execute(connection)
            .await
            .map_err(|e| self.dialect.classify(e))?;
        Ok(())
    }
}

/// A conditional write that changed nothing: the revision it was
/// conditioned on is gone, which the row lock (or the single writer) should
/// prevent; reported as stale rather than written over.
fn unchanged_is_stale(rows: u64) -> Result<(), Error> {
    if rows == 1 {
        Ok(())
    } else {
        Err(Error::RevisionMismatch { current: None })
    }
}

fn stored_version(number: i64) -> Result<Version, Error> {
    u32::try_from(number)
        .map_err(|e| e.to_string())
        .and_then(Version::new)
        .map_err(|e| Error::Fault(format!("a stored version is not a version: {e}")))
}
