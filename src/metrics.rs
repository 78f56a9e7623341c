//! The gateway's metrics, served at `GET /metrics` in the Prometheus text
//! format. One [`Metrics`] per gateway, held in its state rather than in a
//! process-wide recorder, so that two gateways in one process (tests) never
//! count each other's traffic.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::{Registry, Unit};

/// The Content-Type of [`Metrics::render`].
pub use prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// How a request to a record route ended, as the `outcome` label says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// A write the contract and the owner took, sent in the stored version.
    Accepted,
    /// A write the contract and the owner took, upgraded from an older
    /// version.
    Upgraded,
    /// A write the contract (422) or the owner's own rules refused.
    Rejected,
    /// An idempotent retry answered from the ledger.
    Replayed,
    /// A write that lost to another: exists, stale revision, If-Match
    /// required, idempotency key in flight.
    Conflict,
    /// A record read.
    Read,
    /// Anything else: unknown record, owner unavailable or timed out, bad
    /// input.
    Failed,
}

impl Outcome {
    fn label(self) -> &'static str {
        match self {
            Outcome::Accepted => "accepted",
            Outcome::Upgraded => "upgraded",
            Outcome::Rejected => "rejected",
            Outcome::Replayed => "replayed",
            Outcome::Conflict => "conflict",
            Outcome::Read => "read",
            Outcome::Failed => "failed",
        }
    }
}

/// What an owner was asked to do, for its latency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// Commit a write.
    Commit,
    /// Read a record.
    Read,
    /// Journal the change event of an owner that commits on its own.
    Journal,
}

