//! A batch written set-wise: one statement per table and kind of change for
//! the whole batch, instead of five round trips per write. The writes'
//! rows are read and locked with one `SELECT … IN`, every precondition is
//! checked against them in memory (a stale `If-Match` or a create of an
//! existing key fails alone without touching the database), and the rest
//! go in as multi-row `INSERT`s (creates), `INSERT … ON CONFLICT`s
//! (replacements of the locked rows), `DELETE … IN`s, one `INSERT` of all
//! their change events and one of their ledger entries.
//!
//! A statement the owner refuses (a trigger, a constraint, a key another
//! instance created meanwhile, an idempotency key taken) cannot tell which
//! write it refused: the batch then rolls back to the savepoint taken
//! as its transaction began and is written again one write at a time, each
//! in its own savepoint, so the refused write fails alone.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use sqlx::{AnyConnection, Row};

use super::dialect::{Dialect, Text};
use super::ledger::Entry;
use super::procedure::{bind, stored_version, Param, RecordStatements};
use super::Procedure;
use crate::contract::{ContractName, Version};
use crate::events::{now_rfc3339, ChangeEvent};
use crate::systems::{Committed, Error, Mutation, Write};

/// Taken as a batch's transaction begins (in the same round trip): a
/// statement the owner refuses rolls the batch back to it, to be written
/// one write at a time.
pub const TAKE_SAVEPOINT: &str = "SAVEPOINT contractgate_batch";
const ROLLBACK_TO_SAVEPOINT: &str = "ROLLBACK TO SAVEPOINT contractgate_batch";

/// The set-wise statements of a table in the default layout, spelled for a
/// number of rows when used.
pub struct SetStatements {
    /// Up to the key list: key, revision and version of the rows listed.
    select: String,
    lock: &'static str,
    /// Up to the rows: key, revision, version, body, updated time.
    insert: String,
    /// Makes `insert` overwrite rows that are there (and locked).
    overwrite: String,
    /// Up to the key list.
    delete: String,
}

/// Which of `insert`'s columns are bound as JSON.
const INSERTED: [bool; 5] = [false, false, false, true, false];

impl SetStatements {
    /// The statements for `table` (quoted already).
    pub fn new(dialect: &dyn Dialect, table: &str) -> Self {
        let q = |name: &str| dialect.quote(name);
        let (key, revision, version, body, updated) = (
            q("record_key"),
            q("revision"),
            q("version"),
            q("body"),
            q("updated_at"),
        );
        Self {
            select: format!("SELECT {key}, {revision}, {version} FROM {table} WHERE {key} IN "),
            lock: dialect.lock_rows(),
            insert: format!(
                "INSERT INTO {table} ({key}, {revision}, {version}, {body}, {updated}) VALUES "
            ),
            overwrite: dialect.on_key_update(&key, &[&revision, &version, &body, &updated]),
            delete: format!("DELETE FROM {table} WHERE {key} IN "),
        }
    }

    fn select(&self, dialect: &dyn Dialect, keys: usize) -> String {
        format!("{}({}){}", self.select, dialect.params(1, keys), self.lock)
    }

    fn insert(&self, dialect: &dyn Dialect, rows: usize, overwrite: bool) -> String {
        let overwrite = if overwrite {
            self.overwrite.as_str()
        } else {
            ""
        };
        format!(
            "{}{}{overwrite}",
            self.insert,
            dialect.rows(rows, &INSERTED)
        )
    }

    fn delete(&self, dialect: &dyn Dialect, keys: usize) -> String {
        format!("{}({})", self.delete, dialect.params(1, keys))
    }
}

/// Rows for one multi-row `INSERT`, each row's values in `INSERTED` order.
#[derive(Default)]
struct Rows {
    count: usize,
    params: Vec<Param>,
}

