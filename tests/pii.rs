//! PII never leaves in logs, change events, the rejection store or
//! messages: the real binary logs at `RUST_LOG=debug` (JSON lines) while
//! writes carry PII, valid and invalid; then its stderr, the owner's
//! outbox and `/rejections` are searched for every PII value.

mod support;

use std::time::Duration;

use contractgate::config::{Limits, EMBEDDED_SYSTEM};
use reqwest::Client;
use serde_json::{json, Value};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Row};
use support::{copy_dir, test_contracts, Backend, Served, Storage, TestGateway};

/// The PII values the writes carry; none may leave.
const SECRETS: [&str; 6] = [
    "ada.secret@example.com",
    "+4915550001234",
    "bob.secret@example.com",
    "carol-secret-not-an-email",
    "dave.secret@example.com",
    "erin-secret-bad",
];

fn assert_no_secret(place: &str, text: &str) {
    for secret in SECRETS {
        assert!(
            !text.contains(secret),
            "{secret} leaked into {place}:\n{text}"
        );
    }
}

/// Sends a request and returns its status and body text.
async fn send(request: reqwest::RequestBuilder) -> (u16, String) {
    let response = request.send().await.expect("an answer");
    (
        response.status().as_u16(),
        response.text().await.expect("a body"),
    )
}

#[tokio::test]
async fn pii_is_absent_from_logs_events_rejections_and_messages() {
    let work = tempfile::tempdir().unwrap();
    copy_dir(&test_contracts("ops"), &work.path().join("contracts"));
    std::fs::write(
        work.path().join("contractgate.yaml"),
        "log: { format: json }\n",
    )
    .unwrap();
    let served = Served::start(work.path(), &[], &[("RUST_LOG", "debug")]);
    let client = Client::new();
    let records = served.url("/contracts/customer/v2/records");
    let writes = [
        (
            client.post(&records).json(&json!({
                "id": "c-1", "full_name": "Ada", "email": SECRETS[0], "phone": SECRETS[1], "tier": "gold"
            })),
            201,
        ),
        (
            client
                .post(served.url("/contracts/customer/v1/records"))
                .json(&json!({"id": "c-2", "name": "Bob", "email": SECRETS[2]})),
            201,
        ),
        (
            client.post(&records).json(&json!({
                "id": "c-3", "full_name": "Carol", "email": SECRETS[3], "phone": "12", "tier": "gold"
            })),
            422,
        ),
        (
            client
                .patch(format!("{records}/c-1"))
                .json(&json!({"email": SECRETS[4]})),
            200,
        ),
        (
            client
                .post(served.url("/contracts/customer/v1/records"))
                .json(&json!({"id": "c-5", "email": SECRETS[5]})),
            422,
        ),
    ];
    for (request, expected) in writes {
        let (status, body) = send(request).await;
        assert_eq!(status, expected, "{body}");
        // A written record comes back to its writer; a problem quotes none.
        if status >= 400 {
            assert_no_secret("a problem", &body);
        }
    }
    let (status, kept) = send(client.get(served.url("/rejections?contract=customer"))).await;
    assert_eq!(status, 200);
    let kept_json: Value = serde_json::from_str(&kept).unwrap();
    assert_eq!(
        kept_json["rejections"].as_array().map(Vec::len),
        Some(2),
        "{kept}"
    );
    assert!(kept.contains("[redacted]"), "{kept}");
    assert_no_secret("the rejection store", &kept);

    served.signal("TERM");
    let (code, stderr) = served.exit(Duration::from_secs(10));
    assert_eq!(code, Some(0), "{stderr}");
    // The log did record the traffic, with the request ids…
    let lines: Vec<Value> = stderr
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    assert!(lines.len() > 10, "too few JSON log lines:\n{stderr}");
    assert!(
        lines.iter().any(|line| {
            let in_request = line["spans"].as_array().is_some_and(|spans| {
                spans
                    .iter()
                    .any(|span| span["request_id"].as_str().is_some_and(|id| !id.is_empty()))
            });
            line["fields"]["message"] == "write rejected" && in_request
        }),
        "no rejection logged with its request id:\n{stderr}"
    );
    // …and none of its values.
    assert_no_secret("the log", &stderr);

    let mut outbox = SqliteConnectOptions::new()
        .filename(work.path().join("data/contractgate.db"))
        .connect()
        .await
        .unwrap();
    let events: Vec<String> = sqlx::query("SELECT event FROM contractgate_outbox ORDER BY seq")
        .fetch_all(&mut outbox)
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(events.len(), 3, "two creates and a patch: {events:?}");
    for event in &events {
        let event: Value = serde_json::from_str(event).unwrap();
        assert_eq!(event["data"]["email"], "[redacted]", "{event}");
    }
    assert_no_secret("the change events", &events.join("\n"));
}

#[tokio::test]
async fn a_system_allowed_to_see_pii_gets_it_in_its_events() {
    let storage = Storage::create(Backend::Sqlite).await;
    let mut config = storage.config(&test_contracts("ops"), Limits::default());
    config.pii_readers.insert(EMBEDDED_SYSTEM.to_owned());
    let gateway = TestGateway::with_config(config, storage).await;
    let body = json!({"id": "c-1", "full_name": "Ada", "email": SECRETS[0], "tier": "gold"});
    assert_eq!(gateway.post("customer", 2, &body).await.status(), 201);
    let events = gateway.probe().events().await;
    assert_eq!(events[0]["data"]["email"], SECRETS[0], "{events:?}");
}
