//! The customer-registration API of the stand-in world: create a pending
//! registration (or refuse it with a reason the shopper can read), confirm
//! it, delete it. Its demo rule refuses every address at `blocked.example`.

use super::Sandbox;
use crate::registration::wire::{CreateRegistration, OrderState, Registration, RegistrationStatus};
use actix_web::{HttpRequest, HttpResponse, delete, get, post, web};
use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RegistrationKnobs {
    /// Every call waits this long before it is answered.
    pub latency_ms: u64,
    /// Every call answers 503.
    pub down: bool,
}

/// The registration API's operations, as they are counted in
/// [`RegistrationStats`]. The subject of `create` is the idempotency key,
/// that of the others the registration id.
pub const OPERATIONS: &[&str] = &["create", "show", "confirm", "delete"];

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RegistrationStats {
    /// Registrations created (a repeat with the same key creates none).
    pub created: u64,
    /// Pending registrations that became confirmed (confirming again
    /// changes nothing and shows only in `calls`).
    pub confirmed: u64,
    /// Registrations that were deleted (likewise).
    pub deleted: u64,
    /// Every API call received, repeats included.
    #[serde(flatten)]
    pub received: super::calls::CallCounts,
}

impl Default for RegistrationStats {
    fn default() -> Self {
        Self {
            created: 0,
            confirmed: 0,
            deleted: 0,
            received: super::calls::CallCounts::of(OPERATIONS),
        }
    }
}

#[derive(Default)]
pub(super) struct RegistrationState {
    registrations: std::collections::HashMap<String, Registration>,
    by_key: std::collections::HashMap<String, String>,
    order_states: std::collections::HashMap<String, Vec<OrderState>>,
    knobs: RegistrationKnobs,
    stats: RegistrationStats,
}

const BLOCKED_DOMAIN: &str = "blocked.example";

impl RegistrationState {
    /// Every registration ever created, oldest id first.
    pub(super) fn all(&self) -> Vec<Registration> {
        let mut all: Vec<Registration> = self.registrations.values().cloned().collect();
        all.sort_by(|a, b| a.id.cmp(&b.id));
        all
    }
}

impl Sandbox {
    /// Counts a call of `operation` about `subject`, waits the configured
    /// latency, and says whether the API is down.
    async fn registration_call(&self, operation: &str, subject: &str) -> bool {
        let knobs = {
            let mut guard = self.lock();
            let state = &mut *guard;
            state
                .registrations
                .stats
                .received
                .record(operation, subject);
            let mut knobs = state.registrations.knobs.clone();
            knobs.down = knobs.down || state.chaos.fail_call();
            if knobs.down {
                state
                    .registrations
                    .stats
                    .received
                    .record_unavailable(operation, subject);
            }
            knobs
        };
        if knobs.latency_ms > 0 {
            tokio::time::sleep(Duration::from_millis(knobs.latency_ms)).await;
        }
        knobs.down
    }
}

fn unavailable() -> HttpResponse {
    HttpResponse::ServiceUnavailable()
        .json(serde_json::json!({ "error": "registration service unavailable" }))
}

