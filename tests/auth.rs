//! Authentication and scopes, as a client meets them: API keys and JWT
//! bearer tokens (HS256, RS256 from a PEM file and from a JWKS file,
//! ES256), 401 with a challenge, 403 without the scope, and neither
//! telling whether a contract exists.

mod support;

use contractgate::config::{ApiKeyConfig, AuthConfig, JwtConfig, JwtKeyConfig, Limits, Secret};
use contractgate::http::auth::{hash_key, Scope};
use jsonwebtoken::{encode, get_current_timestamp, Algorithm, EncodingKey, Header};
use reqwest::{Method, Response};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use support::{assert_detail, data, expect_problem, header, nothing_written, TestGateway};

const ISSUER: &str = "https://id.example.com";
const AUDIENCE: &str = "contractgate";
const SECRET: &str = "an HS256 secret of at least thirty-two bytes";

fn key(name: &str, key: &str, scopes: &[&str]) -> ApiKeyConfig {
    ApiKeyConfig {
        name: name.to_owned(),
        hash: hash_key(key).expect("a hash"),
        scopes: scopes.iter().map(|s| Scope::parse(s).unwrap()).collect(),
    }
}

/// The RSA key pair checked in under `tests/data/keys` (see the README there).
fn keys_folder() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/keys")
}

fn jwt(keys: Vec<JwtKeyConfig>, jwks: Option<PathBuf>) -> JwtConfig {
    JwtConfig {
        issuer: ISSUER.to_owned(),
        audience: AUDIENCE.to_owned(),
        keys,
        jwks,
    }
}

fn hs256() -> JwtKeyConfig {
    JwtKeyConfig::Hs256 {
        secret: Secret::from(SECRET),
        kid: None,
    }
}

/// A gateway taking two API keys (`reader`: customer:read; `writer`:
/// customer:read and customer:write) and HS256 tokens.
async fn gateway() -> TestGateway {
    TestGateway::with_auth(
        AuthConfig {
            api_keys: vec![
                key("reader", "reader-key-0123456789", &["customer:read"]),
                key(
                    "writer",
                    "writer-key-0123456789",
                    &["customer:read", "customer:write"],
                ),
            ],
            jwt: Some(jwt(vec![hs256()], None)),
        },
        Limits::default(),
    )
    .await
}

