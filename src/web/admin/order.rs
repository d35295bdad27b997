//! `GET /admin/orders/{number}`: one order for staff. Its lines and how
//! far each got, addresses, totals, the payment's money, deliveries with
//! their buttons, money operations, the timeline, and the actions the
//! order allows now (`fulfilment::Allowed`), each form carrying the
//! version the page shows. The buttons' POSTs are in `order_actions.rs`
//! and show this page again when nothing was saved.

use super::AdminLayout;
use super::format::{Shown, minutes, seconds};
use super::session::StaffSession;
use crate::application::Shop;
use crate::application::back_office::{self, OrderPage};
use crate::domain::address::Address;
use crate::domain::back_office::{PaymentFacts, PaymentState};
use crate::domain::fulfilment::{
    Allowed, DeliveryMove, DeliveryStatus, OperationKind, OperationStatus,
};
use crate::domain::mail::MailStatus;
use crate::domain::money::Money;
use crate::domain::order::OrderNumber;
use crate::domain::pricing::Totals;
use crate::web::error::{PageError, PageResult};
use crate::web::layout::render_with;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, web};
use askama::Template;
use serde::Deserialize;

pub struct LineView {
    pub name: String,
    pub quantity: i64,
    pub unit_price: String,
    pub total: String,
    pub in_deliveries: i64,
    pub shipped: i64,
    pub delivered: i64,
}

/// A line that still has goods for a delivery, as the delivery form
/// shows it.
pub struct OpenLine {
    pub position: i64,
    pub name: String,
    pub open: i64,
    /// What the quantity field holds: the open quantity, or what was typed.
    pub value: String,
    pub error: Option<String>,
}

pub struct PaymentView {
    pub method: String,
    pub state: &'static str,
    pub reserved: String,
    pub captured: String,
    pub refunded: String,
    pub capturing: Option<String>,
    pub refunding: Option<String>,
    pub released: bool,
}

/// A button that moves a delivery.
pub struct Move {
    pub to: &'static str,
    pub label: &'static str,
    /// Cancels rather than moves on: shown plainer.
    pub undoes: bool,
}

pub struct DeliveryView {
    pub id: String,
    pub short_id: String,
    pub status: &'static str,
    pub carrier: Option<String>,
    pub tracking_number: Option<String>,
    pub created: Shown,
    /// `quantity × name`
    pub lines: Vec<String>,
    pub moves: Vec<Move>,
    pub problem: Option<String>,
}

pub struct OperationView {
    pub kind: &'static str,
    pub amount: String,
    pub status: &'static str,
    pub refused: bool,
    pub reason: Option<String>,
    pub actor: String,
    pub at: Shown,
}

pub struct EventView {
    pub at: Shown,
    pub actor: String,
    pub detail: String,
}

/// A mail to the shopper, with what it said once sent.
pub struct MailView {
    pub id: String,
    pub at: Shown,
    pub label: &'static str,
    pub state: String,
    pub failed: bool,
    pub subject: Option<String>,
    pub text: Option<String>,
    /// A mail holding a secret is never sent again by staff.
    pub resendable: bool,
}

/// What the page says about a button pressed without effect, next to it.
#[derive(Default)]
pub struct Problems {
    pub create_delivery: Option<String>,
    /// (delivery id, reason)
    pub delivery_move: Option<(String, String)>,
    pub capture: Option<String>,
    pub cancel: Option<String>,
    pub refund: Option<String>,
    pub mark_paid: Option<String>,
    pub mark_collected: Option<String>,
}

/// What was typed into the forms, shown again after a refusal.
#[derive(Default)]
pub struct Typed {
    /// (line position, quantity as typed)
    pub quantities: Vec<(i64, String)>,
    /// (line position, what is wrong with it)
    pub quantity_errors: Vec<(i64, String)>,
    pub carrier: String,
    pub tracking_number: String,
    pub refund_amount: String,
}

/// What the page shows above the order after a button was pressed.
#[derive(Default)]
pub struct Feedback {
    /// Saved: a fixed confirmation.
    pub notice: Option<&'static str>,
    /// Someone else changed the order first.
    pub stale: Option<String>,
    pub problems: Problems,
    pub typed: Typed,
}

#[derive(Template)]
#[template(path = "admin/order.html")]
pub struct OrderTemplate {
    layout: AdminLayout,
    csrf_token: String,
    number: String,
    version: i64,
    placed: Shown,
    status: &'static str,
    status_code: &'static str,
    email: String,
    billing: Vec<String>,
    shipping: Vec<String>,
    shipping_method: String,
    lines: Vec<LineView>,
    totals: Totals,
    payment: Option<PaymentView>,
    deliveries: Vec<DeliveryView>,
    operations: Vec<OperationView>,
    timeline: Vec<EventView>,
    mails: Vec<MailView>,
    allowed: Allowed,
    open_lines: Vec<OpenLine>,
    capturable: String,
    refundable: String,
    notice: Option<&'static str>,
    stale: Option<String>,
    /// A refusal about a delivery the order does not have: said on top.
    unplaced: Option<String>,
    problems: Problems,
    carrier: String,
    tracking_number: String,
    refund_amount: String,
}

