//! The mail worker: sends each queued mail once, from the order as it is
//! when sent. A server that does not confirm the mail gets it again after a
//! backoff; one that refuses it for good leaves it failed, with the reason,
//! for staff to see and send again.

use super::Shop;
use super::error::{AppError, AppResult};
use super::outbox::Undelivered;
use crate::domain::fulfilment::StaffOrder;
use crate::domain::mail::{CancelReason, MailKind};
use crate::domain::money::Money;
use crate::domain::payment::PaymentInstructions;
use crate::mail::render::{Body, HowToPay, Letter, Parcel, Sender, render};
use crate::mail::{OutgoingMail, SendError};
use crate::store::fulfilment::Timeline;
use crate::store::mail::{MailContent, MailRecord, MailStatus};
use crate::store::outbox::{Delivered, Lane, OutboxItem};

/// Runs until the task is dropped.
pub async fn run(shop: Shop) {
    super::outbox::work(shop, Lane::Mail).await
}

/// Sends the mail of one outbox event.
pub(super) async fn deliver(shop: &Shop, item: &OutboxItem) -> Result<Delivered, Undelivered> {
    let later = |e: AppError| Undelivered::Later(e.to_string());
    let Some(id) = &item.payload.mail else {
        return Ok(Delivered::Plain);
    };
    let Some(mail) = shop.store.mail(id).await.map_err(|e| later(e.into()))? else {
        return Ok(Delivered::Plain);
    };
    if mail.status != MailStatus::Queued {
        return Ok(Delivered::Plain);
    }
    let composed = match compose(shop, &mail).await.map_err(later)? {
        Ok(composed) => composed,
        Err(NotSent::Moot(why)) => {
            tracing::info!(mail = %mail.id, kind = mail.kind.as_str(), %why, "mail no longer needed");
            return shop
                .store
                .mail_withdrawn(&mail.id, &why)
                .await
                .map(|()| Delivered::Plain)
                .map_err(|e| later(e.into()));
        }
        Err(NotSent::Impossible(reason)) => {
            give_up(shop, &mail, &reason).await;
            return Err(Undelivered::Never(reason));
        }
    };
    let started = std::time::Instant::now();
    let sent = shop.mailer.send(&composed.outgoing).await;
    let outcome = match &sent {
        Ok(()) => "ok",
        Err(SendError::Transient(_)) => "failed",
        Err(SendError::Permanent(_)) => "refused",
    };
    shop.metrics
        .call(crate::metrics::Peer::Mail, outcome, started.elapsed());
    match sent {
        Ok(()) => {
            crate::crash::point("mail.sent");
            tracing::info!(mail = %mail.id, kind = mail.kind.as_str(), "mail sent");
            Ok(Delivered::MailSent {
                mail_id: mail.id,
                content: composed.kept,
            })
        }
        Err(SendError::Transient(error)) => {
            if let Err(e) = shop.store.mail_not_sent(&mail.id, &error, false).await {
                tracing::warn!(mail = %mail.id, error = %e, "could not note the failed try");
            }
            Err(Undelivered::Later(error))
        }
        Err(SendError::Permanent(error)) => {
            give_up(shop, &mail, &error).await;
            Err(Undelivered::Never(error))
        }
    }
}

async fn give_up(shop: &Shop, mail: &MailRecord, reason: &str) {
    if let Err(e) = shop.store.mail_not_sent(&mail.id, reason, true).await {
        tracing::warn!(mail = %mail.id, error = %e, "could not mark the mail failed");
    }
}

/// Why a queued mail is not sent.
enum NotSent {
    /// It no longer applies (how to pay an order that is paid by now).
    Moot(String),
    /// It can never be written (its order is gone).
    Impossible(String),
}

impl From<String> for NotSent {
    fn from(reason: String) -> Self {
        Self::Impossible(reason)
    }
}

/// A mail ready to go, and what is kept of it (a secret link left out).
struct Composed {
    outgoing: OutgoingMail,
    kept: MailContent,
}

