//! A loaded contract: its versions with compiled schemas, and the one way a
//! payload becomes a [`ValidatedRecord`] an owner may store.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;
use time::OffsetDateTime;
use utoipa::ToSchema;

use super::compat::Mode;
use super::evolve::Step;
use super::names::{ContractName, RecordKey, Version};
use super::pointer::JsonPointer;
use super::rules::{check_all, Rule};
use super::schema::{Schema, SchemaFormat, Violation};

/// Whether a version is still written to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Accepted.
    #[default]
    Active,
    /// Accepted, with `Deprecation` headers telling clients to move on.
    Deprecated,
    /// Refused with 410 Gone.
    Retired,
}

/// Whether updates must name the revision they replace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Concurrency {
    /// `If-Match` is honoured when sent.
    #[default]
    Optional,
    /// Updates and deletes without `If-Match` get 428.
    Required,
}

/// What becomes of a contract's rejected writes (`rejections:` in
/// `contract.yaml`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rejections {
    /// Answered with 422 and forgotten.
    #[default]
    Discard,
    /// Also kept in the owner's rejection store, PII redacted.
    Keep,
}

/// How an SQL owner keeps a contract's records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    /// The gateway's document table (`record_key`, `version`, `revision`,
    /// `body`, `updated_at`), created when missing.
    Document,
    /// A table that already exists: a column per field, the key and the
    /// revision in columns of their own. Rows hold the stored version.
    Columns {
        /// The column holding the key (the field at the contract's `key`).
        key: String,
        /// The column holding the revision.
        revision: String,
        /// Each other column and the field of the stored version it holds.
        fields: Vec<(String, JsonPointer)>,
    },
}

/// One published version of a contract.
#[derive(Debug)]
pub struct ContractVersion {
    /// Its number.
    pub version: Version,
    /// Whether it is still written to.
    pub status: Status,
    /// The schema file, as `contract.yaml` names it below the contract's
    /// folder.
    pub schema_file: PathBuf,
    /// The compiled schema.
    pub schema: Schema,
    /// Its canonical schema hash (`contract::canonical`): a published
    /// version keeps it for ever.
    pub schema_hash: String,
    /// How a payload of the previous version becomes this one.
    pub upgrade: Vec<Step>,
    /// How a payload of this version becomes the previous one, when the
    /// contract declares it; otherwise `upgrade` inverted.
    pub downgrade: Option<Vec<Step>>,
    /// What payloads of this version must satisfy beyond the schema.
    pub rules: Vec<Rule>,
    /// When the version was (or will be) deprecated, if declared.
    pub deprecated_on: Option<OffsetDateTime>,
    /// When the version stops being served, if declared.
    pub sunset: Option<OffsetDateTime>,
}

impl ContractVersion {
    /// Every violation of the schema by `payload`, or, when there is none,
    /// of the rules: rules may assume the shape the schema promises.
    pub fn check(&self, payload: &Value) -> Vec<Violation> {
        let violations = self.schema.validate(payload);
        if violations.is_empty() {
            check_all(&self.rules, payload)
        } else {
            violations
        }
    }
}

/// One step a chain applies, as the validate dry run reports it: the
/// version it leads to and the declared step, or Avro's schema resolution.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AppliedStep<'c> {
    /// The version the step upgrades to.
    pub version: Version,
    /// What it does.
    pub step: Applied<'c>,
}

/// What an [`AppliedStep`] does.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Applied<'c> {
    /// A step declared in `contract.yaml`.
    Declared(&'c Step),
    /// Avro's schema resolution between the two versions' schemas.
    Resolution(AvroResolution),
}

/// The marker `"avro_resolution"`, for the one step that is not declared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AvroResolution {
    /// Avro's schema resolution.
    AvroResolution,
}

/// A version whose records cannot be read at an older one, whatever they
/// hold: its derived downgrade cannot give back what the older requires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreadable {
    /// The newer version.
    pub version: Version,
    /// The older version it cannot be read at.
    pub older: Version,
    /// Why, naming the step.
    pub reason: String,
}

