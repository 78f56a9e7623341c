//! The contract model: contracts, their versions and schemas, upgrades and
//! compatibility. Pure: nothing here knows HTTP, SQL or an async runtime, so
//! the CLI and the tests use it directly.

mod avro_json;
pub mod bundle;
pub mod canonical;
pub mod compat;
pub mod diff;
mod error;
pub mod evolve;
pub mod git;
mod history;
mod model;
mod names;
mod pii;
pub mod pointer;
pub mod registry;
pub mod rules;
pub mod samples;
pub mod schema;

pub use error::Error;
pub use model::{
    Applied, AppliedStep, AvroResolution, Concurrency, Contract, ContractVersion, Example, Layout,
    Rejection, Rejections, Status, Unreadable, ValidatedRecord,
};
pub use names::{is_sql_identifier, ContractName, RecordKey, Version};
pub use pointer::JsonPointer;
pub use registry::{LoadOptions, Registry};
pub use schema::{RefRoots, Schema, SchemaDocument, SchemaFormat, Violation};
