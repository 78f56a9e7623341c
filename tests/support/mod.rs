//! `TestGateway`: the real gateway on a free port over its own storage, so
//! each test reads like a client's story. Tests that hold for every owner
//! take a [`Backend`] and are listed in [`on_every_owner!`]; what they
//! inspect in the owner goes through the gateway's [`Probe`], never through
//! a backend's tables by name.
#![allow(dead_code)] // each test binary uses a different part of this

pub mod nats;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use contractgate::config::{AuthConfig, Config, Limits, SystemConfig, TlsConfig, EMBEDDED_SYSTEM};
use contractgate::events::Background;
use contractgate::gateway::Gateway;
use reqwest::{Method, Response};
use serde_json::{json, Value};
use sqlx::{Connection, Row};

/// Runs async test functions `fn(Backend)` once per owner kind, each in a
/// module named after it (`postgres::a_test`). A backend whose server is not
/// reachable is skipped loudly, or fails the test when
/// `CONTRACTGATE_REQUIRE_SERVICES` is set (CI).
#[macro_export]
macro_rules! on_every_owner {
    ($($test:ident),+ $(,)?) => {
        $crate::on_owner!(sqlite, Sqlite, $($test),+);
        $crate::on_owner!(postgres, Postgres, $($test),+);
        $crate::on_owner!(mariadb, Mysql, $($test),+);
    };
}

