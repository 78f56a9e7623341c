//! Hot reload: a new registry is loaded and checked as `contractgate check`
//! does, its new contracts prepared in their owners, and only then swapped
//! in, with its bindings, in one atomic store. Requests hold the snapshot
//! they resolved against, so those in flight finish on it. A folder with
//! problems never replaces a working one: the previous snapshot goes on
//! serving and the problems are reported (`/readyz`, the log, metrics).
//!
//! Reloads are triggered by a change in the folder ([`watch`]), `SIGHUP`
//! (`reload_on_hangup`, on Unix) and `POST /admin/reload`; all call
//! [`Gateway::reload`], which tests call directly.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use notify::event::{AccessKind, AccessMode};
use notify::{EventKind, RecursiveMode, Watcher as _};
use serde::Serialize;

use super::{Gateway, Snapshot};
use crate::config::Config;
use crate::contract::{Contract, ContractName, Layout, Registry};
use crate::events::now_rfc3339;
use crate::systems::{System, Systems};

/// What a reload did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum ReloadOutcome {
    /// A new snapshot serves.
    Reloaded {
        /// Its generation.
        generation: u64,
        /// How many contracts it holds.
        contracts: usize,
    },
    /// The folder has problems; the previous snapshot goes on serving.
    Refused {
        /// The generation still serving.
        generation: u64,
        /// Every problem found.
        problems: Vec<String>,
    },
}

/// The last reload, as `/readyz` reports it.
#[derive(Debug, Clone, Serialize)]
pub struct ReloadStatus {
    /// When it finished (RFC 3339).
    pub at: String,
    /// What it did.
    #[serde(flatten)]
    pub outcome: ReloadOutcome,
}

impl Gateway {
    /// Loads the contracts folder again and, when it has no problem, swaps
    /// the new snapshot in; otherwise keeps serving the current one. Either
    /// way the outcome is logged, counted and kept for `/readyz`.
    pub async fn reload(&self) -> ReloadOutcome {
        let _one_at_a_time = self.reloading.lock().await;
        let current = self.snapshot.load_full();
        let outcome = match self.next_snapshot(&current).await {
            Ok(snapshot) => {
                let outcome = ReloadOutcome::Reloaded {
                    generation: snapshot.generation,
                    contracts: snapshot.registry.contracts().count(),
                };
                self.snapshot.store(Arc::new(snapshot));
                tracing::info!(?outcome, "contracts reloaded");
                outcome
            }
            Err(problems) => {
                tracing::error!(
                    ?problems,
                    generation = current.generation,
                    "contracts reload refused; the previous contracts keep serving"
                );
                ReloadOutcome::Refused {
                    generation: current.generation,
                    problems,
                }
            }
        };
        let (generation, ok) = match &outcome {
            ReloadOutcome::Reloaded { generation, .. } => (*generation, true),
            ReloadOutcome::Refused { generation, .. } => (*generation, false),
        };
        self.metrics.reload(generation, ok);
        self.last_reload.store(Some(Arc::new(ReloadStatus {
            at: now_rfc3339(),
            outcome: outcome.clone(),
        })));
        outcome
    }

    /// The snapshot the folder holds now, checked and prepared.
    async fn next_snapshot(&self, current: &Snapshot) -> Result<Snapshot, Vec<String>> {
        let folder = self.config.contracts.clone();
        let options = self.config.load_options().serving();
        // Loading reads files and compiles schemas: off the request threads.
        let loaded = tokio::task::spawn_blocking(move || Registry::load(&folder, &options))
            .await
            .map_err(|error| vec![format!("loading the contracts failed: {error}")])?;
        let registry = loaded
            .map_err(|problems| problems.iter().map(ToString::to_string).collect::<Vec<_>>())?;
        let bindings = bind(&self.config, &self.systems, &registry, Some(current)).await?;
        Ok(Snapshot {
            registry: Arc::new(registry),
            bindings,
            generation: current.generation + 1,
        })
    }
}

/// Binds every contract of `registry` to its owner's system, preparing its
/// storage there. With a `current` snapshot (a reload), a contract its
/// system already holds the same way is not prepared again: preparing
/// changes what the owner's statements are, and requests still run on the
/// current snapshot. Every problem is listed.
pub(super) async fn bind(
    config: &Config,
    systems: &Systems,
    registry: &Registry,
    current: Option<&Snapshot>,
) -> Result<HashMap<ContractName, System>, Vec<String>> {
    let mut bindings = HashMap::new();
    let mut problems = Vec::new();
    let mut to_prepare: BTreeMap<&str, Vec<Arc<Contract>>> = BTreeMap::new();
    for contract in registry.contracts() {
        let name = config.owner_of(contract.owner.as_deref());
        let Some(system) = systems.get(name) else {
            problems.push(format!(
                "contract `{}` names owner `{name}`, which is not a configured system",
                contract.name
            ));
            continue;
        };
        let held = current.and_then(|snapshot| {
            let bound = snapshot.bindings.get(&contract.name)?;
            let previous = snapshot.registry.get(contract.name.as_str())?;
            Arc::ptr_eq(&bound.owner, &system.owner).then_some(previous)
        });
        match held {
            Some(previous) if same_storage(previous, contract) => {}
            Some(_) => problems.push(format!(
                "contract `{}` changes where its records are kept (table, columns, or the stored \
                 version of a table with columns): a reload cannot move records while requests \
                 use them; restart the gateway to apply this change",
                contract.name
            )),
            None => to_prepare.entry(name).or_default().push(contract.clone()),
        }
        bindings.insert(contract.name.clone(), system.clone());
    }
    // All of a system's new contracts at once: one transaction, not one
    // per table, so start-up stays fast with thousands of contracts.
    for (name, contracts) in to_prepare {
        if let Err(error) = systems[name].owner.prepare(&contracts).await {
            problems.push(format!(
                "cannot prepare the contracts owned by `{name}`: {error}"
            ));
        }
    }
    if problems.is_empty() {
        Ok(bindings)
    } else {
        Err(problems)
    }
}

