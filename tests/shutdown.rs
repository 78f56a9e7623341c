//! SIGTERM: the real binary stops accepting, answers every request in
//! flight and exits 0; past the configured deadline it exits anyway. The
//! relay's last flush publishes what its loop had not.

mod support;

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::json;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{Connection, Executor};
use support::nats::{self, TestStream};
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

/// A connection to the embedded database.
async fn database(work: &Path) -> SqliteConnection {
    let options = SqliteConnectOptions::new().filename(work.join("data/contractgate.db"));
    SqliteConnection::connect_with(&options).await.unwrap()
}

/// Holds the embedded database's write lock, so writes wait in flight.
async fn lock(work: &Path) -> SqliteConnection {
    let mut connection = database(work).await;
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

/// The relay loop publishes an event within a poll of its commit, so a
/// flush has work only when the loop was held off until it stopped. Here
/// another instance holds the relay's lease (as a peer that was relaying
/// does), so this instance's loop skips every event; the peer's lease
/// lapses while this one shuts down, under a write lock held across SIGTERM
/// so that the loop, until it is stopped, cannot see it lapse. Only the
/// final flush can then publish, and it must publish every event.
#[tokio::test]
async fn at_sigterm_the_relay_publishes_what_its_loop_had_not() {
    let url = nats::shared_url();
    if !nats::available(&url).await {
        return;
    }
    let stream = TestStream::new(&url);
    let config = format!(
        "events: {{ publish_to: {{ url: \"{}\", stream: {} }} }}\n",
        stream.url, stream.name
    );
    let work = work(Some(&config));
    let served = Served::start(work.path(), &[], &[]);
    let mut db = database(work.path()).await;
    let in_ten_minutes = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis()
        + 600_000;
    db.execute(
        format!(
            "UPDATE contractgate_feed SET relay_holder = 'peer', relay_lease_until = {in_ten_minutes}"
        )
        .as_str(),
    )
    .await
    .unwrap();
    let client = reqwest::Client::new();
    for n in 0..5 {
        let mut body = data("payloads/customer-v2.json");
        body["id"] = json!(format!("c-{n}"));
        let url = served.url("/contracts/customer/v2/records");
        let created = client.post(url).json(&body).send().await.unwrap();
        assert_eq!(created.status(), 201);
    }
    let page = served.get_json("/changes").await;
    let feed = page["events"].as_array().cloned().unwrap_or_default();
    assert_eq!(feed.len(), 5, "{page}");
    drop(client);
    // Several of the loop's polls: it publishes nothing while the lease is
    // the peer's.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert!(stream.messages().await.is_empty(), "the loop published");
    db.execute("BEGIN EXCLUSIVE").await.unwrap();
    db.execute("UPDATE contractgate_feed SET relay_lease_until = 0")
        .await
        .unwrap();
    served.signal("TERM");
    // The server stops, the loop is stopped, the flush waits for the lock.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    db.execute("COMMIT").await.unwrap();
    let (code, stderr) = served.exit(Duration::from_secs(20));
    assert_eq!(code, Some(0), "{stderr}");
    stream.assert_holds(&feed).await;
}
