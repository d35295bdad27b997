//! Payments as the shop knows them: one row per attempt started at a
//! provider, keyed by the attempt's idempotency key.

use super::outbox::{abandon_registration, event};
use super::prepared::Prepare;
use super::rows::PaymentRow;
use super::schema::{outbox, payments, webhook_events};
use super::{Store, StoreResult, light_conn, now, read, with_conn, write_tx};
use crate::domain::events::{EventKind, EventPayload};
use crate::domain::money::{Currency, Money};
use crate::domain::payment::{IdempotencyKey, PaymentRequest, PaymentStatus};
use crate::ids::new_id;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

/// A started payment only the shop knows of (cash): recorded with the next
/// change a step makes in the store, under the step's lease
/// (`Fence::records`), instead of in a commit of its own; the order's
/// durable commit takes it to disk.
#[derive(Debug, Clone)]
pub struct StartedPayment(PaymentRow);

impl StartedPayment {
    pub fn new(
        cart_id: &str,
        request: &PaymentRequest,
        provider_reference: Option<&str>,
        registration_id: Option<&str>,
    ) -> Self {
        let at = now();
        Self(PaymentRow {
            id: new_id(),
            process_id: request.reference.clone(),
            cart_id: cart_id.to_owned(),
            order_id: None,
            gateway: request.gateway.clone(),
            method: request.method.clone(),
            amount_minor: request.amount.minor,
            currency: request.amount.currency.as_str().into(),
            status: PaymentStatus::Started.as_str().into(),
            idempotency_key: request.idempotency_key.as_str().into(),
            provider_reference: provider_reference.map(str::to_owned),
            version: 1,
            created_at: at,
            updated_at: at,
            registration_id: registration_id.map(str::to_owned),
            // Counts as asked at its start: the never-asked go first.
            checked_at: Some(at),
            captured_minor: 0,
            refunded_minor: 0,
            released: false,
        })
    }
}

/// Inside a transaction: records a started payment; a repeat of the same
/// attempt (its idempotency key) changes nothing.
macro_rules! record_started {
    ($c:expr, $started:expr) => {{
        use $crate::store::prepared::Prepare as _;
        let started: &$crate::store::payments::StartedPayment = $started;
        diesel::insert_into($crate::store::schema::payments::table)
            .values(started.row())
            .on_conflict_do_nothing()
            .prepared()
            .execute($c)
            .await
    }};
}
pub(crate) use record_started;

impl StartedPayment {
    pub(super) fn row(&self) -> &PaymentRow {
        &self.0
    }
}

/// The same payment: the same row, made once.
impl PartialEq for StartedPayment {
    fn eq(&self, other: &Self) -> bool {
        self.0.id == other.0.id
    }
}

impl Eq for StartedPayment {}

impl Store {
    /// Records a payment a provider holds, on disk before the process goes
    /// on, whoever holds its lease (the provider has it either way); a
    /// repeat of the same attempt changes nothing.
    pub async fn record_payment_started(&self, started: &StartedPayment) -> StoreResult<()> {
        with_conn!(self, |c| record_started!(c, started))?;
        Ok(())
    }

    /// Marks a payment voided, unless money was already captured, and
    /// records why (failed or expired) in the outbox.
    pub async fn record_payment_cancelled(
        &self,
        idempotency_key: &str,
        why: EventKind,
    ) -> StoreResult<()> {
        write_tx!(self, |c| {
            let payment: Option<(String, Option<String>, Option<String>)> = payments::table
                .filter(payments::idempotency_key.eq(idempotency_key))
                .filter(payments::status.ne(PaymentStatus::Captured.as_str()))
                .filter(payments::status.ne(PaymentStatus::Cancelled.as_str()))
                .select((
                    payments::cart_id,
                    payments::order_id,
                    payments::registration_id,
                ))
                .first(c)
                .await
                .optional()?;
            let Some((cart_id, order_id, registration_id)) = payment else {
                return Ok(());
            };
            diesel::update(payments::table.filter(payments::idempotency_key.eq(idempotency_key)))
                .set((
                    payments::status.eq(PaymentStatus::Cancelled.as_str()),
                    payments::version.eq(payments::version + 1),
                    payments::updated_at.eq(now()),
                ))
                .prepared()
                .execute(c)
                .await?;
            abandon_registration!(c, &registration_id);
            let payload = EventPayload {
                order_id,
                registration_id,
                attempt: Some(idempotency_key.to_owned()),
                ..EventPayload::default()
            };
            diesel::insert_into(outbox::table)
                .values(event(why, &cart_id, &payload)?)
                .execute(c)
                .await?;
            Ok::<_, super::StoreError>(())
        })
    }

