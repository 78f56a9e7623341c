//! The `contractgate` binary as a user runs it: `serve` on the embedded
//! default, `check` on good and broken contract folders.

mod support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

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

/// Starts `serve`; returns the running child and the URL it prints.
fn start(command: &mut Command) -> (Running, String) {
    let mut child = command
        .env_remove("CONTRACTGATE_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary starts");
    let stdout = child.stdout.take().unwrap();
    let running = Running(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let address = line
        .trim()
        .strip_prefix("contractgate listening on ")
        .unwrap_or_else(|| panic!("printed {line:?}"))
        .to_owned();
    (running, address)
}

#[tokio::test]
async fn serve_with_no_config_uses_the_embedded_default() {
    // A fresh working directory holding only `contracts/`, as in the README.
    let work = tempfile::tempdir().unwrap();
    support::copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("contracts"),
        &work.path().join("contracts"),
    );
    let (_running, address) = start(
        binary()
            .args(["serve", "--listen", "127.0.0.1:0"])
            .current_dir(work.path()),
    );

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

/// `serve` on a contracts folder it must refuse: exit 1; what it says.
fn refused_serve(contracts: &Path) -> String {
    let output = binary()
        .args(["serve", "--listen", "127.0.0.1:0", "--contracts"])
        .arg(contracts)
        .current_dir(tempfile::tempdir().unwrap().path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn serve_refuses_a_broken_folder_and_says_why() {
    let stderr = refused_serve(&broken("key-absent"));
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
        text.contains("2 contracts, 5 versions, all valid"),
        "{text}"
    );
}

#[test]
fn check_names_every_problem_with_its_file() {
    let cases = [
        ("bad-yaml", "thing/contract.yaml:6: invalid contract: did not find expected '-' indicator at line 6"),
        ("missing-schema", "thing/v2.schema.json: schema file of version 2 not found"),
        ("not-compiling", "thing/v1.schema.json: the schema does not compile: 12 is not valid under any of the schemas listed in the 'anyOf' keyword (at /type in the schema)"),
        ("not-compiling", "avro/v1.avsc: not a valid Avro schema: Unknown primitive type: strnig"),
        ("key-absent", "thing/v1.schema.json: the contract's key /uid is not a property of this schema"),
        ("duplicate-versions", "thing/contract.yaml: version 1 is declared twice"),
        ("ref-escaping/contracts", "lies outside the contracts folder"),
        ("bad-example", "v1.valid.wrong.json: a valid example is rejected by v1: \"three\" is not of type \"integer\" at `/n`"),
        ("bad-example", "v1.invalid.actually-fine.json: an invalid example is accepted by v1"),
        ("bad-upgrade", "the upgrade to v2 uses /name, which v1 does not declare"),
        ("bad-upgrade", "v2 cannot be read at v1: map at /n sends two values to 1, so a downgrade cannot tell them apart"),
        ("bad-rule", "thing/contract.yaml: version 1: rule `positive` does not compile"),
        ("bad-rule", "version 1: declares `deprecated:` or `sunset:` but its status is active"),
        ("bad-rule", "version 2: `deprecated: soon` is neither a date (2026-01-15) nor an RFC 3339 instant"),
        ("unreadable", "thing/contract.yaml: v2 cannot be read at v1: remove of /code has no `default`, and the older version requires /code; declare `downgrade:` steps for v2"),
        ("unreadable", "avro/contract.yaml: v2 cannot be read at v1: field `code`"),
        ("bad-downgrade", "thing/contract.yaml: the downgrade from v2 writes /nope, which v1 does not declare"),
        ("bad-columns", "nokey/contract.yaml: `columns` maps no column to the key /id"),
        ("bad-columns", "undeclared/contract.yaml: column `nickname` holds /nickname, which v1 does not declare"),
        ("bad-upgrade", "map at /n sends two values to 1, so a downgrade cannot tell them apart"),
        // Judged through the declared rename: the move is no removal, the
        // lowered maxLength is.
        ("incompatible-history", "thing/contract.yaml:7: thing v2 cannot read every v1 payload upgraded by the declared steps (compatibility: backward): MAX_LENGTH_DECREASED at #/properties/label/maxLength"),
        // Found by generated payloads, shrunk to the smallest.
        ("incompatible-history", "thing: the upgrade from v1 to v2 (v2's steps: rename /name to /label) turns the valid v1 payload {\"id\":\"\",\"name\":\"aaaaaaaaaaa\"} into {\"id\":\"\",\"label\":\"aaaaaaaaaaa\"}, which v2 rejects"),
        ("bad-step-output", "thing: the upgrade from v1 to v2 (v2's steps: cast /n to integer) turns the valid v1 payload {\"id\":\"\",\"n\":\"\"} into {\"id\":\"\",\"n\":\"\"}, which v2 rejects"),
        ("bad-step-output", "thing: the downgrade from v2 to v1 (v2's steps: cast /n to integer) turns the valid v2 payload {\"id\":\"\",\"n\":0.0}"),
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

/// Runs `contractgate validate` from the crate's folder.
fn validate(args: &[&str]) -> (i32, Vec<serde_json::Value>, String) {
    let output = binary()
        .arg("validate")
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let verdicts = stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}")))
        .collect();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (output.status.code().unwrap_or(-1), verdicts, stderr)
}

#[test]
fn validate_checks_payload_files_offline_as_a_write_would() {
    let full = "contracts/customer/examples/v1.valid.full.json";
    let (code, verdicts, stderr) = validate(&["customer", "v1", full, "--contracts", "contracts"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(verdicts.len(), 1);
    assert_eq!(verdicts[0]["valid"], true);
    assert_eq!(verdicts[0]["stored_version"], 3);
    assert_eq!(
        verdicts[0]["body"]["phones"],
        serde_json::json!(["+441234567890"])
    );

    // NDJSON: one verdict per line, a problem for each bad one.
    let lines = "tests/data/payloads/customers-v1.ndjson";
    let (code, verdicts, stderr) = validate(&["customer", "1", lines, "--contracts", "contracts"]);
    assert_eq!(code, 1, "{stderr}");
    let kinds: Vec<&str> = verdicts
        .iter()
        .map(|v| v["type"].as_str().unwrap_or("valid"))
        .collect();
    assert_eq!(
        kinds,
        [
            "valid",
            "https://contractgate.dev/problems/contract-violation",
            "https://contractgate.dev/problems/malformed-body"
        ]
    );
    assert!(verdicts[2]["detail"]
        .as_str()
        .unwrap()
        .starts_with("line 4: not JSON"));

    // An unknown contract or version is an error, not a verdict.
    for (contract, version) in [("nope", "1"), ("customer", "v9")] {
        let (code, verdicts, stderr) =
            validate(&[contract, version, full, "--contracts", "contracts"]);
        assert_eq!((code, verdicts.len()), (2, 0), "{stderr}");
        assert!(stderr.contains(contract), "{stderr}");
    }
}

#[test]
fn check_only_names_the_incompatible_change_and_not_the_rename() {
    let (_, text) = check(
        &broken("incompatible-history"),
        Path::new(env!("CARGO_MANIFEST_DIR")),
    );
    assert!(!text.contains("PROPERTY_REMOVED"), "{text}");
    assert!(text.contains("2 problem(s)"), "{text}");
}

#[test]
fn check_downgrades_payloads_only_when_the_mode_promises_forward_compatibility() {
    // Under `full` a v2 payload v1 cannot hold is a defect; under
    // `backward` it is refused when read at v1, not a defect.
    let work = tempfile::tempdir().unwrap();
    support::copy_dir(&broken("bad-step-output"), work.path());
    let (_, full) = check(work.path(), work.path());
    assert!(full.contains("the downgrade from v2 to v1"), "{full}");
    let yaml = work.path().join("thing/contract.yaml");
    let text = std::fs::read_to_string(&yaml).unwrap();
    std::fs::write(
        &yaml,
        text.replace("compatibility: full", "compatibility: backward"),
    )
    .unwrap();
    let (_, backward) = check(work.path(), work.path());
    assert!(backward.contains("the upgrade from v1 to v2"), "{backward}");
    assert!(!backward.contains("downgrade"), "{backward}");
}

#[test]
fn check_prints_github_annotations_with_file_and_line() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let output = binary()
        .args(["check", "--format", "github"])
        .arg(broken("incompatible-history"))
        .current_dir(root)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.lines().any(|line| line.starts_with(
            "::error file=tests/data/broken/incompatible-history/thing/contract.yaml,line=7::thing v2 cannot read every v1 payload"
        )),
        "{stdout}"
    );
}

#[test]
fn serve_refuses_a_folder_whose_history_breaks_its_mode() {
    let stderr = refused_serve(&broken("incompatible-history"));
    assert!(stderr.contains("MAX_LENGTH_DECREASED"), "{stderr}");
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
    support::copy_dir(&case.join("contracts"), &work.path().join("contracts"));
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

fn example_contracts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("contracts")
}

#[test]
fn serve_keeps_an_open_gateway_on_loopback_unless_told_insecure() {
    let work = tempfile::tempdir().unwrap();
    let output = binary()
        .args(["serve", "--listen", "0.0.0.0:0"])
        .current_dir(work.path())
        .env_remove("CONTRACTGATE_CONFIG")
        .output()
        .unwrap();
    assert_ne!(output.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("refusing to listen on 0.0.0.0:0 without authentication")
            && stderr.contains("--insecure"),
        "{stderr}"
    );
    let (_running, address) = start(
        binary()
            .args([
                "serve",
                "--listen",
                "0.0.0.0:0",
                "--insecure",
                "--contracts",
            ])
            .arg(example_contracts())
            .current_dir(work.path()),
    );
    assert!(address.starts_with("http://0.0.0.0:"), "{address}");
}

#[tokio::test]
async fn hash_key_prints_a_hash_the_gateway_lets_the_key_in_with() {
    let hash_key = |stdin: &str| {
        let mut child = binary()
            .arg("hash-key")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), stdin.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    };
    let empty = hash_key("\n");
    assert_ne!(empty.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&empty.stderr).contains("no key on stdin"));
    let output = hash_key("ci-key-0123456789\n");
    assert!(output.status.success());
    let hash = String::from_utf8(output.stdout).unwrap().trim().to_owned();
    assert!(hash.starts_with("$argon2id$"), "{hash}");

    // With auth configured, the gateway may listen beyond loopback.
    let work = tempfile::tempdir().unwrap();
    std::fs::write(
        work.path().join("contractgate.yaml"),
        format!(
            "auth:\n  api_keys:\n    - {{ name: ci, hash: \"{hash}\", scopes: [\"*:read\"] }}\n"
        ),
    )
    .unwrap();
    let (_running, address) = start(
        binary()
            .args(["serve", "--listen", "0.0.0.0:0", "--contracts"])
            .arg(example_contracts())
            .current_dir(work.path()),
    );
    let local = address.replace("0.0.0.0", "127.0.0.1");
    let client = reqwest::Client::new();
    let with_key = client
        .get(format!("{local}/contracts"))
        .header("authorization", "ApiKey ci-key-0123456789")
        .send()
        .await
        .unwrap();
    assert_eq!(with_key.status(), 200);
    let without = client
        .get(format!("{local}/contracts"))
        .send()
        .await
        .unwrap();
    assert_eq!(without.status(), 401);
}
