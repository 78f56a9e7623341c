//! The hot path of a write, on one core: a `customer` v1 payload validated
//! at v1, upgraded to the stored version and validated again
//! (`Contract::accept`), with nothing compiled, read or locked on the way.
//! Two contracts folders: `tests/data/contracts/customer-v2-order-v1`,
//! where v2 is stored (v1 → v2, the figure of issue #18's target), and
//! `contracts/`, where v3 is (v1 → v2 → v3, what a write does today); both
//! hold the same v1 and v2 schemas.
//! Run: `cargo bench --bench hot_path`. Nothing here asserts a speed.

use std::path::Path;

use contractgate::contract::{LoadOptions, Registry, Version};
use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion};
use serde_json::json;

fn accept(c: &mut Criterion) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let payload = json!({
        "id": "c-1815", "name": "Ada King, Countess of Lovelace", "email": "ada.lovelace@example.com",
        "phone": "+441234567890",
        "address": {"street": "12 St James Square", "city": "London", "zip": "SW1Y 4JH", "country": "GB"},
        "tags": ["analytical-engine", "mathematics", "poetry", "notes", "bernoulli"]
    });
    let v1 = Version::new(1).expect("v1");
    for (label, folder) in [
        (
            "customer v1 -> v2",
            "tests/data/contracts/customer-v2-order-v1",
        ),
        ("customer v1 -> v3", "contracts"),
    ] {
        let registry = Registry::load(&root.join(folder), &LoadOptions::default())
            .expect("the contracts load");
        let customer = registry.get("customer").expect("customer");
        c.bench_function(
            &format!("{label} accept (validate, upgrade, validate)"),
            |b| {
                // A write owns the payload it parsed: its copy is made, and the
                // result dropped, outside the measurement.
                b.iter_batched(
                    || payload.clone(),
                    |payload| customer.accept(v1, black_box(payload)).expect("valid"),
                    BatchSize::SmallInput,
                )
            },
        );
    }
}

criterion_group!(benches, accept);
criterion_main!(benches);
