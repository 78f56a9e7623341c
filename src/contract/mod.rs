//! The contract model: contracts, their versions and schemas, upgrades and
//! compatibility. Pure: nothing here knows HTTP, SQL or an async runtime, so
//! the CLI and the tests use it directly.

mod avro_json;
pub mod compat;
mod error;
pub mod pointer;
pub mod schema;

pub use error::Error;
pub use pointer::JsonPointer;
pub use schema::{Schema, SchemaDocument, SchemaFormat, Violation};
