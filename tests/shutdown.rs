//! SIGTERM: the real binary stops accepting, answers every request in
//! flight and exits 0; past the configured deadline it exits anyway.

mod support;

use std::path::Path;
use std::time::Duration;

use serde_json::json;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{Connection, Executor};
use support::{copy_dir, data, example_contracts, Served};

/// A working folder with the example contracts and an optional config.
fn work(config: Option<&str>) -> tempfile::TempDir {
    let work = tempfile::tempdir().unwrap();
    copy_dir(&example_contracts(), &work.path().join("contracts"));
    if let Some(config) = config {
        std::fs::write(work.path().join("contractgate.yaml"), config).unwrap();
    }
    work
}

/// Holds the embedded database's write lock, so writes wait in flight.
async fn lock(work: &Path) -> SqliteConnection {
    let options = SqliteConnectOptions::new().filename(work.join("data/contractgate.db"));
    let mut connection = SqliteConnection::connect_with(&options).await.unwrap();
    connection.execute("BEGIN EXCLUSIVE").await.unwrap();
    connection
}

/// Starts `count` creates at once; each task returns its status, or 0 when
/// no answer came.
fn post_many(served: &Served, count: usize) -> Vec<tokio::task::JoinHandle<u16>> {
    (0..count)
        .map(|n| {
            let url = served.url("/contracts/customer/v2/records");
            let mut body = data("payloads/customer-v2.json");
            body["id"] = json!(format!("c-{n}"));
            tokio::spawn(async move {
                match reqwest::Client::new().post(url).json(&body).send().await {
                    Ok(response) => response.status().as_u16(),
                    Err(_) => 0,
                }
            })
        })
        .collect()
}

#[tokio::test]
async fn every_request_in_flight_at_sigterm_is_answered() {
    let work = work(None);
    let served = Served::start(work.path(), &[], &[]);
    let mut holder = lock(work.path()).await;
    let requests = post_many(&served, 6);
    // In flight: parsed, validated and waiting for the owner's lock (well
    // within SQLite's 5 s busy timeout, which would answer 503).
    tokio::time::sleep(Duration::from_millis(1000)).await;
    served.signal("TERM");
    tokio::time::sleep(Duration::from_millis(300)).await;
    // No longer accepting…
    let refused = reqwest::Client::new()
        .get(served.url("/healthz"))
        .timeout(Duration::from_secs(2))
        .send()
        .await;
    assert!(refused.is_err(), "a new request was accepted after SIGTERM");
    // …but those in flight go through once the owner can write.
    holder.execute("ROLLBACK").await.unwrap();
    for request in requests {
        assert_eq!(request.await.unwrap(), 201);
    }
    let (code, stderr) = served.exit(Duration::from_secs(10));
    assert_eq!(code, Some(0), "{stderr}");
}

#[tokio::test]
async fn past_the_deadline_the_process_exits_anyway() {
    let work = work(Some("shutdown: { deadline_ms: 300 }\n"));
    let served = Served::start(work.path(), &[], &[]);
    let mut holder = lock(work.path()).await;
    let requests = post_many(&served, 1);
    tokio::time::sleep(Duration::from_millis(300)).await;
    served.signal("TERM");
    // The lock outlives the deadline: the process does not wait for it.
    let (code, stderr) = served.exit(Duration::from_secs(3));
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("shutdown deadline reached"), "{stderr}");
    holder.execute("ROLLBACK").await.unwrap();
    for request in requests {
        assert_eq!(request.await.unwrap(), 0, "abandoned, not answered");
    }
}
