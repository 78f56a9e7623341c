//! `TestGateway`: the real gateway on a free port with its own SQLite file,
//! so each test reads like a client's story.
#![allow(dead_code)] // each test binary uses a different part of this

use std::path::{Path, PathBuf};
use std::sync::Arc;

use contractgate::config::{Config, Limits};
use contractgate::gateway::Gateway;
use reqwest::{Method, Response};
use serde_json::Value;
use sqlx::sqlite::SqlitePool;

/// A gateway serving in the background of one test.
pub struct TestGateway {
    pub base: String,
    pub client: reqwest::Client,
    pub data: tempfile::TempDir,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

/// The example contracts the README uses.
pub fn example_contracts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("contracts")
}

/// A contracts folder under `tests/data/contracts/`.
pub fn test_contracts(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/contracts")
        .join(name)
}

impl TestGateway {
    /// Serves `contracts` on the embedded default with default limits.
    pub async fn spawn(contracts: &Path) -> TestGateway {
        Self::spawn_with(contracts, Limits::default()).await
    }

    /// Serves `contracts` with the given limits.
    pub async fn spawn_with(contracts: &Path, limits: Limits) -> TestGateway {
        let data = tempfile::tempdir().expect("a temporary data folder");
        Self::serve(contracts, limits, data).await
    }

    /// Stops this gateway and starts another on the same SQLite file with
    /// other contracts, as a redeploy with a new contract version would.
    pub async fn restart(mut self, contracts: &Path) -> TestGateway {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        let data = tempfile::tempdir().expect("a temporary data folder");
        let data = std::mem::replace(&mut self.data, data);
        Self::serve(contracts, Limits::default(), data).await
    }

    async fn serve(contracts: &Path, limits: Limits, data: tempfile::TempDir) -> TestGateway {
        let mut config = Config::embedded(contracts, data.path());
        config.limits = limits;
        let gateway = Arc::new(Gateway::open(config).await.expect("the gateway starts"));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free port");
        let base = format!("http://{}", listener.local_addr().expect("an address"));
        let (shutdown, stop) = tokio::sync::oneshot::channel();
        tokio::spawn(contractgate::http::serve(listener, gateway, async {
            let _ = stop.await;
        }));
        TestGateway {
            base,
            client: reqwest::Client::new(),
            data,
            shutdown: Some(shutdown),
        }
    }

    /// The embedded SQLite file.
    pub fn database(&self) -> PathBuf {
        self.data.path().join("contractgate.db")
    }

    /// A connection to the embedded SQLite file, to check what was stored.
    pub async fn db(&self) -> SqlitePool {
        SqlitePool::connect(&format!("sqlite://{}?mode=ro", self.database().display()))
            .await
            .expect("the database opens")
    }

    /// Rows in a table of the embedded database.
    pub async fn count(&self, table: &str) -> i64 {
        let pool = self.db().await;
        let count = sqlx::query_scalar(&format!(r#"SELECT COUNT(*) FROM "{table}""#))
            .fetch_one(&pool)
            .await
            .expect("the table exists");
        pool.close().await;
        count
    }

    /// `path` under the gateway.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends a JSON body.
    pub async fn send(&self, method: Method, path: &str, body: &Value) -> Response {
        self.send_raw(
            method,
            path,
            "application/json",
            body.to_string().into_bytes(),
            &[],
        )
        .await
    }

    /// Sends a JSON body with extra headers.
    pub async fn send_with(
        &self,
        method: Method,
        path: &str,
        body: &Value,
        headers: &[(&str, &str)],
    ) -> Response {
        self.send_raw(
            method,
            path,
            "application/json",
            body.to_string().into_bytes(),
            headers,
        )
        .await
    }

    /// Sends any bytes with any content type ("" for none).
    pub async fn send_raw(
        &self,
        method: Method,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
        headers: &[(&str, &str)],
    ) -> Response {
        let mut request = self.client.request(method, self.url(path)).body(body);
        if !content_type.is_empty() {
            request = request.header("content-type", content_type);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.expect("the gateway answers")
    }

    /// POSTs a record to a contract version.
    pub async fn post(&self, contract: &str, version: u32, body: &Value) -> Response {
        self.send(
            Method::POST,
            &format!("/contracts/{contract}/v{version}/records"),
            body,
        )
        .await
    }

    /// GETs a path.
    pub async fn get(&self, path: &str) -> Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("the gateway answers")
    }

    /// GETs a path and parses the JSON answer.
    pub async fn get_json(&self, path: String) -> Value {
        self.get(&path).await.json().await.expect("a JSON answer")
    }

    /// DELETEs a path with extra headers.
    pub async fn delete(&self, path: &str, headers: &[(&str, &str)]) -> Response {
        let mut request = self.client.delete(self.url(path));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.expect("the gateway answers")
    }
}

impl Drop for TestGateway {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

/// Asserts no customer record and no change event reached the owner.
pub async fn nothing_written(gateway: &TestGateway) {
    assert_eq!(gateway.count("customer").await, 0, "a record was written");
    assert_eq!(
        gateway.count("contractgate_outbox").await,
        0,
        "a change event was written"
    );
}

/// A header's value as text.
pub fn header(response: &Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// Asserts a problem+json answer of a status and kind; returns its body.
pub async fn expect_problem(response: Response, status: u16, kind: &str) -> Value {
    assert_eq!(
        response.status().as_u16(),
        status,
        "status of {}",
        response.url()
    );
    assert_eq!(
        header(&response, "content-type"),
        "application/problem+json"
    );
    let body: Value = response.json().await.expect("a problem body");
    assert_eq!(
        body["type"],
        format!("{}{kind}", contractgate::http::TYPE_BASE),
        "{body}"
    );
    assert_eq!(body["status"], status, "{body}");
    assert!(
        body["title"].as_str().is_some_and(|t| !t.is_empty()),
        "{body}"
    );
    assert!(
        body["detail"].as_str().is_some_and(|t| !t.is_empty()),
        "{body}"
    );
    body
}

/// Asserts a problem's `detail` says `text`.
pub fn assert_detail(problem: &Value, text: &str) {
    let detail = problem["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains(text),
        "expected {text:?} in the detail of {problem}"
    );
}

/// A JSON file under `tests/data/`.
pub fn data(path: &str) -> Value {
    read_json(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data")
            .join(path),
    )
}

/// An example payload of the example contracts (`order`, `v1.valid.natural.json`).
pub fn example(contract: &str, file: &str) -> Value {
    read_json(
        &example_contracts()
            .join(contract)
            .join("examples")
            .join(file),
    )
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}
