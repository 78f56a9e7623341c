//! The retention sweep: deletes journaled events older than
//! `events.retention`, once relayed when a relay is configured, so the
//! change feed keeps what a subscriber may still need and no more.

use std::time::Duration;

use crate::gateway::Gateway;
use crate::systems;

/// How often the sweep runs.
const SWEEP: Duration = Duration::from_secs(60);

/// Prunes every system's journal; returns how many events went. A journal
/// that fails is reported after the others were pruned.
pub async fn prune_once(gateway: &Gateway) -> Result<u64, systems::Error> {
    let events = &gateway.config().events;
    let relayed_only = events.publish_to.is_some();
    let mut deleted = 0;
    let mut failure = None;
    for system in gateway.systems().values() {
        // Each call deletes a bounded prefix: repeat until none is left.
        loop {
            match system.journal.prune(events.retention, relayed_only).await {
                Ok(0) => break,
                Ok(count) => deleted += count,
                Err(error) => {
                    failure = Some(error);
                    break;
                }
            }
        }
    }
    failure.map_or(Ok(deleted), Err)
}

/// Sweeps every [`SWEEP`]. Stopped by aborting its task.
pub async fn run(gateway: std::sync::Arc<Gateway>) {
    loop {
        tokio::time::sleep(SWEEP).await;
        if let Err(error) = prune_once(&gateway).await {
            tracing::warn!(%error, "retention: the sweep failed; it runs again in {SWEEP:?}");
        }
    }
}
