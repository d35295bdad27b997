//! The hosted (redirect) provider, spoken to over HTTP: a payment session
//! is created with the attempt's idempotency key, the shopper pays on the
//! provider's page, and the provider reports back by the shopper's return
//! and by signed webhooks. When in doubt the shop asks the provider's API.

pub mod wire;

use super::{GatewayError, PaymentGateway};
use crate::domain::order::{Order, OrderStatus};
use crate::domain::payment::{
    CustomerAction, FlowStatus, PaymentInstructions, PaymentMethodOption, PaymentRequest,
    PaymentStart, PaymentStatus, Settlement,
};
use crate::outbound::{self, Retry};
use reqwest::StatusCode;
use std::time::Duration;
use wire::{CreateSession, Session, SessionStatus};

pub const CODE: &str = "hosted";
pub const CARD: &str = "card";
pub const CONVENIENCE_STORE: &str = "convenience_store";

/// Idempotent calls are tried this often when the provider does not answer.
const ATTEMPTS: u32 = 3;
/// The wait before the second try; doubled before each further one.
const BACKOFF: Duration = Duration::from_millis(100);

pub struct HostedGateway {
    http: reqwest::Client,
    retry: Retry,
    api: String,
    capture: String,
    /// Where the shop is reached, for return links and webhooks.
    public_url: String,
    /// Signs return links, so a link names only its own process.
    link_key: Vec<u8>,
    /// How long the provider lets a convenience-store payment stay unpaid.
    convenience_store_days: i64,
}

impl HostedGateway {
    pub fn new(
        api: String,
        capture: String,
        public_url: String,
        link_key: Vec<u8>,
        timeout: Duration,
        convenience_store_days: i64,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            http: outbound::client(timeout)?,
            retry: Retry::new(ATTEMPTS, BACKOFF),
            api: api.trim_end_matches('/').to_owned(),
            capture,
            public_url: public_url.trim_end_matches('/').to_owned(),
            link_key,
            convenience_store_days,
        })
    }

    fn return_url(&self, process_id: &str, cancelled: bool) -> String {
        let sig =
            super::signature::digest(&self.link_key, &return_link_text(process_id, cancelled));
        let cancel = if cancelled { "&cancelled=1" } else { "" };
        format!(
            "{}/checkout/return?process={process_id}&sig={sig}{cancel}",
            self.public_url
        )
    }

    /// Sends a call that is safe to repeat (a read, or a write carrying an
    /// idempotency key), again on no answer or a 5xx.
    async fn send(
        &self,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, GatewayError> {
        self.retry
            .send(build)
            .await
            .map_err(GatewayError::Unavailable)
    }

    async fn session(&self, request: &PaymentRequest) -> Result<Option<Session>, GatewayError> {
        let url = format!(
            "{}/v1/sessions/by-key/{}",
            self.api, request.idempotency_key
        );
        let response = self.send(|| self.http.get(&url)).await?;
        match response.status() {
            StatusCode::NOT_FOUND => Ok(None),
            s if s.is_success() => response
                .json::<Session>()
                .await
                .map(Some)
                .map_err(|e| GatewayError::Unavailable(format!("unreadable session: {e}"))),
            s => Err(GatewayError::Unavailable(format!("status {s}"))),
        }
    }

    async fn operate(&self, request: &PaymentRequest, operation: &str) -> Result<(), GatewayError> {
        let Some(session) = self.session(request).await? else {
            return Err(GatewayError::Refused(
                "the provider has no such payment".into(),
            ));
        };
        let url = format!("{}/v1/sessions/{}/{operation}", self.api, session.id);
        let response = self.send(|| self.http.post(&url)).await?;
        match response.status() {
            s if s.is_success() => Ok(()),
            StatusCode::NOT_FOUND => Err(GatewayError::Refused(format!(
                "{operation}: no such payment"
            ))),
            // Refused for another reason (e.g. money already taken): not
            // done, so it must be tried again or looked at, never skipped.
            s => Err(GatewayError::Unavailable(format!(
                "{operation}: status {s}"
            ))),
        }
    }
}

/// What a return link signs: the process and whether it cancels, so the
/// return link cannot be turned into a cancel link.
pub fn return_link_text(process_id: &str, cancelled: bool) -> String {
    format!(
        "{process_id}:{}",
        if cancelled { "cancel" } else { "return" }
    )
}