#[post("/registrations")]
async fn create(
    sandbox: web::Data<Sandbox>,
    req: HttpRequest,
    body: web::Json<CreateRegistration>,
) -> HttpResponse {
    let key = req
        .headers()
        .get("Idempotency-Key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if sandbox
        .registration_call("create", key.as_deref().unwrap_or_default())
        .await
    {
        return unavailable();
    }
    let email = body.email.trim().to_lowercase();
    if email
        .rsplit_once('@')
        .is_some_and(|(_, domain)| domain == BLOCKED_DOMAIN)
    {
        return HttpResponse::UnprocessableEntity()
            .json(serde_json::json!({ "reason": "This email address cannot be registered" }));
    }
    let key = key.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let mut guard = sandbox.lock();
    let state = &mut guard.registrations;
    if let Some(id) = state.by_key.get(&key) {
        return HttpResponse::Created().json(&state.registrations[id]);
    }
    let registration = Registration {
        id: format!("reg_{}", uuid::Uuid::new_v4().simple()),
        email,
        reference: body.reference.clone(),
        status: RegistrationStatus::Pending,
    };
    state.by_key.insert(key, registration.id.clone());
    state
        .registrations
        .insert(registration.id.clone(), registration.clone());
    state.stats.created += 1;
    HttpResponse::Created().json(registration)
}

#[get("/registrations/{id}")]
async fn show(sandbox: web::Data<Sandbox>, id: web::Path<String>) -> HttpResponse {
    if sandbox.registration_call("show", &id).await {
        return unavailable();
    }
    match sandbox.lock().registrations.registrations.get(id.as_str()) {
        Some(r) => HttpResponse::Ok().json(r),
        None => HttpResponse::NotFound().finish(),
    }
}

/// Confirming twice is fine; a deleted registration cannot be confirmed.
#[post("/registrations/{id}/confirm")]
async fn confirm(sandbox: web::Data<Sandbox>, id: web::Path<String>) -> HttpResponse {
    if sandbox.registration_call("confirm", &id).await {
        return unavailable();
    }
    let mut guard = sandbox.lock();
    let state = &mut guard.registrations;
    let Some(registration) = state.registrations.get_mut(id.as_str()) else {
        return HttpResponse::NotFound().finish();
    };
    match registration.status {
        RegistrationStatus::Pending => {
            registration.status = RegistrationStatus::Confirmed;
            let r = registration.clone();
            state.stats.confirmed += 1;
            HttpResponse::Ok().json(r)
        }
        RegistrationStatus::Confirmed => HttpResponse::Ok().json(registration.clone()),
        RegistrationStatus::Deleted => {
            HttpResponse::Conflict().json(serde_json::json!({ "error": "deleted" }))
        }
    }
}

/// Records an order state once per event id (a repeat is answered the same).
#[post("/registrations/{id}/order-states")]
async fn order_state(
    sandbox: web::Data<Sandbox>,
    id: web::Path<String>,
    body: web::Json<OrderState>,
) -> HttpResponse {
    if sandbox.registration_call("order_state", &id).await {
        return unavailable();
    }
    let mut guard = sandbox.lock();
    let state = &mut guard.registrations;
    if !state.registrations.contains_key(id.as_str()) {
        return HttpResponse::NotFound().finish();
    }
    let states = state.order_states.entry(id.into_inner()).or_default();
    if !states.iter().any(|s| s.event == body.event) {
        states.push(body.into_inner());
    }
    HttpResponse::NoContent().finish()
}

/// The order states a registration heard of, in order.
#[get("/registrations/{id}/order-states")]
async fn order_states(sandbox: web::Data<Sandbox>, id: web::Path<String>) -> HttpResponse {
    let guard = sandbox.lock();
    HttpResponse::Ok().json(
        guard
            .registrations
            .order_states
            .get(id.as_str())
            .cloned()
            .unwrap_or_default(),
    )
}

/// Deleting twice (or a confirmed registration) is fine.
#[delete("/registrations/{id}")]
async fn remove(sandbox: web::Data<Sandbox>, id: web::Path<String>) -> HttpResponse {
    if sandbox.registration_call("delete", &id).await {
        return unavailable();
    }
    let mut guard = sandbox.lock();
    let state = &mut guard.registrations;
    let Some(registration) = state.registrations.get_mut(id.as_str()) else {
        return HttpResponse::NotFound().finish();
    };
    if registration.status != RegistrationStatus::Deleted {
        registration.status = RegistrationStatus::Deleted;
        state.stats.deleted += 1;
    }
    HttpResponse::NoContent().finish()
}

#[post("/v1/test/registration-knobs")]
async fn set_knobs(
    sandbox: web::Data<Sandbox>,
    knobs: web::Json<RegistrationKnobs>,
) -> HttpResponse {
    sandbox.lock().registrations.knobs = knobs.into_inner();
    HttpResponse::NoContent().finish()
}

#[get("/v1/test/registration-stats")]
async fn stats(sandbox: web::Data<Sandbox>) -> web::Json<RegistrationStats> {
    web::Json(sandbox.lock().registrations.stats.clone())
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(create)
        .service(show)
        .service(confirm)
        .service(order_state)
        .service(order_states)
        .service(remove)
        .service(set_knobs)
        .service(stats);
}
