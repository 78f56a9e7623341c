//! The record paths of every contract version that is not retired, each
//! version's schema as a component (`customer.v2`), with the contract's
//! description, its examples, and every problem an operation can give.

use serde_json::{json, Map, Value};

use super::{add_problems, header_ref};
use crate::contract::bundle::relocate;
use crate::contract::{Concurrency, Contract, ContractVersion, Example, Registry, Status};
use crate::http::problem::{Kind, Problem};
use crate::write;

/// Describes one operation of a contract version.
type Describe = fn(&Described) -> Value;

/// The operations of a contract version, by path below the version and
/// method. Adding one is a line here and the function that describes it.
const OPERATIONS: [(&str, &str, Describe); 7] = [
    ("/records", "post", create),
    ("/records/{key}", "get", read),
    ("/records/{key}", "put", replace),
    ("/records/{key}", "patch", patch),
    ("/records/{key}", "delete", delete),
    ("/records:batch", "post", batch),
    ("/validate", "post", validate),
];

/// What any request to a version's paths can meet: the registry may have
/// changed since the document was built. Authentication, scopes and the
/// limits' layers answer any of them too.
const EVERY: [Kind; 8] = [
    Kind::UnknownContract,
    Kind::UnknownVersion,
    Kind::RetiredVersion,
    Kind::Unauthorized,
    Kind::Forbidden,
    Kind::RequestTimeout,
    Kind::RateLimited,
    Kind::Overloaded,
];
/// What an operation that reaches the owner can meet.
const OWNER: [Kind; 3] = [Kind::OwnerFault, Kind::OwnerUnavailable, Kind::OwnerTimeout];
/// What a JSON body can meet before anything is written: the dry run's
/// problems.
const CHECKED_BODY: [Kind; 6] = [
    Kind::MalformedBody,
    Kind::BodyTooLarge,
    Kind::UnsupportedMediaType,
    Kind::NumberOutOfRange,
    Kind::ContractViolation,
    Kind::UpgradeViolation,
];
/// What every write can meet besides the owner's failures: the owner's
/// own refusal, and its `Idempotency-Key`'s problems.
const WRITE: [Kind; 4] = [
    Kind::OwnerRefused,
    Kind::InvalidIdempotencyKey,
    Kind::IdempotencyKeyInFlight,
    Kind::IdempotencyKeyReused,
];
/// What an update or delete of the record at `{key}` can meet (`NotFound`:
/// a key that cannot be one).
const KEYED_UPDATE: [Kind; 4] = [
    Kind::NotFound,
    Kind::UnknownRecord,
    Kind::InvalidPrecondition,
    Kind::StaleRevision,
];

/// What one record operation declares.
struct Operation {
    /// What it does, in a word: `create`.
    verb: &'static str,
    /// What it does, in a few: `Create a record`.
    summary: &'static str,
    /// What it does, in a sentence or two.
    what: &'static str,
    /// Whether `If-Match` applies.
    conditional: bool,
    /// Whether it honours `Idempotency-Key` (its successes may then be
    /// replays, marked `Idempotent-Replayed`).
    idempotent: bool,
    body: Option<Value>,
    /// Its answers by status, problems aside.
    successes: Value,
    /// The problems it can give besides [`EVERY`] (and 428 when
    /// `conditional` and the contract requires `If-Match`).
    kinds: Vec<Kind>,
}

/// One contract version being described.
struct Described<'c> {
    contract: &'c Contract,
    version: &'c ContractVersion,
    /// Its schema component's name.
    component: String,
}

