//! The shared world of the model: the store (cart, process row with its
//! lease, payment row, orders, webhook log) and the payment provider, all
//! in memory. `Shop` gives the states the same `Ports` the shop does; each
//! port call changes this world as the store's transaction or the
//! gateway's request would, in one indivisible step.

use super::super::fake::{cart, payment_methods, shipping};
use super::super::order_rules::{cart_status_after, order_totals};
use super::super::{OrderDraft, PlacedOrder, PortError, Ports, Process};
use crate::domain::cart::{Cart, CartStatus};
use crate::domain::catalogue::ShippingMethod;
use crate::domain::money::Currency;
use crate::domain::order::OrderStatus;
use crate::domain::payment::{
    CustomerAction, FlowStatus, IdempotencyKey, PaymentMethodOption, PaymentRequest, PaymentStart,
    PaymentStatus, Settlement,
};

/// A deliberately broken store, to show the checker catches it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flaw {
    /// The process save checks neither version nor lease holder. (Without
    /// the version check alone nothing changes: every request is a lease
    /// holder of its own, so the holder check already refuses every stale
    /// save.)
    BlindSave,
    /// The store's changes ignore the lease (no `hold_fence!`).
    NoFence,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// Whether the gateway wants the order placed before the approval.
    pub early_place_order: bool,
    /// Node crashes in one run, at any step.
    pub max_crashes: u8,
    /// How often the provider sends each webhook (at most).
    pub deliveries: u8,
    /// Whether a lease may expire while its holder still runs (a node
    /// paused for longer than the lease); otherwise only a crashed
    /// node's lease expires.
    pub paused_holders: bool,
    /// Explore only this deep (no liveness check then).
    pub depth_limit: Option<u32>,
    pub flaw: Option<Flaw>,
}

/// Who holds a lease: a node, in one of its lives (a restarted node is
/// another holder, as every request has its own).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Holder {
    pub node: u8,
    pub life: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    pub holder: Holder,
    pub expired: bool,
}

