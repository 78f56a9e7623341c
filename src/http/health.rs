//! `/healthz` (the process serves) and `/readyz` (contracts loaded, every
//! owner answers).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use futures_util::future::join_all;
use serde_json::{json, Value};

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

async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

async fn readyz(State(gateway): State<Arc<Gateway>>) -> (StatusCode, Json<Value>) {
    let limit = HEALTH_TIMEOUT.min(Duration::from_millis(gateway.config().limits.timeout_ms));
    let owners = check_owners(
        gateway
            .systems()
            .iter()
            .map(|(name, system)| (name, &system.owner)),
        limit,
    )
    .await;
    let ready = owners.values().all(Result::is_ok);
    let systems: serde_json::Map<String, Value> = owners
        .into_iter()
        .map(|(name, health)| {
            let state = health.map_or_else(|error| error.to_string(), |()| "ok".to_owned());
            (name, Value::String(state))
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
        Json(
            json!({"ready": ready, "contracts": contracts, "registry": registry, "systems": systems}),
        ),
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
        async fn prepare(&self, _contract: &Contract) -> Result<(), systems::Error> {
            Ok(())
        }
        async fn commit(&self, _write: Write) -> Result<Committed, systems::Error> {
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
