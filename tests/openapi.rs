//! The OpenAPI document: valid OpenAPI 3.1 by the specification's own
//! schema (a check that accepts every `pass/` and refuses every `fail/` file
//! of the specification's tests), its component schemas compile and judge
//! the contracts' examples as the gateway does, the gateway's real answers
//! hold to it, and `contractgate openapi` prints the same document. Swagger
//! UI is served from the binary.

mod support;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use reqwest::{Method, Response};
use serde_json::{json, Value};
use support::{example, example_contracts, test_contracts, TestGateway};

/// The specification's schemas and tests, copied with their origin.
fn specification() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/openapi-3.1")
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Serves documents by their URI, and nothing else: no network.
struct Documents(HashMap<String, Value>);

impl jsonschema::Retrieve for Documents {
    fn retrieve(
        &self,
        uri: &jsonschema::Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        let uri = uri.as_str().trim_end_matches('#');
        self.0
            .get(uri)
            .cloned()
            .ok_or_else(|| format!("{uri} is not a known document").into())
    }
}

/// `schema-base.json` with `schema.json`, `dialect.json` and `meta.json`
/// registered under their `$id`s, as the specification's README says.
fn openapi_check() -> jsonschema::Validator {
    let documents = ["schema.json", "dialect.json", "meta.json"]
        .into_iter()
        .map(|name| {
            let document = read_json(&specification().join(name));
            let id = document["$id"].as_str().expect("an $id").to_owned();
            (id, document)
        })
        .collect();
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .with_retriever(Documents(documents))
        .build(&read_json(&specification().join("schema-base.json")))
        .expect("the OpenAPI 3.1 schema compiles")
}

fn errors(check: &jsonschema::Validator, document: &Value) -> Vec<String> {
    check
        .iter_errors(document)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

fn yaml_files(folder: &str) -> Vec<(PathBuf, Value)> {
    let folder = specification().join("tests").join(folder);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&folder)
        .expect("the test folder")
        .map(|entry| entry.expect("an entry").path())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).expect("a YAML file");
            let value: Value =
                serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            (path, value)
        })
        .collect()
}

#[test]
fn the_check_accepts_every_pass_file_and_refuses_every_fail_file() {
    let check = openapi_check();
    let passes = yaml_files("pass");
    let fails = yaml_files("fail");
    assert!(passes.len() > 30 && fails.len() > 5, "the copied tests");
    for (path, document) in passes {
        let found = errors(&check, &document);
        assert!(
            found.is_empty(),
            "{} is refused: {found:#?}",
            path.display()
        );
    }
    for (path, document) in fails {
        assert!(!check.is_valid(&document), "{} is accepted", path.display());
    }
}

async fn document(gateway: &TestGateway) -> Value {
    let response = gateway.get("/openapi.json").await;
    assert_eq!(response.status(), 200);
    response.json().await.expect("a JSON document")
}

#[tokio::test]
async fn the_documents_are_valid_openapi_3_1() {
    let check = openapi_check();
    for contracts in [example_contracts(), test_contracts("openapi")] {
        let gateway = TestGateway::spawn(&contracts).await;
        let document = document(&gateway).await;
        assert_eq!(document["openapi"], "3.1.0");
        let found = errors(&check, &document);
        assert!(found.is_empty(), "{}: {found:#?}", contracts.display());
    }
}

/// The document as a resource, so its component schemas compile with
/// their references into it.
const DOCUMENT_URI: &str = "https://contractgate.test/openapi.json";

/// A validator for the schema at `pointer` in `document`.
fn schema_at(document: &Value, pointer: &str) -> jsonschema::Validator {
    let documents = HashMap::from([(DOCUMENT_URI.to_owned(), document.clone())]);
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .with_retriever(Documents(documents))
        // A URI fragment has no room for the braces of a path template, nor
        // for the spaces of a media type's parameters.
        .build(&json!({"$ref": format!("{DOCUMENT_URI}#{}", pointer.replace('{', "%7B").replace('}', "%7D").replace(' ', "%20"))}))
        .unwrap_or_else(|e| panic!("{pointer} does not compile: {e}"))
}

