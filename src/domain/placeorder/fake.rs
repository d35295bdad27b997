//! An in-memory world for the unit tests of the states.

use super::*;
use crate::domain::address::{Address, Country, Email};
use crate::domain::cart::{CartLine, CartStatus};
use crate::domain::catalogue::Product;
use crate::domain::order::OrderStatus;
use crate::domain::payment::{PaymentSelection, PaymentStatus};

pub struct FakePorts {
    pub cart: Cart,
    pub methods: Vec<PaymentMethodOption>,
    pub status: FlowStatus,
    pub provider_down: bool,
    pub refuse_order: bool,
    /// The payment is cash: nobody outside holds it.
    pub cash: bool,
    pub started: Vec<PaymentRequest>,
    pub cancelled: Vec<PaymentRequest>,
    pub confirmed: Vec<PaymentRequest>,
    pub orders: Vec<OrderDraft>,
    pub cancelled_orders: Vec<String>,
    pub settled: Vec<(String, OrderStatus)>,
}

pub fn eur() -> Currency {
    Currency::parse("EUR").unwrap()
}

pub fn shipping() -> ShippingMethod {
    ShippingMethod {
        code: "standard".into(),
        name: "Standard".into(),
        price: Money::new(495, eur()),
        vat_rate_bp: 1900,
        free_above: None,
    }
}

pub fn details() -> CheckoutDetails {
    let address = Address {
        first_name: "Ann".into(),
        last_name: "Lee".into(),
        company: None,
        street: "Main Street".into(),
        house_number: "1".into(),
        postcode: "10115".into(),
        city: "Berlin".into(),
        country: Country::parse("DE").unwrap(),
        phone: None,
    };
    CheckoutDetails {
        email: Email::parse("ann@example.com").unwrap(),
        billing: address,
        delivery_address: None,
        shipping_method: "standard".into(),
        date_of_birth: None,
        payment: Some(PaymentSelection {
            gateway: "test".into(),
            method: "card".into(),
            idempotency_key: IdempotencyKey::from_string("k1".into()),
        }),
        voucher: None,
        privacy_accepted: true,
    }
}

/// The cart the tests order: two mugs, checkout filled in, open.
pub fn cart() -> Cart {
    let price = Money::new(1200, eur());
    Cart {
        id: "cart-1".into(),
        user_id: None,
        status: CartStatus::Open,
        checkout: Some(details()),
        order_id: None,
        version: 7,
        lines: vec![CartLine {
            product_id: "mug".into(),
            quantity: 2,
            unit_price: price,
            product: Some(Product {
                id: "mug".into(),
                name: "Mug".into(),
                description: String::new(),
                price,
                vat_rate_bp: 1900,
                stock: 5,
                active: true,
            }),
        }],
    }
}

impl Default for FakePorts {
    fn default() -> Self {
        Self {
            cart: cart(),
            methods: payment_methods(),
            status: FlowStatus::WaitingForCustomer,
            provider_down: false,
            refuse_order: false,
            cash: false,
            started: Vec::new(),
            cancelled: Vec::new(),
            confirmed: Vec::new(),
            orders: Vec::new(),
            cancelled_orders: Vec::new(),
            settled: Vec::new(),
        }
    }
}

pub fn payment_methods() -> Vec<PaymentMethodOption> {
    vec![PaymentMethodOption {
        gateway: "test".into(),
        method: "card".into(),
        title: "Card".into(),
    }]
}

impl FakePorts {
    fn reachable(&self) -> Result<(), PortError> {
        if self.provider_down {
            Err(PortError::Unavailable("provider down".into()))
        } else {
            Ok(())
        }
    }
}

#[async_trait::async_trait]
impl Ports for FakePorts {
    fn currency(&self) -> Currency {
        eur()
    }

    fn payment_methods(&self) -> Vec<PaymentMethodOption> {
        self.methods.clone()
    }

    async fn cart(&mut self, _cart_id: &str) -> Result<Option<Cart>, PortError> {
        Ok(Some(self.cart.clone()))
    }

    async fn shipping_method(&mut self, _code: &str) -> Result<Option<ShippingMethod>, PortError> {
        Ok(Some(shipping()))
    }

    async fn start_payment(&mut self, request: &PaymentRequest) -> Result<PaymentStart, PortError> {
        self.reachable()?;
        self.started.push(request.clone());
        Ok(PaymentStart {
            early_place_order: false,
            provider_reference: Some("p1".into()),
        })
    }

