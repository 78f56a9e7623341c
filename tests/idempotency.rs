//! `Idempotency-Key` on every owner: a retry is answered as the first
//! request was, and written once; another request under the same key, a
//! key in flight, a malformed key and an expired key each get what the IETF
//! draft says.

mod support;

use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, Response};
use serde_json::{json, Value};
use sqlx::Executor;
use support::{
    data, example, example_contracts, expect_problem, header, hold_write_lock, nothing_written,
    Backend, TestGateway,
};

const CUSTOMERS_V1: &str = "/contracts/customer/v1/records";
const CUSTOMERS_V2: &str = "/contracts/customer/v2/records";

/// Sends a JSON body under an idempotency key (the header's raw value).
async fn keyed(
    gateway: &TestGateway,
    method: Method,
    path: &str,
    key: &str,
    body: &Value,
) -> Response {
    gateway
        .send_with(method, path, body, &[("idempotency-key", key)])
        .await
}

/// What a client sees of an answer: status, the headers that describe the
/// record, and the body.
async fn answer(response: Response) -> (u16, Vec<String>, String) {
    let headers = [
        "etag",
        "location",
        "contract-version",
        "deprecation",
        "link",
    ]
    .iter()
    .map(|name| header(&response, name))
    .collect();
    let status = response.status().as_u16();
    (status, headers, response.text().await.expect("a body"))
}

async fn a_retry_gets_the_first_answer_replayed_and_nothing_is_written_again(backend: Backend) {
    let gateway = TestGateway::on(backend, &example_contracts()).await;
    let v1 = data("payloads/customer-v1.json");
    let created = keyed(&gateway, Method::POST, CUSTOMERS_V1, "\"k-1\"", &v1).await;
    assert_eq!(header(&created, "idempotent-replayed"), "");
    let first = answer(created).await;
    assert_eq!(first.0, 201);
    assert_eq!(first.1[0], "\"1\"");

    // The same request: its JSON spelled otherwise, the key unquoted.
    let respelled = r#"{ "phone": "+441234567890", "email": "ada@example.com",
                         "name": "Ada Lovelace", "id": "c-1" }"#;
    let retry = gateway
        .send_raw(
            Method::POST,
            CUSTOMERS_V1,
            "application/json",
            respelled.into(),
            &[("idempotency-key", "k-1")],
        )
        .await;
    assert_eq!(header(&retry, "idempotent-replayed"), "true");
    assert_eq!(answer(retry).await, first);

    // A patch and a deletion, each retried.
    let path = format!("{CUSTOMERS_V1}/c-1");
    let patch = json!({"name": "Ada King"});
    let patched = answer(keyed(&gateway, Method::PATCH, &path, "k-2", &patch).await).await;
    assert_eq!((patched.0, patched.1[0].as_str()), (200, "\"2\""));
    let retry = keyed(&gateway, Method::PATCH, &path, "k-2", &patch).await;
    assert_eq!(header(&retry, "idempotent-replayed"), "true");
    assert_eq!(answer(retry).await, patched);

    let deleted = gateway.delete(&path, &[("idempotency-key", "k-3")]).await;
    assert_eq!(deleted.status(), 204);
    let retry = gateway.delete(&path, &[("idempotency-key", "k-3")]).await;
    assert_eq!(retry.status(), 204);
    assert_eq!(header(&retry, "idempotent-replayed"), "true");
    // Without the key, the same deletion finds nothing to delete.
    assert_eq!(gateway.delete(&path, &[]).await.status(), 404);

    let events = gateway.probe().events().await;
    let types: Vec<&str> = events.iter().filter_map(|e| e["type"].as_str()).collect();
    assert_eq!(
        types,
        ["customer.created", "customer.patched", "customer.deleted"]
    );
}

