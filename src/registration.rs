//! The client of the external customer-registration API. Every call has a
//! timeout; creating carries an idempotency key and confirm and delete are
//! idempotent, so all are retried with backoff when nobody answers.

pub mod wire;

use crate::outbound::{self, Retry};
use reqwest::StatusCode;
use std::time::Duration;
use wire::{CreateRegistration, OrderState, Registration};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RegistrationError {
    /// The API said no, with a reason the shopper can read.
    #[error("refused: {0}")]
    Refused(String),
    /// The API does not know the registration (deleted, or never made).
    #[error("no such registration")]
    Gone,
    #[error("registration API unavailable: {0}")]
    Unavailable(String),
}

#[derive(Clone)]
pub struct RegistrationApi {
    http: reqwest::Client,
    url: String,
    retry: Retry,
}

impl RegistrationApi {
    pub fn new(
        url: String,
        timeout: Duration,
        attempts: u32,
        backoff: Duration,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            http: outbound::client(timeout)?,
            url: url.trim_end_matches('/').to_owned(),
            retry: Retry::new(attempts, backoff),
        })
    }

    /// Counts each call in `metrics`.
    pub fn metered(mut self, metrics: std::sync::Arc<crate::metrics::Metrics>) -> Self {
        self.retry = self
            .retry
            .metered(metrics, crate::metrics::Peer::RegistrationApi);
        self
    }

    async fn send(
        &self,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, RegistrationError> {
        self.retry
            .send(build)
            .await
            .map_err(RegistrationError::Unavailable)
    }

    /// Creates a pending registration; the same key gives the same one.
    pub async fn create(
        &self,
        email: &str,
        reference: &str,
        key: &str,
    ) -> Result<String, RegistrationError> {
        let url = format!("{}/registrations", self.url);
        let body = CreateRegistration {
            email: email.to_owned(),
            reference: reference.to_owned(),
        };
        let response = self
            .send(|| {
                self.http
                    .post(&url)
                    .header("Idempotency-Key", key)
                    .json(&body)
            })
            .await?;
        match response.status() {
            s if s.is_success() => response
                .json::<Registration>()
                .await
                .map(|r| r.id)
                .map_err(|e| RegistrationError::Unavailable(e.to_string())),
            StatusCode::UNPROCESSABLE_ENTITY => {
                let reason = response
                    .json::<serde_json::Value>()
                    .await
                    .ok()
                    .and_then(|v| v["reason"].as_str().map(str::to_owned))
                    .unwrap_or_else(|| "This email address cannot be registered".into());
                Err(RegistrationError::Refused(reason))
            }
            s => Err(RegistrationError::Unavailable(format!("status {s}"))),
        }
    }

    pub async fn confirm(&self, id: &str) -> Result<(), RegistrationError> {
        let url = format!("{}/registrations/{id}/confirm", self.url);
        let response = self.send(|| self.http.post(&url)).await?;
        match response.status() {
            s if s.is_success() => Ok(()),
            StatusCode::NOT_FOUND | StatusCode::CONFLICT => Err(RegistrationError::Gone),
            s => Err(RegistrationError::Unavailable(format!("status {s}"))),
        }
    }

    /// Tells the customer system the buyer's order reached a new state
    /// (`shipped`, `delivered`, `refunded`). Repeating it is harmless.
    pub async fn order_state(&self, id: &str, state: &OrderState) -> Result<(), RegistrationError> {
        let url = format!("{}/registrations/{id}/order-states", self.url);
        let response = self.send(|| self.http.post(&url).json(state)).await?;
        match response.status() {
            s if s.is_success() => Ok(()),
            StatusCode::NOT_FOUND => Err(RegistrationError::Gone),
            s => Err(RegistrationError::Unavailable(format!("status {s}"))),
        }
    }

    pub async fn delete(&self, id: &str) -> Result<(), RegistrationError> {
        let url = format!("{}/registrations/{id}", self.url);
        let response = self.send(|| self.http.delete(&url)).await?;
        match response.status() {
            s if s.is_success() || s == StatusCode::NOT_FOUND => Ok(()),
            s => Err(RegistrationError::Unavailable(format!("status {s}"))),
        }
    }
}
