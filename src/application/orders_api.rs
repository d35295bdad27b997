//! The JSON API for warehouse and carrier systems: orders to read, and
//! deliveries to create and move. The commands are the back office's own
//! (`fulfilment::act`), so a carrier's "delivered" captures exactly as the
//! button does; each POST runs once per idempotency key.

use super::Shop;
use super::error::AppResult;
use super::fulfilment::{self, Command, OrderSheet, Outcome};
use super::idempotency::{self, Answer, ApiRequest, Idempotent};
use crate::domain::fulfilment::DeliveryStatus;
use crate::domain::order::OrderStatus;
use serde::Deserialize;
use serde_json::{Value, json};

const PAGE: i64 = 50;

/// `GET /api/v1/orders?status=&page=`: newest first, 50 a page.
pub async fn list(shop: &Shop, status: Option<&str>, page: Option<i64>) -> AppResult<Answer> {
    let status = match status.filter(|s| !s.is_empty()) {
        None => None,
        Some(raw) => match OrderStatus::parse(raw) {
            Some(status) => Some(status),
            None => {
                let known: Vec<&str> = OrderStatus::ALL.iter().map(|s| s.as_str()).collect();
                return Ok(Answer::error(
                    400,
                    format!("unknown status; one of: {}", known.join(", ")),
                ));
            }
        },
    };
    let page = page.unwrap_or(1).max(1);
    let rows = shop
        .store
        .order_index(status, PAGE, (page - 1).saturating_mul(PAGE))
        .await?;
    let orders: Vec<Value> = rows
        .into_iter()
        .map(|(number, status, total_minor, currency, created_at)| {
            json!({
                "number": number,
                "status": status,
                "total_minor": total_minor,
                "currency": currency,
                "created_at": format!("{}T{}Z", created_at.date(), created_at.time().truncate_to_second()),
            })
        })
        .collect();
    Ok(Answer::ok(json!({ "orders": orders, "page": page })))
}

/// `GET /api/v1/orders/{number}`.
pub async fn show(shop: &Shop, number: &str) -> AppResult<Answer> {
    Ok(match fulfilment::order_sheet(shop, number).await? {
        Some(sheet) => Answer::ok(order_json(&sheet)),
        None => Answer::error(404, "no such order"),
    })
}

fn order_json(sheet: &OrderSheet) -> Value {
    let order = &sheet.stored.order;
    let lines: Vec<Value> = order
        .lines
        .iter()
        .zip(&sheet.progress)
        .map(|(line, progress)| {
            json!({
                "position": progress.position,
                "product_id": line.product_id,
                "name": line.name,
                "quantity": line.quantity,
                "total_minor": line.total.minor,
                "open": progress.open(),
                "shipped": progress.shipped,
                "delivered": progress.delivered,
            })
        })
        .collect();
    let deliveries: Vec<Value> = sheet
        .stored
        .deliveries
        .iter()
        .map(|d| {
            json!({
                "id": d.id,
                "status": d.status.as_str(),
                "carrier": d.carrier,
                "tracking_number": d.tracking_number,
                "lines": d.lines.iter().map(|(position, quantity)| json!({"position": position, "quantity": quantity})).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({
        "number": order.number.as_str(),
        "status": order.status.as_str(),
        "version": order.version,
        "currency": order.totals.total.currency.as_str(),
        "total_minor": order.totals.total.minor,
        "lines": lines,
        "payment": order.payment.as_ref().map(|p| json!({
            "method": p.method,
            "status": p.status.as_str(),
            "reserved_minor": sheet.ledger.reserved,
            "captured_minor": p.captured_minor,
            "refunded_minor": p.refunded_minor,
        })),
        "deliveries": deliveries,
    })
}

#[derive(Deserialize)]
struct NewDeliveryBody {
    /// Omitted: every open line, whole.
    #[serde(default)]
    lines: Option<Vec<LineBody>>,
    #[serde(default)]
    carrier: Option<String>,
    #[serde(default)]
    tracking_number: Option<String>,
}

#[derive(Deserialize)]
struct LineBody {
    position: i64,
    quantity: i64,
}

#[derive(Deserialize)]
struct StatusBody {
    status: String,
}

/// `POST /api/v1/orders/{number}/deliveries`.
pub async fn create_delivery(
    shop: &Shop,
    number: &str,
    actor: &str,
    request: &ApiRequest,
) -> AppResult<Idempotent> {
    idempotency::once(shop, request, async || {
        let body: NewDeliveryBody = match serde_json::from_slice(&request.body) {
            Ok(body) => body,
            Err(e) => return Ok(Answer::error(400, format!("unreadable body: {e}"))),
        };
        let Some(sheet) = fulfilment::order_sheet(shop, number).await? else {
            return Ok(Answer::error(404, "no such order"));
        };
        let lines = match body.lines {
            Some(lines) => lines.iter().map(|l| (l.position, l.quantity)).collect(),
            None => sheet
                .progress
                .iter()
                .filter(|l| l.open() > 0)
                .map(|l| (l.position, l.open()))
                .collect(),
        };
        let command = Command::CreateDelivery {
            lines,
            carrier: body.carrier,
            tracking_number: body.tracking_number,
        };
        let id = crate::ids::new_id();
        let outcome = fulfilment::act_naming(shop, number, None, &command, actor, &id).await?;
        answer_after(shop, number, outcome, Some(&id), 201).await
    })
    .await
}

/// `POST /api/v1/deliveries/{id}/status` with `shipped` or `delivered`.
pub async fn move_delivery(
    shop: &Shop,
    delivery_id: &str,
    actor: &str,
    request: &ApiRequest,
) -> AppResult<Idempotent> {
    idempotency::once(shop, request, async || {
        let body: StatusBody = match serde_json::from_slice(&request.body) {
            Ok(body) => body,
            Err(e) => return Ok(Answer::error(400, format!("unreadable body: {e}"))),
        };
        let to = match DeliveryStatus::parse(&body.status) {
            Some(to @ (DeliveryStatus::Shipped | DeliveryStatus::Delivered)) => to,
            _ => return Ok(Answer::error(400, "status is \"shipped\" or \"delivered\"")),
        };
        let Some(number) = fulfilment::order_of_delivery(shop, delivery_id).await? else {
            return Ok(Answer::error(404, "no such delivery"));
        };
        let command = Command::MoveDelivery {
            delivery_id: delivery_id.to_owned(),
            to,
        };
        let outcome = fulfilment::act(shop, &number, None, &command, actor).await?;
        answer_after(shop, &number, outcome, Some(delivery_id), 200).await
    })
    .await
}

/// The order as it is after the command, or why nothing changed.
async fn answer_after(
    shop: &Shop,
    number: &str,
    outcome: Option<Outcome>,
    delivery: Option<&str>,
    status: u16,
) -> AppResult<Answer> {
    match outcome {
        None => Ok(Answer::error(404, "no such order")),
        Some(Outcome::Refused(refusal)) => Ok(Answer::error(409, refusal.to_string())),
        // Without a version the command is decided again; stale is not an
        // outcome here, but is answered plainly if it ever were.
        Some(Outcome::Stale { .. }) => Ok(Answer::error(
            409,
            "the order changed; retry with a new key",
        )),
        Some(Outcome::Done) => {
            let Some(sheet) = fulfilment::order_sheet(shop, number).await? else {
                return Ok(Answer::error(404, "no such order"));
            };
            let mut body = json!({ "order": order_json(&sheet) });
            if let Some(id) = delivery {
                body["delivery_id"] = json!(id);
            }
            Ok(Answer { status, body })
        }
    }
}
