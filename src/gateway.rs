//! The gateway's state and start-up: the current contracts, the systems
//! they are bound to, and the config. The write path (`write/`) and the
//! HTTP surface (`http/`) work on this state; they never build it.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use anyhow::Context;
use arc_swap::ArcSwap;

use crate::config::Config;
use crate::contract::{Contract, ContractName, Registry, Status, Version};
use crate::systems::{self, Journal, ServedSchema, System, Systems};
use crate::write::{Error, IdempotencyKeys};

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
}

/// A registry with the system that owns each of its contracts, bound when
/// the contracts load so a request never meets a contract without one.
/// Swapped as one, so the two never disagree.
struct Snapshot {
    registry: Arc<Registry>,
    bindings: HashMap<ContractName, System>,
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
    /// Where its records and change events go.
    pub(crate) system: System,
}

/// Records every version's schema hash in the journal of its contract's
/// owner, and refuses to start when a version was served before under
/// another schema: a published version is immutable, and records stored
/// under the old meaning would be read under the new one.
async fn pin_schemas(
    registry: &Registry,
    bindings: &HashMap<ContractName, System>,
) -> anyhow::Result<()> {
    let mut changed = Vec::new();
    for contract in registry.contracts() {
        let Some(system) = bindings.get(&contract.name) else {
            continue;
        };
        let served: Vec<ServedSchema> = contract
            .versions()
            .iter()
            .map(|v| ServedSchema {
                contract: contract.name.clone(),
                version: v.version.number(),
                hash: v.schema_hash.clone(),
            })
            .collect();
        let found = system.journal.pin_schemas(&served).await.with_context(|| {
            format!(
                "cannot record the schema hashes of contract `{}`",
                contract.name
            )
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
        let registry =
            Registry::load(&config.contracts, &config.load_options()).map_err(|problems| {
                let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
                anyhow::anyhow!(
                    "the contracts in {} have problems:\n  {}",
                    config.contracts.display(),
                    lines.join("\n  ")
                )
            })?;
        let systems = systems::connect(&config.systems).await?;
        let mut bindings = HashMap::new();
        let mut owned: BTreeMap<&str, Vec<Arc<Contract>>> = BTreeMap::new();
        for contract in registry.contracts() {
            let name = config.owner_of(contract.owner.as_deref());
            let system = systems.get(name).with_context(|| {
                format!(
                    "contract `{}` names owner `{name}`, which is not a configured system",
                    contract.name
                )
            })?;
            bindings.insert(contract.name.clone(), system.clone());
            owned.entry(name).or_default().push(contract.clone());
        }
        // All of a system's contracts at once: one transaction, not one per
        // table, so start-up stays fast with thousands of contracts.
        for (name, contracts) in owned {
            systems[name]
                .owner
                .prepare(&contracts)
                .await
                .with_context(|| format!("cannot prepare the contracts owned by `{name}`"))?;
        }
        pin_schemas(&registry, &bindings).await?;
        Ok(Gateway {
            snapshot: ArcSwap::from_pointee(Snapshot {
                registry: Arc::new(registry),
                bindings,
            }),
            systems,
            config,
            idempotency_keys: IdempotencyKeys::default(),
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

    /// Finds the contract version a request reads or writes, with its
    /// system; retired versions are refused.
    pub fn resolve(&self, contract: &str, version: &str) -> Result<Target, Error> {
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
        Ok(Target {
            contract: found,
            version: number,
            deprecated: status == Status::Deprecated,
            system,
        })
    }
}
