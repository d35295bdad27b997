//! Pure types and rules of the shop. Nothing here does I/O.

pub mod account;
pub mod address;
pub mod cart;
pub mod catalogue;
pub mod checkout;
pub mod events;
pub mod field_errors;
pub mod money;
pub mod order;
pub mod payment;
pub mod placeorder;
pub mod pricing;
