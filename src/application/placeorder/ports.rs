//! The world as the place-order states see it: the store and the gateways.

use crate::application::Shop;
use crate::domain::cart::Cart;
use crate::domain::catalogue::ShippingMethod;
use crate::domain::events::EventKind;
use crate::domain::money::Currency;
use crate::domain::payment::{
    FlowStatus, IdempotencyKey, PaymentMethodOption, PaymentRequest, PaymentStart, Settlement,
};
use crate::domain::placeorder::{OrderDraft, PlacedOrder, PortError, Ports, Process};
use crate::ids::random_token;
use crate::payment::{GatewayError, PaymentGateway};
use crate::store::StoreError;
use crate::store::orders::{Cancellation, PlaceError};
use crate::store::payments::StartedPayment;
use crate::store::processes::{Fence, Finish, StepSave};
use std::sync::Arc;

pub struct ShopPorts<'a> {
    shop: &'a Shop,
    cart_id: &'a str,
    /// The lease the step runs under: its store changes land only while held.
    fence: Fence<'a>,
    /// The buyer's registration of the attempt being stepped.
    registration_id: Option<&'a str>,
    /// The cart as last read in this pass, until a step changes it: the
    /// states that only read it run back to back. A copy gone stale meanwhile
    /// is caught when the cart is frozen at the reviewed version.
    cart: Option<Cart>,
    /// A save of the process waiting for the next change a step makes in
    /// the store, to travel in its transaction (`Fence::carries`); written
    /// on its own before anything outside the store changes. With it, the
    /// process it saves.
    pending: Option<(StepSave, Process)>,
    /// A payment only the shop knows of (cash), started and waiting, like
    /// a save, for the next change in the store or the end of the pass.
    recording: Option<StartedPayment>,
    /// The process's final save was written with the order that ended it:
    /// the coordinator has nothing left to save.
    finished: bool,
    /// Saves written since the coordinator last asked (each moves the
    /// stored version on by one).
    landed: i64,
    /// A save found the lease with another holder.
    lost_lease: bool,
}

impl<'a> ShopPorts<'a> {
    pub fn new(
        shop: &'a Shop,
        cart_id: &'a str,
        registration_id: Option<&'a str>,
        fence: Fence<'a>,
    ) -> Self {
        Self {
            shop,
            cart_id,
            fence,
            registration_id,
            cart: None,
            pending: None,
            recording: None,
            finished: false,
            landed: 0,
            lost_lease: false,
        }
    }

    /// Lets the save of `process` wait for the next change a step makes,
    /// replacing a save still waiting (the newer one says all the older
    /// one would).
    pub fn carry(&mut self, process: &Process) -> Result<(), StoreError> {
        let save = StepSave::of(process, self.shop.lease())?;
        self.pending = Some((save, process.clone()));
        Ok(())
    }

    /// Whether the process was saved final with its order since the last
    /// call.
    pub fn take_finished(&mut self) -> bool {
        std::mem::take(&mut self.finished)
    }

    /// A save still waiting is made moot by one written now.
    pub fn drop_pending(&mut self) {
        self.pending = None;
    }

    /// Whether a started payment waits to be recorded: a save the
    /// coordinator writes now goes with it (`carry`, then `flush`).
    pub fn records_payment(&self) -> bool {
        self.recording.is_some()
    }

    /// How many saves were written since the last call.
    pub fn take_landed(&mut self) -> i64 {
        std::mem::take(&mut self.landed)
    }

    pub fn lost_lease(&self) -> bool {
        self.lost_lease
    }

    /// Writes a waiting save on its own, with a payment waiting to be
    /// recorded: before a change outside the store, and when a pass ends.
    pub async fn flush(&mut self) -> Result<(), PortError> {
        if self.recording.is_some() {
            return match self.shop.store.land(&self.fence()).await {
                Ok(()) => {
                    self.changed();
                    Ok(())
                }
                Err(StoreError::Conflict(_)) => {
                    self.lost_lease = true;
                    Err(PortError::Unavailable(
                        "the attempt passed to another holder of its lease".into(),
                    ))
                }
                Err(e) => Err(store_error(e)),
            };
        }
        let Some((save, process)) = self.pending.take() else {
            return Ok(());
        };
        let fence = self.fence;
        match self
            .shop
            .store
            .save_step(fence.process_id, fence.holder, &save)
            .await
        {
            Ok(true) => {
                self.landed += 1;
                Ok(())
            }
            Ok(false) => {
                self.lost_lease = true;
                Err(PortError::Unavailable(
                    "the attempt passed to another holder of its lease".into(),
                ))
            }
            Err(e) => {
                self.pending = Some((save, process));
                Err(store_error(e))
            }
        }
    }

