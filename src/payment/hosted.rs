//! The hosted (redirect) provider, spoken to over HTTP: a payment session
//! is created with the attempt's idempotency key, the shopper pays on the
//! provider's page, and the provider reports back by the shopper's return
//! and by signed webhooks. When in doubt the shop asks the provider's API.

pub mod wire;

use super::{GatewayError, PaymentGateway};
use crate::domain::order::{Order, OrderStatus};
use crate::domain::payment::{
    CustomerAction, FlowStatus, MoneyOperation, PaymentInstructions, PaymentMethodOption,
    PaymentRequest, PaymentStart, PaymentStatus, Settlement,
};
use crate::outbound::{self, Retry};
use reqwest::{StatusCode, Url};
use std::time::Duration;
use wire::{AmountRequest, ApiError, CaptureMode, CreateSession, Session, SessionStatus};

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
    /// `{api}/v1/sessions/`, the base of a session's operations.
    sessions_url: Url,
    capture: CaptureMode,
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
        capture: CaptureMode,
        public_url: String,
        link_key: Vec<u8>,
        timeout: Duration,
        convenience_store_days: i64,
    ) -> anyhow::Result<Self> {
        let api = api.trim_end_matches('/').to_owned();
        let sessions_url = Url::parse(&format!("{api}/v1/sessions/"))?;
        anyhow::ensure!(
            !sessions_url.cannot_be_a_base(),
            "the payment provider's URL '{api}' is not an http(s) URL"
        );
        Ok(Self {
            http: outbound::client(timeout)?,
            retry: Retry::new(ATTEMPTS, BACKOFF),
            api,
            sessions_url,
            capture,
            public_url: public_url.trim_end_matches('/').to_owned(),
            link_key,
            convenience_store_days,
        })
    }

    /// Counts each call in `metrics`.
    pub fn metered(mut self, metrics: std::sync::Arc<crate::metrics::Metrics>) -> Self {
        self.retry = self
            .retry
            .metered(metrics, crate::metrics::Peer::PaymentProvider);
        self
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

impl HostedGateway {
    /// `POST {api}/v1/sessions/{id}/{operation}`, the id as one path
    /// segment whatever it holds.
    fn operation_url(&self, session_id: &str, operation: &str) -> Url {
        let mut url = self.sessions_url.clone();
        // Checked in `new`: the URL can be a base, so this always works.
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.pop_if_empty().push(session_id).push(operation);
        }
        url
    }

    /// Sends a money operation under its key. Repeating it (on no answer
    /// or a 5xx) is safe: the provider performs a key once and answers a
    /// repeat with the first outcome.
    async fn money_operation(
        &self,
        op: &MoneyOperation,
        operation: &str,
        body: Option<AmountRequest>,
    ) -> Result<(), GatewayError> {
        let Some(session_id) = op.provider_reference.as_deref() else {
            return Err(GatewayError::Refused(
                "The payment has no reference at the payment provider".into(),
            ));
        };
        let url = self.operation_url(session_id, operation);
        let response = self
            .send(|| {
                let call = self
                    .http
                    .post(url.clone())
                    .header("Idempotency-Key", op.key.as_str());
                match &body {
                    Some(body) => call.json(body),
                    None => call,
                }
            })
            .await?;
        let status = response.status();
        // A 2xx whose body got lost is still done; a refusal without a
        // readable body still is a refusal.
        let body = response.bytes().await.unwrap_or_default();
        operation_outcome(status, &body)
    }
}

/// A refusal's reason is shown to staff and may be stored: kept short.
const MAX_REASON_CHARS: usize = 300;

