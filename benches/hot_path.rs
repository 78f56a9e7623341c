//! The hot path of a write, on one core: a `customer` v1 payload validated
//! at v1, upgraded to the stored version and validated again
//! (`Contract::accept`), with nothing compiled, read or locked on the way.
//! Run: `cargo bench --bench hot_path`. Nothing here asserts a speed.

use std::path::Path;

use contractgate::contract::{LoadOptions, Registry, Version};
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use serde_json::json;

fn accept(c: &mut Criterion) {
    let contracts = Path::new(env!("CARGO_MANIFEST_DIR")).join("contracts");
    let registry =
        Registry::load(&contracts, &LoadOptions::default()).expect("the example contracts");
    let customer = registry.get("customer").expect("customer");
    let v1 = Version::new(1).expect("v1");
    let payload = json!({
        "id": "c-1815", "name": "Ada King, Countess of Lovelace", "email": "ada.lovelace@example.com",
        "phone": "+441234567890",
        "address": {"street": "12 St James Square", "city": "London", "zip": "SW1Y 4JH", "country": "GB"},
        "tags": ["analytical-engine", "mathematics", "poetry", "notes", "bernoulli"]
    });
    c.bench_function("customer v1 accept (validate, upgrade, validate)", |b| {
        b.iter(|| {
            customer
                .accept(v1, black_box(payload.clone()))
                .expect("valid")
        })
    });
}

criterion_group!(benches, accept);
criterion_main!(benches);
