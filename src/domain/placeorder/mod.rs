//! The place-order process: a durable state machine per cart, as in
//! Flamingo Commerce's checkout, stored between steps by the coordinator in
//! the application layer. See `diagram.md` for the transitions.
//!
//! Each state that does something is a file with its `run` (and, where it
//! changes the world, its `rollback`); the final states, Success and
//! Failed, have nothing to run. States talk to the world only through [`Ports`], so
//! this module does no I/O itself. Every step must be safe to run again:
//! a node may die after a step's effect and before the step is saved.

mod complete_cart;
mod complete_payment;
pub mod coordinator;
mod create_payment;
mod new;
mod order_rules;
mod place_order;
mod prepare_cart;
mod redirect;
mod validate_cart;
mod validate_payment;
mod validate_payment_selection;
mod wait_for_customer;

#[cfg(test)]
mod fake;
#[cfg(test)]
mod model;

pub use order_rules::{OrderRefusal, cart_status_after, order_totals};
pub use place_order::settled;

use super::cart::Cart;
use super::catalogue::ShippingMethod;
use super::checkout::CheckoutDetails;
use super::money::{Currency, Money};
use super::order::OrderStatus;
use super::payment::{
    CustomerAction, FlowStatus, IdempotencyKey, PaymentMethodOption, PaymentRequest, PaymentStart,
    Settlement,
};
use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum State {
    New,
    PrepareCart,
    ValidateCart,
    ValidatePaymentSelection,
    CreatePayment,
    CompleteCart,
    PlaceOrder,
    ValidatePayment,
    WaitForCustomer,
    Redirect,
    CompletePayment,
    Success,
    Failed,
}

super::stored_names!(State {
    New => "New",
    PrepareCart => "PrepareCart",
    ValidateCart => "ValidateCart",
    ValidatePaymentSelection => "ValidatePaymentSelection",
    CreatePayment => "CreatePayment",
    CompleteCart => "CompleteCart",
    PlaceOrder => "PlaceOrder",
    ValidatePayment => "ValidatePayment",
    WaitForCustomer => "WaitForCustomer",
    Redirect => "Redirect",
    CompletePayment => "CompletePayment",
    Success => "Success",
    Failed => "Failed",
});

impl State {
    pub fn is_final(self) -> bool {
        matches!(self, Self::Success | Self::Failed)
    }

    /// States that wait for the shopper or the provider: the coordinator
    /// stops in them, and a later refresh asks the provider again.
    pub fn is_resting(self) -> bool {
        matches!(self, Self::Redirect | Self::WaitForCustomer)
    }

    /// States whose run changes something outside the process (a payment,
    /// the cart, an order). The process is saved before such a state runs,
    /// so a failure from outside finds it there and undoes its change
    /// (`unsaved_rollback`), and after, so its outcome is kept. Between
    /// the other states nothing is saved: they only read, and run again
    /// after a crash to the same effect.
    pub fn changes_outside(self) -> bool {
        matches!(
            self,
            Self::CreatePayment | Self::CompleteCart | Self::PlaceOrder | Self::CompletePayment
        )
    }

    /// The undo step for what this state may have changed in a run whose
    /// step was never saved (its node died after the change, or lost the
    /// lease): a process failed from outside while it stands here must undo
    /// that too. Every such undo is harmless when nothing was changed.
    pub fn unsaved_rollback(self, ctx: &Context) -> Option<Rollback> {
        match self {
            Self::CreatePayment => ctx.payment.clone().map(Rollback::CancelPayment),
            Self::CompleteCart => Some(Rollback::ReopenCart {
                cart_id: ctx.cart_id.clone(),
            }),
            Self::PlaceOrder => Some(Rollback::CancelOrderOfCart {
                cart_id: ctx.cart_id.clone(),
            }),
            _ => None,
        }
    }

