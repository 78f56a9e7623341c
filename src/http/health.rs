//! `/healthz` (the process serves) and `/readyz` (contracts loaded, every
//! owner answers; with a relay, what waits for it in each system).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::events::relay;
use crate::gateway::Gateway;

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
    let mut systems = serde_json::Map::new();
    let mut ready = true;
    for (name, system) in gateway.systems() {
        let state = match system.owner.health().await {
            Ok(()) => "ok".to_owned(),
            Err(error) => {
                ready = false;
                error.to_string()
            }
        };
        systems.insert(name.clone(), Value::String(state));
    }
    let contracts = gateway.registry().contracts().count();
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let mut body = json!({"ready": ready, "contracts": contracts, "systems": systems});
    if gateway.config().events.publish_to.is_some() {
        let limit = Duration::from_millis(gateway.config().limits.timeout_ms);
        body["relay"] = relay::backlog_report(gateway.systems(), limit).await;
    }
    (status, Json(body))
}
