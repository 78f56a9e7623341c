//! Group commit on every owner: writes that queue while the owner is busy
//! are committed as one batch, written set-wise, and each still gets its
//! own outcome — a stale `If-Match` or a create of an existing key fails
//! alone while the rest of its batch commits.

mod support;

use std::sync::Arc;
use std::time::Duration;

use contractgate::config::SystemConfig;
use reqwest::Method;
use serde_json::{json, Value};
use sqlx::{Connection, Executor};
use support::{example_contracts, Backend, Storage, TestGateway};

fn customer(id: &str, name: &str) -> Value {
    json!({"id": id, "name": name, "email": "ada@example.com"})
}

/// A second session that keeps the owner busy: SQLite's write lock, or on
/// a server the lock of the record `key`, so the writer's next batch waits
/// and the writes sent meanwhile queue behind it. `ROLLBACK` releases it.
async fn hold(storage: &Storage, key: &str) -> sqlx::AnyConnection {
    sqlx::any::install_default_drivers();
    let url = match storage {
        Storage::Sqlite(_) => format!("sqlite://{}", storage.sqlite_file().display()),
        _ => storage.url(),
    };
    let mut connection = sqlx::AnyConnection::connect(&url)
        .await
        .expect("a second session");
    let statements = match storage {
        Storage::Sqlite(_) => vec!["BEGIN EXCLUSIVE".to_owned()],
        _ => vec![
            "BEGIN".to_owned(),
            format!(
                "SELECT revision FROM {} WHERE record_key = '{key}' FOR UPDATE",
                storage.table("customer")
            ),
        ],
    };
    for statement in statements {
        connection
            .execute(statement.as_str())
            .await
            .expect("the lock");
    }
    connection
}

/// Writes committed in a batch of more than `size`, from `/metrics`.
async fn batches_over(gateway: &TestGateway, size: &str) -> u64 {
    let text = gateway.get("/metrics").await.text().await.unwrap();
    let value = |line: &str| -> u64 {
        let number = line.rsplit(' ').next().unwrap();
        number.parse::<f64>().unwrap() as u64
    };
    let count = text
        .lines()
        .find(|l| l.starts_with("contractgate_commit_batch_size_count"))
        .map(value)
        .unwrap();
    let within = text
        .lines()
        .find(|l| {
            l.starts_with("contractgate_commit_batch_size_bucket")
                && l.contains(&format!("le=\"{size}\""))
        })
        .map(value)
        .unwrap();
    count - within
}

/// A request of the batch and the status it must get.
#[derive(Clone)]
struct Sent {
    method: Method,
    id: &'static str,
    body: Value,
    headers: Vec<(&'static str, &'static str)>,
    status: u16,
}

impl Sent {
    async fn respond(&self, gateway: &TestGateway) -> reqwest::Response {
        let path = match self.method {
            Method::POST => "/contracts/customer/v1/records".to_owned(),
            _ => format!("/contracts/customer/v1/records/{}", self.id),
        };
        if self.method == Method::DELETE {
            gateway.delete(&path, &self.headers).await
        } else {
            let method = self.method.clone();
            gateway
                .send_with(method, &path, &self.body, &self.headers)
                .await
        }
    }

    /// Its key, the status it got and the one it must get.
    async fn send(&self, gateway: &TestGateway) -> (&'static str, u16, u16) {
        let status = self.respond(gateway).await.status().as_u16();
        (self.id, status, self.status)
    }
}

