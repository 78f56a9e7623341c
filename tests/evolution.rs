//! Contract evolution as clients live it, on every owner: a v1 client keeps
//! writing while the owner holds v3, each reader gets its own version's
//! shape, records stored before a version was published read at every
//! version, Avro contracts evolve by schema resolution; and the dry run,
//! domain rules and the version lifecycle headers.

mod support;

use reqwest::Method;
use serde_json::{json, Value};
use support::{
    assert_detail, data, example, example_contracts, expect_problem, header, nothing_written,
    test_contracts, Backend, TestGateway,
};

/// The example customer `v1.valid.full.json` in each version's shape.
fn ada_in(version: u32) -> Value {
    match version {
        1 => example("customer", "v1.valid.full.json"),
        2 => json!({"id": "c-1", "full_name": "Ada Lovelace", "email": "ada@example.com",
                    "phone": "+441234567890", "tier": "standard",
                    "address": {"street": "1 St James Sq", "city": "London", "zip": "SW1Y 4", "country": "GB"}}),
        _ => json!({"id": "c-1", "full_name": "Ada Lovelace", "email": "ada@example.com",
                    "phones": ["+441234567890"], "tier": "standard",
                    "address": {"lines": ["1 St James Sq"], "city": "London", "zip": "SW1Y 4", "country": "GB"}}),
    }
}

/// `tests/data/payloads/customer-v2-full.json` in each version's shape.
fn grace_in(version: u32) -> Value {
    match version {
        1 => json!({"id": "c-3", "name": "Grace Hopper", "email": "grace@example.com",
                    "phone": "+12025550123",
                    "address": {"street": "Flat 2\nNavy Yard", "city": "Washington", "zip": "20374", "country": "US"}}),
        2 => data("payloads/customer-v2-full.json"),
        _ => json!({"id": "c-3", "full_name": "Grace Hopper", "email": "grace@example.com",
                    "phones": ["+12025550123"], "tier": "gold",
                    "address": {"lines": ["Flat 2", "Navy Yard"], "city": "Washington", "zip": "20374", "country": "US"}}),
    }
}

async fn read(gateway: &TestGateway, contract: &str, version: u32, key: &str) -> Value {
    let response = gateway
        .get(&format!("/contracts/{contract}/v{version}/records/{key}"))
        .await;
    assert_eq!(response.status(), 200, "{contract} v{version} {key}");
    assert_eq!(header(&response, "contract-version"), version.to_string());
    response.json().await.unwrap()
}

async fn a_v1_client_writes_the_owner_holds_v3_and_each_reader_gets_its_shape(backend: Backend) {
    let gateway = TestGateway::on(backend, &example_contracts()).await;
    let created = gateway.post("customer", 1, &ada_in(1)).await;
    assert_eq!(created.status(), 201);
    assert_eq!(created.json::<Value>().await.unwrap(), ada_in(1));

    let stored = gateway.probe().stored("customer", "c-1").await.unwrap();
    assert_eq!((stored.version, stored.revision), (3, 1));
    assert_eq!(stored.body, ada_in(3));
    for version in [1, 2, 3] {
        assert_eq!(
            read(&gateway, "customer", version, "c-1").await,
            ada_in(version),
            "v{version}"
        );
    }
}

async fn records_stored_before_v3_was_published_read_at_every_version(backend: Backend) {
    let v1_only = TestGateway::on(backend, &test_contracts("customer-v1-only")).await;
    assert_eq!(v1_only.post("customer", 1, &ada_in(1)).await.status(), 201);
    let v2 = v1_only
        .restart(&test_contracts("customer-v2-order-v1"))
        .await;
    assert_eq!(v2.post("customer", 2, &grace_in(2)).await.status(), 201);
    let gateway = v2.restart(&example_contracts()).await;

    let probe = gateway.probe();
    assert_eq!(probe.stored("customer", "c-1").await.unwrap().version, 1);
    assert_eq!(probe.stored("customer", "c-3").await.unwrap().version, 2);
    for version in [1, 2, 3] {
        assert_eq!(
            read(&gateway, "customer", version, "c-1").await,
            ada_in(version)
        );
        assert_eq!(
            read(&gateway, "customer", version, "c-3").await,
            grace_in(version)
        );
    }

    // The next write stores the record at v3, whatever version it came in.
    let path = "/contracts/customer/v1/records/c-1";
    let patched = gateway
        .send(Method::PATCH, path, &json!({"name": "Ada King"}))
        .await;
    assert_eq!(patched.status(), 200);
    let stored = gateway.probe().stored("customer", "c-1").await.unwrap();
    assert_eq!((stored.version, stored.revision), (3, 2));
    assert_eq!(stored.body["full_name"], "Ada King");
    assert_eq!(stored.body["phones"], json!(["+441234567890"]));
}

