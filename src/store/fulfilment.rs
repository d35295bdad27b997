//! The back office's reads, and its one writer: every change of a placed
//! order (a delivery, a money operation asked or answered, a cancel) is
//! saved by `write_order`, a compare-and-swap on the order's version in one
//! transaction with everything it causes. Two changes decided on the same
//! version never both land: the second is told the order is stale.

use super::mail::queue_order_mails;
use super::orders::give_back;
use super::outbox::event;
use super::prepared::Prepare;
use super::schema::{
    deliveries, delivery_lines, order_events, orders, outbox, payment_operations, payments,
    webhook_events,
};
use super::{Store, StoreError, StoreResult, now, read, write_tx};
use crate::domain::events::{EventKind, EventPayload};
use crate::domain::fulfilment::{
    Delivery, DeliveryStatus, OperationKind, OperationStatus, PaymentOperation, StaffOrder,
    TimelineEntry,
};
use crate::domain::mail::MailRequest;
use crate::domain::order::OrderStatus;
use crate::ids::new_id;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

/// How much of an order's timeline `staff_order` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timeline {
    Actions,
    Full,
}

/// A change of one order, decided on `version`.
#[derive(Debug, Clone, Default)]
pub struct OrderWrite {
    pub order_id: String,
    pub version: i64,
    pub status: Option<OrderStatus>,
    pub actor: String,
    pub new_delivery: Option<NewDelivery>,
    pub delivery_moves: Vec<(String, DeliveryStatus)>,
    pub operations: Vec<NewOperation>,
    pub answered: Option<Answered>,
    /// The order is cancelled: its stock and its voucher use go back.
    pub restock: bool,
    /// (kind, detail) for the timeline.
    pub timeline: Vec<(String, String)>,
    pub outbox: Vec<EventKind>,
    /// Mails to the shopper the change causes.
    pub mails: Vec<MailRequest>,
}

#[derive(Debug, Clone)]
pub struct NewDelivery {
    pub id: String,
    pub lines: Vec<(i64, i64)>,
    pub carrier: Option<String>,
    pub tracking_number: Option<String>,
}

#[derive(Debug, Clone)]
pub struct NewOperation {
    pub id: String,
    pub payment_id: String,
    pub kind: OperationKind,
    pub amount_minor: i64,
}

/// The provider's answer to a requested operation.
#[derive(Debug, Clone)]
pub struct Answered {
    pub operation_id: String,
    pub payment_id: String,
    pub kind: OperationKind,
    pub amount_minor: i64,
    /// `None`: done; `Some(reason)`: refused.
    pub refused: Option<String>,
}

/// What became of a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    Saved,
    /// The order changed since `version`: nothing was saved.
    Stale,
}

/// A requested operation, with what calling the provider needs.
#[derive(Debug, Clone)]
pub struct OperationToSend {
    pub operation: PaymentOperation,
    pub order_id: String,
    pub order_number: String,
    pub payment_id: String,
    pub gateway: String,
    pub provider_reference: Option<String>,
    pub currency: String,
}

#[derive(Queryable, Selectable, Debug)]
#[diesel(table_name = deliveries)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
struct DeliveryRow {
    id: String,
    status: String,
    carrier: Option<String>,
    tracking_number: Option<String>,
    version: i64,
    created_at: time::PrimitiveDateTime,
}

/// number, status, total (minor), currency, created.
pub type OrderIndexRow = (String, String, i64, String, time::PrimitiveDateTime);

/// The order and payment an operation is about: order id and number,
/// payment id, gateway, provider reference, currency.
type OperationTarget = (String, String, String, String, Option<String>, String);

#[derive(Queryable, Selectable, Debug)]
#[diesel(table_name = payment_operations)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
struct OperationRow {
    id: String,
    kind: String,
    amount_minor: i64,
    status: String,
    reason: Option<String>,
    actor: String,
    created_at: time::PrimitiveDateTime,
}

impl OperationRow {
    fn into_domain(self) -> StoreResult<PaymentOperation> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("operation {}: {what}", self.id));
        Ok(PaymentOperation {
            kind: OperationKind::parse(&self.kind).ok_or_else(|| corrupt("kind"))?,
            status: OperationStatus::parse(&self.status).ok_or_else(|| corrupt("status"))?,
            id: self.id,
            amount_minor: self.amount_minor,
            reason: self.reason,
            actor: self.actor,
            created_at: self.created_at,
        })
    }
}

