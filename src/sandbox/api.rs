//! The provider's API, and the state changes its pages share.

use super::{Knobs, Sandbox, Stats};
use crate::payment::hosted::wire::{CreateSession, Session, SessionStatus};
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::Deserialize;
use time::{Duration, OffsetDateTime};

/// What a shopper or the shop owner did, or time did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    PayByCard,
    ConvenienceStore,
    Decline,
    Cancel,
    MarkPaid,
    Expire,
    Capture,
    Refund,
}

impl Sandbox {
    pub(super) fn session(&self, id: &str) -> Option<Session> {
        self.expire_overdue(id);
        self.lock().sessions.get(id).cloned()
    }

    fn expire_overdue(&self, id: &str) {
        let overdue = {
            let state = self.lock();
            state.sessions.get(id).is_some_and(|s| {
                matches!(s.status, SessionStatus::Open | SessionStatus::Pending)
                    && OffsetDateTime::now_utc() > s.expires_at
            })
        };
        if overdue {
            let _ = self.act(id, Action::Expire);
        }
    }

    /// Records a partial capture: at most the authorized amount, once.
    fn set_captured(&self, id: &str, amount: i64) -> Session {
        let mut state = self.lock();
        let session = state.sessions.get_mut(id).expect("checked by the caller");
        if session.captured_minor == session.request.amount_minor {
            session.captured_minor = amount.clamp(1, session.request.amount_minor);
        }
        session.clone()
    }

    /// Applies an action; `Err` when it does not fit the session's status.
    /// Repeating a done action is fine (the same status comes back).
    pub(super) fn act(&self, id: &str, action: Action) -> Result<Session, String> {
        use SessionStatus::*;
        let (session, event) = {
            let mut state = self.lock();
            let Some(session) = state.sessions.get_mut(id) else {
                return Err("no such session".into());
            };
            let manual = session.request.capture == "manual";
            let from = session.status;
            let (to, event) = match (action, from) {
                (Action::PayByCard, Open) if manual => (Authorized, Some("payment.authorized")),
                (Action::PayByCard, Open) => (Captured, Some("payment.captured")),
                (Action::ConvenienceStore, Open) => (Pending, Some("payment.pending")),
                (Action::Decline, Open) => (Declined, Some("payment.failed")),
                (Action::Cancel, Open | Authorized | Pending) => {
                    (Cancelled, Some("payment.cancelled"))
                }
                (Action::Cancel | Action::Refund, Captured) => (Refunded, Some("payment.refunded")),
                (Action::MarkPaid, Pending) | (Action::Capture, Authorized) => {
                    (Captured, Some("payment.captured"))
                }
                (Action::Expire, Open | Pending) => (Expired, Some("payment.expired")),
                // Repeats of what is done already.
                (Action::Capture | Action::MarkPaid, Captured)
                | (Action::Cancel, Cancelled | Refunded | Expired | Declined)
                | (Action::Refund, Refunded) => (from, None),
                (action, from) => return Err(format!("cannot {action:?} a {from:?} session")),
            };
            session.status = to;
            if to == Captured && from != Captured {
                session.captured_minor = session.request.amount_minor;
            }
            if to == Pending {
                session.payment_code = Some(format!(
                    "{:06}",
                    id.bytes().map(u64::from).sum::<u64>() % 1_000_000
                ));
                session.expires_at =
                    OffsetDateTime::now_utc() + Duration::days(self.convenience_store_days);
            }
            let session = session.clone();
            if to == Captured && from != Captured {
                state.stats.captured_sessions += 1;
            }
            (session, event)
        };
        if let Some(kind) = event {
            self.emit(&session, kind);
        }
        Ok(session)
    }
}

fn json_error(status: actix_web::http::StatusCode, message: &str) -> HttpResponse {
    HttpResponse::build(status).json(serde_json::json!({ "error": message }))
}

impl Sandbox {
    /// Counts a call of `operation` about `subject`; the answer to give
    /// instead of serving it when the API is down.
    fn receive(&self, operation: &str, subject: &str) -> Option<HttpResponse> {
        let mut state = self.lock();
        state.stats.received.record(operation, subject);
        if !state.knobs.down {
            return None;
        }
        state.stats.received.record_unavailable(operation, subject);
        Some(json_error(
            actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
            "down for maintenance",
        ))
    }
}

