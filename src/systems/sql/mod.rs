//! SQL owners: one write procedure for every engine, spelled by a
//! [`Dialect`]. Records, change events and the idempotency ledger live in
//! the owner's database and are written in one transaction.
//!
//! # Group commit
//!
//! A writer task takes the writes queued while its previous transaction
//! was committing and commits them together: one transaction, one fsync for
//! all. SQLite has one writer task (it has one writer anyway); a server
//! owner has several, each with a connection of its own, and a write goes to
//! the task its contract and key hash to, so writes to one record keep
//! their order and two tasks never wait on each other's rows.
//!
//! A batch is written set-wise (`together.rs`): a handful of multi-row
//! statements whatever its size, so the cost of a write is no longer its
//! round trips. Where that cannot tell writes apart (a statement the owner
//! refused, a key written twice), the batch is written one write at a time,
//! each in its own savepoint. Either way a write refused on its own merits
//! (not found, exists, stale revision, a constraint) fails alone and the
//! batch goes on. Any other failure (busy, I/O, a failed rollback) aborts
//! the whole batch: every caller in it is told nothing was written. No
//! caller hears back before its transaction commits.

mod dialect;
mod journal;
mod ledger;
mod mysql;
mod postgres;
mod procedure;
mod rejections;
mod sqlite;
mod together;

use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use arc_swap::ArcSwap;
use async_trait::async_trait;
use prometheus_client::metrics::histogram::Histogram;
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool, Connection};
use tokio::sync::{mpsc, oneshot};

use super::{Capabilities, Committed, Error, Owner, StoredRecord, Write};
use crate::contract::{Contract, ContractName, RecordKey};
use dialect::Dialect;
use journal::JournalStatements;
use ledger::LedgerStatements;
use procedure::RecordStatements;

pub use mysql::open as open_mysql;
pub use postgres::open as open_postgres;
pub use sqlite::open as open_sqlite;

/// A database holding records and the gateway's journal.
pub struct SqlOwner {
    procedure: Arc<Procedure>,
    writer: AnyPool,
    readers: AnyPool,
    /// One queue per writer task.
    queues: Vec<mpsc::Sender<Pending>>,
    /// Names this owner when it holds the relay lease (several gateway
    /// instances may share one database).
    instance: String,
}

/// What the writer task and the handlers share: the dialect, the journal's
/// and the ledger's statements and each prepared contract's.
struct Procedure {
    dialect: &'static dyn Dialect,
    /// Begins a batch's transaction and takes the savepoint a set-wise
    /// batch falls back to (`together.rs`), in one round trip.
    begin_batch: String,
    journal: JournalStatements,
    ledger: LedgerStatements,
    tables: ArcSwap<HashMap<ContractName, Arc<RecordStatements>>>,
    /// How many writes each group commit held.
    batch_sizes: Histogram,
}

/// A write waiting for the writer task, with where its outcome goes.
struct Pending {
    write: Write,
    reply: Reply,
}

type Reply = oneshot::Sender<Result<Committed, Error>>;

/// How long a request waits for a pooled connection to a server owner: a
/// server that does not answer is reported unavailable (503) this soon
/// rather than when the request's own time runs out.
const ACQUIRE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// Writer tasks of a server owner with `connections` pooled connections:
/// one per 8, at most 4, so reads always find connections free. Few: a
/// batch costs its round trips whatever its size, so fewer writers make
/// larger batches and fewer round trips per write (16 connections: 8
/// writers committed ~4,400 writes/s in batches of 2.6, 2 writers ~6,100
/// in batches of 9, on the benchmark of the README).
fn writers(connections: u32) -> usize {
    (connections as usize / 8).clamp(1, 4)
}

/// Writes committed together at most; bounds a transaction's size and the
/// latency the first write in it waits for the last.
const BATCH_LIMIT: usize = 128;

impl SqlOwner {
    /// An owner over connected pools (already migrated); starts its
    /// writer tasks.
    fn new(
        dialect: &'static dyn Dialect,
        writer: AnyPool,
        readers: AnyPool,
        writers: usize,
    ) -> Self {
        // A writer keeps a connection only where others are left for the
        // journal's own writes (SQLite's one writer connection is shared).
        let keep = writer.options().get_max_connections() as usize > writers;
        let procedure = Arc::new(Procedure {
            dialect,
            begin_batch: format!("{}; {}", dialect.begin(), together::TAKE_SAVEPOINT),
            journal: JournalStatements::new(dialect),
            ledger: LedgerStatements::new(dialect),
            tables: ArcSwap::default(),
            batch_sizes: crate::metrics::commit_batch_sizes(),
        });
        let queues = (0..writers.max(1))
            .map(|_| {
                let (queue, pending) = mpsc::channel(BATCH_LIMIT * 4);
                tokio::spawn(write_batches(
                    procedure.clone(),
                    writer.clone(),
                    keep,
                    pending,
                ));
                queue
            })
            .collect();
        Self {
            procedure,
            writer,
            readers,
            queues,
            instance: uuid::Uuid::new_v4().to_string(),
        }
    }

