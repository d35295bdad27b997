//! The outbox worker, on every node: delivers committed domain events to
//! the registration API, each claimed by one worker at a time, retried with
//! backoff until it succeeds. Handlers are safe to run twice: confirming a
//! confirmed registration and deleting a deleted one change nothing. An
//! event that can never be delivered is kept as failed, with the reason.

use super::Shop;
use crate::domain::events::RegistrationEffect;
use crate::registration::RegistrationError;
use crate::store::outbox::{Delivered, Lane, OutboxItem};
use crate::store::registrations::RegistrationStatus;
use std::time::Duration;

/// Runs until the task is dropped.
pub async fn run(shop: Shop) {
    work(shop, Lane::Events).await
}

/// Claims and delivers the events of `lane` until the node stops (after
/// the delivery in hand) or the task is dropped.
pub(super) async fn work(shop: Shop, lane: Lane) {
    let worker = crate::ids::new_holder();
    let abandon_after = Duration::from_millis(shop.settings.registration.abandon_after_ms);
    let mut tick = super::stopping::ticks(Duration::from_millis(shop.settings.outbox.poll_ms));
    while shop.stopping.next_tick(&mut tick).await {
        if lane == Lane::Events
            && shop.registration.is_some()
            && let Err(e) = shop.store.abandon_stale_registrations(abandon_after).await
        {
            tracing::warn!(error = %e, "could not look for abandoned registrations");
        }
        // A full batch may not be all: the next is claimed at once.
        while deliver_batch(&shop, lane, &worker).await && !shop.stopping.is_set() {}
    }
}

/// Claims a batch of `lane`'s events and delivers them; whether the batch
/// was full.
async fn deliver_batch(shop: &Shop, lane: Lane, worker: &str) -> bool {
    let settings = &shop.settings.outbox;
    let batch = i64::from(settings.batch);
    let items = match shop
        .store
        .claim_outbox(worker, lane, Duration::from_millis(settings.lock_ms), batch)
        .await
    {
        Ok(items) => items,
        Err(e) => {
            tracing::warn!(error = %e, "could not claim outbox events");
            return false;
        }
    };
    let full = !items.is_empty() && items.len() as i64 >= batch;
    // The events' deliveries are safe to repeat: the batch's are marked
    // done together, in one commit at its end (a crash before it delivers
    // them again). A mail is marked sent as soon as it went out.
    let mut delivered_events: Vec<(String, Delivered)> = Vec::new();
    let mut items = items.into_iter();
    for item in items.by_ref() {
        let outcome = match lane {
            Lane::Events => deliver(shop, &item, &delivered_events).await,
            Lane::Mail => super::mail::deliver(shop, &item).await,
        };
        let saved = match outcome {
            Ok(delivered) if lane == Lane::Events => {
                crate::crash::point("outbox.delivered");
                delivered_events.push((item.id.clone(), delivered));
                Ok(())
            }
            Ok(delivered) => {
                shop.store
                    .outbox_done(&[(item.id.clone(), delivered)], worker)
                    .await
            }
            Err(Undelivered::Later(error)) => {
                let wait = backoff(settings, item.attempts);
                tracing::info!(event = %item.id, kind = item.kind.as_str(), %error, ?wait, "event delivery retried later");
                shop.store
                    .outbox_retry(&item.id, worker, &error, wait)
                    .await
            }
            Err(Undelivered::Never(reason)) => {
                tracing::error!(event = %item.id, kind = item.kind.as_str(), %reason, "event can never be delivered; kept as failed");
                shop.store.outbox_failed(&item.id, worker, &reason).await
            }
        };
        if let Err(e) = saved {
            tracing::warn!(event = %item.id, error = %e, "outbox state not saved; the event runs again");
        }
        if shop.stopping.is_set() {
            break;
        }
    }
    if let Err(e) = shop.store.outbox_done(&delivered_events, worker).await {
        tracing::warn!(events = delivered_events.len(), error = %e, "outbox events not marked done; they run again");
    }
    // Stopping: what is claimed but not begun is another node's at once.
    let rest: Vec<String> = items.map(|item| item.id).collect();
    if !rest.is_empty()
        && let Err(e) = shop.store.release_outbox_claims(&rest, worker).await
    {
        tracing::warn!(error = %e, "outbox claims not released; they run out by themselves");
    }
    full
}

