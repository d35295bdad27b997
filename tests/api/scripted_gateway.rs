//! A payment gateway whose answers a test writes in advance, and which
//! counts what the shop asked of it.

use kassa::domain::order::OrderStatus;
use kassa::domain::payment::{
    CustomerAction, FlowStatus, MoneyOperation, PaymentMethodOption, PaymentRequest, PaymentStart,
    PaymentStatus, Settlement,
};
use kassa::payment::{GatewayError, PaymentGateway};
use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

pub const METHOD: &str = "scripted:card";

#[derive(Default)]
pub struct ScriptedGateway {
    /// Ask for the order before the payment completes.
    pub early_place_order: bool,
    /// Answers of `flow_status`, in turn; the last one repeats.
    answers: Mutex<VecDeque<FlowStatus>>,
    /// `flow_status` never answers while set (a hung provider, for crashes).
    pub hang: AtomicBool,
    /// The provider is down for `start_flow`.
    pub down: AtomicBool,
    started_keys: Mutex<HashSet<String>>,
    pub status_calls: AtomicUsize,
    pub confirms: AtomicUsize,
    pub cancels: AtomicUsize,
}

impl ScriptedGateway {
    pub fn new(early_place_order: bool, answers: Vec<FlowStatus>) -> Arc<Self> {
        Arc::new(Self {
            early_place_order,
            answers: Mutex::new(answers.into()),
            ..Default::default()
        })
    }

    pub fn answer_next(&self, answers: Vec<FlowStatus>) {
        *self.answers.lock().unwrap() = answers.into();
    }

    /// Payments started at this provider (distinct idempotency keys).
    pub fn payments_started(&self) -> usize {
        self.started_keys.lock().unwrap().len()
    }
}

pub fn approved() -> FlowStatus {
    FlowStatus::Approved(Settlement {
        payment_status: PaymentStatus::Authorized,
        order_status: OrderStatus::Placed,
    })
}

pub fn completed() -> FlowStatus {
    FlowStatus::Completed(Settlement {
        payment_status: PaymentStatus::Captured,
        order_status: OrderStatus::Placed,
    })
}

/// An action the provider asks of the shopper, by its kind's name.
pub fn action(kind: &str, url: Option<&str>, html: Option<&str>) -> FlowStatus {
    let url = || url.expect("this action needs a URL").to_owned();
    FlowStatus::Unapproved(match kind {
        "redirect" => CustomerAction::Redirect { url: url() },
        "post_redirect" => CustomerAction::PostRedirect {
            url: url(),
            fields: vec![("session".into(), "s-1".into())],
        },
        "show_html" => CustomerAction::ShowHtml {
            html: html.expect("show_html needs HTML").to_owned(),
        },
        "show_iframe" => CustomerAction::ShowIframe { url: url() },
        other => panic!("no action kind {other}"),
    })
}

#[async_trait::async_trait]
impl PaymentGateway for ScriptedGateway {
    fn code(&self) -> &'static str {
        "scripted"
    }

    fn methods(&self) -> Vec<PaymentMethodOption> {
        vec![PaymentMethodOption {
            gateway: "scripted".into(),
            method: "card".into(),
            title: "Card (scripted)".into(),
        }]
    }

    async fn start_flow(&self, request: &PaymentRequest) -> Result<PaymentStart, GatewayError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(GatewayError::Unavailable("connection refused".into()));
        }
        self.started_keys
            .lock()
            .unwrap()
            .insert(request.idempotency_key.as_str().to_owned());
        Ok(PaymentStart {
            early_place_order: self.early_place_order,
            provider_reference: Some(format!("pay-{}", request.idempotency_key)),
        })
    }

    async fn flow_status(&self, _request: &PaymentRequest) -> Result<FlowStatus, GatewayError> {
        if self.hang.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        self.status_calls.fetch_add(1, Ordering::SeqCst);
        let mut answers = self.answers.lock().unwrap();
        let answer = if answers.len() > 1 {
            answers.pop_front()
        } else {
            answers.front().cloned()
        };
        Ok(answer.unwrap_or(FlowStatus::WaitingForCustomer))
    }

    async fn confirm(&self, _request: &PaymentRequest) -> Result<(), GatewayError> {
        self.confirms.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    async fn cancel(&self, _request: &PaymentRequest) -> Result<(), GatewayError> {
        self.cancels.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    async fn capture(&self, _request: &PaymentRequest) -> Result<(), GatewayError> {
        Ok(())
    }

    async fn refund(&self, _request: &PaymentRequest) -> Result<(), GatewayError> {
        Ok(())
    }

    async fn capture_amount(&self, _op: &MoneyOperation) -> Result<(), GatewayError> {
        Ok(())
    }

    async fn release(&self, _op: &MoneyOperation) -> Result<(), GatewayError> {
        Ok(())
    }

    async fn refund_amount(&self, _op: &MoneyOperation) -> Result<(), GatewayError> {
        Ok(())
    }
}