/// The payment as the provider keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AtProvider {
    /// Started; the shopper can pay once shown the way.
    Open,
    /// The shopper acted; the money is on its way (pending).
    Waiting,
    /// The money is reserved for the shop.
    Authorized,
    Declined,
    Voided,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PaymentRow {
    pub status: PaymentStatus,
    pub order: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderRow {
    pub status: OrderStatus,
    pub with_payment: bool,
}

impl OrderRow {
    pub fn live(&self) -> bool {
        self.status != OrderStatus::Cancelled
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CartRow {
    pub status: CartStatus,
    pub version: i64,
    pub order: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredProcess {
    pub process: Process,
    pub lease: Option<Lease>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Webhook {
    /// Deliveries the provider may still make.
    pub copies: u8,
    /// Recorded as applied (later copies are duplicates).
    pub seen: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct World {
    pub config: Config,
    pub cart: CartRow,
    pub stored: StoredProcess,
    pub provider: Option<AtProvider>,
    pub payment: Option<PaymentRow>,
    pub orders: Vec<OrderRow>,
    pub webhooks: Vec<Webhook>,
    /// Whether the shopper has been shown the way to pay.
    pub offered: bool,
    /// Whether the shopper used the cancel link (once per run).
    pub cancelled: bool,
    /// History: a payment action shown from a copy of the process that
    /// was never saved (the store may hold its rollback already).
    pub offered_unsaved: bool,
    /// History: the final state the process was saved in.
    pub ended: Option<super::super::State>,
}

const CART_ID: &str = "cart-1";
/// The attempt's key, as `begin_attempt` renewed it.
const KEY: &str = "attempt-1";

impl World {
    /// A cart the shopper reviewed and a process begun for it
    /// (`begin_attempt` bumped the cart's version once more).
    pub fn new(config: Config) -> Self {
        let mut process = Process::new(
            "process-1".into(),
            CART_ID.into(),
            IdempotencyKey::from_string(KEY.into()),
        );
        let version = cart().version + 1;
        process.context.reviewed_version = Some(version);
        Self {
            config,
            cart: CartRow {
                status: CartStatus::Open,
                version,
                order: None,
            },
            stored: StoredProcess {
                process,
                lease: None,
            },
            provider: None,
            payment: None,
            orders: Vec::new(),
            webhooks: Vec::new(),
            offered: false,
            cancelled: false,
            offered_unsaved: false,
            ended: None,
        }
    }

    fn cart(&self) -> Cart {
        let mut cart = cart();
        cart.status = self.cart.status;
        cart.version = self.cart.version;
        cart.order_id = self.cart.order.map(order_id);
        // The attempt's key on the cart's payment selection.
        if let Some(payment) = cart.checkout.as_mut().and_then(|d| d.payment.as_mut()) {
            payment.renew_key(IdempotencyKey::from_string(KEY.into()));
        }
        cart
    }

    /// `take_process_lease`: free, this holder's, or expired; never for a
    /// final process.
    pub fn take_lease(&mut self, holder: Holder) -> bool {
        if self.stored.process.state.is_final() {
            return false;
        }
        let free = match self.stored.lease {
            None => true,
            Some(lease) => lease.holder == holder || lease.expired,
        };
        if free {
            self.stored.lease = Some(Lease {
                holder,
                expired: false,
            });
        }
        free
    }

    /// `save_process`: a compare-and-swap on the version and the lease
    /// holder, renewing the lease.
    pub fn save_process(&mut self, process: &Process, holder: Holder) -> bool {
        let flaw = self.config.flaw;
        let version_ok =
            self.stored.process.version == process.version || flaw == Some(Flaw::BlindSave);
        let holder_ok =
            self.stored.lease.is_some_and(|l| l.holder == holder) || flaw == Some(Flaw::BlindSave);
        if !(version_ok && holder_ok) {
            return false;
        }
        let mut saved = process.clone();
        saved.version = process.version + 1;
        if saved.state.is_final() {
            self.ended.get_or_insert(saved.state);
        }
        self.stored.process = saved;
        if let Some(lease) = self.stored.lease.as_mut() {
            lease.expired = false;
        }
        true
    }

    pub fn release_lease(&mut self, holder: Holder) {
        if self.stored.lease.is_some_and(|l| l.holder == holder) {
            self.stored.lease = None;
        }
    }

    /// The provider tells the shop by webhook whenever the payment moves.
    pub fn provider_moves(&mut self, to: AtProvider) {
        self.provider = Some(to);
        self.webhooks.push(Webhook {
            copies: self.config.deliveries,
            seen: false,
        });
    }

    pub fn live_orders(&self) -> usize {
        self.orders.iter().filter(|o| o.live()).count()
    }
}

pub fn order_id(index: usize) -> String {
    format!("order-{index}")
}

fn placed(index: usize) -> PlacedOrder {
    PlacedOrder {
        id: order_id(index),
        number: format!("K-{index:06}"),
        token: "token".into(),
    }
}

fn order_index(id: &str) -> Option<usize> {
    id.strip_prefix("order-")?.parse().ok()
}

/// The `Ports` of one node's step, over the shared world.
pub struct Shop<'a> {
    pub world: &'a mut World,
    /// The step's lease holder: as in the store, its changes to the cart
    /// and the orders land only while it holds the process's lease.
    pub holder: Holder,
}

impl Shop<'_> {
    /// The store's `hold_fence!`.
    fn fenced(&self) -> Result<(), PortError> {
        if self.world.config.flaw == Some(Flaw::NoFence)
            || self
                .world
                .stored
                .lease
                .is_some_and(|l| l.holder == self.holder)
        {
            Ok(())
        } else {
            Err(PortError::Unavailable(
                "the attempt passed to another holder of its lease".into(),
            ))
        }
    }
}

fn refused(what: &str) -> PortError {
    PortError::Refused(what.into())
}

#[async_trait::async_trait]
impl Ports for Shop<'_> {
    fn currency(&self) -> Currency {
        super::super::fake::eur()
    }

    fn payment_methods(&self) -> Vec<PaymentMethodOption> {
        payment_methods()
    }

    async fn cart(&mut self, _cart_id: &str) -> Result<Option<Cart>, PortError> {
        Ok(Some(self.world.cart()))
    }

    async fn shipping_method(&mut self, _code: &str) -> Result<Option<ShippingMethod>, PortError> {
        Ok(Some(shipping()))
    }

    /// The provider opens the session once per key; the shop records the
    /// payment once.
    async fn start_payment(
        &mut self,
        _request: &PaymentRequest,
    ) -> Result<PaymentStart, PortError> {
        self.world.provider.get_or_insert(AtProvider::Open);
        self.world.payment.get_or_insert(PaymentRow {
            status: PaymentStatus::Started,
            order: None,
        });
        Ok(PaymentStart {
            early_place_order: self.world.config.early_place_order,
            provider_reference: Some("session-1".into()),
        })
    }

    /// As the hosted gateway maps its session.
    async fn payment_status(&mut self, _request: &PaymentRequest) -> Result<FlowStatus, PortError> {
        let settled = |payment_status, order_status| Settlement {
            payment_status,
            order_status,
        };
        Ok(match self.world.provider {
            None => FlowStatus::Failed {
                reason: "The payment provider does not know this payment.".into(),
            },
            Some(AtProvider::Open) => FlowStatus::Unapproved(CustomerAction::Redirect {
                url: "https://provider.example/pay/session-1".into(),
            }),
            Some(AtProvider::Waiting) => FlowStatus::WaitingForCustomer,
            Some(AtProvider::Authorized) => {
                FlowStatus::Approved(settled(PaymentStatus::Authorized, OrderStatus::Placed))
            }
            Some(AtProvider::Declined) => FlowStatus::Failed {
                reason: "Your card was declined.".into(),
            },
            Some(AtProvider::Voided) => FlowStatus::Aborted,
        })
    }

    /// The model's payments are a provider's.
    fn held_outside(&self, _request: &PaymentRequest) -> bool {
        true
    }

    /// Manual capture: nothing to confirm.
    async fn confirm_payment(&mut self, _request: &PaymentRequest) -> Result<(), PortError> {
        Ok(())
    }

    /// Voids the session (refused when nothing is there to void, which the
    /// shop counts as done), then `record_payment_cancelled`.
    async fn cancel_payment(&mut self, _request: &PaymentRequest) -> Result<(), PortError> {
        if matches!(
            self.world.provider,
            Some(AtProvider::Open | AtProvider::Waiting | AtProvider::Authorized)
        ) {
            // The shop's own void: no webhook needed to learn of it.
            self.world.provider = Some(AtProvider::Voided);
        }
        if let Some(row) = self.world.payment.as_mut()
            && !matches!(
                row.status,
                PaymentStatus::Captured | PaymentStatus::Cancelled
            )
        {
            row.status = PaymentStatus::Cancelled;
        }
        Ok(())
    }

    /// `freeze_cart`: open at the version, or frozen already.
    async fn freeze_cart(&mut self, _cart_id: &str, version: i64) -> Result<bool, PortError> {
        self.fenced()?;
        let cart = &mut self.world.cart;
        if cart.version == version && cart.status == CartStatus::Open {
            cart.status = CartStatus::Frozen;
            cart.version += 1;
            return Ok(true);
        }
        Ok(cart.status == CartStatus::Frozen)
    }

    async fn reopen_cart(&mut self, _cart_id: &str) -> Result<(), PortError> {
        self.fenced()?;
        let cart = &mut self.world.cart;
        if cart.status == CartStatus::Frozen {
            cart.status = CartStatus::Open;
            cart.version += 1;
        }
        Ok(())
    }

    /// `place_order`: the live order of the cart again, or a new one under
    /// the store's rules (`order_totals`).
    async fn place_order(&mut self, draft: &OrderDraft) -> Result<PlacedOrder, PortError> {
        self.fenced()?;
        let with_payment = draft.payment_key.is_some();
        if let Some(index) = self.world.orders.iter().position(OrderRow::live) {
            if let Some(settlement) = draft.settlement {
                settle(self.world, index, with_payment, settlement);
            }
            return Ok(placed(index));
        }
        let cart = self.world.cart();
        order_totals(draft, &cart, Some(&shipping()), None, self.currency())
            .map_err(|refusal| PortError::Refused(refusal.to_string()))?;
        let index = self.world.orders.len();
        self.world.orders.push(OrderRow {
            status: draft.status,
            with_payment: draft.payment_key.is_some(),
        });
        if draft.payment_key.is_some()
            && let Some(row) = self.world.payment.as_mut()
        {
            row.order = Some(index);
        }
        let cart = &mut self.world.cart;
        cart.status = cart_status_after(draft.status);
        cart.order = Some(index);
        cart.version += 1;
        if let Some(settlement) = draft.settlement {
            settle(self.world, index, with_payment, settlement);
        }
        Ok(placed(index))
    }

    async fn live_order(&mut self, _cart_id: &str) -> Result<Option<PlacedOrder>, PortError> {
        Ok(self
            .world
            .orders
            .iter()
            .position(OrderRow::live)
            .map(placed))
    }

    /// `cancel_order` for a rollback: the cart stays frozen for the
    /// rollbacks still to come.
    async fn cancel_order(&mut self, order_id: &str) -> Result<(), PortError> {
        self.fenced()?;
        let index = order_index(order_id).ok_or_else(|| refused("no such order"))?;
        let Some(order) = self.world.orders.get_mut(index) else {
            return Ok(());
        };
        if !order.live() {
            return Ok(());
        }
        order.status = OrderStatus::Cancelled;
        let cart = &mut self.world.cart;
        if cart.order == Some(index) {
            cart.status = CartStatus::Frozen;
            cart.order = None;
            cart.version += 1;
        }
        Ok(())
    }

    /// `settle_order`: the order (unless cancelled), its cart and the
    /// payment get their final status.
    async fn settle_order(
        &mut self,
        order_id: &str,
        payment_key: Option<&IdempotencyKey>,
        settlement: Settlement,
    ) -> Result<(), PortError> {
        let index = order_index(order_id).ok_or_else(|| refused("no such order"))?;
        settle(self.world, index, payment_key.is_some(), settlement);
        Ok(())
    }
}

/// Order `index` (unless cancelled), its cart and, `with_payment`, the
/// payment get their final status.
fn settle(world: &mut World, index: usize, with_payment: bool, settlement: Settlement) {
    if let Some(order) = world.orders.get_mut(index)
        && order.live()
    {
        order.status = settlement.order_status;
        let cart = &mut world.cart;
        if cart.order == Some(index) {
            cart.status = CartStatus::Ordered;
            cart.version += 1;
        }
    }
    if with_payment && let Some(row) = world.payment.as_mut() {
        row.status = settlement.payment_status;
    }
}
