//! A server owner that goes away and comes back: 503 with Retry-After and
//! nothing half-written while it is down, `/readyz` naming it, and writes
//! succeeding again once it is back, without restarting the gateway.

mod support;

use std::time::Duration;

use contractgate::config::{Config, Limits, SystemConfig, EMBEDDED_SYSTEM};
use serde_json::{json, Value};
use support::{
    data, example_contracts, expect_problem, header, PrivatePostgres, Storage, TestGateway,
};

/// A gateway whose embedded system is the private server's `crm` schema.
async fn gateway_on(server: &PrivatePostgres) -> TestGateway {
    let mut config = Config::embedded(&example_contracts(), &std::env::temp_dir());
    config.systems = [(
        EMBEDDED_SYSTEM.to_owned(),
        SystemConfig::Postgres {
            url: server.url(),
            schema: Some("crm".to_owned()),
            connections: 4,
        },
    )]
    .into();
    config.limits = Limits::default();
    let storage = Storage::Postgres {
        server: server.url(),
        schema: "crm".to_owned(),
    };
    TestGateway::with_config(config, storage).await
}

/// A private server and a gateway on it that has written `c-1`; none
/// when no private server can be started here.
async fn written_once() -> Option<(PrivatePostgres, TestGateway)> {
    let server = PrivatePostgres::start().await?;
    let gateway = gateway_on(&server).await;
    assert_eq!(
        gateway.post("customer", 2, &customer("c-1")).await.status(),
        201
    );
    Some((server, gateway))
}

fn customer(id: &str) -> Value {
    let mut body = data("payloads/customer-v2.json");
    body["id"] = json!(id);
    body
}

#[tokio::test]
async fn a_postgres_owner_that_stops_answers_503_then_serves_again_once_back() {
    let Some((server, gateway)) = written_once().await else {
        return;
    };

    server.stop();
    let refused = gateway.post("customer", 2, &customer("c-2")).await;
    assert_eq!(header(&refused, "retry-after"), "1");
    expect_problem(refused, 503, "owner-unavailable").await;
    let read = gateway.get("/contracts/customer/v2/records/c-1").await;
    expect_problem(read, 503, "owner-unavailable").await;
    let ready = gateway.get("/readyz").await;
    assert_eq!(ready.status(), 503);
    let ready: Value = ready.json().await.unwrap();
    assert_eq!(ready["ready"], false);
    // Named, with why: refused or not answering in time.
    let state = ready["systems"][EMBEDDED_SYSTEM].as_str().unwrap_or("ok");
    assert_ne!(state, "ok", "{ready}");

    server.start_again();
    // The pool drops its dead connections and connects anew.
    let mut status = 0;
    for _ in 0..20 {
        status = gateway
            .post("customer", 2, &customer("c-2"))
            .await
            .status()
            .as_u16();
        if status == 201 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(status, 201, "writes succeed again without a restart");
    let probe = gateway.probe();
    assert_eq!(probe.records("customer").await, 2);
    let subjects: Vec<Value> = probe.event_attribute("subject").await;
    assert_eq!(
        subjects,
        [json!("c-1"), json!("c-2")],
        "nothing of the refused write"
    );
    assert_eq!(gateway.get("/readyz").await.status(), 200);
}

/// The writer keeps its connection from batch to batch; one that broke
/// while the server restarted between two writes fails its `BEGIN`, and the
/// write goes through on a new connection instead of failing.
#[tokio::test]
async fn the_first_write_after_a_quiet_restart_of_the_server_succeeds() {
    let Some((server, gateway)) = written_once().await else {
        return;
    };
    server.stop();
    server.start_again();
    let mut ready = false;
    for _ in 0..40 {
        ready = gateway.get("/readyz").await.status() == 200;
        if ready {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(ready, "the server is back");
    let first = gateway.post("customer", 2, &customer("c-2")).await;
    assert_eq!(first.status(), 201, "{}", first.text().await.unwrap());
    assert_eq!(gateway.probe().records("customer").await, 2);
}
