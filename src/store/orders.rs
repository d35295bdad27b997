//! Placing orders and reading them back.

use super::carts::load_cart;
use super::catalogue::use_voucher;
use super::catalogue_cache::Taken;
use super::mail::queue_order_mails;
use super::outbox::{abandon_registration, event};
use super::prepared::Prepare;
use super::processes::{Fence, Finish, hold_fence, write_step};
use super::rows::{OrderLineRow, OrderRow, PaymentRow, ShippingMethodRow};
use super::schema::{
    carts, counters, order_lines, orders, outbox, payments, products, shipping_methods,
};
use super::{Store, StoreError, StoreResult, now, read, write_tx};
use crate::domain::actor::SYSTEM;
use crate::domain::cart::{Cart, CartStatus};
use crate::domain::checkout::CheckoutDetails;
use crate::domain::events::{EventKind, EventPayload};
use crate::domain::mail::{CancelReason, MailRequest, mails_on_settle};
use crate::domain::money::{Currency, Money};
use crate::domain::order::{Order, OrderLine, OrderNumber, OrderStatus, Payment};
use crate::domain::payment::{IdempotencyKey, PaymentStatus, Settlement};
use crate::domain::placeorder::{
    OrderDraft, OrderRefusal, PlacedOrder, cart_status_after, order_totals,
};
use crate::domain::pricing::Totals;
use crate::ids::new_id;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

/// Inside a write transaction: gives order `$order_id` (unless cancelled)
/// and its payment (`$payment_key`) the `$settlement`'s status, queues the
/// events and mails that settling sends, and orders the cart for good.
macro_rules! settle {
    ($c:ident, $order_id:expr, $payment_key:expr, $settlement:expr) => {{
        let order_id: &str = $order_id;
        let payment_key: Option<&str> = $payment_key;
        let Settlement {
            payment_status,
            order_status,
        } = $settlement;
        let at = now();
        let before: Option<String> = orders::table
            .find(order_id)
            .select(orders::status)
            .first($c)
            .await
            .optional()?;
        // A late settlement (a place-order step run again after its
        // node died) keeps the status of an order that moved on
        // meanwhile (shipped, completed); what else settling does
        // (events, mails, payment, cart) is done all the same, as it
        // may never have been. A cancelled order keeps its status.
        let status = match before.as_deref().and_then(OrderStatus::parse) {
            Some(before) if !before.may_settle_to(order_status) => before,
            _ => order_status,
        };
        diesel::update(
            orders::table
                .find(order_id)
                .filter(orders::status.ne(OrderStatus::Cancelled.as_str())),
        )
        .set((
            orders::status.eq(status.as_str()),
            orders::version.eq(orders::version + 1),
            orders::updated_at.eq(at),
        ))
        .prepared()
        .execute($c)
        .await?;
        let live: Option<(String, Option<String>)> = orders::table
            .find(order_id)
            .filter(orders::status.ne(OrderStatus::Cancelled.as_str()))
            .select((orders::cart_id, orders::registration_id))
            .first($c)
            .await
            .optional()?;
        let cart_id = live.as_ref().map(|(cart, _)| cart.clone());
        if let Some((cart_id, registration_id)) = live {
            let kind = match (payment_status, order_status) {
                (PaymentStatus::Authorized, _) => Some(EventKind::PaymentAuthorized),
                (PaymentStatus::Captured, _) => Some(EventKind::PaymentCaptured),
                (_, OrderStatus::Placed) => Some(EventKind::OrderPlaced),
                _ => None,
            };
            if let Some(kind) = kind {
                let payload = EventPayload {
                    order_id: Some(order_id.to_owned()),
                    registration_id,
                    attempt: payment_key.map(str::to_owned),
                    ..EventPayload::default()
                };
                diesel::insert_into(outbox::table)
                    .values(event(kind, &cart_id, &payload)?)
                    .execute($c)
                    .await?;
            }
            let before = before.as_deref().and_then(OrderStatus::parse);
            if let Some(before) = before {
                let mails = mails_on_settle(before, order_status);
                queue_order_mails!($c, order_id, &mails, SYSTEM);
            }
        }
        if let Some(cart_id) = cart_id {
            diesel::update(
                carts::table
                    .find(&cart_id)
                    .filter(carts::order_id.eq(order_id)),
            )
            .set((
                carts::status.eq(CartStatus::Ordered.as_str()),
                carts::version.eq(carts::version + 1),
                carts::updated_at.eq(at),
            ))
            .prepared()
            .execute($c)
            .await?;
        }
        if let Some(key) = payment_key {
            diesel::update(payments::table.filter(payments::idempotency_key.eq(key)))
                .set((
                    payments::status.eq(payment_status.as_str()),
                    payments::version.eq(payments::version + 1),
                    payments::updated_at.eq(at),
                ))
                .prepared()
                .execute($c)
                .await?;
            // Paid in full at once (automatic capture, a store payment):
            // the back office sees the money as captured.
            if payment_status == PaymentStatus::Captured {
                diesel::update(
                    payments::table
                        .filter(payments::idempotency_key.eq(key))
                        .filter(payments::captured_minor.eq(0)),
                )
                .set(payments::captured_minor.eq(payments::amount_minor))
                .prepared()
                .execute($c)
                .await?;
            }
        }
    }};
}

