//! Reports from payment providers: signed webhooks (no session, no CSRF
//! token: the signature is the proof) and the shopper's return links.

use super::layout::see_other;
use super::session::{FlashKind, ShopSession};
use crate::application::Shop;
use crate::application::payment_events::{self, ProviderEvent};
use crate::application::placeorder::{self, ProcessStatus};
use crate::domain::order::OrderRef;
use crate::payment::hosted::return_link_text;
use crate::payment::signature;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::Deserialize;

/// `POST /webhooks/hosted`: 401 for a bad or old signature (nothing
/// changes), 2xx once the event is applied or known, 5xx to be sent again.
#[post("/webhooks/hosted")]
async fn hosted(shop: web::Data<Shop>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let header = req
        .headers()
        .get(signature::HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    if let Err(e) = signature::verify(&shop.settings.webhook_secret(), header, &body, now) {
        tracing::warn!(reason = %e, "webhook refused");
        return HttpResponse::Unauthorized().finish();
    }
    let Ok(event) = serde_json::from_slice::<ProviderEvent>(&body) else {
        return HttpResponse::BadRequest().finish();
    };
    match payment_events::apply(&shop, &event).await {
        Ok(outcome) => {
            tracing::info!(event = %event.id, kind = %event.kind, ?outcome, "webhook");
            HttpResponse::Ok().json(serde_json::json!({ "received": true }))
        }
        Err(e) => {
            tracing::warn!(event = %event.id, error = ?e, "webhook not applied; the provider sends it again");
            HttpResponse::ServiceUnavailable().finish()
        }
    }
}

#[derive(Deserialize)]
struct ReturnQuery {
    process: String,
    sig: String,
    #[serde(default)]
    cancelled: Option<String>,
}

/// The shopper back from the provider. A GET, so the Lax session cookie
/// comes along; the process is found by its signed id, not by the session.
#[get("/checkout/return")]
async fn shopper_return(
    shop: web::Data<Shop>,
    session: ShopSession,
    query: web::Query<ReturnQuery>,
) -> HttpResponse {
    let text = return_link_text(&query.process, query.cancelled.is_some());
    if !signature::digest_matches(&shop.link_key, &text, &query.sig) {
        return HttpResponse::NotFound().finish();
    }
    let status = if query.cancelled.is_some() {
        placeorder::cancel(&shop, &query.process).await
    } else {
        placeorder::refresh(&shop, &query.process).await
    };
    match status {
        // Straight to the confirmation: it needs no session.
        Ok(ProcessStatus::Succeeded(order)) => {
            let order = OrderRef::from(order);
            if let Ok(Some(process)) = shop.store.process(&query.process).await
                && session.cart_id().as_deref() == Some(process.cart_id.as_str())
            {
                let _ = session.order_placed(&order);
            }
            see_other(&super::checkout::success_url(&order))
        }
        Ok(_) => see_other("/checkout/payment"),
        Err(e) => {
            tracing::warn!(error = ?e, "return from the provider could not be applied yet");
            let _ = session.flash(
                FlashKind::Info,
                "We are still waiting for the payment provider.",
            );
            see_other("/checkout/payment")
        }
    }
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(hosted).service(shopper_return);
}