/// An outbox event of the order's cart, as its timeline shows it: what
/// was to be told, and whether it was.
#[derive(Queryable, Selectable, Debug)]
#[diesel(table_name = outbox)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
struct OutboxRow {
    kind: String,
    status: String,
    attempts: i64,
    last_error: Option<String>,
    created_at: time::PrimitiveDateTime,
    updated_at: time::PrimitiveDateTime,
}

impl OutboxRow {
    fn into_entry(self) -> TimelineEntry {
        let mut detail = format!("Outbox {}: {}", self.kind, self.status);
        if self.attempts > 0 {
            detail.push_str(&format!(" after {} attempt(s)", self.attempts));
        }
        if let Some(error) = self.last_error {
            detail.push_str(&format!("; last error: {error}"));
        }
        TimelineEntry {
            at: if self.status == "pending" {
                self.created_at
            } else {
                self.updated_at
            },
            actor: "outbox".into(),
            kind: "outbox".into(),
            detail,
        }
    }
}

#[derive(Queryable, Selectable, Debug)]
#[diesel(table_name = order_events)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
struct EventRow {
    at: time::PrimitiveDateTime,
    actor: String,
    kind: String,
    detail: String,
}

impl Store {
    /// The order with this number, its deliveries, money operations and
    /// timeline: with `Timeline::Actions` only the recorded actions (what a
    /// command decides on), with `Timeline::Full` also the placing, the
    /// provider's webhooks and the outbox deliveries (what a page shows).
    pub async fn staff_order(
        &self,
        number: &str,
        depth: Timeline,
    ) -> StoreResult<Option<StaffOrder>> {
        let Some(order) = self.order_by_number(number).await? else {
            return Ok(None);
        };
        let mut sheet = self.order_facts(order, depth).await?;
        if depth == Timeline::Full {
            sheet.mails = self.order_mails(&sheet.order.id).await?;
            sheet
                .timeline
                .extend(sheet.mails.iter().map(|mail| TimelineEntry {
                    at: mail.created_at,
                    actor: mail.actor.clone(),
                    kind: format!("mail.{}", mail.status.label()),
                    detail: mail.state_text(),
                }));
            sheet.timeline.sort_by_key(|e| e.at);
        }
        Ok(Some(sheet))
    }

    /// `order` with its deliveries, payment operations and, as deep as
    /// asked, its timeline.
    pub async fn order_facts(
        &self,
        order: crate::domain::order::Order,
        depth: Timeline,
    ) -> StoreResult<StaffOrder> {
        read!(self, |c| {
            let rows: Vec<DeliveryRow> = deliveries::table
                .filter(deliveries::order_id.eq(&order.id))
                .order((deliveries::created_at.asc(), deliveries::id.asc()))
                .select(DeliveryRow::as_select())
                .load(c)
                .await?;
            let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
            let lines: Vec<(String, i64, i64)> = delivery_lines::table
                .filter(delivery_lines::delivery_id.eq_any(&ids))
                .order((delivery_lines::delivery_id, delivery_lines::position))
                .select((
                    delivery_lines::delivery_id,
                    delivery_lines::position,
                    delivery_lines::quantity,
                ))
                .load(c)
                .await?;
            let deliveries = rows
                .into_iter()
                .map(|row| {
                    Ok(Delivery {
                        status: DeliveryStatus::parse(&row.status).ok_or_else(|| {
                            StoreError::Corrupt(format!("delivery {}: status", row.id))
                        })?,
                        lines: lines
                            .iter()
                            .filter(|(id, _, _)| *id == row.id)
                            .map(|&(_, position, quantity)| (position, quantity))
                            .collect(),
                        id: row.id,
                        carrier: row.carrier,
                        tracking_number: row.tracking_number,
                        version: row.version,
                        created_at: row.created_at,
                    })
                })
                .collect::<StoreResult<Vec<_>>>()?;
            let operations = payment_operations::table
                .filter(payment_operations::order_id.eq(&order.id))
                .order((
                    payment_operations::created_at.asc(),
                    payment_operations::id.asc(),
                ))
                .select(OperationRow::as_select())
                .load::<OperationRow>(c)
                .await?
                .into_iter()
                .map(OperationRow::into_domain)
                .collect::<StoreResult<Vec<_>>>()?;
            let mut timeline: Vec<TimelineEntry> = order_events::table
                .filter(order_events::order_id.eq(&order.id))
                .order((order_events::at.asc(), order_events::id.asc()))
                .select(EventRow::as_select())
                .load::<EventRow>(c)
                .await?
                .into_iter()
                .map(|e| TimelineEntry {
                    at: e.at,
                    actor: e.actor,
                    kind: e.kind,
                    detail: e.detail,
                })
                .collect();
            if depth == Timeline::Actions {
                return Ok(StaffOrder {
                    order,
                    deliveries,
                    operations,
                    timeline,
                    mails: Vec::new(),
                });
            }
            timeline.push(TimelineEntry {
                at: order.created_at,
                actor: order.details.email.as_str().to_owned(),
                kind: "order.placed".into(),
                detail: format!("Order placed ({})", order.status.label()),
            });
            if let Some(reference) = order
                .payment
                .as_ref()
                .and_then(|p| p.provider_reference.as_ref())
            {
                let events: Vec<(String, String, time::PrimitiveDateTime)> = webhook_events::table
                    .filter(webhook_events::provider_reference.eq(reference))
                    .select((
                        webhook_events::event_id,
                        webhook_events::kind,
                        webhook_events::received_at,
                    ))
                    .load(c)
                    .await?;
                timeline.extend(events.into_iter().map(|(id, kind, at)| TimelineEntry {
                    at,
                    actor: "payment provider".into(),
                    kind: "webhook".into(),
                    detail: format!("Webhook {kind} (event {id})"),
                }));
            }
            // Mails are listed from their own rows, with their state.
            let deliveries_out: Vec<OutboxRow> = outbox::table
                .filter(outbox::cart_id.eq(&order.cart_id))
                .filter(outbox::kind.ne(EventKind::Mail.as_str()))
                .select(OutboxRow::as_select())
                .load(c)
                .await?;
            timeline.extend(deliveries_out.into_iter().map(OutboxRow::into_entry));
            timeline.sort_by_key(|e| e.at);
            Ok::<_, StoreError>(StaffOrder {
                order,
                deliveries,
                operations,
                timeline,
                mails: Vec::new(),
            })
        })
    }

