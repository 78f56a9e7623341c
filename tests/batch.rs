//! NDJSON bulk writes: one result line per input line, valid lines
//! committed with their events, the others reported by line number, on
//! every owner.

mod support;

use contractgate::config::Limits;
use reqwest::Method;
use serde_json::{json, Value};
use support::{expect_problem, test_contracts, Backend, Storage, TestGateway};

const BATCH: &str = "/contracts/customer/v1/records:batch";

/// Posts NDJSON lines; returns the result lines.
async fn post_lines(gateway: &TestGateway, path: &str, lines: &[String]) -> Vec<Value> {
    let body = lines.join("\n").into_bytes();
    let response = gateway
        .send_raw(Method::POST, path, "application/x-ndjson", body, &[])
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        support::header(&response, "content-type"),
        "application/x-ndjson"
    );
    let text = response.text().await.unwrap();
    text.lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

fn customer(id: &str) -> String {
    json!({"id": id, "name": "Ada Lovelace", "email": "ada@example.com"}).to_string()
}

fn statuses(results: &[Value]) -> Vec<(u64, u64)> {
    results
        .iter()
        .map(|r| (r["line"].as_u64().unwrap(), r["status"].as_u64().unwrap()))
        .collect()
}

async fn a_bulk_request_commits_exactly_the_valid_lines_and_reports_the_others(backend: Backend) {
    let gateway = TestGateway::on(backend, &support::example_contracts()).await;
    let lines = [
        customer("c-1"),
        r#"{"id": "c-2", "name": "#.to_owned(),
        json!({"id": 7, "name": "", "email": "nope"}).to_string(),
        customer("c-2"),
        String::new(),
        customer("c-3"),
        customer("c-1"),
    ];
    let results = post_lines(&gateway, BATCH, &lines).await;
    // Blank lines are not lines; the rest are numbered as sent.
    assert_eq!(
        statuses(&results),
        [(1, 201), (2, 400), (3, 422), (4, 201), (5, 201), (6, 200)]
    );
    assert_eq!(results[0]["key"], "c-1");
    assert_eq!(results[5]["revision"], 2);
    assert_eq!(
        results[2]["problem"]["type"],
        format!("{}contract-violation", contractgate::http::TYPE_BASE)
    );
    assert!(
        results[2]["problem"]["violations"]
            .as_array()
            .unwrap()
            .len()
            >= 3
    );
    let probe = gateway.probe();
    assert_eq!(probe.records("customer").await, 3);
    // Upgraded like any write: stored at the latest version.
    let stored = probe.stored("customer", "c-2").await.unwrap();
    let latest = gateway.get_json("/contracts/customer".to_owned()).await["versions"]
        .as_array()
        .unwrap()
        .len() as u32;
    assert_eq!(stored.version, latest);
    assert_ne!(stored.version, 1);
    let types: Vec<Value> = probe.event_attribute("type").await;
    assert_eq!(
        types,
        [
            "customer.created",
            "customer.created",
            "customer.created",
            "customer.replaced"
        ]
    );
}

async fn a_line_the_owner_refuses_fails_alone_in_its_chunk(backend: Backend) {
    let storage = Storage::create(backend).await;
    let ddl = std::fs::read_to_string(test_contracts("../sql/crm_customers.sql")).unwrap();
    storage.execute(&ddl).await;
    let config = storage.config(&test_contracts("existing-table"), Limits::default());
    let gateway = TestGateway::with_config(config, storage).await;
    let line = |id: &str, tier: &str| {
        json!({"id": id, "full_name": "Ada", "email": "ada@example.com", "tier": tier}).to_string()
    };
    // The table's CHECK refuses the bronze tier the contract allows.
    let lines = [
        line("c-1", "gold"),
        line("c-2", "bronze"),
        line("c-3", "gold"),
    ];
    let results = post_lines(&gateway, BATCH, &lines).await;
    assert_eq!(statuses(&results), [(1, 201), (2, 422), (3, 201)]);
    assert_eq!(
        results[1]["problem"]["type"],
        format!("{}owner-refused", contractgate::http::TYPE_BASE)
    );
    assert_eq!(gateway.probe().records("customer").await, 2);
    assert_eq!(gateway.probe().events().await.len(), 2);
}