    /// One step of the process from this state. The coordinator never
    /// steps a final state; asked anyway, it stays where it is.
    pub async fn run(
        self,
        ctx: &mut Context,
        ports: &mut dyn Ports,
    ) -> Result<Transition, PortError> {
        match self {
            Self::New => new::run(ctx),
            Self::PrepareCart => prepare_cart::run(ctx, ports).await,
            Self::ValidateCart => validate_cart::run(ctx, ports).await,
            Self::ValidatePaymentSelection => validate_payment_selection::run(ctx, ports),
            Self::CreatePayment => create_payment::run(ctx, ports).await,
            Self::CompleteCart => complete_cart::run(ctx, ports).await,
            Self::PlaceOrder => place_order::run(ctx, ports).await,
            Self::ValidatePayment => validate_payment::run(ctx, ports).await,
            Self::WaitForCustomer => wait_for_customer::run(ctx),
            Self::Redirect => redirect::run(ctx),
            Self::CompletePayment => complete_payment::run(ctx, ports).await,
            Self::Success | Self::Failed => Ok(Transition::Next(self)),
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stored process: where it stands and what it knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Process {
    pub id: String,
    pub cart_id: String,
    pub state: State,
    pub context: Context,
    /// Set on failure; Failed is reached once every rollback has run.
    pub failure: Option<FailureReason>,
    pub version: i64,
}

impl Process {
    pub fn new(id: String, cart_id: String, idempotency_key: IdempotencyKey) -> Self {
        Self {
            context: Context::new(id.clone(), cart_id.clone(), idempotency_key),
            id,
            cart_id,
            state: State::New,
            failure: None,
            version: 1,
        }
    }
}

/// Where a step leads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transition {
    Next(State),
    /// Unwind the rollbacks and end in Failed.
    Fail(FailureReason),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum FailureReason {
    PaymentError(String),
    CanceledByCustomer,
    CartValidationError(String),
    Error(String),
}

impl FailureReason {
    pub fn name(&self) -> &'static str {
        match self {
            Self::PaymentError(_) => "PaymentError",
            Self::CanceledByCustomer => "CanceledByCustomer",
            Self::CartValidationError(_) => "CartValidationError",
            Self::Error(_) => "Error",
        }
    }

    /// What the shopper is told; nothing when they cancelled themselves.
    pub fn message(&self) -> Option<&str> {
        match self {
            Self::PaymentError(m) | Self::CartValidationError(m) => Some(m),
            Self::Error(_) => {
                Some("We could not place your order. Your cart is unchanged; please try again.")
            }
            Self::CanceledByCustomer => None,
        }
    }
}

/// What a step must undo when a later step fails, in reverse order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Rollback {
    /// CreatePayment: void the payment at the provider.
    CancelPayment(PaymentRequest),
    /// CompleteCart: the cart may change again.
    ReopenCart { cart_id: String },
    /// PlaceOrder: cancel the order, put the stock back.
    CancelOrder { order_id: String },
    /// PlaceOrder, failed from outside before its step was saved: cancel
    /// the order a lost run may have placed for the cart.
    CancelOrderOfCart { cart_id: String },
}

impl Rollback {
    pub async fn run(&self, ports: &mut dyn Ports) -> Result<(), PortError> {
        match self {
            Self::CancelPayment(request) => create_payment::rollback(request, ports).await,
            Self::ReopenCart { cart_id } => complete_cart::rollback(cart_id, ports).await,
            Self::CancelOrder { order_id } => place_order::rollback(order_id, ports).await,
            Self::CancelOrderOfCart { cart_id } => {
                place_order::rollback_unsaved(cart_id, ports).await
            }
        }
    }
}

/// The order a process placed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlacedOrder {
    pub id: String,
    pub number: String,
    pub token: String,
}

/// What PlaceOrder asks the order store for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderDraft {
    pub cart_id: String,
    pub details: CheckoutDetails,
    pub status: OrderStatus,
    /// The total the payment was started for; the order must come to it.
    pub expected_total: Money,
    /// The payment to attach to the order.
    pub payment_key: Option<IdempotencyKey>,
    /// The buyer's registration of this attempt.
    pub registration_id: Option<String>,
    /// Settled as it is placed, in one change: the payment's last word is
    /// in and nobody outside has to confirm it (`complete_payment::at_once`).
    pub settlement: Option<Settlement>,
}

/// The typed state data of a process, saved after every step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Context {
    pub process_id: String,
    pub cart_id: String,
    pub idempotency_key: IdempotencyKey,
    /// The buyer's registration with the customer system when the attempt
    /// started: every event of this attempt is about this one, never about
    /// one a later attempt made.
    #[serde(default)]
    pub registration_id: Option<String>,
    /// The cart version the shopper reviewed; PrepareCart refuses another.
    #[serde(default)]
    pub reviewed_version: Option<i64>,
    /// PrepareCart: the cart as the shopper confirmed it.
    pub cart_version: Option<i64>,
    pub details: Option<CheckoutDetails>,
    pub amount: Option<Money>,
    /// ValidatePaymentSelection: the attempt sent to the gateway.
    pub payment: Option<PaymentRequest>,
    pub payment_start: Option<PaymentStart>,
    pub order: Option<PlacedOrder>,
    /// ValidatePayment: how the approved payment settles.
    pub settlement: Option<Settlement>,
    /// Whether the provider reported the payment completed (not only approved).
    pub payment_completed: bool,
    /// What the shopper must do while the process rests in Redirect.
    pub action: Option<CustomerAction>,
    pub rollbacks: Vec<Rollback>,
}

