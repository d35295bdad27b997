//! The back office's pages: the dashboard's figures, a page of the order
//! list, and the order page before and after a button is pressed. The
//! commands themselves are `fulfilment::act`'s.

use super::Shop;
use super::error::AppResult;
use super::fulfilment::{self, Command, OrderSheet, Refusal};
use crate::clock::now;
use crate::domain::back_office::{
    CHART_DAYS, Dashboard, OPERATION_STUCK_AFTER, OrderFilter, OrderSummary, Page, day_series,
};
use crate::domain::mail::MailKind;
use crate::domain::money::Money;
use time::Duration;

/// The dashboard: the work queues' counts, today's and this week's
/// orders and revenue, and the last 30 days (UTC) for the chart.
pub async fn dashboard(shop: &Shop) -> AppResult<Dashboard> {
    let now = now();
    let counts = shop.store.queue_counts(now - OPERATION_STUCK_AFTER).await?;
    let today = now.date();
    let since = today - Duration::days(CHART_DAYS - 1);
    let known = shop.store.daily_figures(since, shop.currency).await?;
    let zero = Money::zero(shop.currency);
    let days = day_series(today, CHART_DAYS, &known, zero);
    Ok(Dashboard::new(counts, days, zero))
}

/// One page of the order list.
#[derive(Debug, Clone)]
pub struct OrderList {
    pub orders: Vec<OrderSummary>,
    pub page: Page,
    /// Orders the filter lets through, on all pages.
    pub total: i64,
}

/// Page `page` of the orders `filter` lets through, newest first.
pub async fn order_list(shop: &Shop, filter: &OrderFilter, page: i64) -> AppResult<OrderList> {
    let (orders, page, total) = shop
        .store
        .order_list(filter, page, now() - OPERATION_STUCK_AFTER)
        .await?;
    Ok(OrderList {
        orders,
        page,
        total,
    })
}

/// An order as its page shows it.
#[derive(Debug, Clone)]
pub struct OrderPage {
    pub sheet: OrderSheet,
    /// The payment method as the shopper chose it at checkout.
    pub payment_method: Option<String>,
}

pub async fn order_page(shop: &Shop, number: &str) -> AppResult<Option<OrderPage>> {
    let Some(sheet) = fulfilment::order_sheet(shop, number).await? else {
        return Ok(None);
    };
    let payment_method = sheet
        .stored
        .order
        .payment
        .as_ref()
        .map(|p| payment_method_title(shop, p));
    Ok(Some(OrderPage {
        sheet,
        payment_method,
    }))
}

/// Queues the order's mail `mail_id` again, as `actor` asked; `None` when
/// the order has no such mail or it may not be sent again.
pub async fn resend_mail(
    shop: &Shop,
    number: &str,
    mail_id: &str,
    actor: &str,
) -> AppResult<Option<MailKind>> {
    let Some(order_id) = shop.store.order_id_of_number(number).await? else {
        return Ok(None);
    };
    Ok(shop.store.resend_mail(&order_id, mail_id, actor).await?)
}

/// The payment method's name as the checkout offered it.
pub fn payment_method_title(shop: &Shop, payment: &crate::domain::order::Payment) -> String {
    shop.gateways
        .methods()
        .into_iter()
        .find(|m| m.gateway == payment.gateway && m.method == payment.method)
        .map_or_else(
            || format!("{} ({})", payment.method, payment.gateway),
            |m| m.title,
        )
}

/// What became of a button pressed on the order page.
#[derive(Debug, Clone)]
pub enum Pressed {
    Done,
    /// Nothing changed; the order as it is, with the reason.
    Refused(Refusal, Box<OrderPage>),
    /// Someone else changed the order since the page was shown; nothing
    /// was saved. The order as it is now.
    Stale {
        by: String,
        now: Box<OrderPage>,
    },
}

/// Runs `command` on the order, if it is still at the `version` the page
/// showed; `None` when there is no such order.
pub async fn press(
    shop: &Shop,
    number: &str,
    version: i64,
    command: &Command,
    actor: &str,
) -> AppResult<Option<Pressed>> {
    let Some(outcome) = fulfilment::act(shop, number, Some(version), command, actor).await? else {
        return Ok(None);
    };
    let shown = async || -> AppResult<Option<Box<OrderPage>>> {
        Ok(order_page(shop, number).await?.map(Box::new))
    };
    Ok(match outcome {
        fulfilment::Outcome::Done => Some(Pressed::Done),
        fulfilment::Outcome::Refused(refusal) => {
            shown().await?.map(|page| Pressed::Refused(refusal, page))
        }
        fulfilment::Outcome::Stale { by } => shown().await?.map(|now| Pressed::Stale { by, now }),
    })
}
