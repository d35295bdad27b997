//! What the shop and the customer-registration API send each other
//! (JSON). The client owns this format; the sandbox's registration API
//! speaks it.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegistrationStatus {
    Pending,
    Confirmed,
    Deleted,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Registration {
    pub id: String,
    pub email: String,
    pub reference: String,
    pub status: RegistrationStatus,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreateRegistration {
    pub email: String,
    /// The shop's reference (its cart).
    pub reference: String,
}

/// An order's new state, as the customer system hears of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderState {
    /// The shop's order number.
    pub order: String,
    /// `shipped`, `delivered` or `refunded`.
    pub state: String,
    /// The outbox event's id: a repeat carries the same one.
    pub event: String,
}