async fn a_key_reused_for_another_request_is_422_and_changes_nothing(backend: Backend) {
    let gateway = TestGateway::on(backend, &example_contracts()).await;
    let grace = data("payloads/customer-v2.json");
    let created = keyed(&gateway, Method::POST, CUSTOMERS_V2, "k", &grace).await;
    assert_eq!(created.status(), 201);

    let mut platinum = grace.clone();
    platinum["tier"] = json!("platinum");
    let other_body = keyed(&gateway, Method::POST, CUSTOMERS_V2, "k", &platinum).await;
    expect_problem(other_body, 422, "idempotency-key-reused").await;
    // The key is checked before the payload: a body that also breaks the
    // contract is still a reused key.
    let mut bronze = grace.clone();
    bronze["tier"] = json!("bronze");
    let broken = keyed(&gateway, Method::POST, CUSTOMERS_V2, "k", &bronze).await;
    expect_problem(broken, 422, "idempotency-key-reused").await;
    let path = format!("{CUSTOMERS_V2}/c-2");
    let other_method = keyed(&gateway, Method::PUT, &path, "k", &grace).await;
    expect_problem(other_method, 422, "idempotency-key-reused").await;
    let stored = gateway.probe().stored("customer", "c-2").await;
    assert_eq!(stored.expect("stored").revision, 1);
    assert_eq!(gateway.probe().events().await.len(), 1);

    // Keys are scoped per contract, and case matters: these are new keys.
    let order = example("order", "v1.valid.natural.json");
    let in_another_contract = keyed(
        &gateway,
        Method::POST,
        "/contracts/order/v1/records",
        "k",
        &order,
    )
    .await;
    assert_eq!(in_another_contract.status(), 201);
    let in_another_case = keyed(&gateway, Method::PUT, &path, "K", &platinum).await;
    assert_eq!(in_another_case.status(), 200);
    assert_eq!(gateway.probe().idempotency_keys().await, ["K", "k", "k"]);
}

async fn a_refused_request_keeps_no_key_and_can_be_retried(backend: Backend) {
    let gateway = TestGateway::on(backend, &example_contracts()).await;
    let invalid = data("payloads/customer-v2-several-violations.json");
    let refused = keyed(&gateway, Method::POST, CUSTOMERS_V2, "k", &invalid).await;
    expect_problem(refused, 422, "contract-violation").await;
    assert!(gateway.probe().idempotency_keys().await.is_empty());
    nothing_written(&gateway).await;
    let grace = data("payloads/customer-v2.json");
    let created = keyed(&gateway, Method::POST, CUSTOMERS_V2, "k", &grace).await;
    assert_eq!(created.status(), 201);
    assert_eq!(header(&created, "idempotent-replayed"), "");

    // Refused by the owner (a stale If-Match): retried with the same key
    // and body once the precondition is mended, it is a new write.
    let path = format!("{CUSTOMERS_V2}/c-2");
    let headers = |if_match| [("idempotency-key", "k-2"), ("if-match", if_match)];
    let stale = gateway
        .send_with(Method::PUT, &path, &grace, &headers("\"7\""))
        .await;
    expect_problem(stale, 412, "stale-revision").await;
    assert_eq!(gateway.probe().idempotency_keys().await, ["k"]);
    let mended = gateway
        .send_with(Method::PUT, &path, &grace, &headers("\"1\""))
        .await;
    assert_eq!(mended.status(), 200);
    assert_eq!(header(&mended, "etag"), "\"2\"");
}

