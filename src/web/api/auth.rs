//! Who calls the API: `Authorization: Bearer <key>` with a live key. A
//! missing, unknown or revoked key gets 401 with `WWW-Authenticate: Bearer`.

use super::ApiError;
use crate::application::Shop;
use crate::application::api;
use crate::application::idempotency::ApiRequest;
use crate::domain::actor::Actor;
use crate::domain::idempotency::parse_idempotency_key;
use crate::web::error::PageError;
use actix_web::http::{StatusCode, header};
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use std::future::Future;
use std::pin::Pin;

/// The holder of the API key a request came with.
#[derive(Debug, Clone)]
pub struct ApiCaller {
    pub key_id: String,
    /// The key's name (`warehouse`).
    pub name: String,
}

impl ApiCaller {
    /// Who acts, for the record of what they do.
    pub fn actor(&self) -> Actor {
        Actor::ApiKey {
            id: self.key_id.clone(),
            name: self.name.clone(),
        }
    }
}

fn unauthorized(message: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, message)
}

/// The key in an `Authorization: Bearer` header.
fn bearer(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, key) = value.trim().split_once(' ')?;
    let key = key.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !key.is_empty()).then(|| key.to_owned())
}

impl FromRequest for ApiCaller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let shop = req.app_data::<web::Data<Shop>>().cloned();
        let key = bearer(req);
        Box::pin(async move {
            let shop = shop
                .ok_or_else(|| ApiError::from(PageError::Internal(anyhow::anyhow!("no shop"))))?;
            let key = key.ok_or_else(|| {
                unauthorized("an API key is needed: send Authorization: Bearer <key>")
            })?;
            match api::authenticate(&shop, &key).await? {
                Some(holder) => Ok(Self {
                    key_id: holder.key_id,
                    name: holder.name,
                }),
                None => Err(unauthorized("the API key is unknown or revoked")),
            }
        })
    }
}

/// An API POST: its caller (checked first), its `Idempotency-Key` (400
/// without one) and its body, ready for `application::idempotency::once`.
pub struct ApiPost {
    pub caller: ApiCaller,
    pub request: ApiRequest,
}

impl FromRequest for ApiPost {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let caller = ApiCaller::from_request(req, payload);
        let body = web::Bytes::from_request(req, payload);
        let key = req
            .headers()
            .get("Idempotency-Key")
            .map(|v| v.to_str().map(str::to_owned).unwrap_or_default());
        let method = req.method().to_string();
        let path = req
            .uri()
            .path_and_query()
            .map_or_else(|| req.path().to_owned(), |p| p.as_str().to_owned());
        Box::pin(async move {
            let caller = caller.await?;
            let key = key.ok_or_else(|| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "every POST needs an Idempotency-Key header (a new UUID per request)",
                )
            })?;
            let key = parse_idempotency_key(&key)
                .map_err(|problem| ApiError::new(StatusCode::BAD_REQUEST, problem))?;
            let body = body
                .await
                .map_err(|e| ApiError::from(super::super::csrf::body_error(e)))?;
            Ok(Self {
                request: ApiRequest {
                    caller_key_id: caller.key_id.clone(),
                    idempotency_key: key,
                    method,
                    path,
                    body: body.to_vec(),
                },
                caller,
            })
        })
    }
}