    /// Orders newest first, with one status or any: (number, status,
    /// total, currency, created).
    pub async fn order_index(
        &self,
        status: Option<OrderStatus>,
        limit: i64,
        offset: i64,
    ) -> StoreResult<Vec<OrderIndexRow>> {
        read!(self, |c| {
            let mut query = orders::table
                .select((
                    orders::number,
                    orders::status,
                    orders::total_minor,
                    orders::currency,
                    orders::created_at,
                ))
                .order((orders::created_at.desc(), orders::number.desc()))
                .limit(limit)
                .offset(offset)
                .into_boxed();
            if let Some(status) = status {
                query = query.filter(orders::status.eq(status.as_str()));
            }
            Ok::<_, StoreError>(query.load(c).await?)
        })
    }

    /// Orders on hold since before `placed_before`: (number, gateway,
    /// method of their payment), oldest first.
    pub async fn orders_on_hold_since(
        &self,
        placed_before: time::PrimitiveDateTime,
        methods: &[String],
        limit: i64,
    ) -> StoreResult<Vec<(String, String, String)>> {
        read!(self, |c| {
            Ok::<_, StoreError>(
                orders::table
                    .inner_join(payments::table.on(payments::order_id.eq(orders::id.nullable())))
                    .filter(orders::status.eq(OrderStatus::OnHold.as_str()))
                    .filter(payments::method.eq_any(methods))
                    .filter(orders::created_at.lt(placed_before))
                    .order(orders::created_at.asc())
                    .limit(limit)
                    .select((orders::number, payments::gateway, payments::method))
                    .load(c)
                    .await?,
            )
        })
    }

    /// Moves an order's placing back in time, as if it waited so long.
    #[cfg(feature = "test-support")]
    pub async fn age_order(&self, number: &str, by: time::Duration) -> StoreResult<()> {
        super::with_conn!(self, |c| {
            let created: time::PrimitiveDateTime = orders::table
                .filter(orders::number.eq(number))
                .select(orders::created_at)
                .first(c)
                .await?;
            diesel::update(orders::table.filter(orders::number.eq(number)))
                .set(orders::created_at.eq(created - by))
                .prepared()
                .execute(c)
                .await?;
            Ok::<_, StoreError>(())
        })
    }

