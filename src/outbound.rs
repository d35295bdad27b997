//! Calls to the shop's peers over HTTP (the payment provider, the
//! registration API): one way to build a client with timeouts, and one
//! retry loop for the calls that are safe to repeat.

use crate::metrics::{Metrics, Peer};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A client whose every call gives up after `timeout`, connecting included.
pub fn client(timeout: Duration) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .build()
}

/// How often a call is tried when nobody answers, and how long it waits
/// before the second try (twice that before the third, and so on).
#[derive(Clone)]
pub struct Retry {
    attempts: u32,
    backoff: Duration,
    /// Where each try is counted, and as whose.
    meter: Option<(Arc<Metrics>, Peer)>,
}

impl Retry {
    /// Tries at least once.
    pub fn new(attempts: u32, backoff: Duration) -> Self {
        Self {
            attempts: attempts.max(1),
            backoff,
            meter: None,
        }
    }

    /// Each try is counted in `metrics` as a call to `peer`.
    pub fn metered(mut self, metrics: Arc<Metrics>, peer: Peer) -> Self {
        self.meter = Some((metrics, peer));
        self
    }

    /// Sends the request `build` makes, again on no answer or a 5xx. Only
    /// for calls that are safe to repeat: reads, writes carrying an
    /// idempotency key, and idempotent operations. `Err` says what the
    /// last try got.
    pub async fn send(
        &self,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, String> {
        let mut wait = self.backoff;
        let mut last = String::new();
        for attempt in 1..=self.attempts {
            let started = Instant::now();
            let sent = build().send().await;
            if let Some((metrics, peer)) = &self.meter {
                metrics.call(*peer, outcome(&sent), started.elapsed());
            }
            match sent {
                Ok(response) if !response.status().is_server_error() => return Ok(response),
                Ok(response) => last = format!("status {}", response.status()),
                Err(e) if e.is_timeout() => last = "timed out".into(),
                Err(e) => last = e.to_string(),
            }
            if attempt < self.attempts {
                tokio::time::sleep(wait).await;
                wait *= 2;
            }
        }
        Err(last)
    }
}

/// A try's outcome as a label.
fn outcome(sent: &reqwest::Result<reqwest::Response>) -> &'static str {
    match sent {
        Ok(r) if r.status().is_server_error() => "server_error",
        Ok(r) if r.status().is_client_error() => "refused",
        Ok(_) => "ok",
        Err(e) if e.is_timeout() => "timeout",
        Err(_) => "failed",
    }
}