/// Adds the paths, tags and schema components of every contract version of
/// `registry` to `document`; the contracts' tags come first, as readers
/// come for them.
pub(super) fn add(document: &mut Value, registry: &Registry) {
    let mut tags: Vec<Value> = registry
        .contracts()
        .map(
            |contract| json!({"name": contract.name.as_str(), "description": contract.description}),
        )
        .collect();
    if let Value::Array(others) = document["tags"].take() {
        tags.extend(others);
    }
    document["tags"] = Value::Array(tags);
    for contract in registry.contracts() {
        let published = contract
            .versions()
            .iter()
            .filter(|version| version.status != Status::Retired);
        for version in published {
            let described = Described {
                contract,
                version,
                component: format!("{}.{}", contract.name, version.version),
            };
            document["components"]["schemas"][&described.component] = described.schema();
            let base = format!("/contracts/{}/{}", contract.name, version.version);
            for (below, method, operation) in OPERATIONS {
                let item = &mut document["paths"][format!("{base}{below}")];
                if below.contains("{key}") {
                    item["parameters"] = json!([key_parameter(&described)]);
                }
                item[method] = operation(&described);
            }
        }
    }
}

impl Described<'_> {
    fn deprecated(&self) -> bool {
        self.version.status == Status::Deprecated
    }

    /// The version's schema, its references pointing into the component.
    fn schema(&self) -> Value {
        let mut schema = self.version.schema.json_schema();
        relocate(
            &mut schema,
            &format!("/components/schemas/{}", self.component),
        );
        if let Value::Object(map) = &mut schema {
            if self.deprecated() {
                map.insert("deprecated".to_owned(), json!(true));
            }
        }
        schema
    }

    fn schema_ref(&self) -> Value {
        json!({"$ref": format!("#/components/schemas/{}", self.component)})
    }

    /// The whole operation: what `operation` declares, with the tags, id,
    /// description, deprecation, `If-Match` and problems all share.
    fn describe(&self, operation: Operation) -> Value {
        let contract = self.contract;
        let mut description = format!(
            "{}\n\n**{}**: {}",
            operation.what, contract.name, contract.description
        );
        if self.deprecated() {
            let latest = contract.stored_version().version;
            description.push_str(&format!(
                "\n\n{} is deprecated: move to {latest}.",
                self.version.version
            ));
        }
        let mut described = json!({
            "tags": [contract.name.as_str()],
            "operationId": format!("{}.{}.{}", contract.name, self.version.version, operation.verb),
            "summary": format!("{} ({} {})", operation.summary, contract.name, self.version.version),
            "description": description,
        });
        if self.deprecated() {
            described["deprecated"] = json!(true);
        }
        let mut kinds: Vec<Kind> = EVERY.into_iter().chain(operation.kinds).collect();
        let mut parameters = Vec::new();
        if operation.conditional {
            parameters.push(self.if_match());
            if contract.concurrency == Concurrency::Required {
                kinds.push(Kind::PreconditionRequired);
            }
        }
        let mut successes = operation.successes;
        if operation.idempotent {
            parameters.push(json!({"$ref": "#/components/parameters/Idempotency-Key"}));
            let headers = successes
                .as_object_mut()
                .into_iter()
                .flat_map(|responses| responses.values_mut())
                .filter_map(|response| response.get_mut("headers"))
                .filter_map(Value::as_object_mut);
            for headers in headers {
                headers.insert(
                    "Idempotent-Replayed".to_owned(),
                    header_ref("Idempotent-Replayed"),
                );
            }
        }
        if !parameters.is_empty() {
            described["parameters"] = Value::Array(parameters);
        }
        kinds.sort();
        kinds.dedup();
        if let Some(body) = operation.body {
            described["requestBody"] = body;
        }
        described["responses"] = self.responses(successes, &kinds);
        described
    }

    /// The headers of every answer about this version.
    fn version_headers(&self) -> Map<String, Value> {
        let mut headers = Map::new();
        headers.insert(
            "Contract-Version".to_owned(),
            header_ref("Contract-Version"),
        );
        if self.deprecated() {
            headers.insert("Deprecation".to_owned(), header_ref("Deprecation"));
            headers.insert("Link".to_owned(), header_ref("Link"));
        }
        headers
    }

    /// A success answering with the record, `extra` headers besides the
    /// version's and `ETag`.
    fn record_response(&self, description: &str, extra: &[&str]) -> Value {
        let mut headers = self.version_headers();
        for name in ["ETag"].iter().chain(extra) {
            headers.insert((*name).to_owned(), header_ref(name));
        }
        json!({
            "description": description,
            "headers": headers,
            "content": {"application/json": {
                "schema": self.schema_ref(),
                "examples": self.examples(true, |payload| self.as_answered(payload)),
            }},
        })
    }

    /// The responses: the successes given, then every problem of `kinds`.
    fn responses(&self, successes: Value, kinds: &[Kind]) -> Value {
        let mut responses = match successes {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        add_problems(&mut responses, kinds, &self.version_headers());
        // The invalid examples, as the problems they get.
        let refused = self.examples(false, |payload| self.refusal(payload));
        if let (Some(content), false) = (
            responses
                .get_mut("422")
                .and_then(|r| r.pointer_mut("/content/application~1problem+json")),
            refused.as_object().is_none_or(Map::is_empty),
        ) {
            content["examples"] = refused;
        }
        Value::Object(responses)
    }

    fn if_match(&self) -> Value {
        let required = self.contract.concurrency == Concurrency::Required;
        json!({
            "name": "If-Match",
            "in": "header",
            "required": required,
            "description": if required {
                "Required by this contract (else 428): the update goes ahead only if the record's current `ETag` is listed (`\"3\"`, `\"3\", \"4\"`, a bare `3`), or for `*` if it exists."
            } else {
                "The update goes ahead only if the record's current `ETag` is listed (`\"3\"`, `\"3\", \"4\"`, a bare `3`), or for `*` if it exists."
            },
            "schema": {"type": "string"},
            "example": "\"1\"",
        })
    }

    /// This version's examples that are `valid` (or invalid), each as
    /// `value` makes it, by name.
    fn examples(&self, valid: bool, value: impl Fn(&Value) -> Value) -> Value {
        let examples: Map<String, Value> = self
            .own_examples(valid)
            .map(|example| {
                let summary = format!("examples/{}", file_name(example));
                let shown = json!({"summary": summary, "value": value(&example.payload)});
                (example.name.clone(), shown)
            })
            .collect();
        Value::Object(examples)
    }

    fn own_examples(&self, valid: bool) -> impl Iterator<Item = &Example> {
        let version = self.version.version;
        self.contract
            .examples
            .iter()
            .filter(move |example| example.version == version && example.valid == valid)
    }

    /// A valid payload as the gateway answers with it: normalized.
    fn as_answered(&self, payload: &Value) -> Value {
        self.contract
            .accept(self.version.version, payload.clone())
            .map_or_else(|_| payload.clone(), |(_, answered)| answered)
    }

    /// The problem an invalid payload gets.
    fn refusal(&self, payload: &Value) -> Value {
        let problem = match self.contract.accept(self.version.version, payload.clone()) {
            Err(rejection) => Problem::from(write::Error::Rejected {
                contract: self.contract.name.to_string(),
                rejection,
            }),
            Ok(_) => return Value::Null,
        };
        serde_json::to_value(problem).unwrap_or_default()
    }

    /// A valid payload's dry run, as `validate` answers it.
    fn dry_run(&self, payload: &Value) -> Value {
        write::dry_run(self.contract, self.version.version, payload.clone())
            .ok()
            .and_then(|verdict| serde_json::to_value(verdict).ok())
            .unwrap_or(Value::Null)
    }

    /// What `validate` answers for a valid payload (`write::DryRun`).
    fn dry_run_schema(&self) -> Value {
        let stored = self.contract.stored_version().version;
        json!({
            "type": "object",
            "required": ["valid", "stored_version", "body", "steps"],
            "properties": {
                "valid": {"const": true},
                "stored_version": {"type": "integer", "minimum": 1, "description": "The version the owner stores."},
                "body": {
                    "$ref": format!("#/components/schemas/{}.{stored}", self.contract.name),
                    "description": "The body the owner would store: upgraded to the stored version, normalized.",
                },
                "steps": {
                    "type": "array",
                    "description": "The upgrade steps applied, in order: each declared step of `contract.yaml`, or Avro's schema resolution.",
                    "items": {
                        "type": "object",
                        "required": ["version", "step"],
                        "properties": {
                            "version": {"type": "integer", "minimum": 1, "description": "The version the step upgrades to."},
                            "step": {"oneOf": [
                                {"type": "object", "description": "A step declared in `contract.yaml`, as written there: `{\"rename\": {\"from\": …, \"to\": …}}`."},
                                {"const": "avro_resolution", "description": "Avro's schema resolution between the two versions."},
                            ]},
                        },
                    },
                },
            },
        })
    }

    fn json_body(&self, media_types: &[&str], schema: &Value, examples: &Value) -> Value {
        let content: Map<String, Value> = media_types
            .iter()
            .map(|media_type| {
                let body = json!({"schema": schema, "examples": examples});
                ((*media_type).to_owned(), body)
            })
            .collect();
        json!({"required": true, "content": content})
    }

    fn record_body(&self) -> Value {
        let examples = self.examples(true, Value::clone);
        self.json_body(&["application/json"], &self.schema_ref(), &examples)
    }
}

