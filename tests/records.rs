//! Records over REST, on every owner: the life of a record and what the
//! gateway stores for it.

mod support;

use reqwest::Method;
use serde_json::{json, Value};
use support::{
    assert_detail, data, example, example_contracts, expect_problem, header, Backend, TestGateway,
};

async fn a_v1_customer_is_stored_as_v3_and_read_back_in_v1_or_v2(backend: Backend) {
    let gateway = TestGateway::on(backend, &example_contracts()).await;
    let v1 = data("payloads/customer-v1.json");

    let created = gateway.post("customer", 1, &v1).await;
    assert_eq!(created.status(), 201);
    assert_eq!(header(&created, "etag"), "\"1\"");
    assert_eq!(header(&created, "contract-version"), "1");
    assert_eq!(
        header(&created, "location"),
        "/contracts/customer/v1/records/c-1"
    );
    // v1 is deprecated in the example contract.
    assert_eq!(header(&created, "deprecation"), "true");
    assert!(header(&created, "link").contains("/contracts/customer/v3/records"));
    assert_eq!(created.json::<Value>().await.unwrap(), v1);

    let as_v2 = gateway.get("/contracts/customer/v2/records/c-1").await;
    assert_eq!(as_v2.status(), 200);
    assert_eq!(header(&as_v2, "contract-version"), "2");
    assert_eq!(header(&as_v2, "etag"), "\"1\"");
    assert_eq!(
        as_v2.json::<Value>().await.unwrap(),
        json!({"id": "c-1", "full_name": "Ada Lovelace", "email": "ada@example.com", "phone": "+441234567890", "tier": "standard"})
    );
    let as_v1 = gateway.get("/contracts/customer/v1/records/c-1").await;
    assert_eq!(as_v1.json::<Value>().await.unwrap(), v1);

    // The owner holds the upgraded body, at the stored version.
    let stored = gateway.probe().stored("customer", "c-1").await.unwrap();
    assert_eq!((stored.version, stored.revision), (3, 1));
    assert_eq!(stored.body["full_name"], "Ada Lovelace");
}

async fn every_write_leaves_one_change_event_with_pii_redacted(backend: Backend) {
    let gateway = TestGateway::on(backend, &example_contracts()).await;
    let v2 = data("payloads/customer-v2.json");
    gateway.post("customer", 2, &v2).await;
    let path = "/contracts/customer/v2/records/c-2";
    gateway.send(Method::PUT, path, &json!({"id": "c-2", "full_name": "Grace B. Hopper", "email": "grace@example.com", "tier": "gold"})).await;
    gateway
        .send(Method::PATCH, path, &json!({"tier": "platinum"}))
        .await;
    gateway.delete(path, &[]).await;

    let events = gateway.probe().events().await;
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            "customer.created",
            "customer.replaced",
            "customer.patched",
            "customer.deleted"
        ]
    );
    let revisions: Vec<u64> = events
        .iter()
        .map(|e| e["revision"].as_u64().unwrap())
        .collect();
    assert_eq!(revisions, [1, 2, 3, 3]);
    for event in &events {
        assert_eq!(event["specversion"], "1.0");
        assert_eq!(event["source"], "/contracts/customer");
        assert_eq!(event["subject"], "c-2");
        assert_eq!(event["dataschema"], "urn:contractgate:schema:customer:v3");
        assert!(event["id"].as_str().is_some_and(|id| !id.is_empty()));
    }
    assert_eq!(events[0]["data"]["email"], "[redacted]");
    assert_eq!(events[0]["data"]["full_name"], "Grace Hopper");
    assert_eq!(events[2]["data"]["tier"], "platinum");
    assert!(events[3].get("data").is_none());
}

async fn put_creates_then_replaces_and_bumps_the_revision(backend: Backend) {
    let gateway = TestGateway::on(backend, &example_contracts()).await;
    let path = "/contracts/customer/v2/records/c-2";
    let v2 = data("payloads/customer-v2.json");
    let first = gateway.send(Method::PUT, path, &v2).await;
    assert_eq!(first.status(), 201);
    let mut changed = v2.clone();
    changed["tier"] = json!("platinum");
    let second = gateway.send(Method::PUT, path, &changed).await;
    assert_eq!(second.status(), 200);
    assert_eq!(header(&second, "etag"), "\"2\"");
    let read = gateway.get(path).await;
    assert_eq!(header(&read, "etag"), "\"2\"");
    assert_eq!(read.json::<Value>().await.unwrap()["tier"], "platinum");
}

