//! Hot reload: under concurrent writes no request fails; a broken folder
//! keeps the previous contracts serving and says so on /readyz, in the
//! metrics and to `POST /admin/reload`; requests finish on the snapshot
//! they started with; the folder watch and SIGHUP reload.

mod support;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use contractgate::config::Limits;
use contractgate::gateway::{watch, ReloadOutcome};
use reqwest::Method;
use serde_json::json;
use support::{
    copy_dir, data, example_contracts, expect_problem, Backend, Served, Storage, TestGateway,
};

/// A copy of the example contracts the test may edit, and a gateway on it.
async fn editable(debounce_ms: u64) -> (tempfile::TempDir, TestGateway) {
    let folder = tempfile::tempdir().expect("a folder");
    copy_dir(&example_contracts(), folder.path());
    let storage = Storage::create(Backend::Sqlite).await;
    let mut config = storage.config(folder.path(), Limits::default());
    config.reload.debounce_ms = debounce_ms;
    (folder, TestGateway::with_config(config, storage).await)
}

fn customer_yaml(folder: &Path) -> std::path::PathBuf {
    folder.join("customer/contract.yaml")
}

/// Asserts a customer can be created.
async fn assert_writes(gateway: &TestGateway) {
    let response = gateway
        .post("customer", 2, &data("payloads/customer-v2.json"))
        .await;
    assert_eq!(response.status(), 201);
}

/// Rewrites the customer contract's description: a change a reload loads.
fn touch(folder: &Path, note: usize) {
    let path = customer_yaml(folder);
    let text = std::fs::read_to_string(&path).unwrap();
    let (_, rest) = text.split_once('\n').unwrap();
    let rest = rest
        .lines()
        .filter(|line| !line.starts_with("description:"))
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(
        &path,
        format!("name: customer\ndescription: revision {note}\n{rest}\n"),
    )
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reloads_under_concurrent_writes_fail_no_request() {
    let (folder, gateway) = editable(500).await;
    let gateway = Arc::new(gateway);
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for writer in 0..8 {
        let (gateway, stop) = (gateway.clone(), stop.clone());
        writers.push(tokio::spawn(async move {
            let mut statuses = Vec::new();
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                let mut body = data("payloads/customer-v2.json");
                body["id"] = json!(format!("c-{writer}{n:05}"));
                let response = gateway.post("customer", 2, &body).await;
                statuses.push(response.status().as_u16());
                n += 1;
            }
            statuses
        }));
    }
    for reload in 0..10 {
        touch(folder.path(), reload);
        if reload == 5 {
            // A new stored version mid-load: in-flight writes finish on v3,
            // later ones are upgraded to v4.
            std::fs::copy(
                folder.path().join("customer/v3.schema.json"),
                folder.path().join("customer/v4.schema.json"),
            )
            .unwrap();
            let mut text = std::fs::read_to_string(customer_yaml(folder.path())).unwrap();
            text.push_str("  - version: 4\n    schema: v4.schema.json\n");
            std::fs::write(customer_yaml(folder.path()), text).unwrap();
        }
        let outcome = gateway.gateway().reload().await;
        assert!(
            matches!(outcome, ReloadOutcome::Reloaded { generation, .. } if generation == reload as u64 + 2),
            "{outcome:?}"
        );
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    stop.store(true, Ordering::Relaxed);
    let mut statuses = Vec::new();
    for writer in writers {
        statuses.extend(writer.await.unwrap());
    }
    assert!(statuses.len() >= 20, "too little load: {}", statuses.len());
    assert!(
        statuses.iter().all(|status| *status == 201),
        "failed requests: {:?}",
        statuses.iter().filter(|s| **s != 201).collect::<Vec<_>>()
    );
    assert_eq!(gateway.gateway().generation(), 11);
    // The new stored version serves.
    let described = gateway.get_json("/contracts/customer".into()).await;
    assert_eq!(described["stored_version"], 4, "{described}");
}

#[tokio::test]
async fn a_broken_folder_keeps_the_previous_contracts_serving() {
    let (folder, gateway) = editable(500).await;
    std::fs::write(
        customer_yaml(folder.path()),
        "name: customer\nversions: [oops\n",
    )
    .unwrap();
    let outcome = gateway.gateway().reload().await;
    let ReloadOutcome::Refused {
        generation,
        problems,
    } = &outcome
    else {
        panic!("{outcome:?}")
    };
    assert_eq!(*generation, 1);
    assert!(
        problems.iter().any(|p| p.contains("contract.yaml")),
        "{problems:?}"
    );
    // Still served by generation 1.
    assert_writes(&gateway).await;
    let ready = gateway.get("/readyz").await;
    assert_eq!(ready.status(), 200, "a refused reload is no outage");
    let ready: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(ready["registry"]["generation"], 1, "{ready}");
    let last = &ready["registry"]["last_reload"];
    assert_eq!(last["result"], "refused", "{ready}");
    assert!(last["problems"][0]
        .as_str()
        .unwrap()
        .contains("contract.yaml"));
    assert!(last["at"].is_string(), "{ready}");
    let metrics = gateway.get("/metrics").await.text().await.unwrap();
    for line in [
        "contractgate_last_reload_success 0",
        "contractgate_reloads_total{result=\"failed\"} 1",
        "contractgate_registry_generation 1",
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} in\n{metrics}");
    }
    let problem = expect_problem(
        gateway
            .send(Method::POST, "/admin/reload", &json!(null))
            .await,
        422,
        "reload-refused",
    )
    .await;
    assert!(problem["detail"]
        .as_str()
        .unwrap()
        .contains("generation 1 keeps serving"));

    // Mended, the next reload serves it.
    copy_dir(
        &example_contracts().join("customer"),
        &folder.path().join("customer"),
    );
    let response = gateway
        .send(Method::POST, "/admin/reload", &json!(null))
        .await;
    assert_eq!(response.status(), 200);
    let reloaded: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        reloaded,
        json!({"result": "reloaded", "generation": 2, "contracts": 2})
    );
    let ready = gateway.get_json("/readyz".into()).await;
    assert_eq!(ready["registry"]["last_reload"]["result"], "reloaded");
}