fn file_name(example: &Example) -> String {
    example
        .path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// `{key}`: the record's key, as the body has it at the contract's key.
fn key_parameter(described: &Described) -> Value {
    let example = described
        .own_examples(true)
        .find_map(|example| described.contract.key_of(&example.payload).ok());
    let mut parameter = json!({
        "name": "key",
        "in": "path",
        "required": true,
        "description": format!("The record's key: the value at `{}` in its body.", described.contract.key),
        "schema": {"type": "string", "minLength": 1, "maxLength": 512},
    });
    if let Some(key) = example {
        parameter["example"] = json!(key.as_str());
    }
    parameter
}

fn create(described: &Described) -> Value {
    described.describe(Operation {
        verb: "create",
        summary: "Create a record",
        what: "Creates a record; its key is taken from the body. The payload is checked against this version, upgraded to the stored version and committed with its change event.",
        conditional: false,
        idempotent: true,
        body: Some(described.record_body()),
        successes: json!({"201": described.record_response("Created: the record as this version has it (normalized).", &["Location"])}),
        kinds: [&CHECKED_BODY[..], &OWNER, &WRITE, &[Kind::RecordExists]].concat(),
    })
}

fn read(described: &Described) -> Value {
    described.describe(Operation {
        verb: "read",
        summary: "Read a record",
        what: "Reads a record as this version has it: upgraded or downgraded from the stored version.",
        conditional: false,
        idempotent: false,
        body: None,
        successes: json!({"200": described.record_response("The record.", &[])}),
        kinds: [
            &OWNER[..],
            &[Kind::NotFound, Kind::UnknownRecord, Kind::NotRepresentable],
        ]
        .concat(),
    })
}

fn replace(described: &Described) -> Value {
    described.describe(Operation {
        verb: "replace",
        summary: "Replace a record",
        what: "Creates the record at `{key}` or replaces it; the body's key must be `{key}`.",
        conditional: true,
        idempotent: true,
        body: Some(described.record_body()),
        successes: json!({
            "200": described.record_response("Replaced: the record as this version has it (normalized).", &[]),
            "201": described.record_response("Created: the record as this version has it (normalized).", &["Location"]),
        }),
        kinds: [
            &CHECKED_BODY[..],
            &OWNER,
            &WRITE,
            &KEYED_UPDATE,
            &[Kind::KeyMismatch],
        ]
        .concat(),
    })
}

fn patch(described: &Described) -> Value {
    let schema = json!({
        "type": "object",
        "description": "Members to set; a member set to null is removed. The merged record must satisfy the contract.",
    });
    let media_types = ["application/merge-patch+json", "application/json"];
    let examples = described.examples(true, merge_patch);
    described.describe(Operation {
        verb: "patch",
        summary: "Patch a record",
        what: "Applies a JSON merge patch (RFC 7396) to the record as this version has it, then checks the result like any write.",
        conditional: true,
        idempotent: true,
        body: Some(described.json_body(&media_types, &schema, &examples)),
        successes: json!({"200": described.record_response("Patched: the record as this version has it (normalized).", &[])}),
        // A patch may change the key: the merged record then names another.
        kinds: [
            &CHECKED_BODY[..],
            &OWNER,
            &WRITE,
            &KEYED_UPDATE,
            &[Kind::NotRepresentable, Kind::KeyMismatch],
        ]
        .concat(),
    })
}

fn delete(described: &Described) -> Value {
    described.describe(Operation {
        verb: "delete",
        summary: "Delete a record",
        what: "Deletes a record.",
        conditional: true,
        idempotent: true,
        body: None,
        successes: json!({"204": {"description": "Deleted.", "headers": described.version_headers()}}),
        kinds: [&OWNER[..], &WRITE, &KEYED_UPDATE].concat(),
    })
}

fn validate(described: &Described) -> Value {
    let examples = described.examples(true, |payload| described.dry_run(payload));
    let answer = json!({
        "description": "Valid: what the owner would store, and the upgrade steps on the way. Nothing was written.",
        "headers": described.version_headers(),
        "content": {"application/json": {"schema": described.dry_run_schema(), "examples": examples}},
    });
    described.describe(Operation {
        verb: "validate",
        summary: "Check a write without making it",
        what: "A dry run: the payload is checked as a create in this version would check it (an invalid one gets the same 422, every violation listed) and upgraded to the stored version. Nothing is written, no event is emitted and the owner is not asked. Needs the `validate` or the `write` scope.",
        conditional: false,
        idempotent: false,
        body: Some(described.record_body()),
        successes: json!({"200": answer}),
        kinds: CHECKED_BODY.to_vec(),
    })
}

fn batch(described: &Described) -> Value {
    // OpenAPI 3.1 has no schema for the items of a sequence: the schema
    // given is one line's.
    let line = described.schema_ref();
    let body = json!({
        "required": true,
        "description": "NDJSON: one JSON object per line, each a record of this version. Blank lines are skipped; the last line may lack its newline. A line over `limits.body_bytes` is answered on its own result line (413) and skipped.",
        "content": {
            "application/x-ndjson": {"schema": line},
            "application/jsonl": {"schema": line},
        },
    });
    let answer = json!({
        "description": "The result of every line, one NDJSON line each, in input order, streamed as chunks of lines are written (each chunk of up to 2,000 lines in one transaction). Each line is `{\"line\", \"status\": 201|200, \"key\", \"revision\"}` for a write, or `{\"line\", \"status\", \"problem\"}` with the problem a single write would have got; `line` counts the non-blank input lines from 1. The schema is that of one result line.",
        "headers": described.version_headers(),
        "content": {"application/x-ndjson": {"schema": {"$ref": "#/components/schemas/BatchResult"}}},
    });
    described.describe(Operation {
        verb: "batch",
        summary: "Write records in bulk (NDJSON)",
        what: "Creates or replaces many records, each as a `PUT` of its body's key without `If-Match` would: the body is read line by line as it arrives, and the answer streams one result line per input line, in bounded memory whatever the body's size. A line that breaks the contract fails alone. `Idempotency-Key` does not apply.",
        conditional: false,
        idempotent: false,
        body: Some(body),
        successes: json!({"200": answer}),
        kinds: vec![Kind::UnsupportedMediaType],
    })
}

/// A merge patch that sets the last member of a valid example again.
fn merge_patch(payload: &Value) -> Value {
    let last = payload
        .as_object()
        .and_then(|members| members.iter().next_back());
    match last {
        Some((name, value)) => json!({ name: value }),
        None => json!({}),
    }
}