/// Every example file of a contracts folder: contract, version, validity,
/// payload.
fn example_files(contracts: &Path) -> Vec<(String, u32, bool, Value)> {
    let mut found = Vec::new();
    for contract in std::fs::read_dir(contracts).expect("a contracts folder") {
        let folder = contract.expect("an entry").path();
        let Ok(examples) = std::fs::read_dir(folder.join("examples")) else {
            continue;
        };
        let name = folder.file_name().unwrap().to_string_lossy().into_owned();
        for example in examples {
            let path = example.expect("an entry").path();
            let file = path.file_name().unwrap().to_string_lossy().into_owned();
            let mut parts = file.split('.');
            let version = parts.next().unwrap()[1..].parse().expect("v{n}");
            let valid = parts.next() == Some("valid");
            found.push((name.clone(), version, valid, read_json(&path)));
        }
    }
    found
}

#[tokio::test]
async fn every_component_schema_compiles_and_judges_the_examples_as_the_gateway_does() {
    for contracts in [example_contracts(), test_contracts("openapi")] {
        let gateway = TestGateway::spawn(&contracts).await;
        let document = document(&gateway).await;
        let components = document["components"]["schemas"].as_object().unwrap();
        let validators: HashMap<&String, jsonschema::Validator> = components
            .keys()
            .map(|name| {
                (
                    name,
                    schema_at(&document, &format!("/components/schemas/{name}")),
                )
            })
            .collect();
        let mut judged = 0;
        for (contract, version, valid, payload) in example_files(&contracts) {
            let component = format!("{contract}.v{version}");
            let validator = &validators[&component];
            // A version's CEL rules say what JSON Schema cannot: an example
            // refused by rules alone is not the schema's to judge.
            let path = format!("/contracts/{contract}/v{version}/validate");
            let verdict: Value = gateway
                .send(Method::POST, &path, &payload)
                .await
                .json()
                .await
                .unwrap();
            let violations = verdict["violations"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            if !valid && !violations.is_empty() && violations.iter().all(|v| v["keyword"] == "rule")
            {
                continue;
            }
            assert_eq!(
                validator.is_valid(&payload),
                valid,
                "{component}: {payload}"
            );
            judged += 1;
        }
        assert!(judged >= 4, "{judged} examples in {}", contracts.display());
        // The answers shown as examples (normalized forms) are valid too.
        for (path, item) in document["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                let Some(responses) = operation.get("responses") else {
                    continue;
                };
                for status in ["200", "201"] {
                    let content = &responses[status]["content"]["application/json"];
                    let Some(examples) = content["examples"].as_object() else {
                        continue;
                    };
                    let pointer = format!(
                        "/paths/{}/{method}/responses/{status}/content/application~1json/schema",
                        escape(path)
                    );
                    let validator = schema_at(&document, &pointer);
                    for (name, example) in examples {
                        let value = &example["value"];
                        assert!(
                            validator.is_valid(value),
                            "{method} {path} {status} {name}: {value}"
                        );
                    }
                }
            }
        }
    }
}

#[tokio::test]
async fn versions_are_documented_as_the_registry_holds_them() {
    let gateway = TestGateway::spawn(&test_contracts("openapi")).await;
    let document = document(&gateway).await;
    let paths = document["paths"].as_object().unwrap();
    assert!(
        !paths.keys().any(|path| path.contains("/gadget/v1/")),
        "the retired version is left out"
    );
    assert!(document["components"]["schemas"].get("gadget.v1").is_none());
    let v2 = &paths["/contracts/gadget/v2/records/{key}"];
    let v3 = &paths["/contracts/gadget/v3/records/{key}"];
    for method in ["get", "put", "patch", "delete"] {
        assert_eq!(v2[method]["deprecated"], true, "{method}");
        assert!(v3[method].get("deprecated").is_none(), "{method}");
        assert_eq!(v2[method]["tags"], json!(["gadget"]));
        let description = v3[method]["description"].as_str().unwrap();
        assert!(
            description.contains("one version of each kind"),
            "{description}"
        );
    }
    assert_eq!(
        paths["/contracts/gadget/v2/records"]["post"]["deprecated"],
        true
    );
    assert_eq!(
        document["components"]["schemas"]["gadget.v2"]["deprecated"],
        true
    );
    // Deprecated versions' answers carry the deprecation headers.
    let headers = &v2["get"]["responses"]["200"]["headers"];
    for header in [
        "Contract-Version",
        "ETag",
        "Deprecation",
        "Link",
        "X-Request-Id",
    ] {
        assert!(headers.get(header).is_some(), "{header}");
    }
    assert!(v3["get"]["responses"]["200"]["headers"]
        .get("Deprecation")
        .is_none());
    // Draft 7 is shown as 2020-12 says the same.
    let size = &document["components"]["schemas"]["gadget.v2"]["properties"]["size"];
    assert_eq!(size["prefixItems"].as_array().map(Vec::len), Some(2));
    assert_eq!(size["items"], false);
}

