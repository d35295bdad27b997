//! Placing orders and reading them back.

use super::carts::load_cart;
use super::rows::{CartLineRow, CartRow, OrderLineRow, OrderRow, PaymentRow, ProductRow};
use super::schema::{
    cart_lines, carts, counters, order_lines, orders, payments, products, shipping_methods,
};
use super::{Store, StoreError, StoreResult, new_id, now, with_conn, write_tx};
use crate::domain::cart::{CartProblem, CartStatus, validate};
use crate::domain::checkout::CheckoutDetails;
use crate::domain::money::{Currency, Money};
use crate::domain::order::{Order, OrderLine, OrderNumber, OrderStatus, Payment, PaymentPlan};
use crate::domain::payment::PaymentStatus;
use crate::domain::pricing::{Totals, totals};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

/// The order of a cart: its number and the secret of its confirmation link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderRef {
    pub number: String,
    pub token: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlaceOutcome {
    Placed(OrderRef),
    /// The cart was ordered before (a double submit): the same order.
    AlreadyPlaced(OrderRef),
    Invalid(Vec<CartProblem>),
    /// The cart is not (or no longer) confirmed by the shopper.
    NotConfirmed,
    NoCart,
}

pub struct PlaceOrder<'a> {
    pub cart_id: &'a str,
    /// The cart version the payment was settled for.
    pub cart_version: i64,
    /// `None` when nothing is to be paid.
    pub payment: Option<PaymentPlan>,
    pub token: String,
    pub currency: Currency,
}

fn order_ref(row: (String, String)) -> OrderRef {
    OrderRef {
        number: row.0,
        token: row.1,
    }
}

