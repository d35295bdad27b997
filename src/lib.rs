pub mod application;
pub mod config;
pub mod domain;
pub mod error;
pub mod payment;
pub mod startup;
pub mod store;
pub mod web;
