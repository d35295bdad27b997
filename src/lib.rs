pub mod domain;
pub mod config;
pub mod store;
pub mod payment;
pub mod application;
pub mod error;
pub mod startup;
pub mod web;