    async fn payment_status(&mut self, _request: &PaymentRequest) -> Result<FlowStatus, PortError> {
        self.reachable()?;
        Ok(self.status.clone())
    }

    fn held_outside(&self, _request: &PaymentRequest) -> bool {
        !self.cash
    }

    async fn confirm_payment(&mut self, request: &PaymentRequest) -> Result<(), PortError> {
        self.confirmed.push(request.clone());
        Ok(())
    }

    async fn cancel_payment(&mut self, request: &PaymentRequest) -> Result<(), PortError> {
        self.cancelled.push(request.clone());
        Ok(())
    }

    async fn freeze_cart(&mut self, _cart_id: &str, version: i64) -> Result<bool, PortError> {
        if self.cart.version != version {
            return Ok(false);
        }
        self.cart.status = CartStatus::Frozen;
        Ok(true)
    }

    async fn reopen_cart(&mut self, _cart_id: &str) -> Result<(), PortError> {
        self.cart.status = CartStatus::Open;
        Ok(())
    }

    async fn place_order(&mut self, draft: &OrderDraft) -> Result<PlacedOrder, PortError> {
        if self.refuse_order {
            return Err(PortError::Refused("Mug is out of stock.".into()));
        }
        self.orders.push(draft.clone());
        Ok(PlacedOrder {
            id: format!("o{}", self.orders.len()),
            number: format!("K-{:06}", self.orders.len()),
            token: "secret".into(),
        })
    }

    async fn live_order(&mut self, _cart_id: &str) -> Result<Option<PlacedOrder>, PortError> {
        let id = format!("o{}", self.orders.len());
        let live = !self.orders.is_empty() && !self.cancelled_orders.contains(&id);
        Ok(live.then(|| PlacedOrder {
            id,
            number: format!("K-{:06}", self.orders.len()),
            token: "secret".into(),
        }))
    }

    async fn cancel_order(&mut self, order_id: &str) -> Result<(), PortError> {
        self.cancelled_orders.push(order_id.to_owned());
        Ok(())
    }

    async fn settle_order(
        &mut self,
        order_id: &str,
        _payment_key: Option<&IdempotencyKey>,
        settlement: Settlement,
    ) -> Result<(), PortError> {
        self.settled
            .push((order_id.to_owned(), settlement.order_status));
        Ok(())
    }
}

/// Runs a future over in-memory ports: they answer at once, so it is
/// ready at the first poll; no runtime needed.
pub fn ready<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match future.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(output) => output,
        std::task::Poll::Pending => panic!("an in-memory port must not wait"),
    }
}

pub fn context() -> Context {
    Context::new(
        "process-1".into(),
        "cart-1".into(),
        IdempotencyKey::from_string("key-1".into()),
    )
}

/// After PrepareCart.
pub fn prepared(ports: &FakePorts) -> Context {
    let mut ctx = context();
    ctx.cart_version = Some(ports.cart.version);
    ctx.details = ports.cart.checkout.clone();
    ctx.amount = Some(Money::new(2895, eur()));
    ctx
}

/// After ValidatePaymentSelection.
pub fn with_payment(ports: &FakePorts) -> Context {
    let mut ctx = prepared(ports);
    ctx.payment = Some(PaymentRequest {
        gateway: "test".into(),
        method: "card".into(),
        amount: Money::new(2895, eur()),
        idempotency_key: ctx.idempotency_key.clone(),
        reference: ctx.process_id.clone(),
    });
    ctx
}

/// After CreatePayment.
pub fn started(ports: &FakePorts, early: bool) -> Context {
    let mut ctx = with_payment(ports);
    ctx.payment_start = Some(PaymentStart {
        early_place_order: early,
        provider_reference: None,
    });
    ctx.rollbacks
        .push(Rollback::CancelPayment(ctx.payment.clone().unwrap()));
    ctx
}

/// After CompleteCart.
pub fn frozen(ports: &FakePorts, early: bool) -> Context {
    let mut ctx = started(ports, early);
    ctx.rollbacks.push(Rollback::ReopenCart {
        cart_id: ctx.cart_id.clone(),
    });
    ctx
}

#[test]
fn payment_status_names_are_stable() {
    assert_eq!(
        PaymentStatus::parse("started"),
        Some(PaymentStatus::Started)
    );
}
