//! The back office's use cases on one order: deliveries, capture when a
//! delivery is delivered, capture by hand, cancel, refund, mark paid. The
//! buttons and the JSON API call the same `act`.
//!
//! Each command reads the order, decides with `domain::fulfilment`, and
//! saves with a compare-and-swap on the order's version. A staff form
//! names the version it showed, and a stale one is reported, never
//! overwritten; the API and the system decide again on the new state.
//! Money moves in two steps: the operation is saved as requested (with the
//! outbox event that retries it) in the same transaction as its cause,
//! then sent to the provider under its own id as idempotency key, and its
//! answer is saved once.

use super::Shop;
use super::error::{AppError, AppResult};
use crate::domain::actor::SYSTEM;
use crate::domain::events::EventKind;
use crate::domain::fulfilment::{
    self, Allowed, DeliveryLinesRefusal, DeliveryMove, DeliveryRefusal, DeliveryStatus, Ledger,
    LineProgress, MoneyArrives, MoneyRefusal, OperationKind, OperationStatus, OrderFacts,
    StaffOrder,
};
use crate::domain::mail::{CancelReason, MailKind, MailRequest};
use crate::domain::money::Money;
use crate::domain::order::OrderStatus;
use crate::domain::payment::{MoneyOperation, PaymentStatus};
use crate::ids::new_id;
use crate::payment::GatewayError;
use crate::store::StoreError;
use crate::store::fulfilment::{
    Answered, NewDelivery, NewOperation, OrderWrite, Timeline, Written,
};

/// An order as the back office shows it, with what may be done to it.
#[derive(Debug, Clone)]
pub struct OrderSheet {
    pub stored: StaffOrder,
    pub progress: Vec<LineProgress>,
    pub ledger: Ledger,
    pub money: MoneyArrives,
    pub allowed: Allowed,
}

/// What staff or a warehouse system asks of an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    CreateDelivery {
        lines: Vec<(i64, i64)>,
        carrier: Option<String>,
        tracking_number: Option<String>,
    },
    MoveDelivery {
        delivery_id: String,
        to: DeliveryStatus,
    },
    /// Capture the whole remainder of the reservation.
    Capture,
    Cancel,
    Refund {
        amount_minor: i64,
    },
    MarkPaid,
    MarkCollected,
    /// Cancel an order whose transfer never came (the background job).
    ExpireUnpaid,
}