    /// The fence for a change in the store, carrying the waiting save and
    /// the payment waiting to be recorded.
    fn fence(&self) -> Fence<'_> {
        Fence {
            carries: self.pending.as_ref().map(|(save, _)| save),
            records: self.recording.as_ref(),
            ..self.fence
        }
    }

    /// The change the fence was given to made it: so did its save and its
    /// payment.
    fn changed(&mut self) {
        self.recording = None;
        if self.pending.take().is_some() {
            self.landed += 1;
        }
    }

    fn gateway(&self, request: &PaymentRequest) -> Result<&Arc<dyn PaymentGateway>, PortError> {
        self.shop.gateways.get(&request.gateway).ok_or_else(|| {
            PortError::Refused(
                "This payment method is no longer offered. Please choose another one.".into(),
            )
        })
    }

    /// The request's gateway, ready to be called. Where the process stands
    /// is stored before a call to a gateway that holds payments outside
    /// the shop, which may change something there or wait for it. Calls to
    /// one that holds nothing outside (cash) change nothing and wait for
    /// nobody: a waiting save goes on waiting for the next change in the
    /// store.
    async fn ready(
        &mut self,
        request: &PaymentRequest,
    ) -> Result<Arc<dyn PaymentGateway>, PortError> {
        let gateway = Arc::clone(self.gateway(request)?);
        if gateway.held_outside() {
            self.flush().await?;
        }
        Ok(gateway)
    }
}

/// Unreadable data stays unreadable however often a step is retried.
fn store_error(e: StoreError) -> PortError {
    match e {
        StoreError::Corrupt(_) => PortError::Broken(e.to_string()),
        _ => PortError::Unavailable(e.to_string()),
    }
}

fn gateway_error(e: GatewayError) -> PortError {
    match e {
        GatewayError::Refused(message) => PortError::Refused(message),
        GatewayError::Unavailable(message) => PortError::Unavailable(message),
    }
}

