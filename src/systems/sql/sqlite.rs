//! SQLite: the embedded default, one database file.

use std::path::Path;

use anyhow::Context;
use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::error::DatabaseError;
use sqlx::Executor;

use super::dialect::Dialect;
use super::SqlOwner;

/// SQLite's dialect.
pub struct Sqlite;

impl Dialect for Sqlite {
    fn begin(&self) -> &'static str {
        // IMMEDIATE takes the write lock up front: the transaction's first
        // read is already one no other writer can change before it commits.
        "BEGIN IMMEDIATE"
    }

    fn lock_rows(&self) -> &'static str {
        ""
    }

    fn quote(&self, identifier: &str) -> String {
        // Not "…": SQLite reads a double-quoted name that matches no column
        // as a string literal, so a missing column would go unnoticed.
        format!("`{identifier}`")
    }

    fn param(&self, _index: usize) -> String {
        "?".to_owned()
    }

    fn create_records_table(&self, table: &str) -> String {
        // On one line: SQLite keeps the text in its schema table, which it
        // scans whole after each CREATE and each reader parses.
        format!(
            "CREATE TABLE IF NOT EXISTS {table} (record_key TEXT PRIMARY KEY NOT NULL, \
             version INTEGER NOT NULL, revision INTEGER NOT NULL, body TEXT NOT NULL, \
             updated_at TEXT NOT NULL)"
        )
    }

    fn tables(&self) -> &'static str {
        "SELECT name FROM sqlite_schema WHERE type = 'table'"
    }

    fn is_key_conflict(&self, error: &dyn DatabaseError, key_column: &str) -> bool {
        // "UNIQUE constraint failed: table.column"
        error.message().ends_with(&format!(".{key_column}"))
    }

    fn is_temporary(&self, error: &dyn DatabaseError) -> bool {
        // SQLITE_BUSY, SQLITE_LOCKED, SQLITE_IOERR, SQLITE_CANTOPEN, with
        // any extended code (sqlx reports extended codes; the low byte is
        // the primary one).
        matches!(primary_code(error), Some(5 | 6 | 10 | 14))
    }

    fn is_refusal(&self, error: &dyn DatabaseError) -> bool {
        // SQLITE_CONSTRAINT with any extended code, a trigger's RAISE too.
        primary_code(error) == Some(19)
    }
}

fn primary_code(error: &dyn DatabaseError) -> Option<i64> {
    error
        .code()
        .and_then(|code| code.parse::<i64>().ok())
        .map(|code| code & 0xff)
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// What sqlx's SQLite URL parser would otherwise read as syntax.
const PATH: &AsciiSet = &CONTROLS.add(b'%').add(b'?').add(b'#');

/// Opens (creating if missing) an SQLite file and runs the migrations.
pub async fn open(path: &Path) -> anyhow::Result<SqlOwner> {
    sqlx::any::install_default_drivers();
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let file = path
        .to_str()
        .with_context(|| format!("{} is not a UTF-8 path", path.display()))?;
    let url = |mode: &str| -> anyhow::Result<AnyConnectOptions> {
        let url = format!("sqlite://{}?mode={mode}", utf8_percent_encode(file, PATH));
        Ok(url.parse()?)
    };
    // SQLite has one writer: one connection writes, a pool reads.
    let writer = AnyPoolOptions::new()
        .max_connections(1)
        .after_connect(|connection, _| {
            Box::pin(async move {
                // WAL lets readers work beside the writer; FULL makes a
                // commit acknowledged to a client survive power loss. A
                // batch's multi-row statements keep statement journals and
                // `IN` lists in temporary storage: memory, not a file
                // created and unlinked per batch.
                connection
                    .execute(
                        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;
                         PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON;
                         PRAGMA temp_store = MEMORY;",
                    )
                    .await?;
                Ok(())
            })
        })
        .connect_with(url("rwc")?)
        .await
        .with_context(|| format!("cannot open SQLite database {}", path.display()))?;
    MIGRATOR
        .run(&writer)
        .await
        .with_context(|| format!("cannot migrate SQLite database {}", path.display()))?;
    let readers = AnyPoolOptions::new()
        .max_connections(4)
        .after_connect(|connection, _| {
            Box::pin(async move {
                connection.execute("PRAGMA busy_timeout = 5000;").await?;
                Ok(())
            })
        })
        .connect_with(url("ro")?)
        .await?;
    Ok(SqlOwner::new(&Sqlite, writer, readers, 1))
}