/// The provider's session status, as the place-order process reads it.
pub fn flow_status(session: &Session) -> FlowStatus {
    let settled = |payment_status, order_status| Settlement {
        payment_status,
        order_status,
    };
    match session.status {
        SessionStatus::Open => FlowStatus::Unapproved(CustomerAction::Redirect {
            url: session.pay_url.clone(),
        }),
        SessionStatus::Authorized => {
            FlowStatus::Approved(settled(PaymentStatus::Authorized, OrderStatus::Placed))
        }
        SessionStatus::Captured => {
            FlowStatus::Completed(settled(PaymentStatus::Captured, OrderStatus::Placed))
        }
        // Convenience store: the order waits on hold until the money arrives.
        SessionStatus::Pending => {
            FlowStatus::Approved(settled(PaymentStatus::Pending, OrderStatus::OnHold))
        }
        SessionStatus::Declined => FlowStatus::Failed {
            reason: "Your card was declined. Please try another card or payment method.".into(),
        },
        SessionStatus::Cancelled => FlowStatus::Aborted,
        SessionStatus::Expired => FlowStatus::Failed {
            reason: "The payment was not completed in time. Your cart is unchanged.".into(),
        },
        SessionStatus::Refunded => FlowStatus::Cancelled,
    }
}

#[async_trait::async_trait]
impl PaymentGateway for HostedGateway {
    fn code(&self) -> &'static str {
        CODE
    }

    fn methods(&self) -> Vec<PaymentMethodOption> {
        [
            (CARD, "Card (hosted payment page)"),
            (CONVENIENCE_STORE, "Convenience store (pay within days)"),
        ]
        .into_iter()
        .map(|(method, title)| PaymentMethodOption {
            gateway: CODE.into(),
            method: method.into(),
            title: title.into(),
        })
        .collect()
    }

    async fn start_flow(&self, request: &PaymentRequest) -> Result<PaymentStart, GatewayError> {
        let body = CreateSession {
            amount_minor: request.amount.minor,
            currency: request.amount.currency.as_str().into(),
            reference: request.reference.clone(),
            method: request.method.clone(),
            capture: self.capture.clone(),
            return_url: self.return_url(&request.reference, false),
            cancel_url: self.return_url(&request.reference, true),
            webhook_url: format!("{}/webhooks/hosted", self.public_url),
        };
        let url = format!("{}/v1/sessions", self.api);
        let response = self
            .send(|| {
                self.http
                    .post(&url)
                    .header("Idempotency-Key", request.idempotency_key.as_str())
                    .json(&body)
            })
            .await?;
        if !response.status().is_success() {
            return Err(GatewayError::Refused(
                "The payment provider refused this payment. Please choose another payment method."
                    .into(),
            ));
        }
        let session: Session = response
            .json()
            .await
            .map_err(|e| GatewayError::Unavailable(format!("unreadable session: {e}")))?;
        Ok(PaymentStart {
            // The order exists before the shopper leaves, so a webhook can
            // complete it without them.
            early_place_order: true,
            provider_reference: Some(session.id),
        })
    }

    async fn flow_status(&self, request: &PaymentRequest) -> Result<FlowStatus, GatewayError> {
        match self.session(request).await? {
            Some(session) => Ok(flow_status(&session)),
            None => Ok(FlowStatus::Failed {
                reason: "The payment provider does not know this payment.".into(),
            }),
        }
    }

    /// Nothing to confirm: with manual capture the money stays reserved
    /// until the delivery is marked delivered.
    async fn confirm(&self, _request: &PaymentRequest) -> Result<(), GatewayError> {
        Ok(())
    }

    async fn cancel(&self, request: &PaymentRequest) -> Result<(), GatewayError> {
        self.operate(request, "cancel").await
    }

    async fn capture(&self, request: &PaymentRequest) -> Result<(), GatewayError> {
        self.operate(request, "capture").await
    }

    async fn refund(&self, request: &PaymentRequest) -> Result<(), GatewayError> {
        self.operate(request, "refund").await
    }

    /// A convenience-store order on hold waits for the shopper to pay at
    /// the store; card payments ask nothing more.
    fn instructions(&self, order: &Order) -> Option<PaymentInstructions> {
        let method = order.payment.as_ref()?.method.as_str();
        (method == CONVENIENCE_STORE && order.status == OrderStatus::OnHold).then_some(
            PaymentInstructions::PayInStore {
                days: self.convenience_store_days,
            },
        )
    }
}