impl Store {
    /// Turns a confirmed cart into an order in one transaction: snapshot of
    /// lines and totals, order number, payment row, stock taken, cart closed.
    /// A concurrent placement of the same cart makes this one fail with a
    /// retryable error (cart version or the unique cart id of orders).
    pub async fn place_order(&self, input: &PlaceOrder<'_>) -> StoreResult<PlaceOutcome> {
        write_tx!(self, |c| {
            let Some((cart_row, line_rows)) = load_cart!(c, input.cart_id) else {
                return Ok(PlaceOutcome::NoCart);
            };
            if cart_row.status == CartStatus::Ordered.as_str() {
                let existing: (String, String) = orders::table
                    .filter(orders::cart_id.eq(input.cart_id))
                    .select((orders::number, orders::token))
                    .first(c)
                    .await?;
                return Ok(PlaceOutcome::AlreadyPlaced(order_ref(existing)));
            }
            if cart_row.version != input.cart_version {
                return Err(StoreError::Conflict(
                    "cart changed after payment was settled",
                ));
            }
            let user_id = cart_row.user_id.clone();
            let cart = super::carts::to_cart(cart_row, line_rows)?;
            let problems = validate(&cart.lines);
            if !problems.is_empty() {
                return Ok(PlaceOutcome::Invalid(problems));
            }
            let (Some(details), true) = (cart.checkout.as_ref(), cart.confirmed) else {
                return Ok(PlaceOutcome::NotConfirmed);
            };
            let shipping = shipping_methods::table
                .find(&details.shipping_method)
                .select(super::rows::ShippingMethodRow::as_select())
                .first(c)
                .await
                .optional()?
                .map(super::rows::ShippingMethodRow::into_domain)
                .transpose()?;
            let order_totals = totals(
                &cart.lines,
                shipping.as_ref(),
                details.voucher.as_ref(),
                input.currency,
            );
            if order_totals.needs_payment() != input.payment.is_some() {
                return Err(StoreError::Conflict(
                    "totals changed after payment was settled",
                ));
            }

            let sequence: i64 = diesel::update(counters::table.find("order_number"))
                .set(counters::value.eq(counters::value + 1))
                .returning(counters::value)
                .get_result(c)
                .await?;
            let number = OrderNumber::from_sequence(sequence);
            let order_id = new_id();
            let at = now();
            let status = input
                .payment
                .as_ref()
                .map(|p| p.order_status)
                .unwrap_or(OrderStatus::Placed);
            diesel::insert_into(orders::table)
                .values(OrderRow {
                    id: order_id.clone(),
                    number: number.as_str().to_owned(),
                    token: input.token.clone(),
                    cart_id: input.cart_id.to_owned(),
                    user_id,
                    email: details.email.as_str().to_owned(),
                    status: status.as_str().into(),
                    currency: input.currency.as_str().into(),
                    subtotal_minor: order_totals.subtotal.minor,
                    shipping_minor: order_totals.shipping.minor,
                    discount_minor: order_totals.discount.minor,
                    vat_minor: order_totals.vat.minor,
                    total_minor: order_totals.total.minor,
                    shipping_method: details.shipping_method.clone(),
                    voucher_code: details.voucher.as_ref().map(|v| v.code.clone()),
                    details: serde_json::to_string(details)
                        .map_err(|e| StoreError::Corrupt(e.to_string()))?,
                    version: 1,
                    created_at: at,
                    updated_at: at,
                })
                .execute(c)
                .await?;
            let lines: Vec<OrderLineRow> = cart
                .lines
                .iter()
                .enumerate()
                .map(|(i, line)| OrderLineRow {
                    order_id: order_id.clone(),
                    position: i as i64 + 1,
                    product_id: line.product_id.clone(),
                    name: line.name().to_owned(),
                    quantity: line.quantity,
                    unit_price_minor: line.unit_price.minor,
                    vat_rate_bp: line.product.as_ref().map(|p| p.vat_rate_bp).unwrap_or(0),
                    total_minor: line.total().minor,
                })
                .collect();
            // SQLite's async wrapper has no multi-row INSERT; rows go one by one
            // inside the same transaction, which costs no extra commit.
            for row in lines {
                diesel::insert_into(order_lines::table)
                    .values(row)
                    .execute(c)
                    .await?;
            }
            if let Some(plan) = &input.payment {
                diesel::insert_into(payments::table)
                    .values(PaymentRow {
                        id: new_id(),
                        order_id: order_id.clone(),
                        gateway: plan.gateway.clone(),
                        method: plan.method.clone(),
                        amount_minor: order_totals.total.minor,
                        currency: input.currency.as_str().into(),
                        status: plan.payment_status.as_str().into(),
                        idempotency_key: plan.idempotency_key.as_str().into(),
                        version: 1,
                        created_at: at,
                        updated_at: at,
                    })
                    .execute(c)
                    .await?;
            }
            for line in &cart.lines {
                let taken = diesel::update(
                    products::table
                        .find(&line.product_id)
                        .filter(products::stock.ge(line.quantity)),
                )
                .set((
                    products::stock.eq(products::stock - line.quantity),
                    products::version.eq(products::version + 1),
                ))
                .execute(c)
                .await?;
                if taken != 1 {
                    return Err(StoreError::Conflict("stock taken by a concurrent order"));
                }
            }
            let closed = diesel::update(
                carts::table
                    .find(input.cart_id)
                    .filter(carts::version.eq(input.cart_version))
                    .filter(carts::status.eq(CartStatus::Open.as_str())),
            )
            .set((
                carts::status.eq(CartStatus::Ordered.as_str()),
                carts::order_id.eq(&order_id),
                carts::version.eq(carts::version + 1),
                carts::updated_at.eq(at),
            ))
            .execute(c)
            .await?;
            if closed != 1 {
                return Err(StoreError::Conflict("cart ordered by a concurrent request"));
            }
            Ok(PlaceOutcome::Placed(OrderRef {
                number: number.as_str().to_owned(),
                token: input.token.clone(),
            }))
        })
    }

    /// The order with this number, lines and payment included.
    pub async fn order_by_number(&self, number: &str) -> StoreResult<Option<Order>> {
        let loaded = with_conn!(self, |c| {
            let order: Option<OrderRow> = orders::table
                .filter(orders::number.eq(number))
                .select(OrderRow::as_select())
                .first(c)
                .await
                .optional()?;
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
        let json: Option<String> = with_conn!(self, |c| {
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

    /// The order placed from a cart, if any.
    pub async fn order_of_cart(&self, cart_id: &str) -> StoreResult<Option<OrderRef>> {
        let row: Option<(String, String)> = with_conn!(self, |c| {
            orders::table
                .filter(orders::cart_id.eq(cart_id))
                .select((orders::number, orders::token))
                .first(c)
                .await
                .optional()
        })?;
        Ok(row.map(order_ref))
    }

    /// How many orders exist for a cart (tests and checks of invariant 1).
    pub async fn count_orders(&self) -> StoreResult<i64> {
        Ok(with_conn!(self, |c| {
            orders::table.count().get_result::<i64>(c).await
        })?)
    }
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
                gateway: p.gateway,
                method: p.method,
                amount: money(p.amount_minor),
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
        id: row.id,
        token: row.token,
        details,
        shipping_method: row.shipping_method,
        payment,
        created_at: row.created_at,
    })
}