/// A path as a JSON pointer token.
fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// The problem kinds (the last segment of their `type`) the document lists
/// for `method` at `path` answering `status`.
fn problem_types_in(document: &Value, path: &str, method: &str, status: &str) -> Vec<String> {
    let schema = &document["paths"][path][method]["responses"][status]["content"]
        ["application/problem+json"]["schema"];
    assert_eq!(
        schema["allOf"][0]["$ref"], "#/components/schemas/Problem",
        "{method} {path} {status}"
    );
    schema["allOf"][1]["properties"]["type"]["enum"]
        .as_array()
        .unwrap_or_else(|| panic!("{method} {path} {status}"))
        .iter()
        .map(|t| t.as_str().unwrap().rsplit('/').next().unwrap().to_owned())
        .collect()
}

/// The keys of an object in the document, sorted.
fn keys(value: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value
        .as_object()
        .map(|map| map.keys().map(String::as_str).collect())
        .unwrap_or_default();
    keys.sort();
    keys
}

#[tokio::test]
async fn each_operation_lists_the_problems_it_can_give() {
    let gateway = TestGateway::spawn(&example_contracts()).await;
    let document = document(&gateway).await;
    let problem_types =
        |path: &str, method: &str, status: &str| problem_types_in(&document, path, method, status);
    let customer = "/contracts/customer/v2/records/{key}";
    let order = "/contracts/order/v1/records/{key}";
    assert_eq!(
        problem_types(customer, "put", "422"),
        [
            "contract-violation",
            "upgrade-violation",
            "key-mismatch",
            "number-out-of-range",
            "owner-refused",
            "idempotency-key-reused"
        ]
    );
    assert_eq!(
        problem_types("/contracts/customer/v2/records", "post", "409"),
        ["record-exists", "idempotency-key-in-flight"]
    );
    assert_eq!(
        problem_types(order, "patch", "428"),
        ["precondition-required"]
    );
    assert!(document["paths"][customer]["patch"]["responses"]
        .get("428")
        .is_none());
    assert_eq!(
        document["paths"][order]["put"]["parameters"][0]["required"],
        true
    );
    assert_eq!(
        document["paths"][customer]["put"]["parameters"][0]["required"],
        false
    );
    assert_eq!(problem_types(customer, "get", "500"), ["owner-fault"]);
    assert_eq!(problem_types(customer, "get", "406"), ["not-representable"]);
    assert_eq!(
        problem_types("/contracts/{name}/{version}/schema", "get", "404"),
        ["unknown-contract", "unknown-version"]
    );
    let unavailable = &document["paths"][customer]["delete"]["responses"]["503"]["headers"];
    assert!(unavailable.get("Retry-After").is_some());
    // An invalid example is shown as the problem it gets.
    let refused = &document["paths"]["/contracts/order/v1/records"]["post"]["responses"]["422"]
        ["content"]["application/problem+json"]["examples"]["missing-fields"]["value"];
    assert_eq!(
        refused["type"],
        "https://contractgate.dev/problems/contract-violation"
    );
    assert!(
        refused["violations"]
            .as_array()
            .is_some_and(|v| v.len() >= 2),
        "{refused}"
    );
}

