//! The provider's API, and the state changes its pages share.

use super::operations::{self, EXPIRED_RESERVATION};
use super::{Knobs, Sandbox, Stats};
use crate::payment::hosted::wire::{
    AmountRequest, CaptureMode, CreateSession, Operation, OperationKind, OperationOutcome, Session,
    SessionStatus,
};
use actix_web::http::StatusCode;
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
            let manual = session.request.capture == CaptureMode::Manual;
            let from = session.status;
            let captured_before = session.captured_minor;
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
            // The money operations' books follow the whole-payment actions.
            if from == Authorized && to == Cancelled {
                session.released = true;
            }
            if to == Refunded && from != Refunded {
                session.refunded_minor = session.captured_minor;
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
            if captured_before == 0 && session.captured_minor > 0 {
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

fn json_error(status: StatusCode, message: &str) -> HttpResponse {
    HttpResponse::build(status).json(serde_json::json!({ "error": message }))
}

impl Sandbox {
    /// Counts a call of `operation` about `subject`; the answer to give
    /// instead of serving it when the API is down.
    fn receive(&self, operation: &str, subject: &str) -> Option<HttpResponse> {
        let mut state = self.lock();
        state.stats.received.record(operation, subject);
        if !state.knobs.down && !state.chaos.fail_call() {
            return None;
        }
        state.stats.received.record_unavailable(operation, subject);
        Some(json_error(
            StatusCode::SERVICE_UNAVAILABLE,
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
        return json_error(StatusCode::BAD_REQUEST, "Idempotency-Key header required");
    };
    if body.amount_minor <= 0 || !["card", "convenience_store"].contains(&body.method.as_str()) {
        return json_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid amount or method");
    }
    let mut state = sandbox.lock();
    if let Some(id) = state.by_key.get(key).cloned() {
        let session = state.sessions[&id].clone();
        return if session.request == *body {
            HttpResponse::Ok().json(session)
        } else {
            json_error(
                StatusCode::CONFLICT,
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
        refunded_minor: 0,
        released: false,
        operations: Vec::new(),
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
        None => json_error(StatusCode::NOT_FOUND, "no such session"),
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
        None => json_error(StatusCode::NOT_FOUND, "no such session"),
    }
}

#[derive(Deserialize)]
struct OperationPath {
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
    path: web::Path<OperationPath>,
    amount: Option<web::Json<Amount>>,
) -> HttpResponse {
    if let Some(response) = sandbox.receive(&path.operation, &path.id) {
        return response;
    }
    let action = match path.operation.as_str() {
        "capture" => Action::Capture,
        "cancel" => Action::Cancel,
        "refund" => Action::Refund,
        _ => return json_error(StatusCode::NOT_FOUND, "no such operation"),
    };
    if sandbox.session(&path.id).is_none() {
        return json_error(StatusCode::NOT_FOUND, "no such session");
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
        Err(message) => json_error(StatusCode::CONFLICT, &message),
    }
}

/// How a money operation call was answered.
enum Answer {
    /// Performed now or before, or refused now or before: the record.
    Recorded(Operation),
    NoSession,
    /// The key was used for another operation (another session, kind or
    /// amount).
    KeyReused,
}

impl Sandbox {
    /// A money operation under `key`: a key seen before gets its first
    /// answer and changes nothing; a new key is performed (or refused) by
    /// the provider's rules, and a performed one is reported by webhook.
    fn money_operation(
        &self,
        id: &str,
        key: &str,
        kind: OperationKind,
        amount_minor: i64,
    ) -> Answer {
        let (operation, session) = {
            let mut guard = self.lock();
            let state = &mut *guard;
            if let Some(earlier) = state.operation_keys.get(key) {
                let first = state
                    .sessions
                    .get(earlier)
                    .and_then(|s| s.operations.iter().find(|o| o.key == key).cloned());
                return match first {
                    Some(first)
                        if earlier == id
                            && first.kind == kind
                            && (kind == OperationKind::Release
                                || first.amount_minor == amount_minor) =>
                    {
                        Answer::Recorded(first)
                    }
                    _ => Answer::KeyReused,
                };
            }
            let Some(session) = state.sessions.get_mut(id) else {
                return Answer::NoSession;
            };
            let refusal = match kind {
                OperationKind::Capture => state.fail_next_capture.take(),
                OperationKind::Release | OperationKind::Refund => None,
            };
            let captured_before = session.captured_minor;
            let operation = operations::perform(
                session,
                key,
                kind,
                amount_minor,
                OffsetDateTime::now_utc(),
                refusal,
            );
            let session = session.clone();
            state.operation_keys.insert(key.to_owned(), id.to_owned());
            if captured_before == 0 && session.captured_minor > 0 {
                state.stats.captured_sessions += 1;
            }
            (operation, session)
        };
        if operation.outcome == OperationOutcome::Done {
            let event = match kind {
                OperationKind::Capture => "payment.captured",
                OperationKind::Release => "payment.released",
                OperationKind::Refund => "payment.refunded",
            };
            self.emit_with_amount(&session, event, Some(operation.amount_minor));
        }
        Answer::Recorded(operation)
    }
}

/// The API's name of a money operation, as calls are counted.
fn operation_name(kind: OperationKind) -> &'static str {
    match kind {
        OperationKind::Capture => "capture_amount",
        OperationKind::Release => "release",
        OperationKind::Refund => "refund_amount",
    }
}

/// Serves a money operation call: 200 with the operation once done, 422
/// with `{"error": reason}` when refused, the same again for its key.
fn serve_money_operation(
    sandbox: &Sandbox,
    req: &HttpRequest,
    id: &str,
    kind: OperationKind,
    amount_minor: i64,
) -> HttpResponse {
    if let Some(response) = sandbox.receive(operation_name(kind), id) {
        return response;
    }
    let Some(key) = req
        .headers()
        .get("Idempotency-Key")
        .and_then(|v| v.to_str().ok())
        .filter(|k| !k.is_empty())
    else {
        return json_error(StatusCode::BAD_REQUEST, "Idempotency-Key header required");
    };
    match sandbox.money_operation(id, key, kind, amount_minor) {
        Answer::Recorded(operation) => match &operation.outcome {
            OperationOutcome::Done => HttpResponse::Ok().json(&operation),
            OperationOutcome::Refused { reason } => {
                json_error(StatusCode::UNPROCESSABLE_ENTITY, reason)
            }
        },
        Answer::NoSession => json_error(StatusCode::NOT_FOUND, "No such payment session"),
        // A key used for another operation is a mistake for good; 409 is
        // kept for "the same key is being worked on", asked again later.
        Answer::KeyReused => json_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Idempotency-Key reused for another operation",
        ),
    }
}

/// Takes part of a reservation.
#[post("/v1/sessions/{id}/captures")]
async fn capture_amount(
    sandbox: web::Data<Sandbox>,
    req: HttpRequest,
    id: web::Path<String>,
    body: web::Json<AmountRequest>,
) -> HttpResponse {
    serve_money_operation(
        &sandbox,
        &req,
        &id,
        OperationKind::Capture,
        body.amount_minor,
    )
}

/// Gives up the uncaptured rest of a reservation; no body.
#[post("/v1/sessions/{id}/release")]
async fn release(
    sandbox: web::Data<Sandbox>,
    req: HttpRequest,
    id: web::Path<String>,
) -> HttpResponse {
    serve_money_operation(&sandbox, &req, &id, OperationKind::Release, 0)
}

/// Pays back part of what was captured.
#[post("/v1/sessions/{id}/refunds")]
async fn refund_amount(
    sandbox: web::Data<Sandbox>,
    req: HttpRequest,
    id: web::Path<String>,
    body: web::Json<AmountRequest>,
) -> HttpResponse {
    serve_money_operation(
        &sandbox,
        &req,
        &id,
        OperationKind::Refund,
        body.amount_minor,
    )
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct FailNextCapture {
    reason: Option<String>,
}

/// The next new capture is refused with `reason` (default: the
/// reservation has expired), as a provider refuses one it can no longer
/// honour. A repeat of an earlier capture's key still gets its first answer.
#[post("/v1/test/fail-next-capture")]
async fn fail_next_capture(
    sandbox: web::Data<Sandbox>,
    body: Option<web::Json<FailNextCapture>>,
) -> HttpResponse {
    let reason = body
        .and_then(|b| b.into_inner().reason)
        .filter(|r| !r.trim().is_empty())
        .unwrap_or_else(|| EXPIRED_RESERVATION.to_owned());
    sandbox.lock().fail_next_capture = Some(reason);
    HttpResponse::NoContent().finish()
}

#[post("/v1/test/knobs")]
async fn set_knobs(sandbox: web::Data<Sandbox>, knobs: web::Json<Knobs>) -> HttpResponse {
    sandbox.lock().knobs = knobs.into_inner();
    HttpResponse::NoContent().finish()
}

/// Everything the provider holds: each session with its money and each
/// registration, so a test can check the shop's books against them.
#[get("/v1/test/ledger")]
async fn ledger(sandbox: web::Data<Sandbox>) -> HttpResponse {
    let state = sandbox.lock();
    let mut sessions: Vec<&Session> = state.sessions.values().collect();
    sessions.sort_by(|a, b| a.id.cmp(&b.id));
    HttpResponse::Ok().json(serde_json::json!({
        "sessions": sessions,
        "registrations": state.registrations.all(),
    }))
}

#[get("/v1/test/stats")]
async fn stats(sandbox: web::Data<Sandbox>) -> web::Json<Stats> {
    let state = sandbox.lock();
    let mut stats = state.stats.clone();
    stats.chaos = state.chaos.counts;
    web::Json(stats)
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    // The money operations before `operate`, whose `{operation}` would
    // match their paths too.
    cfg.service(create)
        .service(by_key)
        .service(show)
        .service(capture_amount)
        .service(release)
        .service(refund_amount)
        .service(operate)
        .service(fail_next_capture)
        .service(set_knobs)
        .service(ledger)
        .service(stats);
}
