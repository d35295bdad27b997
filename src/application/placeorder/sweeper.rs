//! Every node looks for processes nobody is stepping (their node died, or
//! a service was down) and moves them on. The lease makes sure only one
//! node steps a process at a time. Reconciling payments the provider never
//! reported on runs apart (`payment_events::run`).

use crate::application::Shop;
use std::time::Duration;

/// Runs until the task is dropped.
pub async fn run(shop: Shop) {
    let settings = &shop.settings.placeorder;
    let mut tick =
        crate::application::stopping::ticks(Duration::from_millis(settings.sweep_interval_ms));
    let idle = Duration::from_millis(settings.stalled_after_ms);
    while shop.stopping.next_tick(&mut tick).await {
        match shop.store.stalled_processes(idle, 20).await {
            Ok(ids) => {
                // One process is one step: the rest wait for another sweep.
                for id in ids.into_iter().take_while(|_| !shop.stopping.is_set()) {
                    tracing::info!(process = %id, "sweeper picks up a stalled process");
                    if let Err(e) = super::refresh(&shop, &id).await {
                        tracing::warn!(process = %id, error = ?e, "sweeper could not move the process");
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "sweeper could not look for stalled processes"),
        }
        if let Err(e) = crate::application::fulfilment::expire_unpaid_transfers(&shop).await {
            tracing::warn!(error = ?e, "sweeper could not cancel unpaid transfers");
        }
    }
}
