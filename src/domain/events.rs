//! Domain events: facts the rest of the world hears about after they are
//! committed, through the outbox.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventKind {
    PaymentAuthorized,
    PaymentCaptured,
    PaymentFailed,
    PaymentExpired,
    OrderPlaced,
    OrderCancelled,
    /// A registration replaced by one for another email, or left behind by
    /// a checkout that was never paid.
    RegistrationAbandoned,
    OrderShipped,
    OrderDelivered,
    OrderRefunded,
    /// A capture, release or refund to send to the payment provider.
    PaymentOperation,
    /// A mail to send to a shopper; the mail worker's alone.
    Mail,
}

super::stored_names!(EventKind {
    PaymentAuthorized => "payment.authorized",
    PaymentCaptured => "payment.captured",
    PaymentFailed => "payment.failed",
    PaymentExpired => "payment.expired",
    OrderPlaced => "order.placed",
    OrderCancelled => "order.cancelled",
    RegistrationAbandoned => "registration.abandoned",
    OrderShipped => "order.shipped",
    OrderDelivered => "order.delivered",
    OrderRefunded => "order.refunded",
    PaymentOperation => "payment.operation",
    Mail => "mail.send",
});

impl EventKind {
    /// What the buyer's registration needs after this event.
    pub fn registration_effect(self) -> RegistrationEffect {
        match self {
            // An order placed outright (cash on delivery, free) is as good
            // as a payment.
            Self::PaymentAuthorized | Self::PaymentCaptured | Self::OrderPlaced => {
                RegistrationEffect::Confirm
            }
            Self::PaymentFailed
            | Self::PaymentExpired
            | Self::OrderCancelled
            | Self::RegistrationAbandoned => RegistrationEffect::Delete,
            Self::OrderShipped | Self::OrderDelivered | Self::OrderRefunded => {
                RegistrationEffect::OrderState
            }
            Self::PaymentOperation | Self::Mail => RegistrationEffect::None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistrationEffect {
    Confirm,
    Delete,
    /// The customer system hears of the order's new state.
    OrderState,
    None,
}

/// What a handler needs beyond the cart.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventPayload {
    pub order_id: Option<String>,
    /// The buyer's registration of the attempt the event belongs to.
    pub registration_id: Option<String>,
    /// The attempt (its idempotency key), for events about a payment.
    #[serde(default)]
    pub attempt: Option<String>,
    /// The payment operation to send, for `payment.operation`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    /// The mail to send, for `mail.send`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mail: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_effects_follow_the_payment() {
        for &kind in EventKind::ALL {
            assert_eq!(EventKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(
            EventKind::PaymentCaptured.registration_effect(),
            RegistrationEffect::Confirm
        );
        assert_eq!(
            EventKind::PaymentExpired.registration_effect(),
            RegistrationEffect::Delete
        );
        assert_eq!(
            EventKind::OrderPlaced.registration_effect(),
            RegistrationEffect::Confirm
        );
    }
}
