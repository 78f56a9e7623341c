//! `/contracts…`: what the registry holds, for people and tools.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use super::problem::Problem;
use super::set_contract_version;
use crate::contract::compat::Mode;
use crate::contract::{Concurrency, Contract, SchemaFormat, Status};
use crate::gateway::Gateway;

/// The contract routes.
pub fn router() -> Router<Arc<Gateway>> {
    Router::new()
        .route("/contracts", get(list))
        .route("/contracts/{name}", get(describe))
        .route("/contracts/{name}/{version}/schema", get(schema))
}

#[derive(Serialize)]
struct ContractSummary {
    name: String,
    description: String,
    key: String,
    compatibility: Mode,
    concurrency: Concurrency,
    stored_version: u32,
    versions: Vec<VersionSummary>,
}

#[derive(Serialize)]
struct VersionSummary {
    version: u32,
    status: Status,
    format: SchemaFormat,
    schema: String,
    records: String,
}

fn summary(contract: &Contract) -> ContractSummary {
    ContractSummary {
        name: contract.name.to_string(),
        description: contract.description.clone(),
        key: contract.key.to_string(),
        compatibility: contract.compatibility,
        concurrency: contract.concurrency,
        stored_version: contract.stored_version().version.number(),
        versions: contract
            .versions()
            .iter()
            .map(|v| VersionSummary {
                version: v.version.number(),
                status: v.status,
                format: v.schema.format(),
                schema: format!("/contracts/{}/{}/schema", contract.name, v.version),
                records: format!("/contracts/{}/{}/records", contract.name, v.version),
            })
            .collect(),
    }
}

async fn list(State(gateway): State<Arc<Gateway>>) -> Json<Vec<ContractSummary>> {
    Json(gateway.registry().contracts().map(|c| summary(c)).collect())
}

async fn describe(
    State(gateway): State<Arc<Gateway>>,
    Path(name): Path<String>,
) -> Result<Json<ContractSummary>, Problem> {
    let registry = gateway.registry();
    let contract = registry
        .get(&name)
        .ok_or_else(|| Problem::from(crate::write::Error::UnknownContract(name.clone())))?;
    Ok(Json(summary(contract)))
}

async fn schema(
    State(gateway): State<Arc<Gateway>>,
    Path((name, version)): Path<(String, String)>,
) -> Result<Response, Problem> {
    let (contract, version) = gateway.lookup(&name, &version)?;
    let schema = contract
        .version(version)
        .map(|v| v.schema.raw().clone())
        .unwrap_or_default();
    let mut response = Json(schema).into_response();
    set_contract_version(response.headers_mut(), version);
    Ok(response)
}
