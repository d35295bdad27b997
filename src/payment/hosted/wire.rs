//! What the shop and the hosted provider send each other (JSON). The
//! adapter owns this format; the sandbox provider speaks it.

use serde::{Deserialize, Serialize};
use std::fmt;
use time::OffsetDateTime;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionStatus {
    /// Waiting for the shopper.
    Open,
    /// Card reserved (manual capture); parts of it may be captured already.
    Authorized,
    /// Money taken: all of it, or what was captured before the rest was
    /// released.
    Captured,
    /// Convenience store chosen: to be paid at the till before it expires.
    Pending,
    Declined,
    /// Broken off by the shopper, or voided by the shop.
    Cancelled,
    Expired,
    /// Everything captured was paid back.
    Refunded,
}

/// When the provider takes a card payment's money.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CaptureMode {
    /// At once, when the shopper pays.
    Automatic,
    /// Only reserved when the shopper pays; taken by capture calls (e.g.
    /// on delivery).
    Manual,
}

impl fmt::Display for CaptureMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Automatic => "automatic",
            Self::Manual => "manual",
        })
    }
}

/// What the shop sends to open a payment session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateSession {
    pub amount_minor: i64,
    pub currency: String,
    pub reference: String,
    /// `card` or `convenience_store`.
    pub method: String,
    pub capture: CaptureMode,
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
    /// Taken so far, of `request.amount_minor` (the amount authorized).
    pub captured_minor: i64,
    /// Paid back so far, of `captured_minor`.
    #[serde(default)]
    pub refunded_minor: i64,
    /// The uncaptured rest of the reservation was given up: nothing more
    /// can be captured.
    #[serde(default)]
    pub released: bool,
    /// The money operations asked for, refused ones included, oldest first.
    #[serde(default)]
    pub operations: Vec<Operation>,
    /// For convenience-store payments: the code to show at the till.
    pub payment_code: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

/// The body of `POST /v1/sessions/{id}/captures` and `…/refunds`; each
/// call carries an `Idempotency-Key`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AmountRequest {
    pub amount_minor: i64,
}

/// What the provider answers with a 4xx: why it said no.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    pub error: String,
}

/// A money operation on an authorized or captured session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OperationKind {
    /// Take part of the reservation: `POST …/captures`.
    Capture,
    /// Give up the uncaptured rest: `POST …/release`.
    Release,
    /// Pay back part of what was taken: `POST …/refunds`.
    Refund,
}

impl fmt::Display for OperationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Capture => "capture",
            Self::Release => "release",
            Self::Refund => "refund",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum OperationOutcome {
    Done,
    Refused { reason: String },
}

/// One money operation as the provider performed (or refused) it: the
/// answer to every call with its idempotency key. The answer of a 2xx.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Operation {
    pub key: String,
    pub kind: OperationKind,
    /// Captured or refunded; for a release, what was released.
    pub amount_minor: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub outcome: OperationOutcome,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capture_mode_speaks_lowercase() {
        assert_eq!(
            serde_json::to_string(&CaptureMode::Manual).unwrap(),
            "\"manual\""
        );
        assert_eq!(
            serde_json::from_str::<CaptureMode>("\"automatic\"").unwrap(),
            CaptureMode::Automatic
        );
        assert!(serde_json::from_str::<CaptureMode>("\"Manual\"").is_err());
        assert_eq!(CaptureMode::Manual.to_string(), "manual");
    }

    #[test]
    fn an_outcome_names_its_result() {
        let refused = OperationOutcome::Refused {
            reason: "no".into(),
        };
        assert_eq!(
            serde_json::to_value(&refused).unwrap(),
            serde_json::json!({ "result": "refused", "reason": "no" })
        );
        assert_eq!(
            serde_json::to_value(OperationOutcome::Done).unwrap(),
            serde_json::json!({ "result": "done" })
        );
    }
}
