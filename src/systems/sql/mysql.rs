//! MySQL and MariaDB: records in an InnoDB table per contract, the journal
//! beside them.

use anyhow::Context;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::error::DatabaseError;
use sqlx::mysql::MySqlDatabaseError;
use sqlx::Executor;

use super::dialect::Dialect;
use super::{writers, SqlOwner, ACQUIRE_TIMEOUT};

/// MySQL's (and MariaDB's) dialect.
pub struct Mysql;

impl Dialect for Mysql {
    fn begin(&self) -> &'static str {
        "BEGIN"
    }

    fn lock_rows(&self) -> &'static str {
        " FOR UPDATE"
    }

    fn quote(&self, identifier: &str) -> String {
        format!("`{identifier}`")
    }

    fn param(&self, _index: usize) -> String {
        "?".to_owned()
    }

    fn on_key_update(&self, _key: &str, columns: &[&str]) -> String {
        // MariaDB has no `excluded`; `VALUES(column)` is the row proposed.
        let assignments: Vec<String> = columns
            .iter()
            .map(|column| format!("{column} = VALUES({column})"))
            .collect();
        format!(" ON DUPLICATE KEY UPDATE {}", assignments.join(", "))
    }

    fn create_records_table(&self, table: &str) -> String {
        format!(
            "CREATE TABLE IF NOT EXISTS {table} (
                record_key VARCHAR(512) NOT NULL PRIMARY KEY,
                version    BIGINT NOT NULL,
                revision   BIGINT NOT NULL,
                body       LONGTEXT NOT NULL,
                updated_at VARCHAR(64) NOT NULL
            ) ENGINE = InnoDB"
        )
    }

    fn tables(&self) -> &'static str {
        "SELECT CAST(table_name AS CHAR) FROM information_schema.tables WHERE table_schema = DATABASE()"
    }

    fn is_key_conflict(&self, error: &dyn DatabaseError, _key_column: &str) -> bool {
        // "Duplicate entry '…' for key 'PRIMARY'": MySQL names the index,
        // not the column, so the key column must be the primary key.
        error.message().ends_with("PRIMARY'")
    }

    fn is_temporary(&self, error: &dyn DatabaseError) -> bool {
        // Lock wait timeout, deadlock, too many connections, server
        // shutdown, connection killed or lost.
        matches!(
            number(error),
            Some(1205 | 1213 | 1040 | 1053 | 1927 | 2006 | 2013)
        )
    }

    fn is_refusal(&self, error: &dyn DatabaseError) -> bool {
        // Duplicate key, NOT NULL, foreign key, CHECK (MySQL 3819, MariaDB
        // 4025), a trigger's SIGNAL, data too long, incorrect value.
        matches!(
            number(error),
            Some(1062 | 1048 | 1451 | 1452 | 3819 | 4025 | 1644 | 1406 | 1366 | 1264)
        )
    }
}

fn number(error: &dyn DatabaseError) -> Option<u16> {
    error
        .try_downcast_ref::<MySqlDatabaseError>()
        .map(MySqlDatabaseError::number)
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/mysql");

/// Connects a pool to `url` and runs the migrations.
pub async fn open(url: &str, connections: u32) -> anyhow::Result<SqlOwner> {
    sqlx::any::install_default_drivers();
    let options: AnyConnectOptions = url.parse().context("not a MySQL URL")?;
    let pool = AnyPoolOptions::new()
        .max_connections(connections)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .after_connect(|connection, _| {
            Box::pin(async move {
                // READ COMMITTED: InnoDB then takes no gap locks, so two
                // creates of absent keys do not deadlock on each other.
                connection
                    .execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
                    .await?;
                Ok(())
            })
        })
        .connect_with(options)
        .await
        .context("cannot connect to MySQL")?;
    MIGRATOR
        .run(&pool)
        .await
        .context("cannot migrate the MySQL database")?;
    Ok(SqlOwner::new(
        &Mysql,
        pool.clone(),
        pool,
        writers(connections),
    ))
}
