//! The tasks that run beside the HTTP server: one relay per system when
//! `events.publish_to` is configured, and the retention sweep.

use std::sync::Arc;

use tokio::task::JoinHandle;

use super::relay::{Publisher, Relay};
use super::retention;
use crate::gateway::Gateway;

/// The running background tasks; dropping it stops them.
pub struct Background {
    tasks: Vec<JoinHandle<()>>,
}

impl Background {
    /// Starts the tasks for a gateway. Fails only on a broker URL that
    /// cannot be used at all; a broker that is down is waited for.
    pub async fn start(gateway: &Arc<Gateway>) -> anyhow::Result<Background> {
        let mut tasks = vec![tokio::spawn(retention::run(gateway.clone()))];
        if let Some(config) = &gateway.config().events.publish_to {
            let publisher =
                Arc::new(Publisher::connect(config).await.map_err(|error| {
                    anyhow::anyhow!("events.publish_to `{}`: {error}", config.url)
                })?);
            for (name, system) in gateway.systems() {
                let relay = Relay::new(system.journal.clone(), publisher.clone());
                tasks.push(tokio::spawn(relay.run(name.clone())));
            }
        }
        Ok(Background { tasks })
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}
