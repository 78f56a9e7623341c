//! `/contracts…`: what the registry holds, for people and tools.

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Extension;
use axum::{Json, Router};
use serde::Serialize;
use utoipa::ToSchema;

use super::auth::{require_named, Principal, SEE};
use super::path::Path;
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

/// A contract as the registry holds it.
#[derive(Serialize, ToSchema)]
pub(super) struct ContractSummary {
    /// Its name, as in its URLs.
    #[schema(example = "customer")]
    name: String,
    /// What its records are.
    description: String,
    /// The JSON pointer of the key in a payload.
    #[schema(example = "/id")]
    key: String,
    /// The rule new versions keep.
    compatibility: Mode,
    /// Whether updates must send `If-Match`.
    concurrency: Concurrency,
    /// The version owners store: the latest.
    stored_version: u32,
    /// Every version, oldest first.
    versions: Vec<VersionSummary>,
}

/// One version of a contract.
#[derive(Serialize, ToSchema)]
pub(super) struct VersionSummary {
    /// Its number.
    version: u32,
    /// Whether it is still written to.
    status: Status,
    /// The language of its schema.
    format: SchemaFormat,
    /// Where its schema is served.
    #[schema(example = "/contracts/customer/v2/schema")]
    schema: String,
    /// Where its records are.
    #[schema(example = "/contracts/customer/v2/records")]
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

/// List the contracts.
///
/// Every contract the caller holds a scope on, with its versions.
#[utoipa::path(get, path = "/contracts", tag = "registry",
    responses((status = 200, description = "Every contract the caller may see, by name.", body = Vec<ContractSummary>)))]
pub(super) async fn list(
    State(gateway): State<Arc<Gateway>>,
    Extension(principal): Extension<Principal>,
) -> Json<Vec<ContractSummary>> {
    let registry = gateway.registry();
    let visible = registry.contracts().filter(|c| {
        SEE.iter()
            .any(|&action| principal.may(Some(&c.name), action))
    });
    Json(visible.map(|c| summary(c)).collect())
}

/// Describe a contract.
///
/// Its key, compatibility mode, concurrency and versions.
#[utoipa::path(get, path = "/contracts/{name}", tag = "registry",
    params(("name" = String, Path, description = "The contract's name.", example = "customer")),
    responses((status = 200, description = "The contract.", body = ContractSummary)))]
pub(super) async fn describe(
    State(gateway): State<Arc<Gateway>>,
    Extension(principal): Extension<Principal>,
    Path(name): Path<String>,
) -> Result<Json<ContractSummary>, Problem> {
    require_named(&principal, &name, SEE)?;
    let registry = gateway.registry();
    let contract = registry
        .get(&name)
        .ok_or_else(|| Problem::from(crate::write::Error::UnknownContract(name.clone())))?;
    Ok(Json(summary(contract)))
}

/// Read a version's schema.
///
/// As written in the contract's folder; the record operations below show
/// each published version's schema as JSON Schema.
#[utoipa::path(get, path = "/contracts/{name}/{version}/schema", tag = "registry",
    params(
        ("name" = String, Path, description = "The contract's name.", example = "customer"),
        ("version" = String, Path, description = "`v` and the version's number.", example = "v1"),
    ),
    responses((status = 200, description = "The version's schema as written (JSON Schema or Avro), retired versions included.",
        body = serde_json::Value,
        headers(("Contract-Version" = u32, description = "The version asked for.")))))]
pub(super) async fn schema(
    State(gateway): State<Arc<Gateway>>,
    Extension(principal): Extension<Principal>,
    Path((name, version)): Path<(String, String)>,
) -> Result<Response, Problem> {
    require_named(&principal, &name, SEE)?;
    let (contract, version) = gateway.lookup(&name, &version)?;
    let schema = contract
        .version(version)
        .map(|v| v.schema.raw())
        .unwrap_or_default();
    let mut response = Json(schema).into_response();
    set_contract_version(response.headers_mut(), version);
    Ok(response)
}
