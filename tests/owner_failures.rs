//! When the owner cannot take a write: 503 (busy, with Retry-After), 504
//! (slower than the configured timeout), a write its table refuses, and a
//! failure inside a group-committed batch — on the embedded SQLite owner,
//! made to fail the way a real database does: a lock held by another
//! connection, a trigger.

mod support;

use std::sync::Arc;
use std::time::Duration;

use contractgate::config::Limits;
use serde_json::{json, Value};
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{Connection, Executor};
use support::{
    assert_detail, data, example_contracts, expect_problem, header, hold_write_lock,
    nothing_written, TestGateway,
};

#[tokio::test]
async fn a_locked_database_is_503_with_retry_after_and_nothing_written() {
    let gateway = TestGateway::spawn(&example_contracts()).await;
    let mut holder = hold_write_lock(&gateway).await;
    // The owner waits out SQLite's busy timeout (5 s), then gives up.
    let response = gateway
        .post("customer", 2, &data("payloads/customer-v2.json"))
        .await;
    assert_eq!(header(&response, "retry-after"), "1");
    let problem = expect_problem(response, 503, "owner-unavailable").await;
    assert_detail(&problem, "nothing was written");
    holder.execute("ROLLBACK").await.unwrap();
    nothing_written(&gateway).await;
    // Once the lock is gone, the same write succeeds.
    assert_eq!(
        gateway
            .post("customer", 2, &data("payloads/customer-v2.json"))
            .await
            .status(),
        201
    );
}

#[tokio::test]
async fn an_owner_slower_than_the_timeout_is_504_and_nothing_written() {
    let limits = Limits {
        timeout_ms: 300,
        ..Limits::default()
    };
    let gateway = TestGateway::spawn_with(&example_contracts(), limits).await;
    let mut holder = hold_write_lock(&gateway).await;
    let response = gateway
        .post("customer", 2, &data("payloads/customer-v2.json"))
        .await;
    expect_problem(response, 504, "owner-timeout").await;
    holder.execute("ROLLBACK").await.unwrap();
    // The abandoned attempt must not commit later on its own.
    tokio::time::sleep(Duration::from_millis(500)).await;
    nothing_written(&gateway).await;
    assert_eq!(
        gateway
            .post("customer", 2, &data("payloads/customer-v2.json"))
            .await
            .status(),
        201
    );
}

/// Runs DDL on the gateway's database from a second connection, as an
/// administrator would.
async fn administer(gateway: &TestGateway, sql: &str) {
    let mut connection = SqliteConnection::connect_with(
        &SqliteConnectOptions::new().filename(gateway.storage.sqlite_file()),
    )
    .await
    .expect("a second connection");
    connection.execute(sql).await.expect("the DDL runs");
}

/// Posts customers with these keys at once while a second writer holds the
/// write lock, so that they queue and are committed in one batch when it is
/// released. Returns each key's status.
async fn post_in_one_batch(gateway: Arc<TestGateway>, keys: &[&str]) -> Vec<(String, u16)> {
    let mut holder = hold_write_lock(&gateway).await;
    let mut tasks = Vec::new();
    for key in keys {
        let gateway = gateway.clone();
        let mut body = data("payloads/customer-v2.json");
        body["id"] = json!(key);
        let key = key.to_string();
        tasks.push(tokio::spawn(async move {
            let status = gateway.post("customer", 2, &body).await.status().as_u16();
            (key, status)
        }));
    }
    // Long enough for every request to reach the owner's queue, well within
    // SQLite's busy timeout.
    tokio::time::sleep(Duration::from_millis(500)).await;
    holder.execute("ROLLBACK").await.unwrap();
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    statuses
}

#[tokio::test]
async fn a_write_refused_after_its_upsert_ran_is_undone_alone_and_its_batch_commits() {
    let gateway = Arc::new(TestGateway::spawn(&example_contracts()).await);
    // The record's INSERT succeeds; the change event's is refused, so only a
    // rollback to the write's savepoint removes the record again.
    administer(
        &gateway,
        "CREATE TRIGGER refuse BEFORE INSERT ON contractgate_outbox
         WHEN NEW.record_key = 'c-666'
         BEGIN SELECT RAISE(ABORT, 'customers numbered 666 are refused'); END",
    )
    .await;
    let keys = ["c-1", "c-2", "c-666", "c-3", "c-4"];
    for (key, status) in post_in_one_batch(gateway.clone(), &keys).await {
        let expected = if key == "c-666" { 422 } else { 201 };
        assert_eq!(status, expected, "{key}");
    }
    let probe = gateway.probe();
    assert_eq!(probe.records("customer").await, 4);
    assert_eq!(probe.stored("customer", "c-666").await, None);
    let subjects: Vec<Value> = probe.event_attribute("subject").await;
    assert_eq!(
        subjects,
        [json!("c-1"), json!("c-2"), json!("c-3"), json!("c-4")]
    );
    let refused = gateway
        .post(
            "customer",
            2,
            &json!({"id": "c-666", "full_name": "R", "email": "r@example.com", "tier": "gold"}),
        )
        .await;
    let problem = expect_problem(refused, 422, "owner-refused").await;
    assert_detail(&problem, "customers numbered 666 are refused");
    assert_detail(&problem, "nothing was written");
}

