//! NATS for the relay's tests: a stream of its own on the shared server
//! (`CONTRACTGATE_TEST_NATS_URL`), or a private `nats-server` a test may
//! stop and start; and what a stream holds, read back message by message.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use async_nats::jetstream;
use contractgate::config::PublishTo;
use serde_json::Value;

use super::{missing, Certificate};

/// Where tests find the nats-server binary.
const NATS_SERVER: &str = "/usr/sbin/nats-server";

/// The shared NATS server's URL.
pub fn shared_url() -> String {
    std::env::var("CONTRACTGATE_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into())
}

/// Whether a NATS server answers at `url`; when not, the test is skipped
/// loudly, or fails when CI requires every service.
pub async fn available(url: &str) -> bool {
    match async_nats::connect(url).await {
        Ok(_) => true,
        Err(error) => missing("NATS", &format!("{url} does not answer ({error})")),
    }
}

/// A client of the server at `url`, trusting `ca` (and it alone) when given.
async fn connect(
    url: &str,
    ca: Option<&Path>,
) -> Result<async_nats::Client, async_nats::ConnectError> {
    let mut options = async_nats::ConnectOptions::new().connection_timeout(Duration::from_secs(2));
    if let Some(ca) = ca {
        options = options.add_root_certificates(ca.to_owned());
    }
    options.connect(url).await
}

/// A stream no other test uses, on the server at `url`, deleted when
/// dropped.
pub struct TestStream {
    /// The server.
    pub url: String,
    /// The stream's name (its subjects start with it in lowercase).
    pub name: String,
    /// The CA the server's TLS certificate is trusted by, if it has one.
    pub ca: Option<PathBuf>,
}

/// A message as the stream holds it.
#[derive(Debug, Clone)]
pub struct Published {
    /// Its subject.
    pub subject: String,
    /// Its `Nats-Msg-Id` header.
    pub message_id: String,
    /// Its `content-type` header.
    pub content_type: String,
    /// Its payload, parsed.
    pub event: Value,
}

impl TestStream {
    /// A fresh stream name on the server at `url` (the relay creates it).
    pub fn new(url: &str) -> TestStream {
        TestStream {
            url: url.to_owned(),
            name: format!("CG_{}", uuid::Uuid::new_v4().simple()).to_uppercase(),
            ca: None,
        }
    }

    /// The same stream on a server whose TLS certificate `ca` vouches for.
    pub fn trusting(mut self, ca: &Path) -> TestStream {
        self.ca = Some(ca.to_owned());
        self
    }

    /// The `events.publish_to` that names it.
    pub fn publish_to(&self) -> PublishTo {
        PublishTo {
            url: self.url.clone(),
            stream: self.name.clone(),
            ca: self.ca.clone(),
        }
    }

    /// Every message in the stream, in stream order (none when the stream
    /// does not exist yet).
    pub async fn messages(&self) -> Vec<Published> {
        let client = connect(&self.url, self.ca.as_deref())
            .await
            .expect("NATS answers");
        let jetstream = jetstream::new(client);
        let Ok(stream) = jetstream.get_stream(&self.name).await else {
            return Vec::new();
        };
        let state = stream.get_info().await.expect("stream info").state;
        if state.messages == 0 {
            return Vec::new();
        }
        let mut messages = Vec::new();
        for sequence in state.first_sequence..=state.last_sequence {
            let message = stream
                .get_raw_message(sequence)
                .await
                .expect("a stored message");
            let header = |name: &str| {
                message
                    .headers
                    .get(name)
                    .map(|value| value.as_str().to_owned())
                    .unwrap_or_default()
            };
            messages.push(Published {
                subject: message.subject.to_string(),
                message_id: header("Nats-Msg-Id"),
                content_type: header("content-type"),
                event: serde_json::from_slice(&message.payload).expect("a JSON payload"),
            });
        }
        messages
    }

    /// Asserts the stream holds exactly `feed` (a journal's events in commit
    /// order), in that order, each once, as the relay publishes them: under
    /// its contract and kind, `Nats-Msg-Id` = event id, structured mode.
    pub async fn assert_holds(&self, feed: &[Value]) {
        let messages = self.messages().await;
        let ids = |events: Vec<&Value>| -> Vec<String> {
            events
                .iter()
                .map(|e| e["id"].as_str().unwrap_or_default().to_owned())
                .collect()
        };
        assert_eq!(
            ids(messages.iter().map(|m| &m.event).collect()),
            ids(feed.iter().collect()),
            "the stream's events and order"
        );
        let prefix = self.name.to_lowercase();
        for (message, event) in messages.iter().zip(feed) {
            assert_eq!(&message.event, event);
            assert_eq!(message.message_id, event["id"].as_str().unwrap_or_default());
            assert_eq!(message.content_type, "application/cloudevents+json");
            let kind = event["type"].as_str().unwrap_or_default();
            assert_eq!(message.subject, format!("{prefix}.{kind}"));
        }
    }
}

impl Drop for TestStream {
    fn drop(&mut self) {
        let (url, name, ca) = (self.url.clone(), self.name.clone(), self.ca.clone());
        // Drop runs outside any runtime's reach: clean up on a thread of
        // its own; a server already gone has nothing to clean.
        let _ = std::thread::spawn(move || {
            if let Ok(runtime) = tokio::runtime::Runtime::new() {
                runtime.block_on(async {
                    if let Ok(client) = connect(&url, ca.as_deref()).await {
                        let _ = jetstream::new(client).delete_stream(&name).await;
                    }
                });
            }
        })
        .join();
    }
}

/// A nats-server of one test's own, on a free port with its own store, so
/// the test may stop and start it; killed when dropped.
pub struct PrivateNats {
    /// `nats://127.0.0.1:<port>`, or `tls://…` serving TLS.
    pub url: String,
    port: u16,
    store: tempfile::TempDir,
    process: Option<Child>,
    /// The certificate and key it serves TLS with, which it then requires.
    tls: Option<(PathBuf, PathBuf)>,
}

impl PrivateNats {
    /// Starts one, or returns none (skipping loudly, or failing in CI) when
    /// the binary is missing.
    pub async fn start() -> Option<PrivateNats> {
        Self::start_with(None).await
    }

    /// One that requires TLS, with `certificate`.
    pub async fn start_tls(certificate: &Certificate) -> Option<PrivateNats> {
        Self::start_with(Some(certificate)).await
    }

    async fn start_with(certificate: Option<&Certificate>) -> Option<PrivateNats> {
        if !Path::new(NATS_SERVER).is_file() {
            missing("nats-server", &format!("{NATS_SERVER} is not installed"));
            return None;
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let scheme = if certificate.is_some() { "tls" } else { "nats" };
        let mut nats = PrivateNats {
            url: format!("{scheme}://127.0.0.1:{port}"),
            port,
            store: tempfile::tempdir().expect("a store folder"),
            process: None,
            tls: certificate.map(|c| (c.file("cert.pem"), c.file("key.pem"))),
        };
        nats.resume().await;
        Some(nats)
    }

    /// Kills the server at once, as a crash or a network cut would.
    pub fn stop(&mut self) {
        if let Some(mut process) = self.process.take() {
            let _ = process.kill();
            let _ = process.wait();
        }
    }

    /// Starts the server again on the same port and store, and waits until
    /// it answers.
    pub async fn resume(&mut self) {
        let mut command = Command::new(NATS_SERVER);
        command
            .args([
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-js",
                "-sd",
            ])
            .arg(self.store.path());
        if let Some((cert, key)) = &self.tls {
            command
                .arg("--tls")
                .arg("--tlscert")
                .arg(cert)
                .arg("--tlskey")
                .arg(key);
        }
        let process = command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server starts");
        self.process = Some(process);
        // A self-signed certificate is its own CA.
        let ca = self.tls.as_ref().map(|(cert, _)| cert.as_path());
        for _ in 0..100 {
            if connect(&self.url, ca).await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the private nats-server on {} did not come up", self.url);
    }
}

impl Drop for PrivateNats {
    fn drop(&mut self) {
        self.stop();
    }
}