async fn a_coalesced_batch_commits_each_write_with_its_own_outcome(backend: Backend) {
    // One writer task, so that every queued write meets in one batch.
    let gateway = Arc::new(
        TestGateway::on_configured(backend, &example_contracts(), |config| {
            for system in config.systems.values_mut() {
                match system {
                    SystemConfig::Postgres { connections, .. }
                    | SystemConfig::Mysql { connections, .. } => *connections = 2,
                    _ => {}
                }
            }
        })
        .await,
    );
    for id in ["c-0", "c-1", "c-2", "c-5", "c-6"] {
        let created = gateway.post("customer", 1, &customer(id, "Ada")).await;
        assert_eq!(created.status(), 201, "{id}");
    }
    let sent = |method, id, name, headers: &[(&'static str, &'static str)], status| Sent {
        method,
        id,
        body: customer(id, name),
        headers: headers.to_vec(),
        status,
    };
    let writes = [
        // A replace at the revision it read.
        sent(Method::PUT, "c-1", "Bea", &[("if-match", "\"1\"")], 200),
        // A replace at a revision that is gone.
        sent(Method::PUT, "c-2", "Cy", &[("if-match", "\"7\"")], 412),
        // A create, and one of a key that exists.
        sent(Method::POST, "c-3", "Di", &[], 201),
        sent(Method::POST, "c-6", "Ed", &[], 409),
        // A create under an Idempotency-Key.
        sent(
            Method::POST,
            "c-4",
            "Flo",
            &[("idempotency-key", "k-4")],
            201,
        ),
        sent(Method::DELETE, "c-5", "", &[], 204),
    ];
    let holder = hold(&gateway.storage, "c-0").await;
    // The writer's current batch waits on the held lock…
    let first = {
        let gateway = gateway.clone();
        let write = sent(Method::PUT, "c-0", "Gus", &[], 200);
        tokio::spawn(async move { write.send(&gateway).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    // …while these queue behind it.
    let mut tasks = Vec::new();
    for write in writes.clone() {
        let gateway = gateway.clone();
        tasks.push(tokio::spawn(async move { write.send(&gateway).await }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut holder = holder;
    holder.execute("ROLLBACK").await.expect("released");
    assert_eq!(first.await.unwrap(), ("c-0", 200, 200));
    for task in tasks {
        let (id, status, expected) = task.await.unwrap();
        assert_eq!(status, expected, "{id}");
    }
    assert!(
        batches_over(&gateway, "4").await >= 1,
        "the queued writes were not committed as one batch"
    );

    let probe = gateway.probe();
    let names = |id: &'static str| {
        let probe = gateway.probe();
        async move {
            probe
                .stored("customer", id)
                .await
                .map(|s| s.body["full_name"].clone())
        }
    };
    assert_eq!(names("c-1").await, Some(json!("Bea")));
    assert_eq!(names("c-2").await, Some(json!("Ada")));
    assert_eq!(names("c-3").await, Some(json!("Di")));
    assert_eq!(names("c-4").await, Some(json!("Flo")));
    assert_eq!(names("c-6").await, Some(json!("Ada")));
    assert_eq!(names("c-5").await, None);
    assert_eq!(probe.records("customer").await, 6);
    assert_eq!(probe.stored("customer", "c-1").await.unwrap().revision, 2);
    // One event per write that committed, each with its revision.
    let mut events: Vec<(String, String, u64)> = probe
        .events()
        .await
        .iter()
        .skip(5)
        .map(|e| {
            let subject = e["subject"].as_str().unwrap().to_owned();
            let kind = e["type"].as_str().unwrap().to_owned();
            (subject, kind, e["revision"].as_u64().unwrap())
        })
        .collect();
    events.sort();
    let expected = [
        ("c-0", "customer.replaced", 2),
        ("c-1", "customer.replaced", 2),
        ("c-3", "customer.created", 1),
        ("c-4", "customer.created", 1),
        ("c-5", "customer.deleted", 1),
    ];
    let expected: Vec<(String, String, u64)> = expected
        .iter()
        .map(|(s, k, r)| (s.to_string(), k.to_string(), *r))
        .collect();
    assert_eq!(events, expected);
    // The ledger kept the keyed create: a retry is answered from it.
    let retry = writes[4].respond(&gateway).await;
    assert_eq!(retry.status(), 201);
    assert_eq!(support::header(&retry, "idempotent-replayed"), "true");
    assert_eq!(probe.idempotency_keys().await, ["k-4"]);
}

on_every_owner!(a_coalesced_batch_commits_each_write_with_its_own_outcome);
