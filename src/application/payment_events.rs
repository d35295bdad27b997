//! What the provider reports without the shopper: webhooks, and the
//! reconciliation job asking about payments nobody reported on. Every
//! report goes through the same completion path as the shopper's return:
//! the place-order process is refreshed and asks the provider's API, so an
//! event is a hint, never the truth itself.

use super::Shop;
use super::placeorder::{self, ProcessStatus};
use crate::domain::events::EventKind;
use crate::domain::payment::{FlowStatus, PaymentStatus};
use crate::domain::placeorder::State;
use crate::error::{AppError, AppResult};
use crate::payment::GatewayError;
use crate::store::payments::StoredPayment;
use serde::Deserialize;

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
    shop.store
        .record_webhook_event(&event.id, &event.kind)
        .await?;
    Ok(outcome)
}

/// Brings a payment's process or order up to date with the provider.
pub async fn settle(shop: &Shop, payment: &StoredPayment) -> AppResult<EventOutcome> {
    let latest = shop.store.latest_process_of_cart(&payment.cart_id).await?;
    if latest.as_ref().is_none_or(|p| p.id != payment.process_id) {
        tracing::info!(process = %payment.process_id, "event for a replaced attempt ignored");
        return Ok(EventOutcome::StaleAttempt);
    }
    let process = shop
        .store
        .process(&payment.process_id)
        .await?
        .ok_or(AppError::NotFound)?;
    if !process.state.is_final() {
        // Another request stepping it past the wait: not applied yet, so
        // the provider must send it again.
        if placeorder::refresh(shop, &process.id).await? == ProcessStatus::Running {
            return Err(AppError::Unavailable("the process is busy".into()));
        }
        return Ok(EventOutcome::Applied);
    }
    if process.state == State::Success && payment.status == PaymentStatus::Pending {
        settle_waiting_order(shop, payment).await?;
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
                .settle_order(
                    order_id,
                    key,
                    settlement.payment_status,
                    settlement.order_status,
                )
                .await?;
        }
        FlowStatus::Failed { .. } | FlowStatus::Cancelled | FlowStatus::Aborted => {
            // Cart first: the payment's status is what makes this run
            // again, so it changes last.
            shop.store.cancel_order(order_id).await?;
            shop.store.reopen_cart(&payment.cart_id).await?;
            shop.store
                .record_payment_cancelled(
                    payment.request.idempotency_key.as_str(),
                    EventKind::PaymentExpired,
                )
                .await?;
            tracing::info!(order = %order_id, "unpaid order cancelled; cart open again");
        }
        _ => {}
    }
    Ok(())
}

/// The reconciliation job: payments nobody reported on for a while.
pub async fn reconcile(shop: &Shop) -> AppResult<()> {
    let age = std::time::Duration::from_millis(shop.settings.payment.hosted.reconcile_after_ms);
    for id in shop.store.resting_processes(age, 50).await? {
        tracing::info!(process = %id, "reconciling a payment nobody reported on");
        if let Err(e) = placeorder::refresh(shop, &id).await {
            tracing::warn!(process = %id, error = ?e, "reconciliation must wait");
        }
    }
    for payment in shop
        .store
        .waiting_payments(crate::payment::hosted::CODE, age)
        .await?
    {
        if let Err(e) = settle_waiting_order(shop, &payment).await {
            tracing::warn!(process = %payment.process_id, error = ?e, "reconciliation must wait");
        }
    }
    Ok(())
}