    /// The id of the order with `number`.
    pub async fn order_id_of_number(&self, number: &str) -> StoreResult<Option<String>> {
        read!(self, |c| {
            Ok::<_, StoreError>(
                orders::table
                    .filter(orders::number.eq(number))
                    .select(orders::id)
                    .first(c)
                    .await
                    .optional()?,
            )
        })
    }

    pub async fn order_number(&self, order_id: &str) -> StoreResult<Option<String>> {
        read!(self, |c| {
            Ok::<_, StoreError>(
                orders::table
                    .find(order_id)
                    .select(orders::number)
                    .first(c)
                    .await
                    .optional()?,
            )
        })
    }

    /// The number of the order a delivery belongs to.
    pub async fn order_number_of_delivery(&self, delivery_id: &str) -> StoreResult<Option<String>> {
        read!(self, |c| {
            Ok::<_, StoreError>(
                deliveries::table
                    .inner_join(orders::table.on(orders::id.eq(deliveries::order_id)))
                    .filter(deliveries::id.eq(delivery_id))
                    .select(orders::number)
                    .first(c)
                    .await
                    .optional()?,
            )
        })
    }

    /// Saves a change of an order if it is still at `write.version`.
    pub async fn write_order(&self, write: &OrderWrite) -> StoreResult<Written> {
        let written = write_tx!(self, |c| {
            let at = now();
            let mut claim = diesel::update(
                orders::table
                    .find(&write.order_id)
                    .filter(orders::version.eq(write.version)),
            )
            .set((
                orders::version.eq(orders::version + 1),
                orders::updated_at.eq(at),
            ))
            .prepared()
            .execute(c)
            .await?;
            if let Some(status) = write.status
                && claim == 1
            {
                claim = diesel::update(orders::table.find(&write.order_id))
                    .set(orders::status.eq(status.as_str()))
                    .prepared()
                    .execute(c)
                    .await?;
            }
            if claim != 1 {
                return Ok(Written::Stale);
            }
            if let Some(answer) = &write.answered {
                let (status, reason) = match &answer.refused {
                    None => (OperationStatus::Done, None),
                    Some(reason) => (OperationStatus::Refused, Some(reason.clone())),
                };
                let finished =
                    diesel::update(payment_operations::table.find(&answer.operation_id).filter(
                        payment_operations::status.eq(OperationStatus::Requested.as_str()),
                    ))
                    .set((
                        payment_operations::status.eq(status.as_str()),
                        payment_operations::reason.eq(reason),
                        payment_operations::updated_at.eq(at),
                    ))
                    .prepared()
                    .execute(c)
                    .await?;
                // Answered already (another node got there first): the
                // money was counted once; this write is void.
                if finished != 1 {
                    return Err(StoreError::Conflict("payment operation answered twice"));
                }
                if answer.refused.is_none() {
                    let payment = payments::table.find(&answer.payment_id);
                    let changed = match answer.kind {
                        OperationKind::Capture => {
                            diesel::update(payment)
                                .set(
                                    payments::captured_minor
                                        .eq(payments::captured_minor + answer.amount_minor),
                                )
                                .prepared()
                                .execute(c)
                                .await?
                        }
                        OperationKind::Refund => {
                            diesel::update(payment)
                                .set(
                                    payments::refunded_minor
                                        .eq(payments::refunded_minor + answer.amount_minor),
                                )
                                .prepared()
                                .execute(c)
                                .await?
                        }
                        OperationKind::Release => {
                            diesel::update(payment)
                                .set(payments::released.eq(true))
                                .prepared()
                                .execute(c)
                                .await?
                        }
                    };
                    if changed != 1 {
                        return Err(StoreError::Corrupt(format!(
                            "payment {} of an operation is missing",
                            answer.payment_id
                        )));
                    }
                    diesel::update(payments::table.find(&answer.payment_id))
                        .set((
                            payments::version.eq(payments::version + 1),
                            payments::updated_at.eq(at),
                        ))
                        .prepared()
                        .execute(c)
                        .await?;
                }
            }
            if let Some(delivery) = &write.new_delivery {
                diesel::insert_into(deliveries::table)
                    .values((
                        deliveries::id.eq(&delivery.id),
                        deliveries::order_id.eq(&write.order_id),
                        deliveries::status.eq(DeliveryStatus::Created.as_str()),
                        deliveries::carrier.eq(&delivery.carrier),
                        deliveries::tracking_number.eq(&delivery.tracking_number),
                        deliveries::version.eq(1),
                        deliveries::created_at.eq(at),
                        deliveries::updated_at.eq(at),
                    ))
                    .execute(c)
                    .await?;
                for &(position, quantity) in &delivery.lines {
                    diesel::insert_into(delivery_lines::table)
                        .values((
                            delivery_lines::delivery_id.eq(&delivery.id),
                            delivery_lines::position.eq(position),
                            delivery_lines::quantity.eq(quantity),
                        ))
                        .execute(c)
                        .await?;
                }
            }
            for (id, status) in &write.delivery_moves {
                diesel::update(deliveries::table.find(id))
                    .set((
                        deliveries::status.eq(status.as_str()),
                        deliveries::version.eq(deliveries::version + 1),
                        deliveries::updated_at.eq(at),
                    ))
                    .prepared()
                    .execute(c)
                    .await?;
            }
            for operation in &write.operations {
                diesel::insert_into(payment_operations::table)
                    .values((
                        payment_operations::id.eq(&operation.id),
                        payment_operations::order_id.eq(&write.order_id),
                        payment_operations::payment_id.eq(&operation.payment_id),
                        payment_operations::kind.eq(operation.kind.as_str()),
                        payment_operations::amount_minor.eq(operation.amount_minor),
                        payment_operations::status.eq(OperationStatus::Requested.as_str()),
                        payment_operations::actor.eq(&write.actor),
                        payment_operations::created_at.eq(at),
                        payment_operations::updated_at.eq(at),
                    ))
                    .execute(c)
                    .await?;
            }
            if write.restock {
                give_back!(c, &write.order_id);
            }
            for (kind, detail) in &write.timeline {
                diesel::insert_into(order_events::table)
                    .values((
                        order_events::id.eq(new_id()),
                        order_events::order_id.eq(&write.order_id),
                        order_events::at.eq(at),
                        order_events::actor.eq(&write.actor),
                        order_events::kind.eq(kind),
                        order_events::detail.eq(detail),
                    ))
                    .execute(c)
                    .await?;
            }
            if !write.outbox.is_empty() || !write.operations.is_empty() {
                let (cart_id, registration_id): (String, Option<String>) = orders::table
                    .find(&write.order_id)
                    .select((orders::cart_id, orders::registration_id))
                    .first(c)
                    .await?;
                for &kind in &write.outbox {
                    let payload = EventPayload {
                        order_id: Some(write.order_id.clone()),
                        registration_id: registration_id.clone(),
                        ..EventPayload::default()
                    };
                    diesel::insert_into(outbox::table)
                        .values(event(kind, &cart_id, &payload)?)
                        .execute(c)
                        .await?;
                }
                // Each operation is sent by the outbox worker too, so one
                // that the request could not finish is retried.
                for operation in &write.operations {
                    let payload = EventPayload {
                        order_id: Some(write.order_id.clone()),
                        operation: Some(operation.id.clone()),
                        ..EventPayload::default()
                    };
                    diesel::insert_into(outbox::table)
                        .values(event(EventKind::PaymentOperation, &cart_id, &payload)?)
                        .execute(c)
                        .await?;
                }
            }
            queue_order_mails!(c, &write.order_id, &write.mails, &write.actor);
            Ok::<_, StoreError>(Written::Saved)
        });
        // A cancellation may give stock back.
        self.catalogue.changed();
        written
    }

    /// A payment operation and what sending it needs.
    pub async fn operation_to_send(&self, id: &str) -> StoreResult<Option<OperationToSend>> {
        read!(self, |c| {
            let found: Option<(OperationRow, OperationTarget)> = payment_operations::table
                .inner_join(orders::table.on(orders::id.eq(payment_operations::order_id)))
                .inner_join(payments::table.on(payments::id.eq(payment_operations::payment_id)))
                .filter(payment_operations::id.eq(id))
                .select((
                    OperationRow::as_select(),
                    (
                        orders::id,
                        orders::number,
                        payments::id,
                        payments::gateway,
                        payments::provider_reference,
                        payments::currency,
                    ),
                ))
                .first(c)
                .await
                .optional()?;
            found
                .map(
                    |(
                        row,
                        (order_id, order_number, payment_id, gateway, provider_reference, currency),
                    )| {
                        Ok(OperationToSend {
                            operation: row.into_domain()?,
                            order_id,
                            order_number,
                            payment_id,
                            gateway,
                            provider_reference,
                            currency,
                        })
                    },
                )
                .transpose()
        })
    }
}