#[tokio::test]
async fn the_routes_beyond_the_record_paths_are_documented() {
    let gateway = TestGateway::spawn(&example_contracts()).await;
    let document = document(&gateway).await;
    let operation = |path: &str, method: &str| -> &Value {
        let operation = &document["paths"][path][method];
        assert!(operation.is_object(), "{method} {path} is not documented");
        operation
    };
    let statuses = |path: &str, method: &str| keys(&operation(path, method)["responses"]);
    let media_types = |path: &str, method: &str, status: &str| {
        keys(&operation(path, method)["responses"][status]["content"])
    };
    let problems =
        |path: &str, method: &str, status: &str| problem_types_in(&document, path, method, status);
    let parameters = |path: &str, method: &str| -> Vec<String> {
        operation(path, method)["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| {
                let p = p["$ref"]
                    .as_str()
                    .and_then(|reference| document.pointer(reference.trim_start_matches('#')))
                    .unwrap_or(p);
                format!(
                    "{} {}",
                    p["in"].as_str().unwrap(),
                    p["name"].as_str().unwrap()
                )
            })
            .collect()
    };

    // The dry run: a create's body and 422s, no owner, no idempotency.
    for validate in [
        "/contracts/customer/v1/validate",
        "/contracts/order/v2/validate",
    ] {
        assert_eq!(
            statuses(validate, "post"),
            ["200", "400", "401", "403", "404", "408", "410", "413", "415", "422", "429", "503"],
            "{validate}"
        );
        assert_eq!(media_types(validate, "post", "200"), ["application/json"]);
        assert_eq!(
            keys(&operation(validate, "post")["requestBody"]["content"]),
            ["application/json"]
        );
        assert_eq!(
            problems(validate, "post", "422"),
            [
                "contract-violation",
                "upgrade-violation",
                "number-out-of-range"
            ]
        );
        assert_eq!(problems(validate, "post", "503"), ["overloaded"]);
        assert!(parameters(validate, "post").is_empty());
        let headers = &operation(validate, "post")["responses"]["200"]["headers"];
        assert!(headers.get("Contract-Version").is_some(), "{validate}");
    }
    let stored_body = &operation("/contracts/customer/v1/validate", "post")["responses"]["200"]
        ["content"]["application/json"]["schema"]["properties"]["body"]["$ref"];
    assert_eq!(stored_body, "#/components/schemas/customer.v3");

    // Bulk writes: NDJSON in, NDJSON result lines out.
    let batch = "/contracts/customer/v2/records:batch";
    assert_eq!(
        keys(&operation(batch, "post")["requestBody"]["content"]),
        ["application/jsonl", "application/x-ndjson"]
    );
    assert_eq!(
        statuses(batch, "post"),
        ["200", "401", "403", "404", "408", "410", "415", "429", "503"]
    );
    assert_eq!(media_types(batch, "post", "200"), ["application/x-ndjson"]);
    assert_eq!(
        operation(batch, "post")["responses"]["200"]["content"]["application/x-ndjson"]["schema"]
            ["$ref"],
        "#/components/schemas/BatchResult"
    );
    assert_eq!(problems(batch, "post", "415"), ["unsupported-media-type"]);
    assert!(parameters(batch, "post").is_empty(), "no Idempotency-Key");

    // The change feed: pages and the live stream.
    assert_eq!(
        parameters("/changes", "get"),
        [
            "query after",
            "query contract",
            "query limit",
            "header Last-Event-ID"
        ]
    );
    assert_eq!(
        statuses("/changes", "get"),
        ["200", "400", "401", "403", "404", "408", "410", "429", "500", "503", "504"]
    );
    assert_eq!(
        media_types("/changes", "get", "200"),
        ["application/json", "text/event-stream"]
    );
    assert_eq!(
        problems("/changes", "get", "400"),
        ["invalid-query", "contract-required"]
    );
    assert_eq!(problems("/changes", "get", "410"), ["cursor-expired"]);
    assert_eq!(problems("/changes", "get", "404"), ["unknown-contract"]);

    // The admin routes.
    assert_eq!(
        statuses("/admin/reload", "post"),
        ["200", "401", "403", "408", "422", "429", "503"]
    );
    assert_eq!(problems("/admin/reload", "post", "422"), ["reload-refused"]);
    assert_eq!(problems("/admin/reload", "post", "403"), ["forbidden"]);
    let unauthorized = &operation("/admin/reload", "post")["responses"]["401"]["headers"];
    assert!(unauthorized.get("WWW-Authenticate").is_some());
    assert_eq!(
        parameters("/rejections", "get"),
        ["query contract", "query limit"]
    );
    assert_eq!(
        operation("/rejections", "get")["parameters"][0]["required"],
        true
    );
    assert_eq!(
        statuses("/rejections", "get"),
        ["200", "400", "401", "403", "404", "408", "429", "500", "503", "504"]
    );
    assert_eq!(problems("/rejections", "get", "400"), ["invalid-query"]);
    assert_eq!(problems("/rejections", "get", "403"), ["forbidden"]);

    // Metrics: Prometheus text, no credentials.
    assert_eq!(statuses("/metrics", "get"), ["200", "408", "503"]);
    assert_eq!(
        media_types("/metrics", "get", "200"),
        ["text/plain; version=0.0.4; charset=utf-8"]
    );
    // /readyz's 503 is both its report and the overloaded problem.
    assert_eq!(
        media_types("/readyz", "get", "503"),
        ["application/json", "application/problem+json"]
    );

    // Idempotency-Key on the writes that honour it; their successes may be
    // replays.
    let key = &document["components"]["parameters"]["Idempotency-Key"];
    assert_eq!(
        (&key["in"], &key["required"]),
        (&json!("header"), &json!(false))
    );
    assert_eq!(
        document["components"]["headers"]["Idempotent-Replayed"]["required"],
        false
    );
    let customers = "/contracts/customer/v3/records";
    let customer = "/contracts/customer/v3/records/{key}";
    for (path, method, successes) in [
        (customers, "post", &["201"][..]),
        (customer, "put", &["200", "201"]),
        (customer, "patch", &["200"]),
        (customer, "delete", &["204"]),
    ] {
        assert!(
            parameters(path, method).contains(&"header Idempotency-Key".to_owned()),
            "{method} {path}"
        );
        for status in successes {
            let headers = &operation(path, method)["responses"][status]["headers"];
            assert!(
                headers.get("Idempotent-Replayed").is_some(),
                "{method} {path} {status}"
            );
        }
        assert!(
            problems(path, method, "400").contains(&"invalid-idempotency-key".to_owned()),
            "{method} {path}"
        );
    }
    assert!(!parameters(customer, "get").contains(&"header Idempotency-Key".to_owned()));
}

