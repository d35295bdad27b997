//! What the provider reports without the shopper: webhooks, and the
//! reconciliation job asking about payments nobody reported on. Every
//! report goes through the same completion path as the shopper's return:
//! the place-order process is refreshed and asks the provider's API, so an
//! event is a hint, never the truth itself.

use super::Shop;
use super::placeorder::{self, ProcessStatus};
use crate::application::error::{AppError, AppResult};
use crate::domain::actor::SYSTEM;
use crate::domain::order::OrderStatus;
use crate::domain::payment::FlowStatus;
use crate::domain::placeorder::coordinator::{Intake, intake};
use crate::payment::{GatewayError, signature};
use crate::store::orders::Cancellation;
use crate::store::payments::StoredPayment;
use serde::Deserialize;
use std::time::Duration;
use tokio::time::Instant;

/// A provider's event as it arrives in a webhook.
#[derive(Debug, Clone, Deserialize)]
pub struct ProviderEvent {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub session_id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventOutcome {
    Applied,
    /// Seen before: nothing done again.
    Duplicate,
    /// Not one of this shop's payments.
    Unknown,
    /// For an attempt that was replaced: it cannot touch the newer one.
    StaleAttempt,
}

/// The header a webhook carries its signature in.
pub const SIGNATURE_HEADER: &str = signature::HEADER;

/// What a webhook delivery came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Received {
    /// A bad or old signature: nothing changes.
    Refused,
    /// Signed, but not an event the shop can read.
    Unreadable,
    Applied(EventOutcome),
}

/// A webhook as delivered: its signature header and raw body. Only a body
/// signed with the shop's webhook secret, recently, is read. An error
/// means not applied yet: the provider must send it again.
pub async fn receive(shop: &Shop, signature_header: &str, body: &[u8]) -> AppResult<Received> {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    if let Err(e) = signature::verify(&shop.settings.webhook_secret(), signature_header, body, now)
    {
        tracing::warn!(reason = %e, "webhook refused");
        shop.metrics.webhook(match e {
            signature::SignatureError::Stale => "rejected_stale",
            _ => "rejected_signature",
        });
        return Ok(Received::Refused);
    }
    // A NUL character is junk that no database stores: unreadable.
    let event = serde_json::from_slice::<ProviderEvent>(body)
        .ok()
        .filter(|e| {
            ![&e.id, &e.kind, &e.session_id]
                .iter()
                .any(|s| s.contains('\0'))
        });
    let Some(event) = event else {
        shop.metrics.webhook("unreadable");
        return Ok(Received::Unreadable);
    };
    match apply(shop, &event).await {
        Ok(outcome) => {
            tracing::info!(event = %event.id, kind = %event.kind, ?outcome, "webhook");
            shop.metrics.webhook(match outcome {
                EventOutcome::Applied => "applied",
                EventOutcome::Duplicate => "duplicate",
                EventOutcome::Unknown => "unknown_payment",
                EventOutcome::StaleAttempt => "stale_attempt",
            });
            Ok(Received::Applied(outcome))
        }
        Err(e) => {
            tracing::warn!(event = %event.id, error = ?e, "webhook not applied; the provider sends it again");
            shop.metrics.webhook("failed");
            Err(e)
        }
    }
}

pub async fn apply(shop: &Shop, event: &ProviderEvent) -> AppResult<EventOutcome> {
    let Some(payment) = shop
        .store
        .payment_by_provider_reference(&event.session_id)
        .await?
    else {
        return Ok(EventOutcome::Unknown);
    };
    if shop.store.webhook_event_seen(&event.id).await? {
        return Ok(EventOutcome::Duplicate);
    }
    // Recorded once applied: an event that failed half-way is applied
    // again when the provider sends it again. Two copies arriving at once
    // both apply, which is harmless: settling is idempotent.
    let outcome = settle(shop, &payment).await?;
    crate::crash::point("webhook.applied");
    shop.store
        .record_webhook_event(&event.id, &event.kind, &event.session_id)
        .await?;
    Ok(outcome)
}

/// Brings a payment's process or order up to date with the provider.
pub async fn settle(shop: &Shop, payment: &StoredPayment) -> AppResult<EventOutcome> {
    let latest = shop.store.latest_process_of_cart(&payment.cart_id).await?;
    match intake(latest.as_ref(), &payment.process_id, payment.status) {
        Intake::StaleAttempt => {
            tracing::info!(process = %payment.process_id, "event for a replaced attempt ignored");
            return Ok(EventOutcome::StaleAttempt);
        }
        Intake::Refresh => {
            // Another request stepping it past the wait: not applied yet,
            // so the provider must send it again.
            if placeorder::refresh(shop, &payment.process_id).await? == ProcessStatus::Running {
                return Err(AppError::Unavailable("the process is busy".into()));
            }
        }
        Intake::SettleWaitingOrder => settle_waiting_order(shop, payment).await?,
        Intake::Nothing => {}
    }
    Ok(EventOutcome::Applied)
}

