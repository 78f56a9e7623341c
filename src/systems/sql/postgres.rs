//! PostgreSQL: records as JSONB in a table per contract, the journal beside
//! them, optionally in a schema of their own.

use anyhow::Context;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::error::DatabaseError;
use sqlx::postgres::PgDatabaseError;
use sqlx::{Connection, Executor};

use super::dialect::Dialect;
use super::{writers, SqlOwner, ACQUIRE_TIMEOUT};
use crate::contract::is_sql_identifier;

/// PostgreSQL's dialect.
pub struct Postgres;

impl Dialect for Postgres {
    fn begin(&self) -> &'static str {
        // READ COMMITTED: the row lock below is what orders writers.
        "BEGIN"
    }

    fn lock_rows(&self) -> &'static str {
        " FOR UPDATE"
    }

    fn quote(&self, identifier: &str) -> String {
        format!("\"{identifier}\"")
    }

    fn param(&self, index: usize) -> String {
        format!("${index}")
    }

    fn json_param(&self, index: usize) -> String {
        format!("${index}::jsonb")
    }

    fn json_text(&self, column: &str) -> String {
        format!("{column}::text")
    }

    fn create_records_table(&self, table: &str) -> String {
        format!(
            "CREATE TABLE IF NOT EXISTS {table} (
                record_key TEXT PRIMARY KEY,
                version    BIGINT NOT NULL,
                revision   BIGINT NOT NULL,
                body       JSONB NOT NULL,
                updated_at TEXT NOT NULL
            )"
        )
    }

    fn tables(&self) -> &'static str {
        "SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema()"
    }

    fn is_key_conflict(&self, error: &dyn DatabaseError, key_column: &str) -> bool {
        // DETAIL: Key (column)=(value) already exists.
        error
            .try_downcast_ref::<PgDatabaseError>()
            .and_then(PgDatabaseError::detail)
            .is_some_and(|detail| detail.starts_with(&format!("Key ({key_column})=")))
    }

    fn is_temporary(&self, error: &dyn DatabaseError) -> bool {
        let code = error.code().unwrap_or_default();
        // Connection exceptions, insufficient resources, operator
        // intervention (shutdown, cannot connect now), serialization
        // failure, deadlock, lock not available.
        ["08", "53", "57"]
            .iter()
            .any(|class| code.starts_with(class))
            || matches!(code.as_ref(), "40001" | "40P01" | "55P03")
    }

    fn is_refusal(&self, error: &dyn DatabaseError) -> bool {
        let code = error.code().unwrap_or_default();
        // Integrity constraint violations, and a trigger's RAISE EXCEPTION.
        code.starts_with("23") || code == "P0001"
    }
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Connects a pool to `url`, in `schema` when given (created if missing),
/// and runs the migrations.
pub async fn open(url: &str, schema: Option<&str>, connections: u32) -> anyhow::Result<SqlOwner> {
    sqlx::any::install_default_drivers();
    if let Some(schema) = schema.filter(|schema| !is_sql_identifier(schema)) {
        anyhow::bail!("schema `{schema}` is not a plain SQL name: use letters, digits and `_`");
    }
    let options: AnyConnectOptions = url.parse().context("not a PostgreSQL URL")?;
    let search_path = schema.map(|schema| Postgres.quote(schema));
    if let Some(schema) = &search_path {
        let mut admin = sqlx::AnyConnection::connect_with(&options).await?;
        admin
            .execute(format!("CREATE SCHEMA IF NOT EXISTS {schema}").as_str())
            .await
            .with_context(|| format!("cannot create schema {schema}"))?;
    }
    let pool = AnyPoolOptions::new()
        .max_connections(connections)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .after_connect(move |connection, _| {
            let search_path = search_path.clone();
            Box::pin(async move {
                if let Some(schema) = search_path {
                    connection
                        .execute(format!("SET search_path TO {schema}").as_str())
                        .await?;
                }
                Ok(())
            })
        })
        .connect_with(options)
        .await
        .context("cannot connect to PostgreSQL")?;
    MIGRATOR
        .run(&pool)
        .await
        .context("cannot migrate the PostgreSQL database")?;
    Ok(SqlOwner::new(
        &Postgres,
        pool.clone(),
        pool,
        writers(connections),
    ))
}
