//! Operating the gateway: `POST /admin/reload` and `GET /rejections`, both
//! for principals with the `admin` scope.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::{require, Action, Principal};
use super::problem::Problem;
use crate::gateway::{Gateway, ReloadOutcome};
use crate::systems::KeptRejection;

/// Rejections listed when the query names no `limit`, and at most.
const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1000;

/// The admin routes.
pub fn router() -> Router<Arc<Gateway>> {
    Router::new()
        .route("/admin/reload", post(reload))
        .route("/rejections", get(rejections))
}

/// A reload that took: what `ReloadOutcome::Reloaded` serializes to.
#[derive(Serialize, ToSchema)]
pub(super) struct Reloaded {
    /// Always `reloaded`.
    #[schema(value_type = String, pattern = "^reloaded$", example = "reloaded")]
    result: &'static str,
    /// The generation now serving.
    generation: u64,
    /// How many contracts it holds.
    contracts: usize,
}

/// Reload the contracts.
///
/// Loads the contracts folder again and checks it as `contractgate check`
/// does; only a folder without problems replaces the contracts serving.
#[utoipa::path(post, path = "/admin/reload", tag = "admin",
    responses((status = 200, description = "Reloaded: the new generation serves.", body = Reloaded)))]
pub(super) async fn reload(
    State(gateway): State<Arc<Gateway>>,
    Extension(caller): Extension<Principal>,
) -> Result<Json<Reloaded>, Problem> {
    require(&caller, None, Action::Admin)?;
    match gateway.reload().await {
        ReloadOutcome::Refused {
            generation,
            problems,
        } => Err(Problem::reload_refused(generation, &problems)),
        ReloadOutcome::Reloaded {
            generation,
            contracts,
        } => Ok(Json(Reloaded {
            result: "reloaded",
            generation,
            contracts,
        })),
    }
}

#[derive(Deserialize)]
pub(super) struct RejectionsQuery {
    contract: Option<String>,
    limit: Option<usize>,
}

/// The rejections kept for a contract.
#[derive(Serialize, ToSchema)]
pub(super) struct RejectionList {
    /// The contract asked for.
    #[schema(example = "customer")]
    contract: String,
    /// Newest first; none for a contract without `rejections: keep`.
    rejections: Vec<KeptRejection>,
}

/// List the rejected writes kept for a contract.
///
/// Newest first, for a contract with `rejections: keep`: the violations,
/// the version checked, the caller, the time and the payload with PII
/// redacted.
#[utoipa::path(get, path = "/rejections", tag = "admin",
    params(
        ("contract" = String, Query, description = "The contract.", example = "customer"),
        ("limit" = Option<usize>, Query, description = "At most this many (default 100; more than 1000 is taken as 1000)."),
    ),
    responses((status = 200, description = "The rejections kept.", body = RejectionList)))]
pub(super) async fn rejections(
    State(gateway): State<Arc<Gateway>>,
    Extension(caller): Extension<Principal>,
    query: Result<Query<RejectionsQuery>, QueryRejection>,
) -> Result<Json<RejectionList>, Problem> {
    let Query(query) = query.map_err(|error| Problem::invalid_query(error.body_text()))?;
    let Some(contract) = query.contract else {
        return Err(Problem::invalid_query(
            "name the contract: /rejections?contract=NAME",
        ));
    };
    require(&caller, None, Action::Admin)?;
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT).min(MAX_LIMIT);
    let kept = gateway.rejections(&contract, limit).await?;
    Ok(Json(RejectionList {
        contract,
        rejections: kept,
    }))
}
