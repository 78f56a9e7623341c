//! The one write procedure of every SQL owner: the revision check is part
//! of the write itself, so it holds with any number of concurrent writers,
//! not only under SQLite's single one. It is the same for both table
//! layouts: what differs is which columns carry the payload.

use serde_json::Value;
use sqlx::any::{AnyArguments, AnyRow, AnyTypeInfoKind};
use sqlx::query::Query;
use sqlx::{Any, AnyConnection, AnyPool, Column, Row};

use super::dialect::{Dialect, Text};
use super::journal::insert_events;
use super::ledger::Entry;
use super::together::SetStatements;
use super::Procedure;
use crate::contract::{Contract, JsonPointer, Layout, RecordKey, ValidatedRecord, Version};
use crate::events::{now_rfc3339, ChangeEvent};
use crate::systems::{Committed, Error, Mutation, StoredRecord, Write};

/// A contract's statements in its owner, built once when it is prepared.
pub struct RecordStatements {
    payload: Payload,
    /// The key's column, unquoted, to tell its conflicts from others.
    key_column: String,
    /// The row's revision (and version), locked for the rest of the
    /// transaction where the engine needs a lock for that.
    select_for_write: String,
    /// Binds: key, revision, payload.
    insert: String,
    /// Binds: revision, payload, key, the revision read; zero rows changed
    /// means that revision is gone.
    update: String,
    /// Binds: key, the revision read.
    delete: String,
    /// Binds: key. Returns the revision, then the payload columns.
    read: String,
    /// Proves an existing table has every column named.
    probe: String,
    /// Writes of many rows at once, for tables in the default layout.
    pub set: Option<SetStatements>,
    /// A default-layout table's DDL, run on the contract's first write or
    /// read unless the table was found when the contract was prepared:
    /// creating every table at start made a start grow with the square of
    /// the contracts (each SQLite `CREATE` scans the whole schema table;
    /// 10,000 contracts took 10 s). An existing table is never created.
    create: Option<String>,
    /// Set once the table is known to be there.
    created: tokio::sync::OnceCell<()>,
}

/// What the payload columns hold.
enum Payload {
    /// `version`, `body` (JSON) and `updated_at`.
    Document,
    /// One column per field; rows hold this version. The key's column is
    /// read back into the body at `key`.
    Columns {
        version: Version,
        key: JsonPointer,
        fields: Vec<JsonPointer>,
        /// Each field column's type, once described: an absent field is a
        /// NULL of that type (PostgreSQL will not put a text NULL in an
        /// integer column).
        kinds: Vec<AnyTypeInfoKind>,
    },
}

/// A value bound to a statement.
pub(super) enum Param {
    Null(AnyTypeInfoKind),
    Bool(bool),
    Integer(i64),
    Float(f64),
    Text(String),
}

