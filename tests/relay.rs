//! The outbox relay against a real NATS JetStream: every committed write's
//! event reaches the stream once, in commit order, through a broker outage
//! and a gateway killed mid-stream.

mod support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use contractgate::config::{Limits, PublishTo, RejectionLimits, EMBEDDED_SYSTEM};
use contractgate::contract::{ContractName, RecordKey};
use contractgate::events::relay::{self, Publisher, Relay, Relayed};
use contractgate::events::ChangeEvent;
use contractgate::systems::{
    self as owner, Backlog, ChangedSchema, Changes, Committed, Idempotency, IdempotencyKey,
    Journal, JournalEvent, KeptRejection, LedgerEntry, ServedSchema,
};
use serde_json::{json, Value};
use support::nats::{self, PrivateNats, TestStream};
use support::{example_contracts, Backend, Certificate, Storage, TestGateway};

/// A relay over the embedded system's journal of a gateway.
async fn relay_of(gateway: &TestGateway, stream: &TestStream) -> Relay {
    let journal = gateway.gateway().systems()[EMBEDDED_SYSTEM].journal.clone();
    Relay::new(journal, publisher(stream).await)
}

async fn publisher(stream: &TestStream) -> Arc<Publisher> {
    let publisher = Publisher::connect(&stream.publish_to()).await;
    Arc::new(publisher.expect("the broker's URL is usable"))
}

/// Relay steps until nothing waits; how many events went.
async fn relay_all(relay: &Relay) -> usize {
    let mut relayed = 0;
    while let Relayed::Events(count) = relay.relay_once().await.expect("a relay step") {
        relayed += count;
    }
    relayed
}

async fn the_relay_publishes_every_event_once_in_commit_order(backend: Backend) {
    let url = nats::shared_url();
    if !nats::available(&url).await {
        return;
    }
    let gateway = TestGateway::on(backend, &example_contracts()).await;
    let writes = gateway.customer_history(&["c-1", "c-2", "c-3"]).await;
    let stream = TestStream::new(&url);
    let relay = relay_of(&gateway, &stream).await;
    assert_eq!(relay_all(&relay).await, writes);
    stream.assert_holds(&gateway.all_changes(None).await).await;
    // Marked relayed: nothing is sent twice.
    assert_eq!(relay.relay_once().await.expect("a step"), Relayed::Empty);
    assert_eq!(stream.messages().await.len(), writes);
    // No relay configured: /readyz reports none.
    let ready = gateway.get_json("/readyz".into()).await;
    assert_eq!(ready.get("relay"), None, "{ready}");
}

on_every_owner!(the_relay_publishes_every_event_once_in_commit_order);

/// A journal that loses every `mark_relayed`, as a relay killed between the
/// broker's ack and marking would.
struct Forgetful(Arc<dyn Journal>);

#[async_trait]
impl Journal for Forgetful {
    async fn record(&self, event: &ChangeEvent) -> Result<(), owner::Error> {
        self.0.record(event).await
    }
    async fn changes_after(
        &self,
        cursor: Option<u64>,
        contract: Option<&ContractName>,
        limit: usize,
    ) -> Result<Changes, owner::Error> {
        self.0.changes_after(cursor, contract, limit).await
    }
    async fn claim_unrelayed(
        &self,
        limit: usize,
        lease_ms: u64,
    ) -> Result<Vec<JournalEvent>, owner::Error> {
        self.0.claim_unrelayed(limit, lease_ms).await
    }
    async fn mark_relayed(&self, _positions: &[u64]) -> Result<(), owner::Error> {
        Err(owner::Error::Unavailable("the relay died first".into()))
    }
    async fn backlog(&self) -> Result<Backlog, owner::Error> {
        self.0.backlog().await
    }
    async fn prune(&self, older_than: Duration, relayed_only: bool) -> Result<u64, owner::Error> {
        self.0.prune(older_than, relayed_only).await
    }
    async fn remembered(
        &self,
        contract: &ContractName,
        key: &IdempotencyKey,
    ) -> Result<Option<LedgerEntry>, owner::Error> {
        self.0.remembered(contract, key).await
    }
    async fn remember(
        &self,
        contract: &ContractName,
        record_key: &RecordKey,
        idempotency: &Idempotency,
        committed: &Committed,
    ) -> Result<(), owner::Error> {
        self.0
            .remember(contract, record_key, idempotency, committed)
            .await
    }
    async fn forget_expired(&self) -> Result<u64, owner::Error> {
        self.0.forget_expired().await
    }
    async fn pin_schemas(
        &self,
        served: &[ServedSchema],
    ) -> Result<Vec<ChangedSchema>, owner::Error> {
        self.0.pin_schemas(served).await
    }
    async fn keep_rejection(
        &self,
        rejection: &KeptRejection,
        limits: &RejectionLimits,
    ) -> Result<(), owner::Error> {
        self.0.keep_rejection(rejection, limits).await
    }
    async fn rejections(
        &self,
        contract: &ContractName,
        limit: usize,
    ) -> Result<Vec<KeptRejection>, owner::Error> {
        self.0.rejections(contract, limit).await
    }
}

