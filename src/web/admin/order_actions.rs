//! The order page's buttons (POST, CSRF-checked `StaffForm`s), each with
//! the order's `version` the page showed:
//!
//! - `/admin/orders/{number}/deliveries`: `qty_{position}`, `carrier`,
//!   `tracking_number`
//! - `/admin/orders/{number}/deliveries/{id}/status`: `status` =
//!   shipped | delivered | cancelled
//! - `/admin/orders/{number}/capture`, `/cancel`, `/mark-paid`,
//!   `/mark-collected`
//! - `/admin/orders/{number}/refund`: `amount` in major units (12.34)
//!
//! Saved: 303 back to the order with a fixed confirmation. Refused: the
//! order page again, 422, the reason next to the button. Changed meanwhile
//! by someone else: the order as it is now, 409, nothing saved.

use super::order::{Feedback, Problems, Typed, number_in_path, show};
use super::session::{StaffForm, StaffSession};
use crate::application::Shop;
use crate::application::back_office::{self, Pressed};
use crate::application::fulfilment::{Command, Refusal};
use crate::domain::fulfilment::{DeliveryLinesRefusal, DeliveryStatus};
use crate::domain::money::parse_amount;
use crate::domain::order::OrderNumber;
use crate::web::error::{PageError, PageResult};
use crate::web::layout::see_other;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, post, web};
use serde::Deserialize;
use std::collections::HashMap;

/// Which button was pressed, to put its answer next to it.
enum Button {
    CreateDelivery,
    MoveDelivery { id: String, to: DeliveryStatus },
    Capture,
    Cancel,
    Refund,
    MarkPaid,
    MarkCollected,
}

#[derive(Deserialize)]
struct VersionOnly {
    #[serde(default)]
    version: String,
}

#[derive(Deserialize)]
struct MoveForm {
    #[serde(default)]
    version: String,
    #[serde(default)]
    status: String,
}

#[derive(Deserialize)]
struct RefundForm {
    #[serde(default)]
    version: String,
    #[serde(default)]
    amount: String,
}

/// The version a form was rendered with; every form has one, so a form
/// without is not one of ours.
fn version(raw: &str) -> PageResult<i64> {
    raw.trim()
        .parse()
        .map_err(|_| PageError::BadRequest("the form names no order version".into()))
}

/// The `done` key of a saved change (see `order::DONE`).
fn done_key(button: &Button) -> &'static str {
    match button {
        Button::CreateDelivery => "delivery_created",
        Button::MoveDelivery { to, .. } => match to {
            DeliveryStatus::Shipped => "shipped",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Created | DeliveryStatus::Cancelled => "delivery_cancelled",
        },
        Button::Capture => "captured",
        Button::Cancel => "cancelled",
        Button::Refund => "refunded",
        Button::MarkPaid => "paid",
        Button::MarkCollected => "collected",
    }
}

/// A refusal, next to the button that got it.
fn problems_for(button: &Button, refusal: &Refusal, typed: &mut Typed) -> Problems {
    let reason = refusal.to_string();
    let mut problems = Problems::default();
    match button {
        Button::CreateDelivery => {
            // Too many of one line: said at that line's field.
            if let Refusal::Lines(DeliveryLinesRefusal::TooMany { position, open }) = refusal {
                typed.quantity_errors.push((
                    *position,
                    format!("Only {open} of this line are still to be delivered."),
                ));
            }
            problems.create_delivery = Some(reason);
        }
        Button::MoveDelivery { id, .. } => problems.delivery_move = Some((id.clone(), reason)),
        Button::Capture => problems.capture = Some(reason),
        Button::Cancel => problems.cancel = Some(reason),
        Button::Refund => problems.refund = Some(reason),
        Button::MarkPaid => problems.mark_paid = Some(reason),
        Button::MarkCollected => problems.mark_collected = Some(reason),
    }
    problems
}