/// Claims a valid token carries, for `sub` with `scope`.
fn claims(sub: &str, scope: Value) -> Value {
    let now = get_current_timestamp();
    json!({"sub": sub, "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 600, "scope": scope})
}

fn sign(algorithm: Algorithm, claims: &Value, key: &EncodingKey) -> String {
    encode(&Header::new(algorithm), claims, key).expect("a signed token")
}

fn hs256_token(claims: &Value, secret: &str) -> String {
    sign(
        Algorithm::HS256,
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
}

async fn post_as(gateway: &TestGateway, authorization: &str, contract: &str) -> Response {
    gateway
        .send_with(
            Method::POST,
            &format!("/contracts/{contract}/v2/records"),
            &data("payloads/customer-v2.json"),
            &[("authorization", authorization)],
        )
        .await
}

async fn get_as(gateway: &TestGateway, authorization: &str, path: &str) -> Response {
    gateway
        .send_bare(Method::GET, path, &[("authorization", authorization)])
        .await
}

/// A problem body with every mention of `name` replaced, to compare the
/// answers about two contracts.
fn without(problem: &Value, name: &str) -> String {
    problem.to_string().replace(name, "<contract>")
}

#[tokio::test]
async fn without_credentials_it_is_401_with_a_challenge_whether_or_not_the_contract_exists() {
    let gateway = gateway().await;
    let known = gateway
        .post("customer", 2, &data("payloads/customer-v2.json"))
        .await;
    let challenge = header(&known, "www-authenticate");
    assert_eq!(
        challenge,
        r#"ApiKey realm="contractgate", Bearer realm="contractgate""#
    );
    let known = expect_problem(known, 401, "unauthorized").await;
    assert_detail(&known, "carries no credentials");
    assert_detail(
        &known,
        "send `Authorization: ApiKey <key>` or `Authorization: Bearer <JWT>`",
    );
    let unknown = gateway
        .post("nosuch", 2, &data("payloads/customer-v2.json"))
        .await;
    let unknown = expect_problem(unknown, 401, "unauthorized").await;
    assert_eq!(known, unknown);
    for path in [
        "/contracts",
        "/contracts/customer",
        "/contracts/customer/v2/records/c-2",
    ] {
        expect_problem(gateway.get(path).await, 401, "unauthorized").await;
    }
    // Probes answer without credentials.
    assert_eq!(gateway.get("/healthz").await.status(), 200);
    assert_eq!(gateway.get("/readyz").await.status(), 200);
    nothing_written(&gateway).await;
}

#[tokio::test]
async fn an_unknown_key_and_an_unknown_scheme_are_401() {
    let gateway = gateway().await;
    let response = post_as(&gateway, "ApiKey not-a-key-we-know", "customer").await;
    let problem = expect_problem(response, 401, "unauthorized").await;
    assert_detail(&problem, "not one this gateway knows");
    let response = post_as(&gateway, "Basic cmVhZGVyOnJlYWRlcg==", "customer").await;
    let problem = expect_problem(response, 401, "unauthorized").await;
    assert_detail(&problem, "not in a form this gateway takes");
    nothing_written(&gateway).await;
}

#[tokio::test]
async fn a_key_with_the_wrong_scope_is_403_and_an_unknown_contract_answers_alike() {
    let gateway = gateway().await;
    let reader = "ApiKey reader-key-0123456789";
    let known = expect_problem(
        post_as(&gateway, reader, "customer").await,
        403,
        "forbidden",
    )
    .await;
    assert_detail(&known, "`reader` lacks the scope `customer:write`");
    let unknown = expect_problem(post_as(&gateway, reader, "nosuch").await, 403, "forbidden").await;
    assert_eq!(without(&known, "customer"), without(&unknown, "nosuch"));
    // Nor can it see a contract it holds no scope on, known or not.
    let order = expect_problem(
        get_as(&gateway, reader, "/contracts/order").await,
        403,
        "forbidden",
    )
    .await;
    let nosuch = expect_problem(
        get_as(&gateway, reader, "/contracts/nosuch").await,
        403,
        "forbidden",
    )
    .await;
    assert_eq!(without(&order, "order"), without(&nosuch, "nosuch"));
    let schema = get_as(&gateway, reader, "/contracts/order/v1/schema").await;
    expect_problem(schema, 403, "forbidden").await;
    nothing_written(&gateway).await;
    // What its scope covers, it may do: the record is simply not there.
    let read = get_as(&gateway, reader, "/contracts/customer/v2/records/c-2").await;
    expect_problem(read, 404, "unknown-record").await;
}

#[tokio::test]
async fn a_key_with_the_scope_writes_and_sees_only_its_contracts() {
    let gateway = gateway().await;
    let writer = "ApiKey writer-key-0123456789";
    assert_eq!(post_as(&gateway, writer, "customer").await.status(), 201);
    let read = get_as(&gateway, writer, "/contracts/customer/v2/records/c-2").await;
    assert_eq!(read.status(), 200);
    let listed: Value = get_as(&gateway, writer, "/contracts")
        .await
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["customer"]);
    let schema = get_as(&gateway, writer, "/contracts/customer/v2/schema").await;
    assert_eq!(schema.status(), 200);
    // The scope names the contract, not the caller: others are refused.
    let order = gateway
        .send_with(
            Method::POST,
            "/contracts/order/v1/records",
            &json!({}),
            &[("authorization", writer)],
        )
        .await;
    expect_problem(order, 403, "forbidden").await;
}

#[tokio::test]
async fn a_signed_token_is_let_in_with_its_scopes() {
    let gateway = gateway().await;
    let token = hs256_token(&claims("billing", json!("openid customer:write")), SECRET);
    let bearer = format!("Bearer {token}");
    assert_eq!(post_as(&gateway, &bearer, "customer").await.status(), 201);
    // `customer:read` is not in the token.
    let read = get_as(&gateway, &bearer, "/contracts/customer/v2/records/c-2").await;
    let problem = expect_problem(read, 403, "forbidden").await;
    assert_detail(&problem, "`billing` lacks the scope `customer:read`");
    // Scopes as a list; `*` reaches an unknown contract, which is then a 404.
    let token = hs256_token(&claims("ops", json!(["*:read", "*:write"])), SECRET);
    let bearer = format!("Bearer {token}");
    assert_eq!(
        get_as(&gateway, &bearer, "/contracts/customer/v2/records/c-2")
            .await
            .status(),
        200
    );
    let unknown = post_as(&gateway, &bearer, "nosuch").await;
    expect_problem(unknown, 404, "unknown-contract").await;
}

/// Asserts a bearer token is refused with 401, saying `why`.
async fn refused(gateway: &TestGateway, token: &str, why: &str) {
    let response = post_as(gateway, &format!("Bearer {token}"), "customer").await;
    let challenge = header(&response, "www-authenticate");
    assert!(
        challenge.ends_with(r#"Bearer realm="contractgate", error="invalid_token""#),
        "{challenge}"
    );
    let problem = expect_problem(response, 401, "unauthorized").await;
    assert_detail(&problem, why);
}

#[tokio::test]
async fn forged_expired_early_and_misaddressed_tokens_are_401() {
    let gateway = gateway().await;
    let writer = claims("billing", json!("customer:write"));
    let forged = hs256_token(&writer, "another secret of at least thirty-two bytes");
    refused(&gateway, &forged, "signature does not verify").await;
    let now = get_current_timestamp();
    // Past the default leeway of a minute.
    let expired = json!({"exp": now - 600, "iat": now - 1200});
    let early = json!({"nbf": now + 600});
    let elsewhere = json!({"aud": "another-service"});
    let stranger = json!({"iss": "https://evil.example.com"});
    for (change, why) in [
        (expired, "expired"),
        (early, "not valid yet"),
        (elsewhere, "another audience"),
        (stranger, "issuer"),
    ] {
        let mut claims = writer.clone();
        for (claim, value) in change.as_object().unwrap() {
            claims[claim] = value.clone();
        }
        refused(&gateway, &hs256_token(&claims, SECRET), why).await;
    }
    let mut anonymous = writer.clone();
    anonymous.as_object_mut().unwrap().remove("sub");
    refused(
        &gateway,
        &hs256_token(&anonymous, SECRET),
        "lacks the `sub` claim",
    )
    .await;
    refused(&gateway, "not.a.jwt", "not a JWT").await;
    nothing_written(&gateway).await;
}

#[tokio::test]
async fn rs256_tokens_verify_with_a_pem_key_or_a_jwks_and_the_algorithm_is_the_keys() {
    let keys = keys_folder();
    let private = std::fs::read(keys.join("rsa-private.pem")).unwrap();
    let private = EncodingKey::from_rsa_pem(&private).unwrap();
    let public_pem = std::fs::read(keys.join("rsa-public.pem")).unwrap();
    let writer = claims("billing", json!("customer:write"));
    let pem = JwtKeyConfig::Rs256 {
        file: keys.join("rsa-public.pem"),
        kid: None,
    };
    for config in [
        jwt(vec![pem], None),
        jwt(Vec::new(), Some(keys.join("jwks.json"))),
    ] {
        let gateway = TestGateway::with_auth(
            AuthConfig {
                api_keys: Vec::new(),
                jwt: Some(config),
            },
            Limits::default(),
        )
        .await;
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some("idp-2026".to_owned());
        let token = encode(&header, &writer, &private).unwrap();
        assert_eq!(
            post_as(&gateway, &format!("Bearer {token}"), "customer")
                .await
                .status(),
            201
        );
        // The public key used as an HMAC secret: the classic algorithm
        // confusion. No HS256 key is configured, so nothing verifies it.
        let confused = sign(
            Algorithm::HS256,
            &writer,
            &EncodingKey::from_secret(&public_pem),
        );
        refused(
            &gateway,
            &confused,
            "no configured key verifies HS256 tokens",
        )
        .await;
    }
}

#[tokio::test]
async fn es256_tokens_verify_and_another_key_s_signature_does_not() {
    let folder = tempfile::tempdir().unwrap();
    let issuer_key = rcgen::KeyPair::generate().unwrap();
    let public = folder.path().join("es256.pem");
    std::fs::write(&public, issuer_key.public_key_pem()).unwrap();
    let gateway = TestGateway::with_auth(
        AuthConfig {
            api_keys: Vec::new(),
            jwt: Some(jwt(
                vec![JwtKeyConfig::Es256 {
                    file: public,
                    kid: None,
                }],
                None,
            )),
        },
        Limits::default(),
    )
    .await;
    let writer = claims("billing", json!("customer:write"));
    let signed_by = |pair: &rcgen::KeyPair| {
        let key = EncodingKey::from_ec_pem(pair.serialize_pem().as_bytes()).unwrap();
        sign(Algorithm::ES256, &writer, &key)
    };
    let token = signed_by(&issuer_key);
    let accepted = post_as(&gateway, &format!("Bearer {token}"), "customer").await;
    assert_eq!(accepted.status(), 201);
    let forged = signed_by(&rcgen::KeyPair::generate().unwrap());
    refused(&gateway, &forged, "signature does not verify").await;
}

#[tokio::test]
async fn bulk_writes_need_the_write_scope_and_dry_runs_the_validate_or_write_scope() {
    let gateway = gateway().await;
    let line = json!({"id": "c-1", "name": "Ada", "email": "ada@example.com"}).to_string();
    for (who, bulk, dry_run) in [
        ("ApiKey reader-key-0123456789", 403, 403),
        ("ApiKey writer-key-0123456789", 200, 200),
    ] {
        let auth = [("authorization", who)];
        let bulk_answer = gateway
            .send_raw(
                Method::POST,
                "/contracts/customer/v1/records:batch",
                "application/x-ndjson",
                line.clone().into_bytes(),
                &auth,
            )
            .await;
        assert_eq!(bulk_answer.status(), bulk, "{who}: bulk");
        let checked = gateway
            .send_with(
                Method::POST,
                "/contracts/customer/v1/validate",
                &serde_json::from_str(&line).unwrap(),
                &auth,
            )
            .await;
        assert_eq!(checked.status(), dry_run, "{who}: validate");
    }
    let token = hs256_token(&claims("checker", json!("*:validate")), SECRET);
    let validator = format!("Bearer {token}");
    let checked = gateway
        .send_with(
            Method::POST,
            "/contracts/customer/v1/validate",
            &serde_json::from_str(&line).unwrap(),
            &[("authorization", validator.as_str())],
        )
        .await;
    assert_eq!(checked.status(), 200);
}

#[tokio::test]
async fn the_change_feed_needs_the_read_scope_of_what_it_shows() {
    let gateway = gateway().await;
    for (who, one, all) in [
        ("ApiKey reader-key-0123456789", 200, 403),
        ("ApiKey nobody-key-0123456789", 401, 401),
    ] {
        let customer = get_as(&gateway, who, "/changes?contract=customer").await;
        assert_eq!(customer.status(), one, "{who}: one contract");
        let whole = get_as(&gateway, who, "/changes").await;
        assert_eq!(whole.status(), all, "{who}: the whole feed");
    }
    let order = get_as(
        &gateway,
        "ApiKey reader-key-0123456789",
        "/changes?contract=order",
    )
    .await;
    expect_problem(order, 403, "forbidden").await;
}
