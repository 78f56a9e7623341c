//! contractgate: a declarative data-contract gateway.

pub mod contract;