fn address_lines(address: &Address) -> Vec<String> {
    let mut lines = vec![format!("{} {}", address.first_name, address.last_name)];
    lines.extend(address.company.clone());
    lines.push(format!("{} {}", address.street, address.house_number));
    lines.push(format!("{} {}", address.postcode, address.city));
    lines.push(address.country.name().to_owned());
    lines.extend(address.phone.clone());
    lines
}

fn delivery_label(status: DeliveryStatus) -> &'static str {
    match status {
        DeliveryStatus::Created => "Created",
        DeliveryStatus::Shipped => "Shipped",
        DeliveryStatus::Delivered => "Delivered",
        DeliveryStatus::Cancelled => "Cancelled",
    }
}

/// The buttons a delivery shows: every move its status may make.
fn moves(from: DeliveryStatus) -> Vec<Move> {
    [
        (DeliveryStatus::Shipped, "Mark shipped"),
        (DeliveryStatus::Delivered, "Mark delivered"),
        (DeliveryStatus::Cancelled, "Cancel delivery"),
    ]
    .into_iter()
    .filter(|&(to, _)| from.move_to(to) == Ok(DeliveryMove::Moves))
    .map(|(to, label)| Move {
        to: to.as_str(),
        label,
        undoes: to == DeliveryStatus::Cancelled,
    })
    .collect()
}

fn operation_kind(kind: OperationKind) -> &'static str {
    match kind {
        OperationKind::Capture => "Capture",
        OperationKind::Release => "Release of the rest",
        OperationKind::Refund => "Refund",
    }
}

fn operation_status(status: OperationStatus) -> &'static str {
    match status {
        OperationStatus::Requested => "Waiting for the provider",
        OperationStatus::Done => "Done",
        OperationStatus::Refused => "Refused",
    }
}

