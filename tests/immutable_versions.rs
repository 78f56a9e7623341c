//! A published version is immutable at run time too: the gateway records
//! each served version's canonical schema hash in its owner's journal and
//! refuses to start when a version comes back with another schema.

mod support;

use std::path::Path;

use contractgate::config::Limits;
use contractgate::contract::{LoadOptions, Registry};
use contractgate::gateway::Gateway;
use support::{copy_dir, example_contracts, Backend, TestGateway};

fn v1_hash(contracts: &Path) -> String {
    let registry = Registry::load(contracts, &LoadOptions::default()).expect("the contracts load");
    registry.get("customer").expect("customer").versions()[0]
        .schema_hash
        .clone()
}

/// Why a start on `gateway`'s storage with the contracts of `folder` is
/// refused.
async fn refused_start(gateway: &TestGateway, folder: &Path) -> String {
    let refused = Gateway::open(gateway.storage.config(folder, Limits::default()))
        .await
        .err()
        .expect("the start is refused");
    format!("{refused:#}")
}

async fn a_version_whose_schema_changed_under_its_number_is_refused_at_start(backend: Backend) {
    let folders = tempfile::tempdir().unwrap();
    let (published, edited) = (folders.path().join("a"), folders.path().join("b"));
    copy_dir(&example_contracts(), &published);
    copy_dir(&example_contracts(), &edited);
    let v1 = edited.join("customer/v1.schema.json");
    let text = std::fs::read_to_string(&v1).unwrap();
    // Even an edit that breaks nothing else (a title) is an edit.
    let retitled = text.replace("Customer, version 1", "Customer, first version");
    assert_ne!(retitled, text);
    std::fs::write(&v1, retitled).unwrap();
    let (recorded, offered) = (v1_hash(&published), v1_hash(&edited));
    assert_ne!(recorded, offered);

    let gateway = TestGateway::on(backend, &published).await;
    let message = refused_start(&gateway, &edited).await;
    assert!(message.contains("contract `customer` v1"), "{message}");
    assert!(
        message.contains(&recorded) && message.contains(&offered),
        "{message}"
    );

    // The published contracts still start, and say nothing changed.
    let again = gateway.restart(&published).await;
    assert_eq!(again.get("/readyz").await.status(), 200);
}

/// `n` one-version contracts `c0001` … with a title of their own each.
fn many_contracts(folder: &Path, n: usize) {
    for i in 1..=n {
        let dir = folder.join(format!("c{i:04}"));
        std::fs::create_dir_all(&dir).unwrap();
        let schema = serde_json::json!({
            "title": format!("contract {i}"), "type": "object",
            "properties": {"id": {"type": "string"}}, "required": ["id"]
        });
        std::fs::write(dir.join("v1.schema.json"), schema.to_string()).unwrap();
        std::fs::write(
            dir.join("contract.yaml"),
            format!(
                "name: c{i:04}\nkey: /id\nversions:\n  - version: 1\n    schema: v1.schema.json\n"
            ),
        )
        .unwrap();
    }
}

/// Hashes are recorded a few hundred per statement: the last of more than
/// one statement's worth is recorded too, and checked at the next start.
async fn every_hash_of_many_versions_is_recorded(backend: Backend) {
    let folders = tempfile::tempdir().unwrap();
    let (published, edited) = (folders.path().join("a"), folders.path().join("b"));
    many_contracts(&published, 501);
    many_contracts(&edited, 501);
    let last = edited.join("c0501/v1.schema.json");
    let text = std::fs::read_to_string(&last).unwrap();
    std::fs::write(
        &last,
        text.replace("contract 501", "contract five hundred and one"),
    )
    .unwrap();

    let gateway = TestGateway::on(backend, &published).await;
    let message = refused_start(&gateway, &edited).await;
    assert!(message.contains("contract `c0501` v1"), "{message}");
    assert!(!message.contains("c0500"), "{message}");
}

on_every_owner!(
    a_version_whose_schema_changed_under_its_number_is_refused_at_start,
    every_hash_of_many_versions_is_recorded
);