/// A named kind of record with its ordered versions.
#[derive(Debug)]
pub struct Contract {
    /// The contract's name (also its folder's).
    pub name: ContractName,
    /// What the records are.
    pub description: String,
    /// The system named as owner in `contract.yaml`, if any.
    pub owner: Option<String>,
    /// The table SQL owners store records in.
    pub table: String,
    /// How the table holds them.
    pub layout: Layout,
    /// Where the key is in a payload.
    pub key: JsonPointer,
    /// The rule new versions keep.
    pub compatibility: Mode,
    /// Whether updates must send `If-Match`.
    pub concurrency: Concurrency,
    /// Fields redacted from change events.
    pub pii: Vec<JsonPointer>,
    /// Whether rejected writes are kept.
    pub rejections: Rejections,
    /// The contract's folder.
    pub folder: PathBuf,
    /// The payloads of its `examples/` folder, by file name.
    pub examples: Vec<Example>,
    /// Versions 1..=n, in order: `versions[i]` is version i+1.
    pub(super) versions: Vec<ContractVersion>,
}

/// A payload from a contract's `examples/` folder: `v{n}.valid.*.json`
/// must be accepted by version n, `v{n}.invalid.*.json` refused. They are
/// checked when the contract loads and shown in its documentation.
#[derive(Debug, Clone)]
pub struct Example {
    /// The file it was read from.
    pub path: PathBuf,
    /// The version it is written in.
    pub version: Version,
    /// Whether that version accepts it.
    pub valid: bool,
    /// What the file name says between the kind and `.json` (`full` in
    /// `v1.valid.full.json`).
    pub name: String,
    /// The payload.
    pub payload: Value,
}

/// A payload that passed its contract: validated against the version it was
/// sent in, upgraded to the stored version and validated again. Only
/// [`Contract::accept`] builds one, so an owner cannot be handed anything
/// else.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidatedRecord {
    key: RecordKey,
    version: Version,
    body: Value,
    /// The body as JSON text, serialised once, in the request's own task:
    /// a batch's commit, which every write in it waits on, only copies it.
    text: String,
}

impl ValidatedRecord {
    /// The record's key.
    pub fn key(&self) -> &RecordKey {
        &self.key
    }

    /// The version the body conforms to (the stored version).
    pub fn version(&self) -> Version {
        self.version
    }

    /// The body.
    pub fn body(&self) -> &Value {
        &self.body
    }

    /// The body as JSON text.
    pub fn text(&self) -> &str {
        &self.text
    }
}

/// Why a payload was refused: every violation, and the version checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    /// The version the payload was checked against.
    pub version: Version,
    /// Every violation found.
    pub violations: Vec<Violation>,
    /// True when the payload was valid as sent but its upgrade to the stored
    /// version was not: a contract defect more than a client's.
    pub after_upgrade: bool,
}

impl Rejection {
    /// The first violation, for one-line messages.
    pub fn first(&self) -> String {
        self.violations
            .first()
            .map(ToString::to_string)
            .unwrap_or_default()
    }
}

impl Contract {
    /// All versions, oldest first.
    pub fn versions(&self) -> &[ContractVersion] {
        &self.versions
    }

    /// One version, if it exists.
    pub fn version(&self, version: Version) -> Option<&ContractVersion> {
        self.versions.get(version.number() as usize - 1)
    }

    /// The version owners store: the latest.
    pub fn stored_version(&self) -> &ContractVersion {
        // A contract is only built with at least one version (registry).
        &self.versions[self.versions.len() - 1]
    }

    /// Validates `payload` against `version` (schema, then rules), upgrades
    /// it to the stored version and checks the result there: the whole
    /// check a write gets. Returns the record to store and the payload as
    /// the client's version has it (normalized), for the answer.
    pub fn accept(
        &self,
        version: Version,
        payload: Value,
    ) -> Result<(ValidatedRecord, Value), Rejection> {
        self.accept_keeping(version, payload, Value::clone)
    }