    fn classify(&self, error: sqlx::Error) -> Error {
        self.procedure.dialect.classify(error)
    }

    /// A contract's statements, its table created first if it may be
    /// missing.
    async fn table(&self, contract: &ContractName) -> Result<Arc<RecordStatements>, Error> {
        let statements = self.procedure.statements(contract)?;
        statements
            .ensure_table(self.procedure.dialect, &self.writer)
            .await?;
        Ok(statements)
    }

    /// The histogram of this owner's group-commit batch sizes, for the
    /// gateway's metrics.
    pub fn batch_sizes(&self) -> Histogram {
        self.procedure.batch_sizes.clone()
    }
}

#[async_trait]
impl Owner for SqlOwner {
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            journal_in_transaction: true,
        }
    }

    async fn prepare(&self, contracts: &[Arc<Contract>]) -> Result<(), Error> {
        // The document tables there now; the others are created when first
        // used (`RecordStatements::ensure_table`).
        let dialect = self.procedure.dialect;
        let existing: HashSet<String> = sqlx::query_scalar(dialect.tables())
            .fetch_all(&self.readers)
            .await
            .map_err(|e| self.classify(e))?
            .into_iter()
            .collect();
        let mut prepared = Vec::with_capacity(contracts.len());
        for contract in contracts {
            let mut statements = RecordStatements::new(dialect, contract);
            if existing.contains(&contract.table) {
                statements.found();
            }
            statements
                .describe(dialect, &self.readers)
                .await
                .map_err(|error| match error {
                    Error::Fault(why) => {
                        Error::Fault(format!("contract `{}`: {why}", contract.name))
                    }
                    other => other,
                })?;
            prepared.push((contract.name.clone(), Arc::new(statements)));
        }
        self.procedure.tables.rcu(|tables| {
            let mut tables = HashMap::clone(tables);
            tables.extend(prepared.iter().cloned());
            tables
        });
        Ok(())
    }

    async fn commit(&self, write: Write) -> Result<Committed, Error> {
        self.table(&write.contract).await?;
        let (reply, outcome) = oneshot::channel();
        let stopped = || Error::Unavailable("the owner's writer has stopped".to_owned());
        let mut hasher = std::hash::DefaultHasher::new();
        (&write.contract, &write.key).hash(&mut hasher);
        let queue = &self.queues[hasher.finish() as usize % self.queues.len()];
        queue
            .send(Pending { write, reply })
            .await
            .map_err(|_| stopped())?;
        outcome.await.map_err(|_| stopped())?
    }

    async fn commit_together(
        &self,
        writes: Vec<Write>,
    ) -> Result<Vec<Result<Committed, Error>>, Error> {
        let mut contracts: Vec<&ContractName> = writes.iter().map(|w| &w.contract).collect();
        contracts.sort();
        contracts.dedup();
        for contract in contracts {
            self.table(contract).await?;
        }
        let transaction = self
            .writer
            .begin_with(self.procedure.begin_batch.clone())
            .await
            .map_err(|e| self.classify(e))?;
        self.procedure.commit_all(transaction, writes).await
    }

    async fn read(
        &self,
        contract: &ContractName,
        key: &RecordKey,
    ) -> Result<Option<StoredRecord>, Error> {
        let statements = self.table(contract).await?;
        statements
            .read(self.procedure.dialect, &self.readers, key)
            .await
    }

    async fn health(&self) -> Result<(), Error> {
        sqlx::query("SELECT 1")
            .execute(&self.readers)
            .await
            .map_err(|e| self.classify(e))?;
        Ok(())
    }
}

impl Procedure {
    fn statements(&self, contract: &ContractName) -> Result<Arc<RecordStatements>, Error> {
        self.tables.load().get(contract).cloned().ok_or_else(|| {
            Error::Fault(format!(
                "contract `{contract}` was not prepared in this owner"
            ))
        })
    }
}

/// The writer task: for each batch, opens the transaction first and then
/// takes every write queued meanwhile, so writes that arrived while the
/// previous commit was syncing (or while the write lock was awaited) share
/// one commit. Ends when the owner is dropped.
///
/// Where the pool has connections to spare (a server owner), the task
/// keeps its connection from batch to batch: the pool would test each
/// connection it hands out, and again each it takes back, with a round trip
/// of its own. A kept connection that broke meanwhile (the server
/// restarted) fails its `BEGIN`, before anything is written, and the batch
/// begins again on a connection the pool tests.
async fn write_batches(
    procedure: Arc<Procedure>,
    pool: AnyPool,
    keep: bool,
    mut queue: mpsc::Receiver<Pending>,
) {
    let mut kept: Option<PoolConnection<Any>> = None;
    while let Some(mut first) = queue.recv().await {
        let mut connection = kept.take();
        let failed = loop {
            let reused = connection.is_some();
            let mut current = match connection.take() {
                Some(current) => current,
                None => match pool.acquire().await {
                    Ok(current) => current,
                    Err(error) => break Some((error, first)),
                },
            };
            match procedure.write_batch(&mut current, first, &mut queue).await {
                Ok(()) => {
                    if keep {
                        kept = Some(current);
                    }
                    break None;
                }
                Err((_, returned)) if reused => first = returned,
                Err(failed) => break Some(failed),
            }
        };
        // Every write queued meets the same owner: none can begin.
        if let Some((error, first)) = failed {
            let mut batch = vec![first];
            take_queued(&mut queue, &mut batch);
            fail_all(
                batch.into_iter().map(|p| p.reply),
                procedure.dialect.classify(error),
            );
        }
    }
}

