//! The rejection store: a contract with `rejections: keep` keeps its
//! rejected writes (violations, caller, time, the payload with PII
//! redacted), bounded by count and age, listed newest first at
//! `GET /rejections?contract=…`.

mod support;

use std::path::PathBuf;
use std::time::Duration;

use contractgate::config::Limits;
use serde_json::{json, Value};
use support::{data, expect_problem, test_contracts, Backend, Storage, TestGateway};

fn contracts() -> PathBuf {
    test_contracts("ops")
}

async fn gateway_on(backend: Backend, max_per_contract: u64, max_age_hours: u64) -> TestGateway {
    let storage = Storage::create(backend).await;
    let mut config = storage.config(&contracts(), Limits::default());
    config.rejections.max_per_contract = max_per_contract;
    config.rejections.max_age_hours = max_age_hours;
    TestGateway::with_config(config, storage).await
}

async fn kept(gateway: &TestGateway, contract: &str) -> Vec<Value> {
    let listed = gateway
        .get_json(format!("/rejections?contract={contract}"))
        .await;
    assert_eq!(listed["contract"], contract, "{listed}");
    listed["rejections"].as_array().expect("a list").clone()
}

/// A v2 customer breaking the contract at /full_name (and nowhere else).
fn invalid(id: &str) -> Value {
    json!({"id": id, "full_name": "", "email": "kept@example.com", "tier": "gold"})
}

async fn rejected_writes_are_kept_newest_first(backend: Backend) {
    let gateway = gateway_on(backend, 1000, 24).await;
    assert_eq!(
        gateway.post("customer", 2, &invalid("c-1")).await.status(),
        422
    );
    let v1 = json!({"id": "c-2", "email": "kept@example.com", "phone": "+441234567890"});
    assert_eq!(gateway.post("customer", 1, &v1).await.status(), 422);
    let valid = data("payloads/customer-v2.json");
    assert_eq!(gateway.post("customer", 2, &valid).await.status(), 201);

    let kept = kept(&gateway, "customer").await;
    assert_eq!(kept.len(), 2, "only the rejected writes: {kept:#?}");
    let (newest, oldest) = (&kept[0], &kept[1]);
    assert_eq!(newest["version"], 1);
    assert_eq!(newest["caller"], "anonymous");
    assert_eq!(newest["violations"][0]["pointer"], "/name", "{newest}");
    assert_eq!(newest["violations"][0]["keyword"], "required", "{newest}");
    assert_eq!(
        newest["payload"],
        json!({"id": "c-2", "email": "[redacted]", "phone": "[redacted]"})
    );
    assert_eq!(oldest["version"], 2);
    assert_eq!(oldest["violations"][0]["pointer"], "/full_name");
    assert_eq!(oldest["payload"]["email"], "[redacted]");
    assert_eq!(oldest["payload"]["full_name"], "");
    for entry in &kept {
        let at = entry["at"].as_str().expect("a time");
        assert!(
            time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339).is_ok(),
            "{at}"
        );
        assert!(!entry.to_string().contains("kept@example.com"), "{entry}");
    }
}

on_every_owner!(rejected_writes_are_kept_newest_first);

#[tokio::test]
async fn the_store_is_bounded_by_count() {
    let gateway = gateway_on(Backend::Sqlite, 2, 24).await;
    for id in ["c-1", "c-2", "c-3"] {
        assert_eq!(
            gateway.post("customer", 2, &invalid(id)).await.status(),
            422
        );
    }
    let kept = kept(&gateway, "customer").await;
    let ids: Vec<&Value> = kept.iter().map(|k| &k["payload"]["id"]).collect();
    assert_eq!(ids, [&json!("c-3"), &json!("c-2")]);
}

#[tokio::test]
async fn the_store_is_bounded_by_age() {
    // Kept for 0 hours: each rejection outlives only those kept in the
    // same millisecond.
    let gateway = gateway_on(Backend::Sqlite, 1000, 0).await;
    for id in ["c-1", "c-2"] {
        assert_eq!(
            gateway.post("customer", 2, &invalid(id)).await.status(),
            422
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let kept = kept(&gateway, "customer").await;
    assert_eq!(kept.len(), 1, "{kept:#?}");
    assert_eq!(kept[0]["payload"]["id"], "c-2");
}

#[tokio::test]
async fn a_contract_that_does_not_keep_rejections_keeps_none() {
    let gateway = gateway_on(Backend::Sqlite, 1000, 24).await;
    let response = gateway.post("order", 1, &json!({"order_id": 1})).await;
    assert_eq!(response.status(), 422);
    assert_eq!(kept(&gateway, "order").await, Vec::<Value>::new());
}

#[tokio::test]
async fn bad_queries_are_problems() {
    let gateway = gateway_on(Backend::Sqlite, 1000, 24).await;
    expect_problem(gateway.get("/rejections").await, 400, "invalid-query").await;
    expect_problem(
        gateway
            .get("/rejections?contract=customer&limit=many")
            .await,
        400,
        "invalid-query",
    )
    .await;
    expect_problem(
        gateway.get("/rejections?contract=nothing").await,
        404,
        "unknown-contract",
    )
    .await;
}
