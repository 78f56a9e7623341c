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
    let refused = Gateway::open(gateway.storage.config(&edited, Limits::default()))
        .await
        .err()
        .expect("the edited v1 is refused");
    let message = format!("{refused:#}");
    assert!(message.contains("contract `customer` v1"), "{message}");
    assert!(
        message.contains(&recorded) && message.contains(&offered),
        "{message}"
    );

    // The published contracts still start, and say nothing changed.
    let again = gateway.restart(&published).await;
    assert_eq!(again.get("/readyz").await.status(), 200);
}

on_every_owner!(a_version_whose_schema_changed_under_its_number_is_refused_at_start);
