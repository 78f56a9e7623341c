//! The SQLite owner: the embedded default, one database file.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Row, SqliteConnection};
use tokio::sync::{mpsc, oneshot};

use super::{Change, Committed, Error, Owner, StoredRecord, Write};
use crate::contract::{RecordKey, Version};
use crate::events::{now_rfc3339, ChangeEvent};

/// An SQLite database holding records and the outbox.
///
/// Writes are group-committed: SQLite has one writer anyway, so one task owns
/// the write connection and commits every write queued while the previous
/// transaction was syncing in one transaction, one fsync for all. Each write
/// runs in its own savepoint, so one that fails leaves the others, and each
/// caller hears back only after the transaction commits. Reads use a pool.
pub struct SqliteOwner {
    writer: SqlitePool,
    queue: mpsc::Sender<Pending>,
    readers: SqlitePool,
}

/// A write waiting for the writer task, with where its outcome goes.
struct Pending {
    write: Write,
    reply: Reply,
}

type Reply = oneshot::Sender<Result<Committed, Error>>;

/// Writes committed together at most; bounds a transaction's size and the
/// latency the first write in it waits for the last.
const BATCH_LIMIT: usize = 128;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

impl SqliteOwner {
    /// Opens (creating if missing) the file and runs the migrations.
    pub async fn open(path: &Path) -> anyhow::Result<Self> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        let options = SqliteConnectOptions::from_str("sqlite:")?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: a commit acknowledged to a client survives power loss.
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true);
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await
            .with_context(|| format!("cannot open SQLite database {}", path.display()))?;
        MIGRATOR
            .run(&writer)
            .await
            .with_context(|| format!("cannot migrate SQLite database {}", path.display()))?;
        let readers = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options.read_only(true))
            .await?;
        let (queue, pending) = mpsc::channel(BATCH_LIMIT * 4);
        tokio::spawn(write_batches(writer.clone(), pending));
        Ok(Self {
            writer,
            queue,
            readers,
        })
    }
}

#[async_trait]
impl Owner for SqliteOwner {
    async fn prepare(&self, tables: &[String]) -> Result<(), Error> {
        for table in tables {
            // Table names are checked SQL identifiers (contract registry).
            let ddl = format!(
                r#"CREATE TABLE IF NOT EXISTS "{table}" (
                    record_key TEXT PRIMARY KEY NOT NULL,
                    version    INTEGER NOT NULL,
                    revision   INTEGER NOT NULL,
                    body       TEXT NOT NULL,
                    updated_at TEXT NOT NULL
                )"#
            );
            sqlx::query(&ddl)
                .execute(&self.writer)
                .await
                .map_err(classify)?;
        }
        Ok(())
    }

    async fn commit(&self, write: Write) -> Result<Committed, Error> {
        let (reply, outcome) = oneshot::channel();
        let stopped = || Error::Unavailable("the SQLite writer has stopped".to_owned());
        self.queue
            .send(Pending { write, reply })
            .await
            .map_err(|_| stopped())?;
        outcome.await.map_err(|_| stopped())?
    }

    async fn read(&self, table: &str, key: &RecordKey) -> Result<Option<StoredRecord>, Error> {
        let row = sqlx::query(&format!(
            r#"SELECT version, revision, body FROM "{table}" WHERE record_key = ?"#
        ))
        .bind(key.as_str())
        .fetch_optional(&self.readers)
        .await
        .map_err(classify)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let version: i64 = row.try_get("version").map_err(classify)?;
        let revision: i64 = row.try_get("revision").map_err(classify)?;
        let body: String = row.try_get("body").map_err(classify)?;
        Ok(Some(StoredRecord {
            version: Version::new(version as u32).map_err(Error::Refused)?,
            revision: revision as u64,
            body: serde_json::from_str(&body)
                .map_err(|e| Error::Refused(format!("stored body is not JSON: {e}")))?,
        }))
    }

    async fn health(&self) -> Result<(), Error> {
        sqlx::query("SELECT 1")
            .execute(&self.readers)
            .await
            .map_err(classify)?;
        Ok(())
    }
}

/// Busy, locked and I/O conditions may pass; anything else will not.
fn classify(error: sqlx::Error) -> Error {
    match &error {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
            Error::Unavailable(error.to_string())
        }
        sqlx::Error::Database(db)
            if matches!(db.code().as_deref(), Some("5" | "6" | "10" | "14")) =>
        {
            // SQLITE_BUSY, SQLITE_LOCKED, SQLITE_IOERR, SQLITE_CANTOPEN
            Error::Unavailable(error.to_string())
        }
        _ => Error::Refused(error.to_string()),
    }
}

