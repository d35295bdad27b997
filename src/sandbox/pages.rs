//! The provider's pages: where the shopper pays, and the console where the
//! shop owner sees sessions and settles convenience-store payments.

use super::Sandbox;
use super::api::Action;
use super::operations::format_minor;
use crate::payment::hosted::wire::{OperationOutcome, Session};
use actix_web::http::header;
use actix_web::{HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

#[derive(Template)]
#[template(path = "sandbox/pay.html")]
struct PayPage {
    session: Session,
    amount: String,
}

#[derive(Template)]
#[template(path = "sandbox/console.html")]
struct ConsolePage {
    sessions: Vec<SessionRow>,
    captures: u64,
}

/// A session as the console lists it, with its money operations.
struct SessionRow {
    session: Session,
    amount: String,
    captured: String,
    refunded: String,
    operations: Vec<OperationRow>,
}

struct OperationRow {
    kind: String,
    amount: String,
    key: String,
    outcome: String,
}

impl SessionRow {
    fn of(session: Session) -> Self {
        let currency = session.request.currency.clone();
        let operations = session
            .operations
            .iter()
            .map(|op| OperationRow {
                kind: op.kind.to_string(),
                amount: format_minor(op.amount_minor, &currency),
                key: op.key.clone(),
                outcome: match &op.outcome {
                    OperationOutcome::Done => "done".into(),
                    OperationOutcome::Refused { reason } => format!("refused: {reason}"),
                },
            })
            .collect();
        Self {
            amount: amount(&session),
            captured: format_minor(session.captured_minor, &currency),
            refunded: format_minor(session.refunded_minor, &currency),
            operations,
            session,
        }
    }
}

#[derive(Template)]
#[template(path = "sandbox/done.html")]
struct DonePage {
    message: &'static str,
}

fn html(body: Result<String, askama::Error>) -> HttpResponse {
    match body {
        Ok(body) => HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .body(body),
        Err(e) => HttpResponse::InternalServerError().body(e.to_string()),
    }
}

fn amount(session: &Session) -> String {
    format_minor(session.request.amount_minor, &session.request.currency)
}

#[get("/pay/{id}")]
async fn pay_page(sandbox: web::Data<Sandbox>, id: web::Path<String>) -> HttpResponse {
    match sandbox.session(&id) {
        Some(session) => html(
            PayPage {
                amount: amount(&session),
                session,
            }
            .render(),
        ),
        None => HttpResponse::NotFound().body("No such payment session."),
    }
}

#[derive(Deserialize)]
struct PayPath {
    id: String,
    choice: String,
}

/// The shopper's choice; then back to the shop (or, with the knob, not).
#[post("/pay/{id}/{choice}")]
async fn pay(sandbox: web::Data<Sandbox>, path: web::Path<PayPath>) -> HttpResponse {
    let action = match path.choice.as_str() {
        "card" => Action::PayByCard,
        "convenience_store" => Action::ConvenienceStore,
        "decline" => Action::Decline,
        "cancel" => Action::Cancel,
        _ => return HttpResponse::NotFound().finish(),
    };
    let session = match sandbox.act(&path.id, action) {
        Ok(session) => session,
        Err(message) => return HttpResponse::Conflict().body(message),
    };
    if sandbox.lock().knobs.shopper_never_returns {
        return html(
            DonePage {
                message: "Thank you. You may close this window.",
            }
            .render(),
        );
    }
    let back = if action == Action::Cancel {
        &session.request.cancel_url
    } else {
        &session.request.return_url
    };
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, back.as_str()))
        .finish()
}

#[get("/console")]
async fn console(sandbox: web::Data<Sandbox>) -> HttpResponse {
    let (mut sessions, captures) = {
        let state = sandbox.lock();
        (
            state.sessions.values().cloned().collect::<Vec<_>>(),
            state.stats.captured_sessions,
        )
    };
    sessions.sort_by_key(|s| std::cmp::Reverse(s.expires_at));
    let sessions = sessions.into_iter().map(SessionRow::of).collect();
    html(ConsolePage { sessions, captures }.render())
}

#[post("/console/{id}/{choice}")]
async fn settle(sandbox: web::Data<Sandbox>, path: web::Path<PayPath>) -> HttpResponse {
    let action = match path.choice.as_str() {
        "paid" => Action::MarkPaid,
        "expire" => Action::Expire,
        _ => return HttpResponse::NotFound().finish(),
    };
    match sandbox.act(&path.id, action) {
        Ok(_) => HttpResponse::SeeOther()
            .insert_header((header::LOCATION, "/console"))
            .finish(),
        Err(message) => HttpResponse::Conflict().body(message),
    }
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(pay_page)
        .service(pay)
        .service(console)
        .service(settle);
}