    /// [`Contract::accept`], keeping of the payload as the client's version
    /// has it only what `keep` takes: a caller whose answer carries no body
    /// (a bulk line, a dry run) saves copying it.
    pub fn accept_keeping<T>(
        &self,
        version: Version,
        payload: Value,
        keep: impl FnOnce(&Value) -> T,
    ) -> Result<(ValidatedRecord, T), Rejection> {
        let sent = self.version_or_reject(version)?;
        let violations = sent.schema.validate(&payload);
        if !violations.is_empty() {
            return Err(Rejection {
                version,
                violations,
                after_upgrade: false,
            });
        }
        let key = self.key_of(&payload).map_err(|violation| Rejection {
            version,
            violations: vec![violation],
            after_upgrade: false,
        })?;
        let as_sent = sent.schema.normalize(payload);
        let violations = check_all(&sent.rules, &as_sent);
        if !violations.is_empty() {
            return Err(Rejection {
                version,
                violations,
                after_upgrade: false,
            });
        }
        let stored = self.stored_version();
        let kept = keep(&as_sent);
        // Sent in the stored version: it was just checked against it.
        let body = if version == stored.version {
            as_sent
        } else {
            let body = self.convert(as_sent, version, stored.version);
            self.checked(stored, body)?
        };
        let record = ValidatedRecord {
            key,
            version: stored.version,
            text: body.to_string(),
            body,
        };
        Ok((record, kept))
    }

    /// A stored body, expressed in `version` and checked against it.
    pub fn express(
        &self,
        body: Value,
        from: Version,
        version: Version,
    ) -> Result<Value, Rejection> {
        let target = self.version_or_reject(version)?;
        self.checked(target, self.convert(body, from, version))
    }

    /// A converted payload in its version's canonical form, if that
    /// version accepts it.
    fn checked(&self, target: &ContractVersion, converted: Value) -> Result<Value, Rejection> {
        let body = target.schema.normalize(converted);
        let violations = target.check(&body);
        if violations.is_empty() {
            Ok(body)
        } else {
            Err(Rejection {
                version: target.version,
                violations,
                after_upgrade: true,
            })
        }
    }

    /// Runs the chain from one version to another, one version at a time:
    /// each version's upgrade steps on the way up, its declared (or
    /// derived) downgrade on the way down, and, between two Avro versions,
    /// Avro's schema resolution after the steps. The result is not yet
    /// normalized nor checked: [`Contract::express`] does both.
    pub fn convert(&self, mut payload: Value, from: Version, to: Version) -> Value {
        if from < to {
            for pair in self.hops(from, to) {
                let (older, newer) = (&pair[0], &pair[1]);
                newer.upgrade.iter().for_each(|s| s.upgrade(&mut payload));
                payload = newer.schema.resolve_from(&older.schema, payload);
            }
        } else {
            for pair in self.hops(to, from).rev() {
                let (older, newer) = (&pair[0], &pair[1]);
                match &newer.downgrade {
                    Some(steps) => steps.iter().for_each(|s| s.upgrade(&mut payload)),
                    None => newer
                        .upgrade
                        .iter()
                        .rev()
                        .for_each(|s| s.downgrade(&mut payload)),
                }
                payload = older.schema.resolve_from(&newer.schema, payload);
            }
        }
        payload
    }