#[tokio::test]
async fn an_event_published_but_not_marked_is_sent_again_and_the_broker_drops_the_repeat() {
    let url = nats::shared_url();
    if !nats::available(&url).await {
        return;
    }
    let gateway = TestGateway::spawn(&example_contracts()).await;
    let writes = gateway.customer_history(&["c-1", "c-2"]).await;
    let stream = TestStream::new(&url);
    let journal = gateway.gateway().systems()[EMBEDDED_SYSTEM].journal.clone();
    let forgetful = Relay::new(
        Arc::new(Forgetful(journal.clone())),
        publisher(&stream).await,
    );
    let error = forgetful.relay_once().await.expect_err("marking failed");
    assert!(matches!(error, relay::Error::Journal(_)), "{error}");
    assert_eq!(
        stream.messages().await.len(),
        writes,
        "published before the failure"
    );
    // The events still wait, and go again: the stream keeps one of each.
    let relay = Relay::new(journal, publisher(&stream).await);
    assert_eq!(relay_all(&relay).await, writes);
    stream.assert_holds(&gateway.all_changes(None).await).await;
}

/// The relay's entry of `/readyz` for a system of the gateway at `base`.
async fn backlog(base: &str, system: &str) -> Value {
    let ready: Value = reqwest::get(format!("{base}/readyz"))
        .await
        .expect("the gateway answers")
        .json()
        .await
        .expect("JSON");
    ready["relay"][system].clone()
}

