//! The `contractgate` binary as a user runs it: `serve` on the embedded
//! default, `check` on good and broken contract folders.

mod support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use support::copy_dir;

fn binary() -> Command {
    Command::new(env!("CARGO_BIN_EXE_contractgate"))
}

fn broken(case: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/broken")
        .join(case)
}

fn check(dir: &Path, cwd: &Path) -> (i32, String) {
    let output: Output = binary()
        .arg("check")
        .arg(dir)
        .current_dir(cwd)
        .output()
        .expect("the binary runs");
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.code().unwrap_or(-1), text)
}

/// A child process killed when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn serve_with_no_config_uses_the_embedded_default() {
    // A fresh working directory holding only `contracts/`, as in the README.
    let work = tempfile::tempdir().unwrap();
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("contracts"),
        &work.path().join("contracts"),
    );
    let mut child = binary()
        .args(["serve", "--listen", "127.0.0.1:0"])
        .current_dir(work.path())
        .env_remove("CONTRACTGATE_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary starts");
    let stdout = child.stdout.take().unwrap();
    let _running = Running(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let address = line
        .trim()
        .strip_prefix("contractgate listening on ")
        .unwrap_or_else(|| panic!("printed {line:?}"));

    let health = reqwest::get(format!("{address}/healthz")).await.unwrap();
    assert_eq!(health.status(), 200);
    let created = reqwest::Client::new()
        .post(format!("{address}/contracts/customer/v2/records"))
        .json(&serde_json::json!({"id": "c-1", "full_name": "Ada", "email": "ada@example.com", "tier": "gold"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    assert!(
        work.path().join("data/contractgate.db").is_file(),
        "the SQLite file is under ./data"
    );
}

#[test]
fn serve_refuses_a_broken_folder_and_says_why() {
    let output = binary()
        .args(["serve", "--listen", "127.0.0.1:0", "--contracts"])
        .arg(broken("key-absent"))
        .current_dir(tempfile::tempdir().unwrap().path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("the contract's key /uid is not a property of this schema"),
        "{stderr}"
    );
    assert!(stderr.contains("refuses to start"), "{stderr}");
}

#[test]
fn check_passes_the_example_contracts() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (code, text) = check(&root.join("contracts"), root);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("2 contracts, 3 versions, all valid"),
        "{text}"
    );
}

#[test]
fn check_names_every_problem_with_its_file() {
    let cases = [
        ("bad-yaml", "thing/contract.yaml: invalid contract: did not find expected '-' indicator at line 6"),
        ("missing-schema", "thing/v2.schema.json: schema file of version 2 not found"),
        ("not-compiling", "thing/v1.schema.json: the schema does not compile: 12 is not valid under any of the schemas listed in the 'anyOf' keyword (at /type in the schema)"),
        ("not-compiling", "avro/v1.avsc: not a valid Avro schema: Unknown primitive type: strnig"),
        ("key-absent", "thing/v1.schema.json: the contract's key /uid is not a property of this schema"),
        ("duplicate-versions", "thing/contract.yaml: version 1 is declared twice"),
        ("ref-escaping/contracts", "lies outside the contracts folder"),
        ("bad-example", "v1.valid.wrong.json: a valid example is rejected by v1: \"three\" is not of type \"integer\" at `/n`"),
        ("bad-example", "v1.invalid.actually-fine.json: an invalid example is accepted by v1"),
        ("bad-upgrade", "the upgrade to v2 uses /name, which v1 does not declare"),
        ("bad-upgrade", "map at /n sends two values to 1, so a downgrade cannot tell them apart"),
        ("bad-columns", "nokey/contract.yaml: `columns` maps no column to the key /id"),
        ("bad-columns", "undeclared/contract.yaml: column `nickname` holds /nickname, which v1 does not declare"),
    ];
    for (case, expected) in cases {
        let (code, text) = check(&broken(case), Path::new(env!("CARGO_MANIFEST_DIR")));
        assert_eq!(code, 1, "{case}: {text}");
        assert!(
            text.contains(expected),
            "{case}: expected {expected:?} in\n{text}"
        );
    }
}

#[test]
fn check_requires_owners_to_be_declared_systems_when_a_config_declares_systems() {
    let case = broken("undeclared-owner");
    let (code, text) = check(Path::new("contracts"), &case);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains(
            "owner `billing` is not a system declared in the gateway config (declared: crm)"
        ),
        "{text}"
    );
    // Without a config file, the embedded default owns everything.
    let work = tempfile::tempdir().unwrap();
    copy_dir(&case.join("contracts"), &work.path().join("contracts"));
    let (code, text) = check(Path::new("contracts"), work.path());
    assert_eq!(code, 0, "{text}");
}

#[test]
fn serve_refuses_a_contract_whose_owner_is_not_a_system() {
    // A configuration error, refused at start rather than answered with 503s.
    let output = binary()
        .args(["serve", "--listen", "127.0.0.1:0"])
        .current_dir(broken("undeclared-owner"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("owner `billing` is not a system declared in the gateway config"),
        "{stderr}"
    );
    assert!(stderr.contains("refuses to start"), "{stderr}");
}

#[test]
fn serve_names_a_system_of_an_unknown_kind_or_one_it_cannot_reach() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .unwrap()
        .port();
    let cases = [
        (
            "crm: { kind: oracle, url: x }".to_owned(),
            "unknown variant `oracle`",
        ),
        (
            // Nothing listens there: the port was free a moment ago.
            format!("crm: {{ kind: postgres, url: \"postgres://u@127.0.0.1:{port}/db\" }}"),
            "system `crm`: cannot connect to PostgreSQL",
        ),
    ];
    for (system, expected) in cases {
        let work = tempfile::tempdir().unwrap();
        std::fs::write(
            work.path().join("contractgate.yaml"),
            format!("systems:\n  {system}\n  shop: {{ kind: sqlite, path: ./shop.db }}\n"),
        )
        .unwrap();
        let output = binary()
            .args(["serve", "--listen", "127.0.0.1:0", "--contracts"])
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("contracts"))
            .current_dir(work.path())
            .output()
            .unwrap();
        assert_ne!(output.status.code(), Some(0));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{expected:?} in {stderr}");
    }
}
