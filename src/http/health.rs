//! `/healthz` (the process serves) and `/readyz` (contracts loaded, every
//! owner answers; with a relay, what waits for it in each system).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use futures_util::future::join_all;
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use crate::events::relay;
use crate::gateway::Gateway;
use crate::systems::{self, Owner};

/// The longest one owner's health check may take: a readiness probe must
/// answer well within a load balancer's own timeout, however many owners
/// hang.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(2);

/// The health routes.
pub fn router() -> Router<Arc<Gateway>> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

/// The process serves.
#[derive(Serialize, ToSchema)]
pub(super) struct Health {
    /// Always `ok`.
    #[schema(example = "ok")]
    status: &'static str,
}

/// Whether the gateway can take writes.
#[derive(Serialize, ToSchema)]
pub(super) struct Readiness {
    /// Contracts are loaded and every owner answers.
    ready: bool,
    /// How many contracts are loaded.
    contracts: usize,
    /// The registry's generation and the last reload's result.
    #[schema(value_type = Object)]
    registry: serde_json::Value,
    /// Each system by name: `ok`, or what is wrong with it.
    systems: BTreeMap<String, String>,
    /// With a relay: each system's backlog (`backlog`, the events waiting,
    /// and `oldest_unsent_seconds`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    relay: Option<serde_json::Value>,
}

/// Liveness.
#[utoipa::path(get, path = "/healthz", tag = "health",
    responses((status = 200, description = "The process serves.", body = Health)))]
pub(super) async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// Readiness.
#[utoipa::path(get, path = "/readyz", tag = "health",
    responses(
        (status = 200, description = "Contracts are loaded and every owner answers.", body = Readiness),
        (status = 503, description = "An owner does not answer (within 2 s, or `limits.timeout_ms` if smaller).", body = Readiness),
    ))]
pub(super) async fn readyz(State(gateway): State<Arc<Gateway>>) -> (StatusCode, Json<Readiness>) {
    let limit = HEALTH_TIMEOUT.min(Duration::from_millis(gateway.config().limits.timeout_ms));
    let owners = check_owners(
        gateway
            .systems()
            .iter()
            .map(|(name, system)| (name, &system.owner)),
        limit,
    );
    // Within the same limit as the owners, at the same time.
    let relay = async {
        match gateway.config().events.publish_to {
            Some(_) => Some(relay::backlog_report(gateway.systems(), limit).await),
            None => None,
        }
    };
    let (owners, relay) = tokio::join!(owners, relay);
    let ready = owners.values().all(Result::is_ok);
    let systems = owners
        .into_iter()
        .map(|(name, health)| {
            let state = health.map_or_else(|error| error.to_string(), |()| "ok".to_owned());
            (name, state)
        })
        .collect();
    let contracts = gateway.registry().contracts().count();
    // A refused reload leaves the previous contracts serving: reported
    // here, but not a reason to take the instance out of rotation.
    let registry = json!({
        "generation": gateway.generation(),
        "last_reload": gateway.last_reload().as_deref(),
    });
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(Readiness {
            ready,
            contracts,
            registry,
            systems,
            relay,
        }),
    )
}

/// Asks every owner at once, each bounded by `limit`, so the answer comes
/// within `limit` whatever the owners do; one that does not answer in time
/// is reported as a timeout under its name.
async fn check_owners<'a>(
    owners: impl Iterator<Item = (&'a String, &'a Arc<dyn Owner>)>,
    limit: Duration,
) -> BTreeMap<String, Result<(), systems::Error>> {
    let checks = owners.map(|(name, owner)| async move {
        let health = tokio::time::timeout(limit, owner.health())
            .await
            .unwrap_or(Err(systems::Error::Timeout(limit)));
        (name.clone(), health)
    });
    join_all(checks).await.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use async_trait::async_trait;

    use super::*;
    use crate::contract::{Contract, ContractName, RecordKey};
    use crate::systems::{Capabilities, Committed, StoredRecord, Write};

    /// A real owner whose health check takes `delay` (a system that hangs
    /// or is far away); it holds no records.
    struct SlowOwner {
        delay: Duration,
    }

    #[async_trait]
    impl Owner for SlowOwner {
        fn capabilities(&self) -> Capabilities {
            Capabilities {
                journal_in_transaction: true,
            }
        }
        async fn prepare(&self, _contracts: &[Arc<Contract>]) -> Result<(), systems::Error> {
            Ok(())
        }
        async fn commit(&self, _write: Write) -> Result<Committed, systems::Error> {
            Err(systems::Error::Refused(
                "a slow owner holds no records".into(),
            ))
        }
        async fn commit_together(
            &self,
            _writes: Vec<Write>,
        ) -> Result<Vec<Result<Committed, systems::Error>>, systems::Error> {
            Err(systems::Error::Refused(
                "a slow owner holds no records".into(),
            ))
        }
        async fn read(
            &self,
            _contract: &ContractName,
            _key: &RecordKey,
        ) -> Result<Option<StoredRecord>, systems::Error> {
            Ok(None)
        }
        async fn health(&self) -> Result<(), systems::Error> {
            tokio::time::sleep(self.delay).await;
            Ok(())
        }
    }

    fn owners(delays: &[(&str, Duration)]) -> BTreeMap<String, Arc<dyn Owner>> {
        delays
            .iter()
            .map(|(name, delay)| {
                let owner: Arc<dyn Owner> = Arc::new(SlowOwner { delay: *delay });
                ((*name).to_owned(), owner)
            })
            .collect()
    }

    // Paused time: sleeps end when nothing else can run, so elapsed time is
    // exact and the test takes no real time.
    #[tokio::test(start_paused = true)]
    async fn owners_are_checked_at_once_and_a_hung_one_times_out_by_name() {
        let limit = Duration::from_secs(2);
        let owners = owners(&[
            ("hung", Duration::from_secs(3600)),
            ("also-hung", Duration::from_secs(3600)),
            ("slow", Duration::from_millis(1500)),
            ("quick", Duration::ZERO),
        ]);
        let started = tokio::time::Instant::now();
        let health = check_owners(owners.iter(), limit).await;
        assert_eq!(
            started.elapsed(),
            limit,
            "one limit in all, not one per owner"
        );
        for hung in ["hung", "also-hung"] {
            assert!(
                matches!(health[hung], Err(systems::Error::Timeout(d)) if d == limit),
                "{hung}: {:?}",
                health[hung]
            );
        }
        assert!(
            health["slow"].is_ok() && health["quick"].is_ok(),
            "{health:?}"
        );
    }
}
