//! `/api/v1/orders` and `/api/v1/deliveries`: thin handlers over
//! `application::orders_api`.

use super::auth::{ApiCaller, ApiPost};
use super::{ApiError, answer};
use crate::application::idempotency::Answer;
use crate::application::{Shop, orders_api};
use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, get, post, web};
use serde::Deserialize;

#[derive(Deserialize)]
struct ListQuery {
    status: Option<String>,
    page: Option<i64>,
}

/// A read: answered as it is, never stored.
fn read(found: Answer) -> HttpResponse {
    let status = StatusCode::from_u16(found.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    HttpResponse::build(status)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(found.body)
}

#[get("/orders")]
async fn list(
    shop: web::Data<Shop>,
    _caller: ApiCaller,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    Ok(read(
        orders_api::list(&shop, query.status.as_deref(), query.page).await?,
    ))
}

#[get("/orders/{number}")]
async fn show(
    shop: web::Data<Shop>,
    _caller: ApiCaller,
    number: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(read(orders_api::show(&shop, &number).await?))
}

#[post("/orders/{number}/deliveries")]
async fn create_delivery(
    shop: web::Data<Shop>,
    post: ApiPost,
    number: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let actor = post.caller.actor().to_string();
    answer(orders_api::create_delivery(&shop, &number, &actor, &post.request).await?)
}

#[post("/deliveries/{id}/status")]
async fn move_delivery(
    shop: web::Data<Shop>,
    post: ApiPost,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let actor = post.caller.actor().to_string();
    answer(orders_api::move_delivery(&shop, &id, &actor, &post.request).await?)
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(list)
        .service(show)
        .service(create_delivery)
        .service(move_delivery);
}
