//! Operating the gateway: `POST /admin/reload` and `GET /rejections`, both
//! for principals with the `admin` scope.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::{require, Action, Principal};
use super::problem::Problem;
use crate::gateway::{Gateway, ReloadOutcome};

/// Rejections listed when the query names no `limit`, and at most.
const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1000;

/// The admin routes.
pub fn router() -> Router<Arc<Gateway>> {
    Router::new()
        .route("/admin/reload", post(reload))
        .route("/rejections", get(rejections))
}

/// Reloads the contracts: 200 with the new generation, or 422 listing the
/// problems while the previous generation keeps serving.
async fn reload(
    State(gateway): State<Arc<Gateway>>,
    Extension(caller): Extension<Principal>,
) -> Result<Json<ReloadOutcome>, Problem> {
    require(&caller, None, Action::Admin)?;
    match gateway.reload().await {
        ReloadOutcome::Refused {
            generation,
            problems,
        } => Err(Problem::reload_refused(generation, &problems)),
        reloaded => Ok(Json(reloaded)),
    }
}

#[derive(Deserialize)]
struct RejectionsQuery {
    contract: Option<String>,
    limit: Option<usize>,
}

/// The rejected writes kept for a contract, newest first.
async fn rejections(
    State(gateway): State<Arc<Gateway>>,
    Extension(caller): Extension<Principal>,
    query: Result<Query<RejectionsQuery>, QueryRejection>,
) -> Result<Json<Value>, Problem> {
    let Query(query) = query.map_err(|error| Problem::invalid_query(error.body_text()))?;
    let Some(contract) = query.contract else {
        return Err(Problem::invalid_query(
            "name the contract: /rejections?contract=NAME",
        ));
    };
    require(&caller, None, Action::Admin)?;
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT).min(MAX_LIMIT);
    let kept = gateway.rejections(&contract, limit).await?;
    Ok(Json(json!({"contract": contract, "rejections": kept})))
}
