//! `POST /contracts/{name}/v{n}/validate`: the dry run. The same verdict
//! as a write of the same body (a problem listing every violation), or
//! what the owner would store; nothing is written and no event is emitted.

use std::sync::Arc;

use axum::extract::{FromRequest, Path, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Extension;
use axum::{Json, Router};

use super::auth::{require_named, Action, Principal};
use super::body::JsonObject;
use super::problem::Problem;
use super::records::answer;
use crate::gateway::Gateway;
use crate::write;

/// The validate route.
pub fn router() -> Router<Arc<Gateway>> {
    Router::new().route("/contracts/{name}/{version}/validate", post(validate))
}

async fn validate(
    State(gateway): State<Arc<Gateway>>,
    Path((name, version)): Path<(String, String)>,
    Extension(principal): Extension<Principal>,
    request: Request,
) -> Result<Response, Problem> {
    // A writer may try a write out before making it.
    require_named(&principal, &name, &[Action::Validate, Action::Write])?;
    let target = gateway.resolve(&name, &version, &principal.name)?;
    Ok(answer(&target, async {
        let JsonObject(body) = JsonObject::from_request(request, &gateway).await?;
        let verdict = write::dry_run(&target.contract, target.version, body)?;
        Ok(Json(verdict).into_response())
    })
    .await)
}
