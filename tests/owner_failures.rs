//! When the owner cannot take a write: 503 (busy, with Retry-After) or 504
//! (slower than the configured timeout), and nothing half-written.

mod support;

use std::time::Duration;

use contractgate::config::Limits;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{Connection, Executor};
use support::{
    assert_detail, data, example_contracts, expect_problem, header, nothing_written, TestGateway,
};

/// A second writer holding the database's write lock, as another process
/// sharing the file would.
async fn lock(gateway: &TestGateway) -> SqliteConnection {
    let mut connection = SqliteConnection::connect_with(
        &SqliteConnectOptions::new().filename(gateway.storage.sqlite_file()),
    )
    .await
    .expect("a second connection");
    connection
        .execute("BEGIN EXCLUSIVE")
        .await
        .expect("the write lock");
    connection
}

#[tokio::test]
async fn a_locked_database_is_503_with_retry_after_and_nothing_written() {
    let gateway = TestGateway::spawn(&example_contracts()).await;
    let mut holder = lock(&gateway).await;
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
    let mut holder = lock(&gateway).await;
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
