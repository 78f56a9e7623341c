//! The gateway's state and start-up: the current contracts, the systems
//! they are bound to, and the config. The write path (`write/`) and the
//! HTTP surface (`http/`) work on this state; they never build it.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use anyhow::Context;
use arc_swap::{ArcSwap, ArcSwapOption};

use crate::config::Config;
use crate::contract::{Contract, ContractName, Registry, Status, Version};
use crate::metrics::Metrics;
use crate::systems::{self, Journal, ServedSchema, System, Systems};
use crate::write::{Error, IdempotencyKeys};

mod reload;

#[cfg(unix)]
pub use reload::reload_on_hangup;
pub use reload::{watch, ReloadOutcome, ReloadStatus, Watcher};

/// The gateway: the current contracts, the systems and the limits. The
/// registry sits behind an atomic pointer: each request works on the
/// snapshot it started with, and a reload swaps in a new one whole.
pub struct Gateway {
    snapshot: ArcSwap<Snapshot>,
    systems: Systems,
    config: Config,
    /// The idempotency keys this process is processing (the one piece of
    /// state that is this process's alone: see `write/idempotency.rs`).
    pub(crate) idempotency_keys: IdempotencyKeys,
    metrics: Metrics,
    /// Held by the reload in progress: reloads run one at a time.
    reloading: tokio::sync::Mutex<()>,
    /// The last reload's result, for `/readyz`; none before the first.
    last_reload: ArcSwapOption<ReloadStatus>,
}

/// A registry with the system that owns each of its contracts, bound when
/// the contracts load so a request never meets a contract without one.
/// Swapped as one, so the two never disagree.
struct Snapshot {
    registry: Arc<Registry>,
    bindings: HashMap<ContractName, System>,
    /// 1 for the contracts loaded at start, +1 per successful reload.
    generation: u64,
}

/// A contract version a request addresses, with the system of its records.
#[derive(Clone)]
pub struct Target {
    /// The contract, from the registry snapshot the request started with.
    pub contract: Arc<Contract>,
    /// The version the client speaks.
    pub version: Version,
    /// Whether that version is deprecated.
    pub deprecated: bool,
    /// Who sent the request (the authenticated principal's name), for the
    /// rejection store and the deprecated-use metric.
    pub caller: String,
    /// Where its records and change events go.
    pub(crate) system: System,
    /// Whether that system may see PII: its change events keep PII fields.
    pub(crate) sees_pii: bool,
}

/// Records every version's schema hash in the journal of its contract's
/// owner, and refuses to start when a version was served before under
/// another schema: a published version is immutable, and records stored
/// under the old meaning would be read under the new one. One call per
/// system: each is a transaction (an fsync), and there may be thousands of
/// contracts.
async fn pin_schemas(
    config: &Config,
    registry: &Registry,
    bindings: &HashMap<ContractName, System>,
) -> anyhow::Result<()> {
    let mut by_system: BTreeMap<&str, (&System, Vec<ServedSchema>)> = BTreeMap::new();
    for contract in registry.contracts() {
        let Some(system) = bindings.get(&contract.name) else {
            continue;
        };
        let (_, served) = by_system
            .entry(config.owner_of(contract.owner.as_deref()))
            .or_insert_with(|| (system, Vec::new()));
        served.extend(contract.versions().iter().map(|v| ServedSchema {
            contract: contract.name.clone(),
            version: v.version.number(),
            hash: v.schema_hash.clone(),
        }));
    }
    let mut changed = Vec::new();
    for (name, (system, served)) in by_system {
        let found = system.journal.pin_schemas(&served).await.with_context(|| {
            format!("cannot record the schema hashes of the contracts owned by `{name}`")
        })?;
        changed.extend(found);
    }
    if changed.is_empty() {
        return Ok(());
    }
    let lines: Vec<String> = changed
        .iter()
        .map(|c| {
            format!(
                "contract `{}` v{}: its schema is {} but v{} was served as {}",
                c.contract, c.version, c.offered, c.version, c.recorded
            )
        })
        .collect();
    anyhow::bail!(
        "published versions changed in place (a version is immutable: publish the change as a new version):\n  {}",
        lines.join("\n  ")
    )
}

