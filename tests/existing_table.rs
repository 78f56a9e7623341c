//! Fronting a table a team already has: fields mapped to typed columns, the
//! table's own constraints refusing writes with nothing half-written, on
//! every SQL owner.

mod support;

use contractgate::config::Limits;
use reqwest::Method;
use serde_json::{json, Value};
use sqlx::Row;
use support::{expect_problem, test_contracts, Backend, Storage, TestGateway};

/// The row of a key: (row_version, full_name, tier, loyalty_points).
async fn row(storage: &Storage, key: &str) -> Option<(i64, String, String, Option<i64>)> {
    let param = if matches!(storage, Storage::Postgres { .. }) {
        "$1"
    } else {
        "?"
    };
    let sql = format!(
        "SELECT row_version, full_name, tier, loyalty_points FROM {} WHERE customer_id = {param}",
        storage.table("crm_customers")
    );
    let rows = storage.rows(&sql, Some(key)).await;
    rows.first()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get::<Option<i64>, _>(3)))
}

async fn writes_go_to_the_typed_columns_of_an_existing_table(backend: Backend) {
    let storage = Storage::create(backend).await;
    let ddl = std::fs::read_to_string(test_contracts("../sql/crm_customers.sql")).unwrap();
    storage.execute(&ddl).await;
    let contracts = test_contracts("existing-table");
    let config = storage.config(&contracts, Limits::default());
    let gateway = TestGateway::with_config(config, storage).await;
    let path = "/contracts/customer/v1/records/c-7";
    let ada = json!({"id": "c-7", "full_name": "Ada Lovelace", "email": "ada@example.com",
                     "tier": "gold", "loyalty": {"points": 120}});

    let created = gateway.post("customer", 1, &ada).await;
    assert_eq!(created.status(), 201, "{}", created.text().await.unwrap());
    assert_eq!(gateway.get_json(path.to_owned()).await, ada);
    assert_eq!(
        row(&gateway.storage, "c-7").await,
        Some((1, "Ada Lovelace".into(), "gold".into(), Some(120)))
    );

    // The table's CHECK knows no bronze tier: the owner refuses, and the
    // row, its revision and the change events stay as they were.
    let mut bronze = ada.clone();
    bronze["tier"] = json!("bronze");
    let refused = gateway.send(Method::PUT, path, &bronze).await;
    expect_problem(refused, 422, "owner-refused").await;
    let mut newcomer = bronze.clone();
    newcomer["id"] = json!("c-8");
    expect_problem(
        gateway.post("customer", 1, &newcomer).await,
        422,
        "owner-refused",
    )
    .await;
    assert_eq!(
        row(&gateway.storage, "c-7").await,
        Some((1, "Ada Lovelace".into(), "gold".into(), Some(120)))
    );
    assert_eq!(row(&gateway.storage, "c-8").await, None);
    assert_eq!(gateway.probe().events().await.len(), 1);

    // A field removed by a merge patch is a NULL column, read back absent.
    let patched = gateway
        .send(
            Method::PATCH,
            path,
            &json!({"tier": "platinum", "loyalty": null}),
        )
        .await;
    assert_eq!(patched.status(), 200);
    assert_eq!(
        row(&gateway.storage, "c-7").await,
        Some((2, "Ada Lovelace".into(), "platinum".into(), None))
    );
    let read: Value = gateway.get_json(path.to_owned()).await;
    assert_eq!(read.get("loyalty"), None);
    assert_eq!(read["tier"], "platinum");

    assert_eq!(gateway.delete(path, &[]).await.status(), 204);
    assert_eq!(gateway.probe().records("customer").await, 0);
    let types: Vec<Value> = gateway.probe().event_attribute("type").await;
    assert_eq!(
        types,
        ["customer.created", "customer.patched", "customer.deleted"]
    );
}

async fn a_table_without_a_mapped_column_is_refused_at_start(backend: Backend) {
    let storage = Storage::create(backend).await;
    storage
        .execute(
            "CREATE TABLE crm_customers (customer_id VARCHAR(64) PRIMARY KEY, row_version BIGINT)",
        )
        .await;
    let config = storage.config(&test_contracts("existing-table"), Limits::default());
    let refused = contractgate::gateway::Gateway::open(config)
        .await
        .err()
        .expect("refused");
    let message = format!("{refused:#}");
    assert!(message.contains("contract `customer`"), "{message}");
    assert!(
        message.contains("does not hold the contract's columns"),
        "{message}"
    );
}

on_every_owner!(
    writes_go_to_the_typed_columns_of_an_existing_table,
    a_table_without_a_mapped_column_is_refused_at_start,
);