/// The documented response of `method` at the document path `path` for the
/// answer's status: its required headers are there, every header the
/// document knows that it carries is documented for it, and its media type
/// is documented, with a body its schema accepts (each line's, for NDJSON).
async fn assert_documented(document: &Value, method: &str, path: &str, response: Response) {
    let status = response.status().as_u16().to_string();
    let documented = &document["paths"][path][method]["responses"][&status];
    assert!(
        documented.is_object(),
        "{method} {path}: {status} is not documented"
    );
    let headers = response.headers().clone();
    for (name, header) in documented["headers"].as_object().into_iter().flatten() {
        let reference = header["$ref"].as_str().unwrap_or_default();
        let declared = document
            .pointer(reference.trim_start_matches('#'))
            .unwrap_or(header);
        if declared["required"] == true {
            assert!(
                headers.contains_key(name.as_str()),
                "{method} {path} {status}: no {name}"
            );
        }
    }
    for known in document["components"]["headers"]
        .as_object()
        .unwrap()
        .keys()
    {
        if headers.contains_key(known.as_str()) {
            assert!(
                documented["headers"].get(known).is_some(),
                "{method} {path} {status}: {known} is sent but not documented"
            );
        }
    }
    let Some(content) = documented.get("content").and_then(Value::as_object) else {
        return;
    };
    let media_type = headers["content-type"].to_str().unwrap().to_owned();
    assert!(
        content.contains_key(&media_type),
        "{method} {path} {status}: {media_type} is not documented"
    );
    let pointer = format!(
        "/paths/{}/{method}/responses/{status}/content/{}/schema",
        escape(path),
        escape(&media_type)
    );
    let bodies: Vec<Value> = match media_type.as_str() {
        // A live stream does not end: its first event, and the change event
        // its data holds.
        "text/event-stream" => {
            let event = first_event(response).await;
            let data: Value = serde_json::from_str(event["data"].as_str().unwrap_or_default())
                .expect("a JSON document in data:");
            let inner = schema_at(
                document,
                &format!("{pointer}/properties/data/contentSchema"),
            );
            assert!(inner.is_valid(&data), "{method} {path} {status}: {data}");
            vec![event]
        }
        "application/x-ndjson" => {
            let text = response.text().await.expect("a body");
            let lines: Vec<Value> = text
                .lines()
                .map(|line| serde_json::from_str(line).expect("a JSON line"))
                .collect();
            assert!(!lines.is_empty(), "{method} {path} {status}: no lines");
            lines
        }
        json if json.ends_with("json") => vec![response.json().await.expect("a JSON answer")],
        _ => vec![Value::String(response.text().await.expect("a text answer"))],
    };
    let validator = schema_at(document, &pointer);
    for body in bodies {
        let found: Vec<String> = validator
            .iter_errors(&body)
            .map(|e| e.to_string())
            .collect();
        assert!(
            found.is_empty(),
            "{method} {path} {status}: {body} {found:?}"
        );
    }
}