/// What the provider's answer to a money operation means: 2xx done; 4xx
/// refused, with the provider's reason; anything else (5xx, a 408 or 429
/// asking to come back later, a 409 saying the same key is being worked on
/// by a request sent at the same time) no answer yet, so the same key may
/// be sent again.
fn operation_outcome(status: StatusCode, body: &[u8]) -> Result<(), GatewayError> {
    if status.is_success() {
        return Ok(());
    }
    let come_back_later = [
        StatusCode::REQUEST_TIMEOUT,
        StatusCode::CONFLICT,
        StatusCode::TOO_MANY_REQUESTS,
    ];
    if !status.is_client_error() || come_back_later.contains(&status) {
        return Err(GatewayError::Unavailable(format!("status {status}")));
    }
    let reason = serde_json::from_slice::<ApiError>(body)
        .ok()
        .map(|e| {
            e.error
                .trim()
                .chars()
                .take(MAX_REASON_CHARS)
                .collect::<String>()
        })
        .filter(|reason| !reason.is_empty())
        .unwrap_or_else(|| format!("The payment provider refused the operation ({status})"));
    Err(GatewayError::Refused(reason))
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
            capture: self.capture,
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

    async fn capture_amount(&self, op: &MoneyOperation) -> Result<(), GatewayError> {
        let body = AmountRequest {
            amount_minor: op.amount.minor,
        };
        self.money_operation(op, "captures", Some(body)).await
    }

    async fn release(&self, op: &MoneyOperation) -> Result<(), GatewayError> {
        self.money_operation(op, "release", None).await
    }

    async fn refund_amount(&self, op: &MoneyOperation) -> Result<(), GatewayError> {
        let body = AmountRequest {
            amount_minor: op.amount.minor,
        };
        self.money_operation(op, "refunds", Some(body)).await
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

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(result: Result<(), GatewayError>) -> Option<String> {
        match result {
            Err(GatewayError::Refused(reason)) => Some(reason),
            _ => None,
        }
    }

    #[test]
    fn a_2xx_is_done_whatever_its_body() {
        assert!(operation_outcome(StatusCode::OK, b"").is_ok());
        assert!(operation_outcome(StatusCode::CREATED, b"{\"x\":1}").is_ok());
    }

    #[test]
    fn a_4xx_is_a_refusal_with_the_providers_reason() {
        let body = br#"{"error": "Amount exceeds what is still reserved"}"#;
        assert_eq!(
            refusal(operation_outcome(StatusCode::UNPROCESSABLE_ENTITY, body)).as_deref(),
            Some("Amount exceeds what is still reserved")
        );
        let unreadable = refusal(operation_outcome(StatusCode::FORBIDDEN, b"<html>"));
        assert!(unreadable.unwrap().contains("403"));
        let long = format!(r#"{{"error": "{}"}}"#, "x".repeat(1000));
        let kept = refusal(operation_outcome(StatusCode::BAD_REQUEST, long.as_bytes()));
        assert_eq!(kept.unwrap().len(), MAX_REASON_CHARS);
    }

    #[test]
    fn no_answer_yet_may_be_asked_again() {
        for status in [
            StatusCode::SERVICE_UNAVAILABLE,
            StatusCode::INTERNAL_SERVER_ERROR,
            StatusCode::REQUEST_TIMEOUT,
            StatusCode::CONFLICT,
            StatusCode::TOO_MANY_REQUESTS,
            StatusCode::FOUND,
        ] {
            assert!(
                matches!(
                    operation_outcome(status, br#"{"error": "busy"}"#),
                    Err(GatewayError::Unavailable(_))
                ),
                "{status}"
            );
        }
    }

    #[test]
    fn a_session_id_stays_one_path_segment() {
        let gateway = HostedGateway::new(
            "http://127.0.0.1:9/base/".into(),
            CaptureMode::Manual,
            "http://shop".into(),
            b"key".to_vec(),
            Duration::from_secs(1),
            3,
        )
        .unwrap();
        assert_eq!(
            gateway.operation_url("ps_1", "captures").as_str(),
            "http://127.0.0.1:9/base/v1/sessions/ps_1/captures"
        );
        assert_eq!(
            gateway.operation_url("../x?y", "release").as_str(),
            "http://127.0.0.1:9/base/v1/sessions/..%2Fx%3Fy/release"
        );
    }
}
