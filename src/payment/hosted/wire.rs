//! What the shop and the hosted provider send each other (JSON). The
//! adapter owns this format; the sandbox provider speaks it.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionStatus {
    /// Waiting for the shopper.
    Open,
    /// Card reserved (manual capture).
    Authorized,
    /// Money taken.
    Captured,
    /// Convenience store chosen: to be paid at the till before it expires.
    Pending,
    Declined,
    /// Broken off by the shopper, or voided by the shop.
    Cancelled,
    Expired,
    Refunded,
}

/// What the shop sends to open a payment session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateSession {
    pub amount_minor: i64,
    pub currency: String,
    pub reference: String,
    /// `card` or `convenience_store`.
    pub method: String,
    /// `automatic` or `manual`.
    pub capture: String,
    pub return_url: String,
    pub cancel_url: String,
    pub webhook_url: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    pub id: String,
    pub idempotency_key: String,
    pub request: CreateSession,
    pub status: SessionStatus,
    pub pay_url: String,
    pub captured_minor: i64,
    /// For convenience-store payments: the code to show at the till.
    pub payment_code: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}