    /// The steps an upgrade from `from` to `to` applies, in order.
    pub fn applied_steps(&self, from: Version, to: Version) -> Vec<AppliedStep<'_>> {
        let mut applied = Vec::new();
        for pair in self.hops(from, to) {
            let (older, newer) = (&pair[0], &pair[1]);
            let declared = newer.upgrade.iter().map(Applied::Declared);
            let avro = [older.schema.format(), newer.schema.format()] == [SchemaFormat::Avro; 2];
            let resolution = avro.then_some(Applied::Resolution(AvroResolution::AvroResolution));
            applied.extend(declared.chain(resolution).map(|step| AppliedStep {
                version: newer.version,
                step,
            }));
        }
        applied
    }

    /// Adjacent (older, newer) pairs of versions from `low` to `high`.
    fn hops(&self, low: Version, high: Version) -> std::slice::Windows<'_, ContractVersion> {
        let end = (high.number() as usize).min(self.versions.len());
        let start = (low.number() as usize - 1).min(end);
        self.versions[start..end].windows(2)
    }

    /// The versions whose derived downgrade cannot give back what the
    /// version before requires, whatever the record holds (a `remove`
    /// without `default` of a required field, a `map` that merges values).
    /// A version that declares its `downgrade:` is not judged here: its
    /// steps are checked against examples like any chain.
    pub fn unreadable(&self) -> Vec<Unreadable> {
        let mut found = Vec::new();
        for pair in self.versions.windows(2) {
            let (older, newer) = (&pair[0], &pair[1]);
            if newer.downgrade.is_some() {
                continue;
            }
            for step in &newer.upgrade {
                if let Some(reason) = step.inversion_problem(&older.schema) {
                    found.push(Unreadable {
                        version: newer.version,
                        older: older.version,
                        reason,
                    });
                }
            }
        }
        found
    }

    /// The version clients of a retired or deprecated one should move to:
    /// the latest active version, else the latest.
    pub fn successor(&self) -> Version {
        self.versions
            .iter()
            .rev()
            .find(|v| v.status == Status::Active)
            .unwrap_or_else(|| self.stored_version())
            .version
    }

    /// The key of a payload valid under some version.
    pub fn key_of(&self, payload: &Value) -> Result<RecordKey, Violation> {
        let problem = match self.key.get(payload) {
            Some(value) => match RecordKey::from_value(value) {
                Ok(key) => return Ok(key),
                Err(problem) => problem,
            },
            None => "the record key is missing".to_owned(),
        };
        Err(Violation {
            pointer: self.key.to_string(),
            keyword: "key".to_owned(),
            schema_location: String::new(),
            message: format!("{problem} (the contract's key is at {})", self.key),
        })
    }

    fn version_or_reject(&self, version: Version) -> Result<&ContractVersion, Rejection> {
        // Callers resolve the version first; this keeps `accept` total.
        self.version(version).ok_or_else(|| Rejection {
            version,
            violations: vec![Violation {
                pointer: String::new(),
                keyword: "version".to_owned(),
                schema_location: String::new(),
                message: format!("contract {} has no version {version}", self.name),
            }],
            after_upgrade: false,
        })
    }

    /// The body with PII fields replaced, for change events.
    pub fn redact(&self, mut body: Value) -> Value {
        for pointer in &self.pii {
            if let Some(slot) = pointer.get_mut(&mut body) {
                *slot = Value::String(REDACTED.to_owned());
            }
        }
        body
    }

    /// A record's body as JSON text with PII fields replaced, as
    /// [`Contract::redact`] gives it, for change events: the values are
    /// swapped out of the body and back, not the whole body cloned.
    pub fn redacted_json(&self, record: &mut ValidatedRecord) -> serde_json::Result<Box<RawValue>> {
        redacted_json(&self.pii, &mut record.body)
    }
}

/// What a PII value reads as where it is withheld.
const REDACTED: &str = "[redacted]";

fn redacted_json(pii: &[JsonPointer], body: &mut Value) -> serde_json::Result<Box<RawValue>> {
    let mut taken = Vec::new();
    for pointer in pii {
        if let Some(slot) = pointer.get_mut(body) {
            taken.push((
                pointer,
                std::mem::replace(slot, Value::String(REDACTED.to_owned())),
            ));
        }
    }
    let json = serde_json::value::to_raw_value(body);
    // Put back last taken first: a field redacted inside one redacted
    // later then finds its parent object back.
    for (pointer, value) in taken.into_iter().rev() {
        if let Some(slot) = pointer.get_mut(body) {
            *slot = value;
        }
    }
    json
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn redacted_json_withholds_pii_in_any_order_and_leaves_the_body_as_it_was() {
        let body = json!({"id": "c-1", "email": "ada@example.com",
            "address": {"zip": "SW1Y", "city": "London"}, "phones": ["+44 1", "+44 2"]});
        let pointers = |texts: &[&str]| -> Vec<JsonPointer> {
            texts
                .iter()
                .map(|t| JsonPointer::parse(t).unwrap())
                .collect()
        };
        for pii in [
            pointers(&[
                "/email",
                "/address/zip",
                "/address",
                "/phones/1",
                "/missing",
            ]),
            pointers(&["/address", "/address/zip", "/phones/1", "/email"]),
        ] {
            let mut record = body.clone();
            let json = redacted_json(&pii, &mut record).unwrap();
            let redacted: Value = serde_json::from_str(json.get()).unwrap();
            assert_eq!(
                redacted,
                json!({"id": "c-1", "email": REDACTED, "address": REDACTED,
                    "phones": ["+44 1", REDACTED]})
            );
            assert_eq!(record, body);
        }
    }
}
