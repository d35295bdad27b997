//! The connectivity checks for integrators: `GET /api/v1/ping` (is my key
//! good?) and `POST /api/v1/echo` (do my POSTs and idempotency keys work?).

use super::auth::{ApiCaller, ApiPost};
use super::{ApiError, answer};
use crate::application::{Shop, api};
use actix_web::{HttpResponse, get, post, web};

#[get("/ping")]
async fn ping(caller: ApiCaller) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "caller": caller.name }))
}

/// Answers the JSON it got, the caller's name and a fresh `echo_id`; a
/// repeat with the same Idempotency-Key gets the same answer.
#[post("/echo")]
async fn echo(shop: web::Data<Shop>, post: ApiPost) -> Result<HttpResponse, ApiError> {
    answer(api::echo(&shop, &post.caller.name, &post.request).await?)
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(ping).service(echo);
}