/// One contract's share of the batch.
struct Table {
    statements: Arc<RecordStatements>,
    /// The batch index of each of its writes.
    writes: Vec<usize>,
    created: Rows,
    replaced: Rows,
    /// The batch index of each deletion.
    deleted: Vec<usize>,
}

/// A table's set statements; `tables_of` takes only tables that have them.
fn set_of(statements: &RecordStatements) -> Result<&SetStatements, Error> {
    statements
        .set
        .as_ref()
        .ok_or_else(|| Error::Fault("a table without set statements".to_owned()))
}

impl Procedure {
    /// Applies a batch set-wise inside its transaction: each write's
    /// outcome, or `None` when it must be written one write at a time
    /// instead (a single write, a key written twice, a table in the columns
    /// layout, or a statement the owner refused, rolled back already). The
    /// outer `Err` aborts the batch.
    pub async fn apply_together(
        &self,
        connection: &mut AnyConnection,
        writes: &mut [Write],
    ) -> Result<Option<Vec<Result<Committed, Error>>>, Error> {
        let Some(mut tables) = self.tables_of(writes)? else {
            return Ok(None);
        };
        let found = self.lock_rows(connection, &tables, writes).await?;
        let now = now_rfc3339();
        let mut outcomes = Vec::with_capacity(writes.len());
        let mut events = Vec::with_capacity(writes.len());
        // The batch index of each event's write, to hand its data back.
        let mut evented = Vec::with_capacity(writes.len());
        for (index, (write, found)) in writes.iter_mut().zip(found).enumerate() {
            if let Err(refused) = write.check(found.map(|(revision, _)| revision as u64)) {
                outcomes.push(Err(refused));
                continue;
            }
            let Some(table) = tables.get_mut(&write.contract) else {
                return Err(Error::Fault("a write without its table".to_owned()));
            };
            let (revision, version) = match (&write.mutation, found) {
                (Mutation::Put(record), found) => {
                    let (rows, revision) = match found {
                        None => (&mut table.created, 1),
                        Some((revision, _)) => (&mut table.replaced, revision as u64 + 1),
                    };
                    rows.count += 1;
                    rows.params.push(Param::Text(write.key.to_string()));
                    rows.params.push(Param::Integer(revision as i64));
                    rows.params.extend(table.statements.payload(record, &now));
                    (revision, record.version())
                }
                (Mutation::Delete, Some((revision, version))) => {
                    table.deleted.push(index);
                    (revision as u64, version)
                }
                // `check` refuses deleting what is absent already.
                (Mutation::Delete, None) => {
                    outcomes.push(Err(Error::NotFound));
                    continue;
                }
            };
            let event_type = write.event_type(found.is_some());
            events.push(ChangeEvent::new(
                &write.contract,
                version,
                &write.key,
                event_type,
                revision,
                &now,
                write.event_data.take(),
            ));
            evented.push(index);
            outcomes.push(Ok(Committed {
                revision,
                version,
                event_type,
            }));
        }
        let written = self
            .write_changes(connection, tables, writes, &outcomes, &events, &now)
            .await;
        // The data goes back to the writes whatever happened: written again
        // one by one, they build their events anew.
        for (event, index) in events.into_iter().zip(evented) {
            writes[index].event_data = event.data;
        }
        match written {
            Ok(()) => Ok(Some(outcomes)),
            Err(refused) if refused.is_domain() => {
                sqlx::query(ROLLBACK_TO_SAVEPOINT)
                    .execute(&mut *connection)
                    .await
                    .map_err(|e| self.dialect.classify(e))?;
                Ok(None)
            }
            Err(error) => Err(error),
        }
    }

