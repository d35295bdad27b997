//! Reports from payment providers: signed webhooks (no session, no CSRF
//! token: the signature is the proof) and the shopper's return links.

use super::layout::see_other;
use super::session::{FlashKind, ShopSession};
use crate::application::Shop;
use crate::application::payment_events::{self, Received, SIGNATURE_HEADER};
use crate::application::payment_return::{self, Returned};
use crate::web::error::PageError;
use actix_web::{HttpRequest, HttpResponse, ResponseError, get, post, web};
use serde::Deserialize;

/// `POST /webhooks/hosted`: 401 for a bad or old signature (nothing
/// changes), 2xx once the event is applied or known, 5xx to be sent again.
#[post("/webhooks/hosted")]
async fn hosted(shop: web::Data<Shop>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let header = req
        .headers()
        .get(SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    match payment_events::receive(&shop, header, &body).await {
        Ok(Received::Refused) => HttpResponse::Unauthorized().finish(),
        Ok(Received::Unreadable) => HttpResponse::BadRequest().finish(),
        Ok(Received::Applied(_)) => {
            HttpResponse::Ok().json(serde_json::json!({ "received": true }))
        }
        Err(_) => HttpResponse::ServiceUnavailable().finish(),
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
    let cancelled = query.cancelled.is_some();
    match payment_return::shopper_returned(&shop, &query.process, &query.sig, cancelled).await {
        Ok(Returned::NotSigned) => PageError::NotFound.error_response(),
        // Straight to the confirmation: it needs no session.
        Ok(Returned::Placed { order, cart_id }) => {
            if cart_id.is_some() && session.cart_id() == cart_id {
                let _ = session.order_placed(&order);
            }
            see_other(&super::checkout::success_url(&order))
        }
        Ok(Returned::NotPlaced) => see_other("/checkout/payment"),
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