async fn a_key_is_kept_for_its_ttl_then_reused_as_new_and_swept(backend: Backend) {
    let gateway = TestGateway::on_configured(backend, &example_contracts(), |config| {
        config.idempotency.ttl_seconds = 1;
    })
    .await;
    let grace = data("payloads/customer-v2.json");
    let path = format!("{CUSTOMERS_V2}/c-2");
    let created = keyed(&gateway, Method::PUT, &path, "a", &grace).await;
    assert_eq!(created.status(), 201);
    let mut ada = data("payloads/customer-v2.json");
    ada["id"] = json!("c-3");
    let other = keyed(
        &gateway,
        Method::PUT,
        &format!("{CUSTOMERS_V2}/c-3"),
        "b",
        &ada,
    )
    .await;
    assert_eq!(other.status(), 201);

    tokio::time::sleep(Duration::from_millis(1200)).await;
    // Expired: the same request is a new write, not a replay.
    let again = keyed(&gateway, Method::PUT, &path, "a", &grace).await;
    assert_eq!(again.status(), 200);
    assert_eq!(header(&again, "etag"), "\"2\"");
    assert_eq!(header(&again, "idempotent-replayed"), "");
    // That request also set off a sweep of every expired key: `b` goes.
    let mut kept = gateway.probe().idempotency_keys().await;
    for _ in 0..50 {
        if kept == ["a"] {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        kept = gateway.probe().idempotency_keys().await;
    }
    assert_eq!(kept, ["a"]);
}

async fn a_malformed_key_is_400_and_changes_nothing(backend: Backend) {
    let gateway = TestGateway::on(backend, &example_contracts()).await;
    let grace = data("payloads/customer-v2.json");
    let too_long = "k".repeat(256);
    for bad in [
        "",
        "\"\"",
        "\"open",
        "\"k\";p=1",
        "two words",
        too_long.as_str(),
    ] {
        let response = keyed(&gateway, Method::POST, CUSTOMERS_V2, bad, &grace).await;
        expect_problem(response, 400, "invalid-idempotency-key").await;
    }
    nothing_written(&gateway).await;
}

/// Half the writers go to a second gateway instance on the same database:
/// the two share no memory, so the owner's transaction decides.
async fn fifty_concurrent_writers_with_one_key_and_one_body_write_once(backend: Backend) {
    let gateway = Arc::new(TestGateway::on(backend, &example_contracts()).await);
    let instances = [gateway.clone(), Arc::new(gateway.another_instance().await)];
    let grace = data("payloads/customer-v2.json");
    let mut writers = tokio::task::JoinSet::new();
    for writer in 0..50 {
        let (gateway, grace) = (instances[writer % 2].clone(), grace.clone());
        writers.spawn(async move {
            let response = keyed(&gateway, Method::POST, CUSTOMERS_V2, "\"one\"", &grace).await;
            let status = response.status().as_u16();
            let (replayed, etag) = (
                header(&response, "idempotent-replayed"),
                header(&response, "etag"),
            );
            let body: Value = response.json().await.expect("a JSON answer");
            (status, replayed, etag, body["type"].clone())
        });
    }
    let mut first_answers = 0;
    let in_flight = format!("{}idempotency-key-in-flight", contractgate::http::TYPE_BASE);
    for answer in writers.join_all().await {
        match answer {
            (201, replayed, etag, _) if etag == "\"1\"" => {
                first_answers += usize::from(replayed.is_empty());
            }
            (409, _, _, kind) if kind == in_flight.as_str() => {}
            other => panic!("unexpected answer {other:?}"),
        }
    }
    assert_eq!(first_answers, 1, "one writer is answered as the first");
    let stored = gateway.probe().stored("customer", "c-2").await;
    assert_eq!(stored.expect("stored").revision, 1);
    assert_eq!(gateway.probe().events().await.len(), 1);
}

on_every_owner!(
    a_retry_gets_the_first_answer_replayed_and_nothing_is_written_again,
    a_key_reused_for_another_request_is_422_and_changes_nothing,
    a_refused_request_keeps_no_key_and_can_be_retried,
    a_key_is_kept_for_its_ttl_then_reused_as_new_and_swept,
    a_malformed_key_is_400_and_changes_nothing,
    fifty_concurrent_writers_with_one_key_and_one_body_write_once,
);

/// A request is held in flight by holding the embedded owner's write lock,
/// which no server-based owner lets a test do as simply.
#[tokio::test]
async fn a_retry_while_the_first_request_is_in_flight_is_409_with_retry_after() {
    let gateway = Arc::new(TestGateway::spawn(&example_contracts()).await);
    let grace = data("payloads/customer-v2.json");
    let mut holder = hold_write_lock(&gateway).await;
    let first = {
        let (gateway, grace) = (gateway.clone(), grace.clone());
        tokio::spawn(async move {
            let response = keyed(&gateway, Method::POST, CUSTOMERS_V2, "k", &grace).await;
            response.status().as_u16()
        })
    };
    // Long enough for the first to wait on the lock, well within SQLite's
    // busy timeout.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let retry = keyed(&gateway, Method::POST, CUSTOMERS_V2, "k", &grace).await;
    assert_eq!(header(&retry, "retry-after"), "1");
    expect_problem(retry, 409, "idempotency-key-in-flight").await;
    holder.execute("ROLLBACK").await.expect("released");
    assert_eq!(first.await.expect("answered"), 201);
    let later = keyed(&gateway, Method::POST, CUSTOMERS_V2, "k", &grace).await;
    assert_eq!(later.status(), 201);
    assert_eq!(header(&later, "idempotent-replayed"), "true");
}