/// Runs the command of a pressed button and answers as the module says.
async fn press(
    shop: &Shop,
    staff: &StaffSession,
    number: &OrderNumber,
    version: i64,
    button: Button,
    command: Command,
    mut typed: Typed,
) -> PageResult<HttpResponse> {
    let actor = staff.actor().to_string();
    let pressed = back_office::press(shop, number.as_str(), version, &command, &actor)
        .await?
        .ok_or(PageError::NotFound)?;
    match pressed {
        Pressed::Done => Ok(see_other(&format!(
            "/admin/orders/{number}?done={}",
            done_key(&button)
        ))),
        Pressed::Refused(refusal, page) => {
            let problems = problems_for(&button, &refusal, &mut typed);
            let feedback = Feedback {
                problems,
                typed,
                ..Feedback::default()
            };
            show(
                shop,
                staff,
                *page,
                feedback,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
        }
        Pressed::Stale { by, now } => {
            // The forms show the order as it is now, not what was typed
            // for the order as it was.
            let feedback = Feedback {
                stale: Some(format!(
                    "This order was changed meanwhile by {by}; nothing was saved."
                )),
                ..Feedback::default()
            };
            show(shop, staff, *now, feedback, StatusCode::CONFLICT)
        }
    }
}

/// A form's problem found before anything runs: the order page, 422.
async fn refuse_typed(
    shop: &Shop,
    staff: &StaffSession,
    number: &OrderNumber,
    problems: Problems,
    typed: Typed,
) -> PageResult<HttpResponse> {
    let page = back_office::order_page(shop, number.as_str())
        .await?
        .ok_or(PageError::NotFound)?;
    let feedback = Feedback {
        problems,
        typed,
        ..Feedback::default()
    };
    show(
        shop,
        staff,
        page,
        feedback,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
}

/// A quantity as typed: blank is none, anything but a whole number is
/// refused.
fn quantity(typed: &str) -> Result<i64, &'static str> {
    let typed = typed.trim();
    if typed.is_empty() {
        return Ok(0);
    }
    if typed.len() > 9 || !typed.bytes().all(|b| b.is_ascii_digit()) {
        return Err("Please enter a whole number of items (0 leaves the line out).");
    }
    typed.parse().map_err(|_| "Please enter a whole number.")
}

#[post("/admin/orders/{number}/deliveries")]
async fn create_delivery(
    shop: web::Data<Shop>,
    number: web::Path<String>,
    sent: StaffForm<HashMap<String, String>>,
) -> PageResult<HttpResponse> {
    let number = number_in_path(&number)?;
    let fields = sent.form;
    let version = version(fields.get("version").map_or("", String::as_str))?;
    let text = |name: &str| fields.get(name).cloned().unwrap_or_default();
    let mut typed = Typed {
        carrier: text("carrier"),
        tracking_number: text("tracking_number"),
        ..Typed::default()
    };
    let mut lines = Vec::new();
    for (name, value) in &fields {
        let Some(position) = name
            .strip_prefix("qty_")
            .and_then(|p| p.parse::<i64>().ok())
        else {
            continue;
        };
        typed.quantities.push((position, value.clone()));
        match quantity(value) {
            Ok(q) => lines.push((position, q)),
            Err(message) => typed.quantity_errors.push((position, message.to_owned())),
        }
    }
    lines.sort_unstable();
    if !typed.quantity_errors.is_empty() {
        let problems = Problems {
            create_delivery: Some("Please correct the quantities.".into()),
            ..Problems::default()
        };
        return refuse_typed(&shop, &sent.staff, &number, problems, typed).await;
    }
    let command = Command::CreateDelivery {
        lines,
        carrier: Some(typed.carrier.clone()),
        tracking_number: Some(typed.tracking_number.clone()),
    };
    press(
        &shop,
        &sent.staff,
        &number,
        version,
        Button::CreateDelivery,
        command,
        typed,
    )
    .await
}

#[post("/admin/orders/{number}/deliveries/{delivery_id}/status")]
async fn move_delivery(
    shop: web::Data<Shop>,
    path: web::Path<(String, String)>,
    sent: StaffForm<MoveForm>,
) -> PageResult<HttpResponse> {
    let (number, delivery_id) = path.into_inner();
    let number = number_in_path(&number)?;
    let version = version(&sent.form.version)?;
    let to = match DeliveryStatus::parse(&sent.form.status) {
        Some(
            to @ (DeliveryStatus::Shipped | DeliveryStatus::Delivered | DeliveryStatus::Cancelled),
        ) => to,
        _ => return Err(PageError::BadRequest("no such delivery status".into())),
    };
    let command = Command::MoveDelivery {
        delivery_id: delivery_id.clone(),
        to,
    };
    let button = Button::MoveDelivery {
        id: delivery_id,
        to,
    };
    press(
        &shop,
        &sent.staff,
        &number,
        version,
        button,
        command,
        Typed::default(),
    )
    .await
}

/// A button without fields but the version.
async fn simple(
    shop: &Shop,
    number: &str,
    sent: StaffForm<VersionOnly>,
    button: Button,
    command: Command,
) -> PageResult<HttpResponse> {
    let number = number_in_path(number)?;
    let version = version(&sent.form.version)?;
    press(
        shop,
        &sent.staff,
        &number,
        version,
        button,
        command,
        Typed::default(),
    )
    .await
}

#[post("/admin/orders/{number}/capture")]
async fn capture(
    shop: web::Data<Shop>,
    number: web::Path<String>,
    sent: StaffForm<VersionOnly>,
) -> PageResult<HttpResponse> {
    simple(&shop, &number, sent, Button::Capture, Command::Capture).await
}

#[post("/admin/orders/{number}/cancel")]
async fn cancel(
    shop: web::Data<Shop>,
    number: web::Path<String>,
    sent: StaffForm<VersionOnly>,
) -> PageResult<HttpResponse> {
    simple(&shop, &number, sent, Button::Cancel, Command::Cancel).await
}

#[post("/admin/orders/{number}/mark-paid")]
async fn mark_paid(
    shop: web::Data<Shop>,
    number: web::Path<String>,
    sent: StaffForm<VersionOnly>,
) -> PageResult<HttpResponse> {
    simple(&shop, &number, sent, Button::MarkPaid, Command::MarkPaid).await
}

#[post("/admin/orders/{number}/mark-collected")]
async fn mark_collected(
    shop: web::Data<Shop>,
    number: web::Path<String>,
    sent: StaffForm<VersionOnly>,
) -> PageResult<HttpResponse> {
    simple(
        &shop,
        &number,
        sent,
        Button::MarkCollected,
        Command::MarkCollected,
    )
    .await
}

#[post("/admin/orders/{number}/refund")]
async fn refund(
    shop: web::Data<Shop>,
    number: web::Path<String>,
    sent: StaffForm<RefundForm>,
) -> PageResult<HttpResponse> {
    let number = number_in_path(&number)?;
    let version = version(&sent.form.version)?;
    let typed = Typed {
        refund_amount: sent.form.amount.clone(),
        ..Typed::default()
    };
    let amount = match parse_amount(&sent.form.amount, shop.currency) {
        Ok(amount) => amount,
        Err(refusal) => {
            let problems = Problems {
                refund: Some(refusal.to_string()),
                ..Problems::default()
            };
            return refuse_typed(&shop, &sent.staff, &number, problems, typed).await;
        }
    };
    let command = Command::Refund {
        amount_minor: amount.minor,
    };
    press(
        &shop,
        &sent.staff,
        &number,
        version,
        Button::Refund,
        command,
        typed,
    )
    .await
}

#[derive(Deserialize)]
struct NoFields {}

/// Sends one of the order's mails again: a new mail with the same content,
/// queued like the first.
#[post("/admin/orders/{number}/mails/{mail_id}/resend")]
async fn resend_mail(
    shop: web::Data<Shop>,
    path: web::Path<(String, String)>,
    sent: StaffForm<NoFields>,
) -> PageResult<HttpResponse> {
    let (number, mail_id) = path.into_inner();
    let number = number_in_path(&number)?;
    let actor = sent.staff.actor().to_string();
    back_office::resend_mail(&shop, number.as_str(), &mail_id, &actor)
        .await?
        .ok_or(PageError::NotFound)?;
    Ok(see_other(&format!(
        "/admin/orders/{}?done=mail_resent",
        number.as_str()
    )))
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(resend_mail)
        .service(create_delivery)
        .service(move_delivery)
        .service(capture)
        .service(cancel)
        .service(mark_paid)
        .service(mark_collected)
        .service(refund);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_are_whole_numbers_or_blank() {
        assert_eq!(quantity(" 2 "), Ok(2));
        assert_eq!(quantity(""), Ok(0));
        for junk in ["-1", "1.5", "two", "1e3", "9999999999", "+1"] {
            assert!(quantity(junk).is_err(), "{junk}");
        }
    }

    #[test]
    fn every_done_key_has_its_confirmation() {
        let moved = |to| Button::MoveDelivery { id: "d".into(), to };
        let buttons = [
            Button::CreateDelivery,
            moved(DeliveryStatus::Shipped),
            moved(DeliveryStatus::Delivered),
            moved(DeliveryStatus::Cancelled),
            Button::Capture,
            Button::Cancel,
            Button::Refund,
            Button::MarkPaid,
            Button::MarkCollected,
        ];
        for button in &buttons {
            let key = done_key(button);
            assert!(
                super::super::order::DONE.iter().any(|(k, _)| *k == key),
                "{key}"
            );
        }
    }
}
