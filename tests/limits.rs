//! Limits as a client meets them: a rate per principal (429), a cap on
//! requests in flight that sheds the excess at once (503), and a deadline
//! per request (408), each answered with problem+json. A request is held
//! in flight the way a slow client holds one: its headers sent, its body
//! not.

mod support;

use std::num::{NonZeroU32, NonZeroUsize};
use std::time::{Duration, Instant};

use contractgate::config::{ApiKeyConfig, AuthConfig, Limits, Rate};
use contractgate::http::auth::{hash_key, Scope};
use reqwest::Method;
use support::{expect_problem, header, TestGateway};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Starts a write whose body never comes; the gateway holds it in flight
/// until it times out or the connection closes.
async fn hold_request(gateway: &TestGateway) -> TcpStream {
    let address = gateway.base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).await.expect("a connection");
    let head = format!(
        "POST /contracts/customer/v2/records HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: 100\r\nConnection: close\r\n\r\n{{"
    );
    stream.write_all(head.as_bytes()).await.expect("sent");
    stream
}

/// `GET /contracts` with the API key of `name`.
async fn list(gateway: &TestGateway, name: &str) -> reqwest::Response {
    let authorization = format!("ApiKey {name}-key-0123456789");
    gateway
        .send_bare(
            Method::GET,
            "/contracts",
            &[("authorization", authorization.as_str())],
        )
        .await
}

#[tokio::test]
async fn a_principal_over_its_rate_gets_429_with_retry_after_and_others_do_not() {
    let key = |name: &str| ApiKeyConfig {
        name: name.to_owned(),
        hash: hash_key(&format!("{name}-key-0123456789")).unwrap(),
        scopes: vec![Scope::parse("*:read").unwrap()],
    };
    let limits = Limits {
        rate: Some(Rate {
            per_second: NonZeroU32::MIN,
            burst: NonZeroU32::new(2).unwrap(),
        }),
        ..Limits::default()
    };
    let auth = AuthConfig {
        api_keys: vec![key("busy"), key("calm")],
        jwt: None,
    };
    let gateway = TestGateway::with_auth(auth, limits).await;
    for _ in 0..2 {
        assert_eq!(
            list(&gateway, "busy").await.status(),
            200,
            "within the burst"
        );
    }
    let refused = list(&gateway, "busy").await;
    assert_eq!(header(&refused, "retry-after"), "1");
    let problem = expect_problem(refused, 429, "rate-limited").await;
    support::assert_detail(&problem, "`busy` is over its rate limit");
    assert_eq!(
        list(&gateway, "calm").await.status(),
        200,
        "a rate is per principal"
    );
}

#[tokio::test]
async fn over_the_concurrency_limit_a_request_is_shed_at_once_with_503() {
    let limits = Limits {
        concurrency: NonZeroUsize::MIN,
        ..Limits::default()
    };
    let gateway = TestGateway::spawn_with(&support::example_contracts(), limits).await;
    let held = hold_request(&gateway).await;
    // Once the held request has its slot, the next one is refused, at once.
    let deadline = Instant::now() + Duration::from_secs(10);
    let shed = loop {
        let started = Instant::now();
        let response = gateway.get("/contracts").await;
        if response.status() == 503 {
            assert!(started.elapsed() < Duration::from_secs(1), "not queued");
            break response;
        }
        assert!(Instant::now() < deadline, "never shed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(header(&shed, "retry-after"), "1");
    expect_problem(shed, 503, "overloaded").await;
    // The slot is free again once the held request ends.
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(10);
    while gateway.get("/contracts").await.status() != 200 {
        assert!(Instant::now() < deadline, "the slot never came back");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_request_past_its_deadline_is_408_problem_json() {
    let limits = Limits {
        timeout_ms: 100,
        request_timeout_ms: 300,
        ..Limits::default()
    };
    let gateway = TestGateway::spawn_with(&support::example_contracts(), limits).await;
    let mut held = hold_request(&gateway).await;
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(10), held.read_to_string(&mut answer))
        .await
        .expect("answered before the test gives up")
        .expect("read");
    let (head, body) = answer.split_once("\r\n\r\n").expect("a whole answer");
    assert!(head.starts_with("HTTP/1.1 408"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/problem+json"),
        "{head}"
    );
    let problem: serde_json::Value = serde_json::from_str(body).expect("a problem body");
    assert_eq!(
        problem["type"],
        format!("{}request-timeout", contractgate::http::TYPE_BASE)
    );
    support::assert_detail(&problem, "longer than 300 ms");
    support::nothing_written(&gateway).await;
}