impl OrderTemplate {
    pub fn new(shop: &Shop, staff: &StaffSession, page: OrderPage, feedback: Feedback) -> Self {
        let OrderPage {
            sheet,
            payment_method,
        } = page;
        let order = &sheet.stored.order;
        let currency = order.totals.total.currency;
        let money = |minor: i64| Money::new(minor, currency).to_string();
        let name_of = |position: i64| {
            usize::try_from(position)
                .ok()
                .and_then(|i| order.lines.get(i))
                .map_or_else(|| format!("Line {}", position + 1), |l| l.name.clone())
        };
        let lines = order
            .lines
            .iter()
            .zip(&sheet.progress)
            .map(|(line, progress)| LineView {
                name: line.name.clone(),
                quantity: line.quantity,
                unit_price: line.unit_price.to_string(),
                total: line.total.to_string(),
                in_deliveries: progress.in_deliveries,
                shipped: progress.shipped,
                delivered: progress.delivered,
            })
            .collect();
        let Typed {
            quantities,
            quantity_errors,
            carrier,
            tracking_number,
            refund_amount,
        } = feedback.typed;
        let open_lines = sheet
            .progress
            .iter()
            .filter(|l| l.open() > 0)
            .map(|l| OpenLine {
                position: l.position,
                name: name_of(l.position),
                open: l.open(),
                value: quantities
                    .iter()
                    .find(|(p, _)| *p == l.position)
                    .map_or_else(|| l.open().to_string(), |(_, typed)| typed.clone()),
                error: quantity_errors
                    .iter()
                    .find(|(p, _)| *p == l.position)
                    .map(|(_, e)| e.clone()),
            })
            .collect();
        let ledger = &sheet.ledger;
        let payment = order.payment.as_ref().map(|p| PaymentView {
            method: payment_method.clone().unwrap_or_else(|| p.method.clone()),
            state: PaymentState::of(Some(PaymentFacts {
                status: p.status,
                captured_minor: p.captured_minor,
                refunded_minor: p.refunded_minor,
                released: p.released,
            }))
            .label(),
            reserved: money(ledger.reserved),
            captured: money(ledger.captured),
            refunded: money(ledger.refunded),
            capturing: (ledger.capturing > 0).then(|| money(ledger.capturing)),
            refunding: (ledger.refunding > 0).then(|| money(ledger.refunding)),
            released: ledger.released,
        });
        let problems = feedback.problems;
        let deliveries = sheet
            .stored
            .deliveries
            .iter()
            .map(|d| DeliveryView {
                short_id: d.id.get(..8).unwrap_or(&d.id).to_owned(),
                status: delivery_label(d.status),
                carrier: d.carrier.clone(),
                tracking_number: d.tracking_number.clone(),
                created: minutes(d.created_at),
                lines: d
                    .lines
                    .iter()
                    .map(|&(position, quantity)| format!("{quantity} × {}", name_of(position)))
                    .collect(),
                moves: moves(d.status),
                problem: problems
                    .delivery_move
                    .as_ref()
                    .filter(|(id, _)| *id == d.id)
                    .map(|(_, reason)| reason.clone()),
                id: d.id.clone(),
            })
            .collect();
        let unplaced = problems
            .delivery_move
            .as_ref()
            .filter(|(id, _)| !sheet.stored.deliveries.iter().any(|d| d.id == *id))
            .map(|(_, reason)| reason.clone());
        let operations = sheet
            .stored
            .operations
            .iter()
            .map(|o| OperationView {
                kind: operation_kind(o.kind),
                amount: if o.kind == OperationKind::Release {
                    "the rest".into()
                } else {
                    money(o.amount_minor)
                },
                status: operation_status(o.status),
                refused: o.status == OperationStatus::Refused,
                reason: o.reason.clone(),
                actor: o.actor.clone(),
                at: seconds(o.created_at),
            })
            .collect();
        let timeline = sheet
            .stored
            .timeline
            .iter()
            .map(|e| EventView {
                at: seconds(e.at),
                actor: e.actor.clone(),
                detail: e.detail.clone(),
            })
            .collect();
        let mails = sheet
            .stored
            .mails
            .iter()
            .map(|m| MailView {
                id: m.id.clone(),
                at: seconds(m.created_at),
                label: m.kind.label(),
                state: m.state_text(),
                failed: m.status == MailStatus::Failed,
                subject: m.content.as_ref().map(|c| c.subject.clone()),
                text: m.content.as_ref().map(|c| c.text.clone()),
                resendable: !m.kind.holds_secret(),
            })
            .collect();
        let details = &order.details;
        Self {
            layout: AdminLayout::new(shop, staff, "orders"),
            csrf_token: staff.csrf_token.clone(),
            number: order.number.to_string(),
            version: order.version,
            placed: minutes(order.created_at),
            status: order.status.label(),
            status_code: order.status.as_str(),
            email: details.email.as_str().to_owned(),
            billing: address_lines(&details.billing),
            shipping: address_lines(details.delivery()),
            shipping_method: order.shipping_method.clone(),
            lines,
            totals: order.totals.clone(),
            payment,
            deliveries,
            operations,
            timeline,
            mails,
            allowed: sheet.allowed,
            open_lines,
            capturable: money(ledger.capturable()),
            refundable: money(ledger.refundable()),
            notice: feedback.notice,
            stale: feedback.stale,
            unplaced,
            problems,
            carrier,
            tracking_number,
            refund_amount,
        }
    }
}

/// The order page as a response with `status`.
pub fn show(
    shop: &Shop,
    staff: &StaffSession,
    page: OrderPage,
    feedback: Feedback,
    status: StatusCode,
) -> PageResult<HttpResponse> {
    render_with(status, &OrderTemplate::new(shop, staff, page, feedback))
}

/// The order number of a path, or 404: only numbers the shop gives out.
pub fn number_in_path(raw: &str) -> PageResult<OrderNumber> {
    OrderNumber::parse(raw).ok_or(PageError::NotFound)
}

/// `?done=` after a saved change: which fixed confirmation to show.
#[derive(Deserialize)]
struct DoneQuery {
    #[serde(default)]
    done: String,
}

/// The confirmations, by the `done` key the POSTs redirect with.
pub const DONE: &[(&str, &str)] = &[
    ("delivery_created", "Delivery created."),
    ("shipped", "Delivery marked as shipped."),
    ("delivered", "Delivery marked as delivered."),
    ("delivery_cancelled", "Delivery cancelled."),
    ("captured", "Capture sent to the payment provider."),
    ("cancelled", "Order cancelled."),
    ("refunded", "Refund sent to the payment provider."),
    ("paid", "Payment recorded as received."),
    ("collected", "Cash on delivery recorded as collected."),
    ("mail_resent", "The mail is queued to be sent again."),
];

#[get("/admin/orders/{number}")]
async fn order_page(
    shop: web::Data<Shop>,
    staff: StaffSession,
    number: web::Path<String>,
    query: web::Query<DoneQuery>,
) -> PageResult<HttpResponse> {
    let number = number_in_path(&number)?;
    let page = back_office::order_page(&shop, number.as_str())
        .await?
        .ok_or(PageError::NotFound)?;
    let notice = DONE
        .iter()
        .find(|(key, _)| *key == query.done)
        .map(|(_, text)| *text);
    let feedback = Feedback {
        notice,
        ..Feedback::default()
    };
    show(&shop, &staff, page, feedback, StatusCode::OK)
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(order_page);
}
