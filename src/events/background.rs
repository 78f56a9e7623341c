//! The tasks that run beside the HTTP server: one relay per system when
//! `events.publish_to` is configured, and the retention sweep.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;

use super::relay::{Publisher, Relay, Relayed};
use super::retention;
use crate::gateway::Gateway;

/// The running background tasks; dropping it stops them.
pub struct Background {
    tasks: Vec<JoinHandle<()>>,
    /// One relay per system, for the last flush at shutdown.
    relays: Vec<Relay>,
}

impl Background {
    /// Starts the tasks for a gateway. Fails only on a broker URL that
    /// cannot be used at all; a broker that is down is waited for.
    pub async fn start(gateway: &Arc<Gateway>) -> anyhow::Result<Background> {
        let mut tasks = vec![tokio::spawn(retention::run(gateway.clone()))];
        let mut relays = Vec::new();
        if let Some(config) = &gateway.config().events.publish_to {
            let publisher =
                Arc::new(Publisher::connect(config).await.map_err(|error| {
                    anyhow::anyhow!("events.publish_to `{}`: {error}", config.url)
                })?);
            for (name, system) in gateway.systems() {
                let relay = Relay::new(system.journal.clone(), publisher.clone());
                tasks.push(tokio::spawn(relay.run(name.clone())));
                relays.push(Relay::new(system.journal.clone(), publisher.clone()));
            }
        }
        Ok(Background { tasks, relays })
    }

    /// Stops the tasks, then publishes what the relays hold (events
    /// committed by the last requests) within `deadline`: what is left waits
    /// in the journal for the next start. Returns how many were published.
    pub async fn flush(self, deadline: Duration) -> usize {
        for task in &self.tasks {
            task.abort();
        }
        let mut published = 0;
        let drain = async {
            for relay in &self.relays {
                while let Ok(Relayed::Events(n)) = relay.relay_once().await {
                    published += n;
                }
            }
        };
        let _ = tokio::time::timeout(deadline, drain).await;
        published
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}
