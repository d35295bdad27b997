//! The back office's reads over many orders: a filtered page of the list
//! (one query and one count) and the dashboard's figures (one query for
//! the work queues, one grouped by day for orders and revenue).
//!
//! Conditions diesel's DSL cannot say (correlated sub-queries, sums per
//! order) are SQL text both SQLite and PostgreSQL run. Only fixed text and
//! stored names go into that text; what staff type and the clock's time
//! are bound as parameters.

use super::schema::{orders, payments};
use super::{Store, StoreError, StoreResult, read};
use crate::domain::back_office::{
    DayFigures, DeliveryStage, OrderFilter, OrderSummary, Page, PaymentFacts, PaymentState, Queue,
    QueueCounts,
};
use crate::domain::checkout::CheckoutDetails;
use crate::domain::fulfilment::{DeliveryStatus, OperationStatus};
use crate::domain::money::{Currency, Money};
use crate::domain::order::OrderStatus;
use crate::domain::payment::PaymentStatus;
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Text, Timestamp};
use diesel_async::RunQueryDsl;
use time::{Date, PrimitiveDateTime};

#[diesel::declare_sql_function]
extern "SQL" {
    fn lower(text: Text) -> Text;
}

/// The day (UTC) of an order, as `YYYY-MM-DD` on both backends: SQLite
/// keeps timestamps as that text, PostgreSQL casts them to it.
const ORDER_DAY: &str = "substr(CAST(orders.created_at AS TEXT), 1, 10)";

