//! `GET /admin`: the back office's first page. What to act on (each count
//! links to its list), today's and this week's orders and revenue, and the
//! last 30 days as a chart with a table beside it.

use super::AdminLayout;
use super::chart::{Chart, chart};
use super::session::StaffSession;
use crate::application::{Shop, back_office};
use crate::domain::back_office::{DayFigures, Queue};
use crate::domain::money::Money;
use crate::web::error::PageResult;
use crate::web::layout::render;
use actix_web::{HttpResponse, get, web};
use askama::Template;

/// A work queue with its count and the list that shows it.
struct QueueTile {
    label: &'static str,
    count: i64,
    href: String,
    testid: &'static str,
}

#[derive(Template)]
#[template(path = "admin/dashboard.html")]
struct DashboardPage {
    layout: AdminLayout,
    queues: Vec<QueueTile>,
    today: DayFigures,
    week_orders: i64,
    week_revenue: Money,
    days: Vec<DayFigures>,
    chart: Chart,
}

fn tile(queue: Queue, count: i64) -> QueueTile {
    QueueTile {
        label: queue.label(),
        count,
        href: format!("/admin/orders?queue={}", queue.as_str()),
        testid: match queue {
            Queue::AwaitingPayment => "count-awaiting-payment",
            Queue::ToShip => "count-to-ship",
            Queue::PaymentProblems => "count-payment-problems",
        },
    }
}

#[get("/admin")]
async fn dashboard(shop: web::Data<Shop>, staff: StaffSession) -> PageResult<HttpResponse> {
    let figures = back_office::dashboard(&shop).await?;
    let zero = Money::zero(shop.currency);
    render(&DashboardPage {
        layout: AdminLayout::new(&shop, &staff, "dashboard"),
        queues: vec![
            tile(Queue::AwaitingPayment, figures.awaiting_payment),
            tile(Queue::ToShip, figures.to_ship),
            tile(Queue::PaymentProblems, figures.payment_problems),
        ],
        today: figures.today,
        week_orders: figures.week_orders,
        week_revenue: figures.week_revenue,
        chart: chart(&figures.days, zero),
        // Newest first in the table.
        days: figures.days.into_iter().rev().collect(),
    })
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(dashboard);
}
