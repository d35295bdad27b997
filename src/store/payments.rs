//! Payments as the shop knows them: one row per attempt started at a
//! provider, keyed by the attempt's idempotency key.

use super::rows::PaymentRow;
use super::schema::{orders, payments};
use super::{Store, StoreResult, new_id, now, with_conn};
use crate::domain::order::OrderStatus;
use crate::domain::payment::{PaymentRequest, PaymentStatus};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

impl Store {
    /// Records a started payment; a repeat of the same attempt changes nothing.
    pub async fn record_payment_started(
        &self,
        cart_id: &str,
        request: &PaymentRequest,
        provider_reference: Option<&str>,
    ) -> StoreResult<()> {
        let at = now();
        let row = PaymentRow {
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
        };
        with_conn!(self, |c| {
            diesel::insert_into(payments::table)
                .values(row)
                .on_conflict_do_nothing()
                .execute(c)
                .await
        })?;
        Ok(())
    }

    /// Marks a payment voided, unless money was already captured.
    pub async fn record_payment_cancelled(&self, idempotency_key: &str) -> StoreResult<()> {
        with_conn!(self, |c| {
            diesel::update(
                payments::table
                    .filter(payments::idempotency_key.eq(idempotency_key))
                    .filter(payments::status.ne(PaymentStatus::Captured.as_str())),
            )
            .set((
                payments::status.eq(PaymentStatus::Cancelled.as_str()),
                payments::version.eq(payments::version + 1),
                payments::updated_at.eq(now()),
            ))
            .execute(c)
            .await
        })?;
        Ok(())
    }

    /// Payments that are neither voided nor attached to a live order: money
    /// that could be lost. Zero in a healthy shop.
    pub async fn count_orphaned_payments(&self) -> StoreResult<i64> {
        let rows: Vec<(String, Option<String>)> = with_conn!(self, |c| {
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
}
