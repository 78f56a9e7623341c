//! Change events: the CloudEvents 1.0 documents a committed write emits.
//! Owners store them in their outbox in the write's own transaction; the
//! [`relay`] publishes them to a broker and [`retention`] deletes old ones.

mod background;
pub mod relay;
pub mod retention;

use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::contract::{ContractName, RecordKey, Version};

pub use background::Background;

/// What a write did to a record: the suffix of the change event's `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EventType {
    /// The record did not exist before.
    Created,
    /// A whole new body replaced the record.
    Replaced,
    /// A merge patch changed the record.
    Patched,
    /// The record is gone.
    Deleted,
}

impl EventType {
    fn as_str(self) -> &'static str {
        match self {
            EventType::Created => "created",
            EventType::Replaced => "replaced",
            EventType::Patched => "patched",
            EventType::Deleted => "deleted",
        }
    }
}

/// A change event (CloudEvents 1.0) as stored in the outbox, relayed, and
/// served by `/changes`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChangeEvent {
    /// The contract, for the journal's own columns (the document names it
    /// in `source` and `type`).
    #[serde(skip)]
    #[schema(ignore)]
    pub contract: ContractName,
    /// Always "1.0".
    #[schema(value_type = String, example = "1.0")]
    pub specversion: &'static str,
    /// Unique; relays use it as the broker's deduplication id.
    pub id: String,
    /// `/contracts/<name>`.
    #[schema(example = "/contracts/customer")]
    pub source: String,
    /// `<contract>.<created|replaced|patched|deleted>`.
    #[serde(rename = "type")]
    #[schema(example = "customer.created")]
    pub kind: String,
    /// The record key.
    pub subject: String,
    /// When the write committed (RFC 3339).
    pub time: String,
    /// Always `application/json`.
    #[schema(value_type = String, example = "application/json")]
    pub datacontenttype: &'static str,
    /// The contract version `data` conforms to, as
    /// `urn:contractgate:schema:<contract>:v<n>` (served at
    /// `/contracts/<contract>/v<n>/schema`). CloudEvents requires an
    /// absolute URI here, and the gateway does not know the address its
    /// clients reach it by.
    pub dataschema: String,
    /// The record's revision after the write (a CloudEvents extension).
    pub revision: u64,
    /// The record after the write, PII redacted; absent for a deletion.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub data: Option<EventData>,
}

/// An event's `data` as JSON text: serialised when its write is checked,
/// in the request's own task, so that the commit a whole batch of writes
/// waits on only copies it.
pub type EventData = Box<RawValue>;

/// A record body as an event's `data`.
pub fn event_data(body: &Value) -> Result<EventData, serde_json::Error> {
    serde_json::value::to_raw_value(body)
}

impl ChangeEvent {
    /// The event for a write that left `key` at `revision`, committed at
    /// `time` (RFC 3339).
    pub fn new(
        contract: &ContractName,
        version: Version,
        key: &RecordKey,
        kind: EventType,
        revision: u64,
        time: &str,
        data: Option<EventData>,
    ) -> Self {
        ChangeEvent {
            contract: contract.clone(),
            specversion: "1.0",
            id: uuid::Uuid::now_v7().to_string(),
            source: format!("/contracts/{contract}"),
            kind: format!("{contract}.{}", kind.as_str()),
            subject: key.to_string(),
            time: time.to_owned(),
            datacontenttype: "application/json",
            dataschema: format!("urn:contractgate:schema:{contract}:{version}"),
            revision,
            data,
        }
    }
}

/// The current time as RFC 3339, for stored timestamps.
pub fn now_rfc3339() -> String {
    // Formatting a current UTC time cannot fail; the fallback keeps it total.
    OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .unwrap_or_default()
}