impl Context {
    pub fn new(process_id: String, cart_id: String, idempotency_key: IdempotencyKey) -> Self {
        Self {
            process_id,
            cart_id,
            idempotency_key,
            registration_id: None,
            reviewed_version: None,
            cart_version: None,
            details: None,
            amount: None,
            payment: None,
            payment_start: None,
            order: None,
            settlement: None,
            payment_completed: false,
            action: None,
            rollbacks: Vec::new(),
        }
    }

    /// Records an undo step once, even when the step runs again.
    fn push_rollback(&mut self, rollback: Rollback) {
        if !self.rollbacks.contains(&rollback) {
            self.rollbacks.push(rollback);
        }
    }

    fn needs_payment(&self) -> bool {
        self.amount.is_some_and(|a| a.minor > 0)
    }
}

/// A port call that could not be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortError {
    /// A service did not answer: transient, the step is tried again later.
    Unavailable(String),
    /// The request was refused, with a message the shopper can read.
    Refused(String),
    /// Permanent: trying again cannot help (stored data that cannot be
    /// read). The process fails with the reason instead of looping.
    Broken(String),
}

impl fmt::Display for PortError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unavailable(m) => write!(f, "unavailable: {m}"),
            Self::Refused(m) => write!(f, "refused: {m}"),
            Self::Broken(m) => write!(f, "broken: {m}"),
        }
    }
}

/// Everything the states need from the world.
#[async_trait::async_trait]
pub trait Ports: Send {
    fn currency(&self) -> Currency;
    fn payment_methods(&self) -> Vec<PaymentMethodOption>;
    async fn cart(&mut self, cart_id: &str) -> Result<Option<Cart>, PortError>;
    async fn shipping_method(&mut self, code: &str) -> Result<Option<ShippingMethod>, PortError>;
    /// Starts the payment at its gateway and records it; safe to repeat
    /// with the same idempotency key.
    async fn start_payment(&mut self, request: &PaymentRequest) -> Result<PaymentStart, PortError>;
    async fn payment_status(&mut self, request: &PaymentRequest) -> Result<FlowStatus, PortError>;
    /// Whether the payment exists at a provider outside the shop, whose
    /// approval its confirmation makes final. One only the shop knows of
    /// (cash) has nobody to confirm it with.
    fn held_outside(&self, request: &PaymentRequest) -> bool;
    async fn confirm_payment(&mut self, request: &PaymentRequest) -> Result<(), PortError>;
    async fn cancel_payment(&mut self, request: &PaymentRequest) -> Result<(), PortError>;
    /// Freezes the cart at `version`; `false` when it changed meanwhile.
    /// True again for a cart this process froze already.
    async fn freeze_cart(&mut self, cart_id: &str, version: i64) -> Result<bool, PortError>;
    async fn reopen_cart(&mut self, cart_id: &str) -> Result<(), PortError>;
    /// Places the order of a frozen cart, or returns the one placed before.
    async fn place_order(&mut self, draft: &OrderDraft) -> Result<PlacedOrder, PortError>;
    /// The cart's order that is not cancelled, if any.
    async fn live_order(&mut self, cart_id: &str) -> Result<Option<PlacedOrder>, PortError>;
    async fn cancel_order(&mut self, order_id: &str) -> Result<(), PortError>;
    /// Gives the order and its payment their final status.
    async fn settle_order(
        &mut self,
        order_id: &str,
        payment_key: Option<&IdempotencyKey>,
        settlement: Settlement,
    ) -> Result<(), PortError>;
}

#[cfg(test)]
mod tests {
    use super::fake::{FakePorts, context};
    use super::*;

    #[test]
    fn only_success_and_failed_are_final() {
        let finals: Vec<State> = State::ALL
            .iter()
            .copied()
            .filter(|s| s.is_final())
            .collect();
        assert_eq!(finals, [State::Success, State::Failed]);
    }

    #[tokio::test]
    async fn a_final_state_leads_nowhere_and_keeps_its_context() {
        for state in [State::Success, State::Failed] {
            let mut ports = FakePorts::default();
            let mut ctx = context();
            let before = ctx.clone();
            assert_eq!(
                state.run(&mut ctx, &mut ports).await.unwrap(),
                Transition::Next(state)
            );
            assert_eq!(ctx, before);
        }
    }
}
