//! contractgate: a declarative data-contract gateway.

pub mod config;
pub mod contract;
pub mod events;
pub mod gateway;
pub mod http;
pub mod systems;
pub mod write;