/// Why a command did nothing; the text is for staff.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("{0}")]
    Lines(#[from] DeliveryLinesRefusal),
    #[error("{0}")]
    Delivery(#[from] DeliveryRefusal),
    #[error("{0}")]
    Money(#[from] MoneyRefusal),
    #[error("This order has no such delivery.")]
    NoSuchDelivery,
    #[error("This cannot be done to the order as it stands now ({0}).")]
    NotNow(&'static str),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Done,
    Refused(Refusal),
    /// The order changed since the version the form showed; nothing was
    /// saved. `by`: who changed it last.
    Stale {
        by: String,
    },
}

/// Bounded: each retry follows a change that someone else saved.
const ATTEMPTS: usize = 8;

/// The order as a page or the API shows it, with its whole timeline.
pub async fn order_sheet(shop: &Shop, number: &str) -> AppResult<Option<OrderSheet>> {
    read_sheet(shop, number, Timeline::Full).await
}

/// The order as a command decides on it: the webhooks and outbox rows of
/// the timeline are not read, as no decision needs them.
async fn facts_sheet(shop: &Shop, number: &str) -> AppResult<Option<OrderSheet>> {
    read_sheet(shop, number, Timeline::Actions).await
}

async fn read_sheet(shop: &Shop, number: &str, depth: Timeline) -> AppResult<Option<OrderSheet>> {
    Ok(shop
        .store
        .staff_order(number, depth)
        .await?
        .map(|stored| sheet(shop, stored)))
}

/// The order of a delivery, for the API's delivery endpoint.
pub async fn order_of_delivery(shop: &Shop, delivery_id: &str) -> AppResult<Option<String>> {
    Ok(shop.store.order_number_of_delivery(delivery_id).await?)
}

fn sheet(shop: &Shop, stored: StaffOrder) -> OrderSheet {
    let order = &stored.order;
    let lines: Vec<(i64, i64, i64)> = order
        .lines
        .iter()
        .enumerate()
        .map(|(i, l)| (i as i64, l.quantity, l.total.minor))
        .collect();
    let progress = fulfilment::progress(&lines, &stored.deliveries);
    let pending = |kind: OperationKind| -> i64 {
        stored
            .operations
            .iter()
            .filter(|o| o.kind == kind && o.status == OperationStatus::Requested)
            .map(|o| o.amount_minor)
            .sum()
    };
    let ledger = match &order.payment {
        Some(p) => Ledger {
            total: order.totals.total.minor,
            reserved: match p.status {
                PaymentStatus::Authorized | PaymentStatus::Captured | PaymentStatus::Refunded => {
                    p.amount.minor
                }
                _ => 0,
            },
            captured: p.captured_minor,
            refunded: p.refunded_minor,
            released: p.released,
            capturing: pending(OperationKind::Capture),
            refunding: pending(OperationKind::Refund),
        },
        None => Ledger {
            total: order.totals.total.minor,
            ..Ledger::default()
        },
    };
    let money = order
        .payment
        .as_ref()
        .and_then(|p| Some(shop.gateways.get(&p.gateway)?.money_arrives(&p.method)))
        .unwrap_or(MoneyArrives::ThroughProvider);
    let facts = facts(order.status, &ledger, &progress);
    let allowed = fulfilment::allowed(order.status, &facts, money);
    OrderSheet {
        stored,
        progress,
        ledger,
        money,
        allowed,
    }
}

fn facts(status: OrderStatus, ledger: &Ledger, progress: &[LineProgress]) -> OrderFacts {
    OrderFacts {
        ledger: *ledger,
        lines: progress.to_vec(),
        waits_for_money: status == OrderStatus::OnHold && ledger.paid() <= 0,
    }
}

/// Runs a command on the order `number`. With `version` (a staff form)
/// the order must still be at it; without (the API, the system) the
/// command is decided again on the new state when another change won.
pub async fn act(
    shop: &Shop,
    number: &str,
    version: Option<i64>,
    command: &Command,
    actor: &str,
) -> AppResult<Option<Outcome>> {
    act_naming(shop, number, version, command, actor, &new_id()).await
}

/// As `act`; a delivery it creates gets the id `new_delivery_id`, so the
/// caller can name it in its answer.
pub async fn act_naming(
    shop: &Shop,
    number: &str,
    version: Option<i64>,
    command: &Command,
    actor: &str,
    new_delivery_id: &str,
) -> AppResult<Option<Outcome>> {
    for _ in 0..ATTEMPTS {
        let Some(sheet) = facts_sheet(shop, number).await? else {
            return Ok(None);
        };
        if let Some(v) = version
            && v != sheet.stored.order.version
        {
            return Ok(Some(Outcome::Stale {
                by: last_actor(&sheet),
            }));
        }
        let write = match decide(&sheet, command, actor, new_delivery_id) {
            Ok(Some(write)) => write,
            Ok(None) => return Ok(Some(Outcome::Done)),
            Err(refusal) => return Ok(Some(Outcome::Refused(refusal))),
        };
        match shop.store.write_order(&write).await? {
            Written::Saved => {
                // Saved: whatever sending does now, the outbox sends again
                // until the provider answers.
                for operation in &write.operations {
                    match send_operation(shop, &operation.id).await {
                        Ok(Ok(())) => {}
                        Ok(Err(SendLater(error))) => {
                            tracing::info!(operation = %operation.id, %error, "payment operation sent again later")
                        }
                        Err(error) => {
                            tracing::warn!(operation = %operation.id, %error, "payment operation not sent yet")
                        }
                    }
                }
                return Ok(Some(Outcome::Done));
            }
            Written::Stale if version.is_some() => {
                let by = facts_sheet(shop, number)
                    .await?
                    .map(|s| last_actor(&s))
                    .unwrap_or_default();
                return Ok(Some(Outcome::Stale { by }));
            }
            Written::Stale => continue,
        }
    }
    Err(AppError::Unavailable(format!(
        "order {number} kept changing; nothing was saved"
    )))
}

/// Who last changed the order: the newest action of a person, a key or
/// the system (webhooks and outbox deliveries change nothing by
/// themselves).
fn last_actor(sheet: &OrderSheet) -> String {
    sheet
        .stored
        .timeline
        .iter()
        .rev()
        .find(|e| !matches!(e.kind.as_str(), "webhook" | "outbox"))
        .map(|e| e.actor.clone())
        .unwrap_or_else(|| "the system".into())
}

/// What the command changes, or `None` when it is done already (a repeat).
fn decide(
    sheet: &OrderSheet,
    command: &Command,
    actor: &str,
    new_delivery_id: &str,
) -> Result<Option<OrderWrite>, Refusal> {
    let order = &sheet.stored.order;
    let mut write = OrderWrite {
        order_id: order.id.clone(),
        version: order.version,
        actor: actor.to_owned(),
        ..OrderWrite::default()
    };
    let mut progress = sheet.progress.clone();
    let mut ledger = sheet.ledger;
    let currency = order.totals.total.currency;
    let money = |minor: i64| Money::new(minor, currency).to_string();
    let payment_id = order.payment.as_ref().map(|p| p.id.clone());
    let operation =
        |write: &mut OrderWrite, ledger: &mut Ledger, kind: OperationKind, amount: i64| {
            let Some(payment_id) = &payment_id else {
                return;
            };
            match kind {
                OperationKind::Capture => ledger.capturing += amount,
                OperationKind::Refund => ledger.refunding += amount,
                OperationKind::Release => {}
            }
            write.operations.push(NewOperation {
                id: new_id(),
                payment_id: payment_id.clone(),
                kind,
                amount_minor: amount,
            });
        };
    let allowed = sheet.allowed;
    match command {
        Command::CreateDelivery {
            lines,
            carrier,
            tracking_number,
        } => {
            if !allowed.create_delivery {
                return Err(Refusal::NotNow("nothing to deliver"));
            }
            let lines = fulfilment::check_delivery_lines(&progress, lines)?;
            let id = new_delivery_id.to_owned();
            let count: i64 = lines.iter().map(|(_, q)| q).sum();
            write.timeline.push((
                "delivery.created".into(),
                format!("Delivery {} created with {count} item(s)", short(&id)),
            ));
            write.new_delivery = Some(NewDelivery {
                id,
                lines,
                carrier: clean(carrier),
                tracking_number: clean(tracking_number),
            });
        }
        Command::MoveDelivery { delivery_id, to } => {
            let deliveries = &sheet.stored.deliveries;
            let delivery = deliveries
                .iter()
                .find(|d| d.id == *delivery_id)
                .ok_or(Refusal::NoSuchDelivery)?;
            if delivery.status.move_to(*to)? == DeliveryMove::AlreadyThere {
                return Ok(None);
            }
            if *to == DeliveryStatus::Delivered && order.status == OrderStatus::Cancelled {
                return Err(Refusal::NotNow("cancelled"));
            }
            write.delivery_moves.push((delivery_id.clone(), *to));
            write.timeline.push((
                format!("delivery.{to}"),
                format!("Delivery {} {to}", short(delivery_id)),
            ));
            let mut moved = deliveries.clone();
            if let Some(d) = moved.iter_mut().find(|d| d.id == *delivery_id) {
                d.status = *to;
            }
            let lines: Vec<(i64, i64, i64)> = progress
                .iter()
                .map(|l| (l.position, l.ordered, l.total_minor))
                .collect();
            if *to == DeliveryStatus::Delivered {
                let last = fulfilment::is_last_delivery(&progress, deliveries, delivery_id);
                let amount =
                    fulfilment::capture_on_delivery(&ledger, &progress, &delivery.lines, last);
                if amount > 0 {
                    operation(&mut write, &mut ledger, OperationKind::Capture, amount);
                    write.timeline.push((
                        "payment.capture_requested".into(),
                        format!(
                            "Capture of {} requested for the delivered goods",
                            money(amount)
                        ),
                    ));
                }
                write.outbox.push(EventKind::OrderDelivered);
                write
                    .mails
                    .push(MailRequest::about(MailKind::Delivered, delivery_id));
            } else if *to == DeliveryStatus::Shipped {
                write.outbox.push(EventKind::OrderShipped);
                write
                    .mails
                    .push(MailRequest::about(MailKind::Shipped, delivery_id));
            }
            progress = fulfilment::progress(&lines, &moved);
        }
        Command::Capture => {
            if !allowed.capture {
                return Err(Refusal::Money(MoneyRefusal::NothingToCapture));
            }
            let amount = ledger.capturable();
            ledger.check_capture(amount)?;
            operation(&mut write, &mut ledger, OperationKind::Capture, amount);
            write.timeline.push((
                "payment.capture_requested".into(),
                format!("Capture of {} requested", money(amount)),
            ));
        }
        Command::Refund { amount_minor } => {
            ledger.check_refund(*amount_minor)?;
            operation(
                &mut write,
                &mut ledger,
                OperationKind::Refund,
                *amount_minor,
            );
            write.timeline.push((
                "payment.refund_requested".into(),
                format!("Refund of {} requested", money(*amount_minor)),
            ));
        }
        Command::Cancel | Command::ExpireUnpaid => {
            if order.status == OrderStatus::Cancelled {
                return Ok(None);
            }
            // Marked paid meanwhile (its capture on its way): not expired.
            if *command == Command::ExpireUnpaid
                && (order.status != OrderStatus::OnHold || ledger.capturing > 0)
            {
                return Ok(None);
            }
            if !allowed.cancel {
                return Err(Refusal::NotNow("goods have left or it is finished"));
            }
            if ledger.capturable() > 0 {
                operation(&mut write, &mut ledger, OperationKind::Release, 0);
            }
            let refundable = ledger.refundable();
            if refundable > 0 {
                operation(&mut write, &mut ledger, OperationKind::Refund, refundable);
            }
            for delivery in sheet
                .stored
                .deliveries
                .iter()
                .filter(|d| d.status == DeliveryStatus::Created)
            {
                write
                    .delivery_moves
                    .push((delivery.id.clone(), DeliveryStatus::Cancelled));
            }
            write.restock = true;
            write.status = Some(OrderStatus::Cancelled);
            write.outbox.push(EventKind::OrderCancelled);
            let (why, reason) = match command {
                Command::ExpireUnpaid => (
                    "Order cancelled: not paid in time; stock back",
                    CancelReason::PaymentExpired,
                ),
                _ => ("Order cancelled, stock back", CancelReason::ByShop),
            };
            write.mails.push(MailRequest::cancelled(reason));
            write.timeline.push(("order.cancelled".into(), why.into()));
            return Ok(Some(write));
        }
        Command::MarkPaid | Command::MarkCollected => {
            let allowed_here = match command {
                Command::MarkPaid => allowed.mark_paid,
                _ => allowed.mark_collected,
            };
            if !allowed_here {
                return Err(Refusal::NotNow("nothing is waiting for this payment"));
            }
            let amount = ledger.total - ledger.paid() - ledger.capturing;
            operation(&mut write, &mut ledger, OperationKind::Capture, amount);
            let what = match command {
                Command::MarkPaid => {
                    write
                        .mails
                        .push(MailRequest::new(MailKind::PaymentReceived));
                    "Transfer received"
                }
                _ => "Cash on delivery collected",
            };
            write.timeline.push((
                "payment.received".into(),
                format!("{what}: {}", money(amount)),
            ));
        }
    }
    let facts = facts(order.status, &ledger, &progress);
    let status = fulfilment::derive_status(order.status, &facts);
    if status != order.status {
        write.status = Some(status);
    }
    Ok(Some(write))
}

fn clean(text: &Option<String>) -> Option<String> {
    text.as_deref()
        .map(|t| t.trim().chars().take(100).collect::<String>())
        .filter(|t| !t.is_empty())
}

fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

/// Why an operation was not sent; the outbox tries again later.
#[derive(Debug)]
pub struct SendLater(pub String);

/// Sends a requested operation to its provider and saves the answer once.
/// Done or answered already: nothing happens.
pub async fn send_operation(shop: &Shop, operation_id: &str) -> AppResult<Result<(), SendLater>> {
    let Some(to_send) = shop.store.operation_to_send(operation_id).await? else {
        return Ok(Ok(()));
    };
    if to_send.operation.status != OperationStatus::Requested {
        return Ok(Ok(()));
    }
    let Some(gateway) = shop.gateways.get(&to_send.gateway) else {
        return Err(AppError::Internal(anyhow::anyhow!(
            "payment gateway {} is not configured",
            to_send.gateway
        )));
    };
    let currency =
        crate::domain::money::Currency::parse(&to_send.currency).map_err(anyhow::Error::msg)?;
    let request = MoneyOperation {
        provider_reference: to_send.provider_reference.clone(),
        key: to_send.operation.id.clone(),
        amount: Money::new(to_send.operation.amount_minor, currency),
    };
    let kind = to_send.operation.kind;
    let answer = match kind {
        OperationKind::Capture => gateway.capture_amount(&request).await,
        OperationKind::Release => gateway.release(&request).await,
        OperationKind::Refund => gateway.refund_amount(&request).await,
    };
    crate::crash::point(match kind {
        OperationKind::Capture => "fulfilment.capture_answered",
        OperationKind::Release => "fulfilment.release_answered",
        OperationKind::Refund => "fulfilment.refund_answered",
    });
    let refused = match answer {
        Ok(()) => None,
        Err(GatewayError::Refused(reason)) => Some(reason),
        Err(GatewayError::Unavailable(e)) => return Ok(Err(SendLater(e))),
    };
    record_answer(shop, &to_send, refused).await?;
    Ok(Ok(()))
}

async fn record_answer(
    shop: &Shop,
    to_send: &crate::store::fulfilment::OperationToSend,
    refused: Option<String>,
) -> AppResult<()> {
    let operation = &to_send.operation;
    for _ in 0..ATTEMPTS {
        let Some(sheet) = facts_sheet(shop, &to_send.order_number).await? else {
            return Ok(());
        };
        let order = &sheet.stored.order;
        let currency = order.totals.total.currency;
        let amount = Money::new(operation.amount_minor, currency);
        let mut ledger = sheet.ledger;
        let mut write = OrderWrite {
            order_id: order.id.clone(),
            version: order.version,
            actor: operation.actor.clone(),
            answered: Some(Answered {
                operation_id: operation.id.clone(),
                payment_id: to_send.payment_id.clone(),
                kind: operation.kind,
                amount_minor: operation.amount_minor,
                refused: refused.clone(),
            }),
            ..OrderWrite::default()
        };
        match operation.kind {
            OperationKind::Capture => ledger.capturing -= operation.amount_minor,
            OperationKind::Refund => ledger.refunding -= operation.amount_minor,
            OperationKind::Release => {}
        }
        let detail = match (&refused, operation.kind) {
            (Some(reason), kind) => format!(
                "The provider refused the {} of {amount}: {reason}",
                kind.as_str()
            ),
            (None, OperationKind::Capture) => {
                ledger.captured += operation.amount_minor;
                format!("Captured {amount}")
            }
            (None, OperationKind::Refund) => {
                ledger.refunded += operation.amount_minor;
                write
                    .mails
                    .push(MailRequest::about(MailKind::RefundIssued, &operation.id));
                format!("Refunded {amount}")
            }
            (None, OperationKind::Release) => {
                ledger.released = true;
                "The rest of the reservation was released".into()
            }
        };
        let kind = match &refused {
            Some(_) => format!("payment.{}_refused", operation.kind.as_str()),
            None => format!("payment.{}", operation.kind.as_str()),
        };
        write.timeline.push((kind, detail));
        // A capture refused after the order was cancelled leaves money
        // reserved that the cancel could not release while the capture
        // was on its way: it is released now.
        if order.status == OrderStatus::Cancelled
            && refused.is_some()
            && operation.kind == OperationKind::Capture
            && ledger.capturable() > 0
        {
            write.operations.push(NewOperation {
                id: new_id(),
                payment_id: to_send.payment_id.clone(),
                kind: OperationKind::Release,
                amount_minor: 0,
            });
        }
        // Money taken after the order was cancelled goes back.
        if order.status == OrderStatus::Cancelled
            && refused.is_none()
            && operation.kind == OperationKind::Capture
        {
            write.operations.push(NewOperation {
                id: new_id(),
                payment_id: to_send.payment_id.clone(),
                kind: OperationKind::Refund,
                amount_minor: operation.amount_minor,
            });
            write.timeline.push((
                "payment.refund_requested".into(),
                format!("Refund of {amount} requested: captured after the order was cancelled"),
            ));
        }
        let status =
            fulfilment::derive_status(order.status, &facts(order.status, &ledger, &sheet.progress));
        if status != order.status {
            write.status = Some(status);
            if status == OrderStatus::Refunded {
                write.outbox.push(EventKind::OrderRefunded);
            }
        }
        match shop.store.write_order(&write).await {
            Ok(Written::Saved) => {
                for follow_up in &write.operations {
                    if let Ok(Err(SendLater(error))) =
                        Box::pin(send_operation(shop, &follow_up.id)).await
                    {
                        tracing::info!(operation = %follow_up.id, %error, "refund sent again later");
                    }
                }
                return Ok(());
            }
            Ok(Written::Stale) => continue,
            // Answered by another node first: counted once already.
            Err(StoreError::Conflict(_)) => return Ok(()),
            Err(e) => return Err(e.into()),
        }
    }
    Err(AppError::Unavailable(format!(
        "the answer to operation {} could not be saved; it is sent again",
        operation.id
    )))
}

/// Cancels the orders whose transfer in advance did not arrive within
/// `payment.offline.cash_in_advance_days`; run by every node's sweeper (the
/// order's version makes two nodes cancel it once).
pub async fn expire_unpaid_transfers(shop: &Shop) -> AppResult<usize> {
    let days = shop.settings.payment.offline.cash_in_advance_days;
    let cutoff = crate::clock::now() - time::Duration::days(days);
    // Only orders that wait for a transfer: the oldest orders on hold may
    // all wait for something else (a store payment the provider expires).
    let transfers: Vec<String> = shop
        .gateways
        .methods()
        .into_iter()
        .filter(|m| {
            shop.gateways
                .get(&m.gateway)
                .is_some_and(|g| g.money_arrives(&m.method) == MoneyArrives::TransferInAdvance)
        })
        .map(|m| m.method)
        .collect();
    if transfers.is_empty() {
        return Ok(0);
    }
    let mut cancelled = 0;
    for (number, gateway, method) in shop
        .store
        .orders_on_hold_since(cutoff, &transfers, 50)
        .await?
    {
        let transfer = shop
            .gateways
            .get(&gateway)
            .is_some_and(|g| g.money_arrives(&method) == MoneyArrives::TransferInAdvance);
        if !transfer {
            continue;
        }
        // One order that cannot be cancelled now does not hold up the rest.
        match act(shop, &number, None, &Command::ExpireUnpaid, SYSTEM).await {
            Ok(Some(Outcome::Done)) => {
                tracing::info!(order = %number, "cash in advance not paid in time; order cancelled");
                cancelled += 1;
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(order = %number, error = %e, "expiry must wait"),
        }
    }
    Ok(cancelled)
}
