//! Every bad request gets a clear problem+json answer and changes nothing:
//! no record, no change event.

mod support;

use contractgate::config::Limits;
use reqwest::Method;
use serde_json::json;
use support::{
    assert_detail, data, example, example_contracts, expect_problem, header, nothing_written,
    test_contracts, Backend, TestGateway,
};

const CUSTOMERS: &str = "/contracts/customer/v2/records";

async fn post_raw(gateway: &TestGateway, content_type: &str, body: &[u8]) -> reqwest::Response {
    gateway
        .send_raw(Method::POST, CUSTOMERS, content_type, body.to_vec(), &[])
        .await
}

async fn malformed_json_is_400(backend: Backend) {
    let gateway = TestGateway::on(backend, &example_contracts()).await;
    let response = post_raw(&gateway, "application/json", br#"{"id": "c-1",}"#).await;
    // The body is read after the version resolved: its problem names it.
    assert_eq!(header(&response, "contract-version"), "2");
    let problem = expect_problem(response, 400, "malformed-body").await;
    assert_detail(&problem, "not valid JSON");
    nothing_written(&gateway).await;
}

async fn a_body_that_is_not_an_object_is_400(backend: Backend) {
    let gateway = TestGateway::on(backend, &example_contracts()).await;
    for body in ["[]", "\"c-1\"", "42", "null"] {
        let problem = expect_problem(
            post_raw(&gateway, "application/json", body.as_bytes()).await,
            400,
            "malformed-body",
        )
        .await;
        assert_detail(&problem, "must be a JSON object");
    }
    nothing_written(&gateway).await;
}

async fn a_body_that_is_not_json_by_media_type_is_415(backend: Backend) {
    let gateway = TestGateway::on(backend, &example_contracts()).await;
    let body = data("payloads/customer-v2.json").to_string();
    for content_type in ["text/plain", "application/x-www-form-urlencoded", ""] {
        let response = post_raw(&gateway, content_type, body.as_bytes()).await;
        expect_problem(response, 415, "unsupported-media-type").await;
    }
    // Parameters and +json types are JSON.
    let accepted = post_raw(&gateway, "application/json; charset=utf-8", body.as_bytes()).await;
    assert_eq!(accepted.status(), 201);
}

async fn a_body_over_the_limit_is_413(backend: Backend) {
    let gateway = TestGateway::on(backend, &example_contracts()).await;
    // Default limit: 1 MiB.
    let padding = "x".repeat(1024 * 1024);
    let body = json!({"id": "c-1", "full_name": padding, "email": "a@example.com", "tier": "gold"})
        .to_string();
    let problem = expect_problem(
        post_raw(&gateway, "application/json", body.as_bytes()).await,
        413,
        "body-too-large",
    )
    .await;
    assert_detail(&problem, "1048576");
    nothing_written(&gateway).await;

    let small = TestGateway::on_with(
        backend,
        &example_contracts(),
        Limits {
            body_bytes: 64,
            ..Limits::default()
        },
    )
    .await;
    let body = data("payloads/customer-v2.json").to_string();
    expect_problem(
        post_raw(&small, "application/json", body.as_bytes()).await,
        413,
        "body-too-large",
    )
    .await;
}

async fn nesting_ten_thousand_deep_is_400_without_overflowing_the_stack(backend: Backend) {
    let gateway = TestGateway::on(backend, &example_contracts()).await;
    let body = format!(
        r#"{{"id": "c-1", "tags": {}{}}}"#,
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    let problem = expect_problem(
        post_raw(&gateway, "application/json", body.as_bytes()).await,
        400,
        "malformed-body",
    )
    .await;
    assert_detail(&problem, "deeper than the limit of 128");
    nothing_written(&gateway).await;
    // The gateway still serves.
    assert_eq!(gateway.get("/healthz").await.status(), 200);
}

async fn invalid_utf8_is_400(backend: Backend) {
    let gateway = TestGateway::on(backend, &example_contracts()).await;
    let problem = expect_problem(
        post_raw(&gateway, "application/json", b"{\"id\": \"c-\xff\xfe\"}").await,
        400,
        "malformed-body",
    )
    .await;
    assert_detail(&problem, "UTF-8");
    nothing_written(&gateway).await;
}

async fn unknown_contracts_versions_and_records_are_404(backend: Backend) {
    let gateway = TestGateway::on(backend, &example_contracts()).await;
    let body = data("payloads/customer-v2.json");
    expect_problem(
        gateway.post("nosuch", 1, &body).await,
        404,
        "unknown-contract",
    )
    .await;
    let unknown_version = gateway.post("customer", 9, &body).await;
    // Only a version that resolved is named in Contract-Version.
    assert!(unknown_version.headers().get("contract-version").is_none());
    let problem = expect_problem(unknown_version, 404, "unknown-version").await;
    assert_eq!(problem["contract"], "customer");
    for path in [
        "/contracts/customer/2/records",
        "/contracts/customer/v0/records",
        "/contracts/customer/latest/records",
    ] {
        expect_problem(
            gateway.send(Method::POST, path, &body).await,
            404,
            "unknown-version",
        )
        .await;
    }
    let unknown_record = gateway.get("/contracts/customer/v2/records/c-404").await;
    assert_eq!(header(&unknown_record, "contract-version"), "2");
    expect_problem(unknown_record, 404, "unknown-record").await;
    let deprecated = gateway.get("/contracts/customer/v1/records/c-404").await;
    assert_eq!(header(&deprecated, "contract-version"), "1");
    assert_eq!(header(&deprecated, "deprecation"), "true");
    expect_problem(deprecated, 404, "unknown-record").await;
    expect_problem(
        gateway
            .delete("/contracts/customer/v2/records/c-404", &[])
            .await,
        404,
        "unknown-record",
    )
    .await;
    expect_problem(gateway.get("/no/such/path").await, 404, "not-found").await;
    nothing_written(&gateway).await;
}

async fn every_violation_is_listed_with_its_pointer(backend: Backend) {
    let gateway = TestGateway::on(backend, &example_contracts()).await;
    let response = gateway
        .post(
            "customer",
            2,
            &data("payloads/customer-v2-several-violations.json"),
        )
        .await;
    assert_eq!(header(&response, "contract-version"), "2");
    let problem = expect_problem(response, 422, "contract-violation").await;
    assert_eq!(problem["contract"], "customer");
    assert_eq!(problem["version"], 2);
    let violations = problem["violations"].as_array().unwrap();
    let found: Vec<(&str, &str)> = violations
        .iter()
        .map(|v| {
            (
                v["pointer"].as_str().unwrap(),
                v["keyword"].as_str().unwrap(),
            )
        })
        .collect();
    for expected in [
        ("/id", "type"),
        ("/full_name", "minLength"),
        ("/email", "format"),
        ("/tier", "enum"),
        ("/nickname", "additionalProperties"),
        ("/tags", "uniqueItems"),
    ] {
        assert!(
            found.contains(&expected),
            "{expected:?} missing from {found:?}"
        );
    }
    for violation in violations {
        assert!(
            violation["schema_location"]
                .as_str()
                .unwrap()
                .starts_with('/'),
            "{violation}"
        );
        assert!(
            !violation["message"].as_str().unwrap().is_empty(),
            "{violation}"
        );
    }
    nothing_written(&gateway).await;
}

async fn a_put_whose_body_key_differs_from_the_path_is_refused(backend: Backend) {
    let gateway = TestGateway::on(backend, &example_contracts()).await;
    let response = gateway
        .send(
            Method::PUT,
            &format!("{CUSTOMERS}/c-99"),
            &data("payloads/customer-v2.json"),
        )
        .await;
    let problem = expect_problem(response, 422, "key-mismatch").await;
    assert_detail(&problem, "c-99");
    nothing_written(&gateway).await;
}

async fn integers_beyond_64_bits_are_refused_rather_than_rounded(backend: Backend) {
    let gateway = TestGateway::on(backend, &test_contracts("lifecycle")).await;
    let body = br#"{"sku": "w-1", "count": 123456789012345678901234567890}"#;
    let response = gateway
        .send_raw(
            Method::POST,
            "/contracts/widget/v2/records",
            "application/json",
            body.to_vec(),
            &[],
        )
        .await;
    let problem = expect_problem(response, 422, "number-out-of-range").await;
    assert_eq!(problem["violations"][0]["pointer"], "/count");
    // Within 64 bits but beyond the schema's integer bound: a violation.
    let response = gateway
        .post("widget", 2, &json!({"sku": "w-1", "count": 4294967296u64}))
        .await;
    let problem = expect_problem(response, 422, "contract-violation").await;
    assert_eq!(problem["violations"][0]["pointer"], "/count");
    assert_eq!(problem["violations"][0]["keyword"], "maximum");
    // Avro `int` is 32 bits.
    let gateway = TestGateway::on(backend, &example_contracts()).await;
    let mut order = example("order", "v1.valid.natural.json");
    order["lines"][0]["quantity"] = json!(3_000_000_000u64);
    let problem = expect_problem(
        gateway.post("order", 1, &order).await,
        422,
        "contract-violation",
    )
    .await;
    assert_eq!(problem["violations"][0]["pointer"], "/lines/0/quantity");
    assert_eq!(gateway.probe().records("order").await, 0);
}

async fn a_retired_version_is_410_and_a_required_if_match_is_428(backend: Backend) {
    let gateway = TestGateway::on(backend, &test_contracts("lifecycle")).await;
    let retired = gateway
        .post("widget", 1, &json!({"sku": "w-1", "count": "3"}))
        .await;
    let problem = expect_problem(retired, 410, "retired-version").await;
    assert_eq!(problem["version"], 1);
    assert_eq!(gateway.probe().records("widget").await, 0);

    let gateway = TestGateway::on(backend, &example_contracts()).await;
    let order = example("order", "v1.valid.natural.json");
    assert_eq!(gateway.post("order", 1, &order).await.status(), 201);
    let path = format!(
        "/contracts/order/v1/records/{}",
        order["id"].as_str().unwrap()
    );
    expect_problem(
        gateway.send(Method::PUT, &path, &order).await,
        428,
        "precondition-required",
    )
    .await;
    expect_problem(
        gateway.delete(&path, &[]).await,
        428,
        "precondition-required",
    )
    .await;
    assert_eq!(
        gateway
            .send_with(Method::PUT, &path, &order, &[("if-match", "\"1\"")])
            .await
            .status(),
        200
    );
}

async fn an_if_match_that_is_not_a_field_value_is_400_and_nothing_is_written(backend: Backend) {
    let gateway = TestGateway::on(backend, &example_contracts()).await;
    let v2 = data("payloads/customer-v2.json");
    let path = "/contracts/customer/v2/records/c-2";
    for (value, why) in [
        ("garbage", "must be quoted"),
        ("\"1", "closing quote"),
        ("\"1\", *", "`*` must stand alone"),
        ("", "names no entity-tag"),
    ] {
        let response = gateway
            .send_with(Method::PUT, path, &v2, &[("if-match", value)])
            .await;
        let problem = expect_problem(response, 400, "invalid-precondition").await;
        assert_detail(&problem, why);
    }
    nothing_written(&gateway).await;
}

async fn a_wrong_method_is_405_problem(backend: Backend) {
    let gateway = TestGateway::on(backend, &example_contracts()).await;
    let response = gateway.send(Method::PUT, CUSTOMERS, &json!({})).await;
    expect_problem(response, 405, "method-not-allowed").await;
}

on_every_owner!(
    malformed_json_is_400,
    a_body_that_is_not_an_object_is_400,
    a_body_that_is_not_json_by_media_type_is_415,
    a_body_over_the_limit_is_413,
    nesting_ten_thousand_deep_is_400_without_overflowing_the_stack,
    invalid_utf8_is_400,
    unknown_contracts_versions_and_records_are_404,
    every_violation_is_listed_with_its_pointer,
    a_put_whose_body_key_differs_from_the_path_is_refused,
    integers_beyond_64_bits_are_refused_rather_than_rounded,
    a_retired_version_is_410_and_a_required_if_match_is_428,
    an_if_match_that_is_not_a_field_value_is_400_and_nothing_is_written,
    a_wrong_method_is_405_problem,
);

#[tokio::test]
async fn a_path_that_is_not_utf8_is_a_404_problem() {
    let gateway = TestGateway::spawn(&example_contracts()).await;
    let body = example("customer", "v2.valid.gold.json");
    for (method, path) in [
        (Method::PUT, "/contracts/customer/v2/records/c-%FF"),
        (Method::GET, "/contracts/%FF"),
        (Method::GET, "/contracts/customer/v%FF/schema"),
    ] {
        let response = gateway.send(method, path, &body).await;
        let problem = expect_problem(response, 404, "not-found").await;
        assert_detail(&problem, "UTF-8");
    }
    nothing_written(&gateway).await;
}