/// `'a', 'b'` of stored names, for `IN (…)`.
fn quoted<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    names
        .into_iter()
        .map(|name| format!("'{name}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn status_in(statuses: &[OrderStatus]) -> String {
    format!(
        "orders.status IN ({})",
        quoted(statuses.iter().map(|s| s.as_str()))
    )
}

/// The order has goods in no (live) delivery yet. A delivery never holds
/// more of a line than is open, so comparing the sums per order is
/// comparing line by line.
fn has_open_goods() -> String {
    format!(
        "(SELECT COALESCE(SUM(ol.quantity), 0) FROM order_lines ol WHERE ol.order_id = orders.id) > \
         (SELECT COALESCE(SUM(dl.quantity), 0) FROM delivery_lines dl \
          INNER JOIN deliveries d ON d.id = dl.delivery_id \
          WHERE d.order_id = orders.id AND d.status <> '{}')",
        DeliveryStatus::Cancelled.as_str()
    )
}

/// The order has a delivery in one of `statuses`.
fn has_delivery(statuses: &[DeliveryStatus]) -> String {
    format!(
        "EXISTS (SELECT 1 FROM deliveries d WHERE d.order_id = orders.id AND d.status IN ({}))",
        quoted(statuses.iter().map(|s| s.as_str()))
    )
}

fn delivery_condition(stage: DeliveryStage) -> String {
    use DeliveryStatus::{Created, Delivered, Shipped};
    match stage {
        DeliveryStage::None => format!("NOT {}", has_delivery(&[Created, Shipped, Delivered])),
        DeliveryStage::Created => format!(
            "{} AND NOT {}",
            has_delivery(&[Created]),
            has_delivery(&[Shipped, Delivered])
        ),
        DeliveryStage::Shipped => format!(
            "{} AND NOT {}",
            has_delivery(&[Shipped]),
            has_delivery(&[Delivered])
        ),
        DeliveryStage::Delivered => has_delivery(&[Delivered]),
    }
}

/// `PaymentState::of` in SQL, over the left-joined `payments`.
fn payment_condition(state: PaymentState) -> String {
    let by_status: Vec<&str> = PaymentStatus::ALL
        .iter()
        .filter(|&&s| s != PaymentStatus::Cancelled && PaymentState::by_status(s) == state)
        .map(|s| s.as_str())
        .collect();
    let mut either = Vec::new();
    if !by_status.is_empty() {
        either.push(format!(
            "(payments.captured_minor = 0 AND NOT payments.released AND payments.status IN ({}))",
            quoted(by_status)
        ));
    }
    match state {
        PaymentState::None => either.push("payments.id IS NULL".into()),
        PaymentState::Captured => either.push(
            "(payments.captured_minor > 0 AND payments.refunded_minor < payments.captured_minor)"
                .into(),
        ),
        PaymentState::Refunded => either.push(
            "(payments.captured_minor > 0 AND payments.refunded_minor >= payments.captured_minor)"
                .into(),
        ),
        PaymentState::Cancelled => either.push(format!(
            "(payments.captured_minor = 0 AND (payments.released OR payments.status = '{}'))",
            PaymentStatus::Cancelled.as_str()
        )),
        PaymentState::Started | PaymentState::Pending | PaymentState::Reserved => {}
    }
    format!("({})", either.join(" OR "))
}

/// The payment-problems condition around its one parameter, the time
/// before which a requested operation counts as stuck: the latest
/// operation of some kind was refused (a later one that went through
/// settles it), or one is still requested since before then.
fn problem_condition_parts() -> (String, String) {
    let refused = OperationStatus::Refused.as_str();
    let requested = OperationStatus::Requested.as_str();
    (
        format!(
            "EXISTS (SELECT 1 FROM payment_operations p WHERE p.order_id = orders.id AND (\
             (p.status = '{refused}' AND NOT EXISTS (SELECT 1 FROM payment_operations q \
               WHERE q.order_id = p.order_id AND q.kind = p.kind AND q.status <> '{refused}' \
               AND q.created_at > p.created_at)) \
             OR (p.status = '{requested}' AND p.created_at < "
        ),
        ")))".to_owned(),
    )
}

fn queue_condition(queue: Queue) -> Option<String> {
    match queue {
        Queue::AwaitingPayment => Some(status_in(queue.statuses())),
        Queue::ToShip => Some(format!(
            "{} AND {}",
            status_in(queue.statuses()),
            has_open_goods()
        )),
        // Needs the time: see `problem_condition_parts`.
        Queue::PaymentProblems => None,
    }
}

/// `%term%` for LIKE, with LIKE's own characters taken literally.
fn contains_pattern(term: &str) -> String {
    let mut pattern = String::from("%");
    for c in term.chars() {
        if matches!(c, '\\' | '%' | '_') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// The orders (left-joined with their payment: an order has at most one,
/// linked when it is placed) that `$filter` lets through, as a boxed
/// query. A macro, so each backend's arm of `with_conn!` builds its own.
macro_rules! filtered_orders {
    ($filter:expr, $stuck_before:expr) => {{
        let filter: &OrderFilter = $filter;
        let mut query = orders::table
            .left_join(payments::table.on(payments::order_id.eq(orders::id.nullable())))
            .into_boxed();
        if let Some(status) = filter.status {
            query = query.filter(orders::status.eq(status.as_str()));
        }
        if let Some(state) = filter.payment {
            query = query.filter(sql::<Bool>(&payment_condition(state)));
        }
        if let Some(stage) = filter.delivery {
            query = query.filter(sql::<Bool>(&delivery_condition(stage)));
        }
        if let Some(queue) = filter.queue {
            query = match queue_condition(queue) {
                Some(condition) => query.filter(sql::<Bool>(&condition)),
                None => {
                    let (before, after) = problem_condition_parts();
                    query.filter(
                        sql::<Bool>(&before)
                            .bind::<Timestamp, _>($stuck_before)
                            .sql(&after),
                    )
                }
            };
        }
        for term in &filter.terms {
            let pattern = contains_pattern(term);
            query = query.filter(
                lower(orders::number)
                    .like(pattern.clone())
                    .escape('\\')
                    .or(lower(orders::email).like(pattern.clone()).escape('\\'))
                    .or(lower(orders::details).like(pattern).escape('\\')),
            );
        }
        query
    }};
}

/// A row of the list as read: the order's columns and its payment's.
type SummaryRow = (
    String,
    PrimitiveDateTime,
    String,
    String,
    i64,
    String,
    String,
    Option<String>,
    Option<i64>,
    Option<i64>,
    Option<bool>,
);

fn to_summary(row: SummaryRow) -> StoreResult<OrderSummary> {
    let (
        number,
        created_at,
        email,
        details,
        total,
        currency,
        status,
        p_status,
        captured,
        refunded,
        released,
    ) = row;
    let corrupt = |what: &str| StoreError::Corrupt(format!("order {number}: {what}"));
    let currency = Currency::parse(&currency).map_err(|_| corrupt("currency"))?;
    let details: CheckoutDetails =
        serde_json::from_str(&details).map_err(|_| corrupt("details"))?;
    let payment = match p_status {
        Some(p_status) => Some(PaymentFacts {
            status: PaymentStatus::parse(&p_status).ok_or_else(|| corrupt("payment status"))?,
            captured_minor: captured.unwrap_or(0),
            refunded_minor: refunded.unwrap_or(0),
            released: released.unwrap_or(false),
        }),
        None => None,
    };
    Ok(OrderSummary {
        status: OrderStatus::parse(&status).ok_or_else(|| corrupt("status"))?,
        customer: format!(
            "{} {}",
            details.billing.first_name, details.billing.last_name
        ),
        total: Money::new(total, currency),
        payment: PaymentState::of(payment),
        number,
        created_at,
        email,
    })
}

impl Store {
    /// Page `asked` (kept within the pages there are) of the orders the
    /// filter lets through, newest first, and how many there are in all.
    pub async fn order_list(
        &self,
        filter: &OrderFilter,
        asked: i64,
        stuck_before: PrimitiveDateTime,
    ) -> StoreResult<(Vec<OrderSummary>, Page, i64)> {
        let (rows, page, total) = read!(self, |c| {
            let total: i64 = filtered_orders!(filter, stuck_before)
                .select(diesel::dsl::count_star())
                .get_result(c)
                .await?;
            let page = Page::of(asked, total);
            let rows: Vec<SummaryRow> = filtered_orders!(filter, stuck_before)
                .order((orders::created_at.desc(), orders::number.desc()))
                .limit(crate::domain::back_office::PAGE_SIZE)
                .offset(page.offset())
                .select((
                    orders::number,
                    orders::created_at,
                    orders::email,
                    orders::details,
                    orders::total_minor,
                    orders::currency,
                    orders::status,
                    payments::status.nullable(),
                    payments::captured_minor.nullable(),
                    payments::refunded_minor.nullable(),
                    payments::released.nullable(),
                ))
                .load(c)
                .await?;
            Ok::<_, StoreError>((rows, page, total))
        })?;
        let orders = rows
            .into_iter()
            .map(to_summary)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok((orders, page, total))
    }

    /// How many orders each work queue holds, in one query.
    pub async fn queue_counts(&self, stuck_before: PrimitiveDateTime) -> StoreResult<QueueCounts> {
        let count_when = |condition: &str| {
            format!("CAST(COALESCE(SUM(CASE WHEN {condition} THEN 1 ELSE 0 END), 0) AS BIGINT)")
        };
        let awaiting = count_when(&queue_condition(Queue::AwaitingPayment).unwrap_or_default());
        let to_ship = count_when(&queue_condition(Queue::ToShip).unwrap_or_default());
        let (before, after) = problem_condition_parts();
        let problems_before = format!("CAST(COALESCE(SUM(CASE WHEN {before}");
        let problems_after = format!("{after} THEN 1 ELSE 0 END), 0) AS BIGINT)");
        let (awaiting_payment, to_ship, payment_problems) = read!(self, |c| {
            orders::table
                .select((
                    sql::<BigInt>(&awaiting),
                    sql::<BigInt>(&to_ship),
                    sql::<BigInt>(&problems_before)
                        .bind::<Timestamp, _>(stuck_before)
                        .sql(&problems_after),
                ))
                .get_result::<(i64, i64, i64)>(c)
                .await
        })?;
        Ok(QueueCounts {
            awaiting_payment,
            to_ship,
            payment_problems,
        })
    }

    /// Orders not cancelled and their revenue in `currency`, per day (UTC)
    /// from `since` on; days without orders are left out.
    pub async fn daily_figures(
        &self,
        since: Date,
        currency: Currency,
    ) -> StoreResult<Vec<DayFigures>> {
        let from = PrimitiveDateTime::new(since, time::Time::MIDNIGHT);
        let rows: Vec<(String, i64, i64)> = read!(self, |c| {
            orders::table
                .filter(orders::status.ne(OrderStatus::Cancelled.as_str()))
                .filter(orders::currency.eq(currency.as_str()))
                .filter(orders::created_at.ge(from))
                .group_by(sql::<Text>(ORDER_DAY))
                .select((
                    sql::<Text>(ORDER_DAY),
                    sql::<BigInt>("CAST(COUNT(*) AS BIGINT)"),
                    sql::<BigInt>("CAST(COALESCE(SUM(orders.total_minor), 0) AS BIGINT)"),
                ))
                .load(c)
                .await
        })?;
        let format = time::macros::format_description!("[year]-[month]-[day]");
        rows.into_iter()
            .map(|(day, orders, revenue)| {
                Ok(DayFigures {
                    day: Date::parse(&day, &format)
                        .map_err(|_| StoreError::Corrupt(format!("order day {day:?}")))?,
                    orders,
                    revenue: Money::new(revenue, currency),
                })
            })
            .collect()
    }
}