async fn avro_orders_evolve_by_schema_resolution(backend: Backend) {
    let gateway = TestGateway::on(backend, &example_contracts()).await;
    let order = example("order", "v1.valid.natural.json");
    let created = gateway.post("order", 1, &order).await;
    assert_eq!(created.status(), 201);
    let as_v1: Value = created.json().await.unwrap();

    // v2 renamed `note` (alias), added `currency` (default), and its
    // quantities are longs (promotion).
    let stored = gateway.probe().stored("order", "ord-1043").await.unwrap();
    assert_eq!(stored.version, 2);
    assert_eq!(stored.body["delivery_note"], "leave at the door");
    assert_eq!(stored.body["currency"], "EUR");
    assert!(stored.body.get("note").is_none());
    assert_eq!(stored.body["lines"][1]["quantity"], 10);
    assert_eq!(read(&gateway, "order", 2, "ord-1043").await, stored.body);
    assert_eq!(read(&gateway, "order", 1, "ord-1043").await, as_v1);

    // A v2 order whose quantity needs a long cannot be read as v1.
    let big = example("order", "v2.valid.natural.json");
    assert_eq!(gateway.post("order", 2, &big).await.status(), 201);
    let refused = gateway.get("/contracts/order/v1/records/ord-1045").await;
    let problem = expect_problem(refused, 406, "not-representable").await;
    assert_eq!(problem["version"], 1);
    assert_eq!(problem["violations"][0]["pointer"], "/lines/0/quantity");
    let note = read(&gateway, "order", 2, "ord-1045").await["delivery_note"].clone();
    assert_eq!(note, "back door");
}

async fn avro_orders_stored_before_v2_was_published_read_at_both_versions(backend: Backend) {
    let before = TestGateway::on(backend, &test_contracts("customer-v2-order-v1")).await;
    let order = example("order", "v1.valid.wrapped-union.json");
    let created = before.post("order", 1, &order).await;
    assert_eq!(created.status(), 201);
    let as_v1: Value = created.json().await.unwrap();
    let gateway = before.restart(&example_contracts()).await;

    assert_eq!(
        gateway
            .probe()
            .stored("order", "ord-1044")
            .await
            .unwrap()
            .version,
        1
    );
    assert_eq!(read(&gateway, "order", 1, "ord-1044").await, as_v1);
    let as_v2 = read(&gateway, "order", 2, "ord-1044").await;
    assert_eq!(as_v2["delivery_note"], "gift wrap, please");
    assert_eq!(as_v2["currency"], "EUR");
    assert_eq!(as_v2["placed_at"], as_v1["placed_at"]);

    // Its next write (If-Match is required on orders) stores it as v2.
    let path = "/contracts/order/v2/records/ord-1044";
    let mut shipped = as_v2.clone();
    shipped["status"] = json!("SHIPPED");
    let replaced = gateway
        .send_with(Method::PUT, path, &shipped, &[("if-match", "\"1\"")])
        .await;
    assert_eq!(replaced.status(), 200);
    let stored = gateway.probe().stored("order", "ord-1044").await.unwrap();
    assert_eq!((stored.version, stored.revision), (2, 2));
    assert_eq!(stored.body, shipped);
}

