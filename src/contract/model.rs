//! A loaded contract: its versions with compiled schemas, and the one way a
//! payload becomes a [`ValidatedRecord`] an owner may store.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::compat::Mode;
use super::evolve::Step;
use super::names::{ContractName, RecordKey, Version};
use super::pointer::JsonPointer;
use super::schema::{Schema, Violation};

/// Whether a version is still written to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
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
    /// The compiled schema.
    pub schema: Schema,
    /// How a payload of the previous version becomes this one.
    pub upgrade: Vec<Step>,
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
    /// Versions 1..=n, in order: `versions[i]` is version i+1.
    pub(super) versions: Vec<ContractVersion>,
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

    /// Validates `payload` against `version`, upgrades it to the stored
    /// version and validates the result: the whole check a write gets.
    /// Returns the record to store and the payload as the client's version
    /// has it (normalized), for the answer.
    pub fn accept(
        &self,
        version: Version,
        payload: Value,
    ) -> Result<(ValidatedRecord, Value), Rejection> {
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
        let stored = self.stored_version();
        // Sent in the stored version: it was just validated against it.
        let body = if version == stored.version {
            as_sent.clone()
        } else {
            let body =
                stored
                    .schema
                    .normalize(self.convert(as_sent.clone(), version, stored.version));
            let violations = stored.schema.validate(&body);
            if !violations.is_empty() {
                return Err(Rejection {
                    version: stored.version,
                    violations,
                    after_upgrade: true,
                });
            }
            body
        };
        let record = ValidatedRecord {
            key,
            version: stored.version,
            body,
        };
        Ok((record, as_sent))
    }

    /// A stored body, expressed in `version` and validated against it.
    pub fn express(
        &self,
        body: Value,
        from: Version,
        version: Version,
    ) -> Result<Value, Rejection> {
        let target = self.version_or_reject(version)?;
        let converted = self.convert(body, from, version);
        let violations = target.schema.validate(&converted);
        if violations.is_empty() {
            Ok(converted)
        } else {
            Err(Rejection {
                version,
                violations,
                after_upgrade: true,
            })
        }
    }

    /// Runs the upgrade (or derived downgrade) chain from one version to another.
    pub fn convert(&self, mut payload: Value, from: Version, to: Version) -> Value {
        if from < to {
            for step in self.steps_between(from, to) {
                step.upgrade(&mut payload);
            }
        } else {
            for step in self.steps_between(to, from).rev() {
                step.downgrade(&mut payload);
            }
        }
        payload
    }

    /// The steps taking `low` to `high`, in order.
    fn steps_between(&self, low: Version, high: Version) -> impl DoubleEndedIterator<Item = &Step> {
        let range = (low.number() as usize).min(self.versions.len())
            ..(high.number() as usize).min(self.versions.len());
        self.versions[range].iter().flat_map(|v| v.upgrade.iter())
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
                *slot = Value::String("[redacted]".to_owned());
            }
        }
        body
    }
}