/// The first event of a Server-Sent Events stream, as an `EventSource`
/// receives it: `id`, `event` (`message` unless named) and `data`.
async fn first_event(mut response: Response) -> Value {
    let mut text = String::new();
    while !text.contains("\n\n") {
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(5), response.chunk())
            .await
            .expect("an event within 5 s")
            .expect("the stream reads")
            .expect("the stream goes on");
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    let mut event = json!({"event": "message"});
    for line in text.lines().take_while(|line| !line.is_empty()) {
        if let Some((field, value)) = line.split_once(':') {
            if !field.is_empty() {
                event[field] = json!(value.strip_prefix(' ').unwrap_or(value));
            }
        }
    }
    event
}

#[tokio::test]
async fn real_answers_hold_to_the_document() {
    let gateway = TestGateway::spawn(&example_contracts()).await;
    let document = document(&gateway).await;
    let customers = "/contracts/customer/v1/records";
    let customer = "/contracts/customer/v1/records/{key}";
    let orders = "/contracts/order/v1/records";
    let order = "/contracts/order/v1/records/{key}";
    let ada = example("customer", "v1.valid.full.json");
    let at = |key: &str| format!("{customers}/{key}");
    let cases: Vec<(&str, &str, Response)> = vec![
        ("post", customers, gateway.post("customer", 1, &ada).await),
        ("post", customers, gateway.post("customer", 1, &ada).await),
        ("get", customer, gateway.get(&at("c-1")).await),
        ("get", customer, gateway.get(&at("c-404")).await),
        (
            "put",
            customer,
            gateway.send(Method::PUT, &at("c-1"), &ada).await,
        ),
        (
            "put",
            customer,
            gateway.send(Method::PUT, &at("c-9"), &ada).await,
        ),
        (
            "patch",
            customer,
            gateway
                .send_with(
                    Method::PATCH,
                    &at("c-1"),
                    &json!({"name": "Ada"}),
                    &[("if-match", "\"1\"")],
                )
                .await,
        ),
        (
            "post",
            customers,
            gateway
                .send_raw(Method::POST, customers, "text/plain", b"hi".to_vec(), &[])
                .await,
        ),
        (
            "post",
            orders,
            gateway
                .post("order", 1, &example("order", "v1.invalid.wrong-types.json"))
                .await,
        ),
        (
            "post",
            orders,
            gateway
                .post("order", 1, &example("order", "v1.valid.natural.json"))
                .await,
        ),
        (
            "put",
            order,
            gateway
                .send(
                    Method::PUT,
                    &format!("{orders}/ord-1043"),
                    &example("order", "v1.valid.natural.json"),
                )
                .await,
        ),
        // A patch that changes the key: found by the fuzzer, undocumented then.
        (
            "patch",
            customer,
            gateway
                .send_with(
                    Method::PATCH,
                    &at("c-1"),
                    &json!({"id": "c-2"}),
                    &[("if-match", "*")],
                )
                .await,
        ),
        (
            "delete",
            customer,
            gateway.delete(&at("c-1"), &[("if-match", "\"2\"")]).await,
        ),
        (
            "get",
            "/contracts/{name}",
            gateway.get("/contracts/nosuch").await,
        ),
        (
            "get",
            "/contracts/{name}/{version}/schema",
            gateway.get("/contracts/order/v1/schema").await,
        ),
        ("get", "/readyz", gateway.get("/readyz").await),
    ];
    let mut statuses: Vec<u16> = cases.iter().map(|(_, _, r)| r.status().as_u16()).collect();
    for (method, path, response) in cases {
        assert_documented(&document, method, path, response).await;
    }
    statuses.sort();
    statuses.dedup();
    assert_eq!(
        statuses,
        [200, 201, 204, 404, 409, 412, 415, 422, 428],
        "the cases cover these"
    );
}