async fn a_record_an_older_version_cannot_hold_is_406_at_that_version(backend: Backend) {
    let gateway = TestGateway::on(backend, &example_contracts()).await;
    let two_phones = example("customer", "v3.valid.two-phones.json");
    assert_eq!(gateway.post("customer", 3, &two_phones).await.status(), 201);
    assert_eq!(read(&gateway, "customer", 3, "c-5").await, two_phones);
    for version in [1, 2] {
        let response = gateway
            .get(&format!("/contracts/customer/v{version}/records/c-5"))
            .await;
        assert_eq!(header(&response, "contract-version"), version.to_string());
        let problem = expect_problem(response, 406, "not-representable").await;
        assert_eq!(problem["contract"], "customer");
        assert_eq!(problem["version"], version);
        let pointers: Vec<&str> = problem["violations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["pointer"].as_str().unwrap())
            .collect();
        assert!(pointers.contains(&"/phone"), "{problem}");
    }
}

async fn a_declared_downgrade_gives_back_what_the_derived_one_could_not(backend: Backend) {
    let gateway = TestGateway::on(backend, &test_contracts("evolution")).await;
    let ticket = json!({"id": "t-1", "code": "K-7", "status": "X"});
    assert_eq!(gateway.post("ticket", 1, &ticket).await.status(), 201);
    let stored = gateway.probe().stored("ticket", "t-1").await.unwrap();
    assert_eq!(stored.body, json!({"id": "t-1", "status": "closed"}));
    assert_eq!(
        read(&gateway, "ticket", 1, "t-1").await,
        json!({"id": "t-1", "code": "none", "status": "I"})
    );
}

async fn the_dry_run_gives_a_writes_verdict_and_writes_nothing(backend: Backend) {
    let gateway = TestGateway::on(backend, &example_contracts()).await;
    let valid = validate(&gateway, "customer", 1, &ada_in(1)).await;
    assert_eq!(valid.status(), 200);
    assert_eq!(header(&valid, "contract-version"), "1");
    assert_eq!(header(&valid, "deprecation"), "true");
    let verdict: Value = valid.json().await.unwrap();
    assert_eq!(verdict["valid"], true);
    assert_eq!(verdict["stored_version"], 3);
    assert_eq!(verdict["body"], ada_in(3));
    assert_eq!(
        verdict["steps"],
        json!([
            {"version": 2, "step": {"rename": {"from": "/name", "to": "/full_name"}}},
            {"version": 2, "step": {"default": {"path": "/tier", "value": "standard"}}},
            {"version": 3, "step": {"wrap": {"path": "/phone"}}},
            {"version": 3, "step": {"rename": {"from": "/phone", "to": "/phones"}}},
            {"version": 3, "step": {"split": {"path": "/address/street", "separator": "\n"}}},
            {"version": 3, "step": {"rename": {"from": "/address/street", "to": "/address/lines"}}}
        ])
    );
    let order = validate(
        &gateway,
        "order",
        1,
        &example("order", "v1.valid.minimal.json"),
    )
    .await;
    assert_eq!(order.status(), 200);
    let order: Value = order.json().await.unwrap();
    assert_eq!(
        order["steps"],
        json!([{"version": 2, "step": "avro_resolution"}])
    );

    // An invalid payload gets exactly the problem a write would get.
    let invalid = data("payloads/customer-v2-several-violations.json");
    let dry = validate(&gateway, "customer", 2, &invalid).await;
    let dry = expect_problem(dry, 422, "contract-violation").await;
    let written = expect_problem(
        gateway.post("customer", 2, &invalid).await,
        422,
        "contract-violation",
    )
    .await;
    assert_eq!(dry, written);
    // So does a payload that breaks a rule.
    let vip = example("customer", "v3.invalid.vip-on-standard.json");
    let problem = validate(&gateway, "customer", 3, &vip).await;
    let problem = expect_problem(problem, 422, "contract-violation").await;
    assert_eq!(problem["violations"][0]["keyword"], "rule");
    nothing_written(&gateway).await;
}

async fn validate(
    gateway: &TestGateway,
    contract: &str,
    version: u32,
    body: &Value,
) -> reqwest::Response {
    let path = format!("/contracts/{contract}/v{version}/validate");
    gateway.send(Method::POST, &path, body).await
}

async fn rules_run_on_the_payload_as_sent_and_on_the_upgraded_one(backend: Backend) {
    let gateway = TestGateway::on(backend, &test_contracts("evolution")).await;
    let booking = |extra: Value| {
        let mut body = json!({"id": "b-1", "start": "2026-05-01", "guests": 2});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body
    };

    // v1's own rule, on the payload as sent.
    let backwards = gateway
        .post("booking", 1, &booking(json!({"end": "2026-04-30"})))
        .await;
    let problem = expect_problem(backwards, 422, "contract-violation").await;
    assert_eq!(problem["version"], 1);
    assert_eq!(
        problem["violations"],
        json!([{"pointer": "/end", "keyword": "rule", "schema_location": "/rules/ends_after_start",
                "message": "a booking ends after it starts"}])
    );
    // A rule that cannot be evaluated (`end` is optional) is a violation.
    let open = gateway.post("booking", 1, &booking(json!({}))).await;
    let problem = expect_problem(open, 422, "contract-violation").await;
    assert_eq!(problem["violations"][0]["keyword"], "rule");
    assert_detail(&problem, "booking v1");
    let message = problem["violations"][0]["message"].as_str().unwrap();
    assert!(message.contains("could not be evaluated"), "{message}");
    // v2's rule, on the v1 payload upgraded to v2 (one room by default).
    let crowded = booking(json!({"end": "2026-05-03", "guests": 6}));
    let problem = expect_problem(
        gateway.post("booking", 1, &crowded).await,
        422,
        "upgrade-violation",
    )
    .await;
    assert_eq!(problem["version"], 2);
    assert_eq!(problem["violations"][0]["pointer"], "/guests");
    assert_eq!(
        problem["violations"][0]["message"],
        "at most four guests per room"
    );
    nothing_written(&gateway).await;

    let roomy = booking(json!({"end": "2026-05-03", "guests": 6, "rooms": 2}));
    assert_eq!(gateway.post("booking", 2, &roomy).await.status(), 201);
}

async fn deprecated_versions_announce_their_sunset_and_retired_ones_their_successor(
    backend: Backend,
) {
    let gateway = TestGateway::on(backend, &test_contracts("evolution")).await;
    let dated = gateway.post("gadget", 2, &json!({"sku": "g-1"})).await;
    assert_eq!(dated.status(), 201);
    assert_eq!(header(&dated, "deprecation"), "@1768435200");
    assert_eq!(header(&dated, "sunset"), "Wed, 30 Jun 2027 12:00:00 GMT");
    assert!(header(&dated, "link").contains("</contracts/gadget/v3/records>"));

    // Deprecated without dates; the version to move to is the latest
    // active one, not the stored one.
    let undated = gateway.get("/contracts/gadget/v4/records/g-1").await;
    assert_eq!(undated.status(), 200);
    assert_eq!(header(&undated, "deprecation"), "true");
    assert_eq!(header(&undated, "sunset"), "");
    assert!(header(&undated, "link").contains("</contracts/gadget/v3/records>"));

    let active = gateway.get("/contracts/gadget/v3/records/g-1").await;
    assert_eq!(header(&active, "deprecation"), "");
    assert_eq!(header(&active, "link"), "");

    let retired = gateway.post("gadget", 1, &json!({"sku": "g-2"})).await;
    let problem = expect_problem(retired, 410, "retired-version").await;
    assert_eq!(problem["successor_version"], 3);
    assert_detail(&problem, "move to v3");
}

on_every_owner!(
    a_v1_client_writes_the_owner_holds_v3_and_each_reader_gets_its_shape,
    records_stored_before_v3_was_published_read_at_every_version,
    avro_orders_evolve_by_schema_resolution,
    avro_orders_stored_before_v2_was_published_read_at_both_versions,
    a_record_an_older_version_cannot_hold_is_406_at_that_version,
    a_declared_downgrade_gives_back_what_the_derived_one_could_not,
    the_dry_run_gives_a_writes_verdict_and_writes_nothing,
    rules_run_on_the_payload_as_sent_and_on_the_upgraded_one,
    deprecated_versions_announce_their_sunset_and_retired_ones_their_successor,
);