    /// Payments that are neither voided nor attached to a live order: money
    /// that could be lost. Zero in a healthy shop.
    #[cfg(feature = "test-support")]
    pub async fn count_orphaned_payments(&self) -> StoreResult<i64> {
        use super::schema::orders;
        use crate::domain::order::OrderStatus;
        let rows: Vec<(String, Option<String>)> = read!(self, |c| {
            payments::table
                .left_join(orders::table.on(orders::id.nullable().eq(payments::order_id)))
                .filter(payments::status.ne(PaymentStatus::Cancelled.as_str()))
                .select((payments::id, orders::status.nullable()))
                .load(c)
                .await
        })?;
        Ok(rows
            .iter()
            .filter(|(_, order_status)| {
                order_status
                    .as_deref()
                    .is_none_or(|s| s == OrderStatus::Cancelled.as_str())
            })
            .count() as i64)
    }

    pub async fn webhook_event_seen(&self, event_id: &str) -> StoreResult<bool> {
        let count: i64 = read!(self, |c| {
            webhook_events::table
                .filter(webhook_events::event_id.eq(event_id))
                .count()
                .get_result(c)
                .await
        })?;
        Ok(count > 0)
    }

    /// Records a provider event about the payment `provider_reference`;
    /// `false` when it was seen before.
    pub async fn record_webhook_event(
        &self,
        event_id: &str,
        kind: &str,
        provider_reference: &str,
    ) -> StoreResult<bool> {
        let inserted = light_conn!(self, |c| {
            diesel::insert_into(webhook_events::table)
                .values((
                    webhook_events::event_id.eq(event_id),
                    webhook_events::kind.eq(kind),
                    webhook_events::received_at.eq(now()),
                    webhook_events::provider_reference.eq(provider_reference),
                ))
                .on_conflict_do_nothing()
                .prepared()
                .execute(c)
                .await
        })?;
        Ok(inserted == 1)
    }

    /// The payment the provider knows by `reference`.
    pub async fn payment_by_provider_reference(
        &self,
        reference: &str,
    ) -> StoreResult<Option<StoredPayment>> {
        let row: Option<PaymentRow> = read!(self, |c| {
            payments::table
                .filter(payments::provider_reference.eq(reference))
                .select(PaymentRow::as_select())
                .first(c)
                .await
                .optional()
        })?;
        row.map(StoredPayment::try_from).transpose()
    }

    /// Up to `limit` payments of `gateway` still waiting for their money
    /// (e.g. at a convenience store) since before `age` ago, the ones asked
    /// about longest ago first, so none waits behind the others forever.
    pub async fn waiting_payments(
        &self,
        gateway: &str,
        age: std::time::Duration,
        limit: i64,
    ) -> StoreResult<Vec<StoredPayment>> {
        let cutoff = now() - age;
        let rows: Vec<PaymentRow> = read!(self, |c| {
            payments::table
                .filter(payments::gateway.eq(gateway))
                .filter(payments::status.eq(PaymentStatus::Pending.as_str()))
                .filter(payments::order_id.is_not_null())
                .filter(payments::updated_at.lt(cutoff))
                .filter(
                    payments::checked_at
                        .is_null()
                        .or(payments::checked_at.lt(cutoff)),
                )
                .order((payments::checked_at.asc(), payments::created_at.asc()))
                .limit(limit)
                .select(PaymentRow::as_select())
                .load(c)
                .await
        })?;
        rows.into_iter().map(StoredPayment::try_from).collect()
    }

    /// Notes that the provider was asked about a payment just now.
    pub async fn payment_checked(&self, idempotency_key: &str) -> StoreResult<()> {
        light_conn!(self, |c| {
            diesel::update(payments::table.filter(payments::idempotency_key.eq(idempotency_key)))
                .set(payments::checked_at.eq(now()))
                .prepared()
                .execute(c)
                .await
        })?;
        Ok(())
    }
}

/// A payment row, as the application needs it.
#[derive(Debug, Clone)]
pub struct StoredPayment {
    pub process_id: String,
    pub cart_id: String,
    pub order_id: Option<String>,
    pub status: PaymentStatus,
    pub request: PaymentRequest,
}

impl TryFrom<PaymentRow> for StoredPayment {
    type Error = super::StoreError;

    fn try_from(row: PaymentRow) -> Result<Self, Self::Error> {
        let corrupt =
            |what: &str| super::StoreError::Corrupt(format!("payment {}: {what}", row.id));
        let currency = Currency::parse(&row.currency).map_err(|_| corrupt("currency"))?;
        Ok(Self {
            status: PaymentStatus::parse(&row.status).ok_or_else(|| corrupt("status"))?,
            request: PaymentRequest {
                gateway: row.gateway,
                method: row.method,
                amount: Money::new(row.amount_minor, currency),
                idempotency_key: IdempotencyKey::from_string(row.idempotency_key),
                reference: row.process_id.clone(),
            },
            process_id: row.process_id,
            cart_id: row.cart_id,
            order_id: row.order_id,
        })
    }
}
