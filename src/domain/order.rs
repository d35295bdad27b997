//! A placed order: its readable number and its status.

use super::checkout::CheckoutDetails;
use super::money::Money;
use super::payment::{IdempotencyKey, PaymentStatus};
use super::placeorder::PlacedOrder;
use super::pricing::Totals;
use std::fmt;

/// The number printed on the confirmation, e.g. K-000123.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderNumber(String);

impl OrderNumber {
    pub fn from_sequence(n: i64) -> Self {
        Self(format!("K-{n:06}"))
    }

    pub fn parse(raw: &str) -> Option<Self> {
        let digits = raw.strip_prefix("K-")?;
        (digits.len() >= 6 && digits.bytes().all(|b| b.is_ascii_digit()))
            .then(|| Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for OrderNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An order as its confirmation link names it: its number and the secret
/// of the link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderRef {
    pub number: String,
    pub token: String,
}

impl From<PlacedOrder> for OrderRef {
    fn from(order: PlacedOrder) -> Self {
        Self {
            number: order.number,
            token: order.token,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum OrderStatus {
    /// Placed before its payment completed (early place order).
    PendingPayment,
    /// Accepted; goods will ship (cash on delivery, free orders).
    Placed,
    /// Waiting for the money before anything ships (cash in advance).
    OnHold,
    /// Some of the money is taken (a first delivery was delivered).
    PartiallyPaid,
    Paid,
    /// Every line has left the warehouse.
    Shipped,
    /// Every line delivered and paid.
    Completed,
    Cancelled,
    /// Every payment taken was paid back.
    Refunded,
}

super::stored_names!(OrderStatus {
    PendingPayment => "pending_payment",
    Placed => "placed",
    OnHold => "on_hold",
    PartiallyPaid => "partially_paid",
    Paid => "paid",
    Shipped => "shipped",
    Completed => "completed",
    Cancelled => "cancelled",
    Refunded => "refunded",
});

impl OrderStatus {
    pub fn label(self) -> &'static str {
        match self {
            Self::PendingPayment => "Waiting for the payment",
            Self::Placed => "Placed",
            Self::OnHold => "On hold until payment arrives",
            Self::PartiallyPaid => "Partially paid",
            Self::Paid => "Paid",
            Self::Shipped => "Shipped",
            Self::Completed => "Completed",
            Self::Cancelled => "Cancelled",
            Self::Refunded => "Refunded",
        }
    }

    /// Whether settling its payment may give an order in this status the
    /// status `to`: only while it waits for the payment's outcome, or as a
    /// repeat of that very settlement. An order that has moved on (shipped,
    /// paid, completed, refunded by the back office) keeps its status when
    /// a settlement comes late, e.g. from a place-order process resumed
    /// after its node died.
    pub fn may_settle_to(self, to: OrderStatus) -> bool {
        matches!(self, Self::PendingPayment | Self::OnHold) || self == to
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_order_waiting_for_its_payment_is_settled() {
        use OrderStatus::*;
        assert!(PendingPayment.may_settle_to(Placed));
        assert!(PendingPayment.may_settle_to(OnHold));
        assert!(OnHold.may_settle_to(Paid));
        assert!(
            Placed.may_settle_to(Placed),
            "cash on delivery, or a repeat"
        );
        for moved_on in [Shipped, Completed, PartiallyPaid, Refunded, Paid] {
            assert!(!moved_on.may_settle_to(Placed), "{moved_on:?}");
        }
        assert!(!Paid.may_settle_to(OnHold));
    }

    #[test]
    fn numbers_are_padded_and_parsed() {
        assert_eq!(OrderNumber::from_sequence(123).as_str(), "K-000123");
        assert_eq!(OrderNumber::from_sequence(1_234_567).as_str(), "K-1234567");
        assert!(OrderNumber::parse("K-000123").is_some());
        assert!(OrderNumber::parse("K-12").is_none());
        assert!(OrderNumber::parse("X-000123").is_none());
    }
}

/// A placed order as stored: a snapshot that later price changes don't touch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    pub id: String,
    pub cart_id: String,
    pub number: OrderNumber,
    /// The secret of the confirmation link.
    pub token: String,
    pub status: OrderStatus,
    pub details: CheckoutDetails,
    pub lines: Vec<OrderLine>,
    pub totals: Totals,
    pub shipping_method: String,
    pub payment: Option<Payment>,
    pub created_at: time::PrimitiveDateTime,
    /// Grows with every change of the order, its deliveries or its
    /// payment's money: a change is saved only at the version it was
    /// decided on.
    pub version: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderLine {
    pub product_id: String,
    pub name: String,
    pub quantity: i64,
    pub unit_price: Money,
    pub vat_rate_bp: i64,
    pub total: Money,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment {
    pub id: String,
    pub gateway: String,
    pub method: String,
    pub amount: Money,
    pub status: PaymentStatus,
    /// The provider's id of the payment.
    pub provider_reference: Option<String>,
    pub captured_minor: i64,
    pub refunded_minor: i64,
    /// The uncaptured rest of the reservation was released.
    pub released: bool,
}

/// How the gateway settled the payment of an order about to be placed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentPlan {
    pub gateway: String,
    pub method: String,
    pub idempotency_key: IdempotencyKey,
    pub payment_status: PaymentStatus,
    pub order_status: OrderStatus,
}
