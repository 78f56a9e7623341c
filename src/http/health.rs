//! `/healthz` (the process serves) and `/readyz` (contracts loaded, every
//! owner answers).

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

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
    (
        status,
        Json(json!({"ready": ready, "contracts": contracts, "systems": systems})),
    )
}
