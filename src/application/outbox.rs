//! The outbox worker, on every node: delivers committed domain events to
//! the registration API, each claimed by one worker at a time, retried with
//! backoff until it succeeds. Handlers are safe to run twice: confirming a
//! confirmed registration and deleting a deleted one change nothing.

use super::Shop;
use crate::domain::events::RegistrationEffect;
use crate::registration::RegistrationError;
use crate::store::outbox::OutboxItem;
use crate::store::registrations::RegistrationStatus;
use std::time::Duration;

/// Runs until the task is dropped.
pub async fn run(shop: Shop) {
    let settings = shop.settings.outbox.clone();
    let worker = format!("{}:{}", std::process::id(), uuid::Uuid::new_v4().simple());
    let abandon_after = Duration::from_millis(shop.settings.registration.abandon_after_ms);
    let mut tick = tokio::time::interval(Duration::from_millis(settings.poll_ms));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if shop.registration.is_some()
            && let Err(e) = shop.store.abandon_stale_registrations(abandon_after).await
        {
            tracing::warn!(error = %e, "could not look for abandoned registrations");
        }
        let items = match shop
            .store
            .claim_outbox(&worker, Duration::from_millis(settings.lock_ms), 20)
            .await
        {
            Ok(items) => items,
            Err(e) => {
                tracing::warn!(error = %e, "could not claim outbox events");
                continue;
            }
        };
        for item in items {
            let outcome = deliver(&shop, &item).await;
            let saved = match outcome {
                Ok(()) => shop.store.outbox_done(&item.id, &worker).await,
                Err(error) => {
                    let wait = backoff(&settings, item.attempts);
                    tracing::info!(event = %item.id, kind = item.kind.as_str(), %error, ?wait, "event delivery retried later");
                    shop.store
                        .outbox_retry(&item.id, &worker, &error, wait)
                        .await
                }
            };
            if let Err(e) = saved {
                tracing::warn!(event = %item.id, error = %e, "outbox state not saved; the event runs again");
            }
        }
    }
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

/// What one event means for the outside world.
async fn deliver(shop: &Shop, item: &OutboxItem) -> Result<(), String> {
    let (Some(api), Some(registration_id)) = (&shop.registration, &item.payload.registration_id)
    else {
        return Ok(());
    };
    let result = match item.kind.registration_effect() {
        RegistrationEffect::Confirm => api
            .confirm(registration_id)
            .await
            .map(|()| RegistrationStatus::Confirmed),
        RegistrationEffect::Delete => api
            .delete(registration_id)
            .await
            .map(|()| RegistrationStatus::Deleted),
    };
    match result {
        Ok(status) => shop
            .store
            .set_registration_status(registration_id, status)
            .await
            .map_err(|e| e.to_string()),
        // Deleted meanwhile: nothing left to confirm.
        Err(RegistrationError::Gone) => Ok(()),
        Err(e) => Err(e.to_string()),
    }
}