impl RecordStatements {
    /// The statements for a contract's table in a dialect.
    pub fn new(dialect: &dyn Dialect, contract: &Contract) -> Self {
        let q = |name: &str| dialect.quote(name);
        let table = q(&contract.table);
        // (column, bound as JSON) for every payload column.
        let key_column = match &contract.layout {
            Layout::Document => "record_key".to_owned(),
            Layout::Columns { key, .. } => key.clone(),
        };
        let (key, revision, payload, columns): (String, String, Payload, Vec<(String, bool)>) =
            match &contract.layout {
                Layout::Document => (
                    q("record_key"),
                    q("revision"),
                    Payload::Document,
                    vec![
                        (q("version"), false),
                        (q("body"), true),
                        (q("updated_at"), false),
                    ],
                ),
                Layout::Columns {
                    revision, fields, ..
                } => (
                    q(&key_column),
                    q(revision),
                    Payload::Columns {
                        version: contract.stored_version().version,
                        key: contract.key.clone(),
                        fields: fields.iter().map(|(_, pointer)| pointer.clone()).collect(),
                        kinds: Vec::new(),
                    },
                    fields
                        .iter()
                        .map(|(column, _)| (q(column), false))
                        .collect(),
                ),
            };
        let placeholder = |index: usize, json: bool| {
            if json {
                dialect.json_param(index)
            } else {
                dialect.param(index)
            }
        };
        let n = columns.len();
        let names: Vec<&str> = columns.iter().map(|(name, _)| name.as_str()).collect();
        let insert_values: Vec<String> = columns
            .iter()
            .enumerate()
            .map(|(i, (_, json))| placeholder(i + 3, *json))
            .collect();
        let assignments: Vec<String> = columns
            .iter()
            .enumerate()
            .map(|(i, (name, json))| format!("{name} = {}", placeholder(i + 2, *json)))
            .collect();
        let read_columns: Vec<String> = columns
            .iter()
            .map(|(name, json)| {
                if *json {
                    dialect.json_text(name)
                } else {
                    name.clone()
                }
            })
            .collect();
        // Document rows say their version; an existing table's hold the
        // stored one, and read back their key column into the body.
        let (version, read_key) = match payload {
            Payload::Document => (format!(", {}", q("version")), String::new()),
            Payload::Columns { .. } => (String::new(), format!("{key}, ")),
        };
        let p = |index| dialect.param(index);
        Self {
            select_for_write: format!(
                "SELECT {revision}{version} FROM {table} WHERE {key} = {}{}",
                p(1),
                dialect.lock_rows()
            ),
            insert: format!(
                "INSERT INTO {table} ({key}, {revision}, {}) VALUES ({}, {}, {})",
                names.join(", "),
                p(1),
                p(2),
                insert_values.join(", ")
            ),
            update: format!(
                "UPDATE {table} SET {revision} = {}, {} WHERE {key} = {} AND {revision} = {}",
                p(1),
                assignments.join(", "),
                p(n + 2),
                p(n + 3)
            ),
            delete: format!(
                "DELETE FROM {table} WHERE {key} = {} AND {revision} = {}",
                p(1),
                p(2)
            ),
            read: format!(
                "SELECT {revision}, {read_key}{} FROM {table} WHERE {key} = {}",
                read_columns.join(", "),
                p(1)
            ),
            probe: format!(
                "SELECT {key}, {revision}, {} FROM {table} WHERE 1 = 0",
                names.join(", ")
            ),
            set: matches!(payload, Payload::Document).then(|| SetStatements::new(dialect, &table)),
            create: matches!(payload, Payload::Document)
                .then(|| dialect.create_records_table(&table)),
            payload,
            key_column,
            created: tokio::sync::OnceCell::new(),
        }
    }

    /// Records that the table is there already.
    pub fn found(&self) {
        let _ = self.created.set(());
    }

    /// Creates the table unless it is known to be there: once, whoever
    /// asks first; the others wait for that one.
    pub async fn ensure_table(&self, dialect: &dyn Dialect, pool: &AnyPool) -> Result<(), Error> {
        let Some(create) = &self.create else {
            return Ok(());
        };
        self.created
            .get_or_try_init(|| async {
                let run = || sqlx::query(create).execute(pool);
                // Two gateways sharing a PostgreSQL database may create it
                // at the same moment: the loser's `IF NOT EXISTS` fails on
                // the catalog's unique index, and once more finds it there.
                let outcome = match run().await {
                    Err(sqlx::Error::Database(e)) if e.is_unique_violation() => run().await,
                    other => other,
                };
                outcome.map(drop).map_err(|e| dialect.classify(e))
            })
            .await
            .map(drop)
    }

    /// Checks the table has every column the statements name, and learns
    /// the field columns' types.
    pub async fn describe(&mut self, dialect: &dyn Dialect, pool: &AnyPool) -> Result<(), Error> {
        let Payload::Columns { kinds, .. } = &mut self.payload else {
            // The document table was created by the gateway itself.
            return Ok(());
        };
        let described =
            sqlx::Executor::describe(pool, &self.probe)
                .await
                .map_err(|e| match dialect.classify(e) {
                    Error::Unavailable(why) => Error::Unavailable(why),
                    other => Error::Fault(format!(
                        "the table does not hold the contract's columns: {other}"
                    )),
                })?;
        // Key and revision come first in the probe.
        *kinds = described
            .columns()
            .iter()
            .skip(2)
            .map(|column| column.type_info().kind())
            .collect();
        Ok(())
    }

    /// The record under `key`, outside any write transaction.
    pub async fn read(
        &self,
        dialect: &dyn Dialect,
        pool: &AnyPool,
        key: &RecordKey,
    ) -> Result<Option<StoredRecord>, Error> {
        let row = sqlx::query(&self.read)
            .bind(key.as_str())
            .fetch_optional(pool)
            .await
            .map_err(|e| dialect.classify(e))?;
        row.map(|row| self.decode(&row)).transpose()
    }