#[async_trait::async_trait]
impl Ports for ShopPorts<'_> {
    fn currency(&self) -> Currency {
        self.shop.currency
    }

    fn payment_methods(&self) -> Vec<PaymentMethodOption> {
        self.shop.gateways.methods()
    }

    async fn cart(&mut self, cart_id: &str) -> Result<Option<Cart>, PortError> {
        if let Some(cart) = self.cart.as_ref().filter(|c| c.id == cart_id) {
            return Ok(Some(cart.clone()));
        }
        let cart = self.shop.store.cart(cart_id).await.map_err(store_error)?;
        self.cart.clone_from(&cart);
        Ok(cart)
    }

    async fn shipping_method(&mut self, code: &str) -> Result<Option<ShippingMethod>, PortError> {
        let methods = self
            .shop
            .store
            .shipping_methods()
            .await
            .map_err(store_error)?;
        Ok(methods.into_iter().find(|m| m.code == code))
    }

    async fn start_payment(&mut self, request: &PaymentRequest) -> Result<PaymentStart, PortError> {
        let gateway = self.ready(request).await?;
        let start = gateway.start_flow(request).await.map_err(gateway_error)?;
        crate::crash::point("placeorder.payment_started");
        let started = StartedPayment::new(
            self.cart_id,
            request,
            start.provider_reference.as_deref(),
            self.registration_id,
        );
        if gateway.held_outside() {
            self.shop
                .store
                .record_payment_started(&started)
                .await
                .map_err(store_error)?;
        } else {
            // Nothing outside holds it: recorded with the next change (the
            // cart's freeze), as the waiting save is.
            self.recording = Some(started);
        }
        crate::crash::point("placeorder.payment_recorded");
        Ok(start)
    }

    async fn payment_status(&mut self, request: &PaymentRequest) -> Result<FlowStatus, PortError> {
        // Not a change, but maybe a wait on the provider (`ready`).
        self.ready(request)
            .await?
            .flow_status(request)
            .await
            .map_err(gateway_error)
    }

    fn held_outside(&self, request: &PaymentRequest) -> bool {
        // A gateway no longer offered is asked, and says so, at its call.
        self.gateway(request).map_or(true, |g| g.held_outside())
    }

    async fn confirm_payment(&mut self, request: &PaymentRequest) -> Result<(), PortError> {
        self.ready(request)
            .await?
            .confirm(request)
            .await
            .map_err(gateway_error)?;
        crate::crash::point("placeorder.payment_confirmed");
        Ok(())
    }

    async fn cancel_payment(&mut self, request: &PaymentRequest) -> Result<(), PortError> {
        match self.ready(request).await?.cancel(request).await {
            // Refused: nothing there to void (never created, or expired).
            Ok(()) | Err(GatewayError::Refused(_)) => {}
            Err(e) => return Err(gateway_error(e)),
        }
        // A payment waiting to be recorded is recorded before it is voided.
        self.flush().await?;
        crate::crash::point("placeorder.payment_voided");
        self.shop
            .store
            .record_payment_cancelled(request.idempotency_key.as_str(), EventKind::PaymentFailed)
            .await
            .map_err(store_error)
    }

    async fn freeze_cart(&mut self, cart_id: &str, version: i64) -> Result<bool, PortError> {
        self.cart = None;
        let frozen = self
            .shop
            .store
            .freeze_cart(cart_id, version, &self.fence())
            .await
            .map_err(store_error)?;
        self.changed();
        crate::crash::point("placeorder.cart_frozen");
        Ok(frozen)
    }

    async fn reopen_cart(&mut self, cart_id: &str) -> Result<(), PortError> {
        self.cart = None;
        self.shop
            .store
            .reopen_cart(cart_id, &self.fence())
            .await
            .map_err(store_error)?;
        self.changed();
        crate::crash::point("placeorder.cart_reopened");
        Ok(())
    }

    async fn place_order(&mut self, draft: &OrderDraft) -> Result<PlacedOrder, PortError> {
        self.cart = None;
        // An order settled as it is placed ends the process: its final
        // save, made as `place_order::run` makes it, goes with the order.
        let lease = self.shop.lease();
        let ending = draft
            .settlement
            .and(self.pending.as_ref())
            .map(|(_, process)| {
                move |order: &PlacedOrder| {
                    let mut done = process.clone();
                    // After the save the fence carries.
                    done.version += 1;
                    done.state =
                        crate::domain::placeorder::settled(&mut done.context, order.clone());
                    StepSave::of(&done, lease)
                }
            });
        let finish = ending.as_ref().map(|f| f as &Finish<'_>);
        let mut last = None;
        for _ in 0..3 {
            match self
                .shop
                .store
                .place_order(
                    draft,
                    self.shop.currency,
                    &random_token(),
                    &self.fence(),
                    finish,
                )
                .await
            {
                Ok(order) => {
                    if finish.is_some() {
                        self.landed += 1;
                        self.finished = true;
                    }
                    self.changed();
                    crate::crash::point("placeorder.order_placed");
                    return Ok(order);
                }
                Err(PlaceError::Refused(refusal)) => {
                    return Err(PortError::Refused(refusal.to_string()));
                }
                // Lost a race on a shared row: the retry sees the winner's work.
                Err(PlaceError::Store(e)) if e.is_retryable() => last = Some(e),
                Err(PlaceError::Store(e)) => return Err(store_error(e)),
            }
        }
        Err(store_error(
            last.unwrap_or(StoreError::Conflict("placing the order")),
        ))
    }

    async fn live_order(&mut self, cart_id: &str) -> Result<Option<PlacedOrder>, PortError> {
        self.shop
            .store
            .live_order_of_cart(cart_id)
            .await
            .map_err(store_error)
    }

    async fn cancel_order(&mut self, order_id: &str) -> Result<(), PortError> {
        self.cart = None;
        self.shop
            .store
            .cancel_order(
                order_id,
                Cancellation::Rollback {
                    fence: Some(self.fence()),
                },
            )
            .await
            .map_err(store_error)?;
        self.changed();
        crate::crash::point("placeorder.order_cancelled");
        Ok(())
    }

    async fn settle_order(
        &mut self,
        order_id: &str,
        payment_key: Option<&IdempotencyKey>,
        settlement: Settlement,
    ) -> Result<(), PortError> {
        self.shop
            .store
            .settle_order(
                order_id,
                payment_key.map(IdempotencyKey::as_str),
                settlement,
                Some(&self.fence()),
            )
            .await
            .map_err(store_error)?;
        self.changed();
        crate::crash::point("placeorder.order_settled");
        Ok(())
    }
}
