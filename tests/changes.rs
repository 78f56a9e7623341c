//! `GET /changes`: a subscriber with no broker pages through the change
//! feed, or follows it live (Server-Sent Events) across a disconnect, and
//! ends with a replica equal to the owner.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use contractgate::config::{Limits, SystemConfig};
use reqwest::Method;
use serde_json::{json, Value};
use support::{example_contracts, expect_problem, test_contracts, Backend, Storage, TestGateway};

async fn pages_have_no_gaps_or_repeats(backend: Backend) {
    let gateway = TestGateway::on(backend, &example_contracts()).await;
    let writes = gateway
        .customer_history(&["c-1", "c-2", "c-3", "c-4"])
        .await;
    let order = support::example("order", "v1.valid.natural.json");
    assert_eq!(gateway.post("order", 1, &order).await.status(), 201);
    let (seen, next) = gateway.read_feed("limit=3").await;
    // Every journaled event once, in the order written (these writes were
    // sequential, so commit order is write order).
    let ids = |events: &[Value]| -> Vec<Value> { events.iter().map(|e| e["id"].clone()).collect() };
    assert_eq!(ids(&seen), ids(&gateway.probe().events().await));
    assert_eq!(seen.len(), writes + 1);
    assert_eq!(
        next,
        (writes + 1).to_string(),
        "positions count from 1 without gaps"
    );
    // Without `after`: from the start (nothing was pruned).
    let first = gateway.get_json("/changes?limit=2".into()).await;
    assert_eq!(first["events"][0]["id"], seen[0]["id"]);
    assert_eq!(first["next"], "2");
    // One contract's events only.
    let orders = gateway.all_changes(Some("order")).await;
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0]["type"], "order.created");
}

/// Server-Sent Events as they arrive on one connection.
struct Subscription {
    response: reqwest::Response,
    buffer: String,
}

/// One SSE event: its `id:` and its parsed `data:`.
struct Delivered {
    id: String,
    event: Value,
}

impl Subscription {
    /// Follows the feed, from `last_event_id` when resuming.
    async fn open(gateway: &TestGateway, last_event_id: Option<&str>) -> Subscription {
        let mut headers = vec![("accept", "text/event-stream")];
        headers.extend(last_event_id.map(|id| ("last-event-id", id)));
        let response = gateway.get_with("/changes", &headers).await;
        assert_eq!(response.status(), 200);
        assert_eq!(
            support::header(&response, "content-type"),
            "text/event-stream"
        );
        Subscription {
            response,
            buffer: String::new(),
        }
    }

    /// The next event (comments, such as keep-alives, are skipped).
    async fn next(&mut self) -> Delivered {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let field = |name: &str| {
                    block
                        .lines()
                        .find_map(|line| line.strip_prefix(name))
                        .map(|value| value.trim_start().to_owned())
                };
                if let (Some(id), Some(data)) = (field("id:"), field("data:")) {
                    let event = serde_json::from_str(&data).expect("a JSON event");
                    return Delivered { id, event };
                }
                continue;
            }
            let chunk = tokio::time::timeout(Duration::from_secs(20), self.response.chunk())
                .await
                .expect("an event within 20 s")
                .expect("the stream goes on")
                .expect("the stream is open");
            self.buffer
                .push_str(std::str::from_utf8(&chunk).expect("UTF-8"));
        }
    }
}

/// A subscriber's copy of the records, built from change events alone.
#[derive(Default)]
struct Replica {
    records: BTreeMap<String, Value>,
    last_id: String,
    applied: usize,
}

impl Replica {
    fn apply(&mut self, delivered: Delivered) {
        let key = delivered.event["subject"]
            .as_str()
            .expect("a key")
            .to_owned();
        if delivered.event["type"] == "widget.deleted" {
            self.records.remove(&key);
        } else {
            self.records.insert(key, delivered.event["data"].clone());
        }
        self.last_id = delivered.id;
        self.applied += 1;
    }
}