    /// A row of the read statement as a stored record.
    fn decode(&self, row: &AnyRow) -> Result<StoredRecord, Error> {
        let fault = |e: sqlx::Error| Error::Fault(format!("a stored row cannot be read: {e}"));
        let revision: i64 = row.try_get(0).map_err(fault)?;
        let (version, body) = match &self.payload {
            Payload::Document => {
                let version: i64 = row.try_get(1).map_err(fault)?;
                let Text(body) = row.try_get(2).map_err(fault)?;
                let body = serde_json::from_str(&body)
                    .map_err(|e| Error::Fault(format!("a stored body is not JSON: {e}")))?;
                (stored_version(version)?, body)
            }
            Payload::Columns {
                version,
                key,
                fields,
                ..
            } => {
                let mut body = Value::Object(Default::default());
                for (index, pointer) in std::iter::once(key).chain(fields).enumerate() {
                    // NULL is an absent field.
                    if let Some(value) = column_value(row, index + 1).map_err(fault)? {
                        pointer.set(&mut body, value);
                    }
                }
                (*version, body)
            }
        };
        Ok(StoredRecord {
            version,
            revision: revision as u64,
            body,
        })
    }

    /// The payload columns' values for a record, in statement order.
    pub(super) fn payload(&self, record: &ValidatedRecord, now: &str) -> Vec<Param> {
        match &self.payload {
            Payload::Document => vec![
                Param::Integer(i64::from(record.version().number())),
                Param::Text(record.text().to_owned()),
                Param::Text(now.to_owned()),
            ],
            Payload::Columns { fields, kinds, .. } => fields
                .iter()
                .enumerate()
                .map(|(index, pointer)| {
                    let kind = kinds.get(index).copied().unwrap_or(AnyTypeInfoKind::Text);
                    Param::new(pointer.get(record.body()), kind)
                })
                .collect(),
        }
    }

    /// The current revision and the stored version from the locked row.
    fn current(&self, row: &AnyRow) -> Result<(i64, Version), Error> {
        let fault = |e: sqlx::Error| Error::Fault(format!("a stored row cannot be read: {e}"));
        let revision: i64 = row.try_get(0).map_err(fault)?;
        let version = match &self.payload {
            Payload::Document => stored_version(row.try_get(1).map_err(fault)?)?,
            Payload::Columns { version, .. } => *version,
        };
        Ok((revision, version))
    }
}

impl Param {
    /// A field's value for a column of `kind`.
    fn new(value: Option<&Value>, kind: AnyTypeInfoKind) -> Self {
        match value {
            None | Some(Value::Null) => Param::Null(kind),
            Some(Value::Bool(b)) => Param::Bool(*b),
            Some(Value::Number(n)) => match n.as_i64() {
                Some(i) => Param::Integer(i),
                None => Param::Float(n.as_f64().unwrap_or_default()),
            },
            Some(Value::String(s)) => Param::Text(s.clone()),
            // Nested values go to a column as their JSON text.
            Some(other) => Param::Text(other.to_string()),
        }
    }
}

/// Binds values in order.
pub(super) fn bind<'q>(
    mut query: Query<'q, Any, AnyArguments<'q>>,
    params: Vec<Param>,
) -> Query<'q, Any, AnyArguments<'q>> {
    for param in params {
        query = match param {
            Param::Null(kind) => match kind {
                AnyTypeInfoKind::Bool => query.bind(None::<bool>),
                AnyTypeInfoKind::SmallInt | AnyTypeInfoKind::Integer | AnyTypeInfoKind::BigInt => {
                    query.bind(None::<i64>)
                }
                AnyTypeInfoKind::Real | AnyTypeInfoKind::Double => query.bind(None::<f64>),
                _ => query.bind(None::<String>),
            },
            Param::Bool(b) => query.bind(b),
            Param::Integer(i) => query.bind(i),
            Param::Float(f) => query.bind(f),
            Param::Text(s) => query.bind(s),
        };
    }
    query
}

