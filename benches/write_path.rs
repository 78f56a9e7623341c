//! Write throughput: the gateway's POST (validate, upgrade, commit with the
//! change event) against a raw single-row INSERT into an SQLite file with the
//! same durability settings. Run: `cargo bench --bench write_path`.
//! Figures go in the README; nothing here asserts a speed.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use contractgate::config::Config;
use contractgate::gateway::Gateway;
use serde_json::json;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

const WRITES: usize = 2_000;

fn customer(i: usize) -> serde_json::Value {
    json!({"id": format!("c-{i}"), "name": format!("Customer {i}"), "email": format!("c{i}@example.com"),
           "phone": "+441234567890", "tags": ["a", "b"]})
}

async fn raw_inserts(dir: &Path) -> Duration {
    let options = SqliteConnectOptions::new()
        .filename(dir.join("raw.db"))
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full);
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .expect("raw database");
    sqlx::query("CREATE TABLE customer (record_key TEXT PRIMARY KEY, body TEXT NOT NULL)")
        .execute(&pool)
        .await
        .expect("raw table");
    let start = Instant::now();
    for i in 0..WRITES {
        sqlx::query("INSERT INTO customer (record_key, body) VALUES (?, ?)")
            .bind(format!("c-{i}"))
            .bind(customer(i).to_string())
            .execute(&pool)
            .await
            .expect("raw insert");
    }
    start.elapsed()
}

async fn gateway_posts(dir: &Path, clients: usize) -> Duration {
    let contracts = Path::new(env!("CARGO_MANIFEST_DIR")).join("contracts");
    let gateway = Arc::new(
        Gateway::open(Config::embedded(&contracts, dir))
            .await
            .expect("gateway"),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("port");
    let url = format!(
        "http://{}/contracts/customer/v1/records",
        listener.local_addr().expect("address")
    );
    tokio::spawn(contractgate::http::serve(
        listener,
        gateway,
        std::future::pending(),
    ));
    let client = reqwest::Client::new();
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (client, url) = (client.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            for i in (c..WRITES).step_by(clients) {
                let response = client
                    .post(&url)
                    .json(&customer(i))
                    .send()
                    .await
                    .expect("post");
                assert_eq!(response.status(), 201);
            }
        }));
    }
    for task in tasks {
        task.await.expect("client");
    }
    start.elapsed()
}

fn per_second(elapsed: Duration) -> f64 {
    WRITES as f64 / elapsed.as_secs_f64()
}

#[tokio::main]
async fn main() {
    println!("{WRITES} writes, SQLite WAL, synchronous=FULL");
    let raw = raw_inserts(tempfile::tempdir().expect("dir").path()).await;
    println!(
        "raw INSERT, one per transaction:  {:>8.0} writes/s",
        per_second(raw)
    );
    for clients in [1, 16, 64] {
        let gateway = gateway_posts(tempfile::tempdir().expect("dir").path(), clients).await;
        println!(
            "gateway POST v1→v2, {clients:>2} client(s): {:>8.0} writes/s ({:.2}× raw)",
            per_second(gateway),
            raw.as_secs_f64() / gateway.as_secs_f64()
        );
    }
}
