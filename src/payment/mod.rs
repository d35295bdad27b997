//! Payment providers behind one trait. The checkout asks a gateway how the
//! payment of the current attempt stands and acts on the answer.

pub mod offline;

use crate::domain::money::Money;
use crate::domain::order::OrderStatus;
use crate::domain::payment::{IdempotencyKey, PaymentMethodOption, PaymentStatus};
use std::sync::Arc;

/// One payment attempt as the gateway sees it.
#[derive(Debug, Clone)]
pub struct PaymentRequest {
    pub method: String,
    pub amount: Money,
    pub idempotency_key: IdempotencyKey,
    /// The shop's reference for the attempt (the cart id).
    pub reference: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlowStatus {
    /// The order may be placed; the payment and order start in these states.
    Approved {
        payment_status: PaymentStatus,
        order_status: OrderStatus,
    },
    /// The provider refused; the message is for the shopper.
    Failed { reason: String },
}

#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("unknown payment method {0}")]
    UnknownMethod(String),
    #[error("payment provider unavailable: {0}")]
    Unavailable(String),
}

#[async_trait::async_trait]
pub trait PaymentGateway: Send + Sync {
    /// The gateway's code in payment selections, e.g. `offline`.
    fn code(&self) -> &'static str;
    fn methods(&self) -> Vec<PaymentMethodOption>;
    /// Starts the payment flow of an attempt.
    async fn start_flow(&self, request: &PaymentRequest) -> Result<FlowStatus, GatewayError>;
    /// How the payment of an attempt stands now.
    async fn flow_status(&self, request: &PaymentRequest) -> Result<FlowStatus, GatewayError>;
}

/// The gateways the shop offers, in checkout order.
#[derive(Clone, Default)]
pub struct Gateways(Vec<Arc<dyn PaymentGateway>>);

impl Gateways {
    pub fn new(gateways: Vec<Arc<dyn PaymentGateway>>) -> Self {
        Self(gateways)
    }

    pub fn get(&self, code: &str) -> Option<&Arc<dyn PaymentGateway>> {
        self.0.iter().find(|g| g.code() == code)
    }

    pub fn methods(&self) -> Vec<PaymentMethodOption> {
        self.0.iter().flat_map(|g| g.methods()).collect()
    }
}
