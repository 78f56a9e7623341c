//! contractgate: a declarative data-contract gateway.

pub mod config;
pub mod contract;
pub mod events;
pub mod gateway;
pub mod http;
pub mod metrics;
pub mod systems;
pub mod telemetry;
pub mod write;
