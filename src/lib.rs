pub mod domain;
pub mod config;
pub mod store;