#[tokio::test]
async fn a_request_finishes_on_the_snapshot_it_started_with() {
    let (folder, gateway) = editable(500).await;
    let gateway = gateway.gateway();
    let order = gateway.resolve("order", "v1", "test").expect("order v1");
    std::fs::remove_dir_all(folder.path().join("order")).unwrap();
    assert!(matches!(
        gateway.reload().await,
        ReloadOutcome::Reloaded { contracts: 1, .. }
    ));
    assert!(
        gateway.resolve("order", "v1", "test").is_err(),
        "gone for new requests"
    );
    let body = support::example("order", "v1.valid.natural.json");
    let outcome = gateway
        .create(&order, body, None)
        .await
        .expect("the old snapshot still writes");
    assert_eq!(outcome.revision, 1);
}

#[tokio::test]
async fn a_reload_cannot_move_records_while_requests_use_them() {
    let (folder, gateway) = editable(500).await;
    let text = std::fs::read_to_string(customer_yaml(folder.path())).unwrap();
    std::fs::write(
        customer_yaml(folder.path()),
        text.replace("key: /id", "key: /id\ntable: customers_elsewhere"),
    )
    .unwrap();
    let outcome = gateway.gateway().reload().await;
    let ReloadOutcome::Refused { problems, .. } = outcome else {
        panic!("{outcome:?}")
    };
    assert!(problems[0].contains("restart the gateway"), "{problems:?}");
    assert_writes(&gateway).await;
}

/// Waits up to 10 s for a condition checked every 50 ms.
async fn eventually(mut condition: impl AsyncFnMut() -> bool) -> bool {
    for _ in 0..200 {
        if condition().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test]
async fn a_change_in_the_folder_reloads_it() {
    let (folder, gateway) = editable(100).await;
    let _watcher = watch(gateway.gateway().clone()).expect("watching");
    touch(folder.path(), 1);
    assert!(
        eventually(async || gateway.gateway().generation() == 2).await,
        "no reload after the change"
    );
    let described = gateway.get_json("/contracts/customer".into()).await;
    assert_eq!(described["description"], "revision 1");
    // The reload read the folder; reads change nothing, so they reload
    // nothing (ten debounce periods later, still one reload).
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(gateway.gateway().generation(), 2);
}

/// `serve` watches its folder from the moment it answers: the first edit
/// after that reloads.
#[tokio::test]
async fn serve_reloads_the_contracts_when_the_folder_changes() {
    let work = tempfile::tempdir().unwrap();
    let contracts = work.path().join("contracts");
    copy_dir(&example_contracts(), &contracts);
    let served = Served::start(work.path(), &[], &[]);
    let described = || async {
        let customer = served.get_json("/contracts/customer").await;
        customer["description"].as_str().map(str::to_owned)
    };
    touch(&contracts, 1);
    assert!(
        eventually(async || described().await.as_deref() == Some("revision 1")).await,
        "the edit did not reload the folder"
    );
}

#[tokio::test]
async fn sighup_reloads_the_contracts() {
    let work = tempfile::tempdir().unwrap();
    copy_dir(&example_contracts(), &work.path().join("contracts"));
    let served = Served::start(work.path(), &[], &[]);
    let generation =
        || async { served.get_json("/readyz").await["registry"]["generation"].as_u64() };
    assert_eq!(generation().await, Some(1));
    served.signal("HUP");
    assert!(eventually(async || generation().await == Some(2)).await);
}
