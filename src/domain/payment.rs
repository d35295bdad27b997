//! The shopper's choice of how to pay, and the states of a payment.

use super::money::Money;
use super::order::OrderStatus;
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PaymentStatus {
    /// Started at the provider, nothing decided yet.
    Started,
    /// Nothing received yet (cash on delivery, cash in advance).
    Pending,
    Authorized,
    Captured,
    Cancelled,
    Refunded,
}

super::stored_names!(PaymentStatus {
    Started => "started",
    Pending => "pending",
    Authorized => "authorized",
    Captured => "captured",
    Cancelled => "cancelled",
    Refunded => "refunded",
});

/// One payment attempt as a gateway sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentRequest {
    pub gateway: String,
    pub method: String,
    pub amount: Money,
    pub idempotency_key: IdempotencyKey,
    /// The shop's reference for the attempt (the place-order process id).
    pub reference: String,
}

/// One money operation on a placed order's payment. The provider performs
/// it once per `key`; a repeat with the same key answers the first outcome
/// (success or refusal), so a call that got no answer is repeated with the
/// same key, and a new operation needs a new key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoneyOperation {
    /// The provider's id of the payment (`payments.provider_reference`);
    /// `None` for offline payments.
    pub provider_reference: Option<String>,
    pub key: String,
    /// For capture and refund: how much. For release: ignored (the whole
    /// uncaptured rest is released).
    pub amount: Money,
}

/// What a gateway answers when a payment flow starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentStart {
    /// Place the order before the payment completes (pending payment), so
    /// the provider can complete it without the shopper.
    pub early_place_order: bool,
    /// The provider's id of the payment, if it has one.
    pub provider_reference: Option<String>,
}

/// How an approved payment leaves the order and the payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settlement {
    pub payment_status: PaymentStatus,
    pub order_status: OrderStatus,
}

/// The state of a payment flow, as the gateway reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlowStatus {
    /// The shopper must act (for example pay at the provider).
    Unapproved(CustomerAction),
    /// The payment goes on without the shopper; ask again later.
    WaitingForCustomer,
    /// Authorized; the order may be placed.
    Approved(Settlement),
    /// Paid.
    Completed(Settlement),
    /// The provider refused; the message is for the shopper.
    Failed { reason: String },
    /// The provider cancelled the payment.
    Cancelled,
    /// The shopper broke the payment off.
    Aborted,
}

/// What the buyer of a placed order still has to do to pay for it, as the
/// order's gateway tells it. Either way the order number is the reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentInstructions {
    /// Transfer the total in advance to the shop's account within `days`;
    /// the goods ship when it arrives.
    TransferInAdvance { account: BankAccount, days: i64 },
    /// Pay the total at a convenience store within this many days, or the
    /// order is cancelled.
    PayInStore { days: i64 },
}

/// The shop's bank account, for transfers in advance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BankAccount {
    pub holder: String,
    pub iban: String,
    pub bic: String,
}

/// Whether `iban` (spaces allowed) has the form and check digits of an
/// IBAN (ISO 13616, mod 97).
pub fn iban_is_valid(iban: &str) -> bool {
    let compact: String = iban.chars().filter(|c| !c.is_whitespace()).collect();
    if !(15..=34).contains(&compact.len()) || !compact.chars().all(|c| c.is_ascii_alphanumeric()) {
        return false;
    }
    let (head, rest) = compact.split_at(4);
    let mut remainder = 0u32;
    for c in rest.chars().chain(head.chars()) {
        let Some(value) = c.to_digit(36) else {
            return false;
        };
        remainder = if value < 10 {
            (remainder * 10 + value) % 97
        } else {
            (remainder * 100 + value) % 97
        };
    }
    remainder == 1
}

/// The last day to pay an order placed at `placed` with `days` to pay, as
/// shoppers read it ("26 November 2026").
pub fn pay_by(placed: time::PrimitiveDateTime, days: i64) -> String {
    let day = (placed + time::Duration::days(days)).date();
    format!("{} {} {}", day.day(), day.month(), day.year())
}

/// What the shopper is shown for an unapproved payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CustomerAction {
    Redirect {
        url: String,
    },
    PostRedirect {
        url: String,
        fields: Vec<(String, String)>,
    },
    ShowHtml {
        html: String,
    },
    ShowIframe {
        url: String,
    },
}

impl CustomerAction {
    /// Refuses an action the shopper's browser must not be sent to: every
    /// address is a web address (never `javascript:` or `data:`).
    pub fn check(&self) -> Result<(), String> {
        let url = match self {
            Self::Redirect { url } | Self::PostRedirect { url, .. } | Self::ShowIframe { url } => {
                url
            }
            Self::ShowHtml { .. } => return Ok(()),
        };
        let lower = url.trim_start().to_ascii_lowercase();
        if lower.starts_with("https://") || lower.starts_with("http://") {
            Ok(())
        } else {
            Err(format!(
                "the payment provider asked to send the shopper to an unusable address '{url}'"
            ))
        }
    }
}