/// The writer task: takes every write queued so far and commits them in one
/// transaction. Ends when the owner is dropped.
async fn write_batches(pool: SqlitePool, mut pending: mpsc::Receiver<Pending>) {
    while let Some(first) = pending.recv().await {
        let mut batch = vec![first];
        while batch.len() < BATCH_LIMIT {
            match pending.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        commit_batch(&pool, batch).await;
    }
}

async fn commit_batch(pool: &SqlitePool, batch: Vec<Pending>) {
    let mut tx = match pool.begin_with("BEGIN IMMEDIATE").await {
        Ok(tx) => tx,
        Err(error) => {
            let replies = batch.into_iter().map(|p| p.reply).collect();
            return fail_all(replies, classify(error));
        }
    };
    // A caller that gave up while the write lock was awaited (timed out,
    // disconnected) is not written for: it never hears of this commit.
    let (writes, replies): (Vec<Write>, Vec<Reply>) = batch
        .into_iter()
        .filter(|p| !p.reply.is_closed())
        .map(|p| (p.write, p.reply))
        .unzip();
    let mut outcomes = Vec::with_capacity(writes.len());
    for write in writes {
        outcomes.push(apply_in_savepoint(&mut tx, write).await);
    }
    match tx.commit().await {
        Ok(()) => {
            for (reply, outcome) in replies.into_iter().zip(outcomes) {
                let _ = reply.send(outcome);
            }
        }
        Err(error) => fail_all(replies, classify(error)),
    }
}

fn fail_all(replies: Vec<Reply>, error: Error) {
    for reply in replies {
        let _ = reply.send(Err(error.clone()));
    }
}

/// One write inside the batch's transaction, undone alone if it fails.
async fn apply_in_savepoint(
    connection: &mut SqliteConnection,
    write: Write,
) -> Result<Committed, Error> {
    sqlx::query("SAVEPOINT write")
        .execute(&mut *connection)
        .await
        .map_err(classify)?;
    let outcome = apply(connection, write).await;
    if outcome.is_err() {
        sqlx::query("ROLLBACK TO write")
            .execute(&mut *connection)
            .await
            .map_err(classify)?;
    }
    sqlx::query("RELEASE write")
        .execute(&mut *connection)
        .await
        .map_err(classify)?;
    outcome
}

/// The revision check, the record and its change event.
async fn apply(connection: &mut SqliteConnection, write: Write) -> Result<Committed, Error> {
    let table = &write.table;
    let current: Option<i64> = sqlx::query_scalar(&format!(
        r#"SELECT revision FROM "{table}" WHERE record_key = ?"#
    ))
    .bind(write.key.as_str())
    .fetch_optional(&mut *connection)
    .await
    .map_err(classify)?;
    let current = current.map(|r| r as u64);
    write.check(current)?;
    let kind = write.change_kind(current.is_some());
    let now = now_rfc3339();
    let (revision, version) = match &write.change {
        Change::Put(record) => {
            let revision = current.unwrap_or(0) + 1;
            sqlx::query(&format!(
                    r#"INSERT INTO "{table}" (record_key, version, revision, body, updated_at) VALUES (?, ?, ?, ?, ?)
                       ON CONFLICT (record_key) DO UPDATE SET version = excluded.version,
                       revision = excluded.revision, body = excluded.body, updated_at = excluded.updated_at"#
                ))
                .bind(write.key.as_str())
                .bind(record.version().number())
                .bind(revision as i64)
                .bind(record.body().to_string())
                .bind(&now)
                .execute(&mut *connection)
                .await
                .map_err(classify)?;
            (revision, record.version())
        }
        Change::Delete => {
            let version: i64 = sqlx::query_scalar(&format!(
                r#"DELETE FROM "{table}" WHERE record_key = ? RETURNING version"#
            ))
            .bind(write.key.as_str())
            .fetch_one(&mut *connection)
            .await
            .map_err(classify)?;
            (
                current.unwrap_or(0),
                Version::new(version as u32).map_err(Error::Refused)?,
            )
        }
    };
    let event = ChangeEvent::new(
        &write.contract,
        version,
        &write.key,
        kind,
        revision,
        write.event_data,
    );
    let document = serde_json::to_string(&event).map_err(|e| Error::Refused(e.to_string()))?;
    sqlx::query(
            "INSERT INTO contractgate_outbox (id, contract, record_key, revision, event, created_at) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(&event.id)
        .bind(write.contract.as_str())
        .bind(write.key.as_str())
        .bind(revision as i64)
        .bind(document)
        .bind(&now)
        .execute(&mut *connection)
        .await
        .map_err(classify)?;
    Ok(Committed { revision, kind })
}