/// Waits until nothing waits for the relay of a system, and returns its
/// entry of `/readyz`.
async fn drained(base: &str, system: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        let entry = backlog(base, system).await;
        if entry["backlog"] == 0 {
            return entry;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still waiting: {entry}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn writes_go_on_while_the_broker_is_down_and_the_backlog_follows_in_order() {
    let Some(mut broker) = PrivateNats::start().await else {
        return;
    };
    let stream = TestStream::new(&broker.url);
    let publish_to = stream.publish_to();
    let storage = Storage::create(Backend::Sqlite).await;
    let mut config = storage.config(&example_contracts(), Limits::default());
    config.events.publish_to = Some(publish_to);
    let gateway = TestGateway::with_config(config, storage).await;
    let before = gateway.customer_history(&["c-1", "c-2"]).await;
    drained(&gateway.base, EMBEDDED_SYSTEM).await;
    assert_eq!(stream.messages().await.len(), before);
    broker.stop();
    let during = gateway.customer_history(&["c-3", "c-4", "c-5"]).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let waiting = backlog(&gateway.base, EMBEDDED_SYSTEM).await;
    assert_eq!(waiting["backlog"], during as u64, "{waiting}");
    assert!(
        waiting["oldest_unsent_seconds"].as_f64() > Some(0.0),
        "{waiting}"
    );
    // The same backlog as a metric.
    let scraped = gateway.get("/metrics").await.text().await.unwrap();
    let line =
        format!("contractgate_outbox_backlog_events{{system=\"{EMBEDDED_SYSTEM}\"}} {during}");
    assert!(scraped.lines().any(|l| l == line), "{line} in\n{scraped}");
    broker.resume().await;
    let entry = drained(&gateway.base, EMBEDDED_SYSTEM).await;
    assert_eq!(entry, json!({"backlog": 0, "oldest_unsent_seconds": null}));
    stream.assert_holds(&gateway.all_changes(None).await).await;
}

/// A broker that requires TLS (`tls://`), with a certificate of a private
/// CA: trusting the system's CAs alone, the relay does not get through and
/// the events wait; with `events.publish_to.ca` naming the CA, it publishes
/// every event.
#[tokio::test]
async fn the_relay_publishes_over_tls_to_a_broker_whose_ca_it_trusts() {
    let certificate = Certificate::new();
    let Some(broker) = PrivateNats::start_tls(&certificate).await else {
        return;
    };
    assert!(broker.url.starts_with("tls://"), "{}", broker.url);
    let ca = certificate.file("cert.pem");
    let gateway_publishing_to = |publish_to| async move {
        let storage = Storage::create(Backend::Sqlite).await;
        let mut config = storage.config(&example_contracts(), Limits::default());
        config.events.publish_to = Some(publish_to);
        TestGateway::with_config(config, storage).await
    };

    let untrusted = TestStream::new(&broker.url).trusting(&ca);
    let publish_to = PublishTo {
        ca: None,
        ..untrusted.publish_to()
    };
    let gateway = gateway_publishing_to(publish_to).await;
    let writes = gateway.customer_history(&["c-1", "c-2"]).await;
    // Several of the relay's attempts.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let waiting = backlog(&gateway.base, EMBEDDED_SYSTEM).await;
    assert_eq!(waiting["backlog"], writes as u64, "{waiting}");
    assert!(untrusted.messages().await.is_empty());
    drop(gateway);

    let stream = TestStream::new(&broker.url).trusting(&ca);
    let gateway = gateway_publishing_to(stream.publish_to()).await;
    gateway.customer_history(&["c-1", "c-2"]).await;
    drained(&gateway.base, EMBEDDED_SYSTEM).await;
    stream.assert_holds(&gateway.all_changes(None).await).await;
}

/// A `ca` file that holds no certificate stops the start, naming it.
#[tokio::test]
async fn a_ca_file_without_a_certificate_stops_the_start() {
    let folder = tempfile::tempdir().unwrap();
    let empty = folder.path().join("ca.pem");
    std::fs::write(&empty, "not a certificate\n").unwrap();
    for ca in [empty, folder.path().join("absent.pem")] {
        let publish_to = PublishTo {
            url: "tls://127.0.0.1:4222".to_owned(),
            stream: "UNUSED".to_owned(),
            ca: Some(ca.clone()),
        };
        let error = Publisher::connect(&publish_to)
            .await
            .err()
            .expect("refused");
        assert!(
            error.to_string().contains(&*ca.to_string_lossy()),
            "{error}"
        );
    }
}

/// The real binary serving a config file; killed with SIGKILL when dropped.
struct GatewayProcess {
    process: Child,
    base: String,
    // Kept open: the gateway's stdout must not become a closed pipe.
    _output: BufReader<std::process::ChildStdout>,
}

impl GatewayProcess {
    fn start(config: &Path) -> GatewayProcess {
        let mut process = Command::new(env!("CARGO_BIN_EXE_contractgate"))
            .arg("serve")
            .arg("--config")
            .arg(config)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .spawn()
            .expect("the gateway starts");
        let stdout = process.stdout.take().expect("its output");
        let mut output = BufReader::new(stdout);
        let mut line = String::new();
        output
            .read_line(&mut line)
            .expect("it says where it listens");
        let base = line
            .trim()
            .strip_prefix("contractgate listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned();
        GatewayProcess {
            process,
            base,
            _output: output,
        }
    }

    /// SIGKILL: no shutdown, no flush, no goodbye.
    fn kill(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

impl Drop for GatewayProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Writes customers `c-<writer><n>` one after the other (a create, then a
/// replace), recording each write answered 2xx, until the gateway stops
/// answering or `count` customers were written.
async fn write_until_gone(
    base: String,
    writer: usize,
    count: usize,
    answered: Arc<Mutex<BTreeMap<String, u64>>>,
) {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("a client");
    for n in 0..count {
        let key = format!("c-{writer}{n:04}");
        let body =
            json!({"id": key, "full_name": "Ada", "email": "ada@example.com", "tier": "gold"});
        let writes = [
            client.post(format!("{base}/contracts/customer/v2/records")),
            client.put(format!("{base}/contracts/customer/v2/records/{key}")),
        ];
        for (revision, request) in (1..).zip(writes) {
            match request.json(&body).send().await {
                Ok(response) if response.status().is_success() => {
                    answered
                        .lock()
                        .expect("the tally")
                        .insert(key.clone(), revision);
                }
                Ok(response) => panic!("{key}: {}", response.status()),
                Err(_) => return,
            }
        }
    }
}

#[tokio::test]
async fn a_gateway_killed_mid_stream_loses_no_answered_write_and_publishes_each_event_once() {
    if !Backend::Postgres.available().await {
        return;
    }
    let Some(broker) = PrivateNats::start().await else {
        return;
    };
    let storage = Storage::create(Backend::Postgres).await;
    let Storage::Postgres { server, schema } = &storage else {
        unreachable!("a PostgreSQL storage");
    };
    let stream = TestStream::new(&broker.url);
    let folder = tempfile::tempdir().expect("a folder");
    let config = folder.path().join("contractgate.yaml");
    let yaml = format!(
        "listen: 127.0.0.1:0\ncontracts: {contracts}\ndata: {data}\nsystems:\n  \
         crm: {{ kind: postgres, url: \"{server}\", schema: {schema} }}\n  \
         shop: {{ kind: sqlite, path: {data}/shop.db }}\n\
         events: {{ publish_to: {{ url: \"{url}\", stream: {stream} }} }}\n",
        contracts = example_contracts().display(),
        data = folder.path().display(),
        url = broker.url,
        stream = stream.name,
    );
    std::fs::write(&config, yaml).expect("the config is written");

    let mut gateway = GatewayProcess::start(&config);
    let answered = Arc::new(Mutex::new(BTreeMap::new()));
    let writers: Vec<_> = (1..=4)
        .map(|writer| {
            let writing = write_until_gone(gateway.base.clone(), writer, 1000, answered.clone());
            tokio::spawn(writing)
        })
        .collect();
    while answered.lock().expect("the tally").len() < 40 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    gateway.kill();
    for writer in writers {
        writer.await.expect("a writer");
    }
    let answered = answered.lock().expect("the tally").clone();

    let gateway = GatewayProcess::start(&config);
    // After a restart writes go on, and the relay (once the dead instance's
    // lease ran out) empties the backlog.
    write_until_gone(gateway.base.clone(), 9, 5, Arc::default()).await;
    drained(&gateway.base, "crm").await;

    // Every write answered 2xx is in the owner.
    let stored = storage.revisions("customer").await;
    for (key, revision) in &answered {
        assert!(
            stored.get(key) >= Some(revision),
            "{key} answered at {revision}, stored {:?}",
            stored.get(key)
        );
    }
    // No record without its events, no event without its record: each
    // record's revisions 1..=r are journaled, and nothing else.
    let mut journaled: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    let events = storage.events().await;
    for event in &events {
        let key = event["subject"].as_str().expect("a subject").to_owned();
        let revision = event["revision"].as_u64().expect("a revision");
        journaled.entry(key).or_default().push(revision);
    }
    let expected: BTreeMap<String, Vec<u64>> = stored
        .iter()
        .map(|(key, revision)| (key.clone(), (1..=*revision).collect()))
        .collect();
    assert_eq!(journaled, expected);
    // Each event reached the stream once, in commit order.
    let feed: Vec<Value> = reqwest::get(format!(
        "{}/changes?contract=customer&limit=1000",
        gateway.base
    ))
    .await
    .expect("the gateway answers")
    .json::<Value>()
    .await
    .expect("a page")["events"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        feed.len(),
        events.len(),
        "every journaled event is in the feed"
    );
    stream.assert_holds(&feed).await;
}