#[tokio::test]
async fn real_answers_beyond_the_record_paths_hold_to_the_document() {
    let gateway = TestGateway::spawn(&example_contracts()).await;
    let document = document(&gateway).await;
    let ada = example("customer", "v1.valid.full.json");
    let validate = "/contracts/customer/v1/validate";
    let batch = "/contracts/customer/v1/records:batch";
    let customers = "/contracts/customer/v1/records";
    let keyed = [("idempotency-key", "\"k-1\"")];
    let ndjson = format!("{ada}\n{{\"id\": 7}}\n");
    let cases: Vec<(&str, &str, Response)> = vec![
        (
            "post",
            validate,
            gateway.send(Method::POST, validate, &ada).await,
        ),
        (
            "post",
            validate,
            gateway
                .send(Method::POST, validate, &json!({"id": 7}))
                .await,
        ),
        (
            "post",
            batch,
            gateway
                .send_raw(
                    Method::POST,
                    batch,
                    "application/x-ndjson",
                    ndjson.into_bytes(),
                    &[],
                )
                .await,
        ),
        (
            "post",
            batch,
            gateway
                .send_raw(Method::POST, batch, "application/json", b"{}".to_vec(), &[])
                .await,
        ),
        // The second is a replay: `Idempotent-Replayed`, documented.
        (
            "post",
            customers,
            gateway
                .send_with(
                    Method::POST,
                    customers,
                    &example("customer", "v1.valid.minimal.json"),
                    &keyed,
                )
                .await,
        ),
        (
            "post",
            customers,
            gateway
                .send_with(
                    Method::POST,
                    customers,
                    &example("customer", "v1.valid.minimal.json"),
                    &keyed,
                )
                .await,
        ),
        ("get", "/changes", gateway.get("/changes?limit=2").await),
        ("get", "/changes", gateway.get("/changes?limit=0").await),
        (
            "get",
            "/changes",
            gateway
                .get_with("/changes", &[("accept", "text/event-stream")])
                .await,
        ),
        (
            "get",
            "/changes",
            gateway.get("/changes?contract=nosuch").await,
        ),
        (
            "post",
            "/admin/reload",
            gateway
                .send_raw(Method::POST, "/admin/reload", "", Vec::new(), &[])
                .await,
        ),
        (
            "get",
            "/rejections",
            gateway.get("/rejections?contract=customer").await,
        ),
        ("get", "/rejections", gateway.get("/rejections").await),
        ("get", "/metrics", gateway.get("/metrics").await),
    ];
    let mut statuses: Vec<u16> = cases.iter().map(|(_, _, r)| r.status().as_u16()).collect();
    let replayed = cases
        .iter()
        .filter(|(_, _, r)| r.headers().contains_key("idempotent-replayed"))
        .count();
    assert_eq!(replayed, 1, "one answer is a replay");
    for (method, path, response) in cases {
        assert_documented(&document, method, path, response).await;
    }
    statuses.sort();
    statuses.dedup();
    assert_eq!(
        statuses,
        [200, 201, 400, 404, 415, 422],
        "the cases cover these"
    );
}

#[tokio::test]
async fn the_command_prints_the_document_the_gateway_serves() {
    let gateway = TestGateway::spawn(&example_contracts()).await;
    let served = document(&gateway).await;
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_contractgate"))
        .args(["openapi", "--contracts"])
        .arg(example_contracts())
        .env_remove("CONTRACTGATE_CONFIG")
        .output()
        .expect("the binary runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let printed: Value = serde_json::from_slice(&output.stdout).expect("JSON on stdout");
    assert_eq!(printed, served);
}

#[tokio::test]
async fn swagger_ui_is_served_from_the_binary() {
    let gateway = TestGateway::spawn(&example_contracts()).await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let redirect = client.get(gateway.url("/docs")).send().await.unwrap();
    assert_eq!(redirect.status(), 303);
    assert_eq!(support::header(&redirect, "location"), "/docs/");
    let page = gateway.get("/docs/").await.text().await.unwrap();
    assert!(page.contains("swagger-ui"), "{page}");
    let initializer = gateway
        .get("/docs/swagger-initializer.js")
        .await
        .text()
        .await
        .unwrap();
    assert!(initializer.contains("/openapi.json"), "{initializer}");
    let bundle = gateway.get("/docs/swagger-ui-bundle.js").await;
    assert_eq!(bundle.status(), 200);
    assert!(
        bundle.text().await.unwrap().len() > 100_000,
        "the Swagger UI bundle"
    );
}
