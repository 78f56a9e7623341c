//! contractgate: a declarative data-contract gateway.

pub mod contract;
pub mod config;
pub mod events;
pub mod systems;
pub mod write;
