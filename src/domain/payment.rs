//! The shopper's choice of how to pay, and the states of a payment.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Sent with every call to a payment provider for one attempt; a new attempt
/// gets a new key so a provider never mistakes it for a retry of the old one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn from_string(key: String) -> Self {
        Self(key)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A method a gateway offers at checkout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentMethodOption {
    pub gateway: String,
    pub method: String,
    pub title: String,
}

impl PaymentMethodOption {
    pub fn form_value(&self) -> String {
        format!("{}:{}", self.gateway, self.method)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentSelection {
    pub gateway: String,
    pub method: String,
    pub idempotency_key: IdempotencyKey,
}

impl PaymentSelection {
    pub fn form_value(&self) -> String {
        format!("{}:{}", self.gateway, self.method)
    }

    pub fn renew_key(&mut self, key: IdempotencyKey) {
        self.idempotency_key = key;
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentStatus {
    /// Nothing received yet (cash on delivery, cash in advance).
    Pending,
    Authorized,
    Captured,
    Cancelled,
    Refunded,
}

impl PaymentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Authorized => "authorized",
            Self::Captured => "captured",
            Self::Cancelled => "cancelled",
            Self::Refunded => "refunded",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [
            Self::Pending,
            Self::Authorized,
            Self::Captured,
            Self::Cancelled,
            Self::Refunded,
        ]
        .into_iter()
        .find(|s| s.as_str() == raw)
    }
}