/// A typed column as JSON: what an existing table's typed columns hold.
fn column_value(row: &AnyRow, index: usize) -> Result<Option<Value>, sqlx::Error> {
    let kind = row.columns()[index].type_info().kind();
    let raw = row.try_get_raw(index)?;
    if sqlx::ValueRef::is_null(&raw) {
        return Ok(None);
    }
    Ok(Some(match kind {
        AnyTypeInfoKind::Bool => Value::Bool(row.try_get(index)?),
        AnyTypeInfoKind::SmallInt | AnyTypeInfoKind::Integer | AnyTypeInfoKind::BigInt => {
            Value::from(row.try_get::<i64, _>(index)?)
        }
        AnyTypeInfoKind::Real | AnyTypeInfoKind::Double => {
            Value::from(row.try_get::<f64, _>(index)?)
        }
        _ => Value::String(row.try_get::<Text, _>(index)?.0),
    }))
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
        let row = sqlx::query(&sql.select_for_write)
            .bind(key)
            .fetch_optional(&mut *connection)
            .await
            .map_err(classify)?;
        let current = row.map(|row| sql.current(&row)).transpose()?;
        write.check(current.map(|(revision, _)| revision as u64))?;
        let event_type = write.event_type(current.is_some());
        let now = now_rfc3339();
        let (revision, version) = match (&write.mutation, current) {
            (Mutation::Put(record), None) => {
                let query = sqlx::query(&sql.insert).bind(key).bind(1_i64);
                bind(query, sql.payload(record, &now))
                    .execute(&mut *connection)
                    .await
                    .map_err(|error| match &error {
                        // Another writer created the key since the SELECT;
                        // another unique column of an existing table is the
                        // owner refusing the write.
                        sqlx::Error::Database(db)
                            if db.is_unique_violation()
                                && self.dialect.is_key_conflict(db.as_ref(), &sql.key_column) =>
                        {
                            Error::Exists
                        }
                        _ => classify(error),
                    })?;
                (1, record.version())
            }
            (Mutation::Put(record), Some((revision, _))) => {
                let query = sqlx::query(&sql.update).bind(revision + 1);
                let changed = bind(query, sql.payload(record, &now))
                    .bind(key)
                    .bind(revision)
                    .execute(&mut *connection)
                    .await
                    .map_err(classify)?;
                unchanged_is_stale(changed.rows_affected())?;
                (revision as u64 + 1, record.version())
            }
            (Mutation::Delete, Some((revision, version))) => {
                let changed = sqlx::query(&sql.delete)
                    .bind(key)
                    .bind(revision)
                    .execute(&mut *connection)
                    .await
                    .map_err(classify)?;
                unchanged_is_stale(changed.rows_affected())?;
                (revision as u64, version)
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
            &now,
            write.event_data,
        );
        self.insert_events(&mut *connection, std::slice::from_ref(&event), &now)
            .await?;
        let committed = Committed {
            revision,
            version,
            event_type,
        };
        if let Some(idempotency) = &write.idempotency {
            let entry = Entry {
                contract: &write.contract,
                record_key: &write.key,
                idempotency,
                committed: &committed,
            };
            self.remember(connection, &[entry]).await?;
        }
        Ok(committed)
    }

    /// Journals change events on a connection (inside their writes'
    /// transaction, or on their own).
    pub async fn insert_events(
        &self,
        connection: &mut AnyConnection,
        events: &[ChangeEvent],
        now: &str,
    ) -> Result<(), Error> {
        if events.is_empty() {
            return Ok(());
        }
        let mut params = Vec::with_capacity(events.len() * 6);
        for event in events {
            let document = serde_json::to_string(event).map_err(|e| Error::Fault(e.to_string()))?;
            params.extend([
                Param::Text(event.id.clone()),
                Param::Text(event.contract.to_string()),
                Param::Text(event.subject.clone()),
                Param::Integer(event.revision as i64),
                Param::Text(document),
                Param::Text(now.to_owned()),
            ]);
        }
        let insert = insert_events(self.dialect, events.len());
        bind(sqlx::query(&insert), params)
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

pub(super) fn stored_version(number: i64) -> Result<Version, Error> {
    u32::try_from(number)
        .map_err(|e| e.to_string())
        .and_then(Version::new)
        .map_err(|e| Error::Fault(format!("a stored version is not a version: {e}")))
}