/// The mail's text from the order or account as it is now; `Err` with the
/// reason when it is not to be sent.
async fn compose(shop: &Shop, mail: &MailRecord) -> AppResult<Result<Composed, NotSent>> {
    let settings = &shop.settings;
    let sender = Sender {
        name: &settings.shop.name,
        address: &settings.shop.address,
        url: shop.public_url(),
    };
    let (rendered, kept, to_name) = match &mail.order_id {
        Some(order_id) => {
            let Some(order) = shop.store.order(order_id).await? else {
                return Ok(Err(format!("order {order_id} does not exist").into()));
            };
            let sheet = if mail.kind.reads_fulfilment() {
                shop.store.order_facts(order, Timeline::Actions).await?
            } else {
                StaffOrder::bare(order)
            };
            let billing = &sheet.order.details.billing;
            let name = format!("{} {}", billing.first_name, billing.last_name);
            let link = format!(
                "{}{}",
                shop.public_url(),
                super::orders::confirmation_path(sheet.order.number.as_str(), &sheet.order.token)
            );
            let body = match order_body(shop, mail, &sheet) {
                Ok(body) => body,
                Err(reason) => return Ok(Err(reason)),
            };
            let letter = Letter {
                sender,
                greeting_name: &name,
                order_link: Some(&link),
                body,
            };
            let rendered = render(&letter).map_err(|e| AppError::Internal(e.into()))?;
            (rendered.clone(), rendered, name)
        }
        None => match mail.kind {
            MailKind::Welcome => {
                let letter = Letter {
                    sender,
                    greeting_name: "",
                    order_link: None,
                    body: Body::Welcome {
                        email: &mail.recipient,
                    },
                };
                let rendered = render(&letter).map_err(|e| AppError::Internal(e.into()))?;
                (rendered.clone(), rendered, String::new())
            }
            MailKind::PasswordReset => {
                let link = super::password_reset::reset_link(shop, &mail.reference);
                let minutes = super::password_reset::RESET_LINK_MINUTES;
                let render_with = |link: &str| {
                    let letter = Letter {
                        sender: sender.clone(),
                        greeting_name: "",
                        order_link: None,
                        body: Body::PasswordReset { link, minutes },
                    };
                    render(&letter).map_err(|e| AppError::Internal(e.into()))
                };
                let sent = render_with(&link)?;
                let kept = render_with("(the link is not kept)")?;
                (sent, kept, String::new())
            }
            other => {
                return Ok(Err(
                    format!("a {} mail needs an order", other.as_str()).into()
                ));
            }
        },
    };
    let content = |r: crate::mail::render::Rendered| MailContent {
        subject: r.subject,
        text: r.text,
        html: r.html,
    };
    let sent = content(rendered);
    Ok(Ok(Composed {
        outgoing: OutgoingMail {
            message_id: mail.id.clone(),
            to_name,
            to_address: mail.recipient.clone(),
            subject: sent.subject.clone(),
            text: sent.text.clone(),
            html: sent.html.clone(),
        },
        kept: content(kept),
    }))
}

/// What an order mail says, from the order's facts now.
fn order_body<'a>(
    shop: &Shop,
    mail: &MailRecord,
    sheet: &'a StaffOrder,
) -> Result<Body<'a>, NotSent> {
    let order = &sheet.order;
    let parcel = || {
        let delivery = sheet
            .deliveries
            .iter()
            .find(|d| d.id == mail.reference)
            .ok_or_else(|| format!("delivery {} is not of this order", mail.reference))?;
        Ok::<_, String>(Parcel {
            carrier: delivery.carrier.clone(),
            tracking_number: delivery.tracking_number.clone(),
            lines: delivery
                .lines
                .iter()
                .filter_map(|&(position, quantity)| {
                    let line = order.lines.get(usize::try_from(position).ok()?)?;
                    Some((quantity, line.name.clone()))
                })
                .collect(),
        })
    };
    Ok(match mail.kind {
        MailKind::OrderConfirmation => Body::OrderConfirmation {
            order,
            payment_method: payment_method(shop, order),
            how_to_pay: how_to_pay(shop, order),
        },
        MailKind::PaymentInstructions => match how_to_pay(shop, order) {
            Some(how_to_pay) => Body::PaymentInstructions { order, how_to_pay },
            // Paid (or cancelled) before the mail went out: telling the
            // shopper how to pay would only confuse them.
            None => {
                return Err(NotSent::Moot(format!(
                    "the order is {} by now and needs no instructions",
                    order.status.label().to_lowercase()
                )));
            }
        },
        MailKind::PaymentReceived => Body::PaymentReceived { order },
        MailKind::Shipped => Body::Shipped {
            order,
            parcel: parcel()?,
        },
        MailKind::Delivered => Body::Delivered {
            order,
            parcel: parcel()?,
        },
        MailKind::Cancelled => Body::Cancelled {
            order,
            reason: CancelReason::parse(&mail.reference).unwrap_or(CancelReason::ByShop),
        },
        MailKind::RefundIssued => {
            let refund = sheet
                .operations
                .iter()
                .find(|op| op.id == mail.reference)
                .ok_or_else(|| format!("refund {} is not of this order", mail.reference))?;
            Body::RefundIssued {
                order,
                amount: Money::new(refund.amount_minor, order.totals.total.currency),
            }
        }
        MailKind::Welcome | MailKind::PasswordReset => {
            return Err(format!("a {} mail is not about an order", mail.kind.as_str()).into());
        }
    })
}

/// The payment method's name as the checkout offered it.
fn payment_method(shop: &Shop, order: &crate::domain::order::Order) -> String {
    match &order.payment {
        Some(payment) => super::back_office::payment_method_title(shop, payment),
        None => "Nothing to pay".into(),
    }
}

/// How to pay an order that waits for its money, as its gateway says.
fn how_to_pay(shop: &Shop, order: &crate::domain::order::Order) -> Option<HowToPay> {
    let gateway = shop.gateways.get(&order.payment.as_ref()?.gateway)?;
    Some(match gateway.instructions(order)? {
        PaymentInstructions::TransferInAdvance { account, days } => HowToPay::Transfer {
            holder: account.holder,
            iban: account.iban,
            bic: account.bic,
            days,
        },
        PaymentInstructions::PayInStore { days } => HowToPay::InStore {
            days,
            deadline: crate::domain::payment::pay_by(order.created_at, days),
        },
    })
}