impl Gateway {
    /// Loads the contracts, connects the systems a config names and
    /// prepares every contract's storage in its owner: what `serve` does
    /// before it listens. A contracts folder with any problem is refused,
    /// with every problem listed; so is a contract whose owner is not a
    /// configured system.
    pub async fn open(config: Config) -> anyhow::Result<Self> {
        let registry = Registry::load(&config.contracts, &config.load_options().serving())
            .map_err(|problems| {
                let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
                anyhow::anyhow!(
                    "the contracts in {} have problems:\n  {}",
                    config.contracts.display(),
                    lines.join("\n  ")
                )
            })?;
        let mut metrics = Metrics::new();
        let systems = systems::connect(&config.systems, &mut metrics).await?;
        let bindings = reload::bind(&config, &systems, &registry, None)
            .await
            .map_err(|problems| anyhow::anyhow!(problems.join("\n")))?;
        pin_schemas(&config, &registry, &bindings).await?;
        Ok(Gateway {
            snapshot: ArcSwap::from_pointee(Snapshot {
                registry: Arc::new(registry),
                bindings,
                generation: 1,
            }),
            systems,
            config,
            idempotency_keys: IdempotencyKeys::default(),
            metrics,
            reloading: tokio::sync::Mutex::new(()),
            last_reload: ArcSwapOption::empty(),
        })
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The current registry snapshot.
    pub fn registry(&self) -> Arc<Registry> {
        self.snapshot.load().registry.clone()
    }

    /// The generation of the registry snapshot serving now.
    pub fn generation(&self) -> u64 {
        self.snapshot.load().generation
    }

    /// The last reload's result; none before the first reload.
    pub fn last_reload(&self) -> Option<Arc<ReloadStatus>> {
        self.last_reload.load_full()
    }

    /// The gateway's metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Every system, by name, for health checks.
    pub fn systems(&self) -> &Systems {
        &self.systems
    }

    /// The journal whose change feed carries a contract's events (its
    /// owner's), with the contract's name.
    pub fn journal_of(&self, contract: &str) -> Result<(ContractName, Arc<dyn Journal>), Error> {
        let snapshot = self.snapshot.load();
        let unknown = || Error::UnknownContract(contract.to_owned());
        let found = snapshot.registry.get(contract).ok_or_else(unknown)?;
        let system = snapshot.bindings.get(&found.name).ok_or_else(unknown)?;
        Ok((found.name.clone(), system.journal.clone()))
    }

    /// Finds a contract and one of its versions (`v2` in the URL), retired
    /// or not.
    pub fn lookup(&self, contract: &str, version: &str) -> Result<(Arc<Contract>, Version), Error> {
        let snapshot = self.snapshot.load();
        Self::find(&snapshot, contract, version)
    }

    fn find(
        snapshot: &Snapshot,
        contract: &str,
        version: &str,
    ) -> Result<(Arc<Contract>, Version), Error> {
        let found = snapshot
            .registry
            .get(contract)
            .ok_or_else(|| Error::UnknownContract(contract.to_owned()))?;
        Version::parse_segment(version)
            .filter(|number| found.version(*number).is_some())
            .map(|number| (Arc::clone(found), number))
            .ok_or_else(|| Error::UnknownVersion {
                contract: contract.to_owned(),
                version: version.to_owned(),
            })
    }

    /// Finds the contract version a request of `caller` reads or writes,
    /// with its system; retired versions are refused.
    pub fn resolve(&self, contract: &str, version: &str, caller: &str) -> Result<Target, Error> {
        let snapshot = self.snapshot.load();
        let (found, number) = Self::find(&snapshot, contract, version)?;
        let status = found.version(number).map(|v| v.status).unwrap_or_default();
        if status == Status::Retired {
            return Err(Error::Retired {
                contract: contract.to_owned(),
                version: number,
                successor: found.successor(),
            });
        }
        // Bound at load for every contract of the snapshot.
        let system = snapshot
            .bindings
            .get(&found.name)
            .cloned()
            .ok_or_else(|| Error::UnknownContract(contract.to_owned()))?;
        let owner = self.config.owner_of(found.owner.as_deref());
        Ok(Target {
            sees_pii: self.config.pii_readers.contains(owner),
            contract: found,
            version: number,
            deprecated: status == Status::Deprecated,
            caller: caller.to_owned(),
            system,
        })
    }
}
