//! `contractgate diff --base REF` against a real Git repository: one
//! commit per rule the gate enforces, each compared with the published
//! base commit.

mod support;

use std::path::Path;
use std::process::Command;

use serde_json::{json, Value};
use support::{copy_dir, example_contracts};

/// A repository whose first commit (tagged `published`) holds the example
/// contracts under `contracts/`.
struct Repository {
    root: tempfile::TempDir,
}

impl Repository {
    fn new() -> Self {
        let repository = Repository {
            root: tempfile::tempdir().unwrap(),
        };
        repository.git(&["init", "-q"]);
        copy_dir(&example_contracts(), &repository.contracts());
        repository.commit("publish the contracts");
        repository.git(&["tag", "published"]);
        repository
    }

    fn contracts(&self) -> std::path::PathBuf {
        self.root.path().join("contracts")
    }

    fn git(&self, arguments: &[&str]) {
        let status = Command::new("git")
            .args(["-c", "user.name=Test", "-c", "user.email=test@example.com"])
            .args(arguments)
            .current_dir(self.root.path())
            .status()
            .expect("git runs");
        assert!(status.success(), "git {arguments:?}");
    }

    fn commit(&self, message: &str) {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--allow-empty", "-m", message]);
    }

    /// A branch from the published commit with one change committed.
    fn change(&self, branch: &str, edit: impl FnOnce(&Path)) {
        self.git(&["checkout", "-q", "-B", branch, "published"]);
        edit(&self.contracts());
        self.commit(branch);
    }

    /// `contractgate diff --base published` run in the repository: the
    /// exit code and what it printed.
    fn diff(&self, base: &str) -> (i32, String) {
        let output = Command::new(env!("CARGO_BIN_EXE_contractgate"))
            .args(["diff", "--base", base, "contracts"])
            .current_dir(self.root.path())
            .env_remove("CONTRACTGATE_CONFIG")
            .output()
            .expect("the binary runs");
        let text = String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr);
        (output.status.code().unwrap_or(-1), text)
    }
}

fn read(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn write(path: &Path, value: &Value) {
    std::fs::write(path, serde_json::to_string_pretty(value).unwrap()).unwrap();
}

fn edit_text(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{from} in {}", path.display());
    std::fs::write(path, text.replace(from, to)).unwrap();
}

/// Publishes customer v4: v3 with `change` applied.
fn add_customer_v4(contracts: &Path, change: impl FnOnce(&mut Value)) {
    let customer = contracts.join("customer");
    let mut v4 = read(&customer.join("v3.schema.json"));
    v4["title"] = json!("Customer, version 4");
    change(&mut v4);
    write(&customer.join("v4.schema.json"), &v4);
    let yaml = std::fs::read_to_string(customer.join("contract.yaml")).unwrap();
    std::fs::write(
        customer.join("contract.yaml"),
        yaml + "  - version: 4\n    schema: v4.schema.json\n",
    )
    .unwrap();
}

#[test]
fn an_unchanged_folder_and_a_compatible_new_version_pass_and_additions_are_listed() {
    let repository = Repository::new();
    assert_eq!(repository.diff("published").0, 0);
    repository.change("compatible-v4", |contracts| {
        add_customer_v4(contracts, |v4| {
            v4["properties"]["nickname"] = json!({"type": "string"});
        });
    });
    let (code, text) = repository.diff("published");
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("added: contract `customer` v4"), "{text}");
}

#[test]
fn a_published_version_edited_in_place_is_refused_with_both_hashes() {
    let repository = Repository::new();
    repository.change("edit-v1", |contracts| {
        edit_text(
            &contracts.join("customer/v1.schema.json"),
            "Customer, version 1",
            "Customer, first version",
        );
    });
    let (code, text) = repository.diff("published");
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("contract `customer` v1 was edited in place: its schema was sha256:"),
        "{text}"
    );
    // Whitespace and key order are no edit.
    repository.change("reformat-v1", |contracts| {
        let path = contracts.join("customer/v1.schema.json");
        std::fs::write(&path, read(&path).to_string()).unwrap();
    });
    assert_eq!(repository.diff("published").0, 0);
}

#[test]
fn a_shared_file_edited_in_place_edits_every_version_using_it() {
    let repository = Repository::new();
    repository.change("edit-address", |contracts| {
        edit_text(
            &contracts.join("customer/address.schema.json"),
            "Postal address, shared",
            "A postal address, shared",
        );
    });
    let (code, text) = repository.diff("published");
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("contract `customer` v2 was edited in place"),
        "{text}"
    );
}

#[test]
fn a_removed_version_is_refused() {
    let repository = Repository::new();
    repository.change("remove-v3", |contracts| {
        let customer = contracts.join("customer");
        let yaml = std::fs::read_to_string(customer.join("contract.yaml")).unwrap();
        let kept = &yaml[..yaml.find("  - version: 3").unwrap()];
        std::fs::write(customer.join("contract.yaml"), kept).unwrap();
        std::fs::remove_file(customer.join("v3.schema.json")).unwrap();
        for example in std::fs::read_dir(customer.join("examples")).unwrap() {
            let example = example.unwrap().path();
            if example
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("v3.")
            {
                std::fs::remove_file(example).unwrap();
            }
        }
    });
    let (code, text) = repository.diff("published");
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("contract `customer` v3 was removed"),
        "{text}"
    );
}

#[test]
fn a_removed_contract_is_refused() {
    let repository = Repository::new();
    repository.change("remove-order", |contracts| {
        std::fs::remove_dir_all(contracts.join("order")).unwrap();
    });
    let (code, text) = repository.diff("published");
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("contract `order` was removed"), "{text}");
}

#[test]
fn a_new_version_incompatible_under_its_mode_is_refused() {
    let repository = Repository::new();
    repository.change("incompatible-v4", |contracts| {
        add_customer_v4(contracts, |v4| {
            v4["properties"]["full_name"]["maxLength"] = json!(20);
        });
    });
    let (code, text) = repository.diff("published");
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("customer v4 cannot read every v3 payload")
            && text.contains("MAX_LENGTH_DECREASED"),
        "{text}"
    );
}

#[test]
fn a_loosened_compatibility_mode_is_refused() {
    let repository = Repository::new();
    repository.change("loosen-mode", |contracts| {
        edit_text(
            &contracts.join("customer/contract.yaml"),
            "compatibility: backward_transitive",
            "compatibility: none",
        );
    });
    let (code, text) = repository.diff("published");
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("compatibility loosened from backward_transitive to none"),
        "{text}"
    );
}

#[test]
fn uncommitted_edits_are_not_the_base_and_an_unknown_ref_is_an_error() {
    let repository = Repository::new();
    // The base comes from Git's objects: an edit in the working tree is
    // the change under review, not the published contracts.
    edit_text(
        &repository.contracts().join("order/contract.yaml"),
        "description: An order",
        "description: One order",
    );
    assert_eq!(repository.diff("published").0, 0);
    let (code, text) = repository.diff("no-such-ref");
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("`no-such-ref` is not a commit"), "{text}");
}