/// Whether an owner keeps two versions of a contract's records the same
/// way. A table with columns holds the stored version, so a new stored
/// version changes it; the document table holds any version.
fn same_storage(previous: &Contract, next: &Contract) -> bool {
    previous.table == next.table
        && previous.layout == next.layout
        && previous.key == next.key
        && (next.layout == Layout::Document
            || previous.stored_version().version == next.stored_version().version)
}

/// Watches the contracts folder while it lives.
pub struct Watcher {
    _watcher: notify::RecommendedWatcher,
}

/// Reloads the gateway's contracts whenever its folder changed and then
/// stayed quiet for the configured debounce, until the [`Watcher`] is
/// dropped. Changes during a reload lead to one more reload after it.
pub fn watch(gateway: Arc<Gateway>) -> anyhow::Result<Watcher> {
    // One pending change is enough: the reload after it sees them all.
    let (changed, mut changes) = tokio::sync::mpsc::channel(1);
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        match event {
            // Opening or reading changes nothing, and every look at the
            // folder (a reload's, the fingerprint's) opens it: counted,
            // they would rescan it for ever.
            Ok(event) if is_read(&event.kind) => {}
            Ok(_) => {
                let _ = changed.try_send(());
            }
            Err(error) => tracing::warn!(%error, "watching the contracts folder failed"),
        }
    })?;
    watcher.watch(&gateway.config.contracts, RecursiveMode::Recursive)?;
    let quiet = Duration::from_millis(gateway.config.reload.debounce_ms);
    let folder = gateway.config.contracts.clone();
    let mut loaded = fingerprint(&folder);
    // Ends when the watcher, and with it the sender, is dropped. Attribute
    // changes (a `touch`) get through the filter above: only a folder
    // whose files changed is reloaded.
    tokio::spawn(async move {
        while changes.recv().await.is_some() {
            loop {
                match tokio::time::timeout(quiet, changes.recv()).await {
                    Ok(Some(())) => continue,
                    Ok(None) => return,
                    Err(_) => break,
                }
            }
            let now = fingerprint(&folder);
            if now != loaded {
                loaded = now;
                gateway.reload().await;
            }
        }
    });
    Ok(Watcher { _watcher: watcher })
}

/// An event that only says a file or folder was opened or read.
fn is_read(kind: &EventKind) -> bool {
    matches!(kind, EventKind::Access(access) if *access != AccessKind::Close(AccessMode::Write))
}

/// Every file below `folder` with its size and modification time, in
/// order: what tells an edit from a read (which changes neither).
fn fingerprint(folder: &Path) -> Vec<(PathBuf, u64, Option<SystemTime>)> {
    let mut files = Vec::new();
    let mut folders = vec![folder.to_path_buf()];
    while let Some(folder) = folders.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(metadata) = entry.metadata() else {
                continue;
            };
            if metadata.is_dir() {
                folders.push(entry.path());
            } else {
                files.push((entry.path(), metadata.len(), metadata.modified().ok()));
            }
        }
    }
    files.sort();
    files
}

/// Reloads the gateway's contracts on every `SIGHUP`, for ever, once the
/// returned future runs. The handler is installed before this returns, so
/// a SIGHUP right after start reloads rather than ends the process.
#[cfg(unix)]
pub fn reload_on_hangup(
    gateway: Arc<Gateway>,
) -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut hangups = signal(SignalKind::hangup())?;
    Ok(async move {
        while hangups.recv().await.is_some() {
            gateway.reload().await;
        }
    })
}

#[cfg(test)]
mod tests {
    use notify::event::{CreateKind, DataChange, ModifyKind};

    use super::*;

    #[test]
    fn opening_and_reading_are_reads_and_writing_is_not() {
        for read in [
            AccessKind::Open(AccessMode::Any),
            AccessKind::Read,
            AccessKind::Close(AccessMode::Read),
            AccessKind::Any,
        ] {
            assert!(is_read(&EventKind::Access(read)), "{read:?}");
        }
        for change in [
            EventKind::Access(AccessKind::Close(AccessMode::Write)),
            EventKind::Modify(ModifyKind::Data(DataChange::Any)),
            EventKind::Create(CreateKind::File),
            EventKind::Any,
        ] {
            assert!(!is_read(&change), "{change:?}");
        }
    }
}
