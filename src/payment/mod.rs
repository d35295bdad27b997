//! Payment providers behind one trait. The place-order process starts a
//! flow, asks for its status, and confirms, voids, captures or refunds it;
//! the back office moves money on placed orders' payments in parts
//! (`capture_amount`, `release`, `refund_amount`).

pub mod hosted;
pub mod offline;
pub mod signature;

use crate::domain::fulfilment::MoneyArrives;
use crate::domain::order::Order;
use crate::domain::payment::{
    FlowStatus, MoneyOperation, PaymentInstructions, PaymentMethodOption, PaymentRequest,
    PaymentStart,
};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// The provider refused, with a message the shopper (or, for money
    /// operations, the staff) can read.
    #[error("refused: {0}")]
    Refused(String),
    /// The provider did not answer (in time); the call may be repeated
    /// (a money operation with the same key).
    #[error("payment provider unavailable: {0}")]
    Unavailable(String),
}

#[async_trait::async_trait]
pub trait PaymentGateway: Send + Sync {
    /// The gateway's code in payment selections, e.g. `offline`.
    fn code(&self) -> &'static str;
    fn methods(&self) -> Vec<PaymentMethodOption>;
    /// Starts the payment flow of an attempt; the same idempotency key
    /// gives the same payment.
    async fn start_flow(&self, request: &PaymentRequest) -> Result<PaymentStart, GatewayError>;
    /// How the payment of an attempt stands now.
    async fn flow_status(&self, request: &PaymentRequest) -> Result<FlowStatus, GatewayError>;
    /// Tells the provider the shop accepts an approved payment.
    async fn confirm(&self, request: &PaymentRequest) -> Result<(), GatewayError>;
    /// Voids the payment (or refunds what was taken), e.g. on rollback.
    async fn cancel(&self, request: &PaymentRequest) -> Result<(), GatewayError>;
    /// Takes reserved money, e.g. when the goods are delivered.
    async fn capture(&self, request: &PaymentRequest) -> Result<(), GatewayError>;
    /// Pays captured money back.
    async fn refund(&self, request: &PaymentRequest) -> Result<(), GatewayError>;
    /// Takes `op.amount` of the reserved money (partial capture); several
    /// captures may follow each other until the reservation is used up.
    async fn capture_amount(&self, op: &MoneyOperation) -> Result<(), GatewayError>;
    /// Releases what is still reserved and not captured (void of the rest).
    async fn release(&self, op: &MoneyOperation) -> Result<(), GatewayError>;
    /// Pays back `op.amount` of what was captured (partial refund).
    async fn refund_amount(&self, op: &MoneyOperation) -> Result<(), GatewayError>;
    /// How the money of a placed order paid with `method` reaches the shop,
    /// which decides the back office's buttons.
    fn money_arrives(&self, _method: &str) -> MoneyArrives {
        MoneyArrives::ThroughProvider
    }
    /// What the buyer of an order paid through this gateway still has to
    /// do to pay, for the confirmation page; `None`: nothing.
    fn instructions(&self, _order: &Order) -> Option<PaymentInstructions> {
        None
    }
    /// Whether a started payment exists outside the shop (a session at a
    /// provider, which may take money): its record must be on disk before
    /// the process goes on, and the process is saved before each call,
    /// which may change something there or wait for it. A payment that
    /// exists only in the shop's own records (its calls change nothing and
    /// wait for nobody) is recorded with the step's save and reaches the
    /// disk with the order's commit, which is durable.
    fn held_outside(&self) -> bool {
        true
    }
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