async fn patch_merges_then_validates_the_result(backend: Backend) {
    let gateway = TestGateway::on(backend, &example_contracts()).await;
    gateway
        .post("customer", 1, &data("payloads/customer-v1.json"))
        .await;
    let path = "/contracts/customer/v1/records/c-1";

    // RFC 7396: null removes a member, objects merge.
    let patched = gateway
        .send_raw(
            Method::PATCH,
            path,
            "application/merge-patch+json",
            br#"{"phone": null, "name": "Ada King"}"#.to_vec(),
            &[],
        )
        .await;
    assert_eq!(patched.status(), 200);
    assert_eq!(header(&patched, "etag"), "\"2\"");
    assert_eq!(
        patched.json::<Value>().await.unwrap(),
        json!({"id": "c-1", "name": "Ada King", "email": "ada@example.com"})
    );

    // A patch whose result breaks the contract changes nothing.
    let broken = gateway
        .send(Method::PATCH, path, &json!({"email": null, "name": ""}))
        .await;
    let problem = expect_problem(broken, 422, "contract-violation").await;
    let pointers: Vec<&str> = problem["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["pointer"].as_str().unwrap())
        .collect();
    assert!(
        pointers.contains(&"/email") && pointers.contains(&"/name"),
        "{problem}"
    );
    let read = gateway.get(path).await;
    assert_eq!(header(&read, "etag"), "\"2\"");
    assert_eq!(read.json::<Value>().await.unwrap()["name"], "Ada King");

    let missing = gateway
        .send(
            Method::PATCH,
            "/contracts/customer/v1/records/c-404",
            &json!({"name": "x"}),
        )
        .await;
    expect_problem(missing, 404, "unknown-record").await;
}

async fn delete_removes_the_record(backend: Backend) {
    let gateway = TestGateway::on(backend, &example_contracts()).await;
    gateway
        .post("customer", 2, &data("payloads/customer-v2.json"))
        .await;
    let path = "/contracts/customer/v2/records/c-2";
    let deleted = gateway.delete(path, &[]).await;
    assert_eq!(deleted.status(), 204);
    assert_eq!(header(&deleted, "contract-version"), "2");
    expect_problem(gateway.get(path).await, 404, "unknown-record").await;
    expect_problem(gateway.delete(path, &[]).await, 404, "unknown-record").await;
    assert_eq!(gateway.probe().records("customer").await, 0);
}

async fn if_match_guards_updates_and_a_stale_one_changes_nothing(backend: Backend) {
    let gateway = TestGateway::on(backend, &example_contracts()).await;
    let v2 = data("payloads/customer-v2.json");
    gateway.post("customer", 2, &v2).await;
    let path = "/contracts/customer/v2/records/c-2";
    let mut changed = v2.clone();
    changed["tier"] = json!("platinum");

    let current = gateway
        .send_with(Method::PUT, path, &changed, &[("if-match", "\"1\"")])
        .await;
    assert_eq!(current.status(), 200);
    assert_eq!(header(&current, "etag"), "\"2\"");

    for (method, body) in [
        (Method::PUT, v2.clone()),
        (Method::PATCH, json!({"tier": "standard"})),
    ] {
        let stale = gateway
            .send_with(method, path, &body, &[("if-match", "\"1\"")])
            .await;
        expect_problem(stale, 412, "stale-revision").await;
    }
    expect_problem(
        gateway.delete(path, &[("if-match", "\"1\"")]).await,
        412,
        "stale-revision",
    )
    .await;
    let read = gateway.get(path).await;
    assert_eq!(header(&read, "etag"), "\"2\"");
    assert_eq!(read.json::<Value>().await.unwrap()["tier"], "platinum");
    assert_eq!(gateway.probe().events().await.len(), 2);

    assert_eq!(
        gateway
            .delete(path, &[("if-match", "\"2\"")])
            .await
            .status(),
        204
    );
}

async fn if_match_compares_strongly_and_a_list_matches_when_any_entry_does(backend: Backend) {
    let gateway = TestGateway::on(backend, &example_contracts()).await;
    let v2 = data("payloads/customer-v2.json");
    gateway.post("customer", 2, &v2).await;
    let path = "/contracts/customer/v2/records/c-2";
    let tier = |tier: &str| json!({"tier": tier});

    // A weak tag never matches under If-Match's strong comparison.
    let weak = gateway
        .send_with(
            Method::PATCH,
            path,
            &tier("gold"),
            &[("if-match", "W/\"1\"")],
        )
        .await;
    assert_eq!(header(&weak, "contract-version"), "2");
    expect_problem(weak, 412, "stale-revision").await;

    let listed = gateway
        .send_with(
            Method::PATCH,
            path,
            &tier("gold"),
            &[("if-match", "\"7\", W/\"9\", \"1\"")],
        )
        .await;
    assert_eq!(listed.status(), 200);
    assert_eq!(header(&listed, "etag"), "\"2\"");
    let bare = gateway
        .send_with(Method::PUT, path, &v2, &[("if-match", "5, 2")])
        .await;
    assert_eq!(bare.status(), 200);
    assert_eq!(header(&bare, "etag"), "\"3\"");
    let none_current = gateway
        .delete(path, &[("if-match", "\"1\", \"2\", W/\"3\"")])
        .await;
    expect_problem(none_current, 412, "stale-revision").await;

    // A value that is no If-Match at all is refused before anything runs.
    let garbage = gateway
        .send_with(Method::PUT, path, &v2, &[("if-match", "3 or so")])
        .await;
    let problem = expect_problem(garbage, 400, "invalid-precondition").await;
    assert_detail(&problem, "without a comma");
    assert_eq!(header(&gateway.get(path).await, "etag"), "\"3\"");
    assert_eq!(gateway.probe().events().await.len(), 3);

    assert_eq!(
        gateway.delete(path, &[("if-match", "*")]).await.status(),
        204
    );
}

async fn a_second_create_of_the_same_key_is_a_conflict(backend: Backend) {
    let gateway = TestGateway::on(backend, &example_contracts()).await;
    let v2 = data("payloads/customer-v2.json");
    assert_eq!(gateway.post("customer", 2, &v2).await.status(), 201);
    expect_problem(gateway.post("customer", 2, &v2).await, 409, "record-exists").await;
    assert_eq!(gateway.probe().events().await.len(), 1);
}

async fn concurrent_patches_lose_no_update(backend: Backend) {
    let gateway = std::sync::Arc::new(TestGateway::on(backend, &example_contracts()).await);
    let mut v2 = data("payloads/customer-v2.json");
    v2["tags"] = json!([]);
    gateway.post("customer", 2, &v2).await;
    let mut tasks = Vec::new();
    for i in 0..8 {
        let gateway = gateway.clone();
        tasks.push(tokio::spawn(async move {
            // Each patch adds a distinct tag to the list it reads.
            let path = "/contracts/customer/v2/records/c-2";
            loop {
                let read = gateway.get(path).await;
                let etag = header(&read, "etag");
                let mut tags = read.json::<Value>().await.unwrap()["tags"]
                    .as_array()
                    .unwrap()
                    .clone();
                tags.push(json!(format!("t{i}")));
                let patch = json!({"tags": tags});
                let answer = gateway
                    .send_with(Method::PATCH, path, &patch, &[("if-match", &etag)])
                    .await;
                match answer.status().as_u16() {
                    200 => break,
                    412 => continue,
                    other => panic!("unexpected status {other}"),
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let read = gateway.get("/contracts/customer/v2/records/c-2").await;
    assert_eq!(header(&read, "etag"), "\"9\"");
    assert_eq!(
        read.json::<Value>().await.unwrap()["tags"]
            .as_array()
            .unwrap()
            .len(),
        8
    );
}

async fn avro_orders_accept_natural_and_wrapped_json(backend: Backend) {
    let gateway = TestGateway::on(backend, &example_contracts()).await;
    let read = |id: &str| gateway.get_json(format!("/contracts/order/v1/records/{id}"));
    // The wrapped union `{"string": …}` is stored in natural form.
    for file in ["v1.valid.natural.json", "v1.valid.wrapped-union.json"] {
        let payload = example("order", file);
        assert_eq!(
            gateway.post("order", 1, &payload).await.status(),
            201,
            "{file}"
        );
        let body = read(payload["id"].as_str().unwrap()).await;
        assert!(body["note"].is_string(), "{file}: {body}");
    }
    let wrapped = example("order", "v1.valid.wrapped-union.json");
    assert_eq!(
        read(wrapped["id"].as_str().unwrap()).await["note"],
        "gift wrap, please"
    );

    // A missing field with a default is filled in before storing.
    let minimal = example("order", "v1.valid.minimal.json");
    assert!(minimal.get("note").is_none());
    assert_eq!(gateway.post("order", 1, &minimal).await.status(), 201);
    assert_eq!(
        read(minimal["id"].as_str().unwrap()).await["note"],
        Value::Null
    );
}

async fn avro_logical_values_are_stored_in_one_form_whatever_their_spelling(backend: Backend) {
    let gateway = TestGateway::on(backend, &example_contracts()).await;
    // Prices 8.99 and "12.5", placed_at in epoch millis.
    let first = example("order", "v1.valid.natural.json");
    let mut second = first.clone();
    second["id"] = json!("ord-1043-respelled");
    second["lines"][0]["unit_price"] = json!("8.990");
    second["lines"][1]["unit_price"] = json!("1.25e1");
    second["placed_at"] = json!("2024-05-01T12:00:00+02:00");
    let mut stored = Vec::new();
    for order in [&first, &second] {
        assert_eq!(gateway.post("order", 1, order).await.status(), 201);
        // Read at v2, the version the owner stores.
        let path = format!(
            "/contracts/order/v2/records/{}",
            order["id"].as_str().unwrap()
        );
        let mut body = gateway.get_json(path).await;
        body["id"] = Value::Null;
        // The owner holds the same canonical form the answer shows.
        let key = order["id"].as_str().unwrap();
        let mut held = gateway.probe().stored("order", key).await.unwrap().body;
        held["id"] = Value::Null;
        assert_eq!(held, body);
        stored.push(body);
    }
    assert_eq!(stored[0], stored[1]);
    let prices: Vec<&Value> = stored[0]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|line| &line["unit_price"])
        .collect();
    assert_eq!(prices, [&json!("8.99"), &json!("12.50")]);
    assert_eq!(stored[0]["placed_at"], "2024-05-01T10:00:00.000Z");
}

async fn contracts_are_listed_with_their_versions_and_schemas(backend: Backend) {
    let gateway = TestGateway::on(backend, &example_contracts()).await;
    let list: Value = gateway.get("/contracts").await.json().await.unwrap();
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["customer", "order"]);
    let customer: Value = gateway
        .get("/contracts/customer")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(customer["stored_version"], 3);
    assert_eq!(customer["versions"][0]["status"], "deprecated");
    let schema = gateway.get("/contracts/customer/v2/schema").await;
    assert_eq!(header(&schema, "contract-version"), "2");
    assert_eq!(
        schema.json::<Value>().await.unwrap()["title"],
        "Customer, version 2"
    );
    let avro: Value = gateway
        .get("/contracts/order/v1/schema")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(avro["type"], "record");
    expect_problem(
        gateway.get("/contracts/nope").await,
        404,
        "unknown-contract",
    )
    .await;
    // A client's request id comes back; without one, the gateway makes one.
    let traced = gateway
        .client
        .get(gateway.url("/contracts"))
        .header("x-request-id", "trace-42")
        .send()
        .await
        .unwrap();
    assert_eq!(header(&traced, "x-request-id"), "trace-42");
    assert!(!header(&gateway.get("/contracts").await, "x-request-id").is_empty());
    let ready = gateway.get("/readyz").await;
    assert_eq!(ready.status(), 200);
    assert_eq!(
        ready.json::<Value>().await.unwrap()["systems"]["embedded"],
        "ok"
    );
}

async fn concurrent_writes_each_get_their_own_outcome(backend: Backend) {
    // Writes arriving together are committed together; one refused write
    // must not take the others with it, nor be reported as theirs.
    let gateway = std::sync::Arc::new(TestGateway::on(backend, &example_contracts()).await);
    let v2 = data("payloads/customer-v2.json");
    assert_eq!(gateway.post("customer", 2, &v2).await.status(), 201);
    let mut tasks = Vec::new();
    for i in 0..60 {
        let gateway = gateway.clone();
        let mut body = v2.clone();
        // Every third write reuses the existing key and must conflict.
        if i % 3 != 0 {
            body["id"] = json!(format!("c-{}", 100 + i));
        }
        tasks.push(tokio::spawn(async move {
            (
                i,
                gateway.post("customer", 2, &body).await.status().as_u16(),
            )
        }));
    }
    for task in tasks {
        let (i, status) = task.await.unwrap();
        assert_eq!(status, if i % 3 == 0 { 409 } else { 201 }, "write {i}");
    }
    assert_eq!(gateway.probe().records("customer").await, 41);
    assert_eq!(gateway.probe().events().await.len(), 41);
}

async fn records_stored_before_a_new_version_are_upgraded_on_read_and_write(backend: Backend) {
    let before = TestGateway::on(backend, &support::test_contracts("customer-v1-only")).await;
    assert_eq!(
        before
            .post("customer", 1, &data("payloads/customer-v1.json"))
            .await
            .status(),
        201
    );
    // v2 is published; the record on disk is still a v1 body.
    let gateway = before.restart(&example_contracts()).await;
    let path = "/contracts/customer/v2/records/c-1";
    let read = gateway.get(path).await;
    assert_eq!(header(&read, "etag"), "\"1\"");
    let body: Value = read.json().await.unwrap();
    assert_eq!(body["full_name"], "Ada Lovelace");
    assert_eq!(body["tier"], "standard");
    // A patch in v2 applies to the upgraded record and stores it as the
    // latest version.
    let patched = gateway
        .send(Method::PATCH, path, &json!({"tier": "gold"}))
        .await;
    assert_eq!(patched.status(), 200);
    let stored = gateway.probe().stored("customer", "c-1").await.unwrap();
    assert_eq!((stored.version, stored.revision), (3, 2));
}

/// A contract's table is created on its first write or read, not at start
/// (a start with 10,000 contracts would create 10,000 tables), and found
/// again by the next start.
async fn a_contracts_table_is_created_on_first_use_and_found_after_a_restart(backend: Backend) {
    let gateway = TestGateway::on(backend, &example_contracts()).await;
    let probe = gateway.probe();
    assert!(!probe.has_table("customer").await);
    assert!(!probe.has_table("order").await);

    let path = "/contracts/customer/v1/records/c-1";
    expect_problem(gateway.get(path).await, 404, "unknown-record").await;
    assert!(probe.has_table("customer").await);
    assert!(!probe.has_table("order").await);
    let created = gateway
        .post("customer", 1, &data("payloads/customer-v1.json"))
        .await;
    assert_eq!(created.status(), 201);

    let gateway = gateway.restart(&example_contracts()).await;
    assert_eq!(gateway.get(path).await.status(), 200);
    assert_eq!(gateway.probe().records("customer").await, 1);
    assert!(!gateway.probe().has_table("order").await);
}

/// Two gateway instances on one database whose first writes to a contract
/// come at once: both create its table, and both writes land.
async fn two_instances_first_writes_to_a_contract_both_land(backend: Backend) {
    let first = TestGateway::on(backend, &example_contracts()).await;
    let second = first.another_instance().await;
    let one = data("payloads/customer-v1.json");
    let mut two = one.clone();
    two["id"] = json!("c-2");
    let (a, b) = tokio::join!(
        first.post("customer", 1, &one),
        second.post("customer", 1, &two)
    );
    assert_eq!((a.status().as_u16(), b.status().as_u16()), (201, 201));
    assert_eq!(first.probe().records("customer").await, 2);
}

on_every_owner!(
    two_instances_first_writes_to_a_contract_both_land,
    a_contracts_table_is_created_on_first_use_and_found_after_a_restart,
    a_v1_customer_is_stored_as_v3_and_read_back_in_v1_or_v2,
    every_write_leaves_one_change_event_with_pii_redacted,
    put_creates_then_replaces_and_bumps_the_revision,
    patch_merges_then_validates_the_result,
    delete_removes_the_record,
    if_match_guards_updates_and_a_stale_one_changes_nothing,
    if_match_compares_strongly_and_a_list_matches_when_any_entry_does,
    a_second_create_of_the_same_key_is_a_conflict,
    concurrent_patches_lose_no_update,
    avro_orders_accept_natural_and_wrapped_json,
    avro_logical_values_are_stored_in_one_form_whatever_their_spelling,
    contracts_are_listed_with_their_versions_and_schemas,
    concurrent_writes_each_get_their_own_outcome,
    records_stored_before_a_new_version_are_upgraded_on_read_and_write,
);
