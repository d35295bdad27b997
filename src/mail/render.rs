//! The text of each mail, from the askama templates in `templates/mail/`:
//! plain text and HTML from the same data, shopper text escaped in HTML.

use crate::domain::mail::{CancelReason, MailKind};
use crate::domain::money::Money;
use crate::domain::order::Order;
use askama::Template;

/// Who sends: the shop's name, postal address and web address.
#[derive(Debug, Clone)]
pub struct Sender<'a> {
    pub name: &'a str,
    pub address: &'a str,
    pub url: &'a str,
}

/// How to pay an order that waits for its money.
#[derive(Debug, Clone)]
pub enum HowToPay {
    Transfer {
        holder: String,
        iban: String,
        bic: String,
        days: i64,
    },
    InStore {
        days: i64,
        deadline: String,
    },
}

/// The goods of one delivery.
#[derive(Debug, Clone)]
pub struct Parcel {
    pub carrier: Option<String>,
    pub tracking_number: Option<String>,
    /// (quantity, name)
    pub lines: Vec<(i64, String)>,
}

/// What a mail says beyond its greeting and footer.
#[derive(Debug, Clone)]
pub enum Body<'a> {
    OrderConfirmation {
        order: &'a Order,
        payment_method: String,
        how_to_pay: Option<HowToPay>,
    },
    PaymentInstructions {
        order: &'a Order,
        how_to_pay: HowToPay,
    },
    PaymentReceived {
        order: &'a Order,
    },
    Shipped {
        order: &'a Order,
        parcel: Parcel,
    },
    Delivered {
        order: &'a Order,
        parcel: Parcel,
    },
    Cancelled {
        order: &'a Order,
        reason: CancelReason,
    },
    RefundIssued {
        order: &'a Order,
        amount: Money,
    },
    Welcome {
        email: &'a str,
    },
    PasswordReset {
        link: &'a str,
        minutes: i64,
    },
}

impl Body<'_> {
    pub fn kind(&self) -> MailKind {
        match self {
            Self::OrderConfirmation { .. } => MailKind::OrderConfirmation,
            Self::PaymentInstructions { .. } => MailKind::PaymentInstructions,
            Self::PaymentReceived { .. } => MailKind::PaymentReceived,
            Self::Shipped { .. } => MailKind::Shipped,
            Self::Delivered { .. } => MailKind::Delivered,
            Self::Cancelled { .. } => MailKind::Cancelled,
            Self::RefundIssued { .. } => MailKind::RefundIssued,
            Self::Welcome { .. } => MailKind::Welcome,
            Self::PasswordReset { .. } => MailKind::PasswordReset,
        }
    }

    fn order(&self) -> Option<&Order> {
        match self {
            Self::OrderConfirmation { order, .. }
            | Self::PaymentInstructions { order, .. }
            | Self::PaymentReceived { order }
            | Self::Shipped { order, .. }
            | Self::Delivered { order, .. }
            | Self::Cancelled { order, .. }
            | Self::RefundIssued { order, .. } => Some(order),
            Self::Welcome { .. } | Self::PasswordReset { .. } => None,
        }
    }
}

/// One mail, ready to render.
#[derive(Debug, Clone)]
pub struct Letter<'a> {
    pub sender: Sender<'a>,
    /// Whom to greet; empty: no name.
    pub greeting_name: &'a str,
    /// The order's own page (its confirmation link), for order mails.
    pub order_link: Option<&'a str>,
    pub body: Body<'a>,
}

/// A rendered mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

#[derive(Template)]
#[template(path = "mail/mail.txt", whitespace = "preserve")]
struct TextMail<'a> {
    letter: &'a Letter<'a>,
}

#[derive(Template)]
#[template(path = "mail/mail.html")]
struct HtmlMail<'a> {
    letter: &'a Letter<'a>,
    subject: &'a str,
}

/// Subject, plain text and HTML of `letter`.
pub fn render(letter: &Letter<'_>) -> askama::Result<Rendered> {
    let subject = subject(letter);
    let text = TextMail { letter }.render()?;
    let html = HtmlMail {
        letter,
        subject: &subject,
    }
    .render()?;
    Ok(Rendered {
        subject,
        text,
        html,
    })
}

fn subject(letter: &Letter<'_>) -> String {
    let shop = letter.sender.name;
    let number = letter
        .body
        .order()
        .map(|o| o.number.as_str().to_owned())
        .unwrap_or_default();
    match &letter.body {
        Body::OrderConfirmation { .. } => format!("Your order {number} at {shop}"),
        Body::PaymentInstructions { .. } => format!("How to pay for order {number}"),
        Body::PaymentReceived { .. } => format!("Payment received for order {number}"),
        Body::Shipped { .. } => format!("Order {number} is on its way"),
        Body::Delivered { .. } => format!("Order {number} was delivered"),
        Body::Cancelled { .. } => format!("Order {number} was cancelled"),
        Body::RefundIssued { amount, .. } => format!("Refund of {amount} for order {number}"),
        Body::Welcome { .. } => format!("Welcome to {shop}"),
        Body::PasswordReset { .. } => format!("Set a new password at {shop}"),
    }
}