#[tokio::test]
async fn a_failing_owner_aborts_its_whole_batch_and_every_caller_hears_nothing_was_written() {
    let gateway = Arc::new(TestGateway::spawn(&example_contracts()).await);
    // Not a refusal: the owner itself fails on this one write (SQLite's
    // "string or blob too big"), while the others would succeed.
    administer(
        &gateway,
        "CREATE TRIGGER broken BEFORE INSERT ON contractgate_outbox
         WHEN NEW.record_key = 'c-13'
         BEGIN SELECT zeroblob(2000000000); END",
    )
    .await;
    let keys = ["c-1", "c-2", "c-13", "c-3"];
    for (key, status) in post_in_one_batch(gateway.clone(), &keys).await {
        assert_eq!(status, 503, "{key}");
    }
    nothing_written(&gateway).await;
    // The other writes succeed once the broken one is not among them.
    let again = gateway
        .post("customer", 2, &data("payloads/customer-v2.json"))
        .await;
    assert_eq!(again.status(), 201);
}

#[tokio::test]
async fn a_write_that_outlives_the_timeout_may_still_commit_and_then_emits_its_event() {
    let limits = Limits {
        timeout_ms: 100,
        ..Limits::default()
    };
    let gateway = TestGateway::spawn_with(&example_contracts(), limits).await;
    // A slow owner: this key's change event takes a 16-million-row join.
    administer(
        &gateway,
        "CREATE TABLE slow (x INTEGER);
         INSERT INTO slow WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 4000)
             SELECT x FROM n;
         CREATE TRIGGER slow BEFORE INSERT ON contractgate_outbox
         WHEN NEW.record_key = 'c-99'
         BEGIN SELECT count(*) FROM slow a, slow b WHERE a.x * b.x < 0; END",
    )
    .await;
    let mut body = data("payloads/customer-v2.json");
    body["id"] = json!("c-99");
    let problem = expect_problem(
        gateway.post("customer", 2, &body).await,
        504,
        "owner-timeout",
    )
    .await;
    assert_detail(&problem, "the write may still be applied");
    // The write was already in its transaction: it commits, with its event.
    let mut stored = None;
    for _ in 0..100 {
        stored = gateway.probe().stored("customer", "c-99").await;
        if stored.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(stored.map(|s| s.revision), Some(1));
    let events = gateway.probe().events().await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["type"], "customer.created");
    assert_eq!(events[0]["subject"], "c-99");
}

#[tokio::test]
async fn a_bulk_chunk_is_all_or_nothing_when_the_owner_fails_and_says_which_lines_committed() {
    let gateway = TestGateway::spawn(&example_contracts()).await;
    // The owner fails on line 2,050's write: its chunk (lines 2,001–2,100)
    // goes, the first chunk (lines 1–2,000) stays.
    administer(
        &gateway,
        "CREATE TRIGGER broken BEFORE INSERT ON contractgate_outbox
         WHEN NEW.record_key = 'c-2050'
         BEGIN SELECT zeroblob(2000000000); END",
    )
    .await;
    let body: Vec<String> = (1..=2100)
        .map(|i| {
            json!({"id": format!("c-{i}"), "name": "Ada", "email": "ada@example.com"}).to_string()
        })
        .collect();
    let response = gateway
        .send_raw(
            reqwest::Method::POST,
            "/contracts/customer/v1/records:batch",
            "application/x-ndjson",
            body.join("\n").into_bytes(),
            &[],
        )
        .await;
    let results: Vec<Value> = response
        .text()
        .await
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(results.len(), 2100);
    for (index, result) in results.iter().enumerate() {
        let line = index as u64 + 1;
        assert_eq!(result["line"], line);
        let expected = if line <= 2000 { 201 } else { 503 };
        assert_eq!(result["status"], expected, "line {line}: {result}");
    }
    assert_eq!(gateway.probe().records("customer").await, 2000);
    assert_eq!(gateway.probe().events().await.len(), 2000);
}