async fn a_bulk_request_that_is_not_ndjson_is_415_and_an_unknown_contract_404(backend: Backend) {
    let gateway = TestGateway::on(backend, &support::example_contracts()).await;
    let body = customer("c-1").into_bytes();
    let json = gateway
        .send_raw(Method::POST, BATCH, "application/json", body.clone(), &[])
        .await;
    expect_problem(json, 415, "unsupported-media-type").await;
    let unknown = gateway
        .send_raw(
            Method::POST,
            "/contracts/nope/v1/records:batch",
            "application/x-ndjson",
            body,
            &[],
        )
        .await;
    expect_problem(unknown, 404, "unknown-contract").await;
    support::nothing_written(&gateway).await;
}

/// Chunks commit two at a time; a key written in several chunks still ends
/// as its last line says, its events in line order.
async fn a_key_written_in_several_chunks_ends_as_its_last_line(backend: Backend) {
    let gateway = TestGateway::on(backend, &support::example_contracts()).await;
    // Chunks are 2,000 lines: the key is in the first, second and third.
    let named =
        |name: &str| json!({"id": "c-0", "name": name, "email": "ada@example.com"}).to_string();
    let mut lines: Vec<String> = (1..=4100).map(|n| customer(&format!("c-{n}"))).collect();
    lines[0] = named("first");
    lines[2000] = named("second");
    lines[4000] = named("third");
    let results = post_lines(&gateway, BATCH, &lines).await;
    assert_eq!(results.len(), 4100);
    for (index, revision) in [(0, 1), (2000, 2), (4000, 3)] {
        assert_eq!(results[index]["key"], "c-0", "{}", results[index]);
        assert_eq!(results[index]["revision"], revision, "{}", results[index]);
    }
    let stored = gateway.probe().stored("customer", "c-0").await.unwrap();
    assert_eq!(
        (stored.revision, &stored.body["full_name"]),
        (3, &json!("third"))
    );
    let written: Vec<(Value, Value)> = gateway
        .probe()
        .events()
        .await
        .into_iter()
        .filter(|event| event["subject"] == "c-0")
        .map(|event| (event["type"].clone(), event["data"]["full_name"].clone()))
        .collect();
    assert_eq!(
        written,
        [
            (json!("customer.created"), json!("first")),
            (json!("customer.replaced"), json!("second")),
            (json!("customer.replaced"), json!("third")),
        ]
    );
    assert_eq!(gateway.probe().records("customer").await, 4098);
}

on_every_owner!(
    a_bulk_request_commits_exactly_the_valid_lines_and_reports_the_others,
    a_line_the_owner_refuses_fails_alone_in_its_chunk,
    a_bulk_request_that_is_not_ndjson_is_415_and_an_unknown_contract_404,
    a_key_written_in_several_chunks_ends_as_its_last_line,
);

/// curl sends `Expect: 100-continue` before a large body and waits up to a
/// second for the `100`; the gateway must ask for the body before it
/// answers, not answer first and leave the client waiting.
#[tokio::test]
async fn a_client_that_expects_100_continue_is_told_to_send_the_body() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let gateway = TestGateway::on(support::Backend::Sqlite, &support::example_contracts()).await;
    let body = format!("{}\n", customer("c-1"));
    let address = gateway.base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let head = format!(
        "POST {BATCH} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/x-ndjson\r\n\
         Content-Length: {}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut first = vec![0; 64];
    let read = tokio::time::timeout(std::time::Duration::from_secs(30), stream.read(&mut first))
        .await
        .expect("an interim answer before the body is sent")
        .unwrap();
    let first = String::from_utf8_lossy(&first[..read]).into_owned();
    assert!(first.starts_with("HTTP/1.1 100 Continue\r\n"), "{first}");
    stream.write_all(body.as_bytes()).await.unwrap();
    let mut rest = String::new();
    stream.read_to_string(&mut rest).await.unwrap();
    assert!(rest.contains("HTTP/1.1 200 OK"), "{rest}");
    assert!(rest.contains(r#""line":1,"status":201"#), "{rest}");
    assert_eq!(gateway.probe().records("customer").await, 1);
}
