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
}

impl EventKind {
    pub const ALL: [EventKind; 7] = [
        Self::PaymentAuthorized,
        Self::PaymentCaptured,
        Self::PaymentFailed,
        Self::PaymentExpired,
        Self::OrderPlaced,
        Self::OrderCancelled,
        Self::RegistrationAbandoned,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::PaymentAuthorized => "payment.authorized",
            Self::PaymentCaptured => "payment.captured",
            Self::PaymentFailed => "payment.failed",
            Self::PaymentExpired => "payment.expired",
            Self::OrderPlaced => "order.placed",
            Self::OrderCancelled => "order.cancelled",
            Self::RegistrationAbandoned => "registration.abandoned",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == raw)
    }

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
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistrationEffect {
    Confirm,
    Delete,
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_effects_follow_the_payment() {
        for kind in EventKind::ALL {
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
