//! The JSON mapping of Avro schemas: how a JSON payload is checked against an
//! Avro schema and brought to its canonical form. (Being written.)

use apache_avro::Schema;
use serde_json::Value;

use super::pointer::JsonPointer;
use super::schema::Violation;

/// Every violation of `schema` by `payload`.
pub fn validate(_schema: &Schema, _payload: &Value) -> Vec<Violation> {
    Vec::new()
}

/// The canonical form of a payload `validate` accepted.
pub fn normalize(_schema: &Schema, payload: Value) -> Value {
    payload
}

/// Whether the record fields of `schema` reach `pointer`.
pub fn declares(_schema: &Schema, _pointer: &JsonPointer) -> bool {
    false
}
