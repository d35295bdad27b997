//! Which mails a shopper gets, and when. A mail is queued in the
//! transaction of the change that causes it and sent later by the mail
//! worker; the rules here decide which changes cause which mails.

use super::order::OrderStatus;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MailKind {
    OrderConfirmation,
    /// How to pay an order that waits for its money (transfer, store).
    PaymentInstructions,
    /// The money of an order that waited for it arrived.
    PaymentReceived,
    /// A delivery left the warehouse; its reference is the delivery.
    Shipped,
    /// A delivery arrived; its reference is the delivery.
    Delivered,
    /// Its reference says why: see [`CancelReason`].
    Cancelled,
    /// Money went back; its reference is the refund operation.
    RefundIssued,
    Welcome,
    /// Its reference is the reset request; the link is made when sending.
    PasswordReset,
}

super::stored_names!(MailKind {
    OrderConfirmation => "order_confirmation",
    PaymentInstructions => "payment_instructions",
    PaymentReceived => "payment_received",
    Shipped => "shipped",
    Delivered => "delivered",
    Cancelled => "cancelled",
    RefundIssued => "refund_issued",
    Welcome => "welcome",
    PasswordReset => "password_reset",
});

impl MailKind {
    /// Whether its text needs more of the order than the order itself:
    /// the deliveries (a parcel) or the payment operations (a refund).
    pub fn reads_fulfilment(self) -> bool {
        matches!(self, Self::Shipped | Self::Delivered | Self::RefundIssued)
    }

    /// What the back office calls it.
    pub fn label(self) -> &'static str {
        match self {
            Self::OrderConfirmation => "Order confirmation",
            Self::PaymentInstructions => "Payment instructions",
            Self::PaymentReceived => "Payment received",
            Self::Shipped => "Shipped",
            Self::Delivered => "Delivered",
            Self::Cancelled => "Order cancelled",
            Self::RefundIssued => "Refund issued",
            Self::Welcome => "Welcome",
            Self::PasswordReset => "Password reset",
        }
    }

    /// A mail whose text holds a secret: its content is kept without it and
    /// staff cannot send it again.
    pub fn holds_secret(self) -> bool {
        self == Self::PasswordReset
    }
}

/// Why an order was cancelled, as its cancellation mail says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelReason {
    /// The money did not arrive in time (transfer, convenience store).
    PaymentExpired,
    /// The shop cancelled it.
    ByShop,
}

super::stored_names!(CancelReason {
    PaymentExpired => "payment_expired",
    ByShop => "by_shop",
});

/// One mail to queue: its kind and what it is about, beyond the order or
/// account it belongs to. The pair is the mail's identity: a change that
/// runs twice queues it once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailRequest {
    pub kind: MailKind,
    pub reference: String,
}

impl MailRequest {
    pub fn new(kind: MailKind) -> Self {
        Self {
            kind,
            reference: String::new(),
        }
    }

    pub fn about(kind: MailKind, reference: impl Into<String>) -> Self {
        Self {
            kind,
            reference: reference.into(),
        }
    }

    pub fn cancelled(why: CancelReason) -> Self {
        Self::about(MailKind::Cancelled, why.as_str())
    }
}

/// Where a mail stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailStatus {
    Queued,
    Sent,
    /// Refused for good; the reason is kept.
    Failed,
    /// Not sent because it no longer applies (instructions for a payment
    /// that arrived first); the reason is kept.
    Withdrawn,
}

impl MailStatus {
    pub fn label(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Sent => "sent",
            Self::Failed => "failed",
            Self::Withdrawn => "not needed",
        }
    }
}

/// What a mail said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailContent {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// A mail as the shop keeps it.
#[derive(Debug, Clone)]
pub struct MailRecord {
    pub id: String,
    pub kind: MailKind,
    pub order_id: Option<String>,
    pub user_id: Option<String>,
    pub reference: String,
    pub recipient: String,
    pub recipient_name: String,
    pub status: MailStatus,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub actor: String,
    pub created_at: time::PrimitiveDateTime,
    pub sent_at: Option<time::PrimitiveDateTime>,
    /// What was sent, once it was (a secret link left out).
    pub content: Option<MailContent>,
}

impl MailRecord {
    /// The mail's line in an order's timeline: where it stands and why.
    pub fn state_text(&self) -> String {
        let what = format!("Mail “{}” to {}", self.kind.label(), self.recipient);
        match (self.status, &self.last_error) {
            (MailStatus::Sent, _) => format!("{what}: sent"),
            (MailStatus::Queued, None) => format!("{what}: queued"),
            (MailStatus::Queued, Some(error)) => format!(
                "{what}: queued, tried {} times, tried again later (last: {error})",
                self.attempts
            ),
            (MailStatus::Failed, error) => format!(
                "{what}: failed ({})",
                error.as_deref().unwrap_or("no reason given")
            ),
            (MailStatus::Withdrawn, why) => format!(
                "{what}: not sent, no longer needed ({})",
                why.as_deref().unwrap_or("no reason given")
            ),
        }
    }
}

/// The mails a settled order causes, from its status before and after:
/// every order the shop accepts is confirmed, one that waits for its money
/// says how to pay, and one whose money arrived says so.
pub fn mails_on_settle(before: OrderStatus, after: OrderStatus) -> Vec<MailRequest> {
    let mut mails = Vec::new();
    match after {
        OrderStatus::Placed | OrderStatus::Paid if before == OrderStatus::OnHold => {
            mails.push(MailRequest::new(MailKind::PaymentReceived));
        }
        OrderStatus::Placed | OrderStatus::Paid => {
            mails.push(MailRequest::new(MailKind::OrderConfirmation));
        }
        OrderStatus::OnHold => {
            mails.push(MailRequest::new(MailKind::OrderConfirmation));
            mails.push(MailRequest::new(MailKind::PaymentInstructions));
        }
        _ => {}
    }
    mails
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for &kind in MailKind::ALL {
            assert_eq!(MailKind::parse(kind.as_str()), Some(kind));
        }
        for &why in CancelReason::ALL {
            assert_eq!(CancelReason::parse(why.as_str()), Some(why));
        }
    }

    #[test]
    fn an_accepted_order_is_confirmed_once_and_a_waiting_one_says_how_to_pay() {
        let kinds = |before, after| -> Vec<MailKind> {
            mails_on_settle(before, after)
                .into_iter()
                .map(|m| m.kind)
                .collect()
        };
        use OrderStatus::*;
        assert_eq!(
            kinds(PendingPayment, Placed),
            vec![MailKind::OrderConfirmation]
        );
        // Cash on delivery is placed outright and settled as placed.
        assert_eq!(kinds(Placed, Placed), vec![MailKind::OrderConfirmation]);
        assert_eq!(
            kinds(PendingPayment, OnHold),
            vec![MailKind::OrderConfirmation, MailKind::PaymentInstructions]
        );
        assert_eq!(kinds(OnHold, Placed), vec![MailKind::PaymentReceived]);
        assert_eq!(kinds(OnHold, Paid), vec![MailKind::PaymentReceived]);
        assert!(kinds(PendingPayment, Cancelled).is_empty());
    }
}
