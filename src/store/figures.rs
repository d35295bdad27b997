//! What the shop's database says about its work, for `/metrics`: counted
//! at each scrape, so every node reports the same shop-wide figures.

use super::schema::{
    orders, outbox, payment_operations, payments, place_order_process as processes,
};
use super::{Store, StoreResult, now, read};
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use diesel_async::RunQueryDsl;
use std::time::Duration;

/// Counted rows by their labels.
pub type Counts<K> = Vec<(K, i64)>;

#[derive(Debug, Default)]
pub struct ShopFigures {
    pub orders_by_status: Counts<String>,
    /// (method, status).
    pub payments: Counts<(String, String)>,
    /// Captures, releases and refunds: (kind, status).
    pub payment_operations: Counts<(String, String)>,
    /// Processes not final, by state.
    pub running_processes: Counts<String>,
    /// Running processes nobody has stepped for the sweeper's idle time.
    pub stalled_processes: i64,
    pub outbox_pending: i64,
    /// Seconds since the oldest pending event was queued; 0 without one.
    pub outbox_oldest_pending_s: i64,
    /// Events given up on, by kind.
    pub outbox_failed: Counts<String>,
}

const COUNT: &str = "CAST(COUNT(*) AS BIGINT)";

impl Store {
    /// One reading connection, a handful of grouped counts.
    pub async fn figures(&self, stalled_after: Duration) -> StoreResult<ShopFigures> {
        let at = now();
        let stale = at - stalled_after;
        read!(self, |c| {
            let orders_by_status = orders::table
                .group_by(orders::status)
                .select((orders::status, sql::<BigInt>(COUNT)))
                .load(c)
                .await?;
            let payments = payments::table
                .group_by((payments::method, payments::status))
                .select((payments::method, payments::status, sql::<BigInt>(COUNT)))
                .load::<(String, String, i64)>(c)
                .await?
                .into_iter()
                .map(|(method, status, n)| ((method, status), n))
                .collect();
            let payment_operations = payment_operations::table
                .group_by((payment_operations::kind, payment_operations::status))
                .select((
                    payment_operations::kind,
                    payment_operations::status,
                    sql::<BigInt>(COUNT),
                ))
                .load::<(String, String, i64)>(c)
                .await?
                .into_iter()
                .map(|(kind, status, n)| ((kind, status), n))
                .collect();
            let running_processes = processes::table
                .filter(processes::is_final.eq(false))
                .group_by(processes::state)
                .select((processes::state, sql::<BigInt>(COUNT)))
                .load(c)
                .await?;
            let stalled_processes = processes::table
                .filter(processes::is_final.eq(false))
                .filter(processes::updated_at.lt(stale))
                .count()
                .get_result(c)
                .await?;
            let pending: (i64, Option<time::PrimitiveDateTime>) = outbox::table
                .filter(outbox::status.eq("pending"))
                .select((sql::<BigInt>(COUNT), diesel::dsl::min(outbox::created_at)))
                .get_result(c)
                .await?;
            let outbox_failed = outbox::table
                .filter(outbox::status.eq("failed"))
                .group_by(outbox::kind)
                .select((outbox::kind, sql::<BigInt>(COUNT)))
                .load::<(String, i64)>(c)
                .await?;
            Ok(ShopFigures {
                orders_by_status,
                payments,
                payment_operations,
                running_processes,
                stalled_processes,
                outbox_pending: pending.0,
                outbox_oldest_pending_s: pending
                    .1
                    .map_or(0, |oldest| (at - oldest).whole_seconds().max(0)),
                outbox_failed,
            })
        })
    }
}