/// Same key and same body: the same session. Same key, other body: 409.
#[post("/v1/sessions")]
async fn create(
    sandbox: web::Data<Sandbox>,
    req: HttpRequest,
    body: web::Json<CreateSession>,
) -> HttpResponse {
    let key = req
        .headers()
        .get("Idempotency-Key")
        .and_then(|v| v.to_str().ok());
    if let Some(response) = sandbox.receive("create_session", key.unwrap_or_default()) {
        return response;
    }
    let Some(key) = key else {
        return json_error(
            actix_web::http::StatusCode::BAD_REQUEST,
            "Idempotency-Key header required",
        );
    };
    if body.amount_minor <= 0 || !["card", "convenience_store"].contains(&body.method.as_str()) {
        return json_error(
            actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
            "invalid amount or method",
        );
    }
    let mut state = sandbox.lock();
    if let Some(id) = state.by_key.get(key).cloned() {
        let session = state.sessions[&id].clone();
        return if session.request == *body {
            HttpResponse::Ok().json(session)
        } else {
            json_error(
                actix_web::http::StatusCode::CONFLICT,
                "Idempotency-Key reused with another body",
            )
        };
    }
    let id = format!("ps_{}", uuid::Uuid::new_v4().simple());
    let session = Session {
        pay_url: format!("{}/pay/{id}", sandbox.base_url()),
        id: id.clone(),
        idempotency_key: key.to_owned(),
        request: body.into_inner(),
        status: SessionStatus::Open,
        captured_minor: 0,
        payment_code: None,
        expires_at: OffsetDateTime::now_utc() + Duration::hours(1),
    };
    state.by_key.insert(key.to_owned(), id.clone());
    state.sessions.insert(id, session.clone());
    state.stats.sessions = state.sessions.len();
    HttpResponse::Created().json(session)
}

#[get("/v1/sessions/{id}")]
async fn show(sandbox: web::Data<Sandbox>, id: web::Path<String>) -> HttpResponse {
    if let Some(response) = sandbox.receive("show_session", &id) {
        return response;
    }
    match sandbox.session(&id) {
        Some(session) => HttpResponse::Ok().json(session),
        None => json_error(actix_web::http::StatusCode::NOT_FOUND, "no such session"),
    }
}

#[get("/v1/sessions/by-key/{key}")]
async fn by_key(sandbox: web::Data<Sandbox>, key: web::Path<String>) -> HttpResponse {
    if let Some(response) = sandbox.receive("session_by_key", &key) {
        return response;
    }
    let id = sandbox.lock().by_key.get(key.as_str()).cloned();
    match id.and_then(|id| sandbox.session(&id)) {
        Some(session) => HttpResponse::Ok().json(session),
        None => json_error(actix_web::http::StatusCode::NOT_FOUND, "no such session"),
    }
}

#[derive(Deserialize)]
struct Operation {
    id: String,
    operation: String,
}

#[derive(Deserialize, Default)]
struct Amount {
    amount_minor: Option<i64>,
}

/// `capture` takes an optional `amount_minor` (partial capture).
#[post("/v1/sessions/{id}/{operation}")]
async fn operate(
    sandbox: web::Data<Sandbox>,
    path: web::Path<Operation>,
    amount: Option<web::Json<Amount>>,
) -> HttpResponse {
    if let Some(response) = sandbox.receive(&path.operation, &path.id) {
        return response;
    }
    let action = match path.operation.as_str() {
        "capture" => Action::Capture,
        "cancel" => Action::Cancel,
        "refund" => Action::Refund,
        _ => return json_error(actix_web::http::StatusCode::NOT_FOUND, "no such operation"),
    };
    if sandbox.session(&path.id).is_none() {
        return json_error(actix_web::http::StatusCode::NOT_FOUND, "no such session");
    }
    let amount = amount.and_then(|a| a.into_inner().amount_minor);
    match sandbox.act(&path.id, action) {
        Ok(mut session) => {
            if action == Action::Capture
                && let Some(amount) = amount
            {
                session = sandbox.set_captured(&path.id, amount);
            }
            HttpResponse::Ok().json(session)
        }
        Err(message) => json_error(actix_web::http::StatusCode::CONFLICT, &message),
    }
}

#[post("/v1/test/knobs")]
async fn set_knobs(sandbox: web::Data<Sandbox>, knobs: web::Json<Knobs>) -> HttpResponse {
    sandbox.lock().knobs = knobs.into_inner();
    HttpResponse::NoContent().finish()
}

#[get("/v1/test/stats")]
async fn stats(sandbox: web::Data<Sandbox>) -> web::Json<Stats> {
    web::Json(sandbox.lock().stats.clone())
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(create)
        .service(by_key)
        .service(show)
        .service(operate)
        .service(set_knobs)
        .service(stats);
}
