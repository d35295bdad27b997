//! The shop's books as plain rows, for the tests that check the money and
//! order invariants after crashes (the kill -9 matrix).

use super::schema::{
    mails, order_lines, orders, outbox, payments, place_order_process, products, registrations,
};
use super::{Store, StoreResult, read};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

#[derive(Debug, Clone, Queryable)]
pub struct AuditOrder {
    pub id: String,
    pub number: String,
    pub cart_id: String,
    pub status: String,
    pub registration_id: Option<String>,
}

#[derive(Debug, Clone, Queryable)]
pub struct AuditLine {
    pub order_id: String,
    pub product_id: String,
    pub quantity: i64,
}

#[derive(Debug, Clone, Queryable)]
pub struct AuditPayment {
    pub id: String,
    pub cart_id: String,
    pub order_id: Option<String>,
    pub method: String,
    pub status: String,
    pub amount_minor: i64,
    pub captured_minor: i64,
    pub refunded_minor: i64,
    pub released: bool,
    pub provider_reference: Option<String>,
}

#[derive(Debug, Clone, Queryable)]
pub struct AuditRegistration {
    pub cart_id: String,
    pub registration_id: String,
    pub status: String,
}

#[derive(Debug, Clone, Queryable)]
pub struct AuditProcess {
    pub id: String,
    pub cart_id: String,
    pub state: String,
    pub failure: Option<String>,
}

#[derive(Debug, Clone, Queryable)]
pub struct AuditMail {
    pub id: String,
    pub kind: String,
    pub status: String,
}

/// Everything the invariants are about, read in one go.
#[derive(Debug, Clone)]
pub struct Books {
    pub orders: Vec<AuditOrder>,
    pub lines: Vec<AuditLine>,
    pub payments: Vec<AuditPayment>,
    pub registrations: Vec<AuditRegistration>,
    pub processes: Vec<AuditProcess>,
    pub mails: Vec<AuditMail>,
    /// Product id and stock.
    pub stock: Vec<(String, i64)>,
    /// Outbox events not yet done or failed, by kind.
    pub outbox_waiting: Vec<(String, String)>,
}

impl Store {
    pub async fn books(&self) -> StoreResult<Books> {
        read!(self, |c| {
            let orders = orders::table
                .select((
                    orders::id,
                    orders::number,
                    orders::cart_id,
                    orders::status,
                    orders::registration_id,
                ))
                .order(orders::number)
                .load(c)
                .await?;
            let lines = order_lines::table
                .select((
                    order_lines::order_id,
                    order_lines::product_id,
                    order_lines::quantity,
                ))
                .load(c)
                .await?;
            let payments = payments::table
                .select((
                    payments::id,
                    payments::cart_id,
                    payments::order_id,
                    payments::method,
                    payments::status,
                    payments::amount_minor,
                    payments::captured_minor,
                    payments::refunded_minor,
                    payments::released,
                    payments::provider_reference,
                ))
                .load(c)
                .await?;
            let registrations = registrations::table
                .select((
                    registrations::cart_id,
                    registrations::registration_id,
                    registrations::status,
                ))
                .load(c)
                .await?;
            let processes = place_order_process::table
                .select((
                    place_order_process::id,
                    place_order_process::cart_id,
                    place_order_process::state,
                    place_order_process::failure,
                ))
                .load(c)
                .await?;
            let mails = mails::table
                .select((mails::id, mails::kind, mails::status))
                .load(c)
                .await?;
            let stock = products::table
                .select((products::id, products::stock))
                .load(c)
                .await?;
            let outbox_waiting = outbox::table
                .filter(outbox::status.ne_all(["done", "failed"]))
                .select((outbox::kind, outbox::status))
                .load(c)
                .await?;
            Ok::<_, diesel::result::Error>(Books {
                orders,
                lines,
                payments,
                registrations,
                processes,
                mails,
                stock,
                outbox_waiting,
            })
        })
        .map_err(Into::into)
    }
}
