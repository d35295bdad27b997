//! How a node's background workers hear that it stops: each ends after the
//! step it is in (a sweep, a reconciliation pass, one outbox delivery), so
//! nothing is cut off halfway and nothing it claimed waits for a lease to
//! run out before another node may take it.

use std::time::Duration;
use tokio::sync::watch;

/// Set once, when the node begins to stop.
#[derive(Clone)]
pub struct Stopping {
    set: std::sync::Arc<watch::Sender<bool>>,
}

impl Default for Stopping {
    fn default() -> Self {
        Self {
            set: std::sync::Arc::new(watch::channel(false).0),
        }
    }
}

impl Stopping {
    /// Tells every worker to end after its current step.
    pub fn stop(&self) {
        self.set.send_replace(true);
    }

    pub fn is_set(&self) -> bool {
        *self.set.borrow()
    }

    /// Returns once the node stops.
    pub async fn stopped(&self) {
        let mut stopped = self.set.subscribe();
        let _ = stopped.wait_for(|s| *s).await;
    }

    /// Waits for the next `tick`; false when the node stops first (or has).
    pub async fn next_tick(&self, tick: &mut tokio::time::Interval) -> bool {
        let mut stopped = self.set.subscribe();
        if *stopped.borrow_and_update() {
            return false;
        }
        tokio::select! {
            _ = tick.tick() => !self.is_set(),
            _ = stopped.wait_for(|s| *s) => false,
        }
    }
}

/// A worker's loop: `tick` every `every` until the node stops.
pub fn ticks(every: Duration) -> tokio::time::Interval {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_worker_ticks_until_the_node_stops_and_then_at_once() {
        let stopping = Stopping::default();
        let mut tick = ticks(Duration::from_secs(60));
        assert!(
            stopping.next_tick(&mut tick).await,
            "the first tick is at once"
        );
        let waiting = {
            let stopping = stopping.clone();
            tokio::spawn(async move {
                let mut tick = ticks(Duration::from_secs(60));
                tick.tick().await;
                stopping.next_tick(&mut tick).await
            })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        stopping.stop();
        // Long before its next tick, a minute away.
        let heard = tokio::time::timeout(Duration::from_secs(5), waiting).await;
        assert!(!heard.unwrap().unwrap(), "a waiting worker hears it");
        assert!(
            !stopping.next_tick(&mut tick).await,
            "and so does a later one"
        );
    }
}