/// An order on hold for its money (convenience store): paid → placed;
/// expired or cancelled → cancelled, stock back, the cart open again.
async fn settle_waiting_order(shop: &Shop, payment: &StoredPayment) -> AppResult<()> {
    let Some(order_id) = &payment.order_id else {
        return Ok(());
    };
    let Some(gateway) = shop.gateways.get(&payment.request.gateway) else {
        return Ok(());
    };
    let status = gateway
        .flow_status(&payment.request)
        .await
        .map_err(|e| match e {
            GatewayError::Unavailable(m) | GatewayError::Refused(m) => AppError::Unavailable(m),
        })?;
    let key = Some(payment.request.idempotency_key.as_str());
    match status {
        FlowStatus::Completed(settlement) => {
            shop.store
                .settle_order(order_id, key, settlement, None)
                .await?;
            refund_if_cancelled(shop, order_id).await?;
        }
        FlowStatus::Failed { .. } | FlowStatus::Cancelled | FlowStatus::Aborted => {
            // One transaction: the payment, its order and the cart of that
            // order, never a cart a newer attempt froze.
            let payment_key = payment.request.idempotency_key.as_str();
            shop.store
                .cancel_order(order_id, Cancellation::PaymentExpired { payment_key })
                .await?;
            tracing::info!(order = %order_id, "unpaid order cancelled; cart open again");
        }
        _ => {}
    }
    Ok(())
}

/// Money that arrived for an order the shop cancelled while it waited
/// (a store payment made after staff cancelled) goes back at once. A
/// second report of the same payment finds nothing left to refund.
async fn refund_if_cancelled(shop: &Shop, order_id: &str) -> AppResult<()> {
    let Some(number) = shop.store.order_number(order_id).await? else {
        return Ok(());
    };
    let Some(sheet) = super::fulfilment::order_sheet(shop, &number).await? else {
        return Ok(());
    };
    let order = &sheet.stored.order;
    let refundable = sheet.ledger.refundable();
    if order.status != OrderStatus::Cancelled || refundable <= 0 {
        return Ok(());
    }
    let refund = super::fulfilment::Command::Refund {
        amount_minor: refundable,
    };
    let outcome = super::fulfilment::act(shop, &number, None, &refund, SYSTEM).await?;
    tracing::info!(order = %number, ?outcome, "money paid for a cancelled order is refunded");
    Ok(())
}

/// One pass of the reconciliation job: payments nobody reported on, the
/// ones asked about longest ago first. The pass stops at its time budget
/// (a hanging provider delays only this pass), and every payment asked
/// about is marked, so the next pass goes on with the others.
pub async fn reconcile(shop: &Shop) -> AppResult<()> {
    let age = Duration::from_millis(shop.settings.payment.hosted.reconcile_after_ms);
    let budget = Duration::from_millis(shop.settings.placeorder.reconcile_pass_ms);
    let deadline = Instant::now() + budget;
    for id in shop.store.resting_processes(age, 50).await? {
        let Some(left) = time_left(deadline) else {
            return Ok(());
        };
        tracing::info!(process = %id, "reconciling a payment nobody reported on");
        match tokio::time::timeout(left, placeorder::refresh(shop, &id)).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!(process = %id, error = ?e, "reconciliation must wait"),
            Err(_) => tracing::warn!(process = %id, "reconciliation out of time"),
        }
    }
    for payment in shop
        .store
        .waiting_payments(crate::payment::hosted::CODE, age, 50)
        .await?
    {
        let Some(left) = time_left(deadline) else {
            return Ok(());
        };
        // Marked before asking: a payment whose provider hangs goes to the
        // back of the queue instead of blocking the others.
        shop.store
            .payment_checked(payment.request.idempotency_key.as_str())
            .await?;
        let process = &payment.process_id;
        match tokio::time::timeout(left, settle_waiting_order(shop, &payment)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(%process, error = ?e, "reconciliation must wait"),
            Err(_) => tracing::warn!(%process, "reconciliation out of time"),
        }
    }
    Ok(())
}

/// What is left of a pass's budget; `None` once it is spent.
fn time_left(deadline: Instant) -> Option<Duration> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        tracing::info!("reconciliation pass out of time; the next one goes on");
        return None;
    }
    Some(left)
}

/// Runs reconciliation passes until the task is dropped, apart from the
/// sweeper, so a slow provider never delays the recovery of stalled
/// processes.
pub async fn run(shop: Shop) {
    let mut tick = super::stopping::ticks(Duration::from_millis(
        shop.settings.placeorder.sweep_interval_ms,
    ));
    while shop.stopping.next_tick(&mut tick).await {
        if let Err(e) = reconcile(&shop).await {
            tracing::warn!(error = ?e, "reconciliation could not run");
        }
    }
}