    /// The batch's writes by contract, if it can be written set-wise.
    fn tables_of(&self, writes: &[Write]) -> Result<Option<HashMap<ContractName, Table>>, Error> {
        if writes.len() < 2 {
            return Ok(None);
        }
        let mut keys = HashSet::with_capacity(writes.len());
        let mut tables: HashMap<ContractName, Table> = HashMap::new();
        for (index, write) in writes.iter().enumerate() {
            if !keys.insert((&write.contract, write.key.as_str())) {
                return Ok(None);
            }
            if let Some(table) = tables.get_mut(&write.contract) {
                table.writes.push(index);
                continue;
            }
            let statements = self.statements(&write.contract)?;
            if statements.set.is_none() {
                return Ok(None);
            }
            tables.insert(
                write.contract.clone(),
                Table {
                    statements,
                    writes: vec![index],
                    created: Rows::default(),
                    replaced: Rows::default(),
                    deleted: Vec::new(),
                },
            );
        }
        Ok(Some(tables))
    }

    /// Reads and locks the rows the batch writes: each write's current
    /// revision and stored version, in batch order (none: absent).
    async fn lock_rows(
        &self,
        connection: &mut AnyConnection,
        tables: &HashMap<ContractName, Table>,
        writes: &[Write],
    ) -> Result<Vec<Option<(i64, Version)>>, Error> {
        let classify = |e| self.dialect.classify(e);
        let mut found = vec![None; writes.len()];
        for table in tables.values() {
            let select = set_of(&table.statements)?.select(self.dialect, table.writes.len());
            let mut query = sqlx::query(&select);
            let mut index_of = HashMap::with_capacity(table.writes.len());
            for index in &table.writes {
                let key = writes[*index].key.as_str();
                query = query.bind(key);
                index_of.insert(key, *index);
            }
            for row in query.fetch_all(&mut *connection).await.map_err(classify)? {
                let fault =
                    |e: sqlx::Error| Error::Fault(format!("a stored row cannot be read: {e}"));
                let Text(key) = row.try_get(0).map_err(fault)?;
                let revision: i64 = row.try_get(1).map_err(fault)?;
                let version = stored_version(row.try_get(2).map_err(fault)?)?;
                let index = index_of.get(key.as_str()).ok_or_else(|| {
                    Error::Fault(format!("a row of a key not asked for: `{key}`"))
                })?;
                found[*index] = Some((revision, version));
            }
        }
        Ok(found)
    }

    /// The batch's changes: its rows, its events and its ledger entries.
    async fn write_changes(
        &self,
        connection: &mut AnyConnection,
        tables: HashMap<ContractName, Table>,
        writes: &[Write],
        outcomes: &[Result<Committed, Error>],
        events: &[ChangeEvent],
        now: &str,
    ) -> Result<(), Error> {
        let classify = |e| self.dialect.classify(e);
        for table in tables.into_values() {
            let set = set_of(&table.statements)?;
            for (rows, overwrite) in [(table.created, false), (table.replaced, true)] {
                if rows.count > 0 {
                    let insert = set.insert(self.dialect, rows.count, overwrite);
                    bind(sqlx::query(&insert), rows.params)
                        .execute(&mut *connection)
                        .await
                        .map_err(classify)?;
                }
            }
            if !table.deleted.is_empty() {
                let delete = set.delete(self.dialect, table.deleted.len());
                let mut query = sqlx::query(&delete);
                for index in &table.deleted {
                    query = query.bind(writes[*index].key.as_str());
                }
                let done = query.execute(&mut *connection).await.map_err(classify)?;
                // The rows are locked: all of them are there to delete.
                if done.rows_affected() != table.deleted.len() as u64 {
                    return Err(Error::RevisionMismatch { current: None });
                }
            }
        }
        self.insert_events(connection, events, now).await?;
        let entries: Vec<Entry> = writes
            .iter()
            .zip(outcomes)
            .filter_map(|(write, outcome)| {
                Some(Entry {
                    contract: &write.contract,
                    record_key: &write.key,
                    idempotency: write.idempotency.as_ref()?,
                    committed: outcome.as_ref().ok()?,
                })
            })
            .collect();
        self.remember(connection, &entries).await
    }
}