impl Operation {
    fn label(self) -> &'static str {
        match self {
            Operation::Commit => "commit",
            Operation::Read => "read",
            Operation::Journal => "journal",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RequestLabels {
    contract: String,
    version: String,
    outcome: &'static str,
    status: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ContractLabels {
    contract: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct OwnerLabels {
    contract: String,
    operation: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct DeprecatedLabels {
    contract: String,
    version: String,
    caller: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ReloadLabels {
    result: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct SystemLabels {
    system: String,
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

/// Latencies from half a millisecond to about 16 s, doubling.
fn latency() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

/// A histogram of group-commit batch sizes: 1, 2, 4 … 128 writes (the SQL
/// owners' batch limit).
pub fn commit_batch_sizes() -> Histogram {
    Histogram::new(exponential_buckets(1.0, 2.0, 8))
}

/// Every metric of one gateway.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    deprecated: Family<DeprecatedLabels, Counter>,
    validation: Histograms<ContractLabels>,
    upgrade: Histograms<ContractLabels>,
    owner: Histograms<OwnerLabels>,
    generation: Gauge,
    reloads: Family<ReloadLabels, Counter>,
    last_reload_ok: Gauge,
    outbox_backlog: Family<SystemLabels, Gauge>,
    outbox_oldest: Family<SystemLabels, Gauge<f64, std::sync::atomic::AtomicU64>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Every metric registered, all at zero.
    pub fn new() -> Self {
        let mut metrics = Metrics {
            registry: Registry::with_prefix("contractgate"),
            requests: Family::default(),
            deprecated: Family::default(),
            validation: Family::new_with_constructor(latency),
            upgrade: Family::new_with_constructor(latency),
            owner: Family::new_with_constructor(latency),
            generation: Gauge::default(),
            reloads: Family::default(),
            last_reload_ok: Gauge::default(),
            outbox_backlog: Family::default(),
            outbox_oldest: Family::default(),
        };
        let registry = &mut metrics.registry;
        registry.register(
            "requests",
            "Requests to record routes by contract, version, outcome and status",
            metrics.requests.clone(),
        );
        registry.register(
            "deprecated_requests",
            "Requests to deprecated contract versions, by caller: who still sends them",
            metrics.deprecated.clone(),
        );
        registry.register_with_unit(
            "validation",
            "Checking a write sent in the stored version against its contract",
            Unit::Seconds,
            metrics.validation.clone(),
        );
        registry.register_with_unit(
            "upgrade",
            "Checking a write sent in an older version: validation in it, the upgrade chain, validation in the stored version",
            Unit::Seconds,
            metrics.upgrade.clone(),
        );
        registry.register_with_unit(
            "owner",
            "Owner calls (commit, read, journal), by contract",
            Unit::Seconds,
            metrics.owner.clone(),
        );
        registry.register(
            "registry_generation",
            "The contracts snapshot serving: 1 at start, +1 per successful reload",
            metrics.generation.clone(),
        );
        registry.register(
            "reloads",
            "Contract reloads by result (ok, failed)",
            metrics.reloads.clone(),
        );
        registry.register(
            "last_reload_success",
            "1 when the last reload (or the start) succeeded, 0 when it was refused",
            metrics.last_reload_ok.clone(),
        );
        registry.register(
            "outbox_backlog_events",
            "Change events waiting for the relay, by system",
            metrics.outbox_backlog.clone(),
        );
        registry.register_with_unit(
            "outbox_oldest_event_age",
            "How long the oldest change event waiting for the relay has waited, by system",
            Unit::Seconds,
            metrics.outbox_oldest.clone(),
        );
        metrics.generation.set(1);
        metrics.last_reload_ok.set(1);
        metrics
    }

    /// Registers the batch-size histogram a system's writer task records
    /// into (see `systems/sql`).
    pub fn register_commit_batches(&mut self, system: &str, batches: Histogram) {
        self.registry
            .sub_registry_with_label(("system".into(), system.to_owned().into()))
            .register(
                "commit_batch_size",
                "Writes committed together in one transaction (group commit)",
                batches,
            );
    }

    /// Counts one request to a record route.
    pub fn request(&self, contract: &str, version: &str, outcome: Outcome, status: u16) {
        self.requests
            .get_or_create(&RequestLabels {
                contract: contract.to_owned(),
                version: version.to_owned(),
                outcome: outcome.label(),
                status,
            })
            .inc();
    }

    /// Counts a request to a deprecated version by `caller`.
    pub fn deprecated_use(&self, contract: &str, version: &str, caller: &str) {
        self.deprecated
            .get_or_create(&DeprecatedLabels {
                contract: contract.to_owned(),
                version: version.to_owned(),
                caller: caller.to_owned(),
            })
            .inc();
    }

    /// Records how long checking a write took; `upgraded` when it was sent
    /// in an older version than the stored one.
    pub fn check(&self, contract: &str, upgraded: bool, took: Duration) {
        let family = if upgraded {
            &self.upgrade
        } else {
            &self.validation
        };
        family
            .get_or_create(&ContractLabels {
                contract: contract.to_owned(),
            })
            .observe(took.as_secs_f64());
    }

    /// Records how long an owner call took.
    pub fn owner(&self, contract: &str, operation: Operation, took: Duration) {
        self.owner
            .get_or_create(&OwnerLabels {
                contract: contract.to_owned(),
                operation: operation.label(),
            })
            .observe(took.as_secs_f64());
    }

    /// Records a reload: the generation now serving and whether it worked.
    pub fn reload(&self, generation: u64, ok: bool) {
        let result = if ok { "ok" } else { "failed" };
        self.reloads.get_or_create(&ReloadLabels { result }).inc();
        self.generation
            .set(i64::try_from(generation).unwrap_or(i64::MAX));
        self.last_reload_ok.set(i64::from(ok));
    }

    /// The hook for the outbox backlog: what waits for the relay in a
    /// system's journal (`Journal::backlog`, which comes with the relay),
    /// set before each scrape.
    pub fn outbox_backlog(&self, system: &str, events: u64, oldest: Option<Duration>) {
        let labels = SystemLabels {
            system: system.to_owned(),
        };
        self.outbox_backlog
            .get_or_create(&labels)
            .set(i64::try_from(events).unwrap_or(i64::MAX));
        self.outbox_oldest
            .get_or_create(&labels)
            .set(oldest.unwrap_or_default().as_secs_f64());
    }

    /// Every metric in the Prometheus text format ([`CONTENT_TYPE`]).
    pub fn render(&self) -> String {
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut text, &self.registry);
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_appear_under_their_labels() {
        let mut metrics = Metrics::new();
        let batches = commit_batch_sizes();
        metrics.register_commit_batches("crm", batches.clone());
        batches.observe(3.0);
        metrics.request("customer", "v1", Outcome::Upgraded, 201);
        metrics.request("customer", "v1", Outcome::Upgraded, 201);
        metrics.deprecated_use("customer", "v1", "shop");
        metrics.reload(2, false);
        let text = metrics.render();
        for line in [
            r#"contractgate_requests_total{contract="customer",version="v1",outcome="upgraded",status="201"} 2"#,
            r#"contractgate_deprecated_requests_total{contract="customer",version="v1",caller="shop"} 1"#,
            r#"contractgate_commit_batch_size_sum{system="crm"} 3.0"#,
            r#"contractgate_reloads_total{result="failed"} 1"#,
            "contractgate_registry_generation 2",
            "contractgate_last_reload_success 0",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing in\n{text}");
        }
    }
}