/// How an order is looked up.
#[derive(Debug, Clone, Copy)]
enum OrderKey<'a> {
    Id(&'a str),
    Number(&'a str),
}

/// Inside the order's transaction: takes each line's quantity from stock,
/// only where enough is left. Products in id order, so concurrent orders
/// lock them alike.
macro_rules! take_stock {
    ($c:expr, $cart:expr) => {{
        use $crate::store::prepared::Prepare as _;
        let mut lines: Vec<_> = $cart.lines.iter().collect();
        lines.sort_by(|a, b| a.product_id.cmp(&b.product_id));
        let mut sold_out = None;
        for line in lines {
            struct StockTaken;
            let taken = diesel::update(
                products::table
                    .find(&line.product_id)
                    .filter(products::stock.ge(line.quantity)),
            )
            .set((
                products::stock.eq(products::stock - line.quantity),
                products::version.eq(products::version + 1),
            ))
            .prepared_as::<StockTaken>()
            .execute($c)
            .await?;
            if taken != 1 {
                sold_out = Some(OrderRefusal::SoldOut(line.name().to_owned()));
                break;
            }
        }
        match sold_out {
            Some(refusal) => Err(PlaceError::Refused(refusal)),
            None => Ok(()),
        }
    }};
}

/// A cancelled order's stock and voucher use go back, in the caller's
/// transaction; products in id order, as every writer of stock takes them.
macro_rules! give_back {
    ($c:expr, $order_id:expr) => {{
        use $crate::store::prepared::Prepare as _;
        use $crate::store::schema::{order_lines, products};
        $crate::store::catalogue::give_back_voucher_use!($c, $order_id);
        let lines: Vec<(String, i64)> = order_lines::table
            .filter(order_lines::order_id.eq($order_id))
            .order(order_lines::product_id.asc())
            .select((order_lines::product_id, order_lines::quantity))
            .load($c)
            .await?;
        for (product_id, quantity) in lines {
            diesel::update(products::table.find(&product_id))
                .set((
                    products::stock.eq(products::stock + quantity),
                    products::version.eq(products::version + 1),
                ))
                .prepared()
                .execute($c)
                .await?;
        }
    }};
}
pub(crate) use give_back;

/// Why an order is cancelled, which decides what becomes of its cart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cancellation<'a> {
    /// Its place-order process rolls back (under the process's lease,
    /// unless a test cancels it directly): the cart stays frozen and the
    /// process's own rollback opens it.
    Rollback { fence: Option<Fence<'a>> },
    /// Its money never came: the payment is cancelled with it and the cart
    /// is the shopper's again.
    PaymentExpired { payment_key: &'a str },
}

/// An order that is not cancelled, the status named as written rather
/// than bound: the partial unique index of a cart's live order
/// (`orders_one_live_per_cart`) serves only a lookup that names its
/// predicate.
#[derive(Debug, Clone, Copy, diesel::query_builder::QueryId)]
pub(super) struct Live;

impl diesel::Expression for Live {
    type SqlType = diesel::sql_types::Bool;
}

impl<QS> diesel::AppearsOnTable<QS> for Live {}

impl<QS> diesel::SelectableExpression<QS> for Live {}

impl<GB> diesel::expression::ValidGrouping<GB> for Live {
    type IsAggregate = diesel::expression::is_aggregate::Never;
}

impl<DB: diesel::backend::Backend> diesel::query_builder::QueryFragment<DB> for Live {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, DB>,
    ) -> QueryResult<()> {
        out.push_identifier("orders")?;
        out.push_sql(".");
        out.push_identifier("status")?;
        out.push_sql(" <> 'cancelled'");
        Ok(())
    }
}

/// Why an order was not placed.
#[derive(Debug, thiserror::Error)]
pub enum PlaceError {
    /// A rule of the domain said no; its text is for the shopper.
    #[error("refused: {0}")]
    Refused(OrderRefusal),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<diesel::result::Error> for PlaceError {
    fn from(e: diesel::result::Error) -> Self {
        Self::Store(e.into())
    }
}

impl Store {
    /// Turns a frozen cart into an order in one transaction: snapshot of
    /// lines and totals, order number, the payment attached, stock taken,
    /// cart closed. The order placed for the cart before is returned again.
    /// `finish`, if given, makes the save of the process that the order
    /// ends: written in the same transaction, after the fence's save.
    pub async fn place_order(
        &self,
        draft: &OrderDraft,
        currency: Currency,
        token: &str,
        fence: &Fence<'_>,
        finish: Option<&Finish<'_>>,
    ) -> Result<PlacedOrder, PlaceError> {
        let placed = write_tx!(self, |c| {
            hold_fence!(c, fence);
            // Stock and a voucher use taken by a new order.
            let mut taken = None;
            let placed = 'placed: {
                let existing: Option<(String, String, String)> = orders::table
                    .filter(orders::cart_id.eq(&draft.cart_id))
                    .filter(Live)
                    .select((orders::id, orders::number, orders::token))
                    .first(c)
                    .await
                    .optional()?;
                let payment_key = draft.payment_key.as_ref().map(IdempotencyKey::as_str);
                if let Some((id, number, token)) = existing {
                    // Placed by a run that died before its save: its
                    // settlement, if it had one, is made again (as settling
                    // late would).
                    if let Some(settlement) = draft.settlement {
                        settle!(c, &id, payment_key, settlement);
                    }
                    break 'placed PlacedOrder { id, number, token };
                }
                let Some((cart_row, line_rows)) = load_cart!(c, &draft.cart_id) else {
                    return Err(PlaceError::Refused(OrderRefusal::CartGone));
                };
                let user_id = cart_row.user_id.clone();
                let cart = super::carts::to_cart(cart_row, line_rows)?;
                let details = &draft.details;
                let shipping = shipping_methods::table
                    .find(&details.shipping_method)
                    .select(ShippingMethodRow::as_select())
                    .first(c)
                    .await
                    .optional()?
                    .map(ShippingMethodRow::into_domain)
                    .transpose()?;
                // The voucher as the shop keeps it now, not as the cart saw it:
                // checked and its use counted here, in the order's transaction.
                let voucher = match &details.voucher {
                    Some(applied) => {
                        Some(use_voucher!(c, &applied.code).map_err(|problem| {
                            PlaceError::Refused(OrderRefusal::Voucher(problem))
                        })?)
                    }
                    None => None,
                };
                let priced =
                    order_totals(draft, &cart, shipping.as_ref(), voucher.as_ref(), currency)
                        .map_err(PlaceError::Refused)?;

                struct NextOrderNumber;
                let sequence: i64 = diesel::update(counters::table.find("order_number"))
                    .set(counters::value.eq(counters::value + 1))
                    .returning(counters::value)
                    .prepared_as::<NextOrderNumber>()
                    .get_result(c)
                    .await?;
                let number = OrderNumber::from_sequence(sequence);
                let order_id = new_id();
                let at = now();
                let row = order_row(
                    &order_id,
                    number.as_str(),
                    token,
                    user_id,
                    draft,
                    &priced,
                    currency,
                    at,
                )?;
                diesel::insert_into(orders::table)
                    .values(row)
                    .execute(c)
                    .await?;
                // diesel-async has no multi-row INSERT on SQLite; rows go one by one
                // inside the same transaction, which costs no extra commit.
                for line in order_lines_of(&order_id, &cart) {
                    diesel::insert_into(order_lines::table)
                        .values(line)
                        .execute(c)
                        .await?;
                }
                if let Some(key) = &draft.payment_key {
                    struct PaymentOfOrder;
                    diesel::update(
                        payments::table.filter(payments::idempotency_key.eq(key.as_str())),
                    )
                    .set((
                        payments::order_id.eq(&order_id),
                        payments::version.eq(payments::version + 1),
                        payments::updated_at.eq(at),
                    ))
                    .prepared_as::<PaymentOfOrder>()
                    .execute(c)
                    .await?;
                }
                take_stock!(c, &cart)?;
                taken = Some(Taken {
                    stock: cart
                        .lines
                        .iter()
                        .map(|line| (line.product_id.clone(), line.quantity))
                        .collect(),
                    voucher: details.voucher.as_ref().map(|v| v.code.clone()),
                });
                struct CartOrdered;
                diesel::update(carts::table.find(&draft.cart_id))
                    .set((
                        carts::status.eq(cart_status_after(draft.status).as_str()),
                        carts::order_id.eq(&order_id),
                        carts::version.eq(carts::version + 1),
                        carts::updated_at.eq(at),
                    ))
                    .prepared_as::<CartOrdered>()
                    .execute(c)
                    .await?;
                if let Some(settlement) = draft.settlement {
                    settle!(c, &order_id, payment_key, settlement);
                }
                PlacedOrder {
                    id: order_id,
                    number: number.as_str().to_owned(),
                    token: token.to_owned(),
                }
            };
            if let Some(finish) = finish {
                let save = finish(&placed)?;
                if write_step!(c, fence.process_id, fence.holder, &save)? == 0 {
                    return Err(StoreError::Conflict("the process moved on meanwhile").into());
                }
            }
            Ok((placed, taken))
        });
        match &placed {
            Ok((_, Some(taken))) => self.catalogue.took(taken),
            // Placed by an earlier run, which may not have got as far as
            // saying so; or a failed commit, which may have landed.
            _ => self.catalogue.changed(),
        }
        placed.map(|(placed, _)| placed)
    }

    /// The cart's order that is not cancelled, if any: the one a running
    /// attempt placed (or is placing).
    pub async fn live_order_of_cart(&self, cart_id: &str) -> StoreResult<Option<PlacedOrder>> {
        let live: Option<(String, String, String)> = read!(self, |c| {
            orders::table
                .filter(orders::cart_id.eq(cart_id))
                .filter(Live)
                .select((orders::id, orders::number, orders::token))
                .first(c)
                .await
                .optional()
        })?;
        Ok(live.map(|(id, number, token)| PlacedOrder { id, number, token }))
    }

    /// Cancels an order that is not cancelled yet, in one transaction:
    /// stock back, the events queued for the order's own registration, and
    /// its cart released as `why` says, only if the cart still belongs to
    /// this order (a newer attempt's cart is never touched).
    pub async fn cancel_order(&self, order_id: &str, why: Cancellation<'_>) -> StoreResult<()> {
        let cancelled = write_tx!(self, |c| {
            if let Cancellation::Rollback { fence: Some(fence) } = &why {
                hold_fence!(c, fence);
            }
            let order: Option<(String, String, Option<String>)> = orders::table
                .find(order_id)
                .select((orders::cart_id, orders::status, orders::registration_id))
                .first(c)
                .await
                .optional()?;
            let Some((cart_id, status, registration_id)) = order else {
                return Ok(());
            };
            let at = now();
            let attempt = match why {
                Cancellation::Rollback { .. } => None,
                Cancellation::PaymentExpired { payment_key } => {
                    let expired = diesel::update(
                        payments::table
                            .filter(payments::idempotency_key.eq(payment_key))
                            .filter(payments::status.eq(PaymentStatus::Pending.as_str())),
                    )
                    .set((
                        payments::status.eq(PaymentStatus::Cancelled.as_str()),
                        payments::version.eq(payments::version + 1),
                        payments::updated_at.eq(at),
                    ))
                    .prepared()
                    .execute(c)
                    .await?;
                    if expired == 1 {
                        let payload = EventPayload {
                            order_id: Some(order_id.to_owned()),
                            registration_id: registration_id.clone(),
                            attempt: Some(payment_key.to_owned()),
                            ..EventPayload::default()
                        };
                        diesel::insert_into(outbox::table)
                            .values(event(EventKind::PaymentExpired, &cart_id, &payload)?)
                            .execute(c)
                            .await?;
                    }
                    Some(payment_key.to_owned())
                }
            };
            if status == OrderStatus::Cancelled.as_str() {
                return Ok(());
            }
            let cancelled = diesel::update(
                orders::table
                    .find(order_id)
                    .filter(orders::status.ne(OrderStatus::Cancelled.as_str())),
            )
            .set((
                orders::status.eq(OrderStatus::Cancelled.as_str()),
                orders::version.eq(orders::version + 1),
                orders::updated_at.eq(at),
            ))
            .prepared()
            .execute(c)
            .await?;
            // Someone else cancelled it first (PostgreSQL runs both reads
            // before either write): the stock went back once already.
            if cancelled == 0 {
                return Ok(());
            }
            give_back!(c, order_id);
            abandon_registration!(c, &registration_id);
            let payload = EventPayload {
                order_id: Some(order_id.to_owned()),
                registration_id,
                attempt,
                ..EventPayload::default()
            };
            diesel::insert_into(outbox::table)
                .values(event(EventKind::OrderCancelled, &cart_id, &payload)?)
                .execute(c)
                .await?;
            if let Cancellation::PaymentExpired { .. } = why {
                let mail = [MailRequest::cancelled(CancelReason::PaymentExpired)];
                queue_order_mails!(c, order_id, &mail, SYSTEM);
            }
            let cart_status = match why {
                Cancellation::Rollback { .. } => CartStatus::Frozen,
                Cancellation::PaymentExpired { .. } => CartStatus::Open,
            };
            diesel::update(
                carts::table
                    .find(&cart_id)
                    .filter(carts::order_id.eq(order_id)),
            )
            .set((
                carts::status.eq(cart_status.as_str()),
                carts::order_id.eq(None::<String>),
                carts::version.eq(carts::version + 1),
                carts::updated_at.eq(at),
            ))
            .prepared()
            .execute(c)
            .await?;
            Ok::<_, StoreError>(())
        });
        // Stock and voucher uses given back.
        self.catalogue.changed();
        cancelled
    }

    /// Gives an order (unless cancelled) and its payment their final
    /// status; its cart is ordered for good. A place-order step settles
    /// under its process's lease (`fence`).
    pub async fn settle_order(
        &self,
        order_id: &str,
        payment_key: Option<&str>,
        settlement: Settlement,
        fence: Option<&Fence<'_>>,
    ) -> StoreResult<()> {
        write_tx!(self, |c| {
            if let Some(fence) = fence {
                hold_fence!(c, fence);
            }
            settle!(c, order_id, payment_key, settlement);
            Ok::<_, StoreError>(())
        })
    }

    /// The order with this number, lines and payment included.
    pub async fn order_by_number(&self, number: &str) -> StoreResult<Option<Order>> {
        self.load_order(OrderKey::Number(number)).await
    }

    /// The order with this id, lines and payment included.
    pub async fn order(&self, id: &str) -> StoreResult<Option<Order>> {
        self.load_order(OrderKey::Id(id)).await
    }

    async fn load_order(&self, key: OrderKey<'_>) -> StoreResult<Option<Order>> {
        let loaded = read!(self, |c| {
            // Two queries of their own, not one boxed: each stays a
            // prepared statement cached by its type.
            let order: Option<OrderRow> = match key {
                OrderKey::Id(id) => orders::table
                    .find(id)
                    .select(OrderRow::as_select())
                    .first(c)
                    .await
                    .optional()?,
                OrderKey::Number(number) => orders::table
                    .filter(orders::number.eq(number))
                    .select(OrderRow::as_select())
                    .first(c)
                    .await
                    .optional()?,
            };
            match order {
                None => Ok::<_, StoreError>(None),
                Some(order) => {
                    let lines: Vec<OrderLineRow> = order_lines::table
                        .filter(order_lines::order_id.eq(&order.id))
                        .order(order_lines::position.asc())
                        .select(OrderLineRow::as_select())
                        .load(c)
                        .await?;
                    let payment: Option<PaymentRow> = payments::table
                        .filter(payments::order_id.eq(&order.id))
                        .order(payments::created_at.desc())
                        .select(PaymentRow::as_select())
                        .first(c)
                        .await
                        .optional()?;
                    Ok(Some((order, lines, payment)))
                }
            }
        })?;
        loaded
            .map(|(order, lines, payment)| to_order(order, lines, payment))
            .transpose()
    }

    /// The checkout details of a user's latest order, to prefill the form.
    pub async fn last_order_details(&self, user_id: &str) -> StoreResult<Option<CheckoutDetails>> {
        let json: Option<String> = read!(self, |c| {
            orders::table
                .filter(orders::user_id.eq(user_id))
                .order(orders::created_at.desc())
                .select(orders::details)
                .first(c)
                .await
                .optional()
        })?;
        json.map(|j| serde_json::from_str(&j).map_err(|e| StoreError::Corrupt(e.to_string())))
            .transpose()
    }

    /// Orders that are not cancelled (checks of "one cart, one order").
    #[cfg(feature = "test-support")]
    pub async fn count_live_orders(&self) -> StoreResult<i64> {
        Ok(read!(self, |c| {
            orders::table
                .filter(orders::status.ne(OrderStatus::Cancelled.as_str()))
                .count()
                .get_result::<i64>(c)
                .await
        })?)
    }
}

/// The order row of a draft, priced as `totals` says.
#[allow(clippy::too_many_arguments)]
fn order_row(
    id: &str,
    number: &str,
    token: &str,
    user_id: Option<String>,
    draft: &OrderDraft,
    totals: &Totals,
    currency: Currency,
    at: time::PrimitiveDateTime,
) -> StoreResult<OrderRow> {
    let details = &draft.details;
    Ok(OrderRow {
        id: id.to_owned(),
        number: number.to_owned(),
        token: token.to_owned(),
        cart_id: draft.cart_id.clone(),
        user_id,
        email: details.email.as_str().to_owned(),
        status: draft.status.as_str().into(),
        currency: currency.as_str().into(),
        subtotal_minor: totals.subtotal.minor,
        shipping_minor: totals.shipping.minor,
        discount_minor: totals.discount.minor,
        vat_minor: totals.vat.minor,
        total_minor: totals.total.minor,
        shipping_method: details.shipping_method.clone(),
        voucher_code: details.voucher.as_ref().map(|v| v.code.clone()),
        details: serde_json::to_string(details).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        version: 1,
        created_at: at,
        updated_at: at,
        registration_id: draft.registration_id.clone(),
    })
}

/// The cart's lines as order lines, in the cart's order.
fn order_lines_of(order_id: &str, cart: &Cart) -> Vec<OrderLineRow> {
    cart.lines
        .iter()
        .enumerate()
        .map(|(i, line)| OrderLineRow {
            order_id: order_id.to_owned(),
            position: i as i64 + 1,
            product_id: line.product_id.clone(),
            name: line.name().to_owned(),
            quantity: line.quantity,
            unit_price_minor: line.unit_price.minor,
            vat_rate_bp: line.product.as_ref().map(|p| p.vat_rate_bp).unwrap_or(0),
            total_minor: line.total().minor,
        })
        .collect()
}

fn to_order(
    row: OrderRow,
    lines: Vec<OrderLineRow>,
    payment: Option<PaymentRow>,
) -> StoreResult<Order> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("order {}: {what}", row.number));
    let currency = Currency::parse(&row.currency).map_err(|_| corrupt("currency"))?;
    let money = |minor| Money::new(minor, currency);
    let details: CheckoutDetails =
        serde_json::from_str(&row.details).map_err(|_| corrupt("details"))?;
    let payment = payment
        .map(|p| -> StoreResult<Payment> {
            Ok(Payment {
                status: PaymentStatus::parse(&p.status).ok_or_else(|| corrupt("payment status"))?,
                id: p.id,
                gateway: p.gateway,
                method: p.method,
                amount: money(p.amount_minor),
                provider_reference: p.provider_reference,
                captured_minor: p.captured_minor,
                refunded_minor: p.refunded_minor,
                released: p.released,
            })
        })
        .transpose()?;
    Ok(Order {
        number: OrderNumber::parse(&row.number).ok_or_else(|| corrupt("number"))?,
        status: OrderStatus::parse(&row.status).ok_or_else(|| corrupt("status"))?,
        totals: Totals {
            subtotal: money(row.subtotal_minor),
            shipping: money(row.shipping_minor),
            discount: money(row.discount_minor),
            vat: money(row.vat_minor),
            total: money(row.total_minor),
        },
        lines: lines
            .into_iter()
            .map(|l| OrderLine {
                product_id: l.product_id,
                name: l.name,
                quantity: l.quantity,
                unit_price: money(l.unit_price_minor),
                vat_rate_bp: l.vat_rate_bp,
                total: money(l.total_minor),
            })
            .collect(),
        cart_id: row.cart_id,
        id: row.id,
        token: row.token,
        details,
        shipping_method: row.shipping_method,
        payment,
        created_at: row.created_at,
        version: row.version,
    })
}
