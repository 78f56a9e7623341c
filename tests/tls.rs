//! HTTPS: the gateway serves with a certificate from files (a self-signed
//! one made by the test), a client that trusts it writes and reads, and
//! neither plain HTTP nor a client that does not trust it gets through.

mod support;

use std::path::PathBuf;
use std::sync::Arc;

use contractgate::config::{Limits, TlsConfig};
use contractgate::gateway::Gateway;
use contractgate::http::Server;
use support::{data, example_contracts, Backend, Storage, TestGateway};

/// A self-signed certificate for 127.0.0.1 and localhost, in PEM files.
struct Certificate {
    folder: tempfile::TempDir,
    pem: String,
}

impl Certificate {
    fn new() -> Certificate {
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

    fn file(&self, name: &str) -> PathBuf {
        self.folder.path().join(name)
    }

    fn config(&self) -> TlsConfig {
        TlsConfig {
            cert: self.file("cert.pem"),
            key: self.file("key.pem"),
        }
    }

    /// A client that trusts this certificate.
    fn client(&self) -> reqwest::Client {
        let certificate = reqwest::Certificate::from_pem(self.pem.as_bytes()).unwrap();
        reqwest::Client::builder()
            .add_root_certificate(certificate)
            .build()
            .unwrap()
    }
}

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
