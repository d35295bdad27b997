//! `GET /admin/orders`: the order list, newest first, 25 a page, with
//! filters (order status, payment, delivery, work queue) and a search by
//! order number, e-mail or name. The filters stay in the page links, and a
//! value the list does not know is no filter, never an error.

use super::AdminLayout;
use super::format::{Shown, minutes};
use super::session::StaffSession;
use crate::application::{Shop, back_office};
use crate::domain::back_office::{
    DeliveryStage, OrderFilter, OrderSummary, Page, PaymentState, Queue, search_terms,
};
use crate::domain::order::OrderStatus;
use crate::web::error::PageResult;
use crate::web::layout::render;
use actix_web::{HttpResponse, get, web};
use askama::Template;
use serde::Deserialize;

/// The query as typed; each part is read leniently.
#[derive(Deserialize, Default)]
struct ListQuery {
    #[serde(default)]
    status: String,
    #[serde(default)]
    payment: String,
    #[serde(default)]
    delivery: String,
    #[serde(default)]
    queue: String,
    #[serde(default)]
    q: String,
    #[serde(default)]
    page: String,
}

/// An option of a filter's select.
struct Choice {
    value: &'static str,
    label: &'static str,
    selected: bool,
}

fn choices<T: Copy + PartialEq>(
    all: &[T],
    chosen: Option<T>,
    value: impl Fn(T) -> &'static str,
    label: impl Fn(T) -> &'static str,
) -> Vec<Choice> {
    all.iter()
        .map(|&item| Choice {
            value: value(item),
            label: label(item),
            selected: chosen == Some(item),
        })
        .collect()
}

struct Row {
    number: String,
    href: String,
    placed: Shown,
    customer: String,
    email: String,
    total: String,
    status: &'static str,
    status_code: &'static str,
    payment: &'static str,
}

impl From<OrderSummary> for Row {
    fn from(order: OrderSummary) -> Self {
        Self {
            href: format!("/admin/orders/{}", order.number),
            number: order.number,
            placed: minutes(order.created_at),
            customer: order.customer,
            email: order.email,
            total: order.total.to_string(),
            status: order.status.label(),
            status_code: order.status.as_str(),
            payment: order.payment.label(),
        }
    }
}

#[derive(Template)]
#[template(path = "admin/orders.html")]
struct OrdersPage {
    layout: AdminLayout,
    statuses: Vec<Choice>,
    payments: Vec<Choice>,
    deliveries: Vec<Choice>,
    queues: Vec<Choice>,
    q: String,
    filtered: bool,
    rows: Vec<Row>,
    total: i64,
    page: Page,
    previous: Option<String>,
    next: Option<String>,
}

/// What the query asks for, and the query string that asks it again.
struct Asked {
    filter: OrderFilter,
    q: String,
    page: i64,
    /// `(name, value)` of the filters in effect, for the page links.
    kept: Vec<(&'static str, String)>,
}

fn read(query: ListQuery) -> Asked {
    let mut kept = Vec::new();
    let mut keep = |name: &'static str, value: Option<&'static str>| {
        if let Some(value) = value {
            kept.push((name, value.to_owned()));
        }
    };
    let status = OrderStatus::parse(&query.status);
    keep("status", status.map(OrderStatus::as_str));
    let payment = PaymentState::parse(&query.payment);
    keep("payment", payment.map(PaymentState::as_str));
    let delivery = DeliveryStage::parse(&query.delivery);
    keep("delivery", delivery.map(DeliveryStage::as_str));
    let queue = Queue::parse(&query.queue);
    keep("queue", queue.map(Queue::as_str));
    let terms = search_terms(&query.q);
    let q = terms.join(" ");
    if !q.is_empty() {
        kept.push(("q", q.clone()));
    }
    Asked {
        filter: OrderFilter {
            status,
            payment,
            delivery,
            queue,
            terms,
        },
        // What was typed, tidied, goes back into the search box.
        q: query.q.split_whitespace().collect::<Vec<_>>().join(" "),
        page: query.page.trim().parse().unwrap_or(1),
        kept,
    }
}

fn page_link(kept: &[(&'static str, String)], page: i64) -> String {
    let mut pairs: Vec<(&str, String)> = kept.iter().map(|(k, v)| (*k, v.clone())).collect();
    pairs.push(("page", page.to_string()));
    let query = serde_urlencoded::to_string(&pairs).unwrap_or_default();
    format!("/admin/orders?{query}")
}

#[get("/admin/orders")]
async fn list(
    shop: web::Data<Shop>,
    staff: StaffSession,
    query: web::Query<ListQuery>,
) -> PageResult<HttpResponse> {
    let asked = read(query.into_inner());
    let found = back_office::order_list(&shop, &asked.filter, asked.page).await?;
    let filter = &asked.filter;
    let page = found.page;
    render(&OrdersPage {
        layout: AdminLayout::new(&shop, &staff, "orders"),
        statuses: choices(
            OrderStatus::ALL,
            filter.status,
            OrderStatus::as_str,
            OrderStatus::label,
        ),
        payments: choices(
            PaymentState::ALL,
            filter.payment,
            PaymentState::as_str,
            PaymentState::label,
        ),
        deliveries: choices(
            DeliveryStage::ALL,
            filter.delivery,
            DeliveryStage::as_str,
            DeliveryStage::label,
        ),
        queues: choices(Queue::ALL, filter.queue, Queue::as_str, Queue::label),
        filtered: !asked.kept.is_empty(),
        q: asked.q,
        rows: found.orders.into_iter().map(Row::from).collect(),
        total: found.total,
        previous: page
            .has_previous()
            .then(|| page_link(&asked.kept, page.number - 1)),
        next: page
            .has_next()
            .then(|| page_link(&asked.kept, page.number + 1)),
        page,
    })
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(list);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_filters_are_kept_in_the_links_and_junk_is_dropped() {
        let asked = read(ListQuery {
            status: "paid".into(),
            payment: "<script>".into(),
            delivery: "none".into(),
            q: "  Ann   Lee ".into(),
            page: "2x".into(),
            ..ListQuery::default()
        });
        assert_eq!(asked.filter.status, Some(OrderStatus::Paid));
        assert_eq!(asked.filter.payment, None);
        assert_eq!(asked.filter.delivery, Some(DeliveryStage::None));
        assert_eq!(asked.filter.terms, vec!["ann", "lee"]);
        assert_eq!(asked.page, 1);
        assert_eq!(
            page_link(&asked.kept, 3),
            "/admin/orders?status=paid&delivery=none&q=ann+lee&page=3"
        );
    }
}
