//! `GET /metrics` after known traffic: the Prometheus text is parsed and
//! every count the traffic implies is checked exactly.

mod support;

use std::collections::BTreeMap;

use reqwest::Method;
use serde_json::json;
use support::{data, example_contracts, header, TestGateway};

/// The samples of a Prometheus text exposition: `name{labels}` → value.
fn parse(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').expect("`series value`");
            (series.to_owned(), value.parse().expect("a number"))
        })
        .collect()
}

async fn scrape(gateway: &TestGateway) -> BTreeMap<String, f64> {
    let response = gateway.get("/metrics").await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        header(&response, "content-type"),
        "text/plain; version=0.0.4; charset=utf-8"
    );
    parse(&response.text().await.expect("a body"))
}

fn sample(samples: &BTreeMap<String, f64>, series: &str) -> f64 {
    *samples
        .get(series)
        .unwrap_or_else(|| panic!("no {series} in {samples:#?}"))
}

#[tokio::test]
async fn known_traffic_shows_exact_counts() {
    let gateway = TestGateway::spawn(&example_contracts()).await;
    // 3 accepted in the stored version, 2 sent in deprecated v1 and
    // upgraded, 1 rejected, 1 conflict (the key exists), 1 read, 1 unknown
    // record.
    // The stored version is v3: writes in it are checked once.
    let stored = |id: &str| json!({"id": id, "full_name": "Ada", "email": "ada@example.com", "tier": "gold"});
    for id in ["c-10", "c-11", "c-12"] {
        assert_eq!(gateway.post("customer", 3, &stored(id)).await.status(), 201);
    }
    for id in ["c-20", "c-21"] {
        let mut body = data("payloads/customer-v1.json");
        body["id"] = json!(id);
        assert_eq!(gateway.post("customer", 1, &body).await.status(), 201);
    }
    let invalid = json!({"id": "c-30", "full_name": "", "email": "x@example.com", "tier": "gold"});
    assert_eq!(gateway.post("customer", 3, &invalid).await.status(), 422);
    let taken = stored("c-10");
    assert_eq!(gateway.post("customer", 3, &taken).await.status(), 409);
    assert_eq!(
        gateway
            .get("/contracts/customer/v2/records/c-10")
            .await
            .status(),
        200
    );
    assert_eq!(
        gateway
            .get("/contracts/customer/v2/records/c-99")
            .await
            .status(),
        404
    );
    // A version that does not resolve is no contract version's traffic.
    assert_eq!(
        gateway
            .send(Method::POST, "/contracts/customer/v9/records", &taken)
            .await
            .status(),
        404
    );

    let samples = scrape(&gateway).await;
    let requests = |version: &str, outcome: &str, status: u16| {
        sample(
            &samples,
            &format!(
                r#"contractgate_requests_total{{contract="customer",version="{version}",outcome="{outcome}",status="{status}"}}"#
            ),
        )
    };
    assert_eq!(requests("v3", "accepted", 201), 3.0);
    assert_eq!(requests("v1", "upgraded", 201), 2.0);
    assert_eq!(requests("v3", "rejected", 422), 1.0);
    assert_eq!(requests("v3", "conflict", 409), 1.0);
    assert_eq!(requests("v2", "read", 200), 1.0);
    assert_eq!(requests("v2", "failed", 404), 1.0);
    let request_series = samples
        .keys()
        .filter(|series| series.starts_with("contractgate_requests_total"))
        .count();
    assert_eq!(request_series, 6, "nothing else was counted: {samples:#?}");
    assert_eq!(
        sample(
            &samples,
            r#"contractgate_deprecated_requests_total{contract="customer",version="v1",caller="anonymous"}"#
        ),
        2.0
    );
    // Every write was checked: five in v3, two upgraded from v1.
    assert_eq!(
        sample(
            &samples,
            r#"contractgate_validation_seconds_count{contract="customer"}"#
        ),
        5.0
    );
    assert_eq!(
        sample(
            &samples,
            r#"contractgate_upgrade_seconds_count{contract="customer"}"#
        ),
        2.0
    );
    // Six writes reached the owner (the rejected one did not), and two reads.
    assert_eq!(
        sample(
            &samples,
            r#"contractgate_owner_seconds_count{contract="customer",operation="commit"}"#
        ),
        6.0
    );
    assert_eq!(
        sample(
            &samples,
            r#"contractgate_owner_seconds_count{contract="customer",operation="read"}"#
        ),
        2.0
    );
    // Group commit: however the writes were batched, the batches held them all.
    assert_eq!(
        sample(
            &samples,
            r#"contractgate_commit_batch_size_sum{system="embedded"}"#
        ),
        6.0
    );
    assert_eq!(sample(&samples, "contractgate_registry_generation"), 1.0);
    assert_eq!(sample(&samples, "contractgate_last_reload_success"), 1.0);

    gateway.gateway().reload().await;
    let samples = scrape(&gateway).await;
    assert_eq!(sample(&samples, "contractgate_registry_generation"), 2.0);
    assert_eq!(
        sample(&samples, r#"contractgate_reloads_total{result="ok"}"#),
        1.0
    );
}
