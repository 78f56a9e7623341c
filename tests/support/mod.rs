//! `TestGateway`: the real gateway on a free port over its own storage, so
//! each test reads like a client's story. Tests that hold for every owner
//! take a [`Backend`] and are listed in [`on_every_owner!`]; what they
//! inspect in the owner goes through the gateway's [`Probe`], never through
//! a backend's tables by name.
#![allow(dead_code)] // each test binary uses a different part of this

use std::path::{Path, PathBuf};
use std::sync::Arc;

use contractgate::config::{Config, Limits};
use contractgate::gateway::Gateway;
use reqwest::{Method, Response};
use serde_json::Value;
use sqlx::sqlite::SqlitePool;

/// Runs async test functions `fn(Backend)` once per owner kind, each in a
/// module named after it (`sqlite::a_test`).
#[macro_export]
macro_rules! on_every_owner {
    ($($test:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $test() {
                    super::$test($crate::support::Backend::Sqlite).await
                }
            )+
        }
    };
}

/// A kind of owner the behaviour suite runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The embedded default: an SQLite file in a temporary folder.
    Sqlite,
}

/// One test's storage on a backend, fresh for the test and gone after it.
pub enum Storage {
    /// The data folder of the embedded default.
    Sqlite(tempfile::TempDir),
}

impl Storage {
    /// Fresh storage on a backend.
    pub async fn create(backend: Backend) -> Storage {
        match backend {
            Backend::Sqlite => {
                Storage::Sqlite(tempfile::tempdir().expect("a temporary data folder"))
            }
        }
    }

    /// The gateway config that stores `contracts` here.
    pub fn config(&self, contracts: &Path, limits: Limits) -> Config {
        let mut config = match self {
            Storage::Sqlite(data) => Config::embedded(contracts, data.path()),
        };
        config.limits = limits;
        config
    }

    /// The SQLite file of the embedded default.
    pub fn sqlite_file(&self) -> PathBuf {
        match self {
            Storage::Sqlite(data) => data.path().join("contractgate.db"),
        }
    }

    async fn sqlite(&self) -> SqlitePool {
        SqlitePool::connect(&format!(
            "sqlite://{}?mode=ro",
            self.sqlite_file().display()
        ))
        .await
        .expect("the database opens")
    }
}

/// Reads what the owner holds, the way each backend stores it: a test names
/// contracts and keys, never tables.
pub struct Probe<'g> {
    storage: &'g Storage,
    gateway: &'g Gateway,
}

/// A record as its owner holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    pub version: u32,
    pub revision: u64,
    pub body: Value,
}

impl Probe<'_> {
    fn table(&self, contract: &str) -> String {
        let registry = self.gateway.registry();
        let found = registry.get(contract).expect("a contract of the gateway");
        found.table.clone()
    }

    /// How many records of a contract the owner holds.
    pub async fn records(&self, contract: &str) -> i64 {
        let table = self.table(contract);
        match self.storage {
            Storage::Sqlite(_) => {
                let pool = self.storage.sqlite().await;
                let count = sqlx::query_scalar(&format!(r#"SELECT COUNT(*) FROM "{table}""#))
                    .fetch_one(&pool)
                    .await
                    .expect("the records table");
                pool.close().await;
                count
            }
        }
    }

    /// One record as the owner holds it.
    pub async fn stored(&self, contract: &str, key: &str) -> Option<Stored> {
        let table = self.table(contract);
        match self.storage {
            Storage::Sqlite(_) => {
                let pool = self.storage.sqlite().await;
                let row: Option<(i64, i64, String)> = sqlx::query_as(&format!(
                    r#"SELECT version, revision, body FROM "{table}" WHERE record_key = ?"#
                ))
                .bind(key)
                .fetch_optional(&pool)
                .await
                .expect("the records table");
                pool.close().await;
                row.map(|(version, revision, body)| Stored {
                    version: version as u32,
                    revision: revision as u64,
                    body: serde_json::from_str(&body).expect("a JSON body"),
                })
            }
        }
    }

    /// Every change event in the owner's journal, in the order written.
    pub async fn events(&self) -> Vec<Value> {
        match self.storage {
            Storage::Sqlite(_) => {
                let pool = self.storage.sqlite().await;
                let events: Vec<String> =
                    sqlx::query_scalar("SELECT event FROM contractgate_outbox ORDER BY seq")
                        .fetch_all(&pool)
                        .await
                        .expect("the outbox");
                pool.close().await;
                events
                    .iter()
                    .map(|e| serde_json::from_str(e).expect("a JSON event"))
                    .collect()
            }
        }
    }
}

/// A gateway serving in the background of one test.
pub struct TestGateway {
    pub base: String,
    pub client: reqwest::Client,
    pub storage: Arc<Storage>,
    gateway: Arc<Gateway>,
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
        Self::on(Backend::Sqlite, contracts).await
    }

    /// Serves `contracts` on fresh storage of a backend.
    pub async fn on(backend: Backend, contracts: &Path) -> TestGateway {
        Self::on_with(backend, contracts, Limits::default()).await
    }

    /// Serves `contracts` on the embedded default with the given limits.
    pub async fn spawn_with(contracts: &Path, limits: Limits) -> TestGateway {
        Self::on_with(Backend::Sqlite, contracts, limits).await
    }

    /// Serves `contracts` on fresh storage of a backend, with limits.
    pub async fn on_with(backend: Backend, contracts: &Path, limits: Limits) -> TestGateway {
        let storage = Arc::new(Storage::create(backend).await);
        Self::serve(storage.config(contracts, limits), storage).await
    }

    /// Stops this gateway and starts another on the same storage with other
    /// contracts, as a redeploy with a new contract version would.
    pub async fn restart(mut self, contracts: &Path) -> TestGateway {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        let storage = self.storage.clone();
        Self::serve(storage.config(contracts, Limits::default()), storage).await
    }

    async fn serve(config: Config, storage: Arc<Storage>) -> TestGateway {
        let gateway = Arc::new(Gateway::open(config).await.expect("the gateway starts"));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free port");
        let base = format!("http://{}", listener.local_addr().expect("an address"));
        let (shutdown, stop) = tokio::sync::oneshot::channel();
        tokio::spawn(contractgate::http::serve(
            listener,
            gateway.clone(),
            async {
                let _ = stop.await;
            },
        ));
        TestGateway {
            base,
            client: reqwest::Client::new(),
            storage,
            gateway,
            shutdown: Some(shutdown),
        }
    }

    /// What the owner holds.
    pub fn probe(&self) -> Probe<'_> {
        Probe {
            storage: &self.storage,
            gateway: &self.gateway,
        }
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

/// Asserts no record of any contract and no change event reached the owner.
pub async fn nothing_written(gateway: &TestGateway) {
    let probe = gateway.probe();
    for contract in gateway.gateway.registry().contracts() {
        let name = contract.name.as_str();
        assert_eq!(probe.records(name).await, 0, "a {name} record was written");
    }
    assert_eq!(
        probe.events().await,
        Vec::<Value>::new(),
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