/// One module of [`on_every_owner!`].
#[macro_export]
macro_rules! on_owner {
    ($module:ident, $backend:ident, $($test:ident),+) => {
        mod $module {
            $(
                #[tokio::test]
                async fn $test() {
                    let backend = $crate::support::Backend::$backend;
                    if backend.available().await {
                        super::$test(backend).await
                    }
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
    /// A schema of its own in the PostgreSQL at
    /// `CONTRACTGATE_TEST_POSTGRES_URL`.
    Postgres,
    /// A database of its own in the MariaDB (or MySQL) at
    /// `CONTRACTGATE_TEST_MYSQL_URL`.
    Mysql,
}

impl Backend {
    /// The server URL tests use for this backend (none for SQLite).
    pub fn server_url(self) -> Option<String> {
        let (variable, default) = match self {
            Backend::Sqlite => return None,
            Backend::Postgres => (
                "CONTRACTGATE_TEST_POSTGRES_URL",
                "postgres://postgres@127.0.0.1:5432/postgres",
            ),
            Backend::Mysql => (
                "CONTRACTGATE_TEST_MYSQL_URL",
                "mysql://root@127.0.0.1:3306/test",
            ),
        };
        Some(std::env::var(variable).unwrap_or_else(|_| default.to_owned()))
    }

    /// Whether the backend's server answers. When it does not, the test is
    /// skipped with a warning, unless CI requires every service.
    pub async fn available(self) -> bool {
        let Some(url) = self.server_url() else {
            return true;
        };
        sqlx::any::install_default_drivers();
        match sqlx::AnyPool::connect(&url).await {
            Ok(pool) => {
                pool.close().await;
                true
            }
            Err(error) => missing(
                &format!("{self:?}"),
                &format!("{url} does not answer ({error})"),
            ),
        }
    }
}

/// A service a test needs is missing: the test is skipped with a warning
/// (returns false), unless CI requires every service
/// (`CONTRACTGATE_REQUIRE_SERVICES`), where it fails.
pub fn missing(service: &str, why: &str) -> bool {
    if std::env::var_os("CONTRACTGATE_REQUIRE_SERVICES").is_some() {
        panic!("{service} is required (CONTRACTGATE_REQUIRE_SERVICES) but {why}");
    }
    eprintln!("SKIPPED: {service}: {why}; this test did not run on it");
    false
}

/// One test's storage on a backend, fresh for the test and removed after.
pub enum Storage {
    /// The data folder of the embedded default.
    Sqlite(tempfile::TempDir),
    /// A schema of the test server, dropped after the test.
    Postgres { server: String, schema: String },
    /// A database of the test server, dropped after the test.
    Mysql { server: String, database: String },
}

/// A name no other test uses.
fn unique_name() -> String {
    format!("cg_{}", uuid::Uuid::new_v4().simple())
}

impl Storage {
    /// Fresh storage on a backend.
    pub async fn create(backend: Backend) -> Storage {
        match (backend, backend.server_url()) {
            (Backend::Postgres, Some(server)) => Storage::Postgres {
                server,
                schema: unique_name(),
            },
            (Backend::Mysql, Some(server)) => {
                let database = unique_name();
                admin(&server, &[format!("CREATE DATABASE {database}")]).await;
                Storage::Mysql { server, database }
            }
            _ => Storage::Sqlite(tempfile::tempdir().expect("a temporary data folder")),
        }
    }

    /// The gateway config that stores every contract of `contracts` here.
    pub fn config(&self, contracts: &Path, limits: Limits) -> Config {
        let mut config = match self {
            Storage::Sqlite(data) => Config::embedded(contracts, data.path()),
            // No embedded file is opened: the one system is replaced below.
            _ => Config::embedded(contracts, &std::env::temp_dir()),
        };
        let system = match self {
            Storage::Sqlite(_) => None,
            Storage::Postgres { server, schema } => Some(SystemConfig::Postgres {
                url: server.clone(),
                schema: Some(schema.clone()),
                connections: 8,
            }),
            Storage::Mysql { .. } => Some(SystemConfig::Mysql {
                url: self.url(),
                connections: 8,
            }),
        };
        if let Some(system) = system {
            // The embedded default's one system, of another kind: it owns
            // every contract whatever its `owner` says.
            config.systems = [(EMBEDDED_SYSTEM.to_owned(), system)].into();
        }
        config.limits = limits;
        config
    }

    /// The SQLite file of the embedded default.
    pub fn sqlite_file(&self) -> PathBuf {
        match self {
            Storage::Sqlite(data) => data.path().join("contractgate.db"),
            _ => panic!("not an SQLite storage"),
        }
    }

    /// A URL the probe connects with (read-only for SQLite).
    pub fn url(&self) -> String {
        match self {
            Storage::Sqlite(_) => format!("sqlite://{}?mode=ro", self.sqlite_file().display()),
            Storage::Postgres { server, .. } => server.clone(),
            Storage::Mysql { server, database } => {
                let mut url = url::Url::parse(server).expect("a server URL");
                url.set_path(database);
                url.to_string()
            }
        }
    }

    /// A table of this storage, qualified and quoted.
    pub fn table(&self, table: &str) -> String {
        match self {
            Storage::Sqlite(_) => format!(r#""{table}""#),
            Storage::Postgres { schema, .. } => format!(r#""{schema}"."{table}""#),
            Storage::Mysql { .. } => format!("`{table}`"),
        }
    }

    /// Every change event in the journal, in the order written.
    pub async fn events(&self) -> Vec<Value> {
        let sql = format!(
            "SELECT event FROM {} ORDER BY seq",
            self.table("contractgate_outbox")
        );
        let rows = self.rows(&sql, None).await;
        rows.iter()
            .map(|row| serde_json::from_str(&text(row, 0)).expect("a JSON event"))
            .collect()
    }

    /// The revision of every record in a table, by key (for a test that
    /// runs the gateway as a process, with no `Gateway` to name tables).
    pub async fn revisions(&self, table: &str) -> BTreeMap<String, u64> {
        let sql = format!("SELECT record_key, revision FROM {}", self.table(table));
        let rows = self.rows(&sql, None).await;
        rows.iter()
            .map(|row| (text(row, 0), row.get::<i64, _>(1) as u64))
            .collect()
    }

    /// Runs SQL in this storage as its administrator would (creating the
    /// schema or file first), e.g. to create a table a team already has.
    pub async fn execute(&self, sql: &str) {
        sqlx::any::install_default_drivers();
        let url = match self {
            Storage::Sqlite(_) => format!("sqlite://{}?mode=rwc", self.sqlite_file().display()),
            _ => self.url(),
        };
        let mut connection = sqlx::AnyConnection::connect(&url)
            .await
            .expect("the storage opens");
        if let Storage::Postgres { schema, .. } = self {
            for statement in [
                format!("CREATE SCHEMA IF NOT EXISTS {schema}"),
                format!("SET search_path TO {schema}"),
            ] {
                sqlx::query(&statement)
                    .execute(&mut connection)
                    .await
                    .expect("the schema");
            }
        }
        sqlx::query(sql)
            .execute(&mut connection)
            .await
            .expect("the SQL runs");
    }

    /// Whether a table is there: a contract's own table is created on its
    /// first write or read.
    pub async fn has_table(&self, table: &str) -> bool {
        let sql = match self {
            Storage::Sqlite(_) => {
                "SELECT name FROM sqlite_schema WHERE type = 'table' AND name = ?".to_owned()
            }
            Storage::Postgres { schema, .. } => format!(
                "SELECT tablename::text FROM pg_tables WHERE schemaname = '{schema}' AND tablename = $1"
            ),
            Storage::Mysql { database, .. } => format!(
                "SELECT CAST(table_name AS CHAR) FROM information_schema.tables \
                 WHERE table_schema = '{database}' AND table_name = ?"
            ),
        };
        !self.rows(&sql, Some(table)).await.is_empty()
    }

    /// Rows of a query on this storage (`key` bound as its one parameter).
    pub async fn rows(&self, sql: &str, key: Option<&str>) -> Vec<sqlx::any::AnyRow> {
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&self.url())
            .await
            .expect("the storage opens");
        let mut query = sqlx::query(sql);
        if let Some(key) = key {
            query = query.bind(key.to_owned());
        }
        let rows = query.fetch_all(&pool).await.expect("the query runs");
        pool.close().await;
        rows
    }
}

impl Drop for Storage {
    fn drop(&mut self) {
        // Bounded lock waits: a gateway connection left in a transaction
        // must not hang the test (it fails to clean up instead).
        let statements = match self {
            Storage::Sqlite(_) => return,
            Storage::Postgres { schema, .. } => [
                "SET lock_timeout = '20s'".to_owned(),
                format!("DROP SCHEMA IF EXISTS {schema} CASCADE"),
            ],
            Storage::Mysql { database, .. } => [
                "SET SESSION lock_wait_timeout = 20".to_owned(),
                format!("DROP DATABASE IF EXISTS {database}"),
            ],
        };
        let server = match self {
            Storage::Postgres { server, .. } | Storage::Mysql { server, .. } => server.clone(),
            Storage::Sqlite(_) => return,
        };
        // Drop runs outside any runtime's reach: clean up on a thread of
        // its own.
        let _ = std::thread::spawn(move || {
            if let Ok(runtime) = tokio::runtime::Runtime::new() {
                runtime.block_on(admin(&server, &statements));
            }
        })
        .join();
    }
}

/// Runs administrative statements on one connection to a test server.
async fn admin(server: &str, statements: &[String]) {
    sqlx::any::install_default_drivers();
    let mut connection = sqlx::AnyConnection::connect(server)
        .await
        .expect("the test server answers");
    for statement in statements {
        sqlx::query(statement)
            .execute(&mut connection)
            .await
            .unwrap_or_else(|e| panic!("{statement}: {e}"));
    }
    let _ = connection.close().await;
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
    /// A contract's table, qualified and quoted, if it is there yet.
    async fn table(&self, contract: &str) -> Option<String> {
        let registry = self.gateway.registry();
        let found = registry.get(contract).expect("a contract of the gateway");
        let there = self.storage.has_table(&found.table).await;
        there.then(|| self.storage.table(&found.table))
    }

    /// Whether a contract's table is there yet.
    pub async fn has_table(&self, contract: &str) -> bool {
        self.table(contract).await.is_some()
    }

    /// How many records of a contract the owner holds.
    pub async fn records(&self, contract: &str) -> i64 {
        let Some(table) = self.table(contract).await else {
            return 0;
        };
        let sql = format!("SELECT COUNT(*) FROM {table}");
        self.storage.rows(&sql, None).await[0].get(0)
    }

    /// One record as the owner holds it.
    pub async fn stored(&self, contract: &str, key: &str) -> Option<Stored> {
        let table = self.table(contract).await?;
        let (param, body) = match self.storage {
            Storage::Postgres { .. } => ("$1", "body::text"),
            _ => ("?", "body"),
        };
        let sql =
            format!("SELECT version, revision, {body} FROM {table} WHERE record_key = {param}");
        let rows = self.storage.rows(&sql, Some(key)).await;
        rows.first().map(|row| Stored {
            version: row.get::<i64, _>(0) as u32,
            revision: row.get::<i64, _>(1) as u64,
            body: serde_json::from_str(&text(row, 2)).expect("a JSON body"),
        })
    }

    /// One attribute (`type`, `subject`…) of every change event, in order.
    pub async fn event_attribute(&self, name: &str) -> Vec<Value> {
        self.events()
            .await
            .iter()
            .map(|e| e[name].clone())
            .collect()
    }

    /// The idempotency keys the owner's ledger keeps, expired or not,
    /// sorted by byte (not by the server's collation).
    pub async fn idempotency_keys(&self) -> Vec<String> {
        let sql = format!(
            "SELECT idempotency_key FROM {}",
            self.storage.table("contractgate_idempotency")
        );
        let rows = self.storage.rows(&sql, None).await;
        let mut keys: Vec<String> = rows.iter().map(|row| text(row, 0)).collect();
        keys.sort();
        keys
    }

    /// Every change event in the owner's journal, in the order written.
    pub async fn events(&self) -> Vec<Value> {
        self.storage.events().await
    }
}

/// A text column, also when MariaDB sends it as a blob.
fn text(row: &sqlx::any::AnyRow, index: usize) -> String {
    row.try_get::<String, _>(index)
        .unwrap_or_else(|_| String::from_utf8(row.get::<Vec<u8>, _>(index)).expect("UTF-8 text"))
}

/// A gateway serving in the background of one test.
pub struct TestGateway {
    pub base: String,
    pub client: reqwest::Client,
    pub storage: Arc<Storage>,
    gateway: Arc<Gateway>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    _background: Background,
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

    /// Serves a config of the test's own; `storage` is where the probe
    /// looks.
    pub async fn with_config(config: Config, storage: Storage) -> TestGateway {
        Self::serve(config, Arc::new(storage)).await
    }

    /// Serves `contracts` on fresh storage of a backend, with the config
    /// changed by `configure` first.
    pub async fn on_configured(
        backend: Backend,
        contracts: &Path,
        configure: impl FnOnce(&mut Config),
    ) -> TestGateway {
        let storage = Arc::new(Storage::create(backend).await);
        let mut config = storage.config(contracts, Limits::default());
        configure(&mut config);
        Self::serve(config, storage).await
    }

    /// Another gateway instance on the same storage and config, as a second
    /// replica behind a load balancer would be.
    pub async fn another_instance(&self) -> TestGateway {
        Self::serve(self.gateway.config().clone(), self.storage.clone()).await
    }

    /// Serves the example contracts on the embedded default behind `auth:`,
    /// with limits.
    pub async fn with_auth(auth: AuthConfig, limits: Limits) -> TestGateway {
        let storage = Storage::create(Backend::Sqlite).await;
        let mut config = storage.config(&example_contracts(), limits);
        config.auth = Some(auth);
        Self::with_config(config, storage).await
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
        let scheme = if config.tls.is_some() {
            "https"
        } else {
            "http"
        };
        let gateway = Arc::new(Gateway::open(config).await.expect("the gateway starts"));
        let background = Background::start(&gateway)
            .await
            .expect("the background tasks start");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free port");
        let base = format!("{scheme}://{}", listener.local_addr().expect("an address"));
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
            _background: background,
        }
    }

    /// The gateway itself, for what a test drives without HTTP (a reload).
    pub fn gateway(&self) -> &Arc<Gateway> {
        &self.gateway
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

    /// GETs a path with extra headers.
    pub async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Response {
        let mut request = self.client.get(self.url(path));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.expect("the gateway answers")
    }

    /// GETs a path and parses the JSON answer.
    pub async fn get_json(&self, path: String) -> Value {
        self.get(&path).await.json().await.expect("a JSON answer")
    }

    /// Sends a request without a body, with extra headers.
    pub async fn send_bare(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Response {
        let mut request = self.client.request(method, self.url(path));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.expect("the gateway answers")
    }

    /// The change feed from the start, page after page (`query` is added
    /// to each page's request: `limit=3`, `contract=order`): every event,
    /// and the cursor the last page gave.
    pub async fn read_feed(&self, query: &str) -> (Vec<Value>, String) {
        let mut events = Vec::new();
        let mut next = "0".to_owned();
        loop {
            let page = self
                .get_json(format!("/changes?after={next}&{query}"))
                .await;
            let batch = page["events"].as_array().cloned().unwrap_or_default();
            if batch.is_empty() {
                assert_eq!(page["next"], next, "an empty page keeps the cursor");
                return (events, next);
            }
            events.extend(batch);
            next = page["next"].as_str().expect("a next cursor").to_owned();
        }
    }

    /// The whole change feed, or one contract's.
    pub async fn all_changes(&self, contract: Option<&str>) -> Vec<Value> {
        let filter = contract.map_or(String::new(), |name| format!("&contract={name}"));
        self.read_feed(&format!("limit=1000{filter}")).await.0
    }

    /// Writes a history for each key (`c-<digits>`) of the example
    /// `customer` contract:
    /// create (v1), patch and replace (v2), then deletes the first key; so
    /// every kind of change event. Returns how many writes there were.
    pub async fn customer_history(&self, keys: &[&str]) -> usize {
        let mut writes = 0;
        for key in keys {
            let path = format!("/contracts/customer/v2/records/{key}");
            let created = self
                .post(
                    "customer",
                    1,
                    &json!({"id": key, "name": "Ada", "email": "ada@example.com"}),
                )
                .await;
            let patched = self
                .send(Method::PATCH, &path, &json!({"tier": "gold"}))
                .await;
            let replaced = self
                .send(Method::PUT, &path, &json!({"id": key, "full_name": "Ada L.", "email": "ada@example.com", "tier": "platinum"}))
                .await;
            for response in [created, patched, replaced] {
                assert!(
                    response.status().is_success(),
                    "{key}: {}",
                    response.status()
                );
                writes += 1;
            }
        }
        if let Some(first) = keys.first() {
            let path = format!("/contracts/customer/v2/records/{first}");
            assert_eq!(self.delete(&path, &[]).await.status(), 204);
            writes += 1;
        }
        writes
    }

    /// DELETEs a path with extra headers.
    pub async fn delete(&self, path: &str, headers: &[(&str, &str)]) -> Response {
        self.send_bare(Method::DELETE, path, headers).await
    }
}

impl Drop for TestGateway {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

/// A second writer holding the embedded SQLite file's write lock, as
/// another process sharing the file would; `ROLLBACK` releases it.
pub async fn hold_write_lock(gateway: &TestGateway) -> sqlx::SqliteConnection {
    use sqlx::{Connection, Executor};
    let options = sqlx::sqlite::SqliteConnectOptions::new().filename(gateway.storage.sqlite_file());
    let mut connection = sqlx::SqliteConnection::connect_with(&options)
        .await
        .expect("a second connection");
    connection
        .execute("BEGIN EXCLUSIVE")
        .await
        .expect("the write lock");
    connection
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

/// A self-signed certificate for 127.0.0.1 and localhost, in PEM files
/// (`cert.pem`, `key.pem`): for the gateway's HTTPS, and for the servers
/// it connects to over TLS, whose clients trust it as its own CA.
pub struct Certificate {
    folder: tempfile::TempDir,
    pub pem: String,
}

impl Certificate {
    pub fn new() -> Certificate {
        let names = vec!["127.0.0.1".to_owned(), "localhost".to_owned()];
        let made = rcgen::generate_simple_self_signed(names).expect("a certificate");
        let folder = tempfile::tempdir().expect("a folder");
        let pem = made.cert.pem();
        std::fs::write(folder.path().join("cert.pem"), &pem).unwrap();
        std::fs::write(
            folder.path().join("key.pem"),
            made.signing_key.serialize_pem(),
        )
        .unwrap();
        Certificate { folder, pem }
    }

    /// A file in its folder: `cert.pem`, `key.pem`.
    pub fn file(&self, name: &str) -> PathBuf {
        self.folder.path().join(name)
    }

    /// The gateway's `tls:` serving it.
    pub fn config(&self) -> TlsConfig {
        TlsConfig {
            cert: self.file("cert.pem"),
            key: self.file("key.pem"),
        }
    }

    /// A client that trusts this certificate.
    pub fn client(&self) -> reqwest::Client {
        let certificate = reqwest::Certificate::from_pem(self.pem.as_bytes()).unwrap();
        reqwest::Client::builder()
            .add_root_certificate(certificate)
            .build()
            .unwrap()
    }
}

/// A PostgreSQL server of the test's own, started the way an operator
/// starts one (initdb, pg_ctl) in a temporary folder on a free port, so a
/// test may stop and start it without touching the shared server.
pub struct PrivatePostgres {
    folder: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    /// Serving TLS (`ssl = on`) with the certificate in its folder.
    tls: bool,
}

impl PrivatePostgres {
    /// Initializes and starts one; None (having said why) when PostgreSQL's
    /// programs are not installed, a failure when CI requires them.
    pub async fn start() -> Option<PrivatePostgres> {
        Self::start_with(None).await
    }

    /// One that offers TLS (`ssl = on`) with `certificate`; clients may
    /// still connect in the clear.
    pub async fn start_tls(certificate: &Certificate) -> Option<PrivatePostgres> {
        Self::start_with(Some(certificate)).await
    }

    async fn start_with(certificate: Option<&Certificate>) -> Option<PrivatePostgres> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()
            .and_then(|versions| versions.flatten().map(|v| v.path().join("bin")).max())
            .filter(|bin| bin.join("initdb").is_file());
        let Some(bin) = bin else {
            if std::env::var_os("CONTRACTGATE_REQUIRE_SERVICES").is_some() {
                panic!("PostgreSQL's programs (initdb, pg_ctl) are required but not installed");
            }
            eprintln!("SKIPPED: PostgreSQL's programs are not installed under /usr/lib/postgresql");
            return None;
        };
        let folder = tempfile::tempdir().expect("a folder");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let server = PrivatePostgres {
            folder,
            bin,
            port,
            tls: certificate.is_some(),
        };
        server.chown(server.folder.path());
        server.run(
            "initdb",
            &["-D", &server.data(), "-A", "trust", "-U", "postgres"],
        );
        if let Some(certificate) = certificate {
            // The server reads its key only if its user alone can.
            for name in ["cert.pem", "key.pem"] {
                let file = server.folder.path().join(name);
                std::fs::copy(certificate.file(name), &file).expect("copied");
                std::fs::set_permissions(
                    &file,
                    std::os::unix::fs::PermissionsExt::from_mode(0o600),
                )
                .expect("permissions set");
                server.chown(&file);
            }
        }
        server.start_again();
        Some(server)
    }

    /// Its URL.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Stops it (fast shutdown: open connections are cut).
    pub fn stop(&self) {
        self.run("pg_ctl", &["-D", &self.data(), "-m", "fast", "-w", "stop"]);
    }

    /// Starts it (again), on the same data and port.
    pub fn start_again(&self) {
        let folder = self.folder.path().display();
        let mut options = format!("-p {} -k {folder} -c listen_addresses=127.0.0.1", self.port);
        if self.tls {
            options.push_str(&format!(
                " -c ssl=on -c ssl_cert_file={folder}/cert.pem -c ssl_key_file={folder}/key.pem"
            ));
        }
        let log = self.folder.path().join("log");
        self.run(
            "pg_ctl",
            &[
                "-D",
                &self.data(),
                "-o",
                &options,
                "-l",
                &log.to_string_lossy(),
                "-w",
                "start",
            ],
        );
    }

    fn data(&self) -> String {
        self.folder
            .path()
            .join("data")
            .to_string_lossy()
            .into_owned()
    }

    /// PostgreSQL refuses to run as root: as root, its folder goes to the
    /// `postgres` user and its programs run as that user.
    fn as_root() -> bool {
        std::process::Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|out| out.stdout.starts_with(b"0\n"))
    }

    /// Gives `path` to the `postgres` user when running as root.
    fn chown(&self, path: &Path) {
        if Self::as_root() {
            let status = std::process::Command::new("chown")
                .args(["postgres"])
                .arg(path)
                .status()
                .expect("chown runs");
            assert!(status.success(), "chown postgres {}", path.display());
        }
    }

    fn command(&self, program: &str) -> std::process::Command {
        let program = self.bin.join(program);
        if Self::as_root() {
            let mut command = std::process::Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(&program);
            command
        } else {
            std::process::Command::new(&program)
        }
    }

    fn run(&self, program: &str, args: &[&str]) {
        let output = self
            .command(program)
            .args(args)
            .output()
            .expect("the program runs");
        assert!(
            output.status.success(),
            "{program} {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        // Stopped already is fine: nothing to report from a drop.
        let _ = self
            .command("pg_ctl")
            .args(["-D", &self.data(), "-m", "immediate", "-w", "stop"])
            .output();
    }
}

/// The real `contractgate serve` in a child process, its stderr captured;
/// killed if the test ends before it exits.
pub struct Served {
    child: std::process::Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    stderr: Option<std::thread::JoinHandle<String>>,
}

impl Served {
    /// Starts `contractgate serve --listen 127.0.0.1:0 ARGS…` in `dir` with
    /// extra environment, and waits until it listens.
    pub fn start(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Served {
        use std::io::{BufRead, BufReader, Read};
        use std::process::{Command, Stdio};
        let mut child = Command::new(env!("CARGO_BIN_EXE_contractgate"))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(args)
            .current_dir(dir)
            .env_remove("CONTRACTGATE_CONFIG")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary starts");
        let mut stderr = child.stderr.take().expect("stderr");
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("a line");
        let base = line
            .trim()
            .strip_prefix("contractgate listening on ")
            .unwrap_or_else(|| panic!("printed {line:?}"))
            .to_owned();
        Served {
            child,
            base,
            stderr: Some(stderr),
        }
    }

    /// `path` under the gateway.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The JSON body of a GET of `path`.
    pub async fn get_json(&self, path: &str) -> Value {
        reqwest::get(self.url(path))
            .await
            .expect("the gateway answers")
            .json()
            .await
            .expect("a JSON body")
    }

    /// Sends the process a signal (`TERM`, `HUP`).
    pub fn signal(&self, name: &str) {
        let sent = std::process::Command::new("kill")
            .args(["-s", name, &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success(), "kill -s {name} failed");
    }

    /// Waits up to `limit` for the process to exit; its exit code and all
    /// it wrote to stderr.
    pub fn exit(mut self, limit: std::time::Duration) -> (Option<i32>, String) {
        let started = std::time::Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("the process") {
                break status;
            }
            assert!(
                started.elapsed() < limit,
                "the gateway did not exit within {limit:?}"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        let stderr = self.stderr.take().map(|t| t.join().unwrap_or_default());
        (status.code(), stderr.unwrap_or_default())
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Copies a folder (a contracts folder a test then edits).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("a folder");
    for entry in std::fs::read_dir(from).expect("a folder to copy") {
        let entry = entry.expect("an entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("a type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copied");
        }
    }
}