/// Writes to widgets `w-0`…`w-5`: creates, replaces, patches and deletes,
/// with pauses so a subscriber follows them live.
async fn write_widgets(gateway: &TestGateway, round: u64) {
    for n in 0..6_u64 {
        let path = format!("/contracts/widget/v2/records/w-{n}");
        let body = json!({"sku": format!("w-{n}"), "count": round * 10 + n});
        let response = match (round + n) % 4 {
            0 => gateway.delete(&path, &[]).await,
            1 => {
                gateway
                    .send(Method::PATCH, &path, &json!({"weight": 1.5}))
                    .await
            }
            _ => gateway.send(Method::PUT, &path, &body).await,
        };
        // A delete or patch of a widget not there yet is refused: no event.
        assert!(
            response.status().is_success() || response.status() == 404,
            "{path}: {}",
            response.status()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn a_subscriber_resuming_after_a_disconnect_ends_with_a_replica_equal_to_the_owner(
    backend: Backend,
) {
    let gateway = TestGateway::on(backend, &test_contracts("lifecycle")).await;
    let mut replica = Replica::default();
    write_widgets(&gateway, 0).await;
    let mut subscription = Subscription::open(&gateway, None).await;
    let writer = async {
        for round in 1..4 {
            write_widgets(&gateway, round).await;
        }
    };
    let reader = async {
        while replica.applied < 8 {
            replica.apply(subscription.next().await);
        }
    };
    tokio::join!(writer, reader);
    // The connection drops mid-stream; more writes happen meanwhile.
    drop(subscription);
    for round in 4..6 {
        write_widgets(&gateway, round).await;
    }
    let mut resumed = Subscription::open(&gateway, Some(&replica.last_id)).await;
    let journaled = gateway.probe().events().await.len();
    while replica.applied < journaled {
        let delivered = resumed.next().await;
        let expected = (replica.applied + 1).to_string();
        assert_eq!(delivered.id, expected, "no gap, no repeat");
        replica.apply(delivered);
    }
    let probe = gateway.probe();
    assert_eq!(
        probe.records("widget").await as usize,
        replica.records.len()
    );
    for (key, body) in &replica.records {
        let stored = probe.stored("widget", key).await.expect("in the owner");
        assert_eq!(&stored.body, body, "{key}");
    }
}

on_every_owner!(
    pages_have_no_gaps_or_repeats,
    a_subscriber_resuming_after_a_disconnect_ends_with_a_replica_equal_to_the_owner
);

#[tokio::test]
async fn a_cursor_older_than_retention_is_gone_and_the_feed_goes_on_after_it() {
    let storage = Storage::create(Backend::Sqlite).await;
    let mut config = storage.config(&example_contracts(), Limits::default());
    config.events.retention = Duration::ZERO;
    let gateway = TestGateway::with_config(config, storage).await;
    let writes = gateway.customer_history(&["c-1"]).await as u64;
    tokio::time::sleep(Duration::from_millis(5)).await;
    // The background sweep may have taken some already; together they take
    // every event (no relay: nothing waits for one), as the 410s below say.
    let pruned = contractgate::events::retention::prune_once(gateway.gateway()).await;
    assert!(pruned.expect("pruned") <= writes);
    for stale in ["/changes?after=0", "/changes?after=1"] {
        let problem = expect_problem(gateway.get(stale).await, 410, "cursor-expired").await;
        support::assert_detail(&problem, &format!("up to position {writes}"));
    }
    let follow = [("accept", "text/event-stream"), ("last-event-id", "2")];
    let resumed = gateway.get_with("/changes", &follow).await;
    expect_problem(resumed, 410, "cursor-expired").await;
    // Without a cursor the feed starts after what was deleted.
    let empty = gateway.get_json("/changes".into()).await;
    assert_eq!(empty, json!({"events": [], "next": writes.to_string()}));
    gateway.customer_history(&["c-2"]).await;
    let page = gateway.get_json(format!("/changes?after={writes}")).await;
    assert_eq!(page["events"][0]["subject"], "c-2");
}

#[tokio::test]
async fn bad_cursors_and_limits_are_refused_and_an_unknown_contract_is_not_found() {
    let gateway = TestGateway::spawn(&example_contracts()).await;
    for query in [
        "after=-1",
        "after=abc",
        "after=1.5",
        // Past the largest position a journal keeps: not a cursor, rather
        // than one that wraps round to the start of the feed.
        "after=9223372036854775808",
        "after=18446744073709551615",
        "limit=0",
        "limit=1001",
        "limit=x",
    ] {
        let problem = expect_problem(
            gateway.get(&format!("/changes?{query}")).await,
            400,
            "invalid-query",
        )
        .await;
        let name = query.split('=').next().unwrap_or_default();
        support::assert_detail(&problem, name);
    }
    let resumed = gateway
        .get_with("/changes", &[("last-event-id", "yesterday")])
        .await;
    let problem = expect_problem(resumed, 400, "invalid-query").await;
    support::assert_detail(&problem, "Last-Event-ID `yesterday`");
    let resumed = gateway
        .get_with("/changes", &[("last-event-id", "18446744073709551615")])
        .await;
    expect_problem(resumed, 400, "invalid-query").await;
    expect_problem(
        gateway.get("/changes?contract=nope").await,
        404,
        "unknown-contract",
    )
    .await;
}

#[tokio::test]
async fn with_several_systems_a_contract_picks_the_feed() {
    let data = tempfile::tempdir().expect("a folder");
    let sqlite = |file: &str| SystemConfig::Sqlite {
        path: data.path().join(file),
    };
    let (crm, shop) = (sqlite("crm.db"), sqlite("shop.db"));
    let storage = Storage::create(Backend::Sqlite).await;
    let mut config = storage.config(&example_contracts(), Limits::default());
    config.systems = [("crm".to_owned(), crm), ("shop".to_owned(), shop)].into();
    config.systems_declared = true;
    let gateway = TestGateway::with_config(config, storage).await;
    gateway.customer_history(&["c-1"]).await;
    let order = support::example("order", "v1.valid.natural.json");
    assert_eq!(gateway.post("order", 1, &order).await.status(), 201);
    let problem = expect_problem(gateway.get("/changes").await, 400, "contract-required").await;
    support::assert_detail(&problem, "crm, shop");
    // Each system numbers its own feed.
    let customers = gateway.get_json("/changes?contract=customer".into()).await;
    let orders = gateway.get_json("/changes?contract=order".into()).await;
    assert_eq!(customers["events"].as_array().map(Vec::len), Some(4));
    assert_eq!(orders["events"].as_array().map(Vec::len), Some(1));
    assert_eq!(orders["next"], "1");
}
