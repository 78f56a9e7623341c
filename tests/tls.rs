//! TLS. HTTPS: the gateway serves with a certificate from files (a
//! self-signed one made by the test), a client that trusts it writes and
//! reads, and neither plain HTTP nor a client that does not trust it gets
//! through. PostgreSQL: the gateway reaches an owner over TLS whose
//! certificate it checks, and refuses to start when the URL requires TLS
//! and the server offers none. (NATS over TLS: tests/relay.rs.)

mod support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use contractgate::config::{Config, Limits, SystemConfig, TlsConfig, EMBEDDED_SYSTEM};
use contractgate::gateway::Gateway;
use contractgate::http::Server;
use sqlx::Connection;
use support::{
    copy_dir, data, example_contracts, Backend, Certificate, PrivatePostgres, Storage, TestGateway,
};

fn config(storage: &Storage, tls: TlsConfig) -> contractgate::config::Config {
    let mut config = storage.config(&example_contracts(), Limits::default());
    config.tls = Some(tls);
    config
}

#[tokio::test]
async fn a_client_that_trusts_the_certificate_writes_and_reads_over_https() {
    let certificate = Certificate::new();
    let storage = Storage::create(Backend::Sqlite).await;
    let config = config(&storage, certificate.config());
    let mut gateway = TestGateway::with_config(config, storage).await;
    assert!(
        gateway.base.starts_with("https://127.0.0.1:"),
        "{}",
        gateway.base
    );
    gateway.client = certificate.client();
    let created = gateway
        .post("customer", 2, &data("payloads/customer-v2.json"))
        .await;
    assert_eq!(created.status(), 201);
    let read = gateway.get("/contracts/customer/v2/records/c-2").await;
    assert_eq!(read.status(), 200);
    assert_eq!(read.version(), reqwest::Version::HTTP_11);

    // Not served in the clear, nor to a client that does not trust it.
    let plain = gateway.base.replacen("https://", "http://", 1);
    assert!(reqwest::get(format!("{plain}/healthz")).await.is_err());
    let untrusting = reqwest::Client::new();
    let error = untrusting
        .get(gateway.url("/healthz"))
        .send()
        .await
        .unwrap_err();
    assert!(format!("{error:?}").contains("UnknownIssuer"), "{error:?}");
    // The gateway still serves after both.
    assert_eq!(gateway.get("/healthz").await.status(), 200);
}

#[tokio::test]
async fn a_missing_or_mismatched_key_stops_the_start_naming_the_file() {
    let certificate = Certificate::new();
    let other = Certificate::new();
    let cases = [
        (
            TlsConfig {
                cert: certificate.file("absent.pem"),
                key: certificate.file("key.pem"),
            },
            "absent.pem",
        ),
        (
            TlsConfig {
                cert: certificate.file("cert.pem"),
                key: certificate.file("cert.pem"),
            },
            "tls.key",
        ),
        (
            TlsConfig {
                cert: certificate.file("cert.pem"),
                key: other.file("key.pem"),
            },
            "does not fit the certificate",
        ),
    ];
    for (tls, expected) in cases {
        let storage = Storage::create(Backend::Sqlite).await;
        let gateway = Gateway::open(config(&storage, tls)).await.unwrap();
        let error = format!("{:#}", Server::new(Arc::new(gateway)).err().unwrap());
        assert!(error.contains(expected), "{error}");
    }
}

/// The example contracts, all owned by one PostgreSQL system at `url`.
fn postgres_config(url: &str) -> Config {
    let mut config = Config::embedded(&example_contracts(), &std::env::temp_dir());
    config.systems = [(
        EMBEDDED_SYSTEM.to_owned(),
        SystemConfig::Postgres {
            url: url.to_owned(),
            schema: Some("crm".to_owned()),
            connections: 4,
        },
    )]
    .into();
    config.limits = Limits::default();
    config
}

#[tokio::test]
async fn a_postgres_owner_is_reached_over_tls_whose_certificate_is_checked() {
    let certificate = Certificate::new();
    let Some(server) = PrivatePostgres::start_tls(&certificate).await else {
        return;
    };
    let ca = certificate.file("cert.pem");
    let verified = format!(
        "{}?sslmode=verify-full&sslrootcert={}",
        server.url(),
        ca.display()
    );
    let storage = Storage::Postgres {
        server: verified.clone(),
        schema: "crm".to_owned(),
    };
    let gateway = TestGateway::with_config(postgres_config(&verified), storage).await;
    let created = gateway
        .post("customer", 2, &data("payloads/customer-v2.json"))
        .await;
    assert_eq!(created.status(), 201);
    let read = gateway.get("/contracts/customer/v2/records/c-2").await;
    assert_eq!(read.status(), 200);
    // The server takes plain connections too: every one of the gateway's
    // is encrypted all the same.
    let mut admin = sqlx::PgConnection::connect(&format!("{}?sslmode=disable", server.url()))
        .await
        .unwrap();
    let (encrypted, plain): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE s.ssl), count(*) FILTER (WHERE NOT s.ssl)
         FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
         WHERE a.backend_type = 'client backend' AND a.pid <> pg_backend_pid()",
    )
    .fetch_one(&mut admin)
    .await
    .unwrap();
    assert!(encrypted > 0, "no encrypted connection");
    assert_eq!(plain, 0, "{plain} plain connections");
    // verify-full without the CA: the Mozilla roots do not vouch for the
    // certificate, and the gateway does not start.
    let unverified = format!("{}?sslmode=verify-full", server.url());
    let error = Gateway::open(postgres_config(&unverified))
        .await
        .err()
        .expect("the start is refused");
    let error = format!("{error:#}");
    assert!(error.contains("UnknownIssuer"), "{error}");
}

#[tokio::test]
async fn requiring_tls_of_a_postgres_server_without_it_stops_the_start() {
    let Some(server) = PrivatePostgres::start().await else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    copy_dir(&example_contracts(), &work.path().join("contracts"));
    let config = format!(
        "systems:\n  crm: {{ kind: postgres, url: \"{}?sslmode=require\" }}\n  shop: {{ kind: sqlite, path: ./shop.db }}\n",
        server.url()
    );
    std::fs::write(work.path().join("contractgate.yaml"), config).unwrap();
    let (code, stderr) = refused_start(work.path());
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("does not support TLS"), "{stderr}");
    assert!(stderr.contains("refuses to start"), "{stderr}");
}

/// Runs `contractgate serve` in `dir`, expecting it to exit before it
/// listens: its exit code and stderr.
fn refused_start(dir: &Path) -> (Option<i32>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_contractgate"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .current_dir(dir)
        .env_remove("CONTRACTGATE_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let started = Instant::now();
    while child.try_wait().expect("the process").is_none() {
        if started.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("the gateway did not exit within 30 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output().expect("its output");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!stdout.contains("listening"), "{stdout}");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}