/// Adds the writes queued now to `batch`, up to its limit.
fn take_queued(queue: &mut mpsc::Receiver<Pending>, batch: &mut Vec<Pending>) {
    while batch.len() < BATCH_LIMIT {
        match queue.try_recv() {
            Ok(next) => batch.push(next),
            Err(_) => break,
        }
    }
}

impl Procedure {
    /// Begins a transaction on `connection`, then commits in it `first` and
    /// the writes queued meanwhile. A `BEGIN` that fails gives `first` back:
    /// nothing was written.
    async fn write_batch(
        &self,
        connection: &mut AnyConnection,
        first: Pending,
        queue: &mut mpsc::Receiver<Pending>,
    ) -> Result<(), (sqlx::Error, Pending)> {
        let transaction = match connection.begin_with(self.begin_batch.clone()).await {
            Ok(transaction) => transaction,
            Err(error) => return Err((error, first)),
        };
        let mut batch = vec![first];
        take_queued(queue, &mut batch);
        self.commit_batch(transaction, batch).await;
        Ok(())
    }

    async fn commit_batch(
        &self,
        transaction: sqlx::Transaction<'_, sqlx::Any>,
        batch: Vec<Pending>,
    ) {
        // A caller that gave up while the write lock was awaited (timed out,
        // disconnected) is not written for: it never hears of this commit.
        let (writes, replies): (Vec<Write>, Vec<Reply>) = batch
            .into_iter()
            .filter(|p| !p.reply.is_closed())
            .map(|p| (p.write, p.reply))
            .unzip();
        self.batch_sizes.observe(writes.len() as f64);
        match self.commit_all(transaction, writes).await {
            Ok(outcomes) => {
                for (reply, outcome) in replies.into_iter().zip(outcomes) {
                    let _ = reply.send(outcome);
                }
            }
            Err(error) => fail_all(replies, error),
        }
    }

    /// Applies writes in one transaction, set-wise or else each in its own
    /// savepoint, and commits: each write's domain outcome, or (nothing
    /// committed) the failure that aborted them all.
    async fn commit_all(
        &self,
        mut transaction: sqlx::Transaction<'_, sqlx::Any>,
        mut writes: Vec<Write>,
    ) -> Result<Vec<Result<Committed, Error>>, Error> {
        // Dropping the transaction rolls it back.
        let aborted = |error| {
            Error::Unavailable(format!(
                "a write committed in the same transaction failed ({error})"
            ))
        };
        let outcomes = match self
            .apply_together(&mut transaction, &mut writes)
            .await
            .map_err(aborted)?
        {
            Some(outcomes) => outcomes,
            None => {
                let mut outcomes = Vec::with_capacity(writes.len());
                for write in writes {
                    let outcome = self.apply_in_savepoint(&mut transaction, write).await;
                    outcomes.push(outcome.map_err(aborted)?);
                }
                outcomes
            }
        };
        transaction
            .commit()
            .await
            .map_err(|e| self.dialect.classify(e))?;
        Ok(outcomes)
    }

    /// One write inside the batch's transaction. The outer `Err` is a
    /// failure that must abort the batch; the inner one a domain outcome,
    /// already rolled back to the write's savepoint.
    async fn apply_in_savepoint(
        &self,
        connection: &mut AnyConnection,
        write: Write,
    ) -> Result<Result<Committed, Error>, Error> {
        let run = |sql: &'static str| sqlx::query(sql);
        run("SAVEPOINT contractgate_write")
            .execute(&mut *connection)
            .await
            .map_err(|e| self.dialect.classify(e))?;
        let outcome = self.apply(connection, write).await;
        if let Err(error) = &outcome {
            if !error.is_domain() {
                return Err(error.clone());
            }
            run("ROLLBACK TO SAVEPOINT contractgate_write")
                .execute(&mut *connection)
                .await
                .map_err(|e| self.dialect.classify(e))?;
        }
        run("RELEASE SAVEPOINT contractgate_write")
            .execute(&mut *connection)
            .await
            .map_err(|e| self.dialect.classify(e))?;
        Ok(outcome)
    }
}

fn fail_all(replies: impl IntoIterator<Item = Reply>, error: Error) {
    for reply in replies {
        let _ = reply.send(Err(error.clone()));
    }
}