fn backoff(settings: &crate::config::OutboxSettings, attempts: i64) -> Duration {
    let factor = 2u64.saturating_pow(attempts.clamp(0, 20) as u32);
    Duration::from_millis(
        settings
            .retry_base_ms
            .saturating_mul(factor)
            .min(settings.retry_max_ms),
    )
}

/// Why an event was not delivered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(super) enum Undelivered {
    /// A service did not answer: tried again after a backoff.
    #[error("{0}")]
    Later(String),
    /// Retrying cannot help: kept as failed, with the reason.
    #[error("{0}")]
    Never(String),
}

/// What one event means for the outside world. `earlier`: what the events
/// delivered before it in the same batch, not yet recorded, left.
async fn deliver(
    shop: &Shop,
    item: &OutboxItem,
    earlier: &[(String, Delivered)],
) -> Result<Delivered, Undelivered> {
    let effect = item.kind.registration_effect();
    match effect {
        RegistrationEffect::None => {
            return deliver_operation(shop, item)
                .await
                .map(|()| Delivered::Plain);
        }
        RegistrationEffect::OrderState => {
            return deliver_order_state(shop, item)
                .await
                .map(|()| Delivered::Plain);
        }
        RegistrationEffect::Confirm | RegistrationEffect::Delete => {}
    }
    let (Some(api), Some(registration_id)) = (&shop.registration, &item.payload.registration_id)
    else {
        return Ok(Delivered::Plain);
    };
    // Another event of the same change got there first (an expiry both
    // cancels the order and the payment), recorded or earlier in this
    // batch: nothing to call again.
    let known = shop
        .store
        .registration_status(registration_id)
        .await
        .map_err(|e| Undelivered::Later(e.to_string()))?;
    let done = match effect {
        RegistrationEffect::Confirm => RegistrationStatus::Confirmed,
        _ => RegistrationStatus::Deleted,
    };
    let done_in_batch = earlier.iter().any(|(_, delivered)| {
        matches!(delivered, Delivered::Registration { registration_id: id, status }
            if id == registration_id && *status == done)
    });
    if known == Some(done) || done_in_batch {
        return Ok(Delivered::Plain);
    }
    let result = match effect {
        RegistrationEffect::Confirm => api
            .confirm(registration_id)
            .await
            .map(|()| RegistrationStatus::Confirmed),
        _ => api
            .delete(registration_id)
            .await
            .map(|()| RegistrationStatus::Deleted),
    };
    match result {
        Ok(status) => Ok(Delivered::Registration {
            registration_id: registration_id.clone(),
            status,
        }),
        // A paying buyer whose registration is gone: a person must look.
        Err(RegistrationError::Gone) => Err(Undelivered::Never(format!(
            "registration {registration_id} no longer exists at the customer system; it cannot be confirmed"
        ))),
        Err(e) => Err(Undelivered::Later(e.to_string())),
    }
}

/// A capture, release or refund the request that asked for it could not
/// finish: sent again until the provider answers.
async fn deliver_operation(shop: &Shop, item: &OutboxItem) -> Result<(), Undelivered> {
    let Some(operation) = &item.payload.operation else {
        return Ok(());
    };
    match super::fulfilment::send_operation(shop, operation).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(super::fulfilment::SendLater(error))) => Err(Undelivered::Later(error)),
        Err(error) => Err(Undelivered::Later(error.to_string())),
    }
}

/// The customer system hears that the order was shipped, delivered or
/// refunded; the event id makes a repeat harmless.
async fn deliver_order_state(shop: &Shop, item: &OutboxItem) -> Result<(), Undelivered> {
    let (Some(api), Some(registration_id), Some(order_id)) = (
        &shop.registration,
        &item.payload.registration_id,
        &item.payload.order_id,
    ) else {
        return Ok(());
    };
    let number = shop
        .store
        .order_number(order_id)
        .await
        .map_err(|e| Undelivered::Later(e.to_string()))?
        .unwrap_or_default();
    let state = crate::registration::wire::OrderState {
        order: number,
        state: item.kind.as_str().trim_start_matches("order.").to_owned(),
        event: item.id.clone(),
    };
    match api.order_state(registration_id, &state).await {
        Ok(()) => Ok(()),
        Err(RegistrationError::Gone) => Err(Undelivered::Never(format!(
            "registration {registration_id} no longer exists at the customer system"
        ))),
        Err(e) => Err(Undelivered::Later(e.to_string())),
    }
}
